// SPDX-License-Identifier: MIT
/*
 * tenant_status.c - tenants in bypassctl status (one TenantStatus each)
 * and bypassctl config reload.
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

/**
 * sp_tenant_status_fill - add the tenants (configured, or removed and still
 * holding flows) from id @from on to @rep, in id order, until the frame
 * would be full; then @rep->tenant_next is the id to ask from next.  Free
 * with sp_tenant_status_free().
 * Return: how many were left out for lack of room.
 */
uint32_t sp_tenant_status_fill(struct sp *sp, Bypass__StatusReply *rep, uint32_t from)
{
	uint32_t n = sp_tenant_count(sp), omitted = 0;
	size_t budget = STATUS_TENANT_BUDGET;
	Bypass__TenantStatus **arr = calloc(n, sizeof(*arr));
	Bypass__TenantStatus *ts = calloc(n, sizeof(*ts));
	Bypass__Counter *cs = calloc((size_t)n * SPT_DENY_MAX, sizeof(*cs));
	Bypass__Counter **cps = calloc((size_t)n * SPT_DENY_MAX, sizeof(*cps));

	rep->n_tenants = 0;
	rep->tenants = arr;
	if (!arr || !ts || !cs || !cps) {
		free(arr);
		free(ts);
		free(cs);
		free(cps);
		rep->tenants = NULL;
		return n;
	}
	for (uint32_t id = from; id < n; id++) {
		struct sp_tenant *t = &sp->tenants[id];
		Bypass__TenantStatus *o = &ts[rep->n_tenants];
		Bypass__Counter *c = &cs[(size_t)id * SPT_DENY_MAX];
		Bypass__Counter **cp = &cps[(size_t)id * SPT_DENY_MAX];

		if (!t->in_use && !t->apps && !t->flows && !t->half_open)
			continue;
		size_t need = 64 + strlen(t->cfg.name);
		for (int d = 0; d < SPT_DENY_MAX; d++)
			need += t->denied[d] ? 24 : 0;
		if (omitted || need > budget) {
			/* stop at the first that does not fit, so pages never skip one */
			if (!omitted++) {
				rep->has_tenant_next = 1;
				rep->tenant_next = id;
			}
			continue;
		}
		budget -= need;
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
		arr[rep->n_tenants++] = o;
	}
	sp->status_tmp[0] = ts;
	sp->status_tmp[1] = cs;
	sp->status_tmp[2] = cps;
	return omitted;
}

/** sp_tenant_status_free - what sp_tenant_status_fill() allocated. */
void sp_tenant_status_free(struct sp *sp, Bypass__StatusReply *rep)
{
	free(rep->tenants);
	rep->tenants = NULL;
	rep->n_tenants = 0;
	for (int i = 0; i < 3; i++) {
		free(sp->status_tmp[i]);
		sp->status_tmp[i] = NULL;
	}
}

/**
 * sp_ctl_config - bypassctl config reload on @cc: as SIGHUP, for root or
 * fastpathd's own user.
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
		rep.error = (char *)"reloading the configuration needs root or fastpathd's own user";
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
