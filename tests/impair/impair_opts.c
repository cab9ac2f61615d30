// SPDX-License-Identifier: MIT
/*
 * bp_impair's command line.  Every impairment exists three times:
 * --NAME (both directions), --a2b-NAME and --b2a-NAME (one direction).  A
 * one-direction option wins over --NAME whatever their order, so
 * "--a2b-loss 5% --loss 1%" means 5% one way and 1% the other.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bp_impair.h"

enum ptype { P_PROB, P_UINT, P_TIME, P_RATE, P_SIZE };

struct param {
	const char *name;
	enum ptype type;
	size_t off;		/* into struct imp_cfg */
	uint64_t min, max;	/* P_UINT, P_TIME (ns), P_RATE, P_SIZE */
	const char *arg;
	const char *help;
};

#define F(field) offsetof(struct imp_cfg, field)
#define SEC IMP_NSEC_PER_SEC

static const struct param params[] = {
	{ "loss", P_PROB, F(loss), 0, 0, "P",
	  "drop each frame with probability P" },
	{ "dup", P_PROB, F(dup), 0, 0, "P",
	  "send an unmodified copy right after the frame" },
	{ "corrupt", P_PROB, F(corrupt), 0, 0, "P",
	  "flip random bits after the IPv4 header, within the\n"
	  "datagram (L4 header and payload): the frame still\n"
	  "reaches the host, whose L4 checksum must catch it" },
	{ "corrupt-bits", P_UINT, F(corrupt_bits), 1, 64, "N",
	  "bits flipped per corrupted frame (default 1; with 2\n"
	  "or more, two flips can cancel out in the checksum)" },
	{ "reorder", P_PROB, F(reorder), 0, 0, "P",
	  "hold a frame back until --reorder-gap later frames\n"
	  "have gone ahead or --reorder-delay has passed" },
	{ "reorder-gap", P_UINT, F(reorder_gap), 0, 100000, "N",
	  "later frames that overtake a held one (default 3;\n"
	  "0: released by time only)" },
	{ "reorder-delay", P_TIME, F(reorder_hold_ns), 0, 60 * SEC, "T",
	  "longest a frame is held back (default 10ms)" },
	{ "delay", P_TIME, F(delay_ns), 0, 60 * SEC, "T",
	  "fixed one-way delay, after the bottleneck (default 0)" },
	{ "jitter", P_TIME, F(jitter_ns), 0, 60 * SEC, "T",
	  "add a uniform random -T..+T to the delay; frames\n"
	  "still leave in order, never before their predecessor" },
	{ "rate", P_RATE, F(rate_bps), 0, 1000000000000ULL, "R",
	  "bottleneck bandwidth (default 0: none), counting\n"
	  "Ethernet frame bytes (no preamble, FCS or gap)" },
	{ "queue-pkts", P_UINT, F(queue_pkts), 1, 10000000, "N",
	  "bottleneck queue limit, frames; tail drop (default 1000)" },
	{ "queue-bytes", P_SIZE, F(queue_bytes), 0, 1ULL << 40, "B",
	  "bottleneck queue limit in bytes too (default 0: none)" },
	{ "ecn-mark-pkts", P_UINT, F(ecn_mark_pkts), 0, 10000000, "K",
	  "set CE on ECT(0)/ECT(1) IPv4 frames that arrive to\n"
	  "find K or more frames in the bottleneck queue (needs\n"
	  "--rate; default off)" },
};

#define NPARAM (sizeof(params) / sizeof(params[0]))

/* long option values: globals below 0x100, then three per parameter */
enum {
	OPT_SEED = 0x100,
	OPT_STATS_FILE,
	OPT_POOL,
	OPT_FRAME_SIZE,
	OPT_IMPAIR_NON_IP,
	OPT_SELF_TEST,
	OPT_PARAM_BASE = 0x200,
};

static const struct imp_cfg cfg_defaults = {
	.corrupt_bits = 1,
	.reorder_gap = 3,
	.reorder_hold_ns = 10 * SEC / 1000,
	.queue_pkts = 1000,
	.ecn_mark_pkts = IMP_ECN_OFF,
};

/**
 * imp_usage() - print the --help text to stdout
 */
void imp_usage(void)
{
	printf("usage: bp_impair [OPTIONS] IF_A IF_B\n"
	       "\n"
	       "Forward every Ethernet frame that arrives on IF_A out of IF_B and every one\n"
	       "that arrives on IF_B out of IF_A (AF_PACKET, promiscuous), impairing each\n"
	       "direction (a2b, b2a) on its own.  Given --seed, the per-frame decisions\n"
	       "(loss, dup, corrupt, reorder, jitter) of each direction are a fixed\n"
	       "sequence: the same frames in give the same decisions.  Only IPv4 frames are\n"
	       "impaired; others (ARP) pass unharmed but still go through the bottleneck\n"
	       "and the delay.  Pipeline of each direction, in order:\n"
	       "  loss -> dup -> corrupt -> reorder -> bottleneck (rate, queue, ECN)\n"
	       "  -> delay + jitter -> out\n"
	       "\n"
	       "Options:\n"
	       "  --seed N            seed of the decision sequences (default 1)\n"
	       "  --stats-file PATH   write the statistics there too (replaced atomically)\n"
	       "  --pool N            frame buffers per direction (default 4096): bounds\n"
	       "                      memory; frames that find it empty are dropped\n"
	       "                      (dropped_nobuf)\n"
	       "  --frame-size BYTES  largest frame forwarded (default 2048; larger ones\n"
	       "                      are dropped, dropped_trunc: turn GRO/TSO off)\n"
	       "  --impair-non-ip     impair non-IPv4 frames too\n"
	       "  --self-test         check the pipeline without sockets, then exit\n"
	       "  -v, --verbose       print the configuration at start\n"
	       "  -h, --help          this text\n"
	       "\n"
	       "Impairments: each also as --a2b-NAME and --b2a-NAME for one direction,\n"
	       "which wins over --NAME.\n");
	for (size_t i = 0; i < NPARAM; i++) {
		const char *h = params[i].help, *nl;
		char opt[40];

		snprintf(opt, sizeof(opt), "--%s %s", params[i].name, params[i].arg);
		printf("  %-19s ", opt);
		/* indent continuation lines under the first */
		while ((nl = strchr(h, '\n'))) {
			printf("%.*s\n%22s", (int)(nl - h), h, "");
			h = nl + 1;
		}
		printf("%s\n", h);
	}
	printf("\n"
	       "Units: P is a probability, \"5%%\" or \"0.05\".  T is a time: 500us, 20ms,\n"
	       "1s, or a bare number of milliseconds.  R: 500kbit, 20mbit, 1gbit, or a\n"
	       "bare number of bits/s.  B: bytes, or with k, m (x1024).\n"
	       "\n"
	       "Statistics: one line per direction, key=value:\n"
	       "  dir=a2b rx= tx= dropped_loss= dropped_queue= dup= corrupt= reordered=\n"
	       "  ce_marked= max_queue_pkts= avg_queue_pkts= held= non_ip= dropped_nobuf=\n"
	       "  dropped_trunc= dropped_tx= in_flight= snap=\n"
	       "dup counts the copies made (none when the pool is empty); reordered,\n"
	       "the held frames some later frame did overtake; avg_queue_pkts, the\n"
	       "queue length that frames admitted to the bottleneck found on arrival;\n"
	       "in_flight, frames inside the rig at that moment; snap, how many times\n"
	       "statistics were written before.  Printed to stdout, and written to\n"
	       "--stats-file, on SIGUSR1 and at exit (SIGTERM, SIGINT, SIGHUP).\n"
	       "\n"
	       "\"bp_impair: ready\" on stderr means both sockets are up.  Exit status: 0\n"
	       "after a signal, 1 on a setup error, 2 on a usage error.\n");
}

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "bp_impair: --%s: '%s' %s (see --help)\n", opt, val, why);
	return -1;
}

/* a number followed by a unit from @units (scale[i] per units[i]) */
static int parse_scaled(const char *opt, const char *s, const char *const *units,
			const double *scale, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return bad(opt, s, "is not a non-negative number");
	for (size_t i = 0; units[i]; i++) {
		if (!strcasecmp(end, units[i])) {
			*out = v * scale[i];
			return 0;
		}
	}
	return bad(opt, s, "has an unknown unit");
}

static int parse_param(const struct param *p, const char *opt, const char *s, void *field)
{
	static const char *const time_u[] = { "", "ns", "us", "ms", "s", NULL };
	static const double time_s[] = { 1e6, 1, 1e3, 1e6, 1e9 };
	static const char *const rate_u[] = { "", "bit", "kbit", "mbit", "gbit", NULL };
	static const double rate_s[] = { 1, 1, 1e3, 1e6, 1e9 };
	static const char *const size_u[] = { "", "b", "k", "kb", "m", "mb", NULL };
	static const double size_s[] = { 1, 1, 1024, 1024, 1048576, 1048576 };
	double v = 0;
	char *end;

	switch (p->type) {
	case P_PROB:
		errno = 0;
		v = strtod(s, &end);
		if (end == s || errno || !isfinite(v))
			return bad(opt, s, "is not a probability (\"5%\" or \"0.05\")");
		if (!strcmp(end, "%"))
			v /= 100;
		else if (*end)
			return bad(opt, s, "is not a probability (\"5%\" or \"0.05\")");
		if (v < 0 || v > 1)
			return bad(opt, s, "is outside 0-100%");
		*(double *)field = v;
		return 0;
	case P_UINT: {
		unsigned long long u;

		errno = 0;
		u = strtoull(s, &end, 10);
		if (end == s || *end || errno || !isdigit((unsigned char)s[0]))
			return bad(opt, s, "is not a whole number");
		if (u < p->min || u > p->max) {
			fprintf(stderr, "bp_impair: --%s: '%s' is outside %llu-%llu (see --help)\n",
				opt, s, (unsigned long long)p->min, (unsigned long long)p->max);
			return -1;
		}
		*(uint32_t *)field = (uint32_t)u;
		return 0;
	}
	case P_TIME:
		if (parse_scaled(opt, s, time_u, time_s, &v))
			return -1;
		break;
	case P_RATE:
		if (parse_scaled(opt, s, rate_u, rate_s, &v))
			return -1;
		if (v > 0 && v < 1000)
			return bad(opt, s, "is below 1kbit");
		break;
	case P_SIZE:
		if (parse_scaled(opt, s, size_u, size_s, &v))
			return -1;
		break;
	}
	if (v > (double)p->max)
		return bad(opt, s, "is too large");
	*(uint64_t *)field = (uint64_t)llround(v);
	return 0;
}

/* copy the parameters set in @mask from @src to @dst */
static void apply(struct imp_cfg *dst, const struct imp_cfg *src, uint32_t mask)
{
	static const size_t size_of[] = {
		[P_PROB] = sizeof(double), [P_UINT] = sizeof(uint32_t),
		[P_TIME] = sizeof(uint64_t), [P_RATE] = sizeof(uint64_t),
		[P_SIZE] = sizeof(uint64_t),
	};

	for (size_t i = 0; i < NPARAM; i++)
		if (mask & (1u << i))
			memcpy((char *)dst + params[i].off, (const char *)src + params[i].off,
			       size_of[params[i].type]);
}

static int parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	struct param p = { .name = opt, .type = P_UINT, .min = min, .max = max };

	return parse_param(&p, opt, s, out);
}

/* cross-option checks, per direction */
static int check_cfg(const struct imp_opts *o)
{
	static const char *const dn[] = { "a2b", "b2a" };

	for (int d = 0; d < IMP_NDIR; d++) {
		const struct imp_cfg *c = &o->cfg[d];

		if (c->reorder > 0 && !c->reorder_gap && !c->reorder_hold_ns) {
			fprintf(stderr, "bp_impair: --reorder (%s): needs --reorder-gap or "
					"--reorder-delay above 0\n", dn[d]);
			return -1;
		}
		if (c->ecn_mark_pkts != IMP_ECN_OFF && !c->rate_bps)
			fprintf(stderr, "bp_impair: warning: --ecn-mark-pkts without --rate "
					"(%s): the queue never fills, nothing is marked\n", dn[d]);
		if (c->rate_bps && c->queue_pkts > o->pool)
			fprintf(stderr, "bp_impair: warning: %s: --queue-pkts %u is more than "
					"--pool %u: the pool is the limit\n",
				dn[d], c->queue_pkts, o->pool);
	}
	return 0;
}

/**
 * imp_parse_args() - read the command line
 * @argc: from main()
 * @argv: from main()
 * @o: filled in; defaults for everything not given
 *
 * Errors are printed, naming the option.
 *
 * Return: 0 to run, 1 when --help was printed, 2 for --self-test, -1 on
 * a usage error.
 */
int imp_parse_args(int argc, char **argv, struct imp_opts *o)
{
	static char names[NPARAM][2][40];
	static const struct option globals[] = {
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "stats-file", required_argument, NULL, OPT_STATS_FILE },
		{ "pool", required_argument, NULL, OPT_POOL },
		{ "frame-size", required_argument, NULL, OPT_FRAME_SIZE },
		{ "impair-non-ip", no_argument, NULL, OPT_IMPAIR_NON_IP },
		{ "self-test", no_argument, NULL, OPT_SELF_TEST },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct option longopts[sizeof(globals) / sizeof(globals[0]) + 3 * NPARAM + 1];
	/* [0] both directions, [1] a2b, [2] b2a; mask: which were given */
	struct imp_cfg given[3];
	uint32_t mask[3] = { 0 };
	size_t n = 0;
	bool self_test = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->pool = 4096;
	o->frame_size = 2048;
	memset(given, 0, sizeof(given));
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++)
		longopts[n++] = globals[i];
	for (size_t i = 0; i < NPARAM; i++) {
		snprintf(names[i][0], sizeof(names[i][0]), "a2b-%s", params[i].name);
		snprintf(names[i][1], sizeof(names[i][1]), "b2a-%s", params[i].name);
		longopts[n++] = (struct option){ params[i].name, required_argument, NULL,
						 OPT_PARAM_BASE + 3 * (int)i };
		longopts[n++] = (struct option){ names[i][0], required_argument, NULL,
						 OPT_PARAM_BASE + 3 * (int)i + 1 };
		longopts[n++] = (struct option){ names[i][1], required_argument, NULL,
						 OPT_PARAM_BASE + 3 * (int)i + 2 };
	}
	longopts[n] = (struct option){ 0 };

	/* leading '+': stop at the first interface name, like POSIX */
	while ((c = getopt_long(argc, argv, "+vh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SEED: {
			char *end;

			errno = 0;
			o->seed = strtoull(optarg, &end, 0);
			if (end == optarg || *end || errno || optarg[0] == '-')
				return bad("seed", optarg, "is not a 64-bit unsigned number");
			break;
		}
		case OPT_STATS_FILE:
			if (!*optarg)
				return bad("stats-file", optarg, "is empty");
			o->stats_file = optarg;
			break;
		case OPT_POOL:
			if (parse_u32("pool", optarg, 64, 1u << 20, &o->pool))
				return -1;
			break;
		case OPT_FRAME_SIZE:
			if (parse_u32("frame-size", optarg, 64, 65536, &o->frame_size))
				return -1;
			break;
		case OPT_IMPAIR_NON_IP:
			o->impair_non_ip = true;
			break;
		case OPT_SELF_TEST:
			self_test = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			imp_usage();
			return 1;
		default: {
			int k = c - OPT_PARAM_BASE, i = k / 3, which = k % 3;
			const char *opt;

			if (k < 0 || (size_t)i >= NPARAM) {
				/* getopt_long has named the option already */
				fprintf(stderr, "bp_impair: see --help\n");
				return -1;
			}
			opt = which ? names[i][which - 1] : params[i].name;
			if (parse_param(&params[i], opt, optarg,
					(char *)&given[which] + params[i].off))
				return -1;
			mask[which] |= 1u << i;
			break;
		}
		}
	}
	for (int d = 0; d < IMP_NDIR; d++) {
		o->cfg[d] = cfg_defaults;
		apply(&o->cfg[d], &given[0], mask[0]);
		apply(&o->cfg[d], &given[1 + d], mask[1 + d]);
	}
	if (self_test)
		return 2;
	if (argc - optind != 2) {
		fprintf(stderr, "bp_impair: need exactly two interfaces, IF_A IF_B (see --help)\n");
		return -1;
	}
	o->ifname[0] = argv[optind];
	o->ifname[1] = argv[optind + 1];
	if (!strcmp(o->ifname[0], o->ifname[1])) {
		fprintf(stderr, "bp_impair: IF_A and IF_B are both '%s'\n", o->ifname[0]);
		return -1;
	}
	if ((uint64_t)o->pool * o->frame_size > (1ULL << 30)) {
		fprintf(stderr, "bp_impair: --pool %u x --frame-size %u is over 1 GiB per direction\n",
			o->pool, o->frame_size);
		return -1;
	}
	return check_cfg(o);
}
