/* SPDX-License-Identifier: MIT */
/*
 * capture_pcapng.h - the pcapng framing bypassctl capture writes around
 * the Enhanced Packet Blocks DPDK's rte_pcapng_copy() makes: one Section
 * Header Block and one Interface Description Block (Ethernet, nanosecond
 * timestamps, as rte_pcapng_copy() stamps them).  Pure functions, no DPDK.
 */
#ifndef SP_CAPTURE_PCAPNG_H
#define SP_CAPTURE_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 0x00000001u
#define PCAPNG_EPB 0x00000006u
#define PCAPNG_EPB_MIN 32u        /* header (28) and trailing length (4) */
#define PCAPNG_HDR_MAX 512u       /* what cap_pcapng_header() may need */

/**
 * cap_pcapng_header - write the section and interface header.
 * @buf: at least PCAPNG_HDR_MAX bytes.
 * @ifname: interface name option (truncated to 255 bytes), may be NULL.
 * @snaplen: the interface's snapshot length.
 * @comment: section comment (truncated to 255 bytes), may be NULL.
 * Return: bytes written.
 */
size_t cap_pcapng_header(uint8_t *buf, const char *ifname, uint32_t snaplen,
			 const char *comment);

/**
 * struct cap_clock - a tsc reading and the wall-clock time it was taken at.
 * @tsc0: rte_rdtsc() then.
 * @ns0: CLOCK_REALTIME then, nanoseconds since the epoch.
 * @hz: tsc cycles per second.
 */
struct cap_clock {
	uint64_t tsc0, ns0, hz;
};

/** cap_clock_ns - @tsc as nanoseconds since the epoch (no overflow for centuries). */
uint64_t cap_clock_ns(const struct cap_clock *clk, uint64_t tsc);

/**
 * cap_pcapng_epb_fix - check that @blk holds exactly one well-formed
 * Enhanced Packet Block of @len bytes (type, both lengths, 4-byte
 * alignment, captured length within the block), point it at interface
 * 0, the one cap_pcapng_header() describes, and turn its timestamp, a raw
 * tsc (fastpathd/capture.c), into nanoseconds since the epoch.
 * Return: 0, or -EINVAL (the block must not be written).
 */
int cap_pcapng_epb_fix(uint8_t *blk, size_t len, const struct cap_clock *clk);

#endif
