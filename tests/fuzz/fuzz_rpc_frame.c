// SPDX-License-Identifier: MIT
/*
 * fuzz_rpc_frame - the rpc library's frame decoder and everything behind
 * it (rpc/WIRE.md): input is a byte stream a peer sent.
 *
 * Byte 0 picks the read chunk size (how the stream is cut into reads) and
 * bit 7 the direction: clear, the stream reaches a server endpoint (echo,
 * hold, fail and stream methods registered, and three that take streamed
 * requests, so requests, chunks, cancels and credits reach handlers); set,
 * it reaches a client endpoint with calls of every kind pending
 * (responses, chunks, late responses, deadlines, streamed responses, a
 * streamed request still sending).  The
 * rest is the stream, over the in-memory transport of the unit tests.
 *
 * Checks: no crash, sanitizer report or leak; every 32-byte header that
 * decodes re-encodes to the same bytes; the endpoints still tear down
 * cleanly (every call completes exactly once, and a streamed part reaches
 * only a call that asked, before its end).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/rpc_fake.inc.c"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static struct rpc_req *held[512];
static int nheld;
static int completions, issued;

static void h_echo(struct rpc_req *r, void *arg)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	struct iovec iov = { (void *)m->data, m->len };
	struct rpc_meta md = { "k", "v", 1 };

	/* walk the metadata as an app would */
	for (unsigned i = 0; i < m->nmeta; i++)
		CHECK(m->meta[i].key_len > 0);
	rpc_respond(r, RPC_OK, &iov, 1, &md, 1);
}

static void h_hold(struct rpc_req *r, void *arg)
{
	if (nheld < 512)
		held[nheld++] = r;
	else
		rpc_respond(r, RPC_ABORTED, NULL, 0, NULL, 0);
}

static void h_fail(struct rpc_req *r, void *arg)
{
	rpc_respond(r, (int)(rpc_req_time_left_us(r) % 17), NULL, 0, NULL, 0);
}

/* a streaming handler: two parts when the caller asked, then the end */
static void h_stream(struct rpc_req *r, void *arg)
{
	struct iovec iov = { "part", 4 };

	if (rpc_req_streams(r)) {
		CHECK(rpc_respond_part(r, &iov, 1, NULL, 0) == 0);
		CHECK(rpc_respond_part(r, &iov, 1, NULL, 0) == 0);
	} else {
		CHECK(rpc_respond_part(r, &iov, 1, NULL, 0) == -EOPNOTSUPP);
	}
	rpc_respond(r, RPC_OK, NULL, 0, NULL, 0);
}

/*
 * Streamed requests: "upload" answers at the last message, or early when a
 * message's length is a multiple of 5; "keep" keeps the request after its
 * last message and answers at teardown (a request it keeps is never run
 * again).  Both check what a run shows.
 */
static void check_run(struct rpc_req *r)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);

	CHECK(m->len == 0 || m->data);
	CHECK(m->nmeta == 0 || m->meta);
}

static void h_upload(struct rpc_req *r, void *arg)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);

	check_run(r);
	if (!rpc_req_more(r) || (m->len && m->len % 5 == 0))
		rpc_respond(r, RPC_OK, NULL, 0, NULL, 0);
}

static void h_keep(struct rpc_req *r, void *arg)
{
	check_run(r);
	if (rpc_req_more(r))
		return;
	if (rpc_req_cancelled(r) || nheld == 512)
		rpc_respond(r, RPC_CANCELLED, NULL, 0, NULL, 0);
	else
		held[nheld++] = r;
}

/*
 * "between" keeps a stream between its messages, and the harness answers
 * it from outside the handler while the stream goes on: after some reads,
 * when its next message may be part-way in (the library then skips the
 * rest of that message).
 */
static struct rpc_req *waiting[64];
static int nwaiting;

static void waiting_drop(struct rpc_req *r)
{
	for (int i = 0; i < nwaiting; i++)
		if (waiting[i] == r)
			waiting[i] = waiting[--nwaiting];
}

static void h_between(struct rpc_req *r, void *arg)
{
	check_run(r);
	waiting_drop(r);
	if (rpc_req_more(r) && !rpc_req_cancelled(r) && nwaiting < 64) {
		waiting[nwaiting++] = r;
		return;
	}
	rpc_respond(r, rpc_req_more(r) ? RPC_ABORTED : RPC_OK, NULL, 0, NULL, 0);
}

/* answer the oldest stream kept between messages, as an app would later */
static void answer_one_waiting(void)
{
	struct rpc_req *r;

	if (!nwaiting)
		return;
	r = waiting[0];
	waiting[0] = waiting[--nwaiting];
	rpc_respond(r, RPC_FAILED_PRECONDITION, NULL, 0, NULL, 0);
}

struct call_seen {
	bool stream, ended;
};

static void cont(const struct rpc_result *res, void *arg)
{
	struct call_seen *c = arg;

	CHECK(res->status >= 0 && res->status <= 16);
	CHECK(!c->ended);
	if (res->more) {
		CHECK(c->stream && res->status == RPC_OK);
		return;
	}
	c->ended = true;
	completions++;
}

static void check_headers(const uint8_t *p, size_t n)
{
	for (size_t off = 0; off + RPC_WIRE_HDR_LEN <= n; off += 7) {
		struct rpc_frame_hdr h;
		uint8_t again[RPC_WIRE_HDR_LEN];

		if (rpc_frame_decode(p + off, &h) != RPC_FE_OK)
			continue;
		rpc_frame_encode(&h, again);
		CHECK(!memcmp(again, p + off, RPC_WIRE_HDR_LEN));
	}
}

static void feed(struct rpc_endpoint *ep, void *t, const uint8_t *p, size_t n, size_t chunk)
{
	unsigned reads = 0;

	while (n) {
		size_t k = n < chunk ? n : chunk;

		fk_inject(t, p, k);
		p += k;
		n -= k;
		for (int i = 0; i < 3; i++)
			rpc_run(ep, 0);
		if (++reads % 2 == 0)
			answer_one_waiting();
	}
	for (int i = 0; i < 4; i++)
		rpc_run(ep, 0);
}

static struct rpc_endpoint *mk(void)
{
	struct rpc_endpoint_opts o = { .ops = &fake_ops, .max_msg = 1u << 20 };

	return rpc_endpoint_create(&o, NULL, 0);
}

static void as_server(const uint8_t *p, size_t n, size_t chunk)
{
	struct rpc_endpoint *ep = mk();
	int peer_owner;

	CHECK(ep);
	rpc_register(ep, 1, "echo", h_echo, NULL);
	rpc_register(ep, 2, "hold", h_hold, NULL);
	rpc_register(ep, 3, "fail", h_fail, NULL);
	rpc_register(ep, 4, "stream", h_stream, NULL);
	CHECK(rpc_register_flags(ep, 5, "upload", h_upload, NULL, RPC_METHOD_STREAM_REQ) == 0);
	CHECK(rpc_register_flags(ep, 6, "keep", h_keep, NULL, RPC_METHOD_STREAM_REQ) == 0);
	CHECK(rpc_register_flags(ep, 7, "between", h_between, NULL, RPC_METHOD_STREAM_REQ) == 0);
	CHECK(rpc_listen(ep, ":9000", NULL, NULL) == 0);
	/* a raw peer: a fake connection nobody's endpoint reads */
	CHECK(fk_connect(&peer_owner, 0, 9000) > 0);
	rpc_run(ep, 0);
	feed(ep, ep->t, p, n, chunk);
	/* answer what was held, some after their session died */
	for (int i = 0; i < nheld; i++)
		rpc_respond(held[i], i & 1 ? RPC_OK : RPC_INTERNAL, NULL, 0, NULL, 0);
	nheld = 0;
	while (nwaiting)
		answer_one_waiting();
	rpc_endpoint_destroy(ep);
}

static void as_client(const uint8_t *p, size_t n, size_t chunk)
{
	struct rpc_endpoint *ep = mk();
	struct rpc_call_opts dl = { .deadline_us = 1 }, st = { .flags = RPC_CALL_STREAM },
			     up = { .flags = RPC_CALL_SEND_STREAM | RPC_CALL_STREAM };
	struct call_seen seen[9] = { 0 };
	struct rpc_session *s;
	int peer_owner;
	uint8_t body[300];

	CHECK(ep);
	memset(body, 7, sizeof(body));
	CHECK(fk_listen(&peer_owner, 0, 9001) > 0);
	s = rpc_connect(ep, "10.0.0.1:9001", NULL, NULL);
	CHECK(s);
	rpc_run(ep, 0);
	completions = issued = 0;
	/* calls whose ids the stream may guess (1..8); 6 and 7 take streams */
	for (int i = 0; i < 8; i++) {
		struct iovec iov = { body, (size_t)i * 37 };

		seen[i].stream = i >= 6;
		if (rpc_call(s, (uint16_t)i, &iov, 1, i == 5 ? &dl : i >= 6 ? &st : NULL, cont,
			     &seen[i], NULL) == 0)
			issued++;
	}
	/* call 9: a streamed request still sending (and taking a stream) */
	uint64_t up_id = 0;
	struct iovec uiov = { body, 50 };

	seen[8].stream = true;
	if (rpc_call(s, 5, &uiov, 1, &up, cont, &seen[8], &up_id) == 0) {
		issued++;
		rpc_call_send(s, up_id, &uiov, 1, false);
	}
	rpc_run(ep, 0);
	feed(ep, ep->t, p, n, chunk);
	rpc_call_send(s, up_id, &uiov, 1, true); /* the call may be over: -ENOENT */
	rpc_run(ep, 0);
	rpc_session_close(s);
	rpc_run(ep, 0);
	CHECK(completions == issued);
	rpc_endpoint_destroy(ep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] & 0x7f) * 3 + 1;
	check_headers(data + 1, size - 1);
	if (data[0] & 0x80)
		as_client(data + 1, size - 1, chunk);
	else
		as_server(data + 1, size - 1, chunk);
	fk_reset_all();
	return 0;
}
