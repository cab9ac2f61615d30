#!/usr/bin/env bash
# iperf3, unmodified, through the shim against iperf3 on Linux, both ways:
# the bytes move, and what iperf3 reads with getsockopt(TCP_INFO) (window,
# RTT, retransmissions) comes from the daemon's view of the connection, as
# it does from the kernel's on Linux, not zeros.
set -euo pipefail
# shellcheck source=tests/integration/shim_lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/shim_lib.sh"
command -v iperf3 >/dev/null || bp_die "iperf3 missing (deploy/install-deps.sh installs it)"
shim_setup bpiship 115
dir=$BP_TMP

# check JSON WHAT: iperf3's report moved data and saw a window and an RTT
check() {
	python3 - "$1" <<'PY' >"$1.txt" 2>&1 || bp_die "$2: $(cat "$1.txt") (report: $1)"
import json, sys
r = json.load(open(sys.argv[1]))
if "error" in r:
    sys.exit("iperf3 error: " + r["error"])
end = r["end"]
sent = end["sum_sent"]["bytes"]
got = end["sum_received"]["bytes"]
# the sending side's own report: ours (-c), or the server's (-R)
snd = r.get("server_output_json", r)
streams = [i["streams"][0] for i in snd["intervals"]]
cwnd = max(st.get("snd_cwnd", 0) for st in streams)
rtt = max(st.get("rtt", 0) for st in streams)
if sent < (8 << 20) or got < (8 << 20):
    sys.exit("moved %d / %d bytes" % (sent, got))
if cwnd <= 0 or rtt <= 0:
    sys.exit("TCP_INFO: snd_cwnd %d, rtt %d us (%s)" % (cwnd, rtt, streams[:1]))
print("%.0f Mbit/s, snd_cwnd up to %d bytes, rtt up to %d us, %d retransmits" %
      (end["sum_received"]["bits_per_second"] / 1e6, cwnd, rtt,
       snd["end"]["sum_sent"].get("retransmits", -1)))
PY
}

bp_bg bp_peer iperf3 -s -p 5201 >"$dir/peer.log" 2>&1
bp_wait_peer_listen 5201
shim_exec timeout 60 iperf3 -c "$BP_PEER_IP" -p 5201 -t 2 -J >"$dir/send.json" 2>&1 ||
	bp_die "iperf3 under the shim, sending, failed: $(cat "$dir/send.json")"
check "$dir/send.json" "iperf3 client under the shim, sending"
echo "ok: iperf3 client under the shim sending: $(cat "$dir/send.json.txt")"

# -4: iperf3 would listen on [::] (the shim takes IPv4 sockets)
shim_run iperf3-server "$dir/srv.log" iperf3 -s -4 -J -p 5202
shim_wait_port 5202
bp_peer timeout 60 iperf3 -c "$BP_IP" -p 5202 -t 2 -R --get-server-output -J >"$dir/recv.json" 2>&1 ||
	bp_die "Linux iperf3 -R against iperf3 under the shim failed: $(cat "$dir/recv.json")"
check "$dir/recv.json" "iperf3 server under the shim, sending (-R)"
echo "ok: iperf3 server under the shim sending (-R): $(cat "$dir/recv.json.txt")"
echo "PASS: iperf3 through the shim"
