// SPDX-License-Identifier: MIT
/*
 * capture_pcapng.c - section and interface headers of a capture's pcapng
 * stream, the check every packet block passes before it is written, the
 * check a client's filter program passes before it runs, and the write
 * into the client's pipe.  All fields are host order: a pcapng reader
 * learns the byte order from the section header's magic.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <pcap/bpf.h>

#include "capture_pcapng.h"

#define OPT_END 0
#define OPT_COMMENT 1
#define SHB_USERAPPL 4
#define IF_NAME 2
#define IF_TSRESOL 9
#define LINKTYPE_ETHERNET 1

static size_t put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return 4;
}

static size_t put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
	return 2;
}

/* one option, padded to 4 bytes; strings are cut at 255 bytes */
static size_t put_opt(uint8_t *p, uint16_t code, const void *val, size_t len)
{
	size_t n = 0;
	if (len > 255)
		len = 255;
	n += put16(p + n, code);
	n += put16(p + n, (uint16_t)len);
	memcpy(p + n, val, len);
	n += len;
	while (n % 4)
		p[n++] = 0;
	return n;
}

static size_t put_str(uint8_t *p, uint16_t code, const char *s)
{
	return s && *s ? put_opt(p, code, s, strlen(s)) : 0;
}

/* close a block begun at @blk, @n bytes so far: end of options, length twice */
static size_t finish(uint8_t *blk, size_t n)
{
	n += put16(blk + n, OPT_END);
	n += put16(blk + n, 0);
	uint32_t total = (uint32_t)n + 4;
	put32(blk + 4, total);
	n += put32(blk + n, total);
	return n;
}

size_t cap_pcapng_header(uint8_t *buf, const char *ifname, uint32_t snaplen,
			 const char *comment)
{
	size_t n = 0, b;

	/* section header: magic, version 1.0, section length unknown */
	n += put32(buf + n, PCAPNG_SHB);
	n += put32(buf + n, 0);
	n += put32(buf + n, 0x1A2B3C4Du);
	n += put16(buf + n, 1);
	n += put16(buf + n, 0);
	n += put32(buf + n, 0xffffffffu);
	n += put32(buf + n, 0xffffffffu);
	n += put_str(buf + n, OPT_COMMENT, comment);
	n += put_str(buf + n, SHB_USERAPPL, "fastpathd (bypassctl capture)");
	n = finish(buf, n);

	/* interface 0: Ethernet; rte_pcapng_copy() stamps nanoseconds */
	b = n;
	n += put32(buf + n, PCAPNG_IDB);
	n += put32(buf + n, 0);
	n += put16(buf + n, LINKTYPE_ETHERNET);
	n += put16(buf + n, 0);
	n += put32(buf + n, snaplen);
	n += put_str(buf + n, IF_NAME, ifname);
	uint8_t res = 9;
	n += put_opt(buf + n, IF_TSRESOL, &res, 1);
	n = b + finish(buf + b, n - b);
	return n;
}

uint64_t cap_clock_ns(const struct cap_clock *clk, uint64_t tsc)
{
	if (!clk->hz)
		return clk->ns0;
	/* a tsc from before the reference (another core's, a hair early)
	 * counts backwards; whole seconds and the rest apart, so the
	 * product never overflows */
	bool before = tsc < clk->tsc0;
	uint64_t d = before ? clk->tsc0 - tsc : tsc - clk->tsc0;
	uint64_t ns = d / clk->hz * 1000000000ull + d % clk->hz * 1000000000ull / clk->hz;
	return before ? clk->ns0 - ns : clk->ns0 + ns;
}

int cap_pcapng_epb_fix(uint8_t *blk, size_t len, const struct cap_clock *clk)
{
	uint32_t type, total, tail, caplen;
	if (len < PCAPNG_EPB_MIN || len % 4)
		return -EINVAL;
	memcpy(&type, blk, 4);
	memcpy(&total, blk + 4, 4);
	memcpy(&tail, blk + len - 4, 4);
	memcpy(&caplen, blk + 20, 4);
	if (type != PCAPNG_EPB || total != len || tail != len ||
	    caplen > len - PCAPNG_EPB_MIN)
		return -EINVAL;
	put32(blk + 8, 0);
	uint32_t hi, lo;
	memcpy(&hi, blk + 12, 4);
	memcpy(&lo, blk + 16, 4);
	uint64_t ns = cap_clock_ns(clk, (uint64_t)hi << 32 | lo);
	put32(blk + 12, (uint32_t)(ns >> 32));
	put32(blk + 16, (uint32_t)ns);
	return 0;
}

int cap_bpf_check(const struct bpf_insn *prog, uint32_t n, char *err, size_t errlen)
{
	if (!n || n > CAP_BPF_MAXINSNS) {
		snprintf(err, errlen, "the filter program has %u instructions, not 1..%u", n,
			 CAP_BPF_MAXINSNS);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct bpf_insn *p = &prog[i];
		if (BPF_CLASS(p->code) != BPF_JMP)
			continue;
		/* 64 bits: no sum of a 32-bit index and offset may wrap */
		uint64_t from = (uint64_t)i + 1;
		if (BPF_OP(p->code) == BPF_JA) {
			if (from + p->k >= n) {
				snprintf(err, errlen, "the filter program's instruction %u jumps "
					 "(ja %u) outside the program (%u instructions); only "
					 "forward jumps within it may run", i, p->k, n);
				return -EINVAL;
			}
		} else if (from + p->jt >= n || from + p->jf >= n) {
			snprintf(err, errlen, "the filter program's instruction %u jumps (jt %u, "
				 "jf %u) outside the program (%u instructions)", i, p->jt, p->jf,
				 n);
			return -EINVAL;
		}
	}
	if (BPF_CLASS(prog[n - 1].code) != BPF_RET) {
		snprintf(err, errlen, "the filter program's last instruction (%u) is not a "
			 "return", n - 1);
		return -EINVAL;
	}
	return 0;
}

ssize_t cap_pipe_write(int fd, const void *buf, size_t len)
{
	struct iovec v = { (void *)buf, len };
	for (;;) {
		ssize_t r = pwritev2(fd, &v, 1, -1, RWF_NOWAIT);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -errno;
	}
}
