// SPDX-License-Identifier: MIT
/*
 * pool.c - message buffers: power-of-two classes, per-endpoint free lists
 * (one thread, no locks).  A few buffers per class stay cached so a steady
 * call rate allocates nothing.
 */
#include <stdlib.h>

#include "rpc_internal.h"

#define POOL_MIN_SHIFT 9	/* 512 B */
#define POOL_KEEP_SMALL 256	/* cached buffers per class up to 64 KiB */
#define POOL_KEEP_LARGE 4

static unsigned cls_of(size_t len)
{
	unsigned c = POOL_MIN_SHIFT;

	while (((size_t)1 << c) < len)
		c++;
	return c;
}

/**
 * rpc_buf_get - a buffer with room for at least @len bytes, or NULL.
 */
struct rpc_buf *rpc_buf_get(struct rpc_pool *p, size_t len)
{
	unsigned c;
	struct rpc_buf *b;

	if (len > (1u << 30))
		return NULL;
	c = cls_of(len);
	b = p->free[c];
	if (b) {
		p->free[c] = b->next;
		p->nfree[c]--;
		return b;
	}
	b = malloc(sizeof(*b) + ((size_t)1 << c));
	if (!b)
		return NULL;
	b->cap = 1u << c;
	b->cls = (uint8_t)c;
	b->next = NULL;
	return b;
}

void rpc_buf_put(struct rpc_pool *p, struct rpc_buf *b)
{
	unsigned keep;

	if (!b)
		return;
	keep = b->cls <= 16 ? POOL_KEEP_SMALL : POOL_KEEP_LARGE;
	if (p->nfree[b->cls] >= keep) {
		free(b);
		return;
	}
	b->next = p->free[b->cls];
	p->free[b->cls] = b;
	p->nfree[b->cls]++;
}

void rpc_pool_drain(struct rpc_pool *p)
{
	for (unsigned c = 0; c < 32; c++) {
		while (p->free[c]) {
			struct rpc_buf *b = p->free[c];

			p->free[c] = b->next;
			free(b);
		}
		p->nfree[c] = 0;
	}
}
