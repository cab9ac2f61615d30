// SPDX-License-Identifier: MIT
/*
 * fp_msg.c - what a fastpath core does with the messages in its inbox:
 * the slowpath's (flow install and removal, timeouts, app attach and
 * detach, frames to send or to process again) and other cores' (frames
 * and doorbells for buckets this core owns, buckets changing core).
 *
 * A message about a flow is acted on only by the core that owns the
 * flow's bucket; any other core passes it on or parks it (fp_steer.c).
 */
#include <errno.h>
#include <string.h>

#include "fastpath.h"

/* messages about one flow go to the core that owns its bucket */
static bool flow_msg(uint16_t type)
{
	switch (type) {
	case DPM_FLOW_ADD: case DPM_FLOW_DEL: case DPM_FLOW_RETX: case DPM_FLOW_SHUTWR:
	case DPM_FLOW_MOVE: case DPM_FLOW_PROBE: case DPM_FLOW_DETACH: case DPM_DOORBELL:
	case DPM_DOORBELL_SEND: case DPM_FLOW_PMTU: case DPM_FLOW_NEIGH: case DPM_FLOW_CWND:
		return true;
	default:
		return false;
	}
}

void fp_handle_msg(struct fp_ctx *fp, struct dp_msg *msg)
{
	struct dataplane *dp = fp->dp;
	struct fp_flow *f = msg->flow_id < dp->cfg.max_flows ? &dp->flows[msg->flow_id] : NULL;

	if (flow_msg(msg->type)) {
		if (!f) {
			if (msg->type == DPM_FLOW_MOVE) {
				((struct dp_move *)msg->ptr)->status = -EINVAL;
				fp_to_sp(fp, DPM_FLOW_MOVE_DONE, msg->flow_id, msg->ptr);
			}
			return;
		}
		if (dp->ncores > 1 && fp_route_msg(fp, msg, f->bucket) != FP_MINE)
			return;
	}
	switch (msg->type) {
	case DPM_TX_PKT:
		fp_tx_enqueue(fp, msg->ptr);
		break;
	case DPM_RX_REINJECT:
		fp_rx_frame(fp, msg->ptr, true);
		break;
	case DPM_RX_FWD: {
		uint64_t passed_on = fp->cnt[DPC_FORWARDED];

		fp_rx_frame(fp, msg->ptr, msg->arg != 0);
		/* its bucket moved on meanwhile: it counts where it stays */
		if (fp->cnt[DPC_FORWARDED] == passed_on)
			fp->cnt[DPC_RX_FWD_IN]++;
		break;
	}
	case DPM_DOORBELL:
	case DPM_DOORBELL_SEND:
		fp_doorbell_fwd(fp, f, msg);
		break;
	case DPM_BUCKET_OUT:
		fp_bucket_out(fp, msg->arg, (uint16_t)msg->flow_id);
		break;
	case DPM_BUCKET_IN:
		fp_bucket_in(fp, msg->ptr);
		break;
	case DPM_FLOW_ADD: {
		struct dp_app *app = &dp->apps[f->app_id];
		__atomic_store_n(&f->core, (uint16_t)fp->core, __ATOMIC_RELEASE);
		if (flow_table_add(fp, f) < 0) {
			fp_to_sp(fp, DPM_FLOW_RST_RCVD, f->flow_id, NULL);
			break;
		}
		f->flags |= FPF_ACTIVE;
		fp->self->nflows++;
		__atomic_store_n(&f->shm->fp_queue, fp->core, __ATOMIC_RELAXED);
		app->fp_slot_flow[f->slot] = f->flow_id;
		/* bytes the app wrote before the flow was ours: a doorbell that
		 * came before this message named no flow and was dropped */
		fp_flow_validate_tx(fp, f);
		/* arg: active open, the handshake's final ACK is ours to send */
		fp_touch(fp, f, FPP_OUTPUT | (msg->arg ? FPP_ACK : 0));
		break;
	}
	case DPM_FLOW_DEL:
		if (f->flags & FPF_ACTIVE) {
			if (msg->arg && !(f->flags & FPF_RESET))
				tcp_send_rst(fp, f);
			flow_table_del(fp, f);
			fp->self->nflows--;
			struct dp_app *app = &dp->apps[f->app_id];
			if (app->fp_slot_flow && app->fp_slot_flow[f->slot] == f->flow_id)
				app->fp_slot_flow[f->slot] = DP_INVALID_FLOW;
		}
		fp_flow_unlist(fp, f); /* the id may be reused: no stale entry */
		f->flags = FPF_RESET; /* inactive; late touches do nothing */
		f->pend = 0;
		fp_to_sp(fp, DPM_FLOW_DEL_DONE, msg->flow_id, NULL);
		break;
	case DPM_FLOW_RETX:
		if (f->flags & FPF_ACTIVE)
			tcp_timeout(fp, f, (uint64_t)(uintptr_t)msg->ptr);
		break;
	case DPM_FLOW_DETACH:
		if (f->flags & FPF_ACTIVE) {
			/* TIME_WAIT only re-ACKs a resent FIN: no ring, no counters
			 * the app could see, no events; its slot can be reused */
			struct dp_app *app = &dp->apps[f->app_id];
			if (app->fp_slot_flow && app->fp_slot_flow[f->slot] == f->flow_id)
				app->fp_slot_flow[f->slot] = DP_INVALID_FLOW;
			/* an RPC session's messages in assembly hold runs of
			 * this app's heap: back now, while app_id still names
			 * it (the id may be another app's when TIME_WAIT ends) */
			fp_rpc_flow_gone(fp, f);
			f->shm = &fp->detached_shm;
			f->rx_base = f->tx_base = NULL;
			f->flags |= FPF_DETACHED;
		}
		fp_to_sp(fp, DPM_FLOW_DETACH_DONE, msg->flow_id, NULL);
		break;
	case DPM_FLOW_PROBE:
		if ((f->flags & FPF_ACTIVE) && !(f->flags & FPF_RESET))
			tcp_send_probe(fp, f);
		break;
	case DPM_FLOW_CWND:
		if ((f->flags & FPF_ACTIVE) && !(f->flags & FPF_RESET))
			fp_touch(fp, f, FPP_OUTPUT);
		break;
	case DPM_FLOW_PMTU:
		if ((f->flags & FPF_ACTIVE) && !(f->flags & FPF_RESET))
			tcp_mss_lowered(fp, f, msg->arg & ~(DP_PMTU_NO_DF | DP_PMTU_QUIET),
					msg->arg & DP_PMTU_NO_DF, !(msg->arg & DP_PMTU_QUIET));
		break;
	case DPM_FLOW_NEIGH: {
		uint64_t mac = (uint64_t)(uintptr_t)msg->ptr;

		if (f->flags & FPF_ACTIVE) {
			memcpy(f->remote_mac.addr_bytes, &mac, RTE_ETHER_ADDR_LEN);
			fp->cnt[DPC_NEIGH_FOLLOWED]++;
		}
		break;
	}
	case DPM_FLOW_SHUTWR: {
		/* a FIN that waits for an app's posted frames is decided
		 * again once the app is gone: it posts nothing more */
		bool gone = msg->arg & DP_SHUTWR_APP_GONE;

		if ((f->flags & FPF_ACTIVE) &&
		    ((gone && (f->flags & FPF_RPC_FIN_WAIT)) ||
		     !(f->flags & (FPF_TX_FIN_REQ | FPF_RPC_FIN_WAIT)))) {
			f->flags &= ~FPF_RPC_FIN_WAIT;
			/* every byte the app wrote before it asked: the ring
			 * counter, not the doorbells still queued behind us;
			 * an RPC session's posted frames: those doorbells */
			fp_flow_validate_tx(fp, f);
			/* ptr: frames an RPC session's app posted before it asked */
			if (!(f->flags & FPF_RPC) ||
			    !fp_rpc_shutwr(fp, f, (uint32_t)(uintptr_t)msg->ptr, gone)) {
				f->tx_fin_pos = f->tx_written;
				f->flags |= FPF_TX_FIN_REQ;
			} /* else fp_rpc_tx() sets FIN_REQ after the last frame */
			fp_touch(fp, f, FPP_OUTPUT);
		}
		if ((msg->arg & DP_SHUTWR_LAST_HOLDER) && (f->flags & FPF_ACTIVE))
			tcp_rx_closed(fp, f);
		break;
	}
	case DPM_FLOW_MOVE:
		fp_flow_move(fp, f, msg->ptr);
		fp_to_sp(fp, DPM_FLOW_MOVE_DONE, msg->flow_id, msg->ptr);
		break;
	case DPM_APP_ADD: /* travels on to every core, in order */
		fp_app_add(fp, msg->ptr);
		if (fp->core + 1 < dp->ncores)
			fp_send_core(fp, fp->core + 1, msg);
		break;
	case DPM_APP_DEL: /* the last core answers: then no core references the app */
		fp_app_del(fp, msg->ptr);
		if (fp->core + 1 < dp->ncores)
			fp_send_core(fp, fp->core + 1, msg);
		else
			fp_to_sp(fp, DPM_APP_DEL_DONE, 0, msg->ptr);
		break;
	default:
		break;
	}
}
