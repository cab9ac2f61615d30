// SPDX-License-Identifier: MIT
/*
 * shim_sock.c - socket lifecycle: bind, listen, accept, connect,
 * shutdown, names, options, fcntl/ioctl, dup (close: shim_close.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include "shim.h"
#include "bp_internal.h"
#include "bypass/shm_abi.h"

/* an AF_INET stream socket the kernel owns, or not */
static bool inet_stream(int fd)
{
	int v = 0;
	socklen_t l = sizeof(v);
	if (real.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) || v != AF_INET)
		return false;
	l = sizeof(v);
	return !real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) && v == SOCK_STREAM;
}

static void fill_addr(struct sockaddr *addr, socklen_t *len, uint32_t ip, uint16_t port)
{
	if (!addr || !len)
		return;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = ip };
	memcpy(addr, &sin, *len < sizeof(sin) ? *len : sizeof(sin));
	*len = sizeof(sin);
}

/* options set on the kernel socket before it became a bypass one */
static void inherit_kernel_opts(int fd, struct shim_sock *s)
{
	struct timeval tv;
	socklen_t l = sizeof(s->keepalive);
	real.getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &s->keepalive, &l);
	l = sizeof(tv);
	if (!real.getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &l))
		s->rcvtimeo_ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
	l = sizeof(tv);
	if (!real.getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &l))
		s->sndtimeo_ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
	l = sizeof(s->linger);
	real.getsockopt(fd, SOL_SOCKET, SO_LINGER, &s->linger, &l);
}

/* SO_LINGER {1, 0}: the daemon resets the flow at its last close, also
 * the close that this process's exit or death makes (it sees no close()) */
static bool linger_resets(const struct shim_sock *s)
{
	return s->linger.l_onoff && !s->linger.l_linger;
}

/* SO_LINGER to the daemon, which keeps it with the connection.  Not on a
 * connection a fork relative adopted away (-ESTALE): a setsockopt() does
 * not take it back, as send() does; our close() then acts on our copy */
static void linger_sync(struct shim_sock *s)
{
	s->linger_daemon = !bp_linger_reset(shim_ctx(), s->h, linger_resets(s));
}

/* a new connection's options that the daemon keeps (SO_KEEPALIVE,
 * SO_LINGER {1, 0}): inherited from the listener or set before connect() */
static void daemon_opts(struct bp_ctx *c, struct shim_sock *s)
{
	if (s->keepalive)
		bp_keepalive(c, s->h, true);
	if (linger_resets(s))
		linger_sync(s);
}

static struct shim_sock *sock_new(int h)
{
	struct shim_sock *s = calloc(1, sizeof(*s));
	if (s) {
		s->h = h;
		s->ksock = -1;
		s->nodelay = 1;
	}
	return s;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	shim_init();
	/* the bypass address is not a kernel address here: remember a
	 * non-loopback bind and apply it at listen() */
	if (addr && len >= sizeof(struct sockaddr_in) && addr->sa_family == AF_INET &&
	    inet_stream(fd)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
		if (shim_listen_selected(sin->sin_addr.s_addr, ntohs(sin->sin_port))) {
			struct shim_bound *b = shim_bound(fd);
			if (b) {
				shim_bound_unreserve(b); /* bound before: its port goes */
				b->valid = true;
				b->ip = sin->sin_addr.s_addr;
				b->port = ntohs(sin->sin_port);
				return 0;
			}
		}
	}
	return real.bind(fd, addr, len);
}

/*
 * bind(port 0) on a bypass address, at listen() or the first getsockname():
 * the daemon picks the port now and holds it (a reservation takes no
 * connections, as a socket that is bound but not listening), so the port
 * getsockname() names is the one this process, or its pre-fork workers,
 * will listen on.  Without a daemon it stays 0.
 */
static void reserve_port(int fd, struct shim_bound *b)
{
	struct bp_ctx *c = shim_ctx();
	struct bp_flow_info fi;
	int none = 0;
	if (!c)
		return;
	uint32_t ip = b->ip == htonl(INADDR_ANY) ? 0 : b->ip;
	/* the kernel socket proves to the daemon that a worker which inherited
	 * it shares the port (shim_listen_now()) */
	int h = bp_listen_reserve(c, ip, 0, b->ksock1 ? b->ksock1 - 1 : fd);
	if (h < 0)
		return;
	/* no lock across the round trip (a fork meanwhile would inherit it
	 * held): of two threads asking at once, the first to install wins */
	if (!bp_flow_info(c, h, &fi) && fi.local_port &&
	    __atomic_compare_exchange_n(&b->reserve_h1, &none, h + 1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		__atomic_store_n(&b->port, fi.local_port, __ATOMIC_RELEASE);
		return;
	}
	bp_close(c, h);
}

/*
 * A listener is converted lazily, on the first accept/poll/epoll in the
 * process that does it: a pre-fork server (nginx) listens in its master and
 * accepts in its workers, so each worker gets its own daemon-side listener
 * on the shared port and the master, which never accepts, gets none.
 */
int listen(int fd, int backlog)
{
	shim_init();
	struct shim_bound *b = shim_bound(fd);
	struct shim_sock *s = shim_get(fd);
	if (s && s->listener && s->listen_shut)
		return shim_listener_reopen(s, backlog > 0 ? backlog : 128);
	if (s)
		return 0; /* already listening through bypass */
	if (!b || !b->valid)
		return real.listen(fd, backlog);
	b->listening = true;
	b->backlog = backlog > 0 ? backlog : 128;
	if (!b->port)
		reserve_port(fd, b); /* one port for every process that will accept */
	return 0;
}

/* turn a pending listener into a bypass listener in this process */
struct shim_sock *shim_listen_now(int fd, struct shim_bound *b)
{
	struct bp_ctx *c = shim_ctx();
	if (!c)
		return NULL;
	uint32_t ip = b->ip == htonl(INADDR_ANY) ? 0 : b->ip;
	/* the kernel socket every process sharing this listener inherited:
	 * the daemon lets only its holders (of our uid) join the port */
	int ksock = b->ksock1 ? b->ksock1 - 1 : real.fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (ksock < 0)
		return NULL;
	int h = bp_listen_share(c, ip, b->port, b->backlog, ksock);
	struct shim_sock *s = h >= 0 ? sock_new(h) : NULL;
	if (!s) {
		if (h >= 0)
			bp_close(c, h);
		if (!b->ksock1)
			real.close(ksock); /* fd itself still is the kernel socket */
		errno = h < 0 ? -h : ENOMEM;
		return NULL;
	}
	b->ksock1 = 0;
	s->ksock = ksock;
	s->listener = true;
	inherit_kernel_opts(ksock, s); /* set before listen(): its children get them */
	s->ip = ip ? ip : bp_local_ip(c);
	s->port = b->port;
	s->backlog = b->backlog;
	struct bp_flow_info fi;
	if (!b->port && !bp_flow_info(c, h, &fi))
		s->port = fi.local_port;
	s->nonblock = (real.fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
	int cloexec = real.fcntl(fd, F_GETFD) & FD_CLOEXEC;
	if (shim_install(fd, s, cloexec)) {
		int e = errno;
		bp_close(c, h);
		free(s);
		errno = e;
		return NULL;
	}
	return s;
}

static int do_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct shim_bound *b = shim_bound(fd);
	struct shim_sock *l = shim_get_active(fd);
	if (!l && b && b->listening)
		return -1; /* conversion failed; errno set */
	if (!l)
		return flags ? real.accept4(fd, addr, len, flags) : real.accept(fd, addr, len);
	/* held for the whole call: a close() on another thread wakes its wait
	 * with EBADF and frees the socket only once the call is out */
	struct shim_sock *held SHIM_HELD = shim_hold(fd);
	if (held != l) { /* closed (or its number reused) since */
		errno = EBADF;
		return -1;
	}
	if (!l->listener || l->listen_shut) {
		errno = EINVAL; /* not listening (any more) */
		return -1;
	}
	struct bp_ctx *c = shim_ctx();
	uint64_t deadline = shim_deadline(l->rcvtimeo_ms); /* SO_RCVTIMEO: EAGAIN */
	int h;
	while ((h = bp_accept(c, l->h)) == -EAGAIN) {
		if (l->nonblock) {
			errno = EAGAIN;
			return -1;
		}
		if (shim_wait_until(l, deadline) &&
		    !(errno == EINTR && shim_eintr_restarts(deadline)))
			return -1;
	}
	if (h < 0 && l->listen_shut) {
		errno = EINVAL; /* shut by another thread while this one waited */
		return -1;
	}
	if (h < 0)
		return shim_errno(h);
	struct shim_sock *s = sock_new(h);
	int nfd = s ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
	if (nfd < 0 || shim_install(nfd, s, flags & SOCK_CLOEXEC)) {
		int e = s ? errno : ENOMEM;
		bp_abort(c, h);
		free(s);
		if (nfd >= 0)
			real.close(nfd);
		errno = e;
		return -1;
	}
	s->nonblock = (flags & SOCK_NONBLOCK) != 0;
	/* as on Linux, an accepted socket starts with its listener's options
	 * (nginx's so_keepalive is set on the listening socket) */
	s->keepalive = l->keepalive;
	s->nodelay = l->nodelay;
	s->rcvtimeo_ms = l->rcvtimeo_ms;
	s->sndtimeo_ms = l->sndtimeo_ms;
	s->linger = l->linger;
	daemon_opts(c, s);
	struct bp_flow_info fi;
	if (!bp_flow_info(c, h, &fi))
		fill_addr(addr, len, fi.remote_ip, fi.remote_port);
	return nfd;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	shim_init();
	return do_accept(fd, addr, len, 0);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	shim_init();
	return do_accept(fd, addr, len, flags);
}

/*
 * How a connect() of @s went: -EINPROGRESS, 0 or -errno; once it is known
 * it is reported once.  A reset after the handshake (a refused one is
 * ECONNREFUSED) is the connection's news, not connect()'s: Linux's
 * connect() completes with the handshake, and the next call reports the
 * reset, however soon it came.
 */
static int connect_outcome(struct shim_sock *s)
{
	int st = s->listener ? 0 : bp_connect_status(shim_ctx(), s->h);

	if (st == -EINPROGRESS || !__atomic_exchange_n(&s->connect_pending, false, __ATOMIC_RELAXED))
		return st;
	return st == -ECONNRESET ? 0 : st;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	shim_init();
	struct shim_sock *held SHIM_HELD = shim_hold(fd), *s = held;
	if (s) {
		/* a second connect() on a non-blocking socket: report progress */
		int st = connect_outcome(s);
		if (st == -EINPROGRESS) {
			errno = EALREADY;
			return -1;
		}
		if (st == 0) {
			errno = EISCONN;
			return -1;
		}
		s->err_told = true; /* reported here, as Linux's so_error is */
		return shim_errno(st);
	}
	if (!addr || len < sizeof(struct sockaddr_in) || addr->sa_family != AF_INET ||
	    !inet_stream(fd))
		return real.connect(fd, addr, len);
	const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
	if (!shim_connect_selected(sin->sin_addr.s_addr))
		return real.connect(fd, addr, len);
	struct bp_ctx *c = shim_ctx();
	if (!c) {
		errno = ENETDOWN;
		return -1;
	}
	struct shim_bound *b = shim_bound(fd);
	int h = bp_connect_cc(c, sin->sin_addr.s_addr, ntohs(sin->sin_port),
			      b && b->cc[0] ? b->cc : NULL);
	if (h < 0)
		return shim_errno(h);
	s = sock_new(h);
	if (!s) {
		bp_abort(c, h);
		errno = ENOMEM;
		return -1;
	}
	inherit_kernel_opts(fd, s);
	daemon_opts(c, s);
	s->nonblock = (real.fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
	s->connect_pending = true; /* before another thread can see @s */
	bool nonblock = s->nonblock;
	if (shim_install(fd, s, real.fcntl(fd, F_GETFD) & FD_CLOEXEC)) {
		int e = errno;
		bp_abort(c, h);
		free(s);
		errno = e;
		return -1;
	}
	if (nonblock) {
		errno = EINPROGRESS;
		return -1;
	}
	/* held while it waits, as accept() holds its listener */
	held = shim_hold(fd);
	if (held != s) { /* closed by another thread already */
		errno = EBADF;
		return -1;
	}
	/* SO_SNDTIMEO bounds a blocking connect: then EINPROGRESS, as on Linux,
	 * and the handshake goes on (poll, or connect() again, tells) */
	uint64_t deadline = shim_deadline(s->sndtimeo_ms);
	int st;
	while ((st = connect_outcome(s)) == -EINPROGRESS) {
		uint64_t now = shim_deadline(1) - 1;
		if (now >= deadline) {
			errno = EINPROGRESS;
			return -1;
		}
		if (shim_wait(s, deadline - now < 100 ? (int)(deadline - now) : 100) &&
		    !(errno == EINTR && shim_eintr_restarts(deadline)))
			return -1;
	}
	if (st)
		s->err_told = true; /* reported here, as Linux's so_error is */
	return st ? shim_errno(st) : 0;
}

int shutdown(int fd, int how)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	struct shim_bound *b = shim_bound(fd);
	if (!s && b && b->listening && (how == SHUT_RD || how == SHUT_RDWR)) {
		/* a listener this process has not converted: convert it (under
		 * the conversion lock, so a racing first accept sees it shut),
		 * then shut it below; the kernel socket under it never listened
		 * and would say ENOTCONN */
		if (shim_get_active(fd)) {
			s = shim_hold(fd);
			if (!s) { /* closed by another thread meanwhile */
				errno = EBADF;
				return -1;
			}
		}
		if (!s) {
			b->listening = false; /* no daemon: it stops all the same */
			shim_bound_unreserve(b);
			return 0;
		}
	} else if (!s && b && b->listening) {
		return 0; /* SHUT_WR on a listener: nothing, as on Linux */
	}
	if (!s)
		return real.shutdown(fd, how);
	if (s->listener) {
		if (how == SHUT_RD || how == SHUT_RDWR)
			shim_listener_shut(s); /* SHUT_WR alone: nothing, as on Linux */
		return 0;
	}
	/* held (a close() on another thread waits for this call), and the
	 * write side first: the reader the SHUT_RD wakes may close at once */
	int r = 0;
	if (how == SHUT_WR || how == SHUT_RDWR) {
		r = bp_shutdown(shim_ctx(), s->h);
		if (r >= 0 || r == -EPIPE) {
			r = 0;
			__atomic_store_n(&s->shut_wr, true, __ATOMIC_RELEASE);
		}
	}
	if (how == SHUT_RD || how == SHUT_RDWR)
		s->shut_rd = true; /* even if the write side failed, as Linux */
	/* a thread blocked reading returns 0, as on Linux; poll/epoll look
	 * again (writable now, maybe hung up) */
	shim_kick_waiters();
	return r < 0 ? shim_errno(r) : 0;
}

int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	struct shim_bound *b = shim_bound(fd);
	if (!s) {
		if (b && b->valid) {
			if (!b->port)
				reserve_port(fd, b);
			fill_addr(addr, len, b->ip, b->port);
			return 0;
		}
		return real.getsockname(fd, addr, len);
	}
	if (s->listener) {
		fill_addr(addr, len, s->ip, s->port);
		return 0;
	}
	struct bp_flow_info fi;
	int r = bp_flow_info(shim_ctx(), s->h, &fi);
	if (r < 0)
		return shim_errno(r);
	fill_addr(addr, len, fi.local_ip, fi.local_port);
	return 0;
}

int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	if (!s)
		return real.getpeername(fd, addr, len);
	return shim_peername(s, addr, len);
}

/* the peer of bypass socket @s, as getpeername() says it */
int shim_peername(struct shim_sock *s, struct sockaddr *addr, socklen_t *len)
{
	struct bp_flow_info fi;
	if (s->listener || bp_flow_info(shim_ctx(), s->h, &fi) < 0 ||
	    bp_connect_status(shim_ctx(), s->h) != 0) {
		errno = ENOTCONN;
		return -1;
	}
	fill_addr(addr, len, fi.remote_ip, fi.remote_port);
	return 0;
}

/* an int option with no bypass meaning, as the program set it (@add: make
 * room for it); NULL if never set (or no room: 8 per socket) */
static int *other_opt(struct shim_sock *s, int level, int name, bool add)
{
	for (int i = 0; i < s->nother; i++)
		if (s->other[i].level == level && s->other[i].name == name)
			return &s->other[i].val;
	if (!add || s->nother == (int)(sizeof(s->other) / sizeof(s->other[0])))
		return NULL;
	s->other[s->nother].level = level;
	s->other[s->nother].name = name;
	return &s->other[s->nother++].val;
}

/* an option never set on this socket that bypass does not model: what a
 * fresh kernel TCP socket answers, its default (or ENOPROTOOPT, where
 * Linux does not know the option either) */
static int kernel_default(int level, int name, void *val, socklen_t *len)
{
	int k = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k < 0)
		return -1;
	int r = real.getsockopt(k, level, name, val, len);
	int e = errno;
	real.close(k);
	errno = e;
	return r;
}

static int *opt_slot(struct shim_sock *s, int level, int name)
{
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_RCVBUF: return &s->rcvbuf;
		case SO_SNDBUF: return &s->sndbuf;
		case SO_KEEPALIVE: return &s->keepalive;
		case SO_REUSEADDR: return &s->reuseaddr;
		}
	} else if (level == IPPROTO_TCP && name == TCP_NODELAY) {
		return &s->nodelay;
	}
	return NULL;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	struct shim_bound *b = shim_bound(fd);
	if (!s && b && b->listening) {
		/* not converted in this process: it listens as far as the
		 * program can tell, though the kernel socket never did */
		if (level == IPPROTO_TCP && name == TCP_INFO)
			return shim_tcp_info(NULL, val, len);
		if (level == SOL_SOCKET && name == SO_ACCEPTCONN && val && len &&
		    *len >= sizeof(int)) {
			*(int *)val = 1;
			*len = sizeof(int);
			return 0;
		}
	}
	if (!s)
		return real.getsockopt(fd, level, name, val, len);
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
		int ms = name == SO_RCVTIMEO ? s->rcvtimeo_ms : s->sndtimeo_ms;
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		if (!val || !len || *len < sizeof(tv)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(val, &tv, sizeof(tv));
		*len = sizeof(tv);
		return 0;
	}
	if (level == IPPROTO_TCP && name == TCP_INFO)
		return shim_tcp_info(s, val, len);
	if (level == SOL_SOCKET && name == SO_LINGER) {
		if (!val || !len || *len < sizeof(struct linger)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(val, &s->linger, sizeof(s->linger));
		*len = sizeof(s->linger);
		return 0;
	}
	if (level == IPPROTO_TCP && name == TCP_CONGESTION)
		return shim_tcp_congestion(s, val, len);
	if (!val || !len || *len < sizeof(int)) {
		errno = EINVAL;
		return -1;
	}
	int v = 0;
	int *slot = opt_slot(s, level, name), *other;
	if (slot) {
		v = *slot;
		/* not set: the ring's size (what Linux reports is fixed too,
		 * never the room left at the moment) */
		struct bp_ctx *c = shim_ctx();
		if (!v && c && level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF))
			v = (int)(name == SO_RCVBUF ? c->rx_size : c->tx_size);
	} else if (level == SOL_SOCKET && name == SO_ERROR) {
		int st = connect_outcome(s);
		v = st == -EINPROGRESS || !st ? 0 : -shim_conn_error(s, st, false);
	} else if (level == SOL_SOCKET && name == SO_TYPE) {
		v = SOCK_STREAM;
	} else if (level == SOL_SOCKET && name == SO_DOMAIN) {
		v = AF_INET;
	} else if (level == SOL_SOCKET && name == SO_ACCEPTCONN) {
		v = s->listener && !s->listen_shut;
	} else if (level == IPPROTO_TCP && name == TCP_MAXSEG) {
		v = shim_tcp_maxseg(s);
	} else if ((other = other_opt(s, level, name, false))) {
		v = *other;
	} else {
		return kernel_default(level, name, val, len);
	}
	memcpy(val, &v, sizeof(v));
	*len = sizeof(v);
	return 0;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	if (!s && level == IPPROTO_TCP && name == TCP_CONGESTION && val && inet_stream(fd)) {
		/* the kernel may not know bypass's algorithms (dctcp, timely):
		 * remember the name for connect(); the daemon rejects unknown
		 * ones there with EINVAL */
		struct shim_bound *b = shim_bound(fd);
		size_t n = strnlen(val, len);
		if (!b || n >= sizeof(b->cc)) {
			errno = n >= sizeof(b->cc) ? EINVAL : EBADF;
			return -1;
		}
		memset(b->cc, 0, sizeof(b->cc));
		memcpy(b->cc, val, n);
		real.setsockopt(fd, level, name, val, len); /* for kernel paths; may fail */
		return 0;
	}
	if (!s)
		return real.setsockopt(fd, level, name, val, len);
	/* a listener's options go to its kernel socket too: a fork child or an
	 * exec'd image that takes the listener over reads them from there
	 * (inherit_kernel_opts()) for the connections it accepts */
	if (s->listener && s->ksock >= 0) {
		int e = errno;
		real.setsockopt(s->ksock, level, name, val, len); /* may fail: ours decides */
		errno = e;
	}
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
		struct timeval tv;
		if (!val || len < sizeof(tv)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(&tv, val, sizeof(tv));
		if (tv.tv_usec < 0 || tv.tv_usec >= 1000000 || tv.tv_sec < 0) {
			errno = EDOM;
			return -1;
		}
		long long ms = (long long)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
		*(name == SO_RCVTIMEO ? &s->rcvtimeo_ms : &s->sndtimeo_ms) =
			ms > INT32_MAX ? INT32_MAX : (int)ms;
		return 0;
	}
	if (level == SOL_SOCKET && name == SO_LINGER) {
		if (!val || len < sizeof(struct linger)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(&s->linger, val, sizeof(s->linger));
		if (!s->listener && s->h >= 0)
			linger_sync(s);
		return 0;
	}
	int *slot = opt_slot(s, level, name);
	if (!slot && val && len == sizeof(int))
		slot = other_opt(s, level, name, true);
	if (slot && val && len >= sizeof(int))
		memcpy(slot, val, sizeof(int));
	if (slot == &s->keepalive && !s->listener && s->h >= 0)
		bp_keepalive(shim_ctx(), s->h, s->keepalive != 0);
	return 0; /* other options have no bypass meaning: accepted, ignored */
}

int fcntl(int fd, int cmd, ...)
{
	shim_init();
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	struct shim_sock *s = shim_peek(fd);
	int r = real.fcntl(fd, cmd, arg);
	if (!s && r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		shim_bound_dup(fd, r);
	if (!s || r < 0)
		return r;
	switch (cmd) {
	case F_SETFL:
		s->nonblock = (arg & O_NONBLOCK) != 0;
		break;
	case F_GETFL: /* the placeholder is always non-blocking; the socket may not be */
		r = (r & ~O_NONBLOCK) | (s->nonblock ? O_NONBLOCK : 0);
		break;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC: /* socket.dup() in Python: another name for it */
		shim_alias(r, s);
		break;
	}
	return r;
}

int ioctl(int fd, unsigned long req, ...)
{
	shim_init();
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	if (s && (req == FIONREAD || req == SIOCOUTQ)) { /* FIONREAD is SIOCINQ */
		if (s->listener) {
			errno = EINVAL; /* as Linux answers for a listening socket */
			return -1;
		}
		struct bp_ctx *c = shim_ctx();
		size_t n = req == FIONREAD ? bp_rx_avail(c, s->h) : bp_tx_unacked(c, s->h);
		*(int *)arg = n > INT32_MAX ? INT32_MAX : (int)n;
		return 0;
	}
	if (s && req == FIONBIO)
		s->nonblock = *(int *)arg != 0;
	return real.ioctl(fd, req, arg);
}

int dup(int fd)
{
	shim_init();
	int n = real.dup(fd);
	struct shim_sock *s = shim_peek(fd);
	if (n >= 0 && s)
		shim_alias(n, s);
	else if (n >= 0)
		shim_bound_dup(fd, n);
	return n;
}

static int dup_onto(int oldfd, int newfd, int flags, bool is_dup3)
{
	if (oldfd == newfd)
		return is_dup3 ? (errno = EINVAL, -1) : real.dup2(oldfd, newfd);
	struct shim_sock *s = shim_peek(oldfd);
	struct shim_bound *nb = shim_bound(newfd);
	if (shim_is_epoll(newfd))
		shim_epoll_forget(newfd);
	if (shim_peek(newfd)) { /* dup2 closes what newfd named, as close() */
		shim_epoll_fd_closed(newfd);
		shim_put(newfd);
	} else if (nb) {
		shim_bound_drop(newfd);
		nb->valid = nb->listening = false;
	}
	int n = is_dup3 ? real.dup3(oldfd, newfd, flags) : real.dup2(oldfd, newfd);
	if (n >= 0 && s)
		shim_alias(n, s);
	else if (n >= 0)
		shim_bound_dup(oldfd, n);
	return n;
}

int dup2(int oldfd, int newfd)
{
	shim_init();
	return dup_onto(oldfd, newfd, 0, false);
}

int dup3(int oldfd, int newfd, int flags)
{
	shim_init();
	return dup_onto(oldfd, newfd, flags, true);
}

/* programs built with _FILE_OFFSET_BITS=64 (redis, nginx) call fcntl64 */
int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return fcntl(fd, cmd, arg);
}
