#!/usr/bin/env bash
# redis-server, unmodified, under the shim; redis-benchmark and redis-cli
# from the Linux host: no errors, and every value read back is the one written.
set -euo pipefail
# shellcheck source=tests/integration/shim_lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/shim_lib.sh"
shim_setup bpishr 17
dir=$BP_TMP
shim_run redis-server "$dir/redis.log" redis-server --bind 0.0.0.0 --port 6379 --save '' \
	--appendonly no --protected-mode no --daemonize no --dir "$dir"
redis=$BP_LAST_PID
shim_wait_port 6379

# load: without pipelining, then 16 commands in flight per connection
for p in 1 16; do
	out=$(bp_peer timeout 120 redis-benchmark -h "$BP_IP" -p 6379 -q -n 20000 -P "$p" -t set,get 2>&1) ||
		bp_die "redis-benchmark -P $p failed (exit $?): $out"
	out=${out//$'\r'/$'\n'}
	grep -qiE "error|refused|reset|timeout|broken" <<<"$out" && bp_die "redis-benchmark -P $p: $out"
	for t in SET GET; do
		grep -q "^$t: .*requests per second" <<<"$out" || bp_die "redis-benchmark -P $p: no $t result: $out"
	done
	echo "$out" | grep "requests per second" | sed "s/^/  -P $p  /"
done

# correctness: 1000 distinct values (up to ~1 KiB, so one MGET reply spans
# many segments) written with redis-cli --pipe, read back with one MGET
python3 - "$dir" <<'PY'
import hashlib, sys
d = sys.argv[1]
def val(i):
    return "v%d:" % i + hashlib.sha256(b"%d" % i).hexdigest() * (1 + i % 16)
with open(d + "/cmds", "wb") as f, open(d + "/want", "w") as w:
    for i in range(1000):
        k, v = "key:%d" % i, val(i)
        f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k.encode(), len(v), v.encode()))
        w.write(v + "\n")
PY
out=$(bp_peer timeout 60 redis-cli -h "$BP_IP" -p 6379 --pipe <"$dir/cmds" 2>&1) || bp_die "redis-cli --pipe failed: $out"
grep -q "errors: 0, replies: 1000" <<<"$out" || bp_die "redis-cli --pipe: $out"
mapfile -t keys < <(seq -f 'key:%g' 0 999)
bp_peer timeout 60 redis-cli -h "$BP_IP" -p 6379 --raw MGET "${keys[@]}" >"$dir/got" ||
	bp_die "MGET failed"
if ! cmp -s "$dir/want" "$dir/got"; then
	{ diff "$dir/want" "$dir/got" || true; } | head -n 6 | cut -c1-160 >&2
	bp_die "MGET returned values other than those written ($(wc -l <"$dir/got") lines)"
fi
echo "  1000 values (sha256 $(sha256sum <"$dir/got" | cut -c1-16)...) written with --pipe, MGET identical"
shim_no_shim_errors "$dir/redis.log"

# a signal interrupting epoll_wait must read as EINTR, or redis aborts
kill -TERM -- "-$redis"
shim_wait_exit "$redis" 20
rc=$SHIM_EXIT_RC
[ "$rc" -eq 0 ] || bp_die "redis did not shut down cleanly on SIGTERM (exit $rc): $(grep -m3 -E 'Guru|crash|bypass-shim' "$dir/redis.log")"
echo "PASS: redis under the shim: benchmarks clean, 1000 values read back intact, clean shutdown"
