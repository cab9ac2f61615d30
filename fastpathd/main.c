// SPDX-License-Identifier: MIT
/*
 * main.c - fastpathd: configuration, EAL and port bring-up, then the
 * slowpath thread and the fastpath loop on the main lcore.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "sd_notify.h"
#include "dataplane.h"
#include "fastpath.h"
#include "port.h"
#include "slowpath.h"
#include "stale.h"

static void usage(FILE *out)
{
	fprintf(out,
"Usage: fastpathd [options]\n"
"\n"
"The bypass dataplane daemon: owns one DPDK port and runs TCP for the apps\n"
"that attach to its control socket (libbypass).\n"
"\n"
"Options (each overrides the config file):\n"
"  -c, --config FILE      INI config file (fields: fastpathd --help-config)\n"
"  -p, --port DEV         DPDK device: PCI address (0000:03:00.0) or a vdev\n"
"                         (net_af_packet0,iface=eth1  net_af_xdp0,iface=eth1\n"
"                          net_tap0,iface=bp0  net_memif0,role=server)\n"
"  -i, --ip A.B.C.D/N     our IPv4 address and prefix on that port\n"
"  -g, --gateway A.B.C.D  default gateway\n"
"  -s, --socket PATH      control socket (default /run/bypass/fastpathd.sock)\n"
"      --no-huge          run without hugepages\n"
"  -m, --mem MB           DPDK memory (default 512)\n"
"  -l, --lcores LIST      DPDK lcores (default 0)\n"
"      --cores N          fastpath threads ([fastpath] cores, default 1)\n"
"      --cc NAME          congestion control (newreno)\n"
"  -v, --verbose          log more (DPDK logs too)\n"
"      --help-config      list every config field\n"
"  -h, --help             this text\n"
"  -V, --version\n"
"\n"
"Example (a veth end in this namespace, no hugepages):\n"
"  fastpathd --port net_af_packet0,iface=veth0 --ip 198.18.0.1/24 --no-huge\n"
"Apps then attach via libbypass; `bypassctl status` shows the daemon.\n");
}

static struct dataplane *sig_dp;

static volatile sig_atomic_t stop_requested;

/*
 * The first SIGTERM/SIGINT asks the slowpath to close every connection
 * ([daemon] stop_drain_ms, then RST; slowpath/stop.c), which then ends the
 * fastpath loop; a second one stops at once.
 */
static void on_signal(int sig)
{
	int saved = errno; /* it may have landed on any thread, amid a call */
	(void)sig;
	if (sig_dp && !stop_requested) {
		stop_requested = 1;
		fp_sd_notify("STOPPING=1");
		if (sp_stop_request(sig_dp) == 0) {
			errno = saved;
			return;
		}
	}
	if (sig_dp) {
		sig_dp->stop = 1;
		uint64_t one = 1;
		for (uint32_t k = 0; k < sig_dp->ncores; k++) {
			ssize_t r = write(sig_dp->core[k].kick_fd, &one, sizeof(one));
			(void)r;
		}
	}
	errno = saved;
}

static void on_hup(int sig)
{
	int saved = errno;
	(void)sig;
	if (sig_dp)
		sp_reload_request(sig_dp);
	errno = saved;
}

static int parse_args(int argc, char **argv, struct bp_config *c)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "ip", required_argument, NULL, 'i' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "socket", required_argument, NULL, 's' },
		{ "no-huge", no_argument, NULL, 'H' },
		{ "mem", required_argument, NULL, 'm' },
		{ "lcores", required_argument, NULL, 'l' },
		{ "cc", required_argument, NULL, 'C' },
		{ "cores", required_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help-config", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	/* overrides are applied after the file, whatever their order */
	struct { const char *sec, *key, *val; } ov[32];
	int nov = 0, opt;
	const char *file = NULL;
	char err[512];

	while ((opt = getopt_long(argc, argv, "c:p:i:g:s:m:l:vhV", opts, NULL)) != -1) {
		const char *sec = NULL, *key = NULL, *val = optarg;
		switch (opt) {
		case 'c': file = optarg; continue;
		case 'p': sec = "port"; key = "device"; break;
		case 'i': sec = "port"; key = "ip"; break;
		case 'g': sec = "port"; key = "gateway"; break;
		case 's': sec = "daemon"; key = "socket"; break;
		case 'H': sec = "eal"; key = "no_huge"; val = "true"; break;
		case 'm': sec = "eal"; key = "mem_mb"; break;
		case 'l': sec = "eal"; key = "lcores"; break;
		case 'C': sec = "tcp"; key = "cc"; break;
		case 'N': sec = "fastpath"; key = "cores"; break;
		case 'v': sec = "log"; key = "verbose"; val = "true"; break;
		case 'F': config_print_fields(stdout); exit(0);
		case 'h': usage(stdout); exit(0);
		case 'V': printf("fastpathd %s\n", BYPASS_VERSION); exit(0);
		default: usage(stderr); return -1;
		}
		if (nov < 32)
			ov[nov++] = (typeof(ov[0])){ sec, key, val };
	}
	if (optind < argc) {
		fprintf(stderr, "fastpathd: unexpected argument '%s' (see --help)\n", argv[optind]);
		return -1;
	}
	config_defaults(c);
	if (file && config_load_file(c, file, err, sizeof(err))) {
		fprintf(stderr, "fastpathd: %s\n", err);
		return -1;
	}
	/* SIGHUP re-reads it, whatever the working directory is by then */
	if (file) {
		char *abs = realpath(file, NULL);
		snprintf(c->config_path, sizeof(c->config_path), "%s", abs ? abs : file);
		free(abs);
	}
	for (int i = 0; i < nov; i++) {
		if (config_set(c, ov[i].sec, ov[i].key, ov[i].val, err, sizeof(err))) {
			fprintf(stderr, "fastpathd: command line: %s\n", err);
			return -1;
		}
		size_t used = strlen(c->cli_fields);
		snprintf(c->cli_fields + used, sizeof(c->cli_fields) - used, "%s.%s ", ov[i].sec,
			 ov[i].key);
	}
	if (config_validate(c, err, sizeof(err))) {
		fprintf(stderr, "fastpathd: %s\n", err);
		return -1;
	}
	char e2[sizeof(err)];
	if (sp_config_check(c, e2, sizeof(e2))) {
		config_name_origin(c, e2, err, sizeof(err));
		fprintf(stderr, "fastpathd: %s\n", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct dataplane dp;
	char err[512];

	if (parse_args(argc, argv, &dp.cfg))
		return 2;
	fp_sd_notify_init();

	fp_clean_stale_runtime(); /* a SIGKILLed daemon's DPDK files */
	char storage[2048];
	char *eal_argv[32];
	int eal_argc = port_eal_args(&dp.cfg, storage, sizeof(storage), eal_argv, 32);
	if (eal_argc < 0 || port_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "fastpathd: DPDK EAL init failed for device '%s': %s\n"
			"  try --no-huge (no hugepages reserved?), run as root, check the device "
			"string, and if [eal] file_prefix is set, give each daemon its own\n",
			dp.cfg.port_dev, rte_strerror(rte_errno));
		return 1;
	}
	g_dp = &dp;
	if (dp_init(&dp, err, sizeof(err)) || port_init(&dp, err, sizeof(err))) {
		fprintf(stderr, "fastpathd: %s\n", err);
		rte_eal_cleanup();
		return 1;
	}
	sig_dp = &dp;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, on_hup);

	if (sp_start(&dp, err, sizeof(err))) {
		fprintf(stderr, "fastpathd: %s\n", err);
		port_fini(&dp);
		rte_eal_cleanup();
		return 1;
	}
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &dp.ip, ip, sizeof(ip));
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	rte_ether_format_addr(mac, sizeof(mac), &dp.mac);
	char offl[48];
	snprintf(offl, sizeof(offl), "%s%s%s", dp.rx_csum ? ",rx-checksum" : "",
		 dp.tx_csum ? ",tx-checksum" : "", dp.tso ? ",tso" : "");
	printf("fastpathd: ready port=%s ip=%s/%u mac=%s socket=%s offload=%s\n",
	       dp.cfg.port_dev, ip, dp.cfg.prefix_len, mac, dp.cfg.socket_path,
	       offl[0] ? offl + 1 : "none");
	fflush(stdout);
	fp_sd_notify("READY=1\nSTATUS=serving apps on its control socket");

	int rc = fp_run(&dp);

	printf("fastpathd: shutting down\n");
	fflush(stdout);
	sp_stop(&dp);
	port_fini(&dp);
	dp_fini(&dp);
	rte_eal_cleanup();
	return rc ? 1 : 0;
}
