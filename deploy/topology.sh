#!/usr/bin/env bash
# Build or remove a two-host test topology by hand:
#   topology.sh up NAME INDEX    namespaces NAME_dp / NAME_peer, veth NAME0/NAME1,
#                                Linux peer 198.18.INDEX.2/24, bypass 198.18.INDEX.1
#   topology.sh down NAME
# `up` prints KEY=VALUE lines for eval: eval "$(topology.sh up bpx 7)".
# NAME: at most 14 letters/digits; `up` refuses a NAME that is in use.
# Then e.g.: ip netns exec NAME_dp fastpathd --port net_af_packet0,iface=NAME0 \
#                --ip 198.18.INDEX.1/24 --no-huge
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/..
source "$(dirname "$0")/lib.sh"
case "${1:-}" in
up)
	[ $# -eq 3 ] || { echo "usage: $0 up NAME INDEX(0-255)" >&2; exit 2; }
	bp_need_root
	BP_TOPO_STRICT=1 # by hand: never replace a topology that is in use
	bp_topo_up "$2" "$3"
	printf '%s\n' "TOPO=$2" "NS_DP=$BP_NS_DP" "NS_PEER=$BP_NS_PEER" "DP_DEV=$BP_DEV" \
		"PEER_DEV=$BP_PEER_DEV" "BYPASS_IP=$BP_IP" "PEER_IP=$BP_PEER_IP" "PREFIX_LEN=24"
	;;
down)
	[ $# -eq 2 ] || { echo "usage: $0 down NAME" >&2; exit 2; }
	bp_need_root
	bp_topo_down "$2"
	;;
-h | --help)
	# the comment block at the top, up to the first line that is not one
	sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
	;;
*)
	echo "usage: $0 up NAME INDEX | down NAME | --help" >&2
	exit 2
	;;
esac
