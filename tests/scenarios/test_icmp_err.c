// SPDX-License-Identifier: MIT
/*
 * test_icmp_err.c - ICMP errors about our segments (slowpath/icmp_err.c,
 * tcp_mss_lowered()): a router's "fragmentation needed" about a segment
 * in flight cuts the connection's segments at once (path MTU discovery),
 * an unreachable port or host, a time exceeded or a parameter problem
 * ends a connect with Linux's errno, and a message that names no segment of ours in
 * flight, or claims too little, is not believed (RFC 5927, as Linux).
 *
 * The retransmission timer is held at 3 s, so every resend seen within
 * the tests' waits is the ICMP's doing.
 */
#include "harness.h"
#include "seq.h"

static void slow_rto(struct bp_config *c)
{
	c->min_rto_ms = 3000;
}

static void start(void)
{
	h_start_with(slow_rto);
}

TestSuite(pmtu, .init = start, .fini = h_stop, .timeout = 30);

static const uint8_t ROUTER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe };
#define SEND_BYTES 8192
#define QUOTE_LEN (PKT_ETH_LEN + PKT_IP_MIN + 20) /* a segment's headers */

static uint32_t router_ip(void)
{
	uint32_t ip;
	inet_pton(AF_INET, "198.18.0.254", &ip);
	return ip;
}

/* the router's ICMP error @type/@code about the segment in @seg
 * (headers), MTU @mtu, its quoted sequence number moved by @seq_delta */
static void inject_icmp_err(const uint8_t *seg, uint8_t type, uint8_t code, uint16_t mtu,
			    uint32_t seq_delta)
{
	uint8_t q[QUOTE_LEN], f[128];
	memcpy(q, seg, sizeof(q));
	uint32_t seq;
	memcpy(&seq, q + PKT_ETH_LEN + PKT_IP_MIN + 4, 4);
	seq = htonl(ntohl(seq) + seq_delta);
	memcpy(q + PKT_ETH_LEN + PKT_IP_MIN + 4, &seq, 4);
	size_t n = pkt_icmp_err_write(f, q, sizeof(q), ROUTER_MAC, router_ip(), type, code, mtu);
	cr_assert_gt(n, 0);
	h_inject_raw(f, n < 60 ? 60 : n);
}

/* a "destination unreachable" @code (inject_icmp_err()) */
static void inject_unreach(const uint8_t *seg, uint8_t code, uint16_t mtu, uint32_t seq_delta)
{
	inject_icmp_err(seg, PKT_ICMP_DEST_UNREACH, code, mtu, seq_delta);
}

static void inject_too_big(const uint8_t *seg, uint16_t mtu, uint32_t seq_delta)
{
	inject_unreach(seg, PKT_ICMP_FRAG_NEEDED, mtu, seq_delta);
}


/*
 * Open a connection from peer port @pport to our port @port, have the app
 * send SEND_BYTES and read them: the first segment's headers go to @first.
 * Return: the handle; *iss our ISN, *mss the first segment's length.
 */
static int send_burst(uint16_t port, uint16_t pport, uint8_t *first, uint32_t *iss,
		      uint32_t *mss)
{
	static uint8_t data[SEND_BYTES];
	struct pkt_tcp p;

	H.peer_port = pport;
	int h = h_open_passive(port, 1000, 1460, iss);
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.seq, *iss + 1, "the first segment");
	memcpy(first, h_last_frame, QUOTE_LEN);
	*mss = p.payload_len;
	uint32_t sent = p.payload_len; /* the rest of the burst: all in the window */
	while (sent < SEND_BYTES) {
		EXPECT_SEG(p, 1000);
		cr_assert_eq(p.seq, *iss + 1 + sent, "the burst out of order");
		sent += p.payload_len;
	}
	return h;
}

/* read segments until SEND_BYTES from @iss + 1 were seen again (or 2 s
 * passed); return the largest payload among them */
static uint32_t resent_burst_max(uint32_t iss)
{
	struct pkt_tcp p;
	uint32_t covered = 0, largest = 0;
	while (covered < SEND_BYTES && h_next_tcp(&p, 2000)) {
		if (!p.payload_len)
			continue;
		if (p.seq == iss + 1)
			covered = 0; /* the resend starts */
		if (p.seq != iss + 1 + covered)
			continue;
		covered += p.payload_len;
		if (p.payload_len > largest)
			largest = p.payload_len;
	}
	cr_assert_eq(covered, SEND_BYTES, "the burst was not resent whole");
	return largest;
}

static void ack_all(uint32_t iss)
{
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = 1001, .ack = iss + 1 + SEND_BYTES,
				.wnd = 65535 });
}

Test(pmtu, a_router_s_mtu_cuts_the_segments_in_flight)
{
	uint8_t first[QUOTE_LEN];
	uint32_t iss, mss;
	send_burst(7100, 40000, first, &iss, &mss);
	cr_assert_eq(mss, 1460);

	/* the router answers every segment it dropped: one lowering */
	inject_too_big(first, 1280, 0);
	inject_too_big(first, 1280, 1460);
	cr_assert_leq(resent_burst_max(iss), 1240, "a segment larger than the path takes");
	WAIT_FOR(h_count(DPC_ICMP_ERR_IGNORED) == 1, 2000);
	cr_assert_eq(h_count(DPC_PMTU_LOWERED), 1);
	cr_assert_eq(h_count(DPC_ICMP_ERR), 2);
	expect_no_segment(200); /* and one resend */

	/* a larger MTU later never raises the MSS again */
	inject_too_big(first, 1400, 0);
	WAIT_FOR(h_count(DPC_ICMP_ERR_IGNORED) == 2, 2000);
	expect_no_segment(200);
	cr_assert_eq(h_count(DPC_PMTU_LOWERED), 1);
}

Test(pmtu, the_next_connection_to_that_host_starts_small)
{
	uint8_t first[QUOTE_LEN];
	uint32_t iss, mss;
	send_burst(7101, 40000, first, &iss, &mss);
	inject_too_big(first, 1400, 0);
	cr_assert_leq(resent_burst_max(iss), 1360);
	cr_assert(h_last_ip().df, "a hop of 1400 bytes takes DF");
	ack_all(iss);

	send_burst(7102, 40001, first, &iss, &mss);
	cr_assert_eq(mss, 1360, "a new connection forgot the path's MTU");
	cr_assert(h_last_ip().df);
}

/* as Linux's sockets take up their route's new MTU: a connection already
 * open to the host cuts its next segments too, without resending what it
 * has in flight (that may have passed); if a segment of it was lost after
 * all, its own ICMP, at the same size, resends */
Test(pmtu, connections_already_open_to_that_host_follow)
{
	uint8_t first_a[QUOTE_LEN], first_b[QUOTE_LEN];
	uint32_t iss_a, iss_b, mss;
	send_burst(7107, 40002, first_a, &iss_a, &mss);
	int b = send_burst(7108, 40003, first_b, &iss_b, &mss); /* in flight */
	H.peer_port = 40002;
	H.our_port = 7107;
	inject_too_big(first_a, 1280, 0);
	cr_assert_leq(resent_burst_max(iss_a), 1240);
	ack_all(iss_a);
	WAIT_FOR(h_count(DPC_PMTU_LOWERED) == 2, 2000);
	expect_no_segment(300); /* b followed without a resend */

	H.peer_port = 40003;
	H.our_port = 7108;
	inject_too_big(first_b, 1280, 0);
	cr_assert_leq(resent_burst_max(iss_b), 1240, "b's own ICMP did not resend");
	cr_assert_eq(h_count(DPC_PMTU_LOWERED), 3);
	ack_all(iss_b);
	static uint8_t more[3000];
	cr_assert_eq(bp_send(H.app, b, more, sizeof(more)), (ssize_t)sizeof(more));
	struct pkt_tcp p;
	do
		EXPECT_SEG(p, 1000);
	while (!p.payload_len || p.dport != 40003);
	cr_assert_eq(p.seq, iss_b + 1 + SEND_BYTES);
	cr_assert_eq(p.payload_len, 1240, "an open connection kept the MSS the path no longer takes");
}

/* send_burst() on a connection that agreed on SACK */
static int sack_burst(uint16_t port, uint16_t pport, uint8_t *first, uint32_t *iss)
{
	static uint8_t data[SEND_BYTES];
	struct pkt_tcp p;
	H.peer_port = pport;
	int h = h_open_passive_syn(port, &(struct seg){ .flags = TCPF_SYN, .seq = 1000,
							.wnd = 65535, .mss = 1460, .wscale = -1,
							.sack_ok = true }, &p);
	cr_assert(p.opts.sack_ok, "SACK was not agreed");
	*iss = p.seq;
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	for (uint32_t sent = 0; sent < SEND_BYTES; sent += p.payload_len) {
		EXPECT_SEG(p, 1000);
		cr_assert_eq(p.payload_len, SEND_BYTES - sent < 1460 ? SEND_BYTES - sent : 1460);
		if (!sent)
			memcpy(first, h_last_frame, QUOTE_LEN);
	}
	return h;
}

/* the peer's ACK of @ack (relative), SACKing @n blocks (relative) */
static void ack_sack(uint32_t iss, uint32_t ack, unsigned n, const uint32_t (*rel)[2])
{
	struct seg s = { .flags = TCPF_ACK, .seq = 1001, .ack = iss + 1 + ack, .wnd = 65535,
			 .sack_n = (uint8_t)n };
	for (unsigned i = 0; i < n; i++) {
		s.sack[i][0] = iss + 1 + rel[i][0];
		s.sack[i][1] = iss + 1 + rel[i][1];
	}
	h_inject(&s);
}

/* read the resend of SEND_BYTES less @n_skip SACKed @skip ranges, in
 * segments the new path takes, none inside a SACKed range */
static void expect_resend_around(uint32_t iss, unsigned n_skip, const uint32_t (*skip)[2])
{
	struct pkt_tcp p;
	uint32_t want = SEND_BYTES, resent = 0;
	for (unsigned i = 0; i < n_skip; i++)
		want -= skip[i][1] - skip[i][0];
	while (resent < want && h_next_tcp(&p, 2000)) {
		if (!p.payload_len)
			continue;
		uint32_t at = p.seq - iss - 1;
		cr_assert_leq(p.payload_len, 1240);
		for (unsigned i = 0; i < n_skip; i++)
			cr_assert(at + p.payload_len <= skip[i][0] || at >= skip[i][1],
				  "resent %u bytes at +%u, which the peer had SACKed", p.payload_len, at);
		resent += p.payload_len;
	}
	cr_assert_eq(resent, want, "the holes were not resent");
}

/* what the peer SACKed got through and is not sent again: no timeout
 * passed, so the scoreboard outlives the resend (Linux's
 * tcp_simple_retransmit() keeps it too) */
Test(pmtu, a_resend_skips_what_the_peer_sacked)
{
	static const uint32_t third[1][2] = { { 2 * 1460, 3 * 1460 } };
	uint8_t first[QUOTE_LEN];
	uint32_t iss;
	sack_burst(7114, 40007, first, &iss);
	ack_sack(iss, 0, 1, third); /* got through; the others met the narrow hop */
	inject_too_big(first, 1280, 0);
	expect_resend_around(iss, 1, third);
	expect_no_segment(200);
	ack_all(iss);
}

/* the SACKed bytes kept are old news, not a loss: with the smaller MSS
 * they pass three segments' worth, yet the ACKs of the resend start no
 * fast recovery (which would cut cwnd and resend the holes again) */
Test(pmtu, the_kept_scoreboard_starts_no_fast_recovery)
{
	/* 3,812 bytes: under 3 x 1460, over 3 x 1240 */
	static const uint32_t got[2][2] = { { 2 * 1460, 3 * 1460 }, { 4 * 1460, SEND_BYTES } };
	uint8_t first[QUOTE_LEN];
	uint32_t iss;
	sack_burst(7115, 40008, first, &iss);
	ack_sack(iss, 0, 2, got);
	inject_too_big(first, 1280, 0);
	expect_resend_around(iss, 2, got);
	ack_sack(iss, 1240, 2, got);
	ack_sack(iss, 2480, 2, got);
	expect_no_segment(300);
	cr_assert_eq(h_count(DPC_FAST_RETX), 0, "a fast recovery started");
	ack_all(iss);
}

/* the trade-off of that hold: a resend lost after the drop waits for the
 * retransmission timer (3 s here), as in Linux's Loss state, and then goes */
Test(pmtu, a_lost_resend_goes_at_the_timeout)
{
	static const uint32_t third[1][2] = { { 2 * 1460, 3 * 1460 } };
	static const uint32_t rest[1][2] = { { 2480, SEND_BYTES } };
	uint8_t first[QUOTE_LEN];
	struct pkt_tcp p;
	uint32_t iss;
	sack_burst(7116, 40009, first, &iss);
	ack_sack(iss, 0, 1, third);
	inject_too_big(first, 1280, 0);
	expect_resend_around(iss, 1, third);
	/* all but the resend at 1240 arrived */
	for (int i = 0; i < 3; i++)
		ack_sack(iss, 1240, 1, rest);
	uint64_t start = rte_rdtsc();
	do
		cr_assert(h_next_tcp(&p, 5000), "the lost resend never went again");
	while (!p.payload_len);
	uint64_t ms = (rte_rdtsc() - start) * 1000 / rte_get_tsc_hz();
	cr_assert_eq(p.seq, iss + 1 + 1240, "resent +%u, not the lost one", p.seq - iss - 1);
	cr_assert_geq(ms, 2500, "resent after %lu ms: not at the timeout", (unsigned long)ms);
	cr_assert_eq(h_count(DPC_FAST_RETX), 0);
	ack_all(iss);
}

Test(pmtu, a_sequence_number_not_in_flight_is_not_believed)
{
	uint8_t first[QUOTE_LEN];
	uint32_t iss, mss;
	int h = send_burst(7103, 40000, first, &iss, &mss);

	inject_too_big(first, 1280, SEND_BYTES + 1);    /* beyond snd_nxt */
	inject_too_big(first, 1280, (uint32_t)-1);      /* below snd_una */
	inject_too_big(first, 1460 + 40, 0);            /* no smaller than our MSS */
	inject_too_big(first, 1500 + 40, 0);
	WAIT_FOR(h_count(DPC_ICMP_ERR_IGNORED) == 4, 2000);
	ack_all(iss);
	inject_too_big(first, 1280, 0);                 /* acked already */
	WAIT_FOR(h_count(DPC_ICMP_ERR_IGNORED) == 5, 2000);
	cr_assert_eq(h_count(DPC_PMTU_LOWERED), 0);

	/* nothing was resent, and new data still goes in full-size segments */
	static uint8_t more[3000];
	cr_assert_eq(bp_send(H.app, h, more, sizeof(more)), (ssize_t)sizeof(more));
	struct pkt_tcp p;
	do
		EXPECT_SEG(p, 1000);
	while (!p.payload_len);
	cr_assert_eq(p.seq, iss + 1 + SEND_BYTES, "a resend after a forged ICMP");
	cr_assert_eq(p.payload_len, 1460);
}

Test(pmtu, a_flood_cannot_crowd_out_the_router)
{
	uint8_t first[QUOTE_LEN], other[QUOTE_LEN];
	uint32_t iss, mss;
	send_burst(7106, 40000, first, &iss, &mss);
	/* forged about a connection we do not have: these share a budget
	 * per core; one about an installed flow is checked on its core */
	memcpy(other, first, sizeof(other));
	other[PKT_ETH_LEN + PKT_IP_MIN + 2] ^= 0x40; /* the quoted destination port */
	for (uint32_t i = 0; i < 1000; i++)
		inject_too_big(other, 1280, i);
	inject_too_big(first, 1280, 0); /* the router's, behind them */
	WAIT_FOR(h_count(DPC_ICMP_ERR) + h_count(DPC_ICMP_ERR_LIMITED) == 1001, 5000);
	cr_assert_gt(h_count(DPC_ICMP_ERR_LIMITED), 0, "1,000 in a few ms all reached the slowpath");
	cr_assert_leq(resent_burst_max(iss), 1240, "the flood crowded out the router's message");
	cr_assert_eq(h_count(DPC_PMTU_LOWERED), 1);
}

/* as Linux's route to such a hop (its MTU locked at min_pmtu): 552-byte
 * packets without DF, which that hop's router fragments */
Test(pmtu, an_mtu_under_552_counts_as_552_without_df)
{
	uint8_t first[QUOTE_LEN];
	uint32_t iss, mss;
	send_burst(7104, 40000, first, &iss, &mss);
	cr_assert(h_last_ip().df);
	inject_too_big(first, 68, 0);
	cr_assert_eq(resent_burst_max(iss), 512, "Linux's min_pmtu is 552 bytes");
	cr_assert_not(h_last_ip().df, "a hop under 552 bytes needs segments it may fragment");
	ack_all(iss);

	inet_pton(AF_INET, "198.18.0.3", &H.peer_ip); /* a host with no MTU cached */
	send_burst(7105, 40001, first, &iss, &mss);
	cr_assert_eq(mss, 1460);
	inject_too_big(first, 0, 0); /* a router from before RFC 1191 */
	cr_assert_eq(resent_burst_max(iss), 512);
	cr_assert_not(h_last_ip().df);
}

/* a peer whose MSS (500) is under the 512 bytes a hop under 552 leaves:
 * the hop's news is DF alone, and its segments are resent without it */
Test(pmtu, a_small_peer_mss_still_drops_df)
{
	uint32_t iss;
	H.peer_port = 40006;
	inet_pton(AF_INET, "198.18.0.6", &H.peer_ip);
	int h = h_open_passive(7113, 1000, 500, &iss);
	static uint8_t data[1500];
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	struct pkt_tcp p;
	uint8_t first[QUOTE_LEN];
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.payload_len, 500);
	cr_assert(h_last_ip().df);
	memcpy(first, h_last_frame, QUOTE_LEN);
	while (h_next_tcp(&p, 200)) /* the rest of the flight */
		;
	inject_too_big(first, 400, 0);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.seq, iss + 1, "not resent from snd_una");
	cr_assert_eq(p.payload_len, 500);
	cr_assert_not(h_last_ip().df, "a 400-byte hop, a 500-byte peer MSS: DF kept");
	cr_assert_eq(h_count(DPC_PMTU_LOWERED), 1);
}

/* 552 exactly keeps DF; a hop under it later costs the same MSS, without
 * DF, resent; the host's next connection starts that way */
Test(pmtu, a_narrower_hop_at_the_same_mss_clears_df)
{
	uint8_t first[QUOTE_LEN];
	uint32_t iss, mss;
	inet_pton(AF_INET, "198.18.0.5", &H.peer_ip);
	send_burst(7109, 40004, first, &iss, &mss);
	inject_too_big(first, 552, 0);
	cr_assert_eq(resent_burst_max(iss), 512);
	cr_assert(h_last_ip().df, "a 552-byte hop takes 552-byte packets with DF");
	inject_too_big(first, 500, 0);
	cr_assert_eq(resent_burst_max(iss), 512);
	cr_assert_not(h_last_ip().df);
	inject_too_big(first, 300, 0); /* nothing new: no resend */
	WAIT_FOR(h_count(DPC_ICMP_ERR_IGNORED) == 1, 2000);
	expect_no_segment(200);
	cr_assert_eq(h_count(DPC_PMTU_LOWERED), 2);
	ack_all(iss);

	H.peer_port = 40005; /* its initial window holds 10 of these: no send_burst() */
	int h = h_open_passive(7112, 1000, 1460, &iss);
	static uint8_t data[2000];
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.payload_len, 512);
	cr_assert_not(h_last_ip().df, "the next connection to the host kept DF");
}

/* ------------------------------------------------- connects (SYN_SENT) */

TestSuite(icmp_connect, .init = start, .fini = h_stop, .timeout = 30);

/* connect to @port; our SYN's headers go to @syn_hdr, its seq to *iss */
static int connect_syn(uint16_t port, uint8_t *syn_hdr, uint32_t *iss)
{
	struct pkt_tcp syn;
	int h = h_connect_until_syn(port, &syn);
	memcpy(syn_hdr, h_last_frame, QUOTE_LEN);
	*iss = syn.seq;
	return h;
}

Test(icmp_connect, a_rejected_port_refuses_the_connect_at_once)
{
	uint8_t syn[QUOTE_LEN];
	uint32_t iss;
	int h = connect_syn(81, syn, &iss);
	inject_unreach(syn, PKT_ICMP_PORT_UNREACH, 0, 0);
	WAIT_FOR(bp_connect_status(H.app, h) == -ECONNREFUSED, 2000);
	cr_assert_eq(h_count(DPC_ICMP_CONNECT_FAILED), 1);
	uint8_t f[2048];
	while (h_next_frame(f, 300)) /* a SYN resent before the ICMP was taken */
		;
	expect_no_segment(800); /* and none after: the SYN timer is 250 ms, doubling */
}

/* Linux's tcp_v4_err(): a destination unreachable gives its code's errno
 * (icmp_err_convert[]), a time exceeded (a routing loop) EHOSTUNREACH and a
 * parameter problem EPROTO, whatever their code */
Test(icmp_connect, an_icmp_error_fails_the_connect_as_on_linux)
{
	static const struct { uint8_t type, code; int err; } want[] = {
		{ 3, 0, ENETUNREACH }, { 3, 1, EHOSTUNREACH }, { 3, 10, EHOSTUNREACH },
		{ 3, 13, EHOSTUNREACH }, { 3, 7, EHOSTDOWN }, { 11, 0, EHOSTUNREACH },
		{ 11, 1, EHOSTUNREACH }, { 12, 0, EPROTO }, { 12, 2, EPROTO },
	};
	uint8_t syn[QUOTE_LEN];
	uint32_t iss;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct pkt_tcp p;
		int h;
		if (i == 0) { /* the neighbour is asked for once */
			h = connect_syn(90, syn, &iss);
		} else {
			h = bp_connect(H.app, H.peer_ip, (uint16_t)(90 + i));
			cr_assert_geq(h, 0);
			do
				EXPECT_SEG(p, 1000);
			while (p.dport != 90 + i);
			memcpy(syn, h_last_frame, QUOTE_LEN);
		}
		inject_icmp_err(syn, want[i].type, want[i].code, 0, 0);
		WAIT_FOR(bp_connect_status(H.app, h) == -want[i].err, 2000);
	}
	cr_assert_eq(h_count(DPC_ICMP_CONNECT_FAILED), sizeof(want) / sizeof(want[0]));
}

Test(icmp_connect, a_message_not_about_our_syn_is_ignored)
{
	uint8_t syn[QUOTE_LEN];
	uint32_t iss;
	int h = connect_syn(82, syn, &iss);
	inject_unreach(syn, PKT_ICMP_PORT_UNREACH, 0, 1);          /* not our SYN's seq */
	inject_unreach(syn, PKT_ICMP_PORT_UNREACH, 0, (uint32_t)-1);
	inject_unreach(syn, PKT_ICMP_FRAG_NEEDED, 576, 0);         /* a SYN fits anywhere */
	WAIT_FOR(h_count(DPC_ICMP_ERR_IGNORED) == 3, 2000);
	cr_assert_eq(bp_connect_status(H.app, h), -EINPROGRESS);

	/* past the handshake a port unreachable changes nothing (on Linux a
	 * soft error, which only IP_RECVERR would show) */
	struct pkt_tcp p;
	h_inject(&(struct seg){ .flags = TCPF_SYN | TCPF_ACK, .seq = 5000, .ack = iss + 1,
				.wnd = 65535, .mss = 1460, .wscale = -1 });
	do /* past our SYN, resent if the above took over 250 ms */
		EXPECT_SEG(p, 1000);
	while (p.flags & TCPF_SYN);
	cr_assert_eq(p.flags, TCPF_ACK);
	WAIT_FOR(bp_connect_status(H.app, h) == 0, 1000);
	cr_assert_eq(bp_send(H.app, h, "x", 1), 1);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.seq, iss + 1);
	inject_unreach(syn, PKT_ICMP_PORT_UNREACH, 0, 1);          /* "x", in flight */
	inject_icmp_err(syn, PKT_ICMP_TIME_EXCEEDED, 0, 0, 1);
	inject_icmp_err(syn, PKT_ICMP_PARAM_PROBLEM, 0, 0, 1);
	WAIT_FOR(h_count(DPC_ICMP_ERR_IGNORED) == 6, 2000);
	cr_assert_eq(bp_send(H.app, h, "y", 1), 1);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.seq, iss + 2, "the connection was ended");
	cr_assert_eq(p.payload_len, 1);
	cr_assert_eq(h_count(DPC_ICMP_CONNECT_FAILED), 0);
}

/* ----------------------------------------- half-open connections (SYN_RCVD) */

TestSuite(icmp_half_open, .init = start, .fini = h_stop, .timeout = 30);

/* a SYN from peer port @pport to our listener on H.our_port; the SYN-ACK's
 * headers go to @synack.  Return: our ISN. */
static uint32_t syn_to_listener(uint16_t pport, uint8_t *synack)
{
	struct pkt_tcp p;
	H.peer_port = pport;
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = 1000, .wnd = 65535, .mss = 1460,
				.wscale = -1 });
	do /* past another entry's SYN-ACK resends */
		EXPECT_SEG(p, 1000);
	while (p.dport != pport);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
	memcpy(synack, h_last_frame, QUOTE_LEN);
	return p.seq;
}

/* Linux's tcp_req_err(): a net or host unreachable, a time exceeded or a
 * parameter problem about exactly our SYN-ACK drops the half-open
 * connection; the peer's late final ACK then finds nothing (a reset) */
Test(icmp_half_open, a_route_that_is_gone_drops_the_half_open_connection)
{
	static const struct { uint8_t type, code; } fatal[] = {
		{ 3, 0 }, { 3, 1 }, { 11, 0 }, { 12, 0 },
	};
	uint8_t synack[QUOTE_LEN];
	int l = bp_listen(H.app, 0, 7110, 16);
	cr_assert_geq(l, 0);
	H.our_port = 7110;
	for (uint16_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		uint32_t iss = syn_to_listener((uint16_t)(41000 + i), synack);
		inject_icmp_err(synack, fatal[i].type, fatal[i].code, 0, 0);
		WAIT_FOR(h_count(DPC_ICMP_HALF_OPEN_DROPPED) == i + 1u, 2000);
		h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = 1001, .ack = iss + 1,
					.wnd = 65535 });
		struct pkt_tcp p;
		EXPECT_SEG(p, 1000);
		cr_assert(p.flags & TCPF_RST, "the final ACK of a dropped entry: 0x%x", p.flags);
	}
	expect_no_segment(700); /* no SYN-ACK resent (250 ms, doubling) */
	cr_assert_eq(bp_accept(H.app, l), -EAGAIN);
	cr_assert_eq(h_count(DPC_ICMP_ERR_IGNORED), 0);
}

/* a soft error (a refused port, a size: a SYN-ACK fits anywhere) or one not
 * quoting our SYN-ACK's sequence number leaves the entry; the handshake
 * still completes */
Test(icmp_half_open, a_soft_or_forged_error_leaves_it)
{
	uint8_t synack[QUOTE_LEN];
	int l = bp_listen(H.app, 0, 7111, 16);
	cr_assert_geq(l, 0);
	H.our_port = 7111;
	uint32_t iss = syn_to_listener(41100, synack);
	inject_unreach(synack, PKT_ICMP_PORT_UNREACH, 0, 0);
	inject_too_big(synack, 576, 0);
	inject_unreach(synack, 1, 0, 1);                      /* not our SYN-ACK's seq */
	inject_icmp_err(synack, PKT_ICMP_TIME_EXCEEDED, 0, 0, (uint32_t)-1);
	WAIT_FOR(h_count(DPC_ICMP_ERR_IGNORED) == 4, 2000);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = 1001, .ack = iss + 1, .wnd = 65535 });
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	cr_assert_eq(h_count(DPC_ICMP_HALF_OPEN_DROPPED), 0);
}
