// SPDX-License-Identifier: MIT
/*
 * test_msg_tx_area.c - libbypass's send area (client-lib/msg_tx.c): the
 * latency eighth, room promised to messages of several frames
 * (bp_msg_tx_reserve()), and the order flows that found it full hear of
 * room again.
 *
 * The deadlock the promises keep away, in this allocator's terms: flows
 * whose frames cannot leave (their receiver's heap is full) must never
 * take the room a begun message still needs.  Frames are only allocated
 * and cancelled here (a cancel frees like the daemon's BP_MSG_SENT), on
 * a hand-built context: no daemon, no doorbells.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bp_internal.h"

#define AREA (512u * 64) /* 64 granules of 512 B; the latency eighth is 8 */
#define NFLOWS 8

static struct bp_ctx *ctx;

static void setup(void)
{
	ctx = calloc(1, sizeof(*ctx));
	cr_assert_not_null(ctx);
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_cond_init(&ctx->cond, NULL);
	ctx->max_flows = NFLOWS;
	ctx->slots = calloc(NFLOWS, sizeof(*ctx->slots));
	ctx->news = calloc(NFLOWS, sizeof(*ctx->news));
	ctx->base = aligned_alloc(4096, AREA);
	cr_assert(ctx->slots && ctx->news && ctx->base);
	ctx->txarea_off = 0;
	ctx->txarea_size = AREA;
	for (int i = 0; i < NFLOWS; i++) {
		ctx->slots[i].kind = BPS_FLOW;
		ctx->slots[i].gen = 1;
	}
}

static void teardown(void)
{
	bpi_txarea_free(ctx->txarea);
	free(ctx->base);
	free(ctx->news);
	free(ctx->slots);
	free(ctx);
}

/* the handles bp_poll() would report next, in order; clears the ring */
static int news(int *out, int max)
{
	int n = 0;

	while (ctx->news_count && n < max) {
		uint32_t i = ctx->news[ctx->news_head];

		ctx->news_head = (ctx->news_head + 1) % ctx->max_flows;
		ctx->news_count--;
		ctx->slots[i].news = 0;
		out[n++] = (int)i;
	}
	return n;
}

/* a frame of @granules 512 B granules */
static void *frame(int h, unsigned granules, unsigned prio)
{
	return bp_msg_tx_alloc(ctx, h, granules * 512u, prio);
}

TestSuite(msg_tx_area, .init = setup, .fini = teardown);

Test(msg_tx_area, latency_class_keeps_the_last_eighth)
{
	void *bulk = frame(0, 56, BP_PRIO_BULK);

	cr_assert_not_null(bulk, "56 of 64 granules for bulk");
	errno = 0;
	cr_assert_null(frame(0, 1, BP_PRIO_NORMAL), "the last eighth is not for normal frames");
	cr_assert_eq(errno, ENOBUFS);
	cr_assert_not_null(frame(1, 8, BP_PRIO_LATENCY), "but it is for a latency frame");
}

Test(msg_tx_area, promised_room_is_left_to_its_message)
{
	/* flow 0 begins a message of 40 granules in 4 frames */
	cr_assert_eq(bp_msg_tx_reserve(ctx, 0, 40 * 512 - 4 * 512, 4, BP_PRIO_NORMAL), 0);
	/* 40 promised (36 + a granule a frame), 8 kept for latency: 16 left */
	void *other = frame(1, 16, BP_PRIO_NORMAL);

	cr_assert_not_null(other, "the unpromised room is anyone's");
	errno = 0;
	cr_assert_null(frame(2, 1, BP_PRIO_NORMAL), "nothing of the promise for others");
	cr_assert_eq(errno, ENOBUFS);
	cr_assert_null(frame(2, 1, BP_PRIO_NORMAL | BP_MSG_TX_RESERVED),
		       "a flow without a promise cannot claim one");
	/* the begun message gets all its frames though the area looks full */
	for (int i = 0; i < 4; i++)
		cr_assert_not_null(frame(0, 9, BP_PRIO_NORMAL | BP_MSG_TX_RESERVED),
				   "frame %d of the promised message", i);
	/* the promise is used up: it no longer keeps anything back */
	bp_msg_tx_cancel(ctx, other);
	cr_assert_not_null(frame(2, 16, BP_PRIO_NORMAL));
}

Test(msg_tx_area, second_message_waits_for_room_the_first_is_promised)
{
	cr_assert_eq(bp_msg_tx_reserve(ctx, 0, 30 * 512, 2, BP_PRIO_BULK), 0);
	/* 32 promised, 8 kept: a second message of 30 does not fit */
	cr_assert_eq(bp_msg_tx_reserve(ctx, 1, 30 * 512, 2, BP_PRIO_BULK), -ENOBUFS);
	/* the first gives its promise back (done or given up): room again,
	 * and flow 1, which found none, hears of it */
	int got[NFLOWS];

	news(got, NFLOWS);
	bp_msg_tx_unreserve(ctx, 0, BP_PRIO_BULK);
	cr_assert_eq(news(got, NFLOWS), 1);
	cr_assert_eq(got[0], 1);
	cr_assert_eq(bp_msg_tx_reserve(ctx, 1, 30 * 512, 2, BP_PRIO_BULK), 0);
}

Test(msg_tx_area, a_message_larger_than_the_area_goes_alone)
{
	/* with no promise out, even a message larger than the area begins */
	cr_assert_eq(bp_msg_tx_reserve(ctx, 0, 10 * AREA, 320, BP_PRIO_NORMAL), 0);
	cr_assert_eq(bp_msg_tx_reserve(ctx, 1, 2 * 512, 1, BP_PRIO_NORMAL), -ENOBUFS,
		     "nobody else begins while it holds the area");
	void *f = frame(0, 60, BP_PRIO_NORMAL | BP_MSG_TX_RESERVED);

	cr_assert_not_null(f, "its frames take the whole area, the latency eighth too");
	bp_msg_tx_cancel(ctx, f);
}

Test(msg_tx_area, closing_a_flow_drops_its_promise)
{
	cr_assert_eq(bp_msg_tx_reserve(ctx, 3, 50 * 512, 1, BP_PRIO_NORMAL), 0);
	cr_assert_null(frame(4, 8, BP_PRIO_NORMAL));
	bpi_lock(ctx);
	bpi_txarea_slot_closed(ctx, 3);
	bpi_unlock(ctx);
	cr_assert_not_null(frame(4, 8, BP_PRIO_NORMAL), "the closed flow's promise is free");
}

Test(msg_tx_area, waiters_hear_of_room_longest_waiter_first)
{
	void *all = frame(0, 56, BP_PRIO_NORMAL);
	int order[] = { 5, 2, 7, 1 };
	int got[NFLOWS];

	cr_assert_not_null(all);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_null(frame(order[i], 4, BP_PRIO_NORMAL));
	news(got, NFLOWS);
	bp_msg_tx_cancel(ctx, all);
	/* the freeing flow first, then the waiters in the order they waited */
	cr_assert_eq(news(got, NFLOWS), 5);
	cr_assert_eq(got[0], 0);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(got[i + 1], order[i], "waiter %u: %d, want %d", i, got[i + 1], order[i]);
}

Test(msg_tx_area, bad_reservations_are_refused)
{
	cr_assert_eq(bp_msg_tx_reserve(ctx, 0, 512, 0, BP_PRIO_NORMAL), -EINVAL, "no frames");
	cr_assert_eq(bp_msg_tx_reserve(ctx, 0, 16, 1, BP_PRIO_NORMAL), -EINVAL,
		     "less than a header a frame");
	cr_assert_eq(bp_msg_tx_reserve(ctx, 0, 4096, 2, 7), -EINVAL, "no such class");
	cr_assert_eq(bp_msg_tx_reserve(ctx, NFLOWS + 3, 4096, 2, BP_PRIO_NORMAL), -EBADF);
	ctx->slots[6].kind = BPS_NONE;
	cr_assert_eq(bp_msg_tx_reserve(ctx, 6, 4096, 2, BP_PRIO_NORMAL), -EBADF);
	bp_msg_tx_unreserve(ctx, -1, BP_PRIO_NORMAL); /* ignored */
	bp_msg_tx_unreserve(ctx, 0, 9);
	cr_assert_not_null(frame(0, 56, BP_PRIO_NORMAL), "nothing was promised");
}
