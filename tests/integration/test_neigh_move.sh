#!/usr/bin/env bash
# A Linux peer whose address moves to another MAC in the middle of a
# transfer (a failover's address taken over by another NIC, announced with
# a gratuitous ARP), as Linux's own connections follow their neighbour
# entry: 8 MiB from a bypass app reach the peer byte-exact, the second half
# sent after the move.  Without the move reaching open connections, their
# frames went on to the old MAC, which the peer's kernel drops, and the
# transfer stalled.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_need_scapy
bp_topo_up bpnmove 155
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
NEW_MAC=02:00:00:00:9a:01
head -c 4M /dev/urandom >"$dir/a"
head -c 4M /dev/urandom >"$dir/b"
want=$(cat "$dir/a" "$dir/b" | sha256sum | cut -d' ' -f1)

bp_bg bp_peer timeout 60 socat -u TCP-LISTEN:6301,reuseaddr "OPEN:$dir/out,creat,trunc"
sink=$BP_LAST_PID
bp_wait_peer_listen 6301
# the first half, a pause until the peer's address has moved, the second half
bp_bg sh -c "{ cat '$dir/a'; touch '$dir/half'; i=0
	while [ ! -e '$dir/moved' ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
	cat '$dir/b'; } |
	timeout 60 '$BP_BUILD/client-lib/bpcat' '$BP_PEER_IP' 6301 >'$dir/bpcat.log' 2>&1"
src=$BP_LAST_PID
for _ in $(seq 400); do
	[ -e "$dir/half" ] && [ "$(stat -c %s "$dir/out" 2>/dev/null || echo 0)" -ge 4194304 ] && break
	sleep 0.05
done
[ "$(stat -c %s "$dir/out")" -ge 4194304 ] || bp_die "the first 4 MiB did not arrive"
old_mac=$(bp_peer cat "/sys/class/net/$BP_PEER_DEV/address")
bp_peer ip link set dev "$BP_PEER_DEV" address "$NEW_MAC"
bp_peer /usr/bin/python3 - "$BP_PEER_DEV" "$NEW_MAC" "$BP_PEER_IP" <<'PY'
import sys
from scapy.all import ARP, Ether, sendp
dev, mac, ip = sys.argv[1:]
sendp(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
      ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip), iface=dev, verbose=False)
PY
touch "$dir/moved"
bp_log "the peer moved from $old_mac to $NEW_MAC and announced it"
wait "$src" || bp_die "bpcat failed or stalled ($(stat -c %s "$dir/out") of 8388608 bytes" \
	"arrived): $(cat "$dir/bpcat.log")"
wait "$sink" || bp_die "socat failed"
got=$(sha256sum <"$dir/out" | cut -d' ' -f1)
[ "$got" = "$want" ] || bp_die "sha256 differs after the move: $(stat -c %s "$dir/out") of 8388608 bytes"
followed=$(bp_stat stats neigh_moves_followed)
[ "$followed" = 1 ] || bp_die "neigh_moves_followed is '$followed' (want 1: the one connection)"
echo "PASS: 8 MiB byte-exact across the peer's move from $old_mac to $NEW_MAC (gratuitous ARP)"
