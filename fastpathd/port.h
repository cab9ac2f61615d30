/* SPDX-License-Identifier: MIT */
/* port.h - EAL arguments and DPDK port bring-up. */
#ifndef FP_PORT_H
#define FP_PORT_H

#include "dataplane.h"

/**
 * port_eal_args - build rte_eal_init() arguments from the config.
 * @storage: backing bytes for the strings; @argv: at least @max_args slots.
 * Return: argc, or -1 if the storage is too small.
 */
int port_eal_args(const struct bp_config *c, char *storage, size_t storage_len, char **argv,
		  int max_args);

/**
 * port_init - create the mbuf pool and start the port with one rx and one
 * tx queue.  @err names the device and what to check on failure.
 */
int port_init(struct dataplane *dp, char *err, size_t errlen);
void port_fini(struct dataplane *dp);
void fp_port_steer_changed(struct dataplane *dp);
int port_eal_init(int argc, char **argv);
int port_rx_wait_fd(const struct dataplane *dp);
bool port_wait_error(int fd, unsigned core, short revents);

#endif
