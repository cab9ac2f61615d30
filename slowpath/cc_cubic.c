// SPDX-License-Identifier: MIT
/*
 * cc_cubic.c - CUBIC (RFC 9438) on byte windows.
 *
 * After a reduction the window follows W(t) = C * (t - K)^3 + W_max, with
 * t the time since the congestion-avoidance stage (the "epoch") began and
 * K the time at which the curve returns to W_max: steep growth away from
 * the loss, a plateau around the window that last overflowed the path
 * (concave), then ever faster probing beyond it (convex).  Where standard
 * Reno would be faster (short RTTs, small windows) the window follows a
 * Reno estimate instead, so CUBIC is never less aggressive than Reno.
 *
 * Parameters are the RFC's: C = 0.4 segments/s^3, beta = 0.7, Reno-friendly
 * increase 3 * (1 - beta) / (1 + beta) segments per RTT until the estimate
 * reaches the pre-loss window, then 1.  Fast convergence (W_max shrunk to
 * cwnd * (1 + beta) / 2 when a flow loses before regaining its last peak)
 * releases bandwidth to newer flows sooner.  No HyStart: slow start is
 * RFC 5681's.
 *
 * Curve values are computed in double; the cube root is a local Newton
 * iteration because the project does not link libm.
 */
#include <string.h>

#include "cc.h"

#define CUBIC_C          0.4     /* segments / s^3 */
#define CUBIC_BETA_NUM   7       /* beta = 7/10: window kept after a loss */
#define CUBIC_BETA_DEN   10
#define CUBIC_FC_NUM     17      /* (1 + beta) / 2 = 17/20: fast convergence */
#define CUBIC_FC_DEN     20
/* Reno-friendly slope 3 * (1 - 0.7) / (1 + 0.7) = 9/17 segments per RTT, << 10 */
#define CUBIC_RENO_ALPHA_FP ((9u << 10) / 17)
#define CUBIC_FP_SHIFT   10

/* x^(1/3) for x >= 0 by Newton's method from a power-of-two start */
static double cube_root(double x)
{
	double y = 1.0, s = x;

	if (x <= 0)
		return 0;
	/* bring the start within a factor of 2 so a few steps suffice */
	while (s > 8.0) {
		s /= 8.0;
		y *= 2.0;
	}
	while (s < 0.125) {
		s *= 8.0;
		y /= 2.0;
	}
	for (int i = 0; i < 8; i++)
		y = (2.0 * y + x / (y * y)) / 3.0;
	return y;
}

/* W(t) in bytes for @t_us since the epoch start, clamped to [0, max] */
static double cubic_window(const struct cc_state *s, uint64_t t_us)
{
	const struct cc_cubic_priv *p = &s->u.cubic;
	double d = ((double)t_us - (double)p->k_us) / 1e6;
	double w = (double)p->w_max + CUBIC_C * (double)s->mss * d * d * d;

	if (w < 0)
		return 0;
	if (w > CC_MAX_CWND)
		return CC_MAX_CWND;
	return w;
}

/* the first ACK of an avoidance stage fixes the curve's origin in time */
static void cubic_epoch_start(struct cc_state *s, uint64_t now_us)
{
	struct cc_cubic_priv *p = &s->u.cubic;

	p->epoch_start_us = now_us ? now_us : 1; /* 0 means "not started" */
	if (p->after_timeout || p->w_max <= s->cwnd) {
		/* RFC 9438 4.8 after a timeout, and the no-loss case after
		 * slow start: the curve starts flat at the current window */
		p->w_max = s->cwnd;
		p->k_us = 0;
	} else {
		double segs = (double)(p->w_max - s->cwnd) / s->mss;

		p->k_us = (uint64_t)(cube_root(segs / CUBIC_C) * 1e6);
	}
	p->after_timeout = false;
	p->w_est_fp = (uint64_t)s->cwnd << CUBIC_FP_SHIFT;
	s->aux = 0;
}

static void cubic_init(struct cc_state *s, uint32_t mss, uint32_t init_segs)
{
	s->mss = mss;
	s->cwnd = mss * init_segs;
	s->ssthresh = UINT32_MAX;
	s->rate_bps = 0;
	s->aux = 0;
	memset(&s->u.cubic, 0, sizeof(s->u.cubic));
}

static void cubic_on_ack(struct cc_state *s, const struct cc_ack_sample *a)
{
	struct cc_cubic_priv *p = &s->u.cubic;

	if (a->app_limited) {
		/* the curve is a function of time: a window that was not used
		 * meanwhile starts a new epoch from where it is, rather than
		 * jumping to where the curve got to */
		p->epoch_start_us = 0;
		return;
	}
	if (s->cwnd < s->ssthresh) {
		cc_reno_grow(s, a->acked);
		return;
	}
	if (!p->epoch_start_us)
		cubic_epoch_start(s, a->now_us);

	uint64_t cwnd = s->cwnd;
	uint64_t t_us = a->now_us > p->epoch_start_us ? a->now_us - p->epoch_start_us : 0;
	uint32_t rtt_us = a->srtt_us ? a->srtt_us : a->rtt_us;

	/* Reno estimate: alpha_cubic segments per window acked, then a full
	 * segment once it has regained the window it had before the loss */
	uint64_t alpha_fp = (p->w_est_fp >> CUBIC_FP_SHIFT) >= p->cwnd_prior ?
			    1u << CUBIC_FP_SHIFT : CUBIC_RENO_ALPHA_FP;
	p->w_est_fp += alpha_fp * a->acked * s->mss / cwnd;
	if (p->w_est_fp > (uint64_t)CC_MAX_CWND << CUBIC_FP_SHIFT)
		p->w_est_fp = (uint64_t)CC_MAX_CWND << CUBIC_FP_SHIFT;
	uint64_t w_est = p->w_est_fp >> CUBIC_FP_SHIFT;

	if (cubic_window(s, t_us) < (double)w_est) {
		/* Reno-friendly region: Reno would have this window by now */
		if (w_est > cwnd)
			cwnd = w_est;
		s->aux = 0;
	} else {
		/* aim at where the curve will be one RTT from now, but never
		 * more than 1.5x in one window (RFC 9438 4.2) */
		double target = cubic_window(s, t_us + rtt_us);

		if (target > 1.5 * (double)cwnd)
			target = 1.5 * (double)cwnd;
		if (target > (double)cwnd) {
			/* (target - cwnd) spread over one window of ACKs; aux
			 * carries what integer division drops */
			s->aux += ((uint64_t)target - cwnd) * a->acked;
			cwnd += s->aux / cwnd;
			s->aux %= cwnd;
		}
	}
	if (cwnd > CC_MAX_CWND)
		cwnd = CC_MAX_CWND;
	s->cwnd = (uint32_t)cwnd;
}

/* RFC 9438 4.6/4.7: remember the peak (with fast convergence), cut ssthresh */
static void cubic_reduce(struct cc_state *s, uint64_t inflight)
{
	struct cc_cubic_priv *p = &s->u.cubic;
	uint64_t flight = inflight ? inflight : s->cwnd;
	uint64_t ssthresh = flight * CUBIC_BETA_NUM / CUBIC_BETA_DEN;

	if (s->cwnd < p->w_max)
		p->w_max = (uint32_t)((uint64_t)s->cwnd * CUBIC_FC_NUM / CUBIC_FC_DEN);
	else
		p->w_max = s->cwnd;
	p->cwnd_prior = s->cwnd;
	if (ssthresh < 2 * (uint64_t)s->mss)
		ssthresh = 2 * (uint64_t)s->mss;
	if (ssthresh > CC_MAX_CWND)
		ssthresh = CC_MAX_CWND;
	s->ssthresh = (uint32_t)ssthresh;
	p->epoch_start_us = 0;
	s->aux = 0;
}

static void cubic_on_fast_retx(struct cc_state *s, uint64_t inflight, uint64_t now_us)
{
	cubic_reduce(s, inflight);
	s->u.cubic.after_timeout = false;
	s->cwnd = s->ssthresh;
}

static void cubic_on_timeout(struct cc_state *s, uint64_t inflight, uint64_t now_us)
{
	cubic_reduce(s, inflight);
	/* Reno's restart from one segment; the next avoidance stage begins
	 * with K = 0 at whatever window slow start reached (RFC 9438 4.8) */
	s->u.cubic.after_timeout = true;
	s->cwnd = s->mss;
}

/* the curve is a function of time: it starts again from the window put
 * back, not from where the stall let the clock run to */
static void cubic_on_undo(struct cc_state *s)
{
	s->u.cubic.epoch_start_us = 0;
}

const struct cc_ops cc_cubic = {
	.name = "cubic",
	.init = cubic_init,
	.on_ack = cubic_on_ack,
	.on_fast_retx = cubic_on_fast_retx,
	.on_timeout = cubic_on_timeout,
	.on_undo = cubic_on_undo,
};
