// SPDX-License-Identifier: MIT
/*
 * shim_core.c - the shim's fd table, configuration, and the one libbypass
 * context of the process (attached on the first bypass socket).
 *
 * Configuration (environment):
 *   BYPASS_SHIM_LISTEN   ports whose listening sockets use bypass:
 *                        "all" (default) or "6379,80,8000-8100"
 *   BYPASS_SHIM_CONNECT  destinations that connect() through bypass:
 *                        "all" (default: every non-loopback address) or
 *                        CIDRs "198.18.0.0/15,10.1.0.0/16"
 *   BYPASS_SOCKET        fastpathd's control socket
 *   BYPASS_CC            congestion control of every flow (cubic, dctcp,
 *                        timely, newreno; default: the daemon's [tcp] cc);
 *                        setsockopt(TCP_CONGESTION) before connect() picks
 *                        one per socket
 * Loopback addresses always stay on the kernel.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/eventfd.h>

#include "shim.h"
#include "bp_internal.h"

struct shim_real real;

static struct shim_sock *table[SHIM_MAX_FD];
static struct shim_bound bound[SHIM_MAX_FD];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bp_ctx *ctx;
static bool attach_failed;
static char socket_path[256]; /* captured at load: servers may clear environ */
static char cc_name[16];      /* BYPASS_CC, captured likewise */

#define MAX_RULES 32
static struct { uint16_t lo, hi; } listen_rules[MAX_RULES];
static int n_listen_rules = -1;      /* -1: all */
static struct { uint32_t net, mask; } connect_rules[MAX_RULES];
static int n_connect_rules = -1;     /* -1: all */

#define LOAD(name) real.name = dlsym(RTLD_NEXT, #name)

static void parse_listen(const char *v)
{
	if (!v || !*v || !strcmp(v, "all"))
		return;
	n_listen_rules = 0;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *save, *tok = strtok_r(buf, ",", &save); tok && n_listen_rules < MAX_RULES;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned lo, hi;
		int n = sscanf(tok, "%u-%u", &lo, &hi);
		if (n == 1)
			hi = lo;
		if (n < 1 || lo > 65535 || hi > 65535 || lo > hi) {
			fprintf(stderr, "bypass-shim: BYPASS_SHIM_LISTEN: bad entry '%s' "
				"(want ports or ranges like 80,8000-8100, or all)\n", tok);
			continue;
		}
		listen_rules[n_listen_rules].lo = (uint16_t)lo;
		listen_rules[n_listen_rules++].hi = (uint16_t)hi;
	}
}

static void parse_connect(const char *v)
{
	if (!v || !*v || !strcmp(v, "all"))
		return;
	n_connect_rules = 0;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *save, *tok = strtok_r(buf, ",", &save); tok && n_connect_rules < MAX_RULES;
	     tok = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(tok, '/');
		int plen = 32;
		if (slash) {
			*slash = 0;
			plen = atoi(slash + 1);
		}
		struct in_addr a;
		if (inet_pton(AF_INET, tok, &a) != 1 || plen < 0 || plen > 32) {
			fprintf(stderr, "bypass-shim: BYPASS_SHIM_CONNECT: bad entry '%s' "
				"(want CIDRs like 198.18.0.0/15, or all)\n", tok);
			continue;
		}
		uint32_t mask = plen ? htonl(~0u << (32 - plen)) : 0;
		connect_rules[n_connect_rules].net = a.s_addr & mask;
		connect_rules[n_connect_rules++].mask = mask;
	}
}

/* a fork child that never attached closed a connection it inherited: the
 * daemon still counts it a holder (by pid), until it exits or its exec
 * says which it keeps (shim_exec.c: the exec attaches for that) */
static bool let_go_inherited;

/*
 * fork(): the child must not share the parent's context (its queues are
 * single-producer, and the parent's death must still close the control
 * socket).  The child drops it and attaches on its own when it first needs
 * bypass.  What it inherited stays usable, as with kernel sockets:
 *  - a listener becomes pending again and converts in the child on first
 *    accept/poll (a shared daemon-side listener on the same port);
 *  - a connection keeps its handoff key and is adopted (moved into the
 *    child's region, buffered bytes included) on first use, see
 *    shim_get().  The parent reports the child (fork() below) so the
 *    daemon keeps the connection open while the child holds it.
 */
static void after_fork_child(void)
{
	shim_wake_after_fork();
	let_go_inherited = false; /* the parent's: this child holds by its own pid */
	struct bp_ctx *c = ctx;
	if (!c)
		return;
	for (int fd = 0; fd < SHIM_MAX_FD; fd++) {
		struct shim_sock *s = table[fd];
		bound[fd].reserve_h1 = 0; /* the parent's hold: its port stays in .port */
		if (!s)
			continue;
		/* the parent's other threads, in calls or waits, are not here */
		s->calls = 0;
		s->waiters = 0;
		if (s->listener && s->listen_shut) {
			continue; /* stays shut in the child too: no handle to drop */
		} else if (s->listener) {
			/* each name gets its own copy of the kernel socket: the
			 * daemon's proof that we share it (see shim_listen_now) */
			int k = s->ksock >= 0 ? real.fcntl(s->ksock, F_DUPFD_CLOEXEC, 3) : -1;
			bound[fd] = (struct shim_bound){ .valid = true, .listening = true,
							 .backlog = s->backlog, .ip = s->ip,
							 .port = s->port, .ksock1 = k + 1 };
		} else if (s->h >= 0) {
			uint64_t key = 0;
			bp_flow_key(c, s->h, &key);
			s->key = key;
			s->h = -1;
		}
	}
	for (int fd = 0; fd < SHIM_MAX_FD; fd++) {
		struct shim_sock *s = table[fd];
		if (s && s->listener && !s->listen_shut) {
			if (s->ksock >= 0)
				real.close(s->ksock);
			s->ksock = -1;
			table[fd] = NULL; /* the struct leaks: other fds may share it */
		}
	}
	bp_forget_after_fork(c);
	ctx = NULL;
	attach_failed = false;
}

static void table_lock_take(void)
{
	pthread_mutex_lock(&table_lock);
}

static void table_lock_give(void)
{
	pthread_mutex_unlock(&table_lock);
}

/* the daemon must learn about the child before we can close anything */
pid_t fork(void)
{
	shim_init();
	pid_t pid = real.fork();
	struct bp_ctx *c = __atomic_load_n(&ctx, __ATOMIC_ACQUIRE);
	if (pid > 0 && c)
		bp_forked(c, pid);
	return pid;
}

/* nm -D tells the test suite this build supports fork() */
__attribute__((visibility("default"))) const int bypass_shim_fork_support = 1;

__attribute__((constructor)) void shim_init(void)
{
	if (real.socket)
		return;
	LOAD(socket); LOAD(bind); LOAD(listen); LOAD(accept); LOAD(accept4);
	LOAD(connect); LOAD(close); LOAD(shutdown); LOAD(read); LOAD(write);
	LOAD(readv); LOAD(writev); LOAD(send); LOAD(recv); LOAD(sendto);
	LOAD(recvfrom); LOAD(sendmsg); LOAD(recvmsg); LOAD(getsockname);
	LOAD(getpeername); LOAD(getsockopt); LOAD(setsockopt); LOAD(fcntl);
	LOAD(ioctl); LOAD(dup); LOAD(dup2); LOAD(dup3); LOAD(poll); LOAD(ppoll);
	LOAD(close_range); LOAD(closefrom);
	LOAD(select); LOAD(pselect); LOAD(epoll_create); LOAD(epoll_create1);
	LOAD(epoll_ctl); LOAD(epoll_wait); LOAD(epoll_pwait); LOAD(sendfile);
	LOAD(fork);
	/* the fd table's lock is taken last before fork (prepare handlers
	 * run in reverse order): every data call takes it, so a thread may
	 * hold it as another forks; it is a leaf, taken under the epoll
	 * locks but never the other way round */
	pthread_atfork(table_lock_take, table_lock_give, table_lock_give);
	/* the epoll table's locks first: its child handler must run before
	 * after_fork_child(), which takes them (handlers run in this order) */
	pthread_atfork(shim_epoll_fork_prepare, shim_epoll_fork_parent, shim_epoll_fork_child);
	pthread_atfork(NULL, NULL, after_fork_child);
	const char *sock = getenv(BP_SOCKET_ENV);
	if (sock)
		snprintf(socket_path, sizeof(socket_path), "%s", sock);
	const char *cc = getenv("BYPASS_CC");
	if (cc)
		snprintf(cc_name, sizeof(cc_name), "%s", cc);
	parse_listen(getenv("BYPASS_SHIM_LISTEN"));
	parse_connect(getenv("BYPASS_SHIM_CONNECT"));
	shim_exec_inherit(); /* sockets an earlier image kept across exec() */
}

static bool is_loopback(uint32_t ip)
{
	return (ntohl(ip) >> 24) == 127;
}

bool shim_listen_selected(uint32_t ip, uint16_t port)
{
	if (is_loopback(ip))
		return false;
	if (n_listen_rules < 0)
		return true;
	for (int i = 0; i < n_listen_rules; i++)
		if (port >= listen_rules[i].lo && port <= listen_rules[i].hi)
			return true;
	return false;
}

bool shim_connect_selected(uint32_t ip)
{
	if (is_loopback(ip) || ip == 0)
		return false;
	if (n_connect_rules < 0)
		return true;
	for (int i = 0; i < n_connect_rules; i++)
		if ((ip & connect_rules[i].mask) == connect_rules[i].net)
			return true;
	return false;
}

/**
 * shim_ctx - the process's libbypass context, attached on first use.
 * A failure is reported once on stderr (the message says how to start the
 * daemon) and every later conversion fails with ENETDOWN.
 */
struct bp_ctx *shim_ctx(void)
{
	struct bp_ctx *c = __atomic_load_n(&ctx, __ATOMIC_ACQUIRE);
	if (c)
		return c;
	pthread_mutex_lock(&ctx_lock);
	if (!ctx && !attach_failed) {
		char err[512];
		extern char *program_invocation_short_name;
		struct bp_attach_opts o = { .app_name = program_invocation_short_name,
					    .cc = cc_name[0] ? cc_name : NULL,
					    .socket_path = socket_path[0] ? socket_path : NULL };
		c = bp_attach(&o, err, sizeof(err));
		if (c) {
			__atomic_store_n(&ctx, c, __ATOMIC_RELEASE);
		} else {
			attach_failed = true;
			fprintf(stderr, "bypass-shim: %s\n", err);
		}
	}
	c = ctx;
	pthread_mutex_unlock(&ctx_lock);
	return c;
}

/* the context if this image has attached already (never attaches) */
struct bp_ctx *shim_ctx_attached(void)
{
	return __atomic_load_n(&ctx, __ATOMIC_ACQUIRE);
}

/* an inherited connection is used for the first time: take it over */
static void adopt_inherited(struct shim_sock *s)
{
	static pthread_mutex_t adopt_lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&adopt_lock);
	if (s->h < 0 && s->key) {
		struct bp_ctx *c = shim_ctx();
		int h = c ? bp_adopt(c, s->key) : -ENETDOWN;
		if (h >= 0)
			s->h = h;
		else
			s->key = 0; /* gone meanwhile: the fd now reports errors */
		if (h == -EOPNOTSUPP)
			fprintf(stderr, "bypass-shim: an inherited connection is an RPC "
				"session of the parent: a fork child cannot adopt it "
				"(EOPNOTSUPP)\n");
	}
	pthread_mutex_unlock(&adopt_lock);
}

/* the table entry as is: for close() and dup(), which must not adopt */
struct shim_sock *shim_peek(int fd)
{
	if (fd < 0 || fd >= SHIM_MAX_FD)
		return NULL;
	return __atomic_load_n(&table[fd], __ATOMIC_ACQUIRE);
}

/* @s (or NULL), with an inherited connection adopted on first use */
static struct shim_sock *adopted(struct shim_sock *s)
{
	if (s && s->h < 0 && s->key)
		adopt_inherited(s);
	return s;
}

struct shim_sock *shim_get(int fd)
{
	if (fd < 0 || fd >= SHIM_MAX_FD)
		return NULL;
	return adopted(__atomic_load_n(&table[fd], __ATOMIC_ACQUIRE));
}

/**
 * shim_hold - the socket @fd names, for one data call (send, recv and
 * friends): until shim_release() it stays valid and its handle open, so a
 * close() on another thread meanwhile cannot make the call act on a freed
 * socket, or on a handle libbypass gave to a new connection.  The kernel
 * holds a file the same way for a call in flight; the last one out closes.
 * Return: NULL for an fd that is not a bypass socket.
 */
struct shim_sock *shim_hold(int fd)
{
	if (fd < 0 || fd >= SHIM_MAX_FD || !__atomic_load_n(&table[fd], __ATOMIC_ACQUIRE))
		return NULL; /* kernel fds take no lock */
	pthread_mutex_lock(&table_lock);
	struct shim_sock *s = table[fd];
	if (s)
		s->calls++;
	pthread_mutex_unlock(&table_lock);
	return adopted(s);
}

/** shim_let_go_inherited - see let_go_inherited. */
bool shim_let_go_inherited(void)
{
	return let_go_inherited;
}

/* what a closed socket still holds in the daemon and the kernel */
struct sock_leftovers {
	int h, ksock;
	uint64_t key;
	bool reset;
};

/* under table_lock: take them, so whoever touches @s later sees none */
static struct sock_leftovers take_leftovers(struct shim_sock *s)
{
	/* SO_LINGER {1, 0} is the daemon's to act on if it keeps it: the
	 * option is the connection's, which a fork relative may have
	 * changed since */
	struct sock_leftovers l = { .h = s->h, .ksock = s->ksock, .key = s->key,
				    .reset = s->linger.l_onoff && !s->linger.l_linger &&
					     !s->linger_daemon };
	s->h = -1;
	s->key = 0;
	s->ksock = -1;
	return l;
}

static void close_leftovers(const struct sock_leftovers *l)
{
	if (l->h >= 0 && l->reset)
		bp_abort(ctx, l->h); /* SO_LINGER {1, 0} the daemon did not take */
	else if (l->h >= 0)
		bp_close(ctx, l->h);
	else if (l->key && ctx)
		bp_release(ctx, l->key); /* inherited, never used here */
	else if (l->key)
		let_go_inherited = true; /* not attached: dropped at exec, or exit */
	if (l->ksock >= 0)
		real.close(l->ksock);
}

/* called with table_lock held, and drops it: if @s was closed and its
 * last call and waiter are gone, close what it still holds and free it.
 * errno is kept. */
static void unlock_and_finish(struct shim_sock *s)
{
	struct sock_leftovers left;
	bool last = s->dead && !s->calls && !s->waiters;
	if (last)
		left = take_leftovers(s);
	pthread_mutex_unlock(&table_lock);
	if (last) {
		int e = errno;
		close_leftovers(&left);
		free(s);
		errno = e;
	}
}

/**
 * shim_release - the data call that shim_hold() @s for is over; if the
 * socket was closed meanwhile and this was its last user, it closes now.
 * errno is kept.
 */
void shim_release(struct shim_sock *s)
{
	pthread_mutex_lock(&table_lock);
	if (s->calls > 0) /* 0 in a fork child that forked inside a call */
		s->calls--;
	unlock_and_finish(s);
}

/**
 * shim_moved - a call on @s returned -ESTALE: a fork relative adopted the
 * connection.  Take it back (this process uses it again), like two
 * processes sharing a kernel socket.  Return: 0 to retry, or -errno.
 */
int shim_moved(struct shim_sock *s)
{
	struct bp_ctx *c = shim_ctx();
	uint64_t key;
	int old = s->h;
	int r = bp_flow_key(c, old, &key);
	if (r)
		return r;
	r = bp_adopt(c, key);
	if (r < 0)
		return r;
	s->h = r;
	bp_close(c, old); /* the stale name; our hold moved to the new one */
	return 0;
}

struct shim_sock *shim_listen_now(int fd, struct shim_bound *b);

/* like shim_get(), but a pending listener becomes a bypass one now */
struct shim_sock *shim_get_active(int fd)
{
	struct shim_sock *s = shim_get(fd);
	if (s || fd < 0 || fd >= SHIM_MAX_FD || !bound[fd].listening)
		return s;
	static pthread_mutex_t convert_lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&convert_lock); /* one conversion per fd */
	s = shim_get(fd);
	if (!s && bound[fd].listening)
		s = shim_listen_now(fd, &bound[fd]);
	pthread_mutex_unlock(&convert_lock);
	return s;
}

struct shim_bound *shim_bound(int fd)
{
	return fd >= 0 && fd < SHIM_MAX_FD ? &bound[fd] : NULL;
}

/**
 * shim_bound_dup - @newfd is a copy of @oldfd (dup family): a socket that
 * listens on a bypass address but has not converted yet listens under the
 * new name too (socket.dup(), socket.fromfd()).  A bind(port 0) hold stays
 * with @oldfd (the port is in both); a kept kernel socket is copied, as
 * each name converts on its own.
 */
void shim_bound_dup(int oldfd, int newfd)
{
	if (oldfd < 0 || oldfd >= SHIM_MAX_FD || newfd < 0 || newfd >= SHIM_MAX_FD ||
	    oldfd == newfd || !bound[oldfd].valid)
		return;
	struct shim_bound b = bound[oldfd];
	b.reserve_h1 = 0;
	if (b.ksock1) {
		int k = real.fcntl(b.ksock1 - 1, F_DUPFD_CLOEXEC, 3);
		b.ksock1 = k >= 0 ? k + 1 : 0;
		if (k < 0)
			b.listening = false; /* no proof of the share to convert with */
	}
	bound[newfd] = b;
}

/**
 * shim_bound_drop - @fd's name goes (close, or dup2 over it) while it has
 * not converted: the bind(port 0) hold it has passes to another name of
 * the same socket (shim_bound_dup()), or is given up if none is left.
 */
void shim_bound_drop(int fd)
{
	struct shim_bound *b = shim_bound(fd);
	if (!b)
		return;
	if (b->reserve_h1 && b->valid) {
		for (int j = 0; j < SHIM_MAX_FD; j++) {
			struct shim_bound *o = &bound[j];
			if (j != fd && o->valid && !o->reserve_h1 && o->port == b->port &&
			    o->ip == b->ip && !shim_peek(j)) {
				o->reserve_h1 = __atomic_exchange_n(&b->reserve_h1, 0,
								    __ATOMIC_ACQ_REL);
				break;
			}
		}
	}
	shim_bound_unreserve(b);
}

/* give up the port a bind(port 0) reserved, if this process holds it: the
 * socket listens now (its listener holds the port), connects, or is gone */
void shim_bound_unreserve(struct shim_bound *b)
{
	struct bp_ctx *c = __atomic_load_n(&ctx, __ATOMIC_ACQUIRE);
	int h = __atomic_exchange_n(&b->reserve_h1, 0, __ATOMIC_ACQ_REL) - 1;
	if (h >= 0 && c)
		bp_close(c, h);
}

/**
 * shim_install - make @fd a bypass socket.  The kernel object behind @fd
 * (a socket, or nothing) is replaced by a fresh eventfd placeholder so the
 * number stays allocated to us.  Return: 0 or -1 with errno.
 */
int shim_install(int fd, struct shim_sock *s, int cloexec)
{
	if (fd >= SHIM_MAX_FD) {
		errno = EMFILE;
		return -1;
	}
	int ph = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ph < 0)
		return -1;
	if (ph != fd) {
		if (real.dup3(ph, fd, cloexec ? O_CLOEXEC : 0) < 0) {
			int e = errno;
			real.close(ph);
			errno = e;
			return -1;
		}
		real.close(ph);
	} else if (!cloexec) {
		real.fcntl(fd, F_SETFD, 0);
	}
	shim_bound_unreserve(&bound[fd]);
	pthread_mutex_lock(&table_lock);
	s->refs++;
	bound[fd].valid = false;
	bound[fd].listening = false;
	__atomic_store_n(&table[fd], s, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&table_lock);
	return 0;
}

/*
 * @fd no longer names its bypass socket; the last name closes the flow,
 * once no data call is in flight on it (shim_hold()): the last such call
 * closes it then.  A thread still blocked on it (close() from another
 * thread) wakes to find it closed (EBADF), never a handle libbypass gave
 * to a new connection meanwhile; the last such thread frees it.
 */
void shim_put(int fd)
{
	pthread_mutex_lock(&table_lock);
	struct shim_sock *s = table[fd];
	__atomic_store_n(&table[fd], NULL, __ATOMIC_RELEASE);
	bool last = s && --s->refs == 0;
	if (!last) {
		pthread_mutex_unlock(&table_lock);
		return;
	}
	if (s->calls > 0) { /* the last call out closes it */
		s->dead = true;
		pthread_mutex_unlock(&table_lock);
		shim_kick_waiters(); /* a blocked call looks again and ends */
		return;
	}
	/* taken before the handle is closed: a blocked thread must never
	 * see a handle libbypass may already have given to a new flow */
	struct sock_leftovers left = take_leftovers(s);
	bool waited = s->waiters > 0;
	s->dead = waited; /* from now on only its waiters touch it */
	pthread_mutex_unlock(&table_lock);
	close_leftovers(&left);
	if (!waited) {
		free(s);
		return;
	}
	shim_kick_waiters(); /* they look again, and see it closed */
}

/**
 * shim_kick_waiters - make every thread blocked on a bypass socket, or in
 * poll/epoll, look again: a socket changed under it (closed, shut down).
 */
void shim_kick_waiters(void)
{
	uint64_t one = 1;
	ssize_t w = real.write(bp_wait_fd(ctx), &one, sizeof(one));

	(void)w;
	shim_fanout();
}

/* share @oldfd's socket under @newfd (dup family) */
void shim_alias(int newfd, struct shim_sock *s)
{
	pthread_mutex_lock(&table_lock);
	s->refs++;
	__atomic_store_n(&table[newfd], s, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&table_lock);
}

/* a thread no longer waits on @s: the last user of a closed socket frees
 * what it still holds.  Return: @s was closed meanwhile (and may be gone) */
static bool wait_over(struct shim_sock *s)
{
	pthread_mutex_lock(&table_lock);
	bool dead = s->dead;
	if (s->waiters > 0) /* 0 in a fork child that forked inside a wait */
		s->waiters--;
	unlock_and_finish(s);
	return dead;
}

/* a thread cancelled in its wait: it leaves the socket's waiters, and
 * hands on the wakeup its wait may have taken to the poll/epoll threads */
static void wait_cancelled(struct shim_sock **sp)
{
	if (!*sp)
		return;
	wait_over(*sp);
	shim_fanout();
}

/*
 * Block until the daemon signals anything, or the timeout passes; at most
 * a second at a time (the caller looks again): the kick shim_put() gives a
 * socket closed under us may be taken by another thread's wait first.
 */
int shim_wait(struct shim_sock *s, int timeout_ms)
{
	pthread_mutex_lock(&table_lock);
	if (s->dead) { /* closed under a call in flight (shim_hold): no wait */
		pthread_mutex_unlock(&table_lock);
		errno = EBADF;
		return -1;
	}
	s->waiters++;
	pthread_mutex_unlock(&table_lock);
	int r;
	{
		/* cancellation points: the poll() of a wait that leads, and
		 * here, for a thread that waited behind the leader (libbypass
		 * never cancels one with its lock held) */
		struct shim_sock *waiting __attribute__((cleanup(wait_cancelled))) = s;

		r = bp_wait(ctx, timeout_ms < 0 || timeout_ms > 1000 ? 1000 : timeout_ms);
		pthread_testcancel();
		waiting = NULL;
	}
	bool dead = wait_over(s);
	if (dead) { /* closed meanwhile: the caller must not touch @s again */
		errno = EBADF;
		return -1;
	}
	shim_wait_ended(r > 0);
	if (r == -EINTR) {
		errno = EINTR;
		return -1;
	}
	return 0;
}

/*
 * A handler was ever installed without SA_RESTART.  Recorded as it is
 * installed, since a handler that ran may have reset itself (SA_RESETHAND,
 * sysv_signal(), or setting SIG_DFL to stop) by the time a wait looks.
 * glibc's signal() has SA_RESTART; its internal paths to sigaction that
 * clear it are caught here by name (siginterrupt, sysv_signal).
 */
static bool norestart_seen;

/* @sa runs a function of the program (not SIG_DFL, not SIG_IGN) */
static bool has_handler(const struct sigaction *sa)
{
	return (sa->sa_flags & SA_SIGINFO) ||
	       (sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN);
}

static void note_handler(bool handled, bool restart)
{
	if (handled && !restart)
		__atomic_store_n(&norestart_seen, true, __ATOMIC_RELAXED);
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	static int (*next)(int, const struct sigaction *, struct sigaction *);
	if (!next)
		next = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(
			RTLD_NEXT, "sigaction");
	if (act)
		note_handler(has_handler(act), act->sa_flags & SA_RESTART);
	return next(sig, act, old);
}

int siginterrupt(int sig, int flag)
{
	static int (*next)(int, int);
	if (!next)
		next = (int (*)(int, int))dlsym(RTLD_NEXT, "siginterrupt");
	note_handler(flag != 0, false);
	return next(sig, flag);
}

static sighandler_t sysv_signal_via(const char *name, int sig, sighandler_t h)
{
	sighandler_t (*next)(int, sighandler_t) =
		(sighandler_t (*)(int, sighandler_t))dlsym(RTLD_NEXT, name);
	note_handler(h != SIG_DFL && h != SIG_IGN && h != SIG_ERR, false);
	return next ? next(sig, h) : SIG_ERR;
}

sighandler_t sysv_signal(int sig, sighandler_t h)
{
	return sysv_signal_via("sysv_signal", sig, h);
}

/* what signal() is when a program is built with strict X/Open feature macros */
sighandler_t __sysv_signal(int sig, sighandler_t h)
{
	return sysv_signal_via("__sysv_signal", sig, h);
}

/**
 * shim_eintr_restarts - a blocking socket call waiting until @deadline_ms
 * (UINT64_MAX: no SO_RCVTIMEO/SO_SNDTIMEO) was interrupted by a signal
 * before it moved anything: does Linux restart it?  It does when the
 * handler was installed with SA_RESTART (glibc's signal() sets it), and
 * never under a socket timeout (signal(7)).  Which signal came is not
 * known here, so the call goes on only if no handler was ever installed
 * without SA_RESTART (recorded at installation) and every signal with a
 * handler now has it: exact for programs that use it throughout, and
 * EINTR, as before, for those that mix.
 */
bool shim_eintr_restarts(uint64_t deadline_ms)
{
	if (deadline_ms != UINT64_MAX || __atomic_load_n(&norestart_seen, __ATOMIC_RELAXED))
		return false;
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa))
			continue;
		if (has_handler(&sa) && !(sa.sa_flags & SA_RESTART))
			return false;
	}
	return true;
}

/* when a blocking call with timeout @timeo_ms (0 = none) must give up */
uint64_t shim_deadline(int timeo_ms)
{
	if (timeo_ms <= 0)
		return UINT64_MAX;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + (uint64_t)timeo_ms;
}

/*
 * Block like shim_wait() until @deadline_ms (CLOCK_MONOTONIC; UINT64_MAX =
 * none).  Return: 0 to look again, -1 with errno EAGAIN (SO_RCVTIMEO or
 * SO_SNDTIMEO ran out, as the kernel reports it) or EINTR.
 */
int shim_wait_until(struct shim_sock *s, uint64_t deadline_ms)
{
	if (deadline_ms == UINT64_MAX)
		return shim_wait(s, -1);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (now >= deadline_ms) {
		errno = EAGAIN;
		return -1;
	}
	return shim_wait(s, (int)(deadline_ms - now));
}

/*
 * shutdown(SHUT_RD) on a listener: as on Linux it stops listening (the
 * daemon's listener is closed, connections not accepted yet are reset);
 * accept() then says EINVAL, also to a thread blocked in it, which is
 * woken.  The handle is taken away under the table lock, as in
 * shim_put(): libbypass may give its number to a new flow at once.
 */
void shim_listener_shut(struct shim_sock *s)
{
	pthread_mutex_lock(&table_lock);
	int h = s->h;
	__atomic_store_n(&s->listen_shut, true, __ATOMIC_RELEASE);
	__atomic_store_n(&s->h, -1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&table_lock);
	if (h >= 0)
		bp_close(ctx, h);
	shim_kick_waiters();
}

/* listen() again on a listener shut for reading: as on Linux, it listens
 * again on its port (joined with its kernel socket, as at conversion).
 * Return: 0, or -1 with errno. */
int shim_listener_reopen(struct shim_sock *s, int backlog)
{
	struct bp_ctx *c = shim_ctx(); /* a fork child attaches first */
	if (!c) {
		errno = ENETDOWN;
		return -1;
	}
	uint32_t ip = s->ip == bp_local_ip(c) ? 0 : s->ip;
	int h = bp_listen_share(c, ip, s->port, backlog, s->ksock);
	if (h < 0)
		return shim_errno(h);
	pthread_mutex_lock(&table_lock);
	bool gone = s->dead || !s->listen_shut; /* closed, or reopened by another thread */
	if (!gone) {
		s->backlog = backlog;
		__atomic_store_n(&s->h, h, __ATOMIC_RELEASE);
		__atomic_store_n(&s->listen_shut, false, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&table_lock);
	if (gone)
		bp_close(c, h);
	return 0;
}

unsigned shim_ready(struct shim_sock *s)
{
	int h = __atomic_load_n(&s->h, __ATOMIC_ACQUIRE);
	if (s->listener && (h < 0 || __atomic_load_n(&s->listen_shut, __ATOMIC_ACQUIRE)))
		return BP_WRITABLE | SHIM_HUNG_UP; /* a closed socket: POLLOUT|POLLHUP */
	unsigned r = bp_ready(ctx, h);

	/* an error already reported (Linux cleared so_error): the socket stays
	 * hung up, but no longer says POLLERR */
	if ((r & BP_ERROR) && __atomic_load_n(&s->err_told, __ATOMIC_RELAXED))
		r = (r & ~BP_ERROR) | SHIM_HUNG_UP;
	if (s->listener)
		return r;
	/* shut for reading: a read returns at once (EOF), as on Linux */
	if (s->shut_rd)
		r |= BP_READABLE | BP_HUP;
	/* shut for writing: a send returns at once (EPIPE), so the socket is
	 * writable; with reading over too it is hung up (Linux's tcp_poll:
	 * both directions shut is POLLHUP) */
	if (__atomic_load_n(&s->shut_wr, __ATOMIC_ACQUIRE) && !s->connect_pending) {
		r |= BP_WRITABLE;
		if (r & BP_HUP)
			r |= SHIM_HUNG_UP;
	}
	return r;
}

/* set errno from a negative libbypass result; returns -1 */
int shim_errno(int neg)
{
	errno = -neg;
	return -1;
}

/* what a connection can end with: the daemon's own and, for a connect,
 * every errno an ICMP error maps to (slowpath/icmp_err.c, as Linux) */
static bool is_conn_error(int e)
{
	return e == ECONNRESET || e == ETIMEDOUT || e == ECONNREFUSED || e == EHOSTUNREACH ||
	       e == ENETUNREACH || e == ECONNABORTED || e == EHOSTDOWN || e == ENONET ||
	       e == ENOPROTOOPT || e == EOPNOTSUPP;
}

/**
 * shim_conn_error - libbypass said @neg (-errno) on @s.  As on Linux, a
 * connection's error (reset, timeout, refused, unreachable) is reported
 * once, by whichever call comes first (send, read or SO_ERROR); after
 * that a send fails with EPIPE (and raises SIGPIPE) and a read sees the
 * end of the stream.  Programs rely on both: the SIGPIPE ends a writer
 * whose peer went away, an EOF ends a reader's loop.
 * @sending: a send asks (0 never comes back then).
 * Return: the -errno to report, or 0 for the end of the stream.
 */
int shim_conn_error(struct shim_sock *s, int neg, bool sending)
{
	if (!is_conn_error(-neg))
		return neg;
	if (!__atomic_exchange_n(&s->err_told, true, __ATOMIC_RELAXED))
		return neg; /* the first call to see it, of any thread */
	return sending ? -EPIPE : 0;
}
