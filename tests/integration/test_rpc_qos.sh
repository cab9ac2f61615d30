#!/usr/bin/env bash
# Per-message send classes (issue 13: "one large response never holds back
# small calls of a higher class").  An rpc_qos server over bypass-msg (the
# daemon frames and schedules its sends) answers method 1 with a 4 MiB
# response in the bulk class and method 2 with an echo in the latency
# class; its tenant sends at 40 Mbit/s, so the large response takes about
# 0.85 s.  A Linux client (kernel sockets) starts one bulk call and, while
# it is pending, makes small calls one after the other:
#  a) with classes, small calls complete throughout the transfer, each
#     within RPCQOS_MAX_MS (a frame in progress plus what the daemon let
#     into the tx ring ahead of the wire: ~20 ms at this rate), and the
#     daemon counts frames that went ahead of earlier ones;
#  b) the control run, both methods in the same class: no small call
#     completes before the bulk response (it waits behind all of it), so
#     the test can tell the two apart;
# every response is checked byte for byte by the client.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up rpcqos "${RPCQOS_TOPO_IDX:-123}"
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
Q=$BP_BUILD/tests/rpc_qos
CTL=$BP_BUILD/cli/bypassctl
[ -x "$Q" ] || bp_die "no $Q: build first"
BIG=${RPCQOS_BIG:-4194304}
RATE=${RPCQOS_RATE:-40mbit}
MAX_MS=${RPCQOS_MAX_MS:-150} # a sanitizer build needs more

"$CTL" tenant set default rate "$RATE" >"$dir/tenant.log" 2>&1 ||
	bp_die "could not rate-limit the default tenant: $(cat "$dir/tenant.log")"
rpc_stat() { "$CTL" rpc --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }

# run PORT [--no-classes]: the client's result line in $line (not in a
# subshell: bp_cleanup must know the server it starts)
run() {
	local port=$1
	shift
	bp_bg "$Q" server --transport bypass-msg --listen ":$port" "$@" >"$dir/s$port.log" 2>&1
	bp_wait_listening "$dir/s$port.log"
	bp_peer timeout 120 "$Q" client --transport kernel --connect "$BP_IP:$port" --big "$BIG" \
		>"$dir/c$port.log" 2>&1 || bp_die "rpc_qos client: $(cat "$dir/c$port.log")"
	line=$(grep '^big_ms=' "$dir/c$port.log") || bp_die "no result: $(cat "$dir/c$port.log")"
}

# a) classes
over0=$(rpc_stat tx_overtakes)
run 7123
bp_log "classes: $line"
big=$(field big_ms "$line") n=$(field small "$line") max=$(field max_ms "$line")
awk -v b="$big" 'BEGIN { exit !(b >= 500) }' ||
	bp_die "the bulk response took only $big ms: the $RATE tenant rate did not slow it down enough to measure"
[ "$n" -ge 5 ] || bp_die "only $n small calls completed during the $big ms bulk response"
awk -v m="$max" -v lim="$MAX_MS" 'BEGIN { exit !(m <= lim) }' ||
	bp_die "a latency-class call took $max ms during the bulk response (limit $MAX_MS ms)"
over=$(($(rpc_stat tx_overtakes) - over0))
[ "$over" -gt 0 ] || bp_die "fastpathd counted no frame sent ahead of an earlier one"
frames=$(rpc_stat tx_frames)
bp_log "fastpathd: $frames frames posted by class, $over sent ahead of earlier ones"

# b) the control run: one class for both methods
run 7124 --no-classes
bp_log "one class: $line"
n0=$(field small "$line") big0=$(field big_ms "$line")
[ "$n0" -le 1 ] ||
	bp_die "without classes $n0 small calls still completed during the bulk response: the test cannot tell"

echo "PASS: during a $BIG-byte bulk response ($big ms at $RATE) $n latency-class calls completed," \
	"worst $max ms; in one class $n0 did (bulk response $big0 ms); $over frames overtaken"
