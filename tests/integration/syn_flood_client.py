#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""connect + echo N times in a row, each within LIMIT seconds.

    syn_flood_client.py HOST PORT N LIMIT

Each round: a new kernel TCP connection, 64 bytes sent, the same 64 bytes
echoed back, close.  Prints the slowest round and fails (exit 1) on the
first round slower than LIMIT (a lost SYN-ACK costs Linux a 1 s SYN
retransmission, so LIMIT = 1 means every SYN was answered at once).
"""
import os
import socket
import sys
import time

host, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
times = []
for i in range(n):
    msg = os.urandom(32).hex().encode()
    t0 = time.monotonic()
    try:
        s = socket.create_connection((host, port), timeout=limit + 2)
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        s.close()
    except OSError as e:
        sys.exit(f"FAIL: round {i + 1}: {e}")
    dt = time.monotonic() - t0
    times.append(dt)
    if got != msg:
        sys.exit(f"FAIL: round {i + 1}: echo differs")
    if dt > limit:
        sys.exit(f"FAIL: round {i + 1} took {dt:.3f} s (limit {limit} s)")
times.sort()
print(f"{n} connect+echo rounds: median {times[len(times) // 2] * 1000:.1f} ms, "
      f"slowest {times[-1] * 1000:.1f} ms")
