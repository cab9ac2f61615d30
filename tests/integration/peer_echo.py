#!/usr/bin/env python3
"""A Linux TCP echo server for the peer namespace: one thread per
connection, closes when its client does; a reset (which several tests
cause on purpose) ends just that connection.
Usage: peer_echo.py PORT"""
import socket
import sys
import threading


def serve(c):
    with c:
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)
        except OSError:
            pass


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", int(sys.argv[1])))
ls.listen(256)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
