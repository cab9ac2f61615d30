# shellcheck shell=bash
# deploy/lib.sh - shared by the demo and the integration tests.
#
# A topology is two network namespaces joined by a veth pair:
#   <name>_dp    the bypass host: its veth end has no kernel IP; fastpathd
#                owns it through DPDK (net_af_packet)
#   <name>_peer  a Linux host: real kernel TCP stack, 198.18.<idx>.2/24
# fastpathd answers as 198.18.<idx>.1.  Nothing leaves these namespaces.
#
# Every process started here is recorded by PID and stopped by PID in
# bp_cleanup, which callers install as an EXIT trap.

BP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BP_BUILD=${BYPASS_BUILD_DIR:-$BP_ROOT/build}
BP_PIDS=()
BP_TOPOS=()
BP_TMP=""

bp_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bp_die() { bp_log "FAIL: $*"; exit 1; }

bp_need_root() {
	[ "$(id -u)" -eq 0 ] || bp_die "needs root (network namespaces, DPDK): run with sudo"
}

# bp_make_tmp: create BP_TMP (removed by bp_cleanup).  Call it directly, not
# in $(...): a subshell's assignment would never reach the cleanup.
bp_make_tmp() {
	[ -n "$BP_TMP" ] || BP_TMP=$(mktemp -d /tmp/bypass-XXXXXX)
}

# bp_topo_up NAME IDX: create the namespaces and veth; sets BP_NS_DP,
# BP_NS_PEER, BP_DEV, BP_IP (fastpathd) and BP_PEER_IP.
bp_topo_up() {
	local name=$1 idx=$2
	BP_NS_DP=${name}_dp
	BP_NS_PEER=${name}_peer
	BP_DEV=${name}0
	BP_PEER_DEV=${name}1
	BP_IP=198.18.$idx.1
	BP_PEER_IP=198.18.$idx.2
	bp_topo_down "$name"
	BP_TOPOS+=("$name")
	ip netns add "$BP_NS_DP"
	ip netns add "$BP_NS_PEER"
	ip link add "$BP_DEV" type veth peer name "$BP_PEER_DEV"
	ip link set "$BP_DEV" netns "$BP_NS_DP"
	ip link set "$BP_PEER_DEV" netns "$BP_NS_PEER"
	local ns dev
	for pair in "$BP_NS_DP:$BP_DEV" "$BP_NS_PEER:$BP_PEER_DEV"; do
		ns=${pair%%:*}
		dev=${pair##*:}
		ip netns exec "$ns" ip link set lo up
		ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
		ip netns exec "$ns" ip link set "$dev" up
		# veth would otherwise hand af_packet frames with unfinished
		# checksums (tx offload) and 64 KiB super-frames (TSO/GSO)
		ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off \
			>/dev/null 2>&1 || bp_die "ethtool -K $dev failed (apt-get install ethtool)"
	done
	ip netns exec "$BP_NS_PEER" ip addr add "$BP_PEER_IP/24" dev "$BP_PEER_DEV"
}

bp_topo_down() {
	local name=$1
	ip netns del "${name}_dp" 2>/dev/null || true
	ip netns del "${name}_peer" 2>/dev/null || true
	ip link del "${name}0" 2>/dev/null || true
}

# run a command on the Linux host
bp_peer() { ip netns exec "$BP_NS_PEER" "$@"; }

# bp_start_fastpathd [extra args]: start fastpathd in the dp namespace and
# wait until it is ready; sets BP_FP_PID and exports BYPASS_SOCKET.
bp_start_fastpathd() {
	bp_make_tmp
	BP_FP_LOG=$BP_TMP/fastpathd.log
	export BYPASS_SOCKET=$BP_TMP/fastpathd.sock
	ip netns exec "$BP_NS_DP" "$BP_BUILD/fastpathd/fastpathd" \
		--port "net_af_packet0,iface=$BP_DEV" --ip "$BP_IP/24" \
		--no-huge --mem 512 --socket "$BYPASS_SOCKET" "$@" >"$BP_FP_LOG" 2>&1 &
	BP_FP_PID=$!
	BP_PIDS+=("$BP_FP_PID")
	local i
	for i in $(seq 300); do
		grep -q "ready" "$BP_FP_LOG" 2>/dev/null && return 0
		kill -0 "$BP_FP_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$BP_FP_LOG" >&2
	bp_die "fastpathd did not become ready"
}

# bp_bg CMD...: start a background job we will stop later; sets BP_LAST_PID.
# The job gets its own process group (monitor mode while spawning), so
# stopping it also stops whatever it started (ip netns exec, shell functions).
bp_bg() {
	set -m
	"$@" &
	BP_LAST_PID=$!
	set +m
	BP_PIDS+=("$BP_LAST_PID")
}

# stop a job we started: its process group if it leads one, else the PID
bp_stop_pid() {
	local pid=$1 i target=$1
	[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] && target=-$pid
	kill -TERM -- "$target" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 -- "$target" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
		sleep 0.1
	done
	kill -KILL -- "$target" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

# wait until TCP port $2 on $1 accepts (seen from the Linux host)
bp_wait_port() {
	local host=$1 port=$2 i
	for i in $(seq 100); do
		bp_peer timeout 1 bash -c "echo -n > /dev/tcp/$host/$port" 2>/dev/null && return 0
		sleep 0.1
	done
	bp_die "nothing listening on $host:$port"
}

# wait until a bypass app prints "listening" into its log
bp_wait_listening() {
	local log=$1 i
	for i in $(seq 100); do
		grep -q "listening" "$log" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$log" >&2
	bp_die "app never started listening (log above)"
}

bp_cleanup() {
	local rc=$? i
	set +e # cleanup must run to the end whatever fails
	for ((i = ${#BP_PIDS[@]} - 1; i >= 0; i--)); do
		bp_stop_pid "${BP_PIDS[$i]}"
	done
	# a sanitizer build of the daemon reports at exit: that is a failure
	if [ -n "${BP_FP_LOG:-}" ] && grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$BP_FP_LOG"; then
		echo "fastpathd sanitizer report:" >&2
		grep -A25 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$BP_FP_LOG" | head -60 >&2
		rc=1
	fi
	for t in "${BP_TOPOS[@]}"; do
		bp_topo_down "$t"
	done
	[ -n "$BP_TMP" ] && rm -rf "$BP_TMP"
	return $rc
}
