// SPDX-License-Identifier: MIT
/*
 * ctrl.c - control requests to the slowpath and the handle lifecycle:
 * listen, connect, accept, shutdown, close, abort.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "bp_internal.h"

int bpi_ctrl_push(struct bp_ctx *ctx, const struct bp_ctrl_req *req, int timeout_ms)
{
	uint64_t deadline = bpi_now_ms() + (uint64_t)timeout_ms;

	if (ctx->dead)
		return -ECONNRESET;
	while (bp_queue_push(&ctx->ctrlq, req)) {
		int r;

		/* The slowpath frees ctrl-queue room without telling us, so
		 * nap briefly (on the wake fd: never a spin) and look again. */
		bpi_wake_daemon(ctx->sp_db_fd);
		if (bpi_now_ms() >= deadline)
			return -ETIMEDOUT;
		r = bpi_wait_locked(ctx, 1, true);
		if (r < 0)
			return r;
	}
	/* Always ring: the slowpath sleeps in libev on this doorbell. */
	bpi_wake_daemon(ctx->sp_db_fd);
	return 0;
}

/*
 * Wait (lock held) until the slowpath has taken every request we queued,
 * or @deadline_ms (bpi_now_ms() clock) passes, or the daemon is gone.
 * Returns true when all were taken.
 */
bool bpi_ctrl_wait_taken(struct bp_ctx *ctx, uint64_t deadline_ms)
{
	while (__atomic_load_n(&ctx->ctrlq.q->tail, __ATOMIC_ACQUIRE) != ctx->ctrlq.own)
		if (ctx->dead || bpi_now_ms() >= deadline_ms || bpi_wait_locked(ctx, 1, true) < 0)
			return false;
	return true;
}

void bpi_ctrl_abort_now(struct bp_ctx *ctx, uint32_t slot, uint32_t gen)
{
	struct bp_ctrl_req req = { .op = BP_CTRL_ABORT, .slot = slot, .gen = gen };

	/* Called while draining events, where waiting for queue room could
	 * recurse; if the queue is full the daemon reclaims the slot when
	 * the app detaches. */
	if (!bp_queue_push(&ctx->ctrlq, &req))
		bpi_wake_daemon(ctx->sp_db_fd);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/*
 * The daemon mapped this new connection's buffers in (BP_FF_POPULATED):
 * map them into our page tables too, one call now instead of a page fault
 * per page while the rings first wrap.  Best effort: an old kernel just
 * faults them in as before.
 */
static void map_in_rings(struct bp_ctx *ctx, uint32_t slot)
{
	(void)madvise(bpi_rx_ring(ctx, slot), (size_t)ctx->rx_size + ctx->tx_size,
		      MADV_POPULATE_WRITE);
}

void bpi_adopt(struct bp_ctx *ctx, uint32_t slot, uint32_t gen, enum bps_kind kind)
{
	struct bp_slot *s = &ctx->slots[slot];
	struct bp_flow_shm *f = &ctx->flows[slot];

	uint8_t news = s->news; /* it may still be on the news ring */

	memset(s, 0, sizeof(*s));
	s->news = news;
	s->kind = kind;
	s->seen = 1;
	s->gen = gen;
	s->q_head = s->q_tail = s->q_next = -1;
	bpi_txarea_slot_reused(ctx, slot, gen);
	/* Counters count from the slot's allocation; the daemon zeroes them
	 * too, storing ours makes a stale value from a previous owner of
	 * the slot impossible. */
	__atomic_store_n(&f->rx_consumed, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&f->tx_written, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&f->tx_shift, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&f->accepted, 0, __ATOMIC_RELEASE);
	if (kind != BPS_LISTEN &&
	    (__atomic_load_n(&f->flags, __ATOMIC_ACQUIRE) & BP_FF_POPULATED))
		map_in_rings(ctx, slot);
}

void bpi_on_reply(struct bp_ctx *ctx, const struct bp_event *ev)
{
	for (struct bp_waiter *w = ctx->waiters; w; w = w->next) {
		if (w->req_id != ev->req_id || w->done)
			continue;
		w->ev = *ev;
		w->done = true;
		/* Adopt right here, so no rescan can mistake the slot for an
		 * accepted child before the waiter runs. */
		if (ev->status >= 0 && w->op == BP_CTRL_ADOPT)
			bpi_adopt_moved(ctx, ev->slot, ev->gen);
		else if (ev->status >= 0)
			bpi_adopt(ctx, ev->slot, ev->gen,
				  w->op == BP_CTRL_LISTEN ? BPS_LISTEN : BPS_FLOW);
		return;
	}
	/* Nobody waits any more (timed out): give the slot back, and
	 * remember it so an overflow rescan never mistakes it for a child. */
	if (ev->status >= 0 && ctx->slots[ev->slot].kind == BPS_NONE) {
		ctx->slots[ev->slot].seen = 1;
		ctx->slots[ev->slot].gen = ev->gen;
		bpi_ctrl_abort_now(ctx, ev->slot, ev->gen);
	}
}

static void fifo_append(struct bp_ctx *ctx, uint32_t listener, uint32_t child)
{
	struct bp_slot *l = &ctx->slots[listener];

	ctx->slots[child].q_next = -1;
	if (l->q_tail >= 0)
		ctx->slots[l->q_tail].q_next = (int32_t)child;
	else
		l->q_head = (int32_t)child;
	l->q_tail = (int32_t)child;
	l->q_len++;
}

void bpi_on_accept(struct bp_ctx *ctx, uint32_t listener, uint32_t child, uint32_t gen)
{
	struct bp_slot *c;

	if (listener >= ctx->max_flows || child >= ctx->max_flows || listener == child)
		return;
	c = &ctx->slots[child];
	/* Already known (found by a rescan, or accepted and closed since). */
	if (c->seen && c->gen == gen)
		return;
	if (c->kind != BPS_NONE)
		return; /* we hold that slot: a confused daemon, not a child */
	if (ctx->slots[listener].kind != BPS_LISTEN) {
		/* Raced with our close of the listener: nobody will take it. */
		bpi_ctrl_abort_now(ctx, child, gen);
		return;
	}
	bpi_adopt(ctx, child, gen, BPS_PENDING);
	fifo_append(ctx, listener, child);
}

/*
 * Children the daemon handed to @l that we have not heard of.  Bounding the
 * rescan by it keeps our `accepted` from ever exceeding `listen_pending`,
 * which the daemon uses for backlog accounting.
 */
static int32_t missing_children(struct bp_ctx *ctx, uint32_t l)
{
	uint32_t delivered = __atomic_load_n(&ctx->flows[l].listen_pending, __ATOMIC_ACQUIRE);

	return (int32_t)(delivered - ctx->slots[l].accepted - ctx->slots[l].q_len);
}

static int32_t listener_for(struct bp_ctx *ctx, uint32_t ip, uint16_t port)
{
	for (uint32_t l = 0; l < ctx->max_flows; l++) {
		struct bp_slot *s = &ctx->slots[l];

		if (s->kind != BPS_LISTEN || s->port != port)
			continue;
		if (s->ip && s->ip != ip)
			continue;
		if (missing_children(ctx, l) > 0)
			return (int32_t)l;
	}
	return -1;
}

/*
 * After an event queue overflow, ACCEPT events may be lost; everything
 * else is state we read from bp_flow_shm anyway.  A lost child is a live
 * slot we never heard of whose local address is one of our listeners',
 * counted by that listener's listen_pending but not yet by us.
 */
void bpi_rescan(struct bp_ctx *ctx)
{
	for (uint32_t i = 0; i < ctx->max_flows; i++) {
		struct bp_flow_shm *f = &ctx->flows[i];
		struct bp_slot *s = &ctx->slots[i];
		uint32_t state, gen;
		int32_t l;

		if (s->kind != BPS_NONE)
			continue;
		state = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
		if (state != BP_FS_ESTABLISHED && state != BP_FS_CLOSED)
			continue;
		gen = __atomic_load_n(&f->gen, __ATOMIC_RELAXED);
		if (s->seen && s->gen == gen)
			continue;
		l = listener_for(ctx, f->local_ip, f->local_port);
		if (l < 0)
			continue;
		bpi_adopt(ctx, i, gen, BPS_PENDING);
		fifo_append(ctx, (uint32_t)l, i);
		bpi_news(ctx, (uint32_t)l);
	}
}

/* Send a LISTEN/CONNECT/ADOPT and wait for its BP_EV_REPLY. */
int bpi_ctrl_call(struct bp_ctx *ctx, struct bp_ctrl_req *req, struct bp_event *reply)
{
	return bpi_ctrl_call_fd(ctx, req, reply, -1);
}

/* bpi_ctrl_call(); with @share_fd >= 0 the request goes on the control
 * socket with that descriptor attached (a shared LISTEN, listen_share.c) */
int bpi_ctrl_call_fd(struct bp_ctx *ctx, struct bp_ctrl_req *req, struct bp_event *reply,
		     int share_fd)
{
	struct bp_waiter w = { .op = req->op };
	struct bp_waiter **pp;
	uint64_t deadline;
	int r;

	if (++ctx->next_req_id == 0)
		++ctx->next_req_id;
	req->req_id = w.req_id = ctx->next_req_id;
	w.next = ctx->waiters;
	ctx->waiters = &w;

	r = share_fd >= 0 ? bpi_send_shared_listen(ctx, req, share_fd)
			  : bpi_ctrl_push(ctx, req, BP_CTRL_PUSH_TIMEOUT_MS);
	deadline = bpi_now_ms() + BP_REPLY_TIMEOUT_MS;
	while (!r && !w.done) {
		uint64_t now = bpi_now_ms();

		if (now >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		r = bpi_wait_locked(ctx, (int)(deadline - now), true);
		if (r > 0)
			r = 0;
	}
	for (pp = &ctx->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == &w) {
			*pp = w.next;
			break;
		}
	}
	if (w.done) {
		*reply = w.ev;
		return 0;
	}
	return r;
}

/* bpi_ctrl_call() under the lock for a request answered with a slot:
 * Return: the new handle, or -errno (the call's or the daemon's). */
int bpi_call_slot(struct bp_ctx *ctx, struct bp_ctrl_req *req)
{
	struct bp_event ev;
	int r;

	bpi_lock(ctx);
	r = bpi_ctrl_call(ctx, req, &ev);
	if (!r)
		r = ev.status < 0 ? ev.status : (int)ev.slot;
	bpi_unlock(ctx);
	return r;
}

/* name the algorithm in @req: @cc, else the context's default */
static int set_cc(struct bp_ctx *ctx, struct bp_ctrl_req *req, const char *cc)
{
	if (!cc) {
		memcpy(req->cc, ctx->cc, sizeof(req->cc));
		return 0;
	}
	if (strlen(cc) >= sizeof(req->cc))
		return -EINVAL;
	strncpy(req->cc, cc, sizeof(req->cc));
	return 0;
}

BP_API int bp_listen(struct bp_ctx *ctx, uint32_t ip, uint16_t port, int backlog)
{
	return bp_listen_flags(ctx, ip, port, backlog, 0);
}

BP_API int bp_listen_flags(struct bp_ctx *ctx, uint32_t ip, uint16_t port, int backlog,
			   unsigned flags)
{
	if (flags & BP_LISTEN_SHARED)
		return bp_listen_share(ctx, ip, port, backlog, -1);
	return bpi_listen(ctx, ip, port, backlog, flags, -1);
}

/* a LISTEN; @share_fd >= 0: shared, proven by that descriptor */
int bpi_listen(struct bp_ctx *ctx, uint32_t ip, uint16_t port, int backlog, unsigned flags,
	       int share_fd)
{
	struct bp_ctrl_req req = {
		.op = BP_CTRL_LISTEN, .ip = ip, .port = port,
		.backlog = backlog > 0 ? (uint32_t)backlog : 1,
		.flags = flags,
	};
	struct bp_event ev;
	struct bp_slot *s;
	int r;

	if (!ctx)
		return -EINVAL;
	set_cc(ctx, &req, NULL);
	bpi_lock(ctx);
	r = bpi_ctrl_call_fd(ctx, &req, &ev, share_fd);
	if (r)
		goto out;
	if (ev.status < 0) {
		r = ev.status;
		goto out;
	}
	s = &ctx->slots[ev.slot];
	s->ip = ip;
	/* With port 0 the daemon picked one; the slot says which. */
	s->port = __atomic_load_n(&ctx->flows[ev.slot].local_port, __ATOMIC_ACQUIRE);
	if (!s->port)
		s->port = port;
	r = (int)ev.slot;
out:
	bpi_unlock(ctx);
	return r;
}

BP_API int bp_connect(struct bp_ctx *ctx, uint32_t ip, uint16_t port)
{
	return bp_connect_cc(ctx, ip, port, NULL);
}

BP_API int bp_connect_cc(struct bp_ctx *ctx, uint32_t ip, uint16_t port, const char *cc)
{
	struct bp_ctrl_req req = { .op = BP_CTRL_CONNECT, .ip = ip, .port = port };
	int r;

	if (!ctx)
		return -EINVAL;
	r = set_cc(ctx, &req, cc);
	if (r)
		return r;
	return bpi_call_slot(ctx, &req);
}

BP_API int bp_connect_status(struct bp_ctx *ctx, int h)
{
	struct bp_slot *s;
	struct bp_flow_shm *f;
	uint32_t state, err, flags;
	int r;

	if (!ctx)
		return -EINVAL;
	bpi_lock(ctx);
	r = bpi_lookup_flow(ctx, h, -EINVAL, &s);
	if (r)
		goto out;
	f = &ctx->flows[h];
	/*
	 * The daemon sets err, then BP_FF_RESET, then the state: a reset seen
	 * while the state still says CONNECTING is already a failure.  bp_ready()
	 * reports it as BP_ERROR, so an app that polls and then asks here (the
	 * shim's SO_ERROR) must not read "still in progress", which it takes for
	 * success.
	 */
	flags = __atomic_load_n(&f->flags, __ATOMIC_ACQUIRE);
	state = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
	err = __atomic_load_n(&f->err, __ATOMIC_RELAXED);
	if (flags & BP_FF_RESET) {
		r = err ? -(int)(err & 0xfff) : -ECONNRESET;
		goto out;
	}
	switch (state) {
	case BP_FS_CONNECTING:
		r = -EINPROGRESS;
		break;
	case BP_FS_ESTABLISHED:
		r = 0;
		break;
	case BP_FS_CLOSED:
		/* err 0 means an orderly close, which implies it connected. */
		r = err ? -(int)(err & 0xfff) : 0;
		break;
	default:
		r = -ECONNABORTED;
		break;
	}
out:
	bpi_unlock(ctx);
	return r;
}

BP_API int bp_accept(struct bp_ctx *ctx, int listener)
{
	struct bp_slot *l, *c;
	int child;

	if (!ctx)
		return -EINVAL;
	bpi_lock(ctx);
	l = bpi_lookup(ctx, listener);
	if (!l || l->kind != BPS_LISTEN) {
		bpi_unlock(ctx);
		return l ? -EINVAL : -EBADF;
	}
	if (!l->q_len)
		bpi_drain(ctx);
	if (!l->q_len) {
		bpi_unlock(ctx);
		return -EAGAIN;
	}
	child = l->q_head;
	c = &ctx->slots[child];
	l->q_head = c->q_next;
	if (l->q_head < 0)
		l->q_tail = -1;
	l->q_len--;
	c->q_next = -1;
	c->kind = BPS_FLOW;
	bpi_news(ctx, (uint32_t)child); /* data may have come before the accept */
	/* Tells the daemon a backlog place is free again. */
	l->accepted++;
	__atomic_store_n(&ctx->flows[listener].accepted, l->accepted, __ATOMIC_RELEASE);
	bpi_unlock(ctx);
	return child;
}

static int simple_req(struct bp_ctx *ctx, uint16_t op, uint32_t slot, uint32_t gen)
{
	struct bp_ctrl_req req = { .op = op, .slot = slot, .gen = gen,
				   .posted = ctx->slots[slot].posts };

	return bpi_ctrl_push(ctx, &req, BP_CTRL_PUSH_TIMEOUT_MS);
}

BP_API int bp_shutdown(struct bp_ctx *ctx, int h)
{
	struct bp_slot *s;
	int r = 0;

	if (!ctx)
		return -EINVAL;
	bpi_lock(ctx);
	s = bpi_lookup(ctx, h);
	if (!s)
		r = -EBADF;
	else if (s->kind != BPS_FLOW)
		r = -ENOTCONN;
	else if (!s->shut_wr) {
		r = simple_req(ctx, BP_CTRL_SHUTDOWN, (uint32_t)h, s->gen);
		if (!r)
			s->shut_wr = 1;
	}
	bpi_unlock(ctx);
	return r;
}

/*
 * A connection's on/off option, kept by the slowpath with the connection.
 * Not on a handle a fork relative adopted away (-ESTALE): the daemon would
 * drop it unseen.
 */
static int flow_option(struct bp_ctx *ctx, int h, uint16_t op, bool on)
{
	struct bp_slot *s;
	int r;

	if (!ctx)
		return -EINVAL;
	bpi_lock(ctx);
	r = bpi_lookup_flow(ctx, h, -EOPNOTSUPP, &s);
	if (!r && (__atomic_load_n(&ctx->flows[h].flags, __ATOMIC_ACQUIRE) & BP_FF_MOVED))
		r = -ESTALE;
	if (!r) {
		struct bp_ctrl_req req = { .op = op, .slot = (uint32_t)h, .gen = s->gen,
					   .flags = on };

		r = bpi_ctrl_push(ctx, &req, BP_CTRL_PUSH_TIMEOUT_MS);
	}
	bpi_unlock(ctx);
	return r;
}

BP_API int bp_keepalive(struct bp_ctx *ctx, int h, bool on)
{
	return flow_option(ctx, h, BP_CTRL_KEEPALIVE, on);
}

BP_API int bp_linger_reset(struct bp_ctx *ctx, int h, bool on)
{
	/* the op came with control protocol 1.5: an older daemon would only
	 * count it as a bad entry, and the close would not reset */
	if (ctx && ctx->daemon_proto < (1u << 16 | 5))
		return -EOPNOTSUPP;
	return flow_option(ctx, h, BP_CTRL_LINGER_RESET, on);
}

/* CLOSE or ABORT: after this the handle is gone on our side. */
static int release(struct bp_ctx *ctx, int h, uint16_t op)
{
	struct bp_slot *s;
	int32_t child;
	int r;

	if (!ctx)
		return -EINVAL;
	bpi_lock(ctx);
	s = bpi_lookup(ctx, h);
	if (!s) {
		bpi_unlock(ctx);
		return -EBADF;
	}
	if (s->kind == BPS_FLOW && (__atomic_load_n(&ctx->flows[h].flags, __ATOMIC_ACQUIRE) &
				    BP_FF_MOVED)) {
		/* a fork relative took the flow over: we only drop our hold */
		struct bp_ctrl_req rel = { .op = BP_CTRL_RELEASE,
					   .key = ctx->flows[h].handoff_key };

		r = bpi_ctrl_push(ctx, &rel, BP_CTRL_PUSH_TIMEOUT_MS);
		if (r) {
			bpi_unlock(ctx);
			return r;
		}
		op = BP_CTRL_CLOSE;
	}
	r = simple_req(ctx, op, (uint32_t)h, s->gen);
	if (r) {
		bpi_unlock(ctx); /* not sent: the handle stays valid */
		return r;
	}
	/* Keep seen/gen: late events for this generation stay stale.  From
	 * here on, ACCEPTs naming this listener are aborted on arrival. */
	s->lingering = op == BP_CTRL_CLOSE && s->kind == BPS_FLOW;
	if (s->kind == BPS_FLOW)
		bpi_txarea_slot_closed(ctx, (uint32_t)h);
	s->kind = BPS_NONE;
	child = s->q_head;
	s->q_head = s->q_tail = -1;
	s->q_len = 0;
	/* Children nobody accepted would otherwise linger in the daemon.
	 * The push may drop the lock, so unlink each child first. */
	while (child >= 0) {
		struct bp_slot *c = &ctx->slots[child];
		struct bp_ctrl_req req = { .op = BP_CTRL_ABORT, .slot = (uint32_t)child,
					   .gen = c->gen };
		int32_t next = c->q_next;

		c->kind = BPS_NONE;
		c->q_next = -1;
		bpi_ctrl_push(ctx, &req, BP_CTRL_PUSH_TIMEOUT_MS);
		child = next;
	}
	bpi_unlock(ctx);
	return 0;
}

BP_API int bp_close(struct bp_ctx *ctx, int h)
{
	return release(ctx, h, BP_CTRL_CLOSE);
}

BP_API int bp_abort(struct bp_ctx *ctx, int h)
{
	return release(ctx, h, BP_CTRL_ABORT);
}
