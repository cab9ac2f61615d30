#!/usr/bin/env bash
# Offloads against the Linux TCP stack, on net_tap (the one port here whose
# PMD offers checksum offloads and TSO; PCI NICs take the same path):
# fastpathd leaves checksums to the port both ways and hands it frames of
# many segments, and Linux must receive every byte.
#   1. offload = auto: the port took checksums both ways and TSO; a
#      segment with a bad TCP checksum (scapy) is still dropped.
#   2. 64 MiB each way, sha256-checked, with the peer's MSS at 1400 so that
#      frames are cut by the PMD (tx_tso_frames grows).
#   3. the same with 1% of our segments dropped at the peer: losses in the
#      middle of TSO frames are recovered, byte-exact.
#   4. full-size MSS (1460): net_tap refuses TSO frames of such segments
#      (DPDK 22.11-24.11), so those flows send MSS frames, and nothing stalls.
#   5. offload = checksum: checksums offloaded, no TSO frame.
#   6. offload = off: checksums computed by fastpathd, no TSO frame.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up bptso 150
bp_make_tmp
dir=$BP_TMP
# the port is a tap device instead of the veth: the veth stays, unused
bp_peer ip addr flush dev "$BP_PEER_DEV"
tap=${BP_DEV%0}t

# start fastpathd on a tap device, then hand the device to the peer
# namespace: its file descriptor keeps working from there
start_on_tap() {
	printf '[port]\noffload = %s\n' "$1" >"$dir/fp.ini"
	BP_FP_PORT="net_tap0,iface=$tap"
	BP_FP_ARGS=(-c "$dir/fp.ini")
	bp_start_fastpathd
	ip netns exec "$BP_NS_DP" ip link set "$tap" netns "$BP_NS_PEER"
	bp_peer ip addr add "$BP_PEER_IP/24" dev "$tap"
	bp_peer ip link set "$tap" up
	bp_peer ip route replace "${BP_IP%.*}.0/24" dev "$tap" advmss "$2"
	bp_peer ping -c 1 -W 2 "$BP_IP" >/dev/null || bp_die "no ping over the tap port"
}

head -c 64M /dev/urandom >"$dir/in"

# bulk N: N MiB of the file each way
bulk() {
	head -c "${1}M" "$dir/in" >"$dir/part"
	bp_bulk_both_ways "$dir/part" 5001
}

# 1 + 2
start_on_tap auto 1400
grep -q "offload=rx-checksum,tx-checksum,tso" "$BP_FP_LOG" ||
	bp_die "net_tap's checksum and TSO offloads not taken: $(grep ready "$BP_FP_LOG")"
bp_need_scapy
bad0=$(bp_stat status bad_tcp_csum)
bp_peer /usr/bin/python3 -c "from scapy.all import IP, TCP, send
send(IP(dst='$BP_IP') / TCP(sport=40000, dport=5001, flags='S', chksum=0xdead), count=3, verbose=0)"
for _ in $(seq 20); do [ "$(bp_stat status bad_tcp_csum)" -ge $((bad0 + 3)) ] && break; sleep 0.1; done
[ "$(bp_stat status bad_tcp_csum)" -ge $((bad0 + 3)) ] ||
	bp_die "segments with a bad TCP checksum not dropped as such ($(bp_stat status bad_tcp_csum) - $bad0)"
bulk 64
tso=$(bp_stat status tx_tso_frames)
[ "$tso" -gt 100 ] || bp_die "only $tso TSO frames for 64 MiB"
[ "$(bp_stat status tx_prepare_rejected)" = 0 ] || bp_die "the PMD refused $(bp_stat status tx_prepare_rejected) frames"
echo "ok: 64 MiB each way with TSO and checksum offload, $tso TSO frames"

# 3. loss inside TSO frames: Linux drops 1% of what reaches it
bp_peer iptables -I INPUT -p tcp -s "$BP_IP" -m statistic --mode random --probability 0.01 -j DROP
retx0=$(bp_stat status tx_retransmits)
tso0=$(bp_stat status tx_tso_frames)
bulk 16
bp_peer iptables -F INPUT
retx=$(($(bp_stat status tx_retransmits) - retx0))
[ "$retx" -gt 0 ] || bp_die "no retransmission with 1% loss"
[ "$(($(bp_stat status tx_tso_frames) - tso0))" -gt 50 ] || bp_die "no TSO frames under loss"
echo "ok: 16 MiB each way at 1% loss, $retx segments resent"

# 4. full-size MSS: no TSO frame (net_tap would refuse it), still byte-exact
bp_peer ip route replace "${BP_IP%.*}.0/24" dev "$tap"
tso0=$(bp_stat status tx_tso_frames)
bulk 16
[ "$(bp_stat status tx_tso_frames)" = "$tso0" ] || bp_die "TSO frames with a 1460-byte MSS on net_tap"
[ "$(bp_stat status port_tx_errors)" = 0 ] || bp_die "net_tap refused $(bp_stat status port_tx_errors) frames"
echo "ok: 1460-byte MSS sends MSS frames on net_tap"
bp_stop_fastpathd || bp_die "fastpathd did not stop cleanly"

# 5. checksums only
start_on_tap checksum 1400
grep -qE "offload=rx-checksum,tx-checksum$" "$BP_FP_LOG" ||
	bp_die "offload = checksum not honoured: $(grep ready "$BP_FP_LOG")"
bulk 16
[ "$(bp_stat status tx_tso_frames)" = 0 ] || bp_die "TSO frames with offload = checksum"
bp_stop_fastpathd || bp_die "fastpathd did not stop cleanly"

# 6. offloads off
start_on_tap off 1400
grep -q "offload=none" "$BP_FP_LOG" || bp_die "offload = off not honoured: $(grep ready "$BP_FP_LOG")"
bulk 16
[ "$(bp_stat status tx_tso_frames)" = 0 ] || bp_die "TSO frames with offload = off"
echo "PASS: TSO and checksum offload on net_tap: byte-exact both ways, under loss, at full MSS and with offloads off"
