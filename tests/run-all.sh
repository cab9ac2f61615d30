#!/usr/bin/env bash
# The whole bypass test suite:
#   1. unit, scripted TCP scenario and integration tests (real DPDK port,
#      real Linux TCP peer in a network namespace) on a normal build, every
#      fastpathd with one fastpath core (--cores 1);
#   2. all of them again on an ASan+UBSan build (the daemon's own sanitizer
#      reports fail the integration tests), except the socket-shim tests,
#      which preload the shim into uninstrumented programs; here every
#      fastpathd the tests start runs two fastpath cores (BYPASS_FP_CORES=2,
#      deploy/lib.sh), so one run covers the suite with cores = 1 and 2;
#   3. the libFuzzer harnesses (tests/fuzz, clang build in build-fuzz), each
#      for BYPASS_FUZZ_SECONDS (default 30).
#   sudo ./tests/run-all.sh
# Set BYPASS_ASAN_INTEGRATION=0 to run only unit and scenario tests under ASan.
set -uo pipefail
case "${1:-}" in -h | --help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
[ "$(id -u)" -eq 0 ] || { echo "run-all: needs root for namespaces and DPDK: sudo $0" >&2; exit 1; }
bash deploy/install-deps.sh || exit 1
JOBS=$(nproc)
passed=0
failed=0

# run_ctest BUILD_DIR [ctest args]: adds to the pass/fail totals
run_ctest() {
	local dir=$1 log
	shift
	log=$(mktemp)
	ctest --test-dir "$dir" --output-on-failure "$@" 2>&1 | tee "$log"
	local line total fail
	line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
	rm -f "$log"
	if [ -z "$line" ]; then
		echo "run-all: ctest in $dir produced no summary" >&2
		failed=$((failed + 1))
		return
	fi
	fail=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
	total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
	passed=$((passed + total - fail))
	failed=$((failed + fail))
}

# build DIR [cmake args]: configure and build; prints compiler diagnostics
build() {
	local dir=$1 rc=0
	shift
	echo "== configure and build $dir ($*)"
	mkdir -p "$dir"
	cmake -S . -B "$dir" "$@" >"$dir/cmake.log" 2>&1 || { cat "$dir/cmake.log"; return 1; }
	cmake --build "$dir" -j"$JOBS" >"$dir/build.log" 2>&1 || rc=$?
	grep -E "error|warning" "$dir/build.log"
	if [ "$rc" -ne 0 ]; then
		tail -20 "$dir/build.log"
		echo "run-all: building $dir failed (status $rc), log: $dir/build.log" >&2
	fi
	return "$rc"
}

if build build -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
	echo "== tests: unit, scenario, integration (fastpath cores: 1)"
	BYPASS_FP_CORES=1 run_ctest build
else
	echo "run-all: build failed" >&2
	failed=$((failed + 1))
fi

if build build-asan -DCMAKE_BUILD_TYPE=Debug -DBYPASS_SANITIZE=ON; then
	echo "== tests under ASan+UBSan (fastpath cores: 2)"
	labels='unit|scenario|integration'
	[ "${BYPASS_ASAN_INTEGRATION:-1}" = 0 ] && labels='unit|scenario'
	# the sanitizer pass hunts memory errors, not volume: smaller transfers
	# and a slower bottleneck for the -O0 instrumented daemon
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp \
		BP_LOSS_MIB=128 BP_CC_RATE_MBIT=50 BP_CC_STRICT=0 BP_MC_MIB=16 \
		DENSITY_APPS=300 DENSITY_MAX_KIB=200 TENANTS_N=100 TENANTS_MAX_KIB=400 RPC_SESSIONS_N=3000 RPCQOS_MAX_MS=300 \
		BYPASS_FP_CORES=2 run_ctest build-asan -L "$labels" -LE 'shim|rates'
else
	echo "run-all: sanitizer build failed" >&2
	failed=$((failed + 1))
fi

if build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBYPASS_FUZZ=ON; then
	echo "== fuzzing: each harness ${BYPASS_FUZZ_SECONDS:-30} s"
	run_ctest build-fuzz -L fuzz
else
	echo "run-all: fuzz build failed (needs clang and libclang-rt-14-dev: bash deploy/install-deps.sh)" >&2
	failed=$((failed + 1))
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
