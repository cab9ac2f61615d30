// SPDX-License-Identifier: MIT
/*
 * pkt_arp_icmp.c - the two non-TCP protocols the daemon must speak to be
 * reachable at all: ARP (so peers can find our MAC) and ICMP echo (so
 * operators can ping the dataplane address).
 *
 * Pure byte-buffer code like pkt.c, for the same reason: unit tests run
 * without DPDK.
 */
#include <string.h>
#include <arpa/inet.h>

#include "pkt.h"

#define ARP_HTYPE_ETHER 1
#define ARP_HDR_LEN 28

#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define ICMP_HDR_LEN 8
#define ICMP_QUOTED_TCP 8      /* RFC 792: the datagram's first 64 bits beyond its header */

static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

bool pkt_ipv4_martian(uint32_t a, uint32_t our_ip, uint32_t netmask)
{
	uint32_t h = ntohl(a), mask = ntohl(netmask);

	if (!h || a == our_ip)
		return true;
	if (h >= 0xe0000000u || (h >> 24) == 127)
		return true; /* multicast, class E, 255.255.255.255, loopback */
	return mask < 0xfffffffeu && (h & ~mask) == ~mask && (h & mask) == (ntohl(our_ip) & mask);
}

/**
 * pkt_arp_parse - validate an Ethernet/IPv4 ARP frame and extract it.
 * @f: frame bytes starting at the Ethernet header.
 * @len: frame length.
 * @out: filled on success.
 *
 * Only the hardware/protocol type and length fields are checked; whether
 * the request is for us is the caller's decision.
 *
 * Return: false if not ARP for Ethernet/IPv4 or truncated.
 */
bool pkt_arp_parse(const uint8_t *f, size_t len, struct pkt_arp *out)
{
	const uint8_t *a = f + PKT_ETH_LEN;

	if (len < PKT_ETH_LEN + ARP_HDR_LEN)
		return false;
	if (pkt_rd16(f + 12) != PKT_ETHTYPE_ARP)
		return false;
	if (pkt_rd16(a) != ARP_HTYPE_ETHER || pkt_rd16(a + 2) != PKT_ETHTYPE_IPV4 ||
	    a[4] != 6 || a[5] != 4)
		return false;

	out->op = pkt_rd16(a + 6);
	memcpy(out->sha, a + 8, 6);
	memcpy(&out->spa, a + 14, 4);
	memcpy(out->tha, a + 18, 6);
	memcpy(&out->tpa, a + 24, 4);
	return true;
}

/**
 * pkt_arp_write - build an ARP request or reply.
 * @buf: at least PKT_ARP_FRAME_LEN bytes.
 * @op: PKT_ARP_REQUEST or PKT_ARP_REPLY.
 * @src_mac: our MAC (Ethernet source and ARP sender).
 * @src_ip: our address, network order.
 * @dst_mac: target MAC; for requests may be NULL (target unknown).
 * @dst_ip: target address, network order.
 *
 * The frame is zero-padded to the Ethernet minimum so no stale buffer
 * bytes leak onto the wire even if the driver does not pad.
 *
 * Return: PKT_ARP_FRAME_LEN.
 */
size_t pkt_arp_write(uint8_t *buf, uint16_t op, const uint8_t *src_mac, uint32_t src_ip,
		     const uint8_t *dst_mac, uint32_t dst_ip)
{
	static const uint8_t zero_mac[6];
	uint8_t *a = buf + PKT_ETH_LEN;
	const uint8_t *tha = dst_mac ? dst_mac : zero_mac;

	memset(buf, 0, PKT_ARP_FRAME_LEN);
	memcpy(buf, op == PKT_ARP_REQUEST || !dst_mac ? bcast_mac : dst_mac, 6);
	memcpy(buf + 6, src_mac, 6);
	pkt_wr16(buf + 12, PKT_ETHTYPE_ARP);

	pkt_wr16(a, ARP_HTYPE_ETHER);
	pkt_wr16(a + 2, PKT_ETHTYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	pkt_wr16(a + 6, op);
	memcpy(a + 8, src_mac, 6);
	memcpy(a + 14, &src_ip, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, &dst_ip, 4);
	return PKT_ARP_FRAME_LEN;
}

/*
 * The outer IPv4 header of an ICMP message: a whole, unfragmented,
 * checksummed header with the ICMP message inside @len.  Return: the ICMP
 * message's length (at @ip + *ihl), or 0.
 */
static size_t icmp_outer(const uint8_t *frame, size_t len, size_t *ihl)
{
	const uint8_t *ip = frame + PKT_ETH_LEN;

	if (len < PKT_ETH_LEN + PKT_IP_MIN || pkt_rd16(frame + 12) != PKT_ETHTYPE_IPV4)
		return 0;
	size_t hl = (size_t)(ip[0] & 0x0f) * 4, tot = pkt_rd16(ip + 2);
	if ((ip[0] >> 4) != 4 || hl < PKT_IP_MIN || tot < hl + ICMP_HDR_LEN ||
	    tot > len - PKT_ETH_LEN)
		return 0;
	if (ip[9] != PKT_PROTO_ICMP || (pkt_rd16(ip + 6) & (PKT_IP_MF | PKT_IP_OFF_MASK)))
		return 0;       /* a fragment: slowpath/frag.c takes it whole */
	if (csum_fold(csum_partial(ip, hl, 0)) != 0)
		return 0;
	*ihl = hl;
	return tot - hl;
}

/**
 * pkt_icmp_err_parse - validate an ICMP error about a TCP segment we
 * sent: destination unreachable (type 3: port unreachable, or
 * "fragmentation needed and DF set" with the next hop's MTU, RFC 1191, ...),
 * time exceeded (11) or parameter problem (12), as Linux's tcp_v4_err()
 * takes them (any code of the last two; no source quench, no redirect).
 * @frame: frame bytes starting at the Ethernet header.
 * @len: frame length (may include Ethernet padding).
 * @our_ip: our address, network order: the quoted segment's source.
 * @out: filled on success.
 *
 * Checks the outer header and the ICMP checksum, then that the quoted
 * datagram is TCP from @our_ip, not a later fragment, with its header and
 * the first 8 bytes of TCP (ports and sequence number) present.  Whether
 * the segment is one of ours in flight is the caller's question (RFC 5927).
 *
 * Return: false if it is not such a message, or malformed.
 */
bool pkt_icmp_err_parse(const uint8_t *frame, size_t len, uint32_t our_ip,
			struct pkt_icmp_err *out)
{
	size_t ihl, icmp_len = icmp_outer(frame, len, &ihl);
	if (!icmp_len)
		return false;
	const uint8_t *icmp = frame + PKT_ETH_LEN + ihl;
	bool known = icmp[0] == PKT_ICMP_DEST_UNREACH ? icmp[1] < PKT_ICMP_UNREACH_CODES :
		     icmp[0] == PKT_ICMP_TIME_EXCEEDED || icmp[0] == PKT_ICMP_PARAM_PROBLEM;
	if (!known || csum_fold(csum_partial(icmp, icmp_len, 0)) != 0)
		return false;
	const uint8_t *q = icmp + ICMP_HDR_LEN;
	size_t qlen = icmp_len - ICMP_HDR_LEN;
	if (qlen < PKT_IP_MIN)
		return false;
	size_t qihl = (size_t)(q[0] & 0x0f) * 4;
	if ((q[0] >> 4) != 4 || qihl < PKT_IP_MIN || qlen < qihl + ICMP_QUOTED_TCP ||
	    q[9] != PKT_PROTO_TCP || (pkt_rd16(q + 6) & PKT_IP_OFF_MASK))
		return false;
	uint32_t qsrc;
	memcpy(&qsrc, q + 12, 4);
	if (qsrc != our_ip)
		return false;
	memcpy(&out->from, frame + PKT_ETH_LEN + 12, 4);
	memcpy(&out->raddr, q + 16, 4);
	const uint8_t *t = q + qihl;
	out->lport = pkt_rd16(t);
	out->rport = pkt_rd16(t + 2);
	out->seq = (uint32_t)pkt_rd16(t + 4) << 16 | pkt_rd16(t + 6);
	out->type = icmp[0];
	out->code = icmp[1];
	out->mtu = pkt_icmp_frag_needed(out) ? pkt_rd16(icmp + 6) : 0;
	out->quoted_len = pkt_rd16(q + 2);
	return true;
}

/**
 * pkt_icmp_err_write - build the ICMP error @type/@code a router or the
 * peer sends about our segment @seg (a frame from the Ethernet header);
 * @mtu is the next hop's for a destination unreachable PKT_ICMP_FRAG_NEEDED.
 * The daemon itself sends one kind: a reassembly time exceeded
 * (slowpath/frag.c); the tests and the fuzzer the rest.
 * @buf: at least PKT_ETH_LEN + 2 * PKT_IP_MIN + ICMP_HDR_LEN + 8 bytes
 *       plus @seg's IP options.
 * @router_mac, @router_ip: the message's sender (network order).
 * Return: frame length, or 0 if @seg is not an IPv4 frame.
 */
size_t pkt_icmp_err_write(uint8_t *buf, const uint8_t *seg, size_t seg_len,
			  const uint8_t *router_mac, uint32_t router_ip, uint8_t type,
			  uint8_t code, uint16_t mtu)
{
	if (seg_len < PKT_ETH_LEN + PKT_IP_MIN || pkt_rd16(seg + 12) != PKT_ETHTYPE_IPV4)
		return 0;
	const uint8_t *sip = seg + PKT_ETH_LEN;
	size_t qlen = (size_t)(sip[0] & 0x0f) * 4 + ICMP_QUOTED_TCP;
	if (qlen > seg_len - PKT_ETH_LEN)
		qlen = seg_len - PKT_ETH_LEN;
	uint8_t *ip = buf + PKT_ETH_LEN, *icmp = ip + PKT_IP_MIN;
	size_t tot = PKT_IP_MIN + ICMP_HDR_LEN + qlen;

	memcpy(buf, seg + 6, 6);         /* back to the segment's sender */
	memcpy(buf + 6, router_mac, 6);
	pkt_wr16(buf + 12, PKT_ETHTYPE_IPV4);
	memset(ip, 0, PKT_IP_MIN);
	ip[0] = 0x45;
	pkt_wr16(ip + 2, (uint16_t)tot);
	ip[8] = 64;
	ip[9] = PKT_PROTO_ICMP;
	memcpy(ip + 12, &router_ip, 4);
	memcpy(ip + 16, sip + 12, 4);    /* the segment's source */
	pkt_ip_csum_set(ip);
	memset(icmp, 0, ICMP_HDR_LEN);
	icmp[0] = type;
	icmp[1] = code;
	if (type == PKT_ICMP_DEST_UNREACH && code == PKT_ICMP_FRAG_NEEDED)
		pkt_wr16(icmp + 6, mtu);
	memcpy(icmp + ICMP_HDR_LEN, sip, qlen);
	uint16_t csum = csum_fold(csum_partial(icmp, ICMP_HDR_LEN + qlen, 0));
	memcpy(icmp + 2, &csum, 2);
	return PKT_ETH_LEN + tot;
}

/**
 * pkt_icmp_echo_reply - answer an ICMP echo request.
 * @buf: reply frame; may be the same buffer as @req (in-place reply).
 * @cap: bytes available at @buf.
 * @req: the request frame starting at the Ethernet header.
 * @req_len: request frame length (may include Ethernet padding).
 * @my_mac: our MAC, the reply's Ethernet source.
 *
 * The reply carries no IP options even if the request did: echoing options
 * like record-route back unprocessed would be wrong, and dropping them is
 * what RFC 1122 permits.  Identifier, sequence and data are echoed.
 *
 * Return: reply length, or 0 if @req is not a valid echo request or the
 * reply does not fit in @cap.
 */
size_t pkt_icmp_echo_reply(uint8_t *buf, size_t cap, const uint8_t *req, size_t req_len,
			   const uint8_t *my_mac)
{
	const uint8_t *ip = req + PKT_ETH_LEN;
	const uint8_t *icmp;
	uint8_t peer_mac[6];
	uint32_t saddr, daddr;
	uint8_t tos;
	uint16_t id, csum;
	size_t ihl, icmp_len, out_len;
	uint8_t *oip, *oicmp;

	icmp_len = icmp_outer(req, req_len, &ihl);
	if (!icmp_len)
		return 0;
	icmp = ip + ihl;
	if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0)
		return 0;
	if (csum_fold(csum_partial(icmp, icmp_len, 0)) != 0)
		return 0;

	out_len = PKT_ETH_LEN + PKT_IP_MIN + icmp_len;
	if (out_len > cap)
		return 0;

	/* save everything we need before an in-place reply overwrites it */
	memcpy(peer_mac, req + 6, 6);
	memcpy(&saddr, ip + 12, 4);
	memcpy(&daddr, ip + 16, 4);
	tos = ip[1];
	id = pkt_rd16(ip + 4);

	oip = buf + PKT_ETH_LEN;
	oicmp = oip + PKT_IP_MIN;
	memmove(oicmp, icmp, icmp_len);

	memcpy(buf, peer_mac, 6);
	memcpy(buf + 6, my_mac, 6);
	pkt_wr16(buf + 12, PKT_ETHTYPE_IPV4);

	oip[0] = 0x45;
	oip[1] = tos;
	pkt_wr16(oip + 2, (uint16_t)(PKT_IP_MIN + icmp_len));
	pkt_wr16(oip + 4, id);
	pkt_wr16(oip + 6, 0);
	oip[8] = 64;
	oip[9] = PKT_PROTO_ICMP;
	memcpy(oip + 12, &daddr, 4);
	memcpy(oip + 16, &saddr, 4);
	pkt_ip_csum_set(oip);

	oicmp[0] = ICMP_ECHO_REPLY;
	oicmp[1] = 0;
	oicmp[2] = oicmp[3] = 0;
	csum = csum_fold(csum_partial(oicmp, icmp_len, 0));
	memcpy(oicmp + 2, &csum, 2);
	return out_len;
}
