#!/usr/bin/env bash
# A hung RPC-session app must not make fastpathd spin: bp_rpc_stall accepts
# one RPC session and stops taking messages while a Linux peer keeps
# sending REQUEST frames, so the daemon's framer stalls on a full message
# heap (phase 1) or a full message queue (phase 2).  Over 2 s of that,
# fastpathd may use at most 10% of a core (utime + stime from
# /proc/PID/stat): stalled flows wait for the app's doorbell or drain kick
# instead of being retried every round.  Then the app resumes and every
# message must arrive in order, byte-exact.  Last, a fork child's
# bp_adopt() of an RPC session must fail with -EOPNOTSUPP.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up rpcstall 122
bp_make_tmp
dir=$BP_TMP
# a small message queue, so phase 2 fills it long before its heap
printf '[apps]\nqueue_entries = 256\n' >"$dir/fp.ini"
BP_FP_ARGS=(--config "$dir/fp.ini")
bp_start_fastpathd
TOOL=$BP_BUILD/tests/bp_rpc_stall
[ -x "$TOOL" ] || bp_die "no $TOOL: build first"
HZ=$(getconf CLK_TCK)

fp_ticks() { awk '{ print $14 + $15 }' "/proc/$BP_FP_PID/stat"; }

# peer NAME PORT COUNT: a Linux peer sends COUNT REQUEST frames (bodies of
# 1..6000 bytes the app checks) and reads until the session ends
peer() {
	bp_bg bp_peer python3 - "$BP_IP" "$2" "$3" >"$dir/$1.peer.log" 2>&1 <<'PY'
import socket, struct, sys
ip, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)  # not the host's tcp_wmem
s.settimeout(60)
s.connect((ip, port))
for i in range(1, count + 1):
    n = i * 977 % 6000 + 1
    body = bytes((i * 131 + j * 7) & 0xff for j in range(n))
    # REQUEST, method 1, call_id i, no metadata (rpc/WIRE.md)
    s.sendall(struct.pack('<HBBHHIIIIHHI', 0x5242, 1, 1, 0, 1, i, n, n, 0, 0, 0, 0) + body)
print("sent", count, flush=True)
try:
    while s.recv(4096):
        pass
except OSError:
    pass
PY
}

# PHASE NAME PORT HEAP COUNT [hold]
phase() {
	local name=$1 port=$2 heap=$3 count=$4 go=$dir/go.$1
	bp_bg "$TOOL" "$port" "$heap" "$count" "$go" ${5:-} >"$dir/$name.log" 2>&1
	local app=$BP_LAST_PID
	bp_wait_listening "$dir/$name.log"
	peer "$name" "$port" "$count"
	local i
	for i in $(seq 100); do
		grep -q accepted "$dir/$name.log" && break
		sleep 0.1
	done
	grep -q accepted "$dir/$name.log" || bp_die "$name: no connection: $(cat "$dir/$name.log")"
	sleep 1.5 # the heap or queue fills, the framer stalls, the window closes
	grep -q sent "$dir/$name.peer.log" && bp_die "$name: the peer sent everything: nothing stalled"
	local t0 t1
	t0=$(fp_ticks)
	sleep 2
	t1=$(fp_ticks)
	local pct=$(((t1 - t0) * 100 / (2 * HZ)))
	bp_log "$name: fastpathd used ${pct}% of a core over 2 s with stalled RPC flows"
	[ "$pct" -lt 10 ] || bp_die "$name: fastpathd spins with stalled RPC flows (${pct}% of a core)"
	[ "$name" != heap ] || busy_neighbour
	touch "$go"
	wait "$app" || bp_die "$name: app failed: $(cat "$dir/$name.log")"
	grep -q "ok $count" "$dir/$name.log" || bp_die "$name: $(cat "$dir/$name.log")"
	bp_log "$name: all $count messages arrived byte-exact after the app resumed"
}


# another app's session on the same core works while one stays stalled:
# the buffers it gives back are no room for the stalled app's flows, which
# must not be tried again for each of them (a hoarding app's thousands of
# stalled sessions would cost every other tenant a scan per return)
busy_neighbour() {
	local s0 s1
	touch "$dir/go.busy"
	bp_bg "$TOOL" 7224 16777216 2000 "$dir/go.busy" >"$dir/busy.log" 2>&1
	local app=$BP_LAST_PID
	bp_wait_listening "$dir/busy.log"
	s0=$(bp_stat stats rpc_stalls)
	peer busy 7224 2000
	bp_wait_pid "$app" || bp_die "the busy neighbour failed: $(cat "$dir/busy.log")"
	grep -q "ok 2000" "$dir/busy.log" || bp_die "busy neighbour: $(cat "$dir/busy.log")"
	s1=$(bp_stat stats rpc_stalls)
	bp_log "a neighbour's 2000 messages and returns beside a stalled session: rpc_stalls $s0 -> $s1"
	# the neighbour may stall a little itself (its queue is 256 entries);
	# retrying the stalled session for each return adds ~one per message
	[ $((s1 - s0)) -lt 600 ] ||
		bp_die "the stalled session was tried again for the neighbour's returns ($s0 -> $s1 stalls)"
}

# 64 heap blocks: the heap fills.  ~9 MB is sent, more than the 256 KiB
# heap, the flow's receive ring and the peer's send buffer (SO_SNDBUF
# 1 MiB, 2 MiB as Linux counts it) hold together, so sendall() cannot end
phase heap 7221 262144 3000
# 4096 blocks, 256 queue entries: the queue fills.  The app gives no buffer
# back until it has all, so the flows go on after queue drains (the app's
# drain kick, or the core's next timed wakeup), never after a MSG_DONE
phase msgq 7222 16777216 1200 hold
# an RPC session cannot move to a fork child: bp_adopt() says so
bp_bg "$TOOL" adopt 7223 >"$dir/adopt.log" 2>&1
adopter=$BP_LAST_PID
bp_wait_listening "$dir/adopt.log"
bp_bg bp_peer python3 -c 'import socket,sys,time; s=socket.create_connection((sys.argv[1], 7223)); time.sleep(10)' "$BP_IP"
wait "$adopter" || bp_die "adopt of an RPC session: $(cat "$dir/adopt.log")"
grep -q "adopt refused: EOPNOTSUPP" "$dir/adopt.log" || bp_die "adopt: $(cat "$dir/adopt.log")"
bp_log "a fork child's bp_adopt() of an RPC session fails with -EOPNOTSUPP"
"$BP_BUILD/cli/bypassctl" stats 2>/dev/null | grep -i rpc_stall || true
echo "PASS: stalled RPC flows let fastpathd sleep; every message arrives once the app resumes"
