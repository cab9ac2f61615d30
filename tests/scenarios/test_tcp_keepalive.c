// SPDX-License-Identifier: MIT
/*
 * Keepalive scenarios: an idle SO_KEEPALIVE flow probes its peer, an
 * answer keeps it alive, silence fails it with ETIMEDOUT.
 */
#include <errno.h>
#include "harness.h"

#define PEER_ISN 7000000u

static void fast_keepalive(struct bp_config *c)
{
	c->keepalive_idle_ms = 200;
	c->keepalive_intvl_ms = 100;
	c->keepalive_probes = 2;
}

static void start(void) { h_start_with(fast_keepalive); }

TestSuite(keepalive, .init = start, .fini = h_stop, .timeout = 30);

static int open_passive(uint16_t port, uint32_t *iss)
{
	int l = bp_listen(H.app, 0, port, 16);
	cr_assert_geq(l, 0);
	H.our_port = port;
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN, .wnd = 65535, .mss = 1460,
				.wscale = -1 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	*iss = p.seq;
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = p.seq + 1,
				.wnd = 65535 });
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	return h;
}

Test(keepalive, probes_then_times_out)
{
	uint32_t iss;
	int h = open_passive(9101, &iss);
	struct pkt_tcp p;
	expect_no_segment(100); /* without SO_KEEPALIVE an idle flow stays silent */
	cr_assert_eq(bp_keepalive(H.app, h, true), 0);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.seq, iss, "a probe carries snd_nxt - 1");
	cr_assert_eq(p.payload_len, 0);
	/* the peer answers: the flow stays up and probing starts over later */
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535 });
	expect_no_segment(150);
	cr_assert_eq(bp_ready(H.app, h) & BP_ERROR, 0);
	/* now silence: two more probes, then the flow fails */
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.seq, iss);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.seq, iss);
	EXPECT_SEG(p, 1000);
	cr_assert(p.flags & TCPF_RST, "after the last unanswered probe: RST, got 0x%x", p.flags);
	char b;
	WAIT_FOR(bp_recv(H.app, h, &b, 1) == -ETIMEDOUT, 1000);
}

/* the peer's window/keepalive probe (a bare segment at rcv_nxt - 1) is
 * answered: a peer whose window update got lost must not wait forever */
Test(keepalive, peer_probe_is_answered)
{
	uint32_t iss;
	open_passive(9102, &iss);
	struct pkt_tcp p;
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN, .ack = iss + 1, .wnd = 65535 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 1);
	cr_assert_gt(p.wnd, 0, "the answer carries the open window");
	/* an ordinary pure ACK (seq = rcv_nxt) must not be answered: no ACK loop */
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 1, .wnd = 65535 });
	expect_no_segment(100);
}
