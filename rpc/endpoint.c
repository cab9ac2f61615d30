// SPDX-License-Identifier: MIT
/*
 * endpoint.c - the per-thread endpoint: transport, method table, event
 * loop.
 *
 * One rpc_run() pass: poll the transport (no longer than the next timer),
 * read and act on every reported handle (responses reach their
 * continuations and requests their handlers right there, from the receive
 * buffer), fire due timers, write what the pass queued (so the responses
 * of many requests leave in one sweep), run the continuations of calls
 * that ended locally, and free closed sessions last, when nothing can
 * name them any more.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

#define RUN_EVENTS 256
/* connections one rpc_run() accepts: a flood of new sessions must not
 * starve the open ones (their keepalive counts) */
#define ACCEPT_BATCH 64
/* after an accept failed for want of descriptors or memory: the pending
 * connections stay queued in the listener, which reports no new event
 * for them (edge-style), so look again after this long */
#define ACCEPT_RETRY_US 20000

int rpc_hmap_set(struct rpc_endpoint *ep, int h, struct rpc_session *s)
{
	if (h < 0)
		return -EINVAL;
	if (h >= ep->hcap) {
		int cap = ep->hcap ? ep->hcap : 64;
		struct rpc_session **m;

		if (!s)
			return 0;
		while (cap <= h)
			cap *= 2;
		m = realloc(ep->hmap, (size_t)cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		memset(m + ep->hcap, 0, (size_t)(cap - ep->hcap) * sizeof(*m));
		ep->hmap = m;
		ep->hcap = cap;
	}
	ep->hmap[h] = s;
	return 0;
}

void rpc_flush_mark(struct rpc_session *s)
{
	struct rpc_endpoint *ep = s->ep;

	if (s->on_flush)
		return;
	if (ep->nflush == ep->flushcap) {
		int cap = ep->flushcap ? 2 * ep->flushcap : 64;
		struct rpc_session **v = realloc(ep->flush, (size_t)cap * sizeof(*v));

		if (!v)
			return;	/* written at its next event instead */
		ep->flush = v;
		ep->flushcap = cap;
	}
	ep->flush[ep->nflush++] = s;
	s->on_flush = true;
}

static void flush_all(struct rpc_endpoint *ep)
{
	/* a flush may queue more (a failure's callbacks): index, not a copy */
	for (int i = 0; i < ep->nflush; i++) {
		struct rpc_session *s = ep->flush[i];
		int r;

		s->on_flush = false;
		r = rpc_tx_flush(s);
		if (r < 0)
			rpc_session_fail(s, r);
	}
	ep->nflush = 0;
}

const struct rpc_method *rpc_method_get(struct rpc_endpoint *ep, uint16_t id)
{
	struct rpc_method *page = ep->methods[id >> 8];

	if (!page || !page[id & 0xff].fn)
		return NULL;
	return &page[id & 0xff];
}

int rpc_register(struct rpc_endpoint *ep, uint16_t id, const char *name,
		 rpc_handler_fn fn, void *arg)
{
	return rpc_register_flags(ep, id, name, fn, arg, 0);
}

int rpc_register_flags(struct rpc_endpoint *ep, uint16_t id, const char *name,
		       rpc_handler_fn fn, void *arg, unsigned flags)
{
	struct rpc_method **page = &ep->methods[id >> 8];
	struct rpc_method *m;
	int r;

	if (!fn || !name ||
	    (flags & ~(RPC_METHOD_WORKER | RPC_METHOD_LATENCY | RPC_METHOD_BULK |
		       RPC_METHOD_STREAM_REQ)) ||
	    ((flags & RPC_METHOD_LATENCY) && (flags & RPC_METHOD_BULK)))
		return -EINVAL;
	if (flags & RPC_METHOD_WORKER) {
		r = rpc_workers_start(ep);
		if (r < 0)
			return r;
	}
	if (!*page) {
		*page = calloc(256, sizeof(**page));
		if (!*page)
			return -ENOMEM;
	}
	m = &(*page)[id & 0xff];
	if (m->fn)
		return -EEXIST;
	m->name = strdup(name);
	if (!m->name)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	m->flags = flags;
	return 0;
}

/**
 * rpc_parse_hostport - "a.b.c.d:port", ":port", "*:port", "localhost:port".
 * Return: 0 (ip in network order), -EINVAL.
 */
int rpc_parse_hostport(const char *str, uint32_t *ip, uint16_t *port)
{
	const char *colon = str ? strrchr(str, ':') : NULL;
	char host[64], *end;
	struct in_addr a;
	unsigned long p;
	size_t hl;

	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - str);
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, str, hl);
	host[hl] = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || p > 65535)
		return -EINVAL;
	*port = (uint16_t)p;
	if (!hl || !strcmp(host, "*")) {
		*ip = 0;
		return 0;
	}
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

static void set_err(char *err, size_t len, const char *msg)
{
	if (err && len)
		snprintf(err, len, "%s", msg);
}

static void on_accept_retry(struct rpc_timer *t)
{
	rpc_container_of(t, struct rpc_endpoint, accept_retry)->accept_more = true;
}

struct rpc_endpoint *rpc_endpoint_create(const struct rpc_endpoint_opts *opts,
					 char *err, size_t errlen)
{
	struct rpc_endpoint *ep = calloc(1, sizeof(*ep));
	int r;

	if (!ep) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	if (opts)
		ep->o = *opts;
	if (!ep->o.max_msg)
		ep->o.max_msg = RPC_WIRE_DEF_MAX_MSG;
	if (ep->o.max_msg > (1u << 30)) {
		free(ep);
		set_err(err, errlen, "max_msg above 1 GiB");
		errno = EINVAL;
		return NULL;
	}
	if (!ep->o.keepalive_ms)
		ep->o.keepalive_ms = 1000;
	if (!ep->o.keepalive_timeout_ms) {
		uint64_t t = (uint64_t)RPC_KA_DEAD * ep->o.keepalive_ms;

		t = t < RPC_KA_TIMEOUT_MIN_MS ? RPC_KA_TIMEOUT_MIN_MS : t;
		ep->o.keepalive_timeout_ms = t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
	} else if (ep->o.keepalive_timeout_ms < 3 * (uint64_t)ep->o.keepalive_ms) {
		/* a server PINGs after 2 intervals of silence: a silent client
		 * must have an interval to answer before it is declared dead */
		free(ep);
		set_err(err, errlen, "keepalive_timeout_ms must be at least 3 x keepalive_ms");
		errno = EINVAL;
		return NULL;
	}
	if (!ep->o.reconnect_min_ms)
		ep->o.reconnect_min_ms = 50;
	if (!ep->o.reconnect_max_ms)
		ep->o.reconnect_max_ms = 2000;
	if (!ep->o.max_queued_bytes)
		ep->o.max_queued_bytes = 64u << 20;
	ep->lh = -1;
	ep->accept_retry.idx = -1;
	ep->accept_retry.fn = on_accept_retry;
	if (ep->o.ops)
		ep->ops = ep->o.ops;
	else if (ep->o.transport == RPC_TRANSPORT_BYPASS)
		ep->ops = &rpc_bypass_ops;
	else if (ep->o.transport == RPC_TRANSPORT_BYPASS_MSG)
		ep->ops = &rpc_bypass_msg_ops;
	else
		ep->ops = &rpc_kernel_ops;
	r = ep->ops->init(&ep->t, &ep->o, err, errlen);
	if (r < 0) {
		free(ep);
		errno = -r;
		return NULL;
	}
	return ep;
}

static void reap(struct rpc_endpoint *ep)
{
	struct rpc_session *s = ep->sessions, *next;

	for (; s; s = next) {
		next = s->next;
		if (s->state != SS_CLOSED)
			continue;
		if (s->on_flush) {
			for (int i = 0; i < ep->nflush; i++)
				if (ep->flush[i] == s)
					ep->flush[i] = ep->flush[--ep->nflush];
		}
		rpc_session_free(s);
	}
}

void rpc_endpoint_destroy(struct rpc_endpoint *ep)
{
	if (!ep)
		return;
	/* workers first: their requests still point into the sessions; they
	 * read as cancelled from now, so streams end and handlers return */
	__atomic_store_n(&ep->stopping, true, __ATOMIC_RELAXED);
	rpc_workers_stop(ep);
	for (struct rpc_session *s = ep->sessions; s; s = s->next)
		rpc_session_close(s);
	rpc_run_done(ep);
	rpc_reqs_run_ended(ep);
	reap(ep);
	if (ep->lh >= 0)
		ep->ops->close(ep->t, ep->lh);
	ep->ops->fini(ep->t);
	for (unsigned i = 0; i < 256; i++) {
		if (!ep->methods[i])
			continue;
		for (unsigned j = 0; j < 256; j++)
			free(ep->methods[i][j].name);
		free(ep->methods[i]);
	}
	rpc_heap_free(&ep->timers);
	rpc_pool_drain(&ep->pool);
	free(ep->hmap);
	free(ep->flush);
	free(ep);
}

static void on_accept(struct rpc_endpoint *ep)
{
	ep->accept_more = false;
	for (int n = 0;; n++) {
		if (n == ACCEPT_BATCH) {
			/* edge-style transports report no new event for the
			 * rest: the next rpc_run() comes back for them */
			ep->accept_more = true;
			return;
		}
		int h = ep->ops->accept(ep->t, ep->lh);
		struct rpc_session *s;

		if (h == -EAGAIN)
			return;
		if (h == -ECONNABORTED || h == -EINTR || h == -EPROTO)
			continue; /* that one connection is gone: the next */
		if (h == -EMFILE || h == -ENFILE || h == -ENOBUFS || h == -ENOMEM) {
			/* the rest wait in the listener: try again once
			 * something may have been freed */
			ep->st.accept_errors++;
			if (ep->accept_retry.idx < 0)
				rpc_timer_arm(&ep->timers, &ep->accept_retry,
					      rpc_now_us() + ACCEPT_RETRY_US);
			return;
		}
		if (h < 0)
			return;	/* the listener itself failed: nothing to retry */
		s = rpc_session_new(ep, false);
		if (!s || rpc_hmap_set(ep, h, s)) {
			ep->ops->close(ep->t, h);
			if (s) {
				s->state = SS_CLOSED;
				continue;
			}
			return;
		}
		s->h = h;
		rpc_session_up(s);
		if (ep->lcb)
			rpc_session_notify(s, ep->lcb, ep->lcb_arg, RPC_SESS_ACCEPTED, 0);
		/* edge-style transports: what arrived before now is reported no more */
		rpc_session_on_event(s, RPC_TEV_IN | RPC_TEV_OUT);
	}
}

int rpc_run(struct rpc_endpoint *ep, int timeout_ms)
{
	struct rpc_tev ev[RUN_EVENTS];
	uint64_t next = rpc_timer_next(&ep->timers), now;
	int n;

	if (ep->in_cb)
		return -EDEADLK;
	if (ep->done_head || ep->nflush || ep->accept_more || ep->ended)
		timeout_ms = 0;
	if (rpc_workers_out(ep) && !ep->ops->set_wake && (timeout_ms < 0 || timeout_ms > 1))
		timeout_ms = 1;	/* no wakeup from the transport: look again soon */
	if (next != UINT64_MAX && timeout_ms != 0) {
		now = rpc_now_us();
		uint64_t wait_ms = next > now ? (next - now + 999) / 1000 : 0;

		if (timeout_ms < 0 || wait_ms < (uint64_t)timeout_ms)
			timeout_ms = (int)wait_ms;
	}
	n = ep->ops->poll(ep->t, ev, RUN_EVENTS, timeout_ms);
	if (n < 0 && n != -EINTR)
		return n;
	for (int i = 0; i < n; i++) {
		struct rpc_session *s;

		if (ev[i].h == ep->lh) {
			ep->accept_more = true; /* accepted below, after the sessions */
			continue;
		}
		if (ev[i].h == RPC_TEV_WAKE_H)
			continue;	/* collected below */
		s = ev[i].h < ep->hcap ? ep->hmap[ev[i].h] : NULL;
		if (s)
			rpc_session_on_event(s, ev[i].bits);
	}
	if (ep->accept_more && ep->lh >= 0)
		on_accept(ep);
	if (ep->w)
		rpc_workers_collect(ep);
	rpc_timer_expire(&ep->timers, rpc_now_us());
	flush_all(ep);
	rpc_run_done(ep);
	rpc_reqs_run_ended(ep);
	flush_all(ep);
	reap(ep);
	return n < 0 ? 0 : n;
}

int rpc_listen(struct rpc_endpoint *ep, const char *hostport, rpc_session_fn cb, void *arg)
{
	uint32_t ip;
	uint16_t port;
	int h;

	if (ep->lh >= 0)
		return -EBUSY;
	if (rpc_parse_hostport(hostport, &ip, &port))
		return -EINVAL;
	h = ep->ops->listen(ep->t, ip, port);
	if (h < 0)
		return h;
	ep->lh = h;
	ep->lcb = cb;
	ep->lcb_arg = arg;
	return 0;
}

int rpc_listen_port(struct rpc_endpoint *ep)
{
	return ep->lh < 0 ? -ENOTCONN : ep->ops->local_port(ep->t, ep->lh);
}

struct rpc_session *rpc_connect(struct rpc_endpoint *ep, const char *hostport,
				rpc_session_fn cb, void *arg)
{
	struct rpc_session *s;
	uint32_t ip;
	uint16_t port;

	if (rpc_parse_hostport(hostport, &ip, &port) || !ip || !port) {
		errno = EINVAL;
		return NULL;
	}
	s = rpc_session_new(ep, true);
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->ip = ip;
	s->port = port;
	s->cb = cb;
	s->cb_arg = arg;
	/* connect from the loop, so even an instant failure is a callback */
	s->state = SS_CONNECTING;
	rpc_timer_arm(&ep->timers, &s->rc, rpc_now_us());
	return s;
}

void rpc_endpoint_stats(const struct rpc_endpoint *ep, struct rpc_stats *st)
{
	*st = ep->st;
	st->stream_waits = rpc_workers_stream_waits(ep);
}
