// SPDX-License-Identifier: MIT
/*
 * test_rpc_stats.c - fastpathd's per-core RPC call table (fp_rpc_count(),
 * struct dp_rpc_stat): method ids come from the wire, so a peer that sends
 * every one of them must not get one tenant's calls counted under
 * another's, nor leave the other tenants without a row of their own.
 */
#include <stdlib.h>
#include <criterion/criterion.h>

#include "bypass/rpc_wire.h"
#include "fastpath.h"

static struct dp_core *core;

static void setup(void)
{
	core = calloc(1, sizeof(*core));
	cr_assert_not_null(core);
}

static void teardown(void)
{
	free(core);
}

TestSuite(rpc_stats, .init = setup, .fini = teardown);

static void call(uint16_t tenant, uint16_t method)
{
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .method = method };
	fp_rpc_count(core, tenant, &h);
}

/* calls counted under @tenant's rows, and how many rows it has */
static uint64_t calls_of(uint32_t tenant, uint32_t *rows)
{
	uint64_t n = 0;
	*rows = 0;
	for (uint32_t i = 0; i < DP_RPC_STATS; i++) {
		const struct dp_rpc_stat *s = &core->rpc_stats[i];
		if (s->used && s->tenant == tenant) {
			n += s->calls;
			(*rows)++;
		}
	}
	return n;
}

Test(rpc_stats, each_method_has_its_row)
{
	uint32_t rows;

	call(3, 7);
	call(3, 7);
	call(3, 9);
	cr_assert_eq(calls_of(3, &rows), 3);
	cr_assert_eq(rows, 2);
	cr_assert_eq(core->rpc_stats[0].used, 0, "entry 0 is for a full table only");
}

Test(rpc_stats, a_peer_sending_every_method_fills_no_other_tenants_rows)
{
	uint32_t rows;

	/* tenant 1's peer: every 16-bit method id, twice */
	for (int round = 0; round < 2; round++)
		for (uint32_t m = 0; m <= 0xffff; m++)
			call(1, (uint16_t)m);
	cr_assert_eq(calls_of(1, &rows), 2 * 65536ull, "tenant 1's calls went elsewhere");
	cr_assert_leq(core->rpc_stats_used, DP_RPC_STATS - 1);

	/* a hundred other tenants still count their calls as their own */
	for (uint16_t t = 2; t < 102; t++) {
		call(t, 5);
		call(t, 6);
	}
	uint64_t placed = 0;
	for (uint16_t t = 2; t < 102; t++) {
		uint64_t n = calls_of(t, &rows);
		cr_assert(n == 0 || n == 2, "tenant %u: %llu calls", t, (unsigned long long)n);
		cr_assert_leq(rows, 1, "tenant %u named methods in a full table", t);
		placed += n;
	}
	cr_assert_geq(placed, 2 * 90, "few tenants found an \"other\" row: %llu calls placed",
		      (unsigned long long)placed);
	/* what found no row at all is nobody's */
	const struct dp_rpc_stat *z = &core->rpc_stats[0];
	cr_assert_eq(placed + (z->used ? z->calls : 0), 200);
	if (z->used) {
		cr_assert_eq(z->tenant, DP_RPC_OTHER_TENANT);
		cr_assert_eq(z->method, DP_RPC_OTHER);
	}
}
