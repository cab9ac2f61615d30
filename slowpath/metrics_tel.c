// SPDX-License-Identifier: MIT
/*
 * metrics_tel.c - the metrics as DPDK telemetry commands, so
 * dpdk-telemetry.py and telemetry exporters see what Prometheus sees:
 *
 *   /bypass/status         every global series, and the version
 *   /bypass/ports          per port id: its series
 *   /bypass/cores          per fastpath core: its series
 *   /bypass/tenants        the tenants' names
 *   /bypass/tenant,NAME    one tenant's series
 *
 * The callbacks run on DPDK's telemetry threads (one per client), which
 * must not touch slowpath state.  So the slowpath collects a snapshot
 * every MT_TEL_PERIOD_S and swaps it in under tel_lock; the callbacks read
 * only the snapshot, under the same lock.  Telemetry is at most one period
 * stale; Prometheus and bypassctl metrics are collected when asked.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <rte_telemetry.h>

#include "sp_internal.h"
#include "metrics_sp.h"

#define MT_TEL_PERIOD_S 1.0

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mt_set tel_snap;    /* under tel_lock */
static bool tel_registered;       /* commands stay registered for the process */
static ev_timer tel_w;
static bool tel_running;

static bool sample_is(const struct mt_sample *s, enum mt_scope scope, const char *val)
{
	return s->fam->scope == scope && (!val || !strcmp(s->scope_val, val));
}

/* a sample into dictionary @d; families named *_info carry their label as a string */
static void dict_add(struct rte_tel_data *d, const struct mt_sample *s)
{
	char key[RTE_TEL_MAX_STRING_LEN];
	size_t nl = strlen(s->fam->name);

	if (nl > 5 && !strcmp(s->fam->name + nl - 5, "_info") && s->fam->label2) {
		rte_tel_data_add_dict_string(d, s->fam->label2, s->label2_val);
		return;
	}
	mt_tel_key(s, key, sizeof(key));
	rte_tel_data_add_dict_u64(d, key, s->value);
}

static int tel_status(const char *cmd, const char *params, struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&tel_lock);
	for (size_t i = 0; i < tel_snap.n; i++)
		if (sample_is(&tel_snap.s[i], MT_GLOBAL, NULL))
			dict_add(d, &tel_snap.s[i]);
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

/* { "<scope value>": { series... }, ... } for ports and cores */
static int tel_by(struct rte_tel_data *d, enum mt_scope scope)
{
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&tel_lock);
	for (size_t i = 0; i < tel_snap.n; i++) {
		const struct mt_sample *s = &tel_snap.s[i];
		bool seen = false;
		if (!sample_is(s, scope, NULL))
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = sample_is(&tel_snap.s[j], scope, s->scope_val);
		if (seen)
			continue;
		struct rte_tel_data *c = rte_tel_data_alloc();
		if (!c)
			break;
		rte_tel_data_start_dict(c);
		for (size_t j = i; j < tel_snap.n; j++)
			if (sample_is(&tel_snap.s[j], scope, s->scope_val))
				dict_add(c, &tel_snap.s[j]);
		if (rte_tel_data_add_dict_container(d, s->scope_val, c, 0))
			rte_tel_data_free(c);
	}
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

static int tel_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	return tel_by(d, MT_PORT);
}

static int tel_cores(const char *cmd, const char *params, struct rte_tel_data *d)
{
	return tel_by(d, MT_CORE);
}

static int tel_tenants(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct mt_family *first = NULL;

	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	pthread_mutex_lock(&tel_lock);
	/* one name per tenant: the samples of its first family */
	for (size_t i = 0; i < tel_snap.n; i++) {
		const struct mt_sample *s = &tel_snap.s[i];
		if (!sample_is(s, MT_TENANT, NULL))
			continue;
		if (!first)
			first = s->fam;
		if (s->fam == first)
			rte_tel_data_add_array_string(d, s->scope_val);
	}
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

static int tel_tenant(const char *cmd, const char *params, struct rte_tel_data *d)
{
	bool found = false;

	if (!params || !*params)
		return -1;
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&tel_lock);
	for (size_t i = 0; i < tel_snap.n; i++) {
		if (sample_is(&tel_snap.s[i], MT_TENANT, params)) {
			dict_add(d, &tel_snap.s[i]);
			found = true;
		}
	}
	pthread_mutex_unlock(&tel_lock);
	return found ? 0 : -1;
}

/* the slowpath's side: collect, then swap the snapshot in */
static void tel_refresh(struct sp *sp)
{
	struct mt_set fresh = { 0 }, old;

	sp_metrics_collect(sp, &fresh, -1, UINT32_MAX);
	pthread_mutex_lock(&tel_lock);
	old = tel_snap;
	tel_snap = fresh;
	pthread_mutex_unlock(&tel_lock);
	mt_set_free(&old);
}

static void on_tel_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	tel_refresh(w->data);
}

int sp_metrics_tel_start(struct sp *sp)
{
	if (!tel_registered) {
		rte_telemetry_register_cmd("/bypass/status", tel_status,
					   "bypass: global counters and gauges. No parameters");
		rte_telemetry_register_cmd("/bypass/ports", tel_ports,
					   "bypass: counters per port id. No parameters");
		rte_telemetry_register_cmd("/bypass/cores", tel_cores,
					   "bypass: counters per fastpath core. No parameters");
		rte_telemetry_register_cmd("/bypass/tenants", tel_tenants,
					   "bypass: the tenants' names. No parameters");
		rte_telemetry_register_cmd("/bypass/tenant", tel_tenant,
					   "bypass: one tenant's counters. Parameters: tenant name");
		tel_registered = true;
	}
	tel_refresh(sp);
	ev_timer_init(&tel_w, on_tel_timer, MT_TEL_PERIOD_S, MT_TEL_PERIOD_S);
	tel_w.data = sp;
	ev_timer_start(sp->loop, &tel_w);
	tel_running = true;
	return 0;
}

void sp_metrics_tel_stop(struct sp *sp)
{
	struct mt_set old;

	if (!tel_running)
		return;
	ev_timer_stop(sp->loop, &tel_w);
	tel_running = false;
	pthread_mutex_lock(&tel_lock);
	old = tel_snap;
	memset(&tel_snap, 0, sizeof(tel_snap));
	pthread_mutex_unlock(&tel_lock);
	mt_set_free(&old);
}
