/* SPDX-License-Identifier: MIT */
/*
 * fastpath.h - private interfaces of the fastpath thread (run-to-completion
 * loop, TCP input/output for established flows, app doorbells and events).
 */
#ifndef FP_FASTPATH_H
#define FP_FASTPATH_H

#include <stddef.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include "dataplane.h"
#include "pkt.h"
#include "tenant_sched.h"

#define FP_TX_BATCH 64
/* frames the port refused (its queue full: the peer is slow to drain a
 * memif ring, the kernel an XDP ring); sent first, in order, next round */
#define FP_TX_BACKLOG 8192
/* above this many buffers in the backlog (a TSO frame is a chain of
 * them), flows stop sending data until it is down to a quarter (local
 * backpressure, as Linux's TSQ): dropping instead would cost each flow a
 * timeout and feed a retransmission storm */
#define FP_TX_BACKLOG_HIGH 1024
/* apps' doorbells are left in their queues while this many messages wait
 * for other cores' full inboxes (fp_apps.c) */
#define FP_DEFERRED_APPS_MAX 4096
#define FP_MAX_TOUCHED 1024
/* doorbells naming a flow whose FLOW_ADD no core has applied yet, held
 * until the inboxes have moved on (fp_apps.c hold_early()); more than
 * this are dropped as bad */
#define FP_EARLY_DOORBELLS 1024
/* what an honest app may ring before its flows are in: full send queues
 * of every class on a few new sessions at once, and a few more */
#define FP_EARLY_PER_APP (4 * BP_MSG_PRIOS * BP_MSG_TX_DEPTH + 8)

/* fp_flow.pend: work collected during a receive burst, done at its end */
#define FPP_TOUCHED  (1u << 0)
#define FPP_ACK      (1u << 1) /* send an ACK unless data goes out anyway */
#define FPP_OUTPUT   (1u << 2) /* window or app data changed: try to send */
#define FPP_EV_RX    (1u << 3)
#define FPP_EV_TX    (1u << 4)

/* a steering bucket this core is handing away, waiting for a grace period */
struct fp_move_out {
	uint16_t bucket, to;
	uint64_t epoch[DP_MAX_CORES]; /* every core's epoch when the steer changed */
	uint64_t sp_epoch;            /* and the slowpath's */
};

/* delayed ACKs owed, in the order they fall due (tcp_delack.c): a
 * power of two; when full, ACKs go out at once */
#define FP_DELACK_QUEUE 4096

struct fp_delack {
	uint32_t flow_id;
	uint64_t due;               /* the flow's delack_due when it was queued */
};

/* a message for another core whose inbox was full: sent first next round */
struct fp_deferred {
	struct dp_msg msg;
	uint32_t core;
	uint64_t epoch; /* of the round that routed it (fp_steer.c, grace_over()) */
};

struct fp_ctx {
	struct dataplane *dp;
	uint32_t core;               /* index in dp->core[] */
	struct dp_core *self;
	uint64_t *cnt;               /* self->counters */
	uint16_t rxq, txq;
	bool owns[DP_STEER_BUCKETS]; /* buckets whose flows live here */
	/* frames and messages for buckets moving in: held in arrival order */
	struct fp_parked {
		struct dp_msg msg;
		uint16_t bucket;
	} *park;
	uint32_t npark, park_cap;
	uint32_t npark_frames;
	struct fp_move_out *out;     /* [DP_STEER_BUCKETS] */
	uint32_t nout;
	struct fp_deferred *deferred;
	uint32_t ndeferred, deferred_cap;
	uint32_t kick_cores;         /* bit k: we sent core k something this round */
	struct rte_hash *hash;
	struct rte_mbuf *tx[FP_TX_BATCH];
	uint16_t ntx;
	uint32_t bl_head, bl_count;  /* backlog ring */
	uint32_t bl_bufs;            /* mbufs its frames hold (chains count whole) */
	uint8_t bl_segs[FP_TX_BACKLOG]; /* each slot's nb_segs, read after the port took it */
	struct rte_mbuf **backlog;   /* [FP_TX_BACKLOG] */
	uint32_t touched[FP_MAX_TOUCHED];
	uint32_t ntouched;
	/* apps (fp_apps.c): every attached one, the active ones whose data
	 * queue is polled every round, and those with events to wake for */
	struct dp_app **apps;       /* [dp->max_apps] */
	uint32_t napps;
	struct dp_app **active;     /* [dp->max_apps] */
	uint32_t nactive;
	struct dp_app **kick;       /* [dp->max_apps] */
	uint32_t nkick;
	uint32_t idle_scan;         /* where the round-robin look at idle apps goes on */
	/* doorbells that named a flow not installed yet, tried again next
	 * round, after this core's slowpath messages (fp_apps.c) */
	struct fp_early_db {
		struct dp_app *app;
		struct bp_doorbell db;
		uint64_t since;             /* tsc when it was held */
		uint32_t mark[DP_MAX_CORES]; /* each core's inbox enqueue count then */
		uint32_t outbox_moves;      /* dp->sp_outbox_moves then */
	} early[FP_EARLY_DOORBELLS];
	uint32_t nearly;
	bool kicked;                /* the kick eventfd fired: look at every idle app */
	bool slept;                 /* fp_block() slept: an idle app that rang has kicked */
	uint64_t app_idle_tsc;      /* no doorbell for this long: the app goes idle */
	uint64_t now;               /* tsc at the start of this round */
	uint64_t icmp_err_start;    /* ICMP errors passed up: this window's start (tsc) */
	uint32_t icmp_err_n;        /* ... and how many so far (fp_arp_icmp.c) */
	bool sp_kick_pending;
	/* messages for the slowpath that found its ring full, sent first
	 * next round, in order (fp_to_sp()) */
	struct dp_msg *sp_backlog;
	uint32_t nsp_backlog, sp_backlog_cap;
	int rx_intr_fd;             /* -1 if the port has no rx interrupts */
	int rx_sock_fd;             /* else the PMD's socket for rxq, polled (port_wait.c), or -1 */
	bool port_woke;             /* the last sleep ended for a frame on the port */
	uint8_t port_errs;          /* sleeps in a row its socket ended with an error */
	bool port_stuck;            /* ... and the round after it took none: the PMD
				     * could not (no mbufs), so its socket stays
				     * readable; sleep on timers until it takes some */
	uint32_t *paced;            /* flows waiting for their pacing time */
	uint32_t npaced;
	/* flows waiting for the port (tx backlog high, [fastpath] tx_rate
	 * spent, or queued behind such flows): served by class, then by
	 * weight (fp_qos.c, NOTES.md "Tenants") */
	struct tq_sched sched;
	uint32_t serving;           /* the flow fp_qos_run() is running, TQ_NONE */
	uint64_t sched_due;         /* tsc the port's bucket has tokens again */
	uint64_t port_rate;         /* [fastpath] tx_rate_mbit in bits/s, 0 = none */
	uint64_t port_depth;        /* its bucket depth, cycles */
	uint32_t tenants_gen;       /* dp->tenants_gen last seen */
	bool qos_classes;           /* some tenant is not in the normal class */
	struct bp_flow_shm detached_shm; /* what detached TIME_WAIT flows write to */
	/* RFC 5961 challenge ACKs: the global per-second budget (tcp_in.c) */
	uint64_t chack_sec_start;   /* tsc the current second began */
	uint32_t chack_count;       /* challenge ACKs sent in it */
	uint32_t chack_quota;       /* this second's randomised limit */
	/* bypassctl capture (capture.c): dp->capture_mask as loaded at the
	 * start of this round, and which of those want one tenant only */
	uint32_t cap_mask;
	uint32_t cap_tenant_mask;
	/* RPC sessions (fp_rpc.c): flows whose framer waits for heap or
	 * message-queue room, oldest first (a ring: the longest waiter gets
	 * returned room first), and "a buffer came back this round" */
	uint32_t *rpc_stalled;      /* [dp->cfg.max_flows] */
	uint32_t rpc_stall_head;
	uint32_t nrpc_stalled;
	bool rpc_room;              /* some app got room back: retry its stalled flows */
	struct dp_app **room_apps;  /* [dp->max_apps] those apps (dp_app_fp.rpc_room) */
	uint32_t nroom_apps;
	struct dp_app **qfull;      /* [dp->max_apps] message queue full (fp_rpc.c) */
	uint32_t nqfull;
	/* RPC messages in assembly (fp_rpc_watch.c): FIFOs of (flow, ticket)
	 * by deadline and by heap wait; e NULL when there is no time limit */
	struct fp_rpc_fifo {
		struct fp_rpc_watch {
			uint32_t flow_id;
			uint32_t ticket; /* the flow's watch_ticket / wait_ticket */
		} *e;
		uint32_t cap, head, count;
	} rpc_deadlines, rpc_heap_waits;
	uint32_t rpc_watch_tickets;
	uint64_t rpc_watch_cycles;  /* [rpc] message_timeout_ms in tsc cycles */
	/* delayed ACKs (tcp_delack.c): a ring of [FP_DELACK_QUEUE] */
	struct fp_delack *delack;
	uint32_t delack_head, delack_count;
	uint64_t delack_cycles;     /* [tcp] delayed_ack_us in tsc cycles, 0 = off */
};

/* fastpath.c */
int fp_run(struct dataplane *dp);
struct fp_ctx *fp_ctx_create(struct dataplane *dp, uint32_t core);
void fp_ctx_destroy(struct fp_ctx *fp);
void fp_run_flow(struct fp_ctx *fp, struct fp_flow *f);
void fp_handle_msg(struct fp_ctx *fp, struct dp_msg *msg);
void fp_run_touched(struct fp_ctx *fp);
void fp_drain_inputs(struct fp_ctx *fp);
void fp_tx_enqueue(struct fp_ctx *fp, struct rte_mbuf *m);
void fp_tx_flush(struct fp_ctx *fp);
void fp_touch(struct fp_ctx *fp, struct fp_flow *f, uint32_t bits);
void fp_to_sp(struct fp_ctx *fp, uint16_t type, uint32_t flow_id, void *ptr);
void fp_to_sp_arg(struct fp_ctx *fp, uint16_t type, uint32_t flow_id, uint16_t arg, void *ptr);
void fp_sp_backlog_flush(struct fp_ctx *fp);
void fp_pace_later(struct fp_ctx *fp, struct fp_flow *f);
bool fp_tx_wait(struct fp_ctx *fp, struct fp_flow *f);
void fp_flow_unlist(struct fp_ctx *fp, struct fp_flow *f);
void fp_flow_unlist_out(struct fp_ctx *fp, struct fp_flow *f);

/* fp_rpc_watch.c */
int fp_rpc_watch_init(struct fp_ctx *fp);
void fp_rpc_watch_fini(struct fp_ctx *fp);
void fp_rpc_watch(struct fp_ctx *fp, struct fp_flow *f);
void fp_rpc_watch_stall(struct fp_ctx *fp, struct fp_flow *f, bool stalled, bool queue,
			bool progress);
uint64_t fp_rpc_watch_run(struct fp_ctx *fp);

/* tcp_delack.c */
void tcp_ack_later(struct fp_ctx *fp, struct fp_flow *f);
uint64_t tcp_delack_run(struct fp_ctx *fp);
void tcp_delack_flush(struct fp_ctx *fp, struct fp_flow *f);

/* fp_rx.c */
void fp_rx_frame(struct fp_ctx *fp, struct rte_mbuf *m, bool from_sp);
unsigned fp_poll_port(struct fp_ctx *fp);

/* fp_qos.c */
int fp_qos_init(struct fp_ctx *fp);
void fp_qos_fini(struct fp_ctx *fp);
void fp_qos_refresh(struct fp_ctx *fp);
bool fp_qos_admit_slow(struct fp_ctx *fp, struct fp_flow *f, uint64_t len);
void fp_qos_enqueue(struct fp_ctx *fp, struct fp_flow *f);
bool fp_qos_must_queue(struct fp_ctx *fp, const struct fp_flow *f);
unsigned fp_qos_run(struct fp_ctx *fp);
void fp_qos_run_touched(struct fp_ctx *fp);
uint64_t fp_qos_rx_cap(struct fp_ctx *fp, const struct fp_flow *f, uint64_t free);

static inline struct dp_tenant_core *fp_tenant_row(struct fp_ctx *fp, const struct fp_flow *f)
{
	return &fp->dp->tenants[f->tenant].core[fp->core];
}

/**
 * fp_qos_admit - may @f send a @len-byte segment now?  Takes the tokens
 * from its tenant's and the port's buckets if so; else the flow waits
 * (pacing list or the port scheduler) and the caller stops.  Without a
 * rate on either, two loads.
 */
static inline bool fp_qos_admit(struct fp_ctx *fp, struct fp_flow *f, uint64_t len)
{
	const struct dp_tenant *t = &fp->dp->tenants[f->tenant];
	if (likely(!fp->port_rate && !__atomic_load_n(&t->policy.rate_bps, __ATOMIC_RELAXED)))
		return true;
	return fp_qos_admit_slow(fp, f, len);
}

/* capture.c */
void fp_capture(struct fp_ctx *fp, struct rte_mbuf **pkts, uint32_t n, bool out);
void fp_capture_tenants(struct fp_ctx *fp);

/* a frame this core processes as received, unless the slowpath gave it
 * back (it was offered to the captures when it first came in) */
static inline void fp_capture_rx(struct fp_ctx *fp, struct rte_mbuf *m, bool from_sp)
{
	if (unlikely(fp->cap_mask) && !from_sp)
		fp_capture(fp, &m, 1, false);
}

/* tcp_in.c */
void tcp_input(struct fp_ctx *fp, struct fp_flow *f, const struct pkt_tcp *p);
void tcp_rx_closed(struct fp_ctx *fp, struct fp_flow *f);
void tcp_rx_abort(struct fp_ctx *fp, struct fp_flow *f);
void tcp_fast_retx_count(struct fp_ctx *fp, struct fp_flow *f);

/* fp_rpc.c */
struct rpc_frame_hdr;
void fp_rpc_count(struct dp_core *c, uint16_t tenant, const struct rpc_frame_hdr *h);
bool fp_rpc_rx(struct fp_ctx *fp, struct fp_flow *f);
bool fp_rpc_rx_unwait(struct fp_ctx *fp, struct fp_flow *f);
void fp_rpc_msg_done(struct fp_ctx *fp, struct dp_app *app, uint32_t blk, uint32_t gen);
void fp_rpc_poll(struct fp_ctx *fp);
bool fp_rpc_has_room(struct fp_ctx *fp);
void fp_rpc_app_gone(struct fp_ctx *fp, struct dp_app *app);
void fp_rpc_flow_gone(struct fp_ctx *fp, struct fp_flow *f);
void fp_rpc_move_out(struct fp_ctx *fp, struct fp_flow *f);
void fp_rpc_msg_send(struct fp_ctx *fp, struct dp_app *app, struct fp_flow *f,
		     uint32_t area_units, unsigned prio);
bool fp_rpc_tx(struct fp_ctx *fp, struct fp_flow *f);
bool fp_rpc_shutwr(struct fp_ctx *fp, struct fp_flow *f, uint32_t posted, bool app_gone);

/* tcp_out.c */
void tcp_output(struct fp_ctx *fp, struct fp_flow *f);
void tcp_send_ack(struct fp_ctx *fp, struct fp_flow *f);
void tcp_send_rst(struct fp_ctx *fp, struct fp_flow *f);
void tcp_retransmit_segment(struct fp_ctx *fp, struct fp_flow *f, uint64_t pos);
void tcp_timeout(struct fp_ctx *fp, struct fp_flow *f, uint64_t acked_seen);
void tcp_rto_undo_count(struct fp_ctx *fp, struct fp_flow *f);
void tcp_mss_lowered(struct fp_ctx *fp, struct fp_flow *f, uint16_t mss, bool no_df,
		     bool resend);
void tcp_send_probe(struct fp_ctx *fp, struct fp_flow *f);
uint32_t tcp_rcv_nxt(const struct fp_flow *f);
void tcp_refresh_rx_consumed(struct fp_ctx *fp, struct fp_flow *f);
void tcp_window_update(struct fp_ctx *fp, struct fp_flow *f);

/* fp_steer.c */
enum fp_route { FP_MINE, FP_PARKED, FP_FORWARDED };
enum fp_route fp_route_frame(struct fp_ctx *fp, struct rte_mbuf *m, uint16_t bucket, bool from_sp);
enum fp_route fp_route_msg(struct fp_ctx *fp, const struct dp_msg *msg, uint16_t bucket);
void fp_bucket_out(struct fp_ctx *fp, uint16_t bucket, uint16_t to);
void fp_send_core(struct fp_ctx *fp, uint32_t core, const struct dp_msg *msg);
uint32_t fp_steer_flush(struct fp_ctx *fp);
void fp_bucket_in(struct fp_ctx *fp, struct dp_bucket_move *mv);
void fp_moves_poll(struct fp_ctx *fp);
void fp_tx_lock(struct fp_ctx *fp);
void fp_tx_unlock(struct fp_ctx *fp);

/**
 * fp_owns - may this core process @f now?  Every path that touches a flow
 * goes through here; a miss is a steering bug, counted (flow_wrong_core)
 * and fatal in debug builds.
 */
static inline bool fp_owns(struct fp_ctx *fp, const struct fp_flow *f)
{
	DP_ASSERT_FP_CORE(fp->core);
	if (likely(f->core == fp->core && fp->owns[f->bucket]))
		return true;
	fp->cnt[DPC_WRONG_CORE]++;
#ifndef NDEBUG
	rte_panic("flow %u (core %u bucket %u) processed on core %u\n", f->flow_id, f->core,
		  f->bucket, fp->core);
#endif
	return false;
}

/* fp_apps.c */
void fp_apps_poll(struct fp_ctx *fp);
void fp_apps_post_events(struct fp_ctx *fp, struct fp_flow *f, uint32_t pend);
unsigned fp_apps_kick(struct fp_ctx *fp);
void fp_app_kick_later(struct fp_ctx *fp, struct dp_app *app);
void fp_apps_set_sleeping(struct fp_ctx *fp, uint32_t sleeping);
bool fp_apps_have_work(struct fp_ctx *fp);
int fp_app_add(struct fp_ctx *fp, struct dp_app *app);
void fp_app_del(struct fp_ctx *fp, struct dp_app *app);
int fp_flow_validate_tx(struct fp_ctx *fp, struct fp_flow *f);
int fp_app_take_all(struct fp_ctx *fp, struct dp_app *app);
void fp_doorbell_fwd(struct fp_ctx *fp, struct fp_flow *f, const struct dp_msg *msg);
void fp_flow_move(struct fp_ctx *fp, struct fp_flow *f, struct dp_move *mv);

/* fp_arp_icmp.c */
void fp_handle_arp(struct fp_ctx *fp, struct rte_mbuf *m);
void fp_handle_icmp(struct fp_ctx *fp, struct rte_mbuf *m, bool from_sp);
void fp_handle_ip_fragment(struct fp_ctx *fp, struct rte_mbuf *m, bool from_sp);

/* flow_table.c */
int flow_table_init(struct fp_ctx *fp);
int flow_table_add(struct fp_ctx *fp, struct fp_flow *f);
void flow_table_del(struct fp_ctx *fp, struct fp_flow *f);
struct fp_flow *flow_table_lookup(struct fp_ctx *fp, uint32_t raddr, uint32_t laddr,
				  uint16_t rport, uint16_t lport);
#define FLOW_LOOKUP_BULK_MAX 32
void flow_table_lookup_bulk(struct fp_ctx *fp, const struct pkt_tcp *segs, unsigned int n,
			    struct fp_flow **flows);

/* flows whose lines are fetched ahead of the one being processed: all of
 * a burst's at once would be more misses than the CPU keeps in flight */
#define FP_PREFETCH_AHEAD 2

/* fetch the ring line where @f's next received byte goes, and its shared
 * counters (a prefetch never faults: any address is harmless) */
static inline void fp_flow_prefetch_rx(const struct fp_flow *f)
{
	rte_prefetch0(f->shm);
	rte_prefetch0(f->rx_base + bp_ring_off(f->rx_pos, f->rx_shift, f->rx_size));
}

/* fetch the ring line of @f's next byte to send, and its shared counters */
static inline void fp_flow_prefetch_tx(const struct fp_flow *f)
{
	rte_prefetch0(f->shm);
	rte_prefetch0(f->tx_base + bp_ring_off(f->tx_sent, f->tx_shift, f->tx_size));
}

/* fetch the lines of @f that every segment touches (those before ooo[]) */
static inline void fp_flow_prefetch(const struct fp_flow *f)
{
	for (size_t off = 0; off < offsetof(struct fp_flow, ooo); off += RTE_CACHE_LINE_SIZE)
		rte_prefetch0((const char *)f + off);
}

static inline uint64_t ring_pos_mask(uint32_t size) { return (uint64_t)size - 1; }

static inline void fp_timer_report(struct fp_ctx *fp, uint32_t entry)
{
	if (rte_ring_sp_enqueue_elem(fp->self->timer_ring, &entry, sizeof(entry)))
		__atomic_store_n(&fp->self->timer_lost, 1, __ATOMIC_RELEASE);
}

/**
 * fp_timer_watch - tell the slowpath that @f now needs its timers (data or
 * a FIN went out from idle, or a zero window holds data back).  Once per
 * such start: the slowpath keeps visiting the flow until it is idle again.
 */
static inline void fp_timer_watch(struct fp_ctx *fp, struct fp_flow *f)
{
	fp_timer_report(fp, f->flow_id);
}

/**
 * fp_cc_watch - tell the slowpath that @f's congestion control has news:
 * the window held data back, a fast retransmit began, or an ACK echoed
 * ECN.  The slowpath visits a flow that never fills its window only for
 * its retransmission timer, so without this a window that starts to
 * matter would wait that long to grow or shrink.  At most once per
 * FP_CC_REPORT_US: the slowpath, once told, keeps visiting the flow every
 * round trip until it has gone SP_CC_QUIET_MS without news (conn_timer.c).
 */
static inline void fp_cc_watch(struct fp_ctx *fp, struct fp_flow *f)
{
	uint64_t gap = fp->dp->tsc_hz / (1000000 / FP_CC_REPORT_US);
	if (f->cc_report_tsc && fp->now - f->cc_report_tsc < gap)
		return;
	f->cc_report_tsc = fp->now;
	fp_timer_report(fp, f->flow_id | DP_TIMER_CC);
}

#endif
