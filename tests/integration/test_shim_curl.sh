#!/usr/bin/env bash
# The client side of the shim: curl, unmodified, fetching from a Linux HTTP
# server; and a refused connection reported as such, promptly.
set -euo pipefail
source "$(dirname "$0")/shim_lib.sh"
shim_setup bpishcu 20
dir=$BP_TMP
mkdir -p "$dir/www"
head -c 20M /dev/urandom >"$dir/www/blob"
bp_bg bp_peer python3 -m http.server 8080 --bind "$BP_PEER_IP" --directory "$dir/www"
bp_peer bash -c 'for i in $(seq 100); do ss -ltn | grep -q ":8080 " && exit 0; sleep 0.1; done; exit 1'
shim_exec timeout 60 curl -sSf -o "$dir/got" "http://$BP_PEER_IP:8080/blob" || bp_die "curl failed"
[ "$(sha256sum <"$dir/got")" = "$(sha256sum <"$dir/www/blob")" ] || bp_die "20 MiB differs"
echo "  20 MiB from Linux: sha256 identical"
rc=0
shim_exec timeout 10 curl -sS "http://$BP_PEER_IP:8089/" 2>"$dir/err" || rc=$?
[ "$rc" -eq 7 ] || bp_die "closed port: want curl exit 7, got $rc: $(cat "$dir/err")"
echo "PASS: curl under the shim"
