// SPDX-License-Identifier: MIT
/*
 * bp_fuzz_app - a deliberately misbehaving app for the error-path tests.
 *
 * It attaches like any app, accepts one real connection from the Linux
 * peer, then writes garbage everywhere the daemon reads from its region:
 * forged doorbells and control requests, an impossible tx counter, a
 * backwards rx counter, bogus queue indices and header fields.  The daemon
 * must reset only this app's flow (EPROTO), count the garbage, and keep
 * serving.  Exit 0 when the flow was reset as expected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool_accept.h"

static void usage(void)
{
	printf("usage: bp_fuzz_app [-p PORT]\n"
	       "Accepts one connection on PORT (default 7300), then corrupts its own shared\n"
	       "region to check that fastpathd rejects it.  Uses $BYPASS_SOCKET.\n");
}

int main(int argc, char **argv)
{
	int port = 7300;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage();
			return 0;
		}
		if (!strcmp(argv[i], "-p") && i + 1 < argc)
			port = atoi(argv[++i]);
	}
	int h;
	struct bp_ctx *ctx = tool_accept_one("bp_fuzz_app", "fuzz", port, &h);
	if (!ctx)
		return 1;
	struct bp_flow_shm *fs = &ctx->flows[h];
	uint32_t gen = fs->gen;
	srand(42);

	/* 1. forged doorbells: random ops, slots beyond the region, wrong gens */
	for (int i = 0; i < 5000; i++) {
		struct bp_doorbell db = { .op = (uint16_t)(rand() % 5), .slot = (uint32_t)rand(),
					  .gen = (uint32_t)rand() };
		if (i % 3 == 0)
			db.slot = (uint32_t)h; /* right slot, wrong gen */
		bp_queue_push(&ctx->dataq[0], &db);
		if (i % 256 == 0)
			bpi_wake_daemon(ctx->fp_kick_fd[0]);
	}
	/* 2. forged control requests */
	for (int i = 0; i < 2000; i++) {
		struct bp_ctrl_req r = { .op = (uint16_t)(rand() % 9), .slot = (uint32_t)rand(),
					 .gen = (uint32_t)rand(), .port = 0, .ip = (uint32_t)rand() };
		if (r.op == BP_CTRL_LISTEN || r.op == BP_CTRL_CONNECT)
			r.op = 77;
		if (bp_queue_push(&ctx->ctrlq, &r))
			break;
	}
	bpi_wake_daemon(ctx->sp_db_fd);
	/* 3. queue headers: a huge head and a shrunken size must not steer the daemon */
	__atomic_store_n(&ctx->dataq[0].q->head, ctx->dataq[0].own + (1ull << 40), __ATOMIC_RELEASE);
	ctx->dataq[0].q->size = 1u << 30;
	ctx->hdr->rx_buf_size = 1u << 31;
	ctx->hdr->buffers_off = ~0ull;
	bpi_wake_daemon(ctx->fp_kick_fd[0]);
	usleep(200000);
	/* 4. an impossible tx counter on a live flow, then a doorbell for it */
	ctx->dataq[0].q->size = (uint32_t)ctx->dataq[0].mask + 1;
	__atomic_store_n(&fs->tx_written, fs->tx_acked + 10ull * ctx->tx_size, __ATOMIC_RELEASE);
	ctx->dataq[0].own = __atomic_load_n(&ctx->dataq[0].q->head, __ATOMIC_ACQUIRE);
	struct bp_doorbell db = { .op = BP_DB_TX, .slot = (uint32_t)h, .gen = gen };
	for (int i = 0; i < 4; i++)
		bp_queue_push(&ctx->dataq[0], &db);
	bpi_wake_daemon(ctx->fp_kick_fd[0]);

	for (int i = 0; i < 300; i++) {
		if (__atomic_load_n(&fs->state, __ATOMIC_ACQUIRE) == BP_FS_CLOSED)
			break;
		usleep(10000);
	}
	uint32_t state = fs->state, e = fs->err;
	printf("bp_fuzz_app: flow state %u err %u (%s)\n", state, e, strerror((int)e));
	if (state != BP_FS_CLOSED || e != EPROTO) {
		fprintf(stderr, "bp_fuzz_app: daemon did not reset the flow with EPROTO\n");
		return 1;
	}
	printf("bp_fuzz_app: daemon rejected the garbage and reset only this flow\n");
	bp_detach(ctx);
	return 0;
}
