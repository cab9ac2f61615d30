#!/usr/bin/env python3
"""http_abuse.py - hostile clients of the metrics listener (run in its
namespace).  HOST PORT MODE:

  slowloris N   open N connections and trickle a request one byte a
                second; prints how many the daemon closed and after how
                long (it must close every one within its request timeout,
                5 s, plus slack), and fetches /metrics while they are open:
                it must answer within 2 s.
  big           send a 1 MB request without an end of headers; the daemon
                must answer 431 or reset, not keep reading.
  stalled N     open N connections with a tiny receive buffer, ask each for
                /metrics and never read; once their replies have not moved
                for 1.5 s, /metrics must still be served (within 2 s).
"""
import socket
import sys
import time


def fetch(host, port):
    t0 = time.time()
    s = socket.create_connection((host, port), timeout=2)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return data, time.time() - t0


def slowloris(host, port, n):
    conns = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=2)
        s.setblocking(False)
        conns.append([s, None])
    t0 = time.time()
    req = b"GET /metrics HTTP/1.1\r\nX-a: " + b"a" * 100
    data, took = fetch(host, port)
    ok = data.startswith(b"HTTP/1.1 200") and b"bypass_rx_packets_total" in data
    print("fetch during slowloris: %s in %.2f s" % ("200" if ok else repr(data[:40]), took))
    if not ok or took > 2:
        return 1
    i = 0
    while time.time() - t0 < 12 and any(c[1] is None for c in conns):
        for c in conns:
            if c[1] is not None:
                continue
            try:
                c[0].send(req[i:i + 1])
                if c[0].recv(1) == b"":
                    c[1] = time.time() - t0
            except BlockingIOError:
                pass
            except OSError:
                c[1] = time.time() - t0
        i = (i + 1) % len(req)
        time.sleep(1)
    closed = [c[1] for c in conns if c[1] is not None]
    print("slowloris: %d of %d closed by the daemon, the last after %.1f s" %
          (len(closed), n, max(closed) if closed else -1))
    for c in conns:
        c[0].close()
    return 0 if len(closed) == n and max(closed) <= 8 else 1


def stalled(host, port, n):
    conns = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.settimeout(2)
        s.connect((host, port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        conns.append(s)
    time.sleep(1.5)
    # (that the replies did stall, test_metrics.sh checks: an eviction)
    try:
        data, took = fetch(host, port)
    except OSError as e:
        data, took = repr(e).encode(), -1
    ok = data.startswith(b"HTTP/1.1 200") and b"bypass_rx_packets_total" in data
    print("fetch beside %d stalled readers: %s in %.2f s" % (n, "200" if ok else repr(data[:60]), took))
    for s in conns:
        s.close()
    return 0 if ok and took <= 2 else 1


def big(host, port):
    s = socket.create_connection((host, port), timeout=5)
    payload = b"GET /metrics HTTP/1.1\r\nX-a: " + b"a" * (1 << 20)
    sent = 0
    try:
        while sent < len(payload):
            sent += s.send(payload[sent:sent + 65536])
    except OSError as e:
        print("1 MB request: the daemon stopped reading after %d bytes (%s)" % (sent, e.__class__.__name__))
    reply = b""
    try:
        reply = s.recv(4096)
    except OSError:
        pass
    s.close()
    print("1 MB request: sent %d bytes, reply %r" % (sent, reply[:40]))
    if reply and not reply.startswith(b"HTTP/1.1 431"):
        return 1
    return 0 if sent < len(payload) or reply.startswith(b"HTTP/1.1 431") else 1


if __name__ == "__main__":
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "slowloris":
        sys.exit(slowloris(host, port, int(sys.argv[4])))
    if mode == "stalled":
        sys.exit(stalled(host, port, int(sys.argv[4])))
    sys.exit(big(host, port))
