#!/usr/bin/env bash
# An idle fastpathd on a port with no rx interrupts but a kernel socket per
# queue (net_af_packet, net_af_xdp) sleeps on that socket, so a request
# after a quiet spell wakes it at once; timed sleeps let such a request
# wait up to 10 ms (fastpathd/port_wait.c).  For each PMD: the daemon says
# what it sleeps on, requests that each come after a second of silence are
# echoed byte-exact, and the daemon's port_wakeups counter shows the port
# (not a timer) woke it for them.  Then the link goes down and up: the
# daemon must neither spin on the socket's error nor stop serving.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up bpiwake 116
bp_make_tmp
GAPS=6

# one connection; GAPS requests of 64 B, each after 1.3 s of silence (the
# daemon is in its deepest sleep by then); prints each round trip in us
probe() {
	bp_peer timeout -k 5 60 python3 - "$BP_IP" 7000 "${GAPS}" <<'PY'
import os, socket, sys, time
ip, port, gaps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((ip, port), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rtts = []
for _ in range(gaps):
    time.sleep(1.3)
    msg = os.urandom(64)
    t = time.monotonic()
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        part = s.recv(len(msg) - len(got))
        if not part:
            sys.exit("connection closed")
        got += part
    rtts.append((time.monotonic() - t) * 1e6)
    if got != msg:
        sys.exit("echo differs")
s.close()
print(" ".join("%.0f" % r for r in rtts))
PY
}

# CPU time of every thread of process $1 so far, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

for pmd in af_packet af_xdp; do
	BP_FP_PORT="net_${pmd}0,iface=$BP_DEV"
	bp_start_fastpathd
	grep -q "fastpathd: ready port=net_$pmd" "$BP_FP_LOG" ||
		bp_die "fastpathd is not on net_$pmd: $(cat "$BP_FP_LOG")"
	grep -q "core 0: when idle, sleeps on the port's socket" "$BP_FP_LOG" ||
		bp_die "net_$pmd: the daemon does not sleep on the port's socket: $(grep 'when idle' "$BP_FP_LOG")"
	bp_bg env BYPASS_SOCKET="$BYPASS_SOCKET" "$BP_BUILD/bench/bp_echo_srv" --stack bypass -p 7000 \
		>"$BP_TMP/srv-$pmd.log" 2>&1
	srv=$BP_LAST_PID
	bp_wait_listening "$BP_TMP/srv-$pmd.log"
	before=$(bp_stat status port_wakeups)
	[ -n "$before" ] || bp_die "bypassctl status shows no port_wakeups counter"
	rtts=$(probe) || bp_die "net_$pmd: the echo after idle gaps failed"
	after=$(bp_stat status port_wakeups)
	bp_log "net_$pmd: round trips after 1.3 s of silence (us): $rtts; port_wakeups $before -> $after"
	# each request's frames (and the handshake's) end a sleep; timers and
	# kicks may end some first, so ask for half
	[ $((after - before)) -ge $((GAPS / 2)) ] ||
		bp_die "net_$pmd: only $((after - before)) of $GAPS requests after a quiet spell woke the daemon through the port"
	# the link goes down and up: af_packet's socket then holds an error
	# (ENETDOWN) nothing else reads, and an idle daemon that only polled
	# it would be woken at once, for good; it must still sleep, and serve
	ip netns exec "$BP_NS_DP" ip link set "$BP_DEV" down
	sleep 0.3
	ip netns exec "$BP_NS_DP" ip link set "$BP_DEV" up
	sleep 1.5
	t0=$(cpu_ticks "$BP_FP_PID")
	sleep 2
	t1=$(cpu_ticks "$BP_FP_PID")
	tck=$(getconf CLK_TCK)
	bp_log "net_$pmd: idle after the link went down and up: $((t1 - t0)) of $((2 * tck)) ticks"
	[ $((t1 - t0)) -lt $((tck / 2)) ] ||
		bp_die "net_$pmd: an idle daemon used $((t1 - t0)) CPU ticks in 2 s after a link flap (spinning?)"
	w0=$(bp_stat status port_wakeups)
	rtts=$(GAPS=2 probe) || bp_die "net_$pmd: no echo after the link went down and up"
	w1=$(bp_stat status port_wakeups)
	bp_log "net_$pmd: after the flap: $rtts; port_wakeups $w0 -> $w1;" \
		"$(grep -c "socket reported" "$BP_FP_LOG") socket error(s) in the log"
	! grep "sleeping on timers from now on" "$BP_FP_LOG" ||
		bp_die "net_$pmd: the daemon gave up on its port's socket after a link flap"
	[ "$w1" -gt "$w0" ] || bp_die "net_$pmd: after the flap, the port no longer wakes the daemon"
	bp_stop_pid "$srv"
	bp_stop_fastpathd || bp_die "net_$pmd: fastpathd did not stop cleanly"
	echo "ok: net_$pmd: an idle daemon wakes on its port's socket ($((after - before)) wakeups for $GAPS requests)"
done
echo "PASS: idle fastpathd wakes on net_af_packet's and net_af_xdp's sockets"
