/* SPDX-License-Identifier: MIT */
/*
 * capture_pcapng.h - the pcapng framing bypassctl capture writes around
 * the Enhanced Packet Blocks DPDK's rte_pcapng_copy() makes: one Section
 * Header Block and one Interface Description Block (Ethernet, nanosecond
 * timestamps, as rte_pcapng_copy() stamps them); the check a client's
 * filter program passes before a fastpath core runs it; the one write
 * into a client's pipe.  No DPDK, so unit tests link them alone.
 */
#ifndef SP_CAPTURE_PCAPNG_H
#define SP_CAPTURE_PCAPNG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

struct bpf_insn;

#define CAP_BPF_MAXINSNS 4096     /* the kernel's BPF_MAXINSNS */

/**
 * cap_bpf_check - may @prog, @n classic BPF instructions a client sent,
 * run on a fastpath core?  Every jump must land strictly forward and
 * inside the program, and the last instruction must return, so a run
 * takes at most @n steps.  This is ours, not only bpf_validate()'s:
 * libpcap 1.10.3 computes "from + k >= len" in 32 bits, so BPF_JA with
 * k = 0xffffffff passes it, and bpf_filter() then runs wild on a core.
 * Opcodes, scratch-memory indices and division by a constant zero are
 * still left to bpf_validate(), which the caller runs after this.
 * Return: 0, or -EINVAL with @err naming the first bad instruction.
 */
int cap_bpf_check(const struct bpf_insn *prog, uint32_t n, char *err, size_t errlen);

/**
 * cap_pipe_write - write what @fd, a client's pipe, takes now of @buf.
 *
 * The client shares the pipe's open file description and may clear its
 * O_NONBLOCK at any time, so only a write that cannot block whatever the
 * description's flags is ever made: pwritev2(RWF_NOWAIT).  A kernel that
 * cannot do that for a pipe gets -EOPNOTSUPP back, never a plain write().
 * Return: bytes written (0: the pipe is full), or a negative errno
 * (-EPIPE: the reader is gone; -EOPNOTSUPP: see above).
 */
ssize_t cap_pipe_write(int fd, const void *buf, size_t len);

#endif
