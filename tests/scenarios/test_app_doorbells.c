// SPDX-License-Identifier: MIT
/*
 * Doorbells from an app that rings for slots it has no flow on: the
 * fastpath holds such a doorbell until the cores' inboxes have moved on
 * (its FLOW_ADD may be behind it, fastpathd/NOTES.md), then counts it as
 * bad.  Whatever the app
 * pushes, every entry is counted, none is kept, and the core goes on
 * serving the flows that do exist.
 */
#include "harness.h"

#define PEER_ISN 5000000u

TestSuite(doorbells, .init = h_start, .fini = h_stop, .timeout = 30);

/*
 * Push @n doorbells naming @slot onto the app's data queue of core 0 past
 * libbypass, as a misbehaving app would, and wake the core.  libbypass's
 * own view of the queue is stale afterwards: the test must not send.
 */
static void ring_raw(uint32_t slot, uint16_t op, int n)
{
	struct dp_app *app = &H.dp.apps[0];
	struct bp_queue_view v;
	uint64_t one = 1;

	bp_queue_view_init(&v, app->dataq[0].q, app->dataq[0].mask + 1,
			   sizeof(struct bp_doorbell), 1);
	for (int i = 0; i < n; i++) {
		/* more than the queue holds: let the core take some first */
		for (int t = 0; t < 1000 && bp_queue_full(&v); t++) {
			cr_assert_eq(write(H.dp.core[0].kick_fd, &one, sizeof(one)),
				     (ssize_t)sizeof(one));
			usleep(1000);
		}
		cr_assert_eq(bp_queue_push(&v, &(struct bp_doorbell){ .op = op, .slot = slot,
								      .gen = 7 }), 0);
	}
	cr_assert_eq(write(H.dp.core[0].kick_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

Test(doorbells, for_slots_without_a_flow_are_counted_not_kept)
{
	uint32_t iss;
	int h = h_open_passive(8096, PEER_ISN, 1460, &iss);
	uint64_t bad = dp_fp_counter(&H.dp, DPC_APP_BAD_ENTRY);

	/* more than an app may have held (FP_EARLY_PER_APP), of every kind */
	ring_raw(H.dp.apps[0].max_flows - 1, BP_DB_TX, 2 * FP_EARLY_PER_APP);
	ring_raw(H.dp.apps[0].max_flows - 2, BP_DB_RX, 2);
	ring_raw(H.dp.apps[0].max_flows - 3, BP_DB_MSG_SEND, 2);
	ring_raw(UINT32_MAX, BP_DB_TX, 2); /* a slot no app has */
	uint64_t want = bad + 2 * FP_EARLY_PER_APP + 6;
	WAIT_FOR(dp_fp_counter(&H.dp, DPC_APP_BAD_ENTRY) == want, 2000);
	cr_assert_eq(H.dp.apps[0].bad_entries, want - bad);

	/* the live flow is served as before */
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535, .data = "still here", .len = 10 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 11);
	WAIT_FOR(bp_rx_avail(H.app, h) == 10, 1000);
	expect_no_segment(50); /* and nothing more is counted later */
	cr_assert_eq(dp_fp_counter(&H.dp, DPC_APP_BAD_ENTRY), want);
}
