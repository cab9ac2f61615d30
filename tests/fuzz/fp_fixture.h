/* SPDX-License-Identifier: MIT */
/*
 * fp_fixture.h - one established flow on the real fastpath code, for the
 * fuzz harnesses (fuzz_tcp_input, fuzz_app_queue).
 *
 * The EAL starts once (no hugepages, no PCI, in memory) with a DPDK ring
 * port whose transmit ring the fixture drains; there is no fastpath
 * thread and no slowpath: the harness plays both.  Flow 0 belongs to app
 * 0, whose region (header, doorbell and event queues, two slots with their
 * rings) lives in malloc'd memory.  fx_reset() puts everything back to a
 * freshly established connection so each input runs from the same state,
 * and fx_settle() checks that no packet buffer is left over.
 */
#ifndef FUZZ_FP_FIXTURE_H
#define FUZZ_FP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane.h"
#include "fastpath.h"
#include "pkt.h"
#include "fuzz_input.h"

#define CHECK(c) do { if (!(c)) fx_fail(#c, __FILE__, __LINE__); } while (0)

#define FX_SLOTS 2
#define FX_RING_MAX 65536u   /* largest rx/tx ring an input may pick */
#define FX_QUEUE_ENTRIES 64

struct fx {
	struct dataplane dp;
	struct fp_ctx *fp;
	struct rte_ring *rx, *tx;
	struct dp_app *app;
	struct fp_flow *f;
	uint8_t *region;
	uint8_t peer_mac[6];
	uint32_t peer_ip;
	uint16_t ip_id;
	bool check_data;     /* byte content follows fx_peer_byte/fx_app_byte */
	uint64_t app_written; /* bytes the (honest) app put in its tx ring */
	uint64_t app_read;    /* bytes the app took out of its rx ring */
	uint32_t frames_out;  /* segments the daemon sent this input */
	uint32_t bad_app;     /* DPM_FLOW_BAD_APP messages seen */
};

extern struct fx FX;

void fx_fail(const char *what, const char *file, int line);
/*
 * The bytes of each direction's stream are a function of their position
 * with a prime period, so a byte placed at the wrong ring offset (ring
 * sizes are powers of two) never matches: fx_peer_bytes(pos) points at the
 * peer's stream from @pos on, fx_app_bytes(pos) at the app's, each valid
 * for FX_PATTERN_SPAN bytes (memcpy/memcmp instead of byte loops).
 */
#define FX_PERIOD 251u
#define FX_PATTERN_SPAN 65536u
extern uint8_t fx_pattern[2][FX_PERIOD + FX_PATTERN_SPAN];
static inline uint32_t fx_phase(int64_t pos)
{
	return (uint32_t)(((pos % FX_PERIOD) + FX_PERIOD) % FX_PERIOD);
}
/* @pos may be below 0: a segment that starts before the first byte */
static inline const uint8_t *fx_peer_bytes(int64_t pos) { return fx_pattern[0] + fx_phase(pos); }
static inline const uint8_t *fx_app_bytes(int64_t pos) { return fx_pattern[1] + fx_phase(pos); }

/** fx_init - start the EAL, the ring port, the app and the flow (once). */
void fx_init(void);
/** fx_reset - a freshly established flow with parameters read from @in. */
void fx_reset(struct fx_in *in);
/** fx_segment - build a peer segment from @in and feed it to tcp_input. */
void fx_segment(struct fx_in *in);
/** fx_app_write - the app appends up to @len bytes and rings BP_DB_TX. */
void fx_app_write(uint32_t len, bool doorbell_direct);
/** fx_app_read - the app reads up to @len bytes and rings BP_DB_RX. */
void fx_app_read(uint32_t len, bool doorbell_direct);
/** fx_slowpath - one slowpath action (timer, shutdown, probe, cc) from @in. */
void fx_slowpath(struct fx_in *in);
/** fx_settle - finish the round: flow work, transmit, drain and check. */
void fx_settle(void);
/** fx_end - end of an input: nothing may be left in flight. */
void fx_end(void);
/** fx_app_events - the app pops its fastpath events. */
void fx_app_events(void);

#endif
