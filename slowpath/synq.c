// SPDX-License-Identifier: MIT
/*
 * synq.c - the passive open, built to survive SYN floods.
 *
 * A SYN takes no flow id and no app slot: it gets an entry in the SYN
 * queue, a table of [tcp] max_half_open entries allocated once at start
 * (so a flood cannot grow the daemon), with its own keyed hash.  The flow
 * id and the app's slot are taken only when the final ACK completes the
 * handshake, and only if the listener's accept queue has room.
 *
 * When the listener already holds `backlog` half-open connections, or the
 * whole table is full, the SYN is answered with a SYN cookie
 * (syncookie.c) and forgotten; a valid cookie in a final ACK creates the
 * connection as if it had waited in the queue.  SYNs from addresses that
 * cannot be a peer (zero, broadcast, multicast, loopback, our own, a
 * multicast source MAC) get nothing.  Replies go to the neighbour cache's
 * MAC for the source's next hop if it knows one, else to the SYN's source
 * MAC, so spoofed sources never make us ARP (sp_arp_reply_mac()).
 *
 * In SYN_RCVD, RFC 5961 applies too: an RST resets only at exactly
 * RCV.NXT; in the window it earns a challenge ACK, outside it nothing; a
 * SYN other than a retransmission of the first earns a challenge ACK.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <rte_jhash.h>
#include <rte_random.h>

#include "sp_internal.h"
#include "seq.h"
#include "syncookie.h"

#define SYNQ_SCAN_MS 10     /* how often half-open timers are looked at */
#define SYNQ_PRESSURE_RETRIES 2 /* SYN-ACK resends when a queue is half full */

struct synq_entry {
	struct sp_hs hs;
	uint32_t next;        /* hash chain, or the free list: index + 1, 0 = end */
	uint16_t listener;    /* listener index + 1; 0 = entry free */
	uint16_t tenant;      /* the listener's, counted in its half_open */
	uint8_t retries;
	bool acked;           /* kept through SYN pressure: its final ACK met a full accept queue */
	uint64_t deadline;    /* tsc of the next SYN-ACK retransmission */
	uint64_t oow_ack_tsc; /* last challenge ACK it sent */
};

struct sp_synq {
	uint32_t size, used;
	uint32_t mask;                /* buckets - 1 */
	uint32_t *bucket;             /* chain heads: index + 1 */
	struct synq_entry *e;         /* [size] */
	uint32_t free_head;           /* index + 1 */
	uint32_t seed;                /* hash seed: chains an attacker cannot aim at */
	uint64_t next_scan;
	struct siphash_key key;
	uint64_t cookie_sent_tsc;     /* last cookie SYN-ACK, 0 = never */
	uint64_t chack_sec_start;     /* challenge ACK budget, as the fastpath's */
	uint32_t chack_count, chack_quota;
};

int sp_synq_init(struct sp *sp)
{
	struct sp_synq *q = calloc(1, sizeof(*q));
	if (!q)
		return -1;
	sp->synq = q;
	q->size = sp->dp->cfg.max_half_open;
	uint32_t nb = 16;
	while (nb < q->size)
		nb <<= 1;
	q->mask = nb - 1;
	q->bucket = calloc(nb, sizeof(*q->bucket));
	q->e = calloc(q->size, sizeof(*q->e));
	if (!q->bucket || !q->e)
		return -1;
	for (uint32_t i = 0; i < q->size; i++)
		q->e[i].next = i + 2 <= q->size ? i + 2 : 0;
	q->free_head = 1;
	sp_secret(&q->key, sizeof(q->key));
	sp_secret(&q->seed, sizeof(q->seed));
	return 0;
}

void sp_synq_fini(struct sp *sp)
{
	struct sp_synq *q = sp->synq;
	if (!q)
		return;
	free(q->bucket);
	free(q->e);
	free(q);
	sp->synq = NULL;
}

uint32_t sp_synq_count(const struct sp *sp)
{
	return sp->synq ? sp->synq->used : 0;
}

static uint32_t *chain_of(struct sp_synq *q, uint32_t raddr, uint32_t laddr, uint16_t rport,
			  uint16_t lport)
{
	uint32_t h = rte_jhash_3words(raddr, laddr, (uint32_t)rport << 16 | lport, q->seed);
	return &q->bucket[h & q->mask];
}

/* the entry for a tuple: its index, or -1 */
static int32_t synq_find(struct sp_synq *q, uint32_t raddr, uint32_t laddr, uint16_t rport,
			 uint16_t lport)
{
	for (uint32_t i = *chain_of(q, raddr, laddr, rport, lport); i; i = q->e[i - 1].next) {
		const struct sp_hs *hs = &q->e[i - 1].hs;
		if (hs->remote_ip == raddr && hs->local_ip == laddr &&
		    hs->remote_port == rport && hs->local_port == lport)
			return (int32_t)(i - 1);
	}
	return -1;
}

/* the entry for @p's tuple: its index, or -1 */
static int32_t synq_lookup(struct sp_synq *q, const struct pkt_tcp *p)
{
	return synq_find(q, p->saddr, p->daddr, p->sport, p->dport);
}

static void synq_remove(struct sp *sp, uint32_t idx)
{
	struct sp_synq *q = sp->synq;
	struct synq_entry *e = &q->e[idx];
	const struct sp_hs *hs = &e->hs;
	for (uint32_t *pp = chain_of(q, hs->remote_ip, hs->local_ip, hs->remote_port,
				     hs->local_port); *pp; pp = &q->e[*pp - 1].next) {
		if (*pp == idx + 1) {
			*pp = e->next;
			break;
		}
	}
	struct sp_listener *l = &sp->listeners[e->listener - 1];
	if (l->half_open)
		l->half_open--;
	if (e->acked && l->half_open_acked)
		l->half_open_acked--;
	sp_tenant_half_open(sp, e->tenant, -1);
	e->listener = 0;
	e->next = q->free_head;
	q->free_head = idx + 1;
	q->used--;
}

void sp_synq_purge_listener(struct sp *sp, const struct sp_listener *l)
{
	struct sp_synq *q = sp->synq;
	uint16_t self = (uint16_t)(l - sp->listeners) + 1;
	for (uint32_t i = 0; q && q->used && i < q->size; i++)
		if (q->e[i].listener == self)
			synq_remove(sp, i);
}

/* a source no peer can have: no state, no answer */
static bool bogus_source(const struct sp *sp, const struct pkt_tcp *p)
{
	return pkt_mac_martian(p->src_mac) || !p->sport ||
	       pkt_ipv4_martian(p->saddr, sp->dp->ip, sp->dp->netmask);
}

/* the listener on @port a new connection goes to: among those whose
 * accept queue has room, the least loaded (the idlest worker) */
static struct sp_listener *pick_listener(struct sp *sp, uint16_t port)
{
	struct sp_listener *best = NULL;
	uint32_t best_load = UINT32_MAX;
	for (uint16_t i = sp->listener_by_port[port]; i; i = sp->listeners[i - 1].next) {
		struct sp_listener *l = &sp->listeners[i - 1];
		uint32_t waiting = sp_listener_waiting(sp, l);
		if (waiting >= l->backlog || !sp_listener_takes_conns(sp, l))
			continue;
		if (waiting + l->half_open < best_load) {
			best_load = waiting + l->half_open;
			best = l;
		}
	}
	return best;
}

/*
 * RFC 5961's challenge ACK in SYN_RCVD, rate-limited as on established
 * flows (fastpathd/tcp_in.c): once per entry per [tcp] invalid_ratelimit_ms,
 * about [tcp] challenge_ack_limit a second in all (the slowpath's own
 * budget, randomised the same way).
 */
static void challenge_ack(struct sp *sp, struct synq_entry *e)
{
	struct sp_synq *q = sp->synq;
	const struct bp_config *cfg = &sp->dp->cfg;
	if (e->oow_ack_tsc && sp->now - e->oow_ack_tsc < sp_ms_to_tsc(sp, cfg->invalid_ratelimit_ms))
		return;
	if (cfg->challenge_ack_limit) {
		if (!q->chack_sec_start || sp->now - q->chack_sec_start >= sp->dp->tsc_hz) {
			uint32_t lim = cfg->challenge_ack_limit;
			q->chack_sec_start = sp->now;
			q->chack_count = 0;
			q->chack_quota = lim / 2 + (uint32_t)rte_rand_max(lim) + 1;
		}
		if (q->chack_count >= q->chack_quota)
			return;
		q->chack_count++;
	}
	e->oow_ack_tsc = sp->now;
	sp_send_ack_hs(sp, &e->hs);
}

/* the window our SYN-ACK offered (unscaled, as in every SYN) */
static uint32_t synack_window(const struct sp *sp)
{
	return sp->dp->cfg.rx_buf_size > 0xffff ? 0xffff : sp->dp->cfg.rx_buf_size;
}

/**
 * establish - the handshake completed (from the queue or a cookie): take a
 * flow id and a slot, install the flow, queue it for the app's accept.
 * Return: -1 if no flow or slot was free (the ACK is dropped), 1 if @m was
 * handed on to the fastpath (it carries data or a FIN), else 0.
 */
static int establish(struct sp *sp, struct sp_listener *l, const struct sp_hs *hs,
		     struct rte_mbuf *m, const struct pkt_tcp *p)
{
	struct dp_app *app = &sp->dp->apps[l->app_id];
	uint32_t slot, id;
	if (sp_slot_alloc(sp, app, &slot))
		return -1;
	if (!sp->nfree_ids || sp_tenant_flow_take(sp, l->tenant, true)) {
		sp_slot_free(sp, app, slot);
		return -1;
	}
	struct sp_conn *c = sp_conn_new(sp, &id);
	c->tenant = l->tenant;
	c->app_id = l->app_id;
	c->slot = slot;
	c->listener_slot = l->slot;
	c->listener = (uint16_t)(l - sp->listeners) + 1;
	if (l->cc)
		c->cc_ops = l->cc;
	if (l->rpc) {
		c->flags |= SPC_RPC;
		__atomic_fetch_or(&app->flows[slot].flags, BP_FF_RPC, __ATOMIC_RELEASE);
	}
	c->local_ip = hs->local_ip;
	c->remote_ip = hs->remote_ip;
	c->local_port = hs->local_port;
	c->remote_port = hs->remote_port;
	c->iss = hs->iss;
	c->irs = hs->irs;
	c->peer_mss = hs->peer_mss;
	c->peer_wscale = hs->peer_wscale;
	c->peer_sack = hs->peer_sack;
	c->ecn = hs->ecn;
	/* the neighbour may have moved since the SYN, and the pass that moved
	 * the open connections (path_pass.c) did not see this one.  Without a
	 * fresh cache entry, the final ACK's source MAC, unless no host may
	 * have it (a cookie's ACK passed bogus_source(); a queued one then
	 * keeps the SYN's, which did) */
	sp_arp_reply_mac(sp, c->remote_ip,
			 pkt_mac_martian(p->src_mac) ? hs->mac.addr_bytes : p->src_mac, &c->mac);
	c->next_hop = sp_next_hop(sp, c->remote_ip); /* followed if it moves (arp.c) */
	sp_conn_hash_add(sp, c, id);
	/* this ACK's window is scaled already; the flow is the fastpath's
	 * once FLOW_ADD is queued, so the window goes in before it */
	uint8_t wscale = c->peer_wscale >= 0 ? (uint8_t)c->peer_wscale : 0;
	sp_conn_establish(sp, c, id, (uint32_t)p->wnd << wscale, false);
	l->delivered++;
	app->flows[l->slot].listen_pending = l->delivered;
	sp_app_post(sp, app, BP_EV_ACCEPT, 0, c->slot, sp_slot(app, c->slot)->gen, 0, c->listener_slot);
	if (p->payload_len || (p->flags & TCPF_FIN)) {
		sp_fp_reinject(sp, m);
		return 1;
	}
	return 0;
}

/* a SYN for a listener: @tw_isn, if not 0, is our ISN for a new incarnation
 * of a TIME_WAIT tuple (conn.c), else sp_isn() makes one */
static void syn_input(struct sp *sp, const struct pkt_tcp *p, uint32_t tw_isn)
{
	struct sp_synq *q = sp->synq;
	struct dataplane *dp = sp->dp;
	if (bogus_source(sp, p)) {
		dp->sp_counters[DPC_SYN_DROPPED]++;
		return;
	}
	if (!sp_port_accepting(sp, p->dport)) {
		sp_send_rst_reply(sp, p); /* connection refused */
		return;
	}
	int32_t idx = synq_lookup(q, p);
	if (idx >= 0) {
		struct synq_entry *e = &q->e[idx];
		if (p->seq == e->hs.irs) { /* our SYN-ACK was lost */
			sp_arp_reply_mac(sp, p->saddr, p->src_mac, &e->hs.mac);
			sp_send_synack_hs(sp, &e->hs);
		}
		else
			challenge_ack(sp, e); /* RFC 5961 4.2 */
		return;
	}
	struct sp_listener *l = pick_listener(sp, p->dport);
	if (!l) {
		/* every accept queue full: drop, as Linux does; the peer
		 * resends the SYN once the app has accepted */
		dp->sp_counters[DPC_SYN_DROPPED]++;
		return;
	}
	if (!sp_tenant_syn_ok(sp, l->tenant)) {
		/* the tenant holds max_flows: dropped like a full accept
		 * queue (no cookie either: it would only be refused at the
		 * ACK), and counted against it */
		dp->sp_counters[DPC_SYN_DROPPED]++;
		return;
	}
	struct sp_hs hs = {
		.local_ip = p->daddr, .remote_ip = p->saddr,
		.local_port = p->dport, .remote_port = p->sport,
		.irs = p->seq,
		.peer_mss = p->opts.mss ? p->opts.mss : 536,
		.peer_wscale = p->opts.wscale,
		.peer_sack = p->opts.sack_ok,
		/* RFC 3168: an ECN-setup SYN has ECE and CWR; we always accept */
		.ecn = (p->flags & (TCPF_ECE | TCPF_CWR)) == (TCPF_ECE | TCPF_CWR),
	};
	sp_arp_reply_mac(sp, p->saddr, p->src_mac, &hs.mac);

	if (l->half_open >= l->backlog || !q->free_head) {
		if (!dp->cfg.syncookies) {
			dp->sp_counters[DPC_SYN_DROPPED]++;
			return;
		}
		struct syncookie_opts o = { hs.peer_mss, hs.peer_wscale, hs.peer_sack, hs.ecn };
		hs.iss = syncookie_make(&q->key, p->saddr, p->daddr, p->sport, p->dport, p->seq,
					syncookie_clock(sp->now, dp->tsc_hz), &o);
		hs.peer_wscale = o.wscale;
		q->cookie_sent_tsc = sp->now;
		dp->sp_counters[DPC_SYN_COOKIE_SENT]++;
		sp_send_synack_hs(sp, &hs);
		return;
	}
	uint32_t i = q->free_head - 1;
	struct synq_entry *e = &q->e[i];
	q->free_head = e->next;
	hs.iss = tw_isn ? tw_isn : sp_isn(sp, p->daddr, p->dport, p->saddr, p->sport);
	e->hs = hs;
	e->listener = (uint16_t)(l - sp->listeners) + 1;
	e->retries = 0;
	e->acked = false;
	e->oow_ack_tsc = 0;
	e->deadline = sp->now + sp_ms_to_tsc(sp, SYN_RTO_MS);
	uint32_t *head = chain_of(q, p->saddr, p->daddr, p->sport, p->dport);
	e->next = *head;
	*head = i + 1;
	q->used++;
	l->half_open++;
	e->tenant = l->tenant;
	sp_tenant_half_open(sp, e->tenant, 1);
	sp_send_synack_hs(sp, &e->hs);
}

/* a segment for a queued half-open connection (SYN_RCVD); true if @m was
 * handed on */
static bool entry_input(struct sp *sp, uint32_t idx, struct rte_mbuf *m, const struct pkt_tcp *p)
{
	struct synq_entry *e = &sp->synq->e[idx];
	uint32_t rcv_nxt = e->hs.irs + 1;
	bool in_window = seq_in_window(p->seq, rcv_nxt, synack_window(sp));
	if (p->flags & TCPF_RST) {
		/* RFC 5961 3.2, in SYN_RCVD as in every synchronized state */
		if (p->seq == rcv_nxt)
			synq_remove(sp, idx);
		else if (in_window)
			challenge_ack(sp, e);
		return false;
	}
	if (p->flags & TCPF_SYN) {
		challenge_ack(sp, e); /* RFC 5961 4.2 */
		return false;
	}
	if (!(p->flags & TCPF_ACK))
		return false;
	if (p->ack != e->hs.iss + 1) {
		sp_send_rst_reply(sp, p); /* RFC 793: a bad ACK in SYN_RCVD */
		return false;
	}
	if (!in_window) {
		challenge_ack(sp, e);
		return false;
	}
	struct sp_listener *l = &sp->listeners[e->listener - 1];
	if (sp_listener_waiting(sp, l) >= l->backlog) {
		/* accept queue full: drop the ACK, as Linux does; the peer
		 * thinks it is connected, and its next segment, or the ACK
		 * our SYN-ACK resend draws, completes it once there is room.
		 * At most half the backlog is kept through SYN pressure, so
		 * a peer that ACKs its own flood cannot pin the queue. */
		if (!e->acked && l->half_open_acked < l->backlog / 2) {
			e->acked = true;
			l->half_open_acked++;
		}
		return false;
	}
	int rc = establish(sp, l, &e->hs, m, p);
	if (rc < 0)
		return false; /* no flow or slot now: our SYN-ACK resend retries */
	synq_remove(sp, idx);
	return rc == 1;
}

/* a final ACK matching no queued connection: a cookie?  true if it was
 * handled (@passed says whether @m was handed on) */
static bool cookie_input(struct sp *sp, struct rte_mbuf *m, const struct pkt_tcp *p, bool *passed)
{
	struct sp_synq *q = sp->synq;
	struct dataplane *dp = sp->dp;
	uint64_t recent = (uint64_t)(SYNCOOKIE_MAX_AGE + 1) * SYNCOOKIE_PERIOD_S * dp->tsc_hz;
	*passed = false;
	/* only while cookies are in use: a host under no flood takes none */
	if (!dp->cfg.syncookies || !q->cookie_sent_tsc || sp->now - q->cookie_sent_tsc > recent)
		return false;
	if ((p->flags & (TCPF_ACK | TCPF_SYN | TCPF_RST)) != TCPF_ACK ||
	    !sp_port_accepting(sp, p->dport) || bogus_source(sp, p))
		return false;
	struct syncookie_opts o = { 0 };
	uint32_t now = syncookie_clock(sp->now, dp->tsc_hz);
	if (syncookie_check(&q->key, p->saddr, p->daddr, p->sport, p->dport, p->seq - 1,
			    p->ack - 1, now, &o) != SYNCOOKIE_OK) {
		dp->sp_counters[DPC_SYN_COOKIE_BAD]++;
		return false;
	}
	struct sp_listener *l = pick_listener(sp, p->dport);
	if (!l)
		return true; /* accept queue full: drop, the peer resends */
	struct sp_hs hs = {
		.local_ip = p->daddr, .remote_ip = p->saddr,
		.local_port = p->dport, .remote_port = p->sport,
		.iss = p->ack - 1, .irs = p->seq - 1,
		.peer_mss = o.mss, .peer_wscale = o.wscale, .peer_sack = o.sack, .ecn = o.ecn,
	}; /* hs.mac: establish() takes it from the cache or this ACK */
	int rc = establish(sp, l, &hs, m, p);
	if (rc >= 0)
		dp->sp_counters[DPC_SYN_COOKIE_OK]++;
	*passed = rc == 1;
	return true;
}

/**
 * sp_synq_rx - a segment that matches no connection: a SYN for a
 * listener, a segment of a half-open connection, or a cookie ACK; others
 * are answered with an RST (RFC 793).
 * Return: true if @m was handed on to the fastpath.
 */
bool sp_synq_rx(struct sp *sp, struct rte_mbuf *m, const struct pkt_tcp *p, uint32_t tw_isn)
{
	if ((p->flags & TCPF_SYN) && !(p->flags & (TCPF_ACK | TCPF_RST))) {
		syn_input(sp, p, tw_isn);
		return false;
	}
	int32_t idx = synq_lookup(sp->synq, p);
	if (idx >= 0)
		return entry_input(sp, (uint32_t)idx, m, p);
	bool passed;
	if (cookie_input(sp, m, p, &passed))
		return passed;
	if (!(p->flags & TCPF_RST) && !bogus_source(sp, p))
		sp_send_rst_reply(sp, p);
	return false;
}

/**
 * sp_synq_icmp_err - an ICMP error about our SYN-ACK on a half-open
 * connection, as Linux's tcp_req_err(): if it quotes exactly our SYN-ACK's
 * sequence number and @fatal (the caller's verdict on its type and code),
 * the entry goes, silently (the app never saw it, and accept() has no way
 * to report a network error).  Without this a peer a router can no longer
 * reach held its entry through every SYN-ACK resend.
 * Return: whether it named an entry and was acted on.
 */
bool sp_synq_icmp_err(struct sp *sp, const struct pkt_icmp_err *u, bool fatal)
{
	DP_ASSERT_SP();
	int32_t idx = synq_find(sp->synq, u->raddr, sp->dp->ip, u->rport, u->lport);
	if (idx < 0 || !fatal || u->seq != sp->synq->e[idx].hs.iss)
		return false;
	synq_remove(sp, (uint32_t)idx);
	return true;
}

/**
 * sp_synq_tick - resend lost SYN-ACKs and give up on half-open
 * connections.  While a listener's queue or the whole table is more than
 * half full, most entries are spoofed: they get SYNQ_PRESSURE_RETRIES
 * resends instead of [tcp] syn_retries (Linux shortens them the same way),
 * so room comes back within seconds instead of half a minute.  An entry
 * whose peer ACKed it (into a full accept queue) is no spoof: it keeps
 * all of them, or the peer, connected in its own eyes, would be reset by
 * its next segment while the app is merely slow to accept.  Up to half
 * the backlog per listener (entry_input()): Linux prunes those too, and a
 * real host that ACKs its own flood holds no more than that.
 */
void sp_synq_tick(struct sp *sp)
{
	struct sp_synq *q = sp->synq;
	if (!q->used || sp->now < q->next_scan)
		return;
	q->next_scan = sp->now + sp_ms_to_tsc(sp, SYNQ_SCAN_MS);
	bool full = q->used > q->size / 2;
	for (uint32_t i = 0; i < q->size && q->used; i++) {
		struct synq_entry *e = &q->e[i];
		if (!e->listener || sp->now < e->deadline)
			continue;
		const struct sp_listener *l = &sp->listeners[e->listener - 1];
		bool pressure = !e->acked && (full || l->half_open > l->backlog / 2);
		uint32_t max = pressure ? SYNQ_PRESSURE_RETRIES : sp->dp->cfg.syn_retries;
		if (++e->retries > max) {
			synq_remove(sp, i);
			continue;
		}
		/* to where the neighbour cache now says, if it knows */
		uint8_t last[RTE_ETHER_ADDR_LEN];
		memcpy(last, e->hs.mac.addr_bytes, sizeof(last));
		sp_arp_reply_mac(sp, e->hs.remote_ip, last, &e->hs.mac);
		sp_send_synack_hs(sp, &e->hs);
		e->deadline = sp->now + sp_ms_to_tsc(sp, (uint64_t)SYN_RTO_MS << e->retries);
	}
}

void sp_synq_drop(struct sp *sp, uint32_t idx)
{
	if (sp->synq && idx < sp->synq->size && sp->synq->e[idx].listener)
		synq_remove(sp, idx);
}

uint32_t sp_synq_size(const struct sp *sp)
{
	return sp->synq ? sp->synq->size : 0;
}

bool sp_synq_view(const struct sp *sp, uint32_t idx, struct sp_synq_view *v)
{
	const struct sp_synq *q = sp->synq;

	if (!q || idx >= q->size || !q->e[idx].listener)
		return false;
	const struct synq_entry *e = &q->e[idx];
	v->hs = &e->hs;
	v->tenant = e->tenant;
	v->retries = e->retries;
	v->app_id = sp->listeners[e->listener - 1].app_id;
	return true;
}
