#!/usr/bin/env bash
# memcached (multi-threaded), unmodified, under the shim; a Linux client
# stores 10,000 keys and reads each one back.
set -euo pipefail
source "$(dirname "$0")/shim_lib.sh"
shim_setup bpishmc 18
shim_run "$BP_TMP/mc.log" memcached -u root -l 0.0.0.0 -p 11211 -t 2 -U 0
bp_wait_port "$BP_IP" 11211
bp_peer timeout 120 python3 - "$BP_IP" <<'PY' || bp_die "memcached check failed"
import socket, sys
s = socket.create_connection((sys.argv[1], 11211), timeout=20)
f = s.makefile("rwb")
val = lambda i: b"value-%d-%s" % (i, b"y" * (i % 200))
for i in range(10000):
    v = val(i)
    f.write(b"set key%d 0 0 %d\r\n%s\r\n" % (i, len(v), v))
f.flush()
for i in range(10000):
    line = f.readline()
    if line != b"STORED\r\n":
        sys.exit(f"set {i}: {line!r}")
bad = 0
for i in range(10000):
    f.write(b"get key%d\r\n" % i)
    f.flush()
    hdr, data, end = f.readline(), f.readline(), f.readline()
    bad += data[:-2] != val(i) or end != b"END\r\n"
print(f"  10000 keys stored, read back with {bad} mismatches")
sys.exit(1 if bad else 0)
PY
echo "PASS: memcached under the shim"
