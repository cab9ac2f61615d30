// SPDX-License-Identifier: MIT
/*
 * rpc_heap.c - first-fit allocator over one core's part of an app's RPC
 * message heap, with boundary tags so a free merges with both neighbours
 * in O(1).  Runs in flight are bounded (messages in assembly per flow,
 * descriptors per queue), so a first-fit walk over runs stays short.
 */
#include <stdlib.h>

#include "bypass/shm_abi.h"
#include "rpc_heap.h"

static void set_run(struct rpc_heap *h, uint32_t start, uint32_t len, uint8_t state)
{
	h->run[start] = len;
	h->first[start + len - 1] = start;
	h->state[start] = state;
}

int rpc_heap_init(struct rpc_heap *h, uint64_t part_off, uint64_t bytes)
{
	uint32_t n = (uint32_t)(bytes / BP_HEAP_BLOCK);

	*h = (struct rpc_heap){ .part_off = part_off, .nblocks = n, .next_gen = 1 };
	if (!n)
		return 0;
	h->run = calloc(n, sizeof(*h->run));
	h->first = calloc(n, sizeof(*h->first));
	h->state = calloc(n, sizeof(*h->state));
	h->gen = calloc(n, sizeof(*h->gen));
	if (!h->run || !h->first || !h->state || !h->gen) {
		rpc_heap_fini(h);
		return -1;
	}
	set_run(h, 0, n, RPC_BLK_FREE);
	return 0;
}

void rpc_heap_fini(struct rpc_heap *h)
{
	free(h->run);
	free(h->first);
	free(h->state);
	free(h->gen);
	h->run = h->first = h->gen = NULL;
	h->state = NULL;
	h->nblocks = 0;
}

int64_t rpc_heap_alloc(struct rpc_heap *h, uint64_t bytes, uint32_t *gen)
{
	uint64_t need = (bytes + BP_HEAP_BLOCK - 1) / BP_HEAP_BLOCK;

	if (!need)
		need = 1;
	if (need > h->nblocks - h->used)
		return -1;
	for (uint32_t b = 0; b < h->nblocks; b += h->run[b]) {
		uint32_t len = h->run[b];

		if (h->state[b] != RPC_BLK_FREE || len < need)
			continue;
		if (len > need)
			set_run(h, b + (uint32_t)need, len - (uint32_t)need, RPC_BLK_FREE);
		set_run(h, b, (uint32_t)need, RPC_BLK_DAEMON);
		if (++h->next_gen == 0)
			h->next_gen = 1;
		h->gen[b] = h->next_gen;
		*gen = h->next_gen;
		h->used += (uint32_t)need;
		return b;
	}
	return -1;
}

static bool run_start(const struct rpc_heap *h, uint32_t blk)
{
	/* a run's first block has a length and its last block points back */
	return blk < h->nblocks && h->run[blk] && blk + h->run[blk] <= h->nblocks &&
	       h->first[blk + h->run[blk] - 1] == blk;
}

static void heap_free(struct rpc_heap *h, uint32_t b)
{
	uint32_t len = h->run[b];

	h->used -= len;
	h->gen[b] = 0;
	uint32_t next = b + len;
	if (next < h->nblocks && h->state[next] == RPC_BLK_FREE) {
		len += h->run[next];
		h->run[next] = 0;
	}
	if (b > 0) {
		uint32_t prev = h->first[b - 1];

		if (h->state[prev] == RPC_BLK_FREE) {
			len += h->run[prev];
			h->run[b] = 0;
			h->state[b] = RPC_BLK_FREE;
			b = prev;
		}
	}
	set_run(h, b, len, RPC_BLK_FREE);
}

void rpc_heap_give(struct rpc_heap *h, uint32_t blk)
{
	if (run_start(h, blk) && h->state[blk] == RPC_BLK_DAEMON)
		h->state[blk] = RPC_BLK_APP;
}

int rpc_heap_drop(struct rpc_heap *h, uint32_t blk)
{
	if (!run_start(h, blk) || h->state[blk] != RPC_BLK_DAEMON)
		return -1;
	heap_free(h, blk);
	return 0;
}

int rpc_heap_return(struct rpc_heap *h, uint32_t blk, uint32_t gen)
{
	if (!gen || !run_start(h, blk) || h->state[blk] != RPC_BLK_APP || h->gen[blk] != gen) {
		h->bad_returns++;
		return -1;
	}
	heap_free(h, blk);
	return 0;
}

uint64_t rpc_heap_blk_off(const struct rpc_heap *h, uint32_t blk)
{
	return h->part_off + (uint64_t)blk * BP_HEAP_BLOCK;
}
