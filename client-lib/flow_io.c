// SPDX-License-Identifier: MIT
/*
 * flow_io.c - moving bytes through a flow's rx/tx rings, doorbells to the
 * fastpath, and readiness.
 *
 * Each ring counter has exactly one writer: the app stores tx_written and
 * rx_consumed (release, after the bytes), the daemon stores rx_written and
 * tx_acked (release, after the bytes).  Free space is plain subtraction of
 * 64-bit totals; a peer value that makes no sense is treated as "no room"
 * or "no data", never trusted as a length.
 */
#include <errno.h>
#include <string.h>

#include "bp_internal.h"

/**
 * bpi_push_doorbell_to - post @db on core @k's data queue, waiting (with
 * the fastpath kicked) while it is full, then kick core @k if it sleeps.
 * Return: 0, or -errno if waiting failed.
 */
int bpi_push_doorbell_to(struct bp_ctx *ctx, uint32_t k, const struct bp_doorbell *db)
{
	while (bp_queue_push(&ctx->dataq[k], db)) {
		int r;

		/*
		 * Dropping the doorbell could strand bytes in the ring, so
		 * make sure the fastpath is awake and come back shortly; it
		 * does not tell us when it frees room.
		 */
		bpi_wake_daemon(ctx->fp_kick_fd[k]);
		r = bpi_wait_locked(ctx, 1, true);
		if (r < 0)
			return r;
	}
	/* Pairs with the fastpath's fence between setting fp_sleeping and
	 * its last look at the queue before it blocks. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&ctx->hdr->fp_sleeping[k].word, __ATOMIC_RELAXED))
		bpi_wake_daemon(ctx->fp_kick_fd[k]);
	return 0;
}

/*
 * The doorbell goes to the fastpath core that owns the flow now (the
 * daemon keeps bp_flow_shm.fp_queue current); a stale value only costs
 * the daemon a hop to the right core.
 */
static int push_doorbell(struct bp_ctx *ctx, uint16_t op, uint32_t slot, uint32_t gen,
			 uint32_t *queue)
{
	struct bp_doorbell db = { .op = op, .slot = slot, .gen = gen };
	uint32_t k = __atomic_load_n(&ctx->flows[slot].fp_queue, __ATOMIC_RELAXED) % ctx->nqueues;
	int r = bpi_push_doorbell_to(ctx, k, &db);

	if (!r && queue)
		*queue = k;
	return r;
}

/*
 * One TX doorbell per flow per fastpath round, not one per write: while the
 * last one still waits in the queue, the fastpath has yet to read
 * tx_written and will see these bytes too.  The fence pairs with the one
 * the fastpath issues between taking doorbells off the queue and reading
 * tx_written: either we see the doorbell consumed and ring again, or it
 * sees our bytes.
 */
static int tx_doorbell(struct bp_ctx *ctx, struct bp_slot *s, uint32_t h)
{
	int r;

	if (s->tx_db) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&ctx->dataq[s->tx_db_q].q->tail, __ATOMIC_ACQUIRE) < s->tx_db)
			return 0;
	}
	r = push_doorbell(ctx, BP_DB_TX, h, s->gen, &s->tx_db_q);
	if (!r)
		s->tx_db = ctx->dataq[s->tx_db_q].own;
	return r;
}

/**
 * bpi_ring_span - where @len bytes at stream position @pos lie in @ring,
 * whose shift is @shift (bp_ring_off()).
 * Return: the number of pieces written to @iov (0 for no bytes, 2 when
 * they wrap the ring end).
 */
int bpi_ring_span(uint8_t *ring, uint32_t size, uint32_t shift, uint64_t pos, size_t len,
		  struct iovec iov[2])
{
	size_t off = bp_ring_off(pos, shift, size);
	size_t first = size - off < len ? size - off : len;

	if (!len)
		return 0;
	iov[0].iov_base = ring + off;
	iov[0].iov_len = first;
	if (first == len)
		return 1;
	iov[1].iov_base = ring;
	iov[1].iov_len = len - first;
	return 2;
}

uint64_t bpi_tx_free(struct bp_ctx *ctx, struct bp_slot *s, struct bp_flow_shm *f)
{
	uint64_t acked = __atomic_load_n(&f->tx_acked, __ATOMIC_ACQUIRE);
	uint64_t inflight = s->tx_written - acked;

	return inflight > ctx->tx_size ? 0 : ctx->tx_size - inflight;
}

/**
 * bpi_tx_shift - the tx ring's shift for bytes written now (lock held).
 * With every byte acknowledged, the next one starts over at offset 0
 * (bp_flow_shm.tx_shift says why); the store is published by the
 * tx_written release that covers the bytes.
 */
uint32_t bpi_tx_shift(struct bp_ctx *ctx, struct bp_slot *s, struct bp_flow_shm *f)
{
	uint32_t shift = __atomic_load_n(&f->tx_shift, __ATOMIC_RELAXED);

	if (__atomic_load_n(&f->tx_acked, __ATOMIC_ACQUIRE) == s->tx_written) {
		uint32_t start = bp_ring_shift_to_start(s->tx_written, ctx->tx_size);

		if (start != shift) {
			shift = start;
			__atomic_store_n(&f->tx_shift, shift, __ATOMIC_RELAXED);
		}
	}
	return shift;
}

/* The rx ring's shift for the bytes rx_avail() just saw: read after that
 * acquire load of rx_written, it is the one they were placed with. */
uint32_t bpi_rx_shift(struct bp_flow_shm *f)
{
	return __atomic_load_n(&f->rx_shift, __ATOMIC_RELAXED);
}

/* Bytes readable; a daemon claiming more than the ring holds gets none. */
static uint64_t rx_avail(struct bp_ctx *ctx, struct bp_slot *s, struct bp_flow_shm *f)
{
	uint64_t written = __atomic_load_n(&f->rx_written, __ATOMIC_ACQUIRE);
	uint64_t avail = written - s->rx_consumed;

	return avail > ctx->rx_size ? 0 : avail;
}

static int flow_error(uint32_t err, int dflt)
{
	return err ? -(int)(err & 0xfff) : dflt;
}

/**
 * bpi_tx_check - may handle @h send now?  Lock held.  Every transmit call
 * starts here, so it also ends a pending tx reservation (NOTES.md: a
 * reservation lasts until the next transmit-side call on the handle).
 * Return: 0 with *@sp and *@fp set, or bp_send()'s error.
 */
int bpi_tx_check(struct bp_ctx *ctx, int h, struct bp_slot **sp, struct bp_flow_shm **fp)
{
	struct bp_flow_shm *f;
	struct bp_slot *s;
	uint32_t state, flags;
	int r;

	r = bpi_lookup_flow(ctx, h, -ENOTCONN, &s);
	if (r)
		return r;
	s->tx_resv = 0;
	f = &ctx->flows[h];
	flags = __atomic_load_n(&f->flags, __ATOMIC_ACQUIRE);
	state = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
	if (flags & BP_FF_MOVED)
		return -ESTALE;
	if (flags & BP_FF_RESET)
		return flow_error(__atomic_load_n(&f->err, __ATOMIC_RELAXED), -ECONNRESET);
	if (s->shut_wr || (flags & BP_FF_TX_CLOSED))
		return -EPIPE;
	if (state == BP_FS_CLOSED)
		return flow_error(__atomic_load_n(&f->err, __ATOMIC_RELAXED), -EPIPE);
	if (ctx->dead)
		return -ECONNRESET;
	/* Before the handshake completes the fastpath has no flow to send
	 * on: report "would block" and let bp_ready() say when. */
	if (state != BP_FS_ESTABLISHED)
		return state == BP_FS_CONNECTING ? -EAGAIN : -ENOTCONN;
	*sp = s;
	*fp = f;
	return 0;
}

/* Publish @len more bytes already in the tx ring (lock held). */
int bpi_tx_publish(struct bp_ctx *ctx, struct bp_slot *s, struct bp_flow_shm *f, int h, size_t len)
{
	s->tx_written += len;
	__atomic_store_n(&f->tx_written, s->tx_written, __ATOMIC_RELEASE);
	return tx_doorbell(ctx, s, (uint32_t)h);
}

BP_API ssize_t bp_send(struct bp_ctx *ctx, int h, const void *buf, size_t len)
{
	/* set by bpi_tx_check() when it returns 0; NULL keeps -O2's
	 * -Wmaybe-uninitialized, which cannot see that, quiet */
	struct bp_flow_shm *f = NULL;
	struct bp_slot *s = NULL;
	struct iovec iov[2];
	uint64_t room;
	ssize_t r;
	int n;

	if (!ctx)
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
	n = bpi_ring_span(bpi_tx_ring(ctx, (uint32_t)h), ctx->tx_size, bpi_tx_shift(ctx, s, f),
			  s->tx_written, len, iov);
	for (size_t i = 0, done = 0; i < (size_t)n; done += iov[i].iov_len, i++)
		memcpy(iov[i].iov_base, (const uint8_t *)buf + done, iov[i].iov_len);
	r = bpi_tx_publish(ctx, s, f, h, len);
	if (!r)
		r = (ssize_t)len;
out:
	bpi_unlock(ctx);
	return r;
}

/**
 * bpi_rx_check - what handle @h has to read.  Lock held.  Every receive
 * call starts here, so it also ends a pending peek.
 * Return: bytes readable (> 0) with *@sp and *@fp set; 0 at end of stream;
 * or bp_recv()'s error.
 */
ssize_t bpi_rx_check(struct bp_ctx *ctx, int h, struct bp_slot **sp, struct bp_flow_shm **fp)
{
	struct bp_flow_shm *f;
	struct bp_slot *s;
	uint32_t state, flags;
	uint64_t avail;
	int r;

	r = bpi_lookup_flow(ctx, h, -ENOTCONN, &s);
	if (r)
		return r;
	s->rx_peeked = 0;
	f = &ctx->flows[h];
	/* Flags first: the daemon publishes PEER_FIN after the final
	 * rx_written, so a FIN seen here means the data count is final. */
	flags = __atomic_load_n(&f->flags, __ATOMIC_ACQUIRE);
	state = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
	if (flags & BP_FF_MOVED)
		return -ESTALE;
	/* As on Linux, bytes that arrived before a reset are still read (an
	 * error page a server sent just before it aborted); the reset is
	 * reported after them.  The ring stays the app's until it closes. */
	avail = rx_avail(ctx, s, f);
	if (avail) {
		*sp = s;
		*fp = f;
		return (ssize_t)avail;
	}
	if (flags & BP_FF_RESET)
		return flow_error(__atomic_load_n(&f->err, __ATOMIC_RELAXED), -ECONNRESET);
	if (flags & BP_FF_PEER_FIN)
		return 0;
	if (state == BP_FS_CLOSED)
		return flow_error(__atomic_load_n(&f->err, __ATOMIC_RELAXED), 0);
	return ctx->dead ? -ECONNRESET : -EAGAIN;
}

/*
 * Give @len of the @avail readable bytes back to the daemon (lock held).
 * The fastpath reads rx_consumed whenever it sends an ACK, so a doorbell
 * is only needed when the window had mostly closed (the peer may be
 * waiting for an update) and this reopened it past half: one doorbell per
 * refill, not per read.
 */
void bpi_rx_release(struct bp_ctx *ctx, struct bp_slot *s, struct bp_flow_shm *f, int h,
		    uint64_t avail, size_t len)
{
	uint64_t half = ctx->rx_size / 2;

	s->rx_consumed += len;
	__atomic_store_n(&f->rx_consumed, s->rx_consumed, __ATOMIC_RELEASE);
	if (ctx->rx_size - avail < half && ctx->rx_size - (avail - len) >= half)
		push_doorbell(ctx, BP_DB_RX, (uint32_t)h, s->gen, NULL);
}

static ssize_t recv_common(struct bp_ctx *ctx, int h, void *buf, size_t len, bool peek)
{
	struct bp_flow_shm *f;
	struct bp_slot *s;
	struct iovec iov[2];
	ssize_t r;
	int n;

	if (!ctx)
		return -EINVAL;
	bpi_lock(ctx);
	r = bpi_rx_check(ctx, h, &s, &f);
	if (r <= 0)
		goto out;
	if (len > (uint64_t)r)
		len = (size_t)r;
	n = bpi_ring_span(bpi_rx_ring(ctx, (uint32_t)h), ctx->rx_size, bpi_rx_shift(f),
			  s->rx_consumed, len, iov);
	for (size_t i = 0, done = 0; i < (size_t)n; done += iov[i].iov_len, i++)
		memcpy((uint8_t *)buf + done, iov[i].iov_base, iov[i].iov_len);
	if (!peek && len)
		bpi_rx_release(ctx, s, f, h, (uint64_t)r, len);
	r = (ssize_t)len;
out:
	bpi_unlock(ctx);
	return r;
}

BP_API ssize_t bp_recv(struct bp_ctx *ctx, int h, void *buf, size_t len)
{
	return recv_common(ctx, h, buf, len, false);
}

BP_API ssize_t bp_peek(struct bp_ctx *ctx, int h, void *buf, size_t len)
{
	return recv_common(ctx, h, buf, len, true);
}

/* bp_ready() with the lock held (bp_poll() reports many at once). */
unsigned bpi_ready_locked(struct bp_ctx *ctx, int h)
{
	struct bp_flow_shm *f;
	struct bp_slot *s;
	uint32_t state, flags;
	unsigned m = 0;

	s = bpi_lookup(ctx, h);
	if (!s)
		return BP_ERROR;
	f = &ctx->flows[h];
	state = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
	if (s->kind == BPS_LISTEN) {
		if (!s->q_len)
			bpi_drain(ctx);
		if (s->q_len)
			m |= BP_READABLE;
		if (state == BP_FS_CLOSED || ctx->dead)
			m |= BP_ERROR | BP_HUP;
		return m;
	}
	flags = __atomic_load_n(&f->flags, __ATOMIC_ACQUIRE);
	if (flags & BP_FF_MOVED)
		return 0; /* another process reads it now: nothing to report here */
	if ((flags & BP_FF_RESET) || ctx->dead ||
	    (state == BP_FS_CLOSED && __atomic_load_n(&f->err, __ATOMIC_RELAXED)))
		return BP_READABLE | BP_WRITABLE | BP_HUP | BP_ERROR;
	if (state == BP_FS_CONNECTING)
		return 0;
	if (rx_avail(ctx, s, f) || (flags & BP_FF_PEER_FIN) || state == BP_FS_CLOSED)
		m |= BP_READABLE;
	if ((flags & BP_FF_PEER_FIN) || state == BP_FS_CLOSED)
		m |= BP_HUP;
	if (state == BP_FS_ESTABLISHED && !s->shut_wr && !(flags & BP_FF_TX_CLOSED) &&
	    (s->msg_tx ? bpi_txarea_writable(ctx, (uint32_t)h) : bpi_tx_free(ctx, s, f) != 0))
		m |= BP_WRITABLE;
	return m;
}

BP_API unsigned bp_ready(struct bp_ctx *ctx, int h)
{
	unsigned m;

	if (!ctx)
		return BP_ERROR;
	bpi_lock(ctx);
	m = bpi_ready_locked(ctx, h);
	bpi_unlock(ctx);
	return m;
}

BP_API int bp_flow_info(struct bp_ctx *ctx, int h, struct bp_flow_info *info)
{
	struct bp_flow_shm *f;
	int r = 0;

	if (!ctx || !info)
		return -EINVAL;
	bpi_lock(ctx);
	if (!bpi_lookup(ctx, h)) {
		r = -EBADF;
	} else {
		f = &ctx->flows[h];
		info->local_ip = __atomic_load_n(&f->local_ip, __ATOMIC_RELAXED);
		info->remote_ip = __atomic_load_n(&f->remote_ip, __ATOMIC_RELAXED);
		info->local_port = __atomic_load_n(&f->local_port, __ATOMIC_RELAXED);
		info->remote_port = __atomic_load_n(&f->remote_port, __ATOMIC_RELAXED);
	}
	bpi_unlock(ctx);
	return r;
}

enum flow_amount { RX_AVAIL, TX_FREE, TX_UNACKED };

/* one of a connection's byte counts, 0 for anything but a connection */
static size_t flow_amount(struct bp_ctx *ctx, int h, enum flow_amount what)
{
	struct bp_slot *s;
	uint64_t n = 0;

	if (!ctx)
		return 0;
	bpi_lock(ctx);
	s = bpi_lookup(ctx, h);
	if (s && s->kind == BPS_FLOW) {
		struct bp_flow_shm *f = &ctx->flows[h];
		n = what == RX_AVAIL ? rx_avail(ctx, s, f) : bpi_tx_free(ctx, s, f);
		if (what == TX_UNACKED)
			n = ctx->tx_size - n;
	}
	bpi_unlock(ctx);
	return (size_t)n;
}

BP_API size_t bp_rx_avail(struct bp_ctx *ctx, int h)
{
	return flow_amount(ctx, h, RX_AVAIL);
}

BP_API size_t bp_tx_unacked(struct bp_ctx *ctx, int h)
{
	return flow_amount(ctx, h, TX_UNACKED);
}

BP_API size_t bp_tx_space(struct bp_ctx *ctx, int h)
{
	return flow_amount(ctx, h, TX_FREE);
}
