// SPDX-License-Identifier: MIT
/*
 * tenant.c - the tenant table: ids, usage, quotas and the authorization
 * checks the control paths call.
 *
 * Ids are the fastpath's index into dp->tenants: 0 is "default" (the
 * [tenant default] section if the file has one), the others follow in file
 * order at start.  A reload keeps the id of every tenant that keeps its
 * name (tenant_reload.c); the usage counters are per id, so they stay true
 * across a reload.  Every denial is counted per tenant (bypassctl status).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "ctl_sock.h"
#include "tenant.h"

struct sp_tenant *sp_tenant_get(struct sp *sp, uint16_t id)
{
	return &sp->tenants[id < DP_MAX_TENANTS ? id : DP_TENANT_DEFAULT];
}

uint32_t sp_tenant_count(struct sp *sp)
{
	uint32_t n = 1;

	for (uint32_t i = 1; i < DP_MAX_TENANTS; i++)
		if (sp_tenant_live(&sp->tenants[i]))
			n = i + 1;
	return n;
}

/* the policy the fastpath enforces, from the section */
void sp_tenant_publish(struct sp *sp, uint16_t id)
{
	const struct bp_tenant_cfg *c = &sp->tenants[id].cfg;
	struct dp_tenant_policy p = {
		.rate_bps = c->rate_bps,
		.burst_bytes = bp_tenant_burst(c),
		.weight = c->weight,
		.prio = c->class_,   /* enum bp_tenant_class == enum dp_prio */
		.rx_rate_bps = c->rx_rate_bps,
	};

	sp_fp_tenant_set(sp, id, &p);
}

int sp_tenants_init(struct sp *sp, char *err, size_t errlen)
{
	const struct bp_tenants *ts = &sp->dp->cfg.tenants;
	uint16_t next = 1;

	sp->tenants = calloc(DP_MAX_TENANTS, sizeof(*sp->tenants));
	sp->tenant_cfg = *ts;
	sp->tenant_cfg.t = ts->n ? malloc(ts->n * sizeof(*ts->t)) : NULL;
	if (!sp->tenants || (ts->n && !sp->tenant_cfg.t) || sp_rpc_base_init(sp)) {
		snprintf(err, errlen, "out of memory for the tenant table");
		return -1;
	}
	bp_tenant_defaults(&sp->tenants[0].cfg, BP_TENANT_DEFAULT_NAME);
	sp->tenants[0].in_use = true;
	for (uint32_t i = 0; i < ts->n; i++) {
		uint16_t id = strcmp(ts->t[i].name, BP_TENANT_DEFAULT_NAME) ? next++ : 0;
		if (id >= DP_MAX_TENANTS) {
			snprintf(err, errlen, "[tenant %s]: more than %d tenants", ts->t[i].name,
				 DP_MAX_TENANTS);
			return -1;
		}
		sp->tenant_cfg.t[i] = ts->t[i];
		sp->tenants[id].cfg = ts->t[i];
		sp->tenants[id].in_use = true;
	}
	sp_tenants_set_unknown(sp, ts);
	for (uint16_t id = 0; id < DP_MAX_TENANTS; id++)
		if (sp->tenants[id].in_use)
			sp_tenant_publish(sp, id);
	return 0;
}

void sp_tenants_set_unknown(struct sp *sp, const struct bp_tenants *ts)
{
	const char *name = ts->unknown_set ? ts->unknown : BP_TENANT_DEFAULT_NAME;

	sp->tenant_refuse_unknown = !name[0];
	sp->tenant_unknown = DP_TENANT_DEFAULT;
	for (uint16_t id = 0; name[0] && id < DP_MAX_TENANTS; id++)
		if (sp->tenants[id].in_use && !strcmp(sp->tenants[id].cfg.name, name))
			sp->tenant_unknown = id;
}

void sp_tenants_fini(struct sp *sp)
{
	free(sp->tenants);
	sp->tenants = NULL;
	free(sp->rpc_base);
	free(sp->rpc_scratch);
	sp->rpc_base = sp->rpc_scratch = NULL;
	sp->nrpc_base = 0;
	config_tenants_free(&sp->tenant_cfg);
}

/* ------------------------------------------------------------- checks */

static int deny(struct sp *sp, uint16_t tid, enum sp_tenant_denial what, int err)
{
	sp_tenant_get(sp, tid)->denied[what]++;
	return -err;
}

int sp_tenant_attach(struct sp *sp, uint16_t tid)
{
	struct sp_tenant *t = sp_tenant_get(sp, tid);

	if (t->cfg.max_apps && t->apps >= t->cfg.max_apps)
		return deny(sp, tid, SPT_DENY_APPS, EMFILE);
	t->apps++;
	return 0;
}

void sp_tenant_detach(struct sp *sp, uint16_t tid)
{
	struct sp_tenant *t = sp_tenant_get(sp, tid);

	if (t->apps)
		t->apps--;
}

int sp_tenant_listen_ok(struct sp *sp, const struct dp_app *app, uint32_t uid, uint16_t port)
{
	/* root may bind anywhere, like CAP_NET_BIND_SERVICE */
	if (uid == 0 || bp_tenant_port_ok(&sp_tenant_get(sp, app->tenant)->cfg, port))
		return 0;
	return deny(sp, app->tenant, SPT_DENY_PORT, EACCES);
}

int sp_tenant_connect_ok(struct sp *sp, const struct dp_app *app, uint32_t uid, uint32_t ip)
{
	if (uid == 0 || bp_tenant_connect_ok(&sp_tenant_get(sp, app->tenant)->cfg, ip))
		return 0;
	return deny(sp, app->tenant, SPT_DENY_CONNECT, EACCES);
}

int sp_tenant_same(struct sp *sp, const struct dp_app *app, uint16_t owner,
		   enum sp_tenant_denial what)
{
	if (app->tenant == owner)
		return 0;
	return deny(sp, app->tenant, what, EACCES);
}

uint64_t sp_tenant_buf_bytes(struct sp *sp, const struct sp_tenant *t)
{
	const struct bp_config *c = &sp->dp->cfg;

	/* on huge pages the rings are in reserved_bytes from attach on */
	uint64_t per = c->app_hugepages ? 0 : (uint64_t)c->rx_buf_size + c->tx_buf_size;
	return t->flows * per + t->reserved_bytes;
}

int sp_tenant_flow_take(struct sp *sp, uint16_t tid, bool passive)
{
	struct sp_tenant *t = sp_tenant_get(sp, tid);
	const struct bp_config *c = &sp->dp->cfg;
	uint64_t per = c->app_hugepages ? 0 : (uint64_t)c->rx_buf_size + c->tx_buf_size;

	/* an active open counts the half-open connections its listeners hold;
	 * a completing passive one was one of them (admitted against both by
	 * sp_tenant_syn_ok()), or a SYN cookie's */
	uint32_t held = t->flows + (passive ? 0 : t->half_open);
	if (t->cfg.max_flows && held >= t->cfg.max_flows)
		return deny(sp, tid, passive ? SPT_DENY_SYN : SPT_DENY_FLOWS, ENOBUFS);
	if (t->cfg.max_buf_mb && per && /* on huge pages paid for at attach */
	    (t->flows + 1) * per + t->reserved_bytes > (uint64_t)t->cfg.max_buf_mb << 20)
		return deny(sp, tid, passive ? SPT_DENY_SYN : SPT_DENY_BUF, ENOBUFS);
	t->flows++;
	return 0;
}

void sp_tenant_flow_put(struct sp *sp, uint16_t tid)
{
	struct sp_tenant *t = sp_tenant_get(sp, tid);

	if (t->flows)
		t->flows--;
}

bool sp_tenant_syn_ok(struct sp *sp, uint16_t tid)
{
	struct sp_tenant *t = sp_tenant_get(sp, tid);

	if (!t->cfg.max_flows || t->flows + t->half_open < t->cfg.max_flows)
		return true;
	t->denied[SPT_DENY_SYN]++;
	return false;
}

void sp_tenant_half_open(struct sp *sp, uint16_t tid, int delta)
{
	struct sp_tenant *t = sp_tenant_get(sp, tid);

	if (delta > 0 || t->half_open)
		t->half_open += (uint32_t)delta;
}

void sp_tenant_traffic(struct sp *sp, uint16_t id, struct dp_tenant_core *out)
{
	const struct sp_tenant_traffic *b = &sp_tenant_get(sp, id)->traffic_base;

	/* the rows only grow: never below the base taken from them */
	sp_fp_tenant_stats(sp, id, out);
	out->tx_bytes -= b->tx_bytes;
	out->tx_pkts -= b->tx_pkts;
	out->rx_bytes -= b->rx_bytes;
	out->rx_pkts -= b->rx_pkts;
	out->throttled -= b->throttled;
}

void sp_tenant_fresh_start(struct sp *sp, const bool *fresh)
{
	for (uint16_t id = 0; id < DP_MAX_TENANTS; id++) {
		struct sp_tenant *t = sp_tenant_get(sp, id);
		struct dp_tenant_core now;

		if (!fresh[id])
			continue;
		memset(t->denied, 0, sizeof(t->denied));
		sp_fp_tenant_stats(sp, id, &now);
		t->traffic_base = (struct sp_tenant_traffic){ now.tx_bytes, now.tx_pkts,
							      now.rx_bytes, now.rx_pkts,
							      now.throttled };
		sp_fp_tenant_fresh(sp, id);
	}
	sp_rpc_rebase(sp, fresh);
}
