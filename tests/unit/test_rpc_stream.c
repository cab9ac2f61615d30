// SPDX-License-Identifier: MIT
/*
 * test_rpc_stream.c - streamed responses (RPC_CALL_STREAM,
 * rpc_respond_part()) over the in-memory transport: order and bytes,
 * more than max_msg in one call, a handler that outruns a slow reader
 * (-EAGAIN, then on), cancellation and deadlines mid-stream, a part over
 * the caller's max_msg, calls that did not ask for a stream, and a peer
 * that streams unasked (protocol error).  test_rpc_stream_msg.c runs them
 * again over a transport of whole messages, as fastpathd's RPC sessions.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_fake.inc.c"

#define M_STREAM 1	/* parts of the request's size, as many as its first byte says */
#define M_LAZY 2	/* deferred: the test streams from its own loop */
#define M_PLAIN 3	/* one response, whatever the caller asked */
#define M_WSTREAM 4	/* M_STREAM on a worker thread */

static struct rpc_endpoint *srv, *cli;
static struct rpc_session *sess;
static struct rpc_req *lazy;
static int part_rc;	/* what rpc_respond_part() said in h_plain */
static uint64_t queued_cap; /* max_queued_bytes of the next endpoints (0: default) */

static uint8_t pattern(uint32_t part, size_t i)
{
	return (uint8_t)(part * 31 + i * 7);
}

/*
 * N parts of LEN bytes (the request: u8 N, u32 LEN; N = 255: until the
 * call is cancelled), then OK with "end".  Return: the answers refused.
 */
static unsigned stream_back(struct rpc_req *r)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	uint32_t n = ((const uint8_t *)m->data)[0], len;
	struct iovec end = { "end", 3 };
	unsigned refused = 0;
	uint8_t *buf;

	memcpy(&len, (const uint8_t *)m->data + 1, 4);
	buf = malloc(len ? len : 1);
	for (uint32_t k = 0; n == 255 ? !rpc_req_cancelled(r) : k < n; k++) {
		struct iovec iov = { buf, len };

		for (size_t i = 0; i < len; i++)
			buf[i] = pattern(k, i);
		refused += rpc_respond_part(r, &iov, 1, NULL, 0) != 0;
	}
	free(buf);
	refused += rpc_respond(r, RPC_OK, &end, 1, NULL, 0) != 0;
	return refused;
}

static void h_stream(struct rpc_req *r, void *arg)
{
	cr_assert_eq(stream_back(r), 0, "parts refused");
}

/* M_STREAM on a worker thread (no criterion asserts there: counters the
 * test reads) */
static unsigned worker_errors, worker_done;

static void h_wstream(struct rpc_req *r, void *arg)
{
	__atomic_fetch_add(&worker_errors, stream_back(r), __ATOMIC_RELAXED);
	__atomic_fetch_add(&worker_done, 1, __ATOMIC_RELEASE);
}

static void h_lazy(struct rpc_req *r, void *arg)
{
	lazy = r;
}

static void h_plain(struct rpc_req *r, void *arg)
{
	struct iovec iov = { "one", 3 };

	part_rc = rpc_respond_part(r, &iov, 1, NULL, 0);
	rpc_respond(r, RPC_OK, &iov, 1, NULL, 0);
}

static struct rpc_endpoint *mk(uint32_t max_msg)
{
	struct rpc_endpoint_opts o = { .ops = &fake_ops, .max_msg = max_msg,
				       .reconnect_min_ms = 5, .reconnect_max_ms = 20,
				       .max_queued_bytes = queued_cap };
	struct rpc_endpoint *ep = rpc_endpoint_create(&o, NULL, 0);

	cr_assert_not_null(ep);
	return ep;
}

static void start(uint32_t srv_max, uint32_t cli_max)
{
	fk_reset_all();
	lazy = NULL;
	part_rc = 1;
	worker_errors = worker_done = 0;
	srv = mk(srv_max);
	cr_assert_eq(rpc_register(srv, M_STREAM, "stream", h_stream, NULL), 0);
	cr_assert_eq(rpc_register(srv, M_LAZY, "lazy", h_lazy, NULL), 0);
	cr_assert_eq(rpc_register(srv, M_PLAIN, "plain", h_plain, NULL), 0);
	cr_assert_eq(rpc_register_flags(srv, M_WSTREAM, "wstream", h_wstream, NULL,
					RPC_METHOD_WORKER), 0);
	cr_assert_eq(rpc_listen(srv, ":7000", NULL, NULL), 0);
	cli = mk(cli_max);
	sess = rpc_connect(cli, "10.0.0.1:7000", NULL, NULL);
	cr_assert_not_null(sess);
}

static void setup(void)
{
	queued_cap = 0;
	start(0, 0);
}

static void teardown(void)
{
	if (lazy)
		rpc_respond(lazy, RPC_OK, NULL, 0, NULL, 0);
	rpc_endpoint_destroy(cli);
	rpc_endpoint_destroy(srv);
	fk_reset_all();
}

TestSuite(rpc_stream, .init = setup, .fini = teardown);

static void spin(int rounds)
{
	for (int i = 0; i < rounds; i++) {
		rpc_run(cli, 0);
		if (srv)
			rpc_run(srv, 0);
	}
}

/* what a streaming caller saw: parts checked against pattern() as they come */
struct seen {
	uint32_t parts, bad, after_end;
	uint64_t bytes;
	int ends, status;
	char end[8];
	bool cancel_at_3;
	uint64_t id;
};

static void on_part(const struct rpc_result *r, void *arg)
{
	struct seen *x = arg;

	if (x->ends) {
		x->after_end++;
		return;
	}
	if (!r->more) {
		x->ends++;
		x->status = r->status;
		snprintf(x->end, sizeof(x->end), "%.*s", (int)r->msg.len,
			 r->msg.data ? (const char *)r->msg.data : "");
		return;
	}
	cr_assert_eq(r->status, RPC_OK);
	for (size_t i = 0; i < r->msg.len; i++)
		x->bad += ((const uint8_t *)r->msg.data)[i] != pattern(x->parts, i);
	x->bytes += r->msg.len;
	x->parts++;
	if (x->cancel_at_3 && x->parts == 3)
		cr_assert_eq(rpc_cancel(sess, x->id), 0);
}

static int stream_call_to(uint16_t method, uint8_t n, uint32_t len, struct seen *x,
			  uint64_t deadline_us)
{
	uint8_t req[5] = { n };
	struct iovec iov = { req, sizeof(req) };
	struct rpc_call_opts o = { .flags = RPC_CALL_STREAM, .deadline_us = deadline_us };

	memcpy(req + 1, &len, 4);
	return rpc_call(sess, method, &iov, 1, &o, on_part, x, &x->id);
}

static int stream_call(uint8_t n, uint32_t len, struct seen *x, uint64_t deadline_us)
{
	return stream_call_to(M_STREAM, n, len, x, deadline_us);
}

static void wait_end(struct seen *x, int ms)
{
	uint64_t end = rpc_now_us() + (uint64_t)ms * 1000;

	while (!x->ends && rpc_now_us() < end)
		spin(1);
	cr_assert_eq(x->ends, 1, "the stream did not end");
	spin(20);
	cr_assert_eq(x->after_end, 0, "the continuation ran after the end");
}

/* a streaming call to M_LAZY, whose request the test then holds (lazy) */
static void lazy_call(struct seen *x, uint64_t deadline_us)
{
	uint8_t req[5] = { 0 };
	struct iovec iov = { req, sizeof(req) };
	struct rpc_call_opts o = { .flags = RPC_CALL_STREAM, .deadline_us = deadline_us };

	cr_assert_eq(rpc_call(sess, M_LAZY, &iov, 1, &o, on_part, x, &x->id), 0);
	for (int i = 0; i < 200 && !lazy; i++)
		spin(1);
	cr_assert_not_null(lazy);
}

/* fresh endpoints with this max_queued_bytes and these max_msg */
static void restart(uint64_t cap, uint32_t srv_max, uint32_t cli_max)
{
	rpc_endpoint_destroy(cli);
	rpc_endpoint_destroy(srv);
	queued_cap = cap;
	start(srv_max, cli_max);
}

Test(rpc_stream, parts_arrive_in_order_then_the_end)
{
	struct seen x = { 0 };

	cr_assert_eq(stream_call(50, 1000, &x, 0), 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_OK);
	cr_assert_eq(x.parts, 50);
	cr_assert_eq(x.bytes, 50000);
	cr_assert_eq(x.bad, 0, "%u bytes differ", x.bad);
	cr_assert_str_eq(x.end, "end");
	/* the session serves plain calls as before */
	struct seen y = { 0 };

	cr_assert_eq(stream_call(0, 0, &y, 0), 0);
	wait_end(&y, 2000);
	cr_assert_eq(y.parts, 0);
	cr_assert_str_eq(y.end, "end");
}

/* one call carries more than max_msg: each part is within it */
Test(rpc_stream, a_stream_carries_more_than_max_msg)
{
	struct seen x = { 0 };

	restart(0, 1u << 20, 1u << 20);
	cr_assert_eq(stream_call(12, 1u << 20, &x, 0), 0);
	wait_end(&x, 20000);
	cr_assert_eq(x.status, RPC_OK);
	cr_assert_eq(x.parts, 12);
	cr_assert_eq(x.bytes, 12ull << 20);
	cr_assert_eq(x.bad, 0);
}

/*
 * A handler streams from its own loop against a reader behind a 64 KiB
 * pipe: it gets -EAGAIN once max_queued_bytes (1 MiB here) wait, goes on
 * when they drain, and the caller sees every part, in order.
 */
Test(rpc_stream, a_producer_faster_than_its_reader_waits)
{
	struct seen x = { 0 };
	static uint8_t buf[100000];
	uint32_t sent = 0, eagain = 0;

	restart(1u << 20, 0, 0);
	lazy_call(&x, 0);
	cr_assert(rpc_req_streams(lazy));
	fk_pipe_cap = 64u << 10;
	uint64_t end = rpc_now_us() + 20000000;

	while (sent < 60 && rpc_now_us() < end) {
		struct iovec p = { buf, sizeof(buf) };
		int rc;

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pattern(sent, i);
		rc = rpc_respond_part(lazy, &p, 1, NULL, 0);
		if (rc == -EAGAIN) {
			eagain++;
			spin(1);
			continue;
		}
		cr_assert_eq(rc, 0);
		sent++;
		/* what waits unsent stays within the bound */
		cr_assert_leq(lazy->s->queued_bytes, 1u << 20);
	}
	cr_assert_eq(sent, 60);
	cr_assert_gt(eagain, 0, "never pushed back");
	cr_assert_eq(rpc_respond(lazy, RPC_OK, NULL, 0, NULL, 0), 0);
	lazy = NULL;
	wait_end(&x, 20000);
	cr_assert_eq(x.parts, 60);
	cr_assert_eq(x.bad, 0);
	cr_assert_eq(x.status, RPC_OK);
}

/* the caller cancels after 3 parts: CANCELLED, nothing after, and the
 * server's handler sees the cancel (its parts are dropped) */
Test(rpc_stream, cancel_mid_stream)
{
	struct seen x = { .cancel_at_3 = true };
	struct iovec p = { "part", 4 };

	lazy_call(&x, 0);
	for (int k = 0; k < 3; k++) {
		uint8_t b[4];
		struct iovec q = { b, 4 };

		for (size_t i = 0; i < 4; i++)
			b[i] = pattern((uint32_t)k, i);
		cr_assert_eq(rpc_respond_part(lazy, &q, 1, NULL, 0), 0);
	}
	for (int i = 0; i < 200 && !rpc_req_cancelled(lazy); i++)
		spin(1);
	cr_assert(rpc_req_cancelled(lazy), "the server never saw the cancel");
	cr_assert_eq(rpc_respond_part(lazy, &p, 1, NULL, 0), 0, "dropped, not an error");
	cr_assert_eq(rpc_respond(lazy, RPC_OK, NULL, 0, NULL, 0), 0);
	lazy = NULL;
	spin(50);
	cr_assert_eq(x.parts, 3);
	cr_assert_eq(x.ends, 1);
	cr_assert_eq(x.status, RPC_CANCELLED);
	cr_assert_eq(x.after_end, 0);
	/* the credit came back: a full window of calls still goes through */
	for (int k = 0; k < (int)RPC_WIRE_INIT_CALLS + 10; k++) {
		struct seen y = { 0 };

		cr_assert_eq(stream_call(1, 10, &y, 0), 0);
		wait_end(&y, 2000);
		cr_assert_eq(y.parts, 1);
	}
}

Test(rpc_stream, the_deadline_covers_the_whole_stream)
{
	struct seen x = { 0 };
	uint64_t t0 = rpc_now_us();
	uint32_t made = 0;

	lazy_call(&x, 100000);
	while (!x.ends && rpc_now_us() < t0 + 2000000) {
		uint8_t b[4];
		struct iovec q = { b, 4 };

		for (size_t i = 0; i < 4; i++)
			b[i] = pattern(made, i);
		if (!rpc_req_cancelled(lazy)) {
			cr_assert_eq(rpc_respond_part(lazy, &q, 1, NULL, 0), 0);
			made++;
		}
		spin(1);
	}
	cr_assert_eq(x.status, RPC_DEADLINE_EXCEEDED);
	cr_assert_gt(x.parts, 0);
	cr_assert_eq(x.bad, 0);
	cr_assert_geq(rpc_now_us() - t0, 100000);
}

/* a part larger than the caller's max_msg ends the call, the session lives */
Test(rpc_stream, a_part_over_the_callers_max_msg)
{
	struct seen x = { 0 };

	restart(0, 4u << 20, 64u << 10);
	cr_assert_eq(stream_call(3, 100000, &x, 0), 0);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_RESOURCE_EXHAUSTED);
	cr_assert_eq(x.parts, 0);
	struct seen y = { 0 };

	cr_assert_eq(stream_call(2, 1000, &y, 0), 0);
	wait_end(&y, 5000);
	cr_assert_eq(y.status, RPC_OK);
	cr_assert_eq(y.parts, 2);
	cr_assert(rpc_session_connected(sess));
}

/* a call that did not ask: the handler may not stream, the answer is one */
Test(rpc_stream, only_for_callers_that_ask)
{
	struct seen x = { 0 };
	struct iovec iov = { "x", 1 };
	struct rpc_call_opts o = { .flags = RPC_CALL_STREAM };
	struct rpc_reply rep;

	cr_assert_eq(rpc_call_sync(sess, M_PLAIN, &iov, 1, &o, &rep), -EINVAL);
	cr_assert_eq(rpc_call(sess, M_PLAIN, &iov, 1, NULL, on_part, &x, NULL), 0);
	wait_end(&x, 2000);
	cr_assert_eq(x.status, RPC_OK);
	cr_assert_str_eq(x.end, "one");
	cr_assert_eq(x.parts, 0);
	cr_assert_eq(part_rc, -EOPNOTSUPP);
	o.flags = 0x80;
	cr_assert_eq(rpc_call(sess, M_PLAIN, &iov, 1, &o, on_part, &x, NULL), -EINVAL);
}

/* a RESPONSE with STREAM for a call that did not ask is a protocol error */
Test(rpc_stream, a_peer_streaming_unasked_is_a_protocol_error)
{
	uint8_t frame[RPC_WIRE_HDR_LEN + 3];
	struct rpc_stats st;
	struct seen x = { 0 };

	cr_assert_eq(rpc_call(sess, M_LAZY, NULL, 0, NULL, on_part, &x, NULL), 0);
	for (int i = 0; i < 200 && !lazy; i++)
		spin(1);
	cr_assert_not_null(lazy);
	struct rpc_frame_hdr h = { .type = RPC_FT_RESPONSE, .flags = RPC_FF_STREAM,
				   .call_id = lazy->call_id, .frame_len = 3, .msg_len = 3 };

	rpc_frame_encode(&h, frame);
	memcpy(frame + RPC_WIRE_HDR_LEN, "bad", 3);
	fk_inject(cli->t, frame, sizeof(frame));
	spin(20);
	rpc_endpoint_stats(cli, &st);
	cr_assert_eq(st.proto_errors, 1);
	cr_assert_eq(x.ends, 1);
	cr_assert_eq(x.status, RPC_UNAVAILABLE, "the session's calls fail");
	cr_assert_eq(x.parts, 0);
}

static size_t items_queued(struct rpc_session *s)
{
	size_t n = 0;

	for (unsigned c = 0; c < RPC_TXC_N; c++)
		for (struct rpc_txitem *it = s->ctlq[c].head; it; it = it->next)
			n++;
	return n;
}

/* to a reader that does not read, even empty parts are bounded: each
 * weighs its bytes and its bookkeeping in max_queued_bytes */
Test(rpc_stream, empty_parts_are_bounded_too)
{
	struct seen x = { 0 };
	int ok = 0, rc = 0;

	restart(64u << 10, 0, 0);
	lazy_call(&x, 0);
	fk_pipe_cap = 0;
	for (int k = 0; k < 100000 && !(rc = rpc_respond_part(lazy, NULL, 0, NULL, 0)); k++)
		ok++;
	cr_assert_eq(rc, -EAGAIN, "%d empty parts queued, never pushed back", ok);
	cr_assert_lt(items_queued(lazy->s), 200, "%zu items for a 64 KiB bound",
		     items_queued(lazy->s));
	fk_pipe_cap = SIZE_MAX;
	cr_assert_eq(rpc_respond(lazy, RPC_OK, NULL, 0, NULL, 0), 0);
	lazy = NULL;
	wait_end(&x, 5000); /* (x is on this stack: the call must end here) */
	cr_assert_eq(x.parts, (uint32_t)ok);
}

/* the caller cancels: the parts the server queued and has not started go
 * unsent (what WIRE.md promises), and the session goes on */
Test(rpc_stream, a_cancel_drops_the_queued_parts)
{
	struct seen x = { 0 };
	static uint8_t big[100000];
	struct iovec p = { big, sizeof(big) };

	lazy_call(&x, 0);
	fk_pipe_cap = 4096;
	for (int k = 0; k < 100; k++)
		cr_assert_eq(rpc_respond_part(lazy, &p, 1, NULL, 0), 0);
	cr_assert_eq(rpc_cancel(sess, x.id), 0);
	for (int i = 0; i < 2000 && !rpc_req_cancelled(lazy); i++)
		spin(1);
	cr_assert(rpc_req_cancelled(lazy));
	cr_assert_leq(items_queued(lazy->s), 1, "%zu parts still queued", items_queued(lazy->s));
	cr_assert_leq(lazy->s->queued_bytes, rpc_tx_cost(sizeof(big)));
	fk_pipe_cap = SIZE_MAX;
	cr_assert_eq(rpc_respond(lazy, RPC_OK, NULL, 0, NULL, 0), 0);
	lazy = NULL;
	struct seen y = { 0 };

	cr_assert_eq(stream_call(2, 10, &y, 0), 0);
	wait_end(&y, 5000);
	cr_assert_eq(y.parts, 2);
	cr_assert_eq(x.status, RPC_CANCELLED);
}

#ifdef FK_MSG
static struct rpc_req *holdv[64];
static int nhold;

static void h_holdit(struct rpc_req *r, void *arg)
{
	holdv[nhold++] = r;
}

static void inject_frame(const struct rpc_frame_hdr *h, const void *payload)
{
	uint8_t hb[RPC_WIRE_HDR_LEN];

	rpc_frame_encode(h, hb);
	fk_inject(srv->t, hb, sizeof(hb));
	if (h->frame_len)
		fk_inject(srv->t, payload, h->frame_len);
}

/*
 * A peer within its credit: a request over max_msg (every frame handed
 * back as credit as it goes by), requests filling the window to 10 bytes
 * short, then the first one's CANCEL.  Its end carries no byte and must be
 * charged none: a header's worth would break the window, a protocol error.
 */
Test(rpc_stream, an_abandoned_end_is_charged_what_it_cost)
{
	static uint8_t zero[1u << 20];
	uint32_t fl = 256u << 10;
	struct rpc_stats st;

	restart(0, 1u << 20, 0);
	cr_assert_eq(rpc_register(srv, 9, "hold", h_holdit, NULL), 0);
	spin(50);
	struct rpc_session *ss = srv->sessions;

	cr_assert_not_null(ss);
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .flags = RPC_FF_MORE, .method = 9,
				   .call_id = 5000, .frame_len = fl, .msg_len = 8u << 20 };

	inject_frame(&h, zero);
	for (uint32_t k = 1; k < 16; k++) {
		struct rpc_frame_hdr c = { .type = RPC_FT_CHUNK, .flags = RPC_FF_MORE,
					   .call_id = 5000, .frame_len = fl, .msg_len = k * fl };

		inject_frame(&c, zero);
	}
	for (int i = 0; i < 20; i++)
		rpc_run(srv, 0);
	uint64_t room = ss->rx_bytes_win - ss->rx_bytes_used - ss->grant_bytes - 10;

	for (uint32_t id = 6000; room; id++) {
		uint32_t body = room - 32 > (1u << 20) ? (1u << 20) : (uint32_t)(room - 32);
		struct rpc_frame_hdr q = { .type = RPC_FT_REQUEST, .method = 9, .call_id = id,
					   .frame_len = body, .msg_len = body };

		inject_frame(&q, zero);
		room -= 32 + body;
	}
	for (int i = 0; i < 20; i++)
		rpc_run(srv, 0);
	struct rpc_frame_hdr cn = { .type = RPC_FT_CANCEL, .call_id = 5000,
				    .status = RPC_CANCELLED };

	inject_frame(&cn, NULL);
	for (int i = 0; i < 20; i++)
		rpc_run(srv, 0);
	rpc_endpoint_stats(srv, &st);
	cr_assert_eq(st.proto_errors, 0);
	cr_assert_eq(ss->state, SS_UP);
	for (int i = 0; i < nhold; i++)
		rpc_respond(holdv[i], RPC_OK, NULL, 0, NULL, 0);
	nhold = 0;
}
#endif

/* run the server alone until its worker waits for a reader, or @ms pass */
static uint64_t until_a_worker_waits(struct rpc_endpoint *ep, int ms)
{
	struct rpc_stats st = { 0 };
	uint64_t end = rpc_now_us() + (uint64_t)ms * 1000;

	while (!st.stream_waits && rpc_now_us() < end) {
		rpc_run(ep, 1);
		rpc_endpoint_stats(ep, &st);
	}
	return st.stream_waits;
}

/*
 * A handler on a worker thread streams 40 parts of 100 KB to a reader that
 * stops for a while, then reads through a 64 KiB pipe, with 1 MiB of
 * budget: it waits for room instead of filling memory, and the caller
 * gets every part in order, then the end.
 */
Test(rpc_stream, a_worker_handler_streams)
{
	static struct seen x; /* static: a continuation may outlive a failed test */
	uint64_t waits;

	memset(&x, 0, sizeof(x));
	restart(1u << 20, 0, 0);
	cr_assert_eq(stream_call_to(M_WSTREAM, 40, 100000, &x, 0), 0);
	spin(2); /* the request is in */
	fk_pipe_cap = 0; /* a reader that stops: the worker must wait */
	waits = until_a_worker_waits(srv, 5000);
	fk_pipe_cap = 64u << 10;
	wait_end(&x, 30000);
	cr_assert_eq(x.status, RPC_OK);
	cr_assert_eq(x.parts, 40);
	cr_assert_eq(x.bytes, 4000000);
	cr_assert_eq(x.bad, 0);
	cr_assert_str_eq(x.end, "end");
	cr_assert_gt(waits, 0, "the worker never waited for its reader");
	cr_assert_eq(__atomic_load_n(&worker_errors, __ATOMIC_RELAXED), 0);
	fk_pipe_cap = SIZE_MAX;
}

/* the caller's deadline passes while the worker waits for room: it wakes,
 * sees the call cancelled, and its handler ends */
Test(rpc_stream, a_waiting_worker_sees_the_deadline)
{
	static struct seen x;
	uint64_t end;

	memset(&x, 0, sizeof(x));
	restart(256u << 10, 0, 0);
	cr_assert_eq(stream_call_to(M_WSTREAM, 200, 100000, &x, 300000), 0);
	spin(2);
	fk_pipe_cap = 0; /* the reader stops reading */
	cr_assert_gt(until_a_worker_waits(srv, 5000), 0, "the worker never waited");
	wait_end(&x, 10000);
	cr_assert_eq(x.status, RPC_DEADLINE_EXCEEDED);
	for (end = rpc_now_us() + 5000000; !__atomic_load_n(&worker_done, __ATOMIC_ACQUIRE) &&
					   rpc_now_us() < end;)
		spin(1);
	cr_assert_eq(worker_done, 1, "the handler never returned");
	fk_pipe_cap = SIZE_MAX;
}

/* a worker streaming until cancelled does not hold up the endpoint's end */
Test(rpc_stream, destroy_ends_an_endless_worker_stream)
{
	static struct seen x;
	uint64_t t0;

	memset(&x, 0, sizeof(x));
	cr_assert_eq(stream_call_to(M_WSTREAM, 255, 1000, &x, 0), 0);
	for (t0 = rpc_now_us() + 5000000; !x.parts && rpc_now_us() < t0;)
		spin(1);
	cr_assert_gt(x.parts, 0, "the stream never started");
	t0 = rpc_now_us();
	rpc_endpoint_destroy(srv);
	srv = NULL;
	cr_assert_lt(rpc_now_us() - t0, 2000000, "destroy waited for the stream");
	cr_assert_eq(worker_done, 1);
	wait_end(&x, 5000);
	cr_assert_eq(x.status, RPC_UNAVAILABLE);
}

/*
 * Two sessions, each with a worker stream: one reader stops for good, the
 * other reads.  The stalled one holds only its own stream: the other's
 * finishes at once.
 */
Test(rpc_stream, one_slow_reader_holds_up_only_its_own_stream)
{
	static struct seen stalled, fine;
	struct rpc_endpoint *cli2;
	struct rpc_session *sess2;
	uint8_t req[5] = { 250 };
	uint32_t len = 10000;
	struct iovec iov = { req, sizeof(req) };
	struct rpc_call_opts o = { .flags = RPC_CALL_STREAM };
	uint64_t t0;

	memset(&stalled, 0, sizeof(stalled));
	memset(&fine, 0, sizeof(fine));
	restart(256u << 10, 0, 0);
	cli2 = mk(0);
	sess2 = rpc_connect(cli2, "10.0.0.1:7000", NULL, NULL);
	memcpy(req + 1, &len, 4);
	fk_pipe_cap = 64u << 10;
	for (int i = 0; i < 20; i++) {
		rpc_run(cli2, 0);
		spin(1);
	}
	cr_assert_eq(rpc_call(sess2, M_WSTREAM, &iov, 1, &o, on_part, &stalled, NULL), 0);
	for (int i = 0; i < 20; i++) {
		rpc_run(cli2, 0); /* the request goes out; then cli2 stops reading */
		spin(1);
	}
	cr_assert_gt(until_a_worker_waits(srv, 5000), 0, "the stalled stream never waited");
	t0 = rpc_now_us();
	cr_assert_eq(stream_call_to(M_WSTREAM, 20, 10000, &fine, 0), 0);
	wait_end(&fine, 10000);
	cr_assert_eq(fine.status, RPC_OK);
	cr_assert_eq(fine.parts, 20);
	cr_assert_lt(rpc_now_us() - t0, 1000000, "the other stream waited %llu us",
		     (unsigned long long)(rpc_now_us() - t0));
	fk_pipe_cap = SIZE_MAX;
	rpc_endpoint_destroy(cli2); /* its call ends CANCELLED */
	cr_assert_eq(stalled.ends, 1);
}
