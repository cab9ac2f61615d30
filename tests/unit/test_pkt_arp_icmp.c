// SPDX-License-Identifier: MIT
/*
 * test_pkt_arp_icmp.c - ARP parse/build, ICMP echo replies and the ICMP
 * error parser (path MTU discovery, failed connects).
 *
 * Requests are handcrafted byte by byte with a reference RFC 1071
 * checksum so the code under test never validates its own output.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <string.h>

#include "pkt.h"

static const uint8_t MY_MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
static const uint8_t PEER_MAC[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static uint16_t ref_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
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

/* ------------------------------------------------------------------ ARP */

Test(arp, request_roundtrip)
{
	uint8_t f[128];
	struct pkt_arp a;
	uint32_t me = htonl(0x0a000001), peer = htonl(0x0a000002);
	size_t i, n;

	memset(f, 0xee, sizeof(f));
	n = pkt_arp_write(f, PKT_ARP_REQUEST, MY_MAC, me, NULL, peer);
	cr_assert_eq(n, 60);
	cr_assert(memcmp(f, BCAST, 6) == 0, "requests are broadcast");
	cr_assert(memcmp(f + 6, MY_MAC, 6) == 0);
	cr_assert_eq(be16(f + 12), 0x0806);
	for (i = 42; i < 60; i++)
		cr_assert_eq(f[i], 0, "padding byte %zu not zeroed", i);
	cr_assert_eq(f[60], 0xee, "wrote past the frame");

	cr_assert(pkt_arp_parse(f, n, &a));
	cr_assert_eq(a.op, PKT_ARP_REQUEST);
	cr_assert(memcmp(a.sha, MY_MAC, 6) == 0);
	cr_assert_eq(a.spa, me);
	cr_assert_eq(a.tpa, peer);
	for (i = 0; i < 6; i++)
		cr_assert_eq(a.tha[i], 0);
	/* the 28-byte ARP body is all that is needed; padding is optional */
	cr_assert(pkt_arp_parse(f, 42, &a));
}

Test(arp, reply_roundtrip)
{
	uint8_t f[60];
	struct pkt_arp a;
	uint32_t me = htonl(0xc0a80101), peer = htonl(0xc0a80164);

	cr_assert_eq(pkt_arp_write(f, PKT_ARP_REPLY, MY_MAC, me, PEER_MAC, peer), 60);
	cr_assert(memcmp(f, PEER_MAC, 6) == 0, "replies are unicast");
	cr_assert(pkt_arp_parse(f, 60, &a));
	cr_assert_eq(a.op, PKT_ARP_REPLY);
	cr_assert(memcmp(a.sha, MY_MAC, 6) == 0);
	cr_assert(memcmp(a.tha, PEER_MAC, 6) == 0);
	cr_assert_eq(a.spa, me);
	cr_assert_eq(a.tpa, peer);
}

Test(arp, request_with_known_target_still_broadcast)
{
	uint8_t f[60];
	struct pkt_arp a;

	pkt_arp_write(f, PKT_ARP_REQUEST, MY_MAC, 1, PEER_MAC, 2);
	cr_assert(memcmp(f, BCAST, 6) == 0);
	cr_assert(pkt_arp_parse(f, 60, &a));
	cr_assert(memcmp(a.tha, PEER_MAC, 6) == 0);
}

Test(arp, parse_rejects)
{
	uint8_t f[60], g[60];
	struct pkt_arp a;

	pkt_arp_write(f, PKT_ARP_REQUEST, MY_MAC, 1, NULL, 2);
	cr_assert_not(pkt_arp_parse(f, 41, &a), "truncated");
	cr_assert_not(pkt_arp_parse(f, 0, &a));

	memcpy(g, f, 60);
	put16(g + 12, 0x0800);
	cr_assert_not(pkt_arp_parse(g, 60, &a), "ethertype");
	memcpy(g, f, 60);
	put16(g + 14, 6); /* IEEE 802 hardware type */
	cr_assert_not(pkt_arp_parse(g, 60, &a), "htype");
	memcpy(g, f, 60);
	put16(g + 16, 0x86dd);
	cr_assert_not(pkt_arp_parse(g, 60, &a), "ptype");
	memcpy(g, f, 60);
	g[18] = 8;
	cr_assert_not(pkt_arp_parse(g, 60, &a), "hlen");
	memcpy(g, f, 60);
	g[19] = 16;
	cr_assert_not(pkt_arp_parse(g, 60, &a), "plen");
}

/* ----------------------------------------------------------------- ICMP */

/*
 * An echo request from PEER (10.0.0.9) to us (10.0.0.1): ident 0x4242,
 * seq 7, @dlen data bytes, @ipopt bytes of IP options (multiple of 4).
 */
static size_t mk_echo(uint8_t *f, size_t dlen, size_t ipopt)
{
	uint8_t *ip = f + 14;
	size_t ihl = 20 + ipopt;
	uint8_t *icmp = ip + ihl;
	size_t i;

	memcpy(f, MY_MAC, 6);
	memcpy(f + 6, PEER_MAC, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, ihl);
	ip[0] = 0x40 | (uint8_t)(ihl / 4);
	put16(ip + 2, (uint16_t)(ihl + 8 + dlen));
	put16(ip + 4, 0x7777);
	put16(ip + 6, 0x4000);
	ip[8] = 55;
	ip[9] = PKT_PROTO_ICMP;
	ip[12] = 10, ip[15] = 9;
	ip[16] = 10, ip[19] = 1;
	for (i = 20; i < ihl; i++)
		ip[i] = 1; /* NOP options */
	put16(ip + 10, ref_csum(ip, ihl));
	icmp[0] = 8;
	icmp[1] = 0;
	icmp[2] = icmp[3] = 0;
	put16(icmp + 4, 0x4242);
	put16(icmp + 6, 7);
	for (i = 0; i < dlen; i++)
		icmp[8 + i] = (uint8_t)(i * 13 + 1);
	put16(icmp + 2, ref_csum(icmp, 8 + dlen));
	return 14 + ihl + 8 + dlen;
}

static void check_reply(const uint8_t *r, size_t rlen, size_t dlen)
{
	const uint8_t *ip = r + 14, *icmp = r + 34;
	size_t i;

	cr_assert_eq(rlen, 14 + 20 + 8 + dlen);
	cr_assert(memcmp(r, PEER_MAC, 6) == 0, "dst mac");
	cr_assert(memcmp(r + 6, MY_MAC, 6) == 0, "src mac");
	cr_assert_eq(be16(r + 12), 0x0800);
	cr_assert_eq(ip[0], 0x45);
	cr_assert_eq(be16(ip + 2), 20 + 8 + dlen);
	cr_assert_eq(ip[9], PKT_PROTO_ICMP);
	cr_assert_eq(ip[8], 64);
	cr_assert(ip[12] == 10 && ip[15] == 1, "src ip is ours");
	cr_assert(ip[16] == 10 && ip[19] == 9, "dst ip is the peer");
	cr_assert_eq(ref_csum(ip, 20), 0, "IP checksum");
	cr_assert_eq(icmp[0], 0, "echo reply");
	cr_assert_eq(icmp[1], 0);
	cr_assert_eq(be16(icmp + 4), 0x4242);
	cr_assert_eq(be16(icmp + 6), 7);
	for (i = 0; i < dlen; i++)
		cr_assert_eq(icmp[8 + i], (uint8_t)(i * 13 + 1), "data byte %zu", i);
	cr_assert_eq(ref_csum(icmp, 8 + dlen), 0, "ICMP checksum");
}

Test(icmp, echo_reply)
{
	uint8_t req[256], rep[256];
	size_t n = mk_echo(req, 56, 0);

	check_reply(rep, pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 56);
}

Test(icmp, odd_data_length_and_empty)
{
	uint8_t req[256], rep[256];
	size_t n;

	n = mk_echo(req, 33, 0);
	check_reply(rep, pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 33);
	n = mk_echo(req, 0, 0);
	check_reply(rep, pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 0);
}

Test(icmp, in_place_with_ip_options)
{
	uint8_t f[256];
	size_t n = mk_echo(f, 21, 8);

	check_reply(f, pkt_icmp_echo_reply(f, sizeof(f), f, n, MY_MAC), 21);
}

Test(icmp, ethernet_padding_not_echoed)
{
	uint8_t req[64], rep[64];
	size_t n = mk_echo(req, 4, 0);

	memset(req + n, 0x99, 60 - n);
	check_reply(rep, pkt_icmp_echo_reply(rep, sizeof(rep), req, 60, MY_MAC), 4);
}

Test(icmp, invalid_requests_give_zero)
{
	uint8_t req[256], rep[256];
	size_t n;

	n = mk_echo(req, 16, 0);
	req[14 + 20 + 10] ^= 1; /* data corrupted: ICMP checksum wrong */
	cr_assert_eq(pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 0);

	n = mk_echo(req, 16, 0);
	req[14 + 8] = 1; /* TTL changed: IP checksum wrong */
	cr_assert_eq(pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 0);

	n = mk_echo(req, 16, 0);
	cr_assert_eq(pkt_icmp_echo_reply(rep, sizeof(rep), req, n - 1, MY_MAC), 0,
		     "truncated");
	cr_assert_eq(pkt_icmp_echo_reply(rep, sizeof(rep), req, 20, MY_MAC), 0);
	cr_assert_eq(pkt_icmp_echo_reply(rep, n - 1, req, n, MY_MAC), 0, "no room");
	cr_assert_eq(pkt_icmp_echo_reply(rep, n, req, n, MY_MAC), n, "exact room");
}

Test(icmp, not_an_echo_request)
{
	uint8_t req[256], rep[256];
	uint8_t *icmp = req + 34;
	size_t n;

	/* an echo reply must not be answered (reply storms between hosts) */
	n = mk_echo(req, 8, 0);
	icmp[0] = 0;
	put16(icmp + 2, 0);
	put16(icmp + 2, ref_csum(icmp, 16));
	cr_assert_eq(pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 0);

	n = mk_echo(req, 8, 0);
	icmp[1] = 1; /* unknown code */
	put16(icmp + 2, 0);
	put16(icmp + 2, ref_csum(icmp, 16));
	cr_assert_eq(pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 0);

	n = mk_echo(req, 8, 0);
	req[14 + 9] = PKT_PROTO_TCP;
	put16(req + 24, 0);
	put16(req + 24, ref_csum(req + 14, 20));
	cr_assert_eq(pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 0);
}

Test(icmp, fragments_and_bad_headers)
{
	uint8_t req[256], rep[256];
	size_t n;

	n = mk_echo(req, 8, 0);
	put16(req + 20, 0x2000); /* MF */
	put16(req + 24, 0);
	put16(req + 24, ref_csum(req + 14, 20));
	cr_assert_eq(pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 0);

	n = mk_echo(req, 8, 0);
	req[14] = 0x44; /* IHL 4 */
	cr_assert_eq(pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 0);

	n = mk_echo(req, 8, 0);
	put16(req + 16, 20 + 7); /* total length shorter than the ICMP header */
	put16(req + 24, 0);
	put16(req + 24, ref_csum(req + 14, 20));
	cr_assert_eq(pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 0);

	n = mk_echo(req, 8, 0);
	put16(req + 12, 0x8100); /* VLAN */
	cr_assert_eq(pkt_icmp_echo_reply(rep, sizeof(rep), req, n, MY_MAC), 0);
}

/* -------- destination unreachable, time exceeded, parameter problem */

/*
 * A router (10.0.0.254) tells us (10.0.0.1) that our 1500-byte segment
 * from port 40000 to 10.0.5.5:80, seq 0x01020304, needs an MTU of @mtu.
 * @quote: TCP bytes quoted after the inner IP header (RFC 792: 8).
 */
static size_t mk_too_big(uint8_t *f, uint16_t mtu, size_t quote)
{
	uint8_t *ip = f + 14, *icmp = ip + 20, *q = icmp + 8, *t = q + 20;

	memset(f, 0, 14 + 20 + 8 + 20 + quote);
	memcpy(f, MY_MAC, 6);
	memcpy(f + 6, PEER_MAC, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + 20 + quote));
	ip[8] = 64;
	ip[9] = PKT_PROTO_ICMP;
	ip[12] = 10, ip[15] = 254;
	ip[16] = 10, ip[19] = 1;
	put16(ip + 10, ref_csum(ip, 20));
	icmp[0] = 3;
	icmp[1] = 4;
	put16(icmp + 6, mtu);
	q[0] = 0x45;
	put16(q + 2, 1500);
	put16(q + 6, 0x4000); /* DF */
	q[8] = 63;
	q[9] = PKT_PROTO_TCP;
	q[12] = 10, q[15] = 1;
	q[16] = 10, q[17] = 0, q[18] = 5, q[19] = 5;
	put16(t, 40000);
	put16(t + 2, 80);
	t[4] = 1, t[5] = 2, t[6] = 3, t[7] = 4;
	put16(icmp + 2, ref_csum(icmp, 8 + 20 + quote));
	return 14 + 20 + 8 + 20 + quote;
}

static uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint8_t v[4] = { a, b, c, d };
	uint32_t r;
	memcpy(&r, v, 4);
	return r;
}

Test(icmp_errors, parses_what_a_router_sends)
{
	uint8_t f[128];
	struct pkt_icmp_err tb;
	size_t n = mk_too_big(f, 1280, 8);

	cr_assert(pkt_icmp_err_parse(f, n, ip4(10, 0, 0, 1), &tb));
	cr_assert_eq(tb.from, ip4(10, 0, 0, 254));
	cr_assert_eq(tb.raddr, ip4(10, 0, 5, 5));
	cr_assert_eq(tb.lport, 40000);
	cr_assert_eq(tb.rport, 80);
	cr_assert_eq(tb.seq, 0x01020304u);
	cr_assert_eq(tb.code, PKT_ICMP_FRAG_NEEDED);
	cr_assert_eq(tb.mtu, 1280);
	cr_assert_eq(tb.quoted_len, 1500);
	/* Linux routers quote more than 8 bytes; Ethernet pads short frames */
	n = mk_too_big(f, 1280, 40);
	cr_assert(pkt_icmp_err_parse(f, n + 6, ip4(10, 0, 0, 1), &tb));
	cr_assert_eq(tb.seq, 0x01020304u);
	/* a firewall's port unreachable: its "MTU" bytes are unused, not an MTU */
	f[14 + 20 + 1] = PKT_ICMP_PORT_UNREACH;
	put16(f + 14 + 20 + 2, 0);
	put16(f + 14 + 20 + 2, ref_csum(f + 14 + 20, 8 + 20 + 40));
	cr_assert(pkt_icmp_err_parse(f, n, ip4(10, 0, 0, 1), &tb));
	cr_assert_eq(tb.code, PKT_ICMP_PORT_UNREACH);
	cr_assert_eq(tb.mtu, 0);
	cr_assert_eq(tb.lport, 40000);
}

/* time exceeded and parameter problem, any code, as Linux's tcp_v4_err()
 * takes them; their header's last 4 bytes are never an MTU */
static void retype(uint8_t *f, size_t n, uint8_t type, uint8_t code)
{
	uint8_t *icmp = f + 14 + 20;

	icmp[0] = type;
	icmp[1] = code;
	put16(icmp + 2, 0);
	put16(icmp + 2, ref_csum(icmp, n - 14 - 20));
}

Test(icmp_errors, time_exceeded_and_parameter_problem)
{
	static const uint8_t types[] = { PKT_ICMP_TIME_EXCEEDED, PKT_ICMP_PARAM_PROBLEM };
	uint8_t f[128];
	struct pkt_icmp_err tb;

	for (size_t i = 0; i < 2; i++) {
		for (unsigned code = 0; code < 256; code += 51) {
			size_t n = mk_too_big(f, 1280, 8);
			retype(f, n, types[i], (uint8_t)code);
			cr_assert(pkt_icmp_err_parse(f, n, ip4(10, 0, 0, 1), &tb),
				  "type %u code %u", types[i], code);
			cr_assert_eq(tb.type, types[i]);
			cr_assert_eq(tb.code, code);
			cr_assert_eq(tb.mtu, 0, "type %u: an MTU", types[i]);
			cr_assert_not(pkt_icmp_frag_needed(&tb));
			cr_assert_eq(tb.seq, 0x01020304u);
			cr_assert_eq(tb.lport, 40000);
		}
	}
	size_t n = mk_too_big(f, 1280, 8);
	cr_assert(pkt_icmp_err_parse(f, n, ip4(10, 0, 0, 1), &tb));
	cr_assert_eq(tb.type, PKT_ICMP_DEST_UNREACH);
	cr_assert(pkt_icmp_frag_needed(&tb));
	retype(f, n, PKT_ICMP_TIME_EXCEEDED, PKT_ICMP_FRAG_NEEDED);
	cr_assert(pkt_icmp_err_parse(f, n, ip4(10, 0, 0, 1), &tb));
	cr_assert_not(pkt_icmp_frag_needed(&tb), "time exceeded with code 4 is no MTU");
	cr_assert_eq(tb.mtu, 0);
}

Test(icmp_errors, refuses_what_is_not_about_our_tcp)
{
	uint8_t f[128], g[128];
	struct pkt_icmp_err tb;
	size_t n = mk_too_big(f, 1280, 8);
	uint32_t us = ip4(10, 0, 0, 1);
	uint8_t *icmp = g + 34, *q = icmp + 8;

	cr_assert_not(pkt_icmp_err_parse(f, n, ip4(10, 0, 0, 2), &tb), "not from us");
	cr_assert_not(pkt_icmp_err_parse(f, n - 1, us, &tb), "truncated");
	memcpy(g, f, n);
	/* source quench, redirect, echo reply, echo request, timestamp: not
	 * errors TCP takes (Linux ignores quench, handles redirects apart) */
	static const uint8_t others[] = { 4, 5, 0, 8, 13 };
	for (size_t i = 0; i < sizeof(others); i++) {
		memcpy(g, f, n);
		icmp[0] = others[i];
		icmp[1] = 0;
		put16(icmp + 2, 0);
		put16(icmp + 2, ref_csum(icmp, 36));
		cr_assert_not(pkt_icmp_err_parse(g, n, us, &tb), "type %u", others[i]);
	}
	memcpy(g, f, n);
	icmp[1] = 16; /* no such code */
	put16(icmp + 2, 0);
	put16(icmp + 2, ref_csum(icmp, 36));
	cr_assert_not(pkt_icmp_err_parse(g, n, us, &tb), "other code");
	memcpy(g, f, n);
	icmp[7] ^= 1;
	cr_assert_not(pkt_icmp_err_parse(g, n, us, &tb), "bad checksum");
	memcpy(g, f, n);
	q[9] = 17;
	put16(icmp + 2, 0);
	put16(icmp + 2, ref_csum(icmp, 36));
	cr_assert_not(pkt_icmp_err_parse(g, n, us, &tb), "quotes UDP");
	memcpy(g, f, n);
	put16(q + 6, 0x2010); /* a later fragment: no TCP header in it */
	put16(icmp + 2, 0);
	put16(icmp + 2, ref_csum(icmp, 36));
	cr_assert_not(pkt_icmp_err_parse(g, n, us, &tb), "quotes a fragment");
	memcpy(g, f, n);
	q[0] = 0x46; /* claims options it does not quote: no room for the ports */
	put16(icmp + 2, 0);
	put16(icmp + 2, ref_csum(icmp, 36));
	cr_assert_not(pkt_icmp_err_parse(g, n, us, &tb), "quoted header too long");
	n = mk_too_big(g, 1280, 4);
	cr_assert_not(pkt_icmp_err_parse(g, n, us, &tb), "quotes 4 TCP bytes");
	n = mk_too_big(g, 1280, 8);
	put16(g + 14 + 6, 0x2000); /* the ICMP itself fragmented */
	put16(g + 14 + 10, 0);
	put16(g + 14 + 10, ref_csum(g + 14, 20));
	cr_assert_not(pkt_icmp_err_parse(g, n, us, &tb), "fragmented ICMP");
}

Test(icmp_errors, write_quotes_the_segment_for_parse)
{
	uint8_t seg[128], f[128];
	struct pkt_icmp_err tb;
	uint8_t frame[64];
	size_t n;

	/* our segment, as a frame: the quoted header of mk_too_big()'s */
	mk_too_big(seg, 1280, 8);
	memcpy(frame, MY_MAC, 6);
	memcpy(frame + 6, PEER_MAC, 6);
	put16(frame + 12, 0x0800);
	memcpy(frame + 14, seg + 14 + 20 + 8, 28);
	n = pkt_icmp_err_write(f, frame, 14 + 28, MY_MAC, ip4(10, 0, 0, 254),
			       PKT_ICMP_DEST_UNREACH, PKT_ICMP_FRAG_NEEDED, 1400);
	cr_assert_eq(n, 14 + 20 + 8 + 28);
	cr_assert_eq(ref_csum(f + 14, 20), 0, "IP checksum");
	cr_assert_eq(ref_csum(f + 34, 36), 0, "ICMP checksum");
	cr_assert(memcmp(f, PEER_MAC, 6) == 0, "back to the segment's sender");
	cr_assert(pkt_icmp_err_parse(f, n, ip4(10, 0, 0, 1), &tb));
	cr_assert_eq(tb.mtu, 1400);
	cr_assert_eq(tb.seq, 0x01020304u);
	cr_assert_eq(tb.lport, 40000);
	/* a time exceeded carries no MTU, whatever it is asked to write */
	n = pkt_icmp_err_write(f, frame, 14 + 28, MY_MAC, ip4(10, 0, 0, 254),
			       PKT_ICMP_TIME_EXCEEDED, 0, 1400);
	cr_assert_eq(ref_csum(f + 34, 36), 0, "ICMP checksum");
	cr_assert(pkt_icmp_err_parse(f, n, ip4(10, 0, 0, 1), &tb));
	cr_assert_eq(tb.type, PKT_ICMP_TIME_EXCEEDED);
	cr_assert_eq(tb.mtu, 0);
	cr_assert_eq(be16(f + 34 + 6), 0, "unused bytes are zero");
}
