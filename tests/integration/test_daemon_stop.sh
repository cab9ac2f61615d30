#!/usr/bin/env bash
# Stopping fastpathd leaves nobody hanging:
#  - SIGTERM: every Linux peer of a live connection, whether it closes its
#    side when asked (FIN) or never does, has no connection left within a
#    few seconds ([daemon] stop_drain_ms of orderly closes, then RST);
#  - SIGKILL: the next start on the same control socket works (the stale
#    socket is replaced) and the killed daemon's DPDK runtime directory is
#    removed; a start while a daemon answers on the socket is refused.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_make_tmp
dir=$BP_TMP
BIN=$BP_BUILD/client-lib
bp_topo_up bpistop 43
BP_FP_MEM=256
bp_start_fastpathd

# the Linux peer: 7501 never closes a connection, 7502 closes when its client does
for port in 7501 7502; do
	bp_bg bp_peer python3 -c '
import socket, sys, threading
port, close_on_eof = int(sys.argv[1]), sys.argv[1] == "7502"
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port)); ls.listen(64)
held = []
def serve(c):
    try:
        while c.recv(65536):
            pass
    except OSError:
        return
    if close_on_eof:
        c.close()
    else:
        held.append(c)  # half-closed by the other side: keep ours open
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$port"
	bp_wait_peer_listen "$port"
done

# bypass -> Linux: 3 connections to each server, idle
for port in 7501 7502 7501 7502 7501 7502; do
	bp_bg bash -c "sleep 300 | '$BIN/bpcat' $BP_PEER_IP $port >/dev/null 2>>'$dir/bpcat.log'"
done
# Linux -> bypass: 2 connections into bypass listeners, idle
for port in 7601 7602; do
	bp_bg bash -c "sleep 300 | '$BIN/bpcat' -l -p $port >/dev/null 2>'$dir/listen$port.log'"
	bp_wait_listening "$dir/listen$port.log"
	bp_bg bp_peer bash -c "sleep 300 | nc $BP_IP $port >/dev/null"
done
peer_conns() { # connections of the Linux peer with bypass, by state
	bp_peer ss -Htan "( dst $BP_IP )" | awk '$1 != "LISTEN" {print $1}' | sort | uniq -c | xargs
}
estab() { bp_peer ss -Htn state established "( dst $BP_IP )" | wc -l; }
for i in $(seq 100); do [ "$(estab)" -ge 8 ] && break; sleep 0.1; done
[ "$(estab)" -ge 8 ] || bp_die "only $(estab) of 8 connections came up: $(peer_conns)"
echo "before SIGTERM, the Linux peer has: $(peer_conns)"

t0=${EPOCHREALTIME/./}
kill -TERM "$BP_FP_PID"
st=0
wait "$BP_FP_PID" || st=$?
took=$(((${EPOCHREALTIME/./} - t0) / 1000))
BP_FP_PID=""
echo "fastpathd exited with status $st after $took ms"
grep "stopping" "$BP_FP_LOG" || true
[ "$st" = 0 ] || bp_die "fastpathd exited with status $st on SIGTERM: $(tail -5 "$BP_FP_LOG")"
left=""
end=$((${EPOCHREALTIME/./} + 5000000))
while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
	left=$(peer_conns | sed -E 's/[0-9]+ TIME-WAIT//' | xargs)
	[ -z "$left" ] && break
	sleep 0.1
done
echo "the Linux peer after the stop: ${left:-nothing but TIME-WAIT}"
[ -z "$left" ] || bp_die "the Linux peer still has connections after fastpathd stopped: $left"
echo "ok: SIGTERM closes (FIN, then RST) every connection; nothing ESTABLISHED on the peer"

# ------------------------------------------------------------- SIGKILL
bp_start_fastpathd
killed=$BP_FP_PID
# a second daemon while this one answers on the socket: refused, clearly
if ip netns exec "$BP_NS_DP" "$BP_BUILD/fastpathd/fastpathd" --port "net_af_packet1,iface=$BP_DEV" \
	--ip "$BP_IP/24" --no-huge --mem 128 --socket "$BYPASS_SOCKET" >"$dir/second.log" 2>&1; then
	bp_die "a second fastpathd started on a live daemon's socket"
fi
grep -q "already serving" "$dir/second.log" || bp_die "no clear refusal: $(tail -3 "$dir/second.log")"
grep -qE "Sanitizer|runtime error" "$dir/second.log" &&
	bp_die "the refused daemon's sanitizer report: $(grep -A8 -E "Sanitizer|runtime error" "$dir/second.log")"
echo "ok: a second daemon on a live socket: $(grep "already serving" "$dir/second.log")"
[ -S "$BYPASS_SOCKET" ] || bp_die "the refused daemon removed the live daemon's socket"

rtdir=/var/run/dpdk/fastpathd-$killed
[ -d "$rtdir" ] || bp_die "no DPDK runtime directory $rtdir for the running daemon"
kill -KILL "$killed"
wait "$killed" 2>/dev/null || true
BP_FP_PID=""
[ -S "$BYPASS_SOCKET" ] && [ -d "$rtdir" ] || bp_die "SIGKILL left nothing to clean up?"
echo "after SIGKILL: stale socket $BYPASS_SOCKET and $rtdir"
bp_start_fastpathd # same socket path: must come up
grep "removed $rtdir" "$BP_FP_LOG" || true
[ -d "$rtdir" ] && bp_die "the killed daemon's runtime directory $rtdir is still there"
"$BP_BUILD/cli/bypassctl" status >/dev/null || bp_die "the restarted daemon does not answer"
echo "ok: after SIGKILL the next start replaced the stale socket and removed $rtdir"
echo "PASS: daemon stop"
