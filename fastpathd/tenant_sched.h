/* SPDX-License-Identifier: MIT */
/*
 * tenant_sched.h - the pure parts of per-tenant QoS (fastpathd/NOTES.md,
 * "Tenants"): a token bucket every core shares through one atomic word,
 * and a per-core scheduler that decides which waiting flow the port
 * serves next (priority class first, then weighted fair shares of bytes).
 * Nothing here knows about DPDK or fp_flow, so unit tests drive it with
 * made-up clocks.
 */
#ifndef FP_TENANT_SCHED_H
#define FP_TENANT_SCHED_H

#include <stdbool.h>
#include <stdint.h>

/* ------------------------------------------------------- token bucket */

/*
 * The bucket is one word, its "theoretical arrival time" (GCRA): the tsc
 * at which it would be full again.  Tokens at @now are depth - (tat - now)
 * cycles' worth; a send is allowed while any are left (it may overdraw by
 * its own size) and pushes tat by its cost.  One CAS per send, so the
 * cores sharing a tenant never lock, and refill is implicit in time.
 */

/** tq_cost - cycles of rate that @bytes take: bytes * 8 * hz / bps. */
static inline uint64_t tq_cost(uint64_t bytes, uint64_t rate_bps, uint64_t hz)
{
	return (uint64_t)((unsigned __int128)bytes * 8 * hz / rate_bps);
}

/**
 * tq_depth - the bucket's depth in cycles for @burst_bytes at @rate_bps;
 * 0 bytes means the default, max(64 KiB, 2 ms at the rate).
 */
uint64_t tq_depth(uint64_t burst_bytes, uint64_t rate_bps, uint64_t hz);

/**
 * tq_take - take @cost cycles from the bucket at @tat if it has tokens.
 * Return: 0 if taken, else the tsc (> @now) from which a retry succeeds.
 * Lock-free: safe from every core at once.
 */
uint64_t tq_take(uint64_t *tat, uint64_t now, uint64_t cost, uint64_t depth);


/**
 * tq_forgive - the bucket at @tat owes at most @owed cycles from @now on:
 * a policy change cuts a debt run up at the old rate to a little of the
 * new one (a raised rate must not wait out minutes of the old), a new
 * tenant on a reused id owes nothing.  Lock-free, like tq_take().
 */
void tq_forgive(uint64_t *tat, uint64_t now, uint64_t owed);

/** tq_refund - give back @cost a tq_take() took for a send that did not happen. */
void tq_refund(uint64_t *tat, uint64_t cost);

/**
 * tq_rx_window - receive window for an ingress limit: the bytes @rate_bps
 * delivers in one round trip @srtt_us, at least 2 * @mss.  Without an RTT
 * sample (a pure receiver never times its own data) 1 ms is assumed.
 */
uint64_t tq_rx_window(uint64_t rate_bps, uint32_t srtt_us, uint32_t mss);

/* ---------------------------------------------------------- scheduler */

#define TQ_NONE UINT32_MAX
#define TQ_CLASSES 3        /* enum dp_prio: latency, normal, bulk */
#define TQ_VSCALE 1024      /* virtual time per byte at weight 1 */
#define TQ_REJOIN_CREDIT (16384ull * TQ_VSCALE) /* how far behind the class a tenant may rejoin */
#define TQ_MAX_LEAD (1ull << 40) /* how far ahead (1 GiB at weight 1): beyond, a stale clock */

struct tq_tenant {
	uint64_t vtime;         /* bytes served / weight (scaled): its fair-share clock */
	uint32_t head, tail;    /* FIFO of waiting flows, linked through next[] */
	uint32_t nwait;
	uint32_t apos;          /* index in active[cls], TQ_NONE if no flow waits */
	uint8_t cls;            /* class it waits in (taken when it becomes active) */
};

/**
 * struct tq_sched - one core's flows waiting for the port, by tenant.
 * A tenant with waiting flows is active in its class; the port serves the
 * first non-empty class, and in it the tenant whose virtual time (bytes
 * served divided by weight) is lowest (start-time fair queuing), its
 * flows in FIFO order.  A tenant that becomes active starts no earlier
 * than the class's clock less TQ_REJOIN_CREDIT (16 KiB at weight 1), so
 * idling earns no more credit than that; one that changed class starts
 * exactly there.  Virtual times are compared modulo 2^64.
 */
struct tq_sched {
	struct tq_tenant *t;    /* [ntenants] */
	uint32_t *next;         /* [nflows]: FIFO links */
	uint32_t *active[TQ_CLASSES]; /* [ntenants] each */
	uint32_t nactive[TQ_CLASSES];
	uint64_t vclock[TQ_CLASSES];  /* vtime of the tenant served last */
	uint32_t ntenants, nflows;
	uint32_t nwait;         /* flows waiting, all tenants */
};

int tq_sched_init(struct tq_sched *s, uint32_t ntenants, uint32_t nflows);
void tq_sched_fini(struct tq_sched *s);

/** tq_sched_push - @flow of @tenant waits (at the end of its tenant's FIFO). */
void tq_sched_push(struct tq_sched *s, uint32_t tenant, uint8_t cls, uint32_t flow);

/**
 * tq_sched_pop - the flow the port serves next, taken off the scheduler.
 * Return: its id (and *@tenant), or TQ_NONE if nothing waits.
 */
uint32_t tq_sched_pop(struct tq_sched *s, uint32_t *tenant);

/**
 * tq_sched_charge - @tenant, of class @cls, sent @bytes: advance its clock
 * by bytes / @weight.  A send that did not wait for the scheduler counts
 * too, and moves the class's clock along when nobody of the class waits.
 */
void tq_sched_charge(struct tq_sched *s, uint32_t tenant, uint8_t cls, uint64_t bytes,
		     uint32_t weight);

/** tq_sched_remove - take @flow (waiting for @tenant) off, wherever it is. */
bool tq_sched_remove(struct tq_sched *s, uint32_t tenant, uint32_t flow);

#endif
