#!/usr/bin/env python3
"""many_clients.py HOST BASE N [CONCURRENCY]

One TCP connection to each of the ports BASE .. BASE+N-1 on HOST: send a
message naming the port, read the echo back, check it byte for byte, close.
Exits 0 only if all N connections echoed correctly; prints the failures.
"""
import asyncio
import sys


async def one(host, port, sem, failures):
    msg = f"hello port {port} ".encode() * 8
    async with sem:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            w.write(msg)
            await w.drain()
            got = await asyncio.wait_for(r.readexactly(len(msg)), 10)
            w.close()
            await w.wait_closed()
            if got != msg:
                failures.append((port, "echo differs"))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failures.append((port, repr(e)))


async def main():
    host, base, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    conc = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    sem = asyncio.Semaphore(conc)
    failures = []
    await asyncio.gather(*(one(host, base + i, sem, failures) for i in range(n)))
    for port, why in failures[:20]:
        print(f"port {port}: {why}", file=sys.stderr)
    print(f"{n - len(failures)} of {n} connections echoed")
    return 1 if failures else 0


sys.exit(asyncio.run(main()))
