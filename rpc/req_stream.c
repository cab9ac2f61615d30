// SPDX-License-Identifier: MIT
/*
 * req_stream.c - streamed requests on the server side (WIRE.md "Streamed
 * requests").
 *
 * A streamed request is a sequence of REQUEST messages of one call: the
 * first flagged REQ_MORE, the next ones REQ_CONT, every one but the last
 * REQ_MORE.  Its handler runs once per message, in order (rpc_req_run()).
 * After a message that more follow, the handler keeps the request without
 * answering; that message's bytes and its credit go back at once, so a
 * stream may carry more than the byte window or max_msg, and what the
 * server holds is one message at a time.  The request's own call of
 * credit stays until it is answered.
 *
 * Once its handler has seen a message (r->seen), the app may hold the
 * request, so only the handler ends it: whatever stops the stream early
 * (a CANCEL, the session failing, the deadline, a message over max_msg)
 * makes the handler run a last time with rpc_req_cancelled() true and an
 * empty message, and that run's rpc_respond() frees it.  Before that, the
 * library ends it on its own, as any request.
 *
 * The handler may answer early, between messages: the call is over, and
 * the messages still coming are skipped (r->late, rx.c) with their credit
 * given back.
 */
#include <string.h>

#include "rpc_internal.h"

/* the next message of @r (waiting for it: r->between) starts, header @h */
void rpc_req_next(struct rpc_req *r, const struct rpc_frame_hdr *h, bool alloc)
{
	r->between = false;
	r->complete = false;
	rpc_req_part_init(r, h, alloc);	/* its bytes are its only credit */
}

/**
 * rpc_req_last_run - the handler's last run: the stream stopped early
 * (@r reads as cancelled from now), and nothing more of it is received.
 */
void rpc_req_last_run(struct rpc_req *r)
{
	const struct rpc_method *m = rpc_method_get(r->ep, r->method);

	__atomic_store_n(&r->cancelled, true, __ATOMIC_RELAXED);
	rpc_req_part_free(r);
	r->more = false;
	r->between = false;
	r->complete = true;
	r->view.data = "";
	if (r->wrun) {
		rpc_wstream_stop(r, m);	/* after the worker's run under way */
		return;
	}
	if (!m) {
		rpc_req_release(r);
		return;
	}
	rpc_req_run(r, m);
}

/*
 * A message of @r is wrong (@st, @text): the caller is answered now, and
 * the handler, which holds @r, ends it in its last run (that response is
 * dropped: @r reads as cancelled).
 */
static void fail(struct rpc_req *r, int st, const char *text)
{
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	struct rpc_frame_hdr h = { .type = RPC_FT_RESPONSE, .method = r->method,
				   .call_id = r->call_id, .status = (uint16_t)st,
				   .msg_len = (uint32_t)iov.iov_len };

	if (r->s && r->s->state == SS_UP)
		rpc_tx_msg(r->s, &h, &iov, 1, NULL, 0, 0, RPC_TXC_LATENCY, NULL);
	rpc_req_last_run(r);
}

/* a message after the first is whole: its handler run */
void rpc_req_stream_next(struct rpc_req *r)
{
	const struct rpc_method *m = rpc_method_get(r->ep, r->method);

	if (r->drop) {
		fail(r, RPC_RESOURCE_EXHAUSTED,
		     "a message of the streamed request is larger than the server's max_msg, "
		     "or no room for it");
		return;
	}
	if (rpc_msg_show(&r->view, r->meta, r->data, &r->hdr) < 0) {
		fail(r, RPC_INVALID_ARGUMENT, "malformed metadata");
		return;
	}
	if (!m || rpc_req_cancelled(r)) {
		rpc_req_last_run(r);	/* the deadline passed: the caller has given up */
		return;
	}
	if (r->wrun) {	/* a worker method's: runs when the one before is over */
		if (!rpc_wstream_queue(r))
			fail(r, RPC_RESOURCE_EXHAUSTED,
			     "the server's worker is too many messages behind the stream");
		return;
	}
	rpc_req_run(r, m);
}

/*
 * The handler returned from a message that more follow, keeping @r: the
 * message's bytes and its credit go back, and @r waits for the next one
 * (or, if the stream stopped meanwhile, the handler runs a last time).
 */
void rpc_req_part_done(struct rpc_req *r)
{
	if (r->s)
		rpc_credit_return(r->s, 0, r->credit_bytes);
	r->credit_bytes = 0;
	rpc_req_part_free(r);
	r->complete = false;
	r->between = true;
	if (rpc_req_cancelled(r))
		rpc_req_last_run(r);
}

/*
 * CANCEL for @r, whose handler has seen a message and holds it.  A message
 * of it may be part-way in: the caller sends no more of it after a CANCEL
 * (WIRE.md), so the last run frees it.
 */
void rpc_req_stream_cancel(struct rpc_req *r)
{
	rpc_req_last_run(r);
}

/**
 * rpc_req_answer_early - the app answers @r between two of its messages.
 * Return: true if a message of @r is part-way in (its bytes still come):
 * the answer takes @r's credit for what came so far, and the caller ends
 * with rpc_req_rest_late() instead of releasing @r.
 */
bool rpc_req_answer_early(struct rpc_req *r)
{
	return r->seen && !r->complete && !r->between && r->s;
}

/*
 * The answer is out, with the credit of what came (given back already,
 * or when the answer is written): @r now stands for the rest of the
 * message still arriving, skipped as a late one (its frames' bytes go
 * back as they come, its call at its end), so the app's handle is gone
 * but no frame of it can meet a missing request.
 */
void rpc_req_rest_late(struct rpc_req *r)
{
	struct rpc_session *s = r->s;

	rpc_wstream_end(r);
	if (!r->credit_passed) /* what rpc_req_release() would give back */
		rpc_credit_return(s, r->credit_calls, r->credit_bytes);
	r->credit_passed = false;
	r->credit_calls = 0;	/* the rest costs bytes only, given back as they come */
	r->credit_bytes = 0;
	rpc_req_part_free(r);
	r->seen = false;
	r->late = r->drop = true;
	r->standin = true;	/* bounded with the stand-ins: a peer that never
				 * sends the rest must not pile these up */
	s->nlate++;
	if (s->rf_req == r)
		s->rf_dst = NULL; /* the rest of the frame being read goes nowhere */
}

/*
 * @r's session failed while it waited for a message: the handler runs a
 * last time from rpc_run(), not from inside the failure (which may come
 * from an app call).
 */
void rpc_req_stream_orphan(struct rpc_req *r)
{
	struct rpc_endpoint *ep = r->ep;

	rpc_req_part_free(r);
	r->complete = true;	/* nothing more comes: only its last run ends it */
	r->enext = ep->ended;
	r->on_ended = true;
	ep->ended = r;
}

/* @r is answered before its last run came: off the list */
void rpc_req_off_ended(struct rpc_req *r)
{
	for (struct rpc_req **pp = &r->ep->ended; *pp; pp = &(*pp)->enext) {
		if (*pp == r) {
			*pp = r->enext;
			break;
		}
	}
	r->on_ended = false;
}

void rpc_reqs_run_ended(struct rpc_endpoint *ep)
{
	while (ep->ended) {
		struct rpc_req *r = ep->ended;

		ep->ended = r->enext;
		r->on_ended = false;
		rpc_req_last_run(r);
	}
}

bool rpc_req_more(const struct rpc_req *r)
{
	/* a worker's run: its own message's (r->more is the one coming in) */
	return r->wrun ? r->wrun->m.more : r->more;
}
