#!/usr/bin/env python3
"""Clients for test_tenants.sh, run as the tenants' users.

  attach SOCK N SECONDS   attach N times on raw control connections (no
                          shim), holding each; print "attach I STATUS" (0 or
                          the errno name), then hold them SECONDS
  listen PORT SECONDS     (under the shim) listen and accept on PORT; print
                          "listen PORT ok" or "listen PORT ERRNO"
  conns HOST PORT N GO    (under the shim) open up to N connections to an
                          echo server until one fails; print "opened K ERRNO";
                          once file GO exists, open one more and echo on
                          every connection; print "after-go ok K" or why not
  echo HOST PORT          (under the shim) one connection, one echo: "echo ok"
  killwait HOST PORT N GO (under the shim) open N connections and print
                          "opened N" and their local ports; once file GO
                          exists, echo on each and print "after-go" and for
                          each "ok" or the errno name (bypassctl flows kill)
  timers HOST PORT GO     (under the shim) two connections, the first with
                          SO_KEEPALIVE; print "opened" and their local ports;
                          once file GO exists, send on the second; exit once
                          GO.end exists (bypassctl flows' timers)
  app-admin SOCK del T    attach (raw), then on the app's own connection ask
  app-admin SOCK reload   to delete tenant T or reload the configuration;
                          print "app-admin STATUS" (0 or the errno name)
"""
import errno, os, socket, struct, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_hostile import attach_frame, field, recv_exact, varint  # noqa: E402


def varint_at(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def attach_status(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(attach_frame("tenant-test"))
    hdr, fds = recv_exact(s, 4)
    body, more = recv_exact(s, struct.unpack("<I", hdr)[0])
    for f in fds + more:
        os.close(f)
    # CtlMsg.attach_reply (field 2, bytes) { status (field 1, varint) }
    if body[0] != 0x12:
        raise RuntimeError(f"not an attach reply: {body!r}")
    _, i = varint_at(body, 1)
    if body[i] != 0x08:
        raise RuntimeError(f"no status: {body!r}")
    st, _ = varint_at(body, i + 1)
    if st >= 1 << 31:
        st -= 1 << 64
    return st, s


def name(e):
    return errno.errorcode.get(e, str(e)) if e else "0"


def cmd_attach(path, n, seconds):
    held = []
    for i in range(int(n)):
        st, s = attach_status(path)
        print(f"attach {i} {name(st)}", flush=True)
        held.append(s)
    time.sleep(float(seconds))


def cmd_app_admin(path, op, tenant=""):
    st, s = attach_status(path)
    if st:
        print(f"app-admin attach {name(st)}", flush=True)
        return
    if op == "del":  # CtlMsg.tenant_change_req (31) { op (1), name (2) }
        msg = field(31, 2, field(1, 2, b"del") + field(2, 2, tenant.encode()))
    else:  # CtlMsg.config_req (19) { reload (1) = true }
        msg = field(19, 2, field(1, 0, varint(1)))
    s.sendall(struct.pack("<I", len(msg)) + msg)
    hdr, fds = recv_exact(s, 4)
    body, more = recv_exact(s, struct.unpack("<I", hdr)[0])
    for f in fds + more:
        os.close(f)
    # the reply (tenant_change_reply 32 or config_reply 20) { status (1) }
    _, i = varint_at(body, 0)
    _, i = varint_at(body, i)
    if body[i] != 0x08:
        raise RuntimeError(f"no status: {body!r}")
    st, _ = varint_at(body, i + 1)
    if st >= 1 << 31:
        st -= 1 << 64
    print(f"app-admin {name(-st)}", flush=True)


def cmd_listen(port, seconds):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("0.0.0.0", int(port)))
        s.listen(16)
        s.settimeout(float(seconds))
        c, _ = s.accept()  # the shim opens the daemon's listener here
        print(f"listen {port} ok (accepted)", flush=True)
    except socket.timeout:
        print(f"listen {port} ok", flush=True)
    except OSError as e:
        print(f"listen {port} {name(e.errno)}", flush=True)


def echo(c):
    c.sendall(b"ping")
    got = b""
    while len(got) < 4:
        d = c.recv(4 - len(got))
        if not d:
            raise ConnectionError("closed")
        got += d
    return got == b"ping"


def cmd_conns(host, port, n, go):
    cs = []
    err = 0
    for _ in range(int(n)):
        try:
            c = socket.create_connection((host, int(port)), timeout=5)
        except OSError as e:
            err = e.errno
            break
        cs.append(c)
    print(f"opened {len(cs)} {name(err)}", flush=True)
    for _ in range(600):
        if os.path.exists(go):
            break
        time.sleep(0.1)
    try:
        cs.append(socket.create_connection((host, int(port)), timeout=5))
        bad = [i for i, c in enumerate(cs) if not echo(c)]
        print(f"after-go ok {len(cs)}" if not bad else f"after-go echo failed on {bad}",
              flush=True)
    except OSError as e:
        print(f"after-go {name(e.errno)}", flush=True)


def cmd_killwait(host, port, n, go):
    cs = [socket.create_connection((host, int(port)), timeout=5) for _ in range(int(n))]
    print(f"opened {len(cs)}", *[c.getsockname()[1] for c in cs], flush=True)
    for _ in range(600):
        if os.path.exists(go):
            break
        time.sleep(0.1)
    res = []
    for c in cs:
        try:
            res.append("ok" if echo(c) else "wrong")
        except OSError as e:
            res.append(name(e.errno))
    print("after-go", *res, flush=True)


def wait_file(path):
    for _ in range(600):
        if os.path.exists(path):
            return
        time.sleep(0.1)


def cmd_timers(host, port, go):
    cs = [socket.create_connection((host, int(port)), timeout=5) for _ in range(2)]
    cs[0].setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    print("opened", *[c.getsockname()[1] for c in cs], flush=True)
    wait_file(go)
    cs[1].send(b"ping")
    wait_file(go + ".end")


def cmd_echo(host, port):
    try:
        c = socket.create_connection((host, int(port)), timeout=5)
        print("echo ok" if echo(c) else "echo wrong", flush=True)
    except OSError as e:
        print(f"echo {name(e.errno)}", flush=True)


if __name__ == "__main__":
    cmds = {"attach": cmd_attach, "listen": cmd_listen, "conns": cmd_conns, "echo": cmd_echo,
            "app-admin": cmd_app_admin, "killwait": cmd_killwait, "timers": cmd_timers}
    cmds[sys.argv[1]](*sys.argv[2:])
