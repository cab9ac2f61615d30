// SPDX-License-Identifier: MIT
/*
 * test_shim_threads.c - one socket, two threads: a close() on one while a
 * call is in flight on the other.  The kernel holds the file for the call
 * in flight: it completes on the socket it started on, and the connection
 * closes when it returns.  The shim must do the same, or the call acts on
 * a freed socket, or on a handle libbypass gave to a new connection.
 */
#include "shim_fixture.inc.c"

struct sender {
	int fd, in;             /* sendfile(fd, in): blocks reading @in */
	const char *msg;
	ssize_t sent;
	int err;
};

static void *send_from_pipe(void *arg)
{
	struct sender *w = arg;
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
		usleep(50 * 1000); /* the sender is in its read of the pipe */
		cr_assert_eq(close(c), 0);
		int null = open("/dev/null", O_WRONLY);
		cr_assert_eq(dup2(null, c), c);
		close(null);
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
