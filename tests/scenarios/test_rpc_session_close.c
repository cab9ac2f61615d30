// SPDX-License-Identifier: MIT
/*
 * An RPC session's end.  While a message is still being assembled: the
 * run of the app's message heap that holds it goes back when the session
 * leaves the app (TIME_WAIT detaches it), not when TIME_WAIT ends.  By
 * then the app may be gone and its id another app's, whose heap the late
 * release would have freed a run of.  And an app that claimed frames it
 * never posted, then went: its FIN waits a grace for posts still on their
 * way, not the 60 s FIN timeout, and the app is freed.
 */
#include "harness.h"
#include "bp_internal.h"
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

/* an RPC session the peer opened to @port: its handle, our ISS in *@iss */
static int rpc_session(uint16_t port, uint32_t *iss)
{
	int l = bp_listen_flags(H.app, 0, port, 16, BP_LISTEN_RPC);
	cr_assert_geq(l, 0, "listen: %d", l);
	H.our_port = port;
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = PEER_ISN, .wnd = 65535, .mss = 1460,
				.wscale = -1 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	*iss = p.seq;
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = PEER_ISN + 1, .ack = *iss + 1,
				.wnd = 65535 });
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	return h;
}

Test(rpc_close, a_message_in_assembly_gives_its_run_back_at_time_wait)
{
	uint32_t iss;
	int h = rpc_session(8200, &iss);
	struct pkt_tcp p;

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

Test(rpc_close, an_app_that_claims_unposted_frames_and_goes_is_freed_after_a_grace)
{
	uint32_t iss;
	int h = rpc_session(8201, &iss);
	struct dp_app *app = rpc_app();
	/* a shutdown saying 5 frames went before it, none did, past
	 * libbypass's own count */
	struct bp_ctrl_req r = { .op = BP_CTRL_SHUTDOWN, .slot = (uint32_t)h,
				 .gen = app->flows[h].gen, .posted = 5 };
	bpi_lock(H.app);
	cr_assert_eq(bpi_ctrl_push(H.app, &r, 1000), 0);
	bpi_unlock(H.app);
	struct pkt_tcp p;
	cr_assert_not(h_next_tcp(&p, 300), "a FIN before the frames the app named");

	/* the app goes: a grace for posts still on their way, then the FIN */
	uint64_t gone = rte_rdtsc();
	bp_detach(H.app);
	H.app = NULL;
	cr_assert(h_next_tcp(&p, 5000), "no FIN after the app went");
	double ms = (double)(rte_rdtsc() - gone) * 1000 / rte_get_tsc_hz();
	cr_assert(p.flags & TCPF_FIN, "want the FIN, got flags 0x%x", p.flags);
	cr_assert_gt(ms, 500, "the FIN came %.0f ms after: no grace for posts on their way", ms);
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_FIN, .seq = PEER_ISN + 1,
				.ack = p.seq + 1, .wnd = 65535 });
	/* (the region goes once TIME_WAIT, 5 s here, ends) */
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() * 8;
	while (__atomic_load_n(&app->in_use, __ATOMIC_ACQUIRE) && rte_rdtsc() < end)
		usleep(1000);
	cr_assert_not(app->in_use, "the gone app still holds its region");
}
