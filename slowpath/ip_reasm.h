/* SPDX-License-Identifier: MIT */
/*
 * ip_reasm.h - IPv4 reassembly (RFC 791, RFC 815) for the slowpath: the
 * fragments the fastpath hands over are copied in (their mbufs go back at
 * once, so no flood of them can hold the port's buffers) and their
 * datagram comes back whole when every byte has come.
 *
 * Every fragment is hostile until its datagram is whole, so everything is
 * bounded (Linux's ip_fragment.c takes the same decisions, noted):
 *  - at most @slots datagrams in reassembly and @mem_max bytes of their
 *    data held, counted in the pages that hold it (IP_REASM_PAGE bytes
 *    each, made when a fragment first touches one: a tiny fragment far
 *    into its datagram costs one page, not the datagram's length); a new
 *    datagram that finds no room evicts the oldest, so a flood of
 *    fragments that never complete costs a real datagram only if it
 *    outpaces the real one's fragments (which come back to back);
 *  - a datagram not whole @timeout_ms after its first fragment is
 *    dropped (Linux's ipfrag_time, 30 s);
 *  - a fragment that overlaps what is held discards its datagram (Linux
 *    since 4.19, CVE-2018-5391), unless every byte of it is held already:
 *    that is a duplicate, dropped alone (Linux's IPFRAG_DUP, which asks
 *    besides that it lie within one run of fragments that came in order;
 *    its bytes never replace the first copy's);
 *  - a datagram that would pass 65,535 bytes (the ping of death), or
 *    whose fragments disagree on where it ends, is discarded;
 *  - a fragment but the last must carry a multiple of 8 bytes;
 *  - the ECN field is combined as Linux's ip_frag_ecn_table (RFC 3168
 *    5.3): a CE mark on any fragment marks the datagram, and a datagram
 *    whose fragments mix not-ECT with ECT or CE is discarded.
 * The cost of a fragment is a scan of the slots, a copy and a bitmap
 * update of its 8-byte units: no list walk an attacker can lengthen.
 * Pure (no DPDK), so the unit tests and a fuzzer drive it directly.
 */
#ifndef SP_IP_REASM_H
#define SP_IP_REASM_H

#include <stddef.h>
#include <stdint.h>

#define IP_REASM_SLOTS 256                 /* datagrams in reassembly */
#define IP_REASM_MEM_MAX (4u << 20)        /* bytes held, Linux's ipfrag_high_thresh */
#define IP_REASM_TIMEOUT_MS 30000          /* Linux's ipfrag_time */
#define IP_REASM_MAX_DATAGRAM 65535        /* an IPv4 total length */
#define IP_REASM_PAGE 2048                 /* data bytes a page holds */
/* what a page counts against mem_max: its data and a bit per 8-byte unit */
#define IP_REASM_PAGE_MEM (IP_REASM_PAGE + IP_REASM_PAGE / 64)
/* the pages of a whole 65,535-byte datagram: the least mem_max */
#define IP_REASM_MIN_MEM \
	((IP_REASM_MAX_DATAGRAM + IP_REASM_PAGE - 1) / IP_REASM_PAGE * IP_REASM_PAGE_MEM)

enum ip_reasm_verdict {
	IPR_HELD,       /* kept: its datagram is not whole yet */
	IPR_DONE,       /* its datagram is whole: see ip_reasm_add() */
	IPR_DUP,        /* every byte of it was held already: dropped */
	IPR_BAD,        /* not a well-formed IPv4 fragment: dropped */
	IPR_DISCARDED,  /* it overlaps, disagrees on the end, passes 65,535
			 * bytes or mixes ECN: dropped with its whole datagram */
};

/* what happened to fragments and datagrams, for bypassctl stats */
struct ip_reasm_stats {
	uint64_t ok;            /* datagrams made whole */
	uint64_t timeouts;      /* ... dropped incomplete at the timeout */
	uint64_t evicted;       /* ... dropped incomplete for a newer one */
	uint64_t discarded;     /* ... dropped for IPR_DISCARDED */
	uint64_t bad;           /* fragments dropped as IPR_BAD */
	uint64_t dups;          /* fragments dropped as IPR_DUP */
};

struct ip_reasm;

/**
 * ip_reasm_new - an empty reassembly table.
 * @slots: datagrams in reassembly at once (at least 1).
 * @mem_max: bytes of pages held at once (at least IP_REASM_MIN_MEM: one
 *           whole datagram's).
 * @timeout_ms: how long a datagram may take to complete.
 * Return: the table, or NULL (bad arguments, or no memory).
 */
struct ip_reasm *ip_reasm_new(uint32_t slots, size_t mem_max, uint64_t timeout_ms);
void ip_reasm_free(struct ip_reasm *r);

/**
 * ip_reasm_add - take one fragment.
 * @ip: its IPv4 header (checked here, checksum included: nothing is
 *      assumed of the caller).
 * @len: bytes at @ip (a frame's padding may follow the datagram).
 * @now_ms: a monotonic clock in milliseconds.
 * @out, @out_len: on IPR_DONE the whole datagram: the first fragment's
 *      header (options included) with the fragment fields cleared, the
 *      ECN field combined, the total length and the checksum made anew,
 *      then the data.  It stays valid until the next call on @r.
 *
 * Return: what became of the fragment (enum ip_reasm_verdict).
 */
enum ip_reasm_verdict ip_reasm_add(struct ip_reasm *r, const uint8_t *ip, size_t len,
				   uint64_t now_ms, const uint8_t **out, size_t *out_len);

/**
 * ip_reasm_expire - drop the datagrams older than the timeout at @now_ms.
 * @timed_out: if not NULL, called for each one whose first fragment came
 *      with @quote, its header and first 8 data bytes (@len bytes, valid
 *      for the call), for an ICMP "reassembly time exceeded" (RFC 792).
 * Return: how many.
 */
unsigned int ip_reasm_expire(struct ip_reasm *r, uint64_t now_ms,
			     void (*timed_out)(void *arg, const uint8_t *quote, size_t len),
			     void *arg);

/* datagrams in reassembly, and the bytes their pages count */
uint32_t ip_reasm_count(const struct ip_reasm *r);
size_t ip_reasm_mem(const struct ip_reasm *r);
const struct ip_reasm_stats *ip_reasm_stats(const struct ip_reasm *r);

#endif
