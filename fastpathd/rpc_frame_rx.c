// SPDX-License-Identifier: MIT
/*
 * rpc_frame_rx.c - the daemon's framer for RPC sessions (rpc/WIRE.md).
 *
 * It reads the rx ring at the daemon's own consumed position, never at the
 * app's: for an RPC flow the app does not read the ring.  Every check that
 * needs no state is rpc_frame_decode()'s; this file adds the ones that need
 * the messages in assembly.  All sizes come from headers the peer wrote,
 * so each is bounded before use: a message is allocated whole at its first
 * frame (meta_len + msg_len, both capped by the decoder), later bytes of it
 * are copied only while they fit what was allocated, and a peer can hold at
 * most RPC_RX_MAX_ASM chunked messages open.
 *
 * Allocating whole lets a peer reserve far more than it sends: a 32-byte
 * header can announce 8 MiB.  So once half the heap part is taken, a run
 * is taken only when the ring holds the message's bytes (or half the ring:
 * a larger message cannot wait for all of them), and fp_rpc_watch.c resets
 * a session whose message is not whole within [rpc] message_timeout_ms.
 * A peer then pays in bytes sent for what it holds beyond half the heap,
 * and holds anything for a bounded time.  Below half the heap a header is
 * taken at once, as frames queued behind it (a response the app waits for
 * before it grants the credit the peer needs to go on) must not wait for
 * bytes that may not come before them.
 */
#include <stdlib.h>
#include <string.h>

#include "ring_copy.h"
#include "rpc_frame_rx.h"

void rpc_rx_init(struct rpc_rx_flow *rf)
{
	memset(rf, 0, sizeof(*rf));
	rf->cur = -1;
	rf->pending = rf->part_pending = -1;
	rpc_tx_init(&rf->tx);
}

static void ring_read(const struct rpc_rx_env *e, uint64_t pos, uint8_t *dst, uint32_t len)
{
	ring_copy_out(dst, e->ring, e->ring_size, e->ring_shift, pos, len);
}

static int fail(struct rpc_rx_flow *rf, int why)
{
	rf->error = why;
	return RPC_RX_ERROR;
}

void rpc_rx_fail(struct rpc_rx_flow *rf, int why)
{
	fail(rf, why);
}

uint64_t rpc_rx_oldest(const struct rpc_rx_flow *rf)
{
	uint64_t oldest = UINT64_MAX;

	for (int i = 0; i < RPC_RX_MAX_ASM; i++)
		if (rf->a[i].used && !rf->a[i].skip && rf->a[i].since < oldest)
			oldest = rf->a[i].since;
	return oldest;
}

void rpc_rx_hold_clock(struct rpc_rx_flow *rf, uint64_t from, uint64_t now)
{
	for (int i = 0; i < RPC_RX_MAX_ASM; i++) {
		struct rpc_rx_asm *a = &rf->a[i];
		uint64_t start = a->since > from ? a->since : from;

		if (a->used && now > start)
			a->since += now - start;
	}
}

/* should the run of @a wait for more of its bytes? (see the top) */
static bool wait_for_bytes(const struct rpc_rx_env *e, const struct rpc_rx_asm *a)
{
	const struct rpc_heap *h = e->heap;
	uint64_t blocks = (a->need + BP_HEAP_BLOCK - 1) / BP_HEAP_BLOCK;
	uint64_t half = e->ring_size / 2;
	uint64_t want = RPC_WIRE_HDR_LEN + a->need < half ? RPC_WIRE_HDR_LEN + a->need : half;

	if (e->fin || 2 * (h->used + blocks) <= h->nblocks)
		return false;
	return e->end - e->pos < want;
}

static int find(const struct rpc_rx_flow *rf, uint32_t call_id, uint16_t dir)
{
	for (int i = 0; i < RPC_RX_MAX_ASM; i++)
		if (rf->a[i].used && rf->a[i].d.call_id == call_id &&
		    (rf->a[i].d.flags & RPC_FF_RESP_DIR) == dir)
			return i;
	return -1;
}

static int free_entry(const struct rpc_rx_flow *rf)
{
	for (int i = 0; i < RPC_RX_MAX_ASM; i++)
		if (!rf->a[i].used)
			return i;
	return -1;
}

static int free_entries(const struct rpc_rx_flow *rf)
{
	int n = 0;

	for (int i = 0; i < RPC_RX_MAX_ASM; i++)
		n += !rf->a[i].used;
	return n;
}

static void desc_init(struct bp_msg_desc *d, const struct rpc_rx_env *e,
		      const struct rpc_frame_hdr *h)
{
	*d = (struct bp_msg_desc){
		.slot = e->slot, .gen = e->gen, .type = h->type,
		.method = h->method,
		.status = h->status, .call_id = h->call_id, .deadline_us = h->deadline_us,
		.aux = h->aux, .core = e->core, .wire_bytes = RPC_WIRE_HDR_LEN + h->frame_len,
	};
	/* the direction is the type's: WIRE.md gives RESP_DIR a meaning on
	 * a CHUNK only, so on any other frame it is ignored, as rpc/rx.c does */
	if (h->type == RPC_FT_RESPONSE)
		d->flags |= RPC_FF_RESP_DIR;
	if (h->type == RPC_FT_REQUEST || h->type == RPC_FT_RESPONSE)
		d->flags |= h->flags & RPC_FF_STREAM; /* streamed response (WIRE.md) */
	if (h->type == RPC_FT_REQUEST) /* streamed request */
		d->flags |= h->flags & (RPC_FF_REQ_MORE | RPC_FF_REQ_CONT);
}

/* @a's bytes are skipped from now: the app gets its end without data and
 * answers RESOURCE_EXHAUSTED (its buffer, if any, is the caller's to drop) */
static void refuse(struct rpc_rx_asm *a)
{
	a->skip = true;
	a->d.flags |= BP_MSGF_TOO_BIG;
	a->d.meta_len = 0;
	a->d.has_buf = 0;
	a->d.heap_off = 0;
}

/* queue assembly @i's descriptor; the app holds the buffer from then on */
static int deliver(struct rpc_rx_flow *rf, struct rpc_rx_env *e, int i)
{
	struct rpc_rx_asm *a = &rf->a[i];

	if (e->push(e->arg, &a->d))
		return -1;
	if (a->d.has_buf)
		rpc_heap_give(e->heap, a->blk);
	a->used = false;
	return 0;
}

/*
 * The first frame of a message (REQUEST, RESPONSE, GOAWAY): take an entry
 * and the whole message's heap run.  Return: 0 (header taken), or a verdict.
 */
static int start_message(struct rpc_rx_flow *rf, struct rpc_rx_env *e,
			 const struct rpc_frame_hdr *h)
{
	bool more = h->type != RPC_FT_GOAWAY && (h->flags & RPC_FF_MORE);
	uint16_t dir = h->type == RPC_FT_RESPONSE ? RPC_FF_RESP_DIR : 0;
	uint64_t meta = h->meta_len, body = h->type == RPC_FT_GOAWAY ? h->frame_len : h->msg_len;
	bool holds_others = rpc_rx_oldest(rf) != UINT64_MAX;

	if (h->type != RPC_FT_GOAWAY && find(rf, h->call_id, dir) >= 0)
		return fail(rf, RPC_RXE_DUP);
	/* a frame with MORE needs a free entry left for the next single-frame
	 * message: the peer may keep RPC_RX_MAX_ASM - 1 chunked ones open */
	int i = free_entry(rf);
	if (i < 0 || (more && free_entries(rf) < 2))
		return fail(rf, RPC_RXE_TOO_MANY);
	struct rpc_rx_asm *a = &rf->a[i];
	memset(a, 0, sizeof(*a));
	desc_init(&a->d, e, h);
	a->d.meta_len = (uint32_t)meta;
	a->d.body_len = (uint32_t)body;
	a->need = meta + body;
	a->meta = (uint32_t)meta;
	a->since = e->now;
	bool fits = a->need <= (uint64_t)e->heap->nblocks * BP_HEAP_BLOCK &&
		    (!e->msg_max || h->type == RPC_FT_GOAWAY || body <= e->msg_max);
	if (fits && a->need && wait_for_bytes(e, a))
		return RPC_RX_HELD; /* the entry stays unused: the header is read again */
	int64_t b = fits && a->need ? rpc_heap_alloc(e->heap, a->need, &a->gen) : 0;
	if (b < 0 && !(e->break_wait && holds_others))
		return RPC_RX_STALL; /* the entry stays unused: retried later */
	if (b < 0)
		e->break_wait = false; /* the one message that waited, not those after it */
	if (!fits || b < 0) {
		/* can never fit, is over the app's limit, or must not wait
		 * (env.break_wait) */
		refuse(a);
	} else if (a->need) {
		a->blk = (uint32_t)b;
		a->d.has_buf = 1;
		a->d.buf = a->blk;
		a->d.buf_gen = a->gen;
		a->d.heap_off = rpc_heap_blk_off(e->heap, a->blk);
	}
	a->used = true;
	if (e->count && h->type != RPC_FT_GOAWAY)
		e->count(e->arg, h);
	rf->cur = i;
	return 0;
}

static int start_chunk(struct rpc_rx_flow *rf, const struct rpc_frame_hdr *h)
{
	int i = find(rf, h->call_id, h->flags & RPC_FF_RESP_DIR);

	if (i < 0)
		return fail(rf, RPC_RXE_CHUNK);
	struct rpc_rx_asm *a = &rf->a[i];
	uint64_t body_got = a->got - a->meta;
	uint64_t left = a->need - a->got;
	bool more = h->flags & RPC_FF_MORE;

	if (h->msg_len != body_got || h->frame_len > left ||
	    more != (h->frame_len < left))
		return fail(rf, RPC_RXE_CHUNK);
	a->d.wire_bytes += RPC_WIRE_HDR_LEN + h->frame_len;
	rf->cur = i;
	return 0;
}

/*
 * The peer cancelled request @i while it was still arriving: WIRE.md says
 * it sends no more of it, and wants no answer.  The app never saw it (it
 * gets whole messages), so it gets its end now, without data and marked
 * BP_MSGF_CANCELLED, to give the call and the bytes back without
 * answering (a plain end would be answered RESOURCE_EXHAUSTED, to a call
 * its caller gave up).  The CANCEL itself follows (for a streamed request
 * whose earlier messages the app has, it ends that stream).  The entry and
 * its run are free again: without this a cancelled message would hold its
 * entry until the message timeout, or for ever if it was being skipped
 * (such entries have none).
 */
static int abandon(struct rpc_rx_flow *rf, struct rpc_rx_env *e, int i)
{
	struct rpc_rx_asm *a = &rf->a[i];

	if (a->d.has_buf)
		rpc_heap_drop(e->heap, a->blk); /* the owning core's: carried ones have none */
	free(a->carry);
	a->carry = NULL;
	refuse(a);
	a->d.flags |= BP_MSGF_CANCELLED;
	if (rf->part_pending == i)
		rf->part_pending = -1; /* its bytes are in the end */
	return deliver(rf, e, i) ? RPC_RX_STALL : 0;
}

/* a frame header at env->pos: act on it.  Return: 0 if taken, else a verdict */
static int start_frame(struct rpc_rx_flow *rf, struct rpc_rx_env *e)
{
	uint8_t raw[RPC_WIRE_HDR_LEN];
	struct rpc_frame_hdr h;
	int rc = 0;

	ring_read(e, e->pos, raw, RPC_WIRE_HDR_LEN);
	if (rpc_frame_decode(raw, &h) != RPC_FE_OK)
		return fail(rf, RPC_RXE_HEADER);
	rf->cur = -1;
	switch (h.type) {
	case RPC_FT_REQUEST:
	case RPC_FT_RESPONSE:
	case RPC_FT_GOAWAY:
		rc = start_message(rf, e, &h);
		break;
	case RPC_FT_CHUNK:
		rc = start_chunk(rf, &h);
		break;
	case RPC_FT_CANCEL:
	case RPC_FT_CREDIT:
	case RPC_FT_PING:
	case RPC_FT_PONG: {
		struct bp_msg_desc d;
		int i = h.type == RPC_FT_CANCEL ? find(rf, h.call_id, 0) : -1;

		if (i >= 0 && abandon(rf, e, i))
			return RPC_RX_STALL; /* the header stays: read again */
		desc_init(&d, e, &h);
		if (e->push(e->arg, &d))
			return RPC_RX_STALL; /* not taken: the header stays in the ring */
		break;
	}
	default:
		break; /* unknown type: skip its payload (WIRE.md) */
	}
	if (rc)
		return rc;
	e->pos += RPC_WIRE_HDR_LEN;
	rf->left = h.frame_len;
	rf->frames++;
	return 0;
}

/*
 * A frame of skipped message @i went by and more follow: its bytes go to
 * the app now, as credit.  The app gives credit back only for what it is
 * shown, and a message larger than the app's whole byte window would
 * otherwise wait for credit that only its end could bring.
 */
static int hand_over_part(struct rpc_rx_flow *rf, struct rpc_rx_env *e, int i)
{
	struct rpc_rx_asm *a = &rf->a[i];
	struct bp_msg_desc d = a->d;

	d.flags |= BP_MSGF_PART;
	if (e->push(e->arg, &d)) {
		rf->part_pending = i;
		return RPC_RX_STALL;
	}
	a->d.wire_bytes = 0;
	rf->part_pending = -1;
	return 0;
}

/* the current frame's payload is all in: a message may be complete */
static int frame_done(struct rpc_rx_flow *rf, struct rpc_rx_env *e)
{
	int i = rf->cur;

	rf->cur = -1;
	if (i < 0)
		return 0;
	struct rpc_rx_asm *a = &rf->a[i];
	if (a->got != a->need) /* chunks follow */
		return a->skip ? hand_over_part(rf, e, i) : 0;
	if (deliver(rf, e, i)) {
		rf->pending = i;
		return RPC_RX_STALL;
	}
	return 0;
}

/* messages carried from another core: into this core's heap part */
static int rehome(struct rpc_rx_flow *rf, struct rpc_rx_env *e)
{
	for (int i = 0; i < RPC_RX_MAX_ASM; i++) {
		struct rpc_rx_asm *a = &rf->a[i];

		if (!a->used || !a->carry)
			continue;
		int64_t b = rpc_heap_alloc(e->heap, a->need, &a->gen);

		if (b < 0)
			return -1;
		a->blk = (uint32_t)b;
		a->d.has_buf = 1;
		a->d.buf = a->blk;
		a->d.buf_gen = a->gen;
		a->d.core = e->core;
		a->d.heap_off = rpc_heap_blk_off(e->heap, a->blk);
		memcpy(e->heap_base + a->d.heap_off, a->carry, a->got);
		free(a->carry);
		a->carry = NULL;
	}
	rf->carried = false;
	return 0;
}

int rpc_rx_scan(struct rpc_rx_flow *rf, struct rpc_rx_env *e)
{
	if (rf->error)
		return RPC_RX_ERROR;
	if (rf->carried && rehome(rf, e))
		return RPC_RX_STALL;
	if (rf->part_pending >= 0 && hand_over_part(rf, e, rf->part_pending))
		return RPC_RX_STALL;
	if (rf->pending >= 0) {
		if (deliver(rf, e, rf->pending))
			return RPC_RX_STALL;
		rf->pending = -1;
	}
	for (;;) {
		int rc;

		if (rf->left) {
			uint64_t avail = e->end - e->pos;
			uint32_t n = avail < rf->left ? (uint32_t)avail : rf->left;

			if (!n)
				return RPC_RX_IDLE;
			if (rf->cur >= 0) {
				struct rpc_rx_asm *a = &rf->a[rf->cur];

				if (!a->skip)
					ring_read(e, e->pos, e->heap_base + a->d.heap_off + a->got, n);
				a->got += n;
			}
			e->pos += n;
			rf->left -= n;
			if (rf->left)
				return RPC_RX_IDLE;
		} else {
			if (e->end - e->pos < RPC_WIRE_HDR_LEN)
				return RPC_RX_IDLE;
			rc = start_frame(rf, e);
			if (rc)
				return rc;
			if (rf->left)
				continue;
		}
		rc = frame_done(rf, e);
		if (rc)
			return rc;
	}
}

int rpc_rx_eof(struct rpc_rx_flow *rf, struct rpc_rx_env *e)
{
	if (rf->eof_sent)
		return 0;
	struct bp_msg_desc d = { .slot = e->slot, .gen = e->gen, .type = BP_MSG_EOF,
				 .core = e->core, .aux = (uint32_t)rf->error };

	if (rf->error)
		d.type = BP_MSG_ERROR;
	else if (rf->pending >= 0 || rf->part_pending >= 0)
		return -1; /* what is whole goes first, when the queue has room */
	if (e->push(e->arg, &d))
		return -1;
	rf->eof_sent = true;
	/* messages the FIN cut short never end: their heap runs go back now,
	 * and no deadline is kept for them (the session may go on sending) */
	if (!rf->error)
		rpc_rx_release(rf, e->heap, e->core);
	return 0;
}

void rpc_rx_release(struct rpc_rx_flow *rf, struct rpc_heap *heap, uint16_t core)
{
	for (int i = 0; i < RPC_RX_MAX_ASM; i++) {
		struct rpc_rx_asm *a = &rf->a[i];

		if (a->used && a->d.has_buf && a->d.core == core)
			rpc_heap_drop(heap, a->blk);
		free(a->carry);
		a->carry = NULL;
		a->used = false;
	}
	rf->cur = rf->pending = rf->part_pending = -1;
	rf->carried = false;
}

void rpc_rx_carry(struct rpc_rx_flow *rf, struct rpc_heap *heap, uint16_t core,
		  const uint8_t *heap_base)
{
	for (int i = 0; i < RPC_RX_MAX_ASM; i++) {
		struct rpc_rx_asm *a = &rf->a[i];

		if (!a->used || !a->d.has_buf || a->d.core != core)
			continue;
		a->carry = malloc(a->got ? a->got : 1);
		if (a->carry) {
			memcpy(a->carry, heap_base + a->d.heap_off, a->got);
			rf->carried = true;
		} else {
			refuse(a);
		}
		rpc_heap_drop(heap, a->blk);
		a->d.has_buf = 0;
		a->d.heap_off = 0;
	}
}

void rpc_rx_free(struct rpc_rx_flow *rf)
{
	if (!rf)
		return;
	for (int i = 0; i < RPC_RX_MAX_ASM; i++)
		free(rf->a[i].carry);
	free(rf);
}
