#!/usr/bin/env bash
# A remote peer must not hold an RPC server's message heap.  fastpathd
# assembles each message of an RPC session whole in the app's heap, so a
# header that announces a large message could reserve megabytes for 32
# bytes, and a peer that starts messages and stops could starve every
# session of the app for as long as it stays connected.  A Linux peer
# (rpc_hostile_peer.py, answering PINGs like a live one) against an
# rpc_bench server over bypass-msg with an 8 MiB heap and
# [rpc] message_timeout_ms = 2000:
#  - hold: two sessions each send 160 KiB of a 4 MiB request and stop,
#    which takes the whole heap, then a small request that cannot fit, so
#    the framer waits on them (which must not stop their clocks); a 64 KiB
#    call then waits too.  Both must be reset about 2 s after their first
#    frame, and the call answered, byte-exact;
#  - announce: twenty sessions announce 4 MiB requests and send one byte;
#    past half the heap a header alone reserves nothing, so a call is
#    answered at once (well before the timeout) and byte-exact;
#  - interleave: one session sends the first frames of two 5 MiB requests,
#    then the rest of each.  The second cannot fit beside the first, whose
#    remaining bytes are queued behind its header: a wait that never ends.
#    The second is refused RESOURCE_EXHAUSTED once it has waited a quarter
#    of the timeout, and the first is answered byte-exact, while another
#    session's older message waits for its own (later) timeout.
# Then `bypassctl stats` must count the two timeouts and the broken wait.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up rpchostile 114
bp_make_tmp
dir=$BP_TMP
printf '[rpc]\nmessage_timeout_ms = 2000\n' >"$dir/fp.ini"
# one fastpath core: the heap is split into a part per core, and what this
# test fills and measures is one part shared by every session (the sizes
# below assume 8 MiB)
BP_FP_ARGS=(--config "$dir/fp.ini" --cores 1)
bp_start_fastpathd
R=$BP_BUILD/rpc
[ -x "$R/rpc_bench" ] || bp_die "no $R/rpc_bench: build first"
PEER=$(dirname "$0")/rpc_hostile_peer.py
PORT=7114
bp_bg "$R/rpc_bench" server --stack bypass-msg -p $PORT --msg-heap-mb 8 --keepalive-ms 5000 \
	>"$dir/server.log" 2>&1
bp_wait_listening "$dir/server.log"

peer() { bp_peer timeout 60 python3 "$PEER" "$1" "$BP_IP" $PORT "${@:2}"; }
# fail with the daemon's RPC counters and the server's last words
fail() {
	"$BP_BUILD/cli/bypassctl" stats 2>&1 | grep -E '^(rpc_|flow)' | grep -v ' 0$' >&2 || true
	tail -5 "$dir/server.log" >&2
	bp_die "$@"
}
# await WORD LOG: the peer writing LOG said WORD within 10 s, or fail
await() {
	local _
	for _ in $(seq 100); do
		grep -q "$1" "$2" && return 0
		sleep 0.1
	done
	fail "no '$1' from the peer: $(cat "$2")"
}

# hold: the heap is the attackers'; the call waits for their reset
bp_bg peer hold 2 4194304 163840 >"$dir/hold.log" 2>&1
holder=$BP_LAST_PID
await holding "$dir/hold.log"
sleep 0.3 # their frames are in: the heap is taken
peer call 65536 >"$dir/call1.log" 2>&1 || fail "call during the hold: $(cat "$dir/call1.log")"
wait "$holder" || fail "hold peer failed: $(cat "$dir/hold.log")"
cat "$dir/hold.log" "$dir/call1.log"
[ "$(grep -c '^reset' "$dir/hold.log")" = 2 ] ||
	fail "the sessions holding the heap were not both reset: $(cat "$dir/hold.log")"
awk '/^reset/ { if ($2 < 1.5 || $2 > 8) exit 1 }' "$dir/hold.log" ||
	fail "a holding session was reset, but not by the 2 s message timeout: $(cat "$dir/hold.log")"
read -r _ secs _ status verdict <"$dir/call1.log"
if [ "$status" != 0 ] || [ "$verdict" != ok ]; then
	fail "call during the hold: $(cat "$dir/call1.log")"
fi
awk -v s="$secs" 'BEGIN { exit !(s >= 0.5) }' ||
	fail "the call did not wait for the heap (${secs} s): the hold took nothing"
bp_log "hold: both sessions reset by the message timeout; the waiting call answered after ${secs} s"

# announce: headers alone reserve nothing
exec {announce_in}> >(peer announce 20 4194304 >"$dir/announce.log" 2>&1)
await announced "$dir/announce.log"
sleep 0.3
peer call 65536 >"$dir/call2.log" 2>&1 || fail "call after the announcements: $(cat "$dir/call2.log")"
read -r _ secs _ status verdict <"$dir/call2.log"
if [ "$status" != 0 ] || [ "$verdict" != ok ]; then
	fail "call after the announcements: $(cat "$dir/call2.log")"
fi
awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' ||
	fail "a call waited ${secs} s behind 20 announced-only messages: a header reserved the heap"
exec {announce_in}>&-
bp_log "announce: past half the heap, 20 headers of 4 MiB reserved nothing; a call was answered in ${secs} s"

# interleave: the wait that cannot end is broken, on time even while an
# older session's message (which times out later) is in assembly
bp_bg peer hold 1 1048576 16384 >"$dir/older.log" 2>&1
older=$BP_LAST_PID
await holding "$dir/older.log"
peer interleave 5242880 65536 >"$dir/inter.log" 2>&1 || fail "interleave: $(cat "$dir/inter.log")"
wait "$older" || fail "older session: $(cat "$dir/older.log")"
awk '/^reset/ { r = $2 } END { exit !(r > 0 && r < 8) }' "$dir/older.log" ||
	fail "the older session was not reset by its own timeout: $(cat "$dir/older.log")"
cat "$dir/inter.log"
grep -q '^call 1 status 0 ok$' "$dir/inter.log" || fail "interleave: call 1: $(cat "$dir/inter.log")"
grep -q '^call 2 status 8 ' "$dir/inter.log" ||
	fail "interleave: call 2 not RESOURCE_EXHAUSTED: $(cat "$dir/inter.log")"
bp_log "interleave: the first message answered byte-exact, the second refused RESOURCE_EXHAUSTED"

"$BP_BUILD/cli/bypassctl" stats >"$dir/stats.txt" || fail "bypassctl stats failed"
stat() { awk -v k="$1" '$1 == k { n += $2 } END { print n + 0 }' "$dir/stats.txt"; }
[ "$(stat rpc_timeouts)" -ge 3 ] || fail "rpc_timeouts $(stat rpc_timeouts), want 3: $(grep rpc_ "$dir/stats.txt")"
[ "$(stat rpc_watch_retries)" -ge 1 ] ||
	fail "rpc_watch_retries $(stat rpc_watch_retries): $(grep rpc_ "$dir/stats.txt")"
bp_log "bypassctl stats: rpc_timeouts $(stat rpc_timeouts), rpc_watch_retries $(stat rpc_watch_retries)"
echo "PASS: a remote peer cannot hold an RPC server's heap: no reservation without bytes, a time limit, no endless wait"
