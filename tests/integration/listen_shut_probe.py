#!/usr/bin/env python3
"""listen_shut_probe.py - shutdown(SHUT_RD) on a listening socket, the idiom
servers use to wake a thread blocked in accept() when they stop.

  listen_shut_probe.py IP

Listens on IP (port 0), blocks a thread in accept(), shuts the listener for
reading, and prints what the blocked accept, poll, a second accept and
SO_ACCEPTCONN say, then listens again, e.g. "blocked=EINVAL poll=POLLOUT|POLLHUP
accept=EINVAL acceptconn=0 relisten=EAGAIN acceptconn=1" (a non-blocking
accept with nobody connecting).  Run on kernel sockets and through the
shim: the two lines must match.
"""
import errno
import select
import socket
import sys
import threading
import time


def outcome(fn):
    try:
        fn()
        return 'ok'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def main(ip):
    lst = socket.socket()
    lst.bind((ip, 0))
    lst.listen(8)
    got = []
    t = threading.Thread(target=lambda: got.append(outcome(lst.accept)), daemon=True)
    t.start()
    time.sleep(0.3)  # blocked in accept() by now
    lst.shutdown(socket.SHUT_RD)
    t.join(5)
    p = select.poll()
    p.register(lst, select.POLLIN | select.POLLOUT | select.POLLRDHUP)
    ev = p.poll(0)
    ev = ev[0][1] if ev else 0
    names = '|'.join(n for n in ('POLLIN', 'POLLOUT', 'POLLERR', 'POLLHUP', 'POLLRDHUP')
                     if ev & getattr(select, n)) or '0'
    shut = 'blocked=%s poll=%s accept=%s acceptconn=%d' % (
        got[0] if got else 'still-blocked', names, outcome(lst.accept),
        lst.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    # listen() again: it listens again, on the same port
    lst.listen(8)
    lst.setblocking(False)
    again = 'relisten=%s acceptconn=%d' % (
        outcome(lst.accept), lst.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    print(shut, again, flush=True)


if __name__ == '__main__':
    main(sys.argv[1])
