// SPDX-License-Identifier: MIT
/* stats.c - names of the daemon counters, as bypassctl shows them. */
#include "dataplane.h"

static const char *const names[DPC_MAX] = {
	[DPC_RX_PKTS] = "rx_packets",
	[DPC_TX_PKTS] = "tx_packets",
	[DPC_RX_BYTES] = "rx_payload_bytes",
	[DPC_TX_BYTES] = "tx_payload_bytes",
	[DPC_RX_DROP_BAD] = "rx_dropped_invalid",
	[DPC_RX_DROP_NOFLOW] = "rx_dropped_no_flow",
	[DPC_RX_OOO] = "rx_out_of_order",
	[DPC_RX_OOO_DROP] = "rx_out_of_order_dropped",
	[DPC_RX_DUP] = "rx_duplicate",
	[DPC_TX_RETX] = "tx_retransmits",
	[DPC_FAST_RETX] = "fast_retransmits",
	[DPC_LOST_RETX] = "lost_retransmits",
	[DPC_RTO] = "retransmission_timeouts",
	[DPC_RTO_SPURIOUS] = "spurious_timeouts",
	[DPC_ARP_REPLIES] = "arp_replies",
	[DPC_ICMP_ECHO] = "icmp_echo_replies",
	[DPC_APP_BAD_ENTRY] = "app_bad_queue_entries",
	[DPC_EVQ_OVERFLOW] = "event_queue_overflows",
	[DPC_EV_COALESCED] = "events_coalesced",
	[DPC_TX_NOMBUF] = "tx_no_mbuf",
	[DPC_TX_FULL] = "tx_queue_full_drops",
	[DPC_TX_DEFERRED] = "tx_queue_full_deferred",
	[DPC_CHALLENGE_ACK] = "tcp_challenge_acks",
	[DPC_SYN_COOKIE_SENT] = "syn_cookies_sent",
	[DPC_SYN_COOKIE_OK] = "syn_cookies_valid",
	[DPC_SYN_COOKIE_BAD] = "syn_cookies_invalid",
	[DPC_SYN_DROPPED] = "syn_dropped",
	[DPC_FORWARDED] = "rx_forwarded_to_core",
	[DPC_RX_FWD_IN] = "rx_forwarded_in",
	[DPC_RX_KEPT] = "rx_kept",
	[DPC_PARKED] = "parked_during_move",
	[DPC_PARK_DROP] = "park_dropped",
	[DPC_FLOWS_MOVED] = "flows_moved",
	[DPC_WRONG_CORE] = "flow_wrong_core",
	[DPC_RPC_MSGS] = "rpc_messages",
	[DPC_RPC_PROTO_ERR] = "rpc_protocol_errors",
	[DPC_RPC_STALLS] = "rpc_stalls",
	[DPC_RPC_BAD_RETURN] = "rpc_bad_returns",
	[DPC_RPC_TX_FRAMES] = "rpc_tx_frames",
	[DPC_RPC_TX_OVERTAKES] = "rpc_tx_overtakes",
	[DPC_RPC_TX_REFUSED] = "rpc_tx_refused",
	[DPC_RPC_TIMEOUTS] = "rpc_timeouts",
	[DPC_RPC_WATCH_RETRIES] = "rpc_watch_retries",
	[DPC_RPC_WATCH_COMPACT] = "rpc_watch_compactions",
	[DPC_TX_TSO] = "tx_tso_frames",
	[DPC_TX_PREPARE_DROP] = "tx_prepare_rejected",
	[DPC_SP_BACKLOG] = "sp_backlogged",
	[DPC_SP_OUTBOX] = "sp_outboxed",
	[DPC_SP_TX_DROP] = "sp_tx_dropped",
	[DPC_PORT_WAKEUPS] = "port_wakeups",
	[DPC_ICMP_ERR] = "icmp_errors",
	[DPC_ICMP_ERR_LIMITED] = "icmp_errors_limited",
	[DPC_PMTU_LOWERED] = "pmtu_lowered",
	[DPC_ICMP_CONNECT_FAILED] = "icmp_connects_failed",
	[DPC_ICMP_ERR_IGNORED] = "icmp_errors_ignored",
	[DPC_RX_DROP_OTHERHOST] = "rx_dropped_other_host",
	[DPC_NEIGH_FOLLOWED] = "neigh_moves_followed",
	[DPC_ICMP_HALF_OPEN_DROPPED] = "icmp_half_open_dropped",
	[DPC_IP_FRAGS] = "ip_fragments",
	[DPC_IP_FRAGS_LIMITED] = "ip_fragments_limited",
	[DPC_IP_REASM_OK] = "ip_reassembled",
	[DPC_IP_REASM_FAILED] = "ip_reassembly_failed",
};

const char *dp_counter_name(enum dp_counter c)
{
	return c < DPC_MAX && names[c] ? names[c] : "unknown";
}

uint64_t dp_fp_counter(const struct dataplane *dp, enum dp_counter c)
{
	uint64_t sum = 0;
	for (uint32_t k = 0; k < dp->ncores; k++)
		sum += __atomic_load_n(&dp->core[k].counters[c], __ATOMIC_RELAXED);
	return sum;
}

uint64_t dp_drop_reason(const struct dataplane *dp, unsigned verdict)
{
	uint64_t sum = 0;
	for (uint32_t k = 0; k < dp->ncores && verdict < 16; k++)
		sum += __atomic_load_n(&dp->core[k].drop_reason[verdict], __ATOMIC_RELAXED);
	return sum;
}
