// SPDX-License-Identifier: MIT
/*
 * capture.c - the fastpath's half of bypassctl capture: run each running
 * capture's filter on a frame and queue a pcapng copy of the matches for
 * the slowpath (slowpath/capture.c writes them out).  The contract is
 * struct dp_capture in dataplane.h.
 *
 * Nothing here runs unless fp->cap_mask (dp->capture_mask as this round
 * loaded it) is non-zero.  While a capture runs its cost per frame is
 * bounded: the filter (classic BPF, at most BPF_MAXINSNS instructions,
 * every jump forward within the program and a return last, so it ends:
 * the slowpath's cap_bpf_check() proves that, libpcap's bpf_validate()
 * alone does not), a copy of at most snaplen bytes into the capture pool
 * and one ring enqueue.  A copy that finds the pool empty or the ring
 * full is dropped and counted: the traffic never waits for a capture.
 */
/* rte_pcapng is experimental in DPDK 22.11 (Debian 12) */
#define ALLOW_EXPERIMENTAL_API
#include <pcap/pcap.h>
#include <pcap/bpf.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_pcapng.h>

#include "fastpath.h"

_Static_assert(sizeof(struct dp_bpf_insn) == sizeof(struct bpf_insn),
	       "dp_bpf_insn must be laid out as libpcap's struct bpf_insn");

/*
 * The tenant a TCP frame belongs to: the one of the flow this core holds
 * for it.  @out: the frame leaves (local address is the source).  Frames
 * of no installed flow (handshakes, ARP, strays) belong to nobody: only
 * captures of every tenant see them.
 */
static int frame_tenant(struct fp_ctx *fp, const struct rte_mbuf *m, bool out)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	if (len < 14 + 20 + 4 || p[12] != 0x08 || p[13] != 0x00 || p[14 + 9] != PKT_PROTO_TCP)
		return DP_CAPTURE_ALL_TENANTS;
	uint32_t ihl = (p[14] & 0x0f) * 4u;
	if (ihl < 20 || len < 14 + ihl + 4)
		return DP_CAPTURE_ALL_TENANTS;
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	memcpy(&saddr, p + 14 + 12, 4);
	memcpy(&daddr, p + 14 + 16, 4);
	memcpy(&sport, p + 14 + ihl, 2);
	memcpy(&dport, p + 14 + ihl + 2, 2);
	sport = rte_be_to_cpu_16(sport);
	dport = rte_be_to_cpu_16(dport);
	const struct fp_flow *f = out ? flow_table_lookup(fp, daddr, saddr, dport, sport) :
					flow_table_lookup(fp, saddr, daddr, sport, dport);
	return f ? f->tenant : DP_CAPTURE_ALL_TENANTS;
}

static void capture_one(struct fp_ctx *fp, struct dp_capture *c, struct rte_mbuf *m,
			bool out)
{
	struct dp_capture_core *st = &c->core[fp->core];
	if (c->nprog) {
		/* the filter sees the first segment; loads beyond it fail
		 * (no match), as tcpdump's would beyond its snapshot */
		const struct bpf_insn *prog = (const struct bpf_insn *)c->prog;
		if (!bpf_filter(prog, rte_pktmbuf_mtod(m, const u_char *), rte_pktmbuf_pkt_len(m),
				rte_pktmbuf_data_len(m)))
			return;
	}
	st->matched++;
	uint64_t tsc = rte_rdtsc();
	struct rte_mbuf *copy = rte_pcapng_copy(fp->dp->port_id, out ? fp->txq : fp->rxq, m,
						fp->dp->capture_pool, c->snaplen, tsc,
						out ? RTE_PCAPNG_DIRECTION_OUT :
						      RTE_PCAPNG_DIRECTION_IN);
	if (!copy) {
		st->dropped++;
		return;
	}
	/* DPDK 22.11 turns cycles into nanoseconds with a product that
	 * overflows once the process has run for a few seconds: the block
	 * carries the raw tsc instead, the slowpath converts it
	 * (cap_pcapng_epb_fix()) */
	uint8_t *epb = rte_pktmbuf_mtod(copy, uint8_t *);
	uint32_t hi = (uint32_t)(tsc >> 32), lo = (uint32_t)tsc;
	memcpy(epb + 12, &hi, 4);
	memcpy(epb + 16, &lo, 4);
	if (rte_ring_sp_enqueue(c->ring[fp->core], copy)) {
		rte_pktmbuf_free(copy);
		st->dropped++;
	}
}

/**
 * fp_capture - offer @n frames to every running capture.
 * @out: the frames are being transmitted (else they were just received).
 *
 * Called only when fp->cap_mask is non-zero.
 */
void fp_capture(struct fp_ctx *fp, struct rte_mbuf **pkts, uint32_t n, bool out)
{
	struct dataplane *dp = fp->dp;
	for (uint32_t i = 0; i < n; i++) {
		int tenant = fp->cap_tenant_mask ? frame_tenant(fp, pkts[i], out) :
						   DP_CAPTURE_ALL_TENANTS;
		for (uint32_t mask = fp->cap_mask; mask; mask &= mask - 1) {
			struct dp_capture *c = &dp->capture[__builtin_ctz(mask)];
			if (c->tenant != DP_CAPTURE_ALL_TENANTS && c->tenant != tenant)
				continue;
			capture_one(fp, c, pkts[i], out);
		}
	}
}

/**
 * fp_capture_tenants - which of the running captures (fp->cap_mask, loaded
 * this round) want one tenant only: frames are then looked up.
 */
void fp_capture_tenants(struct fp_ctx *fp)
{
	struct dataplane *dp = fp->dp;
	uint32_t tmask = 0;
	for (uint32_t m = fp->cap_mask; m; m &= m - 1) {
		uint32_t i = (uint32_t)__builtin_ctz(m);
		if (dp->capture[i].tenant != DP_CAPTURE_ALL_TENANTS)
			tmask |= 1u << i;
	}
	fp->cap_tenant_mask = tmask;
}
