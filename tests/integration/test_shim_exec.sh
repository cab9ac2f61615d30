#!/usr/bin/env bash
# Sockets kept across exec() under the shim work in the new program image,
# as kernel sockets do:
#  - socat TCP-LISTEN:PORT,fork EXEC:cat (socat's child execs cat);
#  - an inetd-style server: fork, dup2() the connection onto stdin/stdout,
#    exec cat;
#  - Python subprocess.Popen(..., pass_fds=[fd]) running an echo program;
#  - posix_spawn() of cat with the socket dup2()ed onto stdin/stdout by
#    file actions;
#  - and a server that starts a program keeping none of its connections
#    (subprocess.Popen with close_fds, or posix_spawnp) closes them at once.
# Each pattern serves several connections from the Linux peer, some at
# once; every one sends random data (up to 1 MiB) and must get exactly it
# back, then EOF.
set -euo pipefail
source "$(dirname "$0")/shim_lib.sh"
shim_require_symbol bypass_shim_exec_support "exec support"
command -v socat >/dev/null || bp_die "socat missing (deploy/install-deps.sh)"
shim_setup bpshex 59
dir=$BP_TMP
PY=$(python3 -c 'import sys; print(sys.executable)') # not a pyenv wrapper script
srv=$(dirname "$0")/exec_server.py

# echo_check PORT LABEL: 8 connections, 4 at a time, data checked both ways
echo_check() {
	bp_peer timeout 120 "$PY" - "$BP_IP" "$1" <<'PY' || bp_die "$2: echo through the exec'd program failed (log: $(cat "$SHIM_LOG"))"
import os, socket, sys, threading
ip, port, errors = sys.argv[1], int(sys.argv[2]), []
def one(i):
    try:
        data = os.urandom([1, 1000, 65536, 1 << 20][i % 4])
        s = socket.create_connection((ip, port), timeout=30)
        t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
        t.start()
        got = b""
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            got += b
        t.join()
        if got != data:
            errors.append(f"conn {i}: sent {len(data)} bytes, got {len(got)} back"
                          f"{' (different)' if len(got) == len(data) else ''}")
    except Exception as e:
        errors.append(f"conn {i}: {e!r}")
for batch in range(2):
    ts = [threading.Thread(target=one, args=(batch * 4 + k,)) for k in range(4)]
    [t.start() for t in ts]; [t.join() for t in ts]
if errors:
    sys.exit("\n".join(errors))
PY
}

shim_run socat "$dir/socat.log" socat TCP-LISTEN:9200,fork,reuseaddr EXEC:cat
shim_wait_port 9200
echo_check 9200 "socat fork EXEC:cat"
shim_no_shim_errors "$dir/socat.log"
echo "ok: socat TCP-LISTEN,fork EXEC:cat echoed 8 connections"

shim_run inetd "$dir/inetd.log" "$PY" "$srv" inetd 9201
shim_wait_port 9201
echo_check 9201 "inetd-style fork + dup2 + exec cat"
shim_no_shim_errors "$dir/inetd.log"
echo "ok: fork + dup2 onto stdin/stdout + exec cat echoed 8 connections"

shim_run popen "$dir/popen.log" "$PY" "$srv" popen 9202
shim_wait_port 9202
echo_check 9202 "subprocess.Popen pass_fds"
shim_no_shim_errors "$dir/popen.log"
echo "ok: subprocess.Popen(pass_fds=[fd]) child echoed 8 connections"
shim_run pspawn "$dir/pspawn.log" "$PY" "$srv" pspawn 9204
shim_wait_port 9204
echo_check 9204 "posix_spawn with dup2 file actions"
shim_no_shim_errors "$dir/pspawn.log"
echo "ok: posix_spawn(cat) with the socket dup2()ed onto stdin/stdout echoed 8 connections"

# eof_check PORT LABEL: the server sends "x", starts a long-lived program
# that keeps none of the connections and closes its own copy: EOF must come
# at once, as the kernel's copies go, not when the program exits
eof_check() {
	bp_peer timeout 30 "$PY" - "$BP_IP" "$1" <<'PY' || bp_die "$2: a close after starting a program did not end the connection (log: $(cat "$SHIM_LOG"))"
import socket, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
for i in range(3):
    s = socket.create_connection((ip, port), timeout=10)
    s.settimeout(4)
    t0, got = time.monotonic(), b""
    try:
        while True:
            b = s.recv(100)
            if not b:
                break
            got += b
    except socket.timeout:
        sys.exit(f"conn {i}: no EOF within 4 s of the server's close (got {got!r})")
    if got != b"x":
        sys.exit(f"conn {i}: got {got!r}")
    s.close()
PY
}

shim_run spawn "$dir/spawn.log" "$PY" "$srv" spawn 9203
shim_wait_port 9203
eof_check 9203 "subprocess.Popen"
shim_no_shim_errors "$dir/spawn.log"
echo "ok: closing after subprocess.Popen of a program that keeps nothing sends FIN at once"
shim_run pspawn_none "$dir/pspawn_none.log" "$PY" "$srv" pspawn_none 9205
shim_wait_port 9205
eof_check 9205 "posix_spawnp"
shim_no_shim_errors "$dir/pspawn_none.log"
echo "ok: closing after posix_spawnp of a program that keeps nothing sends FIN at once"
echo "PASS: sockets kept across exec() under the shim"
