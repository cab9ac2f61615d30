// SPDX-License-Identifier: MIT
/*
 * cmd_metrics.c - bypassctl metrics: the daemon's counters in Prometheus
 * text exposition format 0.0.4, the same text its [metrics] listen
 * endpoint serves, for node_exporter's textfile collector or a look by
 * hand.  Root and the daemon's user see every tenant; anyone else the
 * global series and its own tenant's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bypassctl.h"
#include "ctl_wire.h"

#define METRICS_TIMEOUT_S 5

static void metrics_usage(FILE *out)
{
	fprintf(out,
		"usage: bypassctl metrics\n"
		"\n"
		"Print every counter of fastpathd in Prometheus text format (0.0.4):\n"
		"bypass_* series, counters ending in _total, labelled by port, core and\n"
		"tenant.  Without root (or the daemon's user) only your own tenant's\n"
		"per-tenant series are shown.  To let Prometheus scrape the daemon\n"
		"directly, set [metrics] listen in fastpathd.conf.\n"
		"\n"
		"exit status: 0 ok, 1 failed, 2 usage error, 3 fastpathd not reachable\n");
}

/* read frames until the one marked last; 0 or an exit status */
static int read_reply(int fd, const char *path)
{
	for (;;) {
		Bypass__CtlMsg *m;
		int r = ctl_recv(fd, &m, NULL, NULL, 0);
		if (r == -EAGAIN || r == -ETIMEDOUT) {
			fprintf(stderr, "bypassctl: fastpathd at %s did not answer within %d s; "
				"is it overloaded or stopped (SIGSTOP)?\n", path, METRICS_TIMEOUT_S);
			return 1;
		}
		if (r) {
			fprintf(stderr, "bypassctl: metrics from fastpathd at %s: %s\n", path,
				strerror(-r));
			return 1;
		}
		if (m->msg_case != BYPASS__CTL_MSG__MSG_METRICS_REPLY || !m->metrics_reply) {
			fprintf(stderr, "bypassctl: fastpathd at %s does not know 'metrics' "
				"(reply type %d); upgrade it to this bypassctl's version\n", path,
				(int)m->msg_case);
			bypass__ctl_msg__free_unpacked(m, NULL);
			return 1;
		}
		const Bypass__MetricsReply *rep = m->metrics_reply;
		int rc = -1;
		if (rep->status) {
			fprintf(stderr, "bypassctl: fastpathd refused: %s\n",
				rep->error ? rep->error : strerror(-rep->status));
			rc = 1;
		} else {
			if (rep->text)
				fputs(rep->text, stdout);
			if (rep->has_last && rep->last)
				rc = 0;
		}
		bypass__ctl_msg__free_unpacked(m, NULL);
		if (rc >= 0)
			return rc;
	}
}

int cmd_metrics(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			metrics_usage(stdout);
			return 0;
		}
		metrics_usage(stderr);
		return 2;
	}
	if (optind != argc) {
		fprintf(stderr, "bypassctl: metrics takes no arguments (see bypassctl metrics --help)\n");
		return 2;
	}

	const char *path = ctl_socket_path(NULL);
	char err[512];
	int fd = ctl_client_connect(path, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "bypassctl: %s\n", err);
		return 3;
	}
	struct timeval tv = { .tv_sec = METRICS_TIMEOUT_S };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	Bypass__MetricsRequest req = BYPASS__METRICS_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_METRICS_REQ;
	m.metrics_req = &req;
	int rc = ctl_send(fd, &m, NULL, 0);
	if (rc) {
		fprintf(stderr, "bypassctl: metrics request to fastpathd at %s failed: %s\n", path,
			strerror(-rc));
		close(fd);
		return 1;
	}
	rc = read_reply(fd, path);
	close(fd);
	if (fflush(stdout)) {
		fprintf(stderr, "bypassctl: writing the metrics: %s\n", strerror(errno));
		return 1;
	}
	return rc;
}
