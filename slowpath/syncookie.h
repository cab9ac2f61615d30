/* SPDX-License-Identifier: MIT */
/*
 * syncookie.h - stateless SYN-ACKs: the handshake's parameters live in our
 * ISN, under a keyed hash, until the final ACK brings them back.  Pure
 * functions (no DPDK), so the unit tests drive them with any key and time.
 */
#ifndef SP_SYNCOOKIE_H
#define SP_SYNCOOKIE_H

#include <stdbool.h>
#include <stdint.h>

#include "siphash.h" /* fastpathd/ */

/* a cookie is valid for this many clock periods after the one it was made in */
#define SYNCOOKIE_MAX_AGE 2
/* one clock period, seconds (Linux: 60) */
#define SYNCOOKIE_PERIOD_S 64

/* what a cookie carries besides the 4-tuple and the peer's ISN */
struct syncookie_opts {
	uint16_t mss;   /* the peer's MSS, rounded down to syncookie_mss_table */
	int8_t wscale;  /* the peer's window scale, -1 = not offered */
	bool sack;      /* SACK-permitted */
	bool ecn;       /* ECN-setup SYN */
};

enum syncookie_verdict {
	SYNCOOKIE_OK = 0,
	SYNCOOKIE_FORGED,   /* hash does not match: not one of ours */
	SYNCOOKIE_EXPIRED,  /* ours, but older than SYNCOOKIE_MAX_AGE periods */
};

/** syncookie_clock - the cookie time counter at @tsc (periods since boot). */
static inline uint32_t syncookie_clock(uint64_t tsc, uint64_t hz)
{
	return (uint32_t)(tsc / hz / SYNCOOKIE_PERIOD_S);
}

/**
 * syncookie_make - our ISN for a SYN-ACK that keeps no state.
 * @o: in: the SYN's options; out: what the cookie really encodes (MSS
 *     rounded down to the table), which is what the SYN-ACK must offer.
 * Addresses and ports as on the wire of the SYN (saddr = the peer).
 */
uint32_t syncookie_make(const struct siphash_key *key, uint32_t saddr, uint32_t daddr,
			uint16_t sport, uint16_t dport, uint32_t irs, uint32_t now,
			struct syncookie_opts *o);

/**
 * syncookie_check - is @cookie (the final ACK's ack - 1) one we made for
 * this tuple and peer ISN @irs (the ACK's seq - 1) within the last
 * SYNCOOKIE_MAX_AGE periods?  On SYNCOOKIE_OK, @o gets its options.
 */
enum syncookie_verdict syncookie_check(const struct siphash_key *key, uint32_t saddr,
				       uint32_t daddr, uint16_t sport, uint16_t dport,
				       uint32_t irs, uint32_t cookie, uint32_t now,
				       struct syncookie_opts *o);

#endif
