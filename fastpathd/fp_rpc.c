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
 */
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
	g->fp->cnt[DPC_RPC_MSGS]++;
	g->pushed = true;
	return 0;
}

static struct dp_rpc_stat *stat_slot(struct dp_rpc_stat *t, uint16_t tenant, uint32_t method)
{
	uint32_t h = ((uint32_t)tenant * 2654435761u) ^ (method * 40503u);

	for (uint32_t n = 0; n < DP_RPC_STATS; n++) {
		struct dp_rpc_stat *s = &t[(h + n) % DP_RPC_STATS];

		if (!s->used) {
			s->tenant = tenant;
			s->method = method;
			__atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
			return s;
		}
		if (s->tenant == tenant && s->method == method)
			return s;
	}
	return NULL;
}

/**
 * fp_rpc_count - count one REQUEST or RESPONSE of @tenant in core table
 * @t.  A full table counts the call under the tenant's "other" entry, or
 * entry 0 when even that finds no room (bypassctl shows it as other).
 */
void fp_rpc_count(struct dp_rpc_stat *t, uint16_t tenant, const struct rpc_frame_hdr *h)
{
	struct dp_rpc_stat *s = stat_slot(t, tenant, h->method);

	if (!s)
		s = stat_slot(t, tenant, DP_RPC_OTHER);
	if (!s)
		s = &t[0];
	uint64_t *c = h->type == RPC_FT_REQUEST ? &s->calls :
		      h->status == 0 ? &s->resp_ok : &s->resp_err;
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

static void glue_count(void *arg, const struct rpc_frame_hdr *h)
{
	struct rpc_glue *g = arg;

	fp_rpc_count(g->fp->self->rpc_stats, g->tenant, h);
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
	for (uint32_t i = 0; i < fp->nqfull; i++) {
		if (fp->qfull[i] == app) {
			qfull_remove(fp, i);
			return;
		}
	}
}

static void stall(struct fp_ctx *fp, struct fp_flow *f, struct rpc_glue *g)
{
	if (g->full)
		qfull_add(fp, g->app);
	fp->cnt[DPC_RPC_STALLS]++;
	if (f->flags & FPF_RPC_STALL)
		return;
	f->flags |= FPF_RPC_STALL;
	fp->rpc_stalled[fp->nrpc_stalled++] = f->flow_id;
}

/**
 * fp_rpc_rx - take what the framer can of @f's rx ring.  Called when
 * in-order bytes (or the FIN) arrived, and for stalled flows when the app
 * gave room back.  A protocol error resets the flow (WIRE.md: a receiver
 * closes), after telling the app with BP_MSG_ERROR.
 * Return: true if the consumed position moved (the window opened).
 */
bool fp_rpc_rx(struct fp_ctx *fp, struct fp_flow *f)
{
	if (!(f->flags & FPF_RPC) || !f->rpc || (f->flags & (FPF_DETACHED | FPF_RESET)))
		return false;
	struct dp_app *app = &fp->dp->apps[f->app_id];
	struct rpc_glue g = { .fp = fp, .app = app, .tenant = f->tenant };
	struct rpc_rx_env env = {
		.ring = f->rx_base, .ring_size = f->rx_size,
		.pos = f->rx_consumed, .end = f->rx_pos,
		.heap = &app->heap[fp->core], .heap_base = app->base + app->heap_off,
		.heap_size = app->heap_size, .push = glue_push, .count = glue_count,
		.arg = &g, .slot = f->slot, .gen = f->gen, .core = (uint16_t)fp->core,
	};
	int v = rpc_rx_scan(f->rpc, &env);
	bool opened = env.pos != f->rx_consumed;

	f->rx_consumed = env.pos;
	if (v == RPC_RX_ERROR) {
		fp->cnt[DPC_RPC_PROTO_ERR]++;
		rpc_rx_eof(f->rpc, &env); /* BP_MSG_ERROR; lost if the queue is full */
		tcp_rx_abort(fp, f);
	} else if (v == RPC_RX_STALL) {
		stall(fp, f, &g);
	} else if ((f->flags & FPF_RX_FIN) && f->rx_consumed == f->rx_pos &&
		   rpc_rx_eof(f->rpc, &env)) {
		stall(fp, f, &g);
	}
	if (g.pushed)
		fp_app_kick_later(fp, app);
	return opened;
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
		app->bad_entries++;
		fp->cnt[DPC_RPC_BAD_RETURN]++;
		return;
	}
	fp->rpc_room = true;
}

/**
 * fp_rpc_poll - once a round while flows are stalled: give them another go
 * if room came back (a buffer was returned, or a full message queue was
 * drained).  Otherwise nothing: fp_apps_have_work() lets the core sleep,
 * and the app's doorbell or drain kick wakes it.
 */
void fp_rpc_poll(struct fp_ctx *fp)
{
	bool room = fp->rpc_room;

	for (uint32_t i = fp->nqfull; i-- > 0;) {
		if (!bp_queue_full(&fp->qfull[i]->msgq[fp->core])) {
			qfull_remove(fp, i);
			room = true;
		}
	}
	if (!room)
		return;
	fp->rpc_room = false;
	for (uint32_t i = fp->nrpc_stalled; i-- > 0;) {
		struct fp_flow *f = &fp->dp->flows[fp->rpc_stalled[i]];

		f->flags &= ~FPF_RPC_STALL;
		fp->rpc_stalled[i] = fp->rpc_stalled[--fp->nrpc_stalled];
		if (!(f->flags & FPF_ACTIVE) || !fp_owns(fp, f))
			continue;
		if (fp_rpc_rx(fp, f))
			tcp_window_update(fp, f);
	}
}

static void stall_remove(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & FPF_RPC_STALL) {
		for (uint32_t i = 0; i < fp->nrpc_stalled; i++) {
			if (fp->rpc_stalled[i] == f->flow_id) {
				fp->rpc_stalled[i] = fp->rpc_stalled[--fp->nrpc_stalled];
				break;
			}
		}
		f->flags &= ~FPF_RPC_STALL;
	}
}

/** fp_rpc_flow_gone - @f is being deleted: off the stall list, buffers back. */
void fp_rpc_flow_gone(struct fp_ctx *fp, struct fp_flow *f)
{
	stall_remove(fp, f);
	fp->rpc_room = true; /* its runs may have come back */
	if (f->rpc && f->app_id < fp->dp->max_apps)
		rpc_rx_release(f->rpc, &fp->dp->apps[f->app_id].heap[fp->core],
			       (uint16_t)fp->core);
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
	struct dp_app *app = &fp->dp->apps[f->app_id];

	rpc_rx_carry(f->rpc, &app->heap[fp->core], (uint16_t)fp->core,
		     app->base + app->heap_off);
	fp->rpc_room = true;
}
