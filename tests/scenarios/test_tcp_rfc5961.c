// SPDX-License-Identifier: MIT
/*
 * RFC 5961 scenarios: blind in-window RSTs and SYNs earn a challenge ACK
 * and never reset; an ACK of bytes never sent (or far too old) drops the
 * whole segment, payload included, and is answered with an ACK; in
 * SYN_RCVD an RST is checked against the window too; challenge ACKs are
 * rate-limited; an ACK whose sequence number is outside the window is not
 * believed.  Also the peer MSS floor (CVE-2019-11479).
 */
#include <errno.h>
#include "harness.h"

#define PEER_ISN 7000000u

/* functional tests: no per-flow rate limit, so every probe is answered */
static void no_ratelimit(struct bp_config *c) { c->invalid_ratelimit_ms = 0; }
static void start_nolimit(void) { h_start_with(no_ratelimit); }
static void global_limit(struct bp_config *c)
{
	c->invalid_ratelimit_ms = 0;
	c->challenge_ack_limit = 2;
}
static void start_global_limit(void) { h_start_with(global_limit); }

TestSuite(rfc5961, .init = start_nolimit, .fini = h_stop, .timeout = 30);

static void data_seg(uint32_t seq, uint32_t ack, const char *data, uint32_t len)
{
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = seq, .ack = ack, .wnd = 65535,
				.data = data, .len = len });
}

static void syn_from_peer(uint32_t seq, uint16_t mss)
{
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = seq, .wnd = 65535, .mss = mss,
				.wscale = -1 });
}

static void expect_challenge_ack(uint32_t iss, uint32_t rcv_nxt)
{
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & (TCPF_ACK | TCPF_RST | TCPF_SYN), TCPF_ACK,
		     "want a challenge ACK, got flags 0x%x", p.flags);
	cr_assert_eq(p.seq, iss + 1);
	cr_assert_eq(p.ack, rcv_nxt);
	cr_assert_eq(p.payload_len, 0);
}

/* the connection still carries data both ways */
static void check_alive(int h, uint32_t iss, uint32_t rcv_nxt)
{
	char buf[16];
	struct pkt_tcp p;
	data_seg(rcv_nxt, iss + 1, "ping", 4);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, rcv_nxt + 4);
	WAIT_FOR(bp_rx_avail(H.app, h) >= 4, 1000);
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 4);
	cr_assert_arr_eq(buf, "ping", 4);
	cr_assert_eq(bp_send(H.app, h, "pong", 4), 4);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.payload_len, 4);
	cr_assert_arr_eq(p.payload, "pong", 4);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = rcv_nxt + 4, .ack = p.seq + 4,
				.wnd = 65535 });
}

Test(rfc5961, rst_in_window_off_rcv_nxt_gets_challenge_ack)
{
	uint32_t iss;
	int h = h_open_passive(9001, PEER_ISN, 1460, &iss);
	uint64_t before = dp_fp_counter(&H.dp, DPC_CHALLENGE_ACK);
	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 1 + 100 });
	expect_challenge_ack(iss, PEER_ISN + 1);
	cr_assert_eq(dp_fp_counter(&H.dp, DPC_CHALLENGE_ACK), before + 1);
	char buf[8];
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), -EAGAIN, "in-window RST reset the flow");
	check_alive(h, iss, PEER_ISN + 1);
	/* the RST a peer sends in answer, exactly at RCV.NXT, resets */
	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 5 });
	WAIT_FOR(bp_recv(H.app, h, buf, sizeof(buf)) == -ECONNRESET, 1000);
}

Test(rfc5961, rst_at_right_edge_of_held_data_resets)
{
	uint32_t iss;
	int h = h_open_passive(9008, PEER_ISN, 1460, &iss);
	data_seg(PEER_ISN + 11, iss + 1, "later", 5); /* held out of order: 10..15 */
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 1);
	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 16 });
	char buf[8];
	WAIT_FOR(bp_recv(H.app, h, buf, sizeof(buf)) == -ECONNRESET, 1000);
}

Test(rfc5961, rst_outside_window_silently_dropped)
{
	uint32_t iss;
	int h = h_open_passive(9002, PEER_ISN, 1460, &iss);
	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 1 + 3000000 });
	h_inject(&(struct seg){ .flags = TCPF_RST | TCPF_ACK, .seq = PEER_ISN - 10, .ack = iss + 1 });
	expect_no_segment(150);
	char buf[8];
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), -EAGAIN);
	check_alive(h, iss, PEER_ISN + 1);
}

Test(rfc5961, syn_on_established_gets_challenge_ack_never_reset)
{
	uint32_t iss;
	int h = h_open_passive(9003, PEER_ISN, 1460, &iss);
	/* in the window, out of it, and a SYN-ACK: never an RST, never a reset */
	uint32_t seqs[] = { PEER_ISN + 1, PEER_ISN + 1000, PEER_ISN - 5000000 };
	for (unsigned i = 0; i < 3; i++) {
		syn_from_peer(seqs[i], 1460);
		expect_challenge_ack(iss, PEER_ISN + 1);
	}
	h_inject(&(struct seg){ .flags = TCPF_SYN | TCPF_ACK, .seq = PEER_ISN + 77, .ack = iss + 1,
				.wnd = 65535, .mss = 1460, .wscale = -1 });
	expect_challenge_ack(iss, PEER_ISN + 1);
	/* SYN|RST without ACK: must neither reset nor loop between the threads */
	h_inject(&(struct seg){ .flags = TCPF_SYN | TCPF_RST, .seq = PEER_ISN + 50 });
	expect_challenge_ack(iss, PEER_ISN + 1);
	char buf[8];
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), -EAGAIN, "a SYN reset the flow");
	check_alive(h, iss, PEER_ISN + 1);
}

Test(rfc5961, ack_of_unsent_data_drops_segment)
{
	uint32_t iss;
	int h = h_open_passive(9004, PEER_ISN, 1460, &iss);
	/* we sent nothing: an ACK 100000 bytes ahead is a blind injection */
	data_seg(PEER_ISN + 1, iss + 1 + 100000, "EVIL", 4);
	expect_challenge_ack(iss, PEER_ISN + 1);
	/* far too old as well: below SND.UNA - MAX.SND.WND */
	data_seg(PEER_ISN + 1, iss + 1 - 1000000, "EVIL", 4);
	expect_challenge_ack(iss, PEER_ISN + 1);
	usleep(50000);
	cr_assert_eq(bp_rx_avail(H.app, h), 0, "injected payload reached the app");
	check_alive(h, iss, PEER_ISN + 1);
	char buf[16];
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), -EAGAIN);
}

/*
 * An ACK whose sequence number lies far outside the receive window is not
 * believed (RFC 793, Linux tcp_sequence()): a blind ACK inside the flight
 * must not advance SND.UNA, so the retransmission still starts at the
 * first byte; the segment earns a (rate-limited) ACK.
 */
Test(rfc5961, ack_with_seq_outside_window_is_not_believed)
{
	uint32_t iss;
	int h = h_open_passive(9010, PEER_ISN, 1000, &iss);
	static char data[3000];
	memset(data, 'x', sizeof(data));
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	struct pkt_tcp p;
	for (int i = 0; i < 3; i++) {
		EXPECT_SEG(p, 1000);
		cr_assert_eq(p.payload_len, 1000);
	}
	uint32_t far[] = { PEER_ISN + 1 + 0x40000000u, PEER_ISN + 1 + 300000, PEER_ISN - 600000 };
	for (unsigned i = 0; i < 3; i++) {
		h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = far[i], .ack = iss + 1 + 2000,
					.wnd = 65535 });
		expect_challenge_ack(iss + 3000, PEER_ISN + 1);
	}
	/* the retransmission timeout resends from the first byte */
	EXPECT_SEG(p, 5000);
	cr_assert_eq(p.seq, iss + 1, "resent from iss+%u: the blind ACK advanced SND.UNA",
		     p.seq - iss);
	/* a genuine old segment (a retransmission) still carries its ACK */
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 1 + 3000,
				.wnd = 65535 });
	WAIT_FOR(bp_tx_unacked(H.app, h) == 0, 1000);
}

Test(rfc5961, syn_rcvd_rst_checked_against_window)
{
	int l = bp_listen(H.app, 0, 9005, 16);
	cr_assert_geq(l, 0);
	H.our_port = 9005;
	syn_from_peer(PEER_ISN, 1460);
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
	uint32_t iss = p.seq;
	/* in the window but not RCV.NXT: challenge, the half-open conn lives */
	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 1 + 200 });
	expect_challenge_ack(iss, PEER_ISN + 1);
	/* outside: nothing */
	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 1 + 5000000 });
	expect_no_segment(100);
	/* a different SYN for the same tuple: challenge ACK as well */
	syn_from_peer(PEER_ISN + 333, 1460);
	expect_challenge_ack(iss, PEER_ISN + 1);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535 });
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	check_alive(h, iss, PEER_ISN + 1);
}

Test(rfc5961, syn_rcvd_rst_at_rcv_nxt_resets)
{
	int l = bp_listen(H.app, 0, 9006, 16);
	cr_assert_geq(l, 0);
	H.our_port = 9006;
	syn_from_peer(PEER_ISN, 1460);
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	uint32_t iss = p.seq;
	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 1 });
	usleep(50000);
	/* the half-open conn is gone: its final ACK now meets an RST */
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & TCPF_RST, TCPF_RST);
	usleep(50000);
	cr_assert_lt(bp_accept(H.app, l), 0);
}

/* RFC 6528 (Linux's secure_tcp_seq()): a tuple's ISN is a keyed hash
 * plus a 64 ns clock, so a new incarnation of the same tuple starts where
 * the clock moved it (a random ISN would land anywhere), while other
 * tuples' ISNs tell an attacker nothing (test_isn) */
Test(rfc5961, a_tuple_s_isn_moves_with_the_clock)
{
	int l = bp_listen(H.app, 0, 9008, 16);
	cr_assert_geq(l, 0);
	H.our_port = 9008;
	uint32_t iss[2];
	uint64_t tsc[2];
	for (int i = 0; i < 2; i++) {
		if (i)
			usleep(100000);
		syn_from_peer(PEER_ISN, 1460);
		struct pkt_tcp p;
		EXPECT_SEG(p, 1000);
		tsc[i] = rte_rdtsc();
		cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
		iss[i] = p.seq;
		h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 1 });
		/* taken in order after the RST: the entry is gone when the
		 * final ACK meets a reset */
		h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = p.seq + 1,
					.wnd = 65535 });
		EXPECT_SEG(p, 1000);
		cr_assert(p.flags & TCPF_RST);
	}
	double ticks = (double)(tsc[1] - tsc[0]) / (double)rte_get_tsc_hz() * 1e9 / 64;
	double slack = 0.050 * 1e9 / 64; /* 50 ms between making and reading one */
	double moved = (double)(uint32_t)(iss[1] - iss[0]);
	cr_assert(moved > ticks - slack && moved < ticks + slack,
		  "the second ISN moved %.0f ticks of 64 ns in %.0f ticks", moved, ticks);
}

/* the next SYN of ours to @port (the neighbour is known): its source port */
static uint16_t syn_sport(uint16_t port)
{
	int h = bp_connect(H.app, H.peer_ip, port);
	cr_assert_geq(h, 0);
	struct pkt_tcp p;
	do
		EXPECT_SEG(p, 1000);
	while (!(p.flags & TCPF_SYN) || p.dport != port);
	return p.sport;
}

/* RFC 6056's double hash (Linux's __inet_hash_connect()): one
 * destination's ephemeral ports follow each other (now and then skipping
 * one), another's start
 * anywhere, so the port an attacker sees to his own server says nothing
 * about the port to another (a global counter gave the next one) */
Test(rfc5961, ephemeral_ports_are_not_a_counter)
{
	struct pkt_tcp syn;
	h_connect_until_syn(9100, &syn);
	uint16_t a = syn.sport, b = syn_sport(9100);
	unsigned near = 0;
	for (uint16_t port = 9101; port < 9105; port++) {
		int d = (int)syn_sport(port) - (int)b;
		near += d >= -8 && d <= 8;
	}
	unsigned step = (b - 32768 + 28232 - (a - 32768)) % 28232; /* 2 at times: noise */
	cr_assert(step == 1 || step == 2, "one destination's ports: %u then %u", a, b);
	cr_assert_leq(near, 1, "%u of 4 other destinations got a port next to %u", near, b);
}

/* send one byte on @h (our port @port, the peer's @pport), read its
 * segment's IP ID and acknowledge it (no resend takes an ID meanwhile) */
static uint16_t one_byte_ip_id(int h, uint16_t port, uint16_t pport)
{
	struct pkt_tcp p;
	cr_assert_eq(bp_send(H.app, h, "x", 1), 1);
	do
		EXPECT_SEG(p, 1000);
	while (p.dport != pport || !p.payload_len);
	uint16_t id = h_last_ip().id;
	H.our_port = port;
	H.peer_port = pport;
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = p.seq + 1,
				.wnd = 65535 });
	return id;
}

/* each connection numbers its IP datagrams from a random start, as Linux's
 * sockets do: a counter shared by all would show any peer how many
 * packets the host (every tenant on it) sends between two of his own */
Test(rfc5961, ip_ids_are_per_connection)
{
	uint32_t iss;
	H.peer_port = 41000;
	int a = h_open_passive(9110, PEER_ISN, 1460, &iss);
	H.peer_port = 41001;
	int b = h_open_passive(9111, PEER_ISN, 1460, &iss);
	uint16_t a1 = one_byte_ip_id(a, 9110, 41000);
	one_byte_ip_id(b, 9111, 41001);
	one_byte_ip_id(b, 9111, 41001);
	uint16_t a2 = one_byte_ip_id(a, 9110, 41000);
	cr_assert_eq((uint16_t)(a2 - a1), 1, "a's IP IDs went %u, %u around two of b's", a1, a2);
}

Test(rfc5961, peer_mss_of_one_is_clamped)
{
	uint32_t iss;
	int h = h_open_passive(9007, PEER_ISN, 1, &iss);
	static char data[200];
	memset(data, 'm', sizeof(data));
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.payload_len, 48, "peer MSS 1 gave %u-byte segments, want the 48-byte floor",
		     p.payload_len);
}

/* Linux's tcp_invalid_ratelimit: one challenge ACK per flow per 500 ms */
TestSuite(rfc5961_limits, .fini = h_stop, .timeout = 30);

Test(rfc5961_limits, per_flow_rate_limit, .init = h_start)
{
	uint32_t iss;
	h_open_passive(9010, PEER_ISN, 1460, &iss);
	for (int i = 0; i < 5; i++)
		h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 10 + i });
	expect_challenge_ack(iss, PEER_ISN + 1);
	expect_no_segment(200);
	usleep(400000); /* past the 500 ms */
	syn_from_peer(PEER_ISN + 99, 1460);
	expect_challenge_ack(iss, PEER_ISN + 1);
}

Test(rfc5961_limits, global_limit_per_second, .init = start_global_limit)
{
	uint32_t iss;
	h_open_passive(9011, PEER_ISN, 1460, &iss);
	for (int i = 0; i < 20; i++)
		h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 10 + i });
	int n = 0;
	struct pkt_tcp p;
	while (h_next_tcp(&p, 200))
		n++;
	/* limit 2: the quota is drawn from [2, 3] each second */
	cr_assert(n >= 2 && n <= 3, "%d challenge ACKs for 20 RSTs under a limit of 2", n);
}
