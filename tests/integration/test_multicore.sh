#!/usr/bin/env bash
# The multi-core fastpath carries real traffic.  For fastpathd --cores 2
# and --cores 4 (threads may share the CPUs):
#   a) 1,000 Linux connections to a bypass echo server, all open at the same
#      time, each echoing its own payload, byte-exact, within 120 s;
#   b) BP_MC_MIB (64) MiB each way over 8 connections at once: 4 Linux
#      connections to the echo server (full duplex) and 4 that bypass apps
#      (bpcat) dial out to Linux; every stream is compared byte for byte
#      with what was sent, so per-connection order is checked too;
#   c) after each: `bypassctl stats` shows flow_wrong_core 0 (no packet of a
#      flow went to a core that does not own it) and core<k>.rx_pkts > 0
#      for every core k (flows are spread over the cores).
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
# shellcheck source=tests/integration/mc_lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/mc_lib.sh"
mc_setup
mc_conf "$BP_TMP/fastpathd.ini"

bytes=$((MC_MIB * 1024 * 1024 / 8))
for n in 2 4; do
	bp_topo_up bpimc$n $((60 + n))
	mc_start_daemon "$n" --config "$BP_TMP/fastpathd.ini"
	mc_start_echo

	mc_echo_conns 1000 16384 120 "cores=$n, 1000 connections"
	mc_check_cores "$n" "cores=$n after 1000 connections"

	s=$(mc_stats) || exit 1
	read -ra rx0 <<<"$(mc_core_rx "$s" "$n")"
	mc_bulk_start 4 4 "$bytes" 240
	mc_bulk_wait "cores=$n, $MC_MIB MiB each way"
	# which cores carried the 8 streams (for the log: 8 hashed flows may
	# leave a core of 4 without one)
	s=$(mc_stats) || exit 1
	read -ra rx1 <<<"$(mc_core_rx "$s" "$n")"
	line=""
	for ((k = 0; k < n; k++)); do line+=" core$k +$((rx1[k] - rx0[k]))"; done
	bp_log "cores=$n: packets received per core during the streams:$line"
	mc_check_cores "$n" "cores=$n after $MC_MIB MiB each way"

	mc_stop_daemon "cores=$n"
	bp_topo_down "${BP_NS_DP%_dp}"
done
echo "PASS: cores 2 and 4: 1000 concurrent connections and $MC_MIB MiB each way over 8 connections byte-exact, flow_wrong_core 0, every core received packets"
