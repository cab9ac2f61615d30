// SPDX-License-Identifier: MIT
/*
 * bypassctl - operator CLI for fastpathd, over its Unix control socket.
 *
 *   bypassctl [--socket PATH] status | stats | cores [set N | auto] | config reload
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

#include "bypass/bypass.h"
#include "ctl_wire.h"

/* A daemon that accepts but never answers must not hang the operator. */
#define REPLY_TIMEOUT_S 5

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bypassctl [--socket PATH] COMMAND\n"
		"\n"
		"commands:\n"
		"  status     daemon version, port, address, attached apps, flows and\n"
		"             counters, one \"name value\" per line\n"
		"  stats      the counters only, one \"name value\" per line\n"
		"  cores      fastpath cores: \"active A max M mode auto|manual\"\n"
		"  cores set N   run on N fastpath cores (1..[fastpath] cores); their\n"
		"             flows move without loss; load-driven scaling stops\n"
		"  cores auto    hand the core count back to the load monitor\n"
		"             ([fastpath] scale = true); changes need root\n"
		"  config reload  re-read the config file's tenants (as SIGHUP); a bad\n"
		"             file changes nothing and the error is printed; needs root\n"
		"\n"
		"options:\n"
		"  -S, --socket PATH   fastpathd control socket (default: $%s or %s)\n"
		"  -h, --help          this help\n",
		BP_SOCKET_ENV, BP_DEFAULT_SOCKET);
}

/* a limit: 0 is none */
static const char *lim(char *buf, size_t len, uint64_t v)
{
	if (!v)
		return "-";
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

/*
 * status: one line per tenant, "tenant NAME id N apps A/MAX flows F/MAX
 * half_open H buf_mib B/MAX denied D [reason=count ...]" (MAX "-": none);
 * stats: "tenant.NAME.FIELD value" lines, like the counters.
 */
static void print_tenant(const Bypass__TenantStatus *t, bool counters_only)
{
	unsigned long long denied = 0, mib = (t->buf_bytes + (1 << 20) - 1) >> 20;
	char a[24], f[24], b[24];

	for (size_t i = 0; i < t->n_denied; i++)
		denied += t->denied[i]->value;
	if (counters_only) {
		printf("tenant.%s.id %u\ntenant.%s.apps %u\ntenant.%s.flows %u\n"
		       "tenant.%s.half_open %u\ntenant.%s.buf_bytes %llu\ntenant.%s.denied %llu\n",
		       t->name, t->id, t->name, t->apps, t->name, t->flows, t->name, t->half_open,
		       t->name, (unsigned long long)t->buf_bytes, t->name, denied);
		for (size_t i = 0; i < t->n_denied; i++)
			printf("tenant.%s.denied_%s %llu\n", t->name, t->denied[i]->name,
			       (unsigned long long)t->denied[i]->value);
		return;
	}
	printf("tenant %s id %u apps %u/%s flows %u/%s half_open %u buf_mib %llu/%s denied %llu",
	       t->name, t->id, t->apps, lim(a, sizeof(a), t->max_apps), t->flows,
	       lim(f, sizeof(f), t->max_flows), t->half_open, mib, lim(b, sizeof(b), t->max_buf_mb),
	       denied);
	for (size_t i = 0; i < t->n_denied; i++)
		printf(" %s=%llu", t->denied[i]->name, (unsigned long long)t->denied[i]->value);
	printf("%s\n", t->removed ? " (removed, closing)" : "");
}

static void print_status(const Bypass__StatusReply *s, bool counters_only)
{
	if (counters_only)
		goto counters;
	printf("version %s\n", s->version ? s->version : "?");
	printf("port %s\n", s->port ? s->port : "-");
	printf("local_ip %s\n", s->local_ip ? s->local_ip : "-");
	if (s->has_apps)
		printf("apps %u\n", s->apps);
	if (s->has_flows)
		printf("flows %u\n", s->flows);
counters:
	for (size_t i = 0; i < s->n_counters; i++)
		printf("%s %llu\n", s->counters[i]->name,
		       (unsigned long long)s->counters[i]->value);
	for (size_t i = 0; i < s->n_tenants; i++)
		print_tenant(s->tenants[i], counters_only);
}

/* one request, one reply; NULL after printing why not */
static Bypass__CtlMsg *ask(const char *path, Bypass__CtlMsg *m, const char *what,
			   Bypass__CtlMsg__MsgCase want)
{
	Bypass__CtlMsg *reply;
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
	char err[512];
	int fd, r;

	fd = ctl_client_connect(path, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "bypassctl: %s\n", err);
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r = ctl_send(fd, m, NULL, 0);
	if (!r)
		r = ctl_recv(fd, &reply, NULL, NULL, 0);
	close(fd);
	if (r == -EAGAIN || r == -ETIMEDOUT) {
		fprintf(stderr, "bypassctl: fastpathd at %s did not answer within %d s\n",
			path, REPLY_TIMEOUT_S);
		return NULL;
	}
	if (r) {
		fprintf(stderr, "bypassctl: %s request to fastpathd at %s failed: %s\n",
			what, path, strerror(-r));
		return NULL;
	}
	if (reply->msg_case != want) {
		fprintf(stderr, "bypassctl: fastpathd at %s sent an unexpected reply "
			"(message type %d); is it older than this bypassctl?\n", path,
			(int)reply->msg_case);
		bypass__ctl_msg__free_unpacked(reply, NULL);
		return NULL;
	}
	return reply;
}

static int cmd_cores(const char *path, int argc, char **argv)
{
	Bypass__CoresRequest req = BYPASS__CORES_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;

	if (argc == 2 && !strcmp(argv[0], "set")) {
		char *end;
		unsigned long n = strtoul(argv[1], &end, 10);
		if (*end || !*argv[1] || n < 1 || n > 64) {
			fprintf(stderr, "bypassctl: cores set: '%s' is not a core count\n", argv[1]);
			return 2;
		}
		req.has_set_active = 1;
		req.set_active = (uint32_t)n;
	} else if (argc == 1 && !strcmp(argv[0], "auto")) {
		req.has_automatic = 1;
		req.automatic = 1;
	} else if (argc) {
		fprintf(stderr, "bypassctl: usage: cores [set N | auto]\n");
		return 2;
	}
	m.msg_case = BYPASS__CTL_MSG__MSG_CORES_REQ;
	m.cores_req = &req;
	reply = ask(path, &m, "cores", BYPASS__CTL_MSG__MSG_CORES_REPLY);
	if (!reply)
		return 1;
	Bypass__CoresReply *r = reply->cores_reply;
	int rc = 0;
	if (r->status) {
		fprintf(stderr, "bypassctl: fastpathd refused: %s\n",
			r->error ? r->error : strerror(-r->status));
		rc = 1;
	}
	printf("active %u max %u mode %s moving %u\n", r->active, r->max,
	       r->automatic ? "auto" : "manual", r->moving);
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return fflush(stdout) || rc ? 1 : 0;
}

static int cmd_config(const char *path, int argc, char **argv)
{
	Bypass__ConfigRequest req = BYPASS__CONFIG_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;

	if (argc != 1 || strcmp(argv[0], "reload")) {
		fprintf(stderr, "bypassctl: usage: config reload\n");
		return 2;
	}
	req.has_reload = req.reload = 1;
	m.msg_case = BYPASS__CTL_MSG__MSG_CONFIG_REQ;
	m.config_req = &req;
	reply = ask(path, &m, "config", BYPASS__CTL_MSG__MSG_CONFIG_REPLY);
	if (!reply)
		return 1;
	Bypass__ConfigReply *r = reply->config_reply;
	int rc = 0;
	if (r->status) {
		fprintf(stderr, "bypassctl: fastpathd refused the reload: %s\n",
			r->error ? r->error : strerror(-r->status));
		rc = 1;
	} else {
		printf("reloaded\n");
	}
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return fflush(stdout) || rc ? 1 : 0;
}

/*
 * status pages: a reply holds as many tenants as fit one frame (about 400);
 * the daemon, its counters and the last page's tenants_omitted (0 once all
 * came) are printed from the last reply, the tenants from every page.
 */
#define STATUS_MAX_PAGES 16

static int cmd_status(const char *path, bool counters_only)
{
	Bypass__StatusRequest req = BYPASS__STATUS_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *pages[STATUS_MAX_PAGES];
	size_t npages = 0;
	int rc = 0;

	m.msg_case = BYPASS__CTL_MSG__MSG_STATUS_REQ;
	m.status_req = &req;
	req.has_tenant_from = 1;
	do {
		pages[npages] = ask(path, &m, "status", BYPASS__CTL_MSG__MSG_STATUS_REPLY);
		if (!pages[npages]) {
			rc = 1;
			break;
		}
		const Bypass__StatusReply *s = pages[npages++]->status_reply;
		if (!s->has_tenant_next || s->tenant_next <= req.tenant_from)
			break;
		req.tenant_from = s->tenant_next;
	} while (npages < STATUS_MAX_PAGES);
	if (npages) {
		Bypass__StatusReply *last = pages[npages - 1]->status_reply;
		size_t nt = last->n_tenants;

		last->n_tenants = 0; /* printed below, in page order */
		print_status(last, counters_only);
		last->n_tenants = nt;
	}
	for (size_t p = 0; p < npages; p++) {
		const Bypass__StatusReply *s = pages[p]->status_reply;

		for (size_t i = 0; i < s->n_tenants; i++)
			print_tenant(s->tenants[i], counters_only);
		bypass__ctl_msg__free_unpacked(pages[p], NULL);
	}
	return fflush(stdout) || rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = NULL, *cmd;
	int c;

	while ((c = getopt_long(argc, argv, "+S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S': socket_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "bypassctl: missing command\n");
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "status") || !strcmp(cmd, "stats")) {
		if (optind + 1 != argc) {
			fprintf(stderr, "bypassctl: %s takes no arguments\n", cmd);
			return 2;
		}
		return cmd_status(ctl_socket_path(socket_path), !strcmp(cmd, "stats"));
	}
	if (!strcmp(cmd, "cores"))
		return cmd_cores(ctl_socket_path(socket_path), argc - optind - 1, argv + optind + 1);
	if (!strcmp(cmd, "config"))
		return cmd_config(ctl_socket_path(socket_path), argc - optind - 1, argv + optind + 1);
	fprintf(stderr, "bypassctl: '%s': unknown command (see bypassctl --help)\n", cmd);
	return 2;
}
