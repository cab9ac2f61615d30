// SPDX-License-Identifier: MIT
/*
 * The pcapng framing of bypassctl capture (slowpath/capture_pcapng.c):
 * what it writes must open in libpcap's own pcapng reader with the right
 * link type, snapshot length, frame and nanosecond timestamp, and a
 * block that is not one whole Enhanced Packet Block must be refused.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <criterion/criterion.h>
#include <pcap/pcap.h>

#include "capture_pcapng.h"

/* an EPB as rte_pcapng_copy() lays it out, timestamp = raw tsc */
static size_t make_epb(uint8_t *b, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		       uint64_t tsc)
{
	uint32_t pad = (4 - caplen % 4) % 4, total = 28 + caplen + pad + 4 + 4;
	uint32_t w[7] = { PCAPNG_EPB, total, 7, (uint32_t)(tsc >> 32), (uint32_t)tsc, caplen,
			  wirelen };
	memcpy(b, w, sizeof(w));
	memcpy(b + 28, frame, caplen);
	memset(b + 28 + caplen, 0, pad);
	memset(b + 28 + caplen + pad, 0, 4); /* opt_endofopt */
	memcpy(b + total - 4, &total, 4);
	return total;
}

Test(capture_pcapng, libpcap_reads_header_and_block)
{
	static uint8_t buf[4096];
	uint8_t frame[61];
	for (unsigned i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)i;
	struct cap_clock clk = { .tsc0 = 1000, .ns0 = 1700000000ull * 1000000000ull + 5,
				 .hz = 2000000000ull };
	size_t n = cap_pcapng_header(buf, "net_af_packet0,iface=x", 1500, "bypassctl capture");
	cr_assert_lt(n, PCAPNG_HDR_MAX);
	size_t e = make_epb(buf + n, frame, sizeof(frame), 1514, 1000 + 3 * 2000000000ull + 2);
	cr_assert_eq(cap_pcapng_epb_fix(buf + n, e, &clk), 0);
	n += e;

	char err[PCAP_ERRBUF_SIZE];
	FILE *f = fmemopen(buf, n, "rb");
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, err);
	cr_assert_not_null(p, "libpcap refused the stream: %s", err);
	cr_assert_eq(pcap_datalink(p), DLT_EN10MB);
	cr_assert_eq(pcap_snapshot(p), 1500);
	struct pcap_pkthdr *h;
	const u_char *data;
	cr_assert_eq(pcap_next_ex(p, &h, &data), 1);
	cr_assert_eq(h->caplen, sizeof(frame));
	cr_assert_eq(h->len, 1514);
	cr_assert_eq(memcmp(data, frame, sizeof(frame)), 0);
	cr_assert_eq(h->ts.tv_sec, 1700000003);
	cr_assert_eq(h->ts.tv_usec, 6); /* nanoseconds here: 5 + 1 (2 cycles at 2 GHz) */
	cr_assert_eq(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK);
	pcap_close(p);
}

Test(capture_pcapng, refuses_what_is_not_one_epb)
{
	uint8_t b[256], frame[40] = { 0 };
	struct cap_clock clk = { .hz = 1 };
	size_t e = make_epb(b, frame, sizeof(frame), 40, 0);
	cr_assert_eq(cap_pcapng_epb_fix(b, e - 4, &clk), -EINVAL, "short");
	cr_assert_eq(cap_pcapng_epb_fix(b, e + 4, &clk), -EINVAL, "long");
	cr_assert_eq(cap_pcapng_epb_fix(b, 8, &clk), -EINVAL, "tiny");
	b[0] = 3;
	cr_assert_eq(cap_pcapng_epb_fix(b, e, &clk), -EINVAL, "not an EPB");
	e = make_epb(b, frame, sizeof(frame), 40, 0);
	uint32_t huge = 1000;
	memcpy(b + 20, &huge, 4);
	cr_assert_eq(cap_pcapng_epb_fix(b, e, &clk), -EINVAL, "caplen beyond the block");
	e = make_epb(b, frame, sizeof(frame), 40, 0);
	cr_assert_eq(cap_pcapng_epb_fix(b, e, &clk), 0);
	uint32_t ifid;
	memcpy(&ifid, b + 8, 4);
	cr_assert_eq(ifid, 0, "interface id not set to the one interface");
}

Test(capture_pcapng, clock_has_no_overflow)
{
	/* DPDK 22.11 multiplies cycles by 1e9 first: wrong after ~6 s at 3 GHz */
	struct cap_clock clk = { .tsc0 = 5, .ns0 = 1000000000000000000ull, .hz = 3000000000ull };
	uint64_t day = 86400ull * 3000000000ull;
	cr_assert_eq(cap_clock_ns(&clk, 5 + day), clk.ns0 + 86400ull * 1000000000ull);
	cr_assert_eq(cap_clock_ns(&clk, 5 + 3), clk.ns0 + 1);
	cr_assert_eq(cap_clock_ns(&clk, 2), clk.ns0 - 1, "a tsc a hair before the reference");
}
