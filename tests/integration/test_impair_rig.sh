#!/usr/bin/env bash
# The wire-impairment rig itself, Linux to Linux (lx -> peer) through
# bp_impair, before any bypass test relies on it:
#  (a) 5% loss: the loss counters are near 5%, 20 MiB still arrive intact
#  (b) the same seed gives the same decisions, another seed other ones
#  (c) 1% corruption: 20 MiB intact, the peer's TCP caught bad checksums
#  (d) a 20 Mbit/s bottleneck: iperf3 goodput within 20% of it
#  (e) ECN: with a low marking threshold, CE marks on ECN-capable TCP
#  (f) an idle rig uses no CPU; (g) delay, reordering and duplication work
set -euo pipefail
# shellcheck source=tests/integration/impair_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/impair_lib.sh"
bp_need_root
imp_traps
for tool in socat iperf3 ping python3; do
	command -v "$tool" >/dev/null || bp_die "$tool not installed"
done
imp_find_binary
bp_log "bp_impair: $IMP_BIN"
"$IMP_BIN" --self-test >/dev/null || bp_die "bp_impair --self-test failed"
imp_topo_up bpimp 40
bp_make_tmp
head -c 20M /dev/urandom >"$BP_TMP/in"
want=$(sha256sum <"$BP_TMP/in" | cut -d' ' -f1)

# xfer LABEL: 20 MiB from lx to the peer through the rig, byte-exact, 60 s
# at most; sets XFER_SECS
xfer() {
	local out=$BP_TMP/out rc=0 t0 t1 got sink
	rm -f "$out"
	bp_bg ip netns exec "$IMP_NS_PEER" timeout 60 socat -u TCP-LISTEN:5001,reuseaddr \
		"OPEN:$out,creat,trunc"
	sink=$BP_LAST_PID
	bp_wait_peer_listen 5001
	t0=$(date +%s.%N)
	imp_lx timeout 60 socat -u "OPEN:$BP_TMP/in" "TCP:$IMP_PEER_IP:5001" ||
		bp_die "$1: the sender failed"
	wait "$sink" || rc=$?
	imp_forget_pid "$sink"
	[ "$rc" -eq 0 ] || bp_die "$1: the receiver failed (status $rc)"
	t1=$(date +%s.%N)
	got=$(sha256sum <"$out" | cut -d' ' -f1)
	[ "$got" = "$want" ] || bp_die "$1: sha256 differs ($(stat -c %s "$out") of 20971520 bytes arrived)"
	XFER_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

# iperf LABEL SECS: iperf3 from lx to the peer; sets IPERF_MBIT (goodput
# the receiver saw)
iperf() {
	local srv rc=0 json=$BP_TMP/iperf-$1.json
	bp_bg ip netns exec "$IMP_NS_PEER" timeout $(($2 + 30)) iperf3 -s -1 -p 5201 \
		>"$BP_TMP/iperf-srv.log" 2>&1
	srv=$BP_LAST_PID
	bp_wait_peer_listen 5201
	imp_lx timeout $(($2 + 20)) iperf3 -c "$IMP_PEER_IP" -p 5201 -t "$2" -J >"$json" ||
		bp_die "$1: iperf3 failed: $(tail -5 "$json")"
	wait "$srv" || rc=$?
	imp_forget_pid "$srv"
	[ "$rc" -eq 0 ] || bp_log "$1: iperf3 server exited with status $rc"
	IPERF_MBIT=$(python3 -c 'import json, sys
print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' "$json") ||
		bp_die "$1: no goodput in the iperf3 report"
}

# in_band VALUE LOW HIGH: LOW <= VALUE <= HIGH, decimals allowed
in_band() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# the fraction of a direction's IPv4 frames (ARP is never dropped) lost, in %
loss_pct() {
	awk -v d="$(imp_stat "$1" dropped_loss)" -v rx="$(imp_stat "$1" rx)" \
		-v n="$(imp_stat "$1" non_ip)" 'BEGIN { printf "%.2f", (rx > n ? 100 * d / (rx - n) : 0) }'
}

# a TCP counter (/proc/net/snmp, "Tcp:" lines) in a namespace
# shellcheck disable=SC2016 # awk's own $i
tcp_mib() {
	ip netns exec "$1" awk -v key="$2" '$1 == "Tcp:" {
		if (!h) { for (i = 2; i <= NF; i++) name[i] = $i; h = 1 }
		else for (i = 2; i <= NF; i++) if (name[i] == key) print $i }' /proc/net/snmp
}

# (b) determinism: 200 pings, the same seed twice, then another seed.
# Compared: the counters, and which echo requests got which replies.  First,
# so no stray frame of an earlier TCP test gets in the sequence.
ping_run() {
	local seed=$1 tag=$2
	imp_wait_quiet "$IMP_NS_LX" "$IMP_NS_PEER"
	imp_start --seed "$seed" --loss 10% --dup 2% --corrupt 2%
	# no -w: with a deadline, ping sends until it has 200 replies, a
	# number of requests that would depend on timing
	imp_lx timeout 30 ping -n -c 200 -i 0.005 -W 2 "$IMP_PEER_IP" >"$BP_TMP/ping-$tag" 2>&1 || true
	imp_stop || bp_die "bp_impair did not stop cleanly"
	awk '/icmp_seq=/ { match($0, /icmp_seq=[0-9]+/); s = substr($0, RSTART, RLENGTH)
		if ($0 ~ /DUP/) s = s " dup"; if ($0 ~ /BAD CHECKSUM/) s = s " bad"; print s }' \
		"$BP_TMP/ping-$tag" | sort >"$BP_TMP/seqs-$tag"
	local d k
	PING_STATS=""
	# IPv4 frames only: whether ARP was needed depends on the neighbour
	# cache, not on the seed
	for d in a2b b2a; do
		PING_STATS+="$d.ipv4=$(($(imp_stat "$d" rx) - $(imp_stat "$d" non_ip))) "
		for k in dropped_loss dup corrupt; do
			PING_STATS+="$d.$k=$(imp_stat "$d" "$k") "
		done
	done
	[ "$(imp_stat a2b rx)" -ge 200 ] || bp_die "(b) only $(imp_stat a2b rx) frames reached the rig"
}
ping_run 21 one
s1=$PING_STATS
ping_run 21 two
s2=$PING_STATS
ping_run 22 three
s3=$PING_STATS
bp_log "seed 21: $s1"
bp_log "seed 21: $s2"
bp_log "seed 22: $s3"
[ "$s1" = "$s2" ] || bp_die "(b) seed 21 twice, different counters"
cmp -s "$BP_TMP/seqs-one" "$BP_TMP/seqs-two" ||
	bp_die "(b) seed 21 twice, different replies: $(diff "$BP_TMP/seqs-one" "$BP_TMP/seqs-two" | head -5 | xargs)"
! cmp -s "$BP_TMP/seqs-one" "$BP_TMP/seqs-three" || bp_die "(b) seeds 21 and 22 lost the same pings"
echo "ok (b): seed 21 twice: identical counters and replies ($(wc -l <"$BP_TMP/seqs-one") lines);" \
	"seed 22: other ones ($(wc -l <"$BP_TMP/seqs-three") lines)"

# (a) loss
imp_start --seed 11 --loss 5%
xfer loss
imp_stop || bp_die "bp_impair did not stop cleanly"
a2b=$(loss_pct a2b)
b2a=$(loss_pct b2a)
bp_log "$(imp_stats_line a2b)"
bp_log "$(imp_stats_line b2a)"
in_band "$a2b" 3 7 || bp_die "(a) a2b lost $a2b% of its IPv4 frames, want 5% +- 2"
in_band "$b2a" 3 7 || bp_die "(a) b2a lost $b2a% of its IPv4 frames, want 5% +- 2"
echo "ok (a): --loss 5%: 20 MiB sha256 identical in $XFER_SECS s; lost a2b $a2b%" \
	"($(imp_stat a2b dropped_loss) of $(imp_stat a2b rx)), b2a $b2a% ($(imp_stat b2a dropped_loss) of $(imp_stat b2a rx))"

# (c) corruption: the peer's kernel must catch every flipped bit
csum0=$(tcp_mib "$IMP_NS_PEER" InCsumErrors)
imp_start --seed 31 --corrupt 1%
xfer corrupt
imp_stop || bp_die "bp_impair did not stop cleanly"
csum=$(($(tcp_mib "$IMP_NS_PEER" InCsumErrors) - csum0))
bp_log "$(imp_stats_line a2b)"
[ "$(imp_stat a2b corrupt)" -gt 0 ] || bp_die "(c) nothing was corrupted"
[ "$csum" -gt 0 ] || bp_die "(c) the peer saw no TCP checksum errors ($(imp_stat a2b corrupt) frames corrupted)"
echo "ok (c): --corrupt 1%: 20 MiB sha256 identical in $XFER_SECS s; $(imp_stat a2b corrupt) frames" \
	"corrupted towards the peer, its TCP counted $csum checksum errors"

# (d) bottleneck: goodput is the rate less headers (1448 of 1514 bytes)
imp_start --rate 20mbit --queue-pkts 100
iperf rate 5
imp_stop || bp_die "bp_impair did not stop cleanly"
bp_log "$(imp_stats_line a2b)"
in_band "$IPERF_MBIT" 16 24 || bp_die "(d) --rate 20mbit: goodput $IPERF_MBIT Mbit/s, want 20 +- 20%"
echo "ok (d): --rate 20mbit --queue-pkts 100: iperf3 goodput $IPERF_MBIT Mbit/s;" \
	"queue max $(imp_stat a2b max_queue_pkts), avg $(imp_stat a2b avg_queue_pkts), tail drops $(imp_stat a2b dropped_queue)"

# (e) ECN: both Linux ends negotiate ECN (namespaced sysctl), the rig marks
imp_lx sysctl -qw net.ipv4.tcp_ecn=1
ip netns exec "$IMP_NS_PEER" sysctl -qw net.ipv4.tcp_ecn=1
imp_start --rate 20mbit --queue-pkts 200 --ecn-mark-pkts 10
iperf ecn 3
imp_stop || bp_die "bp_impair did not stop cleanly"
bp_log "$(imp_stats_line a2b)"
[ "$(imp_stat a2b ce_marked)" -gt 0 ] || bp_die "(e) no CE marks ($(imp_stats_line a2b))"
echo "ok (e): --ecn-mark-pkts 10 at 20mbit: $(imp_stat a2b ce_marked) frames CE-marked," \
	"goodput $IPERF_MBIT Mbit/s, queue max $(imp_stat a2b max_queue_pkts), tail drops $(imp_stat a2b dropped_queue)"

# (f) idle: no traffic, so bp_impair must sleep in ppoll()
imp_start --rate 20mbit --delay 5ms --loss 1%
[ "$(cat "/proc/$IMP_PID/comm")" = "$(basename "$IMP_BIN" | cut -c1-15)" ] ||
	bp_die "(f) pid $IMP_PID is not bp_impair but $(cat "/proc/$IMP_PID/comm")"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
sleep 0.3
t0=$(cpu_ticks "$IMP_PID")
sleep 2
t1=$(cpu_ticks "$IMP_PID")
imp_stop || bp_die "bp_impair did not stop cleanly"
hz=$(getconf CLK_TCK)
pct=$(awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN { printf "%.1f", 100 * d / hz / 2 }')
in_band "$pct" 0 5 || bp_die "(f) idle bp_impair used $pct% CPU over 2 s"
echo "ok (f): idle bp_impair: $pct% CPU over 2 s"

# (g) delay, reordering, duplication
imp_start --delay 20ms --jitter 2ms
rtt=$(imp_lx timeout 20 ping -n -c 5 -i 0.1 -W 2 "$IMP_PEER_IP" |
	awk '/^rtt/ { split($4, a, "/"); print a[1] }' || true)
imp_stop || bp_die "bp_impair did not stop cleanly"
in_band "${rtt:-0}" 35 80 || bp_die "(g) --delay 20ms each way: ping min RTT ${rtt:-none} ms, want about 40"
imp_start --seed 41 --reorder 2% --dup 1% --delay 1ms --jitter 500us
xfer reorder
imp_stop || bp_die "bp_impair did not stop cleanly"
bp_log "$(imp_stats_line a2b)"
if [ "$(imp_stat a2b reordered)" -eq 0 ] || [ "$(imp_stat a2b dup)" -eq 0 ]; then
	bp_die "(g) no frame was reordered or duplicated"
fi
echo "ok (g): --delay 20ms: min RTT $rtt ms; --reorder 2% --dup 1%: 20 MiB sha256 identical," \
	"$(imp_stat a2b reordered) reordered, $(imp_stat a2b dup) duplicated"

echo "PASS: impairment rig"
