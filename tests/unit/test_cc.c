// SPDX-License-Identifier: MIT
/*
 * test_cc.c - congestion control algorithms, driven directly through their
 * ops tables with made-up ACK samples (no DPDK, no clock).
 *
 * Two kinds of checks:
 *  - the control laws themselves: NewReno's growth and cuts, CUBIC's curve
 *    (back at W_max at t = K, concave before, convex after, 0.7 cut, fast
 *    convergence, Reno-friendly region), DCTCP's alpha estimate and its
 *    once-per-window cut, TIMELY's three regimes and hyperactive increase;
 *  - a small discrete-time model of two flows through one FIFO bottleneck
 *    (drop-tail buffer, optional ECN marking threshold), where each
 *    algorithm must share the link fairly (Jain's index >= 0.9) and keep it
 *    busy.  The model exercises the algorithms, not the TCP stack.
 *
 * Samples are fed like the slowpath does: one call per 1 ms tick with every
 * byte acked in it.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cc.h"

#define MSS 1000u

static void ack(const struct cc_ops *ops, struct cc_state *s, uint64_t acked, uint64_t ecn,
		uint64_t inflight, uint64_t now_us, uint32_t rtt_us)
{
	struct cc_ack_sample a = {
		.acked = acked,
		.ecn_acked = ecn,
		.inflight = inflight,
		.now_us = now_us,
		.rtt_us = rtt_us,
		.srtt_us = rtt_us,
	};
	ops->on_ack(s, &a);
}

static struct cc_state fresh(const struct cc_ops *ops, uint32_t init_segs)
{
	struct cc_state s;

	memset(&s, 0, sizeof(s));
	ops->init(&s, MSS, init_segs);
	return s;
}

static double ratio(double a, double b)
{
	return a / b;
}

/* ------------------------------------------------------------ registry */

Test(cc, registry_finds_all_four)
{
	const char *names[] = { "newreno", "cubic", "dctcp", "timely" };
	char list[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct cc_ops *ops = cc_find(names[i]);

		cr_assert_not_null(ops, "%s not registered", names[i]);
		cr_assert_str_eq(ops->name, names[i]);
		cr_assert_not_null(ops->init);
		cr_assert_not_null(ops->on_ack);
		cr_assert_not_null(ops->on_fast_retx);
		cr_assert_not_null(ops->on_timeout);
	}
	cr_assert_null(cc_find("vegas"));
	cr_assert_null(cc_find(""));
	cr_assert_str_eq(cc_names(list, sizeof(list)), "newreno, cubic, dctcp, timely");
	/* truncation still terminates */
	cr_assert_eq(strlen(cc_names(list, 5)), 4);
}

/*
 * RFC 7661: a window the flow never filled was not tested and must not
 * grow.  A request/response flow that acks a few bytes a round for hours
 * otherwise reaches CC_MAX_CWND, and its first bulk write then goes out
 * as one burst of a gigabyte's worth of window.
 */
Test(cc, an_app_limited_window_does_not_grow)
{
	const char *names[] = { "newreno", "cubic", "dctcp" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct cc_ops *ops = cc_find(names[i]);
		struct cc_state s = fresh(ops, 10);
		uint32_t start = s.cwnd;

		for (uint64_t t = 1; t <= 10000; t++)
			ops->on_ack(&s, &(struct cc_ack_sample){ .acked = 64, .inflight = 64,
				    .now_us = t * 1000, .rtt_us = 100, .srtt_us = 100,
				    .app_limited = true });
		cr_assert_eq(s.cwnd, start, "%s: app-limited window grew %u -> %u",
			     names[i], start, s.cwnd);
		/* and grows again once the window holds data back */
		ack(ops, &s, 10 * MSS, 0, 10 * MSS, 10001 * 1000, 100);
		cr_assert_gt(s.cwnd, start, "%s: a cwnd-limited ack did not grow it", names[i]);
	}
}

/* ------------------------------------------------------------ NewReno */

Test(newreno, slow_start_then_one_mss_per_window)
{
	const struct cc_ops *ops = &cc_newreno;
	struct cc_state s = fresh(ops, 10);

	cr_assert_eq(s.cwnd, 10 * MSS);
	cr_assert_eq(s.ssthresh, UINT32_MAX);
	cr_assert_eq(s.rate_bps, 0);

	ack(ops, &s, 5000, 0, 10000, 1000, 100);
	cr_assert_eq(s.cwnd, 15000);

	/* slow start stops at ssthresh, however much was acked */
	s.ssthresh = 20000;
	ack(ops, &s, 10000, 0, 15000, 2000, 100);
	cr_assert_eq(s.cwnd, 20000);

	/* avoidance: one window of ACKs in small ticks adds one MSS */
	for (int i = 0; i < 20; i++)
		ack(ops, &s, 1000, 0, s.cwnd, 3000 + i * 1000, 100);
	cr_assert(s.cwnd >= 20950 && s.cwnd <= 21000, "cwnd %u after one window", s.cwnd);

	/* ECN echoes mean nothing to NewReno */
	uint32_t before = s.cwnd;
	ack(ops, &s, 1000, 1000, s.cwnd, 30000, 100);
	cr_assert_geq(s.cwnd, before);
}

Test(newreno, loss_halves_timeout_restarts)
{
	const struct cc_ops *ops = &cc_newreno;
	struct cc_state s = fresh(ops, 30);

	ops->on_fast_retx(&s, 30000, 1000);
	cr_assert_eq(s.ssthresh, 15000);
	cr_assert_eq(s.cwnd, 15000);
	ops->on_fast_retx(&s, 1000, 2000);
	cr_assert_eq(s.cwnd, 2 * MSS, "never below two segments");
	ops->on_timeout(&s, 40000, 3000);
	cr_assert_eq(s.ssthresh, 20000);
	cr_assert_eq(s.cwnd, MSS);
	cr_assert_eq(s.rate_bps, 0);
}

/* --------------------------------------------------------------- CUBIC */

/* grow in slow start to @w bytes, then lose */
static struct cc_state cubic_at_loss(uint32_t w)
{
	const struct cc_ops *ops = &cc_cubic;
	struct cc_state s = fresh(ops, 10);

	while (s.cwnd < w)
		ack(ops, &s, w - s.cwnd < s.cwnd ? w - s.cwnd : s.cwnd, 0, s.cwnd, 1000, 1000);
	cr_assert_eq(s.cwnd, w);
	ops->on_fast_retx(&s, w, 1000);
	return s;
}

Test(cubic, cut_to_beta)
{
	struct cc_state s = cubic_at_loss(100000);

	cr_assert_eq(s.cwnd, 70000);
	cr_assert_eq(s.ssthresh, 70000);
	cr_assert_eq(s.u.cubic.w_max, 100000);
	cr_assert_eq(s.rate_bps, 0);
}

/*
 * W_max = 1000 segments, RTT 100 ms, 1 ms ticks each acking 1/100 of the
 * window.  K = cbrt(0.3 * 1000 / 0.4) = 9.086 s; at this RTT the Reno
 * estimate stays far below the curve, so the curve alone drives the window.
 */
Test(cubic, follows_the_cubic_curve)
{
	const struct cc_ops *ops = &cc_cubic;
	const uint32_t w_max = 1000 * MSS, rtt = 100000;
	const double k_s = 9.0856;
	struct cc_state s = cubic_at_loss(w_max);
	static uint32_t trace[20000];

	for (int t = 0; t < 20000; t++) {
		ack(ops, &s, s.cwnd / 100, 0, s.cwnd, 2000 + (uint64_t)t * 1000, rtt);
		trace[t] = s.cwnd;
	}
	cr_assert(s.u.cubic.k_us > 9080000 && s.u.cubic.k_us < 9090000,
		  "K %llu us", (unsigned long long)s.u.cubic.k_us);

	int k = (int)(k_s * 1000);
	cr_assert(ratio(trace[k], w_max) > 0.98 && ratio(trace[k], w_max) < 1.02,
		  "cwnd %u at t = K, W_max %u", trace[k], w_max);

	/* on the curve away from the plateau: W(K/2) = W_max - 0.4 * (K/2)^3 segs */
	double want = w_max - 0.4 * MSS * (k_s / 2) * (k_s / 2) * (k_s / 2);
	cr_assert(ratio(trace[k / 2], want) > 0.98 && ratio(trace[k / 2], want) < 1.02,
		  "cwnd %u at K/2, curve %.0f", trace[k / 2], want);

	/* concave before K, convex after */
	uint32_t g1 = trace[k / 2] - trace[0], g2 = trace[k] - trace[k / 2];
	uint32_t g3 = trace[k + k / 2] - trace[k], g4 = trace[2 * k] - trace[k + k / 2];
	cr_assert_gt(g1, 3 * g2, "concave: %u then %u", g1, g2);
	cr_assert_gt(g4, 3 * g3, "convex: %u then %u", g3, g4);
	for (int t = 1; t < 20000; t++)
		cr_assert_geq(trace[t], trace[t - 1], "window shrank at %d ms", t);

	/* and well past K it exceeds W_max: probing for more */
	cr_assert_gt(trace[2 * k], w_max * 1.05);
}

Test(cubic, reno_friendly_region_at_short_rtt)
{
	const struct cc_ops *ops = &cc_cubic;
	struct cc_state s = cubic_at_loss(20 * MSS);

	/* 1 ms RTT: one window acked per tick.  K = cbrt(6 / 0.4) = 2.47 s,
	 * but Reno regains 20 segments in ~20 RTTs: the estimate rules.
	 * 14 -> 20 segs at 9/17 per RTT (11.3 RTTs), then 1 per RTT. */
	for (int t = 0; t < 200; t++)
		ack(ops, &s, s.cwnd, 0, s.cwnd, 2000 + (uint64_t)t * 1000, 1000);
	double want = (20 + (200 - 6.0 * 17 / 9)) * MSS;
	cr_assert(ratio(s.cwnd, want) > 0.95 && ratio(s.cwnd, want) < 1.05,
		  "cwnd %u, Reno estimate %.0f", s.cwnd, want);
}

Test(cubic, fast_convergence_and_timeout)
{
	const struct cc_ops *ops = &cc_cubic;
	struct cc_state s = cubic_at_loss(100 * MSS);

	/* lose again below the last peak: release bandwidth sooner */
	ack(ops, &s, 1000, 0, s.cwnd, 5000, 100000);
	uint32_t cw = s.cwnd;
	ops->on_fast_retx(&s, cw, 6000);
	cr_assert_eq(s.u.cubic.w_max, (uint64_t)cw * 17 / 20);
	cr_assert_eq(s.cwnd, cw * 7 / 10);

	/* timeout: one segment, ssthresh 0.7 of the flight, and the next
	 * avoidance stage starts flat (K = 0) at the window it reaches */
	ops->on_timeout(&s, 80000, 7000);
	cr_assert_eq(s.cwnd, MSS);
	cr_assert_eq(s.ssthresh, 56000);
	while (s.cwnd < s.ssthresh)
		ack(ops, &s, s.cwnd, 0, s.cwnd, 8000, 1000);
	cr_assert_eq(s.cwnd, 56000);
	ack(ops, &s, 1000, 0, s.cwnd, 9000, 1000);
	cr_assert_eq(s.u.cubic.k_us, 0);
	cr_assert_eq(s.u.cubic.w_max, 56000);
}

/* --------------------------------------------------------------- DCTCP */

#define ALPHA_ONE (1u << 20)

/*
 * Feed @windows windows of ACKs, each in 10 ticks, with @mark_permille of
 * every tick's bytes echoed; the sender keeps its window full.  Records the
 * cut ratios and checks cuts are at least a window apart.
 */
struct dctcp_run {
	int cuts;
	double last_cut;          /* cwnd after / before, latest cut */
	double min_cut, max_cut;
};

static struct dctcp_run dctcp_feed(struct cc_state *s, int windows, unsigned mark_permille,
				   uint64_t *now)
{
	const struct cc_ops *ops = &cc_dctcp;
	struct dctcp_run r = { .min_cut = 2, .max_cut = 0 };
	uint64_t acked = 0, last_cut_at = 0, last_cut_flight = 0;

	for (int w = 0; w < windows; w++) {
		for (int i = 0; i < 10; i++) {
			uint64_t chunk = s->cwnd / 10;
			uint64_t marked = chunk * mark_permille / 1000;
			uint32_t before = s->cwnd;

			*now += 1000;
			ack(ops, s, chunk, marked, s->cwnd, *now, 10000);
			acked += chunk;
			if (s->cwnd < before) {
				double q = ratio(s->cwnd, before);

				if (r.cuts)
					cr_assert_geq(acked - last_cut_at, last_cut_flight,
						      "two cuts within one window");
				r.cuts++;
				r.last_cut = q;
				r.min_cut = q < r.min_cut ? q : r.min_cut;
				r.max_cut = q > r.max_cut ? q : r.max_cut;
				last_cut_at = acked;
				last_cut_flight = before;
			}
		}
	}
	return r;
}

Test(dctcp, no_marks_no_cut)
{
	struct cc_state s = fresh(&cc_dctcp, 10);
	uint64_t now = 0;

	cr_assert_eq(s.u.dctcp.alpha, ALPHA_ONE, "alpha starts at 1");
	s.ssthresh = 100 * MSS;
	s.cwnd = 100 * MSS;
	struct dctcp_run r = dctcp_feed(&s, 100, 0, &now);
	cr_assert_eq(r.cuts, 0);
	cr_assert_gt(s.cwnd, 195 * MSS, "Reno growth, one MSS per window: %u", s.cwnd);
	cr_assert_lt(s.u.dctcp.alpha, ALPHA_ONE / 100, "alpha forgot: %u", s.u.dctcp.alpha);
	cr_assert_eq(s.rate_bps, 0);
}

Test(dctcp, all_marked_converges_to_one_and_halves_once_per_window)
{
	struct cc_state s = fresh(&cc_dctcp, 10);
	uint64_t now = 0;

	s.ssthresh = 100 * MSS;
	s.cwnd = 100 * MSS;
	dctcp_feed(&s, 150, 0, &now);           /* alpha -> ~0 */
	cr_assert_lt(s.u.dctcp.alpha, ALPHA_ONE / 100);

	/* every window marked: alpha climbs to 1; the first cuts are mild
	 * because alpha still remembers the unmarked past */
	struct dctcp_run r = dctcp_feed(&s, 200, 1000, &now);
	cr_assert_gt(s.u.dctcp.alpha, ALPHA_ONE * 0.99, "alpha %u", s.u.dctcp.alpha);
	cr_assert_gt(r.max_cut, 0.9, "first cut %f", r.max_cut);
	cr_assert_geq(r.cuts, 30);

	/* from a large window now: halved, and only once per window of data
	 * (dctcp_feed fails on two cuts less than a window apart) */
	s.cwnd = s.ssthresh = 100 * MSS;
	r = dctcp_feed(&s, 3, 1000, &now);
	cr_assert_geq(r.cuts, 2);
	cr_assert(r.min_cut > 0.49 && r.max_cut < 0.52, "cuts %f..%f, want 0.5",
		  r.min_cut, r.max_cut);
}

Test(dctcp, ten_percent_marked_cuts_five_percent)
{
	struct cc_state s = fresh(&cc_dctcp, 10);
	uint64_t now = 0;

	s.ssthresh = 200 * MSS;
	s.cwnd = 200 * MSS;
	dctcp_feed(&s, 150, 100, &now);
	double alpha = (double)s.u.dctcp.alpha / ALPHA_ONE;
	cr_assert(alpha > 0.09 && alpha < 0.11, "alpha %f for 10%% marks", alpha);

	struct dctcp_run r = dctcp_feed(&s, 30, 100, &now);
	cr_assert_geq(r.cuts, 10);
	cr_assert(r.min_cut > 0.94 && r.max_cut < 0.96, "cuts %f..%f, want ~0.95",
		  r.min_cut, r.max_cut);
}

Test(dctcp, one_tick_spanning_many_windows)
{
	const struct cc_ops *ops = &cc_dctcp;
	struct cc_state s = fresh(ops, 10);

	/* a datacenter RTT: one 1 ms tick acks 16 windows, none marked;
	 * alpha must age 16 times, not once */
	s.ssthresh = s.cwnd = 10 * MSS;
	ack(ops, &s, 160 * MSS, 0, 10 * MSS, 1000, 50);
	double alpha = (double)s.u.dctcp.alpha / ALPHA_ONE;
	cr_assert(alpha > 0.34 && alpha < 0.37, "alpha %f, want (15/16)^16 = 0.356", alpha);

	/* and marks throughout 4 windows cut 4 times: 1/2^4 with alpha 1 */
	s.cwnd = s.ssthresh = 160 * MSS;
	s.u.dctcp.alpha = ALPHA_ONE;
	ack(ops, &s, 640 * MSS, 640 * MSS, 160 * MSS, 2000, 50);
	cr_assert_eq(s.cwnd, 10 * MSS, "cwnd %u", s.cwnd);
}

Test(dctcp, loss_halves)
{
	const struct cc_ops *ops = &cc_dctcp;
	struct cc_state s = fresh(ops, 40);

	ops->on_fast_retx(&s, 40000, 1000);
	cr_assert_eq(s.cwnd, 20000);
	cr_assert_eq(s.ssthresh, 20000);
	/* marks in the window of the loss do not cut again */
	ack(ops, &s, 1000, 1000, 39000, 2000, 100);
	cr_assert_geq(s.cwnd, 20000);
	ops->on_timeout(&s, 20000, 3000);
	cr_assert_eq(s.cwnd, MSS);
}

/* -------------------------------------------------------------- TIMELY */

#define MBPS 1000000ull

Test(timely, init_rate_and_window)
{
	struct cc_state s = fresh(&cc_timely, 10);

	/* 10 segments of 1000 B per 50 us: 1.6 Gb/s */
	cr_assert_eq(s.rate_bps, 1600 * MBPS);
	cr_assert_eq(s.cwnd, 10 * MSS);
	/* no RTT yet: nothing changes */
	ack(&cc_timely, &s, 1000, 0, 9000, 1000, 0);
	cr_assert_eq(s.rate_bps, 1600 * MBPS);
}

Test(timely, above_t_high_decreases)
{
	const struct cc_ops *ops = &cc_timely;
	struct cc_state s = fresh(ops, 10);
	/* an uncongested sample first: the path's base RTT is 10 us */
	ack(ops, &s, 1000, 0, 10000, 1000, 10);
	uint64_t r = s.rate_bps;

	/* 1020 us against T_high 500 us above the 10 us base: the excess is
	 * half the RTT, so rate * (1 - 0.8 * 0.5) each update */
	for (int i = 1; i <= 3; i++) {
		ack(ops, &s, 1000, 0, 10000, (uint64_t)(i + 1) * 2000, 1020);
		cr_assert(ratio(s.rate_bps, r) > 0.599 && ratio(s.rate_bps, r) < 0.601,
			  "update %d: %llu -> %llu", i, (unsigned long long)r,
			  (unsigned long long)s.rate_bps);
		r = s.rate_bps;
	}
	/* the window covers rate * RTT with room to spare */
	cr_assert_geq(s.cwnd, s.rate_bps / 8 * 1000 / 1000000);
}

Test(timely, below_t_low_increases_additively)
{
	const struct cc_ops *ops = &cc_timely;
	struct cc_state s = fresh(ops, 10);
	uint64_t r = s.rate_bps;

	/* even with a rising RTT: below T_low the queue is short enough */
	for (int i = 1; i <= 10; i++) {
		ack(ops, &s, 1000, 0, 10000, (uint64_t)i * 1000, 20 + i);
		cr_assert_eq(s.rate_bps, r + 10 * MBPS);
		r = s.rate_bps;
	}
}

Test(timely, gradient_between_thresholds)
{
	const struct cc_ops *ops = &cc_timely;
	struct cc_state s = fresh(ops, 10);
	uint64_t now = 0, r;

	/* establish min RTT 60 us, then sit at 100 us */
	ack(ops, &s, 1000, 0, 10000, now += 1000, 60);
	for (int i = 0; i < 10; i++)
		ack(ops, &s, 1000, 0, 10000, now += 1000, 100);

	/* RTT rising 10 us per update in the band: rate falls every time */
	for (int i = 1; i <= 10; i++) {
		r = s.rate_bps;
		ack(ops, &s, 1000, 0, 10000, now += 1000, 100 + 10 * i);
		cr_assert_lt(s.rate_bps, r, "rising RTT %d us did not cut", 100 + 10 * i);
	}

	/* RTT falling: once the smoothed gradient turns negative, the rate
	 * climbs by delta, and after 5 such updates by 5 * delta */
	int incr = 0, hai = 0;
	for (int i = 1; i <= 12; i++) {
		r = s.rate_bps;
		ack(ops, &s, 1000, 0, 10000, now += 1000, 200 - 5 * i);
		if (s.rate_bps == r + 10 * MBPS)
			incr++;
		if (s.rate_bps == r + 50 * MBPS)
			hai++;
	}
	cr_assert_geq(incr, 4, "additive steps %d", incr);
	cr_assert_geq(hai, 3, "hyperactive steps %d", hai);

	/* a flat RTT in the band is a zero gradient: keep probing */
	for (int i = 0; i < 20; i++)
		ack(ops, &s, 1000, 0, 10000, now += 1000, 140);
	r = s.rate_bps;
	ack(ops, &s, 1000, 0, 10000, now += 1000, 140);
	cr_assert_gt(s.rate_bps, r);
}

Test(timely, at_most_one_update_per_rtt_and_loss)
{
	const struct cc_ops *ops = &cc_timely;
	struct cc_state s = fresh(ops, 10);

	ack(ops, &s, 1000, 0, 10000, 10000, 20);
	uint64_t r = s.rate_bps;
	ack(ops, &s, 1000, 0, 10000, 10010, 20);  /* 10 us later, RTT 20 us */
	cr_assert_eq(s.rate_bps, r);
	ack(ops, &s, 1000, 0, 10000, 10020, 20);
	cr_assert_eq(s.rate_bps, r + 10 * MBPS);

	ops->on_fast_retx(&s, 10000, 20000);
	cr_assert_eq(s.rate_bps, (r + 10 * MBPS) / 2);
	ops->on_timeout(&s, 10000, 30000);
	cr_assert_eq(s.rate_bps, (r + 10 * MBPS) / 4);
	cr_assert_eq(s.cwnd, MSS);
	ack(ops, &s, 1000, 0, 1000, 40000, 20);
	cr_assert_gt(s.cwnd, 2 * MSS, "the rate-derived window is back");
}

/* ---------------------------------------------------- two-flow model */

/*
 * Discrete time, one step = dt_us.  Senders put whatever their window (and
 * pacing rate, if any) allows into a FIFO; the bottleneck drains mu bytes
 * per step; bytes beyond the buffer are dropped; bytes that arrive while
 * the queue is above mark_k are CE-marked.  Served bytes are acked
 * rtt_steps later with their marks and their RTT (propagation + queueing).
 * A drop is noticed a round trip after it happened (fast retransmit): the
 * first of a window triggers on_fast_retx, later ones in the same window
 * only leave the flight.  Infinite backlog.
 */
#define SIM_H     4096
#define SIM_QCAP  8192

struct sim_cfg {
	const struct cc_ops *ops;
	uint32_t dt_us;
	uint32_t rtt_steps;
	uint64_t mu;        /* bytes per step */
	uint64_t buffer;    /* bytes */
	uint64_t mark_k;    /* bytes; 0 = no ECN */
	uint32_t steps;
	uint32_t start2;    /* step the second flow starts */
};

struct sim_flow {
	struct cc_state cc;
	bool on;
	uint64_t inflight, credit, delivered;
	uint64_t recovery_end;
	uint32_t srtt_us, rtt_us;
	uint64_t ack_b[SIM_H], ack_m[SIM_H], ack_sent[SIM_H];
	uint64_t lost_b[SIM_H];
	bool loss_ev[SIM_H];
};

struct sim_chunk {
	int flow;
	uint64_t bytes, marked, sent;
};

struct sim_result {
	double jain, util;
	uint64_t x[2];
	uint64_t max_queue, max_queue_late;  /* bytes; late: measured half */
};

static struct sim_flow sim_f[2];
static struct sim_chunk sim_q[SIM_QCAP];

static struct sim_result simulate(const struct sim_cfg *c)
{
	struct sim_result res = { 0 };
	uint64_t qhead = 0, qtail = 0, qbytes = 0;
	uint64_t measure_from = c->steps / 2;

	memset(sim_f, 0, sizeof(sim_f));
	for (int i = 0; i < 2; i++)
		c->ops->init(&sim_f[i].cc, MSS, 10);

	for (uint64_t t = 0; t < c->steps; t++) {
		uint64_t now_us = (t + 1) * c->dt_us;
		uint32_t slot = t % SIM_H;

		sim_f[0].on = true;
		sim_f[1].on = t >= c->start2;
		/* 1: feedback due now */
		for (int i = 0; i < 2; i++) {
			struct sim_flow *f = &sim_f[i];

			if (f->loss_ev[slot])
				c->ops->on_fast_retx(&f->cc, f->inflight, now_us);
			f->inflight -= f->lost_b[slot];
			if (f->ack_b[slot]) {
				f->rtt_us = (uint32_t)((t - f->ack_sent[slot]) * c->dt_us);
				f->srtt_us = f->srtt_us ? (7 * f->srtt_us + f->rtt_us) / 8 : f->rtt_us;
				f->inflight -= f->ack_b[slot];

				struct cc_ack_sample a = {
					.acked = f->ack_b[slot],
					.ecn_acked = f->ack_m[slot],
					.inflight = f->inflight,
					.now_us = now_us,
					.rtt_us = f->rtt_us,
					.srtt_us = f->srtt_us,
				};
				c->ops->on_ack(&f->cc, &a);
			}
			f->ack_b[slot] = f->ack_m[slot] = f->lost_b[slot] = 0;
			f->loss_ev[slot] = false;
		}
		/* 2: senders, taking turns at being first so neither is always
		 * the one that finds the buffer full or the queue above K */
		for (int k = 0; k < 2; k++) {
			int i = k ^ (int)(t & 1);
			struct sim_flow *f = &sim_f[i];
			uint64_t send = f->cc.cwnd > f->inflight ? f->cc.cwnd - f->inflight : 0;

			if (!f->on)
				continue;
			if (f->cc.rate_bps) {
				uint64_t per_step = f->cc.rate_bps * c->dt_us / 8000000;

				f->credit += per_step;
				if (f->credit > per_step + 2 * MSS)
					f->credit = per_step + 2 * MSS;
				if (send > f->credit)
					send = f->credit;
				f->credit -= send;
			}
			if (!send)
				continue;
			f->inflight += send;

			uint64_t room = c->buffer > qbytes ? c->buffer - qbytes : 0;
			uint64_t in = send < room ? send : room;
			if (in < send) {
				uint64_t detect = t + c->rtt_steps + qbytes / c->mu;
				cr_assert_lt(detect - t, SIM_H);
				f->lost_b[detect % SIM_H] += send - in;
				if (t >= f->recovery_end) {
					f->loss_ev[detect % SIM_H] = true;
					f->recovery_end = detect;
				}
			}
			if (!in)
				continue;
			uint64_t marked = 0;
			if (c->mark_k && qbytes + in > c->mark_k)
				marked = qbytes + in - c->mark_k < in ? qbytes + in - c->mark_k : in;
			cr_assert_lt(qtail - qhead, SIM_QCAP);
			sim_q[qtail++ % SIM_QCAP] = (struct sim_chunk){ i, in, marked, t };
			qbytes += in;
		}
		if (qbytes > res.max_queue)
			res.max_queue = qbytes;
		if (t >= measure_from && qbytes > res.max_queue_late)
			res.max_queue_late = qbytes;
		/* 3: the bottleneck */
		uint64_t budget = c->mu;
		while (budget && qhead != qtail) {
			struct sim_chunk *ch = &sim_q[qhead % SIM_QCAP];
			uint64_t n = ch->bytes < budget ? ch->bytes : budget;
			uint64_t m = ch->marked * n / ch->bytes;
			struct sim_flow *f = &sim_f[ch->flow];
			uint32_t due = (t + c->rtt_steps) % SIM_H;

			f->ack_b[due] += n;
			f->ack_m[due] += m;
			f->ack_sent[due] = ch->sent;
			if (t >= measure_from)
				res.x[ch->flow] += n;
			ch->bytes -= n;
			ch->marked -= m;
			qbytes -= n;
			budget -= n;
			if (!ch->bytes)
				qhead++;
		}
	}
	double x0 = (double)res.x[0], x1 = (double)res.x[1];
	res.jain = (x0 + x1) * (x0 + x1) / (2 * (x0 * x0 + x1 * x1));
	res.util = (x0 + x1) / ((double)c->mu * (c->steps - measure_from));
	return res;
}

/* 100 Mb/s, 20 ms base RTT, 1 ms steps: BDP 250 kB; the second flow joins
 * 10 s into a 120 s run, fairness over the last 60 s */
static struct sim_cfg wan(const struct cc_ops *ops)
{
	return (struct sim_cfg){
		.ops = ops, .dt_us = 1000, .rtt_steps = 20, .mu = 12500,
		.buffer = 250000, .mark_k = 0, .steps = 120000, .start2 = 10000,
	};
}

static struct sim_result check_fair(const char *name, const struct sim_cfg *c, double min_util)
{
	struct sim_result r = simulate(c);

	cr_log_info("%s: jain %.3f util %.3f x %llu/%llu max queue %llu, late %llu", name,
		    r.jain, r.util, (unsigned long long)r.x[0], (unsigned long long)r.x[1],
		    (unsigned long long)r.max_queue, (unsigned long long)r.max_queue_late);
	cr_assert_geq(r.jain, 0.9, "%s: Jain's index %.3f (x %llu / %llu)", name, r.jain,
		      (unsigned long long)r.x[0], (unsigned long long)r.x[1]);
	cr_assert_geq(r.util, min_util, "%s: utilisation %.3f", name, r.util);
	return r;
}

Test(sim, newreno_two_flows_fair)
{
	struct sim_cfg c = wan(&cc_newreno);

	check_fair("newreno", &c, 0.85);
}

Test(sim, cubic_two_flows_fair)
{
	struct sim_cfg c = wan(&cc_cubic);

	check_fair("cubic", &c, 0.85);
}

Test(sim, dctcp_two_flows_fair_short_queue)
{
	struct sim_cfg c = wan(&cc_dctcp);

	c.mark_k = 40000;  /* DCTCP's K ~ BDP / 6 */
	struct sim_result r = check_fair("dctcp", &c, 0.9);
	/* marks, not the 250 kB buffer, bound the queue once converged */
	cr_assert_lt(r.max_queue_late, 100000, "queue %llu", (unsigned long long)r.max_queue_late);
}

/* 10 Gb/s, 10 us steps, 30 us base RTT: TIMELY's datacenter regime */
Test(sim, timely_two_flows_fair)
{
	struct sim_cfg c = {
		.ops = &cc_timely, .dt_us = 10, .rtt_steps = 3, .mu = 12500,
		.buffer = 2000000, .mark_k = 0, .steps = 400000, .start2 = 20000,
	};

	check_fair("timely", &c, 0.8);
}
