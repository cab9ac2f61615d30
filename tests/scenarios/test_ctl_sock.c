// SPDX-License-Identifier: MIT
/*
 * test_ctl_sock.c - the control socket against misbehaving clients, on the
 * real slowpath (slowpath/ctl_sock.c): a frame that drips in is cut off
 * while others are served, a client that does not read its replies is
 * dropped, connections that do not attach are capped and time out, passed
 * descriptors are not kept, malformed frames end the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "harness.h"
#include "ctl_wire.h"
#include "ctl_sock.h"

/* this file drives no segments: the wire half of the harness is unused */
static __attribute__((unused)) void *const harness_wire[] = { (void *)h_inject,
							      (void *)expect_no_segment };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int ctl_connect(void)
{
	int fd = ctl_client_connect(H.dp.cfg.socket_path, NULL, 0);

	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	return fd;
}

static const uint8_t status_frame[] = { 2, 0, 0, 0, 0x1a, 0x00 }; /* CtlMsg.status_req */

/* one status request on a fresh connection: its round trip in ms, and @name's value */
static double status_rtt(const char *name, uint64_t *value)
{
	int fd = ctl_connect();
	struct timeval tv = { .tv_sec = 5 };
	Bypass__CtlMsg *m = NULL;
	double t0 = now_s();

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(send(fd, status_frame, sizeof(status_frame), MSG_NOSIGNAL), 6);
	cr_assert_eq(ctl_recv(fd, &m, NULL, NULL, 0), 0, "no status reply");
	double ms = (now_s() - t0) * 1000;
	cr_assert_eq(m->msg_case, BYPASS__CTL_MSG__MSG_STATUS_REPLY);
	if (name && !strcmp(name, "apps")) {
		*value = m->status_reply->apps;
	} else if (name) {
		*value = UINT64_MAX;
		for (size_t i = 0; i < m->status_reply->n_counters; i++)
			if (!strcmp(m->status_reply->counters[i]->name, name))
				*value = m->status_reply->counters[i]->value;
		cr_assert_neq(*value, UINT64_MAX, "no counter %s", name);
	}
	bypass__ctl_msg__free_unpacked(m, NULL);
	close(fd);
	return ms;
}

static uint64_t counter(const char *name)
{
	uint64_t v;

	status_rtt(name, &v);
	return v;
}

/* has the daemon closed @fd (EOF or reset), waiting at most @wait_ms? */
static bool closed_by_daemon(int fd, int wait_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];

	for (;;) {
		if (poll(&p, 1, wait_ms) <= 0)
			return false;
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
}

Test(ctl_sock, drip_cut_off_while_others_answer, .init = h_start, .fini = h_stop)
{
	int drip = ctl_connect();
	const uint8_t hdr[4] = { 100, 0, 0, 0 };
	double t0 = now_s(), worst = 0, cut = 0;
	int sent = 0;

	cr_assert_eq(send(drip, hdr, 4, MSG_NOSIGNAL), 4);
	/* a byte every 0.3 s; everyone else is answered meanwhile */
	while (now_s() - t0 < 3 && !cut) {
		double ms = status_rtt(NULL, NULL);

		if (ms > worst)
			worst = ms;
		if (now_s() - t0 > 0.3 * (sent + 1)) {
			if (send(drip, "\x0a", 1, MSG_NOSIGNAL) != 1)
				cut = now_s() - t0;
			else
				sent++;
		}
		if (!cut && closed_by_daemon(drip, 10))
			cut = now_s() - t0;
	}
	close(drip);
	cr_assert_gt(cut, 0.9, "cut off after %.2f s, before its 1 s deadline", cut);
	cr_assert_lt(cut, 2.5, "the dripping frame lived %.2f s", cut);
	/* a blocked thread would take the whole drip; 500 ms leaves room for
	 * a loaded machine (test_ctl_hostile.sh measures the 100 ms bar) */
	cr_assert_lt(worst, 500, "a status request took %.1f ms while a client dripped", worst);
	cr_assert_geq(counter("ctl_frame_timeouts"), 1);
}

Test(ctl_sock, frame_in_pieces_is_answered, .init = h_start, .fini = h_stop)
{
	int fd = ctl_connect();
	Bypass__CtlMsg *m = NULL;
	struct timeval tv = { .tv_sec = 5 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* within the deadline, a frame may come in as many pieces as it likes */
	for (size_t i = 0; i < sizeof(status_frame); i++) {
		cr_assert_eq(send(fd, status_frame + i, 1, MSG_NOSIGNAL), 1);
		usleep(100 * 1000);
	}
	cr_assert_eq(ctl_recv(fd, &m, NULL, NULL, 0), 0);
	cr_assert_eq(m->msg_case, BYPASS__CTL_MSG__MSG_STATUS_REPLY);
	bypass__ctl_msg__free_unpacked(m, NULL);
	close(fd);
}

/* attach over a raw connection, as libbypass does; the descriptors are dropped */
static int raw_attach(const char *name)
{
	Bypass__AttachRequest req = BYPASS__ATTACH_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *rep = NULL;
	int fd = ctl_connect(), fds[CTL_MAX_FDS], nfds = 0;

	req.abi_version = BP_ABI_VERSION;
	req.app_name = (char *)name;
	m.msg_case = BYPASS__CTL_MSG__MSG_ATTACH_REQ;
	m.attach_req = &req;
	cr_assert_eq(ctl_send(fd, &m, NULL, 0), 0);
	cr_assert_eq(ctl_recv(fd, &rep, fds, &nfds, CTL_MAX_FDS), 0);
	cr_assert_eq(rep->msg_case, BYPASS__CTL_MSG__MSG_ATTACH_REPLY);
	cr_assert_eq(rep->attach_reply->status, 0, "attach: %s", rep->attach_reply->error);
	cr_assert_eq(nfds, 4);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	bypass__ctl_msg__free_unpacked(rep, NULL);
	return fd;
}

/* an attached app asks for status without end and never reads: dropped */
Test(ctl_sock, slow_reader_dropped, .init = h_start, .fini = h_stop)
{
	int fd = raw_attach("slow-reader");
	uint8_t burst[6 * 512];
	int sent = 0;
	uint64_t apps;

	status_rtt("apps", &apps);
	cr_assert_eq(apps, 2);
	for (size_t i = 0; i < sizeof(burst); i += 6)
		memcpy(burst + i, status_frame, 6);
	/* requests on and on, never a byte read, until the daemon gives up
	 * (however fast it answers: bounded by time, not by a count) */
	double t0 = now_s();
	bool dropped = false;
	while (!dropped && now_s() - t0 < 20) {
		ssize_t r = send(fd, burst, sizeof(burst), MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r > 0)
			sent += (int)(r / 6);
		else if (errno != EAGAIN)
			break; /* EPIPE, ECONNRESET: it hung up */
		usleep(20 * 1000);
		dropped = counter("ctl_slow_readers") >= 1;
	}
	cr_assert_geq(counter("ctl_slow_readers"), 1, "%d requests unread for %.1f s, not dropped",
		      sent, now_s() - t0);
	cr_assert(closed_by_daemon(fd, 3000), "the daemon kept a client that never reads "
		  "(%d requests sent)", sent);
	close(fd);
	/* its end is the app's end, as when it dies */
	for (int i = 0; i < 100; i++) {
		status_rtt("apps", &apps);
		if (apps == 1)
			break;
		usleep(20 * 1000);
	}
	cr_assert_eq(apps, 1, "the dropped app is still attached");
	cr_assert_lt(status_rtt(NULL, NULL), 500);
}

Test(ctl_sock, pending_connections_capped, .init = h_start, .fini = h_stop)
{
	enum { N = 200 };
	int fds[N], closed = 0;

	for (int i = 0; i < N; i++)
		fds[i] = ctl_connect();
	usleep(300 * 1000);
	for (int i = 0; i < N; i++)
		closed += closed_by_daemon(fds[i], 0);
	/* 64 per uid at most: the oldest went first */
	cr_assert_geq(closed, N - CTL_MAX_PENDING_UID, "%d of %d closed", closed, N);
	cr_assert_leq(counter("ctl_pending"), CTL_MAX_PENDING_UID);
	cr_assert_geq(counter("ctl_evicted"), N - CTL_MAX_PENDING_UID);
	/* the harness's own app is attached: never counted, never evicted */
	uint64_t apps;
	status_rtt("apps", &apps);
	cr_assert_eq(apps, 1);
	for (int i = 0; i < N; i++)
		close(fds[i]);
}

Test(ctl_sock, idle_pending_connection_times_out, .init = h_start, .fini = h_stop)
{
	int fd = ctl_connect();
	double t0 = now_s();

	cr_assert(closed_by_daemon(fd, (int)(CTL_IDLE_TIMEOUT_S * 1000) + 2000),
		  "an idle connection outlived its timeout");
	double took = now_s() - t0;
	cr_assert_geq(took, CTL_IDLE_TIMEOUT_S - 0.5, "closed after %.2f s", took);
	close(fd);
	cr_assert_geq(counter("ctl_idle_timeouts"), 1);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

Test(ctl_sock, passed_descriptors_not_kept, .init = h_start, .fini = h_stop)
{
	int before = count_fds();

	for (int k = 0; k < 20; k++) {
		int fd = ctl_connect();
		int pass[CTL_MAX_FDS];
		union {
			char buf[CMSG_SPACE(sizeof(pass))];
			struct cmsghdr align;
		} cm;
		struct iovec iov = { .iov_base = (void *)status_frame, .iov_len = 6 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
				     .msg_controllen = sizeof(cm.buf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		Bypass__CtlMsg *m = NULL;

		for (int i = 0; i < CTL_MAX_FDS; i++)
			pass[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(pass));
		memcpy(CMSG_DATA(c), pass, sizeof(pass));
		cr_assert_eq(sendmsg(fd, &mh, MSG_NOSIGNAL), 6);
		for (int i = 0; i < CTL_MAX_FDS; i++)
			close(pass[i]);
		cr_assert_eq(ctl_recv(fd, &m, NULL, NULL, 0), 0);
		bypass__ctl_msg__free_unpacked(m, NULL);
		cr_assert(closed_by_daemon(fd, 2000));
		close(fd);
	}
	usleep(100 * 1000);
	/* more would be kept ones; fewer happens when a descriptor open at the
	 * start (the harness's, closing) is gone by now */
	cr_assert_leq(count_fds(), before, "%d descriptors before, %d after", before, count_fds());
}

Test(ctl_sock, malformed_frames_end_the_connection, .init = h_start, .fini = h_stop)
{
	const uint8_t huge[4] = { 0xff, 0xff, 0xff, 0x7f };     /* over CTL_MAX_FRAME */
	const uint8_t junk[] = { 3, 0, 0, 0, 0xff, 0xff, 0xff }; /* does not decode */
	const uint8_t *frames[] = { huge, junk };
	const size_t lens[] = { sizeof(huge), sizeof(junk) };

	for (int i = 0; i < 2; i++) {
		int fd = ctl_connect();

		cr_assert_eq(send(fd, frames[i], lens[i], MSG_NOSIGNAL), (ssize_t)lens[i]);
		cr_assert(closed_by_daemon(fd, 2000), "frame %d kept the connection open", i);
		close(fd);
	}
	cr_assert_geq(counter("ctl_bad_frames"), 2);
}
