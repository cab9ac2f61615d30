// SPDX-License-Identifier: MIT
/* SYN cookies: round trip of every option, forgeries, expiry. */
#include <criterion/criterion.h>
#include "syncookie.h"

static const struct siphash_key K = { { 0x0123456789abcdefull, 0xfedcba9876543210ull } };
#define SA 0x0a000002u
#define DA 0x0a000001u

Test(syncookie, round_trip_all_options)
{
	int8_t ws[] = { -1, 0, 7, 14, 20 };
	uint16_t mss[] = { 1, 48, 536, 1300, 1459, 1460, 9000 };
	uint16_t want_mss[] = { 48, 48, 536, 1300, 1440, 1460, 8960 };
	for (unsigned w = 0; w < 5; w++)
		for (unsigned m = 0; m < 7; m++)
			for (int flags = 0; flags < 4; flags++) {
				struct syncookie_opts o = { mss[m], ws[w], flags & 1, flags & 2 };
				uint32_t irs = 0x9000000u + w * 77 + m;
				uint32_t c = syncookie_make(&K, SA, DA, 40000, 80, irs, 1000, &o);
				struct syncookie_opts got = { 0 };
				cr_assert_eq(syncookie_check(&K, SA, DA, 40000, 80, irs, c, 1001, &got),
					     SYNCOOKIE_OK);
				cr_assert_eq(got.mss, want_mss[m]);
				cr_assert_eq(o.mss, want_mss[m]);
				cr_assert_eq(got.wscale, ws[w] > 14 ? 14 : ws[w]);
				cr_assert_eq(got.sack, (flags & 1) != 0);
				cr_assert_eq(got.ecn, (flags & 2) != 0);
			}
}

Test(syncookie, expires)
{
	struct syncookie_opts o = { 1460, 7, true, false }, got;
	uint32_t c = syncookie_make(&K, SA, DA, 40000, 80, 5, 1000, &o);
	for (uint32_t age = 0; age <= SYNCOOKIE_MAX_AGE; age++)
		cr_assert_eq(syncookie_check(&K, SA, DA, 40000, 80, 5, c, 1000 + age, &got),
			     SYNCOOKIE_OK);
	cr_assert_eq(syncookie_check(&K, SA, DA, 40000, 80, 5, c, 1000 + SYNCOOKIE_MAX_AGE + 1,
				     &got), SYNCOOKIE_EXPIRED);
	cr_assert_neq(syncookie_check(&K, SA, DA, 40000, 80, 5, c, 999, &got), SYNCOOKIE_OK,
		      "a cookie from the future");
	/* the clock wraps its 8 bits in the ISN without trouble */
	c = syncookie_make(&K, SA, DA, 40000, 80, 5, 255, &o);
	cr_assert_eq(syncookie_check(&K, SA, DA, 40000, 80, 5, c, 256, &got), SYNCOOKIE_OK);
}

Test(syncookie, forgeries_fail)
{
	struct syncookie_opts o = { 1460, 7, true, false }, got;
	uint32_t c = syncookie_make(&K, SA, DA, 40000, 80, 5, 1000, &o);
	cr_assert_neq(syncookie_check(&K, SA, DA, 40001, 80, 5, c, 1000, &got), SYNCOOKIE_OK);
	cr_assert_neq(syncookie_check(&K, SA + 1, DA, 40000, 80, 5, c, 1000, &got), SYNCOOKIE_OK);
	cr_assert_neq(syncookie_check(&K, SA, DA, 40000, 80, 6, c, 1000, &got), SYNCOOKIE_OK);
	struct siphash_key k2 = K;
	k2.k[1] ^= 1;
	cr_assert_neq(syncookie_check(&k2, SA, DA, 40000, 80, 5, c, 1000, &got), SYNCOOKIE_OK);
	/* blind guesses: the accept rate must be near 2^-21, far below 1/10000 */
	unsigned ok = 0;
	for (uint32_t g = 0; g < 200000; g++)
		ok += syncookie_check(&K, SA, DA, 40000, 80, 5, g * 2654435761u, 1000, &got) ==
		      SYNCOOKIE_OK;
	cr_assert_leq(ok, 5, "%u of 200000 random cookies accepted", ok);
}
