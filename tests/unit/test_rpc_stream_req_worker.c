// SPDX-License-Identifier: MIT
/*
 * test_rpc_stream_req_worker.c - streamed requests to worker methods
 * (RPC_METHOD_WORKER | RPC_METHOD_STREAM_REQ) over the in-memory
 * transport: one run per message, in order and never two at once while
 * the caller keeps sending; more than max_msg and both windows in one
 * call; early answers, also while a message is part-way in; cancel,
 * deadline, a failed session and endpoint destroy, between runs and while
 * a run is under way (each ending in one last run); a message over
 * max_msg; the bound on queued messages; a streamed response from the same
 * run.  test_rpc_stream_req_worker_msg.c runs them over whole messages.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc_fake.inc.c"
#include "rpc_stream_req.inc.c"

#define M_WUP 1		/* checks each message, answers a summary at the end */
#define M_PLAIN 2	/* one answer, inline */
#define M_WBIDI 3	/* sends each message back as a response part */


/* what the worker handlers saw, per stream (under mu: two workers) */
struct up {
	struct rpc_req *r;
	uint32_t msgs, bad;
	uint64_t bytes;
	bool running;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct up ups[8];
static unsigned runs, last_runs, live, overlaps, runs_after_answer;
static uint32_t early_at;	/* answer FAILED_PRECONDITION at this message (0: never) */
static unsigned slow_us;	/* each run sleeps this long */
static volatile bool hold;	/* runs wait while set (or until cancelled) */
static unsigned holding;	/* runs waiting on @hold now (under mu) */

static struct up *up_of(struct rpc_req *r)
{
	struct up *freeslot = NULL;

	for (unsigned i = 0; i < 8; i++) {
		if (ups[i].r == r)
			return &ups[i];
		if (!ups[i].r && !freeslot)
			freeslot = &ups[i];
	}
	cr_assert_not_null(freeslot, "too many streams at once");
	*freeslot = (struct up){ .r = r };
	live++;
	return freeslot;
}

/* under mu: @u's stream ends with this answer */
static void up_end(struct up *u, struct rpc_req *r, int st, const struct iovec *iov)
{
	u->r = NULL;
	live--;
	pthread_mutex_unlock(&mu);
	cr_assert_eq(rpc_respond(r, st, iov, iov ? 1 : 0, NULL, 0), 0);
}

static void h_wup(struct rpc_req *r, void *arg)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	uint8_t sum[16];
	struct iovec iov = { sum, sizeof(sum) };
	struct up *u;

	pthread_mutex_lock(&mu);
	u = up_of(r);
	overlaps += u->running;
	u->running = true;
	runs++;
	if (hold) {
		holding++;
		pthread_mutex_unlock(&mu);
		while (hold && !rpc_req_cancelled(r))
			usleep(200);
		pthread_mutex_lock(&mu);
		holding--;
	}
	pthread_mutex_unlock(&mu);
	if (slow_us)
		usleep(slow_us);
	pthread_mutex_lock(&mu);
	u->running = false;
	if (rpc_req_cancelled(r) && !rpc_req_more(r) && m->len == 0 && u->msgs) {
		last_runs++;
		up_end(u, r, RPC_CANCELLED, NULL);
		return;
	}
	for (size_t i = 0; i < m->len; i++)
		u->bad += ((const uint8_t *)m->data)[i] != pattern(u->msgs, i);
	u->bytes += m->len;
	u->msgs++;
	if (early_at && u->msgs == early_at) {
		iov = (struct iovec){ "enough", 6 };
		up_end(u, r, RPC_FAILED_PRECONDITION, &iov);
		return;
	}
	if (early_at && u->msgs > early_at)
		runs_after_answer++;
	if (rpc_req_more(r)) {
		pthread_mutex_unlock(&mu);
		return;	/* kept for the next message */
	}
	memcpy(sum, &u->msgs, 4);
	memcpy(sum + 4, &u->bytes, 8);
	memcpy(sum + 12, &u->bad, 4);
	up_end(u, r, RPC_OK, &iov);
}

static void h_wbidi(struct rpc_req *r, void *arg)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	struct iovec iov = { (void *)m->data, m->len };

	if (rpc_req_cancelled(r)) {
		rpc_respond(r, RPC_CANCELLED, NULL, 0, NULL, 0);
		return;
	}
	cr_assert_eq(rpc_respond_part(r, &iov, 1, NULL, 0), 0);
	if (!rpc_req_more(r))
		cr_assert_eq(rpc_respond(r, RPC_OK, NULL, 0, NULL, 0), 0);
}

static void h_plain(struct rpc_req *r, void *arg)
{
	struct iovec iov = { "one", 3 };

	rpc_respond(r, RPC_OK, &iov, 1, NULL, 0);
}

static struct rpc_endpoint *mk(uint32_t max_msg)
{
	struct rpc_endpoint_opts o = { .ops = &fake_ops, .max_msg = max_msg, .workers = 2,
				       .reconnect_min_ms = 5, .reconnect_max_ms = 20 };
	struct rpc_endpoint *ep = rpc_endpoint_create(&o, NULL, 0);

	cr_assert_not_null(ep);
	return ep;
}

static void start(uint32_t srv_max)
{
	const unsigned w = RPC_METHOD_WORKER | RPC_METHOD_STREAM_REQ;

	fk_reset_all();
	memset(ups, 0, sizeof(ups));
	runs = last_runs = live = overlaps = runs_after_answer = 0;
	early_at = 0;
	slow_us = 0;
	hold = false;
	holding = 0;
	srv = mk(srv_max);
	cr_assert_eq(rpc_register_flags(srv, M_WUP, "wup", h_wup, NULL, w), 0);
	cr_assert_eq(rpc_register_flags(srv, M_WBIDI, "wbidi", h_wbidi, NULL, w), 0);
	cr_assert_eq(rpc_register(srv, M_PLAIN, "plain", h_plain, NULL), 0);
	cr_assert_eq(rpc_listen(srv, ":7000", NULL, NULL), 0);
	cli = mk(0);
	sess = rpc_connect(cli, "10.0.0.1:7000", NULL, NULL);
	cr_assert_not_null(sess);
}

static void setup(void)
{
	start(0);
}

static void teardown(void)
{
	hold = false;
	fk_pipe_cap = SIZE_MAX;
	rpc_endpoint_destroy(cli);
	rpc_endpoint_destroy(srv);
	cr_assert_eq(live, 0, "a stream's handler never ended it");
	cr_assert_eq(overlaps, 0, "two runs of one stream at once");
	fk_reset_all();
}

TestSuite(rpc_stream_req_worker, .init = setup, .fini = teardown);

static void spin(int rounds)
{
	for (int i = 0; i < rounds; i++) {
		rpc_run(cli, 0);
		if (srv)
			rpc_run(srv, 1);
	}
}

static unsigned locked(const unsigned *v)
{
	unsigned n;

	pthread_mutex_lock(&mu);
	n = *v;
	pthread_mutex_unlock(&mu);
	return n;
}

static void wait_for(const unsigned *v, unsigned n)
{
	for (int i = 0; i < 5000 && locked(v) < n; i++)
		spin(1);
	cr_assert_geq(locked(v), n);
}

static void upload(uint32_t n, uint32_t len)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_WUP, len, 0, 0, &x);
	uint32_t msgs, bad;
	uint64_t bytes;

	for (uint32_t k = 1; k < n; k++)
		cr_assert_eq(send_msg(id, k, len, k == n - 1), 0, "message %u", k);
	wait_end(&x, 60000);
	cr_assert_eq(x.status, RPC_OK);
	cr_assert_eq(x.len, 16);
	memcpy(&msgs, x.body, 4);
	memcpy(&bytes, x.body + 4, 8);
	memcpy(&bad, x.body + 12, 4);
	cr_assert_eq(msgs, n);
	cr_assert_eq(bytes, (uint64_t)n * len);
	cr_assert_eq(bad, 0, "%u bytes differ", bad);
}

static void plain_call_works(void)
{
	struct res y = { 0 };

	cr_assert_eq(rpc_call(sess, M_PLAIN, NULL, 0, NULL, on_res, &y, NULL), 0);
	wait_end(&y, 5000);
	cr_assert_eq(y.status, RPC_OK);
	cr_assert_eq(proto_errors(), 0);
}

static void restart(uint32_t srv_max)
{
	rpc_endpoint_destroy(cli);
	rpc_endpoint_destroy(srv);
	start(srv_max);
}

/* a slow worker: messages queue behind its run and still come one at a time, in order */
Test(rpc_stream_req_worker, messages_run_in_order_one_at_a_time)
{
	struct rpc_stats st;

	slow_us = 300;
	upload(300, 1000);
	cr_assert_eq(locked(&runs), 300);
	rpc_endpoint_stats(srv, &st);
	cr_assert_eq(st.reqs_handled, 1, "one call, however many messages");
	plain_call_works();
}

/* 600 messages of 60 KiB to a 64 KiB server: each message's credit goes back after its run */
Test(rpc_stream_req_worker, a_stream_carries_more_than_max_msg_and_the_windows)
{
	restart(64 << 10);
	upload(600, 60 << 10);
	plain_call_works();
}

/* two streams at once, on two workers */
Test(rpc_stream_req_worker, streams_run_side_by_side)
{
	struct res x = { 0 }, y = { 0 };
	uint64_t a = open_stream(M_WUP, 500, 0, 0, &x);
	uint64_t b = open_stream(M_WUP, 500, 0, 0, &y);

	slow_us = 100;
	for (uint32_t k = 1; k < 100; k++) {
		cr_assert_eq(send_msg(a, k, 500, k == 99), 0);
		cr_assert_eq(send_msg(b, k, 500, k == 99), 0);
	}
	wait_end(&x, 30000);
	wait_end(&y, 30000);
	cr_assert_eq(x.status, RPC_OK);
	cr_assert_eq(y.status, RPC_OK);
	cr_assert_eq(locked(&runs), 200);
}

/* the worker answers at the fifth message while more are queued: they go, credit kept */
Test(rpc_stream_req_worker, an_early_answer_drops_the_queued_messages)
{
	early_at = 5;
	slow_us = 200;
	for (int round = 0; round < 60; round++) {
		struct res x = { 0 };
		uint64_t id = open_stream(M_WUP, 100, 0, 0, &x);
		int rc = 0;

		for (uint32_t k = 1; k < 30 && !rc; k++)
			rc = send_msg(id, k, 100, k == 29);
		wait_end(&x, 5000);
		cr_assert_eq(x.status, RPC_FAILED_PRECONDITION);
		spin(5);
	}
	cr_assert_eq(locked(&runs_after_answer), 0);
	plain_call_works();
}

/* the worker answers while the next message is part-way in: its rest is skipped */
Test(rpc_stream_req_worker, an_answer_while_a_message_arrives_skips_its_rest)
{
	early_at = 2;
	for (int round = 0; round < 20; round++) {
		struct res x = { 0 };
		uint64_t id = open_stream(M_WUP, 10, 0, 0, &x);

		fk_pipe_cap = 16 << 10;
		cr_assert_eq(send_msg(id, 1, 10, false), 0);
		cr_assert_eq(send_msg(id, 2, 300 << 10, true), 0);
		wait_end(&x, 5000);
		fk_pipe_cap = SIZE_MAX;
		cr_assert_eq(x.status, RPC_FAILED_PRECONDITION);
		spin(50);
		cr_assert_eq(proto_errors(), 0);
	}
	plain_call_works();
}

/* the handler's last run came, once, and it ended its stream */
static void expect_last_run(void)
{
	wait_for(&last_runs, 1);
	spin(20);
	cr_assert_eq(locked(&last_runs), 1);
	cr_assert_eq(locked(&live), 0);
}

Test(rpc_stream_req_worker, a_cancel_between_runs_runs_the_handler_a_last_time)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_WUP, 100, 0, 0, &x);

	cr_assert_eq(send_msg(id, 1, 100, false), 0);
	wait_for(&runs, 2);
	cr_assert_eq(rpc_cancel(sess, id), 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_CANCELLED);
	expect_last_run();
	plain_call_works();
}

/* a run under way holds its message: the last run follows it, the queued ones are dropped */
static uint64_t stream_held_in_a_run(struct res *x, uint64_t deadline_us)
{
	uint64_t id = open_stream(M_WUP, 100, 0, deadline_us, x);

	cr_assert_eq(send_msg(id, 1, 100, false), 0);
	wait_for(&runs, 2);
	hold = true;
	cr_assert_eq(send_msg(id, 2, 100, false), 0);
	wait_for(&holding, 1);
	for (uint32_t k = 3; k < 10; k++) /* queued behind the run */
		cr_assert_eq(send_msg(id, k, 100, false), 0);
	spin(20);
	return id;
}

Test(rpc_stream_req_worker, a_cancel_during_a_run_ends_after_it)
{
	struct res x = { 0 };
	uint64_t id = stream_held_in_a_run(&x, 0);

	cr_assert_eq(rpc_cancel(sess, id), 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_CANCELLED);
	expect_last_run();
	cr_assert_eq(locked(&runs), 4, "two runs, the one held, the last: none for the queued");
	plain_call_works();
}

Test(rpc_stream_req_worker, a_deadline_during_a_run_ends_both_sides)
{
	struct res x = { 0 };

	stream_held_in_a_run(&x, 100000);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_DEADLINE_EXCEEDED);
	expect_last_run();
	plain_call_works();
}

Test(rpc_stream_req_worker, a_failed_session_during_a_run_ends_after_it)
{
	struct res x = { 0 };

	stream_held_in_a_run(&x, 0);
	rpc_session_close(sess);
	sess = NULL;
	expect_last_run();
	cr_assert_eq(x.status, RPC_CANCELLED);
}

Test(rpc_stream_req_worker, destroying_the_server_ends_a_stream_during_a_run)
{
	struct res x = { 0 };

	stream_held_in_a_run(&x, 0);
	rpc_endpoint_destroy(srv);
	srv = NULL;
	cr_assert_eq(last_runs, 1);
	cr_assert_eq(live, 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_UNAVAILABLE);
}

Test(rpc_stream_req_worker, destroying_the_server_ends_a_stream_between_runs)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_WUP, 100, 0, 0, &x);

	cr_assert_eq(send_msg(id, 1, 100, false), 0);
	wait_for(&runs, 2);
	spin(10);
	rpc_endpoint_destroy(srv);
	srv = NULL;
	cr_assert_eq(last_runs, 1);
	cr_assert_eq(live, 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_UNAVAILABLE);
}

Test(rpc_stream_req_worker, a_message_over_max_msg_fails_the_call)
{
	struct res x = { 0 };
	uint64_t id;

	restart(64 << 10);
	id = open_stream(M_WUP, 100, 0, 0, &x);
	cr_assert_eq(send_msg(id, 1, 100, false), 0);
	cr_assert_eq(send_msg(id, 2, 100 << 10, false), 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_RESOURCE_EXHAUSTED);
	expect_last_run();
	plain_call_works();
}

/*
 * A peer streams empty messages (32 bytes of credit each) faster than the
 * worker runs them: past RPC_WSTREAM_QUEUE_MAX queued the stream fails
 * RESOURCE_EXHAUSTED, its last run follows, and the session goes on.
 */
Test(rpc_stream_req_worker, queued_messages_are_bounded)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_WUP, 0, 0, 0, &x);
	int rc = 0;

	wait_for(&runs, 1);
	hold = true;
	cr_assert_eq(send_msg(id, 1, 0, false), 0);
	wait_for(&holding, 1);
	for (uint32_t k = 2; k < RPC_WSTREAM_QUEUE_MAX + 100 && !rc && !x.ends; k++)
		rc = send_msg(id, k, 0, false);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_RESOURCE_EXHAUSTED);
	hold = false;
	expect_last_run();
	cr_assert_eq(srv->sessions->nwq, 0);
	plain_call_works();
}

/* one run both takes a message and streams it back */
Test(rpc_stream_req_worker, both_directions_stream_at_once)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_WBIDI, 3000, RPC_CALL_STREAM, 0, &x);

	for (uint32_t k = 1; k < 50; k++)
		cr_assert_eq(send_msg(id, k, 3000, k == 49), 0);
	wait_end(&x, 10000);
	cr_assert_eq(x.status, RPC_OK);
	cr_assert_eq(x.parts, 50);
	cr_assert_eq(x.bytes, 150000);
	cr_assert_eq(x.bad, 0);
}

/* a new call on the id of a stream a worker runs: a protocol error, and the stream's last run */
Test(rpc_stream_req_worker, a_new_call_reusing_a_streams_id_is_a_protocol_error)
{
	struct res x = { 0 };
	uint64_t id = stream_held_in_a_run(&x, 0);
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .method = M_WUP,
				   .call_id = (uint32_t)id, .frame_len = 5, .msg_len = 5 };

	inject(&h, "hello");
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_UNAVAILABLE);
	hold = false;
	expect_last_run();
	cr_assert_eq(proto_errors(), 1);
}

/*
 * The deadline passes during a run while the next message is part-way in
 * (a small pipe, and the caller's CANCEL not sent yet): the stream waits
 * for that CANCEL before its last run, so no frame of the message meets a
 * request that is gone.  (Whole-message transports never show one
 * part-way: there the last run comes at once.)
 */
Test(rpc_stream_req_worker, a_deadline_while_a_message_arrives_waits_for_its_cancel)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_WUP, 100, 0, 150000, &x);

	cr_assert_eq(send_msg(id, 1, 100, false), 0);
	wait_for(&runs, 2);
	hold = true;
	cr_assert_eq(send_msg(id, 2, 100, false), 0);
	wait_for(&holding, 1);
	fk_pipe_cap = 16 << 10;
	cr_assert_eq(send_msg(id, 3, 4 << 20, false), 0);
	spin(5);
	usleep(200000);	/* both deadlines pass; the caller's CANCEL is not sent yet */
	for (int i = 0; i < 50; i++)
		rpc_run(srv, 1);
#ifndef FK_MSG
	cr_assert_eq(locked(&last_runs), 0, "not while frames of the message may come");
#endif
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_DEADLINE_EXCEEDED);
	expect_last_run();
	fk_pipe_cap = SIZE_MAX;
	spin(50);
	cr_assert_eq(proto_errors(), 0);
	plain_call_works();
}

/* a worker method that computes for long and never looks at cancellation */
#define M_BLOCK 9
static unsigned blocking;

static void h_block(struct rpc_req *r, void *arg)
{
	pthread_mutex_lock(&mu);
	blocking++;
	pthread_mutex_unlock(&mu);
	usleep(300000);
	rpc_respond(r, RPC_OK, NULL, 0, NULL, 0);
}

/*
 * The stream stops while both workers are busy, so its last run waits in
 * the workers' queue; the endpoint is destroyed then: the last run still
 * comes (on the endpoint's thread), since the handler holds the request.
 */
Test(rpc_stream_req_worker, destroy_with_the_last_run_queued_still_runs_it)
{
	static struct res x, b1, b2;	/* static: their calls end in teardown */
	uint64_t id;

	memset(&x, 0, sizeof(x));
	memset(&b1, 0, sizeof(b1));
	memset(&b2, 0, sizeof(b2));
	blocking = 0;
	cr_assert_eq(rpc_register_flags(srv, M_BLOCK, "block", h_block, NULL,
					RPC_METHOD_WORKER), 0);
	id = open_stream(M_WUP, 100, 0, 0, &x);
	cr_assert_eq(send_msg(id, 1, 100, false), 0);
	wait_for(&runs, 2);
	spin(10);	/* between runs, kept by its handler */
	cr_assert_eq(rpc_call(sess, M_BLOCK, NULL, 0, NULL, on_res, &b1, NULL), 0);
	cr_assert_eq(rpc_call(sess, M_BLOCK, NULL, 0, NULL, on_res, &b2, NULL), 0);
	wait_for(&blocking, 2);
	cr_assert_eq(rpc_cancel(sess, id), 0);
	spin(20);	/* its last run is queued for a worker */
	cr_assert_eq(locked(&last_runs), 0);
	rpc_endpoint_destroy(srv);
	srv = NULL;
	cr_assert_eq(last_runs, 1, "the handler's last run never came");
	cr_assert_eq(live, 0);
}

/*
 * One stream holds the session's whole queue bound (its run held, 1024
 * messages behind it): another stream, whose messages are never more than
 * one behind its own runs, still runs every one, and the first goes on
 * once its run ends.
 */
Test(rpc_stream_req_worker, a_full_queue_holds_up_only_its_own_stream)
{
	struct res x = { 0 }, y = { 0 };
	uint64_t a = open_stream(M_WUP, 0, 0, 0, &x), b;
	uint32_t k, msgs;

	wait_for(&runs, 1);
	hold = true;
	cr_assert_eq(send_msg(a, 1, 0, false), 0);
	wait_for(&holding, 1);
	for (k = 2; k < 2 + RPC_WSTREAM_QUEUE_MAX; k++)
		cr_assert_eq(send_msg(a, k, 0, false), 0);
	for (int i = 0; i < 500 && srv->sessions->nwq < RPC_WSTREAM_QUEUE_MAX; i++)
		spin(1);
	cr_assert_eq(srv->sessions->nwq, RPC_WSTREAM_QUEUE_MAX);
	b = open_stream(M_WBIDI, 10, RPC_CALL_STREAM, 0, &y);
	for (uint32_t j = 1; j < 5; j++) {
		for (int i = 0; i < 2000 && y.parts < j; i++)
			spin(1);	/* its run of the message before has begun */
		cr_assert_eq(send_msg(b, j, 10, j == 4), 0);
	}
	wait_end(&y, 5000);
	cr_assert_eq(y.status, RPC_OK);
	cr_assert_eq(y.parts, 5);
	cr_assert_eq(x.ends, 0, "the held stream goes on");
	hold = false;
	for (int i = 0; i < 5000 && srv->sessions->nwq; i++)
		spin(1);	/* its backlog runs */
	cr_assert_eq(send_msg(a, k, 0, true), 0);
	wait_end(&x, 10000);
	cr_assert_eq(x.status, RPC_OK);
	memcpy(&msgs, x.body, 4);
	cr_assert_eq(msgs, RPC_WSTREAM_QUEUE_MAX + 3);
	cr_assert_eq(srv->sessions->nwq, 0);
}
