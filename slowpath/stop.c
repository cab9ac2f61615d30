// SPDX-License-Identifier: MIT
/*
 * stop.c - what the daemon does with live connections when it is told to
 * stop (SIGTERM/SIGINT).
 *
 * Its peers must not be left believing in connections nobody serves any
 * more (a Linux peer would keep them ESTABLISHED and retransmit for
 * minutes).  So, in order:
 *
 *  1. listeners close (new SYNs are refused with RST), half-open
 *     connections are dropped, and every established connection gets our
 *     FIN after the data already written, as if its app had shut it down;
 *  2. for [daemon] stop_drain_ms (default 1000) those orderly closes may
 *     finish (peers that answer with their own FIN end in TIME_WAIT, and
 *     nothing is left for them to wait on);
 *  3. whatever is still open then (a peer that never closes its side, a
 *     window that never opens) is reset: RST, like a kernel's close() with
 *     SO_LINGER {1, 0};
 *  4. once the fastpath has sent those RSTs (every FLOW_DEL answered, at
 *     most 500 ms), the fastpath loop is told to stop.
 *
 * stop_drain_ms = 0 skips the FINs and resets at once.
 */
#include <stdio.h>
#include <unistd.h>
#include <rte_cycles.h>

#include "slowpath.h"
#include "sp_internal.h"

#define STOP_RST_WAIT_MS 500

/* every flow is gone: let the fastpath loop end */
static void stop_fastpath(struct sp *sp)
{
	sp->stop_phase = SP_STOP_DONE;
	sp_fp_stop(sp);
}

/* act on every conn; @fn may free it (sp->active is then reordered) */
static void each_conn(struct sp *sp, void (*fn)(struct sp *, struct sp_conn *, uint32_t))
{
	for (uint32_t i = 0; i < sp->nconns;) {
		uint32_t id = sp->active[i];
		uint32_t before = sp->nconns;
		fn(sp, &sp->conns[id], id);
		if (sp->nconns == before)
			i++; /* else slot i holds another conn now */
	}
}

static void close_gracefully(struct sp *sp, struct sp_conn *c, uint32_t id)
{
	switch (c->state) {
	case SPS_ARP_WAIT:
	case SPS_SYN_SENT:
	case SPS_SYN_RCVD:
		sp_conn_handshake_fail(sp, c, id, ECONNABORTED);
		break;
	case SPS_ESTABLISHED:
		if (!(c->flags & SPC_APP_SHUT)) {
			c->flags |= SPC_APP_SHUT;
			sp_fp_flow_shutwr(sp, id, 0, c->rpc_posted);
		}
		break;
	}
}

static void reset(struct sp *sp, struct sp_conn *c, uint32_t id)
{
	if (c->state == SPS_ESTABLISHED)
		sp_conn_close_owned(sp, c, id, true);
	else if (c->state != SPS_TIME_WAIT && c->state != SPS_DELETING)
		sp_conn_handshake_fail(sp, c, id, ECONNABORTED);
}

static uint32_t count_state(struct sp *sp, uint8_t state)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < sp->nconns; i++)
		n += sp->conns[sp->active[i]].state == state;
	return n;
}

/**
 * sp_stop_begin - the daemon was told to stop: close listeners and start
 * the orderly closes (or resets, with stop_drain_ms 0).
 */
void sp_stop_begin(struct sp *sp)
{
	uint32_t drain_ms = sp->dp->cfg.stop_drain_ms;
	if (sp->stop_phase != SP_STOP_NONE)
		return;
	sp->now = rte_rdtsc();
	for (int i = 0; i < SP_MAX_LISTENERS; i++) {
		struct sp_listener *l = &sp->listeners[i];
		if (l->in_use)
			sp_listener_close(sp, &sp->dp->apps[l->app_id], l);
	}
	uint32_t live = count_state(sp, SPS_ESTABLISHED);
	if (live)
		printf("fastpathd: stopping: %u connections get %u ms to close, then are reset\n",
		       live, drain_ms);
	fflush(stdout);
	sp->stop_phase = SP_STOP_DRAIN;
	sp->stop_deadline = sp->now + sp_ms_to_tsc(sp, drain_ms);
	if (drain_ms)
		each_conn(sp, close_gracefully);
	sp_stop_tick(sp);
}

/** sp_stop_tick - advance the stop on every slowpath tick. */
void sp_stop_tick(struct sp *sp)
{
	switch (sp->stop_phase) {
	case SP_STOP_DRAIN: {
		uint32_t live = count_state(sp, SPS_ESTABLISHED);
		if (live && sp->now < sp->stop_deadline)
			return;
		if (live)
			printf("fastpathd: stopping: resetting %u connections still open\n", live);
		fflush(stdout);
		each_conn(sp, reset);
		sp->stop_phase = SP_STOP_RST;
		sp->stop_deadline = sp->now + sp_ms_to_tsc(sp, STOP_RST_WAIT_MS);
	}
		/* fall through */
	case SP_STOP_RST:
		/* FLOW_DEL answered means the fastpath has sent the RST */
		if (count_state(sp, SPS_DELETING) && sp->now < sp->stop_deadline)
			return;
		stop_fastpath(sp);
		break;
	default:
		break;
	}
}
