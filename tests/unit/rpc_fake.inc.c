// SPDX-License-Identifier: MIT
/*
 * rpc_fake.inc.c - an in-memory transport for the rpc unit tests: byte
 * pipes between handles of one process, with knobs a real network does
 * not give a test: kill a server's connections, swallow traffic
 * (blackhole), cap a pipe (backpressure), write raw bytes.
 * Level-triggered for IN, so a test can just spin rpc_run(ep, 0).
 *
 * With FK_ZC defined, each pipe is a fixed ring (FK_RING bytes, so it
 * wraps often) and the transport offers the zero-copy ops the bypass
 * transport has: reservations point into the peer's ring, peeks into the
 * handle's own, in one or two pieces across the ring end; committing or
 * consuming more than was handed out is -EINVAL, as in libbypass.
 *
 * With FK_PROMISE defined, it plays a transport with a shared send area
 * as bypass-msg is: 4 KiB frames, room per class, and room promised to
 * messages of several frames (tx_msg_begin/tx_msg_end).  It counts the
 * promises, checks that every RPC_TXC_RESERVED frame has one and every
 * end a begin (fk_promise_bad), and can refuse promises for a while.
 *
 * With FK_MSG defined, it frames for the endpoint as fastpathd does for
 * bypass-msg sessions: recv_msg hands over whole messages (CHUNKs joined,
 * each in a malloc'ed buffer), msg_done frees them, and msg_keep lets
 * requests keep theirs within a budget (fk_keep_max bytes) while it counts
 * what is kept (fk_kept, its peak) and what was never given back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc_internal.h"

#define FK_MAX 512

struct fk_h {
	bool used, listener, eof, err, refused, notify_out, blackhole;
	void *owner;
	int peer;
	uint16_t port;
	uint8_t *buf;		/* bytes waiting to be read from this handle */
	size_t len, cap;
	size_t off;		/* !FK_ZC: where in buf they start */
	int acceptq[FK_MAX];
	int nacc;
	bool acc_edge;		/* a connection arrived since poll last said so */
	uint64_t rd;		/* FK_ZC: ring position of buf's first byte */
	size_t resv, peeked;	/* FK_ZC: handed out by tx_reserve / rx_peek */
};

#ifdef FK_ZC
#define FK_RING (64u << 10)
#endif

static struct fk_h fk[FK_MAX];
static pthread_mutex_t fk_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t fk_pipe_cap = SIZE_MAX;

#ifdef FK_MSG
/* a message whose CHUNKs are still coming, by handle, direction and call */
struct fk_part {
	bool used;
	int h;
	bool resp;
	uint32_t call_id;
	struct rpc_frame_hdr first;
	uint8_t *data;		/* NULL: over max_msg, its bytes skipped */
	uint32_t len, wire;
};

static struct fk_part fk_parts[256];
static struct rpc_frame_hdr fk_stashed[FK_MAX]; /* a CANCEL after the end it caused */
static bool fk_has_stash[FK_MAX];
static uint64_t fk_kept, fk_kept_peak, fk_keep_max = UINT64_MAX;
static unsigned long fk_msgs_out, fk_msgs_kept;	/* handed out and not done; kept ever */
static unsigned long fk_exhausted_answers; /* RESPONSEs with RESOURCE_EXHAUSTED handed out */

#endif

#ifdef FK_PROMISE
static unsigned fk_promised[FK_MAX][RPC_TXC_N]; /* messages under way, by handle and class */
static unsigned long fk_begins, fk_ends, fk_resv_frames, fk_refusals, fk_promise_bad;
static bool fk_promise_refuse;
#endif

/* bytes that may still be queued towards handle @p */
static size_t fk_room(int p)
{
	size_t room = fk_pipe_cap > fk[p].len ? fk_pipe_cap - fk[p].len : 0;

#ifdef FK_ZC
	if (room > FK_RING - fk[p].len)
		room = FK_RING - fk[p].len;
#endif
	return room;
}

#ifdef FK_ZC
/* the pieces of @len ring bytes of @p from stream position @pos */
static int fk_span(int p, uint64_t pos, size_t len, struct iovec iov[2])
{
	size_t off = (size_t)(pos & (FK_RING - 1));
	size_t first = FK_RING - off < len ? FK_RING - off : len;

	if (!fk[p].buf)
		fk[p].buf = malloc(FK_RING);
	if (!len)
		return 0;
	iov[0].iov_base = fk[p].buf + off;
	iov[0].iov_len = first;
	iov[1].iov_base = fk[p].buf;
	iov[1].iov_len = len - first;
	return first < len ? 2 : 1;
}
#endif

/* append @len bytes (room checked by the caller) to what @p reads */
static void fk_put(int p, const void *src, size_t len)
{
	if (!len)
		return; /* (a pipe with no room: nothing to copy, maybe no buffer) */
#ifdef FK_ZC
	struct iovec v[2];
	int n = fk_span(p, fk[p].rd + fk[p].len, len, v);

	for (int i = 0; i < n; i++) {
		memcpy(v[i].iov_base, src, v[i].iov_len);
		src = (const uint8_t *)src + v[i].iov_len;
	}
#else
	if (fk[p].off + fk[p].len + len > fk[p].cap && fk[p].off) {
		memmove(fk[p].buf, fk[p].buf + fk[p].off, fk[p].len);
		fk[p].off = 0;
	}
	if (fk[p].len + len > fk[p].cap) {
		size_t cap = fk[p].cap ? fk[p].cap : 4096;

		while (cap < fk[p].len + len)
			cap *= 2;
		fk[p].buf = realloc(fk[p].buf, cap);
		fk[p].cap = cap;
	}
	memcpy(fk[p].buf + fk[p].off + fk[p].len, src, len);
#endif
	fk[p].len += len;
}

/* take @len bytes @h has to read */
static void fk_take(int h, void *dst, size_t len)
{
#ifdef FK_ZC
	struct iovec v[2];
	int n = fk_span(h, fk[h].rd, len, v);

	for (int i = 0; i < n; i++) {
		memcpy(dst, v[i].iov_base, v[i].iov_len);
		dst = (uint8_t *)dst + v[i].iov_len;
	}
	fk[h].rd += len;
#else
	/* no memmove per read: a pipe of many small frames stays linear */
	memcpy(dst, fk[h].buf + fk[h].off, len);
	fk[h].off = fk[h].len == len ? 0 : fk[h].off + len;
#endif
	fk[h].len -= len;
}

/* fk_blackhole_owner()'s: its handles made from now on drop what they send too */
static void *fk_blackholed;

static int fk_alloc(void *owner)
{
	for (int i = 1; i < FK_MAX; i++) {
		if (!fk[i].used) {
			memset(&fk[i], 0, sizeof(fk[i]));
			fk[i].used = true;
			fk[i].owner = owner;
			fk[i].peer = -1;
			fk[i].blackhole = owner && owner == fk_blackholed;
			return i;
		}
	}
	return -EMFILE;
}

static int fk_init(void **t, const struct rpc_endpoint_opts *o, char *err, size_t el)
{
	uint32_t *max_msg = malloc(sizeof(*max_msg));

	if (!max_msg)
		return -ENOMEM;
	*max_msg = o->max_msg; /* FK_MSG refuses larger messages, as fastpathd does */
	*t = max_msg;
	return 0;
}

static void fk_fini(void *t)
{
	free(t);
}

static int fk_listen(void *t, uint32_t ip, uint16_t port)
{
	pthread_mutex_lock(&fk_mu);
	int h = fk_alloc(t);

	if (h > 0) {
		fk[h].listener = true;
		fk[h].port = port ? port : (uint16_t)(40000 + h);
	}
	pthread_mutex_unlock(&fk_mu);
	return h;
}

static int fk_local_port(void *t, int h)
{
	return fk[h].port;
}

/* the next fk_accept_fails accepts fail with fk_accept_err (EMFILE...) */
static int fk_accept_fails, fk_accept_err;

static int fk_accept(void *t, int lh)
{
	int h = -EAGAIN;

	pthread_mutex_lock(&fk_mu);
	if (fk[lh].nacc && fk_accept_fails > 0) {
		fk_accept_fails--;
		h = -fk_accept_err;
	} else if (fk[lh].nacc) {
		h = fk[lh].acceptq[0];
		memmove(fk[lh].acceptq, fk[lh].acceptq + 1, (size_t)--fk[lh].nacc * sizeof(int));
	}
	pthread_mutex_unlock(&fk_mu);
	return h;
}

static int fk_connect(void *t, uint32_t ip, uint16_t port)
{
	int c, l = -1;

	pthread_mutex_lock(&fk_mu);
	for (int i = 1; i < FK_MAX; i++)
		if (fk[i].used && fk[i].listener && fk[i].port == port)
			l = i;
	c = fk_alloc(t);
	if (c > 0) {
		fk[c].notify_out = true;
		if (l < 0) {
			fk[c].refused = true;
		} else {
			int sv = fk_alloc(fk[l].owner);

			fk[sv].peer = c;
			fk[c].peer = sv;
			fk[l].acceptq[fk[l].nacc++] = sv;
			fk[l].acc_edge = true;
		}
	}
	pthread_mutex_unlock(&fk_mu);
	return c;
}

static int fk_connect_status(void *t, int h)
{
	return fk[h].refused ? -ECONNREFUSED : 0;
}

static ssize_t fk_sendv(void *t, int h, const struct iovec *iov, int n, unsigned prio)
{
	ssize_t done = 0;

	pthread_mutex_lock(&fk_mu);
	int p = fk[h].peer;

	if (fk[h].err || p < 0) {
		pthread_mutex_unlock(&fk_mu);
		return -EPIPE;
	}
#ifdef FK_PROMISE
	if (prio & RPC_TXC_RESERVED) {
		fk_resv_frames++;
		if ((prio & 0xff) >= RPC_TXC_N || !fk_promised[h][prio & 0xff])
			fk_promise_bad++; /* a reserved frame with no promise */
	}
#endif
	for (int i = 0; i < n; i++) {
		size_t room = fk_room(p), len = iov[i].iov_len;

		if (fk[h].blackhole) {
			done += len;
			continue;
		}
		if (len > room)
			len = room;
		fk_put(p, iov[i].iov_base, len);
		done += len;
		if (len < iov[i].iov_len)
			break;
	}
	pthread_mutex_unlock(&fk_mu);
	return done ? done : -EAGAIN;
}

static ssize_t fk_recv(void *t, int h, void *buf, size_t len)
{
	ssize_t r;

	pthread_mutex_lock(&fk_mu);
	if (fk[h].len) {
		r = (ssize_t)(len < fk[h].len ? len : fk[h].len);
		fk_take(h, buf, (size_t)r);
		if (fk[h].peer >= 0)
			fk[fk[h].peer].notify_out = true;
	} else if (fk[h].err) {
		r = -ECONNRESET;
	} else {
		r = fk[h].eof ? 0 : -EAGAIN;
	}
	pthread_mutex_unlock(&fk_mu);
	return r;
}

static void fk_close_locked(int h)
{
	int p = fk[h].peer;

	if (p >= 0) {
		fk[p].eof = true;
		fk[p].peer = -1;
	}
	free(fk[h].buf);
	memset(&fk[h], 0, sizeof(fk[h]));
#ifdef FK_MSG
	for (unsigned i = 0; i < sizeof(fk_parts) / sizeof(fk_parts[0]); i++) {
		if (fk_parts[i].used && fk_parts[i].h == h) {
			free(fk_parts[i].data);
			fk_parts[i] = (struct fk_part){ 0 };
		}
	}
#endif
#ifdef FK_PROMISE
	memset(fk_promised[h], 0, sizeof(fk_promised[h])); /* close drops them */
#endif
}

static void fk_close(void *t, int h)
{
	pthread_mutex_lock(&fk_mu);
	fk_close_locked(h);
	pthread_mutex_unlock(&fk_mu);
}

/* an owner whose poll reports nothing (fk_mute_poll) */
static void *fk_muted;

static int fk_poll(void *t, struct rpc_tev *ev, int max, int timeout_ms)
{
	int n = 0;

	pthread_mutex_lock(&fk_mu);
	if (t == fk_muted)
		max = 0;
	for (int i = 1; i < FK_MAX && n < max; i++) {
		struct fk_h *f = &fk[i];
		unsigned b = 0;

		if (!f->used || f->owner != t)
			continue;
		/* a listener is edge-style, as the kernel transport's
		 * (EPOLLET): new arrivals, not waiting ones, make an event */
		if (f->listener ? f->acc_edge : (f->len || f->eof || f->err || f->refused))
			b |= RPC_TEV_IN;
		f->acc_edge = false;
		if (f->notify_out) {
			b |= RPC_TEV_OUT;
			f->notify_out = false;
		}
		if (b) {
			ev[n].h = i;
			ev[n++].bits = b;
		}
	}
	pthread_mutex_unlock(&fk_mu);
	if (!n && timeout_ms)
		usleep(200);
	return n;
}

#ifdef FK_ZC
static int fk_tx_reserve(void *t, int h, size_t len, struct iovec iov[2], unsigned prio)
{
	int p, n;

	pthread_mutex_lock(&fk_mu);
	p = fk[h].peer;
	fk[h].resv = 0;
	if (fk[h].err || p < 0) {
		n = -EPIPE;
	} else if (fk[h].blackhole || !fk_room(p)) {
		n = -EAGAIN;	/* a blackhole swallows through sendv */
	} else {
		if (len > fk_room(p))
			len = fk_room(p);
		n = fk_span(p, fk[p].rd + fk[p].len, len, iov);
		fk[h].resv = len;
	}
	pthread_mutex_unlock(&fk_mu);
	return n;
}

static int fk_tx_commit(void *t, int h, size_t len)
{
	int p, r = 0;

	pthread_mutex_lock(&fk_mu);
	p = fk[h].peer;
	if (len > fk[h].resv)
		r = -EINVAL;
	else if (p < 0)
		r = -EPIPE;
	else
		fk[p].len += len;
	fk[h].resv = 0;
	pthread_mutex_unlock(&fk_mu);
	return r;
}

static int fk_rx_peek(void *t, int h, struct iovec iov[2])
{
	int n;

	pthread_mutex_lock(&fk_mu);
	fk[h].peeked = 0;
	if (fk[h].len) {
		n = fk_span(h, fk[h].rd, fk[h].len, iov);
		fk[h].peeked = fk[h].len;
	} else if (fk[h].err) {
		n = -ECONNRESET;
	} else {
		n = fk[h].eof ? 0 : -EAGAIN;
	}
	pthread_mutex_unlock(&fk_mu);
	return n;
}

static int fk_rx_consume(void *t, int h, size_t len)
{
	int r = 0;

	pthread_mutex_lock(&fk_mu);
	if (len > fk[h].peeked) {
		r = -EINVAL;
	} else {
		fk[h].rd += len;
		fk[h].len -= len;
		if (len && fk[h].peer >= 0)
			fk[fk[h].peer].notify_out = true;
	}
	fk[h].peeked = 0;
	pthread_mutex_unlock(&fk_mu);
	return r;
}
#endif

#ifdef FK_PROMISE
static int fk_tx_msg_begin(void *t, int h, unsigned prio, uint64_t bytes, uint32_t frames)
{
	int r = 0;

	pthread_mutex_lock(&fk_mu);
	if (h <= 0 || h >= FK_MAX || prio >= RPC_TXC_N || frames < 2 ||
	    bytes < (uint64_t)frames * RPC_WIRE_HDR_LEN) {
		fk_promise_bad++;
		r = -EINVAL;
	} else if (fk_promise_refuse) {
		fk_refusals++;
		r = -EAGAIN;
	} else {
		fk_promised[h][prio]++;
		fk_begins++;
	}
	pthread_mutex_unlock(&fk_mu);
	return r;
}

static void fk_tx_msg_end(void *t, int h, unsigned prio)
{
	pthread_mutex_lock(&fk_mu);
	if (h <= 0 || h >= FK_MAX || prio >= RPC_TXC_N || !fk_promised[h][prio]) {
		fk_promise_bad++;
	} else {
		fk_promised[h][prio]--;
		fk_ends++;
	}
	pthread_mutex_unlock(&fk_mu);
}

/* refuse promises, or stop and report every handle writable, as
 * libbypass does when room comes back */
static __attribute__((unused)) void fk_promise_set_refuse(bool on)
{
	pthread_mutex_lock(&fk_mu);
	fk_promise_refuse = on;
	for (int i = 1; !on && i < FK_MAX; i++)
		if (fk[i].used && !fk[i].listener)
			fk[i].notify_out = true;
	pthread_mutex_unlock(&fk_mu);
}
#endif

#ifdef FK_MSG
static struct fk_part *fk_part_find(int h, bool resp, uint32_t id)
{
	for (unsigned i = 0; i < sizeof(fk_parts) / sizeof(fk_parts[0]); i++)
		if (fk_parts[i].used && fk_parts[i].h == h && fk_parts[i].resp == resp &&
		    fk_parts[i].call_id == id)
			return &fk_parts[i];
	return NULL;
}

/* the next whole frame of @h, its payload malloc'ed: 1, 0 none yet, -err */
static int fk_frame(int h, struct rpc_frame_hdr *fh, uint8_t **payload, bool *eof)
{
	uint8_t hb[RPC_WIRE_HDR_LEN];
	int r = 0;

	pthread_mutex_lock(&fk_mu);
	if (fk[h].len >= RPC_WIRE_HDR_LEN) {
		memcpy(hb, fk[h].buf + fk[h].off, RPC_WIRE_HDR_LEN);
		if (rpc_frame_decode(hb, fh) != RPC_FE_OK) {
			r = -EPROTO;
		} else if (fk[h].len >= RPC_WIRE_HDR_LEN + (size_t)fh->frame_len) {
			fk_take(h, hb, RPC_WIRE_HDR_LEN);
			*payload = malloc(fh->frame_len ? fh->frame_len : 1);
			fk_take(h, *payload, fh->frame_len);
			if (fk[h].peer >= 0)
				fk[fk[h].peer].notify_out = true;
			r = 1;
		}
	}
	if (!r && fk[h].err)
		r = -ECONNRESET;
	else if (!r && fk[h].eof && !fk[h].len)
		*eof = true;
	pthread_mutex_unlock(&fk_mu);
	return r;
}

/* a message over the endpoint's max_msg, refused as fastpathd does: its
 * frames' bytes go out as parts, then its end without data */
static int fk_skipped(struct rpc_tmsg *m, const struct rpc_frame_hdr *first, uint32_t wire,
		      bool part)
{
	*m = (struct rpc_tmsg){ .h = *first, .wire_bytes = wire, .too_big = true, .part = part };
	m->h.flags &= (uint16_t)~RPC_FF_MORE;
	m->h.frame_len = m->h.meta_len = 0;
	m->h.msg_len = 0; /* as libbypass shows it: a body it does not have */
	fk_msgs_out++;
	return 0;
}

static int fk_recv_msg(void *t, int h, struct rpc_tmsg *m)
{
	uint32_t max_msg = *(const uint32_t *)t;

	if (fk_has_stash[h]) {
		fk_has_stash[h] = false;
		*m = (struct rpc_tmsg){ .h = fk_stashed[h], .wire_bytes = RPC_WIRE_HDR_LEN };
		fk_msgs_out++;
		return 0;
	}
	for (;;) {
		struct rpc_frame_hdr fh;
		uint8_t *p = NULL;
		bool eof = false;
		int r = fk_frame(h, &fh, &p, &eof);

		if (eof) {
			*m = (struct rpc_tmsg){ .eof = true };
			return 0;
		}
		if (r <= 0)
			return r ? r : -EAGAIN;
		bool more = fh.flags & RPC_FF_MORE;
		uint32_t wire = RPC_WIRE_HDR_LEN + fh.frame_len;
		struct fk_part *pt;

		if (fh.type == RPC_FT_CANCEL && (pt = fk_part_find(h, false, fh.call_id))) {
			/* as fastpathd: a request cancelled while arriving ends
			 * now, without data, marked cancelled, with what no
			 * part handed over yet; the CANCEL comes next */
			struct rpc_frame_hdr first = pt->first;
			uint32_t left = pt->data ? pt->wire : 0;

			free(pt->data);
			*pt = (struct fk_part){ 0 };
			free(p);
			fk_stashed[h] = fh;
			fk_has_stash[h] = true;
			fk_skipped(m, &first, left, false);
			m->cancelled = true;
			return 0;
		}
		if (fh.type == RPC_FT_CHUNK) {
			pt = fk_part_find(h, fh.flags & RPC_FF_RESP_DIR, fh.call_id);
			if (!pt) {
				free(p);
				return -EPROTO;
			}
			if (pt->len + fh.frame_len > pt->first.meta_len + pt->first.msg_len) {
				free(p);
				return -EPROTO;
			}
			if (!pt->data) {
				struct rpc_frame_hdr first = pt->first;

				free(p);
				pt->len += fh.frame_len;
				if (!more)
					*pt = (struct fk_part){ 0 };
				return fk_skipped(m, &first, wire, more);
			}
			memcpy(pt->data + pt->len, p, fh.frame_len);
			pt->len += fh.frame_len;
			pt->wire += wire;
			free(p);
			if (more)
				continue;
			fh = pt->first;
			p = pt->data;
			wire = pt->wire;
			*pt = (struct fk_part){ 0 };
		} else if (more) {
			if (fh.frame_len > (uint64_t)fh.meta_len + fh.msg_len) {
				free(p);
				return -EPROTO;
			}
			for (pt = fk_parts; pt->used; pt++)
				cr_assert(pt + 1 < fk_parts + 256, "fake: too many partial messages");
			bool skip = fh.msg_len > max_msg;

			/* the first frame says the whole size: one buffer for all */
			*pt = (struct fk_part){ .used = true, .h = h, .first = fh,
						.resp = fh.type == RPC_FT_RESPONSE,
						.call_id = fh.call_id,
						.data = skip ? NULL :
							malloc((size_t)fh.meta_len + fh.msg_len),
						.len = fh.frame_len, .wire = wire };
			if (skip) {
				free(p);
				return fk_skipped(m, &fh, wire, true);
			}
			memcpy(pt->data, p, fh.frame_len);
			free(p);
			continue;
		}
		if ((fh.type == RPC_FT_REQUEST || fh.type == RPC_FT_RESPONSE) &&
		    fh.msg_len > max_msg) {
			free(p);
			return fk_skipped(m, &fh, wire, false);
		}
		fh.flags &= (uint16_t)~RPC_FF_MORE;
		fh.frame_len = fh.meta_len + fh.msg_len;
		*m = (struct rpc_tmsg){ .h = fh, .data = p, .wire_bytes = wire };
		fk_exhausted_answers += fh.type == RPC_FT_RESPONSE &&
					fh.status == RPC_RESOURCE_EXHAUSTED;
		fk_msgs_out++;
		return 0;
	}
}

static void fk_msg_done(void *t, struct rpc_tmsg *m)
{
	if (m->eof)
		return;
	if (m->kept)
		fk_kept -= m->h.frame_len;
	cr_assert_gt(fk_msgs_out, 0, "fake: a message given back twice");
	fk_msgs_out--;
	free((void *)m->data);
	m->data = NULL;
}

static bool fk_msg_keep(void *t, struct rpc_tmsg *m)
{
	if (fk_kept + m->h.frame_len > fk_keep_max)
		return false;
	fk_kept += m->h.frame_len;
	if (fk_kept > fk_kept_peak)
		fk_kept_peak = fk_kept;
	fk_msgs_kept++;
	m->kept = true;
	return true;
}
#endif

static const struct rpc_transport_ops fake_ops = {
	.name = "fake",
	.init = fk_init,
	.fini = fk_fini,
	.listen = fk_listen,
	.local_port = fk_local_port,
	.accept = fk_accept,
	.connect = fk_connect,
	.connect_status = fk_connect_status,
	.sendv = fk_sendv,
	.recv = fk_recv,
	.close = fk_close,
	.poll = fk_poll,
#ifdef FK_ZC
	.tx_reserve = fk_tx_reserve,
	.tx_commit = fk_tx_commit,
	.rx_peek = fk_rx_peek,
	.rx_consume = fk_rx_consume,
#endif
#ifdef FK_MSG
	.recv_msg = fk_recv_msg,
	.msg_done = fk_msg_done,
	.msg_keep = fk_msg_keep,
#endif
#ifdef FK_PROMISE
	.max_frame = 4096,
	.per_class_room = true,
	.tx_msg_begin = fk_tx_msg_begin,
	.tx_msg_end = fk_tx_msg_end,
#endif
};

/* the server "dies": its listener and connections go, peers see EOF */
static __attribute__((unused)) void fk_kill_owner(void *t)
{
	pthread_mutex_lock(&fk_mu);
	for (int i = 1; i < FK_MAX; i++)
		if (fk[i].used && fk[i].owner == t)
			fk_close_locked(i);
	pthread_mutex_unlock(&fk_mu);
}

/* every connection of @t swallows what it sends (a dead host) */
static __attribute__((unused)) void fk_blackhole_owner(void *t, bool on)
{
	pthread_mutex_lock(&fk_mu);
	for (int i = 1; i < FK_MAX; i++)
		if (fk[i].used && fk[i].owner == t)
			fk[i].blackhole = on;
	fk_blackholed = on ? t : NULL;
	pthread_mutex_unlock(&fk_mu);
}

/* @t's poll reports no event (an endpoint that spends each rpc_run() on
 * other sessions): only what its timers do reaches its connections */
static __attribute__((unused)) void fk_mute_poll(void *t, bool on)
{
	pthread_mutex_lock(&fk_mu);
	fk_muted = on ? t : NULL;
	pthread_mutex_unlock(&fk_mu);
}

/* the next @n accepts fail with -@err while connections are pending */
static __attribute__((unused)) void fk_fail_accepts(int n, int err)
{
	pthread_mutex_lock(&fk_mu);
	fk_accept_fails = n;
	fk_accept_err = err;
	pthread_mutex_unlock(&fk_mu);
}

/* raw bytes into the pipe towards @t's connection (as if a peer sent them) */
static void fk_inject(void *t, const void *p, size_t len)
{
	pthread_mutex_lock(&fk_mu);
	for (int i = 1; i < FK_MAX; i++) {
		if (fk[i].used && fk[i].owner == t && !fk[i].listener) {
			fk_put(i, p, len);
			break;
		}
	}
	pthread_mutex_unlock(&fk_mu);
}

static void fk_reset_all(void)
{
	pthread_mutex_lock(&fk_mu);
	for (int i = 1; i < FK_MAX; i++)
		if (fk[i].used)
			fk_close_locked(i);
	fk_pipe_cap = SIZE_MAX;
	fk_blackholed = NULL;
#ifdef FK_MSG
	for (unsigned i = 0; i < sizeof(fk_parts) / sizeof(fk_parts[0]); i++) {
		free(fk_parts[i].data);
		fk_parts[i] = (struct fk_part){ 0 };
	}
	memset(fk_has_stash, 0, sizeof(fk_has_stash));
	fk_kept = fk_kept_peak = 0;
	fk_keep_max = UINT64_MAX;
	fk_msgs_kept = 0;
#endif
#ifdef FK_PROMISE
	fk_begins = fk_ends = fk_resv_frames = fk_refusals = fk_promise_bad = 0;
	fk_promise_refuse = false;
#endif
	pthread_mutex_unlock(&fk_mu);
}
