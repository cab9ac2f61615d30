/* SPDX-License-Identifier: MIT */
/* seq.h - TCP sequence-number arithmetic modulo 2^32 (RFC 793 / RFC 1982). */
#ifndef FP_SEQ_H
#define FP_SEQ_H

#include <stdint.h>
#include <stdbool.h>

/* signed distance from b to a; positive when a is after b */
static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static inline bool seq_lt(uint32_t a, uint32_t b) { return seq_diff(a, b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return seq_diff(a, b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return seq_diff(a, b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return seq_diff(a, b) >= 0; }

/* is seq within [lo, lo + len) ? */
static inline bool seq_in_window(uint32_t seq, uint32_t lo, uint32_t len)
{
	return (uint32_t)(seq - lo) < len;
}

/*
 * Is @seq one of ours in flight: in [snd_una, snd_max), snd_max counting a
 * FIN sent (@fin_sent)?  @acked and @max_sent are the flow's stream
 * positions of snd_una and snd_max, @isn its initial sequence number.  A
 * crossed pair (@acked > @max_sent, two relaxed loads read apart) is never
 * in flight.
 */
static inline bool seq_in_flight(uint32_t seq, uint32_t isn, uint64_t acked, uint64_t max_sent,
				 bool fin_sent)
{
	if (acked > max_sent)
		return false;
	uint32_t una = isn + 1 + (uint32_t)acked;
	return (uint64_t)(uint32_t)(seq - una) < max_sent - acked + fin_sent;
}

static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
static inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }

#endif
