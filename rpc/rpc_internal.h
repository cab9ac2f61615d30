/* SPDX-License-Identifier: MIT */
/*
 * rpc_internal.h - what the rpc/ files share (see NOTES.md for the rules).
 */
#ifndef BYPASS_RPC_INTERNAL_H
#define BYPASS_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "bypass/rpc.h"
#include "bypass/rpc_wire.h"

#define rpc_container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

/* ---- transports ---- */

/* readiness bits a transport reports */
#define RPC_TEV_IN	0x1u
#define RPC_TEV_OUT	0x2u
#define RPC_TEV_ERR	0x4u

struct rpc_tev {
	int h;
	unsigned bits;
};

/**
 * struct rpc_tmsg - one whole message from a framing transport.
 * @h: its first frame's header, as if the message were one frame
 *     (frame_len = meta_len + msg_len, no MORE).
 * @data: metadata then body (NULL if @too_big or empty).
 * @wire_bytes: what it cost on the wire (byte credit to give back).
 * @too_big: the transport could not hold it: treat as over max_msg.
 * @part: with @too_big: not the message yet, only @wire_bytes more of it
 *        went by (their credit goes back now); the end follows.
 * @cancelled: with @too_big: the end of a request its caller cancelled
 *        while it arrived (the CANCEL follows): credit back, no answer.
 * @eof: the peer closed (no message).
 * @kept: msg_keep() said yes: the transport counts it until msg_done().
 * @priv: the transport's, for msg_done().
 */
struct rpc_tmsg {
	struct rpc_frame_hdr h;
	const uint8_t *data;
	uint32_t wire_bytes;
	bool too_big, part, cancelled, eof, kept;
	uint64_t priv[3];
};

/**
 * struct rpc_transport_ops - what carries bytes.  Handles are small
 * non-negative ints (the endpoint indexes a table by them).  Events are
 * edge-style hints: the endpoint reads and writes until -EAGAIN.
 */
struct rpc_transport_ops {
	const char *name;
	int (*init)(void **t, const struct rpc_endpoint_opts *o, char *err, size_t errlen);
	void (*fini)(void *t);
	int (*listen)(void *t, uint32_t ip, uint16_t port);	/* ip/port network/host order */
	int (*local_port)(void *t, int lh);
	int (*accept)(void *t, int lh);				/* handle or -EAGAIN */
	int (*connect)(void *t, uint32_t ip, uint16_t port);	/* handle, in progress */
	int (*connect_status)(void *t, int h);			/* 0, -EINPROGRESS, -err */
	/* @prio: the frame's class (RPC_TXC_*), for transports that keep
	 * classes apart (per_class_room); the others ignore it */
	ssize_t (*sendv)(void *t, int h, const struct iovec *iov, int n, unsigned prio);
	ssize_t (*recv)(void *t, int h, void *buf, size_t len);	/* 0 = EOF */
	void (*close)(void *t, int h);
	int (*poll)(void *t, struct rpc_tev *ev, int max, int timeout_ms);
	/* optional: also wake poll() when @fd turns readable, reported as
	 * RPC_TEV_WAKE_H (without it the endpoint naps 1 ms at most while
	 * worker jobs are out) */
	int (*set_wake)(void *t, int fd);
	/* optional zero-copy access to the transport's own buffers (bypass:
	 * the flow's rings in the shared region), semantics of libbypass's
	 * bp_tx_reserve/bp_tx_commit/bp_rx_peek/bp_rx_consume; NULL: the
	 * endpoint copies through sendv/recv (NOTES.md "Zero-copy") */
	int (*tx_reserve)(void *t, int h, size_t len, struct iovec iov[2], unsigned prio);
	int (*tx_commit)(void *t, int h, size_t len);
	int (*rx_peek)(void *t, int h, struct iovec iov[2]);
	int (*rx_consume)(void *t, int h, size_t len);
	/* ---- RPC message sessions (rpcd): optional; a transport that frames
	 * for us hands over whole messages instead of bytes (recv unused) */
	int (*recv_msg)(void *t, int h, struct rpc_tmsg *m);	/* 0, -EAGAIN, -err; EOF: m->eof */
	void (*msg_done)(void *t, struct rpc_tmsg *m);
	/* optional: may a request's handler read @m where it lies, until the
	 * request is released (msg_done() then)?  Yes sets @m->kept; no (the
	 * transport's budget of kept bytes is spent): the endpoint copies it.
	 * Endpoint thread only, like msg_done(). */
	bool (*msg_keep)(void *t, struct rpc_tmsg *m);
	/* payload bytes per frame the transport wants (0: RPC_WIRE_CHUNK) */
	uint32_t max_frame;
	/* sendv() takes whole frames only, and its -EAGAIN means "no room
	 * for this class": frames of other classes may still go */
	bool per_class_room;
	/* optional (a send area shared by all handles): before the first
	 * frame of a message of @frames frames, @bytes in all, promise it
	 * room (-EAGAIN: not now, the handle turns writable later); its
	 * frames then go with RPC_TXC_RESERVED in @prio, and tx_msg_end
	 * follows when it is all handed over or given up.  close() drops
	 * every promise of the handle.  NOTES.md "Send classes". */
	int (*tx_msg_begin)(void *t, int h, unsigned prio, uint64_t bytes, uint32_t frames);
	void (*tx_msg_end)(void *t, int h, unsigned prio);
};

/* or'ed into sendv()'s @prio: a frame of a message tx_msg_begin() promised room */
#define RPC_TXC_RESERVED 0x100u

#define RPC_TEV_WAKE_H (-2)

extern const struct rpc_transport_ops rpc_kernel_ops;
extern const struct rpc_transport_ops rpc_bypass_ops;
extern const struct rpc_transport_ops rpc_bypass_msg_ops;

/* ops both bypass transports share (transport_bypass.c); their state
 * starts with its struct bp_ctx pointer */
int rpc_bp_local_port(void *t, int h);
int rpc_bp_accept(void *t, int lh);
int rpc_bp_connect_status(void *t, int h);

/* ---- time ---- */
uint64_t rpc_now_us(void);

/* ---- buffer pool (pool.c) ---- */
struct rpc_buf {
	struct rpc_buf *next;
	uint32_t cap;
	uint8_t cls;
	uint8_t data[];
};

struct rpc_pool {
	struct rpc_buf *free[32];
	uint32_t nfree[32];
};

struct rpc_buf *rpc_buf_get(struct rpc_pool *p, size_t len);
void rpc_buf_put(struct rpc_pool *p, struct rpc_buf *b);
void rpc_pool_drain(struct rpc_pool *p);

/* ---- timers (timer.c): a binary min-heap ---- */
struct rpc_timer {
	uint64_t at;		/* µs, rpc_now_us() clock */
	int idx;		/* heap index, -1 when not armed */
	void (*fn)(struct rpc_timer *t);
};

struct rpc_heap {
	struct rpc_timer **v;
	int n, cap;
};

int rpc_timer_arm(struct rpc_heap *h, struct rpc_timer *t, uint64_t at);
void rpc_timer_cancel(struct rpc_heap *h, struct rpc_timer *t);
uint64_t rpc_timer_next(const struct rpc_heap *h);	/* UINT64_MAX if none */
int rpc_timer_expire(struct rpc_heap *h, uint64_t now);
void rpc_heap_free(struct rpc_heap *h);

/* ---- metadata (frame.c) ---- */
size_t rpc_meta_size(const struct rpc_meta *m, unsigned n);
int rpc_meta_check(const struct rpc_meta *m, unsigned n);
void rpc_meta_encode(const struct rpc_meta *m, unsigned n, uint8_t *out);
int rpc_meta_parse(const uint8_t *p, size_t len, struct rpc_meta_view *out, unsigned max);

/* ---- tx items (tx.c) ---- */
struct rpc_txitem {
	struct rpc_txitem *next;
	struct rpc_frame_hdr hdr;	/* first frame's header */
	struct rpc_buf *buf;		/* meta + body, or NULL */
	uint32_t len;			/* bytes in buf */
	uint32_t sent;			/* payload bytes of buf already in earlier frames */
	/* the frame being written */
	uint8_t fh[RPC_WIRE_HDR_LEN];
	uint32_t f_len;			/* its payload bytes */
	uint32_t f_off;			/* bytes of header+payload written */
	bool started;			/* at least one byte on the wire */
	bool in_frame;
	bool is_req;			/* credit controlled */
	bool counted;			/* in queued_bytes (rpc_tx_cost()): a request or a
					 * streamed part */
	uint32_t worker_bytes;		/* a worker's streamed part: what it holds of */
	struct rpc_wbudget *wbudget;	/* its request's budget (worker.c) */
	bool resv;			/* tx_msg_begin() promised its frames room */
	uint8_t prio;			/* RPC_TXC_*: its queue, its frames' class */
	uint64_t deadline;		/* absolute µs (requests), 0 = none */
	/* a response: the credit of the request it answers, given back to
	 * the peer when it has been written (or dropped), so a peer that
	 * does not read its responses runs out of credit instead of
	 * queueing them here without bound */
	uint32_t back_bytes;
	uint32_t back_calls;
};

struct rpc_txq {
	struct rpc_txitem *head, *tail;
};

/* send classes, best first (= libbypass's BP_PRIO_*): control frames go
 * as LATENCY; requests as their rpc_call_opts.prio; responses as their
 * method's (RPC_METHOD_LATENCY / RPC_METHOD_BULK) */
enum { RPC_TXC_LATENCY = 0, RPC_TXC_NORMAL = 1, RPC_TXC_BULK = 2, RPC_TXC_N = 3 };

/* ---- calls ---- */
enum { CALL_FREE = 0, CALL_QUEUED, CALL_SENT, CALL_DONE };

struct rpc_ccall {			/* client side */
	uint32_t id;
	uint8_t state;
	uint8_t prio;			/* RPC_TXC_* of its request: its CANCEL's too */
	bool stream;			/* RPC_CALL_STREAM: takes several responses */
	bool send_open;			/* RPC_CALL_SEND_STREAM: rpc_call_send() may
					 * add messages to its request */
	uint16_t method;
	struct rpc_timer dl;		/* deadline */
	rpc_cont_fn cont;
	void *arg;
	/* response reassembly */
	struct rpc_buf *rbuf;
	struct rpc_frame_hdr rhdr;
	uint32_t rgot;
	bool rdrop;			/* too big: skip its chunks */
	struct rpc_ccall *next_free;
	struct rpc_session *s;
	/* completion list */
	struct rpc_ccall *next_done;
	int done_status;
};

/*
 * A whole message of a worker method's streamed request (req_wstream.c):
 * queued while a worker runs the one before it, or the one a run shows.
 * Its frames' bytes of credit go back when its run ends.
 */
struct rpc_wmsg {
	struct rpc_wmsg *next;
	struct rpc_frame_hdr hdr;
	struct rpc_buf *buf;		/* meta + body, or NULL: in @held */
	const uint8_t *data;
	bool has_held;
	bool more;			/* more messages follow it */
	uint32_t credit_bytes;
	struct rpc_tmsg held;
};

/* what a worker's run of a streamed request shows (rpc_req_msg()) */
struct rpc_wrun {
	struct rpc_wmsg m;		/* its message (m.data NULL: none, the last run) */
	struct rpc_wmsg *q, *q_tail;	/* whole, waiting for their runs */
	bool last;			/* the run posted is the handler's last */
	struct rpc_meta_view meta[RPC_WIRE_MAX_META_ENTRIES];
	struct rpc_msg_view view;
};

struct rpc_req {			/* server side */
	struct rpc_req *hnext;		/* hash chain in its session */
	uint64_t unreceived;		/* its part of ep->req_unreceived */
	struct rpc_req *prev, *next;	/* session list */
	struct rpc_session *s;
	struct rpc_endpoint *ep;
	uint32_t call_id;
	uint16_t method;
	uint8_t prio;			/* RPC_TXC_* of its method: the response's */
	bool cancelled;
	bool complete;			/* all chunks in, handed to the handler */
	bool in_worker;			/* owned by a worker thread */
	struct rpc_req *wnext;		/* worker queue / finished list */
	rpc_handler_fn wfn;
	void *warg;
	uint8_t *wresp;			/* worker's response: meta + body (malloc) */
	uint32_t wresp_len;
	uint16_t wmeta_len;
	int wstatus;
	struct rpc_wbudget *wbudget;	/* its streamed parts not yet written (worker.c) */
	bool wlost;			/* a part of its stream could not be queued */
	bool drop;			/* too big: answered, chunks skipped */
	/* a streamed request (RPC_FF_REQ_MORE): its handler runs once per
	 * message (server.c "Streamed requests") */
	bool resp_stream;		/* RPC_FF_STREAM: the caller takes a stream */
	bool more;			/* more messages follow the current one */
	bool seen;			/* its handler ran for an earlier message, so
					 * the app may hold it: only the handler ends it */
	bool between;			/* waiting for its next message */
	bool late;			/* a message of a request already answered or
					 * dropped: skipped, its credit given back */
	bool standin;			/* late (rx.c, rpc_req_rest_late()): counted
					 * in s->nlate */
	struct rpc_wrun *wrun;		/* a worker method's stream: its runs (req_wstream.c) */
	struct rpc_req *enext;		/* ep->ended: waits for its handler's last run */
	bool on_ended;
	uint64_t deadline;		/* absolute µs, 0 = none */
	uint32_t credit_calls;		/* calls to give back: 1 (0: a late message) */
	uint32_t credit_bytes;		/* frame bytes to give back */
	bool credit_passed;		/* its response's tx item gives the credit back */
	struct rpc_frame_hdr hdr;
	struct rpc_buf *buf;		/* meta + body, or NULL: in @held */
	const uint8_t *data;		/* meta + body: buf->data or held.data */
	bool has_held;			/* @held is the transport's until release */
	struct rpc_tmsg held;
	uint32_t got;			/* body bytes received */
	struct rpc_meta_view meta[RPC_WIRE_MAX_META_ENTRIES];
	struct rpc_msg_view view;
};

#define RPC_REQ_HASH 64

enum sess_state {
	SS_IDLE = 0,		/* client: waiting for the reconnect timer */
	SS_CONNECTING,
	SS_UP,
	SS_CLOSED,		/* closed by the app / server session gone */
};

struct rpc_session {
	struct rpc_endpoint *ep;
	struct rpc_session *prev, *next;	/* endpoint's list */
	int h;				/* transport handle, -1 when none */
	uint8_t state;
	bool client;
	bool on_flush;
	bool started;			/* client: first connect attempted */
	uint32_t ip;
	uint16_t port;
	rpc_session_fn cb;
	void *cb_arg;
	void *user;
	int last_err;
	uint32_t backoff_ms;

	/* rx framing */
	uint8_t rh[RPC_WIRE_HDR_LEN];
	uint32_t rh_got;
	struct rpc_frame_hdr rf;	/* current frame */
	bool rf_body;			/* reading its payload */
	uint32_t rf_left;		/* payload bytes still to come */
	uint8_t *rf_dst;		/* where they go (NULL: skip) */
	uint8_t small[RPC_WIRE_MAX_META]; /* payload of frames with nowhere else to go */
	struct rpc_ccall *rf_call;
	struct rpc_req *rf_req;

	/* tx */
	struct rpc_txq ctlq[RPC_TXC_N];	/* responses + control: no credit */
	struct rpc_txq reqq[RPC_TXC_N];	/* requests: credit controlled */
	struct rpc_txitem *cur;		/* item in a partly written frame */
	uint64_t queued_bytes;		/* of items counted (requests, streamed parts) */
	struct rpc_txitem *req_built[RPC_TXC_N]; /* a request frame built, kept for
					 * its class's room (per_class_room) */
	uint32_t conts_queued;		/* queued later messages of streamed requests:
					 * all tx_pick() may let by a call wait */

	/* credits */
	uint32_t tx_calls;		/* we may start this many more requests */
	uint64_t tx_bytes;		/* and send this many request bytes */
	uint32_t pongs_queued;		/* PONGs not yet written (capped: a peer that
					 * pings and never reads gets no more) */
	uint32_t rx_calls_used;		/* the peer's, taken and not given back */
	uint64_t rx_bytes_used;
	uint32_t rx_calls_win;		/* what we granted in total */
	uint32_t nlate;			/* late messages being skipped (r->standin) */
	uint32_t nwq;			/* messages queued for worker runs (rpc_wmsg) */
	uint64_t rx_bytes_win;
	uint32_t grant_calls;		/* owed back, not yet sent */
	uint64_t grant_bytes;

	/* calls we made: table by id modulo calls_cap (call.c) */
	struct rpc_ccall **calls;
	uint32_t calls_cap;
	uint32_t ncalls;		/* in the table */
	uint32_t next_call_id;
	struct rpc_ccall *free_calls;
	uint32_t npending;

	/* requests we serve */
	struct rpc_req *reqh[RPC_REQ_HASH];
	struct rpc_req *reqs;

	/* liveness */
	uint64_t last_rx;
	bool heard;			/* bytes came since the connection opened */
	uint64_t ping_after;		/* µs of silence before we PING (session.c) */
	uint32_t ping_token;
	bool ping_out;
	struct rpc_timer ka;		/* keepalive */
	struct rpc_timer rc;		/* reconnect */
};

/* default silence that is dead: RPC_KA_DEAD keepalive intervals, at least
 * RPC_KA_TIMEOUT_MIN_MS (a flow's TCP loss recovery, RTO backoff from
 * 200 ms, can be silent past 4 s on a loaded host; gRPC's default
 * keepalive timeout is 20 s) */
#define RPC_KA_DEAD 4
#define RPC_KA_TIMEOUT_MIN_MS 10000u
/* how long either side waits for the first bytes of a connection, at
 * least (keepalive_timeout_ms if longer): the server's kernel or daemon
 * completes the handshake before the server accepts, a server accepting a
 * burst of connections (in batches, endpoint.c) may take seconds to reach
 * the last, and a client's first bytes dropped meanwhile (accept queue
 * full) come with its TCP resend, which backs off.  Fixed, as gRPC's 20 s
 * connect deadline, so a short keepalive does not shorten it. */
#define RPC_UNHEARD_DEAD_US 20000000ull
#define RPC_MAX_PONGS_QUEUED 16		/* unwritten PONGs a session keeps (rpc_tx_ctl) */

struct rpc_method {
	rpc_handler_fn fn;
	void *arg;
	char *name;
	unsigned flags;
};

struct rpc_workers;

struct rpc_endpoint {
	const struct rpc_transport_ops *ops;
	void *t;
	struct rpc_endpoint_opts o;
	struct rpc_pool pool;
	struct rpc_heap timers;
	struct rpc_method *methods[65536 / 256];	/* two-level: 256 pages of 256 */
	int lh;				/* listener handle or -1 */
	bool accept_more;		/* on_accept() stopped at its batch: go on */
	struct rpc_timer accept_retry;	/* after a failed accept (EMFILE...) */
	rpc_session_fn lcb;
	void *lcb_arg;
	struct rpc_session *sessions;
	/* bytes that requests in assembly announced and have not sent yet:
	 * a 32-byte header must not reserve a whole max_msg without bound
	 * (rpc_req_new(), at most rpc_unreceived_max()) */
	uint64_t req_unreceived;
	/* handle -> session */
	struct rpc_session **hmap;
	int hcap;
	/* flush list: sessions with something to write */
	struct rpc_session **flush;
	int nflush, flushcap;
	/* completed calls waiting for their continuation */
	struct rpc_ccall *done_head, *done_tail;
	/* streamed requests whose session failed between two of their
	 * messages: their handlers' last runs, from rpc_run() */
	struct rpc_req *ended;
	struct rpc_req *running;	/* the request whose handler runs (inline):
					 * NULL once it is answered */
	int in_cb;
	struct rpc_stats st;
	struct rpc_workers *w;		/* NULL until a worker method is registered */
	uint32_t nsess_up;		/* sessions come up: spreads their PINGs */
	bool stopping;			/* workers are being stopped: their requests
					 * read as cancelled (atomic) */
};

/* bytes arrived on @s: the first ones show that its peer accepted the
 * connection, so a later failure reconnects from the shortest backoff */
static inline void rpc_session_heard(struct rpc_session *s)
{
	s->last_rx = rpc_now_us();
	if (!s->heard) {
		s->heard = true;
		s->backoff_ms = s->ep->o.reconnect_min_ms;
	}
}

/* endpoint.c */
int rpc_hmap_set(struct rpc_endpoint *ep, int h, struct rpc_session *s);
void rpc_flush_mark(struct rpc_session *s);
const struct rpc_method *rpc_method_get(struct rpc_endpoint *ep, uint16_t id);
int rpc_parse_hostport(const char *s, uint32_t *ip, uint16_t *port);

/* session.c */
struct rpc_session *rpc_session_new(struct rpc_endpoint *ep, bool client);
void rpc_session_fail(struct rpc_session *s, int err);
void rpc_session_on_event(struct rpc_session *s, unsigned bits);
void rpc_session_up(struct rpc_session *s);
void rpc_session_free(struct rpc_session *s);

/* rx.c */
int rpc_rx(struct rpc_session *s);
int rpc_rx_frame_start(struct rpc_session *s);
int rpc_rx_frame_end(struct rpc_session *s);

/* tx.c */
void rpc_txq_push(struct rpc_txq *q, struct rpc_txitem *it);
int rpc_msg_size(const struct rpc_endpoint *ep, const struct iovec *iov, int iovcnt,
		 const struct rpc_meta *meta, unsigned nmeta, size_t *total);
uint64_t rpc_tx_cost(size_t len);
bool rpc_tx_room(const struct rpc_session *s, size_t len);
void rpc_tx_drop_responses(struct rpc_session *s, uint32_t call_id);
bool rpc_tx_ctl(struct rpc_session *s, uint8_t type, uint32_t call_id, uint16_t status,
		uint32_t aux, uint32_t calls, unsigned prio);
int rpc_tx_flush(struct rpc_session *s);
void rpc_tx_drop_all(struct rpc_session *s);
int rpc_tx_msg(struct rpc_session *s, const struct rpc_frame_hdr *h,
	       const struct iovec *iov, int iovcnt,
	       const struct rpc_meta *meta, unsigned nmeta, uint64_t deadline, unsigned prio,
	       struct rpc_req *answers);
void rpc_tx_pass_credit(struct rpc_txitem *it, struct rpc_req *answers);
void rpc_credit_return(struct rpc_session *s, uint32_t calls, uint32_t bytes);
struct rpc_txitem *rpc_tx_raw(struct rpc_session *s, const struct rpc_frame_hdr *h,
			      const uint8_t *meta, uint16_t meta_len,
			      const uint8_t *body, uint32_t body_len, unsigned prio);

/* call.c */
struct rpc_ccall *rpc_call_lookup(struct rpc_session *s, uint32_t id);
void rpc_session_notify(struct rpc_session *s, rpc_session_fn fn, void *arg,
			enum rpc_session_event ev, int err);
void rpc_call_complete(struct rpc_ccall *c, int status);
void rpc_calls_fail_all(struct rpc_session *s, int status);
void rpc_run_done(struct rpc_endpoint *ep);
void rpc_call_deliver(struct rpc_ccall *c, int status, const uint8_t *payload,
		      uint32_t meta_len, uint32_t body_len, bool part);
void rpc_call_stop(struct rpc_ccall *c, int status);
bool rpc_call_item_live(struct rpc_session *s, uint32_t call_id, bool finished);
void rpc_calls_free(struct rpc_session *s);

/* worker.c */
int rpc_workers_start(struct rpc_endpoint *ep);
void rpc_workers_stop(struct rpc_endpoint *ep);
void rpc_worker_post(struct rpc_req *r, const struct rpc_method *m);
bool rpc_workers_running(const struct rpc_endpoint *ep);
int rpc_worker_respond(struct rpc_req *r, int status, const struct iovec *iov, int iovcnt,
		       const struct rpc_meta *meta, unsigned nmeta);
int rpc_worker_respond_part(struct rpc_req *r, const struct iovec *iov, int iovcnt,
			    const struct rpc_meta *meta, unsigned nmeta, size_t total);
struct rpc_wbudget;
void rpc_worker_part_sent(struct rpc_endpoint *ep, struct rpc_wbudget *b, uint32_t bytes);
void rpc_worker_req_gone(struct rpc_req *r);
uint64_t rpc_workers_stream_waits(const struct rpc_endpoint *ep);
void rpc_workers_collect(struct rpc_endpoint *ep);
bool rpc_workers_out(const struct rpc_endpoint *ep);

/* server.c */
void rpc_req_send(struct rpc_req *r, int status, const uint8_t *meta, uint16_t meta_len,
		  const uint8_t *body, uint32_t body_len);
struct rpc_req *rpc_req_find(struct rpc_session *s, uint32_t id);
struct rpc_req *rpc_req_new(struct rpc_session *s, const struct rpc_frame_hdr *h, bool alloc);
void rpc_req_dispatch(struct rpc_req *r);
void rpc_req_release(struct rpc_req *r);
uint64_t rpc_unreceived_max(const struct rpc_endpoint *ep);
void rpc_reqs_orphan(struct rpc_session *s);
void rpc_req_part_init(struct rpc_req *r, const struct rpc_frame_hdr *h, bool alloc);
void rpc_req_part_free(struct rpc_req *r);
void rpc_req_received(struct rpc_req *r);
void rpc_req_run(struct rpc_req *r, const struct rpc_method *m);
int rpc_msg_show(struct rpc_msg_view *v, struct rpc_meta_view *meta, const uint8_t *data,
		 const struct rpc_frame_hdr *h);
void rpc_respond_status(struct rpc_req *r, int st, const char *text);

/* req_stream.c */
void rpc_req_next(struct rpc_req *r, const struct rpc_frame_hdr *h, bool alloc);
void rpc_req_stream_next(struct rpc_req *r);
void rpc_req_part_done(struct rpc_req *r);
void rpc_req_stream_cancel(struct rpc_req *r);
void rpc_req_stream_orphan(struct rpc_req *r);
bool rpc_req_answer_early(struct rpc_req *r);
void rpc_req_rest_late(struct rpc_req *r);
void rpc_req_off_ended(struct rpc_req *r);
void rpc_reqs_run_ended(struct rpc_endpoint *ep);
void rpc_req_last_run(struct rpc_req *r);

/* req_wstream.c */
#define RPC_WSTREAM_QUEUE_MAX 1024u	/* rpc_session.nwq: messages a session may queue */
void rpc_wstream_start(struct rpc_req *r, const struct rpc_method *m);
bool rpc_wstream_queue(struct rpc_req *r);
void rpc_wstream_ran(struct rpc_req *r);
void rpc_wstream_stop(struct rpc_req *r, const struct rpc_method *m);
void rpc_wstream_end(struct rpc_req *r);
void rpc_wstream_drop_queued(struct rpc_req *r);

#endif /* BYPASS_RPC_INTERNAL_H */
