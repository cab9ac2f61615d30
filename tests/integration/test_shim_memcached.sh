#!/usr/bin/env bash
# memcached (2 worker threads), unmodified, under the shim; a Linux client
# stores 10,000 keys over 4 connections and reads each one back over a
# different connection (so across worker threads), checking every value.
set -euo pipefail
# shellcheck source=tests/integration/shim_lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/shim_lib.sh"
shim_setup bpishmc 18
shim_run memcached "$BP_TMP/mc.log" memcached -u root -l 0.0.0.0 -p 11211 -t 2 -U 0
shim_wait_port 11211
bp_peer timeout 120 python3 - "$BP_IP" <<'PY' || bp_die "memcached check failed"
import socket, sys, threading

N, CONNS = 10000, 4
host = sys.argv[1]
def val(i):  # distinct, 8..~1000 bytes
    return b"value-%d-" % i + b"%x" % (i * 2654435761) * (i % 97)

def connect():
    return socket.create_connection((host, 11211), timeout=30).makefile("rwb")

def store(c, keys):
    for i in keys:  # pipelined: all sets, then all replies
        v = val(i)
        c.write(b"set key%d 0 0 %d\r\n%s\r\n" % (i, len(v), v))
    c.flush()
    for i in keys:
        line = c.readline()
        if line != b"STORED\r\n":
            raise SystemExit(f"set key{i}: {line!r}")

def fetch(c, keys, bad):
    for i in keys:  # one request at a time: request/response latency path
        c.write(b"get key%d\r\n" % i)
        c.flush()
        hdr = c.readline()
        want = val(i)
        if hdr != b"VALUE key%d 0 %d\r\n" % (i, len(want)):
            bad.append((i, hdr[:60]))
            return
        data = c.read(len(want) + 2)
        end = c.readline()
        if data != want + b"\r\n" or end != b"END\r\n":
            bad.append((i, data[:60]))

conns = [connect() for _ in range(CONNS)]
parts = [range(k, N, CONNS) for k in range(CONNS)]
errs, bad = [], []
def run(f, *a):
    try:
        f(*a)
    except BaseException as e:
        errs.append(repr(e))
ts = [threading.Thread(target=run, args=(store, conns[k], parts[k])) for k in range(CONNS)]
[t.start() for t in ts]; [t.join() for t in ts]
if errs:
    sys.exit(f"store: {errs[:3]}")
# read back each part over the next connection
ts = [threading.Thread(target=run, args=(fetch, conns[(k + 1) % CONNS], parts[k], bad))
      for k in range(CONNS)]
[t.start() for t in ts]; [t.join() for t in ts]
if errs or bad:
    sys.exit(f"fetch: errors {errs[:3]}, mismatches {len(bad)}: {bad[:3]}")
print(f"  {N} keys stored over {CONNS} connections, every value read back intact")
PY
shim_no_shim_errors "$BP_TMP/mc.log"
echo "PASS: memcached under the shim"
