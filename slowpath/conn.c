// SPDX-License-Identifier: MIT
/*
 * conn.c - connection lifetime in the slowpath: listen, passive and active
 * open, installation into the fastpath, orderly close (FIN both ways,
 * TIME_WAIT) and resets.  When a connection is looked at again (timers,
 * congestion control) is conn_timer.c's business.
 *
 * A flow id indexes both dp->flows (fastpath state, reached only through
 * sp_fp.c) and sp->conns (ours).
 * The id is reused only after the fastpath confirmed it forgot the flow
 * (DPM_FLOW_DEL_DONE); the app's slot only after that and the app's close.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <rte_cycles.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_random.h>

#include "sp_internal.h"

#define INIT_RTO_MS 200
#define FIN_TIMEOUT_MS 60000
#define RPC_GONE_GRACE_MS 1000 /* rpc_app_gone() */
#define EPHEMERAL_LO 32768
#define EPHEMERAL_HI 60999

struct conn_key {
	uint32_t raddr, laddr;
	uint16_t rport, lport;
} __attribute__((packed));

int sp_conn_init(struct sp *sp)
{
	uint32_t n = sp->dp->cfg.max_flows;
	char name[RTE_HASH_NAMESIZE];
	snprintf(name, sizeof(name), "conns_%u", (unsigned)getpid());
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = n * 2,
		.key_len = sizeof(struct conn_key),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
	};
	sp->conn_hash = rte_hash_create(&hp);
	sp->conns = calloc(n, sizeof(*sp->conns));
	sp->free_ids = malloc(n * sizeof(uint32_t));
	sp->active = malloc(n * sizeof(uint32_t));
	if (!sp->conn_hash || !sp->conns || !sp->free_ids || !sp->active ||
	    wheel_init(&sp->conn_wheel, n, sp_conn_now_ms(sp)))
		return -1;
	for (uint32_t i = 0; i < n; i++)
		sp->free_ids[i] = n - 1 - i;
	sp->nfree_ids = n;
	sp_secret(sp->port_perturb, sizeof(sp->port_perturb));
	return 0;
}

void sp_conn_fini(struct sp *sp)
{
	rte_hash_free(sp->conn_hash);
	free(sp->conns);
	free(sp->free_ids);
	free(sp->active);
	wheel_fini(&sp->conn_wheel);
}

/* ------------------------------------------------------------ helpers */

static void key_of(struct conn_key *k, const struct sp_conn *c)
{
	k->raddr = c->remote_ip;
	k->laddr = c->local_ip;
	k->rport = c->remote_port;
	k->lport = c->local_port;
}

static struct sp_conn *conn_lookup(struct sp *sp, uint32_t raddr, uint32_t laddr, uint16_t rport,
				   uint16_t lport, uint32_t *id)
{
	struct conn_key k = { raddr, laddr, rport, lport };
	void *data;
	if (rte_hash_lookup_data(sp->conn_hash, &k, &data) < 0)
		return NULL;
	*id = (uint32_t)(uintptr_t)data;
	return &sp->conns[*id];
}

/* the connection from our address and @lport to @raddr:@rport, if any */
struct sp_conn *sp_conn_by_tuple(struct sp *sp, uint32_t raddr, uint16_t rport, uint16_t lport,
				 uint32_t *id)
{
	DP_ASSERT_SP();
	return conn_lookup(sp, raddr, sp->dp->ip, rport, lport, id);
}

struct sp_conn *sp_conn_new(struct sp *sp, uint32_t *id)
{
	DP_ASSERT_SP();
	if (!sp->nfree_ids)
		return NULL;
	*id = sp->free_ids[--sp->nfree_ids];
	struct sp_conn *c = &sp->conns[*id];
	memset(c, 0, sizeof(*c));
	c->listener_slot = UINT32_MAX;
	c->peer_wscale = -1;
	c->cc_ops = sp->cc;
	c->active_idx = sp->nconns;
	sp->active[sp->nconns++] = *id;
	return c;
}

void sp_conn_hash_add(struct sp *sp, struct sp_conn *c, uint32_t id)
{
	DP_ASSERT_SP();
	struct conn_key k;
	key_of(&k, c);
	rte_hash_add_key_data(sp->conn_hash, &k, (void *)(uintptr_t)id);
}

/* forget a conn entirely (the fastpath no longer has it) */
static void conn_free(struct sp *sp, struct sp_conn *c, uint32_t id)
{
	struct conn_key k;
	void *data;
	key_of(&k, c);
	/* a new incarnation may own the tuple by now (SYN in TIME_WAIT): only
	 * our own entry goes */
	if (rte_hash_lookup_data(sp->conn_hash, &k, &data) >= 0 &&
	    (uint32_t)(uintptr_t)data == id)
		rte_hash_del_key(sp->conn_hash, &k);
	uint32_t last = sp->active[--sp->nconns];
	sp->active[c->active_idx] = last;
	sp->conns[last].active_idx = c->active_idx;
	wheel_cancel(&sp->conn_wheel, id);
	c->state = SPS_FREE;
	sp_tenant_flow_put(sp, c->tenant);
	sp->free_ids[sp->nfree_ids++] = id;
}

struct dp_app *sp_conn_app(struct sp *sp, const struct sp_conn *c)
{
	return &sp->dp->apps[c->app_id];
}

/* the app's view of a slot after its connection ended */
static void slot_closed(struct sp *sp, struct sp_conn *c, int err)
{
	struct dp_app *app = sp_conn_app(sp, c);
	struct bp_flow_shm *fs = &app->flows[c->slot];
	if (c->flags & (SPC_NOTIFIED | SPC_DETACHED))
		return; /* told already, or the slot belongs to someone else now */
	c->flags |= SPC_NOTIFIED;
	fs->err = (uint32_t)err;
	if (err)
		__atomic_fetch_or(&fs->flags, BP_FF_RESET, __ATOMIC_RELEASE);
	__atomic_store_n(&fs->state, BP_FS_CLOSED, __ATOMIC_RELEASE);
	sp_app_post(sp, app, BP_EV_CLOSED, (int16_t)-err, c->slot, sp_slot(app, c->slot)->gen, 0, 0);
}

/* a conn that never reached the fastpath is over */
void sp_conn_handshake_fail(struct sp *sp, struct sp_conn *c, uint32_t id, int err)
{
	struct dp_app *app = sp_conn_app(sp, c);
	if (c->listener_slot != UINT32_MAX) {
		struct sp_listener *l = sp_listener_of_conn(sp, c);
		if (l && l->half_open)
			l->half_open--;
		sp_slot_free(sp, app, c->slot); /* the app never saw this child */
	} else if (c->flags & SPC_APP_CLOSED) {
		sp_slot_free(sp, app, c->slot);
	} else {
		uint32_t gen = sp_slot(app, c->slot)->gen;
		app->slot_flow[c->slot] = DP_INVALID_FLOW;
		sp_app_post(sp, app, BP_EV_CONNECTED, (int16_t)-err, c->slot, gen, 0, 0);
		slot_closed(sp, c, err);
	}
	conn_free(sp, c, id);
}

/* ask the fastpath to drop an installed flow */
void sp_conn_delete(struct sp *sp, struct sp_conn *c, uint32_t id, bool rst)
{
	if (c->state == SPS_DELETING)
		return;
	c->state = SPS_DELETING;
	c->deadline = 0;
	sp_fp_flow_del(sp, id, rst);
}

uint32_t sp_conn_rto_ms(struct sp *sp, const struct sp_fp_flow_view *f, uint8_t backoff)
{
	const struct bp_config *cfg = &sp->dp->cfg;
	uint32_t srtt = f->srtt_us;
	uint32_t var = f->rttvar_us;
	uint64_t ms = srtt ? (srtt + 4ull * var + 999) / 1000 : INIT_RTO_MS;
	if (ms < cfg->min_rto_ms)
		ms = cfg->min_rto_ms;
	ms <<= backoff > 16 ? 16 : backoff;
	if (ms > cfg->max_rto_ms)
		ms = cfg->max_rto_ms;
	return (uint32_t)ms;
}

/* ------------------------------------------------------------ install */

/**
 * sp_conn_establish - the handshake of @c completed: install flow @id in
 * the fastpath and publish the slot to the app.
 * @peer_wnd: the peer's window in bytes, scaled already where it must be
 *            (a SYN-ACK's never is, the final ACK's is).
 * @send_ack: the fastpath sends the handshake's final ACK (active open).
 */
void sp_conn_establish(struct sp *sp, struct sp_conn *c, uint32_t id, uint32_t peer_wnd,
		      bool send_ack)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	struct dp_app *app = sp_conn_app(sp, c);
	struct bp_flow_shm *fs = &app->flows[c->slot];
	uint32_t mss = dp->cfg.mtu - 40;
	/* a tiny peer MSS would cost a 54-byte frame per payload byte
	 * (CVE-2019-11479): never below SP_MIN_SND_MSS, 48 bytes, Linux's
	 * tcp_min_snd_mss; only a path under IPv4's minimum MTU (68 bytes,
	 * less a 20-byte IP header) would need less, so no real peer loses */
	uint32_t peer = c->peer_mss < SP_MIN_SND_MSS ? SP_MIN_SND_MSS : c->peer_mss;
	bool no_df;
	uint32_t path = sp_pmtu_mss(sp, c->remote_ip, &no_df); /* a narrow hop we heard of */
	if (path < mss)
		mss = path;
	c->no_df = no_df;
	struct sp_fp_flow_init in = {
		.mss = (uint16_t)(peer < mss ? peer : mss),
		.no_df = no_df,
		.rcv_wscale = c->peer_wscale >= 0 ? sp_rcv_wscale(dp) : 0,
		.peer_wnd = peer_wnd,
	};

	c->cc_ops->init(&c->cc, in.mss, dp->cfg.init_cwnd_segs);
	in.cwnd = c->cc.cwnd;
	in.pacing_bps = c->cc.rate_bps;

	fs->local_ip = c->local_ip;
	fs->remote_ip = c->remote_ip;
	fs->local_port = c->local_port;
	fs->remote_port = c->remote_port;
	sp_handoff_new_key(c, fs);

	app->slot_flow[c->slot] = id;
	c->state = SPS_ESTABLISHED;
	c->deadline = 0;
	c->retries = 0;
	c->rto_seen_rx = 0;
	c->rto_start = sp->now;
	sp_fp_flow_install(sp, c, id, &in, send_ack);
	/*
	 * Only now may the app see it: its doorbells go to fp_queue, which
	 * the install just set, and come after FLOW_ADD on that core's ring.
	 * Published first, a doorbell could reach the core before the flow
	 * did and be dropped as naming no flow: a request written at once was
	 * then never sent (the fastpath also reads tx_written at FLOW_ADD).
	 */
	__atomic_store_n(&fs->state, BP_FS_ESTABLISHED, __ATOMIC_RELEASE);
	sp_conn_poke(sp, id);
}

/* ------------------------------------------------------------ listen */

/*
 * With several fastpath cores an active open takes a port whose 4-tuple
 * lands in a bucket of the least loaded core (as Machnet does), so the
 * flows the app opens spread over the cores; after 64 tries any free port
 * will do.
 */
#define STEER_TRIES 64
#define EPHEMERAL_N (EPHEMERAL_HI - EPHEMERAL_LO + 1)

/* whether local port @p is some connection's: a listener's port 0 must not
 * take one an active open holds (Linux's bind conflict), which a search
 * that starts per destination no longer keeps apart by itself */
static bool port_held(const struct sp *sp, uint16_t p)
{
	for (uint32_t i = 0; i < sp->nconns; i++)
		if (sp->conns[sp->active[i]].local_port == p)
			return true;
	return false;
}

/**
 * sp_conn_pick_ephemeral - a free local port for a connection to (@raddr,
 * @rport), or for a listener (@raddr 0).  The search starts where RFC
 * 6056's double hash puts it (port_hash()): unpredictable across
 * destinations, in sequence for one; the destination's perturbation moves
 * past the port taken, now and then one further (Linux's noise against
 * CVE-2022-32296).
 * Return: the port, or 0 if none is free.
 */
uint16_t sp_conn_pick_ephemeral(struct sp *sp, uint32_t raddr, uint16_t rport)
{
	struct dataplane *dp = sp->dp;
	bool steer = raddr && dp->ncores > 1;
	uint32_t want = steer ? sp_cores_pick(sp) : 0;
	uint64_t h = port_hash(&sp->isn_key, dp->ip, raddr, rport);
	uint32_t *perturb = &sp->port_perturb[(h >> 32) % PORT_PERTURB_SIZE];
	uint32_t start = ((uint32_t)h % EPHEMERAL_N + *perturb % EPHEMERAL_N) % EPHEMERAL_N;
	uint16_t fallback = 0;

	for (uint32_t i = 0; i < EPHEMERAL_N; i++) {
		uint16_t p = (uint16_t)(EPHEMERAL_LO + (start + i) % EPHEMERAL_N);
		uint32_t id;
		if (sp_listener_of_port(sp, p))
			continue;
		if (raddr ? conn_lookup(sp, raddr, dp->ip, rport, p, &id) != NULL :
			    port_held(sp, p))
			continue;
		if (steer) {
			uint16_t b = dp_bucket_of(dp_bucket_hash(dp, raddr, dp->ip, rport, p));
			if (sp_cores_owner(sp, b) != want) {
				if (!fallback)
					fallback = p;
				if (i < STEER_TRIES)
					continue;
				p = fallback;
			}
		}
		uint32_t step = i + 1;
		if (!i && !(rte_rand() & 0xf))
			step = 2;
		*perturb += step;
		return p;
	}
	return fallback;
}

/* ------------------------------------------------------------ connect */

/** sp_conn_send_syn_or_arp - an active open's next step: its SYN if the
 * next hop's MAC is known, else (again) an ARP request and a wait. */
void sp_conn_send_syn_or_arp(struct sp *sp, struct sp_conn *c)
{
	const struct rte_ether_addr *mac = sp_arp_lookup(sp, c->next_hop);
	if (mac) {
		c->mac = *mac;
		c->state = SPS_SYN_SENT;
		c->retries = 0;
		sp_conn_set_deadline(sp, c, sp->now + sp_ms_to_tsc(sp, SYN_RTO_MS));
		sp_send_syn(sp, c, &c->mac, false);
	} else {
		c->state = SPS_ARP_WAIT;
		sp_conn_set_deadline(sp, c, sp->now + sp_ms_to_tsc(sp, ARP_RETRY_MS));
		sp_arp_request(sp, c->next_hop);
	}
}

int sp_conn_connect(struct sp *sp, struct dp_app *app, uint32_t ip, uint16_t port,
		    uint32_t flags, const struct cc_ops *cc, uint32_t *slot_out)
{
	if (!ip || !port)
		return -EINVAL;
	if ((flags & BP_FLOW_RPC) && !app->heap_size)
		return -ENOMEM; /* an RPC session needs a message heap (attach) */
	const struct sp_app *sa = app->sp_priv;
	int rc = sp_tenant_connect_ok(sp, app, sa->uid, ip);
	if (rc)
		return rc;
	uint32_t nh = sp_next_hop(sp, ip);
	if (!nh)
		return -ENETUNREACH;
	uint16_t lport = sp_conn_pick_ephemeral(sp, ip, port);
	if (!lport)
		return -EADDRNOTAVAIL;
	uint32_t slot, id;
	rc = sp_slot_alloc(sp, app, &slot);
	if (rc)
		return rc;
	if (!sp->nfree_ids || (rc = sp_tenant_flow_take(sp, app->tenant, false))) {
		sp_slot_free(sp, app, slot);
		return rc ? rc : -ENOBUFS;
	}
	struct sp_conn *c = sp_conn_new(sp, &id);
	c->tenant = app->tenant;
	c->app_id = app->app_id;
	c->slot = slot;
	c->local_ip = sp->dp->ip;
	c->remote_ip = ip;
	c->local_port = lport;
	c->remote_port = port;
	c->iss = sp_isn(sp, c->local_ip, lport, ip, port);
	c->next_hop = nh;
	if (cc)
		c->cc_ops = cc;
	c->ecn_requested = c->cc_ops->wants_ecn || sp->dp->cfg.ecn;
	sp_conn_hash_add(sp, c, id);
	app->slot_flow[slot] = id;

	struct bp_flow_shm *fs = &app->flows[slot];
	if (flags & BP_FLOW_RPC) {
		c->flags |= SPC_RPC;
		fs->flags |= BP_FF_RPC;
	}
	fs->local_ip = c->local_ip;
	fs->remote_ip = ip;
	fs->local_port = lport;
	fs->remote_port = port;
	__atomic_store_n(&fs->state, BP_FS_CONNECTING, __ATOMIC_RELEASE);
	sp_conn_send_syn_or_arp(sp, c);
	*slot_out = slot;
	return 0;
}

void sp_conn_arp_resolved(struct sp *sp, uint32_t ip)
{
	for (uint32_t i = 0; i < sp->nconns; i++) {
		struct sp_conn *c = &sp->conns[sp->active[i]];
		if (c->state == SPS_ARP_WAIT && c->next_hop == ip)
			sp_conn_send_syn_or_arp(sp, c);
	}
}

/* ------------------------------------------------------------ input */

static void syn_sent_input(struct sp *sp, struct sp_conn *c, uint32_t id, const struct pkt_tcp *p)
{
	bool ack_ok = (p->flags & TCPF_ACK) && p->ack == c->iss + 1;
	if ((p->flags & TCPF_ACK) && !ack_ok) {
		sp_send_rst_reply(sp, p);
		return;
	}
	if (p->flags & TCPF_RST) {
		if (ack_ok)
			sp_conn_handshake_fail(sp, c, id, ECONNREFUSED);
		return;
	}
	if ((p->flags & TCPF_SYN) && ack_ok) {
		c->irs = p->seq;
		c->peer_mss = p->opts.mss ? p->opts.mss : 536;
		c->peer_wscale = p->opts.wscale;
		c->peer_sack = p->opts.sack_ok;
		/* an ECN-setup SYN-ACK has ECE without CWR */
		c->ecn = c->ecn_requested && (p->flags & (TCPF_ECE | TCPF_CWR)) == TCPF_ECE;
		/* c->mac stays the neighbour cache's answer: the SYN-ACK's
		 * source MAC is whoever sent it */
		sp_conn_establish(sp, c, id, p->wnd, true);
		struct dp_app *app = sp_conn_app(sp, c);
		sp_app_post(sp, app, BP_EV_CONNECTED, 0, c->slot, sp_slot(app, c->slot)->gen, 0, 0);
	}
}

/*
 * RFC 1122 4.2.2.13 (Linux: tcp_timewait_state_process()): a SYN may open
 * a new incarnation of a TIME_WAIT tuple only above the old connection's
 * final RCV.NXT (its data and its FIN), never inside what it carried.
 * Return: 0 if it may not, else our ISN for the new incarnation, as
 * Linux's: a window past the old one's SND.NXT, so none of its segments
 * still in the network can be taken for the new one's (a clock-based ISN,
 * sp_isn(), is above it only if the old connection sent slower than the
 * clock ticks).
 */
static uint32_t syn_after_time_wait(struct sp *sp, const struct sp_conn *c, uint32_t id,
				    uint32_t seq)
{
	struct sp_fp_flow_info in;
	struct sp_fp_flow_view v;

	sp_fp_flow_read_info(sp, id, &in);
	uint32_t rcv_nxt = c->irs + 1 + (uint32_t)in.rx_pos + 1; /* + the FIN */
	if ((int32_t)(seq - rcv_nxt) <= 0)
		return 0;
	sp_fp_flow_read(sp, id, &v);
	uint32_t snd_nxt = c->iss + 1 + (uint32_t)v.tx_max_sent + 1; /* past our FIN */
	uint32_t isn = snd_nxt + 65535 + 2;
	return isn ? isn : 1;
}

void sp_conn_rx(struct sp *sp, struct rte_mbuf *m, const struct pkt_tcp *p)
{
	DP_ASSERT_SP();
	uint32_t id;
	struct sp_conn *c = conn_lookup(sp, p->saddr, p->daddr, p->sport, p->dport, &id);
	bool pure_syn = (p->flags & TCPF_SYN) && !(p->flags & (TCPF_ACK | TCPF_RST));
	bool passed = false;
	uint32_t tw_isn = 0;

	/* nothing listening: the TIME_WAIT stays and answers (Linux's
	 * TCP_TW_SYN without a listener), its ISN floor with it */
	if (c && c->state == SPS_TIME_WAIT && pure_syn && sp_port_accepting(sp, p->dport) &&
	    (tw_isn = syn_after_time_wait(sp, c, id, p->seq))) {
		/* RFC 1122: a new incarnation may reuse a TIME_WAIT tuple */
		struct conn_key k;
		key_of(&k, c);
		rte_hash_del_key(sp->conn_hash, &k);
		sp_conn_delete(sp, c, id, false);
		c = NULL;
	}
	if (!c) {
		passed = sp_synq_rx(sp, m, p, tw_isn); /* SYN, half-open, cookie or stray */
	} else {
		switch (c->state) {
		case SPS_SYN_SENT:
			syn_sent_input(sp, c, id, p);
			break;
		case SPS_ESTABLISHED:
		case SPS_TIME_WAIT:
			/* raced the FLOW_ADD: the fastpath handles it now; a SYN
			 * gets its RFC 5961 challenge ACK there, never a reset */
			sp_fp_reinject(sp, m);
			passed = true;
			break;
		default:
			break;
		}
	}
	if (!passed)
		rte_pktmbuf_free(m);
}

/* ------------------------------------------------------------ close */

static void check_closed(struct sp *sp, struct sp_conn *c, uint32_t id)
{
	if (c->state != SPS_ESTABLISHED ||
	    (c->flags & (SPC_FIN_RCVD | SPC_FIN_ACKED)) != (SPC_FIN_RCVD | SPC_FIN_ACKED))
		return;
	slot_closed(sp, c, 0);
	if ((c->flags & SPC_CLOSED_FIRST) && sp->dp->cfg.time_wait_ms) {
		c->state = SPS_TIME_WAIT; /* the fastpath keeps ACKing a resent FIN */
		sp_conn_set_deadline(sp, c, sp->now + sp_ms_to_tsc(sp, sp->dp->cfg.time_wait_ms));
		struct sp_app *sa = sp_conn_app(sp, c)->sp_priv;
		if ((c->flags & SPC_APP_CLOSED) && !sa->dying) {
			/* the app is done with it: its slot must not wait out
			 * TIME_WAIT too, or a server that closes first runs out
			 * of slots at (slots / time_wait) connections a second */
			c->flags |= SPC_DETACHED;
			sp_fp_flow_detach(sp, id);
		}
	} else {
		sp_conn_delete(sp, c, id, false);
	}
}

void sp_conn_reset(struct sp *sp, struct sp_conn *c, uint32_t id, int err, bool send_rst)
{
	slot_closed(sp, c, err);
	sp_conn_delete(sp, c, id, send_rst);
}

void sp_conn_ctrl(struct sp *sp, struct dp_app *app, uint16_t op, uint32_t slot, uint32_t gen,
		  uint32_t posted, uint32_t flags)
{
	DP_ASSERT_SP();
	const struct sp_slot *ps = sp_slot(app, slot);
	if (ps->gen != gen || ps->use == SP_SLOT_FREE || ps->use == SP_SLOT_MOVING) {
		/* stale or forged (a flow still moving in is not the app's
		 * to close until the adopt is answered): nothing to do */
		dp_app_bad_entry(app);
		return;
	}
	if (ps->use == SP_SLOT_LISTEN) {
		if (op == BP_CTRL_CLOSE || op == BP_CTRL_ABORT) {
			for (int i = 0; i < SP_MAX_LISTENERS; i++) {
				struct sp_listener *l = &sp->listeners[i];
				if (l->in_use && l->app_id == app->app_id && l->slot == slot) {
					sp_listener_close(sp, app, l);
					break;
				}
			}
		}
		return;
	}
	uint32_t id = app->slot_flow[slot];
	if (id == DP_INVALID_FLOW) {
		/* the connection is already gone; closing frees the slot */
		if (op != BP_CTRL_CLOSE && op != BP_CTRL_ABORT)
			return;
		/* or it was adopted away after the app last looked: the move
		 * made the app a holder, and this close is its release */
		const struct bp_flow_shm *fs = &app->flows[slot];
		if (__atomic_load_n(&fs->flags, __ATOMIC_ACQUIRE) & BP_FF_MOVED)
			sp_handoff_release(sp, app, __atomic_load_n(&fs->handoff_key,
								    __ATOMIC_RELAXED));
		sp_slot_free(sp, app, slot);
		return;
	}
	struct sp_conn *c = &sp->conns[id];
	if (op == BP_CTRL_SHUTDOWN || op == BP_CTRL_CLOSE)
		c->rpc_posted = posted; /* the app's word, bounded by FIN_TIMEOUT_MS */
	switch (op) {
	case BP_CTRL_KEEPALIVE:
		if (flags) {
			c->flags |= SPC_KEEPALIVE;
			c->ka_probes = 0;
			c->ka_next = 0; /* armed at the next visit */
			sp_conn_poke(sp, id);
		} else {
			c->flags &= ~SPC_KEEPALIVE;
		}
		break;
	case BP_CTRL_LINGER_RESET:
		/* the connection's, not the slot's: it travels with a flow a
		 * fork child or an exec'd image adopts, as a socket's option */
		if (flags)
			c->flags |= SPC_LINGER_RESET;
		else
			c->flags &= ~SPC_LINGER_RESET;
		break;
	case BP_CTRL_SHUTDOWN:
		if (c->state == SPS_ESTABLISHED && !(c->flags & SPC_APP_SHUT)) {
			c->flags |= SPC_APP_SHUT;
			sp_fp_flow_shutwr(sp, id, 0, c->rpc_posted);
		}
		break;
	case BP_CTRL_CLOSE:
	case BP_CTRL_ABORT:
		/* like the last close() of a socket: only once no other
		 * process (a fork child) still holds the flow */
		if (sp_handoff_owner_releases(sp, c))
			break;
		sp_conn_close_owned(sp, c, id, op == BP_CTRL_ABORT);
		break;
	}
}

/*
 * @c's app is gone (died, detached, or its last fork child exited after
 * it), so it posts nothing more: an RPC session's FIN must not wait out
 * FIN_TIMEOUT_MS (holding the app's region and slot) for frames the app
 * only said it posted at its SHUTDOWN or CLOSE.  Frames it did post may
 * still be on their way from another core's queue (a bucket moved while
 * posts were out), so the FIN waits for them RPC_GONE_GRACE_MS first;
 * then (sp_conn_gone_grace_over()) only for those the fastpath has seen.
 */
static void rpc_app_gone(struct sp *sp, struct sp_conn *c)
{
	if (!(c->flags & SPC_RPC) || c->state != SPS_ESTABLISHED || (c->flags & SPC_GONE_GRACE))
		return;
	/* its own time, not the deadline: the FIN timeout keeps running */
	c->flags |= SPC_GONE_GRACE;
	c->gone_grace_end = sp->now + sp_ms_to_tsc(sp, RPC_GONE_GRACE_MS);
	sp_conn_watch(sp, (uint32_t)(c - sp->conns), c->gone_grace_end);
}

/**
 * sp_conn_gone_grace_over - @c's grace after its app went is over: a FIN
 * still waiting stops waiting for posts not seen (the fastpath ignores
 * this for one that does not wait).
 */
void sp_conn_gone_grace_over(struct sp *sp, struct sp_conn *c, uint32_t id)
{
	c->flags &= ~SPC_GONE_GRACE;
	if (c->state == SPS_ESTABLISHED)
		sp_fp_flow_shutwr(sp, id, DP_SHUTWR_APP_GONE, c->rpc_posted);
}

/**
 * sp_conn_close_owned - the last holder let go of the flow: close it as
 * its owner app (FIN after the buffered data, or RST if @abort, unread
 * data is left or SO_LINGER {1, 0} was set, like Linux).  A close that the
 * app's exit makes comes here too, so a process that exits (or dies)
 * without closing resets its SO_LINGER {1, 0} connections, as Linux's
 * exit closes every descriptor.
 */
void sp_conn_close_owned(struct sp *sp, struct sp_conn *c, uint32_t id, bool abort)
{
	struct bp_flow_shm *fs = &sp_conn_app(sp, c)->flows[c->slot];
	c->flags |= SPC_APP_CLOSED;
	c->flags &= ~SPC_ORPHAN;
	if (c->state == SPS_ARP_WAIT || c->state == SPS_SYN_SENT) {
		sp_conn_handshake_fail(sp, c, id, ECONNABORTED);
	} else if (c->state == SPS_ESTABLISHED) {
		/* an RPC session's bytes are the daemon's to read (its framer
		 * took them as messages): what the app left is not unread */
		bool unread = !(c->flags & SPC_RPC) &&
			      __atomic_load_n(&fs->rx_written, __ATOMIC_ACQUIRE) !=
			      __atomic_load_n(&fs->rx_consumed, __ATOMIC_ACQUIRE);
		if (abort || unread || (c->flags & SPC_LINGER_RESET)) {
			/* like Linux: closing with unread data resets */
			sp_conn_reset(sp, c, id, ECONNABORTED, true);
		} else {
			/* FIN after the buffered data (if shutdown() has not
			 * asked already); arg 1: nobody reads any more */
			c->flags |= SPC_APP_SHUT;
			sp_fp_flow_shutwr(sp, id, DP_SHUTWR_LAST_HOLDER, c->rpc_posted);
			sp_conn_set_deadline(sp, c, sp->now + sp_ms_to_tsc(sp, FIN_TIMEOUT_MS));
			/* the app died (or its last fork child did, after it) */
			const struct sp_app *sa = sp_conn_app(sp, c)->sp_priv;
			if ((c->flags & SPC_APP_GONE) || !sa || sa->dying)
				rpc_app_gone(sp, c);
		}
	}
}

void sp_conn_fp_event(struct sp *sp, uint16_t type, uint32_t id)
{
	DP_ASSERT_SP();
	if (id >= sp->dp->cfg.max_flows)
		return;
	struct sp_conn *c = &sp->conns[id];
	if (c->state == SPS_FREE)
		return;
	sp_conn_poke(sp, id);
	switch (type) {
	case DPM_FLOW_FIN_RCVD:
		c->flags |= SPC_FIN_RCVD;
		check_closed(sp, c, id);
		break;
	case DPM_FLOW_FIN_ACKED:
		if (!(c->flags & SPC_FIN_RCVD))
			c->flags |= SPC_CLOSED_FIRST;
		c->flags |= SPC_FIN_ACKED;
		check_closed(sp, c, id);
		break;
	case DPM_FLOW_RST_RCVD:
		if (c->state == SPS_ESTABLISHED || c->state == SPS_TIME_WAIT)
			sp_conn_reset(sp, c, id, c->state == SPS_TIME_WAIT ? 0 : ECONNRESET, false);
		break;
	case DPM_FLOW_BAD_APP:
		if (c->state == SPS_ESTABLISHED)
			sp_conn_reset(sp, c, id, EPROTO, true);
		break;
	case DPM_FLOW_DETACH_DONE: {
		struct dp_app *app = sp_conn_app(sp, c);
		app->slot_flow[c->slot] = DP_INVALID_FLOW;
		sp_slot_free(sp, app, c->slot);
		break;
	}
	case DPM_FLOW_DEL_DONE: {
		struct dp_app *app = sp_conn_app(sp, c);
		sp_fp_flow_forget(sp, id);
		if (c->flags & SPC_DETACHED) {
			conn_free(sp, c, id); /* its slot went back at DETACH_DONE */
			break;
		}
		app->slot_flow[c->slot] = DP_INVALID_FLOW;
		if (c->flags & SPC_APP_CLOSED)
			sp_slot_free(sp, app, c->slot);
		else
			slot_closed(sp, c, 0);
		conn_free(sp, c, id);
		sp_app_flow_done(sp, app);
		break;
	}
	}
}

/**
 * sp_conn_app_gone_one - conn @id's owner app died or detached.  If a fork
 * child still holds the flow it lives on as an orphan (its region stays
 * mapped until the child adopts it).  Else the exit closes it, as the
 * kernel closes the sockets of a process that exits: the bytes the app
 * wrote still go out, then the FIN (the region stays mapped until the flow
 * is gone); unread received data or SO_LINGER {1, 0} resets it instead,
 * as on Linux.
 * Return: true if the conn still lives (it will report FLOW_DEL_DONE or
 * move away), false if it was freed on the spot.
 */
bool sp_conn_app_gone_one(struct sp *sp, struct sp_conn *c, uint32_t id)
{
	const struct sp_app *sa = sp_conn_app(sp, c)->sp_priv;
	if (sa && sa->region_lost && c->state == SPS_ESTABLISHED) {
		/* its rings are gone with its region (region_guard.c): nothing
		 * in them is to be sent or handed to a fork child */
		c->flags |= SPC_NOTIFIED | SPC_APP_GONE | SPC_APP_CLOSED;
		c->flags &= ~SPC_ORPHAN;
		sp_conn_reset(sp, c, id, ECONNABORTED, true);
		return true;
	}
	if (!(c->flags & SPC_APP_CLOSED) && sp_handoff_owner_releases(sp, c))
		return true; /* a fork child holds it: an orphan (bounded, handoff.c) */
	bool closing = !(c->flags & SPC_APP_CLOSED) && c->state == SPS_ESTABLISHED;
	c->flags |= SPC_NOTIFIED; /* nobody is left to tell */
	c->flags |= SPC_APP_GONE;
	if (closing)
		sp_conn_close_owned(sp, c, id, false);
	else
		rpc_app_gone(sp, c); /* closed before: its FIN may be waiting */
	c->flags |= SPC_APP_CLOSED;
	if (c->state != SPS_ESTABLISHED && c->state != SPS_TIME_WAIT &&
	    c->state != SPS_DELETING) {
		conn_free(sp, c, id); /* never reached the fastpath */
		return false;
	}
	return true;
}

/**
 * sp_conn_app_gone - the app died or detached.  Its flows close as its
 * sockets would at exit (sp_conn_app_gone_one); their unacked tail still
 * lives in the region, which stays mapped until they are gone.
 * Return: how many flows will still report FLOW_DEL_DONE.
 */
uint32_t sp_conn_app_gone(struct sp *sp, struct dp_app *app)
{
	uint32_t live = 0;
	for (uint32_t i = 0; i < sp->nconns;) {
		uint32_t id = sp->active[i];
		struct sp_conn *c = &sp->conns[id];
		if (c->app_id != app->app_id || (c->flags & SPC_DETACHED)) {
			i++; /* detached: references nothing of the app */
			continue;
		}
		if (!sp_conn_app_gone_one(sp, c, id))
			continue; /* freed: sp->active[i] is another conn now */
		live++;
		i++;
	}
	for (int i = 0; i < SP_MAX_LISTENERS; i++) {
		struct sp_listener *l = &sp->listeners[i];
		if (l->in_use && l->app_id == app->app_id)
			sp_listener_unlink(sp, l);
	}
	return live;
}

