#!/usr/bin/env bash
# RPC sessions framed by fastpathd: a kv_server and an rpc_bench server over
# libbypass in RPC-session mode (--transport bypass-msg: the daemon cuts the
# stream into frames and hands the app whole messages) with Linux peers
# running the same tools over kernel sockets.  kv put/get/del with values of
# 64 B, 64 KiB and 8 MiB (chunked on the wire), every byte checked; an
# rpc_bench run, and a bypass-msg kv_client against a kernel kv_server;
# then `bypassctl rpc` must show the calls per method for the server's
# tenant, a garbage stream must reset its connection and be counted as
# an RPC protocol error, requests over the server's max_msg and byte
# window must be refused RESOURCE_EXHAUSTED at once, and a value streamed
# back in parts (kv GET_PARTS) must arrive whole both ways.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
# shellcheck source=tests/integration/rpc_lib.sh
source "$(dirname "$0")/rpc_lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up rpcmsg 121
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
R=$BP_BUILD/rpc
CTL=$BP_BUILD/cli/bypassctl
for b in kv_server kv_client rpc_bench; do
	[ -x "$R/$b" ] || bp_die "no $R/$b: build first"
done

bp_bg "$R/kv_server" --transport bypass-msg --listen :7121 --max-msg 16777216 >"$dir/s1.log" 2>&1
bp_wait_listening "$dir/s1.log"
# 8 MiB less room for the key: the request stays within the default max_msg
for spec in "8 64" "8 65536" "2 8388544"; do
	set -- $spec
	bp_peer timeout 120 "$R/kv_client" --connect "$BP_IP:7121" check-size "$1" "$2" >"$dir/c1.log" 2>&1 ||
		bp_die "kernel kv_client -> bypass-msg kv_server, values up to $2 B: $(cat "$dir/c1.log")"
	grep -q "check $1 ok" "$dir/c1.log" || bp_die "no check result: $(cat "$dir/c1.log")"
	bp_log "kernel kv_client -> RPC-session kv_server: $1 rounds up to $2 B ok"
done
# 8 + 8 + 2 rounds: a PUT, a DEL and two GETs each
puts=18 gets=36 dels=18

# per-method counts for the default tenant (kv methods 1 PUT, 2 GET, 3 DEL)
"$CTL" rpc --json >"$dir/rpc.json" || bp_die "bypassctl rpc failed: $(cat "$dir/rpc.json")"
"$CTL" rpc >"$dir/rpc.txt"
cat "$dir/rpc.txt"
count() { # METHOD: REQUESTs the default tenant received for it
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); m=int(sys.argv[2])
print(sum(e["calls"] for e in d["methods"] if e["tenant"]=="default" and e["method"]==m))' "$dir/rpc.json" "$1"
}
[ "$(count 1)" = "$puts" ] || bp_die "PUT calls: $(count 1), want $puts"
[ "$(count 2)" = "$gets" ] || bp_die "GET calls: $(count 2), want $gets"
[ "$(count 3)" = "$dels" ] || bp_die "DEL calls: $(count 3), want $dels"
bp_log "bypassctl rpc: PUT $puts GET $gets DEL $dels for tenant default"
"$CTL" metrics >"$dir/metrics.txt" || bp_die "bypassctl metrics failed"
grep -qE "^bypass_rpc_calls_total\{tenant=\"default\",method=\"2\"\} $gets\$" "$dir/metrics.txt" ||
	bp_die "no bypass_rpc_calls_total for GET: $(grep bypass_rpc "$dir/metrics.txt")"
bp_log "metrics: $(grep 'bypass_rpc_calls_total.*method="2"' "$dir/metrics.txt")"

bp_bg "$R/rpc_bench" server --stack bypass-msg -p 7122 >"$dir/b1.log" 2>&1
bp_wait_listening "$dir/b1.log"
bp_peer timeout 60 "$R/rpc_bench" client --stack kernel --server "$BP_IP" -p 7122 --conns 4 --size 65536 \
	--verify --duration 1 --warmup 0.2 >"$dir/bc1.log" 2>&1 || bp_die "rpc_bench: $(cat "$dir/bc1.log")"
bp_log "kernel rpc_bench -> RPC-session server: $(rpc_bench_ok "$dir/bc1.log")"
# its requests were served where fastpathd put them (the message heap), no
# copy: the server reports zc_rx_msgs once the sessions have closed
for _ in $(seq 50); do
	grep -qE 'zc_rx_msgs=[1-9]' "$dir/b1.log" && break
	sleep 0.1
done
grep -qE 'zc_rx_msgs=[1-9]' "$dir/b1.log" ||
	bp_die "no request read in place: $(grep 'sessions live' "$dir/b1.log" | tail -1)"
bp_log "requests read in place: $(grep -oE 'zc_rx_msgs=[0-9]+' "$dir/b1.log" | tail -1)"

# rpc_bench calls method 1 too: the count grew by at least the calls it
# completed in its measured window (CSV field 7, bench/bench_csv.h)
calls=$(grep '^unary,bprpc-' "$dir/bc1.log" | tail -1 | cut -d, -f7)
"$CTL" rpc --json >"$dir/rpc.json"
[ "$(count 1)" -ge $((puts + calls)) ] || bp_die "method 1 after rpc_bench: $(count 1), want >= $((puts + calls))"
bp_log "bypassctl rpc: method 1 now $(count 1) (rpc_bench completed $calls)"

# garbage: the daemon resets the connection and counts a protocol error
proto_errors() { "$CTL" rpc --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["protocol_errors"])'; }
before=$(proto_errors)
bp_peer python3 - "$BP_IP" <<'PY' || bp_die "garbage client failed"
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7121), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 64)
# the server may have sent a CREDIT frame already; then the connection ends
try:
    while s.recv(4096):
        pass
except ConnectionResetError:
    pass
PY
after=$(proto_errors)
[ "$after" -gt "$before" ] || bp_die "garbage stream not counted: rpc_protocol_errors $before -> $after"
bp_log "garbage stream reset and counted (rpc_protocol_errors $before -> $after)"
# and the server still serves
bp_peer timeout 60 "$R/kv_client" --connect "$BP_IP:7121" check-size 4 1000 >"$dir/c2.log" 2>&1 ||
	bp_die "kv_server after the garbage: $(cat "$dir/c2.log")"
# a streamed response (GET_PARTS): a value back in parts, each one a whole
# message fastpathd framed on the way in, checked as it comes
bp_peer timeout 120 "$R/kv_client" --connect "$BP_IP:7121" --max-msg 16777216 \
	check-parts 16000000 65536 \
	>"$dir/c7.log" 2>&1 || bp_die "kernel kv_client GET_PARTS <- bypass-msg kv_server: $(cat "$dir/c7.log")"
bp_log "kernel kv_client <- RPC-session kv_server, streamed: $(sed -n 's/.*ok: //p' "$dir/c7.log")"
# handlers on worker threads read requests kept in the message heap
bp_bg "$R/kv_server" --transport bypass-msg --listen :7124 --workers 2 --max-msg 16777216 \
	>"$dir/s4.log" 2>&1
bp_wait_listening "$dir/s4.log"
bp_peer timeout 120 "$R/kv_client" --connect "$BP_IP:7124" check-size 6 65536 >"$dir/c4.log" 2>&1 ||
	bp_die "kernel kv_client -> bypass-msg kv_server --workers 2: $(cat "$dir/c4.log")"
grep -q "check 6 ok" "$dir/c4.log" || bp_die "no check result: $(cat "$dir/c4.log")"
bp_log "kernel kv_client -> RPC-session kv_server --workers 2: 6 rounds up to 65536 B ok"
# a streamed request to a worker method, each message whole from the daemon
bp_peer timeout 120 "$R/kv_client" --connect "$BP_IP:7124" --max-msg 16777216 \
	check-upload 20000000 1048576 >"$dir/c11.log" 2>&1 ||
	bp_die "kernel kv_client PUT_PARTS -> bypass-msg kv_server --workers 2: $(cat "$dir/c11.log")"
bp_log "kernel kv_client -> RPC-session kv_server --workers 2, streamed request: $(sed -n 's/.*ok: //p' "$dir/c11.log")"
# requests over the server's max_msg (1 MiB) and its byte window (16 MiB),
# one within its 32 MiB message heap and one beyond: fastpathd refuses them
# at their first frame and hands their bytes to the library as they go by,
# which gives them back as credit; a refusal that waited for the whole
# message would wait out the 30 s deadline
bp_bg "$R/kv_server" --transport bypass-msg --listen :7126 --max-msg 1048576 >"$dir/s6.log" 2>&1
bp_wait_listening "$dir/s6.log"
for size in 20000000 40000000; do
	bp_peer timeout 60 "$R/kv_client" --connect "$BP_IP:7126" --max-msg 67108864 \
		--deadline-ms 30000 too-big "$size" >"$dir/c6.log" 2>&1 ||
		bp_die "a $size-byte request to a 1 MiB server: $(cat "$dir/c6.log")"
	ms=$(sed -n 's/.*refused in \([0-9]*\) ms.*/\1/p' "$dir/c6.log")
	if [ -z "$ms" ] || [ "$ms" -ge 10000 ]; then
		bp_die "a $size-byte request refused only after ${ms:-?} ms: $(cat "$dir/c6.log")"
	fi
	bp_log "a $size-byte request to a 1 MiB RPC-session server: RESOURCE_EXHAUSTED in $ms ms," \
		"the session goes on"
done
# a streamed request (PUT_PARTS) to the same 1 MiB server: 40 MB up in
# 1 MiB messages, each framed by fastpathd and handed over whole, its credit
# given back as the handler finishes it; then back as a streamed response.
# fastpathd counts it as one call of its method, not one per message (two
# in all, with the upload to the --workers server above).
bp_peer timeout 120 "$R/kv_client" --connect "$BP_IP:7126" check-upload 40000000 1048576 \
	>"$dir/c9.log" 2>&1 ||
	bp_die "kernel kv_client PUT_PARTS -> bypass-msg kv_server: $(cat "$dir/c9.log")"
bp_log "kernel kv_client -> RPC-session kv_server, streamed request: $(sed -n 's/.*ok: //p' "$dir/c9.log")"
"$CTL" rpc --json >"$dir/rpc.json" || bp_die "bypassctl rpc failed: $(cat "$dir/rpc.json")"
[ "$(count 6)" = 2 ] || bp_die "PUT_PARTS calls: $(count 6), want 2 (one call of 21 messages, one of 40)"
# the other way: a bypass-msg client (responses framed by the daemon) to a
# kernel kv_server on the Linux host
bp_bg bp_peer "$R/kv_server" --listen :7123 --max-msg 16777216 >"$dir/s2.log" 2>&1
bp_wait_peer_listen 7123
timeout 120 "$R/kv_client" --transport bypass-msg --connect "$BP_PEER_IP:7123" check-size 3 8388544 \
	>"$dir/c3.log" 2>&1 || bp_die "bypass-msg kv_client -> kernel kv_server: $(cat "$dir/c3.log")"
grep -q "check 3 ok" "$dir/c3.log" || bp_die "no check result: $(cat "$dir/c3.log")"
bp_log "RPC-session kv_client -> kernel kv_server: 3 rounds up to 8388544 B ok"
timeout 120 "$R/kv_client" --transport bypass-msg --connect "$BP_PEER_IP:7123" \
	--max-msg 16777216 check-parts 12000000 1048576 >"$dir/c8.log" 2>&1 ||
	bp_die "bypass-msg kv_client GET_PARTS <- kernel kv_server: $(cat "$dir/c8.log")"
bp_log "RPC-session kv_client <- kernel kv_server, streamed: $(sed -n 's/.*ok: //p' "$dir/c8.log")"
timeout 120 "$R/kv_client" --transport bypass-msg --connect "$BP_PEER_IP:7123" \
	check-upload 30000000 1000000 >"$dir/c10.log" 2>&1 ||
	bp_die "bypass-msg kv_client PUT_PARTS -> kernel kv_server: $(cat "$dir/c10.log")"
bp_log "RPC-session kv_client -> kernel kv_server, streamed request: $(sed -n 's/.*ok: //p' "$dir/c10.log")"
echo "PASS: RPC sessions framed by fastpathd (64 B .. 8 MiB byte-exact, bypassctl rpc counts," \
	"garbage reset, requests over max_msg refused at once, streamed requests and responses" \
	"both ways)"
