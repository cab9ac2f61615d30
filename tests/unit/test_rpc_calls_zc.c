// SPDX-License-Identifier: MIT
/*
 * test_rpc_calls_zc.c - every test of test_rpc_calls.c again, over the
 * in-memory transport in zero-copy mode (FK_ZC: 64 KiB rings that wrap
 * often, reserve/commit and peek/consume as the bypass transport has
 * them), plus proof that the in-place paths are the ones taken.
 */
#define FK_ZC 1
#include "test_rpc_calls.c"

Test(rpc, zc_messages_go_in_place_both_ways)
{
	struct rpc_stats cs, ss;
	struct res r = { 0 };
	uint8_t body[3000];

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 13 + 1);
	/* 60 calls of ~3 KB wrap the 64 KiB rings several times */
	for (int k = 0; k < 60; k++) {
		struct iovec iov[2] = { { body, 1000 + (size_t)k }, { body + 1000 + k, 1999 - (size_t)k } };

		r.done = 0;
		cr_assert_eq(rpc_call(sess, M_ECHO, iov, 2, NULL, cont, &r, NULL), 0);
		spin_until(&r.done, 2000);
		cr_assert_eq(r.status, RPC_OK);
		cr_assert_eq(r.len, 2999);
		cr_assert_eq(memcmp(r.data, body, 2999), 0, "call %d", k);
	}
	free(r.data);
	rpc_endpoint_stats(cli, &cs);
	rpc_endpoint_stats(srv, &ss);
	cr_assert_geq(cs.zc_tx, 50, "client requests sent in place: %lu", (unsigned long)cs.zc_tx);
	cr_assert_geq(ss.zc_tx, 50, "server responses sent in place: %lu", (unsigned long)ss.zc_tx);
	cr_assert_gt(ss.zc_rx_bytes, 60 * 2999);
	cr_assert_gt(cs.zc_rx_bytes, 60 * 2999);
}
