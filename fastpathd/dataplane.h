/* SPDX-License-Identifier: MIT */
/*
 * dataplane.h - THE contract between the fastpath threads (fastpathd/)
 * and the slowpath thread (slowpath/): the state they share, who may
 * write which part of it, and the messages they exchange.  Nothing else
 * of one side is visible to the other: fastpathd/ includes nothing of
 * slowpath/ but slowpath.h (start and stop), and in slowpath/ only
 * sp_fp.c touches fastpath state (dp->flows, the rings, the fastpath's
 * counters and stop flag).  fastpathd/NOTES.md explains the rules.
 *
 * Threading invariants:
 *  - The fastpath thread owns the NIC queues, the flow hash and every
 *    "fp-owned" field of struct fp_flow.  The slowpath never writes them.
 *  - The slowpath owns flow lifetime (allocation, install, removal), app
 *    lifetime, ARP, timers and congestion control.  It changes fastpath
 *    state only by messages on dp->to_fp, except the "sp-owned" fields
 *    (cwnd, rate) which it stores atomically.
 *  - Counters the slowpath reads (acked bytes, rtt samples...) are written
 *    by the fastpath with relaxed atomic stores.
 *
 * Ownership of an installed struct fp_flow (between FLOW_ADD and
 * FLOW_DEL_DONE; before FLOW_ADD and after FLOW_DEL_DONE the slowpath owns
 * the whole struct and fills it completely before FLOW_ADD):
 *
 *   fields                                  | fastpath        | slowpath
 *   ----------------------------------------+-----------------+----------------
 *   identity: local/remote ip+port,         | reads           | writes before
 *     wscales, rx/tx_isn, flow_id           |                 |   FLOW_ADD only
 *   remote_mac                              | writes it at    | writes before
 *                                           |   FLOW_NEIGH    |   FLOW_ADD only
 *   mss                                     | lowers it at    | writes before
 *                                           |   FLOW_PMTU     |   FLOW_ADD; relaxed
 *                                           |   (relaxed)     |   reads after
 *   app binding: app_id, slot, gen, shm,    | writes (MOVE,   | writes before
 *     rx/tx_base, rx/tx_size                |   DETACH)       |   FLOW_ADD only
 *   receive side: rx_pos .. rx_adv_edge     | writes          | never, but relaxed
 *                                           |                 |   reads of rx_pos,
 *                                           |                 |   rx_consumed for
 *                                           |                 |   bypassctl flows
 *   transmit side: tx_acked .. last_rx_tsc  | writes          | relaxed reads of
 *     (incl. peer_wnd, tx_sent, tx_written) |   (relaxed)     |   tx_acked, tx_sent,
 *                                           |                 |   tx_max_sent,
 *                                           |                 |   tx_written,
 *                                           |                 |   peer_wnd, last_rx_tsc
 *   policy: cwnd, pacing_bps                | relaxed reads   | relaxed writes
 *   flags (FPF_*)                           | writes          | relaxed reads; sets
 *                                           |   (FPF_NO_DF at |   SACK, ECN, RPC,
 *                                           |   FLOW_PMTU too)|   NO_DF before
 *                                           |                 |   FLOW_ADD
 *   counters: cnt_*, rtt_us, srtt_us,       | relaxed writes  | relaxed reads
 *     rttvar_us, last_progress_tsc          |                 |
 *   pend, ev_core, ev_pos, rtt_pos,         | private         | never
 *     rtt_tsc, RFC 5961,                    |                 |
 *     stall_reported, cc_report_tsc         |                 |
 *   bucket, tenant                          | reads           | writes before
 *                                           |                 |   FLOW_ADD only
 *   ip_id                                   | writes          | writes before
 *                                           |                 |   FLOW_ADD only
 *   core                                    | the owning core | writes before
 *                                           |   writes it at  |   FLOW_ADD only;
 *                                           |                 |   relaxed reads
 *                                           |                 |   (bypassctl flows)
 *                                           |   FLOW_ADD and  |
 *                                           |   BUCKET_IN     |
 *
 * "The fastpath" is the one core that owns the flow's steering bucket at
 * the time (fastpathd/fp_steer.c); a bucket changes owner only through
 * BUCKET_OUT/BUCKET_IN, so every field above has one writer at a time.
 *
 * The slowpath's reads and writes are all in slowpath/sp_fp.c
 * (sp_fp_flow_read(), sp_fp_flow_set_cwnd(), sp_fp_flow_set_rate(),
 * sp_fp_flow_install()).  Debug builds check that functions owning data
 * run on the owning thread: DP_ASSERT_SP() / DP_ASSERT_FP() below.
 *
 * Other shared state: struct dp_app says per field which thread uses it;
 * struct dp_tenant's policy is the slowpath's (sp_fp_tenant_set(), which
 * also bumps dp->tenants_gen), its egress bucket (tx_tat) every core's
 * through atomic compare-and-swap (the slowpath's too, tq_forgive(), when
 * it changes the policy or a new tenant takes the id), and core[k] (counters) core k's alone;
 * dp->port_tat, the port's bucket, every core's the same way;
 * each dp_core's counters are written by that core only, sp_counters by
 * the slowpath; dp->steer[b] by the core giving bucket b away; stop is set
 * by the slowpath (or a second signal) and read by every core; a
 * capture (struct dp_capture) is the slowpath's while its bit in
 * dp->capture_mask is clear, its rings single-producer (core k) and
 * single-consumer (the slowpath).
 */
#ifndef FP_DATAPLANE_H
#define FP_DATAPLANE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <rte_ether.h>
#include <rte_ring.h>
#include <rte_mempool.h>
#include <rte_hash.h>
#include <rte_spinlock.h>

#include "bypass/shm_abi.h"
#include "siphash.h"
#include "config.h"
#include "rpc_heap.h"

/* DPM_FLOW_PMTU's arg: the MSS, this bit if the path is narrower than
 * PKT_MIN_PMTU (the flow sends without DF from then on, FPF_NO_DF), and
 * this one if nothing is to be resent (news another flow heard) */
#define DP_PMTU_NO_DF 0x8000u
#define DP_PMTU_QUIET 0x4000u
_Static_assert(BP_MAX_MTU < DP_PMTU_QUIET, "an MSS leaves DPM_FLOW_PMTU's flag bits clear");

#define DP_IP_IDENTS 2048 /* dp->ip_idents: a power of two */

/* [apps] max_apps is at most this; dp->apps holds cfg.max_apps entries */
#define DP_APPS_LIMIT 4096
#define DP_INVALID_FLOW UINT32_MAX
/* a dp_core.timer_ring entry: a flow id ([daemon] max_flows is at most
 * 1 << 22), with this bit if its congestion control wants a look now */
#define DP_TIMER_CC 0x80000000u
/* fp_cc_watch() reports a flow at most this often (fastpath.h), and the
 * slowpath waits SP_CC_QUIET_MS > this without news before it stops
 * visiting a flow every round trip (slowpath/conn_timer.c) */
#define FP_CC_REPORT_US 1000
#define DP_MAX_CORES BP_MAX_FP_QUEUES /* fastpath threads; each has its app queue pair */
/* Flows are steered by bucket: the low bits of the 4-tuple's hash pick an
 * entry of dp->steer, which names the core that owns the bucket.  A NIC
 * with RSS is programmed with the same table, so its queue for a packet is
 * the owning core's; single-queue ports are dispatched in software. */
#define DP_STEER_BUCKETS 256
#define DP_FWD_SEND_APPS 4096 /* app ids a forwarded send names: [apps] max_apps' bound */
#define DP_INBOX_SIZE 16384 /* each core's inbox and the slowpath's ring (dp_msg entries) */
/* Tenants (slowpath/tenant.c): id 0 is the default tenant, the one callers
 * that no [tenant NAME] section lists belong to (unless policy refuses them). */
#define DP_MAX_TENANTS 1024
_Static_assert(DP_MAX_TENANTS <= 0xffff, "tenant ids fit below DP_RPC_OTHER_TENANT");
#define DP_TENANT_DEFAULT 0

/* ------------------------------------------------------------ flow state */

/* fp_flow.flags */
#define FPF_ACTIVE        (1u << 0) /* installed in the fastpath hash */
#define FPF_RX_FIN        (1u << 1) /* peer FIN received in order */
#define FPF_TX_FIN_REQ    (1u << 2) /* app shut down writing: FIN after data */
#define FPF_TX_FIN_SENT   (1u << 3) /* FIN sent at least once: it is part of snd_max */
#define FPF_TX_FIN_ACKED  (1u << 4)
#define FPF_RESET         (1u << 5) /* RST received or sent: no more I/O */
#define FPF_IN_RECOVERY   (1u << 6) /* fast recovery until recover_seq acked */
#define FPF_ECN           (1u << 7) /* ECN negotiated: data goes out ECT(0) */
#define FPF_SACK          (1u << 8) /* SACK permitted both ways */
#define FPF_ECE_PENDING   (1u << 9) /* receiver: echo ECE on our ACKs */
#define FPF_CWR_PENDING   (1u << 10) /* sender: set CWR on the next data */
#define FPF_PACE_WAIT     (1u << 11) /* on the fastpath's pacing list */
#define FPF_DETACHED      (1u << 12) /* TIME_WAIT without an app slot (FLOW_DETACH) */
#define FPF_TX_BLOCKED    (1u << 13) /* on the fastpath's list of flows waiting for the port */
#define FPF_TX_FIN_RESEND (1u << 14) /* a timeout rewound past the FIN: send it again */
#define FPF_RX_CLOSED     (1u << 15) /* no process will read again (closed, or its app
				      * exited): new data from the peer resets, as on Linux */
#define FPF_TENANT_WAIT   (1u << 16) /* on the pacing list for its tenant's tokens */
#define FPF_RPC           (1u << 17) /* RPC session: the daemon frames the rx ring
				      * (fp_rpc.c); set before FLOW_ADD only */
#define FPF_RPC_STALL     (1u << 18) /* on the core's list of RPC flows waiting for
				      * heap or message-queue room */
#define FPF_RPC_TX        (1u << 19) /* RPC session whose app posts frames
				      * (BP_DB_MSG_SEND): the daemon fills the tx
				      * ring (rpc_frame_tx.c), the app's
				      * tx_written is ignored */
#define FPF_RPC_FIN_WAIT  (1u << 20) /* shut down while posted frames wait: FIN
				      * once the last one is in the ring */
#define FPF_DELACK        (1u << 21) /* an ACK is owed by delack_due (tcp_delack.c) */
#define FPF_NO_DF         (1u << 22) /* a hop narrower than PKT_MIN_PMTU: segments go
				      * without DF, for a router to fragment
				      * (set at FLOW_ADD or DPM_FLOW_PMTU) */
#define FPF_RTO_UNDO      (1u << 23) /* a timeout's go-back may yet prove needless
				      * (tcp_in.c rto_undo_check(), F-RTO) */

#define FP_OOO_MAX 16  /* out-of-order intervals a receiver holds */
#define FP_SACK_MAX 16 /* SACKed intervals a sender remembers */

/* [start, end) in 64-bit stream positions */
struct fp_range {
	uint64_t start, end;
};

/**
 * struct fp_flow - per-connection fast-path state.
 *
 * Sequence space: all byte positions are kept as 64-bit totals from the
 * first data byte (so they never wrap); the 32-bit wire values are
 * tx_isn + 1 + pos and rx_isn + 1 + pos.
 */
struct fp_flow {
	/* --- identity (set at install; afterwards only mss (and FPF_NO_DF) and
	 * remote_mac change, at DPM_FLOW_PMTU and DPM_FLOW_NEIGH, and ip_id
	 * with every segment: the table above) --- */
	uint32_t local_ip, remote_ip;       /* network order */
	uint16_t local_port, remote_port;   /* host order */
	struct rte_ether_addr remote_mac;
	uint8_t snd_wscale;                 /* shift applied to the peer's window */
	uint8_t rcv_wscale;                 /* shift applied to our advertised window */
	uint16_t mss;                       /* max payload per segment we send */
	uint16_t app_id;
	uint32_t slot, gen;                 /* slot in the app region */
	uint32_t flow_id;
	uint16_t core;                      /* owning fastpath core: set by the slowpath
					     * before FLOW_ADD, afterwards only by the
					     * core that receives the flow (BUCKET_IN) */
	uint16_t bucket;                    /* steering bucket of the 4-tuple */
	uint16_t tenant;                    /* its app's tenant: rate, weight, class */
	uint16_t ip_id;                     /* the next IP ID of its DF segments: the
					     * fastpath's; the slowpath draws its
					     * start before FLOW_ADD */
	struct bp_flow_shm *shm;            /* the slot's shared counters */
	struct rpc_rx_flow *rpc;            /* FPF_RPC: framer state; the slowpath
					     * allocates it before FLOW_ADD and frees
					     * it after FLOW_DEL_DONE, the owning core
					     * alone uses it in between */

	/* --- receive side (fp-owned) --- */
	uint32_t rx_isn;                    /* peer's ISN */
	uint32_t rx_size;
	uint8_t *rx_base;                   /* daemon mapping of the rx ring */
	uint64_t rx_pos;                    /* in-order bytes received == shm rx_written */
	uint64_t rx_consumed;               /* last validated app rx_consumed */
	uint32_t rx_shift;                  /* == shm rx_shift (moved only when empty) */
	uint8_t ooo_n;
	uint8_t ooo_recent;                 /* index of the interval last grown (first SACK block) */
	uint64_t rx_adv_edge;               /* right window edge last advertised */
	uint64_t rx_acked;                  /* rx_pos our last ACK carried */
	uint64_t delack_due;                /* FPF_DELACK: tsc the owed ACK must go by */

	/* --- transmit side (fp-owned) --- */
	uint32_t tx_isn;
	uint32_t tx_size;
	uint8_t *tx_base;
	uint64_t tx_acked;                  /* == shm tx_acked */
	uint64_t tx_sent;                   /* next position to send (snd_nxt) */
	uint64_t tx_max_sent;               /* highest position ever sent */
	uint64_t tx_written;                /* last validated app tx_written */
	uint32_t tx_shift;                  /* the app's tx_shift, taken with tx_written */
	uint64_t tx_fin_pos;                /* FIN position when FPF_TX_FIN_REQ */
	uint64_t recover_pos;               /* NewReno recovery point */
	uint32_t peer_wnd;                  /* bytes, scaled */
	uint16_t dupacks;
	uint8_t sacked_n;
	uint8_t stall_reported;             /* fp-private: a zero-window stall was reported */
	uint64_t sacked_bytes;
	uint64_t sack_high;                 /* highest SACKed position (0 = none) */
	uint64_t retx_next;                 /* recovery: next hole position to resend */
	uint64_t pace_next_tsc;             /* pacing: earliest time of the next segment */
	uint64_t last_rx_tsc;               /* any segment from the peer (keepalive) */

	/* --- policy (sp-owned, atomic) --- */
	uint32_t cwnd;                      /* congestion window, bytes */
	uint64_t pacing_bps;                /* bits per second, 0 = unpaced */
	uint32_t flags;                     /* FPF_*; fp-owned except at install */

	/* --- counters for the slowpath (fp writes relaxed) --- */
	uint64_t cnt_acked;                 /* bytes newly acked, total */
	uint64_t cnt_ecn_acked;             /* bytes acked with ECE set */
	uint32_t cnt_fast_retx;             /* fast retransmits (SACK: counted when a
					     * hole is still open at the round's end) */
	uint32_t rtt_us;                    /* latest RTT sample, 0 = none */
	uint32_t srtt_us, rttvar_us;        /* RFC 6298 estimator, fp-owned */
	uint32_t cnt_cwnd_limited;          /* times data waited for cwnd */
	uint32_t pend;                      /* fp-private FPP_* work bits */
	uint16_t ev_core;                   /* fp-private: the event queue of ... */
	uint64_t ev_pos;                    /* ... the flow's last event: its position
					     * there + 1 (0: none); fp_apps.c post() */
	uint64_t last_progress_tsc;         /* last time snd_una moved or data sent from idle */
	uint64_t rtt_pos;                   /* position whose ack is being timed */
	uint64_t rtt_tsc;                   /* when it was sent; 0 = nothing timed */
	uint64_t cc_report_tsc;             /* fp-private: fp_cc_watch()'s last report */

	/* --- RFC 5961 (fp-owned) --- */
	uint32_t peer_wnd_max;              /* largest window the peer offered (MAX.SND.WND) */
	uint64_t oow_ack_tsc;               /* last challenge / out-of-window ACK sent */

	/* --- loss and reordering only (fp-owned): last, so that the
	 * lines every segment touches stay together (fp_flow_prefetch()) --- */
	uint64_t rx_fin_held;               /* a FIN that came out of order: its
					     * position + 1 (0: none) */
	struct fp_range ooo[FP_OOO_MAX];    /* held out-of-order data, sorted, disjoint;
					     * ooo_n of them */
	struct fp_range sacked[FP_SACK_MAX]; /* peer's SACK scoreboard above tx_acked,
					      * sorted; sacked_n of them */
	uint64_t retx_mark;                 /* recovery: tx_max_sent at the last hole
					     * resent (0: none since the walk began) */
	uint8_t fast_retx_due;              /* SACK recovery declared, not counted yet:
					     * tcp_output() counts it if a hole is open */
	uint32_t cnt_rto_spurious;          /* timeouts an ACK showed needless; the
					     * slowpath undoes their window cut */
	uint64_t rto_floor;                 /* FPF_RTO_UNDO: only an ACK above this
					     * (what an earlier go-back of the episode
					     * resent) counts */
} __rte_cache_aligned;

/* fastpathd/NOTES.md: every segment's fields fit the lines fp_flow_prefetch() fetches */
_Static_assert(offsetof(struct fp_flow, ooo) <= 6 * RTE_CACHE_LINE_SIZE,
	       "the fields every segment touches stay in fp_flow's first six lines");

/* fields the two threads share through relaxed atomics must be naturally
 * aligned, or a load could see half of a store (ownership table above) */
#define FP_FLOW_SHARED_ALIGNED(field)					\
	_Static_assert(offsetof(struct fp_flow, field) %			\
		       sizeof(((struct fp_flow *)0)->field) == 0,		\
		       "fp_flow." #field " is shared: keep it aligned")
FP_FLOW_SHARED_ALIGNED(cwnd);
FP_FLOW_SHARED_ALIGNED(pacing_bps);
FP_FLOW_SHARED_ALIGNED(flags);
FP_FLOW_SHARED_ALIGNED(cnt_acked);
FP_FLOW_SHARED_ALIGNED(cnt_ecn_acked);
FP_FLOW_SHARED_ALIGNED(cnt_fast_retx);
FP_FLOW_SHARED_ALIGNED(cnt_rto_spurious);
FP_FLOW_SHARED_ALIGNED(cnt_cwnd_limited);
FP_FLOW_SHARED_ALIGNED(rtt_us);
FP_FLOW_SHARED_ALIGNED(srtt_us);
FP_FLOW_SHARED_ALIGNED(rttvar_us);
FP_FLOW_SHARED_ALIGNED(last_progress_tsc);
FP_FLOW_SHARED_ALIGNED(last_rx_tsc);
FP_FLOW_SHARED_ALIGNED(tx_acked);
FP_FLOW_SHARED_ALIGNED(tx_sent);
FP_FLOW_SHARED_ALIGNED(tx_max_sent);
FP_FLOW_SHARED_ALIGNED(rx_pos);      /* bypassctl flows (sp_fp_flow_read_info) */
FP_FLOW_SHARED_ALIGNED(rx_consumed);
FP_FLOW_SHARED_ALIGNED(core);
FP_FLOW_SHARED_ALIGNED(tx_written);
FP_FLOW_SHARED_ALIGNED(peer_wnd);

/* --------------------------------------------------------------- apps */

/**
 * struct dp_app_fp - what fastpath core k keeps about one app (fp_apps.c).
 * A core polls the data queues of its active apps every round; an idle
 * app (no doorbell for a while) is off that list and its header's
 * fp_sleeping[k] stays set, so its next doorbell kicks the core.
 * @last_db: tsc of the last doorbell taken from the app's queue k.
 * @idx: position in the core's list of every app.
 * @act_idx: position in the core's active list, UINT32_MAX if idle.
 * @kick_pending: events posted this round: wake the app at the end of it.
 * @msgq_full: message queue k was full with RPC flows waiting (on the
 *             core's fp_ctx.qfull list; the header's msgq_full[k] is set).
 * @rpc_room: a run of its heap part k came back, or queue k drained, this
 *            round: its stalled RPC flows go on (on fp_ctx.room_apps).
 */
struct dp_app_fp {
	uint64_t last_db;
	uint32_t idx;
	uint32_t act_idx;
	bool kick_pending;
	bool msgq_full;
	bool rpc_room;
};

/**
 * struct dp_app - daemon-side record of an attached app.  Sizes and offsets
 * are private copies: the region header is app-writable and never re-read.
 */
struct dp_app {
	uint16_t app_id;
	bool in_use;
	uint16_t tenant;        /* set by the slowpath before APP_ADD, never changed */
	char name[64];
	int conn_fd;            /* Unix socket; EOF means the app died */
	int memfd;
	uint8_t *base;          /* daemon mapping of the region */
	uint64_t region_size;
	uint32_t max_flows;
	uint32_t rx_buf_size, tx_buf_size;
	uint64_t buffers_off;
	struct bp_region_hdr *hdr;
	struct bp_flow_shm *flows;
	/* each side with open file descriptions of its own (slowpath/wake.c):
	 * nothing an app does to its copies can make the daemon's reads or
	 * writes block */
	int wake_fd;            /* pipe: the daemon writes here to wake the app */
	int wake_keep_fd;       /* ... that pipe's read end, kept: no EPIPE */
	int sp_doorbell_fd;     /* socketpair end: the app sends after a ctrl
				 * request; sp reads */
	/* queue views: ctrlq/sp_evq used by the slowpath thread only,
	 * dataq/fp_evq by the fastpath thread only */
	struct bp_queue_view ctrlq, sp_evq;
	struct bp_queue_view dataq[DP_MAX_CORES], fp_evq[DP_MAX_CORES]; /* core k: its own pair */
	uint32_t *slot_flow;    /* slot -> flow id (DP_INVALID_FLOW if none); sp-owned */
	uint32_t *fp_slot_flow; /* the fastpath's own copy, changed by FLOW_ADD/DEL */
	struct dp_app_fp fp[DP_MAX_CORES]; /* core k's bookkeeping, written by core k only */
	uint32_t slots_used;
	uint64_t bad_entries;   /* malformed queue entries rejected: every
				 * core and the slowpath count them
				 * (dp_app_bad_entry()), so atomically */
	/* RPC message heap (fp_rpc.c): private copies of its place, the
	 * message queue core k produces, and core k's part's bookkeeping
	 * (set by the slowpath before APP_ADD, then core k's alone) */
	uint64_t heap_off, heap_size, heap_part;
	uint32_t msg_max;       /* body bytes of the largest message (0: a part's) */
	uint64_t txarea_off, txarea_size; /* send area: the app's, the cores read it */
	struct bp_queue_view msgq[DP_MAX_CORES];
	struct rpc_heap heap[DP_MAX_CORES];
	void *sp_priv;          /* slowpath bookkeeping (libev watchers) */
};

/* where slot @slot's rx ring starts (tx ring follows), from private copies */
static inline uint64_t dp_app_slot_rx_off(const struct dp_app *app, uint32_t slot)
{
	return app->buffers_off + (uint64_t)slot * ((uint64_t)app->rx_buf_size + app->tx_buf_size);
}

/* count a malformed entry of @app's: any core or the slowpath may */
static inline void dp_app_bad_entry(struct dp_app *app)
{
	__atomic_fetch_add(&app->bad_entries, 1, __ATOMIC_RELAXED);
}

/* ----------------------------------------------- fp <-> sp messages */

/* DPM_FLOW_SHUTWR's arg */
#define DP_SHUTWR_LAST_HOLDER 1u /* no process reads again: unread or later data resets */
/* the app is gone and posts nothing more: an RPC session's FIN waits only
 * for the frames already seen (its queued doorbells taken first), not for
 * what it said it posted (the app's word), also if it waits already */
#define DP_SHUTWR_APP_GONE 2u

enum dp_msg_type {
	/* slowpath -> fastpath */
	DPM_TX_PKT = 1,     /* ptr: mbuf to transmit as is */
	DPM_FLOW_ADD,       /* flow_id: install dp->flows[flow_id] in the hash */
	DPM_FLOW_DEL,       /* flow_id: remove; arg 1 = send RST first */
	DPM_FLOW_RETX,      /* flow_id: RTO fired: go back to snd_una (or probe);
			     * ptr: (uintptr_t) the tx_acked the slowpath saw */
	DPM_FLOW_SHUTWR,    /* flow_id: send FIN after the buffered data; arg:
			     * DP_SHUTWR_*; ptr: an RPC session's app posted this
			     * many frames before it asked: the FIN waits for them */
	DPM_APP_ADD,        /* ptr: struct dp_app *, start polling its data queue */
	DPM_APP_DEL,        /* ptr: struct dp_app *, stop polling; answer APP_DEL_DONE */
	DPM_RX_REINJECT,    /* ptr: mbuf that raced a FLOW_ADD; process it as received */
	DPM_FLOW_MOVE,      /* flow_id, ptr: struct dp_move: hand the flow to another app */
	DPM_FLOW_PROBE,     /* flow_id: send a keepalive probe (an old sequence number) */
	DPM_FLOW_DETACH,    /* flow_id: TIME_WAIT: stop using the app's slot; answer DETACH_DONE */
	DPM_BUCKET_OUT,     /* arg: bucket, flow_id: the core to hand it to (core to core too) */
	DPM_FLOW_PMTU,      /* flow_id, arg: a smaller MSS the path takes: send no larger
			     * segment from now on, and resend what is in flight
			     * (not with DP_PMTU_QUIET); with DP_PMTU_NO_DF,
			     * without DF from now on */
	DPM_FLOW_NEIGH,     /* flow_id, ptr: the next hop's new MAC, its 6 bytes in
			     * memory order in an integer: address frames there */
	DPM_FLOW_CWND,      /* flow_id: its cwnd grew while few segments were in
			     * flight: send what the window lets go now */
	/* fastpath core -> fastpath core */
	DPM_BUCKET_IN,      /* arg: bucket, ptr: struct dp_bucket_move: its flows, now yours */
	DPM_RX_FWD,         /* ptr: mbuf received on another core's queue, for a bucket you own */
	DPM_DOORBELL,       /* flow_id, arg: BP_DB_*, ptr: app_id << 32 | gen: an app rang
			     * another core's queue */
	DPM_DOORBELL_SEND,  /* flow_id, arg: prio * DP_FWD_SEND_APPS + app_id, ptr: gen << 32 |
			     * area_off: a BP_DB_MSG_SEND on another core's queue */
	/* fastpath -> slowpath */
	DPM_RX_PKT,         /* ptr: mbuf the fastpath does not handle (SYN, ARP reply, ...) */
	DPM_FLOW_FIN_RCVD,  /* flow_id */
	DPM_FLOW_FIN_ACKED, /* flow_id */
	DPM_FLOW_RST_RCVD,  /* flow_id */
	DPM_FLOW_DEL_DONE,  /* flow_id: fastpath forgot it; slot may be freed */
	DPM_APP_DEL_DONE,   /* ptr: struct dp_app * no longer referenced by fp */
	DPM_FLOW_BAD_APP,   /* flow_id: app wrote an invalid counter; reset it */
	DPM_FLOW_MOVE_DONE, /* flow_id, ptr: the struct dp_move back, status set */
	DPM_FLOW_DETACH_DONE, /* flow_id: the app slot is no longer referenced */
	DPM_BUCKET_MOVED,   /* arg: bucket, flow_id: new core: a BUCKET_OUT completed */
};

/**
 * struct dp_bucket_move - the flows of one steering bucket changing core.
 * The old core allocates it, fills @flows and sends it with BUCKET_IN; the
 * new core installs them and frees it.
 */
struct dp_bucket_move {
	uint16_t bucket, from;
	uint32_t nflows;
	uint32_t flows[];
};

/**
 * struct dp_move - one flow changing owner (a fork()ed child adopting it).
 * The slowpath allocates @slot in @to and fills everything but @status;
 * the fastpath copies the rings and counters over, switches the flow to
 * the new slot and returns the struct.  Sizes must match: both slots come
 * from the same daemon configuration.
 */
struct dp_move {
	struct dp_app *to;
	uint32_t slot, gen;       /* the new slot in @to */
	uint32_t req_id;          /* the adopter's BP_CTRL_ADOPT, answered at the end */
	uint16_t from_app;
	uint32_t from_slot;
	int status;               /* 0 or -errno, set by the fastpath */
};

struct dp_msg {
	uint16_t type;
	uint16_t arg;
	uint32_t flow_id;
	void *ptr;
};
_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t), "DPM_FLOW_RETX's ptr holds a position");

/* ------------------------------------------------------------ tenants */

/* struct dp_tenant_policy.prio: served in this order under contention */
enum dp_prio {
	DP_PRIO_LATENCY = 0,    /* latency-sensitive: served first every round */
	DP_PRIO_NORMAL = 1,
	DP_PRIO_BULK = 2,       /* served with what the others leave */
	DP_PRIO_MAX,
};

/**
 * struct dp_tenant_policy - what the slowpath decides for one tenant and
 * the fastpath enforces on every flow of it (together with each flow's own
 * congestion-control window and rate: the lower wins).
 * @rate_bps: egress limit in bits per second, 0 = none.
 * @burst_bytes: depth of the token bucket (bytes sent at line rate after idle).
 * @weight: share of the link and of each fastpath core under contention (1..1000).
 * @prio: DP_PRIO_*.
 * @rx_rate_bps: ingress limit, enforced through the receive window; 0 = none
 *               (ingress is always counted).
 */
struct dp_tenant_policy {
	uint64_t rate_bps;
	uint64_t burst_bytes;
	uint32_t weight;
	uint8_t prio;
	uint64_t rx_rate_bps;
};

/**
 * struct dp_tenant - one tenant as the fastpath sees it.  @policy is
 * written by the slowpath (sp_fp_tenant_set(), relaxed stores, then
 * @policy_gen is bumped with release order) and read by every core; the
 * rest is fastpath state and per-core counters (each core writes only its
 * own row; the slowpath reads relaxed).
 */
/*
 * struct dp_tenant_core - one core's counters for one tenant: written by
 * that core only (plain increments), read relaxed by the slowpath
 * (sp_fp_tenant_stats() sums the rows).  A row per cache line, so cores
 * never share one.
 */
struct dp_tenant_core {
	uint64_t tx_bytes, tx_pkts;         /* TCP payload bytes, segments sent */
	uint64_t rx_bytes, rx_pkts;         /* payload bytes, segments received */
	uint64_t throttled;                 /* a flow had to wait: tenant tokens or the port */
} __rte_cache_aligned;

struct dp_tenant {
	struct dp_tenant_policy policy;
	uint32_t policy_gen;                /* bumped after every policy change */
	bool in_use;
	/* the egress token bucket (tenant_sched.h, GCRA): the tsc at which it
	 * is full again.  Shared by every core that has a flow of the tenant:
	 * changed only by compare-and-swap (tq_take()). */
	uint64_t tx_tat __rte_cache_aligned;
	struct dp_tenant_core core[DP_MAX_CORES];
} __rte_cache_aligned;

/* ------------------------------------------------------------ capture */

/*
 * bypassctl capture (fastpathd/capture.c, slowpath/capture.c).  A few
 * captures may run at once; each is one struct dp_capture.  The slowpath
 * fills a free slot completely (program, tenant, snaplen; its rings are
 * empty), then sets its bit in dp->capture_mask with release order.  Every
 * core loads the mask once per round (acquire): with no capture running,
 * that load and one predictable branch per received frame and per transmit
 * batch are all a capture costs.  While the bit is set, core k runs the
 * program on every frame it processes as received (before processing
 * it; once per frame, see fastpathd/NOTES.md "Capture") and every frame
 * it transmits (at the flush), and puts a pcapng copy of
 * up to snaplen bytes of the matches (from dp->capture_pool, never the
 * traffic's pool) on ring[k]; a full ring or an empty pool drops the copy
 * and counts it in core[k].dropped, never the frame.  To stop, the
 * slowpath clears the bit and reuses the slot (program, rings) only after
 * every core finished the round that may have seen it set (its epoch
 * moved, or it sleeps): sp_fp_capture_quiet().
 *
 *   field                      | fastpath core k         | slowpath
 *   ---------------------------+-------------------------+---------------------
 *   prog, nprog, snaplen,      | reads while the bit is  | writes while the bit
 *     tenant                   |   set                   |   is clear and quiet
 *   ring[k]                    | enqueues (single prod.) | dequeues (single cons.)
 *   core[k].matched, .dropped  | plain increments        | relaxed reads
 */
#define DP_CAPTURE_MAX 4          /* captures at once */
#define DP_CAPTURE_RING 2048      /* copies a core may hold for the slowpath */
#define DP_CAPTURE_ALL_TENANTS (-1)

/* one classic BPF instruction, laid out as libpcap's struct bpf_insn */
struct dp_bpf_insn {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};

struct dp_capture_core {
	uint64_t matched;           /* frames the program selected */
	uint64_t dropped;           /* ... whose copy was lost (ring full, pool empty) */
} __rte_cache_aligned;

struct dp_capture {
	struct dp_bpf_insn *prog;   /* validated (cap_bpf_check, bpf_validate) by the slowpath */
	uint32_t nprog;             /* 0: every frame */
	uint32_t snaplen;
	int32_t tenant;             /* DP_CAPTURE_ALL_TENANTS, or only this tenant's flows */
	uint64_t quiet_epoch[DP_MAX_CORES]; /* slowpath: the cores' epochs at the stop */
	struct rte_ring *ring[DP_MAX_CORES]; /* pcapng EPB mbufs, core k -> slowpath */
	struct dp_capture_core core[DP_MAX_CORES];
};

/* --------------------------------------------------------- statistics */

enum dp_counter {
	DPC_RX_PKTS, DPC_TX_PKTS, DPC_RX_BYTES, DPC_TX_BYTES,
	DPC_RX_DROP_BAD,      /* failed validation (per-reason in pkt verdicts) */
	DPC_RX_DROP_NOFLOW,   /* not ours */
	DPC_RX_OOO,           /* out-of-order segments held */
	DPC_RX_OOO_DROP,      /* out-of-order segments we could not hold */
	DPC_RX_DUP,           /* fully duplicate segments */
	DPC_TX_RETX,          /* segments retransmitted */
	DPC_FAST_RETX,
	DPC_LOST_RETX,        /* recoveries that found their resends lost: holes walked again */
	DPC_RTO,              /* retransmission timeouts, not zero-window probes (slowpath) */
	DPC_RTO_SPURIOUS,     /* timeouts an ACK showed needless (F-RTO): the slowpath
			       * undoes the window cut if it kept the window */
	DPC_ARP_REPLIES, DPC_ICMP_ECHO,
	DPC_APP_BAD_ENTRY,    /* malformed doorbell / ctrl entries */
	DPC_EVQ_OVERFLOW,
	DPC_EV_COALESCED,     /* events not posted: the flow's last one was still unread */
	DPC_TX_NOMBUF, DPC_TX_FULL, DPC_TX_DEFERRED,
	DPC_CHALLENGE_ACK,    /* RFC 5961 challenge ACKs (and ACKs to unacceptable ACKs) */
	DPC_SYN_COOKIE_SENT,  /* SYN-ACKs carrying a cookie (half-open queue full) */
	DPC_SYN_COOKIE_OK,    /* connections a valid cookie created */
	DPC_SYN_COOKIE_BAD,   /* ACKs with a forged or expired cookie */
	DPC_SYN_DROPPED,      /* SYNs dropped: bogus source, every backlog full */
	DPC_FORWARDED,        /* frames received on one core's queue for another's bucket */
	DPC_RX_FWD_IN,        /* frames another core passed to this one, kept */
	DPC_RX_KEPT,          /* frames from this core's queue it did not pass on */
	DPC_PARKED,           /* frames and messages held while their bucket moved in */
	DPC_PARK_DROP,        /* frames dropped because too many waited */
	DPC_FLOWS_MOVED,      /* flows that changed core */
	DPC_WRONG_CORE,       /* a flow about to be processed off its core: must stay 0 */
	DPC_RPC_MSGS,         /* RPC sessions: descriptors queued to apps */
	DPC_RPC_PROTO_ERR,    /* RPC sessions reset for a malformed frame */
	DPC_RPC_STALLS,       /* RPC framer stopped: heap or message queue full */
	DPC_RPC_BAD_RETURN,   /* BP_DB_MSG_DONE for a buffer the app does not hold */
	DPC_RPC_TX_FRAMES,    /* posted RPC frames moved into tx rings */
	DPC_RPC_TX_OVERTAKES, /* ... of those, ahead of a frame posted earlier */
	DPC_RPC_TX_REFUSED,   /* posts refused: bad frame or offset, class full, closed */
	DPC_RPC_TIMEOUTS,     /* RPC sessions reset: a message not whole in [rpc] message_timeout_ms */
	DPC_RPC_WATCH_RETRIES, /* sessions long without heap room, scanned with break_wait */
	DPC_RPC_WATCH_COMPACT, /* the watch ring filled with stale entries and was compacted */
	DPC_TX_TSO,           /* frames of several segments handed to the port's TSO */
	DPC_TX_PREPARE_DROP,  /* frames the PMD's tx_prepare refused (offload fields) */
	DPC_SP_BACKLOG,       /* slowpath messages that waited on their core for ring room */
	DPC_SP_OUTBOX,        /* messages the slowpath held back: a core's inbox was full */
	DPC_SP_TX_DROP,       /* frames the slowpath dropped: core 0's inbox was full */
	DPC_PORT_WAKEUPS,     /* sleeps the port ended (rx interrupt or the PMD's socket) */
	DPC_ICMP_ERR,         /* ICMP errors about our TCP, to the slowpath */
	DPC_ICMP_ERR_LIMITED, /* ... dropped: over a core's share a window (fp_arp_icmp.c) */
	DPC_PMTU_LOWERED,     /* path MTU news flows took up (a smaller MSS, DF
			       * cleared, a resend after following): their own
			       * "fragmentation needed", or another's (slowpath) */
	DPC_ICMP_CONNECT_FAILED, /* connects an ICMP error ended (slowpath) */
	DPC_ICMP_ERR_IGNORED, /* ... that named no segment of ours in flight, no smaller
				   * MTU, or a connection past its handshake (slowpath) */
	DPC_RX_DROP_OTHERHOST, /* frames to another host's unicast MAC (fp_rx.c) */
	DPC_NEIGH_FOLLOWED,   /* flows that followed their next hop to a new MAC (fp_msg.c) */
	DPC_ICMP_HALF_OPEN_DROPPED, /* half-open connections an ICMP error about
				     * our SYN-ACK ended (slowpath/synq.c) */
	DPC_IP_FRAGS,         /* IP fragments for us, to the slowpath (fp_arp_icmp.c) */
	DPC_IP_FRAGS_LIMITED, /* ... dropped: the cores' bucket was empty */
	DPC_IP_REASM_OK,      /* datagrams reassembled and taken (slowpath/frag.c) */
	DPC_IP_REASM_FAILED,  /* ... dropped incomplete: overlap, too long, timeout,
			       * evicted, or of no use to us */
	DPC_MAX,
};

/**
 * struct dp_core - what the outside world knows of one fastpath core.  The
 * core itself keeps everything else in its private struct fp_ctx.
 */
/*
 * RPC calls per (tenant, method), per core: an open-addressed table the
 * core fills (key set once, with a release store of @used, counters with
 * relaxed increments) and the slowpath sums over cores (relaxed loads).
 * The method ids come from the wire, so the table never lets them cost
 * more than a bounded lookup or count one tenant's calls as another's:
 * a key is looked for in DP_RPC_STAT_PROBES entries only; new methods take
 * entries while fewer than DP_RPC_STAT_NAMED are used, so there is room
 * left for each tenant's entry with method DP_RPC_OTHER, where its
 * methods go beyond that; and entry 0 is kept for tenant
 * DP_RPC_OTHER_TENANT, which counts what finds no place even there.
 */
#define DP_RPC_STATS 512
#define DP_RPC_STAT_PROBES 16
#define DP_RPC_STAT_NAMED (DP_RPC_STATS * 3 / 4)
#define DP_RPC_OTHER 0xffffffffu  /* method of the overflow entries */
#define DP_RPC_OTHER_TENANT 0xffffu /* entry 0's tenant: no tenant has this id */
struct dp_rpc_stat {
	uint32_t used;      /* 0 free; 1 key valid */
	uint16_t tenant;
	uint16_t pad;
	uint32_t method;    /* 16-bit method id, or DP_RPC_OTHER */
	uint32_t pad2;
	uint64_t calls;     /* REQUEST messages received */
	uint64_t resp_ok;   /* RESPONSE messages received with status OK */
	uint64_t resp_err;  /* ... with another status */
};

struct dp_core {
	struct rte_ring *inbox;             /* dp_msg from the slowpath and other cores */
	int kick_fd;                        /* eventfd: wakes this core when it sleeps;
					     * the daemon's own, never an app's */
	int app_kick_fd;                    /* unix datagram socket apps wake the core
					     * through, each app with a socket of its
					     * own (slowpath/wake.c, sp_fp_kick_fds()) */
	uint16_t rxq;                       /* port rx queue it polls, UINT16_MAX: none */
	uint16_t txq;                       /* port tx queue it sends on */
	uint32_t sleeping;                  /* the core is (about to be) blocked */
	uint32_t parked;                    /* messages it holds for buckets moving in:
					     * a FLOW_ADD among them is taken but not
					     * done (early_expired()) */
	uint64_t epoch;                     /* rounds completed (grace periods of moves) */
	uint64_t deferred_epoch;            /* the epoch of the round that routed the
					     * oldest message still in its deferred list
					     * (waiting for a full inbox); UINT64_MAX: none */
	uint64_t busy_tsc, idle_tsc;        /* time with and without work, for the monitor */
	uint32_t nflows;                    /* flows it owns (relaxed; the monitor reads it) */
	uint32_t busy_pct;                  /* smoothed by the slowpath's monitor */
	/* flows that started to need the slowpath's timers (data or a FIN
	 * sent from idle, a zero window with data waiting): flow ids, this
	 * core enqueues, the slowpath dequeues every tick; no kick.  An id
	 * with DP_TIMER_CC asks for a look at its congestion control now
	 * (fp_cc_watch()).  If the ring is full the core sets timer_lost and
	 * the slowpath looks at every flow once (slowpath/conn_timer.c) */
	struct rte_ring *timer_ring;
	uint32_t timer_lost;
	uint64_t counters[DPC_MAX];         /* written by this core only */
	uint64_t drop_reason[16];           /* per pkt_verdict */
	struct dp_rpc_stat rpc_stats[DP_RPC_STATS]; /* this core only; slowpath sums */
	uint32_t rpc_stats_used;            /* entries with a key (this core only) */
} __rte_cache_aligned;

/**
 * struct dataplane - the one global context of fastpathd.
 */
struct dataplane {
	struct bp_config cfg;
	uint16_t port_id;
	struct rte_ether_addr mac;
	uint32_t ip, netmask, gateway;      /* network order */
	struct rte_mempool *pool;
	struct rte_ring *to_sp;             /* dp_msg ring, every core -> slowpath */
	int sp_kick_fd;                     /* eventfd: wakes the slowpath */
	uint32_t ncores;                    /* fastpath threads ([fastpath] cores) */
	uint16_t nqueues;                   /* port queue pairs (ncores with RSS, else 1) */
	bool rss;                           /* the port steers by the table itself */
	bool tx_shared;                     /* cores share tx queues: take txq_lock */
	/* offloads the port took ([port] offload; port.c): checksums
	 * verified on receive (frames the port marks good skip ours) and
	 * finished on transmit, and with tso a data frame up to tso_max
	 * payload bytes that the port cuts into MSS segments */
	bool rx_csum;
	bool tx_csum;
	bool tso;
	uint32_t tso_max;
	uint32_t tso_mss_max;               /* flows with a larger MSS send MSS frames */
	/* IP IDs of segments without DF (FPF_NO_DF), which a router may
	 * fragment, and of the slowpath's echo replies: a counter per hashed
	 * destination that every core and the slowpath take from (atomic,
	 * dp_ip_ident()), from a random start, as Linux's ip_idents, so no
	 * two datagrams to one host in its reassembly time share an ID (RFC
	 * 6864); segments with DF take their flow's own counter (fp_flow.ip_id) */
	struct siphash_key ip_ident_key;    /* SipHash: which counter, unguessable */
	uint16_t ip_idents[DP_IP_IDENTS] __rte_cache_aligned; /* off frame_max()'s line */
	struct dp_core core[DP_MAX_CORES];
	uint8_t steer[DP_STEER_BUCKETS];    /* bucket -> core; written by the core giving
					     * the bucket away, read by every producer */
	rte_spinlock_t txq_lock[DP_MAX_CORES];
	/* the slowpath's outbox (slowpath/sp_fp.c): messages that wait for
	 * room in an inbox, and a count of pushes into it and moves out of
	 * it, so a held doorbell can tell its FLOW_ADD may still be coming.
	 * Slowpath-written (release), read by the cores (acquire). */
	uint32_t sp_outbox_len;
	uint32_t sp_outbox_moves;
	rte_spinlock_t reta_lock;           /* one RETA update at a time (port.c) */
	/* IP fragments to the slowpath: one token bucket every receiving core
	 * takes from, under its lock (fp_arp_icmp.c; a NIC's RSS sends all
	 * fragments to one queue, so there is no one to contend with) */
	rte_spinlock_t frag_lock;
	uint64_t frag_last;                 /* tokens counted up to (tsc) */
	uint32_t frag_tokens;               /* how many may go now */
	bool reta_failed;                   /* a RETA update failed: said once */
	/* the slowpath routes flow messages by dp->steer too, so moves wait
	 * for it like for a core: its loop iterations and when it blocks */
	uint64_t sp_epoch;
	uint32_t sp_sleeping;
	struct fp_flow *flows;              /* [cfg.max_flows] */
	struct dp_app *apps;                /* [max_apps], allocated by dp_init() */
	uint32_t max_apps;                  /* cfg.max_apps */
	struct dp_tenant *tenants;          /* [DP_MAX_TENANTS], see struct dp_tenant */
	uint32_t tenants_gen;               /* bumped (release) after any policy change */
	uint64_t port_tat __rte_cache_aligned; /* [fastpath] tx_rate's bucket, shared like tx_tat */
	/* bypassctl capture: see struct dp_capture; bit i = capture[i] runs */
	uint32_t capture_mask;
	struct dp_capture capture[DP_CAPTURE_MAX];
	struct rte_mempool *capture_pool;   /* pcapng copies, created by the first capture */
	volatile int stop;
	uint64_t tsc_hz;
	uint64_t sp_counters[DPC_MAX];      /* slowpath-written */
	void *sp_priv;
};

/*
 * dp_kicks_take - take the wakeup datagrams queued on @fd, the daemon's
 * own end of an app's doorbell or of a core's kick socket
 * (slowpath/wake.c).  At most a round's worth: an app that keeps sending
 * leaves @fd readable, so its reader comes back after serving the others.
 */
static inline void dp_kicks_take(int fd)
{
	char buf[16];

	for (int n = 0; n < 64 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0; n++)
		;
}

extern struct dataplane *g_dp;

const char *dp_counter_name(enum dp_counter c);
int dp_init(struct dataplane *dp, char *err, size_t errlen);
void dp_fini(struct dataplane *dp);

/*
 * Send a message; on a full ring the caller keeps ownership of ptr.
 * dp_send_to_fp() goes to the core that owns @flow_id (core 0 for
 * messages about no flow, e.g. DPM_TX_PKT; DPM_APP_ADD/DEL travel on from
 * core to core by themselves), as dp->steer names it for the flow's bucket.
 * A core that no longer owns the bucket forwards it, in order (fp_steer.c).
 */
int dp_send_to_fp(struct dataplane *dp, uint16_t type, uint32_t flow_id, uint16_t arg, void *ptr);
/** dp_msg_core - the core dp_send_to_fp() sends a message of @type about @flow_id to. */
uint32_t dp_msg_core(struct dataplane *dp, uint16_t type, uint32_t flow_id);
int dp_send_to_core(struct dataplane *dp, uint32_t core, uint16_t type, uint32_t flow_id,
		    uint16_t arg, void *ptr);
int dp_send_to_sp(struct dataplane *dp, uint16_t type, uint32_t flow_id, uint16_t arg, void *ptr);
void dp_kick_core(struct dataplane *dp, uint32_t core);

/** dp_fp_counter - a fastpath counter summed over the cores (relaxed reads). */
uint64_t dp_fp_counter(const struct dataplane *dp, enum dp_counter c);
uint64_t dp_drop_reason(const struct dataplane *dp, unsigned verdict);

/**
 * dp_bucket - the steering bucket of a flow, from its 4-tuple as received
 * (remote is the source).  The one hash fastpath and slowpath both use: the
 * NIC's RSS hash when the port computes it (then the table is the NIC's
 * RETA), else a cheap software hash.
 */
uint16_t dp_ip_ident(struct dataplane *dp, uint32_t daddr, uint8_t proto);
uint32_t dp_bucket_hash(const struct dataplane *dp, uint32_t raddr, uint32_t laddr,
			uint16_t rport, uint16_t lport);
static inline uint16_t dp_bucket_of(uint32_t hash)
{
	return (uint16_t)(hash & (DP_STEER_BUCKETS - 1));
}

/** dp_steer - the core a bucket is steered to now (relaxed: a hint for producers). */
static inline uint32_t dp_steer(const struct dataplane *dp, uint16_t bucket)
{
	return __atomic_load_n(&dp->steer[bucket], __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------- thread roles */

/*
 * Which side of the contract the calling thread is.  Each thread sets its
 * role when it starts (fp_run(): fastpath core k; the slowpath thread and
 * sp_start()/sp_stop() on the thread that runs them: slowpath); unit tests
 * and fuzz fixtures that call one side's functions directly set it too.
 * A fastpath thread also says which core it is; fp_owns() checks that
 * the thread is the core of its context and that the core owns the flow's
 * steering bucket (fastpathd/fp_steer.c).
 */
enum dp_role {
	DP_ROLE_NONE = 0,   /* a thread that has not said (an app thread, a test's helper) */
	DP_ROLE_SP,         /* the slowpath */
	DP_ROLE_FP,         /* a fastpath thread, core dp_self_core */
};

extern __thread uint8_t dp_self_role;
extern __thread uint16_t dp_self_core;

/** dp_role_set - declare the calling thread's role (and fastpath core). */
void dp_role_set(enum dp_role role, uint16_t core);

/* report a function that ran on a thread that does not own its data; aborts */
void dp_role_violation(const char *func, enum dp_role want, int core)
	__attribute__((noreturn, cold));

#ifndef NDEBUG
/* the caller owns slowpath data (slots, conns, listeners, app ctrl queues) */
#define DP_ASSERT_SP() do {						\
	if (__builtin_expect(dp_self_role != DP_ROLE_SP, 0))		\
		dp_role_violation(__func__, DP_ROLE_SP, -1);		\
} while (0)
/* the caller owns fastpath data (the flow hash, installed flows, app data queues) */
#define DP_ASSERT_FP() do {						\
	if (__builtin_expect(dp_self_role != DP_ROLE_FP, 0))		\
		dp_role_violation(__func__, DP_ROLE_FP, -1);		\
} while (0)
/* ... and is fastpath core @core (the one a flow is steered to) */
#define DP_ASSERT_FP_CORE(core) do {					\
	if (__builtin_expect(dp_self_role != DP_ROLE_FP ||		\
			     dp_self_core != (core), 0))		\
		dp_role_violation(__func__, DP_ROLE_FP, (int)(core));	\
} while (0)
#else
#define DP_ASSERT_SP() do { } while (0)
#define DP_ASSERT_FP() do { } while (0)
#define DP_ASSERT_FP_CORE(core) do { (void)(core); } while (0)
#endif

#endif
