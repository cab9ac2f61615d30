// SPDX-License-Identifier: MIT
/*
 * shim_poll.c - poll/ppoll/select/pselect over a mix of bypass and kernel
 * fds.  Bypass readiness comes from libbypass; while nothing is ready the
 * thread blocks in the kernel's poll on the kernel fds plus libbypass's
 * wake eventfd, so a mixed wait never spins.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shim.h"

/* bypass readiness bits -> poll bits, restricted to what was asked for */
short shim_poll_bits(unsigned r, short events)
{
	short rev = 0;
	if (r & BP_READABLE)
		rev |= POLLIN | POLLRDNORM;
	if (r & BP_WRITABLE)
		rev |= POLLOUT | POLLWRNORM;
	if (r & BP_HUP)
		rev |= POLLRDHUP | POLLIN | POLLRDNORM;
	rev &= (short)(events | POLLERR | POLLHUP);
	if (r & (BP_ERROR | SHIM_HUNG_UP))
		rev |= POLLHUP;
	if (r & BP_ERROR)
		rev |= POLLERR;
	return rev;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* the core: @timeout_ns < 0 means forever */
static int mixed_poll(struct pollfd *fds, nfds_t n, int64_t timeout_ns, const sigset_t *mask)
{
	nfds_t nbp = 0;
	for (nfds_t i = 0; i < n; i++)
		if (shim_get_active(fds[i].fd))
			nbp++;
	if (!nbp) {
		if (timeout_ns < 0)
			return real.ppoll(fds, n, NULL, mask);
		struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
		return real.ppoll(fds, n, &ts, mask);
	}
	struct bp_ctx *c = shim_ctx();
	struct pollfd stack[64], *k = n + 2 <= 64 ? stack : malloc((n + 2) * sizeof(*k));
	nfds_t *map = malloc(n * sizeof(*map) + 1);
	if (!k || !map) {
		if (k != stack)
			free(k);
		free(map);
		errno = ENOMEM;
		return -1;
	}
	int64_t deadline = timeout_ns < 0 ? -1 : now_ns() + timeout_ns;
	int ret;
	shim_waiter_enter();
	for (;;) {
		shim_pump(c); /* take pending events, arm the wake fd */
		int ready = 0;
		nfds_t nk = 0;
		for (nfds_t i = 0; i < n; i++) {
			struct shim_sock *s = shim_get(fds[i].fd);
			if (s) {
				fds[i].revents = shim_poll_bits(shim_ready(s), fds[i].events);
				ready += fds[i].revents != 0;
			} else {
				fds[i].revents = 0;
				k[nk] = fds[i];
				map[nk++] = i;
			}
		}
		int64_t left = deadline < 0 ? -1 : deadline - now_ns();
		if (ready || left == 0 || (deadline >= 0 && left < 0))
			left = 0;
		k[nk] = (struct pollfd){ .fd = bp_wait_fd(c), .events = POLLIN };
		k[nk + 1] = (struct pollfd){ .fd = shim_thread_efd(), .events = POLLIN };
		struct timespec ts = { left / 1000000000, left % 1000000000 };
		int kr = real.ppoll(k, nk + 2, left < 0 ? NULL : &ts, mask);
		if (kr < 0) {
			ret = ready ? ready : -1;
			break;
		}
		for (nfds_t j = 0; j < nk; j++) {
			fds[map[j]].revents = k[j].revents;
			ready += k[j].revents != 0;
		}
		if (k[nk + 1].revents & POLLIN) {
			uint64_t v;
			ssize_t rr = real.read(k[nk + 1].fd, &v, sizeof(v));
			(void)rr;
		}
		if (ready || !left || !((k[nk].revents | k[nk + 1].revents) & POLLIN)) {
			ret = ready;
			break;
		}
		/* only the daemon woke us: look at the bypass fds again */
	}
	shim_waiter_leave();
	if (k != stack)
		free(k);
	free(map);
	return ret;
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	shim_init();
	return mixed_poll(fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000, NULL);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	shim_init();
	return mixed_poll(fds, n, ts ? (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec : -1, mask);
}

static int mixed_select(int nfds, fd_set *r, fd_set *w, fd_set *e, int64_t timeout_ns,
			const sigset_t *mask)
{
	struct pollfd stack[256], *p = stack;
	int n = 0;
	if (nfds > 256 && !(p = malloc((size_t)nfds * sizeof(*p)))) {
		errno = ENOMEM;
		return -1;
	}
	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;
		if (r && FD_ISSET(fd, r))
			ev |= POLLIN;
		if (w && FD_ISSET(fd, w))
			ev |= POLLOUT;
		if (e && FD_ISSET(fd, e))
			ev |= POLLPRI;
		if (ev)
			p[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	int rc = mixed_poll(p, (nfds_t)n, timeout_ns, mask);
	if (rc >= 0) {
		rc = 0;
		if (r)
			FD_ZERO(r);
		if (w)
			FD_ZERO(w);
		if (e)
			FD_ZERO(e);
		for (int i = 0; i < n; i++) {
			short rev = p[i].revents;
			if (r && (rev & (POLLIN | POLLHUP | POLLERR)) && (p[i].events & POLLIN)) {
				FD_SET(p[i].fd, r);
				rc++;
			}
			if (w && (rev & (POLLOUT | POLLERR)) && (p[i].events & POLLOUT)) {
				FD_SET(p[i].fd, w);
				rc++;
			}
			if (e && (rev & POLLPRI)) {
				FD_SET(p[i].fd, e);
				rc++;
			}
		}
	}
	if (p != stack)
		free(p);
	return rc;
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	shim_init();
	return mixed_select(nfds, r, w, e,
			    tv ? (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000 : -1,
			    NULL);
}

int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
	    const sigset_t *mask)
{
	shim_init();
	return mixed_select(nfds, r, w, e,
			    ts ? (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec : -1, mask);
}

/* _FORTIFY_SOURCE builds (memcached) call this instead of poll() */
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return poll(fds, n, timeout);
}
