// SPDX-License-Identifier: MIT
/*
 * cc_dctcp.c - DCTCP (RFC 8257) on byte windows.
 *
 * The switch marks packets (CE) whenever its queue is above a small
 * threshold; the receiver echoes marks back (ECE).  Instead of halving on
 * any mark, the sender estimates alpha, the fraction of bytes marked,
 * as an EWMA with gain g = 1/16 updated once per window of data, and on a
 * window that saw marks cuts cwnd by alpha/2: a queue barely above the
 * threshold costs a few percent of the window, a persistently full one
 * costs half.  Growth and loss handling are Reno's.
 *
 * Tick aggregation: one on_ack carries 1 ms worth of ACKs, which inside a
 * datacenter is many windows.  "Once per window" is therefore counted in
 * bytes, not calls: a call spanning n windows ages alpha n times and may
 * cut the window up to n times (never more often than there were marked
 * segments), so the control law per round trip stays the RFC's whatever
 * the ratio of RTT to tick.
 *
 * alpha starts at 1, the conservative end: until the estimate has some
 * history, a marked window is halved as Reno would halve it.
 * ECN negotiation itself is the stack's job; without it no byte ever
 * arrives with ECE and DCTCP behaves exactly like NewReno.
 */
#include <string.h>

#include "cc.h"

#define DCTCP_ALPHA_SHIFT 20     /* alpha is a fraction << 20 */
#define DCTCP_ALPHA_ONE   (1u << DCTCP_ALPHA_SHIFT)
#define DCTCP_G_SHIFT     4      /* g = 1/16 */
#define DCTCP_MAX_ROUNDS  64     /* beyond this alpha has forgotten everything */

static void dctcp_init(struct cc_state *s, uint32_t mss, uint32_t init_segs)
{
	struct cc_dctcp_priv *p = &s->u.dctcp;

	s->mss = mss;
	s->cwnd = mss * init_segs;
	s->ssthresh = UINT32_MAX;
	s->rate_bps = 0;
	s->aux = 0;
	memset(p, 0, sizeof(*p));
	p->alpha = DCTCP_ALPHA_ONE;
}

/* how many windows of @win bytes the byte range (@from, @to] touches */
static uint64_t rounds_in(uint64_t from, uint64_t to, uint64_t win)
{
	if (to <= from)
		return 0;
	if (!win)
		win = 1;
	uint64_t n = (to - from + win - 1) / win;
	return n > DCTCP_MAX_ROUNDS ? DCTCP_MAX_ROUNDS : n;
}

/* fold a finished observation window into alpha, once per round it spans */
static void dctcp_update_alpha(struct cc_dctcp_priv *p, uint64_t rounds)
{
	uint64_t f = p->win_acked ? (p->win_marked << DCTCP_ALPHA_SHIFT) / p->win_acked : 0;

	if (f > DCTCP_ALPHA_ONE)
		f = DCTCP_ALPHA_ONE;
	for (uint64_t i = 0; i < rounds; i++) {
		/* alpha += g * (F - alpha), rounded so it can reach 0 and 1 */
		int64_t d = (int64_t)f - (int64_t)p->alpha;
		int64_t step = d >= 0 ? (d + (1 << DCTCP_G_SHIFT) - 1) >> DCTCP_G_SHIFT
				      : -((-d + (1 << DCTCP_G_SHIFT) - 1) >> DCTCP_G_SHIFT);
		p->alpha = (uint32_t)((int64_t)p->alpha + step);
	}
	p->win_acked = 0;
	p->win_marked = 0;
}

static void dctcp_on_ack(struct cc_state *s, const struct cc_ack_sample *a)
{
	struct cc_dctcp_priv *p = &s->u.dctcp;
	uint64_t ecn = a->ecn_acked < a->acked ? a->ecn_acked : a->acked;
	uint64_t before = p->acked_total;
	uint64_t win = a->inflight > s->cwnd ? a->inflight : s->cwnd;

	p->acked_total += a->acked;
	p->win_acked += a->acked;
	p->win_marked += ecn;

	/* the observation window closes when everything outstanding at its
	 * start is acked (the RFC's SND.UNA passing WindowEnd) */
	if (p->acked_total > p->window_end) {
		/* a 1 ms call may hold many round trips' worth of ACKs */
		uint64_t rounds = p->win_acked / win;

		dctcp_update_alpha(p, rounds < 1 ? 1 : rounds > DCTCP_MAX_ROUNDS ?
				   DCTCP_MAX_ROUNDS : rounds);
		p->window_end = p->acked_total + a->inflight;
	}

	if (ecn && p->acked_total > p->cwr_end) {
		/* one cut per window that carried marks: the part of this call
		 * past the last cut, in windows, bounded by the marked segments */
		uint64_t from = before > p->cwr_end ? before : p->cwr_end;
		uint64_t cuts = rounds_in(from, p->acked_total, win);
		uint64_t marked_segs = (ecn + s->mss - 1) / s->mss;
		uint64_t cwnd = s->cwnd;

		if (cuts > marked_segs)
			cuts = marked_segs;
		if (!cuts)
			cuts = 1;
		for (uint64_t i = 0; i < cuts; i++)
			cwnd -= (cwnd * p->alpha) >> (DCTCP_ALPHA_SHIFT + 1);
		if (cwnd < 2 * (uint64_t)s->mss)
			cwnd = 2 * (uint64_t)s->mss;
		s->cwnd = (uint32_t)cwnd;
		s->ssthresh = s->cwnd;
		s->aux = 0;
		p->cwr_end = p->acked_total + a->inflight;
		return;
	}
	if (!a->app_limited)
		cc_reno_grow(s, a->acked);
}

static void dctcp_on_fast_retx(struct cc_state *s, uint64_t inflight, uint64_t now_us)
{
	struct cc_dctcp_priv *p = &s->u.dctcp;

	s->ssthresh = cc_half_inflight(s, inflight);
	s->cwnd = s->ssthresh;
	s->aux = 0;
	/* marks from the same window as the loss must not cut again */
	p->cwr_end = p->acked_total + inflight;
}

static void dctcp_on_timeout(struct cc_state *s, uint64_t inflight, uint64_t now_us)
{
	struct cc_dctcp_priv *p = &s->u.dctcp;

	s->ssthresh = cc_half_inflight(s, inflight);
	s->cwnd = s->mss;
	s->aux = 0;
	p->cwr_end = p->acked_total + inflight;
}

const struct cc_ops cc_dctcp = {
	.name = "dctcp",
	.wants_ecn = true,
	.init = dctcp_init,
	.on_ack = dctcp_on_ack,
	.on_fast_retx = dctcp_on_fast_retx,
	.on_timeout = dctcp_on_timeout,
};
