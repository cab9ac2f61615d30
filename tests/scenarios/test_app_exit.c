// SPDX-License-Identifier: MIT
/*
 * What an app queued just before it went is still done: its control
 * connection ends (the process exited) with many requests in its control
 * queue that the slowpath had not been woken for.  All of them are served,
 * in order, in rounds, before the app's flows close as at exit, so a
 * request at the end of a long queue (an abort, a fork handoff, an exec
 * hold) is not lost to the exit; what would open something (listen,
 * connect, adopt) is skipped, as nobody is left to use it.
 */
#include <sys/socket.h>

#include "harness.h"
#include "bp_internal.h"

#define PEER_ISN 7100000u

TestSuite(app_exit, .init = h_start_default_queues, .fini = h_stop, .timeout = 30);

/* push @r onto the app's control queue past libbypass, ringing nothing */
static void ctrl_quiet(const struct bp_ctrl_req *r)
{
	struct dp_app *app = &H.dp.apps[0];
	struct bp_queue_view v;

	bp_queue_view_init(&v, app->ctrlq.q, app->ctrlq.mask + 1, sizeof(*r), 1);
	cr_assert_eq(bp_queue_push(&v, r), 0);
}

Test(app_exit, an_abort_queued_behind_3000_requests_is_served)
{
	struct dp_app *app = &H.dp.apps[0];
	uint32_t iss;
	int h = h_open_passive(8098, PEER_ISN, 1460, &iss);
	uint32_t gen = app->flows[h].gen;

	/* 3000 requests for the slot's last generation (stale: each is
	 * taken and changes nothing), connects nobody is left to use, then
	 * the abort, and the app "exits" */
	for (int i = 0; i < 3000; i++)
		ctrl_quiet(&(struct bp_ctrl_req){ .op = BP_CTRL_KEEPALIVE, .slot = (uint32_t)h,
						   .gen = gen - 1, .flags = 1 });
	for (int i = 0; i < 3; i++)
		ctrl_quiet(&(struct bp_ctrl_req){ .op = BP_CTRL_CONNECT, .ip = H.peer_ip,
						   .port = (uint16_t)(9000 + i) });
	ctrl_quiet(&(struct bp_ctrl_req){ .op = BP_CTRL_ABORT, .slot = (uint32_t)h, .gen = gen });
	cr_assert_eq(shutdown(H.app->sock_fd, SHUT_RDWR), 0);

	/* the abort, not the exit's orderly close; and nothing for the
	 * connects (no ARP, no SYN) */
	uint8_t f[2048];
	struct pkt_tcp p;
	int len = h_next_frame(f, 2000);
	cr_assert_gt(len, 0, "nothing sent");
	cr_assert_eq(pkt_classify(f, (size_t)len), PKT_PROTO_TCP, "a frame for a connect");
	cr_assert_eq(pkt_parse_tcp(f, (size_t)len, true, &p), PKT_OK);
	cr_assert(p.flags & TCPF_RST, "want the queued abort's RST, got flags 0x%x", p.flags);
	cr_assert_eq(p.flags & TCPF_FIN, 0);
	cr_assert_eq(h_next_frame(f, 300), 0, "a frame after the abort");
	/* the daemon let the app go (its doorbell's far end is closed): the
	 * app's own goodbye rings it, and gets an error, not SIGPIPE */
	bp_detach(H.app);
	H.app = NULL;
}

/*
 * SO_LINGER {1, 0} (bp_linger_reset()): the close that an app's exit makes
 * resets the connection, as Linux's exit closes each descriptor; without
 * it (or with it switched off again) the exit sends FIN after the data.
 * @data: bytes the app wrote (and the peer never acknowledged) first.
 * Return: the first FIN or RST the daemon sent after the exit.
 */
static struct pkt_tcp exit_with_linger(uint16_t port, bool set, bool clear, size_t data)
{
	uint32_t iss;
	int h = h_open_passive(port, PEER_ISN, 1460, &iss);
	struct pkt_tcp p;

	if (set)
		cr_assert_eq(bp_linger_reset(H.app, h, true), 0);
	if (clear)
		cr_assert_eq(bp_linger_reset(H.app, h, false), 0);
	if (data) {
		char buf[512] = "written before the exit";
		cr_assert_eq(bp_send(H.app, h, buf, data), (ssize_t)data);
		cr_assert(h_next_tcp(&p, 2000), "the data never went");
		cr_assert_eq(p.payload_len, data);
	}
	cr_assert_eq(shutdown(H.app->sock_fd, SHUT_RDWR), 0); /* the process is gone */
	/* past a resend of the data, should its timer fire first */
	do
		cr_assert(h_next_tcp(&p, 2000), "nothing sent after the exit");
	while (!(p.flags & (TCPF_RST | TCPF_FIN)));
	bp_detach(H.app);
	H.app = NULL;
	return p;
}

Test(app_exit, linger_zero_resets_at_exit)
{
	struct pkt_tcp p = exit_with_linger(8101, true, false, 100);

	cr_assert(p.flags & TCPF_RST, "SO_LINGER {1, 0}: want RST at exit, got flags 0x%x",
		  p.flags);
	cr_assert_eq(p.flags & TCPF_FIN, 0);
}

Test(app_exit, linger_switched_off_closes_with_fin)
{
	struct pkt_tcp p = exit_with_linger(8102, true, true, 0);

	cr_assert(p.flags & TCPF_FIN, "want FIN at exit, got flags 0x%x", p.flags);
	cr_assert_eq(p.flags & TCPF_RST, 0);
}

Test(app_exit, without_linger_exit_sends_fin)
{
	struct pkt_tcp p = exit_with_linger(8103, false, false, 0);

	cr_assert(p.flags & TCPF_FIN, "want FIN at exit, got flags 0x%x", p.flags);
	cr_assert_eq(p.flags & TCPF_RST, 0);
}

/* a close, not an exit: bp_close() of a flow set so resets it too */
Test(app_exit, linger_zero_close_resets)
{
	uint32_t iss;
	int h = h_open_passive(8104, PEER_ISN, 1460, &iss);
	struct pkt_tcp p;

	cr_assert_eq(bp_linger_reset(H.app, h, true), 0);
	cr_assert_eq(bp_close(H.app, h), 0);
	cr_assert(h_next_tcp(&p, 2000), "nothing sent after the close");
	cr_assert(p.flags & TCPF_RST, "want RST, got flags 0x%x", p.flags);
	cr_assert_eq(bp_linger_reset(H.app, h, true), -EBADF, "a closed handle");
}
