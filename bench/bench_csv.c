// SPDX-License-Identifier: MIT
/*
 * bench_csv.c - the load generators' result line and CPU accounting.
 */
#include <stdio.h>
#include <unistd.h>

#include "bench_csv.h"

void bench_acct_init(struct bench_acct *a)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	a->nsrv = a->ncli = 0;
	a->ncpus = n < 1 ? 1 : n > BENCH_MAX_CPUS ? BENCH_MAX_CPUS : (int)n;
}

/* a pid that is gone adds nothing (its time up to now is lost either way) */
static double sum_cpu(const int *pids, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++) {
		double v = bench_proc_cpu(pids[i]);

		if (v > 0)
			s += v;
	}
	return s;
}

void bench_cpu_sample(const struct bench_acct *a, struct bench_cpu *c)
{
	c->self = bench_proc_cpu(getpid());
	c->srv = sum_cpu(a->srv_pids, a->nsrv);
	c->cli = sum_cpu(a->cli_pids, a->ncli);
	for (int i = 0; i < a->ncpus; i++)
		c->core[i] = bench_core_busy(i);
}

void bench_csv_header(const struct bench_acct *a)
{
	printf("mode,stack,conns,size,depth,window_s,responses,rate_per_s,goodput_mbit,"
	       "lat_p50_us,lat_p99_us,lat_p999_us,lat_mean_us,lat_max_us,errors,"
	       "conn_fail,connect_s,cpu_cli_s,cpu_srv_s");
	for (int i = 0; i < a->ncpus; i++)
		printf(",core%d_busy_s", i);
	printf("\n");
}

void bench_csv_row(const struct bench_acct *a, const struct bench_result *r)
{
	double win = r->t1_ns > r->t0_ns ? (double)(r->t1_ns - r->t0_ns) / 1e9 : 0;
	double cli = r->c1.self - r->c0.self + r->c1.cli - r->c0.cli;
	double srv = r->c1.srv - r->c0.srv;
	double rate = win > 0 ? (double)r->responses / win : 0;
	double mbit = win > 0 ? (double)r->bytes * 8 / win / 1e6 : 0;
	const struct hist *h = r->lat;

	printf("%s,%s,%ld,%ld,%ld,%.3f,%llu,%.1f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%llu,%llu,%.3f,"
	       "%.3f,%.3f",
	       r->mode, r->stack, r->conns, r->size, r->depth, win,
	       (unsigned long long)r->responses, rate, mbit, hist_quantile(h, 0.5) / 1e3,
	       hist_quantile(h, 0.99) / 1e3, hist_quantile(h, 0.999) / 1e3, hist_mean(h) / 1e3,
	       (h->count ? h->max : 0) / 1e3, (unsigned long long)r->errors,
	       (unsigned long long)r->conn_fail, r->connect_s, cli, srv);
	for (int i = 0; i < a->ncpus; i++)
		printf(",%.3f", r->c1.core[i] - r->c0.core[i]);
	printf("\n");
	fflush(stdout);
}
