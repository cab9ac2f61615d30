/* SPDX-License-Identifier: MIT */
/*
 * bypassctl.h - bypassctl's commands, one file each (cli/cmd_NAME.c).
 * Exit codes: 0 ok, 1 the command failed, 2 usage error, 3 the daemon is
 * not reachable.
 */
#ifndef BYPASSCTL_H
#define BYPASSCTL_H

/* cmd_capture.c: argv[0] is "capture"; the socket is $BYPASS_SOCKET or -S */
int cmd_capture(int argc, char **argv);

#endif
