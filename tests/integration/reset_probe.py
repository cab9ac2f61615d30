#!/usr/bin/env python3
"""reset_probe.py - what a program sees on a connection its peer reset.

  reset_probe.py server PORT [DATA]
      accept connections on PORT, send DATA (if given), then reset each at
      once (SO_LINGER {1, 0}).
  reset_probe.py probe IP PORT OPS
      connect, wait for the reset, then run OPS in order, one letter each:
      r = recv, s = send, e = getsockopt(SO_ERROR), p = poll() (the
      events it reports), q = ioctl SIOCINQ and SIOCOUTQ (bytes to read,
      bytes not acknowledged); prints the results, e.g.
      "recv=ECONNRESET recv=b'' send=EPIPE".  SIGPIPE is ignored
      (Python's default), so a send that would raise it says EPIPE.

Run against a Linux peer with kernel sockets and again through the shim:
the two lines must match.
"""
import errno
import fcntl
import select
import socket
import struct
import sys
import time


def server(port, data):
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(('0.0.0.0', port))
    lst.listen(16)
    print('listening', flush=True)
    while True:
        conn, _ = lst.accept()
        # the client's connect() completes first: a reset racing the
        # handshake's completion is reported by connect() itself
        time.sleep(0.1)
        if data:
            conn.sendall(data)
            time.sleep(0.05)  # the data goes out before the reset
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        conn.close()


def op(name, fn):
    try:
        return '%s=%r' % (name, fn())
    except OSError as e:
        return '%s=%s' % (name, errno.errorcode.get(e.errno, e.errno))


SIOCINQ, SIOCOUTQ = 0x541B, 0x5411  # linux/sockios.h (FIONREAD, TIOCOUTQ)


def ioctl_int(c, req):
    return struct.unpack('i', fcntl.ioctl(c.fileno(), req, b'\0' * 4))[0]


def poll_names(c):
    p = select.poll()
    p.register(c, select.POLLIN | select.POLLOUT | select.POLLRDHUP)
    got = p.poll(0)
    ev = got[0][1] if got else 0
    names = [n for n in ('POLLIN', 'POLLOUT', 'POLLERR', 'POLLHUP', 'POLLRDHUP')
             if ev & getattr(select, n)]
    return '|'.join(names) or '0'


def probe(ip, port, ops):
    c = socket.create_connection((ip, port), timeout=10)
    select.select([c], [], [], 10)  # the data or the reset came in
    time.sleep(0.3)  # and the reset after the data
    out = []
    for o in ops:
        if o == 'r':
            out.append(op('recv', lambda: c.recv(10)))
        elif o == 's':
            out.append(op('send', lambda: c.send(b'x')))
        elif o == 'e':
            out.append(op('soerr', lambda: c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)))
        elif o == 'p':
            out.append('poll=' + poll_names(c))
        elif o == 'q':
            out.append(op('queues', lambda: '%d/%d' % (ioctl_int(c, SIOCINQ),
                                                         ioctl_int(c, SIOCOUTQ))))
    print(' '.join(out), flush=True)


if __name__ == '__main__':
    if sys.argv[1] == 'server':
        server(int(sys.argv[2]), sys.argv[3].encode() if len(sys.argv) > 3 else b'')
    elif sys.argv[1] == 'probe':
        probe(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(__doc__)
