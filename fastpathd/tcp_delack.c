// SPDX-License-Identifier: MIT
/*
 * tcp_delack.c - delayed ACKs: in-order data that leaves less than two
 * segments unacknowledged is acknowledged by the next segment we send
 * anyway (a response), or after [tcp] delayed_ack_us, whichever comes
 * first (RFC 1122 4.2.3.2, RFC 5681 4.2).  A request/response exchange
 * then costs one packet each way instead of two: the peer's receive path
 * and ours handle half the frames.  Out-of-order data, data filling a
 * hole, duplicates, a FIN, a CE mark and window probes are still
 * acknowledged at once (tcp_in.c).
 *
 * Every ACK waits the same time, so the owed ones fall due in the order
 * they were queued: a ring, looked at from its head each round.  A flow
 * is queued when it starts to owe an ACK (FPF_DELACK); any segment that
 * carries an ACK settles the debt (send_segment()), which leaves its
 * entry stale: an entry counts only while its flow still owes, with the
 * same deadline.  At most one live entry per flow; stale ones leave the
 * ring within delayed_ack_us.  A full ring means an ACK at once.
 */
#include "fastpath.h"

#define DELACK_MASK (FP_DELACK_QUEUE - 1)
_Static_assert((FP_DELACK_QUEUE & DELACK_MASK) == 0, "FP_DELACK_QUEUE: a power of two");

/**
 * tcp_ack_later - @f received in-order data that may wait for a segment
 * to carry its ACK.  A debt already owed keeps its earlier deadline.
 */
void tcp_ack_later(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & FPF_DELACK)
		return;
	if (!fp->delack_cycles || fp->delack_count == FP_DELACK_QUEUE) {
		fp_touch(fp, f, FPP_ACK);
		return;
	}
	f->delack_due = fp->now + fp->delack_cycles;
	f->flags |= FPF_DELACK;
	struct fp_delack *e = &fp->delack[(fp->delack_head + fp->delack_count++) & DELACK_MASK];
	e->flow_id = f->flow_id;
	e->due = f->delack_due;
}

/**
 * tcp_delack_run - send the ACKs whose time has come (at the end of this
 * round, with the round's other work).
 * Return: the tsc of the next one due, UINT64_MAX if none is owed, so
 * the core never sleeps past it.
 */
uint64_t tcp_delack_run(struct fp_ctx *fp)
{
	while (fp->delack_count) {
		const struct fp_delack *e = &fp->delack[fp->delack_head];
		struct fp_flow *f = &fp->dp->flows[e->flow_id];
		bool owed = (f->flags & FPF_DELACK) && f->delack_due == e->due;
		if (owed && e->due > fp->now)
			return e->due;
		fp->delack_head = (fp->delack_head + 1) & DELACK_MASK;
		fp->delack_count--;
		if (owed) {
			f->flags &= ~FPF_DELACK;
			fp_touch(fp, f, FPP_ACK);
		}
	}
	return UINT64_MAX;
}

/**
 * tcp_delack_flush - @f leaves this core (or goes away): the ACK it owes
 * goes out now if it still can, and its entry here turns stale.
 */
void tcp_delack_flush(struct fp_ctx *fp, struct fp_flow *f)
{
	if (!(f->flags & FPF_DELACK))
		return;
	f->flags &= ~FPF_DELACK;
	if ((f->flags & FPF_ACTIVE) && !(f->flags & FPF_RESET))
		tcp_send_ack(fp, f);
}
