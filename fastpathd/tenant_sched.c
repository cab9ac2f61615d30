// SPDX-License-Identifier: MIT
/*
 * tenant_sched.c - token bucket and port scheduler for per-tenant QoS
 * (see tenant_sched.h; the rules are in fastpathd/NOTES.md, "Tenants").
 */
#include <assert.h>
#include <stdlib.h>

#include "tenant_sched.h"

uint64_t tq_depth(uint64_t burst_bytes, uint64_t rate_bps, uint64_t hz)
{
	if (!burst_bytes) {
		burst_bytes = rate_bps / 8 / 500; /* 2 ms at the rate */
		if (burst_bytes < 64 * 1024)
			burst_bytes = 64 * 1024;
	}
	return tq_cost(burst_bytes, rate_bps, hz);
}

uint64_t tq_take(uint64_t *tat, uint64_t now, uint64_t cost, uint64_t depth)
{
	uint64_t old = __atomic_load_n(tat, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t base = old > now ? old : now;
		/* no tokens left: they come back at tat - depth */
		if (base - now >= depth)
			return base - depth + 1;
		if (__atomic_compare_exchange_n(tat, &old, base + cost, true, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return 0;
	}
}

void tq_forgive(uint64_t *tat, uint64_t now, uint64_t owed)
{
	uint64_t old = __atomic_load_n(tat, __ATOMIC_RELAXED);
	uint64_t cap = now + owed;

	while (old > cap &&
	       !__atomic_compare_exchange_n(tat, &old, cap, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void tq_refund(uint64_t *tat, uint64_t cost)
{
	__atomic_fetch_sub(tat, cost, __ATOMIC_RELAXED);
}

uint64_t tq_rx_window(uint64_t rate_bps, uint32_t srtt_us, uint32_t mss)
{
	uint64_t rtt = srtt_us ? srtt_us : 1000;
	uint64_t w = (uint64_t)((unsigned __int128)rate_bps * rtt / 8 / 1000000);
	return w < 2ull * mss ? 2ull * mss : w;
}

int tq_sched_init(struct tq_sched *s, uint32_t ntenants, uint32_t nflows)
{
	*s = (struct tq_sched){ .ntenants = ntenants, .nflows = nflows };
	s->t = calloc(ntenants, sizeof(*s->t));
	s->next = calloc(nflows, sizeof(*s->next));
	for (unsigned c = 0; c < TQ_CLASSES; c++)
		s->active[c] = calloc(ntenants, sizeof(*s->active[c]));
	if (!s->t || !s->next || !s->active[0] || !s->active[1] || !s->active[2]) {
		tq_sched_fini(s);
		return -1;
	}
	for (uint32_t i = 0; i < ntenants; i++) {
		s->t[i].head = s->t[i].tail = s->t[i].apos = TQ_NONE;
		s->t[i].cls = TQ_CLASSES; /* in no class yet: its first turn starts at the floor */
	}
	return 0;
}

void tq_sched_fini(struct tq_sched *s)
{
	free(s->t);
	free(s->next);
	for (unsigned c = 0; c < TQ_CLASSES; c++)
		free(s->active[c]);
	*s = (struct tq_sched){ 0 };
}

/* virtual times wrap (2^64 / TQ_VSCALE bytes per weight unit, weeks at
 * 100 Gbit/s): compared by their difference, as TCP compares sequences */
static inline bool vt_before(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) < 0;
}

/*
 * @t competes in @cls from now on (a flow of it waits, or it sends while
 * none does): no credit for the time it did not compete beyond
 * TQ_REJOIN_CREDIT (a flow that is window-limited for a round trip leaves
 * and comes back all the time, and must keep the share its weight gives
 * it), and none of a virtual time earned in another class (its policy
 * changed, or a new tenant took the id in another class): there it
 * rejoins as a newcomer.  A new tenant on an id in the same class keeps
 * the last one's place, which is at most a send or two from the clock.
 */
static void compete(struct tq_sched *s, struct tq_tenant *t, uint8_t cls)
{
	uint64_t floor = s->vclock[cls] - TQ_REJOIN_CREDIT;
	int64_t ahead = (int64_t)(t->vtime - floor);

	/* a tenant not waiting leads its class by a send or two at most: a
	 * lead beyond TQ_MAX_LEAD is a clock that ran on while it idled for
	 * weeks, more than half the wrap away (vt_before() would read it
	 * backwards) */
	if (ahead < 0 || ahead > (int64_t)TQ_MAX_LEAD || t->cls != cls)
		t->vtime = floor;
	t->cls = cls;
}

static void deactivate(struct tq_sched *s, uint32_t tenant)
{
	struct tq_tenant *t = &s->t[tenant];
	uint32_t *a = s->active[t->cls];
	uint32_t last = a[--s->nactive[t->cls]];
	a[t->apos] = last;
	s->t[last].apos = t->apos;
	t->apos = TQ_NONE;
}

void tq_sched_push(struct tq_sched *s, uint32_t tenant, uint8_t cls, uint32_t flow)
{
	assert(tenant < s->ntenants && flow < s->nflows);
	struct tq_tenant *t = &s->t[tenant];
	if (cls >= TQ_CLASSES)
		cls = TQ_CLASSES - 1;
	if (t->apos == TQ_NONE) {
		compete(s, t, cls);
		t->apos = s->nactive[cls];
		s->active[cls][s->nactive[cls]++] = tenant;
	}
	s->next[flow] = TQ_NONE;
	if (t->tail == TQ_NONE)
		t->head = flow;
	else
		s->next[t->tail] = flow;
	t->tail = flow;
	t->nwait++;
	s->nwait++;
}

uint32_t tq_sched_pop(struct tq_sched *s, uint32_t *tenant)
{
	for (unsigned c = 0; c < TQ_CLASSES; c++) {
		uint32_t n = s->nactive[c];
		if (!n)
			continue;
		uint32_t best = s->active[c][0];
		for (uint32_t i = 1; i < n; i++) {
			uint32_t id = s->active[c][i];
			if (vt_before(s->t[id].vtime, s->t[best].vtime))
				best = id;
		}
		struct tq_tenant *t = &s->t[best];
		uint32_t flow = t->head;
		t->head = s->next[flow];
		if (t->head == TQ_NONE)
			t->tail = TQ_NONE;
		t->nwait--;
		s->nwait--;
		s->vclock[c] = t->vtime;
		if (!t->nwait)
			deactivate(s, best);
		*tenant = best;
		return flow;
	}
	return TQ_NONE;
}

void tq_sched_charge(struct tq_sched *s, uint32_t tenant, uint8_t cls, uint64_t bytes,
		     uint32_t weight)
{
	struct tq_tenant *t = &s->t[tenant];

	if (cls >= TQ_CLASSES)
		cls = TQ_CLASSES - 1;
	if (t->apos == TQ_NONE) {
		/* sent without waiting: it competes all the same, and when
		 * no tenant of its class waits the class's clock is where
		 * it is, as if the scheduler had picked it.  Else the clock
		 * stood still while it sent alone, and the next tenant to
		 * wait would win every turn until it had sent as much */
		compete(s, t, cls);
		if (!s->nactive[cls] && vt_before(s->vclock[cls], t->vtime))
			s->vclock[cls] = t->vtime;
	}
	t->vtime += bytes * TQ_VSCALE / (weight ? weight : 1);
}

bool tq_sched_remove(struct tq_sched *s, uint32_t tenant, uint32_t flow)
{
	assert(tenant < s->ntenants && flow < s->nflows);
	struct tq_tenant *t = &s->t[tenant];
	uint32_t prev = TQ_NONE;
	for (uint32_t id = t->head; id != TQ_NONE; prev = id, id = s->next[id]) {
		if (id != flow)
			continue;
		if (prev == TQ_NONE)
			t->head = s->next[id];
		else
			s->next[prev] = s->next[id];
		if (t->tail == id)
			t->tail = prev;
		t->nwait--;
		s->nwait--;
		if (!t->nwait)
			deactivate(s, tenant);
		return true;
	}
	return false;
}
