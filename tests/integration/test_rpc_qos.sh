#!/usr/bin/env bash
# Per-message send classes (issue 13: "one large response never holds back
# small calls of a higher class").  An rpc_qos server over bypass-msg (the
# daemon frames and schedules its sends) answers method 1 with a 4 MiB
# response in the bulk class and method 2 with an echo in the latency
# class; its tenant sends at 40 Mbit/s, so the large response takes about
# 0.85 s.  A Linux client (kernel sockets) starts one bulk call and, while
# it is pending, makes small calls one after the other:
#  a) with classes, small calls complete throughout the transfer, each
#     within RPCQOS_MAX_MS (a frame in progress plus what the daemon let
#     into the tx ring ahead of the wire: ~20 ms at this rate), and the
#     daemon counts frames that went ahead of earlier ones;
#  b) the control run, both methods in the same class: no small call
#     completes before the bulk response (it waits behind all of it), so
#     the test can tell the two apart;
#  c) a client that posts 2 MiB of frames and exits at once (closes,
#     detaches) loses nothing: the Linux peer gets every frame, then EOF;
# every response is checked byte for byte by the client.
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up rpcqos "${RPCQOS_TOPO_IDX:-123}"
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
Q=$BP_BUILD/tests/rpc_qos
CTL=$BP_BUILD/cli/bypassctl
[ -x "$Q" ] || bp_die "no $Q: build first"
BIG=${RPCQOS_BIG:-4194304}
RATE=${RPCQOS_RATE:-40mbit}
MAX_MS=${RPCQOS_MAX_MS:-150} # a sanitizer build needs more

"$CTL" tenant set default rate "$RATE" >"$dir/tenant.log" 2>&1 ||
	bp_die "could not rate-limit the default tenant: $(cat "$dir/tenant.log")"
rpc_stat() { "$CTL" rpc --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }

# run PORT [--no-classes]: the client's result line in $line (not in a
# subshell: bp_cleanup must know the server it starts)
run() {
	local port=$1
	shift
	bp_bg "$Q" server --transport bypass-msg --listen ":$port" "$@" >"$dir/s$port.log" 2>&1
	bp_wait_listening "$dir/s$port.log"
	bp_peer timeout 120 "$Q" client --transport kernel --connect "$BP_IP:$port" --big "$BIG" \
		>"$dir/c$port.log" 2>&1 || bp_die "rpc_qos client: $(cat "$dir/c$port.log")"
	line=$(grep '^big_ms=' "$dir/c$port.log") || bp_die "no result: $(cat "$dir/c$port.log")"
}

# a) classes
over0=$(rpc_stat tx_overtakes)
run 7123
bp_log "classes: $line"
big=$(field big_ms "$line") n=$(field small "$line") max=$(field max_ms "$line")
awk -v b="$big" 'BEGIN { exit !(b >= 500) }' ||
	bp_die "the bulk response took only $big ms: the $RATE tenant rate did not slow it down enough to measure"
[ "$n" -ge 5 ] || bp_die "only $n small calls completed during the $big ms bulk response"
awk -v m="$max" -v lim="$MAX_MS" 'BEGIN { exit !(m <= lim) }' ||
	bp_die "a latency-class call took $max ms during the bulk response (limit $MAX_MS ms)"
over=$(($(rpc_stat tx_overtakes) - over0))
[ "$over" -gt 0 ] || bp_die "fastpathd counted no frame sent ahead of an earlier one"
frames=$(rpc_stat tx_frames)
bp_log "fastpathd: $frames frames posted by class, $over sent ahead of earlier ones"

# b) the control run: one class for both methods
run 7124 --no-classes
bp_log "one class: $line"
n0=$(field small "$line") big0=$(field big_ms "$line")
[ "$n0" -le 1 ] ||
	bp_die "without classes $n0 small calls still completed during the bulk response: the test cannot tell"

# c) an RPC-session client posts 64 x 32 KiB frames and exits at once,
# half of them still waiting in fastpathd (its tenant sends at $RATE):
# the Linux peer must get every frame intact and then a FIN, no reset
bp_peer python3 - "$BP_PEER_IP" 7125 64 32768 >"$dir/peer.log" 2>&1 <<'PY' &
import socket, struct, sys
ip, port, frames, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((ip, port))
ls.listen(1)
ls.settimeout(30)
print("listening", flush=True)
c, _ = ls.accept()
c.settimeout(30)
buf = b""
try:
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        buf += d
except ConnectionResetError:
    print(f"reset after {len(buf)} bytes")
    sys.exit(1)
got, off = 0, 0
while off + 32 <= len(buf):
    magic, ver, typ, flags, method, call, flen = struct.unpack_from("<HBBHHII", buf, off)
    body = buf[off + 32:off + 32 + flen]
    want = bytes((call * 131 + j * 7) & 0xff for j in range(flen))
    if magic != 0x5242 or typ != 1 or call != got + 1 or flen != size or body != want:
        print(f"frame {got + 1}: magic {magic:#x} type {typ} call {call} len {flen}, body ok {body == want}")
        sys.exit(1)
    got += 1
    off += 32 + flen
if got != frames or off != len(buf):
    print(f"got {got} of {frames} frames, {len(buf) - off} bytes left over")
    sys.exit(1)
print(f"got {got} frames intact, then EOF")
PY
peer=$!
for _ in $(seq 100); do grep -q listening "$dir/peer.log" && break; sleep 0.1; done
"$BP_BUILD/tests/rpc_post_exit" "$BP_PEER_IP" 7125 64 32768 >"$dir/post.log" 2>&1 ||
	bp_die "rpc_post_exit: $(cat "$dir/post.log")"
wait "$peer" || bp_die "the peer did not get every posted frame: $(cat "$dir/peer.log")"
bp_log "client exited right after posting ($(cat "$dir/post.log")); peer: $(tail -1 "$dir/peer.log")"

echo "PASS: during a $BIG-byte bulk response ($big ms at $RATE) $n latency-class calls completed," \
	"worst $max ms; in one class $n0 did (bulk response $big0 ms); $over frames overtaken;" \
	"64 frames posted just before exit all delivered"
