// SPDX-License-Identifier: MIT
/*
 * flow_zc.c - zero-copy access to a flow's rings: the caller writes into
 * the tx ring's free space and reads the rx ring in place.
 *
 * Ownership does not change: the app still writes only tx bytes beyond
 * tx_written (free space is the app's until it publishes) and only reads
 * rx bytes in [rx_consumed, rx_written), which the daemon leaves alone
 * until rx_consumed passes them.  What is new is that the pointers outlive
 * the call, so the library remembers how much it handed out
 * (bp_slot.tx_resv, bp_slot.rx_peeked) and refuses to publish more: a
 * buggy caller can corrupt its own stream, never make the library claim
 * bytes it never showed.  How long a pointer stays valid is in NOTES.md.
 */
#include <errno.h>

#include "bp_internal.h"

BP_API int bp_tx_reserve(struct bp_ctx *ctx, int h, size_t len, struct iovec iov[2])
{
	struct bp_flow_shm *f;
	struct bp_slot *s;
	uint64_t room;
	int r;

	if (!ctx || !iov)
		return -EINVAL;
	bpi_lock(ctx);
	r = bpi_tx_check(ctx, h, &s, &f);
	if (r || !len)
		goto out;
	room = bpi_tx_free(ctx, s, f);
	if (!room) {
		r = -EAGAIN;
		goto out;
	}
	if (len > room)
		len = (size_t)room;
	r = bpi_ring_span(bpi_tx_ring(ctx, (uint32_t)h), ctx->tx_size, bpi_tx_shift(ctx, s, f),
			  s->tx_written, len, iov);
	s->tx_resv = len;
out:
	bpi_unlock(ctx);
	return r;
}

BP_API int bp_tx_commit(struct bp_ctx *ctx, int h, size_t len)
{
	struct bp_flow_shm *f;
	struct bp_slot *s;
	uint64_t resv;
	int r;

	if (!ctx)
		return -EINVAL;
	bpi_lock(ctx);
	r = bpi_lookup_flow(ctx, h, -ENOTCONN, &s);
	if (r)
		goto out;
	resv = s->tx_resv;
	/* ends the reservation; a flow that failed since reports it here */
	r = bpi_tx_check(ctx, h, &s, &f);
	if (!r && len > resv)
		r = -EINVAL;
	if (!r && len)
		r = bpi_tx_publish(ctx, s, f, h, len);
out:
	bpi_unlock(ctx);
	return r;
}

BP_API int bp_rx_peek(struct bp_ctx *ctx, int h, struct iovec iov[2])
{
	struct bp_flow_shm *f;
	struct bp_slot *s;
	ssize_t avail;
	int r;

	if (!ctx || !iov)
		return -EINVAL;
	bpi_lock(ctx);
	avail = bpi_rx_check(ctx, h, &s, &f);
	if (avail <= 0) {
		r = (int)avail;
		goto out;
	}
	r = bpi_ring_span(bpi_rx_ring(ctx, (uint32_t)h), ctx->rx_size, bpi_rx_shift(f), s->rx_consumed,
			  (size_t)avail, iov);
	s->rx_peeked = (uint64_t)avail;
out:
	bpi_unlock(ctx);
	return r;
}

BP_API int bp_rx_consume(struct bp_ctx *ctx, int h, size_t len)
{
	struct bp_flow_shm *f;
	struct bp_slot *s;
	uint64_t peeked;
	ssize_t avail;
	int r;

	if (!ctx)
		return -EINVAL;
	bpi_lock(ctx);
	r = bpi_lookup_flow(ctx, h, -ENOTCONN, &s);
	if (r)
		goto out;
	peeked = s->rx_peeked;
	/* ends the peek; bytes that came before a reset are still there */
	avail = bpi_rx_check(ctx, h, &s, &f);
	if (len > peeked) {
		r = -EINVAL;
	} else if (!len) {
		r = 0;
	} else if (avail < 0) {
		r = (int)avail;
	} else if ((uint64_t)avail < len) {
		/* rx_written went backwards: the daemon's word is not a length */
		r = -EINVAL;
	} else {
		bpi_rx_release(ctx, s, f, h, (uint64_t)avail, len);
		r = 0;
	}
out:
	bpi_unlock(ctx);
	return r;
}
