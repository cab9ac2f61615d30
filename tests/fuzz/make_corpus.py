#!/usr/bin/python3
"""Regenerate the seed corpora under tests/fuzz/corpus/ (needs python3-scapy).

  /usr/bin/python3 tests/fuzz/make_corpus.py

pkt:       real frames: Linux-style SYN/SYN-ACK/data/SACK/FIN/RST with
           options, ARP, ICMP echo, "fragmentation needed" and "time
           exceeded", IP options,
           fragments, VLAN, padding.
ctl:       one frame of each control message type, several frames in one
           read, a partial frame, an oversized and an undecodable one.
rpc_frame: byte 0 (chunk size, direction) + RPC frames (rpc/WIRE.md):
           requests with metadata, chunked requests, streamed requests
           and responses, cancels, credits,
           pings, goaway, responses to the harness's pending calls, and
           broken ones (bad magic, lying lengths, chunk offsets).
tcp_input, app_queue: event scripts in the harnesses' input format (see
           fp_fixture.c): bulk transfer both ways, out-of-order data, SACK
           recovery, FIN/RST/timeout/probe, ECN, fork handoff, and for
           app_queue lying counters, doorbells and queue indexes.
Files are named after their content hash, so reruns are idempotent.
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, data):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    h = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, h), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- pkt
def pkt_seeds():
    from scapy.all import ARP, ICMP, IP, TCP, Dot1Q, Ether, IPOption_RR, Raw

    mac_us, mac_peer = "02:00:00:00:00:01", "02:00:00:00:00:02"
    eth = Ether(src=mac_peer, dst=mac_us)
    ip = IP(src="198.18.0.2", dst="198.18.0.1", flags="DF")
    t = dict(sport=40000, dport=8080)
    frames = [
        eth / ip / TCP(flags="S", seq=1000, window=64240,
                       options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)),
                                ("NOP", None), ("WScale", 7)], **t),
        eth / ip / TCP(flags="SA", seq=5000, ack=1001, window=65535,
                       options=[("MSS", 1460), ("NOP", None), ("WScale", 9),
                                ("NOP", None), ("NOP", None), ("SAckOK", b"")], **t),
        eth / ip / TCP(flags="PA", seq=1001, ack=5001, window=502,
                       options=[("NOP", None), ("NOP", None), ("Timestamp", (2, 1))], **t)
        / Raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        eth / ip / TCP(flags="A", seq=1001, ack=5001, window=502,
                       options=[("NOP", None), ("NOP", None), ("Timestamp", (3, 2)),
                                ("NOP", None), ("NOP", None),
                                ("SAck", (7000, 8000, 9000, 10000, 11000, 12000))], **t),
        eth / ip / TCP(flags="A", seq=1001, ack=5001, window=502,
                       options=[("NOP", None), ("NOP", None),
                                ("SAck", (7000, 8000, 9000, 10000, 11000, 12000, 13000, 14000))],
                       **t),
        eth / ip / TCP(flags="FA", seq=1001, ack=5001, window=502, **t),
        eth / ip / TCP(flags="R", seq=1001, **t),
        eth / ip / TCP(flags="RA", seq=1001, ack=5001, **t),
        eth / IP(src="198.18.0.2", dst="198.18.0.1", tos=3) / TCP(flags="PAEC", seq=1, ack=1, **t)
        / Raw(b"x" * 100),
        eth / IP(src="198.18.0.2", dst="198.18.0.1", options=[IPOption_RR()])
        / TCP(flags="A", **t) / Raw(b"opts"),
        eth / IP(src="198.18.0.2", dst="198.18.0.1", flags="MF", frag=0) / TCP(flags="A", **t)
        / Raw(b"frag" * 10),
        eth / ip / TCP(flags="A", options=[(254, b"\x12\x34"), ("EOL", None)], **t),
        eth / ip / TCP(flags="A", **t) / Raw(b"y" * 1460),
        Ether(src=mac_peer, dst=mac_us) / Dot1Q(vlan=5) / ip / TCP(flags="A", **t),
        Ether(src=mac_peer, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=mac_peer, psrc="198.18.0.2", pdst="198.18.0.1"),
        Ether(src=mac_peer, dst=mac_us)
        / ARP(op=2, hwsrc=mac_peer, psrc="198.18.0.2", hwdst=mac_us, pdst="198.18.0.1"),
        eth / IP(src="198.18.0.2", dst="198.18.0.1") / ICMP(type=8, id=7, seq=1) / Raw(b"ping" * 14),
        eth / IP(src="198.18.0.2", dst="198.18.0.1", options=[IPOption_RR()])
        / ICMP(type=8, id=7, seq=2) / Raw(b"rr"),
        # a router's "fragmentation needed" about our segment (PMTU):
        # the quoted header and 8 bytes of TCP, as RFC 792 asks
        eth / IP(src="198.18.0.254", dst="198.18.0.1") / ICMP(type=3, code=4, nexthopmtu=1280)
        / Raw(bytes(IP(src="198.18.0.1", dst="198.18.0.2", flags="DF", len=1500)
                    / TCP(sport=8080, dport=40000, seq=5001, ack=1001, flags="A"))[:28]),
        # a router's "time exceeded" about our SYN, quoting the whole header
        eth / IP(src="198.18.0.254", dst="198.18.0.1") / ICMP(type=11, code=0)
        / Raw(bytes(IP(src="198.18.0.1", dst="198.18.0.2", flags="DF", ttl=1)
                    / TCP(sport=40001, dport=80, seq=777, flags="S"))[:40]),
    ]
    for f in frames:
        b = bytes(f)
        save("pkt", b)
    # a short frame padded to 60 bytes (padding must not become payload)
    b = bytes(eth / ip / TCP(flags="A", **t))
    save("pkt", b + b"\0" * (60 - len(b)))
    # truncated: the IP total length claims more than the frame holds
    save("pkt", bytes(eth / ip / TCP(flags="PA", **t) / Raw(b"z" * 200))[:80])


# ---------------------------------------------------------------- ctl
def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wt, payload):
    key = varint(num << 3 | wt)
    if wt == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def frame(body):
    return struct.pack("<I", len(body)) + body


def ctl_seeds():
    attach = field(1, 2, field(1, 0, 2) + field(2, 2, b"nginx") + field(3, 2, b"tenant-a"))
    attach_bad_abi = field(1, 2, field(1, 0, 1))
    attach_ctl_chars = field(1, 2, field(1, 0, 2) + field(2, 2, b"app\nfastpathd: forged\x1b[0m"))
    reply = field(2, 2, field(1, 0, 0) + field(3, 0, 3) + field(4, 0, 1 << 30) + field(5, 0, 2))
    reply_err = field(2, 2, field(1, 0, 71) + field(2, 2, b"ABI mismatch: rebuild"))
    status_req = field(3, 2, b"")
    counters = b"".join(field(6, 2, field(1, 2, n) + field(2, 0, v))
                        for n, v in [(b"rx_pkts", 123456), (b"tx_pkts", 99), (b"rx_drop_bad", 0)])
    status_reply = field(4, 2, field(1, 2, b"0.1.0") + field(2, 2, b"net_ring0")
                         + field(3, 2, b"198.18.0.1") + field(4, 0, 2) + field(5, 0, 17) + counters)
    for body in (attach, attach_bad_abi, attach_ctl_chars, reply, reply_err, status_req,
                 status_reply, b""):
        for pattern in (0x00, 0x13):  # byte-by-byte-ish chunks, or all at once
            save("ctl", bytes([pattern]) + frame(body))
    save("ctl", b"\x05" + frame(attach) + frame(status_req) + frame(status_reply))
    save("ctl", b"\x10" + frame(attach)[:9])                       # partial frame
    save("ctl", b"\x10" + struct.pack("<I", 64 * 1024 + 1) + b"x")  # oversized
    save("ctl", b"\x10" + frame(b"\xff\xff\xff"))                   # undecodable
    save("ctl", b"\x10" + frame(field(1, 2, field(2, 2, b"no abi"))))  # missing required


# ------------------------------------------------ tcp_input / app_queue
def reset(sack=True, ecn=False, ws=True, rx=0, tx=0, pacing=False, mss=1460, snd_ws=7,
          rcv_ws=2, rx_isn=1000000, tx_isn=0xFFFFF000, peer_wnd=65535, cwnd_segs=10, pace=0):
    b = (1 if sack else 0) | (2 if ecn else 0) | (4 if ws else 0) | rx << 3 | tx << 5 | \
        (0x80 if pacing else 0)
    return struct.pack("<BHBBIIHBB", b, mss - 64, snd_ws, rcv_ws, rx_isn, tx_isn, peer_wnd,
                       cwnd_segs - 1, pace)


ACK, PSH, FIN, RST, SYN, ECE, CWR = 0x10, 0x08, 0x01, 0x04, 0x02, 0x40, 0x80


def seg(flags, seq_off=0, ack_off=0, length=0, wnd=65535, ecn=0, sack=None, ts=False,
        seq_mode=0, ack_mode=0):
    """seq_off: bytes above rcv_nxt (mode 0); ack_off: bytes above snd_una (mode 0)."""
    lmode = 0 if length == 0 else (1 if length < 256 else 2)
    omode = 0
    if sack is not None:
        omode = 2 if ts else 1
    mode = seq_mode | ack_mode << 2 | lmode << 4 | omode << 6
    out = bytes([0, flags, mode, ecn])
    out += struct.pack("<H", seq_off & 0xFFFF) if seq_mode in (0, 1, 2) else struct.pack("<I", seq_off)
    out += struct.pack("<H", ack_off) if ack_mode == 0 else (
        bytes([ack_off]) if ack_mode in (1, 2) else struct.pack("<I", ack_off))
    if lmode == 1:
        out += bytes([length])
    elif lmode == 2:
        out += struct.pack("<H", length)
    out += struct.pack("<H", wnd)
    if omode:
        if omode == 2:
            out += struct.pack("<II", 12345, 678)
        out += bytes([len(sack) - 1])
        for l, r in sack:
            out += struct.pack("<HH", l, r - l)
    return out


def write(n):
    return bytes([9]) + struct.pack("<H", n)


def read(n):
    return bytes([11]) + struct.pack("<H", n)


def sp(op, arg=b""):
    return bytes([13, op]) + arg


RETX, SHUTWR, PROBE, CWND, PACE, TIME, DETACH, MOVE, PMTU = range(9)


def tcp_scripts():
    s = []
    # bulk receive in order, app reads, window updates
    s.append(reset() + b"".join(seg(ACK | PSH, 0, 0, 1448) for _ in range(8)) + read(20000)
             + seg(ACK | PSH, 0, 0, 1000) + read(500) + read(500))
    # out of order: held, SACKed back, then the hole is filled
    s.append(reset() + seg(ACK | PSH, 1000, 0, 500) + seg(ACK | PSH, 2000, 0, 500)
             + seg(ACK | PSH, 0, 0, 1000) + seg(ACK | PSH, 0, 0, 500) + read(3000))
    # small receive ring overrun, zero window, probe
    s.append(reset(rx=0, rcv_ws=0) + b"".join(seg(ACK | PSH, 0, 0, 1460) for _ in range(4))
             + seg(ACK, 0, 0, 0, seq_mode=1) + read(1000) + seg(ACK | PSH, 0, 0, 1460))
    # bulk send, cumulative ACKs
    s.append(reset(tx=1) + write(10000) + seg(ACK, 0, 1460) + seg(ACK, 0, 2920)
             + write(5000) + seg(ACK, 0, 8000) + seg(ACK, 0, 7000))
    # SACK loss recovery: three dup ACKs with SACK blocks, partial ACK
    s.append(reset(tx=2, cwnd_segs=40) + write(40000)
             + seg(ACK, 0, 0, 0, sack=[(1460, 2920)])
             + seg(ACK, 0, 0, 0, sack=[(1460, 4380)])
             + seg(ACK, 0, 0, 0, sack=[(1460, 5840)], ts=True)
             + seg(ACK, 0, 1460) + seg(ACK, 0, 8000))
    # NewReno (no SACK): dup ACKs, fast retransmit, partial ACKs
    s.append(reset(sack=False, tx=2, cwnd_segs=40) + write(30000)
             + seg(ACK) + seg(ACK) + seg(ACK) + seg(ACK, 0, 1460) + seg(ACK, 0, 20000))
    # timeout and go-back-N, zero window probe
    s.append(reset(tx=1, peer_wnd=0) + write(8000) + sp(RETX) + sp(TIME, b"\x10\x00")
             + seg(ACK, 0, 0, 0, wnd=4000) + sp(RETX) + seg(ACK, 0, 1000))
    # a router's ICMP lowers the MSS mid-transfer (to 1240): resend smaller, ACKs
    s.append(reset(tx=1) + write(10000) + seg(ACK, 0, 1460) + sp(PMTU, struct.pack("<H", 1192))
             + seg(ACK, 0, 2700) + sp(PMTU, struct.pack("<H", 1451)) + seg(ACK, 0, 10000))
    # orderly close both ways, TIME_WAIT detach, resent FIN
    s.append(reset() + write(100) + sp(SHUTWR) + seg(ACK | FIN, 0, 101)
             + seg(ACK, 0, 101) + sp(DETACH) + seg(ACK | FIN, 0, 0, 0, seq_mode=1))
    # peer FIN with data, then our FIN; RST after both
    s.append(reset() + seg(ACK | PSH | FIN, 0, 0, 300) + read(300) + sp(SHUTWR)
             + seg(ACK, 0, 1) + seg(RST))
    # RST inside the window not at rcv_nxt, RST at rcv_nxt, SYN on the flow
    s.append(reset() + seg(RST, 100) + seg(ACK | SYN) + seg(RST | ACK, 0))
    # ECN: CE marks echoed until CWR, ECE on ACKs of our data
    s.append(reset(ecn=True) + seg(ACK | PSH, 0, 0, 100, ecn=3) + seg(ACK | PSH | CWR, 0, 0, 100)
             + write(3000) + seg(ACK | ECE, 0, 1460))
    # fork handoff to the other slot mid-transfer, then more of both
    s.append(reset() + write(5000) + seg(ACK | PSH, 0, 1000, 700) + sp(MOVE)
             + read(200) + seg(ACK, 0, 5000) + write(100) + read(1000))
    # paced flow, cwnd changes, time
    s.append(reset(pacing=True, pace=10, tx=2) + write(20000) + sp(CWND, b"\x20")
             + sp(TIME, b"\xff\x00") + seg(ACK, 0, 4000) + sp(PACE, b"\x00"))
    # sequence numbers that wrap, acks of data never sent, old acks
    s.append(reset(rx_isn=0xFFFFFF00, tx_isn=0xFFFFFFF0) + seg(ACK | PSH, 0, 0, 1000)
             + write(1000) + seg(ACK, 0, 200, ack_mode=2) + seg(ACK, 0, 20, ack_mode=1))
    # small MSS, no window scaling
    s.append(reset(ws=False, mss=88) + write(3000) + seg(ACK, 0, 500) + seg(ACK | PSH, 0, 0, 200))
    return s


def app_scripts():
    s = []
    hostile_tx = bytes([6, 1]) + struct.pack("<H", 0x8000)      # tx_written backwards
    hostile_rx = bytes([7, 2]) + struct.pack("<II", 0, 1)       # rx_consumed way ahead
    forged = bytes([8, 0x25]) + struct.pack("<HII", 0, 7, 99)    # bad slot, bad gen
    head_lies = bytes([9, 1]) + struct.pack("<II", 0xFFFFFFFF, 0xFFFFFFFF)
    head_back = bytes([9, 6, 0xF0]) + bytes(range(48))
    tail_lies = bytes([10, 1]) + struct.pack("<II", 5, 0)
    sleep = bytes([11, 1])
    scribble = bytes([12]) + struct.pack("<III", 3, 7, 0)
    w, r = bytes([4]) + struct.pack("<H", 5000), bytes([5]) + struct.pack("<H", 3000)
    s.append(reset() + w + r + seg(ACK | PSH, 0, 1000, 1000) + r + w)
    s.append(reset() + w + hostile_tx + w)
    s.append(reset() + seg(ACK | PSH, 0, 0, 1000) + hostile_rx + r)
    s.append(reset() + forged + w + forged)
    s.append(reset() + w + head_lies + w + head_back + r)
    s.append(reset() + sleep + seg(ACK | PSH, 0, 0, 100) + tail_lies + w + w + w)
    s.append(reset() + scribble + w + seg(ACK, 0, 1000) + r)
    s.append(reset() + w + sp(MOVE) + w + seg(ACK, 0, 5000) + r + sp(MOVE) + hostile_tx)
    s.append(reset() + bytes([6, 0, 63]) + w)  # tx_written + 2^63
    return s


def rpc_hdr(ftype, flags=0, method=0, call_id=0, frame_len=0, msg_len=0,
            deadline=0, status=0, meta_len=0, aux=0):
    return struct.pack("<HBBHHIIIIHHI", 0x5242, 1, ftype, flags, method, call_id,
                       frame_len, msg_len, deadline, status, meta_len, aux)


def rpc_meta(pairs):
    out = b""
    for k, v in pairs:
        out += struct.pack("<BH", len(k), len(v)) + k + v
    return out


def rpc_msg(ftype, method, call_id, body, meta=b"", status=0, deadline=0, chunk=None,
            flags=0):
    """one message, chunked like the library does when chunk is set; flags
    (4: STREAM) go on its first frame"""
    if chunk is None or len(body) <= chunk:
        return rpc_hdr(ftype, flags, method, call_id, len(meta) + len(body), len(body),
                       deadline, status, len(meta)) + meta + body
    out = rpc_hdr(ftype, flags | 1, method, call_id, len(meta) + chunk, len(body), deadline,
                  status, len(meta)) + meta + body[:chunk]
    off = chunk
    while off < len(body):
        n = min(chunk, len(body) - off)
        more = 1 if off + n < len(body) else 0
        out += rpc_hdr(5, more | (2 if ftype == 2 else 0), 0, call_id, n, off) + body[off:off + n]
        off += n
    return out


def rpc_seeds():
    md = rpc_meta([(b"trace", b"abc"), (b"x", b"")])
    srv = [
        rpc_msg(1, 1, 1, b"hello", md),
        rpc_msg(1, 1, 1, b"a" * 100, b"", chunk=30) + rpc_msg(1, 2, 2, b"", b""),
        rpc_msg(1, 2, 7, b"hold") + rpc_hdr(3, call_id=7) + rpc_hdr(6, aux=9),
        rpc_msg(1, 3, 3, b"", deadline=1000) + rpc_msg(1, 99, 4, b"x"),
        rpc_hdr(1, 1, 1, 5, 10, 40) + b"0123456789" + rpc_hdr(3, call_id=5),
        rpc_hdr(4, call_id=10, aux=4096) + rpc_hdr(7, aux=1) + rpc_hdr(8, status=13),
        rpc_msg(1, 1, 1, b"x", b"\x05\x01\x00ab"),
        rpc_hdr(1, 0, 1, 1, 5, 4) + b"abcde",
        b"\x00\x00" + rpc_msg(1, 1, 1, b"misaligned"),
        rpc_hdr(1, 1, 1, 1, 3, 10) + b"abc" + rpc_hdr(5, 0, 0, 1, 7, 4) + b"defghij",
        # a caller that takes a streamed response, and one that does not
        rpc_msg(1, 4, 1, b"go", flags=4) + rpc_msg(1, 4, 2, b"go") + rpc_hdr(3, call_id=1),
        # streamed requests (8: REQ_MORE, 16: REQ_CONT): whole, chunked,
        # answered early (a length of 5), cancelled between messages, kept
        rpc_msg(1, 5, 1, b"k", flags=8) + rpc_msg(1, 5, 1, b"ab", flags=24) +
        rpc_msg(1, 5, 1, b"c" * 70, md, chunk=25, flags=24) + rpc_msg(1, 5, 1, b"z", flags=16),
        rpc_msg(1, 5, 2, b"k", flags=8) + rpc_msg(1, 5, 2, b"early", flags=24) +
        rpc_msg(1, 5, 2, b"late", flags=24) + rpc_msg(1, 5, 2, b"last", flags=16),
        rpc_msg(1, 6, 3, b"k", flags=12) + rpc_msg(1, 6, 3, b"m", flags=24) +
        rpc_hdr(3, call_id=3) + rpc_msg(1, 6, 4, b"k", flags=8) + rpc_msg(1, 6, 4, b"e", flags=16),
        rpc_msg(1, 1, 5, b"not a stream method", flags=8) + rpc_msg(1, 1, 5, b"x", flags=16),
        # kept between messages and answered by the harness while the next
        # (chunked) message is part-way in
        rpc_msg(1, 7, 6, b"k", flags=8) + rpc_msg(1, 7, 6, b"x" * 200, chunk=50, flags=24) +
        rpc_msg(1, 7, 6, b"y" * 90, chunk=30, flags=24) + rpc_msg(1, 7, 6, b"z", flags=16) +
        rpc_msg(1, 1, 7, b"after"),
    ]
    for i, st in enumerate(srv):
        save("rpc_frame", bytes([i * 13 % 128]) + st)
    # client side: calls 0..8 have ids 1..9; 7, 8 and 9 take streamed
    # responses, 9 is a streamed request
    cli = [
        rpc_msg(2, 0, 1, b"r" * 37, md),
        rpc_msg(2, 0, 2, b"s" * 74, b"", chunk=20),
        rpc_msg(2, 0, 3, b"", status=5) + rpc_msg(2, 0, 3, b"dup"),
        rpc_msg(2, 0, 4, b"late", status=99) + rpc_hdr(1, 0, 1, 77, 0, 0),
        rpc_hdr(2, 1, 0, 6, 5, 2000000) + b"12345",
        rpc_hdr(4, call_id=1, aux=1) + rpc_hdr(6, aux=3) + rpc_hdr(8),
        rpc_msg(2, 6, 7, b"p1", flags=4) + rpc_msg(2, 6, 7, b"p" * 50, md, chunk=16, flags=4) +
        rpc_msg(2, 6, 7, b"end"),
        rpc_msg(2, 7, 8, b"p", flags=4, status=3),
        rpc_msg(2, 0, 1, b"unasked", flags=4),
        # call 9 (id 9) is a streamed request still sending: answered early
        rpc_msg(2, 5, 9, b"part", flags=4) + rpc_msg(2, 5, 9, b"done", status=9),
    ]
    for i, st in enumerate(cli):
        save("rpc_frame", bytes([0x80 | (i * 29 % 128)]) + st)


# ---------------------------------------------------------------- ctrlq
# fuzz_ctrlq's ops (run_op()): op, req_id, b (slot, and which fields come
# raw), then the op's bytes
def listen(port_idx, backlog=8, flags=0, cc=0):
    return bytes([0, 1, port_idx, 1, port_idx, 1, backlog, flags, cc])


def connect(port_idx=0, cc=0, raw_cc=None, flags=0):
    b = 0x10 if raw_cc else 0
    out = bytes([1, 2, b, 1, port_idx, 1, 0, flags, cc])
    return out + (raw_cc if raw_cc else b"")


def on_slot(op, slot, flags=0, gen=None):
    # op 2 SHUTDOWN, 3 CLOSE, 4 ABORT, 5 KEEPALIVE; a forged generation raw
    if gen is None:
        return bytes([op, 3, slot, 1, flags])
    return bytes([op, 3, 0x40 | slot]) + struct.pack("<I", gen) + bytes([1, flags])


def peer_syn(port_idx, sport=1):
    return bytes([11, 4, port_idx, sport])


def wait(ms=3):
    return bytes([12, 5, 0, ms])


def ctrlq_seeds():
    seeds = [
        listen(1) + peer_syn(1) + wait() + on_slot(3, 1) + on_slot(3, 0) + wait(),
        connect() + wait() + on_slot(2, 0) + wait() + on_slot(3, 0) + wait(),
        connect() + wait() + on_slot(4, 0) + wait(),
        connect() + wait() + on_slot(5, 0, flags=1) + wait(),
        connect() + wait() + on_slot(3, 0, gen=12345) + on_slot(4, 0, gen=0) + wait(),
        # fork: the child is this process (key 0: every flow), then init
        connect() + wait() + bytes([6, 6, 0, 0, 1]) + wait() + bytes([6, 6, 0, 1, 1]),
        # exec hold on the flow, then release it; adopt a key nobody holds
        connect() + wait() + bytes([9, 7, 0, 1, 1]) + bytes([8, 7, 0, 1, 0]) + wait()
        + bytes([7, 8, 0, 0]) + struct.pack("<II", 77, 88) + bytes([0]),
        # shared listeners on one port, an RPC one, a reservation
        listen(2, flags=1) + listen(2, flags=1) + listen(3, flags=2) + listen(4, flags=5)
        + peer_syn(2) + wait(),
        connect(cc=3) + connect(cc=5) + connect(raw_cc=b"cubic\x01" + bytes(10)) + wait(),
        listen(1, backlog=1) + peer_syn(1, 1) + peer_syn(1, 2) + peer_syn(1, 3) + wait()
        + on_slot(4, 0) + wait(),
        bytes([10]) + bytes(range(64)),
        # an RPC session shut down (then closed) with frames it only says
        # it posted, then the app goes: its FIN must not wait for them
        connect(flags=2) + wait() + bytes([2, 3, 0, 0]) + struct.pack("<I", 1) + bytes([0])
        + wait(),
        connect(flags=2) + wait() + bytes([3, 3, 0, 0]) + struct.pack("<I", 5) + bytes([0])
        + wait(),
    ]
    for sc in seeds:
        save("ctrlq", sc)


def main():
    ctrlq_seeds()
    rpc_seeds()
    pkt_seeds()
    ctl_seeds()
    for sc in tcp_scripts():
        save("tcp_input", sc)
        save("app_queue", sc)  # its events 0..3 are segments too
    for sc in app_scripts():
        save("app_queue", sc)


if __name__ == "__main__":
    main()
