/* SPDX-License-Identifier: MIT */
/*
 * bp_impair - a deterministic wire-impairment forwarder between two
 * interfaces, for tests.  Shared declarations of its three parts:
 *   bp_impair.c    sockets, event loop, signals, statistics output
 *   impair_opts.c  command line
 *   impair_pipe.c  the per-direction pipeline (decisions, queues, timers)
 */
#ifndef BP_IMPAIR_H
#define BP_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMP_NSEC_PER_SEC 1000000000ULL
/* no event scheduled */
#define IMP_NEVER UINT64_MAX
/* --ecn-mark-pkts not given */
#define IMP_ECN_OFF UINT32_MAX
/*
 * At most this many frames per direction wait in the reorder stage: each
 * arrival walks the whole list, so it must stay short.
 */
#define IMP_HOLD_MAX 64

enum { IMP_A2B, IMP_B2A, IMP_NDIR };

/* Impairments of one direction; every field has an option of its own. */
struct imp_cfg {
	double loss;			/* drop probability */
	double dup;			/* duplication probability */
	double corrupt;			/* bit-flip probability */
	double reorder;			/* hold-back probability */
	uint32_t corrupt_bits;		/* bits flipped per corrupted frame */
	uint32_t reorder_gap;		/* later frames that overtake a held one */
	uint64_t reorder_hold_ns;	/* longest a frame is held back */
	uint64_t delay_ns;		/* fixed one-way delay */
	uint64_t jitter_ns;		/* delay varies uniformly by +- this */
	uint64_t rate_bps;		/* bottleneck, bits/s; 0: none */
	uint32_t queue_pkts;		/* bottleneck queue limit, frames */
	uint64_t queue_bytes;		/* bottleneck queue limit, bytes; 0: none */
	uint32_t ecn_mark_pkts;		/* CE-mark at this occupancy; IMP_ECN_OFF */
};

/* Everything the command line sets. */
struct imp_opts {
	const char *ifname[IMP_NDIR];	/* [0] interface A, [1] interface B */
	uint64_t seed;
	const char *stats_file;		/* NULL: stdout only */
	uint32_t pool;			/* frame buffers per direction */
	uint32_t frame_size;		/* bytes per buffer: largest frame */
	bool impair_non_ip;		/* non-IPv4 frames get impaired too */
	bool verbose;
	struct imp_cfg cfg[IMP_NDIR];
};

/* Counters of one direction, printed as key=value. */
struct imp_stats {
	uint64_t rx;			/* frames read from the input interface */
	uint64_t tx;			/* frames written to the output interface */
	uint64_t dropped_loss;
	uint64_t dropped_queue;		/* tail drop at the bottleneck */
	uint64_t dup;
	uint64_t corrupt;
	uint64_t held;			/* frames held back by the reorder stage */
	uint64_t reordered;		/* held frames some later frame overtook */
	uint64_t ce_marked;
	uint64_t max_queue_pkts;
	uint64_t queue_sum;		/* occupancy seen by arrivals, summed */
	uint64_t queue_samples;
	uint64_t non_ip;
	uint64_t dropped_nobuf;		/* pool empty */
	uint64_t dropped_trunc;		/* frame larger than --frame-size */
	uint64_t dropped_tx;		/* output device refused the frame */
};

struct imp_pkt {
	struct imp_pkt *next;
	uint64_t t_ns;			/* bottleneck departure / wire release */
	uint64_t hold_until;		/* reorder stage: latest release */
	int64_t jitter_ns;		/* drawn at arrival, applied after the queue */
	uint32_t overtaken;		/* reorder stage: later frames gone ahead */
	uint32_t len;
	uint16_t l3off;			/* IPv4 header offset; 0: not IPv4 */
	uint8_t *data;
};

struct imp_fifo {
	struct imp_pkt *head;
	struct imp_pkt *tail;
	uint32_t n;
	uint64_t bytes;
};

/*
 * One direction: a fixed pool of frames and the stages a frame goes
 * through, in order: hold (reordering), queue (rate-limited bottleneck),
 * line (delay and jitter), out (ready for the output socket).
 */
struct imp_dir {
	const char *name;
	const struct imp_cfg *cfg;
	bool impair_non_ip;
	uint64_t rng;			/* per-frame decisions of impaired frames */
	uint64_t rng_aux;		/* jitter of frames outside that sequence */
	struct imp_pkt *pkts;
	uint8_t *mem;
	struct imp_pkt *free;
	uint32_t nfree;
	uint32_t pool;
	uint32_t frame_size;
	struct imp_fifo hold;
	struct imp_fifo queue;
	struct imp_fifo line;
	struct imp_fifo out;
	uint64_t last_dep;		/* departure time of the queue's last frame */
	uint64_t last_rel;		/* release time of the line's last frame */
	struct imp_stats st;
};

int imp_parse_args(int argc, char **argv, struct imp_opts *o);
void imp_usage(void);

int imp_dir_init(struct imp_dir *d, const char *name, const struct imp_cfg *cfg,
		 const struct imp_opts *o, unsigned int dir);
void imp_dir_fini(struct imp_dir *d);
struct imp_pkt *imp_pkt_get(struct imp_dir *d);
void imp_pkt_put(struct imp_dir *d, struct imp_pkt *p);
void imp_arrive(struct imp_dir *d, struct imp_pkt *p, uint64_t now);
void imp_service(struct imp_dir *d, uint64_t now);
uint64_t imp_next_event(const struct imp_dir *d);
struct imp_pkt *imp_fifo_pop(struct imp_fifo *f);
int imp_stats_line(const struct imp_dir *d, uint64_t snap, char *buf, size_t size);

int imp_self_test(void);

/* exposed for the built-in self check (--self-test) */
bool imp_ecn_set_ce(uint8_t *frame, uint32_t len, uint16_t l3off);
uint16_t imp_frame_l3off(const uint8_t *frame, uint32_t len);

#endif /* BP_IMPAIR_H */
