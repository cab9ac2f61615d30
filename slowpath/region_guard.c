// SPDX-License-Identifier: MIT
/*
 * region_guard.c - the daemon survives an app that takes pages out of its
 * own huge-page region.
 *
 * A region on huge pages ([apps] hugepages) is reserved whole when the
 * daemon maps it, so the daemon's touches never find the pool empty.  But
 * the app shares the mapping, and madvise(MADV_REMOVE) (or a hole punched
 * through the memfd) gives a page already touched back to the pool without
 * its reservation: once another mapping has taken it, the daemon's next
 * touch there has no page to fault in, and the kernel sends SIGBUS.  (A region
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
 * it grows its heap; a region fault in that window goes there and crashes
 * the daemon (fastpathd/NOTES.md "Buffers").
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
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sp_internal.h"

enum guard_state {
	GUARD_SHARED = 0,       /* the region as the app shares it */
	GUARD_REPLACING,        /* a handler is mapping the stand-in */
	GUARD_REPLACED,         /* the stand-in is mapped: a fault now is not ours */
	GUARD_FAILED,           /* no memory for a stand-in: as without the guard */
};

struct guard_entry {
	uintptr_t base;         /* 0: no region on huge pages */
	uint64_t size;
	int state;              /* enum guard_state */
	int late;               /* faults taken after the stand-in was in */
};

/* A thread whose touch faulted on the shared mapping may run its handler
 * only after another thread put the stand-in in: that fault is ours too
 * (the retried touch lands in the stand-in).  At most one per daemon
 * thread; beyond this many the stand-in itself faults, which is not ours. */
#define GUARD_LATE_MAX 64

/* the table outlives sp_region_guard_fini() (a handler on another thread
 * may be reading it while the daemon stops) and is only reallocated, larger,
 * while no guard is installed; guard_cap entries, guard_n in use */
static struct guard_entry *guard;
static uint32_t guard_n, guard_cap;
static int guard_hit;           /* some entry was replaced since the last take */
static int guard_kick_fd = -1;  /* eventfd that wakes the slowpath */
static struct sigaction guard_prev;

/*
 * Hand a SIGBUS that is not ours to the disposition from before the guard,
 * as the kernel would have: a fault the old disposition ignores or leaves
 * to the default kills (the kernel forces the default for a fault), and a
 * signal that will not come again by itself is raised again.
 */
static void chain(int sig, siginfo_t *si, void *uc)
{
	bool again = si->si_code > 0 && si->si_code != BUS_MCEERR_AO; /* a fault repeats */
	const struct sigaction *p = &guard_prev;

	if (p->sa_handler == SIG_IGN && !again)
		return;
	if (p->sa_handler == SIG_DFL || p->sa_handler == SIG_IGN) {
		signal(sig, SIG_DFL);
		if (!again)
			raise(sig);
		return;
	}
	if (p->sa_flags & SA_RESETHAND)
		signal(sig, SIG_DFL);
	sigset_t old;
	sigprocmask(SIG_BLOCK, &p->sa_mask, &old);
	if (p->sa_flags & SA_SIGINFO)
		p->sa_sigaction(sig, si, uc);
	else
		p->sa_handler(sig);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* a fault (si_code @code) inside @g's region: put the stand-in over it, once */
static bool take_fault(struct guard_entry *g, int code)
{
	int st = GUARD_SHARED;

	if (__atomic_compare_exchange_n(&g->state, &st, GUARD_REPLACING, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		if (mmap((void *)g->base, g->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
			 0) == MAP_FAILED) {
			__atomic_store_n(&g->state, GUARD_FAILED, __ATOMIC_RELEASE);
			return false;
		}
		__atomic_store_n(&g->state, GUARD_REPLACED, __ATOMIC_RELEASE);
		__atomic_store_n(&guard_hit, 1, __ATOMIC_RELEASE);
		/* the app's flows are reset now, not at the next tick: until
		 * then the fastpath sends what it finds in the stand-in */
		uint64_t one = 1;
		if (guard_kick_fd >= 0 && write(guard_kick_fd, &one, sizeof(one)) < 0)
			one = 0; /* a full eventfd is a pending wakeup */
		return true;
	}
	/* another thread is mapping it: the retried touch faults here again
	 * until the stand-in is in place */
	if (st == GUARD_REPLACING)
		return true;
	/* in place already: a fault raised against the shared mapping whose
	 * handler ran late is ours; a memory error (anonymous memory can
	 * raise nothing else) or a failed stand-in is not */
	return st == GUARD_REPLACED && code != BUS_MCEERR_AR && code != BUS_MCEERR_AO &&
	       __atomic_add_fetch(&g->late, 1, __ATOMIC_RELAXED) <= GUARD_LATE_MAX;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved_errno = errno;
	uintptr_t a = (uintptr_t)si->si_addr;
	bool ours = false;

	/* only a fault the kernel raised has a faulting address */
	for (uint32_t i = 0; si->si_code > 0 && i < __atomic_load_n(&guard_n, __ATOMIC_ACQUIRE);
	     i++) {
		struct guard_entry *g = &guard[i];
		uintptr_t base = __atomic_load_n(&g->base, __ATOMIC_ACQUIRE);
		if (base && a >= base && a - base < g->size) {
			ours = take_fault(g, si->si_code);
			break;
		}
	}
	if (!ours)
		chain(sig, si, uc);
	errno = saved_errno;
}

/**
 * sp_region_guard_init - install the SIGBUS guard for @napps regions
 * (sp_start(), with [apps] hugepages; sp_stop() takes it down); a replaced
 * region wakes the slowpath through eventfd @kick_fd.
 * Return: 0, or -1 with @err set.
 */
int sp_region_guard_init(uint32_t napps, int kick_fd, char *err, size_t errlen)
{
	struct sigaction sa = { 0 };

	if (napps > guard_cap) {
		struct guard_entry *t = calloc(napps, sizeof(*t));
		if (!t) {
			snprintf(err, errlen, "out of memory for the huge-page region guard");
			return -1;
		}
		free(guard); /* no guard is installed: nobody reads it */
		guard = t;
		guard_cap = napps;
	}
	memset(guard, 0, guard_cap * sizeof(*guard));
	guard_kick_fd = kick_fd;
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &guard_prev)) {
		snprintf(err, errlen, "cannot install the SIGBUS handler: %s", strerror(errno));
		return -1;
	}
	__atomic_store_n(&guard_n, napps, __ATOMIC_RELEASE);
	return 0;
}

/**
 * sp_region_guard_fini - put the previous SIGBUS disposition back, unless
 * something replaced the guard since (chain() itself, or DPDK).
 */
void sp_region_guard_fini(void)
{
	struct sigaction cur;

	if (!__atomic_load_n(&guard_n, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&guard_n, 0, __ATOMIC_RELEASE);
	if (!sigaction(SIGBUS, NULL, &cur) && (cur.sa_flags & SA_SIGINFO) &&
	    cur.sa_sigaction == on_sigbus)
		sigaction(SIGBUS, &guard_prev, NULL);
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
	__atomic_store_n(&guard[idx].state, GUARD_SHARED, __ATOMIC_RELAXED);
	__atomic_store_n(&guard[idx].late, 0, __ATOMIC_RELAXED);
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
	/* a plain load first: this runs on every slowpath wakeup, a region is
	 * lost about never, and an exchange is a locked instruction */
	return guard_n && __atomic_load_n(&guard_hit, __ATOMIC_RELAXED) &&
	       __atomic_exchange_n(&guard_hit, 0, __ATOMIC_ACQ_REL);
}

/** sp_region_guard_lost - whether app @idx's region was replaced. */
bool sp_region_guard_lost(uint32_t idx)
{
	return idx < guard_n &&
	       __atomic_load_n(&guard[idx].state, __ATOMIC_ACQUIRE) == GUARD_REPLACED;
}
