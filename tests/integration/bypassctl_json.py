#!/usr/bin/env python3
"""Check one bypassctl command's --json output (stdin) against the fields
its --help and bypassctl(8) document, for test_bypassctl.sh.

  bypassctl_json.py KIND [EXPR]

KIND: status, stats, apps, tenants, tenant, flows, arp, route, cores,
config.  Exits 1 naming what is missing if the output does not parse or a
documented field is absent.  EXPR, if given, is a Python expression on the
parsed document `d` whose value is printed (json-encoded), e.g.
"len(d['flows'])".
"""
import json
import sys

TENANT = {"name", "id", "apps", "max_apps", "flows", "max_flows", "half_open",
          "buf_bytes", "max_buf_mb", "rate_bps", "rx_rate_bps", "burst_bytes",
          "weight", "class", "tx_bytes", "tx_pkts", "rx_bytes", "rx_pkts",
          "throttled", "removed", "denied"}
APP = {"app_id", "name", "pid", "uid", "tenant", "flows", "max_flows", "region_bytes",
       "buf_bytes", "slots_used", "bad_entries", "tx_bytes", "rx_bytes", "dying"}
FLOW = {"id", "state", "local", "remote", "tenant", "rto_ms", "timeouts", "cc"}
FLOW_EST = FLOW | {"pid", "app_id", "uid", "cwnd", "mss", "srtt_us", "rttvar_us",
                   "retrans", "bytes_acked", "bytes_sent", "bytes_received", "rx_queue",
                   "tx_queue", "pacing_bps", "core", "peer_wnd"}

# KIND: (top-level keys, {list key: item keys})
SCHEMA = {
    "status": ({"version", "port", "local_ip", "apps", "flows", "counters", "tenants"},
               {"tenants": TENANT}),
    "stats": ({"counters", "tenants"}, {}),
    "apps": ({"apps", "omitted"}, {"apps": APP}),
    "tenants": ({"tenants", "omitted"}, {"tenants": TENANT}),
    "tenant": ({"op", "name"}, {}),
    "flows": ({"flows", "matched", "shown"}, {"flows": FLOW}),
    "arp": ({"entries"}, {"entries": {"ip", "mac", "age_ms"}}),
    "route": ({"routes"}, {"routes": {"dst", "dev", "src", "mtu"}}),
    "cores": ({"active", "max", "mode", "moving"}, {}),
    "config": ({"reloaded"}, {}),
}


def fail(msg):
    print(f"bypassctl_json: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    kind = sys.argv[1]
    text = sys.stdin.read()
    try:
        d = json.loads(text)
    except ValueError as e:
        fail(f"{kind} --json does not parse: {e}: {text[:300]!r}")
    top, lists = SCHEMA[kind]
    if not isinstance(d, dict):
        fail(f"{kind} --json is not an object")
    missing = top - d.keys()
    if missing:
        fail(f"{kind} --json lacks {sorted(missing)}")
    for key, fields in lists.items():
        if not isinstance(d[key], list):
            fail(f"{kind} --json: {key} is not a list")
        for item in d[key]:
            want = fields
            if kind == "flows" and item.get("state") == "established":
                want = FLOW_EST
            lack = want - item.keys()
            if lack:
                fail(f"{kind} --json: an item of {key} lacks {sorted(lack)}: {item}")
    if kind == "stats":
        for name, t in d["tenants"].items():
            lack = TENANT - t.keys()
            if lack:
                fail(f"stats --json: tenant {name} lacks {sorted(lack)}")
    if kind == "tenant" and d["op"] != "del" and "tenant" in d:
        lack = TENANT - d["tenant"].keys()
        if lack:
            fail(f"tenant --json: tenant lacks {sorted(lack)}")
    if len(sys.argv) > 2:
        print(json.dumps(eval(sys.argv[2], {"d": d})))


main()
