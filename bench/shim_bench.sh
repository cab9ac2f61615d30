#!/usr/bin/env bash
# Unmodified servers with and without the socket shim, side by side.
#
# The same redis-server and nginx binaries serve the same load from the
# same Linux client namespace, once over the kernel (the server's namespace
# has a kernel IP on a veth) and once over bypass (fastpathd owns the veth,
# the server runs under LD_PRELOAD=libbypass-shim.so).  Runs alternate
# between the two; each figure is the median of RUNS runs with min and max,
# and the ratio is bypass / Linux.
#   sudo ./bench/shim_bench.sh [RUNS]        (default 5; writes bench/results/)
#   (BENCH_SHIM_OUT=DIR: write there instead)
set -euo pipefail
case "${1:-}" in -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
RUNS=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BYPASS_BUILD_DIR=${BYPASS_BUILD_DIR:-$ROOT/build-release}
[ -x "$BYPASS_BUILD_DIR/fastpathd/fastpathd" ] || {
	cmake -S "$ROOT" -B "$BYPASS_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBYPASS_TESTS=OFF >/dev/null
	cmake --build "$BYPASS_BUILD_DIR" -j"$(nproc)" >/dev/null
}
source "$ROOT/deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
SHIM=$BP_BUILD/client-lib/libbypass-shim.so
OUT=${BENCH_SHIM_OUT:-$ROOT/bench/results}
mkdir -p "$OUT"
bp_make_tmp
dir=$BP_TMP
mkdir -p "$dir/www"
head -c 1024 /dev/urandom >"$dir/www/1k.bin"

# kernel baseline: its own pair of namespaces, kernel IPs on both ends
bp_topo_up bpbk 200
KNS=$BP_NS_DP
KIP=$BP_IP
ip netns exec "$KNS" ip addr add "$KIP/24" dev "$BP_DEV"
KPEER=$BP_NS_PEER
# bypass: fastpathd on the second pair; $BENCH_FP_EXTRA: config lines for
# it, as in run.sh (e.g. $'[tcp]\ndelayed_ack_us = 0')
bp_topo_up bpbb 201
if [ -n "${BENCH_FP_EXTRA:-}" ]; then
	printf '%s\n' "$BENCH_FP_EXTRA" >"$dir/fastpathd.ini"
	BP_FP_ARGS=(--config "$dir/fastpathd.ini")
fi
bp_start_fastpathd

nginx_conf() { # $1 = port
	cat <<CONF
user root;
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx$1.pid;
error_log $dir/nginx$1.err warn;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $dir/b$1; proxy_temp_path $dir/p$1;
  fastcgi_temp_path $dir/f$1; uwsgi_temp_path $dir/u$1; scgi_temp_path $dir/s$1;
  server { listen $1; root $dir/www; } }
CONF
}
nginx_conf 8081 >"$dir/k.conf"
nginx_conf 8082 >"$dir/b.conf"
redis_args=(--bind 0.0.0.0 --save '' --appendonly no --protected-mode no --daemonize no --dir "$dir")

bp_bg ip netns exec "$KNS" redis-server --port 6381 "${redis_args[@]}" >"$dir/rk.log" 2>&1
bp_bg ip netns exec "$BP_NS_DP" env LD_PRELOAD="$SHIM" BYPASS_SOCKET="$BYPASS_SOCKET" \
	redis-server --port 6382 "${redis_args[@]}" >"$dir/rb.log" 2>&1
bp_bg ip netns exec "$KNS" nginx -c "$dir/k.conf" -p "$dir" >/dev/null 2>&1
bp_bg ip netns exec "$BP_NS_DP" env LD_PRELOAD="$SHIM" BYPASS_SOCKET="$BYPASS_SOCKET" \
	nginx -c "$dir/b.conf" -p "$dir" >/dev/null 2>&1
sleep 2

# one measurement: prints a number (requests per second)
redis_rps() { # ns ip port pipeline test
	ip netns exec "$1" redis-benchmark -h "$2" -p "$3" -q -n 50000 -c 32 -P "$4" -t "$5" 2>/dev/null |
		tr '\r' '\n' | awk '/requests per second/ {print $2}' | tail -1
}
wrk_rps() { # ns ip port
	ip netns exec "$1" wrk -t2 -c32 -d5s "http://$2:$3/1k.bin" 2>/dev/null |
		awk '/Requests\/sec/ {print $2}'
}

csv=$OUT/shim_bench.csv
echo "workload,system,run,rps" >"$csv"
workloads=("redis_set_p1" "redis_get_p1" "redis_set_p16" "nginx_1k")
measure() { # workload system
	local ns ip rport nport
	if [ "$2" = linux ]; then ns=$KPEER ip=$KIP rport=6381 nport=8081
	else ns=$BP_NS_PEER ip=$BP_IP rport=6382 nport=8082; fi
	case $1 in
	redis_set_p1) redis_rps "$ns" "$ip" "$rport" 1 set ;;
	redis_get_p1) redis_rps "$ns" "$ip" "$rport" 1 get ;;
	redis_set_p16) redis_rps "$ns" "$ip" "$rport" 16 set ;;
	nginx_1k) wrk_rps "$ns" "$ip" "$nport" ;;
	esac
}
for r in $(seq "$RUNS"); do
	for w in "${workloads[@]}"; do
		# alternate which system goes first, so drift hits both alike
		if [ $((r % 2)) -eq 1 ]; then order=(linux bypass); else order=(bypass linux); fi
		for sys in "${order[@]}"; do
			v=$(measure "$w" "$sys")
			echo "$w,$sys,$r,${v:-0}" >>"$csv"
		done
	done
done

python3 - "$csv" "$OUT/shim_bench.md" "$RUNS" <<'PY'
import csv, statistics, sys, platform, os
rows = list(csv.DictReader(open(sys.argv[1])))
out = open(sys.argv[2], "w")
out.write(f"# Socket shim vs Linux, same binaries\n\n{os.cpu_count()} CPUs, {platform.platform()}, "
          f"{sys.argv[3]} runs each, alternating; median (min..max) requests/s.\n\n")
out.write("| workload | Linux | bypass (shim) | ratio | note |\n|---|---|---|---|---|\n")
for w in dict.fromkeys(r["workload"] for r in rows):
    v = {s: [float(r["rps"]) for r in rows if r["workload"] == w and r["system"] == s]
         for s in ("linux", "bypass")}
    med = {s: statistics.median(x) for s, x in v.items()}
    spread = {s: (max(x) - min(x)) / med[s] if med[s] else 0 for s, x in v.items()}
    noisy = "noisy (spread > 20%)" if max(spread.values()) > 0.2 else ""
    ratio = med["bypass"] / med["linux"] if med["linux"] else float("nan")
    fmt = lambda s: f"{med[s]:.0f} ({min(v[s]):.0f}..{max(v[s]):.0f})"
    out.write(f"| {w} | {fmt('linux')} | {fmt('bypass')} | {ratio:.2f}x | {noisy} |\n")
out.close()
print(open(sys.argv[2]).read())
PY
