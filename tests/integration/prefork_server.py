#!/usr/bin/env python3
"""A pre-fork TCP server in the nginx style: the master binds and listens,
then forks workers that each wait with select() and accept; the master never
accepts.  Each reply names the worker, so a test can see several served."""
import os, select, signal, socket, sys

port, workers = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(128)
kids = []
for w in range(workers):
    pid = os.fork()
    if pid == 0:
        ls.setblocking(False)
        while True:
            if not select.select([ls], [], [], 5)[0]:
                continue
            try:
                c, _ = ls.accept()
            except BlockingIOError:
                continue
            c.setblocking(True)
            data = c.recv(4096)
            c.sendall(b"worker%d:" % w + data)
            c.close()
    kids.append(pid)
print(f"listening on {port} with workers {kids}", flush=True)

def stop(*_):
    for k in kids:
        os.kill(k, signal.SIGTERM)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
while True:
    signal.pause()
