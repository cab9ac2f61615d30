// SPDX-License-Identifier: MIT
/*
 * test_rpc_frame_tx.c - fastpathd's send scheduler for RPC sessions
 * (fastpathd/rpc_frame_tx.c) against a fake send area, tx ring and message
 * queue: class order, a started frame finishing first, FIFO within a
 * class, answers never lost, and hostile posts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>

#include "bypass/rpc_wire.h"
#include "bypass/shm_abi.h"
#include "rpc_frame_tx.h"

#define AREA (1u << 20)
#define RING (1u << 18)

struct fake {
	uint8_t area[AREA];
	uint8_t ring[RING];
	uint64_t acked;
	struct bp_msg_desc q[256];
	unsigned nq, qcap;
	struct rpc_tx_flow tf;
	struct rpc_tx_env env;
	uint64_t next_off;
};

static struct fake *fk;

static int push(void *arg, const struct bp_msg_desc *d)
{
	struct fake *f = arg;

	if (f->nq >= f->qcap)
		return -1;
	f->q[f->nq++] = *d;
	return 0;
}

static bool full(void *arg)
{
	struct fake *f = arg;

	return f->nq >= f->qcap;
}

static void setup(void)
{
	fk = calloc(1, sizeof(*fk));
	fk->qcap = 256;
	rpc_tx_init(&fk->tf);
	fk->env = (struct rpc_tx_env){
		.area = fk->area, .area_size = AREA, .ring = fk->ring, .ring_size = RING,
		.push = push, .full = full, .arg = fk, .slot = 5, .gen = 9, .core = 1,
	};
}

static void teardown(void)
{
	free(fk);
}

TestSuite(rpc_frame_tx, .init = setup, .fini = teardown);

/* a REQUEST frame with @len payload bytes of @fill at the next free area
 * offset; returns the offset */
static uint64_t frame(uint32_t call_id, uint32_t len, uint8_t fill)
{
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .method = 1, .call_id = call_id,
				   .frame_len = len, .msg_len = len };
	uint64_t off = fk->next_off;

	rpc_frame_encode(&h, fk->area + off);
	memset(fk->area + off + RPC_WIRE_HDR_LEN, fill, len);
	fk->next_off = (off + RPC_WIRE_HDR_LEN + len + BP_TXAREA_ALIGN - 1) / BP_TXAREA_ALIGN *
		       BP_TXAREA_ALIGN;
	return off;
}

/* fill with @room bytes of ring room */
static int fill(uint64_t room)
{
	fk->env.room = room;
	return rpc_tx_fill(&fk->tf, &fk->env);
}

/* the frames in the ring from @from on, as their call ids, in order */
static unsigned ring_calls(uint64_t from, uint32_t *ids, unsigned max)
{
	unsigned n = 0;

	while (from < fk->env.written && n < max) {
		struct rpc_frame_hdr h;

		cr_assert_eq(rpc_frame_decode(fk->ring + from % RING, &h), RPC_FE_OK,
			     "a frame boundary at %llu", (unsigned long long)from);
		ids[n++] = h.call_id;
		for (uint32_t i = 0; i < h.frame_len; i++)
			cr_assert_eq(fk->ring[(from + RPC_WIRE_HDR_LEN + i) % RING], (uint8_t)h.call_id,
				     "payload of call %u intact", h.call_id);
		from += RPC_WIRE_HDR_LEN + h.frame_len;
	}
	return n;
}

Test(rpc_frame_tx, better_class_first_fifo_within_class)
{
	uint32_t ids[8];

	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, frame(1, 1000, 1), BP_MSG_PRIO_BULK), 0);
	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, frame(2, 100, 2), BP_MSG_PRIO_NORMAL), 0);
	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, frame(3, 100, 3), BP_MSG_PRIO_NORMAL), 0);
	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, frame(4, 10, 4), BP_MSG_PRIO_LATENCY), 0);
	cr_assert(rpc_tx_pending(&fk->tf));
	cr_assert_eq(fill(RING), RPC_TX_IDLE);
	cr_assert_eq(ring_calls(0, ids, 8), 4);
	cr_assert_eq(ids[0], 4);
	cr_assert_eq(ids[1], 2);
	cr_assert_eq(ids[2], 3);
	cr_assert_eq(ids[3], 1);
	cr_assert_eq(fk->tf.frames, 4);
	cr_assert_eq(fk->tf.overtakes, 3, "4, 2 and 3 each went ahead of 1, posted first");
	cr_assert_not(rpc_tx_pending(&fk->tf));
	/* one answer per frame, in the order they finished, naming the area offset */
	cr_assert_eq(fk->nq, 4);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(fk->q[i].type, BP_MSG_SENT);
		cr_assert_eq(fk->q[i].status, 0);
		cr_assert_eq(fk->q[i].slot, 5);
		cr_assert_eq(fk->q[i].gen, 9);
		cr_assert_eq(fk->q[i].core, 1);
	}
	cr_assert_eq(fk->q[3].heap_off, 0, "call 1 was posted at offset 0");
}

Test(rpc_frame_tx, started_frame_finishes_before_a_better_class)
{
	uint32_t ids[8];

	rpc_tx_post(&fk->tf, &fk->env, frame(1, 40000, 1), BP_MSG_PRIO_BULK);
	rpc_tx_post(&fk->tf, &fk->env, frame(2, 40000, 2), BP_MSG_PRIO_BULK);
	cr_assert_eq(fill(10000), RPC_TX_RING, "the ring is full mid-frame");
	cr_assert_eq(fk->env.written, 10000);
	cr_assert_eq(fk->nq, 0);
	rpc_tx_post(&fk->tf, &fk->env, frame(3, 64, 3), BP_MSG_PRIO_LATENCY);
	cr_assert_eq(fill(RING), RPC_TX_IDLE);
	cr_assert_eq(ring_calls(0, ids, 8), 3);
	cr_assert_eq(ids[0], 1, "the frame in progress is finished first");
	cr_assert_eq(ids[1], 3, "then the latency frame, ahead of the bulk one waiting");
	cr_assert_eq(ids[2], 2);
	cr_assert_eq(fk->tf.overtakes, 1);
}

Test(rpc_frame_tx, ring_room_is_respected_across_fills)
{
	uint32_t ids[64];
	uint64_t total = 0;

	for (uint32_t i = 1; i <= 20; i++) {
		rpc_tx_post(&fk->tf, &fk->env, frame(i, 3000 + i, (uint8_t)i), BP_MSG_PRIO_NORMAL);
		total += RPC_WIRE_HDR_LEN + 3000 + i;
	}
	/* 1 KiB of room at a time, as ACKs come back */
	int v;
	unsigned rounds = 0;

	do {
		uint64_t before = fk->env.written;

		v = fill(1024);
		cr_assert_leq(fk->env.written - before, 1024);
		rounds++;
	} while (v == RPC_TX_RING && rounds < 1000);
	cr_assert_eq(v, RPC_TX_IDLE);
	cr_assert_eq(fk->env.written, total);
	cr_assert_eq(ring_calls(0, ids, 64), 20);
	for (uint32_t i = 0; i < 20; i++)
		cr_assert_eq(ids[i], i + 1, "one class keeps its order");
	cr_assert_eq(fk->tf.overtakes, 0);
}

Test(rpc_frame_tx, the_header_read_at_post_is_what_goes_out)
{
	uint32_t ids[2];
	uint64_t off = frame(7, 500, 7);

	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, off, BP_MSG_PRIO_NORMAL), 0);
	/* the app rewrites the header afterwards: claims a longer frame */
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .call_id = 7, .frame_len = 90000,
				   .msg_len = 90000 };

	rpc_frame_encode(&h, fk->area + off);
	cr_assert_eq(fill(RING), RPC_TX_IDLE);
	cr_assert_eq(fk->env.written, RPC_WIRE_HDR_LEN + 500);
	cr_assert_eq(ring_calls(0, ids, 2), 1);
}

Test(rpc_frame_tx, an_answer_is_never_lost)
{
	fk->qcap = 0;
	rpc_tx_post(&fk->tf, &fk->env, frame(1, 100, 1), BP_MSG_PRIO_NORMAL);
	cr_assert_eq(fill(RING), RPC_TX_STALL, "no room for its answer: the frame waits");
	cr_assert_eq(fk->env.written, 0, "nothing of it went in");
	fk->qcap = 256;
	cr_assert_eq(fill(RING), RPC_TX_IDLE);
	cr_assert_eq(fk->nq, 1);
	cr_assert_eq(fk->env.written, RPC_WIRE_HDR_LEN + 100);
}

Test(rpc_frame_tx, hostile_posts_are_refused)
{
	uint64_t ok = frame(1, 100, 1);

	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, ok, BP_MSG_PRIOS), -EINVAL, "class");
	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, ok + 1, BP_MSG_PRIO_BULK), -EINVAL, "alignment");
	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, AREA, BP_MSG_PRIO_BULK), -EINVAL, "past the end");
	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, UINT64_MAX / 64 * 64, BP_MSG_PRIO_BULK), -EINVAL);
	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, AREA - BP_TXAREA_ALIGN, BP_MSG_PRIO_BULK), -EINVAL,
		     "a zeroed header is no frame");
	/* a header whose frame runs past the area's end */
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .call_id = 2, .frame_len = 4096,
				   .msg_len = 4096 };

	rpc_frame_encode(&h, fk->area + AREA - 1024);
	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, AREA - 1024, BP_MSG_PRIO_BULK), -EINVAL);
	fk->area[ok] ^= 0xff; /* bad magic */
	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, ok, BP_MSG_PRIO_BULK), -EINVAL);
	cr_assert_not(rpc_tx_pending(&fk->tf));
	fk->area[ok] ^= 0xff;
	/* a class holds BP_MSG_TX_DEPTH frames; the others still take more */
	for (int i = 0; i < BP_MSG_TX_DEPTH; i++)
		cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, ok, BP_MSG_PRIO_BULK), 0);
	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, ok, BP_MSG_PRIO_BULK), -ENOBUFS);
	cr_assert_eq(rpc_tx_post(&fk->tf, &fk->env, ok, BP_MSG_PRIO_LATENCY), 0);
}

Test(rpc_frame_tx, drop_answers_every_posted_frame)
{
	rpc_tx_post(&fk->tf, &fk->env, frame(1, 40000, 1), BP_MSG_PRIO_BULK);
	rpc_tx_post(&fk->tf, &fk->env, frame(2, 10, 2), BP_MSG_PRIO_LATENCY);
	fill(100); /* call 2 in, call 1 started */
	cr_assert_eq(fk->nq, 1);
	rpc_tx_drop(&fk->tf, &fk->env, -ECONNRESET);
	cr_assert_eq(fk->nq, 2);
	cr_assert_eq(fk->q[1].type, BP_MSG_SENT);
	cr_assert_eq((int16_t)fk->q[1].status, -ECONNRESET);
	cr_assert_eq(fk->q[1].heap_off, 0);
	cr_assert_not(rpc_tx_pending(&fk->tf));
	cr_assert_eq(fill(RING), RPC_TX_IDLE);
}
