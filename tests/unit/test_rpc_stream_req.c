// SPDX-License-Identifier: MIT
/*
 * test_rpc_stream_req.c - streamed requests (RPC_CALL_SEND_STREAM,
 * rpc_call_send(), rpc_req_more()) over the in-memory transport: order
 * and bytes, more than max_msg and both credit windows in one call, an
 * early answer, cancel, deadline, a failed session and a message over
 * max_msg mid-stream (each ending in the handler's last run), worker
 * methods, both directions streamed at once, API misuse and a hostile
 * peer's frames.  test_rpc_stream_req_msg.c runs them again over a
 * transport of whole messages, as fastpathd's RPC sessions.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc_fake.inc.c"
#include "rpc_stream_req.inc.c"

#define M_UP 1		/* checks each message, answers a summary at the end */
#define M_EARLY 2	/* answers FAILED_PRECONDITION at its third message */
#define M_WORKER 3	/* M_UP on a worker thread */
#define M_BIDI 4	/* sends each message back as a response part */
#define M_PLAIN 5	/* one answer */
#define M_KEEP 6	/* keeps the request between messages (kept): the test answers */
#define M_MANY 7	/* keeps every stream until its last message */


/* what the server's handlers saw, per stream */
struct up {
	struct rpc_req *r;
	uint32_t msgs, bad;
	uint64_t bytes;
};

static struct up ups[8];
static unsigned runs, last_runs, live, early_runs;

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

static void up_end(struct up *u, struct rpc_req *r, int st, const struct iovec *iov)
{
	u->r = NULL;
	live--;
	cr_assert_eq(rpc_respond(r, st, iov, iov ? 1 : 0, NULL, 0), 0);
}

static void h_up(struct rpc_req *r, void *arg)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	struct up *u = up_of(r);
	uint8_t sum[16];
	struct iovec iov = { sum, sizeof(sum) };

	runs++;
	if (rpc_req_cancelled(r)) {
		cr_assert(!rpc_req_more(r));
		cr_assert_eq(m->len, 0, "the last run shows no message");
		last_runs++;
		up_end(u, r, RPC_CANCELLED, NULL);
		return;
	}
	for (size_t i = 0; i < m->len; i++)
		u->bad += ((const uint8_t *)m->data)[i] != pattern(u->msgs, i);
	u->bytes += m->len;
	u->msgs++;
	if (rpc_req_more(r))
		return;	/* kept for the next message */
	memcpy(sum, &u->msgs, 4);
	memcpy(sum + 4, &u->bytes, 8);
	memcpy(sum + 12, &u->bad, 4);
	up_end(u, r, RPC_OK, &iov);
}

static void h_early(struct rpc_req *r, void *arg)
{
	struct iovec iov = { "enough", 6 };

	if (++early_runs == 3 || !rpc_req_more(r))
		cr_assert_eq(rpc_respond(r, RPC_FAILED_PRECONDITION, &iov, 1, NULL, 0), 0);
}

static void h_worker(struct rpc_req *r, void *arg)
{
	rpc_respond(r, RPC_OK, NULL, 0, NULL, 0);
}

static void h_bidi(struct rpc_req *r, void *arg)
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

static struct rpc_req *kept;
static unsigned keep_runs;
static bool keep_after_last;	/* the last run keeps the request too */

static void h_keep(struct rpc_req *r, void *arg)
{
	keep_runs++;
	kept = r;
	if (rpc_req_cancelled(r) && !keep_after_last) {
		kept = NULL;
		rpc_respond(r, RPC_CANCELLED, NULL, 0, NULL, 0);
	}
}

/* keeps every stream it sees until its last message */
static struct rpc_req *many[256];
static unsigned nmany;

static void h_many(struct rpc_req *r, void *arg)
{
	if (rpc_req_more(r) && !rpc_req_cancelled(r)) {
		for (unsigned i = 0; i < nmany; i++)
			if (many[i] == r)
				return;
		many[nmany++] = r;
		return;
	}
	for (unsigned i = 0; i < nmany; i++)
		if (many[i] == r)
			many[i] = many[--nmany];
	rpc_respond(r, rpc_req_cancelled(r) ? RPC_CANCELLED : RPC_OK, NULL, 0, NULL, 0);
}

static void h_plain(struct rpc_req *r, void *arg)
{
	struct iovec iov = { "one", 3 };

	rpc_respond(r, RPC_OK, &iov, 1, NULL, 0);
}

static struct rpc_endpoint *mk(uint32_t max_msg)
{
	struct rpc_endpoint_opts o = { .ops = &fake_ops, .max_msg = max_msg,
				       .reconnect_min_ms = 5, .reconnect_max_ms = 20 };
	struct rpc_endpoint *ep = rpc_endpoint_create(&o, NULL, 0);

	cr_assert_not_null(ep);
	return ep;
}

static void start(uint32_t srv_max)
{
	fk_reset_all();
	memset(ups, 0, sizeof(ups));
	runs = last_runs = live = early_runs = keep_runs = 0;
	kept = NULL;
	keep_after_last = false;
	nmany = 0;
	srv = mk(srv_max);
	cr_assert_eq(rpc_register_flags(srv, M_UP, "up", h_up, NULL, RPC_METHOD_STREAM_REQ), 0);
	cr_assert_eq(rpc_register_flags(srv, M_EARLY, "early", h_early, NULL,
					RPC_METHOD_STREAM_REQ), 0);
	cr_assert_eq(rpc_register_flags(srv, M_WORKER, "worker", h_worker, NULL,
					RPC_METHOD_WORKER), 0);
	cr_assert_eq(rpc_register_flags(srv, M_BIDI, "bidi", h_bidi, NULL,
					RPC_METHOD_STREAM_REQ), 0);
	cr_assert_eq(rpc_register(srv, M_PLAIN, "plain", h_plain, NULL), 0);
	cr_assert_eq(rpc_register_flags(srv, M_KEEP, "keep", h_keep, NULL,
					RPC_METHOD_STREAM_REQ), 0);
	cr_assert_eq(rpc_register_flags(srv, M_MANY, "many", h_many, NULL,
					RPC_METHOD_STREAM_REQ), 0);
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
	fk_pipe_cap = SIZE_MAX;
	rpc_endpoint_destroy(cli);
	rpc_endpoint_destroy(srv);
	cr_assert_eq(live, 0, "a stream's handler never ended it");
	fk_reset_all();
}

TestSuite(rpc_stream_req, .init = setup, .fini = teardown);

static void spin(int rounds)
{
	for (int i = 0; i < rounds; i++) {
		rpc_run(cli, 0);
		if (srv)
			rpc_run(srv, 0);
	}
}

/* @n messages of @len bytes to M_UP; the summary checked */
static void upload(uint32_t n, uint32_t len)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_UP, len, 0, 0, &x);
	uint32_t msgs, bad;
	uint64_t bytes;

	for (uint32_t k = 1; k < n; k++)
		cr_assert_eq(send_msg(id, k, len, k == n - 1), 0, "message %u", k);
	wait_end(&x, 30000);
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
}

static void restart(uint32_t srv_max)
{
	rpc_endpoint_destroy(cli);
	rpc_endpoint_destroy(srv);
	start(srv_max);
}

Test(rpc_stream_req, messages_arrive_in_order_one_run_each)
{
	struct rpc_stats st;

	upload(40, 1000);
	cr_assert_eq(runs, 40);
	rpc_endpoint_stats(srv, &st);
	cr_assert_eq(st.reqs_handled, 1, "one call, however many messages");
	plain_call_works();
}

/*
 * 600 messages of 60 KiB: 36 MB in one call, past the server's 64 KiB
 * max_msg, its 16 MiB byte window and its 256-call window: each message's
 * credit goes back when the handler is done with it.
 */
Test(rpc_stream_req, a_stream_carries_more_than_max_msg_and_the_windows)
{
	restart(64 << 10);
	upload(600, 60 << 10);
	plain_call_works();
}

/* the handler answers at the third message: the rest are dropped, credit kept */
Test(rpc_stream_req, an_early_answer_ends_the_call)
{
	for (int round = 0; round < 300; round++) {
		struct res x = { 0 };
		uint64_t id = open_stream(M_EARLY, 100, 0, 0, &x);
		int rc = 0;

		early_runs = 0;
		for (uint32_t k = 1; k < 10 && !rc; k++) {
			rc = send_msg(id, k, 100, k == 9);
			if (k < 3)
				spin(2);
		}
		wait_end(&x, 5000);
		cr_assert_eq(x.status, RPC_FAILED_PRECONDITION);
		cr_assert_eq(send_msg(id, 10, 100, true), -ENOENT, "the call is over");
		spin(5);
		cr_assert_eq(early_runs, 3, "round %d: no run after the answer", round);
	}
	/* 300 calls, each with messages skipped: none of their credit leaked */
	plain_call_works();
}

/* the handler's last run came, once, and it ended its stream */
static void expect_last_run(void)
{
	for (int i = 0; i < 200 && !last_runs; i++)
		spin(1);
	cr_assert_eq(last_runs, 1);
	cr_assert_eq(live, 0);
}

static void wait_runs(unsigned n)
{
	for (int i = 0; i < 2000 && runs < n; i++)
		spin(1);
	cr_assert_geq(runs, n);
}

Test(rpc_stream_req, a_cancel_between_messages_runs_the_handler_a_last_time)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_UP, 100, 0, 0, &x);

	cr_assert_eq(send_msg(id, 1, 100, false), 0);
	wait_runs(2);
	cr_assert_eq(rpc_cancel(sess, id), 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_CANCELLED);
	expect_last_run();
	cr_assert_eq(send_msg(id, 2, 100, true), -ENOENT);
	plain_call_works();
}

Test(rpc_stream_req, a_deadline_mid_stream_ends_both_sides)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_UP, 100, 0, 50000, &x);

	cr_assert_eq(send_msg(id, 1, 100, false), 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_DEADLINE_EXCEEDED);
	expect_last_run();
	plain_call_works();
}

/* the client goes away between two messages: the server's handler ends it */
Test(rpc_stream_req, a_failed_session_runs_the_handler_from_the_loop)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_UP, 100, 0, 0, &x);

	cr_assert_eq(send_msg(id, 1, 100, false), 0);
	wait_runs(2);
	rpc_session_close(sess);
	sess = NULL;
	expect_last_run();
	cr_assert_eq(x.status, RPC_CANCELLED);
}

/* the server goes away while its handler holds a stream: destroy ends it */
Test(rpc_stream_req, destroying_the_server_ends_a_held_stream)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_UP, 100, 0, 0, &x);

	cr_assert_eq(send_msg(id, 1, 100, false), 0);
	wait_runs(2);
	rpc_endpoint_destroy(srv);
	srv = NULL;
	cr_assert_eq(last_runs, 1);
	cr_assert_eq(live, 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_UNAVAILABLE);
}

Test(rpc_stream_req, a_message_over_max_msg_fails_the_call)
{
	struct res x = { 0 };
	uint64_t id;

	restart(64 << 10);
	id = open_stream(M_UP, 1000, 0, 0, &x);
	cr_assert_eq(send_msg(id, 1, 100 << 10, false), 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_RESOURCE_EXHAUSTED);
	expect_last_run();
	plain_call_works();
}

static unsigned plain_runs;

static void h_counted(struct rpc_req *r, void *arg)
{
	plain_runs++;
	h_plain(r, arg);
}

/* a method that did not ask for streamed requests never sees one */
static void refused_by(uint16_t method)
{
	struct res x = { 0 };
	uint64_t id = open_stream(method, 10, 0, 0, &x);

	cr_assert_eq(send_msg(id, 1, 10, false), 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_UNIMPLEMENTED);
	cr_assert_eq(send_msg(id, 2, 10, true), -ENOENT);
	spin(20);
	plain_call_works();
}

Test(rpc_stream_req, only_methods_registered_for_it_take_streamed_requests)
{
	cr_assert_eq(rpc_register(srv, 9, "counted", h_counted, NULL), 0);
	plain_runs = 0;
	refused_by(9);
	cr_assert_eq(plain_runs, 0, "the plain handler never ran");
	refused_by(M_WORKER);
}

/* a streamed request and a streamed response in one call */
Test(rpc_stream_req, both_directions_stream_at_once)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_BIDI, 3000, RPC_CALL_STREAM, 0, &x);

	for (uint32_t k = 1; k < 20; k++)
		cr_assert_eq(send_msg(id, k, 3000, k == 19), 0);
	wait_end(&x, 10000);
	cr_assert_eq(x.status, RPC_OK);
	cr_assert_eq(x.parts, 20);
	cr_assert_eq(x.bytes, 60000);
	cr_assert_eq(x.bad, 0);
}

Test(rpc_stream_req, misuse_is_refused)
{
	struct res x = { 0 }, y = { 0 };
	struct rpc_call_opts o = { .flags = RPC_CALL_SEND_STREAM };
	struct rpc_reply rep;
	uint64_t id;

	cr_assert_eq(rpc_call(sess, M_UP, NULL, 0, &o, on_res, &x, NULL), -EINVAL,
		     "a streamed request needs its id");
	cr_assert_eq(rpc_call_sync(sess, M_UP, NULL, 0, &o, &rep), -EINVAL);
	cr_assert_eq(rpc_call(sess, M_PLAIN, NULL, 0, NULL, on_res, &y, &id), 0);
	cr_assert_eq(rpc_call_send(sess, id, NULL, 0, true), -EINVAL, "not streamed");
	wait_end(&y, 5000);
	cr_assert_eq(rpc_call_send(sess, id, NULL, 0, true), -ENOENT);
	cr_assert_eq(rpc_call_send(sess, 1ull << 40, NULL, 0, true), -ENOENT);
	id = open_stream(M_UP, 10, 0, 0, &x);
	cr_assert_eq(send_msg(id, 1, 10, true), 0);
	cr_assert_eq(send_msg(id, 2, 10, true), -EINVAL, "its last message went");
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_OK);
}

/* a message continuing a call the server knows nothing of: skipped */
Test(rpc_stream_req, a_message_of_an_unknown_stream_is_skipped)
{
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .method = M_UP, .call_id = 777,
				   .flags = RPC_FF_REQ_CONT, .frame_len = 5, .msg_len = 5 };

	inject(&h, "hello");
	spin(20);
	cr_assert_eq(proto_errors(), 0);
	cr_assert_eq(runs, 0);
	plain_call_works();
}

/* a stream waiting for its next message: a CHUNK, or another method's
 * message, for it is a protocol error */
static void wrong_frame_for_a_waiting_stream(uint8_t type, uint16_t method, uint16_t flags)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_UP, 100, 0, 0, &x);
	struct rpc_frame_hdr h = { .type = type, .method = method, .call_id = (uint32_t)id,
				   .flags = flags, .frame_len = 5, .msg_len = 0 };

	wait_runs(1);
	if (type == RPC_FT_REQUEST)
		h.msg_len = 5;
	inject(&h, "hello");
	for (int i = 0; i < 200 && !last_runs; i++)
		spin(1);
	cr_assert_eq(proto_errors(), 1);
	cr_assert_eq(last_runs, 1, "the held stream ends in its handler");
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_UNAVAILABLE);
}

Test(rpc_stream_req, a_chunk_for_a_waiting_stream_is_a_protocol_error)
{
	wrong_frame_for_a_waiting_stream(RPC_FT_CHUNK, 0, 0);
}

Test(rpc_stream_req, another_methods_message_is_a_protocol_error)
{
	wrong_frame_for_a_waiting_stream(RPC_FT_REQUEST, M_PLAIN, RPC_FF_REQ_CONT);
}

Test(rpc_stream_req, a_new_call_reusing_a_streams_id_is_a_protocol_error)
{
	wrong_frame_for_a_waiting_stream(RPC_FT_REQUEST, M_UP, 0);
}

/*
 * The app answers a stream it keeps while the next message is part-way in
 * (a small pipe: the server reads a piece of it): the rest of that
 * message is skipped, the call ends with the answer, and the session goes
 * on.  Whole-message transports never show a message part-way.
 */
static void answer_while_a_message_arrives(uint32_t len, uint64_t deadline_us)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_KEEP, 10, 0, deadline_us, &x);
	struct iovec iov = { "no", 2 };

	for (int i = 0; i < 200 && !kept; i++)
		spin(1);
	cr_assert_not_null(kept);
	fk_pipe_cap = 16 << 10;
	cr_assert_eq(send_msg(id, 1, len, false), 0);
	for (int i = 0; i < 2000 && kept && kept->between && keep_runs < 2; i++)
		spin(1);
	if (deadline_us) /* the deadline passes before the app answers */
		usleep(deadline_us + 50000);
	cr_assert_eq(rpc_respond(kept, RPC_FAILED_PRECONDITION, &iov, 1, NULL, 0), 0);
	kept = NULL;
	fk_pipe_cap = SIZE_MAX;
	wait_end(&x, 5000);
	cr_assert_eq(x.status, deadline_us ? RPC_DEADLINE_EXCEEDED : RPC_FAILED_PRECONDITION);
	spin(50);
	cr_assert_eq(proto_errors(), 0);
	cr_assert_leq(keep_runs, 2);
	plain_call_works();
}

Test(rpc_stream_req, an_answer_while_a_frame_arrives_skips_the_rest)
{
	answer_while_a_message_arrives(200 << 10, 0);
}

Test(rpc_stream_req, an_answer_between_two_frames_of_a_message_skips_the_rest)
{
	answer_while_a_message_arrives(600 << 10, 0);
}

Test(rpc_stream_req, an_answer_after_the_deadline_while_a_frame_arrives_skips_the_rest)
{
	answer_while_a_message_arrives(200 << 10, 100000);
}

/*
 * Every call of the session's window (256) held by a stream, and a new call
 * waiting for one: the streams' later messages cost no call and go ahead
 * of it, so the stream that gets its last message ends and gives the call.
 */
Test(rpc_stream_req, streams_holding_every_call_still_take_messages)
{
	static struct res x[256], y;
	uint64_t id[256];

	memset(x, 0, sizeof(x));
	memset(&y, 0, sizeof(y));
	for (int i = 0; i < 256; i++)
		id[i] = open_stream(M_MANY, 10, 0, 0, &x[i]);
	for (int i = 0; i < 2000 && nmany < 256; i++)
		spin(1);
	cr_assert_eq(nmany, 256);
	cr_assert_eq(rpc_call(sess, M_PLAIN, NULL, 0, NULL, on_res, &y, NULL), 0);
	for (uint32_t k = 1; k <= 300; k++)
		cr_assert_eq(send_msg(id[0], k, 1000, k == 300), 0, "message %u", k);
	wait_end(&x[0], 10000);
	cr_assert_eq(x[0].status, RPC_OK);
	wait_end(&y, 10000);
	cr_assert_eq(y.status, RPC_OK, "the waiting call got the call back");
	for (int i = 1; i < 256; i++)
		cr_assert_eq(send_msg(id[i], 1, 10, true), 0);
	for (int i = 1; i < 256; i++)
		wait_end(&x[i], 10000);
	cr_assert_eq(nmany, 0);
	cr_assert_eq(proto_errors(), 0);
}

/*
 * A cancel while a message's next frame is built and waits for its class's
 * room (the daemon-framed transport): the frame goes first, then the
 * CANCEL, never the other way round.
 */
Test(rpc_stream_req, a_cancel_follows_a_frame_already_built)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_UP, 100, 0, 0, &x);

	wait_runs(1);
	fk_pipe_cap = RPC_WIRE_HDR_LEN + 4096;
	cr_assert_eq(send_msg(id, 1, 8192, false), 0);
	rpc_run(cli, 0);
	cr_assert_eq(rpc_cancel(sess, id), 0);
	fk_pipe_cap = SIZE_MAX;
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_CANCELLED);
	expect_last_run();
	cr_assert_eq(proto_errors(), 0);
	plain_call_works();
}

/*
 * 255 calls held by streams; a large BULK call takes the last one and
 * starts; a LATENCY call then waits for a call: the started message needs
 * only bytes and goes on (its answer gives the call back).
 */
Test(rpc_stream_req, a_started_message_goes_on_past_a_call_wait)
{
	static struct res x[255], a, b;
	static uint8_t big[700 << 10];
	struct iovec iov = { big, sizeof(big) };
	struct rpc_call_opts bulk = { .prio = RPC_PRIO_BULK }, fast = { .prio = RPC_PRIO_LATENCY };
	uint64_t id[255];

	memset(x, 0, sizeof(x));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	for (int i = 0; i < 255; i++)
		id[i] = open_stream(M_MANY, 10, 0, 0, &x[i]);
	for (int i = 0; i < 2000 && nmany < 255; i++)
		spin(1);
	cr_assert_eq(nmany, 255);
	fk_pipe_cap = 300 << 10;	/* its first frame goes, not the rest */
	cr_assert_eq(rpc_call(sess, M_PLAIN, &iov, 1, &bulk, on_res, &a, NULL), 0);
	rpc_run(cli, 0);
	cr_assert_eq(rpc_call(sess, M_PLAIN, NULL, 0, &fast, on_res, &b, NULL), 0);
	fk_pipe_cap = SIZE_MAX;
	wait_end(&a, 10000);
	cr_assert_eq(a.status, RPC_OK);
	wait_end(&b, 10000);
	cr_assert_eq(b.status, RPC_OK);
	for (int i = 0; i < 255; i++)
		cr_assert_eq(send_msg(id[i], 1, 10, true), 0);
	for (int i = 0; i < 255; i++)
		wait_end(&x[i], 10000);
}

/*
 * 200 streams held open, then 100 plain calls one after another: the
 * server must not sit on the calls it owes while the caller is down to
 * its last ones (a grant only every 64 would leave it 0 after 56).
 */
Test(rpc_stream_req, credit_owed_goes_back_when_the_caller_runs_low)
{
	static struct res x[200];
	uint64_t id[200];

	memset(x, 0, sizeof(x));
	for (int i = 0; i < 200; i++)
		id[i] = open_stream(M_MANY, 10, 0, 0, &x[i]);
	for (int i = 0; i < 2000 && nmany < 200; i++)
		spin(1);
	cr_assert_eq(nmany, 200);
	for (int i = 0; i < 100; i++)
		plain_call_works();
	for (int i = 0; i < 200; i++)
		cr_assert_eq(send_msg(id[i], 1, 10, true), 0);
	for (int i = 0; i < 200; i++)
		wait_end(&x[i], 10000);
	cr_assert_eq(nmany, 0);
}

/*
 * The last run after a message over max_msg keeps the request (it answers
 * later): the caller's next message, already sent, is skipped, not a
 * protocol error.
 */
Test(rpc_stream_req, a_message_after_the_last_run_is_skipped)
{
	struct res x = { 0 };
	uint64_t id;

	restart(64 << 10);
	keep_after_last = true;
	id = open_stream(M_KEEP, 10, 0, 0, &x);
	cr_assert_eq(send_msg(id, 1, 100 << 10, false), 0);
	cr_assert_eq(send_msg(id, 2, 10, true), 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_RESOURCE_EXHAUSTED);
	spin(50);
	cr_assert_eq(proto_errors(), 0);
	cr_assert_not_null(kept);
	cr_assert(rpc_req_cancelled(kept));
	cr_assert_eq(rpc_respond(kept, RPC_OK, NULL, 0, NULL, 0), 0);
	kept = NULL;
	plain_call_works();
}

/* the app answers a kept stream after its session failed, before the loop
 * ran the handler's last run: that run is off (it would see a freed request) */
Test(rpc_stream_req, an_answer_after_the_session_failed_cancels_the_last_run)
{
	struct res x = { 0 };
	uint64_t id = open_stream(M_KEEP, 10, 0, 0, &x);

	for (int i = 0; i < 200 && !kept; i++)
		spin(1);
	cr_assert_not_null(kept);
	cr_assert_eq(send_msg(id, 1, 10, false), 0);
	for (int i = 0; i < 200 && keep_runs < 2; i++)
		spin(1);
	cr_assert_eq(keep_runs, 2);
	rpc_session_close(rpc_req_session(kept));
	cr_assert(rpc_req_cancelled(kept));
	cr_assert_eq(rpc_respond(kept, RPC_OK, NULL, 0, NULL, 0), 0);
	kept = NULL;
	spin(20);
	cr_assert_eq(keep_runs, 2, "no last run for a request already answered");
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_UNAVAILABLE);
}

#ifndef FK_MSG
/*
 * A hostile peer starts a message it never finishes, each time after the
 * app kept its stream, and the app answers: each such request stays to
 * skip the rest.  They are bounded like stand-ins: past the call window
 * the session is reset.  (Whole-message transports never show a message
 * part-way.)
 */
Test(rpc_stream_req, unfinished_messages_after_answers_are_bounded)
{
	int i;

	plain_call_works();	/* the session is up: frames go to its server side */
	for (i = 0; i < 400 && !proto_errors(); i++) {
		uint32_t cid = 5000 + (uint32_t)i;
		struct rpc_frame_hdr first = { .type = RPC_FT_REQUEST, .method = M_KEEP,
					       .call_id = cid, .flags = RPC_FF_REQ_MORE,
					       .frame_len = 1, .msg_len = 1 };
		struct rpc_frame_hdr part = { .type = RPC_FT_REQUEST, .method = M_KEEP,
					      .call_id = cid, .frame_len = 10, .msg_len = 100,
					      .flags = RPC_FF_REQ_CONT | RPC_FF_REQ_MORE |
						       RPC_FF_MORE };

		kept = NULL;
		inject(&first, "k");
		for (int k = 0; k < 50 && !kept && !proto_errors(); k++)
			spin(1);
		if (!kept)
			break;
		inject(&part, "0123456789");
		spin(2);
		cr_assert_eq(rpc_respond(kept, RPC_OK, NULL, 0, NULL, 0), 0);
		kept = NULL;
		spin(2);
	}
	cr_assert_eq(proto_errors(), 1, "after %d unfinished messages", i);
	cr_assert_geq(i, 200, "a caller's window of them is fine");
	cr_assert_leq(i, 260);
}
#endif
