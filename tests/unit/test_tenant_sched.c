// SPDX-License-Identifier: MIT
/*
 * Unit tests of the per-tenant QoS primitives (fastpathd/tenant_sched.c):
 * the shared token bucket driven by a made-up clock, and the port
 * scheduler's order (class first, then weighted fair shares of bytes).
 */
#include <criterion/criterion.h>
#include <pthread.h>

#include "tenant_sched.h"

#define HZ 1000000000ull /* 1 GHz: one cycle per ns */

Test(tenant_bucket, cost_and_depth)
{
	/* 1500 bytes at 12 Mbit/s take 1 ms */
	cr_assert_eq(tq_cost(1500, 12000000, HZ), 1000000);
	/* default depth: 64 KiB below 262 Mbit/s, 2 ms at the rate above */
	cr_assert_eq(tq_depth(0, 8000000, HZ), tq_cost(65536, 8000000, HZ));
	cr_assert_eq(tq_depth(0, 8000000000ull, HZ), 2000000);
	cr_assert_eq(tq_depth(1000, 8000000, HZ), 1000000);
}

/* a sender that always has data, sending @seg bytes whenever allowed */
static uint64_t saturate(uint64_t *tat, uint64_t rate, uint64_t depth, uint64_t t0,
			 uint64_t t1, uint64_t step, uint64_t seg)
{
	uint64_t sent = 0;
	for (uint64_t now = t0; now < t1; now += step)
		while (!tq_take(tat, now, tq_cost(seg, rate, HZ), depth))
			sent += seg;
	return sent;
}

Test(tenant_bucket, burst_then_rate)
{
	uint64_t rate = 200000000, tat = 0;
	uint64_t depth = tq_depth(256 * 1024, rate, HZ);
	uint64_t t0 = 5 * HZ;

	/* after idle: the burst at once (plus the one segment that overdraws) */
	uint64_t burst = saturate(&tat, rate, depth, t0, t0 + 1, 1, 1460);
	cr_assert_geq(burst, 256 * 1024);
	cr_assert_lt(burst, 256 * 1024 + 2 * 1460);

	/* then the rate: 1 s at 200 Mbit/s is 25 MB, within a segment */
	uint64_t sent = saturate(&tat, rate, depth, t0 + 1, t0 + HZ, 10000, 1460);
	cr_assert_lt(llabs((long long)(sent + burst) - 25000000 - 256 * 1024), 3 * 1460,
		     "sent %lu", (unsigned long)sent);
}

Test(tenant_bucket, retry_time_and_refund)
{
	uint64_t rate = 8000000, tat = 0, now = HZ; /* 1 byte per us */
	uint64_t depth = tq_cost(3000, rate, HZ);
	uint64_t cost = tq_cost(1500, rate, HZ);

	cr_assert_eq(tq_take(&tat, now, cost, depth), 0);
	cr_assert_eq(tq_take(&tat, now, cost, depth), 0);
	uint64_t due = tq_take(&tat, now, cost, depth);
	cr_assert_gt(due, now, "an empty bucket names a future retry time");
	cr_assert_neq(tq_take(&tat, due - 1, cost, depth), 0);
	cr_assert_eq(tq_take(&tat, due, cost, depth), 0, "and it holds");
	/* a refund makes the taken tokens available again */
	tq_refund(&tat, cost);
	cr_assert_eq(tq_take(&tat, due, cost, depth), 0);
}

Test(tenant_bucket, rate_change_keeps_debt_in_time)
{
	uint64_t tat = 0, now = HZ;
	uint64_t fast = 200000000, slow = 50000000;
	saturate(&tat, fast, tq_depth(0, fast, HZ), now, now + HZ / 10, 1000, 1460);
	now += HZ / 10;
	/* at the new rate: 50 Mbit/s for 1 s, after at most one new burst */
	uint64_t depth = tq_depth(0, slow, HZ);
	uint64_t sent = saturate(&tat, slow, depth, now, now + HZ, 1000, 1460);
	cr_assert_leq(sent, 50000000 / 8 + 65536 + 2 * 1460, "sent %lu", (unsigned long)sent);
	cr_assert_geq(sent, 50000000 / 8 - 2 * 1460, "sent %lu", (unsigned long)sent);
}

Test(tenant_bucket, a_raised_rate_forgets_the_old_debt)
{
	/* 1 kbit/s with the default 64 KiB burst: saturated, the bucket
	 * owes about 9 minutes at that rate */
	uint64_t slow = 1000, fast = 1000000000, tat = 0, now = HZ;
	uint64_t sent = saturate(&tat, slow, tq_depth(0, slow, HZ), now, now + 1, 1, 1460);
	cr_assert_geq(sent, 65536);
	cr_assert_gt(tat - now, 500 * HZ, "owes %lu s", (unsigned long)((tat - now) / HZ));
	/* raised to 1 Gbit/s (sp_fp_tenant_set() forgives all but two new
	 * buckets): it waits 4 ms at most, then sends at the new rate */
	now += HZ / 1000;
	uint64_t depth = tq_depth(0, fast, HZ);
	tq_forgive(&tat, now, 2 * depth);
	cr_assert_eq(tat, now + 2 * depth);
	sent = saturate(&tat, fast, depth, now, now + HZ / 10, 1000, 1460);
	cr_assert_geq(sent, 1000000000 / 8 / 10 - 2 * 250000 - 2 * 1460, "sent %lu",
		      (unsigned long)sent);
	cr_assert_leq(sent, 1000000000 / 8 / 10 + 65536 + 2 * 1460, "sent %lu", (unsigned long)sent);
	/* a smaller debt is left as it is (a lowered rate keeps it in time) */
	now += HZ / 10;
	uint64_t before = tat;
	tq_forgive(&tat, now, 2 * depth);
	cr_assert_eq(tat, before);
	/* a new tenant on the id owes nothing: a full bucket */
	tq_forgive(&tat, now, 0);
	cr_assert_eq(tat, now);
}

struct race_arg {
	uint64_t *tat;
	uint64_t sent;
};

static void *race_sender(void *p)
{
	struct race_arg *a = p;
	uint64_t rate = 80000000; /* 10 bytes per us */
	uint64_t depth = tq_cost(15000, rate, HZ);
	for (uint64_t now = HZ; now < HZ + HZ / 100; now += 1000)
		while (!tq_take(a->tat, now, tq_cost(1000, rate, HZ), depth))
			a->sent += 1000;
	return NULL;
}

Test(tenant_bucket, shared_by_threads)
{
	/* four "cores" on one bucket get the rate together, not each */
	uint64_t tat = 0;
	struct race_arg a[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct race_arg){ .tat = &tat };
		pthread_create(&th[i], NULL, race_sender, &a[i]);
	}
	uint64_t total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += a[i].sent;
	}
	/* 10 ms at 10 bytes/us = 100 kB, plus the 15 kB burst and what the
	 * threads' clocks (each its own) may overdraw */
	cr_assert_geq(total, 100000, "total %lu", (unsigned long)total);
	cr_assert_leq(total, 100000 + 15000 + 4 * 1000 + 4 * 1000, "total %lu",
		      (unsigned long)total);
}

Test(tenant_bucket, rx_window)
{
	/* 80 Mbit/s over 1 ms = 10 kB; never below 2 MSS; 1 ms without a sample */
	cr_assert_eq(tq_rx_window(80000000, 1000, 1460), 10000);
	cr_assert_eq(tq_rx_window(80000000, 100, 1460), 2920);
	cr_assert_eq(tq_rx_window(80000000, 0, 1460), 10000);
	cr_assert_eq(tq_rx_window(1000000000, 20000, 1460), 2500000);
}

static struct tq_sched S;

static void sched_setup(void)
{
	cr_assert_eq(tq_sched_init(&S, 16, 64), 0);
}

static void sched_teardown(void)
{
	tq_sched_fini(&S);
}

TestSuite(tenant_sched, .init = sched_setup, .fini = sched_teardown);

Test(tenant_sched, classes_first_then_fifo)
{
	uint32_t t;
	tq_sched_push(&S, 1, 2, 10); /* bulk */
	tq_sched_push(&S, 2, 1, 20); /* normal */
	tq_sched_push(&S, 3, 0, 30); /* latency */
	tq_sched_push(&S, 2, 1, 21);
	tq_sched_push(&S, 3, 0, 31);
	cr_assert_eq(S.nwait, 5);
	cr_assert_eq(tq_sched_pop(&S, &t), 30);
	cr_assert_eq(t, 3);
	cr_assert_eq(tq_sched_pop(&S, &t), 31);
	cr_assert_eq(tq_sched_pop(&S, &t), 20);
	cr_assert_eq(t, 2);
	/* a latency flow that arrives now goes before the rest */
	tq_sched_push(&S, 4, 0, 40);
	cr_assert_eq(tq_sched_pop(&S, &t), 40);
	cr_assert_eq(tq_sched_pop(&S, &t), 21);
	cr_assert_eq(tq_sched_pop(&S, &t), 10);
	cr_assert_eq(t, 1);
	cr_assert_eq(tq_sched_pop(&S, &t), TQ_NONE);
	cr_assert_eq(S.nwait, 0);
	for (unsigned c = 0; c < TQ_CLASSES; c++)
		cr_assert_eq(S.nactive[c], 0);
}

/* two always-backlogged tenants of one class; each service sends @seg[t] */
static void weighted_run(uint32_t w1, uint32_t w2, uint64_t seg1, uint64_t seg2,
			 uint64_t *got1, uint64_t *got2)
{
	uint32_t t;
	*got1 = *got2 = 0;
	tq_sched_push(&S, 1, 1, 1);
	tq_sched_push(&S, 2, 1, 2);
	for (int i = 0; i < 20000; i++) {
		uint32_t f = tq_sched_pop(&S, &t);
		cr_assert_neq(f, TQ_NONE);
		uint64_t b = t == 1 ? seg1 : seg2;
		tq_sched_charge(&S, t, 1, b, t == 1 ? w1 : w2);
		*(t == 1 ? got1 : got2) += b;
		tq_sched_push(&S, t, 1, f); /* still has data: back in line */
	}
}

/* @rounds turns of the backlogged tenants of class @cls, each sending 1460
 * bytes at weight 1 and back in line; how many of them @who got */
static int turns_of(uint32_t who, uint8_t cls, int rounds)
{
	uint32_t t;
	int n = 0;
	for (int i = 0; i < rounds; i++) {
		uint32_t f = tq_sched_pop(&S, &t);
		cr_assert_neq(f, TQ_NONE);
		n += t == who;
		tq_sched_charge(&S, t, cls, 1460, 1);
		tq_sched_push(&S, t, cls, f);
	}
	return n;
}

/* @who, of class @cls, waits alone @rounds times and sends @bytes each */
static void alone(uint32_t who, uint8_t cls, int rounds, uint64_t bytes)
{
	uint32_t t;
	for (int i = 0; i < rounds; i++) {
		tq_sched_push(&S, who, cls, who);
		cr_assert_eq(tq_sched_pop(&S, &t), who);
		tq_sched_charge(&S, who, cls, bytes, 1);
	}
}

Test(tenant_sched, weights_share_bytes)
{
	uint64_t a, b;
	weighted_run(3, 1, 1460, 1460, &a, &b);
	cr_assert_float_eq((double)a / (double)b, 3.0, 0.01, "%lu:%lu", (unsigned long)a,
			   (unsigned long)b);
}

Test(tenant_sched, weights_hold_with_unequal_services)
{
	/* one tenant sends 64 kB a turn, the other 1460 B: bytes, not
	 * turns, are shared */
	uint64_t a, b;
	weighted_run(1, 1, 65536, 1460, &a, &b);
	cr_assert_float_eq((double)a / (double)b, 1.0, 0.02, "%lu:%lu", (unsigned long)a,
			   (unsigned long)b);
}

Test(tenant_sched, idle_earns_no_credit)
{
	/* tenant 1 alone for a long time, then tenant 2 joins */
	alone(1, 1, 1000, 1460);
	tq_sched_push(&S, 1, 1, 1);
	tq_sched_push(&S, 2, 1, 2);
	int n2 = turns_of(2, 1, 100);
	/* equal weights: the rejoin credit (16 KiB, 11 segments) first, then
	 * half each (44 of the other 89); not 100 turns for the newcomer */
	cr_assert(n2 >= 53 && n2 <= 57, "newcomer got %d of 100", n2);
}

Test(tenant_sched, a_class_change_starts_at_the_new_class_clock)
{
	/* tenant 3 sends alone in bulk for a long time: its clock runs far
	 * ahead of the latency class's, which tenants 1 and 2 share */
	alone(3, 2, 1000, 65536);
	tq_sched_push(&S, 1, 0, 1);
	tq_sched_push(&S, 2, 0, 2);
	turns_of(1, 0, 100);
	/* its policy moves it to latency (a live change, or a new tenant on
	 * its freed id): it competes from the latency clock, not its bulk one */
	tq_sched_push(&S, 3, 0, 3);
	int n3 = turns_of(3, 0, 300);
	/* a third of the turns, give or take the rejoin credit */
	cr_assert(n3 >= 95 && n3 <= 115, "tenant 3 got %d of 300 turns", n3);
}

Test(tenant_sched, sending_alone_builds_no_lead)
{
	/* tenant 1 sends for a long time without ever waiting (the port had
	 * room): those bytes count, but nobody else competed for them */
	for (int i = 0; i < 10000; i++)
		tq_sched_charge(&S, 1, 1, 65536, 1);
	/* now the port is short and tenant 2 waits beside it */
	tq_sched_push(&S, 1, 1, 1);
	tq_sched_push(&S, 2, 1, 2);
	int n1 = turns_of(1, 1, 100);
	/* half each after the newcomer's rejoin credit (11 segments) and
	 * tenant 1's last 64 KiB send (45): not a turn in 100 for tenant 1
	 * until tenant 2 had sent 640 MB */
	cr_assert(n1 >= 18 && n1 <= 24, "tenant 1 got %d of 100 turns", n1);
}

Test(tenant_sched, virtual_time_wraps)
{
	/* the class clock near 2^64: a tenant past the wrap is ahead of one
	 * just before it, not behind */
	S.vclock[1] = UINT64_MAX - 4 * 1460 * TQ_VSCALE;
	tq_sched_push(&S, 1, 1, 1);
	tq_sched_push(&S, 2, 1, 2);
	int n1 = turns_of(1, 1, 100);
	cr_assert(n1 == 50, "tenant 1 got %d of 100 turns across the wrap", n1);
}

Test(tenant_sched, a_clock_that_ran_on_for_weeks_is_forgotten)
{
	/* tenant 1 served last when the class clock was 0; weeks of traffic
	 * later the clock is more than half the wrap further on, where its
	 * old time reads as far ahead */
	alone(1, 1, 1, 1460);
	S.vclock[1] = (1ull << 63) + (1ull << 40);
	tq_sched_push(&S, 1, 1, 1);
	tq_sched_push(&S, 2, 1, 2);
	int n1 = turns_of(1, 1, 100);
	cr_assert(n1 >= 45 && n1 <= 55, "tenant 1 got %d of 100 turns", n1);
}

Test(tenant_sched, remove_anywhere)
{
	uint32_t t;
	tq_sched_push(&S, 5, 1, 1);
	tq_sched_push(&S, 5, 1, 2);
	tq_sched_push(&S, 5, 1, 3);
	tq_sched_push(&S, 6, 2, 4);
	cr_assert(tq_sched_remove(&S, 5, 2));
	cr_assert_not(tq_sched_remove(&S, 5, 2), "already gone");
	cr_assert(tq_sched_remove(&S, 5, 3)); /* the tail */
	tq_sched_push(&S, 5, 1, 7);           /* appends after 1 */
	cr_assert(tq_sched_remove(&S, 6, 4)); /* the last of its tenant */
	cr_assert_eq(S.nactive[2], 0);
	cr_assert_eq(tq_sched_pop(&S, &t), 1);
	cr_assert_eq(tq_sched_pop(&S, &t), 7);
	cr_assert_eq(tq_sched_pop(&S, &t), TQ_NONE);
	cr_assert_eq(S.nwait, 0);
}
