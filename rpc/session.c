// SPDX-License-Identifier: MIT
/*
 * session.c - a session's life: connect, up, failure, reconnect,
 * keepalive.
 *
 * Failure is one path whatever the cause (EOF, reset, protocol error,
 * keepalive timeout): the connection closes, everything queued for it is
 * dropped, every pending call completes with UNAVAILABLE, requests being
 * served are orphaned.  A client session then reconnects after a backoff;
 * an accepted one is closed and freed.  Sessions are only freed by the
 * endpoint's reap step, after every continuation that names them has run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

static void credits_reset(struct rpc_session *s)
{
	uint64_t want = 2 * (uint64_t)s->ep->o.max_msg + (1u << 20);

	s->tx_calls = RPC_WIRE_INIT_CALLS;
	s->tx_bytes = RPC_WIRE_INIT_BYTES;
	s->rx_calls_win = RPC_WIRE_INIT_CALLS;
	s->rx_bytes_win = RPC_WIRE_INIT_BYTES;
	s->rx_calls_used = 0;
	s->rx_bytes_used = 0;
	s->grant_calls = 0;
	s->grant_bytes = 0;
	/* a window must hold a whole max_msg request plus a grant batch */
	if (want > RPC_WIRE_INIT_BYTES) {
		uint64_t extra = want - RPC_WIRE_INIT_BYTES;

		if (extra > UINT32_MAX)
			extra = UINT32_MAX;
		s->rx_bytes_win += extra;
		rpc_tx_ctl(s, RPC_FT_CREDIT, 0, 0, (uint32_t)extra, 0, RPC_TXC_LATENCY);
	}
}

static void rx_reset(struct rpc_session *s)
{
	s->rh_got = 0;
	s->rf_body = false;
	s->rf_left = 0;
	s->rf_dst = NULL;
	s->rf_call = NULL;
	s->rf_req = NULL;
}

/*
 * Keepalive: the silence after which this side PINGs.  A client PINGs
 * after about one interval (0.8 to 1.0 of it, fixed per session, so
 * thousands of sessions opened together do not ping in one wave); a
 * server only after two.  The client's PING then normally comes first and
 * counts as traffic on the server, so an idle session costs one PING/PONG
 * pair per interval instead of two, while a server still finds a silent
 * client (it PINGs too once the client's PINGs stop) and either side
 * declares the other dead after keepalive_timeout_ms of silence.  A side
 * that has not heard its peer on this connection yet waits at least
 * RPC_UNHEARD_DEAD_US, PINGing once: the server may not have accepted it
 * yet, or the client's first bytes, dropped while the connection waited
 * in a full accept queue, wait for its TCP resend (which backs off).
 */
static uint64_t ping_after_us(struct rpc_session *s)
{
	uint64_t ka = (uint64_t)s->ep->o.keepalive_ms * 1000;

	if (!s->client)
		return 2 * ka;
	/* Knuth's multiplicative hash of a per-endpoint counter: cheap,
	 * deterministic, spread evenly over [0.8, 1.0) */
	uint32_t spread = (uint32_t)(++s->ep->nsess_up * 2654435761u) >> 22; /* 0..1023 */

	return ka - ka / 5 * spread / 1024;
}

/* the silence after which @s is dead, in µs */
static uint64_t dead_after_us(const struct rpc_session *s)
{
	uint64_t dead = (uint64_t)s->ep->o.keepalive_timeout_ms * 1000;

	return !s->heard && dead < RPC_UNHEARD_DEAD_US ? RPC_UNHEARD_DEAD_US : dead;
}

static void on_keepalive(struct rpc_timer *t)
{
	struct rpc_session *s = rpc_container_of(t, struct rpc_session, ka);
	uint64_t ka = (uint64_t)s->ep->o.keepalive_ms * 1000, now = rpc_now_us(), next;

	if (s->state != SS_UP)
		return;
	if (now - s->last_rx >= dead_after_us(s)) {
		/* silence is nothing arriving, not nothing read: after this
		 * thread stalled, rpc_run() reads a bounded number of ready
		 * sessions before the timers run, and the PINGs of the rest
		 * are waiting unread.  Read them before judging. */
		rpc_session_on_event(s, RPC_TEV_IN);
		if (s->state != SS_UP)
			return;
		now = rpc_now_us();
		if (now - s->last_rx >= dead_after_us(s)) {
			rpc_session_fail(s, -ETIMEDOUT);
			return;
		}
	}
	if (now - s->last_rx >= s->ping_after) {
		/* not heard yet: one PING, answered once the peer gets to
		 * it; more would only queue up behind it */
		if ((s->heard || !s->ping_out) &&
		    rpc_tx_ctl(s, RPC_FT_PING, 0, 0, ++s->ping_token, 0, RPC_TXC_LATENCY)) {
			s->ping_out = true;
			s->ep->st.pings++;
		}
		next = now + ka;	/* still silent then: PING again */
	} else {
		/* traffic came since: look again when it would be old enough */
		next = s->last_rx + s->ping_after;
	}
	if (next > s->last_rx + dead_after_us(s))
		next = s->last_rx + dead_after_us(s);
	rpc_timer_arm(&s->ep->timers, &s->ka, next);
}

static void start_connect(struct rpc_session *s)
{
	struct rpc_endpoint *ep = s->ep;
	int h;

	if (s->started)
		ep->st.reconnects++;
	s->started = true;
	s->state = SS_CONNECTING;
	h = ep->ops->connect(ep->t, s->ip, s->port);
	if (h < 0) {
		rpc_session_fail(s, h);
		return;
	}
	s->h = h;
	if (rpc_hmap_set(ep, h, s)) {
		rpc_session_fail(s, -ENOMEM);
		return;
	}
	rpc_session_on_event(s, RPC_TEV_OUT);
}

static void on_reconnect(struct rpc_timer *t)
{
	struct rpc_session *s = rpc_container_of(t, struct rpc_session, rc);

	if (s->state == SS_IDLE || (s->state == SS_CONNECTING && s->h < 0))
		start_connect(s);
}

struct rpc_session *rpc_session_new(struct rpc_endpoint *ep, bool client)
{
	struct rpc_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ep = ep;
	s->h = -1;
	s->client = client;
	s->ka.idx = -1;
	s->ka.fn = on_keepalive;
	s->rc.idx = -1;
	s->rc.fn = on_reconnect;
	s->backoff_ms = ep->o.reconnect_min_ms;
	s->next = ep->sessions;
	if (s->next)
		s->next->prev = s;
	ep->sessions = s;
	return s;
}

/* the connection is established */
void rpc_session_up(struct rpc_session *s)
{
	struct rpc_endpoint *ep = s->ep;

	s->state = SS_UP;
	rx_reset(s);
	s->last_rx = rpc_now_us();
	s->heard = false;
	s->ping_out = false;
	s->ping_after = ping_after_us(s);
	credits_reset(s);
	rpc_timer_arm(&ep->timers, &s->ka, s->last_rx + s->ping_after);
	rpc_flush_mark(s);
	if (s->client && s->cb)
		rpc_session_notify(s, s->cb, s->cb_arg, RPC_SESS_CONNECTED, 0);
}

/**
 * rpc_session_notify - run a session callback: a callback, like a
 * continuation, may not call rpc_run() (rpc.h), and a nested run could
 * reap the session the caller is still using
 */
void rpc_session_notify(struct rpc_session *s, rpc_session_fn fn, void *arg,
			enum rpc_session_event ev, int err)
{
	s->ep->in_cb++;
	fn(s, ev, err, arg);
	s->ep->in_cb--;
}

static void teardown(struct rpc_session *s, int call_status)
{
	struct rpc_endpoint *ep = s->ep;

	if (s->h >= 0) {
		rpc_hmap_set(ep, s->h, NULL);
		ep->ops->close(ep->t, s->h);
		s->h = -1;
	}
	rpc_timer_cancel(&ep->timers, &s->ka);
	rpc_tx_drop_all(s);
	rpc_reqs_orphan(s);
	rpc_calls_fail_all(s, call_status);
	rx_reset(s);
}

/**
 * rpc_session_fail - the connection is unusable (@err says why): fail
 * what depends on it and reconnect (client) or close (accepted).
 */
void rpc_session_fail(struct rpc_session *s, int err)
{
	struct rpc_endpoint *ep = s->ep;
	bool was_up = s->state == SS_UP;

	if (s->state == SS_CLOSED)
		return;
	s->last_err = err;
	teardown(s, RPC_UNAVAILABLE);
	if (!s->client) {
		s->state = SS_CLOSED;
		if (ep->lcb)
			rpc_session_notify(s, ep->lcb, ep->lcb_arg, RPC_SESS_CLOSED, err);
		return;
	}
	s->state = SS_IDLE;
	rpc_timer_arm(&ep->timers, &s->rc, rpc_now_us() + (uint64_t)s->backoff_ms * 1000);
	s->backoff_ms = s->backoff_ms * 2 > ep->o.reconnect_max_ms ? ep->o.reconnect_max_ms
								   : s->backoff_ms * 2;
	if (s->cb)
		rpc_session_notify(s, s->cb, s->cb_arg,
				   was_up ? RPC_SESS_DISCONNECTED : RPC_SESS_FAILED, err);
}

/* the transport reported @bits for the session's handle */
void rpc_session_on_event(struct rpc_session *s, unsigned bits)
{
	struct rpc_endpoint *ep = s->ep;
	int r;

	if (s->state == SS_CONNECTING) {
		r = ep->ops->connect_status(ep->t, s->h);
		if (r == -EINPROGRESS)
			return;
		if (r < 0) {
			rpc_session_fail(s, r);
			return;
		}
		rpc_session_up(s);
		bits |= RPC_TEV_IN;
	}
	if (s->state != SS_UP)
		return;
	if (bits & (RPC_TEV_IN | RPC_TEV_ERR)) {
		r = rpc_rx(s);
		if (r < 0) {
			rpc_session_fail(s, r);
			return;
		}
	}
	r = rpc_tx_flush(s);
	if (r < 0)
		rpc_session_fail(s, r);
}

void rpc_session_close(struct rpc_session *s)
{
	struct rpc_endpoint *ep = s->ep;

	if (s->state == SS_CLOSED)
		return;
	/* what we owe the peer is best effort: one try to write it */
	if (s->state == SS_UP)
		rpc_tx_flush(s);
	teardown(s, RPC_CANCELLED);
	rpc_timer_cancel(&ep->timers, &s->rc);
	s->state = SS_CLOSED;
	if (!s->client && ep->lcb)
		rpc_session_notify(s, ep->lcb, ep->lcb_arg, RPC_SESS_CLOSED, 0);
}

/* unlink and free a closed session (endpoint reap step) */
void rpc_session_free(struct rpc_session *s)
{
	struct rpc_endpoint *ep = s->ep;

	rpc_timer_cancel(&ep->timers, &s->ka);
	rpc_timer_cancel(&ep->timers, &s->rc);
	if (s->prev)
		s->prev->next = s->next;
	else
		ep->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	rpc_calls_free(s);
	free(s);
}

bool rpc_session_connected(const struct rpc_session *s)
{
	return s->state == SS_UP;
}

void rpc_session_set_arg(struct rpc_session *s, void *arg)
{
	s->user = arg;
}

void *rpc_session_arg(const struct rpc_session *s)
{
	return s->user;
}
