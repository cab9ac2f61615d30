#!/usr/bin/env bash
# Goodput through a lossy wire (bp_impair, 1% loss both ways by default):
# a bypass sender (bpcat, CUBIC in fastpathd) against a Linux sender
# (CUBIC, per socket) from the same side of the same rig to the same Linux
# receiver, alternating, RUNS times each; prints medians, min/max and the
# ratio, and writes bench/results/loss_goodput.{csv,md} (with another
# --loss, loss_goodput-<P>pct.{csv,md}).  Linux runs twice: as it comes
# (a 200 ms minimum RTO) and with its route's rto_min at 10 ms, fastpathd's
# default min_rto_ms, so the ratio is not only the two defaults.
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
	-h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
		if [ "$1" = linux-rto10 ]; then
			imp_lx ip route replace "$BP_PEER_IP/32" dev "$lx_dev" rto_min 10ms
		else
			imp_lx ip route del "$BP_PEER_IP/32" 2>/dev/null || true
		fi
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

lx_dev=$(imp_lx ip -o route get "$BP_PEER_IP" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
[ -n "$lx_dev" ] || bp_die "no route to $BP_PEER_IP in the Linux sender's namespace"
out=$root/bench/results
tag=""
[ "$LOSS" = 1% ] || tag="-${LOSS%\%}pct"
mkdir -p "$out"
echo "run,system,mib_per_s" >"$out/loss_goodput$tag.csv"
for ((r = 1; r <= RUNS; r++)); do
	for sys in bypass linux linux-rto10; do # alternating, so drift hits all alike
		v=$(one "$sys")
		echo "$r,$sys,$v" >>"$out/loss_goodput$tag.csv"
		bp_log "run $r $sys: $v MiB/s"
	done
done
imp_stop
python3 - "$out/loss_goodput$tag.csv" "$LOSS" "$MIB" "$RUNS" >"$out/loss_goodput$tag.md" <<'PY'
import csv, statistics, sys, platform
rows = list(csv.DictReader(open(sys.argv[1])))
v = {s: [float(r["mib_per_s"]) for r in rows if r["system"] == s]
     for s in ("bypass", "linux", "linux-rto10")}
med = {s: statistics.median(x) for s, x in v.items()}
print(f"# Goodput under {sys.argv[2]} loss ({sys.argv[3]} MiB per run, {sys.argv[4]} runs each, alternating)\n")
print(f"Host: {platform.node()}, kernel {platform.release()}; rig: bp_impair, loss both directions; CUBIC on both senders.\n")
print("| system | median MiB/s | min | max | spread |")
print("|---|---|---|---|---|")
for s, x in v.items():
    spread = (max(x) - min(x)) / med[s] if med[s] else 0
    print(f"| {s} | {med[s]:.1f} | {min(x):.1f} | {max(x):.1f} | {spread:.0%}{' (noisy)' if spread > 0.2 else ''} |")
print(f"\n**bypass / Linux = {med['bypass'] / med['linux']:.2f}x**, "
      f"**bypass / Linux with rto_min 10 ms = {med['bypass'] / med['linux-rto10']:.2f}x** "
      "(median over median)\n")
print("linux: Linux's defaults (rto_min 200 ms); linux-rto10: its route's rto_min at 10 ms, "
      "fastpathd's default min_rto_ms.")
PY
cat "$out/loss_goodput$tag.md"
