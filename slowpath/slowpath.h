/* SPDX-License-Identifier: MIT */
/*
 * slowpath.h - the slowpath thread's public face inside fastpathd.
 */
#ifndef SP_SLOWPATH_H
#define SP_SLOWPATH_H

#include <stddef.h>
#include "dataplane.h"

/**
 * sp_config_check - the configuration fields the slowpath interprets
 * ([tcp] cc), checked after config_validate() and before anything starts.
 * @err: names the field, the bad value and the valid ones.
 * Return: 0 or -1.
 */
int sp_config_check(const struct bp_config *c, char *err, size_t errlen);

/**
 * sp_start - bind the control socket and start the slowpath thread.
 * @err: names the socket path and what to do (e.g. another daemon running).
 * Return: 0 or -1.
 */
int sp_start(struct dataplane *dp, char *err, size_t errlen);

/**
 * sp_stop_request - begin stopping the daemon: the slowpath closes every
 * connection ([daemon] stop_drain_ms for orderly closes, then RST) and
 * then sets dp->stop, which ends fp_run().  Async-signal-safe.
 * Return: 0, or -1 if there is no slowpath yet (stop at once).
 */
int sp_stop_request(struct dataplane *dp);

/**
 * sp_reload_request - re-read the config file's tenants on the slowpath
 * thread (SIGHUP).  Async-signal-safe.  Return: 0, or -1 if no slowpath.
 */
int sp_reload_request(struct dataplane *dp);

/** sp_stop - reset every flow, detach every app, join the thread. */
void sp_stop(struct dataplane *dp);

#endif
