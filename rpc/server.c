// SPDX-License-Identifier: MIT
/*
 * server.c - requests this endpoint serves.
 *
 * A request holds the peer's credit (one call, its frame bytes) from its
 * first frame until it is answered or dropped, so a slow handler slows the
 * peer down instead of making anyone buffer more (WIRE.md "Credits").
 * Requests outlive a failed session: they are orphaned (s = NULL) and
 * their eventual response is dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

static unsigned hash(uint32_t id)
{
	return (id * 2654435761u) >> 26;	/* RPC_REQ_HASH = 64 */
}

struct rpc_req *rpc_req_find(struct rpc_session *s, uint32_t id)
{
	for (struct rpc_req *r = s->reqh[hash(id)]; r; r = r->hnext)
		if (r->call_id == id)
			return r;
	return NULL;
}

static void req_unlink(struct rpc_req *r)
{
	struct rpc_session *s = r->s;
	struct rpc_req **pp;

	if (!s)
		return;
	for (pp = &s->reqh[hash(r->call_id)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == r) {
			*pp = r->hnext;
			break;
		}
	}
	if (r->prev)
		r->prev->next = r->next;
	else
		s->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	if (r->standin)
		s->nlate--;
	__atomic_store_n(&r->s, NULL, __ATOMIC_RELAXED);
}

/**
 * rpc_req_part_init - @r's current message is the one whose first frame
 * header is @h.  Too big for max_msg: it is answered RESOURCE_EXHAUSTED at
 * its end and its bytes are skipped (r->drop).  @alloc false: no buffer,
 * the caller points r->data at bytes the request keeps (r->held).
 */
void rpc_req_part_init(struct rpc_req *r, const struct rpc_frame_hdr *h, bool alloc)
{
	struct rpc_endpoint *ep = r->ep;

	r->hdr = *h;
	r->more = h->flags & RPC_FF_REQ_MORE;
	r->drop = false;
	if (h->msg_len > ep->o.max_msg) {
		r->drop = true;
	} else if (alloc) {
		uint64_t size = (uint64_t)h->meta_len + h->msg_len;
		uint64_t rest = size > h->frame_len ? size - h->frame_len : 0;

		/* past the bound, or no memory: answered RESOURCE_EXHAUSTED
		 * like a message over max_msg; the session goes on */
		if (rest && ep->req_unreceived + rest > rpc_unreceived_max(ep))
			r->drop = true;
		else
			r->buf = rpc_buf_get(&ep->pool, (size_t)size);
		if (r->buf) {
			r->data = r->buf->data;
			r->unreceived = rest;
			ep->req_unreceived += rest;
		} else {
			r->drop = true;
		}
	}
}

/**
 * rpc_req_new - a request whose first frame header is @h (see
 * rpc_req_part_init()); it holds one call of credit until it ends.
 */
struct rpc_req *rpc_req_new(struct rpc_session *s, const struct rpc_frame_hdr *h, bool alloc)
{
	struct rpc_req *r = calloc(1, sizeof(*r));
	unsigned b = hash(h->call_id);

	if (!r)
		return NULL;
	r->s = s;
	r->ep = s->ep;
	r->call_id = h->call_id;
	r->method = h->method;
	r->resp_stream = h->flags & RPC_FF_STREAM;
	r->credit_calls = 1;
	if (h->deadline_us)
		r->deadline = rpc_now_us() + h->deadline_us;
	rpc_req_part_init(r, h, alloc);
	r->hnext = s->reqh[b];
	s->reqh[b] = r;
	r->next = s->reqs;
	if (r->next)
		r->next->prev = r;
	s->reqs = r;
	return r;
}

/**
 * rpc_unreceived_max - how many announced request bytes may be awaited at
 * once: a gibibyte, or four of the largest messages if that is more
 */
uint64_t rpc_unreceived_max(const struct rpc_endpoint *ep)
{
	uint64_t four = 4 * (uint64_t)ep->o.max_msg;

	return four > (1ull << 30) ? four : 1ull << 30;
}

/* @r is whole, or goes: what it announced is no longer awaited */
void rpc_req_received(struct rpc_req *r)
{
	r->ep->req_unreceived -= r->unreceived;
	r->unreceived = 0;
}

/* the bytes of @r's current message go back: to the pool, or the held
 * message to its transport */
void rpc_req_part_free(struct rpc_req *r)
{
	struct rpc_endpoint *ep = r->ep;

	rpc_req_received(r);
	if (r->has_held)
		ep->ops->msg_done(ep->t, &r->held);
	r->has_held = false;
	rpc_buf_put(&ep->pool, r->buf);
	r->buf = NULL;
	r->data = NULL;
	r->view = (struct rpc_msg_view){ 0 };
}

static void req_free(struct rpc_req *r)
{
	rpc_wstream_end(r);
	if (r->on_ended)
		rpc_req_off_ended(r);
	if (r->wbudget)
		rpc_worker_req_gone(r);
	if (r->ep->running == r)
		r->ep->running = NULL;
	rpc_req_part_free(r);
	free(r);
}

/* give the peer its credit back and free @r */
void rpc_req_release(struct rpc_req *r)
{
	struct rpc_session *s = r->s;

	rpc_wstream_end(r);	/* its messages' credit, while it has its session */
	req_unlink(r);
	if (s && !r->credit_passed)
		rpc_credit_return(s, r->credit_calls, r->credit_bytes);
	req_free(r);
}

void rpc_respond_status(struct rpc_req *r, int st, const char *text)
{
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };

	rpc_respond(r, st, &iov, 1, NULL, 0);
}

/**
 * rpc_req_run - run @m's handler for @r's current message, inline.  After
 * a message of a streamed request that more follow, the handler keeps
 * @r without answering: the message's bytes and credit go back now
 * (rpc_req_part_done()); ep->running says whether it answered meanwhile.
 */
void rpc_req_run(struct rpc_req *r, const struct rpc_method *m)
{
	struct rpc_endpoint *ep = r->ep;
	struct rpc_req *outer = ep->running;
	bool alive;

	if (r->more)
		r->seen = true;
	ep->running = r;
	ep->in_cb++;
	m->fn(r, m->arg);
	ep->in_cb--;
	alive = ep->running == r;
	ep->running = outer;
	if (alive && r->more)
		rpc_req_part_done(r);
}

/**
 * rpc_msg_show - @v shows message @data (metadata then body, sized by
 * @h), its metadata parsed into @meta.  Return: 0, or -errno if the
 * metadata is malformed (@v unchanged).
 */
int rpc_msg_show(struct rpc_msg_view *v, struct rpc_meta_view *meta, const uint8_t *data,
		 const struct rpc_frame_hdr *h)
{
	int nm = rpc_meta_parse(data, h->meta_len, meta, RPC_WIRE_MAX_META_ENTRIES);

	if (nm < 0)
		return nm;
	v->data = data + h->meta_len;
	v->len = h->msg_len;
	v->meta = meta;
	v->nmeta = (unsigned)nm;
	return 0;
}

/* all of @r's current message is in: run its handler */
void rpc_req_dispatch(struct rpc_req *r)
{
	struct rpc_endpoint *ep = r->ep;
	const struct rpc_method *m;

	if (r->late) {
		rpc_req_release(r);	/* a message of a call already over */
		return;
	}
	r->complete = true;
	rpc_req_received(r);
	if (r->seen) {
		rpc_req_stream_next(r);
		return;
	}
	r->prio = RPC_TXC_LATENCY; /* an error answer is a few bytes */
	if (r->drop) {
		rpc_respond_status(r, RPC_RESOURCE_EXHAUSTED,
			       "request larger than the server's max_msg, or no room for it");
		return;
	}
	m = rpc_method_get(ep, r->method);
	if (!m) {
		rpc_respond_status(r, RPC_UNIMPLEMENTED, "no such method");
		return;
	}
	if (r->more && !(m->flags & RPC_METHOD_STREAM_REQ)) {
		/* a handler written for one message per call would see the
		 * same request again for each message */
		rpc_respond_status(r, RPC_UNIMPLEMENTED, "the method takes no streamed request");
		return;
	}
	r->prio = (m->flags & RPC_METHOD_LATENCY) ? RPC_TXC_LATENCY :
		  (m->flags & RPC_METHOD_BULK) ? RPC_TXC_BULK : RPC_TXC_NORMAL;
	if (rpc_msg_show(&r->view, r->meta, r->data, &r->hdr) < 0) {
		rpc_respond_status(r, RPC_INVALID_ARGUMENT, "malformed metadata");
		return;
	}
	if (r->deadline && rpc_now_us() >= r->deadline) {
		/* the caller has given up already */
		r->cancelled = true;
		rpc_req_release(r);
		return;
	}
	ep->st.reqs_handled++;
	if (m->flags & RPC_METHOD_WORKER) {
		if (r->more)
			rpc_wstream_start(r, m);
		else
			rpc_worker_post(r, m);
		return;
	}
	rpc_req_run(r, m);
}

int rpc_respond(struct rpc_req *r, int status, const struct iovec *iov, int iovcnt,
		const struct rpc_meta *meta, unsigned nmeta)
{
	struct rpc_frame_hdr h = { .type = RPC_FT_RESPONSE };
	size_t total;
	int err;

	if (status < 0 || status > RPC_UNAUTHENTICATED)
		return -EINVAL;
	err = rpc_msg_size(r->ep, iov, iovcnt, meta, nmeta, &total);
	if (err)
		return err;	/* @r stays the caller's: it may answer again */
	if (__atomic_load_n(&r->in_worker, __ATOMIC_RELAXED))
		return rpc_worker_respond(r, status, iov, iovcnt, meta, nmeta);
	/* a message of a stream still arriving: @r stays, to skip its rest */
	bool rest = rpc_req_answer_early(r);

	err = 0;
	if (!rpc_req_cancelled(r) && r->s && r->s->state == SS_UP) {
		h.method = r->method;
		h.call_id = r->call_id;
		h.status = (uint16_t)status;
		h.msg_len = (uint32_t)total;
		if (rpc_tx_msg(r->s, &h, iov, iovcnt, meta, nmeta, 0, r->prio, r))
			err = -ENOMEM;
	}
	if (rest)
		rpc_req_rest_late(r);
	else
		rpc_req_release(r);
	return err;
}

bool rpc_req_streams(const struct rpc_req *r)
{
	return r->resp_stream;
}

/*
 * One message of a streamed response: a RESPONSE with STREAM, in the
 * response's class, so it keeps its order with the others and the final
 * rpc_respond().  It holds no credit (the request's goes back with the
 * final response); what bounds it is max_queued_bytes, as for requests.
 */
int rpc_respond_part(struct rpc_req *r, const struct iovec *iov, int iovcnt,
		     const struct rpc_meta *meta, unsigned nmeta)
{
	struct rpc_frame_hdr h = { .type = RPC_FT_RESPONSE, .flags = RPC_FF_STREAM };
	size_t total;
	int err;

	if (!r)
		return -EINVAL;
	if (!rpc_req_streams(r))
		return -EOPNOTSUPP;
	err = rpc_msg_size(r->ep, iov, iovcnt, meta, nmeta, &total);
	if (err)
		return err;
	if (__atomic_load_n(&r->in_worker, __ATOMIC_RELAXED))
		return rpc_worker_respond_part(r, iov, iovcnt, meta, nmeta, total);
	if (rpc_req_cancelled(r) || !r->s || r->s->state != SS_UP)
		return 0; /* dropped: the handler ends the call with rpc_respond() */
	if (!rpc_tx_room(r->s, total))
		return -EAGAIN;
	h.method = r->method;
	h.call_id = r->call_id;
	h.msg_len = (uint32_t)total;
	return rpc_tx_msg(r->s, &h, iov, iovcnt, meta, nmeta, 0, r->prio, NULL) ? -ENOMEM : 0;
}

/* endpoint thread: send a worker's response (already encoded) for @r */
void rpc_req_send(struct rpc_req *r, int status, const uint8_t *meta, uint16_t meta_len,
		  const uint8_t *body, uint32_t body_len)
{
	struct rpc_frame_hdr h = { .type = RPC_FT_RESPONSE, .method = r->method,
				   .call_id = r->call_id, .status = (uint16_t)status };
	/* a streamed request answered while its next message is part-way in */
	bool rest = rpc_req_answer_early(r);

	if (!rpc_req_cancelled(r) && r->s && r->s->state == SS_UP) {
		struct rpc_txitem *it = rpc_tx_raw(r->s, &h, meta, meta_len, body, body_len,
						   r->prio);
		if (it)
			rpc_tx_pass_credit(it, r);
	}
	if (rest)
		rpc_req_rest_late(r);
	else
		rpc_req_release(r);
}

const struct rpc_msg_view *rpc_req_msg(const struct rpc_req *r)
{
	/* a worker's run: its own message's (r->view is the one coming in) */
	return r->wrun ? &r->wrun->view : &r->view;
}

uint16_t rpc_req_method(const struct rpc_req *r)
{
	return r->method;
}

struct rpc_session *rpc_req_session(const struct rpc_req *r)
{
	return r->s;
}

uint64_t rpc_req_time_left_us(const struct rpc_req *r)
{
	uint64_t now;

	if (!r->deadline)
		return UINT64_MAX;
	now = rpc_now_us();
	return r->deadline > now ? r->deadline - now : 0;
}

bool rpc_req_cancelled(const struct rpc_req *r)
{
	/* also read by worker threads while the endpoint's may write: atomics */
	return __atomic_load_n(&r->cancelled, __ATOMIC_RELAXED) ||
	       !__atomic_load_n(&r->s, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&r->ep->stopping, __ATOMIC_RELAXED) ||
	       (r->deadline && rpc_now_us() >= r->deadline);
}

/*
 * The session failed: requests still being received are freed, handled
 * ones wait for their (dropped) response, detached from the session.
 */
void rpc_reqs_orphan(struct rpc_session *s)
{
	for (unsigned b = 0; b < RPC_REQ_HASH; b++) {
		while (s->reqh[b]) {
			struct rpc_req *r = s->reqh[b];

			if (r->wrun)	/* while the session counts them */
				rpc_wstream_drop_queued(r);
			req_unlink(r);
			__atomic_store_n(&r->cancelled, true, __ATOMIC_RELAXED);
			if (r->seen && !r->complete)
				rpc_req_stream_orphan(r);
			else if (!r->complete)
				req_free(r);
		}
	}
	s->reqs = NULL;
}
