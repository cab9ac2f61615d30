#!/usr/bin/env bash
# 100 concurrent Linux TCP connections to a bypass echo server.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up bpiconc 13
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
bp_bg "$BP_BUILD/client-lib/bp_echo" -p 7 >"$dir/echo.log" 2>&1
bp_wait_listening "$dir/echo.log"
bp_peer timeout 120 python3 "$(dirname "$0")/echo_clients.py" "$BP_IP" 7 100 65536 ||
	bp_die "echo clients failed"
echo "PASS: 100 concurrent connections echoed byte-exact"
