// SPDX-License-Identifier: MIT
/* dataplane.c - setup of the state shared by the fastpath and slowpath. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <rte_cycles.h>
#include <rte_ring.h>

#include "dataplane.h"

/**
 * dp_init - everything both threads share, after EAL init and before the
 * port: eventfds, the flow array and the message rings.
 */
int dp_init(struct dataplane *dp, char *err, size_t errlen)
{
	dp->tsc_hz = rte_get_tsc_hz();
	dp->ip = dp->cfg.ip;
	dp->netmask = htonl(dp->cfg.prefix_len ? ~0u << (32 - dp->cfg.prefix_len) : 0);
	dp->gateway = dp->cfg.gateway;
	dp->fp_kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	dp->sp_kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	dp->flows = calloc(dp->cfg.max_flows, sizeof(*dp->flows));
	dp->to_fp = rte_ring_create_elem("to_fp", sizeof(struct dp_msg), 16384, SOCKET_ID_ANY,
					 RING_F_SC_DEQ);
	dp->to_sp = rte_ring_create_elem("to_sp", sizeof(struct dp_msg), 16384, SOCKET_ID_ANY,
					 RING_F_SC_DEQ);
	if (dp->fp_kick_fd < 0 || dp->sp_kick_fd < 0 || !dp->flows || !dp->to_fp || !dp->to_sp) {
		snprintf(err, errlen, "out of memory setting up %u flows; lower [daemon] max_flows",
			 dp->cfg.max_flows);
		return -1;
	}
	for (uint32_t i = 0; i < dp->cfg.max_flows; i++)
		dp->flows[i].flow_id = i;
	return 0;
}


/** dp_fini - undo dp_init() once both threads have stopped. */
void dp_fini(struct dataplane *dp)
{
	close(dp->fp_kick_fd);
	close(dp->sp_kick_fd);
	free(dp->flows);
	dp->flows = NULL;
	rte_ring_free(dp->to_fp);
	rte_ring_free(dp->to_sp);
}
