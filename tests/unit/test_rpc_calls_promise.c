// SPDX-License-Identifier: MIT
/*
 * test_rpc_calls_promise.c - every test of test_rpc_calls.c again, over
 * the in-memory transport playing a shared send area (FK_PROMISE: 4 KiB
 * frames, room per class, room promised to messages of several frames,
 * as bypass-msg has them), plus the promise rules of rpc/tx.c: one
 * promise per message of several frames, asked before its first frame,
 * every frame of it marked, given back once it is all out or given up;
 * a refused promise holds back its own class only.
 */
#define FK_PROMISE 1
#include "test_rpc_calls.c"

Test(rpc, promise_per_multi_frame_message_given_back)
{
	static uint8_t body[50000];

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + 3);
	echo_alternating(body, sizeof(body), 100);
	spin(50);
	/* 10 requests and 10 responses of 13 frames; the small ones none */
	cr_assert_eq(fk_begins, 20, "promises: %lu", fk_begins);
	cr_assert_eq(fk_ends, fk_begins, "every promise given back (%lu of %lu)", fk_ends, fk_begins);
	cr_assert_geq(fk_resv_frames, 20 * 13, "reserved frames: %lu", fk_resv_frames);
	cr_assert_eq(fk_promise_bad, 0);
}

Test(rpc, refused_promise_holds_only_its_class)
{
	static uint8_t body[40000];
	struct res big = { 0 }, small = { 0 };
	struct rpc_call_opts lat = { .prio = RPC_PRIO_LATENCY };
	struct iovec bi = { body, sizeof(body) }, si = { body, 64 };

	memset(body, 0x5a, sizeof(body));
	fk_promise_set_refuse(true);
	cr_assert_eq(rpc_call(sess, M_ECHO, &bi, 1, NULL, cont, &big, NULL), 0);
	cr_assert_eq(rpc_call(sess, M_ECHO, &si, 1, &lat, cont, &small, NULL), 0);
	spin_until(&small.done, 2000);
	cr_assert_eq(small.status, RPC_OK, "a one-frame call of another class goes");
	spin(200);
	cr_assert_eq(big.done, 0, "the message without room waits");
	cr_assert_gt(fk_refusals, 0);
	fk_promise_set_refuse(false);
	spin_until(&big.done, 5000);
	cr_assert_eq(big.status, RPC_OK);
	cr_assert_eq(big.len, sizeof(body));
	spin(50);
	cr_assert_eq(fk_ends, fk_begins);
	cr_assert_eq(fk_promise_bad, 0);
	free(big.data);
	free(small.data);
}

Test(rpc, dropped_session_gives_promises_back_by_closing)
{
	static uint8_t body[60000];
	struct res r = { 0 };
	struct iovec iov = { body, sizeof(body) };

	spin(20);
	srv_frozen = true; /* a hung server that reads nothing: the message */
	fk_pipe_cap = 8192; /* stays half-sent */
	cr_assert_eq(rpc_call(sess, M_ECHO, &iov, 1, NULL, cont, &r, NULL), 0);
	spin(100);
	cr_assert_eq(fk_begins, 1, "promises: %lu", fk_begins);
	cr_assert_eq(fk_ends, 0);
	fk_kill_owner(srv->t);
	srv_frozen = false;
	spin_until(&r.done, 5000);
	cr_assert_eq(r.status, RPC_UNAVAILABLE);
	/* the half-sent message ends with its connection: closed, no end call */
	cr_assert_eq(fk_promise_bad, 0);
	free(r.data);
}
