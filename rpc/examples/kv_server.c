// SPDX-License-Identifier: MIT
/*
 * kv_server - an example RPC service: an in-memory key-value store.
 *   kv_server [--transport kernel|bypass|bypass-msg] [--listen HOST:PORT] [--max-msg BYTES]
 *             [--workers N]
 * --workers N runs PUT/GET/DEL and PUT_PARTS on N worker threads (the
 * table and the uploads are locked).  GET_PARTS streams a value from the
 * main loop, as the session takes it; PUT_PARTS takes one as a streamed
 * request, a message at a time.
 * Prints "kv_server: listening on port N" once it accepts sessions.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bypass/rpc.h"
#include "rpc_cli.h"
#include "kv_proto.h"

#define NBUCKETS 4096

struct ent {
	struct ent *next;
	size_t klen, vlen;
	char *k, *v;
};

static struct ent *tab[NBUCKETS];
static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stop;

struct held {
	struct rpc_req *req;
	uint64_t until;
};

static struct held holds[4096];
static int nholds;

/* a GET_PARTS under way: a copy of the value, and how far it went */
struct streaming {
	struct rpc_req *req;
	char *v;
	size_t len, off;
	uint32_t part;
};

static struct streaming streams[256];
static int nstreams;

/* a PUT_PARTS under way: its key and the value so far */
struct upload {
	struct rpc_req *req;
	char *k, *v;
	size_t klen, vlen, cap;
};

static struct upload uploads[256];
static size_t max_value = 256u << 20;	/* one value, and all uploads under way */
static size_t upload_bytes;		/* what the uploads under way hold */
/* the uploads table and upload_bytes (PUT_PARTS runs on workers with
 * --workers; one upload's runs never overlap, two uploads' may) */
static pthread_mutex_t upload_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned hash(const char *k, size_t n)
{
	unsigned h = 2166136261u;

	while (n--)
		h = (h ^ (unsigned char)*k++) * 16777619u;
	return h % NBUCKETS;
}

static struct ent **find(const char *k, size_t n)
{
	struct ent **pp = &tab[hash(k, n)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->klen == n && !memcmp((*pp)->k, k, n))
			break;
	return pp;
}

static void fail(struct rpc_req *r, int st, const char *msg)
{
	struct iovec iov = { (void *)msg, strlen(msg) };

	rpc_respond(r, st, &iov, 1, NULL, 0);
}

/* @k's value becomes @v (malloc'ed, taken over); the table is locked */
static int store(const void *k, size_t kl, char *v, size_t vlen)
{
	struct ent **pp = find(k, kl), *e = *pp;

	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || !(e->k = malloc(kl))) {
			free(e);
			free(v);
			return -ENOMEM;
		}
		memcpy(e->k, k, kl);
		e->klen = kl;
		*pp = e;
	}
	free(e->v);
	e->v = v;
	e->vlen = vlen;
	return 0;
}

static void do_put(struct rpc_req *r)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	const unsigned char *p = m->data;
	size_t kl, vlen;
	char *v;

	if (m->len < 2 || (kl = (size_t)(p[0] | p[1] << 8)) == 0 || kl > m->len - 2) {
		fail(r, RPC_INVALID_ARGUMENT, "PUT body: u16 key length, key, value");
		return;
	}
	vlen = m->len - 2 - kl;
	v = malloc(vlen ? vlen : 1);
	if (v && vlen)
		memcpy(v, p + 2 + kl, vlen);
	if (!v || store(p + 2, kl, v, vlen)) {
		fail(r, RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	rpc_respond(r, RPC_OK, NULL, 0, NULL, 0);
}

static void do_get(struct rpc_req *r)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	struct ent *e = *find(m->data, m->len);
	struct iovec iov;

	if (!e) {
		fail(r, RPC_NOT_FOUND, "no such key");
		return;
	}
	iov.iov_base = e->v;
	iov.iov_len = e->vlen;
	rpc_respond(r, RPC_OK, &iov, 1, NULL, 0);
}

static void do_del(struct rpc_req *r)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	struct ent **pp = find(m->data, m->len), *e = *pp;

	if (!e) {
		fail(r, RPC_NOT_FOUND, "no such key");
		return;
	}
	*pp = e->next;
	free(e->k);
	free(e->v);
	free(e);
	rpc_respond(r, RPC_OK, NULL, 0, NULL, 0);
}

/* rpc_respond() copies the value, so it may run under the lock */
#define LOCKED(name)                                  \
	static void h_##name(struct rpc_req *r, void *arg) \
	{                                             \
		pthread_mutex_lock(&tab_mu);          \
		do_##name(r);                         \
		pthread_mutex_unlock(&tab_mu);        \
	}
LOCKED(put)
LOCKED(get)
LOCKED(del)

static void h_hold(struct rpc_req *r, void *arg)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	const unsigned char *p = m->data;
	uint32_t ms;

	if (m->len != 4 || nholds == (int)(sizeof(holds) / sizeof(holds[0]))) {
		fail(r, RPC_INVALID_ARGUMENT, "HOLD body: u32 milliseconds");
		return;
	}
	ms = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	holds[nholds].req = r;
	holds[nholds++].until = now_ms() + ms;
}

/* answer the holds that are due (or whose caller went away) */
static void run_holds(void)
{
	uint64_t now = now_ms();

	for (int i = 0; i < nholds;) {
		if (holds[i].until <= now || rpc_req_cancelled(holds[i].req)) {
			rpc_respond(holds[i].req, RPC_OK, NULL, 0, NULL, 0);
			holds[i] = holds[--nholds];
		} else {
			i++;
		}
	}
}

static struct upload *upload_of(struct rpc_req *r)
{
	struct upload *free_one = NULL;

	for (size_t i = 0; i < sizeof(uploads) / sizeof(uploads[0]); i++) {
		if (uploads[i].req == r)
			return &uploads[i];
		if (!uploads[i].req && !free_one)
			free_one = &uploads[i];
	}
	return free_one;
}

static void upload_end(struct upload *u, struct rpc_req *r, int st, const char *msg)
{
	upload_bytes -= u->cap;
	free(u->k);
	free(u->v);
	*u = (struct upload){ 0 };
	fail(r, st, msg);
}

/*
 * PUT_PARTS: its handler runs once per message of the streamed request.
 * The first names the key, the next ones append to the value, which is
 * stored when the last is in; a value over --max-value ends the call early.
 */
static void put_parts(struct rpc_req *r)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	struct upload *u = upload_of(r);
	const unsigned char *p = m->data;

	if (u && u->req != r) { /* its first message: the key */
		size_t kl = m->len >= 2 ? (size_t)(p[0] | p[1] << 8) : 0;

		if (!kl || kl != m->len - 2 || !rpc_req_more(r)) {
			fail(r, RPC_INVALID_ARGUMENT, "PUT_PARTS: a streamed request "
			     "(RPC_CALL_SEND_STREAM) whose first message is u16 key length, key");
			return;
		}
		*u = (struct upload){ .req = r, .k = malloc(kl), .klen = kl };
		if (u->k)
			memcpy(u->k, p + 2, kl);
	} else if (u) {
		if (rpc_req_cancelled(r)) {
			upload_end(u, r, RPC_CANCELLED, "cancelled");
			return;
		}
		if (m->len > max_value - u->vlen) {
			upload_end(u, r, RPC_RESOURCE_EXHAUSTED, "value over the server's --max-value");
			return;
		}
		if (u->vlen + m->len > u->cap) {
			size_t cap = u->cap ? u->cap : 65536;

			while (cap < u->vlen + m->len)
				cap *= 2;
			if (cap > max_value)
				cap = max_value;	/* (>= what it needs: checked above) */
			if (cap - u->cap > max_value - upload_bytes) {
				upload_end(u, r, RPC_RESOURCE_EXHAUSTED,
					   "the uploads under way hold --max-value already");
				return;
			}
			char *v = realloc(u->v, cap);

			if (!v) {
				upload_end(u, r, RPC_RESOURCE_EXHAUSTED, "out of memory");
				return;
			}
			upload_bytes += cap - u->cap;
			u->v = v;
			u->cap = cap;
		}
		if (m->len)
			memcpy(u->v + u->vlen, m->data, m->len);
		u->vlen += m->len;
	}
	if (!u || !u->k) {
		if (u)
			*u = (struct upload){ 0 };
		fail(r, RPC_RESOURCE_EXHAUSTED, "no room for another upload");
		return;
	}
	if (rpc_req_more(r))
		return; /* the next message appends */
	pthread_mutex_lock(&tab_mu);
	int err = store(u->k, u->klen, u->v ? u->v : malloc(1), u->vlen);
	pthread_mutex_unlock(&tab_mu);
	u->v = NULL; /* the table's now */
	upload_end(u, r, err ? RPC_RESOURCE_EXHAUSTED : RPC_OK, err ? "out of memory" : "");
}

static void h_put_parts(struct rpc_req *r, void *arg)
{
	pthread_mutex_lock(&upload_mu);
	put_parts(r);
	pthread_mutex_unlock(&upload_mu);
}

static void h_get_parts(struct rpc_req *r, void *arg)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	const unsigned char *p = m->data;
	struct streaming *st = &streams[nstreams];
	struct ent *e;

	if (!rpc_req_streams(r)) {
		fail(r, RPC_INVALID_ARGUMENT, "GET_PARTS streams: call with RPC_CALL_STREAM");
		return;
	}
	if (m->len < 4 || nstreams == (int)(sizeof(streams) / sizeof(streams[0]))) {
		fail(r, m->len < 4 ? RPC_INVALID_ARGUMENT : RPC_RESOURCE_EXHAUSTED,
		     "GET_PARTS body: u32 part bytes, key");
		return;
	}
	*st = (struct streaming){ .req = r };
	st->part = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		   (uint32_t)p[3] << 24;
	pthread_mutex_lock(&tab_mu);
	e = *find((const char *)p + 4, m->len - 4);
	if (e) { /* a snapshot: a PUT meanwhile does not tear the stream */
		st->len = e->vlen;
		st->v = malloc(e->vlen ? e->vlen : 1);
		if (st->v)
			memcpy(st->v, e->v, e->vlen);
	}
	pthread_mutex_unlock(&tab_mu);
	if (!e || !st->v || !st->part) {
		free(st->v);
		fail(r, !e ? RPC_NOT_FOUND : st->part ? RPC_RESOURCE_EXHAUSTED :
		     RPC_INVALID_ARGUMENT, !e ? "no such key" : "cannot stream it");
		return;
	}
	nstreams++;
}

/* go on with every stream as far as its session takes parts */
static void run_streams(void)
{
	for (int i = 0; i < nstreams;) {
		struct streaming *st = &streams[i];
		int rc = 0;

		while (st->off < st->len && !rpc_req_cancelled(st->req)) {
			size_t n = st->len - st->off < st->part ? st->len - st->off : st->part;
			struct iovec iov = { st->v + st->off, n };

			rc = rpc_respond_part(st->req, &iov, 1, NULL, 0);
			if (rc)
				break;
			st->off += n;
		}
		if (rc == -EAGAIN) {
			i++;
			continue;
		}
		rpc_respond(st->req, rc == -EMSGSIZE ? RPC_INVALID_ARGUMENT : rc ? RPC_INTERNAL :
				     RPC_OK, NULL, 0, NULL, 0);
		free(st->v);
		*st = streams[--nstreams];
	}
}

static void on_stop(int sig)
{
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: kv_server [--transport kernel|bypass|bypass-msg] [--listen HOST:PORT] [--max-msg BYTES]\n"
		   "                 [--workers N] [--max-value BYTES]\n"
		   "An example RPC key-value service (methods PUT=1 GET=2 DEL=3 HOLD=4\n"
		   "GET_PARTS=5 PUT_PARTS=6, "
		   "see rpc/examples/kv_proto.h).  Default: kernel transport, :7100.\n"
		   "With --transport bypass it attaches to fastpathd ($BYPASS_SOCKET).\n"
		   "--workers N: PUT/GET/DEL and PUT_PARTS run on N worker threads instead\n"
		   "of inline.\n"
		   "--max-value BYTES: the largest value PUT_PARTS stores, and the most the\n"
		   "uploads under way hold together (default 256 MiB).\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "transport", required_argument, 0, 't' }, { "listen", required_argument, 0, 'l' },
		{ "max-msg", required_argument, 0, 'm' }, { "workers", required_argument, 0, 'w' },
		{ "max-value", required_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' }, { 0 } };
	unsigned mflags = 0;
	struct rpc_endpoint_opts o = { .bp_opts_app_name = "kv_server" };
	const char *listen = ":7100";
	struct rpc_endpoint *ep;
	char err[512] = "";
	int c, r;

	while ((c = getopt_long(argc, argv, "t:l:m:w:v:h", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (rpc_cli_transport("kv_server", optarg, &o))
				return usage(stderr), 2;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'm':
			o.max_msg = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'w':
			o.workers = (unsigned)strtoul(optarg, NULL, 10);
			if (!o.workers || o.workers > 64)
				return usage(stderr), 2;
			mflags = RPC_METHOD_WORKER;
			break;
		case 'v':
			max_value = (size_t)strtoull(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	ep = rpc_endpoint_create(&o, err, sizeof(err));
	if (!ep) {
		fprintf(stderr, "kv_server: %s\n", err[0] ? err : strerror(errno));
		return 1;
	}
	if (rpc_register_flags(ep, KV_PUT, "kv.put", h_put, NULL, mflags) ||
	    rpc_register_flags(ep, KV_GET, "kv.get", h_get, NULL, mflags) ||
	    rpc_register_flags(ep, KV_DEL, "kv.del", h_del, NULL, mflags)) {
		fprintf(stderr, "kv_server: cannot register methods\n");
		rpc_endpoint_destroy(ep);
		return 1;
	}
	rpc_register(ep, KV_HOLD, "kv.hold", h_hold, NULL);
	rpc_register(ep, KV_GET_PARTS, "kv.get_parts", h_get_parts, NULL);
	rpc_register_flags(ep, KV_PUT_PARTS, "kv.put_parts", h_put_parts, NULL,
			   mflags | RPC_METHOD_STREAM_REQ);
	r = rpc_listen(ep, listen, NULL, NULL);
	if (r < 0) {
		fprintf(stderr, "kv_server: listen %s: %s\n", listen, strerror(-r));
		rpc_endpoint_destroy(ep);
		return 1;
	}
	printf("kv_server: listening on port %d\n", rpc_listen_port(ep));
	fflush(stdout);
	while (!stop) {
		r = rpc_run(ep, nstreams ? 1 : nholds ? 5 : 100);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "kv_server: %s\n", strerror(-r));
			break;
		}
		run_holds();
		run_streams();
	}
	for (int i = 0; i < nholds; i++)
		rpc_respond(holds[i].req, RPC_UNAVAILABLE, NULL, 0, NULL, 0);
	for (int i = 0; i < nstreams; i++) {
		rpc_respond(streams[i].req, RPC_UNAVAILABLE, NULL, 0, NULL, 0);
		free(streams[i].v);
	}
	rpc_endpoint_destroy(ep);
	return r < 0 && r != -EINTR ? 1 : 0;
}
