#!/usr/bin/env python3
"""Send stdin to IP:PORT, then end as MODE says and exit at once (run under
the shim by test_shim_close.sh):
  noclose   os._exit() right after the last sendall(): no close at all
  shutdown  shutdown(SHUT_WR), then os._exit()
  close     close(), then os._exit()
  finalize  sys.exit(): the interpreter closes the socket as it exits"""
import os, socket, sys

ip, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((ip, port), timeout=60)
while True:
    b = sys.stdin.buffer.read1(1 << 16)
    if not b:
        break
    s.sendall(b)
if mode == "shutdown":
    s.shutdown(socket.SHUT_WR)
elif mode == "close":
    s.close()
elif mode == "finalize":
    sys.exit(0)
os._exit(0)
