#!/usr/bin/env bash
# Every byte a libbypass sender wrote reaches the Linux peer before the FIN,
# even when the sender exits the moment its last byte is in the ring, as
# with the kernel (which keeps sending after the process is gone).
# bp_send_exit ends in turn by _exit() without closing, by shutdown() then
# _exit(), by close() then _exit(), and by close() + bp_detach() (the
# library's linger); sizes from 1 byte to 64 MiB; the Linux receiver checks
# length, sha256 and a clean FIN every time.  57 transfers on a clean wire,
# then 19 through bp_impair at 1% loss (both directions).
# The shim's senders (socat, Python) are in test_shim_close.sh.
set -euo pipefail
source "$(dirname "$0")/impair_lib.sh"
source "$(dirname "$0")/close_lib.sh"
bp_need_root
imp_traps
imp_topo_up bpclose 57
imp_start
bp_start_fastpathd
bp_make_tmp
sender=$BP_BUILD/tests/bp_send_exit
[ -x "$sender" ] || bp_die "no $sender: build the tests (cmake --build $BP_BUILD)"
cl_setup 7300
modes=(exit shutdown close detach)

# round LABEL: every size once, the ending mode rotating
k=0
round() {
	local sz mode
	for sz in "${CL_SIZES[@]}"; do
		mode=${modes[$((k % ${#modes[@]}))]}
		k=$((k + 1))
		head -c "$sz" "$CL_DATA" |
			timeout 120 "$sender" "$BP_PEER_IP" "$CL_PORT" "$mode" "$BYPASS_SOCKET" 2>>"$BP_TMP/sender.log" ||
			bp_die "$1: bp_send_exit $mode ($sz bytes) failed: $(tail -3 "$BP_TMP/sender.log")"
		cl_check "$1, bp_send_exit $mode" "$sz"
	done
}

for r in 1 2 3; do
	round "clean wire, round $r"
done
echo "ok: $CL_OK transfers (1 B - 64 MiB) from libbypass senders that exit at once: every byte, then FIN"
imp_start --seed 7 --loss 1%
before=$CL_OK
round "1% loss"
imp_snapshot
drops=$(imp_stat a2b dropped_loss)
[ "${drops:-0}" -gt 0 ] || bp_die "bp_impair dropped nothing: the lossy round tested nothing"
echo "ok: $((CL_OK - before)) transfers at 1% loss: every byte, then FIN ($drops frames dropped towards the peer)"
echo "PASS: no data lost at close or exit (libbypass, $CL_OK transfers)"
