// SPDX-License-Identifier: MIT
/*
 * rpc_post_exit - an RPC-session client that posts frames and exits at
 * once (tests/integration/test_rpc_qos.sh): nothing it posted may be lost.
 *
 *   rpc_post_exit IP PORT FRAMES BYTES
 *
 * Attaches with a message heap, opens an RPC session to IP:PORT, posts
 * FRAMES REQUEST frames of BYTES payload bytes each in the bulk class
 * (call_id i = 1..FRAMES, byte j of frame i = (i * 131 + j * 7) & 0xff),
 * waiting for send-area room when it must, then closes the session,
 * detaches and exits without waiting for any of them to leave.  Prints
 * "posted FRAMES, N still in fastpathd at close" and exits 0; 1 on an
 * error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bypass/bypass.h"
#include "bypass/rpc_wire.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct bp_attach_opts o = { .app_name = "rpc_post_exit", .msg_heap = 32u << 20 };
	char err[512] = "";
	struct in_addr ip;
	struct bp_ctx *ctx;
	unsigned long frames, bytes;
	uint64_t deadline;
	int h, st;

	if (argc != 5 || inet_pton(AF_INET, argv[1], &ip) != 1) {
		fprintf(stderr, "usage: rpc_post_exit IP PORT FRAMES BYTES\n");
		return 2;
	}
	frames = strtoul(argv[3], NULL, 10);
	bytes = strtoul(argv[4], NULL, 10);
	if (!frames || frames > 100000 || bytes > (1u << 20)) {
		fprintf(stderr, "rpc_post_exit: FRAMES 1..100000, BYTES up to 1 MiB\n");
		return 2;
	}
	ctx = bp_attach(&o, err, sizeof(err));
	if (!ctx) {
		fprintf(stderr, "rpc_post_exit: %s\n", err);
		return 1;
	}
	h = bp_connect_rpc(ctx, ip.s_addr, (uint16_t)strtoul(argv[2], NULL, 10));
	if (h < 0) {
		fprintf(stderr, "rpc_post_exit: connect: %s\n", strerror(-h));
		return 1;
	}
	for (deadline = now_ms() + 10000; (st = bp_connect_status(ctx, h)) == -EINPROGRESS &&
					  now_ms() < deadline;)
		bp_wait(ctx, 100);
	if (st) {
		fprintf(stderr, "rpc_post_exit: connect: %s\n", strerror(st < 0 ? -st : ETIMEDOUT));
		return 1;
	}
	deadline = now_ms() + 60000;
	for (unsigned long i = 1; i <= frames; i++) {
		uint8_t *buf;
		struct bp_msg m[16];

		while (!(buf = bp_msg_tx_alloc(ctx, h, RPC_WIRE_HDR_LEN + bytes, BP_PRIO_BULK))) {
			if (errno != ENOBUFS || now_ms() > deadline) {
				fprintf(stderr, "rpc_post_exit: frame %lu: %s\n", i, strerror(errno));
				return 1;
			}
			/* the daemon's answers free room; nothing else comes */
			while (bp_msg_poll(ctx, m, 16) > 0)
				;
			bp_wait(ctx, 10);
		}
		struct rpc_frame_hdr hd = { .type = RPC_FT_REQUEST, .method = 1, .call_id = (uint32_t)i,
					    .frame_len = (uint32_t)bytes, .msg_len = (uint32_t)bytes };

		rpc_frame_encode(&hd, buf);
		for (unsigned long j = 0; j < bytes; j++)
			buf[RPC_WIRE_HDR_LEN + j] = (uint8_t)(i * 131 + j * 7);
		st = bp_msg_tx_post(ctx, h, buf);
		if (st) {
			fprintf(stderr, "rpc_post_exit: post %lu: %s\n", i, strerror(-st));
			return 1;
		}
	}
	unsigned left = bp_msg_tx_inflight(ctx, h);

	bp_close(ctx, h);
	bp_detach(ctx);
	printf("posted %lu, %u still in fastpathd at close\n", frames, left);
	return 0;
}
