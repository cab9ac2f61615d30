// SPDX-License-Identifier: MIT
/*
 * rpc_frame_tx.c - the daemon's send scheduler for RPC sessions
 * (rpc_frame_tx.h).  The app's send area is read twice per frame: the
 * header once, at post (kept in daemon memory, so what the daemon sizes
 * the frame by is what the peer sees), the payload once, into the ring.
 * A hostile app can change its payload meanwhile; that only garbles its
 * own session.  Offsets and lengths come from the app and are bounded
 * against the area before any read.
 */
#include <errno.h>
#include <string.h>

#include "ring_copy.h"
#include "rpc_frame_tx.h"

void rpc_tx_init(struct rpc_tx_flow *tf)
{
	memset(tf, 0, sizeof(*tf));
	tf->cur = -1;
}

bool rpc_tx_pending(const struct rpc_tx_flow *tf)
{
	for (int c = 0; c < BP_MSG_PRIOS; c++)
		if (tf->n[c])
			return true;
	return false;
}

int rpc_tx_post(struct rpc_tx_flow *tf, const struct rpc_tx_env *e, uint64_t off,
		unsigned prio)
{
	struct rpc_frame_hdr h;
	struct rpc_tx_ent *t;

	if (prio >= BP_MSG_PRIOS || off % BP_TXAREA_ALIGN || off >= e->area_size ||
	    e->area_size - off < RPC_WIRE_HDR_LEN)
		return -EINVAL;
	if (tf->n[prio] >= BP_MSG_TX_DEPTH)
		return -ENOBUFS;
	t = &tf->q[prio][(tf->head[prio] + tf->n[prio]) % BP_MSG_TX_DEPTH];
	memcpy(t->hdr, e->area + off, RPC_WIRE_HDR_LEN);
	if (rpc_frame_decode(t->hdr, &h) != RPC_FE_OK ||
	    e->area_size - off - RPC_WIRE_HDR_LEN < h.frame_len)
		return -EINVAL;
	t->off = off;
	t->len = RPC_WIRE_HDR_LEN + h.frame_len;
	t->done = 0;
	t->seq = tf->seq++;
	tf->n[prio]++;
	return 0;
}

static void ring_write(struct rpc_tx_env *e, const uint8_t *src, uint32_t len)
{
	ring_copy_in(e->ring, e->ring_size, e->ring_shift, e->written, src, len);
	e->written += len;
	e->room -= len;
}

/* the class whose head goes next: the one in progress, else the best */
static int pick(const struct rpc_tx_flow *tf)
{
	if (tf->cur >= 0)
		return tf->cur;
	for (int c = 0; c < BP_MSG_PRIOS; c++)
		if (tf->n[c])
			return c;
	return -1;
}

/* did @t go ahead of a frame posted before it? */
static bool overtook(const struct rpc_tx_flow *tf, int c, const struct rpc_tx_ent *t)
{
	for (int o = c + 1; o < BP_MSG_PRIOS; o++)
		if (tf->n[o] && (int32_t)(tf->q[o][tf->head[o]].seq - t->seq) < 0)
			return true;
	return false;
}

void rpc_tx_answer(struct bp_msg_desc *d, const struct rpc_tx_env *e, uint64_t off, int err)
{
	*d = (struct bp_msg_desc){
		.slot = e->slot, .gen = e->gen, .type = BP_MSG_SENT,
		.status = (uint16_t)(int16_t)err, .heap_off = off, .core = e->core,
	};
}

int rpc_tx_fill(struct rpc_tx_flow *tf, struct rpc_tx_env *e)
{
	int c;

	while ((c = pick(tf)) >= 0) {
		struct rpc_tx_ent *t = &tf->q[c][tf->head[c]];
		uint32_t left = t->len - t->done;

		if (!e->room)
			return RPC_TX_RING;
		if (left <= e->room && !e->answers_optional && e->full(e->arg))
			return RPC_TX_STALL; /* finish it only when its answer fits */
		if (t->done == 0 && tf->cur < 0 && overtook(tf, c, t))
			tf->overtakes++;
		tf->cur = (int8_t)c;
		while (left && e->room) {
			uint32_t n = left < e->room ? left : (uint32_t)e->room;

			if (t->done < RPC_WIRE_HDR_LEN) {
				uint32_t hn = RPC_WIRE_HDR_LEN - t->done;

				n = n < hn ? n : hn;
				ring_write(e, t->hdr + t->done, n);
			} else {
				ring_write(e, e->area + t->off + t->done, n);
			}
			t->done += n;
			left -= n;
		}
		if (left)
			return RPC_TX_RING;
		struct bp_msg_desc d;

		rpc_tx_answer(&d, e, t->off, 0);
		if (!e->answers_optional || !e->full(e->arg))
			e->push(e->arg, &d);
		tf->head[c] = (uint8_t)((tf->head[c] + 1) % BP_MSG_TX_DEPTH);
		tf->n[c]--;
		tf->cur = -1;
		tf->frames++;
	}
	return RPC_TX_IDLE;
}

void rpc_tx_drop(struct rpc_tx_flow *tf, struct rpc_tx_env *e, int err)
{
	for (int c = 0; c < BP_MSG_PRIOS; c++) {
		while (tf->n[c]) {
			struct bp_msg_desc d;

			rpc_tx_answer(&d, e, tf->q[c][tf->head[c]].off, err);
			if (!e->full(e->arg))
				e->push(e->arg, &d);
			tf->head[c] = (uint8_t)((tf->head[c] + 1) % BP_MSG_TX_DEPTH);
			tf->n[c]--;
		}
	}
	tf->cur = -1;
}
