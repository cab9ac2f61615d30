/* SPDX-License-Identifier: MIT */
/* stale.h - clean up after a fastpathd that was SIGKILLed. */
#ifndef FP_STALE_H
#define FP_STALE_H

/**
 * fp_clean_stale_runtime - remove the DPDK runtime directories and hugepage
 * files of fastpathd-PID prefixes whose daemon no longer runs.  Call before
 * the EAL starts.
 */
void fp_clean_stale_runtime(void);

#endif
