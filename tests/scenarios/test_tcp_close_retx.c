// SPDX-License-Identifier: MIT
/*
 * Closing under loss: a FIN whose ACK arrives after a timeout rewound the
 * sender, and the retransmission timer's backoff and retry limit for data,
 * for a lone FIN and for window probes.  Under a mixed load the first left
 * hundreds of Linux peers in LAST-ACK while the daemon resent to each of
 * them every minimum RTO, forever (issue 10, item 11).  Also which SYN may
 * reuse a tuple in TIME_WAIT.
 */
#include <errno.h>
#include "harness.h"

#define PEER_ISN 3000000u

/* a short retry budget and a low RTO ceiling keep the backoff visible and
 * the scenarios short: 200 (initial), 400, 800, 800 ms, then give up */
static void short_retries(struct bp_config *c)
{
	c->max_retries = 3;
	c->max_rto_ms = 800;
}

static void start(void) { h_start_with(short_retries); }

TestSuite(close_retx, .init = start, .fini = h_stop, .timeout = 30);

static int open_passive(uint16_t port, uint16_t final_wnd, uint32_t *iss)
{
	int l = bp_listen(H.app, 0, port, 16);
	cr_assert_geq(l, 0);
	H.our_port = port;
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN, .wnd = 65535, .mss = 1460,
				.wscale = -1 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
	*iss = p.seq;
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = p.seq + 1,
				.wnd = final_wnd });
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	return h;
}

static uint64_t now_ms(void)
{
	return rte_rdtsc() * 1000 / rte_get_tsc_hz();
}

/*
 * Data and FIN in flight, the peer's ACK of all of it (with its own FIN,
 * as a Linux peer in LAST-ACK sends it) arrives only after our timer fired
 * and rewound to snd_una.  That ACK must still count, and ours of the
 * peer's FIN must carry snd_max: a segment below the peer's window is
 * dropped by it, ACK and all, and the peer stays in LAST-ACK.
 */
Test(close_retx, fin_acked_after_timeout_rewind)
{
	uint32_t iss;
	int h = open_passive(9201, 65535, &iss);
	static char data[3000];
	memset(data, 'z', sizeof(data));
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	cr_assert_eq(bp_shutdown(H.app, h), 0);
	struct pkt_tcp p;
	bool fin = false;
	uint32_t got = 0;
	while (!fin) {
		EXPECT_SEG(p, 1000);
		got += p.payload_len;
		fin = p.flags & TCPF_FIN;
	}
	cr_assert_eq(got, sizeof(data));
	uint32_t snd_max = iss + 1 + sizeof(data) + 1;
	/* the peer is silent: the timer resends from snd_una */
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.seq, iss + 1, "want a retransmission from snd_una, got seq %u", p.seq - iss);
	/* now the peer's late ACK of everything, with its FIN */
	h_inject(&(struct seg){ .flags = TCPF_FIN | TCPF_ACK, .seq = PEER_ISN + 1, .ack = snd_max,
				.wnd = 65535 });
	bool acked = false;
	for (int i = 0; i < 8 && !acked; i++) {
		EXPECT_SEG(p, 1000);
		acked = p.ack == PEER_ISN + 2 && !p.payload_len && !(p.flags & TCPF_FIN);
	}
	cr_assert(acked, "the peer's FIN was not acknowledged");
	cr_assert_eq(p.seq, snd_max, "the ACK of the peer's FIN carries seq snd_una+%u, not snd_max",
		     p.seq - iss - 1);
	/* both FINs are acknowledged: nothing more to send */
	expect_no_segment(1200);
	char b;
	WAIT_FOR(bp_recv(H.app, h, &b, 1) == 0, 1000);
	bp_close(H.app, h);
}

/* the gaps between retransmissions must grow, and the flow give up */
static void expect_backoff_then_rst(uint32_t seq, bool fin)
{
	struct pkt_tcp p;
	uint64_t t[4];
	uint64_t retx0 = dp_fp_counter(&H.dp, DPC_TX_RETX);
	t[0] = now_ms();
	for (int i = 1; i < 4; i++) {
		EXPECT_SEG(p, 2000);
		t[i] = now_ms();
		cr_assert_eq(p.seq, seq, "retransmission %d: seq %u, want %u", i, p.seq, seq);
		cr_assert_eq(!!(p.flags & TCPF_FIN), fin, "retransmission %d: flags 0x%x", i, p.flags);
		cr_assert_not(p.flags & TCPF_RST, "RST before max_retries");
	}
	/* tx_retransmits counts segments, once each */
	uint64_t retx = dp_fp_counter(&H.dp, DPC_TX_RETX) - retx0;
	cr_assert_eq(retx, 3, "3 segments resent, tx_retransmits grew by %llu", (unsigned long long)retx);
	uint64_t g1 = t[2] - t[1], g2 = t[3] - t[2];
	cr_assert_geq(g2, g1 * 3 / 2, "no backoff: %llu ms then %llu ms", (unsigned long long)g1,
		      (unsigned long long)g2);
	/* the third timeout after max_retries retransmissions: RST */
	EXPECT_SEG(p, 3000);
	cr_assert(p.flags & TCPF_RST, "want RST after max_retries, got flags 0x%x", p.flags);
	expect_no_segment(1000);
}

/* our FIN after the peer's (LAST-ACK here), never acknowledged */
Test(close_retx, unanswered_fin_backs_off_then_resets)
{
	uint32_t iss;
	int h = open_passive(9202, 65535, &iss);
	h_inject(&(struct seg){ .flags = TCPF_FIN | TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 2);
	char b;
	WAIT_FOR(bp_recv(H.app, h, &b, 1) == 0, 1000);
	bp_close(H.app, h);
	EXPECT_SEG(p, 1000);
	cr_assert(p.flags & TCPF_FIN);
	expect_backoff_then_rst(iss + 1, true);
}

/* data the peer never acknowledges */
Test(close_retx, unanswered_data_backs_off_then_resets)
{
	uint32_t iss;
	int h = open_passive(9203, 65535, &iss);
	cr_assert_eq(bp_send(H.app, h, "hello", 5), 5);
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.payload_len, 5);
	expect_backoff_then_rst(iss + 1, false);
	char b;
	WAIT_FOR(bp_recv(H.app, h, &b, 1) == -ETIMEDOUT, 1000);
	/* three timeouts resent, the fourth gave up */
	cr_assert_eq(h_count(DPC_RTO), 3, "retransmission_timeouts %lu",
		     (unsigned long)h_count(DPC_RTO));
}

/* a peer that keeps answering our zero-window probes keeps the flow, even
 * past max_retries probes (Linux does the same), and the probes back off */
Test(close_retx, answered_window_probes_keep_flow)
{
	uint32_t iss;
	int h = open_passive(9204, 0, &iss);
	cr_assert_eq(bp_send(H.app, h, "0123456789", 10), 10);
	struct pkt_tcp p;
	uint64_t t[7];
	t[0] = now_ms();
	for (int i = 1; i < 7; i++) {
		EXPECT_SEG(p, 2000);
		t[i] = now_ms();
		cr_assert_not(p.flags & TCPF_RST, "probe %d: the flow was reset", i);
		cr_assert_eq(p.payload_len, 0);
		cr_assert_eq(p.seq, iss, "probe %d uses snd_una - 1", i);
		h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 1,
					.wnd = 0 });
	}
	cr_assert_geq(t[3] - t[2], (t[2] - t[1]) * 3 / 2, "probes do not back off");
	cr_assert_eq(bp_ready(H.app, h) & BP_ERROR, 0);
	/* the window opens: the data goes */
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 1, .wnd = 65535 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.seq, iss + 1);
	cr_assert_eq(p.payload_len, 10);
}

/*
 * A passive open on @port: the peer sends 1,000 bytes (unread by the
 * app), we close first, the peer's FIN follows: TIME_WAIT.  Returns the
 * handle; *@iss is our ISN.
 */
static int to_time_wait(uint16_t port, uint32_t *iss)
{
	int h = open_passive(port, 65535, iss);
	static char data[1000];
	memset(data, 'd', sizeof(data));
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = PEER_ISN + 1, .ack = *iss + 1,
				.wnd = 65535, .data = data, .len = sizeof(data) });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 1001);
	WAIT_FOR(bp_rx_avail(H.app, h) == 1000, 1000);
	cr_assert_eq(bp_shutdown(H.app, h), 0);
	EXPECT_SEG(p, 1000);
	cr_assert(p.flags & TCPF_FIN);
	h_inject(&(struct seg){ .flags = TCPF_FIN | TCPF_ACK, .seq = PEER_ISN + 1001,
				.ack = *iss + 2, .wnd = 65535 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 1002);
	usleep(50000); /* the slowpath sees both FINs: TIME_WAIT */
	return h;
}

/*
 * A SYN reusing a TIME_WAIT tuple opens a new connection only above the
 * old one's final RCV.NXT (RFC 1122 4.2.2.13), not anywhere above its ISN:
 * one inside the bytes it carried gets the fastpath's challenge ACK.
 */
Test(close_retx, time_wait_reuse_needs_a_syn_above_the_old_data)
{
	uint32_t iss;
	int h = to_time_wait(8099, &iss); /* TIME_WAIT is 200 ms here */
	struct pkt_tcp p;
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN + 500, .wnd = 65535,
				.mss = 1460, .wscale = -1 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & (TCPF_SYN | TCPF_ACK | TCPF_RST), TCPF_ACK,
		     "a SYN inside the old data: challenge ACK, flags 0x%x", p.flags);
	cr_assert_eq(p.ack, PEER_ISN + 1002);
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN + 5000, .wnd = 65535,
				.mss = 1460, .wscale = -1 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & (TCPF_SYN | TCPF_ACK), TCPF_SYN | TCPF_ACK,
		     "a SYN above it: a new connection");
	cr_assert_eq(p.ack, PEER_ISN + 5001);
	bp_close(H.app, h);
}

/*
 * As Linux's: a SYN reopening a TIME_WAIT tuple gets an ISN a window past
 * the old connection's SND.NXT (its data and FIN), so no segment of the
 * old incarnation passes for one of the new.
 */
Test(close_retx, time_wait_reuse_isn_is_past_the_old_snd_nxt)
{
	uint32_t iss;
	int h = open_passive(8098, 65535, &iss);
	static char data[3000];
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	struct pkt_tcp p;
	uint32_t sent = 0;
	while (sent < sizeof(data)) {
		EXPECT_SEG(p, 1000);
		sent += p.payload_len;
	}
	cr_assert_eq(bp_shutdown(H.app, h), 0);
	do
		EXPECT_SEG(p, 1000);
	while (!(p.flags & TCPF_FIN));
	uint32_t snd_nxt = iss + 1 + sizeof(data) + 1;
	h_inject(&(struct seg){ .flags = TCPF_FIN | TCPF_ACK, .seq = PEER_ISN + 1, .ack = snd_nxt,
				.wnd = 65535 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 2);
	usleep(50000); /* the slowpath sees both FINs: TIME_WAIT */
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN + 5000, .wnd = 65535,
				.mss = 1460, .wscale = -1 });
	do
		EXPECT_SEG(p, 1000);
	while (!(p.flags & TCPF_SYN));
	cr_assert_eq(p.seq, snd_nxt + 65537, "the new ISN %u, the old SND.NXT %u", p.seq, snd_nxt);
	bp_close(H.app, h);
}

static void long_time_wait(struct bp_config *c)
{
	short_retries(c);
	c->time_wait_ms = 30000;
}

static void start_long_tw(void) { h_start_with(long_time_wait); }

TestSuite(close_tw, .init = start_long_tw, .fini = h_stop, .timeout = 30);

/*
 * As Linux's default (net.ipv4.tcp_rfc1337 = 0): an RST exactly at
 * RCV.NXT ends TIME_WAIT, so the tuple is free again at once; an RST
 * anywhere else leaves it.  The app's unread bytes and its EOF stand.
 */
Test(close_tw, an_rst_at_rcv_nxt_ends_time_wait)
{
	uint32_t iss;
	H.peer_port = 40001;
	int h = to_time_wait(8098, &iss); /* TIME_WAIT is 30 s here */
	struct pkt_tcp p;

	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 1003 });
	usleep(50000);
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN + 500, .wnd = 65535,
				.mss = 1460, .wscale = -1 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & (TCPF_SYN | TCPF_ACK | TCPF_RST), TCPF_ACK,
		     "an RST off RCV.NXT ended TIME_WAIT: flags 0x%x", p.flags);

	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 1002 });
	usleep(50000);
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN + 500, .wnd = 65535,
				.mss = 1460, .wscale = -1 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & (TCPF_SYN | TCPF_ACK), TCPF_SYN | TCPF_ACK,
		     "after an RST at RCV.NXT the tuple takes a new connection: flags 0x%x",
		     p.flags);
	cr_assert_eq(p.ack, PEER_ISN + 501);

	char buf[2000];
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 1000, "the unread bytes stand");
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 0, "then EOF, not a reset");
	bp_close(H.app, h);
}
