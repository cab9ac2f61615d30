#!/usr/bin/env bash
# bypassctl capture against the Linux peer's own tcpdump, on a real
# transfer (bypass -> Linux) over the veth:
#  a) two captures at once, "tcp port P and greater 100" and "tcp port P",
#     open in tshark, hold exactly as many frames as tcpdump on the peer's
#     veth with the same filter, none the filter excludes, both directions
#     (the second), and the captured payload adds up to the bytes sent
#  b) -c COUNT stops by itself after COUNT packets
#  c) -w - | tcpdump -r - works
#     and a capture of tenant t1 (the flow's) has all its payload too
#  e) a reader that does not keep up loses capture packets (counted), the
#     transfer loses nothing
#  d) a non-admin uid (tenant t2) cannot capture tenant t1 (EACCES, a clear
#     message); its own-tenant capture runs and sees none of t1's frames
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
command -v tshark >/dev/null || bp_die "no tshark (apt-get install tshark; deploy/install-deps.sh)"
command -v tcpdump >/dev/null || bp_die "no tcpdump (deploy/install-deps.sh)"
CTL=$BP_BUILD/cli/bypassctl
BPCAT=$BP_BUILD/client-lib/bpcat
trap bp_cleanup EXIT
bp_make_tmp
dir=$BP_TMP
chmod 755 "$dir"
NOBODY_UID=4242 # no passwd entry needed: the config names the number
cat >"$dir/fp.conf" <<EOC
[daemon]
socket_mode = 0666
[tenants]
unknown = refuse
[tenant t1]
uids = root
[tenant t2]
uids = $NOBODY_UID
EOC
bp_topo_up bpcap "${CAPTURE_TOPO_IDX:-130}" # override to run side by side
BP_FP_ARGS=(--config "$dir/fp.conf")
bp_start_fastpathd
P=7301
SIZE=$((3 * 1024 * 1024 + 777))
head -c "$SIZE" /dev/urandom >"$dir/in"

# start_capture NAME ARGS...: bypassctl capture in the background until it
# says it runs; pid in CAP_PID
start_capture() {
	local name=$1 i
	shift
	bp_bg ip netns exec "$BP_NS_DP" "$CTL" capture "$@" 2>"$dir/$name.err"
	CAP_PID=$BP_LAST_PID
	for i in $(seq 100); do
		grep -q "capturing to" "$dir/$name.err" && return 0
		kill -0 "$CAP_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$dir/$name.err" >&2
	bp_die "capture $name did not start"
}
# captures_started: how many captures fastpathd has started in all
captures_started() { grep -c "capture [0-9]* started" "$BP_FP_LOG"; }
# wait_captures N: until fastpathd has started N captures in all (30 s);
# for a capture to stdout, which prints no line of its own when it starts
wait_captures() {
	local i
	for i in $(seq 300); do
		[ "$(captures_started)" -ge "$1" ] && return 0
		sleep 0.1
	done
	bp_die "fastpathd started fewer than $1 captures: $(grep "capture" "$BP_FP_LOG")"
}
# stop_capture PID NAME: SIGINT as Ctrl-C would, then its exit status must be 0
stop_capture() {
	kill -INT "$1"
	local st=0
	wait "$1" || st=$?
	[ "$st" = 0 ] || { cat "$dir/$2.err" >&2; bp_die "capture $2 exited $st"; }
}
peer_dump() { # NAME FILTER: tcpdump on the peer's veth; pid in DUMP_PID
	bp_bg ip netns exec "$BP_NS_PEER" tcpdump -i "$BP_PEER_DEV" -B 32768 -n -U -w "$dir/$1.pcap" "$2" 2>"$dir/$1.err"
	DUMP_PID=$BP_LAST_PID
	local i
	for i in $(seq 100); do
		grep -q "listening on" "$dir/$1.err" && return 0
		sleep 0.1
	done
	bp_die "tcpdump $1 did not start: $(cat "$dir/$1.err")"
}
transfer() { # PORT: SIZE bytes bypass -> Linux
	bp_bg bp_peer timeout 60 socat -u "TCP-LISTEN:$1,reuseaddr" "OPEN:$dir/out,creat,trunc"
	local sink=$BP_LAST_PID
	bp_wait_peer_listen "$1"
	ip netns exec "$BP_NS_DP" timeout 60 "$BPCAT" "$BP_PEER_IP" "$1" <"$dir/in" ||
		bp_die "bpcat failed"
	wait "$sink" || bp_die "socat failed"
	cmp -s "$dir/in" "$dir/out" || bp_die "the transfer was not byte-exact"
}
frames() { tshark -r "$1" ${2:+-Y "$2"} 2>/dev/null | wc -l; }

# ---------------------------------------------------------------- (a)
bp_log "(a) two captures and the peer's tcpdump during a ${SIZE}-byte transfer"
F1="tcp port $P and greater 100"
F2="tcp port $P"
peer_dump peer1 "$F1"
D1=$DUMP_PID
peer_dump peer2 "$F2"
D2=$DUMP_PID
start_capture cap1 -w "$dir/cap1.pcapng" $F1
C1=$CAP_PID
start_capture cap2 -w "$dir/cap2.pcapng" $F2
C2=$CAP_PID
start_capture cap4 --tenant t1 -w "$dir/cap4.pcapng" $F2
C4=$CAP_PID
# nobody's capture of its own tenant runs meanwhile: it must see nothing of t1's flow
started=$(captures_started)
bp_bg ip netns exec "$BP_NS_DP" setpriv --reuid=$NOBODY_UID --regid=$NOBODY_UID --clear-groups \
	"$CTL" capture --json -w - >"$dir/cap3.pcapng" 2>"$dir/cap3.err"
C3=$BP_LAST_PID
wait_captures $((started + 1))
transfer $P
sleep 1 # the connection's last frames (FIN, ACK)
for pid in $D1 $D2; do kill -INT "$pid"; wait "$pid" || true; done # tcpdump itself (ip netns exec execs)
stop_capture "$C1" cap1
stop_capture "$C2" cap2
stop_capture "$C4" cap4
kill -INT "$C3"
wait "$C3" || { cat "$dir/cap3.err" >&2; bp_die "nobody's own-tenant capture failed"; }
cat "$dir/cap1.err" "$dir/cap2.err" | sed 's/^/  /'
[ -z "${CAPTURE_KEEP:-}" ] || cp "$dir"/*.pcap* "$dir"/*.err "$CAPTURE_KEEP"/
for n in 1 2; do
	grep -q "^0 packets dropped by kernel" "$dir/peer$n.err" ||
		bp_die "the peer's tcpdump lost frames, no reference: $(cat "$dir/peer$n.err")"
done

for n in 1 2; do
	tshark -r "$dir/cap$n.pcapng" -c 1 >/dev/null 2>"$dir/tshark$n.err" ||
		bp_die "tshark cannot read cap$n.pcapng: $(cat "$dir/tshark$n.err")"
	ours=$(frames "$dir/cap$n.pcapng")
	theirs=$(frames "$dir/peer$n.pcap")
	echo "  filter '$(eval echo "\$F$n")': bypassctl capture $ours frames, peer tcpdump $theirs"
	[ "$ours" -gt 0 ] && [ "$ours" = "$theirs" ] ||
		bp_die "cap$n holds $ours frames, the peer's tcpdump saw $theirs"
	grep -q "0 packets dropped" "$dir/cap$n.err" || bp_die "cap$n dropped packets: $(cat "$dir/cap$n.err")"
done
# timestamps: wall-clock time of the capture, in order
t0=$(tshark -r "$dir/cap2.pcapng" -c 1 -T fields -e frame.time_epoch 2>/dev/null | cut -d. -f1)
now=$(date +%s)
[ $((now - t0)) -ge 0 ] && [ $((now - t0)) -lt 120 ] ||
	bp_die "cap2's first frame is stamped $t0, now is $now"
bad=$(frames "$dir/cap1.pcapng" "!(tcp.port == $P) || frame.len < 100")
[ "$bad" = 0 ] || bp_die "cap1 holds $bad frames its filter excludes"
bad=$(frames "$dir/cap2.pcapng" "!(tcp.port == $P)")
[ "$bad" = 0 ] || bp_die "cap2 holds $bad frames its filter excludes"
# cap1 excludes every bare ACK (54 bytes): only data; cap2 holds the peer's ACKs too
in=$(frames "$dir/cap2.pcapng" "ip.src == $BP_PEER_IP")
[ "$in" -gt 0 ] || bp_die "cap2 holds no received frame"
in=$(frames "$dir/cap1.pcapng" "ip.src == $BP_PEER_IP")
[ "$in" = 0 ] || bp_die "cap1 holds $in received frames: bare ACKs are under 100 bytes"
# payload: the bytes the captured segments cover (a retransmission, which
# may cut the stream differently, covers the same bytes again); cap1's
# "greater 100" leaves out segments under 46 bytes, so it must cover what
# cap2's frames of 100 bytes and more cover
payload() { # FILE [EXTRA FILTER]
	tshark -r "$1" -Y "ip.src == $BP_IP && tcp.len > 0 ${2:+&& $2}" -T fields \
		-e tcp.seq_raw -e tcp.len 2>/dev/null | sort -n -k1,1 |
		awk '{s = $1; e = $1 + $2
		      if (n && s <= ce) { if (e > ce) ce = e; next }
		      if (n) tot += ce - cs
		      cs = s; ce = e; n = 1}
		     END {if (n) tot += ce - cs; print tot + 0}'
}
for n in 2 4; do
	sum=$(payload "$dir/cap$n.pcapng")
	echo "  cap$n: $sum payload bytes from bypass (sent $SIZE)"
	[ "$sum" = "$SIZE" ] || bp_die "cap$n's payload adds up to $sum bytes, $SIZE were sent"
done
sum=$(payload "$dir/cap1.pcapng")
want=$(payload "$dir/cap2.pcapng" "frame.len >= 100")
echo "  cap1: $sum payload bytes (cap2's frames of 100 bytes or more: $want)"
[ "$sum" = "$want" ] || bp_die "cap1's payload is $sum bytes, cap2 has $want in frames >= 100 bytes"
n3=$(frames "$dir/cap3.pcapng")
grep -q '"tenant": "t2"' "$dir/cap3.err" || bp_die "nobody's capture was not of its tenant t2: $(cat "$dir/cap3.err")"
[ "$n3" = 0 ] || bp_die "tenant t2's capture holds $n3 frames of tenant t1's flow"
echo "ok: (a) same frame counts as the peer's tcpdump, nothing excluded, payload = bytes sent; t2 saw none of t1"

# ---------------------------------------------------------------- (b)
bp_log "(b) -c 7"
start_capture capc -c 7 -w "$dir/capc.pcapng" tcp port $((P + 1))
transfer $((P + 1))
for i in $(seq 50); do kill -0 "$CAP_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$CAP_PID" 2>/dev/null && bp_die "-c 7 did not stop by itself"
wait "$CAP_PID" || bp_die "-c 7 exited non-zero: $(cat "$dir/capc.err")"
n=$(frames "$dir/capc.pcapng")
[ "$n" = 7 ] || bp_die "-c 7 wrote $n frames"
echo "ok: (b) -c 7 stopped by itself with 7 frames"

# ---------------------------------------------------------------- (c)
bp_log "(c) -w - | tcpdump -r -"
started=$(captures_started)
bp_bg bash -c "ip netns exec $BP_NS_DP $CTL capture -c 20 -w - tcp port $((P + 2)) 2>$dir/capp.err |
	tcpdump -r - -n >$dir/capp.txt 2>$dir/capp.tcpdump.err"
pp=$BP_LAST_PID
wait_captures $((started + 1))
transfer $((P + 2))
for i in $(seq 300); do kill -0 "$pp" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pp" 2>/dev/null && bp_die "capture -c 20 did not end within 30 s of its transfer:" \
	"$(cat "$dir/capp.err" "$dir/capp.tcpdump.err")"
wait "$pp" || bp_die "the pipeline failed: $(cat "$dir/capp.err" "$dir/capp.tcpdump.err")"
n=$(grep -c " IP $BP_IP.*> $BP_PEER_IP\| IP $BP_PEER_IP.* > $BP_IP" "$dir/capp.txt" || true)
[ "$n" = 20 ] || bp_die "tcpdump -r - printed $n packets, want 20: $(head -3 "$dir/capp.txt")"
echo "ok: (c) bypassctl capture -c 20 -w - | tcpdump -r - printed 20 packets"

# ---------------------------------------------------------------- (d)
bp_log "(d) a non-admin uid and another tenant"
st=0
out=$(ip netns exec "$BP_NS_DP" setpriv --reuid=$NOBODY_UID --regid=$NOBODY_UID --clear-groups \
	"$CTL" capture --tenant t1 -w - 2>&1 >/dev/null) || st=$?
echo "  uid $NOBODY_UID --tenant t1: exit $st: $out"
[ "$st" = 1 ] || bp_die "capturing another tenant exited $st, want 1"
grep -q "only its own tenant" <<<"$out" || bp_die "no clear refusal: $out"
ip netns exec "$BP_NS_DP" "$CTL" capture --tenant nosuch -w - >/dev/null 2>&1 &&
	bp_die "an unknown tenant was accepted"
echo "ok: (d) uid $NOBODY_UID (tenant t2) cannot capture tenant t1"
# ---------------------------------------------------------------- (e)
bp_log "(e) a reader that does not read for 4 s"
started=$(captures_started)
bp_bg bash -c "$CTL capture --json -w - tcp port $((P + 3)) 2>$dir/slow.err | { sleep 4; cat >/dev/null; }"
sp=$BP_LAST_PID
wait_captures $((started + 1))
transfer $((P + 3)) # byte-exact, or it dies
kill -INT -- "-$sp" 2>/dev/null || true
wait "$sp" || true
cat "$dir/slow.err" | sed 's/^/  /'
drops=$(sed -n 's/.*"reader_drops": \([0-9]*\).*/\1/p' "$dir/slow.err")
[ -n "$drops" ] && [ "$drops" -gt 0 ] || bp_die "the slow reader lost nothing, or no counts: $(cat "$dir/slow.err")"
echo "ok: (e) a slow reader lost $drops capture packets (counted), the transfer was byte-exact"
bp_stop_fastpathd || bp_die "fastpathd did not stop cleanly"
echo "PASS: bypassctl capture matches tcpdump on the peer; -c; -w - | tcpdump; tenants"
