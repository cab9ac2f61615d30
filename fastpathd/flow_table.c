// SPDX-License-Identifier: MIT
/*
 * flow_table.c - 4-tuple -> flow lookup on DPDK's cuckoo hash.  Only the
 * fastpath thread reads or writes it, so no locking is configured.
 */
#include <unistd.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_errno.h>

#include "fastpath.h"

struct flow_key {
	uint32_t raddr, laddr;
	uint16_t rport, lport;
} __attribute__((packed));

int flow_table_init(struct fp_ctx *fp)
{
	DP_ASSERT_FP();
	char name[RTE_HASH_NAMESIZE];
	snprintf(name, sizeof(name), "flows%u_%u", fp->core, (unsigned)getpid());
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = fp->dp->cfg.max_flows * 2,
		.key_len = sizeof(struct flow_key),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
	};
	fp->hash = rte_hash_create(&hp);
	return fp->hash ? 0 : -rte_errno;
}

static inline void key_of(struct flow_key *k, uint32_t raddr, uint32_t laddr, uint16_t rport,
			  uint16_t lport)
{
	k->raddr = raddr;
	k->laddr = laddr;
	k->rport = rport;
	k->lport = lport;
}

int flow_table_add(struct fp_ctx *fp, struct fp_flow *f)
{
	DP_ASSERT_FP();
	struct flow_key k;
	key_of(&k, f->remote_ip, f->local_ip, f->remote_port, f->local_port);
	return rte_hash_add_key_data(fp->hash, &k, (void *)(uintptr_t)f->flow_id);
}

void flow_table_del(struct fp_ctx *fp, struct fp_flow *f)
{
	DP_ASSERT_FP();
	struct flow_key k;
	key_of(&k, f->remote_ip, f->local_ip, f->remote_port, f->local_port);
	rte_hash_del_key(fp->hash, &k);
}

struct fp_flow *flow_table_lookup(struct fp_ctx *fp, uint32_t raddr, uint32_t laddr,
				  uint16_t rport, uint16_t lport)
{
	DP_ASSERT_FP();
	struct flow_key k;
	void *data;
	key_of(&k, raddr, laddr, rport, lport);
	if (rte_hash_lookup_data(fp->hash, &k, &data) < 0)
		return NULL;
	return &fp->dp->flows[(uintptr_t)data];
}

/**
 * flow_table_lookup_bulk - the flows of @n parsed segments (n at most
 * FLOW_LOOKUP_BULK_MAX), @flows[i] NULL where there is none.  With
 * thousands of connections the buckets and the flows are not in the cache:
 * looking a burst up together lets the hash fetch every bucket before it
 * compares any, instead of one miss after another.
 */
void flow_table_lookup_bulk(struct fp_ctx *fp, const struct pkt_tcp *segs, unsigned int n,
			    struct fp_flow **flows)
{
	DP_ASSERT_FP();
	struct flow_key keys[FLOW_LOOKUP_BULK_MAX];
	const void *kp[FLOW_LOOKUP_BULK_MAX];
	void *data[FLOW_LOOKUP_BULK_MAX];
	uint64_t hits = 0;

	RTE_BUILD_BUG_ON(FLOW_LOOKUP_BULK_MAX > RTE_HASH_LOOKUP_BULK_MAX);
	if (!n)
		return;
	for (unsigned int i = 0; i < n; i++) {
		key_of(&keys[i], segs[i].saddr, segs[i].daddr, segs[i].sport, segs[i].dport);
		kp[i] = &keys[i];
	}
	if (rte_hash_lookup_bulk_data(fp->hash, kp, n, &hits, data) < 0)
		hits = 0;
	for (unsigned int i = 0; i < n; i++)
		flows[i] = hits & (1ull << i) ? &fp->dp->flows[(uintptr_t)data[i]] : NULL;
}
