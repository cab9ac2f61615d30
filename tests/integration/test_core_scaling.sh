#!/usr/bin/env bash
# Fastpath cores added and removed under traffic, by hand and by load.
#   1. manual: fastpathd --cores 4 (threads may share the CPUs); 8 streams
#      of BP_MC_MIB (64) MiB each way (4 Linux connections to a bypass echo
#      server, 4 dialed by bypass apps), and while they run
#      `bypassctl cores set` 1,4,2,3,1,4,... every 0.3 s.  Every stream must
#      arrive byte-exact (nothing lost or reordered while its flow moved),
#      flows_moved > 0, flow_wrong_core 0.
#   2. auto: [fastpath] scale = true, min_cores = 1: idle, fp_cores_active
#      falls to 1 within 15 s; under a 256-connection echo load from Linux
#      (bp_load) it rises above 1 within 40 s while 8 streams beside the load
#      stay byte-exact; idle again, it falls back to 1.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
# shellcheck source=tests/integration/mc_lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/mc_lib.sh"
mc_setup

# cores_field NAME: a field of `bypassctl cores` ("active A max M mode X")
cores_field() {
	local out v
	out=$(mc_cores) || exit 1
	v=$(echo "$out" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }')
	[ -n "$v" ] || mc_fail "bypassctl cores printed no '$1': '$out' (want: active A max M mode auto|manual)"
	echo "$v"
}

# wait_active CMP N SECS WHAT: poll fp_cores_active (about every 0.2 s, SECS
# at most) until it is CMP N: eq (equal) or gt (greater)
wait_active() {
	local cmp=$1 n=$2 secs=$3 what=$4 a seen="" ok t0 now
	t0=$(date +%s%N)
	while :; do
		a=$(mc_stat fp_cores_active) || exit 1
		now=$(date +%s%N)
		seen+=" $a"
		case $cmp in eq) ok=$((a == n)) ;; gt) ok=$((a > n)) ;; *) bp_die "wait_active: $cmp" ;; esac
		if [ "$ok" = 1 ]; then
			bp_log "$what: fp_cores_active $a after $(((now - t0) / 1000000)) ms"
			return 0
		fi
		[ $((now - t0)) -lt $((secs * 1000000000)) ] || break
		sleep 0.2
	done
	mc_fail "$what: fp_cores_active never $cmp $n in $secs s (seen, in order:$(echo "${seen# }" | tr ' ' '\n' | uniq -c | awk '{ printf " %s x%s", $2, $1 }'))"
}

# ---- 1. manual: cores set under a transfer
bp_topo_up bpicscale 68
mc_conf "$BP_TMP/fastpathd.ini"
mc_start_daemon 4 --config "$BP_TMP/fastpathd.ini"
mc_start_echo
bytes=$((MC_MIB * 1024 * 1024))
secs=$((120 + MC_MIB * 8))
mc_bulk_start 4 4 "$bytes" "$secs"

seq_cores=(1 4 2 3 1 4)
changes=0
t_end=$(($(date +%s) + secs + 30))
while mc_bulk_running; do
	[ "$(date +%s)" -lt "$t_end" ] || mc_fail "streams still running after $((secs + 30)) s"
	want=${seq_cores[$((changes % ${#seq_cores[@]}))]}
	mc_cores set "$want" >/dev/null || exit 1
	changes=$((changes + 1))
	sleep 0.3
done
mc_bulk_wait "manual scaling, $MC_MIB MiB each way x 8"
bp_log "active core count changed $changes times during the transfer"
# a transfer over before the cores moved twice proves nothing
[ "$changes" -ge 4 ] || mc_fail "the transfer ended after $changes core changes: too short to test moving flows (raise BP_MC_MIB)"
[ "$(cores_field mode)" = manual ] || mc_fail "after 'cores set' the mode is $(cores_field mode), not manual"
mc_cores set 2 >/dev/null
wait_active eq 2 10 "cores set 2"
moved=$(mc_stat flows_moved) || exit 1
[ "$moved" -gt 0 ] || mc_fail "flows_moved is 0 after $changes core changes under 8 streams: no flow ever moved"
s=$(mc_stats) || exit 1
bp_log "manual: flows_moved $moved, $(mc_summary "$s" 4)"
wrong=$(mc_val "$s" flow_wrong_core) || exit 1
[ "$wrong" -eq 0 ] || mc_fail "flow_wrong_core is $wrong after moving flows: a flow was about to be processed on a core that does not own it"
mc_cores auto >/dev/null
[ "$(cores_field mode)" = auto ] || mc_fail "after 'cores auto' the mode is $(cores_field mode), not auto"
mc_stop_daemon "manual scaling"

# ---- 2. auto: the monitor follows the load
mc_conf "$BP_TMP/scale.ini" "[fastpath]" "scale = true" "min_cores = 1"
mc_start_daemon 4 --config "$BP_TMP/scale.ini"
[ "$(cores_field mode)" = auto ] || mc_fail "with [fastpath] scale = true the mode is $(cores_field mode), not auto"
[ "$(cores_field max)" = 4 ] || mc_fail "bypassctl cores says max $(cores_field max), started with --cores 4"
mc_start_echo
wait_active eq 1 15 "auto, idle"

# load: bp_load, 256 echo connections from Linux (64 B requests, closed
# loop, the most packets per CPU second a Linux client makes here), with 8
# byte-exact streams beside it, until a core is added (40 s at most)
[ -x "$BP_BUILD/bench/bp_load" ] || mc_fail "no $BP_BUILD/bench/bp_load (build the bench tools)"
bp_bg bp_peer timeout --foreground 60 "$BP_BUILD/bench/bp_load" --stack linux --server "$BP_IP" \
	--port "$MC_ECHO_PORT" --conns 256 --open-batch 32 --duration 45 --warmup 0 echo \
	>"$BP_TMP/bp_load.log" 2>&1
load_pid=$BP_LAST_PID
mc_bulk_start 8 0 $((MC_MIB * 1024 * 1024 / 8)) 60
risen=0 peak=1
t_end=$(($(date +%s) + 40))
while [ "$risen" = 0 ] && [ "$(date +%s)" -lt "$t_end" ]; do
	kill -0 "$load_pid" 2>/dev/null || mc_fail "auto: the bp_load echo load ended early: $(tail -3 "$BP_TMP/bp_load.log")"
	a=$(mc_stat fp_cores_active) || exit 1
	[ "$a" -le "$peak" ] || peak=$a
	[ "$a" -le 1 ] || risen=1
	sleep 0.2
done
bp_stop_pid "$load_pid"
mc_bulk_wait "auto, 8 streams beside the load"
[ "$risen" = 1 ] || mc_fail "auto: fp_cores_active stayed at 1 for 40 s under a 256-connection echo load"
bp_log "auto: under load fp_cores_active rose to $peak"
wait_active eq 1 20 "auto, idle again"
mc_check_cores 1 "auto scaling"
mc_stop_daemon "auto scaling"
echo "PASS: cores set under 8 x $MC_MIB MiB each way ($changes changes, flows_moved $moved) byte-exact, flow_wrong_core 0; auto: idle 1 core, load $peak, idle 1"
