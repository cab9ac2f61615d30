#!/usr/bin/env bash
# ICMP echo and ARP against fastpathd, from the Linux host.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up bpiping 10
bp_start_fastpathd

out=$(bp_peer ping -c 5 -i 0.2 -W 2 "$BP_IP")
echo "$out" | tail -2
echo "$out" | grep -q " 5 received" || bp_die "not every echo request was answered"
mac=$(ip netns exec "$BP_NS_DP" cat "/sys/class/net/$BP_DEV/address")
bp_peer ip neigh show "$BP_IP" | grep -qi "$mac" ||
	bp_die "the Linux host did not learn fastpathd's MAC $mac over ARP"
echo "PASS: ping and ARP"
