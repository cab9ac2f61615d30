#!/usr/bin/env bash
# Density: 1,000 apps (libbypass contexts, bp_many) attached to one
# fastpathd, each serving one connection from a Linux peer; then, all idle
# and still attached, the daemon must use at most 2% of a core and at most
# 64 KiB per app (anonymous memory it grew by plus the app regions' blocks).
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
here=$(dirname "$0")
N=${DENSITY_APPS:-1000}
BASE=20000
MAX_CPU_PCT=2
MAX_KIB_PER_APP=${DENSITY_MAX_KIB:-64} # a sanitizer build needs more

bp_topo_up bpidens 170
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
SECS=${DENSITY_CPU_SECS:-5}
probe() { python3 "$here/density_probe.py" "$@"; }
read -r anon0 _ _ < <(probe mem "$BP_FP_PID")
sleep 1.5 # the fastpath's deep idle begins after 1 s without work
cpu0=$(probe cpu "$BP_FP_PID" "$SECS")
bp_log "idle fastpathd, no app attached: $cpu0% of a core over $SECS s"

t0=$(date +%s)
bp_bg "$BP_BUILD/tests/bp_many" -n "$N" -p "$BASE" -P $(((N + 99) / 100)) >"$dir/many.log" 2>&1
for _ in $(seq 600); do
	grep -q "^listening $N" "$dir/many.log" && break
	kill -0 "$BP_LAST_PID" 2>/dev/null || { cat "$dir/many.log" >&2; bp_die "bp_many exited"; }
	sleep 0.1
done
grep -q "^listening $N" "$dir/many.log" || { cat "$dir/many.log" >&2; bp_die "$N apps not listening after 60 s"; }
bp_log "$N apps attached and listening in $(($(date +%s) - t0)) s"

out=$(bp_peer timeout 120 python3 "$here/many_clients.py" "$BP_IP" "$BASE" "$N" 64) ||
	{ echo "$out" >&2; bp_die "not every app served its connection"; }
echo "$out"
grep -q "^$N of $N connections echoed" <<<"$out" || bp_die "echo count wrong: $out"

# idle means no flow left (TIME_WAIT is 2 s; a slow machine may take
# longer to close 300)
bp_wait_no_flows
# then closed connections' buffers go back (no sooner than 2 s after an
# app's last allocation, looked at once a second: slots.c), and 1 s with
# nothing to do puts the fastpath in deep idle
sleep 3
read -r anon1 memfd_kb nmemfd < <(probe mem "$BP_FP_PID")
[ "$nmemfd" -eq "$N" ] || bp_die "fastpathd holds $nmemfd app regions, expected $N"
per_app=$(((anon1 - anon0 + memfd_kb) / N))
bp_log "memory: RssAnon +$((anon1 - anon0)) KiB, regions $memfd_kb KiB, $per_app KiB per idle app"
cpu=$(probe cpu "$BP_FP_PID" "$SECS")
bp_log "idle fastpathd with $N apps attached: $cpu% of a core over $SECS s"

[ "$per_app" -le "$MAX_KIB_PER_APP" ] ||
	bp_die "$per_app KiB per idle app, more than $MAX_KIB_PER_APP"
awk -v c="$cpu" -v m="$MAX_CPU_PCT" 'BEGIN { exit !(c <= m) }' || {
	probe threads "$BP_FP_PID" "$SECS" >&2 # which thread works while idle
	bp_die "idle fastpathd used $cpu% of a core, more than $MAX_CPU_PCT%"
}
# idle apps wake up: their first doorbell kicks the sleeping fastpath
out=$(bp_peer timeout 120 python3 "$here/many_clients.py" "$BP_IP" "$BASE" "$N" 64) ||
	{ echo "$out" >&2; bp_die "after idling, not every app served a second connection"; }
grep -q "^$N of $N connections echoed" <<<"$out" || bp_die "second round: $out"
echo "PASS: $N apps each served a connection (twice, before and after idling);" \
	"idle: $cpu% of a core (no apps: $cpu0%), $per_app KiB per app"
