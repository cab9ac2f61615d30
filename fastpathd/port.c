// SPDX-License-Identifier: MIT
/*
 * port.c - EAL arguments from the config, and bring-up of the one DPDK
 * port fastpathd owns: PCI NICs and virtual devices (af_packet, af_xdp,
 * tap, memif ...) are handled the same way.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>

#include "pkt.h"
#include "port.h"

#define RX_DESC_AUTO_MAX 4096
#define RX_DESC_AUTO_MIN 512
#define TX_DESC 1024

/*
 * Receive descriptors per queue.  Deep by default: on a CPU shared with
 * apps the fastpath can be off its CPU for milliseconds, and what arrives
 * meanwhile must wait in the ring (10,000 connections from a Linux client
 * over af_xdp lost 13% of their segments to a 1024-entry ring, each loss
 * a retransmission timeout).  Auto mode leaves half the mbuf pool for
 * the rings' refill and for frames in flight.
 */
static uint16_t rx_desc_want(const struct dataplane *dp)
{
	if (dp->cfg.rx_desc)
		return (uint16_t)RTE_MIN(dp->cfg.rx_desc, UINT16_MAX / 2 + 1);
	uint32_t n = RX_DESC_AUTO_MAX;
	while (n > RX_DESC_AUTO_MIN && (uint64_t)dp->nqueues * (n + TX_DESC) > dp->cfg.mbufs / 2)
		n /= 2;
	return (uint16_t)n;
}

/* "0000:03:00.0" or "03:00.0" */
static bool looks_like_pci(const char *s)
{
	unsigned a, b, c, d;
	char tail;
	return sscanf(s, "%x:%x:%x.%x%c", &a, &b, &c, &d, &tail) == 4 ||
	       sscanf(s, "%x:%x.%x%c", &a, &b, &c, &tail) == 3;
}

int port_eal_args(const struct bp_config *c, char *storage, size_t storage_len, char **argv,
		  int max_args)
{
	int argc = 0;
	size_t used = 0;
#define ADD(...) do { \
		int n_ = snprintf(storage + used, storage_len - used, __VA_ARGS__); \
		if (n_ < 0 || (size_t)n_ >= storage_len - used || argc >= max_args - 1) \
			return -1; \
		argv[argc++] = storage + used; \
		used += (size_t)n_ + 1; \
	} while (0)

	ADD("fastpathd");
	ADD("-l");
	ADD("%s", c->lcores);
	/* leave no files behind in /var/run/dpdk or hugetlbfs; the prefix
	 * still names the runtime directory, where DPDK telemetry's socket
	 * lands (/var/run/dpdk/PREFIX/dpdk_telemetry.v2, see README), so
	 * daemons side by side each get their own */
	if (c->no_huge) {
		ADD("--no-huge");
		ADD("--no-shconf");
	} else {
		ADD("--in-memory");
	}
	ADD("--file-prefix=%s", c->file_prefix);
	ADD("-m");
	ADD("%u", c->mem_mb);
	if (!c->verbose)
		ADD("--log-level=*:warning");
	if (looks_like_pci(c->port_dev)) {
		ADD("-a");
		ADD("%s", c->port_dev);
	} else {
		ADD("--no-pci");
		ADD("--vdev=%s", c->port_dev);
	}
	argv[argc] = NULL;
	return argc;
#undef ADD
}

extern const uint8_t dp_rss_key[40];

/*
 * How many queue pairs, and who polls which.  A NIC with RSS gets one pair
 * per fastpath core and steers by our table (its RETA mirrors dp->steer).
 * Virtual ports (af_packet, af_xdp on a veth, memif, tap) get one pair:
 * core 0 receives and dispatches each frame to the core owning its bucket,
 * and the cores share the transmit queue under a lock.
 */
static void plan_queues(struct dataplane *dp)
{
	struct rte_eth_dev_info info;
	uint16_t nq = 1;
	dp->rss = false;
	if (dp->ncores > 1 && looks_like_pci(dp->cfg.port_dev) &&
	    rte_eth_dev_info_get(dp->port_id, &info) == 0 &&
	    (info.flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_TCP) && info.reta_size) {
		nq = (uint16_t)RTE_MIN(dp->ncores, (uint32_t)RTE_MIN(info.max_rx_queues,
							      info.max_tx_queues));
		dp->rss = nq > 1;
		if (!dp->rss)
			nq = 1;
	}
	dp->nqueues = nq;
	dp->tx_shared = dp->ncores > nq;
	for (uint32_t k = 0; k < dp->ncores; k++) {
		dp->core[k].rxq = k < nq ? (uint16_t)k : UINT16_MAX;
		dp->core[k].txq = (uint16_t)(k % nq);
	}
	for (uint32_t q = 0; q < DP_MAX_CORES; q++)
		rte_spinlock_init(&dp->txq_lock[q]);
	rte_spinlock_init(&dp->reta_lock);
}

/**
 * fp_port_steer_changed - mirror dp->steer into the NIC's RETA, so the NIC
 * delivers each bucket to the queue of the core that owns it now.  Without
 * RSS there is nothing to do: core 0 dispatches by the table itself.
 */
void fp_port_steer_changed(struct dataplane *dp)
{
	struct rte_eth_dev_info info;
	if (!dp->rss || rte_eth_dev_info_get(dp->port_id, &info) || !info.reta_size)
		return;
	uint16_t n = info.reta_size;
	struct rte_eth_rss_reta_entry64 reta[n / RTE_ETH_RETA_GROUP_SIZE + 1];
	/* cores moving buckets at once: one update at a time (ethdev's
	 * control calls are not thread-safe), each from the table as it is
	 * then, so the last one written is the newest */
	rte_spinlock_lock(&dp->reta_lock);
	memset(reta, 0, sizeof(reta));
	for (uint16_t i = 0; i < n; i++) {
		struct rte_eth_rss_reta_entry64 *e = &reta[i / RTE_ETH_RETA_GROUP_SIZE];
		e->mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
		/* a core with no queue of its own (more cores than the port
		 * has queues) gets its frames from the core with its queue
		 * number, which passes them on */
		uint32_t k = dp_steer(dp, (uint16_t)(i % DP_STEER_BUCKETS));
		e->reta[i % RTE_ETH_RETA_GROUP_SIZE] =
			dp->core[k].rxq != UINT16_MAX ? dp->core[k].rxq : (uint16_t)(k % dp->nqueues);
	}
	int rc = rte_eth_dev_rss_reta_update(dp->port_id, reta, n);
	rte_spinlock_unlock(&dp->reta_lock);
	if (rc && !__atomic_exchange_n(&dp->reta_failed, true, __ATOMIC_RELAXED))
		fprintf(stderr, "fastpathd: the port refused a new RSS table (%s): frames "
			"reach their core through another, which costs a copy; a PMD "
			"without RETA updates: set [fastpath] cores = 1\n", rte_strerror(-rc));
}

/*
 * Offloads ([port] offload): on receive, checksums verified by the port
 * where it checks both the IPv4 and the TCP one.
 * Return: the rxmode offloads to ask for.
 */
static uint64_t plan_rx_offloads(struct dataplane *dp, const struct rte_eth_dev_info *info)
{
	const uint64_t csum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;

	dp->rx_csum = strcmp(dp->cfg.offload, "off") && (info->rx_offload_capa & csum) == csum;
	return dp->rx_csum ? csum : 0;
}

/*
 * On transmit, checksums where the port finishes both the IPv4 and the TCP
 * one; TSO where it also segments TCP and takes mbuf chains.  A TSO frame
 * fits the IPv4 total length with the largest TCP header, and the port's
 * buffers-per-frame limit.
 * Return: the txmode offloads to ask for.
 */
static uint64_t plan_tx_offloads(struct dataplane *dp, const struct rte_eth_dev_info *info)
{
	const uint64_t csum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	const uint64_t tso = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	const char *want = dp->cfg.offload;

	dp->tx_csum = dp->tso = false;
	dp->tso_max = 0;
	if (!strcmp(want, "off") || (info->tx_offload_capa & csum) != csum)
		return 0;
	dp->tx_csum = true;
	if (strcmp(want, "auto") || (info->tx_offload_capa & tso) != tso)
		return csum;
	uint64_t room = bp_mbuf_data_room(dp->cfg.mtu);
	uint64_t max = UINT16_MAX - PKT_IP_MIN - (PKT_TCP_MIN + 40);
	if (info->tx_desc_lim.nb_seg_max < 2)
		return csum; /* no chains, or a PMD that does not say how long */
	uint64_t by_segs = info->tx_desc_lim.nb_seg_max * room - PKT_TCP_HDRS_MAX;
	if (by_segs < max)
		max = by_segs;
	if (max < 2ull * dp->cfg.mtu)
		return csum; /* too few buffers per frame to be worth it */
	dp->tso = true;
	dp->tso_max = (uint32_t)max;
	dp->tso_mss_max = UINT16_MAX;
	/* net_tap (DPDK 22.11 to 24.11) refuses, and never sends, a TSO frame
	 * whose segments with their Ethernet header exceed the IP MTU */
	if (!strncmp(dp->cfg.port_dev, "net_tap", 7))
		dp->tso_mss_max = dp->cfg.mtu - PKT_ETH_LEN - PKT_IP_MIN - PKT_TCP_MIN;
	return csum | tso;
}

static int configure(struct dataplane *dp, bool rx_intr, char *err, size_t errlen)
{
	uint16_t port = dp->port_id;
	struct rte_eth_conf conf = { 0 };
	uint16_t nrx, ntx = TX_DESC;
	int rc;

	plan_queues(dp);
	nrx = rx_desc_want(dp);
	conf.intr_conf.rxq = rx_intr ? 1 : 0;
	if (dp->rss) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = (uint8_t *)dp_rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(dp_rss_key);
		conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_NONFRAG_IPV4_TCP;
	}
	/* receive frames of the whole MTU from the start (a NIC sizes its
	 * buffers and filters at configure time); 0 keeps the PMD's default */
	struct rte_eth_dev_info info;
	rc = rte_eth_dev_info_get(port, &info);
	if (rc) {
		snprintf(err, errlen, "port %s: no device information: %s", dp->cfg.port_dev,
			 rte_strerror(-rc));
		return rc;
	}
	if (dp->cfg.mtu > RTE_ETHER_MTU && dp->cfg.mtu <= info.max_mtu &&
	    (uint32_t)dp->cfg.mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN <= info.max_rx_pktlen)
		conf.rxmode.mtu = dp->cfg.mtu;
	conf.rxmode.offloads = plan_rx_offloads(dp, &info);
	conf.txmode.offloads = plan_tx_offloads(dp, &info);
	rc = rte_eth_dev_configure(port, dp->nqueues, dp->nqueues, &conf);
	if (rc) {
		snprintf(err, errlen, "configuring port %s failed: %s", dp->cfg.port_dev,
			 rte_strerror(-rc));
		return rc;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
	/* every descriptor holds an mbuf; with none left to send, nothing
	 * goes.  Each thread's mempool cache (the cores', the slowpath's) may
	 * hold up to 1.5 times its size on top. */
	uint64_t cached = (uint64_t)(dp->ncores + 1) * dp->pool->cache_size * 3 / 2;
	if ((uint64_t)dp->nqueues * (nrx + ntx) + cached + 1024 > dp->pool->size) {
		snprintf(err, errlen, "%u queue(s) of %u receive and %u transmit descriptors need "
			 "more than the %u packet buffers of [fastpath] mbufs: raise mbufs to at least "
			 "%llu, or lower [port] rx_desc", dp->nqueues, nrx, ntx, dp->pool->size,
			 (unsigned long long)(2ull * dp->nqueues * (nrx + ntx) + cached));
		return -ENOBUFS;
	}
	int sock = rte_eth_dev_socket_id(port);
	if (sock < 0)
		sock = (int)rte_socket_id();
	rc = 0;
	for (uint16_t q = 0; !rc && q < dp->nqueues; q++) {
		rc = rte_eth_rx_queue_setup(port, q, nrx, (unsigned)sock, NULL, dp->pool);
		if (!rc)
			rc = rte_eth_tx_queue_setup(port, q, ntx, (unsigned)sock, NULL);
	}
	if (rc) {
		snprintf(err, errlen, "queue setup on %s failed: %s", dp->cfg.port_dev,
			 rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_start(port);
	if (rc) {
		snprintf(err, errlen, "starting port %s failed: %s", dp->cfg.port_dev,
			 rte_strerror(-rc));
		return rc;
	}
	fp_port_steer_changed(dp);
	if (dp->cfg.verbose)
		fprintf(stderr, "fastpathd: %u port queue pair(s), %u receive descriptors each; "
			"offloads: receive %s, transmit %s\n", dp->nqueues, nrx,
			dp->rx_csum ? "checksums" : "none",
			dp->tso ? "checksums, TSO" : dp->tx_csum ? "checksums" : "none");
	return 0;
}

/*
 * Virtual ports never DMA, so their buffers need not be IOVA-contiguous:
 * packing them back to back (instead of one per 4 KiB page under
 * --no-huge, or with gaps at each hugepage's end) also keeps the whole
 * pool inside the UMEM area net_af_xdp derives from the pool's size.
 * Without that, buffers past the computed end become invalid descriptors,
 * and the kernel stops at the first one: transmit stalls for good.
 */
static struct rte_mempool *create_pool(struct dataplane *dp, char *err, size_t errlen)
{
	const char *name = "fp_mbufs";
	unsigned n = dp->cfg.mbufs, cache = 256;
	/* every frame of the configured MTU fits one buffer: never chained */
	uint16_t room = (uint16_t)(RTE_PKTMBUF_HEADROOM + bp_mbuf_data_room(dp->cfg.mtu));
	int socket = (int)rte_socket_id();
	struct rte_mempool *mp;

	if (looks_like_pci(dp->cfg.port_dev)) {
		mp = rte_pktmbuf_pool_create(name, n, cache, 0, room, socket);
	} else {
		struct rte_pktmbuf_pool_private priv = { .mbuf_data_room_size = room };
		mp = rte_mempool_create_empty(name, n, sizeof(struct rte_mbuf) + room, cache,
					      sizeof(priv), socket, RTE_MEMPOOL_F_NO_IOVA_CONTIG);
		if (mp && rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL)) {
			rte_mempool_free(mp);
			mp = NULL;
		}
		if (mp) {
			rte_pktmbuf_pool_init(mp, &priv);
			if (rte_mempool_populate_default(mp) < 0) {
				rte_mempool_free(mp);
				mp = NULL;
				rte_errno = ENOMEM;
			}
		}
		if (mp)
			rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	}
	if (!mp) {
		snprintf(err, errlen, "cannot allocate %u packet buffers: %s; raise [eal] mem_mb "
			 "or lower [fastpath] mbufs", n, rte_strerror(rte_errno));
		return NULL;
	}
	if (dp->cfg.verbose)
		fprintf(stderr, "fastpathd: %u packet buffers of %u bytes in %u memory chunk(s), "
			"IOVA as %s\n", mp->size, mp->elt_size + mp->header_size + mp->trailer_size,
			mp->nb_mem_chunks, rte_eal_iova_mode() == RTE_IOVA_VA ? "VA" : "PA");
	return mp;
}

/*
 * net_memif chains its buffers (bsize bytes, 2048 by default) for larger
 * frames, and that chaining mangles frames on receive (seen with DPDK 23.11:
 * one jumbo frame arrives as many bad ones).  Refuse an MTU whose frames
 * need more than one memif buffer instead of losing every jumbo segment.
 */
static int memif_fits_mtu(const struct bp_config *c, char *err, size_t errlen)
{
	unsigned long bsize = 2048;
	const char *p;

	if (strncmp(c->port_dev, "net_memif", 9))
		return 0;
	p = strstr(c->port_dev, ",bsize=");
	if (p)
		bsize = strtoul(p + 7, NULL, 0);
	if ((unsigned long)c->mtu + RTE_ETHER_HDR_LEN <= bsize)
		return 0;
	snprintf(err, errlen, "[port] mtu %u needs memif buffers of at least %u bytes: add "
		 ",bsize=%u to the device string (on both ends)", c->mtu,
		 c->mtu + RTE_ETHER_HDR_LEN, bp_mbuf_data_room(c->mtu) <= 8192 ? 8192 : 16384);
	return -1;
}

int port_init(struct dataplane *dp, char *err, size_t errlen)
{
	uint16_t port, found = RTE_MAX_ETHPORTS;
	RTE_ETH_FOREACH_DEV(port) {
		found = port;
		break;
	}
	if (found == RTE_MAX_ETHPORTS) {
		snprintf(err, errlen, "no DPDK port came up for device '%s': check the device "
			 "string (e.g. net_af_packet0,iface=eth1), that the interface exists in "
			 "this network namespace, or that the PCI NIC is bound to vfio-pci",
			 dp->cfg.port_dev);
		return -1;
	}
	dp->port_id = found;
	if (memif_fits_mtu(&dp->cfg, err, errlen))
		return -1;

	dp->pool = create_pool(dp, err, errlen);
	if (!dp->pool)
		return -1;

	/* prefer an interrupt-capable setup so an idle daemon can block on the
	 * NIC; fall back to timed sleeps for PMDs without rx interrupts */
	char err2[256];
	if (configure(dp, true, err2, sizeof(err2))) {
		rte_eth_dev_stop(dp->port_id);
		if (configure(dp, false, err, errlen))
			return -1;
	}
	rte_eth_macaddr_get(dp->port_id, &dp->mac);
	if (dp->cfg.mtu != RTE_ETHER_MTU) {
		/* A NIC that refuses the MTU would drop our frames: an error.
		 * Virtual ports enforce none (memif chains its buffers for any
		 * frame, af_packet takes what its framesz and the interface's
		 * MTU allow) yet some report a 1518-byte limit: go on. */
		int rc = rte_eth_dev_set_mtu(dp->port_id, dp->cfg.mtu);
		if (rc && rc != -ENOTSUP && looks_like_pci(dp->cfg.port_dev)) {
			snprintf(err, errlen, "port %s refuses [port] mtu %u: %s",
				 dp->cfg.port_dev, dp->cfg.mtu, rte_strerror(-rc));
			return -1;
		}
	}
	return 0;
}

void port_fini(struct dataplane *dp)
{
	rte_eth_dev_stop(dp->port_id);
	rte_eth_dev_close(dp->port_id);
}

static char runtime_dir[PATH_MAX];

/* runs after DPDK's own exit handlers (registered later, run earlier),
 * once the telemetry socket is gone and the directory is empty */
static void remove_runtime_dir(void)
{
	if (runtime_dir[0])
		rmdir(runtime_dir);
}

/**
 * port_eal_init - rte_eal_init() that leaves no runtime directory behind
 * in /var/run/dpdk when the process exits.
 */
int port_eal_init(int argc, char **argv)
{
	atexit(remove_runtime_dir);
	int rc = rte_eal_init(argc, argv);
	if (rc >= 0)
		snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	return rc;
}
