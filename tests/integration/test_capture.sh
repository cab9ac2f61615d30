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
#     message); its own-tenant capture runs and sees none of t1's frames;
#     a refused capture leaves -w FILE alone, an accepted one makes it 0600,
#     never through a symlink; a uid in no tenant is refused without
#     counting a refused attach
#  f) a filter program with a jump that wraps (ja 0xffffffff, which
#     libpcap's bpf_validate() passes) is refused with the instruction's
#     index, and the daemon goes on capturing
#  g) a client that stops its capture and then neither reads nor closes
#     sees the daemon close the connection
#  h) users that are not admins cannot take the last capture slot
#  i) removing a captured tenant ends its capture
#  j) so does taking the capturer's uid out of the tenant it captures
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
command -v tshark >/dev/null || bp_die "no tshark (apt-get install tshark; deploy/install-deps.sh)"
command -v tcpdump >/dev/null || bp_die "no tcpdump (deploy/install-deps.sh)"
CTL=$BP_BUILD/cli/bypassctl
HERE=$(cd "$(dirname "$0")" && pwd)
BPCAT=$BP_BUILD/client-lib/bpcat
trap bp_cleanup EXIT
bp_make_tmp
dir=$BP_TMP
chmod 755 "$dir"
NOBODY_UID=4242 # no passwd entry needed: the config names the number
NOBODY2_UID=4243 # tenant t2 too
NOTENANT_UID=4299 # in no tenant: refused
cat >"$dir/fp.conf" <<EOC
[daemon]
socket_mode = 0666
[tenants]
unknown = refuse
[tenant t1]
uids = root
[tenant t2]
uids = $NOBODY_UID,$NOBODY2_UID
[tenant t3]
uids = 4244
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
as_uid() { # UID CMD...: CMD as UID (its own gid, no other groups) in the bypass namespace
	local u=$1
	shift
	ip netns exec "$BP_NS_DP" setpriv --reuid="$u" --regid="$u" --clear-groups "$@"
}
# ended_by_daemon PID ERRFILE WANT WHAT: the capture PID ends within 5 s,
# exit 1, saying WANT on its stderr
ended_by_daemon() {
	local st=0
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$1" 2>/dev/null && bp_die "$4: the capture runs on"
	bp_wait_pid "$1" || st=$?
	[ "$st" = 1 ] && grep -q "$3" "$2" || bp_die "$4: no clear end: exit $st: $(cat "$2")"
}

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
bp_wait_pid "$CAP_PID" || bp_die "-c 7 exited non-zero: $(cat "$dir/capc.err")"
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
# ... the same answer as for a tenant that does not exist: no name is learnt
a=$(as_uid "$NOBODY_UID" "$CTL" capture --tenant t1 -w - 2>&1 >/dev/null | sed 's/t1/NAME/g') || true
b=$(as_uid "$NOBODY_UID" "$CTL" capture --tenant nosuch -w - 2>&1 >/dev/null |
	sed 's/nosuch/NAME/g') || true
[ "$a" = "$b" ] || bp_die "uid $NOBODY_UID can tell t1 exists: '$a' vs '$b'"
ip netns exec "$BP_NS_DP" "$CTL" capture --tenant nosuch -w - >/dev/null 2>&1 &&
	bp_die "an unknown tenant was accepted"
# -w FILE is opened only once the daemon accepted: a refusal leaves it whole
echo keep >"$dir/keep"
chown "$NOBODY_UID" "$dir/keep"
as_uid "$NOBODY_UID" "$CTL" capture --tenant t1 -w "$dir/keep" >/dev/null 2>&1 &&
	bp_die "uid $NOBODY_UID captured tenant t1 into a file"
[ "$(cat "$dir/keep")" = keep ] || bp_die "a refused capture truncated its -w FILE"
mode=$(stat -c %a "$dir/cap1.pcapng")
[ "$mode" = 600 ] || bp_die "-w made cap1.pcapng mode $mode, want 600"
ln -s "$dir/target" "$dir/link"
st=0
out=$(ip netns exec "$BP_NS_DP" timeout -s INT 10 "$CTL" capture -w "$dir/link" 2>&1) || st=$?
[ "$st" = 1 ] && grep -q "symbolic link" <<<"$out" || bp_die "-w through a symlink: exit $st: $out"
[ ! -e "$dir/target" ] || bp_die "-w wrote through a symlink"
# a file that was there before is made 0600 too; a FIFO is refused at once
printf 'old' >"$dir/old.pcapng"
chmod 644 "$dir/old.pcapng"
start_capture capold -c 1 -w "$dir/old.pcapng"
transfer $((P + 5))
for _ in $(seq 50); do kill -0 "$CAP_PID" 2>/dev/null || break; sleep 0.1; done
bp_wait_pid "$CAP_PID" || bp_die "-c 1 into an existing file failed: $(cat "$dir/capold.err")"
mode=$(stat -c %a "$dir/old.pcapng")
[ "$mode" = 600 ] || bp_die "-w left the existing old.pcapng mode $mode, want 600"
[ "$(frames "$dir/old.pcapng")" = 1 ] || bp_die "the existing file does not hold the one frame"
mkfifo "$dir/fifo"
st=0
out=$(ip netns exec "$BP_NS_DP" timeout -s INT 10 "$CTL" capture -w "$dir/fifo" 2>&1) || st=$?
[ "$st" = 1 ] && grep -q "cannot write" <<<"$out" || bp_die "-w into a FIFO: exit $st: $out"
# nor another user's file (root could chmod it, but its owner reads it still)
: >"$dir/theirs"
chown "$NOBODY_UID" "$dir/theirs"
st=0
out=$(ip netns exec "$BP_NS_DP" timeout -s INT 10 "$CTL" capture -w "$dir/theirs" 2>&1) || st=$?
[ "$st" = 1 ] && grep -q "another user's file" <<<"$out" || bp_die "-w into another's file: exit $st: $out"
# a uid in no tenant: refused, naming who may; no attach refusal counted
before=$(bp_stat stats tenant.default.denied_refused 0)
st=0
out=$(as_uid "$NOTENANT_UID" "$CTL" capture -w - 2>&1 >/dev/null) || st=$?
want="in no tenant; only root, fastpathd's own user or a member of admin_group"
[ "$st" = 1 ] && grep -q "$want" <<<"$out" || bp_die "uid $NOTENANT_UID (no tenant): exit $st: $out"
after=$(bp_stat stats tenant.default.denied_refused 0)
[ "$after" = "$before" ] ||
	bp_die "a refused capture counted as a refused attach ($before -> $after)"
echo "ok: (d) uid $NOBODY_UID (tenant t2) cannot capture tenant t1; -w FILE only once" \
	"accepted, 0600 (an old file too), no symlink, FIFO or other's file; no tenant, no capture," \
	"no attach refusal counted"
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

# ---------------------------------------------------------------- (f)
bp_log "(f) a filter program that jumps back (ja 0xffffffff)"
out=$(ip netns exec "$BP_NS_DP" timeout 10 python3 "$HERE/cap_raw.py" badprog "$BYPASS_SOCKET") ||
	bp_die "the wrapping jump was not refused clearly: $out"
echo "  $out"
kill -0 "$BP_FP_PID" || bp_die "fastpathd died"
# and the cores still run filters: a capture of a transfer sees it
start_capture capf -c 5 -w "$dir/capf.pcapng" tcp port $((P + 4))
transfer $((P + 4))
for i in $(seq 50); do kill -0 "$CAP_PID" 2>/dev/null || break; sleep 0.1; done
bp_wait_pid "$CAP_PID" || bp_die "the capture after the refused program failed: $(cat "$dir/capf.err")"
[ "$(frames "$dir/capf.pcapng")" = 5 ] || bp_die "the capture after the refused program saw nothing"
echo "ok: (f) ja 0xffffffff refused, naming instruction 0; captures go on"

# ---------------------------------------------------------------- (g)
# (its final reply fits the socket buffer, so the daemon closes at once; a
# reply that does not is put back under the idle timeout, not tested here)
bp_log "(g) a stopped capture's client that never reads nor closes"
out=$(ip netns exec "$BP_NS_DP" timeout 30 python3 "$HERE/cap_raw.py" linger "$BYPASS_SOCKET" 8) ||
	bp_die "fastpathd kept the stopped capture's connection: $out"
echo "  $out"
echo "ok: (g) the daemon closed the stopped capture's connection"

# ---------------------------------------------------------------- (h)
bp_log "(h) the last capture slot is an admin's"
started=$(captures_started)
pids=()
for u in "$NOBODY_UID" "$NOBODY_UID" "$NOBODY2_UID"; do
	bp_bg ip netns exec "$BP_NS_DP" setpriv --reuid="$u" --regid="$u" --clear-groups \
		"$CTL" capture -w - >/dev/null 2>>"$dir/slots.err"
	pids+=("$BP_LAST_PID")
done
wait_captures $((started + 3))
st=0
out=$(as_uid "$NOBODY_UID" timeout -s INT 5 "$CTL" capture -w - 2>&1 >/dev/null) || st=$?
[ "$st" = 1 ] && grep -q "runs 2 captures already" <<<"$out" ||
	bp_die "a third capture of uid $NOBODY_UID: exit $st: $out"
st=0
out=$(as_uid "$NOBODY2_UID" timeout -s INT 5 "$CTL" capture -w - 2>&1 >/dev/null) || st=$?
echo "  uid $NOBODY2_UID's second capture, the 4th: exit $st: $out"
[ "$st" = 1 ] && grep -q "kept for root, fastpathd's own user or a member of admin_group" \
	<<<"$out" || bp_die "a user that is not an admin took the last slot"
start_capture slotroot -w "$dir/slotroot.pcapng"
stop_capture "$CAP_PID" slotroot
for pid in "${pids[@]}"; do
	kill -INT "$pid" 2>/dev/null || true # one that failed has exited: bp_wait_pid says
	bp_wait_pid "$pid" ||
		bp_die "a capture of a user that is not an admin failed: $(cat "$dir/slots.err")"
done
echo "ok: (h) three captures of users that are not admins, the fourth slot root's"

# ---------------------------------------------------------------- (i)
bp_log "(i) tenant t3 removed while captured"
start_capture capt3 --tenant t3 -w "$dir/capt3.pcapng"
"$CTL" tenant del t3 >/dev/null || bp_die "tenant del t3"
ended_by_daemon "$CAP_PID" "$dir/capt3.err" "tenant removed" "removed tenant t3"
echo "ok: (i) removing tenant t3 ended its capture:" "$(grep "tenant removed" "$dir/capt3.err")"

# ---------------------------------------------------------------- (j)
bp_log "(j) a capturer's uid leaves the tenant it captures"
started=$(captures_started)
bp_bg ip netns exec "$BP_NS_DP" setpriv --reuid=$NOBODY2_UID --regid=$NOBODY2_UID --clear-groups \
	"$CTL" capture -w - >/dev/null 2>"$dir/capj.err"
jpid=$BP_LAST_PID
wait_captures $((started + 1))
"$CTL" tenant set t2 uids $NOBODY_UID >/dev/null || bp_die "tenant set t2 uids $NOBODY_UID failed"
ended_by_daemon "$jpid" "$dir/capj.err" "no longer belongs to tenant 't2'" \
	"uid $NOBODY2_UID taken out of t2"
echo "ok: (j) the capture of a uid that left t2 ended:" "$(grep "no longer belongs" "$dir/capj.err")"
bp_stop_fastpathd || bp_die "fastpathd did not stop cleanly"
echo "PASS: bypassctl capture matches tcpdump on the peer; -c; -w - | tcpdump; tenants;" \
	"filters that jump back; stopped captures' connections; the admin's slot; removed tenants and members"
