// SPDX-License-Identifier: MIT
/*
 * metrics_http.c - the Prometheus endpoint: [metrics] listen, served from
 * the slowpath's libev loop.
 *
 * The slowpath must never wait on a scraper (fastpathd/NOTES.md), so
 * every socket is non-blocking and everything a client can hold is
 * bounded: at most MH_MAX_CONNS connections (a new one evicts the oldest
 * still sending its request, else the one whose reply has not moved for
 * longest if that is MH_STALL_S or more, else it is closed),
 * a request of at most MH_MAX_REQ bytes that must be whole within
 * MH_REQ_TIMEOUT_S of the accept (a slowloris is cut off), and the whole
 * exchange within MH_CONN_TIMEOUT_S (a scraper that does not read its
 * reply is dropped).  One request per connection: GET /metrics, answered
 * with Connection: close.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "sp_internal.h"
#include "metrics_sp.h"

#define MH_MAX_CONNS 16
#define MH_MAX_REQ 4096
#define MH_REQ_TIMEOUT_S 5.0
#define MH_CONN_TIMEOUT_S 15.0
#define MH_STALL_S 1.0
#define MH_ACCEPT_RETRY_S 0.1 /* out of descriptors: accept again this much later */

struct mh_conn {
	struct mh *mh;
	int fd;
	ev_io io_w;
	ev_timer timer_w;
	ev_tstamp accepted;
	ev_tstamp moved;              /* the reply last went out (or the accept) */
	char req[MH_MAX_REQ];
	uint32_t req_len;
	bool replying;
	struct mt_buf out;
	size_t out_off;
	struct mh_conn *prev, *next;
};

struct mh {
	struct sp *sp;
	int fd;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ev_io accept_w;
	ev_timer retry_w;             /* restarts accept_w after a shortage */
	struct mh_conn *conns;
	uint32_t nconns;
	struct sp_metrics_http_stats st;
};

static struct mh *mh_of(struct sp *sp)
{
	return sp->metrics_http;
}

static void conn_free(struct mh_conn *c)
{
	struct mh *mh = c->mh;

	ev_io_stop(mh->sp->loop, &c->io_w);
	ev_timer_stop(mh->sp->loop, &c->timer_w);
	close(c->fd);
	mt_buf_free(&c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		mh->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	mh->nconns--;
	free(c);
}

/* write what the socket takes; true once everything is out */
static bool conn_flush(struct mh_conn *c, ev_tstamp now)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
		c->out_off += (size_t)n;
		c->moved = now;
	}
	return true;
}

static void reply(struct mh_conn *c, int code, const char *reason, const char *ctype,
		  const char *body, size_t body_len)
{
	struct mt_buf *b = &c->out;

	mt_buf_printf(b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\n\r\n", code, reason, ctype, body_len);
	if (body_len && !b->oom) {
		size_t head = b->len;
		mt_buf_printf(b, "%.*s", (int)body_len, body);
		if (b->len != head + body_len)
			b->oom = true;
	}
	c->replying = true;
}

static void answer_metrics(struct mh_conn *c)
{
	struct mt_set set = { 0 };
	struct mt_buf text = { 0 };

	c->mh->st.ok++; /* counted before collecting: this scrape sees itself */
	sp_metrics_collect(c->mh->sp, &set, -1, UINT32_MAX);
	mt_render_prom(&set, &text);
	if (set.oom || text.oom || !text.p) {
		c->mh->st.ok--;
		const char *m = "out of memory\n";
		reply(c, 503, "Service Unavailable", "text/plain", m, strlen(m));
	} else {
		reply(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text.p, text.len);
	}
	mt_set_free(&set);
	mt_buf_free(&text);
}

/* the request line and headers are whole: decide */
static void answer(struct mh_conn *c)
{
	struct sp_metrics_http_stats *st = &c->mh->st;
	const char *r = c->req;

	if (strncmp(r, "GET ", 4)) {
		st->bad_method++;
		const char *m = "only GET /metrics is served\n";
		reply(c, 405, "Method Not Allowed", "text/plain", m, strlen(m));
		return;
	}
	const char *path = r + 4, *end = strpbrk(path, " \r\n");
	size_t plen = end ? (size_t)(end - path) : 0;
	if (!end || *end != ' ' || strncmp(end + 1, "HTTP/1.", 7)) {
		st->bad_request++;
		const char *m = "bad request line\n";
		reply(c, 400, "Bad Request", "text/plain", m, strlen(m));
		return;
	}
	if ((plen == 8 || (plen > 8 && path[8] == '?')) && !strncmp(path, "/metrics", 8)) {
		answer_metrics(c);
		return;
	}
	st->not_found++;
	const char *m = "not found: the metrics are at /metrics\n";
	reply(c, 404, "Not Found", "text/plain", m, strlen(m));
}

static bool request_whole(const struct mh_conn *c)
{
	return memmem(c->req, c->req_len, "\r\n\r\n", 4) || memmem(c->req, c->req_len, "\n\n", 2);
}

static void on_conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mh_conn *c = w->data;

	if (!c->replying) {
		ssize_t n = recv(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len,
				 MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			conn_free(c);
			return;
		}
		if (n > 0)
			c->req_len += (uint32_t)n;
		c->req[c->req_len] = '\0';
		if (request_whole(c)) {
			answer(c);
		} else if (c->req_len == sizeof(c->req) - 1) {
			c->mh->st.too_large++;
			const char *m = "request too large\n";
			reply(c, 431, "Request Header Fields Too Large", "text/plain", m, strlen(m));
		} else {
			return;
		}
		/* from now on only write: what else the client sends is ignored */
		ev_io_stop(loop, &c->io_w);
		ev_io_set(&c->io_w, c->fd, EV_WRITE);
		ev_io_start(loop, &c->io_w);
		c->timer_w.repeat = c->accepted + MH_CONN_TIMEOUT_S - ev_now(loop);
		if (c->timer_w.repeat < 0.01)
			c->timer_w.repeat = 0.01;
		ev_timer_again(loop, &c->timer_w);
	}
	if (c->out.oom || conn_flush(c, ev_now(loop))) {
		/* done (or failed): a close with unread request bytes resets the
		 * connection, which is what a 1 MB "request" deserves */
		shutdown(c->fd, SHUT_WR);
		conn_free(c);
	}
}

static void on_conn_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mh_conn *c = w->data;

	c->mh->st.timeouts++;
	conn_free(c);
}

/*
 * Full: the oldest connection still sending its request makes room.  A
 * scraper's request arrives in one segment and is answered at once, so
 * only a client that trickles (a slowloris) is old enough to go.  Else a
 * reply that has not moved for MH_STALL_S goes: a scraper reads its reply
 * as it comes, a client that asked and stopped reading does not.  Filling
 * the table with either cannot lock a scraper out, as refusing newcomers
 * would.
 */
static void evict_oldest(struct mh *mh, ev_tstamp now)
{
	struct mh_conn *c = mh->conns, *oldest = NULL, *stalled = NULL;

	for (; c; c = c->next) {
		if (!c->replying)
			oldest = c; /* the list is newest first */
		else if (now - c->moved >= MH_STALL_S && (!stalled || c->moved < stalled->moved))
			stalled = c;
	}
	if (!oldest)
		oldest = stalled;
	if (oldest) {
		mh->st.evicted++;
		conn_free(oldest);
	}
}

static void on_accept_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mh *mh = w->data;

	ev_io_start(loop, &mh->accept_w);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mh *mh = w->data;

	for (int i = 0; i < 16; i++) {
		int fd = accept4(mh->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			       errno == ENOMEM)) {
			/* the connection stays queued and the listener readable:
			 * accepting again at once would spin the slowpath */
			mh->st.refused++;
			ev_io_stop(loop, &mh->accept_w);
			ev_timer_set(&mh->retry_w, MH_ACCEPT_RETRY_S, 0);
			ev_timer_start(loop, &mh->retry_w);
			return;
		}
		if (fd < 0)
			return; /* EAGAIN: all taken */
		if (mh->nconns == MH_MAX_CONNS)
			evict_oldest(mh, ev_now(loop));
		struct mh_conn *c = mh->nconns < MH_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			mh->st.refused++;
			close(fd);
			continue;
		}
		c->mh = mh;
		c->fd = fd;
		c->accepted = c->moved = ev_now(loop);
		c->next = mh->conns;
		if (mh->conns)
			mh->conns->prev = c;
		mh->conns = c;
		mh->nconns++;
		ev_io_init(&c->io_w, on_conn_io, fd, EV_READ);
		c->io_w.data = c;
		ev_io_start(loop, &c->io_w);
		ev_init(&c->timer_w, on_conn_timer);
		c->timer_w.data = c;
		c->timer_w.repeat = MH_REQ_TIMEOUT_S;
		ev_timer_again(loop, &c->timer_w);
	}
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/**
 * sp_metrics_addr - parse a [metrics] listen value into @ss.
 * "unix:/path", "A.B.C.D:PORT" or "[v6]:PORT", numeric only (no DNS on
 * the way up).  Return: 0, or -1 with @err saying what is wrong.
 */
int sp_metrics_addr(const char *v, bool allow_remote, struct sockaddr_storage *ss,
		    socklen_t *sl, char *err, size_t errlen)
{
	memset(ss, 0, sizeof(*ss));
	if (!strncmp(v, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		if (v[5] != '/' || strlen(v + 5) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "[metrics] listen: '%s': unix: needs an absolute path "
				 "shorter than %zu characters", v, sizeof(un->sun_path));
			return -1;
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, v + 5);
		*sl = sizeof(*un);
		return 0;
	}
	char host[128];
	const char *colon = strrchr(v, ':');
	size_t hl = colon ? (size_t)(colon - v) : 0;
	if (hl > 1 && v[0] == '[' && v[hl - 1] == ']') {
		v++;
		hl -= 2;
	}
	if (!colon || !hl || hl >= sizeof(host) || !colon[1]) {
		snprintf(err, errlen, "[metrics] listen: '%s': write 127.0.0.1:9464, [::1]:9464 "
			 "or unix:/path", v);
		return -1;
	}
	memcpy(host, v, hl);
	host[hl] = '\0';
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc || !ai) {
		snprintf(err, errlen, "[metrics] listen: '%s': not a numeric address and port (%s); "
			 "write 127.0.0.1:9464, [::1]:9464 or unix:/path", v, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sl = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (!allow_remote && !is_loopback((struct sockaddr *)ss)) {
		snprintf(err, errlen, "[metrics] listen: %s is not a loopback address: every tenant's "
			 "counters would be readable from the network; listen on 127.0.0.1 or a "
			 "unix: path, or set [metrics] allow_remote = true", host);
		return -1;
	}
	return 0;
}

/* a live daemon answers on a unix path; a stale file from a crash doesn't */
static int unix_take(const struct sockaddr_un *un, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(un->sun_path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "[metrics] listen: %s exists and is not a socket; "
			 "choose another path", un->sun_path);
		return -1;
	}
	int p = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p >= 0 && connect(p, (const struct sockaddr *)un, sizeof(*un)) == 0) {
		close(p);
		snprintf(err, errlen, "[metrics] listen: another process serves %s; "
			 "give this daemon another path", un->sun_path);
		return -1;
	}
	if (p >= 0)
		close(p);
	unlink(un->sun_path);
	return 0;
}

int sp_metrics_http_start(struct sp *sp, char *err, size_t errlen)
{
	const struct bp_config *cfg = &sp->dp->cfg;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!cfg->metrics_listen[0])
		return 0;
	if (sp_metrics_addr(cfg->metrics_listen, cfg->metrics_allow_remote, &ss, &sl, err, errlen))
		return -1;
	if (ss.ss_family == AF_UNIX && unix_take((struct sockaddr_un *)&ss, err, errlen))
		return -1;
	struct mh *mh = calloc(1, sizeof(*mh));
	if (!mh) {
		snprintf(err, errlen, "out of memory for the metrics listener");
		return -1;
	}
	mh->sp = sp;
	mh->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (mh->fd >= 0 && ss.ss_family != AF_UNIX)
		setsockopt(mh->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (mh->fd < 0 || bind(mh->fd, (struct sockaddr *)&ss, sl) || listen(mh->fd, 64)) {
		snprintf(err, errlen, "[metrics] listen: cannot listen on %s: %s; choose a free "
			 "address or leave [metrics] listen empty", cfg->metrics_listen,
			 strerror(errno));
		if (mh->fd >= 0)
			close(mh->fd);
		free(mh);
		return -1;
	}
	if (ss.ss_family == AF_UNIX) {
		/* the listener shows every tenant: only the daemon's user until
		 * the operator hands it to the scraper's (chgrp, chmod) */
		memcpy(mh->unix_path, ((struct sockaddr_un *)&ss)->sun_path, sizeof(mh->unix_path));
		chmod(mh->unix_path, 0600);
	}
	ev_io_init(&mh->accept_w, on_accept, mh->fd, EV_READ);
	mh->accept_w.data = mh;
	ev_io_start(sp->loop, &mh->accept_w);
	ev_init(&mh->retry_w, on_accept_retry);
	mh->retry_w.data = mh;
	sp->metrics_http = mh;
	return 0;
}

void sp_metrics_http_stop(struct sp *sp)
{
	struct mh *mh = mh_of(sp);

	if (!mh)
		return;
	while (mh->conns)
		conn_free(mh->conns);
	ev_io_stop(sp->loop, &mh->accept_w);
	ev_timer_stop(sp->loop, &mh->retry_w);
	close(mh->fd);
	if (mh->unix_path[0])
		unlink(mh->unix_path);
	free(mh);
	sp->metrics_http = NULL;
}

int sp_metrics_http_stats(struct sp *sp, struct sp_metrics_http_stats *st)
{
	struct mh *mh = mh_of(sp);

	if (!mh)
		return -1;
	*st = mh->st;
	return 0;
}
