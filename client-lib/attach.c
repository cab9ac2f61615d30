// SPDX-License-Identifier: MIT
/*
 * attach.c - the attach handshake with fastpathd, validation of the
 * shared region it hands us, and detach.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "bp_internal.h"
#include "bypass/region_layout.h"
#include "ctl_wire.h"

/* A daemon that accepts the connection but never answers must not hang
 * the app forever. */
#define BP_ATTACH_TIMEOUT_S 10

/* then one kick socket per fastpath core (slowpath/wake.c) */
enum { FD_REGION, FD_WAKE, FD_SP_DOORBELL, FD_FP_KICK, FD_MAX = FD_FP_KICK + BP_MAX_FP_QUEUES };

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Does [off, off + len) lie inside a region of @size bytes? */
static bool in_region(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* The queues, their entry sizes and who produces what: region_layout.h,
 * the daemon's own description of the layout. */
#define Q_COUNT BP_RQ_MAX

/* Read a queue's geometry exactly once into @entries and vet it. */
static int check_queue(const uint8_t *base, uint64_t size, const struct bp_region_hdr *h, int i,
		       uint32_t *entries, char *err, size_t errlen)
{
	uint64_t off = bp_region_hdr_q_off(h, i);
	const struct bp_queue *q;
	uint32_t n, elem;

	if (off % BP_CACHELINE || !in_region(off, sizeof(*q), size)) {
		set_err(err, errlen, "fastpathd region is malformed: %s queue offset %llu",
			bp_region_queue_info(i).name, (unsigned long long)off);
		return -1;
	}
	q = (const struct bp_queue *)(base + off);
	n = __atomic_load_n(&q->size, __ATOMIC_RELAXED);
	elem = __atomic_load_n(&q->elem_size, __ATOMIC_RELAXED);
	if (!pow2(n) || n < 2 || n > (1u << 24) || elem != bp_region_queue_info(i).elem_size ||
	    !in_region(off, bp_queue_bytes(n, elem), size)) {
		set_err(err, errlen,
			"fastpathd region is malformed: %s queue size %u elem %u (expected %u)",
			bp_region_queue_info(i).name, n, elem, bp_region_queue_info(i).elem_size);
		return -1;
	}
	*entries = n;
	return 0;
}

/*
 * Everything we will ever index with must be proven in bounds here.  @h is
 * our private copy of the header: the shared one could change under us.
 */
static int check_region(const uint8_t *base, uint64_t size, const struct bp_region_hdr *h,
			uint32_t entries[Q_COUNT], char *err, size_t errlen)
{
	uint64_t per_slot;

	if (h->magic != BP_REGION_MAGIC) {
		set_err(err, errlen, "fastpathd region has a bad magic number (0x%llx); "
			"is the socket really fastpathd's?", (unsigned long long)h->magic);
		return -1;
	}
	if (h->abi_version != BP_ABI_VERSION) {
		set_err(err, errlen,
			"ABI mismatch: fastpathd uses shared-memory ABI version %u but this "
			"libbypass was built for version %u; rebuild the app against the "
			"daemon's libbypass (or run a matching fastpathd)",
			h->abi_version, BP_ABI_VERSION);
		return -1;
	}
	if (h->region_size != size) {
		set_err(err, errlen, "fastpathd region size mismatch: header says %llu, "
			"attach reply %llu", (unsigned long long)h->region_size,
			(unsigned long long)size);
		return -1;
	}
	if (!h->fp_queues || h->fp_queues > BP_MAX_FP_QUEUES) {
		set_err(err, errlen, "fastpathd region is malformed: %u fastpath queue pairs",
			h->fp_queues);
		return -1;
	}
	for (int i = 0; i < bp_rq_count(h->fp_queues); i++)
		if (check_queue(base, size, h, i, &entries[i], err, errlen))
			return -1;
	per_slot = (uint64_t)h->rx_buf_size + h->tx_buf_size;
	if (!h->max_flows || h->max_flows > (1u << 20) || h->flows_off % BP_CACHELINE ||
	    !in_region(h->flows_off, (uint64_t)h->max_flows * sizeof(struct bp_flow_shm), size) ||
	    !pow2(h->rx_buf_size) || !pow2(h->tx_buf_size) ||
	    !in_region(h->buffers_off, per_slot * h->max_flows, size)) {
		set_err(err, errlen, "fastpathd region is malformed: %u flows, rx %u tx %u bytes",
			h->max_flows, h->rx_buf_size, h->tx_buf_size);
		return -1;
	}
	if (h->heap_size && (h->heap_off % BP_HEAP_BLOCK || !in_region(h->heap_off, h->heap_size, size))) {
		set_err(err, errlen, "fastpathd region is malformed: message heap at %llu, %llu bytes",
			(unsigned long long)h->heap_off, (unsigned long long)h->heap_size);
		return -1;
	}
	if (h->txarea_size && (h->txarea_off % BP_TXAREA_ALIGN ||
			       !in_region(h->txarea_off, h->txarea_size, size) ||
			       h->txarea_size / BP_TXAREA_ALIGN > UINT32_MAX)) {
		set_err(err, errlen, "fastpathd region is malformed: send area at %llu, %llu bytes",
			(unsigned long long)h->txarea_off, (unsigned long long)h->txarea_size);
		return -1;
	}
	return 0;
}

static void init_ctx(struct bp_ctx *ctx, uint8_t *base, uint64_t size,
		     const struct bp_region_hdr *h, const uint32_t entries[Q_COUNT])
{
	struct bp_queue_view *views[Q_COUNT] = { &ctx->ctrlq, &ctx->sp_evq };

	for (uint32_t k = 0; k < h->fp_queues; k++) {
		views[bp_rq_data(k)] = &ctx->dataq[k];
		views[bp_rq_fp_ev(k)] = &ctx->fp_evq[k];
		views[bp_rq_msg(k)] = &ctx->msgq[k];
	}
	ctx->heap_off = h->heap_off;
	ctx->heap_size = h->heap_size;
	ctx->txarea_off = h->txarea_off;
	ctx->txarea_size = h->txarea_size;
	ctx->nqueues = h->fp_queues;
	ctx->base = base;
	ctx->region_size = size;
	ctx->hdr = (struct bp_region_hdr *)base;
	ctx->max_flows = h->max_flows;
	ctx->rx_size = h->rx_buf_size;
	ctx->tx_size = h->tx_buf_size;
	ctx->flows = (struct bp_flow_shm *)(base + h->flows_off);
	ctx->buffers_off = h->buffers_off;
	ctx->local_ip = h->local_ip;
	/* we produce the ctrl and data queues, and consume the event queues */
	for (int i = 0; i < bp_rq_count(h->fp_queues); i++)
		bp_queue_view_init(views[i], (struct bp_queue *)(base + bp_region_hdr_q_off(h, i)),
				   entries[i], bp_region_queue_info(i).elem_size,
				   bp_region_queue_info(i).app_produces);
	for (uint32_t i = 0; i < ctx->max_flows; i++)
		ctx->slots[i].q_head = ctx->slots[i].q_tail = ctx->slots[i].q_next = -1;
}

static void set_timeout(int fd, int secs)
{
	struct timeval tv = { .tv_sec = secs };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int handshake(int sock, const struct bp_attach_opts *opts, const char *path,
		     Bypass__CtlMsg **reply, int *fds, int *nfds_out, char *err, size_t errlen)
{
	Bypass__AttachRequest req = BYPASS__ATTACH_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	Bypass__AttachReply *rep;
	int nfds = 0, r;

	req.abi_version = BP_ABI_VERSION;
	req.app_name = (char *)(opts && opts->app_name ? opts->app_name
					: program_invocation_short_name);
	req.tenant = (char *)(opts && opts->tenant ? opts->tenant : "default");
	if (opts && opts->msg_heap) {
		req.has_msg_heap = 1;
		req.msg_heap = opts->msg_heap;
	}
	if (opts && opts->msg_max) {
		req.has_msg_max = 1;
		req.msg_max = opts->msg_max;
	}
	m.msg_case = BYPASS__CTL_MSG__MSG_ATTACH_REQ;
	m.attach_req = &req;

	r = ctl_send(sock, &m, NULL, 0);
	if (r) {
		set_err(err, errlen, "attach request to fastpathd at %s failed: %s",
			path, strerror(-r));
		return r;
	}
	r = ctl_recv(sock, reply, fds, &nfds, FD_MAX);
	if (r == -EAGAIN || r == -ETIMEDOUT) {
		set_err(err, errlen, "fastpathd at %s did not answer the attach request "
			"within %d s (is it stuck? check its log)", path, BP_ATTACH_TIMEOUT_S);
		return -ETIMEDOUT;
	}
	if (r == -ECONNRESET) {
		set_err(err, errlen, "fastpathd at %s closed the connection during attach "
			"(check its log)", path);
		return r;
	}
	if (r) {
		set_err(err, errlen, "bad attach reply from fastpathd at %s: %s",
			path, strerror(-r));
		return r;
	}
	r = -EPROTO;
	if ((*reply)->msg_case == BYPASS__CTL_MSG__MSG_CTL_ERROR && (*reply)->ctl_error &&
	    (*reply)->ctl_error->error) {
		/* a daemon of an older control protocol: its text says what to do */
		set_err(err, errlen, "fastpathd at %s refused to attach: %s", path,
			(*reply)->ctl_error->error);
		r = (*reply)->ctl_error->status < 0 ? (*reply)->ctl_error->status : -EPROTO;
		goto fail;
	}
	if ((*reply)->msg_case != BYPASS__CTL_MSG__MSG_ATTACH_REPLY) {
		set_err(err, errlen, "fastpathd at %s sent an unexpected message "
			"instead of an attach reply", path);
		goto fail;
	}
	rep = (*reply)->attach_reply;
	if (rep->status) {
		set_err(err, errlen, "fastpathd refused to attach: %s",
			rep->error && *rep->error ? rep->error : strerror(abs(rep->status)));
		r = -abs(rep->status);
		goto fail;
	}
	if (rep->has_abi_version && rep->abi_version != BP_ABI_VERSION) {
		set_err(err, errlen,
			"ABI mismatch: fastpathd uses shared-memory ABI version %u but this "
			"libbypass was built for version %u; rebuild the app against the "
			"daemon's libbypass (or run a matching fastpathd)",
			rep->abi_version, BP_ABI_VERSION);
		goto fail;
	}
	if (nfds <= FD_FP_KICK) {
		set_err(err, errlen, "attach reply from fastpathd carried %d file "
			"descriptors, expected at least %d", nfds, FD_FP_KICK + 1);
		goto fail;
	}
	*nfds_out = nfds;
	return 0;
fail:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	bypass__ctl_msg__free_unpacked(*reply, NULL);
	*reply = NULL;
	return r;
}

static int map_region(struct bp_ctx *ctx, int memfd, uint64_t size, char *err, size_t errlen)
{
	uint32_t entries[Q_COUNT];
	struct bp_region_hdr h;
	struct stat st;
	void *base;
	int r;

	if (fstat(memfd, &st) || (uint64_t)st.st_size < size || size < sizeof(h) ||
	    size > (uint64_t)SIZE_MAX / 2) {
		set_err(err, errlen, "fastpathd region descriptor is unusable "
			"(size %llu)", (unsigned long long)size);
		return -EPROTO;
	}
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (base == MAP_FAILED) {
		r = -errno;
		set_err(err, errlen, "cannot map the fastpathd region (%llu bytes): %s",
			(unsigned long long)size, strerror(-r));
		return r;
	}
	memcpy(&h, base, sizeof(h));
	if (check_region(base, size, &h, entries, err, errlen)) {
		munmap(base, size);
		return -EPROTO;
	}
	ctx->slots = calloc(h.max_flows, sizeof(*ctx->slots));
	ctx->news = calloc(h.max_flows, sizeof(*ctx->news));
	if (!ctx->slots || !ctx->news) {
		free(ctx->slots);
		free(ctx->news);
		munmap(base, size);
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	init_ctx(ctx, base, size, &h, entries);
	return 0;
}

static int init_sync(struct bp_ctx *ctx)
{
	pthread_condattr_t ca;
	int r;

	r = pthread_mutex_init(&ctx->lock, NULL);
	if (r)
		return -r;
	pthread_condattr_init(&ca);
	/* Timed waits must not jump with the wall clock. */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = pthread_cond_init(&ctx->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (r) {
		pthread_mutex_destroy(&ctx->lock);
		return -r;
	}
	return 0;
}

BP_API struct bp_ctx *bp_attach(const struct bp_attach_opts *opts, char *err, size_t errlen)
{
	const char *path = ctl_socket_path(opts ? opts->socket_path : NULL);
	Bypass__CtlMsg *reply = NULL;
	struct bp_ctx *ctx;
	int fds[FD_MAX], nfds = 0;
	uint64_t size;
	int sock, r;

	set_err(err, errlen, "no error");
	if (opts && opts->cc && strlen(opts->cc) >= sizeof(ctx->cc)) {
		set_err(err, errlen, "congestion control name '%s' is too long "
			"(fastpathd --help-config lists [tcp] cc values)", opts->cc);
		errno = EINVAL;
		return NULL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		set_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (opts && opts->cc)
		strncpy(ctx->cc, opts->cc, sizeof(ctx->cc));
	r = init_sync(ctx);
	if (r) {
		set_err(err, errlen, "pthread init: %s", strerror(-r));
		free(ctx);
		errno = -r;
		return NULL;
	}
	sock = ctl_client_connect(path, err, errlen);
	if (sock < 0) {
		r = sock;
		goto fail_sync;
	}
	set_timeout(sock, BP_ATTACH_TIMEOUT_S);
	r = handshake(sock, opts, path, &reply, fds, &nfds, err, errlen);
	if (r)
		goto fail_sock;

	/* absent: 1.0, the protocol before the version existed */
	ctx->daemon_proto = reply->has_proto_major && reply->has_proto_minor ?
			    reply->proto_major << 16 | (reply->proto_minor & 0xffff) : 1u << 16;
	size = reply->attach_reply->has_region_size ? reply->attach_reply->region_size : 0;
	if (!size) {
		struct stat st;

		if (!fstat(fds[FD_REGION], &st))
			size = (uint64_t)st.st_size;
	}
	bypass__ctl_msg__free_unpacked(reply, NULL);
	r = map_region(ctx, fds[FD_REGION], size, err, errlen);
	close(fds[FD_REGION]); /* the mapping keeps the memory alive */
	if (!r && nfds - FD_FP_KICK != (int)ctx->nqueues) {
		set_err(err, errlen, "attach reply from fastpathd carried %d kick descriptors "
			"for %u fastpath cores", nfds - FD_FP_KICK, ctx->nqueues);
		munmap(ctx->base, ctx->region_size);
		free(ctx->slots);
		free(ctx->news);
		r = -EPROTO;
	}
	if (r) {
		for (int i = FD_WAKE; i < nfds; i++)
			close(fds[i]);
		goto fail_sock;
	}
	/* The socket stays open but idle: its EOF is how the daemon learns
	 * that we died.  No more timeouts on it. */
	set_timeout(sock, 0);
	ctx->sock_fd = sock;
	snprintf(ctx->sock_path, sizeof(ctx->sock_path), "%s", path);
	ctx->wake_fd = fds[FD_WAKE];
	ctx->sp_db_fd = fds[FD_SP_DOORBELL];
	for (uint32_t k = 0; k < ctx->nqueues; k++)
		ctx->fp_kick_fd[k] = fds[FD_FP_KICK + k];
	/* bp_wait() resets the wake fd by reading until it would block, and
	 * a kick into a full pipe must not block: a wakeup is pending then
	 * (the daemon's sockets are sent to with MSG_DONTWAIT anyway) */
	for (int i = FD_WAKE; i < nfds; i++)
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	set_err(err, errlen, "no error");
	return ctx;

fail_sock:
	close(sock);
fail_sync:
	pthread_cond_destroy(&ctx->cond);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
	errno = -r;
	return NULL;
}

/*
 * Has a flow the app closed gracefully finished as far as we can tell?
 * Our bytes must be acknowledged; if the peer's FIN is in, only the ack of
 * ours is missing (one round trip) and the daemon will report CLOSED.  A
 * peer that keeps its side open is not worth waiting for.
 */
static bool linger_done(struct bp_ctx *ctx, uint32_t i)
{
	struct bp_flow_shm *f = &ctx->flows[i];
	struct bp_slot *s = &ctx->slots[i];
	uint32_t state = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
	uint32_t flags = __atomic_load_n(&f->flags, __ATOMIC_ACQUIRE);

	if (s->kind != BPS_NONE || !s->lingering ||
	    __atomic_load_n(&f->gen, __ATOMIC_RELAXED) != s->gen ||
	    state != BP_FS_ESTABLISHED || (flags & BP_FF_RESET))
		return true;
	/* frames posted by class: the daemon sends them and then the FIN on
	 * its own (the region stays mapped until the flow is gone), and the
	 * ring's end is the daemon's to know, not ours */
	if (s->msg_tx)
		return true;
	if (__atomic_load_n(&f->tx_acked, __ATOMIC_ACQUIRE) != s->tx_written)
		return false;
	return !(flags & BP_FF_PEER_FIN);
}

static bool lingering(struct bp_ctx *ctx)
{
	for (uint32_t i = 0; i < ctx->max_flows; i++)
		if (!linger_done(ctx, i))
			return true;
	return false;
}

/*
 * Give every handle back, let the slowpath take the requests, and give
 * gracefully closed flows a bounded chance to deliver their last bytes and
 * FIN before our socket's EOF makes the daemon reset what is left.
 */
static void close_all(struct bp_ctx *ctx)
{
	uint64_t deadline = bpi_now_ms() + BP_DETACH_DRAIN_MS;

	for (uint32_t i = 0; i < ctx->max_flows && !ctx->dead; i++) {
		struct bp_slot *s = &ctx->slots[i];
		struct bp_ctrl_req req = { .slot = i, .gen = s->gen, .posted = s->posts };
		uint64_t now = bpi_now_ms();

		if (s->kind == BPS_NONE)
			continue;
		req.op = s->kind == BPS_PENDING ? BP_CTRL_ABORT : BP_CTRL_CLOSE;
		if (now >= deadline ||
		    bpi_ctrl_push(ctx, &req, (int)(deadline - now)))
			break;
		s->lingering = s->kind == BPS_FLOW;
		s->kind = BPS_NONE;
	}
	bpi_ctrl_wait_taken(ctx, deadline);
	deadline = bpi_now_ms() + BP_DETACH_LINGER_MS;
	while (!ctx->dead && lingering(ctx)) {
		uint64_t now = bpi_now_ms();

		/* TX and CLOSED events wake us; the cap covers the rest */
		if (now >= deadline || bpi_wait_locked(ctx, (int)(deadline - now), true) < 0)
			return;
	}
}

BP_API void bp_detach(struct bp_ctx *ctx)
{
	if (!ctx)
		return;
	bpi_lock(ctx);
	close_all(ctx);
	bpi_unlock(ctx);
	munmap(ctx->base, ctx->region_size);
	close(ctx->sock_fd);
	close(ctx->wake_fd);
	close(ctx->sp_db_fd);
	for (uint32_t k = 0; k < ctx->nqueues; k++)
		close(ctx->fp_kick_fd[k]);
	free(ctx->slots);
	free(ctx->news);
	bpi_txarea_free(ctx->txarea);
	pthread_cond_destroy(&ctx->cond);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

BP_API uint32_t bp_local_ip(const struct bp_ctx *ctx)
{
	return ctx ? ctx->local_ip : 0;
}

/**
 * bp_forget_after_fork - in a fork()ed child: drop the parent's context
 * without touching its flows.  Only the child's copies of the descriptors
 * and mapping go away; the parent keeps working, and the daemon still sees
 * the parent's socket close when the parent dies.  Async-signal-safe calls
 * only (it runs in an atfork handler); the struct itself is leaked.
 */
void bp_forget_after_fork(struct bp_ctx *ctx)
{
	munmap(ctx->base, ctx->region_size);
	close(ctx->sock_fd);
	close(ctx->wake_fd);
	close(ctx->sp_db_fd);
	for (uint32_t k = 0; k < ctx->nqueues; k++)
		close(ctx->fp_kick_fd[k]);
}
