#!/usr/bin/env bash
# Per-tenant rate, weights and classes, enforced by the fastpath (issue 12),
# measured by Linux receivers.  Bypass senders (bp_flows, bp_load) run under
# their own uids, which the [tenant NAME] sections map to tenants:
#  a) tenant a at rate = 200mbit: a Linux receiver sees 200 Mbit/s +-5%;
#     the config changed to 50mbit and SIGHUP: every 1 s window from 1 s
#     after the reload is 50 Mbit/s +-5%, and both connections live on;
#  a2) tenant a at 100 kbit/s runs through its 512 KiB bucket and then owes
#     it (42 s at that rate); raised live (bypassctl tenant set), it sends
#     again at once: 1 MB or more in the next 2 s;
#  b) tenants b (weight 3) and c (weight 1), both saturating the port
#     ([fastpath] tx_rate_mbit = 60, the capacity the fastpath shares;
#     less if this machine cannot carry 3x that now):
#     bytes received within 10% of 3:1;
#  c) a latency-class tenant's ping-pong p99 under a bulk-class tenant's
#     load is within 2x its p99 alone, on a machine with 4 CPUs or more.
#     With fewer, the Linux peer, both loads and the daemon share them and
#     the p99 measures who waits for a CPU (3x to 10x on 2 vCPUs, from run
#     to run): the figures are measured and logged, the bound is not
#     checked, and the PASS line says so.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
command -v setpriv >/dev/null || bp_die "setpriv (util-linux) is needed to run apps under other uids"

SINK=$(dirname "$0")/tenant_sink.py
CTL=$BP_BUILD/cli/bypassctl
FLOWS=$BP_BUILD/tests/bp_flows
LOAD=$BP_BUILD/bench/bp_load
ECHO=$BP_BUILD/bench/bp_echo_srv
for b in "$FLOWS" "$LOAD" "$ECHO"; do [ -x "$b" ] || bp_die "not built: $b"; done
# rates the two shared vCPUs sustain; scaled down below if this machine,
# now, cannot carry them with room to spare (see "capacity")
HI=${BP_TQ_RATE_HI:-200} LO=${BP_TQ_RATE_LO:-50} PORT_MBIT=${BP_TQ_PORT_MBIT:-60}
UA=64101 UB=64102 UC=64103 UL=64104 UK=64105 UD=64199

bp_make_tmp
chmod 755 "$BP_TMP" # the apps run under other uids: the socket must be reachable
CONF=$BP_TMP/fastpathd.ini

# write_conf RATE_A (Mbit/s); the port's capacity is $PORT
write_conf() {
	cat >"$CONF.new" <<EOF
[daemon]
socket_mode = 0666

[fastpath]
tx_rate_mbit = $PORT

; deep send buffers (250 ms at 130 Mbit/s): a sender that this shared
; machine deschedules for a while must still have data queued, or its
; tenant stops competing and its weight cannot show
[apps]
tx_buf = 4194304
max_flows = 16

[tenants]
unknown = default

[tenant a]
uids = $UA
rate = ${1}mbit
; a deeper bucket than the default (64 KiB, 2.6 ms at 200 Mbit/s): a
; daemon that shares its CPU may be descheduled longer than that, and
; tokens beyond the depth are lost
burst = 512k

[tenant b]
uids = $UB
weight = 3

[tenant c]
uids = $UC
weight = 1

[tenant lat]
uids = $UL
class = latency

[tenant bulk]
uids = $UK
class = bulk
EOF
	mv "$CONF.new" "$CONF"
}

as_uid() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --clear-groups "$@"
}


# start_sink PORT SECONDS OUT: a Linux receiver in the peer namespace
start_sink() {
	bp_bg bp_peer python3 "$SINK" "$1" "$2" "$3"
	SINK_PID=$BP_LAST_PID
	bp_wait_peer_listen "$1"
}

# mbit_of OUT.json: the receiver's rate from 1 s after the first byte to the last
mbit_of() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); tot = [sum(c["bytes"][i] for c in d["conns"]) for i in range(len(d["conns"][0]["bytes"]))]
nz = [i for i, v in enumerate(tot) if v]; a = nz[0] + 10
print("%.0f" % (sum(tot[a:nz[-1]]) * 8 / ((nz[-1] - a) * d["slice"]) / 1e6))' "$1"
}

bp_topo_up bptq 160
PORT=0 # a) and the capacity: no port limit
write_conf "$HI"
BP_FP_ARGS=(--config "$CONF")
bp_start_fastpathd
dir=$BP_TMP

# ---- capacity: what an unlimited tenant gets now (the default tenant)
start_sink 7200 6 "$dir/cap.json"
as_uid "$UD" "$FLOWS" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:7200" --conns 2 --seconds 5 \
	>"$dir/cap.flows" 2>&1 || bp_die "capacity: bp_flows failed"
wait "$SINK_PID" || bp_die "capacity: sink failed"
cap=$(mbit_of "$dir/cap.json")
bp_log "capacity: an unlimited tenant gets $cap Mbit/s"
if [ "$cap" -lt $((HI * 8 / 5)) ]; then
	HI=$((cap * 6 / 10)) LO=$((cap * 6 / 40))
	[ "$HI" -ge 20 ] || bp_die "this machine carries only $cap Mbit/s now: too loaded to measure rates"
	bp_log "capacity: too little room for 200/50 Mbit/s: measuring $HI/$LO Mbit/s instead"
	write_conf "$HI"
	kill -HUP "$BP_FP_PID"
fi

# ---- a) rate, then changed live
start_sink 7201 13 "$dir/rate.json"
bp_bg as_uid "$UA" "$FLOWS" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:7201" --conns 2 \
	--seconds 12 >"$dir/rate.flows" 2>&1
flows_pid=$BP_LAST_PID
sleep 6
write_conf "$LO"
t_reload=$EPOCHREALTIME # a python's start-up can take seconds on a loaded machine
kill -HUP "$BP_FP_PID"
wait "$flows_pid" || { cat "$dir/rate.flows" >&2; bp_die "a: bp_flows failed (connections broken?)"; }
wait "$SINK_PID" || bp_die "a: sink failed"
grep -q "reload" "$BP_FP_LOG" && grep "reload" "$BP_FP_LOG" >&2
python3 - "$dir/rate.json" "$t_reload" "$HI" "$LO" <<'PY' || bp_die "a: rate not enforced (above)"
import json, sys
d = json.load(open(sys.argv[1])); reload = float(sys.argv[2]) - d["t0_real"]; sl = d["slice"]
HI, LO = float(sys.argv[3]), float(sys.argv[4])
conns = d["conns"]
tot = [sum(c["bytes"][i] for c in conns) for i in range(len(conns[0]["bytes"]))]
first = next(i for i, b in enumerate(tot) if b)
def mbit(a, b):  # seconds since t0, [a, b)
    i, j = int(round(a / sl)), int(round(b / sl))
    return sum(tot[i:j]) * 8 / ((j - i) * sl) / 1e6
ok = True
print("a: Mbit/s per second from the first byte (reload at +%.1f s):" % (reload - first * sl),
      " ".join("%.0f" % mbit(first * sl + k, first * sl + k + 1) for k in range(int((len(tot) - first) * sl))))
# Each 1 s window: never above the rate by more than 5%; the median
# window within 5% of it.  Below the rate, a window only says that this
# shared machine descheduled a sender or the daemon for a while.
def judge(name, rate, wins):
    global ok
    if not wins:
        print("FAIL: %s: no full second measured" % name); ok = False; return
    med = sorted(wins)[len(wins) // 2]
    print("a: %s, %.0f Mbit/s: median %.1f, max %.1f Mbit/s over %d windows of 1 s"
          % (name, rate, med, max(wins), len(wins)))
    if max(wins) > rate * 1.05:
        print("FAIL: %s: a window above %.0f Mbit/s + 5%%" % (name, rate)); ok = False
    if abs(med - rate) > rate * 0.05:
        print("FAIL: %s: median not within 5%% of %.0f Mbit/s" % (name, rate)); ok = False
t, wins = first * sl + 1.5, []
while t + 1.0 <= reload - 0.1:
    wins.append(mbit(t, t + 1.0)); t += 1.0
judge("before the reload", HI, wins)
last = max(i for i, b in enumerate(tot) if b) * sl
t, wins = reload + 1.0, []
while t + 1.0 <= last - 0.3:
    wins.append(mbit(t, t + 1.0)); t += 1.0
judge("from 1 s after the reload", LO, wins)
# intact: both still deliver in the last 2 s (the tenant's tokens are
# shared by its flows, not split evenly in every instant)
live = [c for c in conns if sum(c["bytes"][int(last / sl) - 20:]) > 0]
if len(conns) != 2 or len(live) != 2:
    print("FAIL: %d connections, %d still sending in the last 2 s" % (len(conns), len(live))); ok = False
sys.exit(0 if ok else 1)
PY

# ---- a2) a raised rate is not held back by the debt of the old one
start_sink 7204 13 "$dir/raise.json"
"$CTL" tenant set a rate 100kbit >/dev/null || bp_die "a2: tenant set a rate 100kbit failed"
a_tx() { bp_stat stats tenant.a.tx_bytes; }
# before the sender starts: read after, part of the burst could be gone
# already (a CI run saw 226 KB of it counted)
a0=$(a_tx) || bp_die "a2: bypassctl stats failed"
bp_bg as_uid "$UA" "$FLOWS" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:7204" --conns 1 \
	--seconds 12 >"$dir/raise.flows" 2>&1
flows_pid=$BP_LAST_PID
for _ in $(seq 80); do # the 512 KiB burst goes out, then a owes 42 s
	[ $(($(a_tx) - a0)) -ge 500000 ] && break
	sleep 0.1
done
[ $(($(a_tx) - a0)) -ge 500000 ] || bp_die "a2: tenant a sent only $(($(a_tx) - a0)) bytes of its burst in 8 s"
sleep 0.5
"$CTL" tenant set a rate "${HI}mbit" >/dev/null || bp_die "a2: tenant set a rate ${HI}mbit failed"
a1=$(a_tx) || bp_die "a2: bypassctl stats failed"
sleep 2
a2=$(a_tx) || bp_die "a2: bypassctl stats failed"
bp_log "a2: at 100 kbit/s tenant a sent $((a1 - a0)) bytes; raised to $HI Mbit/s, $((a2 - a1)) in 2 s"
[ $((a2 - a1)) -ge 1000000 ] ||
	bp_die "a2: raised to $HI Mbit/s, tenant a sent only $((a2 - a1)) bytes in 2 s (waiting out the old rate's debt?)"
wait "$flows_pid" || { cat "$dir/raise.flows" >&2; bp_die "a2: bp_flows failed"; }
wait "$SINK_PID" || bp_die "a2: sink failed"

# ---- b) weights 3:1 under the port's capacity ([fastpath] needs a restart)
bp_stop_fastpathd || bp_die "fastpathd did not stop cleanly"
if [ "$cap" -lt $((PORT_MBIT * 3)) ]; then
	PORT_MBIT=$((cap / 3))
	bp_log "capacity: port capacity for b) and c) scaled down to $PORT_MBIT Mbit/s"
fi
PORT=$PORT_MBIT
write_conf "$LO"
bp_start_fastpathd
start_sink 7202 14 "$dir/wb.json"
sink_b=$SINK_PID
start_sink 7203 14 "$dir/wc.json"
sink_c=$SINK_PID
bp_bg as_uid "$UB" "$FLOWS" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:7202" --conns 2 \
	--seconds 13 >"$dir/wb.flows" 2>&1
fb=$BP_LAST_PID
bp_bg as_uid "$UC" "$FLOWS" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:7203" --conns 2 \
	--seconds 13 >"$dir/wc.flows" 2>&1
fc=$BP_LAST_PID
wait "$fb" || bp_die "b: bp_flows (tenant b) failed"
wait "$fc" || bp_die "b: bp_flows (tenant c) failed"
wait "$sink_b" && wait "$sink_c" || bp_die "b: sink failed"
python3 - "$dir/wb.json" "$dir/wc.json" "$PORT_MBIT" <<'PY' || bp_die "b: weights not enforced (above)"
import json, sys
b, c = (json.load(open(f)) for f in sys.argv[1:3]); port = float(sys.argv[3])
# a common window: from 2 s after both started to 1 s before the first ends
def series(d):
    tot = [sum(x["bytes"][i] for x in d["conns"]) for i in range(len(d["conns"][0]["bytes"]))]
    nz = [i for i, v in enumerate(tot) if v]
    return tot, d["t0"] + nz[0] * d["slice"], d["t0"] + nz[-1] * d["slice"]
(tb, sb, eb), (tc, sc, ec) = series(b), series(c)
lo, hi = max(sb, sc) + 2, min(eb, ec) - 1
def mbit(d, tot):
    i, j = int((lo - d["t0"]) / d["slice"]), int((hi - d["t0"]) / d["slice"])
    return sum(tot[i:j]) * 8 / ((j - i) * d["slice"]) / 1e6
rb, rc = mbit(b, tb), mbit(c, tc)
ratio = rb / rc if rc else float("inf")
print("b: weight 3: %.1f Mbit/s, weight 1: %.1f Mbit/s, ratio %.2f, total %.1f of %.0f, over %.1f s"
      % (rb, rc, ratio, rb + rc, port, hi - lo))
if rb + rc < 0.9 * port or hi - lo < 4:
    # without contention for the port, weights have nothing to decide
    print("FAIL: the two tenants did not saturate the port together for 4 s")
    sys.exit(1)
sys.exit(0 if 2.7 <= ratio <= 3.3 else 1)
PY

# ---- c) a latency-class tenant's ping-pong under a bulk tenant's load
bp_bg bp_peer "$ECHO" --stack linux -p 7300
bp_wait_peer_listen 7300
# pingpong TAG: the p99 in microseconds of 3 s of 64-byte ping-pong
pingpong() {
	as_uid "$UL" "$LOAD" --stack bypass --socket "$BYPASS_SOCKET" --server "$BP_PEER_IP" \
		--port 7300 --duration 3 --warmup 1 --size 64 --header pingpong >"$dir/pp-$1.csv" ||
		bp_die "c: bp_load ($1) failed"
	python3 -c 'import csv, sys; r = list(csv.DictReader(open(sys.argv[1]))); print(r[-1]["lat_p99_us"])' \
		"$dir/pp-$1.csv"
}
alone=$(pingpong alone)
start_sink 7204 9 "$dir/bulk.json"
bp_bg as_uid "$UK" "$FLOWS" --socket "$BYPASS_SOCKET" --to "$BP_PEER_IP:7204" --conns 4 \
	--seconds 8 >"$dir/bulk.flows" 2>&1
fk=$BP_LAST_PID
sleep 1.5
loaded=$(pingpong loaded)
wait "$fk" || bp_die "c: bp_flows (bulk) failed"
wait "$SINK_PID" || bp_die "c: sink failed"
bulk=$(mbit_of "$dir/bulk.json")
bp_log "c: latency tenant p99 alone ${alone} us, under bulk load (${bulk} Mbit/s) ${loaded} us"
[ "$bulk" -ge $((PORT_MBIT / 4)) ] || bp_die "c: the bulk tenant hardly sent (${bulk} Mbit/s): no load"
if [ "$(nproc)" -lt 4 ]; then
	bp_log "c: NOT CHECKED: $(nproc) CPUs; the 2x bound needs 4 or more (see the top)"
	echo "PASS: tenant rate $HI -> $LO Mbit/s live, a raised rate at once, weights 3:1; c) measured, not checked on $(nproc) CPUs"
	exit 0
fi
awk -v a="$alone" -v l="$loaded" 'BEGIN { exit !(l <= 2 * a) }' ||
	bp_die "c: p99 under load ${loaded} us is more than 2x the p99 alone (${alone} us)"
echo "PASS: tenant rate $HI -> $LO Mbit/s live, weights 3:1, latency-class p99 under bulk load within 2x of alone"
