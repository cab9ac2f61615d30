/* SPDX-License-Identifier: MIT */
/*
 * cc.h - pluggable congestion control.  The slowpath runs an algorithm per
 * flow from the fastpath's counters (bytes acked, fast retransmits, ECN
 * echoes, RTT) on every tick and publishes a window, and optionally a
 * pacing rate, that the fastpath enforces.
 *
 * Algorithms see aggregates, not single ACKs: one on_ack per tick (1 ms)
 * carries every byte acked since the previous one.  Each algorithm is
 * therefore written in terms of "bytes acked" and "time", never "per ACK".
 *
 * Everything here is plain integer and double arithmetic without libm,
 * so the unit tests can drive the algorithms without DPDK or a clock.
 */
#ifndef SP_CC_H
#define SP_CC_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* windows are capped here so byte arithmetic never nears 32-bit overflow */
#define CC_MAX_CWND (1u << 30)

/**
 * struct cc_ack_sample - what the fastpath reported since the last on_ack.
 * @acked: bytes newly acknowledged (> 0).
 * @ecn_acked: how many of @acked came with ECN-Echo.
 * @inflight: bytes sent and not yet acknowledged, after this ACK.
 * @now_us: slowpath clock, microseconds, monotonic (any origin).
 * @rtt_us: latest RTT sample, 0 = none yet.  The fastpath times one segment
 *          per round trip, so the same value may be seen on several calls.
 * @srtt_us: the fastpath's smoothed RTT (RFC 6298), 0 = none yet.
 * @app_limited: the window never held the flow back since the last call
 *               (the app, or the peer's window, did): the window was not
 *               tested, so it must not grow (RFC 7661, Linux's
 *               tcp_is_cwnd_limited()); estimators still take the sample.
 */
struct cc_ack_sample {
	uint64_t acked;
	uint64_t ecn_acked;
	uint64_t inflight;
	uint64_t now_us;
	uint32_t rtt_us;
	uint32_t srtt_us;
	bool app_limited;
};

/* CUBIC (cc_cubic.c) private state */
struct cc_cubic_priv {
	uint64_t epoch_start_us;  /* start of this avoidance stage; 0 = not yet */
	uint64_t k_us;            /* time from epoch start to the plateau */
	uint64_t w_est_fp;        /* Reno-friendly estimate, bytes << 10 */
	uint32_t w_max;           /* bytes: window at the last reduction */
	uint32_t cwnd_prior;      /* bytes: cwnd just before that reduction */
	uint32_t origin;          /* bytes: plateau of the current curve */
	bool after_timeout;       /* next epoch starts at K = 0 */
};

/* DCTCP (cc_dctcp.c) private state */
struct cc_dctcp_priv {
	uint64_t acked_total;     /* bytes acked since init (own running sum) */
	uint64_t window_end;      /* acked_total that closes this alpha window */
	uint64_t win_acked;       /* bytes acked in this alpha window */
	uint64_t win_marked;      /* of them with ECN-Echo */
	uint64_t cwr_end;         /* no further ECN reduction before this */
	uint32_t alpha;           /* fraction of marked bytes, << 20 */
};

/* TIMELY (cc_timely.c) private state */
struct cc_timely_priv {
	uint64_t last_update_us;  /* when the rate last changed; 0 = never */
	int64_t rtt_diff;         /* EWMA of RTT differences, us << 10 */
	uint32_t prev_rtt_us;     /* sample of the previous update, 0 = none */
	uint32_t min_rtt_us;      /* smallest sample seen, 0 = none */
	uint32_t neg_count;       /* consecutive updates with gradient <= 0 */
};

/**
 * struct cc_state - per-flow congestion state, embedded in the slowpath's
 * connection record (zeroed when the connection is created).
 * @cwnd: window the fastpath enforces, bytes.
 * @ssthresh: bytes; UINT32_MAX until the first reduction.
 * @mss: payload bytes per segment.
 * @rate_bps: pacing rate in bits per second; 0 = no pacing, the window alone
 *            limits the flow.  Window-only algorithms leave it 0.
 * @aux: remainder of the Reno-style "one MSS per window" increase, so small
 *       ticks still add up (NewReno, DCTCP, CUBIC's curve steps).
 * @ecn_seen: caller's bookkeeping, not the algorithm's: the fastpath's
 *            cumulative ECN-acked counter at the last on_ack, so the caller
 *            can turn it into the per-call @ecn_acked.  init leaves it alone.
 * @u: algorithm-private state; only the algorithm that owns the flow
 *     touches its member.
 */
struct cc_state {
	uint32_t cwnd;
	uint32_t ssthresh;
	uint32_t mss;
	uint64_t rate_bps;
	uint64_t aux;
	uint64_t ecn_seen;
	union {
		struct cc_cubic_priv cubic;
		struct cc_dctcp_priv dctcp;
		struct cc_timely_priv timely;
	} u;
};

/**
 * struct cc_ops - one congestion-control algorithm.
 * @name: as named in the config ([tcp] cc).
 * @init: set the initial window (and rate) for a new flow.
 * @on_ack: new bytes were acknowledged; see struct cc_ack_sample.
 * @on_fast_retx: the fastpath entered fast recovery; @inflight bytes were
 *                outstanding, @now_us as in struct cc_ack_sample.
 * @on_timeout: the retransmission timer fired with @inflight outstanding.
 * @on_undo: optional; the state from before a timeout was just restored,
 *           the timeout having proved needless (F-RTO): restart whatever
 *           runs on the clock, which went on meanwhile.
 *
 * After any call the caller publishes cc_state.cwnd and cc_state.rate_bps
 * to the fastpath.
 */
struct cc_ops {
	const char *name;
	bool wants_ecn;   /* reacts to ECN marks itself: active opens ask for ECN */
	void (*init)(struct cc_state *s, uint32_t mss, uint32_t init_segs);
	void (*on_ack)(struct cc_state *s, const struct cc_ack_sample *a);
	void (*on_fast_retx)(struct cc_state *s, uint64_t inflight, uint64_t now_us);
	void (*on_timeout)(struct cc_state *s, uint64_t inflight, uint64_t now_us);
	void (*on_undo)(struct cc_state *s);
};

/* registry and Reno helpers, in cc_newreno.c (kernel-doc there) */
const struct cc_ops *cc_find(const char *name);
const char *cc_names(char *buf, size_t len);
void cc_reno_grow(struct cc_state *s, uint64_t acked);
uint32_t cc_half_inflight(const struct cc_state *s, uint64_t inflight);

extern const struct cc_ops cc_newreno;
extern const struct cc_ops cc_cubic;
extern const struct cc_ops cc_dctcp;
extern const struct cc_ops cc_timely;

#endif
