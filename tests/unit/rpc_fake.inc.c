// SPDX-License-Identifier: MIT
/*
 * rpc_fake.inc.c - an in-memory transport for the rpc unit tests: byte
 * pipes between handles of one process, with knobs a real network does
 * not give a test: kill a server's connections, swallow traffic
 * (blackhole), cap a pipe (backpressure), write raw bytes.
 * Level-triggered for IN, so a test can just spin rpc_run(ep, 0).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc_internal.h"

#define FK_MAX 64

struct fk_h {
	bool used, listener, eof, err, refused, notify_out, blackhole;
	void *owner;
	int peer;
	uint16_t port;
	uint8_t *buf;		/* bytes waiting to be read from this handle */
	size_t len, cap;
	int acceptq[FK_MAX];
	int nacc;
};

static struct fk_h fk[FK_MAX];
static pthread_mutex_t fk_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t fk_pipe_cap = SIZE_MAX;

static int fk_alloc(void *owner)
{
	for (int i = 1; i < FK_MAX; i++) {
		if (!fk[i].used) {
			memset(&fk[i], 0, sizeof(fk[i]));
			fk[i].used = true;
			fk[i].owner = owner;
			fk[i].peer = -1;
			return i;
		}
	}
	return -EMFILE;
}

static int fk_init(void **t, const struct rpc_endpoint_opts *o, char *err, size_t el)
{
	*t = malloc(1);
	return *t ? 0 : -ENOMEM;
}

static void fk_fini(void *t)
{
	free(t);
}

static int fk_listen(void *t, uint32_t ip, uint16_t port)
{
	pthread_mutex_lock(&fk_mu);
	int h = fk_alloc(t);

	if (h > 0) {
		fk[h].listener = true;
		fk[h].port = port ? port : (uint16_t)(40000 + h);
	}
	pthread_mutex_unlock(&fk_mu);
	return h;
}

static int fk_local_port(void *t, int h)
{
	return fk[h].port;
}

static int fk_accept(void *t, int lh)
{
	int h = -EAGAIN;

	pthread_mutex_lock(&fk_mu);
	if (fk[lh].nacc) {
		h = fk[lh].acceptq[0];
		memmove(fk[lh].acceptq, fk[lh].acceptq + 1, (size_t)--fk[lh].nacc * sizeof(int));
	}
	pthread_mutex_unlock(&fk_mu);
	return h;
}

static int fk_connect(void *t, uint32_t ip, uint16_t port)
{
	int c, l = -1;

	pthread_mutex_lock(&fk_mu);
	for (int i = 1; i < FK_MAX; i++)
		if (fk[i].used && fk[i].listener && fk[i].port == port)
			l = i;
	c = fk_alloc(t);
	if (c > 0) {
		fk[c].notify_out = true;
		if (l < 0) {
			fk[c].refused = true;
		} else {
			int sv = fk_alloc(fk[l].owner);

			fk[sv].peer = c;
			fk[c].peer = sv;
			fk[l].acceptq[fk[l].nacc++] = sv;
		}
	}
	pthread_mutex_unlock(&fk_mu);
	return c;
}

static int fk_connect_status(void *t, int h)
{
	return fk[h].refused ? -ECONNREFUSED : 0;
}

static ssize_t fk_sendv(void *t, int h, const struct iovec *iov, int n)
{
	ssize_t done = 0;

	pthread_mutex_lock(&fk_mu);
	int p = fk[h].peer;

	if (fk[h].err || p < 0) {
		pthread_mutex_unlock(&fk_mu);
		return -EPIPE;
	}
	for (int i = 0; i < n; i++) {
		size_t room = fk_pipe_cap - fk[p].len, len = iov[i].iov_len;

		if (fk[h].blackhole) {
			done += len;
			continue;
		}
		if (len > room)
			len = room;
		if (fk[p].len + len > fk[p].cap) {
			size_t cap = fk[p].cap ? fk[p].cap : 4096;

			while (cap < fk[p].len + len)
				cap *= 2;
			fk[p].buf = realloc(fk[p].buf, cap);
			fk[p].cap = cap;
		}
		memcpy(fk[p].buf + fk[p].len, iov[i].iov_base, len);
		fk[p].len += len;
		done += len;
		if (len < iov[i].iov_len)
			break;
	}
	pthread_mutex_unlock(&fk_mu);
	return done ? done : -EAGAIN;
}

static ssize_t fk_recv(void *t, int h, void *buf, size_t len)
{
	ssize_t r;

	pthread_mutex_lock(&fk_mu);
	if (fk[h].len) {
		r = (ssize_t)(len < fk[h].len ? len : fk[h].len);
		memcpy(buf, fk[h].buf, (size_t)r);
		memmove(fk[h].buf, fk[h].buf + r, fk[h].len - (size_t)r);
		fk[h].len -= (size_t)r;
		if (fk[h].peer >= 0)
			fk[fk[h].peer].notify_out = true;
	} else if (fk[h].err) {
		r = -ECONNRESET;
	} else {
		r = fk[h].eof ? 0 : -EAGAIN;
	}
	pthread_mutex_unlock(&fk_mu);
	return r;
}

static void fk_close_locked(int h)
{
	int p = fk[h].peer;

	if (p >= 0) {
		fk[p].eof = true;
		fk[p].peer = -1;
	}
	free(fk[h].buf);
	memset(&fk[h], 0, sizeof(fk[h]));
}

static void fk_close(void *t, int h)
{
	pthread_mutex_lock(&fk_mu);
	fk_close_locked(h);
	pthread_mutex_unlock(&fk_mu);
}

static int fk_poll(void *t, struct rpc_tev *ev, int max, int timeout_ms)
{
	int n = 0;

	pthread_mutex_lock(&fk_mu);
	for (int i = 1; i < FK_MAX && n < max; i++) {
		struct fk_h *f = &fk[i];
		unsigned b = 0;

		if (!f->used || f->owner != t)
			continue;
		if (f->listener ? f->nacc > 0 : (f->len || f->eof || f->err || f->refused))
			b |= RPC_TEV_IN;
		if (f->notify_out) {
			b |= RPC_TEV_OUT;
			f->notify_out = false;
		}
		if (b) {
			ev[n].h = i;
			ev[n++].bits = b;
		}
	}
	pthread_mutex_unlock(&fk_mu);
	if (!n && timeout_ms)
		usleep(200);
	return n;
}

static const struct rpc_transport_ops fake_ops = {
	.name = "fake",
	.init = fk_init,
	.fini = fk_fini,
	.listen = fk_listen,
	.local_port = fk_local_port,
	.accept = fk_accept,
	.connect = fk_connect,
	.connect_status = fk_connect_status,
	.sendv = fk_sendv,
	.recv = fk_recv,
	.close = fk_close,
	.poll = fk_poll,
};

/* the server "dies": its listener and connections go, peers see EOF */
static __attribute__((unused)) void fk_kill_owner(void *t)
{
	pthread_mutex_lock(&fk_mu);
	for (int i = 1; i < FK_MAX; i++)
		if (fk[i].used && fk[i].owner == t)
			fk_close_locked(i);
	pthread_mutex_unlock(&fk_mu);
}

/* every connection of @t swallows what it sends (a dead host) */
static __attribute__((unused)) void fk_blackhole_owner(void *t, bool on)
{
	pthread_mutex_lock(&fk_mu);
	for (int i = 1; i < FK_MAX; i++)
		if (fk[i].used && fk[i].owner == t)
			fk[i].blackhole = on;
	pthread_mutex_unlock(&fk_mu);
}

/* raw bytes into the pipe towards @t's connection (as if a peer sent them) */
static void fk_inject(void *t, const void *p, size_t len)
{
	pthread_mutex_lock(&fk_mu);
	for (int i = 1; i < FK_MAX; i++) {
		if (fk[i].used && fk[i].owner == t && !fk[i].listener) {
			fk[i].buf = realloc(fk[i].buf, fk[i].len + len);
			memcpy(fk[i].buf + fk[i].len, p, len);
			fk[i].len += len;
			fk[i].cap = fk[i].len;
			break;
		}
	}
	pthread_mutex_unlock(&fk_mu);
}

static void fk_reset_all(void)
{
	pthread_mutex_lock(&fk_mu);
	for (int i = 1; i < FK_MAX; i++)
		if (fk[i].used)
			fk_close_locked(i);
	fk_pipe_cap = SIZE_MAX;
	pthread_mutex_unlock(&fk_mu);
}
