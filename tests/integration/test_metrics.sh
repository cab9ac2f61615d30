#!/usr/bin/env bash
# Metrics: with traffic from a Linux peer, `bypassctl metrics` and the
# [metrics] listen endpoint return Prometheus text that a strict parser
# (`promtool check metrics` where Debian's prometheus package is installed,
# and always prom_check.py, promtool's rules) accepts, and whose counters moved with
# the traffic; DPDK telemetry answers /bypass/status with the same
# counters; a non-admin sees only its own tenant; the listener survives a
# slowloris and a 1 MB request; a non-loopback listen address is refused;
# a unix: listen address serves root only.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
HERE=$(cd "$(dirname "$0")" && pwd)
CTL=$BP_BUILD/cli/bypassctl
CHECK=$HERE/prom_check.py
PROMTOOL=$(command -v promtool || true)
# prom_ok FILE: the text passes prom_check.py and, when installed, promtool
# (which also lints: any problem it prints fails the test)
prom_ok() {
	python3 "$CHECK" "$1" >/dev/null || { python3 "$CHECK" "$1"; return 1; }
	[ -n "$PROMTOOL" ] || return 0
	local out rc=0
	out=$("$PROMTOOL" check metrics <"$1" 2>&1) || rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] && return 0
	echo "promtool check metrics ($1): exit $rc: $out" >&2
	return 1
}
[ -n "$PROMTOOL" ] && echo "using $PROMTOOL ($("$PROMTOOL" --version 2>&1 | head -1))" ||
	echo "no promtool (Debian package prometheus): prom_check.py only"
bp_make_tmp
dir=$BP_TMP
chmod 755 "$dir"
PORT=9464
cat >"$dir/fp.conf" <<EOC
[daemon]
socket_mode = 0666
[metrics]
listen = 127.0.0.1:$PORT
[tenant mine]
uids = nobody
[tenant other]
uids = 4242
EOC
# enough tenants that bypassctl's reply takes more than one frame
for i in $(seq 60); do printf '[tenant bulk%s]\nuids = %s\n' "$i" $((5000 + i)); done >>"$dir/fp.conf"
NTENANTS=63

# value of one series (name and labels exactly as printed), 0 if absent
val() { awk -v k="$2" '$1 == k {print $2; f=1} END {if (!f) print 0}' "$1"; }
scrape() { ip netns exec "$BP_NS_DP" curl -sS --max-time 5 "http://127.0.0.1:$PORT/metrics"; }

bp_log "(a) a non-loopback listen address is refused"
IDX=${METRICS_TOPO_IDX:-120} # the topology index, to run side by side
bp_topo_up bpmetric "$IDX"
out=$(ip netns exec "$BP_NS_DP" "$BP_BUILD/fastpathd/fastpathd" --port "net_af_packet0,iface=$BP_DEV" \
	--ip "$BP_IP/24" --no-huge --mem 256 --socket "$dir/refused.sock" \
	--config <(printf '[metrics]\nlisten = 198.18.%s.1:%s\n' "$IDX" $PORT) 2>&1) &&
	bp_die "fastpathd started with a non-loopback metrics address: $out"
echo "$out" | grep -q "allow_remote" || bp_die "the refusal does not say what to do: $out"
echo "ok: (a) $(echo "$out" | grep -o 'not a loopback address.*' | head -1 | cut -c1-80)..."

bp_log "(b) traffic from the Linux peer, then bypassctl metrics and GET /metrics"
BP_FP_ARGS=(--config "$dir/fp.conf")
bp_start_fastpathd
export BYPASS_SOCKET
"$CTL" metrics >"$dir/m0.txt" || bp_die "bypassctl metrics failed"
prom_ok "$dir/m0.txt" || bp_die "bypassctl metrics before traffic does not parse"
SIZE=$((8 << 20))
head -c $SIZE /dev/urandom >"$dir/in"
bp_bg timeout 120 "$BP_BUILD/client-lib/bpcat" -v -l -p 5001 >"$dir/out" 2>"$dir/bpcat.log"
sink=$BP_LAST_PID
bp_wait_listening "$dir/bpcat.log"
bp_peer timeout 120 nc -N "$BP_IP" 5001 <"$dir/in" || bp_die "nc failed"
wait "$sink" || bp_die "bpcat failed: $(cat "$dir/bpcat.log")"
[ "$(stat -c %s "$dir/out")" = $SIZE ] || bp_die "bpcat received $(stat -c %s "$dir/out") bytes, not $SIZE"

"$CTL" metrics >"$dir/m1.txt" || bp_die "bypassctl metrics failed"
prom_ok "$dir/m1.txt" || bp_die "bypassctl metrics output does not parse (above)"
scrape >"$dir/h1.txt" || bp_die "GET /metrics failed"
prom_ok "$dir/h1.txt" || bp_die "GET /metrics output does not parse (above)"
ip netns exec "$BP_NS_DP" curl -sS -D "$dir/hdr" -o /dev/null "http://127.0.0.1:$PORT/metrics"
grep -qi "^content-type: text/plain; version=0.0.4" "$dir/hdr" || bp_die "bad content type: $(cat "$dir/hdr")"
for f in m1 h1; do
	rx=$(val "$dir/$f.txt" bypass_rx_payload_bytes_total)
	trx=$(val "$dir/$f.txt" 'bypass_tenant_rx_payload_bytes_total{tenant="default"}')
	prx=$(val "$dir/$f.txt" 'bypass_port_rx_bytes_total{port="0"}')
	# every core's frames: with cores = 2 the flow may be core 1's
	crx=$(awk '$1 ~ /^bypass_core_rx_packets_total\{/ {s += $2} END {print s + 0}' "$dir/$f.txt")
	[ "$rx" -ge $SIZE ] || bp_die "$f: bypass_rx_payload_bytes_total $rx < $SIZE bytes sent"
	[ "$trx" -ge $SIZE ] || bp_die "$f: tenant default received $trx < $SIZE bytes"
	[ "$prx" -ge $SIZE ] || bp_die "$f: port received $prx < $SIZE bytes"
	[ "$crx" -ge $((SIZE / 1500)) ] || bp_die "$f: the cores processed $crx frames in all"
done
before=$(val "$dir/m0.txt" bypass_rx_payload_bytes_total)
echo "ok: (b) both parse ($(python3 "$CHECK" "$dir/h1.txt")); rx payload bytes $before -> $rx for $SIZE sent," \
	"tenant default $trx, port $prx"
for f in m1 h1; do
	[ "$(grep -c '^bypass_tenant_flows{' "$dir/$f.txt")" = $NTENANTS ] ||
		bp_die "$f: root does not see all $NTENANTS tenants"
done
[ "$(wc -c <"$dir/m1.txt")" -gt $((48 << 10)) ] || bp_die "bypassctl's reply fits one frame: chunking untested"
series() { grep -v '^bypass_metrics_http\|^bypass_ctl_accepted' "$1" | sed 's/ [0-9.]*$//'; }
cmp -s <(series "$dir/m1.txt") <(series "$dir/h1.txt") ||
	bp_die "bypassctl metrics and GET /metrics list different series"

bp_log "(c) DPDK telemetry"
tel=/var/run/dpdk/fastpathd-$BP_FP_PID/dpdk_telemetry.v2
[ -S "$tel" ] || bp_die "no telemetry socket at $tel"
sleep 1.2 # the telemetry snapshot is refreshed every second
python3 "$HERE/dpdk_tel.py" "$tel" /bypass/status /bypass/tenants /bypass/tenant,default /bypass/cores \
	/bypass/ports >"$dir/tel.json" || bp_die "telemetry query failed"
python3 - "$dir/tel.json" "$SIZE" <<'EOP' || bp_die "telemetry replies wrong: $(cut -c1-300 "$dir/tel.json")"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
size = int(sys.argv[2])
st = r[0]["/bypass/status"]
assert st["rx_payload_bytes_total"] >= size, st["rx_payload_bytes_total"]
assert st["version"], st
assert {"default", "mine", "other"} <= set(r[1]["/bypass/tenants"]), r[1]
assert len(r[1]["/bypass/tenants"]) == 63, r[1]
assert r[2]["/bypass/tenant"]["rx_payload_bytes_total"] >= size, r[2]
assert sum(c["rx_packets_total"] for c in r[3]["/bypass/cores"].values()) >= size // 1500, r[3]
assert r[4]["/bypass/ports"]["0"]["rx_bytes_total"] >= size, r[4]
print("ok: (c) telemetry /bypass/status rx_payload_bytes_total %d, %d tenants"
      % (st["rx_payload_bytes_total"], len(r[1]["/bypass/tenants"])))
EOP

bp_log "(d) a non-admin sees only its own tenant"
ip netns exec "$BP_NS_DP" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	env BYPASS_SOCKET="$BYPASS_SOCKET" "$CTL" metrics >"$dir/u.txt" ||
	bp_die "bypassctl metrics as nobody failed"
prom_ok "$dir/u.txt" || bp_die "non-admin output does not parse"
tenants=$(grep -o 'tenant="[^"]*"' "$dir/u.txt" | sort -u | xargs)
[ "$tenants" = 'tenant=mine' ] || bp_die "nobody sees tenants: $tenants"
grep -q '^bypass_rx_payload_bytes_total ' "$dir/u.txt" || bp_die "nobody lost the global series"
echo "ok: (d) nobody sees $tenants and the global series"

bp_log "(e) the listener survives a slowloris, a 1 MB request and stalled readers"
ip netns exec "$BP_NS_DP" python3 "$HERE/http_abuse.py" 127.0.0.1 $PORT slowloris 24 ||
	bp_die "slowloris test failed"
ip netns exec "$BP_NS_DP" python3 "$HERE/http_abuse.py" 127.0.0.1 $PORT big || bp_die "1 MB request test failed"
# a reply must outgrow the kernel's buffers to stall: loopback's 64 KiB MSS
# sizes the daemon's send buffer for megabytes (this namespace's own lo)
ip netns exec "$BP_NS_DP" ip link set lo mtu 1500
scrape >"$dir/h1.txt" || bp_die "GET /metrics failed before the stalled readers"
ip netns exec "$BP_NS_DP" python3 "$HERE/http_abuse.py" 127.0.0.1 $PORT stalled 16 ||
	bp_die "16 clients that asked and stopped reading locked the scraper out"
scrape >"$dir/h2.txt" || bp_die "GET /metrics failed after the abuse"
prom_ok "$dir/h2.txt" || bp_die "output after the abuse does not parse"
kill -0 "$BP_FP_PID" || bp_die "fastpathd died"
grep '^bypass_metrics_http' "$dir/h2.txt" | grep -v ' 0$' | sed 's/^/  /'
[ "$(val "$dir/h2.txt" 'bypass_metrics_http_dropped_total{reason="timeout"}')" -ge 1 ] ||
	[ "$(val "$dir/h2.txt" 'bypass_metrics_http_dropped_total{reason="evicted"}')" -ge 1 ] ||
	bp_die "no slowloris connection counted as dropped"
# the scrape had to evict one: else the replies fitted the buffers and the
# stalled readers proved nothing
ev='bypass_metrics_http_dropped_total{reason="evicted"}'
[ "$(val "$dir/h2.txt" "$ev")" -gt "$(val "$dir/h1.txt" "$ev")" ] ||
	bp_die "no stalled reader was evicted (their replies fitted the buffers?)"
[ "$(val "$dir/h2.txt" 'bypass_metrics_http_requests_total{code="431"}')" -ge 1 ] ||
	bp_die "the 1 MB request was not answered 431"
echo "ok: (e) slowloris, 1 MB request and stalled readers cut off, /metrics still served"

bp_log "(f) a unix: listen address: served to root, the socket mode 0600"
bp_stop_fastpathd || bp_die "fastpathd did not stop cleanly"
out=$(ip netns exec "$BP_NS_DP" "$BP_BUILD/fastpathd/fastpathd" --port "net_af_packet0,iface=$BP_DEV" \
	--ip "$BP_IP/24" --no-huge --mem 256 --socket "$dir/refused2.sock" \
	--config <(printf '[metrics]\nlisten = unix:relative.sock\n') 2>&1) &&
	bp_die "fastpathd started with a relative unix: metrics path: $out"
echo "$out" | grep -q "absolute path" || bp_die "the refusal does not say what is wrong: $out"
usock=$dir/metrics.sock
printf '[metrics]\nlisten = unix:%s\n' "$usock" >"$dir/fp-unix.conf"
BP_FP_ARGS=(--config "$dir/fp-unix.conf")
bp_start_fastpathd
[ "$(stat -c %a "$usock")" = 600 ] || bp_die "metrics socket mode $(stat -c %a "$usock"), want 600"
ip netns exec "$BP_NS_DP" curl -sS --max-time 5 --unix-socket "$usock" http://bypass/metrics >"$dir/u1.txt" ||
	bp_die "GET /metrics over $usock failed"
python3 "$CHECK" "$dir/u1.txt" >/dev/null || bp_die "output over the unix socket does not parse"
ip netns exec "$BP_NS_DP" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	curl -sS --max-time 5 --unix-socket "$usock" http://bypass/metrics >/dev/null 2>&1 &&
	bp_die "nobody read the root-only metrics socket"
grep -q '^bypass_rx_payload_bytes_total ' "$dir/u1.txt" || bp_die "no bypass_rx_payload_bytes_total over unix"
echo "ok: (f) unix:$usock serves /metrics to root, not to nobody (mode 600); a relative path is refused"
echo "PASS: metrics"
