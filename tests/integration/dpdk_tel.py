#!/usr/bin/env python3
"""dpdk_tel.py - a client of DPDK's telemetry v2 socket, as dpdk-telemetry.py
(not in Debian 12's dpdk package) speaks it: SOCK_SEQPACKET, the server
sends a JSON greeting with max_output_len, then answers each command with
one JSON message.

Usage: dpdk_tel.py SOCKET COMMAND...   prints one JSON line per command.
"""
import json
import socket
import sys


def query(path, cmds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    hello = json.loads(s.recv(1024).decode())
    size = int(hello.get("max_output_len", 16384))
    out = []
    for c in cmds:
        s.send(c.encode())
        out.append(json.loads(s.recv(size).decode()))
    s.close()
    return out


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    for reply in query(sys.argv[1], sys.argv[2:]):
        print(json.dumps(reply))
