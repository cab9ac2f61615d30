#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.py DIR - turn DIR/raw.csv (written by bench/run.sh) into
DIR/summary.csv, DIR/report.md and DIR/*.png (gnuplot, if installed).

Every figure is the median over runs with min and max; every comparison is
a ratio taken inside each run (system / linux of the same run), then the
median of those ratios.  A figure whose (max - min) / median exceeds
NOISY is flagged as noisy.
"""
import csv
import os
import shutil
import statistics
import subprocess
import sys

NOISY = 0.20
SYSTEM_ORDER = ["linux", "bypass", "lx2bp"]


class SystemNames(dict):
    """Display names; variants of a bypass system (run.sh --fp-cores,
    --dedicated) are named after their base: bypass-2c, lx2bp-4c, bypass-ded."""

    def __missing__(self, s):
        base, _, var = s.partition("-")
        if base not in self or not var:
            return s
        if var == "ded":
            return f"{self[base]}, dedicated fastpath core"
        return f"{self[base]}, {var[:-1]} fastpath cores"


SYSTEM_NAME = SystemNames({
    "linux": "(a) Linux<->Linux",
    "bypass": "(b) bypass<->bypass (memif)",
    "lx2bp": "(c) Linux->bypass (af_xdp)",
})


def system_key(s):
    """Report order: the base systems, each followed by its variants."""
    base, _, var = s.partition("-")
    rank = SYSTEM_ORDER.index(base) if base in SYSTEM_ORDER else len(SYSTEM_ORDER)
    vrank = 0 if not var else (100 if var == "ded" else int(var[:-1]) if var[:-1].isdigit() else 99)
    return (rank, vrank, s)

# targets from issue 11: (id, text, workload, metric, kind, threshold, systems)
#   kind "ratio_le": median ratio system/linux <= threshold
#   kind "ratio_ge": median ratio system/linux >= threshold
#   kind "spread_le": (max - min) / median of that ratio over runs <= threshold
#   kind "scale_ge": median of echo10000/echo100 within a system >= threshold
#   systems: the system names a target is about (a base name covers its
#   core-count variants, never the dedicated-core one unless listed)
TARGETS = [
    ("E1", "echo per CPU-second (256 conns) >= 6x Linux", "echo256", "per_cpu_s",
     "ratio_ge", 6.0, ("bypass",)),
    ("E2", "run-to-run spread of E1 < 30%", "echo256", "per_cpu_s", "spread_le", 0.3,
     ("bypass",)),
    ("E3", "echo per CPU-second (1 conn) >= 1.0x Linux", "echo1", "per_cpu_s",
     "ratio_ge", 1.0, ("bypass",)),
    ("L1", "64 B ping-pong p50 <= 0.8x Linux (shared cores)", "pp64", "lat_p50_us",
     "ratio_le", 0.8, ("bypass",)),
    ("L2", "64 B ping-pong p50 <= 0.5x Linux (dedicated fastpath core)", "pp64",
     "lat_p50_us", "ratio_le", 0.5, ("bypass-ded",)),
    ("S1", "10,000 connections >= 80% of the 100-connection rate", "echo10000",
     "rate_per_s", "scale_ge", 0.8, ("bypass", "lx2bp")),
    ("S2", "10,000 connections p99 <= 2x Linux's", "echo10000", "lat_p99_us",
     "ratio_le", 2.0, ("bypass", "lx2bp")),
    ("B1", "bulk single-flow goodput >= 1.0x Linux", "bulk", "goodput_mbit",
     "ratio_ge", 1.0, ("bypass", "lx2bp")),
    ("X1", "Linux client over af_xdp, echo per CPU-second (256 conns) >= 1.5x Linux",
     "echo256", "per_cpu_s", "ratio_ge", 1.5, ("lx2bp",)),
]


def target_applies(system, names):
    """Is a target about @system?  "bypass" covers bypass-2c, not bypass-ded."""
    if system in names:
        return True
    base, _, var = system.partition("-")
    return base in names and var != "ded"


def fnum(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def read_meta(path):
    meta = {}
    if os.path.exists(path):
        for line in open(path):
            k, _, v = line.rstrip("\n").partition("=")
            if k:
                meta[k] = v
    return meta


def derive(row):
    """Per-run figures computed from one bp_load line."""
    d = {}
    for k, v in row.items():
        x = fnum(v)
        if x is not None:
            d[k] = x
    win = d.get("window_s", 0)
    resp = d.get("responses", 0)
    cli = d.get("cpu_cli_s", 0)
    srv = d.get("cpu_srv_s", 0)
    busy = sum(v for k, v in d.items() if k.startswith("core") and k.endswith("_busy_s"))
    # the work unit: responses, or for bulk megabits delivered
    work = resp
    if row["mode"] == "bulk":
        work = d.get("goodput_mbit", 0) * win
    if cli + srv > 0:
        d["per_cpu_s"] = work / (cli + srv)
    if srv > 0:
        d["per_srv_cpu_s"] = work / srv
    if busy > 0:
        d["per_busy_core_s"] = work / busy
    if win > 0:
        d["srv_cores"] = srv / win
        d["cli_cores"] = cli / win
    return d


def stats(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    med = statistics.median(vals)
    lo, hi = min(vals), max(vals)
    spread = (hi - lo) / med if med else 0.0
    return {"median": med, "min": lo, "max": hi, "n": len(vals), "spread": spread,
            "noisy": len(vals) > 1 and spread > NOISY}


def fmt(x, digits=None):
    if x is None:
        return "-"
    if digits is not None:
        return f"{x:.{digits}f}"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_stat(st, digits=None, unit=""):
    if not st:
        return "-"
    s = f"{fmt(st['median'], digits)}{unit} ({fmt(st['min'], digits)}..{fmt(st['max'], digits)})"
    if st["noisy"]:
        s += " **noisy**"
    return s


def fmt_ratio(st):
    if not st:
        return "-"
    s = f"{st['median']:.2f}x ({st['min']:.2f}..{st['max']:.2f})"
    if st["noisy"]:
        s += " **noisy**"
    return s


class Results:
    def __init__(self, rows):
        self.runs = {}   # (workload, system) -> {run: derived}
        self.fail = {}   # (workload, system) -> count
        self.order = []
        for r in rows:
            if r["run"] == "perf":
                continue
            key = (r["workload"], r["system"])
            if r["workload"] not in self.order:
                self.order.append(r["workload"])
            if r["rc"] != "0" or not r.get("mode"):
                self.fail[key] = self.fail.get(key, 0) + 1
                continue
            d = derive(r)
            # errors, or nothing got through (e.g. no connection was accepted)
            got = d.get("goodput_mbit", 0) if r["mode"] == "bulk" else d.get("responses", 0)
            if d.get("errors", 0) > 0 or not got:
                self.fail[key] = self.fail.get(key, 0) + 1
            self.runs.setdefault(key, {})[r["run"]] = d
        self.systems = sorted({k[1] for k in self.runs}, key=system_key)

    def values(self, w, s, m):
        return [d.get(m) for d in self.runs.get((w, s), {}).values()]

    def stat(self, w, s, m):
        return stats(self.values(w, s, m))

    def _per_run_ratio(self, top, bottom, m):
        """stats of top/bottom for metric m, paired run by run"""
        a = self.runs.get(top, {})
        b = self.runs.get(bottom, {})
        vals = []
        for run, d in a.items():
            x, y = d.get(m), b.get(run, {}).get(m)
            if x is not None and y:
                vals.append(x / y)
        return stats(vals)

    def ratio(self, w, s, m, base="linux"):
        return self._per_run_ratio((w, s), (w, base), m)

    def scale(self, s, m, w_hi="echo10000", w_lo="echo100"):
        return self._per_run_ratio((w_hi, s), (w_lo, s), m)


def echo_points(res):
    pts = []
    for w in res.order:
        if w.startswith("echo") and w[4:].isdigit():
            pts.append((int(w[4:]), w))
    if "pp64" in res.order:
        pts.append((1, "pp64"))  # one connection, depth 1, 64 B: the same workload
    return sorted(set(pts))


# ------------------------------------------------------------------ plots

def gp_quote(s):
    return s.replace('"', "'")


def write_plots(res, out):
    gnuplot = shutil.which("gnuplot")
    systems = res.systems
    if not gnuplot or not systems:
        return [], "gnuplot not installed: no plots (apt-get install gnuplot-nox)" if not gnuplot else ""
    term = "pngcairo size 900,540 font 'sans,10'"
    try:
        t = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True, text=True,
                           timeout=20)
        if "pngcairo" not in (t.stdout + t.stderr):
            term = "png size 900,540"
    except (OSError, subprocess.SubprocessError):
        term = "png size 900,540"
    made, script = [], [f"set terminal {term}", "set termoption noenhanced", "set grid ytics",
                        "set key top left"]

    # latency: clustered bars with min..max error bars
    rows = []
    for w, label in (("pp64", "64 B"), ("pp1k", "1 KiB")):
        for m, ml in (("lat_p50_us", "p50"), ("lat_p99_us", "p99"), ("lat_p999_us", "p99.9")):
            cells = []
            for s in systems:
                st = res.stat(w, s, m)
                cells += [st["median"], st["min"], st["max"]] if st else [0, 0, 0]
            if any(cells):
                rows.append([f'"{label} {ml}"'] + cells)
    if rows:
        with open(os.path.join(out, "latency.dat"), "w") as f:
            f.write("# label " + " ".join(f"{s}_med {s}_min {s}_max" for s in systems) + "\n")
            for r in rows:
                f.write(" ".join(str(x) for x in r) + "\n")
        plots = ", ".join(
            f"'latency.dat' using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}{':xtic(1)' if i == 0 else ''}"
            f" title \"{gp_quote(SYSTEM_NAME[s])}\"" for i, s in enumerate(systems))
        script += [
            "set output 'latency.png'",
            "set title 'Ping-pong round trip (median of runs, bars: min..max)'",
            "set ylabel 'microseconds (log)'", "set logscale y", "unset logscale x",
            "set style data histograms", "set style histogram errorbars gap 1 lw 1",
            "set style fill solid 0.6 border -1", "set xtics rotate by -30",
            f"plot {plots}", "unset logscale y", "set xtics norotate",
        ]
        made.append("latency.png")

    # echo throughput and efficiency against connections
    pts = echo_points(res)
    if pts:
        for metric, fname, title, ylabel in (
                ("rate_per_s", "echo_scale", "Echo throughput, 64 B requests, 1 in flight per connection",
                 "responses per second"),
                ("per_cpu_s", "efficiency", "CPU efficiency: responses per CPU-second (daemons + apps, both sides)",
                 "responses per CPU-second"),
                ("per_srv_cpu_s", "efficiency_server", "Responses per server-side CPU-second (server app + its daemon)",
                 "responses per server CPU-second")):
            with open(os.path.join(out, fname + ".dat"), "w") as f:
                f.write("# conns " + " ".join(f"{s}_med {s}_min {s}_max" for s in systems) + "\n")
                for n, w in pts:
                    cells = []
                    for s in systems:
                        st = res.stat(w, s, metric)
                        cells += [st["median"], st["min"], st["max"]] if st else ["NaN"] * 3
                    f.write(f"{n} " + " ".join(str(x) for x in cells) + "\n")
            plots = ", ".join(
                f"'{fname}.dat' using 1:{2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i} with yerrorlines"
                f" title \"{gp_quote(SYSTEM_NAME[s])}\"" for i, s in enumerate(systems))
            script += [
                f"set output '{fname}.png'", f"set title \"{title}\"",
                "set style data lines", "set logscale x", "set xlabel 'connections'",
                f"set ylabel '{ylabel}'", "set yrange [0:*]", f"plot {plots}",
                "unset logscale x", "unset xlabel", "set autoscale y",
            ]
            made.append(fname + ".png")

    # bulk and cps: bars side by side
    rows = []
    for w, m, label in (("bulk", "goodput_mbit", "bulk goodput (Mbit/s)"),
                        ("cps", "rate_per_s", "connections/s")):
        cells = []
        for s in systems:
            st = res.stat(w, s, m)
            cells += [st["median"], st["min"], st["max"]] if st else [0, 0, 0]
        if any(cells):
            rows.append((w, label, cells))
    if rows:
        script += [f"set output 'bulk_cps.png'", "set multiplot layout 1,%d" % len(rows),
                   "set style data histograms", "set style histogram errorbars gap 1 lw 1",
                   "set style fill solid 0.6 border -1", "set yrange [0:*]", "set key below"]
        for w, label, cells in rows:
            with open(os.path.join(out, f"{w}.dat"), "w") as f:
                f.write(f'"{w}" ' + " ".join(str(x) for x in cells) + "\n")
            plots = ", ".join(
                f"'{w}.dat' using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}{':xtic(1)' if i == 0 else ''}"
                f" title \"{gp_quote(SYSTEM_NAME[s])}\"" for i, s in enumerate(systems))
            script += [f"set title '{label}'", "set ylabel ''", f"plot {plots}"]
        script += ["unset multiplot"]
        made.append("bulk_cps.png")

    with open(os.path.join(out, "plots.gp"), "w") as f:
        f.write("\n".join(script) + "\n")
    try:
        r = subprocess.run([gnuplot, "plots.gp"], cwd=out, capture_output=True, text=True,
                           timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        return [], f"gnuplot failed: {e}"
    made = [m for m in made if os.path.exists(os.path.join(out, m))]
    note = "" if r.returncode == 0 else f"gnuplot reported: {r.stderr.strip()[:400]}"
    return made, note


# ----------------------------------------------------------------- report

def perf_sections(path):
    """The sections run.sh wrote into a perf-*.txt: title -> sample lines."""
    secs, cur = {}, None
    if not os.path.exists(path):
        return secs
    for line in open(path, errors="replace"):
        line = line.rstrip()
        if line.startswith("# "):
            cur = line[2:]
            secs[cur] = []
        elif cur and line.strip() and "%" in line.split()[0]:
            secs[cur].append(line)
    return secs


def cpu_share_map(lines):
    """{cpu: {comm: percent of that CPU}} from 'pct cpu comm' lines (perf's
    percentages are of all samples on all CPUs; lines under 1% are cut)."""
    per = {}
    for line in lines:
        p = line.split()
        if len(p) < 3:
            continue
        try:
            pct, cpu = float(p[0].rstrip("%")), int(p[1])
        except ValueError:
            continue
        comm = "idle" if p[2] == "swapper" else " ".join(p[2:])
        per.setdefault(cpu, {})
        per[cpu][comm] = per[cpu].get(comm, 0) + pct
    for cpu, d in per.items():
        tot = sum(d.values())
        for k in d:
            d[k] = d[k] * 100.0 / tot if tot else 0
    return per


def cpu_shares(lines):
    per = cpu_share_map(lines)
    if not per:
        return "no samples"
    parts = []
    for cpu in sorted(per):
        items = sorted(per[cpu].items(), key=lambda kv: -kv[1])[:4]
        parts.append(f"CPU {cpu}: " + ", ".join(f"{c} {v:.0f}%" for c, v in items))
    return "; ".join(parts)


def causes(res, out, meta, P):
    """Why bypass falls short: design facts from the code, each with the
    measurement of this run that shows it (where one was taken)."""
    cs, cc = int(meta.get("core_srv", "0")), int(meta.get("core_cli", "1"))

    def share(name, cpu, comm):
        sec = perf_sections(os.path.join(out, f"perf-{name}.txt"))
        return cpu_share_map(sec.get("per CPU and command", [])).get(cpu, {}).get(comm)

    def pct(x):
        return f"{x:.0f}%" if x is not None else "?"

    P("Causes, from the code, with the figures of this run that show them:")
    P("")
    fp, app = share("bypass-pp64", cs, "fastpathd"), share("bypass-pp64", cs, "bp_echo_srv")
    lat_b, lat_l = res.stat("pp64", "bypass", "lat_p50_us"), res.stat("pp64", "linux", "lat_p50_us")
    P("* **Latency: a round trip crosses two daemons, and every app wakeup is a context "
      "switch on a CPU its daemon polls on.** bp_load -> doorbell -> client fastpathd -> "
      "memif -> server fastpathd -> event + eventfd write -> bp_echo_srv wakes, and the "
      "same back: two eventfd wakeups per round trip, as many as Linux has, plus two daemon "
      "passes. The daemon yields its CPU right after waking an app (`sched_yield()` in "
      "`fp_run`), so the app no longer waits out the `idle_poll_us` window, but each "
      "wakeup still costs two context switches on a CPU shared with a busy-polling daemon"
      + (f": during ping-pong fastpathd took {pct(fp)} of the server CPU and "
         f"bp_echo_srv {pct(app)}" if fp is not None else "")
      + (f"; p50 {lat_b['median']:.0f} us against Linux {lat_l['median']:.0f} us." if lat_b and lat_l else ".")
      + " The 0.2x target needs a fastpath core of its own per daemon (4 CPUs for (b)) "
      "and apps that poll instead of sleeping.")
    fp_e, app_e = share("bypass-echo256", cs, "fastpathd"), share("bypass-echo256", cs, "bp_echo_srv")
    lx_e = share("linux-echo256", cs, "bp_echo_srv")
    P("* **Throughput per core: the daemon's polling loop is charged to the same core.** "
      "In echo256 the server CPU split "
      + (f"fastpathd {pct(fp_e)} / bp_echo_srv {pct(app_e)}" if fp_e is not None else "between daemon and app")
      + (f" (Linux: the server process {pct(lx_e)}, kernel TCP included)" if lx_e is not None else "")
      + ". The app side still pays a lock, a ring copy and, when it sleeps, a poll() and "
      "eventfd per wakeup; the daemon side a second copy (ring <-> mbuf) and memif's own "
      "copy in and out of its shared region. 5x per core needs the daemon on a core of "
      "its own, serving many apps, with apps that do not sleep.")
    idle_srv = share("bypass-cps", cs, "idle")
    idle_cli = share("bypass-cps", cc, "idle") or 0.0
    cli_sp, cli_fp, cli_app = (share("bypass-cps", cc, c) for c in ("slowpath", "fastpathd", "bp_load"))
    head = ("the client side is the bottleneck" if idle_srv is not None and idle_srv > idle_cli + 5
            else "connection setup is expensive on both sides")
    P(f"* **Connection rate: {head}.** `bp_connect()` is a "
      "synchronous round trip to the slowpath (ctrl queue, eventfd, reply event), so a "
      "single-threaded client has one connect in flight at a time; the slowpath thread is "
      "pinned to the fastpath's CPU (it inherits the EAL main lcore's affinity), where the "
      "fastpath busy-polls"
      + (f". In cps the client CPU went to slowpath {pct(cli_sp)}, fastpathd {pct(cli_fp)}, "
         f"bp_load {pct(cli_app)} ({pct(idle_cli)} idle), while the server CPU was "
         f"{pct(idle_srv)} idle" if cli_sp is not None else "")
      + ". Slots beyond the 64 an app keeps warm are returned with `fallocate(PUNCH_HOLE)` "
      "on the slowpath and fault their ring pages in again when reused.")
    bb, bl = res.stat("bulk", "bypass", "goodput_mbit"), res.stat("bulk", "linux", "goodput_mbit")
    P("* **Bulk: frame size and copies.** Linux on a veth with offloads moves 64 KiB "
      "TSO/GRO super-frames and copies twice (user -> skb, skb -> user); bypass moves "
      "1500-byte frames and copies six times (app -> tx ring -> mbuf -> memif region -> "
      "mbuf -> rx ring -> app), with no segmentation offload on either PMD"
      + (f": {bb['median']:,.0f} against {bl['median']:,.0f} Mbit/s." if bb and bl else "."))
    P("* **(c) Linux -> bypass over af_xdp** adds the Linux client's full stack without "
      "offloads (the PMD needs finished checksums and MTU frames) and an XDP redirect per "
      "frame; it is a kernel path on both ends, so it can only show the server side's "
      "cost, not kernel bypass.")
    e1, e10k = res.stat("echo1000", "bypass", "lat_p99_us"), res.stat("echo10000", "bypass", "lat_p99_us")
    P("* **10,000 connections: throughput holds, the tail does not.** Apps learn which "
      "handles are ready from `bp_poll()` (no scan), and a port that cannot take a burst "
      "keeps frames in the daemon's transmit backlog while flows above 1,024 queued frames "
      "stop sending until it drains (`tx_queue_full_deferred` in `bypassctl-*.txt`). "
      "What is left is the tail: when both an app and its daemon have work, they share "
      "the CPU in scheduler slices of milliseconds, and a request caught behind a few "
      "slices on each side, plus the backlog and the memif ring, waits tens of "
      "milliseconds; a segment whose ACK waits longer than the retransmission floor is "
      "resent needlessly (`tx_retransmits`, `rx_duplicate` in `bypassctl-*.txt`)"
      + (f": p99 {e10k['median'] / 1000:,.0f} ms at 10,000 connections against "
         f"{e1['median'] / 1000:,.0f} ms at 1,000." if e1 and e10k else "."))
    P("")


def main():
    out = sys.argv[1]
    raw = os.path.join(out, "raw.csv")
    rows = list(csv.DictReader(open(raw)))
    meta = read_meta(os.path.join(out, "meta.txt"))
    res = Results(rows)
    systems = res.systems

    # summary.csv: every (workload, system, metric) with its ratio to Linux
    metrics = ["rate_per_s", "goodput_mbit", "lat_p50_us", "lat_p99_us", "lat_p999_us",
               "lat_mean_us", "per_cpu_s", "per_srv_cpu_s", "per_busy_core_s", "srv_cores",
               "cli_cores", "connect_s"]
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["workload", "system", "metric", "n", "median", "min", "max", "spread",
                     "noisy", "ratio_median", "ratio_min", "ratio_max"])
        for w in res.order:
            for s in systems:
                for m in metrics:
                    st = res.stat(w, s, m)
                    if not st:
                        continue
                    rt = res.ratio(w, s, m) if s != "linux" else None
                    wr.writerow([w, s, m, st["n"], f"{st['median']:.6g}", f"{st['min']:.6g}",
                                 f"{st['max']:.6g}", f"{st['spread']:.3f}", int(st["noisy"]),
                                 f"{rt['median']:.4g}" if rt else "",
                                 f"{rt['min']:.4g}" if rt else "",
                                 f"{rt['max']:.4g}" if rt else ""])

    plots, plot_note = write_plots(res, out)
    md = []
    P = md.append
    P(f"# bypass benchmark report, {meta.get('date', '?')}")
    P("")
    P(f"Mode **{meta.get('mode', '?')}**: {meta.get('runs', '?')} run(s) per figure, "
      f"{meta.get('warmup_s', '?')} s warmup + {meta.get('duration_s', '?')} s measured each; "
      "systems alternate within every run (the first system rotates run by run). "
      "Figures: median (min..max) over runs. Ratios: system / Linux inside each run, then "
      f"the median (min..max) of those ratios. **noisy**: (max - min) / median > {NOISY:.0%}.")
    if meta.get("mode") == "quick":
        P("")
        P("> Quick mode: one short run, no 10,000-connection point. A smoke test, not a measurement.")
    P("")

    # targets
    P("## Targets (issue 11)")
    P("")
    P("| target | system | measured | verdict |")
    P("|---|---|---|---|")
    shortfalls = []
    for tid, text, w, m, kind, thr, names in TARGETS:
        for s in [x for x in systems if target_applies(x, names)]:
            if kind == "scale_ge":
                st = res.scale(s, m)
            else:
                st = res.ratio(w, s, m)
            if not st:
                P(f"| {tid} {text} | {SYSTEM_NAME[s]} | not measured | - |")
                continue
            if kind == "spread_le":
                spread = (st["max"] - st["min"]) / st["median"] if st["median"] else float("inf")
                ok, meas = spread <= thr, f"{spread:.0%} ({fmt_ratio(st)})"
            elif kind == "scale_ge":
                ok = st["median"] >= thr
                meas = f"{st['median']:.0%} ({st['min']:.0%}..{st['max']:.0%})"
            else:
                ok = st["median"] <= thr if kind == "ratio_le" else st["median"] >= thr
                meas = fmt_ratio(st)
            verdict = "met" if ok else "**not met**"
            if st["noisy"] and kind != "spread_le":
                verdict += " (noisy)"
            P(f"| {tid} {text} | {SYSTEM_NAME[s]} | {meas} | {verdict} |")
            if not ok:
                shortfalls.append((tid, text, s, meas))
    P("")
    P("The shim targets (redis and nginx through the shim >= 1.5x the kernel) are in "
      "bench/shim_bench.sh's report; the 2-core rows are the issue's 2 cores against 1.")
    P("")
    P("Per CPU-second is responses per CPU-second, the CPU time of every process of both sides "
      "summed (apps, and for bypass the daemons with every thread, busy-polling included): "
      "on a veth, Linux does much of the server's TCP receive work in the client's "
      "send call, so a server-side-only figure would flatter Linux (it is in the tables "
      "as `per server CPU-s`). S1 is the within-system ratio echo10000 / echo100.")
    P("")

    # machine
    P("## Machine and software")
    P("")
    for k, label in (("cpu_model", "CPU"), ("cpus", "CPUs"), ("hypervisor", "hypervisor"),
                     ("mem_total", "memory"), ("kernel", "kernel"), ("dpdk", "DPDK"),
                     ("cc", "compiler"), ("bypass", "bypass"), ("git", "commit"),
                     ("gnuplot", "gnuplot"), ("perf", "perf")):
        if meta.get(k):
            P(f"* {label}: {meta[k]}")
    P("* build: Release (`-O3`), `-march=corei7`, libbypass linked statically into the tools")
    P("")

    # topology
    P("## Topologies and core budget")
    P("")
    cs, cc = meta.get("core_srv", "0"), meta.get("core_cli", "1")
    for s in systems:
        P(f"* **{SYSTEM_NAME[s]}**: {meta.get('desc_' + s, '')}")
    P("")
    P(f"Core budget, the same for every system: CPU {cs} runs the server side (the Linux "
      f"server, or bp_echo_srv plus its fastpathd), CPU {cc} runs the client side (bp_load, "
      f"plus its fastpathd in (b)). fastpathd's fastpath and slowpath threads both run on "
      f"its lcore; a daemon and its app time-share one CPU. "
      f"Linux veth offloads in (a): {meta.get('linux_offloads', '?')}; in (c) they are off "
      f"(the PMD needs finished checksums and MTU-sized frames). PMD in (c): "
      f"{meta.get('pmd_lx2bp', '?')}. fastpathd config: `fastpathd.ini` (max_flows 32768, "
      f"16384 per app, default 256 KiB rings, idle_poll_us default 100, min_rto_ms 200 "
      f"as Linux's TCP_RTO_MIN: with the daemon's 10 ms default, ACKs that wait out a "
      f"scheduler slice on these shared CPUs cause needless resends), `--no-huge`.")
    P("")
    P("Workloads (bp_load against bp_echo_srv, both single-threaded): `ppN` one connection, "
      "one request of N bytes at a time; `echoN` N connections, one 64 B request in flight "
      "on each (closed loop); `bulk` one connection sending for the whole window, goodput "
      "from the byte count the sink returns; `cps` 16 parallel slots of connect, one 64 B "
      "request, the server closes, close. Latency histograms are log-linear with 0.8 % "
      "buckets. CPU: user + system time from /proc/PID/stat of every process of both sides "
      "over the measured window; `per CPU-s` = responses (bulk: megabits) / that time.")
    P("")

    # results
    P("## Results")
    P("")
    sections = [
        ("Ping-pong latency", ["pp64", "pp1k"],
         [("lat_p50_us", "p50 us"), ("lat_p99_us", "p99 us"), ("lat_p999_us", "p99.9 us"),
          ("rate_per_s", "round trips/s")]),
        ("Echo throughput and connection scaling", [w for _, w in echo_points(res) if w != "pp64"],
         [("rate_per_s", "responses/s"), ("lat_p50_us", "p50 us"), ("lat_p99_us", "p99 us"),
          ("per_cpu_s", "per CPU-s"), ("per_srv_cpu_s", "per server CPU-s")]),
        ("Bulk single-flow goodput", ["bulk"],
         [("goodput_mbit", "Mbit/s"), ("per_cpu_s", "Mbit per CPU-s")]),
        ("Connections per second", ["cps"],
         [("rate_per_s", "conns/s"), ("lat_p50_us", "p50 conn time us"),
          ("lat_p99_us", "p99 conn time us"), ("per_cpu_s", "conns per CPU-s")]),
    ]
    for title, wls, mets in sections:
        wls = [w for w in wls if any((w, s) in res.runs for s in systems)]
        if not wls:
            continue
        P(f"### {title}")
        P("")
        P("| workload | metric | " + " | ".join(SYSTEM_NAME[s] for s in systems) + " | " +
          " | ".join(f"ratio {s}/linux" for s in systems if s != "linux") + " |")
        P("|---|---|" + "---|" * len(systems) + "---|" * len([s for s in systems if s != "linux"]))
        for w in wls:
            for m, ml in mets:
                cells = [fmt_stat(res.stat(w, s, m)) for s in systems]
                ratios = [fmt_ratio(res.ratio(w, s, m)) for s in systems if s != "linux"]
                if all(c == "-" for c in cells):
                    continue
                P(f"| {w} | {ml} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
        P("")
    # variants against their one-core base system, ratios paired run by run
    variants = [(s, s.partition("-")[0]) for s in systems
                if "-" in s and s.partition("-")[0] in systems]
    if variants:
        P("### Fastpath cores: N cores and a dedicated core against one shared core")
        P("")
        P("Ratio of each variant to its base system (one fastpath core sharing a CPU with "
          "its app), paired run by run; latency: lower is better, the rest higher.")
        P("")
        P("| workload | metric | " + " | ".join(f"{v} / {b}" for v, b in variants) + " |")
        P("|---|---|" + "---|" * len(variants))
        for w in res.order:
            for m, ml in [("rate_per_s", "rate"), ("goodput_mbit", "Mbit/s"),
                          ("per_cpu_s", "per CPU-s"), ("lat_p50_us", "p50"),
                          ("lat_p99_us", "p99")]:
                cells = [fmt_ratio(res.ratio(w, v, m, base=b)) for v, b in variants]
                if all(c == "-" for c in cells):
                    continue
                P(f"| {w} | {ml} | " + " | ".join(cells) + " |")
        P("")
    # cores used
    P("### CPU used (cores busy on average over the window: server side / client side)")
    P("")
    P("| workload | " + " | ".join(SYSTEM_NAME[s] for s in systems) + " |")
    P("|---|" + "---|" * len(systems))
    for w in res.order:
        cells = []
        for s in systems:
            a, b = res.stat(w, s, "srv_cores"), res.stat(w, s, "cli_cores")
            cells.append(f"{a['median']:.2f} / {b['median']:.2f}" if a and b else "-")
        P(f"| {w} | " + " | ".join(cells) + " |")
    P("")

    if plots:
        P("## Plots")
        P("")
        for p in plots:
            P(f"![{p}]({p})")
            P("")
    if plot_note:
        P(f"_{plot_note}_")
        P("")

    # shortfalls and profile
    P("## Where bypass falls short, and why")
    P("")
    if shortfalls:
        for tid, text, s, meas in shortfalls:
            P(f"* {tid} not met by {SYSTEM_NAME[s]}: {text}; measured {meas}.")
    else:
        P("* Every target measured here was met.")
    slower = []
    for w in res.order:
        for s in systems:
            if s == "linux":
                continue
            m = "goodput_mbit" if w == "bulk" else "rate_per_s"
            st = res.ratio(w, s, m)
            if st and st["median"] < 1.0:
                slower.append(f"{w} ({SYSTEM_NAME[s]}: {st['median']:.2f}x)")
    if slower:
        P(f"* Slower than Linux outright: {', '.join(slower)}.")
    P("")
    profiles = [(f, f[5:-4]) for f in sorted(os.listdir(out))
                if f.startswith("perf-") and f.endswith(".txt")]
    if profiles:
        P("Profiles: `perf record -g -a` (cpu-clock samples on both CPUs) during one extra "
          "run of each; full text in the `perf-*.txt` files. Kernel self time shows up in "
          "`pvm_irq_enable` on this PVM guest (samples land where interrupts are re-enabled); "
          "the kernel entry points (time including callees) say which calls it belongs to.")
        P("")
        for f, name in profiles:
            sec = perf_sections(os.path.join(out, f))
            P(f"**{name}**: " + cpu_shares(sec.get("per CPU and command", [])))
            P("")
            P("```")
            P("top symbols (self time, % of all samples):")
            for line in sec.get("symbols (self time)", [])[:10]:
                P("  " + " ".join(line.split()[:5])[:120])
            ke = sec.get("kernel entry points (time including callees)", [])[:6]
            if ke:
                P("kernel entry points (with callees, self, comm, symbol):")
                for line in ke:
                    P("  " + " ".join(line.split()[:5])[:120])
            P("```")
            P("")
    causes(res, out, meta, P)

    # failures and noise
    P("## Failed and noisy runs")
    P("")
    rpath = os.path.join(out, "restarts.txt")
    if os.path.exists(rpath):
        lines = [l.strip() for l in open(rpath) if l.strip()]
        P(f"* {len(lines)} restart(s) of a system's daemons and server after a run, "
          "because it stopped answering or its server daemon kept connections the client "
          "had closed (reason on each line):")
        for l in lines[:20]:
            P(f"  * {l}")
    if res.fail:
        for (w, s), n in sorted(res.fail.items()):
            P(f"* {w} on {s}: {n} run(s) failed, reported errors or got nothing through "
              "(see `bp_load.log`).")
    else:
        P("* No failed runs.")
    noisy = []
    for w in res.order:
        for s in systems:
            for m in ("goodput_mbit",) if w == "bulk" else ("rate_per_s", "lat_p50_us"):
                st = res.stat(w, s, m)
                if st and st["noisy"]:
                    noisy.append(f"{w}/{s}/{m} ({st['spread']:.0%})")
    if noisy:
        P(f"* Noisy (spread > {NOISY:.0%}): " + ", ".join(noisy) + ".")
    else:
        P("* No figure had a spread above the threshold.")
    P("")
    P("## Files")
    P("")
    P("`raw.csv` (one line per run, bp_load's columns), `summary.csv` (median/min/max and "
      "ratios of every metric), `meta.txt`, `lscpu.txt`, `fastpathd.ini`, `bp_load.log`, "
      "`bypassctl-*.txt` (daemon counters at the end), `perf-*.txt`, `restarts.txt` and "
      "`leftover.csv` (if any), `*.dat` + `plots.gp` (gnuplot input).")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print(os.path.join(out, "report.md"))


if __name__ == "__main__":
    main()
