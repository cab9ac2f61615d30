// SPDX-License-Identifier: MIT
/*
 * fp_rpc.c - RPC sessions on the fastpath: run the framer
 * (rpc_frame_rx.c) over a flow's rx ring, queue whole-message descriptors
 * to the app, take buffers back (BP_DB_MSG_DONE) and count calls per
 * tenant and method.
 *
 * For an RPC flow the daemon owns the consumed position of the rx ring
 * (fp_flow.rx_consumed); the app's bp_flow_shm.rx_consumed is ignored.
 * The window opens as the framer takes frames into the heap, and closes
 * when the heap or the message queue is full: the framer stops, the bytes
 * stay in the ring, and the flow waits on the core's stall list until the
 * app gives room back.  So a slow app costs at most its ring and its heap.
 *
 * A stalled flow is retried only when room may have come back, so a core
 * whose flows wait for a hung app still goes to sleep: a heap run comes
 * back by a doorbell (BP_DB_MSG_DONE, which kicks a sleeping core), and a
 * full message queue is marked in the header's msgq_full[k]: the app kicks
 * core k when it took entries from queue k while that word is set.  The
 * core sets the word, fences (fp_block()) and looks at the queue; the app
 * pops, fences and reads the word, so one of them sees the other.
 *
 * Sending (rpc_frame_tx.c): once the app posts a frame (BP_DB_MSG_SEND)
 * the daemon owns the flow's tx_written and fills the tx ring itself, best
 * class first: on the post, on every ACK, when tcp_output() has sent all
 * the ring holds, and for stalled flows when the message queue drains
 * (each finished frame is answered with BP_MSG_SENT).  It lets at most
 * RPC_TX_AHEAD unsent bytes into the ring: what is in the ring is in wire
 * order for good, so the later a frame is chosen the better a latency
 * frame posted meanwhile fares (under a tenant rate limit the whole ring
 * would be tens of milliseconds of bulk data).  A shutdown takes the
 * app's queued doorbells first and sends the FIN after the last posted
 * frame (FPF_RPC_FIN_WAIT).
 */
#include <errno.h>
#include <string.h>

#include "fastpath.h"
#include "rpc_frame_rx.h"

struct rpc_glue {
	struct fp_ctx *fp;
	struct dp_app *app;
	uint16_t tenant;
	bool pushed;
	bool full;      /* a push failed: the message queue is full */
};

static int glue_push(void *arg, const struct bp_msg_desc *d)
{
	struct rpc_glue *g = arg;

	if (bp_queue_push(&g->app->msgq[g->fp->core], d)) {
		g->full = true;
		return -1;
	}
	if (d->type != BP_MSG_SENT && !(d->flags & BP_MSGF_PART))
		g->fp->cnt[DPC_RPC_MSGS]++; /* messages delivered, not send answers or parts */
	g->pushed = true;
	return 0;
}

/* @c's entry for (@tenant, @method), or a new one if @add and there is room */
static struct dp_rpc_stat *stat_slot(struct dp_core *c, uint16_t tenant, uint32_t method,
				     bool add)
{
	uint32_t h = ((uint32_t)tenant * 2654435761u) ^ (method * 40503u);

	for (uint32_t n = 0; n < DP_RPC_STAT_PROBES; n++) {
		/* scattered probes (no clusters in a table kept full by a
		 * hostile peer); entry 0 is the last resort's (fp_rpc_count) */
		uint32_t x = (h ^ (n * 0x9e3779b9u)) * 0x85ebca6bu;
		struct dp_rpc_stat *s = &c->rpc_stats[1 + (x ^ (x >> 15)) % (DP_RPC_STATS - 1)];

		if (!s->used) {
			if (!add)
				return NULL;
			s->tenant = tenant;
			s->method = method;
			__atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
			c->rpc_stats_used++;
			return s;
		}
		if (s->tenant == tenant && s->method == method)
			return s;
	}
	return NULL;
}

/**
 * fp_rpc_count - count one REQUEST or RESPONSE of @tenant in core @c's
 * table (struct dp_rpc_stat says how it stays bounded): under its method,
 * else the tenant's "other" entry, else entry 0 (no tenant's).
 */
void fp_rpc_count(struct dp_core *c, uint16_t tenant, const struct rpc_frame_hdr *h)
{
	struct dp_rpc_stat *s;

	if (h->type == RPC_FT_RESPONSE && (h->flags & RPC_FF_STREAM))
		return; /* a part of a streamed response: its final one counts */
	if (h->type == RPC_FT_REQUEST && (h->flags & RPC_FF_REQ_CONT))
		return; /* a later message of a streamed request: its first counts */
	s = stat_slot(c, tenant, h->method, c->rpc_stats_used < DP_RPC_STAT_NAMED);
	if (!s)
		s = stat_slot(c, tenant, DP_RPC_OTHER, true);
	if (!s) {
		s = &c->rpc_stats[0];
		if (!s->used) {
			s->tenant = DP_RPC_OTHER_TENANT;
			s->method = DP_RPC_OTHER;
			__atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
		}
	}
	uint64_t *n = h->type == RPC_FT_REQUEST ? &s->calls :
		      h->status == 0 ? &s->resp_ok : &s->resp_err;
	__atomic_store_n(n, *n + 1, __ATOMIC_RELAXED);
}

static bool glue_full(void *arg)
{
	struct rpc_glue *g = arg;

	if (!bp_queue_full(&g->app->msgq[g->fp->core]))
		return false;
	g->full = true;
	return true;
}

static void glue_count(void *arg, const struct rpc_frame_hdr *h)
{
	struct rpc_glue *g = arg;

	fp_rpc_count(g->fp->self, g->tenant, h);
}

static void msgq_full_store(struct fp_ctx *fp, struct dp_app *app, uint32_t v)
{
	__atomic_store_n(&app->hdr->fp_sleeping[fp->core].msgq_full, v, __ATOMIC_RELEASE);
}

/* @app's message queue is full: note it, the app kicks us when it drains */
static void qfull_add(struct fp_ctx *fp, struct dp_app *app)
{
	struct dp_app_fp *a = &app->fp[fp->core];

	if (a->msgq_full)
		return;
	a->msgq_full = true;
	fp->qfull[fp->nqfull++] = app;
	msgq_full_store(fp, app, 1);
}

static void qfull_remove(struct fp_ctx *fp, uint32_t i)
{
	struct dp_app *app = fp->qfull[i];

	app->fp[fp->core].msgq_full = false;
	msgq_full_store(fp, app, 0);
	fp->qfull[i] = fp->qfull[--fp->nqfull];
}

/* no flow waits any more: no app need kick us when its queue drains */
static void qfull_clear(struct fp_ctx *fp)
{
	while (fp->nqfull)
		qfull_remove(fp, fp->nqfull - 1);
}

/* room came back to @app on this core (a heap run, message-queue space):
 * its stalled flows, and only its, go on at the next fp_rpc_poll() */
static void room_for(struct fp_ctx *fp, struct dp_app *app)
{
	struct dp_app_fp *a = &app->fp[fp->core];

	fp->rpc_room = true;
	if (a->rpc_room)
		return;
	a->rpc_room = true;
	fp->room_apps[fp->nroom_apps++] = app;
}

/* @f's app: the app whose heap part and message queue it waits for */
static struct dp_app *flow_app(struct fp_ctx *fp, const struct fp_flow *f)
{
	return f->app_id < fp->dp->max_apps ? &fp->dp->apps[f->app_id] : NULL;
}

/**
 * fp_rpc_has_room - may a stalled flow go on?  A heap run came back this
 * round, or a message queue marked full has room again.  Cheap: one load
 * per app whose queue was full.  Before blocking the caller has fenced
 * after the msgq_full stores (fp_block()).
 */
bool fp_rpc_has_room(struct fp_ctx *fp)
{
	if (fp->rpc_room)
		return true;
	for (uint32_t i = 0; i < fp->nqfull; i++)
		if (!bp_queue_full(&fp->qfull[i]->msgq[fp->core]))
			return true;
	return false;
}

/** fp_rpc_app_gone - @app leaves this core (DPM_APP_DEL): off the qfull list. */
void fp_rpc_app_gone(struct fp_ctx *fp, struct dp_app *app)
{
	for (uint32_t i = 0; i < fp->nroom_apps; i++) {
		if (fp->room_apps[i] == app) {
			app->fp[fp->core].rpc_room = false;
			fp->room_apps[i] = fp->room_apps[--fp->nroom_apps];
			break;
		}
	}
	for (uint32_t i = 0; i < fp->nqfull; i++) {
		if (fp->qfull[i] == app) {
			qfull_remove(fp, i);
			return;
		}
	}
}

/* the stall list is a FIFO ring of flow ids; FPF_RPC_STALL keeps a flow
 * on it once, so max_flows entries always suffice */
static uint32_t *stall_at(struct fp_ctx *fp, uint32_t i)
{
	return &fp->rpc_stalled[(fp->rpc_stall_head + i) % fp->dp->cfg.max_flows];
}

/* @f waits for room: on the stall list, retried when room comes back */
static void wait_for_room(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & FPF_RPC_STALL)
		return;
	f->flags |= FPF_RPC_STALL;
	*stall_at(fp, fp->nrpc_stalled++) = f->flow_id;
}

static void stall(struct fp_ctx *fp, struct fp_flow *f, struct rpc_glue *g)
{
	if (g->full)
		qfull_add(fp, g->app);
	fp->cnt[DPC_RPC_STALLS]++;
	wait_for_room(fp, f);
}

static bool rx_scan(struct fp_ctx *fp, struct fp_flow *f, bool break_wait)
{
	if (!(f->flags & FPF_RPC) || !f->rpc || (f->flags & (FPF_DETACHED | FPF_RESET)))
		return false;
	struct dp_app *app = &fp->dp->apps[f->app_id];
	struct rpc_glue g = { .fp = fp, .app = app, .tenant = f->tenant };
	struct rpc_rx_env env = {
		.ring = f->rx_base, .ring_size = f->rx_size, .ring_shift = f->rx_shift,
		.pos = f->rx_consumed, .end = f->rx_pos,
		.heap = &app->heap[fp->core], .heap_base = app->base + app->heap_off,
		.heap_size = app->heap_size, .msg_max = app->msg_max,
		.push = glue_push, .count = glue_count,
		.arg = &g, .slot = f->slot, .gen = f->gen, .core = (uint16_t)fp->core,
		.now = fp->now, .fin = (f->flags & FPF_RX_FIN) != 0, .break_wait = break_wait,
	};
	int v = rpc_rx_scan(f->rpc, &env);
	bool opened = env.pos != f->rx_consumed;

	f->rx_consumed = env.pos;
	if (v == RPC_RX_ERROR) {
		fp->cnt[f->rpc->error == RPC_RXE_TIMEOUT ? DPC_RPC_TIMEOUTS : DPC_RPC_PROTO_ERR]++;
		rpc_rx_eof(f->rpc, &env); /* BP_MSG_ERROR; lost if the queue is full */
		tcp_rx_abort(fp, f);
	} else {
		if (v == RPC_RX_STALL)
			stall(fp, f, &g);
		else if (v == RPC_RX_HELD)
			wait_for_room(fp, f); /* below half the heap it goes on at once */
		else if ((f->flags & FPF_RX_FIN) && f->rx_consumed == f->rx_pos &&
			 !f->rpc->eof_sent) {
			if (rpc_rx_eof(f->rpc, &env))
				stall(fp, f, &g);
			else
				room_for(fp, app); /* messages the FIN cut short gave runs back */
		}
		fp_rpc_watch_stall(fp, f, v == RPC_RX_STALL, g.full, opened);
		fp_rpc_watch(fp, f);
	}
	if (g.pushed)
		fp_app_kick_later(fp, app);
	return opened;
}

/**
 * fp_rpc_rx - take what the framer can of @f's rx ring.  Called when
 * in-order bytes (or the FIN) arrived, and for stalled flows when the app
 * gave room back.  A protocol error resets the flow (WIRE.md: a receiver
 * closes), after telling the app with BP_MSG_ERROR; so does a message not
 * whole in time (fp_rpc_watch.c).
 * Return: true if the consumed position moved (the window opened).
 */
bool fp_rpc_rx(struct fp_ctx *fp, struct fp_flow *f)
{
	return rx_scan(fp, f, false);
}

/**
 * fp_rpc_rx_unwait - fp_rpc_rx() for a flow that has waited for heap room
 * a quarter message timeout: the message that still finds none while the
 * session holds others in assembly is refused instead (rpc_rx_env.break_wait).
 */
bool fp_rpc_rx_unwait(struct fp_ctx *fp, struct fp_flow *f)
{
	return rx_scan(fp, f, true);
}

#define RPC_TX_AHEAD (64u << 10)

static void tx_env_init(struct rpc_tx_env *e, struct fp_ctx *fp, struct fp_flow *f,
			struct dp_app *app, struct rpc_glue *g)
{
	uint64_t free = f->tx_size - (f->tx_written - f->tx_acked);
	uint64_t unsent = f->tx_written > f->tx_sent ? f->tx_written - f->tx_sent : 0;
	uint64_t ahead = unsent < RPC_TX_AHEAD ? RPC_TX_AHEAD - unsent : 0;

	/* the daemon fills this ring: like an app (bp_flow_shm.tx_shift), it
	 * starts over at offset 0 once everything sent is acknowledged */
	if ((f->flags & FPF_RPC_TX) && f->tx_acked == f->tx_written)
		f->tx_shift = bp_ring_shift_to_start(f->tx_written, f->tx_size);
	*e = (struct rpc_tx_env){
		.area = app->base + app->txarea_off, .area_size = app->txarea_size,
		.ring = f->tx_base, .ring_size = f->tx_size, .ring_shift = f->tx_shift,
		.written = f->tx_written,
		.room = free < ahead ? free : ahead,
		.push = glue_push, .full = glue_full, .arg = g,
		.answers_optional = (f->flags & FPF_RPC_FIN_WAIT) != 0,
		.slot = f->slot, .gen = f->gen, .core = (uint16_t)fp->core,
	};
}

/* has the app's shutdown seen every frame it said it posted before it? */
static bool fin_posts_seen(const struct rpc_tx_flow *tf)
{
	return (int32_t)(tf->posts_seen - tf->fin_posts) >= 0;
}

/**
 * fp_rpc_tx - move posted frames into @f's tx ring while it has room.
 * Return: true if bytes went in (or the FIN may go now): the caller sends.
 */
bool fp_rpc_tx(struct fp_ctx *fp, struct fp_flow *f)
{
	if (!(f->flags & FPF_RPC_TX) || !f->rpc || (f->flags & (FPF_DETACHED | FPF_RESET)))
		return false;
	struct dp_app *app = &fp->dp->apps[f->app_id];
	struct rpc_glue g = { .fp = fp, .app = app, .tenant = f->tenant };
	struct rpc_tx_flow *tf = &f->rpc->tx;
	uint64_t frames = tf->frames, overtakes = tf->overtakes;
	struct rpc_tx_env e;

	tx_env_init(&e, fp, f, app, &g);
	int v = rpc_tx_fill(tf, &e);
	bool moved = e.written != f->tx_written;

	f->tx_written = e.written;
	fp->cnt[DPC_RPC_TX_FRAMES] += tf->frames - frames;
	fp->cnt[DPC_RPC_TX_OVERTAKES] += tf->overtakes - overtakes;
	if (v == RPC_TX_STALL) {
		stall(fp, f, &g);
	} else if (v == RPC_TX_IDLE && (f->flags & FPF_RPC_FIN_WAIT) && fin_posts_seen(tf)) {
		f->flags = (f->flags & ~FPF_RPC_FIN_WAIT) | FPF_TX_FIN_REQ;
		f->tx_fin_pos = f->tx_written;
		moved = true;
	}
	if (g.pushed)
		fp_app_kick_later(fp, app);
	return moved;
}

/**
 * fp_rpc_msg_send - BP_DB_MSG_SEND from @app for its flow @f (generation
 * checked): queue the frame at send-area offset @area_units *
 * BP_TXAREA_ALIGN in class @prio and fill the ring.  A refused post is
 * answered at once (BP_MSG_SENT with the error) so the app can reuse the
 * space: -EINVAL for a bad frame or offset (counted against the app),
 * -ENOBUFS for a full class, -EPIPE after the shutdown.
 */
void fp_rpc_msg_send(struct fp_ctx *fp, struct dp_app *app, struct fp_flow *f,
		     uint32_t area_units, unsigned prio)
{
	DP_ASSERT_FP();
	struct rpc_glue g = { .fp = fp, .app = app, .tenant = f->tenant };
	uint64_t off = (uint64_t)area_units * BP_TXAREA_ALIGN;
	struct rpc_tx_env e;
	int r;

	if (f->rpc)
		f->rpc->tx.posts_seen++;
	if (!(f->flags & FPF_RPC) || !f->rpc || !app->txarea_size)
		r = -EINVAL;
	else if ((f->flags & (FPF_DETACHED | FPF_RESET | FPF_TX_FIN_REQ)) ||
		 ((f->flags & FPF_RPC_FIN_WAIT) &&
		  (int32_t)(f->rpc->tx.posts_seen - f->rpc->tx.fin_posts) > 0))
		r = -EPIPE; /* after the FIN, or beyond what the app said it posted */
	else if (!(f->flags & FPF_RPC_TX) && fp_flow_validate_tx(fp, f))
		return; /* its byte ring was garbage: the flow is being reset */
	else
		r = 0;
	tx_env_init(&e, fp, f, app, &g);
	if (!r) {
		f->flags |= FPF_RPC_TX;
		r = rpc_tx_post(&f->rpc->tx, &e, off, prio);
	}
	if (r) {
		struct bp_msg_desc d;

		rpc_tx_answer(&d, &e, off, r);
		fp->cnt[DPC_RPC_TX_REFUSED]++;
		if (r == -EINVAL) {
			dp_app_bad_entry(app);
			fp->cnt[DPC_APP_BAD_ENTRY]++;
		}
		/* no send area: nothing to give back (nor, maybe, a queue) */
		if (app->txarea_size && !glue_full(&g))
			glue_push(&g, &d); /* else libbypass reclaims it with the slot */
		if (g.pushed)
			fp_app_kick_later(fp, app);
		return;
	}
	if (fp_rpc_tx(fp, f))
		fp_touch(fp, f, FPP_OUTPUT);
}

/**
 * fp_rpc_shutwr - @f is being shut down for writing, its app having
 * posted @posted frames before it asked: act on the doorbells the app
 * queued for this core, then say whether the FIN must wait
 * (FPF_RPC_FIN_WAIT) for frames still posted or not seen yet (a post may
 * still be on its way from another core's queue).  @app_gone: those seen
 * are all there will be (one still on its way from another core's queue
 * comes after the FIN and is refused).
 * Return: true if the FIN waits (fp_rpc_tx() sends it).
 */
bool fp_rpc_shutwr(struct fp_ctx *fp, struct fp_flow *f, uint32_t posted, bool app_gone)
{
	if (f->app_id < fp->dp->max_apps && !(f->flags & FPF_DETACHED))
		fp_app_take_all(fp, &fp->dp->apps[f->app_id]);
	if (!f->rpc)
		return false;
	f->rpc->tx.fin_posts = app_gone ? f->rpc->tx.posts_seen : posted;
	if (!rpc_tx_pending(&f->rpc->tx) && fin_posts_seen(&f->rpc->tx))
		return false;
	f->flags |= FPF_RPC_FIN_WAIT;
	return true;
}

/**
 * fp_rpc_msg_done - BP_DB_MSG_DONE from @app on this core: the app gives
 * heap buffer (@blk, @gen) of this core's part back.  Both are app-written
 * and checked by rpc_heap_return(): a buffer the app does not hold (never
 * delivered, still in assembly, returned already) is refused and counted.
 */
void fp_rpc_msg_done(struct fp_ctx *fp, struct dp_app *app, uint32_t blk, uint32_t gen)
{
	DP_ASSERT_FP();
	if (rpc_heap_return(&app->heap[fp->core], blk, gen)) {
		dp_app_bad_entry(app);
		fp->cnt[DPC_RPC_BAD_RETURN]++;
		return;
	}
	room_for(fp, app);
}

/**
 * fp_rpc_poll - once a round while flows are stalled: give them another go
 * if room came back (a buffer was returned, or a full message queue was
 * drained).  Otherwise nothing: fp_apps_have_work() lets the core sleep,
 * and the app's doorbell or drain kick wakes it.
 */
void fp_rpc_poll(struct fp_ctx *fp)
{
	for (uint32_t i = fp->nqfull; i-- > 0;) {
		struct dp_app *app = fp->qfull[i];

		if (!bp_queue_full(&app->msgq[fp->core])) {
			qfull_remove(fp, i);
			room_for(fp, app);
		}
	}
	if (!fp->rpc_room)
		return;
	fp->rpc_room = false;
	/* oldest first, each once: a flow that stalls again goes to the back,
	 * so under steady pressure (100 sessions of 1 MiB in a smaller heap)
	 * room goes round the flows instead of to the same few.  Only the
	 * flows of apps that got room back are tried: another app's return
	 * must not cost a scan of every session a hoarding app keeps stalled */
	for (uint32_t n = fp->nrpc_stalled; n > 0 && fp->nrpc_stalled; n--) {
		struct fp_flow *f = &fp->dp->flows[*stall_at(fp, 0)];
		struct dp_app *app = flow_app(fp, f);

		fp->rpc_stall_head = (fp->rpc_stall_head + 1) % fp->dp->cfg.max_flows;
		fp->nrpc_stalled--;
		if (app && !app->fp[fp->core].rpc_room) {
			*stall_at(fp, fp->nrpc_stalled++) = f->flow_id; /* to the back */
			continue;
		}
		f->flags &= ~FPF_RPC_STALL;
		if (!(f->flags & FPF_ACTIVE) || !fp_owns(fp, f))
			continue;
		if (fp_rpc_rx(fp, f))
			tcp_window_update(fp, f);
		if (fp_rpc_tx(fp, f))
			fp_touch(fp, f, FPP_OUTPUT);
	}
	for (uint32_t i = 0; i < fp->nroom_apps; i++)
		fp->room_apps[i]->fp[fp->core].rpc_room = false;
	fp->nroom_apps = 0;
	if (!fp->nrpc_stalled)
		qfull_clear(fp);
}

static void stall_remove(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & FPF_RPC_STALL) {
		/* rare (a stalled flow deleted or moved): close the gap, keeping
		 * the others' order */
		for (uint32_t i = 0; i < fp->nrpc_stalled; i++) {
			if (*stall_at(fp, i) != f->flow_id)
				continue;
			for (; i + 1 < fp->nrpc_stalled; i++)
				*stall_at(fp, i) = *stall_at(fp, i + 1);
			if (!--fp->nrpc_stalled)
				qfull_clear(fp);
			break;
		}
		f->flags &= ~FPF_RPC_STALL;
	}
}

/** fp_rpc_flow_gone - @f is being deleted: off the stall list, buffers back. */
void fp_rpc_flow_gone(struct fp_ctx *fp, struct fp_flow *f)
{
	stall_remove(fp, f);
	if (!f->rpc || f->app_id >= fp->dp->max_apps)
		return;
	struct dp_app *app = &fp->dp->apps[f->app_id];

	room_for(fp, app); /* its runs may come back */

	rpc_rx_release(f->rpc, &app->heap[fp->core], (uint16_t)fp->core);
	if ((f->flags & FPF_RPC_TX) && !(f->flags & FPF_DETACHED)) {
		struct rpc_glue g = { .fp = fp, .app = app, .tenant = f->tenant };
		struct rpc_tx_env e;

		tx_env_init(&e, fp, f, app, &g);
		rpc_tx_drop(&f->rpc->tx, &e, -ECONNRESET);
		if (g.pushed)
			fp_app_kick_later(fp, app);
	}
}

/**
 * fp_rpc_move_out - @f leaves this core (bucket move): off the stall list,
 * and its messages in assembly out of this core's heap part (copied along,
 * rpc_rx_carry()), so no run of ours stays behind for a flow we no longer
 * own.  The new core puts them into its part (fp_bucket_in()).
 */
void fp_rpc_move_out(struct fp_ctx *fp, struct fp_flow *f)
{
	stall_remove(fp, f);
	if (!f->rpc || f->app_id >= fp->dp->max_apps)
		return;
	/* our entries turn stale; the new core queues the flow again */
	f->rpc->watched = f->rpc->wait_queued = false;
	struct dp_app *app = &fp->dp->apps[f->app_id];

	rpc_rx_carry(f->rpc, &app->heap[fp->core], (uint16_t)fp->core,
		     app->base + app->heap_off);
	room_for(fp, app);
}
