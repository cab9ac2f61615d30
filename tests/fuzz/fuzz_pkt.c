// SPDX-License-Identifier: MIT
/*
 * fuzz_pkt - frame parsing: Ethernet/IPv4/TCP with options, ARP, ICMP
 * echo, and the Internet checksum.
 *
 * Input: one frame, as received.  Besides "no crash, no sanitizer
 * report", it checks what the fastpath relies on: a parsed segment's
 * payload lies inside the frame and inside the IP total length, option
 * values are in range, and a segment rebuilt from the parsed fields with
 * pkt_write_tcp() parses back to the same fields.  ICMP replies must be
 * valid echo replies, and a checksum computed in two pieces must equal the
 * one computed at once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static const uint8_t my_mac[6] = { 0x02, 0, 0, 0, 0, 1 };

/* the frame rebuilt from @p parses back to the same fields */
static void check_roundtrip(const struct pkt_tcp *p)
{
	static uint8_t buf[PKT_TCP_HDRS_MAX + 65536];
	struct tcp_hdr_spec s = {
		.src_mac = p->src_mac, .dst_mac = p->dst_mac,
		.saddr = p->saddr, .daddr = p->daddr,
		.sport = p->sport, .dport = p->dport,
		.seq = p->seq, .ack = p->ack, .wnd = p->wnd, .flags = p->flags,
		.ecn = p->ecn, .opt_wscale = -1,
	};
	/* the writer puts handshake options or SACK blocks, never both */
	if (p->opts.sack_n) {
		s.sack_n = p->opts.sack_n > TCP_SACK_SEND ? TCP_SACK_SEND : p->opts.sack_n;
		memcpy(s.sack, p->opts.sack, sizeof(s.sack[0]) * s.sack_n);
	} else {
		s.opt_mss = p->opts.mss;
		s.opt_wscale = p->opts.wscale;
		s.opt_sack_ok = p->opts.sack_ok;
	}
	size_t hl = pkt_tcp_hdr_len(&s);
	CHECK(hl <= PKT_TCP_HDRS_MAX);
	uint32_t len = p->payload_len;
	if (hl - PKT_ETH_LEN + len > 0xffff)
		len = 0xffff - (uint32_t)(hl - PKT_ETH_LEN);
	memcpy(buf + hl, p->payload, len);
	pkt_write_tcp(buf, &s, len);
	CHECK(pkt_classify(buf, hl + len) == PKT_PROTO_TCP);

	struct pkt_tcp q;
	CHECK(pkt_parse_tcp(buf, hl + len, true, &q) == PKT_OK);
	CHECK(q.saddr == p->saddr && q.daddr == p->daddr);
	CHECK(q.sport == p->sport && q.dport == p->dport);
	CHECK(q.seq == p->seq && q.ack == p->ack && q.wnd == p->wnd);
	CHECK(q.flags == p->flags && q.ecn == p->ecn);
	CHECK(!memcmp(q.src_mac, p->src_mac, 6) && !memcmp(q.dst_mac, p->dst_mac, 6));
	CHECK(q.payload_len == len && !memcmp(q.payload, p->payload, len));
	CHECK(q.opts.sack_n == s.sack_n);
	CHECK(!memcmp(q.opts.sack, s.sack, sizeof(s.sack[0]) * s.sack_n));
	if (!s.sack_n) {
		CHECK(q.opts.mss == p->opts.mss && q.opts.wscale == p->opts.wscale);
		CHECK(q.opts.sack_ok == p->opts.sack_ok);
	}
}

static void check_tcp(const uint8_t *data, size_t size)
{
	struct pkt_tcp p, p2;
	enum pkt_verdict v = pkt_parse_tcp(data, size, true, &p);
	enum pkt_verdict v2 = pkt_parse_tcp(data, size, false, &p2);

	CHECK((unsigned)v < PKT_VERDICT_MAX && (unsigned)v2 < PKT_VERDICT_MAX);
	CHECK(pkt_verdict_name(v) != NULL);
	/* skipping the checksums can only accept more */
	if (v == PKT_OK)
		CHECK(v2 == PKT_OK && !memcmp(&p.opts, &p2.opts, sizeof(p.opts)) &&
		      p.payload == p2.payload && p.payload_len == p2.payload_len);
	if (v2 != PKT_OK)
		return;
	CHECK(pkt_classify(data, size) == PKT_PROTO_TCP);
	/* payload inside the frame and inside the IP datagram */
	size_t tot = (size_t)data[PKT_ETH_LEN + 2] << 8 | data[PKT_ETH_LEN + 3];
	CHECK(p2.payload >= data + PKT_ETH_LEN + PKT_IP_MIN + PKT_TCP_MIN);
	CHECK(p2.payload + p2.payload_len == data + PKT_ETH_LEN + tot);
	CHECK(PKT_ETH_LEN + tot <= size);
	CHECK(p2.opts.wscale >= -1 && p2.opts.wscale <= 14);
	CHECK(p2.opts.sack_n <= TCP_MAX_SACK);
	check_roundtrip(&p2);
}

static void check_csum(const uint8_t *data, size_t size)
{
	/* split at an even offset: the sum over both pieces is the same */
	size_t cut = size ? (data[0] * 2u) % (size + 1) : 0;
	cut &= ~(size_t)1;
	uint32_t whole = csum_partial(data, size, 0);
	uint32_t parts = csum_partial(data + cut, size - cut, csum_partial(data, cut, 0));
	CHECK(csum_fold(whole) == csum_fold(parts));
}

static void check_icmp(const uint8_t *data, size_t size)
{
	static uint8_t out[65536 + 64];
	size_t n = pkt_icmp_echo_reply(out, sizeof(out), data, size, my_mac);
	if (!n)
		return;
	CHECK(n >= PKT_ETH_LEN + PKT_IP_MIN + 8 && n <= size);
	CHECK(!memcmp(out + 6, my_mac, 6));
	CHECK(csum_fold(csum_partial(out + PKT_ETH_LEN, PKT_IP_MIN, 0)) == 0);
	CHECK(csum_fold(csum_partial(out + PKT_ETH_LEN + PKT_IP_MIN,
				     n - PKT_ETH_LEN - PKT_IP_MIN, 0)) == 0);
	CHECK(out[PKT_ETH_LEN + PKT_IP_MIN] == 0); /* echo reply */
	/* a reply is not a request: it must not be answered again */
	CHECK(pkt_icmp_echo_reply(out + 0, sizeof(out), out, n, my_mac) == 0);

	/* in place, into exactly the request's bytes */
	uint8_t *copy = malloc(size);
	CHECK(copy);
	memcpy(copy, data, size);
	size_t m = pkt_icmp_echo_reply(copy, size, copy, size, my_mac);
	CHECK(m == n && !memcmp(copy, out, n));
	free(copy);
}

static void check_icmp_err(const uint8_t *data, size_t size)
{
	struct pkt_icmp_err tb, back;
	uint32_t ours = 0;
	/* "us" is the quoted source where a header without options puts it,
	 * so frames about any address reach the rest of the parser */
	if (size >= PKT_ETH_LEN + PKT_IP_MIN + 8 + 16)
		memcpy(&ours, data + PKT_ETH_LEN + PKT_IP_MIN + 8 + 12, 4);
	if (!pkt_icmp_err_parse(data, size, ours, &tb))
		return;
	CHECK(pkt_classify(data, size) == PKT_PROTO_ICMP);
	CHECK(!pkt_icmp_err_parse(data, size, ours ^ 1, &back)); /* not from us */

	/* a router's message about the segment it quoted parses back the same */
	size_t ihl = (size_t)(data[PKT_ETH_LEN] & 0x0f) * 4;
	const uint8_t *q = data + PKT_ETH_LEN + ihl + 8;
	size_t qlen = size - PKT_ETH_LEN - ihl - 8;
	static uint8_t seg[PKT_ETH_LEN + 128], out[256];
	if (qlen > 120)
		qlen = 120;
	memcpy(seg, data, PKT_ETH_LEN);
	memcpy(seg + PKT_ETH_LEN, q, qlen);
	size_t n = pkt_icmp_err_write(out, seg, PKT_ETH_LEN + qlen, my_mac, tb.from, tb.type,
				      tb.code, tb.mtu);
	CHECK(n);
	CHECK(pkt_icmp_err_parse(out, n, ours, &back));
	CHECK(back.raddr == tb.raddr && back.lport == tb.lport && back.rport == tb.rport);
	CHECK(back.seq == tb.seq && back.mtu == tb.mtu && back.from == tb.from);
	CHECK(back.type == tb.type && back.code == tb.code);
	CHECK(pkt_icmp_frag_needed(&tb) || !tb.mtu);
	CHECK(tb.type == PKT_ICMP_DEST_UNREACH || tb.type == PKT_ICMP_TIME_EXCEEDED ||
	      tb.type == PKT_ICMP_PARAM_PROBLEM);
}

static void check_arp(const uint8_t *data, size_t size)
{
	struct pkt_arp a;
	uint8_t buf[PKT_ARP_FRAME_LEN];
	if (!pkt_arp_parse(data, size, &a))
		return;
	CHECK(pkt_classify(data, size) == PKT_ETHTYPE_ARP);
	/* the reply we would send parses back */
	struct pkt_arp r;
	CHECK(pkt_arp_write(buf, PKT_ARP_REPLY, my_mac, a.tpa, a.sha, a.spa) == sizeof(buf));
	CHECK(pkt_arp_parse(buf, sizeof(buf), &r));
	CHECK(r.op == PKT_ARP_REPLY && r.spa == a.tpa && r.tpa == a.spa);
	CHECK(!memcmp(r.tha, a.sha, 6) && !memcmp(r.sha, my_mac, 6));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a private copy, exactly @size long, so any overread is caught */
	uint8_t *f = malloc(size ? size : 1);
	if (!f)
		return 0;
	memcpy(f, data, size);
	int c = pkt_classify(f, size);
	CHECK(c == 0 || c == PKT_ETHTYPE_ARP || c == PKT_PROTO_TCP || c == PKT_PROTO_ICMP);
	check_tcp(f, size);
	check_arp(f, size);
	check_icmp(f, size);
	check_icmp_err(f, size);
	check_csum(f, size);
	if (size > PKT_ETH_LEN + PKT_IP_MIN + PKT_TCP_MIN) {
		struct tcp_opts o;
		size_t olen = f[0] % 41; /* options are at most 40 bytes */
		if (olen > size - 1)
			olen = size - 1;
		if (pkt_parse_tcp_opts(f + 1, olen, &o))
			CHECK(o.sack_n <= TCP_MAX_SACK && o.wscale <= 14);
	}
	free(f);
	return 0;
}
