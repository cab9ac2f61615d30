// SPDX-License-Identifier: MIT
/*
 * bp_rpc_stall - an RPC-session server that stops taking messages
 * (tests/integration/test_rpc_stall.sh).
 *
 *   bp_rpc_stall PORT HEAP_BYTES COUNT GO_FILE
 *
 * Attaches with a message heap of HEAP_BYTES, listens on PORT as an RPC
 * session, accepts one connection and prints "accepted".  Then it calls
 * neither bp_msg_poll() nor bp_msg_done() until GO_FILE exists (its heap
 * and message queue fill: the daemon's framer stalls).  Then it takes COUNT
 * REQUESTs and checks each against the pattern the test's peer sends:
 * call_id i (1..COUNT) in order, no metadata, body_len stall_len(i), byte j
 * of the body (i * 131 + j * 7) & 0xff.  Prints "ok COUNT" and exits 0, or
 * exits 1 on the first mismatch, 2 on a setup error.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
	char err[256];

	if (argc != 5) {
		fprintf(stderr, "usage: bp_rpc_stall PORT HEAP_BYTES COUNT GO_FILE\n");
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
	int l = bp_listen_flags(ctx, 0, (uint16_t)atoi(argv[1]), 16, BP_LISTEN_RPC);
	if (l < 0) {
		fprintf(stderr, "listen: %d\n", l);
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	int c;
	while ((c = bp_accept(ctx, l)) < 0)
		bp_wait(ctx, 100);
	printf("accepted\n");
	fflush(stdout);
	while (access(argv[4], F_OK))
		usleep(20 * 1000);

	struct bp_msg m[32];
	uint32_t next = 1;
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
			next++;
			bp_msg_done(ctx, &m[i]);
		}
		if (!n) {
			if (time(NULL) > deadline) {
				fprintf(stderr, "timeout: %u of %u messages\n", next - 1, count);
				return 1;
			}
			bp_wait(ctx, 100);
		}
	}
	printf("ok %u\n", count);
	bp_close(ctx, c);
	bp_detach(ctx);
	return 0;
}
