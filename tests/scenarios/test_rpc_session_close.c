// SPDX-License-Identifier: MIT
/*
 * An RPC session's end while a message is still being assembled: the run
 * of the app's message heap that holds it goes back when the session
 * leaves the app (TIME_WAIT detaches it), not when TIME_WAIT ends.  By
 * then the app may be gone and its id another app's, whose heap the late
 * release would have freed a run of.
 */
#include "harness.h"
#include "bypass/rpc_wire.h"

#define PEER_ISN 9000000u

static void long_time_wait(struct bp_config *c)
{
	c->time_wait_ms = 5000;
}

static void start(void)
{
	h_start_with(long_time_wait);
	char err[256];
	struct bp_attach_opts o = { .socket_path = H.dp.cfg.socket_path, .app_name = "rpc",
				    .msg_heap = 1u << 20 };
	bp_detach(H.app);
	H.app = bp_attach(&o, err, sizeof(err));
	cr_assert(H.app, "attach with a message heap: %s", err);
}

TestSuite(rpc_close, .init = start, .fini = h_stop, .timeout = 30);

static struct dp_app *rpc_app(void)
{
	for (uint32_t i = 0; i < H.dp.max_apps; i++)
		if (H.dp.apps[i].in_use && H.dp.apps[i].heap_size)
			return &H.dp.apps[i];
	cr_assert_fail("no app with a message heap");
	return NULL;
}

Test(rpc_close, a_message_in_assembly_gives_its_run_back_at_time_wait)
{
	int l = bp_listen_flags(H.app, 0, 8200, 16, BP_LISTEN_RPC);
	cr_assert_geq(l, 0, "listen: %d", l);
	H.our_port = 8200;
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN, .wnd = 65535, .mss = 1460,
				.wscale = -1 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	uint32_t iss = p.seq;
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535 });
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);

	/* the first frame of a 1000-byte request, 16 bytes short, then a PING:
	 * the ring holds as many bytes as the message, so its run is taken */
	uint8_t frame[2 * RPC_WIRE_HDR_LEN + 984];
	rpc_frame_encode(&(struct rpc_frame_hdr){ .type = RPC_FT_REQUEST, .flags = RPC_FF_MORE,
						  .method = 1, .call_id = 7, .frame_len = 984,
						  .msg_len = 1000 }, frame);
	memset(frame + RPC_WIRE_HDR_LEN, 'r', 984);
	rpc_frame_encode(&(struct rpc_frame_hdr){ .type = RPC_FT_PING }, frame + RPC_WIRE_HDR_LEN + 984);
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535, .data = frame, .len = sizeof(frame) });
	struct dp_app *app = rpc_app();
	WAIT_FOR(app->heap[0].used > 0, 1000);

	/* the app closes; the peer acknowledges our FIN and sends its own */
	cr_assert_eq(bp_close(H.app, h), 0);
	uint32_t fin_seq = 0;
	for (int i = 0; i < 20 && !fin_seq; i++) {
		EXPECT_SEG(p, 1000);
		cr_assert_eq(p.flags & TCPF_RST, 0, "the session was reset, not closed");
		if (p.flags & TCPF_FIN)
			fin_seq = p.seq;
	}
	cr_assert_neq(fin_seq, 0, "no FIN");
	uint32_t peer_seq = PEER_ISN + 1 + sizeof(frame);
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_FIN, .seq = peer_seq, .ack = fin_seq + 1,
				.wnd = 65535 });
	EXPECT_SEG(p, 1000); /* the ACK of the peer's FIN: TIME_WAIT */
	cr_assert_eq(p.ack, peer_seq + 1);
	WAIT_FOR(app->heap[0].used == 0, 1000);
}
