#!/usr/bin/env bash
# 1,000 tenants: a config with 1,000 [tenant tNNN] sections, tenant i matched
# by its own uid (UID0 + i, no passwd entry needed) and granted one listen
# port (BASE + i); 1,000 processes (bp_many --uid-base), process i running
# as uid UID0 + i, so the daemon tells them apart by SO_PEERCRED alone.
#  a) the 1,000 sections load fast: `bypassctl config reload` from a config
#     without them (the daemon's start parses the same way)
#  b) every process attaches as its own tenant, listens on its own port and
#     is refused (EACCES) the next tenant's port; `bypassctl status` shows
#     1,000 tenants with one app each; `bypassctl tenants` lists all of them
#     (more than one reply frame: paged) and its --json has 1,000 entries
#  c) every tenant serves one connection from the Linux peer (byte-exact
#     echo), all 1,000 checked
#  d) idle, all still attached: pinned memory per tenant <= 64 KiB (daemon
#     RssAnon growth since before the tenants existed + the app regions'
#     blocks, as test_density.sh counts them) and the daemon <= 2% of a core
#     per fastpath core
#     over 10 s
# TENANTS_N, TENANTS_CPU_SECS, TENANTS_MAX_KIB and TENANTS_TOPO_IDX (the
# topology index, 180) override the defaults
# (a sanitizer build needs more memory).
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
here=$(cd "$(dirname "$0")" && pwd)
N=${TENANTS_N:-1000}
BASE=21000
UID0=210000
GID=210000 # the socket group; it needs no group entry either
SECS=${TENANTS_CPU_SECS:-10}
MAX_CPU_PCT=$((2 * ${BYPASS_FP_CORES:-1})) # each idle fastpath core sleeps and wakes on its own
MAX_KIB=${TENANTS_MAX_KIB:-64}
MAX_RELOAD_MS=2000
CTL=$BP_BUILD/cli/bypassctl
MANY=$BP_BUILD/tests/bp_many
[ -x "$MANY" ] && [ -x "$CTL" ] || bp_die "no $MANY or $CTL: build first"
[ "$N" -ge 2 ] && [ "$N" -le 1023 ] || bp_die "TENANTS_N=$N: 2..1023 (the default tenant is the 1024th)"
probe() { python3 "$here/density_probe.py" "$@"; }

bp_make_tmp
dir=$BP_TMP
chmod 755 "$dir" # the tenants' uids reach the control socket in it

# write_conf NTENANTS: the daemon's config with NTENANTS tenant sections
write_conf() {
	{
		printf '[daemon]\nsocket_group = %s\n[tenants]\nunknown = refuse\n' "$GID"
		awk -v n="$1" -v u="$UID0" -v p="$BASE" 'BEGIN {
			for (i = 0; i < n; i++)
				printf "[tenant t%03d]\nuids = %d\nlisten_ports = %d\n", i, u + i, p + i
		}'
	} >"$dir/fp.conf.new"
	mv "$dir/fp.conf.new" "$dir/fp.conf"
}

bp_topo_up bptden "${TENANTS_TOPO_IDX:-180}"
write_conf 0
BP_FP_ARGS=(--config "$dir/fp.conf")
bp_start_fastpathd
read -r anon0 _ _ < <(probe mem "$BP_FP_PID")

# ---------------------------------------------------------------- (a)
write_conf "$N"
t0=$(date +%s%N)
out=$("$CTL" config reload 2>&1) || bp_die "config reload of $N tenants failed: $out"
reload_ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "reload: $N tenant section(s)" "$BP_FP_LOG" ||
	bp_die "the daemon did not report $N tenant sections applied: $(grep reload: "$BP_FP_LOG" | tail -1)"
read -r anon_t _ _ < <(probe mem "$BP_FP_PID")
bp_log "(a) $N tenant sections reloaded in $reload_ms ms; daemon RssAnon +$((anon_t - anon0)) KiB"
[ "$reload_ms" -le "$MAX_RELOAD_MS" ] || bp_die "reloading $N tenants took $reload_ms ms (> $MAX_RELOAD_MS)"

# ---------------------------------------------------------------- (b)
t0=$(date +%s)
bp_bg "$MANY" -n "$N" -p "$BASE" --uid-base "$UID0" --gid "$GID" >"$dir/many.log" 2>&1
for _ in $(seq 1200); do
	grep -q "^listening $N" "$dir/many.log" && break
	kill -0 "$BP_LAST_PID" 2>/dev/null || { tail -20 "$dir/many.log" >&2; bp_die "bp_many exited"; }
	sleep 0.1
done
grep -q "^listening $N" "$dir/many.log" ||
	{ tail -20 "$dir/many.log" >&2; bp_die "$N tenants not listening after 120 s"; }
bp_log "(b) $N processes, one per tenant, attached and listening in $(($(date +%s) - t0)) s"
"$CTL" status >"$dir/status" || bp_die "bypassctl status failed"
# "tenant NAME id N apps A/MAX ...": each tNNN once, with one app
ok=$(awk '$1 == "tenant" && $2 ~ /^t[0-9]+$/ && $5 == "apps" && $6 ~ /^1\// { print $2 }' \
	"$dir/status" | sort -u | wc -l)
[ "$ok" -eq "$N" ] || { grep '^tenant' "$dir/status" | head -5 >&2;
	bp_die "bypassctl status shows $ok tenants with one app, want $N"; }
denied=$("$CTL" stats | awk '$1 ~ /^tenant\.t[0-9]+\.denied_port$/ && $2 == 1 { n++ } END { print n + 0 }')
[ "$denied" -eq "$N" ] || bp_die "$denied tenants have one port denial counted, want $N"
# tenants pages past one reply frame (about 400 tenants): every tNNN once
"$CTL" tenants >"$dir/tenants" || bp_die "bypassctl tenants failed"
ok=$(awk '$1 ~ /^t[0-9]+$/ && $3 ~ /^1\// { print $1 }' "$dir/tenants" | sort -u | wc -l)
[ "$ok" -eq "$N" ] && ! grep -q "more tenants not shown" "$dir/tenants" ||
	{ tail -3 "$dir/tenants" >&2; bp_die "bypassctl tenants lists $ok tenants with one app, want $N"; }
"$CTL" tenants --json >"$dir/tenants.json" || bp_die "bypassctl tenants --json failed"
out=$(python3 "$here/bypassctl_json.py" tenants \
	"[sum(t['name'][1:].isdigit() for t in d['tenants']), len(set(t['name'] for t in d['tenants'])) == len(d['tenants']), d['omitted']]" \
	<"$dir/tenants.json") || bp_die "tenants --json does not match bypassctl(8)"
[ "$out" = "[$N, true, 0]" ] || bp_die "tenants --json: [tNNN entries, each once, omitted] = $out, want [$N, true, 0]"
echo "ok: (b) bypassctl status: $N tenants with one app each; each refused the next tenant's port (EACCES, counted); tenants lists all $N (text and JSON)"

# ---------------------------------------------------------------- (c)
out=$(bp_peer timeout 120 python3 "$here/many_clients.py" "$BP_IP" "$BASE" "$N" 64) ||
	{ echo "$out" >&2; bp_die "not every tenant served its connection"; }
grep -q "^$N of $N connections echoed" <<<"$out" || bp_die "echo count wrong: $out"
echo "ok: (c) $out (one per tenant, from the Linux peer)"

# ---------------------------------------------------------------- (d)
# idle: TIME_WAIT (2 s) ends, then closed connections' buffers go back
# (no sooner than 2 s after a tenant app's last allocation, looked at once
# a second: slots.c), and the fastpath finds nothing to do for 1 s
bp_wait_no_flows
sleep 3
read -r anon1 memfd_kb nmemfd < <(probe mem "$BP_FP_PID")
[ "$nmemfd" -eq "$N" ] || bp_die "fastpathd holds $nmemfd app regions, expected $N"
per=$(((anon1 - anon0 + memfd_kb) / N))
bp_log "(d) memory: RssAnon +$((anon1 - anon0)) KiB (tenants +$((anon_t - anon0))), regions $memfd_kb KiB: $per KiB per idle tenant"
cpu=$(probe cpu "$BP_FP_PID" "$SECS")
bp_log "(d) idle fastpathd with $N tenants attached: $cpu% of a core over $SECS s"
[ "$per" -le "$MAX_KIB" ] || bp_die "$per KiB per idle tenant, more than $MAX_KIB"
awk -v c="$cpu" -v m="$MAX_CPU_PCT" 'BEGIN { exit !(c <= m) }' ||
	bp_die "idle fastpathd used $cpu% of a core, more than $MAX_CPU_PCT%"
echo "ok: (d) idle: $per KiB per tenant, $cpu% of a core"
echo "PASS: $N tenants (one uid, one process, one port each) each served a connection;" \
	"reload ${reload_ms} ms; idle: $per KiB per tenant, $cpu% of a core over $SECS s"
