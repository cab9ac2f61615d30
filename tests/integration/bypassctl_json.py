#!/usr/bin/env python3
"""Check one bypassctl command's --json output (stdin) against the fields
bypassctl(8) documents for it, for test_bypassctl.sh and others.

  bypassctl_json.py KIND [EXPR]
  bypassctl_json.py --list         (the commands the man page documents)

KIND is a command (status, stats, apps, tenants, tenant, flows, arp,
route, cores, config, capture, metrics).  The schema is read from the
"JSON: {...}" line of that command in deploy/man/bypassctl.8 (its grammar
is explained there: {a, b?} an object with exactly these keys, b optional;
[X] a list; {NAME: X} a map; TENANT the object the page defines), so the
page and the output cannot drift apart: a documented field that is
missing and a field that is not documented both fail.  For flows, an
established flow must have every field, the optional ones too.

Exits 1 naming what is wrong if the output does not parse or does not
match.  EXPR, if given, is a Python expression on the parsed document `d`
whose value is printed (json-encoded), e.g. "len(d['flows'])".
"""
import json
import os
import re
import sys

MAN = os.environ.get("BYPASSCTL_MAN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "man", "bypassctl.8")


def fail(msg):
    print(f"bypassctl_json: {msg}", file=sys.stderr)
    sys.exit(1)


def deroff(text):
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\-", "-").replace("\\(em", "-")


class Parser:
    """{a, b?: X}, [X], {NAME: X}, TENANT, or a scalar placeholder."""

    def __init__(self, s, where):
        self.s, self.i, self.where = s, 0, where

    def ws(self):
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def word(self):
        self.ws()
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(self.s, self.i)
        if not m:
            fail(f"{self.where}: a name expected at {self.s[self.i:self.i + 30]!r}")
        self.i = m.end()
        return m.group(0)

    def expect(self, c):
        self.ws()
        if self.s[self.i:self.i + 1] != c:
            fail(f"{self.where}: '{c}' expected at {self.s[self.i:self.i + 30]!r}")
        self.i += 1

    def value(self):
        self.ws()
        c = self.s[self.i:self.i + 1]
        if c == "{":
            self.i += 1
            members = {}
            while True:
                self.ws()
                if self.s[self.i:self.i + 1] == "}":
                    self.i += 1
                    break
                name = self.word()
                opt = self.s[self.i:self.i + 1] == "?"
                self.i += opt
                self.ws()
                sub = None
                if self.s[self.i:self.i + 1] == ":":
                    self.i += 1
                    sub = self.value()
                if name.isupper():  # {NAME: X}: any keys
                    node = ("map", sub)
                    self.expect("}")
                    return node
                members[name] = (opt, sub)
                self.ws()
                if self.s[self.i:self.i + 1] == ",":
                    self.i += 1
            return ("obj", members)
        if c == "[":
            self.i += 1
            inner = self.value()
            self.expect("]")
            return ("list", inner)
        w = self.word()
        return ("ref", w) if w.isupper() else None


def schemas():
    """{command: node} and the named types, from the man page."""
    try:
        src = open(MAN, encoding="utf-8").read()
    except OSError as e:
        fail(f"cannot read the man page {MAN}: {e}")
    # paragraphs: .TP entries (a command each) and .PP ones (TENANT)
    blocks = re.split(r"^\.(?:TP|PP|SH|SS)\b.*$", src, flags=re.M)
    cmds, types = {}, {}
    for b in blocks:
        lines = [ln for ln in b.strip().splitlines() if not ln.startswith(".TQ")]
        if not lines:
            continue
        text = deroff(" ".join(lines))
        m = re.search(r"JSON: *\{", text)
        if not m:
            continue
        p = Parser(text[m.end() - 1:], MAN)
        node = p.value()
        first = deroff(lines[0])
        t = re.match(r"([A-Z]+), in JSON:", first)
        if t:
            types[t.group(1)] = node
            continue
        c = re.match(r'\.(?:B|BR|BI)\s+"?([a-z]+)', lines[0])
        if c:
            cmds[c.group(1)] = node
    return cmds, types


def check(v, node, types, path, strict_opt=False):
    if node is None:
        if isinstance(v, (dict, list)):
            fail(f"{path}: a scalar expected, got {json.dumps(v)[:200]}")
        return
    kind, arg = node
    if kind == "ref":
        if arg not in types:
            fail(f"the man page uses {arg} without defining it")
        return check(v, types[arg], types, path)
    if kind == "list":
        if not isinstance(v, list):
            fail(f"{path}: a list expected")
        for n, item in enumerate(v):
            est = path.endswith(".flows") and isinstance(item, dict) and \
                item.get("state") == "established"
            check(item, arg, types, f"{path}[{n}]", strict_opt=est)
        return
    if not isinstance(v, dict):
        fail(f"{path}: an object expected, got {json.dumps(v)[:200]}")
    if kind == "map":
        for k, x in v.items():
            check(x, arg, types, f"{path}.{k}")
        return
    want = {k for k, (opt, _) in arg.items() if strict_opt or not opt}
    lack = want - v.keys()
    if lack:
        fail(f"{path} lacks documented {sorted(lack)}: {json.dumps(v)[:300]}")
    extra = v.keys() - arg.keys()
    if extra:
        fail(f"{path} has {sorted(extra)}, which bypassctl(8) does not document")
    for k, (_, sub) in arg.items():
        if k in v:
            check(v[k], sub, types, f"{path}.{k}")


def main():
    cmds, types = schemas()
    if sys.argv[1] == "--list":
        print(" ".join(sorted(cmds)))
        return
    kind = sys.argv[1]
    if kind not in cmds:
        fail(f"bypassctl(8) documents no JSON for '{kind}' (it does for {sorted(cmds)})")
    text = sys.stdin.read()
    try:
        d = json.loads(text)
    except ValueError as e:
        fail(f"{kind} --json does not parse: {e}: {text[:300]!r}")
    check(d, cmds[kind], types, kind)
    if len(sys.argv) > 2:
        print(json.dumps(eval(sys.argv[2], {"d": d})))


main()
