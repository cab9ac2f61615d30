#!/usr/bin/env python3
"""Accept connections on PORT and count each one's bytes per time slice.
Usage: flow_sink.py PORT EXPECTED SECONDS OUT.json
Waits for EXPECTED connections (20 s at most), then measures for SECONDS
and writes, per connection (by peer address:port), the bytes received in
the second half of the run, so slow-start transients do not count.  After
the measurement it keeps reading until the senders hang up (10 s at most),
so nobody is reset while still sending."""
import json, selectors, socket, sys, time

port, expected, secs, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(128)
ls.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(ls, selectors.EVENT_READ)
print("listening", flush=True)
conns, first, half, end = {}, None, None, None
deadline = time.monotonic() + 20 + secs
while time.monotonic() < deadline:
    now = time.monotonic()
    if end and now >= end + 10:
        break  # the senders should have stopped by now
    if end and now >= end and not any(conns[c]["open"] for c in conns):
        break  # measured, and every sender has hung up
    for key, _ in sel.select(timeout=0.05):
        if key.fileobj is ls:
            try:
                c, a = ls.accept()
            except BlockingIOError:
                continue
            c.setblocking(False)
            conns[c] = {"peer": "%s:%d" % a, "total": 0, "late": 0, "open": True}
            sel.register(c, selectors.EVENT_READ)
            if len(conns) == expected and first is None:
                first = time.monotonic()
                half, end = first + secs / 2, first + secs
            continue
        c = key.fileobj
        try:
            b = c.recv(1 << 20)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            b = b""  # the sender aborted: the measurement is over
        st = conns[c]
        if not b:
            sel.unregister(c)
            st["open"] = False
            continue
        st["total"] += len(b)
        t = time.monotonic()
        if half and half <= t < end:
            st["late"] += len(b)
json.dump({"seconds_late": secs / 2, "flows": list(conns.values())}, open(out, "w"))
