// SPDX-License-Identifier: MIT
/*
 * icmp_err.c - what an ICMP error about one of our segments (destination
 * unreachable, time exceeded, parameter problem) may change: a
 * connection's segment size (path MTU discovery, RFC 1191) and a connect
 * in progress (it fails at once, as on Linux).
 *
 * Every segment we send has DF set, so a hop narrower than our MTU (a
 * tunnel, a VPN, a 1280-byte link) drops it and its router answers with
 * an ICMP "fragmentation needed" carrying its next hop's MTU.  Without
 * those answers a connection through such a hop hung once a full-size
 * segment was due: the classic PMTU black hole.  And a connect to a port
 * a firewall rejects, or to a host a router cannot reach, waited out every
 * SYN retry where Linux fails it with ECONNREFUSED or EHOSTUNREACH.
 *
 * An ICMP message is easy to forge, and believing one lets a stranger
 * shrink a connection's segments to nearly nothing or end its connect.
 * So, as Linux does (tcp_v4_err()):
 *  - it must name a connection of ours and a sequence number in flight on
 *    it (snd_una <= seq < snd_nxt; for a connect, our SYN's): an off-path
 *    sender has to guess it (RFC 5927 section 4.1);
 *  - an MTU under PKT_MIN_PMTU (Linux's min_pmtu, 552) counts as 552, so
 *    the worst a forger achieves is 512-byte segments; as on Linux they
 *    then go without DF, so a hop that narrow fragments them instead of
 *    swallowing them;
 *  - an MSS only shrinks (the quoted datagram's own length is not looked
 *    at: a forger writes what he likes there, and a router that merged
 *    segments (BIG TCP) may quote 0);
 *  - any other message ends a connection only in SYN_SENT, with Linux's
 *    errno for it (time exceeded: EHOSTUNREACH; parameter problem:
 *    EPROTO), or a half-open one in SYN_RCVD if it says the route is gone
 *    (synq.c); later it is ignored (Linux keeps it as a soft error, which
 *    only a socket with IP_RECVERR would see).
 * A smaller MTU is the connection's at once (DPM_FLOW_PMTU: the fastpath
 * resends what is in flight at that size) and the destination's for
 * SP_PMTU_EXPIRES_MS (Linux's mtu_expires, 10 minutes), so the next
 * connection to it starts small instead of losing its first full segment,
 * and those already open to it follow (sp_pmtu_follow()).
 * The cache is small and direct-mapped under a key drawn at start: an
 * entry lost to a collision costs one more ICMP round, nothing else.
 */
#include <errno.h>
#include <string.h>
#include <rte_jhash.h>
#include <rte_mbuf.h>

#include "seq.h"
#include "sp_internal.h"

#define SP_PMTU_EXPIRES_MS (10 * 60 * 1000)
#define IP_TCP_HDRS 40 /* our segments carry no IP or TCP options */

static struct sp_pmtu_entry *slot_of(struct sp *sp, uint32_t ip)
{
	return &sp->pmtu[rte_jhash_1word(ip, sp->pmtu_key) % SP_PMTU_SIZE];
}

/**
 * sp_pmtu_mss - the largest payload the path to @ip took lately, from an
 * ICMP message within SP_PMTU_EXPIRES_MS; *@no_df: whether segments to
 * it go without DF (a hop narrower than PKT_MIN_PMTU).
 * Return: that MSS, or UINT16_MAX if nothing smaller than our MTU is known.
 */
uint16_t sp_pmtu_mss(struct sp *sp, uint32_t ip, bool *no_df)
{
	DP_ASSERT_SP();
	const struct sp_pmtu_entry *e = slot_of(sp, ip);
	*no_df = false;
	if (!e->mtu || e->ip != ip || (int64_t)(sp->now - e->expires) >= 0)
		return UINT16_MAX;
	*no_df = e->no_df;
	return (uint16_t)(e->mtu - IP_TCP_HDRS);
}

/*
 * Whether @seq is a sequence number of ours in flight on installed @c.
 * The fastpath checked this already for a flow it had installed; a
 * message that overtook the flow's FLOW_ADD was not checked there.
 */
static bool in_flight(struct sp *sp, const struct sp_conn *c, uint32_t id, uint32_t seq)
{
	struct sp_fp_flow_view v;
	sp_fp_flow_read(sp, id, &v);
	return seq_in_flight(seq, c->iss, v.tx_acked, v.tx_max_sent, v.flags & FPF_TX_FIN_SENT);
}

/* Linux's icmp_err_convert[]: the errno a connect fails with, per code */
static const int unreach_errno[PKT_ICMP_UNREACH_CODES] = {
	ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT, ECONNREFUSED, EMSGSIZE, EOPNOTSUPP,
	ENETUNREACH, EHOSTDOWN, ENONET, ENETUNREACH, EHOSTUNREACH, ENETUNREACH,
	EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH,
};

/* the errno Linux's tcp_v4_err() gives a connect for @u (parsed: a known
 * type, a destination unreachable code in the table) */
static int connect_errno(const struct pkt_icmp_err *u)
{
	switch (u->type) {
	case PKT_ICMP_TIME_EXCEEDED:
		return EHOSTUNREACH; /* a routing loop, or a TTL too small */
	case PKT_ICMP_PARAM_PROBLEM:
		return EPROTO;
	default:
		return unreach_errno[u->code];
	}
}

/* installed connection @c's segments shrink to @mss payload bytes, and go
 * without DF from now on if @no_df; what it has in flight is resent so if
 * @resend (tcp_mss_lowered()) */
static void lower(struct sp *sp, struct sp_conn *c, uint32_t id, uint16_t mss, bool no_df,
		  bool resend)
{
	if (mss > c->cc.mss) /* news of DF alone: a peer's MSS may be the smaller */
		mss = (uint16_t)c->cc.mss;
	c->cc.mss = mss;
	c->no_df |= no_df;
	c->mss_followed = !resend;
	sp->dp->sp_counters[DPC_PMTU_LOWERED]++; /* counted before the resend is seen */
	sp_fp_flow_pmtu(sp, id, mss, c->no_df, resend);
}

/* whether @mss and @no_df tell installed connection @c something new: a
 * smaller MSS, or a hop that needs its segments without DF (whatever its
 * MSS: a peer's may be smaller than the 512 bytes such a hop leaves) */
static bool narrower(const struct sp_conn *c, uint16_t mss, bool no_df)
{
	return mss < c->cc.mss || (no_df && !c->no_df);
}

/* whether @u ends a half-open connection whose SYN-ACK it quotes (Linux's
 * tcp_v4_err() for a request socket): a route that is gone, not a refusal
 * or a size, which a retransmitted SYN-ACK might yet get past */
static bool fatal_for_half_open(const struct pkt_icmp_err *u)
{
	return u->type == PKT_ICMP_TIME_EXCEEDED || u->type == PKT_ICMP_PARAM_PROBLEM ||
	       (u->type == PKT_ICMP_DEST_UNREACH && (u->code == 0 || u->code == 1));
}

/* a "fragmentation needed" about installed connection @c: lower its MSS */
static bool too_big(struct sp *sp, struct sp_conn *c, uint32_t id,
		    const struct pkt_icmp_err *u)
{
	/* a hop under IPv4's minimum PMTU: 552-byte packets without DF, which
	 * its router fragments (Linux's __ip_rt_update_pmtu() locks the
	 * route's MTU at min_pmtu, and a locked MTU clears DF) */
	bool no_df = u->mtu < PKT_MIN_PMTU;
	uint32_t mtu = no_df ? PKT_MIN_PMTU : u->mtu;
	if (!in_flight(sp, c, id, u->seq))
		return false;
	/* cc.mss is the flow's MSS as this file last set it: a burst of
	 * ICMPs (one per dropped segment) arrives before the fastpath has
	 * taken the first DPM_FLOW_PMTU, so its own copy may be stale */
	uint16_t mss = (uint16_t)(mtu - IP_TCP_HDRS);
	/* or the news another connection heard, which this one took up
	 * without a resend (sp_pmtu_follow()): it lost a segment after all */
	bool lost_after_follow = c->mss_followed && mss >= c->cc.mss;
	bool news = narrower(c, mss, no_df);
	if (!news && !lost_after_follow)
		return false;
	struct sp_pmtu_entry *e = slot_of(sp, u->raddr);
	if (news && (e->ip != u->raddr || !e->mtu || mtu < e->mtu || (no_df && !e->no_df) ||
		     (int64_t)(sp->now - e->expires) >= 0)) {
		*e = (struct sp_pmtu_entry){
			.ip = u->raddr, .mtu = (uint16_t)mtu, .no_df = no_df,
			.expires = sp->now + sp_ms_to_tsc(sp, SP_PMTU_EXPIRES_MS),
		};
		sp->pmtu_narrowed = true; /* the others to it follow (path_pass.c) */
	}
	lower(sp, c, id, mss, no_df, true);
	return true;
}

/**
 * sp_pmtu_follow - connection @id, if established, takes up a smaller MTU
 * cached for its destination since it was installed (another connection
 * to that host heard of it), as Linux's sockets take up their route's new
 * MTU: its segments from now on are cut to it, so the next full-size one
 * is not lost at the narrow hop.  Nothing is resent (Linux resends only
 * for the socket the ICMP named): what it has in flight may well have
 * passed, and if not, its own ICMP comes (too_big()).
 */
void sp_pmtu_follow(struct sp *sp, uint32_t id)
{
	struct sp_conn *c = &sp->conns[id];

	if (c->state != SPS_ESTABLISHED)
		return;
	bool no_df;
	uint16_t mss = sp_pmtu_mss(sp, c->remote_ip, &no_df);
	if (narrower(c, mss, no_df))
		lower(sp, c, id, mss, no_df, false);
}

/**
 * sp_icmp_err_rx - an ICMP error about our TCP the fastpath passed
 * up (fp_handle_icmp() checked that it is about a TCP segment from us and,
 * for an installed flow, that it names a sequence number in flight).
 * Consumes @m.
 */
void sp_icmp_err_rx(struct sp *sp, struct rte_mbuf *m)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	struct pkt_icmp_err u;
	bool ok = pkt_icmp_err_parse(rte_pktmbuf_mtod(m, const uint8_t *),
					 rte_pktmbuf_data_len(m), dp->ip, &u);
	rte_pktmbuf_free(m);
	if (!ok)
		return;

	uint32_t id;
	struct sp_conn *c = sp_conn_by_tuple(sp, u.raddr, u.rport, u.lport, &id);
	bool used = false;
	if (c && c->state == SPS_ESTABLISHED && pkt_icmp_frag_needed(&u)) {
		used = too_big(sp, c, id, &u);
	} else if (c && c->state == SPS_SYN_SENT && !pkt_icmp_frag_needed(&u) &&
		   u.seq == c->iss) {
		/* our SYN met a closed door (RFC 1122 4.2.3.9; Linux ends
		 * the connect for every code, soft ones included) */
		dp->sp_counters[DPC_ICMP_CONNECT_FAILED]++; /* counted before the app hears */
		sp_conn_handshake_fail(sp, c, id, connect_errno(&u));
		used = true;
	} else if (!c && sp_synq_icmp_err(sp, &u, fatal_for_half_open(&u))) {
		dp->sp_counters[DPC_ICMP_HALF_OPEN_DROPPED]++;
		used = true;
	}
	if (!used)
		dp->sp_counters[DPC_ICMP_ERR_IGNORED]++;
}

/** sp_pmtu_init - an empty cache under a fresh key. */
void sp_pmtu_init(struct sp *sp)
{
	memset(sp->pmtu, 0, sizeof(sp->pmtu));
	sp_secret(&sp->pmtu_key, sizeof(sp->pmtu_key)); /* no forger aims at one slot */
}
