// SPDX-License-Identifier: MIT
/*
 * syncookie.c - SYN cookies, after Linux's (net/ipv4/syncookies.c).
 *
 * The 32-bit ISN is
 *
 *   H(k, 0, tuple) + irs + (t << 24) + ((H(k, t, tuple, irs) + data) & 0xffffff)
 *
 * with H SipHash-2-4 under a key drawn at start, t a clock that ticks
 * every SYNCOOKIE_PERIOD_S seconds and data the handshake's options.  To
 * check, subtract the first two terms: the top byte gives t back (only the
 * last SYNCOOKIE_MAX_AGE + 1 values are accepted), and subtracting the
 * second hash from the low 24 bits must leave a valid data value.
 *
 * What data holds, and why.  Linux encodes only the MSS (2 bits) in the
 * ISN and puts window scale, SACK and ECN in the TCP timestamp; bypass
 * declines timestamps, so without encoding them here a cookie connection
 * would lose all three (64 KiB windows, no SACK recovery, no DCTCP).  We
 * trade hash bits for them instead:
 *
 *   bits 0-2  MSS, index into syncookie_mss_table (rounded down)
 *   bits 3-6  peer window scale 0..14, 15 = not offered (exact: scaling
 *             the peer's window by any other shift would be wrong)
 *   bit  7    SACK-permitted
 *   bit  8    ECN-setup SYN
 *
 * so data < 512 and 15 of the 24 low bits check the hash.  A blind
 * attacker guessing a cookie for a given tuple and ISN succeeds with
 * probability 2^-15 * 3/256 ~ 2^-21 per ACK (Linux: 2^-22 * 3/256); it
 * gains only a connection from an address it cannot hear from, the same
 * reach as guessing a live connection's sequence number.  The ACK-side
 * check runs only while cookies were sent recently (synq.c), so a host
 * not under a flood accepts no cookie at all.
 */
#include "siphash.h"
#include "syncookie.h"

/* MSS values a cookie can carry: 48 is the smallest we accept
 * (SP_MIN_SND_MSS), 536 the RFC 879 default, then common path MSSes
 * (tunnels, PPPoE, Ethernet) and jumbo frames */
static const uint16_t mss_table[8] = { 48, 536, 1220, 1300, 1400, 1440, 1460, 8960 };

/*
 * The second hash also covers the peer's ISN (Linux's does not): there
 * the ISN is only added in, so an ACK whose seq is off by a few would
 * still pass with different options.
 */
static uint32_t cookie_hash(const struct siphash_key *key, uint32_t saddr, uint32_t daddr,
			    uint16_t sport, uint16_t dport, uint32_t count, uint32_t irs)
{
	uint64_t a = (uint64_t)saddr << 32 | daddr;
	uint64_t b = (uint64_t)sport << 48 | (uint64_t)dport << 32 | count;
	return (uint32_t)siphash24_3u64(key->k, a, b, irs);
}

uint32_t syncookie_make(const struct siphash_key *key, uint32_t saddr, uint32_t daddr,
			uint16_t sport, uint16_t dport, uint32_t irs, uint32_t now,
			struct syncookie_opts *o)
{
	unsigned mi = 0;
	for (unsigned i = 1; i < 8; i++)
		if (o->mss >= mss_table[i])
			mi = i;
	o->mss = mss_table[mi];
	if (o->wscale > 14)
		o->wscale = 14; /* RFC 7323: a larger shift is used as 14 */
	unsigned ws = o->wscale < 0 ? 15u : (unsigned)o->wscale;
	uint32_t data = mi | ws << 3 | (o->sack ? 1u << 7 : 0) | (o->ecn ? 1u << 8 : 0);

	return cookie_hash(key, saddr, daddr, sport, dport, 0, 0) + irs + (now << 24) +
	       ((cookie_hash(key, saddr, daddr, sport, dport, now, irs) + data) & 0xffffff);
}

enum syncookie_verdict syncookie_check(const struct siphash_key *key, uint32_t saddr,
				       uint32_t daddr, uint16_t sport, uint16_t dport,
				       uint32_t irs, uint32_t cookie, uint32_t now,
				       struct syncookie_opts *o)
{
	uint32_t c = cookie - cookie_hash(key, saddr, daddr, sport, dport, 0, 0) - irs;
	uint32_t age = (now - (c >> 24)) & 0xff;
	/* the age is only as trustworthy as the hash below: an aged-out
	 * cookie is still checked, so "expired" means "ours, but old" */
	uint32_t made = now - age;
	uint32_t data = (c - cookie_hash(key, saddr, daddr, sport, dport, made, irs)) & 0xffffff;
	if (data >= 512)
		return SYNCOOKIE_FORGED;
	if (age > SYNCOOKIE_MAX_AGE)
		return SYNCOOKIE_EXPIRED;
	unsigned ws = (data >> 3) & 15;
	if (ws == 15)
		o->wscale = -1;
	else if (ws <= 14)
		o->wscale = (int8_t)ws;
	o->mss = mss_table[data & 7];
	o->sack = (data >> 7) & 1;
	o->ecn = (data >> 8) & 1;
	return SYNCOOKIE_OK;
}
