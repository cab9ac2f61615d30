/* SPDX-License-Identifier: MIT */
/*
 * rpc_frame_tx.h - fastpathd's send scheduler for RPC sessions: frames an
 * app posts from its send area (BP_DB_MSG_SEND) wait in one FIFO per class
 * (BP_MSG_PRIO_*), and whenever the flow's tx ring has room the next frame
 * of the best class that has one goes in.  A frame once started is
 * finished before another starts, so the ring, which is also the
 * retransmit buffer, holds whole rpc/WIRE.md frames in wire order.  Plain
 * C (no DPDK): the unit tests drive it against a fake area, ring and queue.
 */
#ifndef FP_RPC_FRAME_TX_H
#define FP_RPC_FRAME_TX_H

#include <stdbool.h>
#include <stdint.h>

#include "bypass/rpc_wire.h"
#include "bypass/shm_abi.h"

/* rpc_tx_fill() verdicts */
enum rpc_tx_verdict {
	RPC_TX_IDLE = 0,  /* every posted frame is in the ring */
	RPC_TX_RING = 1,  /* frames wait for ring room (ACKs bring it) */
	RPC_TX_STALL = 2, /* a frame is done but the message queue is full */
};

/**
 * struct rpc_tx_ent - one posted frame.
 * @off: where it starts in the send area.
 * @len: 32 + frame_len, from the daemon's copy of its header.
 * @done: bytes of it in the ring.
 * @seq: post order, to count frames that overtook earlier ones.
 * @hdr: the header as read at post time: what goes on the wire, whatever
 *       the app writes into the area later, so the daemon's frame
 *       boundaries are the peer's.
 */
struct rpc_tx_ent {
	uint64_t off;
	uint32_t len, done;
	uint32_t seq;
	uint8_t hdr[RPC_WIRE_HDR_LEN];
};

/**
 * struct rpc_tx_flow - the send scheduler's state of one RPC flow (daemon
 * memory, inside struct rpc_rx_flow, owned by the flow's core).
 * @q: per class, a ring of @n entries from @head.
 * @cur: the class whose head frame is partly in the ring, -1 if none.
 * @seq: posts accepted so far.
 * @posts_seen: posts that reached the flow, accepted or refused (the app
 *              counts what it posted the same way, and says how many at
 *              its shutdown: the FIN waits until all have been seen).
 * @fin_posts: that number, once the app shut down (FPF_RPC_FIN_WAIT).
 * @frames: frames finished; @overtakes: of those, frames that went in
 *          ahead of a frame posted before them (a better class's).
 */
struct rpc_tx_flow {
	struct rpc_tx_ent q[BP_MSG_PRIOS][BP_MSG_TX_DEPTH];
	uint8_t head[BP_MSG_PRIOS], n[BP_MSG_PRIOS];
	int8_t cur;
	uint32_t seq;
	uint32_t posts_seen, fin_posts;
	uint64_t frames, overtakes;
};

/**
 * struct rpc_tx_env - what one post or fill works on.
 * @area: @area_size: the app's send area (daemon mapping).
 * @ring: @ring_size: @ring_shift: the flow's tx ring (power of two) and its
 *        shift (bp_ring_off()).
 * @written: the ring's producer position (in, and out after a fill).
 * @room: bytes the ring takes now (in; a fill uses them up).
 * @push: queue a descriptor on this core's message queue; nonzero if full.
 * @full: would a push fail now?  (One producer, this core: if not full
 *        now, the push after the copy succeeds.)
 * @answers_optional: the app has shut the flow down and may not read its
 *        queue any more: finish frames even without room for their answer
 *        (libbypass reclaims unanswered space when the slot is reused).
 * @arg: for the callbacks.  @slot: @gen: @core: stamped into descriptors.
 */
struct rpc_tx_env {
	const uint8_t *area;
	uint64_t area_size;
	uint8_t *ring;
	uint32_t ring_size;
	uint32_t ring_shift;
	uint64_t written;
	uint64_t room;
	int (*push)(void *arg, const struct bp_msg_desc *d);
	bool (*full)(void *arg);
	bool answers_optional;
	void *arg;
	uint32_t slot, gen;
	uint16_t core;
};

/** rpc_tx_init - nothing posted. */
void rpc_tx_init(struct rpc_tx_flow *tf);

/**
 * rpc_tx_post - the app posts the frame at send-area offset @off in class
 * @prio.  The header is read once, validated (rpc_frame_decode()) and
 * kept; the frame must lie inside the area.
 * Return: 0; -EINVAL (bad class, offset or header: the app's fault);
 * -ENOBUFS (BP_MSG_TX_DEPTH frames of the class already wait).
 */
int rpc_tx_post(struct rpc_tx_flow *tf, const struct rpc_tx_env *e, uint64_t off,
		unsigned prio);

/**
 * rpc_tx_fill - copy frames into the tx ring while it has room: the frame
 * in progress first, then the head of the best class.  Each finished
 * frame is answered with BP_MSG_SENT (status 0); a frame is finished only
 * when that answer has room, so none is ever lost.
 * Return: enum rpc_tx_verdict.
 */
int rpc_tx_fill(struct rpc_tx_flow *tf, struct rpc_tx_env *e);

/**
 * rpc_tx_answer - the BP_MSG_SENT descriptor for the frame posted at @off
 * on @e's flow: status 0 (in the ring) or @err (refused, dropped).
 */
void rpc_tx_answer(struct bp_msg_desc *d, const struct rpc_tx_env *e, uint64_t off, int err);

/** rpc_tx_pending - are frames posted and not all in the ring? */
bool rpc_tx_pending(const struct rpc_tx_flow *tf);

/**
 * rpc_tx_drop - the flow cannot send any more (reset, closed, gone): tell
 * the app about every frame still posted (BP_MSG_SENT, status @err), as
 * far as the message queue has room, and forget them.  libbypass also
 * reclaims a slot's frames when the slot is reused, so an answer lost
 * here leaks nothing for long.
 */
void rpc_tx_drop(struct rpc_tx_flow *tf, struct rpc_tx_env *e, int err);

#endif /* FP_RPC_FRAME_TX_H */
