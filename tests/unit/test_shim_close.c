// SPDX-License-Identifier: MIT
/*
 * test_shim_close.c - close_range() and closefrom() under the shim: the
 * bypass sockets among the numbers they close are closed as close() closes
 * them (the peer sees the end, the table forgets them), so a number the
 * kernel hands out again is not taken for the old socket; the flags that
 * close nothing here (CLOSE_RANGE_CLOEXEC) leave the socket working.
 */
#include "shim_fixture.inc.c"

#include <linux/close_range.h>

/* the peer of a closed socket reads its end (EOF), not a hang */
static void assert_peer_sees_end(int s)
{
	struct pollfd pf = { .fd = s, .events = POLLIN };
	char b;

	cr_assert_eq(poll(&pf, 1, 2000), 1, "the peer saw nothing of the close");
	cr_assert_eq(read(s, &b, 1), 0, "the peer did not read EOF");
}

/* @fd, given to a pipe by the kernel (past the shim, as the kernel reuses a
 * free number), is the pipe's: not taken for the closed socket */
static void assert_reused_by_kernel(int fd)
{
	int p[2];
	char b;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(real.dup2(p[1], fd), fd);
	cr_assert_null(shim_get(fd), "the shim still takes %d for the closed socket", fd);
	cr_assert_eq(write(fd, "x", 1), 1, "a write to the pipe went elsewhere: %s",
		     strerror(errno));
	cr_assert_eq(read(p[0], &b, 1), 1, "a read from the pipe went elsewhere");
	close(fd);
	close(p[0]);
	close(p[1]);
}

Test(shim, close_range_closes_bypass_sockets)
{
	int s, c;
	pair(7046, &s, &c);
	cr_assert(shim_get(c));
	cr_assert_eq(close_range((unsigned int)c, (unsigned int)c, 0), 0, "close_range: %s",
		     strerror(errno));
	assert_peer_sees_end(s);
	assert_reused_by_kernel(c);
	close(s);
}

Test(shim, close_range_cloexec_keeps_the_socket)
{
	int s, c;
	pair(7047, &s, &c);
	cr_assert_eq(close_range((unsigned int)c, (unsigned int)c, CLOSE_RANGE_CLOEXEC), 0);
	cr_assert(shim_get(c), "CLOSE_RANGE_CLOEXEC closed the socket");
	cr_assert_neq(fcntl(c, F_GETFD) & FD_CLOEXEC, 0, "FD_CLOEXEC not set");
	cr_assert_eq(write(c, "ok", 2), 2);
	char b[2];
	cr_assert_eq(read(s, b, 2), 2, "the socket no longer works");
	close(c);
	close(s);
}

Test(shim, closefrom_closes_bypass_sockets)
{
	int s, c;
	pair(7048, &s, &c);
	/* the highest numbers: closefrom() must not close the fixture's own */
	int hi = fcntl(c, F_DUPFD, 1000);
	cr_assert_geq(hi, 1000, "F_DUPFD: %s", strerror(errno));
	cr_assert_eq(close(c), 0);
	cr_assert(shim_get(hi));
	closefrom(hi);
	assert_peer_sees_end(s);
	cr_assert_null(shim_get(hi), "closefrom() left %d in the table", hi);
	close(s);
}
