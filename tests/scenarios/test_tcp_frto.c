// SPDX-License-Identifier: MIT
/*
 * Spurious retransmission timeouts (F-RTO, RFC 5682): after a timeout's
 * go-back, an ACK of the whole window, with bytes the go-back never resent
 * among it, shows that the window was never lost, only its ACKs late: the
 * window the timeout cut comes back (fastpathd/tcp_in.c rto_undo_check(),
 * slowpath/conn_timer.c).  A real loss, an ACK of part of the window, or
 * one that only repeats what SACKs said before the timeout, undoes
 * nothing.
 */
#include "harness.h"

#define PEER_ISN 7000000u
enum { MSS = 1460, NSEG = 6 };

/* a timeout well clear of the scripts' windows, and a window of 10 */
static void frto_config(struct bp_config *c)
{
	c->min_rto_ms = 100;
	c->init_cwnd_segs = 10;
}

static void frto_start(void)
{
	h_start_with(frto_config);
}

TestSuite(frto, .init = frto_start, .fini = h_stop, .timeout = 30);

static void ack_sack(uint32_t ack, uint8_t n, const uint32_t (*blocks)[2])
{
	h_ack_sack(PEER_ISN + 1, ack, n, blocks);
}

/*
 * A SACK connection that has timed one round trip (so its timeout is the
 * minimum), then NSEG segments in flight and unacknowledged.  Return: the
 * handle; *base is the sequence number of the first of them, *before the
 * window before any timeout.
 */
static int six_in_flight_sack(uint16_t port, bool sack, uint32_t *base, uint32_t *before)
{
	struct pkt_tcp p;
	int h = h_open_passive_syn(port, &(struct seg){
			.flags = TCPF_SYN, .seq = PEER_ISN, .wnd = 65535, .mss = MSS,
			.wscale = 0, .sack_ok = sack }, &p);
	uint32_t seq = p.seq + 1;
	cr_assert_eq(bp_send(H.app, h, "warm", 4), 4);
	EXPECT_SEG(p, 1000);
	ack_sack(seq + 4, 0, NULL);
	*base = seq + 4;
	static char data[NSEG * MSS];
	memset(data, 's', sizeof(data));
	WAIT_FOR(h_flow_cwnd(h) >= NSEG * MSS, 1000);
	*before = h_flow_cwnd(h);
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	for (int i = 0; i < NSEG; i++) {
		EXPECT_SEG(p, 1000);
		cr_assert_eq(p.seq, *base + (uint32_t)(i * MSS));
	}
	return h;
}

static int six_in_flight(uint16_t port, uint32_t *base, uint32_t *before)
{
	return six_in_flight_sack(port, true, base, before);
}

/* an ACK of all NSEG after the timeout: nothing goes again, nothing is
 * undone, the window stays cut */
static void expect_whole_window_ack_undoes_nothing(int h, uint32_t base, uint32_t before)
{
	ack_sack(base + NSEG * MSS, 0, NULL);
	expect_no_segment(30);
	cr_assert_eq(h_count(DPC_RTO_SPURIOUS), 0);
	cr_assert_lt(h_flow_cwnd(h), before);
}

/* the timeout: snd_una's segment goes again under a window of one */
static void expect_timeout_resend(int h, uint32_t seq, uint64_t nth)
{
	struct pkt_tcp p;
	EXPECT_SEG(p, 2000);
	cr_assert_eq(p.seq, seq, "the go-back starts at snd_una");
	cr_assert_eq(h_count(DPC_RTO), nth);
	cr_assert_eq(h_flow_cwnd(h), MSS, "a timeout leaves a window of one segment");
	expect_no_segment(20);
}

/*
 * The ACKs of the whole window were only late (a stall): after the
 * timeout's resend of segment 1, one ACK covers all six, five of them
 * never resent.  The window is back as it was: new data goes at once.
 */
Test(frto, a_late_ack_of_the_whole_window_undoes_the_timeout)
{
	uint32_t base, before;
	int h = six_in_flight(9401, &base, &before);
	expect_timeout_resend(h, base, 1);
	ack_sack(base + NSEG * MSS, 0, NULL);
	WAIT_FOR(h_flow_cwnd(h) >= before, 1000);
	cr_assert_eq(h_count(DPC_RTO_SPURIOUS), 1);
	cr_assert_eq(h_count(DPC_TX_RETX), 1, "only the timeout's one segment was resent");
	static char more[4 * MSS];
	memset(more, 'm', sizeof(more));
	cr_assert_eq(bp_send(H.app, h, more, sizeof(more)), (ssize_t)sizeof(more));
	struct pkt_tcp p;
	for (int i = 0; i < 4; i++) { /* at once: the window is the old one */
		EXPECT_SEG(p, 100);
		cr_assert_eq(p.seq, base + (uint32_t)((NSEG + i) * MSS));
	}
}

/*
 * An ACK past the resend that stops short of the window: segments 2 and
 * 3 came from before the timeout, but 4 to 6 may have been dropped in
 * the same stall (a queue that overflowed).  Nothing is undone, and the
 * go-back goes on with segment 4.
 */
Test(frto, a_late_ack_of_part_of_the_window_undoes_nothing)
{
	uint32_t base, before;
	int h = six_in_flight(9405, &base, &before);
	expect_timeout_resend(h, base, 1);
	ack_sack(base + 3 * MSS, 0, NULL);
	struct pkt_tcp p;
	EXPECT_SEG(p, 100);
	cr_assert_eq(p.seq, base + 3 * MSS, "the go-back goes on with segment 4, got +%u",
		     p.seq - base);
	cr_assert_eq(h_count(DPC_RTO_SPURIOUS), 0);
	cr_assert_lt(h_flow_cwnd(h), before);
}

/*
 * A real loss: the ACK after the timeout covers just the resent segment.
 * Nothing is undone; the go-back goes on with segment 2.
 */
Test(frto, an_ack_of_the_resend_alone_undoes_nothing)
{
	uint32_t base, before;
	int h = six_in_flight(9402, &base, &before);
	expect_timeout_resend(h, base, 1);
	ack_sack(base + MSS, 0, NULL);
	struct pkt_tcp p;
	EXPECT_SEG(p, 100);
	cr_assert_eq(p.seq, base + MSS, "the go-back resends segment 2, got +%u", p.seq - base);
	cr_assert_eq(h_count(DPC_RTO_SPURIOUS), 0);
	cr_assert_lt(h_flow_cwnd(h), before);
}

/*
 * Segments 2 and 3 were SACKed before the timeout (too few for fast
 * recovery): the peer was missing segment 1, and the timeout's resend
 * repaired a hole.  An ACK of the whole window after it undoes nothing.
 */
Test(frto, bytes_sacked_before_the_timeout_prove_nothing)
{
	uint32_t base, before;
	int h = six_in_flight(9403, &base, &before);
	uint32_t b[][2] = { { base + MSS, base + 3 * MSS } };
	ack_sack(base, 1, b);
	expect_timeout_resend(h, base, 1);
	expect_whole_window_ack_undoes_nothing(h, base, before);
}

/*
 * A SACK after the timeout (queued behind it in a stall: the peer got
 * segment 2, not 1) shows a hole: the resend repaired a loss, and the ACK
 * of the whole window after it undoes nothing.
 */
Test(frto, a_sack_after_the_timeout_shows_loss)
{
	uint32_t base, before;
	int h = six_in_flight(9407, &base, &before);
	expect_timeout_resend(h, base, 1);
	uint32_t b[][2] = { { base + MSS, base + 2 * MSS } };
	ack_sack(base, 1, b);
	expect_whole_window_ack_undoes_nothing(h, base, before);
}

/*
 * Without SACK nothing tells a late window from a lost first segment:
 * either way the ACK after the resend covers all six.  Nothing is undone
 * (as on Linux).
 */
Test(frto, without_sack_an_ack_of_the_whole_window_undoes_nothing)
{
	uint32_t base, before;
	int h = six_in_flight_sack(9406, false, &base, &before);
	expect_timeout_resend(h, base, 1);
	expect_whole_window_ack_undoes_nothing(h, base, before);
}

/*
 * Two timeouts in a row (backed off), then the late ACKs: what the first
 * go-back resent may be what the ACK is for, so only bytes past it count,
 * and the window that comes back is the one before the first timeout.
 */
Test(frto, a_second_timeout_undoes_to_the_window_before_the_first)
{
	uint32_t base, before;
	int h = six_in_flight(9404, &base, &before);
	expect_timeout_resend(h, base, 1);
	expect_timeout_resend(h, base, 2);
	ack_sack(base + MSS, 0, NULL); /* covered by both go-backs' resends */
	struct pkt_tcp p;
	EXPECT_SEG(p, 100);
	cr_assert_eq(p.seq, base + MSS);
	cr_assert_eq(h_count(DPC_RTO_SPURIOUS), 0);
	ack_sack(base + NSEG * MSS, 0, NULL);
	WAIT_FOR(h_flow_cwnd(h) >= before, 1000);
	cr_assert_eq(h_count(DPC_RTO_SPURIOUS), 1);
}
