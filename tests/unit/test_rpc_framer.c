// SPDX-License-Identifier: MIT
/*
 * test_rpc_framer.c - fastpathd's RPC framer (fastpathd/rpc_frame_rx.c)
 * and message heap (fastpathd/rpc_heap.c) against a fake ring, heap and
 * message queue, hostile peers and apps included.
 */
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>

#include "bypass/rpc_wire.h"
#include "bypass/shm_abi.h"
#include "rpc_frame_rx.h"
#include "rpc_heap.h"

#define RING (1u << 18)
#define HEAP (16u * BP_HEAP_BLOCK)
#define QCAP 8

struct fake {
	uint8_t ring[RING];
	uint64_t written;
	uint8_t *heap_mem;
	struct rpc_heap heap;
	struct bp_msg_desc q[64];
	unsigned nq, qcap;
	unsigned counted;
	struct rpc_rx_flow rf;
	struct rpc_rx_env env;
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

static void count(void *arg, const struct rpc_frame_hdr *h)
{
	(void)h;
	((struct fake *)arg)->counted++;
}

static void setup(void)
{
	fk = calloc(1, sizeof(*fk));
	fk->heap_mem = calloc(1, HEAP);
	cr_assert_eq(rpc_heap_init(&fk->heap, 0, HEAP), 0);
	fk->qcap = QCAP;
	rpc_rx_init(&fk->rf);
	fk->env = (struct rpc_rx_env){
		.ring = fk->ring, .ring_size = RING, .heap = &fk->heap,
		.heap_base = fk->heap_mem, .heap_size = HEAP, .push = push, .count = count,
		.arg = fk, .slot = 3, .gen = 7,
	};
}

static void teardown(void)
{
	rpc_heap_fini(&fk->heap);
	free(fk->heap_mem);
	free(fk);
}

static void put(const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fk->ring[(fk->written + i) % RING] = ((const uint8_t *)p)[i];
	fk->written += n;
}

static void put_frame(uint8_t type, uint16_t flags, uint32_t call_id, uint32_t msg_len,
		      const uint8_t *payload, uint32_t len, uint16_t meta_len)
{
	struct rpc_frame_hdr h = { .type = type, .flags = flags, .method = 42,
				   .call_id = call_id, .frame_len = len, .msg_len = msg_len,
				   .meta_len = meta_len };
	uint8_t raw[RPC_WIRE_HDR_LEN];

	rpc_frame_encode(&h, raw);
	put(raw, sizeof(raw));
	if (len)
		put(payload, len);
}

static int scan(void)
{
	fk->env.end = fk->written;
	return rpc_rx_scan(&fk->rf, &fk->env);
}

TestSuite(rpc_framer, .init = setup, .fini = teardown);
TestSuite(rpc_heap, .init = setup, .fini = teardown);

Test(rpc_framer, whole_message_one_frame)
{
	uint8_t body[100];

	for (unsigned i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)i;
	put_frame(RPC_FT_REQUEST, 0, 9, 90, body, 100, 10);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 1);
	struct bp_msg_desc *d = &fk->q[0];
	cr_assert_eq(d->type, RPC_FT_REQUEST);
	cr_assert_eq(d->call_id, 9);
	cr_assert_eq(d->method, 42);
	cr_assert_eq(d->meta_len, 10);
	cr_assert_eq(d->body_len, 90);
	cr_assert_eq(d->slot, 3);
	cr_assert_eq(d->gen, 7);
	cr_assert(d->has_buf);
	cr_assert_eq(memcmp(fk->heap_mem + d->heap_off, body, 100), 0);
	cr_assert_eq(fk->env.pos, fk->written, "the daemon consumed the frame");
	cr_assert_eq(fk->counted, 1);
	cr_assert_eq(d->wire_bytes, 132);
}

/* a streamed response's flag reaches the app on requests and responses */
Test(rpc_framer, the_stream_flag_goes_through)
{
	uint8_t x[4] = { 0 };

	put_frame(RPC_FT_REQUEST, RPC_FF_STREAM, 1, 4, x, 4, 0);
	put_frame(RPC_FT_RESPONSE, RPC_FF_STREAM, 2, 4, x, 4, 0);
	put_frame(RPC_FT_RESPONSE, 0, 2, 4, x, 4, 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 3);
	cr_assert_eq(fk->q[0].flags, RPC_FF_STREAM);
	cr_assert_eq(fk->q[1].flags, RPC_FF_STREAM | RPC_FF_RESP_DIR);
	cr_assert_eq(fk->q[2].flags, RPC_FF_RESP_DIR);
}

Test(rpc_framer, frame_arrives_in_pieces)
{
	uint8_t body[5000];

	memset(body, 0xab, sizeof(body));
	put_frame(RPC_FT_RESPONSE, 0, 1, 5000, body, 5000, 0);
	uint64_t all = fk->written;

	fk->written = 20; /* half a header */
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->env.pos, 0, "a partial header is not taken");
	fk->written = 1000;
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 0);
	cr_assert_eq(fk->env.pos, 1000, "payload bytes go to the heap as they come");
	fk->written = all;
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 1);
	cr_assert(fk->q[0].flags & RPC_FF_RESP_DIR);
	cr_assert_eq(memcmp(fk->heap_mem + fk->q[0].heap_off, body, 5000), 0);
}

Test(rpc_framer, chunked_interleaved)
{
	uint8_t a[300], b[40];

	for (unsigned i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 7);
	memset(b, 0x55, sizeof(b));
	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 1, 300, a, 100, 0);
	put_frame(RPC_FT_REQUEST, 0, 2, 40, b, 40, 0);       /* a small call in between */
	put_frame(RPC_FT_CHUNK, RPC_FF_MORE, 1, 100, a + 100, 100, 0);
	put_frame(RPC_FT_PING, 0, 0, 0, NULL, 0, 0);
	put_frame(RPC_FT_CHUNK, 0, 1, 200, a + 200, 100, 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 3);
	cr_assert_eq(fk->q[0].call_id, 2, "the small call is not held back");
	cr_assert_eq(fk->q[1].type, RPC_FT_PING);
	cr_assert(!fk->q[1].has_buf);
	cr_assert_eq(fk->q[2].call_id, 1);
	cr_assert_eq(fk->q[2].body_len, 300);
	cr_assert_eq(memcmp(fk->heap_mem + fk->q[2].heap_off, a, 300), 0);
	cr_assert_eq(fk->q[2].wire_bytes, 3 * 32 + 300);
}

/* RESP_DIR means something on a CHUNK only: on a REQUEST it is ignored */
Test(rpc_framer, resp_dir_on_a_request_is_ignored)
{
	uint8_t a[60];

	memset(a, 0x33, sizeof(a));
	put_frame(RPC_FT_REQUEST, RPC_FF_MORE | RPC_FF_RESP_DIR, 7, 60, a, 30, 0);
	put_frame(RPC_FT_CHUNK, 0, 7, 30, a + 30, 30, 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->rf.error, 0, "the request's own chunk was refused");
	cr_assert_eq(fk->nq, 1);
	cr_assert_eq(fk->q[0].type, RPC_FT_REQUEST);
	cr_assert_eq(fk->q[0].flags & RPC_FF_RESP_DIR, 0);
	cr_assert_eq(fk->q[0].body_len, 60);
}

Test(rpc_framer, bad_magic_is_an_error)
{
	uint8_t junk[64];

	memset(junk, 'G', sizeof(junk)); /* "GGGG..." e.g. an HTTP client */
	put(junk, sizeof(junk));
	cr_assert_eq(scan(), RPC_RX_ERROR);
	cr_assert_eq(fk->rf.error, RPC_RXE_HEADER);
	cr_assert_eq(fk->nq, 0);
	cr_assert_eq(scan(), RPC_RX_ERROR, "the session stays failed");
}

Test(rpc_framer, oversized_frame_is_an_error)
{
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .frame_len = RPC_WIRE_MAX_FRAME + 1,
				   .msg_len = RPC_WIRE_MAX_FRAME + 1 };
	uint8_t raw[RPC_WIRE_HDR_LEN];

	rpc_frame_encode(&h, raw);
	put(raw, sizeof(raw));
	cr_assert_eq(scan(), RPC_RX_ERROR);
	cr_assert_eq(fk->heap.used, 0, "nothing allocated for a bad header");
}

Test(rpc_framer, chunk_for_unknown_call)
{
	uint8_t x[10] = { 0 };

	put_frame(RPC_FT_CHUNK, 0, 77, 0, x, 10, 0);
	cr_assert_eq(scan(), RPC_RX_ERROR);
	cr_assert_eq(fk->rf.error, RPC_RXE_CHUNK);
}

Test(rpc_framer, chunk_out_of_order)
{
	uint8_t x[100] = { 0 };

	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 1, 100, x, 50, 0);
	put_frame(RPC_FT_CHUNK, 0, 1, 60, x, 40, 0); /* offset should be 50 */
	cr_assert_eq(scan(), RPC_RX_ERROR);
	cr_assert_eq(fk->rf.error, RPC_RXE_CHUNK);
}

Test(rpc_framer, too_many_in_assembly)
{
	uint8_t x[8] = { 0 };

	for (uint32_t id = 1; id <= RPC_RX_MAX_ASM; id++)
		put_frame(RPC_FT_REQUEST, RPC_FF_MORE, id, 16, x, 8, 0);
	cr_assert_eq(scan(), RPC_RX_ERROR);
	cr_assert_eq(fk->rf.error, RPC_RXE_TOO_MANY);
	rpc_rx_release(&fk->rf, &fk->heap, 0);
	cr_assert_eq(fk->heap.used, 0, "release gives assembly buffers back");
}

Test(rpc_framer, heap_full_stalls_then_resumes)
{
	static uint8_t big[HEAP - BP_HEAP_BLOCK];

	memset(big, 1, sizeof(big));
	put_frame(RPC_FT_REQUEST, 0, 1, sizeof(big), big, sizeof(big), 0);
	put_frame(RPC_FT_REQUEST, 0, 2, 2 * BP_HEAP_BLOCK, big, 2 * BP_HEAP_BLOCK, 0);
	cr_assert_eq(scan(), RPC_RX_STALL);
	cr_assert_eq(fk->nq, 1);
	uint64_t stop = fk->env.pos;
	cr_assert_lt(stop, fk->written, "the second frame stays in the ring");
	cr_assert_eq(scan(), RPC_RX_STALL, "still no room");
	cr_assert_eq(fk->env.pos, stop);
	/* the app returns the first buffer: room again */
	cr_assert_eq(rpc_heap_return(&fk->heap, fk->q[0].buf, fk->q[0].buf_gen), 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 2);
	cr_assert_eq(fk->env.pos, fk->written);
}

Test(rpc_framer, queue_full_stalls_then_resumes)
{
	fk->qcap = 2;
	for (int i = 0; i < 4; i++)
		put_frame(RPC_FT_PING, 0, 0, 0, NULL, 0, 0);
	uint8_t x[10] = { 0 };
	put_frame(RPC_FT_REQUEST, 0, 5, 10, x, 10, 0);
	cr_assert_eq(scan(), RPC_RX_STALL);
	cr_assert_eq(fk->nq, 2);
	cr_assert_eq(fk->env.pos, 64, "two PINGs taken, the rest waits");
	fk->nq = 0; /* the app drained the queue */
	cr_assert_eq(scan(), RPC_RX_STALL);
	fk->nq = 0;
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 1);
	cr_assert_eq(fk->q[0].call_id, 5);
}

Test(rpc_framer, too_big_for_heap_is_skipped)
{
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .call_id = 3, .frame_len = HEAP + 8,
				   .msg_len = HEAP + 8 };
	uint8_t raw[RPC_WIRE_HDR_LEN];
	static uint8_t body[HEAP + 8];

	rpc_frame_encode(&h, raw);
	put(raw, sizeof(raw));
	put(body, sizeof(body));
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 1);
	cr_assert(fk->q[0].flags & BP_MSGF_TOO_BIG);
	cr_assert(!fk->q[0].has_buf);
	cr_assert_eq(fk->heap.used, 0);
}

/* the frames of a chunked request: a first of @first bytes, then @n CHUNKs of @chunk */
static void put_chunked(uint32_t call_id, uint32_t first, unsigned n, uint32_t chunk)
{
	static uint8_t zero[8192];
	uint32_t total = first + n * chunk;

	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, call_id, total, zero, first, 0);
	for (unsigned i = 0; i < n; i++)
		put_frame(RPC_FT_CHUNK, i + 1 < n ? RPC_FF_MORE : 0, call_id,
			  first + i * chunk, zero, chunk, 0);
}

/*
 * Over the app's msg_max: refused at the first frame (no heap taken even
 * though it would fit), and every frame's bytes handed over as they go
 * (BP_MSGF_PART), so an app can give back credit for a message larger
 * than its whole byte window.  The parts and the end add up to the wire.
 */
Test(rpc_framer, over_msg_max_is_handed_over_in_parts)
{
	fk->env.msg_max = 4000;
	fk->qcap = 64;
	put_chunked(11, 2000, 3, 1000); /* 5000 bytes of body */
	uint64_t wire = fk->written;

	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 4, "three parts and the end: %u", fk->nq);
	uint64_t sum = 0;

	for (unsigned i = 0; i < 4; i++) {
		struct bp_msg_desc *d = &fk->q[i];

		cr_assert_eq(d->type, RPC_FT_REQUEST);
		cr_assert_eq(d->call_id, 11);
		cr_assert(d->flags & BP_MSGF_TOO_BIG);
		cr_assert_eq(!!(d->flags & BP_MSGF_PART), i < 3, "desc %u", i);
		cr_assert(!d->has_buf);
		cr_assert_eq(d->wire_bytes, RPC_WIRE_HDR_LEN + (i ? 1000 : 2000), "desc %u", i);
		sum += d->wire_bytes;
	}
	cr_assert_eq(sum, wire);
	cr_assert_eq(fk->q[3].body_len, 5000, "the end says how large it was");
	cr_assert_eq(fk->heap.used, 0);
	cr_assert_eq(fk->counted, 1, "one message, counted once");
	/* at the limit: taken as usual */
	fk->nq = 0;
	put_chunked(12, 2000, 2, 1000);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 1);
	cr_assert(!(fk->q[0].flags & BP_MSGF_TOO_BIG));
	cr_assert(fk->q[0].has_buf);
	cr_assert_eq(fk->q[0].body_len, 4000);
}

/* a part that finds the queue full waits: nothing is lost or sent twice */
Test(rpc_framer, a_part_waits_for_queue_room)
{
	fk->env.msg_max = 100;
	fk->qcap = 1;
	put_chunked(13, 500, 2, 500);
	uint64_t wire = fk->written, sum = 0;
	unsigned parts = 0, ends = 0;

	for (int round = 0; round < 10 && !ends; round++) {
		int v = scan();

		cr_assert(v == RPC_RX_STALL || v == RPC_RX_IDLE);
		for (unsigned i = 0; i < fk->nq; i++) {
			sum += fk->q[i].wire_bytes;
			parts += !!(fk->q[i].flags & BP_MSGF_PART);
			ends += !(fk->q[i].flags & BP_MSGF_PART);
		}
		fk->nq = 0;
	}
	cr_assert_eq(parts, 2);
	cr_assert_eq(ends, 1);
	cr_assert_eq(sum, wire);
	cr_assert_eq(fk->env.pos, fk->written);
}

/*
 * The peer cancels requests still arriving (WIRE.md: it sends no more of
 * them): one being skipped and one in the heap.  Each ends at once, with
 * no data, marked cancelled (the app answers nothing) and the wire bytes
 * not yet handed over, then the CANCEL; the
 * entries and the run are free again, so a peer that keeps abandoning
 * messages never runs the session out of entries.
 */
Test(rpc_framer, a_cancelled_request_ends_at_once)
{
	uint8_t x[3000] = { 0 };

	fk->env.msg_max = 1000;
	fk->qcap = 64;
	for (uint32_t round = 0; round < 3 * RPC_RX_MAX_ASM; round++) {
		uint32_t skipped = 10 + 2 * round, kept = 11 + 2 * round;
		uint64_t before = fk->written;

		fk->nq = 0;
		put_frame(RPC_FT_REQUEST, RPC_FF_MORE, skipped, 3000, x, 1000, 0);
		put_frame(RPC_FT_CHUNK, RPC_FF_MORE, skipped, 1000, x, 1000, 0);
		put_frame(RPC_FT_REQUEST, RPC_FF_MORE, kept, 900, x, 100, 0);
		put_frame(RPC_FT_CANCEL, 0, skipped, 0, NULL, 0, 0);
		put_frame(RPC_FT_CANCEL, 0, kept, 0, NULL, 0, 0);
		cr_assert_eq(scan(), RPC_RX_IDLE, "round %u", round);
		uint64_t sum = 0;
		unsigned ends = 0, cancels = 0;

		for (unsigned i = 0; i < fk->nq; i++) {
			struct bp_msg_desc *d = &fk->q[i];

			if (d->type == RPC_FT_REQUEST)
				sum += d->wire_bytes;
			cr_assert(!d->has_buf);
			if (d->type == RPC_FT_REQUEST && !(d->flags & BP_MSGF_PART)) {
				cr_assert(d->flags & BP_MSGF_TOO_BIG);
				cr_assert(d->flags & BP_MSGF_CANCELLED);
				ends++;
			}
			cancels += d->type == RPC_FT_CANCEL;
		}
		cr_assert_eq(ends, 2);
		cr_assert_eq(cancels, 2);
		/* every byte of the two requests is handed over (the CANCELs' own
		 * 64 are no request's) */
		cr_assert_eq(sum, fk->written - before - 2 * RPC_WIRE_HDR_LEN);
		cr_assert_eq(fk->heap.used, 0, "the kept request's run is free");
	}
	cr_assert_eq(rpc_rx_oldest(&fk->rf), UINT64_MAX);
}

Test(rpc_framer, eof_after_everything)
{
	uint8_t x[10] = { 0 };

	put_frame(RPC_FT_REQUEST, 0, 5, 10, x, 10, 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(rpc_rx_eof(&fk->rf, &fk->env), 0);
	cr_assert_eq(rpc_rx_eof(&fk->rf, &fk->env), 0);
	cr_assert_eq(fk->nq, 2, "one EOF only");
	cr_assert_eq(fk->q[1].type, BP_MSG_EOF);
}

/* a FIN in the middle of a message: the message is dropped with its heap
 * run, and nothing of it is left to time out */
Test(rpc_framer, eof_drops_a_message_cut_short)
{
	uint8_t a[300] = { 0 };
	uint32_t g;

	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 1, 300, a, 100, 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 0);
	cr_assert_eq(rpc_heap_alloc(&fk->heap, HEAP, &g), -1, "the message holds a run");
	cr_assert_eq(rpc_rx_eof(&fk->rf, &fk->env), 0);
	cr_assert_eq(fk->nq, 1);
	cr_assert_eq(fk->q[0].type, BP_MSG_EOF);
	for (int i = 0; i < RPC_RX_MAX_ASM; i++)
		cr_assert_not(fk->rf.a[i].used, "a message cut short is still in assembly");
	cr_assert_eq(rpc_heap_alloc(&fk->heap, HEAP, &g), 0, "its run was not given back");
}

Test(rpc_heap, hostile_returns)
{
	uint32_t g1, g2;
	int64_t b1 = rpc_heap_alloc(&fk->heap, 3 * BP_HEAP_BLOCK, &g1);
	int64_t b2 = rpc_heap_alloc(&fk->heap, 100, &g2);

	cr_assert_geq(b1, 0);
	cr_assert_geq(b2, 0);
	cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b1, g1), -1,
		     "still the daemon's (in assembly): not the app's to return");
	rpc_heap_give(&fk->heap, (uint32_t)b1);
	rpc_heap_give(&fk->heap, (uint32_t)b2);
	cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b1 + 1, g1), -1, "inside a run");
	cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b1, g1 + 100), -1, "wrong generation");
	cr_assert_eq(rpc_heap_return(&fk->heap, 1u << 30, g1), -1, "beyond the heap");
	cr_assert_eq(rpc_heap_return(&fk->heap, 12, 0), -1, "a free block");
	cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b1, g1), 0);
	cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b1, g1), -1, "double return");
	cr_assert_eq(fk->heap.bad_returns, 6);
	cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b2, g2), 0);
	cr_assert_eq(fk->heap.used, 0);
	/* everything merged back: the whole part is one run again */
	uint32_t g;
	cr_assert_eq(rpc_heap_alloc(&fk->heap, HEAP, &g), 0);
}

Test(rpc_heap, fragmentation_merges)
{
	uint32_t g[8];
	int64_t b[8];

	for (int i = 0; i < 8; i++) {
		b[i] = rpc_heap_alloc(&fk->heap, 2 * BP_HEAP_BLOCK, &g[i]);
		cr_assert_geq(b[i], 0);
		rpc_heap_give(&fk->heap, (uint32_t)b[i]);
	}
	uint32_t gx;
	cr_assert_eq(rpc_heap_alloc(&fk->heap, 1, &gx), -1, "full");
	for (int i = 0; i < 8; i += 2)
		cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b[i], g[i]), 0);
	cr_assert_eq(rpc_heap_alloc(&fk->heap, 3 * BP_HEAP_BLOCK, &gx), -1, "holes of 2 only");
	for (int i = 1; i < 8; i += 2)
		cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b[i], g[i]), 0);
	cr_assert_eq(rpc_heap_alloc(&fk->heap, HEAP, &gx), 0, "all merged");
}

Test(rpc_heap, a_run_of_the_class_below_is_found)
{
	uint32_t g[16], gx;
	int64_t b[16];

	/* runs of 3, 1, 3 and 9 blocks fill the part; the two of 3 go back
	 * (the one between keeps them apart), so only class [2, 4) has
	 * room, and 3 is not a power of two: found by the class scan */
	b[0] = rpc_heap_alloc(&fk->heap, 3 * BP_HEAP_BLOCK, &g[0]);
	b[1] = rpc_heap_alloc(&fk->heap, 1, &g[1]);
	b[2] = rpc_heap_alloc(&fk->heap, 3 * BP_HEAP_BLOCK, &g[2]);
	b[3] = rpc_heap_alloc(&fk->heap, 9 * BP_HEAP_BLOCK, &g[3]);
	for (int i = 0; i < 4; i++) {
		cr_assert_geq(b[i], 0);
		rpc_heap_give(&fk->heap, (uint32_t)b[i]);
	}
	cr_assert_eq(fk->heap.used, 16);
	cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b[0], g[0]), 0);
	cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b[2], g[2]), 0);
	cr_assert_eq(rpc_heap_alloc(&fk->heap, 4 * BP_HEAP_BLOCK, &gx), -1, "no run of 4");
	int64_t x = rpc_heap_alloc(&fk->heap, 3 * BP_HEAP_BLOCK, &gx);
	cr_assert(x == b[0] || x == b[2], "a hole of exactly 3 fits 3");
}

Test(rpc_heap, the_run_freed_last_is_reused_first)
{
	uint32_t g[4], gx;
	int64_t b[4];

	for (int i = 0; i < 4; i++) {
		b[i] = rpc_heap_alloc(&fk->heap, 1, &g[i]);
		rpc_heap_give(&fk->heap, (uint32_t)b[i]);
	}
	cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b[0], g[0]), 0);
	cr_assert_eq(rpc_heap_return(&fk->heap, (uint32_t)b[2], g[2]), 0);
	cr_assert_eq(rpc_heap_alloc(&fk->heap, 1, &gx), b[2], "still in cache: handed out again");
}

/* random allocations and returns against a block-by-block model: runs
 * never overlap, the count of blocks in use is right, nothing leaks */
Test(rpc_heap, random_use_against_a_model)
{
	enum { NB = 512, OPS = 20000 };
	struct rpc_heap h;
	bool owned[NB] = { false };
	struct { int64_t blk; uint32_t gen, len; } held[NB];
	unsigned nheld = 0, used = 0;

	cr_assert_eq(rpc_heap_init(&h, 0, (uint64_t)NB * BP_HEAP_BLOCK), 0);
	srand(7);
	for (int op = 0; op < OPS; op++) {
		if (nheld && (rand() % 100 < 45 || nheld == NB)) {
			unsigned i = (unsigned)rand() % nheld;

			cr_assert_eq(rpc_heap_return(&h, (uint32_t)held[i].blk, held[i].gen), 0);
			for (uint32_t k = 0; k < held[i].len; k++)
				owned[held[i].blk + k] = false;
			used -= held[i].len;
			held[i] = held[--nheld];
			continue;
		}
		uint32_t len = rand() % 4 ? 1 + (uint32_t)rand() % 3 : 1 + (uint32_t)rand() % 40;
		uint32_t gen;
		int64_t b = rpc_heap_alloc(&h, (uint64_t)len * BP_HEAP_BLOCK - 5, &gen);
		if (b < 0) {
			/* refused only if no free stretch of len blocks exists */
			for (uint32_t s = 0, run = 0; s < NB; s++) {
				run = owned[s] ? 0 : run + 1;
				cr_assert_lt(run, len, "a free stretch of %u at %u, yet refused", len, s);
			}
			continue;
		}
		cr_assert_leq((uint64_t)b + len, NB);
		for (uint32_t k = 0; k < len; k++)
			cr_assert(!owned[b + k], "block %u handed out twice", (unsigned)(b + k));
		rpc_heap_give(&h, (uint32_t)b);
		held[nheld] = (typeof(held[0])){ b, gen, len };
		nheld++;
		for (uint32_t k = 0; k < len; k++)
			owned[b + k] = true;
		used += len;
		cr_assert_eq(h.used, used);
	}
	while (nheld) {
		nheld--;
		cr_assert_eq(rpc_heap_return(&h, (uint32_t)held[nheld].blk, held[nheld].gen), 0);
	}
	uint32_t g;
	cr_assert_eq(h.used, 0);
	cr_assert_eq(rpc_heap_alloc(&h, (uint64_t)NB * BP_HEAP_BLOCK, &g), 0, "all merged");
	rpc_heap_fini(&h);
}

/*
 * A bucket move while messages are in assembly: core 0 has a chunked
 * message half in and a whole one waiting for queue room; the flow moves
 * to core 1.  Core 0's part must get every run back at the move, and core
 * 1 must finish both messages in its own part, byte-exact.
 */
Test(rpc_framer, core_move_carries_assembly)
{
	static uint8_t two_parts[2 * HEAP];
	struct rpc_heap h1;
	uint8_t a[3000], b[2000]; /* b: call 1's run is taken once 3000 B are in */

	for (unsigned i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 13 + 1);
	memset(b, 0x5a, sizeof(b));
	fk->env.heap_base = two_parts;
	fk->env.heap_size = sizeof(two_parts);
	cr_assert_eq(rpc_heap_init(&h1, HEAP, HEAP), 0);
	fk->qcap = 0;
	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 1, 3000, a, 1000, 0);
	put_frame(RPC_FT_REQUEST, 0, 2, 2000, b, 2000, 0);
	cr_assert_eq(scan(), RPC_RX_STALL, "call 2 waits for queue room");
	cr_assert_eq(fk->heap.used, 2);

	rpc_rx_carry(&fk->rf, &fk->heap, 0, two_parts);
	cr_assert_eq(fk->heap.used, 0, "core 0 keeps no run of a flow it left");

	fk->env.heap = &h1;
	fk->env.core = 1;
	fk->env.pos = fk->written;
	fk->qcap = QCAP;
	put_frame(RPC_FT_CHUNK, 0, 1, 1000, a + 1000, 2000, 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 2);
	cr_assert_eq(fk->q[0].call_id, 2);
	cr_assert_eq(fk->q[1].call_id, 1);
	for (unsigned i = 0; i < 2; i++) {
		const struct bp_msg_desc *d = &fk->q[i];

		cr_assert_eq(d->core, 1);
		cr_assert(d->has_buf);
		cr_assert_geq(d->heap_off, HEAP, "in core 1's part");
		cr_assert_eq(memcmp(two_parts + d->heap_off, i ? a : b, d->body_len), 0);
		cr_assert_eq(rpc_heap_return(&h1, d->buf, d->buf_gen), 0);
	}
	cr_assert_eq(h1.used, 0);
	cr_assert_eq(fk->heap.used, 0);
	rpc_heap_fini(&h1);
}

Test(rpc_framer, core_move_then_delete_frees_carry)
{
	static uint8_t a[2999];

	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 1, 3000, a, 2999, 0);
	put_frame(RPC_FT_PING, 0, 0, 0, NULL, 0, 0); /* the 3000th byte's worth */
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->heap.used, 1);
	rpc_rx_carry(&fk->rf, &fk->heap, 0, fk->heap_mem);
	cr_assert_eq(fk->heap.used, 0);
	cr_assert(fk->rf.carried);
	/* deleted on the new core before it took the copy: LeakSanitizer */
	rpc_rx_release(&fk->rf, &fk->heap, 1);
	cr_assert(!fk->rf.carried);
	cr_assert_null(fk->rf.a[0].carry);
}

/* a header announcing a large message reserves nothing until its bytes come */
Test(rpc_framer, a_first_frame_alone_reserves_nothing)
{
	static uint8_t a[40 << 10];

	for (unsigned i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 3 + 1);
	fk->env.now = 100;
	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 1, sizeof(a), a, 8, 0);
	cr_assert_eq(scan(), RPC_RX_HELD);
	cr_assert_eq(fk->heap.used, 0, "a 40-byte frame reserved the heap");
	cr_assert_eq(fk->env.pos, 0, "the header waits in the ring");
	cr_assert_eq(rpc_rx_oldest(&fk->rf), UINT64_MAX, "nothing in assembly");
	put_frame(RPC_FT_CHUNK, 0, 1, 8, a + 8, sizeof(a) - 8, 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 1);
	cr_assert(fk->q[0].has_buf);
	cr_assert_eq(memcmp(fk->heap_mem + fk->q[0].heap_off, a, sizeof(a)), 0);
}

/* a message larger than half the ring cannot wait for all its bytes */
Test(rpc_framer, half_a_ring_takes_the_run_of_a_large_message)
{
	static uint8_t mem[512 << 10], a[100 << 10];
	struct rpc_heap big;

	cr_assert_eq(rpc_heap_init(&big, 0, sizeof(mem)), 0);
	fk->env.heap = &big;
	fk->env.heap_base = mem;
	fk->env.heap_size = sizeof(mem);
	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 1, 300 << 10, a, 64 << 10, 0);
	cr_assert_eq(scan(), RPC_RX_HELD);
	cr_assert_eq(big.used, 0);
	put_frame(RPC_FT_CHUNK, RPC_FF_MORE, 1, 64 << 10, a, sizeof(a), 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(big.used, 75, "half the ring is in: the whole run is taken");
	cr_assert_eq(fk->env.pos, fk->written);
	rpc_rx_release(&fk->rf, &big, 0);
	rpc_heap_fini(&big);
}

/*
 * Two large messages interleaved: the second finds no heap room, and the
 * first one's remaining bytes are queued behind its header.  Waiting can
 * never end; with break_wait the second is refused and the first completes.
 */
Test(rpc_framer, an_interleaved_wait_that_cannot_end_is_broken)
{
	static uint8_t a[40 << 10], b[40 << 10];

	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb2, sizeof(b));
	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 1, sizeof(a), a, 1024, 0);
	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 2, sizeof(b), b, 1024, 0);
	put_frame(RPC_FT_CHUNK, 0, 1, 1024, a + 1024, sizeof(a) - 1024, 0);
	put_frame(RPC_FT_CHUNK, 0, 2, 1024, b + 1024, sizeof(b) - 1024, 0);
	cr_assert_eq(scan(), RPC_RX_STALL);
	uint64_t stop = fk->env.pos;
	cr_assert_eq(scan(), RPC_RX_STALL, "no room comes by itself");
	cr_assert_eq(fk->env.pos, stop);
	fk->env.break_wait = true;
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->env.pos, fk->written);
	/* call 2's first frame goes by as a part, call 1 is whole, then 2 ends */
	cr_assert_eq(fk->nq, 3);
	cr_assert_eq(fk->q[0].call_id, 2);
	cr_assert_eq(fk->q[0].flags & (BP_MSGF_TOO_BIG | BP_MSGF_PART),
		     BP_MSGF_TOO_BIG | BP_MSGF_PART);
	cr_assert_eq(fk->q[0].wire_bytes, RPC_WIRE_HDR_LEN + 1024);
	cr_assert_eq(fk->q[1].call_id, 1);
	cr_assert(fk->q[1].has_buf);
	cr_assert_eq(memcmp(fk->heap_mem + fk->q[1].heap_off, a, sizeof(a)), 0);
	cr_assert_eq(fk->q[2].call_id, 2);
	cr_assert(fk->q[2].flags & BP_MSGF_TOO_BIG, "refused: the app answers RESOURCE_EXHAUSTED");
	cr_assert(!(fk->q[2].flags & BP_MSGF_PART));
	cr_assert(!fk->q[2].has_buf);
	cr_assert_eq(fk->heap.used, 10, "only the delivered message holds heap");
}

/* a session that holds nothing else in assembly waits for room as before */
Test(rpc_framer, break_wait_refuses_only_behind_the_sessions_own)
{
	static uint8_t a[40 << 10];

	put_frame(RPC_FT_REQUEST, 0, 1, sizeof(a), a, sizeof(a), 0);
	put_frame(RPC_FT_REQUEST, 0, 2, sizeof(a), a, sizeof(a), 0);
	fk->env.break_wait = true;
	cr_assert_eq(scan(), RPC_RX_STALL, "the app holds call 1: room comes back");
	cr_assert_eq(fk->nq, 1);
	cr_assert_eq(rpc_heap_return(&fk->heap, fk->q[0].buf, fk->q[0].buf_gen), 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->nq, 2);
	cr_assert(fk->q[1].has_buf);
}

/* how long the peer has held a run, less the time the daemon held it up */
Test(rpc_framer, the_oldest_message_in_assembly)
{
	static uint8_t a[3000];

	fk->env.now = 100;
	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 1, sizeof(a), a, 2999, 0);
	put_frame(RPC_FT_PING, 0, 0, 0, NULL, 0, 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(rpc_rx_oldest(&fk->rf), 100);
	rpc_rx_hold_clock(&fk->rf, 300, 500); /* the app held it up from 300 to 500 */
	cr_assert_eq(rpc_rx_oldest(&fk->rf), 300);
	rpc_rx_hold_clock(&fk->rf, 50, 600); /* held all its life since 300 */
	cr_assert_eq(rpc_rx_oldest(&fk->rf), 600);
	fk->env.now = 900;
	put_frame(RPC_FT_CHUNK, 0, 1, 2999, a + 2999, 1, 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(rpc_rx_oldest(&fk->rf), UINT64_MAX, "delivered: nothing held");
	rpc_rx_fail(&fk->rf, RPC_RXE_TIMEOUT);
	cr_assert_eq(scan(), RPC_RX_ERROR);
}

/* below half the heap a header is taken at once: frames behind it (a
 * response the app awaits before it grants credit) need not wait */
Test(rpc_framer, below_half_the_heap_a_header_is_taken_at_once)
{
	uint8_t x[8] = { 0 };

	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 1, 8 * BP_HEAP_BLOCK, x, 8, 0);
	put_frame(RPC_FT_RESPONSE, 0, 9, 8, x, 8, 0);
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->heap.used, 9, "8 blocks reserved, 1 for the response");
	cr_assert_eq(fk->nq, 1);
	cr_assert_eq(fk->q[0].call_id, 9, "the response behind the header was not held back");
}

/* once the FIN is in no more bytes come: a header does not wait for them */
Test(rpc_framer, the_fin_ends_a_wait_for_bytes)
{
	uint8_t x[8] = { 0 };

	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 1, 12 * BP_HEAP_BLOCK, x, 8, 0);
	cr_assert_eq(scan(), RPC_RX_HELD);
	cr_assert_eq(fk->env.pos, 0, "past half the heap: the header waits");
	fk->env.fin = true;
	cr_assert_eq(scan(), RPC_RX_IDLE);
	cr_assert_eq(fk->env.pos, fk->written, "the FIN is in: taken, so the EOF can follow");
	cr_assert_eq(rpc_rx_eof(&fk->rf, &fk->env), 0);
	cr_assert_eq(fk->q[fk->nq - 1].type, BP_MSG_EOF);
}

/* a header held past half the heap goes on once room comes back */
Test(rpc_framer, a_held_header_goes_on_when_room_comes_back)
{
	static uint8_t big[6 * BP_HEAP_BLOCK];
	uint8_t x[8] = { 0 };

	put_frame(RPC_FT_REQUEST, 0, 1, sizeof(big), big, sizeof(big), 0);
	put_frame(RPC_FT_REQUEST, RPC_FF_MORE, 2, 4 * BP_HEAP_BLOCK, x, 8, 0);
	cr_assert_eq(scan(), RPC_RX_HELD, "6 + 4 blocks of 16: past half, bytes not in");
	cr_assert_eq(fk->nq, 1);
	cr_assert_eq(rpc_heap_return(&fk->heap, fk->q[0].buf, fk->q[0].buf_gen), 0);
	cr_assert_eq(scan(), RPC_RX_IDLE, "room came back: the header is taken");
	cr_assert_eq(fk->heap.used, 4);
}
