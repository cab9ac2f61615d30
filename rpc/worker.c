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
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rpc_internal.h"

struct rpc_workers {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rpc_req *q, *q_tail;	/* to run */
	struct rpc_req *fin;		/* answered, to send */
	unsigned out;			/* posted and not yet collected (endpoint thread) */
	bool stop;
	int efd;
	unsigned n;
	pthread_t th[];
};

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
		pthread_mutex_unlock(&w->mu);
		r->wfn(r, r->warg);
		pthread_mutex_lock(&w->mu);
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
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
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

/* rpc_respond() on a worker thread: copy, queue, wake the endpoint */
int rpc_worker_respond(struct rpc_req *r, int status, const struct iovec *iov, int iovcnt,
		       const struct rpc_meta *meta, unsigned nmeta)
{
	struct rpc_workers *w = r->ep->w;
	size_t ml = rpc_meta_size(meta, nmeta), total = 0;
	uint64_t one = 1;
	uint8_t *p;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	p = malloc(ml + total + 1);
	if (!p) {
		status = RPC_RESOURCE_EXHAUSTED;
		ml = total = 0;
	} else {
		rpc_meta_encode(meta, nmeta, p);
		total = 0;
		for (int i = 0; i < iovcnt; i++) {
			if (iov[i].iov_len)
				memcpy(p + ml + total, iov[i].iov_base, iov[i].iov_len);
			total += iov[i].iov_len;
		}
	}
	r->wresp = p;
	r->wmeta_len = (uint16_t)ml;
	r->wresp_len = (uint32_t)(ml + total);
	r->wstatus = status;
	pthread_mutex_lock(&w->mu);
	r->wnext = w->fin;
	w->fin = r;
	pthread_mutex_unlock(&w->mu);
	if (write(w->efd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: a wakeup is pending anyway */
	}
	return 0;
}

/* endpoint thread: send what the workers answered */
void rpc_workers_collect(struct rpc_endpoint *ep)
{
	struct rpc_workers *w = ep->w;
	struct rpc_req *r, *next;
	uint64_t v;

	if (!w->out)
		return;
	if (read(w->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled; the list is checked anyway */
	}
	pthread_mutex_lock(&w->mu);
	r = w->fin;
	w->fin = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; r; r = next) {
		uint8_t *buf = r->wresp;

		next = r->wnext;
		w->out--;
		r->in_worker = false;
		rpc_req_send(r, r->wstatus, buf, r->wmeta_len, buf ? buf + r->wmeta_len : NULL,
			     r->wresp_len - r->wmeta_len);
		free(buf);
	}
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
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->n; i++)
		pthread_join(w->th[i], NULL);
	for (; r; r = next) {
		next = r->wnext;
		w->out--;
		r->in_worker = false;
		rpc_req_release(r);
	}
	rpc_workers_collect(ep);
	close(w->efd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
	ep->w = NULL;
}
