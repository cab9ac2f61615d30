// SPDX-License-Identifier: MIT
/*
 * test_neigh.c - what the wire may teach the neighbour cache, and who gets
 * ICMP echo replies and RSTs, probed as an attacker on the segment would
 * (slowpath/arp.c, fastpathd/fp_arp_icmp.c).  Compared with Linux at its
 * defaults: arp_accept = 0, a 1 s ARP lock time, no echo for broadcasts.
 *
 * Whether the daemon learned an address is read off its next connect to
 * it: an ARP request first (not learned), or the SYN at once, to the MAC
 * it learned.
 */
#include "harness.h"

TestSuite(neigh, .init = h_start, .fini = h_stop, .timeout = 30);

static const uint8_t OTHER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x66 };
static const uint8_t BCAST_MAC[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

#define ARP_SHA_OFF (PKT_ETH_LEN + 8)

/* an ARP frame from @sha (Ethernet source and ARP sender alike) */
static void inject_arp(uint16_t op, const uint8_t *sha, uint32_t spa, uint32_t tpa)
{
	uint8_t f[PKT_ARP_FRAME_LEN];

	pkt_arp_write(f, op, H.peer_mac, spa, op == PKT_ARP_REPLY ? H.our_mac : NULL, tpa);
	memcpy(f + 6, sha, 6);
	memcpy(f + ARP_SHA_OFF, sha, 6);
	h_inject_raw(f, sizeof(f));
}

#define BARRIER_PORT 40999

/*
 * Let the slowpath take everything injected so far, dropping what the
 * daemon sent.  A barrier, not a sleep: a stray ACK goes to the slowpath
 * through the same ordered ring as the ARP frames before it, so its RST
 * comes after they were all taken.
 */
static void settle(void)
{
	uint16_t pp = H.peer_port, op = H.our_port;
	uint8_t f[2048];
	struct pkt_tcp t;
	int len;

	H.peer_port = BARRIER_PORT;
	H.our_port = 9;
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = 1, .ack = 1, .wnd = 1000 });
	H.peer_port = pp;
	H.our_port = op;
	for (;;) {
		len = h_next_frame(f, 3000);
		cr_assert_gt(len, 0, "the barrier's RST never came");
		if (pkt_classify(f, (size_t)len) == PKT_PROTO_TCP &&
		    pkt_parse_tcp(f, (size_t)len, true, &t) == PKT_OK && t.dport == BARRIER_PORT &&
		    (t.flags & TCPF_RST))
			break;
	}
	while (h_next_frame(f, 20))
		;
}

static uint32_t last_ask; /* the address connect_first_frame()'s request asked for */

/* connect to the peer; return the first frame's kind: PKT_ETHTYPE_ARP for
 * a request (for last_ask), PKT_PROTO_TCP for a SYN (its destination MAC
 * in @dst_mac) */
static int connect_first_frame(uint16_t port, uint8_t *dst_mac)
{
	uint8_t f[2048];
	struct pkt_arp a;
	struct pkt_tcp p;
	int h = bp_connect(H.app, H.peer_ip, port);

	cr_assert_geq(h, 0, "connect: %d", h);
	int len, kind;
	for (;;) { /* skip ARP replies and an earlier connect's resent SYN */
		len = h_next_frame(f, 1000);
		cr_assert_gt(len, 0, "nothing sent for a connect");
		kind = pkt_classify(f, (size_t)len);
		if (kind == PKT_ETHTYPE_ARP && pkt_arp_parse(f, (size_t)len, &a) &&
		    a.op == PKT_ARP_REPLY)
			continue;
		if (kind == PKT_PROTO_TCP && pkt_parse_tcp(f, (size_t)len, true, &p) == PKT_OK &&
		    p.dport != port)
			continue;
		break;
	}
	if (kind == PKT_ETHTYPE_ARP) {
		cr_assert(pkt_arp_parse(f, (size_t)len, &a));
		cr_assert_eq(a.op, PKT_ARP_REQUEST);
		last_ask = a.tpa;
	} else {
		cr_assert_eq(kind, PKT_PROTO_TCP);
		cr_assert_eq(pkt_parse_tcp(f, (size_t)len, true, &p), PKT_OK);
		cr_assert_eq(p.flags, TCPF_SYN);
		memcpy(dst_mac, p.dst_mac, 6);
	}
	return kind;
}

static void expect_learned(uint16_t port, const uint8_t *mac, const char *why)
{
	uint8_t dst[6];

	cr_assert_eq(connect_first_frame(port, dst), PKT_PROTO_TCP, "%s: not learned", why);
	cr_assert(!memcmp(dst, mac, 6), "%s: SYN to %02x:..:%02x", why, dst[0], dst[5]);
}

static void expect_unknown(uint16_t port, const char *why)
{
	uint8_t dst[6];

	cr_assert_eq(connect_first_frame(port, dst), PKT_ETHTYPE_ARP, "%s: learned", why);
	cr_assert_eq(last_ask, H.peer_ip);
}

Test(neigh, an_unsolicited_reply_teaches_nothing)
{
	inject_arp(PKT_ARP_REPLY, H.peer_mac, H.peer_ip, H.our_ip);
	settle();
	expect_unknown(80, "an unsolicited ARP reply");
	/* while we ask, the answer is taken */
	inject_arp(PKT_ARP_REPLY, H.peer_mac, H.peer_ip, H.our_ip);
	struct pkt_tcp syn;
	EXPECT_SEG(syn, 1000);
	cr_assert_eq(syn.flags, TCPF_SYN);
	cr_assert(!memcmp(syn.dst_mac, H.peer_mac, 6));
}

Test(neigh, a_gratuitous_arp_for_an_unknown_address_teaches_nothing)
{
	inject_arp(PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, H.peer_ip);
	settle();
	expect_unknown(80, "a gratuitous ARP");
}

Test(neigh, a_request_for_us_teaches_its_sender)
{
	inject_arp(PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, H.our_ip);
	settle();
	expect_learned(80, H.peer_mac, "a request for us");
}

Test(neigh, senders_no_neighbour_can_be_are_not_learned)
{
	inject_arp(PKT_ARP_REQUEST, BCAST_MAC, H.peer_ip, H.our_ip);
	inject_arp(PKT_ARP_REQUEST, (const uint8_t[6]){ 0 }, H.peer_ip, H.our_ip);
	settle();
	expect_unknown(80, "a broadcast or a zero sender MAC");
}

Test(neigh, a_broadcast_sender_gets_no_arp_reply)
{
	uint8_t f[2048];
	struct pkt_arp a;
	int len;

	inject_arp(PKT_ARP_REQUEST, BCAST_MAC, H.peer_ip, H.our_ip);
	inject_arp(PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, H.our_ip);
	/* in order: the one answer is the real request's */
	len = h_next_frame(f, 1000);
	cr_assert(len > 0 && pkt_arp_parse(f, (size_t)len, &a), "no answer to a real request");
	cr_assert_eq(a.op, PKT_ARP_REPLY);
	cr_assert(!memcmp(f, H.peer_mac, 6), "answered a request from a broadcast MAC");
	cr_assert_eq(h_next_frame(f, 200), 0, "two answers");
}

/* Linux's locktime: a reply that moves a known entry within 1 s of its
 * last confirmation loses; after that it wins.  A gratuitous ARP (the
 * owner announcing its move) wins at once. */
Test(neigh, a_reply_within_the_lock_time_does_not_move_an_entry)
{
	inject_arp(PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, H.our_ip);
	inject_arp(PKT_ARP_REPLY, OTHER_MAC, H.peer_ip, H.our_ip);
	settle();
	expect_learned(80, H.peer_mac, "a reply within the lock time");
	usleep(1100 * 1000);
	inject_arp(PKT_ARP_REPLY, OTHER_MAC, H.peer_ip, H.our_ip);
	settle();
	expect_learned(81, OTHER_MAC, "a reply after the lock time");
}

Test(neigh, a_gratuitous_arp_moves_a_known_entry)
{
	inject_arp(PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, H.our_ip);
	inject_arp(PKT_ARP_REQUEST, OTHER_MAC, H.peer_ip, H.peer_ip);
	settle();
	expect_learned(80, OTHER_MAC, "a gratuitous ARP");
}

/* an open connection @h sends @c, which the peer (at @peer_seq) acks;
 * @dst_mac: the segment's destination */
static void send_byte_to(int h, char c, uint32_t peer_seq, uint8_t *dst_mac)
{
	struct pkt_tcp p;

	cr_assert_eq(bp_send(H.app, h, &c, 1), 1);
	do
		EXPECT_SEG(p, 1000);
	while (!p.payload_len);
	cr_assert_eq(p.payload[0], (uint8_t)c);
	memcpy(dst_mac, p.dst_mac, 6);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = peer_seq, .ack = p.seq + 1,
				.wnd = 65535 });
}

/* flows whose core took a move (counted after it wrote the flow's MAC) */
static uint64_t followed(void)
{
	return dp_fp_counter(&H.dp, DPC_NEIGH_FOLLOWED);
}

static void wait_followed(uint64_t n)
{
	WAIT_FOR(followed() == n, 2000);
}

/* an active open to the peer, established: the handle */
static int open_active(uint16_t port)
{
	struct pkt_tcp syn, p;
	int h = h_connect_until_syn(port, &syn);

	h_inject(&(struct seg){ .flags = TCPF_SYN | TCPF_ACK, .seq = 9000, .ack = syn.seq + 1,
				.wnd = 65535, .mss = 1460, .wscale = -1 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_ACK);
	WAIT_FOR(bp_connect_status(H.app, h) == 0, 1000);
	return h;
}

/* open connections follow their neighbour to its new MAC, as Linux's
 * follow their neighbour entry: a gratuitous ARP (a failover's address
 * moving to another host) or a request for us from the new MAC */
Test(neigh, open_connections_follow_a_moved_neighbour)
{
	static const uint8_t THIRD_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x77 };
	uint8_t dst[6];
	int h = open_active(83);
	uint64_t n = followed();

	send_byte_to(h, 'a', 9001, dst);
	cr_assert(!memcmp(dst, H.peer_mac, 6));
	inject_arp(PKT_ARP_REQUEST, OTHER_MAC, H.peer_ip, H.peer_ip);
	wait_followed(n + 1);
	send_byte_to(h, 'b', 9001, dst);
	cr_assert(!memcmp(dst, OTHER_MAC, 6), "after a gratuitous ARP: data to %02x:..:%02x",
		  dst[0], dst[5]);
	inject_arp(PKT_ARP_REQUEST, THIRD_MAC, H.peer_ip, H.our_ip);
	wait_followed(n + 2);
	send_byte_to(h, 'c', 9001, dst);
	cr_assert(!memcmp(dst, THIRD_MAC, 6), "after a request for us: data to %02x:..:%02x",
		  dst[0], dst[5]);
}

/* an accepted connection follows too */
Test(neigh, accepted_connections_follow_a_moved_neighbour)
{
	uint8_t dst[6];
	uint32_t iss;

	inject_arp(PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, H.our_ip);
	settle();
	uint64_t n = followed();
	int h = h_open_passive(8081, 3000, 1460, &iss);
	send_byte_to(h, 'a', 3001, dst);
	cr_assert(!memcmp(dst, H.peer_mac, 6));
	inject_arp(PKT_ARP_REQUEST, OTHER_MAC, H.peer_ip, H.peer_ip);
	wait_followed(n + 1);
	send_byte_to(h, 'b', 3001, dst);
	cr_assert(!memcmp(dst, OTHER_MAC, 6), "accepted: data to %02x:..:%02x", dst[0], dst[5]);
}

/* a forged gratuitous ARP moves the connection (as on Linux), but not for
 * good: its retransmission timeouts ask again for the unconfirmed MAC, and
 * the owner's answer, once the lock time has passed, brings it back */
Test(neigh, a_forged_move_is_undone_by_asking_after_a_timeout)
{
	uint8_t f[2048];
	struct pkt_arp a;
	struct pkt_tcp p;
	int h = open_active(84), len, asked = 0;
	uint64_t n = followed();
	char c = 'x';

	inject_arp(PKT_ARP_REQUEST, OTHER_MAC, H.peer_ip, H.peer_ip);
	wait_followed(n + 1);
	uint64_t moved_at = rte_rdtsc();
	cr_assert_eq(bp_send(H.app, h, &c, 1), 1);
	/* unanswered: resent to the forger's MAC, and the peer asked for */
	uint64_t lock_end = moved_at + rte_get_tsc_hz() * 11 / 10;
	while (rte_rdtsc() < lock_end) {
		len = h_next_frame(f, 50);
		if (len > 0 && pkt_arp_parse(f, (size_t)len, &a) && a.op == PKT_ARP_REQUEST &&
		    a.tpa == H.peer_ip)
			asked++;
		else if (len > 0 && pkt_classify(f, (size_t)len) == PKT_PROTO_TCP)
			cr_assert(!memcmp(f, OTHER_MAC, 6), "resent to the peer before it answered");
	}
	cr_assert_gt(asked, 0, "a timeout did not ask for the unconfirmed neighbour");
	inject_arp(PKT_ARP_REPLY, H.peer_mac, H.peer_ip, H.our_ip);
	wait_followed(n + 2);
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() * 5;
	for (;;) {
		cr_assert(rte_rdtsc() < end, "no resend reached the peer's own MAC");
		if (!h_next_tcp(&p, 100) || !p.payload_len)
			continue;
		if (!memcmp(p.dst_mac, H.peer_mac, 6))
			break;
	}
	cr_assert_eq(p.payload[0], 'x');
}

/* connects waiting on one neighbour share its requests: one per 100 ms */
Test(neigh, one_request_for_many_connects)
{
	uint8_t f[2048];
	int arps = 0;
	uint64_t t0 = rte_rdtsc(), ms;

	for (int i = 0; i < 8; i++)
		cr_assert_geq(bp_connect(H.app, H.peer_ip, (uint16_t)(80 + i)), 0);
	ms = (rte_rdtsc() - t0) * 1000 / rte_get_tsc_hz();
	for (int len; (len = h_next_frame(f, 60)) > 0;)
		arps += pkt_classify(f, (size_t)len) == PKT_ETHTYPE_ARP;
	cr_assert_leq(arps, 1 + (int)(ms / 100), "%d ARP requests for 8 connects in %d ms", arps,
		      (int)ms);
	cr_assert_lt(ms, 700, "connects too slow to tell (%d ms)", (int)ms);
}

/* an active open's SYN resend goes where the cache says now */
Test(neigh, a_syn_resend_follows_a_moved_neighbour)
{
	struct pkt_tcp syn;

	inject_arp(PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, H.our_ip);
	settle();
	expect_learned(80, H.peer_mac, "a request for us");
	inject_arp(PKT_ARP_REQUEST, OTHER_MAC, H.peer_ip, H.peer_ip); /* gratuitous */
	EXPECT_SEG(syn, 2000);
	cr_assert_eq(syn.flags, TCPF_SYN);
	cr_assert(!memcmp(syn.dst_mac, OTHER_MAC, 6), "the resent SYN went to the old MAC");
}

/* a host that forges a known neighbour's address from its own MAC does
 * not see the SYN-ACK (Linux answers through its neighbour table) */
/* a listener on 8080 and a SYN for it from the peer's address, in a frame
 * from @src_mac to @dst_mac */
static void syn_to_listener(const uint8_t *src_mac, const uint8_t *dst_mac)
{
	uint8_t peer[6], ours[6];

	cr_assert_geq(bp_listen(H.app, 0, 8080, 16), 0);
	H.our_port = 8080;
	memcpy(peer, H.peer_mac, 6);
	memcpy(ours, H.our_mac, 6);
	memcpy(H.peer_mac, src_mac, 6);
	memcpy(H.our_mac, dst_mac, 6);
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = 1000, .wnd = 65535, .mss = 1460,
				.wscale = -1 });
	memcpy(H.peer_mac, peer, 6);
	memcpy(H.our_mac, ours, 6);
}

Test(neigh, a_syn_ack_goes_to_the_known_neighbour)
{
	struct pkt_tcp p;

	inject_arp(PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, H.our_ip);
	settle();
	syn_to_listener(OTHER_MAC, H.our_mac);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
	cr_assert(!memcmp(p.dst_mac, H.peer_mac, 6), "the SYN-ACK went to the forger's MAC");
}

/* a half-open connection's SYN-ACK resends go where the neighbour now is */
Test(neigh, a_syn_ack_resend_follows_a_moved_neighbour)
{
	struct pkt_tcp p;

	inject_arp(PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, H.our_ip);
	settle();
	syn_to_listener(H.peer_mac, H.our_mac);
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
	cr_assert(!memcmp(p.dst_mac, H.peer_mac, 6));
	inject_arp(PKT_ARP_REQUEST, OTHER_MAC, H.peer_ip, H.peer_ip); /* gratuitous */
	EXPECT_SEG(p, 2000);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
	cr_assert(!memcmp(p.dst_mac, OTHER_MAC, 6), "the resent SYN-ACK went to the old MAC");
}

/* the neighbour moved between the SYN and the handshake's last ACK: the
 * pass that moved the open connections did not see this one, which takes
 * the new MAC when it is accepted */
Test(neigh, a_connection_accepted_during_a_move_takes_the_new_mac)
{
	struct pkt_tcp p, q;
	uint8_t dst[6], peer[6];
	uint32_t iss;

	inject_arp(PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, H.our_ip);
	settle();
	uint64_t n = followed();
	h_open_passive(8083, 3000, 1460, &iss); /* open: the pass's witness */
	int l = bp_listen(H.app, 0, 8082, 16);
	cr_assert_geq(l, 0);
	H.our_port = 8082;
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = 5000, .wnd = 65535, .mss = 1460,
				.wscale = -1 });
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
	inject_arp(PKT_ARP_REQUEST, OTHER_MAC, H.peer_ip, H.peer_ip);
	/* the pass is over once it moved the witness: before our SYN-ACK's
	 * first resend (250 ms), which would take the new MAC by itself */
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() * 2;
	while (followed() < n + 1 && rte_rdtsc() < end)
		if (h_next_tcp(&q, 5))
			cr_assert_not(q.flags & TCPF_SYN, "our SYN-ACK was resent first: too slow");
	cr_assert_eq(followed(), n + 1, "the move's pass never came");
	memcpy(peer, H.peer_mac, 6);
	memcpy(H.peer_mac, OTHER_MAC, 6);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = 5001, .ack = p.seq + 1, .wnd = 65535 });
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	send_byte_to(h, 'a', 5001, dst);
	memcpy(H.peer_mac, peer, 6);
	cr_assert(!memcmp(dst, OTHER_MAC, 6), "accepted after the move: data to %02x:..:%02x",
		  dst[0], dst[5]);
}

Test(neigh, tcp_to_a_group_mac_is_not_ours)
{
	struct pkt_tcp p;

	syn_to_listener(H.peer_mac, BCAST_MAC);
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = 5000, .wnd = 65535, .mss = 1460,
				.wscale = -1 });
	/* in order: the one answer is the unicast SYN's */
	EXPECT_SEG(p, 1000);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
	cr_assert_eq(p.ack, 5001, "answered the SYN sent to a broadcast MAC");
	expect_no_segment(200);
}

/* no RST for a stray segment whose source no host can have: a broadcast
 * source MAC would make it a broadcast */
Test(neigh, a_stray_segment_from_a_martian_gets_no_rst)
{
	uint8_t real[6];
	uint32_t ip = H.peer_ip;
	struct pkt_tcp p;

	H.our_port = 9;
	memcpy(real, H.peer_mac, 6);
	memcpy(H.peer_mac, BCAST_MAC, 6);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = 1, .ack = 1, .wnd = 1000 });
	memcpy(H.peer_mac, real, 6);
	inet_pton(AF_INET, "127.0.0.1", &H.peer_ip);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = 1, .ack = 1, .wnd = 1000 });
	H.peer_ip = ip;
	expect_no_segment(200);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = 1, .ack = 1, .wnd = 1000 });
	EXPECT_SEG(p, 1000);
	cr_assert(p.flags & TCPF_RST, "a real host's stray ACK gets its RST");
	cr_assert(!memcmp(p.dst_mac, H.peer_mac, 6) && p.daddr == H.peer_ip,
		  "an RST went to a martian source");
}

/* ------------------------------------------------------------ ICMP echo */

static uint16_t ref_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* an echo request with 16 bytes of data */
static void inject_echo(const uint8_t *src_mac, const uint8_t *dst_mac, uint32_t saddr,
			uint32_t daddr)
{
	uint8_t f[PKT_ETH_LEN + 20 + 8 + 16] = { 0 };
	uint8_t *ip = f + PKT_ETH_LEN, *icmp = ip + 20;
	uint16_t c;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 16;
	ip[8] = 64;
	ip[9] = PKT_PROTO_ICMP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	c = ref_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	icmp[0] = 8;
	icmp[5] = 7;
	memset(icmp + 8, 'p', 16);
	c = ref_csum(icmp, 24);
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	h_inject_raw(f, sizeof(f));
}

Test(neigh, echo_is_answered_only_for_a_hosts_unicast_to_us)
{
	uint8_t f[2048];
	uint32_t bcast, subnet_bcast, lo;

	inet_pton(AF_INET, "255.255.255.255", &bcast);
	inet_pton(AF_INET, "198.18.0.255", &subnet_bcast);
	inet_pton(AF_INET, "127.0.0.1", &lo);
	inject_echo(H.peer_mac, BCAST_MAC, H.peer_ip, bcast);
	inject_echo(H.peer_mac, BCAST_MAC, H.peer_ip, subnet_bcast);
	inject_echo(H.peer_mac, H.our_mac, H.peer_ip, subnet_bcast);
	inject_echo(BCAST_MAC, H.our_mac, H.peer_ip, H.our_ip);
	inject_echo(H.peer_mac, H.our_mac, lo, H.our_ip);
	inject_echo(H.peer_mac, H.our_mac, H.peer_ip, H.our_ip);
	/* in order: the one answer is the real ping's */
	int len = h_next_frame(f, 1000);
	cr_assert_gt(len, 0, "no echo reply to a real ping");
	cr_assert_eq(f[PKT_ETH_LEN + 20], 0, "not an echo reply");
	cr_assert(!memcmp(f, H.peer_mac, 6) && !memcmp(f + PKT_ETH_LEN + 12, &H.our_ip, 4) &&
		  !memcmp(f + PKT_ETH_LEN + 16, &H.peer_ip, 4),
		  "answered an echo that is not a host's to us");
	cr_assert_eq(h_next_frame(f, 200), 0, "more than one echo answered");
}

/* another host's unicast MAC with our IP, as a promiscuous port or a
 * flooding bridge shows it: not ours, as Linux drops PACKET_OTHERHOST in
 * ip_rcv() and arp_rcv().  Nothing is answered or learned. */
Test(neigh, frames_to_another_hosts_mac_are_not_ours)
{
	uint64_t dropped = dp_fp_counter(&H.dp, DPC_RX_DROP_OTHERHOST);
	uint8_t f[2048];
	struct pkt_tcp p;
	struct pkt_arp a;
	int len;

	syn_to_listener(H.peer_mac, OTHER_MAC);
	inject_echo(H.peer_mac, OTHER_MAC, H.peer_ip, H.our_ip);
	pkt_arp_write(f, PKT_ARP_REQUEST, H.peer_mac, H.peer_ip, NULL, H.our_ip);
	memcpy(f, OTHER_MAC, 6);
	h_inject_raw(f, PKT_ARP_FRAME_LEN);
	h_inject(&(struct seg){ .flags = TCPF_SYN, .seq = 5000, .wnd = 65535, .mss = 1460,
				.wscale = -1 });
	/* in order: what comes first answers the SYN to our own MAC */
	while ((len = h_next_frame(f, 1000)) > 0 && pkt_classify(f, (size_t)len) != PKT_PROTO_TCP) {
		cr_assert(!pkt_arp_parse(f, (size_t)len, &a) || a.op != PKT_ARP_REPLY,
			  "answered an ARP request sent to another host's MAC");
		cr_assert_neq(pkt_classify(f, (size_t)len), PKT_PROTO_ICMP,
			      "answered a ping sent to another host's MAC");
	}
	cr_assert(len > 0 && pkt_parse_tcp(f, (size_t)len, true, &p) == PKT_OK, "no SYN-ACK");
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK);
	cr_assert_eq(p.ack, 5001, "answered the SYN sent to another host's MAC");
	cr_assert_eq(h_next_frame(f, 200), 0, "more than the one answer");
	cr_assert_eq(dp_fp_counter(&H.dp, DPC_RX_DROP_OTHERHOST) - dropped, 3,
		     "the three frames for another host are counted");
	settle();
	expect_unknown(81, "a request sent to another host's MAC");
}

/* ------------------------------------------------ the table under load */

static uint32_t host(int n)
{
	return htonl(0xc6120000u | (uint32_t)n); /* 198.18.0.n */
}

/* requests for us from 2..2+@n-1 of our /24, each from its own MAC */
static void many_senders(int first, int n)
{
	uint8_t mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x00 };

	for (int i = first; i < first + n; i++) {
		mac[5] = (uint8_t)i;
		inject_arp(PKT_ARP_REQUEST, mac, host(i), H.our_ip);
	}
	settle();
}

/* a /24's hosts spread over the table: of 24 neighbours nearly all stay
 * known (one set for a whole subnet kept 4; with a random key, 5 of 24 in
 * one set of 4 happens about once in 400 starts) */
Test(neigh, a_subnets_neighbours_are_kept)
{
	uint8_t dst[6];
	int kept = 0;

	many_senders(10, 24);
	for (int i = 10; i < 34; i++) {
		H.peer_ip = host(i);
		if (connect_first_frame((uint16_t)(1000 + i), dst) == PKT_PROTO_TCP) {
			cr_assert_eq(dst[5], i);
			kept++;
		}
	}
	cr_assert_geq(kept, 20, "%d of 24 neighbours kept", kept);
}

/* forged requests for us from 1,000 addresses of a /16 (about 16 per set,
 * so every set overflows) cannot evict the question we asked: the real
 * answer, right behind them, still completes it */
static void slash16(struct bp_config *c)
{
	char err[256];

	cr_assert_eq(config_set(c, "port", "ip", "198.18.0.1/16", err, sizeof(err)), 0, "%s", err);
}

static void start_slash16(void)
{
	h_start_with(slash16);
}

Test(neigh16, forged_senders_cannot_drop_our_question, .init = start_slash16, .fini = h_stop,
     .timeout = 30)
{
	uint8_t mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x00 };
	struct pkt_tcp syn;
	uint8_t dst[6];

	cr_assert_eq(connect_first_frame(80, dst), PKT_ETHTYPE_ARP);
	for (int i = 0; i < 1000; i++) {
		mac[4] = (uint8_t)(i >> 8);
		mac[5] = (uint8_t)i;
		inject_arp(PKT_ARP_REQUEST, mac, htonl(0xc6120100u + (uint32_t)i), H.our_ip);
	}
	inject_arp(PKT_ARP_REPLY, H.peer_mac, H.peer_ip, H.our_ip);
	EXPECT_SEG(syn, 1000);
	cr_assert_eq(syn.flags, TCPF_SYN);
	cr_assert(!memcmp(syn.dst_mac, H.peer_mac, 6));
}

/* a question we stopped asking takes no late answer: that would be an
 * unsolicited reply */
Test(neigh, an_answer_after_we_gave_up_teaches_nothing)
{
	uint8_t dst[6];
	int h = bp_connect(H.app, H.peer_ip, 80);

	cr_assert_geq(h, 0);
	WAIT_FOR(bp_connect_status(H.app, h) == -EHOSTUNREACH, 3000);
	usleep(300 * 1000); /* the last request is 550 ms old: the question lapsed */
	inject_arp(PKT_ARP_REPLY, H.peer_mac, H.peer_ip, H.our_ip);
	settle();
	expect_unknown(81, "an answer after the connect gave up");
	(void)dst;
}

/* a gateway outside our prefix (here a /32) is still learned from */
static void slash32_with_gateway(struct bp_config *c)
{
	char err[256];

	cr_assert_eq(config_set(c, "port", "ip", "198.18.0.1/32", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_set(c, "port", "gateway", "198.18.0.254", err, sizeof(err)), 0, "%s",
		     err);
}

static void start_slash32(void)
{
	h_start_with(slash32_with_gateway);
}

Test(neigh_gw, a_gateway_outside_the_prefix_is_learned, .init = start_slash32, .fini = h_stop,
     .timeout = 30)
{
	uint8_t dst[6];
	const uint8_t gw_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe };
	struct pkt_tcp syn;

	cr_assert_eq(connect_first_frame(80, dst), PKT_ETHTYPE_ARP);
	cr_assert_eq(last_ask, host(254), "not asking for the gateway");
	inject_arp(PKT_ARP_REPLY, gw_mac, host(254), H.our_ip);
	EXPECT_SEG(syn, 1000);
	cr_assert_eq(syn.flags, TCPF_SYN);
	cr_assert(!memcmp(syn.dst_mac, gw_mac, 6), "the SYN did not go to the gateway");
}
