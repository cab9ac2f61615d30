// SPDX-License-Identifier: MIT
/*
 * test_counter_reads.c - counts as bypassctl and /metrics show them.
 *
 * A core's frame count (sp_fp_core_stat) is read while the core counts. It
 * was once worked out as received - passed on + passed in, which rises by a
 * burst and falls as the burst is passed on: read at the wrong moment it
 * went backwards, or wrapped to 2^64 (a CI run of test_metrics caught one).
 *
 * A tenant id is reused once its last owner's flows are gone, and the
 * cores' rows for it are never cleared: a new tenant must still start from
 * zero (sp_tenant_fresh_start), traffic and RPC calls alike.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_sock.h"

#include "dataplane.h"
#include "sp_internal.h"

#define BURSTS 2000000ull
#define BURST 32

static struct dataplane *dp;
static volatile int writer_done;

/* a zeroed dataplane of @ncores cores (its members are cache-aligned) */
static struct dataplane *new_dp(uint32_t ncores)
{
	struct dataplane *d = aligned_alloc(64, sizeof(*d));

	cr_assert_not_null(d);
	memset(d, 0, sizeof(*d));
	d->ncores = ncores;
	return d;
}

static void bump(uint64_t *c, uint64_t by)
{
	__atomic_store_n(c, *c + by, __ATOMIC_RELEASE);
}

/* core 0 receives a burst, passes it all on; core 1 takes it in */
static void *count_like_the_cores(void *arg)
{
	uint64_t *c0 = dp->core[0].counters, *c1 = dp->core[1].counters;

	(void)arg;
	for (uint64_t b = 0; b < BURSTS; b++) {
		uint64_t passed_on = c0[DPC_FORWARDED];

		bump(&c0[DPC_RX_PKTS], BURST);
		for (int i = 0; i < BURST; i++) {
			bump(&c0[DPC_FORWARDED], 1);
			bump(&c1[DPC_RX_FWD_IN], 1);
		}
		bump(&c0[DPC_RX_KEPT], BURST - (c0[DPC_FORWARDED] - passed_on));
	}
	writer_done = 1;
	return NULL;
}

Test(core_stat, counts_only_grow_while_frames_are_passed_on, .timeout = 120)
{
	struct sp sp = { 0 };
	uint64_t last1 = 0, reads = 0;
	pthread_t t;

	dp = new_dp(2);
	sp.dp = dp;
	cr_assert_eq(pthread_create(&t, NULL, count_like_the_cores, NULL), 0);
	while (!writer_done) {
		struct sp_fp_core_stat s0 = sp_fp_core_stat(&sp, 0);
		struct sp_fp_core_stat s1 = sp_fp_core_stat(&sp, 1);

		cr_assert_eq(s0.rx_pkts, 0, "read %llu: core 0, which passes every frame on, "
			     "shows %llu processed", (unsigned long long)reads,
			     (unsigned long long)s0.rx_pkts);
		cr_assert_geq(s1.rx_pkts, last1, "core 1's count went back from %llu to %llu",
			      (unsigned long long)last1, (unsigned long long)s1.rx_pkts);
		last1 = s1.rx_pkts;
		reads++;
	}
	pthread_join(t, NULL);
	cr_assert_eq(sp_fp_core_stat(&sp, 1).rx_pkts, BURSTS * BURST);
	cr_assert_gt(reads, 100, "only %llu reads overlapped the counting",
		     (unsigned long long)reads);
	free(dp);
}

/* one fake daemon: @ncores cores, every tenant slot, the slowpath's role */
static void fake_sp(struct sp *sp, uint32_t ncores)
{
	dp_role_set(DP_ROLE_SP, 0);
	dp = new_dp(ncores);
	dp->tenants = aligned_alloc(64, DP_MAX_TENANTS * sizeof(*dp->tenants));
	cr_assert_not_null(dp->tenants);
	memset(dp->tenants, 0, DP_MAX_TENANTS * sizeof(*dp->tenants));
	sp->dp = dp;
	sp->tenants = calloc(DP_MAX_TENANTS, sizeof(*sp->tenants));
	cr_assert_not_null(sp->tenants);
	cr_assert_eq(sp_rpc_base_init(sp), 0);
}

/* core @k's row @i: (@tenant, @method) with @calls calls so far */
static struct dp_rpc_stat *rpc_row(uint32_t k, uint32_t i, uint16_t tenant, uint32_t method,
				   uint64_t calls)
{
	struct dp_rpc_stat *r = &dp->core[k].rpc_stats[i];

	*r = (struct dp_rpc_stat){ .used = 1, .tenant = tenant, .method = method,
				   .calls = calls, .resp_ok = calls };
	return r;
}

/* calls of (@tenant, @method) as bypassctl rpc shows them; -1: no row */
static int64_t rpc_calls(struct sp *sp, uint16_t tenant, uint32_t method)
{
	struct dp_rpc_stat *v;
	int n = sp_rpc_sum(sp, &v);
	int64_t calls = -1;

	cr_assert_geq(n, 0);
	for (int i = 0; i < n; i++)
		if (v[i].tenant == tenant && v[i].method == method)
			calls = (int64_t)v[i].calls;
	free(v);
	return calls;
}

Test(counter_reads, new_tenant_on_a_reused_id_starts_from_zero)
{
	struct sp sp = { 0 };
	struct dp_tenant_core now;
	static bool fresh[DP_MAX_TENANTS];

	fake_sp(&sp, 2);
	fresh[2] = true;
	/* id 2's last owner: traffic on both cores, RPC calls of two methods */
	dp->tenants[2].core[0] = (struct dp_tenant_core){ 1000, 10, 2000, 20, 3 };
	dp->tenants[2].core[1] = (struct dp_tenant_core){ 500, 5, 700, 7, 1 };
	sp.tenants[2].denied[SPT_DENY_PORT] = 4;
	struct dp_rpc_stat *r7 = rpc_row(0, 1, 2, 7, 30);
	rpc_row(1, 9, 2, 7, 12);
	rpc_row(1, 3, 2, 8, 5);
	rpc_row(0, 2, 1, 7, 99); /* tenant 1 keeps its id and its counts */
	rpc_row(0, 0, DP_RPC_OTHER_TENANT, DP_RPC_OTHER, 3); /* the table-full row */
	sp_tenant_traffic(&sp, 2, &now);
	cr_assert_eq(now.tx_bytes, 1500);
	cr_assert_eq(rpc_calls(&sp, 2, 7), 42);

	sp_tenant_fresh_start(&sp, fresh);
	sp_tenant_traffic(&sp, 2, &now);
	cr_assert_eq(now.tx_bytes + now.tx_pkts + now.rx_bytes + now.rx_pkts + now.throttled, 0,
		     "the new tenant shows its id's last owner's traffic (tx_bytes %llu)",
		     (unsigned long long)now.tx_bytes);
	cr_assert_eq(sp.tenants[2].denied[SPT_DENY_PORT], 0);
	cr_assert_eq(rpc_calls(&sp, 2, 7), -1, "the last owner's method is still listed");
	cr_assert_eq(rpc_calls(&sp, 2, 8), -1);
	cr_assert_eq(rpc_calls(&sp, 1, 7), 99, "another tenant's counts changed");
	cr_assert_eq(rpc_calls(&sp, DP_RPC_OTHER_TENANT, DP_RPC_OTHER), 3);

	/* the new tenant's own traffic and calls count from there */
	dp->tenants[2].core[1].tx_bytes += 64;
	r7->calls += 2;
	sp_tenant_traffic(&sp, 2, &now);
	cr_assert_eq(now.tx_bytes, 64);
	cr_assert_eq(rpc_calls(&sp, 2, 7), 2);

	/* and a third owner starts from zero again: the second owner's
	 * baseline replaces the first's, one per (tenant, method) */
	sp_tenant_fresh_start(&sp, fresh);
	cr_assert_eq(rpc_calls(&sp, 2, 7), -1);
	cr_assert_eq(sp.nrpc_base, 2, "baselines kept: %u", sp.nrpc_base);
	sp_tenants_fini(&sp);
	free(dp->tenants);
	free(dp);
}
