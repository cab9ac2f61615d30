// SPDX-License-Identifier: MIT
/*
 * fuzz_rpc_framer - fastpathd's RPC framer (fastpathd/rpc_frame_rx.c) and
 * message heap (rpc_heap.c): input is what a peer sent on an RPC session,
 * plus what a hostile app does with the buffers.
 *
 * Byte 0: bits 0-3 how many bytes reach the ring per step (1 << n), bits
 * 4-5 the message queue's capacity, bit 6 whether the app returns buffers
 * at all, bit 7 whether it also makes bogus returns (from the stream's
 * bytes).  The rest is the stream, through a 64 KiB ring: the framer's
 * consumed position bounds what may be written, as the TCP window does.
 * An odd-sized input sets the app's msg_max to 16 bytes per input byte.
 *
 * After two steps without progress the scan breaks waits for heap room
 * (env.break_wait), as fastpathd's message watch does.
 *
 * Checks: no crash or sanitizer report; the consumed position never passes
 * what was written; every descriptor lies inside the heap; no message over
 * msg_max has data, and a part is one of a refused message; once the app
 * returned everything and the flow is released, the heap is empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_frame_rx.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
#define RING (1u << 16)
#define HEAP (32u * BP_HEAP_BLOCK)
#define QMAX 32

static uint8_t ring[RING];
static uint8_t heap_mem[HEAP];
static struct bp_msg_desc q[QMAX];
static unsigned nq, qcap;
static uint32_t msg_max;

static int push(void *arg, const struct bp_msg_desc *d)
{
	(void)arg;
	if (nq >= qcap)
		return -1;
	CHECK(!d->has_buf || d->heap_off + d->meta_len + d->body_len <= HEAP);
	CHECK(!d->has_buf || !msg_max || d->type == RPC_FT_GOAWAY || d->body_len <= msg_max);
	CHECK(!(d->flags & BP_MSGF_PART) || ((d->flags & BP_MSGF_TOO_BIG) && !d->has_buf));
	q[nq++] = *d;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_heap heap;
	struct rpc_rx_flow rf;
	uint64_t written = 0;

	if (size < 1)
		return 0;
	uint8_t ctl = data[0];
	uint32_t step = 1u << (ctl & 15);
	bool returns = ctl & 0x40, bogus = ctl & 0x80;

	data++;
	size--;
	qcap = 1u << (((ctl >> 4) & 3) + 2);
	nq = 0;
	msg_max = size & 1 ? (uint32_t)(size * 16) : 0;
	if (rpc_heap_init(&heap, 0, HEAP))
		return 0;
	rpc_rx_init(&rf);
	struct rpc_rx_env env = { .ring = ring, .ring_size = RING, .heap = &heap,
				  .heap_base = heap_mem, .heap_size = HEAP, .msg_max = msg_max,
				  .push = push };
	size_t off = 0;
	int stuck = 0;

	while (off < size && stuck < 4) {
		/* the window: never more than the ring holds beyond the consumed position */
		size_t room = RING - (size_t)(written - env.pos);
		size_t n = size - off < step ? size - off : step;

		if (n > room)
			n = room;
		for (size_t i = 0; i < n; i++)
			ring[(written + i) % RING] = data[off + i];
		written += n;
		off += n;
		env.end = written;
		env.now = off;
		/* no progress for a while: what fp_rpc_watch.c does to a stalled flow */
		env.break_wait = stuck >= 2;
		int v = rpc_rx_scan(&rf, &env);

		CHECK(env.pos <= written);
		/* the app drains the queue and (maybe) gives buffers back */
		for (unsigned i = 0; i < nq; i++) {
			if (returns && q[i].has_buf)
				CHECK(rpc_heap_return(&heap, q[i].buf, q[i].buf_gen) == 0);
			if (returns && q[i].has_buf && bogus) /* a double return */
				CHECK(rpc_heap_return(&heap, q[i].buf, q[i].buf_gen) == -1);
		}
		/*
		 * Guessed returns (from the stream's bytes).  Once the app gave
		 * back all it holds, none may succeed: what is left is the
		 * framer's (messages in assembly).  Before that a guess can hit
		 * a buffer the app really holds, which is a valid return.
		 */
		for (unsigned i = 0; bogus && i < nq; i++) {
			int r = rpc_heap_return(&heap, data[i % size], data[(i + 1) % size]);

			CHECK(!returns || r == -1);
		}
		bool kept = !returns && nq;
		nq = 0;
		if (v == RPC_RX_ERROR)
			break;
		stuck = (n == 0 || kept) ? stuck + 1 : 0;
	}
	rpc_rx_release(&rf, &heap, 0);
	if (returns)
		CHECK(heap.used == 0);
	rpc_heap_fini(&heap);
	return 0;
}
