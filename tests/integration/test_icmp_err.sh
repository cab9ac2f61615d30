#!/usr/bin/env bash
# ICMP errors from a real Linux router, as Linux's own TCP would take them.
# fastpathd -> router (its route to the far subnet takes 1280-byte packets;
# every link is 1500) -> a Linux host that advertises an MSS of 1460.
#  a) path MTU discovery: our first full-size segments are dropped at the
#     router, which answers "fragmentation needed"; without PMTU discovery
#     the connection hangs there (every resend is as large).  4 MiB reach
#     the far host byte-exact, the MSS is lowered once (bypassctl stats
#     pmtu_lowered), and a connection already open to that host, idle,
#     follows (its mss in bypassctl flows is 1240 before it sends again);
#  b) a second connection starts at the cached size (bypassctl flows mss
#     1240) and c) is not lowered again;
#  d) a connect to a port the far host rejects with ICMP port unreachable
#     fails at once with "Connection refused", and one to an address the
#     router cannot reach with "No route to host", as from a Linux client
#     (Linux fails them at once too; without this, the connect waited out
#     every SYN retry);
#  e) a connect whose SYN runs out of TTL at the router fails at once with
#     "No route to host" (ICMP time exceeded), as from a Linux client;
#  f) a half-open connection whose SYN-ACK the router answers with "host
#     unreachable" is dropped at once (Linux's tcp_req_err()), and the
#     listener serves the next connect;
#  g) a hop of 500 bytes, under IPv4's minimum PMTU: 4 MiB arrive
#     byte-exact in 552-byte packets without DF, which the router fragments
#     (as from Linux; with DF it dropped them all);
#  h) the same hop the other way: the far host's Linux sends us 552-byte
#     packets without DF, which the router cuts in two, and fastpathd puts
#     them together (before, it dropped every fragment and the transfer
#     hung); a 3000-byte ping from the far host is answered in fragments,
#     as the router's Linux answers it.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT

bp_topo_up bpicmp 153
base=${BP_NS_DP%_dp}
FAR_NS=${base}_far # bp_topo_down removes it too
FAR_DEV=${base}r
FAR_IP=198.18.154.2
ROUTER_FAR_IP=198.18.154.1

# the peer namespace is the router; the far host sits behind it
ip netns del "$FAR_NS" 2>/dev/null || true
ip link del "$FAR_DEV" 2>/dev/null || true # a run killed before it moved the veth
ip netns add "$FAR_NS"
ip link add "$FAR_DEV" type veth peer name "${base}f"
ip link set "$FAR_DEV" netns "$BP_NS_PEER"
ip link set "${base}f" netns "$FAR_NS"
bp_peer sysctl -qw net.ipv4.ip_forward=1
bp_peer ip link set "$FAR_DEV" mtu 1500 up
bp_peer ip addr add "$ROUTER_FAR_IP/24" dev "$FAR_DEV"
# the narrow hop: forwarded packets to the far subnet may be 1280 bytes
bp_peer ip route replace 198.18.154.0/24 dev "$FAR_DEV" src "$ROUTER_FAR_IP" mtu lock 1280
ip netns exec "$FAR_NS" ip link set lo up
ip netns exec "$FAR_NS" ip link set "${base}f" mtu 1500 up
ip netns exec "$FAR_NS" ip addr add "$FAR_IP/24" dev "${base}f"
ip netns exec "$FAR_NS" ip route add default via "$ROUTER_FAR_IP"
far() { ip netns exec "$FAR_NS" "$@"; }

BP_FP_ARGS=(--gateway "$BP_PEER_IP")
# net_af_xdp, not net_af_packet: DPDK's packet sockets join a fanout group
# with PACKET_FANOUT_FLAG_DEFRAG, so the kernel would put h)'s fragments
# together before fastpathd saw them (as a NIC never does)
BP_FP_PORT="net_af_xdp0,iface=$BP_DEV"
bp_start_fastpathd
grep -q "fastpathd: ready port=net_af_xdp" "$BP_FP_LOG" ||
	bp_die "fastpathd is not on net_af_xdp: $(cat "$BP_FP_LOG")"
bp_make_tmp
dir=$BP_TMP
head -c 4M /dev/urandom >"$dir/in"
want=$(sha256sum <"$dir/in" | cut -d' ' -f1)
ctl() { "$BP_BUILD/cli/bypassctl" "$@"; }
far_listening() { # $1: port; wait until the far host listens on it
	local i
	for i in $(seq 100); do
		far ss -Htln "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	bp_die "the far host never listened on port $1"
}

send_once() { # $1: port [$2: address]; 4 MiB to the far host, byte-exact, within 60 s
	local port=$1 addr=${2:-$FAR_IP} sink got
	rm -f "$dir/out"
	bp_bg far timeout 90 socat -u "TCP-LISTEN:$port,reuseaddr" "OPEN:$dir/out,creat,trunc"
	sink=$BP_LAST_PID
	far_listening "$port"
	timeout 60 "$BP_BUILD/client-lib/bpcat" "$addr" "$port" <"$dir/in" ||
		bp_die "bpcat to $addr:$port failed or hung (pmtu_lowered=$(bp_stat stats pmtu_lowered 0)," \
			"icmp_errors=$(bp_stat stats icmp_errors 0))"
	bp_wait_pid "$sink" || bp_die "socat on the far host failed"
	got=$(sha256sum <"$dir/out" | cut -d' ' -f1)
	[ "$got" = "$want" ] || bp_die "sha256 differs: sent $want received $got ($(stat -c %s "$dir/out") bytes)"
}

flow_mss() { # $1: the far host's port; that connection's mss in bypassctl flows, or ""
	# the tuple line, then its details: "... mss:1240 cwnd:..."
	ctl flows 2>/dev/null | awk -v r="$FAR_IP:$1" '
		$5 == r { want = 1; next }
		want { for (i = 1; i <= NF; i++) if ($i ~ /^mss:/) print substr($i, 5); want = 0 }' |
		head -1
}
wait_mss() { # $1: port, $2: the mss it must show within 5 s
	local mss="" i
	for i in $(seq 50); do
		mss=$(flow_mss "$1")
		[ "$mss" = "$2" ] && return 0
		sleep 0.1
	done
	bp_die "the connection to port $1 shows mss '$mss' (want $2);" "flows: $(ctl flows 2>&1 | head -5)"
}
hold() { # $1: port; a connection to the far host that sends 1 KiB and waits for release
	rm -f "$dir/held.out" "$dir/held.fifo"
	mkfifo "$dir/held.fifo"
	# long timeouts: they span send_once's transfer on a slow (sanitizer) build
	bp_bg far timeout 240 socat -u "TCP-LISTEN:$1,reuseaddr" "OPEN:$dir/held.out,creat,trunc"
	held_sink=$BP_LAST_PID
	far_listening "$1"
	timeout 240 "$BP_BUILD/client-lib/bpcat" "$FAR_IP" "$1" <"$dir/held.fifo" &
	held=$!
	BP_PIDS+=("$held")
	exec 7>"$dir/held.fifo"
	head -c 1K /dev/zero >&7 || bp_die "the held connection's bpcat is gone"
}
release() { # the held connection sends 64 KiB more, closes, and all 65 KiB arrive
	head -c 64K /dev/zero >&7 || bp_die "the held connection's bpcat is gone"
	exec 7>&-
	bp_wait_pid "$held" || bp_die "the held connection failed"
	bp_wait_pid "$held_sink" || bp_die "the far host's sink failed"
	[ "$(stat -c %s "$dir/held.out")" = $((65 * 1024)) ] ||
		bp_die "the held connection delivered $(stat -c %s "$dir/held.out") bytes (want 66560)"
}

# a) the first connection meets the narrow hop and learns it; one already
# open to the same host, idle, takes the smaller size up with it (as Linux's
# sockets take up their route's MTU), before it sends a full segment
hold 6104
wait_mss 6104 1460
send_once 6101
# the idle one follows at the next pass over the connections (50 ms apart),
# which a fast transfer may finish before
for i in $(seq 40); do
	lowered=$(bp_stat stats pmtu_lowered)
	[ "$lowered" = 2 ] && break
	sleep 0.05
done
icmps=$(bp_stat stats icmp_errors)
[ "$lowered" = 2 ] || bp_die "pmtu_lowered is $lowered 2 s after one connection and one idle" \
	"(want 2: one heard, one followed; icmp_errors $icmps)"
wait_mss 6104 1240
release
bp_log "a) 4 MiB through the 1280-byte hop, byte-exact; the router's ICMP lowered the MSS," \
	"and an idle connection to the host followed"

# b) a connection held open shows the cached size in bypassctl flows
hold 6102
wait_mss 6102 1240
release

# c) and moves 4 MiB without being lowered again
send_once 6103
lowered=$(bp_stat stats pmtu_lowered)
[ "$lowered" = 2 ] || bp_die "pmtu_lowered went to $lowered: a later connection did not start at the cached size"
bp_log "b, c) a later connection started at mss 1240 and moved 4 MiB without a lowering"

# d) connects that a router's or the host's ICMP error ends, against Linux
far iptables -A INPUT -p tcp --dport 6200 -j REJECT --reject-with icmp-port-unreachable ||
	bp_die "iptables in the far host failed (apt-get install iptables)"
refused() { # $1: address, $2: port, $3: the error both must report
	local addr=$1 port=$2 want=$3 t0 t1 out
	out=$(bp_peer timeout 20 socat -u /dev/null "TCP:$addr:$port" 2>&1) &&
		bp_die "Linux connected to $addr:$port"
	[[ $out == *"$want"* ]] || bp_die "Linux's connect to $addr:$port: '$out' (want '$want')"
	t0=$(date +%s.%N)
	out=$(timeout 20 "$BP_BUILD/client-lib/bpcat" "$addr" "$port" </dev/null 2>&1) &&
		bp_die "bpcat connected to $addr:$port"
	t1=$(date +%s.%N)
	[[ $out == *"$want"* ]] || bp_die "bypass's connect to $addr:$port: '$out' (want '$want', as Linux)"
	bp_log "d) $addr:$port: '$want' after $(echo "$t1 - $t0" | bc | cut -c1-4) s, as from Linux"
}
refused "$FAR_IP" 6200 "Connection refused"
# no such host: the router's ARP fails (about 3 s), then it answers host unreachable
refused 198.18.154.9 6201 "No route to host"
# e) a router whose forwarded packets run out of TTL (the router's
# mangle table sets it to 1, as a routing loop would wear it down) answers
# "time exceeded", which ends a connect with EHOSTUNREACH as on Linux; the
# Linux client here is the far host, its SYN crossing the same router
bp_peer iptables -t mangle -A PREROUTING -d 198.18.154.3 -j TTL --ttl-set 1 &&
	bp_peer iptables -t mangle -A PREROUTING -d 198.18.153.77 -j TTL --ttl-set 1 ||
	bp_die "iptables' TTL target failed in the router (kernel module xt_TTL)"
out=$(far timeout 20 socat -u /dev/null "TCP:198.18.153.77:6202" 2>&1) &&
	bp_die "Linux connected through a TTL of 1"
[[ $out == *"No route to host"* ]] ||
	bp_die "Linux's connect through a TTL of 1: '$out' (want 'No route to host')"
t0=$(date +%s.%N)
out=$(timeout 20 "$BP_BUILD/client-lib/bpcat" 198.18.154.3 6202 </dev/null 2>&1) &&
	bp_die "bpcat connected through a TTL of 1"
t1=$(date +%s.%N)
[[ $out == *"No route to host"* ]] ||
	bp_die "bypass's connect through a TTL of 1: '$out' (want 'No route to host', as Linux)"
bp_log "e) time exceeded: 'No route to host' after $(echo "$t1 - $t0" | bc | cut -c1-4) s, as from Linux"
failed=$(bp_stat stats icmp_connects_failed)
[ "$failed" = 3 ] || bp_die "icmp_connects_failed is $failed (want 3)"

# f) a SYN-ACK the router cannot deliver: it answers "host unreachable" (as
# when the route back is withdrawn), which drops the half-open connection at
# once, as Linux's tcp_req_err() does, instead of holding it through every
# SYN-ACK resend; the far host's SYN resends meet the same fate
bp_peer iptables -A FORWARD -p tcp --sport 6203 --tcp-flags SYN,ACK SYN,ACK \
	-j REJECT --reject-with icmp-host-unreachable
bp_bg timeout 60 "$BP_BUILD/client-lib/bpcat" -l -p 6203 </dev/null >"$dir/f.out" 2>"$dir/f.log"
f_listener=$BP_LAST_PID
bp_wait_listening "$dir/f.log"
far timeout 5 socat -u /dev/null "TCP:$BP_IP:6203,connect-timeout=2" 2>/dev/null &&
	bp_die "the far host connected through a router that rejects our SYN-ACKs"
dropped=$(bp_stat stats icmp_half_open_dropped)
[ "$dropped" -ge 1 ] || bp_die "icmp_half_open_dropped is $dropped after the router's host unreachable"
flows=$(ctl flows 2>&1) || bp_die "bypassctl flows failed: $flows"
half=$(grep -c "half-open" <<<"$flows") || true
[ "$half" = 0 ] || bp_die "$half half-open connections held after the router said the host is gone:" \
	"$(ctl flows 2>&1 | head -4)"
bp_peer iptables -D FORWARD -p tcp --sport 6203 --tcp-flags SYN,ACK SYN,ACK \
	-j REJECT --reject-with icmp-host-unreachable
echo hello | far timeout 10 socat -u - "TCP:$BP_IP:6203" || bp_die "the far host's later connect failed"
bp_wait_pid "$f_listener" || bp_die "bpcat -l failed: $(cat "$dir/f.log")"
[ "$(cat "$dir/f.out")" = hello ] || bp_die "the listener read '$(cat "$dir/f.out")' (want hello)"
bp_log "f) $dropped half-open connection(s) dropped by the router's host unreachable; the listener serves"

# g) a hop narrower than IPv4's minimum PMTU (500 bytes to a second address
# of the far host): its "fragmentation needed" counts as 552, and, as from
# Linux (which locks the route's MTU at min_pmtu), our 552-byte packets go
# without DF so the router fragments them; with DF they were all dropped
far ip addr add 198.18.154.5/24 dev "${base}f"
bp_peer ip route replace 198.18.154.5/32 dev "$FAR_DEV" src "$ROUTER_FAR_IP" mtu lock 500
reasm0=$(far nstat -az IpReasmOKs | awk '/IpReasmOKs/ { print $2 }')
send_once 6105 198.18.154.5
reasm=$(( $(far nstat -az IpReasmOKs | awk '/IpReasmOKs/ { print $2 }') - reasm0 ))
[ "$reasm" -gt 1000 ] || bp_die "the far host reassembled $reasm datagrams from 4 MiB (want thousands)"
bp_log "g) 4 MiB byte-exact through a 500-byte hop: 552-byte packets without DF, $reasm reassembled"

# h) fragments to us: the router's route to our address takes 500 bytes,
# so the far host's Linux hears "fragmentation needed" for 500, locks its
# route at 552 and sends without DF; the router fragments each packet
bp_peer ip route replace "$BP_IP/32" dev "$BP_PEER_DEV" mtu lock 500
reasm0=$(bp_stat stats ip_reassembled 0)
bp_bg timeout 90 "$BP_BUILD/client-lib/bpcat" -l -p 6106 >"$dir/h.out" 2>"$dir/h.log"
h_listener=$BP_LAST_PID
bp_wait_listening "$dir/h.log"
far timeout 60 socat -u "OPEN:$dir/in" "TCP:$BP_IP:6106" ||
	bp_die "the far host's 4 MiB through the 500-byte hop failed or hung:" \
		"$(ctl stats 2>&1 | grep -E "^ip_")"
bp_wait_pid "$h_listener" || bp_die "bpcat -l failed: $(cat "$dir/h.log")"
got=$(sha256sum <"$dir/h.out" | cut -d' ' -f1)
[ "$got" = "$want" ] || bp_die "sha256 differs through the 500-byte hop to us: sent $want" \
	"received $got ($(stat -c %s "$dir/h.out") bytes)"
reasm=$(( $(bp_stat stats ip_reassembled) - reasm0 ))
[ "$reasm" -gt 1000 ] || bp_die "fastpathd reassembled $reasm datagrams from 4 MiB (want thousands):" \
	"$(ctl stats 2>&1 | grep -E "^ip_")" "$(far ip route get "$BP_IP")"
failed=$(bp_stat stats ip_reassembly_failed 0)
[ "$failed" = 0 ] || bp_die "ip_reassembly_failed is $failed on a clean path (want 0)"
# a ping larger than the MTU: the far host sends it in fragments and takes
# our answer only if its fragments fit together; the router answers the same
far timeout 20 ping -c 3 -i 0.2 -W 5 -s 3000 "$ROUTER_FAR_IP" >/dev/null ||
	bp_die "the router's Linux did not answer a 3000-byte ping"
out=$(far timeout 20 ping -c 3 -i 0.2 -W 5 -s 3000 "$BP_IP" 2>&1) ||
	bp_die "fastpathd did not answer a 3000-byte ping: $out"
[[ $out == *"3 received"* ]] || bp_die "fastpathd answered a 3000-byte ping: $out (want 3 received)"
bp_log "h) 4 MiB byte-exact from the far host through the 500-byte hop, $reasm datagrams" \
	"reassembled; a 3000-byte ping answered in fragments, as the router's Linux answers it"

echo "PASS: ICMP errors through a Linux router: PMTU discovery over a 1280-byte hop" \
	"(2 x 4 MiB byte-exact, one MSS lowering from $(bp_stat stats icmp_errors) ICMP, followed by an open connection," \
	"later connections start at mss 1240); connects refused, unreachable and out of TTL" \
	"as on Linux; half-open connections dropped when the route back is gone; a 500-byte hop" \
	"served by fragmentable packets both ways"
