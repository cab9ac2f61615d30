#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""RSTs against a server's TIME_WAIT, run on the Linux peer.

    tw_rst_probe.py IFACE HOST PORT

HOST:PORT is an HTTP server: it answers "GET / HTTP/1.0" and closes first,
so its side of the connection ends in TIME_WAIT once this kernel socket
has closed too.
Then, with scapy, on the same 4-tuple (iptables in this namespace drops the
kernel's own RSTs for the port, since its socket is gone):

  1. an old SYN (sequence far below the server's RCV.NXT): TIME_WAIT
     answers with an ACK at RCV.NXT
  2. an RST one byte past RCV.NXT: ignored
  3. the old SYN again: still an ACK (TIME_WAIT stands)
  4. an RST exactly at RCV.NXT: TIME_WAIT ends (Linux with tcp_rfc1337 = 0,
     its default: "TIME_WAIT assassination")
  5. the old SYN again: now the listener answers it, a SYN-ACK

Prints one line per step, then "outcome: A,-,A,-,S" (A: ACK, S: SYN-ACK,
R: RST, -: nothing), and exits non-zero if the server sent nothing it
should have, or an RST.  The caller runs it against bypass and Linux and
compares the outcomes.
"""
import socket
import subprocess
import sys
import time

from scapy.all import AsyncSniffer, Ether, IP, TCP, sendp, conf  # noqa: E402

conf.verb = 0
WANT = ["A", "-", "A", "-", "S"]


def main():
    iface, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    seen = []
    sniff = AsyncSniffer(iface=iface, filter=f"tcp and host {host} and port {port}",
                         store=False, prn=seen.append)
    sniff.start()
    time.sleep(1.0)  # the capture must be running before the handshake
    s = socket.create_connection((host, port), timeout=5)
    lport = s.getsockname()[1]
    laddr = s.getsockname()[0]
    rule = ["OUTPUT", "-p", "tcp", "--sport", str(lport), "--tcp-flags", "RST", "RST",
            "-j", "DROP"]
    subprocess.run(["iptables", "-I"] + rule, check=True)
    try:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        s.close()  # our FIN after the server's: the server is in TIME_WAIT
        time.sleep(0.5)
        outcome = probe(iface, host, port, laddr, lport, seen, got)
    finally:
        subprocess.run(["iptables", "-D"] + rule, check=False)
        sniff.stop()
    print("outcome: " + ",".join(outcome))
    if outcome != WANT:
        raise SystemExit(f"FAIL: outcome {','.join(outcome)}, want {','.join(WANT)}")
    print("PASS: TIME_WAIT ignores an RST off RCV.NXT and ends on one at RCV.NXT")


def probe(iface, host, port, laddr, lport, seen, got):
    def ours():
        return [p for p in list(seen)
                if TCP in p and {p[TCP].sport, p[TCP].dport} == {lport, port}]

    out = [p for p in ours() if p[TCP].sport == lport]
    fins = [p for p in out if p[TCP].flags & 0x01]
    if not got or not fins:
        raise SystemExit(f"FAIL: no answer from the server or no FIN of ours seen ({got[:80]!r})")
    fin = fins[-1]
    mac_src, mac_dst = fin[Ether].src, fin[Ether].dst
    rcv_nxt = (fin[TCP].seq + len(fin[TCP].payload) + 1) & 0xffffffff
    print(f"connection {laddr}:{lport} -> {host}:{port}: server in TIME_WAIT, "
          f"rcv_nxt {rcv_nxt}")
    old_seq = (rcv_nxt - 100000) & 0xffffffff
    outcome = []

    def inject(name, flags, seq, ack=0):
        before = len(ours())
        sendp(Ether(src=mac_src, dst=mac_dst) / IP(src=laddr, dst=host) /
              TCP(sport=lport, dport=port, flags=flags, seq=seq & 0xffffffff,
                  ack=ack & 0xffffffff, window=502), iface=iface)
        deadline = time.monotonic() + (1.5 if "S" in flags else 0.8)
        answers = []
        while time.monotonic() < deadline:
            time.sleep(0.1)
            answers = [p for p in ours()[before:] if p[TCP].sport == port]
            if answers:
                break
        kind = "-"
        for a in answers:
            f = a[TCP].flags
            if f & 0x04:
                kind = "R"
            elif f & 0x02 and f & 0x10 and a[TCP].ack == (seq + 1) & 0xffffffff:
                kind = "S"
            elif f & 0x10 and a[TCP].ack == rcv_nxt and kind == "-":
                kind = "A"
        print(f"  {name}: {kind} ({len(answers)} segment(s))")
        outcome.append(kind)
        time.sleep(0.6)  # past Linux's 500 ms per-socket limit on such ACKs
        return answers

    inject("old SYN", "S", old_seq)
    inject("RST at RCV.NXT + 1", "R", rcv_nxt + 1)
    inject("old SYN again", "S", old_seq)
    inject("RST at RCV.NXT", "R", rcv_nxt)
    answers = inject("old SYN after that RST", "S", old_seq)
    for a in answers:  # let the listener drop the connection it began
        if a[TCP].flags & 0x12 == 0x12:
            sendp(Ether(src=mac_src, dst=mac_dst) / IP(src=laddr, dst=host) /
                  TCP(sport=lport, dport=port, flags="R", seq=(old_seq + 1) & 0xffffffff),
                  iface=iface)
    return outcome


if __name__ == "__main__":
    main()
