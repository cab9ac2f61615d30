// SPDX-License-Identifier: MIT
/*
 * test_client_lib.c - libbypass against an in-process fake fastpathd.
 */
#include <criterion/criterion.h>

#include "fake_daemon.inc.c"

#include <fcntl.h>
#include <sys/resource.h>
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

static uint64_t cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct bp_ctx *attach_fk(struct fk_daemon *d)
{
	struct bp_attach_opts o = { .socket_path = d->path, .app_name = "unit" };

	return bp_attach(&o, errbuf, sizeof(errbuf));
}

static void start_with(const struct fk_cfg *cfg)
{
	fk = fk_start(cfg);
	ctx = attach_fk(fk);
	cr_assert(ctx, "attach failed: %s", errbuf);
}

static void setup(void)
{
	struct fk_cfg c;

	fk_default_cfg(&c);
	start_with(&c);
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

/* An established connection handle, via the fake's CONNECT path. */
static int connected(void)
{
	int h = bp_connect(ctx, htonl(0x0a000002), 80);

	uint64_t t0 = now_ms();
	int st;

	cr_assert(h >= 0, "bp_connect: %d", h);
	/* the reply may overtake the state change, as with fastpathd */
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

/* -------------------------------------------------------- attach */

Test(attach, no_daemon_says_how_to_start)
{
	struct bp_attach_opts o = { .socket_path = "/nonexistent/bypass/fastpathd.sock" };

	cr_assert_null(bp_attach(&o, errbuf, sizeof(errbuf)));
	cr_assert_eq(errno, ENOENT);
	cr_assert(strstr(errbuf, "/nonexistent/bypass/fastpathd.sock"), "%s", errbuf);
	cr_assert(strstr(errbuf, "Start the daemon first"), "%s", errbuf);
	cr_assert(strstr(errbuf, "fastpathd --config"), "%s", errbuf);
	cr_assert(strstr(errbuf, "BYPASS_SOCKET"), "%s", errbuf);
}

Test(attach, stale_socket_is_refused_with_hint)
{
	char dir[] = "/tmp/bptestXXXXXX", path[128];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct bp_attach_opts o = { .socket_path = path };
	int s;

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert(!bind(s, (struct sockaddr *)&sa, sizeof(sa)));
	close(s); /* a socket file with nobody listening: ECONNREFUSED */
	cr_assert_null(bp_attach(&o, errbuf, sizeof(errbuf)));
	cr_assert_eq(errno, ECONNREFUSED);
	cr_assert(strstr(errbuf, "Start the daemon first"), "%s", errbuf);
	unlink(path);
	rmdir(dir);
}

Test(attach, env_socket_is_used, .fini = teardown)
{
	struct fk_cfg c;

	fk_default_cfg(&c);
	fk = fk_start(&c);
	setenv(BP_SOCKET_ENV, fk->path, 1);
	ctx = bp_attach(NULL, errbuf, sizeof(errbuf));
	cr_assert(ctx, "%s", errbuf);
	cr_assert_eq(bp_local_ip(ctx), htonl(0x0a000001));
	cr_assert(bp_wait_fd(ctx) >= 0);
}

Test(attach, abi_mismatch_in_region_names_both, .fini = teardown)
{
	struct fk_cfg c;

	fk_default_cfg(&c);
	c.region_abi = 99;
	fk = fk_start(&c);
	cr_assert_null(attach_fk(fk));
	cr_assert(strstr(errbuf, "ABI"), "%s", errbuf);
	cr_assert(strstr(errbuf, "version 99"), "%s", errbuf);
	char ours[32];
	snprintf(ours, sizeof(ours), "version %u", BP_ABI_VERSION);
	cr_assert(strstr(errbuf, ours), "%s", errbuf);
	cr_assert_eq(errno, EPROTO);
}

Test(attach, abi_mismatch_in_reply_names_both, .fini = teardown)
{
	struct fk_cfg c;

	fk_default_cfg(&c);
	c.reply_abi = BP_ABI_VERSION + 1;
	fk = fk_start(&c);
	cr_assert_null(attach_fk(fk));
	char theirs[32];
	snprintf(theirs, sizeof(theirs), "version %u", BP_ABI_VERSION + 1);
	cr_assert(strstr(errbuf, theirs), "%s", errbuf);
	char ours[32];
	snprintf(ours, sizeof(ours), "version %u", BP_ABI_VERSION);
	cr_assert(strstr(errbuf, ours), "%s", errbuf);
}

Test(attach, malformed_region_is_refused, .fini = teardown)
{
	struct fk_cfg c;

	fk_default_cfg(&c);
	c.corrupt_region = true;
	fk = fk_start(&c);
	cr_assert_null(attach_fk(fk));
	cr_assert(strstr(errbuf, "malformed") && strstr(errbuf, "data queue"), "%s", errbuf);
	cr_assert_eq(errno, EPROTO);
}

Test(attach, refusal_passes_daemon_text, .fini = teardown)
{
	struct fk_cfg c;

	fk_default_cfg(&c);
	c.refuse_status = EACCES;
	c.refuse_msg = "tenant 'blue' is not configured";
	fk = fk_start(&c);
	cr_assert_null(attach_fk(fk));
	cr_assert_eq(errno, EACCES);
	cr_assert(strstr(errbuf, "tenant 'blue' is not configured"), "%s", errbuf);
}

/* -------------------------------------------------- listen / accept */

TestSuite(flows, .init = setup, .fini = teardown, .timeout = 20);

Test(flows, listen_reply_gives_handle)
{
	int l = bp_listen(ctx, 0, 8080, 16);

	cr_assert(l >= 0, "bp_listen: %d", l);
	cr_assert_eq(fk->last_req.port, 8080);
	cr_assert_eq(fk->last_req.backlog, 16);
	cr_assert(fk->n_sp_doorbells >= 1);
	cr_assert_eq(bp_send(ctx, l, "x", 1), -ENOTCONN);
	cr_assert_eq(bp_accept(ctx, l), -EAGAIN);
	cr_assert_eq(bp_ready(ctx, l), 0);
}

Test(flows, listen_error_is_returned)
{
	fk->cfg.listen_status = -EADDRINUSE;
	cr_assert_eq(bp_listen(ctx, 0, 80, 4), -EADDRINUSE);
}

Test(flows, listen_without_reply_times_out)
{
	uint64_t t0 = now_ms();

	fk->cfg.no_reply = true;
	cr_assert_eq(bp_listen(ctx, 0, 80, 4), -ETIMEDOUT);
	cr_assert(now_ms() - t0 >= 4900);
}

Test(flows, accept_takes_children_in_order)
{
	int l = bp_listen(ctx, 0, 9000, 8), c1, c2;

	cr_assert(l >= 0);
	c1 = fk_new_child(fk, (uint32_t)l, false);
	c2 = fk_new_child(fk, (uint32_t)l, false);
	cr_assert_eq(bp_wait(ctx, 1000), 1);
	cr_assert(bp_ready(ctx, l) & BP_READABLE);
	cr_assert_eq(bp_accept(ctx, l), c1);
	cr_assert_eq(bp_accept(ctx, l), c2);
	cr_assert_eq(bp_accept(ctx, l), -EAGAIN);
	cr_assert_eq(fk_app0(fk)->flows[l].accepted, 2);
	cr_assert_eq(bp_accept(ctx, c1), -EINVAL);
	cr_assert(bp_ready(ctx, c1) & BP_WRITABLE);
}

Test(flows, accept_recovers_after_event_overflow)
{
	int l = bp_listen(ctx, 0, 9001, 8), c;

	cr_assert(l >= 0);
	c = fk_new_child(fk, (uint32_t)l, true);
	cr_assert_eq(bp_wait(ctx, 1000), 1);
	cr_assert_eq(fk_app0(fk)->hdr->evq_overflow, 0);
	cr_assert_eq(bp_accept(ctx, l), c);
	cr_assert_eq(bp_accept(ctx, l), -EAGAIN);
	/* a late ACCEPT for the same child must not deliver it twice */
	pthread_mutex_lock(&fk->lock);
	fk_post(fk, fk_app0(fk), true, BP_EV_ACCEPT, (uint32_t)c, 0, 0, (uint32_t)l);
	pthread_mutex_unlock(&fk->lock);
	bp_wait(ctx, 0);
	cr_assert_eq(bp_accept(ctx, l), -EAGAIN);
}

Test(flows, closing_listener_aborts_unaccepted_children)
{
	int l = bp_listen(ctx, 0, 9002, 8);

	fk_new_child(fk, (uint32_t)l, false);
	bp_wait(ctx, 1000);
	cr_assert_eq(bp_close(ctx, l), 0);
	cr_assert(fk_wait_count(fk, BP_CTRL_ABORT, 1, 2000));
	cr_assert(fk_wait_count(fk, BP_CTRL_CLOSE, 1, 2000));
	cr_assert_eq(bp_accept(ctx, l), -EBADF);
}

/* ---------------------------------------------------------- connect */

Test(flows, connect_states)
{
	int h;

	fk->cfg.connect_mode = FK_CONNECT_PENDING;
	h = bp_connect(ctx, htonl(0x0a000002), 443);
	cr_assert(h >= 0);
	cr_assert_eq(bp_connect_status(ctx, h), -EINPROGRESS);
	cr_assert_eq(bp_send(ctx, h, "x", 1), -EAGAIN);
	cr_assert_eq(bp_ready(ctx, h), 0);
	fk_establish(fk, (uint32_t)h);
	cr_assert_eq(bp_wait(ctx, 1000), 1);
	cr_assert_eq(bp_connect_status(ctx, h), 0);
	cr_assert(bp_ready(ctx, h) & BP_WRITABLE);

	fk->cfg.connect_mode = FK_CONNECT_REFUSE;
	h = bp_connect(ctx, htonl(0x0a000002), 444);
	cr_assert(h >= 0);
	for (int i = 0; i < 20 && bp_connect_status(ctx, h) == -EINPROGRESS; i++)
		bp_wait(ctx, 100);
	cr_assert_eq(bp_connect_status(ctx, h), -ECONNREFUSED);
	cr_assert(bp_ready(ctx, h) & BP_ERROR);
}

/*
 * The daemon publishes a refused connect as err, then BP_FF_RESET, then the
 * CLOSED state.  An app that looks in between sees the reset with the state
 * still CONNECTING: bp_ready() says BP_ERROR, and bp_connect_status() must
 * then say the error too, not "in progress" (which the shim's SO_ERROR
 * reports as 0: a connect to a closed port that "succeeded").
 */
Test(flows, a_reset_seen_before_the_state_is_the_connect_result)
{
	fk->cfg.connect_mode = FK_CONNECT_PENDING;
	int h = bp_connect(ctx, htonl(0x0a000002), 445);
	cr_assert(h >= 0);
	struct bp_flow_shm *fs = &fk_app0(fk)->flows[h];
	cr_assert_eq(__atomic_load_n(&fs->state, __ATOMIC_ACQUIRE), BP_FS_CONNECTING);
	fs->err = ECONNREFUSED;
	__atomic_fetch_or(&fs->flags, BP_FF_RESET, __ATOMIC_RELEASE);
	cr_assert(bp_ready(ctx, h) & BP_ERROR);
	cr_assert_eq(bp_connect_status(ctx, h), -ECONNREFUSED);
}

/* ------------------------------------------------------------- data */

/* writes that find their flow's doorbell still queued ring no new one */
Test(flows, send_rings_one_doorbell_until_it_is_taken)
{
	uint8_t a[100], got[4096];
	struct bp_doorbell db;
	int h = connected();

	fill(a, sizeof(a), 3);
	cr_assert_eq(bp_send(ctx, h, a, sizeof(a)), 100);
	cr_assert_eq(bp_send(ctx, h, a, sizeof(a)), 100);
	cr_assert_eq(bp_send(ctx, h, a, sizeof(a)), 100);
	cr_assert(!fk_pop_doorbell(fk, &db));
	cr_assert_eq(db.op, BP_DB_TX);
	cr_assert(fk_pop_doorbell(fk, &db)); /* one doorbell for three writes */
	/* the one doorbell covers every byte written before it was taken */
	cr_assert_eq(fk_take_tx(fk, (uint32_t)h, got, sizeof(got)), 300);
	/* taken: the next write must ring again, or its bytes would strand */
	cr_assert_eq(bp_send(ctx, h, a, sizeof(a)), 100);
	cr_assert(!fk_pop_doorbell(fk, &db));
	cr_assert_eq(db.slot, (uint32_t)h);
}

Test(flows, send_wraps_around_ring_end)
{
	uint8_t a[3000], b[3000], got[4096];
	struct bp_doorbell db;
	int h = connected();

	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	cr_assert_eq(bp_send(ctx, h, a, sizeof(a)), 3000);
	cr_assert(!fk_pop_doorbell(fk, &db));
	cr_assert_eq(db.op, BP_DB_TX);
	cr_assert_eq(db.slot, (uint32_t)h);
	cr_assert_eq(db.gen, fk_app0(fk)->flows[h].gen);
	cr_assert_eq(fk_take_tx(fk, (uint32_t)h, got, sizeof(got)), 3000);
	cr_assert(!memcmp(got, a, 3000));
	/* positions 3000..5999 straddle the 4096-byte ring end */
	cr_assert_eq(bp_send(ctx, h, b, sizeof(b)), 3000);
	cr_assert_eq(fk_take_tx(fk, (uint32_t)h, got, sizeof(got)), 3000);
	cr_assert(!memcmp(got, b, 3000));
}

Test(flows, send_full_ring_is_eagain_until_acked)
{
	static uint8_t big[10000], got[4096];
	int h = connected();

	fill(big, sizeof(big), 3);
	cr_assert_eq(bp_send(ctx, h, big, sizeof(big)), 4096);
	cr_assert_eq(bp_tx_space(ctx, h), 0);
	cr_assert_eq(bp_send(ctx, h, big, 1), -EAGAIN);
	cr_assert_not(bp_ready(ctx, h) & BP_WRITABLE);
	cr_assert_eq(fk_take_tx(fk, (uint32_t)h, got, 1000), 1000);
	cr_assert(bp_ready(ctx, h) & BP_WRITABLE);
	cr_assert_eq(bp_send(ctx, h, big + 4096, 5000), 1000);
}

Test(flows, recv_wraps_around_ring_end)
{
	uint8_t a[3000], b[3000], got[3000];
	int h = connected();

	fill(a, sizeof(a), 4);
	fill(b, sizeof(b), 5);
	cr_assert_eq(bp_recv(ctx, h, got, sizeof(got)), -EAGAIN);
	fk_rx(fk, (uint32_t)h, a, sizeof(a));
	cr_assert_eq(bp_rx_avail(ctx, h), 3000);
	cr_assert(bp_ready(ctx, h) & BP_READABLE);
	cr_assert_eq(bp_recv(ctx, h, got, sizeof(got)), 3000);
	cr_assert(!memcmp(got, a, 3000));
	fk_rx(fk, (uint32_t)h, b, sizeof(b));
	cr_assert_eq(bp_recv(ctx, h, got, 1500), 1500);
	cr_assert_eq(bp_recv(ctx, h, got + 1500, 3000), 1500);
	cr_assert(!memcmp(got, b, 3000));
	cr_assert_eq(fk_app0(fk)->flows[h].rx_consumed, 6000);
}

Test(flows, recv_reopening_window_rings_doorbell)
{
	static uint8_t buf[4096];
	struct bp_doorbell db;
	int h = connected();

	while (!fk_pop_doorbell(fk, &db))
		;
	fk_rx(fk, (uint32_t)h, buf, sizeof(buf));
	cr_assert_eq(bp_recv(ctx, h, buf, 100), 100);
	cr_assert(fk_pop_doorbell(fk, &db), "no window update needed yet");
	cr_assert_eq(bp_recv(ctx, h, buf, sizeof(buf)), 3996);
	cr_assert(!fk_pop_doorbell(fk, &db));
	cr_assert_eq(db.op, BP_DB_RX);
	cr_assert_eq(db.slot, (uint32_t)h);
}

Test(flows, fp_sleeping_gets_kicked)
{
	int h = connected();
	uint64_t v;

	while (read(fk->fp_kick_fd, &v, 8) == 8)
		;
	fk_app0(fk)->hdr->fp_sleeping[0].word = 1;
	cr_assert_eq(bp_send(ctx, h, "abc", 3), 3);
	cr_assert_eq(read(fk->fp_kick_fd, &v, 8), 8);
	fk_app0(fk)->hdr->fp_sleeping[0].word = 0;
	cr_assert_eq(bp_send(ctx, h, "abc", 3), 3);
	cr_assert_eq(read(fk->fp_kick_fd, &v, 8), -1);
}

Test(flows, eof_after_data)
{
	char got[16];
	int h = connected();

	fk_rx(fk, (uint32_t)h, "hello", 5);
	fk_fin(fk, (uint32_t)h);
	cr_assert_eq(bp_ready(ctx, h) & (BP_READABLE | BP_HUP), BP_READABLE | BP_HUP);
	cr_assert_eq(bp_recv(ctx, h, got, sizeof(got)), 5);
	cr_assert_eq(bp_recv(ctx, h, got, sizeof(got)), 0);
	cr_assert_eq(bp_recv(ctx, h, got, sizeof(got)), 0);
	/* half close: we may still send */
	cr_assert_eq(bp_send(ctx, h, "bye", 3), 3);
}

Test(flows, reset_is_econnreset)
{
	char got[16];
	int h = connected();

	fk_rx(fk, (uint32_t)h, "kept", 4);
	fk_reset(fk, (uint32_t)h, ECONNRESET);
	cr_assert_eq(bp_recv(ctx, h, got, sizeof(got)), 4,
		     "as on Linux, bytes that came before the reset are read first");
	cr_assert_eq(memcmp(got, "kept", 4), 0);
	cr_assert_eq(bp_recv(ctx, h, got, sizeof(got)), -ECONNRESET);
	cr_assert_eq(bp_send(ctx, h, "x", 1), -ECONNRESET);
	cr_assert(bp_ready(ctx, h) & BP_ERROR);
	cr_assert(bp_ready(ctx, h) & BP_HUP);
	cr_assert_eq(bp_close(ctx, h), 0);
}

Test(flows, shutdown_then_send_is_epipe)
{
	char got[8];
	int h = connected();

	cr_assert_eq(bp_shutdown(ctx, h), 0);
	cr_assert(fk_wait_count(fk, BP_CTRL_SHUTDOWN, 1, 2000));
	cr_assert_eq(fk->last_req.slot, (uint32_t)h);
	cr_assert_eq(fk->last_req.gen, fk_app0(fk)->flows[h].gen);
	cr_assert_eq(bp_send(ctx, h, "x", 1), -EPIPE);
	fk_rx(fk, (uint32_t)h, "ok", 2);
	cr_assert_eq(bp_recv(ctx, h, got, sizeof(got)), 2);
}

Test(flows, handles_are_validated)
{
	char b[4];
	int h = connected();

	cr_assert_eq(bp_send(ctx, -1, b, 1), -EBADF);
	cr_assert_eq(bp_recv(ctx, 16, b, 1), -EBADF);
	cr_assert_eq(bp_send(ctx, 1000000, b, 1), -EBADF);
	cr_assert_eq(bp_recv(ctx, h + 1, b, 1), -EBADF);
	cr_assert_eq(bp_close(ctx, h + 1), -EBADF);
	cr_assert_eq(bp_shutdown(ctx, h + 1), -EBADF);
	cr_assert_eq(bp_accept(ctx, h + 1), -EBADF);
	cr_assert_eq(bp_connect_status(ctx, h + 1), -EBADF);
	cr_assert_eq(bp_ready(ctx, h + 1), BP_ERROR);
	cr_assert_eq(bp_close(ctx, h), 0);
	cr_assert(fk_wait_count(fk, BP_CTRL_CLOSE, 1, 2000));
	cr_assert_eq(fk->last_req.slot, (uint32_t)h);
	cr_assert_eq(bp_send(ctx, h, b, 1), -EBADF);
	cr_assert_eq(bp_close(ctx, h), -EBADF);
	cr_assert_eq(bp_abort(ctx, h), -EBADF);
}

Test(flows, abort_sends_abort)
{
	int h = connected();

	cr_assert_eq(bp_abort(ctx, h), 0);
	cr_assert(fk_wait_count(fk, BP_CTRL_ABORT, 1, 2000));
	cr_assert_eq(bp_send(ctx, h, "x", 1), -EBADF);
}

/* ------------------------------------------------------------- poll */

Test(flows, poll_reports_each_handle_once_oldest_first)
{
	struct bp_pollev ev[8];
	int a = connected(), b = connected();

	bp_poll(ctx, ev, 8, 0); /* the CONNECTED news */
	fk_rx(fk, (uint32_t)b, "x", 1);
	fk_rx(fk, (uint32_t)a, "y", 1);
	fk_rx(fk, (uint32_t)b, "z", 1);
	cr_assert_eq(bp_poll(ctx, ev, 8, 1000), 2);
	cr_assert_eq(ev[0].h, b);
	cr_assert_eq(ev[1].h, a);
	cr_assert(ev[0].ready & BP_READABLE);
	cr_assert(ev[1].ready & BP_READABLE);
	/* edge-triggered: unread data is not news */
	cr_assert_eq(bp_poll(ctx, ev, 8, 0), 0);
	fk_rx(fk, (uint32_t)a, "w", 1);
	cr_assert_eq(bp_poll(ctx, ev, 8, 1000), 1);
	cr_assert_eq(ev[0].h, a);
}

Test(flows, poll_max_leaves_the_rest_for_next_call)
{
	struct bp_pollev ev[1];
	int a = connected(), b = connected();

	while (bp_poll(ctx, ev, 1, 0) > 0)
		;
	fk_rx(fk, (uint32_t)a, "x", 1);
	fk_rx(fk, (uint32_t)b, "y", 1);
	cr_assert_eq(bp_poll(ctx, ev, 1, 1000), 1);
	cr_assert_eq(ev[0].h, a);
	cr_assert_eq(bp_poll(ctx, ev, 1, 0), 1);
	cr_assert_eq(ev[0].h, b);
	cr_assert_eq(bp_poll(ctx, ev, 1, 0), 0);
}

Test(flows, poll_skips_closed_handles)
{
	struct bp_pollev ev[8];
	int a = connected(), b = connected();

	bp_poll(ctx, ev, 8, 0);
	fk_rx(fk, (uint32_t)a, "x", 1);
	fk_rx(fk, (uint32_t)b, "y", 1);
	bp_wait(ctx, 0);
	cr_assert_eq(bp_close(ctx, a), 0);
	cr_assert_eq(bp_poll(ctx, ev, 8, 0), 1);
	cr_assert_eq(ev[0].h, b);
}

Test(flows, poll_reports_accepted_child_with_early_data)
{
	struct bp_pollev ev[8];
	char buf[8];
	int l = bp_listen(ctx, 0, 9002, 8), c;

	cr_assert(l >= 0);
	c = fk_new_child(fk, (uint32_t)l, false);
	fk_rx(fk, (uint32_t)c, "early", 5); /* before the app accepts */
	cr_assert_eq(bp_poll(ctx, ev, 8, 1000), 1);
	cr_assert_eq(ev[0].h, l);
	cr_assert(ev[0].ready & BP_READABLE);
	cr_assert_eq(bp_accept(ctx, l), c);
	cr_assert_eq(bp_poll(ctx, ev, 8, 0), 1);
	cr_assert_eq(ev[0].h, c);
	cr_assert(ev[0].ready & BP_READABLE);
	cr_assert_eq(bp_recv(ctx, c, buf, sizeof(buf)), 5);
}

Test(flows, poll_after_lost_events_reports_every_handle)
{
	struct bp_pollev ev[8];
	int a = connected(), b = connected(), l = bp_listen(ctx, 0, 9003, 8), c;

	cr_assert(l >= 0);
	bp_poll(ctx, ev, 8, 0);
	c = fk_new_child(fk, (uint32_t)l, true); /* the event queue "overflowed" */
	int n = bp_poll(ctx, ev, 8, 1000), seen = 0;
	for (int i = 0; i < n; i++)
		seen |= (ev[i].h == a) << 0 | (ev[i].h == b) << 1 | (ev[i].h == l) << 2;
	cr_assert_eq(seen, 7, "reported %d handles, mask %x", n, seen);
	cr_assert_eq(bp_accept(ctx, l), c);
}

Test(flows, poll_timeout_does_not_spin)
{
	struct bp_pollev ev[4];
	uint64_t t0 = now_ms(), c0 = cpu_ms();

	cr_assert_eq(bp_poll(ctx, ev, 4, 200), 0);
	cr_assert_geq(now_ms() - t0, 190);
	cr_assert_leq(cpu_ms() - c0, 50, "bp_poll burned CPU while waiting");
	cr_assert_eq(bp_poll(ctx, NULL, 4, 0), -EINVAL);
	cr_assert_eq(bp_poll(ctx, ev, 0, 0), -EINVAL);
}

/* ------------------------------------------------------------- wait */

Test(flows, wait_timeout_does_not_spin)
{
	uint64_t t0 = now_ms(), c0 = cpu_ms();

	bp_wait(ctx, 0);
	cr_assert_eq(bp_wait(ctx, 300), 0);
	cr_assert(now_ms() - t0 >= 290);
	cr_assert(cpu_ms() - c0 < 60, "bp_wait burned %llu ms of CPU",
		  (unsigned long long)(cpu_ms() - c0));
	cr_assert_eq(bp_wait(ctx, 0), 0);
}

static void *late_rx(void *arg)
{
	usleep(100 * 1000);
	fk_rx(fk, (uint32_t)(intptr_t)arg, "z", 1);
	return NULL;
}

Test(flows, wait_wakes_on_event)
{
	int h = connected();
	pthread_t t;
	uint64_t t0;

	bp_wait(ctx, 0);
	t0 = now_ms();
	pthread_create(&t, NULL, late_rx, (void *)(intptr_t)h);
	cr_assert_eq(bp_wait(ctx, 5000), 1);
	cr_assert(now_ms() - t0 < 2000);
	pthread_join(t, NULL);
	cr_assert_eq(bp_rx_avail(ctx, h), 1);
	cr_assert_eq(fk_app0(fk)->hdr->app_sleeping, 0);
}

Test(flows, wait_fd_is_armed_by_wait_zero)
{
	struct pollfd p = { .fd = bp_wait_fd(ctx), .events = POLLIN };
	int h = connected();
	pthread_t t;

	while (bp_wait(ctx, 0))
		;
	cr_assert_eq(poll(&p, 1, 0), 0);
	pthread_create(&t, NULL, late_rx, (void *)(intptr_t)h);
	cr_assert_eq(poll(&p, 1, 5000), 1);
	pthread_join(t, NULL);
	cr_assert_eq(bp_wait(ctx, 0), 1);
	cr_assert_eq(poll(&p, 1, 0), 0, "bp_wait(0) must reset the fd");
}

static void *blocked_waiter(void *arg)
{
	(void)arg;
	bp_wait(ctx, 3000);
	return NULL;
}

Test(flows, request_while_another_thread_waits)
{
	uint64_t t0;
	pthread_t t;
	int l;

	pthread_create(&t, NULL, blocked_waiter, NULL);
	usleep(50 * 1000);
	t0 = now_ms();
	l = bp_listen(ctx, 0, 7000, 4);
	cr_assert(l >= 0, "bp_listen: %d", l);
	cr_assert(now_ms() - t0 < 1000, "reply took %llu ms",
		  (unsigned long long)(now_ms() - t0));
	pthread_join(t, NULL);
}

Test(flows, daemon_death_is_reported)
{
	fk_hangup(fk);
	cr_assert_eq(bp_wait(ctx, 2000), -ECONNRESET);
	cr_assert_eq(bp_listen(ctx, 0, 1, 1), -ECONNRESET);
}

Test(wait, kick_once_daemons_work_too, .fini = teardown, .timeout = 10)
{
	struct fk_cfg c;
	pthread_t t;
	int h;

	fk_default_cfg(&c);
	c.clear_sleeping_on_kick = true;
	start_with(&c);
	h = connected();
	for (int i = 0; i < 3; i++) {
		pthread_create(&t, NULL, late_rx, (void *)(intptr_t)h);
		cr_assert_eq(bp_wait(ctx, 5000), 1);
		pthread_join(t, NULL);
	}
	cr_assert_eq(bp_rx_avail(ctx, h), 3);
}

/* --------------------------------------------------------- loopback */

struct pump_arg {
	int h;
	size_t total;
};

static void *loop_sender(void *arg)
{
	struct pump_arg *pa = arg;
	static uint8_t buf[65536];
	size_t off = 0;

	while (off < pa->total) {
		size_t n = pa->total - off < sizeof(buf) ? pa->total - off : sizeof(buf);
		ssize_t r;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)((off + i) % 251);
		r = bp_send(ctx, pa->h, buf, n);
		if (r == -EAGAIN) {
			bp_wait(ctx, 100);
			continue;
		}
		cr_assert(r > 0, "bp_send: %zd", r);
		off += (size_t)r;
	}
	cr_assert_eq(bp_shutdown(ctx, pa->h), 0);
	return NULL;
}

Test(loopback, two_threads_move_bytes_in_order, .fini = teardown, .timeout = 30)
{
	static uint8_t buf[65536];
	struct pump_arg pa = { .total = 8u << 20 };
	struct fk_cfg c;
	size_t got = 0;
	pthread_t t;
	int l, srv;

	fk_default_cfg(&c);
	c.loopback = true;
	c.rx_size = c.tx_size = 65536;
	c.queue_entries = 16; /* small: exercises full queues and overflow */
	start_with(&c);
	l = bp_listen(ctx, 0, 5001, 4);
	cr_assert(l >= 0);
	pa.h = bp_connect(ctx, htonl(0x0a000001), 5001);
	cr_assert(pa.h >= 0);
	while ((srv = bp_accept(ctx, l)) == -EAGAIN)
		bp_wait(ctx, 100);
	cr_assert(srv >= 0);
	pthread_create(&t, NULL, loop_sender, &pa);
	for (;;) {
		ssize_t r = bp_recv(ctx, srv, buf, sizeof(buf));

		if (r == -EAGAIN) {
			bp_wait(ctx, 100);
			continue;
		}
		cr_assert(r >= 0, "bp_recv: %zd", r);
		if (!r)
			break;
		for (ssize_t i = 0; i < r; i++)
			cr_assert_eq(buf[i], (uint8_t)((got + (size_t)i) % 251));
		got += (size_t)r;
	}
	pthread_join(t, NULL);
	cr_assert_eq(got, pa.total);
}

/* --------------------------------------------------------- ctl_wire */

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

Test(ctl_wire, roundtrip_with_fds)
{
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *out;
	Bypass__AttachRequest ar = BYPASS__ATTACH_REQUEST__INIT;
	int sp[2], p1[2], p2[2], fds[4], nfds;
	char c;

	cr_assert(!socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	cr_assert(!pipe(p1) && !pipe(p2));
	ar.abi_version = 3;
	ar.app_name = "wire";
	m.msg_case = BYPASS__CTL_MSG__MSG_ATTACH_REQ;
	m.attach_req = &ar;
	cr_assert_eq(ctl_send(sp[0], &m, (int[]){ p1[1], p2[1] }, 2), 0);
	cr_assert_eq(ctl_send(sp[0], &m, NULL, 0), 0);
	cr_assert_eq(ctl_recv(sp[1], &out, fds, &nfds, 4), 0);
	cr_assert_eq(nfds, 2);
	cr_assert_eq(out->msg_case, BYPASS__CTL_MSG__MSG_ATTACH_REQ);
	cr_assert_eq(out->attach_req->abi_version, 3);
	cr_assert_str_eq(out->attach_req->app_name, "wire");
	bypass__ctl_msg__free_unpacked(out, NULL);
	cr_assert_eq(write(fds[1], "k", 1), 1);
	cr_assert_eq(read(p2[0], &c, 1), 1);
	/* second frame carries no descriptors */
	cr_assert_eq(ctl_recv(sp[1], &out, fds, &nfds, 4), 0);
	cr_assert_eq(nfds, 0);
	bypass__ctl_msg__free_unpacked(out, NULL);
	close(sp[0]);
	cr_assert_eq(ctl_recv(sp[1], &out, fds, &nfds, 4), -ECONNRESET);
	cr_assert_null(out);
}

Test(ctl_wire, extra_fds_are_dropped)
{
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *out;
	Bypass__StatusRequest sr = BYPASS__STATUS_REQUEST__INIT;
	int sp[2], p[2], fd, nfds;

	int before;

	cr_assert(!socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	cr_assert(!pipe(p));
	m.msg_case = BYPASS__CTL_MSG__MSG_STATUS_REQ;
	m.status_req = &sr;
	before = open_fds();
	cr_assert_eq(ctl_send(sp[0], &m, (int[]){ p[0], p[1], p[0] }, 3), 0);
	cr_assert_eq(ctl_recv(sp[1], &out, &fd, &nfds, 1), 0);
	cr_assert_eq(nfds, 1);
	cr_assert_eq(out->msg_case, BYPASS__CTL_MSG__MSG_STATUS_REQ);
	bypass__ctl_msg__free_unpacked(out, NULL);
	/* only the one we kept is new; the other two were closed */
	cr_assert_eq(open_fds(), before + 1);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

Test(ctl_wire, oversized_and_garbage_frames)
{
	uint8_t big[4] = { 0x01, 0x00, 0x02, 0x00 }; /* 128 KiB + 1 */
	uint8_t junk[7] = { 3, 0, 0, 0, 0xff, 0xff, 0xff };
	Bypass__CtlMsg *out;
	int sp[2];

	cr_assert(!socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	cr_assert_eq(write(sp[0], big, 4), 4);
	cr_assert_eq(ctl_recv(sp[1], &out, NULL, NULL, 0), -EMSGSIZE);
	close(sp[0]);
	close(sp[1]);
	cr_assert(!socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	cr_assert_eq(write(sp[0], junk, 7), 7);
	cr_assert_eq(ctl_recv(sp[1], &out, NULL, NULL, 0), -EBADMSG);
}
