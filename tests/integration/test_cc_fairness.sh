#!/usr/bin/env bash
# Congestion control through a real bottleneck (bp_impair: RATE, a FIFO of
# QUEUE packets, ECN CE-marking above MARK packets), bypass senders against
# Linux receivers:
#  - 2 and 8 bypass flows under DCTCP and under CUBIC converge to fair
#    shares (Jain's index >= 0.9 over the second half of each 20 s run, or
#    for 8 flows no worse than 8 Linux CUBIC flows in the same run, less
#    0.05) and keep the link busy;
#  - DCTCP keeps the bottleneck queue shorter than CUBIC does;
#  - TIMELY's paced flows share fairly too;
#  - one bypass flow and one Linux flow (CUBIC both) share the bottleneck,
#    neither starves (each >= 25% of the link).
set -euo pipefail
source "$(dirname "$0")/impair_lib.sh"
bp_need_root
imp_traps
RATE_MBIT=${BP_CC_RATE_MBIT:-200}
# 0: report shares and queues but do not judge them (the sanitizer pass runs
# an -O0 instrumented daemon, whose timing says nothing about the algorithms)
STRICT=${BP_CC_STRICT:-1}
SECS=${BP_CC_SECONDS:-12}
# the fairness runs (2 and 8 flows) measure over 10 s: eight CUBIC flows'
# sawtooth swings Jain's index 0.90-0.97 over 6 s for Linux and bypass
# alike, and on a host whose CPUs are contended (a busy CI machine) two
# DCTCP flows drift apart for seconds at a time (6 s windows gave
# 0.77-1.00 with a CPU hog beside the test, 10 s windows 0.93-1.00)
SECS_FAIR=${BP_CC_SECONDS_FAIR:-${BP_CC_SECONDS8:-20}}
RUN_SECS=$SECS
QUEUE=300
MARK=30
imp_topo_up bpicc 25
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
sink=$(dirname "$0")/flow_sink.py
flows=$BP_BUILD/tests/bp_flows
[ -x "$flows" ] || bp_die "not built: $flows"
# the Linux sender runs CUBIC without ECN, like a WAN peer (per socket:
# a namespace may only pick from the host's allowed list)
imp_lx sysctl -qw net.ipv4.tcp_ecn=0
bp_peer sysctl -qw net.ipv4.tcp_ecn=2 # answer ECN-setup SYNs
port=7100

# run_sink N OUT: start the receiver for N flows on the next port
run_sink() {
	port=$((port + 1))
	bp_bg bp_peer python3 "$sink" "$port" "$1" "$RUN_SECS" "$2" >>"$dir/sink.log"
	SINK_PID=$BP_LAST_PID
	bp_wait_peer_listen "$port"
}

# report FILE LABEL: "jain=J util=U min_share=M" from the sink's JSON
report() {
	python3 - "$1" "$RATE_MBIT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); rate = float(sys.argv[2]) * 1e6
x = [f["late"] * 8 / d["seconds_late"] for f in d["flows"]]
jain = sum(x) ** 2 / (len(x) * sum(v * v for v in x)) if any(x) else 0
print("flows=%d jain=%.3f util=%.2f min_share=%.2f mbit=%s" % (
    len(x), jain, sum(x) / rate, min(x) / rate, ",".join("%.0f" % (v / 1e6) for v in x)))
PY
}

# share CC N: N bypass flows with CC through the bottleneck; prints the
# report line followed by the queue's average occupancy
share() {
	local cc=$1 n=$2 out=$dir/$1-$2.json line snap
	RUN_SECS=$SECS; [ "$cc" = timely ] || RUN_SECS=$SECS_FAIR
	imp_start --seed 7 --a2b-rate "${RATE_MBIT}mbit" --a2b-queue-pkts "$QUEUE" \
		--a2b-ecn-mark-pkts "$MARK" --stats-file "$dir/$cc-$n.stats"
	run_sink "$n" "$out"
	# what the flows looked like in the measured half, for a failure report
	(sleep "$((RUN_SECS * 3 / 4))"; "$BP_BUILD/cli/bypassctl" flows state established \
		>"$dir/$cc-$n.ss" 2>&1) &
	snap=$!
	"$flows" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:$port" --conns "$n" --cc "$cc" \
		--seconds "$((RUN_SECS + 1))" >"$dir/$cc-$n.flows" || bp_die "bp_flows ($cc x $n) failed"
	wait "$SINK_PID" || bp_die "flow sink failed ($cc x $n)"
	wait "$snap" || true
	imp_stop
	line="$(report "$out") avg_queue=$(imp_stat a2b avg_queue_pkts "$dir/$cc-$n.stats") ce=$(imp_stat a2b ce_marked "$dir/$cc-$n.stats") drops=$(imp_stat a2b dropped_queue "$dir/$cc-$n.stats")"
	echo "$line"
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
ge() { [ "$STRICT" = 0 ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# linux_share N: N Linux CUBIC senders through the same bottleneck, the
# reference for how fair CUBIC's drop-tail sawtooth gets in one run
linux_share() {
	local n=$1 out=$dir/linux-$1.json
	RUN_SECS=$SECS_FAIR
	imp_start --seed 7 --a2b-rate "${RATE_MBIT}mbit" --a2b-queue-pkts "$QUEUE" \
		--a2b-ecn-mark-pkts "$MARK" --stats-file "$dir/linux-$n.stats"
	run_sink "$n" "$out"
	imp_lx timeout "$((RUN_SECS + 10))" python3 -c "
import socket, threading, time
end = time.monotonic() + $RUN_SECS + 1
def send():
    s = socket.socket()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b'cubic')
    s.connect(('$BP_PEER_IP', $port))
    buf = bytes(65536)
    while time.monotonic() < end:
        s.send(buf)
    s.close()
ts = [threading.Thread(target=send) for _ in range($n)]
[t.start() for t in ts]
[t.join() for t in ts]
" || bp_die "Linux senders (cubic x $n) failed"
	wait "$SINK_PID" || bp_die "flow sink failed (linux x $n)"
	imp_stop
	report "$out"
}

# Jain's bar: 0.9, or Linux CUBIC's own index in this run less 0.05 when
# Linux's sawtooth is itself less even than that
line=$(linux_share 8)
echo "linux cubic x 8: $line"
LINUX_JAIN8=$(field jain "$line")
declare -A JAIN_BAR
JAIN_BAR[2]=0.9
JAIN_BAR[8]=$(awk -v l="$LINUX_JAIN8" 'BEGIN { b = l - 0.05; print (b < 0.9 ? b : 0.9) }')

declare -A QUEUE_AVG
for cc in dctcp cubic; do
	for n in 2 8; do
		line=$(share "$cc" "$n")
		echo "$cc x $n: $line"
		ge "$(field jain "$line")" "${JAIN_BAR[$n]}" || {
			cat "$dir/$cc-$n.ss" >&2
			bp_die "$cc x $n: unfair shares, Jain below ${JAIN_BAR[$n]} ($line; Linux cubic x 8: jain=$LINUX_JAIN8)"
		}
		if ! ge "$(field util "$line")" 0.7; then
			# 2 runs of 9 by hand and in CI on 2026-12-08 (none of 3 on
			# the build before): two DCTCP flows sat near half the link
			# for the whole run, queue and marks in range; not diagnosed
			# (README, "Not done yet").  Shown, then measured once more:
			# a second miss fails
			echo "  $cc x $n: bottleneck underused; the flows at 3/4 of the run:"
			sed 's/^/    /' "$dir/$cc-$n.ss"
			line=$(share "$cc" "$n")
			echo "$cc x $n, once more: $line"
			ge "$(field util "$line")" 0.7 && ge "$(field jain "$line")" "${JAIN_BAR[$n]}" || {
				cat "$dir/$cc-$n.ss" >&2
				bp_die "$cc x $n: bottleneck underused, then $line"
			}
		fi
		QUEUE_AVG[$cc-$n]=$(field avg_queue "$line")
		if [ "$cc" = dctcp ]; then
			ge "$(field ce "$line")" 1 || bp_die "dctcp x $n: no CE marks, ECN not in use ($line)"
		fi
	done
done
# TIMELY (paced, RTT-gradient): the pacer keeps the queue short; on this
# software path its RTT noise keeps it well below the link rate.  TIMELY has
# no unique fixed point (Zhu et al., SIGCOMM 2016: "ECN or Delay"), so two
# flows settle at some split, not always an even one (Jain 0.80-1.00 here
# over 15 s): the bar is that neither flow crowds the other out (0.7 is
# about a 4:1 split)
line=$(share timely 2)
echo "timely x 2: $line"
ge "$(field jain "$line")" 0.7 || bp_die "timely x 2: one flow crowds the other out ($line)"
ge "$(field util "$line")" 0.05 || bp_die "timely x 2: flows starved ($line)"
for n in 2 8; do
	ge "${QUEUE_AVG[cubic-$n]}" "$(awk -v d="${QUEUE_AVG[dctcp-$n]}" 'BEGIN { print d * 1.5 }')" ||
		bp_die "x $n: DCTCP's queue (${QUEUE_AVG[dctcp-$n]}) is not clearly shorter than CUBIC's (${QUEUE_AVG[cubic-$n]})"
	echo "ok: $n flows: average queue DCTCP ${QUEUE_AVG[dctcp-$n]} packets, CUBIC ${QUEUE_AVG[cubic-$n]}"
done

# a bypass flow and a Linux flow through the same bottleneck
RUN_SECS=$SECS
imp_start --seed 8 --a2b-rate "${RATE_MBIT}mbit" --a2b-queue-pkts "$QUEUE" --stats-file "$dir/mix.stats"
run_sink 2 "$dir/mix.json"
bp_bg imp_lx timeout "$((SECS + 5))" python3 -c "
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b'cubic')
s.connect(('$BP_PEER_IP', $port))
buf, end = bytes(65536), time.monotonic() + $SECS + 1
while time.monotonic() < end:
    s.send(buf)
"
lx_pid=$BP_LAST_PID
"$flows" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:$port" --conns 1 --cc cubic \
	--seconds "$((SECS + 1))" >"$dir/mix.flows" || bp_die "bp_flows (mix) failed"
wait "$SINK_PID" || bp_die "flow sink failed (mix)"
bp_stop_pid "$lx_pid"
imp_stop
line=$(report "$dir/mix.json")
echo "bypass + linux: $line"
ge "$(field min_share "$line")" 0.25 || bp_die "a flow got less than 25% of the link ($line)"
echo "PASS: fair shares under DCTCP and CUBIC, shorter queues with DCTCP, bypass and Linux coexist"
