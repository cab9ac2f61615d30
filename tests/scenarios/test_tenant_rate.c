// SPDX-License-Identifier: MIT
/*
 * Scripted scenario: a tenant's egress rate in the real fastpath.  The
 * app's tenant (the default one, id 0) gets a rate the way the slowpath
 * publishes it (relaxed stores, then the generations bumped); its data
 * must leave at that rate after the burst, the flow waiting on the pacing
 * list meanwhile, and the per-core counters must say so.
 */
#include "harness.h"

#define PEER_ISN 7000000u

TestSuite(tenant_rate, .init = h_start, .fini = h_stop, .timeout = 30);

static void set_rate(uint64_t bps, uint64_t burst)
{
	struct dp_tenant *t = &H.dp.tenants[DP_TENANT_DEFAULT];
	__atomic_store_n(&t->policy.rate_bps, bps, __ATOMIC_RELAXED);
	__atomic_store_n(&t->policy.burst_bytes, burst, __ATOMIC_RELAXED);
	__atomic_store_n(&t->policy.weight, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&t->in_use, true, __ATOMIC_RELAXED);
	__atomic_fetch_add(&t->policy_gen, 1, __ATOMIC_RELEASE);
	__atomic_fetch_add(&H.dp.tenants_gen, 1, __ATOMIC_RELEASE);
}

static int open_passive(uint16_t port, uint32_t *iss)
{
	int l = bp_listen(H.app, 0, port, 16);
	cr_assert_geq(l, 0);
	H.our_port = port;
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN, .wnd = 65535, .mss = 1460,
				.wscale = 0 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & (TCPF_SYN | TCPF_ACK), TCPF_SYN | TCPF_ACK);
	*iss = p.seq;
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = p.seq + 1,
				.wnd = 65535 });
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	return h;
}

Test(tenant_rate, data_leaves_at_the_tenant_rate)
{
	enum { MSS = 1460, NSEG = 8 };
	/* 8 Mbit/s: a full segment every 1.46 ms; a burst of two segments */
	set_rate(8000000, 2 * MSS);
	uint32_t iss;
	int h = open_passive(9101, &iss);
	static char data[MSS * NSEG];
	memset(data, 'q', sizeof(data));
	const struct dp_tenant_core *row = &H.dp.tenants[DP_TENANT_DEFAULT].core[0];
	uint64_t bytes0 = __atomic_load_n(&row->tx_bytes, __ATOMIC_RELAXED);
	uint64_t thr0 = __atomic_load_n(&row->throttled, __ATOMIC_RELAXED);

	uint64_t t_send = rte_rdtsc();
	cr_assert_eq(bp_send(H.app, h, data, sizeof(data)), (ssize_t)sizeof(data));
	uint64_t t_last = 0;
	struct pkt_tcp p;
	for (int i = 0; i < NSEG; i++) {
		EXPECT_SEG(p, 1000);
		t_last = rte_rdtsc();
		cr_assert_eq(p.seq, iss + 1 + (uint32_t)(i * MSS), "segment %d in order", i);
		cr_assert_eq(p.payload_len, MSS);
	}
	/* the burst (two segments, and a third that overdraws) goes at once;
	 * from then on one segment per 1.46 ms at most: the last of five more
	 * cannot leave before 5 * 1.46 ms after the send.  Measured from the
	 * send, not from the third segment's arrival: this thread may take
	 * that one late, and the later ones then all at once */
	double ms = (double)(t_last - t_send) * 1000.0 / (double)rte_get_tsc_hz();
	cr_assert_geq(ms, 5 * 1.46 * 0.95, "the last segment came %.2f ms after the send", ms);
	cr_assert_lt(ms, 500, "the throttled flow was never woken (%.2f ms)", ms);
	WAIT_FOR(__atomic_load_n(&row->tx_bytes, __ATOMIC_RELAXED) >= bytes0 + sizeof(data), 1000);
	cr_assert_gt(__atomic_load_n(&row->throttled, __ATOMIC_RELAXED), thr0,
		     "the flow had to wait for tokens: counted");

	/* the rate lifted: what is left goes out at once */
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1,
				.ack = iss + 1 + NSEG * MSS, .wnd = 65535 });
	set_rate(0, 0);
	cr_assert_eq(bp_send(H.app, h, data, 4 * MSS), 4 * MSS);
	for (int i = 0; i < 4; i++) {
		EXPECT_SEG(p, 1000);
		cr_assert_eq(p.seq, iss + 1 + (uint32_t)((NSEG + i) * MSS));
	}
}

Test(tenant_rate, received_bytes_are_counted)
{
	uint32_t iss;
	int h = open_passive(9102, &iss);
	(void)h;
	const struct dp_tenant_core *row = &H.dp.tenants[DP_TENANT_DEFAULT].core[0];
	uint64_t b0 = __atomic_load_n(&row->rx_bytes, __ATOMIC_RELAXED);
	uint64_t p0 = __atomic_load_n(&row->rx_pkts, __ATOMIC_RELAXED);
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535, .data = "hello tenant", .len = 12 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000); /* its ACK */
	cr_assert_eq(p.ack, PEER_ISN + 1 + 12);
	cr_assert_eq(__atomic_load_n(&row->rx_bytes, __ATOMIC_RELAXED), b0 + 12);
	cr_assert_eq(__atomic_load_n(&row->rx_pkts, __ATOMIC_RELAXED), p0 + 1);
	expect_no_segment(20); /* one ACK, nothing else */
}
