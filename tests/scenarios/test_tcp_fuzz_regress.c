// SPDX-License-Identifier: MIT
/*
 * Regressions found by the fuzz harnesses (tests/fuzz) and by reviews of
 * the receive path, replayed as scripted TCP scenarios.  See harness.h for the setup.  Several only
 * fail under the sanitizer build (undefined behaviour that x86 happens to
 * forgive), which CI runs for every scenario test.
 */
#include "harness.h"

#define PEER_ISN 3000000u

TestSuite(fuzz_regress, .init = h_start, .fini = h_stop, .timeout = 30);

/*
 * fuzz_tcp_input: data exactly 2^31 away from rcv_nxt made data_input()
 * negate INT32_MIN (UBSan: "negation of -2147483648 cannot be
 * represented").  It is an old segment: answered with an ACK, not
 * delivered, and the connection goes on.
 */
Test(fuzz_regress, data_half_the_sequence_space_away)
{
	uint32_t iss;
	int h = h_open_passive(8090, PEER_ISN, 1460, &iss);
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = PEER_ISN + 1 + 0x80000000u,
				.ack = iss + 1, .wnd = 65535, .data = "0123456789", .len = 10 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags & (TCPF_ACK | TCPF_RST), TCPF_ACK);
	cr_assert_eq(p.ack, PEER_ISN + 1, "nothing of it may be acknowledged");
	cr_assert_eq(bp_rx_avail(H.app, h), 0, "nothing of it may be delivered");
	expect_no_segment(100); /* one ACK, no reset */

	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535, .data = "hello", .len = 5 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 6);
	WAIT_FOR(bp_rx_avail(H.app, h) == 5, 1000);
}

/*
 * A frame a PMD hands over in two chained mbufs (scatter) is linearized
 * and parsed whole: its length used to be read before the linearize, so
 * every such frame was dropped as truncated and the peer resent forever.
 */
Test(fuzz_regress, a_chained_frame_is_parsed_whole)
{
	uint32_t iss;
	int h = h_open_passive(8091, PEER_ISN, 1460, &iss);
	h_inject(&(struct seg){ .flags = TCPF_ACK | TCPF_PSH, .seq = PEER_ISN + 1, .ack = iss + 1,
				.wnd = 65535, .data = "chained", .len = 7, .split = 40 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.ack, PEER_ISN + 8);
	WAIT_FOR(bp_rx_avail(H.app, h) == 7, 1000);
	char buf[8];
	cr_assert_eq(bp_recv(H.app, h, buf, sizeof(buf)), 7);
	cr_assert_arr_eq(buf, "chained", 7);
}
