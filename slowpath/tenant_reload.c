// SPDX-License-Identifier: MIT
/*
 * tenant_reload.c - tenants changed while the daemon runs (SIGHUP).
 *
 * The file is parsed and checked whole before anything changes, and every
 * tenant's id is chosen before the first is applied, so a bad file (or one
 * with more tenants than ids) changes nothing.  Then, in one slowpath
 * step: kept tenants take the new limits and policy (sp_fp_tenant_set()),
 * new ones get free ids, removed ones have their flows reset and their
 * apps disconnected.  Only the tenant sections are applied; every other
 * field needs a restart.  An attached app keeps the tenant it was given
 * at attach, even if the new matching rules would place it elsewhere.
 * bypassctl tenant add/set/del (tenant_change.c) goes the same way with
 * the sections in force, edited, instead of the file's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "ctl_sock.h"
#include "tenant.h"

/* an id nobody uses or still holds anything under (flows of a removed
 * tenant may be closing) */
static bool id_free(const struct sp_tenant *t, const bool *taken)
{
	return !*taken && !sp_tenant_live(t);
}

/* reset every flow of tenant @tid and disconnect its apps */
static void tenant_evict(struct sp *sp, uint16_t tid)
{
	for (uint32_t i = 0; i < sp->nconns;) {
		uint32_t id = sp->active[i];
		struct sp_conn *c = &sp->conns[id];

		if (c->tenant == tid && (c->state == SPS_ESTABLISHED || c->state == SPS_ARP_WAIT ||
					 c->state == SPS_SYN_SENT)) {
			sp_conn_close_owned(sp, c, id, true);
			if (i < sp->nconns && sp->active[i] != id)
				continue; /* freed: another conn is at i now */
		}
		i++;
	}
	for (uint32_t a = 0; a < sp->dp->max_apps; a++) {
		struct dp_app *app = &sp->dp->apps[a];
		struct sp_app *sa = app->sp_priv;

		if (app->in_use && app->tenant == tid && sa && sa->conn && !sa->dying)
			sp_ctl_end(sa->conn);
	}
}

/* ids for @ts's tenants: kept names keep theirs; -1 if out of ids */
static int plan_ids(struct sp *sp, const struct bp_tenants *ts, uint16_t *ids, char *err,
		    size_t errlen)
{
	bool *taken = calloc(DP_MAX_TENANTS, sizeof(bool));

	if (!taken) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	taken[DP_TENANT_DEFAULT] = true;
	for (uint32_t i = 0; i < ts->n; i++) {
		ids[i] = UINT16_MAX;
		if (!strcmp(ts->t[i].name, BP_TENANT_DEFAULT_NAME))
			ids[i] = DP_TENANT_DEFAULT;
		for (uint16_t t = 1; ids[i] == UINT16_MAX && t < DP_MAX_TENANTS; t++)
			if (sp->tenants[t].in_use && !strcmp(sp->tenants[t].cfg.name, ts->t[i].name))
				ids[i] = t;
		if (ids[i] != UINT16_MAX)
			taken[ids[i]] = true;
	}
	for (uint32_t i = 0; i < ts->n; i++) {
		for (uint16_t t = 1; ids[i] == UINT16_MAX && t < DP_MAX_TENANTS; t++) {
			if (id_free(&sp->tenants[t], &taken[t])) {
				ids[i] = t;
				taken[t] = true;
			}
		}
		if (ids[i] == UINT16_MAX) {
			snprintf(err, errlen, "[tenant %s]: no free tenant id (%d in use or still "
				 "closing flows); retry once removed tenants' flows are gone",
				 ts->t[i].name, DP_MAX_TENANTS);
			free(taken);
			return -1;
		}
	}
	free(taken);
	return 0;
}

static void apply(struct sp *sp, struct bp_tenants *ts, const uint16_t *ids)
{
	bool keep[DP_MAX_TENANTS] = { false };
	bool took[SP_MAX_LISTENERS]; /* which listeners took connections before */

	for (uint32_t i = 0; i < SP_MAX_LISTENERS; i++)
		took[i] = sp->listeners[i].in_use && sp_listener_takes_conns(sp, &sp->listeners[i]);
	for (uint32_t i = 0; i < ts->n; i++)
		keep[ids[i]] = true;
	/* removed tenants first: nothing of theirs may run under new rules */
	for (uint16_t t = 1; t < DP_MAX_TENANTS; t++) {
		if (sp->tenants[t].in_use && !keep[t]) {
			fprintf(stderr, "fastpathd: reload: tenant %s (id %u) removed: its flows "
				"are reset, its apps disconnected\n", sp->tenants[t].cfg.name, t);
			sp->tenants[t].in_use = false;
			tenant_evict(sp, t);
		}
	}
	if (!keep[DP_TENANT_DEFAULT]) /* [tenant default] gone: the defaults */
		bp_tenant_defaults(&sp->tenants[DP_TENANT_DEFAULT].cfg, BP_TENANT_DEFAULT_NAME);
	bool fresh[DP_MAX_TENANTS] = { false };
	for (uint32_t i = 0; i < ts->n; i++) {
		struct sp_tenant *t = &sp->tenants[ids[i]];
		if (!t->in_use) /* a new tenant on a free id */
			fresh[ids[i]] = true;
		t->cfg = ts->t[i];
		t->in_use = true;
	}
	sp_tenant_fresh_start(sp, fresh);
	for (uint16_t t = 0; t < DP_MAX_TENANTS; t++)
		if (sp->tenants[t].in_use)
			sp_tenant_publish(sp, t);
	config_tenants_move(&sp->tenant_cfg, ts); /* [tenants] unknown too */
	sp_tenants_set_unknown(sp, &sp->tenant_cfg);
	sp_capture_tenants_changed(sp);
	for (uint32_t i = 0; i < SP_MAX_LISTENERS; i++) {
		const struct sp_listener *l = &sp->listeners[i];
		if (took[i] && l->in_use && !sp_listener_takes_conns(sp, l))
			fprintf(stderr, "fastpathd: reload: tenant %s no longer grants port %u: app "
				"%u's listener there takes no new connection (its connections "
				"stay); another tenant may listen there once the app closes it\n",
				sp->tenants[l->tenant].cfg.name, l->port, l->app_id);
	}
}

int sp_tenants_apply(struct sp *sp, struct bp_tenants *ts, char *err, size_t errlen)
{
	uint16_t *ids = malloc(BP_TENANTS_MAX * sizeof(*ids));

	if (!ids) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (config_tenants_validate(ts, err, errlen) || plan_ids(sp, ts, ids, err, errlen)) {
		free(ids);
		return -1;
	}
	apply(sp, ts, ids);
	free(ids);
	return 0;
}

int sp_tenants_reload(struct sp *sp, char *err, size_t errlen)
{
	const char *path = sp->dp->cfg.config_path;
	struct bp_config *nc;
	int rc = -1;

	if (!path[0]) {
		snprintf(err, errlen, "fastpathd was started without --config: nothing to re-read");
		return -1;
	}
	nc = malloc(sizeof(*nc));
	if (!nc) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	config_defaults(nc);
	if (config_load_file(nc, path, err, errlen) ||
	    sp_tenants_apply(sp, &nc->tenants, err, errlen)) {
		config_free(nc);
		goto out;
	}
	fprintf(stderr, "fastpathd: reload: %u tenant section(s) from %s applied\n",
		sp->tenant_cfg.n, path);
	config_free(nc);
	rc = 0;
out:
	free(nc);
	return rc;
}
