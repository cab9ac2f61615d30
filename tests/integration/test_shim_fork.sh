#!/usr/bin/env bash
# Connections survive fork() under the shim, with kernel socket semantics:
#  - socketserver.ForkingTCPServer (accept in the parent, serve in a child,
#    parent closes its copy): 1 MiB each over 24 connections, 4 at a time,
#    sha256 checked by the server child;
#  - handover: parent writes, child writes and closes, parent writes again
#    after the child exited: the peer sees all three, in order, then EOF;
#  - detached: a child that holds but never uses the socket delays the FIN
#    until it exits (then the daemon learns of the exit and closes).
set -euo pipefail
source "$(dirname "$0")/shim_lib.sh"
shim_require_symbol bypass_shim_fork_support "fork support"
shim_setup bpishfk 23
dir=$BP_TMP
srv=$(dirname "$0")/fork_server.py

shim_run forking "$dir/forking.log" python3 "$srv" forking 9100
shim_wait_port 9100
bp_peer timeout 120 python3 - "$BP_IP" <<'PY' || bp_die "ForkingTCPServer under the shim failed (log: $(cat "$dir/forking.log"))"
import hashlib, os, socket, sys, threading
ip, errors = sys.argv[1], []
def one(i):
    data = os.urandom(1 << 20)
    s = socket.create_connection((ip, 9100), timeout=30)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while not reply.endswith(b"\n"):
        b = s.recv(100)
        if not b:
            break
        reply += b
    want = b"%d %s\n" % (len(data), hashlib.sha256(data).hexdigest().encode())
    if reply != want:
        errors.append(f"conn {i}: got {reply!r}")
    if s.recv(1) != b"":
        errors.append(f"conn {i}: no EOF after the reply")
for batch in range(6):
    ts = [threading.Thread(target=one, args=(batch * 4 + k,)) for k in range(4)]
    [t.start() for t in ts]; [t.join() for t in ts]
if errors:
    sys.exit("\n".join(errors))
PY
echo "ok: ForkingTCPServer under the shim: 24 x 1 MiB served by fork children, sha256 verified"

shim_run handover "$dir/handover.log" python3 "$srv" handover 9101
shim_wait_port 9101
got=$(bp_peer timeout 30 python3 - "$BP_IP" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], 9101), timeout=20)
f = s.makefile("rb")
first = f.readline()
s.sendall(b"ping\n")
print((first + f.read()).decode(), end="")
PY
)
want=$'hello-from-parent\nchild:ping\nparent-after' # $() drops the last newline
[ "$got" = "$want" ] || bp_die "handover transcript: want $(printf %q "$want"), got $(printf %q "$got") (log: $(cat "$dir/handover.log"))"
echo "ok: handover: parent, child, then parent again wrote to one connection; EOF after the last close"

shim_run detached "$dir/detached.log" python3 "$srv" detached 9102
shim_wait_port 9102
held=$(bp_peer timeout 30 python3 - "$BP_IP" <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], 9102), timeout=20)
t0 = time.monotonic()
assert s.recv(10) == b""
print("%.3f" % (time.monotonic() - t0))
PY
) || bp_die "detached: no EOF (log: $(cat "$dir/detached.log"))"
awk -v t="$held" 'BEGIN { exit !(t >= 0.3) }' ||
	bp_die "detached: EOF after ${held}s, before the child holding the socket exited (0.5 s)"
echo "ok: detached: a child holding the socket kept it open ${held}s until it exited"
echo "PASS: connections across fork() under the shim"
