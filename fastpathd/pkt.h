/* SPDX-License-Identifier: MIT */
/*
 * pkt.h - parsing, validation and construction of Ethernet/IPv4/TCP frames.
 *
 * Pure functions over byte buffers so they can be unit-tested without an
 * EAL; the fastpath calls them on mbuf data.
 */
#ifndef FP_PKT_H
#define FP_PKT_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define PKT_ETH_LEN 14
#define PKT_IP_MIN 20

/* the IPv4 flags and fragment offset word */
#define PKT_IP_DF 0x4000
#define PKT_IP_MF 0x2000
#define PKT_IP_OFF_MASK 0x1fff  /* the offset, in 8-byte units */

#define PKT_TCP_MIN 20
#define PKT_ETHTYPE_IPV4 0x0800
#define PKT_ETHTYPE_ARP 0x0806
#define PKT_PROTO_ICMP 1
#define PKT_PROTO_TCP 6

/* a network-order 16-bit field */
static inline uint16_t pkt_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void pkt_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/** pkt_ip_csum_set - the checksum of the IPv4 header at @ip (its IHL's
 * bytes), made anew over its other fields. */
void pkt_ip_csum_set(uint8_t *ip);

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10
#define TCPF_URG 0x20
#define TCPF_ECE 0x40
#define TCPF_CWR 0x80

/* why a frame was rejected; indexes the drop counters */
enum pkt_verdict {
	PKT_OK = 0,
	PKT_BAD_TRUNCATED,   /* shorter than its headers claim */
	PKT_BAD_IP_HDR,      /* version/IHL/total length inconsistent */
	PKT_BAD_IP_CSUM,
	PKT_BAD_IP_FRAG,     /* fragments are not reassembled */
	PKT_BAD_TCP_HDR,     /* data offset out of range, bad options */
	PKT_BAD_TCP_CSUM,
	PKT_BAD_ICMP_CSUM,
	PKT_NOT_OURS,        /* unsupported ethertype/protocol, other address */
	PKT_VERDICT_MAX,
};

const char *pkt_verdict_name(enum pkt_verdict v);

/**
 * struct tcp_opts - TCP options we understand.
 * @mss: 0 if absent.
 * @wscale: window-scale shift, or -1 if absent.
 * @sack_ok: SACK-permitted seen.
 * @sack_n, @sack: SACK blocks (RFC 2018), in the order the peer sent them.
 * @ts_present, @ts_val, @ts_ecr: timestamps option.
 */
#define TCP_MAX_SACK 4       /* blocks in one option (40 option bytes) */
#define TCP_SACK_SEND 3      /* blocks we send: room for the NOP padding */

struct tcp_opts {
	uint16_t mss;
	int8_t wscale;
	bool sack_ok;
	bool ts_present;
	uint8_t sack_n;                     /* SACK blocks present */
	uint32_t ts_val;
	uint32_t ts_ecr;
	uint32_t sack[TCP_MAX_SACK][2];     /* [left, right) sequence numbers */
};

/**
 * struct pkt_tcp - a parsed, validated TCP/IPv4 segment.  Multi-byte fields
 * are converted to host order except the addresses, which stay in network
 * order (as stored in flow keys).
 */
struct pkt_tcp {
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint32_t saddr, daddr;  /* network order */
	uint16_t sport, dport;  /* host order */
	uint32_t seq, ack;
	uint16_t wnd;           /* raw, unscaled */
	uint8_t flags;
	uint8_t ecn;            /* IP ECN bits */
	struct tcp_opts opts;
	const uint8_t *payload;
	uint32_t payload_len;
};

/**
 * pkt_parse_tcp - validate an Ethernet/IPv4/TCP frame and extract fields.
 * @frame: frame bytes starting at the Ethernet header.
 * @len: frame length (may include Ethernet padding).
 * @verify_csum: false when the NIC already verified the checksums.
 * @out: filled on PKT_OK.
 */
enum pkt_verdict pkt_parse_tcp(const uint8_t *frame, size_t len, bool verify_csum,
			       struct pkt_tcp *out);

/**
 * pkt_classify - look at the Ethernet/IP headers only.
 * Return: PKT_ETHTYPE_ARP, PKT_PROTO_TCP, PKT_PROTO_ICMP (for IPv4), or 0.
 */
int pkt_classify(const uint8_t *frame, size_t len);
bool pkt_ip_fragment(const uint8_t *frame, size_t len);

/** pkt_parse_tcp_opts - parse a TCP option block; false if malformed. */
bool pkt_parse_tcp_opts(const uint8_t *opt, size_t len, struct tcp_opts *out);

/** csum_partial - ones-complement sum of @len bytes, folded into @sum. */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum);
/** csum_fold - final 16-bit ones-complement checksum (network order result). */
uint16_t csum_fold(uint32_t sum);
/** tcp_csum - checksum of a TCP segment including the IPv4 pseudo header. */
uint16_t tcp_csum(uint32_t saddr, uint32_t daddr, const void *tcp, size_t tcp_len);

/**
 * struct tcp_hdr_spec - everything needed to write Ethernet+IPv4+TCP headers.
 */
struct tcp_hdr_spec {
	const uint8_t *src_mac, *dst_mac;
	uint32_t saddr, daddr;     /* network order */
	uint16_t sport, dport;     /* host order */
	uint32_t seq, ack;
	uint16_t wnd;
	uint8_t flags;
	uint8_t ecn;
	uint16_t ip_id;
	bool no_df;                /* a router may fragment it (a path under 552 bytes) */
	/* options (SYN / SYN-ACK only); 0/-1/false to omit */
	uint16_t opt_mss;
	int8_t opt_wscale;
	bool opt_sack_ok;
	/* SACK blocks (ACKs of an established flow); never with the above */
	uint8_t sack_n;
	uint32_t sack[TCP_SACK_SEND][2];
	uint8_t csum;              /* enum pkt_csum: who finishes the checksums */
};

/**
 * enum pkt_csum - who computes a transmitted segment's checksums.
 * @PKT_CSUM_SW: pkt_write_tcp() computes both; the payload must be in place.
 * @PKT_CSUM_HW: the port does (RTE_MBUF_F_TX_IP_CKSUM | TCP_CKSUM): the IP
 *               checksum is left 0 and the TCP one holds the pseudo-header
 *               sum, length included, as DPDK's offload contract asks.
 * @PKT_CSUM_HW_TSO: the port segments the frame (RTE_MBUF_F_TX_TCP_SEG):
 *               as PKT_CSUM_HW, but the pseudo-header sum leaves the length
 *               out (each segment's own is added by the port).
 * With either HW mode the payload is never read, so it may sit in other
 * buffers of an mbuf chain.
 */
enum pkt_csum { PKT_CSUM_SW, PKT_CSUM_HW, PKT_CSUM_HW_TSO };

#define PKT_TCP_HDRS_MAX (PKT_ETH_LEN + PKT_IP_MIN + PKT_TCP_MIN + 28)

/**
 * pkt_tcp_hdr_len - Ethernet + IPv4 + TCP header bytes pkt_write_tcp() will
 * write for @s (TCP options are NOP-padded to a multiple of 4).
 * Return: header length (payload starts at buf + return value); at most
 * PKT_TCP_HDRS_MAX.
 */
size_t pkt_tcp_hdr_len(const struct tcp_hdr_spec *s);

/**
 * pkt_write_tcp - write headers for a segment of @payload_len payload
 * bytes.  With @s->csum PKT_CSUM_SW they must already follow the headers in
 * @buf (at buf + pkt_tcp_hdr_len(@s)), since the TCP checksum covers them;
 * with the HW modes they are not read.
 */
void pkt_write_tcp(uint8_t *buf, const struct tcp_hdr_spec *s, uint32_t payload_len);

/* ------------------------------------------------------------ ARP / ICMP */

#define PKT_ARP_REQUEST 1
#define PKT_ARP_REPLY 2
#define PKT_ARP_FRAME_LEN 60   /* minimum Ethernet frame (without FCS) */

/**
 * struct pkt_arp - a parsed Ethernet/IPv4 ARP packet.
 * @op: PKT_ARP_REQUEST or PKT_ARP_REPLY (host order; other values are
 *      passed through for the caller to ignore).
 * @sha, @spa: sender hardware / protocol address (@spa network order).
 * @tha, @tpa: target hardware / protocol address (@tpa network order).
 */
struct pkt_arp {
	uint16_t op;
	uint8_t sha[6];
	uint32_t spa;
	uint8_t tha[6];
	uint32_t tpa;
};

/**
 * pkt_ipv4_martian - whether no peer can have source address @a: zero,
 * @our_ip, loopback, multicast, class E, 255.255.255.255, or the broadcast
 * address of our subnet (@our_ip/@netmask; none on a /31 or /32).  All in
 * network order.
 */
bool pkt_ipv4_martian(uint32_t a, uint32_t our_ip, uint32_t netmask);

/* a MAC no peer can have as its own: zero, or a group (multicast or
 * broadcast) address */
static inline bool pkt_mac_martian(const uint8_t *mac)
{
	return (mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/**
 * pkt_arp_parse - validate an Ethernet/IPv4 ARP frame and extract it.
 * Return: false if not ARP for Ethernet/IPv4 or truncated.
 */
bool pkt_arp_parse(const uint8_t *f, size_t len, struct pkt_arp *out);

/**
 * pkt_arp_write - build a PKT_ARP_FRAME_LEN-byte ARP frame in @buf.
 * Requests go to the Ethernet broadcast address; @dst_mac (may be NULL for
 * requests) is then only the ARP target hardware address.  Replies go to
 * @dst_mac.  Addresses are in network order.
 * Return: frame length, always PKT_ARP_FRAME_LEN.
 */
size_t pkt_arp_write(uint8_t *buf, uint16_t op, const uint8_t *src_mac, uint32_t src_ip,
		     const uint8_t *dst_mac, uint32_t dst_ip);

/* the smallest path MTU the daemon believes (Linux's min_pmtu): an ICMP
 * saying less, or 0 (a router from before RFC 1191), means this much */
#define PKT_MIN_PMTU 552

#define PKT_ICMP_DEST_UNREACH 3  /* the error types an ICMP message about our TCP has */
#define PKT_ICMP_TIME_EXCEEDED 11
#define PKT_ICMP_PARAM_PROBLEM 12
#define PKT_ICMP_PORT_UNREACH 3  /* destination unreachable codes (RFC 792, 1812) */
#define PKT_ICMP_FRAG_NEEDED 4
#define PKT_ICMP_UNREACH_CODES 16

/**
 * struct pkt_icmp_err - an ICMP error about one of our TCP segments:
 * destination unreachable, time exceeded or parameter problem.  Addresses
 * network order, ports and numbers host order.
 * @from: the host or router that sent it.
 * @raddr, @rport, @lport: the quoted segment's destination and ports.
 * @seq: the quoted segment's sequence number.
 * @type: PKT_ICMP_DEST_UNREACH, PKT_ICMP_TIME_EXCEEDED or
 *        PKT_ICMP_PARAM_PROBLEM.
 * @code: why, within @type (for destination unreachable below
 *        PKT_ICMP_UNREACH_CODES: PKT_ICMP_PORT_UNREACH, PKT_ICMP_FRAG_NEEDED, ...).
 * @mtu: for PKT_ICMP_FRAG_NEEDED, the next hop's MTU the router reports
 *       (0 from routers older than RFC 1191).
 * @quoted_len: the quoted datagram's total length field.
 */
struct pkt_icmp_err {
	uint32_t from, raddr;
	uint16_t lport, rport;
	uint32_t seq;
	uint8_t type, code;
	uint16_t mtu, quoted_len;
};

/* whether @e is a router's "fragmentation needed" (path MTU discovery) */
static inline bool pkt_icmp_frag_needed(const struct pkt_icmp_err *e)
{
	return e->type == PKT_ICMP_DEST_UNREACH && e->code == PKT_ICMP_FRAG_NEEDED;
}

/**
 * pkt_icmp_err_parse - validate an ICMP error (type 3, 11 or 12) about a
 * TCP segment from @our_ip (network order) and extract it.
 * Return: false if it is not one or is malformed.
 */
bool pkt_icmp_err_parse(const uint8_t *frame, size_t len, uint32_t our_ip,
			struct pkt_icmp_err *out);

/**
 * pkt_icmp_err_write - build the ICMP error @type/@code a router (or the
 * peer) sends about frame @seg (tests and the fuzzer).  Return: frame
 * length, 0 if not IPv4.
 */
size_t pkt_icmp_err_write(uint8_t *buf, const uint8_t *seg, size_t seg_len,
			  const uint8_t *router_mac, uint32_t router_ip, uint8_t type,
			  uint8_t code, uint16_t mtu);

/**
 * pkt_icmp_echo_reply - answer an ICMP echo request.
 * @buf: reply frame; may be the same buffer as @req (in-place reply).
 * @cap: bytes available at @buf.
 * @req: the request frame starting at the Ethernet header.
 * @req_len: request frame length (may include Ethernet padding).
 * @my_mac: our MAC, the reply's Ethernet source.
 * Return: reply length, or 0 if @req is not a valid echo request (bad
 * header or checksum, fragment) or the reply does not fit in @cap.
 */
size_t pkt_icmp_echo_reply(uint8_t *buf, size_t cap, const uint8_t *req, size_t req_len,
			   const uint8_t *my_mac);

#endif
