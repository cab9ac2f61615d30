# shellcheck shell=bash
# tests/integration/impair_lib.sh - a wire-impairment rig between the bypass
# host and a Linux peer, for tests that need loss, corruption, reordering,
# delay, a bottleneck or ECN marks (the kernel here has no netem).
#
#   <name>_dp    bypass host: <n>d, no kernel IP; fastpathd is 198.18.<idx>.1
#   <name>_lx    a Linux host beside it: <n>l, 198.18.<idx>.3
#   <name>_rig   bridge <n>br joining <n>dr (to dp), <n>lr (to lx) and
#                <n>bx, whose veth peer <n>ia is bp_impair's interface A;
#                bp_impair's interface B is <n>ib
#   <name>_peer  the Linux peer: <n>p, 198.18.<idx>.2
#
#   dp --\
#         br == bx ~ ia [bp_impair a2b ->, <- b2a] ib ~ p -- peer
#   lx --/
#
# So the bypass host and the Linux host lx share one bottleneck to the peer
# (traffic between dp and lx stays on the bridge, unimpaired).  a2b is the
# direction towards the peer.  Every interface has MTU 1500 and no
# offloads: AF_PACKET must see finished checksums (or corruption would go
# unnoticed) and no 64 KiB super-frames.  Nothing leaves these namespaces.
#
# It also sets lib.sh's BP_NS_DP, BP_DEV, BP_IP, BP_NS_PEER, BP_PEER_DEV
# and BP_PEER_IP, so bp_start_fastpathd, bp_peer, bp_wait_port and friends
# work on this topology unchanged.  Call imp_traps (not trap bp_cleanup):
# its EXIT trap stops every process, deletes the four namespaces, then hands
# over to bp_cleanup.
#
#   source tests/integration/impair_lib.sh
#   imp_traps
#   imp_topo_up bpxyz 41
#   imp_start --loss 1% --rate 100mbit --queue-pkts 200
#   bp_start_fastpathd ...
#   imp_stop; imp_stat a2b dropped_loss

# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/lib.sh"
IMP_TOPOS=()
IMP_PID=""
IMP_RUNS=0

# imp_find_binary: set IMP_BIN to a bp_impair binary: $BP_IMPAIR, else the
# build directory's (BYPASS_BUILD_DIR), else ./build's, else one compiled
# from source into BP_TMP (so the test runs in a tree that does not build it)
imp_find_binary() {
	local c
	[ -n "${IMP_BIN:-}" ] && [ -x "$IMP_BIN" ] && return 0
	for c in "${BP_IMPAIR:-}" "$BP_BUILD/tests/impair/bp_impair" \
		"$(find "$BP_BUILD" -maxdepth 4 -type f -name bp_impair -perm -u+x 2>/dev/null | head -1 || true)" \
		"$BP_ROOT/build/tests/impair/bp_impair"; do
		if [ -n "$c" ] && [ -f "$c" ] && [ -x "$c" ]; then
			IMP_BIN=$c
			return 0
		fi
	done
	command -v cc >/dev/null || bp_die "no bp_impair in $BP_BUILD and no cc to build it"
	bp_make_tmp
	bp_log "no bp_impair in $BP_BUILD: compiling it from $BP_ROOT/tests/impair"
	cc -std=gnu11 -D_GNU_SOURCE -O2 -Wall -o "$BP_TMP/bp_impair" "$BP_ROOT"/tests/impair/*.c -lm ||
		bp_die "compiling bp_impair failed"
	IMP_BIN=$BP_TMP/bp_impair
}

# imp_topo_busy NAME: processes live in one of NAME's namespaces
imp_topo_busy() {
	local ns
	for ns in "${1}_dp" "${1}_lx" "${1}_rig" "${1}_peer"; do
		[ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && return 0
	done
	return 1
}

# imp_topo_down NAME: delete NAME's namespaces (their interfaces go with
# them); idempotent
imp_topo_down() {
	local name=$1 ns pids
	for ns in "${name}_dp" "${name}_lx" "${name}_rig" "${name}_peer"; do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -z "$pids" ] || bp_log "warning: processes still in $ns ($(echo "$pids" | xargs)):" \
			"it lives on until they exit"
		ip netns del "$ns" 2>/dev/null || true
	done
}

# imp_topo_up NAME IDX: build the topology above (NAME: 1-13 letters,
# digits, _; IDX 0-255).  Sets IMP_NS_{DP,LX,RIG,PEER}, IMP_IF_A, IMP_IF_B,
# IMP_LX_DEV, IMP_LX_IP, IMP_PEER_IP, IMP_BYPASS_IP and the BP_* variables
# of lib.sh.  A stale topology of that name is removed first; one a live
# run is using makes this run take a name of its own (NAME cut to 6 + PID),
# as bp_topo_up does.  Does not start bp_impair (imp_start).
imp_topo_up() {
	local name=$1 idx=$2
	[[ $name =~ ^[A-Za-z][A-Za-z0-9_]{0,12}$ ]] || bp_die "topology name '$name': 1-13 letters, digits, _"
	if ! [[ $idx =~ ^[0-9]+$ ]] || [ "$idx" -gt 255 ]; then
		bp_die "topology index '$idx': 0-255"
	fi
	if ! bp_topo_lock "$name" || imp_topo_busy "$name"; then
		local alt=${name:0:6}$$
		bp_log "topology $name is in use by another run; using $alt"
		name=$alt
		{ bp_topo_lock "$name" && ! imp_topo_busy "$name"; } || bp_die "topology $name is in use too"
		BP_RM_LOCKS+=("$BP_LOCK_FILE")
	fi
	IMP_NS_DP=${name}_dp
	IMP_NS_LX=${name}_lx
	IMP_NS_RIG=${name}_rig
	IMP_NS_PEER=${name}_peer
	IMP_IF_A=${name}ia
	IMP_IF_B=${name}ib
	IMP_LX_DEV=${name}l
	IMP_BYPASS_IP=198.18.$idx.1
	IMP_PEER_IP=198.18.$idx.2
	IMP_LX_IP=198.18.$idx.3
	BP_NS_DP=$IMP_NS_DP
	BP_NS_PEER=$IMP_NS_PEER
	BP_DEV=${name}d
	BP_PEER_DEV=${name}p
	BP_IP=$IMP_BYPASS_IP
	BP_PEER_IP=$IMP_PEER_IP
	imp_topo_down "$name"
	IMP_TOPOS+=("$name")
	local ns rig=$IMP_NS_RIG
	for ns in "$IMP_NS_DP" "$IMP_NS_LX" "$IMP_NS_RIG" "$IMP_NS_PEER"; do
		ip netns add "$ns"
		ip netns exec "$ns" ip link set lo up
		# before any interface exists: no IPv6 chatter (router and
		# neighbour solicitations) through the rig, in any of them
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
	done
	# every interface is created inside the namespaces, so two runs'
	# interface names cannot collide
	ip -n "$rig" link add "${name}br" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
	ip -n "$rig" link add "${name}dr" type veth peer name "$BP_DEV" netns "$IMP_NS_DP"
	ip -n "$rig" link add "${name}lr" type veth peer name "$IMP_LX_DEV" netns "$IMP_NS_LX"
	ip -n "$rig" link add "${name}bx" type veth peer name "$IMP_IF_A"
	ip -n "$rig" link add "$IMP_IF_B" type veth peer name "$BP_PEER_DEV" netns "$IMP_NS_PEER"
	local pair dev
	for pair in "$IMP_NS_DP:$BP_DEV" "$IMP_NS_LX:$IMP_LX_DEV" "$IMP_NS_PEER:$BP_PEER_DEV" \
		"$rig:${name}dr" "$rig:${name}lr" "$rig:${name}bx" "$rig:$IMP_IF_A" "$rig:$IMP_IF_B"; do
		ns=${pair%%:*}
		dev=${pair##*:}
		ip netns exec "$ns" ip link set "$dev" mtu 1500
		# bp_impair corrupts L4 bytes: checksums must be finished in
		# software (tx off) and checked in software (rx off), and
		# frames must stay frame-sized (tso/gso/gro off)
		ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off \
			>/dev/null 2>&1 || bp_die "ethtool -K $dev failed (apt-get install ethtool)"
	done
	for dev in "${name}dr" "${name}lr" "${name}bx"; do
		ip -n "$rig" link set "$dev" master "${name}br"
	done
	for pair in "$IMP_NS_DP:$BP_DEV" "$IMP_NS_LX:$IMP_LX_DEV" "$IMP_NS_PEER:$BP_PEER_DEV" \
		"$rig:${name}dr" "$rig:${name}lr" "$rig:${name}bx" "$rig:$IMP_IF_A" "$rig:$IMP_IF_B" \
		"$rig:${name}br"; do
		ip -n "${pair%%:*}" link set "${pair##*:}" up
	done
	ip -n "$IMP_NS_LX" addr add "$IMP_LX_IP/24" dev "$IMP_LX_DEV"
	ip -n "$IMP_NS_PEER" addr add "$IMP_PEER_IP/24" dev "$BP_PEER_DEV"
	bp_log "impairment topology $name: dp $BP_DEV ($IMP_BYPASS_IP), lx $IMP_LX_DEV ($IMP_LX_IP)," \
		"rig $IMP_IF_A<->$IMP_IF_B, peer $BP_PEER_DEV ($IMP_PEER_IP)"
}

# run a command in the Linux namespace beside the bypass host / in the rig
imp_lx() { ip netns exec "$IMP_NS_LX" "$@"; }
imp_rig() { ip netns exec "$IMP_NS_RIG" "$@"; }

# imp_wait_quiet NS...: wait (10 s at most) until no TCP socket in these
# namespaces can still send (only listeners and TIME-WAIT left): a FIN or a
# retransmission from an earlier transfer reaching a fresh bp_impair would
# take decisions from its sequence, so a determinism check starts here
imp_wait_quiet() {
	local ns i busy
	for i in $(seq 100); do
		busy=""
		for ns in "$@"; do
			busy+=$(ip netns exec "$ns" ss -Htan state connected exclude time-wait \
				2>/dev/null || true)
		done
		[ -z "$busy" ] && return 0
		sleep 0.1
	done
	bp_die "TCP sockets still active after 10 s in $*: $busy"
}

# imp_forget_pid PID: drop PID from BP_PIDS (it was waited for), so cleanup
# never signals a number the kernel may have handed to someone else
imp_forget_pid() {
	local i keep=()
	for i in ${BP_PIDS[@]+"${BP_PIDS[@]}"}; do
		[ "$i" = "$1" ] || keep+=("$i")
	done
	BP_PIDS=(${keep[@]+"${keep[@]}"})
}

# imp_sanitizer_check LOG: fail if a sanitizer build of bp_impair reported
imp_sanitizer_check() {
	if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$1" 2>/dev/null; then
		echo "bp_impair sanitizer report ($1):" >&2
		grep -A25 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$1" | head -60 >&2
		return 1
	fi
	return 0
}

# imp_start [BP_IMPAIR OPTIONS...]: start bp_impair in the rig between
# IMP_IF_A and IMP_IF_B (stopping the one running, if any) and wait (10 s at
# most) until it is ready.  Sets IMP_PID, IMP_LOG and IMP_STATS (its
# --stats-file).  Each start gets fresh files.
imp_start() {
	imp_find_binary
	bp_make_tmp
	[ -z "$IMP_PID" ] || imp_stop || bp_die "the previous bp_impair did not stop cleanly"
	IMP_RUNS=$((IMP_RUNS + 1))
	IMP_LOG=$BP_TMP/impair-$IMP_RUNS.log
	IMP_STATS=$BP_TMP/impair-$IMP_RUNS.stats
	# if this script is SIGKILLed (no cleanup), the rig gets SIGTERM
	local reaper=() i
	command -v setpriv >/dev/null && reaper=(setpriv --pdeathsig TERM)
	bp_bg ip netns exec "$IMP_NS_RIG" ${reaper[@]+"${reaper[@]}"} "$IMP_BIN" \
		--stats-file "$IMP_STATS" "$@" "$IMP_IF_A" "$IMP_IF_B" >"$IMP_LOG" 2>&1
	IMP_PID=$BP_LAST_PID
	for i in $(seq 100); do
		grep -q "bp_impair: ready" "$IMP_LOG" 2>/dev/null && break
		kill -0 "$IMP_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q "bp_impair: ready" "$IMP_LOG" 2>/dev/null; then
		cat "$IMP_LOG" >&2
		bp_die "bp_impair did not start ($*; log above)"
	fi
	bp_log "bp_impair started (pid $IMP_PID): ${*:-no impairments}"
}

# imp_stop: stop bp_impair (SIGTERM: it writes its final statistics to
# IMP_STATS).  Fails (returns 1) unless it exited with status 0 and without
# a sanitizer report.
imp_stop() {
	[ -n "$IMP_PID" ] || return 0
	bp_stop_pid "$IMP_PID"
	imp_forget_pid "$IMP_PID"
	IMP_PID=""
	imp_sanitizer_check "$IMP_LOG" || return 1
	if [ "$BP_STOP_STATUS" -ne 0 ]; then
		bp_log "bp_impair exited with status $BP_STOP_STATUS; its log ends:"
		tail -20 "$IMP_LOG" >&2
		return 1
	fi
	return 0
}

# imp_snapshot: have the running bp_impair rewrite IMP_STATS now (SIGUSR1)
# and wait (5 s at most) until it has
imp_snapshot() {
	local before i
	[ -n "$IMP_PID" ] || bp_die "imp_snapshot: bp_impair is not running"
	before=$(imp_stat a2b snap)
	kill -USR1 "$IMP_PID"
	for i in $(seq 50); do
		[ "$(imp_stat a2b snap)" != "$before" ] && return 0
		sleep 0.1
	done
	bp_die "bp_impair did not write its statistics within 5 s of SIGUSR1"
}

# imp_stat DIR KEY [FILE]: print one counter (DIR a2b or b2a) from FILE,
# by default the last run's IMP_STATS
imp_stat() {
	local v
	v=$(awk -v dir="dir=$1" -v key="$2" '
		$1 == dir { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) { print kv[2]; exit } } }
	' "${3:-$IMP_STATS}" 2>/dev/null || true)
	[ -n "$v" ] || bp_die "no $2 for $1 in ${3:-$IMP_STATS}"
	echo "$v"
}

# imp_stats_line DIR [FILE]: the whole statistics line of a direction
imp_stats_line() {
	grep "^dir=$1 " "${2:-$IMP_STATS}" || bp_die "no statistics for $1 in ${2:-$IMP_STATS}"
}

# imp_traps: install imp_cleanup as the EXIT trap, and make SIGINT, SIGTERM
# and SIGHUP exit through it too: a signal that kills bash skips the EXIT
# trap, which would leave namespaces and processes behind
imp_traps() {
	trap imp_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# imp_cleanup: the EXIT trap of tests using this file (see the top).  Stops
# every job, newest first (fastpathd with lib.sh's clean-shutdown check),
# fails the run on a sanitizer report from bp_impair, deletes the
# namespaces, then runs bp_cleanup for the rest (and the exit status).
imp_cleanup() {
	local rc=$? t
	set +e
	bp_stop_all || rc=1
	if [ -n "$IMP_PID" ]; then
		IMP_PID=""
		imp_sanitizer_check "$IMP_LOG" || rc=1
	fi
	for t in ${IMP_TOPOS[@]+"${IMP_TOPOS[@]}"}; do
		imp_topo_down "$t"
	done
	IMP_TOPOS=()
	(exit "$rc")
	bp_cleanup
}
