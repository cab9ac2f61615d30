// SPDX-License-Identifier: MIT
/*
 * test_seq.c - TCP sequence arithmetic modulo 2^32.
 *
 * The interesting cases are across the wrap (0xfffffff0 is *before* 0x10)
 * and at exactly 2^31 apart, where RFC 1982 leaves the order undefined:
 * seq.h resolves it by the sign of the 32-bit difference, so a - b ==
 * 0x80000000 reads as "a before b" from BOTH sides.  The tests pin that
 * behaviour down so nobody changes it by accident; callers must never let
 * two live sequence numbers get that far apart (windows are < 2^30).
 */
#include <criterion/criterion.h>

#include "seq.h"

Test(seq, plain_order)
{
	cr_assert(seq_lt(1, 2));
	cr_assert(seq_leq(1, 2));
	cr_assert_not(seq_gt(1, 2));
	cr_assert_not(seq_geq(1, 2));
	cr_assert(seq_gt(2, 1));
	cr_assert(seq_geq(2, 1));
	cr_assert_eq(seq_diff(1000, 400), 600);
	cr_assert_eq(seq_diff(400, 1000), -600);
}

Test(seq, across_wraparound)
{
	uint32_t before = 0xfffffff0u, after = 0x10u;

	cr_assert(seq_lt(before, after));
	cr_assert(seq_leq(before, after));
	cr_assert(seq_gt(after, before));
	cr_assert(seq_geq(after, before));
	cr_assert_not(seq_gt(before, after));
	cr_assert_not(seq_lt(after, before));
	cr_assert_eq(seq_diff(after, before), 0x20);
	cr_assert_eq(seq_diff(before, after), -0x20);
	cr_assert(seq_lt(0xffffffffu, 0));
	cr_assert_eq(seq_diff(0, 0xffffffffu), 1);
}

Test(seq, equal_values)
{
	static const uint32_t v[] = { 0, 1, 0x7fffffffu, 0x80000000u, 0xffffffffu };
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		cr_assert_not(seq_lt(v[i], v[i]));
		cr_assert_not(seq_gt(v[i], v[i]));
		cr_assert(seq_leq(v[i], v[i]));
		cr_assert(seq_geq(v[i], v[i]));
		cr_assert_eq(seq_diff(v[i], v[i]), 0);
		cr_assert_eq(seq_max(v[i], v[i]), v[i]);
		cr_assert_eq(seq_min(v[i], v[i]), v[i]);
	}
}

Test(seq, largest_unambiguous_distance)
{
	uint32_t a = 0xfffffff0u;
	uint32_t b = a + 0x7fffffffu; /* 2^31 - 1 ahead, wraps */

	cr_assert(seq_lt(a, b));
	cr_assert(seq_gt(b, a));
	cr_assert_eq(seq_diff(b, a), 0x7fffffff);
	cr_assert_eq(seq_diff(a, b), -0x7fffffff);
}

Test(seq, exactly_half_the_space_apart)
{
	uint32_t a = 0x10, b = 0x80000010u;

	/*
	 * Documented ambiguity: the difference is INT32_MIN either way, so
	 * each value reads as "before" the other and neither is "after".
	 */
	cr_assert_eq(seq_diff(b, a), INT32_MIN);
	cr_assert_eq(seq_diff(a, b), INT32_MIN);
	cr_assert(seq_lt(a, b));
	cr_assert(seq_lt(b, a));
	cr_assert_not(seq_gt(a, b));
	cr_assert_not(seq_gt(b, a));
	/* max/min are then not symmetric: each returns its second argument */
	cr_assert_eq(seq_max(a, b), b);
	cr_assert_eq(seq_max(b, a), a);
	cr_assert_eq(seq_min(a, b), a);
	cr_assert_eq(seq_min(b, a), b);
}

Test(seq, max_min_across_wrap)
{
	cr_assert_eq(seq_max(0xfffffff0u, 0x10), 0x10);
	cr_assert_eq(seq_max(0x10, 0xfffffff0u), 0x10);
	cr_assert_eq(seq_min(0xfffffff0u, 0x10), 0xfffffff0u);
	cr_assert_eq(seq_min(0x10, 0xfffffff0u), 0xfffffff0u);
	cr_assert_eq(seq_max(5, 7), 7);
	cr_assert_eq(seq_min(5, 7), 5);
}

Test(seq, in_window)
{
	/* window [0xfffffff0, 0xfffffff0 + 0x20) spans the wrap */
	uint32_t lo = 0xfffffff0u, len = 0x20;

	cr_assert(seq_in_window(lo, lo, len), "left edge included");
	cr_assert(seq_in_window(0xffffffffu, lo, len));
	cr_assert(seq_in_window(0, lo, len));
	cr_assert(seq_in_window(0x0f, lo, len), "last byte");
	cr_assert_not(seq_in_window(0x10, lo, len), "right edge excluded");
	cr_assert_not(seq_in_window(lo - 1, lo, len), "just before");
	cr_assert_not(seq_in_window(0x80000000u, lo, len));
}

Test(seq, in_window_degenerate)
{
	/* zero-length window contains nothing, not even its left edge */
	cr_assert_not(seq_in_window(100, 100, 0));
	cr_assert_not(seq_in_window(0, 0, 0));
	/* a window of 1 contains exactly lo */
	cr_assert(seq_in_window(0xffffffffu, 0xffffffffu, 1));
	cr_assert_not(seq_in_window(0, 0xffffffffu, 1));
	/* the largest window covers everything except lo - 1 */
	cr_assert(seq_in_window(0xfffffffeu, 0, 0xffffffffu));
	cr_assert_not(seq_in_window(0xffffffffu, 0, 0xffffffffu));
}

Test(seq, sweep_consistency)
{
	uint32_t base, d, i;

	/* lt/gt/leq/geq agree with diff for bases on both sides of the wrap */
	for (i = 0, base = 0xffff0000u; i < 32; i++, base += 0x1001) {
		for (d = 1; d < 0x80000000u; d = d * 3 + 1) {
			uint32_t x = base + d;

			cr_assert(seq_lt(base, x), "base %#x d %#x", base, d);
			cr_assert(seq_gt(x, base));
			cr_assert(seq_leq(base, x));
			cr_assert(seq_geq(x, base));
			cr_assert_not(seq_geq(base, x));
			cr_assert_eq(seq_diff(x, base), (int32_t)d);
			cr_assert_eq(seq_max(base, x), x);
			cr_assert_eq(seq_min(x, base), base);
		}
	}
}

Test(seq, in_flight_is_snd_una_to_snd_max)
{
	uint32_t isn = 0xfffffff0u; /* positions 0.. start at isn + 1, across the wrap */
	cr_assert(!seq_in_flight(isn + 1, isn, 0, 0, false), "nothing sent");
	cr_assert(seq_in_flight(isn + 1, isn, 0, 100, false));
	cr_assert(seq_in_flight(isn + 100, isn, 0, 100, false));
	cr_assert(!seq_in_flight(isn + 101, isn, 0, 100, false), "snd_max itself");
	cr_assert(seq_in_flight(isn + 101, isn, 0, 100, true), "a FIN sent is in flight");
	cr_assert(!seq_in_flight(isn + 40, isn, 40, 100, false), "acked");
	cr_assert(seq_in_flight(isn + 41, isn, 40, 100, false));
	cr_assert(!seq_in_flight(isn + 41, isn, 100, 40, false), "a crossed pair");
	/* positions beyond 2^32: only their low 32 bits are on the wire */
	uint64_t far = 5ull << 32;
	cr_assert(seq_in_flight(isn + 1 + 10, isn, far, far + 20, false));
}
