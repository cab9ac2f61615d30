// SPDX-License-Identifier: MIT
/*
 * tenant_change.c - bypassctl tenant add|set|del NAME [KEY VALUE]...
 *
 * A live change is a reload with an edited copy of the sections in force:
 * the keys are parsed by the config file's own parser
 * (config_tenant_set(), so the same names, units and messages), the whole
 * set is checked (config_tenants_validate()) and applied by
 * sp_tenants_apply(), which is what config reload and SIGHUP use.  So a
 * change is atomic (a bad key changes nothing), a removed tenant's flows
 * are reset and its apps disconnected, and a kept tenant keeps its flows.
 * The file is not written: the next config reload or SIGHUP replaces live
 * changes with what the file says.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "ctl_sock.h"
#include "log_esc.h"

/* a copy of the sections in force, which the caller edits then applies */
static int tenants_copy(const struct bp_tenants *src, struct bp_tenants *dst)
{
	*dst = *src;
	dst->t = NULL;
	if (!src->n)
		return 0;
	dst->t = malloc(src->n * sizeof(*dst->t));
	if (!dst->t)
		return -1;
	memcpy(dst->t, src->t, src->n * sizeof(*dst->t));
	return 0;
}

static int edit(struct bp_tenants *ts, const Bypass__TenantChangeRequest *req, char *err,
		size_t errlen)
{
	char sec[BP_TENANT_NAME + 16];
	int i = config_tenant_find(ts, req->name);
	bool is_default = !strcmp(req->name, BP_TENANT_DEFAULT_NAME);

	snprintf(sec, sizeof(sec), "tenant %s", req->name);
	if (!strcmp(req->op, "del")) {
		if (is_default) {
			snprintf(err, errlen, "the default tenant cannot be removed (callers no "
				 "tenant lists belong to it): set its keys instead");
			return -EINVAL;
		}
		if (i < 0) {
			snprintf(err, errlen, "no tenant '%s' (bypassctl tenants lists them)",
				 req->name);
			return -ENOENT;
		}
		if (req->n_set) {
			snprintf(err, errlen, "tenant del takes no keys");
			return -EINVAL;
		}
		memmove(&ts->t[i], &ts->t[i + 1], (ts->n - i - 1) * sizeof(*ts->t));
		ts->n--;
		/* [tenants] unknown naming it would now name nothing */
		if (ts->unknown_set && !strcmp(ts->unknown, req->name)) {
			snprintf(err, errlen, "tenant '%s' is [tenants] unknown: callers no tenant "
				 "lists go there; change the config file and reload", req->name);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(req->op, "add")) {
		if (i >= 0 || is_default) {
			snprintf(err, errlen, "tenant '%s' exists: use bypassctl tenant set",
				 req->name);
			return -EEXIST;
		}
	} else if (!strcmp(req->op, "set")) {
		/* the default tenant exists even without its section */
		if (i < 0 && !is_default) {
			snprintf(err, errlen, "no tenant '%s': bypassctl tenant add creates one",
				 req->name);
			return -ENOENT;
		}
		if (!req->n_set) {
			snprintf(err, errlen, "tenant set: give KEY VALUE pairs (e.g. rate 200mbit)");
			return -EINVAL;
		}
	} else {
		snprintf(err, errlen, "'%s' is not add, set or del", req->op);
		return -EINVAL;
	}
	if (i < 0 && config_tenant_section(ts, sec, err, errlen) < 0)
		return -EINVAL;
	for (size_t k = 0; k < req->n_set; k++)
		if (config_tenant_set(ts, sec, req->set[k]->key, req->set[k]->value, err,
				      errlen) < 0)
			return -EINVAL;
	return 0;
}

static int tenant_id(struct sp *sp, const char *name)
{
	for (uint16_t t = 0; t < DP_MAX_TENANTS; t++)
		if (sp->tenants[t].in_use && !strcmp(sp->tenants[t].cfg.name, name))
			return t;
	return -1;
}

/** sp_ctl_tenant_change - bypassctl tenant add|set|del on @cc, for admins. */
void sp_ctl_tenant_change(struct sp *sp, struct ctl_conn *cc,
			  const Bypass__TenantChangeRequest *req)
{
	Bypass__TenantChangeReply rep = BYPASS__TENANT_CHANGE_REPLY__INIT;
	Bypass__TenantStatus now;
	struct bp_tenants ts = { 0 };
	char err[512], esc[160];

	if (!sp_ctl_admin(cc)) {
		rep.status = -EPERM;
		snprintf(err, sizeof(err), "changing tenants needs root, fastpathd's own user or "
			 "a member of [daemon] admin_group");
	} else if (cc->app) {
		/* removing the app's own tenant would end this connection
		 * while it is being served */
		rep.status = -EPERM;
		snprintf(err, sizeof(err), "%s", SP_CTL_NOT_ON_APP);
	} else if (tenants_copy(&sp->tenant_cfg, &ts)) {
		rep.status = -ENOMEM;
		snprintf(err, sizeof(err), "fastpathd is out of memory");
	} else if ((rep.status = edit(&ts, req, err, sizeof(err))) == 0 &&
		   sp_tenants_apply(sp, &ts, err, sizeof(err))) {
		rep.status = -EINVAL;
	}
	config_tenants_free(&ts);
	if (rep.status) {
		rep.error = err;
	} else {
		log_esc(esc, sizeof(esc), req->name);
		fprintf(stderr, "fastpathd: bypassctl tenant %s %s (uid %u): applied; a config "
			"reload replaces it with the file's sections\n",
			!strcmp(req->op, "add") ? "add" : !strcmp(req->op, "set") ? "set" : "del",
			esc, cc->uid);
		int id = tenant_id(sp, req->name);
		if (id >= 0) {
			sp_tenant_status_one(sp, (uint16_t)id, &now);
			rep.tenant = &now;
		}
	}
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_TENANT_CHANGE_REPLY;
	m.tenant_change_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
}
