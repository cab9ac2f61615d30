// SPDX-License-Identifier: MIT
/*
 * worker.c - handlers on worker threads (RPC_METHOD_WORKER).
 *
 * The endpoint stays single-threaded: a worker only runs the handler and,
 * in rpc_respond(), encodes the response into a malloc'ed copy and puts
 * the request on the finished list; the endpoint's thread (woken through
 * an eventfd) sends it and releases the request.  The only state shared
 * with workers is the two lists under one mutex, plus the request's
 * cancelled flag and session pointer, which workers only read (atomics,
 * server.c).  A request's buffer is not touched by the endpoint while a
 * worker owns it: orphaning keeps complete requests, and cancellation
 * only sets the flag.
 *
 * A worker handler may stream (rpc_respond_part()): each part is encoded
 * into a malloc'ed copy and queued in order on the parts list, which the
 * endpoint thread sends before the finished list (so a part posted before
 * the final response goes first).  Parts posted and not yet written weigh
 * on their request's budget (max_queued_bytes, rpc_tx_cost() each, given
 * back when their tx item goes: rpc_worker_part_sent()); a worker over it
 * waits, so a producer is paced by its reader instead of filling memory,
 * and a slow reader holds up only its own streams.  A stopping endpoint
 * reads as a cancel (rpc_req_cancelled(), ep->stopping), so streams end
 * and workers join.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "rpc_internal.h"

/* a part of a streamed response a worker posted, to send in order */
struct rpc_wpart {
	struct rpc_wpart *next;
	struct rpc_req *r;
	uint8_t *buf;			/* meta + body (malloc) */
	uint32_t len;
	uint16_t meta_len;
};

struct rpc_workers {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_cond_t room;		/* a request's budget went down */
	struct rpc_req *q, *q_tail;	/* to run */
	struct rpc_req *fin;		/* answered, to send */
	struct rpc_req *ret;		/* streamed, returned keeping it (rpc_wstream_ran()) */
	struct rpc_wpart *parts, *parts_tail; /* streamed parts, to send first */
	uint64_t stream_waits;		/* rpc_stats.stream_waits */
	unsigned out;			/* posted and not yet collected (endpoint thread) */
	bool stop;
	int efd;
	unsigned n;
	pthread_t th[];
};

static void wake_endpoint(struct rpc_workers *w);

/* the request this worker thread's handler answered (rpc_worker_respond()) */
static __thread const struct rpc_req *answered_here;

static void *worker_main(void *arg)
{
	struct rpc_workers *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct rpc_req *r;

		while (!w->q && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->q)
			break;
		r = w->q;
		w->q = r->wnext;
		if (!w->q)
			w->q_tail = NULL;
		/* a run of a streamed request with more to come may return
		 * keeping @r (read now: once answered, @r may be gone) */
		bool may_keep = rpc_req_more(r);

		pthread_mutex_unlock(&w->mu);
		answered_here = NULL;
		r->wfn(r, r->warg);
		pthread_mutex_lock(&w->mu);
		if (may_keep && answered_here != r) {
			r->wnext = w->ret;
			w->ret = r;
			wake_endpoint(w);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/**
 * rpc_workers_start - start the endpoint's worker threads (once).
 * Return: 0 or -errno.
 */
int rpc_workers_start(struct rpc_endpoint *ep)
{
	unsigned n = ep->o.workers ? ep->o.workers : 2;
	struct rpc_workers *w;

	if (ep->w)
		return 0;
	w = calloc(1, sizeof(*w) + n * sizeof(pthread_t));
	if (!w)
		return -ENOMEM;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		free(w);
		return -errno;
	}
	pthread_condattr_t ca;

	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->room, &ca);
	pthread_condattr_destroy(&ca);
	if (ep->ops->set_wake && ep->ops->set_wake(ep->t, w->efd) < 0) {
		close(w->efd);
		free(w);
		return -EIO;
	}
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&w->th[i], NULL, worker_main, w)) {
			ep->w = w;
			rpc_workers_stop(ep);
			return -EAGAIN;
		}
		w->n++;
	}
	ep->w = w;
	return 0;
}

/* hand a complete request to the workers */
void rpc_worker_post(struct rpc_req *r, const struct rpc_method *m)
{
	struct rpc_workers *w = r->ep->w;

	r->wfn = m->fn;
	r->warg = m->arg;
	r->wnext = NULL;
	__atomic_store_n(&r->in_worker, true, __ATOMIC_RELAXED);
	w->out++;
	pthread_mutex_lock(&w->mu);
	if (w->q_tail)
		w->q_tail->wnext = r;
	else
		w->q = r;
	w->q_tail = r;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* metadata and body in one malloc'ed copy (*@ml, *@total: their bytes) */
static uint8_t *encode(const struct iovec *iov, int iovcnt, const struct rpc_meta *meta,
		       unsigned nmeta, size_t *ml, size_t *total)
{
	uint8_t *p;

	*ml = rpc_meta_size(meta, nmeta);
	*total = 0;
	for (int i = 0; i < iovcnt; i++)
		*total += iov[i].iov_len;
	p = malloc(*ml + *total + 1);
	if (!p)
		return NULL;
	rpc_meta_encode(meta, nmeta, p);
	*total = 0;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len)
			memcpy(p + *ml + *total, iov[i].iov_base, iov[i].iov_len);
		*total += iov[i].iov_len;
	}
	return p;
}

static void wake_endpoint(struct rpc_workers *w)
{
	uint64_t one = 1;

	if (write(w->efd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: a wakeup is pending anyway */
	}
}

/* rpc_respond() on a worker thread: copy, queue, wake the endpoint */
int rpc_worker_respond(struct rpc_req *r, int status, const struct iovec *iov, int iovcnt,
		       const struct rpc_meta *meta, unsigned nmeta)
{
	struct rpc_workers *w = r->ep->w;
	size_t ml, total;
	uint8_t *p = encode(iov, iovcnt, meta, nmeta, &ml, &total);

	if (!p) {
		status = RPC_RESOURCE_EXHAUSTED;
		ml = total = 0;
	}
	r->wresp = p;
	r->wmeta_len = (uint16_t)ml;
	r->wresp_len = (uint32_t)(ml + total);
	r->wstatus = status;
	answered_here = r;
	pthread_mutex_lock(&w->mu);
	r->wnext = w->fin;
	w->fin = r;
	pthread_mutex_unlock(&w->mu);
	wake_endpoint(w);
	return 0;
}

/*
 * A request's budget for its streamed parts: the bytes (rpc_tx_cost()) of
 * the parts posted and not yet written or dropped.  The request and each
 * such part hold a reference, since parts may still be queued on the
 * session after the request was answered and freed.  Under w->mu while the
 * workers run; once they are stopped only the endpoint thread is left.
 */
struct rpc_wbudget {
	uint64_t bytes;
	unsigned refs;
};

static void budget_lock(struct rpc_endpoint *ep)
{
	if (ep->w)
		pthread_mutex_lock(&ep->w->mu);
}

static void budget_unlock(struct rpc_endpoint *ep)
{
	if (ep->w)
		pthread_mutex_unlock(&ep->w->mu);
}

/* drop one reference (and @bytes); under budget_lock() */
static void budget_put(struct rpc_endpoint *ep, struct rpc_wbudget *b, uint64_t bytes)
{
	b->bytes -= bytes;
	if (ep->w)
		pthread_cond_broadcast(&ep->w->room);
	if (!--b->refs)
		free(b);
}

/* wait (timed: a deadline passing cancels the call with no wakeup) */
static void wait_room(struct rpc_workers *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 10 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&w->room, &w->mu, &ts);
}

/*
 * rpc_respond_part() on a worker thread: wait until the request's own
 * parts not yet written leave room for this one within max_queued_bytes
 * (so one slow reader holds up only its own streams), or the call or the
 * endpoint ends; reserve it, then copy and queue the part behind the ones
 * before it.  @total: its body bytes (rpc_msg_size()).
 */
int rpc_worker_respond_part(struct rpc_req *r, const struct iovec *iov, int iovcnt,
			    const struct rpc_meta *meta, unsigned nmeta, size_t total)
{
	struct rpc_endpoint *ep = r->ep;
	struct rpc_workers *w = ep->w;
	uint64_t cap = ep->o.max_queued_bytes;
	uint64_t cost = rpc_tx_cost(rpc_meta_size(meta, nmeta) + total);
	struct rpc_wbudget *b;
	struct rpc_wpart *part;
	size_t ml;
	bool waited = false;

	pthread_mutex_lock(&w->mu);
	b = r->wbudget;
	if (!b) {
		b = r->wbudget = calloc(1, sizeof(*b));
		if (!b) {
			pthread_mutex_unlock(&w->mu);
			return -ENOMEM;
		}
		b->refs = 1; /* the request's */
	}
	/* (a part alone always goes, as rpc_tx_room() lets it) */
	while (b->bytes && b->bytes + cost > cap && !rpc_req_cancelled(r)) {
		if (!waited)
			w->stream_waits++;
		waited = true;
		wait_room(w);
	}
	if (rpc_req_cancelled(r)) {
		pthread_mutex_unlock(&w->mu);
		return 0; /* the handler ends the call with rpc_respond() */
	}
	b->bytes += cost; /* reserved now: workers never overshoot together */
	b->refs++;
	pthread_mutex_unlock(&w->mu);
	part = calloc(1, sizeof(*part));
	if (part)
		part->buf = encode(iov, iovcnt, meta, nmeta, &ml, &total);
	if (!part || !part->buf) {
		free(part);
		pthread_mutex_lock(&w->mu);
		budget_put(ep, b, cost);
		pthread_mutex_unlock(&w->mu);
		return -ENOMEM;
	}
	part->r = r;
	part->len = (uint32_t)(ml + total);
	part->meta_len = (uint16_t)ml;
	pthread_mutex_lock(&w->mu);
	if (w->parts_tail)
		w->parts_tail->next = part;
	else
		w->parts = part;
	w->parts_tail = part;
	pthread_mutex_unlock(&w->mu);
	wake_endpoint(w);
	return 0;
}

/* endpoint thread: a worker's part left (written or dropped): room again */
void rpc_worker_part_sent(struct rpc_endpoint *ep, struct rpc_wbudget *b, uint32_t bytes)
{
	budget_lock(ep);
	budget_put(ep, b, bytes);
	budget_unlock(ep);
}

/* endpoint thread: @r goes; its parts still queued keep the budget alive */
void rpc_worker_req_gone(struct rpc_req *r)
{
	budget_lock(r->ep);
	budget_put(r->ep, r->wbudget, 0);
	budget_unlock(r->ep);
	r->wbudget = NULL;
}

uint64_t rpc_workers_stream_waits(const struct rpc_endpoint *ep)
{
	struct rpc_workers *w = ep->w;
	uint64_t n;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	n = w->stream_waits;
	pthread_mutex_unlock(&w->mu);
	return n;
}

/*
 * endpoint thread: queue a worker's part on its session, in order.  One
 * that cannot be queued (no memory) marks the request, whose final
 * response then says RESOURCE_EXHAUSTED: a stream never ends OK with a
 * hole in it.
 */
static void send_part(struct rpc_endpoint *ep, struct rpc_wpart *p)
{
	struct rpc_req *r = p->r;
	struct rpc_frame_hdr h = { .type = RPC_FT_RESPONSE, .flags = RPC_FF_STREAM,
				   .method = r->method, .call_id = r->call_id };
	uint32_t cost = (uint32_t)rpc_tx_cost(p->len);
	struct rpc_txitem *it = NULL;
	bool live = !rpc_req_cancelled(r) && r->s && r->s->state == SS_UP;

	if (live)
		it = rpc_tx_raw(r->s, &h, p->buf, p->meta_len, p->buf + p->meta_len,
				p->len - p->meta_len, r->prio);
	if (it) {
		/* the part's reference and bytes go with the item */
		it->wbudget = r->wbudget;
		it->worker_bytes = cost;
	} else {
		r->wlost |= live;
		rpc_worker_part_sent(ep, r->wbudget, cost);
	}
	free(p->buf);
	free(p);
}

/* endpoint thread: send what the workers answered */
void rpc_workers_collect(struct rpc_endpoint *ep)
{
	struct rpc_workers *w = ep->w;
	struct rpc_req *r, *next, *ret;
	struct rpc_wpart *p, *pnext;
	uint64_t v;

	if (!w->out)
		return;
	if (read(w->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled; the list is checked anyway */
	}
	pthread_mutex_lock(&w->mu);
	r = w->fin;
	w->fin = NULL;
	ret = w->ret;
	w->ret = NULL;
	p = w->parts; /* taken with fin: every part posted before a final is here */
	w->parts = w->parts_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; p; p = pnext) {
		pnext = p->next;
		send_part(ep, p);
	}
	for (; r; r = next) {
		uint8_t *buf = r->wresp;

		next = r->wnext;
		w->out--;
		r->in_worker = false;
		rpc_req_send(r, r->wlost ? RPC_RESOURCE_EXHAUSTED : r->wstatus, buf, r->wmeta_len,
			     buf ? buf + r->wmeta_len : NULL, r->wresp_len - r->wmeta_len);
		free(buf);
	}
	for (r = ret; r; r = next) {	/* (after the parts its runs posted) */
		next = r->wnext;
		w->out--;
		r->in_worker = false;
		rpc_wstream_ran(r);
	}
}

/* true while handlers can go to workers (not once the endpoint stops them) */
bool rpc_workers_running(const struct rpc_endpoint *ep)
{
	return ep->w && !ep->w->stop;
}

bool rpc_workers_out(const struct rpc_endpoint *ep)
{
	return ep->w && ep->w->out;
}

/* join the workers; requests they never ran are dropped, answers sent */
void rpc_workers_stop(struct rpc_endpoint *ep)
{
	struct rpc_workers *w = ep->w;
	struct rpc_req *r, *next;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	r = w->q;
	w->q = w->q_tail = NULL;
	pthread_cond_broadcast(&w->cv);
	pthread_cond_broadcast(&w->room);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->n; i++)
		pthread_join(w->th[i], NULL);
	for (; r; r = next) {
		next = r->wnext;
		w->out--;
		r->in_worker = false;
		if (r->wrun && (r->wrun->last || (r->wrun->m.hdr.flags & RPC_FF_REQ_CONT)))
			rpc_req_last_run(r); /* its handler holds it: the last run, here, now */
		else
			rpc_req_release(r); /* (a first message: its handler never saw it) */
	}
	rpc_workers_collect(ep);
	close(w->efd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->room);
	free(w);
	ep->w = NULL;
}
