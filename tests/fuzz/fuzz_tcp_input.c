// SPDX-License-Identifier: MIT
/*
 * fuzz_tcp_input - tcp_input() (and the tcp_out.c code it drives) on an
 * established flow.
 *
 * Input: the flow's parameters (ring sizes, MSS, window scales, ISNs,
 * SACK/ECN, cwnd, pacing; see fx_reset()), then a sequence of events: a
 * peer segment whose sequence and acknowledgment numbers, window, flags,
 * options and length are mostly relative to the flow's state so that
 * most land in the window; the app writing or reading; the slowpath's
 * retransmission timer, shutdown, keepalive probe, cwnd and pacing
 * changes, TIME_WAIT detach, a fork handoff; time passing.
 *
 * Checked after every event, besides sanitizers: the flow's sequence
 * bookkeeping (acked <= sent <= written, held out-of-order data never over
 * unread bytes, sorted SACK scoreboard...); every segment the daemon sends
 * is valid and carries the app's bytes at their positions; the app reads
 * exactly the peer's bytes; and at the end of the input no packet buffer
 * is left.  Each input starts from a freshly installed flow.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fp_fixture.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fx_init();
	FX.check_data = true;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fx_in in = { data, size };
	fx_reset(&in);
	for (int ops = 0; in.n && ops < 128; ops++) {
		uint8_t op = fx_u8(&in);
		switch (op % 16) {
		case 0 ... 8:
			fx_segment(&in);
			break;
		case 9:
		case 10:
			fx_app_write(fx_u16(&in) % 6000, true);
			break;
		case 11:
		case 12:
			fx_app_read(fx_u16(&in) % 6000, true);
			break;
		default:
			fx_slowpath(&in);
			break;
		}
		fx_settle();
		if (!(op & 0x80))
			fx_app_events();
	}
	fx_end();
	return 0;
}
