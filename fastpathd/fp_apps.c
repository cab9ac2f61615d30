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
/* idle apps whose data queue a round looks at, besides the active ones:
 * with this many apps or fewer, every queue is looked at every round */
#define IDLE_SCAN_PER_ROUND 16

/*
 * Active and idle apps.  Polling every app's data queue every round costs
 * a cache miss per app per round, which with a thousand attached apps is
 * most of an idle daemon's CPU.  So a core polls only its active apps;
 * one that rang no doorbell for app_idle_tsc goes idle: its header's
 * fp_sleeping[k] stays set, so the app kicks the core on its next
 * doorbell exactly as it does when the core sleeps.  A kick makes the
 * core look at every idle app once (fp->kicked); while the core is awake
 * anyway it also looks at a few idle apps per round, so a doorbell whose
 * kick the core has not read yet waits at most napps / IDLE_SCAN_PER_ROUND
 * rounds.  The Dekker pairing is the one of fp_block(): the core stores
 * fp_sleeping, fences, and looks at the queue; the app pushes, fences and
 * reads fp_sleeping.
 */
static void app_sleeping_store(struct fp_ctx *fp, struct dp_app *app, uint32_t v)
{
	__atomic_store_n(&app->hdr->fp_sleeping[fp->core].word, v, __ATOMIC_RELEASE);
}

static void app_activate(struct fp_ctx *fp, struct dp_app *app)
{
	struct dp_app_fp *a = &app->fp[fp->core];

	a->act_idx = fp->nactive;
	a->last_db = fp->now;
	fp->active[fp->nactive++] = app;
	app_sleeping_store(fp, app, 0);
}

static void app_active_remove(struct fp_ctx *fp, struct dp_app *app)
{
	struct dp_app_fp *a = &app->fp[fp->core];
	struct dp_app *last = fp->active[--fp->nactive];

	fp->active[a->act_idx] = last;
	last->fp[fp->core].act_idx = a->act_idx;
	a->act_idx = UINT32_MAX;
}

/* Return: true if @app went idle, false if a doorbell came in meanwhile */
static bool app_deactivate(struct fp_ctx *fp, struct dp_app *app)
{
	app_sleeping_store(fp, app, 1);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!bp_queue_empty(&app->dataq[fp->core])) {
		app_sleeping_store(fp, app, 0);
		return false;
	}
	app_active_remove(fp, app);
	return true;
}

/**
 * fp_app_add - start serving @app's queues on this core (DPM_APP_ADD).  A
 * new app starts active: it is about to listen or connect.
 * Return: 0, or -1 if the core already serves dp->max_apps apps.
 */
int fp_app_add(struct fp_ctx *fp, struct dp_app *app)
{
	DP_ASSERT_FP();
	if (fp->napps >= fp->dp->max_apps)
		return -1;
	struct dp_app_fp *a = &app->fp[fp->core];

	/* kick_pending stays: an event may have been posted already (a flow
	 * of the app installed on this core before APP_ADD reached it) */
	a->idx = fp->napps;
	fp->apps[fp->napps++] = app;
	app_activate(fp, app);
	return 0;
}

/** fp_app_del - forget @app on this core (DPM_APP_DEL): no list keeps it. */
void fp_app_del(struct fp_ctx *fp, struct dp_app *app)
{
	DP_ASSERT_FP();
	struct dp_app_fp *a = &app->fp[fp->core];

	if (a->idx >= fp->napps || fp->apps[a->idx] != app)
		return;
	if (a->act_idx != UINT32_MAX)
		app_active_remove(fp, app);
	if (a->kick_pending) {
		for (uint32_t i = 0; i < fp->nkick; i++) {
			if (fp->kick[i] == app) {
				fp->kick[i] = fp->kick[--fp->nkick];
				break;
			}
		}
		a->kick_pending = false;
	}
	/* the others' held doorbells keep their order (posted frames) */
	uint32_t kept = 0;
	for (uint32_t i = 0; i < fp->nearly; i++)
		if (fp->early[i].app != app)
			fp->early[kept++] = fp->early[i];
	fp->nearly = kept;
	fp_rpc_app_gone(fp, app);
	struct dp_app *last = fp->apps[--fp->napps];
	fp->apps[a->idx] = last;
	last->fp[fp->core].idx = a->idx;
	a->idx = UINT32_MAX;
}

/**
 * fp_flow_validate_tx - pick up tx_written from the app.  It may only grow,
 * and never past what the ring can hold beyond the acknowledged bytes.
 * Return: 0, or -1 if the app wrote garbage (the flow gets reset).
 */
int fp_flow_validate_tx(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & (FPF_DETACHED | FPF_RPC_TX))
		return 0; /* FPF_RPC_TX: the daemon itself fills the ring */
	uint64_t w = __atomic_load_n(&f->shm->tx_written, __ATOMIC_ACQUIRE);
	if (w < f->tx_written || w - f->tx_acked > f->tx_size) {
		fp->cnt[DPC_APP_BAD_ENTRY]++;
		fp_to_sp(fp, DPM_FLOW_BAD_APP, f->flow_id, NULL);
		return -1;
	}
	if (!(f->flags & FPF_TX_FIN_REQ) && w != f->tx_written) {
		/* read after tx_written (acquire): the shift its new bytes were
		 * placed with.  The app moves it only while everything it wrote
		 * is acknowledged, so no byte still to send is placed with an
		 * older one; any value keeps offsets inside the ring. */
		f->tx_shift = __atomic_load_n(&f->shm->tx_shift, __ATOMIC_RELAXED);
		f->tx_written = w;
	}
	return 0;
}

/**
 * fp_flow_move - hand flow @f to the slot described by @mv (a fork child
 * adopting it).  The rings are copied whole, with their shifts, so every byte
 * position keeps its place (bp_ring_off()) and nothing the
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
	if (f->flags & FPF_RPC) {
		mv->status = -EOPNOTSUPP; /* its messages live in the owner's heap */
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
	ns->rx_shift = f->rx_shift;
	ns->rx_consumed = f->rx_consumed;
	ns->tx_written = f->tx_written;
	ns->tx_shift = f->tx_shift;
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
	f->ev_pos = 0; /* its last event went to the old owner's queue */
	mv->status = 0;
	/* send what the old owner left unsent, and let the adopter look */
	fp_touch(fp, f, FPP_OUTPUT | FPP_EV_RX | FPP_EV_TX);
}

static void doorbell_apply(struct fp_ctx *fp, struct dp_app *app, struct fp_flow *f,
			   const struct bp_doorbell *db)
{
	if (!(f->flags & FPF_ACTIVE) || f->gen != db->gen || f->app_id != app->app_id) {
		/* stale (flow closed meanwhile) or forged: harmless, counted */
		dp_app_bad_entry(app);
		fp->cnt[DPC_APP_BAD_ENTRY]++;
		return;
	}
	if (!fp_owns(fp, f))
		return;
	switch (db->op) {
	case BP_DB_TX:
		if (!fp_flow_validate_tx(fp, f))
			fp_touch(fp, f, FPP_OUTPUT);
		break;
	case BP_DB_RX:
		tcp_window_update(fp, f);
		break;
	case BP_DB_MSG_SEND:
		fp_rpc_msg_send(fp, app, f, db->area_off, db->prio);
		break;
	default:
		dp_app_bad_entry(app);
		fp->cnt[DPC_APP_BAD_ENTRY]++;
	}
}

/*
 * The slowpath shows the app a flow only after it queued the flow's
 * FLOW_ADD to the core that will own it, but that core may not have taken
 * it yet: a core takes 32 messages a round, and other messages may be
 * ahead of it.  So a doorbell naming no flow waits until every core's
 * inbox has moved past what it held when the doorbell was taken (and a
 * millisecond, for a burst another core has taken but not yet applied);
 * only then is it bad.  A TX doorbell would be safe anyway (FLOW_ADD reads
 * tx_written); a posted RPC frame is known only by its doorbell.  An app
 * holds at most FP_EARLY_PER_APP places, so one that rings for slots it
 * does not have cannot take them all from the others.
 * Return: true if held.
 */
/* what every inbox holds now, and what the slowpath's outbox has done */
static void early_mark(struct fp_ctx *fp, struct fp_early_db *e)
{
	e->since = fp->now;
	e->outbox_moves = __atomic_load_n(&fp->dp->sp_outbox_moves, __ATOMIC_ACQUIRE);
	for (uint32_t k = 0; k < fp->dp->ncores; k++)
		e->mark[k] = __atomic_load_n(&fp->dp->core[k].inbox->prod.tail, __ATOMIC_ACQUIRE);
}

static bool hold_early(struct fp_ctx *fp, struct dp_app *app, const struct bp_doorbell *db)
{
	uint32_t mine = 0;

	if (fp->nearly >= FP_EARLY_DOORBELLS)
		return false;
	for (uint32_t i = 0; i < fp->nearly; i++)
		mine += fp->early[i].app == app;
	if (mine >= FP_EARLY_PER_APP)
		return false;
	struct fp_early_db *e = &fp->early[fp->nearly++];
	e->app = app;
	e->db = *db;
	early_mark(fp, e);
	return true;
}

/*
 * Has every message queued to any core before @e was held been taken and
 * done?  A core that holds messages for a bucket moving in (parked) has
 * taken them but not done them: the FLOW_ADD the doorbell waits for may
 * be among them, so nothing expires until the move is over.  Nor while
 * the slowpath's outbox holds messages, or moved any since the marks were
 * taken: the FLOW_ADD may be there, or have just left it; the marks
 * start over from the inboxes as they are then.
 */
static bool early_expired(struct fp_ctx *fp, struct fp_early_db *e)
{
	struct dataplane *dp = fp->dp;
	if (__atomic_load_n(&dp->sp_outbox_len, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&dp->sp_outbox_moves, __ATOMIC_ACQUIRE) != e->outbox_moves) {
		early_mark(fp, e);
		return false;
	}
	if (fp->now - e->since < fp->dp->tsc_hz / 1000)
		return false;
	for (uint32_t k = 0; k < fp->dp->ncores; k++) {
		uint32_t taken = __atomic_load_n(&fp->dp->core[k].inbox->cons.tail, __ATOMIC_ACQUIRE);
		if ((int32_t)(taken - e->mark[k]) < 0 ||
		    __atomic_load_n(&fp->dp->core[k].parked, __ATOMIC_ACQUIRE))
			return false;
	}
	return true;
}

/* does @app have a doorbell for @slot held?  (a later one waits behind it) */
static bool held_for(const struct fp_ctx *fp, const struct dp_app *app, uint32_t slot)
{
	for (uint32_t i = 0; i < fp->nearly; i++)
		if (fp->early[i].app == app && fp->early[i].db.slot == slot)
			return true;
	return false;
}

/* the flow id @db's slot names for the fastpath (DP_INVALID_FLOW: none) */
static uint32_t slot_flow_id(const struct dp_app *app, const struct bp_doorbell *db)
{
	return db->slot < app->max_flows ?
	       __atomic_load_n(&app->fp_slot_flow[db->slot], __ATOMIC_RELAXED) : DP_INVALID_FLOW;
}

/*
 * A doorbell names a slot; the fastpath's own slot table names the flow.
 * The app picks the queue from bp_flow_shm.fp_queue, a hint it may get
 * wrong (the flow just moved, or the app lies): then the doorbell goes on
 * to the core that owns the flow's bucket, which validates it.
 */
static void doorbell(struct fp_ctx *fp, struct dp_app *app, const struct bp_doorbell *db,
		     bool early)
{
	struct dataplane *dp = fp->dp;
	uint32_t id = slot_flow_id(app, db);
	struct fp_flow *f = id < dp->cfg.max_flows ? &dp->flows[id] : NULL;

	if (db->op == BP_DB_MSG_DONE) {
		/* names a heap buffer of this core's part, not a flow */
		fp_rpc_msg_done(fp, app, db->slot, db->gen);
		return;
	}
	bool send = db->op == BP_DB_MSG_SEND;

	/* held doorbells go first: a flow another core installed since
	 * early_retry() looked must not let a later one overtake them */
	if (!early && (!f || (fp->nearly && held_for(fp, app, db->slot))) &&
	    hold_early(fp, app, db))
		return;
	if (!f || (db->op != BP_DB_TX && db->op != BP_DB_RX && !send) ||
	    (send && db->prio >= BP_MSG_PRIOS)) {
		dp_app_bad_entry(app);
		fp->cnt[DPC_APP_BAD_ENTRY]++;
		return;
	}
	if (dp->ncores > 1 && !fp->owns[f->bucket % DP_STEER_BUCKETS]) {
		/*
		 * A forward carries 16 + 64 bits.  A send needs its offset
		 * too: it goes as its own type, the app id and class in
		 * @arg (ids below 4096, the max_apps bound), the generation
		 * and offset in @ptr, all checked by the owning core.
		 */
		struct dp_msg m = { .type = DPM_DOORBELL, .flow_id = id, .arg = db->op,
				    .ptr = (void *)(uintptr_t)((uint64_t)app->app_id << 32 | db->gen) };

		if (send) {
			if (app->app_id >= DP_FWD_SEND_APPS) {
				dp_app_bad_entry(app);
				fp->cnt[DPC_APP_BAD_ENTRY]++;
				return;
			}
			m.type = DPM_DOORBELL_SEND;
			m.arg = (uint16_t)(db->prio * DP_FWD_SEND_APPS + app->app_id);
			m.ptr = (void *)(uintptr_t)((uint64_t)db->gen << 32 | db->area_off);
		}
		fp_route_msg(fp, &m, f->bucket);
		return;
	}
	doorbell_apply(fp, app, f, db);
}

/* a doorbell another core took from its queue for a flow of ours */
void fp_doorbell_fwd(struct fp_ctx *fp, struct fp_flow *f, const struct dp_msg *msg)
{
	uint64_t v = (uintptr_t)msg->ptr;
	uint32_t app_id = (uint32_t)(v >> 32);
	struct bp_doorbell db = { .op = msg->arg, .slot = f->slot, .gen = (uint32_t)v };

	if (msg->type == DPM_DOORBELL_SEND) {
		app_id = msg->arg % DP_FWD_SEND_APPS;
		db = (struct bp_doorbell){ .op = BP_DB_MSG_SEND, .prio = msg->arg / DP_FWD_SEND_APPS,
					   .slot = f->slot, .gen = (uint32_t)(v >> 32),
					   .area_off = (uint32_t)v };
	}
	if (app_id >= fp->dp->max_apps)
		return;
	doorbell_apply(fp, &fp->dp->apps[app_id], f, &db);
}

/*
 * Take a batch of doorbells off @app's queue for this core, then a full
 * fence, then act on them: libbypass skips a TX doorbell while its
 * previous one for the flow is still queued, and this fence (paired with
 * one in libbypass) makes sure tx_written is read after the queue's tail
 * was published.  Return: doorbells taken.
 */
static int app_take(struct fp_ctx *fp, struct dp_app *app)
{
	struct bp_doorbell db[DOORBELLS_PER_APP];
	struct bp_queue_view *q = &app->dataq[fp->core];
	int n = 0;

	while (n < DOORBELLS_PER_APP && !bp_queue_pop(q, &db[n]))
		n++;
	if (!n)
		return 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (int k = 0; k < n; k++)
		doorbell(fp, app, &db[k], false);
	return n;
}

/**
 * fp_app_take_all - act on every doorbell @app has queued for this core
 * now (a bounded number: what is there, never what keeps coming).  Used
 * before a shutdown, so frames posted before the app closed go out first.
 * Return: doorbells taken.
 */
int fp_app_take_all(struct fp_ctx *fp, struct dp_app *app)
{
	int n = 0, k;

	for (uint32_t i = 0; i <= app->dataq[fp->core].mask / DOORBELLS_PER_APP + 1; i++) {
		k = app_take(fp, app);
		n += k;
		if (k < DOORBELLS_PER_APP)
			break;
	}
	return n;
}

/*
 * Forwards to other cores wait in our deferred list while their inboxes
 * are full; each doorbell taken may add one.  Past FP_DEFERRED_APPS_MAX
 * the doorbells stay in the apps' queues (which then fill, and the apps
 * wait) until the other cores catch up: apps that ring for flows of a
 * busy core cannot grow the list without bound (it used to end in
 * rte_panic when memory ran out).
 */
static bool forwards_backed_up(const struct fp_ctx *fp)
{
	return fp->ndeferred >= FP_DEFERRED_APPS_MAX;
}

/* an idle app with doorbells queued becomes active */
static void idle_look(struct fp_ctx *fp, struct dp_app *app)
{
	if (app->fp[fp->core].act_idx != UINT32_MAX ||
	    bp_queue_empty(&app->dataq[fp->core]) || forwards_backed_up(fp))
		return;
	app_activate(fp, app);
	app_take(fp, app);
}

/* the held doorbells whose flow is in now, or will never be: act on them */
static void early_retry(struct fp_ctx *fp)
{
	for (uint32_t i = 0; i < fp->nearly;) {
		struct fp_early_db *e = &fp->early[i];

		if (slot_flow_id(e->app, &e->db) >= fp->dp->cfg.max_flows &&
		    !early_expired(fp, e)) {
			i++;
			continue;
		}
		struct fp_early_db d = *e;

		/* in order of arrival: posted frames keep their order */
		memmove(e, e + 1, (fp->nearly - i - 1) * sizeof(*e));
		fp->nearly--;
		doorbell(fp, d.app, &d.db, true);
	}
}

/**
 * fp_apps_poll - serve the doorbells of this core's active apps, send the
 * ones quiet for app_idle_tsc idle, and look at idle apps: all of them
 * after a kick, else the next IDLE_SCAN_PER_ROUND.
 */
void fp_apps_poll(struct fp_ctx *fp)
{
	DP_ASSERT_FP();
	if (fp->nearly)
		early_retry(fp);
	/* backwards: an app that goes idle is replaced by one already seen */
	for (uint32_t i = fp->nactive; i-- > 0;) {
		struct dp_app *app = fp->active[i];
		struct dp_app_fp *a = &app->fp[fp->core];

		if (forwards_backed_up(fp))
			a->last_db = fp->now; /* waiting, not idle */
		else if (app_take(fp, app))
			a->last_db = fp->now;
		else if (fp->now - a->last_db > fp->app_idle_tsc)
			app_deactivate(fp, app);
	}
	bool slept = fp->slept, kicked = fp->kicked;

	fp->slept = fp->kicked = false;
	if (fp->nactive == fp->napps)
		return;
	if (kicked || fp->napps <= IDLE_SCAN_PER_ROUND) {
		/* backwards: an app that turns active stays where it is */
		for (uint32_t i = fp->napps; i-- > 0;)
			idle_look(fp, fp->apps[i]);
		return;
	}
	/* a wakeup without a kick: no idle app rang while we slept, and any
	 * that rang before had its kick read, and was looked at, then */
	if (slept)
		return;
	for (uint32_t n = 0; n < IDLE_SCAN_PER_ROUND; n++) {
		if (fp->idle_scan >= fp->napps)
			fp->idle_scan = 0;
		idle_look(fp, fp->apps[fp->idle_scan++]);
	}
}

/* before blocking: only active apps matter, an idle one kicks the core */
bool fp_apps_have_work(struct fp_ctx *fp)
{
	if (fp->nearly)
		return true; /* doorbells to try again after the next messages */
	if (fp->nrpc_stalled && fp_rpc_has_room(fp))
		return true; /* stalled RPC flows can go on */
	for (uint32_t i = 0; i < fp->nactive; i++)
		if (!bp_queue_empty(&fp->active[i]->dataq[fp->core]))
			return true;
	return false;
}

/* wake @app at the end of this round if it sleeps (events or messages queued) */
void fp_app_kick_later(struct fp_ctx *fp, struct dp_app *app)
{
	struct dp_app_fp *a = &app->fp[fp->core];

	if (!a->kick_pending) {
		a->kick_pending = true;
		fp->kick[fp->nkick++] = app;
	}
}

/*
 * Is @f's last event still in this core's queue, unread?  Then the app has
 * yet to look at the slot, and will see this round's news when it does: a
 * second event would only take room (10,000 busy flows overflowed a queue
 * of 16,384, and every overflow costs the app a rescan of all its slots).
 * The app publishes the queue's tail as it pops and fences before it reads
 * flow state; our fence between this round's state writes and the second
 * look at the tail pairs with that, so either it sees our state or we see
 * the event gone and post another.  A hostile tail only costs its own app
 * events (or room).
 */
static bool event_unread(struct fp_ctx *fp, struct dp_app *app, const struct fp_flow *f)
{
	struct bp_queue *q = app->fp_evq[fp->core].q;

	if (!f->ev_pos || f->ev_core != fp->core)
		return false;
	if (__atomic_load_n(&q->tail, __ATOMIC_ACQUIRE) >= f->ev_pos)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE) < f->ev_pos;
}

static void post(struct fp_ctx *fp, struct dp_app *app, struct fp_flow *f, uint16_t type)
{
	struct bp_event ev = { .type = type, .slot = f->slot, .gen = f->gen };
	struct dp_app_fp *a = &app->fp[fp->core];
	struct bp_queue_view *q = &app->fp_evq[fp->core];

	if (event_unread(fp, app, f)) {
		fp->cnt[DPC_EV_COALESCED]++;
	} else if (bp_queue_push(q, &ev)) {
		/* the app is behind: it rescans every slot when it sees this */
		__atomic_store_n(&app->hdr->evq_overflow, 1, __ATOMIC_RELEASE);
		fp->cnt[DPC_EVQ_OVERFLOW]++;
	} else {
		f->ev_core = (uint16_t)fp->core;
		f->ev_pos = q->own; /* the entry's position + 1 */
	}
	if (!a->kick_pending) {
		a->kick_pending = true;
		fp->kick[fp->nkick++] = app;
	}
}

void fp_apps_post_events(struct fp_ctx *fp, struct fp_flow *f, uint32_t pend)
{
	DP_ASSERT_FP();
	if (f->flags & FPF_DETACHED)
		return; /* its app closed it and may even be gone */
	struct dp_app *app = &fp->dp->apps[f->app_id];
	/* one event a flow a round: both only say "look at this slot" (the
	 * app reads the state from bp_flow_shm), and a response that also
	 * acks the request would otherwise cost two entries, overflowing
	 * the queue at half the flows */
	if (pend & (FPP_EV_RX | FPP_EV_TX))
		post(fp, app, f, pend & FPP_EV_RX ? BP_EV_RX : BP_EV_TX);
}

/* wake apps that got events and are blocked in bp_wait() */
unsigned fp_apps_kick(struct fp_ctx *fp)
{
	DP_ASSERT_FP();
	unsigned woken = 0;

	if (!fp->nkick)
		return 0; /* the common idle round: no fence */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (uint32_t i = 0; i < fp->nkick; i++) {
		struct dp_app *app = fp->kick[i];

		app->fp[fp->core].kick_pending = false;
		if (__atomic_load_n(&app->hdr->app_sleeping, __ATOMIC_ACQUIRE)) {
			/* the daemon's own non-blocking description
			 * (slowpath/wake.c): a full pipe means the app
			 * has a wakeup pending already */
			uint64_t one = 1;
			ssize_t r = write(app->wake_fd, &one, sizeof(one));
			(void)r;
			woken++;
		}
	}
	fp->nkick = 0;
	return woken;
}

/* around blocking: idle apps have fp_sleeping set all along */
void fp_apps_set_sleeping(struct fp_ctx *fp, uint32_t sleeping)
{
	for (uint32_t i = 0; i < fp->nactive; i++)
		app_sleeping_store(fp, fp->active[i], sleeping);
}
