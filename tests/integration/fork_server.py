#!/usr/bin/env python3
"""Servers that hand accepted connections to fork() children, the ways
real programs do it.  Usage: fork_server.py MODE PORT

  forking   socketserver.ForkingTCPServer: the parent accepts, forks and
            closes its copy; the child reads until EOF and answers with the
            byte count and sha256 of what it read.
  handover  parent greets, forks; the child answers one line and closes its
            copy; the parent, still holding the socket, writes a last line
            after the child exited, then closes.
  detached  the parent forks a child that never touches the connection and
            exits after 0.5 s; the parent closes at once.  The peer's EOF may
            only come once the child (which holds the socket) is gone.
"""
import hashlib, os, socket, socketserver, sys, time

mode, port = sys.argv[1], int(sys.argv[2])


class Sha(socketserver.BaseRequestHandler):
    def handle(self):
        h, n = hashlib.sha256(), 0
        while True:
            b = self.request.recv(65536)
            if not b:
                break
            h.update(b)
            n += len(b)
        self.request.sendall(b"%d %s\n" % (n, h.hexdigest().encode()))


class Server(socketserver.ForkingTCPServer):
    allow_reuse_address = True


if mode == "forking":
    srv = Server(("0.0.0.0", port), Sha)
    print(f"listening on {port}", flush=True)
    srv.serve_forever()

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(16)
print(f"listening on {port}", flush=True)
def handover(c):
    c.sendall(b"hello-from-parent\n")
    pid = os.fork()
    if pid == 0:
        try:
            line = c.makefile("rb").readline()
            c.sendall(b"child:" + line)
            c.close()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    c.sendall(b"parent-after\n")


def detached(c):
    pid = os.fork()
    if pid == 0:
        time.sleep(0.5)
        os._exit(0)
    c.close()
    os.waitpid(pid, 0)


while True:
    c, _ = ls.accept()
    try:  # probes (the test waiting for the port) hang up early
        (handover if mode == "handover" else detached)(c)
    except OSError:
        pass
    c.close()
