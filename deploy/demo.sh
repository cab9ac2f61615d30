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
cmake -S . -B "$BYPASS_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBYPASS_TESTS=OFF >/dev/null
cmake --build "$BYPASS_BUILD_DIR" -j"$(nproc)" >/dev/null

source deploy/lib.sh
trap bp_cleanup EXIT
bp_topo_up bpdemo 100
echo "== topology: Linux host $BP_PEER_IP (netns $BP_NS_PEER) <-veth-> fastpathd $BP_IP (netns $BP_NS_DP, DPDK net_af_packet on $BP_DEV)"
bp_start_fastpathd
grep ready "$BP_FP_LOG"
bp_make_tmp
dir=$BP_TMP
BIN=$BP_BUILD/client-lib

echo "== ping from Linux to fastpathd"
bp_peer ping -c 3 -i 0.2 "$BP_IP" | tail -2

echo "== HTTP: bp_httpd on libbypass, 2000 keep-alive GETs of 1 KiB from the Linux host"
bp_bg "$BIN/bp_httpd" -p 80 >"$dir/httpd.log" 2>&1
bp_wait_listening "$dir/httpd.log"
bp_peer timeout 120 python3 deploy/http_load.py "$BP_IP" 80 2000 4 1024
echo "  curl:     $(bp_peer curl -s "http://$BP_IP/" | head -1)"

echo "== bulk: 64 MiB from Linux nc into bpcat on libbypass"
head -c 64M /dev/urandom >"$dir/in"
bp_bg timeout 120 "$BIN/bpcat" -v -l -p 5001 >"$dir/out" 2>"$dir/bpcat.log"
sink=$BP_LAST_PID
bp_wait_listening "$dir/bpcat.log"
bp_peer timeout 120 nc -N "$BP_IP" 5001 <"$dir/in"
wait "$sink"
grep "received" "$dir/bpcat.log" | sed 's/^/  /'
if [ "$(sha256sum <"$dir/in")" = "$(sha256sum <"$dir/out")" ]; then
	echo "  sha256 identical"
else
	echo "  sha256 DIFFERS" && exit 1
fi

echo "== redis-server, unmodified, over bypass through the LD_PRELOAD shim"
bp_bg ip netns exec "$BP_NS_DP" env LD_PRELOAD="$BIN/libbypass-shim.so" BYPASS_SOCKET="$BYPASS_SOCKET" \
	redis-server --bind 0.0.0.0 --port 6379 --save '' --appendonly no --protected-mode no \
	--daemonize no --dir "$dir" >"$dir/redis.log" 2>&1
bp_wait_port "$BP_IP" 6379
for p in 1 16; do
	bp_peer timeout 120 redis-benchmark -h "$BP_IP" -q -n 20000 -P "$p" -t set,get 2>&1 |
		tr '\r' '\n' | grep "requests per second" | sed "s/^/  pipeline $p: /"
done

echo "== bypassctl status"
"$BP_BUILD/cli/bypassctl" status | grep -E "version|port|local_ip|apps|flows|rx_packets|tx_packets|rx_payload|tx_payload|retransmit|dropped" | sed 's/^/  /'
echo "== done; tearing down the topology"
