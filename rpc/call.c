// SPDX-License-Identifier: MIT
/*
 * call.c - calls this endpoint makes: ids, deadlines, cancellation,
 * completion.
 *
 * A call's id is the session's next number (32 bits, never 0), and the
 * call sits in the session's table at id modulo its size (a power of two,
 * at most half full, doubled as needed), so a response finds its call in
 * O(1), and a late one (after a deadline or a cancel) matches no newer
 * call until 2^32 calls later.  A place in the table stays taken until the
 * continuation has run: completions that carry no data (deadline, cancel,
 * failure) wait on the endpoint's done list and run from rpc_run(), never
 * from inside the app's rpc_call()/rpc_cancel().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

#define RPC_MAX_CALLS 65536 /* pending on one session */

struct rpc_ccall *rpc_call_lookup(struct rpc_session *s, uint32_t id)
{
	struct rpc_ccall *c = s->calls_cap ? s->calls[id & (s->calls_cap - 1)] : NULL;

	if (!c || c->id != id || (c->state != CALL_QUEUED && c->state != CALL_SENT))
		return NULL;
	return c;
}

/* twice the table: ids apart modulo the old size are apart modulo the new */
static bool calls_grow(struct rpc_session *s)
{
	uint32_t cap = s->calls_cap ? 2 * s->calls_cap : 16;
	struct rpc_ccall **v = calloc(cap, sizeof(*v));

	if (!v)
		return false;
	for (uint32_t i = 0; i < s->calls_cap; i++)
		if (s->calls[i])
			v[s->calls[i]->id & (cap - 1)] = s->calls[i];
	free(s->calls);
	s->calls = v;
	s->calls_cap = cap;
	return true;
}

static struct rpc_ccall *call_alloc(struct rpc_session *s)
{
	struct rpc_ccall *c = s->free_calls;

	if (s->ncalls == RPC_MAX_CALLS || (2 * (s->ncalls + 1) > s->calls_cap && !calls_grow(s)))
		return NULL;
	if (c) {
		s->free_calls = c->next_free;
	} else {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->s = s;
		c->dl.idx = -1;
	}
	/* the next id whose place is free (at most half are taken); ids
	 * are never 0 */
	uint32_t mask = s->calls_cap - 1;
	do {
		c->id = ++s->next_call_id;
	} while (!c->id || s->calls[c->id & mask]);
	s->calls[c->id & mask] = c;
	s->ncalls++;
	return c;
}

static void call_release(struct rpc_ccall *c)
{
	struct rpc_session *s = c->s;

	rpc_buf_put(&s->ep->pool, c->rbuf);
	c->rbuf = NULL;
	c->rdrop = false;
	c->state = CALL_FREE;
	s->calls[c->id & (s->calls_cap - 1)] = NULL;
	s->ncalls--;
	c->next_free = s->free_calls;
	s->free_calls = c;
}

static void call_end(struct rpc_ccall *c, int status)
{
	struct rpc_endpoint *ep = c->s->ep;

	/* a deadline or a cancel between two reads of its response frame:
	 * the rest of that frame has nowhere to go (its buffer goes back
	 * to the pool) and must not complete the call a second time */
	if (c->s->rf_call == c) {
		c->s->rf_call = NULL;
		c->s->rf_dst = NULL;
	}
	rpc_timer_cancel(&ep->timers, &c->dl);
	c->state = CALL_DONE;
	c->s->npending--;
	if (status == RPC_OK)
		ep->st.calls_ok++;
	else
		ep->st.calls_failed++;
}

/**
 * rpc_call_complete - end @c locally with @status; its continuation runs
 * from the done list.
 */
void rpc_call_complete(struct rpc_ccall *c, int status)
{
	struct rpc_endpoint *ep = c->s->ep;

	call_end(c, status);
	c->done_status = status;
	c->next_done = NULL;
	if (ep->done_tail)
		ep->done_tail->next_done = c;
	else
		ep->done_head = c;
	ep->done_tail = c;
}

/* run the continuations of locally completed calls */
void rpc_run_done(struct rpc_endpoint *ep)
{
	while (ep->done_head) {
		struct rpc_ccall *c = ep->done_head;
		struct rpc_result res = { .status = c->done_status };

		ep->done_head = c->next_done;
		if (!ep->done_head)
			ep->done_tail = NULL;
		ep->in_cb++;
		c->cont(&res, c->arg);
		ep->in_cb--;
		call_release(c);
	}
}

/**
 * rpc_call_deliver - a whole response is in: run the continuation now,
 * with the data still in the receive buffer (no copy).  @part: a message
 * of a streamed response (status OK): shown with more set, and the call
 * goes on.  Malformed metadata ends the call with INTERNAL (a stream's,
 * with a CANCEL to stop it).
 */
void rpc_call_deliver(struct rpc_ccall *c, int status, const uint8_t *payload,
		      uint32_t meta_len, uint32_t body_len, bool part)
{
	struct rpc_meta_view meta[RPC_WIRE_MAX_META_ENTRIES];
	struct rpc_result res = { .status = status, .more = part };
	int nm = rpc_meta_parse(payload, meta_len, meta, RPC_WIRE_MAX_META_ENTRIES);
	struct rpc_endpoint *ep = c->s->ep;

	if (nm < 0 && part) {
		rpc_call_stop(c, RPC_INTERNAL);	/* the peer sent bad metadata */
		return;
	}
	if (nm < 0) {
		res.status = RPC_INTERNAL;
	} else {
		res.msg.data = payload + meta_len;
		res.msg.len = body_len;
		res.msg.meta = meta;
		res.msg.nmeta = (unsigned)nm;
	}
	if (!part)
		call_end(c, res.status);
	ep->in_cb++;
	c->cont(&res, c->arg);
	ep->in_cb--;
	if (!part)
		call_release(c);
}

/**
 * rpc_call_stop - end @c locally with @status, and tell the server to stop
 * if its request is out (a stream would otherwise go on).
 */
void rpc_call_stop(struct rpc_ccall *c, int status)
{
	if (c->state == CALL_SENT && c->s->state == SS_UP)
		rpc_tx_ctl(c->s, RPC_FT_CANCEL, c->id, (uint16_t)status, 0, 0, c->prio);
	rpc_call_complete(c, status);
}

/*
 * The tx path asks whether call @id still wants its request sent
 * (@finished: its last frame just went out).
 */
bool rpc_call_item_live(struct rpc_session *s, uint32_t id, bool finished)
{
	struct rpc_ccall *c = rpc_call_lookup(s, id);

	if (!c)
		return false;
	if (finished)
		c->state = CALL_SENT;
	return true;
}

static void on_deadline(struct rpc_timer *t)
{
	/* the server stops working on it; an unsent request is just dropped */
	rpc_call_stop(rpc_container_of(t, struct rpc_ccall, dl), RPC_DEADLINE_EXCEEDED);
}

/* enum rpc_prio (0 = normal, so zeroed options mean it) -> RPC_TXC_* */
static unsigned call_class(const struct rpc_call_opts *opts)
{
	switch (opts ? opts->prio : RPC_PRIO_NORMAL) {
	case RPC_PRIO_LATENCY:
		return RPC_TXC_LATENCY;
	case RPC_PRIO_BULK:
		return RPC_TXC_BULK;
	default:
		return RPC_TXC_NORMAL;
	}
}

int rpc_call(struct rpc_session *s, uint16_t method, const struct iovec *iov, int iovcnt,
	     const struct rpc_call_opts *opts, rpc_cont_fn cont, void *arg, uint64_t *id)
{
	struct rpc_endpoint *ep = s->ep;
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .method = method };
	const struct rpc_meta *meta = opts ? opts->meta : NULL;
	unsigned nmeta = opts ? opts->nmeta : 0;
	struct rpc_ccall *c;
	uint64_t deadline = 0;
	size_t total;
	int r;

	unsigned flags = opts ? opts->flags : 0;

	if (!cont || (opts && opts->prio > RPC_PRIO_BULK) ||
	    (flags & ~(RPC_CALL_STREAM | RPC_CALL_SEND_STREAM)) ||
	    ((flags & RPC_CALL_SEND_STREAM) && !id))
		return -EINVAL;
	if (s->state == SS_CLOSED)
		return -ENOTCONN;
	r = rpc_msg_size(ep, iov, iovcnt, meta, nmeta, &total);
	if (r)
		return r;
	if (!rpc_tx_room(s, total))
		return -EAGAIN;
	c = call_alloc(s);
	if (!c)
		return -EAGAIN;	/* 65536 calls pending on this session */
	c->cont = cont;
	c->arg = arg;
	c->method = method;
	c->prio = (uint8_t)call_class(opts);
	c->state = CALL_QUEUED;
	c->stream = flags & RPC_CALL_STREAM;
	c->send_open = flags & RPC_CALL_SEND_STREAM;
	c->dl.fn = on_deadline;
	s->npending++;
	ep->st.calls_started++;
	if (id)
		*id = c->id;
	if (s->state == SS_IDLE) {
		/* between reconnect attempts: fail fast, as gRPC does */
		rpc_call_complete(c, RPC_UNAVAILABLE);
		return 0;
	}
	h.call_id = c->id;
	h.msg_len = (uint32_t)total;
	if (c->stream)
		h.flags |= RPC_FF_STREAM;
	if (c->send_open)
		h.flags |= RPC_FF_REQ_MORE;
	if (opts && opts->deadline_us)
		deadline = rpc_now_us() + opts->deadline_us;
	if (rpc_tx_msg(s, &h, iov, iovcnt, meta, nmeta, deadline, c->prio, NULL)) {
		call_end(c, RPC_RESOURCE_EXHAUSTED);
		call_release(c);
		return -ENOMEM;
	}
	if (deadline)
		rpc_timer_arm(&ep->timers, &c->dl, deadline);
	return 0;
}

/*
 * The next message of a streamed request: a REQUEST with REQ_CONT, in the
 * request's class behind the ones before it.  It costs credit like any
 * request and goes back when the server's handler is done with it; what
 * waits here is bounded by max_queued_bytes.  Once the call is over (its
 * response came, even before the last message; a deadline; a cancel) the
 * messages not sent yet are dropped (tx.c frame_start()).
 */
int rpc_call_send(struct rpc_session *s, uint64_t id, const struct iovec *iov, int iovcnt,
		  bool last)
{
	struct rpc_ccall *c = id > UINT32_MAX ? NULL : rpc_call_lookup(s, (uint32_t)id);
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .flags = RPC_FF_REQ_CONT };
	size_t total;
	int r;

	if (!c)
		return -ENOENT;
	if (!c->send_open)
		return -EINVAL;
	r = rpc_msg_size(s->ep, iov, iovcnt, NULL, 0, &total);
	if (r)
		return r;
	if (!rpc_tx_room(s, total))
		return -EAGAIN;
	h.method = c->method;
	h.call_id = c->id;
	h.msg_len = (uint32_t)total;
	if (!last)
		h.flags |= RPC_FF_REQ_MORE;
	if (rpc_tx_msg(s, &h, iov, iovcnt, NULL, 0, 0, c->prio, NULL))
		return -ENOMEM;
	c->send_open = !last;
	return 0;
}

int rpc_cancel(struct rpc_session *s, uint64_t id)
{
	struct rpc_ccall *c = id > UINT32_MAX ? NULL : rpc_call_lookup(s, (uint32_t)id);

	if (!c)
		return -ENOENT;
	rpc_call_stop(c, RPC_CANCELLED);
	return 0;
}

/* every call of @s still pending ends with @status (session failed/closed) */
void rpc_calls_fail_all(struct rpc_session *s, int status)
{
	for (uint32_t i = 0; i < s->calls_cap; i++) {
		struct rpc_ccall *c = s->calls[i];

		if (c && (c->state == CALL_QUEUED || c->state == CALL_SENT))
			rpc_call_complete(c, status);
	}
}

void rpc_calls_free(struct rpc_session *s)
{
	for (uint32_t i = 0; i < s->calls_cap; i++) {
		if (!s->calls[i])
			continue;
		rpc_buf_put(&s->ep->pool, s->calls[i]->rbuf);
		free(s->calls[i]);
	}
	for (struct rpc_ccall *c = s->free_calls, *next; c; c = next) {
		next = c->next_free;
		free(c);
	}
	free(s->calls);
	s->calls = NULL;
	s->ncalls = s->calls_cap = 0;
	s->free_calls = NULL;
}

struct sync_wait {
	bool done;
	struct rpc_reply *rep;
};

static void sync_cont(const struct rpc_result *res, void *arg)
{
	struct sync_wait *w = arg;

	w->done = true;
	w->rep->status = res->status;
	w->rep->len = res->msg.len;
	w->rep->data = malloc(res->msg.len ? res->msg.len : 1);
	if (!w->rep->data) {
		w->rep->status = RPC_RESOURCE_EXHAUSTED;
		w->rep->len = 0;
		return;
	}
	if (res->msg.len)
		memcpy(w->rep->data, res->msg.data, res->msg.len);
}

int rpc_call_sync(struct rpc_session *s, uint16_t method, const struct iovec *iov,
		  int iovcnt, const struct rpc_call_opts *opts, struct rpc_reply *rep)
{
	struct rpc_endpoint *ep = s->ep;
	struct sync_wait w = { .rep = rep };
	int r;

	memset(rep, 0, sizeof(*rep));
	if (ep->in_cb)
		return -EDEADLK;
	if (opts && (opts->flags & (RPC_CALL_STREAM | RPC_CALL_SEND_STREAM)))
		return -EINVAL; /* one message each way, not a stream */
	for (;;) {
		r = rpc_call(s, method, iov, iovcnt, opts, sync_cont, &w, NULL);
		if (r != -EAGAIN)
			break;
		r = rpc_run(ep, 10);
		if (r < 0)
			return r;
	}
	if (r)
		return r;
	while (!w.done) {
		r = rpc_run(ep, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

void rpc_reply_free(struct rpc_reply *rep)
{
	free(rep->data);
	rep->data = NULL;
}
