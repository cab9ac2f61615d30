#!/usr/bin/env python3
"""Byte-exact bulk streams for the multi-core tests, with no files on disk.

Every stream is a deterministic pseudo-random byte sequence named by a seed,
generated 1 MiB at a time, so both ends can produce or check it anywhere in
the pipeline.  A receiver compares what arrives with the regenerated stream
as it goes: a lost, duplicated or reordered byte is reported with the offset
where the data first differs.

  mc_bulk.py gen SEED BYTES            write stream SEED to stdout
  mc_bulk.py check SEED BYTES NAME     read stdin, compare with stream SEED
  mc_bulk.py echo HOST PORT N BYTES SEED0 SECS
      N connections at once to an echo server at HOST:PORT; connection k
      sends stream SEED0+k while it reads the echo back (full duplex) and
      checks it is exactly that stream
  mc_bulk.py serve PORT0 N BYTES SEED0 SECS
      listen on PORT0+k for k < N, one connection each (bpcat dials it);
      connection k sends stream SEED0+k and expects stream SEED0+1000+k
The network modes finish within SECS or fail, printing every connection's
progress.  Exit status 0 only if every stream arrived whole and exact."""
import hashlib, random, socket, sys, threading, time

CHUNK = 1 << 20


def chunk(seed, i, size):
    """Bytes [i*CHUNK, i*CHUNK+size) of stream SEED (size <= CHUNK)."""
    return random.Random(f"{seed}:{i}").randbytes(CHUNK)[:size]


def stream(seed, total):
    i = 0
    while total > 0:
        n = min(CHUNK, total)
        yield chunk(seed, i, n)
        total -= n
        i += 1


class Checker:
    """Compares a received byte stream with stream SEED, incrementally."""

    def __init__(self, seed, total, name):
        self.seed, self.total, self.name = seed, total, name
        self.pos, self.err = 0, None
        self.sha = hashlib.sha256()
        self._idx, self._ref = -1, b""

    def feed(self, data):
        self.sha.update(data)
        if self.err:
            return
        mv = memoryview(data)
        while len(mv):
            if self.pos >= self.total:
                self.err = f"{self.name}: more than the {self.total} bytes sent"
                return
            idx, off = divmod(self.pos, CHUNK)
            if idx != self._idx:
                self._idx = idx
                self._ref = chunk(self.seed, idx, min(CHUNK, self.total - idx * CHUNK))
            n = min(len(mv), len(self._ref) - off)
            if mv[:n] != self._ref[off:off + n]:
                bad = next(j for j in range(n) if mv[j] != self._ref[off + j])
                self.err = (f"{self.name}: data differs from what was sent at byte "
                            f"{self.pos + bad} (lost, duplicated or reordered bytes)")
                return
            self.pos += n
            mv = mv[n:]

    def finish(self):
        if not self.err and self.pos != self.total:
            self.err = f"{self.name}: connection ended after {self.pos} of {self.total} bytes"
        return self.err


class Conn:
    def __init__(self, name, send_seed, recv_seed, total):
        self.name, self.total = name, total
        self.send_seed = send_seed
        self.sent = 0
        self.check = Checker(recv_seed, total, name)
        self.err = None

    def run(self, sock, deadline):
        """Send our stream while the other thread reads; half-close at the end."""
        def sender():
            try:
                for c in stream(self.send_seed, self.total):
                    sock.sendall(c)
                    self.sent += len(c)
                sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                self.err = self.err or f"{self.name}: send failed after {self.sent} bytes: {e!r}"
        t = threading.Thread(target=sender, daemon=True)
        t.start()
        try:
            while time.monotonic() < deadline:
                b = sock.recv(256 * 1024)
                if not b:
                    break
                self.check.feed(b)
                if self.check.err:
                    break
        except OSError as e:
            self.err = self.err or f"{self.name}: receive failed after {self.check.pos} bytes: {e!r}"
        t.join(max(0.0, deadline - time.monotonic()))
        sock.close()
        if t.is_alive():
            self.err = self.err or f"{self.name}: still sending at the deadline ({self.sent} bytes sent)"
        self.err = self.err or self.check.finish()

    def progress(self):
        return f"{self.name}: sent {self.sent}/{self.total}, received {self.check.pos}/{self.total}"


def run_all(conns, workers, secs, what):
    t0 = time.monotonic()
    threads = [threading.Thread(target=w, daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, t0 + secs + 5 - time.monotonic()))
    dt = time.monotonic() - t0
    errs = [c.err for c in conns if c.err]
    if any(t.is_alive() for t in threads):
        errs.append(f"not finished after {secs} s")
    mib = sum(c.total for c in conns) / CHUNK
    print(f"{what}: {len(conns)} connections, {mib:.0f} MiB each way in {dt:.1f} s, "
          f"{len(errs)} errors", flush=True)
    if errs:
        for e in errs[:20]:
            print("  " + e)
        for c in conns:
            print("  " + c.progress())
        return 1
    for c in conns:
        print(f"  {c.name}: sha256 received {c.check.sha.hexdigest()[:16]}... exact")
    return 0


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "gen":
        out = sys.stdout.buffer
        for c in stream(int(argv[2]), int(argv[3])):
            out.write(c)
        out.flush()
        return 0
    if mode == "check":
        ck = Checker(int(argv[2]), int(argv[3]), argv[4])
        inp = sys.stdin.buffer
        while True:
            b = inp.read1(1 << 20)
            if not b:
                break
            ck.feed(b)
        err = ck.finish()
        if err:
            print(err, file=sys.stderr)
            return 1
        print(f"{argv[4]}: {ck.pos} bytes exact, sha256 {ck.sha.hexdigest()}")
        return 0
    if mode == "echo":
        host, port, n, total, seed0, secs = (argv[2], int(argv[3]), int(argv[4]),
                                             int(argv[5]), int(argv[6]), float(argv[7]))
        deadline = time.monotonic() + secs
        conns = [Conn(f"echo conn {k}", seed0 + k, seed0 + k, total) for k in range(n)]

        def worker(c):
            def w():
                try:
                    s = socket.create_connection((host, port), timeout=30)
                except OSError as e:
                    c.err = f"{c.name}: connect to {host}:{port} failed: {e!r}"
                    return
                s.settimeout(max(1.0, deadline - time.monotonic()))
                c.run(s, deadline)
            return w
        return run_all(conns, [worker(c) for c in conns], secs, "echo streams")
    if mode == "serve":
        port0, n, total, seed0, secs = (int(argv[2]), int(argv[3]), int(argv[4]),
                                        int(argv[5]), float(argv[6]))
        deadline = time.monotonic() + secs
        conns, listeners = [], []
        for k in range(n):
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(("0.0.0.0", port0 + k))
            ls.listen(4)
            listeners.append(ls)
            conns.append(Conn(f"port {port0 + k} (bypass dialed)", seed0 + k, seed0 + 1000 + k, total))
        print("listening", flush=True)

        def worker(c, ls):
            def w():
                ls.settimeout(max(1.0, deadline - time.monotonic()))
                try:
                    s, _ = ls.accept()
                except OSError as e:
                    c.err = f"{c.name}: no connection from the bypass app: {e!r}"
                    return
                finally:
                    ls.close()
                s.settimeout(max(1.0, deadline - time.monotonic()))
                c.run(s, deadline)
            return w
        return run_all(conns, [worker(c, ls) for c, ls in zip(conns, listeners)], secs,
                       "streams dialed by bypass")
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
