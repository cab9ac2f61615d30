/* SPDX-License-Identifier: MIT */
/*
 * rpc_heap.h - one fastpath core's part of an app's RPC message heap.
 *
 * The heap lives in the app's region (shared); its bookkeeping lives here,
 * in daemon memory the app cannot see or touch.  Each core allocates and
 * frees only in its own part, so no locks.  Plain C (no DPDK): the unit
 * tests drive it against a fake region.
 */
#ifndef FP_RPC_HEAP_H
#define FP_RPC_HEAP_H

#include <stdbool.h>
#include <stdint.h>

/* block states, at a run's first block */
enum rpc_blk_state {
	RPC_BLK_FREE = 0,
	RPC_BLK_DAEMON = 1, /* a message the daemon is still assembling */
	RPC_BLK_APP = 2,    /* delivered: the app returns it (BP_DB_MSG_DONE) */
};

#define RPC_HEAP_CLASSES 32 /* a run's length is a uint32_t */
#define RPC_HEAP_NIL UINT32_MAX

/**
 * struct rpc_heap - allocator state of one heap part (boundary tags).
 * @part_off: offset of the part from the heap's start (descriptors name
 *            buffers by heap offset).
 * @nblocks: blocks of BP_HEAP_BLOCK bytes in the part.
 * @run: at a run's first block, its length in blocks (0 inside a run).
 * @first: at a run's last block, the run's first block.
 * @state: at a run's first block, enum rpc_blk_state.
 * @gen: at a held run's first block, its generation (never 0).
 * @next, @prev: at a free run's first block, its neighbours on the free
 *               list of its size class (RPC_HEAP_NIL ends a list).
 * @head: per size class (floor(log2(run length))), its first free run.
 * @nonempty: bit k set while class k's list has a run.
 * @next_gen: the next generation handed out.
 * @used: blocks held (daemon or app).
 * @bad_returns: returns the app had no right to make (counted, ignored).
 */
struct rpc_heap {
	uint64_t part_off;
	uint32_t nblocks;
	uint32_t *run;
	uint32_t *first;
	uint8_t *state;
	uint32_t *gen;
	uint32_t *next;
	uint32_t *prev;
	uint32_t head[RPC_HEAP_CLASSES];
	uint32_t nonempty;
	uint32_t next_gen;
	uint32_t used;
	uint64_t bad_returns;
};

/**
 * rpc_heap_init - set up the bookkeeping of a part of @bytes bytes
 * (a multiple of BP_HEAP_BLOCK) at @part_off in the heap.
 * Return: 0, or -1 if out of memory.
 */
int rpc_heap_init(struct rpc_heap *h, uint64_t part_off, uint64_t bytes);

/** rpc_heap_fini - free the bookkeeping (the shared bytes are the region's). */
void rpc_heap_fini(struct rpc_heap *h);

/**
 * rpc_heap_alloc - take a run of at least @bytes bytes, held by the
 * daemon: the most recently freed run of the smallest size class that
 * surely fits (O(1)), else one of the class below that does.
 * @gen: receives its generation.
 * Return: its first block, or -1 if no run is free that large.
 */
int64_t rpc_heap_alloc(struct rpc_heap *h, uint64_t bytes, uint32_t *gen);

/** rpc_heap_give - the message in run @blk is complete: the app holds it. */
void rpc_heap_give(struct rpc_heap *h, uint32_t blk);

/**
 * rpc_heap_drop - the daemon frees run @blk it still holds (a message
 * whose flow went away before it was complete).
 * Return: 0, or -1 if @blk is not a run the daemon holds.
 */
int rpc_heap_drop(struct rpc_heap *h, uint32_t blk);

/**
 * rpc_heap_return - the app says it is done with run @blk of generation
 * @gen.  Both values are app-written: anything but the start of a run the
 * app holds, with that run's generation, is refused and counted, so an app
 * can never free a buffer it does not hold (nor one twice).
 * Return: 0, or -1 if refused.
 */
int rpc_heap_return(struct rpc_heap *h, uint32_t blk, uint32_t gen);

/** rpc_heap_blk_off - the heap offset of block @blk. */
uint64_t rpc_heap_blk_off(const struct rpc_heap *h, uint32_t blk);

#endif /* FP_RPC_HEAP_H */
