// SPDX-License-Identifier: MIT
/*
 * test_core_stat.c - a core's frame count as bypassctl and /metrics show it
 * (sp_fp_core_stat) is read while the core is counting. It was once worked
 * out as received - passed on + passed in, which rises by a burst and falls
 * as the burst is passed on: read at the wrong moment it went backwards, or
 * wrapped to 2^64 (a CI run of test_metrics caught one). Here core 0 keeps
 * passing every frame it receives to core 1, as fp_poll_port() counts them.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>

#include "dataplane.h"
#include "sp_internal.h"

#define BURSTS 2000000ull
#define BURST 32

static struct dataplane *dp;
static volatile int writer_done;

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

	dp = calloc(1, sizeof(*dp));
	cr_assert_not_null(dp);
	dp->ncores = 2;
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
