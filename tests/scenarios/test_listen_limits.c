// SPDX-License-Identifier: MIT
/*
 * The daemon's listener table is shared by every uid: one uid may hold at
 * most [apps] max_listeners of it, whether on ports of its own or by
 * joining one shared port again and again.
 */
#include "harness.h"

static void three_listeners(struct bp_config *c)
{
	c->max_listeners = 3;
}

static void start(void)
{
	h_start_with(three_listeners);
}

TestSuite(listen_limits, .init = start, .fini = h_stop, .timeout = 30);

Test(listen_limits, a_uid_holds_at_most_max_listeners)
{
	int l[3];
	for (int i = 0; i < 3; i++) {
		l[i] = bp_listen(H.app, 0, (uint16_t)(8300 + i), 16);
		cr_assert_geq(l[i], 0, "listener %d: %d", i, l[i]);
	}
	cr_assert_eq(bp_listen(H.app, 0, 8310, 16), -ENOBUFS);
	cr_assert_eq(bp_listen_flags(H.app, 0, 8311, 16, BP_LISTEN_SHARED), -ENOBUFS);
	cr_assert_eq(bp_close(H.app, l[1]), 0);
	int again = -1;
	WAIT_FOR((again = bp_listen(H.app, 0, 8312, 16)) >= 0, 2000);
}

/*
 * A reservation (the shim's bind(port 0)) holds a port and takes no
 * connections: a SYN to a port only it holds is refused, as by a kernel
 * socket that is bound but not listening; a listener that joins it with
 * the same descriptor gets every connection; a listener without that
 * descriptor may not take the port.
 */
Test(listen_limits, a_reservation_holds_the_port_and_takes_no_connections)
{
	int share = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(share, 0);
	cr_assert_eq(bp_listen_reserve(H.app, 0, 0, -1), -EINVAL, "port 0 needs a descriptor");
	int r = bp_listen_reserve(H.app, 0, 0, share);
	cr_assert_geq(r, 0, "reserve: %d", r);
	struct bp_flow_info fi;
	cr_assert_eq(bp_flow_info(H.app, r, &fi), 0);
	cr_assert_neq(fi.local_port, 0, "the daemon picked no port");
	H.our_port = fi.local_port;

	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = 1000, .wnd = 65535, .mss = 1460,
				.wscale = -1 });
	struct pkt_tcp p;
	EXPECT_SEG(p, 1000);
	cr_assert(p.flags & TCPF_RST, "a SYN to a reserved port: want RST, got 0x%x", p.flags);

	cr_assert_eq(bp_listen(H.app, 0, fi.local_port, 16), -EADDRINUSE, "no descriptor");
	int other = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(bp_listen_share(H.app, 0, fi.local_port, 16, other), -EADDRINUSE,
		     "another descriptor");
	int l = bp_listen_share(H.app, 0, fi.local_port, 16, share);
	cr_assert_geq(l, 0, "join: %d", l);
	/* two connections: each goes to the listener, none to the reservation */
	for (int i = 0; i < 2; i++) {
		H.peer_port = (uint16_t)(40000 + i);
		h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = 2000, .wnd = 65535, .mss = 1460,
					.wscale = -1 });
		EXPECT_SEG(p, 1000);
		cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK, "want SYN-ACK, got 0x%x", p.flags);
		h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = 2001, .ack = p.seq + 1,
					.wnd = 65535 });
		int h = -1;
		WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	}
	cr_assert_eq(bp_accept(H.app, r), -EAGAIN, "the reservation took a connection");
	close(other);
	close(share);
}

/* a program at its listener limit may still listen on the port it reserved
 * (the shim drops the reservation right after), but reserve no more */
Test(listen_limits, a_reservation_its_holder_joins_is_not_counted_twice)
{
	int share = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int a = bp_listen(H.app, 0, 8320, 16), b = bp_listen(H.app, 0, 8321, 16);
	int r = bp_listen_reserve(H.app, 0, 0, share);
	cr_assert(a >= 0 && b >= 0 && r >= 0, "%d %d %d", a, b, r);
	cr_assert_eq(bp_listen_reserve(H.app, 0, 0, share), -ENOBUFS);
	struct bp_flow_info fi;
	cr_assert_eq(bp_flow_info(H.app, r, &fi), 0);
	int l = bp_listen_share(H.app, 0, fi.local_port, 16, share);
	cr_assert_geq(l, 0, "joining its own reservation at the limit: %d", l);
	cr_assert_eq(bp_close(H.app, r), 0);
	close(share);
}
