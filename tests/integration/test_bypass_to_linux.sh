#!/usr/bin/env bash
# 256 MiB from a bypass app (bpcat) into the Linux TCP stack (socat): byte-exact.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up bpib2l 12
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
head -c 256M /dev/urandom >"$dir/in"
want=$(sha256sum <"$dir/in" | cut -d' ' -f1)

bp_bg bp_peer timeout 300 socat -u TCP-LISTEN:6001,reuseaddr "OPEN:$dir/out,creat,trunc"
sink=$BP_LAST_PID
bp_wait_peer_listen 6001
start=$(date +%s.%N)
timeout 300 "$BP_BUILD/client-lib/bpcat" -v "$BP_PEER_IP" 6001 <"$dir/in" || bp_die "bpcat failed"
wait "$sink" || bp_die "socat failed"
end=$(date +%s.%N)
got=$(sha256sum <"$dir/out" | cut -d' ' -f1)
[ "$got" = "$want" ] || bp_die "sha256 differs: sent $want received $got ($(stat -c %s "$dir/out") bytes)"
echo "PASS: 256 MiB bypass -> Linux, sha256 $want, $(echo "256 / ($end - $start)" | bc -l | cut -c1-6) MiB/s"
