// SPDX-License-Identifier: MIT
/*
 * region.c - an app's shared region: a sealed memfd laid out by
 * bp_region_layout() (include/bypass/region_layout.h, shared with
 * libbypass and the test fakes).
 *
 * The app can write into the region but never shrink it, so the daemon can
 * never take SIGBUS from a hostile app (on huge pages it can still hand
 * pages back: region_guard.c), and the region holds only that app's own
 * queues and buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "sp_internal.h"
#include "bypass/region_layout.h"
#include "rpc_heap.h"
#include "log_esc.h"
#include "ctl_sock.h"

/* [apps] hugepages: the kernel's default huge page size (sp_region_init) */
static uint64_t region_huge_page;

/* free huge pages of @page_size not promised to a mapping yet, or -1 */
static long hugepages_available(uint64_t page_size)
{
	char path[96];
	long v[2];
	const char *names[2] = { "free_hugepages", "resv_hugepages" };

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/%s",
			 (unsigned long long)(page_size >> 10), names[i]);
		FILE *f = fopen(path, "re");
		int ok = f && fscanf(f, "%ld", &v[i]) == 1;
		if (f)
			fclose(f);
		if (!ok)
			return -1;
	}
	return v[0] - v[1];
}

/*
 * A memfd for an app region, on huge pages with [apps] hugepages; sized
 * and sealed by the caller.  Return: the fd, or -1 with @err set.
 */
static int region_memfd_open(const struct bp_config *c, const char *name, char *err,
			     size_t errlen)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING |
				    (c->app_hugepages ? MFD_HUGETLB : 0));
	if (fd < 0)
		snprintf(err, errlen, c->app_hugepages ?
			 "cannot create a huge-page app region: %s (does this kernel have "
			 "hugetlbfs? else set [apps] hugepages = false)" :
			 "cannot create an app region: %s", strerror(errno));
	return fd;
}

/* "N available", or that it is unknown, for messages */
static const char *available_str(uint64_t page_size, char *buf, size_t len)
{
	long avail = hugepages_available(page_size);
	if (avail < 0)
		snprintf(buf, len, "the pool unreadable");
	else
		snprintf(buf, len, "%ld available", avail);
	return buf;
}

/* why a huge-page region could not be mapped, and what to do about it */
static void hugepages_short(uint64_t size, uint64_t page_size, int e, char *err, size_t errlen)
{
	char avail[48];
	snprintf(err, errlen, "cannot reserve %llu huge pages of %llu KiB for the app region "
		 "(%s): %s; raise vm.nr_hugepages, lower [apps] max_flows, rx_buf "
		 "or tx_buf, or set [apps] hugepages = false",
		 (unsigned long long)(size / page_size), (unsigned long long)(page_size >> 10),
		 available_str(page_size, avail, sizeof(avail)), strerror(e));
}

/**
 * sp_region_init - at start, with [apps] hugepages: learn the kernel's
 * default huge page size (the one MFD_HUGETLB gives), refuse a kernel that
 * cannot make huge-page regions, and say what one app's region reserves
 * against what the pool holds (an operator may add pages later, so a
 * short pool only warns).
 * Return: 0, or -1 with @err set.
 */
int sp_region_init(const struct dataplane *dp, char *err, size_t errlen)
{
	struct bp_region_layout l;
	struct stat st;

	region_huge_page = 0;
	if (!dp->cfg.app_hugepages)
		return 0;
	int fd = region_memfd_open(&dp->cfg, "bypass-hugepage-probe", err, errlen);
	if (fd < 0)
		return -1;
	int bad = fstat(fd, &st) || st.st_blksize < 4096 || (st.st_blksize & (st.st_blksize - 1));
	close(fd);
	if (bad) {
		snprintf(err, errlen, "cannot learn the huge page size of an app region");
		return -1;
	}
	region_huge_page = (uint64_t)st.st_blksize;
	sp_region_plan(dp, 0, &l);
	uint64_t pages = l.size / region_huge_page;
	long avail = hugepages_available(region_huge_page);
	char avail_s[48];
	printf("fastpathd: [apps] hugepages: each app reserves %llu huge pages of %llu KiB "
	       "(%llu MiB, more with an RPC heap); %s\n", (unsigned long long)pages,
	       (unsigned long long)(region_huge_page >> 10), (unsigned long long)(l.size >> 20),
	       available_str(region_huge_page, avail_s, sizeof(avail_s)));
	if (avail >= 0 && avail < (long)pages)
		fprintf(stderr, "fastpathd: warning: too few huge pages for one app: apps are "
			"refused until vm.nr_hugepages is raised by %llu\n",
			(unsigned long long)(pages - (uint64_t)(avail > 0 ? avail : 0)));
	fflush(stdout);
	return 0;
}

/**
 * sp_region_plan - lay out an app's region as the daemon's configuration
 * sizes it, with an RPC message heap for @heap_want; on huge pages its
 * size is rounded up to whole pages (what the mapping will reserve).
 * @l: receives the layout, for sp_region_create().
 * Return: what the attach reserves for good, as a tenant's max_buf_mb
 * counts it: the RPC message heap and as large a send area, and on huge
 * pages the whole region.
 */
uint64_t sp_region_plan(const struct dataplane *dp, uint64_t heap_want,
			struct bp_region_layout *l)
{
	const struct bp_config *c = &dp->cfg;
	uint64_t heap = bp_heap_size(heap_want, dp->ncores);

	bp_region_layout(l, dp->ncores, c->app_max_flows, c->queue_entries, c->rx_buf_size,
			 c->tx_buf_size, heap);
	if (!region_huge_page)
		return 2 * heap;
	l->size = (l->size + region_huge_page - 1) & ~(region_huge_page - 1);
	return l->size;
}

/**
 * sp_region_create - create, map and initialise @app's region as
 * sp_region_plan() laid it out in @l; the app's private copies of sizes and
 * offsets and its queue views are set from the layout, never from the
 * (app-writable) header.
 * @err: what failed, for the attach reply.
 *
 * A region on huge pages is reserved whole by this mapping (a shared
 * hugetlbfs mapping takes its pages from the pool at mmap, or fails), so
 * a first touch never meets an empty pool; a page the app gives back is
 * region_guard.c's business.
 * Return: 0 or -ENOMEM.
 */
int sp_region_create(struct dataplane *dp, struct dp_app *app, const struct bp_region_layout *l,
		     char *err, size_t errlen)
{
	const struct bp_config *c = &dp->cfg;
	char name[32];

	snprintf(name, sizeof(name), "bypass-app-%u", app->app_id);
	app->memfd = region_memfd_open(c, name, err, errlen);
	if (app->memfd < 0)
		return -ENOMEM;
	if (ftruncate(app->memfd, (off_t)l->size) ||
	    fcntl(app->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		snprintf(err, errlen, "cannot create a %llu-byte app region: %s",
			 (unsigned long long)l->size, strerror(errno));
		return -ENOMEM; /* the caller's sp_region_destroy() closes the fd */
	}
	app->base = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED, app->memfd, 0);
	if (app->base == MAP_FAILED) {
		int e = errno;
		app->base = NULL;
		if (region_huge_page)
			hugepages_short(l->size, region_huge_page, e, err, errlen);
		else
			snprintf(err, errlen, "cannot map the app region: %s", strerror(e));
		return -ENOMEM;
	}
	if (region_huge_page)
		sp_region_guard_add((uint32_t)(app - dp->apps), app->base, l->size);
	app->region_size = l->size;
	app->max_flows = c->app_max_flows;
	app->rx_buf_size = c->rx_buf_size;
	app->tx_buf_size = c->tx_buf_size;

	bp_region_init(app->base, l, c->app_max_flows, c->queue_entries, c->rx_buf_size,
		       c->tx_buf_size);
	app->hdr = (struct bp_region_hdr *)app->base;
	app->hdr->app_id = app->app_id;
	app->hdr->local_ip = dp->ip;
	app->buffers_off = l->buffers_off;
	app->flows = (struct bp_flow_shm *)(app->base + l->flows_off);

	bp_region_daemon_view(&app->ctrlq, app->base, l, BP_RQ_CTRL, c->queue_entries);
	bp_region_daemon_view(&app->sp_evq, app->base, l, BP_RQ_SP_EV, c->queue_entries);
	for (uint32_t k = 0; k < dp->ncores; k++) {
		bp_region_daemon_view(&app->dataq[k], app->base, l, bp_rq_data(k),
				      c->queue_entries);
		bp_region_daemon_view(&app->fp_evq[k], app->base, l, bp_rq_fp_ev(k),
				      c->queue_entries);
		bp_region_daemon_view(&app->msgq[k], app->base, l, bp_rq_msg(k),
				      c->queue_entries);
	}
	/* the message heap: core k allocates in part k only (fp_rpc.c) */
	app->heap_off = l->heap_off;
	app->heap_size = l->heap_size;
	app->heap_part = l->heap_size / dp->ncores;
	app->txarea_off = l->txarea_off;
	app->txarea_size = l->txarea_size;
	for (uint32_t k = 0; k < dp->ncores && app->heap_size; k++) {
		if (rpc_heap_init(&app->heap[k], k * app->heap_part, app->heap_part)) {
			snprintf(err, errlen, "out of memory for the message heap's bookkeeping");
			return -ENOMEM;
		}
	}
	return 0;
}

/** sp_region_destroy - unmap and close @app's region (either may be unset). */
void sp_region_destroy(struct dataplane *dp, struct dp_app *app)
{
	if (app->base) {
		sp_region_guard_del((uint32_t)(app - dp->apps));
		munmap(app->base, app->region_size);
		app->base = NULL;
	}
	if (app->memfd >= 0)
		close(app->memfd);
	app->memfd = -1;
}

/**
 * sp_region_lost_check - let go of every app whose huge-page region lost
 * a page (region_guard.c): its control connection is closed, so its
 * connections are reset as at its exit and the app learns it was dropped.
 */
void sp_region_lost_check(struct sp *sp)
{
	struct dataplane *dp = sp->dp;

	if (!sp_region_guard_take())
		return;
	for (uint32_t i = 0; i < dp->max_apps; i++) {
		struct dp_app *app = &dp->apps[i];
		struct sp_app *sa = app->sp_priv;
		if (!app->in_use || !sa || sa->region_lost || !sp_region_guard_lost(i))
			continue;
		char name[LOG_ESC_SIZE(sizeof(app->name))];

		sa->region_lost = true;
		sp->region_lost_apps++;
		fprintf(stderr, "fastpathd: app %u (%s) lost pages of its huge-page region (given "
			"back by the app with MADV_REMOVE or a hole punch, or refused by a "
			"hugetlb cgroup limit or a memory error): let go, its connections "
			"are reset\n", app->app_id, log_esc(name, sizeof(name), app->name));
		if (sa->conn) /* else it is leaving already */
			sp_ctl_end(sa->conn);
	}
}
