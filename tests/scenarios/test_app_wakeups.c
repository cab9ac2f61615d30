// SPDX-License-Identifier: MIT
/*
 * The descriptors an app wakes the daemon through (slowpath/wake.c): an
 * app can only send on them.  It cannot turn its kick descriptor for a
 * fastpath core into a reader of that core's wakeups, which all apps'
 * kicks share (a pipe's write end can be reopened for reading through
 * /proc/self/fd); and a kick that finds the daemon's end gone fails
 * quietly instead of killing the app with SIGPIPE.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>

#include "harness.h"
#include "bp_internal.h"

#define PEER_ISN 7200000u

TestSuite(app_wakeups, .init = h_start, .fini = h_stop, .timeout = 30);

Test(app_wakeups, an_app_cannot_read_the_kicks_of_others)
{
	char err[256], path[64];
	struct bp_attach_opts o = { .socket_path = H.dp.cfg.socket_path, .app_name = "other" };
	struct bp_ctx *other = bp_attach(&o, err, sizeof(err));
	cr_assert(other, "a second app: %s", err);

	/* reopening its kick descriptor for reading, as a pipe would allow */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", H.app->fp_kick_fd[0]);
	int rd = open(path, O_RDONLY | O_NONBLOCK);
	cr_assert_lt(rd, 0, "the kick descriptor reopened for reading");

	/* and what the other app sends to the core never reaches it */
	uint64_t one = 1, v;
	cr_assert_eq(send(other->fp_kick_fd[0], &one, sizeof(one), MSG_DONTWAIT),
		     (ssize_t)sizeof(one));
	cr_assert_lt(recv(H.app->fp_kick_fd[0], &v, sizeof(v), MSG_DONTWAIT), 0);
	cr_assert_eq(errno, EAGAIN);
	bp_detach(other);
}

Test(app_wakeups, a_kick_to_a_gone_core_raises_no_sigpipe)
{
	struct dp_app *app = &H.dp.apps[0];
	uint32_t iss;
	int h = h_open_passive(8099, PEER_ISN, 1460, &iss);

	/* the core's end goes, as when the daemon dies (its descriptor now
	 * names a fresh socket nobody sends to); the core sleeps */
	int fresh = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_geq(dup2(fresh, H.dp.core[0].app_kick_fd), 0);
	close(fresh);
	usleep(300 * 1000); /* (a ppoll() under way holds the old one till it returns) */
	WAIT_FOR(__atomic_load_n(&app->hdr->fp_sleeping[0].word, __ATOMIC_ACQUIRE), 2000);

	/* a send rings the sleeping core: the kick fails, the app lives (a
	 * datagram socket never raises SIGPIPE; a pipe, as these were, did) */
	cr_assert_eq(bp_send(H.app, h, "x", 1), 1);
}
