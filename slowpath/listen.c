// SPDX-License-Identifier: MIT
/*
 * listen.c - listeners and the passive open: listen/close, choosing a
 * listener among the processes that share a port, a SYN that opens a
 * half-open connection, and the handshake's final ACK (SYN_RCVD).
 *
 * Connections themselves (install, close, timers) live in conn.c.
 */
#include <errno.h>
#include <string.h>
#include <rte_random.h>

#include "sp_internal.h"

/* the first listener on @port (more follow through ->next if shared) */
struct sp_listener *sp_listener_of_port(struct sp *sp, uint16_t port)
{
	uint16_t i = sp->listener_by_port[port];
	return i ? &sp->listeners[i - 1] : NULL;
}

/* the listener a passive conn came through, if it still exists */
struct sp_listener *sp_listener_of_conn(struct sp *sp, const struct sp_conn *c)
{
	if (!c->listener)
		return NULL;
	struct sp_listener *l = &sp->listeners[c->listener - 1];
	return l->in_use && l->app_id == c->app_id && l->slot == c->listener_slot ? l : NULL;
}

void sp_listener_unlink(struct sp *sp, struct sp_listener *l)
{
	uint16_t self = (uint16_t)(l - sp->listeners) + 1;
	for (uint16_t *pp = &sp->listener_by_port[l->port]; *pp;
	     pp = &sp->listeners[*pp - 1].next) {
		if (*pp == self) {
			*pp = l->next;
			break;
		}
	}
	l->in_use = false;
	sp_listen_drop_proof(l);
}

/* ------------------------------------------------------------ listen */

int sp_conn_listen(struct sp *sp, struct dp_app *app, uint32_t ip, uint16_t port, uint32_t backlog,
		   uint32_t flags, const struct cc_ops *cc, uint32_t *slot_out)
{
	return sp_conn_listen_fd(sp, app, ip, port, backlog, flags, cc, -1, slot_out);
}

/**
 * sp_conn_listen_fd - open a listener; a shared one may join the port's
 * other listeners only with @proof_fd, a descriptor of the same kernel
 * object they presented, and the same uid (listen_owner.c).
 */
int sp_conn_listen_fd(struct sp *sp, struct dp_app *app, uint32_t ip, uint16_t port,
		      uint32_t backlog, uint32_t flags, const struct cc_ops *cc, int proof_fd,
		      uint32_t *slot_out)
{
	bool shared = flags & BP_LISTEN_SHARED;
	if (ip && ip != sp->dp->ip)
		return -EADDRNOTAVAIL;
	if (!port && !(port = sp_conn_pick_ephemeral(sp, 0, 0)))
		return -EADDRINUSE;
	int jrc = sp_listen_check_join(sp, app, port, shared, proof_fd);
	if (jrc)
		return jrc;
	struct sp_listener *l = NULL;
	uint16_t idx;
	for (idx = 0; idx < SP_MAX_LISTENERS; idx++) {
		if (!sp->listeners[idx].in_use) {
			l = &sp->listeners[idx];
			break;
		}
	}
	if (!l)
		return -ENOBUFS;
	uint32_t slot;
	int rc = sp_slot_alloc(sp, app, &slot);
	if (rc)
		return rc;
	*l = (struct sp_listener){
		.in_use = true, .shared = shared, .app_id = app->app_id, .port = port,
		.slot = slot, .backlog = backlog ? (backlog > 65535 ? 65535 : backlog) : 128,
		.next = sp->listener_by_port[port],
		.cc = cc,
	};
	sp_listen_set_proof(sp, app, l, proof_fd);
	sp->listener_by_port[port] = idx + 1;
	struct bp_flow_shm *fs = &app->flows[slot];
	fs->local_ip = sp->dp->ip;
	fs->local_port = port;
	__atomic_store_n(&fs->state, BP_FS_LISTEN, __ATOMIC_RELEASE);
	*slot_out = slot;
	return 0;
}

void sp_listener_close(struct sp *sp, struct dp_app *app, struct sp_listener *l)
{
	sp_listener_unlink(sp, l);
	/* half-open children die with it; established ones belong to the app */
	for (uint32_t i = 0; i < sp->nconns;) {
		uint32_t id = sp->active[i];
		struct sp_conn *c = &sp->conns[id];
		if (c->state == SPS_SYN_RCVD && c->app_id == l->app_id &&
		    c->listener_slot == l->slot && c->local_port == l->port) {
			sp_conn_handshake_fail(sp, c, id, ECONNABORTED);
			continue; /* conn_free moved another id into slot i */
		}
		i++;
	}
	sp_slot_free(sp, app, l->slot);
}

/* ------------------------------------------------------------ passive open */

/* connections a listener holds that its app has not accepted yet */
static uint32_t listener_load(struct sp *sp, const struct sp_listener *l)
{
	struct dp_app *app = &sp->dp->apps[l->app_id];
	uint32_t accepted = __atomic_load_n(&app->flows[l->slot].accepted, __ATOMIC_ACQUIRE);
	uint32_t waiting = l->delivered - accepted; /* wraps harmlessly */
	if (waiting > l->delivered)
		waiting = 0; /* the app claims more accepts than we delivered */
	return l->half_open + waiting;
}

void sp_listen_passive_open(struct sp *sp, struct rte_mbuf *m, const struct pkt_tcp *p)
{
	struct sp_listener *l = NULL;
	uint32_t best = UINT32_MAX;
	if (!sp_listener_of_port(sp, p->dport)) {
		sp_send_rst_reply(sp, p); /* connection refused */
		return;
	}
	/* shared port: the least-loaded listener, i.e. the idlest worker */
	for (uint16_t i = sp->listener_by_port[p->dport]; i; i = sp->listeners[i - 1].next) {
		struct sp_listener *cand = &sp->listeners[i - 1];
		uint32_t load = listener_load(sp, cand);
		if (load < cand->backlog && load < best) {
			best = load;
			l = cand;
		}
	}
	if (!l)
		return; /* every backlog full: drop, the peer retries the SYN */
	struct dp_app *app = &sp->dp->apps[l->app_id];

	uint32_t slot, id;
	if (sp_slot_alloc(sp, app, &slot))
		return;
	struct sp_conn *c = sp_conn_new(sp, &id);
	if (!c) {
		sp_slot_free(sp, app, slot);
		return;
	}
	c->app_id = l->app_id;
	c->slot = slot;
	c->listener_slot = l->slot;
	c->listener = (uint16_t)(l - sp->listeners) + 1;
	if (l->cc)
		c->cc_ops = l->cc;
	c->local_ip = p->daddr;
	c->remote_ip = p->saddr;
	c->local_port = p->dport;
	c->remote_port = p->sport;
	c->irs = p->seq;
	c->iss = (uint32_t)rte_rand();
	c->peer_mss = p->opts.mss ? p->opts.mss : 536;
	c->peer_wscale = p->opts.wscale;
	c->peer_sack = p->opts.sack_ok;
	/* RFC 3168: an ECN-setup SYN has ECE and CWR; we always accept */
	c->ecn = (p->flags & (TCPF_ECE | TCPF_CWR)) == (TCPF_ECE | TCPF_CWR);
	memcpy(c->mac.addr_bytes, p->src_mac, 6);
	c->state = SPS_SYN_RCVD;
	c->deadline = sp->now + sp_ms_to_tsc(sp, SYN_RTO_MS);
	sp_conn_hash_add(sp, c, id);
	l->half_open++;
	sp_send_syn(sp, c, &c->mac, true);
}

/* returns true if @m was handed on to the fastpath */
bool sp_listen_syn_rcvd_input(struct sp *sp, struct sp_conn *c, uint32_t id, struct rte_mbuf *m,
			   const struct pkt_tcp *p)
{
	if (p->flags & TCPF_RST) {
		sp_conn_handshake_fail(sp, c, id, ECONNRESET);
		return false;
	}
	if ((p->flags & TCPF_SYN) && !(p->flags & TCPF_ACK)) {
		sp_send_syn(sp, c, &c->mac, true); /* our SYN-ACK was lost */
		return false;
	}
	if (!(p->flags & TCPF_ACK) || p->ack != c->iss + 1) {
		sp_send_rst_reply(sp, p);
		return false;
	}
	struct sp_listener *l = sp_listener_of_conn(sp, c);
	sp_conn_establish(sp, c, id, (uint16_t)0, false);
	/* this ACK's window is scaled already */
	sp->dp->flows[id].peer_wnd = (uint32_t)p->wnd << sp->dp->flows[id].snd_wscale;
	struct dp_app *app = sp_conn_app(sp, c);
	if (l) {
		l->half_open--;
		l->delivered++;
		app->flows[l->slot].listen_pending = l->delivered;
	}
	sp_app_post(sp, app, BP_EV_ACCEPT, 0, c->slot, app->flows[c->slot].gen, 0, c->listener_slot);
	if (p->payload_len || (p->flags & TCPF_FIN)) {
		sp_send_fp(sp, DPM_RX_REINJECT, 0, 0, m);
		return true;
	}
	return false;
}

