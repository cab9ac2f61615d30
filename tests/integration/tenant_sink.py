#!/usr/bin/env python3
"""Accept connections on PORT for SECONDS and record, per connection, the
bytes received in every 100 ms slice (CLOCK_MONOTONIC, the clock every
namespace shares), so a test can compute any window's rate afterwards.
Usage: tenant_sink.py PORT SECONDS OUT.json
Connections are told apart by the sender's address:port.  After SECONDS it
keeps reading until every sender hung up (10 s at most), so no sender is
reset while still sending.  OUT.json: {"slice": 0.1, "t0": T, "conns":
[{"peer": "ip:port", "bytes": [per slice], "closed_at": T or null}]}, and
"t0_real", the same instant in wall-clock time (time.time(), $EPOCHREALTIME
in bash: a script's own timestamps without starting a python)."""
import json, selectors, socket, sys, time

port, secs, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
SLICE = 0.1
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(128)
ls.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(ls, selectors.EVENT_READ)
t0, t0_real = time.monotonic(), time.time()
end = t0 + secs
nslices = int(secs / SLICE) + 1
conns = {}
print("listening", flush=True)
while True:
    now = time.monotonic()
    if now >= end + 10 or (now >= end and conns and all(c["closed_at"] for c in conns.values())):
        break
    for key, _ in sel.select(timeout=0.05):
        if key.fileobj is ls:
            try:
                c, a = ls.accept()
            except BlockingIOError:
                continue
            c.setblocking(False)
            conns[c] = {"peer": "%s:%d" % a, "bytes": [0] * nslices, "closed_at": None}
            sel.register(c, selectors.EVENT_READ)
            continue
        c = key.fileobj
        try:
            d = c.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            d = b""
        t = time.monotonic()
        if not d:
            conns[c]["closed_at"] = t
            sel.unregister(c)
            c.close()
            continue
        i = int((t - t0) / SLICE)
        if i < nslices:
            conns[c]["bytes"][i] += len(d)
json.dump({"slice": SLICE, "t0": t0, "t0_real": t0_real, "conns": list(conns.values())}, open(out, "w"))
