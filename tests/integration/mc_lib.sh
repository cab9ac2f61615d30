# shellcheck shell=bash
# tests/integration/mc_lib.sh - shared by the multi-core fastpath tests
# (test_multicore.sh, test_core_scaling.sh).  Source after deploy/lib.sh.
#
# What the tests read from the daemon (`bypassctl stats`, "name value" per
# line): fp_cores_active, fp_cores_max, flows_moved, flow_wrong_core, and
# per fastpath core k: core<k>.rx_pkts, core<k>.tx_pkts, core<k>.flows,
# core<k>.busy_pct.  `bypassctl cores [set N | auto]` changes the active
# core count.
#
# BP_MC_MIB (default 64): the transfer size, "64 MiB each way", shrunk by
# tests/run-all.sh for the slow sanitizer build.

MC_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MC_CTL=$BP_BUILD/cli/bypassctl
# shellcheck disable=SC2034 # used by the tests that source this
MC_MIB=${BP_MC_MIB:-64}
MC_ECHO_PORT=7
MC_DIAL_PORT0=6100
MC_BULK_PIDS=()
MC_BULK_LOGS=()

# mc_fail MSG...: fail the test; says what went wrong, then the daemon's
# log tail and the tail of every log this test wrote.  The EXIT trap
# (bp_cleanup) stops everything.
mc_fail() {
	bp_log "FAIL: $*"
	if [ -n "${BP_FP_LOG:-}" ] && [ -f "$BP_FP_LOG" ]; then
		echo "---- fastpathd log tail ($BP_FP_LOG)" >&2
		tail -40 "$BP_FP_LOG" >&2
	fi
	if [ -n "${BP_FP_PID:-}" ] && kill -0 "$BP_FP_PID" 2>/dev/null; then
		echo "---- bypassctl stats (nonzero)" >&2
		{ timeout 5 "$MC_CTL" stats 2>/dev/null || timeout 5 "$MC_CTL" status; } | awk '$2 != "0"' | head -60 >&2
	fi
	local f
	for f in "${BP_TMP:-/nonexistent}"/*.log; do
		if [ ! -f "$f" ] || [ "$f" = "${BP_FP_LOG:-}" ]; then continue; fi
		echo "---- $(basename "$f") tail" >&2
		tail -8 "$f" >&2
	done
	exit 1
}

# mc_need_cores_option: the daemon in this build has --cores (the
# multi-core fastpath); fail at once, clearly, if not
mc_need_cores_option() {
	[ -x "$BP_BUILD/fastpathd/fastpathd" ] || bp_die "no $BP_BUILD/fastpathd/fastpathd: build first"
	"$BP_BUILD/fastpathd/fastpathd" --help 2>&1 | grep -q -- '--cores' ||
		bp_die "fastpathd in $BP_BUILD has no --cores option: this build has no multi-core fastpath"
}

# mc_stats: the daemon's counters, "name value" per line, on stdout.
# `bypassctl stats`; a bypassctl without that command prints the same
# lines with `status`.
mc_stats() {
	local out rc=0
	out=$(timeout 10 "$MC_CTL" stats 2>&1) || rc=$?
	if [ "$rc" -ne 0 ] && echo "$out" | grep -q "not implemented"; then
		rc=0
		out=$(timeout 10 "$MC_CTL" status 2>&1) || rc=$?
	fi
	[ "$rc" -eq 0 ] || mc_fail "bypassctl stats failed (status $rc): $out"
	printf '%s\n' "$out"
}

# mc_val STATS NAME: NAME's value in a stats dump; fails if it is missing
mc_val() {
	local v
	v=$(printf '%s\n' "$1" | awk -v k="$2" '$1 == k { print $2; exit }')
	[[ $v =~ ^[0-9]+$ ]] || mc_fail "bypassctl stats has no numeric '$2' (got '${v}'); it printed:
$(printf '%s\n' "$1" | head -60)"
	echo "$v"
}

# mc_stat NAME: one counter, read now
mc_stat() {
	local s
	s=$(mc_stats) || exit 1
	mc_val "$s" "$1"
}

# mc_cores ARGS...: `bypassctl cores ARGS`; fails unless it exits 0
mc_cores() {
	local out
	out=$(timeout 10 "$MC_CTL" cores "$@" 2>&1) || mc_fail "bypassctl cores $* failed: $out"
	printf '%s\n' "$out"
}

# mc_conf FILE [LINE...]: a daemon config with room for the 1,000-connection
# test (one app, its listener and everything it dialed), plus LINEs
# (sections and keys, appended as given)
mc_conf() {
	local f=$1
	shift
	{
		printf '[daemon]\nmax_flows = 8192\n[apps]\nmax_flows = 4096\n'
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$f"
}

# mc_start_daemon N [ARGS...]: fastpathd with --cores N (and ARGS) on the
# topology; checks that it reports N cores
mc_start_daemon() {
	local n=$1 s max
	shift
	bp_make_tmp
	# shellcheck disable=SC2034 # read by bp_start_fastpathd
	BP_FP_ARGS=("$@" --cores "$n")
	bp_start_fastpathd
	s=$(mc_stats) || exit 1
	max=$(mc_val "$s" fp_cores_max) || exit 1
	[ "$max" -eq "$n" ] || mc_fail "started with --cores $n, but fp_cores_max is $max"
}

# mc_stop_daemon WHAT: stop every job and the daemon; fails unless the
# daemon shut down cleanly with no sanitizer report (a later daemon's log
# would overwrite this one's before bp_cleanup looks at it)
mc_stop_daemon() {
	bp_stop_all || mc_fail "$1: fastpathd did not shut down cleanly"
	! grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$BP_FP_LOG" ||
		mc_fail "$1: fastpathd sanitizer report: $(grep -A25 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$BP_FP_LOG" | head -60)"
}

# mc_summary STATS N: one line per core, for the log
mc_summary() {
	local k line=""
	for ((k = 0; k < $2; k++)); do
		line+=" core$k:rx=$(printf '%s\n' "$1" | awk -v n="core$k.rx_pkts" '$1 == n { print $2 }')"
		line+=",tx=$(printf '%s\n' "$1" | awk -v n="core$k.tx_pkts" '$1 == n { print $2 }')"
		line+=",flows=$(printf '%s\n' "$1" | awk -v n="core$k.flows" '$1 == n { print $2 }')"
		line+=",busy=$(printf '%s\n' "$1" | awk -v n="core$k.busy_pct" '$1 == n { print $2 }')%"
	done
	echo "active $(printf '%s\n' "$1" | awk '$1 == "fp_cores_active" { print $2 }'),$line"
}

# mc_core_rx STATS N: core0.rx_pkts ... core<N-1>.rx_pkts, space-separated
mc_core_rx() {
	local k out=""
	for ((k = 0; k < $2; k++)); do
		out+="$(mc_val "$1" "core$k.rx_pkts") " || exit 1
	done
	echo "$out"
}

# mc_check_cores N WHAT: no packet of a flow ever reached a core that did
# not own it, and each of the N cores received packets
mc_check_cores() {
	local n=$1 what=$2 s k v wrong
	s=$(mc_stats) || exit 1
	bp_log "$what: $(mc_summary "$s" "$n")"
	wrong=$(mc_val "$s" flow_wrong_core) || exit 1
	[ "$wrong" -eq 0 ] || mc_fail "$what: flow_wrong_core is $wrong: a flow was about to be processed on a core that does not own it"
	for ((k = 0; k < n; k++)); do
		v=$(mc_val "$s" "core$k.rx_pkts") || exit 1
		[ "$v" -gt 0 ] || mc_fail "$what: core $k of $n received no packet (core$k.rx_pkts 0): flows are not spread over the cores"
	done
}

# mc_start_echo: bp_echo (the bypass echo server) on MC_ECHO_PORT, room for
# 2,048 connections
mc_start_echo() {
	bp_bg "$BP_BUILD/client-lib/bp_echo" -p "$MC_ECHO_PORT" -m 2048 >"$BP_TMP/bp_echo.log" 2>&1
	bp_wait_listening "$BP_TMP/bp_echo.log"
}

# mc_echo_conns N BYTES SECS WHAT: N Linux connections to the bypass echo
# server, all open at the same time, each echoing its own payload of BYTES,
# checked byte for byte, within SECS (32 handshakes in flight at most)
mc_echo_conns() {
	local n=$1 bytes=$2 secs=$3 what=$4 log=$BP_TMP/echo_clients_$1.log
	bp_peer timeout "$((secs + 30))" python3 "$MC_HERE/echo_clients.py" "$BP_IP" "$MC_ECHO_PORT" \
		"$n" "$bytes" 32 >"$log" 2>&1 || {
		cat "$log" >&2
		mc_fail "$what: $n concurrent echo connections did not all come back byte-exact (above)"
	}
	bp_log "$what: $(head -1 "$log")"
}

# (Background jobs use timeout --foreground: a plain timeout moves itself
# into a process group of its own, which bp_stop_pid has to go looking for.)
#
# mc_bulk_start NECHO NDIAL BYTES SECS: start byte-exact streams, BYTES each
# way per connection, between the Linux peer and bypass apps, all at once:
#   NECHO Linux connections to the bypass echo server (mc_start_echo first),
#         each sending its own stream and checking the echo (full duplex);
#   NDIAL bpcat processes that each dial a Linux listener (active opens on
#         the bypass side), sending one stream and checking the other.
# mc_bulk_wait checks them.
mc_bulk_start() {
	local necho=$1 ndial=$2 bytes=$3 secs=$4 k i py=$MC_HERE/mc_bulk.py
	MC_BULK_PIDS=()
	MC_BULK_LOGS=()
	if [ "$ndial" -gt 0 ]; then
		bp_bg bp_peer timeout --foreground "$((secs + 20))" python3 "$py" serve "$MC_DIAL_PORT0" "$ndial" "$bytes" 200 "$secs" \
			>"$BP_TMP/bulk_serve.log" 2>&1
		MC_BULK_PIDS+=("$BP_LAST_PID")
		MC_BULK_LOGS+=("$BP_TMP/bulk_serve.log")
		for i in $(seq 100); do
			grep -q listening "$BP_TMP/bulk_serve.log" && break
			[ "$i" -lt 100 ] || mc_fail "the Linux stream listeners did not start"
			sleep 0.1
		done
		for ((k = 0; k < ndial; k++)); do
			bp_bg bash -c "set -o pipefail; python3 '$py' gen $((1200 + k)) $bytes |
				timeout --foreground $((secs + 10)) '$BP_BUILD/client-lib/bpcat' -q '$BP_PEER_IP' $((MC_DIAL_PORT0 + k)) |
				python3 '$py' check $((200 + k)) $bytes 'bpcat $k (received)'" >"$BP_TMP/bulk_bpcat$k.log" 2>&1
			MC_BULK_PIDS+=("$BP_LAST_PID")
			MC_BULK_LOGS+=("$BP_TMP/bulk_bpcat$k.log")
		done
	fi
	if [ "$necho" -gt 0 ]; then
		bp_bg bp_peer timeout --foreground "$((secs + 20))" python3 "$py" echo "$BP_IP" "$MC_ECHO_PORT" "$necho" "$bytes" 100 "$secs" \
			>"$BP_TMP/bulk_echo.log" 2>&1
		MC_BULK_PIDS+=("$BP_LAST_PID")
		MC_BULK_LOGS+=("$BP_TMP/bulk_echo.log")
	fi
}

# mc_bulk_running: some stream of mc_bulk_start is still running
mc_bulk_running() {
	local p
	for p in "${MC_BULK_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}

# mc_bulk_wait WHAT: wait for the streams; fail with their reports if any
# stream was not byte-exact
mc_bulk_wait() {
	local what=$1 i bad=""
	for i in "${!MC_BULK_PIDS[@]}"; do
		wait "${MC_BULK_PIDS[$i]}" || bad+=" ${MC_BULK_LOGS[$i]}"
	done
	if [ -n "$bad" ]; then
		for i in $bad; do
			echo "---- $(basename "$i")" >&2
			head -40 "$i" >&2
		done
		mc_fail "$what: streams not byte-exact or not finished (reports above)"
	fi
	for i in "${MC_BULK_LOGS[@]}"; do
		grep -v '^listening$' "$i" | head -1 | sed "s/^/[$what] /" >&2
	done
}

# mc_setup: what every multi-core test does first: root, cleanup on exit,
# a daemon that knows --cores, a temp dir, and room for 1,000+ sockets in
# one process
mc_setup() {
	bp_need_root
	trap bp_cleanup EXIT
	mc_need_cores_option
	bp_make_tmp
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
}
