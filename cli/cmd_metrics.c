// SPDX-License-Identifier: MIT
/*
 * cmd_metrics.c - bypassctl metrics: the daemon's counters in Prometheus
 * text exposition format 0.0.4, the same text its [metrics] listen
 * endpoint serves, for node_exporter's textfile collector or a look by
 * hand.  Root, the daemon's user and members of [daemon] admin_group see
 * every tenant; anyone else the global series and its own tenant's (the
 * daemon decides: sp_ctl_admin() in slowpath/ctl_sock.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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
		"usage: bypassctl metrics [--json]\n"
		"\n"
		"Print every counter of fastpathd in Prometheus text format (0.0.4):\n"
		"bypass_* series, counters ending in _total, labelled by port, core and\n"
		"tenant.  Root, fastpathd's own user and members of its [daemon]\n"
		"admin_group see every tenant's series; anyone else sees only its own\n"
		"tenant's (and the global ones).  To let Prometheus scrape the daemon\n"
		"directly, set [metrics] listen in fastpathd.conf.\n"
		"--json: {metrics: [{name, labels: {LABEL: value}, value}]}, one entry per\n"
		"sample (value a JSON number, or a string for NaN and +Inf/-Inf).\n"
		"\n"
		"exit status: 0 ok, 1 failed, 2 usage error, 3 fastpathd not reachable\n");
}

/* the whole text, kept for --json (NULL: print as it comes) */
struct text {
	char *buf;
	size_t len;
};

static int text_add(struct text *t, const char *s)
{
	size_t n = strlen(s);
	char *b = realloc(t->buf, t->len + n + 1);

	if (!b)
		return -1;
	memcpy(b + t->len, s, n + 1);
	t->buf = b;
	t->len += n;
	return 0;
}

/* a Prometheus sample value that is also a JSON number */
static bool json_number(const char *v)
{
	if (!*v || !strcmp(v, "-") || strpbrk(v, "NnIi"))
		return false;
	for (const char *p = v; *p; p++)
		if (!strchr("0123456789.eE+-", *p))
			return false;
	return *v != '+' && *v != '.';
}

/*
 * One sample line, `name{k="v",...} value [timestamp]`, as a JSON object.
 * The text is the daemon's own (metrics_render.c), so a line that does not
 * have this shape is reported, never guessed at.  Return: 0 or -1.
 */
static int sample_json(char *line)
{
	char *p = line + strcspn(line, "{ ");
	char c = *p;

	if (!c)
		return -1;
	*p++ = '\0';
	j_obj(NULL);
	j_str("name", line);
	j_obj("labels");
	while (c == '{' && *p != '}') {
		char *k = p, *v;

		p = strchr(p, '=');
		if (!p || p[1] != '"')
			return -1;
		*p = '\0';
		v = p += 2;
		/* unescape \\, \" and \n in place */
		char *w = v;
		for (; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				*w++ = *p == 'n' ? '\n' : *p;
			} else {
				*w++ = *p;
			}
		}
		if (*p != '"')
			return -1;
		*w = '\0';
		j_str(k, v);
		p++;
		if (*p == ',')
			p++;
	}
	j_end_obj();
	if (c == '{') {
		if (*p != '}' || p[1] != ' ')
			return -1;
		p += 2;
	}
	p[strcspn(p, " ")] = '\0';
	if (json_number(p))
		j_num("value", p);
	else
		j_str("value", p);
	j_end_obj();
	return 0;
}

static int print_json(struct text *t)
{
	char *save = NULL;

	j_obj(NULL);
	j_arr("metrics");
	for (char *l = strtok_r(t->buf ? t->buf : (char *)"", "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (*l == '#' || !*l)
			continue;
		if (sample_json(l)) {
			fprintf(stderr, "bypassctl metrics: a line fastpathd sent is not a "
				"sample: '%.80s'\n", l);
			return 1;
		}
	}
	j_end_arr();
	j_end_obj();
	j_end();
	return 0;
}

/* read frames until the one marked last; 0 or an exit status */
static int read_reply(int fd, const char *path, struct text *t)
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
		if (m->msg_case == BYPASS__CTL_MSG__MSG_CTL_ERROR && m->ctl_error) {
			fprintf(stderr, "bypassctl: fastpathd at %s refused: %s\n", path,
				m->ctl_error->error ? m->ctl_error->error : "no reason given");
			bypass__ctl_msg__free_unpacked(m, NULL);
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
			if (rep->text && t && text_add(t, rep->text)) {
				fprintf(stderr, "bypassctl: out of memory\n");
				rc = 1;
			} else if (rep->text && !t) {
				fputs(rep->text, stdout);
			}
			if (rc < 0 && rep->has_last && rep->last)
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
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct text text = { 0 };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hj", opts, NULL)) != -1) {
		if (c == 'h') {
			metrics_usage(stdout);
			return 0;
		}
		if (c == 'j') {
			cli_json = true;
			continue;
		}
		metrics_usage(stderr);
		return 2;
	}
	if (optind != argc) {
		fprintf(stderr, "bypassctl: metrics takes no arguments (see bypassctl metrics --help)\n");
		return 2;
	}

	const char *path = ctl_socket_path(cli_socket);
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
	rc = read_reply(fd, path, cli_json ? &text : NULL);
	close(fd);
	if (!rc && cli_json)
		rc = print_json(&text);
	free(text.buf);
	if (fflush(stdout)) {
		fprintf(stderr, "bypassctl: writing the metrics: %s\n", strerror(errno));
		return 1;
	}
	return rc;
}
