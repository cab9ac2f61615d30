/* SPDX-License-Identifier: MIT */
/*
 * region_layout.h - where everything lies in an app's shared region: the
 * one implementation of the layout, used by fastpathd to build a region
 * (slowpath/region.c), by libbypass to know the queues it checks
 * (client-lib/attach.c) and by the test fakes that stand in for the daemon.
 *
 * The header (struct bp_region_hdr) carries every offset, so an app never
 * computes the layout itself: it reads the offsets and proves them in
 * bounds.  Queues: the control queue, the slowpath's event queue, then one
 * data queue, one event queue and one message queue per fastpath core.
 * The RPC message heap, if the app asked for one, comes last.
 */
#ifndef BYPASS_REGION_LAYOUT_H
#define BYPASS_REGION_LAYOUT_H

#include <stdint.h>
#include "bypass/shm_abi.h"

#define BP_REGION_ALIGN 4096ull /* each part starts on its own page */

/* the region's queues, in layout order */
enum bp_region_queue {
	BP_RQ_CTRL,     /* app -> slowpath control requests */
	BP_RQ_SP_EV,    /* slowpath -> app events */
	BP_RQ_FP0,      /* core k: BP_RQ_FP0 + 3k its doorbells, + 1 its events,
			 * + 2 its RPC message descriptors */
	BP_RQ_MAX = BP_RQ_FP0 + 3 * BP_MAX_FP_QUEUES,
};

/** bp_rq_data - the data queue (app -> fastpath core @k doorbells). */
static inline int bp_rq_data(uint32_t k) { return BP_RQ_FP0 + 3 * (int)k; }
/** bp_rq_fp_ev - the event queue of fastpath core @k. */
static inline int bp_rq_fp_ev(uint32_t k) { return BP_RQ_FP0 + 3 * (int)k + 1; }
/** bp_rq_msg - the message queue of fastpath core @k (RPC sessions). */
static inline int bp_rq_msg(uint32_t k) { return BP_RQ_FP0 + 3 * (int)k + 2; }
/** bp_rq_count - queues of a region with @fp_queues fastpath cores. */
static inline int bp_rq_count(uint32_t fp_queues) { return BP_RQ_FP0 + 3 * (int)fp_queues; }

/**
 * struct bp_region_queue_info - what kind of queue each one is.
 * @elem_size: bytes per entry.
 * @app_produces: the app is the producer (else the daemon is).
 * @name: for error messages.
 */
struct bp_region_queue_info {
	uint32_t elem_size;
	uint8_t app_produces;
	const char *name;
};

static inline struct bp_region_queue_info bp_region_queue_info(int q)
{
	if (q == BP_RQ_CTRL)
		return (struct bp_region_queue_info){ sizeof(struct bp_ctrl_req), 1, "ctrl" };
	if (q == BP_RQ_SP_EV)
		return (struct bp_region_queue_info){ sizeof(struct bp_event), 0, "slowpath event" };
	if ((q - BP_RQ_FP0) % 3 == 0)
		return (struct bp_region_queue_info){ sizeof(struct bp_doorbell), 1, "data" };
	if ((q - BP_RQ_FP0) % 3 == 2)
		return (struct bp_region_queue_info){ sizeof(struct bp_msg_desc), 0, "message" };
	return (struct bp_region_queue_info){ sizeof(struct bp_event), 0, "fastpath event" };
}

/**
 * struct bp_region_layout - offsets of every part of a region.
 * @fp_queues: fastpath cores, each with a data and an event queue.
 * @q_off: each queue (struct bp_queue + entries), bp_rq_count() of them.
 * @flows_off: struct bp_flow_shm[max_flows].
 * @buffers_off: the slots' rx+tx rings, slot after slot.
 * @heap_off: @heap_size: the RPC message heap (0 bytes: none).
 * @txarea_off: @txarea_size: the RPC send area, as large as the heap
 *              (0 bytes: none).
 * @size: the whole region.
 */
struct bp_region_layout {
	uint32_t fp_queues;
	uint64_t q_off[BP_RQ_MAX];
	uint64_t flows_off;
	uint64_t buffers_off;
	uint64_t heap_off;
	uint64_t heap_size;
	uint64_t txarea_off;
	uint64_t txarea_size;
	uint64_t size;
};

/**
 * bp_heap_size - the heap an app asking for @want bytes gets with
 * @fp_queues cores: rounded down to a whole number of blocks per core.
 */
static inline uint64_t bp_heap_size(uint64_t want, uint32_t fp_queues)
{
	uint64_t part = want / fp_queues / BP_HEAP_BLOCK * BP_HEAP_BLOCK;

	return part * fp_queues;
}

static inline uint64_t bp_region_align(uint64_t v)
{
	return (v + BP_REGION_ALIGN - 1) & ~(BP_REGION_ALIGN - 1);
}

/**
 * bp_region_layout - lay a region out.
 * @l: receives the offsets.
 * @fp_queues: fastpath cores (1..BP_MAX_FP_QUEUES).
 * @max_flows: slots in the region.
 * @queue_entries: entries of every queue (a power of two).
 * @rx_buf_size: @tx_buf_size: bytes of each slot's rings.
 * @heap_size: RPC message heap bytes, from bp_heap_size() (0 = none).
 */
static inline void bp_region_layout(struct bp_region_layout *l, uint32_t fp_queues,
				    uint32_t max_flows, uint32_t queue_entries,
				    uint32_t rx_buf_size, uint32_t tx_buf_size,
				    uint64_t heap_size)
{
	uint64_t off = bp_region_align(sizeof(struct bp_region_hdr));

	l->fp_queues = fp_queues;
	for (int i = 0; i < bp_rq_count(fp_queues); i++) {
		l->q_off[i] = off;
		off = bp_region_align(off + bp_queue_bytes(queue_entries,
							   bp_region_queue_info(i).elem_size));
	}
	l->flows_off = off;
	off = bp_region_align(off + (uint64_t)max_flows * sizeof(struct bp_flow_shm));
	l->buffers_off = off;
	off += (uint64_t)max_flows * ((uint64_t)rx_buf_size + tx_buf_size);
	l->heap_off = heap_size ? bp_region_align(off) : 0;
	l->heap_size = heap_size;
	l->txarea_off = heap_size ? bp_region_align(l->heap_off + heap_size) : 0;
	l->txarea_size = heap_size;
	l->size = heap_size ? l->txarea_off + l->txarea_size : off;
}

/** bp_region_hdr_q_off - the offset of queue @q as header @h states it. */
static inline uint64_t bp_region_hdr_q_off(const struct bp_region_hdr *h, int q)
{
	if (q == BP_RQ_CTRL)
		return h->ctrlq_off;
	if (q == BP_RQ_SP_EV)
		return h->sp_evq_off;
	uint32_t k = (uint32_t)(q - BP_RQ_FP0) / 3;
	if (k >= BP_MAX_FP_QUEUES)
		return UINT64_MAX;
	if ((q - BP_RQ_FP0) % 3 == 2)
		return h->msgq_off[k];
	return (q - BP_RQ_FP0) % 3 == 0 ? h->dataq_off[k] : h->fp_evq_off[k];
}

/**
 * bp_region_init - write the header and the queue headers of a zeroed
 * region laid out as @l; the caller sets anything else it wants in the
 * header (app_id, local_ip) afterwards.
 */
static inline void bp_region_init(uint8_t *base, const struct bp_region_layout *l,
				  uint32_t max_flows, uint32_t queue_entries,
				  uint32_t rx_buf_size, uint32_t tx_buf_size)
{
	struct bp_region_hdr *h = (struct bp_region_hdr *)base;

	*h = (struct bp_region_hdr){
		.magic = BP_REGION_MAGIC,
		.abi_version = BP_ABI_VERSION,
		.region_size = l->size,
		.max_flows = max_flows,
		.ctrlq_off = l->q_off[BP_RQ_CTRL],
		.sp_evq_off = l->q_off[BP_RQ_SP_EV],
		.flows_off = l->flows_off, .buffers_off = l->buffers_off,
		.rx_buf_size = rx_buf_size, .tx_buf_size = tx_buf_size,
		.fp_queues = l->fp_queues,
		.heap_off = l->heap_off, .heap_size = l->heap_size,
		.txarea_off = l->txarea_off, .txarea_size = l->txarea_size,
	};
	for (uint32_t k = 0; k < l->fp_queues; k++) {
		h->dataq_off[k] = l->q_off[bp_rq_data(k)];
		h->fp_evq_off[k] = l->q_off[bp_rq_fp_ev(k)];
		h->msgq_off[k] = l->q_off[bp_rq_msg(k)];
	}
	for (int i = 0; i < bp_rq_count(l->fp_queues); i++) {
		struct bp_queue *q = (struct bp_queue *)(base + l->q_off[i]);

		q->size = queue_entries;
		q->elem_size = bp_region_queue_info(i).elem_size;
	}
}

/**
 * bp_region_daemon_view - the daemon's (or a fake daemon's) view of queue @q.
 * Sizes come from the caller's private copies, never from the region.
 */
static inline void bp_region_daemon_view(struct bp_queue_view *v, uint8_t *base,
					 const struct bp_region_layout *l, int q,
					 uint32_t queue_entries)
{
	struct bp_region_queue_info qi = bp_region_queue_info(q);

	bp_queue_view_init(v, (struct bp_queue *)(base + l->q_off[q]), queue_entries,
			   qi.elem_size, !qi.app_produces);
}

#endif /* BYPASS_REGION_LAYOUT_H */
