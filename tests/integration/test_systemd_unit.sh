#!/usr/bin/env bash
# The systemd unit and example configuration in deploy/systemd, as an
# operator would use them:
#  - systemd-analyze verify accepts the unit cmake configured (ExecStart
#    pointed at this build's fastpathd and a test copy of the file; the
#    man pages it names are looked for only once installed: --man=no);
#  - fastpathd starts from fastpathd.conf.example with its [port] set to
#    this test's veth, hugepages off and the socket in the test's directory,
#    exactly as ExecStart starts it, and bypassctl reaches it there;
#    as Type=notify wants, it sends READY=1 to $NOTIFY_SOCKET once the
#    control socket exists, and STOPPING=1 when told to stop;
#  - ExecReload's SIGHUP re-reads the file: a [tenant] added to it appears,
#    and the daemon keeps serving (a Linux nc's bytes reach bpcat);
#  - SIGTERM (systemctl stop) ends it with status 0 well within the unit's
#    TimeoutStopSec, which covers the longest stop_drain_ms.
# Not covered: systemd itself (no systemd as PID 1 here), so the unit's
# sandboxing is checked by systemd-analyze only.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_make_tmp
dir=$BP_TMP
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
UNIT=$BP_BUILD/deploy/systemd/fastpathd.service
FP=$BP_BUILD/fastpathd/fastpathd
CTL=$BP_BUILD/cli/bypassctl
[ -f "$UNIT" ] || bp_die "no $UNIT: configure and build first (cmake -S . -B build)"
[ -x "$FP" ] && [ -x "$CTL" ] || bp_die "no fastpathd or bypassctl in $BP_BUILD: build first"

# ---- the unit
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
case $exec_start in
*/fastpathd\ --config\ */bypass/fastpathd.conf) ;;
*) bp_die "ExecStart is not 'SBINDIR/fastpathd --config SYSCONFDIR/bypass/fastpathd.conf': $exec_start" ;;
esac
conf_path=${exec_start##* }
grep -q "^AssertPathExists=$conf_path$" "$UNIT" || bp_die "the unit's assertion does not name $conf_path"
grep -q "^RestartPreventExitStatus=2$" "$UNIT" || bp_die "a refused configuration (exit 2) would restart in a loop"
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$UNIT" || bp_die "no ExecReload by SIGHUP"
grep -q '^Type=notify$' "$UNIT" || bp_die "the unit is not Type=notify"
stop_s=$(sed -n 's/^TimeoutStopSec=//p' "$UNIT")
[ -n "$stop_s" ] || bp_die "no TimeoutStopSec in the unit"
# the longest [daemon] stop_drain_ms fastpathd takes (fastpathd/config.c),
# and the resets' 500 ms after it, must fit: a longer one is refused
drain_max=60000
printf '[daemon]\nstop_drain_ms = %s\n' $((drain_max + 1)) >"$dir/long-drain.conf"
rc=0
"$FP" --config "$dir/long-drain.conf" >"$dir/long-drain.log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "stop_drain_ms" "$dir/long-drain.log" ||
	bp_die "stop_drain_ms $((drain_max + 1)) was not refused (exit $rc): the unit's TimeoutStopSec assumes $drain_max at most"
[ $((stop_s * 1000)) -gt $((drain_max + 500)) ] ||
	bp_die "TimeoutStopSec=$stop_s is shorter than the longest stop_drain_ms ($drain_max ms) and its resets"
sed -e "s#^ExecStart=.*#ExecStart=$FP --config $dir/fastpathd.conf#" \
	-e "s#^AssertPathExists=.*#AssertPathExists=$dir/fastpathd.conf#" "$UNIT" >"$dir/fastpathd.service"
if command -v systemd-analyze >/dev/null; then
	# it exits 0 on a key it ignores (unknown, or a value it cannot
	# parse), so anything it says is a failure
	rc=0
	systemd-analyze verify --man=no "$dir/fastpathd.service" >"$dir/verify.log" 2>&1 || rc=$?
	[ "$rc" = 0 ] && [ ! -s "$dir/verify.log" ] ||
		bp_die "systemd-analyze verify (exit $rc) on the unit: $(cat "$dir/verify.log")"
	echo "ok: systemd-analyze verify accepts fastpathd.service ($exec_start)"
else
	echo "note: no systemd-analyze here: the unit's syntax is not verified"
fi

# ---- the example configuration, [port] set as an operator would
bp_topo_up bpisysd 117
sed -e "s#^device = .*#device = net_af_packet0,iface=$BP_DEV#" \
	-e "s#^ip = .*#ip = $BP_IP/24#" -e "/^gateway = /d" \
	-e "s#^mem_mb = .*#mem_mb = 256\nno_huge = true#" \
	-e "s#^socket = .*#socket = $dir/fastpathd.sock#" \
	"$ROOT/deploy/systemd/fastpathd.conf.example" >"$dir/fastpathd.conf"
diff "$ROOT/deploy/systemd/fastpathd.conf.example" "$dir/fastpathd.conf" | sed 's/^/  /' || true
export BYPASS_SOCKET=$dir/fastpathd.sock
log=$dir/fastpathd.log
# systemd's end of the notify protocol: each datagram, and whether the
# control socket existed when it came
bp_bg python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    m = s.recv(4096).decode()
    print(m.replace("\n", " "), "socket=%s" % os.path.exists(sys.argv[2]), flush=True)
' "$dir/notify.sock" "$BYPASS_SOCKET" >"$dir/notify.log" 2>&1
for i in $(seq 50); do grep -q bound "$dir/notify.log" && break; sleep 0.1; done
ip netns exec "$BP_NS_DP" env NOTIFY_SOCKET="$dir/notify.sock" \
	"$FP" --config "$dir/fastpathd.conf" >"$log" 2>&1 &
fp=$!
BP_PIDS+=("$fp")
for i in $(seq 300); do
	grep -q "fastpathd: ready" "$log" && [ -S "$BYPASS_SOCKET" ] && break
	kill -0 "$fp" 2>/dev/null || bp_die "fastpathd exited with the example configuration: $(tail -5 "$log")"
	sleep 0.1
done
"$CTL" status >/dev/null || bp_die "bypassctl cannot reach fastpathd on the file's socket"
for i in $(seq 30); do grep -q "^READY=1" "$dir/notify.log" && break; sleep 0.1; done
grep -q "^READY=1 .* socket=True$" "$dir/notify.log" ||
	bp_die "no READY=1 after the control socket was there: $(cat "$dir/notify.log")"
echo "ok: fastpathd runs from fastpathd.conf.example ([port] set), as ExecStart starts it; READY=1 once its socket is up"

# a service on it, before and after the reload: bpcat takes one
# connection from a Linux nc and writes what came
transfer_once() { # PORT MESSAGE
	bp_bg "$BP_BUILD/client-lib/bpcat" -v -l -p "$1" >"$dir/rx.$1" 2>"$dir/listen.$1.log"
	local pid=$BP_LAST_PID
	bp_wait_listening "$dir/listen.$1.log"
	echo "$2" | bp_peer timeout 10 nc -N "$BP_IP" "$1" >/dev/null || true
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	[ "$(cat "$dir/rx.$1")" = "$2" ] ||
		bp_die "through fastpathd: nc sent '$2', bpcat got '$(cat "$dir/rx.$1")'"
}
transfer_once 7600 before-reload

# ---- ExecReload: SIGHUP re-reads the file's tenants
printf '\n[tenant web]\nuids = nobody\nweight = 3\n' >>"$dir/fastpathd.conf"
kill -HUP "$fp"
for i in $(seq 50); do "$CTL" tenants show web >/dev/null 2>&1 && break; sleep 0.1; done
"$CTL" tenants show web >/dev/null 2>&1 || bp_die "after SIGHUP the file's new tenant web is not there: $(tail -3 "$log")"
kill -0 "$fp" || bp_die "fastpathd died on SIGHUP"
transfer_once 7601 after-reload
echo "ok: SIGHUP (ExecReload) re-read the file: tenant web appeared; a Linux client still gets through"

# ---- systemctl stop: SIGTERM, status 0 within TimeoutStopSec
t0=$SECONDS
bp_stop_pid "$fp"
took=$((SECONDS - t0))
[ "$BP_STOP_STATUS" -eq 0 ] || bp_die "fastpathd exited with status $BP_STOP_STATUS on SIGTERM: $(tail -5 "$log")"
[ "$took" -lt "$stop_s" ] || bp_die "fastpathd took $took s to stop; the unit allows $stop_s"
grep -q "^STOPPING=1" "$dir/notify.log" || bp_die "no STOPPING=1 on SIGTERM: $(cat "$dir/notify.log")"
echo "PASS: the systemd unit and example configuration work as shipped (stopped in ${took} s of ${stop_s})"
