// SPDX-License-Identifier: MIT
/*
 * fake_daemon.inc.c - an in-process stand-in for fastpathd, for testing
 * libbypass without DPDK.  #included by the test (and by scratch harnesses)
 * so each test binary is self-contained.
 *
 * It speaks the real attach protocol (ctl_wire framing, memfd region laid
 * out per shm_abi.h, real eventfds) and answers control requests the way
 * the slowpath does.  Tests then move counters and post events by hand
 * (fk_rx(), fk_reset(), ...), or enable loopback mode, where a pump thread
 * plays the fastpath and connects flows of attached apps to each other.
 *
 * One big lock serialises everything the fake does; it is test code.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "bypass/bypass.h"
#include "bypass/shm_abi.h"
#include "bypass/region_layout.h"
#include "ctl_wire.h"

#define FK_MAX_APPS 16

enum fk_connect_mode { FK_CONNECT_ESTABLISH, FK_CONNECT_PENDING, FK_CONNECT_REFUSE };

struct fk_cfg {
	uint32_t region_abi;      /* abi_version written into the region header */
	uint32_t reply_abi;       /* if set, abi_version in the attach reply */
	int refuse_status;        /* attach reply status (positive errno) */
	const char *refuse_msg;
	uint32_t max_flows, rx_size, tx_size, queue_entries;
	bool no_reply;            /* swallow LISTEN/CONNECT */
	int listen_status;        /* negative errno to fail LISTEN with */
	enum fk_connect_mode connect_mode;
	bool clear_sleeping_on_kick;
	bool loopback;            /* pump bytes between connected flows */
	bool reset_all_on_exit;   /* like fastpathd: app EOF resets even closed flows */
	bool corrupt_region;      /* hand out a data queue with a bogus entry size */
	uint32_t local_ip;        /* network order */
};

/* daemon-private state of one slot */
struct fk_flow {
	bool used;
	int peer_app, peer_slot;  /* loopback partner, -1 if none */
	bool shut, closing, fin_sent;
	bool linger_reset;        /* BP_CTRL_LINGER_RESET: a close resets, as an abort */
	uint32_t backlog;
	uint64_t tx_acked, rx_written;
};

struct fk_app {
	bool in_use;
	int conn;
	uint8_t *base;
	size_t size;
	struct bp_region_hdr *hdr;
	struct bp_flow_shm *flows;
	uint32_t max_flows, rx_size, tx_size;
	int wake_fd, sp_db_fd, sp_db_app; /* the doorbell: ours, the app's end */
	struct bp_queue_view ctrlq, dataq, sp_evq, fp_evq;
	struct fk_flow *fl;
};

struct fk_daemon {
	struct fk_cfg cfg;
	char dir[64];
	char path[108];
	int lsock, stop_fd, fp_kick_fd, fp_kick_app; /* a core's kick socket: ours,
						     * the apps' end */
	pthread_t sp_thr, fp_thr;
	pthread_mutex_t lock;
	struct fk_app apps[FK_MAX_APPS];
	/* what the app asked for, for assertions */
	unsigned n_req[8];
	struct bp_ctrl_req last_req;
	struct bp_ctrl_req last_listen; /* the last LISTEN (a CLOSE may follow it) */
	unsigned n_attach, n_sp_doorbells;
	bool app_gone;
};

static void fk_kick_fd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, 8) < 0)
		perror("fake: kick write");
}

/* ------------------------------------------------------------ region */

static int fk_make_region(struct fk_daemon *d, struct fk_app *a)
{
	const struct fk_cfg *c = &d->cfg;
	uint32_t qe = c->queue_entries;
	struct bp_region_layout l;
	int fd;

	/* the daemon's own layout (include/bypass/region_layout.h) */
	bp_region_layout(&l, 1, c->max_flows, qe, c->rx_size, c->tx_size, 0); /* one fastpath core */
	fd = memfd_create("fake-bypass-region", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)l.size))
		return -1;
	a->base = mmap(NULL, l.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a->base == MAP_FAILED)
		return -1;
	a->size = l.size;
	bp_region_init(a->base, &l, c->max_flows, qe, c->rx_size, c->tx_size);
	a->hdr = (struct bp_region_hdr *)a->base;
	a->hdr->abi_version = c->region_abi;
	a->hdr->local_ip = c->local_ip;
	if (c->corrupt_region)
		((struct bp_queue *)(a->base + l.q_off[bp_rq_data(0)]))->elem_size = 8;
	a->flows = (struct bp_flow_shm *)(a->base + l.flows_off);
	a->max_flows = c->max_flows;
	a->rx_size = c->rx_size;
	a->tx_size = c->tx_size;
	bp_region_daemon_view(&a->ctrlq, a->base, &l, BP_RQ_CTRL, qe);
	bp_region_daemon_view(&a->dataq, a->base, &l, bp_rq_data(0), qe);
	bp_region_daemon_view(&a->sp_evq, a->base, &l, BP_RQ_SP_EV, qe);
	bp_region_daemon_view(&a->fp_evq, a->base, &l, bp_rq_fp_ev(0), qe);
	a->fl = calloc(c->max_flows, sizeof(*a->fl));
	return fd;
}

static void fk_free_app(struct fk_app *a)
{
	if (a->base)
		munmap(a->base, a->size);
	if (a->conn >= 0)
		close(a->conn);
	close(a->wake_fd);
	close(a->sp_db_fd);
	if (a->sp_db_app >= 0)
		close(a->sp_db_app);
	free(a->fl);
	memset(a, 0, sizeof(*a));
}

/* --------------------------------------------------------- events */

/* Push an event and wake the app the way fastpathd must. */
static void fk_post(struct fk_daemon *d, struct fk_app *a, bool sp, uint16_t type,
		    uint32_t slot, int status, uint32_t req_id, uint32_t aux)
{
	struct bp_event ev = {
		.type = type, .status = (int16_t)status, .slot = slot,
		.gen = a->flows[slot].gen, .req_id = req_id, .aux = aux,
	};

	if (bp_queue_push(sp ? &a->sp_evq : &a->fp_evq, &ev))
		__atomic_store_n(&a->hdr->evq_overflow, 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&a->hdr->app_sleeping, __ATOMIC_RELAXED)) {
		if (d->cfg.clear_sleeping_on_kick)
			__atomic_store_n(&a->hdr->app_sleeping, 0, __ATOMIC_RELAXED);
		fk_kick_fd(a->wake_fd);
	}
}

static int fk_alloc_slot(struct fk_app *a, uint32_t state)
{
	for (uint32_t i = 0; i < a->max_flows; i++) {
		struct bp_flow_shm *f = &a->flows[i];
		uint32_t gen = f->gen + 1;

		if (a->fl[i].used)
			continue;
		memset(f, 0, sizeof(*f));
		f->gen = gen;
		memset(&a->fl[i], 0, sizeof(a->fl[i]));
		a->fl[i].used = true;
		a->fl[i].peer_app = a->fl[i].peer_slot = -1;
		__atomic_store_n(&f->state, state, __ATOMIC_RELEASE);
		return (int)i;
	}
	return -1;
}

static void fk_free_slot(struct fk_daemon *d, struct fk_app *a, uint32_t s)
{
	a->fl[s].used = false;
	__atomic_store_n(&a->flows[s].state, BP_FS_FREE, __ATOMIC_RELEASE);
	fk_post(d, a, true, BP_EV_FREED, s, 0, 0, 0);
}

static void fk_set_reset(struct fk_daemon *d, struct fk_app *a, uint32_t s, uint32_t err)
{
	struct bp_flow_shm *f = &a->flows[s];

	f->err = err;
	__atomic_or_fetch(&f->flags, BP_FF_RESET, __ATOMIC_RELEASE);
	__atomic_store_n(&f->state, BP_FS_CLOSED, __ATOMIC_RELEASE);
	a->fl[s].peer_app = a->fl[s].peer_slot = -1;
	fk_post(d, a, false, BP_EV_CLOSED, s, -(int)err, 0, 0);
}

/* ------------------------------------------------- control requests */

static struct fk_app *fk_find_listener(struct fk_daemon *d, uint16_t port, uint32_t *slot)
{
	for (int i = 0; i < FK_MAX_APPS; i++) {
		struct fk_app *a = &d->apps[i];

		for (uint32_t s = 0; a->in_use && s < a->max_flows; s++) {
			if (a->fl[s].used && a->flows[s].state == BP_FS_LISTEN &&
			    a->flows[s].local_port == port) {
				*slot = s;
				return a;
			}
		}
	}
	return NULL;
}

/* Loopback: complete an active open against a listener of any app. */
static void fk_loop_connect(struct fk_daemon *d, struct fk_app *a, uint32_t s, uint16_t port)
{
	struct bp_flow_shm *f = &a->flows[s], *cf, *lf;
	struct fk_app *la;
	uint32_t ls;
	int cs;

	la = fk_find_listener(d, port, &ls);
	lf = la ? &la->flows[ls] : NULL;
	if (!la || lf->listen_pending - lf->accepted >= la->fl[ls].backlog ||
	    (cs = fk_alloc_slot(la, BP_FS_CONNECTING)) < 0) {
		f->err = ECONNREFUSED;
		__atomic_store_n(&f->state, BP_FS_CLOSED, __ATOMIC_RELEASE);
		fk_post(d, a, true, BP_EV_CONNECTED, s, -ECONNREFUSED, 0, 0);
		return;
	}
	cf = &la->flows[cs];
	cf->local_ip = f->remote_ip = d->cfg.local_ip;
	cf->remote_ip = f->local_ip = d->cfg.local_ip;
	cf->local_port = port;
	cf->remote_port = f->local_port;
	la->fl[cs].peer_app = (int)(a - d->apps);
	la->fl[cs].peer_slot = (int)s;
	a->fl[s].peer_app = (int)(la - d->apps);
	a->fl[s].peer_slot = cs;
	__atomic_store_n(&cf->state, BP_FS_ESTABLISHED, __ATOMIC_RELEASE);
	__atomic_store_n(&f->state, BP_FS_ESTABLISHED, __ATOMIC_RELEASE);
	__atomic_add_fetch(&lf->listen_pending, 1, __ATOMIC_RELEASE);
	fk_post(d, la, true, BP_EV_ACCEPT, (uint32_t)cs, 0, 0, ls);
	fk_post(d, a, true, BP_EV_CONNECTED, s, 0, 0, 0);
}

static void fk_ctrl(struct fk_daemon *d, struct fk_app *a, const struct bp_ctrl_req *r)
{
	struct bp_flow_shm *f;
	int s;

	if (r->op < 8)
		d->n_req[r->op]++;
	d->last_req = *r;
	if (r->op == BP_CTRL_LISTEN)
		d->last_listen = *r;
	switch (r->op) {
	case BP_CTRL_LISTEN:
	case BP_CTRL_CONNECT:
		if (d->cfg.no_reply)
			return;
		if (r->op == BP_CTRL_LISTEN && d->cfg.listen_status) {
			fk_post(d, a, true, BP_EV_REPLY, 0, d->cfg.listen_status, r->req_id, 0);
			return;
		}
		s = fk_alloc_slot(a, r->op == BP_CTRL_LISTEN ? BP_FS_LISTEN : BP_FS_CONNECTING);
		if (s < 0) {
			fk_post(d, a, true, BP_EV_REPLY, 0, -ENOBUFS, r->req_id, 0);
			return;
		}
		f = &a->flows[s];
		if (r->op == BP_CTRL_LISTEN) {
			f->local_port = r->port ? r->port : (uint16_t)(30000 + s);
			f->local_ip = r->ip ? r->ip : d->cfg.local_ip;
			a->fl[s].backlog = r->backlog;
			fk_post(d, a, true, BP_EV_REPLY, (uint32_t)s, 0, r->req_id, 0);
			return;
		}
		f->local_ip = d->cfg.local_ip;
		f->local_port = (uint16_t)(40000 + s + 100 * (a - d->apps));
		f->remote_ip = r->ip;
		f->remote_port = r->port;
		fk_post(d, a, true, BP_EV_REPLY, (uint32_t)s, 0, r->req_id, 0);
		if (d->cfg.loopback) {
			fk_loop_connect(d, a, (uint32_t)s, r->port);
		} else if (d->cfg.connect_mode == FK_CONNECT_ESTABLISH) {
			__atomic_store_n(&f->state, BP_FS_ESTABLISHED, __ATOMIC_RELEASE);
			fk_post(d, a, true, BP_EV_CONNECTED, (uint32_t)s, 0, 0, 0);
		} else if (d->cfg.connect_mode == FK_CONNECT_REFUSE) {
			f->err = ECONNREFUSED;
			__atomic_store_n(&f->state, BP_FS_CLOSED, __ATOMIC_RELEASE);
			fk_post(d, a, true, BP_EV_CONNECTED, (uint32_t)s, -ECONNREFUSED, 0, 0);
		}
		return;
	}
	/* SHUTDOWN / CLOSE / ABORT: stale or bogus requests are ignored */
	if (r->slot >= a->max_flows || !a->fl[r->slot].used || a->flows[r->slot].gen != r->gen)
		return;
	s = (int)r->slot;
	f = &a->flows[s];
	if (r->op == BP_CTRL_LINGER_RESET) {
		a->fl[s].linger_reset = r->flags != 0;
		return;
	}
	/* a close of a flow set so resets, as the slowpath's sp_conn_close_owned() */
	uint16_t op = r->op == BP_CTRL_CLOSE && a->fl[s].linger_reset ? BP_CTRL_ABORT : r->op;
	if (op == BP_CTRL_ABORT || f->state == BP_FS_LISTEN ||
	    (op == BP_CTRL_CLOSE && !d->cfg.loopback)) {
		struct fk_flow *p = &a->fl[s];

		if (op == BP_CTRL_ABORT && p->peer_app >= 0)
			fk_set_reset(d, &d->apps[p->peer_app], (uint32_t)p->peer_slot, ECONNRESET);
		fk_free_slot(d, a, (uint32_t)s);
	} else if (r->op == BP_CTRL_SHUTDOWN || r->op == BP_CTRL_CLOSE) {
		a->fl[s].shut = true;
		a->fl[s].closing |= r->op == BP_CTRL_CLOSE;
		fk_kick_fd(d->fp_kick_app); /* the pump sends the FIN */
	}
}

/* ------------------------------------------------------------ attach */

static void fk_send_status(int conn)
{
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	Bypass__StatusReply sr = BYPASS__STATUS_REPLY__INIT;
	Bypass__Counter c1 = BYPASS__COUNTER__INIT, c2 = BYPASS__COUNTER__INIT;
	Bypass__Counter *cs[2] = { &c1, &c2 };

	sr.version = "fake-0.1";
	sr.port = "fake0";
	sr.local_ip = "10.0.0.1";
	sr.has_apps = sr.has_flows = 1;
	sr.apps = 1;
	sr.flows = 2;
	c1.name = "rx_pkts";
	c1.value = 42;
	c2.name = "tx_pkts";
	c2.value = 7;
	sr.n_counters = 2;
	sr.counters = cs;
	m.msg_case = BYPASS__CTL_MSG__MSG_STATUS_REPLY;
	m.status_reply = &sr;
	ctl_send(conn, &m, NULL, 0);
}

static void fk_handle_new_conn(struct fk_daemon *d, int conn)
{
	Bypass__CtlMsg *req = NULL, m = BYPASS__CTL_MSG__INIT;
	Bypass__AttachReply rep = BYPASS__ATTACH_REPLY__INIT;
	struct fk_app *a = NULL;
	int fds[4], memfd = -1;

	if (ctl_recv(conn, &req, NULL, NULL, 0))
		goto drop;
	if (req->msg_case == BYPASS__CTL_MSG__MSG_STATUS_REQ) {
		fk_send_status(conn);
		goto drop;
	}
	if (req->msg_case != BYPASS__CTL_MSG__MSG_ATTACH_REQ)
		goto drop;
	d->n_attach++;
	m.msg_case = BYPASS__CTL_MSG__MSG_ATTACH_REPLY;
	m.attach_reply = &rep;
	if (d->cfg.reply_abi) {
		rep.has_abi_version = 1;
		rep.abi_version = d->cfg.reply_abi;
	}
	for (int i = 0; i < FK_MAX_APPS && !a; i++)
		if (!d->apps[i].in_use)
			a = &d->apps[i];
	if (d->cfg.refuse_status || !a) {
		rep.status = d->cfg.refuse_status ? d->cfg.refuse_status : EUSERS;
		rep.error = (char *)(d->cfg.refuse_msg ? d->cfg.refuse_msg : "too many apps");
		ctl_send(conn, &m, NULL, 0);
		goto drop;
	}
	memset(a, 0, sizeof(*a));
	a->conn = -1;
	a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* as fastpathd (slowpath/wake.c): apps wake us through sockets */
	int db[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, db))
		abort();
	a->sp_db_fd = db[0];
	a->sp_db_app = db[1];
	memfd = fk_make_region(d, a);
	if (memfd < 0) {
		fk_free_app(a);
		goto drop;
	}
	a->in_use = true;
	a->conn = conn;
	rep.has_app_id = rep.has_region_size = 1;
	rep.app_id = (uint32_t)(a - d->apps);
	rep.region_size = a->size;
	fds[0] = memfd;
	fds[1] = a->wake_fd;
	fds[2] = a->sp_db_app;
	fds[3] = d->fp_kick_app;
	ctl_send(conn, &m, fds, 4);
	close(memfd);
	close(a->sp_db_app);
	a->sp_db_app = -1;
	bypass__ctl_msg__free_unpacked(req, NULL);
	return;
drop:
	if (req)
		bypass__ctl_msg__free_unpacked(req, NULL);
	close(conn);
}

/* The app died: reset what it left open, let closing flows finish. */
static void fk_app_gone(struct fk_daemon *d, struct fk_app *a)
{
	bool busy = false;

	close(a->conn);
	a->conn = -1;
	d->app_gone = true;
	for (uint32_t s = 0; s < a->max_flows; s++) {
		struct fk_flow *p = &a->fl[s];

		if (!p->used)
			continue;
		if (p->closing && p->peer_app >= 0 && !d->cfg.reset_all_on_exit) {
			busy = true;
			continue;
		}
		if (p->peer_app >= 0)
			fk_set_reset(d, &d->apps[p->peer_app], (uint32_t)p->peer_slot, ECONNRESET);
		p->used = false;
	}
	if (!busy && !d->cfg.loopback)
		return; /* unit tests still inspect the region */
	if (!busy)
		fk_free_app(a);
}

static void *fk_sp_main(void *arg)
{
	struct fk_daemon *d = arg;

	for (;;) {
		struct pollfd p[2 + 2 * FK_MAX_APPS];
		int map[2 + 2 * FK_MAX_APPS], n = 0;

		p[n++] = (struct pollfd){ .fd = d->stop_fd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = d->lsock, .events = POLLIN };
		pthread_mutex_lock(&d->lock);
		for (int i = 0; i < FK_MAX_APPS; i++) {
			if (!d->apps[i].in_use || d->apps[i].conn < 0)
				continue;
			map[n] = i;
			p[n++] = (struct pollfd){ .fd = d->apps[i].conn, .events = POLLIN };
			map[n] = i;
			p[n++] = (struct pollfd){ .fd = d->apps[i].sp_db_fd, .events = POLLIN };
		}
		pthread_mutex_unlock(&d->lock);
		if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		pthread_mutex_lock(&d->lock);
		if (p[1].revents) {
			int c = accept4(d->lsock, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0)
				fk_handle_new_conn(d, c);
		}
		for (int i = 2; i < n; i++) {
			struct fk_app *a = &d->apps[map[i]];
			struct bp_ctrl_req r;
			uint64_t v;

			if (!p[i].revents || !a->in_use || a->conn < 0)
				continue;
			if (p[i].fd == a->conn) {
				Bypass__CtlMsg *m = NULL;
				int fds[CTL_MAX_FDS], nfds = 0;

				/* a shared LISTEN comes on the socket, with a
				 * descriptor (slowpath/listen_owner.c) */
				if (ctl_recv(a->conn, &m, fds, &nfds, CTL_MAX_FDS)) {
					fk_app_gone(d, a);
					continue;
				}
				for (int f = 0; f < nfds; f++)
					close(fds[f]);
				if (m->msg_case == BYPASS__CTL_MSG__MSG_LISTEN_SHARED &&
				    m->listen_shared->req.len == sizeof(r)) {
					while (!bp_queue_pop(&a->ctrlq, &r)) /* in order */
						fk_ctrl(d, a, &r);
					memcpy(&r, m->listen_shared->req.data, sizeof(r));
					fk_ctrl(d, a, &r);
				}
				bypass__ctl_msg__free_unpacked(m, NULL);
				continue;
			}
			if (read(a->sp_db_fd, &v, 8) == 8)
				d->n_sp_doorbells++;
			while (!bp_queue_pop(&a->ctrlq, &r))
				fk_ctrl(d, a, &r);
		}
		pthread_mutex_unlock(&d->lock);
	}
	return NULL;
}

#include "fake_pump.inc.c"

/* ------------------------------------------------------------ public */

static void fk_default_cfg(struct fk_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->region_abi = BP_ABI_VERSION;
	c->max_flows = 16;
	c->rx_size = 4096;
	c->tx_size = 4096;
	c->queue_entries = 64;
	c->local_ip = htonl(0x0a000001);
}

static struct fk_daemon *fk_start(const struct fk_cfg *cfg)
{
	struct fk_daemon *d = calloc(1, sizeof(*d));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	d->cfg = *cfg;
	strcpy(d->dir, "/tmp/fkbpXXXXXX");
	if (!mkdtemp(d->dir))
		abort();
	snprintf(d->path, sizeof(d->path), "%s/fastpathd.sock", d->dir);
	strcpy(sa.sun_path, d->path);
	d->lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->lsock < 0 || bind(d->lsock, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(d->lsock, 16))
		abort();
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	int kick[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, kick))
		abort();
	d->fp_kick_fd = kick[0];
	d->fp_kick_app = kick[1];
	pthread_mutex_init(&d->lock, NULL);
	pthread_create(&d->sp_thr, NULL, fk_sp_main, d);
	if (d->cfg.loopback)
		pthread_create(&d->fp_thr, NULL, fk_pump_main, d);
	return d;
}

static void fk_stop(struct fk_daemon *d)
{
	fk_kick_fd(d->stop_fd);
	pthread_join(d->sp_thr, NULL);
	if (d->cfg.loopback)
		pthread_join(d->fp_thr, NULL);
	for (int i = 0; i < FK_MAX_APPS; i++)
		if (d->apps[i].in_use || d->apps[i].base)
			fk_free_app(&d->apps[i]);
	close(d->lsock);
	close(d->stop_fd);
	close(d->fp_kick_fd);
	close(d->fp_kick_app);
	unlink(d->path);
	rmdir(d->dir);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
