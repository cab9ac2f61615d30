// SPDX-License-Identifier: MIT
/*
 * bypassctl - operator CLI for fastpathd, over its Unix control socket.
 *
 *   bypassctl [--socket PATH] status
 */
#include <errno.h>
#include <getopt.h>
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
		"\n"
		"options:\n"
		"  -S, --socket PATH   fastpathd control socket (default: $%s or %s)\n"
		"  -h, --help          this help\n",
		BP_SOCKET_ENV, BP_DEFAULT_SOCKET);
}

static void print_status(const Bypass__StatusReply *s)
{
	printf("version %s\n", s->version ? s->version : "?");
	printf("port %s\n", s->port ? s->port : "-");
	printf("local_ip %s\n", s->local_ip ? s->local_ip : "-");
	if (s->has_apps)
		printf("apps %u\n", s->apps);
	if (s->has_flows)
		printf("flows %u\n", s->flows);
	for (size_t i = 0; i < s->n_counters; i++)
		printf("%s %llu\n", s->counters[i]->name,
		       (unsigned long long)s->counters[i]->value);
}

static int cmd_status(const char *path)
{
	Bypass__StatusRequest req = BYPASS__STATUS_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
	char err[512];
	int fd, r;

	fd = ctl_client_connect(path, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "bypassctl: %s\n", err);
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	m.msg_case = BYPASS__CTL_MSG__MSG_STATUS_REQ;
	m.status_req = &req;
	r = ctl_send(fd, &m, NULL, 0);
	if (!r)
		r = ctl_recv(fd, &reply, NULL, NULL, 0);
	close(fd);
	if (r == -EAGAIN || r == -ETIMEDOUT) {
		fprintf(stderr, "bypassctl: fastpathd at %s did not answer within %d s\n",
			path, REPLY_TIMEOUT_S);
		return 1;
	}
	if (r) {
		fprintf(stderr, "bypassctl: status request to fastpathd at %s failed: %s\n",
			path, strerror(-r));
		return 1;
	}
	if (reply->msg_case != BYPASS__CTL_MSG__MSG_STATUS_REPLY) {
		fprintf(stderr, "bypassctl: fastpathd at %s sent an unexpected reply "
			"(message type %d)\n", path, (int)reply->msg_case);
		bypass__ctl_msg__free_unpacked(reply, NULL);
		return 1;
	}
	print_status(reply->status_reply);
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return fflush(stdout) ? 1 : 0;
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
	if (!strcmp(cmd, "status")) {
		if (optind + 1 != argc) {
			fprintf(stderr, "bypassctl: status takes no arguments\n");
			return 2;
		}
		return cmd_status(ctl_socket_path(socket_path));
	}
	fprintf(stderr, "bypassctl: '%s': not implemented yet (only 'status' is)\n", cmd);
	return 2;
}
