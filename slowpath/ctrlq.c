// SPDX-License-Identifier: MIT
/*
 * ctrlq.c - an app's control queue (requests the app queues for the
 * slowpath: listen, connect, close ...) and its slowpath event queue (the
 * answers and connection events).  Both are slowpath-only; the fastpath
 * has its own doorbell and event queues in the same region.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <rte_cycles.h>

#include "sp_internal.h"

#define CTRL_PER_ROUND 256

/**
 * sp_app_post - queue an event for @app and wake it if it sleeps.  A full
 * queue sets the region's overflow flag: the app then rescans every slot.
 */
void sp_app_post(struct sp *sp, struct dp_app *app, uint16_t type, int16_t status, uint32_t slot,
		 uint32_t gen, uint32_t req_id, uint32_t aux)
{
	DP_ASSERT_SP();
	struct sp_app *sa = app->sp_priv;
	if (sa->dying)
		return;
	struct bp_event ev = { .type = type, .status = status, .slot = slot, .gen = gen,
			       .req_id = req_id, .aux = aux };
	if (bp_queue_push(&app->sp_evq, &ev)) {
		__atomic_store_n(&app->hdr->evq_overflow, 1, __ATOMIC_RELEASE);
		sp->dp->sp_counters[DPC_EVQ_OVERFLOW]++;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&app->hdr->app_sleeping, __ATOMIC_ACQUIRE)) {
		/* the daemon's own non-blocking description (wake.c); a full
		 * pipe means a wakeup is pending already */
		uint64_t one = 1;
		ssize_t r = write(app->wake_fd, &one, sizeof(one));
		(void)r;
	}
}

/* the algorithm a LISTEN/CONNECT names: NULL = default, else must exist */
static int requested_cc(const struct bp_ctrl_req *r, const struct cc_ops **out)
{
	char name[sizeof(r->cc) + 1];
	memcpy(name, r->cc, sizeof(r->cc));
	name[sizeof(r->cc)] = 0; /* app-written: never trust a terminator */
	*out = NULL;
	if (!name[0])
		return 0;
	*out = cc_find(name);
	return *out ? 0 : -EINVAL;
}

static void ctrl_request(struct sp *sp, struct dp_app *app, const struct bp_ctrl_req *r)
{
	uint32_t slot = 0;
	const struct cc_ops *cc;
	int rc;
	/* the queue of an app whose control connection ended (it exited, or
	 * the daemon ended it) is served for what lets go (closes, aborts,
	 * handoffs to its children, exec holds): what would open something
	 * would only be closed at once, and no reply is read any more (a
	 * caller still waiting sees the connection's end: ECONNRESET) */
	if (((struct sp_app *)app->sp_priv)->leave_left &&
	    (r->op == BP_CTRL_LISTEN || r->op == BP_CTRL_CONNECT || r->op == BP_CTRL_ADOPT))
		return;
	switch (r->op) {
	case BP_CTRL_LISTEN:
		rc = requested_cc(r, &cc);
		if (!rc)
			rc = sp_conn_listen(sp, app, r->ip, r->port, r->backlog, r->flags, cc, &slot);
		break;
	case BP_CTRL_CONNECT:
		rc = requested_cc(r, &cc);
		if (!rc)
			rc = sp_conn_connect(sp, app, r->ip, r->port, r->flags, cc, &slot);
		break;
	case BP_CTRL_FORKED:
		sp_handoff_forked(sp, app, (int32_t)r->pid, r->key);
		return;
	case BP_CTRL_RELEASE:
		sp_handoff_release(sp, app, r->key);
		return;
	case BP_CTRL_EXEC_HOLD:
		sp_exec_hold(sp, app, r->key, r->flags != 0);
		return;
	case BP_CTRL_ADOPT:
		rc = sp_handoff_adopt(sp, app, r->key, r->req_id, &slot);
		if (rc == 0)
			return; /* answered when the fastpath has moved it */
		if (rc == 1)
			rc = 0;
		break;
	case BP_CTRL_KEEPALIVE:
	case BP_CTRL_LINGER_RESET:
	case BP_CTRL_SHUTDOWN:
	case BP_CTRL_CLOSE:
	case BP_CTRL_ABORT:
		if (r->slot >= app->max_flows) {
			dp_app_bad_entry(app);
			sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++;
			return;
		}
		sp_conn_ctrl(sp, app, r->op, r->slot, r->gen, r->posted, r->flags);
		return;
	default:
		dp_app_bad_entry(app);
		sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++;
		rc = -EINVAL;
		break;
	}
	sp_app_post(sp, app, BP_EV_REPLY, (int16_t)rc, rc ? 0 : slot,
		    rc ? 0 : sp_slot(app, slot)->gen, r->req_id, 0);
}

/* act on at most @max of @app's queued requests; return how many */
static uint32_t drain(struct sp *sp, struct dp_app *app, uint32_t max)
{
	DP_ASSERT_SP();
	struct bp_ctrl_req r;
	uint32_t n = 0;
	for (; n < max && !bp_queue_pop(&app->ctrlq, &r); n++)
		ctrl_request(sp, app, &r);
	return n;
}

/**
 * sp_app_drain_ctrl - act on everything @app has queued (at most a queue's
 * worth: what it pushes meanwhile may follow), for a request on its
 * control socket that must come after them.
 */
void sp_app_drain_ctrl(struct sp *sp, struct dp_app *app)
{
	drain(sp, app, app->ctrlq.mask + 1);
}

/*
 * More than a round's worth is queued: the next round runs in the loop's
 * next pass (a zero-delay timer), after whatever else is due by then:
 * timers, packets, other apps.  (An event fed to the watcher itself would
 * run in this same pass, ahead of everything else: an app that keeps its
 * queue full would hold the slowpath.)
 */
static void come_back(struct sp *sp, struct sp_app *sa)
{
	if (!ev_is_active(&sa->more_w))
		ev_timer_start(sp->loop, &sa->more_w);
}

/**
 * sp_app_serve_leaving - a round of a gone app's queued requests, within
 * what is left of its one queue's worth; when none are left (or the
 * allowance is spent), the app has left (sp_app_left()).  Else the next
 * round comes in the loop's next pass.
 */
void sp_app_serve_leaving(struct sp *sp, struct dp_app *app)
{
	struct sp_app *sa = app->sp_priv;
	uint32_t max = sa->leave_left < CTRL_PER_ROUND ? sa->leave_left : CTRL_PER_ROUND;

	sa->leave_left -= drain(sp, app, max);
	if (!sa->leave_left || bp_queue_empty(&app->ctrlq)) {
		sa->leave_left = 0;
		sp_app_left(sp, app);
		return;
	}
	come_back(sp, sa);
}

/* a round of @app's requests, live or leaving */
static void serve(struct sp *sp, struct dp_app *app)
{
	struct sp_app *sa = app->sp_priv;

	sp->now = rte_rdtsc();
	if (sa->leave_left) {
		sp_app_serve_leaving(sp, app);
		return;
	}
	drain(sp, app, CTRL_PER_ROUND);
	if (!bp_queue_empty(&app->ctrlq))
		come_back(sp, sa);
}

static void on_doorbell(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dp_app *app = w->data;
	dp_kicks_take(app->sp_doorbell_fd);
	serve(((struct sp_app *)app->sp_priv)->sp, app);
}

static void on_more(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dp_app *app = w->data;
	serve(((struct sp_app *)app->sp_priv)->sp, app);
}

/** sp_app_ctrl_watch - start serving @app's control queue on its doorbell. */
void sp_app_ctrl_watch(struct sp *sp, struct dp_app *app)
{
	struct sp_app *sa = app->sp_priv;

	ev_io_init(&sa->doorbell_w, on_doorbell, app->sp_doorbell_fd, EV_READ);
	sa->doorbell_w.data = app;
	ev_io_start(sp->loop, &sa->doorbell_w);
	ev_timer_init(&sa->more_w, on_more, 0., 0.);
	sa->more_w.data = app;
}

/** sp_app_ctrl_unwatch - stop serving @app's control queue. */
void sp_app_ctrl_unwatch(struct sp *sp, struct dp_app *app)
{
	struct sp_app *sa = app->sp_priv;

	ev_io_stop(sp->loop, &sa->doorbell_w);
	ev_timer_stop(sp->loop, &sa->more_w);
}
