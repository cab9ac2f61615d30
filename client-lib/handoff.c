// SPDX-License-Identifier: MIT
/*
 * handoff.c - connections that outlive fork(): the public calls a program
 * (or the socket shim) uses so a child can keep using a connection its
 * parent opened.  The daemon side and the full rules are in
 * slowpath/handoff.c; in short, the parent reports each child with
 * bp_forked(), the child takes a flow over with bp_adopt() on first use and
 * lets go of one it never used with bp_release().
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "bp_internal.h"

/* an adopt racing another process's adopt of the same flow is retried */
#define ADOPT_TRIES 50

void bpi_adopt_moved(struct bp_ctx *ctx, uint32_t slot, uint32_t gen)
{
	struct bp_slot *s = &ctx->slots[slot];
	struct bp_flow_shm *f = &ctx->flows[slot];

	uint8_t news = s->news; /* it may still be on the news ring */

	memset(s, 0, sizeof(*s));
	s->news = news;
	s->kind = BPS_FLOW;
	s->seen = 1;
	s->gen = gen;
	s->q_head = s->q_tail = s->q_next = -1;
	bpi_txarea_slot_reused(ctx, slot, gen);
	/* the daemon carried the previous owner's counters over: continue
	 * from them (the only time the app reads its own line back) */
	s->rx_consumed = __atomic_load_n(&f->rx_consumed, __ATOMIC_ACQUIRE);
	s->tx_written = __atomic_load_n(&f->tx_written, __ATOMIC_ACQUIRE);
	bpi_news(ctx, slot); /* unread data came along */
}

/**
 * bp_flow_key - the handoff key of connection @h (see bp_adopt()).
 * Takes no lock, so it may run in a fork() child handler.
 * Return: 0 with *@key set, -EBADF, or -ENOTCONN (not a live connection).
 */
BP_API int bp_flow_key(struct bp_ctx *ctx, int h, uint64_t *key)
{
	if (!ctx || h < 0 || (uint32_t)h >= ctx->max_flows)
		return -EBADF;
	if (ctx->slots[h].kind != BPS_FLOW)
		return -EBADF;
	*key = __atomic_load_n(&ctx->flows[h].handoff_key, __ATOMIC_ACQUIRE);
	return *key ? 0 : -ENOTCONN;
}

static int report_child(struct bp_ctx *ctx, pid_t child, uint64_t key)
{
	struct bp_ctrl_req req = { .op = BP_CTRL_FORKED, .pid = (uint32_t)child, .key = key };
	int r;

	if (!ctx || child <= 0)
		return -EINVAL;
	bpi_lock(ctx);
	r = bpi_ctrl_push(ctx, &req, BP_CTRL_PUSH_TIMEOUT_MS);
	/* the daemon believes the report only while @child is still our
	 * child: if we died first, it would be reparented and refused, and
	 * every connection would close under it.  Wait (1 s at most) until
	 * the slowpath has taken the report. */
	if (!r)
		bpi_ctrl_wait_taken(ctx, bpi_now_ms() + 1000);
	bpi_unlock(ctx);
	return r;
}

/**
 * bp_forked - tell the daemon this process fork()ed @child: the child now
 * holds every connection this process holds, so none of them closes before
 * the child has closed (bp_release()) or adopted it, or exited.  Returns
 * once the daemon has taken the report (1 s at most), so a parent may exit
 * right after it.
 */
BP_API int bp_forked(struct bp_ctx *ctx, pid_t child)
{
	return report_child(ctx, child, 0);
}

/**
 * bp_spawned - bp_forked() for a child that inherited only the connection
 * this process knows by @key (bp_flow_key()), as a child started with
 * posix_spawn() inherits only the descriptors its file actions keep.
 */
BP_API int bp_spawned(struct bp_ctx *ctx, pid_t child, uint64_t key)
{
	return key ? report_child(ctx, child, key) : -EINVAL;
}

/**
 * bp_adopt - move the connection named by @key into this process.  Its
 * unread and unsent bytes come along; the previous holder's handle reads
 * as moved (-ESTALE) from then on.
 * Return: the new handle, or -ENOTCONN (the connection is gone),
 * -EOPNOTSUPP (an RPC session, BP_FLOW_RPC: its messages live in the
 * owner's message heap, so it cannot move to another process), -errno.
 */
BP_API int bp_adopt(struct bp_ctx *ctx, uint64_t key)
{
	struct bp_ctrl_req req = { .op = BP_CTRL_ADOPT, .key = key };
	int r = -EAGAIN;

	if (!ctx || !key)
		return -EINVAL;
	for (int i = 0; i < ADOPT_TRIES && r == -EAGAIN; i++) {
		if (i) {
			struct timespec ts = { 0, 1000000 };

			nanosleep(&ts, NULL);
		}
		r = bpi_call_slot(ctx, &req);
	}
	return r;
}

/**
 * bp_release - this process drops its hold on the connection named by @key
 * without having adopted it (a fork child closing an inherited socket).
 */
BP_API int bp_release(struct bp_ctx *ctx, uint64_t key)
{
	struct bp_ctrl_req req = { .op = BP_CTRL_RELEASE, .key = key };
	int r;

	if (!ctx || !key)
		return -EINVAL;
	bpi_lock(ctx);
	r = bpi_ctrl_push(ctx, &req, BP_CTRL_PUSH_TIMEOUT_MS);
	bpi_unlock(ctx);
	return r;
}

/**
 * bp_exec_hold - this process is about to exec() and its next program
 * image keeps the connection named by @key (@keep), or the exec failed and
 * it does not (!@keep).  The daemon keeps the process (by pid) holding the
 * connection when this image's context goes away at exec; the next image
 * takes it over with bp_adopt(@key).  See slowpath/exec_hold.c.
 */
BP_API int bp_exec_hold(struct bp_ctx *ctx, uint64_t key, bool keep)
{
	struct bp_ctrl_req req = { .op = BP_CTRL_EXEC_HOLD, .key = key, .flags = keep };
	int r;

	if (!ctx || !key)
		return -EINVAL;
	bpi_lock(ctx);
	r = bpi_ctrl_push(ctx, &req, BP_CTRL_PUSH_TIMEOUT_MS);
	/* the daemon must have it before the next image asks to adopt:
	 * wait (1 s at most) until the slowpath has taken the request */
	if (!r && keep)
		bpi_ctrl_wait_taken(ctx, bpi_now_ms() + 1000);
	bpi_unlock(ctx);
	return r;
}
