// SPDX-License-Identifier: MIT
/*
 * fp_qos.c - per-tenant rate, class and weight on one fastpath core
 * (fastpathd/NOTES.md, "Tenants").
 *
 * A data segment leaves only with tokens from its tenant's bucket (shared
 * by every core, tenant_sched.c) and, with [fastpath] tx_rate_mbit, from
 * the port's.  Out of tenant tokens, the flow sleeps on the pacing list
 * until they come back; out of port tokens, or with the tx backlog high,
 * it waits in this core's scheduler, which hands the port to the waiting
 * flows latency class first, then normal, then bulk, and within a class
 * by weighted fair shares of bytes.
 */
#include <rte_branch_prediction.h>
#include <rte_debug.h>

#include "fastpath.h"

static inline uint8_t flow_prio(struct fp_ctx *fp, const struct fp_flow *f)
{
	uint8_t p = __atomic_load_n(&fp->dp->tenants[f->tenant].policy.prio, __ATOMIC_RELAXED);
	return p < DP_PRIO_MAX ? p : DP_PRIO_BULK;
}

int fp_qos_init(struct fp_ctx *fp)
{
	struct dataplane *dp = fp->dp;
	fp->serving = TQ_NONE;
	fp->port_rate = (uint64_t)dp->cfg.tx_rate_mbit * 1000000;
	if (fp->port_rate)
		fp->port_depth = tq_depth(0, fp->port_rate, dp->tsc_hz);
	fp->tenants_gen = UINT32_MAX;
	return tq_sched_init(&fp->sched, DP_MAX_TENANTS, dp->cfg.max_flows);
}

void fp_qos_fini(struct fp_ctx *fp)
{
	tq_sched_fini(&fp->sched);
}

/**
 * fp_qos_refresh - the slowpath changed a policy (dp->tenants_gen moved):
 * is any tenant outside the normal class now?  Only then does a round
 * order its flows by class.  Flows parked for their tenant's tokens try
 * again at once: a raised rate may have made their wait (worked out at
 * the old rate, possibly seconds) far too long.  One that also paces
 * itself may so send a segment early, once per policy change.
 */
void fp_qos_refresh(struct fp_ctx *fp)
{
	struct dataplane *dp = fp->dp;
	fp->tenants_gen = __atomic_load_n(&dp->tenants_gen, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < fp->npaced; i++) {
		struct fp_flow *f = &dp->flows[fp->paced[i]];
		if (f->flags & FPF_TENANT_WAIT)
			f->pace_next_tsc = fp->now;
	}
	bool classes = false;
	for (uint32_t i = 0; i < DP_MAX_TENANTS && !classes; i++)
		classes = __atomic_load_n(&dp->tenants[i].in_use, __ATOMIC_RELAXED) &&
			  __atomic_load_n(&dp->tenants[i].policy.prio, __ATOMIC_RELAXED) !=
				  DP_PRIO_NORMAL;
	fp->qos_classes = classes;
}

/**
 * fp_qos_must_queue - must @f wait behind the flows already waiting for
 * the port?  Not the flow being served, and not a flow of a better class
 * than every waiting one: a latency flow overtakes waiting bulk flows.
 */
bool fp_qos_must_queue(struct fp_ctx *fp, const struct fp_flow *f)
{
	if (f->flow_id == fp->serving)
		return false;
	uint8_t cls = flow_prio(fp, f);
	for (unsigned c = 0; c <= cls; c++)
		if (fp->sched.nactive[c])
			return true;
	return false;
}

/** fp_qos_enqueue - @f waits for the port, in its tenant's queue. */
void fp_qos_enqueue(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & FPF_TX_BLOCKED)
		return;
#ifndef NDEBUG
	/* the slowpath copies a valid id before FLOW_ADD; one flow, one entry */
	if (f->tenant >= DP_MAX_TENANTS)
		rte_panic("flow %u: tenant %u out of range\n", f->flow_id, f->tenant);
#endif
	f->flags |= FPF_TX_BLOCKED;
	tq_sched_push(&fp->sched, f->tenant, flow_prio(fp, f), f->flow_id);
	fp_tenant_row(fp, f)->throttled++;
}

bool fp_qos_admit_slow(struct fp_ctx *fp, struct fp_flow *f, uint64_t len)
{
	struct dataplane *dp = fp->dp;
	struct dp_tenant *t = &dp->tenants[f->tenant];
	uint64_t rate = __atomic_load_n(&t->policy.rate_bps, __ATOMIC_RELAXED);
	uint64_t cost = 0;

	if (rate) {
		uint64_t burst = __atomic_load_n(&t->policy.burst_bytes, __ATOMIC_RELAXED);
		uint64_t depth = tq_depth(burst, rate, dp->tsc_hz);
		cost = tq_cost(len, rate, dp->tsc_hz);
		uint64_t due = tq_take(&t->tx_tat, fp->now, cost, depth);
		if (due) {
			/* come back when a few segments' worth is there: one
			 * wakeup per segment would cost more than it sends */
			uint64_t batch = tq_cost(8ull * f->mss, rate, dp->tsc_hz);
			due += batch < depth / 4 ? batch : depth / 4;
			if (due > f->pace_next_tsc)
				f->pace_next_tsc = due;
			f->flags |= FPF_TENANT_WAIT;
			fp_pace_later(fp, f);
			t->core[fp->core].throttled++;
			return false;
		}
	}
	if (fp->port_rate) {
		uint64_t due = tq_take(&dp->port_tat, fp->now, tq_cost(len, fp->port_rate, dp->tsc_hz),
				       fp->port_depth);
		if (due) {
			if (cost)
				tq_refund(&t->tx_tat, cost);
			fp->sched_due = due;
			fp_qos_enqueue(fp, f);
			return false;
		}
		/* every byte through the port counts against the tenant's
		 * share, also one sent while nobody waited: a tenant that
		 * often finds the queue empty must not get those for free */
		tq_sched_charge(&fp->sched, f->tenant, flow_prio(fp, f), len,
				__atomic_load_n(&t->policy.weight, __ATOMIC_RELAXED));
	}
	return true;
}

/* the port's bucket is empty: when will it have tokens (0 = now) */
static uint64_t port_due(struct fp_ctx *fp)
{
	if (!fp->port_rate)
		return 0;
	uint64_t tat = __atomic_load_n(&fp->dp->port_tat, __ATOMIC_RELAXED);
	if (tat <= fp->now || tat - fp->now < fp->port_depth)
		return 0;
	return tat - fp->port_depth + 1;
}

/**
 * fp_qos_run - give the port to waiting flows while it takes them: the
 * best class first, the tenant furthest behind its weighted share next,
 * its flows in arrival order.  Each flow sends what its windows allow
 * (and waits again, at the end of its tenant's queue, if the port stops
 * it); the bytes it sent advance its tenant's clock.
 * Return: flows served (work for the loop).
 */
unsigned fp_qos_run(struct fp_ctx *fp)
{
	struct dataplane *dp = fp->dp;
	unsigned served = 0;

	fp->sched_due = 0;
	while (fp->sched.nwait && fp->bl_bufs < FP_TX_BACKLOG_HIGH && served < 256) {
		uint64_t due = port_due(fp);
		if (due) {
			fp->sched_due = due;
			break;
		}
		uint32_t tenant;
		uint32_t id = tq_sched_pop(&fp->sched, &tenant);
		struct fp_flow *f = &dp->flows[id];
#ifndef NDEBUG
		if (!(f->flags & FPF_TX_BLOCKED) || f->tenant != tenant)
			rte_panic("flow %u left in the port scheduler (flags %#x, tenant %u/%u)\n",
				  id, f->flags, f->tenant, tenant);
#endif
		f->flags &= ~FPF_TX_BLOCKED;
		if (!(f->flags & FPF_ACTIVE) || !fp_owns(fp, f))
			continue;
		struct dp_tenant_core *row = fp_tenant_row(fp, f);
		uint64_t before = row->tx_bytes;
		fp->serving = id;
		tcp_output(fp, f);
		fp->serving = TQ_NONE;
		/* with a port rate, fp_qos_admit_slow() charged every byte */
		uint32_t w = __atomic_load_n(&dp->tenants[tenant].policy.weight, __ATOMIC_RELAXED);
		if (!fp->port_rate)
			tq_sched_charge(&fp->sched, tenant, flow_prio(fp, f), row->tx_bytes - before,
					w);
		served++;
	}
	return served;
}

/**
 * fp_qos_run_touched - the round's flows, latency class first, then
 * normal, then bulk; each class in touch order.  A flow touched again
 * while this runs is picked up by the pass of its class or the last one.
 */
void fp_qos_run_touched(struct fp_ctx *fp)
{
	for (uint8_t cls = DP_PRIO_LATENCY; cls < DP_PRIO_BULK; cls++)
		for (uint32_t i = 0; i < fp->ntouched; i++) {
			struct fp_flow *f = &fp->dp->flows[fp->touched[i]];
			if ((f->pend & FPP_TOUCHED) && flow_prio(fp, f) == cls)
				fp_run_flow(fp, f);
		}
	for (uint32_t i = 0; i < fp->ntouched; i++) {
		struct fp_flow *f = &fp->dp->flows[fp->touched[i]];
		if (f->pend & FPP_TOUCHED)
			fp_run_flow(fp, f);
	}
	fp->ntouched = 0;
}

/**
 * fp_qos_rx_cap - the receive window @f may advertise under its tenant's
 * ingress limit (@free without one): what the limit delivers in a round
 * trip, at least two segments, never below what was advertised already
 * (a window never shrinks, RFC 9293 3.8.6).
 */
uint64_t fp_qos_rx_cap(struct fp_ctx *fp, const struct fp_flow *f, uint64_t free)
{
	uint64_t rate = __atomic_load_n(&fp->dp->tenants[f->tenant].policy.rx_rate_bps,
					__ATOMIC_RELAXED);
	if (!rate)
		return free;
	uint32_t srtt = __atomic_load_n(&f->srtt_us, __ATOMIC_RELAXED);
	uint64_t cap = tq_rx_window(rate, srtt, f->mss);
	if (f->rx_adv_edge > f->rx_pos && cap < f->rx_adv_edge - f->rx_pos)
		cap = f->rx_adv_edge - f->rx_pos;
	return cap < free ? cap : free;
}
