# shellcheck shell=bash
# Helpers for the socket-shim tests: run a program unmodified in the bypass
# namespace with the shim preloaded.  That namespace has no kernel IP on its
# interface, so a socket the shim failed to take over cannot work by accident:
# a listener the shim missed is unreachable from the Linux host, a connect it
# missed fails with "Network is unreachable".
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/lib.sh"
SHIM=$BP_BUILD/client-lib/libbypass-shim.so

# shim_require_symbol SYM WHAT: the shim must export SYM (a feature marker)
shim_require_symbol() {
	nm -D --defined-only "$SHIM" 2>/dev/null | awk '{print $NF}' | grep -qx "$1" ||
		bp_die "$SHIM does not export $1: built without $2"
}

# shim_setup NAME IDX: root, the shim built, topology and fastpathd up, BP_TMP
shim_setup() {
	bp_need_root
	[ -f "$SHIM" ] || bp_die "shim not built: $SHIM (cmake --build ${BP_BUILD})"
	trap bp_cleanup EXIT
	bp_topo_up "$1" "$2"
	bp_start_fastpathd
	bp_make_tmp
}

# shim_run NAME LOG CMD...: CMD in the bypass namespace under the shim, in
# the background, stopped by PID (process group) at cleanup.  Sets
# BP_LAST_PID; shim_wait_port watches this program while it waits.
shim_run() {
	SHIM_NAME=$1 SHIM_LOG=$2
	shift 2
	bp_bg ip netns exec "$BP_NS_DP" env LD_PRELOAD="$SHIM" BYPASS_SOCKET="$BYPASS_SOCKET" \
		"$@" >"$SHIM_LOG" 2>&1
	SHIM_PID=$BP_LAST_PID
	bp_log "$SHIM_NAME started under the shim (pid $SHIM_PID, log $SHIM_LOG)"
}

# shim_exec CMD...: the same in the foreground
shim_exec() {
	ip netns exec "$BP_NS_DP" env LD_PRELOAD="$SHIM" BYPASS_SOCKET="$BYPASS_SOCKET" "$@"
}

# shim_alive PID: running (a child that exited stays a zombie until waited for)
shim_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null || true)
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# shim_wait_port PORT: wait (30 s at most) until the Linux host can connect
# to $BP_IP:PORT; fails at once, with its log, if the last shim_run program
# died meanwhile.
shim_wait_port() {
	local port=$1 end=$((SECONDS + 30))
	while [ "$SECONDS" -lt "$end" ]; do
		bp_peer timeout 2 bash -c "exec 3<>/dev/tcp/$BP_IP/$port" 2>/dev/null && return 0
		if [ -n "${SHIM_PID:-}" ] && ! shim_alive "$SHIM_PID"; then
			cat "$SHIM_LOG" >&2
			bp_die "$SHIM_NAME exited before $BP_IP:$port accepted (log above)"
		fi
		sleep 0.2
	done
	[ -n "${SHIM_LOG:-}" ] && cat "$SHIM_LOG" >&2
	bp_die "nothing accepts on $BP_IP:$port after 30 s (log of ${SHIM_NAME:-the program} above)"
}

# shim_wait_exit PID SECS: wait (bounded) for a background program to exit
# by itself; sets SHIM_EXIT_RC, fails if it is still running after SECS
# shellcheck disable=SC2034 # SHIM_EXIT_RC is read by the test scripts
shim_wait_exit() {
	local pid=$1 end=$((SECONDS + $2))
	while shim_alive "$pid" && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.1
	done
	! shim_alive "$pid" || bp_die "pid $pid still running $2 s after it was told to exit"
	SHIM_EXIT_RC=0
	wait "$pid" || SHIM_EXIT_RC=$?
}

# shim_no_shim_errors LOG: the shim reports trouble as "bypass-shim: ..."
shim_no_shim_errors() {
	if grep -q "bypass-shim:" "$1" 2>/dev/null; then
		grep -m5 "bypass-shim:" "$1" >&2
		bp_die "the shim reported errors in $1"
	fi
}
