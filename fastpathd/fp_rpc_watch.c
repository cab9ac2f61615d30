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
 * Two FIFOs of (flow, ticket), each looked at from its head every round
 * like tcp_delack.c's ring: message deadlines (oldest message + timeout)
 * and heap waits (start + a quarter timeout).  Each holds dues that grow
 * in the order they were queued, so its head is always the first due.  (A
 * deadline can come out of order only for a flow that moved in from
 * another core with older messages: it is then late by less than a
 * timeout.)  A flow is on each at most once (rpc_rx_flow.watched,
 * wait_queued); an entry whose ticket is not the flow's any more (the flow
 * went away or moved, its wait ended) is dropped when it comes up.  When
 * such stale entries fill a FIFO it is compacted; the live entries (one
 * per flow the core owns, fewer than max_flows) always leave room.  Only
 * the owning core touches a flow's framer state: an entry is checked
 * against the flow's flags, core and bucket first.
 */
#include <rte_malloc.h>

#include "fastpath.h"
#include "rpc_frame_rx.h"

enum { DEADLINES, HEAP_WAITS };

static struct fp_rpc_fifo *fifo_of(struct fp_ctx *fp, int kind)
{
	return kind == DEADLINES ? &fp->rpc_deadlines : &fp->rpc_heap_waits;
}

/**
 * fp_rpc_watch_init - the watch FIFOs of @fp ([rpc] message_timeout_ms;
 * none when it is 0 or RPC sessions are off).
 * Return: 0, or -1 if out of memory.
 */
int fp_rpc_watch_init(struct fp_ctx *fp)
{
	const struct bp_config *cfg = &fp->dp->cfg;

	if (!cfg->rpc_heap_max_mb || !cfg->rpc_message_timeout_ms)
		return 0;
	fp->rpc_watch_cycles = fp->dp->tsc_hz / 1000 * cfg->rpc_message_timeout_ms;
	for (int kind = DEADLINES; kind <= HEAP_WAITS; kind++) {
		struct fp_rpc_fifo *q = fifo_of(fp, kind);

		q->cap = 2 * cfg->max_flows;
		q->e = rte_zmalloc("fp_rpc_watch", sizeof(*q->e) * q->cap, 0);
		if (!q->e)
			return -1;
	}
	return 0;
}

void fp_rpc_watch_fini(struct fp_ctx *fp)
{
	for (int kind = DEADLINES; kind <= HEAP_WAITS; kind++) {
		rte_free(fifo_of(fp, kind)->e);
		fifo_of(fp, kind)->e = NULL;
	}
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

static struct fp_rpc_watch *slot_at(struct fp_rpc_fifo *q, uint32_t i)
{
	return &q->e[(q->head + i) % q->cap];
}

static bool live_entry(struct fp_ctx *fp, int kind, const struct fp_rpc_watch *e)
{
	const struct fp_flow *f = &fp->dp->flows[e->flow_id];

	if (!still_ours(fp, f))
		return false;
	const struct rpc_rx_flow *rf = f->rpc;
	return kind == DEADLINES ? rf->watched && rf->watch_ticket == e->ticket
				 : rf->wait_queued && rf->wait_ticket == e->ticket;
}

/* the FIFO is full: drop its stale entries, keeping the others' order */
static void compact(struct fp_ctx *fp, int kind)
{
	struct fp_rpc_fifo *q = fifo_of(fp, kind);
	uint32_t kept = 0;

	for (uint32_t i = 0; i < q->count; i++) {
		struct fp_rpc_watch e = *slot_at(q, i);

		if (live_entry(fp, kind, &e))
			*slot_at(q, kept++) = e;
	}
	q->count = kept;
	fp->cnt[DPC_RPC_WATCH_COMPACT]++;
}

/* put @f at the tail of FIFO @kind; its ticket */
static uint32_t push(struct fp_ctx *fp, int kind, const struct fp_flow *f)
{
	struct fp_rpc_fifo *q = fifo_of(fp, kind);

	if (q->count == q->cap)
		compact(fp, kind);
	if (unlikely(q->count == q->cap))
		rte_panic("rpc watch: %u live entries, more than the core's flows\n", q->count);
	struct fp_rpc_watch *e = slot_at(q, q->count++);
	e->flow_id = f->flow_id;
	e->ticket = ++fp->rpc_watch_tickets;
	return e->ticket;
}

/* queue @f's deadline @due */
static void watch_at(struct fp_ctx *fp, struct fp_flow *f, uint64_t due)
{
	struct rpc_rx_flow *rf = f->rpc;

	rf->watch_ticket = push(fp, DEADLINES, f);
	rf->watched = true;
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
 * start, credits the messages' clocks with the time the app held the
 * session up, and queues a heap wait of a session with messages in
 * assembly, to be broken if it lasts.  A scan that took bytes (@progress)
 * before it stalled again starts a new heap wait: under steady heap
 * pressure the session moves, and only one that stays stuck for a
 * quarter of the message timeout is a deadlock to break.
 */
void fp_rpc_watch_stall(struct fp_ctx *fp, struct fp_flow *f, bool stalled, bool queue,
			bool progress)
{
	struct rpc_rx_flow *rf = f->rpc;

	credit_queue_wait(fp, rf);
	if (!stalled) {
		rf->stall_began = 0;
		rf->wait_queued = false; /* its entry turns stale */
		return;
	}
	if (!rf->stall_began || rf->stall_queue != queue || (progress && !queue)) {
		rf->stall_began = rf->stall_mark = fp->now; /* a new wait, or another kind */
		rf->wait_queued = false;
	}
	rf->stall_queue = queue;
	if (!queue && !rf->wait_queued && fp->rpc_heap_waits.e &&
	    rpc_rx_oldest(rf) != UINT64_MAX) {
		rf->wait_ticket = push(fp, HEAP_WAITS, f);
		rf->wait_queued = true;
	}
}

/**
 * fp_rpc_watch - after a scan of @f: queue its deadline if it holds
 * messages in assembly and it is not queued, or queued for later than due.
 */
void fp_rpc_watch(struct fp_ctx *fp, struct fp_flow *f)
{
	if (!fp->rpc_deadlines.e)
		return;
	uint64_t oldest = rpc_rx_oldest(f->rpc);
	if (oldest == UINT64_MAX)
		return;
	uint64_t due = oldest + fp->rpc_watch_cycles;
	if (!f->rpc->watched || due < f->rpc->watch_due)
		watch_at(fp, f, due); /* an earlier entry turns stale */
}

/* @f's deadline came up: reset it, or queue it again */
static void deadline_due(struct fp_ctx *fp, struct fp_flow *f)
{
	struct rpc_rx_flow *rf = f->rpc;

	credit_queue_wait(fp, rf);
	uint64_t oldest = rpc_rx_oldest(rf);
	if (oldest == UINT64_MAX)
		return; /* nothing in assembly: queued again when it has some */
	if (fp->now - oldest < fp->rpc_watch_cycles) {
		watch_at(fp, f, oldest + fp->rpc_watch_cycles);
		return;
	}
	rpc_rx_fail(rf, RPC_RXE_TIMEOUT);
	fp_rpc_rx(fp, f); /* tells the app and resets the flow */
}

/* @f has waited a quarter timeout for heap room: perhaps for good */
static void heap_wait_due(struct fp_ctx *fp, struct fp_flow *f)
{
	struct rpc_rx_flow *rf = f->rpc;

	fp->cnt[DPC_RPC_WATCH_RETRIES]++;
	/* the messages' clocks run on (the peer may have stalled itself);
	 * a wait that goes on is queued again, from now */
	rf->stall_began = rf->stall_mark = fp->now;
	if (fp_rpc_rx_unwait(fp, f))
		tcp_window_update(fp, f);
}

/* the head of FIFO @kind: its due, or UINT64_MAX if stale (or empty) */
static uint64_t head_due(struct fp_ctx *fp, int kind, struct fp_flow **fout)
{
	struct fp_rpc_fifo *q = fifo_of(fp, kind);
	const struct fp_rpc_watch *e = slot_at(q, 0);
	struct fp_flow *f = &fp->dp->flows[e->flow_id];

	*fout = f;
	if (!live_entry(fp, kind, e))
		return UINT64_MAX;
	return kind == DEADLINES ? f->rpc->watch_due
				 : f->rpc->stall_began + fp->rpc_watch_cycles / 4;
}

/* look at FIFO @kind's entries whose time has come; the next due */
static uint64_t run_fifo(struct fp_ctx *fp, int kind)
{
	struct fp_rpc_fifo *q = fifo_of(fp, kind);

	while (q->count) {
		struct fp_flow *f;
		uint64_t due = head_due(fp, kind, &f);

		if (due != UINT64_MAX && due > fp->now)
			return due;
		q->head = (q->head + 1) % q->cap;
		q->count--;
		if (due == UINT64_MAX)
			continue; /* stale */
		if (kind == DEADLINES) {
			f->rpc->watched = false;
			deadline_due(fp, f);
		} else {
			f->rpc->wait_queued = false;
			heap_wait_due(fp, f);
		}
	}
	return UINT64_MAX;
}

/**
 * fp_rpc_watch_run - look at the flows whose time has come.
 * Return: the tsc of the next one due, UINT64_MAX if none is queued, so
 * the core never sleeps past it.
 */
uint64_t fp_rpc_watch_run(struct fp_ctx *fp)
{
	uint64_t waits = run_fifo(fp, HEAP_WAITS);
	uint64_t deadlines = run_fifo(fp, DEADLINES);

	return waits < deadlines ? waits : deadlines;
}
