// SPDX-License-Identifier: MIT
/*
 * test_buffer_accounting.c - the byte-ring math both the daemon and the
 * client library use on the per-slot rx/tx buffers (fastpathd/ring_copy.h).
 *
 * Off-by-one errors here corrupt application data silently, so copies are
 * checked at every split point of a small ring, and the free-space math is
 * checked with counters on both sides of 2^64 and with hostile values.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ring_copy.h"

#define RSZ 16u
#define GUARD 32

/* ring storage with guard bytes on both sides */
struct gring {
	uint8_t pre[GUARD];
	uint8_t r[RSZ];
	uint8_t post[GUARD];
};

static void gring_init(struct gring *g)
{
	memset(g->pre, 0xee, GUARD);
	memset(g->r, 0, RSZ);
	memset(g->post, 0xee, GUARD);
}

static void gring_check(const struct gring *g)
{
	int i;

	for (i = 0; i < GUARD; i++) {
		cr_assert_eq(g->pre[i], 0xee, "underrun at -%d", GUARD - i);
		cr_assert_eq(g->post[i], 0xee, "overrun at +%d", i);
	}
}

static void copy_in_every_split(uint64_t base, uint32_t shift)
{
	uint8_t src[RSZ], dst[RSZ + 1];
	struct gring g;
	uint32_t off, len, i;

	for (i = 0; i < RSZ; i++)
		src[i] = (uint8_t)(0xa0 + i);
	for (off = 0; off < 2 * RSZ; off++) {
		for (len = 0; len <= RSZ; len++) {
			uint64_t pos = base + off;

			gring_init(&g);
			ring_copy_in(g.r, RSZ, shift, pos, src, len);
			gring_check(&g);
			for (i = 0; i < RSZ; i++) {
				uint32_t rel = (uint32_t)((i - (pos - shift)) & (RSZ - 1));
				uint8_t want = rel < len ? src[rel] : 0;

				cr_assert_eq(g.r[i], want, "pos %llu len %u byte %u",
					     (unsigned long long)pos, len, i);
			}
			memset(dst, 0x55, sizeof(dst));
			ring_copy_out(dst, g.r, RSZ, shift, pos, len);
			cr_assert(memcmp(dst, src, len) == 0, "pos %llu len %u",
				  (unsigned long long)pos, len);
			cr_assert_eq(dst[len], 0x55, "copy_out wrote past len");
		}
	}
}

Test(ring_copy, every_split_point)
{
	copy_in_every_split(0, 0);
}

Test(ring_copy, every_split_point_shifted)
{
	/* a shift places position shift at offset 0 (bp_ring_off()) */
	copy_in_every_split(0, 5);
	copy_in_every_split(1000, RSZ - 1);
	cr_assert_eq(bp_ring_off(1000, bp_ring_shift_to_start(1000, RSZ), RSZ), 0);
	cr_assert_eq(bp_ring_off(1003, bp_ring_shift_to_start(1000, RSZ), RSZ), 3);
}

Test(ring_copy, every_split_point_near_2_64)
{
	copy_in_every_split(UINT64_MAX - RSZ, 7);
}

Test(ring_copy, every_split_point_above_2_32)
{
	/* positions must not be truncated to 32 bits before masking */
	copy_in_every_split((1ull << 32) - 7, 0);
	copy_in_every_split((1ull << 32) - 7, bp_ring_shift_to_start((1ull << 32) - 7, RSZ));
}

Test(ring_copy, zero_length_touches_nothing)
{
	struct gring g;
	uint8_t d = 0x42;

	gring_init(&g);
	memset(g.r, 0x11, RSZ);
	ring_copy_in(g.r, RSZ, 3, 15, "x", 0);
	ring_copy_out(&d, g.r, RSZ, 3, 15, 0);
	cr_assert_eq(d, 0x42);
	for (int i = 0; i < (int)RSZ; i++)
		cr_assert_eq(g.r[i], 0x11);
	gring_check(&g);
}

Test(ring_copy, stream_through_small_ring)
{
	/* a byte stream pushed through a ring in odd-sized chunks, both counters
	 * starting just below 2^64 so they overflow midway */
	static uint8_t in[20000], out[20000];
	struct gring g;
	uint64_t written = UINT64_MAX - 300, consumed = written;
	size_t sent = 0, got = 0, restarts = 0;
	uint32_t k = 1, shift = 0;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 31 + (i >> 8));
	gring_init(&g);
	while (got < sizeof(in)) {
		uint64_t fr = ring_free(RSZ, written, consumed);
		uint32_t n = (k = k * 1103515245u + 12345u) >> 28; /* 0..15 */

		if (n > fr)
			n = (uint32_t)fr;
		if (n > sizeof(in) - sent)
			n = (uint32_t)(sizeof(in) - sent);
		if (written == consumed && n) { /* empty: start over, as the daemon does */
			shift = bp_ring_shift_to_start(written, RSZ);
			restarts++;
		}
		ring_copy_in(g.r, RSZ, shift, written, in + sent, n);
		written += n;
		sent += n;
		cr_assert_leq(ring_used(written, consumed), RSZ);

		n = (k = k * 1103515245u + 12345u) >> 27; /* 0..31 */
		if (n > ring_used(written, consumed))
			n = (uint32_t)ring_used(written, consumed);
		ring_copy_out(out + got, g.r, RSZ, shift, consumed, n);
		consumed += n;
		got += n;
	}
	gring_check(&g);
	cr_assert(memcmp(in, out, sizeof(in)) == 0);
	cr_assert_lt(written, 1u << 20, "counters did wrap past 2^64");
	cr_assert_gt(restarts, 10, "the ring never started over");
}

/* ---------------------------------------------------------- accounting */

Test(ring_math, empty_and_full)
{
	cr_assert_eq(ring_used(0, 0), 0);
	cr_assert_eq(ring_free(RSZ, 0, 0), RSZ);
	cr_assert_eq(ring_used(16, 0), 16);
	cr_assert_eq(ring_free(RSZ, 16, 0), 0);
	cr_assert_eq(ring_free(RSZ, 10, 4), 10);
	cr_assert_eq(ring_free(RSZ, 1000016, 1000000), 0);
	cr_assert_eq(ring_free(RSZ, 1000015, 1000000), 1);
	cr_assert_eq(ring_free(RSZ, 1000000, 1000000), RSZ);
}

Test(ring_math, across_2_64)
{
	uint64_t consumed = UINT64_MAX - 2; /* 3 bytes before the wrap */

	cr_assert_eq(ring_used(5, consumed), 8);
	cr_assert_eq(ring_free(RSZ, 5, consumed), 8);
	cr_assert_eq(ring_used(UINT64_MAX, UINT64_MAX), 0);
	cr_assert_eq(ring_free(RSZ, 0, UINT64_MAX - 15), 0);
	cr_assert_eq(ring_free(RSZ, 0, UINT64_MAX - 14), 1);
	cr_assert_eq(ring_free(RSZ, 0, 0 - (uint64_t)RSZ), 0);
}

Test(ring_math, hostile_counters_never_give_room)
{
	/* consumer claims to be ahead of the writer */
	cr_assert_eq(ring_free(RSZ, 100, 101), 0);
	cr_assert_eq(ring_free(RSZ, 100, UINT64_MAX), 0);
	cr_assert_eq(ring_free(RSZ, 0, 1), 0);
	/* consumer far behind: more than a ring's worth outstanding */
	cr_assert_eq(ring_free(RSZ, 100, 100 - RSZ - 1), 0);
	cr_assert_eq(ring_free(RSZ, 1ull << 40, 0), 0);
	/* exactly 2^63 apart in either direction */
	cr_assert_eq(ring_free(RSZ, 1ull << 63, 0), 0);
	cr_assert_eq(ring_free(RSZ, 0, 1ull << 63), 0);
}

Test(ring_math, large_ring)
{
	uint32_t big = 1u << 31;
	uint64_t base = 0xfffffffff0000000ull;

	cr_assert_eq(ring_free(big, base, base), big);
	cr_assert_eq(ring_free(big, base + big, base), 0);
	cr_assert_eq(ring_free(big, base + big - 1, base), 1);
	cr_assert_eq(ring_free(big, base + big + 1, base), 0);
	cr_assert_eq(ring_free(UINT32_MAX, 0, 0), UINT32_MAX);
}

Test(ring_math, free_plus_used_is_size)
{
	uint64_t c;
	uint32_t u;

	for (c = UINT64_MAX - 40; c != 40; c++)
		for (u = 0; u <= RSZ; u++)
			cr_assert_eq(ring_free(RSZ, c + u, c) + ring_used(c + u, c), RSZ,
				     "consumed %llu used %u", (unsigned long long)c, u);
}
