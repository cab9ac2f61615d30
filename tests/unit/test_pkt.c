// SPDX-License-Identifier: MIT
/*
 * test_pkt.c - frame parsing/validation, option parsing, header
 * construction, the Internet checksum, ARP and ICMP echo.
 *
 * Frames are built here by hand with a byte-at-a-time RFC 1071 reference
 * checksum, independent of the code under test, so a bug shared by the
 * builder and the parser cannot cancel out.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <string.h>

#include "pkt.h"

static const uint8_t MAC_A[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b };
#define IP_A 0x0a000001u /* 10.0.0.1, host order */
#define IP_B 0x0a000002u

/* ------------------------------------------------------------ helpers */

/* RFC 1071 by the book: big-endian 16-bit words, end-around carry. */
static uint16_t ref_sum(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t ref_csum(const uint8_t *p, size_t n)
{
	return (uint16_t)~ref_sum(p, n, 0);
}

static uint16_t ref_tcp_csum(const uint8_t *ip, const uint8_t *tcp, size_t tcp_len)
{
	uint32_t s = 0;

	s += ref_sum(ip + 12, 8, 0);
	s += PKT_PROTO_TCP + (uint32_t)tcp_len;
	return (uint16_t)~ref_sum(tcp, tcp_len, s);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* Recompute both checksums from whatever the header fields now say. */
static void fix_csums(uint8_t *f)
{
	uint8_t *ip = f + PKT_ETH_LEN;
	size_t ihl = (ip[0] & 0xf) * 4u;
	size_t tot = be16(ip + 2);
	uint8_t *tcp = ip + ihl;

	put16(ip + 10, 0);
	put16(ip + 10, ref_csum(ip, ihl));
	put16(tcp + 16, 0);
	put16(tcp + 16, ref_tcp_csum(ip, tcp, tot - ihl));
}

/*
 * Build a valid frame: 10.0.0.1:1234 -> 10.0.0.2:80, seq 1000, ack 2000,
 * ACK|PSH, window 65535, IP options and TCP options as given (multiples
 * of 4), then the payload.  Returns the frame length.
 */
static size_t mk_tcp(uint8_t *f, const uint8_t *ipopt, size_t ipoptlen,
		     const uint8_t *topt, size_t toptlen, const void *pl, size_t plen)
{
	uint8_t *ip = f + PKT_ETH_LEN;
	size_t ihl = 20 + ipoptlen, thl = 20 + toptlen;
	uint8_t *tcp = ip + ihl;

	memcpy(f, MAC_B, 6);
	memcpy(f + 6, MAC_A, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, ihl);
	ip[0] = 0x40 | (uint8_t)(ihl / 4);
	ip[1] = 0x02; /* ECT(0) */
	put16(ip + 2, (uint16_t)(ihl + thl + plen));
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = PKT_PROTO_TCP;
	put32(ip + 12, IP_A);
	put32(ip + 16, IP_B);
	if (ipoptlen)
		memcpy(ip + 20, ipopt, ipoptlen);
	memset(tcp, 0, thl);
	put16(tcp, 1234);
	put16(tcp + 2, 80);
	put32(tcp + 4, 1000);
	put32(tcp + 8, 2000);
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = TCPF_ACK | TCPF_PSH;
	put16(tcp + 14, 65535);
	if (toptlen)
		memcpy(tcp + 20, topt, toptlen);
	if (plen)
		memcpy(tcp + thl, pl, plen);
	fix_csums(f);
	return PKT_ETH_LEN + ihl + thl + plen;
}

static size_t mk_plain(uint8_t *f, const char *payload)
{
	return mk_tcp(f, NULL, 0, NULL, 0, payload, payload ? strlen(payload) : 0);
}

static enum pkt_verdict parse(const uint8_t *f, size_t len)
{
	struct pkt_tcp t;

	return pkt_parse_tcp(f, len, true, &t);
}

#define IPH(f) ((f) + PKT_ETH_LEN)
#define TCPH(f) ((f) + PKT_ETH_LEN + 20)

/* ------------------------------------------------------- parse: happy */

Test(pkt_parse, valid_frame_fields)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "hello");
	struct pkt_tcp t;

	cr_assert_eq(pkt_parse_tcp(f, len, true, &t), PKT_OK);
	cr_assert(memcmp(t.src_mac, MAC_A, 6) == 0);
	cr_assert(memcmp(t.dst_mac, MAC_B, 6) == 0);
	cr_assert_eq(t.saddr, htonl(IP_A));
	cr_assert_eq(t.daddr, htonl(IP_B));
	cr_assert_eq(t.sport, 1234);
	cr_assert_eq(t.dport, 80);
	cr_assert_eq(t.seq, 1000);
	cr_assert_eq(t.ack, 2000);
	cr_assert_eq(t.wnd, 65535);
	cr_assert_eq(t.flags, TCPF_ACK | TCPF_PSH);
	cr_assert_eq(t.ecn, 2);
	cr_assert_eq(t.payload_len, 5);
	cr_assert_eq(t.payload, f + 54);
	cr_assert(memcmp(t.payload, "hello", 5) == 0);
	cr_assert_eq(t.opts.mss, 0);
	cr_assert_eq(t.opts.wscale, -1);
	cr_assert_not(t.opts.sack_ok);
	cr_assert_not(t.opts.ts_present);
}

Test(pkt_parse, ip_options_shift_tcp_header)
{
	static const uint8_t ipopt[4] = { 1, 1, 1, 0 }; /* NOP NOP NOP EOL */
	uint8_t f[256];
	size_t len = mk_tcp(f, ipopt, 4, NULL, 0, "xy", 2);
	struct pkt_tcp t;

	cr_assert_eq(pkt_parse_tcp(f, len, true, &t), PKT_OK);
	cr_assert_eq(t.sport, 1234);
	cr_assert_eq(t.payload, f + 58);
	cr_assert_eq(t.payload_len, 2);
}

Test(pkt_parse, ethernet_padding_is_not_payload)
{
	uint8_t f[64];
	size_t len = mk_plain(f, NULL);
	struct pkt_tcp t;

	cr_assert_eq(len, 54);
	memset(f + len, 0xa5, 60 - len); /* non-zero padding would break the csum */
	cr_assert_eq(pkt_parse_tcp(f, 60, true, &t), PKT_OK);
	cr_assert_eq(t.payload_len, 0);
}

/* ---------------------------------------------------- parse: rejection */

Test(pkt_parse, truncated_ethernet)
{
	uint8_t f[256];

	mk_plain(f, NULL);
	cr_assert_eq(parse(f, 0), PKT_BAD_TRUNCATED);
	cr_assert_eq(parse(f, 13), PKT_BAD_TRUNCATED);
}

Test(pkt_parse, truncated_ip)
{
	uint8_t f[256];

	mk_plain(f, NULL);
	cr_assert_eq(parse(f, 14), PKT_BAD_TRUNCATED);
	cr_assert_eq(parse(f, 14 + 19), PKT_BAD_TRUNCATED);
}

Test(pkt_parse, truncated_ip_options)
{
	static const uint8_t ipopt[8] = { 1, 1, 1, 1, 1, 1, 1, 0 };
	uint8_t f[256];

	mk_tcp(f, ipopt, 8, NULL, 0, NULL, 0);
	/* frame holds 20 of the 28 IP header bytes */
	cr_assert_eq(parse(f, 14 + 24), PKT_BAD_TRUNCATED);
}

Test(pkt_parse, truncated_tcp)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "data");

	/* total length claims more than the frame holds */
	cr_assert_eq(parse(f, len - 1), PKT_BAD_TRUNCATED);
	cr_assert_eq(parse(f, 14 + 20 + 10), PKT_BAD_TRUNCATED);
}

Test(pkt_parse, total_length_beyond_frame)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "data");

	put16(IPH(f) + 2, (uint16_t)(len - 14 + 1));
	fix_csums(f);
	cr_assert_eq(parse(f, len), PKT_BAD_TRUNCATED);
}

Test(pkt_parse, bad_version)
{
	uint8_t f[256];
	size_t len = mk_plain(f, NULL);

	IPH(f)[0] = 0x65;
	fix_csums(f);
	cr_assert_eq(parse(f, len), PKT_BAD_IP_HDR);
}

Test(pkt_parse, bad_ihl)
{
	uint8_t f[256];
	size_t len = mk_plain(f, NULL);
	uint8_t ihl;

	for (ihl = 0; ihl < 5; ihl++) {
		IPH(f)[0] = 0x40 | ihl;
		cr_assert_eq(parse(f, len), PKT_BAD_IP_HDR, "ihl %u", ihl);
	}
}

Test(pkt_parse, total_length_too_small)
{
	uint8_t f[256];
	size_t len = mk_plain(f, NULL);

	put16(IPH(f) + 2, 39); /* IP 20 + TCP 19 */
	put16(IPH(f) + 10, 0);
	put16(IPH(f) + 10, ref_csum(IPH(f), 20));
	cr_assert_eq(parse(f, len), PKT_BAD_IP_HDR);
}

Test(pkt_parse, ip_checksum_wrong)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "x");
	struct pkt_tcp t;

	IPH(f)[10] ^= 0x01;
	cr_assert_eq(parse(f, len), PKT_BAD_IP_CSUM);
	cr_assert_eq(pkt_parse_tcp(f, len, false, &t), PKT_OK);
}

Test(pkt_parse, ip_header_bit_flip_caught)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "x");

	IPH(f)[8] = 63; /* TTL changed without fixing the checksum */
	cr_assert_eq(parse(f, len), PKT_BAD_IP_CSUM);
}

Test(pkt_parse, tcp_checksum_wrong)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "payload");
	struct pkt_tcp t;

	f[len - 1] ^= 0x40;
	cr_assert_eq(parse(f, len), PKT_BAD_TCP_CSUM);
	cr_assert_eq(pkt_parse_tcp(f, len, false, &t), PKT_OK);
	f[len - 1] ^= 0x40;
	TCPH(f)[17] ^= 0x80;
	cr_assert_eq(parse(f, len), PKT_BAD_TCP_CSUM);
}

Test(pkt_parse, tcp_checksum_covers_pseudo_header)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "payload");

	/* change the source address but only repair the IP checksum */
	IPH(f)[15] ^= 0x01;
	put16(IPH(f) + 10, 0);
	put16(IPH(f) + 10, ref_csum(IPH(f), 20));
	cr_assert_eq(parse(f, len), PKT_BAD_TCP_CSUM);
}

Test(pkt_parse, fragments_rejected)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "frag");

	put16(IPH(f) + 6, 0x2000); /* MF, offset 0: first fragment */
	fix_csums(f);
	cr_assert_eq(parse(f, len), PKT_BAD_IP_FRAG);
	put16(IPH(f) + 6, 0x0001); /* last fragment, offset 8 */
	fix_csums(f);
	cr_assert_eq(parse(f, len), PKT_BAD_IP_FRAG);
	put16(IPH(f) + 6, 0x5fff); /* DF|MF|max offset */
	fix_csums(f);
	cr_assert_eq(parse(f, len), PKT_BAD_IP_FRAG);
	put16(IPH(f) + 6, 0x0000); /* not a fragment, no DF */
	fix_csums(f);
	cr_assert_eq(parse(f, len), PKT_OK);
}

/* what the fastpath passes up for reassembly: MF or an offset, DF alone not */
Test(pkt_classify, ip_fragment)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "frag");

	cr_assert_not(pkt_ip_fragment(f, len));
	put16(IPH(f) + 6, 0x4000); /* DF */
	cr_assert_not(pkt_ip_fragment(f, len));
	put16(IPH(f) + 6, 0x2000); /* MF, offset 0: the first */
	cr_assert(pkt_ip_fragment(f, len));
	put16(IPH(f) + 6, 0x0001); /* the last, offset 8 */
	cr_assert(pkt_ip_fragment(f, len));
	cr_assert_not(pkt_ip_fragment(f, PKT_ETH_LEN + 19)); /* no whole header */
}

Test(pkt_parse, data_offset_below_minimum)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "abcdefgh");
	uint8_t d;

	for (d = 0; d < 5; d++) {
		TCPH(f)[12] = (uint8_t)(d << 4);
		fix_csums(f);
		cr_assert_eq(parse(f, len), PKT_BAD_TCP_HDR, "doff %u", d);
	}
}

Test(pkt_parse, data_offset_beyond_segment)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "abcdefgh"); /* segment is 28 bytes */

	TCPH(f)[12] = 8 << 4; /* 32 bytes */
	fix_csums(f);
	cr_assert_eq(parse(f, len), PKT_BAD_TCP_HDR);
	TCPH(f)[12] = 15 << 4;
	fix_csums(f);
	cr_assert_eq(parse(f, len), PKT_BAD_TCP_HDR);
}

Test(pkt_parse, data_offset_beyond_ip_even_with_padding)
{
	uint8_t f[128];
	size_t len = mk_plain(f, NULL);

	/* header claims 24 bytes; the extra 4 exist only as Ethernet padding */
	memset(f + len, 1, 60 - len);
	TCPH(f)[12] = 6 << 4;
	fix_csums(f);
	cr_assert_eq(parse(f, 60), PKT_BAD_TCP_HDR);
}

Test(pkt_parse, data_offset_equal_to_segment)
{
	static const uint8_t opt[4] = { 1, 1, 1, 1 };
	uint8_t f[256];
	size_t len = mk_tcp(f, NULL, 0, opt, 4, NULL, 0);
	struct pkt_tcp t;

	cr_assert_eq(pkt_parse_tcp(f, len, true, &t), PKT_OK);
	cr_assert_eq(t.payload_len, 0);
	cr_assert_eq(t.payload, f + len);
}

Test(pkt_parse, malformed_options)
{
	static const uint8_t len1[4] = { 2, 1, 0, 0 };    /* MSS with len 1 */
	static const uint8_t len0[4] = { 30, 0, 0, 0 };   /* unknown, len 0 */
	static const uint8_t overrun[4] = { 8, 10, 0, 0 }; /* TS past the end */
	static const uint8_t dangling[4] = { 1, 1, 1, 2 }; /* kind, no length */
	const uint8_t *cases[] = { len1, len0, overrun, dangling };
	uint8_t f[256];
	size_t i;

	for (i = 0; i < 4; i++) {
		size_t len = mk_tcp(f, NULL, 0, cases[i], 4, "p", 1);

		cr_assert_eq(parse(f, len), PKT_BAD_TCP_HDR, "case %zu", i);
	}
}

Test(pkt_parse, not_ours)
{
	uint8_t f[256];
	size_t len = mk_plain(f, "v");

	put16(f + 12, 0x8100); /* VLAN-tagged */
	cr_assert_eq(parse(f, len), PKT_NOT_OURS);
	put16(f + 12, 0x86dd); /* IPv6 */
	cr_assert_eq(parse(f, len), PKT_NOT_OURS);
	put16(f + 12, 0x0806);
	cr_assert_eq(parse(f, len), PKT_NOT_OURS);
	put16(f + 12, 0x0800);
	IPH(f)[9] = 17; /* UDP */
	fix_csums(f);
	cr_assert_eq(parse(f, len), PKT_NOT_OURS);
}

Test(pkt_parse, verdict_names)
{
	int i, j;

	for (i = 0; i < PKT_VERDICT_MAX; i++) {
		const char *n = pkt_verdict_name(i);

		cr_assert_not_null(n);
		cr_assert_str_neq(n, "unknown", "verdict %d unnamed", i);
		for (j = 0; j < i; j++)
			cr_assert_str_neq(n, pkt_verdict_name(j));
	}
	cr_assert_str_eq(pkt_verdict_name(PKT_OK), "ok");
	cr_assert_str_eq(pkt_verdict_name(PKT_VERDICT_MAX), "unknown");
	cr_assert_str_eq(pkt_verdict_name((enum pkt_verdict)-1), "unknown");
}

Test(pkt_classify, kinds)
{
	uint8_t f[256];
	size_t len = mk_plain(f, NULL);

	cr_assert_eq(pkt_classify(f, len), PKT_PROTO_TCP);
	IPH(f)[9] = PKT_PROTO_ICMP;
	cr_assert_eq(pkt_classify(f, len), PKT_PROTO_ICMP);
	IPH(f)[9] = 17;
	cr_assert_eq(pkt_classify(f, len), 0);
	IPH(f)[9] = PKT_PROTO_TCP;
	cr_assert_eq(pkt_classify(f, 33), 0);
	cr_assert_eq(pkt_classify(f, 0), 0);
	IPH(f)[0] = 0x65;
	cr_assert_eq(pkt_classify(f, len), 0);
	put16(f + 12, 0x0806);
	cr_assert_eq(pkt_classify(f, 14), PKT_ETHTYPE_ARP);
	put16(f + 12, 0x8100);
	cr_assert_eq(pkt_classify(f, len), 0);
}

/* ------------------------------------------------------------- options */

Test(pkt_opts, syn_options)
{
	static const uint8_t o[] = {
		2, 4, 0x05, 0xb4,          /* MSS 1460 */
		4, 2,                      /* SACK permitted */
		8, 10, 0, 0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
		1, 3, 3, 7,                /* NOP, WS 7 */
	};
	struct tcp_opts t;

	cr_assert(pkt_parse_tcp_opts(o, sizeof(o), &t));
	cr_assert_eq(t.mss, 1460);
	cr_assert_eq(t.wscale, 7);
	cr_assert(t.sack_ok);
	cr_assert(t.ts_present);
	cr_assert_eq(t.ts_val, 0x1234);
	cr_assert_eq(t.ts_ecr, 0xdeadbeef);
}

Test(pkt_opts, wscale_capped)
{
	uint8_t o[3] = { 3, 3, 14 };
	struct tcp_opts t;

	cr_assert(pkt_parse_tcp_opts(o, 3, &t));
	cr_assert_eq(t.wscale, 14);
	o[2] = 15;
	cr_assert(pkt_parse_tcp_opts(o, 3, &t));
	cr_assert_eq(t.wscale, 14);
	o[2] = 255;
	cr_assert(pkt_parse_tcp_opts(o, 3, &t));
	cr_assert_eq(t.wscale, 14);
	o[2] = 0;
	cr_assert(pkt_parse_tcp_opts(o, 3, &t));
	cr_assert_eq(t.wscale, 0);
}

Test(pkt_opts, empty_and_defaults)
{
	struct tcp_opts t;

	memset(&t, 0x5a, sizeof(t));
	cr_assert(pkt_parse_tcp_opts(NULL, 0, &t));
	cr_assert_eq(t.mss, 0);
	cr_assert_eq(t.wscale, -1);
	cr_assert_not(t.sack_ok);
	cr_assert_not(t.ts_present);
}

Test(pkt_opts, unknown_skipped_and_eol_stops)
{
	static const uint8_t o[] = {
		30, 6, 0xff, 0xff, 0xff, 0xff, /* unknown kind, skipped */
		1, 2, 4, 0x02, 0x18,           /* NOP, MSS 536 */
		0,                             /* EOL: the rest is ignored */
		2, 1, 0xff,
	};
	struct tcp_opts t;

	cr_assert(pkt_parse_tcp_opts(o, sizeof(o), &t));
	cr_assert_eq(t.mss, 536);
	cr_assert_eq(t.wscale, -1);
}

Test(pkt_opts, known_kind_with_wrong_length_ignored)
{
	/* MSS len 3, WS len 4, then a proper MSS 512 */
	static const uint8_t o[] = { 2, 3, 0x05, 3, 4, 1, 2, 2, 4, 0x02, 0x00 };
	struct tcp_opts t;

	cr_assert(pkt_parse_tcp_opts(o, sizeof(o), &t));
	cr_assert_eq(t.mss, 512); /* only the well-formed MSS counts */
	cr_assert_eq(t.wscale, -1);
	cr_assert_not(t.sack_ok);
}

Test(pkt_opts, malformed)
{
	static const uint8_t a[] = { 2, 1, 0, 0 };
	static const uint8_t b[] = { 1, 1, 8, 10, 0, 0, 0, 0 };
	static const uint8_t c[] = { 1, 1, 1, 3 };
	static const uint8_t d[] = { 5, 0 };
	struct tcp_opts t;

	cr_assert_not(pkt_parse_tcp_opts(a, sizeof(a), &t));
	cr_assert_not(pkt_parse_tcp_opts(b, sizeof(b), &t));
	cr_assert_not(pkt_parse_tcp_opts(c, sizeof(c), &t));
	cr_assert_not(pkt_parse_tcp_opts(d, sizeof(d), &t));
	/* an unknown option whose length exactly reaches the end is fine */
	cr_assert(pkt_parse_tcp_opts((const uint8_t[]){ 1, 9, 3, 0 }, 4, &t));
	cr_assert_not(pkt_parse_tcp_opts((const uint8_t[]){ 1, 9, 4, 0 }, 4, &t));
}

/* ---------------------------------------------------------------- write */

static struct tcp_hdr_spec spec_base(void)
{
	struct tcp_hdr_spec s = {
		.src_mac = MAC_A, .dst_mac = MAC_B,
		.saddr = htonl(IP_A), .daddr = htonl(IP_B),
		.sport = 40000, .dport = 443,
		.seq = 0xfffffff0u, .ack = 0x80000001u,
		.wnd = 0x1234, .flags = TCPF_ACK, .ecn = 0, .ip_id = 0xbeef,
		.opt_mss = 0, .opt_wscale = -1, .opt_sack_ok = false,
	};
	return s;
}

/* write, then check with the reference checksum and the parser */
static void roundtrip(const struct tcp_hdr_spec *s, const void *pl, uint32_t plen,
		      struct pkt_tcp *t)
{
	uint8_t f[2048];
	size_t hl = pkt_tcp_hdr_len(s);
	uint8_t *ip = f + 14;

	memset(f, 0xcc, sizeof(f));
	cr_assert_leq(hl, PKT_TCP_HDRS_MAX);
	if (plen)
		memcpy(f + hl, pl, plen);
	pkt_write_tcp(f, s, plen);

	cr_assert_eq(be16(f + 12), 0x0800);
	cr_assert_eq(ip[0], 0x45);
	cr_assert_eq(ip[1], s->ecn & 3);
	cr_assert_eq(be16(ip + 2), hl - 14 + plen);
	cr_assert_eq(be16(ip + 4), s->ip_id);
	cr_assert_eq(be16(ip + 6), 0x4000, "DF only");
	cr_assert_eq(ip[8], 64);
	cr_assert_eq(ref_csum(ip, 20), 0, "IP checksum");
	cr_assert_eq(ref_tcp_csum(ip, ip + 20, hl - 34 + plen), 0, "TCP checksum");
	cr_assert_eq((f[46] >> 4) * 4u, hl - 34, "data offset");

	cr_assert_eq(pkt_parse_tcp(f, hl + plen, true, t), PKT_OK);
	cr_assert(memcmp(t->src_mac, s->src_mac, 6) == 0);
	cr_assert(memcmp(t->dst_mac, s->dst_mac, 6) == 0);
	cr_assert_eq(t->saddr, s->saddr);
	cr_assert_eq(t->daddr, s->daddr);
	cr_assert_eq(t->sport, s->sport);
	cr_assert_eq(t->dport, s->dport);
	cr_assert_eq(t->seq, s->seq);
	cr_assert_eq(t->ack, s->ack);
	cr_assert_eq(t->wnd, s->wnd);
	cr_assert_eq(t->flags, s->flags);
	cr_assert_eq(t->ecn, s->ecn & 3);
	cr_assert_eq(t->payload_len, plen);
	cr_assert_eq(t->payload, f + hl);
	cr_assert(plen == 0 || memcmp(t->payload, pl, plen) == 0);
}

Test(pkt_write, hdr_len)
{
	struct tcp_hdr_spec s = spec_base();

	cr_assert_eq(pkt_tcp_hdr_len(&s), 54);
	s.opt_mss = 1460;
	cr_assert_eq(pkt_tcp_hdr_len(&s), 58);
	s.opt_wscale = 0; /* shift 0 is still an option: it enables scaling */
	cr_assert_eq(pkt_tcp_hdr_len(&s), 62);
	s.opt_sack_ok = true;
	cr_assert_eq(pkt_tcp_hdr_len(&s), 66);
	s.opt_mss = 0;
	cr_assert_eq(pkt_tcp_hdr_len(&s), 62);
	struct tcp_hdr_spec a = spec_base();
	a.sack_n = TCP_SACK_SEND;
	cr_assert_eq(pkt_tcp_hdr_len(&a), 54 + 4 + 8 * TCP_SACK_SEND);
	cr_assert_eq(pkt_tcp_hdr_len(&a), PKT_TCP_HDRS_MAX);
}

/* SACK blocks written into an ACK come back out of the parser unchanged */
Test(pkt_write, sack_blocks_round_trip)
{
	uint8_t buf[256];
	for (uint8_t n = 1; n <= TCP_SACK_SEND; n++) {
		struct tcp_hdr_spec s = spec_base();
		s.sack_n = n;
		for (uint8_t b = 0; b < n; b++) {
			s.sack[b][0] = 0xfffff000u + 3000u * b; /* crosses the wrap */
			s.sack[b][1] = s.sack[b][0] + 1448;
		}
		size_t len = pkt_tcp_hdr_len(&s);
		memset(buf, 0, sizeof(buf));
		pkt_write_tcp(buf, &s, 0);
		struct pkt_tcp p;
		cr_assert_eq(pkt_parse_tcp(buf, len < 60 ? 60 : len, true, &p), PKT_OK);
		cr_assert_eq(p.opts.sack_n, n);
		for (uint8_t b = 0; b < n; b++) {
			cr_assert_eq(p.opts.sack[b][0], s.sack[b][0]);
			cr_assert_eq(p.opts.sack[b][1], s.sack[b][1]);
		}
	}
}

/* a SACK option whose length is not 2 + 8k carries no blocks */
Test(pkt_parse, sack_bad_length_ignored)
{
	const uint8_t opt[] = { 5, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0 }; /* then NOP NOP EOL */
	struct tcp_opts o;
	cr_assert(pkt_parse_tcp_opts(opt, sizeof(opt), &o));
	cr_assert_eq(o.sack_n, 0);
	const uint8_t four[] = { 5, 34, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
				 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8 };
	cr_assert(pkt_parse_tcp_opts(four, sizeof(four), &o));
	cr_assert_eq(o.sack_n, 4);
	cr_assert_eq(o.sack[3][1], 8);
}

Test(pkt_write, bare_ack_roundtrip)
{
	struct tcp_hdr_spec s = spec_base();
	struct pkt_tcp t;

	roundtrip(&s, NULL, 0, &t);
	cr_assert_eq(t.opts.mss, 0);
	cr_assert_eq(t.opts.wscale, -1);
	cr_assert_not(t.opts.sack_ok);
}

Test(pkt_write, payload_roundtrip_odd_and_even)
{
	struct tcp_hdr_spec s = spec_base();
	struct pkt_tcp t;
	uint8_t pl[1461];
	uint32_t n;

	for (n = 0; n < sizeof(pl); n++)
		pl[n] = (uint8_t)(n * 7 + 3);
	s.flags = TCPF_ACK | TCPF_PSH;
	s.ecn = 1;
	roundtrip(&s, pl, 1, &t);
	roundtrip(&s, pl, 2, &t);
	roundtrip(&s, pl, 1460, &t);
	roundtrip(&s, pl, 1461, &t);
}

Test(pkt_write, syn_options_roundtrip)
{
	struct tcp_hdr_spec s = spec_base();
	struct pkt_tcp t;

	s.flags = TCPF_SYN | TCPF_ECE | TCPF_CWR;
	s.opt_mss = 8960;
	s.opt_wscale = 9;
	s.opt_sack_ok = true;
	roundtrip(&s, NULL, 0, &t);
	cr_assert_eq(t.opts.mss, 8960);
	cr_assert_eq(t.opts.wscale, 9);
	cr_assert(t.opts.sack_ok);
	cr_assert_not(t.opts.ts_present);

	/* each option alone, with a payload after the options */
	s = spec_base();
	s.opt_wscale = 14;
	roundtrip(&s, "abc", 3, &t);
	cr_assert_eq(t.opts.wscale, 14);
	cr_assert_eq(t.opts.mss, 0);

	s = spec_base();
	s.opt_sack_ok = true;
	roundtrip(&s, "abcd", 4, &t);
	cr_assert(t.opts.sack_ok);
	cr_assert_eq(t.opts.wscale, -1);
}

Test(pkt_write, wscale_written_capped)
{
	struct tcp_hdr_spec s = spec_base();
	struct pkt_tcp t;

	s.flags = TCPF_SYN;
	s.opt_wscale = 20;
	roundtrip(&s, NULL, 0, &t);
	cr_assert_eq(t.opts.wscale, 14);
}

/* ------------------------------------------------------------- checksum */

static uint32_t rng_state = 0x2545f491u;

static uint32_t rnd(void)
{
	/* xorshift32: deterministic so failures reproduce */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

Test(pkt_csum, matches_rfc1071_random)
{
	static uint8_t buf[9100];
	size_t i, off, len;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	for (off = 0; off < 8; off++) {
		for (len = 0; len <= 300; len++) {
			uint16_t got = csum_fold(csum_partial(buf + off, len, 0));

			cr_assert_eq(ntohs(got), ref_csum(buf + off, len),
				     "off %zu len %zu", off, len);
		}
	}
	for (i = 0; i < 2000; i++) {
		off = rnd() % 64;
		len = rnd() % (sizeof(buf) - 64);
		cr_assert_eq(ntohs(csum_fold(csum_partial(buf + off, len, 0))),
			     ref_csum(buf + off, len), "off %zu len %zu", off, len);
	}
}

Test(pkt_csum, extreme_patterns)
{
	static uint8_t buf[4096];
	size_t len;

	/* all 0xff maximises carries through every accumulator */
	memset(buf, 0xff, sizeof(buf));
	for (len = 0; len <= sizeof(buf); len += 97)
		cr_assert_eq(ntohs(csum_fold(csum_partial(buf, len, 0))), ref_csum(buf, len));
	cr_assert_eq(ntohs(csum_fold(csum_partial(buf, sizeof(buf), 0))),
		     ref_csum(buf, sizeof(buf)));
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(csum_fold(csum_partial(buf, sizeof(buf), 0)), 0xffff);
	cr_assert_eq(csum_fold(0), 0xffff);
	cr_assert_eq(csum_fold(0xffffffffu), 0x0000);
}

Test(pkt_csum, chained_partial_sums)
{
	static uint8_t buf[1500];
	size_t i, split;
	uint32_t s0;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	/* any even split, including splits at odd addresses, chains exactly */
	for (split = 0; split <= 200; split += 2) {
		uint32_t s = csum_partial(buf + 1, split, 0);

		s = csum_partial(buf + 1 + split, 1001 - split, s);
		cr_assert_eq(ntohs(csum_fold(s)), ref_csum(buf + 1, 1001), "split %zu", split);
	}
	/*
	 * A huge incoming sum must not lose its carries: 0xffff0000 is a
	 * multiple of 0xffff, i.e. ones-complement zero, so it must not change
	 * the result however close to overflow it pushes the accumulator.
	 */
	cr_assert_eq(csum_fold(csum_partial(buf, 0, 0xffffffffu)), 0);
	s0 = csum_partial(buf, 64, 0);
	s0 = (s0 & 0xffff) + (s0 >> 16);
	s0 = (s0 & 0xffff) + (s0 >> 16);
	s0 += 0xffff0000u;
	cr_assert_eq(ntohs(csum_fold(csum_partial(buf + 64, 64, s0))), ref_csum(buf, 128));
}

Test(pkt_csum, tcp_pseudo_header)
{
	uint8_t f[1600];
	size_t i, len;

	for (i = 0; i < 300; i++) {
		uint8_t pl[257];
		size_t plen = rnd() % sizeof(pl);
		uint8_t *ip = IPH(f);
		uint32_t sa, da;
		uint16_t want, got;

		for (len = 0; len < plen; len++)
			pl[len] = (uint8_t)rnd();
		len = mk_tcp(f, NULL, 0, NULL, 0, pl, plen);
		put32(ip + 12, rnd());
		put32(ip + 16, rnd());
		put16(TCPH(f) + 16, 0);
		want = ref_tcp_csum(ip, TCPH(f), len - 34);
		memcpy(&sa, ip + 12, 4);
		memcpy(&da, ip + 16, 4);
		got = tcp_csum(sa, da, TCPH(f), len - 34);
		cr_assert_eq(ntohs(got), want, "iteration %zu", i);
	}
}

/* ------------------------------------------ checksums the port finishes */

/* what a NIC does with a frame of RTE_MBUF_F_TX_IP_CKSUM | TCP_CKSUM: the
 * IP checksum from scratch, the TCP one summed over the segment starting
 * from what the field holds, plus the segment's length if @add_len */
static void port_finishes(uint8_t *frame, size_t tcp_len, bool add_len)
{
	uint8_t *ip = frame + 14, *tcp = ip + 20;
	put16(ip + 10, 0);
	put16(ip + 10, ref_csum(ip, 20));
	uint16_t sum = ref_sum(tcp, tcp_len, add_len ? (uint32_t)tcp_len : 0);
	put16(tcp + 16, (uint16_t)~sum);
}

/* with PKT_CSUM_HW the frame the port finishes equals the one computed in software */
Test(pkt_write, hw_checksum_as_the_port_finishes_it)
{
	uint8_t pl[1001], sw[1200], hw[1200];
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 7 + 3);
	struct tcp_hdr_spec s = spec_base();
	s.flags = TCPF_ACK | TCPF_PSH;
	size_t hl = pkt_tcp_hdr_len(&s);
	memcpy(sw + hl, pl, sizeof(pl));
	memcpy(hw + hl, pl, sizeof(pl));
	pkt_write_tcp(sw, &s, sizeof(pl));
	s.csum = PKT_CSUM_HW;
	pkt_write_tcp(hw, &s, sizeof(pl));
	cr_assert_eq(be16(hw + 24), 0, "IP checksum left to the port");
	cr_assert(memcmp(sw, hw, hl + sizeof(pl)), "the TCP field holds the pseudo-header sum");
	port_finishes(hw, hl - 34 + sizeof(pl), false);
	cr_assert(memcmp(sw, hw, hl + sizeof(pl)) == 0);
	struct pkt_tcp t;
	cr_assert_eq(pkt_parse_tcp(hw, hl + sizeof(pl), true, &t), PKT_OK);
}

/* a TSO frame cut into MSS segments as a NIC does it: each segment has
 * valid checksums and carries its part of the payload */
Test(pkt_write, tso_frame_segments_as_the_port_cuts_them)
{
	enum { MSS = 1000, PLEN = 3 * MSS + 500 };
	static uint8_t frame[54 + PLEN], seg[54 + MSS];
	struct tcp_hdr_spec s = spec_base();
	s.flags = TCPF_ACK | TCPF_PSH;
	s.csum = PKT_CSUM_HW_TSO;
	for (size_t i = 0; i < PLEN; i++)
		frame[54 + i] = (uint8_t)(i * 13 + 1);
	pkt_write_tcp(frame, &s, PLEN);
	cr_assert_eq(pkt_tcp_hdr_len(&s), 54);
	for (uint32_t k = 0, off = 0; off < PLEN; k++, off += MSS) {
		uint32_t n = PLEN - off < MSS ? PLEN - off : MSS;
		bool last = off + n == PLEN;
		memcpy(seg, frame, 54);
		memcpy(seg + 54, frame + 54 + off, n);
		put16(seg + 16, (uint16_t)(40 + n));
		put16(seg + 18, (uint16_t)(s.ip_id + k));
		put32(seg + 38, s.seq + off);
		if (!last)
			seg[47] &= (uint8_t)~(TCPF_PSH | TCPF_FIN);
		port_finishes(seg, 20 + n, true);
		struct pkt_tcp t;
		cr_assert_eq(pkt_parse_tcp(seg, 54 + n, true, &t), PKT_OK, "segment %u", k);
		cr_assert_eq(t.seq, s.seq + off);
		cr_assert_eq(t.payload_len, n);
		cr_assert(memcmp(t.payload, frame + 54 + off, n) == 0);
		cr_assert_eq(!!(t.flags & TCPF_PSH), last);
	}
}
