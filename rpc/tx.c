// SPDX-License-Identifier: MIT
/*
 * tx.c - turning messages into frames and frames into bytes.
 *
 * Two queues per session and send class: ctlq (responses and control
 * frames, which never need credit) and reqq (requests, which do).  Frames
 * are written whole before the next one starts; between frames the best
 * class goes first, and within a class ctlq, so a request waiting for
 * credit never holds back a response (the peer's credit may be waiting for
 * exactly that response), and a small message of a better class waits for
 * at most one frame of a large one.  Over a transport with room per class
 * (bypass-msg: fastpathd schedules the posted frames itself) a class out
 * of room does not stop the others.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

static bool peer_low(const struct rpc_session *s);
static void send_grant(struct rpc_session *s);

void rpc_txq_push(struct rpc_txq *q, struct rpc_txitem *it)
{
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
}

/* take @it out of @q: the head, or one a request waiting for a call let by */
static void txq_unlink(struct rpc_txq *q, struct rpc_txitem *it)
{
	struct rpc_txitem *prev = NULL;

	if (q->head != it)
		for (prev = q->head; prev->next != it; prev = prev->next)
			;
	if (prev)
		prev->next = it->next;
	else
		q->head = it->next;
	if (q->tail == it)
		q->tail = prev;
}

/**
 * rpc_tx_cost - what a counted item of @len bytes weighs in queued_bytes:
 * its bytes, and its txitem and pool buffer, so that max_queued_bytes
 * bounds memory even for empty messages.
 */
uint64_t rpc_tx_cost(size_t len)
{
	return (uint64_t)len + sizeof(struct rpc_txitem) + RPC_WIRE_HDR_LEN + 512;
}

/**
 * rpc_msg_size - the body bytes gathered in @iov, checked with @meta for
 * sending: a message of at most max_msg, well-formed metadata.
 * Return: 0 (*@total set), -EINVAL, -EMSGSIZE or rpc_meta_check()'s error.
 */
int rpc_msg_size(const struct rpc_endpoint *ep, const struct iovec *iov, int iovcnt,
		 const struct rpc_meta *meta, unsigned nmeta, size_t *total)
{
	size_t n = 0;
	int err;

	if (iovcnt < 0 || (iovcnt && !iov))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	err = rpc_meta_check(meta, nmeta);
	if (!err && n > ep->o.max_msg)
		err = -EMSGSIZE;
	*total = n;
	return err;
}

/**
 * rpc_tx_room - may a message of @len bytes be queued on @s?  Within
 * max_queued_bytes, or alone (a message larger than the bound must still
 * be able to go).
 */
bool rpc_tx_room(const struct rpc_session *s, size_t len)
{
	return !s->queued_bytes || s->queued_bytes + rpc_tx_cost(len) <= s->ep->o.max_queued_bytes;
}

static void item_free(struct rpc_session *s, struct rpc_txitem *it)
{
	if (it->counted)
		s->queued_bytes -= rpc_tx_cost(it->len);
	if (it->is_req && (it->hdr.flags & RPC_FF_REQ_CONT))
		s->conts_queued--;
	if (s->req_built[it->prio] == it)
		s->req_built[it->prio] = NULL;
	if (it->wbudget)
		rpc_worker_part_sent(s->ep, it->wbudget, it->worker_bytes);
	if (it->hdr.type == RPC_FT_PONG)
		s->pongs_queued--;
	if (it->back_calls)
		rpc_credit_return(s, it->back_calls, it->back_bytes);
	rpc_buf_put(&s->ep->pool, it->buf);
	free(it);
}

static uint32_t max_frame(const struct rpc_session *s)
{
	uint32_t m = s->ep->ops->max_frame;

	return m && m < RPC_WIRE_CHUNK ? m : RPC_WIRE_CHUNK;
}

/* @it leaves while its connection stays: its promised room goes back */
static void item_done(struct rpc_session *s, struct rpc_txitem *it)
{
	if (it->resv)
		s->ep->ops->tx_msg_end(s->ep->t, s->h, it->prio);
	item_free(s, it);
}

/*
 * Before the first frame of a message of several: ask the transport to
 * promise room for all of them (a shared send area, see tx_msg_begin).
 * Return: 0 (go on), -EAGAIN (not now) or -errno.
 */
static int tx_begin(struct rpc_session *s, struct rpc_txitem *it)
{
	const struct rpc_transport_ops *ops = s->ep->ops;
	uint32_t rest, frames;
	int r;

	if (!ops->tx_msg_begin || it->resv || it->sent || it->f_off || it->f_len >= it->len)
		return 0;
	rest = it->len - it->f_len;
	frames = 1 + (rest + max_frame(s) - 1) / max_frame(s);
	r = ops->tx_msg_begin(s->ep->t, s->h, it->prio,
			      it->len + (uint64_t)frames * RPC_WIRE_HDR_LEN, frames);
	if (!r)
		it->resv = true;
	return r;
}

/* the time left when the request leaves, not when it was queued */
static uint32_t deadline_field(uint64_t deadline)
{
	uint64_t now = rpc_now_us();
	uint64_t left_us = deadline > now ? deadline - now : 1;

	return left_us > UINT32_MAX ? 0 : (uint32_t)left_us;
}

/* sequential writer over the (at most two) pieces of a ring reservation */
struct ring_w {
	struct iovec *v;
	int i;
	size_t off;
};

static void ring_put(struct ring_w *w, const void *src, size_t len)
{
	const uint8_t *p = src;

	while (len) {
		size_t room = w->v[w->i].iov_len - w->off;
		size_t take = room < len ? room : len;

		memcpy((uint8_t *)w->v[w->i].iov_base + w->off, p, take);
		p += take;
		len -= take;
		w->off += take;
		if (w->off == w->v[w->i].iov_len) {
			w->i++;
			w->off = 0;
		}
	}
}

static struct rpc_txq *queue_of(struct rpc_session *s, const struct rpc_txitem *it)
{
	return it->is_req ? &s->reqq[it->prio] : &s->ctlq[it->prio];
}

/* is anything queued that must go before a new message of class @prio? */
static bool queued_ahead(const struct rpc_session *s, bool is_req, unsigned prio)
{
	for (unsigned c = 0; c <= prio; c++)
		if (s->ctlq[c].head || (is_req && s->reqq[c].head))
			return true;
	return false;
}

/*
 * Zero-copy send: when nothing is queued ahead of it, the message is one
 * frame, its credit is there and the transport's ring has room for all of
 * it, the header, metadata and gathered body are written straight into
 * the reserved ring space: the app's iovecs are copied once, into the
 * shared region the daemon sends from.  Anything else (ring full, credit,
 * a queue to respect, multi-frame messages) goes the pool-buffer way.
 * Return: true if the message is on its way.
 */
static bool tx_direct(struct rpc_session *s, const struct rpc_frame_hdr *hdr,
		      const struct iovec *iov, int iovcnt,
		      const struct rpc_meta *meta, unsigned nmeta, size_t ml, uint64_t deadline,
		      unsigned prio)
{
	const struct rpc_transport_ops *ops = s->ep->ops;
	bool is_req = hdr->type == RPC_FT_REQUEST;
	size_t n = ml + hdr->msg_len, cost = RPC_WIRE_HDR_LEN + n;
	uint8_t fh[RPC_WIRE_HDR_LEN];
	struct rpc_frame_hdr h = *hdr;
	struct iovec v[2];
	struct ring_w w = { .v = v };
	int nv;

	if (!ops->tx_reserve || s->state != SS_UP || s->cur || queued_ahead(s, is_req, prio) ||
	    n > max_frame(s))
		return false;
	/* a later message of a streamed request costs bytes only: its call is
	 * the request's (WIRE.md "Credits") */
	bool takes_call = is_req && !(hdr->flags & RPC_FF_REQ_CONT);

	if (is_req && ((takes_call && s->tx_calls == 0) || s->tx_bytes < cost))
		return false;
	nv = ops->tx_reserve(s->ep->t, s->h, cost, v, prio);
	if (nv <= 0)
		return false;
	if (v[0].iov_len + (nv > 1 ? v[1].iov_len : 0) < cost) {
		ops->tx_commit(s->ep->t, s->h, 0);
		return false;
	}
	h.meta_len = (uint16_t)ml;
	h.frame_len = (uint32_t)n;
	if (deadline)
		h.deadline_us = deadline_field(deadline);
	rpc_frame_encode(&h, fh);
	ring_put(&w, fh, sizeof(fh));
	if (ml && v[w.i].iov_len - w.off >= ml) {
		rpc_meta_encode(meta, nmeta, (uint8_t *)v[w.i].iov_base + w.off);
		w.off += ml;
		if (w.off == v[w.i].iov_len) {
			w.i++;
			w.off = 0;
		}
	} else if (ml) {
		uint8_t mb[RPC_WIRE_MAX_META];	/* straddles the ring end */

		rpc_meta_encode(meta, nmeta, mb);
		ring_put(&w, mb, ml);
	}
	for (int i = 0; i < iovcnt; i++)
		ring_put(&w, iov[i].iov_base, iov[i].iov_len);
	if (ops->tx_commit(s->ep->t, s->h, cost))
		return false;	/* nothing went out: the queue path meets the error */
	if (is_req) {
		s->tx_calls -= takes_call;
		s->tx_bytes -= cost;
		rpc_call_item_live(s, h.call_id, true);
	}
	s->ep->st.zc_tx++;
	return true;
}

/**
 * rpc_tx_msg - send or queue a REQUEST or RESPONSE.  Sent in place into
 * the transport's ring when it can be (tx_direct()); otherwise metadata
 * and the gathered body are copied into one pool buffer and queued.
 * @deadline: requests: absolute µs, 0 = none.
 * Return: 0, -ENOMEM.
 */
/**
 * rpc_tx_pass_credit - response @it answers @answers: the request's credit
 * goes back to the peer when @it has been written, not before
 */
void rpc_tx_pass_credit(struct rpc_txitem *it, struct rpc_req *answers)
{
	it->back_calls = answers->credit_calls;
	it->back_bytes = answers->credit_bytes;
	answers->credit_passed = true;
}

int rpc_tx_msg(struct rpc_session *s, const struct rpc_frame_hdr *h,
	       const struct iovec *iov, int iovcnt,
	       const struct rpc_meta *meta, unsigned nmeta, uint64_t deadline, unsigned prio,
	       struct rpc_req *answers)
{
	size_t ml = rpc_meta_size(meta, nmeta);
	struct rpc_txitem *it;
	uint8_t *p;

	if (prio >= RPC_TXC_N)
		prio = RPC_TXC_NORMAL;
	if (tx_direct(s, h, iov, iovcnt, meta, nmeta, ml, deadline, prio))
		return 0;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->buf = rpc_buf_get(&s->ep->pool, ml + h->msg_len);
	if (!it->buf) {
		free(it);
		return -ENOMEM;
	}
	it->hdr = *h;
	it->hdr.meta_len = (uint16_t)ml;
	it->len = (uint32_t)ml + h->msg_len;
	it->deadline = deadline;
	p = it->buf->data;
	rpc_meta_encode(meta, nmeta, p);
	p += ml;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len)
			memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	it->is_req = h->type == RPC_FT_REQUEST;
	/* a streamed response is bounded like requests: its handler may
	 * produce faster than the peer reads (rpc_respond_part()) */
	it->counted = it->is_req || (h->flags & RPC_FF_STREAM);
	it->prio = (uint8_t)prio;
	if (it->counted)
		s->queued_bytes += rpc_tx_cost(it->len);
	if (it->is_req && (h->flags & RPC_FF_REQ_CONT))
		s->conts_queued++;
	if (answers)
		rpc_tx_pass_credit(it, answers);
	rpc_txq_push(queue_of(s, it), it);
	rpc_flush_mark(s);
	return 0;
}

/**
 * rpc_tx_raw - queue a RESPONSE whose metadata is already encoded (a
 * worker thread's, copied off that thread).
 */
struct rpc_txitem *rpc_tx_raw(struct rpc_session *s, const struct rpc_frame_hdr *h,
			      const uint8_t *meta, uint16_t meta_len,
			      const uint8_t *body, uint32_t body_len, unsigned prio)
{
	struct rpc_txitem *it = calloc(1, sizeof(*it));

	if (!it)
		return NULL;
	it->buf = rpc_buf_get(&s->ep->pool, (size_t)meta_len + body_len);
	if (!it->buf) {
		free(it);
		return NULL;
	}
	it->hdr = *h;
	it->hdr.meta_len = meta_len;
	it->hdr.msg_len = body_len;
	it->len = meta_len + body_len;
	if (meta_len)
		memcpy(it->buf->data, meta, meta_len);
	if (body_len)
		memcpy(it->buf->data + meta_len, body, body_len);
	it->prio = (uint8_t)(prio < RPC_TXC_N ? prio : RPC_TXC_NORMAL);
	rpc_txq_push(queue_of(s, it), it);
	rpc_flush_mark(s);
	return it;
}

/**
 * rpc_tx_ctl - queue a payload-less control frame.  For CREDIT @calls is
 * the call grant (carried in call_id) and @aux the byte grant.  @prio:
 * RPC_TXC_LATENCY for CREDIT, PING and PONG (tiny; credit and liveness
 * wait on them); a CANCEL goes in its request's class, so it can never
 * overtake the frames it cancels; GOAWAY in the last class, after every
 * frame queued before it.
 */
bool rpc_tx_ctl(struct rpc_session *s, uint8_t type, uint32_t call_id, uint16_t status,
		uint32_t aux, uint32_t calls, unsigned prio)
{
	struct rpc_txitem *it;

	/* a peer that pings and never reads its answers: it gets no more */
	if (type == RPC_FT_PONG && s->pongs_queued >= RPC_MAX_PONGS_QUEUED)
		return false;
	it = calloc(1, sizeof(*it));
	if (!it)
		return false;	/* lost: keepalive and deadlines recover */
	if (type == RPC_FT_PONG)
		s->pongs_queued++;
	it->hdr.type = type;
	it->hdr.call_id = type == RPC_FT_CREDIT ? calls : call_id;
	it->hdr.status = status;
	it->hdr.aux = aux;
	it->prio = (uint8_t)(prio < RPC_TXC_N ? prio : RPC_TXC_LATENCY);
	rpc_txq_push(queue_of(s, it), it);
	rpc_flush_mark(s);
	return true;
}

enum { FS_DROPPED = -1, FS_WAIT = 0, FS_GO = 1, FS_WAIT_CALL = 2 };

/*
 * Build the next frame of @it into it->fh.  Return FS_GO to write it,
 * FS_WAIT when it waits for byte credit, FS_WAIT_CALL when only for a call
 * (a new call, with the bytes there), FS_DROPPED when the item was dropped
 * (its call is gone).
 */
static int frame_start(struct rpc_session *s, struct rpc_txitem *it, struct rpc_txq *q)
{
	struct rpc_frame_hdr h = it->hdr;
	uint32_t meta = it->hdr.meta_len, body_sent, left, n;

	if (it->is_req && !rpc_call_item_live(s, it->hdr.call_id, false)) {
		/* a peer holding part of the message frees it on CANCEL */
		if (it->started)
			rpc_tx_ctl(s, RPC_FT_CANCEL, it->hdr.call_id, RPC_CANCELLED, 0, 0, it->prio);
		txq_unlink(q, it);
		item_done(s, it);
		return FS_DROPPED;
	}
	if (!it->buf) {
		n = 0;
	} else if (!it->started) {
		if (it->deadline)
			h.deadline_us = deadline_field(it->deadline);
		left = it->len - meta;
		n = meta + (left > max_frame(s) ? max_frame(s) : left);
		if (n < it->len)
			h.flags |= RPC_FF_MORE;
	} else {
		body_sent = it->sent - meta;
		left = it->len - it->sent;
		n = left > max_frame(s) ? max_frame(s) : left;
		h.type = RPC_FT_CHUNK;
		h.flags = (it->hdr.type == RPC_FT_RESPONSE ? RPC_FF_RESP_DIR : 0) |
			  (n < left ? RPC_FF_MORE : 0);
		h.msg_len = body_sent;
		h.meta_len = 0;
		h.deadline_us = 0;
		h.status = 0;
	}
	h.frame_len = n;
	if (it->is_req) {
		uint64_t cost = RPC_WIRE_HDR_LEN + n;

		bool takes_call = !it->started && !(it->hdr.flags & RPC_FF_REQ_CONT);

		if ((takes_call && s->tx_calls == 0) || s->tx_bytes < cost) {
			s->ep->st.credit_stalls++;
			return s->tx_bytes < cost ? FS_WAIT : FS_WAIT_CALL;
		}
		s->tx_calls -= takes_call;
		s->tx_bytes -= cost;
	}
	rpc_frame_encode(&h, it->fh);
	it->f_len = n;
	it->f_off = 0;
	it->in_frame = true;
	it->started = true;
	return FS_GO;
}

/*
 * May @it go ahead of a new call that waits for call credit?  Only a later
 * message of a streamed request whose first message is out: it costs
 * bytes only, and its call may be one the server holds until this very
 * message comes (WIRE.md "Credits": streams held open must not starve).
 */
static bool passes_call_wait(struct rpc_session *s, const struct rpc_txitem *it)
{
	const struct rpc_ccall *c;

	if (it->started)
		return true;
	if (!(it->hdr.flags & RPC_FF_REQ_CONT))
		return false;
	c = rpc_call_lookup(s, it->hdr.call_id);
	return !c || c->state == CALL_SENT; /* (a dead call's item is dropped) */
}

/*
 * The item whose frame goes next: best class first, within a class ctlq
 * before reqq, skipping classes in @blocked.  Builds the frame if it is
 * not built yet (frame_start()).  A request without byte credit makes
 * every request of its class and the worse ones wait (they would spend the
 * credit it waits for); one waiting only for a call lets by those that
 * need none (passes_call_wait()), in order.  Responses and control frames
 * still go.  A request frame already built (its class had no room) goes
 * before its class's control frames: a CANCEL queued since must follow the
 * frames of its call already paid for (WIRE.md: none after a CANCEL).
 * NULL: nothing can go now.
 */
static struct rpc_txitem *tx_pick(struct rpc_session *s, unsigned blocked)
{
	bool credit_wait = false, call_wait = false;

	for (unsigned c = 0; c < RPC_TXC_N; c++) {
		struct rpc_txq *qs[2] = { &s->ctlq[c], &s->reqq[c] };

		if (blocked & 1u << c)
			continue;
		if (s->req_built[c])
			return s->req_built[c];
		for (int k = 0; k < 2 - credit_wait; k++) {
			struct rpc_txitem *it, *next;

			for (it = qs[k]->head; it; it = next) {
				next = it->next;
				/* with no later message of a stream queued, what
				 * may pass a call wait is a started message, and
				 * that is always its queue's head: stop early */
				if (call_wait && k == 1 && !passes_call_wait(s, it)) {
					if (!s->conts_queued)
						break;
					continue;
				}
				int r = it->in_frame ? FS_GO : frame_start(s, it, qs[k]);

				if (r == FS_GO)
					return it;
				if (r == FS_WAIT_CALL) {
					call_wait = true;
					if (!s->conts_queued)
						break;
					continue;
				}
				if (r == FS_WAIT) {
					credit_wait = true;
					break;
				}
			}
		}
	}
	return NULL;
}

/*
 * Write what can be written.  Return 0 when everything queued is out or
 * the rest waits (socket room, class room or credit), -errno when the
 * connection failed.
 */
int rpc_tx_flush(struct rpc_session *s)
{
	const struct rpc_transport_ops *ops = s->ep->ops;
	unsigned blocked = 0;

	if (s->state != SS_UP)
		return 0;
	if (peer_low(s))
		send_grant(s);
	for (;;) {
		struct rpc_txitem *it = s->cur;
		struct iovec iov[2];
		int niov = 0;
		ssize_t n;

		if (!it) {
			it = tx_pick(s, blocked);
			if (!it)
				return 0;
		}
		if (it->f_off < RPC_WIRE_HDR_LEN) {
			iov[niov].iov_base = it->fh + it->f_off;
			iov[niov++].iov_len = RPC_WIRE_HDR_LEN - it->f_off;
		}
		if (it->f_len) {
			uint32_t done = it->f_off > RPC_WIRE_HDR_LEN ? it->f_off - RPC_WIRE_HDR_LEN : 0;

			iov[niov].iov_base = it->buf->data + it->sent + done;
			iov[niov++].iov_len = it->f_len - done;
		}
		n = tx_begin(s, it);
		if (!n)
			n = ops->sendv(s->ep->t, s->h, iov, niov,
				       it->prio | (it->resv ? RPC_TXC_RESERVED : 0));
		if (n == -EAGAIN) {
			if (ops->per_class_room && !it->f_off) {
				blocked |= 1u << it->prio; /* built, kept for later */
				if (it->is_req)
					s->req_built[it->prio] = it;
				continue;
			}
			s->cur = it->f_off ? it : NULL;
			return 0;
		}
		if (n < 0)
			return (int)n;
		it->f_off += (uint32_t)n;
		if (it->f_off < RPC_WIRE_HDR_LEN + it->f_len) {
			s->cur = it;	/* partly written: nothing else until it is out */
			continue;
		}
		/* frame complete */
		it->sent += it->f_len;
		it->in_frame = false;
		if (s->req_built[it->prio] == it)
			s->req_built[it->prio] = NULL;
		s->cur = NULL;
		if (it->sent >= it->len) {
			txq_unlink(queue_of(s, it), it);
			if (it->is_req)
				rpc_call_item_live(s, it->hdr.call_id, true);
			item_done(s, it);
		}
	}
}

/* connection gone: nothing queued for it survives (calls fail separately) */
void rpc_tx_drop_all(struct rpc_session *s)
{
	for (unsigned c = 0; c < RPC_TXC_N; c++) {
		struct rpc_txq *qs[2] = { &s->ctlq[c], &s->reqq[c] };

		for (int i = 0; i < 2; i++) {
			while (qs[i]->head) {
				struct rpc_txitem *it = qs[i]->head;

				txq_unlink(qs[i], it);
				/* the connection goes, and its credit with it:
				 * nothing to give back (a new one starts over) */
				it->back_calls = 0;
				item_free(s, it);
			}
		}
	}
	s->cur = NULL;
}

/**
 * rpc_tx_drop_responses - the caller cancelled @call_id: its responses not
 * started yet (the parts of a stream, the final one) are not sent.  One
 * started goes on to its end: a message is never cut short.  Dropping the
 * final one gives its request's credit back (item_done()).
 */
void rpc_tx_drop_responses(struct rpc_session *s, uint32_t call_id)
{
	for (unsigned c = 0; c < RPC_TXC_N; c++) {
		struct rpc_txq *q = &s->ctlq[c];
		struct rpc_txitem *prev = NULL, *it = q->head, *next;

		for (; it; it = next) {
			next = it->next;
			if (it->hdr.type != RPC_FT_RESPONSE || it->hdr.call_id != call_id ||
			    it->started || it == s->cur) {
				prev = it;
				continue;
			}
			if (prev)
				prev->next = next;
			else
				q->head = next;
			if (q->tail == it)
				q->tail = prev;
			item_done(s, it);
		}
	}
}

/* is the peer down to its last quarter of either window, with credit owed? */
static bool peer_low(const struct rpc_session *s)
{
	return (s->grant_calls && s->rx_calls_used + s->grant_calls > s->rx_calls_win / 4 * 3) ||
	       (s->grant_bytes && s->rx_bytes_used + s->grant_bytes > s->rx_bytes_win / 4 * 3);
}

static void send_grant(struct rpc_session *s)
{
	if (!rpc_tx_ctl(s, RPC_FT_CREDIT, 0, 0, (uint32_t)s->grant_bytes, s->grant_calls,
			RPC_TXC_LATENCY))
		return;	/* no memory: still owed, sent with the next grant */
	s->grant_calls = 0;
	s->grant_bytes = 0;
}

/**
 * rpc_credit_return - a request we served is finished: give its call and
 * bytes back to the peer, batched: a quarter of the window at a time, or
 * what is owed when the session next flushes if the peer runs low
 * (requests we hold, deferred answers or streams waiting for a message,
 * must not leave it waiting on credit that is already free: WIRE.md
 * "Credits").
 */
void rpc_credit_return(struct rpc_session *s, uint32_t calls, uint32_t bytes)
{
	s->rx_calls_used -= calls;
	s->rx_bytes_used -= bytes;
	s->grant_calls += calls;
	s->grant_bytes += bytes;
	if (s->state != SS_UP)
		return;
	if (s->grant_calls >= s->rx_calls_win / 4 || s->grant_bytes >= s->rx_bytes_win / 4)
		send_grant(s);
	else if (peer_low(s))
		rpc_flush_mark(s);	/* once per flush, not per request */
}
