/* SPDX-License-Identifier: MIT */
/*
 * sp_fp.h - the slowpath's only door into fastpath state.
 *
 * fastpathd/dataplane.h is the contract between the two threads; sp_fp.c
 * is the one slowpath file that implements the slowpath's half of it:
 * every message to the fastpath, every read or write of an installed
 * struct fp_flow, the fastpath's counters and its stop flag.  The rest of
 * the slowpath calls these functions and never names dp->flows, dp->to_fp
 * or dp->to_sp, so a change in how the fastpath is reached (one ring per
 * core, say) is a change to sp_fp.c alone.
 */
#ifndef SP_FP_H
#define SP_FP_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_mbuf.h>

#include "dataplane.h"

struct sp;
struct sp_conn;

/**
 * struct sp_fp_flow_init - what the slowpath decides for a new flow; the
 * rest of struct fp_flow comes from the connection and its app slot.
 * @mss: largest payload we send.
 * @rcv_wscale: shift of our advertised window (0 without window scaling).
 * @peer_wnd: the peer's window in bytes, scaled already if it has to be
 *            (a SYN's window never is; the handshake's final ACK's is).
 * @cwnd: initial congestion window, bytes.
 * @pacing_bps: initial rate, 0 = unpaced.
 * @no_df: send without DF (a path narrower than PKT_MIN_PMTU, icmp_err.c).
 */
struct sp_fp_flow_init {
	uint16_t mss;
	bool no_df;
	uint8_t rcv_wscale;
	uint32_t peer_wnd;
	uint32_t cwnd;
	uint64_t pacing_bps;
};

/**
 * struct sp_fp_flow_view - one tick's snapshot of what the fastpath
 * publishes about a flow (relaxed loads: hints, one tick stale at worst).
 */
struct sp_fp_flow_view {
	uint32_t flags;             /* FPF_* */
	uint64_t cnt_acked;         /* bytes newly acked, total */
	uint64_t cnt_ecn_acked;     /* of which with ECE */
	uint32_t cnt_fast_retx;
	uint32_t cnt_rto_spurious;  /* timeouts an ACK showed needless (F-RTO) */
	uint32_t cnt_cwnd_limited;  /* times data waited for cwnd */
	uint64_t tx_acked, tx_max_sent, tx_sent, tx_written;
	uint32_t peer_wnd;
	uint32_t rtt_us, srtt_us, rttvar_us;
	uint64_t last_progress_tsc;
	uint64_t last_rx_tsc;
};

/**
 * struct sp_fp_flow_info - what bypassctl flows shows of an installed flow
 * beyond struct sp_fp_flow_view (relaxed loads: a snapshot, not a
 * consistent one; never used for decisions).
 */
struct sp_fp_flow_info {
	uint32_t cwnd;
	uint64_t pacing_bps;
	uint64_t rx_pos;            /* in-order bytes received */
	uint64_t rx_consumed;       /* ... of which the app has read */
	uint16_t mss;
	uint16_t core;
};

/* messages (sp -> fp); a full ring is waited out, see sp_fp.c */
void sp_tx_mbuf(struct sp *sp, struct rte_mbuf *m);
void sp_fp_reinject(struct sp *sp, struct rte_mbuf *m);
void sp_fp_flow_install(struct sp *sp, const struct sp_conn *c, uint32_t id,
			const struct sp_fp_flow_init *in, bool send_ack);
void sp_fp_flow_del(struct sp *sp, uint32_t id, bool rst);
void sp_fp_flow_forget(struct sp *sp, uint32_t id);
uint32_t sp_fp_rpc_stats(struct sp *sp, struct dp_rpc_stat *out, uint32_t max);
void sp_fp_flow_retx(struct sp *sp, uint32_t id, uint64_t acked_seen);
void sp_fp_flow_probe(struct sp *sp, uint32_t id);
void sp_fp_flow_cwnd_opened(struct sp *sp, uint32_t id);
void sp_fp_flow_pmtu(struct sp *sp, uint32_t id, uint16_t mss, bool no_df, bool resend);
void sp_fp_flow_neigh(struct sp *sp, uint32_t id, const struct rte_ether_addr *mac);
void sp_fp_flow_shutwr(struct sp *sp, uint32_t id, unsigned how, uint32_t rpc_posted);
void sp_fp_flow_detach(struct sp *sp, uint32_t id);
void sp_fp_flow_move(struct sp *sp, uint32_t id, struct dp_move *mv);
void sp_fp_app_add(struct sp *sp, struct dp_app *app);
void sp_fp_app_del(struct sp *sp, struct dp_app *app);
void sp_fp_stop(struct sp *sp);
void sp_fp_outbox_flush(struct sp *sp);
uint32_t sp_fp_outbox_len(const struct sp *sp);
void sp_fp_outbox_fini(struct sp *sp);

/* messages (fp -> sp) */
unsigned int sp_fp_recv(struct sp *sp, struct dp_msg *msgs, unsigned int n);

/* installed flows: the only fields the slowpath reads or writes */
void sp_fp_flow_read(struct sp *sp, uint32_t id, struct sp_fp_flow_view *v);
void sp_fp_flow_read_info(struct sp *sp, uint32_t id, struct sp_fp_flow_info *in);
uint32_t sp_fp_flow_set_cwnd(struct sp *sp, uint32_t id, uint32_t cwnd);
void sp_fp_flow_set_rate(struct sp *sp, uint32_t id, uint64_t pacing_bps);

/* counters, for status */
uint64_t sp_fp_counter(struct sp *sp, enum dp_counter c);
uint64_t sp_fp_drop_reason(struct sp *sp, unsigned int verdict);

/* the cores (cores.c decides, these carry it out or read it) */
struct sp_fp_core_stat {
	uint64_t rx_pkts, tx_pkts;
	uint32_t flows, busy_pct;
};
void sp_fp_steer_init(struct sp *sp, uint32_t active);
uint32_t sp_fp_steer(struct sp *sp, uint16_t bucket);
int sp_fp_bucket_out(struct sp *sp, uint16_t bucket, uint32_t from, uint32_t to);
void sp_fp_core_load(struct sp *sp, uint32_t k, uint64_t *busy, uint64_t *idle);
void sp_fp_core_set_busy_pct(struct sp *sp, uint32_t k, uint32_t pct);
struct sp_fp_core_stat sp_fp_core_stat(struct sp *sp, uint32_t k);
int sp_fp_kick_bind(struct sp *sp, char *err, size_t errlen);
int sp_fp_kick_fds(struct sp *sp, int *fds, char *err, size_t errlen);
void sp_fp_loop_mark(struct sp *sp, bool blocking);

/* tenants: the policy the fastpath enforces (dataplane.h, struct dp_tenant) */
void sp_fp_tenant_set(struct sp *sp, uint16_t id, const struct dp_tenant_policy *p);
/* a new tenant took free id @id: its egress bucket starts full */
void sp_fp_tenant_fresh(struct sp *sp, uint16_t id);
/* its counters summed over the cores (tx/rx payload bytes, segments, waits) */
void sp_fp_tenant_stats(struct sp *sp, uint16_t id, struct dp_tenant_core *out);

/* flows the cores reported as needing timers; true: some were lost */
bool sp_fp_timer_drain(struct sp *sp, void (*fn)(struct sp *sp, uint32_t id));

/* bypassctl capture: slot @i of dp->capture (struct dp_capture, dataplane.h) */
int sp_fp_capture_setup(struct sp *sp, char *err, size_t errlen);
bool sp_fp_capture_quiet(struct sp *sp, uint32_t i);
void sp_fp_capture_start(struct sp *sp, uint32_t i, struct dp_bpf_insn *prog, uint32_t nprog,
			 uint32_t snaplen, int32_t tenant);
void sp_fp_capture_stop(struct sp *sp, uint32_t i);
unsigned int sp_fp_capture_drain(struct sp *sp, uint32_t i, struct rte_mbuf **m, unsigned int n);
void sp_fp_capture_counts(struct sp *sp, uint32_t i, uint64_t *matched, uint64_t *dropped);
const char *sp_fp_capture_port(struct sp *sp);

#endif
