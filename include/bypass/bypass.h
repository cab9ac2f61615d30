/* SPDX-License-Identifier: MIT */
/*
 * bypass.h - libbypass, the application API of the bypass dataplane.
 *
 * An app attaches to fastpathd once (Unix socket), receives a shared memory
 * region and a few eventfds, and from then on talks to the daemon only
 * through shared-memory queues and per-flow ring buffers.
 *
 * Conventions: functions returning int/ssize_t return >= 0 on success and a
 * negative errno on failure (-EAGAIN: would block, -ECONNRESET, -EPIPE ...).
 * Handles are small non-negative integers scoped to one bp_ctx.
 *
 * Threading: a bp_ctx may be used from several threads; calls on one ctx
 * are serialised by an internal lock.  bp_wait() drops the lock while it
 * sleeps.
 */
#ifndef BYPASS_BYPASS_H
#define BYPASS_BYPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_DEFAULT_SOCKET "/run/bypass/fastpathd.sock"
#define BP_SOCKET_ENV "BYPASS_SOCKET"

struct bp_ctx;

/**
 * struct bp_attach_opts - optional attach parameters (may be NULL).
 * @socket_path: daemon control socket; NULL: $BYPASS_SOCKET, then
 *               BP_DEFAULT_SOCKET.
 * @app_name: shown by the daemon in logs and stats.
 * @tenant: tenant name from the daemon config (NULL: "default").
 * @cc: congestion control for every flow of this context ("cubic",
 *      "dctcp", "timely", "newreno"; NULL: the daemon's [tcp] cc).  An
 *      unknown name makes listen/connect fail with -EINVAL.
 * @msg_heap: RPC message heap bytes (0: no RPC sessions).
 * @msg_max: RPC sessions: body bytes of the largest message the app takes
 *           (0: as much as a heap part holds).  fastpathd refuses a larger
 *           one at its first frame and hands its bytes over as credit
 *           (BP_MSG_FLAG_PART), so a peer never waits on a message the
 *           app will refuse.  librpc sets it to its max_msg.
 */
struct bp_attach_opts {
	const char *socket_path;
	const char *app_name;
	const char *tenant;
	const char *cc;
	uint64_t msg_heap;
	uint32_t msg_max;
};

/**
 * bp_attach - connect to fastpathd and map this app's region.
 * @opts: options, or NULL for defaults.
 * @err: on failure, a human-readable reason with what to do next
 *       (e.g. how to start the daemon); may be NULL.
 * @errlen: size of @err.
 *
 * Return: a context, or NULL with errno set.
 */
struct bp_ctx *bp_attach(const struct bp_attach_opts *opts, char *err, size_t errlen);

/**
 * bp_detach - close every flow of the context and release it.  The daemon
 * resets flows that are still open.
 */
void bp_detach(struct bp_ctx *ctx);

/** bp_local_ip - the daemon's IPv4 address (network byte order). */
uint32_t bp_local_ip(const struct bp_ctx *ctx);

/**
 * bp_listen - open a listening endpoint.
 * @ip: local address (network order) or 0 for the daemon's address.
 * @port: port (host order), or 0 to let the daemon pick one.
 * @backlog: max established connections not yet accepted.
 *
 * Return: listener handle, -EADDRINUSE, -EACCES (port outside tenant
 * range), -ENOBUFS (no free slot) ...
 */
int bp_listen(struct bp_ctx *ctx, uint32_t ip, uint16_t port, int backlog);

/**
 * bp_listen_flags - bp_listen() with BP_LISTEN_SHARED (from shm_abi.h):
 * like SO_REUSEPORT, listeners that all set it share the port, and each
 * connection goes to the listener with the fewest waiting (pre-fork
 * servers: one listener per worker process).
 */
int bp_listen_flags(struct bp_ctx *ctx, uint32_t ip, uint16_t port, int backlog, unsigned flags);

/**
 * bp_listen_share - a shared listener (BP_LISTEN_SHARED) on @port, joined
 * by proving possession of @share_fd: any kernel descriptor (a socket, a
 * pipe, a memfd ...) the first listener on the port presented too.  Only
 * processes of the same uid holding that same kernel object (inherited
 * through fork(), or passed with SCM_RIGHTS) may join, so other users'
 * processes cannot take a share of the port's connections.
 * @share_fd: -1 = the process's own share socket for @port: created by the
 *            first shared listen on @port in this process (or an ancestor
 *            before fork()), inherited by fork() children.  A pre-fork
 *            server whose parent does not listen itself calls
 *            bp_share_fd(@port) before forking its workers.
 *
 * bp_listen_flags(..., BP_LISTEN_SHARED) is bp_listen_share(..., -1).
 * Return: listener handle, -EADDRINUSE (the port is another group's),
 * -errno.
 */
int bp_listen_share(struct bp_ctx *ctx, uint32_t ip, uint16_t port, int backlog, int share_fd);

/**
 * bp_share_fd - the process's share socket for @port (see
 * bp_listen_share()), created now if it has none.  Needs no context.
 * Return: the descriptor (owned by libbypass; do not close it), or -errno.
 */
int bp_share_fd(uint16_t port);

/**
 * bp_listen_reserve - hold @port for the shared listeners of the holders of
 * @share_fd, taking no connections: a bound kernel socket that does not
 * listen yet.  A connection attempt to a port only reservations hold is
 * refused.  Lets a program learn the port the daemon picks for @port 0
 * (bp_flow_info()) before any of its processes listens there with
 * bp_listen_share(..., @share_fd).  bp_close() gives the port up.
 * @share_fd: a descriptor, as for bp_listen_share(); -1 = bp_share_fd(@port)
 *            (not with @port 0).
 * Return: a handle to the reservation, or -errno as bp_listen_share().
 */
int bp_listen_reserve(struct bp_ctx *ctx, uint32_t ip, uint16_t port, int share_fd);

/**
 * bp_accept - take one established connection from a listener.
 * Return: flow handle or -EAGAIN if none is pending.
 */
int bp_accept(struct bp_ctx *ctx, int listener);

/**
 * bp_connect - start an active open to @ip:@port (network/host order).
 *
 * Returns as soon as the daemon has accepted the request; completion is
 * reported by bp_connect_status().  Return: flow handle or -errno.
 */
int bp_connect(struct bp_ctx *ctx, uint32_t ip, uint16_t port);

/**
 * bp_connect_cc - bp_connect() with this flow's congestion control named
 * (overrides bp_attach_opts.cc; NULL = the context's default).
 */
int bp_connect_cc(struct bp_ctx *ctx, uint32_t ip, uint16_t port, const char *cc);

/**
 * bp_connect_status - 0 once established, -EINPROGRESS while the handshake
 * runs, else the failure: -ECONNREFUSED (a RST, or an ICMP port
 * unreachable), -ETIMEDOUT, -EHOSTUNREACH (no ARP answer, an ICMP host
 * unreachable or time exceeded), -EPROTO (an ICMP parameter problem), or
 * for the other ICMP "destination unreachable" codes Linux's errno
 * (-ENETUNREACH, -EHOSTDOWN, -ENONET, -ENOPROTOOPT, -EOPNOTSUPP).
 */
int bp_connect_status(struct bp_ctx *ctx, int h);

/**
 * bp_send - copy up to @len bytes into the flow's transmit buffer.
 * Return: bytes queued (possibly short), -EAGAIN when the buffer is full,
 * -EPIPE after shutdown, -ECONNRESET after a reset.
 */
ssize_t bp_send(struct bp_ctx *ctx, int h, const void *buf, size_t len);

/**
 * bp_recv - copy up to @len received bytes out of the flow.
 * Return: bytes read, 0 at end of stream (peer FIN), -EAGAIN when nothing
 * is buffered, -ECONNRESET after a reset (once the bytes that came before
 * it were read, as on Linux).
 */
ssize_t bp_recv(struct bp_ctx *ctx, int h, void *buf, size_t len);

/** bp_peek - like bp_recv(), but the bytes stay in the buffer (MSG_PEEK). */
ssize_t bp_peek(struct bp_ctx *ctx, int h, void *buf, size_t len);

/** bp_shutdown - stop sending (SHUT_WR): the daemon sends FIN after the data. */
int bp_shutdown(struct bp_ctx *ctx, int h);

/** bp_close - release the handle; unsent data is still delivered, then FIN. */
int bp_close(struct bp_ctx *ctx, int h);

/** bp_abort - release the handle and reset the connection (RST). */
int bp_abort(struct bp_ctx *ctx, int h);

/* readiness bits for bp_ready() */
#define BP_READABLE  0x1u /* data, EOF, a pending accept, or an error */
#define BP_WRITABLE  0x2u /* tx space, or an error */
#define BP_HUP       0x4u /* peer closed (FIN) or connection gone */
#define BP_ERROR     0x8u /* reset / failed connect */

/** bp_ready - current readiness bits of a handle (never blocks). */
unsigned bp_ready(struct bp_ctx *ctx, int h);

/**
 * bp_wait - block until the daemon signals anything for this context, or
 * @timeout_ms passes (-1: forever, 0: just process pending events).
 * Blocks on an eventfd; never spins.
 * Return: 1 if woken by an event, 0 on timeout, -errno on failure.
 */
int bp_wait(struct bp_ctx *ctx, int timeout_ms);

/**
 * struct bp_pollev - a handle reported by bp_poll().
 * @h: the handle.
 * @ready: its bp_ready() bits when it was reported.
 */
struct bp_pollev {
	int h;
	unsigned ready;
};

/**
 * bp_poll - the handles that had news, epoll-style, so an app with
 * thousands of connections never scans them all.  Drains the daemon's
 * events, then reports each handle that got one since it was last
 * reported (once, however many it got), oldest first, with its current
 * readiness; waits up to @timeout_ms (-1: forever, 0: not at all) if
 * none has.  Edge-triggered, as EPOLLET: keep reading (sending, accepting)
 * until -EAGAIN, or the handle is not reported again until the next
 * event.  Accepted and adopted handles are reported once by themselves;
 * handles whose readiness is empty again (or that the app closed) are
 * skipped.  bp_ready() and bp_wait() keep working alongside.
 * Return: number of entries written to @evs (at most @max), 0 on timeout,
 * -EINVAL, -ECONNRESET (the daemon is gone), -EINTR.
 */
int bp_poll(struct bp_ctx *ctx, struct bp_pollev *evs, int max, int timeout_ms);

/**
 * bp_wait_fd - an fd that becomes readable when bp_wait() would return,
 * for integrating with poll/epoll loops.  Call bp_wait(ctx, 0) before
 * blocking on it (that arms the wakeup) and again after it fires (that
 * drains the events): loop { bp_wait(ctx, 0); do work; poll(fd); }.
 */
int bp_wait_fd(const struct bp_ctx *ctx);

/** struct bp_flow_info - addresses of a flow (network order ip, host order port). */
struct bp_flow_info {
	uint32_t local_ip;
	uint32_t remote_ip;
	uint16_t local_port;
	uint16_t remote_port;
};

int bp_flow_info(struct bp_ctx *ctx, int h, struct bp_flow_info *info);

/**
 * struct bp_flow_stats - the daemon's view of a connection, as `bypassctl
 * flows` shows it (and Linux's TCP_INFO gives it for a socket).
 * @state: ss's name ("established", "close-wait", "fin-wait-1", ...).
 * @cwnd: congestion window, bytes.  @rto_ms: the retransmission timeout now.
 * @retrans: fast retransmits and timeouts; @timeouts: the timeouts alone.
 * @rx_queue: received, not read; @tx_queue: written, not acknowledged.
 */
struct bp_flow_stats {
	char state[16];
	char cc[16];          /* congestion control: "dctcp", "cubic" ... */
	uint32_t mss, cwnd, srtt_us, rttvar_us, rto_ms;
	uint32_t retrans, timeouts, rx_queue, tx_queue, peer_wnd;
	uint64_t bytes_acked, bytes_sent, bytes_received, pacing_bps;
};

/**
 * bp_flow_stats - ask the daemon about connection @h (a round trip to its
 * slowpath on the control socket: for occasional questions).
 * Return: 0, -ENOTCONN for a listener, -ENOENT if the daemon no longer
 * lists it, -ETIMEDOUT if it did not answer within 2 s, -errno.
 */
int bp_flow_stats(struct bp_ctx *ctx, int h, struct bp_flow_stats *st);

/** bp_rx_avail / bp_tx_space - buffered bytes to read, free bytes to write. */
size_t bp_rx_avail(struct bp_ctx *ctx, int h);
size_t bp_tx_space(struct bp_ctx *ctx, int h);
/**
 * bp_tx_unacked - bytes written on connection @h that the peer has not
 * acknowledged yet, sent or not (Linux's SIOCOUTQ; after a reset, what was
 * outstanding then, as on Linux).
 */
size_t bp_tx_unacked(struct bp_ctx *ctx, int h);

/*
 * Connections across fork().  A child of a process that holds connections
 * may keep using them, as with kernel sockets: the parent calls
 * bp_forked(ctx, pid) after fork(); the child (with its own bp_attach())
 * takes a connection over with bp_adopt(key) on first use, or drops it
 * with bp_release(key).  A child that inherited only some connections
 * (posix_spawn() file actions) is reported per connection with
 * bp_spawned(ctx, pid, key).  The key comes from bp_flow_key(), read in the
 * parent's context before the child attaches.  A connection closes when
 * its last holder closes it (or exits).  Handles of a moved connection
 * return -ESTALE; bp_close() on them only drops the hold.
 */
int bp_flow_key(struct bp_ctx *ctx, int h, uint64_t *key);

/**
 * bp_keepalive - SO_KEEPALIVE for connection @h: probe a peer that stays
 * silent ([tcp] keepalive_* in the daemon config set the timing); a dead
 * peer fails the flow with -ETIMEDOUT.
 * Return: 0, or -errno (-ESTALE: a fork relative adopted the connection,
 * as for bp_send()).
 */
int bp_keepalive(struct bp_ctx *ctx, int h, bool on);

/**
 * bp_linger_reset - SO_LINGER {1, 0} for connection @h: with @on, its last
 * close resets it (RST; data not yet sent or read is dropped) instead of
 * sending FIN after the data, and so does the close that the process's
 * exit or death makes.  The setting stays with the connection when a fork
 * child or an exec'd image adopts it, as a socket option does.
 * Return: 0, or -errno: -EOPNOTSUPP for a listener or a fastpathd older
 * than control protocol 1.5; -ESTALE as for bp_keepalive().
 */
int bp_linger_reset(struct bp_ctx *ctx, int h, bool on);
int bp_forked(struct bp_ctx *ctx, pid_t child);
/* bp_spawned: the child holds only the connection known by @key */
int bp_spawned(struct bp_ctx *ctx, pid_t child, uint64_t key);
/* bp_adopt: -EOPNOTSUPP for an RPC session (it stays with its owner) */
int bp_adopt(struct bp_ctx *ctx, uint64_t key);
int bp_release(struct bp_ctx *ctx, uint64_t key);
/* exec(): the next program image keeps connection @key (or, !keep, the exec failed) */
int bp_exec_hold(struct bp_ctx *ctx, uint64_t key, bool keep);

/* ---- zero-copy transmit/receive ---------------------------------------- */

/*
 * The four calls below expose the flow's rings in the shared region, so a
 * caller can build outgoing bytes and parse incoming ones in place instead
 * of copying through bp_send()/bp_recv().  Validity: a tx reservation lasts
 * until the next transmit-side call on the same handle (bp_send,
 * bp_tx_reserve, bp_tx_commit, bp_shutdown, bp_close, bp_abort); an rx peek
 * until the next receive-side call on it (bp_recv, bp_peek, bp_rx_peek,
 * bp_rx_consume, bp_close, bp_abort).  The two directions are independent:
 * a peeked request may be answered with bp_send() or a reservation before
 * it is consumed.  Calls from other threads on the same handle in between
 * are the caller's business, as interleaved bp_send()s would be.
 */

/**
 * bp_tx_reserve - get writable space in the flow's transmit ring.
 * @ctx: context.
 * @h: flow handle.
 * @len: bytes wanted; fewer may be reserved (the free space).
 * @iov: filled with one or two pieces (two when the space wraps the ring
 *       end), whose lengths add up to the bytes reserved.
 *
 * Nothing is sent until bp_tx_commit().  A new reservation replaces the
 * previous one.
 *
 * Return: the number of pieces (1 or 2; 0 when @len is 0), or as
 * bp_send(): -EAGAIN (ring full, or still connecting), -EPIPE,
 * -ECONNRESET, -ENOTCONN, -EBADF, -ESTALE.
 */
int bp_tx_reserve(struct bp_ctx *ctx, int h, size_t len, struct iovec iov[2]);

/**
 * bp_tx_commit - send the first @len bytes of the current reservation.
 * @ctx: context.
 * @h: flow handle.
 * @len: bytes written at the start of the reserved space (0 cancels).
 *
 * Publishes the bytes and rings the fastpath exactly as bp_send() does.
 * The reservation ends either way.
 *
 * Return: 0; -EINVAL if @len exceeds what is reserved (nothing is sent);
 * or the errors of bp_send() if the flow failed since the reservation.
 */
int bp_tx_commit(struct bp_ctx *ctx, int h, size_t len);

/**
 * bp_rx_peek - see the received bytes in place, in the receive ring.
 * @ctx: context.
 * @h: flow handle.
 * @iov: filled with one or two pieces (two across the ring end) holding
 *       every byte received and not yet consumed, in stream order.
 *
 * The bytes are read-only and stay put until bp_rx_consume().
 *
 * Return: the number of pieces (1 or 2), 0 at end of stream (peer FIN,
 * nothing left), or as bp_recv(): -EAGAIN, -ECONNRESET, -ENOTCONN,
 * -EBADF, -ESTALE.
 */
int bp_rx_peek(struct bp_ctx *ctx, int h, struct iovec iov[2]);

/**
 * bp_rx_consume - release the first @len bytes shown by bp_rx_peek().
 * @ctx: context.
 * @h: flow handle.
 * @len: bytes done with (0 only ends the peek).
 *
 * Reopens the receive window and rings the fastpath when bp_recv() would.
 * The peek ends either way; peek again to see what is left.
 *
 * Return: 0; -EINVAL if @len exceeds the bytes peeked; -EBADF, -ENOTCONN,
 * -ESTALE.
 */
int bp_rx_consume(struct bp_ctx *ctx, int h, size_t len);
/* ---------------------------------------------------- RPC message sessions
 *
 * A connection opened as an RPC session (rpc/WIRE.md framing) is framed by
 * fastpathd: the app never reads its byte stream, it gets whole messages
 * (metadata + body, every CHUNK joined) in its message heap, which it asks
 * for at attach (bp_attach_opts.msg_heap).  It sends either bytes
 * (bp_send(), in stream order) or whole frames posted with a class
 * (bp_msg_tx_alloc() / bp_msg_tx_post()), which fastpathd puts on the wire
 * best class first; a flow uses one way or the other, not both.
 */

/* bp_listen_flags(): children are RPC sessions (= BP_FLOW_RPC of the ABI) */
#define BP_LISTEN_RPC 2u

/* bp_msg.type beyond the frame types (REQUEST 1 .. GOAWAY 8) */
#define BP_MSG_TYPE_EOF   0x100 /* the peer closed; nothing follows */
#define BP_MSG_TYPE_ERROR 0x101 /* the daemon reset the flow; aux says why: */
#define BP_MSG_ERR_TIMEOUT 5    /* a message not whole within [rpc] message_timeout_ms;
				 * any other aux: malformed input */
#define BP_MSG_FLAG_TOO_BIG 0x8000u /* larger than the heap or msg_max allows: no data */
/* with TOO_BIG: not the message yet, only @wire_bytes more of it went by
 * (the receiver gives them back as credit at once: the message may be
 * larger than its whole byte window); the last part has TOO_BIG alone */
#define BP_MSG_FLAG_PART 0x4000u
/* with TOO_BIG (an end): a request the peer cancelled while it arrived (its
 * CANCEL follows); give its call and bytes back as credit, answer nothing */
#define BP_MSG_FLAG_CANCELLED 0x2000u

/**
 * struct bp_msg - one whole message of an RPC session.
 * @h: the connection.
 * @type, @flags, @method, @status, @call_id, @deadline_us, @aux: from
 *        the message's first frame (flags: RESP_DIR, BP_MSG_FLAG_TOO_BIG).
 * @wire_bytes: bytes it took on the wire, headers included (byte credit).
 * @meta, @meta_len, @body, @body_len: the message, in the heap; valid
 *        until bp_msg_done().
 * @priv: the buffer, for bp_msg_done().
 */
struct bp_msg {
	int h;
	uint16_t type;
	uint16_t flags;
	uint16_t method;
	uint16_t status;
	uint32_t call_id;
	uint32_t deadline_us;
	uint32_t aux;
	uint32_t wire_bytes;
	const uint8_t *meta;
	uint32_t meta_len;
	uint32_t body_len;
	const uint8_t *body;
	uint64_t priv[2];
};

/** bp_connect_rpc - bp_connect() of an RPC session (needs a message heap). */
int bp_connect_rpc(struct bp_ctx *ctx, uint32_t ip, uint16_t port);

/**
 * bp_msg_poll - take up to @max whole messages of any RPC session (never
 * blocks; bp_wait() wakes when some arrive).  Each must be given back with
 * bp_msg_done() once the app is done with its bytes.
 * Return: messages stored in @out, or -errno.
 */
int bp_msg_poll(struct bp_ctx *ctx, struct bp_msg *out, int max);

/** bp_msg_done - give @m's heap buffer back to the daemon. */
int bp_msg_done(struct bp_ctx *ctx, const struct bp_msg *m);

/**
 * bp_msg_heap_size - bytes of @ctx's message heap (0: none), so a caller
 * that keeps messages past bp_msg_poll() can bound what it pins: every
 * byte it keeps is a byte the daemon cannot fill with new messages.
 */
uint64_t bp_msg_heap_size(const struct bp_ctx *ctx);

/* bp_msg_tx_alloc() classes, best first (= the ABI's BP_MSG_PRIO_*) */
#define BP_PRIO_LATENCY 0u
#define BP_PRIO_NORMAL 1u
#define BP_PRIO_BULK 2u

/* or'ed into bp_msg_tx_alloc()'s @prio: the frame takes room
 * bp_msg_tx_reserve() promised to @h's messages of that class */
#define BP_MSG_TX_RESERVED 0x100u

/**
 * bp_msg_tx_alloc - room for one frame of @len bytes in the send area (a
 * part of the app's region as large as its message heap), to be posted
 * on RPC session @h in class @prio.  The app writes one whole rpc/WIRE.md
 * frame there: the 32-byte header, then frame_len payload bytes.
 * The last eighth of the area is kept for BP_PRIO_LATENCY frames, and
 * room promised with bp_msg_tx_reserve() is left alone unless @prio
 * carries BP_MSG_TX_RESERVED (then the frame takes from @h's promise).
 * Return: the buffer, or NULL with errno ENOBUFS (no room in the area for
 * @prio, or 32 frames of @prio are posted on @h and not yet sent:
 * bp_poll() reports @h writable when space comes back), EBADF, EINVAL,
 * ENOMEM (no message heap).
 */
void *bp_msg_tx_alloc(struct bp_ctx *ctx, int h, size_t len, unsigned prio);

/**
 * bp_msg_tx_post - hand the frame in @buf (from bp_msg_tx_alloc() for @h)
 * to fastpathd.  It goes on the wire after the frame in progress and
 * every frame of a better class posted on @h, and after the frames of its
 * own class posted before it; its space comes back on its own once it
 * is in the flow's tx ring (bp_msg_poll() takes the daemon's answers).
 * A frame fastpathd refuses (malformed header, or posted after the
 * shutdown) is dropped and counted.  bp_shutdown() and bp_close() tell
 * fastpathd how many frames were posted: its FIN follows the last one.
 * Return: 0, -EINVAL (not a buffer allocated for @h and not yet posted),
 * -EBADF (@h closed meanwhile: bp_msg_tx_cancel() it), or the -errno of
 * waiting for room in a full data queue (the buffer stays allocated).
 */
int bp_msg_tx_post(struct bp_ctx *ctx, int h, void *buf);

/** bp_msg_tx_cancel - free a buffer from bp_msg_tx_alloc() never posted. */
void bp_msg_tx_cancel(struct bp_ctx *ctx, void *buf);

/**
 * bp_msg_tx_reserve - before the first frame of a message of @frames
 * frames and @bytes in all (headers included) on RPC session @h, promise
 * it room in the send area; its frames are then allocated with
 * BP_MSG_TX_RESERVED.  Needed for every message of more than one frame:
 * the receiver gives a message heap room from its first frame on, so
 * frames that cannot go yet must never keep a begun message's rest out of
 * the area (both hosts would wait for good).  Granted when the unpromised
 * room holds it all, or when no message holds a promise (a message larger
 * than the area then goes alone).
 * Return: 0, -ENOBUFS (not now: bp_poll() reports @h writable when room
 * comes back), -EBADF, -EINVAL, -ENOMEM (no message heap).
 */
int bp_msg_tx_reserve(struct bp_ctx *ctx, int h, size_t bytes, unsigned frames,
		      unsigned prio);

/**
 * bp_msg_tx_unreserve - @h's messages of @prio are all posted (or given
 * up): the rest of their promise goes back.  Closing @h does it too.
 */
void bp_msg_tx_unreserve(struct bp_ctx *ctx, int h, unsigned prio);

/** bp_msg_tx_inflight - frames posted (or allocated) on @h not yet sent. */
unsigned bp_msg_tx_inflight(struct bp_ctx *ctx, int h);

#ifdef __cplusplus
}
#endif

#endif /* BYPASS_BYPASS_H */
