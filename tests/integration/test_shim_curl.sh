#!/usr/bin/env bash
# The client side of the shim: curl, unmodified, fetching from a Linux HTTP
# server; a refused connection reported as such, promptly; and a destination
# BYPASS_SHIM_CONNECT does not select goes to the kernel (which, with no IP in
# the bypass namespace, cannot reach it).
set -euo pipefail
# shellcheck source=tests/integration/shim_lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/shim_lib.sh"
shim_setup bpishcu 20
dir=$BP_TMP
mkdir -p "$dir/www"
head -c 20M /dev/urandom >"$dir/www/blob"
bp_bg bp_peer python3 -m http.server 8080 --bind "$BP_PEER_IP" --directory "$dir/www" >"$dir/http.log" 2>&1
end=$((SECONDS + 30))
until bp_peer timeout 2 bash -c "exec 3<>/dev/tcp/$BP_PEER_IP/8080" 2>/dev/null; do
	[ "$SECONDS" -lt "$end" ] || bp_die "Linux http.server did not start: $(cat "$dir/http.log")"
	sleep 0.2
done

shim_exec timeout 60 curl -sSf --max-time 50 -o "$dir/got" "http://$BP_PEER_IP:8080/blob" 2>"$dir/err" ||
	bp_die "curl under the shim failed: $(cat "$dir/err")"
[ "$(sha256sum <"$dir/got")" = "$(sha256sum <"$dir/www/blob")" ] || bp_die "20 MiB differs"
echo "  20 MiB from Linux http.server: sha256 identical"

# closed port: the peer's RST must come back as ECONNREFUSED, at once
rc=0
t0=$(date +%s%N)
shim_exec timeout 10 curl -sSv "http://$BP_PEER_IP:8089/" 2>"$dir/err" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" -eq 7 ] || bp_die "closed port: want curl exit 7, got $rc: $(cat "$dir/err")"
grep -q "failed: Connection refused" "$dir/err" || bp_die "closed port: want 'Connection refused', got: $(cat "$dir/err")"
[ "$ms" -lt 3000 ] || bp_die "closed port: refusal took $ms ms"
echo "  closed port: curl exit 7, Connection refused, in $ms ms"

# not selected by BYPASS_SHIM_CONNECT: the kernel path, which has no route
rc=0
shim_exec env BYPASS_SHIM_CONNECT=10.0.0.0/8 timeout 10 curl -sSv "http://$BP_PEER_IP:8080/" 2>"$dir/err" || rc=$?
if [ "$rc" -ne 7 ] || ! grep -q "Network is unreachable" "$dir/err"; then
	bp_die "BYPASS_SHIM_CONNECT=10.0.0.0/8: want the kernel's 'Network is unreachable', got exit $rc: $(cat "$dir/err")"
fi
echo "  BYPASS_SHIM_CONNECT=10.0.0.0/8: left to the kernel (Network is unreachable)"
echo "PASS: curl under the shim"
