// SPDX-License-Identifier: MIT
/*
 * rpc_stream_req.inc.c - what the streamed-request tests share
 * (test_rpc_stream_req*.c, test_rpc_stream_req_worker*.c): a client
 * session to a server endpoint over rpc_fake.inc.c, calls that stream
 * their request in patterned messages, how each call ended, and frames a
 * hostile peer injects.  The includer defines spin() (one round of both
 * endpoints' loops).
 */
static struct rpc_endpoint *srv, *cli;
static struct rpc_session *sess;

static void spin(int rounds);

static uint8_t pattern(uint32_t msg, size_t i)
{
	return (uint8_t)(msg * 13 + i * 5);
}

/* how a call ended, and the response parts it saw (M_BIDI) */
struct res {
	int ends, status;
	uint32_t parts, bad;
	uint64_t bytes;
	uint8_t body[16];
	size_t len;
};

static void on_res(const struct rpc_result *r, void *arg)
{
	struct res *x = arg;

	if (r->more) {
		for (size_t i = 0; i < r->msg.len; i++)
			x->bad += ((const uint8_t *)r->msg.data)[i] != pattern(x->parts, i);
		x->bytes += r->msg.len;
		x->parts++;
		return;
	}
	x->ends++;
	x->status = r->status;
	x->len = r->msg.len < sizeof(x->body) ? r->msg.len : sizeof(x->body);
	if (x->len)
		memcpy(x->body, r->msg.data, x->len);
}

static void wait_end(struct res *x, int ms)
{
	uint64_t end = rpc_now_us() + (uint64_t)ms * 1000;

	while (!x->ends && rpc_now_us() < end)
		spin(1);
	cr_assert_eq(x->ends, 1, "the call did not end");
}

static void fill(uint8_t *buf, uint32_t msg, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = pattern(msg, i);
}

/* start a streamed request of @method, its first message @len bytes */
static uint64_t open_stream(uint16_t method, uint32_t len, unsigned flags, uint64_t deadline_us,
			    struct res *x)
{
	uint8_t *buf = malloc(len ? len : 1);
	struct iovec iov = { buf, len };
	struct rpc_call_opts o = { .flags = RPC_CALL_SEND_STREAM | flags,
				   .deadline_us = deadline_us };
	uint64_t id = 0;

	fill(buf, 0, len);
	cr_assert_eq(rpc_call(sess, method, &iov, 1, &o, on_res, x, &id), 0);
	free(buf);
	return id;
}

/* message @k of the stream: retried while the session has too much queued */
static int send_msg(uint64_t id, uint32_t k, uint32_t len, bool last)
{
	uint8_t *buf = malloc(len ? len : 1);
	struct iovec iov = { buf, len };
	int rc;

	fill(buf, k, len);
	for (int tries = 0; (rc = rpc_call_send(sess, id, &iov, 1, last)) == -EAGAIN &&
			    tries < 100000; tries++)
		spin(1);
	free(buf);
	return rc;
}

/* frames a hostile or confused peer sends the server */
static void inject(const struct rpc_frame_hdr *h, const void *payload)
{
	uint8_t hb[RPC_WIRE_HDR_LEN];

	rpc_frame_encode(h, hb);
	fk_inject(srv->t, hb, sizeof(hb));
	if (h->frame_len)
		fk_inject(srv->t, payload, h->frame_len);
}

static uint64_t proto_errors(void)
{
	struct rpc_stats st;

	rpc_endpoint_stats(srv, &st);
	return st.proto_errors;
}

