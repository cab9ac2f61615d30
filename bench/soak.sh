#!/usr/bin/env bash
# shellcheck disable=SC2317 # the loop_* and sampler functions run through bp_bg
# bench/soak.sh - a mixed load on one fastpathd (net_af_packet), for a long
# time, then a look at what it left behind (issue 10, item 11).
#
# Under the socket shim, in the bypass namespace: redis-server, nginx
# (master + 2 workers, a 100 KB file) and memcached (2 threads).  From the
# Linux peer, all at once, each in a loop of bounded runs:
#   redis    redis-benchmark SET/GET, without and with pipelining (-P 16)
#   wrk      32 keep-alive connections fetching the 100 KB file for 10 s
#   ab       16 concurrent one-request connections (the server closes first)
#   curl     the 100 KB file, byte-compared
#   memcached  a python client storing 200 values of 1 B..400 KB, reading
#            each back and comparing
# Every 10 s: the daemon's PSS (/proc/PID/smaps_rollup), its flows, packets
# sent and retransmitted (bypassctl status), the peer's TCP states (ss).
# When the load stops: wait out TIME_WAIT, then count connections left on
# both sides and retransmissions with no load.
#
# Targets (exit status 1 if one is missed): no failed run, no connection
# left after TIME_WAIT (peer: anything but TIME-WAIT; daemon: any flow),
# retransmissions under 1% of packets sent, no retransmission once idle,
# PSS flat after warm-up (the mean of the last third of the samples at most
# 5% or 4 MB above that of the first third).
#
# usage: sudo bench/soak.sh [--minutes N | --seconds N] [--sample S]
#          [--settle S] [--out DIR] [--topo NAME IDX] [--retx-pct P] [--no-mem-target]
#          [--fp-config INI] [--no-runs-target]
# --no-mem-target, --no-runs-target: report memory growth and failed runs
# (a server that stops answering still fails) without judging them; for
# short runs on a busy machine (tests/integration/test_shim_stuck_close.sh).
# Uses $BYPASS_BUILD_DIR (default build/).  Results: DIR (default
# bench/results/soak-<timestamp>/): samples.csv, runs.csv, summary.txt.
set -euo pipefail
SOAK_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/integration/shim_lib.sh
source "$SOAK_ROOT/tests/integration/shim_lib.sh"

duration=1800 sample=10 settle=20 out="" topo=bpsoak idx=61 retx_pct=1 mem_target=1 runs_target=1
while [ $# -gt 0 ]; do
	case $1 in
	--minutes) duration=$(($2 * 60)); shift 2 ;;
	--seconds) duration=$2; shift 2 ;;
	--sample) sample=$2; shift 2 ;;
	--settle) settle=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--topo) topo=$2 idx=$3; shift 3 ;;
	--retx-pct) retx_pct=$2; shift 2 ;;
	--no-mem-target) mem_target=0; shift ;;
	--fp-config) BP_FP_ARGS=(--config "$2"); shift 2 ;;
	--no-runs-target) runs_target=0; shift ;;
	-h | --help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) bp_die "unknown option '$1' (see $0 --help)" ;;
	esac
done
[[ $duration =~ ^[0-9]+$ && $duration -ge 10 ]] || bp_die "duration: at least 10 s"
for tool in redis-server redis-benchmark redis-cli nginx memcached wrk ab curl python3; do
	command -v "$tool" >/dev/null || bp_die "$tool missing: bash deploy/install-deps.sh"
done
[ -n "$out" ] || out=$SOAK_ROOT/bench/results/soak-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
out=$(cd "$out" && pwd)
CTL=$BP_BUILD/cli/bypassctl
[ -x "$CTL" ] || bp_die "no $CTL: build first (cmake --build $BP_BUILD)"

shim_setup "$topo" "$idx"
shim_require_symbol bypass_shim_fork_support "fork support (nginx's workers are forked)"
dir=$BP_TMP
mkdir -p "$dir/www"
head -c 100K /dev/urandom >"$dir/www/100k.bin"
cat >"$dir/nginx.conf" <<CONF
user root;
worker_processes 2;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  sendfile on;
  tcp_nopush on;
  server { listen 80; root $dir/www; }
}
CONF
shim_run nginx "$out/nginx.out" nginx -c "$dir/nginx.conf" -p "$dir"
shim_wait_port 80
shim_run redis "$out/redis.log" redis-server --bind 0.0.0.0 --port 6379 --save '' \
	--appendonly no --protected-mode no --daemonize no --dir "$dir"
shim_wait_port 6379
shim_run memcached "$out/mc.log" memcached -u root -l 0.0.0.0 -p 11211 -t 2 -U 0 -m 256
shim_wait_port 11211
FP_PID=$BP_FP_PID
[ "$(cat "/proc/$FP_PID/comm" 2>/dev/null)" = fastpathd ] ||
	bp_die "pid $FP_PID is not fastpathd ($(cat "/proc/$FP_PID/comm" 2>/dev/null))"

cat >"$dir/mc_client.py" <<'PY'
# store values of 1 B..400 KB under fresh keys, read each back, compare
import os, random, socket, sys
host, run = sys.argv[1], sys.argv[2]
rnd = random.Random(int(run))
s = socket.create_connection((host, 11211), timeout=20)
f = s.makefile("rwb")
vals = {}
for i in range(200):
    n = rnd.choice((1, 100, 1000, 10000)) if i % 2 else rnd.randint(1, 400 * 1024)
    v = os.urandom(n)
    k = b"r%s-%d" % (run.encode(), i)
    f.write(b"set %s 0 0 %d\r\n%s\r\n" % (k, n, v))
    f.flush()
    line = f.readline()
    if line != b"STORED\r\n":
        sys.exit("set %s: %r" % (k, line[:60]))
    vals[k] = v
for k, v in vals.items():
    f.write(b"get %s\r\n" % k)
    f.flush()
    hdr = f.readline()
    if hdr != b"VALUE %s 0 %d\r\n" % (k, len(v)):
        sys.exit("get %s: %r" % (k, hdr[:60]))
    if f.read(len(v) + 2) != v + b"\r\n" or f.readline() != b"END\r\n":
        sys.exit("get %s: value differs" % k)
s.close()
PY

# record RUN WORKLOAD OK DETAIL
record() { printf '%s,%s,%s,%s\n' "$(date +%s)" "$1" "$2" "${3//,/;}" >>"$out/runs.csv"; }
echo "time,workload,ok,detail" >"$out/runs.csv"
end=$((SECONDS + duration))

loop_redis() {
	local n=0 p o rc
	while [ "$SECONDS" -lt "$end" ]; do
		p=$((n++ % 2 ? 16 : 1)) rc=0
		o=$(bp_peer timeout 120 redis-benchmark -h "$BP_IP" -p 6379 -q -n 20000 -P "$p" \
			-t set,get 2>&1) || rc=$?
		o=${o//$'\r'/$'\n'}
		if [ "$rc" -ne 0 ] || grep -qiE "error|refused|reset|timeout|broken" <<<"$o" ||
			! grep -q "^GET: .*requests per second" <<<"$o"; then
			record redis 0 "-P $p rc $rc: $(tail -c 200 <<<"$o" | tr '\n' ' ')"
		else
			record redis 1 "-P $p"
		fi
	done
}
loop_wrk() {
	local o rc
	while [ "$SECONDS" -lt "$end" ]; do
		rc=0
		o=$(bp_peer timeout 60 wrk -t2 -c32 -d10s "http://$BP_IP/100k.bin" 2>&1) || rc=$?
		if [ "$rc" -ne 0 ] || grep -qE "Socket errors|Non-2xx" <<<"$o" ||
			! grep -qE "^ *[1-9][0-9]* requests in" <<<"$o"; then
			record wrk 0 "rc $rc: $(grep -E 'Latency|Socket errors|Non-2xx|requests in' <<<"$o" | tr -s ' \n' ' ')"
		else
			record wrk 1 "$(sed -nE 's/^ *([0-9]+) requests in.*/\1 requests/p' <<<"$o")"
		fi
	done
}
loop_ab() {
	local o rc
	while [ "$SECONDS" -lt "$end" ]; do
		rc=0
		o=$(bp_peer timeout 60 ab -q -s 20 -n 400 -c 16 "http://$BP_IP/100k.bin" 2>&1) || rc=$?
		if [ "$rc" -ne 0 ] || ! grep -qE "^Failed requests: +0$" <<<"$o" ||
			grep -q "Non-2xx" <<<"$o"; then
			record ab 0 "rc $rc: $(grep -E 'Failed|Non-2xx|apr_' <<<"$o" | tr '\n' ' ')"
		else
			record ab 1 "400 requests"
		fi
	done
}
loop_curl() {
	local rc
	while [ "$SECONDS" -lt "$end" ]; do
		rc=0
		bp_peer timeout 30 curl -sSf --max-time 20 -o "$dir/curl.bin" "http://$BP_IP/100k.bin" \
			2>"$dir/curl.err" || rc=$?
		if [ "$rc" -ne 0 ] || ! cmp -s "$dir/curl.bin" "$dir/www/100k.bin"; then
			record curl 0 "rc $rc: $(head -c 200 "$dir/curl.err")"
		else
			record curl 1 ""
		fi
		sleep 0.2
	done
}
loop_mc() {
	local n=0 o rc
	while [ "$SECONDS" -lt "$end" ]; do
		rc=0
		o=$(bp_peer timeout 120 python3 "$dir/mc_client.py" "$BP_IP" "$((n++))" 2>&1) || rc=$?
		if [ "$rc" -ne 0 ]; then
			record memcached 0 "rc $rc: $(tail -c 200 <<<"$o" | tr '\n' ' ')"
		else
			record memcached 1 "200 values"
		fi
	done
}

# status KEY...: values from bypassctl status (0 if absent)
status() {
	local st k
	st=$(timeout 5 "$CTL" --socket "$BYPASS_SOCKET" status 2>/dev/null) || st=""
	for k in "$@"; do
		awk -v k="$k" '$1 == k {v = $2} END {print v + 0}' <<<"$st"
	done
}
peer_states() {
	bp_peer ss -Htan 2>/dev/null | awk '{n[$1]++} END {
		printf "%d,%d,%d,%d,%d,%d,%d\n", n["ESTAB"], n["LAST-ACK"], n["CLOSING"],
			n["FIN-WAIT-1"] + n["FIN-WAIT-2"], n["TIME-WAIT"], n["CLOSE-WAIT"], n["SYN-SENT"]}'
}
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$FP_PID/smaps_rollup" 2>/dev/null || echo 0; }
snapshot() { # t,phase,pss_kb,flows,tx_packets,tx_retransmits,<peer states>
	local v
	v=$(status flows tx_packets tx_retransmits | paste -sd,)
	echo "$1,$2,$(pss_kb),$v,$(peer_states)"
}
echo "t_s,phase,pss_kb,flows,tx_packets,tx_retransmits,peer_estab,peer_last_ack,peer_closing,peer_fin_wait,peer_time_wait,peer_close_wait,peer_syn_sent" \
	>"$out/samples.csv"
sampler() {
	local t0=$SECONDS
	while :; do
		snapshot $((SECONDS - t0)) "${1:-load}" >>"$out/samples.csv"
		sleep "$sample"
	done
}

bp_log "soak: $duration s of redis + nginx + memcached under load, samples every $sample s in $out"
read -r pkts0 retx0 < <(status tx_packets tx_retransmits | paste -sd' ')
start=$SECONDS
bp_bg sampler
sampler_pid=$BP_LAST_PID
loops=()
for w in redis wrk ab curl mc; do
	bp_bg "loop_$w"
	loops+=("$BP_LAST_PID")
done
for pid in "${loops[@]}"; do # every run is bounded (120 s at most)
	wait "$pid" || true
done
load_s=$((SECONDS - start))
read -r pkts1 retx1 < <(status tx_packets tx_retransmits | paste -sd' ')
"$CTL" --socket "$BYPASS_SOCKET" status >"$out/status_after_load.txt" 2>&1 || true
bp_stop_pid "$sampler_pid"

# the servers still answer?
alive=""
bp_peer timeout 10 redis-cli -h "$BP_IP" -p 6379 PING 2>/dev/null | grep -q PONG || alive+=" redis"
bp_peer timeout 10 curl -sf --max-time 8 -o /dev/null "http://$BP_IP/100k.bin" || alive+=" nginx"
bp_peer timeout 10 python3 -c "
import socket,sys; s=socket.create_connection((sys.argv[1],11211),timeout=8); s.sendall(b'version\r\n')
sys.exit(0 if s.recv(100).startswith(b'VERSION') else 1)" "$BP_IP" 2>/dev/null || alive+=" memcached"
[ -z "$alive" ] || record health 0 "no answer from$alive after the load"

# TIME_WAIT: the daemon's (2 s by default) and any retransmission timers
# still running; then what is left, and what is sent with no load at all
sleep "$settle"
read -r pkts2 retx2 < <(status tx_packets tx_retransmits | paste -sd' ')
sleep 10
read -r pkts3 retx3 flows_left < <(status tx_packets tx_retransmits flows | paste -sd' ')
snapshot $((SECONDS - start)) settled >>"$out/samples.csv"
"$CTL" --socket "$BYPASS_SOCKET" status >"$out/status_settled.txt" 2>&1 || true
IFS=, read -r p_estab p_lastack p_closing p_finwait p_tw p_closewait p_synsent < <(peer_states)
bp_peer ss -Htan | grep -v TIME-WAIT | head -20 >"$out/peer_left.txt" || true

# mem_trend: mean PSS (kB) of the first and of the last third of the load
# samples after warm-up; a leak moves the second, a transient peak does not
mem_trend() {
	awk -F, -v warm="$warm" 'NR > 1 && $2 == "load" && $1 > warm { v[n++] = $3 }
		END { if (n < 3) exit; k = int(n / 3)
			for (i = 0; i < k; i++) { a += v[i]; b += v[n - 1 - i] }
			print a / k, b / k }' "$out/samples.csv"
}
retx_ppm=$(( (retx1 - retx0) * 1000000 / (pkts1 - pkts0 > 0 ? pkts1 - pkts0 : 1) ))
warm=$((duration / 10 > 60 ? duration / 10 : 60))
nsamples=$(grep -c ',load,' "$out/samples.csv" || true)

# ------------------------------------------------------------ summary
{
	echo "soak: $load_s s of load (asked $duration s), settle $settle s + 10 s idle; $(date -u '+%F %T UTC')"
	echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end (shared machine: others' work counts too)"
	echo
	echo "runs per workload (failed / total):"
	awk -F, 'NR > 1 {t[$2]++; if ($3 == 0) f[$2]++} END {for (w in t) printf "  %-10s %d / %d\n", w, f[w], t[w]}' \
		"$out/runs.csv" | sort
	awk -F, 'NR > 1 && $3 == 0 {print "  failed: " $2 ": " $4}' "$out/runs.csv" | head -10
	echo
	echo "left after the load and TIME_WAIT:"
	echo "  peer (Linux): ESTAB $p_estab, LAST-ACK $p_lastack, CLOSING $p_closing, FIN-WAIT $p_finwait," \
		"CLOSE-WAIT $p_closewait, SYN-SENT $p_synsent (TIME-WAIT $p_tw: Linux keeps those 60 s)"
	echo "  daemon: $flows_left flows"
	printf '  retransmissions under load: %d of %d packets sent (%d.%04d%%)\n' \
		$((retx1 - retx0)) $((pkts1 - pkts0)) $((retx_ppm / 10000)) $((retx_ppm % 10000))
	echo "  retransmissions in 10 s with no load: $((retx3 - retx2)) (packets sent: $((pkts3 - pkts2)))"
	echo
	echo "daemon memory (PSS, MB) over time (samples every $sample s):"
	awk -F, -v warm="$warm" -v step="$((nsamples / 24 + 1))" 'NR > 1 && $2 == "load" {
		mb = $3 / 1024; n++; if (n == 1) first = mb
		if ($1 <= warm) w = mb
		if ($1 > warm && mb > maxa) maxa = mb
		last = mb
		if (n % step == 1 || step == 1) series = series sprintf(" %d:%.0f", $1, mb)
	} END {
		if (!n) { print "  no samples"; exit }
		if (!maxa) { printf "  start %.1f, last %.1f (a run shorter than the %d s warm-up: no verdict)\n", first, last, warm; exit }
		printf "  start %.1f, after warm-up (%d s) %.1f, max after warm-up %.1f, last %.1f\n", first, warm, w, maxa, last
		printf "  series (s:MB):%s\n", series
	}' "$out/samples.csv" | fold -w 120 -s
	mem_trend | awk '{printf "  trend after warm-up: mean of the first third %.1f MB, of the last third %.1f MB: %+.1f MB (%+.1f%%)\n", $1 / 1024, $2 / 1024, ($2 - $1) / 1024, $1 ? ($2 - $1) * 100 / $1 : 0}'
} | tee "$out/summary.txt"

# ------------------------------------------------------------ verdict
fail=0
failed_runs=$(awk -F, 'NR > 1 && $3 == 0 && $2 != "health"' "$out/runs.csv" | wc -l)
[ "$failed_runs" -eq 0 ] || [ "$runs_target" = 0 ] || { echo "MISSED: $failed_runs failed runs"; fail=1; }
[ -z "$alive" ] || { echo "MISSED: no answer from$alive after the load"; fail=1; }
left=$((p_estab + p_lastack + p_closing + p_finwait + p_closewait + p_synsent))
[ "$left" -eq 0 ] || { echo "MISSED: $left peer connections left (see $out/peer_left.txt)"; fail=1; }
[ "$flows_left" -eq 0 ] || { echo "MISSED: $flows_left daemon flows left"; fail=1; }
[ "$retx_ppm" -lt $((retx_pct * 10000)) ] || { echo "MISSED: retransmissions over $retx_pct% of packets"; fail=1; }
[ $((retx3 - retx2)) -eq 0 ] || { echo "MISSED: $((retx3 - retx2)) retransmissions with no load"; fail=1; }
if [ "$mem_target" = 1 ]; then
	mem_trend | awk '{ exit !($1 && $2 - $1 > 4096 && ($2 - $1) * 20 > $1) }' &&
		{ echo "MISSED: PSS grew after warm-up"; fail=1; }
fi
[ "$fail" -eq 0 ] && echo "soak: every target met" | tee -a "$out/summary.txt"
echo "results in $out"
exit "$fail"
