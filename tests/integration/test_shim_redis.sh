#!/usr/bin/env bash
# redis-server, unmodified, under the shim; redis-benchmark and redis-cli
# from the Linux host: no errors, and every value read back is the one written.
set -euo pipefail
source "$(dirname "$0")/shim_lib.sh"
shim_setup bpishr 17
dir=$BP_TMP
shim_run "$dir/redis.log" redis-server --bind 0.0.0.0 --port 6379 --save '' --appendonly no \
	--protected-mode no --daemonize no --dir "$dir"
redis=$BP_LAST_PID
bp_wait_port "$BP_IP" 6379

for p in 1 16; do
	out=$(bp_peer timeout 120 redis-benchmark -h "$BP_IP" -q -n 20000 -P "$p" -t set,get 2>&1) ||
		bp_die "redis-benchmark -P $p failed: $out"
	echo "$out" | grep -qiE "error|refused|reset" && bp_die "redis-benchmark -P $p: $out"
	echo "$out" | tr '\r' '\n' | grep "requests per second" | sed "s/^/  -P $p /"
done

python3 -c "
for i in range(1000):
    v = 'v%d-%s' % (i, 'x' * (i % 97))
    print('SET key:%d %s' % (i, v))" >"$dir/cmds"
bp_peer timeout 60 redis-cli -h "$BP_IP" <"$dir/cmds" | sort | uniq -c | grep -q "1000 OK" ||
	bp_die "not every SET answered OK"
bp_peer timeout 60 redis-cli -h "$BP_IP" --raw MGET $(seq -f 'key:%g' 0 999) >"$dir/got"
python3 -c "
import sys
got = open(sys.argv[1]).read().split('\n')[:1000]
want = ['v%d-%s' % (i, 'x' * (i % 97)) for i in range(1000)]
bad = [i for i in range(1000) if got[i] != want[i]]
sys.exit('mismatched keys: %s' % bad[:10] if bad else 0)" "$dir/got"
# a signal interrupting epoll_wait must read as EINTR, or redis aborts
kill -TERM -- "-$redis"
rc=0
wait "$redis" || rc=$?
[ "$rc" -eq 0 ] || bp_die "redis did not shut down cleanly on SIGTERM (exit $rc): $(grep -m3 -E 'Guru|crash' "$dir/redis.log")"
echo "PASS: redis under the shim: benchmarks clean, 1000 values read back intact, clean shutdown"
