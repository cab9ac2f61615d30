// SPDX-License-Identifier: MIT
/* SipHash-2-4 against its reference vector, and RFC 6528 ISNs (isn.h). */
#include <criterion/criterion.h>
#include "isn.h"

/* the reference implementation's key 00..0f and message 00..17 (24
 * bytes), as little-endian words; its vectors_sip64[24] */
Test(siphash, reference_vector)
{
	const uint64_t k[2] = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };
	cr_assert_eq(siphash24_3u64(k, 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull,
				    0x1716151413121110ull),
		     0xb8ad50c6f649af94ull);
}

static const struct siphash_key K = { { 0x0123456789abcdefull, 0xfedcba9876543210ull } };
#define LA 0x010012c6u /* 198.18.0.1, network order on a little-endian host */
#define RA 0x020012c6u

/* one tuple's ISNs move with the 64 ns clock, and only with it */
Test(isn, one_tuple_grows_with_the_clock)
{
	uint64_t t0 = 64ull * 1929012328; /* on a tick */
	uint32_t a = isn_make(&K, LA, 80, RA, 40000, t0);
	cr_assert_eq(isn_make(&K, LA, 80, RA, 40000, t0), a);
	cr_assert_eq(isn_make(&K, LA, 80, RA, 40000, t0 + 63), a, "a tick is 64 ns");
	cr_assert_eq(isn_make(&K, LA, 80, RA, 40000, t0 + 64 * 1000000ull), a + 1000000u);
	/* 64 ns * 2^32: 4.6 minutes to wrap */
	cr_assert_eq(isn_make(&K, LA, 80, RA, 40000, t0 + (64ull << 32)), a);
}

/* what a connection of his own shows an attacker says nothing about the
 * ISN of the next port, the next address or the other direction */
Test(isn, neighbouring_tuples_are_not_neighbouring_isns)
{
	uint64_t t = 5000000000ull;
	unsigned close = 0;
	for (uint16_t p = 40000; p < 41000; p++) {
		uint32_t a = isn_make(&K, LA, 80, RA, p, t);
		uint32_t b = isn_make(&K, LA, 80, RA, (uint16_t)(p + 1), t);
		uint32_t c = isn_make(&K, LA, 80, RA + (1u << 24), p, t);
		uint32_t d = isn_make(&K, RA, p, LA, 80, t);
		int32_t ab = (int32_t)(b - a), ac = (int32_t)(c - a), ad = (int32_t)(d - a);
		if (ab > -65536 && ab < 65536)
			close++;
		if (ac > -65536 && ac < 65536)
			close++;
		if (ad > -65536 && ad < 65536)
			close++;
	}
	/* a random pair is that close with probability 2^-15: 3,000 pairs
	 * give 0.09 on average; a linear generator gives thousands */
	cr_assert_leq(close, 2, "%u of 3000 neighbouring tuples had ISNs within 2^16", close);
}

Test(isn, another_key_another_isn)
{
	const struct siphash_key k2 = { { K.k[0] ^ 1, K.k[1] } };
	unsigned same = 0;
	for (uint16_t p = 1; p < 1000; p++)
		same += isn_make(&K, LA, 80, RA, p, 0) == isn_make(&k2, LA, 80, RA, p, 0);
	cr_assert_eq(same, 0);
}

/* where an active open's port search starts: unrelated across
 * destinations (address or port), the same for one */
Test(isn, port_search_starts_unrelated_across_destinations)
{
	uint32_t a = (uint32_t)port_hash(&K, LA, RA, 80);
	cr_assert_eq((uint32_t)port_hash(&K, LA, RA, 80), a);
	unsigned near = 0;
	for (uint16_t p = 1; p < 1000; p++) {
		int32_t d = (int32_t)((uint32_t)port_hash(&K, LA, RA, (uint16_t)(80 + p)) - a);
		int32_t e = (int32_t)((uint32_t)port_hash(&K, LA, RA + p, 80) - a);
		near += (d > -65536 && d < 65536) + (e > -65536 && e < 65536);
	}
	cr_assert_leq(near, 2, "%u of 2000 destinations started within 2^16 of another", near);
}
