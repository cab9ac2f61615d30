// SPDX-License-Identifier: MIT
/*
 * attach.c - the control server's side of an app: the attach handshake
 * (region, wakeup pipes, reply with the fds), the control socket's listening
 * end, and the app's lifecycle until the fastpath lets it go.
 * ctl_sock.c moves the bytes; region.c lays the region out; slots.c
 * allocates slots; ctrlq.c serves the control queue; status.c answers
 * bypassctl.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <rte_cycles.h>

#include "sp_internal.h"
#include "bypass/region_layout.h"
#include "ctl_wire.h"
#include "ctl_sock.h"
#include "log_esc.h"

/* -------------------------------------------------------- app lifecycle */

static void app_release(struct sp *sp, struct dp_app *app)
{
	struct sp_app *sa = app->sp_priv;
	if (sa) {
		sp_tenant_get(sp, app->tenant)->reserved_bytes -= sa->reserved;
		if (sa->conn)
			sp_ctl_free(sa->conn);
		sp_app_ctrl_unwatch(sp, app);
		if (sa->pidfd >= 0)
			close(sa->pidfd);
		free(sa->free_slots);
		free(sa->slots);
		free(sa);
	}
	sp_region_destroy(sp->dp, app);
	sp_wake_close(app);
	free(app->slot_flow);
	free(app->fp_slot_flow);
	for (uint32_t k = 0; k < DP_MAX_CORES; k++)
		rpc_heap_fini(&app->heap[k]);
	memset(app, 0, sizeof(*app));
}

/* the fastpath let go of the app (APP_DEL_DONE): free everything */
void sp_app_flow_gone(struct sp *sp, struct dp_app *app)
{
	char name[LOG_ESC_SIZE(sizeof(app->name))];

	fprintf(stderr, "fastpathd: app %u (%s) detached, %llu bad queue entries\n",
		app->app_id, log_esc(name, sizeof(name), app->name),
		(unsigned long long)__atomic_load_n(&app->bad_entries, __ATOMIC_RELAXED));
	sp_tenant_detach(sp, app->tenant);
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
		sp_fp_app_del(sp, app);
}

/**
 * sp_ctl_listen_shared - an attached app asks to listen on, or join, a
 * shared port, with the kernel socket that proves it may (listen_owner.c).
 * What the app queued before it comes first.
 */
void sp_ctl_listen_shared(struct sp *sp, struct dp_app *app, const Bypass__CtlMsg *m,
			  const int *fds, int nfds)
{
	sp_app_drain_ctrl(sp, app);
	sp_listen_ctl(sp, app, m->listen_shared->req.data, m->listen_shared->req.len, fds, nfds);
}

/*
 * The app's control connection ended (ctl_sock.c frees it): the app is
 * gone.  What it queued just before (closes, aborts, fork handoffs, exec
 * holds) is still served, in order and in rounds (ctrlq.c), so an app that
 * queued many closes and exited has them all taken as closes, not as a
 * crash; then sp_app_left().
 */
void sp_ctl_app_gone(struct sp *sp, struct dp_app *app)
{
	struct sp_app *sa = app->sp_priv;
	sa->conn = NULL;
	if (sa->dying || sa->leave_left)
		return;
	sp->now = rte_rdtsc(); /* (a connection's end comes with no clock update) */
	if (sa->region_lost) { /* its queues went with its region */
		sp_app_left(sp, app);
		return;
	}
	sa->leave_left = app->ctrlq.mask + 1;
	sp_app_serve_leaving(sp, app);
}

/* a gone app's queued requests are served: its flows close as at exit */
void sp_app_left(struct sp *sp, struct dp_app *app)
{
	struct sp_app *sa = app->sp_priv;
	sp_app_ctrl_unwatch(sp, app);
	/* moves into this app still in flight end in its region too */
	sa->flows_live = sp_conn_app_gone(sp, app) + sa->moves_in;
	sa->dying = true;
	/* the process that attached, still alive, lets go of all it held;
	 * one that exited may have left its pid to another user's process,
	 * which keeps its holds (its exit is seen through its own watch) */
	struct pollfd pp = { .fd = sa->pidfd, .events = POLLIN };
	bool alive = sa->pidfd >= 0 && poll(&pp, 1, 0) == 0;
	sp_handoff_pid_gone(sp, sa->pid, alive ? SP_ANY_UID : sa->uid);
	if (!sa->flows_live) /* else the last FLOW_DEL_DONE sends it */
		sp_fp_app_del(sp, app);
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
	uint64_t heap_max = (uint64_t)dp->cfg.rpc_heap_max_mb << 20;
	if (req->has_msg_heap && req->msg_heap > heap_max) {
		snprintf(err, sizeof(err), "the app asks for a %llu-byte RPC message heap; "
			 "fastpathd allows %llu ([rpc] heap_max_mb)",
			 (unsigned long long)req->msg_heap, (unsigned long long)heap_max);
		reply_error(cc, EFBIG, err);
		return;
	}
	int tid = sp_tenant_identify(sp, &cc->ident);
	if (tid < 0) {
		snprintf(err, sizeof(err), "uid %u is in no tenant and fastpathd refuses unknown "
			 "callers ([tenants] unknown = refuse); list it in a [tenant] section",
			 cc->uid);
		reply_error(cc, EACCES, err);
		return;
	}
	struct dp_app *app = NULL;
	for (uint32_t i = 0; i < dp->max_apps; i++) {
		if (!dp->apps[i].in_use) {
			app = &dp->apps[i];
			app->app_id = (uint16_t)i;
			break;
		}
	}
	if (!app) {
		snprintf(err, sizeof(err), "fastpathd already serves %u apps ([apps] max_apps); "
			 "detach one first", dp->max_apps);
		reply_error(cc, EUSERS, err);
		return;
	}
	if (sp_tenant_attach(sp, (uint16_t)tid)) {
		const struct sp_tenant *t = sp_tenant_get(sp, (uint16_t)tid);
		snprintf(err, sizeof(err), "tenant %s has %u apps attached, its max_apps; detach "
			 "one or raise max_apps", t->cfg.name, t->apps);
		reply_error(cc, EMFILE, err);
		return;
	}
	uint16_t id = app->app_id;
	memset(app, 0, sizeof(*app));
	app->app_id = id;
	app->tenant = (uint16_t)tid;
	app->in_use = true;
	app->conn_fd = cc->fd; /* owned by cc */
	app->memfd = app->wake_fd = app->wake_keep_fd = -1;
	app->sp_doorbell_fd = -1;
	app->msg_max = req->has_msg_max ? req->msg_max : 0;
	snprintf(app->name, sizeof(app->name), "%s", req->app_name ? req->app_name : "app");

	struct sp_app *sa = calloc(1, sizeof(*sa));
	app->sp_priv = sa;
	if (sa) {
		sa->sp = sp;
		/* who forks whom is tracked by pid (handoff.c); SO_PEERCRED */
		sa->pid = cc->pid;
		sa->uid = cc->uid;
		sa->pidfd = cc->pid > 0 ? (int)syscall(SYS_pidfd_open, cc->pid, 0) : -1;
	}
	int rc = -ENOMEM;
	snprintf(err, sizeof(err), "out of memory");
	if (!sa)
		goto fail;
	/* what the attach reserves, charged to max_buf_mb before it is taken:
	 * the RPC heap and send area, and on huge pages the whole region */
	struct bp_region_layout layout;
	uint64_t charge = sp_region_plan(dp, req->has_msg_heap ? req->msg_heap : 0, &layout);
	struct sp_tenant *tn = sp_tenant_get(sp, (uint16_t)tid);
	if (tn->cfg.max_buf_mb && charge &&
	    sp_tenant_buf_bytes(sp, tn) + charge > (uint64_t)tn->cfg.max_buf_mb << 20) {
		rc = -ENOBUFS;
		if (dp->cfg.app_hugepages)
			snprintf(err, sizeof(err), "tenant %s: an app's %llu MiB region on huge "
				 "pages (rings, queues, RPC heap), reserved whole at attach, would "
				 "pass its max_buf_mb (%u MiB); raise it, or lower [apps] "
				 "max_flows, rx_buf or tx_buf", tn->cfg.name,
				 (unsigned long long)(charge >> 20), tn->cfg.max_buf_mb);
		else
			snprintf(err, sizeof(err), "tenant %s: a %llu-byte RPC message heap (and "
				 "as large a send area) would pass its max_buf_mb (%u MiB); ask "
				 "for less or raise it", tn->cfg.name,
				 (unsigned long long)(charge / 2), tn->cfg.max_buf_mb);
		goto fail;
	}
	if (sp_region_create(dp, app, &layout, err, sizeof(err)))
		goto fail;
	sa->reserved = charge; /* app_release() gives it back */
	tn->reserved_bytes += sa->reserved;
	sa->free_slots = malloc(app->max_flows * sizeof(uint32_t));
	sa->slots = calloc(app->max_flows, sizeof(*sa->slots));
	app->slot_flow = malloc(app->max_flows * sizeof(uint32_t));
	app->fp_slot_flow = malloc(app->max_flows * sizeof(uint32_t));
	if (!sa->free_slots || !sa->slots || !app->slot_flow || !app->fp_slot_flow)
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
	/* the app's own descriptors to wake and be woken through (wake.c),
	 * sent, then closed */
	int fds[3 + DP_MAX_CORES] = { app->memfd };
	rc = sp_wake_open(app, &fds[1], &fds[2], err, sizeof(err));
	if (!rc)
		rc = sp_fp_kick_fds(sp, fds + 3, err, sizeof(err));
	if (rc < 0) {
		for (int i = 1; i < 3; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		goto fail;
	}
	int nfds = 3 + rc;
	rc = sp_ctl_send(cc, &m, fds, nfds);
	for (int i = 1; i < nfds; i++)
		close(fds[i]);
	if (rc) { /* the connection is closing already: no error reply */
		sp_tenant_detach(sp, (uint16_t)tid);
		app_release(sp, app);
		return;
	}
	sa->conn = cc;
	sp_ctl_attached(cc, app);
	sp_app_ctrl_watch(sp, app);
	sp_fp_app_add(sp, app);
	sp->napps++;
	if (dp->cfg.verbose) {
		char name[LOG_ESC_SIZE(sizeof(app->name))];

		fprintf(stderr, "fastpathd: app %u (%s) attached, uid %u, tenant %s\n",
			app->app_id, log_esc(name, sizeof(name), app->name), cc->uid,
			sp_tenant_get(sp, app->tenant)->cfg.name);
	}
	return;
fail:
	sp_tenant_detach(sp, (uint16_t)tid);
	reply_error(cc, -rc > 0 ? -rc : ENOMEM, err);
	app_release(sp, app); /* cc is not the app's yet: it stays to send the error */
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
	if (sp_fp_kick_bind(sp, err, errlen))
		return -1;
	unlink(path);
	if (sp->listen_fd < 0 || bind(sp->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(sp->listen_fd, 1024)) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		sp_kick_dir_remove(sp); /* (the caller skips sp_attach_fini()) */
		return -1;
	}
	if (sp->dp->cfg.socket_group[0]) {
		uint32_t gid;
		/* resolved again: config_validate() only checked it exists */
		if (!config_group_gid(sp->dp->cfg.socket_group, &gid) ||
		    chown(path, (uid_t)-1, (gid_t)gid)) {
			snprintf(err, errlen, "[daemon] socket_group: cannot give %s to group '%s': "
				 "%s", path, sp->dp->cfg.socket_group, strerror(errno));
			sp_kick_dir_remove(sp);
			return -1;
		}
	}
	chmod(path, sp->dp->cfg.socket_mode);
	int rc = sp_ctl_start(sp, sp->listen_fd, err, errlen);
	if (rc)
		sp_kick_dir_remove(sp);
	return rc;
}

void sp_attach_fini(struct sp *sp)
{
	for (uint32_t i = 0; i < sp->dp->max_apps; i++)
		if (sp->dp->apps[i].in_use)
			app_release(sp, &sp->dp->apps[i]);
	sp_ctl_stop(sp);
	if (sp->listen_fd >= 0) {
		/* names first, while we still answer on the socket: a daemon
		 * starting meanwhile is refused, and one starting after finds
		 * nothing of ours left to remove of its own */
		sp_kick_dir_remove(sp);
		unlink(sp->dp->cfg.socket_path);
		close(sp->listen_fd);
	}
}
