// SPDX-License-Identifier: MIT
/*
 * ctl_flows.c - bypassctl flows: every connection, as `ss -tino` shows
 * kernel ones, filtered by state, port and tenant.
 *
 * With 100k flows no reply could hold them all (CTL_MAX_FRAME), so the
 * client pages: flows come in id order from the request's cursor, at most
 * a frame's worth per reply, and next_cursor says where to go on.  Flows
 * that open or close between pages may be missed or shown once more; each
 * page is a snapshot of its own.  What the fastpath knows of an installed
 * flow is read through sp_fp.c only (fastpathd/NOTES.md).
 *
 * Half-open passive connections (SYN received, SYN-ACK sent, no final
 * ACK yet) have no flow id: they live in the SYN queue (synq.c).  They are
 * listed after the flows, as ss lists SYN-RECV request sockets, in the
 * same cursor space: ids from max_flows on are SYN queue entries
 * (max_flows + index), so one cursor pages through both.
 *
 * With kill (bypassctl flows ... kill), as ss -K: every connection the
 * filter selects is reset (flows_kill()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "sp_internal.h"
#include "ctl_sock.h"

#define FLOWS_BUDGET (CTL_MAX_FRAME - 1024)
#define FLOWS_PAGE_MAX 512     /* FlowInfos in one reply (about 100-260 bytes each) */
#define FLOWS_SCAN_MAX (1u << 18) /* ids one request looks at: bounds its time */

/* ss's state names, from the connection's state and close flags */
static const char *flow_state(const struct sp_conn *c)
{
	bool shut = c->flags & SPC_APP_SHUT, fin_in = c->flags & SPC_FIN_RCVD;

	switch (c->state) {
	case SPS_ARP_WAIT:
	case SPS_SYN_SENT:
		return "syn-sent";
	case SPS_SYN_RCVD:
		return "syn-recv";
	case SPS_TIME_WAIT:
		return "time-wait";
	case SPS_DELETING:
		return "closed";
	case SPS_ESTABLISHED:
		if (!shut)
			return fin_in ? "close-wait" : "established";
		if (!fin_in)
			return c->flags & SPC_FIN_ACKED ? "fin-wait-2" : "fin-wait-1";
		/* both sides closed: who closed first decides the name */
		if (c->flags & SPC_CLOSED_FIRST)
			return "time-wait";
		return c->flags & SPC_FIN_ACKED ? "closing" : "last-ack";
	}
	return "unknown";
}

static const char *const state_names[] = {
	"established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait",
	"close-wait", "last-ack", "closing", "closed", "all", "connected",
};

static bool state_known(const char *s)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (!strcmp(s, state_names[i]))
			return true;
	return false;
}

/* ss's "connected": all but listening and closed; we have no listening */
static bool state_match(const char *want, const char *st)
{
	if (!want || !strcmp(want, "all"))
		return true;
	if (!strcmp(want, "connected"))
		return strcmp(st, "closed") && strcmp(st, "syn-sent") && strcmp(st, "syn-recv");
	return !strcmp(want, st);
}

/* tenant id the request names, -1 none asked, -2 no such tenant */
static int want_tenant(struct sp *sp, const char *name)
{
	if (!name)
		return -1;
	for (uint16_t t = 0; t < sp_tenant_count(sp); t++)
		if (!strcmp(sp->tenants[t].cfg.name, name))
			return t;
	return -2;
}

static bool flow_match(const struct sp_conn *c, const Bypass__FlowsRequest *req, int scope,
		       int tenant)
{
	if (c->state == SPS_FREE)
		return false;
	if (scope != SP_CTL_ALL && c->tenant != scope)
		return false;
	if (tenant >= 0 && c->tenant != tenant)
		return false;
	if (req->has_sport && c->local_port != req->sport)
		return false;
	if (req->has_dport && c->remote_port != req->dport)
		return false;
	if (req->has_port && c->local_port != req->port && c->remote_port != req->port)
		return false;
	if (req->has_remote_ip && c->remote_ip != req->remote_ip)
		return false;
	return state_match(req->state, flow_state(c));
}

/* a half-open connection against the same filters; its state is syn-recv */
static bool synq_match(const struct sp_synq_view *v, const Bypass__FlowsRequest *req, int scope,
		       int tenant)
{
	if (scope != SP_CTL_ALL && v->tenant != scope)
		return false;
	if (tenant >= 0 && v->tenant != tenant)
		return false;
	if (req->has_sport && v->hs->local_port != req->sport)
		return false;
	if (req->has_dport && v->hs->remote_port != req->dport)
		return false;
	if (req->has_port && v->hs->local_port != req->port && v->hs->remote_port != req->port)
		return false;
	if (req->has_remote_ip && v->hs->remote_ip != req->remote_ip)
		return false;
	return state_match(req->state, "syn-recv");
}

struct flow_strs {
	char local[24], remote[24];
};

static void addr_port(char *buf, size_t len, uint32_t ip, uint16_t port)
{
	struct in_addr a = { .s_addr = ip };

	inet_ntop(AF_INET, &a, buf, len);
	snprintf(buf + strlen(buf), len - strlen(buf), ":%u", port);
}

static void flow_fill(struct sp *sp, uint32_t id, Bypass__FlowInfo *o, struct flow_strs *s)
{
	const struct sp_conn *c = &sp->conns[id];
	struct dp_app *app = sp_conn_app(sp, c);
	const struct sp_app *sa = app ? app->sp_priv : NULL;

	bypass__flow_info__init(o);
	o->id = id;
	o->state = (char *)flow_state(c);
	addr_port(s->local, sizeof(s->local), c->local_ip, c->local_port);
	addr_port(s->remote, sizeof(s->remote), c->remote_ip, c->remote_port);
	o->local = s->local;
	o->remote = s->remote;
	o->tenant = sp->tenants[c->tenant].cfg.name;
	if (app && !(c->flags & SPC_DETACHED)) {
		o->has_app_id = o->has_pid = o->has_uid = 1;
		o->app_id = app->app_id;
		o->pid = sa ? sa->pid : 0;
		o->uid = sp_app_uid(app);
	}
	o->has_rto_ms = o->has_timeouts = 1;
	o->rto_ms = c->rto_ms;
	o->timeouts = c->timeouts;
	o->cc = c->cc_ops ? (char *)c->cc_ops->name : NULL;
	o->has_timer_ms = o->has_timer_retries = 1;
	if (c->state != SPS_ESTABLISHED) { /* not installed: nothing to read */
		o->timer = (char *)sp_conn_timer_info(sp, c, NULL, &o->timer_ms, &o->timer_retries);
		return;
	}
	struct sp_fp_flow_view v;
	struct sp_fp_flow_info in;
	sp_fp_flow_read(sp, id, &v);
	o->timer = (char *)sp_conn_timer_info(sp, c, &v, &o->timer_ms, &o->timer_retries);
	sp_fp_flow_read_info(sp, id, &in);
	o->has_cwnd = o->has_mss = o->has_srtt_us = o->has_rttvar_us = o->has_retrans = 1;
	o->has_bytes_acked = o->has_bytes_sent = o->has_bytes_received = 1;
	o->has_rx_queue = o->has_tx_queue = o->has_pacing_bps = o->has_core = 1;
	o->has_peer_wnd = 1;
	o->cwnd = in.cwnd;
	o->mss = in.mss;
	o->srtt_us = v.srtt_us;
	o->rttvar_us = v.rttvar_us;
	o->retrans = v.cnt_fast_retx + c->timeouts;
	o->bytes_acked = v.tx_acked;
	o->bytes_sent = v.tx_max_sent;
	o->bytes_received = in.rx_pos;
	o->rx_queue = in.rx_pos > in.rx_consumed ? (uint32_t)(in.rx_pos - in.rx_consumed) : 0;
	o->tx_queue = v.tx_written > v.tx_acked ? (uint32_t)(v.tx_written - v.tx_acked) : 0;
	o->pacing_bps = in.pacing_bps;
	o->core = in.core;
	o->peer_wnd = v.peer_wnd;
	o->rto_ms = sp_conn_rto_ms(sp, &v, c->retries); /* what the timer uses now */
}

static void synq_fill(struct sp *sp, uint32_t id, const struct sp_synq_view *v,
		      Bypass__FlowInfo *o, struct flow_strs *s)
{
	bypass__flow_info__init(o);
	o->id = id;
	o->state = (char *)"syn-recv";
	addr_port(s->local, sizeof(s->local), v->hs->local_ip, v->hs->local_port);
	addr_port(s->remote, sizeof(s->remote), v->hs->remote_ip, v->hs->remote_port);
	o->local = s->local;
	o->remote = s->remote;
	o->tenant = sp->tenants[v->tenant].cfg.name;
	o->has_half_open = o->has_retrans = 1;
	o->half_open = true;
	o->retrans = v->retries;
	if (v->app_id < sp->dp->max_apps && sp->dp->apps[v->app_id].in_use) {
		const struct dp_app *app = &sp->dp->apps[v->app_id];
		const struct sp_app *sa = app->sp_priv;

		o->has_app_id = o->has_pid = o->has_uid = 1;
		o->app_id = app->app_id;
		o->pid = sa ? sa->pid : 0;
		o->uid = sp_app_uid(app);
	}
}

static void flows_reply(struct ctl_conn *cc, Bypass__FlowsReply *rep)
{
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;

	m.msg_case = BYPASS__CTL_MSG__MSG_FLOWS_REPLY;
	m.flows_reply = rep;
	sp_ctl_send(cc, &m, NULL, 0);
}

/* may the kill end @c?  TIME_WAIT holds no app and guards the tuple (left
 * alone here, though Linux's tcp_abort() ends those too), and a flow being
 * deleted is ending already */
static bool killable(const struct sp_conn *c)
{
	return c->state != SPS_FREE && c->state != SPS_TIME_WAIT && c->state != SPS_DELETING;
}

static bool has_filter(const Bypass__FlowsRequest *req)
{
	return req->state || req->has_sport || req->has_dport || req->has_port || req->tenant ||
	       req->has_remote_ip;
}

/* the reply lists @o, just filled in, if the frame has room for its exact
 * size (with the tag and length that embed it); false: the frame is full */
static bool reply_add(Bypass__FlowsReply *rep, Bypass__FlowInfo **arr, Bypass__FlowInfo *o,
		      size_t *budget)
{
	size_t need = bypass__flow_info__get_packed_size(o) + 4;
	if (need > *budget)
		return false;
	*budget -= need;
	arr[rep->n_flows++] = o;
	return true;
}

/*
 * bypassctl flows FILTER... kill, as ss -K (SOCK_DESTROY): every connection
 * the filter selects is reset: RST to the peer, and the app's next call on
 * it fails with ECONNABORTED, as on Linux; one still in its handshake fails
 * its connect() so.  For admins only, and only with a filter (`state
 * connected` selects every connection): a slip must not reset the host.
 * Half-open SYN-queue entries it selects are dropped without a word, as
 * Linux's tcp_abort() drops request sockets.  The reply lists what it
 * ended (as it was just before, one frame's worth) and counts them all.
 */
static void flows_kill(struct sp *sp, struct ctl_conn *cc, const Bypass__FlowsRequest *req,
		       int tenant, Bypass__FlowInfo *info, Bypass__FlowInfo **arr,
		       struct flow_strs *strs, uint32_t max)
{
	Bypass__FlowsReply rep = BYPASS__FLOWS_REPLY__INIT;
	size_t budget = FLOWS_BUDGET;

	if (!sp_ctl_admin(cc)) {
		rep.status = -EPERM;
		rep.error = (char *)"only root, fastpathd's user or [daemon] admin_group may reset "
				    "connections";
		flows_reply(cc, &rep);
		return;
	}
	if (!has_filter(req)) {
		rep.status = -EINVAL;
		rep.error = (char *)"kill needs a filter (state, sport, dport, port, dst, tenant); "
				    "`state connected` selects every connection";
		flows_reply(cc, &rep);
		return;
	}
	rep.has_matched = rep.has_next_cursor = rep.has_killed = 1;
	for (uint32_t i = 0; i < sp->nconns;) {
		uint32_t id = sp->active[i], before = sp->nconns;
		struct sp_conn *c = &sp->conns[id];

		if (!killable(c) || !flow_match(c, req, SP_CTL_ALL, tenant)) {
			i++;
			continue;
		}
		if (rep.n_flows < max) {
			Bypass__FlowInfo *o = &info[rep.n_flows];

			flow_fill(sp, id, o, &strs[rep.n_flows]);
			if (!reply_add(&rep, arr, o, &budget))
				max = rep.n_flows; /* full: the rest are counted, not listed */
		}
		if (c->state == SPS_ESTABLISHED)
			sp_conn_reset(sp, c, id, ECONNABORTED, true);
		else
			sp_conn_handshake_fail(sp, c, id, ECONNABORTED);
		rep.killed++;
		if (sp->nconns == before)
			i++; /* else slot i holds another conn now */
	}
	struct sp_synq_view v;
	uint32_t nflows = sp->dp->cfg.max_flows;
	for (uint32_t i = 0; sp_synq_count(sp) && i < sp_synq_size(sp); i++) {
		if (!sp_synq_view(sp, i, &v) || !synq_match(&v, req, SP_CTL_ALL, tenant))
			continue;
		if (rep.n_flows < max) {
			Bypass__FlowInfo *o = &info[rep.n_flows];

			synq_fill(sp, nflows + i, &v, o, &strs[rep.n_flows]);
			if (!reply_add(&rep, arr, o, &budget))
				max = rep.n_flows;
		}
		sp_synq_drop(sp, i);
		rep.killed++;
	}
	rep.matched = rep.killed;
	rep.flows = arr;
	flows_reply(cc, &rep);
}

/** sp_ctl_flows - one page of bypassctl flows on @cc. */
void sp_ctl_flows(struct sp *sp, struct ctl_conn *cc, const Bypass__FlowsRequest *req)
{
	Bypass__FlowsReply rep = BYPASS__FLOWS_REPLY__INIT;
	int scope = sp_ctl_read_scope(cc), tenant = want_tenant(sp, req->tenant);
	uint32_t max = req->has_max && req->max && req->max < FLOWS_PAGE_MAX ? req->max
									 : FLOWS_PAGE_MAX;
	uint32_t nflows = sp->dp->cfg.max_flows, cursor = req->has_cursor ? req->cursor : 0;
	static Bypass__FlowInfo info[FLOWS_PAGE_MAX]; /* slowpath thread only */
	static Bypass__FlowInfo *arr[FLOWS_PAGE_MAX];
	static struct flow_strs strs[FLOWS_PAGE_MAX];
	static char err[200];

	if (scope < 0 && scope != SP_CTL_ALL) {
		rep.status = -EACCES;
		rep.error = (char *)"you belong to no tenant ([tenants] unknown = refuse): "
				    "ask the operator to list your uid or group in one";
		flows_reply(cc, &rep);
		return;
	}
	if (req->state && !state_known(req->state)) {
		rep.status = -EINVAL;
		snprintf(err, sizeof(err), "no state '%s' (established, syn-sent, syn-recv, "
			 "fin-wait-1, fin-wait-2, time-wait, close-wait, last-ack, closing, "
			 "closed, connected, all)", req->state);
		rep.error = err;
		flows_reply(cc, &rep);
		return;
	}
	/* a non-admin gets one answer whether or not the tenant exists: no
	 * other tenant's name can be learnt by trying it */
	if (tenant != -1 && scope != SP_CTL_ALL && tenant != scope) {
		rep.status = -EPERM;
		snprintf(err, sizeof(err), "tenant '%s' is not yours (yours is '%s'): only root, "
			 "fastpathd's user or [daemon] admin_group may see other tenants' flows",
			 req->tenant, sp->tenants[scope].cfg.name);
		rep.error = err;
		flows_reply(cc, &rep);
		return;
	}
	if (tenant == -2) {
		rep.status = -ENOENT;
		snprintf(err, sizeof(err), "no tenant '%s' (bypassctl tenants lists them)",
			 req->tenant);
		rep.error = err;
		flows_reply(cc, &rep);
		return;
	}
	if (req->has_kill && req->kill) {
		flows_kill(sp, cc, req, tenant, info, arr, strs, max);
		return;
	}
	if (req->has_remote_ip && req->has_sport && req->has_dport) {
		/* one flow, looked up: a TCP_INFO does not cost a scan of the table */
		uint32_t id;
		struct sp_conn *c = sp_conn_by_tuple(sp, req->remote_ip, (uint16_t)req->dport,
						     (uint16_t)req->sport, &id);
		rep.has_matched = rep.has_next_cursor = 1;
		if (c && flow_match(c, req, scope, tenant)) {
			flow_fill(sp, id, &info[0], &strs[0]);
			arr[0] = &info[0];
			rep.n_flows = rep.matched = 1;
		}
		rep.flows = arr;
		flows_reply(cc, &rep);
		return;
	}
	/* matched counts every page's flows: cheap next to sending them */
	uint32_t qsize = sp_synq_size(sp);
	struct sp_synq_view v;
	rep.has_matched = rep.has_next_cursor = 1;
	for (uint32_t i = 0; i < sp->nconns; i++)
		rep.matched += flow_match(&sp->conns[sp->active[i]], req, scope, tenant);
	for (uint32_t i = 0; sp_synq_count(sp) && i < qsize; i++)
		rep.matched += sp_synq_view(sp, i, &v) && synq_match(&v, req, scope, tenant);
	size_t budget = FLOWS_BUDGET;
	for (uint32_t id = cursor; id < nflows + qsize; id++) {
		Bypass__FlowInfo *o = &info[rep.n_flows];

		if (id - cursor >= FLOWS_SCAN_MAX || rep.n_flows == max) {
			rep.next_cursor = id; /* the thread has other work: go on next page */
			break;
		}
		if (id < nflows) {
			if (!flow_match(&sp->conns[id], req, scope, tenant))
				continue;
			flow_fill(sp, id, o, &strs[rep.n_flows]);
		} else {
			if (!sp_synq_count(sp))
				break; /* no half-open connection: the end */
			if (!sp_synq_view(sp, id - nflows, &v) || !synq_match(&v, req, scope, tenant))
				continue;
			synq_fill(sp, id, &v, o, &strs[rep.n_flows]);
		}
		if (!reply_add(&rep, arr, o, &budget)) {
			rep.next_cursor = id; /* the frame is full: this one starts the next */
			break;
		}
	}
	rep.flows = arr;
	flows_reply(cc, &rep);
}
