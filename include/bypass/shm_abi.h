/* SPDX-License-Identifier: MIT */
/*
 * shm_abi.h - the whole shared-memory ABI between fastpathd and an app.
 *
 * Every byte an application and the daemon share is described here and
 * nowhere else.  Bump BP_ABI_VERSION on any layout change; the attach
 * handshake refuses mismatched versions with a message naming both.
 *
 * Region layout (one memfd per attached app, mapped by both sides; the
 * region holds only that app's queues and buffers, so no app can ever see
 * another tenant's bytes):
 *
 *   [bp_region_hdr]        offsets of everything below, daemon-written once
 *   [ctrl queue]           app -> slowpath   control requests (bp_ctrl_req)
 *   [slowpath event queue] slowpath -> app   replies/accepts  (bp_event)
 *   per fastpath core k < fp_queues:
 *   [data queue k]         app -> core k     doorbells        (bp_doorbell)
 *   [fastpath event queue k] core k -> app   rx/tx readiness  (bp_event)
 *   [message queue k]      core k -> app   RPC messages     (bp_msg_desc)
 *   [bp_flow_shm x max_flows]  per-slot counters, one writer per cache line
 *   [buffers x max_flows]      rx ring then tx ring of each slot
 *   [message heap]             RPC sessions: whole messages, one part per
 *                              fastpath core (heap_size / fp_queues bytes)
 *   [send area]                RPC sessions: frames the app posts
 *                              (BP_DB_MSG_SEND); the app allocates in it,
 *                              the daemon only reads
 *
 * Ownership rules (see client-lib/NOTES.md for the full list):
 *  - each queue is single-producer/single-consumer; the producer owns
 *    `head`, the consumer owns `tail`, each on its own cache line;
 *  - in bp_flow_shm the daemon writes the first cache line, the app the
 *    second; the daemon treats every app-written value as hostile and
 *    validates it before use.
 */
#ifndef BYPASS_SHM_ABI_H
#define BYPASS_SHM_ABI_H

#include <stdint.h>
#include <stddef.h>
#include <assert.h>

/* v10: the doorbell and the cores' kicks are unix datagram sockets
 * (slowpath/wake.c); BP_MSGF_CANCELLED */
#define BP_ABI_VERSION 10u
#define BP_MAX_FP_QUEUES 8 /* fastpath cores, each with a queue pair per app */
#define BP_REGION_MAGIC 0x7079627970617373ull /* "ssapybyp" */
#define BP_CACHELINE 64

#define BP_ALIGNED __attribute__((aligned(BP_CACHELINE)))

/* ---------------------------------------------------------------- queues */

/**
 * struct bp_queue - header of a single-producer single-consumer ring.
 * @head: entries ever produced (written by the producer only).
 * @tail: entries ever consumed (written by the consumer only).
 * @size: number of entries, a power of two (daemon-written, read-only).
 * @elem_size: bytes per entry (daemon-written, read-only).
 *
 * Entries follow the header.  Entry i lives at slot (i & (size - 1)).
 */
struct bp_queue {
	uint64_t head BP_ALIGNED;
	uint64_t tail BP_ALIGNED;
	uint32_t size BP_ALIGNED;
	uint32_t elem_size;
	uint8_t pad[BP_CACHELINE - 8];
};
static_assert(sizeof(struct bp_queue) == 3 * BP_CACHELINE, "bp_queue layout");

/* ------------------------------------------------ app -> slowpath control */

enum bp_ctrl_op {
	BP_CTRL_LISTEN = 1,   /* ip, port, backlog -> BP_EV_REPLY with slot */
	BP_CTRL_CONNECT = 2,  /* ip, port -> BP_EV_REPLY with slot, then state */
	BP_CTRL_SHUTDOWN = 3, /* slot, gen: no more data from the app (FIN) */
	BP_CTRL_CLOSE = 4,    /* slot, gen: app forgets the slot */
	BP_CTRL_ABORT = 5,    /* slot, gen: send RST, drop everything */
	BP_CTRL_FORKED = 6,   /* pid: that child now holds every flow we hold (key 0),
			       * or only the flow we know by key (posix_spawn) */
	BP_CTRL_ADOPT = 7,    /* key: move a flow we hold into this app -> REPLY */
	BP_CTRL_RELEASE = 8,  /* key: this process no longer holds the flow */
	BP_CTRL_KEEPALIVE = 9, /* slot, gen, flags 1/0: probe an idle peer (SO_KEEPALIVE) */
	BP_CTRL_LINGER_RESET = 10, /* slot, gen, flags 1/0: the flow's last close resets
				    * it, also the one the app's exit makes
				    * (SO_LINGER {1, 0}) */
	BP_CTRL_EXEC_HOLD = 16, /* key, flags 1/0: this process is about to exec() and
				 * keeps the flow in its next image (1), or the exec
				 * failed (0); see slowpath/exec_hold.c */
};

/**
 * struct bp_ctrl_req - a control request from the app.
 * @op: enum bp_ctrl_op.
 * @req_id: echoed in the BP_EV_REPLY event so the app can match it.
 * @slot: flow slot the request is about (SHUTDOWN/CLOSE/ABORT/KEEPALIVE/
 *        LINGER_RESET).
 * @gen: generation of @slot the app believes it holds; stale ones are
 *       ignored so a late close can never hit a reused slot.
 * @ip: IPv4 address, network byte order (LISTEN: 0 = any).
 * @port: TCP port, host byte order (LISTEN: 0 = pick one).
 * @backlog: LISTEN only.
 * @flags: LISTEN: BP_LISTEN_SHARED, BP_LISTEN_RESERVE; LISTEN and CONNECT:
 *         BP_FLOW_RPC; KEEPALIVE, LINGER_RESET, EXEC_HOLD: 1 on, 0 off.
 * @pid: FORKED only: the child's process id.
 * @key: ADOPT/RELEASE/EXEC_HOLD: the flow's handoff key (bp_flow_shm.handoff_key);
 *       FORKED: 0, or the one flow the child inherited.
 * @cc: CONNECT/LISTEN: congestion control for the flow(s), NUL-padded
 *      ("dctcp"); all zero = the daemon's default.  Unknown names fail the
 *      request with EINVAL.
 */
struct bp_ctrl_req {
	uint16_t op;
	uint16_t port;
	uint32_t req_id;
	uint32_t slot;
	uint32_t gen;
	uint32_t ip;
	uint32_t backlog;
	uint32_t flags;
	uint32_t pid;
	uint64_t key;
	char cc[16];
	uint32_t posted;   /* SHUTDOWN/CLOSE: frames the app posted on the flow
			    * (BP_DB_MSG_SEND): the FIN waits for that many */
	uint32_t reserved;
};

/* several listeners (of any apps) may share the port if all set this; each
 * new connection goes to the one with the fewest connections waiting */
#define BP_LISTEN_SHARED 1u
/* LISTEN/CONNECT: the flow (and every child of the listener) is an RPC
 * session: fastpathd frames it (rpc/WIRE.md) and delivers whole messages on
 * the message queues; the app never reads its rx ring (needs a heap) */
#define BP_FLOW_RPC 2u
/* LISTEN with BP_LISTEN_SHARED: hold the port for the group and take no
 * connections, as a kernel socket that is bound but not listening does
 * (a SYN to a port only reservations hold is refused).  The shim's
 * bind(port 0): getsockname() must name the port before any process of a
 * pre-fork server listens on it. */
#define BP_LISTEN_RESERVE 4u
static_assert(sizeof(struct bp_ctrl_req) == 64, "bp_ctrl_req layout");
static_assert(offsetof(struct bp_ctrl_req, key) % 8 == 0, "bp_ctrl_req key alignment");

/* ---------------------------------------------------- app -> fastpath data */

enum bp_doorbell_op {
	BP_DB_TX = 1, /* tx_written advanced: send what the window allows */
	BP_DB_RX = 2, /* rx_consumed advanced: the receive window opened */
	BP_DB_MSG_DONE = 3, /* RPC: the app is done with heap buffer @slot (its
			     * block in this core's heap part) of generation
			     * @gen; sent to the data queue of the core that
			     * delivered it (bp_msg_desc.core) */
	BP_DB_MSG_SEND = 4, /* RPC: send the frame at send-area offset
			     * @area_off * BP_TXAREA_ALIGN (a 32-byte rpc/WIRE.md
			     * header, then frame_len bytes) on flow @slot/@gen,
			     * in class @prio (BP_MSG_PRIO_*): the daemon puts
			     * frames of a better class into the tx ring first.
			     * Answered by one BP_MSG_SENT descriptor, but for
			     * refusals and drops that found the message queue
			     * full, and frames finished after the app shut the
			     * flow down: libbypass frees those when the slot
			     * is reused (the daemon let go of the flow). */
};

/**
 * struct bp_doorbell - a data-path notification; all data travels in the
 * per-slot buffers, the doorbell only names the slot.
 */
struct bp_doorbell {
	uint16_t op;
	uint16_t prio;     /* BP_DB_MSG_SEND only, else 0 */
	uint32_t slot;
	uint32_t gen;
	uint32_t area_off; /* BP_DB_MSG_SEND only, in BP_TXAREA_ALIGN units */
};
static_assert(sizeof(struct bp_doorbell) == 16, "bp_doorbell layout");

/* -------------------------------------------------- daemon -> app events */

enum bp_event_type {
	BP_EV_REPLY = 1,     /* answer to a ctrl request: req_id, status, slot */
	BP_EV_ACCEPT = 2,    /* slot became an established child of @aux */
	BP_EV_CONNECTED = 3, /* active open finished: status 0 or -errno */
	BP_EV_RX = 4,        /* data (or FIN) arrived on slot (tx space may have, too) */
	BP_EV_TX = 5,        /* tx space was freed on slot; one event a flow a round */
	BP_EV_CLOSED = 6,    /* flow is gone: status 0 or -errno (reset ...) */
	BP_EV_FREED = 7,     /* daemon released slot; handle may be reused */
};

/**
 * struct bp_event - readiness hint.  The authoritative state is always in
 * bp_flow_shm; events only say where to look, so an app that missed some
 * (queue overflow) recovers by rescanning its slots.
 * @type: enum bp_event_type.
 * @status: 0 or a negative errno.
 * @slot: flow slot.
 * @gen: generation of @slot when the event was posted.
 * @req_id: BP_EV_REPLY: the request answered.
 * @aux: BP_EV_ACCEPT: the listener slot.
 */
struct bp_event {
	uint16_t type;
	int16_t status;
	uint32_t slot;
	uint32_t gen;
	uint32_t req_id;
	uint32_t aux;
	uint32_t reserved[3];
};
static_assert(sizeof(struct bp_event) == 32, "bp_event layout");

/* ------------------------------------------------------ per-slot state */

enum bp_flow_state {
	BP_FS_FREE = 0,
	BP_FS_LISTEN = 1,
	BP_FS_CONNECTING = 2,
	BP_FS_ESTABLISHED = 3,
	BP_FS_CLOSED = 4,  /* torn down; err says why (0 = orderly) */
};

/* flags in bp_flow_shm.flags (daemon-written) */
#define BP_FF_PEER_FIN   (1u << 0) /* peer sent FIN: rx ends at rx_written */
#define BP_FF_RESET      (1u << 1) /* connection reset; err holds the errno */
#define BP_FF_TX_CLOSED  (1u << 2) /* our FIN was sent; no more tx */
#define BP_FF_MOVED      (1u << 3) /* another process adopted the flow; this
				    * slot is a stale name for it (state CLOSED) */
#define BP_FF_POPULATED  (1u << 4) /* the daemon mapped the slot's buffers in
				    * when it allocated it: the app may too */
#define BP_FF_RPC        (1u << 5) /* RPC session: the daemon reads the rx ring
				    * and owns rx_consumed; data comes as
				    * bp_msg_desc on the message queues */

/**
 * struct bp_flow_shm - one flow slot.  Counters are 64-bit byte totals
 * since the slot was allocated, so wraparound never happens in practice
 * and "free space" is plain subtraction.
 *
 * Daemon-written line:
 * @rx_written: bytes placed into the rx ring (readable: rx_written - rx_consumed).
 * @tx_acked: bytes acknowledged by the peer (free tx space: tx_size - (tx_written - tx_acked)).
 * @state: enum bp_flow_state.
 * @flags: BP_FF_*.
 * @gen: bumped every time the daemon (re)allocates the slot.
 * @err: positive errno once the flow failed (ECONNREFUSED, ECONNRESET, ETIMEDOUT ...).
 * (Ring placement is fixed per slot: bp_slot_rx_off()/bp_slot_tx_off().)
 * @rx_shift: where stream positions start in the rx ring: the byte at
 *            position p lives at bp_ring_off(p, rx_shift, size).  The
 *            daemon moves it only while the ring is empty (rx_written ==
 *            rx_consumed, nothing held out of order), so that the next byte
 *            lands at offset 0: a request/response flow keeps reusing the
 *            ring's first page instead of touching (faulting in) every page
 *            as its positions advance.  It is stored before the rx_written
 *            that covers bytes placed with it.
 * @local_ip, @remote_ip: network byte order.  @local_port, @remote_port: host order.
 * @listen_pending: listener only: children delivered via BP_EV_ACCEPT.
 * @fp_queue: the fastpath core that owns the flow now: doorbells for the
 *            slot go to data queue @fp_queue.  A hint: a doorbell on the
 *            wrong queue still arrives (the daemon forwards it).
 * @handoff_key: connections only: a random secret naming the flow.  Only
 *               processes that can read this slot know it; a fork()ed child
 *               presents it (BP_CTRL_ADOPT) to take the flow over.
 *
 * App-written line:
 * @rx_consumed: bytes the app has read out of the rx ring.
 * @tx_written: bytes the app has written into the tx ring.
 * @accepted: listener only: children the app has taken (frees backlog).
 * @tx_shift: the tx ring's twin of @rx_shift, moved by the app only while
 *            every byte it wrote is acknowledged (tx_acked == tx_written),
 *            stored before the tx_written that covers bytes placed with it.
 *            Any value is memory-safe for the daemon (offsets are masked);
 *            a wrong one only garbles the app's own stream.
 */
struct bp_flow_shm {
	/* daemon-written */
	uint64_t rx_written BP_ALIGNED;
	uint64_t tx_acked;
	uint32_t state;
	uint32_t flags;
	uint32_t gen;
	uint32_t err;
	uint32_t local_ip;
	uint32_t remote_ip;
	uint16_t local_port;
	uint16_t remote_port;
	uint32_t listen_pending;
	uint64_t handoff_key;
	uint32_t fp_queue;
	uint32_t rx_shift;
	/* app-written */
	uint64_t rx_consumed BP_ALIGNED;
	uint64_t tx_written;
	uint32_t accepted;
	uint32_t tx_shift;
	uint32_t reserved[10];
};
static_assert(sizeof(struct bp_flow_shm) == 2 * BP_CACHELINE, "bp_flow_shm layout");
static_assert(offsetof(struct bp_flow_shm, rx_consumed) == BP_CACHELINE,
	      "app-written fields must start on their own cache line");

/* ------------------------------------------------------- region header */

/**
 * struct bp_region_hdr - start of every app region.  Everything except the
 * sleep words (and the daemon's msgq_full words) is written by the daemon before the region is handed over
 * and never changes.
 * @app_sleeping: app sets it to 1 before blocking on its eventfd and
 *                re-checks its queues; the daemon kicks the eventfd when set.
 * @fp_sleeping: fastpath core k sets word k before blocking, and keeps it
 *               set while it does not poll this app (idle for a while);
 *               the app then writes core k's kick eventfd after posting a
 *               doorbell to it.  Its @msgq_full (same writer, same line):
 *               core k found message queue k full and left RPC flows
 *               waiting; the app kicks core k after it took entries from
 *               queue k while the word is set (pop, fence, read).
 * @fp_queues: fastpath cores, each with a data queue and an event queue
 *             (@dataq_off[k], @fp_evq_off[k]); the attach reply passes one
 *             kick eventfd per core.
 * @evq_overflow: daemon sets it when an event could not be queued; the app
 *                clears it and rescans all slots.
 */
struct bp_region_hdr {
	uint64_t magic;
	uint32_t abi_version;
	uint32_t app_id;
	uint64_t region_size;
	uint32_t max_flows;
	uint32_t local_ip;     /* the daemon's address, network order */
	uint64_t ctrlq_off;    /* struct bp_queue + entries */
	uint64_t sp_evq_off;
	uint64_t flows_off;    /* struct bp_flow_shm[max_flows] */
	uint64_t buffers_off;
	uint32_t rx_buf_size;
	uint32_t tx_buf_size;
	uint32_t fp_queues;
	uint32_t reserved;
	uint64_t dataq_off[BP_MAX_FP_QUEUES];
	uint64_t fp_evq_off[BP_MAX_FP_QUEUES];
	uint64_t msgq_off[BP_MAX_FP_QUEUES]; /* core k -> app message descriptors */
	uint64_t heap_off;       /* RPC message heap, 0 bytes if none */
	uint64_t heap_size;      /* fp_queues parts of heap_size / fp_queues bytes */
	uint64_t txarea_off;     /* RPC send area (app-allocated), 0 bytes if none */
	uint64_t txarea_size;
	uint32_t app_sleeping BP_ALIGNED;
	uint32_t evq_overflow;
	uint32_t sp_sleeping;
	struct {
		uint32_t word BP_ALIGNED; /* one writer per cache line */
		uint32_t msgq_full;       /* core k too: RPC flows wait for room */
	} fp_sleeping[BP_MAX_FP_QUEUES];
};
static_assert(sizeof(struct bp_region_hdr) == (6 + BP_MAX_FP_QUEUES) * BP_CACHELINE,
	      "bp_region_hdr layout");
static_assert(offsetof(struct bp_region_hdr, app_sleeping) % BP_CACHELINE == 0,
	      "app-written sleep word on its own cache line");

/* ------------------------------------------------- RPC message sessions */

#define BP_HEAP_BLOCK 4096u  /* heap allocation granule; parts are multiples */

/* bp_msg_desc.type: the frame types of rpc/WIRE.md (REQUEST 1 .. GOAWAY 8),
 * plus what the daemon itself reports about the session */
#define BP_MSG_EOF 0x100    /* the peer closed: every message before it is in */
#define BP_MSG_ERROR 0x101  /* protocol error: the daemon reset the flow; aux = why */
#define BP_MSGE_TIMEOUT 5   /* BP_MSG_ERROR's aux: a message not whole in time */
#define BP_MSG_SENT 0x102   /* a posted frame left the send area: heap_off is
			     * its send-area offset; status 0, or a negative
			     * errno if it was dropped (flow gone, refused) */
/*
 * Send classes of posted frames (BP_DB_MSG_SEND), best first: the daemon
 * moves the next frame of the best class with one waiting into the tx ring
 * whenever the ring has room (a frame it started is finished first), so a
 * small call of a better class waits for at most the frame in progress
 * plus what the ring already holds, never for a whole large message.
 * Frames of one class keep their order.  At most BP_MSG_TX_DEPTH frames
 * per class and flow are posted and not yet answered by BP_MSG_SENT.
 */
enum bp_msg_prio {
	BP_MSG_PRIO_LATENCY = 0,
	BP_MSG_PRIO_NORMAL = 1,
	BP_MSG_PRIO_BULK = 2,
	BP_MSG_PRIOS = 3,
};
#define BP_MSG_TX_DEPTH 32
#define BP_TXAREA_ALIGN 64u /* posted frames start on this boundary */

/* bp_msg_desc.flags, besides the frame's own (RPC_FF_RESP_DIR) */
#define BP_MSGF_TOO_BIG 0x8000u /* larger than a heap part or the app's msg_max:
				 * body skipped, no buffer */
#define BP_MSGF_PART 0x4000u	/* with TOO_BIG: @wire_bytes more of the skipped
				 * message went by (credit); its last part follows */
#define BP_MSGF_CANCELLED 0x2000u /* with TOO_BIG: the end of a request the peer
				   * cancelled while it arrived: credit, no answer */

/**
 * struct bp_msg_desc - one whole message (or control frame) of an RPC
 * session, core k -> app on message queue k.  Daemon-written; the app
 * proves @heap_off/@meta_len/@body_len inside the heap before it reads.
 * @slot, @gen: the flow.
 * @type: frame type (REQUEST/RESPONSE/CANCEL/CREDIT/PING/PONG/GOAWAY), or
 *        BP_MSG_EOF / BP_MSG_ERROR.
 * @flags: RPC_FF_RESP_DIR for a RESPONSE, the first frame's RPC_FF_STREAM (and a
 *         REQUEST's RPC_FF_REQ_MORE, RPC_FF_REQ_CONT), BP_MSGF_*.
 * @method, @call_id, @status, @deadline_us, @aux: from the first frame.
 * @heap_off: where the message lies, from the heap's start: @meta_len
 *            metadata bytes then @body_len body bytes (GOAWAY: the reason).
 * @buf, @buf_gen: the heap buffer to return (BP_DB_MSG_DONE), if @has_buf.
 * @core: the core whose heap part holds it: return it on data queue @core.
 * @wire_bytes: frame bytes the message took on the wire (headers included):
 *              what the receiver gives back as byte credit.
 */
struct bp_msg_desc {
	uint32_t slot;
	uint32_t gen;
	uint16_t type;
	uint16_t flags;
	uint16_t method;
	uint16_t status;
	uint32_t call_id;
	uint32_t deadline_us;
	uint32_t aux;
	uint32_t meta_len;
	uint64_t heap_off;
	uint32_t body_len;
	uint32_t buf;
	uint32_t buf_gen;
	uint16_t core;
	uint16_t has_buf;
	uint32_t wire_bytes;
	uint32_t reserved;
};
static_assert(sizeof(struct bp_msg_desc) == 64, "bp_msg_desc layout");
static_assert(offsetof(struct bp_msg_desc, heap_off) % 8 == 0, "bp_msg_desc alignment");

/* Rings of slot s: rx ring then tx ring, sizes are powers of two. */
static inline uint64_t bp_slot_rx_off(const struct bp_region_hdr *h, uint32_t slot)
{
	return h->buffers_off + (uint64_t)slot * ((uint64_t)h->rx_buf_size + h->tx_buf_size);
}

static inline uint64_t bp_slot_tx_off(const struct bp_region_hdr *h, uint32_t slot)
{
	return bp_slot_rx_off(h, slot) + h->rx_buf_size;
}

/**
 * bp_ring_off - the offset in a ring of @size bytes (a power of two) of
 * the byte at stream position @pos, given the ring's @shift
 * (bp_flow_shm.rx_shift / tx_shift).  The one mapping from positions to
 * ring bytes: both sides and every copy routine use it.
 */
static inline uint32_t bp_ring_off(uint64_t pos, uint32_t shift, uint32_t size)
{
	return (uint32_t)(pos - shift) & (size - 1);
}

/**
 * bp_ring_shift_to_start - the shift that puts stream position @pos at
 * offset 0 of a ring of @size bytes.
 */
static inline uint32_t bp_ring_shift_to_start(uint64_t pos, uint32_t size)
{
	return (uint32_t)pos & (size - 1);
}

/* ---------------------------------------------------- queue operations */

/**
 * struct bp_queue_view - one side's private handle on a shared queue.
 * @q: the shared header.
 * @ents: first entry.
 * @mask: size - 1, copied at setup: the shared @size is never re-read, so a
 *        peer scribbling on it cannot steer our writes out of bounds.
 * @elem_size: bytes per entry, copied at setup for the same reason.
 * @own: our private index (head when producing, tail when consuming); the
 *       shared copy is only ever published, never read back.
 */
struct bp_queue_view {
	struct bp_queue *q;
	uint8_t *ents;
	uint32_t mask;
	uint32_t elem_size;
	uint64_t own;
};

static inline void bp_queue_view_init(struct bp_queue_view *v, struct bp_queue *q,
				      uint32_t size, uint32_t elem_size, int producer)
{
	v->q = q;
	v->ents = (uint8_t *)(q + 1);
	v->mask = size - 1;
	v->elem_size = elem_size;
	v->own = producer ? q->head : q->tail;
}

/**
 * bp_queue_push - copy one entry in as the producer.
 *
 * A hostile consumer can only make the queue look full (tail behind or
 * ahead of head both read as "no room"), never make us overwrite memory.
 * Return: 0 on success, -1 if the queue is full.
 */
static inline int bp_queue_push(struct bp_queue_view *v, const void *elem)
{
	uint64_t tail = __atomic_load_n(&v->q->tail, __ATOMIC_ACQUIRE);
	if (v->own - tail > v->mask)
		return -1;
	__builtin_memcpy(v->ents + (size_t)(v->own & v->mask) * v->elem_size, elem, v->elem_size);
	v->own++;
	__atomic_store_n(&v->q->head, v->own, __ATOMIC_RELEASE);
	return 0;
}

/**
 * bp_queue_pop - copy one entry out as the consumer.
 *
 * A hostile producer may publish any head; we never read more than one
 * queue's worth ahead, so at worst it replays stale entries, which every
 * consumer validates anyway.
 * Return: 0 on success, -1 if the queue is empty.
 */
static inline int bp_queue_pop(struct bp_queue_view *v, void *elem)
{
	uint64_t head = __atomic_load_n(&v->q->head, __ATOMIC_ACQUIRE);
	if (head == v->own)
		return -1;
	if (head - v->own > (uint64_t)v->mask + 1) /* producer lied: resync */
		v->own = head - ((uint64_t)v->mask + 1);
	__builtin_memcpy(elem, v->ents + (size_t)(v->own & v->mask) * v->elem_size, v->elem_size);
	v->own++;
	__atomic_store_n(&v->q->tail, v->own, __ATOMIC_RELEASE);
	return 0;
}

/* producer side: would a push fail now? (a hostile consumer: "full") */
static inline int bp_queue_full(const struct bp_queue_view *v)
{
	return v->own - __atomic_load_n(&v->q->tail, __ATOMIC_ACQUIRE) > v->mask;
}

static inline int bp_queue_empty(const struct bp_queue_view *v)
{
	return __atomic_load_n(&v->q->head, __ATOMIC_ACQUIRE) == v->own;
}

static inline size_t bp_queue_bytes(uint32_t entries, uint32_t elem_size)
{
	return sizeof(struct bp_queue) + (size_t)entries * elem_size;
}

#endif /* BYPASS_SHM_ABI_H */
