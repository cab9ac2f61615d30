#!/usr/bin/env bash
# The rpc library bypass <-> bypass: two fastpathd joined by net_memif (no
# kernel in the data path), a bypass kv_server on one, a bypass kv_client
# and rpc_bench on the other: 40 put/get/del rounds with values up to
# 1 MiB (every byte checked), then rpc_bench 64 B and 1 MiB echo with
# no failed call.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up rpcbb 112
bp_make_tmp
dir=$BP_TMP
R=$BP_BUILD/rpc
# shellcheck source=tests/integration/rpc_lib.sh
source "$(dirname "$0")/rpc_lib.sh"
FP=$BP_BUILD/fastpathd/fastpathd
SRV_IP=198.18.112.1
CLI_IP=198.18.112.3

# start_fp NAME ROLE IP: a daemon in the dp namespace on the memif link
start_fp() {
	local log=$dir/fp-$1.log sock=$dir/fp-$1.sock i
	bp_bg ip netns exec "$BP_NS_DP" "$FP" --port "net_memif0,role=$2,socket=$dir/memif.sock" \
		--ip "$3/24" --no-huge --mem 512 --socket "$sock" >"$log" 2>&1
	for i in $(seq 300); do
		grep -q "fastpathd: ready" "$log" 2>/dev/null && [ -S "$sock" ] && return 0
		kill -0 "$BP_LAST_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$log" >&2
	bp_die "fastpathd $1 did not come up"
}
start_fp srv server $SRV_IP
start_fp cli client $CLI_IP

BYPASS_SOCKET=$dir/fp-srv.sock bp_bg "$R/kv_server" --transport bypass --listen :7116 >"$dir/s.log" 2>&1
bp_wait_listening "$dir/s.log"
BYPASS_SOCKET=$dir/fp-srv.sock bp_bg "$R/rpc_bench" server --stack bypass -p 7117 >"$dir/b.log" 2>&1
bp_wait_listening "$dir/b.log"

export BYPASS_SOCKET=$dir/fp-cli.sock
ok=0
# the memif link comes up asynchronously: retry the first contact
for _ in $(seq 20); do
	if timeout 120 "$R/kv_client" --transport bypass --connect "$SRV_IP:7116" check 40 >"$dir/c.log" 2>&1; then
		ok=1
		break
	fi
	sleep 0.5
done
if [ "$ok" != 1 ] || ! grep -q "check 40 ok" "$dir/c.log"; then
	bp_die "bypass kv_client -> bypass kv_server: $(cat "$dir/c.log")"
fi
bp_log "bypass kv_client -> bypass kv_server over memif: check 40 ok"
for size in 64 1048576; do
	timeout 60 "$R/rpc_bench" client --stack bypass --server "$SRV_IP" -p 7117 --conns 2 \
		--size $size --verify --duration 1 --warmup 0.2 >"$dir/bc.log" 2>&1 ||
		bp_die "rpc_bench: $(cat "$dir/bc.log")"
	bp_log "bypass -> bypass: $(rpc_bench_ok "$dir/bc.log")"
done
echo "PASS: rpc bypass<->bypass over memif (kv check 40, rpc_bench 64 B and 1 MiB)"
