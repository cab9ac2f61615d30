/* SPDX-License-Identifier: MIT */
/*
 * bypassctl.h - the commands of bypassctl, one file each (cli/cmd_NAME.c).
 * Each gets argv from its own name on (argv[0] = "NAME") and returns the
 * exit status: 0 ok, 1 the command failed, 2 usage error, 3 the daemon is
 * not reachable.  The control socket is ctl_socket_path(NULL): --socket
 * is passed on in $BYPASS_SOCKET.
 */
#ifndef BYPASSCTL_H
#define BYPASSCTL_H

/** cmd_metrics - bypassctl metrics: every counter, Prometheus text format. */
int cmd_metrics(int argc, char **argv);

#endif
