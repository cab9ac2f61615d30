#!/usr/bin/env bash
# curl (Linux) against bp_httpd (bypass): a 10 MiB body and 200 keep-alive requests.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up bpihttp 14
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
bp_bg "$BP_BUILD/client-lib/bp_httpd" -p 80 >"$dir/httpd.log" 2>&1
bp_wait_listening "$dir/httpd.log"

n=10485760
want=$(python3 -c "import sys,hashlib; print(hashlib.sha256(bytes(97 + i % 26 for i in range($n))).hexdigest())")
got=$(bp_peer timeout 60 curl -sf "http://$BP_IP/bytes/$n" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || bp_die "10 MiB body differs: $got != $want"

args=()
for _ in $(seq 200); do args+=(-o /dev/null "http://$BP_IP/bytes/1000"); done
codes=$(bp_peer timeout 60 curl -s "${args[@]}" -w '%{http_code} %{num_connects}\n')
ok=$(echo "$codes" | grep -c '^200 ' || true)
conns=$(echo "$codes" | awk '{s += $2} END {print s}')
[ "$ok" -eq 200 ] || bp_die "only $ok of 200 keep-alive requests returned 200"
[ "$conns" -le 2 ] || bp_die "keep-alive not used: $conns connections for 200 requests"
echo "PASS: 10 MiB body sha256 ok; 200 keep-alive requests over $conns connection(s)"
