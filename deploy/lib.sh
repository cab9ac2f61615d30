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
#
# Environment:
#   BYPASS_BUILD_DIR  build tree with fastpathd, bypassctl and the apps
#                     (default: build/ in the source tree)
#   BYPASS_FP_CORES   if set, every fastpathd started here gets
#                     `--cores $BYPASS_FP_CORES` (fastpath threads, 1..8), so
#                     the whole suite can be run with more than one core;
#                     unset: the daemon's own default ([fastpath] cores)

BP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BP_BUILD=${BYPASS_BUILD_DIR:-$BP_ROOT/build}
BP_PIDS=()
BP_TOPOS=()
BP_RM_LOCKS=() # lock files of one-off (NAME+PID) topologies, removed at cleanup
BP_TMP=""

bp_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bp_die() { bp_log "FAIL: $*"; exit 1; }

# bp_need_scapy: tests that craft packets
bp_need_scapy() {
	/usr/bin/python3 -c 'import scapy.all' 2>/dev/null ||
		bp_die "needs python3-scapy (bash deploy/install-deps.sh)"
}

bp_need_root() {
	[ "$(id -u)" -eq 0 ] || bp_die "needs root (network namespaces, DPDK): run with sudo"
}

# bp_make_tmp: create BP_TMP (removed by bp_cleanup).  Call it directly, not
# in $(...): a subshell's assignment would never reach the cleanup.
bp_make_tmp() {
	[ -n "$BP_TMP" ] || BP_TMP=$(mktemp -d /tmp/bypass-XXXXXX)
}

# bp_topo_busy NAME: a live run (or a person) is using this topology:
# processes inside one of its namespaces
bp_topo_busy() {
	local ns
	for ns in "${1}_dp" "${1}_peer"; do
		[ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && return 0
	done
	return 1
}

# bp_topo_lock NAME: hold NAME's lock for the rest of this script (and its
# children); fails at once if another live run holds it
bp_topo_lock() {
	local dir=/run/lock fd
	[ -d "$dir" ] || dir=${TMPDIR:-/tmp}
	BP_LOCK_FILE=$dir/bypass-topo-$1.lock
	exec {fd}>"$BP_LOCK_FILE" || return 1
	flock -n "$fd" && return 0
	exec {fd}>&-
	return 1
}

# bp_topo_up NAME IDX: create the namespaces and veth; sets BP_NS_DP,
# BP_NS_PEER, BP_DEV, BP_IP (fastpathd) and BP_PEER_IP.  A stale topology
# of the same name (a run that was SIGKILLed) is removed first.  If a live
# run is using NAME, this one takes a name of its own (NAME cut to 7
# characters + its PID; the subnet can stay, each topology is isolated), so
# tests can run side by side; with BP_TOPO_STRICT=1 it fails instead.
# NAME: at most 14 characters (the veth names are NAME0 and NAME1).
bp_topo_up() {
	local name=$1 idx=$2
	[[ $name =~ ^[A-Za-z][A-Za-z0-9_]{0,13}$ ]] || bp_die "topology name '$name': 1-14 letters, digits, _"
	if ! [[ $idx =~ ^[0-9]+$ ]] || [ "$idx" -gt 255 ]; then
		bp_die "topology index '$idx': 0-255"
	fi
	if ! bp_topo_lock "$name" || bp_topo_busy "$name"; then
		[ "${BP_TOPO_STRICT:-0}" = 1 ] &&
			bp_die "topology $name is in use (processes: $({ ip netns pids "${name}_dp"; ip netns pids "${name}_peer"; } 2>/dev/null | xargs));" \
				"stop them or 'topology.sh down $name'"
		local alt=${name:0:7}$$
		bp_log "topology $name is in use by another run; using $alt"
		name=$alt
		{ bp_topo_lock "$name" && ! bp_topo_busy "$name"; } || bp_die "topology $name is in use too"
		BP_RM_LOCKS+=("$BP_LOCK_FILE")
	fi
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
	local ns dev pair
	for pair in "$BP_NS_DP:$BP_DEV" "$BP_NS_PEER:$BP_PEER_DEV"; do
		ns=${pair%%:*}
		dev=${pair##*:}
		ip netns exec "$ns" ip link set lo up
		ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
		ip netns exec "$ns" ip link set "$dev" mtu 1500 up
		# veth would otherwise hand af_packet frames with unfinished
		# checksums (tx offload) and 64 KiB super-frames (TSO/GSO)
		ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off \
			>/dev/null 2>&1 || bp_die "ethtool -K $dev failed (apt-get install ethtool)"
	done
	ip netns exec "$BP_NS_PEER" ip addr add "$BP_PEER_IP/24" dev "$BP_PEER_DEV"
}

# bp_topo_down NAME: remove NAME's namespaces and veth; idempotent.  A
# third host a test put behind the peer is named NAME_far (test_icmp_err.sh).
bp_topo_down() {
	local name=$1 pids
	pids=$(ip netns pids "${name}_dp" 2>/dev/null; ip netns pids "${name}_peer" 2>/dev/null
		ip netns pids "${name}_far" 2>/dev/null || true)
	[ -z "$pids" ] || bp_log "warning: processes still in topology $name ($(echo "$pids" | xargs));" \
		"its namespaces live on until they exit"
	ip netns del "${name}_dp" 2>/dev/null || true
	ip netns del "${name}_peer" 2>/dev/null || true
	ip netns del "${name}_far" 2>/dev/null || true
	ip link del "${name}0" 2>/dev/null || true
}

# run a command on the Linux host
bp_peer() { ip netns exec "$BP_NS_PEER" "$@"; }

# bp_start_fastpathd: start fastpathd in the dp namespace (extra options in
# the array BP_FP_ARGS, memory in BP_FP_MEM, default 512 MB, the DPDK port in
# BP_FP_PORT, default net_af_packet on the topology's veth; --cores
# $BYPASS_FP_CORES first if that is set, so a --cores in BP_FP_ARGS wins) and
# wait (30 s at most) until it prints "ready" and its control socket exists;
# sets BP_FP_PID and BP_FP_LOG, exports BYPASS_SOCKET.  Its log is printed if
# it does not come up.  (fastpathd picks a DPDK file prefix of its own,
# fastpathd-PID, so daemons side by side do not collide.)
bp_start_fastpathd() {
	[ -z "${BYPASS_FP_CORES:-}" ] || [[ $BYPASS_FP_CORES =~ ^[1-8]$ ]] ||
		bp_die "BYPASS_FP_CORES='$BYPASS_FP_CORES': a fastpath core count, 1..8"
	bp_make_tmp
	BP_FP_LOG=$BP_TMP/fastpathd.log
	export BYPASS_SOCKET=$BP_TMP/fastpathd.sock
	[ -x "$BP_BUILD/fastpathd/fastpathd" ] ||
		bp_die "no $BP_BUILD/fastpathd/fastpathd: build first (cmake -S . -B build && cmake --build build), or set BYPASS_BUILD_DIR"
	# if this script is SIGKILLed (no cleanup), the daemon gets SIGTERM
	local reaper=()
	command -v setpriv >/dev/null && reaper=(setpriv --pdeathsig TERM)
	ip netns exec "$BP_NS_DP" ${reaper[@]+"${reaper[@]}"} "$BP_BUILD/fastpathd/fastpathd" \
		--port "${BP_FP_PORT:-net_af_packet0,iface=$BP_DEV}" --ip "$BP_IP/24" \
		--no-huge --mem "${BP_FP_MEM:-512}" --socket "$BYPASS_SOCKET" ${BYPASS_FP_CORES:+--cores "$BYPASS_FP_CORES"} \
		${BP_FP_ARGS[@]+"${BP_FP_ARGS[@]}"} >"$BP_FP_LOG" 2>&1 &
	BP_FP_PID=$!
	BP_PIDS+=("$BP_FP_PID")
	local i
	for i in $(seq 300); do
		grep -q "fastpathd: ready" "$BP_FP_LOG" 2>/dev/null && [ -S "$BYPASS_SOCKET" ] && return 0
		kill -0 "$BP_FP_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "---- fastpathd log ($BP_FP_LOG)" >&2
	cat "$BP_FP_LOG" >&2
	kill -0 "$BP_FP_PID" 2>/dev/null && bp_die "fastpathd not ready after 30 s"
	local st=0
	wait "$BP_FP_PID" || st=$?
	BP_FP_PID=""
	bp_die "fastpathd exited with status $st before it was ready"
}

# bp_stop_fastpathd: SIGTERM, wait, SIGKILL after 10 s.  Fails (returns 1)
# unless the daemon shut down cleanly, with status 0.
bp_stop_fastpathd() {
	[ -n "${BP_FP_PID:-}" ] || return 0
	bp_stop_pid "$BP_FP_PID"
	BP_FP_PID=""
	[ "$BP_STOP_STATUS" -eq 0 ] && return 0
	bp_log "fastpathd did not shut down cleanly: exit status $BP_STOP_STATUS; its log ends:"
	tail -20 "$BP_FP_LOG" >&2
	return 1
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

# bp_forget_pid PID: a job that ended (bp_wait_pid, bp_stop_pid) is no
# longer ours to stop: bp_stop_all must never signal a PID the system may
# have given to another process since.
bp_forget_pid() {
	local i
	for i in "${!BP_PIDS[@]}"; do
		[ "${BP_PIDS[$i]}" != "$1" ] || unset 'BP_PIDS[i]'
	done
	BP_PIDS=("${BP_PIDS[@]}")
}

# bp_wait_pid PID: wait for a job bp_bg started and forget it; returns
# the job's status.
bp_wait_pid() {
	local rc=0
	wait "$1" || rc=$?
	bp_forget_pid "$1"
	return "$rc"
}

# bp_own_groups PID: the descendants of PID that lead process groups of
# their own (timeout(1) makes one), which a signal to PID's group misses;
# from one snapshot of the process table (a job may have 1,000 children)
bp_own_groups() {
	ps -e -o pid=,ppid=,pgid= | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1; pgid[$1] = $3 }
		END {
			n = split(kids[root], queue, " ")
			for (i = 1; i <= n; i++) {
				p = queue[i]
				if (seen[p]++)
					continue
				if (pgid[p] == p)
					print p
				m = split(kids[p], more, " ")
				for (j = 1; j <= m; j++)
					queue[++n] = more[j]
			}
		}'
}

# bp_stop_pid PID: stop a job we started, its process group if it leads
# one, else the PID, and the groups its descendants made of their own:
# SIGTERM, then SIGKILL after 10 s.  Sets BP_STOP_STATUS to its exit
# status (as `wait` gives it; 0 for a job already reaped).
bp_stop_pid() {
	local pid=$1 i t ppid
	local -a targets=("$1") left
	BP_STOP_STATUS=0
	[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] && targets=("-$pid")
	if kill -STOP -- "${targets[0]}" 2>/dev/null; then
		# held still, so no descendant makes a group after the listing;
		# listed only while still our child (a PID we reaped may be anyone's)
		ppid=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ') || true
		if [ "$ppid" = "$BASHPID" ] || [ "$ppid" = "$$" ]; then
			for t in $(bp_own_groups "$pid"); do targets+=("-$t"); done
		fi
		for t in "${targets[@]}"; do # a stopped job acts on SIGTERM once continued
			kill -TERM -- "$t" 2>/dev/null || true
			kill -CONT -- "$t" 2>/dev/null || true
		done
		for i in $(seq 100); do
			left=()
			for t in "${targets[@]}"; do
				! kill -0 -- "$t" 2>/dev/null || left+=("$t")
			done
			targets=("${left[@]}") # a group that is gone is never signalled again
			[ "${#targets[@]}" -gt 0 ] || break
			sleep 0.1
		done
		for t in "${targets[@]}"; do
			bp_log "pid $pid: ${t#-} still running 10 s after SIGTERM: SIGKILL"
			kill -KILL -- "$t" 2>/dev/null || true
		done
	fi
	wait "$pid" 2>/dev/null || BP_STOP_STATUS=$?
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

# bp_wait_peer_listen PORT: wait (10 s) until a Linux program in the peer
# namespace listens on TCP PORT
bp_wait_peer_listen() {
	local i
	for i in $(seq 100); do
		bp_peer ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	bp_die "nothing listens on port $1 in $BP_NS_PEER"
}

# bp_bulk_both_ways FILE PORT: send FILE from Linux (nc) to bpcat -l on
# PORT, then from bpcat to socat on the Linux host at PORT + 1000; both
# copies must match FILE byte for byte (sha256).
bp_bulk_both_ways() {
	local in=$1 port=$2 want sink out=$BP_TMP/bulk.out log=$BP_TMP/bulk.log
	want=$(sha256sum <"$in" | cut -d' ' -f1)
	bp_bg timeout 120 "$BP_BUILD/client-lib/bpcat" -l -p "$port" >"$out" 2>"$log"
	sink=$BP_LAST_PID
	bp_wait_listening "$log"
	bp_peer timeout 120 nc -N "$BP_IP" "$port" <"$in" || bp_die "nc -> bypass failed"
	wait "$sink" || bp_die "bpcat -l failed: $(cat "$log")"
	[ "$(sha256sum <"$out" | cut -d' ' -f1)" = "$want" ] || bp_die "Linux -> bypass: sha256 differs"
	bp_bg bp_peer timeout 120 socat -u "TCP-LISTEN:$((port + 1000)),reuseaddr" "OPEN:$out,creat,trunc"
	sink=$BP_LAST_PID
	bp_wait_peer_listen $((port + 1000))
	timeout 120 "$BP_BUILD/client-lib/bpcat" "$BP_PEER_IP" $((port + 1000)) <"$in" ||
		bp_die "bpcat -> Linux failed"
	wait "$sink" || bp_die "socat failed"
	[ "$(sha256sum <"$out" | cut -d' ' -f1)" = "$want" ] || bp_die "bypass -> Linux: sha256 differs"
	rm -f "$out"
}

# bp_wait_line LOG PATTERN SECONDS PID: wait until PATTERN shows up in LOG
# while the job PID lives; dies with the log if it does not
bp_wait_line() {
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q "$2" "$1" && return 0
		kill -0 "$4" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "$2" "$1" && return 0
	bp_die "no '$2' in $1: $(cat "$1")"
}

# bp_flows: how many flows fastpathd holds, in every state
bp_flows() {
	"$BP_BUILD/cli/bypassctl" status --json |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["flows"])'
}

# bp_stat CMD KEY [DEFAULT]: KEY's value in `bypassctl CMD` (status or
# stats: "KEY VALUE" lines), DEFAULT (empty) if the key is absent; fails
# as bypassctl does (no daemon, refused)
bp_stat() {
	"$BP_BUILD/cli/bypassctl" "$1" 2>/dev/null |
		awk -v k="$2" -v d="${3-}" '$1 == k {print $2; f=1} END {if (!f) print d}'
}

# bp_wait_no_flows: wait (30 s at most) until fastpathd holds no flow
bp_wait_no_flows() {
	local end=$((SECONDS + 30)) n
	while :; do
		n=$(bp_flows) || n="? (bypassctl status failed)"
		[ "$n" = 0 ] && return 0
		[ "$SECONDS" -lt "$end" ] ||
			bp_die "fastpathd still holds $n flows 30 s after their connections closed"
		sleep 0.1
	done
}

# wait (30 s at most) until a bypass app prints "listening" into its log
bp_wait_listening() {
	local log=$1 i
	for i in $(seq 300); do
		grep -q "listening" "$log" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$log" >&2
	bp_die "app never started listening (log above)"
}

# bp_stop_all: stop every process bp_bg and bp_start_fastpathd started,
# newest first; fails (returns 1) if fastpathd did not shut down cleanly.
bp_stop_all() {
	local rc=0 i pid
	for ((i = ${#BP_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${BP_PIDS[$i]}
		if [ "$pid" = "${BP_FP_PID:-}" ]; then
			bp_stop_fastpathd || rc=1
		else
			bp_stop_pid "$pid"
		fi
	done
	BP_PIDS=()
	return "$rc"
}

# bp_cleanup: install with `trap bp_cleanup EXIT` (only so: it ends with
# `exit`, which is what makes its verdict the script's exit status).  Stops every job started
# here (newest first, so apps go before the daemon), removes the topologies
# and the temp dir.  Turns a passing run into a failure if fastpathd did not
# shut down cleanly or its sanitizers reported anything.
bp_cleanup() {
	local rc=$? t
	set +e # cleanup must run to the end whatever fails
	bp_stop_all || rc=1
	# a sanitizer build of the daemon reports at exit: that is a failure
	if [ -n "${BP_FP_LOG:-}" ] && grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$BP_FP_LOG"; then
		echo "fastpathd sanitizer report:" >&2
		grep -A25 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$BP_FP_LOG" | head -60 >&2
		rc=1
	fi
	for t in "${BP_TOPOS[@]}"; do
		bp_topo_down "$t"
	done
	BP_TOPOS=()
	rm -f ${BP_RM_LOCKS[@]+"${BP_RM_LOCKS[@]}"}
	[ -n "$BP_TMP" ] && rm -rf "$BP_TMP"
	BP_TMP=""
	exit "$rc"
}
