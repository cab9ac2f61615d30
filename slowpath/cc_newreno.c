// SPDX-License-Identifier: MIT
/*
 * cc_newreno.c - NewReno (RFC 5681/6582) window control, applied to the
 * fastpath's aggregated ACK counters, and the algorithm registry.
 */
#include <string.h>

#include "cc.h"

static void nr_init(struct cc_state *s, uint32_t mss, uint32_t init_segs)
{
	s->mss = mss;
	s->cwnd = mss * init_segs;
	s->ssthresh = UINT32_MAX;
	s->aux = 0;
}

static void nr_on_ack(struct cc_state *s, uint64_t acked, uint64_t ecn_acked, uint32_t rtt_us)
{
	uint64_t cwnd = s->cwnd;
	if (cwnd < s->ssthresh) {
		/* slow start, but never past ssthresh in one step */
		cwnd += acked;
		if (cwnd > s->ssthresh)
			cwnd = s->ssthresh;
	} else {
		/* congestion avoidance: one MSS per window acked; aux keeps
		 * the remainder so small ticks still add up */
		s->aux += acked * s->mss;
		cwnd += s->aux / cwnd;
		s->aux %= cwnd;
	}
	if (cwnd > (1u << 30))
		cwnd = 1u << 30;
	s->cwnd = (uint32_t)cwnd;
}

static uint32_t half_inflight(const struct cc_state *s, uint64_t inflight)
{
	uint64_t h = inflight / 2;
	if (h < 2 * (uint64_t)s->mss)
		h = 2 * (uint64_t)s->mss;
	return (uint32_t)h;
}

static void nr_on_fast_retx(struct cc_state *s, uint64_t inflight)
{
	s->ssthresh = half_inflight(s, inflight);
	s->cwnd = s->ssthresh;
	s->aux = 0;
}

static void nr_on_timeout(struct cc_state *s, uint64_t inflight)
{
	s->ssthresh = half_inflight(s, inflight);
	s->cwnd = s->mss;
	s->aux = 0;
}

const struct cc_ops cc_newreno = {
	.name = "newreno",
	.init = nr_init,
	.on_ack = nr_on_ack,
	.on_fast_retx = nr_on_fast_retx,
	.on_timeout = nr_on_timeout,
};

static const struct cc_ops *const algorithms[] = { &cc_newreno };

const struct cc_ops *cc_find(const char *name)
{
	for (unsigned i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		if (!strcmp(algorithms[i]->name, name))
			return algorithms[i];
	return NULL;
}
