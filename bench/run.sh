#!/usr/bin/env bash
# The benchmark suite: bypass against Linux, measured side by side.
#
#   sudo ./bench/run.sh [--quick] [--runs N] [--duration S] [--systems LIST]
#                       [--workloads LIST] [--fp-cores LIST] [--dedicated]
#                       [--hugepages N] [--no-build] [--no-perf] [--out DIR]
#   ./bench/run.sh --report DIR      (rebuild report.md and plots from DIR/raw.csv)
#
# Builds everything in Release (build-bench/, or $BENCH_BUILD_DIR), builds
# three topologies, runs every workload on every system, alternating the
# systems run by run, and writes bench/results/<timestamp>/: raw.csv (every
# run), summary.csv (medians, min, max, ratios), report.md, *.png (gnuplot).
#
# Systems (each its own pair of namespaces, 198.18.220-222.0/24):
#   linux    (a) Linux client <-> Linux server, kernel TCP on both ends of a veth
#   bypass   (b) bp_load on fastpathd <-> bp_echo_srv on fastpathd, the two
#                daemons joined by net_memif: no kernel in the data path
#   lx2bp    (c) Linux client <-> bp_echo_srv on fastpathd, which owns its
#                veth end through net_af_xdp (net_af_packet if af_xdp fails)
# Variants of the bypass systems (each one more system, reported next to
# its base and as a ratio to it):
#   --fp-cores 1,2   bypass and lx2bp once per listed fastpath core count:
#                    1 is the base system, N > 1 adds bypass-Nc (lx2bp-Nc),
#                    whose daemons run --cores N (N threads on the side's
#                    CPU: the core budget stays the same); default 1
#   --dedicated      adds bypass-ded, for the latency workloads in
#                    $BENCH_DED_WORKLOADS (default pp64): the server's
#                    fastpathd busy-polls ([fastpath] busy_poll, cpus) alone on
#                    CPU $BENCH_CORE_SRV; bp_echo_srv, the client's fastpathd
#                    and bp_load share CPU $BENCH_CORE_CLI.  Started only
#                    for its own runs, so its spinning never slows the rest.
#   --hugepages N    reserves N more huge pages (vm.nr_hugepages, put back at
#                    exit) and puts every app's region on them ([apps]
#                    hugepages = true): size N for the regions of every app
#                    up at once (fastpathd's log says what one reserves);
#                    they are touched once first, as pages reserved at boot.
# Core budget (2 CPUs): the server side (server app + its fastpathd, or the
# Linux server) on CPU $BENCH_CORE_SRV (0), the client side (load generator +
# its fastpathd) on CPU $BENCH_CORE_CLI (1).  A daemon's slowpath thread runs
# on its fastpath core.
# Workloads: pp64/pp1k ping-pong latency, echoN closed-loop echo with N
# connections (1 to 10,000), bulk single-flow goodput, cps (connect, one
# request, close; 16 in parallel).  Full: 5 runs of 3 s (+1 s warmup) each,
# about 15 minutes on 2 CPUs; --quick: 1 run of 1 s, no 10k point, under 3 minutes.
# Needs root, gnuplot for the plots, perf for the profile section
# ($BENCH_PERF_LIST: the system:workload pairs profiled, space-separated).
set -euo pipefail
usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0 HUGEPAGES="" RUNS="" DURATION="" WARMUP="" BUILD=1 PERF=1 OUT="" REPORT_ONLY=""
SYSTEMS="linux,bypass,lx2bp" WORKLOADS="" FP_CORES=1 DEDICATED=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--runs) RUNS=${2:?}; shift ;;
	--duration) DURATION=${2:?}; shift ;;
	--warmup) WARMUP=${2:?}; shift ;;
	--systems) SYSTEMS=${2:?}; shift ;;
	--workloads) WORKLOADS=${2:?}; shift ;;
	--fp-cores) FP_CORES=${2:?}; shift ;;
	--dedicated) DEDICATED=1 ;;
	--hugepages) HUGEPAGES=${2:?}; shift ;;
	--no-build) BUILD=0 ;;
	--no-perf) PERF=0 ;;
	--out) OUT=${2:?}; shift ;;
	--report) REPORT_ONLY=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ -z "$HUGEPAGES" ] || [[ $HUGEPAGES =~ ^[1-9][0-9]{0,6}$ ]] ||
	{ echo "run.sh: --hugepages wants a page count, got '$HUGEPAGES'" >&2; exit 2; }
PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "run.sh: needs python3" >&2; exit 1; }
if [ -n "$REPORT_ONLY" ]; then
	exec "$PY" "$ROOT/bench/report.py" "$REPORT_ONLY"
fi

if [ "$QUICK" = 1 ]; then
	: "${RUNS:=1}" "${DURATION:=1}" "${WARMUP:=0.3}"
	: "${WORKLOADS:=pp64,pp1k,echo1,echo16,echo100,echo256,echo1000,bulk,cps}"
else
	: "${RUNS:=5}" "${DURATION:=3}" "${WARMUP:=1}"
	: "${WORKLOADS:=pp64,pp1k,echo1,echo16,echo100,echo256,echo1000,echo10000,bulk,cps}"
fi
[[ $RUNS =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] && [ "$RUNS" -le 100 ] || { echo "run.sh: --runs 1..100" >&2; exit 2; }
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: bad --duration" >&2; exit 2; }
[[ $WARMUP =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: bad --warmup" >&2; exit 2; }
IFS=, read -ra SYS_IN <<<"$SYSTEMS"
IFS=, read -ra WL_LIST <<<"$WORKLOADS"
IFS=, read -ra FPC_LIST <<<"$FP_CORES"
for n in "${FPC_LIST[@]}"; do
	[[ $n =~ ^[1-8]$ ]] || { echo "run.sh: --fp-cores: core counts 1..8, comma-separated" >&2; exit 2; }
done
# the systems measured: every bypass system once per --fp-cores count
SYS_LIST=()
for s in "${SYS_IN[@]}"; do
	case $s in
	linux | bypass-[1-8]c | lx2bp-[1-8]c | bypass-ded) SYS_LIST+=("$s") ;;
	bypass | lx2bp)
		for n in "${FPC_LIST[@]}"; do
			if [ "$n" = 1 ]; then SYS_LIST+=("$s"); else SYS_LIST+=("$s-${n}c"); fi
		done
		;;
	*) echo "run.sh: unknown system '$s'" >&2; exit 2 ;;
	esac
done
[ "$DEDICATED" = 0 ] || SYS_LIST+=(bypass-ded)
DED_WORKLOADS=${BENCH_DED_WORKLOADS:-pp64}

# workload -> bp_load arguments
wl_args() {
	case $1 in
	pp64) echo "pingpong --size 64" ;;
	pp1k) echo "pingpong --size 1024" ;;
	echo[0-9]*) echo "echo --size 64 --conns ${1#echo}" ;;
	bulk) echo "bulk" ;;
	cps) echo "cps --size 64 --conns 16" ;;
	*) return 1 ;;
	esac
}
for w in "${WL_LIST[@]}"; do
	wl_args "$w" >/dev/null || { echo "run.sh: unknown workload '$w'" >&2; exit 2; }
	if [[ $w == echo* ]] && { ! [[ ${w#echo} =~ ^[0-9]+$ ]] || [ "${w#echo}" -gt 10000 ] || [ "${w#echo}" -lt 1 ]; }; then
		echo "run.sh: echoN: N from 1 to 10000" >&2
		exit 2
	fi
done

[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root (namespaces, DPDK): sudo $0" >&2; exit 1; }
NCPU=$(nproc --all)
CORE_SRV=${BENCH_CORE_SRV:-0}
CORE_CLI=${BENCH_CORE_CLI:-1}
[ "$NCPU" -ge 2 ] || { CORE_CLI=0; echo "run.sh: warning: one CPU only, everything on CPU 0" >&2; }
BASE_PORT=7000
LEFTOVER_MAX=16 # server-side connections tolerated 5 s after a run
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$ROOT/bench/results/$STAMP}
mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ------------------------------------------------------------------ build
BUILD_DIR=${BENCH_BUILD_DIR:-$ROOT/build-bench}
TOOLS=$BUILD_DIR/bench
if [ "$BUILD" = 1 ]; then
	log "building Release into $BUILD_DIR (log: $OUT/build.log)"
	{
		cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBYPASS_TESTS=OFF &&
			cmake --build "$BUILD_DIR" -j"$NCPU"
	} >"$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log" >&2; echo "run.sh: build failed" >&2; exit 1; }
fi
FP=$BUILD_DIR/fastpathd/fastpathd
for f in "$FP" "$TOOLS/bp_load" "$TOOLS/bp_echo_srv"; do
	[ -x "$f" ] || { echo "run.sh: no $f (build first, or drop --no-build)" >&2; exit 1; }
done
export BYPASS_BUILD_DIR=$BUILD_DIR

# shellcheck source=deploy/lib.sh
source "$ROOT/deploy/lib.sh"
HP_ORIG=""
hp_restore() {
	local rc=$?
	[ -z "$HP_ORIG" ] || echo "$HP_ORIG" >/proc/sys/vm/nr_hugepages ||
		echo "run.sh: could not put vm.nr_hugepages back to $HP_ORIG" >&2
	return $rc
}
trap 'hp_restore; bp_cleanup' EXIT
trap 'exit 130' INT TERM
bp_make_tmp
TMPD=$BP_TMP
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# one daemon config for every bypass system (why each key: the file)
cp "$ROOT/bench/fastpathd.ini" "$TMPD/fastpathd.ini"
if [ -n "$HUGEPAGES" ]; then
	HP_ORIG=$(cat /proc/sys/vm/nr_hugepages)
	echo $((HP_ORIG + HUGEPAGES)) >/proc/sys/vm/nr_hugepages
	got=$(cat /proc/sys/vm/nr_hugepages)
	[ "$got" -eq $((HP_ORIG + HUGEPAGES)) ] || {
		echo "run.sh: the kernel gave $((got - HP_ORIG)) of $HUGEPAGES huge pages" >&2
		exit 1
	}
	# touch every page once, as a server's pages reserved at boot have been:
	# in a VM a page's first touch also faults it in on the host, seconds
	# for gigabytes, and that would land in the first run's window
	python3 -c '
import mmap, os
n = size = 0
for line in open("/proc/meminfo"):
    k, v = line.split()[:2]
    if k == "Hugepagesize:":
        size = int(v) * 1024
    elif k == "HugePages_Free:":
        n += int(v)
    elif k == "HugePages_Rsvd:":
        n -= int(v)
fd = os.memfd_create("bench-touch", os.MFD_HUGETLB)
os.ftruncate(fd, n * size)
m = mmap.mmap(fd, n * size)
for off in range(0, n * size, size):
    m[off] = 1
' || { echo "run.sh: could not touch the huge pages" >&2; exit 1; }
	printf '[apps]\nhugepages = true\n' >>"$TMPD/fastpathd.ini"
fi
# more settings, e.g. BENCH_FP_EXTRA=$'[fastpath]\nmbufs = 65535' (later keys win)
[ -z "${BENCH_FP_EXTRA:-}" ] || printf '%s\n' "$BENCH_FP_EXTRA" >>"$TMPD/fastpathd.ini"
# bypass-ded's server daemon: the same, busy-polling on a CPU of its own
{
	cat "$TMPD/fastpathd.ini"
	printf '[fastpath]\nbusy_poll = true\ncpus = %s\n' "$CORE_SRV"
} >"$TMPD/fastpathd-ded.ini"

# ------------------------------------------------------------ topologies
declare -A NS_CLI NS_SRV SRV_IP SOCK_CLI STACK_CLI CPU_SRV CPU_CLI DESC PIDS RESTARTS

# forget PIDS of a system we stopped, so cleanup never signals a reused PID
forget_pids() {
	local keep=() p q drop
	for p in "${BP_PIDS[@]}"; do
		drop=0
		for q in $1; do [ "$p" = "$q" ] && drop=1; done
		[ "$drop" = 1 ] || keep+=("$p")
	done
	BP_PIDS=(${keep[@]+"${keep[@]}"})
}

# the variant part of a system name: "" (base), "2c" (2 cores), "ded"
sys_var() { case $1 in *-*) echo "${1#*-}" ;; *) echo "" ;; esac; }
sys_base() { echo "${1%%-*}"; }

# fp_opts SYSTEM CORE [server]: fastpathd options for a daemon of SYSTEM on
# CPU CORE: --cores N for bypass-Nc / lx2bp-Nc, with the same lcore list as
# the base system (the side's core budget stays one CPU); for bypass-ded's
# server daemon, the busy-polling config
fp_opts() {
	local v
	v=$(sys_var "$1")
	case $v in
	[1-8]c) echo "--cores ${v%c} --lcores $2" ;;
	ded)
		if [ "${3:-}" = server ]; then
			echo "-c $TMPD/fastpathd-ded.ini --lcores $2"
		else
			echo "--lcores $2"
		fi
		;;
	*) echo "--lcores $2" ;;
	esac
}

# start_fp NAME NS CORE PORTSPEC IP [OPTIONS]: a fastpathd (OPTIONS: as
# fp_opts gives them; default --lcores CORE); sets FP_PID, 0 when ready
start_fp() {
	local name=$1 ns=$2 core=$3 port=$4 ip=$5 i opts
	local logf=$TMPD/fp-$name.log sock=$TMPD/fp-$name.sock
	read -ra opts <<<"${6:---lcores $core}"
	rm -f "$sock"
	# a second -c (bypass-ded) names the file to load instead
	bp_bg ip netns exec "$ns" setpriv --pdeathsig TERM "$FP" -c "$TMPD/fastpathd.ini" \
		--port "$port" --ip "$ip/24" --no-huge --socket "$sock" "${opts[@]}" >>"$logf" 2>&1
	FP_PID=$BP_LAST_PID
	for i in $(seq 300); do
		grep -q "fastpathd: ready" "$logf" 2>/dev/null && [ -S "$sock" ] && return 0
		kill -0 "$FP_PID" 2>/dev/null || break
		sleep 0.1
	done
	log "fastpathd $name ($port) did not come up; its log:"
	tail -20 "$logf" | sed 's/^/    /' >&2
	bp_stop_pid "$FP_PID"
	forget_pids "$FP_PID"
	return 1
}

# start_srv NAME NS STACK [SOCKET [CPU]]: a bp_echo_srv on CPU (default the
# server core); sets SRV_PID
start_srv() {
	local name=$1 ns=$2 stack=$3 sock=${4:-} cpu=${5:-$CORE_SRV} logf=$TMPD/srv-$1.log i
	echo "---- $(date +%T) start" >>"$logf"
	bp_bg ip netns exec "$ns" env BYPASS_SOCKET="$sock" taskset -c "$cpu" \
		"$TOOLS/bp_echo_srv" --stack "$stack" -p "$BASE_PORT" >>"$logf" 2>&1
	SRV_PID=$BP_LAST_PID
	for i in $(seq 100); do
		grep -q "listening" "$logf" 2>/dev/null && return 0
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	log "server $name did not start; its log:"
	sed 's/^/    /' "$logf" >&2
	bp_stop_pid "$SRV_PID"
	forget_pids "$SRV_PID"
	return 1
}

# the topologies, made once (each system's namespaces and addresses); the
# bypass variants share bypass's namespace (their memif links are their own),
# each lx2bp variant has a veth of its own
OFFLOADS=${BENCH_LINUX_OFFLOADS:-on}
PMD_C=""
declare -A DEV_C
BYPASS_NS=""
topo_up() {
	local s=$1 v
	v=$(sys_var "$s")
	case $(sys_base "$s") in
	linux)
		bp_topo_up bpbenA 220
		ip netns exec "$BP_NS_DP" ip addr add "$BP_IP/24" dev "$BP_DEV"
		if [ "$OFFLOADS" = on ]; then
			# Linux as it ships: TSO/GSO/GRO and checksum offload on the veth
			for p in "$BP_NS_DP:$BP_DEV" "$BP_NS_PEER:$BP_PEER_DEV"; do
				ip netns exec "${p%%:*}" ethtool -K "${p##*:}" tx on rx on tso on gso on gro on \
					>/dev/null 2>&1 || true
			done
		fi
		# clients close first (echo): reuse TIME_WAIT ports, as busy clients do
		ip netns exec "$BP_NS_PEER" sysctl -qw net.ipv4.tcp_tw_reuse=1
		NS_SRV[linux]=$BP_NS_DP NS_CLI[linux]=$BP_NS_PEER SRV_IP[linux]=$BP_IP
		SOCK_CLI[linux]="" STACK_CLI[linux]=linux
		DESC[linux]="Linux client ($BP_NS_PEER) -> veth -> Linux server ($BP_NS_DP), offloads $OFFLOADS"
		;;
	bypass)
		if [ -z "$BYPASS_NS" ]; then
			bp_topo_up bpbenB 222 # its _dp namespace holds the daemons
			BYPASS_NS=$BP_NS_DP
		fi
		NS_SRV[$s]=$BYPASS_NS NS_CLI[$s]=$BYPASS_NS SRV_IP[$s]=198.18.222.1
		SOCK_CLI[$s]=$TMPD/fp-bcli$v.sock STACK_CLI[$s]=bypass
		case $v in
		"") DESC[$s]="bp_load on fastpathd (198.18.222.2, CPU $CORE_CLI) -> net_memif -> fastpathd (198.18.222.1, CPU $CORE_SRV) -> bp_echo_srv" ;;
		ded) DESC[$s]="bp_load on fastpathd (198.18.222.2) -> net_memif -> fastpathd (198.18.222.1) busy-polling alone on CPU $CORE_SRV -> bp_echo_srv; bp_echo_srv, the client's fastpathd and bp_load on CPU $CORE_CLI" ;;
		*) DESC[$s]="as (b), both daemons with --cores ${v%c} (threads on the side's CPU: $CORE_CLI client, $CORE_SRV server)" ;;
		esac
		;;
	lx2bp)
		bp_topo_up "bpbenC$v" 221
		DEV_C[$s]=$BP_DEV
		ip netns exec "$BP_NS_PEER" sysctl -qw net.ipv4.tcp_tw_reuse=1
		NS_SRV[$s]=$BP_NS_DP NS_CLI[$s]=$BP_NS_PEER SRV_IP[$s]=$BP_IP
		SOCK_CLI[$s]="" STACK_CLI[$s]=linux
		;;
	esac
}

# sys_start SYSTEM: its daemons and server; sets PIDS, CPU_SRV, CPU_CLI
sys_start() {
	local s=$1 v fp_s fp_c srv_cpu=$CORE_SRV
	v=$(sys_var "$s")
	case $(sys_base "$s") in
	linux)
		start_srv linux "${NS_SRV[linux]}" linux || return 1
		PIDS[linux]=$SRV_PID CPU_SRV[linux]=$SRV_PID CPU_CLI[linux]=""
		;;
	bypass)
		local memif=$TMPD/memif$v.sock ns=${NS_SRV[$s]}
		rm -f "$memif"
		[ "$v" = ded ] && srv_cpu=$CORE_CLI # the server's daemon has CPU $CORE_SRV alone
		start_fp "bsrv$v" "$ns" "$CORE_SRV" "net_memif0,role=server,socket=$memif" 198.18.222.1 \
			"$(fp_opts "$s" "$CORE_SRV" server)" || return 1
		fp_s=$FP_PID
		if ! start_fp "bcli$v" "$ns" "$CORE_CLI" "net_memif0,role=client,socket=$memif" 198.18.222.2 \
			"$(fp_opts "$s" "$CORE_CLI")"; then
			bp_stop_pid "$fp_s"; forget_pids "$fp_s"; return 1
		fi
		fp_c=$FP_PID
		if ! start_srv "$s" "$ns" bypass "$TMPD/fp-bsrv$v.sock" "$srv_cpu"; then
			bp_stop_pid "$fp_c"; bp_stop_pid "$fp_s"; forget_pids "$fp_c $fp_s"; return 1
		fi
		PIDS[$s]="$SRV_PID $fp_c $fp_s" CPU_SRV[$s]="$SRV_PID,$fp_s" CPU_CLI[$s]=$fp_c
		;;
	lx2bp)
		local pmd
		for pmd in ${PMD_C:-net_af_xdp net_af_packet}; do
			start_fp "xdp$v" "${NS_SRV[$s]}" "$CORE_SRV" "${pmd}0,iface=${DEV_C[$s]}" "${SRV_IP[$s]}" \
				"$(fp_opts "$s" "$CORE_SRV" server)" && break
			log "$pmd did not come up on ${DEV_C[$s]}"
			pmd=""
		done
		[ -n "$pmd" ] || return 1
		PMD_C=$pmd # a restart keeps the PMD that worked
		fp_s=$FP_PID
		if ! start_srv "$s" "${NS_SRV[$s]}" bypass "$TMPD/fp-xdp$v.sock"; then
			bp_stop_pid "$fp_s"; forget_pids "$fp_s"; return 1
		fi
		PIDS[$s]="$SRV_PID $fp_s" CPU_SRV[$s]="$SRV_PID,$fp_s" CPU_CLI[$s]=""
		DESC[$s]="Linux client (${NS_CLI[$s]}) -> veth -> $PMD_C -> fastpathd (${SRV_IP[$s]}, CPU $CORE_SRV${v:+, --cores ${v%c}}) -> bp_echo_srv"
		;;
	esac
}

# sys_stop SYSTEM: server first, then the daemons
sys_stop() {
	local p
	for p in ${PIDS[$1]:-}; do
		bp_stop_pid "$p"
	done
	forget_pids "${PIDS[$1]:-}"
	PIDS[$1]=""
}

# probe SYSTEM: does a short ping-pong get answers?  (a wedged daemon,
# a dead server, a port that stopped receiving)
probe() {
	local s=$1 out p
	for p in ${PIDS[$s]:-}; do
		kill -0 "$p" 2>/dev/null || return 1
	done
	[ -n "${PIDS[$s]:-}" ] || return 1
	out=$(ip netns exec "${NS_CLI[$s]}" env BYPASS_SOCKET="${SOCK_CLI[$s]}" timeout -k 2 15 \
		"$TOOLS/bp_load" --stack "${STACK_CLI[$s]}" --server "${SRV_IP[$s]}" --port "$BASE_PORT" \
		--duration 0.2 --warmup 0 --connect-timeout 5 pingpong 2>/dev/null) || return 1
	[ "$(echo "$out" | cut -d, -f7)" -gt 0 ] 2>/dev/null
}

# srv_flows SYSTEM: connections the server-side fastpathd still holds
srv_flows() {
	local sock v
	v=$(sys_var "$1")
	case $(sys_base "$1") in
	bypass) sock=$TMPD/fp-bsrv$v.sock ;;
	lx2bp) sock=$TMPD/fp-xdp$v.sock ;;
	*) echo 0; return ;;
	esac
	"$BUILD_DIR/cli/bypassctl" --socket "$sock" status 2>/dev/null | awk '$1 == "flows" { print $2; f = 1 } END { if (!f) print 0 }'
}

# restart SYSTEM: after a failed probe; the log keeps what the daemons said
restart() {
	local s=$1
	log "  $s does not answer: restarting its daemons and server"
	RESTARTS[$s]=$((${RESTARTS[$s]:-0} + 1))
	echo "$(date +%T) restart $s after: ${2:-?}" >>"$OUT/restarts.txt"
	sys_stop "$s"
	sys_start "$s" || log "  $s: restart failed"
}

# on_demand SYSTEM: started only for its own measurements (bypass-ded
# busy-polls: left running, it would take CPU from every other system)
on_demand() { [ "$(sys_var "$1")" = ded ]; }
# measured SYSTEM WORKLOAD: does SYSTEM run WORKLOAD at all
measured() { ! on_demand "$1" || [[ ",$DED_WORKLOADS," == *",$2,"* ]]; }

ACTIVE=()
for s in "${SYS_LIST[@]}"; do
	topo_up "$s"
	if sys_start "$s" && probe "$s"; then
		ACTIVE+=("$s")
		log "system $s up: ${DESC[$s]}"
		on_demand "$s" && sys_stop "$s"
	else
		log "system $s did not come up; left out"
		sys_stop "$s"
	fi
done
[ ${#ACTIVE[@]} -gt 0 ] || { echo "run.sh: no system came up" >&2; exit 1; }

# ------------------------------------------------------------- metadata
{
	echo "date=$(date -Iseconds)"
	echo "mode=$([ "$QUICK" = 1 ] && echo quick || echo full)"
	echo "runs=$RUNS"
	echo "duration_s=$DURATION"
	echo "warmup_s=$WARMUP"
	echo "systems=${ACTIVE[*]}"
	echo "fp_cores=$FP_CORES"
	echo "ded_workloads=$([ "$DEDICATED" = 1 ] && echo "$DED_WORKLOADS" || echo none)"
	echo "workloads=${WL_LIST[*]}"
	echo "core_srv=$CORE_SRV"
	echo "core_cli=$CORE_CLI"
	echo "pmd_lx2bp=${PMD_C:-none}"
	echo "linux_offloads=$OFFLOADS"
	echo "kernel=$(uname -sr)"
	echo "cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
	echo "cpus=$NCPU"
	echo "hypervisor=$(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -1)"
	echo "mem_total=$(free -h | awk '/^Mem:/ {print $2}')"
	echo "dpdk=$(pkg-config --modversion libdpdk 2>/dev/null || echo unknown)"
	echo "cc=$(cc --version | head -1)"
	echo "bypass=$("$FP" --version 2>/dev/null | head -1)"
	echo "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo '+dirty')"
	echo "gnuplot=$(gnuplot --version 2>/dev/null || echo missing)"
	echo "perf=$(perf --version 2>/dev/null || echo missing)"
	for s in "${ACTIVE[@]}"; do echo "desc_$s=${DESC[$s]}"; done
} >"$OUT/meta.txt"
lscpu >"$OUT/lscpu.txt" 2>&1 || true
cp "$TMPD/fastpathd.ini" "$OUT/fastpathd.ini"
[ "$DEDICATED" = 0 ] || cp "$TMPD/fastpathd-ded.ini" "$OUT/fastpathd-ded.ini"

# --------------------------------------------------------------- measure
RAW=$OUT/raw.csv
HDR=$("$TOOLS/bp_load" --header-only)
echo "run,system,workload,rc,$HDR" >"$RAW"
LOADLOG=$OUT/bp_load.log
: >"$LOADLOG"

# measure RUN SYSTEM WORKLOAD [extra bp_load args...]
measure() {
	local run=$1 s=$2 w=$3 out rc=0 tmo args
	shift 3
	read -ra args <<<"$(wl_args "$w")"
	tmo=$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%d", d + w + 90 }')
	if [ -z "${PIDS[$s]:-}" ]; then
		echo "$run,$s,$w,down," >>"$RAW"
		return 0
	fi
	echo "== run $run $s $w" >>"$LOADLOG"
	out=$(ip netns exec "${NS_CLI[$s]}" env BYPASS_SOCKET="${SOCK_CLI[$s]}" \
		taskset -c "$CORE_CLI" timeout -k 5 "$tmo" "$TOOLS/bp_load" \
		--stack "${STACK_CLI[$s]}" --server "${SRV_IP[$s]}" --port "$BASE_PORT" \
		--duration "$DURATION" --warmup "$WARMUP" --connect-timeout 15 \
		--cpu-srv "${CPU_SRV[$s]}" ${CPU_CLI[$s]:+--cpu-cli "${CPU_CLI[$s]}"} \
		"${args[@]}" "$@" 2>>"$LOADLOG") || rc=$?
	out=$(echo "$out" | grep -m1 "^${args[0]}," || true)
	echo "$run,$s,$w,$rc,$out" >>"$RAW"
	if [ "$rc" -ne 0 ] || [ -z "$out" ]; then
		log "  $s $w: failed (rc $rc; see bp_load.log)"
	else
		log "  $s $w: $(echo "$out" | awk -F, '{ printf "%s/s, p50 %s us, p99 %s us, %s Mbit/s, %s errors", $8, $10, $11, $9, $15 }')"
	fi
	sleep 0.2 # let the previous connections drain out of the server
	# a failure, errors, or connection churn: make sure the system still
	# answers before the next measurement, else restart it
	if [ "$rc" -ne 0 ] || [ -z "$out" ] || [ "$(echo "$out" | cut -d, -f15)" != 0 ] || [ "$w" = cps ]; then
		probe "$s" || { restart "$s" "$w run $run"; return 0; }
	fi
	# every client connection is closed now: what the server daemon still
	# holds after TIME_WAIT (2 s) was lost (an RST or FIN dropped on the way)
	# and would never go away, filling the server app's slots run by run
	local i f=0
	if [ "$s" != linux ]; then
		for i in $(seq 50); do
			f=$(srv_flows "$s")
			[ "$f" -le "$LEFTOVER_MAX" ] && break
			sleep 0.1
		done
		if [ "$f" -gt "$LEFTOVER_MAX" ]; then
			echo "$run,$s,$w,$f" >>"$OUT/leftover.csv"
			restart "$s" "$w run $run: $f connections left on the server daemon"
		fi
	fi
	return 0
}

total=0
for w in "${WL_LIST[@]}"; do
	for s in "${ACTIVE[@]}"; do
		measured "$s" "$w" && total=$((total + RUNS))
	done
done
log "measuring: $RUNS runs x ${#WL_LIST[@]} workloads x ${#ACTIVE[@]} systems: $total runs of ${WARMUP}+${DURATION} s"
t_start=$(date +%s)
for r in $(seq "$RUNS"); do
	log "run $r of $RUNS"
	for w in "${WL_LIST[@]}"; do
		# rotate which system goes first, so drift hits all alike
		n=${#ACTIVE[@]}
		for ((k = 0; k < n; k++)); do
			s=${ACTIVE[$(((k + r - 1) % n))]}
			measured "$s" "$w" || continue
			if on_demand "$s"; then
				{ sys_start "$s" && probe "$s"; } || log "  $s did not come up for $w"
				measure "$r" "$s" "$w"
				sys_stop "$s"
			else
				measure "$r" "$s" "$w"
			fi
		done
	done
done
log "measured in $(($(date +%s) - t_start)) s"

# --------------------------------------------------------------- profile
# perf (cpu-clock samples, call graphs) of both CPUs during one extra run
# each: where the time of every process goes; Linux pp64 and echo256 for
# comparison ($BENCH_PERF_LIST: other system:workload pairs).
: "${BENCH_PERF_LIST:=bypass:pp64 bypass:echo256 bypass:cps bypass-2c:echo256 linux:pp64 linux:echo256}"
if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
	for pw in $BENCH_PERF_LIST; do
		s=${pw%%:*} w=${pw#*:}
		[[ " ${ACTIVE[*]} " == *" $s "* ]] && [[ " ${WL_LIST[*]} " == *" $w "* ]] || continue
		probe "$s" || restart "$s" "before profiling"
		data=$TMPD/perf-$s-$w.data
		secs=$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%.1f", d + w }')
		bp_bg perf record -q -g -a -o "$data" -- sleep "$secs" >/dev/null 2>&1
		perf_pid=$BP_LAST_PID
		measure perf "$s" "$w"
		wait "$perf_pid" 2>/dev/null || true
		forget_pids "$perf_pid"
		if [ -s "$data" ]; then
			{
				echo "# per CPU and command"
				perf report -i "$data" --stdio --no-children --sort cpu,comm -g none \
					--percent-limit 1 2>/dev/null | grep -v -e '^$' -e '^#' || true
				echo "# symbols (self time)"
				perf report -i "$data" --stdio --no-children --sort comm,dso,symbol -g none \
					--percent-limit 0.5 2>/dev/null | grep -v -e '^$' -e '^#' || true
				echo "# kernel entry points (time including callees)"
				perf report -i "$data" --stdio --children --sort comm,symbol -g none 2>/dev/null |
					grep -E '\[k\] (__x64_sys_|__do_softirq|handle_softirqs|asm_sysvec|schedule$)' |
					head -25 || true
			} >"$OUT/perf-$s-$w.txt"
			log "profile $s $w: $OUT/perf-$s-$w.txt"
		fi
		rm -f "$data"
	done
fi

# ------------------------------------------------------ daemon counters
for f in "$TMPD"/fp-*.sock; do
	[ -S "$f" ] || continue
	n=${f##*/fp-}
	"$BUILD_DIR/cli/bypassctl" --socket "$f" status >"$OUT/bypassctl-${n%.sock}.txt" 2>&1 || true
done
# stop everything in order (servers print their counters, daemons shut
# down), then keep the logs
for s in "${ACTIVE[@]}"; do
	sys_stop "$s"
done
for f in "$TMPD"/fp-*.log "$TMPD"/srv-*.log; do
	[ -e "$f" ] || continue
	b=${f##*/}
	case $b in fp-*) cp "$f" "$OUT/fastpathd-${b#fp-}" ;; srv-*) cp "$f" "$OUT/server-${b#srv-}" ;; esac
done
if grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$OUT"/*.log >/dev/null 2>&1; then
	log "sanitizer reports in: $(grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$OUT"/*.log | xargs)"
fi

"$PY" "$ROOT/bench/report.py" "$OUT"
log "results: $OUT/report.md"
