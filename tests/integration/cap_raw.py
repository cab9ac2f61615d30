#!/usr/bin/env python3
"""cap_raw.py - raw clients of fastpathd's capture request for
test_capture.sh (hand-encoded protobuf): what bypassctl would never send,
and a client that never lets go.  MODE SOCKET [ARG]:

  badprog SOCKET        a filter program that jumps back (ja 0xffffffff):
                        it must be refused, naming instruction 0
  linger SOCKET SECS    start a capture, stop it, then neither read nor
                        close: the daemon must hang up within SECS
"""
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_hostile import field  # noqa: E402
from ctl_version_probe import decode, int32  # noqa: E402


def frame(msg):
    return struct.pack("<I", len(msg)) + msg


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("fastpathd closed the connection")
        buf += d
    return buf


def reply(s):
    m = decode(recv_exact(s, struct.unpack("<I", recv_exact(s, 4))[0]))
    if 42 not in m:
        raise RuntimeError(f"not a CaptureReply: fields {sorted(m)}")
    r = decode(m[42][0])
    st = int32(r.get(1, [0])[0])
    return st, r.get(2, [b""])[0].decode(), bool(r.get(3, [0])[0])


def start(path, program=b""):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    rd, wr = os.pipe()
    req = (field(1, 2, program) if program else b"") + field(5, 2, b"cap_raw.py")
    socket.send_fds(s, [frame(field(40, 2, req))], [wr])
    os.close(wr)
    return s, rd


mode, path = sys.argv[1], sys.argv[2]
if mode == "badprog":
    # ja 0xffffffff; ret #0: "from + k" wraps to the jump itself in 32 bits
    prog = struct.pack("<HBBI", 0x05, 0, 0, 0xFFFFFFFF) + struct.pack("<HBBI", 0x06, 0, 0, 0)
    s, rd = start(path, prog)
    st, err, _ = reply(s)
    print(f"status {st}: {err}")
    sys.exit(0 if st == -22 and "instruction 0" in err else 1)
if mode == "linger":
    s, rd = start(path)
    st, err, _ = reply(s)
    if st:
        sys.exit(f"capture refused: {st} {err}")
    s.sendall(frame(field(41, 2, b"")))  # CaptureStop
    # read nothing, close nothing (the pipe neither): the daemon must hang up
    t0 = time.monotonic()
    p = select.poll()
    p.register(s, select.POLLRDHUP)
    ev = p.poll(float(sys.argv[3]) * 1000)
    took = time.monotonic() - t0
    if not ev or not ev[0][1] & (select.POLLRDHUP | select.POLLHUP):
        sys.exit(f"the connection is still open {took:.1f} s after CaptureStop")
    st, err, done = reply(s)
    left = s.recv(1)
    print(f"closed {took:.2f} s after CaptureStop; final reply done={done} status {st}; "
          f"then {'EOF' if not left else 'more'}")
    sys.exit(0 if done and not st and not left else 1)
sys.exit(f"unknown mode {mode}")
