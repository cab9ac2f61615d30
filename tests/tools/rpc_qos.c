// SPDX-License-Identifier: MIT
/*
 * rpc_qos - do small calls of a better class get through while a large
 * response is on its way?  (tests/integration/test_rpc_qos.sh)
 *
 *   rpc_qos server [--transport T] [--listen HOST:PORT] [--no-classes]
 *
 * Method 1 "bulk" answers a u32 (little-endian) byte count with that many
 * bytes, byte i = i * 7 & 0xff, in the bulk class; method 2 "small" echoes
 * its request in the latency class.  --no-classes registers both in the
 * normal class (the control run: no ordering by class at all).  Prints
 * "rpc_qos: listening on port N".
 *
 *   rpc_qos client [--transport T] --connect HOST:PORT --big BYTES [--small N]
 *
 * Starts one bulk call for BYTES and, while it is pending, makes small
 * 64-byte calls one after the other (at most N, default 10000).  Every
 * response is checked byte for byte.  Prints one line:
 *   big_ms=B small=K p50_ms=P max_ms=M first_ms=F
 * (K small calls completed before the bulk one; their median, worst and
 * first latency), and exits 0; 1 on a wrong or failed response.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bypass/rpc.h"
#include "rpc_cli.h"

#define SMALL_LEN 64

static volatile sig_atomic_t stop;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void h_bulk(struct rpc_req *r, void *arg)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	const unsigned char *p = m->data;
	uint32_t n;
	uint8_t *buf;

	(void)arg;
	if (m->len != 4) {
		rpc_respond(r, RPC_INVALID_ARGUMENT, NULL, 0, NULL, 0);
		return;
	}
	n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	buf = malloc(n ? n : 1);
	if (!buf) {
		rpc_respond(r, RPC_RESOURCE_EXHAUSTED, NULL, 0, NULL, 0);
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 7);
	struct iovec iov = { .iov_base = buf, .iov_len = n };

	if (rpc_respond(r, RPC_OK, &iov, 1, NULL, 0))
		rpc_respond(r, RPC_RESOURCE_EXHAUSTED, NULL, 0, NULL, 0);
	free(buf);
}

static void h_small(struct rpc_req *r, void *arg)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	struct iovec iov = { .iov_base = (void *)m->data, .iov_len = m->len };

	(void)arg;
	rpc_respond(r, RPC_OK, &iov, 1, NULL, 0);
}

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static int server(struct rpc_endpoint_opts *o, const char *listen, bool classes)
{
	char err[512] = "";
	struct rpc_endpoint *ep = rpc_endpoint_create(o, err, sizeof(err));
	int r;

	if (!ep) {
		fprintf(stderr, "rpc_qos: %s\n", err[0] ? err : strerror(errno));
		return 2;
	}
	if (rpc_register_flags(ep, 1, "bulk", h_bulk, NULL, classes ? RPC_METHOD_BULK : 0) ||
	    rpc_register_flags(ep, 2, "small", h_small, NULL, classes ? RPC_METHOD_LATENCY : 0)) {
		fprintf(stderr, "rpc_qos: cannot register the methods\n");
		return 2;
	}
	r = rpc_listen(ep, listen, NULL, NULL);
	if (r) {
		fprintf(stderr, "rpc_qos: listen %s: %s\n", listen, strerror(-r));
		return 2;
	}
	printf("rpc_qos: listening on port %d\n", rpc_listen_port(ep));
	fflush(stdout);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	while (!stop) {
		r = rpc_run(ep, 100);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "rpc_qos: %s\n", strerror(-r)); /* fastpathd gone */
			break;
		}
	}
	rpc_endpoint_destroy(ep);
	return 0;
}

struct client {
	struct rpc_session *s;
	uint32_t big;
	bool big_done, small_out, bad;
	double t0, big_ms, sent_at;
	double *lat;
	unsigned nlat, max_small;
	uint8_t small[SMALL_LEN];
};

static void small_call(struct client *c);

static void on_small(const struct rpc_result *res, void *arg)
{
	struct client *c = arg;

	c->small_out = false;
	if (res->status != RPC_OK || res->msg.len != SMALL_LEN ||
	    memcmp(res->msg.data, c->small, SMALL_LEN)) {
		fprintf(stderr, "rpc_qos: small call: status %d, %zu bytes\n", res->status, res->msg.len);
		c->bad = true;
		return;
	}
	if (!c->big_done)
		c->lat[c->nlat++] = now_ms() - c->sent_at;
	if (!c->big_done && c->nlat < c->max_small)
		small_call(c);
}

static void small_call(struct client *c)
{
	struct iovec iov = { .iov_base = c->small, .iov_len = SMALL_LEN };
	struct rpc_call_opts opts = { .prio = RPC_PRIO_LATENCY };

	c->small[0] = (uint8_t)c->nlat;
	c->sent_at = now_ms();
	if (rpc_call(c->s, 2, &iov, 1, &opts, on_small, c, NULL)) {
		fprintf(stderr, "rpc_qos: small call refused\n");
		c->bad = true;
		return;
	}
	c->small_out = true;
}

static void on_big(const struct rpc_result *res, void *arg)
{
	struct client *c = arg;
	const uint8_t *p = res->msg.data;

	c->big_done = true;
	c->big_ms = now_ms() - c->t0;
	if (res->status != RPC_OK || res->msg.len != c->big) {
		fprintf(stderr, "rpc_qos: bulk call: status %d, %zu bytes of %u\n", res->status,
			res->msg.len, c->big);
		c->bad = true;
		return;
	}
	for (uint32_t i = 0; i < c->big; i++) {
		if (p[i] != (uint8_t)(i * 7)) {
			fprintf(stderr, "rpc_qos: bulk response byte %u wrong\n", i);
			c->bad = true;
			return;
		}
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int client(struct rpc_endpoint_opts *o, const char *connect, uint32_t big, unsigned max_small)
{
	char err[512] = "";
	struct rpc_endpoint *ep = rpc_endpoint_create(o, err, sizeof(err));
	struct client c = { .big = big, .max_small = max_small };
	uint8_t req[4] = { (uint8_t)big, (uint8_t)(big >> 8), (uint8_t)(big >> 16), (uint8_t)(big >> 24) };
	struct iovec iov = { .iov_base = req, .iov_len = 4 };
	double deadline;

	if (!ep) {
		fprintf(stderr, "rpc_qos: %s\n", err[0] ? err : strerror(errno));
		return 2;
	}
	c.lat = calloc(max_small, sizeof(*c.lat));
	c.s = rpc_connect(ep, connect, NULL, NULL);
	if (!c.s || !c.lat) {
		fprintf(stderr, "rpc_qos: connect %s: %s\n", connect, strerror(errno));
		return 2;
	}
	for (deadline = now_ms() + 10000; !rpc_session_connected(c.s) && now_ms() < deadline;)
		rpc_run(ep, 10);
	if (!rpc_session_connected(c.s)) {
		fprintf(stderr, "rpc_qos: no session to %s within 10 s\n", connect);
		return 1;
	}
	c.t0 = now_ms();
	if (rpc_call(c.s, 1, &iov, 1, NULL, on_big, &c, NULL)) {
		fprintf(stderr, "rpc_qos: bulk call refused\n");
		return 1;
	}
	small_call(&c);
	for (deadline = now_ms() + 60000; (!c.big_done || c.small_out) && !c.bad;) {
		if (now_ms() > deadline) {
			fprintf(stderr, "rpc_qos: no answer within 60 s\n");
			return 1;
		}
		rpc_run(ep, 10);
	}
	if (c.bad)
		return 1;
	qsort(c.lat, c.nlat, sizeof(*c.lat), cmp_d);
	printf("big_ms=%.1f small=%u p50_ms=%.2f max_ms=%.2f first_ms=%.2f\n", c.big_ms, c.nlat,
	       c.nlat ? c.lat[c.nlat / 2] : 0.0, c.nlat ? c.lat[c.nlat - 1] : 0.0,
	       c.nlat ? c.lat[0] : 0.0);
	rpc_endpoint_destroy(ep);
	free(c.lat);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: rpc_qos server [--transport T] [--listen HOST:PORT] [--no-classes]\n"
		   "       rpc_qos client [--transport T] --connect HOST:PORT --big BYTES [--small N]\n"
		   "Small latency-class calls made while one bulk-class response is on its way\n"
		   "(see the comment at the top of tests/tools/rpc_qos.c).  T: %s\n",
		RPC_CLI_TRANSPORT_HELP);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "transport", required_argument, 0, 't' }, { "listen", required_argument, 0, 'l' },
		{ "connect", required_argument, 0, 'c' }, { "big", required_argument, 0, 'b' },
		{ "small", required_argument, 0, 's' }, { "no-classes", no_argument, 0, 'n' },
		{ "help", no_argument, 0, 'h' }, { 0 } };
	struct rpc_endpoint_opts o = { .bp_opts_app_name = "rpc_qos", .max_msg = 64u << 20 };
	const char *listen = ":7300", *connect = NULL;
	unsigned long big = 0, small = 10000;
	bool classes = true;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "t:l:c:b:s:nh", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (rpc_cli_transport("rpc_qos", optarg, &o))
				return 2;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'c':
			connect = optarg;
			break;
		case 'b':
			big = strtoul(optarg, NULL, 0);
			break;
		case 's':
			small = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			classes = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!strcmp(argv[1], "server"))
		return server(&o, listen, classes);
	if (strcmp(argv[1], "client") || !connect || !big || big > 32u << 20 || !small ||
	    small > 1000000) {
		usage(stderr);
		return 2;
	}
	return client(&o, connect, (uint32_t)big, (unsigned)small);
}
