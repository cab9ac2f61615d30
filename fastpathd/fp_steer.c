// SPDX-License-Identifier: MIT
/*
 * fp_steer.c - which fastpath core processes what, and moving steering
 * buckets (groups of flows) from one core to another without losing or
 * reordering anything.
 *
 * Every frame and every message about a flow belongs to the flow's bucket
 * (the low bits of its 4-tuple hash).  A core processes an item only if it
 * owns the bucket; else, if dp->steer names it, the bucket is on its way in
 * and the item waits in the park list; else it is forwarded, in order, to
 * the core dp->steer names.
 *
 * A move (fastpathd/NOTES.md, "Cores"):
 *  1. the old core sets dp->steer[b] to the new one: from then on, new
 *     items go there and wait in its park list;
 *  2. it waits for a grace period: every other core has finished the round
 *     in which it may have read the old entry (its epoch moved, or it
 *     sleeps), and nothing it routed in that round or before still waits
 *     in its deferred list for a full inbox (deferred_epoch; a core with
 *     deferred items never sleeps), so every item routed by the old entry
 *     is in our inbox (the slowpath routes what waits in its outbox only
 *     when it sends it);
 *  3. it processes its inbox and port queue up to then, sends what is
 *     queued for the port, and only then hands the flows over (BUCKET_IN);
 *  4. the new core installs them, then processes the parked items in the
 *     order they arrived.
 */
#include <string.h>
#include <rte_hash.h>
#include <rte_malloc.h>
#include <rte_spinlock.h>

#include "fastpath.h"
#include "port.h"

#define PARK_MAX_FRAMES 8192 /* beyond this, frames for moving buckets are dropped */

void fp_tx_lock(struct fp_ctx *fp)
{
	if (fp->dp->tx_shared)
		rte_spinlock_lock(&fp->dp->txq_lock[fp->txq]);
}

void fp_tx_unlock(struct fp_ctx *fp)
{
	if (fp->dp->tx_shared)
		rte_spinlock_unlock(&fp->dp->txq_lock[fp->txq]);
}

static bool is_frame(uint16_t type)
{
	return type == DPM_RX_FWD || type == DPM_RX_REINJECT;
}

static void park(struct fp_ctx *fp, const struct dp_msg *msg, uint16_t bucket)
{
	struct fp_parked *p = fp->park;
	if (is_frame(msg->type) && fp->npark_frames >= PARK_MAX_FRAMES) {
		fp->cnt[DPC_PARK_DROP]++;
		rte_pktmbuf_free(msg->ptr);
		return;
	}
	if (fp->npark == fp->park_cap) {
		uint32_t cap = fp->park_cap ? fp->park_cap * 2 : 1024;
		struct fp_parked *np = rte_realloc(p, sizeof(*np) * cap, 0);
		if (!np) { /* no memory: a frame is lost (TCP resends), a message waits */
			if (is_frame(msg->type)) {
				fp->cnt[DPC_PARK_DROP]++;
				rte_pktmbuf_free(msg->ptr);
				return;
			}
			rte_panic("fastpath core %u: out of memory parking a message\n", fp->core);
		}
		fp->park = np;
		fp->park_cap = cap;
		p = np;
	}
	p[fp->npark].msg = *msg;
	p[fp->npark].bucket = bucket;
	fp->npark++;
	__atomic_store_n(&fp->self->parked, fp->npark, __ATOMIC_RELEASE);
	if (is_frame(msg->type))
		fp->npark_frames++;
	fp->cnt[DPC_PARKED]++;
}

/**
 * fp_send_core - pass @msg on to @core, in order.  A full inbox never
 * loses it: it waits in our own deferred list, which goes first next time.
 */
void fp_send_core(struct fp_ctx *fp, uint32_t core, const struct dp_msg *msg)
{
	struct dp_msg copy = *msg;
	if (!fp->ndeferred &&
	    !rte_ring_mp_enqueue_elem(fp->dp->core[core].inbox, &copy, sizeof(copy))) {
		fp->kick_cores |= 1u << core;
		return;
	}
	if (fp->ndeferred == fp->deferred_cap) {
		uint32_t cap = fp->deferred_cap ? fp->deferred_cap * 2 : 256;
		void *n = rte_realloc(fp->deferred, sizeof(*fp->deferred) * cap, 0);
		if (!n)
			rte_panic("fastpath core %u: out of memory deferring a message\n", fp->core);
		fp->deferred = n;
		fp->deferred_cap = cap;
	}
	fp->deferred[fp->ndeferred].msg = *msg;
	fp->deferred[fp->ndeferred].core = core;
	fp->deferred[fp->ndeferred].epoch = fp->self->epoch; /* this round's */
	fp->ndeferred++;
}

/**
 * fp_steer_flush - send what waited for full inboxes, and wake the cores
 * this round sent anything to.  Return: messages still waiting.
 */
uint32_t fp_steer_flush(struct fp_ctx *fp)
{
	uint32_t i = 0;
	for (; i < fp->ndeferred; i++) {
		struct fp_deferred *d = &fp->deferred[i];
		if (rte_ring_mp_enqueue_elem(fp->dp->core[d->core].inbox, &d->msg, sizeof(d->msg)))
			break; /* keep the order: nothing overtakes it */
		fp->kick_cores |= 1u << d->core;
	}
	if (i) {
		memmove(fp->deferred, fp->deferred + i, sizeof(*fp->deferred) * (fp->ndeferred - i));
		fp->ndeferred -= i;
	}
	for (uint32_t mask = fp->kick_cores; mask; mask &= mask - 1)
		dp_kick_core(fp->dp, (uint32_t)__builtin_ctz(mask));
	fp->kick_cores = 0;
	return fp->ndeferred;
}

enum fp_route fp_route_frame(struct fp_ctx *fp, struct rte_mbuf *m, uint16_t bucket, bool from_sp)
{
	if (likely(fp->owns[bucket]))
		return FP_MINE;
	struct dp_msg msg = { .type = DPM_RX_FWD, .arg = from_sp, .ptr = m };
	uint32_t to = dp_steer(fp->dp, bucket);
	if (to == fp->core) {
		park(fp, &msg, bucket);
		return FP_PARKED;
	}
	fp->cnt[DPC_FORWARDED]++;
	fp_send_core(fp, to, &msg);
	return FP_FORWARDED;
}

enum fp_route fp_route_msg(struct fp_ctx *fp, const struct dp_msg *msg, uint16_t bucket)
{
	bucket %= DP_STEER_BUCKETS;
	if (likely(fp->owns[bucket]))
		return FP_MINE;
	uint32_t to = dp_steer(fp->dp, bucket);
	if (to == fp->core) {
		park(fp, msg, bucket);
		return FP_PARKED;
	}
	fp_send_core(fp, to, msg);
	return FP_FORWARDED;
}

/**
 * fp_bucket_out - start handing @bucket to core @to (the slowpath's
 * monitor asks).  Steps 1 and the start of 2 of the move.
 */
void fp_bucket_out(struct fp_ctx *fp, uint16_t bucket, uint16_t to)
{
	struct dataplane *dp = fp->dp;
	bucket %= DP_STEER_BUCKETS;
	if (!fp->owns[bucket] || to == fp->core || to >= dp->ncores ||
	    dp->steer[bucket] != fp->core) {
		/* stale or pointless: tell the slowpath where the bucket is */
		fp_to_sp_arg(fp, DPM_BUCKET_MOVED, dp_steer(dp, bucket), bucket, NULL);
		return;
	}
	struct fp_move_out *o = &fp->out[fp->nout++];
	o->bucket = bucket;
	o->to = to;
	__atomic_store_n(&dp->steer[bucket], (uint8_t)to, __ATOMIC_SEQ_CST);
	for (uint32_t k = 0; k < dp->ncores; k++)
		o->epoch[k] = __atomic_load_n(&dp->core[k].epoch, __ATOMIC_ACQUIRE);
	o->sp_epoch = __atomic_load_n(&dp->sp_epoch, __ATOMIC_ACQUIRE);
	fp_port_steer_changed(dp);
}

static bool grace_over(struct fp_ctx *fp, const struct fp_move_out *o)
{
	struct dataplane *dp = fp->dp;
	if (__atomic_load_n(&dp->sp_epoch, __ATOMIC_ACQUIRE) == o->sp_epoch &&
	    !__atomic_load_n(&dp->sp_sleeping, __ATOMIC_ACQUIRE))
		return false;
	for (uint32_t k = 0; k < dp->ncores; k++) {
		if (k == fp->core)
			continue;
		if (__atomic_load_n(&dp->core[k].epoch, __ATOMIC_ACQUIRE) == o->epoch[k] &&
		    !__atomic_load_n(&dp->core[k].sleeping, __ATOMIC_ACQUIRE))
			return false;
		/* (read after the epoch: published before it) */
		if (__atomic_load_n(&dp->core[k].deferred_epoch, __ATOMIC_RELAXED) <= o->epoch[k])
			return false;
	}
	return true;
}

/* step 3: everything routed here by the old entry is processed; hand over */
static void move_out(struct fp_ctx *fp, const struct fp_move_out *o)
{
	struct dataplane *dp = fp->dp;
	const void *key;
	void *data;
	uint32_t iter = 0, n = 0;

	while (rte_hash_iterate(fp->hash, &key, &data, &iter) >= 0)
		if (dp->flows[(uintptr_t)data].bucket == o->bucket)
			n++;
	struct dp_bucket_move *mv = rte_malloc("bucket_move", sizeof(*mv) + n * sizeof(uint32_t), 0);
	if (!mv)
		rte_panic("fastpath core %u: out of memory moving bucket %u\n", fp->core, o->bucket);
	mv->bucket = o->bucket;
	mv->from = (uint16_t)fp->core;
	mv->nflows = 0;
	iter = 0;
	while (rte_hash_iterate(fp->hash, &key, &data, &iter) >= 0) {
		struct fp_flow *f = &dp->flows[(uintptr_t)data];
		if (f->bucket == o->bucket && mv->nflows < n)
			mv->flows[mv->nflows++] = f->flow_id;
	}
	for (uint32_t i = 0; i < mv->nflows; i++) {
		struct fp_flow *f = &dp->flows[mv->flows[i]];
		tcp_delack_flush(fp, f); /* an owed ACK goes out from here */
		flow_table_del(fp, f);
		if (f->flags & FPF_RPC)
			fp_rpc_move_out(fp, f); /* messages in assembly go along */
		fp_flow_unlist_out(fp, f);
		f->pend = 0;
	}
	fp->self->nflows -= mv->nflows;
	fp->cnt[DPC_FLOWS_MOVED] += mv->nflows;
	fp->owns[o->bucket] = false;
	struct dp_msg msg = { .type = DPM_BUCKET_IN, .arg = o->bucket, .ptr = mv };
	fp_send_core(fp, o->to, &msg);
}

/**
 * fp_moves_poll - finish the moves whose grace period is over, oldest
 * first.  Runs when the round's flow work is done (nothing touched).
 */
void fp_moves_poll(struct fp_ctx *fp)
{
	while (fp->nout && !fp->bl_count && grace_over(fp, &fp->out[0])) {
		/* what the old entry routed here: our port queue, then our inbox */
		fp_drain_inputs(fp);
		if (fp->bl_count)
			return; /* frames of these flows wait for the port: never overtake them */
		/* what this core told the slowpath about the bucket's flows
		 * must reach it before anything their new core says */
		if (fp->nsp_backlog)
			fp_sp_backlog_flush(fp);
		if (fp->nsp_backlog)
			return;
		struct fp_move_out o = fp->out[0];
		memmove(fp->out, fp->out + 1, sizeof(*fp->out) * --fp->nout);
		move_out(fp, &o);
	}
}

/**
 * fp_bucket_in - step 4: the flows of a bucket are ours now; then whatever
 * waited for them, in arrival order.
 */
void fp_bucket_in(struct fp_ctx *fp, struct dp_bucket_move *mv)
{
	struct dataplane *dp = fp->dp;
	uint16_t b = mv->bucket;

	fp->owns[b] = true;
	for (uint32_t i = 0; i < mv->nflows; i++) {
		struct fp_flow *f = &dp->flows[mv->flows[i]];
		__atomic_store_n(&f->core, (uint16_t)fp->core, __ATOMIC_RELEASE);
		if (flow_table_add(fp, f) < 0) {
			fp_to_sp(fp, DPM_FLOW_RST_RCVD, f->flow_id, NULL);
			continue;
		}
		fp->self->nflows++;
		if (f->flags & FPF_DETACHED)
			f->shm = &fp->detached_shm; /* each core's own scratch line */
		else
			__atomic_store_n(&f->shm->fp_queue, fp->core, __ATOMIC_RELAXED);
		/* resume sending, pacing and window updates here */
		fp_touch(fp, f, FPP_OUTPUT);
		/* carried messages into our heap part, stalled ones retried */
		if ((f->flags & FPF_RPC) && fp_rpc_rx(fp, f))
			tcp_window_update(fp, f);
	}
	rte_free(mv);

	/* replay what waited for this bucket; keep the rest, in order */
	struct fp_parked *p = fp->park;
	uint32_t n = fp->npark, j = 0;
	struct fp_parked *mine = NULL;
	uint32_t nmine = 0;
	for (uint32_t i = 0; i < n; i++)
		if (p[i].bucket == b)
			nmine++;
	if (nmine) {
		mine = rte_malloc("parked", sizeof(*mine) * nmine, 0);
		if (!mine)
			rte_panic("fastpath core %u: out of memory replaying bucket %u\n", fp->core, b);
		nmine = 0;
		for (uint32_t i = 0; i < n; i++) {
			if (p[i].bucket == b) {
				mine[nmine++] = p[i];
				if (is_frame(p[i].msg.type))
					fp->npark_frames--;
			} else {
				p[j++] = p[i];
			}
		}
		fp->npark = j;
		/* a parked frame was counted when it first arrived: process it
		 * as the frame it is, not as a new forward (rx_forwarded_in) */
		for (uint32_t i = 0; i < nmine; i++) {
			struct dp_msg *m = &mine[i].msg;
			if (m->type == DPM_RX_FWD)
				fp_rx_frame(fp, m->ptr, m->arg != 0);
			else
				fp_handle_msg(fp, m);
		}
		rte_free(mine);
	}
	/* what was parked for @b is done now (held doorbells may expire) */
	__atomic_store_n(&fp->self->parked, fp->npark, __ATOMIC_RELEASE);
	fp_to_sp_arg(fp, DPM_BUCKET_MOVED, fp->core, b, NULL);
}
