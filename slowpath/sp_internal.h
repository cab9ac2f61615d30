/* SPDX-License-Identifier: MIT */
/*
 * sp_internal.h - slowpath-private state: connections through their whole
 * life (handshake, established, teardown, TIME_WAIT), listeners, the
 * neighbour cache, attached apps, congestion control.
 *
 * Everything here is touched by the slowpath thread only.
 */
#ifndef SP_INTERNAL_H
#define SP_INTERNAL_H

#include <ev.h>
#include <rte_hash.h>
#include <rte_mbuf.h>

#include "dataplane.h"
#include "pkt.h"
#include "cc.h"
#include "sp_fp.h"
#include "wheel.h"
#include "tenant.h"
#include "isn.h"

enum sp_state {
	SPS_FREE = 0,
	SPS_ARP_WAIT,     /* active open waiting for the next hop's MAC */
	SPS_SYN_SENT,
	SPS_SYN_RCVD,
	SPS_ESTABLISHED,  /* installed in the fastpath (includes closing states) */
	SPS_TIME_WAIT,
	SPS_DELETING,     /* FLOW_DEL sent, waiting for DEL_DONE */
};

/* sp_conn.flags */
#define SPC_APP_SHUT     (1u << 0) /* app asked for FIN */
#define SPC_APP_CLOSED   (1u << 1) /* app released the slot */
#define SPC_FIN_RCVD     (1u << 2)
#define SPC_FIN_ACKED    (1u << 3)
#define SPC_CLOSED_FIRST (1u << 4) /* our FIN was acked before the peer's FIN came */
#define SPC_NOTIFIED     (1u << 5) /* app told the flow is closed */
#define SPC_ORPHAN       (1u << 6) /* owner closed its slot, other processes
				    * still hold the flow (see handoff.c) */
#define SPC_MOVING       (1u << 7) /* a DPM_FLOW_MOVE is in flight */
#define SPC_KEEPALIVE    (1u << 8) /* SO_KEEPALIVE: probe an idle peer */
#define SPC_DETACHED     (1u << 9) /* TIME_WAIT gave the app slot back */
#define SPC_RPC          (1u << 10) /* RPC session (BP_FLOW_RPC): the fastpath frames it */
#define SPC_APP_GONE     (1u << 11) /* its app died or detached, no fork child holds it */
#define SPC_GONE_GRACE   (1u << 12) /* RPC: posts of the gone app may still come (conn.c) */
#define SPC_LINGER_RESET (1u << 13) /* SO_LINGER {1, 0}: closing it resets it, whoever
				     * closes it last, even by exiting */

/* processes besides the owner that may still use one flow (fork children) */
#define SP_MAX_HOLDERS 8

struct sp_conn {
	uint8_t state;
	uint8_t retries;
	uint16_t app_id;
	uint16_t tenant;              /* its app's, counted in the tenant's flows */
	uint32_t flags;
	uint32_t slot;
	uint32_t listener_slot;       /* passive opens; UINT32_MAX otherwise */
	uint16_t listener;            /* passive opens: listener index + 1 */
	uint32_t local_ip, remote_ip; /* network order */
	uint16_t local_port, remote_port;
	uint32_t rpc_posted;          /* frames the app said it posted, at its close */
	uint64_t gone_grace_end;      /* SPC_GONE_GRACE: when it ends (conn.c rpc_app_gone()) */
	uint32_t iss, irs;
	uint16_t peer_mss;
	int8_t peer_wscale;
	uint8_t ecn;
	uint32_t next_hop;
	uint32_t active_idx;          /* position in sp->active */
	struct rte_ether_addr mac;    /* peer (or next hop) MAC */
	uint64_t deadline;            /* tsc; 0 = no timer (handshake, TIME_WAIT, fin timeout) */
	uint32_t rto_ms;
	uint32_t timeouts;            /* RTO expiries, total (bypassctl flows) */
	uint64_t rto_start;           /* tsc of the last retransmission */
	uint64_t rto_seen_rx;         /* fp last_rx_tsc at the last timeout (window probes answered?) */
	const struct cc_ops *cc_ops;  /* this flow's algorithm ([tcp] cc, or per flow) */
	bool peer_sack;               /* SACK-permitted in the peer's SYN */
	bool ecn_requested;           /* active open: our SYN asked for ECN */
	bool no_df;                   /* its path is narrower than PKT_MIN_PMTU (icmp_err.c) */
	bool mss_followed;            /* its MSS came from another flow's news, not resent */
	uint64_t ecn_react_after;     /* classic ECN: no second cut before this ack total */
	uint64_t ka_seen_rx;          /* keepalive: fp last_rx_tsc at the last look */
	uint64_t ka_next;             /* keepalive: tsc of the next probe */
	uint32_t ka_probes;           /* keepalive: probes sent without an answer */
	struct cc_state cc;
	uint64_t cc_acked_seen;
	uint32_t cc_fast_retx_seen;
	uint32_t cc_cwnd_limited_seen; /* fp_flow.cnt_cwnd_limited at the last on_ack */
	uint64_t cc_news_tsc;         /* last visit that found congestion news (conn_timer.c) */
	struct cc_state cc_undo;      /* cc before the episode's first timeout (F-RTO) */
	bool cc_undo_valid;           /* ... and may still be restored */
	uint64_t cc_undo_until;       /* ... until cnt_acked reaches this (its window acked) */
	uint32_t rto_spurious_seen;   /* fp_flow.cnt_rto_spurious at the last visit */
	uint8_t nholders;
	int32_t holders[SP_MAX_HOLDERS]; /* pids; the owner app is not listed */
	uint64_t holder_keys[SP_MAX_HOLDERS]; /* the key each holder was given */
	uint64_t key;                 /* handoff key, also in the slot; new at every move */
	uint64_t orphan_since;        /* tsc when SPC_ORPHAN was set */
	int32_t exec_pid;             /* this process keeps the flow across its
				       * exec() (exec_hold.c), 0 = none */
	bool exec_added;              /* ... and was made a holder for it */
};

struct sp_listener {
	bool in_use;
	bool shared;                  /* BP_LISTEN_SHARED */
	uint16_t next;                /* next listener on the port: index + 1, 0 = none */
	uint16_t app_id;
	uint16_t port;
	uint32_t slot;
	uint32_t backlog;
	uint32_t half_open;
	uint32_t half_open_acked;     /* of those, kept through SYN pressure (synq.c) */
	uint32_t delivered;           /* children posted with BP_EV_ACCEPT */
	const struct cc_ops *cc;      /* children's congestion control */
	int proof_fd;                 /* shared: the kernel object every sharer
				       * holds (kept open so its inode stays
				       * unique), -1 = none (see listen_owner.c) */
	uint64_t proof_dev, proof_ino;
	uint32_t uid;                 /* of the app that listens */
	uint16_t tenant;              /* ... and its tenant */
	bool rpc;                     /* BP_FLOW_RPC: children are RPC sessions */
	bool reserve;                 /* BP_LISTEN_RESERVE: holds the port, takes
				       * no connections */
};

#define SP_MAX_LISTENERS DP_APPS_LIMIT /* one per app at [apps] max_apps' limit */
#define SP_ARP_SIZE 256
#define SP_ARP_WAYS 4

/* a neighbour (arp.c): known (@valid), or asked for and not answered yet
 * (@incomplete), or a free way (neither) */
struct sp_arp_entry {
	uint32_t ip;
	struct rte_ether_addr mac;
	bool valid;
	bool incomplete;
	bool moved;		/* its MAC changed: open connections follow (path_pass.c) */
	bool following;		/* moved before the last pass over the connections began */
	uint64_t updated;	/* tsc: last learned or confirmed */
	uint64_t confirmed;	/* tsc: last answer to a question of ours */
	uint64_t asked;		/* tsc: our last request for it */
};

/* a destination whose path takes less than our MTU (icmp_err.c); @mtu 0: free */
#define SP_PMTU_SIZE 64
struct sp_pmtu_entry {
	uint32_t ip;
	uint16_t mtu;
	bool no_df;		/* narrower than PKT_MIN_PMTU: segments go without DF */
	uint64_t expires;	/* tsc */
};

/*
 * What the daemon knows of one slot of an app.  The app's view in its
 * region (bp_flow_shm gen and state) is written for the app and never
 * read back: the app can write there, so a forged state could make the
 * daemon free a slot twice (slots.c).
 */
enum sp_slot_use {
	SP_SLOT_FREE,
	SP_SLOT_CONN,     /* a connection's, or one that ended and awaits close */
	SP_SLOT_LISTEN,
	SP_SLOT_MOVING,   /* an adopted flow is being moved into it (handoff.c) */
};

struct sp_slot {
	uint32_t gen;                 /* the generation it was handed out with */
	uint8_t use;                  /* enum sp_slot_use */
	uint8_t populated;            /* its buffers are mapped in (prefault_mb) */
};

/* per-app slowpath bookkeeping (dp_app.sp_priv) */
struct sp_app {
	struct sp *sp;
	struct ctl_conn *conn;        /* control connection (ctl_sock.c): its end = app died */
	ev_io doorbell_w;             /* ctrl queue doorbell */
	ev_timer more_w;              /* ... the next round, in the loop's next pass */
	uint32_t *free_slots;         /* stack of free slot numbers */
	struct sp_slot *slots;        /* [max_flows] */
	uint32_t npopulated;
	uint64_t reserved;            /* bytes in its tenant's reserved_bytes */
	bool region_lost;             /* its huge-page region was replaced (region_guard.c) */
	uint32_t nfree;
	uint32_t nwarm;               /* the top nwarm free slots may hold pages */
	uint64_t last_alloc;          /* tsc of the last slot allocation */
	uint32_t last_gen;            /* generations count per app, not per slot:
				       * (app, gen) names one allocation, so a
				       * doorbell delayed while its flow id was
				       * reused (forwarded between cores) can
				       * never match the new connection */
	uint32_t flows_live;          /* dying app: flows not yet FLOW_DEL_DONE */
	uint32_t moves_in;            /* DPM_FLOW_MOVEs into this app in flight */
	int32_t pid;                  /* SO_PEERCRED at attach (0 if unknown) */
	int pidfd;                    /* ... that process (-1: none): is @pid still it? */
	uint32_t uid;                 /* SO_PEERCRED at attach: who owns its flows */
	/* non-zero: its control connection ended, and what it queued before
	 * is served in rounds, at most this many more (one queue's worth to
	 * start with: a fork child may keep pushing), then sp_app_left() */
	uint32_t leave_left;
	bool dying;
};

/* the uid an app attached as (SO_PEERCRED), UINT32_MAX if unknown */
static inline uint32_t sp_app_uid(const struct dp_app *app)
{
	const struct sp_app *sa = app->sp_priv;
	return sa ? sa->uid : UINT32_MAX;
}

struct sp_pidwatch;
struct sp_synq;
struct mh;

/* the smallest peer MSS we send with (Linux's tcp_min_snd_mss, see conn.c) */
#define SP_MIN_SND_MSS 48

/* a half-open passive connection: what the SYN told us (synq.c) */
struct sp_hs {
	uint32_t local_ip, remote_ip;     /* network order */
	uint16_t local_port, remote_port;
	uint32_t iss, irs;
	uint16_t peer_mss;
	int8_t peer_wscale;
	bool peer_sack;
	bool ecn;
	struct rte_ether_addr mac;        /* the SYN's source MAC: no ARP for spoofers */
};

/* stopping the daemon (stop.c) */
enum sp_stop_phase { SP_STOP_NONE = 0, SP_STOP_DRAIN, SP_STOP_RST, SP_STOP_DONE };
struct sp_ctl;
struct sp_captures;

/* the fastpath cores as the slowpath steers them (cores.c) */
struct sp_cores {
	uint32_t active;              /* cores that own buckets: 0..active-1 */
	bool automatic;               /* load-driven; bypassctl cores set turns it off */
	uint32_t pending_active;      /* an operator's count, waiting for a move */
	uint8_t owner[DP_STEER_BUCKETS]; /* where each bucket is, or is going */
	uint32_t moving;              /* BUCKET_OUTs not answered yet */
	uint64_t move_deadline;
	uint64_t next_sample;
	uint64_t last_busy[DP_MAX_CORES], last_idle[DP_MAX_CORES];
	double load[DP_MAX_CORES];    /* smoothed busy fraction */
	uint32_t up_streak, down_streak;
	uint32_t rr;
};

/**
 * struct sp_outbox - messages for the fastpath that found a core's inbox
 * full, oldest first (sp_fp.c): a circular array of @cap (a power of two).
 * @core: each one's core, or SP_OUT_ROUTE: routed when it goes.
 */
#define SP_OUT_ROUTE UINT32_MAX
struct sp_outbox {
	struct dp_msg *q;
	uint32_t *core;
	uint32_t head, n, cap;
};

struct sp {
	struct dataplane *dp;
	uint64_t region_lost_apps;    /* apps let go: their huge-page region lost a page */
	struct sp_cores cores;
	struct sp_outbox outbox;
	ev_prepare prepare_w;         /* the loop is about to block: grace for moves */
	ev_check check_w;
	struct ev_loop *loop;
	struct sp_ctl *ctl;           /* control-socket connections (ctl_sock.c) */
	ev_io kick_w;                 /* dp->sp_kick_fd */
	ev_timer tick_w;
	ev_async stop_w;
	ev_async drain_w;             /* SIGTERM: close every connection, then stop */
	uint8_t stop_phase;           /* enum sp_stop_phase */
	uint64_t stop_deadline;       /* tsc: end of the current stop phase */
	int listen_fd;
	struct rte_hash *conn_hash;   /* 4-tuple -> flow id, every conn in any state */
	struct sp_conn *conns;        /* [max_flows], indexed like dp->flows */
	uint32_t *free_ids;
	uint32_t nfree_ids;
	uint32_t *active;             /* ids of every conn not SPS_FREE */
	struct sp_listener listeners[SP_MAX_LISTENERS];
	uint16_t listener_by_port[65536]; /* listener index + 1, 0 = none */
	struct sp_arp_entry arp[SP_ARP_SIZE];
	uint32_t arp_key;             /* the neighbour cache's hash key (arp.c) */
	bool arp_moved;               /* some entry is moved (arp.c) */
	struct siphash_key isn_key;   /* initial sequence numbers (isn.c) */
	uint16_t random_pool[128];    /* sp_random_u16()'s: 256 bytes, one getrandom()
				       * no signal can cut short */
	uint16_t random_left;
	struct sp_pmtu_entry pmtu[SP_PMTU_SIZE]; /* smaller path MTUs learned (icmp_err.c) */
	uint32_t pmtu_key;
	bool pmtu_narrowed;           /* some entry narrowed (icmp_err.c) */
	uint32_t pass_pos;            /* path pass under way: sp->active index past the next */
	uint64_t pass_next;           /* tsc: no new path pass sooner (path_pass.c) */
	uint32_t port_perturb[PORT_PERTURB_SIZE]; /* ephemeral ports (conn.c, isn.h) */
	const struct cc_ops *cc;
	struct sp_pidwatch *pidwatch; /* fork children that hold flows */
	struct sp_synq *synq;         /* half-open connections and SYN cookies */
	uint64_t orphan_scan;         /* tsc of the next orphan lifetime check */
	uint64_t slots_cool_next;     /* tsc of the next look for idle apps' warm slots */
	uint64_t now;
	struct wheel conn_wheel;      /* when each connection is visited next (conn_timer.c) */
	uint32_t napps;
	uint32_t nconns;
	struct sp_tenant *tenants;    /* [DP_MAX_TENANTS] (tenant.c) */
	/* RPC counts of reused ids' last owners, sorted (ctl_rpc.c), and
	 * room to sum the cores' rows in: SP_RPC_ROWS each */
#define SP_RPC_ROWS (DP_RPC_STATS * DP_MAX_CORES)
	struct dp_rpc_stat *rpc_base, *rpc_scratch;
	uint32_t nrpc_base;
	struct bp_tenants tenant_cfg; /* the sections in force, for matching */
	bool tenant_refuse_unknown;   /* [tenants] unknown = refuse */
	uint16_t tenant_unknown;      /* else: their tenant */
	ev_async reload_w;            /* SIGHUP: re-read the tenants */
	struct sp_captures *captures; /* bypassctl capture (capture.c), NULL until the first */
	struct mh *metrics_http;      /* [metrics] listen (metrics_http.c), NULL = off */
	struct ip_reasm *reasm;       /* IP reassembly (frag.c), NULL until the first fragment */
	uint8_t *frag_frame;          /* ... a whole datagram's frame, and its answer */
	uint64_t frag_unused;         /* ... datagrams put together that were of no use */
};

/* cores.c */
void sp_cores_init(struct sp *sp);
void sp_cores_tick(struct sp *sp);
void sp_cores_moved(struct sp *sp, uint16_t bucket, uint32_t core);
int sp_cores_set(struct sp *sp, uint32_t active, bool automatic);
uint32_t sp_cores_pick(struct sp *sp);
uint32_t sp_cores_owner(struct sp *sp, uint16_t bucket);

/* slowpath.c */
uint64_t sp_ms_to_tsc(struct sp *sp, uint64_t ms);

/* attach.c: the control server and app lifecycle */
int sp_attach_init(struct sp *sp, char *err, size_t errlen);
void sp_attach_fini(struct sp *sp);
void sp_app_flow_gone(struct sp *sp, struct dp_app *app);
void sp_app_flow_done(struct sp *sp, struct dp_app *app);

/* region.c */
int sp_region_init(const struct dataplane *dp, char *err, size_t errlen);
struct bp_region_layout;
uint64_t sp_region_plan(const struct dataplane *dp, uint64_t heap_want,
			struct bp_region_layout *l);
int sp_region_create(struct dataplane *dp, struct dp_app *app, const struct bp_region_layout *l,
		     char *err, size_t errlen);
void sp_region_destroy(struct dataplane *dp, struct dp_app *app);
void sp_region_lost_check(struct sp *sp);
/* region_guard.c */
int sp_region_guard_init(uint32_t napps, int kick_fd, char *err, size_t errlen);
void sp_region_guard_fini(void);
void sp_region_guard_add(uint32_t idx, const void *base, uint64_t size);
void sp_region_guard_del(uint32_t idx);
bool sp_region_guard_take(void);
bool sp_region_guard_lost(uint32_t idx);

/* slots.c */
int sp_slot_alloc(struct sp *sp, struct dp_app *app, uint32_t *slot);
int sp_slot_alloc_listener(struct sp *sp, struct dp_app *app, uint32_t *slot);
void sp_slots_cool(struct sp *sp);
void sp_slot_free(struct sp *sp, struct dp_app *app, uint32_t slot);
void sp_slot_set_use(struct dp_app *app, uint32_t slot, enum sp_slot_use use);

/* wake.c: the descriptors an app and the daemon wake each other through */
struct sockaddr_un;
int sp_wake_open(struct dp_app *app, int *app_wake, int *app_doorbell, char *err,
		 size_t errlen);
void sp_wake_close(struct dp_app *app);
int sp_kick_addr(const struct sp *sp, uint32_t k, struct sockaddr_un *sa);
int sp_kick_dir_make(struct sp *sp, char *err, size_t errlen);
void sp_kick_dir_remove(struct sp *sp);

/* the daemon's own record of @slot of @app (never the app's region) */
static inline const struct sp_slot *sp_slot(const struct dp_app *app, uint32_t slot)
{
	return &((const struct sp_app *)app->sp_priv)->slots[slot];
}

/* ctrlq.c: the app's control queue and slowpath event queue */
void sp_app_post(struct sp *sp, struct dp_app *app, uint16_t type, int16_t status, uint32_t slot,
		 uint32_t gen, uint32_t req_id, uint32_t aux);
void sp_app_drain_ctrl(struct sp *sp, struct dp_app *app);
void sp_app_ctrl_watch(struct sp *sp, struct dp_app *app);
void sp_app_ctrl_unwatch(struct sp *sp, struct dp_app *app);
void sp_app_serve_leaving(struct sp *sp, struct dp_app *app);
void sp_app_left(struct sp *sp, struct dp_app *app);

#define SYN_RTO_MS 250 /* first SYN / SYN-ACK retransmission timeout */
#define ARP_RETRY_MS 250 /* active open: ARP request again after this */
#define ARP_TRIES 4

/* conn.c */
int sp_conn_init(struct sp *sp);
struct sp_conn *sp_conn_new(struct sp *sp, uint32_t *id);
struct sp_conn *sp_conn_by_tuple(struct sp *sp, uint32_t raddr, uint16_t rport, uint16_t lport,
				 uint32_t *id);
void sp_conn_hash_add(struct sp *sp, struct sp_conn *c, uint32_t id);
void sp_conn_handshake_fail(struct sp *sp, struct sp_conn *c, uint32_t id, int err);
void sp_conn_establish(struct sp *sp, struct sp_conn *c, uint32_t id, uint32_t peer_wnd,
		       bool send_ack);
uint16_t sp_conn_pick_ephemeral(struct sp *sp, uint32_t raddr, uint16_t rport);
void sp_conn_fini(struct sp *sp);
void sp_conn_rx(struct sp *sp, struct rte_mbuf *m, const struct pkt_tcp *p);
int sp_conn_connect(struct sp *sp, struct dp_app *app, uint32_t ip, uint16_t port,
		    uint32_t flags, const struct cc_ops *cc, uint32_t *slot_out);
void sp_conn_ctrl(struct sp *sp, struct dp_app *app, uint16_t op, uint32_t slot, uint32_t gen,
		  uint32_t posted,
		  uint32_t flags);
void sp_conn_fp_event(struct sp *sp, uint16_t type, uint32_t flow_id);
void sp_conn_delete(struct sp *sp, struct sp_conn *c, uint32_t id, bool rst);
void sp_conn_reset(struct sp *sp, struct sp_conn *c, uint32_t id, int err, bool send_rst);
uint32_t sp_conn_rto_ms(struct sp *sp, const struct sp_fp_flow_view *f, uint8_t backoff);

/* conn_timer.c: connections are visited when they have something due */
void sp_conn_tick(struct sp *sp);
uint64_t sp_conn_now_ms(const struct sp *sp);
void sp_conn_set_deadline(struct sp *sp, struct sp_conn *c, uint64_t tsc);
void sp_conn_poke(struct sp *sp, uint32_t id);
uint32_t sp_conn_app_gone(struct sp *sp, struct dp_app *app);
bool sp_conn_app_gone_one(struct sp *sp, struct sp_conn *c, uint32_t id);
void sp_conn_close_owned(struct sp *sp, struct sp_conn *c, uint32_t id, bool abort);
void sp_conn_gone_grace_over(struct sp *sp, struct sp_conn *c, uint32_t id);
void sp_conn_watch(struct sp *sp, uint32_t id, uint64_t tsc);
const char *sp_conn_timer_info(struct sp *sp, const struct sp_conn *c,
			       const struct sp_fp_flow_view *f, uint32_t *ms, uint32_t *retries);
struct dp_app *sp_conn_app(struct sp *sp, const struct sp_conn *c);

/* listen.c: listeners and the passive open */
int sp_conn_listen(struct sp *sp, struct dp_app *app, uint32_t ip, uint16_t port, uint32_t backlog,
		   uint32_t flags, const struct cc_ops *cc, uint32_t *slot_out);
int sp_conn_listen_fd(struct sp *sp, struct dp_app *app, uint32_t ip, uint16_t port,
		      uint32_t backlog, uint32_t flags, const struct cc_ops *cc, int proof_fd,
		      uint32_t *slot_out);
struct sp_listener *sp_listener_of_port(struct sp *sp, uint16_t port);
bool sp_port_accepting(struct sp *sp, uint16_t port);
bool sp_listener_takes_conns(struct sp *sp, const struct sp_listener *l);
struct sp_listener *sp_listener_of_conn(struct sp *sp, const struct sp_conn *c);
void sp_listener_unlink(struct sp *sp, struct sp_listener *l);
void sp_listener_close(struct sp *sp, struct dp_app *app, struct sp_listener *l);
uint32_t sp_listener_waiting(struct sp *sp, const struct sp_listener *l);

/* synq.c: the passive open (SYN queue, SYN cookies, the final ACK) */
int sp_synq_init(struct sp *sp);
void sp_synq_fini(struct sp *sp);
bool sp_synq_rx(struct sp *sp, struct rte_mbuf *m, const struct pkt_tcp *p, uint32_t tw_isn);
void sp_synq_tick(struct sp *sp);
bool sp_synq_icmp_err(struct sp *sp, const struct pkt_icmp_err *u, bool fatal);
uint32_t sp_synq_count(const struct sp *sp);
void sp_synq_purge_listener(struct sp *sp, const struct sp_listener *l);

/* one half-open connection as bypassctl flows shows it (ctl_flows.c) */
struct sp_synq_view {
	const struct sp_hs *hs;  /* valid until the slowpath runs on */
	uint16_t tenant;
	uint16_t app_id;         /* the listener's app: who will accept it */
	uint8_t retries;         /* SYN-ACKs resent */
};

/** sp_synq_size - the SYN queue's entries ([tcp] max_half_open), free or not. */
uint32_t sp_synq_size(const struct sp *sp);

/**
 * sp_synq_view - half-open connection @idx (0..sp_synq_size()-1) in @v.
 * Return: false if that entry is free.
 */
bool sp_synq_view(const struct sp *sp, uint32_t idx, struct sp_synq_view *v);
/**
 * sp_synq_drop - forget half-open connection @idx (bypassctl flows kill),
 * as Linux's tcp_abort() drops a request socket: nothing is sent; the
 * peer's final ACK, if it comes, finds nothing.
 */
void sp_synq_drop(struct sp *sp, uint32_t idx);

/* handoff.c: flows shared between processes after fork() */
void sp_handoff_new_key(struct sp_conn *c, struct bp_flow_shm *fs);
bool sp_handoff_owner_releases(struct sp *sp, struct sp_conn *c);
void sp_handoff_forked(struct sp *sp, struct dp_app *app, int32_t pid, uint64_t key);
int sp_handoff_adopt(struct sp *sp, struct dp_app *app, uint64_t key, uint32_t req_id,
		     uint32_t *slot_out);
void sp_handoff_release(struct sp *sp, struct dp_app *app, uint64_t key);
void sp_handoff_move_done(struct sp *sp, struct dp_move *mv, uint32_t id);
#define SP_ANY_UID UINT32_MAX
void sp_handoff_pid_gone(struct sp *sp, int32_t pid, uint32_t uid);
void sp_handoff_fini(struct sp *sp);
bool sp_handoff_watch_pid(struct sp *sp, int32_t pid);
bool sp_handoff_add_holder(struct sp_conn *c, int32_t pid);
bool sp_handoff_drop_holder(struct sp_conn *c, int32_t pid);

/* exec_hold.c: flows kept across exec() */
void sp_exec_hold(struct sp *sp, struct dp_app *app, uint64_t key, bool keep);
bool sp_exec_kept(const struct sp_conn *c, int32_t pid);
bool sp_exec_pending(struct sp *sp, int32_t pid);
void sp_exec_pid_exited(struct sp *sp, int32_t pid);
void sp_exec_adopted(struct sp_conn *c, int32_t pid);

void sp_handoff_tick(struct sp *sp);

/* stop.c: closing every connection when the daemon stops */
void sp_stop_begin(struct sp *sp);
void sp_stop_tick(struct sp *sp);

/* listen_owner.c: who may join a shared listener */
int sp_listen_check_join(struct sp *sp, struct dp_app *app, uint16_t port, bool shared,
			 int proof_fd);
void sp_listen_set_proof(struct sp *sp, struct dp_app *app, struct sp_listener *l, int proof_fd);
void sp_listen_drop_proof(struct sp_listener *l);
void sp_listen_ctl(struct sp *sp, struct dp_app *app, const uint8_t *req, size_t len,
		   const int *fds, int nfds);

void sp_conn_arp_resolved(struct sp *sp, uint32_t ip);
void sp_conn_send_syn_or_arp(struct sp *sp, struct sp_conn *c);

/* tcp_ctl.c: segments the slowpath sends itself */
void sp_send_syn(struct sp *sp, struct sp_conn *c, const struct rte_ether_addr *dst, bool ack);
void sp_send_rst_reply(struct sp *sp, const struct pkt_tcp *p);
void sp_send_synack_hs(struct sp *sp, const struct sp_hs *hs);
void sp_send_ack_hs(struct sp *sp, const struct sp_hs *hs);
uint8_t sp_rcv_wscale(const struct dataplane *dp);

/* arp.c */
void sp_arp_init(struct sp *sp);
void sp_arp_rx(struct sp *sp, struct rte_mbuf *m);
const struct rte_ether_addr *sp_arp_lookup(struct sp *sp, uint32_t ip);
void sp_arp_request(struct sp *sp, uint32_t ip);
void sp_arp_recheck(struct sp *sp, uint32_t ip, struct rte_ether_addr *mac);
void sp_arp_pass_begin(struct sp *sp);
void sp_arp_follow(struct sp *sp, uint32_t id);
void sp_arp_revalidate(struct sp *sp, uint32_t ip);
void sp_arp_reply_mac(struct sp *sp, uint32_t saddr, const uint8_t *src_mac,
		      struct rte_ether_addr *out);
uint32_t sp_next_hop(struct sp *sp, uint32_t dst);

/* isn.c */
void sp_secret(void *buf, size_t len);
uint16_t sp_random_u16(struct sp *sp);
void sp_isn_init(struct sp *sp);
uint32_t sp_isn(struct sp *sp, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport);

/* path_pass.c */
void sp_path_pass_tick(struct sp *sp);

/* icmp_err.c */
void sp_pmtu_init(struct sp *sp);
void sp_icmp_err_rx(struct sp *sp, struct rte_mbuf *m);
uint16_t sp_pmtu_mss(struct sp *sp, uint32_t ip, bool *no_df);
void sp_pmtu_follow(struct sp *sp, uint32_t id);

/* frag.c */
void sp_frag_rx(struct sp *sp, struct rte_mbuf *m);
void sp_frag_tick(struct sp *sp);
void sp_frag_fini(struct sp *sp);

#endif
