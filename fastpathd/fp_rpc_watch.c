// SPDX-License-Identifier: MIT
/*
 * fp_rpc_watch.c - a time limit on RPC messages in assembly.
 *
 * The framer takes a message's whole heap run before the message is in
 * (rpc_frame_rx.c), so a peer that starts a large message and stops holds
 * that run for as long as its connection lives, and a few such peers
 * starve every session of the app on this core.  Each message must be
 * whole within [rpc] message_timeout_ms of its first frame, or its session
 * is reset (RPC_RXE_TIMEOUT: the app gets BP_MSG_ERROR, the peer a RST).
 * Time the framer waits for message-queue room does not count: that is
 * the app's doing, and the peer could not finish meanwhile.  Time it waits
 * for heap room does count: the session's own messages may be what fills
 * the heap, and a peer that could stop its clock by stalling itself would
 * hold the heap for ever.
 *
 * A wait for heap room that lasted a quarter timeout is broken.  A peer may
 * interleave two large messages; when the second finds no heap room, the
 * framer stops at its header, and the first one's remaining chunks, queued
 * behind that header, never come in.  If the app holds nothing to give
 * back, no room ever comes.  So such a session is scanned once more with
 * env.break_wait: the message that finds no room while others of the
 * session are in assembly is refused (RESOURCE_EXHAUSTED) instead.
 *
 * Every message of a core waits the same time, so a flow's deadline comes
 * in about the order it was queued: a FIFO of (flow, ticket), looked at
 * from its head each round, like tcp_delack.c's.  A flow is on it at most
 * once (rpc_rx_flow.watched); an entry whose ticket is not the flow's any
 * more (the flow went away, or moved to another core) is dropped when it
 * comes up.  Flows deleted or moved while queued leave such stale entries
 * behind; when they fill the ring, it is compacted, and the live entries
 * (at most one per flow the core owns, so fewer than max_flows) always
 * leave room.
 */
#include <rte_malloc.h>

#include "fastpath.h"
#include "rpc_frame_rx.h"

/**
 * fp_rpc_watch_init - the watch ring of @fp ([rpc] message_timeout_ms;
 * none when it is 0 or RPC sessions are off).
 * Return: 0, or -1 if out of memory.
 */
int fp_rpc_watch_init(struct fp_ctx *fp)
{
	const struct bp_config *cfg = &fp->dp->cfg;

	if (!cfg->rpc_heap_max_mb || !cfg->rpc_message_timeout_ms)
		return 0;
	fp->rpc_watch_cycles = fp->dp->tsc_hz / 1000 * cfg->rpc_message_timeout_ms;
	fp->rpc_watch_cap = 2 * cfg->max_flows;
	fp->rpc_watch = rte_zmalloc("fp_rpc_watch", sizeof(*fp->rpc_watch) * fp->rpc_watch_cap, 0);
	return fp->rpc_watch ? 0 : -1;
}

void fp_rpc_watch_fini(struct fp_ctx *fp)
{
	rte_free(fp->rpc_watch);
	fp->rpc_watch = NULL;
}

/*
 * Is @f still a live RPC flow of this core?  Asked before its framer state
 * is touched: a flow that moved away or was deleted may have it changed or
 * freed by its new owner or the slowpath (not fp_owns(), which treats a
 * flow of another core as a bug).
 */
static bool still_ours(const struct fp_ctx *fp, const struct fp_flow *f)
{
	return (f->flags & (FPF_ACTIVE | FPF_RPC)) == (FPF_ACTIVE | FPF_RPC) &&
	       !(f->flags & (FPF_DETACHED | FPF_RESET)) && f->core == fp->core &&
	       fp->owns[f->bucket] && f->rpc;
}

static struct fp_rpc_watch *watch_slot(struct fp_ctx *fp, uint32_t i)
{
	return &fp->rpc_watch[(fp->rpc_watch_head + i) % fp->rpc_watch_cap];
}

static bool live_entry(struct fp_ctx *fp, const struct fp_rpc_watch *e)
{
	const struct fp_flow *f = &fp->dp->flows[e->flow_id];

	return still_ours(fp, f) && f->rpc->watched && f->rpc->watch_ticket == e->ticket;
}

/* the ring is full: drop its stale entries, keeping the others' order */
static void compact(struct fp_ctx *fp)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < fp->rpc_watch_count; i++) {
		struct fp_rpc_watch e = *watch_slot(fp, i);

		if (live_entry(fp, &e))
			*watch_slot(fp, kept++) = e;
	}
	fp->rpc_watch_count = kept;
	fp->cnt[DPC_RPC_WATCH_COMPACT]++;
}

/* queue @f to be looked at by @due */
static void watch_at(struct fp_ctx *fp, struct fp_flow *f, uint64_t due)
{
	struct rpc_rx_flow *rf = f->rpc;

	if (fp->rpc_watch_count == fp->rpc_watch_cap)
		compact(fp);
	if (unlikely(fp->rpc_watch_count == fp->rpc_watch_cap))
		rte_panic("rpc watch ring: %u live entries, more than the core's flows\n",
			  fp->rpc_watch_count);
	struct fp_rpc_watch *e =
		&fp->rpc_watch[(fp->rpc_watch_head + fp->rpc_watch_count++) % fp->rpc_watch_cap];
	e->flow_id = f->flow_id;
	e->ticket = ++fp->rpc_watch_tickets;
	rf->watched = true;
	rf->watch_ticket = e->ticket;
	rf->watch_due = due;
}

/* credit the time the app has held @rf up since the last credit */
static void credit_queue_wait(struct fp_ctx *fp, struct rpc_rx_flow *rf)
{
	if (rf->stall_began && rf->stall_queue) {
		rpc_rx_hold_clock(rf, rf->stall_mark, fp->now);
		rf->stall_mark = fp->now;
	}
}

/**
 * fp_rpc_watch_stall - after a scan of @f: it @stalled (for message-queue
 * room if @queue, else for heap room), or went on.  Keeps the stall's
 * start, and credits the messages' clocks with the time the app held the
 * session up.
 */
void fp_rpc_watch_stall(struct fp_ctx *fp, struct fp_flow *f, bool stalled, bool queue)
{
	struct rpc_rx_flow *rf = f->rpc;

	credit_queue_wait(fp, rf);
	if (!stalled) {
		rf->stall_began = 0;
		return;
	}
	if (!rf->stall_began || rf->stall_queue != queue)
		rf->stall_began = rf->stall_mark = fp->now; /* a new wait, or another kind */
	rf->stall_queue = queue;
}

/* when @rf must be looked at: its oldest message's deadline, or when its
 * wait for heap room will have lasted a quarter timeout; UINT64_MAX: never */
static uint64_t due_of(const struct fp_ctx *fp, const struct rpc_rx_flow *rf)
{
	uint64_t from = rpc_rx_oldest(rf);

	if (from == UINT64_MAX)
		return UINT64_MAX;
	uint64_t due = from + fp->rpc_watch_cycles;
	if (rf->stall_began && !rf->stall_queue && rf->stall_began + fp->rpc_watch_cycles / 4 < due)
		due = rf->stall_began + fp->rpc_watch_cycles / 4;
	return due;
}

/**
 * fp_rpc_watch - after a scan of @f: queue it if it holds messages in
 * assembly and is not queued yet, or queued for later than it is due now
 * (a wait for heap room began): a new entry, and the old one turns stale.
 */
void fp_rpc_watch(struct fp_ctx *fp, struct fp_flow *f)
{
	if (!fp->rpc_watch)
		return;
	uint64_t due = due_of(fp, f->rpc);
	if (due != UINT64_MAX && (!f->rpc->watched || due < f->rpc->watch_due))
		watch_at(fp, f, due);
}

/* @f's entry came up: break its wait, reset it, or queue it again */
static void look_at(struct fp_ctx *fp, struct fp_flow *f)
{
	struct rpc_rx_flow *rf = f->rpc;
	uint64_t oldest = rpc_rx_oldest(rf);

	if (oldest == UINT64_MAX)
		return; /* nothing in assembly: queued again when it has some */
	credit_queue_wait(fp, rf);
	if (rf->stall_began && !rf->stall_queue &&
	    fp->now - rf->stall_began >= fp->rpc_watch_cycles / 4) {
		/* long without heap room: perhaps for good.  The messages'
		 * clocks run on (the peer may have stalled itself); a wait
		 * that goes on is broken again no sooner than this one */
		fp->cnt[DPC_RPC_WATCH_RETRIES]++;
		rf->stall_began = rf->stall_mark = fp->now;
		if (fp_rpc_rx_unwait(fp, f)) /* queues it again */
			tcp_window_update(fp, f);
		return;
	}
	oldest = rpc_rx_oldest(rf);
	if (fp->now - oldest < fp->rpc_watch_cycles) {
		watch_at(fp, f, due_of(fp, rf));
		return;
	}
	rpc_rx_fail(rf, RPC_RXE_TIMEOUT);
	fp_rpc_rx(fp, f); /* tells the app and resets the flow */
}

/**
 * fp_rpc_watch_run - look at the flows whose time has come.
 * Return: the tsc of the next one due, UINT64_MAX if none is queued, so
 * the core never sleeps past it.
 */
uint64_t fp_rpc_watch_run(struct fp_ctx *fp)
{
	while (fp->rpc_watch_count) {
		const struct fp_rpc_watch e = fp->rpc_watch[fp->rpc_watch_head];
		struct fp_flow *f = &fp->dp->flows[e.flow_id];
		bool live = live_entry(fp, &e);

		if (live && f->rpc->watch_due > fp->now)
			return f->rpc->watch_due;
		fp->rpc_watch_head = (fp->rpc_watch_head + 1) % fp->rpc_watch_cap;
		fp->rpc_watch_count--;
		if (live) {
			f->rpc->watched = false;
			look_at(fp, f);
		}
	}
	return UINT64_MAX;
}
