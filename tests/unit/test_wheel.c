// SPDX-License-Identifier: MIT
/* test_wheel.c - the slowpath's timing wheel against a brute-force model. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "wheel.h"

#define N 512

static uint32_t fired[N];
static uint64_t fired_at[N];
static uint64_t clock_now;
static struct wheel W;

static void on_fire(void *arg, uint32_t id)
{
	(void)arg;
	fired[id]++;
	fired_at[id] = clock_now;
}

Test(wheel, fires_once_at_its_time)
{
	cr_assert_eq(wheel_init(&W, N, 1000), 0);
	wheel_sched(&W, 7, 1005);
	wheel_sched(&W, 8, 1005);
	wheel_sched(&W, 9, 3000); /* laps ahead: same slot as others later */
	for (clock_now = 1001; clock_now <= 1004; clock_now++)
		cr_assert_eq(wheel_expire(&W, clock_now, on_fire, NULL), 0);
	clock_now = 1005;
	cr_assert_eq(wheel_expire(&W, clock_now, on_fire, NULL), 2);
	cr_assert_eq(fired[7], 1);
	cr_assert_eq(fired[8], 1);
	cr_assert_eq(fired[9], 0);
	cr_assert(!wheel_queued(&W, 7));
	cr_assert(wheel_queued(&W, 9));
	clock_now = 2999;
	cr_assert_eq(wheel_expire(&W, clock_now, on_fire, NULL), 0);
	clock_now = 3000;
	cr_assert_eq(wheel_expire(&W, clock_now, on_fire, NULL), 1);
	cr_assert_eq(W.nqueued, 0);
	wheel_fini(&W);
}

Test(wheel, earliest_wins_and_cancel)
{
	memset(fired, 0, sizeof(fired));
	cr_assert_eq(wheel_init(&W, N, 0), 0);
	wheel_sched(&W, 1, 50);
	wheel_sched(&W, 1, 80);  /* later: stays at 50 */
	wheel_sched(&W, 1, 20);  /* earlier: moves */
	wheel_sched(&W, 2, 30);
	wheel_cancel(&W, 2);
	wheel_sched(&W, 3, 0);   /* the past means the next expiry */
	clock_now = 1;
	cr_assert_eq(wheel_expire(&W, clock_now, on_fire, NULL), 1);
	cr_assert_eq(fired[3], 1);
	clock_now = 100;
	cr_assert_eq(wheel_expire(&W, clock_now, on_fire, NULL), 1);
	cr_assert_eq(fired[1], 1);
	cr_assert_eq(fired[2], 0);
	wheel_fini(&W);
}

/* a visit that reschedules itself, as a flow with data in flight does */
static void on_fire_again(void *arg, uint32_t id)
{
	(void)arg;
	fired[id]++;
	if (fired[id] < 5)
		wheel_sched(&W, id, clock_now); /* "now" means the next ms */
}

Test(wheel, reschedule_from_the_callback)
{
	memset(fired, 0, sizeof(fired));
	cr_assert_eq(wheel_init(&W, N, 0), 0);
	wheel_sched(&W, 4, 10);
	for (clock_now = 1; clock_now <= 20; clock_now++)
		wheel_expire(&W, clock_now, on_fire_again, NULL);
	cr_assert_eq(fired[4], 5); /* at 10, 11, 12, 13, 14: once per ms, never twice */
	wheel_fini(&W);
}

/* random schedules, cancels and clock jumps (also past a whole lap)
 * against a model: each id fires once, at the first expiry >= its time */
Test(wheel, random_against_model)
{
	uint64_t want[N];
	srand(12345);
	memset(fired, 0, sizeof(fired));
	cr_assert_eq(wheel_init(&W, N, 0), 0);
	for (uint32_t i = 0; i < N; i++)
		want[i] = 0;
	clock_now = 0;
	for (int step = 0; step < 20000; step++) {
		uint32_t id = (uint32_t)rand() % N;
		int op = rand() % 10;
		if (op < 6) {
			uint64_t at = clock_now + (uint64_t)(rand() % 3000);
			if (at <= clock_now)
				at = clock_now + 1;
			if (!want[id] || at < want[id])
				want[id] = at;
			wheel_sched(&W, id, at);
		} else if (op < 7) {
			want[id] = 0;
			wheel_cancel(&W, id);
		} else {
			clock_now += (uint64_t)(rand() % (op == 9 ? 2500 : 20));
			memset(fired, 0, sizeof(fired));
			wheel_expire(&W, clock_now, on_fire, NULL);
			for (uint32_t i = 0; i < N; i++) {
				bool due = want[i] && want[i] <= clock_now;
				cr_assert_eq(fired[i], due ? 1u : 0u, "id %u due %d at %lu now %lu", i,
					     due, (unsigned long)want[i], (unsigned long)clock_now);
				cr_assert_eq(wheel_queued(&W, i), want[i] && !due);
				if (due)
					want[i] = 0;
			}
		}
	}
	wheel_fini(&W);
}
