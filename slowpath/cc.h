/* SPDX-License-Identifier: MIT */
/*
 * cc.h - pluggable congestion control.  The slowpath runs an algorithm per
 * flow from the fastpath's counters (bytes acked, fast retransmits, ECN
 * echoes, RTT) on every tick and publishes a window the fastpath enforces.
 */
#ifndef SP_CC_H
#define SP_CC_H

#include <stdint.h>
#include <stdbool.h>

struct cc_state {
	uint32_t cwnd;      /* bytes */
	uint32_t ssthresh;  /* bytes */
	uint32_t mss;
	uint32_t alpha;     /* algorithm private (e.g. DCTCP alpha << 10) */
	uint64_t aux;
};

/**
 * struct cc_ops - one congestion-control algorithm.
 * @name: as named in the config ([tcp] cc).
 * @init: set the initial window for a new flow.
 * @on_ack: @acked new bytes acknowledged since the last call, @ecn_acked of
 *          them with ECN echo, @rtt_us latest sample (0 = none).
 * @on_fast_retx: the fastpath entered fast recovery; @inflight bytes.
 * @on_timeout: the retransmission timer fired.
 */
struct cc_ops {
	const char *name;
	void (*init)(struct cc_state *s, uint32_t mss, uint32_t init_segs);
	void (*on_ack)(struct cc_state *s, uint64_t acked, uint64_t ecn_acked, uint32_t rtt_us);
	void (*on_fast_retx)(struct cc_state *s, uint64_t inflight);
	void (*on_timeout)(struct cc_state *s, uint64_t inflight);
};

/** cc_find - the algorithm called @name, or NULL. */
const struct cc_ops *cc_find(const char *name);

extern const struct cc_ops cc_newreno;

#endif
