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

# rpc_memif_fp NAME ROLE IP: a fastpathd in $BP_NS_DP on the memif link
# $dir/memif.sock (ROLE server|client), control socket $dir/fp-NAME.sock
rpc_memif_fp() {
	local log=$dir/fp-$1.log sock=$dir/fp-$1.sock i
	bp_bg ip netns exec "$BP_NS_DP" "$BP_BUILD/fastpathd/fastpathd" \
		--port "net_memif0,role=$2,socket=$dir/memif.sock" \
		--ip "$3/24" --no-huge --mem 512 --socket "$sock" >"$log" 2>&1
	for i in $(seq 300); do
		grep -q "fastpathd: ready" "$log" 2>/dev/null && [ -S "$sock" ] && return 0
		kill -0 "$BP_LAST_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$log" >&2
	bp_die "fastpathd $1 did not come up"
}

# rpc_kv_check_memif ADDR:PORT N: kv_client (bypass, $BYPASS_SOCKET) check
# N against ADDR:PORT, retried while the memif link comes up (it does so
# asynchronously); dies with the client's output if it never passes
rpc_kv_check_memif() {
	local _
	for _ in $(seq 20); do
		if timeout 120 "$BP_BUILD/rpc/kv_client" --transport bypass --connect "$1" check "$2" \
			>"$dir/c.log" 2>&1 && grep -q "check $2 ok" "$dir/c.log"; then
			return 0
		fi
		sleep 0.5
	done
	bp_die "bypass kv_client -> bypass kv_server ($1): $(cat "$dir/c.log")"
}
