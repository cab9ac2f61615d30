// SPDX-License-Identifier: MIT
/*
 * The daemon's listener table is shared by every uid: one uid may hold at
 * most [apps] max_listeners of it, whether on ports of its own or by
 * joining one shared port again and again.
 */
#include "harness.h"

static void three_listeners(struct bp_config *c)
{
	c->max_listeners = 3;
}

static void start(void)
{
	h_start_with(three_listeners);
}

TestSuite(listen_limits, .init = start, .fini = h_stop, .timeout = 30);

Test(listen_limits, a_uid_holds_at_most_max_listeners)
{
	int l[3];
	for (int i = 0; i < 3; i++) {
		l[i] = bp_listen(H.app, 0, (uint16_t)(8300 + i), 16);
		cr_assert_geq(l[i], 0, "listener %d: %d", i, l[i]);
	}
	cr_assert_eq(bp_listen(H.app, 0, 8310, 16), -ENOBUFS);
	cr_assert_eq(bp_listen_flags(H.app, 0, 8311, 16, BP_LISTEN_SHARED), -ENOBUFS);
	cr_assert_eq(bp_close(H.app, l[1]), 0);
	int again = -1;
	WAIT_FOR((again = bp_listen(H.app, 0, 8312, 16)) >= 0, 2000);
}
