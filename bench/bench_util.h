/* SPDX-License-Identifier: MIT */
/*
 * bench_util.h - shared by the benchmark programs: clocks, a log-linear
 * latency histogram, CPU accounting from /proc, option parsing helpers.
 */
#ifndef BYPASS_BENCH_UTIL_H
#define BYPASS_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The three ports a benchmark server listens on, from its base port. */
#define BENCH_PORT_ECHO(base) (base)          /* echo every byte back */
#define BENCH_PORT_SINK(base) ((base) + 1)    /* discard; at EOF send the 8-byte count */
#define BENCH_PORT_CPS(base)  ((base) + 2)    /* echo the first read, then close */

uint64_t bench_now_ns(void);

/*
 * HDR-style histogram: values below 2^HIST_SUB_BITS are exact; above,
 * every power of two is cut into 2^HIST_SUB_BITS linear buckets, so a
 * bucket is at most 1/128 (0.8 %) of its value wide.  Values are
 * nanoseconds; up to 2^HIST_MAX_EXP ns (about 18 minutes) are kept, larger
 * ones land in the last bucket.
 */
#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 40
#define HIST_BUCKETS (HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t min, max;
	long double sum;
	uint64_t b[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
/* value at quantile q (0..1): the middle of the bucket holding it */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);

/* CPU time (user + system) of a process, all its threads, in seconds;
 * negative if it is gone */
double bench_proc_cpu(int pid);

/* busy seconds of one CPU since boot (/proc/stat: all but idle and iowait) */
double bench_core_busy(int cpu);

/* "12,345" -> pids; returns how many were parsed, -1 on a bad list */
int bench_parse_pids(const char *s, int *pids, int max);

/* strict number parsing: whole string, within [lo, hi]; -1 on error */
int bench_parse_long(const char *s, long lo, long hi, long *out);
int bench_parse_double(const char *s, double lo, double hi, double *out);

/* the long name of getopt_long option @val in @opts ("?" if none): for
 * errors about options that have no short name */
struct option;
const char *bench_opt_name(const struct option *opts, int val);

/* raise RLIMIT_NOFILE to its hard limit (for 10k connections) */
void bench_raise_nofile(void);

#endif /* BYPASS_BENCH_UTIL_H */
