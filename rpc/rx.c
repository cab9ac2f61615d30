// SPDX-License-Identifier: MIT
/*
 * rx.c - cutting the byte stream into frames and acting on each.
 *
 * A frame is handled in two steps: frame_start() when its header is in
 * (decides where the payload goes: a request's or a response's buffer,
 * or nowhere) and frame_end() when its payload is.  Every check that can
 * reject a frame happens at the header, so a bad frame never makes us
 * buffer anything (WIRE.md "Malformed input").
 */
#include <errno.h>
#include <string.h>

#include "rpc_internal.h"

static int proto_error(struct rpc_session *s)
{
	s->ep->st.proto_errors++;
	/* best effort: tell the peer why before the connection goes */
	rpc_tx_ctl(s, RPC_FT_GOAWAY, 0, RPC_INTERNAL, 0, 0, RPC_TXC_BULK);
	rpc_tx_flush(s);
	return -EPROTO;
}

static void skip(struct rpc_session *s)
{
	s->rf_dst = NULL;
}

/*
 * A request too large to keep is skipped as it comes: its bytes go back
 * to the peer frame by frame (its call when it is answered), or a request
 * larger than our byte window would wait for credit that only its end
 * could return, and wedge the session.
 */
static void drop_credit(struct rpc_session *s, struct rpc_req *r, uint32_t cost)
{
	r->credit_bytes -= cost;
	rpc_credit_return(s, 0, cost);
}

/*
 * The request a REQUEST frame starts: a new one, the next message of a
 * streamed one (REQ_CONT; the request must be waiting for it), or, for a
 * REQ_CONT whose call is over here (answered early, dropped), a late
 * message skipped as it comes.
 */
static int request_of(struct rpc_session *s, const struct rpc_frame_hdr *h, bool alloc,
		      struct rpc_req **rp)
{
	struct rpc_req *r = rpc_req_find(s, h->call_id);
	bool cont = h->flags & RPC_FF_REQ_CONT;

	if (r && cont && r->cancelled)
		r = NULL; /* its last run came: a message still on its way, skipped */
	if (r && (!cont || !r->between || r->method != h->method))
		return -EPROTO;	/* a duplicate call id, or no message expected */
	/* stand-ins for late messages, each held while its chunks come: a
	 * sender keeps one message of a call in flight, so it has no more of
	 * them than it has calls */
	if (!r && s->nlate >= s->rx_calls_win)
		return -EPROTO;
	if (r) {
		rpc_req_next(r, h, alloc);
	} else if (cont) {
		r = rpc_req_new(s, h, false);
		if (!r)
			return -ENOMEM;
		r->late = r->drop = r->standin = true;
		r->credit_calls = 0;
		s->nlate++;
	} else {
		r = rpc_req_new(s, h, alloc);
		if (!r)
			return -ENOMEM;
	}
	*rp = r;
	return 0;
}

/* a request message's first frame (@cost: its wire bytes; a whole message's, all of them) */
static int start_request(struct rpc_session *s, const struct rpc_frame_hdr *h, uint32_t cost,
			 bool alloc)
{
	bool takes_call = !(h->flags & RPC_FF_REQ_CONT); /* a later message: bytes only */
	struct rpc_req *r;
	int err;

	if (s->rx_calls_used + takes_call > s->rx_calls_win ||
	    s->rx_bytes_used + cost > s->rx_bytes_win)
		return -EPROTO;	/* peer ignored our credit */
	err = request_of(s, h, alloc, &r);
	if (err)
		return err;
	s->rx_calls_used += takes_call;
	s->rx_bytes_used += cost;
	r->credit_bytes += cost;
	s->rf_req = r;
	r->got = h->frame_len - h->meta_len;
	if (r->drop && !s->ep->ops->recv_msg)
		drop_credit(s, r, cost); /* (whole messages: settled in rx_msg()) */
	if (r->drop || !r->buf) {
		skip(s);
		return 0;
	}
	s->rf_dst = r->buf->data;
	return 0;
}

static int start_chunk(struct rpc_session *s, const struct rpc_frame_hdr *h)
{
	bool more = h->flags & RPC_FF_MORE;

	if (h->flags & RPC_FF_RESP_DIR) {
		struct rpc_ccall *c = rpc_call_lookup(s, h->call_id);

		if (!c || (!c->rbuf && !c->rdrop)) {
			skip(s);	/* late: the call ended locally */
			return 0;
		}
		if (h->msg_len != c->rgot || (uint64_t)c->rgot + h->frame_len > c->rhdr.msg_len ||
		    more != (c->rgot + h->frame_len < c->rhdr.msg_len))
			return -EPROTO;
		s->rf_call = c;
		s->rf_dst = c->rdrop ? NULL : c->rbuf->data + c->rhdr.meta_len + c->rgot;
		c->rgot += h->frame_len;
		return 0;
	}
	struct rpc_req *r = rpc_req_find(s, h->call_id);
	uint32_t cost = RPC_WIRE_HDR_LEN + h->frame_len;

	if (!r || r->complete || r->between)
		return -EPROTO;
	if (h->msg_len != r->got || (uint64_t)r->got + h->frame_len > r->hdr.msg_len ||
	    more != (r->got + h->frame_len < r->hdr.msg_len))
		return -EPROTO;
	if (s->rx_bytes_used + cost > s->rx_bytes_win)
		return -EPROTO;
	s->rx_bytes_used += cost;
	r->credit_bytes += cost;
	if (r->drop)
		drop_credit(s, r, cost);
	s->rf_req = r;
	s->rf_dst = r->drop ? NULL : r->buf->data + r->hdr.meta_len + r->got;
	r->got += h->frame_len;
	return 0;
}

/* a message of a streamed response: only for a call that asked, status OK */
static bool part_ok(const struct rpc_ccall *c, const struct rpc_frame_hdr *h)
{
	return !(h->flags & RPC_FF_STREAM) || (c->stream && h->status == RPC_OK);
}

static int start_response(struct rpc_session *s, const struct rpc_frame_hdr *h)
{
	struct rpc_ccall *c = rpc_call_lookup(s, h->call_id);

	if (!c || c->state != CALL_SENT || c->rbuf || c->rdrop) {
		skip(s);	/* late (cancelled, deadline) or a stray duplicate */
		return 0;
	}
	if (!part_ok(c, h))
		return -EPROTO;
	c->rhdr = *h;
	c->rgot = h->frame_len - h->meta_len;
	s->rf_call = c;
	if (h->msg_len > s->ep->o.max_msg) {
		c->rdrop = true;
		skip(s);
		return 0;
	}
	c->rbuf = rpc_buf_get(&s->ep->pool, (size_t)h->meta_len + h->msg_len);
	if (!c->rbuf) {
		c->rdrop = true;
		skip(s);
		return 0;
	}
	s->rf_dst = c->rbuf->data;
	return 0;
}

/* the header of s->rf is in: decide where its payload goes */
int rpc_rx_frame_start(struct rpc_session *s)
{
	const struct rpc_frame_hdr *h = &s->rf;

	s->rf_call = NULL;
	s->rf_req = NULL;
	s->rf_dst = NULL;
	s->rf_left = h->frame_len;
	switch (h->type) {
	case RPC_FT_REQUEST:
		return start_request(s, h, RPC_WIRE_HDR_LEN + h->frame_len, true);
	case RPC_FT_CHUNK:
		return start_chunk(s, h);
	case RPC_FT_RESPONSE:
		return start_response(s, h);
	default:
		/* control frames carry nothing we keep; GOAWAY's text is skipped */
		return 0;
	}
}

static void on_cancel(struct rpc_session *s, uint32_t id)
{
	struct rpc_req *r = rpc_req_find(s, id);

	if (!r || r->cancelled)
		return;
	__atomic_store_n(&r->cancelled, true, __ATOMIC_RELAXED);
	if (rpc_req_streams(r))
		rpc_tx_drop_responses(s, id); /* what a stream queued goes unsent */
	if (r->seen && !r->complete)
		rpc_req_stream_cancel(r); /* its handler holds it: a last run ends it */
	else if (!r->complete)
		rpc_req_release(r);	/* abandoned mid-message: free it now */
}

/* a message of a streamed response is in: shown, and the call goes on */
static void end_part(struct rpc_session *s, struct rpc_ccall *c)
{
	struct rpc_buf *b = c->rbuf;

	c->rbuf = NULL; /* the next message starts afresh */
	if (c->rdrop) {
		c->rdrop = false;
		rpc_call_stop(c, RPC_RESOURCE_EXHAUSTED);
		return;
	}
	rpc_call_deliver(c, RPC_OK, b->data, c->rhdr.meta_len, c->rhdr.msg_len, true);
	rpc_buf_put(&s->ep->pool, b);
}

static void end_response(struct rpc_session *s, struct rpc_ccall *c)
{
	int st = c->rhdr.status > RPC_UNAUTHENTICATED ? RPC_UNKNOWN : c->rhdr.status;

	if (c->rhdr.flags & RPC_FF_STREAM) {
		end_part(s, c);
		return;
	}
	if (c->rdrop) {
		rpc_call_complete(c, RPC_RESOURCE_EXHAUSTED);
		return;
	}
	rpc_call_deliver(c, st, c->rbuf->data, c->rhdr.meta_len, c->rhdr.msg_len, false);
}

/* the payload of s->rf is in */
int rpc_rx_frame_end(struct rpc_session *s)
{
	const struct rpc_frame_hdr *h = &s->rf;
	bool more = h->flags & RPC_FF_MORE;

	switch (h->type) {
	case RPC_FT_REQUEST:
	case RPC_FT_CHUNK:
		if (s->rf_req && !more)
			rpc_req_dispatch(s->rf_req);
		else if (s->rf_call && !more)
			end_response(s, s->rf_call);
		break;
	case RPC_FT_RESPONSE:
		if (s->rf_call && !more)
			end_response(s, s->rf_call);
		break;
	case RPC_FT_CANCEL:
		on_cancel(s, h->call_id);
		break;
	case RPC_FT_CREDIT:
		if ((uint64_t)s->tx_calls + h->call_id > UINT32_MAX)
			return -EPROTO;
		s->tx_calls += h->call_id;
		s->tx_bytes += h->aux;
		rpc_flush_mark(s);
		break;
	case RPC_FT_PING:
		rpc_tx_ctl(s, RPC_FT_PONG, 0, 0, h->aux, 0, RPC_TXC_LATENCY);
		break;
	case RPC_FT_PONG:
		if (h->aux == s->ping_token)
			s->ping_out = false;
		break;
	case RPC_FT_GOAWAY:
		/* the peer closes after this: calls fail UNAVAILABLE, we reconnect */
		return -ECONNABORTED;
	default:
		break;
	}
	return 0;
}

/* feed @n received bytes at @p through the frame state machine */
static int consume(struct rpc_session *s, const uint8_t *p, size_t n)
{
	while (n && s->state == SS_UP) {
		int r;

		if (!s->rf_body) {
			size_t take = RPC_WIRE_HDR_LEN - s->rh_got;

			if (take > n)
				take = n;
			memcpy(s->rh + s->rh_got, p, take);
			s->rh_got += (uint32_t)take;
			p += take;
			n -= take;
			if (s->rh_got < RPC_WIRE_HDR_LEN)
				break;
			s->rh_got = 0;
			if (rpc_frame_decode(s->rh, &s->rf) != RPC_FE_OK)
				return proto_error(s);
			r = rpc_rx_frame_start(s);
			if (r == -EPROTO)
				return proto_error(s);
			if (r < 0)
				return r;
			s->rf_body = true;
		} else {
			size_t take = s->rf_left < n ? s->rf_left : n;

			if (s->rf_dst) {
				memcpy(s->rf_dst, p, take);
				s->rf_dst += take;
			}
			s->rf_left -= (uint32_t)take;
			p += take;
			n -= take;
		}
		if (s->rf_body && s->rf_left == 0) {
			s->rf_body = false;
			r = rpc_rx_frame_end(s);
			if (r == -EPROTO)
				return proto_error(s);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/*
 * In place (bypass): frames are parsed straight from the transport's rx
 * ring and each payload byte is copied once, into its message's pool
 * buffer; control frames and headers are never staged.  The bytes are
 * consumed after the whole peek was fed through, so a handler that runs
 * inline (and answers on the same handle) is fine: a peek lasts until the
 * next receive call on the handle.  Requests are not handed to handlers in
 * the ring itself: see NOTES.md "Zero-copy" for why.
 */
static int rx_in_place(struct rpc_session *s)
{
	const struct rpc_transport_ops *ops = s->ep->ops;
	int h = s->h;

	while (s->state == SS_UP) {
		struct iovec v[2];
		size_t total = 0;
		int n = ops->rx_peek(s->ep->t, h, v), r = 0;

		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : n;
		rpc_session_heard(s);
		for (int i = 0; i < n && !r; i++) {
			r = consume(s, v[i].iov_base, v[i].iov_len);
			total += v[i].iov_len;
		}
		s->ep->st.zc_rx_bytes += total;
		/* a handler may have closed or failed the session: its handle is gone */
		if (s->h == h && s->state == SS_UP)
			ops->rx_consume(s->ep->t, h, total);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * A response from a framing transport goes to its continuation where it
 * lies: the continuation runs now, and the message goes back to the
 * transport right after (rx_msgs()), so nothing is copied.
 */
static int rx_msg_response(struct rpc_session *s, const struct rpc_tmsg *m)
{
	static const uint8_t empty[1];
	const struct rpc_frame_hdr *h = &m->h;
	struct rpc_ccall *c = rpc_call_lookup(s, h->call_id);
	bool part = h->flags & RPC_FF_STREAM;

	if (!c || c->state != CALL_SENT || c->rbuf || c->rdrop)
		return 0; /* late (cancelled, deadline) or a stray duplicate */
	if (!part_ok(c, h))
		return -EPROTO;
	c->rhdr = *h;
	if (m->too_big || h->msg_len > s->ep->o.max_msg) {
		if (part)
			rpc_call_stop(c, RPC_RESOURCE_EXHAUSTED);
		else
			rpc_call_complete(c, RPC_RESOURCE_EXHAUSTED);
		return 0;
	}
	s->ep->st.zc_rx_msgs++;
	rpc_call_deliver(c, h->status > RPC_UNAUTHENTICATED ? RPC_UNKNOWN : h->status,
			 m->data ? m->data : empty, h->meta_len, h->msg_len, part);
	return 0;
}

/* @calls and @bytes the peer spent on something we keep nothing of: charged
 * (within the credit we gave) and given straight back */
static int credit_through(struct rpc_session *s, uint32_t calls, uint32_t bytes)
{
	if (s->rx_calls_used + calls > s->rx_calls_win ||
	    s->rx_bytes_used + bytes > s->rx_bytes_win)
		return -EPROTO; /* peer ignored our credit */
	s->rx_calls_used += calls;
	s->rx_bytes_used += bytes;
	rpc_credit_return(s, calls, bytes);
	return 0;
}

/*
 * Bytes of a request the transport skips (over max_msg) went by: their
 * credit goes back now, as over a byte stream, since the request may be
 * larger than our whole byte window.  (Responses cost no credit.)
 */
static int rx_skipped_part(struct rpc_session *s, const struct rpc_tmsg *m)
{
	return m->h.type == RPC_FT_REQUEST ? credit_through(s, 0, m->wire_bytes) : 0;
}

/*
 * The end of a request its caller cancelled while it arrived (the CANCEL
 * follows): nothing was started for it, so its call (a first message's)
 * and bytes go back now, unanswered, as over bytes a request freed by its
 * CANCEL gives them back.
 */
static int rx_cancelled_request(struct rpc_session *s, const struct rpc_tmsg *m)
{
	if (m->h.type != RPC_FT_REQUEST)
		return -EPROTO; /* only requests are cancelled */
	return credit_through(s, !(m->h.flags & RPC_FF_REQ_CONT), m->wire_bytes);
}

/*
 * A whole message from a framing transport (fastpathd's RPC sessions):
 * the same path as a single frame, minus the byte stream.  Credit is what
 * the message cost on the wire, every frame header included, so what we
 * give back matches what the peer spent.  A request keeps its message
 * where it lies while the transport allows (msg_keep(): it bounds what is
 * kept), else it is copied into a pool buffer; *@kept says the request
 * now owns @m (its release gives @m back, not rx_msgs()).
 */
static int rx_msg(struct rpc_session *s, struct rpc_tmsg *m, bool *kept)
{
	const struct rpc_frame_hdr *h = &m->h;
	struct rpc_endpoint *ep = s->ep;
	int r;

	if (m->part)
		return rx_skipped_part(s, m);
	if (m->cancelled)
		return rx_cancelled_request(s, m);
	s->rf = *h;
	s->rf_call = NULL;
	s->rf_req = NULL;
	s->rf_dst = NULL;
	s->rf_left = 0;
	switch (h->type) {
	case RPC_FT_REQUEST: {
		bool keep = m->data && !m->too_big && h->msg_len <= ep->o.max_msg &&
			    ep->ops->msg_keep && ep->ops->msg_keep(ep->t, m);

		/* charged what the peer spent on it, less what its parts gave
		 * back: the end of one cancelled after its last part, nothing */
		r = start_request(s, h, m->wire_bytes, !keep);
		if (r)
			return r;
		struct rpc_req *q = s->rf_req;

		if (keep && !q->drop) {
			q->held = *m;
			q->has_held = true;
			q->data = m->data;
			*kept = true;
			ep->st.zc_rx_msgs++;
		} else if (m->too_big && !q->drop) {
			rpc_buf_put(&ep->pool, q->buf);
			q->buf = NULL;
			q->drop = true;
			s->rf_dst = NULL;
		}
		break;
	}
	case RPC_FT_RESPONSE:
		return rx_msg_response(s, m);
	case RPC_FT_CHUNK:
		return -EPROTO; /* the transport joins chunks */
	default:
		break;
	}
	if (s->rf_dst && m->data)
		memcpy(s->rf_dst, m->data, h->frame_len);
	return rpc_rx_frame_end(s);
}

static int rx_msgs(struct rpc_session *s)
{
	const struct rpc_transport_ops *ops = s->ep->ops;

	while (s->state == SS_UP) {
		struct rpc_tmsg m;
		int r = ops->recv_msg(s->ep->t, s->h, &m);

		if (r == -EAGAIN)
			return 0;
		if (r < 0) {
			/* the transport's framer found it (and reset the
			 * connection): counted as if we had */
			if (r == -EPROTO)
				s->ep->st.proto_errors++;
			return r;
		}
		if (m.eof)
			return -ECONNRESET;
		rpc_session_heard(s);
		bool kept = false;

		r = rx_msg(s, &m, &kept);
		if (!kept)
			ops->msg_done(s->ep->t, &m);
		if (r == -EPROTO)
			return proto_error(s);
		if (r < 0)
			return r;
	}
	return 0;
}

/**
 * rpc_rx - read until the transport has nothing more.  A transport with
 * rx_peek is parsed in place (rx_in_place()).  Otherwise large payloads go
 * straight into their message buffer and the rest through a staging
 * buffer, so small frames cost one read for many.
 * Return: 0, or -errno when the session must fail (EOF: -ECONNRESET).
 */
int rpc_rx(struct rpc_session *s)
{
	static __thread uint8_t stage[65536];
	const struct rpc_transport_ops *ops = s->ep->ops;

	if (ops->recv_msg)
		return rx_msgs(s);
	if (ops->rx_peek)
		return rx_in_place(s);
	while (s->state == SS_UP) {
		ssize_t n;
		int r;

		if (s->rf_body && s->rf_dst && s->rf_left >= sizeof(stage)) {
			n = ops->recv(s->ep->t, s->h, s->rf_dst, s->rf_left);
			if (n > 0) {
				rpc_session_heard(s);
				s->rf_dst += n;
				s->rf_left -= (uint32_t)n;
				if (s->rf_left)
					continue;
				s->rf_body = false;
				r = rpc_rx_frame_end(s);
				if (r == -EPROTO)
					return proto_error(s);
				if (r < 0)
					return r;
				continue;
			}
		} else {
			n = ops->recv(s->ep->t, s->h, stage, sizeof(stage));
			if (n > 0) {
				rpc_session_heard(s);
				r = consume(s, stage, (size_t)n);
				if (r < 0)
					return r;
				continue;
			}
		}
		if (n == -EAGAIN)
			return 0;
		return n == 0 ? -ECONNRESET : (int)n;
	}
	return 0;
}
