// SPDX-License-Identifier: MIT
/*
 * isn.c - the slowpath's secrets: keys drawn from the kernel's CSPRNG, and
 * the initial sequence numbers made under one (isn.h).
 */
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <rte_common.h>
#include <rte_random.h>

#include "sp_internal.h"

/**
 * sp_secret - fill @buf with @len bytes from the kernel's CSPRNG
 * (rte_rand() is a linear generator that may be seeded from the TSC
 * alone: its output predicts the rest).  Only if the entropy pool is not
 * ready yet, at early boot, falls back to rte_rand().
 */
void sp_secret(void *buf, size_t len)
{
	if (getrandom(buf, len, GRND_NONBLOCK) == (ssize_t)len)
		return;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t r = rte_rand();
		memcpy((uint8_t *)buf + i, &r, len - i < 8 ? len - i : 8);
	}
}

/**
 * sp_random_u16 - 16 bits from the kernel's CSPRNG (sp_secret()), for
 * values drawn once per connection (its IP ID start): one getrandom()
 * serves 128 of them, so setting up a connection makes no syscall of its
 * own for it (Linux's get_random_u16() batches likewise).
 */
uint16_t sp_random_u16(struct sp *sp)
{
	if (!sp->random_left) {
		sp_secret(sp->random_pool, sizeof(sp->random_pool));
		sp->random_left = RTE_DIM(sp->random_pool);
	}
	return sp->random_pool[--sp->random_left];
}

/** sp_isn_init - a fresh ISN key (at slowpath start). */
void sp_isn_init(struct sp *sp)
{
	sp_secret(&sp->isn_key, sizeof(sp->isn_key));
}

/**
 * sp_isn - our ISN for the connection (@laddr, @lport) <-> (@raddr, @rport)
 * now (RFC 6528, isn.h): unpredictable to anyone without the key, and
 * growing with time for one tuple.
 */
uint32_t sp_isn(struct sp *sp, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return isn_make(&sp->isn_key, laddr, lport, raddr, rport, ns);
}
