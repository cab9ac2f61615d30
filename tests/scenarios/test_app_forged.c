// SPDX-License-Identifier: MIT
/*
 * An app that lies in its region: the slot states and generations there
 * are the app's to read, and it can write them too.  The slowpath decides
 * from its own record of every slot (slowpath/slots.c), so a forged state
 * frees nothing, and a request that trusted it would have put a slot on
 * the free stack twice, past the stack's end.
 */
#include <fcntl.h>

#include "harness.h"
#include "bp_internal.h"
#include "sp_internal.h"

#define PEER_ISN 7000000u

TestSuite(forged, .init = h_start, .fini = h_stop, .timeout = 30);

/* push @r onto the app's control queue past libbypass and ring the doorbell */
static void ctrl_raw(const struct bp_ctrl_req *r)
{
	struct dp_app *app = &H.dp.apps[0];
	struct bp_queue_view v;
	uint64_t one = 1;

	bp_queue_view_init(&v, app->ctrlq.q, app->ctrlq.mask + 1, sizeof(*r), 1);
	cr_assert_eq(bp_queue_push(&v, r), 0);
	cr_assert_eq(send(H.app->sp_db_fd, &one, sizeof(one), 0), (ssize_t)sizeof(one));
}

Test(forged, a_slot_state_written_by_the_app_frees_nothing)
{
	struct dp_app *app = &H.dp.apps[0];
	uint32_t iss;

	/* first a real connection (libbypass's view of the control queue is
	 * stale once the test pushes past it) */
	cr_assert_geq(h_open_passive(8097, PEER_ISN, 1460, &iss), 0);
	uint32_t slot = 0;
	while (slot < app->max_flows && app->slot_flow[slot] == DP_INVALID_FLOW)
		slot++;
	cr_assert_lt(slot, app->max_flows, "the connection's slot");
	uint32_t used = app->slots_used, free_slot = app->max_flows - 1;
	uint64_t bad = app->bad_entries;
	cr_assert_eq(used, 2, "the listener and the connection");

	/* a free slot made to look in use, then closed: four times over */
	for (int i = 0; i < 4; i++) {
		app->flows[free_slot].state = BP_FS_ESTABLISHED;
		ctrl_raw(&(struct bp_ctrl_req){ .op = BP_CTRL_CLOSE, .slot = free_slot });
		WAIT_FOR(app->bad_entries == bad + (uint64_t)i + 1, 2000);
	}
	cr_assert_eq(app->slots_used, used);

	/* the connection's slot with a forged generation is not closed */
	app->flows[slot].gen += 100;
	ctrl_raw(&(struct bp_ctrl_req){ .op = BP_CTRL_ABORT, .slot = slot,
					.gen = app->flows[slot].gen });
	WAIT_FOR(app->bad_entries == bad + 5, 2000);
	expect_no_segment(50); /* no RST */
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535, .data = "alive", .len = 5 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & TCPF_RST, 0);
	cr_assert_eq(p.ack, PEER_ISN + 6);
	cr_assert_eq(app->slots_used, used);
}

/* wait for @cond without libbypass (whose wait reads the wake fd) */
#define POLL_FOR(cond, ms) do { \
		int left_ = (ms); \
		while (!(cond) && left_-- > 0) \
			usleep(1000); \
		cr_assert(cond, "timed out waiting for " #cond); \
	} while (0)

/*
 * The app's wake fd is a description of its own of its wake pipe: the app
 * may make it blocking and fill the pipe, and the daemon's wakeups still
 * never block.  (With an eventfd shared with the daemon, a full counter
 * and O_NONBLOCK cleared froze the slowpath at its next reply.)
 */
Test(forged, a_full_blocking_wake_fd_never_blocks_the_daemon)
{
	struct dp_app *app = &H.dp.apps[0];
	int wfd = bp_wait_fd(H.app);
	uint64_t big = 0xfffffffffffffffeull; /* an eventfd's largest count */

	for (int i = 0; i < 100000 && write(wfd, &big, sizeof(big)) == (ssize_t)sizeof(big); i++)
		;
	int fl = fcntl(wfd, F_GETFL);
	cr_assert_eq(fcntl(wfd, F_SETFL, fl & ~O_NONBLOCK), 0);
	__atomic_store_n(&app->hdr->app_sleeping, 1, __ATOMIC_SEQ_CST);

	/* unknown requests: each answered with an error, and a wakeup */
	uint64_t bad = app->bad_entries;
	for (uint64_t i = 1; i <= 3; i++) {
		ctrl_raw(&(struct bp_ctrl_req){ .op = 0x7fff });
		POLL_FOR(app->bad_entries == bad + i, 2000);
	}
	cr_assert_eq(fcntl(wfd, F_SETFL, fl), 0);
}

/*
 * A slot's generation names one allocation of the whole app, not of the
 * slot: doorbells are checked by flow id and generation, and a flow id is
 * reused by any slot, so per-slot counts (every slot's first use is 1)
 * would let a doorbell delayed between cores hit the next connection.
 */
Test(forged, generations_are_unique_across_an_apps_slots)
{
	struct dp_app *app = &H.dp.apps[0];
	uint32_t iss, gens[4], n = 0;

	for (int i = 0; i < 2; i++) {
		H.peer_port = (uint16_t)(40100 + i);
		cr_assert_geq(h_open_passive((uint16_t)(8110 + i), PEER_ISN, 1460, &iss), 0);
	}
	for (uint32_t slot = 0; slot < app->max_flows; slot++)
		if (app->slot_flow[slot] != DP_INVALID_FLOW && n < 4)
			gens[n++] = app->flows[slot].gen;
	cr_assert_eq(n, 2, "the two connections");
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			cr_assert_neq(gens[i], gens[j], "slots %u and %u share generation %u", i, j,
				      gens[i]);
}

TestSuite(ctrl_rounds, .init = h_start_default_queues, .fini = h_stop, .timeout = 30);

/*
 * An app's full control queue is served a round (256) at a time, each in
 * its own pass of the slowpath's loop, so timers, packets and other apps
 * get their turn between rounds.  (Coming back to the app through an
 * event fed to its own watcher ran every round in one pass: an app that
 * kept its queue full held the slowpath for as long as it liked.)
 */
Test(ctrl_rounds, a_full_control_queue_is_served_a_round_per_loop_pass)
{
	struct dp_app *app = &H.dp.apps[0];
	struct sp *sp = H.dp.sp_priv;
	struct bp_queue_view v;
	uint64_t one = 1, bad = app->bad_entries;
	const unsigned n = 4000;

	/* (libbypass's view of the queue is stale from here) */
	bp_queue_view_init(&v, app->ctrlq.q, app->ctrlq.mask + 1, sizeof(struct bp_ctrl_req), 1);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(bp_queue_push(&v, &(struct bp_ctrl_req){ .op = 0x7fff }), 0);
	unsigned passes = ev_iteration(sp->loop); /* (a counter: read racily, it only grows) */
	cr_assert_eq(send(H.app->sp_db_fd, &one, sizeof(one), 0), (ssize_t)sizeof(one));
	POLL_FOR(app->bad_entries == bad + n, 5000);
	passes = ev_iteration(sp->loop) - passes;
	cr_assert_geq(passes, n / 256, "%u requests in %u passes of the loop", n, passes);
}

/*
 * A request on the control socket that names what the app queued before
 * (a shared listen: its proof travels as a descriptor) comes after all of
 * it, not after one round: here the close of the port's listener, behind
 * a thousand other requests.
 */
Test(ctrl_rounds, a_shared_listen_comes_after_everything_queued_before_it)
{
	struct dp_app *app = &H.dp.apps[0];
	struct bp_queue_view v;
	int l = bp_listen(H.app, 0, 8130, 16);
	cr_assert_geq(l, 0);
	uint32_t gen = app->flows[l].gen;

	/* (libbypass's view of the queue is stale from here: no more ctrl
	 * queue requests through it) */
	bp_queue_view_init(&v, app->ctrlq.q, app->ctrlq.mask + 1, sizeof(struct bp_ctrl_req), 1);
	for (unsigned i = 0; i < 1000; i++)
		cr_assert_eq(bp_queue_push(&v, &(struct bp_ctrl_req){ .op = 0x7fff }), 0);
	cr_assert_eq(bp_queue_push(&v, &(struct bp_ctrl_req){ .op = BP_CTRL_CLOSE,
							      .slot = (uint32_t)l, .gen = gen }), 0);
	int s = bp_listen_share(H.app, 0, 8130, 16, -1);
	cr_assert_geq(s, 0, "the shared listen came before the close queued ahead of it: %d", s);
}
