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
