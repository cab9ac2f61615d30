// SPDX-License-Identifier: MIT
/*
 * kv_client - client of the example key-value service.
 *   kv_client [--transport kernel|bypass|bypass-msg] [--connect HOST:PORT] [--deadline-ms MS]
 *             [--max-msg BYTES] CMD...
 * Commands:
 *   put KEY VALUE | get KEY | del KEY     one call; prints the value or the status
 *   check-size N B like check, values up to B bytes (the last one exactly B)
 *   check N        N puts, gets and deletes of distinct keys, values of growing
 *                  size up to 1 MiB; verifies every byte
 *   kill-test N    N HOLD calls (60 s each, deadline --deadline-ms, default 5000);
 *                  prints "pending N", then expects every call to end
 *                  UNAVAILABLE within its deadline (the server is killed) and
 *                  prints "all N UNAVAILABLE"; then retries GETs until the
 *                  server answers again (reconnect), at most 60 s
 *   check-parts V P  PUT a V-byte value, then GET_PARTS it in P-byte parts (a
 *                  streamed response): every part P bytes but the last, in
 *                  order, byte for byte; prints "check-parts ok: N parts"
 *   check-upload V P  PUT_PARTS a V-byte value in P-byte messages (a streamed
 *                  request), then GET_PARTS it back in P-byte parts, checked
 *                  byte for byte; prints "check-upload ok: N messages"
 *   too-big B      a PUT of a B-byte value the server must refuse (over its
 *                  max_msg; raise ours with --max-msg): expects
 *                  RESOURCE_EXHAUSTED well before the deadline, then a small
 *                  PUT and GET on the same session; prints "too-big ok"
 * Exit: 0 ok, 1 a call failed or a check did not hold, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bypass/rpc.h"
#include "rpc_cli.h"
#include "kv_proto.h"

static struct rpc_endpoint *ep;
static struct rpc_session *sess;
static uint64_t deadline_ms = 5000;
static int connected;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_sess(struct rpc_session *s, enum rpc_session_event ev, int err, void *arg)
{
	if (ev == RPC_SESS_CONNECTED)
		connected = 1;
	else
		fprintf(stderr, "kv_client: session %s: %s\n",
			ev == RPC_SESS_FAILED ? "connect failed" : "lost", strerror(-err));
}

static int call(uint16_t m, const struct iovec *iov, int n, struct rpc_reply *rep)
{
	struct rpc_call_opts o = { .deadline_us = deadline_ms * 1000 };
	int r = rpc_call_sync(sess, m, iov, n, &o, rep);

	if (r < 0) {
		fprintf(stderr, "kv_client: call: %s\n", strerror(-r));
		exit(1);
	}
	return rep->status;
}

static int put(const char *k, size_t kl, const void *v, size_t vl)
{
	unsigned char hdr[2] = { (unsigned char)kl, (unsigned char)(kl >> 8) };
	struct iovec iov[3] = { { hdr, 2 }, { (void *)k, kl }, { (void *)v, vl } };
	struct rpc_reply rep;
	int st = call(KV_PUT, iov, 3, &rep);

	rpc_reply_free(&rep);
	return st;
}

static int check_run(int n, unsigned char *v, size_t cap);

static int check(int n, size_t cap)
{
	unsigned char *v = malloc(cap);
	int rc = v ? check_run(n, v, cap) : 1;

	free(v);
	return rc;
}

static int check_run(int n, unsigned char *v, size_t cap)
{
	char key[32];

	for (int i = 0; i < n; i++) {
		size_t vl = ((size_t)i * 7919) % cap + 1;
		struct iovec kiov;
		struct rpc_reply rep;
		int st, kl = snprintf(key, sizeof(key), "key-%d", i);

		if (i == n - 1)
			vl = cap;
		for (size_t j = 0; j < vl; j++)
			v[j] = (unsigned char)(j * 31 + (size_t)i);
		st = put(key, (size_t)kl, v, vl);
		if (st != RPC_OK) {
			fprintf(stderr, "kv_client: put %s: %s\n", key, rpc_status_name(st));
			return 1;
		}
		kiov.iov_base = key;
		kiov.iov_len = (size_t)kl;
		st = call(KV_GET, &kiov, 1, &rep);
		if (st != RPC_OK || rep.len != vl || memcmp(rep.data, v, vl)) {
			fprintf(stderr, "kv_client: get %s: %s, %zu bytes (want %zu)\n", key,
				rpc_status_name(st), rep.len, vl);
			rpc_reply_free(&rep);
			return 1;
		}
		rpc_reply_free(&rep);
		if (call(KV_DEL, &kiov, 1, &rep) != RPC_OK ||
		    (rpc_reply_free(&rep), call(KV_GET, &kiov, 1, &rep)) != RPC_NOT_FOUND) {
			fprintf(stderr, "kv_client: del %s did not delete\n", key);
			return 1;
		}
		rpc_reply_free(&rep);
	}
	printf("kv_client: check %d ok\n", n);
	return 0;
}

struct kt {
	int done, status;
	uint64_t at;
};

static void kt_cont(const struct rpc_result *res, void *arg)
{
	struct kt *k = arg;

	k->done = 1;
	k->status = res->status;
	k->at = now_ms();
}

static int kill_test_run(struct kt *k, int n);

static int kill_test(int n)
{
	struct kt *k = calloc((size_t)n, sizeof(*k));
	int rc = k ? kill_test_run(k, n) : 1;

	free(k);
	return rc;
}

static int kill_test_run(struct kt *k, int n)
{
	unsigned char ms[4] = { 0x60, 0xea, 0, 0 };	/* 60000 */
	struct iovec iov = { ms, 4 };
	struct rpc_call_opts o = { .deadline_us = deadline_ms * 1000 };
	uint64_t t0, end;
	int done = 0, bad = 0;

	while (!connected && rpc_run(ep, 100) >= 0)
		;
	for (int i = 0; i < n; i++)
		if (rpc_call(sess, KV_HOLD, &iov, 1, &o, kt_cont, &k[i], NULL))
			return 1;
	/* every request must be at the server before it is killed */
	end = now_ms() + 1000;
	while (now_ms() < end)
		rpc_run(ep, 10);
	t0 = now_ms();
	printf("pending %d\n", n);
	fflush(stdout);
	while (done < n) {
		rpc_run(ep, 100);
		done = 0;
		for (int i = 0; i < n; i++)
			done += k[i].done;
	}
	for (int i = 0; i < n; i++) {
		if (k[i].status != RPC_UNAVAILABLE || k[i].at - t0 >= deadline_ms) {
			fprintf(stderr, "kv_client: call %d ended %s after %lu ms\n", i,
				rpc_status_name(k[i].status), (unsigned long)(k[i].at - t0));
			bad++;
		}
	}
	if (bad)
		return 1;
	printf("all %d UNAVAILABLE\n", n);
	fflush(stdout);
	t0 = now_ms();
	end = t0 + 60000;
	while (now_ms() < end) {
		struct iovec kiov = { "k", 1 };
		struct rpc_reply rep;
		int st = call(KV_GET, &kiov, 1, &rep);

		rpc_reply_free(&rep);
		if (st == RPC_NOT_FOUND || st == RPC_OK) {
			printf("reconnected after %lu ms\n", (unsigned long)(now_ms() - t0));
			return 0;
		}
		uint64_t nap = now_ms() + 100;

		while (now_ms() < nap)
			rpc_run(ep, 20);
	}
	fprintf(stderr, "kv_client: no answer 60 s after the kill\n");
	return 1;
}

struct parts {
	const unsigned char *want;
	size_t len, got;
	uint32_t part, n;
	int done, status, bad;
};

static void on_part(const struct rpc_result *res, void *arg)
{
	struct parts *x = arg;

	if (!res->more) {
		x->done = 1;
		x->status = res->status;
		return;
	}
	if (x->bad)
		return;
	if (res->msg.len > x->len - x->got ||
	    (res->msg.len != x->part && x->got + res->msg.len != x->len) ||
	    memcmp(res->msg.data, x->want + x->got, res->msg.len))
		x->bad = 1;
	x->got += res->msg.len;
	x->n++;
}

/* PUT_PARTS a value in messages of @part bytes: a streamed request */
static int upload(const char *key, const unsigned char *v, size_t len, uint32_t part,
		  unsigned *msgs)
{
	unsigned char first[2 + 64];
	size_t kl = strlen(key);
	struct iovec iov = { first, 2 + kl };
	struct rpc_call_opts o = { .deadline_us = deadline_ms * 1000,
				   .flags = RPC_CALL_SEND_STREAM };
	struct parts x = { 0 };	/* on_part() sees the one response */
	uint64_t id;
	size_t off = 0;
	int rc;

	first[0] = (unsigned char)kl;
	first[1] = 0;
	memcpy(first + 2, key, kl);
	if (rpc_call(sess, KV_PUT_PARTS, &iov, 1, &o, on_part, &x, &id) < 0)
		return RPC_INTERNAL;
	*msgs = 1;
	do {
		size_t n = len - off < part ? len - off : part;
		struct iovec viov = { (void *)(v + off), n };

		while ((rc = rpc_call_send(sess, id, &viov, 1, off + n == len)) == -EAGAIN)
			rpc_run(ep, 1);
		if (rc)
			break;
		off += n;
		++*msgs;
	} while (off < len);
	if (rc && rc != -ENOENT) { /* (-ENOENT: the call is over, its status says why) */
		fprintf(stderr, "kv_client: put-parts message %u: %s\n", *msgs, strerror(-rc));
		rpc_cancel(sess, id);
	}
	while (!x.done)
		rpc_run(ep, -1);
	return x.status;
}

/*
 * A value stored with one PUT, or with PUT_PARTS in @part-byte messages
 * (@up), then streamed back with GET_PARTS in @part-byte parts, each
 * checked as it comes.
 */
static int check_parts(size_t len, uint32_t part, bool up)
{
	const char *key = up ? "upload" : "parts";
	unsigned char *v = malloc(len ? len : 1), req[4 + 6];
	struct parts x = { .want = v, .len = len, .part = part };
	struct rpc_call_opts o = { .deadline_us = deadline_ms * 1000, .flags = RPC_CALL_STREAM };
	struct iovec iov = { req, 4 + strlen(key) };
	unsigned msgs = 1;
	int st;

	if (!v || !part)
		return free(v), 1;
	for (size_t j = 0; j < len; j++)
		v[j] = (unsigned char)(j * 131 + j / 4099);
	st = up ? upload(key, v, len, part, &msgs) : put(key, strlen(key), v, len);
	if (st != RPC_OK) {
		fprintf(stderr, "kv_client: %s of %zu bytes: %s\n", up ? "put-parts" : "put", len,
			rpc_status_name(st));
		free(v);
		return 1;
	}
	for (int i = 0; i < 4; i++)
		req[i] = (unsigned char)(part >> (8 * i)); /* u32 LE */
	memcpy(req + 4, key, strlen(key));
	if (rpc_call(sess, KV_GET_PARTS, &iov, 1, &o, on_part, &x, NULL) < 0) {
		fprintf(stderr, "kv_client: get-parts call failed\n");
		free(v);
		return 1;
	}
	while (!x.done)
		rpc_run(ep, -1);
	free(v);
	if (x.status != RPC_OK || x.bad || x.got != len) {
		fprintf(stderr, "kv_client: get-parts: %s, %zu of %zu bytes in %u parts%s\n",
			rpc_status_name(x.status), x.got, len, x.n, x.bad ? ", bad bytes" : "");
		return 1;
	}
	if (up)
		printf("kv_client: check-upload ok: %u messages up, %u parts back, %zu bytes\n",
		       msgs, x.n, len);
	else
		printf("kv_client: check-parts ok: %u parts, %zu bytes\n", x.n, len);
	return 0;
}

/* a PUT over the server's max_msg is refused, and the session goes on */
static int too_big(size_t len)
{
	unsigned char *v = calloc(1, len ? len : 1);
	uint64_t t0 = now_ms();
	struct iovec kiov = { "small", 5 };
	struct rpc_reply rep;
	int st;

	if (!v)
		return 1;
	st = put("big", 3, v, len);
	free(v);
	if (st != RPC_RESOURCE_EXHAUSTED) {
		fprintf(stderr, "kv_client: put of %zu bytes: %s after %llu ms, want "
			"RESOURCE_EXHAUSTED\n", len, rpc_status_name(st),
			(unsigned long long)(now_ms() - t0));
		return 1;
	}
	uint64_t ms = now_ms() - t0;

	if (put("small", 5, "value", 5) != RPC_OK || call(KV_GET, &kiov, 1, &rep) != RPC_OK ||
	    rep.len != 5 || memcmp(rep.data, "value", 5)) {
		fprintf(stderr, "kv_client: the session did not go on after the refusal\n");
		rpc_reply_free(&rep);
		return 1;
	}
	rpc_reply_free(&rep);
	printf("kv_client: too-big ok: %zu bytes refused in %llu ms\n", len,
	       (unsigned long long)ms);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: kv_client [--transport kernel|bypass|bypass-msg] [--connect HOST:PORT]\n"
		   "                 [--deadline-ms MS] [--max-msg BYTES] put KEY VALUE | get KEY |\n"
		   "                 del KEY | check N | check-size N BYTES | kill-test N |\n"
		   "                 too-big BYTES | check-parts BYTES PART | check-upload BYTES PART\n"
		   "Client of kv_server (default 127.0.0.1:7100, kernel transport).\n"
		   "  check N      N put/get/del rounds with values up to 1 MiB, every byte verified\n"
		   "  kill-test N  N slow calls; expects them to end UNAVAILABLE within the deadline\n"
		   "               when the server is killed, then waits for it to come back\n"
		   "  too-big B    a B-byte PUT the server must refuse RESOURCE_EXHAUSTED\n"
		   "  check-parts V P  a V-byte value back as a stream of P-byte parts\n"
		   "  check-upload V P  a V-byte value up as a streamed request of P-byte\n"
		   "               messages, then back as a stream of P-byte parts\n"
		   "Exit: 0 ok, 1 failure, 2 usage.\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "transport", required_argument, 0, 't' }, { "connect", required_argument, 0, 'c' },
		{ "deadline-ms", required_argument, 0, 'd' }, { "max-msg", required_argument, 0, 'm' },
		{ "help", no_argument, 0, 'h' }, { 0 } };
	struct rpc_endpoint_opts o = { .bp_opts_app_name = "kv_client" };
	const char *addr = "127.0.0.1:7100";
	char err[512] = "";
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "+t:c:d:m:h", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (rpc_cli_transport("kv_client", optarg, &o))
				return usage(stderr), 2;
			break;
		case 'c':
			addr = optarg;
			break;
		case 'd':
			deadline_ms = strtoull(optarg, NULL, 10);
			break;
		case 'm':
			o.max_msg = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || !deadline_ms)
		return usage(stderr), 2;
	ep = rpc_endpoint_create(&o, err, sizeof(err));
	if (!ep) {
		fprintf(stderr, "kv_client: %s\n", err[0] ? err : strerror(errno));
		return 1;
	}
	sess = rpc_connect(ep, addr, on_sess, NULL);
	if (!sess) {
		fprintf(stderr, "kv_client: bad address %s (want a.b.c.d:port)\n", addr);
		rpc_endpoint_destroy(ep);
		return 2;
	}
	if (!strcmp(argv[0], "put") && argc == 3) {
		int st = put(argv[1], strlen(argv[1]), argv[2], strlen(argv[2]));

		printf("%s\n", rpc_status_name(st));
		rc = st != RPC_OK;
	} else if ((!strcmp(argv[0], "get") || !strcmp(argv[0], "del")) && argc == 2) {
		struct iovec kiov = { argv[1], strlen(argv[1]) };
		struct rpc_reply rep;
		int st = call(argv[0][0] == 'g' ? KV_GET : KV_DEL, &kiov, 1, &rep);

		if (st == RPC_OK && argv[0][0] == 'g')
			printf("%.*s\n", (int)rep.len, (char *)rep.data);
		else
			printf("%s\n", rpc_status_name(st));
		rpc_reply_free(&rep);
		rc = st != RPC_OK;
	} else if (!strcmp(argv[0], "check") && argc == 2) {
		rc = check(atoi(argv[1]), 1u << 20);
	} else if (!strcmp(argv[0], "check-size") && argc == 3) {
		rc = check(atoi(argv[1]), (size_t)strtoull(argv[2], NULL, 0));
	} else if (!strcmp(argv[0], "check-parts") && argc == 3) {
		rc = check_parts((size_t)strtoull(argv[1], NULL, 0),
				 (uint32_t)strtoul(argv[2], NULL, 0), false);
	} else if (!strcmp(argv[0], "check-upload") && argc == 3) {
		rc = check_parts((size_t)strtoull(argv[1], NULL, 0),
				 (uint32_t)strtoul(argv[2], NULL, 0), true);
	} else if (!strcmp(argv[0], "too-big") && argc == 2) {
		rc = too_big((size_t)strtoull(argv[1], NULL, 0));
	} else if (!strcmp(argv[0], "kill-test") && argc == 2) {
		rc = kill_test(atoi(argv[1]));
	} else {
		usage(stderr);
		rc = 2;
	}
	rpc_endpoint_destroy(ep);
	return rc;
}
