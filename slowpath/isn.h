/* SPDX-License-Identifier: MIT */
/*
 * isn.h - what an off-path attacker must not predict about our connections:
 * initial sequence numbers as RFC 6528 (and Linux's secure_tcp_seq()) make
 * them, a clock that ticks every 64 ns plus a keyed hash of the 4-tuple,
 * and where an active open's search for a free ephemeral port starts
 * (RFC 6056's double-hash algorithm, as Linux's __inet_hash_connect()).
 *
 * Two properties matter.  An off-path attacker who opens connections of
 * his own learns nothing about the ISN of anyone else's tuple (the hash
 * under a key from getrandom()), so he cannot aim an RST, a data segment
 * or an ICMP error at a connection, or complete a handshake for a spoofed
 * address, short of guessing 32 bits.  And one tuple's ISNs grow with time
 * (the clock wraps in 4.6 minutes), RFC 793's reason for a clock; a SYN
 * that reopens a TIME_WAIT tuple gets an ISN a window past the old
 * connection's SND.NXT instead (conn.c), as on Linux, since a fast old
 * connection may have sent past where the clock is.
 * Pure, so the unit tests drive it with any key and time.
 */
#ifndef SP_ISN_H
#define SP_ISN_H

#include <stdint.h>

#include "siphash.h" /* fastpathd/ */

#define ISN_CLOCK_SHIFT 6 /* nanoseconds >> 6: a 64 ns tick, as Linux */
/* RFC 6056 algorithm 4's table, as large as Linux's since CVE-2022-32296
 * (a small one let connections to an attacker's own hosts map its
 * collisions: a fingerprint of the host, and a count of its connections) */
#define PORT_PERTURB_SIZE 65536

/**
 * isn_make - our ISN for the connection (@laddr, @lport) <-> (@raddr,
 * @rport) (addresses in network order, ports in host order) at @ns, a
 * monotonic clock in nanoseconds.
 */
static inline uint32_t isn_make(const struct siphash_key *key, uint32_t laddr, uint16_t lport,
				uint32_t raddr, uint16_t rport, uint64_t ns)
{
	uint64_t tuple = (uint64_t)laddr << 32 | raddr;
	uint64_t ports = (uint64_t)lport << 16 | rport;

	return (uint32_t)siphash24_3u64(key->k, tuple, ports, 0) + /* 1: port_hash() */
	       (uint32_t)(ns >> ISN_CLOCK_SHIFT);
}

/**
 * port_hash - for an active open from @laddr to (@raddr, @rport): the low
 * 32 bits are where its search for a free port starts (before the
 * destination's perturbation), the high ones pick that perturbation's
 * entry.  One destination's ports follow each other, so its TIME_WAIT
 * tuples are reused last; another destination's start anywhere, so a port
 * an attacker sees to his own server says nothing of the port to yours.
 */
static inline uint64_t port_hash(const struct siphash_key *key, uint32_t laddr, uint32_t raddr,
				 uint16_t rport)
{
	return siphash24_3u64(key->k, (uint64_t)laddr << 32 | raddr, rport, 1);
}

#endif
