#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""RFC 5961 probes on a live connection, run on the Linux peer.

    rfc5961_probe.py IFACE HOST PORT [--report]

Connects to an echo server at HOST:PORT with a kernel socket, learns the
connection's sequence numbers from a capture of its own segments, then
injects with scapy, each 0.8 s after the last answer (past the 500 ms
per-flow rate limit):

  1. an RST inside the server's receive window but not at RCV.NXT
  2. a SYN on the established connection
  3. 5 bytes of data at exactly RCV.NXT whose ACK covers 100000 bytes the
     server never sent
  4. the same with an ACK far older than any window

Each must earn an ACK from the server (RFC 5961 challenge ACK / RFC 793
ACK for an unacceptable ACK), never an RST; afterwards the connection must
still echo, and the echo stream must be exactly what the kernel socket
sent: the injected bytes never reach the app.  Prints one line per probe
and exits non-zero on any failure.  With --report (to see what a Linux
server does with the same probes) a missing ACK is only reported.
"""
import socket
import sys
import time

from scapy.all import AsyncSniffer, Ether, IP, TCP, Raw, sendp, conf  # noqa: E402

conf.verb = 0


def main():
    iface, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    report = "--report" in sys.argv[4:]
    seen = []  # results only fill in at stop(): collect as they come
    sniff = AsyncSniffer(iface=iface, filter=f"tcp and host {host} and port {port}",
                         store=False, prn=seen.append)
    sniff.start()
    time.sleep(1.0)  # the capture must be running before the handshake
    s = socket.create_connection((host, port), timeout=5)
    sent = b""
    echoed = b""

    def exchange(msg):
        nonlocal sent, echoed
        s.sendall(msg)
        sent += msg
        while len(echoed) < len(sent):
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("FAIL: the server closed the connection")
            echoed += chunk

    exchange(b"hello before the probes\n")
    lport = s.getsockname()[1]
    time.sleep(0.3)

    def ours():
        """the capture's segments of this connection, both directions"""
        return [p for p in list(seen)
                if TCP in p and {p[TCP].sport, p[TCP].dport} == {lport, port}]

    out = [p for p in ours() if p[TCP].sport == lport]
    last = out[-1]
    mac_src, mac_dst = last[Ether].src, last[Ether].dst
    rcv_nxt = (last[TCP].seq + len(last[TCP].payload)) & 0xffffffff  # server's RCV.NXT
    snd_nxt = last[TCP].ack  # server's SND.NXT
    print(f"connection {s.getsockname()} -> {host}:{port}: server rcv_nxt {rcv_nxt} snd_nxt {snd_nxt}")

    def inject(name, flags, seq, ack=0, payload=b""):
        before = len(ours())
        pkt = (Ether(src=mac_src, dst=mac_dst) / IP(src=s.getsockname()[0], dst=host) /
               TCP(sport=lport, dport=port, flags=flags, seq=seq & 0xffffffff,
                   ack=ack & 0xffffffff, window=502))
        if payload:
            pkt = pkt / Raw(payload)
        sendp(pkt, iface=iface)
        deadline = time.monotonic() + 3.0  # headroom for a loaded machine
        while True:
            time.sleep(0.1)
            answers = [p for p in ours()[before:] if p[TCP].sport == port]
            rsts = [p for p in answers if p[TCP].flags & 0x04]
            acks = [p for p in answers if p[TCP].flags & 0x10 and p[TCP].ack == rcv_nxt
                    and not p[TCP].flags & 0x02]
            if acks or rsts or time.monotonic() > deadline:
                break
        time.sleep(0.8)  # past the per-flow limit (500 ms) before the next probe
        print(f"  {name}: server answered {len(answers)} segment(s), "
              f"{len(acks)} ACK at rcv_nxt, {len(rsts)} RST")
        if rsts:
            raise SystemExit(f"FAIL: {name}: the server sent an RST")
        if not acks and not report:
            raise SystemExit(f"FAIL: {name}: no challenge ACK")

    inject("in-window RST off rcv_nxt", "R", rcv_nxt + 1000)
    inject("SYN on the established connection", "S", rcv_nxt + 12345)
    inject("data acking 100000 unsent bytes", "PA", rcv_nxt, snd_nxt + 100000, b"EVIL!")
    inject("data with a far too old ACK", "PA", rcv_nxt, snd_nxt - 2000000, b"EVIL!")

    exchange(b"hello after the probes\n")
    exchange(b"x" * 100000)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(5)
    rest = s.recv(65536)
    echoed += rest
    s.close()
    sniff.stop()
    if echoed != sent:
        bad = b"EVIL" in echoed
        raise SystemExit(f"FAIL: echo differs from what was sent ({len(echoed)} vs {len(sent)} "
                         f"bytes{', injected bytes reached the app' if bad else ''})")
    print(f"PASS: connection survived every probe, {len(sent)} bytes echoed exactly")


if __name__ == "__main__":
    main()
