/* SPDX-License-Identifier: MIT */
/*
 * region_layout.h - where everything lies in an app's shared region: the
 * one implementation of the layout, used by fastpathd to build a region
 * (slowpath/region.c), by libbypass to know the queues it checks
 * (client-lib/attach.c) and by the test fakes that stand in for the daemon.
 *
 * The header (struct bp_region_hdr) carries every offset, so an app never
 * computes the layout itself: it reads the offsets and proves them in
 * bounds.  To add queues (one data/event pair per fastpath core, say), add
 * them to enum bp_region_queue and bp_region_queue_info[] and give the
 * header a place for their offsets: bp_region_layout() places them all.
 */
#ifndef BYPASS_REGION_LAYOUT_H
#define BYPASS_REGION_LAYOUT_H

#include <stdint.h>
#include "bypass/shm_abi.h"

#define BP_REGION_ALIGN 4096ull /* each part starts on its own page */

/* the region's queues, in header order */
enum bp_region_queue {
	BP_RQ_CTRL,     /* app -> slowpath control requests */
	BP_RQ_DATA,     /* app -> fastpath doorbells */
	BP_RQ_SP_EV,    /* slowpath -> app events */
	BP_RQ_FP_EV,    /* fastpath -> app events */
	BP_RQ_COUNT,
};

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

static const struct bp_region_queue_info bp_region_queue_info[BP_RQ_COUNT] = {
	[BP_RQ_CTRL] = { sizeof(struct bp_ctrl_req), 1, "ctrl" },
	[BP_RQ_DATA] = { sizeof(struct bp_doorbell), 1, "data" },
	[BP_RQ_SP_EV] = { sizeof(struct bp_event), 0, "slowpath event" },
	[BP_RQ_FP_EV] = { sizeof(struct bp_event), 0, "fastpath event" },
};

/**
 * struct bp_region_layout - offsets of every part of a region.
 * @q_off: each queue (struct bp_queue + entries).
 * @flows_off: struct bp_flow_shm[max_flows].
 * @buffers_off: the slots' rx+tx rings, slot after slot.
 * @size: the whole region.
 */
struct bp_region_layout {
	uint64_t q_off[BP_RQ_COUNT];
	uint64_t flows_off;
	uint64_t buffers_off;
	uint64_t size;
};

static inline uint64_t bp_region_align(uint64_t v)
{
	return (v + BP_REGION_ALIGN - 1) & ~(BP_REGION_ALIGN - 1);
}

/**
 * bp_region_layout - lay a region out.
 * @l: receives the offsets.
 * @max_flows: slots in the region.
 * @queue_entries: entries of every queue (a power of two).
 * @rx_buf_size: @tx_buf_size: bytes of each slot's rings.
 */
static inline void bp_region_layout(struct bp_region_layout *l, uint32_t max_flows,
				    uint32_t queue_entries, uint32_t rx_buf_size,
				    uint32_t tx_buf_size)
{
	uint64_t off = bp_region_align(sizeof(struct bp_region_hdr));

	for (int i = 0; i < BP_RQ_COUNT; i++) {
		l->q_off[i] = off;
		off = bp_region_align(off + bp_queue_bytes(queue_entries,
							   bp_region_queue_info[i].elem_size));
	}
	l->flows_off = off;
	off = bp_region_align(off + (uint64_t)max_flows * sizeof(struct bp_flow_shm));
	l->buffers_off = off;
	l->size = off + (uint64_t)max_flows * ((uint64_t)rx_buf_size + tx_buf_size);
}

/** bp_region_hdr_q_off - the offset of queue @q as header @h states it. */
static inline uint64_t bp_region_hdr_q_off(const struct bp_region_hdr *h, int q)
{
	const uint64_t offs[BP_RQ_COUNT] = { h->ctrlq_off, h->dataq_off, h->sp_evq_off,
					     h->fp_evq_off };

	return offs[q];
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
		.ctrlq_off = l->q_off[BP_RQ_CTRL], .dataq_off = l->q_off[BP_RQ_DATA],
		.sp_evq_off = l->q_off[BP_RQ_SP_EV], .fp_evq_off = l->q_off[BP_RQ_FP_EV],
		.flows_off = l->flows_off, .buffers_off = l->buffers_off,
		.rx_buf_size = rx_buf_size, .tx_buf_size = tx_buf_size,
	};
	for (int i = 0; i < BP_RQ_COUNT; i++) {
		struct bp_queue *q = (struct bp_queue *)(base + l->q_off[i]);

		q->size = queue_entries;
		q->elem_size = bp_region_queue_info[i].elem_size;
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
	bp_queue_view_init(v, (struct bp_queue *)(base + l->q_off[q]), queue_entries,
			   bp_region_queue_info[q].elem_size, !bp_region_queue_info[q].app_produces);
}

#endif /* BYPASS_REGION_LAYOUT_H */
