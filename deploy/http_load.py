#!/usr/bin/env python3
"""Keep-alive HTTP load from the Linux TCP stack: C connections, N requests
in total, every response checked; prints requests/s and latency percentiles."""
import http.client, statistics, sys, threading, time

host, port, total, conns, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
expect = bytes(97 + i % 26 for i in range(size))
lat, errors, lock = [], [], threading.Lock()

def worker(n):
    c = http.client.HTTPConnection(host, port, timeout=10)
    mine = []
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            c.request("GET", f"/bytes/{size}")
            r = c.getresponse()
            body = r.read()
            if r.status != 200 or body != expect:
                raise RuntimeError(f"status {r.status}, {len(body)} bytes")
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append(repr(e))
            c.close()
            c = http.client.HTTPConnection(host, port, timeout=10)
            continue
        mine.append(time.perf_counter() - t0)
    c.close()
    with lock:
        lat.extend(mine)

t0 = time.time()
ts = [threading.Thread(target=worker, args=(total // conns,)) for _ in range(conns)]
[t.start() for t in ts]
[t.join() for t in ts]
el = time.time() - t0
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e6 if lat else float("nan")
print(f"  requests  {len(lat)} ok, {len(errors)} errors, {len(lat) / el:.0f} req/s over {conns} keep-alive connections")
print(f"  latency   p50 {pct(0.50):.0f} us   p99 {pct(0.99):.0f} us   max {lat[-1] * 1e6 if lat else 0:.0f} us")
for e in errors[:5]:
    print("  error:", e)
sys.exit(1 if errors else 0)
