#!/usr/bin/env bash
# [apps] hugepages: app regions on huge pages (hugetlbfs).
#  - at start fastpathd says how many huge pages one app's region reserves
#  - an app's region is mapped with huge pages, and a Linux peer's bytes
#    come back exact through it
#  - an app that gives pages of its region back (MADV_REMOVE), then the
#    pool is empty: the daemon's next touch of them would die of SIGBUS;
#    it survives, lets that app go (its peer gets a reset, not a FIN;
#    apps_region_lost), and the other app goes on serving; pages of its
#    receive ring (the peer's data faults), then those of its queues (the
#    daemon's next wake or the peer's FIN faults, nothing unread: only the
#    region's loss resets)
#  - a pool too small for one more region: that app is refused with what
#    to do, and the daemon serves on
#  - a tenant's max_buf_mb counts a huge-page region whole at attach
# vm.nr_hugepages is raised for the test and put back when it ends.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
HP=/proc/sys/vm/nr_hugepages
[ -w "$HP" ] || bp_die "no $HP: this kernel has no huge pages (CONFIG_HUGETLBFS)"
if [ "$(awk '$1 == "Hugepagesize:" { print $2 }' /proc/meminfo)" != 2048 ]; then
	# the sizes below put the punched ring on pages of its own: 2 MiB ones
	echo "SKIP: the default huge page here is not 2 MiB"
	exit 0
fi
HPO=/proc/sys/vm/nr_overcommit_hugepages
hp_orig=$(cat "$HP") hpo_orig=$(cat "$HPO")
finish() {
	local rc=$?
	set +e
	# pages still reserved are given back as their regions go (surplus)
	echo "$hp_orig" >"$HP" || bp_log "could not put vm.nr_hugepages back to $hp_orig"
	echo "$hpo_orig" >"$HPO" || bp_log "could not put vm.nr_overcommit_hugepages back"
	(exit "$rc")
	bp_cleanup
}
trap finish EXIT
bp_make_tmp
dir=$BP_TMP
BIN=$BP_BUILD/client-lib
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
available() { echo $(($(meminfo HugePages_Free) - $(meminfo HugePages_Rsvd))); }

# receive rings of 4 MiB: the punched app's holds a whole huge page, which
# the daemon touches only when its peer's data gets that far
printf '[apps]\nhugepages = true\nmax_flows = 8\nrx_buf = 4194304\ntx_buf = 65536\n' >"$dir/hp.conf"
bp_topo_up bpihuge 152
BP_FP_ARGS=(--config "$dir/hp.conf")
bp_start_fastpathd
per_app=$(sed -n 's/.*each app reserves \([0-9]*\) huge pages.*/\1/p' "$BP_FP_LOG")
[ -n "$per_app" ] || bp_die "fastpathd did not say what an app reserves: $(cat "$BP_FP_LOG")"
echo "ok: fastpathd: $(grep 'each app reserves' "$BP_FP_LOG")"

# room for two apps (never fewer pages than the host had: pages given
# back might not come back), and no surplus pages beyond the pool; the
# punching app takes whatever is left free later
echo 0 >"$HPO"
short=$((2 * per_app - $(available)))
[ "$short" -le 0 ] || echo $(($(cat "$HP") + short)) >"$HP"
[ "$(available)" -ge $((2 * per_app)) ] ||
	bp_die "could not get $((2 * per_app)) huge pages (vm.nr_hugepages $(cat "$HP"))"

# peer_echo PORT BYTES: send BYTES to PORT from Linux, read them back, compare
peer_echo() {
	bp_peer timeout 60 python3 -c '
import os, socket, sys, threading
data = os.urandom(int(sys.argv[3]))
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
got = bytearray()
def read():
    while True:
        b = s.recv(65536)
        if not b:
            break
        got.extend(b)
reader = threading.Thread(target=read)
reader.start()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
reader.join()
sys.exit(0 if bytes(got) == data else "echo differs: %d of %d bytes" % (len(got), len(data)))
' "$BP_IP" "$1" "$2"
}

bp_bg "$BIN/bp_echo" -p 7400 >"$dir/echo.log" 2>&1
echo_pid=$BP_LAST_PID
bp_wait_listening "$dir/echo.log"
awk '/bypass-app/ { r = 1 } r && /KernelPageSize/ { print $2; exit }' "/proc/$echo_pid/smaps" \
	>"$dir/kps"
[ "$(cat "$dir/kps")" = "$(meminfo Hugepagesize)" ] ||
	bp_die "the app's region is not on huge pages: KernelPageSize '$(cat "$dir/kps")' kB"
peer_echo 7400 4194304 || bp_die "4 MiB through the huge-page region did not come back exact"
echo "ok: region on $(cat "$dir/kps") kB pages, 4 MiB echoed exact"

# a tenant's max_buf_mb counts a huge-page region whole, at attach
"$BP_BUILD/cli/bypassctl" tenant set default max_buf_mb 48 >/dev/null
if timeout 10 "$BIN/bpcat" -l -p 7420 </dev/null >/dev/null 2>"$dir/err"; then
	bp_die "a second app's 34 MiB region passed a 48 MiB max_buf_mb beside the first's"
fi
grep -q "max_buf_mb" "$dir/err" ||
	bp_die "quota refusal does not name max_buf_mb: $(cat "$dir/err")"
"$BP_BUILD/cli/bypassctl" tenant set default max_buf_mb 0 >/dev/null
echo "ok: tenant quota -> $(cat "$dir/err")"

# punch_case NAME PORT PUNCH_ARGS PEER_ACTION LOST: an app that hands
# pages of its region back, then takes every free page; when the daemon
# next touches them it must survive, let the app go (LOST apps so far)
# and reset the app's peer, whose PEER_ACTION ("send": 100 bytes into the
# removed receive ring; "fin": a FIN, an event on the removed queues, with
# nothing unread, if the fastpath's next wake did not touch them first;
# then the reset can beat the peer's connect() back) would otherwise end
# in a FIN
punch_case() {
	local name=$1 port=$2 args=$3 action=$4 lost=$5
	bp_bg "$BP_BUILD/tests/bp_region_punch" -p "$port" $args >"$dir/punch-$name.log" 2>&1
	punch_pid=$BP_LAST_PID
	bp_wait_listening "$dir/punch-$name.log"
	bp_bg bp_peer timeout 60 python3 -c '
import errno, os, socket, sys, time
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
except ConnectionResetError as e:
    # ECONNRESET (not ECONNREFUSED) from connect: the handshake was done
    # and the reset came before this process ran again.  Only the queues
    # case may see that: the daemon touches them on any wake, the ring
    # only with data.
    if sys.argv[3] == "send":
        raise
    print("sender: connection reset as expected, before connect() returned:", e)
    sys.exit(0)
for _ in range(300):  # until the app has removed its pages and taken the free ones
    if os.path.exists(sys.argv[4]):
        break
    time.sleep(0.1)
try:
    if sys.argv[3] == "send":
        s.sendall(b"x" * 100)  # one segment, into the removed pages: the daemon faults
    else:
        try:
            s.shutdown(socket.SHUT_WR)  # an event on the removed queues
        except OSError as e:  # the daemon faulted on them first: a reset came
            if e.errno != errno.ENOTCONN:
                raise
    sys.exit("sender: got %r where a reset was due (b\"\" = FIN)" % s.recv(1))
except (ConnectionResetError, BrokenPipeError) as e:
    print("sender: connection reset as expected:", e)
except TimeoutError:
    sys.exit("sender: no reset within 10 s")
' "$BP_IP" "$port" "$action" "$dir/removed-$name" >"$dir/sender-$name.log" 2>&1
	local sender=$BP_LAST_PID
	for _ in $(seq 300); do
		grep -q "removed" "$dir/punch-$name.log" && break
		sleep 0.1
	done
	grep -q "removed" "$dir/punch-$name.log" ||
		bp_die "the punching app did not run: $(cat "$dir/punch-$name.log")"
	[ "$(available)" -eq 0 ] || bp_die "the huge page pool is not empty ($(available) left)"
	touch "$dir/removed-$name" # the peer may act
	bp_wait_pid "$sender" || bp_die "$name: the punching app's peer was not reset:" \
		"$(cat "$dir/sender-$name.log"); $(cat "$dir/punch-$name.log");" \
		"fastpathd: $(tail -3 "$BP_FP_LOG")"
	kill -0 "$BP_FP_PID" 2>/dev/null || bp_die "fastpathd died: $(tail -5 "$BP_FP_LOG")"
	[ "$(grep -c "lost pages of its huge-page region" "$BP_FP_LOG")" -eq "$lost" ] ||
		bp_die "fastpathd did not say it let the app go: $(tail -5 "$BP_FP_LOG")"
	"$BP_BUILD/cli/bypassctl" status >"$dir/status"
	grep -qx "apps_region_lost $lost" "$dir/status" ||
		bp_die "apps_region_lost is not $lost: $(grep apps_region_lost "$dir/status")"
	peer_echo 7400 1048576 || bp_die "the other app stopped serving"
	echo "ok: $name: an app that gave its pages back was let go," \
		"$(cat "$dir/sender-$name.log"); the daemon serves on"
}

punch_case ring 7410 "" send 1
# its own mapping gives the pages back when it goes, and the daemon let
# go of its region: room for the next one
bp_stop_pid "$punch_pid"
bp_forget_pid "$punch_pid"
for _ in $(seq 50); do
	[ "$(available)" -ge "$per_app" ] && break
	sleep 0.1
done
[ "$(available)" -ge "$per_app" ] ||
	bp_die "the let-go app's pages did not come back ($(available) free)"
punch_case queues 7411 --queues fin 2

# no room for one more region: refused, saying what to do
if timeout 10 "$BIN/bpcat" -l -p 7420 </dev/null >/dev/null 2>"$dir/err"; then
	bp_die "an app attached with no huge pages left"
fi
grep -q "vm.nr_hugepages" "$dir/err" || bp_die "refusal does not say what to do: $(cat "$dir/err")"
peer_echo 7400 65536 || bp_die "the daemon stopped serving after a refused attach"
echo "ok: pool empty -> $(cat "$dir/err")"
bp_stop_all || bp_die "fastpathd did not stop cleanly"
echo "PASS"
