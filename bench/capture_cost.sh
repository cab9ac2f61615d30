#!/usr/bin/env bash
# What bypassctl capture costs a bulk transfer (bypass -> Linux over the
# veth, bpcat into socat): no capture; a capture whose filter matches
# nothing ("tcp port 1": every frame goes through the filter); a capture
# of every frame of the transfer (filter, copy, pcapng, pipe) to /dev/null.
# Runs alternate; each figure is the median of RUNS runs with min and max.
#   sudo ./bench/capture_cost.sh [RUNS] [MIB]   (default 5 runs of 256 MiB;
#   prints a markdown table; bench/results/capture.md keeps one)
set -euo pipefail
case "${1:-}" in -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
RUNS=${1:-5}
MIB=${2:-256}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
CTL=$BP_BUILD/cli/bypassctl
BPCAT=$BP_BUILD/client-lib/bpcat
bp_make_tmp
dir=$BP_TMP
bp_topo_up bpcapb 131
bp_start_fastpathd
head -c "${MIB}M" /dev/urandom >"$dir/in"
PORT=7350

run_once() { # -> MiB/s on stdout
	bp_bg bp_peer timeout 120 socat -u "TCP-LISTEN:$PORT,reuseaddr" OPEN:/dev/null
	local sink=$BP_LAST_PID s e
	bp_wait_peer_listen "$PORT"
	s=$(date +%s.%N)
	timeout 120 "$BPCAT" "$BP_PEER_IP" "$PORT" <"$dir/in" || bp_die "bpcat failed"
	wait "$sink" || bp_die "socat failed"
	e=$(date +%s.%N)
	echo "$MIB / ($e - $s)" | bc -l
}
with_capture() { # FILTER... : one run while a capture with FILTER runs
	bp_bg "$CTL" capture --json -w /dev/null "$@" 2>"$dir/cap.err"
	local cap=$BP_LAST_PID i
	for i in $(seq 50); do grep -q "capturing to" "$dir/cap.err" && break; sleep 0.1; done
	run_once
	kill -INT "$cap"
	wait "$cap" || true
	sed -n 's/^{/  capture counts: {/p' "$dir/cap.err" >&2
}
declare -A R
for r in $(seq "$RUNS"); do
	R[none]+="$(run_once) "
	R[nomatch]+="$(with_capture tcp port 1) "
	R[all]+="$(with_capture tcp port $PORT) "
	bp_log "run $r (MiB/s so far): none ${R[none]} / nomatch ${R[nomatch]} / all ${R[all]}"
done
stats() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {printf "%.0f (%.0f-%.0f)", v[int((NR+1)/2)], v[1], v[NR]}'; }
echo "| case | MiB/s, median (min-max) of $RUNS x $MIB MiB |"
echo "|------|------|"
echo "| no capture | $(stats <<<"${R[none]}") |"
echo "| capture running, filter matches nothing (\`tcp port 1\`) | $(stats <<<"${R[nomatch]}") |"
echo "| capture of every frame (\`tcp port $PORT\`) to /dev/null | $(stats <<<"${R[all]}") |"
