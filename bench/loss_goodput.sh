#!/usr/bin/env bash
# Goodput through a lossy wire (bp_impair, 1% loss both ways by default):
# a bypass sender (bpcat, CUBIC in fastpathd) against a Linux sender
# (CUBIC, per socket) from the same side of the same rig to the same Linux
# receiver, alternating, RUNS times each; prints medians, min/max and the
# ratio, and writes bench/results/loss_goodput.{csv,md}.
#
#   sudo bench/loss_goodput.sh [--runs N] [--mib M] [--loss P]
#
# Core budget on the 2-vCPU VM: fastpathd and bpcat share the machine with
# bp_impair and the receiver; the Linux sender's kernel stack does too, so
# the ratio compares whole-system costs on the same hardware.
set -euo pipefail
RUNS=5 MIB=256 LOSS=1%
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--mib) MIB=$2; shift 2 ;;
	--loss) LOSS=$2; shift 2 ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
	esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tests/integration/impair_lib.sh"
bp_need_root
imp_traps
imp_topo_up bpbloss 202
BP_FP_ARGS=(--cc cubic)
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
head -c "${MIB}M" /dev/urandom >"$dir/blob"
imp_start --seed 42 --loss "$LOSS"
imp_lx sysctl -qw net.ipv4.tcp_ecn=0
port=6200

# one run: SYSTEM -> seconds for MIB MiB into a Linux receiver
one() {
	local t0 t1 sink
	port=$((port + 1))
	bp_bg bp_peer timeout 300 socat -u "TCP-LISTEN:$port,reuseaddr" OPEN:/dev/null
	sink=$BP_LAST_PID
	bp_wait_peer_listen "$port"
	t0=$(date +%s.%N)
	if [ "$1" = bypass ]; then
		timeout 300 "$BP_BUILD/client-lib/bpcat" -q "$BP_PEER_IP" "$port" <"$dir/blob"
	else
		imp_lx timeout 300 python3 -c "
import socket, sys
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b'cubic')
s.connect(('$BP_PEER_IP', $port))
s.sendfile(open('$dir/blob', 'rb'))
s.shutdown(socket.SHUT_WR)
s.recv(1)"
	fi
	wait "$sink"
	t1=$(date +%s.%N)
	awk -v s="$t0" -v e="$t1" -v m="$MIB" 'BEGIN { printf "%.2f\n", m / (e - s) }'
}

out=$root/bench/results
mkdir -p "$out"
echo "run,system,mib_per_s" >"$out/loss_goodput.csv"
for ((r = 1; r <= RUNS; r++)); do
	for sys in bypass linux; do # alternating, so drift hits both alike
		v=$(one "$sys")
		echo "$r,$sys,$v" >>"$out/loss_goodput.csv"
		bp_log "run $r $sys: $v MiB/s"
	done
done
imp_stop
python3 - "$out/loss_goodput.csv" "$LOSS" "$MIB" "$RUNS" >"$out/loss_goodput.md" <<'PY'
import csv, statistics, sys, platform
rows = list(csv.DictReader(open(sys.argv[1])))
v = {s: [float(r["mib_per_s"]) for r in rows if r["system"] == s] for s in ("bypass", "linux")}
med = {s: statistics.median(x) for s, x in v.items()}
print(f"# Goodput under {sys.argv[2]} loss ({sys.argv[3]} MiB per run, {sys.argv[4]} runs each, alternating)\n")
print(f"Host: {platform.node()}, kernel {platform.release()}; rig: bp_impair, loss both directions; CUBIC on both senders.\n")
print("| system | median MiB/s | min | max | spread |")
print("|---|---|---|---|---|")
for s, x in v.items():
    spread = (max(x) - min(x)) / med[s] if med[s] else 0
    print(f"| {s} | {med[s]:.1f} | {min(x):.1f} | {max(x):.1f} | {spread:.0%}{' (noisy)' if spread > 0.2 else ''} |")
print(f"\n**bypass / Linux = {med['bypass'] / med['linux']:.2f}x** (median over median)")
PY
cat "$out/loss_goodput.md"
