// SPDX-License-Identifier: MIT
/*
 * transport_bypass_msg.c - RPC over libbypass RPC sessions: fastpathd
 * frames the connection and hands over whole messages (bp_msg_poll()), so
 * the library never reassembles a byte stream and never copies out of the
 * rx ring.  Sending posts whole frames with their class from the app's send
 * area (bp_msg_tx_alloc()/bp_msg_tx_post()): fastpathd puts the next frame
 * of the best class into the tx ring, so a small call of a better class
 * overtakes a large message already handed over.  tx.c writes a frame in
 * place there when it can (tx_reserve), else copies it (sendv); a class
 * out of room (32 frames waiting, or the area full) gives -EAGAIN for that
 * class alone (per_class_room).
 *
 * bp_msg_poll() returns messages of every connection at once; each goes on
 * its handle's FIFO until the session reads it (recv_msg), and its heap
 * buffer goes back to the daemon when the session is done with it.
 */
#include <errno.h>
#include <poll.h>
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bypass/bypass.h"
#include "rpc_internal.h"

#define MSG_BATCH 64

#define MSG_FRAME (32u << 10) /* payload per frame: what a better class may wait for */

struct hq {
	struct bp_msg *v;
	uint32_t head, n, cap;
	void *resv;		/* send-area buffer tx_reserve handed out */
	uint16_t promised[RPC_TXC_N]; /* messages under way with room promised */
};

static_assert(BP_PRIO_LATENCY == RPC_TXC_LATENCY && BP_PRIO_NORMAL == RPC_TXC_NORMAL &&
	      BP_PRIO_BULK == RPC_TXC_BULK, "library classes = libbypass classes");
static_assert(RPC_TXC_RESERVED == BP_MSG_TX_RESERVED, "sendv's @prio goes to bp_msg_tx_alloc()");

struct bm {
	struct bp_ctx *ctx;	/* first: the shared rpc_bp_* ops read it */
	bool own;
	int wake;
	struct hq *q;		/* [nq], by handle */
	uint32_t nq;
	int *ready;		/* handles that got messages since the last poll */
	uint32_t nready, ready_cap;
	/* heap bytes requests keep past their read (msg_keep), and the most
	 * they may: a quarter of the heap, so kept requests never starve the
	 * daemon of room for the responses and credit that free them */
	uint64_t kept, keep_max;
};

static_assert(offsetof(struct bm, ctx) == 0, "rpc_bp_* ops read the context first");

static int m_init(void **t, const struct rpc_endpoint_opts *o, char *err, size_t errlen)
{
	struct bm *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->ctx = o->bp;
	if (!b->ctx) {
		struct bp_attach_opts ao = {
			.app_name = o->bp_opts_app_name ? o->bp_opts_app_name : "rpc",
			.msg_heap = o->bp_msg_heap ? o->bp_msg_heap : 32ull << 20,
			/* so a request we would refuse is refused at its
			 * first frame, its bytes handed over as they come */
			.msg_max = o->max_msg,
		};

		b->ctx = bp_attach(&ao, err, errlen);
		if (!b->ctx) {
			int e = errno ? errno : ECONNREFUSED;

			free(b);
			return -e;
		}
		b->own = true;
	}
	b->wake = -1;
	b->keep_max = bp_msg_heap_size(b->ctx) / 4;
	*t = b;
	return 0;
}

static void hq_drain(struct bm *b, int h)
{
	struct hq *q;

	if (h < 0 || (uint32_t)h >= b->nq)
		return;
	q = &b->q[h];
	while (q->n) {
		bp_msg_done(b->ctx, &q->v[q->head]);
		q->head = (q->head + 1) % q->cap;
		q->n--;
	}
}

static void m_fini(void *t)
{
	struct bm *b = t;

	for (uint32_t h = 0; h < b->nq; h++) {
		hq_drain(b, (int)h);
		free(b->q[h].v);
	}
	free(b->q);
	free(b->ready);
	if (b->own)
		bp_detach(b->ctx);
	free(b);
}

/* handle @h's state, the table grown to hold it; NULL: out of memory */
static struct hq *hq_at(struct bm *b, uint32_t h)
{
	if (h >= b->nq) {
		uint32_t n = h + 64;
		struct hq *nq = realloc(b->q, n * sizeof(*nq));

		if (!nq)
			return NULL;
		memset(nq + b->nq, 0, (n - b->nq) * sizeof(*nq));
		b->q = nq;
		b->nq = n;
	}
	return &b->q[h];
}

static int hq_push(struct bm *b, const struct bp_msg *m)
{
	uint32_t h = (uint32_t)m->h;
	struct hq *q = hq_at(b, h);

	if (!q)
		return -ENOMEM;

	if (q->n == q->cap) {
		uint32_t cap = q->cap ? 2 * q->cap : 16;
		struct bp_msg *v = malloc(cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (uint32_t i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->head = 0;
		q->cap = cap;
	}
	q->v[(q->head + q->n++) % q->cap] = *m;
	if (b->nready == b->ready_cap) {
		uint32_t cap = b->ready_cap ? 2 * b->ready_cap : 64;
		int *r = realloc(b->ready, cap * sizeof(*r));

		if (!r)
			return 0; /* the session still finds it on its next read */
		b->ready = r;
		b->ready_cap = cap;
	}
	b->ready[b->nready++] = (int)h;
	return 0;
}

/* move every message the daemon has into the handles' FIFOs */
static int take_msgs(struct bm *b)
{
	struct bp_msg m[MSG_BATCH];
	int n, total = 0;

	do {
		n = bp_msg_poll(b->ctx, m, MSG_BATCH);
		for (int i = 0; i < n; i++) {
			if (hq_push(b, &m[i]))
				bp_msg_done(b->ctx, &m[i]); /* out of memory: drop */
		}
		if (n > 0)
			total += n;
	} while (n == MSG_BATCH);
	return total;
}

static int m_listen(void *t, uint32_t ip, uint16_t port)
{
	return bp_listen_flags(((struct bm *)t)->ctx, ip, port, 4096, BP_LISTEN_RPC);
}

static int m_connect(void *t, uint32_t ip, uint16_t port)
{
	return bp_connect_rpc(((struct bm *)t)->ctx, ip, port);
}

/* one whole frame (tx.c with per_class_room never splits one) */
static ssize_t m_sendv(void *t, int h, const struct iovec *iov, int n, unsigned prio)
{
	struct bm *b = t;
	size_t len = 0;
	uint8_t *buf, *p;
	int r;

	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	buf = bp_msg_tx_alloc(b->ctx, h, len, prio);
	if (!buf)
		return errno == ENOBUFS ? -EAGAIN : -errno;
	p = buf;
	for (int i = 0; i < n; i++) {
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	r = bp_msg_tx_post(b->ctx, h, buf);
	if (r) {
		bp_msg_tx_cancel(b->ctx, buf);
		return r;
	}
	return (ssize_t)len;
}

static int m_tx_reserve(void *t, int h, size_t len, struct iovec iov[2], unsigned prio)
{
	struct bm *b = t;
	struct hq *q = h >= 0 ? hq_at(b, (uint32_t)h) : NULL;
	void *buf;

	if (!q)
		return -ENOMEM;
	buf = bp_msg_tx_alloc(b->ctx, h, len, prio);
	if (!buf)
		return errno == ENOBUFS ? -EAGAIN : -errno;
	q->resv = buf;
	iov[0] = (struct iovec){ .iov_base = buf, .iov_len = len };
	return 1;
}

static int m_tx_commit(void *t, int h, size_t len)
{
	struct bm *b = t;
	struct hq *q = h >= 0 && (uint32_t)h < b->nq ? &b->q[h] : NULL;
	void *buf = q ? q->resv : NULL;
	int r;

	if (!buf)
		return -EINVAL;
	q->resv = NULL;
	if (!len) {
		bp_msg_tx_cancel(b->ctx, buf);
		return 0;
	}
	r = bp_msg_tx_post(b->ctx, h, buf);
	if (r)
		bp_msg_tx_cancel(b->ctx, buf);
	return r;
}

static ssize_t m_recv(void *t, int h, void *buf, size_t len)
{
	(void)t, (void)h, (void)buf, (void)len;
	return -EOPNOTSUPP; /* whole messages only: recv_msg */
}

static void m_close(void *t, int h)
{
	struct bm *b = t;

	hq_drain(b, h);
	if (h >= 0 && (uint32_t)h < b->nq)
		memset(b->q[h].promised, 0, sizeof(b->q[h].promised));
	bp_close(b->ctx, h); /* drops the handle's promises */
}

/* a message of several frames: room for all of them first (see
 * bp_msg_tx_reserve() for the deadlock this keeps away) */
static int m_tx_msg_begin(void *t, int h, unsigned prio, uint64_t bytes, uint32_t frames)
{
	struct bm *b = t;
	struct hq *q = h >= 0 ? hq_at(b, (uint32_t)h) : NULL;
	int r;

	if (!q || prio >= RPC_TXC_N)
		return q ? -EINVAL : -ENOMEM;
	r = bp_msg_tx_reserve(b->ctx, h, bytes, frames, prio);
	if (r == -ENOBUFS)
		return -EAGAIN;
	if (!r)
		q->promised[prio]++;
	return r;
}

static void m_tx_msg_end(void *t, int h, unsigned prio)
{
	struct bm *b = t;
	struct hq *q = h >= 0 && (uint32_t)h < b->nq ? &b->q[h] : NULL;

	if (q && prio < RPC_TXC_N && q->promised[prio] && !--q->promised[prio])
		bp_msg_tx_unreserve(b->ctx, h, prio);
}

static int m_recv_msg(void *t, int h, struct rpc_tmsg *out)
{
	struct bm *b = t;
	struct hq *q;

	if (h < 0)
		return -EBADF;
	if ((uint32_t)h >= b->nq || !b->q[h].n)
		take_msgs(b);
	if ((uint32_t)h >= b->nq || !(q = &b->q[h])->n)
		return bp_ready(b->ctx, h) & BP_ERROR ? -ECONNRESET : -EAGAIN;
	struct bp_msg *m = &q->v[q->head];

	q->head = (q->head + 1) % q->cap;
	q->n--;
	*out = (struct rpc_tmsg){
		.h = { .type = (uint8_t)m->type,
		       .flags = m->flags & (RPC_FF_RESP_DIR | RPC_FF_STREAM |
					    RPC_FF_REQ_MORE | RPC_FF_REQ_CONT),
		       .method = m->method, .call_id = m->call_id,
		       .frame_len = m->meta_len + m->body_len, .msg_len = m->body_len,
		       .deadline_us = m->deadline_us, .status = m->status,
		       .meta_len = (uint16_t)m->meta_len, .aux = m->aux },
		.data = m->meta, .wire_bytes = m->wire_bytes,
		.too_big = (m->flags & BP_MSG_FLAG_TOO_BIG) != 0,
		.part = (m->flags & BP_MSG_FLAG_PART) != 0,
		.cancelled = (m->flags & BP_MSG_FLAG_CANCELLED) != 0,
		.priv = { m->priv[0], m->priv[1], (uint64_t)(uint32_t)m->h },
	};
	if (m->type == BP_MSG_TYPE_EOF)
		out->eof = true;
	else if (m->type == BP_MSG_TYPE_ERROR) /* a timeout is no protocol error */
		return m->aux == BP_MSG_ERR_TIMEOUT ? -ETIMEDOUT : -EPROTO;
	if (out->too_big) /* the session sizes nothing from a message it cannot have */
		out->h.frame_len = out->h.meta_len = 0;
	return 0;
}

static bool m_msg_keep(void *t, struct rpc_tmsg *m)
{
	struct bm *b = t;

	if (b->kept + m->h.frame_len > b->keep_max)
		return false;
	b->kept += m->h.frame_len;
	m->kept = true;
	return true;
}

static void m_msg_done(void *t, struct rpc_tmsg *m)
{
	struct bm *b = t;
	struct bp_msg bm = { .h = (int)m->priv[2], .priv = { m->priv[0], m->priv[1] } };

	if (m->kept)
		b->kept -= m->h.frame_len;
	bp_msg_done(b->ctx, &bm);
}

static int m_poll(void *t, struct rpc_tev *ev, int max, int timeout_ms)
{
	struct bm *b = t;
	struct bp_pollev pe[256];
	int n = 0;

	if (max > 256)
		max = 256;
	take_msgs(b);
	if (b->nready)
		timeout_ms = 0;
	if (b->wake >= 0 && timeout_ms) {
		struct pollfd p[2] = { { .fd = bp_wait_fd(b->ctx), .events = POLLIN },
				       { .fd = b->wake, .events = POLLIN } };

		n = bp_poll(b->ctx, pe, max - 1, 0);
		if (!n) {
			bp_wait(b->ctx, 0);
			n = bp_poll(b->ctx, pe, max - 1, 0);
			/* the send answers take_msgs() handles make handles
			 * writable without being messages: look again */
			if (!n && !take_msgs(b) && !(n = bp_poll(b->ctx, pe, max - 1, 0)) &&
			    poll(p, 2, timeout_ms) < 0 && errno != EINTR)
				return -errno;
			if (!n)
				n = bp_poll(b->ctx, pe, max - 1, 0);
		}
	} else {
		n = bp_poll(b->ctx, pe, b->wake >= 0 ? max - 1 : max, timeout_ms);
	}
	if (n < 0)
		return n;
	take_msgs(b);
	int out = 0;

	for (int i = 0; i < n; i++) {
		unsigned bits = 0;

		if (pe[i].ready & BP_WRITABLE)
			bits |= RPC_TEV_OUT;
		if (pe[i].ready & (BP_HUP | BP_ERROR))
			bits |= RPC_TEV_IN | RPC_TEV_ERR;
		if (pe[i].ready & BP_READABLE)
			bits |= RPC_TEV_IN; /* accepts; data comes as messages */
		ev[out].h = pe[i].h;
		ev[out++].bits = bits;
	}
	/* handles with new messages: one IN each (duplicates are harmless).
	 * Those that do not fit stay for the next poll, which does not wait:
	 * a handle is listed once per message, so one dropped here would
	 * keep its messages unread until its next one came (in a closed
	 * loop, the keepalive PONG a second later) */
	uint32_t i = 0;

	for (; i < b->nready && out < max - (b->wake >= 0); i++) {
		ev[out].h = b->ready[i];
		ev[out++].bits = RPC_TEV_IN;
	}
	if (i < b->nready)
		memmove(b->ready, b->ready + i, (b->nready - i) * sizeof(*b->ready));
	b->nready -= i;
	if (b->wake >= 0) {
		ev[out].h = RPC_TEV_WAKE_H;
		ev[out++].bits = RPC_TEV_IN;
	}
	return out;
}

static int m_set_wake(void *t, int fd)
{
	((struct bm *)t)->wake = fd;
	return 0;
}

const struct rpc_transport_ops rpc_bypass_msg_ops = {
	.name = "bypass-msg",
	.init = m_init,
	.fini = m_fini,
	.listen = m_listen,
	.local_port = rpc_bp_local_port,
	.accept = rpc_bp_accept,
	.connect = m_connect,
	.connect_status = rpc_bp_connect_status,
	.sendv = m_sendv,
	.recv = m_recv,
	.close = m_close,
	.poll = m_poll,
	.set_wake = m_set_wake,
	.tx_reserve = m_tx_reserve,
	.tx_commit = m_tx_commit,
	.recv_msg = m_recv_msg,
	.msg_done = m_msg_done,
	.msg_keep = m_msg_keep,
	.max_frame = MSG_FRAME,
	.per_class_room = true,
	.tx_msg_begin = m_tx_msg_begin,
	.tx_msg_end = m_tx_msg_end,
};
