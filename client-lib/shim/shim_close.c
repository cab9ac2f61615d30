// SPDX-License-Identifier: MIT
/*
 * shim_close.c - close(), and the calls that close many descriptors at
 * once: close_range() and closefrom().  Each bypass socket, epoll instance
 * or bound-but-not-listening socket among the numbers closed is forgotten
 * as close() forgets it; else the table would keep it, and the number's
 * next owner (a file, a kernel socket) would be taken for it.
 */
#include <errno.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <sys/syscall.h>

#include "shim.h"

/* what the shim knows of @fd goes, before the kernel closes the number */
static void forget_fd(int fd)
{
	if (shim_is_epoll(fd))
		shim_epoll_forget(fd);
	if (shim_peek(fd)) { /* peek: closing an inherited socket must not adopt it */
		shim_epoll_fd_closed(fd);
		shim_put(fd);
		return;
	}
	struct shim_bound *b = shim_bound(fd);
	if (!b || (!b->valid && !b->listening && !b->reserve_h1 && !b->ksock1 && !b->cc[0]))
		return; /* nothing of it here (most numbers of a range) */
	/* a pending listener too (a fork child closing the one it
	 * inherited): the number's next owner is not one */
	shim_bound_drop(fd);
	b->valid = false;
	b->listening = false;
	b->cc[0] = 0;
	if (b->ksock1) /* an inherited listener never converted here */
		real.close(b->ksock1 - 1);
	b->ksock1 = 0;
}

/* every number from @first to @last the shim may know (its table's size) */
static void forget_range(unsigned int first, unsigned int last)
{
	for (unsigned int fd = first; fd <= last && fd < SHIM_MAX_FD; fd++)
		forget_fd((int)fd);
}

int close(int fd)
{
	shim_init();
	forget_fd(fd);
	return real.close(fd);
}

/*
 * CLOSE_RANGE_CLOEXEC only marks the numbers (the kernel's flag on a
 * socket's placeholder is what the shim reads at exec): it passes straight
 * through.  CLOSE_RANGE_UNSHARE closes them as well, in the caller's own
 * copy of the table (in a single-threaded process or a fork child before
 * exec, the only one): forgotten too.  Flags the kernel refuses close
 * nothing, so nothing is forgotten for them.
 */
int close_range(unsigned int first, unsigned int last, int flags)
{
	shim_init();
	bool closes = !(flags & ~(CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE)) &&
		      !(flags & CLOSE_RANGE_CLOEXEC);
	if (first <= last && closes)
		forget_range(first, last);
	if (real.close_range)
		return real.close_range(first, last, flags);
	return (int)syscall(SYS_close_range, first, last, flags);
}

void closefrom(int lowfd)
{
	shim_init();
	forget_range(lowfd < 0 ? 0 : (unsigned int)lowfd, ~0u);
	if (real.closefrom) {
		real.closefrom(lowfd);
		return;
	}
	syscall(SYS_close_range, lowfd < 0 ? 0 : (unsigned int)lowfd, ~0u, 0);
}
