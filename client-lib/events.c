// SPDX-License-Identifier: MIT
/*
 * events.c - draining the daemon's event queues and sleeping on the wake
 * pipe without losing a wakeup.
 *
 * The sleep protocol pairs with the daemon's: we publish app_sleeping = 1,
 * issue a full fence and look at the queues once more; the daemon pushes
 * an event, issues a full fence and reads app_sleeping.  One of the two
 * always sees the other, so an event is either found by our re-check or
 * followed by a write to the wake pipe.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bp_internal.h"

/* Re-check rounds while arming; events still arriving after that were
 * published while app_sleeping was set, so they come with a kick. */
#define BP_ARM_ROUNDS 4
/* collect_news() fetches the state of the handle this far ahead */
#define NEWS_PREFETCH_AHEAD 2

/* wake our own wake pipe (a thread sleeping in bp_wait()) */
void bpi_kick(int efd)
{
	uint64_t one = 1;
	ssize_t r;

	do {
		r = write(efd, &one, sizeof(one));
	} while (r < 0 && errno == EINTR);
}

/*
 * Wake the daemon: the slowpath's doorbell or a fastpath core's kick
 * socket.  A full queue (EAGAIN) means a wakeup is pending; a daemon that
 * died gives ECONNREFUSED, never SIGPIPE (slowpath/wake.c), and the
 * control socket's end tells us the rest.
 */
void bpi_wake_daemon(int sock)
{
	uint64_t one = 1;
	ssize_t r;

	do {
		r = send(sock, &one, sizeof(one), MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (r < 0 && errno == EINTR);
}

uint64_t bpi_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void handle_event(struct bp_ctx *ctx, const struct bp_event *ev)
{
	if (ev->slot >= ctx->max_flows)
		return;
	switch (ev->type) {
	case BP_EV_REPLY:
		bpi_on_reply(ctx, ev);
		break;
	case BP_EV_ACCEPT:
		bpi_on_accept(ctx, ev->aux, ev->slot, ev->gen);
		bpi_news(ctx, ev->aux);
		break;
	default:
		/*
		 * RX/TX/CONNECTED/CLOSED/FREED only say "look at this slot";
		 * bp_ready() and friends read the state from bp_flow_shm, so
		 * noting the slot for bp_poll() is all there is to do.
		 */
		bpi_news(ctx, ev->slot);
		break;
	}
}

/* Events were lost: every handle may have news. */
static void all_news(struct bp_ctx *ctx)
{
	for (uint32_t i = 0; i < ctx->max_flows; i++)
		if (bpi_lookup(ctx, (int)i))
			bpi_news(ctx, i);
}

static bool events_pending(struct bp_ctx *ctx)
{
	if (!bp_queue_empty(&ctx->sp_evq))
		return true;
	for (uint32_t k = 0; k < ctx->nqueues; k++)
		if (!bp_queue_empty(&ctx->fp_evq[k]) || !bp_queue_empty(&ctx->msgq[k]))
			return true; /* messages are bp_msg_poll()'s: never sleep on them */
	return __atomic_load_n(&ctx->hdr->evq_overflow, __ATOMIC_ACQUIRE);
}

int bpi_drain(struct bp_ctx *ctx)
{
	/* Bounded so a daemon that keeps posting cannot trap us here. */
	uint64_t budget = (uint64_t)ctx->sp_evq.mask + 1;
	struct bp_event ev;
	int n = 0;

	for (uint32_t k = 0; k < ctx->nqueues; k++)
		budget += (uint64_t)ctx->fp_evq[k].mask + 1;
	/* Slowpath events first: a connection's ACCEPT or CONNECTED must be
	 * seen before its data events, which the fastpath posts later. */
	while (budget && !bp_queue_pop(&ctx->sp_evq, &ev)) {
		handle_event(ctx, &ev);
		budget--;
		n++;
	}
	for (uint32_t k = 0; k < ctx->nqueues; k++) {
		while (budget && !bp_queue_pop(&ctx->fp_evq[k], &ev)) {
			handle_event(ctx, &ev);
			budget--;
			n++;
		}
	}
	/* The daemon posts no second event for a flow whose last one is
	 * still unread (fastpathd/fp_apps.c): the tails just published must
	 * be visible before we read the flows' state, or news it skipped
	 * could be missed by both sides. */
	if (n)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* Only after draining: a rescan must see the replies and accepts
	 * that did make it into the queues, so it adopts nothing twice. */
	if (__atomic_load_n(&ctx->hdr->evq_overflow, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&ctx->hdr->evq_overflow, 0, __ATOMIC_SEQ_CST);
		bpi_rescan(ctx);
		all_news(ctx);
		n++;
	}
	ctx->unreported += n;
	/* What we just consumed may be what the poll()ing thread waits for,
	 * and its kick may be gone with it: wake it to look again. */
	if (n && ctx->polling)
		bpi_kick(ctx->wake_fd);
	return n;
}

/*
 * Empty the wake pipe (slowpath/wake.c); a kick that lands after it costs at
 * most one spurious wakeup, never a lost one, because every wait drains the
 * queues before it sleeps.  (An eventfd, as a test's fake daemon passes,
 * empties on the first read.)
 */
static void reset_wake(struct bp_ctx *ctx)
{
	char buf[256];

	while (read(ctx->wake_fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf))
		;
}

/* Publish app_sleeping and catch whatever was posted before the daemon
 * could see it.  Returns events handled meanwhile. */
static int arm(struct bp_ctx *ctx)
{
	int n = 0;

	for (int i = 0; i < BP_ARM_ROUNDS; i++) {
		__atomic_store_n(&ctx->hdr->app_sleeping, 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!events_pending(ctx))
			break;
		n += bpi_drain(ctx);
	}
	return n;
}

/* Drain whatever the control socket says; only EOF or an error matters. */
static void check_socket(struct bp_ctx *ctx)
{
	char buf[256];
	ssize_t r;

	for (;;) {
		r = recv(ctx->sock_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0)
			continue; /* nothing is expected after attach: ignore */
		if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			ctx->dead = true;
		if (r < 0 && errno == EINTR)
			continue;
		return;
	}
}

static int timedwait_follower(struct bp_ctx *ctx, int timeout_ms)
{
	uint64_t epoch = ctx->wake_epoch;
	struct timespec ts;

	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
	}
	/* the lock is free while we wait: a signal handler's own bp_* call
	 * on this thread may take it and overwrite the saved cancel state */
	int caller_state = bpi_cancel_state;

	while (epoch == ctx->wake_epoch && ctx->polling) {
		int r = timeout_ms < 0 ? pthread_cond_wait(&ctx->cond, &ctx->lock)
				       : pthread_cond_timedwait(&ctx->cond, &ctx->lock, &ts);
		if (r == ETIMEDOUT)
			break;
	}
	bpi_cancel_state = caller_state;
	return epoch != ctx->wake_epoch;
}

/* the caller's cancel state while it holds the context lock (bpi_lock()) */
__thread int bpi_cancel_state;

/* the leader was cancelled in poll(): someone else must lead from now on,
 * and the kick its wait may have taken goes back to the wake fd */
static void leader_cancelled(struct bp_ctx **ctxp)
{
	struct bp_ctx *ctx = *ctxp;

	if (!ctx)
		return;
	bpi_lock(ctx);
	ctx->polling = false;
	ctx->wake_epoch++;
	pthread_cond_broadcast(&ctx->cond);
	bpi_unlock(ctx);
	bpi_kick(ctx->wake_fd);
}

/*
 * The one thread that sleeps in poll() (the "leader"); everyone else waits
 * on ctx->cond and is woken when the leader has drained the queues.
 * @cancellable: an app's own wait (bp_wait, bp_poll): its poll() is the
 * one place a thread may be cancelled in libbypass.  Internal waits (a
 * control call's reply, whose waiter lives on this stack) never are.
 */
static int leader_sleep(struct bp_ctx *ctx, int timeout_ms, int *poll_err, bool cancellable)
{
	struct pollfd p[2] = {
		{ .fd = ctx->wake_fd, .events = POLLIN },
		{ .fd = ctx->sock_fd, .events = POLLRDHUP },
	};
	int r, caller_state = bpi_cancel_state;

	ctx->polling = true;
	pthread_mutex_unlock(&ctx->lock); /* cancellation stays off ... */
	{
		struct bp_ctx *leading __attribute__((cleanup(leader_cancelled))) = ctx;

		if (cancellable) /* ... but where the app's setting allows it */
			pthread_setcancelstate(caller_state, NULL);
		r = poll(p, 2, timeout_ms);
		*poll_err = r < 0 ? errno : 0;
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		leading = NULL;
	}
	pthread_mutex_lock(&ctx->lock);
	bpi_cancel_state = caller_state; /* a signal handler's bp_* call may have
					  * overwritten it meanwhile */
	ctx->polling = false;
	if (r > 0 && p[1].revents)
		check_socket(ctx);
	ctx->wake_epoch++;
	pthread_cond_broadcast(&ctx->cond);
	return r > 0 && (p[0].revents & POLLIN);
}

int bpi_wait_locked(struct bp_ctx *ctx, int timeout_ms, bool internal)
{
	int n, woke = 0, poll_err = 0;

	if (ctx->dead)
		return -ECONNRESET;
	if (!internal)
		ctx->armed = timeout_ms == 0;

	n = bpi_drain(ctx);
	if (timeout_ms == 0) {
		/*
		 * bp_wait_fd() mode: leave app_sleeping set so that the next
		 * event makes the fd readable while the app sits in its own
		 * poll().  The fd is reset before arming, never after, or a
		 * kick for an event we did not see could be swallowed.  If
		 * another thread sleeps on the fd, it owns both.
		 */
		if (!ctx->polling) {
			reset_wake(ctx);
			n += arm(ctx);
		}
		ctx->wake_clean = false; /* app_sleeping stays set: kicks come */
		goto out;
	}
	if (n || (!internal && ctx->unreported))
		goto out;

	if (ctx->polling) {
		woke = timedwait_follower(ctx, timeout_ms);
		n = bpi_drain(ctx);
		goto out;
	}

	/* The reset after the last sleep already emptied the fd (a syscall
	 * per wait saved), unless kicks may have come since. */
	if (!ctx->wake_clean)
		reset_wake(ctx);
	ctx->wake_clean = false;
	n = arm(ctx);
	if (!n)
		woke = leader_sleep(ctx, timeout_ms, &poll_err, !internal);
	if (ctx->armed) {
		reset_wake(ctx);
		/* An internal wait may have swallowed kicks meant for the
		 * app's own poll(): hand it one back. */
		bpi_kick(ctx->wake_fd);
	} else {
		/* Clear the flag first: a daemon that sees it clear no longer
		 * kicks, so the fd stays empty after this reset (bar a kick
		 * already under way: one spurious wakeup). */
		__atomic_store_n(&ctx->hdr->app_sleeping, 0, __ATOMIC_SEQ_CST);
		if (!n)
			reset_wake(ctx);
		ctx->wake_clean = !n;
	}
	n += bpi_drain(ctx);
	if (ctx->dead)
		return -ECONNRESET;
	if (poll_err == EINTR && !internal && !n)
		return -EINTR;
	if (poll_err && poll_err != EINTR)
		return -poll_err;
out:
	if (internal)
		return n || woke;
	woke = woke || n || ctx->unreported;
	ctx->unreported = 0;
	return woke ? 1 : 0;
}

BP_API int bp_wait(struct bp_ctx *ctx, int timeout_ms)
{
	int r;

	if (!ctx)
		return -EINVAL;
	bpi_lock(ctx);
	r = bpi_wait_locked(ctx, timeout_ms < 0 ? -1 : timeout_ms, false);
	bpi_unlock(ctx);
	return r;
}

BP_API int bp_wait_fd(const struct bp_ctx *ctx)
{
	return ctx ? ctx->wake_fd : -EINVAL;
}

/*
 * The app reads and answers the handles bp_poll() reports right after it
 * returns: fetch the ring lines it will copy from and to.  With thousands
 * of connections they are not in the cache, and a miss on each was most of
 * the copies' cost.  A prefetch never faults, so a stale position is
 * harmless.
 */
static void prefetch_rings(const struct bp_ctx *ctx, uint32_t i, unsigned int m)
{
	const struct bp_slot *s = &ctx->slots[i];
	const struct bp_flow_shm *f = &ctx->flows[i];

	if (m & BP_READABLE)
		__builtin_prefetch(bpi_rx_ring(ctx, i) +
				   bp_ring_off(s->rx_consumed,
					       __atomic_load_n(&f->rx_shift, __ATOMIC_RELAXED),
					       ctx->rx_size));
	if (m & BP_WRITABLE) {
		const uint8_t *tx = bpi_tx_ring(ctx, i);

		__builtin_prefetch(tx + bp_ring_off(s->tx_written,
						    __atomic_load_n(&f->tx_shift, __ATOMIC_RELAXED),
						    ctx->tx_size), 1);
		__builtin_prefetch(tx, 1); /* where a ring that starts over writes */
	}
}

/* Move up to @max reported handles off the news ring into @evs. */
static int collect_news(struct bp_ctx *ctx, struct bp_pollev *evs, int max)
{
	int n = 0;

	while (n < max && ctx->news_count) {
		uint32_t i = ctx->news[ctx->news_head];
		unsigned m;

		if (ctx->news_count > NEWS_PREFETCH_AHEAD) {
			uint32_t j = ctx->news[(ctx->news_head + NEWS_PREFETCH_AHEAD) %
					       ctx->max_flows];

			__builtin_prefetch(&ctx->slots[j]);
			__builtin_prefetch(&ctx->flows[j]);
		}

		ctx->news_head = (ctx->news_head + 1) % ctx->max_flows;
		ctx->news_count--;
		ctx->slots[i].news = 0;
		if (!bpi_lookup(ctx, (int)i))
			continue; /* closed by the app, or a child not yet accepted */
		m = bpi_ready_locked(ctx, (int)i);
		if (!m)
			continue;
		prefetch_rings(ctx, i, m);
		evs[n].h = (int)i;
		evs[n].ready = m;
		n++;
	}
	return n;
}

BP_API int bp_poll(struct bp_ctx *ctx, struct bp_pollev *evs, int max, int timeout_ms)
{
	uint64_t deadline = 0;
	int n, r;

	if (!ctx || !evs || max <= 0)
		return -EINVAL;
	if (timeout_ms > 0)
		deadline = bpi_now_ms() + (uint64_t)timeout_ms;
	bpi_lock(ctx);
	for (;;) {
		bpi_drain(ctx);
		n = collect_news(ctx, evs, max);
		if (n || timeout_ms == 0)
			break;
		if (ctx->dead) {
			n = -ECONNRESET;
			break;
		}
		int left = -1;
		if (timeout_ms > 0) {
			uint64_t now = bpi_now_ms();
			if (now >= deadline)
				break;
			left = (int)(deadline - now);
		}
		r = bpi_wait_locked(ctx, left, false);
		if (r < 0 && (r != -ECONNRESET || !ctx->news_count)) {
			n = r;
			break;
		}
	}
	ctx->unreported = 0;
	bpi_unlock(ctx);
	return n;
}
