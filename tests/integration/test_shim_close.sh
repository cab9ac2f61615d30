#!/usr/bin/env bash
# Unmodified senders under the shim that write and exit at once lose
# nothing: every byte reaches the Linux peer before the FIN, as with the
# kernel.  In turn: socat -u OPEN:file TCP:peer (shutdown(SHUT_WR), then exit
# without close()), and a Python sender that exits with os._exit() without
# closing, after shutdown(), after close(), or through sys.exit().  Sizes
# from 1 byte to 64 MiB; length, sha256 and a clean FIN checked each time;
# 57 transfers on a clean wire, then 19 through bp_impair at 1% loss.  Then
# SO_LINGER {1, 0} and an exit without close(): RST, as with Linux.
# libbypass senders: test_close_no_loss.sh.
set -euo pipefail
source "$(dirname "$0")/impair_lib.sh"
source "$(dirname "$0")/close_lib.sh"
SHIM=$BP_BUILD/client-lib/libbypass-shim.so
bp_need_root
[ -f "$SHIM" ] || bp_die "shim not built: $SHIM (cmake --build $BP_BUILD)"
command -v socat >/dev/null || bp_die "socat missing (deploy/install-deps.sh)"
imp_traps
imp_topo_up bpshcl 58
imp_start
bp_start_fastpathd
bp_make_tmp
cl_setup 7400
py=$(dirname "$0")/close_sender.py
senders=(socat py:noclose socat py:shutdown py:close py:finalize)

# under the shim, in the bypass namespace, stdin from the caller
shimmed() {
	ip netns exec "$BP_NS_DP" env LD_PRELOAD="$SHIM" BYPASS_SOCKET="$BYPASS_SOCKET" "$@"
}

k=0
round() {
	local sz who f
	for sz in "${CL_SIZES[@]}"; do
		who=${senders[$((k % ${#senders[@]}))]}
		k=$((k + 1))
		if [ "$who" = socat ]; then
			f=$(cl_file "$sz")
			shimmed timeout 120 socat -u "OPEN:$f" "TCP:$BP_PEER_IP:$CL_PORT" 2>>"$BP_TMP/sender.log" ||
				bp_die "$1: socat ($sz bytes) failed: $(tail -3 "$BP_TMP/sender.log")"
		else
			head -c "$sz" "$CL_DATA" |
				shimmed timeout 120 "$CL_PY" "$py" "$BP_PEER_IP" "$CL_PORT" "${who#py:}" 2>>"$BP_TMP/sender.log" ||
				bp_die "$1: python sender ${who#py:} ($sz bytes) failed: $(tail -3 "$BP_TMP/sender.log")"
		fi
		cl_check "$1, $who" "$sz"
	done
	! grep -q "bypass-shim:" "$BP_TMP/sender.log" || bp_die "the shim reported errors: $(grep -m3 bypass-shim: "$BP_TMP/sender.log")"
}

for r in 1 2 3; do
	round "clean wire, round $r"
done
echo "ok: $CL_OK transfers (1 B - 64 MiB) from socat and Python under the shim, exiting at once: every byte, then FIN"
imp_start --seed 8 --loss 1%
before=$CL_OK
round "1% loss"
imp_snapshot
drops=$(imp_stat a2b dropped_loss)
[ "${drops:-0}" -gt 0 ] || bp_die "bp_impair dropped nothing: the lossy round tested nothing"
echo "ok: $((CL_OK - before)) transfers at 1% loss: every byte, then FIN ($drops frames dropped towards the peer)"
imp_start

# SO_LINGER {1, 0} and an exit without close(): the exit's close resets the
# connection.  The same probe against the Linux stack first (a sender in the
# peer's namespace, over loopback), then under the shim
linger0() {
	local how
	cl_next "$1"
	how=${CL_LINE##* }
	[ "$how" = reset ] || bp_die "$1: SO_LINGER {1, 0}, then exit: the Linux receiver saw $how, not RST"
	echo "ok: $1: SO_LINGER {1, 0}, 100 bytes, exit without close(): the receiver saw RST"
}
head -c 100 "$CL_DATA" | bp_peer timeout 60 "$CL_PY" "$py" 127.0.0.1 "$CL_PORT" linger0 ||
	bp_die "the kernel's linger0 sender failed"
linger0 "Linux sender"
for r in 1 2 3; do
	head -c 100 "$CL_DATA" | shimmed timeout 60 "$CL_PY" "$py" "$BP_PEER_IP" "$CL_PORT" linger0 2>>"$BP_TMP/sender.log" ||
		bp_die "linger0 sender under the shim failed: $(tail -3 "$BP_TMP/sender.log")"
	linger0 "shim sender, round $r"
done
head -c 100 "$CL_DATA" | shimmed timeout 60 "$CL_PY" "$py" "$BP_PEER_IP" "$CL_PORT" linger0fork 2>>"$BP_TMP/sender.log" ||
	bp_die "linger0fork sender under the shim failed: $(tail -3 "$BP_TMP/sender.log")"
linger0 "shim sender, its fork child sends and exits"
for i in $(seq 50); do grep -q "the child sent its data" "$BP_TMP/sender.log" && break; sleep 0.1; done
grep -q "the child sent its data" "$BP_TMP/sender.log" ||
	bp_die "linger0fork: the fork child never sent (it did not take the connection over): $(tail -3 "$BP_TMP/sender.log")"
! grep -q "bypass-shim:\|Traceback" "$BP_TMP/sender.log" ||
	bp_die "the shim reported errors: $(grep -m3 "bypass-shim:\|Traceback" "$BP_TMP/sender.log")"
echo "PASS: no data lost at close or exit under the shim ($CL_OK transfers)"
