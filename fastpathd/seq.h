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

static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
static inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }

#endif
