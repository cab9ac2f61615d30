#!/usr/bin/env bash
# Byte-exact transfers through a hostile wire (bp_impair), both directions,
# against the Linux TCP stack: 1 GiB (BP_LOSS_MIB) each way under 1% and 5%
# loss, 5% reordering, 2% duplication, 0.1% corruption, and all of them at
# once.  Every run must finish within its time bound with sha256-identical
# bytes.  Loss applies to both directions (data and ACKs).
set -euo pipefail
source "$(dirname "$0")/impair_lib.sh"
bp_need_root
imp_traps
MIB=${BP_LOSS_MIB:-1024}
LIMIT=${BP_LOSS_TIMEOUT:-300} # seconds per transfer
imp_topo_up bpilr 26
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
bpcat=$BP_BUILD/client-lib/bpcat
# the stream is a 64 MiB random chunk repeated: no GiB-sized files on disk
chunk_mib=$((MIB < 64 ? MIB : 64))
head -c "${chunk_mib}M" /dev/urandom >"$dir/chunk"
reps=$((MIB / chunk_mib))
stream() { local i; for ((i = 0; i < reps; i++)); do cat "$dir/chunk"; done; }
want=$(stream | sha256sum | cut -d' ' -f1)
port=6100

# transfer DIRECTION LABEL: one stream, sha256 compared, MiB/s printed
transfer() {
	local t0 t1 got sink
	port=$((port + 1))
	rm -f "$dir/got"
	if [ "$1" = b2l ]; then
		bp_bg bp_peer bash -c "timeout $LIMIT socat -u TCP-LISTEN:$port,reuseaddr - | sha256sum | cut -d' ' -f1 >$dir/got"
		sink=$BP_LAST_PID
		bp_wait_peer_listen "$port"
		t0=$(date +%s.%N)
		stream | timeout "$LIMIT" "$bpcat" -q "$BP_PEER_IP" "$port" ||
			bp_die "$2: bpcat (bypass -> Linux) failed or exceeded ${LIMIT}s"
	else
		bp_bg bash -c "timeout $LIMIT $bpcat -l -p $port 2>$dir/bpcat.log </dev/null | sha256sum | cut -d' ' -f1 >$dir/got"
		sink=$BP_LAST_PID
		bp_wait_listening "$dir/bpcat.log"
		t0=$(date +%s.%N)
		stream | bp_peer timeout "$LIMIT" nc -N "$BP_IP" "$port" ||
			bp_die "$2: nc (Linux -> bypass) failed or exceeded ${LIMIT}s"
	fi
	wait "$sink" || bp_die "$2: the receiver failed"
	t1=$(date +%s.%N)
	got=$(cat "$dir/got")
	[ "$got" = "$want" ] || bp_die "$2: sha256 differs: sent $want, received $got"
	printf '%s %s\n' "$(awk -v b="$MIB" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f MiB/s", b / (e - s) }')" \
		"($(awk -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f s", e - s }'))"
}

seed=100
run() {
	local label=$1
	shift
	seed=$((seed + 1))
	imp_start --seed "$seed" "$@"
	echo "ok: $label, bypass -> Linux, $MIB MiB sha256 identical: $(transfer b2l "$label")"
	echo "ok: $label, Linux -> bypass, $MIB MiB sha256 identical: $(transfer l2b "$label")"
	imp_stop
	echo "    wire: $(imp_stats_line a2b | cut -d' ' -f1-9)"
}

run "1% loss" --loss 1%
run "5% loss" --loss 5%
run "5% reordering" --reorder 5%
run "2% duplication" --dup 2%
run "0.1% corruption" --corrupt 0.1%
run "all at once" --loss 1% --reorder 5% --dup 2% --corrupt 0.1%
"$BP_BUILD/cli/bypassctl" --socket "$BYPASS_SOCKET" status | grep -iE "retrans|out_of_order|duplicate|invalid" || true
echo "PASS: byte-exact transfers under loss, reordering, duplication and corruption"
