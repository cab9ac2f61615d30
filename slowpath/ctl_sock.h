/* SPDX-License-Identifier: MIT */
/*
 * ctl_sock.h - connections on fastpathd's control socket, served by the
 * slowpath thread without ever blocking on a client.
 *
 * Every connection is non-blocking, with its own input buffer (frames are
 * decoded by ctl_frame_decode() once whole) and a bounded output buffer.
 * A frame must arrive whole within CTL_FRAME_TIMEOUT_S of its first byte;
 * a connection that has not attached is closed after CTL_IDLE_TIMEOUT_S
 * without a request, and at most CTL_MAX_PENDING of them (CTL_MAX_PENDING_UID
 * per uid) exist at once: a new one evicts the oldest of its uid, or of the
 * uid holding the most.  A client that does not read its replies is
 * dropped once CTL_MAX_OUT bytes wait for it.
 */
#ifndef SP_CTL_SOCK_H
#define SP_CTL_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <ev.h>

#include "ctl_wire.h"
#include "tenant.h"

#define CTL_FRAME_TIMEOUT_S 1.0   /* first byte of a frame to its last */
#define CTL_IDLE_TIMEOUT_S 5.0    /* not attached: accept or last request to the next */
#define CTL_MAX_PENDING 256       /* connections not attached, all uids */
#define CTL_MAX_PENDING_UID 64    /* ... of one uid */
#define CTL_MAX_OUT (256u * 1024u) /* reply bytes a client may leave unread */

struct sp;
struct dp_app;
struct dp_rpc_stat;

/* one client connection; owned by ctl_sock.c */
struct ctl_conn {
	struct sp *sp;
	int fd;
	ev_io io_w;
	ev_timer timer_w;           /* frame deadline / idle timeout */
	struct dp_app *app;         /* NULL until attached */
	struct sp_capture *capture; /* bypassctl capture running for it (capture.c) */
	uint32_t uid;               /* SO_PEERCRED at accept */
	int32_t pid;
	struct sp_ident ident;      /* ... with groups and cgroup (tenant_match.c) */
	bool closing;               /* no more requests: close once replies are out */
	bool dead;                  /* close without sending what is queued */
	bool pending;               /* counted against the not-attached caps */
	ev_tstamp frame_start;      /* first byte of the incomplete frame (0: none) */
	ev_tstamp last_req;         /* accept or the last whole request */
	uint8_t *in;
	uint32_t in_len, in_cap;
	int in_fds[CTL_MAX_FDS];    /* descriptors a client sent (none is used) */
	int in_nfds;
	uint8_t *out;
	uint32_t out_len, out_off;
	int out_fds[CTL_MAX_FDS];   /* dups, sent with byte out_fds_at */
	int out_nfds;
	uint32_t out_fds_at;
	struct ctl_conn *prev, *next;   /* every connection */
	struct ctl_conn *uprev, *unext; /* pending ones of the same uid, oldest first */
};

/* control-socket statistics, for bypassctl status */
struct ctl_stats {
	uint64_t accepted;
	uint64_t evicted;           /* closed to make room under the caps */
	uint64_t frame_timeouts;    /* a frame did not complete in time */
	uint64_t idle_timeouts;
	uint64_t slow_readers;      /* replies piled up unread */
	uint64_t bad_frames;
	uint64_t accept_errors;     /* EMFILE, ENFILE, ENOMEM on accept */
	uint32_t pending;           /* gauge: connections not attached */
};

/**
 * sp_ctl_start - serve the bound, listening control socket @listen_fd.
 * @sp: the slowpath.
 * @listen_fd: non-blocking listening Unix socket; owned by the caller.
 *
 * Also raises RLIMIT_NOFILE's soft limit to the hard limit.
 * Return: 0, or -1 with @err set.
 */
int sp_ctl_start(struct sp *sp, int listen_fd, char *err, size_t errlen);

/** sp_ctl_stop - close every connection (no callbacks into attach.c). */
void sp_ctl_stop(struct sp *sp);

/**
 * sp_ctl_send - queue one framed message, sending what the socket takes now.
 * @cc: connection.
 * @m: message.
 * @fds: descriptors to pass (duplicated here: the caller keeps its own).
 * @nfds: how many, at most CTL_MAX_FDS.
 *
 * Never blocks.  A client whose unread replies would exceed CTL_MAX_OUT is
 * marked for closing.
 * Return: 0, or a negative errno (the connection is then closing).
 */
int sp_ctl_send(struct ctl_conn *cc, const Bypass__CtlMsg *m, const int *fds, int nfds);

/** sp_ctl_close_when_sent - end @cc once its queued replies are out. */
void sp_ctl_close_when_sent(struct ctl_conn *cc);

/**
 * sp_ctl_hold - @cc stays open for a long request (a capture): no idle
 * timeout, no cap, until sp_ctl_release().
 */
void sp_ctl_hold(struct ctl_conn *cc);

/**
 * sp_ctl_release - @cc's long request ended: close it once its replies are
 * out, under the pending caps and idle timeout again meanwhile, so a
 * client that neither reads nor closes cannot keep it.  Frees @cc at once
 * if nothing waits to be sent: call it only outside @cc's own callbacks
 * (from a timer, as capture.c does).
 */
void sp_ctl_release(struct ctl_conn *cc);

/** sp_ctl_attached - @cc now belongs to @app: no idle timeout, no cap. */
void sp_ctl_attached(struct ctl_conn *cc, struct dp_app *app);

/** sp_ctl_end - close @cc at once; its app detaches as if it had died. */
void sp_ctl_end(struct ctl_conn *cc);

/** sp_ctl_free - close @cc at once, without telling its app. */
void sp_ctl_free(struct ctl_conn *cc);

/** sp_ctl_get_stats - current statistics. */
void sp_ctl_get_stats(struct sp *sp, struct ctl_stats *st);

/**
 * sp_ctl_admin - may the peer on @cc change the daemon and see every tenant?
 * Root, fastpathd's own user and members of [daemon] admin_group (primary
 * or supplementary group, as read at accept) may; every control request
 * that changes something or reads beyond the caller's own tenant asks this
 * one function.
 */
bool sp_ctl_admin(const struct ctl_conn *cc);

#define SP_CTL_ALL (-1) /* sp_ctl_read_scope(): every tenant */

/**
 * sp_ctl_read_scope - what the peer on @cc may read: SP_CTL_ALL for an
 * admin, else its own tenant's id (matched as at attach, without counting
 * a refusal), or -EACCES if it belongs to no tenant.
 */
int sp_ctl_read_scope(const struct ctl_conn *cc);

/* ctl_version.c: the protocol version check, before any request runs */
bool sp_ctl_version_ok(struct ctl_conn *cc, const Bypass__CtlMsg *m);
void sp_ctl_unknown(struct ctl_conn *cc, const Bypass__CtlMsg *m);

/* attach.c and status.c, called from here */
void sp_ctl_attach(struct sp *sp, struct ctl_conn *cc, const Bypass__AttachRequest *req);
void sp_ctl_status(struct sp *sp, struct ctl_conn *cc, const Bypass__StatusRequest *req);
void sp_ctl_cores(struct sp *sp, struct ctl_conn *cc, const Bypass__CoresRequest *req);
void sp_ctl_config(struct sp *sp, struct ctl_conn *cc, const Bypass__ConfigRequest *req);
void sp_ctl_apps(struct sp *sp, struct ctl_conn *cc, const Bypass__AppsRequest *req);
void sp_ctl_tenants(struct sp *sp, struct ctl_conn *cc, const Bypass__TenantsRequest *req);
void sp_ctl_flows(struct sp *sp, struct ctl_conn *cc, const Bypass__FlowsRequest *req);
void sp_ctl_arp(struct sp *sp, struct ctl_conn *cc);
void sp_ctl_rpc(struct sp *sp, struct ctl_conn *cc);
int sp_rpc_sum(struct sp *sp, struct dp_rpc_stat **out);
void sp_rpc_rebase(struct sp *sp, const bool *fresh);
int sp_rpc_base_init(struct sp *sp);
void sp_ctl_route(struct sp *sp, struct ctl_conn *cc);
void sp_ctl_tenant_change(struct sp *sp, struct ctl_conn *cc,
			  const Bypass__TenantChangeRequest *req);

/*
 * tenant_status.c: TenantStatus messages for tenants @scope may see
 * (SP_CTL_ALL or one id), @name only if not NULL, from id @from on; the
 * first that does not fit the frame ends the page (@l->next).  Free with
 * sp_tenant_status_free().  Return: how many were left out for room.
 */
struct sp_tenant_list {
	Bypass__TenantStatus **arr;
	size_t n;
	void *mem[3];
	bool has_next;          /* some did not fit: ask again from id next */
	uint32_t next;
};
uint32_t sp_tenant_status_fill(struct sp *sp, struct sp_tenant_list *l, int scope,
			       const char *name, uint32_t from);
void sp_tenant_status_free(struct sp_tenant_list *l);
void sp_tenant_status_one(struct sp *sp, uint16_t id, Bypass__TenantStatus *o);
void sp_ctl_listen_shared(struct sp *sp, struct dp_app *app, const Bypass__CtlMsg *m,
			  const int *fds, int nfds);
void sp_ctl_app_gone(struct sp *sp, struct dp_app *app);

/* capture.c */
void sp_ctl_capture(struct sp *sp, struct ctl_conn *cc, const Bypass__CaptureRequest *req,
		    const int *fds, int nfds);
void sp_ctl_capture_stop(struct sp *sp, struct ctl_conn *cc);
void sp_capture_conn_gone(struct ctl_conn *cc);
void sp_capture_tenants_changed(struct sp *sp);
void sp_capture_fini(struct sp *sp);

#endif /* SP_CTL_SOCK_H */
