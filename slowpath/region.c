// SPDX-License-Identifier: MIT
/*
 * region.c - an app's shared region: a sealed memfd laid out by
 * bp_region_layout() (include/bypass/region_layout.h, shared with
 * libbypass and the test fakes).
 *
 * The app can write into the region but never shrink it, so the daemon can
 * never take SIGBUS from a hostile app, and the region holds only that
 * app's own queues and buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "sp_internal.h"
#include "bypass/region_layout.h"
#include "rpc_heap.h"

/**
 * sp_region_create - create, map and initialise @app's region, sized by
 * the daemon's configuration; the app's private copies of sizes and
 * offsets and its queue views are set from the layout, never from the
 * (app-writable) header.
 * @err: what failed, for the attach reply.
 * Return: 0 or -ENOMEM.
 */
int sp_region_create(struct dataplane *dp, struct dp_app *app, uint64_t heap_want, char *err,
		     size_t errlen)
{
	const struct bp_config *c = &dp->cfg;
	struct bp_region_layout l;

	bp_region_layout(&l, dp->ncores, c->app_max_flows, c->queue_entries, c->rx_buf_size,
			 c->tx_buf_size, bp_heap_size(heap_want, dp->ncores));

	char name[32];
	snprintf(name, sizeof(name), "bypass-app-%u", app->app_id);
	app->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (app->memfd < 0 || ftruncate(app->memfd, (off_t)l.size) ||
	    fcntl(app->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		snprintf(err, errlen, "cannot create a %llu-byte app region: %s",
			 (unsigned long long)l.size, strerror(errno));
		return -ENOMEM;
	}
	app->base = mmap(NULL, l.size, PROT_READ | PROT_WRITE, MAP_SHARED, app->memfd, 0);
	if (app->base == MAP_FAILED) {
		app->base = NULL;
		snprintf(err, errlen, "cannot map the app region: %s", strerror(errno));
		return -ENOMEM;
	}
	app->region_size = l.size;
	app->max_flows = c->app_max_flows;
	app->rx_buf_size = c->rx_buf_size;
	app->tx_buf_size = c->tx_buf_size;

	bp_region_init(app->base, &l, c->app_max_flows, c->queue_entries, c->rx_buf_size,
		       c->tx_buf_size);
	app->hdr = (struct bp_region_hdr *)app->base;
	app->hdr->app_id = app->app_id;
	app->hdr->local_ip = dp->ip;
	app->buffers_off = l.buffers_off;
	app->flows = (struct bp_flow_shm *)(app->base + l.flows_off);

	bp_region_daemon_view(&app->ctrlq, app->base, &l, BP_RQ_CTRL, c->queue_entries);
	bp_region_daemon_view(&app->sp_evq, app->base, &l, BP_RQ_SP_EV, c->queue_entries);
	for (uint32_t k = 0; k < dp->ncores; k++) {
		bp_region_daemon_view(&app->dataq[k], app->base, &l, bp_rq_data(k),
				      c->queue_entries);
		bp_region_daemon_view(&app->fp_evq[k], app->base, &l, bp_rq_fp_ev(k),
				      c->queue_entries);
		bp_region_daemon_view(&app->msgq[k], app->base, &l, bp_rq_msg(k),
				      c->queue_entries);
	}
	/* the message heap: core k allocates in part k only (fp_rpc.c) */
	app->heap_off = l.heap_off;
	app->heap_size = l.heap_size;
	app->heap_part = l.heap_size / dp->ncores;
	app->txarea_off = l.txarea_off;
	app->txarea_size = l.txarea_size;
	for (uint32_t k = 0; k < dp->ncores && app->heap_size; k++) {
		if (rpc_heap_init(&app->heap[k], k * app->heap_part, app->heap_part)) {
			snprintf(err, errlen, "out of memory for the message heap's bookkeeping");
			return -ENOMEM;
		}
	}
	return 0;
}
