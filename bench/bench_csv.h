/* SPDX-License-Identifier: MIT */
/*
 * bench_csv.h - the result line every load generator prints (bp_load's
 * CSV: bench/report.py and bench/rpc_report.py read it), and the CPU
 * accounting behind its cpu_* and core*_busy_s columns.
 */
#ifndef BYPASS_BENCH_CSV_H
#define BYPASS_BENCH_CSV_H

#include <stdint.h>

#include "bench_util.h"

#define BENCH_MAX_PIDS 16
#define BENCH_MAX_CPUS 64

/* whose CPU time counts: this process, server-side and client-side pids */
struct bench_acct {
	int srv_pids[BENCH_MAX_PIDS], nsrv;
	int cli_pids[BENCH_MAX_PIDS], ncli;
	int ncpus;		/* core*_busy_s columns: CPUs 0..ncpus-1 */
};

/* one sample of CPU seconds used so far */
struct bench_cpu {
	double self, srv, cli;
	double core[BENCH_MAX_CPUS];
};

/* the measured window of one run */
struct bench_result {
	const char *mode, *stack;
	long conns, size, depth;
	uint64_t t0_ns, t1_ns;		/* the window */
	uint64_t responses, bytes, errors, conn_fail;
	double connect_s;
	const struct hist *lat;		/* ns */
	struct bench_cpu c0, c1;	/* at the window's start and end */
};

/* bench_acct_init - no pids, every configured CPU (up to BENCH_MAX_CPUS) */
void bench_acct_init(struct bench_acct *a);

/* bench_cpu_sample - CPU seconds of this process, the pids, each core */
void bench_cpu_sample(const struct bench_acct *a, struct bench_cpu *c);

/* bench_csv_header - the header line (column names) on stdout */
void bench_csv_header(const struct bench_acct *a);

/* bench_csv_row - the result line on stdout (flushed) */
void bench_csv_row(const struct bench_acct *a, const struct bench_result *r);

#endif /* BYPASS_BENCH_CSV_H */
