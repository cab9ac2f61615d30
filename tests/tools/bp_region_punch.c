// SPDX-License-Identifier: MIT
/*
 * bp_region_punch - an app that gives its own region's pages back to the
 * kernel, for test_hugepages.sh.
 *
 * It attaches, accepts one real connection, then MADV_REMOVEs the huge
 * pages that connection's receive ring lies in, touched first (a touched
 * huge page goes back to the pool without its reservation), at once takes
 * every huge page left free for a mapping of its own, and touches nothing
 * after that: it waits to be killed.  When the peer's data reaches those
 * pages the daemon's write finds the pool empty (SIGBUS); it must survive
 * and let the app go.  With --queues it removes the pages of the region's
 * queues and flow table instead, which the daemon touches with no data to
 * deliver (the peer's FIN is an event), so nothing unread is left.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "tool_accept.h"

#define HUGE (2u << 20) /* test_hugepages.sh runs where huge pages are 2 MiB */

/* map every huge page free of reservations into a mapping of our own;
 * again if the daemon took one between the count and the mapping.
 * Return: how many pages are held now. */
static long hold_free_pages(void)
{
	long held = 0;
	for (int tries = 0; tries < 100; tries++) {
		long page = 0, free_pages = 0, resv = 0;
		char line[128];
		FILE *mi = fopen("/proc/meminfo", "re");
		while (mi && fgets(line, sizeof(line), mi)) {
			sscanf(line, "Hugepagesize: %ld", &page);
			sscanf(line, "HugePages_Free: %ld", &free_pages);
			sscanf(line, "HugePages_Rsvd: %ld", &resv);
		}
		if (mi)
			fclose(mi);
		long n = free_pages - resv;
		if (page <= 0 || n <= 0)
			break;
		int fd = memfd_create("punch-hold", MFD_HUGETLB);
		size_t len = (size_t)n * (size_t)page * 1024;
		if (fd >= 0 && !ftruncate(fd, (off_t)len) &&
		    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0) !=
			    MAP_FAILED)
			held += n; /* and look again: the count may have grown */
		else if (fd >= 0)
			close(fd);
	}
	return held;
}

static void usage(void)
{
	printf("usage: bp_region_punch [-p PORT] [--queues]\n"
	       "Accepts one connection on PORT (default 7310), then MADV_REMOVEs the huge\n"
	       "pages its receive ring lies in (with --queues: those of the region's queues\n"
	       "and flow table), holds every free huge page and sleeps until killed.\n"
	       "Uses $BYPASS_SOCKET.\n");
}

int main(int argc, char **argv)
{
	int port = 7310;
	bool queues = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage();
			return 0;
		}
		if (!strcmp(argv[i], "-p") && i + 1 < argc) {
			port = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--queues")) {
			queues = true;
		} else {
			fprintf(stderr, "bp_region_punch: unknown argument '%s' (see --help)\n",
				argv[i]);
			return 2;
		}
	}
	int h;
	struct bp_ctx *ctx = tool_accept_one("bp_region_punch", "punch", port, &h);
	if (!ctx)
		return 1;
	/* the huge pages the connection's receive ring lies in: the daemon
	 * first touches them when the peer's data arrives.  (Their other
	 * bytes are the listener's unused rings and this connection's send
	 * ring, which this app never fills; never the region's first page,
	 * where the queues are.)  Or those of the queues, the header and the
	 * flow table: everything before the buffers. */
	uintptr_t base = (uintptr_t)ctx->base, from, to;
	if (queues) {
		from = base;
		to = (base + ctx->buffers_off + HUGE - 1) & ~(uintptr_t)(HUGE - 1);
	} else {
		uintptr_t ring = (uintptr_t)bpi_rx_ring(ctx, (uint32_t)h);
		from = ring & ~(uintptr_t)(HUGE - 1);
		to = (ring + ctx->rx_size + HUGE - 1) & ~(uintptr_t)(HUGE - 1);
		if (from < base + ctx->buffers_off + HUGE) {
			fprintf(stderr, "bp_region_punch: the receive ring shares a huge page "
				"with the queues: raise [apps] rx_buf\n");
			return 1;
		}
	}
	/* the pool's free pages first, so the removed ones are the only free
	 * ones and the hold after the removal takes them at once.  The
	 * daemon touches the queue page whenever its fastpath wakes (it
	 * marks itself awake in the header): if it took the page back
	 * meanwhile (a fresh zeroed one), remove it again. */
	long held = hold_free_pages(), got = 0;
	for (int tries = 0; tries < 100 && !got; tries++) {
		/* a page never touched keeps its reservation through the
		 * removal (the kernel refaults it from there): touch them so
		 * they go for good */
		for (uintptr_t p = from; p < to; p += HUGE)
			*(volatile char *)p = 0;
		if (madvise((void *)from, to - from, MADV_REMOVE)) {
			fprintf(stderr, "bp_region_punch: MADV_REMOVE: %s\n", strerror(errno));
			return 1;
		}
		got = hold_free_pages();
	}
	if (!got) {
		fprintf(stderr, "bp_region_punch: the daemon took the removed pages back each "
			"of 100 times: could not keep them\n");
		return 1;
	}
	held += got;
	printf("bp_region_punch: removed the %zu bytes around its %s, holding %ld huge pages\n",
	       (size_t)(to - from), queues ? "queues" : "receive ring", held);
	fflush(stdout);
	for (;;)
		pause();
}
