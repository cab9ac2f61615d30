#!/usr/bin/env bash
# The bypass demo: build, bring up a two-host topology (network namespaces +
# veth), start fastpathd on a DPDK port, serve HTTP and bulk data from apps
# on libbypass and redis-server through the socket shim, drive them with the
# Linux TCP stack and real tools, report, clean up.
#   sudo ./deploy/demo.sh
set -euo pipefail
case "${1:-}" in -h | --help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root for namespaces and DPDK: sudo $0" >&2; exit 1; }
bash deploy/install-deps.sh
export BYPASS_BUILD_DIR=$ROOT/build-release
echo "== building (Release) into $BYPASS_BUILD_DIR"
mkdir -p "$BYPASS_BUILD_DIR"
{ cmake -S . -B "$BYPASS_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBYPASS_TESTS=OFF &&
	cmake --build "$BYPASS_BUILD_DIR" -j"$(nproc)"; } >"$BYPASS_BUILD_DIR/demo-build.log" 2>&1 ||
	{ tail -30 "$BYPASS_BUILD_DIR/demo-build.log"; echo "demo: build failed (log: $BYPASS_BUILD_DIR/demo-build.log)" >&2; exit 1; }

# shellcheck source=deploy/lib.sh
source deploy/lib.sh
trap bp_cleanup EXIT
# every step below is bounded (timeout), together well under 3 minutes
summary=()
bp_topo_up bpdemo 100
echo "== topology: Linux host $BP_PEER_IP (netns $BP_NS_PEER) <-veth-> fastpathd $BP_IP (netns $BP_NS_DP, DPDK net_af_packet on $BP_DEV)"
bp_start_fastpathd
grep ready "$BP_FP_LOG"
bp_make_tmp
dir=$BP_TMP
BIN=$BP_BUILD/client-lib

echo "== ping from Linux to fastpathd"
out=$(bp_peer ping -c 3 -i 0.2 -W 2 "$BP_IP") || { echo "$out"; bp_die "fastpathd does not answer ping"; }
echo "$out" | tail -2 | sed 's/^/  /'
summary+=("ping      $(echo "$out" | grep -o '[0-9]* received'), rtt min/avg/max $(echo "$out" | sed -n 's|.* = \([^/]*/[^/]*/[^/]*\)/.*|\1|p') ms")

echo "== HTTP: bp_httpd on libbypass, 2000 keep-alive GETs of 1 KiB from the Linux host"
bp_bg "$BIN/bp_httpd" -p 80 >"$dir/httpd.log" 2>&1
bp_wait_listening "$dir/httpd.log"
bp_peer timeout 40 python3 deploy/http_load.py "$BP_IP" 80 2000 4 1024 | tee "$dir/http.txt"
summary+=("http      $(sed -n 's/^ *requests *//p' "$dir/http.txt")")
summary+=("          latency $(sed -n 's/^ *latency *//p' "$dir/http.txt")")
echo "  curl:     $(bp_peer curl -s "http://$BP_IP/" | head -1)"

echo "== bulk: 64 MiB from Linux nc into bpcat on libbypass"
head -c 64M /dev/urandom >"$dir/in"
bp_bg timeout 40 "$BIN/bpcat" -v -l -p 5001 >"$dir/out" 2>"$dir/bpcat.log"
sink=$BP_LAST_PID
bp_wait_listening "$dir/bpcat.log"
bp_peer timeout 40 nc -N "$BP_IP" 5001 <"$dir/in"
wait "$sink"
grep "received" "$dir/bpcat.log" | sed 's/^/  /'
if [ "$(sha256sum <"$dir/in")" = "$(sha256sum <"$dir/out")" ]; then
	echo "  sha256 identical"
else
	bp_die "64 MiB bulk transfer: sha256 DIFFERS"
fi
summary+=("bulk      64 MiB Linux nc -> bpcat, sha256 identical, $(grep -o '[0-9.]* MB/s' "$dir/bpcat.log")")

echo "== redis-server, unmodified, over bypass through the LD_PRELOAD shim"
bp_bg ip netns exec "$BP_NS_DP" env LD_PRELOAD="$BIN/libbypass-shim.so" BYPASS_SOCKET="$BYPASS_SOCKET" \
	redis-server --bind 0.0.0.0 --port 6379 --save '' --appendonly no --protected-mode no \
	--daemonize no --dir "$dir" >"$dir/redis.log" 2>&1
bp_wait_port "$BP_IP" 6379
for p in 1 16; do
	bp_peer timeout 25 redis-benchmark -h "$BP_IP" -q -n 20000 -P "$p" -t set,get 2>&1 |
		tr '\r' '\n' | grep "requests per second" | sed "s/^/  pipeline $p: /" | tee -a "$dir/redis.txt"
done
summary+=("redis     $(awk '{sub(":", "", $2); sub(":", "", $3); printf "%s%s P%s %.0f/s", sep, $3, $2, $4; sep = ", "}' "$dir/redis.txt") (P = pipeline depth)")

echo "== bypassctl status"
"$BP_BUILD/cli/bypassctl" status | grep -E "version|port|local_ip|apps|flows|rx_packets|tx_packets|rx_payload|tx_payload|retransmit|dropped" | sed 's/^/  /'
echo "== summary"
printf '  %s\n' "${summary[@]}"
echo "== done; tearing down the topology"
