// SPDX-License-Identifier: MIT
/*
 * dataplane.c - setup of the state the fastpath cores and the slowpath
 * share, and the message rings between them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_ring.h>
#include <rte_thash.h>

#include "dataplane.h"
#include "rpc_frame_rx.h"

#define TIMER_RING_SIZE 16384 /* flow ids a core reports per slowpath tick, at most */

/* The RSS key programmed into NICs (port.c): symmetric is not needed, we
 * only ever hash a flow as it arrives.  Microsoft's default key. */
const uint8_t dp_rss_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/**
 * dp_init - everything the threads share, after EAL init and before the
 * port: eventfds, the flow and app arrays, the message rings and the steering table
 * (bucket b to core b mod cores).
 */
int dp_init(struct dataplane *dp, char *err, size_t errlen)
{
	dp->tsc_hz = rte_get_tsc_hz();
	dp->ip = dp->cfg.ip;
	dp->netmask = htonl(dp->cfg.prefix_len ? ~0u << (32 - dp->cfg.prefix_len) : 0);
	dp->gateway = dp->cfg.gateway;
	dp->ncores = dp->cfg.fp_cores ? dp->cfg.fp_cores : 1;
	if (dp->ncores > DP_MAX_CORES)
		dp->ncores = DP_MAX_CORES;
	dp->nqueues = 1;
	rte_spinlock_init(&dp->frag_lock);
	/* the kernel's CSPRNG: rte_rand()'s output predicts the rest */
	if (getrandom(&dp->ip_ident_key, sizeof(dp->ip_ident_key), 0) != sizeof(dp->ip_ident_key) ||
	    getrandom(dp->ip_idents, sizeof(dp->ip_idents), 0) != sizeof(dp->ip_idents)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	dp->sp_kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	dp->flows = calloc(dp->cfg.max_flows, sizeof(*dp->flows));
	/* calloc: an entry's pages are touched only when an app attaches there */
	dp->max_apps = dp->cfg.max_apps ? dp->cfg.max_apps : 1;
	if (dp->max_apps > DP_APPS_LIMIT)
		dp->max_apps = DP_APPS_LIMIT;
	dp->apps = calloc(dp->max_apps, sizeof(*dp->apps));
	dp->tenants = aligned_alloc(RTE_CACHE_LINE_SIZE, DP_MAX_TENANTS * sizeof(*dp->tenants));
	if (dp->tenants)
		memset(dp->tenants, 0, DP_MAX_TENANTS * sizeof(*dp->tenants));
	char name[32];
	snprintf(name, sizeof(name), "to_sp_%d", getpid());
	dp->to_sp = rte_ring_create_elem(name, sizeof(struct dp_msg), DP_INBOX_SIZE, SOCKET_ID_ANY,
					 RING_F_SC_DEQ);
	bool ok = dp->sp_kick_fd >= 0 && dp->flows && dp->apps && dp->tenants && dp->to_sp;
	for (uint32_t k = 0; k < DP_MAX_CORES; k++) {
		dp->core[k].kick_fd = dp->core[k].app_kick_fd = -1;
		dp->core[k].deferred_epoch = UINT64_MAX; /* nothing deferred */
	}
	for (uint32_t k = 0; ok && k < dp->ncores; k++) {
		struct dp_core *c = &dp->core[k];
		snprintf(name, sizeof(name), "inbox%u_%d", k, getpid());
		c->inbox = rte_ring_create_elem(name, sizeof(struct dp_msg), DP_INBOX_SIZE,
						SOCKET_ID_ANY, RING_F_SC_DEQ);
		c->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		/* bound once no other daemon serves our socket (sp_fp_kick_bind()) */
		c->app_kick_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		snprintf(name, sizeof(name), "timers%u_%d", k, getpid());
		c->timer_ring = rte_ring_create_elem(name, sizeof(uint32_t), TIMER_RING_SIZE,
						     SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		c->rxq = k == 0 ? 0 : UINT16_MAX;
		c->txq = 0;
		ok = c->inbox && c->timer_ring && c->kick_fd >= 0 && c->app_kick_fd >= 0;
	}
	if (!ok) {
		snprintf(err, errlen, "out of memory setting up %u flows and %u apps on %u cores; "
			 "lower [daemon] max_flows, [apps] max_apps or [fastpath] cores",
			 dp->cfg.max_flows, dp->max_apps, dp->ncores);
		return -1;
	}
	for (uint32_t i = 0; i < dp->cfg.max_flows; i++)
		dp->flows[i].flow_id = i;
	for (uint32_t b = 0; b < DP_STEER_BUCKETS; b++)
		dp->steer[b] = (uint8_t)(b % dp->ncores);
	return 0;
}

/** dp_fini - undo dp_init() once every thread has stopped. */
void dp_fini(struct dataplane *dp)
{
	for (uint32_t k = 0; k < dp->ncores; k++) {
		int fds[] = { dp->core[k].kick_fd, dp->core[k].app_kick_fd };
		for (unsigned i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		rte_ring_free(dp->core[k].inbox);
		dp->core[k].inbox = NULL;
		rte_ring_free(dp->core[k].timer_ring);
		dp->core[k].timer_ring = NULL;
	}
	close(dp->sp_kick_fd);
	/* flows still installed at exit: their framer state (FLOW_DEL_DONE
	 * frees it otherwise) */
	for (uint32_t i = 0; dp->flows && i < dp->cfg.max_flows; i++) {
		rpc_rx_free(dp->flows[i].rpc);
		dp->flows[i].rpc = NULL;
	}
	free(dp->flows);
	dp->flows = NULL;
	free(dp->tenants);
	dp->tenants = NULL;
	free(dp->apps);
	dp->apps = NULL;
	rte_ring_free(dp->to_sp);
}

uint32_t dp_bucket_hash(const struct dataplane *dp, uint32_t raddr, uint32_t laddr,
			uint16_t rport, uint16_t lport)
{
	if (dp->rss) {
		/* the NIC's Toeplitz over (src, dst, sport, dport) as received */
		uint32_t tuple[3] = { rte_be_to_cpu_32(raddr), rte_be_to_cpu_32(laddr),
				      ((uint32_t)rport << 16) | lport };
		return rte_softrss(tuple, 3, dp_rss_key);
	}
	uint64_t a = ((uint64_t)raddr << 32) | laddr;
	uint32_t h = rte_hash_crc_8byte(a, ((uint32_t)rport << 16) | lport);
	return h ^ (h >> 8) ^ (h >> 16); /* spread the low bits the table uses */
}

/**
 * dp_ip_ident - the IP ID of a datagram without DF to @daddr (network
 * order) of protocol @proto: the next of that destination's counter in
 * dp->ip_idents, which every core and the slowpath take from.
 */
uint16_t dp_ip_ident(struct dataplane *dp, uint32_t daddr, uint8_t proto)
{
	uint16_t *ctr = &dp->ip_idents[siphash24_3u64(dp->ip_ident_key.k, daddr, proto, 0) &
				       (DP_IP_IDENTS - 1)];

	return __atomic_fetch_add(ctr, 1, __ATOMIC_RELAXED);
}

/*
 * Wake @core if it sleeps.  Pairs with fp_block(): the core publishes
 * `sleeping` and then looks at its inbox; we publish the message and then
 * look at `sleeping`, so one of the two always sees the other.
 */
void dp_kick_core(struct dataplane *dp, uint32_t core)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&dp->core[core].sleeping, __ATOMIC_ACQUIRE)) {
		uint64_t one = 1;
		if (write(dp->core[core].kick_fd, &one, sizeof(one)) < 0)
			return; /* eventfd saturated: the core is awake anyway */
	}
}

int dp_send_to_core(struct dataplane *dp, uint32_t core, uint16_t type, uint32_t flow_id,
		    uint16_t arg, void *ptr)
{
	struct dp_msg m = { .type = type, .arg = arg, .flow_id = flow_id, .ptr = ptr };
	if (core >= dp->ncores || rte_ring_mp_enqueue_elem(dp->core[core].inbox, &m, sizeof(m)))
		return -1;
	dp_kick_core(dp, core);
	return 0;
}

uint32_t dp_msg_core(struct dataplane *dp, uint16_t type, uint32_t flow_id)
{
	if (flow_id < dp->cfg.max_flows && type != DPM_TX_PKT && type != DPM_APP_ADD &&
	    type != DPM_APP_DEL && type != DPM_RX_REINJECT)
		return dp_steer(dp, dp->flows[flow_id].bucket); /* see fp_steer.c: grace */
	return 0;
}

int dp_send_to_fp(struct dataplane *dp, uint16_t type, uint32_t flow_id, uint16_t arg, void *ptr)
{
	return dp_send_to_core(dp, dp_msg_core(dp, type, flow_id), type, flow_id, arg, ptr);
}

int dp_send_to_sp(struct dataplane *dp, uint16_t type, uint32_t flow_id, uint16_t arg, void *ptr)
{
	struct dp_msg m = { .type = type, .arg = arg, .flow_id = flow_id, .ptr = ptr };
	return rte_ring_mp_enqueue_elem(dp->to_sp, &m, sizeof(m)) ? -1 : 0;
}
