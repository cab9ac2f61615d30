// SPDX-License-Identifier: MIT
/*
 * Scripted TCP conformance scenarios: inject these segments, expect those.
 * See harness.h for the setup (real daemon, ring port, real libbypass).
 */
#include <errno.h>
#include "harness.h"
#include "bp_internal.h" /* the app's event queue, to count entries */

#define PEER_ISN 1000000u

static void tiny_rx_buf(struct bp_config *c) { c->rx_buf_size = 4096; }
static void start_tiny_rx(void) { h_start_with(tiny_rx_buf); }

static void ack_seg(uint32_t seq, uint32_t ack, uint16_t wnd)
{
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = seq, .ack = ack, .wnd = wnd });
}

static void data_seg(uint32_t seq, uint32_t ack, const char *data, uint32_t len)
{
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = seq, .ack = ack, .wnd = 65535,
				.data = data, .len = len });
}

/* listen, run the three-way handshake as the peer, accept */
static int open_passive(uint16_t port, int8_t wscale, uint16_t final_wnd, uint32_t *iss)
{
	int l = bp_listen(H.app, 0, port, 16);
	cr_assert_geq(l, 0, "listen: %d", l);
	H.our_port = port;
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN, .wnd = 65535, .mss = 1460,
				.wscale = wscale });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK, "want SYN-ACK, got 0x%x", p.flags);
	cr_assert_eq(p.ack, PEER_ISN + 1);
	cr_assert_eq(p.opts.mss, 1460);
	if (wscale < 0)
		cr_assert_eq(p.opts.wscale, -1, "window scale offered to a peer that did not");
	else
		cr_assert_geq(p.opts.wscale, 0);
	cr_assert_not(p.opts.sack_ok);
	*iss = p.seq;
	ack_seg(PEER_ISN + 1, p.seq + 1, final_wnd);
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	return h;
}

TestSuite(tcp, .init = h_start, .fini = h_stop, .timeout = 30);

Test(tcp, handshake_data_both_ways)
{
	uint32_t iss;
	int h = open_passive(8080, 0, 65535, &iss);
	struct bp_flow_info fi;
	cr_assert_eq(bp_flow_info(H.app, h, &fi), 0);
	cr_assert_eq(fi.remote_port, H.peer_port);
	cr_assert_eq(fi.remote_ip, H.peer_ip);

	data_seg(PEER_ISN + 1, iss + 1, "hello", 5);
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_ACK);
	cr_assert_eq(p.ack, PEER_ISN + 6);
	cr_assert_eq(p.payload_len, 0);
	cr_assert_gt(p.wnd, 0);

	char buf[16];
	WAIT_FOR(bp_rx_avail(H.app, h) == 5, 1000);
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 5);
	cr_assert_arr_eq(buf, "hello", 5);
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), -EAGAIN);

	cr_assert_eq(bp_send(H.app, h, "world", 5), 5);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & (TCPF_ACK | TCPF_SYN | TCPF_FIN), TCPF_ACK);
	cr_assert_eq(p.seq, iss + 1);
	cr_assert_eq(p.ack, PEER_ISN + 6);
	cr_assert_eq(p.payload_len, 5);
	cr_assert_arr_eq(p.payload, "world", 5);
	ack_seg(PEER_ISN + 6, iss + 6, 65535);
	WAIT_FOR(bp_tx_space(H.app, h) == H.dp.cfg.tx_buf_size, 1000);
}

/* events queued for slot @h in core 0's event queue (taken off it) */
static int events_for(int h)
{
	struct bp_event ev;
	int n = 0;

	while (!bp_queue_pop(&H.app->fp_evq[0], &ev))
		n += ev.slot == (uint32_t)h;
	return n;
}

/* a response that also acks the request: RX and TX news at once cost the
 * app one event queue entry, not two (a queue of N entries would
 * otherwise overflow at N / 2 flows in request/response) */
Test(tcp, response_acking_the_request_is_one_event)
{
	uint32_t iss;
	int h = open_passive(8099, 0, 65535, &iss);
	struct bp_pollev evs[8];
	struct pkt_tcp p;

	cr_assert_eq(bp_send(H.app, h, "req", 3), 3);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.payload_len, 3);
	usleep(20000);
	bp_poll(H.app, evs, 8, 0); /* what came before the response */
	events_for(h);
	data_seg(PEER_ISN + 1, iss + 4, "resp", 4); /* data, and the ACK of "req" */
	for (int i = 0; i < 1000 && bp_rx_avail(H.app, h) != 4; i++)
		usleep(1000);
	cr_assert_eq(bp_rx_avail(H.app, h), 4);
	usleep(20000); /* the round that took it posts its events */
	cr_assert_eq(events_for(h), 1, "one event for data and ACK together");
	cr_assert_eq(bp_tx_space(H.app, h), H.dp.cfg.tx_buf_size, "the ACK was taken");
}

/* the peer sends @len bytes at @seq; wait for our ACK and for the app to
 * see @avail readable bytes; return the ACK */
static struct pkt_tcp deliver(int h, uint32_t seq, uint32_t ack, const char *data, uint32_t len,
			      size_t avail)
{
	struct pkt_tcp p;

	data_seg(seq, ack, data, len);
	EXPECT_SEG(p, 1000);
	WAIT_FOR(bp_rx_avail(H.app, h) == avail, 1000);
	return p;
}

/* news for a flow whose last event the app has not read yet costs no
 * second entry: the app looks at the slot once and sees it all */
Test(tcp, unread_event_is_not_doubled)
{
	uint32_t iss;
	int h = open_passive(8096, 0, 65535, &iss);
	uint32_t seq = PEER_ISN + 1;
	char buf[16];

	usleep(20000);
	events_for(h); /* whatever the handshake left */
	uint64_t coalesced = dp_fp_counter(&H.dp, DPC_EV_COALESCED);
	for (int i = 0; i < 3; i++, seq += 4)
		deliver(h, seq, iss + 1, "abcd", 4, (size_t)(4 * (i + 1)));
	usleep(20000);
	cr_assert_eq(events_for(h), 1, "three segments, one unread event");
	cr_assert_geq(dp_fp_counter(&H.dp, DPC_EV_COALESCED), coalesced + 2);
	/* read (the tail moved): the next news gets an event again */
	deliver(h, seq, iss + 1, "efgh", 4, 16);
	usleep(20000);
	cr_assert_eq(events_for(h), 1, "news after the read must be told");
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 16);
	cr_assert_arr_eq(buf, "abcdabcdabcdefgh", 16);
}

/*
 * Request/response keeps to the rings' first bytes: an rx ring the app
 * has read empty, and a tx ring whose bytes are all acknowledged, start
 * over at offset 0 (bp_flow_shm rx_shift/tx_shift), so a long-lived flow
 * of small messages touches one page per ring, not all of them.
 */
Test(tcp, request_response_reuses_the_rings_first_bytes)
{
	uint32_t iss;
	int h = open_passive(8098, 0, 65535, &iss);
	uint8_t *rx = bpi_rx_ring(H.app, (uint32_t)h), *tx = bpi_tx_ring(H.app, (uint32_t)h);
	uint32_t seq = PEER_ISN + 1, ack = iss + 1;
	struct pkt_tcp p;
	char req[40], resp[40], buf[64];

	for (int round = 0; round < 5; round++) {
		snprintf(req, sizeof(req), "request number %d, 33 bytes long", round);
		snprintf(resp, sizeof(resp), "response %d, 24 bytes..", round);
		p = deliver(h, seq, ack, req, 33, 33);
		cr_assert_eq(p.ack, seq + 33);
		/* round r's request sits at offset 0, not at 33 * r */
		cr_assert_arr_eq(rx, req, 33, "round %d: request not at the ring's start", round);
		cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 33);
		cr_assert_arr_eq(buf, req, 33);
		seq += 33;

		cr_assert_eq(bp_send(H.app, h, resp, 24), 24);
		cr_assert_arr_eq(tx, resp, 24, "round %d: response not at the ring's start", round);
		EXPECT_SEG(p, 1000);
		cr_assert_eq(p.seq, ack);
		cr_assert_eq(p.payload_len, 24);
		cr_assert_arr_eq(p.payload, resp, 24);
		ack += 24;
		ack_seg(seq, ack, 65535);
		WAIT_FOR(bp_tx_space(H.app, h) == H.dp.cfg.tx_buf_size, 1000);
	}
	cr_assert_eq(H.app->flows[h].rx_shift, 4 * 33);
	cr_assert_eq(H.app->flows[h].tx_shift, 4 * 24);
}

/* bytes still unread, or held out of order, keep the ring where it is */
Test(tcp, ring_with_unread_or_held_bytes_does_not_start_over)
{
	uint32_t iss;
	int h = open_passive(8097, 0, 65535, &iss);
	uint32_t seq = PEER_ISN + 1;
	struct pkt_tcp p;
	char buf[64];

	deliver(h, seq, iss + 1, "AAAA", 4, 4);
	cr_assert_eq(bp_recv(H.app, h, buf, 2), 2);
	deliver(h, seq + 4, iss + 1, "BBBB", 4, 6); /* 2 bytes unread */
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 6);
	cr_assert_arr_eq(buf, "AABBBB", 6);
	cr_assert_eq(H.app->flows[h].rx_shift, 0);
	seq += 8;

	/* empty ring, but the next segment is out of order: it is held at
	 * its place, and the hole's filler must not move the ring */
	data_seg(seq + 3, iss + 1, "DDD", 3);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, seq);
	p = deliver(h, seq, iss + 1, "CCC", 3, 6);
	cr_assert_eq(p.ack, seq + 6);
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 6);
	cr_assert_arr_eq(buf, "CCCDDD", 6);
	cr_assert_eq(H.app->flows[h].rx_shift, 0);
	/* now empty with nothing held: the next byte starts over */
	deliver(h, seq + 6, iss + 1, "EE", 2, 2);
	cr_assert_eq(H.app->flows[h].rx_shift, 14);
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 2);
	cr_assert_arr_eq(buf, "EE", 2);
}

Test(tcp, out_of_order_held_and_merged)
{
	uint32_t iss;
	int h = open_passive(8081, 0, 65535, &iss);
	data_seg(PEER_ISN + 6, iss + 1, "BBBBB", 5);
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 1, "out-of-order data must produce a duplicate ACK");
	data_seg(PEER_ISN + 11, iss + 1, "CCCCC", 5); /* extends the held interval */
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 1);
	cr_assert_eq(bp_rx_avail(H.app, h), 0);

	data_seg(PEER_ISN + 1, iss + 1, "AAAAA", 5);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 16, "the hole filled: ACK must cover the held data");
	char buf[32];
	WAIT_FOR(bp_rx_avail(H.app, h) == 15, 1000);
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 15);
	cr_assert_arr_eq(buf, "AAAAABBBBBCCCCC", 15);
}

Test(tcp, duplicate_segment_acked_not_delivered_twice)
{
	uint32_t iss;
	int h = open_passive(8082, 0, 65535, &iss);
	struct pkt_tcp p;
	data_seg(PEER_ISN + 1, iss + 1, "hello", 5);
	EXPECT_SEG(p, 1000);
	data_seg(PEER_ISN + 1, iss + 1, "hello", 5);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 6);
	/* overlapping retransmission carrying two new bytes */
	data_seg(PEER_ISN + 4, iss + 1, "lo!!", 4);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 8);
	char buf[16];
	WAIT_FOR(bp_rx_avail(H.app, h) == 7, 1000);
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 7);
	cr_assert_arr_eq(buf, "hello!!", 7);
}

Test(tcp, three_dupacks_fast_retransmit)
{
	uint32_t iss;
	int h = open_passive(8083, 0, 65535, &iss);
	static char data[4000];
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	struct pkt_tcp p;
	uint32_t total = 0;
	while (total < sizeof(data)) {
		EXPECT_SEG(p, 1000);
		cr_assert_eq(p.seq, iss + 1 + total);
		cr_assert_leq(p.payload_len, 1460);
		cr_assert_arr_eq(p.payload, data + total, p.payload_len);
		total += p.payload_len;
	}
	for (int i = 0; i < 3; i++)
		ack_seg(PEER_ISN + 1, iss + 1, 65535);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.seq, iss + 1, "third duplicate ACK must retransmit snd_una");
	cr_assert_eq(p.payload_len, 1460);
	cr_assert_arr_eq(p.payload, data, 1460);
	ack_seg(PEER_ISN + 1, iss + 1 + sizeof(data), 65535);
	expect_no_segment(100);
	WAIT_FOR(bp_tx_space(H.app, h) == H.dp.cfg.tx_buf_size, 1000);
}

Test(tcp, rst_in_window_resets_out_of_window_ignored)
{
	uint32_t iss;
	int h = open_passive(8084, 0, 65535, &iss);
	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 1 + 1000000 });
	usleep(50000);
	char buf[8];
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), -EAGAIN, "blind RST must be ignored");
	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 1 });
	WAIT_FOR(bp_recv(H.app, h, buf, sizeof(buf)) == -ECONNRESET, 1000);
	cr_assert_eq(bp_send(H.app, h, "x", 1), -ECONNRESET);
}

Test(tcp, peer_closes_first)
{
	uint32_t iss;
	int h = open_passive(8085, 0, 65535, &iss);
	h_inject(&(struct seg){ .flags = TCPF_FIN | TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 2, "FIN must be acknowledged");
	char buf[8];
	WAIT_FOR(bp_recv(H.app, h, buf, sizeof(buf)) == 0, 1000);
	cr_assert_eq(bp_close(H.app, h), 0);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & TCPF_FIN, TCPF_FIN);
	cr_assert_eq(p.seq, iss + 1);
	ack_seg(PEER_ISN + 2, iss + 2, 65535);
	/* LAST_ACK done: the connection is gone, a stray segment is reset */
	usleep(100000);
	ack_seg(PEER_ISN + 2, iss + 2, 65535);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & TCPF_RST, TCPF_RST);
}

Test(tcp, we_close_first_time_wait)
{
	uint32_t iss;
	int h = open_passive(8086, 0, 65535, &iss);
	cr_assert_eq(bp_send(H.app, h, "bye", 3), 3);
	cr_assert_eq(bp_shutdown(H.app, h), 0);
	struct pkt_tcp p;
	uint32_t got = 0;
	bool fin = false;
	while (!fin) { /* data then FIN, possibly in one segment */
		EXPECT_SEG(p, 1000);
		got += p.payload_len;
		fin = p.flags & TCPF_FIN;
	}
	cr_assert_eq(got, 3);
	cr_assert_eq(p.seq + p.payload_len, iss + 4, "FIN after the data");
	cr_assert_eq(bp_send(H.app, h, "x", 1), -EPIPE);
	ack_seg(PEER_ISN + 1, iss + 5, 65535);
	h_inject(&(struct seg){ .flags = TCPF_FIN | TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 5,
				.wnd = 65535 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 2);
	char buf[4];
	WAIT_FOR(bp_recv(H.app, h, buf, sizeof(buf)) == 0, 1000);
	/* TIME_WAIT (200 ms here): a retransmitted FIN is ACKed again */
	h_inject(&(struct seg){ .flags = TCPF_FIN | TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 5,
				.wnd = 65535 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & (TCPF_RST | TCPF_ACK), TCPF_ACK);
	cr_assert_eq(p.ack, PEER_ISN + 2);
	usleep(400000);
	h_inject(&(struct seg){ .flags = TCPF_FIN | TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 5,
				.wnd = 65535 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & TCPF_RST, TCPF_RST, "after TIME_WAIT the tuple is free");
	bp_close(H.app, h);
}

Test(tcp, peer_zero_window_then_probe_then_open)
{
	uint32_t iss;
	int h = open_passive(8087, 0, 0, &iss);
	cr_assert_eq(bp_send(H.app, h, "0123456789", 10), 10);
	expect_no_segment(50);
	struct pkt_tcp p;
	EXPECT_SEG(p, 2000); /* persist timer: a window probe */
	cr_assert_eq(p.payload_len, 0);
	cr_assert_eq(p.seq, iss, "probe uses an already-acknowledged sequence number");
	ack_seg(PEER_ISN + 1, iss + 1, 65535);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.seq, iss + 1);
	cr_assert_eq(p.payload_len, 10);
}

/* SO_KEEPALIVE waits for an idle flow; one held by a zero window is not
 * idle: its probes keep the retransmission timer's pace (as on Linux,
 * whose keepalive timer stands aside while data is queued) */
Test(tcp, zero_window_probes_with_keepalive_on)
{
	uint32_t iss;
	int h = open_passive(8088, 0, 0, &iss);
	cr_assert_eq(bp_keepalive(H.app, h, true), 0);
	cr_assert_eq(bp_send(H.app, h, "0123456789", 10), 10);
	struct pkt_tcp p;
	EXPECT_SEG(p, 2000); /* not keepalive_idle_ms (2 h) from now */
	cr_assert_eq(p.payload_len, 0);
	cr_assert_eq(p.seq, iss, "a window probe");
	ack_seg(PEER_ISN + 1, iss + 1, 65535);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.payload_len, 10);
}

TestSuite(tcp_small_buf, .init = start_tiny_rx, .fini = h_stop, .timeout = 30);

Test(tcp_small_buf, our_zero_window_and_update)
{
	uint32_t iss;
	int h = open_passive(8088, -1, 65535, &iss);
	static char data[4096];
	memset(data, 'z', sizeof(data));
	struct pkt_tcp p;
	uint32_t off = 0;
	while (off < sizeof(data)) {
		uint32_t n = sizeof(data) - off > 1460 ? 1460 : sizeof(data) - off;
		data_seg(PEER_ISN + 1 + off, iss + 1, data + off, n);
		off += n;
		EXPECT_SEG(p, 1000);
	}
	cr_assert_eq(p.ack, PEER_ISN + 1 + 4096);
	cr_assert_eq(p.wnd, 0, "a full receive buffer must advertise a zero window");
	data_seg(PEER_ISN + 1 + 4096, iss + 1, "!", 1); /* beyond the window: dropped */
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 1 + 4096);
	cr_assert_eq(p.wnd, 0);

	static char buf[4096];
	WAIT_FOR(bp_rx_avail(H.app, h) == 4096, 1000);
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 4096);
	EXPECT_SEG(p, 1000);
	cr_assert_gt(p.wnd, 1460, "reading must open the window");
}

Test(tcp, active_open_via_arp)
{
	struct pkt_tcp syn, p;
	int h = h_connect_until_syn(80, &syn);
	h_inject(&(struct seg){ .flags = TCPF_SYN | TCPF_ACK, .seq = PEER_ISN, .ack = syn.seq + 1,
				.wnd = 65535, .mss = 1400, .wscale = 2 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_ACK);
	cr_assert_eq(p.ack, PEER_ISN + 1);
	WAIT_FOR(bp_connect_status(H.app, h) == 0, 1000);
	static char data[3000];
	memset(data, 'q', sizeof(data));
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.payload_len, 1400, "the peer's MSS must be honoured");
}

Test(tcp, active_open_refused)
{
	struct pkt_tcp syn;
	int h = h_connect_until_syn(81, &syn);
	h_inject(&(struct seg){ .flags = TCPF_RST | TCPF_ACK, .seq = 0, .ack = syn.seq + 1 });
	WAIT_FOR(bp_connect_status(H.app, h) == -ECONNREFUSED, 1000);
}

/*
 * A doorbell that reaches the fastpath before the flow's FLOW_ADD names no
 * flow and is dropped.  The bytes it announced must go out all the same:
 * the fastpath reads tx_written when it installs the flow.  Here the bytes
 * are written while the handshake is still under way, with no doorbell.
 */
Test(tcp, bytes_written_before_the_install_are_sent)
{
	struct pkt_tcp syn, p;
	int h = h_connect_until_syn(82, &syn);
	struct dp_app *app = &H.dp.apps[0];
	struct bp_flow_shm *fs = &app->flows[h];
	uint8_t *tx = app->base + dp_app_slot_rx_off(app, (uint32_t)h) + app->rx_buf_size;

	memcpy(tx + bp_ring_off(0, fs->tx_shift, app->tx_buf_size), "early", 5);
	__atomic_store_n(&fs->tx_written, 5, __ATOMIC_RELEASE);
	h_inject(&(struct seg){ .flags = TCPF_SYN | TCPF_ACK, .seq = PEER_ISN, .ack = syn.seq + 1,
				.wnd = 65535, .mss = 1460, .wscale = 2 });
	bool sent = false;
	for (int i = 0; i < 4 && !sent && h_next_tcp(&p, 500); i++)
		sent = p.payload_len == 5 && !memcmp(p.payload, "early", 5) && p.seq == syn.seq + 1;
	cr_assert(sent, "the bytes written before the flow was installed were not sent");
}

Test(tcp, bad_checksum_dropped_and_counted)
{
	uint32_t iss;
	int h = open_passive(8089, 0, 65535, &iss);
	uint64_t before = dp_fp_counter(&H.dp, DPC_RX_DROP_BAD);
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535, .data = "evil", .len = 4, .bad_csum = true });
	WAIT_FOR(dp_fp_counter(&H.dp, DPC_RX_DROP_BAD) == before + 1, 1000);
	expect_no_segment(100);
	cr_assert_eq(bp_rx_avail(H.app, h), 0);
	cr_assert_eq(dp_fp_counter(&H.dp, DPC_RX_DROP_BAD), before + 1);
	cr_assert_eq(dp_drop_reason(&H.dp, PKT_BAD_TCP_CSUM), 1);
}

Test(tcp, closed_port_refuses_with_rst)
{
	H.our_port = 9999;
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN, .wnd = 65535, .mss = 1460 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_RST | TCPF_ACK);
	cr_assert_eq(p.ack, PEER_ISN + 1);
}

Test(tcp, listen_port_in_use)
{
	cr_assert_geq(bp_listen(H.app, 0, 7000, 8), 0);
	cr_assert_eq(bp_listen(H.app, 0, 7000, 8), -EADDRINUSE);
}

Test(tcp, rst_in_time_wait_keeps_unread_data)
{
	uint32_t iss;
	int h = open_passive(8090, 0, 65535, &iss);
	cr_assert_eq(bp_shutdown(H.app, h), 0); /* we close first: TIME_WAIT follows */
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & TCPF_FIN, TCPF_FIN);
	ack_seg(PEER_ISN + 1, iss + 2, 65535);
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH | TCPF_FIN, .seq = PEER_ISN + 1,
				.ack = iss + 2, .wnd = 65535, .data = "tail", .len = 4 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 6);
	usleep(50000);
	/* the peer is gone and answers a stray segment with RST: the bytes
	 * we already acknowledged must still reach the app (RFC 1337) */
	h_inject(&(struct seg){ .flags = TCPF_RST, .seq = PEER_ISN + 6 });
	usleep(50000);
	char buf[8];
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 4);
	cr_assert_arr_eq(buf, "tail", 4);
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 0);
	expect_no_segment(50); /* and no window update after the peer's FIN */
}

Test(tcp, shared_listeners_split_connections)
{
	int a = bp_listen_flags(H.app, 0, 8091, 8, BP_LISTEN_SHARED);
	int b = bp_listen_flags(H.app, 0, 8091, 8, BP_LISTEN_SHARED);
	cr_assert_geq(a, 0);
	cr_assert_geq(b, 0);
	cr_assert_eq(bp_listen(H.app, 0, 8091, 8), -EADDRINUSE, "a private listener may not join");
	cr_assert_geq(bp_listen_flags(H.app, 0, 7001, 8, 0), 0);
	cr_assert_eq(bp_listen_flags(H.app, 0, 7001, 8, BP_LISTEN_SHARED), -EADDRINUSE,
		     "a shared listener may not join a private one");
	H.our_port = 8091;
	/* two handshakes; nobody accepts in between, so the second one goes
	 * to the other (now less loaded) listener */
	for (int i = 0; i < 2; i++) {
		H.peer_port = (uint16_t)(41000 + i);
		h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN, .wnd = 65535, .mss = 1460 });
		struct pkt_tcp p;
		EXPECT_SEG(p, 1000);
		cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
		ack_seg(PEER_ISN + 1, p.seq + 1, 65535);
	}
	int ha = -1, hb = -1;
	WAIT_FOR((ha >= 0 || (ha = bp_accept(H.app, a)) >= 0) &&
		 (hb >= 0 || (hb = bp_accept(H.app, b)) >= 0), 1000);
	cr_assert_neq(ha, hb);
}

/* RFC 1122: a SYN with a higher sequence number reuses a TIME_WAIT tuple;
 * the old incarnation's teardown must not take the new one with it (the
 * new flow keeps working after the old one is deleted).  The app closes
 * first, so TIME_WAIT also gives the app's slot back at once. */
Test(tcp, syn_reuses_time_wait_tuple)
{
	uint32_t iss;
	int l = -1;
	int h = open_passive(8095, 0, 65535, &iss);
	cr_assert_eq(bp_close(H.app, h), 0);
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert(p.flags & TCPF_FIN);
	h_inject(&(struct seg){ .flags = TCPF_FIN | TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 2,
				.wnd = 65535 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 2); /* now in TIME_WAIT */
	WAIT_FOR(H.app && H.dp.apps[0].slots_used == 1, 1000); /* only the listener */

	uint32_t isn2 = PEER_ISN + 100000;
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = isn2, .wnd = 65535, .mss = 1460,
				.wscale = 0 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & (TCPF_SYN | TCPF_ACK), TCPF_SYN | TCPF_ACK, "new incarnation accepted");
	uint32_t iss2 = p.seq;
	usleep(50000); /* the old incarnation's deletion completes meanwhile */
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = isn2 + 1, .ack = iss2 + 1, .wnd = 65535 });
	l = 0; /* the listener is slot 0 of this app */
	int h2 = -1;
	WAIT_FOR((h2 = bp_accept(H.app, l)) >= 0, 1000);
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = isn2 + 1, .ack = iss2 + 1,
				.wnd = 65535, .data = "again", .len = 5 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & TCPF_RST, 0, "the new connection must not be reset");
	cr_assert_eq(p.ack, isn2 + 6);
	char buf[8];
	WAIT_FOR(bp_rx_avail(H.app, h2) == 5, 1000);
	cr_assert_eq(bp_recv(H.app, h2, buf, sizeof(buf)), 5);
}

/* ------------------------------------------------ a port that backs up */

static void patient_rto(struct bp_config *c) { c->min_rto_ms = 5000; }
static void start_tiny_port(void)
{
	h_tx_ring_size = 16;
	h_start_with(patient_rto);
}

TestSuite(tcp_tiny_port, .init = start_tiny_port, .fini = h_stop, .timeout = 30);

/* A port whose queue is full takes nothing for a while: the frames wait in
 * the daemon, in order, instead of being dropped (and resent a timeout
 * later). */
Test(tcp_tiny_port, full_tx_queue_defers_instead_of_dropping)
{
	enum { MSS = 1460, SEGS = 44 }; /* 64,240 bytes: within the 64 KiB tx ring */
	static char data[SEGS * MSS];
	uint32_t iss;
	int h = open_passive(8090, 7, 65535, &iss);

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + i / MSS);
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	/* the first window goes out; ACK it segment by segment without
	 * taking anything off the 15-frame ring, so slow start doubles */
	WAIT_FOR(rte_ring_count(H.tx) > 0, 1000);
	usleep(20000);
	for (uint32_t a = 1; a <= 10; a++)
		ack_seg(PEER_ISN + 1, iss + 1 + a * MSS, 65535);
	WAIT_FOR(dp_fp_counter(&H.dp, DPC_TX_DEFERRED) > 0, 2000);

	/* now drain: every byte exactly once, in order, no gap */
	uint32_t next = iss + 1, end = iss + 1 + (uint32_t)sizeof(data);
	uint64_t deadline = rte_rdtsc() + rte_get_tsc_hz() * 10;
	while (next != end) {
		struct pkt_tcp p;
		cr_assert(rte_rdtsc() < deadline, "stalled at %u of %u bytes", next - iss - 1,
			  (unsigned)sizeof(data));
		if (!h_next_tcp(&p, 50)) {
			ack_seg(PEER_ISN + 1, next, 65535); /* open the window further */
			continue;
		}
		if (!p.payload_len)
			continue;
		cr_assert_eq(p.seq, next, "gap or resend: got seq +%u, want +%u", p.seq - iss - 1,
			     next - iss - 1);
		cr_assert_arr_eq(p.payload, data + (next - iss - 1), p.payload_len);
		next += p.payload_len;
	}
	ack_seg(PEER_ISN + 1, end, 65535);
	cr_assert_eq(dp_fp_counter(&H.dp, DPC_TX_FULL), 0, "frames were dropped");
	cr_assert_eq(dp_fp_counter(&H.dp, DPC_TX_RETX), 0, "segments were resent");
}

/* ------------------------------------------------------ delayed ACKs */

#define DELACK_US 400000 /* far above any scheduling noise: "at once" is clear */
static void slow_delack(struct bp_config *c) { c->delayed_ack_us = DELACK_US; }
static void start_slow_delack(void) { h_start_with(slow_delack); }

TestSuite(tcp_delack, .init = start_slow_delack, .fini = h_stop, .timeout = 30);

/* a request the app answers: the response carries its ACK, and no bare
 * ACK comes before it or after it */
Test(tcp_delack, response_carries_the_ack)
{
	uint32_t iss;
	int h = open_passive(8200, 0, 65535, &iss);
	char buf[8];
	struct pkt_tcp p;

	data_seg(PEER_ISN + 1, iss + 1, "ping", 4);
	WAIT_FOR(bp_rx_avail(H.app, h) == 4, 1000);
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 4);
	cr_assert_eq(bp_send(H.app, h, "pong", 4), 4);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.payload_len, 4, "a bare ACK went out before the response");
	cr_assert_arr_eq(p.payload, "pong", 4);
	cr_assert_eq(p.ack, PEER_ISN + 5);
	ack_seg(PEER_ISN + 5, iss + 5, 65535);
	expect_no_segment(DELACK_US / 1000 + 200); /* the debt is paid */
}

/* data nobody answers is acknowledged once the delay is over, not before */
Test(tcp_delack, unanswered_data_acked_after_the_delay)
{
	uint32_t iss;
	open_passive(8201, 0, 65535, &iss);
	struct pkt_tcp p;

	uint64_t t0 = rte_rdtsc();
	data_seg(PEER_ISN + 1, iss + 1, "hello", 5);
	data_seg(PEER_ISN + 6, iss + 1, "again", 5); /* one debt, the first deadline */
	EXPECT_SEG(p, DELACK_US / 1000 + 1000);
	uint64_t us = (rte_rdtsc() - t0) * 1000000 / rte_get_tsc_hz();
	cr_assert_eq(p.flags, TCPF_ACK);
	cr_assert_eq(p.payload_len, 0);
	cr_assert_eq(p.ack, PEER_ISN + 11);
	/* the core's clock is read at the start of the round that took the
	 * segment, a few microseconds before t0 at most */
	cr_assert_geq(us, DELACK_US - 1000, "the ACK came after %lu us", (unsigned long)us);
	expect_no_segment(DELACK_US / 1000 + 200);
}

/* RFC 5681 4.2: the second full-sized segment is acknowledged at once */
Test(tcp_delack, every_second_full_segment_acked_at_once)
{
	enum { MSS = 1460 };
	static char data[3 * MSS];
	uint32_t iss;
	int h = open_passive(8202, 0, 65535, &iss);
	struct pkt_tcp p;

	memset(data, 'x', sizeof(data));
	data_seg(PEER_ISN + 1, iss + 1, data, MSS);
	data_seg(PEER_ISN + 1 + MSS, iss + 1, data + MSS, MSS);
	EXPECT_SEG(p, 200);
	cr_assert_eq(p.ack, PEER_ISN + 1 + 2 * MSS);
	/* the third alone waits again */
	data_seg(PEER_ISN + 1 + 2 * MSS, iss + 1, data + 2 * MSS, MSS);
	expect_no_segment(200);
	EXPECT_SEG(p, DELACK_US / 1000 + 1000);
	cr_assert_eq(p.ack, PEER_ISN + 1 + 3 * MSS);
	WAIT_FOR(bp_rx_avail(H.app, h) == sizeof(data), 1000);
}

/* RFC 5681 4.2: out-of-order data, and data that fills the hole, at once */
Test(tcp_delack, out_of_order_and_hole_filling_acked_at_once)
{
	uint32_t iss;
	int h = open_passive(8203, 0, 65535, &iss);
	struct pkt_tcp p;

	data_seg(PEER_ISN + 6, iss + 1, "BBBBB", 5);
	EXPECT_SEG(p, 200);
	cr_assert_eq(p.ack, PEER_ISN + 1, "want a duplicate ACK at once");
	data_seg(PEER_ISN + 1, iss + 1, "AAAAA", 5);
	EXPECT_SEG(p, 200);
	cr_assert_eq(p.ack, PEER_ISN + 11, "want the hole's ACK at once");
	WAIT_FOR(bp_rx_avail(H.app, h) == 10, 1000);
}

/* the peer's FIN is acknowledged at once, with the data before it */
Test(tcp_delack, fin_acked_at_once)
{
	uint32_t iss;
	open_passive(8204, 0, 65535, &iss);
	struct pkt_tcp p;

	data_seg(PEER_ISN + 1, iss + 1, "bye", 3);
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_FIN, .seq = PEER_ISN + 4, .ack = iss + 1,
				.wnd = 65535 });
	EXPECT_SEG(p, 200);
	cr_assert_eq(p.ack, PEER_ISN + 5);
}
