// SPDX-License-Identifier: MIT
/*
 * tenant_status.c - tenants in bypassctl status and tenants (one
 * TenantStatus each) and bypassctl config reload.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sp_internal.h"
#include "ctl_sock.h"
#include "tenant.h"

/* the reply must fit one control frame: stop listing tenants before it */
#define STATUS_TENANT_BUDGET (CTL_MAX_FRAME - 16 * 1024)

static const char *const denial_names[SPT_DENY_MAX] = {
	[SPT_DENY_PORT] = "port", [SPT_DENY_CONNECT] = "connect", [SPT_DENY_JOIN] = "join",
	[SPT_DENY_ADOPT] = "adopt", [SPT_DENY_ATTACH] = "refused", [SPT_DENY_APPS] = "apps",
	[SPT_DENY_FLOWS] = "flows", [SPT_DENY_SYN] = "syn", [SPT_DENY_BUF] = "buf",
};

static const char *const class_names[] = { "latency", "normal", "bulk" };

/**
 * sp_tenant_status_one - tenant @id's usage, limits, policy and fastpath
 * counters in @o (its denials are not filled: they need storage).  The
 * strings point into the tenant table: send @o before anything changes it.
 */
void sp_tenant_status_one(struct sp *sp, uint16_t id, Bypass__TenantStatus *o)
{
	struct sp_tenant *t = &sp->tenants[id];
	struct dp_tenant_core fc;

	bypass__tenant_status__init(o);
	o->name = t->cfg.name;
	o->id = id;
	o->has_apps = o->has_max_apps = o->has_flows = o->has_max_flows = 1;
	o->has_half_open = o->has_buf_bytes = o->has_max_buf_mb = o->has_removed = 1;
	o->apps = t->apps;
	o->max_apps = t->cfg.max_apps;
	o->flows = t->flows;
	o->max_flows = t->cfg.max_flows;
	o->half_open = t->half_open;
	o->buf_bytes = sp_tenant_buf_bytes(sp, t);
	o->max_buf_mb = t->cfg.max_buf_mb;
	o->removed = !t->in_use;
	o->has_rate_bps = o->has_rx_rate_bps = o->has_burst_bytes = o->has_weight = 1;
	o->rate_bps = t->cfg.rate_bps;
	o->rx_rate_bps = t->cfg.rx_rate_bps;
	o->burst_bytes = bp_tenant_burst(&t->cfg);
	o->weight = t->cfg.weight;
	o->class_ = (char *)class_names[t->cfg.class_ < 3 ? t->cfg.class_ : BP_CLASS_NORMAL];
	sp_tenant_traffic(sp, id, &fc);
	o->has_tx_bytes = o->has_tx_pkts = o->has_rx_bytes = o->has_rx_pkts = 1;
	o->has_throttled = 1;
	o->tx_bytes = fc.tx_bytes;
	o->tx_pkts = fc.tx_pkts;
	o->rx_bytes = fc.rx_bytes;
	o->rx_pkts = fc.rx_pkts;
	o->throttled = fc.throttled;
}

/**
 * sp_tenant_status_fill - every tenant @scope may see (configured, or
 * removed and still holding something), only @name's if not NULL, in id
 * order from @from on, until one does not fit the frame: then
 * @l->next is the id to ask from next (so pages never skip one).  Free
 * with sp_tenant_status_free().
 * Return: how many were left out for lack of room in one frame.
 */
uint32_t sp_tenant_status_fill(struct sp *sp, struct sp_tenant_list *l, int scope,
			       const char *name, uint32_t from)
{
	uint32_t n = sp_tenant_count(sp), omitted = 0;
	size_t budget = STATUS_TENANT_BUDGET;
	Bypass__TenantStatus **arr = calloc(n, sizeof(*arr));
	Bypass__TenantStatus *ts = calloc(n, sizeof(*ts));
	Bypass__Counter *cs = calloc((size_t)n * SPT_DENY_MAX, sizeof(*cs));
	Bypass__Counter **cps = calloc((size_t)n * SPT_DENY_MAX, sizeof(*cps));

	memset(l, 0, sizeof(*l));
	if (!arr || !ts || !cs || !cps) {
		free(arr);
		free(ts);
		free(cs);
		free(cps);
		return n;
	}
	l->arr = arr;
	l->mem[0] = ts;
	l->mem[1] = cs;
	l->mem[2] = cps;
	for (uint32_t id = from; id < n; id++) {
		struct sp_tenant *t = &sp->tenants[id];
		Bypass__TenantStatus *o = &ts[l->n];
		Bypass__Counter *c = &cs[(size_t)id * SPT_DENY_MAX];
		Bypass__Counter **cp = &cps[(size_t)id * SPT_DENY_MAX];

		if (!sp_tenant_live(t))
			continue;
		if ((scope != SP_CTL_ALL && scope != (int)id) || (name && strcmp(name, t->cfg.name)))
			continue;
		sp_tenant_status_one(sp, id, o);
		o->denied = cp;
		for (int d = 0; d < SPT_DENY_MAX; d++) {
			if (!t->denied[d])
				continue;
			bypass__counter__init(&c[o->n_denied]);
			c[o->n_denied].name = (char *)denial_names[d];
			c[o->n_denied].value = t->denied[d];
			cp[o->n_denied] = &c[o->n_denied];
			o->n_denied++;
		}
		/* its exact size, with the tag and length that embed it */
		size_t need = bypass__tenant_status__get_packed_size(o) + 6;
		if (omitted || need > budget) {
			if (!omitted++) {
				l->has_next = true;
				l->next = id;
			}
			continue;
		}
		budget -= need;
		arr[l->n++] = o;
	}
	return omitted;
}

/** sp_tenant_status_free - what sp_tenant_status_fill() allocated. */
void sp_tenant_status_free(struct sp_tenant_list *l)
{
	free(l->arr);
	for (int i = 0; i < 3; i++)
		free(l->mem[i]);
	memset(l, 0, sizeof(*l));
}

/**
 * sp_ctl_tenants - bypassctl tenants [show NAME] on @cc: every tenant for
 * an admin, the caller's own otherwise.
 */
void sp_ctl_tenants(struct sp *sp, struct ctl_conn *cc, const Bypass__TenantsRequest *req)
{
	Bypass__TenantsReply rep = BYPASS__TENANTS_REPLY__INIT;
	struct sp_tenant_list l = { 0 };
	int scope = sp_ctl_read_scope(cc);
	char err[160];

	if (scope < 0 && scope != SP_CTL_ALL) {
		rep.status = -EACCES;
		rep.error = (char *)"you belong to no tenant ([tenants] unknown = refuse): "
				    "ask the operator to list your uid or group in one";
	} else {
		uint32_t from = req->has_tenant_from ? req->tenant_from : 0;

		rep.has_omitted = 1;
		rep.omitted = sp_tenant_status_fill(sp, &l, scope, req->name, from);
		if (l.has_next) {
			rep.has_tenant_next = 1;
			rep.tenant_next = l.next;
			/* a client that pages (1.1) asks for the rest: nothing is left out */
			if (req->has_tenant_from)
				rep.omitted = 0;
		}
		rep.n_tenants = l.n;
		rep.tenants = l.arr;
		if (req->name && !l.n && !from && scope != SP_CTL_ALL) {
			/* one answer whether or not it exists (as bypassctl flows) */
			rep.status = -EPERM;
			snprintf(err, sizeof(err), "tenant '%s' is not yours (yours is '%s'): only "
				 "root, fastpathd's user or [daemon] admin_group may see other "
				 "tenants", req->name, sp->tenants[scope].cfg.name);
			rep.error = err;
		} else if (req->name && !l.n && !from) {
			rep.status = -ENOENT;
			snprintf(err, sizeof(err), "no tenant '%s' (bypassctl tenants lists them)",
				 req->name);
			rep.error = err;
		}
	}
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_TENANTS_REPLY;
	m.tenants_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
	sp_tenant_status_free(&l);
}

/**
 * sp_ctl_config - bypassctl config reload on @cc: as SIGHUP, for admins
 * (sp_ctl_admin()).
 */
void sp_ctl_config(struct sp *sp, struct ctl_conn *cc, const Bypass__ConfigRequest *req)
{
	Bypass__ConfigReply rep = BYPASS__CONFIG_REPLY__INIT;
	char err[512];

	if (!req->has_reload || !req->reload) {
		rep.status = -EINVAL;
		rep.error = (char *)"nothing asked (bypassctl config reload)";
	} else if (!sp_ctl_admin(cc)) {
		rep.status = -EPERM;
		rep.error = (char *)"reloading the configuration needs root, fastpathd's own "
				    "user or a member of [daemon] admin_group";
	} else if (cc->app) { /* as in sp_ctl_tenant_change() */
		rep.status = -EPERM;
		rep.error = (char *)SP_CTL_NOT_ON_APP;
	} else if (sp_tenants_reload(sp, err, sizeof(err))) {
		fprintf(stderr, "fastpathd: reload: %s; keeping the previous configuration\n", err);
		rep.status = -EINVAL;
		rep.error = err;
	}
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_CONFIG_REPLY;
	m.config_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
}
