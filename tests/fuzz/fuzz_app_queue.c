// SPDX-License-Identifier: MIT
/*
 * fuzz_app_queue - what an app writes into its shared region, as the
 * fastpath reads it: doorbells on the data queue (fp_apps_poll), the
 * tx_written and rx_consumed counters behind them, a producer index that
 * lies, a consumer index of the event queue that lies, the sleep flag.
 *
 * Input: the flow's parameters (see fx_reset()), then events: honest app
 * writes and reads through doorbells, forged doorbells (any op, slot,
 * generation), counters set to any value, the data queue's head and
 * entries scribbled, the event queue's tail moved anywhere, peer ACKs and
 * slowpath actions (timer, shutdown, fork handoff) in between.
 *
 * A flow whose app wrote an invalid counter is reset as the slowpath does
 * (DPM_FLOW_BAD_APP -> DPM_FLOW_DEL); all fastpath invariants must hold
 * whatever the app wrote, and no packet buffer may be left.  The slowpath's
 * control queue (slowpath/ctrlq.c) is not covered here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fp_fixture.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fx_init();
	FX.check_data = false; /* a lying app makes its own bytes unknowable */
	return 0;
}

/* a counter value: near the current one, or anything */
static uint64_t counter(struct fx_in *in, uint64_t cur)
{
	uint8_t m = fx_u8(in);
	if (m & 1)
		return cur + (uint64_t)(int64_t)(int16_t)fx_u16(in);
	if (m & 2)
		return (uint64_t)fx_u32(in) << 32 | fx_u32(in);
	return cur + ((uint64_t)1 << (m % 64));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fx_in in = { data, size };
	fx_reset(&in);
	struct dp_app *app = FX.app;
	struct bp_queue *dq = app->dataq[0].q, *eq = app->fp_evq[0].q;

	for (int ops = 0; in.n && ops < 128; ops++) {
		struct fp_flow *f = FX.f;
		struct bp_flow_shm *fs = &app->flows[f->slot];
		uint8_t op = fx_u8(&in);
		switch (op % 16) {
		case 0 ... 3:
			fx_segment(&in);
			break;
		case 4:
			fx_app_write(fx_u16(&in) % 6000, false);
			break;
		case 5:
			fx_app_read(fx_u16(&in) % 6000, false);
			break;
		case 6: /* any tx_written, then a doorbell */
			__atomic_store_n(&fs->tx_written, counter(&in, fs->tx_written), __ATOMIC_RELEASE);
			{
				struct bp_doorbell db = { .op = BP_DB_TX, .slot = f->slot, .gen = f->gen };
				memcpy(app->dataq[0].ents + (dq->head & app->dataq[0].mask) * sizeof(db), &db,
				       sizeof(db));
				__atomic_store_n(&dq->head, dq->head + 1, __ATOMIC_RELEASE);
			}
			fp_apps_poll(FX.fp);
			break;
		case 7: /* any rx_consumed, then a doorbell */
			__atomic_store_n(&fs->rx_consumed, counter(&in, fs->rx_consumed),
					 __ATOMIC_RELEASE);
			{
				struct bp_doorbell db = { .op = BP_DB_RX, .slot = f->slot, .gen = f->gen };
				memcpy(app->dataq[0].ents + (dq->head & app->dataq[0].mask) * sizeof(db), &db,
				       sizeof(db));
				__atomic_store_n(&dq->head, dq->head + 1, __ATOMIC_RELEASE);
			}
			fp_apps_poll(FX.fp);
			break;
		case 8: { /* a forged doorbell */
			uint8_t m = fx_u8(&in);
			struct bp_doorbell db = {
				.op = (m & 1) ? fx_u16(&in) : (uint16_t)(1 + (m >> 1) % 4),
				.prio = fx_u16(&in),
				.slot = (m & 4) ? fx_u32(&in) : (uint32_t)((m >> 3) % (FX_SLOTS + 1)),
				.gen = (m & 0x20) ? fx_u32(&in) : f->gen + (uint32_t)((m >> 6) % 3) - 1,
				.area_off = fx_u32(&in),
			};
			memcpy(app->dataq[0].ents + (dq->head & app->dataq[0].mask) * sizeof(db), &db,
			       sizeof(db));
			__atomic_store_n(&dq->head, dq->head + 1, __ATOMIC_RELEASE);
			fp_apps_poll(FX.fp);
			break;
		}
		case 9: { /* the producer index lies; entries are whatever */
			uint8_t m = fx_u8(&in);
			uint64_t h = (m & 1) ? (uint64_t)fx_u32(&in) << 32 | fx_u32(&in)
					     : dq->head + (uint64_t)(int64_t)(int8_t)fx_u8(&in);
			for (uint32_t i = 0; i < (m >> 1) % 8; i++) {
				uint8_t *e = app->dataq[0].ents + (size_t)((dq->head + i) & app->dataq[0].mask) *
							       sizeof(struct bp_doorbell);
				for (size_t k = 0; k < sizeof(struct bp_doorbell); k++)
					e[k] = fx_u8(&in);
			}
			__atomic_store_n(&dq->head, h, __ATOMIC_RELEASE);
			fp_apps_poll(FX.fp);
			break;
		}
		case 10: { /* the event queue's consumer index lies */
			uint8_t m = fx_u8(&in);
			uint64_t t = (m & 1) ? (uint64_t)fx_u32(&in) << 32 | fx_u32(&in)
					     : eq->head + (uint64_t)(int64_t)(int8_t)fx_u8(&in);
			__atomic_store_n(&eq->tail, t, __ATOMIC_RELEASE);
			break;
		}
		case 11: /* the app goes to sleep, or wakes */
			__atomic_store_n(&app->hdr->app_sleeping, fx_u8(&in) & 1, __ATOMIC_RELEASE);
			__atomic_store_n(&app->hdr->evq_overflow, 0, __ATOMIC_RELEASE);
			break;
		case 12:
			/* the size and element size the daemon copied at setup
			 * are never re-read: scribble the shared ones */
			dq->size = fx_u32(&in);
			dq->elem_size = fx_u32(&in);
			eq->size = fx_u32(&in);
			break;
		default:
			fx_slowpath(&in);
			break;
		}
		fx_settle();
		if (op & 0x80)
			fx_app_events();
	}
	fx_end();
	return 0;
}
