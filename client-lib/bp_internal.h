/* SPDX-License-Identifier: MIT */
/*
 * bp_internal.h - libbypass private state shared by its source files.
 *
 * Invariants (see NOTES.md):
 *  - every field of struct bp_ctx below the lock is protected by it;
 *    only bpi_wait_locked() drops it, and only around poll();
 *  - sizes and offsets of the region are private copies validated once
 *    at attach: the shared header is never trusted again;
 *  - the app-written counters of a flow are mirrored in struct bp_slot and
 *    only ever stored to shared memory, never read back from it.
 */
#ifndef BP_INTERNAL_H
#define BP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bypass/bypass.h"
#include "bypass/shm_abi.h"

#define BP_API __attribute__((visibility("default")))

/* How long listen/connect wait for the daemon's reply. */
#define BP_REPLY_TIMEOUT_MS 5000
/* How long a control request may wait for room in the ctrl queue. */
#define BP_CTRL_PUSH_TIMEOUT_MS 5000
/* How long bp_detach() waits for the slowpath to take its CLOSEs. */
#define BP_DETACH_DRAIN_MS 1000
/* How long bp_detach() then waits for gracefully closed flows to finish. */
#define BP_DETACH_LINGER_MS 3000

enum bps_kind {
	BPS_NONE = 0,    /* not ours (or released by the app) */
	BPS_PENDING,     /* accepted child, still queued on its listener */
	BPS_LISTEN,      /* listener handle */
	BPS_FLOW,        /* connection handle */
};

/**
 * struct bp_slot - the app's private view of one flow slot.
 * @kind: enum bps_kind.
 * @seen: @gen is meaningful (we once held this slot at that generation).
 * @shut_wr: the app called bp_shutdown().
 * @lingering: the app closed this flow gracefully; bp_detach() waits for
 *             it to finish (see NOTES.md) while @gen still matches.
 * @news: the slot is on bp_ctx.news, waiting to be reported by bp_poll().
 * @gen: generation of the slot we hold (or last held).
 * @rx_consumed: mirror of the app-written shm counter.
 * @tx_written: mirror of the app-written shm counter.
 * @accepted: listener: mirror of the app-written shm counter.
 * @tx_resv: bytes of the tx ring handed out by bp_tx_reserve() and not yet
 *           committed (0: no reservation).
 * @rx_peeked: bytes shown by bp_rx_peek() (0: no peek pending).
 * @ip: listener: requested local address (0 = any).
 * @port: listener: local port.
 * @q_head: listener: first queued child slot, -1 if none.
 * @q_tail: listener: last queued child slot.
 * @q_len: listener: number of queued children.
 * @q_next: pending child: next child on the same listener, -1 if last.
 */
struct bp_slot {
	uint8_t kind;
	uint8_t seen;
	uint8_t shut_wr;
	uint8_t lingering;
	uint8_t news;
	uint8_t msg_tx;         /* frames were posted: writable = send-area room */
	uint32_t post_q;        /* data queue + 1 of the posts still unanswered, 0: none */
	uint32_t posts;         /* frames posted: told to the daemon at close */
	uint32_t gen;
	uint64_t rx_consumed;
	uint64_t tx_written;
	uint64_t tx_db;         /* data queue index + 1 of our last TX doorbell, 0: none */
	uint32_t tx_db_q;       /* ... in data queue tx_db_q (the flow's core then) */
	uint32_t accepted;
	uint64_t tx_resv;
	uint64_t rx_peeked;
	uint32_t ip;
	uint16_t port;
	int32_t q_head, q_tail;
	uint32_t q_len;
	int32_t q_next;
};

/**
 * struct bp_waiter - a control request waiting for its BP_EV_REPLY; lives
 * on the requesting thread's stack, linked into bp_ctx.waiters.
 */
struct bp_waiter {
	struct bp_waiter *next;
	uint32_t req_id;
	uint16_t op;
	bool done;
	struct bp_event ev;
};

struct bp_ctx {
	/* immutable after attach: read without the lock */
	int sock_fd;            /* control socket; its EOF tells either side the other died */
	char sock_path[108];    /* its path: bp_flow_stats() asks on a connection of its own */
	int wake_fd;            /* daemon -> app pipe (read; write for our own kicks) */
	int sp_db_fd;           /* app -> slowpath doorbell (datagram socket) */
	int fp_kick_fd[BP_MAX_FP_QUEUES]; /* app -> sleeping fastpath core k (socket) */
	uint32_t nqueues;       /* fastpath cores: a data and an event queue each */
	uint8_t *base;
	size_t region_size;
	struct bp_region_hdr *hdr;
	struct bp_flow_shm *flows;
	uint32_t max_flows;
	uint32_t rx_size, tx_size;
	uint64_t buffers_off;
	uint32_t local_ip;
	uint32_t daemon_proto;  /* its control protocol, major << 16 | minor (attach reply) */
	char cc[16];            /* bp_attach_opts.cc, NUL-padded ("" = daemon default) */

	pthread_mutex_t lock;
	pthread_cond_t cond;    /* followers wait here while one thread polls */
	struct bp_queue_view ctrlq, sp_evq;
	struct bp_queue_view dataq[BP_MAX_FP_QUEUES], fp_evq[BP_MAX_FP_QUEUES];
	/* RPC message sessions (msg.c): core k's message queue, and the heap's
	 * place as checked at attach */
	struct bp_queue_view msgq[BP_MAX_FP_QUEUES];
	uint64_t heap_off, heap_size;
	uint64_t bad_msgs;      /* descriptors refused (out of bounds) */
	/* the send area (msg_tx.c), as checked at attach; its allocator */
	uint64_t txarea_off, txarea_size;
	struct bpi_txarea *txarea;
	uint64_t tx_dropped;    /* posted frames the daemon answered with an error */
	struct bp_slot *slots;  /* [max_flows] */
	struct bp_waiter *waiters;
	uint32_t next_req_id;
	uint32_t unreported;    /* events drained outside the app's bp_wait() */
	uint32_t *news;         /* ring [max_flows]: slots with events bp_poll() has not reported */
	uint32_t news_head, news_count; /* a slot is on it at most once (bp_slot.news) */
	uint64_t wake_epoch;    /* bumped each time a poller returns */
	bool polling;           /* a thread sleeps in poll() on wake_fd */
	bool armed;             /* app uses bp_wait_fd(): keep app_sleeping set */
	bool wake_clean;        /* wake_fd was reset after app_sleeping was
				 * cleared: no reset needed before the next arm */
	bool dead;              /* the daemon closed the control socket */
};

/* Note that slot @i had an event: bp_poll() reports it once. */
static inline void bpi_news(struct bp_ctx *ctx, uint32_t i)
{
	if (i >= ctx->max_flows || ctx->slots[i].news)
		return;
	ctx->slots[i].news = 1;
	ctx->news[(ctx->news_head + ctx->news_count++) % ctx->max_flows] = i;
}

/*
 * The context lock.  No thread is ever cancelled while it holds it: the
 * lock would stay held (and a reply waiter on its stack stay linked) for
 * good.  So taking it turns cancellation off and releasing it restores the
 * caller's setting; the one cancellation point left inside libbypass is an
 * app-level wait's poll() (leader_sleep(), NOTES.md "Threading").
 */
extern __thread int bpi_cancel_state;

static inline void bpi_lock(struct bp_ctx *ctx)
{
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	pthread_mutex_lock(&ctx->lock);
	bpi_cancel_state = old;
}

static inline void bpi_unlock(struct bp_ctx *ctx)
{
	int old = bpi_cancel_state;

	pthread_mutex_unlock(&ctx->lock);
	pthread_setcancelstate(old, NULL);
}

/* Resolve a handle the app holds; NULL means -EBADF. */
static inline struct bp_slot *bpi_lookup(struct bp_ctx *ctx, int h)
{
	struct bp_slot *s;

	if (h < 0 || (uint32_t)h >= ctx->max_flows)
		return NULL;
	s = &ctx->slots[h];
	if (s->kind != BPS_LISTEN && s->kind != BPS_FLOW)
		return NULL;
	return s;
}

/*
 * Resolve a handle that must be a connection.
 * Return: 0 with *out set, -EBADF (no such handle) or @not_flow (a listener).
 */
static inline int bpi_lookup_flow(struct bp_ctx *ctx, int h, int not_flow, struct bp_slot **out)
{
	struct bp_slot *s = bpi_lookup(ctx, h);

	if (!s)
		return -EBADF;
	if (s->kind != BPS_FLOW)
		return not_flow;
	*out = s;
	return 0;
}

static inline uint8_t *bpi_rx_ring(const struct bp_ctx *ctx, uint32_t slot)
{
	return ctx->base + ctx->buffers_off +
	       (uint64_t)slot * ((uint64_t)ctx->rx_size + ctx->tx_size);
}

static inline uint8_t *bpi_tx_ring(const struct bp_ctx *ctx, uint32_t slot)
{
	return bpi_rx_ring(ctx, slot) + ctx->rx_size;
}

/* Wake our own wake pipe; failures only mean a wakeup is pending. */
void bpi_kick(int efd);
/* Wake the daemon (doorbell or core kick socket): never blocks, never SIGPIPE. */
void bpi_wake_daemon(int sock);

/* in a fork()ed child, let go of the parent's context (see attach.c) */
void bp_forget_after_fork(struct bp_ctx *ctx);

uint64_t bpi_now_ms(void);

/* Take ownership of a slot the daemon handed us (reply or accept). */
void bpi_adopt(struct bp_ctx *ctx, uint32_t slot, uint32_t gen, enum bps_kind kind);

/* Take over a slot the daemon filled for us with a moved flow (BP_CTRL_ADOPT). */
void bpi_adopt_moved(struct bp_ctx *ctx, uint32_t slot, uint32_t gen);

/* Send a request that is answered by BP_EV_REPLY and wait for it (lock held). */
int bpi_ctrl_call(struct bp_ctx *ctx, struct bp_ctrl_req *req, struct bp_event *reply);
int bpi_ctrl_call_fd(struct bp_ctx *ctx, struct bp_ctrl_req *req, struct bp_event *reply,
		     int share_fd);
int bpi_listen(struct bp_ctx *ctx, uint32_t ip, uint16_t port, int backlog, unsigned flags,
	       int share_fd);
/* listen_share.c: send a shared LISTEN with its descriptor (lock held) */
int bpi_send_shared_listen(struct bp_ctx *ctx, const struct bp_ctrl_req *req, int share_fd);
int bpi_call_slot(struct bp_ctx *ctx, struct bp_ctrl_req *req);

/* Drain both event queues (and rescan after an overflow); returns events handled. */
int bpi_drain(struct bp_ctx *ctx);
unsigned bpi_ready_locked(struct bp_ctx *ctx, int h);

/* flow_io.c: ring arithmetic shared by the copying and zero-copy calls */
int bpi_ring_span(uint8_t *ring, uint32_t size, uint32_t shift, uint64_t pos, size_t len,
		  struct iovec iov[2]);
uint32_t bpi_tx_shift(struct bp_ctx *ctx, struct bp_slot *s, struct bp_flow_shm *f);
uint32_t bpi_rx_shift(struct bp_flow_shm *f);
uint64_t bpi_tx_free(struct bp_ctx *ctx, struct bp_slot *s, struct bp_flow_shm *f);
int bpi_tx_check(struct bp_ctx *ctx, int h, struct bp_slot **sp, struct bp_flow_shm **fp);
int bpi_tx_publish(struct bp_ctx *ctx, struct bp_slot *s, struct bp_flow_shm *f, int h, size_t len);
ssize_t bpi_rx_check(struct bp_ctx *ctx, int h, struct bp_slot **sp, struct bp_flow_shm **fp);
void bpi_rx_release(struct bp_ctx *ctx, struct bp_slot *s, struct bp_flow_shm *f, int h,
		    uint64_t avail, size_t len);

/*
 * Wait with the lock held (it is dropped around poll()).  @internal: the
 * library waits on its own behalf, so the app's bp_wait_fd() contract must
 * survive it.  Returns 1 woken, 0 timeout, -errno.
 */
int bpi_wait_locked(struct bp_ctx *ctx, int timeout_ms, bool internal);

/* Queue a control request and ring the slowpath; waits for room. */
int bpi_ctrl_push(struct bp_ctx *ctx, const struct bp_ctrl_req *req, int timeout_ms);

/* Wait until the slowpath has taken every queued request (true), or
 * @deadline_ms passes or the daemon is gone (false). */
bool bpi_ctrl_wait_taken(struct bp_ctx *ctx, uint64_t deadline_ms);

/* Best-effort ABORT of a slot we do not want (never waits). */
void bpi_ctrl_abort_now(struct bp_ctx *ctx, uint32_t slot, uint32_t gen);

/* Event handlers living next to the state they change. */
void bpi_on_reply(struct bp_ctx *ctx, const struct bp_event *ev);
void bpi_on_accept(struct bp_ctx *ctx, uint32_t listener, uint32_t child, uint32_t gen);
void bpi_rescan(struct bp_ctx *ctx);

int bpi_push_doorbell_to(struct bp_ctx *ctx, uint32_t k, const struct bp_doorbell *db);

/* msg_tx.c */
struct bpi_txarea;
void bpi_txarea_free(struct bpi_txarea *a);
void bpi_msg_sent(struct bp_ctx *ctx, const struct bp_msg_desc *d);
void bpi_txarea_slot_reused(struct bp_ctx *ctx, uint32_t slot, uint32_t gen);
void bpi_txarea_slot_closed(struct bp_ctx *ctx, uint32_t slot);
bool bpi_txarea_writable(struct bp_ctx *ctx, uint32_t slot);

#endif /* BP_INTERNAL_H */
