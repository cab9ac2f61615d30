// SPDX-License-Identifier: MIT
/*
 * capture.c - bypassctl capture, the slowpath's half: authorize and start
 * a capture, drain the fastpath cores' capture rings into a bounded
 * buffer of whole pcapng blocks, and write that into the pipe bypassctl
 * passed, never blocking (fastpathd/NOTES.md, "Capture").
 *
 * A capture ends when COUNT packets are written, when bypassctl asks
 * (CaptureStop, on SIGINT), when the pipe's reader or the control
 * connection goes away, when its tenant is removed (the id may be reused)
 * or the pipe cannot be written without blocking.  Ending stops the cores
 * first, waits until none can still be using the slot
 * (sp_fp_capture_quiet()), writes what is left for at most CAP_END_S,
 * then closes the pipe, sends the counts and lets the connection go
 * (sp_ctl_release()): it was held outside the control socket's caps.
 * Fastpath state is reached only through sp_fp.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <pcap/bpf.h>
#include <rte_mbuf.h>
#include <rte_malloc.h>
#include <rte_cycles.h>

#include "sp_internal.h"
#include "ctl_sock.h"
#include "capture_pcapng.h"
#include "log_esc.h"

#define CAP_BUF (1u << 20)        /* pcapng bytes waiting for the reader */
#define CAP_TICK_S 0.002          /* rings hold DP_CAPTURE_RING copies per core */
#define CAP_END_S 2.0             /* ending: what is left may wait this long */
#define CAP_SNAP_DEFAULT 262144u  /* tcpdump's */
#define CAP_PER_UID 2             /* captures a non-admin uid may run at once */
#define CAP_NONADMIN (DP_CAPTURE_MAX - 1) /* one slot stays an admin's */
#define CAP_DRAIN 256

enum cap_state { CAP_FREE = 0, CAP_RUNNING, CAP_ENDING };

struct sp_capture {
	struct sp *sp;
	uint32_t slot;
	enum cap_state state;
	struct ctl_conn *cc;      /* NULL once the connection is gone */
	uint32_t uid;
	bool admin;               /* sp_ctl_admin() at the start */
	int32_t tid;              /* DP_CAPTURE_ALL_TENANTS or the one captured */
	int fd;                   /* the pipe's write end, non-blocking */
	bool broken;              /* the reader went away (or the pipe is unusable) */
	int status;               /* 0, or -errno: ended for @why, not by the client */
	char why[160];
	ev_timer tick_w;
	ev_tstamp end_by;
	uint8_t *buf;
	uint32_t off, len;        /* buf[off, len) waits for the reader */
	uint64_t count, packets, reader_drops;
	struct dp_bpf_insn *prog;
	struct cap_clock clock;   /* the blocks' tsc -> wall-clock time */
	char tenant[BP_TENANT_NAME];
};

struct sp_captures {
	struct sp_capture cap[DP_CAPTURE_MAX];
};

static struct sp_captures *caps_of(struct sp *sp)
{
	if (!sp->captures)
		sp->captures = calloc(1, sizeof(struct sp_captures));
	return sp->captures;
}

/* ---------------------------------------------------- the pipe */

/* the capture ends for a reason of the daemon's: the client is told why */
static void __attribute__((format(printf, 3, 4)))
cap_why(struct sp_capture *c, int status, const char *fmt, ...)
{
	va_list ap;

	if (c->status)
		return; /* the first reason stands */
	c->status = status;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

/*
 * write what the pipe takes now; a reader gone marks the capture broken.
 * Never a write that could block: the client shares the description and
 * may clear O_NONBLOCK, so a kernel that cannot do RWF_NOWAIT on a pipe
 * ends the capture rather than risk the slowpath (cap_pipe_write()).
 */
static void cap_flush(struct sp_capture *c)
{
	while (!c->broken && c->off < c->len) {
		ssize_t r = cap_pipe_write(c->fd, c->buf + c->off, c->len - c->off);
		if (r == -EOPNOTSUPP)
			cap_why(c, -EOPNOTSUPP, "this kernel cannot write to a pipe without "
				"blocking (pwritev2 RWF_NOWAIT), which capture needs");
		if (r < 0)
			c->broken = true;
		if (r <= 0)
			break;
		c->off += (uint32_t)r;
	}
	if (c->off == c->len)
		c->off = c->len = 0;
	if (!c->broken) { /* no data to write, but is anyone still reading? */
		struct pollfd p = { .fd = c->fd, .events = 0 };
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
			c->broken = true;
	}
}

/* room for @n more bytes, compacting if that makes it */
static uint8_t *cap_room(struct sp_capture *c, uint32_t n)
{
	if (c->len + n > CAP_BUF && c->off) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	return c->len + n <= CAP_BUF ? c->buf + c->len : NULL;
}

/* append the pcapng block in @m whole, or drop it (counted) */
static void cap_append(struct sp_capture *c, struct rte_mbuf *m)
{
	uint32_t n = rte_pktmbuf_pkt_len(m);
	uint8_t *dst;
	if (c->count && c->packets >= c->count)
		return;
	if (!(dst = cap_room(c, n))) {
		c->reader_drops++;
		return;
	}
	const void *p = rte_pktmbuf_read(m, 0, n, dst);
	if (p && p != dst)
		memcpy(dst, p, n);
	if (!p || cap_pcapng_epb_fix(dst, n, &c->clock)) {
		c->reader_drops++;
		return;
	}
	c->len += n;
	c->packets++;
}

static void cap_drain(struct sp_capture *c, bool keep)
{
	struct rte_mbuf *m[CAP_DRAIN];
	unsigned int n;
	for (int rounds = 0; rounds < 64; rounds++) {
		n = sp_fp_capture_drain(c->sp, c->slot, m, CAP_DRAIN);
		for (unsigned int i = 0; i < n; i++) {
			if (keep)
				cap_append(c, m[i]);
			rte_pktmbuf_free(m[i]);
		}
		if (keep)
			cap_flush(c);
		if (n < CAP_DRAIN)
			break;
	}
}

/* ---------------------------------------------------- ending */

static void cap_reply(struct ctl_conn *cc, int status, const char *error,
		      const struct sp_capture *c, uint64_t matched, uint64_t dropped)
{
	Bypass__CaptureReply rep = BYPASS__CAPTURE_REPLY__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	rep.status = status;
	rep.error = error && *error ? (char *)error : NULL;
	if (c) {
		rep.has_done = 1;
		rep.done = c->state == CAP_ENDING;
		rep.has_packets = rep.has_matched = rep.has_ring_drops = rep.has_reader_drops = 1;
		rep.packets = c->packets;
		rep.matched = matched;
		rep.ring_drops = dropped;
		rep.reader_drops = c->reader_drops;
		rep.tenant = (char *)c->tenant;
	}
	m.msg_case = BYPASS__CTL_MSG__MSG_CAPTURE_REPLY;
	m.capture_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
}

static void cap_end(struct sp_capture *c)
{
	if (c->state != CAP_RUNNING)
		return;
	sp_fp_capture_stop(c->sp, c->slot);
	c->state = CAP_ENDING;
	c->end_by = ev_now(c->sp->loop) + CAP_END_S;
}

/*
 * the final counts to the client, then its connection goes: it was held
 * outside the caps (sp_ctl_hold()) and nothing else would ever close it
 */
static void cap_done(struct sp_capture *c, uint64_t matched, uint64_t dropped)
{
	struct ctl_conn *cc = c->cc;
	if (!cc)
		return;
	cap_reply(cc, c->status, c->why, c, matched, dropped);
	cc->capture = NULL;
	c->cc = NULL;
	sp_ctl_release(cc);
}

/* the slot is quiet and written out (or out of time): give it back */
static void cap_free(struct sp_capture *c)
{
	struct sp *sp = c->sp;
	uint64_t matched, dropped;
	cap_drain(c, false); /* anything late: discarded */
	sp_fp_capture_counts(sp, c->slot, &matched, &dropped);
	close(c->fd);
	cap_done(c, matched, dropped);
	fprintf(stderr, "fastpathd: capture %u (uid %u) ended%s%s: %llu packets written, "
		"%llu matched, %llu lost in the rings, %llu to a slow reader\n", c->slot, c->uid,
		*c->why ? ": " : "", c->why, (unsigned long long)c->packets,
		(unsigned long long)matched, (unsigned long long)dropped,
		(unsigned long long)c->reader_drops);
	ev_timer_stop(sp->loop, &c->tick_w);
	free(c->buf);
	rte_free(c->prog); /* no core uses it: the slot is quiet */
	memset(c, 0, sizeof(*c));
}

static void on_cap_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sp_capture *c = w->data;
	if (c->state == CAP_RUNNING) {
		cap_drain(c, true);
		cap_flush(c);
		if (c->broken || (c->count && c->packets >= c->count))
			cap_end(c);
		return;
	}
	/* ending: first no core may touch the slot, then what is left goes */
	if (!sp_fp_capture_quiet(c->sp, c->slot)) {
		if (ev_now(loop) < c->end_by + CAP_END_S)
			return;
		/* a core that never finishes its round is wedged: keep the
		 * slot (never reused) rather than free what it may read */
		fprintf(stderr, "fastpathd: capture %u: a fastpath core did not finish its "
			"round in %.0f s; the slot stays reserved\n", c->slot, 2 * CAP_END_S);
		ev_timer_stop(loop, &c->tick_w);
		/* the client and its pipe need not wait with the slot */
		cap_why(c, -ETIMEDOUT, "a fastpath core stopped making progress; the "
			"capture ended without its last packets");
		close(c->fd);
		c->fd = -1;
		uint64_t matched, dropped;
		sp_fp_capture_counts(c->sp, c->slot, &matched, &dropped);
		cap_done(c, matched, dropped);
		return;
	}
	cap_drain(c, !c->broken);
	cap_flush(c);
	if (c->broken || c->off == c->len || ev_now(loop) >= c->end_by)
		cap_free(c);
}

/**
 * sp_capture_conn_gone - @cc (a capture's client) closed: end its capture
 * without waiting for a reader that is gone with it.
 */
void sp_capture_conn_gone(struct ctl_conn *cc)
{
	struct sp_capture *c = cc->capture;
	if (!c)
		return;
	c->cc = NULL;
	cc->capture = NULL;
	cap_end(c);
}

/** sp_ctl_capture_stop - bypassctl was interrupted: end the capture, keep what was taken. */
void sp_ctl_capture_stop(struct sp *sp, struct ctl_conn *cc)
{
	if (cc->capture)
		cap_end(cc->capture);
}

/**
 * sp_capture_tenants_changed - the tenants were reloaded or changed: end,
 * with what they took so far, the captures of a tenant no longer
 * configured (its id may go to a later tenant, whose frames the capture
 * would record) and those of a user that is not an admin whose uid no
 * longer belongs to the tenant it captures.  Call it once the new
 * tenants are in, before an id can be given out again; it only stops the
 * cores and marks the captures, so it is safe within any control request.
 */
void sp_capture_tenants_changed(struct sp *sp)
{
	struct sp_captures *cs = sp->captures;
	if (!cs)
		return;
	for (uint32_t i = 0; i < DP_CAPTURE_MAX; i++) {
		struct sp_capture *c = &cs->cap[i];
		if (c->state != CAP_RUNNING || c->tid == DP_CAPTURE_ALL_TENANTS)
			continue;
		if (!sp_tenant_get(sp, (uint16_t)c->tid)->in_use) {
			cap_why(c, -ENOENT, "tenant removed: '%s' is no longer configured",
				c->tenant);
		} else if (!c->admin && c->cc && sp_tenant_lookup(sp, &c->cc->ident) != c->tid) {
			cap_why(c, -EACCES, "uid %u no longer belongs to tenant '%s'", c->uid,
				c->tenant);
		} else {
			continue;
		}
		cap_end(c);
	}
}

/* ---------------------------------------------------- starting */

static int find_tenant(struct sp *sp, const char *name)
{
	uint32_t n = sp_tenant_count(sp);
	for (uint32_t i = 0; i < n; i++) {
		const struct sp_tenant *t = sp_tenant_get(sp, (uint16_t)i);
		if (t->in_use && !strcmp(t->cfg.name, name))
			return (int)i;
	}
	return -ENOENT;
}

/*
 * Which tenant's traffic may @cc capture, given what it asked for?
 * Return: a tenant id, DP_CAPTURE_ALL_TENANTS, or -errno with @err set.
 */
static int cap_authorize(struct sp *sp, struct ctl_conn *cc, const char *want, char *err,
			 size_t errlen)
{
	bool admin = sp_ctl_admin(cc);
	int tid = want && *want ? find_tenant(sp, want) : DP_CAPTURE_ALL_TENANTS;
	char esc[64];
	log_esc(esc, sizeof(esc), want ? want : "");
	if (admin && want && *want && tid < 0) {
		snprintf(err, errlen, "there is no tenant '%s' (bypassctl status lists them)", esc);
		return -ENOENT;
	}
	if (admin)
		return tid;
	/* a lookup: a refused capture is no refused attach (sp_tenant_identify()) */
	int own = sp_tenant_lookup(sp, &cc->ident);
	if (own < 0) {
		snprintf(err, errlen, "uid %u is in no tenant; only root, fastpathd's own user or "
			 "a member of admin_group may capture", cc->uid);
		return -EACCES;
	}
	if (tid == DP_CAPTURE_ALL_TENANTS)
		return own;
	if (tid != own) { /* a missing tenant too: no other tenant's name can be learnt */
		snprintf(err, errlen, "uid %u may capture only its own tenant '%s', not '%s'; "
			 "other tenants need root, fastpathd's own user or a member of "
			 "admin_group", cc->uid, sp_tenant_get(sp, (uint16_t)own)->cfg.name, esc);
		return -EACCES;
	}
	return tid;
}

/* the program as sent: 8 bytes per instruction, little-endian; validated */
static int cap_program(const ProtobufCBinaryData *b, struct dp_bpf_insn **out, uint32_t *n,
		       char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	if (!b->len)
		return 0;
	if (b->len % 8 || b->len / 8 > CAP_BPF_MAXINSNS) {
		snprintf(err, errlen, "the filter program is not whole instructions or longer "
			 "than %u; compile it with libpcap (bypassctl does)", CAP_BPF_MAXINSNS);
		return -EINVAL;
	}
	uint32_t cnt = (uint32_t)(b->len / 8);
	struct dp_bpf_insn *p = rte_malloc("capture_prog", cnt * sizeof(*p), 0);
	if (!p) {
		snprintf(err, errlen, "out of memory for the filter");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		const uint8_t *s = b->data + 8 * i;
		p[i].code = (uint16_t)(s[0] | s[1] << 8);
		p[i].jt = s[2];
		p[i].jf = s[3];
		p[i].k = (uint32_t)s[4] | (uint32_t)s[5] << 8 | (uint32_t)s[6] << 16 |
			 (uint32_t)s[7] << 24;
	}
	/* never run what a client sent without the kernel's own rules.
	 * Termination is ours to prove (cap_bpf_check(): forward jumps in
	 * range, a return last): bpf_validate() lets a wrapping jump through;
	 * it still checks opcodes, scratch indices and constant divisors */
	const struct bpf_insn *bp = (const struct bpf_insn *)p;
	int rc = cap_bpf_check(bp, cnt, err, errlen);
	if (!rc && !bpf_validate(bp, (int)cnt)) {
		snprintf(err, errlen, "the filter program does not validate (bpf_validate: an "
			 "unknown opcode, scratch index or a division by zero)");
		rc = -EINVAL;
	}
	if (rc) {
		rte_free(p);
		return rc;
	}
	*out = p;
	*n = cnt;
	return 0;
}

/*
 * the pipe bypassctl passed: a FIFO open for writing, made non-blocking.
 * The client shares that open file description and could clear
 * O_NONBLOCK again, stop reading, and block the slowpath's next write, so
 * cap_flush() asks for a non-blocking write on each call (RWF_NOWAIT) and
 * never makes any other (cap_pipe_write()).
 * (The pipe is the client's: a daemon running as its own user may not
 * open a description of its own, as it does for the wake pipes.)
 */
static int cap_pipe(const int *fds, int nfds, char *err, size_t errlen)
{
	struct stat st;
	if (nfds != 1 || fstat(fds[0], &st) || !S_ISFIFO(st.st_mode) ||
	    (fcntl(fds[0], F_GETFL) & O_ACCMODE) != O_WRONLY) {
		snprintf(err, errlen, "a capture request carries one descriptor, the write end "
			 "of a pipe (bypassctl capture does this)");
		return -EINVAL;
	}
	int fd = fcntl(fds[0], F_DUPFD_CLOEXEC, 0);
	if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
		snprintf(err, errlen, "cannot use the pipe: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EMFILE;
	}
	fcntl(fd, F_SETPIPE_SZ, 1 << 20); /* fewer wakeups for the reader; may be refused */
	return fd;
}

/*
 * a free slot for @uid, or NULL with @err set.  Non-admins together hold
 * at most CAP_NONADMIN slots (and CAP_PER_UID each), so tenants cannot
 * take every slot and lock out the admin who would look into it.
 */
static struct sp_capture *cap_slot(struct sp *sp, uint32_t uid, bool admin, int *why,
				   char *err, size_t errlen)
{
	struct sp_captures *cs = caps_of(sp);
	struct sp_capture *free_slot = NULL;
	uint32_t mine = 0, nonadmin = 0, used = 0;
	if (!cs) {
		*why = -ENOMEM;
		snprintf(err, errlen, "out of memory for the capture table");
		return NULL;
	}
	for (uint32_t i = 0; i < DP_CAPTURE_MAX; i++) {
		struct sp_capture *c = &cs->cap[i];
		if (c->state != CAP_FREE) {
			used++;
			mine += c->uid == uid;
			nonadmin += !c->admin;
			continue;
		}
		if (!free_slot && sp_fp_capture_quiet(sp, i))
			free_slot = c, free_slot->slot = i;
	}
	*why = -EBUSY;
	if (!admin && mine >= CAP_PER_UID) {
		*why = -EUSERS;
		snprintf(err, errlen, "uid %u runs %u captures already (the most a user that is "
			 "not an admin may); stop one first", uid, mine);
	} else if (!admin && nonadmin >= CAP_NONADMIN) {
		snprintf(err, errlen, "%u captures of users that are not admins run already; the "
			 "last of the %u slots is kept for root, fastpathd's own user or a "
			 "member of admin_group", nonadmin, DP_CAPTURE_MAX);
	} else if (used >= DP_CAPTURE_MAX) {
		snprintf(err, errlen, "%u captures run already (the most fastpathd runs at "
			 "once); stop one first", used);
	} else if (!free_slot) {
		snprintf(err, errlen, "the capture slots free are still being released by the "
			 "fastpath cores; try again in a second");
	} else {
		*why = 0;
	}
	return *why ? NULL : free_slot;
}

/** sp_ctl_capture - start the capture @req asks for on @cc (bypassctl capture). */
void sp_ctl_capture(struct sp *sp, struct ctl_conn *cc, const Bypass__CaptureRequest *req,
		    const int *fds, int nfds)
{
	char err[256] = "";
	struct dp_bpf_insn *prog = NULL;
	uint32_t nprog = 0;
	int fd = -1, rc;
	struct sp_capture *c = NULL;

	int tid = cap_authorize(sp, cc, req->tenant, err, sizeof(err));
	if ((rc = tid) < -1)
		goto fail;
	bool admin = sp_ctl_admin(cc);
	c = cap_slot(sp, cc->uid, admin, &rc, err, sizeof(err));
	if (!c)
		goto fail;
	/* cheap checks first: the pool is made only for a request that can run */
	if ((fd = rc = cap_pipe(fds, nfds, err, sizeof(err))) < 0)
		goto fail;
	if ((rc = cap_program(&req->program, &prog, &nprog, err, sizeof(err))) ||
	    (rc = sp_fp_capture_setup(sp, err, sizeof(err))))
		goto fail;
	uint8_t *buf = malloc(CAP_BUF);
	if (!buf) {
		snprintf(err, sizeof(err), "out of memory for the capture buffer");
		rc = -ENOMEM;
		goto fail;
	}
	uint32_t slot = c->slot;
	memset(c, 0, sizeof(*c));
	c->sp = sp;
	c->slot = slot;
	c->cc = cc;
	c->uid = cc->uid;
	c->admin = admin;
	c->tid = tid;
	c->fd = fd;
	c->buf = buf;
	c->count = req->has_count ? req->count : 0;
	c->prog = prog;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	c->clock.tsc0 = rte_rdtsc();
	c->clock.ns0 = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	c->clock.hz = rte_get_tsc_hz();
	if (tid >= 0)
		snprintf(c->tenant, sizeof(c->tenant), "%s", sp_tenant_get(sp, (uint16_t)tid)->cfg.name);
	uint32_t snap = req->has_snaplen && req->snaplen ? req->snaplen : CAP_SNAP_DEFAULT;
	char comment[160];
	char esc[96];
	const char *f = req->filter ? req->filter : "";
	snprintf(comment, sizeof(comment), "bypassctl capture %s%s%s",
		 log_esc(esc, sizeof(esc), f), *c->tenant ? " tenant " : "", c->tenant);
	c->len = (uint32_t)cap_pcapng_header(c->buf, sp_fp_capture_port(sp), snap, comment);
	c->state = CAP_RUNNING;
	cc->capture = c;
	sp_ctl_hold(cc);
	sp_fp_capture_start(sp, slot, prog, nprog, snap, tid);
	ev_timer_init(&c->tick_w, on_cap_tick, CAP_TICK_S, CAP_TICK_S);
	c->tick_w.data = c;
	ev_timer_start(sp->loop, &c->tick_w);
	fprintf(stderr, "fastpathd: capture %u started by uid %u pid %d: filter '%s'%s%s, "
		"snaplen %u, count %llu\n", slot, cc->uid, cc->pid, esc,
		*c->tenant ? ", tenant " : ", every tenant", c->tenant, snap,
		(unsigned long long)c->count);
	cap_reply(cc, 0, NULL, c, 0, 0);
	cap_flush(c);
	return;
fail:
	if (fd >= 0)
		close(fd);
	rte_free(prog);
	cap_reply(cc, rc, err, NULL, 0, 0);
	sp_ctl_close_when_sent(cc);
}

/** sp_capture_fini - the daemon stops: end every capture at once. */
void sp_capture_fini(struct sp *sp)
{
	struct sp_captures *cs = sp->captures;
	if (!cs)
		return;
	for (uint32_t i = 0; i < DP_CAPTURE_MAX; i++) {
		struct sp_capture *c = &cs->cap[i];
		if (c->state == CAP_FREE)
			continue;
		ev_timer_stop(sp->loop, &c->tick_w);
		sp_fp_capture_stop(sp, i);
		if (c->fd >= 0)
			close(c->fd);
		free(c->buf);
		/* the program stays: a core may be in its last round */
	}
	free(cs);
	sp->captures = NULL;
}
