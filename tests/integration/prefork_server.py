#!/usr/bin/env python3
"""A pre-fork TCP server in the nginx style: the master binds and listens,
then forks workers that each wait with select() and accept; the master never
accepts.  Each reply names the worker and the port its listener has
("worker1@9000:" + the request), so a test can see several served, all on
one port.

    prefork_server.py PORT WORKERS [HOLD_FILE]

PORT 0: the port bind() picked, from getsockname(), is the one announced.
HOLD_FILE: after bind(), say "bound on PORT" and wait for that file to exist
before listen() (a test probes the bound, not yet listening port)."""
import os, select, signal, socket, sys, time

port, workers = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
port = ls.getsockname()[1]
if len(sys.argv) > 3:
    print(f"bound on {port}", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(sys.argv[3]) and time.monotonic() < deadline:
        time.sleep(0.05)
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
            # the port this worker's listener has, as getsockname() says
            c.sendall(b"worker%d@%d:" % (w, ls.getsockname()[1]) + data)
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
