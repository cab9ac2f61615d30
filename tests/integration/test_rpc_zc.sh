#!/usr/bin/env bash
# bprpc over bypass uses libbypass's rings in place: two fastpathd joined
# by net_memif, a bypass kv_server and rpc_bench server on one, clients on
# the other.  kv check (values up to 1 MiB, every byte checked: frames cut
# across ring wraps, in-place and queued sends mixed), then rpc_bench echo
# at 64 B and 64 KiB, depth 8: no failed call, and the client's counters
# show requests written straight into the tx ring (zc_tx) and responses
# parsed in place from the rx ring (zc_rx_bytes).
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
# shellcheck source=tests/integration/rpc_lib.sh
source "$(dirname "$0")/rpc_lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up rpczc 131
bp_make_tmp
dir=$BP_TMP
R=$BP_BUILD/rpc
FP=$BP_BUILD/fastpathd/fastpathd
SRV_IP=198.18.131.1

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
start_fp cli client 198.18.131.3

BYPASS_SOCKET=$dir/fp-srv.sock bp_bg "$R/kv_server" --transport bypass --listen :7131 >"$dir/s.log" 2>&1
bp_wait_listening "$dir/s.log"
BYPASS_SOCKET=$dir/fp-srv.sock bp_bg "$R/rpc_bench" server --stack bypass -p 7132 >"$dir/b.log" 2>&1
bp_wait_listening "$dir/b.log"

export BYPASS_SOCKET=$dir/fp-cli.sock
ok=0
# the memif link comes up asynchronously: retry the first contact
for _ in $(seq 20); do
	if timeout 120 "$R/kv_client" --transport bypass --connect "$SRV_IP:7131" check 20 >"$dir/c.log" 2>&1; then
		ok=1
		break
	fi
	sleep 0.5
done
if [ "$ok" != 1 ] || ! grep -q "check 20 ok" "$dir/c.log"; then
	bp_die "kv check over bypass: $(cat "$dir/c.log")"
fi
bp_log "kv check 20 ok"
for size in 64 65536; do
	timeout 60 "$R/rpc_bench" client --stack bypass --server "$SRV_IP" -p 7132 --conns 1 --depth 8 \
		--size $size --verify --duration 1 --warmup 0.2 >"$dir/bc.log" 2>&1 || bp_die "rpc_bench: $(cat "$dir/bc.log")"
	sum=$(rpc_bench_ok "$dir/bc.log")
	line=$(grep '^rpc_bench: zc_tx=' "$dir/bc.log") || bp_die "no zero-copy counters: $(cat "$dir/bc.log")"
	echo "$line" | grep -qE ' zc_tx=[1-9]' || bp_die "no request went out in place: $line"
	echo "$line" | grep -qE ' zc_rx_bytes=[1-9]' || bp_die "nothing parsed in place: $line"
	bp_log "size $size: $sum; $line"
done
echo "PASS: bprpc over bypass sends and parses in place (kv check 20, rpc_bench 64 B and 64 KiB)"
