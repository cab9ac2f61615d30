// SPDX-License-Identifier: MIT
/*
 * port_wait.c - something an idle core can sleep on when its port has no
 * rx interrupts but receives through a kernel socket.
 *
 * net_af_xdp and net_af_packet implement no rx interrupts in DPDK 22.11,
 * so an idle core used to look at its queue between timed sleeps, up to
 * SLEEP_DEEP_US apart after a quiet second: a request after a pause waited
 * that long before the daemon saw it.  Each of their queues is an AF_XDP
 * or AF_PACKET socket, and such a socket is readable exactly while its
 * receive ring holds a frame the PMD has not taken.  The PMDs do not hand
 * the sockets out, so the one is found among the process's descriptors.
 * Only for a port of one queue: with several, AF_PACKET's share a fanout
 * group (any of them may get any frame), and which AF_XDP socket serves
 * which queue only sock_diag can say, which kernels may leave out (this
 * one has no CONFIG_XDP_SOCKETS_DIAG); a core that slept on the wrong one
 * would miss its frames.  Those ports keep the timed sleeps.  The fastpath
 * only polls the socket; the PMD still owns its rings.
 */
#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <rte_ethdev.h>

#include "port.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif

/**
 * port_rx_wait_fd - a descriptor that polls readable while the port's
 * one receive queue holds frames, for ports without rx interrupts.
 *
 * Return: the PMD's own socket (net_af_xdp, net_af_packet), not to be
 * read or closed; -1 when there is none, the port has several queues, or
 * the socket cannot be told apart.  Call after the port has started.
 */
int port_rx_wait_fd(const struct dataplane *dp)
{
	struct rte_eth_dev_info info;
	if (dp->nqueues != 1 || rte_eth_dev_info_get(dp->port_id, &info) || !info.if_index ||
	    !info.driver_name)
		return -1;
	int family;
	if (!strcmp(info.driver_name, "net_af_xdp"))
		family = AF_XDP;
	else if (!strcmp(info.driver_name, "net_af_packet"))
		family = AF_PACKET;
	else
		return -1;

	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int found = -1, nfound = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || fd == dirfd(d))
			continue;
		int dom = -1;
		socklen_t len = sizeof(dom);
		if (getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) || dom != family)
			continue;
		if (family == AF_PACKET) { /* AF_XDP sockets cannot say (no getsockname) */
			struct sockaddr_ll sll;
			len = sizeof(sll);
			if (getsockname((int)fd, (struct sockaddr *)&sll, &len) ||
			    (uint32_t)sll.sll_ifindex != info.if_index)
				continue;
		}
		found = (int)fd;
		nfound++;
	}
	closedir(d);
	return nfound == 1 ? found : -1;
}

/**
 * port_wait_error - the port's socket @fd ended core @core's sleep with
 * @revents, an error rather than a frame.  af_packet reports a link that
 * went down as a socket error, which nothing else reads (the PMD uses the
 * ring): reading it clears it, or every sleep would end at once from then
 * on.  Return: true if there was an error to read (and it is cleared);
 * false if not (another thread may have read it first: the caller gives
 * up on @fd only if that keeps happening).
 */
bool port_wait_error(int fd, unsigned core, short revents)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (!(revents & POLLNVAL) && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) && err) {
		fprintf(stderr, "fastpathd: core %u: the port's socket reported: %s\n", core,
			strerror(err));
		return true;
	}
	return false;
}
