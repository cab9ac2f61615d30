// SPDX-License-Identifier: MIT
/*
 * listen.c - listeners and the passive open: listen/close, choosing a
 * listener among the processes that share a port.  The passive open
 * itself (SYN queue, SYN cookies, the final ACK) lives in synq.c;
 * connections (install, close, timers) in conn.c.
 */
#include <errno.h>
#include <string.h>
#include <rte_random.h>

#include "sp_internal.h"

/* the first listener on @port (more follow through ->next if shared) */
struct sp_listener *sp_listener_of_port(struct sp *sp, uint16_t port)
{
	DP_ASSERT_SP();
	uint16_t i = sp->listener_by_port[port];
	return i ? &sp->listeners[i - 1] : NULL;
}

/**
 * sp_listener_takes_conns - may @l take a new connection?  Not a
 * reservation, and its tenant still grants its port (a reload may have
 * taken the port away: the listener stays until its app closes it, its
 * connections live on, and new ones are refused as if nobody listened).
 * Root's listeners need no grant, as at listen().
 */
bool sp_listener_takes_conns(struct sp *sp, const struct sp_listener *l)
{
	return !l->reserve &&
	       (l->uid == 0 || bp_tenant_port_ok(&sp_tenant_get(sp, l->tenant)->cfg, l->port));
}

/* does a listener on @port take connections (not only reservations hold it)? */
bool sp_port_accepting(struct sp *sp, uint16_t port)
{
	DP_ASSERT_SP();
	for (uint16_t i = sp->listener_by_port[port]; i; i = sp->listeners[i - 1].next)
		if (sp_listener_takes_conns(sp, &sp->listeners[i - 1]))
			return true;
	return false;
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
	DP_ASSERT_SP();
	uint16_t self = (uint16_t)(l - sp->listeners) + 1;
	for (uint16_t *pp = &sp->listener_by_port[l->port]; *pp;
	     pp = &sp->listeners[*pp - 1].next) {
		if (*pp == self) {
			*pp = l->next;
			break;
		}
	}
	sp_synq_purge_listener(sp, l); /* its half-open connections die with it */
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
	DP_ASSERT_SP();
	bool shared = flags & BP_LISTEN_SHARED;
	bool reserve = flags & BP_LISTEN_RESERVE;
	if (reserve && !shared)
		return -EINVAL; /* a reservation only makes sense for a group to join */
	if (ip && ip != sp->dp->ip)
		return -EADDRNOTAVAIL;
	if ((flags & BP_FLOW_RPC) && !app->heap_size)
		return -ENOMEM; /* RPC sessions need a message heap (attach) */
	if (!port && !(port = sp_conn_pick_ephemeral(sp, 0, 0)))
		return -EADDRINUSE;
	const struct sp_app *sa = app->sp_priv;
	int trc = sp_tenant_listen_ok(sp, app, sa ? sa->uid : UINT32_MAX, port);
	if (trc)
		return trc;
	int jrc = sp_listen_check_join(sp, app, port, shared, proof_fd);
	if (jrc)
		return jrc;
	_Static_assert(SP_MAX_LISTENERS == 4096, "[apps] max_listeners' bound in config.c");
	/* the table is the daemon's: no uid may take more than its share
	 * (a port shared with itself over and over included) */
	struct sp_listener *l = NULL;
	uint32_t uid = sp_app_uid(app), mine = 0;
	bool exempt = !reserve; /* one reservation its holder now listens beside */
	uint16_t idx = SP_MAX_LISTENERS;
	for (uint16_t i = 0; i < SP_MAX_LISTENERS; i++) {
		const struct sp_listener *o = &sp->listeners[i];
		if (!o->in_use) {
			if (!l) {
				l = &sp->listeners[i];
				idx = i;
			}
		} else if (exempt && o->reserve && o->port == port && o->app_id == app->app_id) {
			exempt = false; /* it goes next (the shim drops it): not counted */
		} else if (o->uid == uid) {
			mine++;
		}
	}
	if (!l || mine >= sp->dp->cfg.max_listeners)
		return -ENOBUFS;
	uint32_t slot;
	int rc = sp_slot_alloc_listener(sp, app, &slot);
	if (rc)
		return rc;
	*l = (struct sp_listener){
		.in_use = true, .shared = shared, .app_id = app->app_id, .port = port,
		.slot = slot, .backlog = backlog ? (backlog > 65535 ? 65535 : backlog) : 128,
		.next = sp->listener_by_port[port],
		.cc = cc,
		.tenant = app->tenant,
		.rpc = (flags & BP_FLOW_RPC) != 0,
		.reserve = reserve,
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
	DP_ASSERT_SP();
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

/* connections a listener delivered that its app has not accepted yet (its
 * accept queue); the half-open ones wait in synq.c */
uint32_t sp_listener_waiting(struct sp *sp, const struct sp_listener *l)
{
	struct dp_app *app = &sp->dp->apps[l->app_id];
	uint32_t accepted = __atomic_load_n(&app->flows[l->slot].accepted, __ATOMIC_ACQUIRE);
	uint32_t waiting = l->delivered - accepted; /* wraps harmlessly */
	if (waiting > l->delivered)
		waiting = 0; /* the app claims more accepts than we delivered */
	return waiting;
}
