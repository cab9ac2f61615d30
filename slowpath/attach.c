// SPDX-License-Identifier: MIT
/*
 * attach.c - what control-socket requests do (ctl_sock.c moves the bytes):
 * app attach/detach, the app's shared region, its control queue, and
 * status for bypassctl.
 *
 * An app's region is a sealed memfd: the app can write into it but never
 * shrink it, so the daemon can never take SIGBUS from a hostile app, and
 * the region holds only that app's own queues and buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "sp_internal.h"
#include "ctl_wire.h"
#include "ctl_sock.h"
#include "log_esc.h"

#define CTRL_PER_ROUND 256

static uint64_t align_page(uint64_t v) { return (v + 4095) & ~4095ull; }

/* ------------------------------------------------------------- region */

static int region_create(struct dataplane *dp, struct dp_app *app, char *err, size_t errlen)
{
	const struct bp_config *c = &dp->cfg;
	uint32_t qn = c->queue_entries;
	uint64_t off = align_page(sizeof(struct bp_region_hdr));
	uint64_t ctrlq_off = off;
	off = align_page(off + bp_queue_bytes(qn, sizeof(struct bp_ctrl_req)));
	uint64_t dataq_off = off;
	off = align_page(off + bp_queue_bytes(qn, sizeof(struct bp_doorbell)));
	uint64_t sp_evq_off = off;
	off = align_page(off + bp_queue_bytes(qn, sizeof(struct bp_event)));
	uint64_t fp_evq_off = off;
	off = align_page(off + bp_queue_bytes(qn, sizeof(struct bp_event)));
	uint64_t flows_off = off;
	off = align_page(off + (uint64_t)c->app_max_flows * sizeof(struct bp_flow_shm));
	uint64_t buffers_off = off;
	off += (uint64_t)c->app_max_flows * (c->rx_buf_size + c->tx_buf_size);

	char name[32];
	snprintf(name, sizeof(name), "bypass-app-%u", app->app_id);
	app->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (app->memfd < 0 || ftruncate(app->memfd, (off_t)off) ||
	    fcntl(app->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		snprintf(err, errlen, "cannot create a %llu-byte app region: %s",
			 (unsigned long long)off, strerror(errno));
		return -ENOMEM;
	}
	app->base = mmap(NULL, off, PROT_READ | PROT_WRITE, MAP_SHARED, app->memfd, 0);
	if (app->base == MAP_FAILED) {
		app->base = NULL;
		snprintf(err, errlen, "cannot map the app region: %s", strerror(errno));
		return -ENOMEM;
	}
	app->region_size = off;
	app->max_flows = c->app_max_flows;
	app->rx_buf_size = c->rx_buf_size;
	app->tx_buf_size = c->tx_buf_size;

	struct bp_region_hdr *h = (struct bp_region_hdr *)app->base;
	*h = (struct bp_region_hdr){
		.magic = BP_REGION_MAGIC,
		.abi_version = BP_ABI_VERSION,
		.app_id = app->app_id,
		.region_size = off,
		.max_flows = c->app_max_flows,
		.local_ip = dp->ip,
		.ctrlq_off = ctrlq_off, .dataq_off = dataq_off,
		.sp_evq_off = sp_evq_off, .fp_evq_off = fp_evq_off,
		.flows_off = flows_off, .buffers_off = buffers_off,
		.rx_buf_size = c->rx_buf_size, .tx_buf_size = c->tx_buf_size,
	};
	app->hdr = h;
	app->buffers_off = buffers_off;
	app->flows = (struct bp_flow_shm *)(app->base + flows_off);

	struct { uint64_t off; uint32_t esz; struct bp_queue_view *v; int producer; } qs[] = {
		{ ctrlq_off, sizeof(struct bp_ctrl_req), &app->ctrlq, 0 },
		{ dataq_off, sizeof(struct bp_doorbell), &app->dataq, 0 },
		{ sp_evq_off, sizeof(struct bp_event), &app->sp_evq, 1 },
		{ fp_evq_off, sizeof(struct bp_event), &app->fp_evq, 1 },
	};
	for (unsigned i = 0; i < 4; i++) {
		struct bp_queue *q = (struct bp_queue *)(app->base + qs[i].off);
		q->size = qn;
		q->elem_size = qs[i].esz;
		bp_queue_view_init(qs[i].v, q, qn, qs[i].esz, qs[i].producer);
	}
	return 0;
}

/*
 * Freed slots stay warm: the free list is a stack, so the slots freed last
 * are reused first with their pages still mapped (a connection-per-request
 * client would otherwise pay a hole punch and a page fault per buffer page
 * on every connection).  Only slots that sink deeper than this into the
 * stack give their pages back, which bounds an idle app's resident buffers.
 */
#define WARM_SLOTS 64

/* give a freed slot's buffer pages back to the kernel */
static void slot_reclaim(struct dp_app *app, uint32_t slot)
{
	struct sp_app *sa = app->sp_priv;
	uint64_t off = dp_app_slot_rx_off(app, slot);
	fallocate(app->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		  (off_t)app->rx_buf_size + app->tx_buf_size);
	if (sa->populated[slot]) {
		sa->populated[slot] = 0;
		sa->npopulated--;
	}
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/*
 * Map a new connection's buffers in at once, here on the slowpath, instead
 * of a page fault per 4 KiB page on the fastpath (and in the app) while
 * the rings wrap for the first time: with hundreds of connections moving
 * small messages that lasts for seconds, and under a hypervisor every
 * fault is dear.  Bounded by [apps] prefault_mb; a slot that stayed warm
 * is mapped already.  Return: true if the slot was mapped in now.
 */
static bool slot_populate(struct sp *sp, struct dp_app *app, uint32_t slot)
{
	struct sp_app *sa = app->sp_priv;
	uint64_t bytes = (uint64_t)app->rx_buf_size + app->tx_buf_size;

	if (sa->populated[slot] ||
	    (sa->npopulated + 1) * bytes > (uint64_t)sp->dp->cfg.prefault_mb << 20)
		return false;
	if (madvise(app->base + dp_app_slot_rx_off(app, slot), bytes, MADV_POPULATE_WRITE))
		return false; /* old kernel, or no memory: fault in as before */
	sa->populated[slot] = 1;
	sa->npopulated++;
	return true;
}

int sp_slot_alloc(struct sp *sp, struct dp_app *app, uint32_t *slot)
{
	struct sp_app *sa = app->sp_priv;
	if (!sa->nfree)
		return -ENOBUFS;
	uint32_t s = sa->free_slots[--sa->nfree];
	struct bp_flow_shm *fs = &app->flows[s];
	uint32_t gen = fs->gen + 1;
	memset(fs, 0, sizeof(*fs));
	fs->gen = gen;
	if (slot_populate(sp, app, s))
		fs->flags = BP_FF_POPULATED; /* the app maps them in too */
	app->slots_used++;
	*slot = s;
	return 0;
}

void sp_slot_free(struct sp *sp, struct dp_app *app, uint32_t slot)
{
	struct sp_app *sa = app->sp_priv;
	if (sa->dying)
		return;
	uint32_t gen = app->flows[slot].gen;
	app->flows[slot].state = BP_FS_FREE;
	app->slot_flow[slot] = DP_INVALID_FLOW;
	sa->free_slots[sa->nfree++] = slot;
	if (sa->nfree > WARM_SLOTS) /* the slot that just went cold */
		slot_reclaim(app, sa->free_slots[sa->nfree - 1 - WARM_SLOTS]);
	app->slots_used--;
	sp_app_post(sp, app, BP_EV_FREED, 0, slot, gen, 0, 0);
}

void sp_app_post(struct sp *sp, struct dp_app *app, uint16_t type, int16_t status, uint32_t slot,
		 uint32_t gen, uint32_t req_id, uint32_t aux)
{
	struct sp_app *sa = app->sp_priv;
	if (sa->dying)
		return;
	struct bp_event ev = { .type = type, .status = status, .slot = slot, .gen = gen,
			       .req_id = req_id, .aux = aux };
	if (bp_queue_push(&app->sp_evq, &ev)) {
		__atomic_store_n(&app->hdr->evq_overflow, 1, __ATOMIC_RELEASE);
		sp->dp->sp_counters[DPC_EVQ_OVERFLOW]++;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&app->hdr->app_sleeping, __ATOMIC_ACQUIRE)) {
		uint64_t one = 1;
		if (write(app->wake_fd, &one, sizeof(one)) < 0)
			sp->dp->sp_counters[DPC_EVQ_OVERFLOW]++;
	}
}

/* -------------------------------------------------------- ctrl queue */

/* the algorithm a LISTEN/CONNECT names: NULL = default, else must exist */
static int requested_cc(const struct bp_ctrl_req *r, const struct cc_ops **out)
{
	char name[sizeof(r->cc) + 1];
	memcpy(name, r->cc, sizeof(r->cc));
	name[sizeof(r->cc)] = 0; /* app-written: never trust a terminator */
	*out = NULL;
	if (!name[0])
		return 0;
	*out = cc_find(name);
	return *out ? 0 : -EINVAL;
}

static void ctrl_request(struct sp *sp, struct dp_app *app, const struct bp_ctrl_req *r)
{
	uint32_t slot = 0;
	const struct cc_ops *cc;
	int rc;
	switch (r->op) {
	case BP_CTRL_LISTEN:
		rc = requested_cc(r, &cc);
		if (!rc)
			rc = sp_conn_listen(sp, app, r->ip, r->port, r->backlog, r->flags, cc, &slot);
		break;
	case BP_CTRL_CONNECT:
		rc = requested_cc(r, &cc);
		if (!rc)
			rc = sp_conn_connect(sp, app, r->ip, r->port, cc, &slot);
		break;
	case BP_CTRL_FORKED:
		sp_handoff_forked(sp, app, (int32_t)r->pid);
		return;
	case BP_CTRL_RELEASE:
		sp_handoff_release(sp, app, r->key);
		return;
	case BP_CTRL_EXEC_HOLD:
		sp_exec_hold(sp, app, r->key, r->flags != 0);
		return;
	case BP_CTRL_ADOPT:
		rc = sp_handoff_adopt(sp, app, r->key, r->req_id, &slot);
		if (rc == 0)
			return; /* answered when the fastpath has moved it */
		if (rc == 1)
			rc = 0;
		break;
	case BP_CTRL_KEEPALIVE:
	case BP_CTRL_SHUTDOWN:
	case BP_CTRL_CLOSE:
	case BP_CTRL_ABORT:
		if (r->slot >= app->max_flows) {
			app->bad_entries++;
			sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++;
			return;
		}
		sp_conn_ctrl(sp, app, r->op, r->slot, r->gen, r->flags);
		return;
	default:
		app->bad_entries++;
		sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++;
		rc = -EINVAL;
		break;
	}
	sp_app_post(sp, app, BP_EV_REPLY, (int16_t)rc, rc ? 0 : slot,
		    rc ? 0 : app->flows[slot].gen, r->req_id, 0);
}

static void drain_ctrl(struct sp *sp, struct dp_app *app)
{
	struct bp_ctrl_req r;
	for (int n = 0; n < CTRL_PER_ROUND && !bp_queue_pop(&app->ctrlq, &r); n++)
		ctrl_request(sp, app, &r);
}

static void on_doorbell(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dp_app *app = w->data;
	struct sp *sp = ((struct sp_app *)app->sp_priv)->sp;
	uint64_t v;
	if (read(app->sp_doorbell_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	sp->now = rte_rdtsc();
	drain_ctrl(sp, app);
	if (!bp_queue_empty(&app->ctrlq)) /* more than one round's worth: come back */
		ev_feed_event(loop, w, EV_READ);
}

/* -------------------------------------------------------- app lifecycle */

static void app_release(struct sp *sp, struct dp_app *app)
{
	struct sp_app *sa = app->sp_priv;
	if (sa) {
		if (sa->conn)
			sp_ctl_free(sa->conn);
		ev_io_stop(sp->loop, &sa->doorbell_w);
		free(sa->free_slots);
		free(sa->populated);
		free(sa);
	}
	if (app->base)
		munmap(app->base, app->region_size);
	int fds[] = { app->memfd, app->wake_fd, app->sp_doorbell_fd };
	for (unsigned i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(app->slot_flow);
	free(app->fp_slot_flow);
	memset(app, 0, sizeof(*app));
}

/* the fastpath let go of the app (APP_DEL_DONE): free everything */
void sp_app_flow_gone(struct sp *sp, struct dp_app *app)
{
	char name[LOG_ESC_SIZE(sizeof(app->name))];

	fprintf(stderr, "fastpathd: app %u (%s) detached, %llu bad queue entries\n",
		app->app_id, log_esc(name, sizeof(name), app->name),
		(unsigned long long)app->bad_entries);
	app_release(sp, app);
	sp->napps--;
}

/* a dying app's flow finished: once none is left, let the fastpath go */
void sp_app_flow_done(struct sp *sp, struct dp_app *app)
{
	struct sp_app *sa = app->sp_priv;
	if (!sa || !sa->dying || !sa->flows_live)
		return;
	if (--sa->flows_live == 0)
		sp_send_fp(sp, DPM_APP_DEL, 0, 0, app);
}

/**
 * sp_ctl_listen_shared - an attached app asks to listen on, or join, a
 * shared port, with the kernel socket that proves it may (listen_owner.c).
 * What the app queued before it comes first.
 */
void sp_ctl_listen_shared(struct sp *sp, struct dp_app *app, const Bypass__CtlMsg *m,
			  const int *fds, int nfds)
{
	drain_ctrl(sp, app);
	sp_listen_ctl(sp, app, m->listen_shared->req.data, m->listen_shared->req.len, fds, nfds);
}

/* the app's control connection ended (ctl_sock.c frees it): the app is gone */
void sp_ctl_app_gone(struct sp *sp, struct dp_app *app)
{
	struct sp_app *sa = app->sp_priv;
	sa->conn = NULL;
	if (sa->dying)
		return;
	ev_io_stop(sp->loop, &sa->doorbell_w);
	/* closes it queued just before exiting are orderly closes, not crashes */
	drain_ctrl(sp, app);
	/* moves into this app still in flight end in its region too */
	sa->flows_live = sp_conn_app_gone(sp, app) + sa->moves_in;
	sa->dying = true;
	sp_handoff_pid_gone(sp, sa->pid);
	if (!sa->flows_live) /* else the last FLOW_DEL_DONE sends it */
		sp_send_fp(sp, DPM_APP_DEL, 0, 0, app);
}

static void reply_error(struct ctl_conn *cc, int status, const char *msg)
{
	Bypass__AttachReply rep = BYPASS__ATTACH_REPLY__INIT;
	rep.status = status;
	rep.error = (char *)msg;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_ATTACH_REPLY;
	m.attach_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
	sp_ctl_close_when_sent(cc);
}

void sp_ctl_attach(struct sp *sp, struct ctl_conn *cc, const Bypass__AttachRequest *req)
{
	struct dataplane *dp = sp->dp;
	char err[256];
	if (req->abi_version != BP_ABI_VERSION) {
		snprintf(err, sizeof(err), "ABI mismatch: app built for shared-memory ABI v%u, "
			 "fastpathd speaks v%u; rebuild the app against this libbypass",
			 req->abi_version, BP_ABI_VERSION);
		reply_error(cc, EPROTO, err);
		return;
	}
	struct dp_app *app = NULL;
	for (uint16_t i = 0; i < DP_MAX_APPS; i++) {
		if (!dp->apps[i].in_use) {
			app = &dp->apps[i];
			app->app_id = i;
			break;
		}
	}
	if (!app) {
		snprintf(err, sizeof(err), "fastpathd already serves %d apps; detach one first",
			 DP_MAX_APPS);
		reply_error(cc, EUSERS, err);
		return;
	}
	uint16_t id = app->app_id;
	memset(app, 0, sizeof(*app));
	app->app_id = id;
	app->in_use = true;
	app->conn_fd = cc->fd; /* owned by cc */
	app->memfd = app->wake_fd = app->sp_doorbell_fd = -1;
	snprintf(app->name, sizeof(app->name), "%s", req->app_name ? req->app_name : "app");

	struct sp_app *sa = calloc(1, sizeof(*sa));
	app->sp_priv = sa;
	if (sa) {
		sa->sp = sp;
		/* who forks whom is tracked by pid (handoff.c); SO_PEERCRED */
		sa->pid = cc->pid;
		sa->uid = cc->uid;
	}
	int rc = -ENOMEM;
	snprintf(err, sizeof(err), "out of memory");
	if (!sa || region_create(dp, app, err, sizeof(err)))
		goto fail;
	app->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	app->sp_doorbell_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sa->free_slots = malloc(app->max_flows * sizeof(uint32_t));
	sa->populated = calloc(app->max_flows, 1);
	app->slot_flow = malloc(app->max_flows * sizeof(uint32_t));
	app->fp_slot_flow = malloc(app->max_flows * sizeof(uint32_t));
	if (app->wake_fd < 0 || app->sp_doorbell_fd < 0 || !sa->free_slots || !sa->populated ||
	    !app->slot_flow ||
	    !app->fp_slot_flow)
		goto fail;
	for (uint32_t i = 0; i < app->max_flows; i++) {
		sa->free_slots[i] = app->max_flows - 1 - i; /* hand out low slots first */
		app->slot_flow[i] = app->fp_slot_flow[i] = DP_INVALID_FLOW;
	}
	sa->nfree = app->max_flows;

	Bypass__AttachReply rep = BYPASS__ATTACH_REPLY__INIT;
	rep.status = 0;
	rep.has_app_id = 1;
	rep.app_id = app->app_id;
	rep.has_region_size = 1;
	rep.region_size = app->region_size;
	rep.has_abi_version = 1;
	rep.abi_version = BP_ABI_VERSION;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_ATTACH_REPLY;
	m.attach_reply = &rep;
	int fds[4] = { app->memfd, app->wake_fd, app->sp_doorbell_fd, dp->fp_kick_fd };
	rc = sp_ctl_send(cc, &m, fds, 4);
	if (rc) { /* the connection is closing already: no error reply */
		app_release(sp, app);
		return;
	}
	sa->conn = cc;
	sp_ctl_attached(cc, app);
	ev_io_init(&sa->doorbell_w, on_doorbell, app->sp_doorbell_fd, EV_READ);
	sa->doorbell_w.data = app;
	ev_io_start(sp->loop, &sa->doorbell_w);
	sp_send_fp(sp, DPM_APP_ADD, 0, 0, app);
	sp->napps++;
	if (dp->cfg.verbose) {
		char name[LOG_ESC_SIZE(sizeof(app->name))];

		fprintf(stderr, "fastpathd: app %u (%s) attached\n", app->app_id,
			log_esc(name, sizeof(name), app->name));
	}
	return;
fail:
	reply_error(cc, -rc > 0 ? -rc : ENOMEM, err);
	app_release(sp, app); /* cc is not the app's yet: it stays to send the error */
}

static void add_counter(Bypass__Counter **arr, Bypass__Counter *store, size_t *n, const char *name,
			uint64_t v)
{
	Bypass__Counter c = BYPASS__COUNTER__INIT;
	store[*n] = c;
	store[*n].name = (char *)name;
	store[*n].value = v;
	arr[*n] = &store[*n];
	(*n)++;
}

void sp_ctl_status(struct sp *sp, struct ctl_conn *cc)
{
	struct dataplane *dp = sp->dp;
	char ip[32];
	inet_ntop(AF_INET, &dp->ip, ip, INET_ADDRSTRLEN);
	size_t iplen = strlen(ip);
	snprintf(ip + iplen, sizeof(ip) - iplen, "/%u", dp->cfg.prefix_len);
	Bypass__StatusReply rep = BYPASS__STATUS_REPLY__INIT;
	rep.version = (char *)BYPASS_VERSION;
	rep.port = dp->cfg.port_dev;
	rep.local_ip = ip;
	rep.has_apps = rep.has_flows = 1;
	rep.apps = sp->napps;
	rep.flows = sp->nconns;
	Bypass__Counter store[2 * DPC_MAX + PKT_VERDICT_MAX + 16];
	Bypass__Counter *arr[2 * DPC_MAX + PKT_VERDICT_MAX + 16];
	size_t n = 0;
	for (int i = 0; i < DPC_MAX; i++)
		add_counter(arr, store, &n, dp_counter_name(i),
			    __atomic_load_n(&dp->fp_counters[i], __ATOMIC_RELAXED) + dp->sp_counters[i]);
	for (int v = 1; v < PKT_VERDICT_MAX; v++)
		add_counter(arr, store, &n, pkt_verdict_name(v),
			    __atomic_load_n(&dp->drop_reason[v], __ATOMIC_RELAXED));
	/* gauges and the PMD's own counters: a pool running dry or a port
	 * that misses frames shows here before it shows as stalled flows */
	if (dp->pool) {
		add_counter(arr, store, &n, "mbufs_total", dp->pool->size);
		add_counter(arr, store, &n, "mbufs_available", rte_mempool_avail_count(dp->pool));
	}
	struct rte_eth_stats es;
	if (dp->pool && rte_eth_stats_get(dp->port_id, &es) == 0) {
		add_counter(arr, store, &n, "port_rx_missed", es.imissed);
		add_counter(arr, store, &n, "port_rx_errors", es.ierrors);
		add_counter(arr, store, &n, "port_rx_no_mbuf", es.rx_nombuf);
		add_counter(arr, store, &n, "port_tx_errors", es.oerrors);
	}
	/* control-socket clients: what the limits of ctl_sock.c turned away */
	struct ctl_stats cs;
	sp_ctl_get_stats(sp, &cs);
	add_counter(arr, store, &n, "ctl_pending", cs.pending);
	add_counter(arr, store, &n, "ctl_accepted", cs.accepted);
	add_counter(arr, store, &n, "ctl_evicted", cs.evicted);
	add_counter(arr, store, &n, "ctl_frame_timeouts", cs.frame_timeouts);
	add_counter(arr, store, &n, "ctl_idle_timeouts", cs.idle_timeouts);
	add_counter(arr, store, &n, "ctl_slow_readers", cs.slow_readers);
	add_counter(arr, store, &n, "ctl_bad_frames", cs.bad_frames);
	add_counter(arr, store, &n, "ctl_accept_errors", cs.accept_errors);
	rep.n_counters = n;
	rep.counters = arr;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_STATUS_REPLY;
	m.status_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
}

static int mkdir_parent(const char *path)
{
	char dir[CFG_STR];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

int sp_attach_init(struct sp *sp, char *err, size_t errlen)
{
	const char *path = sp->dp->cfg.socket_path;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "[daemon] socket: path '%s' is too long (max %zu)", path,
			 sizeof(sa.sun_path) - 1);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (mkdir_parent(path)) {
		snprintf(err, errlen, "cannot create the directory of socket %s: %s", path,
			 strerror(errno));
		return -1;
	}
	sp->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* a live daemon answers on the socket; a stale file from a crash doesn't */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		snprintf(err, errlen, "another fastpathd is already serving %s; stop it or give "
			 "this one another --socket", path);
		return -1;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	if (sp->listen_fd < 0 || bind(sp->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(sp->listen_fd, 1024)) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		return -1;
	}
	chmod(path, sp->dp->cfg.socket_mode);
	return sp_ctl_start(sp, sp->listen_fd, err, errlen);
}

void sp_attach_fini(struct sp *sp)
{
	for (int i = 0; i < DP_MAX_APPS; i++)
		if (sp->dp->apps[i].in_use)
			app_release(sp, &sp->dp->apps[i]);
	sp_ctl_stop(sp);
	if (sp->listen_fd >= 0) {
		close(sp->listen_fd);
		unlink(sp->dp->cfg.socket_path);
	}
}
