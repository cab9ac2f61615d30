// SPDX-License-Identifier: MIT
/*
 * timer.c - deadlines, keepalives and reconnect delays: one binary
 * min-heap per endpoint; each armed timer knows its index, so cancelling
 * (the common case for deadlines: the response came first) is O(log n).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "rpc_internal.h"

uint64_t rpc_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void place(struct rpc_heap *h, int i, struct rpc_timer *t)
{
	h->v[i] = t;
	t->idx = i;
}

static void sift_up(struct rpc_heap *h, int i)
{
	struct rpc_timer *t = h->v[i];

	while (i > 0) {
		int p = (i - 1) / 2;

		if (h->v[p]->at <= t->at)
			break;
		place(h, i, h->v[p]);
		i = p;
	}
	place(h, i, t);
}

static void sift_down(struct rpc_heap *h, int i)
{
	struct rpc_timer *t = h->v[i];

	for (;;) {
		int c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->at < h->v[c]->at)
			c++;
		if (t->at <= h->v[c]->at)
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, t);
}

/**
 * rpc_timer_arm - (re)arm @t to fire at @at.  Return: 0 or -ENOMEM.
 */
int rpc_timer_arm(struct rpc_heap *h, struct rpc_timer *t, uint64_t at)
{
	if (t->idx >= 0) {
		t->at = at;
		sift_up(h, t->idx);
		sift_down(h, t->idx);
		return 0;
	}
	if (h->n == h->cap) {
		int cap = h->cap ? 2 * h->cap : 64;
		struct rpc_timer **v = realloc(h->v, (size_t)cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	t->at = at;
	place(h, h->n++, t);
	sift_up(h, t->idx);
	return 0;
}

void rpc_timer_cancel(struct rpc_heap *h, struct rpc_timer *t)
{
	int i = t->idx;

	if (i < 0)
		return;
	t->idx = -1;
	if (i == --h->n)
		return;
	place(h, i, h->v[h->n]);
	sift_up(h, i);
	sift_down(h, h->v[i]->idx);
}

uint64_t rpc_timer_next(const struct rpc_heap *h)
{
	return h->n ? h->v[0]->at : UINT64_MAX;
}

/* fire every timer due at @now; a callback may arm or cancel timers */
int rpc_timer_expire(struct rpc_heap *h, uint64_t now)
{
	int n = 0;

	while (h->n && h->v[0]->at <= now) {
		struct rpc_timer *t = h->v[0];

		rpc_timer_cancel(h, t);
		t->fn(t);
		n++;
	}
	return n;
}

void rpc_heap_free(struct rpc_heap *h)
{
	for (int i = 0; i < h->n; i++)
		h->v[i]->idx = -1;
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
