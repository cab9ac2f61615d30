#!/usr/bin/env bash
# No control-socket client can stall the slowpath thread.  While one client
# drips a frame one byte every 0.8 s and another holds 20,000 idle
# connections, a Linux peer's TCP handshake to a bypass listener, a new
# attach and `bypassctl status` each complete within 100 ms; the slowpath
# does not spin; with the daemon out of descriptors (EMFILE on accept, on
# the control socket and the metrics listener) it does not spin either; everything recovers once the hostile clients leave.
# Also: an app name with a newline cannot forge a daemon log line, nor one
# with escape sequences reach the terminal of an operator listing apps.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up bpctlhost 46
bp_make_tmp
dir=$BP_TMP
MPORT=9471 # the metrics listener: out of descriptors, it must not spin either
printf '[metrics]\nlisten = 127.0.0.1:%s\n' $MPORT >"$dir/fp.conf"
BP_FP_ARGS=(--config "$dir/fp.conf")
bp_start_fastpathd
# The machine running the suite is shared and often loaded many times over
# (CPU pressure near 100%): the daemon, the echo app and the measuring
# clients run SCHED_FIFO (the hostile clients do not), so what is measured
# is whether a client can stall the daemon, not the scheduler's queue.  The
# daemon's threads block when idle, so this takes no CPU from anyone else.
for t in /proc/"$BP_FP_PID"/task/*; do chrt -f -p 10 "${t##*/}" >/dev/null; done
FAST="chrt -f 10"
HERE=$(cd "$(dirname "$0")" && pwd)
PY="python3 $HERE/ctl_hostile.py"
PYF="$FAST python3 $HERE/ctl_hostile.py"
CTL=$BP_BUILD/cli/bypassctl
LIMIT_MS=${CTL_HOSTILE_LIMIT_MS:-100}
PORT=7460

bp_bg $FAST "$BP_BUILD/client-lib/bp_echo" -p $PORT >"$dir/echo.log" 2>&1
bp_wait_listening "$dir/echo.log"

# CPU seconds the slowpath thread used so far
sp_cpu() {
	local t
	for t in /proc/"$BP_FP_PID"/task/*; do
		if [ "$(cat "$t/comm" 2>/dev/null)" = slowpath ]; then
			awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "$t/stat"
			return
		fi
	done
	echo 0
}

# check_ops WHAT: a handshake, an attach and a status within LIMIT_MS (a
# sample over it is measured again, at most 3 times in all: the CI machine
# is shared, and a stall lasts seconds, so it fails every time; see
# ctl_hostile.py measure())
check_ops() {
	local what=$1 hs at st v
	hs=$(bp_peer timeout 60 $PYF handshake "$BP_IP" $PORT 20 "$LIMIT_MS" 2>>"$dir/samples") ||
		bp_die "$what: handshakes failed"
	at=$(timeout 60 $PYF attach "$BYPASS_SOCKET" 10 "$LIMIT_MS" 2>>"$dir/samples") ||
		bp_die "$what: attach failed"
	st=$(timeout 60 $PYF status "$BYPASS_SOCKET" 10 "$LIMIT_MS" 2>>"$dir/samples") ||
		bp_die "$what: status failed"
	# and the real tool, whose time is mostly exec() on a loaded machine
	local t0 t1
	t0=$(date +%s%N)
	$FAST timeout 10 "$CTL" status >/dev/null || bp_die "$what: bypassctl status failed"
	t1=$(date +%s%N)
	echo "$what: slowest (ms, limit $LIMIT_MS; raw slowest, samples re-measured):" \
		"20 handshakes ${hs// /, }; 10 attaches ${at// /, }; 10 status requests ${st// /, };" \
		"bypassctl status process $(( (t1 - t0) / 1000000 )) ms"
	for v in "${hs%% *}" "${at%% *}" "${st%% *}"; do
		awk -v v="$v" -v l="$LIMIT_MS" 'BEGIN { exit !(v < l) }' ||
			bp_die "$what: an operation took ${v} ms, over ${LIMIT_MS} ms (handshake, attach," \
				"status samples: $(tail -3 "$dir/samples"))"
	done
}


check_ops "quiet daemon"

# ---- the hostile clients
bp_bg $PY drip "$BYPASS_SOCKET" 40 >"$dir/drip.log" 2>&1
drip=$BP_LAST_PID
# 20,000 idle connections from two processes (a process may have to make
# do with a hard limit of 20,000 descriptors)
holds=()
for i in 1 2; do
	bp_bg $PY hold "$BYPASS_SOCKET" 10000 25 "$dir/held$i" >"$dir/hold$i.log" 2>&1
	holds+=("$BP_LAST_PID")
done
for _ in $(seq 900); do
	[ -s "$dir/held1" ] && [ -s "$dir/held2" ] && break
	sleep 0.1
done
cat "$dir/hold1.log" "$dir/hold2.log"
held=$(( $(cat "$dir/held1" 2>/dev/null || echo 0) + $(cat "$dir/held2" 2>/dev/null || echo 0) ))
sleep 2 # the dripping client is mid-frame now

c0=$(sp_cpu)
sleep 3
c1=$(sp_cpu)
cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
echo "slowpath CPU over 3 s with 20,000 idle connections and a drip: ${cpu} s"
awk -v c="$cpu" 'BEGIN { exit !(c < 0.3) }' || bp_die "the slowpath spins: ${cpu} s of CPU in 3 s"

check_ops "under attack"
[ "$held" -ge 20000 ] || bp_die "only $held of 20000 idle connections got through connect()"
pending=$(bp_stat status ctl_pending)
echo "daemon-side connections not attached: $pending (cap 256)"
[ "${pending:-999}" -le 256 ] || bp_die "the daemon holds $pending unattached connections"

bp_stop_pid "${holds[0]}"
bp_stop_pid "${holds[1]}"
bp_stop_pid "$drip"
cat "$dir/drip.log"
ft=$(bp_stat status ctl_frame_timeouts)
ev=$(bp_stat status ctl_evicted)
echo "frame timeouts $ft, evicted $ev"
[ "${ft:-0}" -ge 1 ] || bp_die "the dripping client was never cut off"

# ---- recovery: idle connections time out, everything answers
for _ in $(seq 100); do
	[ "$(bp_stat status ctl_pending)" -le 1 ] && break
	sleep 0.1
done
[ "$(bp_stat status ctl_pending)" -le 1 ] || bp_die "$(bp_stat status ctl_pending) connections still pending after the attack"
check_ops "after the attack"

# ---- out of descriptors: accept fails with EMFILE, the thread must not spin
nfd=$(find /proc/"$BP_FP_PID"/fd -mindepth 1 | wc -l)
hard=$(awk '/Max open files/ { print $5 }' /proc/"$BP_FP_PID"/limits)
prlimit --pid "$BP_FP_PID" --nofile=$((nfd + 16)):"$hard" # the soft limit only
rm -f "$dir/held"
bp_bg $PY hold "$BYPASS_SOCKET" 300 8 "$dir/held" >"$dir/hold3.log" 2>&1
hold=$BP_LAST_PID
for _ in $(seq 300); do
	[ -s "$dir/held" ] && break
	sleep 0.1
done
# a scraper knocks too: its connection waits in the metrics listener's queue
bp_bg ip netns exec "$BP_NS_DP" python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
print("connected", flush=True); time.sleep(4)' $MPORT >"$dir/knock.log" 2>&1
knock=$BP_LAST_PID
for _ in $(seq 100); do grep -q connected "$dir/knock.log" && break; sleep 0.1; done
grep -q connected "$dir/knock.log" || bp_die "the metrics knock did not connect: $(cat "$dir/knock.log")"
c0=$(sp_cpu)
sleep 3
c1=$(sp_cpu)
cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
echo "slowpath CPU over 3 s out of descriptors: ${cpu} s"
prlimit --pid "$BP_FP_PID" --nofile="$hard":"$hard"
bp_stop_pid "$hold"
bp_stop_pid "$knock"
cat "$dir/hold3.log"
awk -v c="$cpu" 'BEGIN { exit !(c < 0.3) }' || bp_die "the slowpath spins on EMFILE: ${cpu} s of CPU in 3 s"
refused=$("$CTL" metrics | awk '$1 == "bypass_metrics_http_dropped_total{reason=\"refused\"}" { print $2 }')
[ "${refused:-0}" -ge 1 ] || bp_die "the metrics listener never hit the descriptor limit (test setup)"
echo "metrics accepts paused on EMFILE: $refused"
ae=$(bp_stat status ctl_accept_errors)
echo "accept errors (EMFILE) counted: $ae"
[ "${ae:-0}" -ge 1 ] || bp_die "the descriptor limit was never hit (test setup)"
check_ops "after EMFILE"

# ---- an app name cannot forge a log line
$PY attach "$BYPASS_SOCKET" 1 10000 $'x\n[fastpathd] forged' >/dev/null
for _ in $(seq 50); do
	grep -qF 'x\n[fastpathd] forged' "$BP_FP_LOG" && break
	sleep 0.1
done
grep -qF 'x\n[fastpathd] forged' "$BP_FP_LOG" || bp_die "the escaped name is not in the log: $(tail -5 "$BP_FP_LOG")"
if grep -q '^\[fastpathd\] forged' "$BP_FP_LOG"; then
	bp_die "an app name forged a log line: $(grep -n -B1 '^\[fastpathd\] forged' "$BP_FP_LOG")"
fi
echo "log: $(grep -F 'x\n[fastpathd] forged' "$BP_FP_LOG" | head -1)"

# ---- nor put escape sequences on the terminal of an operator who lists apps
bp_bg $PY attach-hold "$BYPASS_SOCKET" $'evil\e]0;owned\a\e[2Jname' 30 >"$dir/evil.log" 2>&1
evil=$BP_LAST_PID
for _ in $(seq 300); do grep -q attached "$dir/evil.log" && break; sleep 0.1; done
grep -q attached "$dir/evil.log" || bp_die "the app with escapes in its name never attached: $(cat "$dir/evil.log")"
out=$("$CTL" apps) || bp_die "bypassctl apps failed"
grep -qF 'evil\x1b]0;owned\x07\x1b[2Jname' <<<"$out" || bp_die "the app is not listed escaped: $out"
if grep -q $'\e' <<<"$out"; then bp_die "bypassctl apps printed an app's escape sequence"; fi
bp_stop_pid "$evil"
echo "apps: $(grep -F 'evil' <<<"$out")"
echo "PASS: control socket survives hostile clients"
