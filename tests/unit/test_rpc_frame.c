// SPDX-License-Identifier: MIT
/* test_rpc_frame.c - the frame header and metadata codec (rpc/WIRE.md). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "rpc_internal.h"

static struct rpc_frame_hdr req(uint32_t meta, uint32_t body)
{
	struct rpc_frame_hdr h = { .type = RPC_FT_REQUEST, .method = 0x1234,
				   .call_id = 0xdeadbeef, .frame_len = meta + body,
				   .msg_len = body, .deadline_us = 1500, .meta_len = (uint16_t)meta };
	return h;
}

Test(rpc_frame, roundtrip_and_layout)
{
	struct rpc_frame_hdr h = req(10, 20), d;
	uint8_t b[32];

	h.status = 14;
	h.aux = 0x01020304;
	rpc_frame_encode(&h, b);
	/* fixed little-endian offsets a daemon framer reads directly */
	cr_assert_eq(b[0] | b[1] << 8, RPC_WIRE_MAGIC);
	cr_assert_eq(b[2], 1);
	cr_assert_eq(b[3], RPC_FT_REQUEST);
	cr_assert_eq(b[6] | b[7] << 8, 0x1234);
	cr_assert_eq(b[12], 30);
	cr_assert_eq(b[28], 4);
	cr_assert_eq(rpc_frame_decode(b, &d), RPC_FE_OK);
	cr_assert(h.type == d.type && h.flags == d.flags && h.method == d.method &&
		  h.call_id == d.call_id && h.frame_len == d.frame_len &&
		  h.msg_len == d.msg_len && h.deadline_us == d.deadline_us &&
		  h.status == d.status && h.meta_len == d.meta_len && h.aux == d.aux);
}

Test(rpc_frame, malformed_headers)
{
	struct rpc_frame_hdr h = req(0, 5), d;
	uint8_t b[32];

	rpc_frame_encode(&h, b);
	b[0] ^= 1;
	cr_assert_eq(rpc_frame_decode(b, &d), RPC_FE_MAGIC);
	rpc_frame_encode(&h, b);
	b[2] = 2;
	cr_assert_eq(rpc_frame_decode(b, &d), RPC_FE_VERSION);
	h.frame_len = RPC_WIRE_MAX_FRAME + 1;
	h.msg_len = h.frame_len;
	rpc_frame_encode(&h, b);
	cr_assert_eq(rpc_frame_decode(b, &d), RPC_FE_TOO_BIG);
	h = req(0, 5);
	h.meta_len = 6;
	rpc_frame_encode(&h, b);
	cr_assert_eq(rpc_frame_decode(b, &d), RPC_FE_META);
	/* single frame whose body disagrees with msg_len */
	h = req(0, 5);
	h.msg_len = 6;
	rpc_frame_encode(&h, b);
	cr_assert_eq(rpc_frame_decode(b, &d), RPC_FE_FIELDS);
	/* MORE set but the frame already holds the whole message */
	h = req(0, 5);
	h.flags = RPC_FF_MORE;
	rpc_frame_encode(&h, b);
	cr_assert_eq(rpc_frame_decode(b, &d), RPC_FE_FIELDS);
	h.msg_len = 6;
	rpc_frame_encode(&h, b);
	cr_assert_eq(rpc_frame_decode(b, &d), RPC_FE_OK);
	/* control frames carry no payload */
	memset(&h, 0, sizeof(h));
	h.type = RPC_FT_CREDIT;
	h.frame_len = 1;
	rpc_frame_encode(&h, b);
	cr_assert_eq(rpc_frame_decode(b, &d), RPC_FE_FIELDS);
	/* unknown types decode (to be skipped) */
	h.type = 200;
	h.frame_len = 100;
	rpc_frame_encode(&h, b);
	cr_assert_eq(rpc_frame_decode(b, &d), RPC_FE_OK);
}

Test(rpc_frame, metadata)
{
	struct rpc_meta m[3] = { { "k", "v", 1 }, { "long-key", "\0\1\2", 3 }, { "e", NULL, 0 } };
	struct rpc_meta_view v[4];
	uint8_t buf[64];
	size_t n = rpc_meta_size(m, 3);

	cr_assert_eq(rpc_meta_check(m, 3), 0);
	cr_assert_eq(n, 3 + 1 + 1 + 3 + 8 + 3 + 3 + 1);
	rpc_meta_encode(m, 3, buf);
	cr_assert_eq(rpc_meta_parse(buf, n, v, 4), 3);
	cr_assert_eq(v[1].key_len, 8);
	cr_assert_eq(memcmp(v[1].key, "long-key", 8), 0);
	cr_assert_eq(v[1].val_len, 3);
	cr_assert_eq(memcmp(v[1].val, "\0\1\2", 3), 0);
	cr_assert_eq(rpc_meta_parse(buf, n, v, 2), -EBADMSG, "too many entries");
	cr_assert_eq(rpc_meta_parse(buf, n - 1, v, 4), -EBADMSG, "truncated");
	buf[0] = 0;
	cr_assert_eq(rpc_meta_parse(buf, n, v, 4), -EBADMSG, "empty key");
	struct rpc_meta bad = { "", "x", 1 };

	cr_assert_eq(rpc_meta_check(&bad, 1), -EINVAL);
}

static struct rpc_timer t[100];
static int order[100], no;

static void fire(struct rpc_timer *x)
{
	order[no++] = (int)(x - t);
}

Test(rpc_frame, timer_heap_orders_and_cancels)
{
	struct rpc_heap h = { 0 };

	for (int i = 0; i < 100; i++)
		t[i].idx = -1;
	for (int i = 0; i < 100; i++) {
		t[i].fn = fire;
		rpc_timer_arm(&h, &t[i], (uint64_t)((i * 37) % 100) + 1000);
	}
	for (int i = 0; i < 100; i += 3)
		rpc_timer_cancel(&h, &t[i]);
	cr_assert_eq(rpc_timer_expire(&h, 999), 0);
	rpc_timer_expire(&h, 5000);
	cr_assert_eq(no, 66);
	for (int i = 1; i < no; i++)
		cr_assert_lt(t[order[i - 1]].at, t[order[i]].at);
	rpc_heap_free(&h);
}
