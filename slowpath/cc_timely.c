// SPDX-License-Identifier: MIT
/*
 * cc_timely.c - TIMELY (Mittal et al., "TIMELY: RTT-based Congestion
 * Control for the Datacenter", SIGCOMM 2015): rate control from RTT alone.
 *
 * In a datacenter the RTT above its minimum is queueing delay, and its
 * rate of change tells whether queues are building before they are long.
 * Once per round trip the rate is adjusted from the latest RTT sample:
 *
 *   rtt < T_low            additive increase by delta: the queue is short,
 *                          whatever its trend;
 *   rtt > T_high           multiplicative decrease by beta * (1 - T_high/rtt):
 *                          the queue is too long, whatever its trend;
 *   (both thresholds count from the flow's minimum RTT, so they bound the
 *   queueing delay even where the base RTT alone exceeds T_high);
 *   in between             follow the gradient, an EWMA of successive RTT
 *                          differences divided by the minimum RTT:
 *                          gradient <= 0 adds delta (5 * delta once the
 *                          gradient has been non-positive for
 *                          TIMELY_HAI_ROUNDS updates in a row: hyperactive
 *                          increase, to reclaim bandwidth quickly after
 *                          others leave), gradient > 0 multiplies the rate
 *                          by 1 - beta * gradient.
 *
 * The rate is published in rate_bps for the fastpath's pacer.  The window
 * is set to rate * RTT plus 25 % and two segments, so it never binds
 * before the pacer does but still bounds what one flow can put in flight
 * if samples stop.
 *
 * Defaults (datacenter, 10-100 Gb/s, base RTTs of tens of microseconds):
 *   T_low 50 us, T_high 500 us, delta 10 Mb/s, beta 0.8, EWMA weight of the
 *   newest RTT difference 1/4, hyperactive increase after 5 updates,
 *   rate between 10 Mb/s and 100 Gb/s, initial rate the initial window
 *   per T_low (10 x 1448 B: 2.3 Gb/s).  Min RTT is the smallest sample the
 *   flow has seen (never expires: a route change to a longer path reads as
 *   queueing until the flow is reopened).
 *
 * Samples: the fastpath times one segment per round trip and reports the
 * latest; a call without a fresh sample cannot be told apart from one with
 * the same value, so the rate moves at most once per smoothed RTT (and,
 * the slowpath ticking every 1 ms, at most once per tick).
 */
#include <string.h>

#include "cc.h"

#define TIMELY_T_LOW_US    50
#define TIMELY_T_HIGH_US   500
#define TIMELY_DELTA_BPS   10000000ull      /* additive step: 10 Mb/s */
#define TIMELY_BETA_FP     52429u           /* 0.8 << 16 */
#define TIMELY_EWMA_DIV    4                /* newest difference weighs 1/4 */
#define TIMELY_HAI_ROUNDS  5
#define TIMELY_HAI_MULT    5
#define TIMELY_MIN_RATE    10000000ull      /* 10 Mb/s */
#define TIMELY_MAX_RATE    100000000000ull  /* 100 Gb/s */
#define TIMELY_FP_SHIFT    16               /* fractions are << 16 */
#define TIMELY_ONE         (1u << TIMELY_FP_SHIFT)
#define TIMELY_DIFF_SHIFT  10               /* rtt_diff is us << 10 */

static uint64_t clamp_rate(uint64_t r)
{
	if (r < TIMELY_MIN_RATE)
		return TIMELY_MIN_RATE;
	if (r > TIMELY_MAX_RATE)
		return TIMELY_MAX_RATE;
	return r;
}

/* rate * rtt with headroom: the pacer, not the window, must bind */
static void timely_set_cwnd(struct cc_state *s, uint32_t rtt_us)
{
	/* bytes per ms first: no overflow even at 100 Gb/s and a 4 s RTT */
	uint64_t bdp = s->rate_bps / 8000 * rtt_us / 1000;
	uint64_t cwnd = bdp + bdp / 4 + 2 * (uint64_t)s->mss;

	if (cwnd > CC_MAX_CWND)
		cwnd = CC_MAX_CWND;
	s->cwnd = (uint32_t)cwnd;
}

static void timely_init(struct cc_state *s, uint32_t mss, uint32_t init_segs)
{
	s->mss = mss;
	s->cwnd = mss * init_segs;
	s->ssthresh = UINT32_MAX;
	s->aux = 0;
	/* the initial window per T_low: what a short-RTT path would carry */
	s->rate_bps = clamp_rate((uint64_t)s->cwnd * 8 * 1000000 / TIMELY_T_LOW_US);
	memset(&s->u.timely, 0, sizeof(s->u.timely));
}

/* rate *= 1 - @frac (a fraction << 16, at most 1) */
static void timely_decrease(struct cc_state *s, uint64_t frac)
{
	if (frac > TIMELY_ONE)
		frac = TIMELY_ONE;
	s->rate_bps = clamp_rate(s->rate_bps * (TIMELY_ONE - frac) >> TIMELY_FP_SHIFT);
}

static void timely_on_ack(struct cc_state *s, const struct cc_ack_sample *a)
{
	struct cc_timely_priv *p = &s->u.timely;
	uint32_t rtt = a->rtt_us;

	if (!rtt)
		return; /* nothing measured yet: the initial window holds */
	if (!p->min_rtt_us || rtt < p->min_rtt_us)
		p->min_rtt_us = rtt;

	uint32_t period = a->srtt_us ? a->srtt_us : rtt;
	uint32_t wnd_rtt = a->srtt_us > rtt ? a->srtt_us : rtt;

	if (p->last_update_us && a->now_us - p->last_update_us < period) {
		timely_set_cwnd(s, wnd_rtt);
		return;
	}
	p->last_update_us = a->now_us ? a->now_us : 1;

	/* gradient: EWMA of successive differences, per unit of min RTT */
	int64_t diff = p->prev_rtt_us ?
		       ((int64_t)rtt - (int64_t)p->prev_rtt_us) * (1 << TIMELY_DIFF_SHIFT) : 0;
	p->rtt_diff += (diff - p->rtt_diff) / TIMELY_EWMA_DIV;
	p->prev_rtt_us = rtt;
	int64_t gradient = p->rtt_diff * (1 << (TIMELY_FP_SHIFT - TIMELY_DIFF_SHIFT)) /
			   (int64_t)p->min_rtt_us;

	/* thresholds on queueing delay above the path's own RTT, so a path
	 * whose base RTT already exceeds T_high (a software switch, a VM)
	 * is not read as permanently congested */
	uint32_t t_low = p->min_rtt_us + TIMELY_T_LOW_US;
	uint32_t t_high = p->min_rtt_us + TIMELY_T_HIGH_US;
	if (rtt < t_low) {
		s->rate_bps = clamp_rate(s->rate_bps + TIMELY_DELTA_BPS);
	} else if (rtt > t_high) {
		uint64_t over = ((uint64_t)(rtt - t_high) << TIMELY_FP_SHIFT) / rtt;

		p->neg_count = 0;
		timely_decrease(s, over * TIMELY_BETA_FP >> TIMELY_FP_SHIFT);
	} else if (gradient <= 0) {
		uint64_t n = ++p->neg_count >= TIMELY_HAI_ROUNDS ? TIMELY_HAI_MULT : 1;

		s->rate_bps = clamp_rate(s->rate_bps + n * TIMELY_DELTA_BPS);
	} else {
		p->neg_count = 0;
		/* a gradient above 1 (RTT growing by more than min RTT per
		 * RTT) cuts by beta at most, never to zero */
		uint64_t g = (uint64_t)gradient > TIMELY_ONE ? TIMELY_ONE : (uint64_t)gradient;

		timely_decrease(s, g * TIMELY_BETA_FP >> TIMELY_FP_SHIFT);
	}
	timely_set_cwnd(s, wnd_rtt);
}

/* losses are rare in the regime TIMELY is for; treat one like Reno would */
static void timely_on_fast_retx(struct cc_state *s, uint64_t inflight, uint64_t now_us)
{
	struct cc_timely_priv *p = &s->u.timely;

	timely_decrease(s, TIMELY_ONE / 2);
	p->neg_count = 0;
	p->last_update_us = now_us ? now_us : 1;
	if (p->prev_rtt_us)
		timely_set_cwnd(s, p->prev_rtt_us);
}

static void timely_on_timeout(struct cc_state *s, uint64_t inflight, uint64_t now_us)
{
	struct cc_timely_priv *p = &s->u.timely;

	timely_decrease(s, TIMELY_ONE / 2);
	p->neg_count = 0;
	p->last_update_us = now_us ? now_us : 1;
	/* go-back-N restarts from one segment; the next ACK restores the
	 * rate-derived window */
	s->cwnd = s->mss;
}

const struct cc_ops cc_timely = {
	.name = "timely",
	.init = timely_init,
	.on_ack = timely_on_ack,
	.on_fast_retx = timely_on_fast_retx,
	.on_timeout = timely_on_timeout,
};
