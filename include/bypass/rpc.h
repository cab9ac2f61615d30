/* SPDX-License-Identifier: MIT */
/*
 * rpc.h - bypass RPC: sessions, methods, calls with deadlines, status
 * codes and metadata, over libbypass or kernel TCP (rpc/WIRE.md).
 *
 * Threading (rpc/NOTES.md): an endpoint belongs to one thread.  Every
 * function taking an endpoint, a session or a request is called on that
 * thread; callbacks run on it, from rpc_run().  Endpoints of different
 * threads share nothing.
 *
 * Conventions: int returns are >= 0 on success, -errno on failure.
 */
#ifndef BYPASS_RPC_H
#define BYPASS_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bp_ctx;
struct rpc_endpoint;
struct rpc_session;
struct rpc_req;

/** enum rpc_status - gRPC's status codes, same numbers. */
enum rpc_status {
	RPC_OK = 0,
	RPC_CANCELLED = 1,
	RPC_UNKNOWN = 2,
	RPC_INVALID_ARGUMENT = 3,
	RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5,
	RPC_ALREADY_EXISTS = 6,
	RPC_PERMISSION_DENIED = 7,
	RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9,
	RPC_ABORTED = 10,
	RPC_OUT_OF_RANGE = 11,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
	RPC_DATA_LOSS = 15,
	RPC_UNAUTHENTICATED = 16,
};

/** rpc_status_name - "OK", "CANCELLED", ... ("?" for unknown codes). */
const char *rpc_status_name(int status);

/** enum rpc_transport_kind - what carries the TCP bytes. */
enum rpc_transport_kind {
	RPC_TRANSPORT_KERNEL = 0,	/* Linux sockets, epoll */
	RPC_TRANSPORT_BYPASS = 1,	/* libbypass: fastpathd */
	RPC_TRANSPORT_BYPASS_MSG = 2,	/* libbypass RPC sessions: fastpathd frames
					 * and hands over whole messages */
};

struct rpc_transport_ops;

/**
 * struct rpc_endpoint_opts - endpoint parameters; zero fields take defaults.
 * @transport: RPC_TRANSPORT_KERNEL or RPC_TRANSPORT_BYPASS.
 * @bp: bypass only: an attached context the endpoint uses alone (its
 *      bp_poll() events are consumed here); NULL: attach one (and detach
 *      it at destroy).  For RPC_TRANSPORT_BYPASS_MSG attach it with
 *      bp_attach_opts.msg_max = @max_msg (what an endpoint's own attach
 *      does), or a request larger than its byte window waits for credit.
 * @bp_opts_app_name: bypass only, when @bp is NULL: app name for attach.
 * @ops: a custom transport (tests); overrides @transport.
 * @ops_arg: handed to @ops->init.
 * @max_msg: largest message body accepted (default 8 MiB, max 1 GiB).
 * @keepalive_ms: a client PINGs after about this much silence (default
 *                1000), a server after twice it (the client's PINGs keep
 *                both ends alive).
 * @keepalive_timeout_ms: a session that has heard nothing for this long
 *                is declared dead (default 4 keepalive intervals, at
 *                least 10 s: TCP loss recovery backs off from 200 ms and
 *                can stay silent for seconds; at least 3 intervals: a
 *                server PINGs a silent client after 2), except
 *                that each side waits at least 20 s for the first bytes of
 *                a new connection (a server may be busy accepting a burst
 *                of others).
 * @reconnect_min_ms: first reconnect delay (default 50), doubling up to
 * @reconnect_max_ms: (default 2000).
 * @max_queued_bytes: request and streamed-response bytes a session may
 *                    hold unsent (waiting for credit or socket room, each
 *                    message weighing its bytes plus about 1 KiB) before
 *                    rpc_call() and rpc_respond_part() return -EAGAIN
 *                    (default 64 MiB; a message alone always goes).
 * @workers: threads for methods registered with RPC_METHOD_WORKER
 *           (default 2; started with the first such method).
 */
struct rpc_endpoint_opts {
	enum rpc_transport_kind transport;
	struct bp_ctx *bp;
	const char *bp_opts_app_name;
	const struct rpc_transport_ops *ops;
	void *ops_arg;
	uint32_t max_msg;
	uint32_t keepalive_ms;
	uint32_t reconnect_min_ms;
	uint32_t reconnect_max_ms;
	uint64_t max_queued_bytes;
	unsigned workers;
	uint64_t bp_msg_heap;	/* RPC_TRANSPORT_BYPASS_MSG: message heap bytes
				 * asked at attach (0: 32 MiB) */
	uint32_t keepalive_timeout_ms;
};

/**
 * rpc_endpoint_create - a new endpoint for the calling thread.
 * @err: on failure a reason (e.g. how to start fastpathd); may be NULL.
 * Return: the endpoint, or NULL with errno set.
 */
struct rpc_endpoint *rpc_endpoint_create(const struct rpc_endpoint_opts *opts,
					 char *err, size_t errlen);

/**
 * rpc_endpoint_destroy - close every session (pending calls complete with
 * CANCELLED), free everything.  Not from inside a callback.
 */
void rpc_endpoint_destroy(struct rpc_endpoint *ep);

/**
 * rpc_run - run the event loop once: wait up to @timeout_ms (-1 forever,
 * 0 not at all, cut short by the next timer) for I/O, then deliver
 * callbacks and fire due deadlines.
 * Return: number of transport events handled, or -errno (-EDEADLK when
 * called from a callback).
 */
int rpc_run(struct rpc_endpoint *ep, int timeout_ms);

/** struct rpc_meta - one metadata entry (key 1..255 bytes, value binary). */
struct rpc_meta {
	const char *key;
	const void *val;
	uint16_t val_len;
};

/**
 * struct rpc_meta_view - a received metadata entry; @key is not
 * NUL-terminated (@key_len bytes).  Points into the message buffer.
 */
struct rpc_meta_view {
	const char *key;
	uint8_t key_len;
	const void *val;
	uint16_t val_len;
};

/**
 * struct rpc_msg_view - a received message, valid only until the callback
 * that shows it returns (rpc_req: until rpc_respond()).
 * @data: body (contiguous); @len: its bytes.
 * @meta: metadata entries, @nmeta of them.
 */
struct rpc_msg_view {
	const void *data;
	size_t len;
	const struct rpc_meta_view *meta;
	unsigned nmeta;
};

/* ---- methods and requests (server side) ---- */

/**
 * typedef rpc_handler_fn - runs for each request of a method, inline on
 * the endpoint's thread.  It answers with rpc_respond(), now or later
 * (deferred: keep @req; its data stays valid until the response).
 */
typedef void (*rpc_handler_fn)(struct rpc_req *req, void *arg);

/**
 * rpc_register - route method @id (named @name, for logs and stats) to
 * @fn.  Return: 0, -EEXIST if @id is taken, -EINVAL.
 */
int rpc_register(struct rpc_endpoint *ep, uint16_t id, const char *name,
		 rpc_handler_fn fn, void *arg);

/* rpc_register_flags() flags */
#define RPC_METHOD_WORKER 0x1u	/* run the handler on a worker thread */
#define RPC_METHOD_LATENCY 0x2u	/* responses go in the latency class (enum rpc_prio) */
#define RPC_METHOD_BULK 0x4u	/* responses go in the bulk class */
#define RPC_METHOD_STREAM_REQ 0x8u /* takes streamed requests (rpc_req_more()) */

/**
 * rpc_register_flags - rpc_register() with @flags.  RPC_METHOD_WORKER: the
 * handler runs on one of the endpoint's worker threads, for handlers that
 * block or compute for long.  There it may only use rpc_req_msg(),
 * rpc_req_method(), rpc_req_time_left_us(), rpc_req_cancelled(),
 * rpc_req_streams(), rpc_req_more(), rpc_respond_part() and rpc_respond()
 * on its request, and must call rpc_respond() before it returns
 * (responses are copied and sent by the endpoint's thread), unless
 * rpc_req_more() says more messages of a streamed request follow.
 * RPC_METHOD_LATENCY / RPC_METHOD_BULK: the send class of its responses
 * (enum rpc_prio; default normal).
 * RPC_METHOD_STREAM_REQ: the handler takes streamed requests, a run per
 * message (rpc_req_more()), inline or, with RPC_METHOD_WORKER, on a
 * worker.  A streamed request to any other method is answered
 * UNIMPLEMENTED at its first message, so a handler that keeps its request
 * never sees it twice.
 * Return: as rpc_register(), or -errno if the workers cannot start.
 */
int rpc_register_flags(struct rpc_endpoint *ep, uint16_t id, const char *name,
		       rpc_handler_fn fn, void *arg, unsigned flags);

/** rpc_req_msg - the request body and metadata. */
const struct rpc_msg_view *rpc_req_msg(const struct rpc_req *req);

/** rpc_req_method - the method id the request was sent to. */
uint16_t rpc_req_method(const struct rpc_req *req);

/** rpc_req_session - the session it came on (NULL once that failed). */
struct rpc_session *rpc_req_session(const struct rpc_req *req);

/**
 * rpc_req_time_left_us - µs until the caller's deadline (UINT64_MAX: none,
 * 0: expired).
 */
uint64_t rpc_req_time_left_us(const struct rpc_req *req);

/**
 * rpc_req_cancelled - true once the caller cancelled, its deadline passed,
 * its session failed or the endpoint is being destroyed: a response would
 * be dropped.
 */
bool rpc_req_cancelled(const struct rpc_req *req);

/**
 * rpc_respond - answer @req with @status, a body gathered from @iov and
 * optional metadata; consumes @req (its data is invalid afterwards).  A
 * non-OK status may carry a UTF-8 message as body.
 * Return: 0 (also when the response was dropped because the call was
 * cancelled), -EMSGSIZE, -EINVAL.
 */
int rpc_respond(struct rpc_req *req, int status, const struct iovec *iov,
		int iovcnt, const struct rpc_meta *meta, unsigned nmeta);

/**
 * rpc_req_more - true if the request is streamed (RPC_CALL_SEND_STREAM)
 * and more of its messages follow the one rpc_req_msg() shows.  The
 * handler of a method registered RPC_METHOD_STREAM_REQ runs once per
 * message, in order, one run at a time: on the endpoint's thread, or with
 * RPC_METHOD_WORKER on a worker thread (any of them, a run each), where
 * messages that come during a run wait for it: up to the session's byte
 * window of them, and at most 1024 per session (a stream with none
 * waiting may always add one), past which the stream ends
 * RESOURCE_EXHAUSTED (a run that takes long paces the caller through its
 * credit).  The caller's metadata comes with the first message only:
 * keep what you need of it then.  While rpc_req_more() is true the handler returns without answering,
 * keeping @req for the next run (the message's data is gone when it
 * returns), or answers early with rpc_respond(), which ends the call (the
 * messages still coming are dropped).  The run with rpc_req_more() false
 * is as for any request.  If the stream stops early (the caller cancels,
 * or its deadline passes and it sends the CANCEL this library sends then;
 * its session fails; a message is over max_msg), the handler runs once
 * more with rpc_req_cancelled() true and an empty message, and ends it
 * with rpc_respond().  No timer of the server's ends a stream waiting
 * for its next message: a peer that goes quiet holds its request (one
 * call of its credit) until it sends, cancels or its session fails.
 */
bool rpc_req_more(const struct rpc_req *req);

/** rpc_req_streams - true if the caller takes a streamed response (RPC_CALL_STREAM). */
bool rpc_req_streams(const struct rpc_req *req);

/**
 * rpc_respond_part - one message of a streamed response to @req, for a
 * caller that asked for one (rpc_req_streams()): its continuation sees it
 * with rpc_result.more set.  Messages keep their order; each is at most
 * max_msg, so a stream carries more than any one message may.  End the
 * stream with rpc_respond() (its status is the call's).  On the endpoint's
 * thread a handler that streams more than the session takes defers (keeps
 * @req, goes on from the app's loop after -EAGAIN); on a worker thread
 * (RPC_METHOD_WORKER) the call waits instead while the parts of this
 * stream not yet written weigh more than max_queued_bytes.
 * Return: 0 (also when dropped: the call was cancelled, see
 * rpc_req_cancelled(); end it with rpc_respond()), -EAGAIN (endpoint
 * thread: max_queued_bytes of the session are queued: run the loop and
 * retry), -EOPNOTSUPP (the caller did not ask for a stream), -EMSGSIZE,
 * -EINVAL, -ENOMEM.
 */
int rpc_respond_part(struct rpc_req *req, const struct iovec *iov, int iovcnt,
		     const struct rpc_meta *meta, unsigned nmeta);

/* ---- sessions ---- */

/** enum rpc_session_event - what a session callback reports. */
enum rpc_session_event {
	RPC_SESS_CONNECTED = 1,		/* usable (also after a reconnect) */
	RPC_SESS_FAILED = 2,		/* a connect attempt failed */
	RPC_SESS_DISCONNECTED = 3,	/* was connected, is not any more */
	RPC_SESS_ACCEPTED = 4,		/* server: a new session */
	RPC_SESS_CLOSED = 5,		/* server: session gone, about to be freed */
};

/**
 * typedef rpc_session_fn - session event callback.
 * @err: 0 or the -errno reason (-ECONNREFUSED, -ECONNRESET, -ETIMEDOUT
 *       for a keepalive timeout, -EPROTO for a peer protocol error).
 */
typedef void (*rpc_session_fn)(struct rpc_session *s, enum rpc_session_event ev,
			       int err, void *arg);

/**
 * rpc_listen - accept sessions on "host:port" (host may be empty or
 * 0.0.0.0; port 0 picks one: see rpc_listen_port()).  @cb (may be NULL)
 * sees ACCEPTED and CLOSED of every session accepted here.
 * Return: 0 or -errno.
 */
int rpc_listen(struct rpc_endpoint *ep, const char *hostport, rpc_session_fn cb, void *arg);

/** rpc_listen_port - the port rpc_listen() got (host order), or -errno. */
int rpc_listen_port(struct rpc_endpoint *ep);

/**
 * rpc_connect - a client session to "a.b.c.d:port"; connects now and
 * reconnects (backoff) after every failure until rpc_session_close().
 * Calls made before the first connect completes wait for it.
 * Return: the session, or NULL with errno set (EINVAL: bad address).
 */
struct rpc_session *rpc_connect(struct rpc_endpoint *ep, const char *hostport,
				rpc_session_fn cb, void *arg);

/**
 * rpc_session_close - end a session: close its connection, stop
 * reconnecting; its pending calls complete with CANCELLED from the next
 * rpc_run() (or rpc_endpoint_destroy()), after which the session is freed:
 * do not use @s after this returns.  Requests it was serving are orphaned
 * (their responses are dropped).  Accepted sessions get their CLOSED event.
 */
void rpc_session_close(struct rpc_session *s);

/** rpc_session_connected - true while the session has a live connection. */
bool rpc_session_connected(const struct rpc_session *s);

/** rpc_session_set_arg - per-session user pointer (rpc_session_arg()). */
void rpc_session_set_arg(struct rpc_session *s, void *arg);
void *rpc_session_arg(const struct rpc_session *s);

/* ---- calls (client side; also a server on the sessions it accepted) ---- */

/**
 * struct rpc_result - how a call ended, shown to its continuation.
 * @status: enum rpc_status (locally: DEADLINE_EXCEEDED, CANCELLED,
 *          UNAVAILABLE when the session failed, RESOURCE_EXHAUSTED when
 *          the response exceeds max_msg).
 * @msg: the response; for non-OK statuses the body is the message text.
 * @more: a message of a streamed response (RPC_CALL_STREAM, status OK):
 *        the continuation runs again, for each message and at the end.
 */
struct rpc_result {
	int status;
	struct rpc_msg_view msg;
	bool more;
};

/** typedef rpc_cont_fn - continuation of an asynchronous call. */
typedef void (*rpc_cont_fn)(const struct rpc_result *res, void *arg);

/**
 * enum rpc_prio - a message's send class.  A session sends the frames of
 * its better-class messages first: a large message is cut into frames and
 * waits between them, so a small message of a better class waits for at
 * most one frame of it.  Over RPC_TRANSPORT_BYPASS_MSG fastpathd itself
 * orders the frames on the wire (a frame of a better class goes ahead of
 * frames already handed to it); over the other transports the library
 * orders what it has not written yet.  Messages of one class keep their
 * order.  Control frames (credit, keepalive, cancel) go as LATENCY.
 */
enum rpc_prio {
	RPC_PRIO_NORMAL = 0,
	RPC_PRIO_LATENCY = 1,
	RPC_PRIO_BULK = 2,
};

/**
 * struct rpc_call_opts - optional per-call parameters (NULL: none).
 * @deadline_us: relative deadline carried on the wire (0: none).
 * @meta: metadata entries, @nmeta of them.
 * @prio: the request's send class (enum rpc_prio; the response's is its
 *        method's, see rpc_register_flags()).
 * @flags: RPC_CALL_STREAM, RPC_CALL_SEND_STREAM.
 */
struct rpc_call_opts {
	uint64_t deadline_us;
	const struct rpc_meta *meta;
	unsigned nmeta;
	unsigned prio;
	unsigned flags;
};

/* rpc_call_opts.flags: the caller takes a streamed response: the
 * continuation runs once per message the server sends with
 * rpc_respond_part() (rpc_result.more set), then once at the end (not
 * with rpc_call_sync()).  The deadline covers the whole stream. */
#define RPC_CALL_STREAM 0x1u

/* rpc_call_opts.flags: the request is streamed: rpc_call() sends its
 * first message (with the metadata and the deadline), rpc_call_send()
 * the next ones, the last with last = true.  Each message is at most the
 * server's max_msg; the stream may carry any number.  The server's
 * handler sees them one at a time (rpc_req_more()); it may answer before
 * the last, which ends the call.  Needs @call_id (not with
 * rpc_call_sync()); combines with RPC_CALL_STREAM.  Only for methods the
 * server registered RPC_METHOD_STREAM_REQ: a server built before streamed
 * requests takes each message for a call of its own (or fails the session
 * on the repeated call id). */
#define RPC_CALL_SEND_STREAM 0x2u

/**
 * rpc_call - start a call of @method with a body gathered from @iov.  The
 * bytes are copied into a pool buffer before this returns.  @cont runs
 * exactly once, from rpc_run() (never from inside rpc_call()).
 * With RPC_CALL_STREAM it runs once per streamed message as well.
 * @call_id: if not NULL, receives a handle for rpc_cancel().
 * Return: 0, -EAGAIN (too many request bytes queued: run the loop and
 * retry), -EMSGSIZE, -EINVAL, -ENOTCONN (session closed).
 */
int rpc_call(struct rpc_session *s, uint16_t method, const struct iovec *iov, int iovcnt,
	     const struct rpc_call_opts *opts, rpc_cont_fn cont, void *arg,
	     uint64_t *call_id);

/**
 * rpc_call_send - the next message of streamed request @call_id
 * (RPC_CALL_SEND_STREAM), gathered from @iov and copied before this
 * returns; @last ends the request.  Messages go in order, each waiting for
 * the credit the server gives back as its handler finishes the one
 * before.
 * Return: 0, -EAGAIN (max_queued_bytes of the session are queued: run the
 * loop and retry), -ENOENT (the call is over: answered early, deadline,
 * cancelled or failed; its continuation says how), -EINVAL (not a
 * streamed request, or its last message went), -EMSGSIZE, -ENOMEM.
 */
int rpc_call_send(struct rpc_session *s, uint64_t call_id, const struct iovec *iov,
		  int iovcnt, bool last);

/**
 * rpc_cancel - cancel a pending call: its continuation runs with
 * CANCELLED from the next rpc_run(); the server is told.
 * Return: 0, -ENOENT (already completed).
 */
int rpc_cancel(struct rpc_session *s, uint64_t call_id);

/**
 * struct rpc_reply - what rpc_call_sync() got: @data (malloc'ed, the
 * caller frees it with rpc_reply_free()), @len, @status.
 */
struct rpc_reply {
	int status;
	void *data;
	size_t len;
};

/**
 * rpc_call_sync - rpc_call() and run the loop until it completes.  Not
 * from inside a callback, not with RPC_CALL_STREAM.  Return: 0 (see
 * @rep->status) or -errno.
 */
int rpc_call_sync(struct rpc_session *s, uint16_t method, const struct iovec *iov,
		  int iovcnt, const struct rpc_call_opts *opts, struct rpc_reply *rep);

void rpc_reply_free(struct rpc_reply *rep);

/**
 * struct rpc_stats - counters of an endpoint.
 */
struct rpc_stats {
	uint64_t calls_started, calls_ok, calls_failed;
	uint64_t reqs_handled;
	uint64_t credit_stalls;		/* times a request waited for credit */
	uint64_t reconnects;
	uint64_t proto_errors;
	/* zero-copy transport (bypass): messages written straight into the
	 * transport's tx ring, bytes parsed in place from its rx ring */
	uint64_t zc_tx, zc_rx_bytes;
	/* daemon-framed sessions: messages read where fastpathd put them (its
	 * message heap), with no copy: responses, and requests while the
	 * requests kept there stay under a quarter of the heap */
	uint64_t zc_rx_msgs;
	uint64_t pings;			/* keepalive PINGs sent */
	/* accepts that failed for want of descriptors or memory (EMFILE,
	 * ENFILE, ENOBUFS, ENOMEM): the connections waited in the listener
	 * and were tried again 20 ms later */
	uint64_t accept_errors;
	/* rpc_respond_part() calls of worker handlers that waited for their
	 * reader (the stream's unwritten parts were at max_queued_bytes) */
	uint64_t stream_waits;
};

void rpc_endpoint_stats(const struct rpc_endpoint *ep, struct rpc_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* BYPASS_RPC_H */
