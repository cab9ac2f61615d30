// SPDX-License-Identifier: MIT
/*
 * pkt.c - Ethernet/IPv4/TCP parsing, validation, construction and the
 * Internet checksum.
 *
 * Deliberately free of DPDK headers: everything works on plain byte
 * buffers so the unit tests run without an EAL.  Every field is read with
 * explicit byte loads or memcpy, never through casted struct pointers, so
 * frames may start at any alignment (mbuf data often sits at offset 2
 * after the Ethernet header).
 */
#include <string.h>
#include <arpa/inet.h>

#include "pkt.h"

/* TCP option kinds */
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WS 3
#define TCPOPT_SACK_OK 4
#define TCPOPT_SACK 5
#define TCPOPT_TS 8

/* RFC 7323 2.3: larger shifts must be treated as 14 */
#define TCP_MAX_WSCALE 14

static const char *const verdict_names[PKT_VERDICT_MAX] = {
	[PKT_OK] = "ok",
	[PKT_BAD_TRUNCATED] = "truncated",
	[PKT_BAD_IP_HDR] = "bad_ip_hdr",
	[PKT_BAD_IP_CSUM] = "bad_ip_csum",
	[PKT_BAD_IP_FRAG] = "ip_fragment",
	[PKT_BAD_TCP_HDR] = "bad_tcp_hdr",
	[PKT_BAD_TCP_CSUM] = "bad_tcp_csum",
	[PKT_BAD_ICMP_CSUM] = "bad_icmp_csum",
	[PKT_NOT_OURS] = "not_ours",
};

/**
 * pkt_verdict_name - short stable name of a verdict, for counters and logs.
 * @v: the verdict.
 *
 * Return: a static string; "unknown" for out-of-range values.
 */
const char *pkt_verdict_name(enum pkt_verdict v)
{
	if ((unsigned int)v >= PKT_VERDICT_MAX || !verdict_names[v])
		return "unknown";
	return verdict_names[v];
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* ------------------------------------------------------------ checksum */

/* Fold a 64-bit end-around-carry sum to 32 bits without losing carries. */
static inline uint32_t fold64(uint64_t s)
{
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

/*
 * Add with end-around carry.  Because 2^64 - 1 is a multiple of 0xffff,
 * summing 64-bit words this way is congruent to the RFC 1071 16-bit sum,
 * and byte order does not matter as long as it is applied consistently:
 * we sum memory-order words, so the result is already in network order.
 */
static inline uint64_t add64c(uint64_t s, uint64_t w)
{
	s += w;
	return s + (s < w);
}

/**
 * csum_partial - ones-complement sum of @len bytes, folded into @sum.
 * @buf: data, any alignment.
 * @len: byte count.  Only the last piece of a chained sum may be odd.
 * @sum: running sum from an earlier call, or 0.
 *
 * Return: a 32-bit partial sum in network byte order (pass to csum_fold).
 */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t s = sum;
	uint64_t a, b, c, d;

	/*
	 * Unaligned 8-byte loads via memcpy compile to plain moves on x86;
	 * four independent accumulators keep the carry chains short.
	 */
	a = b = c = d = 0;
	while (len >= 32) {
		uint64_t w[4];

		memcpy(w, p, sizeof(w));
		a = add64c(a, w[0]);
		b = add64c(b, w[1]);
		c = add64c(c, w[2]);
		d = add64c(d, w[3]);
		p += 32;
		len -= 32;
	}
	s = add64c(s, a);
	s = add64c(s, b);
	s = add64c(s, c);
	s = add64c(s, d);
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		s = add64c(s, w);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		s = add64c(s, w);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		s = add64c(s, w);
		p += 2;
		len -= 2;
	}
	if (len) {
		/* a trailing byte is the high half of a zero-padded word */
		uint8_t t[2] = { p[0], 0 };
		uint16_t w;

		memcpy(&w, t, 2);
		s = add64c(s, w);
	}
	return fold64(s);
}

/**
 * csum_fold - final 16-bit ones-complement checksum.
 * @sum: partial sum from csum_partial().
 *
 * Return: the checksum in network byte order, ready to be stored with
 * memcpy; 0 when verifying a block that includes a correct checksum.
 */
uint16_t csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void pkt_ip_csum_set(uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	uint16_t csum;

	ip[10] = ip[11] = 0;
	csum = csum_fold(csum_partial(ip, ihl, 0));
	memcpy(ip + 10, &csum, 2);
}

/**
 * tcp_csum - checksum of a TCP segment including the IPv4 pseudo header.
 * @saddr: source address, network order.
 * @daddr: destination address, network order.
 * @tcp: TCP header followed by payload.
 * @tcp_len: header plus payload bytes.
 *
 * Return: the checksum in network order; 0 when verifying a segment whose
 * checksum field is correct.
 */
uint16_t tcp_csum(uint32_t saddr, uint32_t daddr, const void *tcp, size_t tcp_len)
{
	uint64_t ph = (uint64_t)saddr + daddr + htons(PKT_PROTO_TCP) +
		      htons((uint16_t)tcp_len);

	return csum_fold(csum_partial(tcp, tcp_len, fold64(ph)));
}

/* --------------------------------------------------------------- parse */

/**
 * pkt_parse_tcp_opts - parse a TCP option block.
 * @opt: first option byte (right after the fixed 20-byte header).
 * @len: bytes of options (data offset * 4 - 20).
 * @out: filled with what was found; absent options keep their "absent"
 *       value (mss 0, wscale -1, false).
 *
 * Unknown kinds are skipped by their length byte.  Known kinds with a wrong
 * length are ignored rather than rejected, as other stacks do, but any
 * option whose length is < 2 or runs past the block makes the whole
 * segment malformed: we could not find where the next option starts.
 *
 * Return: true if well formed.
 */
bool pkt_parse_tcp_opts(const uint8_t *opt, size_t len, struct tcp_opts *out)
{
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	out->wscale = -1;

	while (i < len) {
		uint8_t kind = opt[i];
		uint8_t olen;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (len - i < 2)
			return false;
		olen = opt[i + 1];
		if (olen < 2 || olen > len - i)
			return false;

		switch (kind) {
		case TCPOPT_MSS:
			if (olen == 4)
				out->mss = pkt_rd16(opt + i + 2);
			break;
		case TCPOPT_WS:
			if (olen == 3) {
				uint8_t ws = opt[i + 2];

				out->wscale = ws > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : ws;
			}
			break;
		case TCPOPT_SACK_OK:
			if (olen == 2)
				out->sack_ok = true;
			break;
		case TCPOPT_SACK:
			if (olen >= 10 && (olen - 2) % 8 == 0) {
				uint8_t n = (uint8_t)((olen - 2) / 8);

				if (n > TCP_MAX_SACK)
					n = TCP_MAX_SACK;
				for (uint8_t b = 0; b < n; b++) {
					out->sack[b][0] = rd32(opt + i + 2 + 8 * b);
					out->sack[b][1] = rd32(opt + i + 6 + 8 * b);
				}
				out->sack_n = n;
			}
			break;
		case TCPOPT_TS:
			if (olen == 10) {
				out->ts_present = true;
				out->ts_val = rd32(opt + i + 2);
				out->ts_ecr = rd32(opt + i + 6);
			}
			break;
		default:
			break;
		}
		i += olen;
	}
	return true;
}

/**
 * pkt_classify - look at the Ethernet/IP headers only.
 * @frame: frame bytes starting at the Ethernet header.
 * @len: frame length.
 *
 * Cheap dispatch before full validation: no checksums are looked at.
 * VLAN-tagged frames are not ours (the port is configured untagged).
 *
 * Return: PKT_ETHTYPE_ARP, PKT_PROTO_TCP, PKT_PROTO_ICMP (IPv4), or 0.
 */
int pkt_classify(const uint8_t *frame, size_t len)
{
	uint16_t et;

	if (len < PKT_ETH_LEN)
		return 0;
	et = pkt_rd16(frame + 12);
	if (et == PKT_ETHTYPE_ARP)
		return PKT_ETHTYPE_ARP;
	if (et != PKT_ETHTYPE_IPV4 || len < PKT_ETH_LEN + PKT_IP_MIN)
		return 0;
	if ((frame[PKT_ETH_LEN] >> 4) != 4)
		return 0;
	switch (frame[PKT_ETH_LEN + 9]) {
	case PKT_PROTO_TCP:
		return PKT_PROTO_TCP;
	case PKT_PROTO_ICMP:
		return PKT_PROTO_ICMP;
	default:
		return 0;
	}
}

/**
 * pkt_ip_fragment - is @frame (an IPv4 frame, pkt_classify() said) a
 * fragment: MF set or a fragment offset?  The header is not validated.
 */
bool pkt_ip_fragment(const uint8_t *frame, size_t len)
{
	return len >= PKT_ETH_LEN + PKT_IP_MIN &&
	       (pkt_rd16(frame + PKT_ETH_LEN + 6) & (PKT_IP_MF | PKT_IP_OFF_MASK));
}

/**
 * pkt_parse_tcp - validate an Ethernet/IPv4/TCP frame and extract fields.
 * @frame: frame bytes starting at the Ethernet header.
 * @len: frame length (may include Ethernet padding).
 * @verify_csum: false when the NIC already verified the checksums.
 * @out: filled on PKT_OK; undefined otherwise.
 *
 * The IP total length, not @len, bounds the segment: short frames are
 * padded to 60 bytes on the wire and that padding must not become payload.
 * A total length that claims more than the frame holds is PKT_BAD_TRUNCATED;
 * one too small to hold the IP and minimal TCP headers is PKT_BAD_IP_HDR.
 *
 * Return: PKT_OK or the reason the frame was rejected.
 */
enum pkt_verdict pkt_parse_tcp(const uint8_t *frame, size_t len, bool verify_csum,
			       struct pkt_tcp *out)
{
	const uint8_t *ip, *tcp;
	size_t ihl, tot, tcp_len, doff;
	uint16_t frag;

	if (len < PKT_ETH_LEN)
		return PKT_BAD_TRUNCATED;
	if (pkt_rd16(frame + 12) != PKT_ETHTYPE_IPV4)
		return PKT_NOT_OURS;

	ip = frame + PKT_ETH_LEN;
	len -= PKT_ETH_LEN;
	if (len < PKT_IP_MIN)
		return PKT_BAD_TRUNCATED;
	if ((ip[0] >> 4) != 4)
		return PKT_BAD_IP_HDR;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ihl < PKT_IP_MIN)
		return PKT_BAD_IP_HDR;
	if (len < ihl)
		return PKT_BAD_TRUNCATED;
	tot = pkt_rd16(ip + 2);
	if (tot > len)
		return PKT_BAD_TRUNCATED;
	if (tot < ihl + PKT_TCP_MIN)
		return PKT_BAD_IP_HDR;
	if (verify_csum && csum_fold(csum_partial(ip, ihl, 0)) != 0)
		return PKT_BAD_IP_CSUM;
	if (ip[9] != PKT_PROTO_TCP)
		return PKT_NOT_OURS;
	frag = pkt_rd16(ip + 6);
	if (frag & (PKT_IP_MF | PKT_IP_OFF_MASK))
		return PKT_BAD_IP_FRAG;

	tcp = ip + ihl;
	tcp_len = tot - ihl;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < PKT_TCP_MIN || doff > tcp_len)
		return PKT_BAD_TCP_HDR;
	memcpy(&out->saddr, ip + 12, 4);
	memcpy(&out->daddr, ip + 16, 4);
	if (verify_csum && tcp_csum(out->saddr, out->daddr, tcp, tcp_len) != 0)
		return PKT_BAD_TCP_CSUM;
	if (!pkt_parse_tcp_opts(tcp + PKT_TCP_MIN, doff - PKT_TCP_MIN, &out->opts))
		return PKT_BAD_TCP_HDR;

	memcpy(out->dst_mac, frame, 6);
	memcpy(out->src_mac, frame + 6, 6);
	out->ecn = ip[1] & 0x03;
	out->sport = pkt_rd16(tcp);
	out->dport = pkt_rd16(tcp + 2);
	out->seq = rd32(tcp + 4);
	out->ack = rd32(tcp + 8);
	out->flags = tcp[13];
	out->wnd = pkt_rd16(tcp + 14);
	out->payload = tcp + doff;
	out->payload_len = (uint32_t)(tcp_len - doff);
	return PKT_OK;
}

/* --------------------------------------------------------------- build */

static size_t tcp_opts_len(const struct tcp_hdr_spec *s)
{
	size_t n = 0;

	if (s->opt_mss)
		n += 4;                 /* kind 2, len 4, mss */
	if (s->opt_wscale >= 0)
		n += 4;                 /* NOP, kind 3, len 3, shift */
	if (s->opt_sack_ok)
		n += 4;                 /* NOP, NOP, kind 4, len 2 */
	if (s->sack_n)
		n += 4 + 8u * (s->sack_n > TCP_SACK_SEND ? TCP_SACK_SEND : s->sack_n);
	return n;                       /* NOP, NOP, kind 5, len, blocks */
}

/**
 * pkt_tcp_hdr_len - bytes of Ethernet + IPv4 + TCP headers for @s.
 * @s: the segment description; only the option fields matter.
 *
 * Each option is padded with NOPs to 4 bytes, so the TCP header is always
 * a multiple of 4 and at most PKT_TCP_MIN + 28 (three SACK blocks).
 *
 * Return: total header length; the payload starts at this offset.
 */
size_t pkt_tcp_hdr_len(const struct tcp_hdr_spec *s)
{
	return PKT_ETH_LEN + PKT_IP_MIN + PKT_TCP_MIN + tcp_opts_len(s);
}

static void write_tcp_opts(uint8_t *p, const struct tcp_hdr_spec *s)
{
	if (s->opt_mss) {
		p[0] = TCPOPT_MSS;
		p[1] = 4;
		pkt_wr16(p + 2, s->opt_mss);
		p += 4;
	}
	if (s->opt_wscale >= 0) {
		p[0] = TCPOPT_NOP;
		p[1] = TCPOPT_WS;
		p[2] = 3;
		p[3] = s->opt_wscale > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : s->opt_wscale;
		p += 4;
	}
	if (s->opt_sack_ok) {
		p[0] = TCPOPT_NOP;
		p[1] = TCPOPT_NOP;
		p[2] = TCPOPT_SACK_OK;
		p[3] = 2;
		p += 4;
	}
	if (s->sack_n) {
		uint8_t n = s->sack_n > TCP_SACK_SEND ? TCP_SACK_SEND : s->sack_n;

		p[0] = TCPOPT_NOP;
		p[1] = TCPOPT_NOP;
		p[2] = TCPOPT_SACK;
		p[3] = (uint8_t)(2 + 8 * n);
		for (uint8_t b = 0; b < n; b++) {
			wr32(p + 4 + 8 * b, s->sack[b][0]);
			wr32(p + 8 + 8 * b, s->sack[b][1]);
		}
	}
}

/**
 * pkt_write_tcp - write Ethernet, IPv4 and TCP headers and both checksums
 * (or, with @s->csum a HW mode, what the port needs to finish them).
 * @buf: frame buffer; with PKT_CSUM_SW @payload_len payload bytes must
 *       already sit at buf + pkt_tcp_hdr_len(@s), since the TCP checksum
 *       covers them.
 * @s: addresses, ports, sequence numbers, flags and options.
 * @payload_len: payload bytes; the caller keeps headers + payload within
 *               the IPv4 total length limit (the MTU in practice).
 */
void pkt_write_tcp(uint8_t *buf, const struct tcp_hdr_spec *s, uint32_t payload_len)
{
	size_t olen = tcp_opts_len(s);
	size_t thl = PKT_TCP_MIN + olen;
	uint8_t *ip = buf + PKT_ETH_LEN;
	uint8_t *tcp = ip + PKT_IP_MIN;
	uint16_t csum;

	memcpy(buf, s->dst_mac, 6);
	memcpy(buf + 6, s->src_mac, 6);
	pkt_wr16(buf + 12, PKT_ETHTYPE_IPV4);

	ip[0] = 0x45;
	ip[1] = s->ecn & 0x03;
	pkt_wr16(ip + 2, (uint16_t)(PKT_IP_MIN + thl + payload_len));
	pkt_wr16(ip + 4, s->ip_id);
	pkt_wr16(ip + 6, s->no_df ? 0 : PKT_IP_DF);
	ip[8] = 64;
	ip[9] = PKT_PROTO_TCP;
	ip[10] = ip[11] = 0;
	memcpy(ip + 12, &s->saddr, 4);
	memcpy(ip + 16, &s->daddr, 4);
	if (s->csum == PKT_CSUM_SW)
		pkt_ip_csum_set(ip);

	pkt_wr16(tcp, s->sport);
	pkt_wr16(tcp + 2, s->dport);
	wr32(tcp + 4, s->seq);
	wr32(tcp + 8, s->ack);
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = s->flags;
	pkt_wr16(tcp + 14, s->wnd);
	tcp[16] = tcp[17] = 0;
	tcp[18] = tcp[19] = 0;
	write_tcp_opts(tcp + PKT_TCP_MIN, s);
	if (s->csum == PKT_CSUM_SW) {
		csum = tcp_csum(s->saddr, s->daddr, tcp, thl + payload_len);
	} else {
		/* the port adds the segment and stores the complement */
		uint64_t ph = (uint64_t)s->saddr + s->daddr + htons(PKT_PROTO_TCP);
		if (s->csum == PKT_CSUM_HW)
			ph += htons((uint16_t)(thl + payload_len));
		csum = (uint16_t)~csum_fold(fold64(ph));
	}
	memcpy(tcp + 16, &csum, 2);
}
