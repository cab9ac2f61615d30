// SPDX-License-Identifier: MIT
/*
 * bp_flows - open N bypass connections to one peer and keep them all
 * sending as fast as their congestion control allows, for a fixed time.
 * The congestion-control tests use it to share a bottleneck between flows;
 * the receiver measures the shares.
 *
 *   bp_flows --to IP:PORT [--conns N] [--cc NAME] [--seconds S] [--socket P]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bypass/bypass.h"

#define MAX_CONNS 64

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: bp_flows --to IP:PORT [--conns N] [--cc NAME] [--seconds S] [--socket PATH]\n"
		     "Opens N connections (default 1, at most %d) with congestion control NAME\n"
		     "(default: the daemon's) and sends on all of them for S seconds (default 10).\n"
		     "Prints one line per connection: index, local port, bytes written.\n",
		MAX_CONNS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' }, { "conns", required_argument, NULL, 'n' },
		{ "cc", required_argument, NULL, 'c' }, { "seconds", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' }, { "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *to = NULL, *cc = NULL, *sock = NULL;
	int n = 1, o;
	double secs = 10;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 't': to = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'c': cc = optarg; break;
		case 's': secs = atof(optarg); break;
		case 'S': sock = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	char ipbuf[64];
	const char *colon = to ? strrchr(to, ':') : NULL;
	struct in_addr ip;
	if (!colon || (size_t)(colon - to) >= sizeof(ipbuf) || n < 1 || n > MAX_CONNS || secs <= 0) {
		usage(stderr);
		return 2;
	}
	memcpy(ipbuf, to, (size_t)(colon - to));
	ipbuf[colon - to] = 0;
	if (inet_pton(AF_INET, ipbuf, &ip) != 1) {
		fprintf(stderr, "bp_flows: --to: '%s' is not an IPv4 address\n", ipbuf);
		return 2;
	}
	uint16_t port = (uint16_t)atoi(colon + 1);

	char err[512];
	struct bp_attach_opts ao = { .socket_path = sock, .app_name = "bp_flows", .cc = cc };
	struct bp_ctx *ctx = bp_attach(&ao, err, sizeof(err));
	if (!ctx) {
		fprintf(stderr, "bp_flows: %s\n", err);
		return 1;
	}
	int h[MAX_CONNS];
	unsigned long long sent[MAX_CONNS] = { 0 };
	for (int i = 0; i < n; i++) {
		h[i] = bp_connect(ctx, ip.s_addr, port);
		if (h[i] < 0) {
			fprintf(stderr, "bp_flows: connect %d: %s\n", i, strerror(-h[i]));
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		int st;
		double t0 = now_s();
		while ((st = bp_connect_status(ctx, h[i])) == -EINPROGRESS && now_s() - t0 < 5)
			bp_wait(ctx, 100);
		if (st) {
			fprintf(stderr, "bp_flows: connection %d failed: %s\n", i, strerror(-st));
			return 1;
		}
	}
	static char buf[65536];
	memset(buf, 'x', sizeof(buf));
	double end = now_s() + secs;
	while (now_s() < end) {
		int moved = 0;
		for (int i = 0; i < n; i++) {
			ssize_t w = bp_send(ctx, h[i], buf, sizeof(buf));
			if (w > 0) {
				sent[i] += (unsigned long long)w;
				moved = 1;
			} else if (w != -EAGAIN) {
				fprintf(stderr, "bp_flows: send on %d: %s\n", i, strerror((int)-w));
				return 1;
			}
		}
		if (!moved)
			bp_wait(ctx, 10);
	}
	for (int i = 0; i < n; i++) {
		struct bp_flow_info fi;
		bp_flow_info(ctx, h[i], &fi);
		printf("%d %u %llu\n", i, fi.local_port, sent[i]);
		bp_abort(ctx, h[i]); /* the measurement is over: no FIN drain */
	}
	bp_detach(ctx);
	return 0;
}
