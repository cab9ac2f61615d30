// SPDX-License-Identifier: MIT
/*
 * SYN floods: half-open connections live in a SYN queue of their own and
 * take no app slot or flow id; a full queue answers with a SYN cookie; a
 * valid cookie ACK creates the connection with the MSS, window scale,
 * SACK and ECN it encodes, a forged one gets an RST; SYNs from sources no
 * peer can have get nothing.
 */
#include <errno.h>
#include "harness.h"
#include "sp_internal.h"

#define PEER_ISN 9000000u

static void small_synq(struct bp_config *c)
{
	c->max_half_open = 16;
	c->invalid_ratelimit_ms = 0;
}
static void start(void) { h_start_with(small_synq); }

TestSuite(syncookie, .init = start, .fini = h_stop, .timeout = 30);

static void syn(uint16_t sport, uint32_t seq, uint16_t mss, int8_t wscale, bool sack, bool ecn)
{
	H.peer_port = sport;
	h_inject(&(struct seg){ .flags = TCPF_SYN | (ecn ? TCPF_ECE | TCPF_CWR : 0), .seq = seq,
				.wnd = 65535, .mss = mss, .wscale = wscale, .sack_ok = sack });
}

static struct fp_flow *flow_of_port(uint16_t rport)
{
	for (uint32_t i = 0; i < H.dp.cfg.max_flows; i++) {
		struct fp_flow *f = &H.dp.flows[i];
		if ((__atomic_load_n(&f->flags, __ATOMIC_ACQUIRE) & FPF_ACTIVE) &&
		    f->remote_port == rport)
			return f;
	}
	return NULL;
}

Test(syncookie, full_queue_answers_with_valid_cookie)
{
	int l = bp_listen(H.app, 0, 7000, 2);
	cr_assert_geq(l, 0);
	H.our_port = 7000;
	struct pkt_tcp p;
	/* two half-open connections fill this listener's queue (backlog 2) */
	for (uint16_t i = 0; i < 2; i++) {
		syn(41000 + i, PEER_ISN + i, 1460, 7, true, false);
		EXPECT_SEG(p, 1000);
		cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
	}
	cr_assert_eq(H.dp.sp_counters[DPC_SYN_COOKIE_SENT], 0);
	/* the third is answered statelessly, offering what the SYN asked for */
	syn(41002, PEER_ISN + 2, 1300, 7, true, true);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & (TCPF_SYN | TCPF_ACK), TCPF_SYN | TCPF_ACK);
	cr_assert_eq(p.ack, PEER_ISN + 3);
	cr_assert_geq(p.opts.wscale, 0, "cookie SYN-ACK must keep window scaling");
	cr_assert(p.opts.sack_ok, "cookie SYN-ACK must keep SACK");
	cr_assert(p.flags & TCPF_ECE, "cookie SYN-ACK must accept ECN");
	cr_assert_eq(H.dp.sp_counters[DPC_SYN_COOKIE_SENT], 1);
	uint32_t cookie = p.seq;

	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 3, .ack = cookie + 1,
				.wnd = 1000 });
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	/* counted by the slowpath after the accept went out: the app may
	 * run first (it does when the slowpath's write of the wake eventfd
	 * hands it the CPU) */
	WAIT_FOR(__atomic_load_n(&H.dp.sp_counters[DPC_SYN_COOKIE_OK], __ATOMIC_RELAXED) == 1, 1000);
	struct bp_flow_info fi;
	cr_assert_eq(bp_flow_info(H.app, h, &fi), 0);
	cr_assert_eq(fi.remote_port, 41002);
	struct fp_flow *f = NULL;
	WAIT_FOR((f = flow_of_port(41002)) != NULL, 1000);
	cr_assert_eq(f->mss, 1300, "cookie lost the MSS: %u", f->mss);
	cr_assert_eq(f->snd_wscale, 7, "cookie lost the window scale");
	cr_assert(f->flags & FPF_SACK, "cookie lost SACK");
	cr_assert(f->flags & FPF_ECN, "cookie lost ECN");
	cr_assert_eq(f->peer_wnd, 1000u << 7, "the final ACK's window is scaled");

	/* and it carries data both ways */
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = PEER_ISN + 3,
				.ack = cookie + 1, .wnd = 1000, .data = "hi", .len = 2 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 5);
	char buf[4];
	WAIT_FOR(bp_recv(H.app, h, buf, sizeof(buf)) == 2, 1000);
	cr_assert_eq(bp_send(H.app, h, "yo", 2), 2);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.payload_len, 2);
	cr_assert_eq(p.seq, cookie + 1);
}

Test(syncookie, forged_cookie_ack_refused)
{
	int l = bp_listen(H.app, 0, 7001, 1);
	cr_assert_geq(l, 0);
	H.our_port = 7001;
	struct pkt_tcp p;
	syn(42000, PEER_ISN, 1460, 7, true, false); /* fills the queue */
	EXPECT_SEG(p, 1000);
	syn(42001, PEER_ISN, 1460, 7, true, false); /* a cookie: cookies are in use */
	EXPECT_SEG(p, 1000);
	uint32_t cookie = p.seq;
	/* a blind ACK from a tuple we never sent a cookie to */
	H.peer_port = 42002;
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = cookie + 1,
				.wnd = 65535 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & TCPF_RST, TCPF_RST);
	/* the right tuple with a wrong peer ISN */
	H.peer_port = 42001;
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 2, .ack = cookie + 1,
				.wnd = 65535 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & TCPF_RST, TCPF_RST);
	cr_assert_eq(H.dp.sp_counters[DPC_SYN_COOKIE_BAD], 2);
	cr_assert_eq(H.dp.sp_counters[DPC_SYN_COOKIE_OK], 0);
	usleep(50000);
	cr_assert_lt(bp_accept(H.app, l), 0);
}

Test(syncookie, flood_takes_no_slots_or_flows)
{
	int l = bp_listen(H.app, 0, 7002, 64);
	cr_assert_geq(l, 0);
	H.our_port = 7002;
	struct dp_app *app = NULL;
	for (uint32_t i = 0; i < H.dp.max_apps; i++)
		if (H.dp.apps[i].in_use)
			app = &H.dp.apps[i];
	cr_assert(app);
	uint32_t slots = app->slots_used;
	/* more SYNs than the app has slots (64) and the table has entries (16) */
	for (uint16_t i = 0; i < 200; i++)
		syn(20000 + i, PEER_ISN + 1000 + i * 7u, 1460, 7, true, false);
	struct pkt_tcp p;
	int synacks = 0;
	while (h_next_tcp(&p, 300))
		synacks += (p.flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK);
	cr_assert_geq(synacks, 200, "every SYN gets a SYN-ACK (%d)", synacks);
	cr_assert_eq(app->slots_used, slots, "half-open connections took %u app slots",
		     app->slots_used - slots);
	cr_assert_geq(H.dp.sp_counters[DPC_SYN_COOKIE_SENT], 200 - 16);
	/* a real client still gets in (its SYN meets a full table: a cookie) */
	syn(30000, PEER_ISN, 1460, 7, true, false);
	do /* skip the flood's SYN-ACK retransmissions */
		EXPECT_SEG(p, 1000);
	while (p.dport != 30000);
	cr_assert_eq(p.ack, PEER_ISN + 1);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = p.seq + 1,
				.wnd = 65535 });
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
}

Test(syncookie, bogus_sources_get_nothing)
{
	int l = bp_listen(H.app, 0, 7003, 16);
	cr_assert_geq(l, 0);
	H.our_port = 7003;
	const char *srcs[] = { "0.0.0.0", "255.255.255.255", "224.0.0.1", "198.18.0.255",
			       "198.18.0.1", "127.0.0.1", "240.0.0.1" };
	uint32_t good_ip = H.peer_ip;
	for (unsigned i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		inet_pton(AF_INET, srcs[i], &H.peer_ip);
		syn((uint16_t)(43000 + i), PEER_ISN, 1460, 7, true, false);
	}
	H.peer_ip = good_ip;
	H.peer_mac[0] |= 1; /* a multicast source MAC */
	syn(43100, PEER_ISN, 1460, 7, true, false);
	H.peer_mac[0] &= (uint8_t)~1;
	expect_no_segment(200);
	WAIT_FOR(h_count(DPC_SYN_DROPPED) == 8, 1000); /* counted on the slowpath */
	syn(43101, PEER_ISN, 1460, 7, true, false);
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK | 0, "a good source must still get a SYN-ACK");
}

/*
 * A peer whose final ACK met a full accept queue is connected in its own
 * eyes.  Under SYN pressure, half-open entries get only
 * SYNQ_PRESSURE_RETRIES resends (~1.75 s); one its peer ACKed is no spoof
 * and keeps all of them, so its next segment, once the app accepts again,
 * completes the connection instead of drawing an RST.
 */
Test(syncookie, a_peer_that_acked_into_a_full_accept_queue_is_kept)
{
	int l = bp_listen(H.app, 0, 7004, 2);
	cr_assert_geq(l, 0);
	cr_assert_geq(bp_listen(H.app, 0, 7005, 16), 0);
	H.our_port = 7004;
	struct pkt_tcp p;
	/* A connects, C opens half-way, B connects: the accept queue
	 * (backlog 2) is full, nothing accepted yet */
	syn(44000, PEER_ISN, 1460, 7, true, false);
	EXPECT_SEG(p, 1000);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = p.seq + 1,
				.wnd = 1000 });
	const uint32_t c_isn = PEER_ISN + 500;
	syn(44002, c_isn, 1460, 7, true, false);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
	uint32_t c_iss = p.seq;
	syn(44001, PEER_ISN + 100, 1460, 7, true, false);
	EXPECT_SEG(p, 1000);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 101, .ack = p.seq + 1,
				.wnd = 1000 });
	usleep(50000);
	/* C completes its handshake into the full queue: its ACK is dropped */
	H.peer_port = 44002;
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = c_isn + 1, .ack = c_iss + 1, .wnd = 1000 });
	/* then a flood on another port holds most of the table (16): SYN
	 * pressure, until after C's third resend comes due */
	usleep(30000);
	H.our_port = 7005;
	for (uint16_t i = 0; i < 9; i++)
		syn(45000 + i, PEER_ISN + 2000 + i * 7u, 1460, 7, true, false);
	H.our_port = 7004;
	/* past C's resends under pressure (250 + 500 + 1000 ms) */
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() / 1000 * 2500;
	while (rte_rdtsc() < end)
		if (h_next_tcp(&p, 50))
			cr_assert_eq(p.flags & TCPF_RST, 0, "RST to port %u", p.dport);
	/* the app accepts one; C's next segment completes its connection */
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	H.peer_port = 44002;
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = c_isn + 1, .ack = c_iss + 1,
				.wnd = 1000, .data = "hi", .len = 2 });
	do /* past SYN-ACK resends */
		EXPECT_SEG(p, 1000);
	while (p.dport != 44002 || (p.flags & TCPF_SYN));
	cr_assert_eq(p.flags & TCPF_RST, 0, "C was reset");
	cr_assert_eq(p.ack, c_isn + 3);
	bool found = false;
	for (int n = 0; n < 2 && !found; n++) {
		WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
		struct bp_flow_info fi;
		cr_assert_eq(bp_flow_info(H.app, h, &fi), 0);
		found = fi.remote_port == 44002;
	}
	cr_assert(found, "C was never accepted");
}
