// SPDX-License-Identifier: MIT
/*
 * tcp_ctl.c - the segments the slowpath sends itself: SYN, SYN-ACK and
 * resets for segments that match no connection.  Everything on an
 * installed flow is sent by the fastpath.
 */
#include <rte_mbuf.h>

#include "sp_internal.h"

static void send_hdr(struct sp *sp, struct tcp_hdr_spec *s)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(sp->dp->pool);
	size_t len = pkt_tcp_hdr_len(s);
	uint8_t *buf = m ? (uint8_t *)rte_pktmbuf_append(m, len < 60 ? 60 : len) : NULL;
	if (!buf) {
		rte_pktmbuf_free(m);
		sp->dp->sp_counters[DPC_TX_NOMBUF]++;
		return;
	}
	memset(buf, 0, len < 60 ? 60 : len);
	s->ip_id = 0; /* DF, no fragment to tell apart (RFC 6864); a counter would
		       * show any peer how many of these we send, as Linux's 0 */
	pkt_write_tcp(buf, s, 0);
	sp_tx_mbuf(sp, m);
}

/* our receive window scale: the smallest shift that can express the ring */
uint8_t sp_rcv_wscale(const struct dataplane *dp)
{
	uint8_t ws = 0;
	while (ws < 14 && (dp->cfg.rx_buf_size >> ws) > 0xffff)
		ws++;
	return ws;
}

void sp_send_syn(struct sp *sp, struct sp_conn *c, const struct rte_ether_addr *dst, bool ack)
{
	struct dataplane *dp = sp->dp;
	/* a SYN-ACK may only offer window scaling if the SYN did */
	bool ws = !ack || c->peer_wscale >= 0;
	uint32_t wnd = dp->cfg.rx_buf_size > 0xffff ? 0xffff : dp->cfg.rx_buf_size;
	struct tcp_hdr_spec s = {
		.src_mac = dp->mac.addr_bytes,
		.dst_mac = dst->addr_bytes,
		.saddr = c->local_ip, .daddr = c->remote_ip,
		.sport = c->local_port, .dport = c->remote_port,
		.seq = c->iss,
		.ack = ack ? c->irs + 1 : 0,
		.wnd = (uint16_t)wnd,
		.flags = TCPF_SYN | (ack ? TCPF_ACK : 0),
		.opt_mss = (uint16_t)(dp->cfg.mtu - 40),
		.opt_wscale = ws ? (int8_t)sp_rcv_wscale(dp) : -1,
		.opt_sack_ok = !ack || c->peer_sack,
	};
	if (ack && c->ecn)
		s.flags |= TCPF_ECE;
	else if (!ack && c->ecn_requested)
		s.flags |= TCPF_ECE | TCPF_CWR;
	send_hdr(sp, &s);
}

/* the SYN-ACK of a half-open connection that has no sp_conn (synq.c) */
void sp_send_synack_hs(struct sp *sp, const struct sp_hs *hs)
{
	struct sp_conn c = {
		.local_ip = hs->local_ip, .remote_ip = hs->remote_ip,
		.local_port = hs->local_port, .remote_port = hs->remote_port,
		.iss = hs->iss, .irs = hs->irs, .peer_wscale = hs->peer_wscale,
		.peer_sack = hs->peer_sack, .ecn = hs->ecn,
	};
	sp_send_syn(sp, &c, &hs->mac, true);
}

/* SYN_RCVD's ACK <SEQ=ISS+1><ACK=IRS+1>: RFC 5961's challenge ACK there */
void sp_send_ack_hs(struct sp *sp, const struct sp_hs *hs)
{
	struct dataplane *dp = sp->dp;
	uint32_t wnd = dp->cfg.rx_buf_size > 0xffff ? 0xffff : dp->cfg.rx_buf_size;
	struct tcp_hdr_spec s = {
		.src_mac = dp->mac.addr_bytes,
		.dst_mac = hs->mac.addr_bytes,
		.saddr = hs->local_ip, .daddr = hs->remote_ip,
		.sport = hs->local_port, .dport = hs->remote_port,
		.seq = hs->iss + 1, .ack = hs->irs + 1,
		.wnd = (uint16_t)(hs->peer_wscale >= 0 ? wnd >> sp_rcv_wscale(dp) : wnd),
		.flags = TCPF_ACK,
		.opt_wscale = -1,
	};
	send_hdr(sp, &s);
	dp->sp_counters[DPC_CHALLENGE_ACK]++;
}

/* RFC 793 reset generation for a segment that matches nothing */
void sp_send_rst_reply(struct sp *sp, const struct pkt_tcp *p)
{
	if (p->flags & TCPF_RST)
		return;
	struct dataplane *dp = sp->dp;
	struct tcp_hdr_spec s = {
		.src_mac = dp->mac.addr_bytes,
		.dst_mac = p->src_mac,
		.saddr = p->daddr, .daddr = p->saddr,
		.sport = p->dport, .dport = p->sport,
		.opt_wscale = -1,
	};
	if (p->flags & TCPF_ACK) {
		s.seq = p->ack;
		s.flags = TCPF_RST;
	} else {
		s.seq = 0;
		s.ack = p->seq + p->payload_len + ((p->flags & TCPF_SYN) ? 1 : 0) +
			((p->flags & TCPF_FIN) ? 1 : 0);
		s.flags = TCPF_RST | TCPF_ACK;
	}
	send_hdr(sp, &s);
	dp->sp_counters[DPC_RX_DROP_NOFLOW]++;
}
