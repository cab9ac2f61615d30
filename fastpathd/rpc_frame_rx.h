/* SPDX-License-Identifier: MIT */
/*
 * rpc_frame_rx.h - fastpathd's framer for RPC sessions: cuts the bytes of
 * a flow's rx ring into rpc/WIRE.md frames and assembles whole messages in
 * the app's message heap.  Plain C (no DPDK): the unit tests and the fuzzer
 * drive it against a fake ring, heap and queue.
 */
#ifndef FP_RPC_FRAME_RX_H
#define FP_RPC_FRAME_RX_H

#include <stdbool.h>
#include <stdint.h>

#include "bypass/rpc_wire.h"
#include "bypass/shm_abi.h"
#include "rpc_heap.h"
#include "rpc_frame_tx.h"

#define RPC_RX_MAX_ASM 8 /* chunked messages in assembly per flow */

/* rpc_rx_scan() verdicts */
enum rpc_rx_verdict {
	RPC_RX_IDLE = 0,  /* took every whole frame there was */
	RPC_RX_STALL = 1, /* heap or message queue full: the rest waits in the ring */
	RPC_RX_ERROR = 2, /* protocol error (rpc_rx_flow.error says which): reset */
	RPC_RX_HELD = 3,  /* past half the heap, a header waits for its message's
			   * bytes: go on when they come, or when room does */
};

/* why a session failed (rpc_rx_flow.error, BP_MSG_ERROR's aux) */
enum rpc_rx_error {
	RPC_RXE_NONE = 0,
	RPC_RXE_HEADER = 1,    /* rpc_frame_decode() refused it (magic, version, sizes) */
	RPC_RXE_CHUNK = 2,     /* CHUNK for no message in assembly, or out of order */
	RPC_RXE_DUP = 3,       /* a second message with the id of one in assembly */
	RPC_RXE_TOO_MANY = 4,  /* more than RPC_RX_MAX_ASM messages in assembly */
	RPC_RXE_TIMEOUT = BP_MSGE_TIMEOUT, /* a message not whole within
					    * [rpc] message_timeout_ms */
};

/**
 * struct rpc_rx_asm - one message in assembly.
 * @used: the entry is live.
 * @skip: too big for the heap part or the app's msg_max: its bytes are
 *        skipped, the app gets the descriptor without a buffer (and
 *        answers RESOURCE_EXHAUSTED) at its end, and each frame's bytes
 *        before that (BP_MSGF_PART) as they go by.
 * @blk: @gen: its heap run.
 * @need: meta_len + msg_len.
 * @meta: meta_len.
 * @got: bytes of it received so far (metadata first, then body).
 * @d: its descriptor, filled from the first frame (a skipped message's
 *     @wire_bytes: those not handed over in a part yet).
 * @since: tsc of its first frame, or of the last time the daemon held the
 *         session up (rpc_rx_hold_clock()): how long the peer has kept
 *         its heap run without finishing it.
 * @carry: the flow moved to another core while this message was in
 *         assembly: its @got bytes, copied out of the old core's heap part
 *         (daemon memory, malloc) until the new core's part takes them.
 */
struct rpc_rx_asm {
	bool used, skip;
	uint8_t *carry;
	uint32_t blk, gen;
	uint64_t need, got;
	uint32_t meta;
	uint64_t since;
	struct bp_msg_desc d;
};

/**
 * struct rpc_rx_flow - the framer's state of one RPC flow (daemon memory,
 * owned by the core that owns the flow).
 * @left: payload bytes of the current frame not taken yet (0: at a header).
 * @cur: the assembly receiving them, -1 = skipped.
 * @pending: an assembly complete but not queued yet (queue was full), -1.
 * @part_pending: a skipped assembly whose part is not queued yet, -1.
 * @eof_sent: BP_MSG_EOF went out.
 * @error: enum rpc_rx_error once the session failed.
 * @frames: frames taken.
 * @carried: some entry has a carry (moved here from another core).
 * @watched: @watch_ticket: @watch_due: on the owning core's deadline FIFO
 *           (fp_rpc_watch.c), with this ticket, due at this tsc.
 * @wait_queued: @wait_ticket: on its heap-wait FIFO, with this ticket.
 * @stall_began: tsc the framer stopped for room (0: it is not stopped);
 * @stall_mark: how far that stop was credited to the messages' clocks;
 * @stall_queue: it stopped for message-queue room (the app's doing, so
 *               its time does not count against the peer) rather than
 *               heap room (which the session's own messages may hold).
 * @tx: the send side's scheduler (the same flow, the same owner).
 */
struct rpc_rx_flow {
	uint32_t left;
	int cur;
	int pending, part_pending;
	bool eof_sent;
	bool carried;
	bool watched;
	bool wait_queued;
	int error;
	bool stall_queue;
	uint32_t watch_ticket, wait_ticket;
	uint64_t watch_due;
	uint64_t stall_began, stall_mark;
	uint64_t frames;
	struct rpc_rx_asm a[RPC_RX_MAX_ASM];
	struct rpc_tx_flow tx; /* frames the app posted (rpc_frame_tx.c) */
};

/**
 * struct rpc_rx_env - what one scan works on.
 * @ring: @ring_size: @ring_shift: the rx ring (power of two) and its shift
 *        (bp_ring_off()).
 * @pos: the daemon's consumed position (in: where to start; out: where it stopped).
 * @end: in-order bytes received (rx_written).
 * @heap: this core's heap part; @heap_base: the heap's first byte (daemon
 *        mapping); @heap_size: the whole heap's bytes.
 * @msg_max: the app's largest message body (0: none beyond the heap part).
 * @push: queue a descriptor on this core's message queue; nonzero if full.
 * @count: a REQUEST or RESPONSE first frame went by (may be NULL).
 * @arg: for the callbacks.
 * @slot: @gen: @core: stamped into descriptors.
 * @now: tsc of this scan (a message's @since).
 * @fin: the peer's FIN is in: no more bytes come, nothing waits for them.
 * @break_wait: the first message that finds no heap room while the
 *              session holds others in assembly is skipped
 *              (BP_MSGF_TOO_BIG) instead of waiting: their bytes may be
 *              queued behind its frame, and nothing else may ever free
 *              room (rpc_rx_scan() clears it once used).
 */
struct rpc_rx_env {
	const uint8_t *ring;
	uint32_t ring_size;
	uint32_t ring_shift;
	uint64_t pos, end;
	struct rpc_heap *heap;
	uint8_t *heap_base;
	uint64_t heap_size;
	uint32_t msg_max;
	int (*push)(void *arg, const struct bp_msg_desc *d);
	void (*count)(void *arg, const struct rpc_frame_hdr *h);
	void *arg;
	uint32_t slot, gen;
	uint16_t core;
	uint64_t now;
	bool fin;
	bool break_wait;
};

/** rpc_rx_init - a new session: at a frame boundary, nothing in assembly. */
void rpc_rx_init(struct rpc_rx_flow *rf);

/**
 * rpc_rx_scan - take every whole frame (and every payload byte of the
 * current one) between env->pos and env->end, assembling messages and
 * queueing descriptors.  Stops before a frame it cannot place (heap or
 * queue full) so those bytes stay in the ring: TCP backpressure.  Past
 * half the heap part, a message's run is taken only once the ring holds
 * the whole message or half the ring (or the FIN is in), so a peer must
 * send bytes to make the daemon reserve heap, not just announce a large
 * message.
 * Return: enum rpc_rx_verdict.
 */
int rpc_rx_scan(struct rpc_rx_flow *rf, struct rpc_rx_env *env);

/**
 * rpc_rx_oldest - the @since of the session's oldest message in assembly
 * that holds heap (one refused as too big holds none: it only drains).
 * Return: a tsc, or UINT64_MAX if none is.
 */
uint64_t rpc_rx_oldest(const struct rpc_rx_flow *rf);

/**
 * rpc_rx_hold_clock - the daemon held the session up from @from to @now
 * (the app did not take messages): that time does not count against the
 * messages in assembly, since the peer could not finish them meanwhile.
 */
void rpc_rx_hold_clock(struct rpc_rx_flow *rf, uint64_t from, uint64_t now);

/**
 * rpc_rx_fail - the session fails for @why (enum rpc_rx_error): every
 * later rpc_rx_scan() says RPC_RX_ERROR.
 */
void rpc_rx_fail(struct rpc_rx_flow *rf, int why);

/**
 * rpc_rx_eof - the peer's FIN is in and every byte before it was taken:
 * queue BP_MSG_EOF once.  A message cut short by the FIN is dropped.
 * Return: 0, or -1 if the queue is full (call again).
 */
int rpc_rx_eof(struct rpc_rx_flow *rf, struct rpc_rx_env *env);

/**
 * rpc_rx_release - the flow is going away: give the heap back what the
 * daemon still holds for messages in assembly (on @heap, the core's part
 * they were taken from: the owning core's, see rpc_rx_carry()) and free
 * carried copies.
 * @core: this core.
 */
void rpc_rx_release(struct rpc_rx_flow *rf, struct rpc_heap *heap, uint16_t core);

/**
 * rpc_rx_free - free @rf and whatever it carries in daemon memory (the
 * heap is not touched: its buffers were released, or the heap is gone).
 */
void rpc_rx_free(struct rpc_rx_flow *rf);

/**
 * rpc_rx_carry - the flow moves to another core: take every message in
 * assembly out of this core's heap part (@heap, @core, @heap_base the
 * heap's first byte) into daemon memory and give the runs back, so the new
 * core owns no run of ours.  rpc_rx_scan() on the new core puts them into
 * its own part first (or stalls until it can).  Without memory for a copy
 * the message's bytes are dropped and it is delivered like one too big for
 * the heap (BP_MSGF_TOO_BIG: the app answers RESOURCE_EXHAUSTED).
 */
void rpc_rx_carry(struct rpc_rx_flow *rf, struct rpc_heap *heap, uint16_t core,
		  const uint8_t *heap_base);

#endif /* FP_RPC_FRAME_RX_H */
