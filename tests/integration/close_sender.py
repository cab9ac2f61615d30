#!/usr/bin/env python3
"""Send stdin to IP:PORT, then end as MODE says and exit at once (run under
the shim by test_shim_close.sh):
  noclose   os._exit() right after the last sendall(): no close at all
  shutdown  shutdown(SHUT_WR), then os._exit()
  close     close(), then os._exit()
  finalize  sys.exit(): the interpreter closes the socket as it exits
  linger0   SO_LINGER {1, 0} first, and os._exit() with no close: the exit's
            close resets the connection (RST), as Linux's does
  linger0fork  SO_LINGER {1, 0}, then fork(): the parent exits at once, the
            child sends (taking the connection over) and exits without close:
            still RST, the option is the connection's"""
import os, socket, struct, sys

ip, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((ip, port), timeout=60)
if mode.startswith("linger0"):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
if mode == "linger0fork" and os.fork():
    os._exit(0)
while True:
    b = sys.stdin.buffer.read1(1 << 16)
    if not b:
        break
    s.sendall(b)
if mode == "linger0fork":
    sys.stderr.write("linger0fork: the child sent its data\n")
    sys.stderr.flush()
if mode == "shutdown":
    s.shutdown(socket.SHUT_WR)
elif mode == "close":
    s.close()
elif mode == "finalize":
    sys.exit(0)
os._exit(0)
