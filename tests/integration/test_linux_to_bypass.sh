#!/usr/bin/env bash
# 256 MiB from the Linux TCP stack (nc) into a bypass app (bpcat): byte-exact.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up bpil2b 11
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
head -c 256M /dev/urandom >"$dir/in"
want=$(sha256sum <"$dir/in" | cut -d' ' -f1)

bp_bg timeout 300 "$BP_BUILD/client-lib/bpcat" -v -l -p 5001 >"$dir/out" 2>"$dir/bpcat.log"
sink=$BP_LAST_PID
bp_wait_listening "$dir/bpcat.log"
start=$(date +%s.%N)
bp_peer timeout 300 nc -N "$BP_IP" 5001 <"$dir/in" || bp_die "nc failed"
wait "$sink" || bp_die "bpcat failed: $(cat "$dir/bpcat.log")"
end=$(date +%s.%N)
got=$(sha256sum <"$dir/out" | cut -d' ' -f1)
[ "$got" = "$want" ] || bp_die "sha256 differs: sent $want received $got ($(stat -c %s "$dir/out") bytes)"
echo "PASS: 256 MiB Linux -> bypass, sha256 $want, $(echo "256 / ($end - $start)" | bc -l | cut -c1-6) MiB/s"
