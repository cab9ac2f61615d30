// SPDX-License-Identifier: MIT
/*
 * ctl_rpc.c - bypassctl rpc: calls of RPC sessions per tenant and method.
 *
 * Every fastpath core counts in its own table (fastpathd/fp_rpc.c); this
 * sums the rows of all cores by (tenant, method) and answers with what the
 * caller may read (sp_ctl_read_scope(): an admin every tenant, anyone else
 * its own).
 */
#include <errno.h>
#include <stdlib.h>

#include "sp_internal.h"
#include "ctl_sock.h"
#include "sp_fp.h"
#include "tenant.h"

#define RPC_BUDGET (CTL_MAX_FRAME - 1024)

static int by_key(const void *a, const void *b)
{
	const struct dp_rpc_stat *x = a, *y = b;

	if (x->tenant != y->tenant)
		return x->tenant < y->tenant ? -1 : 1;
	return x->method < y->method ? -1 : x->method > y->method;
}

/* the cores' rows: at most this many, and as many keys */
static uint32_t rpc_rows(const struct sp *sp)
{
	return DP_RPC_STATS * sp->dp->ncores;
}

/* the cores' rows added up per (tenant, method) into @v (rpc_rows()),
 * sorted, counted from the start.  Return: rows. */
static uint32_t rpc_sum_raw(struct sp *sp, struct dp_rpc_stat *v)
{
	uint32_t n, m = 0;

	n = sp_fp_rpc_stats(sp, v, rpc_rows(sp));
	qsort(v, n, sizeof(*v), by_key);
	for (uint32_t i = 0; i < n; i++) {
		if (m && v[m - 1].tenant == v[i].tenant && v[m - 1].method == v[i].method) {
			v[m - 1].calls += v[i].calls;
			v[m - 1].resp_ok += v[i].resp_ok;
			v[m - 1].resp_err += v[i].resp_err;
		} else {
			v[m++] = v[i];
		}
	}
	return m;
}

/**
 * sp_rpc_sum - the RPC call counters of every core, one row per (tenant,
 * method), sorted, each counted since its tenant took its id
 * (sp_rpc_rebase()); the caller frees *@out.
 * Return: rows, or -ENOMEM.
 */
int sp_rpc_sum(struct sp *sp, struct dp_rpc_stat **out)
{
	uint32_t n, m = 0;

	*out = calloc(rpc_rows(sp) ? rpc_rows(sp) : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	n = rpc_sum_raw(sp, *out);
	for (uint32_t i = 0; i < n; i++) {
		struct dp_rpc_stat *r = &(*out)[i];
		const struct dp_rpc_stat *b = sp->nrpc_base ?
			bsearch(r, sp->rpc_base, sp->nrpc_base, sizeof(*b), by_key) : NULL;

		if (b) {
			/* rows only grow and keep their key: never below */
			r->calls -= b->calls;
			r->resp_ok -= b->resp_ok;
			r->resp_err -= b->resp_err;
			if (!r->calls && !r->resp_ok && !r->resp_err)
				continue; /* the last owner's method, not called since */
		}
		(*out)[m++] = *r;
	}
	return (int)m;
}

/**
 * sp_rpc_rebase - the RPC counts of the tenant ids marked in
 * @fresh[DP_MAX_TENANTS] start from zero: their rows as they are now
 * become their baseline, their last owners' baselines go.  Allocates
 * nothing (sp_rpc_base_init()), so a reload never half-applies.
 */
void sp_rpc_rebase(struct sp *sp, const bool *fresh)
{
	struct dp_rpc_stat *base = sp->rpc_base, *now = sp->rpc_scratch;
	uint32_t n = rpc_sum_raw(sp, now), m = 0;

	/* every key kept is one the cores' tables hold (they never drop
	 * one), once: SP_RPC_ROWS bounds them.  DP_RPC_OTHER_TENANT (the
	 * table-full row) is no tenant's. */
	for (uint32_t i = 0; i < sp->nrpc_base; i++)
		if (base[i].tenant >= DP_MAX_TENANTS || !fresh[base[i].tenant])
			base[m++] = base[i];
	for (uint32_t i = 0; i < n && m < SP_RPC_ROWS; i++)
		if (now[i].tenant < DP_MAX_TENANTS && fresh[now[i].tenant])
			base[m++] = now[i];
	qsort(base, m, sizeof(*base), by_key);
	sp->nrpc_base = m;
}

/**
 * sp_rpc_base_init - room for sp_rpc_rebase(), taken at start.
 * Return: 0, or -ENOMEM.
 */
int sp_rpc_base_init(struct sp *sp)
{
	sp->rpc_base = calloc(SP_RPC_ROWS, sizeof(*sp->rpc_base));
	sp->rpc_scratch = calloc(SP_RPC_ROWS, sizeof(*sp->rpc_scratch));
	sp->nrpc_base = 0;
	return sp->rpc_base && sp->rpc_scratch ? 0 : -ENOMEM;
}

/** sp_ctl_rpc - bypassctl rpc on @cc. */
void sp_ctl_rpc(struct sp *sp, struct ctl_conn *cc)
{
	Bypass__RpcReply rep = BYPASS__RPC_REPLY__INIT;
	int scope = sp_ctl_read_scope(cc);
	struct dp_rpc_stat *v = NULL;
	Bypass__RpcMethodStat *st = NULL, **arr = NULL;
	int n = 0;

	if (scope < 0 && scope != SP_CTL_ALL) {
		rep.status = -EACCES;
		rep.error = (char *)"you belong to no tenant ([tenants] unknown = refuse): "
				    "ask the operator to list your uid or group in one";
		goto send;
	}
	n = sp_rpc_sum(sp, &v);
	st = calloc(n > 0 ? (size_t)n : 1, sizeof(*st));
	arr = calloc(n > 0 ? (size_t)n : 1, sizeof(*arr));
	if (n < 0 || !st || !arr) {
		rep.status = -ENOMEM;
		rep.error = (char *)"fastpathd is out of memory";
		goto send;
	}
	size_t budget = RPC_BUDGET;

	rep.has_omitted = 1;
	for (int i = 0; i < n; i++) {
		Bypass__RpcMethodStat *o = &st[rep.n_methods];

		if (scope != SP_CTL_ALL && v[i].tenant != scope)
			continue;
		/* a removed tenant's rows go with it, as in /metrics */
		if (v[i].tenant < DP_MAX_TENANTS && !sp_tenant_live(&sp->tenants[v[i].tenant]))
			continue;
		bypass__rpc_method_stat__init(o);
		/* the rows no (tenant, method) entry had room for (dp_rpc_stat) */
		o->tenant = v[i].tenant == DP_RPC_OTHER_TENANT ? (char *)"(table full)" :
			    sp->tenants[v[i].tenant].cfg.name;
		o->method = v[i].method == DP_RPC_OTHER ? 65536 : v[i].method;
		o->has_calls = o->has_resp_ok = o->has_resp_err = 1;
		o->calls = v[i].calls;
		o->resp_ok = v[i].resp_ok;
		o->resp_err = v[i].resp_err;
		size_t need = bypass__rpc_method_stat__get_packed_size(o) + 4;
		if (need > budget) {
			rep.omitted++;
			continue;
		}
		budget -= need;
		arr[rep.n_methods++] = o;
	}
	rep.methods = arr;
	if (scope == SP_CTL_ALL) {
		rep.has_messages = rep.has_protocol_errors = rep.has_stalls = 1;
		rep.has_bad_returns = rep.has_tx_frames = rep.has_tx_overtakes = 1;
		rep.has_tx_refused = 1;
		rep.tx_frames = dp_fp_counter(sp->dp, DPC_RPC_TX_FRAMES);
		rep.tx_overtakes = dp_fp_counter(sp->dp, DPC_RPC_TX_OVERTAKES);
		rep.tx_refused = dp_fp_counter(sp->dp, DPC_RPC_TX_REFUSED);
		rep.messages = dp_fp_counter(sp->dp, DPC_RPC_MSGS);
		rep.protocol_errors = dp_fp_counter(sp->dp, DPC_RPC_PROTO_ERR);
		rep.stalls = dp_fp_counter(sp->dp, DPC_RPC_STALLS);
		rep.bad_returns = dp_fp_counter(sp->dp, DPC_RPC_BAD_RETURN);
	}
send:;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_RPC_REPLY;
	m.rpc_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
	free(v);
	free(st);
	free(arr);
}
