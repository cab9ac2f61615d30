// SPDX-License-Identifier: MIT
/*
 * fuzz_rpc_frame_tx - fastpathd's send scheduler for RPC sessions
 * (fastpathd/rpc_frame_tx.c) under a hostile app: posts of honest frames
 * and of any offset and class, the send area scribbled at any time (also
 * under frames already posted, headers included), ring room handed out in
 * odd amounts, the message queue full and not.
 *
 * Invariants: a fill never writes more than the room it was given; every
 * complete frame in the ring starts with a header that decodes (the daemon
 * sends the header it read at post time, whatever the area says later), so
 * the peer's framing is never broken by the app; every accepted post is
 * answered exactly once (BP_MSG_SENT with its offset) by the time the flow
 * is dropped, and no refused post is ever answered.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bypass/rpc_wire.h"
#include "rpc_frame_tx.h"
#include "fuzz_input.h"

#define AREA (64u << 10)
#define RING 8192u
#define SLOTS (AREA / BP_TXAREA_ALIGN)

static uint8_t area[AREA];
static uint8_t ring[RING];
static unsigned posted[SLOTS], answered[SLOTS];
static unsigned qcap, nq;

static int push(void *arg, const struct bp_msg_desc *d)
{
	(void)arg;
	if (nq >= qcap)
		return -1;
	nq++;
	if (d->type != BP_MSG_SENT || d->heap_off % BP_TXAREA_ALIGN || d->heap_off >= AREA)
		abort();
	answered[d->heap_off / BP_TXAREA_ALIGN]++;
	if (answered[d->heap_off / BP_TXAREA_ALIGN] > posted[d->heap_off / BP_TXAREA_ALIGN])
		abort(); /* an answer for nothing posted there */
	return 0;
}

static bool full(void *arg)
{
	(void)arg;
	return nq >= qcap;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fx_in in = { data, size };
	struct rpc_tx_flow tf;
	struct rpc_tx_env e = {
		.area = area, .area_size = AREA, .ring = ring, .ring_size = RING,
		.push = push, .full = full,
	};
	uint64_t parsed = 0, acked = 0;

	memset(area, 0, sizeof(area));
	memset(posted, 0, sizeof(posted));
	memset(answered, 0, sizeof(answered));
	qcap = 1u << 30;
	nq = 0;
	rpc_tx_init(&tf);
	for (int ops = 0; in.n && ops < 256; ops++) {
		uint8_t op = fx_u8(&in);

		switch (op % 6) {
		case 0: { /* an honest frame, posted */
			uint64_t off = (uint64_t)(fx_u16(&in) % SLOTS) * BP_TXAREA_ALIGN;
			uint32_t len = fx_u16(&in) % 6000;
			struct rpc_frame_hdr h = { .type = (uint8_t)(1 + fx_u8(&in) % 8), .call_id = fx_u32(&in),
						   .frame_len = len, .msg_len = len };

			if (h.type == RPC_FT_CHUNK || h.type == RPC_FT_GOAWAY)
				h.msg_len = 0;
			if (h.type >= RPC_FT_CANCEL && h.type != RPC_FT_CHUNK && h.type != RPC_FT_GOAWAY)
				h.frame_len = len = 0;
			if (off + RPC_WIRE_HDR_LEN + len > AREA)
				break;
			rpc_frame_encode(&h, area + off);
			if (!rpc_tx_post(&tf, &e, off, fx_u8(&in) % (BP_MSG_PRIOS + 1)))
				posted[off / BP_TXAREA_ALIGN]++;
			break;
		}
		case 1: { /* scribble anywhere, posted frames included */
			uint32_t off = fx_u16(&in) % AREA, n = fx_u8(&in);

			for (uint32_t i = 0; i < n && off + i < AREA; i++)
				area[off + i] = fx_u8(&in);
			break;
		}
		case 2: { /* any offset, any class */
			uint64_t off = (op & 0x80) ? (uint64_t)fx_u32(&in) << 32 | fx_u32(&in) : fx_u32(&in);
			unsigned prio = fx_u8(&in);
			int r = rpc_tx_post(&tf, &e, off, prio);

			if (!r) {
				if (off >= AREA || off % BP_TXAREA_ALIGN || prio >= BP_MSG_PRIOS)
					abort(); /* accepted something out of bounds */
				posted[off / BP_TXAREA_ALIGN]++;
			} else if (r != -EINVAL && r != -ENOBUFS) {
				abort();
			}
			break;
		}
		case 3: { /* ring room comes back */
			uint64_t free = RING - (e.written - acked);
			uint64_t room = fx_u16(&in) % (free + 1), before = e.written;

			e.room = room;
			rpc_tx_fill(&tf, &e);
			if (e.written - before > room)
				abort();
			break;
		}
		case 4: { /* the peer acks: walk the complete frames first */
			for (;;) {
				uint8_t raw[RPC_WIRE_HDR_LEN];
				struct rpc_frame_hdr h;

				if (e.written - parsed < RPC_WIRE_HDR_LEN)
					break;
				for (unsigned i = 0; i < RPC_WIRE_HDR_LEN; i++)
					raw[i] = ring[(parsed + i) % RING];
				if (rpc_frame_decode(raw, &h) != RPC_FE_OK)
					abort(); /* the peer would see a broken stream */
				if (e.written - parsed < RPC_WIRE_HDR_LEN + (uint64_t)h.frame_len)
					break;
				parsed += RPC_WIRE_HDR_LEN + h.frame_len;
			}
			acked = parsed; /* bytes of a frame in progress stay unacked */
			break;
		}
		default: /* the message queue fills up or drains */
			qcap = nq + fx_u8(&in) % 4;
			break;
		}
	}
	qcap = 1u << 30;
	rpc_tx_drop(&tf, &e, -ECONNRESET);
	if (rpc_tx_pending(&tf))
		abort();
	for (unsigned i = 0; i < SLOTS; i++)
		if (answered[i] != posted[i])
			abort(); /* a post left without its answer */
	return 0;
}
