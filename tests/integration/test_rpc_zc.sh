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
SRV_IP=198.18.131.1

rpc_memif_fp srv server $SRV_IP
rpc_memif_fp cli client 198.18.131.3

BYPASS_SOCKET=$dir/fp-srv.sock bp_bg "$R/kv_server" --transport bypass --listen :7131 >"$dir/s.log" 2>&1
bp_wait_listening "$dir/s.log"
BYPASS_SOCKET=$dir/fp-srv.sock bp_bg "$R/rpc_bench" server --stack bypass -p 7132 >"$dir/b.log" 2>&1
bp_wait_listening "$dir/b.log"

export BYPASS_SOCKET=$dir/fp-cli.sock
rpc_kv_check_memif "$SRV_IP:7131" 20
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
