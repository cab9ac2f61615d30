// SPDX-License-Identifier: MIT
/*
 * The one write into a capture client's pipe (cap_pipe_write(),
 * slowpath/capture_pcapng.c): the client shares the pipe's description
 * and may clear O_NONBLOCK, so it must never be written without
 * RWF_NOWAIT; a kernel that refuses RWF_NOWAIT on pipes (EOPNOTSUPP,
 * simulated here by this binary's own pwritev2()) gets the error back,
 * not a blocking write.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <criterion/criterion.h>

#include "capture_pcapng.h"

static bool no_nowait; /* act as a kernel without RWF_NOWAIT for pipes */
static int nowait_calls;

/* this binary's definition wins over libc's for capture_pcapng.o */
ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	(void)off;
	if (!(flags & RWF_NOWAIT)) {
		errno = EINVAL; /* a write that may block: never asked for */
		cr_assert_fail("pwritev2 without RWF_NOWAIT");
		return -1;
	}
	nowait_calls++;
	if (no_nowait) {
		errno = EOPNOTSUPP;
		return -1;
	}
	/* the test's pipes are O_NONBLOCK: writev() is the same here */
	return writev(fd, iov, cnt);
}

static void pipe_pair(int p[2], bool nonblock_write)
{
	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	if (!nonblock_write) /* what a hostile client does on its shared end */
		cr_assert_eq(fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) & ~O_NONBLOCK), 0);
}

Test(capture_pipe, writes_until_full)
{
	int p[2];
	static char buf[1 << 20];
	no_nowait = false;
	pipe_pair(p, true);
	ssize_t r = cap_pipe_write(p[1], buf, sizeof(buf));
	cr_assert_gt(r, 0);
	cr_assert_lt(r, (ssize_t)sizeof(buf));
	cr_assert_eq(cap_pipe_write(p[1], buf, sizeof(buf)), 0, "a full pipe takes nothing");
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(cap_pipe_write(p[1], buf, 1), -EPIPE);
	close(p[1]);
}

Test(capture_pipe, no_rwf_nowait_is_an_error_not_a_write)
{
	int p[2];
	char c = 'x', got;
	no_nowait = true;
	nowait_calls = 0;
	pipe_pair(p, false);
	cr_assert_eq(cap_pipe_write(p[1], &c, 1), -EOPNOTSUPP);
	cr_assert_eq(nowait_calls, 1);
	/* nothing went in by another way (a plain write() would have) */
	cr_assert_eq(read(p[0], &got, 1), -1);
	cr_assert_eq(errno, EAGAIN);
	close(p[0]);
	close(p[1]);
}
