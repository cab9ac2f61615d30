# shellcheck shell=bash
# tests/integration/rpc_lib.sh - shared by the test_rpc_*.sh tests (after
# deploy/lib.sh).

# rpc_bench_ok LOG: rpc_bench client's CSV line (bench/bench_csv.h) in LOG
# says calls completed (responses > 0) and none failed (errors = 0); prints
# a short summary
rpc_bench_ok() {
	local line
	line=$(grep '^unary,bprpc-' "$1" | tail -1) || bp_die "rpc_bench printed no result: $(cat "$1")"
	awk -F, '{ exit !($7 > 0 && $15 == 0) }' <<<"$line" || bp_die "rpc_bench calls failed: $line"
	awk -F, '{ printf "rpc_bench %s x%s %s B: %s calls, %s calls/s, p50 %s us, errors %s\n",
		$2, $3, $4, $7, $8, $10, $15 }' <<<"$line"
}
