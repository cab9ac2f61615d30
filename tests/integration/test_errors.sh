#!/usr/bin/env bash
# Bad input gets a clear error and loses nothing:
#  - no daemon: the app says how to start it
#  - bad config: fastpathd names the field
#  - port already bound: EADDRINUSE
#  - an app SIGKILLed mid-transfer: its peer is reset, the daemon lives on
#  - garbage in an app's queues: rejected, counted, daemon keeps serving
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_make_tmp
dir=$BP_TMP
BIN=$BP_BUILD/client-lib

# no daemon
if BYPASS_SOCKET=$dir/nothing.sock "$BIN/bpcat" 198.18.0.2 1 </dev/null 2>"$dir/err"; then
	bp_die "bpcat succeeded without a daemon"
fi
if ! grep -q "fastpathd" "$dir/err" || ! grep -qi "start" "$dir/err"; then
	bp_die "no-daemon message does not say how to start it: $(cat "$dir/err")"
fi
echo "ok: no daemon -> $(head -1 "$dir/err")"

# bad config
printf '[port]\ndevice = net_null0\nip = 300.1.2.3/24\n' >"$dir/bad.conf"
if "$BP_BUILD/fastpathd/fastpathd" --config "$dir/bad.conf" 2>"$dir/err"; then
	bp_die "fastpathd accepted ip = 300.1.2.3"
fi
grep -q "\[port\] ip" "$dir/err" || bp_die "bad-config error does not name the field: $(cat "$dir/err")"
printf '[tcp]\nmin_rto_ms = soon\n' >"$dir/bad2.conf"
"$BP_BUILD/fastpathd/fastpathd" --config "$dir/bad2.conf" 2>"$dir/err" && bp_die "accepted min_rto_ms = soon"
grep -q "min_rto_ms" "$dir/err" || bp_die "error does not name min_rto_ms: $(cat "$dir/err")"
echo "ok: bad config -> $(cat "$dir/err")"
# descriptors the packet buffers cannot fill: refused at start, naming both
printf '[port]\ndevice = net_null0\nip = 198.18.15.9/24\nrx_desc = 4096\n[fastpath]\nmbufs = 4096\n[eal]\nno_huge = true\nmem_mb = 256\nfile_prefix = bperrdesc\n[daemon]\nsocket = %s\n' \
	"$dir/desc.sock" >"$dir/desc.conf"
if timeout 60 "$BP_BUILD/fastpathd/fastpathd" --config "$dir/desc.conf" 2>"$dir/err"; then
	bp_die "fastpathd started with 4096 receive descriptors and 4096 mbufs"
fi
if ! grep -q "\[fastpath\] mbufs" "$dir/err" || ! grep -q "\[port\] rx_desc" "$dir/err"; then
	bp_die "descriptor error does not name mbufs and rx_desc: $(cat "$dir/err")"
fi
echo "ok: too few mbufs -> $(tail -1 "$dir/err")"

bp_topo_up bpierr 15
bp_start_fastpathd

# port in use
bp_bg "$BIN/bpcat" -l -p 7100 >/dev/null 2>"$dir/l1.log"
bp_wait_listening "$dir/l1.log"
if "$BIN/bpcat" -l -p 7100 </dev/null >/dev/null 2>"$dir/err"; then
	bp_die "second listener on 7100 succeeded"
fi
grep -qi "address already in use" "$dir/err" || bp_die "want EADDRINUSE, got: $(cat "$dir/err")"
echo "ok: port in use -> $(cat "$dir/err")"

# app killed mid-transfer: the Linux sender must see the connection die
bp_bg "$BIN/bpcat" -l -p 7200 >/dev/null 2>"$dir/victim.log"
victim=$BP_LAST_PID
bp_wait_listening "$dir/victim.log"
bp_bg bp_peer timeout 60 python3 -c '
import socket, sys, time
start = time.time()
try:
    s = socket.create_connection((sys.argv[1], 7200), timeout=10)
    s.sendall(b"x" * 65536)
    print("sender: connected", flush=True)  # the app may be killed now
    while time.time() - start < 45:
        s.sendall(b"x" * 65536)
    print("sender: never noticed the app died"); sys.exit(1)
except (ConnectionResetError, BrokenPipeError) as e:
    print("sender: connection reset as expected:", e); sys.exit(0)
' "$BP_IP" >"$dir/sender.log" 2>&1
sender=$BP_LAST_PID
bp_wait_line "$dir/sender.log" "connected" 30 "$sender"
kill -KILL "$victim"
bp_wait_pid "$victim" || true
bp_wait_pid "$sender" || bp_die "the Linux peer was not reset after the app died: $(cat "$dir/sender.log")"
"$BP_BUILD/cli/bypassctl" status >"$dir/status" || bp_die "daemon stopped answering after an app crash"
grep -q "apps" "$dir/status" || bp_die "odd status: $(cat "$dir/status")"
echo "ok: app crash -> peer reset, daemon alive"

# a misbehaving app: garbage doorbells and counters must not hurt the daemon
bp_bg "$BP_BUILD/tests/bp_fuzz_app" -p 7300 >"$dir/fuzz.log" 2>&1
fuzz=$BP_LAST_PID
bp_wait_listening "$dir/fuzz.log"
bp_bg bp_peer timeout 20 bash -c "sleep 10 | nc $BP_IP 7300"
wait "$fuzz" || bp_die "fuzz app: $(cat "$dir/fuzz.log")"
tail -2 "$dir/fuzz.log"
bp_peer ping -c 2 -W 2 "$BP_IP" >/dev/null || bp_die "daemon stopped answering after garbage queue entries"
bad=$(bp_stat status app_bad_queue_entries 0)
[ "${bad:-0}" -gt 0 ] || bp_die "garbage entries were not counted (app_bad_queue_entries=$bad)"
echo "ok: garbage queue entries rejected and counted ($bad)"
echo "PASS: error paths"
