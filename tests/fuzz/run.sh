#!/usr/bin/env bash
# Run the libFuzzer harnesses of tests/fuzz, one after the other.
#   tests/fuzz/run.sh [--seconds N] [--runs N] [--build-dir DIR] [NAME...]
# NAME is pkt, ctl, tcp_input, app_queue, ctrlq, rpc_frame, rpc_framer, config,
# rpc_frame_tx or ip_reasm (default: all).  Each runs on a
# scratch copy of its seed corpus (tests/fuzz/corpus/NAME, never modified)
# with leak detection, for N seconds (default $BYPASS_FUZZ_SECONDS or 30)
# or N executions (both: whichever comes first).  Prints executions,
# exec/s and coverage (libFuzzer's final cov: and ft:) per harness; fails
# on any crash, sanitizer report, leak or timeout, keeping the reproducer
# under $BYPASS_FUZZ_ARTIFACTS (default ./fuzz-artifacts).  Build first:
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DBYPASS_FUZZ=ON
#   cmake --build build-fuzz -j2
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BYPASS_BUILD_DIR:-$ROOT/build-fuzz}
SECONDS_EACH=
RUNS=
NAMES=()
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) SECONDS_EACH=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--build-dir) BUILD=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) NAMES+=("$1"); shift ;;
	esac
done
[ ${#NAMES[@]} -eq 0 ] &&
	NAMES=(pkt ctl tcp_input app_queue ctrlq rpc_frame rpc_framer rpc_frame_tx config ip_reasm)
[ -z "$RUNS" ] && [ -z "$SECONDS_EACH" ] && SECONDS_EACH=${BYPASS_FUZZ_SECONDS:-30}
ARTIFACTS=${BYPASS_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}
mkdir -p "$ARTIFACTS"

# LSan: DPDK's EAL keeps a few allocations for the life of the process
export LSAN_OPTIONS="suppressions=$HERE/lsan-fuzz.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

failed=0
for name in "${NAMES[@]}"; do
	bin=$BUILD/tests/fuzz/fuzz_$name
	if [ ! -x "$bin" ]; then
		echo "run.sh: $bin not built: configure with -DCMAKE_C_COMPILER=clang -DBYPASS_FUZZ=ON and build" >&2
		failed=$((failed + 1))
		continue
	fi
	work=$(mktemp -d)
	mkdir -p "$work/corpus"
	[ -d "$HERE/corpus/$name" ] && cp -r "$HERE/corpus/$name/." "$work/corpus/"
	limit=()
	[ -n "$RUNS" ] && limit+=(-runs="$RUNS")
	[ -n "$SECONDS_EACH" ] && limit+=(-max_total_time="$SECONDS_EACH")
	log=$work/log
	start=$(date +%s)
	(cd "$work" && "$bin" "${limit[@]}" -detect_leaks=1 -timeout=10 -rss_limit_mb=4096 \
		-max_len=8192 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/${name}-" \
		corpus) >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	# final "#N DONE cov: C ft: F ..." (or the last status line) and the stats
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	execs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}')
	rate=$(grep -E '^stat::average_exec_per_sec:' "$log" | awk '{print $2}')
	cov=$(echo "$last" | grep -oE 'cov: [0-9]+' | awk '{print $2}')
	ft=$(echo "$last" | grep -oE 'ft: [0-9]+' | awk '{print $2}')
	corp=$(echo "$last" | grep -oE 'corp: [0-9]+' | awk '{print $2}')
	bad=$(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|fuzz check failed|==[0-9]+== ?ERROR' "$log")
	printf 'fuzz_%s: %s executions in %ss (%s exec/s), cov: %s ft: %s corpus: %s\n' \
		"$name" "${execs:-?}" "$secs" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
	if [ "$rc" -ne 0 ] || [ "$bad" -ne 0 ] || [ -z "$execs" ]; then
		echo "run.sh: fuzz_$name FAILED (status $rc); its log:" >&2
		grep -vE '^#[0-9]+.*(NEW|REDUCE|pulse)' "$log" | tail -60 >&2
		echo "run.sh: reproducer (if any) in $ARTIFACTS/${name}-*; rerun with: $bin FILE" >&2
		failed=$((failed + 1))
	fi
	rm -rf "$work"
	# a harness that ran the daemon and died (crash, timeout) could not
	# remove its control socket, kick socket directory and DPDK runtime
	# directory: those of fuzz_ctrlq processes no longer alive go now
	for f in /tmp/bypass-fzq-*.sock /tmp/bypass-fzq-*.sock.kick /var/run/dpdk/fzq*; do
		[ -e "$f" ] || continue
		pid=${f##*fzq}
		pid=${pid#-}
		pid=${pid%.kick}
		pid=${pid%.sock}
		case "$pid" in '' | *[!0-9]*) continue ;; esac
		kill -0 "$pid" 2>/dev/null || rm -rf "$f"
	done
done
[ "$failed" -eq 0 ]
