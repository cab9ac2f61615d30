// SPDX-License-Identifier: MIT
/*
 * region_guard.c - the daemon survives an app that takes pages out of its
 * own huge-page region.
 *
 * A region on huge pages ([apps] hugepages) is reserved whole when the
 * daemon maps it, so the daemon's touches never find the pool empty.  But
 * the app shares the mapping, and madvise(MADV_REMOVE) (or a hole punched
 * through the memfd) gives pages back to the pool with their reservation:
 * once another mapping has taken them, the daemon's next touch of that
 * range has no page to fault in, and the kernel sends SIGBUS.  (A region
 * on ordinary pages just faults in a zeroed page, so it needs no guard.)
 *
 * The SIGBUS handler maps anonymous memory over the whole huge page that
 * faulted, in the daemon's view only, and returns: the touch is retried
 * and lands there.  The app and the daemon no longer share that page, so
 * the app is let go on the slowpath's next tick (region.c) and only its own
 * connections suffer.  A SIGBUS anywhere else is left to the handler that
 * was there before (by default: the process dies, as without the guard).
 *
 * The table is written by the slowpath thread only (add before the region
 * is handed to anyone, del before it is unmapped) and read by the handler
 * on whichever thread faulted; entries are published with atomics.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sp_internal.h"

struct guard_entry {
	uintptr_t base;         /* 0: no region on huge pages */
	uint64_t size;
	uint64_t page_size;
	int lost;               /* the handler replaced one of its pages */
};

static struct guard_entry *guard;
static uint32_t guard_n;
static int guard_hit;           /* some entry's lost was set since the last take */
static struct sigaction guard_prev;
static bool guard_installed;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	(void)uc;

	for (uint32_t i = 0; i < guard_n; i++) {
		struct guard_entry *g = &guard[i];
		uintptr_t base = __atomic_load_n(&g->base, __ATOMIC_ACQUIRE);
		if (!base || a < base || a - base >= g->size)
			continue;
		uintptr_t page = a & ~(uintptr_t)(g->page_size - 1);
		if (mmap((void *)page, g->page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			break;
		__atomic_store_n(&g->lost, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&guard_hit, 1, __ATOMIC_RELEASE);
		return;
	}
	/* not a region's page, or no memory to stand in for it: the previous
	 * disposition takes the retried fault */
	sigaction(sig, &guard_prev, NULL);
}

/**
 * sp_region_guard_init - install the SIGBUS guard for @napps regions.
 * Return: 0, or -1 with @err set.
 */
int sp_region_guard_init(uint32_t napps, char *err, size_t errlen)
{
	struct sigaction sa = { 0 };

	guard = calloc(napps, sizeof(*guard));
	if (!guard) {
		snprintf(err, errlen, "out of memory for the huge-page region guard");
		return -1;
	}
	guard_n = napps;
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &guard_prev)) {
		snprintf(err, errlen, "cannot install the SIGBUS handler: %s", strerror(errno));
		free(guard);
		guard = NULL;
		guard_n = 0;
		return -1;
	}
	guard_installed = true;
	return 0;
}

/** sp_region_guard_fini - put the previous SIGBUS disposition back. */
void sp_region_guard_fini(void)
{
	if (guard_installed)
		sigaction(SIGBUS, &guard_prev, NULL);
	guard_installed = false;
	guard_n = 0;
	free(guard);
	guard = NULL;
}

/**
 * sp_region_guard_add - guard app @idx's huge-page region, mapped at @base
 * for @size bytes in pages of @page_size.  Without a guard (no huge pages
 * configured) it does nothing.
 */
void sp_region_guard_add(uint32_t idx, const void *base, uint64_t size, uint64_t page_size)
{
	DP_ASSERT_SP();
	if (idx >= guard_n)
		return;
	guard[idx].size = size;
	guard[idx].page_size = page_size;
	__atomic_store_n(&guard[idx].lost, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&guard[idx].base, (uintptr_t)base, __ATOMIC_RELEASE);
}

/** sp_region_guard_del - app @idx's region is about to be unmapped. */
void sp_region_guard_del(uint32_t idx)
{
	DP_ASSERT_SP();
	if (idx < guard_n)
		__atomic_store_n(&guard[idx].base, 0, __ATOMIC_RELEASE);
}

/**
 * sp_region_guard_take - whether any region lost a page since the last
 * call; clears the news (the per-region flags stay until del).
 */
bool sp_region_guard_take(void)
{
	return guard_n && __atomic_exchange_n(&guard_hit, 0, __ATOMIC_ACQ_REL);
}

/** sp_region_guard_lost - whether app @idx's region lost a page. */
bool sp_region_guard_lost(uint32_t idx)
{
	return idx < guard_n && __atomic_load_n(&guard[idx].lost, __ATOMIC_ACQUIRE);
}
