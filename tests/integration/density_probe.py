#!/usr/bin/env python3
"""density_probe.py mem PID | cpu PID SECONDS | threads PID SECONDS

mem: what fastpathd holds for its apps, in KiB: "anon_kb memfd_kb nmemfd":
     its anonymous resident memory (RssAnon: heap, per-app bookkeeping) and
     the blocks allocated to the app regions (sealed memfds named
     bypass-app-*, counted once however many processes map them).
cpu: the share of one CPU the process used over SECONDS (utime + stime from
     /proc/PID/stat, all threads), in percent.
threads: the same for each thread, one "tid comm percent" line each, to
     tell which thread worked when the total was too high.
"""
import os
import sys
import time


def mem(pid):
    anon = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                anon = int(line.split()[1])
    total, n = 0, 0
    fddir = f"/proc/{pid}/fd"
    for fd in os.listdir(fddir):
        try:
            target = os.readlink(f"{fddir}/{fd}")
            if not target.startswith("/memfd:bypass-app-"):
                continue
            total += os.stat(f"{fddir}/{fd}").st_blocks * 512
            n += 1
        except OSError:
            continue
    print(f"{anon} {total // 1024} {n}")


def ticks(pid, path=None):
    with open(path or f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def cpu(pid, secs):
    hz = os.sysconf("SC_CLK_TCK")
    t0, w0 = ticks(pid), time.monotonic()
    time.sleep(secs)
    t1, w1 = ticks(pid), time.monotonic()
    print(f"{100.0 * (t1 - t0) / hz / (w1 - w0):.2f}")


def threads(pid, secs):
    hz = os.sysconf("SC_CLK_TCK")
    task = f"/proc/{pid}/task"

    def sample():
        out = {}
        for tid in os.listdir(task):
            try:
                with open(f"{task}/{tid}/comm") as f:
                    comm = f.read().strip()
                out[tid] = (comm, ticks(pid, f"{task}/{tid}/stat"))
            except OSError:
                continue
        return out

    t0, w0 = sample(), time.monotonic()
    time.sleep(secs)
    t1, w1 = sample(), time.monotonic()
    for tid, (comm, t) in sorted(t1.items()):
        used = t - t0.get(tid, (comm, t))[1]
        print(f"{tid} {comm} {100.0 * used / hz / (w1 - w0):.2f}")


if sys.argv[1] == "mem":
    mem(int(sys.argv[2]))
elif sys.argv[1] == "threads":
    threads(int(sys.argv[2]), float(sys.argv[3]))
else:
    cpu(int(sys.argv[2]), float(sys.argv[3]))
