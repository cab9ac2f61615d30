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
 * The SIGBUS handler maps anonymous memory over the whole region, in the
 * daemon's view only (one mapping per app, however many pages it gave
 * back), and returns: the touch is retried and lands there.  The app and
 * the daemon no longer share anything, so the app is let go on the
 * slowpath's next tick (region.c) and only its own connections suffer.
 * Only a fault the kernel raised (si_code > 0) at an address inside a
 * guarded region is taken; anything else goes to the disposition that was
 * there before (by default: the process dies, as without the guard).
 *
 * A region on huge pages can also lose pages its app never gave back: a
 * hugetlb cgroup limit charged at first touch, or a memory error.  The
 * guard cannot tell these apart and treats them the same way.  DPDK on
 * huge pages (no [eal] no_huge) swaps in a SIGBUS handler of its own while
 * it grows its heap; a region fault in that window is DPDK's to handle
 * (fastpathd/NOTES.md "Buffers").
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
	int lost;               /* 1: the handler is replacing it, 2: replaced */
};

static struct guard_entry *guard;
static uint32_t guard_n;
static int guard_hit;           /* some entry's lost was set since the last take */
static struct sigaction guard_prev;

/* hand a signal that is not ours to the disposition before the guard */
static void chain(int sig, siginfo_t *si, void *uc)
{
	if (guard_prev.sa_flags & SA_SIGINFO) {
		guard_prev.sa_sigaction(sig, si, uc);
	} else if (guard_prev.sa_handler == SIG_IGN) {
		return;
	} else if (guard_prev.sa_handler != SIG_DFL) {
		guard_prev.sa_handler(sig);
	} else {
		/* default: die of it.  A fault is raised again when the
		 * handler returns; a sent signal must be raised again. */
		signal(sig, SIG_DFL);
		if (si->si_code <= 0)
			raise(sig);
	}
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	if (si->si_code <= 0) { /* sent by a process, not a fault: si_addr is not one */
		chain(sig, si, uc);
		return;
	}
	for (uint32_t i = 0; i < guard_n; i++) {
		struct guard_entry *g = &guard[i];
		uintptr_t base = __atomic_load_n(&g->base, __ATOMIC_ACQUIRE);
		if (!base || a < base || a - base >= g->size)
			continue;
		int idle = 0;
		if (__atomic_compare_exchange_n(&g->lost, &idle, 1, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			if (mmap((void *)base, g->size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
				 0) == MAP_FAILED)
				break; /* no memory to stand in: as without the guard */
			__atomic_store_n(&g->lost, 2, __ATOMIC_RELEASE);
			__atomic_store_n(&guard_hit, 1, __ATOMIC_RELEASE);
		}
		/* else another thread is replacing it: the retried touch
		 * finds the new mapping, or faults here again until it does */
		return;
	}
	chain(sig, si, uc);
}

/**
 * sp_region_guard_init - install the SIGBUS guard for @napps regions
 * (sp_start(), with [apps] hugepages; sp_stop() takes it down).
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
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &guard_prev)) {
		snprintf(err, errlen, "cannot install the SIGBUS handler: %s", strerror(errno));
		free(guard);
		guard = NULL;
		guard_n = 0;
		return -1;
	}
	return 0;
}

/** sp_region_guard_fini - put the previous SIGBUS disposition back. */
void sp_region_guard_fini(void)
{
	if (guard)
		sigaction(SIGBUS, &guard_prev, NULL);
	guard_n = 0;
	free(guard);
	guard = NULL;
}

/**
 * sp_region_guard_add - guard app @idx's huge-page region, mapped at @base
 * for @size bytes.  Without a guard (no huge pages configured) it does
 * nothing.
 */
void sp_region_guard_add(uint32_t idx, const void *base, uint64_t size)
{
	DP_ASSERT_SP();
	if (idx >= guard_n)
		return;
	guard[idx].size = size;
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
