// SPDX-License-Identifier: MIT
/*
 * transport_bypass.c - RPC over libbypass: the public bp_* API only
 * (fast/slow boundary: nothing of the shared layout is touched here).
 * bp_poll() is edge-style like epoll ET, which is what the endpoint
 * expects.  Handles are bp handles of the endpoint's own context.
 */
#include <errno.h>
#include <poll.h>
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>

#include "bypass/bypass.h"
#include "rpc_internal.h"

struct bt {
	struct bp_ctx *ctx;	/* first: the rpc_bp_* ops below read it */
	bool own;
	int wake;	/* eventfd of the worker threads, -1 */
};

static_assert(offsetof(struct bt, ctx) == 0, "rpc_bp_* ops read the context first");

/* the context of either bypass transport: its state's first member */
static struct bp_ctx *bp_ctx_of(void *t)
{
	return *(struct bp_ctx **)t;
}

static int b_init(void **t, const struct rpc_endpoint_opts *o, char *err, size_t errlen)
{
	struct bt *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->ctx = o->bp;
	if (!b->ctx) {
		struct bp_attach_opts ao = { .app_name = o->bp_opts_app_name ?
						 o->bp_opts_app_name : "rpc" };

		b->ctx = bp_attach(&ao, err, errlen);
		if (!b->ctx) {
			int e = errno ? errno : ECONNREFUSED;

			free(b);
			return -e;
		}
		b->own = true;
	}
	b->wake = -1;
	*t = b;
	return 0;
}

static void b_fini(void *t)
{
	struct bt *b = t;

	if (b->own)
		bp_detach(b->ctx);
	free(b);
}

static int b_listen(void *t, uint32_t ip, uint16_t port)
{
	return bp_listen(bp_ctx_of(t), ip, port, 4096);
}

int rpc_bp_local_port(void *t, int h)
{
	struct bp_flow_info fi;
	int r = bp_flow_info(bp_ctx_of(t), h, &fi);

	return r < 0 ? r : fi.local_port;
}

int rpc_bp_accept(void *t, int lh)
{
	return bp_accept(bp_ctx_of(t), lh);
}

static int b_connect(void *t, uint32_t ip, uint16_t port)
{
	return bp_connect(bp_ctx_of(t), ip, port);
}

int rpc_bp_connect_status(void *t, int h)
{
	return bp_connect_status(bp_ctx_of(t), h);
}

static ssize_t b_sendv(void *t, int h, const struct iovec *iov, int n, unsigned prio)
{
	struct bp_ctx *ctx = bp_ctx_of(t);
	ssize_t done = 0;

	/* each bp_send() is a copy into the shared tx ring, not a syscall */
	for (int i = 0; i < n; i++) {
		ssize_t r = bp_send(ctx, h, iov[i].iov_base, iov[i].iov_len);

		if (r < 0)
			return done ? done : r;
		done += r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return done;
}

static ssize_t b_recv(void *t, int h, void *buf, size_t len)
{
	return bp_recv(bp_ctx_of(t), h, buf, len);
}

static void b_close(void *t, int h)
{
	bp_close(bp_ctx_of(t), h);
}

/*
 * With worker threads, sleep on the daemon's wakeup fd and the workers'
 * eventfd together, the way bp_wait_fd() is meant to be used: arm with
 * bp_wait(ctx, 0), look again, poll(), then drain with bp_poll(ctx, 0).
 */
static int poll_with_wake(struct bt *b, struct bp_pollev *pe, int max, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = bp_wait_fd(b->ctx), .events = POLLIN },
			       { .fd = b->wake, .events = POLLIN } };
	int n = bp_poll(b->ctx, pe, max, 0);

	if (n || !timeout_ms)
		return n;
	bp_wait(b->ctx, 0);
	n = bp_poll(b->ctx, pe, max, 0);
	if (n)
		return n;
	if (poll(p, 2, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	return bp_poll(b->ctx, pe, max, 0);
}

static int b_poll(void *t, struct rpc_tev *ev, int max, int timeout_ms)
{
	struct bt *bt = t;
	struct bp_pollev pe[256];
	int n;

	if (max > 256)
		max = 256;
	if (bt->wake >= 0)
		n = poll_with_wake(bt, pe, max - 1, timeout_ms);
	else
		n = bp_poll(bt->ctx, pe, max, timeout_ms);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		unsigned b = 0;

		if (pe[i].ready & BP_READABLE)
			b |= RPC_TEV_IN;
		if (pe[i].ready & BP_WRITABLE)
			b |= RPC_TEV_OUT;
		if (pe[i].ready & (BP_HUP | BP_ERROR))
			b |= RPC_TEV_IN | RPC_TEV_ERR;
		ev[i].h = pe[i].h;
		ev[i].bits = b;
	}
	if (bt->wake >= 0) {
		/* the endpoint collects worker answers every pass anyway */
		ev[n].h = RPC_TEV_WAKE_H;
		ev[n++].bits = RPC_TEV_IN;
	}
	return n;
}

static int b_set_wake(void *t, int fd)
{
	((struct bt *)t)->wake = fd;
	return 0;
}

/* zero-copy: the flow's rings in the shared region (NOTES.md "Zero-copy") */
static int b_tx_reserve(void *t, int h, size_t len, struct iovec iov[2], unsigned prio)
{
	return bp_tx_reserve(bp_ctx_of(t), h, len, iov);
}

static int b_tx_commit(void *t, int h, size_t len)
{
	return bp_tx_commit(bp_ctx_of(t), h, len);
}

static int b_rx_peek(void *t, int h, struct iovec iov[2])
{
	return bp_rx_peek(bp_ctx_of(t), h, iov);
}

static int b_rx_consume(void *t, int h, size_t len)
{
	return bp_rx_consume(bp_ctx_of(t), h, len);
}

const struct rpc_transport_ops rpc_bypass_ops = {
	.name = "bypass",
	.init = b_init,
	.fini = b_fini,
	.listen = b_listen,
	.local_port = rpc_bp_local_port,
	.accept = rpc_bp_accept,
	.connect = b_connect,
	.connect_status = rpc_bp_connect_status,
	.sendv = b_sendv,
	.recv = b_recv,
	.close = b_close,
	.poll = b_poll,
	.set_wake = b_set_wake,
	.tx_reserve = b_tx_reserve,
	.tx_commit = b_tx_commit,
	.rx_peek = b_rx_peek,
	.rx_consume = b_rx_consume,
};
