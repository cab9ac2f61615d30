// SPDX-License-Identifier: MIT
/*
 * test_dp_role.c - the ownership checks of debug builds (DP_ASSERT_SP/FP in
 * fastpathd/dataplane.h): a function that owns one side's data aborts when
 * another thread role calls it, and runs when its owner does.
 */
#include <criterion/criterion.h>
#include <signal.h>

#include "dataplane.h"

static int fp_owned(void)
{
	DP_ASSERT_FP();
	return 1;
}

static int sp_owned(void)
{
	DP_ASSERT_SP();
	return 1;
}

static int core1_owned(void)
{
	DP_ASSERT_FP_CORE(1);
	return 1;
}

Test(dp_role, owner_runs)
{
	dp_role_set(DP_ROLE_FP, 1);
	cr_assert_eq(fp_owned(), 1);
	cr_assert_eq(core1_owned(), 1);
	dp_role_set(DP_ROLE_SP, 0);
	cr_assert_eq(sp_owned(), 1);
}

#ifndef NDEBUG
Test(dp_role, fastpath_function_on_slowpath_aborts, .signal = SIGABRT)
{
	dp_role_set(DP_ROLE_SP, 0);
	fp_owned();
}

Test(dp_role, slowpath_function_on_fastpath_aborts, .signal = SIGABRT)
{
	dp_role_set(DP_ROLE_FP, 0);
	sp_owned();
}

Test(dp_role, thread_without_role_aborts, .signal = SIGABRT)
{
	sp_owned();
}

Test(dp_role, flow_of_another_core_aborts, .signal = SIGABRT)
{
	dp_role_set(DP_ROLE_FP, 0);
	core1_owned();
}
#endif
