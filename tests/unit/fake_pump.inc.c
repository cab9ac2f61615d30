// SPDX-License-Identifier: MIT
/*
 * fake_pump.inc.c - the fake daemon's "fastpath": in loopback mode it
 * moves bytes from one flow's tx ring straight into its partner's rx ring,
 * and it provides the helpers unit tests use to play the fastpath by hand.
 * Included by fake_daemon.inc.c only.
 */

/* Fallback tick: rx_consumed moves without a doorbell by design. */
#define FK_PUMP_TICK_MS 20
/* "ring size" that makes fk_ring_copy() treat a buffer as linear */
#define FK_LINEAR (1u << 31)

static void fk_ring_copy(uint8_t *dst, uint32_t dsize, uint64_t dpos,
			 const uint8_t *src, uint32_t ssize, uint64_t spos, uint64_t n)
{
	while (n) {
		uint64_t doff = dpos & (dsize - 1), soff = spos & (ssize - 1);
		uint64_t c = n;

		if (c > dsize - doff)
			c = dsize - doff;
		if (c > ssize - soff)
			c = ssize - soff;
		memcpy(dst + doff, src + soff, c);
		dpos += c;
		spos += c;
		n -= c;
	}
}

/*
 * Like fastpathd, start an empty rx ring over at offset 0 (bp_flow_shm
 * rx_shift), so the library's shift handling is exercised by every test.
 * Return: the shift for bytes placed at position @written now.
 */
static uint32_t fk_rx_shift(struct fk_app *a, struct bp_flow_shm *f, uint64_t written)
{
	if (__atomic_load_n(&f->rx_consumed, __ATOMIC_ACQUIRE) == written)
		__atomic_store_n(&f->rx_shift, bp_ring_shift_to_start(written, a->rx_size),
				 __ATOMIC_RELAXED);
	return f->rx_shift;
}

/* the app's tx shift for the bytes up to the tx_written just read */
static uint32_t fk_tx_shift(struct bp_flow_shm *f)
{
	return __atomic_load_n(&f->tx_shift, __ATOMIC_RELAXED);
}

static uint8_t *fk_rx_ring(struct fk_app *a, uint32_t s)
{
	return a->base + bp_slot_rx_off(a->hdr, s);
}

static uint8_t *fk_tx_ring(struct fk_app *a, uint32_t s)
{
	return a->base + bp_slot_tx_off(a->hdr, s);
}

/* Move what the window allows from (a, s) to its partner; returns progress. */
static int fk_pump_one(struct fk_daemon *d, struct fk_app *a, uint32_t s)
{
	struct fk_flow *p = &a->fl[s];
	struct bp_flow_shm *f = &a->flows[s];
	uint64_t written = __atomic_load_n(&f->tx_written, __ATOMIC_ACQUIRE);
	uint64_t avail = written - p->tx_acked;
	int progress = 0;

	if (p->closing && p->fin_sent) {
		if (p->peer_app >= 0)
			d->apps[p->peer_app].fl[p->peer_slot].peer_app = -1;
		fk_free_slot(d, a, s);
		return 1;
	}
	if (f->state != BP_FS_ESTABLISHED)
		return 0;
	if (avail > a->tx_size) {
		fk_set_reset(d, a, s, EPROTO); /* app lied about tx_written */
		return 1;
	}
	if (avail && p->peer_app >= 0) {
		struct fk_app *b = &d->apps[p->peer_app];
		uint32_t bs = (uint32_t)p->peer_slot;
		struct bp_flow_shm *bf = &b->flows[bs];
		uint64_t used = b->fl[bs].rx_written -
				__atomic_load_n(&bf->rx_consumed, __ATOMIC_ACQUIRE);
		uint64_t n = used > b->rx_size ? 0 : b->rx_size - used;

		if (n > avail)
			n = avail;
		if (n) {
			uint64_t w = b->fl[bs].rx_written;

			fk_ring_copy(fk_rx_ring(b, bs), b->rx_size, w - fk_rx_shift(b, bf, w),
				     fk_tx_ring(a, s), a->tx_size, p->tx_acked - fk_tx_shift(f), n);
			b->fl[bs].rx_written += n;
			__atomic_store_n(&bf->rx_written, b->fl[bs].rx_written, __ATOMIC_RELEASE);
			fk_post(d, b, false, BP_EV_RX, bs, 0, 0, 0);
		}
		avail = n;
	}
	if (avail) {
		/* without a partner the bytes are simply swallowed */
		p->tx_acked += avail;
		__atomic_store_n(&f->tx_acked, p->tx_acked, __ATOMIC_RELEASE);
		fk_post(d, a, false, BP_EV_TX, s, 0, 0, 0);
		progress = 1;
	}
	if (p->shut && !p->fin_sent && p->tx_acked == written) {
		p->fin_sent = true;
		__atomic_or_fetch(&f->flags, BP_FF_TX_CLOSED, __ATOMIC_RELEASE);
		if (p->peer_app >= 0) {
			struct fk_app *b = &d->apps[p->peer_app];

			__atomic_or_fetch(&b->flows[p->peer_slot].flags, BP_FF_PEER_FIN,
					  __ATOMIC_RELEASE);
			fk_post(d, b, false, BP_EV_RX, (uint32_t)p->peer_slot, 0, 0, 0);
		}
		progress = 1;
	}
	/* both FINs exchanged (and, here, instantly acked): orderly close */
	if (p->fin_sent && (f->flags & BP_FF_PEER_FIN)) {
		__atomic_store_n(&f->state, BP_FS_CLOSED, __ATOMIC_RELEASE);
		fk_post(d, a, false, BP_EV_CLOSED, s, 0, 0, 0);
		progress = 1;
	}
	return progress;
}

static int fk_pump_all(struct fk_daemon *d)
{
	int progress = 0;

	for (int i = 0; i < FK_MAX_APPS; i++) {
		struct fk_app *a = &d->apps[i];
		struct bp_doorbell db;
		bool used = false;

		if (!a->in_use)
			continue;
		while (!bp_queue_pop(&a->dataq, &db))
			progress = 1;
		for (uint32_t s = 0; s < a->max_flows; s++) {
			if (!a->fl[s].used)
				continue;
			progress |= fk_pump_one(d, a, s);
			used |= a->fl[s].used;
		}
		if (a->conn < 0 && !used)
			fk_free_app(a);
	}
	return progress;
}

static bool fk_dataq_pending(struct fk_daemon *d)
{
	for (int i = 0; i < FK_MAX_APPS; i++)
		if (d->apps[i].in_use && !bp_queue_empty(&d->apps[i].dataq))
			return true;
	return false;
}

static void fk_set_fp_sleeping(struct fk_daemon *d, uint32_t v)
{
	for (int i = 0; i < FK_MAX_APPS; i++)
		if (d->apps[i].in_use)
			__atomic_store_n(&d->apps[i].hdr->fp_sleeping[0].word, v, __ATOMIC_RELAXED);
}

static void *fk_pump_main(void *arg)
{
	struct fk_daemon *d = arg;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = d->stop_fd, .events = POLLIN },
			{ .fd = d->fp_kick_fd, .events = POLLIN },
		};
		uint64_t v;
		bool idle;

		pthread_mutex_lock(&d->lock);
		if (fk_pump_all(d)) {
			pthread_mutex_unlock(&d->lock);
			continue;
		}
		/* the fastpath half of the doorbell sleep protocol */
		fk_set_fp_sleeping(d, 1);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		idle = !fk_dataq_pending(d);
		pthread_mutex_unlock(&d->lock);
		if (idle && poll(p, 2, FK_PUMP_TICK_MS) > 0 && p[0].revents)
			break;
		if (read(d->fp_kick_fd, &v, 8) < 0 && errno != EAGAIN)
			break;
		pthread_mutex_lock(&d->lock);
		fk_set_fp_sleeping(d, 0);
		pthread_mutex_unlock(&d->lock);
	}
	return NULL;
}

/* ------------------------------------------- helpers for unit tests */

/* not every includer uses every helper */
#define FK_HELPER static __attribute__((unused))

FK_HELPER struct fk_app *fk_app0(struct fk_daemon *d)
{
	for (int i = 0; i < FK_MAX_APPS; i++)
		if (d->apps[i].in_use)
			return &d->apps[i];
	return NULL;
}

/* Deliver @len bytes to the app on @slot, like an in-order segment. */
FK_HELPER void fk_rx(struct fk_daemon *d, uint32_t slot, const void *data, size_t len)
{
	struct fk_app *a;
	struct bp_flow_shm *f;

	pthread_mutex_lock(&d->lock);
	a = fk_app0(d);
	f = &a->flows[slot];
	fk_ring_copy(fk_rx_ring(a, slot), a->rx_size, f->rx_written - fk_rx_shift(a, f, f->rx_written),
		     data, FK_LINEAR, 0, len);
	__atomic_store_n(&f->rx_written, f->rx_written + len, __ATOMIC_RELEASE);
	fk_post(d, a, false, BP_EV_RX, slot, 0, 0, 0);
	pthread_mutex_unlock(&d->lock);
}

FK_HELPER void fk_fin(struct fk_daemon *d, uint32_t slot)
{
	struct fk_app *a;

	pthread_mutex_lock(&d->lock);
	a = fk_app0(d);
	__atomic_or_fetch(&a->flows[slot].flags, BP_FF_PEER_FIN, __ATOMIC_RELEASE);
	fk_post(d, a, false, BP_EV_RX, slot, 0, 0, 0);
	pthread_mutex_unlock(&d->lock);
}

FK_HELPER void fk_reset(struct fk_daemon *d, uint32_t slot, uint32_t err)
{
	pthread_mutex_lock(&d->lock);
	fk_set_reset(d, fk_app0(d), slot, err);
	pthread_mutex_unlock(&d->lock);
}

FK_HELPER void fk_establish(struct fk_daemon *d, uint32_t slot)
{
	struct fk_app *a;

	pthread_mutex_lock(&d->lock);
	a = fk_app0(d);
	__atomic_store_n(&a->flows[slot].state, BP_FS_ESTABLISHED, __ATOMIC_RELEASE);
	fk_post(d, a, true, BP_EV_CONNECTED, slot, 0, 0, 0);
	pthread_mutex_unlock(&d->lock);
}

/* Consume (and acknowledge) everything the app queued on @slot. */
FK_HELPER size_t fk_take_tx(struct fk_daemon *d, uint32_t slot, void *buf, size_t max)
{
	struct fk_app *a;
	struct bp_flow_shm *f;
	uint64_t n;

	pthread_mutex_lock(&d->lock);
	a = fk_app0(d);
	f = &a->flows[slot];
	n = __atomic_load_n(&f->tx_written, __ATOMIC_ACQUIRE) - f->tx_acked;
	if (n > max)
		n = max;
	fk_ring_copy(buf, FK_LINEAR, 0, fk_tx_ring(a, slot), a->tx_size, f->tx_acked - fk_tx_shift(f),
		     n);
	__atomic_store_n(&f->tx_acked, f->tx_acked + n, __ATOMIC_RELEASE);
	fk_post(d, a, false, BP_EV_TX, slot, 0, 0, 0);
	pthread_mutex_unlock(&d->lock);
	return (size_t)n;
}

/*
 * A connection completes on @listener: allocate the child and either post
 * BP_EV_ACCEPT or, with @lose_event, pretend the event queue overflowed.
 */
FK_HELPER int fk_new_child(struct fk_daemon *d, uint32_t listener, bool lose_event)
{
	struct fk_app *a;
	int s;

	pthread_mutex_lock(&d->lock);
	a = fk_app0(d);
	s = fk_alloc_slot(a, BP_FS_ESTABLISHED);
	a->flows[s].local_port = a->flows[listener].local_port;
	a->flows[s].local_ip = a->flows[listener].local_ip;
	a->flows[s].remote_port = 5555;
	__atomic_add_fetch(&a->flows[listener].listen_pending, 1, __ATOMIC_RELEASE);
	if (!lose_event) {
		fk_post(d, a, true, BP_EV_ACCEPT, (uint32_t)s, 0, 0, listener);
	} else {
		__atomic_store_n(&a->hdr->evq_overflow, 1, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&a->hdr->app_sleeping, __ATOMIC_RELAXED))
			fk_kick_fd(a->wake_fd);
	}
	pthread_mutex_unlock(&d->lock);
	return s;
}

FK_HELPER int fk_pop_doorbell(struct fk_daemon *d, struct bp_doorbell *db)
{
	int r;

	pthread_mutex_lock(&d->lock);
	r = bp_queue_pop(&fk_app0(d)->dataq, db);
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* Make the app's control socket report EOF, as if fastpathd died. */
FK_HELPER void fk_hangup(struct fk_daemon *d)
{
	pthread_mutex_lock(&d->lock);
	shutdown(fk_app0(d)->conn, SHUT_RDWR);
	pthread_mutex_unlock(&d->lock);
}

FK_HELPER unsigned fk_count(struct fk_daemon *d, uint16_t op)
{
	unsigned n;

	pthread_mutex_lock(&d->lock);
	n = d->n_req[op];
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* Wait (test side, sleeping) until the fake saw @n requests of @op. */
FK_HELPER bool fk_wait_count(struct fk_daemon *d, uint16_t op, unsigned n, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (fk_count(d, op) >= n)
			return true;
		usleep(1000);
	}
	return fk_count(d, op) >= n;
}
