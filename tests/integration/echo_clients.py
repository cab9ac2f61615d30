#!/usr/bin/env python3
"""N concurrent Linux TCP clients against an echo server; each sends its own
pseudo-random payload, half-closes, and checks the echo byte for byte.
Usage: echo_clients.py HOST PORT N SIZE [CONNECTING]
CONNECTING (default N) bounds the handshakes in flight at once: a burst of
thousands of SYNs at a 128-deep listener is a SYN flood test, not this one;
all N connections are still open at the same time before any data flows."""
import random, socket, sys, threading, time

host, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
connecting = threading.Semaphore(int(sys.argv[5]) if len(sys.argv) > 5 else n)
errors = []
barrier = threading.Barrier(n)

def client(i):
    data = random.Random(i).randbytes(size)
    try:
        with connecting:
            s = socket.create_connection((host, port), timeout=30)
        barrier.wait(timeout=30)           # all n connections open at once
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        s.close()
        if bytes(got) != data:
            errors.append(f"conn {i}: echoed {len(got)} bytes, content {'matches' if got == data[:len(got)] else 'differs'}")
    except Exception as e:  # noqa: BLE001 - report every failure
        errors.append(f"conn {i}: {e!r}")

t0 = time.time()
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
if any(t.is_alive() for t in threads):
    errors.append("some clients still running after 60 s")
print(f"{n} concurrent connections x {size} bytes in {time.time() - t0:.2f}s, {len(errors)} errors")
for e in errors[:10]:
    print("  " + e)
sys.exit(1 if errors else 0)
