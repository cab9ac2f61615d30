#!/usr/bin/env bash
# Tenants (issue 12): isolation, rate accuracy, density; RUNS runs of each
# (medians in the report), written to bench/results/tenants.{csv,md}.
#
#   sudo bench/tenants.sh [--runs N] [--port-mbit M] [--parts abc]
#
# a) isolation: a tenant's 64 B ping-pong (bp_load against a Linux echo
#    server) p50/p99 alone, and while a bulk tenant saturates the port
#    ([fastpath] tx_rate_mbit = M, default 60: the capacity the fastpath's
#    scheduler shares); once with the ping-pong tenant in class latency and
#    the loader in class bulk, once with both in class normal.
# b) rate accuracy: one tenant at rate 50, 100, 200 Mbit/s (2 connections,
#    no port limit), measured by a Linux receiver (median of 1 s windows);
#    and a live change 200 -> 50 Mbit/s (bypassctl config reload): the time
#    until no 0.5 s window exceeds the new rate by more than 5%, and both
#    connections still delivering at the end.
# c) density: tests/integration/test_tenant_density.sh (1,000 tenants, one
#    uid and process each): pinned memory per idle tenant, the idle
#    daemon's CPU over 10 s, the reload time of 1,000 sections.
# Topology indices 210 (a, b) and 212 (c).
set -euo pipefail
RUNS=3 PORT_MBIT=60 PARTS=abc
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--port-mbit) PORT_MBIT=$2; shift 2 ;;
	--parts) PARTS=$2; shift 2 ;;
	-h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
	esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=deploy/lib.sh
source "$root/deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
SINK=$root/tests/integration/tenant_sink.py
FLOWS=$BP_BUILD/tests/bp_flows
LOAD=$BP_BUILD/bench/bp_load
ECHO=$BP_BUILD/bench/bp_echo_srv
CTL=$BP_BUILD/cli/bypassctl
for b in "$FLOWS" "$LOAD" "$ECHO" "$CTL"; do [ -x "$b" ] || bp_die "not built: $b"; done
UA=64201 UL=64202 UK=64203 UNL=64204 UNK=64205 UD=64299
out=$root/bench/results
mkdir -p "$out"
csv=$out/tenants.csv
echo "part,run,key,value" >"$csv"
rec() { echo "$1,$2,$3,$4" >>"$csv"; }
bp_make_tmp
dir=$BP_TMP
chmod 755 "$dir"
CONF=$dir/fp.ini
# the whole machine's busy CPU over 3 s, in % of its CPUs (before and after
# the runs, nothing of ours running: what other work takes)
machine_busy() {
	python3 -c '
import time
def st():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(v), v[3] + v[4]
t0, i0 = st(); time.sleep(3); t1, i1 = st()
print("%.0f%%" % (100.0 * (1 - (i1 - i0) / (t1 - t0))))'
}
{
	echo "loadavg_start $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "nproc $(nproc)"
	echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
	echo "busy_start $(machine_busy)"
	echo "others_start $(top -b -n2 -d1 -w 200 | awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 10 { printf "%s(%s%%) ", $12, $9 }')"
} >"$dir/env"

# write_conf RATE_A PORT_MBIT
write_conf() {
	cat >"$CONF.new" <<EOF
[daemon]
socket_mode = 0666
[fastpath]
tx_rate_mbit = $2
[apps]
tx_buf = 4194304
max_flows = 16
[tenants]
unknown = default
[tenant a]
uids = $UA
rate = ${1}mbit
burst = 512k
[tenant lat]
uids = $UL
class = latency
[tenant bulk]
uids = $UK
class = bulk
[tenant nlat]
uids = $UNL
[tenant nbulk]
uids = $UNK
EOF
	mv "$CONF.new" "$CONF"
}
as_uid() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
start_sink() {
	bp_bg bp_peer python3 "$SINK" "$1" "$2" "$3" >/dev/null
	SINK_PID=$BP_LAST_PID
	bp_wait_peer_listen "$1"
}
sport=7600
next_port() { sport=$((sport + 1)); }

bp_topo_up bptbench 210
BP_FP_ARGS=(--config "$CONF")

# ------------------------------------------------------------ b) rates
if [[ $PARTS == *b* ]]; then
write_conf 200 0
bp_start_fastpathd
# capacity: CAP = what an unlimited tenant (the default) gets now, Mbit/s
capacity() {
	next_port
	start_sink $sport 6 "$dir/cap.json"
	as_uid "$UD" "$FLOWS" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:$sport" --conns 2 \
		--seconds 5 >/dev/null || bp_die "capacity: bp_flows failed"
	wait "$SINK_PID"
	CAP=$(python3 "$root/bench/tenants_calc.py" rate "$dir/cap.json")
}
for ((r = 1; r <= RUNS; r++)); do
	for rate in 50 100 200; do
		capacity
		cap=$CAP
		rec cap "$r" "$rate" "$cap"
		write_conf "$rate" 0
		"$CTL" config reload >/dev/null || bp_die "reload failed"
		next_port
		start_sink $sport 8 "$dir/r.json"
		as_uid "$UA" "$FLOWS" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:$sport" --conns 2 \
			--seconds 7 >/dev/null || bp_die "rate $rate: bp_flows failed"
		wait "$SINK_PID"
		v=$(python3 "$root/bench/tenants_calc.py" rate "$dir/r.json")
		rec rate "$r" "$rate" "$v"
		bp_log "run $r: rate $rate Mbit/s measured $v Mbit/s (unlimited just before: $cap)"
	done
	# live change 200 -> 50 with two connections running
	write_conf 200 0
	"$CTL" config reload >/dev/null || bp_die "reload failed"
	next_port
	start_sink $sport 13 "$dir/live.json"
	bp_bg as_uid "$UA" "$FLOWS" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:$sport" --conns 2 \
		--seconds 12 >/dev/null
	fp=$BP_LAST_PID
	sleep 6
	write_conf 50 0
	t_reload=$EPOCHREALTIME
	"$CTL" config reload >/dev/null || bp_die "live reload failed"
	intact=1
	wait "$fp" || intact=0
	wait "$SINK_PID"
	read -r settle after top live_conns < <(python3 "$root/bench/tenants_calc.py" live "$dir/live.json" "$t_reload" 50)
	cp "$dir/live.json" "$out/tenants-live-$r.json"
	[ "$live_conns" = 2 ] || intact=0
	rec live "$r" settle_ms "$settle"
	rec live "$r" after_mbit "$after"
	rec live "$r" max_mbit "$top"
	rec live "$r" intact "$intact"
	bp_log "run $r: live 200 -> 50: down after $settle ms, then median $after, max $top Mbit/s, connections intact: $intact"
done
bp_stop_fastpathd || bp_die "fastpathd did not stop cleanly"
fi

# ------------------------------------------------------------ a) isolation
if [[ $PARTS == *a* ]]; then
write_conf 200 "$PORT_MBIT"
bp_start_fastpathd
bp_bg bp_peer "$ECHO" --stack linux -p 7300 >/dev/null
bp_wait_peer_listen 7300
# the echo server's own PID (bp_bg's job is the shell around ip netns exec)
ECHO_PID=$BP_LAST_PID
for _ in 1 2 3; do
	[ "$(cat /proc/"$ECHO_PID"/comm 2>/dev/null)" = bp_echo_srv ] && break
	ECHO_PID=$(ps --ppid "$ECHO_PID" -o pid= | head -1 | tr -d ' ')
done
# rq_wait PID: ns its threads waited for a CPU while runnable (schedstat)
rq_wait() { { cat /proc/"$1"/task/*/schedstat 2>/dev/null || true; } | awk '{ s += $2 } END { printf "%.0f\n", s }'; }
# pingpong UID TAG: "p50 p99" in microseconds of 3 s of 64-byte ping-pong,
# then the share of the time (%) the client, fastpathd (all threads) and
# the Linux echo server spent runnable but waiting for a CPU
pingpong() {
	local fp0 ec0 cl=0 pid t0 v
	fp0=$(rq_wait "$BP_FP_PID")
	ec0=$(rq_wait "$ECHO_PID")
	t0=$EPOCHREALTIME
	as_uid "$1" "$LOAD" --stack bypass --socket "$BYPASS_SOCKET" --server "$BP_PEER_IP" \
		--port 7300 --duration 3 --warmup 1 --size 64 --header pingpong >"$dir/pp-$2.csv" &
	pid=$!
	# until it exits (a zombie until waited for: state Z)
	while [ "$(cut -d' ' -f3 /proc/"$pid"/stat 2>/dev/null || echo Z)" != Z ]; do
		v=$(rq_wait "$pid")
		[ "$v" -gt 0 ] && cl=$v
		sleep 0.2
	done
	wait "$pid" || bp_die "bp_load ($2) failed"
	python3 -c 'import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))[-1]
el = float(sys.argv[2]) * 1e9 / 100
print(r["lat_p50_us"], r["lat_p99_us"], *("%.1f" % (int(x) / el) for x in sys.argv[3:]))' \
		"$dir/pp-$2.csv" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" \
		"$cl" $(($(rq_wait "$BP_FP_PID") - fp0)) $(($(rq_wait "$ECHO_PID") - ec0))
}
# loaded PP_UID BULK_UID TAG: ping-pong while BULK_UID saturates the port
loaded() {
	next_port
	start_sink $sport 9 "$dir/bulk.json"
	bp_bg as_uid "$2" "$FLOWS" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:$sport" --conns 4 \
		--seconds 8 >/dev/null
	local fk=$BP_LAST_PID
	sleep 1.5
	pingpong "$1" "$3"
	wait "$fk" || bp_die "bulk sender ($3) failed"
	wait "$SINK_PID"
	python3 "$root/bench/tenants_calc.py" rate "$dir/bulk.json" >"$dir/bulk.mbit"
}
for ((r = 1; r <= RUNS; r++)); do
	for c in "lat $UL" "nlat $UNL"; do
		read -r p50 p99 wcl wfp wec < <(pingpong "${c#* }" "alone")
		for k in p50 p99 wcl wfp wec; do rec iso "$r" "${c% *}_alone_$k" "${!k}"; done
		bp_log "run $r: ${c% *} alone: p50 $p50 us, p99 $p99 us; waiting for a CPU: client $wcl%, fastpathd $wfp%, echo server $wec%"
	done
	for c in "lat $UL $UK" "nlat $UNL $UNK"; do
		read -r tag pu bu <<<"$c"
		loaded "$pu" "$bu" "$tag" >"$dir/pp.out"
		read -r p50 p99 wcl wfp wec <"$dir/pp.out"
		bulk=$(cat "$dir/bulk.mbit")
		for k in p50 p99 wcl wfp wec; do rec iso "$r" "${tag}_loaded_$k" "${!k}"; done
		rec iso "$r" "${tag}_loaded_bulk_mbit" "$bulk"
		bp_log "run $r: $tag under bulk load ($bulk Mbit/s): p50 $p50 us, p99 $p99 us; waiting for a CPU: client $wcl%, fastpathd $wfp%, echo server $wec%"
	done
done
bp_stop_all || bp_die "fastpathd did not stop cleanly"
fi

# ------------------------------------------------------------ c) density
if [[ $PARTS == *c* ]]; then
	for ((r = 1; r <= RUNS; r++)); do
		TENANTS_TOPO_IDX=212 BYPASS_BUILD_DIR=$BP_BUILD bash "$root/tests/integration/test_tenant_density.sh" \
			>"$dir/density.log" 2>&1 || { tail -20 "$dir/density.log" >&2; bp_die "test_tenant_density failed"; }
		line=$(grep '^PASS' "$dir/density.log")
		kib=$(sed -E 's/.* ([0-9]+) KiB per tenant.*/\1/' <<<"$line")
		cpu=$(sed -E 's/.*, ([0-9.]+)% of a core.*/\1/' <<<"$line")
		rl=$(sed -E 's/.*reload ([0-9]+) ms.*/\1/' <<<"$line")
		att=$(sed -nE 's/.*attached and listening in ([0-9]+) s.*/\1/p' "$dir/density.log")
		rec density "$r" kib_per_tenant "$kib"
		rec density "$r" idle_cpu_pct "$cpu"
		rec density "$r" reload_ms "$rl"
		rec density "$r" attach_s "$att"
		bp_log "run $r: 1,000 tenants: $kib KiB per idle tenant, idle $cpu% of a core, reload $rl ms"
	done
fi
{
	echo "loadavg_end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "busy_end $(machine_busy)"
	echo "others_end $(top -b -n2 -d1 -w 200 | awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 10 { printf "%s(%s%%) ", $12, $9 }')"
} >>"$dir/env"
python3 "$root/bench/tenants_calc.py" report "$csv" "$dir/env" "$PORT_MBIT" "$RUNS" >"$out/tenants.md"
cat "$out/tenants.md"
