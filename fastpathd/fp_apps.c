// SPDX-License-Identifier: MIT
/*
 * fp_apps.c - the fastpath's side of the app regions: doorbells in,
 * readiness events out, and eventfd wakeups for apps that sleep.
 *
 * Every doorbell is validated against the fastpath's own slot table and
 * the slot generation, so a buggy or hostile app can only name its own
 * live flows, and only its own counters are ever read.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <rte_cycles.h>

#include "fastpath.h"

#define DOORBELLS_PER_APP 64

int fp_app_add(struct fp_ctx *fp, struct dp_app *app)
{
	DP_ASSERT_FP();
	if (fp->napps >= DP_MAX_APPS)
		return -1;
	fp->apps[fp->napps++] = app;
	return 0;
}

void fp_app_del(struct fp_ctx *fp, struct dp_app *app)
{
	DP_ASSERT_FP();
	for (uint32_t i = 0; i < fp->napps; i++) {
		if (fp->apps[i] == app) {
			fp->apps[i] = fp->apps[--fp->napps];
			break;
		}
	}
}

/**
 * fp_flow_validate_tx - pick up tx_written from the app.  It may only grow,
 * and never past what the ring can hold beyond the acknowledged bytes.
 * Return: 0, or -1 if the app wrote garbage (the flow gets reset).
 */
int fp_flow_validate_tx(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & FPF_DETACHED)
		return 0;
	uint64_t w = __atomic_load_n(&f->shm->tx_written, __ATOMIC_ACQUIRE);
	if (w < f->tx_written || w - f->tx_acked > f->tx_size) {
		fp->cnt[DPC_APP_BAD_ENTRY]++;
		fp_to_sp(fp, DPM_FLOW_BAD_APP, f->flow_id, NULL);
		return -1;
	}
	if (!(f->flags & FPF_TX_FIN_REQ))
		f->tx_written = w;
	return 0;
}

/**
 * fp_flow_move - hand flow @f to the slot described by @mv (a fork child
 * adopting it).  The rings are copied whole, so every byte position keeps
 * its place (positions are ring offsets modulo the size) and nothing the
 * old owner wrote, nor anything still unacknowledged or held out of order,
 * is lost.  Sets mv->status; the caller returns @mv to the slowpath.
 */
void fp_flow_move(struct fp_ctx *fp, struct fp_flow *f, struct dp_move *mv)
{
	DP_ASSERT_FP();
	struct dataplane *dp = fp->dp;
	struct dp_app *to = mv->to, *from = &dp->apps[f->app_id];

	if (!(f->flags & FPF_ACTIVE) || (f->flags & FPF_RESET)) {
		mv->status = -ENOTCONN;
		return;
	}
	if (to->rx_buf_size != f->rx_size || to->tx_buf_size != f->tx_size) {
		mv->status = -EXDEV;
		return;
	}
	/* the old owner's last reads and writes count */
	uint64_t c = __atomic_load_n(&f->shm->rx_consumed, __ATOMIC_ACQUIRE);
	if (c >= f->rx_consumed && c <= f->rx_pos)
		f->rx_consumed = c;
	fp_flow_validate_tx(fp, f);

	uint8_t *rx = to->base + dp_app_slot_rx_off(to, mv->slot);
	memcpy(rx, f->rx_base, f->rx_size);
	memcpy(rx + f->rx_size, f->tx_base, f->tx_size);

	struct bp_flow_shm *os = f->shm, *ns = &to->flows[mv->slot];
	ns->rx_written = f->rx_pos;
	ns->tx_acked = f->tx_acked;
	ns->flags = __atomic_load_n(&os->flags, __ATOMIC_ACQUIRE);
	ns->err = os->err;
	ns->local_ip = f->local_ip;
	ns->remote_ip = f->remote_ip;
	ns->local_port = f->local_port;
	ns->remote_port = f->remote_port;
	ns->rx_consumed = f->rx_consumed;
	ns->tx_written = f->tx_written;
	ns->fp_queue = fp->core;
	__atomic_store_n(&ns->state, BP_FS_ESTABLISHED, __ATOMIC_RELEASE);

	if (from->fp_slot_flow && from->fp_slot_flow[f->slot] == f->flow_id)
		from->fp_slot_flow[f->slot] = DP_INVALID_FLOW;
	to->fp_slot_flow[mv->slot] = f->flow_id;
	f->app_id = to->app_id;
	f->slot = mv->slot;
	f->gen = mv->gen;
	f->shm = ns;
	f->rx_base = rx;
	f->tx_base = rx + f->rx_size;
	mv->status = 0;
	/* send what the old owner left unsent, and let the adopter look */
	fp_touch(fp, f, FPP_OUTPUT | FPP_EV_RX | FPP_EV_TX);
}

static void doorbell_apply(struct fp_ctx *fp, struct dp_app *app, struct fp_flow *f,
			   uint16_t op, uint32_t gen)
{
	if (!(f->flags & FPF_ACTIVE) || f->gen != gen || f->app_id != app->app_id) {
		/* stale (flow closed meanwhile) or forged: harmless, counted */
		app->bad_entries++;
		fp->cnt[DPC_APP_BAD_ENTRY]++;
		return;
	}
	if (!fp_owns(fp, f))
		return;
	switch (op) {
	case BP_DB_TX:
		if (!fp_flow_validate_tx(fp, f))
			fp_touch(fp, f, FPP_OUTPUT);
		break;
	case BP_DB_RX:
		tcp_window_update(fp, f);
		break;
	default:
		app->bad_entries++;
		fp->cnt[DPC_APP_BAD_ENTRY]++;
	}
}

/*
 * A doorbell names a slot; the fastpath's own slot table names the flow.
 * The app picks the queue from bp_flow_shm.fp_queue, a hint it may get
 * wrong (the flow just moved, or the app lies): then the doorbell goes on
 * to the core that owns the flow's bucket, which validates it.
 */
static void doorbell(struct fp_ctx *fp, struct dp_app *app, const struct bp_doorbell *db)
{
	struct dataplane *dp = fp->dp;
	uint32_t id = db->slot < app->max_flows ?
		      __atomic_load_n(&app->fp_slot_flow[db->slot], __ATOMIC_RELAXED) : DP_INVALID_FLOW;
	struct fp_flow *f = id < dp->cfg.max_flows ? &dp->flows[id] : NULL;

	if (!f || (db->op != BP_DB_TX && db->op != BP_DB_RX)) {
		app->bad_entries++;
		fp->cnt[DPC_APP_BAD_ENTRY]++;
		return;
	}
	if (dp->ncores > 1 && !fp->owns[f->bucket % DP_STEER_BUCKETS]) {
		struct dp_msg m = { .type = DPM_DOORBELL, .flow_id = id,
				    .arg = (uint16_t)(db->op | app->app_id << 8),
				    .ptr = (void *)(uintptr_t)db->gen };
		fp_route_msg(fp, &m, f->bucket);
		return;
	}
	doorbell_apply(fp, app, f, db->op, db->gen);
}

/* a doorbell another core took from its queue for a flow of ours */
void fp_doorbell_fwd(struct fp_ctx *fp, struct fp_flow *f, const struct dp_msg *msg)
{
	uint16_t app_id = msg->arg >> 8;
	if (app_id >= DP_MAX_APPS)
		return;
	doorbell_apply(fp, &fp->dp->apps[app_id], f, msg->arg & 0xff,
		       (uint32_t)(uintptr_t)msg->ptr);
}

/*
 * Take a batch of doorbells off this core's queue, then a full fence, then
 * act on them: libbypass skips a TX doorbell while its previous one for
 * the flow is still queued, and this fence (paired with one in libbypass)
 * makes sure tx_written is read after the queue's tail was published.
 */
void fp_apps_poll(struct fp_ctx *fp)
{
	DP_ASSERT_FP();
	struct bp_doorbell db[DOORBELLS_PER_APP];
	for (uint32_t i = 0; i < fp->napps; i++) {
		struct dp_app *app = fp->apps[i];
		struct bp_queue_view *q = &app->dataq[fp->core];
		int n = 0;
		while (n < DOORBELLS_PER_APP && !bp_queue_pop(q, &db[n]))
			n++;
		if (!n)
			continue;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		for (int k = 0; k < n; k++)
			doorbell(fp, app, &db[k]);
	}
}

bool fp_apps_have_work(struct fp_ctx *fp)
{
	for (uint32_t i = 0; i < fp->napps; i++)
		if (!bp_queue_empty(&fp->apps[i]->dataq[fp->core]))
			return true;
	return false;
}

static void post(struct fp_ctx *fp, struct dp_app *app, struct fp_flow *f, uint16_t type)
{
	struct bp_event ev = { .type = type, .slot = f->slot, .gen = f->gen };
	if (bp_queue_push(&app->fp_evq[fp->core], &ev)) {
		/* the app is behind: it rescans every slot when it sees this */
		__atomic_store_n(&app->hdr->evq_overflow, 1, __ATOMIC_RELEASE);
		fp->cnt[DPC_EVQ_OVERFLOW]++;
	}
	app->fp_kick_pending[fp->core] = true;
}

void fp_apps_post_events(struct fp_ctx *fp, struct fp_flow *f, uint32_t pend)
{
	DP_ASSERT_FP();
	if (f->flags & FPF_DETACHED)
		return; /* its app closed it and may even be gone */
	struct dp_app *app = &fp->dp->apps[f->app_id];
	if (pend & FPP_EV_RX)
		post(fp, app, f, BP_EV_RX);
	if (pend & FPP_EV_TX)
		post(fp, app, f, BP_EV_TX);
}

/* wake apps that got events and are blocked in bp_wait() */
unsigned fp_apps_kick(struct fp_ctx *fp)
{
	DP_ASSERT_FP();
	bool any = false;
	unsigned woken = 0;
	for (uint32_t i = 0; i < fp->napps && !any; i++)
		any = fp->apps[i]->fp_kick_pending[fp->core];
	if (!any)
		return 0; /* the common idle round: no fence */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (uint32_t i = 0; i < fp->napps; i++) {
		struct dp_app *app = fp->apps[i];
		if (!app->fp_kick_pending[fp->core])
			continue;
		app->fp_kick_pending[fp->core] = false;
		if (__atomic_load_n(&app->hdr->app_sleeping, __ATOMIC_ACQUIRE)) {
			uint64_t one = 1;
			if (write(app->wake_fd, &one, sizeof(one)) < 0)
				fp->cnt[DPC_EVQ_OVERFLOW]++;
			else
				woken++;
		}
	}
	return woken;
}

void fp_apps_set_sleeping(struct fp_ctx *fp, uint32_t sleeping)
{
	for (uint32_t i = 0; i < fp->napps; i++)
		__atomic_store_n(&fp->apps[i]->hdr->fp_sleeping[fp->core].word, sleeping,
				 __ATOMIC_RELEASE);
}
