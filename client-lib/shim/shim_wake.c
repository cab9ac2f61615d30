// SPDX-License-Identifier: MIT
/*
 * shim_wake.c - wakeups for several threads waiting at once.
 *
 * The daemon kicks one eventfd per process.  If every waiting thread slept
 * on it, the first to wake would drain the events and reset it, and a
 * thread whose connection just became readable could sleep on.  So each
 * waiting thread also sleeps on an eventfd of its own, registered here
 * while it waits; whoever consumes daemon events kicks all the others.
 * A thread only ever resets its own eventfd, so no wakeup can be lost:
 * a thread registers before it looks at readiness, and readiness lives in
 * shared memory, not in the events.
 *
 * A blocking call (recv, accept, connect) waits in bp_wait() itself; when
 * that wait ends the daemon's app_sleeping is clear, though a poll/epoll
 * thread had armed it, so those threads are woken to arm it again
 * (shim_wait_ended()).  A thread's eventfd lives as long as the thread
 * (a pthread key's destructor, which also runs for a thread cancelled in
 * a wait): it leaves the fan-out list and every epoll set before it is
 * closed, so a reused number is never written to or taken as added.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "shim.h"

#define MAX_WAITERS 1024

static __thread int my_efd = -1;
static __thread int my_depth;
static int waiters[MAX_WAITERS];
static int nwaiters;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* a thread's eventfd goes with the thread: every epoll set forgets it
 * first, so the number, once reused, is never taken for one it holds */
static pthread_key_t efd_key;
static pthread_once_t efd_once = PTHREAD_ONCE_INIT;
static bool efd_key_ok;

/* @efd no longer waits: off the fan-out list */
static void waiters_remove(int efd)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nwaiters; i++) {
		if (waiters[i] == efd) {
			waiters[i] = waiters[--nwaiters];
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

static void efd_release(void *v)
{
	int efd = (int)(intptr_t)v - 1;

	/* a thread cancelled (or longjmp'd out) inside a wait is still
	 * listed: no fan-out may write to the number once it is reused */
	waiters_remove(efd);
	my_depth = 0;
	shim_epoll_thread_fd_gone(efd);
	real.close(efd);
	my_efd = -1;
}

static void efd_key_init(void)
{
	efd_key_ok = pthread_key_create(&efd_key, efd_release) == 0;
}

int shim_thread_efd(void)
{
	if (my_efd < 0) {
		my_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		pthread_once(&efd_once, efd_key_init);
		if (my_efd >= 0 && efd_key_ok)
			pthread_setspecific(efd_key, (void *)(intptr_t)(my_efd + 1));
	}
	return my_efd;
}

void shim_waiter_enter(void)
{
	int efd = shim_thread_efd();
	if (efd < 0 || my_depth++)
		return;
	pthread_mutex_lock(&lock);
	if (nwaiters < MAX_WAITERS)
		waiters[nwaiters++] = efd;
	pthread_mutex_unlock(&lock);
}

void shim_waiter_leave(void)
{
	if (my_efd < 0 || --my_depth)
		return;
	int saved = errno; /* the caller's result (EINTR ...) must survive */
	waiters_remove(my_efd);
	uint64_t v;
	ssize_t r = real.read(my_efd, &v, sizeof(v)); /* reset for next time */
	(void)r;
	errno = saved;
}

/**
 * shim_pump - take the daemon's pending events (and arm its wakeup); if
 * there were any, other waiting threads may be the ones they concern.
 */
void shim_fanout(void)
{
	uint64_t one = 1;
	int cancel;
	/* write() is a cancellation point: never taken with the lock held */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nwaiters; i++) {
		if (waiters[i] != my_efd) {
			ssize_t w = real.write(waiters[i], &one, sizeof(one));
			(void)w;
		}
	}
	pthread_mutex_unlock(&lock);
	pthread_setcancelstate(cancel, NULL);
}

/* a poll/epoll thread armed the daemon's wakeup since the last fan-out
 * that a blocking wait's end gave (shim_wait_ended()) */
static int pumped;

int shim_pump(struct bp_ctx *c)
{
	int r = bp_wait(c, 0);
	__atomic_store_n(&pumped, 1, __ATOMIC_RELEASE);
	if (r > 0)
		shim_fanout();
	return r;
}

/**
 * shim_wait_ended - a blocking call's wait ended, with @events from the
 * daemon or not.  Events may concern threads in poll/epoll; and a wait
 * that ends clears the daemon's app_sleeping, which a poll/epoll thread
 * had set by arming: the daemon kicks no more until those threads look
 * again and arm it back.  So they are woken then, once per arming (not on
 * every timed-out slice of every idle blocking read).
 */
void shim_wait_ended(bool events)
{
	if (events || __atomic_exchange_n(&pumped, 0, __ATOMIC_ACQ_REL))
		shim_fanout();
}

/* the child of fork() has one thread and none of the parent's waiters */
void shim_wake_after_fork(void)
{
	if (my_efd >= 0) {
		shim_epoll_thread_fd_gone(my_efd); /* the child's next one may reuse it */
		real.close(my_efd);
	}
	my_efd = -1;
	if (efd_key_ok)
		pthread_setspecific(efd_key, NULL);
	my_depth = 0;
	nwaiters = 0;
	pthread_mutex_init(&lock, NULL);
}
