#!/usr/bin/env bash
# The rpc library across stacks: a bypass kv_server (on fastpathd) with a
# kernel-socket kv_client on the Linux host, and a kernel kv_server on the
# Linux host with a bypass kv_client.  Each way: 40 put/get/del rounds with
# values up to 1 MiB (every byte checked), then a short rpc_bench run
# (64 B and 64 KiB echo, 4 sessions, every byte checked) that must complete
# calls with none failed; and a value streamed back in parts (kv GET_PARTS,
# a streamed response) each way.
# The bypass server also runs once with its handlers on worker threads.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up rpcinter 110
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
R=$BP_BUILD/rpc
for b in kv_server kv_client rpc_bench; do
	[ -x "$R/$b" ] || bp_die "no $R/$b: build first"
done

# shellcheck source=tests/integration/rpc_lib.sh
source "$(dirname "$0")/rpc_lib.sh"

# ---- bypass server <- kernel client
bp_bg "$R/kv_server" --transport bypass --listen :7110 >"$dir/s1.log" 2>&1
bp_wait_listening "$dir/s1.log"
bp_peer timeout 120 "$R/kv_client" --connect "$BP_IP:7110" check 40 >"$dir/c1.log" 2>&1 ||
	bp_die "kernel client -> bypass server: $(cat "$dir/c1.log")"
grep -q "check 40 ok" "$dir/c1.log" || bp_die "no check result: $(cat "$dir/c1.log")"
bp_log "kernel client -> bypass kv_server: check 40 ok"
bp_peer timeout 120 "$R/kv_client" --connect "$BP_IP:7110" check-parts 6000000 100000 \
	>"$dir/c4.log" 2>&1 || bp_die "kernel client <- bypass server, streamed: $(cat "$dir/c4.log")"
bp_log "kernel client <- bypass kv_server, streamed: $(sed -n 's/.*ok: //p' "$dir/c4.log")"
bp_peer timeout 120 "$R/kv_client" --connect "$BP_IP:7110" check-upload 6000000 100000 \
	>"$dir/c6.log" 2>&1 || bp_die "kernel client -> bypass server, streamed request: $(cat "$dir/c6.log")"
bp_log "kernel client -> bypass kv_server, streamed request: $(sed -n 's/.*ok: //p' "$dir/c6.log")"
bp_bg "$R/kv_server" --transport bypass --listen :7118 --workers 2 >"$dir/s3.log" 2>&1
bp_wait_listening "$dir/s3.log"
bp_peer timeout 120 "$R/kv_client" --connect "$BP_IP:7118" check 40 >"$dir/c3.log" 2>&1 ||
	bp_die "kernel client -> bypass server with workers: $(cat "$dir/c3.log")"
grep -q "check 40 ok" "$dir/c3.log" || bp_die "no check result: $(cat "$dir/c3.log")"
bp_log "kernel client -> bypass kv_server --workers 2: check 40 ok"
# a streamed request to a worker method: messages queue behind the run
bp_peer timeout 120 "$R/kv_client" --connect "$BP_IP:7118" check-upload 6000000 100000 \
	>"$dir/c8.log" 2>&1 || bp_die "kernel client -> bypass server with workers, streamed request: $(cat "$dir/c8.log")"
bp_log "kernel client -> bypass kv_server --workers 2, streamed request: $(sed -n 's/.*ok: //p' "$dir/c8.log")"
bp_bg "$R/rpc_bench" server --stack bypass -p 7111 >"$dir/b1.log" 2>&1
bp_wait_listening "$dir/b1.log"
for size in 64 65536; do
	bp_peer timeout 60 "$R/rpc_bench" client --server "$BP_IP" -p 7111 --conns 4 --size $size \
		--verify --duration 1 --warmup 0.2 >"$dir/bc1.log" 2>&1 || bp_die "rpc_bench kernel->bypass: $(cat "$dir/bc1.log")"
	bp_log "kernel -> bypass: $(rpc_bench_ok "$dir/bc1.log")"
done

# ---- kernel server (Linux host) <- bypass client
bp_bg bp_peer "$R/kv_server" --listen :7112 >"$dir/s2.log" 2>&1
bp_wait_peer_listen 7112
timeout 120 "$R/kv_client" --transport bypass --connect "$BP_PEER_IP:7112" check 40 >"$dir/c2.log" 2>&1 ||
	bp_die "bypass client -> kernel server: $(cat "$dir/c2.log")"
grep -q "check 40 ok" "$dir/c2.log" || bp_die "no check result: $(cat "$dir/c2.log")"
bp_log "bypass client -> kernel kv_server: check 40 ok"
timeout 120 "$R/kv_client" --transport bypass --connect "$BP_PEER_IP:7112" \
	check-parts 6000000 100000 >"$dir/c5.log" 2>&1 ||
	bp_die "bypass client <- kernel server, streamed: $(cat "$dir/c5.log")"
bp_log "bypass client <- kernel kv_server, streamed: $(sed -n 's/.*ok: //p' "$dir/c5.log")"
timeout 120 "$R/kv_client" --transport bypass --connect "$BP_PEER_IP:7112" \
	check-upload 6000000 100000 >"$dir/c7.log" 2>&1 ||
	bp_die "bypass client -> kernel server, streamed request: $(cat "$dir/c7.log")"
bp_log "bypass client -> kernel kv_server, streamed request: $(sed -n 's/.*ok: //p' "$dir/c7.log")"
bp_bg bp_peer "$R/rpc_bench" server -p 7113 >"$dir/b2.log" 2>&1
bp_wait_peer_listen 7113
for size in 64 65536; do
	timeout 60 "$R/rpc_bench" client --stack bypass --server "$BP_PEER_IP" -p 7113 --conns 4 \
		--size $size --verify --duration 1 --warmup 0.2 >"$dir/bc2.log" 2>&1 || bp_die "rpc_bench bypass->kernel: $(cat "$dir/bc2.log")"
	bp_log "bypass -> kernel: $(rpc_bench_ok "$dir/bc2.log")"
done
echo "PASS: rpc interop bypass<->kernel both ways (kv check 40 each way, streamed requests and responses," \
	"rpc_bench 64 B and 64 KiB)"
