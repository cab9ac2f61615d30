// SPDX-License-Identifier: MIT
/*
 * msg_tx.c - sending on RPC message sessions: frames are written into the
 * app's send area and posted to fastpathd (BP_DB_MSG_SEND) with a class;
 * the daemon moves them into the flow's tx ring best class first and
 * answers each with BP_MSG_SENT, which frees its space here.
 *
 * The area is ours to allocate (the daemon only reads it): a first-fit
 * bitmap of TXG-byte granules, and one record per buffer start saying
 * which flow (slot, generation) it was posted on.  An answer is believed
 * only if it names a buffer posted on exactly that flow; one that never
 * comes (the daemon found the message queue full as the flow went away)
 * is made up for when the slot is taken by a new flow.  All under the
 * context lock.
 *
 * The last eighth of the area is kept for the latency class, so sessions
 * filling it with bulk frames never keep a small call of anyone's from
 * being posted; a flow that found no room is noted and reported writable
 * (bp_poll()) when any buffer comes back.
 *
 * Room is promised to messages of several frames before their first one
 * (bp_msg_tx_reserve()): the receiving daemon gives a message heap space
 * from its first frame on, so an area full of frames the receiver cannot
 * take yet (its heap full of messages begun) would keep the rest of the
 * begun ones out, and both hosts would wait for good.  Unreserved frames
 * leave the promised room alone; a message begins only when the room for
 * all of it is there, or when no other is under way (one larger than the
 * area then goes alone).  The promise is per flow and class, given back
 * when the last such message ends (bp_msg_tx_unreserve()) or the flow
 * closes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bp_internal.h"

#define TXG 512u /* allocation granule: a multiple of BP_TXAREA_ALIGN */
static_assert(TXG % BP_TXAREA_ALIGN == 0, "granules start where the daemon allows");
static_assert(BP_PRIO_LATENCY == BP_MSG_PRIO_LATENCY && BP_PRIO_NORMAL == BP_MSG_PRIO_NORMAL &&
	      BP_PRIO_BULK == BP_MSG_PRIO_BULK, "public classes = ABI classes");

enum { TXB_FREE = 0, TXB_ALLOC, TXB_POSTED };

struct txrec {
	uint32_t slot, gen;
	uint32_t units;
	uint8_t state;
	uint8_t prio;
};

struct bpi_txarea {
	uint32_t nunits;
	uint32_t free_units;
	uint32_t hint;
	uint32_t *waiters;         /* slots that found no room, [max_flows] */
	uint32_t nwaiters;
	uint8_t *waiting;          /* [max_flows]: on waiters */
	uint64_t *used;            /* bitmap, one bit per granule */
	struct txrec *rec;         /* [nunits], meaningful at buffer starts */
	uint8_t (*outstanding)[BP_MSG_PRIOS]; /* [max_flows]: allocated or posted */
	uint32_t (*resv)[BP_MSG_PRIOS];       /* [max_flows]: granules promised */
	uint32_t resv_units;                  /* their sum */
};

static bool bit(const struct bpi_txarea *a, uint32_t i)
{
	return a->used[i / 64] >> (i % 64) & 1;
}

static void set_run(struct bpi_txarea *a, uint32_t i, uint32_t n, bool v)
{
	for (uint32_t k = i; k < i + n; k++) {
		if (v)
			a->used[k / 64] |= 1ull << (k % 64);
		else
			a->used[k / 64] &= ~(1ull << (k % 64));
	}
}

/* first fit from the hint, then from the start (into the hint's run, so a
 * free run across it is found too); UINT32_MAX if none */
static uint32_t find_run(const struct bpi_txarea *a, uint32_t n)
{
	for (int pass = 0; pass < 2; pass++) {
		uint32_t i = pass ? 0 : a->hint, run = 0;
		uint32_t end = !pass ? a->nunits :
			       a->hint + n - 1 < a->nunits ? a->hint + n - 1 : a->nunits;

		while (i < end) {
			if (i % 64 == 0 && a->used[i / 64] == ~0ull && i + 64 <= end) {
				run = 0;
				i += 64;
				continue;
			}
			run = bit(a, i) ? 0 : run + 1;
			i++;
			if (run == n)
				return i - n;
		}
	}
	return UINT32_MAX;
}

static struct bpi_txarea *area_get(struct bp_ctx *ctx)
{
	struct bpi_txarea *a = ctx->txarea;

	if (a || !ctx->txarea_size)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->nunits = (uint32_t)(ctx->txarea_size / TXG);
	a->free_units = a->nunits;
	a->used = calloc((a->nunits + 63) / 64, sizeof(*a->used));
	a->rec = calloc(a->nunits, sizeof(*a->rec));
	a->outstanding = calloc(ctx->max_flows, sizeof(*a->outstanding));
	a->waiters = calloc(ctx->max_flows, sizeof(*a->waiters));
	a->waiting = calloc(ctx->max_flows, 1);
	a->resv = calloc(ctx->max_flows, sizeof(*a->resv));
	if (!a->used || !a->rec || !a->outstanding || !a->waiters || !a->waiting || !a->resv) {
		bpi_txarea_free(a);
		return NULL;
	}
	ctx->txarea = a;
	return a;
}

void bpi_txarea_free(struct bpi_txarea *a)
{
	if (!a)
		return;
	free(a->used);
	free(a->rec);
	free(a->outstanding);
	free(a->waiters);
	free(a->waiting);
	free(a->resv);
	free(a);
}

/* every flow that found the area full hears of room, longest waiter first */
static void wake_waiters(struct bp_ctx *ctx, struct bpi_txarea *a)
{
	for (uint32_t k = 0; k < a->nwaiters; k++) {
		uint32_t w = a->waiters[k];

		a->waiting[w] = 0;
		bpi_news(ctx, w);
	}
	a->nwaiters = 0;
}

static void note_waiter(struct bpi_txarea *a, int h)
{
	if (!a->waiting[h]) {
		a->waiting[h] = 1;
		a->waiters[a->nwaiters++] = (uint32_t)h;
	}
}

static void release(struct bp_ctx *ctx, struct bpi_txarea *a, uint32_t i)
{
	struct txrec *r = &a->rec[i];
	uint8_t *o = &a->outstanding[r->slot][r->prio];

	if (*o)
		(*o)--;
	set_run(a, i, r->units, false);
	a->free_units += r->units;
	r->state = TXB_FREE;
	if (i < a->hint)
		a->hint = i;
	/* room again: bp_poll() reports it writable, first the flow whose
	 * frame went (its message goes on), then every flow that found the
	 * area full, longest waiter first: the news ring keeps this order,
	 * so the app retries them in it and nobody is passed over for good */
	bpi_news(ctx, r->slot);
	wake_waiters(ctx, a);
}

/* drop what @slot's messages of @prio were promised (lock held) */
static void unreserve(struct bp_ctx *ctx, struct bpi_txarea *a, uint32_t slot, unsigned prio)
{
	uint32_t *r = &a->resv[slot][prio];

	if (!*r)
		return;
	a->resv_units -= *r;
	*r = 0;
	wake_waiters(ctx, a);
}

/* may @n granules of @prio be taken, given @own granules promised to the
 * frame's own flow and class (0 for an unreserved frame)?  Never from
 * what others were promised; the latency class may also use the last
 * eighth. */
static bool area_room(const struct bpi_txarea *a, uint32_t n, unsigned prio, uint32_t own)
{
	uint64_t keep = prio == BP_MSG_PRIO_LATENCY ? 0 : a->nunits / 8;
	uint64_t others = a->resv_units - own;

	return (uint64_t)a->free_units >= n + others + (n > own ? keep : 0);
}

/* granule index of a buffer we handed out, or UINT32_MAX */
static uint32_t unit_of(const struct bp_ctx *ctx, const struct bpi_txarea *a, const void *buf)
{
	const uint8_t *base = ctx->base + ctx->txarea_off, *p = buf;

	if (!a || p < base || p >= base + (uint64_t)a->nunits * TXG || (size_t)(p - base) % TXG)
		return UINT32_MAX;
	return (uint32_t)((size_t)(p - base) / TXG);
}

BP_API void *bp_msg_tx_alloc(struct bp_ctx *ctx, int h, size_t len, unsigned prio)
{
	struct bpi_txarea *a;
	struct bp_slot *s;
	uint32_t n, i;
	void *buf = NULL;

	bool reserved = prio & BP_MSG_TX_RESERVED;

	prio &= ~BP_MSG_TX_RESERVED;
	if (!ctx || prio >= BP_MSG_PRIOS || len < 32 || len > ctx->txarea_size) {
		errno = ctx && !ctx->txarea_size ? ENOMEM : EINVAL;
		return NULL;
	}
	bpi_lock(ctx);
	s = bpi_lookup(ctx, h);
	if (!s || s->kind != BPS_FLOW) {
		errno = EBADF;
		goto out;
	}
	a = area_get(ctx);
	if (!a) {
		errno = ENOMEM;
		goto out;
	}
	n = (uint32_t)((len + TXG - 1) / TXG);
	if (a->outstanding[h][prio] >= BP_MSG_TX_DEPTH) {
		errno = ENOBUFS; /* its own frames come back: its own news */
		goto out;
	}
	/* a reserved frame may use all its flow's promise, and nobody else's */
	uint32_t *own = &a->resv[h][prio], mine = reserved ? *own : 0;

	if (!area_room(a, n, prio, mine) || (i = find_run(a, n)) == UINT32_MAX) {
		note_waiter(a, h);
		errno = ENOBUFS;
		goto out;
	}
	mine = mine < n ? mine : n;
	*own -= mine;
	a->resv_units -= mine;
	set_run(a, i, n, true);
	a->free_units -= n;
	a->hint = i + n < a->nunits ? i + n : 0;
	a->rec[i] = (struct txrec){ .slot = (uint32_t)h, .gen = s->gen, .units = n,
				    .state = TXB_ALLOC, .prio = (uint8_t)prio };
	a->outstanding[h][prio]++;
	buf = ctx->base + ctx->txarea_off + (uint64_t)i * TXG;
out:
	bpi_unlock(ctx);
	return buf;
}

BP_API int bp_msg_tx_reserve(struct bp_ctx *ctx, int h, size_t bytes, unsigned frames,
			     unsigned prio)
{
	struct bpi_txarea *a;
	struct bp_slot *s;
	int r = 0;

	if (!ctx || prio >= BP_MSG_PRIOS || !frames || bytes < (size_t)frames * 32)
		return -EINVAL;
	bpi_lock(ctx);
	s = bpi_lookup(ctx, h);
	a = s && s->kind == BPS_FLOW ? area_get(ctx) : NULL;
	if (!a) {
		r = !s || s->kind != BPS_FLOW ? -EBADF : -ENOMEM;
		goto out;
	}
	/* each frame may round up by a granule */
	uint64_t n = (bytes + TXG - 1) / TXG + frames;

	if (n > a->nunits)
		n = a->nunits; /* the rest comes as the area drains */
	if (a->resv_units && !area_room(a, (uint32_t)n, prio, 0)) {
		note_waiter(a, h);
		r = -ENOBUFS;
		goto out;
	}
	if (a->resv[h][prio] + n > a->nunits || a->resv_units + n > UINT32_MAX) {
		r = -ENOBUFS; /* more than the area, promised twice over */
		goto out;
	}
	a->resv[h][prio] += (uint32_t)n;
	a->resv_units += (uint32_t)n;
out:
	bpi_unlock(ctx);
	return r;
}

BP_API void bp_msg_tx_unreserve(struct bp_ctx *ctx, int h, unsigned prio)
{
	if (!ctx || h < 0 || (uint32_t)h >= ctx->max_flows || prio >= BP_MSG_PRIOS)
		return;
	bpi_lock(ctx);
	if (ctx->txarea)
		unreserve(ctx, ctx->txarea, (uint32_t)h, prio);
	bpi_unlock(ctx);
}

/**
 * bpi_txarea_slot_closed - the app let go of @slot (lock held): what its
 * messages were promised is free for the others.
 */
void bpi_txarea_slot_closed(struct bp_ctx *ctx, uint32_t slot)
{
	if (!ctx->txarea || slot >= ctx->max_flows)
		return;
	for (unsigned p = 0; p < BP_MSG_PRIOS; p++)
		unreserve(ctx, ctx->txarea, slot, p);
}

BP_API int bp_msg_tx_post(struct bp_ctx *ctx, int h, void *buf)
{
	struct bpi_txarea *a;
	struct bp_slot *s;
	uint32_t i;
	int r = -EINVAL;

	if (!ctx)
		return -EINVAL;
	bpi_lock(ctx);
	a = ctx->txarea;
	i = unit_of(ctx, a, buf);
	s = bpi_lookup(ctx, h);
	if (i == UINT32_MAX || a->rec[i].state != TXB_ALLOC || a->rec[i].slot != (uint32_t)h)
		goto out;
	if (!s || s->kind != BPS_FLOW || s->gen != a->rec[i].gen) {
		r = -EBADF;
		goto out;
	}
	struct bp_doorbell db = {
		.op = BP_DB_MSG_SEND, .prio = a->rec[i].prio, .slot = (uint32_t)h, .gen = s->gen,
		.area_off = (uint32_t)((uint64_t)i * TXG / BP_TXAREA_ALIGN),
	};
	unsigned out = 0;

	for (int p = 0; p < BP_MSG_PRIOS; p++)
		out += a->outstanding[h][p];
	/*
	 * While posts are unanswered they all go to one queue, whatever the
	 * flow's core hint says meanwhile: a post that reaches the wrong core
	 * is forwarded, and one sent straight to the new core could overtake
	 * it, swapping two frames of one class.  Once all are answered, the
	 * owner has seen them all: follow the hint again.
	 */
	if (out <= 1 || !s->post_q) /* 1: this buffer's own allocation */
		s->post_q = __atomic_load_n(&ctx->flows[h].fp_queue, __ATOMIC_RELAXED) %
			    ctx->nqueues + 1;
	uint32_t k = s->post_q - 1;

	a->rec[i].state = TXB_POSTED;
	s->msg_tx = 1;
	r = bpi_push_doorbell_to(ctx, k, &db);
	if (!r)
		s->posts++;
	else if (a->rec[i].state == TXB_POSTED && a->rec[i].slot == (uint32_t)h &&
		 a->rec[i].gen == db.gen)
		a->rec[i].state = TXB_ALLOC; /* still the app's: it may cancel (the
					      * wait may have let the slot go) */
out:
	bpi_unlock(ctx);
	return r;
}

BP_API void bp_msg_tx_cancel(struct bp_ctx *ctx, void *buf)
{
	uint32_t i;

	if (!ctx)
		return;
	bpi_lock(ctx);
	i = unit_of(ctx, ctx->txarea, buf);
	if (i != UINT32_MAX && ctx->txarea->rec[i].state == TXB_ALLOC)
		release(ctx, ctx->txarea, i);
	bpi_unlock(ctx);
}

/**
 * bpi_msg_sent - BP_MSG_SENT from the daemon (lock held): free the buffer
 * if it is one we posted on that very flow; anything else is stale or
 * forged and changes nothing.
 */
void bpi_msg_sent(struct bp_ctx *ctx, const struct bp_msg_desc *d)
{
	struct bpi_txarea *a = ctx->txarea;
	uint64_t off = d->heap_off;
	uint32_t i;

	if (!a || off % TXG || off / TXG >= a->nunits) {
		ctx->bad_msgs++;
		return;
	}
	i = (uint32_t)(off / TXG);
	if (a->rec[i].state != TXB_POSTED || a->rec[i].slot != d->slot || a->rec[i].gen != d->gen) {
		ctx->bad_msgs++;
		return;
	}
	if (d->status)
		ctx->tx_dropped++;
	release(ctx, a, i);
}

/**
 * bpi_txarea_slot_reused - slot @slot now names a new flow (lock held):
 * every buffer posted on its previous flows is free, since the daemon
 * let go of a flow before its slot is handed out again.
 */
void bpi_txarea_slot_reused(struct bp_ctx *ctx, uint32_t slot, uint32_t gen)
{
	struct bpi_txarea *a = ctx->txarea;

	if (!a || slot >= ctx->max_flows)
		return;
	bpi_txarea_slot_closed(ctx, slot);
	unsigned left = 0;

	for (int p = 0; p < BP_MSG_PRIOS; p++)
		left += a->outstanding[slot][p];
	for (uint32_t i = 0; left && i < a->nunits; i++) {
		struct txrec *r = &a->rec[i];

		if (r->state == TXB_POSTED && r->slot == slot && r->gen != gen) {
			release(ctx, a, i);
			left--;
		}
	}
}

/* may @slot post another frame in some class? (lock held) */
bool bpi_txarea_writable(struct bp_ctx *ctx, uint32_t slot)
{
	struct bpi_txarea *a = ctx->txarea;

	if (!a || slot >= ctx->max_flows || !a->free_units)
		return false; /* area full: a->waiters hears of the next release */
	for (int p = 0; p < BP_MSG_PRIOS; p++)
		if (a->outstanding[slot][p] < BP_MSG_TX_DEPTH)
			return true;
	return false;
}

BP_API unsigned bp_msg_tx_inflight(struct bp_ctx *ctx, int h)
{
	unsigned n = 0;

	if (!ctx || h < 0 || (uint32_t)h >= ctx->max_flows)
		return 0;
	bpi_lock(ctx);
	if (ctx->txarea)
		for (int p = 0; p < BP_MSG_PRIOS; p++)
			n += ctx->txarea->outstanding[h][p];
	bpi_unlock(ctx);
	return n;
}
