// SPDX-License-Identifier: MIT
/*
 * rpc_heap.c - allocator over one core's part of an app's RPC message
 * heap: boundary tags, so a free merges with both neighbours in O(1), and
 * segregated free lists, one per power-of-two size class, so an
 * allocation never walks the runs in use.  A first-fit walk did, and with
 * a thousand sessions' messages held it was the daemon's hottest function
 * (a tenth of its CPU at 64 B x 1000 sessions).  Each list is LIFO: the
 * run freed last, still in cache, is handed out first.
 */
#include <stdlib.h>

#include "bypass/shm_abi.h"
#include "rpc_heap.h"

static uint32_t size_class(uint32_t len)
{
	return 31u - (uint32_t)__builtin_clz(len);
}

static void set_run(struct rpc_heap *h, uint32_t start, uint32_t len, uint8_t state)
{
	h->run[start] = len;
	h->first[start + len - 1] = start;
	h->state[start] = state;
}

/* blocks @b .. @b + @len - 1 become one free run, on its class's list */
static void free_run(struct rpc_heap *h, uint32_t b, uint32_t len)
{
	uint32_t k = size_class(len);

	set_run(h, b, len, RPC_BLK_FREE);
	h->prev[b] = RPC_HEAP_NIL;
	h->next[b] = h->head[k];
	if (h->head[k] != RPC_HEAP_NIL)
		h->prev[h->head[k]] = b;
	h->head[k] = b;
	h->nonempty |= 1u << k;
}

/* free run @b leaves its list (before its length changes) */
static void free_unlink(struct rpc_heap *h, uint32_t b)
{
	uint32_t k = size_class(h->run[b]);

	if (h->prev[b] != RPC_HEAP_NIL)
		h->next[h->prev[b]] = h->next[b];
	else
		h->head[k] = h->next[b];
	if (h->next[b] != RPC_HEAP_NIL)
		h->prev[h->next[b]] = h->prev[b];
	if (h->head[k] == RPC_HEAP_NIL)
		h->nonempty &= ~(1u << k);
}

int rpc_heap_init(struct rpc_heap *h, uint64_t part_off, uint64_t bytes)
{
	uint32_t n = (uint32_t)(bytes / BP_HEAP_BLOCK);

	*h = (struct rpc_heap){ .part_off = part_off, .nblocks = n, .next_gen = 1 };
	for (uint32_t k = 0; k < RPC_HEAP_CLASSES; k++)
		h->head[k] = RPC_HEAP_NIL;
	if (!n)
		return 0;
	h->run = calloc(n, sizeof(*h->run));
	h->first = calloc(n, sizeof(*h->first));
	h->state = calloc(n, sizeof(*h->state));
	h->gen = calloc(n, sizeof(*h->gen));
	h->next = calloc(n, sizeof(*h->next));
	h->prev = calloc(n, sizeof(*h->prev));
	if (!h->run || !h->first || !h->state || !h->gen || !h->next || !h->prev) {
		rpc_heap_fini(h);
		return -1;
	}
	free_run(h, 0, n);
	return 0;
}

void rpc_heap_fini(struct rpc_heap *h)
{
	free(h->run);
	free(h->first);
	free(h->state);
	free(h->gen);
	free(h->next);
	free(h->prev);
	h->run = h->first = h->gen = h->next = h->prev = NULL;
	h->state = NULL;
	h->nblocks = 0;
	h->nonempty = 0;
}

/* a free run of at least @need blocks, or RPC_HEAP_NIL */
static uint32_t find_free(const struct rpc_heap *h, uint32_t need)
{
	uint32_t k = size_class(need);
	/* every run of a class above need's holds it; need's own class
	 * does too when need is a power of two */
	uint32_t sure = need & (need - 1) ? k + 1 : k;
	uint32_t mask = sure < RPC_HEAP_CLASSES ? h->nonempty & ~((1u << sure) - 1) : 0;

	if (mask)
		return h->head[__builtin_ctz(mask)];
	for (uint32_t b = h->head[k]; b != RPC_HEAP_NIL; b = h->next[b])
		if (h->run[b] >= need)
			return b;
	return RPC_HEAP_NIL;
}

int64_t rpc_heap_alloc(struct rpc_heap *h, uint64_t bytes, uint32_t *gen)
{
	uint64_t need = (bytes + BP_HEAP_BLOCK - 1) / BP_HEAP_BLOCK;

	if (!need)
		need = 1;
	if (need > h->nblocks - h->used)
		return -1;
	uint32_t b = find_free(h, (uint32_t)need);
	if (b == RPC_HEAP_NIL)
		return -1;
	uint32_t len = h->run[b];
	free_unlink(h, b);
	if (len > need)
		free_run(h, b + (uint32_t)need, len - (uint32_t)need);
	set_run(h, b, (uint32_t)need, RPC_BLK_DAEMON);
	if (++h->next_gen == 0)
		h->next_gen = 1;
	h->gen[b] = h->next_gen;
	*gen = h->next_gen;
	h->used += (uint32_t)need;
	return b;
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
		free_unlink(h, next);
		len += h->run[next];
		h->run[next] = 0;
	}
	if (b > 0) {
		uint32_t prev = h->first[b - 1];

		if (h->state[prev] == RPC_BLK_FREE) {
			free_unlink(h, prev);
			len += h->run[prev];
			h->run[b] = 0;
			h->state[b] = RPC_BLK_FREE;
			b = prev;
		}
	}
	free_run(h, b, len);
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
