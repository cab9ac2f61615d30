/* SPDX-License-Identifier: MIT */
/*
 * server_common.h - what the example servers (bp_echo, bp_httpd) share:
 * their common options, signal setup, attach and listen.  A header, since
 * every .c file in examples/ is a program of its own.
 */
#ifndef BP_EXAMPLES_SERVER_COMMON_H
#define BP_EXAMPLES_SERVER_COMMON_H

#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bypass/bypass.h"

/**
 * struct server_opts - -p PORT, -s ADDR, -m MAX, --socket PATH, -q.
 * @max_conns: connections served at once.
 */
struct server_opts {
	long port;
	struct in_addr addr;
	long max_conns;
	const char *socket_path;
	bool quiet;
};

/*
 * Parse the common options.  Return: -1 to go on, else the exit status
 * (0 after --help, 2 on a usage error, with the reason on stderr).
 */
static int server_parse(int argc, char **argv, const char *prog, void (*usage)(FILE *),
			struct server_opts *o)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "source", required_argument, NULL, 's' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "socket", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->port = -1;
	o->max_conns = 1024;
	while ((c = getopt_long(argc, argv, "p:s:m:qh", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'p':
			o->port = strtol(optarg, &end, 10);
			if (*end || o->port < 0 || o->port > 65535)
				o->port = -2;
			break;
		case 's':
			if (inet_pton(AF_INET, optarg, &o->addr) != 1) {
				fprintf(stderr, "%s: invalid address '%s'\n", prog, optarg);
				return 2;
			}
			break;
		case 'm':
			o->max_conns = strtol(optarg, &end, 10);
			if (*end || o->max_conns < 1 || o->max_conns > 1000000) {
				fprintf(stderr, "%s: invalid --max-conns '%s'\n", prog, optarg);
				return 2;
			}
			break;
		case 'S': o->socket_path = optarg; break;
		case 'q': o->quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o->port < 0 || optind != argc) {
		fprintf(stderr, "%s: %s\n", prog, o->port == -2 ? "invalid port" : "need -p PORT");
		usage(stderr);
		return 2;
	}
	return -1;
}

/*
 * Signals (no SA_RESTART: they must cut bp_wait() short; SIGPIPE ignored),
 * attach and listen, with the error on stderr.  Return: the context and
 * *listener, or NULL.
 */
static struct bp_ctx *server_start(const char *prog, const struct server_opts *o,
				   void (*on_signal)(int), int *listener)
{
	struct bp_attach_opts ao = { .app_name = prog, .socket_path = o->socket_path };
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512], ipbuf[INET_ADDRSTRLEN];
	struct bp_ctx *ctx;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ctx = bp_attach(&ao, err, sizeof(err));
	if (!ctx) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return NULL;
	}
	*listener = bp_listen(ctx, o->addr.s_addr, (uint16_t)o->port,
			      o->max_conns < 128 ? (int)o->max_conns : 128);
	if (*listener < 0) {
		fprintf(stderr, "%s: listen on port %ld: %s\n", prog, o->port, strerror(-*listener));
		bp_detach(ctx);
		return NULL;
	}
	if (!o->quiet) {
		struct bp_flow_info fi = { 0 };
		uint32_t ip = o->addr.s_addr ? o->addr.s_addr : bp_local_ip(ctx);

		bp_flow_info(ctx, *listener, &fi);
		fprintf(stderr, "%s: listening on %s:%u\n", prog,
			inet_ntop(AF_INET, &ip, ipbuf, sizeof(ipbuf)),
			fi.local_port ? fi.local_port : (unsigned)o->port);
	}
	return ctx;
}

#endif
