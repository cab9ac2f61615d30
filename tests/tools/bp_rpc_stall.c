// SPDX-License-Identifier: MIT
/*
 * bp_rpc_stall - an RPC-session server that stops taking messages
 * (tests/integration/test_rpc_stall.sh).
 *
 *   bp_rpc_stall PORT HEAP_BYTES COUNT GO_FILE [hold]
 *
 * Attaches with a message heap of HEAP_BYTES, listens on PORT as an RPC
 * session, accepts one connection and prints "accepted".  Then it calls
 * neither bp_msg_poll() nor bp_msg_done() until GO_FILE exists (its heap
 * and message queue fill: the daemon's framer stalls).  Then it takes COUNT
 * REQUESTs and checks each against the pattern the test's peer sends:
 * call_id i (1..COUNT) in order, no metadata, body_len stall_len(i), byte j
 * of the body (i * 131 + j * 7) & 0xff.  With "hold" it gives no buffer
 * back before it has all COUNT (so only draining the message queue can
 * wake the daemon's stalled flows).  Prints "ok COUNT" and exits 0, or
 * exits 1 on the first mismatch, 2 on a setup error.
 *
 *   bp_rpc_stall adopt PORT
 *
 * Accepts one RPC session on PORT, forks a child that attaches and tries
 * bp_adopt() on it (reported with bp_forked()): the child must get
 * -EOPNOTSUPP.  Prints "adopt refused: EOPNOTSUPP" and exits 0, else 1.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "bypass/bypass.h"

/* must match the peer in test_rpc_stall.sh */
static uint32_t stall_len(uint32_t i)
{
	return i * 977u % 6000u + 1;
}

static int check(const struct bp_msg *m, uint32_t want)
{
	if (m->type != 1 || m->call_id != want || m->meta_len ||
	    m->body_len != stall_len(want)) {
		fprintf(stderr, "message %u: type %u call_id %u meta %u body %u (want %u)\n",
			want, m->type, m->call_id, m->meta_len, m->body_len, stall_len(want));
		return -1;
	}
	for (uint32_t j = 0; j < m->body_len; j++) {
		if (m->body[j] != (uint8_t)(want * 131u + j * 7u)) {
			fprintf(stderr, "message %u: byte %u is %u\n", want, j, m->body[j]);
			return -1;
		}
	}
	return 0;
}

static int accept_one(struct bp_ctx *ctx, uint16_t port)
{
	int l = bp_listen_flags(ctx, 0, port, 16, BP_LISTEN_RPC);

	if (l < 0) {
		fprintf(stderr, "listen: %d\n", l);
		exit(2);
	}
	printf("listening\n");
	fflush(stdout);
	int c;
	while ((c = bp_accept(ctx, l)) < 0)
		bp_wait(ctx, 100);
	printf("accepted\n");
	fflush(stdout);
	return c;
}

static int adopt_test(const char *self, uint16_t port)
{
	char err[512], k[32];
	struct bp_attach_opts o = { .app_name = "bp_rpc_stall", .msg_heap = 1 << 20 };
	struct bp_ctx *ctx = bp_attach(&o, err, sizeof(err));
	uint64_t key = 0;
	int st;

	if (!ctx) {
		fprintf(stderr, "attach: %s\n", err);
		return 2;
	}
	int c = accept_one(ctx, port);
	if (bp_flow_key(ctx, c, &key))
		return 2;
	snprintf(k, sizeof(k), "%" PRIx64, key);
	pid_t ch = fork();
	if (ch == 0) {
		execl(self, self, "child-adopt", k, (char *)NULL);
		_exit(2);
	}
	bp_forked(ctx, ch);
	waitpid(ch, &st, 0);
	bp_detach(ctx);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static int child_adopt(const char *k)
{
	char err[512];
	struct bp_attach_opts o = { .app_name = "bp_rpc_stall-child" };
	struct bp_ctx *ctx = bp_attach(&o, err, sizeof(err));
	int h = -EAGAIN;

	if (!ctx) {
		fprintf(stderr, "child attach: %s\n", err);
		return 2;
	}
	/* the parent's FORKED may not be in yet: EPERM until it is */
	for (int i = 0; i < 100 && (h == -EAGAIN || h == -EPERM); i++) {
		h = bp_adopt(ctx, strtoull(k, NULL, 16));
		if (h == -EPERM)
			usleep(20 * 1000);
	}
	bp_detach(ctx);
	if (h != -EOPNOTSUPP) {
		printf("adopt of an RPC session: %d, want -EOPNOTSUPP\n", h);
		return 1;
	}
	printf("adopt refused: EOPNOTSUPP\n");
	return 0;
}

int main(int argc, char **argv)
{
	char err[512];

	if (argc == 3 && !strcmp(argv[1], "adopt"))
		return adopt_test(argv[0], (uint16_t)atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "child-adopt"))
		return child_adopt(argv[2]);
	if (argc != 5 && !(argc == 6 && !strcmp(argv[5], "hold"))) {
		fprintf(stderr, "usage: bp_rpc_stall PORT HEAP_BYTES COUNT GO_FILE [hold]\n");
		return 2;
	}
	struct bp_attach_opts o = { .app_name = "bp_rpc_stall",
				    .msg_heap = strtoull(argv[2], NULL, 0) };
	uint32_t count = (uint32_t)strtoul(argv[3], NULL, 0);
	struct bp_ctx *ctx = bp_attach(&o, err, sizeof(err));

	if (!ctx) {
		fprintf(stderr, "attach: %s\n", err);
		return 2;
	}
	int c = accept_one(ctx, (uint16_t)atoi(argv[1]));

	while (access(argv[4], F_OK))
		usleep(20 * 1000);

	struct bp_msg m[32], *held = NULL;
	uint32_t next = 1;

	if (argc == 6 && !(held = calloc(count, sizeof(*held))))
		return 2;
	time_t deadline = time(NULL) + 20;

	while (next <= count) {
		int n = bp_msg_poll(ctx, m, 32);

		if (n < 0) {
			fprintf(stderr, "bp_msg_poll: %d\n", n);
			return 2;
		}
		for (int i = 0; i < n; i++) {
			if (m[i].h != c || check(&m[i], next))
				return 1;
			if (held)
				held[next - 1] = m[i];
			else
				bp_msg_done(ctx, &m[i]);
			next++;
		}
		if (!n) {
			if (time(NULL) > deadline) {
				fprintf(stderr, "timeout: %u of %u messages\n", next - 1, count);
				return 1;
			}
			bp_wait(ctx, 100);
		}
	}
	for (uint32_t i = 0; held && i < count; i++)
		bp_msg_done(ctx, &held[i]);
	free(held);
	printf("ok %u\n", count);
	bp_close(ctx, c);
	bp_detach(ctx);
	return 0;
}
