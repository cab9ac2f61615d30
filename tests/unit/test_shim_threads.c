// SPDX-License-Identifier: MIT
/*
 * test_shim_threads.c - one socket, two threads: a close() on one while a
 * call is in flight on the other.  The kernel holds the file for the call
 * in flight: it completes on the socket it started on, and the connection
 * closes when it returns.  The shim must do the same, or the call acts on
 * a freed socket, or on a handle libbypass gave to a new connection.
 */
#include "shim_fixture.inc.c"

#include <sys/syscall.h>

struct sender {
	int fd, in;             /* sendfile(fd, in): blocks reading @in */
	const char *msg;
	ssize_t sent;
	int err;
	pid_t tid;
};

/* the system call thread @tid is in (-1: running), and its first argument */
static long syscall_of(pid_t tid, unsigned long *arg0)
{
	char path[64], line[256];
	long nr = -1;
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (f && fgets(line, sizeof(line), f))
		sscanf(line, "%ld %lx", &nr, arg0);
	if (f)
		fclose(f);
	return nr;
}

/* wait (2 s at most) until thread @tid sits in read(@fd) */
static void wait_in_read(pid_t tid, int fd)
{
	for (int i = 0; i < 200; i++) {
		unsigned long arg0 = ~0ul;
		if (syscall_of(tid, &arg0) == SYS_read && arg0 == (unsigned long)fd)
			return;
		usleep(10 * 1000);
	}
	cr_assert_fail("thread %d never blocked reading fd %d", (int)tid, fd);
}

static void *send_from_pipe(void *arg)
{
	struct sender *w = arg;
	__atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	errno = 0;
	w->sent = sendfile(w->fd, w->in, NULL, strlen(w->msg));
	w->err = errno;
	return NULL;
}

/* what arrives on @fd within @ms, up to @cap bytes */
static size_t read_for(int fd, char *buf, size_t cap, int ms)
{
	size_t got = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (got < cap && poll(&p, 1, ms) > 0) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/*
 * The sender's sendfile() holds the client socket and blocks reading its
 * pipe.  Meanwhile the main thread closes that socket (its fd number is
 * then taken by /dev/null, so the number cannot lead anywhere new) and
 * opens new connections, whose handles may be the closed one's.  Then the
 * pipe gets its bytes: they must reach the old connection's server, and
 * nothing may reach a new one.
 */
Test(shim, a_call_in_flight_finishes_on_its_own_socket_after_close)
{
	uint16_t port = 7050;
	for (int round = 0; round < 4; round++) {
		int s, c, p[2];
		pair(port++, &s, &c);
		cr_assert_eq(pipe(p), 0);
		struct sender w = { .fd = c, .in = p[0], .msg = "in flight before the close" };
		pthread_t t;
		cr_assert_eq(pthread_create(&t, NULL, send_from_pipe, &w), 0);
		while (!__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE))
			usleep(1000);
		wait_in_read(w.tid, p[0]);
		cr_assert_eq(close(c), 0);
		int null = open("/dev/null", O_WRONLY); /* maybe c's number itself */
		if (null != c) {
			cr_assert_eq(dup2(null, c), c);
			close(null);
		}
		int s2[3], c2[3];
		for (int k = 0; k < 3; k++) {
			pair(port++, &s2[k], &c2[k]);
			cr_assert_eq(write(c2[k], "new", 3), 3);
		}
		cr_assert_eq(write(p[1], w.msg, strlen(w.msg)), (ssize_t)strlen(w.msg));
		cr_assert_eq(pthread_join(t, NULL), 0);
		cr_assert_eq(w.sent, (ssize_t)strlen(w.msg), "sendfile: %zd (%s)", w.sent,
			     strerror(w.err));
		char buf[256];
		for (int k = 0; k < 3; k++) {
			size_t n = read_for(s2[k], buf, sizeof(buf), 200);
			cr_assert(n == 3 && !memcmp(buf, "new", 3),
				  "round %d: a new connection got %zu bytes: '%.*s'", round, n,
				  (int)n, buf);
		}
		size_t n = read_for(s, buf, sizeof(buf), 1000);
		cr_assert(n == strlen(w.msg) && !memcmp(buf, w.msg, n),
			  "round %d: the old connection's server got %zu bytes", round, n);
		struct pollfd pf = { .fd = s, .events = POLLIN };
		cr_assert_eq(poll(&pf, 1, 2000), 1, "the connection did not close after the call");
		cr_assert_eq(read(s, buf, 1), 0, "the connection did not close after the call");
		for (int k = 0; k < 3; k++) {
			close(s2[k]);
			close(c2[k]);
		}
		close(s);
		close(c);
		close(p[0]);
		close(p[1]);
	}
}

struct reader {
	int fd;
	pid_t tid;
};

static void *read_one(void *arg)
{
	struct reader *r = arg;
	char b;
	__atomic_store_n(&r->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	(void)!read(r->fd, &b, 1); /* blocks until a byte comes (or cancelled) */
	return NULL;
}

/* wait (2 s at most) until reader @r sleeps in its wait: the leader in
 * poll(), a follower on the context's condition variable */
static void wait_blocked(struct reader *r)
{
	while (!__atomic_load_n(&r->tid, __ATOMIC_ACQUIRE))
		usleep(1000);
	for (int i = 0; i < 200; i++) {
		unsigned long arg0;
		long nr = syscall_of(r->tid, &arg0);
		if (nr == SYS_poll || nr == SYS_ppoll || nr == SYS_futex)
			return;
		usleep(10 * 1000);
	}
	cr_assert_fail("reader %d never blocked", (int)r->tid);
}

/* the peer of a closed @c reads the end of the stream (2 s at most) */
static void peer_sees_close(int s)
{
	struct pollfd pf = { .fd = s, .events = POLLIN };
	cr_assert_eq(poll(&pf, 1, 2000), 1, "the peer never saw the close");
	char b;
	cr_assert_eq(read(s, &b, 1), 0, "the peer did not read the end of the stream");
}

/* a read that waits for a byte sent 20 ms later gets it well inside the
 * 1 s slices a wait with no leader would nap through */
static void reads_promptly(uint16_t port)
{
	int s2, c2;
	pair(port, &s2, &c2);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct reader r = { .fd = s2 };
	pthread_t w;
	cr_assert_eq(pthread_create(&w, NULL, read_one, &r), 0);
	usleep(20 * 1000);
	cr_assert_eq(write(c2, "x", 1), 1);
	cr_assert_eq(pthread_join(w, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_lt(ms, 900, "a read waited %ld ms for a byte sent after 20 ms", ms);
	close(s2);
	close(c2);
}

/* a thread cancelled in a blocking read (read() is a cancellation point)
 * leaves the socket as it found it: the close that follows closes the
 * connection (the peer sees the end of the stream), and another thread's
 * wait is not left to time out in the cancelled one's place */
Test(shim, a_thread_cancelled_in_a_read_leaves_the_close_whole)
{
	int s, c;
	pair(7070, &s, &c);
	struct reader r = { .fd = c };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, read_one, &r), 0);
	wait_blocked(&r);
	cr_assert_eq(pthread_cancel(t), 0);
	void *ret;
	cr_assert_eq(pthread_join(t, &ret), 0);
	cr_assert_eq(ret, PTHREAD_CANCELED);
	cr_assert_eq(close(c), 0);
	peer_sees_close(s);
	reads_promptly(7071);
	close(s);
}

/* two readers: one leads the wait, the other waits behind it on the
 * context's lock and condition variable.  Cancelled, neither may leave
 * that lock held (every later call would hang) */
Test(shim, cancelling_two_blocked_readers_leaves_the_library_usable)
{
	int s[2], c[2];
	struct reader r[2];
	pthread_t t[2];
	for (int k = 0; k < 2; k++) {
		pair((uint16_t)(7072 + k), &s[k], &c[k]);
		r[k] = (struct reader){ .fd = c[k] };
		cr_assert_eq(pthread_create(&t[k], NULL, read_one, &r[k]), 0);
	}
	for (int k = 0; k < 2; k++)
		wait_blocked(&r[k]);
	/* the follower first: cancelled second, it would be leading by then */
	unsigned long arg0;
	int first = syscall_of(r[0].tid, &arg0) == SYS_futex ? 0 : 1;
	for (int k = first, n = 0; n < 2; k = 1 - k, n++) {
		cr_assert_eq(pthread_cancel(t[k]), 0);
		void *ret;
		cr_assert_eq(pthread_join(t[k], &ret), 0);
		cr_assert_eq(ret, PTHREAD_CANCELED);
	}
	for (int k = 0; k < 2; k++) {
		cr_assert_eq(close(c[k]), 0);
		peer_sees_close(s[k]);
		close(s[k]);
	}
	reads_promptly(7074);
}
