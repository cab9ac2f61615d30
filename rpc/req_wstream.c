// SPDX-License-Identifier: MIT
/*
 * req_wstream.c - streamed requests to worker methods (RPC_METHOD_WORKER
 * with RPC_METHOD_STREAM_REQ).
 *
 * As for an inline method, the handler runs once per message, in order,
 * and keeps the request between messages.  But a run holds its worker as
 * long as it likes while the caller goes on sending, so each message is
 * taken out of the request (into a struct rpc_wmsg) as soon as it is
 * whole, and the request goes back to waiting for the next one, which the
 * receive path reads into it as for any stream.  Whole messages queue on
 * r->wrun until the run before them ends: one run at a time, so the
 * handler sees them in order and never two at once.
 *
 * What bounds the queue: a message's bytes of credit go back only when
 * its run ends, so what is queued stays within the session's byte window;
 * and the number of queued messages within RPC_WSTREAM_QUEUE_MAX per
 * session (a peer streaming empty messages would otherwise cost a struct
 * each for 32 bytes of credit), plus one per stream: a stream with none
 * queued may always queue one, so it never pays for another's backlog.
 * Past that the stream ends RESOURCE_EXHAUSTED, as for a message with no
 * room; the session goes on.
 *
 * Threads: all of this runs on the endpoint's thread.  While a run is
 * under way (r->in_worker) its worker reads r->wrun->m and ->view only;
 * the endpoint writes them only between runs, and the hand-over goes
 * through the workers' mutex (worker.c).  A run that returns keeping the
 * request comes back through the workers' returned list to
 * rpc_wstream_ran().
 *
 * Stopping early (a CANCEL, the session failing, the deadline, a message
 * too big or malformed, the queue full): the queued messages go at once,
 * and the handler's last run (an empty message, rpc_req_cancelled() true)
 * follows the run under way.  A deadline that passes while a message is
 * part-way in waits for that message to end (or for the CANCEL the caller
 * sends at its deadline), so no request stops with frames still due to it.
 */
#include <stdlib.h>

#include "rpc_internal.h"

/* @r's whole current message moves to @m; @r waits for the next one */
static void take_message(struct rpc_req *r, struct rpc_wmsg *m)
{
	m->next = NULL;
	m->hdr = r->hdr;
	m->buf = r->buf;
	m->data = r->data;
	m->has_held = r->has_held;
	m->held = r->held;
	m->more = r->more;
	m->credit_bytes = r->credit_bytes;
	r->buf = NULL;
	r->data = NULL;
	r->has_held = false;
	r->credit_bytes = 0;
	r->view = (struct rpc_msg_view){ 0 };
	r->complete = false;
	r->between = true;
}

/* @m is done with: its credit back to the peer (while @r has its session), its memory freed */
static void put_message(struct rpc_req *r, struct rpc_wmsg *m)
{
	struct rpc_endpoint *ep = r->ep;

	if (r->s && m->credit_bytes)
		rpc_credit_return(r->s, 0, m->credit_bytes);
	if (m->has_held)
		ep->ops->msg_done(ep->t, &m->held);
	rpc_buf_put(&ep->pool, m->buf);
	*m = (struct rpc_wmsg){ 0 };
}

/* @r's next run, of @w->m: to a worker, or here once the workers are stopped */
static void post(struct rpc_req *r, const struct rpc_method *m)
{
	struct rpc_wrun *w = r->wrun;

	/* (checked when it came in whole: it parses again) */
	if (!w->m.data || rpc_msg_show(&w->view, w->meta, w->m.data, &w->m.hdr) < 0)
		w->view = (struct rpc_msg_view){ .data = "", .meta = w->meta };
	if (rpc_workers_running(r->ep))
		rpc_worker_post(r, m);
	else
		rpc_req_run(r, m);	/* a last run while the endpoint goes */
}

/* no run under way: the next queued message's */
static void pump(struct rpc_req *r)
{
	struct rpc_wrun *w = r->wrun;
	struct rpc_wmsg *m = w->q;

	if (r->in_worker || !m)
		return;
	w->q = m->next;
	if (!w->q)
		w->q_tail = NULL;
	if (r->s)
		r->s->nwq--;
	w->m = *m;
	w->m.next = NULL;
	free(m);
	post(r, rpc_method_get(r->ep, r->method));
}

/**
 * rpc_wstream_start - the first message of a streamed request to worker
 * method @m is whole and checked (rpc_req_dispatch()): its run goes to a
 * worker, and @r waits for the next message.
 */
void rpc_wstream_start(struct rpc_req *r, const struct rpc_method *m)
{
	struct rpc_wrun *w = calloc(1, sizeof(*w));

	if (!w) {
		rpc_respond_status(r, RPC_RESOURCE_EXHAUSTED,
				   "no memory for the streamed request");
		return;
	}
	r->wrun = w;
	r->seen = true;	/* its handler holds it from the first run on */
	take_message(r, &w->m);
	post(r, m);
}

/**
 * rpc_wstream_queue - a later message of @r is whole and checked: it
 * waits for its run.  Return: false if the session has no room for it
 * (the caller ends the stream).
 */
bool rpc_wstream_queue(struct rpc_req *r)
{
	struct rpc_wrun *w = r->wrun;
	/* a stream with none queued may always queue one: it never pays for
	 * another stream's backlog, only for its own */
	bool behind = w->q;
	struct rpc_wmsg *m = NULL;

	if (!behind || r->s->nwq < RPC_WSTREAM_QUEUE_MAX)
		m = malloc(sizeof(*m));
	if (!m)
		return false;
	take_message(r, m);
	if (w->q_tail)
		w->q_tail->next = m;
	else
		w->q = m;
	w->q_tail = m;
	r->s->nwq++;
	pump(r);
	return true;
}

/**
 * rpc_wstream_ran - a worker's run of @r returned keeping it: the
 * message's bytes go back, and the next run follows (or the last one, if
 * the stream stopped meanwhile).
 */
void rpc_wstream_ran(struct rpc_req *r)
{
	put_message(r, &r->wrun->m);
	r->wrun->view = (struct rpc_msg_view){ .data = "", .meta = r->wrun->meta };
	if (rpc_req_cancelled(r)) {
		/* with a message part-way in, its end (or the caller's
		 * CANCEL) stops the stream: frames of it may still come */
		if (r->between || r->complete)
			rpc_req_last_run(r);
		return;
	}
	pump(r);
}

/* the queued messages go (the stream stopped, or @r ends) */
void rpc_wstream_drop_queued(struct rpc_req *r)
{
	struct rpc_wrun *w = r->wrun;

	while (w->q) {
		struct rpc_wmsg *m = w->q;

		w->q = m->next;
		if (r->s)
			r->s->nwq--;
		put_message(r, m);
		free(m);
	}
	w->q_tail = NULL;
}

/**
 * rpc_wstream_stop - the stream stopped early (rpc_req_last_run(), which
 * marked @r cancelled and freed any message part-way in): the queued
 * messages go, and the handler's last run follows the run under way.
 */
void rpc_wstream_stop(struct rpc_req *r, const struct rpc_method *m)
{
	rpc_wstream_drop_queued(r);
	if (r->in_worker)
		return;	/* its end comes back through rpc_wstream_ran() */
	put_message(r, &r->wrun->m);
	if (!m) {
		rpc_req_release(r);
		return;
	}
	r->wrun->last = true;
	post(r, m);
}

/* @r ends (answered, or freed): what its stream still holds goes back */
void rpc_wstream_end(struct rpc_req *r)
{
	if (!r->wrun)
		return;
	rpc_wstream_drop_queued(r);
	put_message(r, &r->wrun->m);
	free(r->wrun);
	r->wrun = NULL;
}
