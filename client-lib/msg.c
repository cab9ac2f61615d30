// SPDX-License-Identifier: MIT
/*
 * msg.c - RPC message sessions: whole messages fastpathd framed, taken
 * from the per-core message queues, and their heap buffers given back.
 *
 * Descriptors are daemon-written: a message is handed to the app only once
 * its slot is one of ours and its bytes lie inside the heap.  The heap's
 * place comes from the region header as checked at attach, never re-read.
 */
#include <errno.h>
#include <string.h>

#include "bp_internal.h"

static_assert(BP_LISTEN_RPC == BP_FLOW_RPC, "public RPC flag = ABI flag");
static_assert(BP_MSG_TYPE_EOF == BP_MSG_EOF && BP_MSG_TYPE_ERROR == BP_MSG_ERROR,
	      "public message types = ABI types");
static_assert(BP_MSG_FLAG_TOO_BIG == BP_MSGF_TOO_BIG && BP_MSG_FLAG_PART == BP_MSGF_PART &&
	      BP_MSG_FLAG_CANCELLED == BP_MSGF_CANCELLED,
	      "public flags = ABI flags");
static_assert(BP_MSG_ERR_TIMEOUT == BP_MSGE_TIMEOUT, "public reason = ABI reason");

BP_API int bp_connect_rpc(struct bp_ctx *ctx, uint32_t ip, uint16_t port)
{
	struct bp_ctrl_req req = { .op = BP_CTRL_CONNECT, .ip = ip, .port = port,
				   .flags = BP_FLOW_RPC };

	if (!ctx)
		return -EINVAL;
	if (!ctx->heap_size)
		return -ENOMEM; /* attach with bp_attach_opts.msg_heap */
	memcpy(req.cc, ctx->cc, sizeof(req.cc));
	return bpi_call_slot(ctx, &req);
}

static bool desc_ok(const struct bp_ctx *ctx, const struct bp_msg_desc *d)
{
	if (d->slot >= ctx->max_flows || d->core >= ctx->nqueues)
		return false;
	if (!d->has_buf)
		return true;
	uint64_t len = (uint64_t)d->meta_len + d->body_len;

	return d->heap_off <= ctx->heap_size && len <= ctx->heap_size - d->heap_off;
}

static int push_done(struct bp_ctx *ctx, uint32_t k, uint32_t buf, uint32_t gen)
{
	struct bp_doorbell db = { .op = BP_DB_MSG_DONE, .slot = buf, .gen = gen };

	/* the buffer is core k's: its data queue, never a forward */
	return bpi_push_doorbell_to(ctx, k, &db);
}

/*
 * We took entries from message queue @k: if core k found it full, its RPC
 * flows wait for this room and the core may be asleep, so kick it.  Pop
 * (the tail store), fence, read the core's msgq_full word: the core sets
 * the word, fences and looks at the tail (fastpathd/fp_rpc.c).
 */
static void drained(struct bp_ctx *ctx, uint32_t k)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&ctx->hdr->fp_sleeping[k].msgq_full, __ATOMIC_RELAXED))
		bpi_wake_daemon(ctx->fp_kick_fd[k]);
}

/*
 * Is @d about a flow we hold (or will: a child whose ACCEPT we have not
 * drained yet has a newer generation)?  A message of a generation we
 * closed is late: its buffer goes straight back.
 */
static bool desc_current(const struct bp_ctx *ctx, const struct bp_msg_desc *d)
{
	const struct bp_slot *s = &ctx->slots[d->slot];
	int32_t age = (int32_t)(d->gen - s->gen);

	if (s->kind != BPS_NONE)
		return age >= 0;
	return !s->seen || age > 0;
}

BP_API int bp_msg_poll(struct bp_ctx *ctx, struct bp_msg *out, int max)
{
	int n = 0;

	if (!ctx || max < 0 || (max && !out))
		return -EINVAL;
	bpi_lock(ctx);
	for (uint32_t k = 0; k < ctx->nqueues && n < max; k++) {
		struct bp_msg_desc d;
		bool took = false;

		while (n < max && !bp_queue_pop(&ctx->msgq[k], &d)) {
			took = true;
			if (!desc_ok(ctx, &d)) {
				ctx->bad_msgs++;
				continue;
			}
			if (d.type == BP_MSG_SENT) {
				bpi_msg_sent(ctx, &d); /* ours alone: not shown */
				continue;
			}
			if (!desc_current(ctx, &d)) {
				if (d.has_buf)
					push_done(ctx, d.core, d.buf, d.buf_gen);
				continue;
			}
			const uint8_t *p = ctx->base + ctx->heap_off + d.heap_off;
			struct bp_msg *m = &out[n++];

			*m = (struct bp_msg){
				.h = (int)d.slot, .type = d.type, .flags = d.flags,
				.method = d.method, .status = d.status, .call_id = d.call_id,
				.deadline_us = d.deadline_us, .aux = d.aux,
				.wire_bytes = d.wire_bytes,
				.meta = d.has_buf ? p : NULL, .meta_len = d.has_buf ? d.meta_len : 0,
				.body = d.has_buf ? p + d.meta_len : NULL,
				.body_len = d.has_buf ? d.body_len : 0,
				.priv = { d.has_buf ? (uint64_t)d.buf << 32 | d.buf_gen : 0,
					  (uint64_t)d.has_buf << 32 | d.core },
			};
		}
		if (took)
			drained(ctx, k);
	}
	bpi_unlock(ctx);
	return n;
}

BP_API int bp_msg_done(struct bp_ctx *ctx, const struct bp_msg *m)
{
	if (!ctx || !m)
		return -EINVAL;
	if (!(m->priv[1] >> 32))
		return 0; /* nothing in the heap */
	uint32_t k = (uint32_t)m->priv[1] % ctx->nqueues;
	int r;

	bpi_lock(ctx);
	r = push_done(ctx, k, (uint32_t)(m->priv[0] >> 32), (uint32_t)m->priv[0]);
	bpi_unlock(ctx);
	return r;
}

BP_API uint64_t bp_msg_heap_size(const struct bp_ctx *ctx)
{
	return ctx ? ctx->heap_size : 0;
}
