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
 * Time the daemon holds the session up (heap or message queue full: the
 * flow is on the stall list) does not count: the peer could not finish.
 *
 * The same look breaks a wait that can never end.  A peer may interleave
 * two large messages; when the second finds no heap room, the framer
 * stops at its header, and the first one's remaining chunks, queued behind
 * that header, never come in.  If the app holds nothing to give back, no
 * room ever comes.  So a session found still waiting here is scanned once
 * more with env.break_wait: a message that finds no room while others of
 * the session are in assembly is refused (RESOURCE_EXHAUSTED) instead.
 *
 * Every message of a core waits the same time, so a flow's deadline comes
 * in about the order it was queued: a FIFO of (flow, ticket), looked at
 * from its head each round, like tcp_delack.c's.  A flow is on it at most
 * once (rpc_rx_flow.watched); an entry whose ticket is not the flow's any
 * more (the flow went away, or moved to another core) is dropped when it
 * comes up.  Entries of flows deleted while queued leave within one
 * timeout, so twice max_flows entries always suffice; a flow that finds
 * the ring full anyway is queued at its next scan.
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

/* queue @f to be looked at by @due */
static void watch_at(struct fp_ctx *fp, struct fp_flow *f, uint64_t due)
{
	struct rpc_rx_flow *rf = f->rpc;

	if (fp->rpc_watch_count == fp->rpc_watch_cap) {
		fp->cnt[DPC_RPC_WATCH_FULL]++;
		return; /* queued at its next scan */
	}
	struct fp_rpc_watch *e =
		&fp->rpc_watch[(fp->rpc_watch_head + fp->rpc_watch_count++) % fp->rpc_watch_cap];
	e->flow_id = f->flow_id;
	e->ticket = ++fp->rpc_watch_tickets;
	rf->watched = true;
	rf->watch_ticket = e->ticket;
	rf->watch_due = due;
}

/**
 * fp_rpc_watch - after a scan of @f: queue it if it holds messages in
 * assembly and is not queued yet.
 */
void fp_rpc_watch(struct fp_ctx *fp, struct fp_flow *f)
{
	if (!fp->rpc_watch || f->rpc->watched)
		return;
	uint64_t oldest = rpc_rx_oldest(f->rpc);
	if (oldest != UINT64_MAX)
		watch_at(fp, f, oldest + fp->rpc_watch_cycles);
}

/* @f's entry came up: reset it, give it another go, or queue it again */
static void look_at(struct fp_ctx *fp, struct fp_flow *f)
{
	struct rpc_rx_flow *rf = f->rpc;
	uint64_t oldest = rpc_rx_oldest(rf);

	if (oldest == UINT64_MAX)
		return; /* nothing in assembly: queued again when it has some */
	if (f->flags & FPF_RPC_STALL) {
		/* held up by the daemon: perhaps for good (see above) */
		fp->cnt[DPC_RPC_WATCH_RETRIES]++;
		rpc_rx_hold_clock(rf, fp->now);
		if (fp_rpc_rx_unwait(fp, f)) /* queues it again */
			tcp_window_update(fp, f);
		return;
	}
	if (fp->now - oldest < fp->rpc_watch_cycles) {
		watch_at(fp, f, oldest + fp->rpc_watch_cycles);
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

uint64_t fp_rpc_watch_run(struct fp_ctx *fp)
{
	while (fp->rpc_watch_count) {
		const struct fp_rpc_watch e = fp->rpc_watch[fp->rpc_watch_head];
		struct fp_flow *f = &fp->dp->flows[e.flow_id];
		bool live = still_ours(fp, f) && f->rpc->watched && f->rpc->watch_ticket == e.ticket;

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
