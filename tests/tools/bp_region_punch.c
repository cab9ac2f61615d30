// SPDX-License-Identifier: MIT
/*
 * bp_region_punch - an app that gives its own region's pages back to the
 * kernel, for test_hugepages.sh.
 *
 * It attaches, accepts one real connection, then MADV_REMOVEs its whole
 * shared region (on huge pages the pages go back to the pool with their
 * reservation), at once takes every huge page left free for a mapping of
 * its own, so the daemon's next touch of the region finds the pool empty
 * (SIGBUS), and touches nothing after that: it waits to be killed.  The
 * daemon must survive and let the app go.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "tool_accept.h"

static void usage(void)
{
	printf("usage: bp_region_punch [-p PORT]\n"
	       "Accepts one connection on PORT (default 7310), then MADV_REMOVEs its whole\n"
	       "shared region and sleeps until killed.  Uses $BYPASS_SOCKET.\n");
}

int main(int argc, char **argv)
{
	int port = 7310;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage();
			return 0;
		}
		if (!strcmp(argv[i], "-p") && i + 1 < argc) {
			port = atoi(argv[++i]);
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
	if (madvise(ctx->base, ctx->region_size, MADV_REMOVE)) {
		fprintf(stderr, "bp_region_punch: MADV_REMOVE: %s\n", strerror(errno));
		return 1;
	}
	/* every free huge page, now, before the daemon can fault one back in */
	long page = 0, held = 0;
	FILE *mi = fopen("/proc/meminfo", "re");
	char line[128];
	long free_pages = 0, resv = 0;
	while (mi && fgets(line, sizeof(line), mi)) {
		sscanf(line, "Hugepagesize: %ld", &page);
		sscanf(line, "HugePages_Free: %ld", &free_pages);
		sscanf(line, "HugePages_Rsvd: %ld", &resv);
	}
	if (mi)
		fclose(mi);
	held = free_pages - resv;
	if (page > 0 && held > 0) {
		int fd = memfd_create("punch-hold", MFD_HUGETLB);
		size_t len = (size_t)held * (size_t)page * 1024;
		if (fd < 0 || ftruncate(fd, (off_t)len) ||
		    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0) ==
			    MAP_FAILED) {
			fprintf(stderr, "bp_region_punch: cannot hold %ld huge pages: %s\n", held,
				strerror(errno));
			return 1;
		}
	}
	printf("bp_region_punch: removed %zu bytes, holding %ld huge pages\n",
	       (size_t)ctx->region_size, held > 0 ? held : 0);
	fflush(stdout);
	for (;;)
		pause();
}
