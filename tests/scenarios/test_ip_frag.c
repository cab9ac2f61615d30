// SPDX-License-Identifier: MIT
/*
 * test_ip_frag.c - IP fragments addressed to us (fp_handle_ip_fragment(),
 * slowpath/frag.c): a segment that a narrow hop cut up reaches the app
 * whole, a ping larger than the MTU is answered in fragments as Linux
 * answers it, and what an attacker can do with fragments is bounded: an
 * overlap costs only its own datagram, fragments for another address are
 * not taken, and a flood reaches the slowpath at a core's rate only, its
 * datagrams pushing out the oldest held ones, never growing the table.
 * Before, every fragment was dropped.
 */
#include "harness.h"
#include "ip_reasm.h"

TestSuite(frag, .init = h_start, .fini = h_stop, .timeout = 30);

/* piece @k of the datagram in @frame (Ethernet + a 20-byte IP header +
 * data), @piece data bytes a piece, written to @out; Return: its length */
static size_t fragment_of(const uint8_t *frame, size_t piece, unsigned k, uint8_t *out)
{
	const uint8_t *ip = frame + PKT_ETH_LEN;
	size_t data = pkt_rd16(ip + 2) - PKT_IP_MIN, off = k * piece;
	cr_assert_lt(off, data);
	size_t n = data - off < piece ? data - off : piece;

	memcpy(out, frame, PKT_ETH_LEN + PKT_IP_MIN);
	memcpy(out + PKT_ETH_LEN + PKT_IP_MIN, ip + PKT_IP_MIN + off, n);
	uint8_t *fip = out + PKT_ETH_LEN;
	pkt_wr16(fip + 2, (uint16_t)(PKT_IP_MIN + n));
	pkt_wr16(fip + 6, (uint16_t)(off / 8) | (off + n < data ? PKT_IP_MF : 0));
	pkt_ip_csum_set(fip);
	size_t len = PKT_ETH_LEN + PKT_IP_MIN + n;
	if (len < 60) {
		memset(out + len, 0, 60 - len);
		len = 60;
	}
	return len;
}

/* inject the pieces of @frame in the order @order[0..n) */
static void inject_pieces(const uint8_t *frame, size_t piece, const unsigned *order, unsigned n)
{
	uint8_t f[2048];

	for (unsigned i = 0; i < n; i++)
		h_inject_raw(f, fragment_of(frame, piece, order[i], f));
}

#define DATA_LEN 1200
static uint8_t payload[DATA_LEN];

/* an accepted connection on @port; @seg becomes its peer's next data
 * segment (DATA_LEN bytes), built into @frame */
static int open_with_segment(uint16_t port, uint8_t *frame, size_t *len, struct seg *seg)
{
	uint32_t iss;
	int h = h_open_passive(port, 1000, 1460, &iss);

	for (unsigned i = 0; i < DATA_LEN; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	*seg = (struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = 1001, .ack = iss + 1,
			     .wnd = 65535, .data = payload, .len = DATA_LEN };
	*len = h_build(seg, frame, 2048);
	return h;
}

/* the app reads exactly @payload on @h, and our ACK covers it */
static void expect_delivered(int h)
{
	struct pkt_tcp p;

	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, 1001 + DATA_LEN, "the ACK covers %u (want %u)", p.ack, 1001 + DATA_LEN);
	uint8_t got[DATA_LEN + 1];
	size_t n = 0;
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz();
	while (n < DATA_LEN && rte_rdtsc() < end) {
		ssize_t r = bp_recv(H.app, h, got + n, sizeof(got) - n);
		if (r > 0)
			n += (size_t)r;
		else
			bp_wait(H.app, 5);
	}
	cr_assert_eq(n, DATA_LEN, "the app read %zu bytes", n);
	cr_assert_arr_eq(got, payload, DATA_LEN);
}

/* 1200 bytes of data and a 20-byte TCP header cut into 400-byte pieces
 * (the last 20), in a shuffled order */
Test(frag, a_segment_in_fragments_reaches_the_app)
{
	uint8_t frame[2048];
	size_t len;
	struct seg seg;
	int h = open_with_segment(9200, frame, &len, &seg);

	inject_pieces(frame, 400, (const unsigned[]){ 2, 0, 3, 1 }, 4);
	expect_delivered(h);
	cr_assert_eq(h_count(DPC_IP_FRAGS), 4);
	cr_assert_eq(h_count(DPC_IP_REASM_OK), 1);
	cr_assert_eq(h_count(DPC_IP_REASM_FAILED), 0);
}

/* a piece that overlaps what is held and goes beyond it (FragmentSmack's
 * shape) discards its datagram, as Linux does; the whole segment resent is
 * taken once */
Test(frag, an_overlapping_fragment_discards_its_datagram)
{
	uint8_t frame[2048], f[2048];
	size_t len;
	struct seg seg;
	int h = open_with_segment(9201, frame, &len, &seg);

	inject_pieces(frame, 400, (const unsigned[]){ 0, 1 }, 2);
	/* 200 bytes from offset 704: across the held pieces' end */
	size_t n = fragment_of(frame, 704, 1, f);
	pkt_wr16(f + PKT_ETH_LEN + 2, PKT_IP_MIN + 200);
	pkt_wr16(f + PKT_ETH_LEN + 6, 704 / 8 | PKT_IP_MF);
	pkt_ip_csum_set(f + PKT_ETH_LEN);
	h_inject_raw(f, n);
	inject_pieces(frame, 400, (const unsigned[]){ 2, 3 }, 2);
	WAIT_FOR(h_count(DPC_IP_REASM_FAILED) == 1, 1000); /* counted on the slowpath */
	expect_no_segment(200);
	cr_assert_eq(h_count(DPC_IP_REASM_OK), 0);
	cr_assert_eq(h_count(DPC_IP_REASM_FAILED), 1);

	h_inject(&seg);
	expect_delivered(h);
}

/* a 3000-byte ping: 3 pieces of at most our MTU come back, one ID, and
 * put together they are the echo of the request */
Test(frag, a_large_ping_is_answered_in_fragments)
{
	enum { DATA = 3000, ICMP_LEN = 8 + DATA, TOT = PKT_IP_MIN + ICMP_LEN };
	static uint8_t req[PKT_ETH_LEN + TOT], got[TOT];
	uint8_t *ip = req + PKT_ETH_LEN, *icmp = ip + PKT_IP_MIN;

	memcpy(req, H.our_mac, 6);
	memcpy(req + 6, H.peer_mac, 6);
	pkt_wr16(req + 12, PKT_ETHTYPE_IPV4);
	ip[0] = 0x45;
	pkt_wr16(ip + 2, TOT);
	pkt_wr16(ip + 4, 0x4242);
	ip[8] = 64;
	ip[9] = PKT_PROTO_ICMP;
	memcpy(ip + 12, &H.peer_ip, 4);
	memcpy(ip + 16, &H.our_ip, 4);
	icmp[0] = 8; /* echo request */
	pkt_wr16(icmp + 4, 0x1234);
	pkt_wr16(icmp + 6, 7);
	for (unsigned i = 0; i < DATA; i++)
		icmp[8 + i] = (uint8_t)(i * 13);
	uint16_t csum = csum_fold(csum_partial(icmp, ICMP_LEN, 0));
	memcpy(icmp + 2, &csum, 2);
	inject_pieces(req, 1480, (const unsigned[]){ 1, 2, 0 }, 3);

	size_t have = 0;
	int id = -1;
	for (unsigned k = 0; k < 3; k++) {
		uint8_t f[2048];
		int n = h_next_frame(f, 1000);
		cr_assert_gt(n, 0, "piece %u of the answer did not come", k);
		const uint8_t *fip = f + PKT_ETH_LEN;
		cr_assert_arr_eq(f, H.peer_mac, 6);
		cr_assert_eq(fip[9], PKT_PROTO_ICMP);
		cr_assert_eq(csum_fold(csum_partial(fip, PKT_IP_MIN, 0)), 0);
		cr_assert_leq(pkt_rd16(fip + 2), 1500, "a piece of %u bytes passes the MTU", pkt_rd16(fip + 2));
		if (id < 0)
			id = pkt_rd16(fip + 4);
		cr_assert_eq(pkt_rd16(fip + 4), id, "the pieces carry two IDs");
		size_t off = (size_t)(pkt_rd16(fip + 6) & PKT_IP_OFF_MASK) * 8, dn = pkt_rd16(fip + 2) - PKT_IP_MIN;
		cr_assert_leq(off + dn, ICMP_LEN);
		cr_assert_eq(!(pkt_rd16(fip + 6) & PKT_IP_MF), off + dn == ICMP_LEN, "MF on the wrong piece");
		memcpy(got + off, fip + PKT_IP_MIN, dn);
		have += dn;
	}
	cr_assert_eq(have, ICMP_LEN);
	cr_assert_eq(got[0], 0, "not an echo reply");
	cr_assert_eq(csum_fold(csum_partial(got, ICMP_LEN, 0)), 0, "the reply's checksum is wrong");
	cr_assert_arr_eq(got + 4, icmp + 4, ICMP_LEN - 4); /* identifier, sequence, data */
	/* counted after the last piece went out, so it can trail that piece */
	WAIT_FOR(h_count(DPC_ICMP_ECHO) == 1, 1000);
}

/* pieces of a datagram to another address, to a group MAC, or from a
 * source no host can have (our own address): never held */
Test(frag, fragments_not_for_us_are_not_taken)
{
	uint8_t frame[2048], bad[2048];
	size_t len;
	struct seg seg;
	open_with_segment(9202, frame, &len, &seg);
	uint32_t other;
	inet_pton(AF_INET, "198.18.0.99", &other);
	const uint8_t group_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

	for (unsigned v = 0; v < 3; v++) {
		memcpy(bad, frame, len);
		if (v == 0)
			memcpy(bad + PKT_ETH_LEN + 16, &other, 4);
		else if (v == 1)
			memcpy(bad, group_mac, 6);
		else
			memcpy(bad + PKT_ETH_LEN + 12, &H.our_ip, 4);
		uint64_t dropped = h_count(DPC_RX_DROP_NOFLOW);
		inject_pieces(bad, 400, (const unsigned[]){ 0, 1, 2, 3 }, 4);
		WAIT_FOR(h_count(DPC_RX_DROP_NOFLOW) == dropped + 4, 1000);
	}
	cr_assert_eq(h_count(DPC_IP_FRAGS), 0);
	expect_no_segment(100);
}

/*
 * 2,000 first pieces of 2,000 datagrams that never complete, in one go:
 * the core passes up its burst (1,024) and what its rate (64 a
 * millisecond) adds meanwhile, and drops the rest; each passed one beyond
 * the table's 256 datagrams pushes the oldest out.  A real datagram still
 * gets through afterwards.
 */
Test(frag, a_flood_is_bounded_by_rate_and_table)
{
	enum { FLOOD = 2000 };
	uint8_t frame[2048], f[2048];
	size_t len;
	struct seg seg;
	int h = open_with_segment(9203, frame, &len, &seg);
	static struct rte_mbuf *ms[FLOOD];

	for (unsigned i = 0; i < FLOOD; i++) {
		size_t n = fragment_of(frame, 400, 0, f);
		pkt_wr16(f + PKT_ETH_LEN + 4, (uint16_t)(0x8000 + i)); /* a datagram each */
		pkt_ip_csum_set(f + PKT_ETH_LEN);
		ms[i] = rte_pktmbuf_alloc(H.dp.pool);
		cr_assert(ms[i]);
		memcpy(rte_pktmbuf_append(ms[i], (uint16_t)n), f, n);
	}
	uint64_t t0 = rte_rdtsc();
	cr_assert_eq(rte_ring_enqueue_bulk(H.rx, (void **)ms, FLOOD, NULL), FLOOD);
	uint64_t one = 1;
	cr_assert_eq(write(H.dp.core[0].kick_fd, &one, sizeof(one)), sizeof(one));
	WAIT_FOR(h_count(DPC_IP_FRAGS) + h_count(DPC_IP_FRAGS_LIMITED) == FLOOD, 5000);
	uint64_t ms_taken = (rte_rdtsc() - t0) * 1000 / rte_get_tsc_hz();
	uint64_t passed = h_count(DPC_IP_FRAGS);

	cr_assert_geq(passed, 1024, "only %lu passed: the burst is 1,024", (unsigned long)passed);
	cr_assert_leq(passed, 1024 + 64 * (ms_taken + 1), "%lu passed in %lu ms",
		      (unsigned long)passed, (unsigned long)ms_taken);
	/* every one past the table's size pushed an older one out */
	WAIT_FOR(h_count(DPC_IP_REASM_FAILED) == passed - IP_REASM_SLOTS, 2000);
	cr_assert_eq(h_count(DPC_IP_REASM_OK), 0);

	usleep(20 * 1000); /* the core's tokens come back */
	inject_pieces(frame, 400, (const unsigned[]){ 0, 1, 2, 3 }, 4);
	expect_delivered(h);
}

/* ------------------------------------------- a datagram that times out */

static void short_reassembly(struct bp_config *c)
{
	c->reasm_timeout_ms = 1000;
}

static void start_short(void)
{
	h_start_with(short_reassembly);
}

TestSuite(frag_timeout, .init = start_short, .fini = h_stop, .timeout = 30);

/*
 * Two datagrams that never complete: the one whose first piece came gets
 * an ICMP "fragment reassembly time exceeded" quoting that piece, as
 * Linux's ip_expire() sends it, the other nothing.  The peer is in the
 * neighbour cache (its ARP request for us taught it), as a sender is.
 */
Test(frag_timeout, a_datagram_whose_first_piece_came_is_answered_time_exceeded)
{
	uint8_t frame[2048], f[2048], arp[PKT_ARP_FRAME_LEN];
	struct seg seg = { .flags = TCPF_ACK, .seq = 1, .ack = 1, .wnd = 65535,
			   .data = payload, .len = DATA_LEN };
	uint8_t reply[2048];

	pkt_arp_write(arp, PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, NULL, H.our_ip);
	h_inject_raw(arp, sizeof(arp));
	cr_assert_gt(h_next_frame(reply, 1000), 0, "no ARP reply");
	H.our_port = 9300;
	h_build(&seg, frame, sizeof(frame));
	size_t first = fragment_of(frame, 400, 0, f);
	h_inject_raw(f, first);
	h_build(&seg, frame, sizeof(frame)); /* another ID */
	inject_pieces(frame, 400, (const unsigned[]){ 1 }, 1);

	int n = h_next_frame(reply, 3000);
	cr_assert_gt(n, 0, "no ICMP after the reassembly timeout");
	const uint8_t *ip = reply + PKT_ETH_LEN, *icmp = ip + PKT_IP_MIN;
	cr_assert_arr_eq(reply, H.peer_mac, 6);
	cr_assert_eq(ip[9], PKT_PROTO_ICMP);
	cr_assert_eq(memcmp(ip + 12, &H.our_ip, 4), 0);
	cr_assert_eq(memcmp(ip + 16, &H.peer_ip, 4), 0);
	cr_assert_eq(csum_fold(csum_partial(ip, PKT_IP_MIN, 0)), 0);
	cr_assert_eq(icmp[0], 11, "type %u (want 11, time exceeded)", icmp[0]);
	cr_assert_eq(icmp[1], 1, "code %u (want 1, fragment reassembly)", icmp[1]);
	size_t icmp_len = pkt_rd16(ip + 2) - PKT_IP_MIN;
	cr_assert_eq(icmp_len, 8 + PKT_IP_MIN + 8);
	cr_assert_eq(csum_fold(csum_partial(icmp, icmp_len, 0)), 0);
	cr_assert_arr_eq(icmp + 8, f + PKT_ETH_LEN, PKT_IP_MIN + 8, "the quote is not the first piece");
	cr_assert_eq(h_next_frame(reply, 1500), 0, "a datagram without its first piece was answered");
	WAIT_FOR(h_count(DPC_IP_REASM_FAILED) == 2, 1000); /* counted after the answer went */
}
