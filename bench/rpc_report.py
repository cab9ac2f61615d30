#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""rpc_report.py - bench/rpc_compare.sh's markdown report from its raw CSV.

    rpc_report.py RAW.csv [--meta FILE] [--rpc-note TEXT] [--note TEXT] > rpc.md

RAW.csv: "system,run," followed by bp_load's CSV columns, one line per
measurement.  Every figure is the median over the runs of a system at one
point (message size x sessions); every ratio is taken inside each run (the
systems of run k against each other) and its median is shown, so drift on a
shared machine between runs cancels out.
"""
import argparse
import csv
import statistics
import sys

BASELINES = ("grpc", "tcp")
ORDER = ("tcp", "grpc", "rpc-kernel", "rpc-bypass", "rpc-bypass-msg")
LABEL = {
    "tcp": "plain TCP (bp_load/bp_echo_srv)",
    "grpc": "gRPC C++ async",
    "rpc-kernel": "librpc, kernel sockets",
    "rpc-bypass": "librpc, bypass",
    "rpc-bypass-msg": "librpc, bypass, daemon-framed",
}
RPC = ("rpc-kernel", "rpc-bypass", "rpc-bypass-msg")
RPC_MARK = "<!-- rpc_bench rows: filled by bench/rpc_compare.sh when rpc/tools/rpc_bench is built -->"


def fnum(row, key):
    try:
        return float(row[key])
    except (KeyError, ValueError):
        return float("nan")


def derive(row):
    """the figures of one measurement"""
    cpu = fnum(row, "cpu_cli_s") + fnum(row, "cpu_srv_s")
    resp = fnum(row, "responses")
    lat = (lambda k: fnum(row, k)) if resp > 0 else (lambda k: float("nan"))
    return {
        "rate": fnum(row, "rate_per_s"),
        "per_cpu": resp / cpu if cpu > 0 else float("nan"),
        "p50": lat("lat_p50_us"),
        "p99": lat("lat_p99_us"),
        "p999": lat("lat_p999_us"),
        "cpu_cli": fnum(row, "cpu_cli_s"),
        "cpu_srv": fnum(row, "cpu_srv_s"),
        "errors": fnum(row, "errors"),
    }


def med(vals):
    vals = [v for v in vals if v == v]
    return statistics.median(vals) if vals else float("nan")


def fmt(v, digits=0):
    if v != v:
        return "-"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def ratio(v):
    return "-" if v != v else f"{v:.2f}x"


def size_name(b):
    if b >= 1 << 20 and b % (1 << 20) == 0:
        return f"{b >> 20} MiB"
    if b >= 1024 and b % 1024 == 0:
        return f"{b >> 10} KiB"
    return f"{b} B"


# issue 13's targets: (name, baseline, figure, bound, higher is better)
TARGETS = (("calls/CPU-s >= 10x gRPC", "grpc", "per_cpu", 10, True),
           ("calls/CPU-s >= 1x TCP", "tcp", "per_cpu", 1, True),
           ("p50 <= 0.3x gRPC", "grpc", "p50", 0.3, False),
           ("p99 <= 0.3x gRPC", "grpc", "p99", 0.3, False),
           ("p50 <= 1x TCP", "tcp", "p50", 1, False),
           ("p99 <= 1x TCP", "tcp", "p99", 1, False))


def run_ratio(pt, s, b, k):
    """median over runs of system s's figure k against baseline b's, same run"""
    vals = [r[k] / pt[b][run][k] for run, r in pt[s].items()
            if run in pt[b] and pt[b][run][k] and pt[b][run][k] == pt[b][run][k]]
    return med(vals)


def targets(data):
    """issue 13's target ratios for every librpc row, each marked met or missed"""
    out = ["## Issue 13's targets", "",
           "The issue sets them for unary 64 B echo, librpc over bypass: calls/CPU-s at least",
           "10x gRPC's and at least plain TCP's; p50 and p99 at most 0.3x gRPC's and no worse",
           "than plain TCP's.  The same bounds are applied below to every point (1 KiB, 1 MiB,",
           "1,000 sessions) and to librpc over kernel sockets too, for comparison; the",
           "`rpc-bypass vs rpc-kernel` columns isolate what the daemon itself gains.", ""]
    rows = []
    for key in sorted(data):
        pt = data[key]
        for s in RPC:
            if s not in pt:
                continue
            for name, b, k, bound, ge in TARGETS:
                if b not in pt:
                    continue
                v = run_ratio(pt, s, b, k)
                ok = v == v and (v >= bound if ge else v <= bound)
                verdict = "-" if v != v else ("met" if ok else "**missed**")
                rows.append(f"| {size_name(key[0])} x {key[1]} | {LABEL[s]} | {name} | "
                            f"{ratio(v)} | {verdict} |")
    if not rows:
        return out + ["(no librpc rows, or no gRPC/TCP rows beside them: targets not evaluated)", ""]
    out += ["| point | system | target | measured (median of per-run ratios) | verdict |",
            "|---|---|---|---:|---|"] + rows + [""]
    gain = []
    for key in sorted(data):
        pt = data[key]
        for s in ("rpc-bypass", "rpc-bypass-msg"):
            if s in pt and "rpc-kernel" in pt:
                r = {k: run_ratio(pt, s, "rpc-kernel", k)
                     for k in ("rate", "per_cpu", "p50", "p99")}
                gain.append(f"| {size_name(key[0])} x {key[1]} | {LABEL[s]} | {ratio(r['rate'])} | "
                            f"{ratio(r['per_cpu'])} | {ratio(r['p50'])} | {ratio(r['p99'])} |")
    if gain:
        out += ["librpc over bypass vs rpc-kernel (the daemon's own gain; above 1 better for",
                "calls, below 1 better for latency):", "",
                "| point | system | calls/s | calls/CPU-s | p50 | p99 |",
                "|---|---|---:|---:|---:|---:|"]
        out += gain + [""]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--meta")
    ap.add_argument("--rpc-note", default="")
    ap.add_argument("--note", default="")
    ap.add_argument("--failed", help="CSV of failed runs: system,size,conns,run,reason")
    a = ap.parse_args()

    with open(a.raw, newline="") as f:
        rows = list(csv.DictReader(f))
    # (size, conns) -> system -> run -> figures
    data = {}
    for r in rows:
        key = (int(r["size"]), int(r["conns"]))
        data.setdefault(key, {}).setdefault(r["system"], {})[r["run"]] = derive(r)

    out = ["# RPC unary echo: librpc vs gRPC vs plain TCP (issue 13)", ""]
    out.append("Written by `bench/rpc_compare.sh` (raw numbers: `rpc-raw.csv`).")
    if a.meta:
        with open(a.meta) as f:
            out += [line.rstrip() for line in f if line.strip()]
    if a.note:
        out += ["", f"**Note:** {a.note}"]
    out += ["",
            "calls/s: responses per second of the measured window (closed loop, one call in",
            "flight per session); calls/CPU-s: responses per CPU-second of client plus server",
            "(each side's processes, daemons included); latency: call start to response, us.",
            "Medians over the runs; ratios are taken inside each run, then the median.",
            "Ratios: calls/s and calls/CPU-s above 1 are better, p50/p99 below 1 are better.",
            "Closed loop: with N sessions latency is about N / (calls/s), so at 1,000 sessions",
            "p50 and p99 measure queueing behind the other sessions more than the stack itself.",
            ""]

    has_rpc = any(s in RPC for pt in data.values() for s in pt)
    for key in sorted(data):
        size, conns = key
        pt = data[key]
        systems = [s for s in ORDER if s in pt] + sorted(s for s in pt if s not in ORDER)
        out += [f"## {size_name(size)}, {conns} session{'s' if conns > 1 else ''}", ""]
        out += ["| system | runs | calls/s | calls/CPU-s | p50 us | p99 us | p99.9 us "
                "| CPU cli s | CPU srv s | errors |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for s in systems:
            runs = pt[s].values()
            m = {k: med([r[k] for r in runs]) for k in
                 ("rate", "per_cpu", "p50", "p99", "p999", "cpu_cli", "cpu_srv")}
            err = sum(r["errors"] for r in runs if r["errors"] == r["errors"])
            out.append(f"| {LABEL.get(s, s)} | {len(pt[s])} | {fmt(m['rate'])} | "
                       f"{fmt(m['per_cpu'])} | {fmt(m['p50'], 1)} | {fmt(m['p99'], 1)} | "
                       f"{fmt(m['p999'], 1)} | {fmt(m['cpu_cli'], 2)} | {fmt(m['cpu_srv'], 2)} | "
                       f"{fmt(err)} |")
        if has_rpc and not any(s in pt for s in RPC):
            out.append("| librpc | - | (no rpc_bench row at this point) | | | | | | | |")
        out.append("")
        head = "| system |"
        sep = "|---|"
        bases = [b for b in BASELINES if b in pt]
        for b in bases:
            n = "gRPC" if b == "grpc" else "TCP"
            head += f" calls/s vs {n} | calls/CPU-s vs {n} | p50 vs {n} | p99 vs {n} |"
            sep += "---:|---:|---:|---:|"
        ratio_rows = []
        for s in systems:
            if s in bases and len(bases) == 1:
                continue  # the baseline against itself only
            line = f"| {LABEL.get(s, s)} |"
            for b in bases:
                if s == b:
                    line += " - | - | - | - |"
                    continue
                rs = {}
                for k in ("rate", "per_cpu", "p50", "p99"):
                    vals = []
                    for run, r in pt[s].items():
                        base = pt[b].get(run)
                        if base and base[k] and base[k] == base[k]:
                            vals.append(r[k] / base[k])
                    rs[k] = med(vals)
                line += (f" {ratio(rs['rate'])} | {ratio(rs['per_cpu'])} | "
                         f"{ratio(rs['p50'])} | {ratio(rs['p99'])} |")
            ratio_rows.append(line)
        if bases and ratio_rows:
            out += ["Ratios (median of per-run ratios):", "", head, sep] + ratio_rows + [""]

    failed = []
    if a.failed:
        with open(a.failed, newline="") as f:
            failed = list(csv.DictReader(f))
    if failed:
        out += ["## Failed runs", "",
                "Not in the medians above (a point's `runs` column counts the good ones).", "",
                "| system | size | sessions | run | why |", "|---|---|---:|---:|---|"]
        for r in failed:
            out.append(f"| {LABEL.get(r['system'], r['system'])} | {size_name(int(r['size']))} | "
                       f"{r['conns']} | {r['run']} | {r['reason']} |")
        out.append("")
    if not has_rpc:
        out += ["## librpc (rpc_bench)", "", RPC_MARK, ""]
        out += [a.rpc_note or "rpc_bench not built: skipped", "",
                "When `rpc/tools/rpc_bench` is built, `rpc_compare.sh` runs it as `rpc-kernel`",
                "(kernel sockets, same veth as gRPC and TCP) and `rpc-bypass` (both ends on",
                "fastpathd, net_memif between the daemons), and its rows and ratios appear in",
                "the tables above and the targets below.", ""]
    out += targets(data)
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
