#!/usr/bin/env bash
# RFC 5961 against a real Linux client and crafted packets: scapy, on the
# Linux peer, injects into a live connection to bp_echo (libbypass) an
# in-window RST off rcv_nxt, a SYN, and data whose ACK covers bytes never
# sent (and one far too old).  Each must get a challenge ACK, never an RST;
# the connection must still echo both ways and the injected bytes must
# never reach the app (tests/integration/rfc5961_probe.py).  Then RSTs
# against a server's TIME_WAIT (tests/integration/tw_rst_probe.py, against
# bp_httpd, which closes first after an HTTP/1.0 answer): one off RCV.NXT
# is ignored, one exactly at it ends TIME_WAIT, as Linux does by default;
# the same probes against Python's http.server on Linux must give the same
# outcome.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_need_scapy
bp_topo_up bprfc5961 61
bp_make_tmp
dir=$BP_TMP
# TIME_WAIT long enough for the probes (Linux holds it 60 s)
printf '[tcp]\ntime_wait_ms = 30000\n' >"$dir/fastpathd.ini"
BP_FP_ARGS=(--config "$dir/fastpathd.ini")
bp_start_fastpathd

bp_bg "$BP_BUILD/client-lib/bp_echo" -p 7001 2>"$dir/echo.log"
bp_wait_listening "$dir/echo.log"
before=$(bp_stat status tcp_challenge_acks 0)
bp_peer timeout 60 /usr/bin/python3 "$(dirname "$0")/rfc5961_probe.py" "$BP_PEER_DEV" "$BP_IP" 7001 ||
	{ "$BP_BUILD/cli/bypassctl" status >&2 || true; bp_die "RFC 5961 probes (output above)"; }
after=$(bp_stat status tcp_challenge_acks 0)
bp_log "daemon counted $((${after:-0} - ${before:-0})) challenge ACKs"
[ "$((${after:-0} - ${before:-0}))" -ge 4 ] || bp_die "bypassctl status shows fewer than 4 challenge ACKs"

bp_bg "$BP_BUILD/client-lib/bp_httpd" -p 7002 >"$dir/httpd.log" 2>&1
bp_wait_listening "$dir/httpd.log"
bp_peer timeout 60 /usr/bin/python3 "$(dirname "$0")/tw_rst_probe.py" "$BP_PEER_DEV" "$BP_IP" 7002 \
	>"$dir/tw_bypass.log" 2>&1 || { cat "$dir/tw_bypass.log" >&2; bp_die "TIME_WAIT RST probes"; }
cat "$dir/tw_bypass.log"
tw_bypass=$(sed -n 's/^outcome: //p' "$dir/tw_bypass.log")

# the same probes against a Linux server, for comparison (reported only):
# a second topology whose "bypass" side is a plain kernel stack
bp_topo_up bprfclinux 64
ip netns exec "$BP_NS_DP" ip addr add "$BP_IP/24" dev "$BP_DEV"
# linux_listening PORT: wait (5 s at most) until the Linux server listens
linux_listening() {
	for _ in $(seq 50); do
		ip netns exec "$BP_NS_DP" ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	bp_die "nothing listens on port $1 in $BP_NS_DP"
}
bp_bg ip netns exec "$BP_NS_DP" timeout 60 socat TCP-LISTEN:7001,reuseaddr,fork EXEC:cat
linux_listening 7001
bp_log "the same probes against Linux (for comparison, not checked):"
bp_peer timeout 60 /usr/bin/python3 "$(dirname "$0")/rfc5961_probe.py" "$BP_PEER_DEV" "$BP_IP" 7001 \
	--report >&2 || bp_log "Linux: the probe run failed (see above)"
bp_bg ip netns exec "$BP_NS_DP" timeout 120 python3 -m http.server 7002 --bind 0.0.0.0 \
	--directory "$dir" >"$dir/http_linux.log" 2>&1
linux_listening 7002
bp_log "the TIME_WAIT probes against Linux (must give bypass's outcome):"
bp_peer timeout 60 /usr/bin/python3 "$(dirname "$0")/tw_rst_probe.py" "$BP_PEER_DEV" "$BP_IP" 7002 \
	>"$dir/tw_linux.log" 2>&1 || true
cat "$dir/tw_linux.log"
tw_linux=$(sed -n 's/^outcome: //p' "$dir/tw_linux.log")
[ "$tw_linux" = "$tw_bypass" ] ||
	bp_die "TIME_WAIT probes: bypass $tw_bypass, Linux ${tw_linux:-none} (see above)"
bp_log "TIME_WAIT probes: bypass and Linux both $tw_bypass"
echo "PASS: RFC 5961 probes from a Linux peer; RSTs against TIME_WAIT as Linux"
