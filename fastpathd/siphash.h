/* SPDX-License-Identifier: MIT */
/*
 * siphash.h - SipHash-2-4 (Aumasson and Bernstein) of three 64-bit words,
 * the keyed hash behind what an attacker must not compute or predict
 * without the key: SYN cookies and initial sequence numbers (slowpath/),
 * the IP ID counter a destination's fragmentable segments take
 * (tcp_out.c).  Pure, so the unit tests check it against the reference
 * vector.
 */
#ifndef SP_SIPHASH_H
#define SP_SIPHASH_H

#include <stdint.h>

/* a key: two words from getrandom() at start */
struct siphash_key {
	uint64_t k[2];
};

#define SIPHASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPHASH_ROUND do { \
		v0 += v1; v1 = SIPHASH_ROTL(v1, 13); v1 ^= v0; v0 = SIPHASH_ROTL(v0, 32); \
		v2 += v3; v3 = SIPHASH_ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = SIPHASH_ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = SIPHASH_ROTL(v1, 17); v1 ^= v2; v2 = SIPHASH_ROTL(v2, 32); \
	} while (0)

/**
 * siphash24_3u64 - SipHash-2-4 under key @k of the 24 bytes @a, @b, @c
 * (each little-endian, as the reference implementation reads them).
 */
static inline uint64_t siphash24_3u64(const uint64_t k[2], uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t v0 = 0x736f6d6570736575ull ^ k[0];
	uint64_t v1 = 0x646f72616e646f6dull ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ull ^ k[0];
	uint64_t v3 = 0x7465646279746573ull ^ k[1];
	uint64_t m[4] = { a, b, c, (uint64_t)24 << 56 };

	for (int i = 0; i < 4; i++) {
		v3 ^= m[i];
		SIPHASH_ROUND;
		SIPHASH_ROUND;
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	SIPHASH_ROUND;
	SIPHASH_ROUND;
	SIPHASH_ROUND;
	SIPHASH_ROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

#endif
