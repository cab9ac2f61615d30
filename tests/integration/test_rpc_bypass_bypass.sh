#!/usr/bin/env bash
# The rpc library bypass <-> bypass: two fastpathd joined by net_memif (no
# kernel in the data path), a bypass kv_server on one, a bypass kv_client
# and rpc_bench on the other: 40 put/get/del rounds with values up to
# 1 MiB (every byte checked), then rpc_bench 64 B and 1 MiB echo with
# no failed call.  Then daemon-framed sessions (bypass-msg) under memory
# pressure: 40 sessions of 1 MiB calls with 8 MiB message heaps and send
# areas on both sides.  Without room promised to begun messages (libbypass
# bp_msg_tx_reserve()) this deadlocked every time: each side's area full
# of frames the other's heap could not start, its heap full of messages
# whose rest could not be posted.  Every call must complete, and no
# session may be starved (rpc_bench --fair).  Last, 1,000 daemon-framed
# sessions of 1 KiB calls, none starved: more sessions get messages in
# one round than one poll hands out, and the transport once dropped the
# rest, whose messages then waited for the keepalive a second later.
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
SRV_IP=198.18.112.1
CLI_IP=198.18.112.3

rpc_memif_fp srv server $SRV_IP
rpc_memif_fp cli client $CLI_IP

BYPASS_SOCKET=$dir/fp-srv.sock bp_bg "$R/kv_server" --transport bypass --listen :7116 >"$dir/s.log" 2>&1
bp_wait_listening "$dir/s.log"
BYPASS_SOCKET=$dir/fp-srv.sock bp_bg "$R/rpc_bench" server --stack bypass -p 7117 >"$dir/b.log" 2>&1
bp_wait_listening "$dir/b.log"
BYPASS_SOCKET=$dir/fp-srv.sock bp_bg "$R/rpc_bench" server --stack bypass-msg -p 7118 \
	--msg-heap-mb 8 >"$dir/m.log" 2>&1
bp_wait_listening "$dir/m.log"

export BYPASS_SOCKET=$dir/fp-cli.sock
rpc_kv_check_memif "$SRV_IP:7116" 40
bp_log "bypass kv_client -> bypass kv_server over memif: check 40 ok"
for size in 64 1048576; do
	timeout 60 "$R/rpc_bench" client --stack bypass --server "$SRV_IP" -p 7117 --conns 2 \
		--size $size --verify --duration 1 --warmup 0.2 >"$dir/bc.log" 2>&1 ||
		bp_die "rpc_bench: $(cat "$dir/bc.log")"
	bp_log "bypass -> bypass: $(rpc_bench_ok "$dir/bc.log")"
done
timeout 90 "$R/rpc_bench" client --stack bypass-msg --server "$SRV_IP" -p 7118 --conns 40 \
	--size 1048576 --msg-heap-mb 8 --verify --fair 0.2 --duration 3 --warmup 1 \
	>"$dir/mc.log" 2>&1 || bp_die "rpc_bench bypass-msg under heap pressure: $(tail -5 "$dir/mc.log")"
bp_log "bypass-msg, 40 x 1 MiB, 8 MiB heaps: $(rpc_bench_ok "$dir/mc.log"); $(grep 'per session' "$dir/mc.log")"
timeout 120 "$R/rpc_bench" client --stack bypass-msg --server "$SRV_IP" -p 7118 --conns 1000 \
	--size 1024 --verify --fair 0.5 --duration 3 --warmup 1 --connect-timeout 60 \
	>"$dir/mc.log" 2>&1 || bp_die "rpc_bench bypass-msg, 1000 sessions: $(tail -5 "$dir/mc.log")"
bp_log "bypass-msg, 1000 x 1 KiB: $(rpc_bench_ok "$dir/mc.log"); $(grep 'per session' "$dir/mc.log")"
echo "PASS: rpc bypass<->bypass over memif (kv check 40, rpc_bench 64 B and 1 MiB; bypass-msg 40 x 1 MiB in 8 MiB heaps, 1000 x 1 KiB fair)"
