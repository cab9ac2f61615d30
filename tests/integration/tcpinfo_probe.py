#!/usr/bin/env python3
"""tcpinfo_probe.py - what getsockopt(TCP_INFO) and TCP_MAXSEG say about a
connection that moved data, reduced to facts that hold on any stack.

  tcpinfo_probe.py sink PORT
      accept connections on PORT and read each to its end.
  tcpinfo_probe.py probe IP PORT
      connect, send 1 MiB, wait until the peer acknowledged all of it
      (SIOCOUTQ 0), then print one line, e.g. "state=ESTABLISHED
      mss=plausible maxseg=mss rtt=measured cwnd=open acked=1MiB+ size=full
      cc=named keepidle/intvl=77/75 unknown=ENOPROTOOPT listener=LISTEN
      acceptconn=1"; the listener is bound to port 0.

Run on kernel sockets and through the shim: the two lines must match.
"""
import errno
import fcntl
import socket
import struct
import sys
import time

SIOCOUTQ = 0x5411


def sink(port):
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(('0.0.0.0', port))
    lst.listen(16)
    print('listening', flush=True)
    while True:
        conn, _ = lst.accept()
        while conn.recv(65536):
            pass
        conn.close()


def info(s):
    raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    state = raw[0]
    snd_mss, = struct.unpack_from('I', raw, 16)
    rtt, = struct.unpack_from('I', raw, 68)
    cwnd, = struct.unpack_from('I', raw, 80)
    acked = struct.unpack_from('Q', raw, 120)[0] if len(raw) >= 128 else 0
    return state, snd_mss, rtt, cwnd, acked, len(raw)


def probe(ip, port):
    s = socket.create_connection((ip, port), timeout=10)
    s.sendall(b'x' * (1 << 20))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if struct.unpack('i', fcntl.ioctl(s.fileno(), SIOCOUTQ, b'\0' * 4))[0] == 0:
            break
        time.sleep(0.01)
    state, mss, rtt, cwnd, acked, n = info(s)
    maxseg = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    cc = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b'\0')
    # an option with no bypass meaning: the value set, else Linux's default;
    # one Linux does not know: ENOPROTOOPT
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 77)
    opts = '%d/%d' % (s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                      s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL))
    try:
        s.getsockopt(socket.IPPROTO_TCP, 250)
        unknown = 'answered'
    except OSError as e:
        unknown = errno.errorcode.get(e.errno, str(e.errno))
    lst = socket.socket()
    lst.bind(('0.0.0.0', 0))
    lst.listen(1)
    acceptconn = lst.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    out = [
        'state=' + ('ESTABLISHED' if state == 1 else str(state)),
        'mss=' + ('plausible' if 500 <= mss <= 65535 else str(mss)),
        'maxseg=' + ('mss' if maxseg == mss else '%d(mss %d)' % (maxseg, mss)),
        'rtt=' + ('measured' if rtt > 0 else '0'),
        'cwnd=' + ('open' if cwnd >= 2 else str(cwnd)),
        'acked=' + ('1MiB+' if acked >= 1 << 20 else str(acked)),
        'size=' + ('full' if n >= 232 else str(n)),
        'cc=' + ('named' if cc else 'none'),
        'keepidle/intvl=' + opts,
        'unknown=' + unknown,
        'listener=' + ('LISTEN' if info(lst)[0] == 10 else str(info(lst)[0])),
        'acceptconn=%d' % acceptconn,
    ]
    print(' '.join(out), flush=True)


if __name__ == '__main__':
    if sys.argv[1] == 'sink':
        sink(int(sys.argv[2]))
    elif sys.argv[1] == 'probe':
        probe(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
