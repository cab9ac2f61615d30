// SPDX-License-Identifier: MIT
/*
 * test_client_zc.c - libbypass's zero-copy calls (bp_tx_reserve/commit,
 * bp_rx_peek/consume) against the in-process fake fastpathd, whose rings
 * are 4096 bytes.
 */
#include <criterion/criterion.h>

#include "fake_daemon.inc.c"

#include <time.h>

static struct fk_daemon *fk;
static struct bp_ctx *ctx;
static char errbuf[512];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void setup(void)
{
	struct bp_attach_opts o = { .app_name = "unit-zc" };
	struct fk_cfg c;

	fk_default_cfg(&c);
	fk = fk_start(&c);
	o.socket_path = fk->path;
	ctx = bp_attach(&o, errbuf, sizeof(errbuf));
	cr_assert(ctx, "attach failed: %s", errbuf);
}

static void teardown(void)
{
	if (ctx)
		bp_detach(ctx);
	ctx = NULL;
	if (fk)
		fk_stop(fk);
	fk = NULL;
}

TestSuite(zc, .init = setup, .fini = teardown, .timeout = 30);

static int connected(void)
{
	int h = bp_connect(ctx, htonl(0x0a000002), 80);
	uint64_t t0 = now_ms();
	int st;

	cr_assert(h >= 0, "bp_connect: %d", h);
	while ((st = bp_connect_status(ctx, h)) == -EINPROGRESS && now_ms() - t0 < 2000)
		bp_wait(ctx, 100);
	cr_assert_eq(st, 0);
	return h;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

/* scatter @src over the pieces of a reservation */
static void put(const struct iovec *iov, int n, const uint8_t *src)
{
	for (int i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, src, iov[i].iov_len);
		src += iov[i].iov_len;
	}
}

static size_t total(const struct iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* the fake's own mapping of a ring (the app maps the region elsewhere) */
static uint8_t *ring_base(int h, bool tx)
{
	struct fk_app *a = fk_app0(fk);

	return tx ? fk_tx_ring(a, (uint32_t)h) : fk_rx_ring(a, (uint32_t)h);
}

/* ------------------------------------------------------------ tx */

Test(zc, reserve_points_into_tx_ring_and_commit_sends)
{
	uint8_t a[1000], got[4096];
	struct bp_doorbell db;
	struct iovec iov[2];
	int h = connected();

	while (!fk_pop_doorbell(fk, &db))
		;
	fill(a, sizeof(a), 1);
	cr_assert_eq(bp_tx_reserve(ctx, h, sizeof(a), iov), 1);
	cr_assert_eq(iov[0].iov_len, 1000);
	put(iov, 1, a);
	/* the bytes went straight into the ring, at stream position 0 */
	cr_assert(!memcmp(ring_base(h, true), a, 1000));
	/* nothing published before the commit */
	cr_assert_eq(fk_app0(fk)->flows[h].tx_written, 0);
	cr_assert(fk_pop_doorbell(fk, &db), "doorbell before commit");
	cr_assert_eq(bp_tx_commit(ctx, h, 600), 0);
	cr_assert_eq(fk_app0(fk)->flows[h].tx_written, 600);
	cr_assert(!fk_pop_doorbell(fk, &db));
	cr_assert_eq(db.op, BP_DB_TX);
	cr_assert_eq(db.slot, (uint32_t)h);
	cr_assert_eq(fk_take_tx(fk, (uint32_t)h, got, sizeof(got)), 600);
	cr_assert(!memcmp(got, a, 600));
}

Test(zc, reserve_wraps_in_two_pieces)
{
	uint8_t a[3000], b[3000], got[4096];
	struct iovec iov[2];
	int h = connected();

	fill(a, sizeof(a), 2);
	fill(b, sizeof(b), 3);
	cr_assert_eq(bp_send(ctx, h, a, sizeof(a)), 3000);
	/* one byte stays unacknowledged, so the ring cannot start over */
	cr_assert_eq(fk_take_tx(fk, (uint32_t)h, got, 2999), 2999);
	/* positions 3000..5999 straddle the 4096-byte ring end */
	cr_assert_eq(bp_tx_reserve(ctx, h, sizeof(b), iov), 2);
	cr_assert_eq(iov[0].iov_len, 1096);
	cr_assert_eq(iov[1].iov_base, (uint8_t *)iov[0].iov_base - 3000);
	cr_assert_eq(iov[1].iov_len, 1904);
	put(iov, 2, b);
	cr_assert(!memcmp(ring_base(h, true) + 3000, b, 1096));
	cr_assert(!memcmp(ring_base(h, true), b + 1096, 1904));
	cr_assert_eq(bp_tx_commit(ctx, h, 3000), 0);
	cr_assert_eq(fk_take_tx(fk, (uint32_t)h, got, sizeof(got)), 3001);
	cr_assert_eq(got[0], a[2999]);
	cr_assert(!memcmp(got + 1, b, 3000));
}

Test(zc, acked_tx_ring_starts_over_at_offset_0)
{
	uint8_t a[3000], b[3000], got[4096];
	struct iovec iov[2];
	int h = connected();

	fill(a, sizeof(a), 7);
	fill(b, sizeof(b), 8);
	cr_assert_eq(bp_send(ctx, h, a, sizeof(a)), 3000);
	cr_assert_eq(fk_take_tx(fk, (uint32_t)h, got, sizeof(got)), 3000);
	/* everything acknowledged: position 3000 goes to offset 0, in one piece */
	cr_assert_eq(bp_tx_reserve(ctx, h, sizeof(b), iov), 1);
	cr_assert_eq(iov[0].iov_len, 3000);
	put(iov, 1, b);
	cr_assert(!memcmp(ring_base(h, true), b, 3000));
	cr_assert_eq(bp_tx_commit(ctx, h, 3000), 0);
	cr_assert_eq(fk_app0(fk)->flows[h].tx_shift, 3000);
	cr_assert_eq(fk_take_tx(fk, (uint32_t)h, got, sizeof(got)), 3000);
	cr_assert(!memcmp(got, b, 3000));
	/* and bp_send() does the same */
	cr_assert_eq(bp_send(ctx, h, a, 100), 100);
	cr_assert(!memcmp(ring_base(h, true), a, 100));
	cr_assert_eq(fk_take_tx(fk, (uint32_t)h, got, sizeof(got)), 100);
	cr_assert(!memcmp(got, a, 100));
}

Test(zc, short_reservation_when_ring_nearly_full)
{
	static uint8_t big[4096];
	struct iovec iov[2];
	int h = connected();

	cr_assert_eq(bp_send(ctx, h, big, 4000), 4000);
	cr_assert_eq(bp_tx_reserve(ctx, h, 500, iov), 1);
	cr_assert_eq(total(iov, 1), 96);
	cr_assert_eq(bp_tx_commit(ctx, h, 96), 0);
	cr_assert_eq(bp_tx_reserve(ctx, h, 1, iov), -EAGAIN);
	cr_assert_eq(bp_tx_reserve(ctx, h, 0, iov), 0);
}

Test(zc, commit_more_than_reserved_is_einval)
{
	struct iovec iov[2];
	int h = connected();

	cr_assert_eq(bp_tx_commit(ctx, h, 1), -EINVAL); /* nothing reserved */
	cr_assert_eq(bp_tx_reserve(ctx, h, 100, iov), 1);
	cr_assert_eq(bp_tx_commit(ctx, h, 101), -EINVAL);
	cr_assert_eq(fk_app0(fk)->flows[h].tx_written, 0);
	/* the failed commit ended the reservation */
	cr_assert_eq(bp_tx_commit(ctx, h, 100), -EINVAL);
	/* so does any other transmit call */
	cr_assert_eq(bp_tx_reserve(ctx, h, 100, iov), 1);
	cr_assert_eq(bp_send(ctx, h, "x", 1), 1);
	cr_assert_eq(bp_tx_commit(ctx, h, 50), -EINVAL);
	cr_assert_eq(fk_app0(fk)->flows[h].tx_written, 1);
	/* a commit of 0 cancels */
	cr_assert_eq(bp_tx_reserve(ctx, h, 100, iov), 1);
	cr_assert_eq(bp_tx_commit(ctx, h, 0), 0);
	cr_assert_eq(bp_tx_commit(ctx, h, 1), -EINVAL);
}

Test(zc, reservation_survives_receive_calls)
{
	struct iovec iov[2], r[2];
	char got[8];
	int h = connected();

	cr_assert_eq(bp_tx_reserve(ctx, h, 3, iov), 1);
	memcpy(iov[0].iov_base, "abc", 3);
	fk_rx(fk, (uint32_t)h, "hi", 2);
	cr_assert_eq(bp_rx_peek(ctx, h, r), 1);
	cr_assert_eq(bp_recv(ctx, h, got, sizeof(got)), 2);
	cr_assert_eq(bp_tx_commit(ctx, h, 3), 0);
	cr_assert_eq(fk_take_tx(fk, (uint32_t)h, got, sizeof(got)), 3);
	cr_assert(!memcmp(got, "abc", 3));
}

Test(zc, reserve_errors_follow_send)
{
	struct iovec iov[2];
	int h = connected();
	int l = bp_listen(ctx, 0, 8080, 4);

	cr_assert_eq(bp_tx_reserve(ctx, l, 1, iov), -ENOTCONN);
	cr_assert_eq(bp_tx_reserve(ctx, -1, 1, iov), -EBADF);
	cr_assert_eq(bp_tx_reserve(ctx, h, 10, iov), 1);
	fk_reset(fk, (uint32_t)h, ECONNRESET);
	/* the flow died between reserve and commit: nothing is published */
	cr_assert_eq(bp_tx_commit(ctx, h, 10), -ECONNRESET);
	cr_assert_eq(fk_app0(fk)->flows[h].tx_written, 0);
	cr_assert_eq(bp_tx_reserve(ctx, h, 1, iov), -ECONNRESET);
}

Test(zc, reserve_after_shutdown_is_epipe)
{
	struct iovec iov[2];
	int h = connected();

	cr_assert_eq(bp_tx_reserve(ctx, h, 10, iov), 1);
	cr_assert_eq(bp_shutdown(ctx, h), 0);
	cr_assert_eq(bp_tx_commit(ctx, h, 10), -EPIPE);
	cr_assert_eq(bp_tx_reserve(ctx, h, 10, iov), -EPIPE);
}

/* ------------------------------------------------------------ rx */

Test(zc, peek_shows_bytes_in_place_and_consume_releases)
{
	uint8_t a[1000], *first;
	struct iovec iov[2];
	int h = connected();

	fill(a, sizeof(a), 4);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), -EAGAIN);
	fk_rx(fk, (uint32_t)h, a, sizeof(a));
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 1);
	cr_assert_eq(iov[0].iov_len, 1000);
	cr_assert(!memcmp(iov[0].iov_base, a, 1000));
	/* in place: a change in the ring shows through the iovec */
	ring_base(h, false)[0] ^= 0xff;
	cr_assert_eq(((uint8_t *)iov[0].iov_base)[0], a[0] ^ 0xff);
	ring_base(h, false)[0] ^= 0xff;
	first = iov[0].iov_base;
	cr_assert_eq(bp_rx_consume(ctx, h, 400), 0);
	cr_assert_eq(fk_app0(fk)->flows[h].rx_consumed, 400);
	cr_assert_eq(bp_rx_avail(ctx, h), 600);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 1);
	cr_assert_eq(iov[0].iov_base, first + 400);
	cr_assert_eq(iov[0].iov_len, 600);
	cr_assert(!memcmp(iov[0].iov_base, a + 400, 600));
}

Test(zc, peek_wraps_in_two_pieces)
{
	uint8_t a[3000], b[3000], got[3000];
	struct iovec iov[2];
	int h = connected();

	fill(a, sizeof(a), 5);
	fill(b, sizeof(b), 6);
	fk_rx(fk, (uint32_t)h, a, sizeof(a));
	/* one byte stays unread, so the ring cannot start over */
	cr_assert_eq(bp_recv(ctx, h, got, 2999), 2999);
	fk_rx(fk, (uint32_t)h, b, sizeof(b));
	cr_assert_eq(bp_recv(ctx, h, got, 1), 1);
	cr_assert_eq(got[0], a[2999]);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 2);
	cr_assert_eq(iov[0].iov_len, 1096);
	cr_assert_eq(iov[1].iov_base, (uint8_t *)iov[0].iov_base - 3000);
	cr_assert_eq(iov[1].iov_len, 1904);
	cr_assert(!memcmp(iov[0].iov_base, b, 1096));
	cr_assert(!memcmp(iov[1].iov_base, b + 1096, 1904));
	cr_assert_eq(bp_rx_consume(ctx, h, 3000), 0);
	cr_assert_eq(fk_app0(fk)->flows[h].rx_consumed, 6000);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), -EAGAIN);
}

Test(zc, read_rx_ring_starts_over_at_offset_0)
{
	uint8_t a[3000], b[3000], got[3000];
	struct iovec iov[2];
	int h = connected();

	fill(a, sizeof(a), 9);
	fill(b, sizeof(b), 10);
	fk_rx(fk, (uint32_t)h, a, sizeof(a));
	cr_assert_eq(bp_recv(ctx, h, got, sizeof(got)), 3000);
	/* the daemon (here the fake, as fastpathd does) placed position 3000
	 * at offset 0: the library reads it there, in one piece */
	fk_rx(fk, (uint32_t)h, b, sizeof(b));
	cr_assert_eq(fk_app0(fk)->flows[h].rx_shift, 3000);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 1);
	cr_assert_eq(iov[0].iov_len, 3000);
	cr_assert(!memcmp(iov[0].iov_base, b, 3000));
	cr_assert(!memcmp(ring_base(h, false), b, 3000));
	cr_assert_eq(bp_rx_consume(ctx, h, 3000), 0);
	fk_rx(fk, (uint32_t)h, a, 10);
	cr_assert_eq(bp_recv(ctx, h, got, sizeof(got)), 10);
	cr_assert(!memcmp(got, a, 10));
}

Test(zc, consume_more_than_peeked_is_einval)
{
	struct iovec iov[2];
	int h = connected();

	fk_rx(fk, (uint32_t)h, "hello", 5);
	cr_assert_eq(bp_rx_consume(ctx, h, 1), -EINVAL); /* nothing peeked */
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 1);
	/* more arrives after the peek: still only 5 may be consumed */
	fk_rx(fk, (uint32_t)h, "world", 5);
	cr_assert_eq(bp_rx_consume(ctx, h, 6), -EINVAL);
	cr_assert_eq(fk_app0(fk)->flows[h].rx_consumed, 0);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 1);
	cr_assert_eq(iov[0].iov_len, 10);
	/* a receive call ends the peek */
	char c;

	cr_assert_eq(bp_peek(ctx, h, &c, 1), 1);
	cr_assert_eq(bp_rx_consume(ctx, h, 1), -EINVAL);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 1);
	cr_assert_eq(bp_rx_consume(ctx, h, 10), 0);
	/* the consume ended the peek too */
	cr_assert_eq(bp_rx_consume(ctx, h, 1), -EINVAL);
}

Test(zc, peek_survives_transmit_calls)
{
	struct iovec iov[2], t[2];
	int h = connected();

	fk_rx(fk, (uint32_t)h, "ping", 4);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 1);
	cr_assert_eq(bp_send(ctx, h, "pong", 4), 4);
	cr_assert_eq(bp_tx_reserve(ctx, h, 4, t), 1);
	cr_assert_eq(bp_tx_commit(ctx, h, 0), 0);
	cr_assert_eq(bp_rx_consume(ctx, h, 4), 0);
	cr_assert_eq(fk_app0(fk)->flows[h].rx_consumed, 4);
}

Test(zc, peek_at_eof_is_zero_pieces)
{
	struct iovec iov[2];
	int h = connected();

	fk_rx(fk, (uint32_t)h, "last", 4);
	fk_fin(fk, (uint32_t)h);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 1);
	cr_assert_eq(iov[0].iov_len, 4);
	cr_assert_eq(bp_rx_consume(ctx, h, 4), 0);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 0);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 0);
}

/* as bp_recv(): bytes that came before a reset are read, then the reset */
Test(zc, peek_after_reset_is_econnreset)
{
	struct iovec iov[2];
	int h = connected();

	fk_rx(fk, (uint32_t)h, "kept", 4);
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 1);
	fk_reset(fk, (uint32_t)h, ECONNRESET);
	cr_assert_eq(bp_rx_consume(ctx, h, 4), 0, "bytes that came before the reset stay");
	cr_assert_eq(bp_rx_peek(ctx, h, iov), -ECONNRESET);
	cr_assert_eq(bp_rx_peek(ctx, -1, iov), -EBADF);
}

Test(zc, consume_reopening_window_rings_doorbell)
{
	static uint8_t buf[4096];
	struct bp_doorbell db;
	struct iovec iov[2];
	int h = connected();

	while (!fk_pop_doorbell(fk, &db))
		;
	fk_rx(fk, (uint32_t)h, buf, sizeof(buf));
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 1);
	cr_assert_eq(bp_rx_consume(ctx, h, 100), 0);
	cr_assert(fk_pop_doorbell(fk, &db), "no window update needed yet");
	cr_assert_eq(bp_rx_peek(ctx, h, iov), 1);
	cr_assert_eq(iov[0].iov_len, 3996);
	cr_assert_eq(bp_rx_consume(ctx, h, 3996), 0);
	cr_assert(!fk_pop_doorbell(fk, &db));
	cr_assert_eq(db.op, BP_DB_RX);
	cr_assert_eq(db.slot, (uint32_t)h);
}
