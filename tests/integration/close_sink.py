#!/usr/bin/env python3
"""Linux receiver for the close tests: accept connections on PORT one after
another; for each, read until EOF (or reset) and append one line to OUT:
"<bytes> <sha256> eof|reset|timeout".  Usage: close_sink.py PORT OUT.
Runs until killed (or 30 minutes)."""
import hashlib, socket, sys, time

port, out = int(sys.argv[1]), sys.argv[2]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(16)
print("listening", flush=True)
end = time.monotonic() + 1800
while time.monotonic() < end:
    c, _ = ls.accept()
    c.settimeout(120)  # a sender that stops without FIN or RST
    h, n, how = hashlib.sha256(), 0, "eof"
    try:
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
    except ConnectionResetError:
        how = "reset"
    except socket.timeout:
        how = "timeout"
    c.close()
    with open(out, "a") as f:
        f.write("%d %s %s\n" % (n, h.hexdigest(), how))
