# shellcheck shell=bash
# Helpers for the socket-shim tests: run a program unmodified in the bypass
# namespace with the shim preloaded.  That namespace has no kernel IP on its
# interface, so a socket the shim failed to take over cannot work by accident.
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/lib.sh"
SHIM=$BP_BUILD/client-lib/libbypass-shim.so

shim_setup() {
	bp_need_root
	[ -f "$SHIM" ] || bp_die "shim not built: $SHIM"
	trap bp_cleanup EXIT
	bp_topo_up "$1" "$2"
	bp_start_fastpathd
	bp_make_tmp
}

# shim_run LOG CMD...: CMD in the bypass namespace under the shim, in the background
shim_run() {
	local log=$1
	shift
	bp_bg ip netns exec "$BP_NS_DP" env LD_PRELOAD="$SHIM" BYPASS_SOCKET="$BYPASS_SOCKET" \
		"$@" >"$log" 2>&1
}

# shim_exec CMD...: the same in the foreground
shim_exec() {
	ip netns exec "$BP_NS_DP" env LD_PRELOAD="$SHIM" BYPASS_SOCKET="$BYPASS_SOCKET" "$@"
}
