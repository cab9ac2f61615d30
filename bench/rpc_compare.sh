#!/usr/bin/env bash
# bench/rpc_compare.sh - issue 13's benchmark: unary echo over gRPC C++, a
# plain Linux TCP echo with no RPC layer, and (when built) librpc's
# rpc_bench over kernel sockets and over bypass, in one run, with the same
# topology and core budget; medians of --runs runs, ratios in the report.
#
#   sudo bench/rpc_compare.sh [--runs N] [--duration S] [--warmup S]
#        [--sizes 64,1024,1048576] [--sessions 1,1000] [--build-dir DIR]
#        [--no-build] [--out FILE] [--note TEXT] [--big-sessions N]
#        [--systems tcp,grpc,rpc-kernel,rpc-bypass,rpc-bypass-msg]
#
# Messages of 64 KiB and more run at most --big-sessions sessions (default
# 100): 1,000 sessions of 1 MiB each way put 2 GB into kernel socket
# buffers, beyond net.ipv4.tcp_mem's pressure mark on a 24 GB host; the
# kernel then stalls every TCP connection on the machine (measured: plain
# TCP made no progress for seconds, gRPC did not finish in 100 s).
#
# Systems (each run measures them one after the other, in this order, so
# drift on a shared machine hits all of them alike):
#   tcp         bp_load --stack linux echo  ->  bp_echo_srv --stack linux
#   grpc        grpc_load                   ->  grpc_echo_srv (bench/grpc)
#   rpc-kernel  rpc_bench client --stack kernel -> rpc_bench server --stack kernel
#   rpc-bypass  the same with --stack bypass, each side on its own fastpathd,
#               the two daemons joined by net_memif (as bench/run.sh's bypass)
#   rpc-bypass-msg  the same with --stack bypass-msg (fastpathd frames the
#               sessions and sends posted frames by class)
# tcp, grpc and rpc-kernel: client in the _peer namespace, server in the
# _dp namespace (kernel address 198.18.IDX.1, IDX = $RPC_CMP_IDX, default
# 215), one veth between them, offloads on (BENCH_LINUX_OFFLOADS=off: off).
# rpc-bypass, rpc-bypass-msg: topology IDX + 1.
# Core budget: the server side (server, plus its fastpathd) on CPU
# $BENCH_CORE_SRV (0), the client side on $BENCH_CORE_CLI (1), by taskset
# and --lcores.  CPU seconds: the client reads /proc/PID/stat (or
# getrusage for itself) of both sides at the window's start and end.
#
# rpc_bench is run when $BUILD/rpc/tools/rpc_bench (or rpc/rpc_bench) exists (RPC_BENCH=path
# overrides) and its --help names the flags below; it must take
#   rpc_bench server --stack kernel|bypass --listen IP -p PORT
#       (says "listening" on stdout or stderr once it accepts; runs until SIGTERM)
#   rpc_bench client --stack kernel|bypass --server IP -p PORT --conns N
#       --size B --depth 1 --duration S --warmup S [--count N]
#       [--connect-timeout S] [--cpu-srv PIDS] [--cpu-cli PIDS]
#       (prints bp_load's CSV line, without header, as its last stdout line)
# Otherwise the report says "rpc_bench not built: skipped".
#
# Writes bench/results/rpc.md (--out) and, beside it, rpc-raw.csv (every
# measurement) and rpc-failed.csv (runs that failed or were killed).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

RUNS=3 DURATION=3 WARMUP=1 SIZES=64,1024,1048576 SESSIONS=1,1000 BUILD=1
BUILD_DIR=${BENCH_BUILD_DIR:-$ROOT/build-bench}
OUT_MD=$ROOT/bench/results/rpc.md
NOTE=""
BIG_SESSIONS=100
ONLY_SYSTEMS=""
usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--warmup) WARMUP=$2; shift 2 ;;
	--sizes) SIZES=$2; shift 2 ;;
	--sessions) SESSIONS=$2; shift 2 ;;
	--build-dir) BUILD_DIR=$2; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--out) OUT_MD=$2; shift 2 ;;
	--note) NOTE=$2; shift 2 ;;
	--big-sessions) BIG_SESSIONS=$2; shift 2 ;;
	--systems) ONLY_SYSTEMS=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "rpc_compare: unknown option '$1' (--help)" >&2; exit 2 ;;
	esac
done
[[ $RUNS =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] && [ "$RUNS" -le 20 ] || { echo "rpc_compare: --runs 1..20" >&2; exit 2; }
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "rpc_compare: bad --duration" >&2; exit 2; }
[[ $WARMUP =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "rpc_compare: bad --warmup" >&2; exit 2; }
IFS=, read -ra SIZE_LIST <<<"$SIZES"
IFS=, read -ra SESS_LIST <<<"$SESSIONS"
for v in "${SIZE_LIST[@]}"; do
	[[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] && [ "$v" -le 1048576 ] || { echo "rpc_compare: sizes 1..1048576" >&2; exit 2; }
done
for v in "${SESS_LIST[@]}"; do
	[[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] && [ "$v" -le 10000 ] || { echo "rpc_compare: sessions 1..10000" >&2; exit 2; }
done
[[ $BIG_SESSIONS =~ ^[0-9]+$ ]] && [ "$BIG_SESSIONS" -ge 1 ] || { echo "rpc_compare: bad --big-sessions" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "rpc_compare: needs root (namespaces): sudo $0" >&2; exit 1; }

CORE_SRV=${BENCH_CORE_SRV:-0}
CORE_CLI=${BENCH_CORE_CLI:-1}
[ "$(nproc --all)" -ge 2 ] || CORE_CLI=$CORE_SRV
PORT=7100
# every run ends: the window ends after --duration or this many responses
# (1 MiB: a few seconds of memory traffic at most), whichever comes first
count_for() { if [ "$1" -ge 65536 ]; then echo 20000; else echo 5000000; fi; }
# large messages on many sessions: the warmup covers the first round of
# calls at least (1,000 x 1 MiB is a gigabyte each way)
warmup_for() {
	if [ "$1" -ge 65536 ] && [ "$2" -ge 100 ]; then
		awk -v w="$WARMUP" 'BEGIN { print (w < 5 ? 5 : w) }'
	else
		echo "$WARMUP"
	fi
}
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ "$BUILD" = 1 ]; then
	log "building Release into $BUILD_DIR"
	{ cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBYPASS_TESTS=OFF &&
		nice -n 10 cmake --build "$BUILD_DIR" -j"$(nproc)"; } >/dev/null ||
		{ echo "rpc_compare: build failed" >&2; exit 1; }
fi
T=$BUILD_DIR/bench
for f in "$T/bp_load" "$T/bp_echo_srv"; do
	[ -x "$f" ] || { echo "rpc_compare: no $f (build first, or drop --no-build)" >&2; exit 1; }
done
SYSTEMS=(tcp)
if [ -x "$T/grpc/grpc_load" ] && [ -x "$T/grpc/grpc_echo_srv" ]; then
	SYSTEMS+=(grpc)
else
	log "grpc_load not built (apt-get install libgrpc++-dev protobuf-compiler-grpc): gRPC skipped"
fi
if [ -z "${RPC_BENCH:-}" ]; then
	RPC_BENCH=$BUILD_DIR/rpc/tools/rpc_bench
	[ -x "$RPC_BENCH" ] || [ ! -x "$BUILD_DIR/rpc/rpc_bench" ] || RPC_BENCH=$BUILD_DIR/rpc/rpc_bench
fi
RPC_NOTE="rpc_bench not built: skipped"
if [ -x "$RPC_BENCH" ]; then
	h=$("$RPC_BENCH" --help 2>&1 || true)
	if grep -q -- --cpu-srv <<<"$h" && grep -qw server <<<"$h" && grep -qw client <<<"$h" &&
		grep -q -- --stack <<<"$h"; then
		SYSTEMS+=(rpc-kernel rpc-bypass rpc-bypass-msg)
		RPC_NOTE=""
	else
		RPC_NOTE="rpc_bench found ($RPC_BENCH) but its --help lacks server/client/--stack/--cpu-srv: skipped"
	fi
fi
[ -z "$RPC_NOTE" ] || log "$RPC_NOTE"
if [ -n "$ONLY_SYSTEMS" ]; then
	# a subset, to chase one row; its ratios need tcp and grpc in the list
	IFS=, read -ra want <<<"$ONLY_SYSTEMS"
	for w in "${want[@]}"; do
		[[ " ${SYSTEMS[*]} " == *" $w "* ]] ||
			{ echo "rpc_compare: --systems: '$w' is not one of: ${SYSTEMS[*]} (built here)" >&2; exit 2; }
	done
	SYSTEMS=("${want[@]}")
fi

export BYPASS_BUILD_DIR=$BUILD_DIR
# shellcheck source=deploy/lib.sh
source "$ROOT/deploy/lib.sh"
trap bp_cleanup EXIT
trap 'exit 130' INT TERM
bp_make_tmp
TMPD=$BP_TMP
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
mkdir -p "$(dirname "$OUT_MD")"
RAW=${OUT_MD%.md}-raw.csv
[ "$RAW" != "$OUT_MD" ] || RAW=$OUT_MD.raw.csv

# ---------------------------------------------------------------- topology
OFFLOADS=${BENCH_LINUX_OFFLOADS:-on}
# topology indices (subnets 198.18.IDX.0/24): $RPC_CMP_IDX and the next one
IDX=${RPC_CMP_IDX:-215}
[[ $IDX =~ ^[0-9]+$ ]] && [ "$IDX" -le 254 ] || { echo "rpc_compare: RPC_CMP_IDX 0..254" >&2; exit 2; }
bp_topo_up rpccmp "$IDX"
NS_SRV=$BP_NS_DP NS_CLI=$BP_NS_PEER SRV_IP=$BP_IP
ip netns exec "$NS_SRV" ip addr add "$SRV_IP/24" dev "$BP_DEV"
if [ "$OFFLOADS" = on ]; then
	# Linux as it ships: TSO/GSO/GRO and checksum offload on the veth
	for p in "$NS_SRV:$BP_DEV" "$NS_CLI:$BP_PEER_DEV"; do
		ip netns exec "${p%%:*}" ethtool -K "${p##*:}" tx on rx on tso on gso on gro on \
			>/dev/null 2>&1 || true
	done
fi
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_tw_reuse=1
BYP_NS=""
if [[ " ${SYSTEMS[*]} " == *" rpc-bypass"* ]]; then
	[ -x "$BUILD_DIR/fastpathd/fastpathd" ] || { echo "rpc_compare: no fastpathd in $BUILD_DIR" >&2; exit 1; }
	bp_topo_up rpccmpb $((IDX + 1)) # its _dp namespace holds both daemons
	BYP_SRV_IP=198.18.$((IDX + 1)).1 BYP_CLI_IP=198.18.$((IDX + 1)).2
	BYP_NS=$BP_NS_DP
	cp "$ROOT/bench/fastpathd.ini" "$TMPD/fastpathd.ini" # bench/run.sh's daemon config
fi

# ----------------------------------------------------------------- helpers
# wait_up PID LOG: the server said "listening"
wait_up() {
	local i
	for i in $(seq 150); do
		grep -q listening "$2" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	log "server did not come up; its log:"
	tail -20 "$2" | sed 's/^/    /' >&2
	return 1
}

# start_fp NAME CORE PORTSPEC IP: a fastpathd in BYP_NS; sets FP_PID
start_fp() {
	local logf=$TMPD/fp-$1.log sock=$TMPD/fp-$1.sock i
	rm -f "$sock"
	bp_bg ip netns exec "$BYP_NS" setpriv --pdeathsig TERM "$BUILD_DIR/fastpathd/fastpathd" \
		-c "$TMPD/fastpathd.ini" --port "$3" --ip "$4/24" --no-huge --socket "$sock" \
		--lcores "$2" >>"$logf" 2>&1
	FP_PID=$BP_LAST_PID
	for i in $(seq 300); do
		grep -q "fastpathd: ready" "$logf" 2>/dev/null && [ -S "$sock" ] && return 0
		kill -0 "$FP_PID" 2>/dev/null || break
		sleep 0.1
	done
	log "fastpathd $1 did not come up; its log:"
	tail -20 "$logf" | sed 's/^/    /' >&2
	return 1
}

# stop PIDS: ours, newest first, and forget them
stop() {
	local p keep=() q drop
	for p in "$@"; do bp_stop_pid "$p"; done
	for q in "${BP_PIDS[@]}"; do
		drop=0
		for p in "$@"; do [ "$p" = "$q" ] && drop=1; done
		[ "$drop" = 1 ] || keep+=("$q")
	done
	BP_PIDS=(${keep[@]+"${keep[@]}"})
}

# run_one SYSTEM SIZE SESSIONS RUN: one measurement; appends to $RAW
run_one() {
	local sys=$1 size=$2 sess=$3 run=$4 srvlog=$TMPD/srv.log out rc=0
	local started=() srv_pid cpu_srv cpu_cli="" ns_srv=$NS_SRV ns_cli=$NS_CLI ip=$SRV_IP
	local env_srv=() env_cli=() fp_s fp_c
	local warm
	warm=$(warmup_for "$size" "$sess")
	local common=(--conns "$sess" --size "$size" --depth 1 --duration "$DURATION"
		--warmup "$warm" --count "$(count_for "$size")" --connect-timeout 60)
	# connect (60 s at most), warmup, window, the client's drain (10 s at most)
	local limit
	limit=$(awk -v d="$DURATION" -v w="$warm" 'BEGIN { printf "%d", d + w + 90 }')
	: >"$srvlog"
	: >"$TMPD/cli.log"
	if [ "$sys" = rpc-bypass ] || [ "$sys" = rpc-bypass-msg ]; then
		ns_srv=$BYP_NS ns_cli=$BYP_NS ip=$BYP_SRV_IP
		rm -f "$TMPD/memif.sock"
		start_fp rsrv "$CORE_SRV" "net_memif0,role=server,socket=$TMPD/memif.sock" "$BYP_SRV_IP" || return 1
		fp_s=$FP_PID started+=("$FP_PID")
		if ! start_fp rcli "$CORE_CLI" "net_memif0,role=client,socket=$TMPD/memif.sock" "$BYP_CLI_IP"; then
			stop "${started[@]}"; return 1
		fi
		fp_c=$FP_PID started=("$FP_PID" "${started[@]}")
		env_srv=(BYPASS_SOCKET="$TMPD/fp-rsrv.sock") env_cli=(BYPASS_SOCKET="$TMPD/fp-rcli.sock")
		cpu_cli=$fp_c
	fi
	case $sys in
	tcp) bp_bg ip netns exec "$ns_srv" taskset -c "$CORE_SRV" "$T/bp_echo_srv" --stack linux -p "$PORT" ;;
	grpc) bp_bg ip netns exec "$ns_srv" taskset -c "$CORE_SRV" "$T/grpc/grpc_echo_srv" --listen "$ip" -p "$PORT" ;;
	rpc-kernel | rpc-bypass | rpc-bypass-msg)
		bp_bg ip netns exec "$ns_srv" env ${env_srv[@]+"${env_srv[@]}"} taskset -c "$CORE_SRV" \
			"$RPC_BENCH" server --stack "${sys#rpc-}" --listen "$ip" -p "$PORT" ;;
	esac >>"$srvlog" 2>&1
	srv_pid=$BP_LAST_PID started=("$srv_pid" "${started[@]}")
	if ! wait_up "$srv_pid" "$srvlog"; then
		stop "${started[@]}"
		return 1
	fi
	# the server's CPU: the program itself (ip netns exec and taskset exec
	# it, so the PID stays), plus its fastpathd
	cpu_srv=$srv_pid${fp_s:+,$fp_s}
	local cli=(ip netns exec "$ns_cli" env ${env_cli[@]+"${env_cli[@]}"} timeout -k 5 "$limit"
		taskset -c "$CORE_CLI")
	case $sys in
	tcp) cli+=("$T/bp_load" --stack linux --server "$ip" -p "$PORT" "${common[@]}" --cpu-srv "$cpu_srv" echo) ;;
	grpc) cli+=("$T/grpc/grpc_load" --server "$ip" -p "$PORT" "${common[@]}" --cpu-srv "$cpu_srv") ;;
	*) cli+=("$RPC_BENCH" client --stack "${sys#rpc-}" --server "$ip" -p "$PORT" "${common[@]}"
		--cpu-srv "$cpu_srv" ${cpu_cli:+--cpu-cli "$cpu_cli"}) ;;
	esac
	out=$("${cli[@]}" 2>>"$TMPD/cli.log") || rc=$?
	stop "${started[@]}"
	out=$(tail -1 <<<"$out")
	if [ "$rc" -ne 0 ] || [ -z "$out" ]; then
		log "  $sys ${size}B x$sess run $run failed (exit $rc); client stderr ends:"
		tail -5 "$TMPD/cli.log" | sed 's/^/    /' >&2
		local why="exit $rc"
		[ "$rc" -ne 124 ] || why="killed after ${limit} s"
		echo "$sys,$size,$sess,$run,$why: $(tail -1 "$TMPD/cli.log" | tr -d ',')" >>"$FAILED"
		return 1
	fi
	echo "$sys,$run,$out" >>"$RAW"
	log "  $sys ${size}B x$sess run $run: $(cut -d, -f8,10,11,18,19 <<<"$out" |
		awk -F, '{ printf "%s calls/s p50 %s us p99 %s us cpu cli %s s srv %s s", $1, $2, $3, $4, $5 }')"
}

# ------------------------------------------------------------------- runs
FAILED=${OUT_MD%.md}-failed.csv
[ "$FAILED" != "$OUT_MD" ] || FAILED=$OUT_MD.failed.csv
echo "system,size,conns,run,reason" >"$FAILED"
printf 'system,run,' >"$RAW"
"$T/bp_load" --header-only >>"$RAW"
T0=$(date +%s)
log "systems: ${SYSTEMS[*]}; sizes ${SIZES}; sessions ${SESSIONS}; $RUNS runs of ${DURATION}s (+${WARMUP}s warmup)"
declare -A DONE_PT
for size in "${SIZE_LIST[@]}"; do
	for sess in "${SESS_LIST[@]}"; do
		if [ "$size" -ge 65536 ] && [ "$sess" -gt "$BIG_SESSIONS" ]; then
			log "${size} B x $sess sessions: at $BIG_SESSIONS sessions instead (--big-sessions)"
			sess=$BIG_SESSIONS
		fi
		[ -z "${DONE_PT[$size/$sess]:-}" ] || continue
		DONE_PT[$size/$sess]=1
		for run in $(seq "$RUNS"); do
			for sys in "${SYSTEMS[@]}"; do
				run_one "$sys" "$size" "$sess" "$run" || true
			done
		done
	done
done
ELAPSED=$(($(date +%s) - T0))

{
	echo "Systems: ${SYSTEMS[*]}; $RUNS runs of ${DURATION} s (+${WARMUP} s warmup) each, took ${ELAPSED} s."
	echo "Topology: client in $NS_CLI, server in $NS_SRV, veth, kernel TCP both ends, offloads $OFFLOADS;" \
		"server side on CPU $CORE_SRV, client side on CPU $CORE_CLI (taskset)."
	[[ " ${SYSTEMS[*]} " != *" rpc-bypass"* ]] ||
		echo "rpc-bypass, rpc-bypass-msg: both rpc_bench ends on their own fastpathd (--lcores: server $CORE_SRV, client $CORE_CLI), net_memif between them; CPU includes the daemons."
	echo "Messages of 64 KiB and more: at most $BIG_SESSIONS sessions (--big-sessions; more exceed the kernel's tcp_mem, see rpc_compare.sh)."
	echo "Host: $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ); gRPC $(dpkg-query -W -f='${Version}' libgrpc++-dev 2>/dev/null || echo '?')."
} >"$TMPD/meta.txt"
python3 "$ROOT/bench/rpc_report.py" "$RAW" --meta "$TMPD/meta.txt" --rpc-note "$RPC_NOTE" --note "$NOTE" \
	--failed "$FAILED" >"$OUT_MD"
log "report: $OUT_MD (raw: $RAW)"
