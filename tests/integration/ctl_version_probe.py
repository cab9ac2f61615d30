#!/usr/bin/env python3
"""Hand-crafted control frames against fastpathd's protocol version check.

    ctl_version_probe.py SOCKET

The frames are built byte by byte here (protobuf wire format, no
generated code and no bypassctl), so the test does not depend on the
client's own version handling:
  1. a StatusRequest claiming protocol 99.3: refused with a CtlError
     (-EPROTONOSUPPORT) whose text names 99.3, the daemon's version and
     what to do, and the connection is closed;
  2. a StatusRequest with no version (a 1.0 client): served;
  3. a StatusRequest claiming 1.99 (newer minor): served;
  4. a request type the daemon does not know, from a 1.7 client: a
     CtlError (-EOPNOTSUPP) saying to upgrade fastpathd.
Every reply's envelope must state the daemon's version (1.x).  Prints the
refusal's text and exits 1 on the first thing that is wrong.
"""
import socket
import struct
import sys

PROTO_MAJOR, PROTO_MINOR = 33, 34       # CtlMsg envelope fields
STATUS_REQ, STATUS_REPLY, CTL_ERROR = 3, 4, 35
EPROTONOSUPPORT, EOPNOTSUPP = 93, 95


def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def read_varint(buf, i):
    shift = v = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def decode(buf):
    """{field number: [values]}: varints as ints, length-delimited as bytes."""
    out, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        out.setdefault(num, []).append(v)
    return out


def int32(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def ask(path, body):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(struct.pack("<I", len(body)) + body)
    hdr = b""
    while len(hdr) < 4:
        c = s.recv(4 - len(hdr))
        if not c:
            sys.exit("FAIL: the daemon closed the connection without an answer")
        hdr += c
    n = struct.unpack("<I", hdr)[0]
    data = b""
    while len(data) < n:
        c = s.recv(n - len(data))
        if not c:
            sys.exit("FAIL: short reply")
        data += c
    # after a refusal the daemon must close: the next read sees EOF
    try:
        rest = s.recv(1)
    except socket.timeout:
        rest = None
    s.close()
    return decode(data), rest == b""


def envelope_ok(m, what):
    major = m.get(PROTO_MAJOR, [None])[0]
    minor = m.get(PROTO_MINOR, [None])[0]
    if major != 1 or minor is None:
        sys.exit(f"FAIL: {what}: the reply states protocol {major}.{minor}, want 1.x")
    return f"{major}.{minor}"


def ctl_error(m, what):
    if CTL_ERROR not in m:
        sys.exit(f"FAIL: {what}: no CtlError in the reply (fields {sorted(m)})")
    e = decode(m[CTL_ERROR][0])
    return int32(e[1][0]), e.get(2, [b""])[0].decode(), e


def main():
    path = sys.argv[1]
    status = field_bytes(STATUS_REQ, b"")

    m, closed = ask(path, field_varint(PROTO_MAJOR, 99) + field_varint(PROTO_MINOR, 3) + status)
    daemon = envelope_ok(m, "newer major")
    st, text, e = ctl_error(m, "newer major")
    print(f"refused: {text}")
    if st != -EPROTONOSUPPORT:
        sys.exit(f"FAIL: newer major: status {st}, want {-EPROTONOSUPPORT}")
    for want in ("99.3", daemon, "upgrade fastpathd", "bypassctl"):
        if want not in text:
            sys.exit(f"FAIL: the refusal does not say '{want}': {text}")
    if e.get(5) != [99] or e.get(6) != [3] or e.get(3) != [1]:
        sys.exit(f"FAIL: CtlError's version fields are wrong: {e}")
    if STATUS_REPLY in m:
        sys.exit("FAIL: a status reply came with the refusal")
    if not closed:
        sys.exit("FAIL: the connection stayed open after the refusal")

    m, _ = ask(path, status)
    envelope_ok(m, "no version")
    if STATUS_REPLY not in m:
        sys.exit(f"FAIL: a 1.0 client (no version) was not served: {sorted(m)}")

    m, _ = ask(path, field_varint(PROTO_MAJOR, 1) + field_varint(PROTO_MINOR, 99) + status)
    envelope_ok(m, "newer minor")
    if STATUS_REPLY not in m:
        sys.exit(f"FAIL: a 1.99 client was not served: {sorted(m)}")

    unknown = field_bytes(1000, b"")  # a request type from the future
    m, closed = ask(path, field_varint(PROTO_MAJOR, 1) + field_varint(PROTO_MINOR, 7) + unknown)
    envelope_ok(m, "unknown request")
    st, text, _ = ctl_error(m, "unknown request")
    print(f"unknown request: {text}")
    if st != -EOPNOTSUPP or "upgrade fastpathd" not in text or "1.7" not in text:
        sys.exit(f"FAIL: unknown request: status {st}: {text}")
    print(f"ok: daemon protocol {daemon}: refuses 99.3, serves 1.0 and 1.99, "
          "answers an unknown request")


if __name__ == "__main__":
    main()
