#!/usr/bin/env bash
# A server killed mid-call: 20 calls are pending on it (each held 60 s by
# the server, deadline 5 s) when it is SIGKILLed.  Every call must complete
# with UNAVAILABLE before its deadline, and after the server restarts on
# the same port the client's session must reconnect by itself and calls
# succeed again.  Both ways: bypass server with a kernel client, kernel
# server with a bypass client.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up rpckill 111
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
R=$BP_BUILD/rpc

# run_case NAME START_SERVER_FN CLIENT_CMD...
run_case() {
	local name=$1 start=$2 client srv
	shift 2
	"$start" "$dir/$name-s1.log"
	srv=$BP_LAST_PID
	bp_bg "$@" --deadline-ms 5000 kill-test 20 >"$dir/$name-c.log" 2>&1
	client=$BP_LAST_PID
	bp_wait_line "$dir/$name-c.log" "pending 20" 30 "$client"
	kill -KILL -- "-$srv" 2>/dev/null || kill -KILL "$srv"
	wait "$srv" 2>/dev/null || true
	bp_wait_line "$dir/$name-c.log" "all 20 UNAVAILABLE" 10 "$client"
	"$start" "$dir/$name-s2.log"
	local st=0
	wait "$client" || st=$?
	[ "$st" -eq 0 ] || bp_die "$name: client exited $st: $(cat "$dir/$name-c.log")"
	grep -q "reconnected after" "$dir/$name-c.log" || bp_die "$name: $(cat "$dir/$name-c.log")"
	bp_log "$name: $(grep -E 'UNAVAILABLE|reconnected' "$dir/$name-c.log" | xargs)"
}

start_bypass_server() { # the daemon may need a moment to free the port of a killed app
	local i
	for i in $(seq 50); do
		bp_bg "$R/kv_server" --transport bypass --listen :7114 >"$1" 2>&1
		for _ in $(seq 300); do # the next try only once this one has exited
			grep -q listening "$1" && return 0
			kill -0 "$BP_LAST_PID" 2>/dev/null || break
			sleep 0.1
		done
		grep -q listening "$1" && return 0
		kill -0 "$BP_LAST_PID" 2>/dev/null &&
			bp_die "bypass kv_server not listening after 30 s: $(cat "$1")"
		bp_wait_pid "$BP_LAST_PID" || true
		sleep 0.2
	done
	bp_die "bypass kv_server does not start: $(cat "$1")"
}

start_kernel_server() {
	bp_bg bp_peer "$R/kv_server" --listen :7115 >"$1" 2>&1
	bp_wait_peer_listen 7115
}

run_case bypass-server start_bypass_server bp_peer "$R/kv_client" --connect "$BP_IP:7114"
run_case kernel-server start_kernel_server "$R/kv_client" --transport bypass --connect "$BP_PEER_IP:7115"
echo "PASS: server killed mid-call: 20 pending calls UNAVAILABLE within the deadline, reconnect after restart (bypass and kernel servers)"
