// SPDX-License-Identifier: MIT
/*
 * cc_newreno.c - NewReno (RFC 5681/6582) window control, applied to the
 * fastpath's aggregated ACK counters, the Reno helpers other window-based
 * algorithms reuse, and the algorithm registry.
 */
#include <stdio.h>
#include <string.h>

#include "cc.h"

/**
 * cc_reno_grow - Reno growth for @acked bytes: slow start below ssthresh
 * (never past it in one step), then one MSS per window acked.
 * @s: flow state; @cwnd and @aux are updated.
 * @acked: bytes newly acknowledged.
 */
void cc_reno_grow(struct cc_state *s, uint64_t acked)
{
	uint64_t cwnd = s->cwnd;

	if (cwnd < s->ssthresh) {
		cwnd += acked;
		if (cwnd > s->ssthresh)
			cwnd = s->ssthresh;
	} else {
		/* aux keeps the remainder so 1 ms ticks with few bytes each
		 * still add up to one MSS per window */
		s->aux += acked * s->mss;
		cwnd += s->aux / cwnd;
		s->aux %= cwnd;
	}
	if (cwnd > CC_MAX_CWND)
		cwnd = CC_MAX_CWND;
	s->cwnd = (uint32_t)cwnd;
}

/**
 * cc_half_inflight - half of @inflight, but at least two segments: the
 * RFC 5681 ssthresh after a loss.
 * @s: flow state (for the MSS).
 * @inflight: bytes outstanding when the loss was detected.
 *
 * Return: the new ssthresh in bytes.
 */
uint32_t cc_half_inflight(const struct cc_state *s, uint64_t inflight)
{
	uint64_t h = inflight / 2;

	if (h < 2 * (uint64_t)s->mss)
		h = 2 * (uint64_t)s->mss;
	if (h > CC_MAX_CWND)
		h = CC_MAX_CWND;
	return (uint32_t)h;
}

static void nr_init(struct cc_state *s, uint32_t mss, uint32_t init_segs)
{
	s->mss = mss;
	s->cwnd = mss * init_segs;
	s->ssthresh = UINT32_MAX;
	s->rate_bps = 0;
	s->aux = 0;
}

static void nr_on_ack(struct cc_state *s, const struct cc_ack_sample *a)
{
	if (!a->app_limited)
		cc_reno_grow(s, a->acked);
}

static void nr_on_fast_retx(struct cc_state *s, uint64_t inflight, uint64_t now_us)
{
	s->ssthresh = cc_half_inflight(s, inflight);
	s->cwnd = s->ssthresh;
	s->aux = 0;
}

static void nr_on_timeout(struct cc_state *s, uint64_t inflight, uint64_t now_us)
{
	s->ssthresh = cc_half_inflight(s, inflight);
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

static const struct cc_ops *const algorithms[] = {
	&cc_newreno, &cc_cubic, &cc_dctcp, &cc_timely,
};

#define N_ALGORITHMS (sizeof(algorithms) / sizeof(algorithms[0]))

/**
 * cc_find - look an algorithm up by name.
 * @name: as in the config, e.g. "cubic".
 *
 * Return: the algorithm called @name, or NULL.
 */
const struct cc_ops *cc_find(const char *name)
{
	for (size_t i = 0; i < N_ALGORITHMS; i++)
		if (!strcmp(algorithms[i]->name, name))
			return algorithms[i];
	return NULL;
}

/**
 * cc_names - list every registered algorithm, for error messages.
 * @buf: receives "newreno, cubic, ..." (always NUL-terminated if @len > 0).
 * @len: size of @buf.
 *
 * Return: @buf.
 */
const char *cc_names(char *buf, size_t len)
{
	size_t used = 0;

	if (!len)
		return buf;
	buf[0] = 0;
	for (size_t i = 0; i < N_ALGORITHMS && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 algorithms[i]->name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}
