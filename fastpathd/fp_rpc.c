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
 */
#include <string.h>

#include "fastpath.h"
#include "rpc_frame_rx.h"

struct rpc_glue {
	struct fp_ctx *fp;
	struct dp_app *app;
	uint16_t tenant;
	bool pushed;
};

static int glue_push(void *arg, const struct bp_msg_desc *d)
{
	struct rpc_glue *g = arg;

	if (bp_queue_push(&g->app->msgq[g->fp->core], d))
		return -1;
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

static void stall(struct fp_ctx *fp, struct fp_flow *f)
{
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
		stall(fp, f);
	} else if ((f->flags & FPF_RX_FIN) && f->rx_consumed == f->rx_pos &&
		   rpc_rx_eof(f->rpc, &env)) {
		stall(fp, f);
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
 * fp_rpc_poll - once a round: give stalled flows another go.  The heap or
 * the queue may have room again (a buffer came back, the app drained its
 * queue: the latter rings no doorbell, so a core with stalled flows keeps
 * polling instead of sleeping, see fp_apps_have_work()).
 */
void fp_rpc_poll(struct fp_ctx *fp)
{
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

/** fp_rpc_flow_gone - @f is being deleted: off the stall list, buffers back. */
void fp_rpc_flow_gone(struct fp_ctx *fp, struct fp_flow *f)
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
	if (f->rpc && f->app_id < fp->dp->max_apps)
		rpc_rx_release(f->rpc, &fp->dp->apps[f->app_id].heap[fp->core],
			       (uint16_t)fp->core);
}
