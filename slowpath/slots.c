// SPDX-License-Identifier: MIT
/*
 * slots.c - the slot allocator of an app's region: which slots (and their
 * rx/tx rings) are free, and how their memory goes back to the kernel.
 * Slowpath-only: the fastpath learns a slot from FLOW_ADD/FLOW_MOVE.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <sys/mman.h>

#include "sp_internal.h"

/*
 * Freed slots stay warm: the free list is a stack, so the slots freed last
 * are reused first with their pages still mapped (a connection-per-request
 * client would otherwise pay a hole punch and a page fault per buffer page
 * on every connection).  Only slots that sink deeper than this into the
 * stack give their pages back, which bounds an idle app's resident buffers.
 */
#define WARM_SLOTS 64
/* an app that allocated no slot for this long gives its warm slots' pages
 * back too: an idle app costs only its region's fixed part */
#define COOL_AFTER_S 2

/* give a freed slot's buffer pages back to the kernel */
static void slot_reclaim(struct dp_app *app, uint32_t slot)
{
	struct sp_app *sa = app->sp_priv;
	uint64_t off = dp_app_slot_rx_off(app, slot);
	if (sa->sp->dp->cfg.app_hugepages)
		return; /* reserved whole, and a hole smaller than a page frees nothing */
	fallocate(app->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		  (off_t)app->rx_buf_size + app->tx_buf_size);
	if (sa->slots[slot].populated) {
		sa->slots[slot].populated = 0;
		sa->npopulated--;
	}
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/*
 * Map a new connection's buffers in at once, here on the slowpath, instead
 * of a page fault per 4 KiB page on the fastpath (and in the app) while
 * the rings wrap for the first time: with hundreds of connections moving
 * small messages that lasts for seconds, and under a hypervisor every
 * fault is dear.  Bounded by [apps] prefault_mb; a slot that stayed warm
 * is mapped already, as is a region on huge pages (its few faults are
 * cheap).  Return: true if the slot was mapped in now.
 */
static bool slot_populate(struct sp *sp, struct dp_app *app, uint32_t slot)
{
	struct sp_app *sa = app->sp_priv;
	uint64_t bytes = (uint64_t)app->rx_buf_size + app->tx_buf_size;

	if (sp->dp->cfg.app_hugepages || sa->slots[slot].populated ||
	    (sa->npopulated + 1) * bytes > (uint64_t)sp->dp->cfg.prefault_mb << 20)
		return false;
	if (madvise(app->base + dp_app_slot_rx_off(app, slot), bytes, MADV_POPULATE_WRITE))
		return false; /* old kernel, or no memory: fault in as before */
	sa->slots[slot].populated = 1;
	sa->npopulated++;
	return true;
}

static int slot_take(struct sp *sp, struct dp_app *app, uint32_t *slot, bool buffers)
{
	DP_ASSERT_SP();
	struct sp_app *sa = app->sp_priv;
	if (!sa->nfree)
		return -ENOBUFS;
	uint32_t s = sa->free_slots[--sa->nfree];
	struct bp_flow_shm *fs = &app->flows[s];
	struct sp_slot *ps = &sa->slots[s];
	if (!++sa->last_gen)
		sa->last_gen = 1; /* 0 is never a generation */
	ps->gen = sa->last_gen;
	ps->use = buffers ? SP_SLOT_CONN : SP_SLOT_LISTEN;
	memset(fs, 0, sizeof(*fs));
	fs->gen = ps->gen;
	if (sa->nwarm)
		sa->nwarm--;
	if (buffers && slot_populate(sp, app, s))
		fs->flags = BP_FF_POPULATED; /* the app maps them in too */
	sa->last_alloc = sp->now;
	app->slots_used++;
	*slot = s;
	return 0;
}

/**
 * sp_slot_alloc - take a free slot of @app for a connection, its counters
 * zeroed, its generation advanced and its buffers mapped in (prefault_mb).
 * Return: 0, or -ENOBUFS if every slot is in use.
 */
int sp_slot_alloc(struct sp *sp, struct dp_app *app, uint32_t *slot)
{
	return slot_take(sp, app, slot, true);
}

/**
 * sp_slot_alloc_listener - sp_slot_alloc() for a listener, whose rings are
 * never used: its buffers are left unmapped.
 */
int sp_slot_alloc_listener(struct sp *sp, struct dp_app *app, uint32_t *slot)
{
	return slot_take(sp, app, slot, false);
}

/**
 * sp_slot_free - give @slot back (the fastpath no longer references it) and
 * tell the app with BP_EV_FREED; a dying app's slots go with its region.
 */
void sp_slot_free(struct sp *sp, struct dp_app *app, uint32_t slot)
{
	DP_ASSERT_SP();
	struct sp_app *sa = app->sp_priv;
	if (sa->dying)
		return;
	if (sa->slots[slot].use == SP_SLOT_FREE) {
		/* a second free would put the slot on the stack twice (and
		 * past its end): whatever asked for it was mistaken */
		dp_app_bad_entry(app);
		sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++;
		return;
	}
	sa->slots[slot].use = SP_SLOT_FREE;
	uint32_t gen = sa->slots[slot].gen;
	app->flows[slot].state = BP_FS_FREE;
	app->slot_flow[slot] = DP_INVALID_FLOW;
	sa->free_slots[sa->nfree++] = slot;
	if (sa->nwarm < WARM_SLOTS)
		sa->nwarm++;
	else /* the slot that just went cold */
		slot_reclaim(app, sa->free_slots[sa->nfree - 1 - WARM_SLOTS]);
	app->slots_used--;
	sp_app_post(sp, app, BP_EV_FREED, 0, slot, gen, 0, 0);
}

/**
 * sp_slot_set_use - @slot of @app, taken already, is now used as @use
 * (SP_SLOT_MOVING while an adopted flow moves in, SP_SLOT_CONN after).
 */
void sp_slot_set_use(struct dp_app *app, uint32_t slot, enum sp_slot_use use)
{
	struct sp_app *sa = app->sp_priv;
	DP_ASSERT_SP();
	RTE_ASSERT(sa->slots[slot].use != SP_SLOT_FREE && use != SP_SLOT_FREE);
	sa->slots[slot].use = (uint8_t)use;
}

/**
 * sp_slots_cool - give back the pages of the warm free slots of every app
 * that allocated none for COOL_AFTER_S.  Called from the slowpath tick;
 * looks at the apps at most once a second.
 */
void sp_slots_cool(struct sp *sp)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	uint64_t sec = dp->tsc_hz;

	if (sp->now < sp->slots_cool_next)
		return;
	sp->slots_cool_next = sp->now + sec;
	for (uint32_t i = 0; i < dp->max_apps; i++) {
		struct dp_app *app = &dp->apps[i];
		struct sp_app *sa = app->sp_priv;

		if (!app->in_use || !sa || !sa->nwarm || sa->dying ||
		    sp->now - sa->last_alloc < COOL_AFTER_S * sec)
			continue;
		while (sa->nwarm)
			slot_reclaim(app, sa->free_slots[sa->nfree - sa->nwarm--]);
	}
}
