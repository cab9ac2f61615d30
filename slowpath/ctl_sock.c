// SPDX-License-Identifier: MIT
/*
 * ctl_sock.c - the control socket's connections, served by the slowpath
 * thread, which must never wait for a client: handshakes, timers, ARP and
 * every other app depend on it.  So no call here blocks: accept, reads and
 * writes are non-blocking; a request is decoded only once its frame is
 * whole in the connection's buffer; replies wait in a bounded buffer.
 * What a client can hold is bounded in time (CTL_FRAME_TIMEOUT_S for a
 * frame, CTL_IDLE_TIMEOUT_S before attaching) and in number (the pending
 * caps), so neither a dripping client nor thousands of idle connections
 * stall the thread or exhaust its descriptors (see ctl_sock.h).
 *
 * attach.c and status.c do what the requests ask; this file only
 * moves bytes and enforces the limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <rte_cycles.h>

#include "sp_internal.h"
#include "ctl_sock.h"
#include "config.h"
#include "metrics_sp.h"

#define ACCEPTS_PER_EVENT 64   /* then let other watchers run */
#define READS_PER_EVENT 4
#define IN_MIN 256             /* first input buffer; grows to one whole frame */
#define ACCEPT_RETRY_S 0.1     /* after EMFILE: accept again this much later */

struct sp_ctl {
	struct sp *sp;
	int listen_fd;
	int reserve_fd;            /* spent to accept-and-close when out of fds */
	ev_io accept_w;
	ev_timer retry_w;
	struct ctl_conn *conns;    /* every connection */
	struct ctl_stats st;
	ev_tstamp warned_at;       /* last "out of descriptors" log line */
	bool have_admin_gid;       /* [daemon] admin_group, resolved at start */
	uint32_t admin_gid;
};

/* ---------------------------------------------------- pending caps */

static struct sp_ctl *ctl_of(struct ctl_conn *cc)
{
	return cc->sp->ctl;
}

/* oldest pending connection of @uid, and how many it has */
static struct ctl_conn *uid_oldest(struct sp_ctl *ctl, uint32_t uid, uint32_t *n)
{
	struct ctl_conn *first = NULL;
	*n = 0;
	for (struct ctl_conn *c = ctl->conns; c; c = c->next) {
		if (!c->pending || c->uid != uid)
			continue;
		if (!first)
			first = c;
		while (first->uprev)
			first = first->uprev;
		break;
	}
	for (struct ctl_conn *c = first; c; c = c->unext)
		(*n)++;
	return first;
}

static void pending_unlink(struct ctl_conn *cc)
{
	if (!cc->pending)
		return;
	if (cc->uprev)
		cc->uprev->unext = cc->unext;
	if (cc->unext)
		cc->unext->uprev = cc->uprev;
	cc->uprev = cc->unext = NULL;
	cc->pending = false;
	ctl_of(cc)->st.pending--;
}

/* ---------------------------------------------------- connection end */

static void close_fds(int *fds, int *n)
{
	for (int i = 0; i < *n; i++)
		close(fds[i]);
	*n = 0;
}

void sp_ctl_free(struct ctl_conn *cc)
{
	struct sp_ctl *ctl = ctl_of(cc);
	struct ev_loop *loop = cc->sp->loop;

	if (cc->capture)
		sp_capture_conn_gone(cc);
	ev_io_stop(loop, &cc->io_w);
	ev_timer_stop(loop, &cc->timer_w);
	pending_unlink(cc);
	if (cc->prev)
		cc->prev->next = cc->next;
	else
		ctl->conns = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	close_fds(cc->in_fds, &cc->in_nfds);
	close_fds(cc->out_fds, &cc->out_nfds);
	free(cc->in);
	free(cc->out);
	close(cc->fd);
	free(cc);
}

/* the connection is over: an attached app detaches, as when it dies */
static void conn_end(struct ctl_conn *cc)
{
	if (cc->app)
		sp_ctl_app_gone(cc->sp, cc->app);
	sp_ctl_free(cc);
}

void sp_ctl_end(struct ctl_conn *cc)
{
	conn_end(cc);
}

/* ---------------------------------------------------- watchers */

/* what to watch for and when to look again, after any change */
static void conn_rearm(struct ctl_conn *cc)
{
	struct ev_loop *loop = cc->sp->loop;
	int want = (cc->closing ? 0 : EV_READ) | (cc->out_len > cc->out_off ? EV_WRITE : 0);
	ev_tstamp due = 0;

	if ((cc->io_w.events & (EV_READ | EV_WRITE)) != want) {
		ev_io_stop(loop, &cc->io_w);
		ev_io_set(&cc->io_w, cc->fd, want);
		if (want)
			ev_io_start(loop, &cc->io_w);
	}
	if (cc->pending)
		due = cc->last_req + CTL_IDLE_TIMEOUT_S;
	if (cc->in_len && (!due || cc->frame_start + CTL_FRAME_TIMEOUT_S < due))
		due = cc->frame_start + CTL_FRAME_TIMEOUT_S;
	ev_timer_stop(loop, &cc->timer_w);
	if (due) {
		ev_tstamp after = due - ev_now(loop);
		ev_timer_set(&cc->timer_w, after > 0 ? after : 0, 0);
		ev_timer_start(loop, &cc->timer_w);
	}
}

static void on_conn_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_conn *cc = w->data;
	struct sp_ctl *ctl = ctl_of(cc);
	ev_tstamp now = ev_now(loop);

	if (cc->in_len && now >= cc->frame_start + CTL_FRAME_TIMEOUT_S) {
		ctl->st.frame_timeouts++;
		conn_end(cc);
		return;
	}
	if (cc->pending && now >= cc->last_req + CTL_IDLE_TIMEOUT_S) {
		ctl->st.idle_timeouts++;
		conn_end(cc);
		return;
	}
	conn_rearm(cc);
}

/* ---------------------------------------------------- output */

/* end without flushing: the next look at the connection closes it */
static void conn_kill(struct ctl_conn *cc)
{
	cc->dead = cc->closing = true;
	free(cc->out);
	cc->out = NULL;
	cc->out_off = cc->out_len = 0;
	close_fds(cc->out_fds, &cc->out_nfds);
}

/* send what the socket takes now; -1 if the connection must end */
static int conn_flush(struct ctl_conn *cc)
{
	while (cc->out_off < cc->out_len) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
			struct cmsghdr align;
		} cm;
		uint32_t end = cc->out_len;
		struct iovec iov;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

		/* descriptors ride on the first byte of their frame */
		if (cc->out_nfds && cc->out_fds_at > cc->out_off)
			end = cc->out_fds_at;
		if (cc->out_nfds && cc->out_fds_at == cc->out_off) {
			struct cmsghdr *c;

			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * cc->out_nfds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * cc->out_nfds);
			memcpy(CMSG_DATA(c), cc->out_fds, sizeof(int) * cc->out_nfds);
		}
		iov.iov_base = cc->out + cc->out_off;
		iov.iov_len = end - cc->out_off;
		ssize_t r = sendmsg(cc->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		if (mh.msg_control)
			close_fds(cc->out_fds, &cc->out_nfds);
		cc->out_off += (uint32_t)r;
	}
	if (cc->out_off == cc->out_len) {
		free(cc->out);
		cc->out = NULL;
		cc->out_off = cc->out_len = 0;
	}
	return 0;
}

int sp_ctl_send(struct ctl_conn *cc, const Bypass__CtlMsg *in, const int *fds, int nfds)
{
	/* every reply states the daemon's protocol version (ctl_version.c) */
	Bypass__CtlMsg stamped = *in, *m = &stamped;

	stamped.has_proto_major = stamped.has_proto_minor = 1;
	stamped.proto_major = CTL_PROTO_MAJOR;
	stamped.proto_minor = CTL_PROTO_MINOR;
	size_t len = bypass__ctl_msg__get_packed_size(m);
	uint32_t queued = cc->out_len - cc->out_off;

	if (cc->dead)
		return -EPIPE;
	if (len > CTL_MAX_FRAME || nfds < 0 || nfds > CTL_MAX_FDS || (nfds && cc->out_nfds))
		return -EINVAL;
	if (queued + 4 + len > CTL_MAX_OUT) {
		/* it does not read what it asked for: never wait for it */
		ctl_of(cc)->st.slow_readers++;
		conn_kill(cc);
		return -ENOBUFS;
	}
	/* compact, then append */
	uint8_t *out = malloc(queued + 4 + len);
	if (!out) {
		conn_kill(cc);
		return -ENOMEM;
	}
	if (queued)
		memcpy(out, cc->out + cc->out_off, queued);
	if (cc->out_nfds)
		cc->out_fds_at -= cc->out_off;
	free(cc->out);
	cc->out = out;
	cc->out_off = 0;
	out += queued;
	out[0] = len & 0xff;
	out[1] = (len >> 8) & 0xff;
	out[2] = (len >> 16) & 0xff;
	out[3] = (len >> 24) & 0xff;
	bypass__ctl_msg__pack(m, out + 4);
	for (int i = 0; i < nfds; i++) {
		int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
		if (d < 0) {
			int e = errno;
			conn_kill(cc);
			return -e;
		}
		cc->out_fds[cc->out_nfds++] = d;
	}
	cc->out_fds_at = queued;
	cc->out_len = queued + 4 + (uint32_t)len;
	if (conn_flush(cc)) {
		conn_kill(cc);
		return -EPIPE;
	}
	return 0;
}

void sp_ctl_close_when_sent(struct ctl_conn *cc)
{
	cc->closing = true;
}

void sp_ctl_hold(struct ctl_conn *cc)
{
	pending_unlink(cc);
}

void sp_ctl_attached(struct ctl_conn *cc, struct dp_app *app)
{
	cc->app = app;
	pending_unlink(cc);
}

/* ---------------------------------------------------- input */

static void dispatch(struct ctl_conn *cc, const Bypass__CtlMsg *m)
{
	struct sp *sp = cc->sp;

	sp->now = rte_rdtsc();
	if (!sp_ctl_version_ok(cc, m))
		return;
	switch (m->msg_case) {
	case BYPASS__CTL_MSG__MSG_ATTACH_REQ:
		if (!cc->app) /* once per connection */
			sp_ctl_attach(sp, cc, m->attach_req);
		break;
	case BYPASS__CTL_MSG__MSG_LISTEN_SHARED:
		if (cc->app && m->listen_shared)
			sp_ctl_listen_shared(sp, cc->app, m, cc->in_fds, cc->in_nfds);
		break;
	case BYPASS__CTL_MSG__MSG_STATUS_REQ:
		sp_ctl_status(sp, cc, m->status_req);
		if (!cc->app) /* bypassctl: one question per connection */
			cc->closing = true;
		break;
	case BYPASS__CTL_MSG__MSG_CONFIG_REQ:
		if (m->config_req)
			sp_ctl_config(sp, cc, m->config_req);
		if (!cc->app)
			cc->closing = true;
		break;
	case BYPASS__CTL_MSG__MSG_CORES_REQ:
		if (m->cores_req)
			sp_ctl_cores(sp, cc, m->cores_req);
		if (!cc->app)
			cc->closing = true;
		break;
	case BYPASS__CTL_MSG__MSG_APPS_REQ:
		if (m->apps_req)
			sp_ctl_apps(sp, cc, m->apps_req);
		if (!cc->app)
			cc->closing = true;
		break;
	case BYPASS__CTL_MSG__MSG_TENANTS_REQ:
		if (m->tenants_req)
			sp_ctl_tenants(sp, cc, m->tenants_req);
		if (!cc->app)
			cc->closing = true;
		break;
	case BYPASS__CTL_MSG__MSG_FLOWS_REQ:
		if (m->flows_req)
			sp_ctl_flows(sp, cc, m->flows_req);
		if (!cc->app)
			cc->closing = true;
		break;
	case BYPASS__CTL_MSG__MSG_RPC_REQ:
		sp_ctl_rpc(sp, cc);
		if (!cc->app)
			cc->closing = true;
		break;
	case BYPASS__CTL_MSG__MSG_ARP_REQ:
		sp_ctl_arp(sp, cc);
		if (!cc->app)
			cc->closing = true;
		break;
	case BYPASS__CTL_MSG__MSG_ROUTE_REQ:
		sp_ctl_route(sp, cc);
		if (!cc->app)
			cc->closing = true;
		break;
	case BYPASS__CTL_MSG__MSG_TENANT_CHANGE_REQ:
		if (m->tenant_change_req)
			sp_ctl_tenant_change(sp, cc, m->tenant_change_req);
		if (!cc->app)
			cc->closing = true;
		break;
	case BYPASS__CTL_MSG__MSG_CAPTURE_REQ:
		/* a capture holds its connection until it ends (capture.c) */
		if (!cc->app && !cc->capture && m->capture_req)
			sp_ctl_capture(sp, cc, m->capture_req, cc->in_fds, cc->in_nfds);
		else
			cc->closing = true;
		break;
	case BYPASS__CTL_MSG__MSG_CAPTURE_STOP:
		if (cc->capture)
			sp_ctl_capture_stop(sp, cc);
		break;
	case BYPASS__CTL_MSG__MSG_METRICS_REQ:
		if (m->metrics_req)
			sp_ctl_metrics(sp, cc, m->metrics_req);
		if (!cc->app)
			cc->closing = true;
		break;
	default:
		/* an app's own socket tolerates what it cannot use; anyone
		 * else is told (a newer client) and let go */
		sp_ctl_unknown(cc, m);
		break;
	}
}

/* decode and run every whole frame in the buffer; -1: end the connection */
static int conn_frames(struct ctl_conn *cc, ev_tstamp now)
{
	uint32_t off = 0;
	int rc = 0;

	while (!cc->closing && off < cc->in_len) {
		Bypass__CtlMsg *m;
		size_t used;
		int r = ctl_frame_decode(cc->in + off, cc->in_len - off, &m, &used);

		if (r == -EAGAIN) {
			if (used > cc->in_cap) { /* the frame is bigger than the buffer */
				uint8_t *in = realloc(cc->in, used);
				if (!in) {
					rc = -1;
					break;
				}
				cc->in = in;
				cc->in_cap = (uint32_t)used;
			}
			break;
		}
		if (r) {
			ctl_of(cc)->st.bad_frames++;
			rc = -1;
			break;
		}
		off += (uint32_t)used;
		cc->last_req = now;
		dispatch(cc, m);
		/* only a shared listen and a capture use descriptors, and dup what they keep */
		close_fds(cc->in_fds, &cc->in_nfds);
		bypass__ctl_msg__free_unpacked(m, NULL);
	}
	if (off) {
		memmove(cc->in, cc->in + off, cc->in_len - off);
		cc->in_len -= off;
		/* what is left started arriving with this read */
		cc->frame_start = now;
	}
	if (!cc->in_len && cc->in_cap > IN_MIN) {
		free(cc->in);
		cc->in = NULL;
		cc->in_cap = 0;
	}
	return rc;
}

/* gather passed descriptors, at most CTL_MAX_FDS per connection */
static void collect_fds(struct ctl_conn *cc, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (cc->in_nfds < CTL_MAX_FDS)
				cc->in_fds[cc->in_nfds++] = f;
			else
				close(f);
		}
	}
}

/* read what is there; -1: EOF or error, end the connection */
static int conn_read(struct ctl_conn *cc, ev_tstamp now)
{
	for (int n = 0; n < READS_PER_EVENT && !cc->closing; n++) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
			struct cmsghdr align;
		} cm;
		if (!cc->in) {
			cc->in = malloc(IN_MIN);
			if (!cc->in)
				return -1;
			cc->in_cap = IN_MIN;
		}
		struct iovec iov = { .iov_base = cc->in + cc->in_len,
				     .iov_len = cc->in_cap - cc->in_len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
		ssize_t r = recvmsg(cc->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		collect_fds(cc, &mh);
		if (r == 0)
			return -1;
		if (!cc->in_len)
			cc->frame_start = now;
		cc->in_len += (uint32_t)r;
		if (conn_frames(cc, now))
			return -1;
	}
	return 0;
}

static void on_conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_conn *cc = w->data;
	ev_tstamp now = ev_now(loop);

	if ((revents & EV_READ) && conn_read(cc, now)) {
		conn_end(cc);
		return;
	}
	if (conn_flush(cc)) {
		conn_end(cc);
		return;
	}
	if (cc->closing && cc->out_len == cc->out_off) {
		conn_end(cc);
		return;
	}
	conn_rearm(cc);
}

/* ---------------------------------------------------- accept */

/* make room for one more pending connection of @uid */
static void pending_make_room(struct sp_ctl *ctl, uint32_t uid)
{
	uint32_t n;
	struct ctl_conn *victim = uid_oldest(ctl, uid, &n);

	if (n < CTL_MAX_PENDING_UID) {
		victim = NULL;
		if (ctl->st.pending < CTL_MAX_PENDING)
			return;
		/* all uids together are at the cap: the one holding most pays */
		uint32_t most = 0;
		for (struct ctl_conn *c = ctl->conns; c; c = c->next) {
			if (!c->pending || c->uprev)
				continue; /* each uid once, at its oldest */
			uint32_t k = 0;
			for (struct ctl_conn *o = c; o; o = o->unext)
				k++;
			if (k > most) {
				most = k;
				victim = c;
			}
		}
	}
	if (victim) {
		ctl->st.evicted++;
		conn_end(victim);
	}
}

static void pending_add(struct sp_ctl *ctl, struct ctl_conn *cc)
{
	uint32_t n;
	struct ctl_conn *last = uid_oldest(ctl, cc->uid, &n);

	while (last && last->unext)
		last = last->unext;
	cc->uprev = last;
	if (last)
		last->unext = cc;
	cc->pending = true;
	ctl->st.pending++;
}

void sp_ctl_release(struct ctl_conn *cc)
{
	struct sp_ctl *ctl = ctl_of(cc);

	cc->closing = true;
	if (cc->dead || cc->out_len == cc->out_off) {
		conn_end(cc);
		return;
	}
	/* replies wait for a client that may never read them: back under the
	 * caps, its idle timeout counted from now */
	if (!cc->pending && !cc->app) {
		pending_make_room(ctl, cc->uid);
		pending_add(ctl, cc);
	}
	cc->last_req = ev_now(cc->sp->loop);
	conn_rearm(cc);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents);

static void on_accept_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sp_ctl *ctl = w->data;
	ev_io_start(loop, &ctl->accept_w);
}

/*
 * Out of descriptors: accept and close one connection with the reserve fd,
 * so that client learns at once, then stop accepting for a while.  The
 * listening socket stays readable, and a level-triggered watcher would
 * otherwise spin on it.
 */
static void accept_starved(struct sp_ctl *ctl, int e)
{
	struct ev_loop *loop = ctl->sp->loop;

	ctl->st.accept_errors++;
	if (!ctl->warned_at || ev_now(loop) - ctl->warned_at > 60) {
		fprintf(stderr, "fastpathd: control socket: accept failed: %s; pausing accepts "
			"(raise the daemon's open-file limit, `ulimit -n`, or find what holds "
			"its descriptors)\n", strerror(e));
		ctl->warned_at = ev_now(loop);
	}
	if (ctl->reserve_fd >= 0) {
		close(ctl->reserve_fd);
		int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		ctl->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	ev_io_stop(loop, &ctl->accept_w);
	ev_timer_set(&ctl->retry_w, ACCEPT_RETRY_S, 0);
	ev_timer_start(loop, &ctl->retry_w);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sp_ctl *ctl = w->data;

	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			if (e == EINTR || e == ECONNABORTED)
				continue;
			if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
				accept_starved(ctl, e);
			return;
		}
		struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		socklen_t clen = sizeof(cred);
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen);
		pending_make_room(ctl, cred.uid);
		struct ctl_conn *cc = calloc(1, sizeof(*cc));
		if (!cc) {
			close(fd);
			accept_starved(ctl, ENOMEM);
			return;
		}
		cc->sp = ctl->sp;
		cc->fd = fd;
		cc->uid = cred.uid;
		cc->pid = cred.pid;
		sp_ident_read(&cc->ident, cred.uid, cred.gid, cred.pid);
		cc->last_req = ev_now(loop);
		cc->next = ctl->conns;
		if (ctl->conns)
			ctl->conns->prev = cc;
		ctl->conns = cc;
		pending_add(ctl, cc);
		ev_io_init(&cc->io_w, on_conn_io, fd, 0);
		cc->io_w.data = cc;
		ev_init(&cc->timer_w, on_conn_timer);
		cc->timer_w.data = cc;
		ctl->st.accepted++;
		conn_rearm(cc);
	}
}

/* ---------------------------------------------------- setup */

/*
 * Many clients may hold a connection: do not let the default 1024 bite.
 * Each attached app costs the daemon 6 descriptors (socket, memfd, both
 * ends of its wake pipe, its end of its doorbell: wake.c, a pidfd), a shared listener
 * one more (its proof), an attach in progress one per fastpath core
 * more, and a pending connection one: a hard limit below that is raised
 * too when we may (root), else the limit is logged.
 */
static void raise_nofile(struct sp *sp)
{
	rlim_t need = (rlim_t)sp->dp->max_apps * 8 + CTL_MAX_PENDING + 256 + 2 * DP_MAX_CORES;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		struct rlimit up = { need, need };

		if (!setrlimit(RLIMIT_NOFILE, &up))
			return;
		fprintf(stderr, "fastpathd: open-file limit %llu is below the %llu that [apps] "
			"max_apps %u may need; attaches may fail with EMFILE\n",
			(unsigned long long)rl.rlim_max, (unsigned long long)need,
			sp->dp->max_apps);
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			fprintf(stderr, "fastpathd: cannot raise the open-file limit to %llu: %s\n",
				(unsigned long long)rl.rlim_max, strerror(errno));
	}
}

int sp_ctl_start(struct sp *sp, int listen_fd, char *err, size_t errlen)
{
	struct sp_ctl *ctl = calloc(1, sizeof(*ctl));

	if (!ctl) {
		snprintf(err, errlen, "out of memory for the control socket");
		return -1;
	}
	raise_nofile(sp);
	ctl->sp = sp;
	/* once: a group lookup may ask NSS (LDAP...), never on a request */
	if (sp->dp->cfg.admin_group[0])
		ctl->have_admin_gid = config_group_gid(sp->dp->cfg.admin_group, &ctl->admin_gid);
	ctl->listen_fd = listen_fd;
	ctl->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ev_io_init(&ctl->accept_w, on_accept, listen_fd, EV_READ);
	ctl->accept_w.data = ctl;
	ev_init(&ctl->retry_w, on_accept_retry);
	ctl->retry_w.data = ctl;
	sp->ctl = ctl;
	ev_io_start(sp->loop, &ctl->accept_w);
	return 0;
}

void sp_ctl_stop(struct sp *sp)
{
	struct sp_ctl *ctl = sp->ctl;

	if (!ctl)
		return;
	while (ctl->conns)
		sp_ctl_free(ctl->conns);
	ev_io_stop(sp->loop, &ctl->accept_w);
	ev_timer_stop(sp->loop, &ctl->retry_w);
	if (ctl->reserve_fd >= 0)
		close(ctl->reserve_fd);
	free(ctl);
	sp->ctl = NULL;
}

bool sp_ctl_admin(const struct ctl_conn *cc)
{
	const struct sp_ctl *ctl = cc->sp->ctl;

	if (cc->uid == 0 || cc->uid == geteuid())
		return true;
	if (!ctl || !ctl->have_admin_gid)
		return false;
	if (cc->ident.gid == ctl->admin_gid)
		return true;
	for (uint32_t i = 0; i < cc->ident.ngroups; i++)
		if (cc->ident.groups[i] == ctl->admin_gid)
			return true;
	return false;
}

int sp_ctl_read_scope(const struct ctl_conn *cc)
{
	if (sp_ctl_admin(cc))
		return SP_CTL_ALL;
	return sp_tenant_lookup(cc->sp, &cc->ident);
}

void sp_ctl_get_stats(struct sp *sp, struct ctl_stats *st)
{
	if (sp->ctl)
		*st = sp->ctl->st;
	else
		memset(st, 0, sizeof(*st));
}
