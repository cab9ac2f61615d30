// SPDX-License-Identifier: MIT
/*
 * cores.c - how many fastpath cores are active and which steering buckets
 * each owns: the load monitor (as TAS: a smoothed busy fraction with
 * hysteresis), operator overrides (bypassctl cores), and the bucket moves
 * that follow (fastpathd/fp_steer.c carries them out).
 *
 * Only this file decides where buckets go; it asks the owning core to
 * hand a bucket over (DPM_BUCKET_OUT) and learns of the result from
 * DPM_BUCKET_MOVED.  One rebalance at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <rte_cycles.h>

#include "sp_internal.h"

#define SAMPLE_S 0.1
#define UP_LOAD 0.75        /* mean busy fraction of the active cores that adds one */
#define UP_SAMPLES 3
#define DOWN_SAMPLES 20     /* 2 s: removing a core costs a move, be sure */
#define MOVE_TIMEOUT_MS 2000

static uint32_t quota(uint32_t active, uint32_t core)
{
	return DP_STEER_BUCKETS / active + (core < DP_STEER_BUCKETS % active ? 1 : 0);
}

/*
 * Give the buckets to cores 0..active-1, evenly, moving as few as
 * possible: those of removed cores and those above an active core's share
 * go to the cores below theirs.
 */
static void rebalance(struct sp *sp, uint32_t active)
{
	struct dataplane *dp = sp->dp;
	struct sp_cores *sc = &sp->cores;
	uint32_t count[DP_MAX_CORES] = { 0 };
	uint16_t excess[DP_STEER_BUCKETS];
	uint32_t nexcess = 0;

	sc->active = active;
	for (uint32_t b = 0; b < DP_STEER_BUCKETS; b++) {
		uint32_t c = sc->owner[b];
		if (c >= active || count[c] >= quota(active, c))
			excess[nexcess++] = (uint16_t)b;
		else
			count[c]++;
	}
	uint32_t to = 0;
	for (uint32_t i = 0; i < nexcess; i++) {
		while (count[to] >= quota(active, to))
			to++;
		count[to]++;
		uint16_t b = excess[i];
		if (sp_fp_bucket_out(sp, b, sc->owner[b], to) == 0)
			sc->moving++;
	}
	if (sc->moving)
		sc->move_deadline = sp->now + sp_ms_to_tsc(sp, MOVE_TIMEOUT_MS);
	if (dp->cfg.verbose)
		fprintf(stderr, "fastpathd: %u active fastpath core(s), moving %u bucket(s)\n",
			active, sc->moving);
}

/**
 * sp_cores_init - the starting table: every core active, or with [fastpath]
 * scale only min_cores.  Runs before the fastpath cores start.
 */
void sp_cores_init(struct sp *sp)
{
	struct dataplane *dp = sp->dp;
	struct sp_cores *sc = &sp->cores;
	uint32_t active = dp->cfg.fp_scale ? dp->cfg.fp_min_cores : dp->ncores;

	if (active > dp->ncores || !active)
		active = dp->ncores;
	sc->active = active;
	sc->automatic = dp->cfg.fp_scale;
	sp_fp_steer_init(sp, active);
	for (uint32_t b = 0; b < DP_STEER_BUCKETS; b++)
		sc->owner[b] = (uint8_t)(b % active);
}

/* a bucket arrived (or a stale request was refused): @core owns it now */
void sp_cores_moved(struct sp *sp, uint16_t bucket, uint32_t core)
{
	struct sp_cores *sc = &sp->cores;
	if (bucket >= DP_STEER_BUCKETS || core >= sp->dp->ncores)
		return;
	sc->owner[bucket] = (uint8_t)core;
	if (sc->moving)
		sc->moving--;
}

static void sample(struct sp *sp)
{
	struct dataplane *dp = sp->dp;
	struct sp_cores *sc = &sp->cores;
	for (uint32_t k = 0; k < dp->ncores; k++) {
		uint64_t busy, idle;
		sp_fp_core_load(sp, k, &busy, &idle);
		uint64_t db = busy - sc->last_busy[k], di = idle - sc->last_idle[k];
		sc->last_busy[k] = busy;
		sc->last_idle[k] = idle;
		double f = db + di ? (double)db / (double)(db + di) : 0.0;

		if (f > 1.0) /* a wrapped sum; the fastpath skips a TSC step back */
			f = 1.0;
		sc->load[k] = 0.5 * sc->load[k] + 0.5 * f;
		sp_fp_core_set_busy_pct(sp, k, (uint32_t)(sc->load[k] * 100.0 + 0.5));
	}
}

/**
 * sp_cores_tick - sample the cores' load every SAMPLE_S and, in automatic
 * mode, add a core when the active ones are busy and remove one when the
 * others could carry its load, with hysteresis either way.
 */
void sp_cores_tick(struct sp *sp)
{
	struct dataplane *dp = sp->dp;
	struct sp_cores *sc = &sp->cores;
	if (dp->ncores < 2 || sp->now < sc->next_sample)
		return;
	sc->next_sample = sp->now + (uint64_t)(SAMPLE_S * (double)dp->tsc_hz);
	sample(sp);
	if (sc->moving) {
		if (sp->now > sc->move_deadline) {
			/* an answer got lost (a full ring): believe the table */
			for (uint32_t b = 0; b < DP_STEER_BUCKETS; b++)
				sc->owner[b] = (uint8_t)sp_fp_steer(sp, (uint16_t)b);
			sc->moving = 0;
		}
		return;
	}
	if (sc->pending_active) { /* an operator's request waited for a move */
		uint32_t n = sc->pending_active;
		sc->pending_active = 0;
		rebalance(sp, n);
		return;
	}
	if (!sc->automatic)
		return;
	double sum = 0;
	for (uint32_t k = 0; k < sc->active; k++)
		sum += sc->load[k];
	if (sc->active < dp->ncores && sum / sc->active > UP_LOAD) {
		sc->down_streak = 0;
		if (++sc->up_streak >= UP_SAMPLES) {
			sc->up_streak = 0;
			rebalance(sp, sc->active + 1);
		}
	} else if (sc->active > dp->cfg.fp_min_cores && sum < UP_LOAD * 0.5 * (sc->active - 1)) {
		sc->up_streak = 0;
		if (++sc->down_streak >= DOWN_SAMPLES) {
			sc->down_streak = 0;
			rebalance(sp, sc->active - 1);
		}
	} else {
		sc->up_streak = sc->down_streak = 0;
	}
}

/**
 * sp_cores_set - the operator sets the active core count (manual mode), or
 * with @automatic hands the decision to the load monitor (even when the
 * daemon started without [fastpath] scale).
 * Return: 0, or -EINVAL for a count outside 1..cores.
 */
int sp_cores_set(struct sp *sp, uint32_t active, bool automatic)
{
	struct dataplane *dp = sp->dp;
	struct sp_cores *sc = &sp->cores;
	if (automatic) {
		sc->automatic = true;
		sc->up_streak = sc->down_streak = 0;
		return 0;
	}
	if (active < 1 || active > dp->ncores)
		return -EINVAL;
	sc->automatic = false;
	if (sc->moving)
		sc->pending_active = active; /* after the move in flight */
	else if (active != sc->active)
		rebalance(sp, active);
	return 0;
}

/**
 * sp_cores_pick - the core a new active open should land on: the active
 * core with the fewest flows (the source port is then chosen so that the
 * flow's bucket is that core's, as Machnet does).
 */
uint32_t sp_cores_pick(struct sp *sp)
{
	struct sp_cores *sc = &sp->cores;
	uint32_t best = sc->rr++ % sc->active, best_n = UINT32_MAX;
	for (uint32_t i = 0; i < sc->active; i++) {
		uint32_t k = (best + i) % sc->active;
		uint32_t n = sp_fp_core_stat(sp, k).flows;
		if (n < best_n) {
			best_n = n;
			best = k;
		}
	}
	return best;
}

/** sp_cores_owner - the core that owns (or is receiving) @bucket. */
uint32_t sp_cores_owner(struct sp *sp, uint16_t bucket)
{
	return sp->cores.owner[bucket % DP_STEER_BUCKETS];
}
