#!/usr/bin/env python3
"""rpc_hostile_peer.py - a Linux peer speaking rpc/WIRE.md at an RPC server
framed by fastpathd (method 1 echoes), as an attacker and as a caller.

  rpc_hostile_peer.py hold IP PORT N MSG FIRST
      N sessions each send the first frame (FIRST body bytes) of a REQUEST
      of MSG bytes and never the rest, then a 64-byte request that finds
      no heap room, so the daemon's framer stops on them (a peer must not
      stop its own clock that way); they answer PINGs, like a live peer.
      Prints "reset S.SS" per session when the server resets it (seconds
      after its frame went), or "alive" if it has not after 30 s.
  rpc_hostile_peer.py announce IP PORT N MSG
      N sessions each send a REQUEST header announcing MSG bytes with one
      body byte, then stay (until stdin closes).  Prints "announced".
  rpc_hostile_peer.py call IP PORT SIZE
      one call of SIZE bytes; prints "answered S.SS status N ok|bad".
  rpc_hostile_peer.py interleave IP PORT MSG FIRST
      one session sends calls 1 and 2 of MSG bytes each, their first
      frames (FIRST bytes) one after the other, then the rest of call 1,
      then the rest of call 2; prints "call ID status N ok|bad" per answer.

Exit: 0 when it printed its result, 1 on a timeout or a broken session.
"""
import socket
import struct
import sys
import threading
import time

HDR = struct.Struct('<HBBHHIIIIHHI')
REQUEST, RESPONSE, CHUNK, PING, PONG = 1, 2, 5, 6, 7
MORE, RESP_DIR = 1, 2


def hdr(ftype, flags, call_id, frame_len, msg_len, aux=0):
    return HDR.pack(0x5242, 1, ftype, flags, 1, call_id, frame_len, msg_len, 0, 0, 0, aux)


def body(call_id, n):
    return bytes((call_id * 37 + i * 11) & 0xff for i in range(min(n, 65536))) * (n // 65536 + 1)


class Session:
    """A connection with a reader thread: answers PINGs, collects answers."""

    def __init__(self, ip, port):
        self.s = socket.create_connection((ip, port), timeout=30)
        self.s.settimeout(None)
        self.lock = threading.Lock()
        self.answers = {}  # call_id -> (status, body bytes)
        self.partial = {}
        self.closed_at = None
        self.cond = threading.Condition()
        threading.Thread(target=self.read, daemon=True).start()

    def send(self, data):
        with self.lock:  # whole frames only: a PONG never lands inside one
            self.s.sendall(data)

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            got = self.s.recv(min(n - len(buf), 1 << 20))
            if not got:
                raise ConnectionResetError('EOF')
            buf += got
        return bytes(buf)

    def read(self):
        try:
            while True:
                (_m, _v, ftype, flags, _meth, call_id, flen, mlen, _dl, status, meta,
                 aux) = HDR.unpack(self.recv_exact(HDR.size))
                payload = self.recv_exact(flen)
                if ftype == PING:
                    self.send(hdr(PONG, 0, 0, 0, 0, aux))
                elif ftype == RESPONSE:
                    self.partial[call_id] = [status, mlen, bytearray(payload[meta:])]
                elif ftype == CHUNK and flags & RESP_DIR:
                    self.partial[call_id][2] += payload
                else:
                    continue
                p = self.partial.get(call_id)
                if p and len(p[2]) == p[1] and not (flags & MORE):
                    with self.cond:
                        self.answers[call_id] = (p[0], bytes(p[2]))
                        del self.partial[call_id]
                        self.cond.notify_all()
        except OSError:
            pass
        with self.cond:
            self.closed_at = time.monotonic()
            self.cond.notify_all()

    def wait(self, pred, timeout):
        with self.cond:
            return self.cond.wait_for(pred, timeout)


def request(call_id, msg, first):
    """the REQUEST's first frame, then its CHUNK, of body(call_id, msg)"""
    data = body(call_id, msg)[:msg]
    more = MORE if first < msg else 0
    frames = [hdr(REQUEST, more, call_id, first, msg) + data[:first]]
    if more:
        frames.append(hdr(CHUNK, 0, call_id, msg - first, first) + data[first:])
    return data, frames


def main():
    mode, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    args = [int(a) for a in sys.argv[4:]]
    if mode == 'hold':
        n, msg, first = args
        sessions = [Session(ip, port) for _ in range(n)]
        sent = []
        for i, s in enumerate(sessions):
            s.send(request(i + 1, msg, first)[1][0])
            sent.append(time.monotonic())
        time.sleep(0.2)  # every session's run is taken: the heap is full
        for i, s in enumerate(sessions):
            s.send(request(1000 + i, 64, 64)[1][0])
        print('holding', n, flush=True)
        for s, t in zip(sessions, sent):
            if s.wait(lambda s=s: s.closed_at is not None, 30 - (time.monotonic() - t)):
                print('reset %.2f' % (s.closed_at - t), flush=True)
            else:
                print('alive', flush=True)
        return 0
    if mode == 'announce':
        n, msg = args
        sessions = [Session(ip, port) for _ in range(n)]
        for i, s in enumerate(sessions):
            s.send(hdr(REQUEST, MORE, i + 1, 1, msg) + b'x')
        print('announced', n, flush=True)
        sys.stdin.read()
        return 0
    if mode == 'call':
        (size,) = args
        s = Session(ip, port)
        data, frames = request(7, size, size)
        t = time.monotonic()
        s.send(frames[0])
        if not s.wait(lambda: 7 in s.answers or s.closed_at is not None, 30) or 7 not in s.answers:
            print('no answer', flush=True)
            return 1
        status, got = s.answers[7]
        print('answered %.2f status %d %s' % (time.monotonic() - t, status,
                                              'ok' if got == data else 'bad'), flush=True)
        return 0
    if mode == 'interleave':
        msg, first = args
        s = Session(ip, port)
        d1, f1 = request(1, msg, first)
        d2, f2 = request(2, msg, first)
        for f in (f1[0], f2[0], f1[1], f2[1]):
            s.send(f)
        if not s.wait(lambda: len(s.answers) == 2 or s.closed_at is not None, 30):
            print('answers', sorted(s.answers), 'after 30 s', flush=True)
            return 1
        for cid, data in ((1, d1), (2, d2)):
            if cid not in s.answers:
                print('call %d unanswered: session closed' % cid, flush=True)
                return 1
            status, got = s.answers[cid]
            print('call %d status %d %s' % (cid, status, 'ok' if got == data else 'bad'),
                  flush=True)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
