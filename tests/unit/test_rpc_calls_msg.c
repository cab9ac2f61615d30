// SPDX-License-Identifier: MIT
/*
 * test_rpc_calls_msg.c - every test of test_rpc_calls.c again, over the
 * in-memory transport playing a daemon-framed session as bypass-msg is
 * (FK_MSG: whole messages in, each the transport's until msg_done; FK_PROMISE:
 * the shared send area out), plus the zero-copy rules of rpc/rx.c: a
 * response reaches its continuation where the transport put it, a request
 * keeps its message while msg_keep() allows, beyond that budget requests
 * are copied, and every message goes back exactly once.
 */
#define FK_MSG 1
#define FK_PROMISE 1
#include "test_rpc_calls.c"

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + seed);
}

Test(rpc, messages_are_read_in_place_and_given_back)
{
	static uint8_t body[50000];
	struct rpc_stats ss, cs;

	fill(body, sizeof(body), 1);
	echo_alternating(body, sizeof(body), 64);
	spin(20);
	rpc_endpoint_stats(srv, &ss);
	rpc_endpoint_stats(cli, &cs);
	cr_assert_geq(ss.zc_rx_msgs, 20, "requests read in place: %lu", (unsigned long)ss.zc_rx_msgs);
	cr_assert_geq(cs.zc_rx_msgs, 20, "responses read in place: %lu", (unsigned long)cs.zc_rx_msgs);
	cr_assert_geq(fk_msgs_kept, 20);
	cr_assert_eq(fk_kept, 0, "kept bytes all given back: %lu", (unsigned long)fk_kept);
	/* the CREDIT frames in flight aside, nothing is still out */
	cr_assert_leq(fk_msgs_out, 2, "messages never given back: %lu", fk_msgs_out);
}

Test(rpc, kept_requests_stay_within_the_transports_budget)
{
	enum { N = 8, LEN = 20000 };
	static uint8_t body[N][LEN];
	struct res r[N] = { 0 };
	struct rpc_stats ss;

	/* room for two requests (each LEN bytes of body, no metadata) */
	fk_keep_max = 2 * LEN + 100;
	for (int k = 0; k < N; k++) {
		struct iovec iov = { body[k], LEN };

		fill(body[k], LEN, (unsigned)k);
		cr_assert_eq(rpc_call(sess, M_HOLD, &iov, 1, NULL, cont, &r[k], NULL), 0);
	}
	uint64_t end = rpc_now_us() + 5000000;

	while (nheld < N && rpc_now_us() < end)
		spin(1);
	cr_assert_eq(nheld, N);
	cr_assert_eq(fk_msgs_kept, 2, "kept while the budget allowed: %lu", fk_msgs_kept);
	cr_assert_leq(fk_kept_peak, fk_keep_max);
	/* kept or copied, every handler sees its own bytes */
	for (int i = 0; i < N; i++) {
		const struct rpc_msg_view *m = rpc_req_msg(held[i]);
		int k;

		cr_assert_eq(m->len, LEN);
		for (k = 0; k < N && memcmp(m->data, body[k], LEN); k++)
			;
		cr_assert_lt(k, N, "request %d matches no body sent", i);
	}
	for (int i = 0; i < N; i++) {
		cr_assert_eq(rpc_respond(held[i], RPC_OK, NULL, 0, NULL, 0), 0);
		held[i] = NULL;
	}
	nheld = 0;
	for (int k = 0; k < N; k++) {
		spin_until(&r[k].done, 5000);
		cr_assert_eq(r[k].status, RPC_OK);
		free(r[k].data);
	}
	cr_assert_eq(fk_kept, 0, "released requests gave their messages back");
	rpc_endpoint_stats(srv, &ss);
	cr_assert_eq(ss.zc_rx_msgs, 2);
	/* with the budget free again, the next request is kept */
	struct res again = { 0 };
	struct iovec iov = { body[0], LEN };

	cr_assert_eq(rpc_call(sess, M_ECHO, &iov, 1, NULL, cont, &again, NULL), 0);
	spin_until(&again.done, 5000);
	cr_assert_eq(again.status, RPC_OK);
	cr_assert_eq(memcmp(again.data, body[0], LEN), 0);
	free(again.data);
	cr_assert_eq(fk_msgs_kept, 3);
}

/*
 * Requests over the server's max_msg, each abandoned by its deadline while
 * it is still being sent (the server host stalls meanwhile): the framer
 * ends each at its CANCEL, as fastpathd does, so the server gives the call
 * and every byte back.  Were a cancelled request held until its end, each
 * would keep one call of credit (and fastpathd an entry) for good.  The
 * server answers none of them: their callers gave them up (WIRE.md).
 */
Test(rpc, abandoned_oversized_requests_give_their_credit_back)
{
	size_t n = 8u << 20;
	uint8_t *big = calloc(1, n);
	struct iovec iov = { big, n };
	struct rpc_call_opts o = { .deadline_us = 20000 };

	echo_pair(1u << 20, 64u << 20);
	spin(20);
	fk_pipe_cap = 256u << 10;
	for (int k = 0; k < 12; k++) {
		struct res r = { 0 };

		cr_assert_eq(rpc_call(sess, M_ECHO, &iov, 1, &o, cont, &r, NULL), 0);
		spin(5); /* the first frames go out */
		srv_frozen = true;
		spin_until(&r.done, 2000);
		srv_frozen = false;
		cr_assert_eq(r.status, RPC_DEADLINE_EXCEEDED, "call %d", k);
		free(r.data);
		spin(200);
	}
	fk_pipe_cap = SIZE_MAX;
	spin(100);
	cr_assert_eq(fk_exhausted_answers, 0, "a cancelled request was answered");
	credit_adds_up_and_session_lives();
	free(big);
}
