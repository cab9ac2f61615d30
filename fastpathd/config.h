/* SPDX-License-Identifier: MIT */
/* config.h - fastpathd configuration: INI file plus command-line overrides. */
#ifndef FP_CONFIG_H
#define FP_CONFIG_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config_tenant.h"

#define CFG_STR 256

/*
 * A frame is never chained: every packet buffer holds a whole frame of the
 * configured MTU (port.c sizes the pool's data room with bp_mbuf_data_room()),
 * and at least BP_MBUF_DATA_ROOM bytes.  The largest MTU is a jumbo frame's;
 * whether the link carries it is the port's business (memif does, with any
 * buffer size; af_packet needs a framesz that holds it; see README).
 */
#define BP_MBUF_DATA_ROOM 2048
#define BP_MAX_MTU 9000

/**
 * bp_mbuf_data_room - bytes of frame one packet buffer must hold for @mtu:
 * the Ethernet header plus the IP MTU, never less than BP_MBUF_DATA_ROOM,
 * rounded up to a cache line.
 */
static inline uint32_t bp_mbuf_data_room(uint32_t mtu)
{
	uint32_t frame = mtu + 14;

	if (frame < BP_MBUF_DATA_ROOM)
		return BP_MBUF_DATA_ROOM;
	return (frame + 63) & ~63u;
}

#define FP_RX_BURST_MAX 256 /* [fastpath] rx_burst's bound: the fastpath's burst array */

struct bp_config {
	/* [port] */
	char port_dev[CFG_STR];     /* DPDK device: PCI address or vdev string */
	uint32_t ip;                /* network order */
	uint8_t prefix_len;
	uint32_t gateway;           /* network order, 0 = none */
	uint16_t mtu;
	uint32_t rx_desc;           /* receive descriptors per queue, 0 = auto */
	char offload[16];           /* "auto", "checksum" or "off" */
	/* [eal] */
	bool no_huge;
	uint32_t mem_mb;
	char file_prefix[64];
	char lcores[64];            /* e.g. "0" or "0-1" */
	/* [daemon] */
	char socket_path[CFG_STR];
	uint32_t socket_mode;       /* permissions of the control socket */
	uint32_t max_flows;         /* daemon-wide */
	uint32_t stop_drain_ms;     /* SIGTERM: orderly closes may finish this long, then RST */
	char socket_group[64];      /* group (name or gid) of the control socket, "" = root's */
	char admin_group[64];       /* its members may change the daemon (bypassctl), "" = none */
	char config_path[CFG_STR];  /* the file loaded, re-read on SIGHUP ("" = none) */
	char cli_fields[512];       /* "sec.key " per command-line override (main.c): an
				     * error about one names the command line, not the file */
	/* [apps] per-app region geometry */
	uint32_t max_apps;          /* apps attached at once (dp->apps is allocated for them) */
	uint32_t app_max_flows;
	uint32_t rx_buf_size;       /* power of two */
	uint32_t tx_buf_size;
	uint32_t prefault_mb;       /* per app: buffer MiB mapped in at slot allocation */
	bool app_hugepages;         /* regions on huge pages, reserved whole at attach */
	uint32_t queue_entries;     /* per app queue, power of two */
	uint32_t max_orphans;       /* per uid: flows held only by fork children */
	uint32_t max_listeners;     /* per uid: listening endpoints */
	uint32_t orphan_timeout_ms; /* an orphan nobody adopts is reset after this */
	/* [rpc] */
	uint32_t rpc_heap_max_mb;   /* per app: RPC message heap an app may ask for */
	uint32_t rpc_message_timeout_ms; /* a message must be whole this soon, 0 = no limit */
	/* [tcp] */
	uint32_t min_rto_ms;
	uint32_t max_rto_ms;
	uint32_t syn_retries;
	uint32_t max_retries;       /* data retransmissions before ETIMEDOUT */
	uint32_t time_wait_ms;
	uint32_t reasm_timeout_ms;  /* [port] reassembly_timeout_ms (slowpath/frag.c) */
	uint32_t init_cwnd_segs;
	char cc[32];                /* congestion control: "newreno" */
	bool ecn;                   /* ask for ECN on every active open */
	uint32_t keepalive_idle_ms; /* SO_KEEPALIVE flows: probe after this idle time */
	uint32_t keepalive_intvl_ms;
	uint32_t keepalive_probes;  /* unanswered probes before ETIMEDOUT */
	uint32_t challenge_ack_limit; /* RFC 5961 challenge ACKs a second, 0 = unlimited */
	uint32_t invalid_ratelimit_ms; /* per flow, between challenge/out-of-window ACKs */
	uint32_t delayed_ack_us;    /* an ACK waits this long for data to carry it */
	uint32_t max_half_open;     /* SYN queue entries, all listeners */
	bool syncookies;            /* cookies when a SYN queue is full */
	/* [fastpath] */
	uint32_t rx_burst;          /* 1..FP_RX_BURST_MAX */
	uint32_t idle_poll_us;      /* busy-poll this long after the last work, then block */
	uint32_t mbufs;
	uint32_t fp_cores;          /* fastpath threads */
	bool fp_scale;              /* load-driven active core count */
	uint32_t fp_min_cores;
	bool busy_poll;             /* never block: dedicated cores */
	char fp_cpus[64];           /* pin list, "" = no pinning */
	uint32_t tx_rate_mbit;      /* port's egress capacity for tenant shares, 0 = line */
	/* [log] */
	bool verbose;
	/* [metrics] (slowpath/metrics_http.c) */
	char metrics_listen[CFG_STR]; /* "" = off, HOST:PORT or unix:/path */
	bool metrics_allow_remote;  /* a listen address off loopback is refused without it */
	/* [tenants], [tenant NAME] (config_tenant.c), as loaded at start: the
	 * slowpath copies it (sp->tenant_cfg); a reload replaces only the copy */
	struct bp_tenants tenants;
};

/**
 * config_defaults - fill @c with the built-in defaults.  @c's previous
 * contents are overwritten, not freed (see config_free()).
 */
void config_defaults(struct bp_config *c);

/**
 * config_load_file - merge an INI file into @c.
 * @err: on failure, names the file, section and field and what is wrong.
 * Return: 0 or -1.
 */
int config_load_file(struct bp_config *c, const char *path, char *err, size_t errlen);

/**
 * config_load_stream - config_load_file() from the open stream @f, whose
 * errors name it @path (the fuzzer reads from memory).
 */
int config_load_stream(struct bp_config *c, FILE *f, const char *path, char *err, size_t errlen);

/**
 * config_set - set one field by "section.key" name from a string, with the
 * same validation as the file (used for command-line overrides).
 */
int config_set(struct bp_config *c, const char *section, const char *key, const char *val,
	       char *err, size_t errlen);

/**
 * config_name_origin - @msg, an error about fields it names as "[sec] key",
 * prefixed with where their values came from: the config file, the command
 * line (cli_fields), or both.  Written to @err.
 */
void config_name_origin(const struct bp_config *c, const char *msg, char *err, size_t errlen);

/** config_validate - cross-field checks (e.g. ip set, sizes powers of two). */
int config_validate(const struct bp_config *c, char *err, size_t errlen);

/** config_group_gid - resolve a group name or number; false if none. */
bool config_group_gid(const char *name, uint32_t *gid);

/** config_free - free what loading a file allocated (the tenant list). */
void config_free(struct bp_config *c);

/** config_print_fields - list every field and its meaning (--help-config). */
void config_print_fields(FILE *out);

#endif
