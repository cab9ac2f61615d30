// SPDX-License-Identifier: MIT
/*
 * dp_role.c - which side of the fastpath/slowpath contract a thread is,
 * for the ownership checks of debug builds (DP_ASSERT_SP/FP in
 * dataplane.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "dataplane.h"

__thread uint8_t dp_self_role;
__thread uint16_t dp_self_core;

void dp_role_set(enum dp_role role, uint16_t core)
{
	dp_self_role = (uint8_t)role;
	dp_self_core = core;
}

static const char *role_name(unsigned int role)
{
	static const char *const names[] = { "no role", "the slowpath", "a fastpath thread" };

	return role < sizeof(names) / sizeof(names[0]) ? names[role] : "?";
}

void dp_role_violation(const char *func, enum dp_role want, int core)
{
	if (core >= 0)
		fprintf(stderr, "fastpathd: BUG: %s() must run on fastpath core %d, ran on %s "
			"(core %u)\n", func, core, role_name(dp_self_role), dp_self_core);
	else
		fprintf(stderr, "fastpathd: BUG: %s() must run on %s, ran on %s (core %u)\n",
			func, role_name(want), role_name(dp_self_role), dp_self_core);
	abort();
}
