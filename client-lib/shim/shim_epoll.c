// SPDX-License-Identifier: MIT
/*
 * shim_epoll.c - epoll over a mix of bypass and kernel fds.
 *
 * Kernel fds live in the real epoll instance.  Bypass fds are kept in a
 * side list per epoll fd, and libbypass's wake eventfd is added to the real
 * instance under a magic tag: epoll_wait() first scans the side list, and
 * when nothing is ready blocks in the kernel until either a kernel fd or
 * the daemon wakes it.
 *
 * Edge-triggered entries report again only when the daemon moved the
 * flow's monotonic counters (bytes received, bytes acknowledged, flags,
 * connections delivered), which is exactly "new data / new space arrived".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shim.h"
#include "bp_internal.h"

#define WAKE_TAG 0xb7a55e11b7a55e11ull
#define THREAD_TAG 0xb7a55e1200000000ull /* | the thread's eventfd */
#define MAX_THREAD_FDS 256 /* threads waiting on one epoll set at once */

struct ep_ent {
	int fd;
	struct shim_sock *s;
	uint32_t events;
	epoll_data_t data;
	bool disabled;          /* EPOLLONESHOT fired */
	uint64_t seen_rx, seen_tx;
	uint32_t seen_flags;
};

struct ep {
	int epfd;
	pthread_mutex_t lock;
	struct ep_ent *ents;
	int n, cap;
	bool wake_added;
	int cursor;             /* where the next scan starts (fairness) */
	bool kernel_first;      /* this wait looks at the kernel fds first */
	int thread_fds[MAX_THREAD_FDS]; /* waiting threads' eventfds added so far */
	int n_thread_fds;
	struct ep *next;
};

static struct ep *eps[SHIM_MAX_FD];
static struct ep *ep_list;
static pthread_mutex_t eps_lock = PTHREAD_MUTEX_INITIALIZER;

bool shim_is_epoll(int fd)
{
	return fd >= 0 && fd < SHIM_MAX_FD && __atomic_load_n(&eps[fd], __ATOMIC_ACQUIRE);
}

static struct ep *ep_get(int epfd, bool create)
{
	if (epfd < 0 || epfd >= SHIM_MAX_FD)
		return NULL;
	struct ep *ep = __atomic_load_n(&eps[epfd], __ATOMIC_ACQUIRE);
	if (ep || !create)
		return ep;
	pthread_mutex_lock(&eps_lock);
	if (!eps[epfd] && (ep = calloc(1, sizeof(*ep)))) {
		ep->epfd = epfd;
		pthread_mutex_init(&ep->lock, NULL);
		ep->next = ep_list;
		ep_list = ep;
		__atomic_store_n(&eps[epfd], ep, __ATOMIC_RELEASE);
	}
	ep = eps[epfd];
	pthread_mutex_unlock(&eps_lock);
	return ep;
}

void shim_epoll_forget(int epfd)
{
	pthread_mutex_lock(&eps_lock);
	struct ep *ep = eps[epfd];
	__atomic_store_n(&eps[epfd], NULL, __ATOMIC_RELEASE);
	for (struct ep **pp = &ep_list; ep && *pp; pp = &(*pp)->next) {
		if (*pp == ep) {
			*pp = ep->next;
			break;
		}
	}
	pthread_mutex_unlock(&eps_lock);
	if (ep) {
		free(ep->ents);
		free(ep);
	}
}

/* fork() while another thread holds the table's locks (a thread that
 * exits takes them): the child must not inherit them held */
void shim_epoll_fork_prepare(void)
{
	pthread_mutex_lock(&eps_lock);
	for (struct ep *ep = ep_list; ep; ep = ep->next)
		pthread_mutex_lock(&ep->lock);
}

void shim_epoll_fork_parent(void)
{
	for (struct ep *ep = ep_list; ep; ep = ep->next)
		pthread_mutex_unlock(&ep->lock);
	pthread_mutex_unlock(&eps_lock);
}

void shim_epoll_fork_child(void)
{
	shim_epoll_fork_parent(); /* the child's one thread is the one that locked */
}

/* a thread that waited is gone, its eventfd about to be closed (which
 * takes it out of the kernel's sets) */
void shim_epoll_thread_fd_gone(int efd)
{
	pthread_mutex_lock(&eps_lock);
	for (struct ep *ep = ep_list; ep; ep = ep->next) {
		pthread_mutex_lock(&ep->lock);
		for (int i = 0; i < ep->n_thread_fds; i++) {
			if (ep->thread_fds[i] == efd) {
				ep->thread_fds[i] = ep->thread_fds[--ep->n_thread_fds];
				break;
			}
		}
		pthread_mutex_unlock(&ep->lock);
	}
	pthread_mutex_unlock(&eps_lock);
}

static int ent_find(struct ep *ep, int fd)
{
	for (int i = 0; i < ep->n; i++)
		if (ep->ents[i].fd == fd)
			return i;
	return -1;
}

/* a closed fd leaves every epoll set, as in the kernel */
void shim_epoll_fd_closed(int fd)
{
	pthread_mutex_lock(&eps_lock);
	for (struct ep *ep = ep_list; ep; ep = ep->next) {
		pthread_mutex_lock(&ep->lock);
		int i = ent_find(ep, fd);
		if (i >= 0)
			ep->ents[i] = ep->ents[--ep->n];
		pthread_mutex_unlock(&ep->lock);
	}
	pthread_mutex_unlock(&eps_lock);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	shim_init();
	struct shim_sock *s = shim_get_active(fd);
	if (!s)
		return real.epoll_ctl(epfd, op, fd, ev);
	struct ep *ep = ep_get(epfd, op == EPOLL_CTL_ADD);
	if (!ep) {
		errno = op == EPOLL_CTL_ADD ? ENOMEM : ENOENT;
		return -1;
	}
	struct bp_ctx *c = shim_ctx();
	int rc = 0;
	pthread_mutex_lock(&ep->lock);
	int i = ent_find(ep, fd);
	switch (op) {
	case EPOLL_CTL_ADD:
		if (i >= 0) {
			errno = EEXIST;
			rc = -1;
			break;
		}
		if (ep->n == ep->cap) {
			int cap = ep->cap ? 2 * ep->cap : 16;
			struct ep_ent *n = realloc(ep->ents, (size_t)cap * sizeof(*n));
			if (!n) {
				errno = ENOMEM;
				rc = -1;
				break;
			}
			ep->ents = n;
			ep->cap = cap;
		}
		i = ep->n++;
		/* fall through */
	case EPOLL_CTL_MOD:
		if (i < 0 || !ev) {
			errno = ev ? ENOENT : EFAULT;
			rc = -1;
			break;
		}
		ep->ents[i] = (struct ep_ent){ .fd = fd, .s = s, .events = ev->events,
					       .data = ev->data, .seen_rx = UINT64_MAX,
					       .seen_tx = UINT64_MAX, .seen_flags = UINT32_MAX };
		break;
	case EPOLL_CTL_DEL:
		if (i < 0) {
			errno = ENOENT;
			rc = -1;
			break;
		}
		ep->ents[i] = ep->ents[--ep->n];
		break;
	default:
		errno = EINVAL;
		rc = -1;
	}
	if (!rc && !ep->wake_added) {
		struct epoll_event we = { .events = EPOLLIN, .data.u64 = WAKE_TAG };
		if (real.epoll_ctl(epfd, EPOLL_CTL_ADD, bp_wait_fd(c), &we) == 0 || errno == EEXIST)
			ep->wake_added = true;
	}
	pthread_mutex_unlock(&ep->lock);
	return rc;
}

/*
 * Bypass entries that are ready; edge-triggered ones only on news.  Each
 * scan starts after the last entry the previous one reported, as Linux
 * moves a reported level-triggered item to the back of its ready list:
 * with more ready entries than @max, every one still gets its turn.
 */
static int scan(struct ep *ep, struct bp_ctx *c, struct epoll_event *out, int max)
{
	int n = 0;
	pthread_mutex_lock(&ep->lock);
	int start = ep->n ? ep->cursor % ep->n : 0;
	for (int k = 0; k < ep->n && n < max; k++) {
		int i = (start + k) % ep->n;
		struct ep_ent *e = &ep->ents[i];
		if (e->disabled)
			continue;
		/* an edge-triggered entry's counters are read before its
		 * readiness: news that lands in between is then seen as news
		 * again next time (at worst reported twice), never recorded as
		 * seen without being reported */
		uint64_t rx = 0, tx = 0;
		uint32_t fl = 0;
		if (e->events & EPOLLET) {
			int h = __atomic_load_n(&e->s->h, __ATOMIC_ACQUIRE);
			/* shut_rd, shut_wr, listen_shut: a shutdown() is news
			 * (EPOLLIN|EPOLLRDHUP, EPOLLOUT, EPOLLHUP); a shut
			 * listener has no handle left to read */
			fl = (uint32_t)e->s->shut_rd << 31 | (uint32_t)e->s->listen_shut << 30 |
			     (uint32_t)__atomic_load_n(&e->s->shut_wr, __ATOMIC_ACQUIRE) << 29;
			if (h >= 0) {
				struct bp_flow_shm *f = &c->flows[h];
				rx = e->s->listener ? __atomic_load_n(&f->listen_pending, __ATOMIC_ACQUIRE)
						    : __atomic_load_n(&f->rx_written, __ATOMIC_ACQUIRE);
				tx = __atomic_load_n(&f->tx_acked, __ATOMIC_ACQUIRE);
				fl |= __atomic_load_n(&f->flags, __ATOMIC_ACQUIRE) |
				      __atomic_load_n(&f->state, __ATOMIC_ACQUIRE) << 8;
			}
		}
		uint32_t bits = (uint16_t)shim_poll_bits(shim_ready(e->s), (short)e->events);
		if (!bits)
			continue;
		if (e->events & EPOLLET) {
			bool news = fl != e->seen_flags || ((bits & EPOLLIN) && rx != e->seen_rx) ||
				    ((bits & EPOLLOUT) && tx != e->seen_tx);
			e->seen_rx = rx;
			e->seen_tx = tx;
			e->seen_flags = fl;
			if (!news)
				continue;
		}
		if (e->events & EPOLLONESHOT)
			e->disabled = true;
		out[n].events = bits;
		out[n].data = e->data;
		n++;
		ep->cursor = i + 1;
	}
	int total = ep->n;
	pthread_mutex_unlock(&ep->lock);
	return total ? n : -1;
}

static int ep_wait_loop(struct ep *ep, struct bp_ctx *c, struct epoll_event *evs, int max,
			int timeout, const sigset_t *mask);

/* make sure this thread's own wake eventfd is in the kernel epoll set */
static void add_thread_fd(struct ep *ep)
{
	int efd = shim_thread_efd();
	if (efd < 0)
		return;
	pthread_mutex_lock(&ep->lock);
	int i;
	for (i = 0; i < ep->n_thread_fds && ep->thread_fds[i] != efd; i++)
		;
	if (i == ep->n_thread_fds && i < MAX_THREAD_FDS) {
		struct epoll_event te = { .events = EPOLLIN, .data.u64 = THREAD_TAG | (uint32_t)efd };
		if (real.epoll_ctl(ep->epfd, EPOLL_CTL_ADD, efd, &te) == 0 || errno == EEXIST)
			ep->thread_fds[ep->n_thread_fds++] = efd;
	}
	pthread_mutex_unlock(&ep->lock);
}

static int ep_wait(int epfd, struct epoll_event *evs, int max, int timeout, const sigset_t *mask)
{
	struct ep *ep = ep_get(epfd, false);
	if (!ep || max <= 0)
		return real.epoll_pwait(epfd, evs, max, timeout, mask);
	struct bp_ctx *c = shim_ctx();
	add_thread_fd(ep);
	shim_waiter_enter();
	int ret = ep_wait_loop(ep, c, evs, max, timeout, mask);
	shim_waiter_leave();
	return ret;
}

/*
 * The kernel's @kn events in @evs: keep the program's, drop our own
 * wakeups (the daemon's and the threads' fds), say if one came.
 * Return: how many were kept (at the front of @evs).
 */
static int keep_kernel_events(struct epoll_event *evs, int kn, bool *woke)
{
	int out = 0;

	for (int i = 0; i < kn; i++) {
		if (evs[i].data.u64 == WAKE_TAG) {
			*woke = true;
		} else if ((evs[i].data.u64 & ~0xffffffffull) == THREAD_TAG) {
			*woke = true;
			if ((int)(uint32_t)evs[i].data.u64 == shim_thread_efd()) {
				uint64_t v;
				ssize_t r = real.read(shim_thread_efd(), &v, sizeof(v));
				(void)r;
			}
		} else {
			evs[out++] = evs[i];
		}
	}
	return out;
}

static int ep_wait_loop(struct ep *ep, struct bp_ctx *c, struct epoll_event *evs, int max,
			int timeout, const sigset_t *mask)
{
	int epfd = ep->epfd;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		bool woke = false;
		int out = 0;

		shim_pump(c); /* take pending events, arm the wake fd */
		/* every other wait the kernel's fds go first: bypass sockets
		 * that keep @max entries ready (EPOLLOUT nearly always is)
		 * must not starve pipes, timers and loopback connections */
		bool kernel_first = ep->kernel_first = !ep->kernel_first;
		if (kernel_first) {
			int kn = real.epoll_pwait(epfd, evs, max, 0, mask);
			if (kn < 0)
				return -1;
			out = keep_kernel_events(evs, kn, &woke);
		}
		int n = out < max ? scan(ep, c, evs + out, max - out) : 0;
		if (n > 0) /* < 0: no bypass fds left; our wake fds still need filtering */
			out += n;
		int left = timeout;
		if (timeout > 0) {
			struct timespec t1;
			clock_gettime(CLOCK_MONOTONIC, &t1);
			long el = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
			left = el >= timeout ? 0 : timeout - (int)el;
		}
		if (out)
			return out; /* the kernel was asked first, or bypass filled it */
		int kn = real.epoll_pwait(epfd, evs, max, left, mask);
		if (kn < 0)
			return -1;
		out = keep_kernel_events(evs, kn, &woke);
		if (out || !left || !woke)
			return out;
	}
}

int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	shim_init();
	return ep_wait(epfd, evs, max, timeout, NULL);
}

int epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout, const sigset_t *mask)
{
	shim_init();
	return ep_wait(epfd, evs, max, timeout, mask);
}
