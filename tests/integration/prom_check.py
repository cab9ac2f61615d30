#!/usr/bin/env python3
"""prom_check.py - a strict checker of Prometheus text exposition format
0.0.4, standing in for `promtool check metrics` (Debian's prometheus
package is ~96 MB installed and its postinst starts and enables a
Prometheus server: too much for a test dependency).

It parses as the Go text parser does and applies promtool's lint rules:
  - syntax: metric and label names, escapes in label values (only \\\\, \\"
    and \\n), values (floats, NaN, +Inf, -Inf), optional integer timestamp;
  - at most one HELP and one TYPE per family, TYPE before its samples, a
    family's lines contiguous, no series twice, no label twice in a series;
  - lint: every family has HELP, counters end in _total and others do not,
    snake_case names, base units (no _ms/_milliseconds/_kb/... ), counters
    not negative.

Usage: prom_check.py [FILE]   (stdin without FILE); exit 1 with one line
per problem, 0 and a summary ("N families, M series") when clean.
Importable: check(text) -> (errors, families) where families maps each
name to {"type", "help", "samples": [(labels dict, float)]}.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
# promtool lint: units that have a base unit instead
NON_BASE = ["milliseconds", "microseconds", "nanoseconds", "minutes", "hours", "days",
            "kilobytes", "megabytes", "gigabytes", "kibibytes", "mebibytes", "gibibytes",
            "percent"]
ABBREV = ["_ms", "_us", "_ns", "_sec", "_secs", "_kb", "_mb", "_gb", "_pct", "_msec"]
SUFFIXES = ("_bucket", "_sum", "_count", "_created")


def parse_value(s):
    if s in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)", s):
        raise ValueError("bad value %r" % s)
    return float(s)


def parse_labels(s, pos, lineno, errors):
    """s[pos] is just after '{'; returns (labels, position after '}')."""
    labels = {}
    while True:
        while pos < len(s) and s[pos] == " ":
            pos += 1
        if pos < len(s) and s[pos] == "}":
            return labels, pos + 1
        m = LABEL.match(s, pos)
        if not m:
            raise ValueError("bad label name at column %d" % (pos + 1))
        name = m.group(0)
        if name.startswith("__"):
            raise ValueError("label %s: names starting with __ are reserved" % name)
        pos = m.end()
        if s[pos:pos + 2] != '="':
            raise ValueError("expected =\" after label %s" % name)
        pos += 2
        val = []
        while True:
            if pos >= len(s):
                raise ValueError("unterminated value of label %s" % name)
            c = s[pos]
            if c == "\\":
                nxt = s[pos + 1:pos + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ValueError("bad escape \\%s in label %s" % (nxt, name))
                val.append("\n" if nxt == "n" else nxt)
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                raise ValueError("newline in label %s" % name)
            else:
                val.append(c)
                pos += 1
        if name in labels:
            raise ValueError("label %s twice" % name)
        labels[name] = "".join(val)
        if pos < len(s) and s[pos] == ",":
            pos += 1
        elif pos < len(s) and s[pos] == "}":
            return labels, pos + 1
        else:
            raise ValueError("expected , or } after label %s" % name)


def family_of(name, families):
    if name in families:
        return name
    for suf in SUFFIXES:
        if name.endswith(suf) and name[:-len(suf)] in families:
            return name[:-len(suf)]
    return name


def check(text):
    errors = []
    families = {}
    order = []          # family names in the order their lines appear
    closed = set()      # families whose lines ended (another family began)
    seen_series = set()
    current = None

    def begin(fam, lineno):
        nonlocal current
        if fam != current:
            if fam in closed:
                errors.append("line %d: family %s appears again after other families" % (lineno, fam))
            if current is not None:
                closed.add(current)
            current = fam
        if fam not in families:
            families[fam] = {"type": None, "help": None, "samples": []}
            order.append(fam)

    if text and not text.endswith("\n"):
        errors.append("the text does not end with a newline")
    for lineno, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not NAME.fullmatch(parts[2]):
                    errors.append("line %d: bad metric name in %s" % (lineno, parts[1]))
                    continue
                fam = parts[2]
                begin(fam, lineno)
                f = families[fam]
                rest = parts[3] if len(parts) > 3 else ""
                if parts[1] == "HELP":
                    if f["help"] is not None:
                        errors.append("line %d: second HELP for %s" % (lineno, fam))
                    if re.search(r"\\[^\\n]", rest.replace("\\\\", "")):
                        errors.append("line %d: bad escape in HELP of %s" % (lineno, fam))
                    f["help"] = rest
                else:
                    if f["type"] is not None:
                        errors.append("line %d: second TYPE for %s" % (lineno, fam))
                    if f["samples"]:
                        errors.append("line %d: TYPE of %s after its samples" % (lineno, fam))
                    if rest.strip() not in TYPES:
                        errors.append("line %d: unknown type %r for %s" % (lineno, rest, fam))
                    f["type"] = rest.strip()
            continue
        m = NAME.match(line)
        if not m:
            errors.append("line %d: bad metric name: %r" % (lineno, line[:60]))
            continue
        name = m.group(0)
        pos = m.end()
        labels = {}
        try:
            if pos < len(line) and line[pos] == "{":
                labels, pos = parse_labels(line, pos + 1, lineno, errors)
            if pos >= len(line) or line[pos] != " ":
                raise ValueError("expected a space before the value")
            fields = line[pos:].split()
            if len(fields) not in (1, 2):
                raise ValueError("expected a value and at most a timestamp")
            value = parse_value(fields[0])
            if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
                raise ValueError("bad timestamp %r" % fields[1])
        except ValueError as e:
            errors.append("line %d: %s: %r" % (lineno, e, line[:80]))
            continue
        fam = family_of(name, families)
        begin(fam, lineno)
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            errors.append("line %d: series %s%s twice" % (lineno, name, labels))
        seen_series.add(key)
        families[fam]["samples"].append((labels, value))
        if families[fam]["type"] == "counter" and (value < 0 or math.isnan(value)):
            errors.append("line %d: counter %s is %s" % (lineno, name, fields[0]))
    # lint, as promtool check metrics
    for fam in order:
        f = families[fam]
        if not f["help"]:
            errors.append("%s: no help text" % fam)
        t = f["type"] or "untyped"
        if t == "counter" and not fam.endswith("_total"):
            errors.append('%s: counter metrics should have "_total" suffix' % fam)
        if t != "counter" and fam.endswith("_total"):
            errors.append('%s: non-counter metrics should not have "_total" suffix' % fam)
        if re.search(r"[a-z][A-Z]", fam):
            errors.append("%s: metric names should be written in snake_case" % fam)
        for u in NON_BASE:
            if u in fam:
                errors.append("%s: use base units (seconds, bytes, ratio) instead of %s" % (fam, u))
        for a in ABBREV:
            if fam.endswith(a) or (a + "_") in fam:
                errors.append("%s: metric names should not contain abbreviated units (%s)" % (fam, a))
        if not f["samples"]:
            continue
    return errors, families


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    errors, families = check(text)
    for e in errors:
        print("prom_check: " + e, file=sys.stderr)
    if errors:
        return 1
    if not families:
        print("prom_check: no metrics at all", file=sys.stderr)
        return 1
    print("prom_check: %d families, %d series" %
          (len(families), sum(len(f["samples"]) for f in families.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
