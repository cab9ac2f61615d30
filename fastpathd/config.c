// SPDX-License-Identifier: MIT
/*
 * config.c - fastpathd configuration.
 *
 * One table describes every field (section, key, type, bounds), so the file
 * parser, the command-line overrides and the error messages can never
 * disagree about names.  Files are INI, parsed here (not by rte_cfgfile)
 * so that every syntax error can name its line.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <grp.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "config.h"

enum field_type { FT_U32, FT_BOOL, FT_STR, FT_IPV4, FT_CIDR, FT_POW2, FT_MODE };

struct field {
	const char *section;
	const char *key;
	enum field_type type;
	size_t off;
	size_t size;        /* FT_STR: buffer size; ints: sizeof field */
	uint64_t min, max;  /* integer bounds */
	const char *help;
};

#define F(sec, key, type, member, lo, hi, help) \
	{ sec, key, type, offsetof(struct bp_config, member), \
	  sizeof(((struct bp_config *)0)->member), lo, hi, help }

static const struct field fields[] = {
	F("port", "device", FT_STR, port_dev, 0, 0, "DPDK device: PCI address (0000:03:00.0) or vdev (net_af_packet0,iface=eth1)"),
	F("port", "ip", FT_CIDR, ip, 0, 0, "address/prefix, e.g. 198.18.0.1/24"),
	F("port", "gateway", FT_IPV4, gateway, 0, 0, "default gateway address"),
	F("port", "mtu", FT_U32, mtu, 576, BP_MAX_MTU, "IP MTU (up to 9000); packet buffers are sized to hold a whole frame"),
	F("port", "reassembly_timeout_ms", FT_U32, reasm_timeout_ms, 1000, 120000,
	  "how long a fragmented datagram to us may take to complete (Linux's ipfrag_time)"),
	F("port", "offload", FT_STR, offload, 0, 0, "offloads to use where the port has them: auto (checksums both ways and TSO), checksum (checksums only), off (fastpathd computes and verifies every checksum and sends MSS-sized frames)"),
	F("port", "rx_desc", FT_POW2, rx_desc, 0, 32768, "receive descriptors per queue, a power of two (0: auto, 4096 or as many as [fastpath] mbufs leaves room for); a deep ring holds a burst while the fastpath's CPU runs something else, where a shallow one drops it (af_xdp: the kernel counts them in the interface's rx drops)"),
	F("eal", "no_huge", FT_BOOL, no_huge, 0, 1, "run without hugepages"),
	F("eal", "mem_mb", FT_U32, mem_mb, 64, 1u << 20, "DPDK memory in MiB"),
	F("eal", "file_prefix", FT_STR, file_prefix, 0, 0, "DPDK runtime file prefix (unique per instance)"),
	F("eal", "lcores", FT_STR, lcores, 0, 0, "DPDK lcore list"),
	F("daemon", "socket", FT_STR, socket_path, 0, 0, "control socket path"),
	F("daemon", "socket_mode", FT_MODE, socket_mode, 0, 0777, "control socket permissions, octal (0660: root and its group; 0666: every local user)"),
	F("daemon", "socket_group", FT_STR, socket_group, 0, 0, "group (name or gid) whose members may attach: the control socket becomes root:GROUP with socket_mode 0660 (\"\" = leave it)"),
	F("daemon", "admin_group", FT_STR, admin_group, 0, 0, "group (name or gid) whose members may change the daemon and see every tenant with bypassctl (tenant add/set/del, config reload, cores set), as root and fastpathd's own user may (\"\" = nobody else)"),
	F("daemon", "max_flows", FT_U32, max_flows, 16, 1u << 22, "connections across all apps"),
	F("daemon", "stop_drain_ms", FT_U32, stop_drain_ms, 0, 60000, "on SIGTERM: live connections get this long to finish an orderly close (FIN), then the rest are reset (0: reset at once)"),
	F("apps", "max_apps", FT_U32, max_apps, 1, 4096, "apps attached at once (an idle one costs the daemon 7 descriptors and about 40 KiB)"),
	F("apps", "max_flows", FT_U32, app_max_flows, 4, 1u << 20, "connections per app"),
	F("apps", "rx_buf", FT_POW2, rx_buf_size, 4096, 1u << 30, "per-connection receive buffer bytes (power of two)"),
	F("apps", "tx_buf", FT_POW2, tx_buf_size, 4096, 1u << 30, "per-connection transmit buffer bytes (power of two)"),
	F("apps", "prefault_mb", FT_U32, prefault_mb, 0, 1u << 20, "per app: a new connection's buffers are mapped in whole when it is set up, while the app's mapped-in buffers stay under this many MiB (0: never; pages are then faulted in as the rings first wrap)"),
	F("apps", "hugepages", FT_BOOL, app_hugepages, 0, 1, "back each app's region with huge pages of the kernel's default size (from vm.nr_hugepages; see fastpathd(8)): with thousands of connections their rings then cost far fewer TLB misses, but the whole region (about max_flows x (rx_buf + tx_buf)) is reserved when the app attaches, and an app whose region does not fit is refused"),
	F("apps", "queue_entries", FT_POW2, queue_entries, 64, 1u << 20, "entries per app queue (power of two)"),
	F("apps", "max_listeners", FT_U32, max_listeners, 1, 4096, "per uid: listening endpoints (a shared port's every member counts); the daemon holds 4096 in all"),
	F("apps", "max_orphans", FT_U32, max_orphans, 0, 1u << 22, "per uid: connections whose owner closed or exited while a fork child still holds them; beyond this they close"),
	F("apps", "orphan_timeout_ms", FT_U32, orphan_timeout_ms, 100, 1u << 31, "an orphaned connection no holder adopts is reset after this"),
	F("rpc", "heap_max_mb", FT_U32, rpc_heap_max_mb, 0, 1u << 14, "per app: the largest RPC message heap an app may ask for at attach (whole messages of RPC sessions are assembled there; 0: no RPC sessions)"),
	F("rpc", "message_timeout_ms", FT_U32, rpc_message_timeout_ms, 0, 3600000, "a message of an RPC session must arrive whole within this long of its first frame, or the session is reset: a peer cannot hold the app's heap with a message it never finishes (time the app holds the session up does not count; 0: no limit)"),
	F("metrics", "listen", FT_STR, metrics_listen, 0, 0, "Prometheus endpoint (GET /metrics): 127.0.0.1:9464, [::1]:9464 or unix:/run/bypass-metrics.sock (\"\" = off)"),
	F("metrics", "allow_remote", FT_BOOL, metrics_allow_remote, 0, 1, "allow a listen address that is not loopback (the metrics are then readable from the network)"),
	F("tcp", "min_rto_ms", FT_U32, min_rto_ms, 1, 60000, "minimum retransmission timeout"),
	F("tcp", "max_rto_ms", FT_U32, max_rto_ms, 10, 600000, "maximum retransmission timeout"),
	F("tcp", "syn_retries", FT_U32, syn_retries, 1, 32, "SYN retransmissions before ETIMEDOUT"),
	F("tcp", "max_retries", FT_U32, max_retries, 1, 64, "data retransmissions before ETIMEDOUT"),
	F("tcp", "time_wait_ms", FT_U32, time_wait_ms, 0, 240000, "TIME_WAIT duration"),
	F("tcp", "init_cwnd", FT_U32, init_cwnd_segs, 1, 1024, "initial congestion window in segments"),
	F("tcp", "cc", FT_STR, cc, 0, 0, "congestion control: newreno, cubic, dctcp, timely"),
	F("tcp", "ecn", FT_BOOL, ecn, 0, 1, "ask for ECN on every active open (dctcp always asks; peers' requests are always accepted)"),
	F("tcp", "keepalive_idle_ms", FT_U32, keepalive_idle_ms, 100, 1u << 31, "SO_KEEPALIVE: idle time before the first probe"),
	F("tcp", "keepalive_intvl_ms", FT_U32, keepalive_intvl_ms, 100, 1u << 31, "SO_KEEPALIVE: time between probes"),
	F("tcp", "keepalive_probes", FT_U32, keepalive_probes, 1, 100, "SO_KEEPALIVE: unanswered probes before the connection fails"),
	F("tcp", "challenge_ack_limit", FT_U32, challenge_ack_limit, 0, 1u << 30, "RFC 5961 challenge ACKs per second, all flows (randomised around it; 0 = no global limit)"),
	F("tcp", "invalid_ratelimit_ms", FT_U32, invalid_ratelimit_ms, 0, 60000, "per flow: at most one challenge / out-of-window ACK this often"),
	F("tcp", "delayed_ack_us", FT_U32, delayed_ack_us, 0, 499999, "an ACK for in-order data below two segments waits this long for data to carry it (a response); 0: every ACK at once"),
	F("tcp", "max_half_open", FT_U32, max_half_open, 16, 1u << 20, "half-open connections (SYN received), all listeners; never take flows or app slots"),
	F("tcp", "syncookies", FT_BOOL, syncookies, 0, 1, "answer with a SYN cookie when a listener's half-open queue or max_half_open is full"),
	F("fastpath", "rx_burst", FT_U32, rx_burst, 1, FP_RX_BURST_MAX, "packets per receive burst; a round takes up to 8 bursts while they come back full"),
	F("fastpath", "idle_poll_us", FT_U32, idle_poll_us, 0, 1000000, "busy-poll time before blocking"),
	F("fastpath", "mbufs", FT_U32, mbufs, 1024, 1u << 22, "packet buffers in the pool"),
	F("fastpath", "cores", FT_U32, fp_cores, 1, 8, "fastpath threads; each owns a share of the flows (steered by 4-tuple hash) and its own app queues"),
	F("fastpath", "scale", FT_BOOL, fp_scale, 0, 1, "add and remove active fastpath cores with load (between min_cores and cores); bypassctl cores set N overrides"),
	F("fastpath", "min_cores", FT_U32, fp_min_cores, 1, 8, "with scale: never fewer active cores than this"),
	F("fastpath", "busy_poll", FT_BOOL, busy_poll, 0, 1, "dedicated-core mode: fastpath threads never block (give each its own CPU with cpus)"),
	F("fastpath", "tx_rate_mbit", FT_U32, tx_rate_mbit, 0, 1000000, "port egress capacity in Mbit/s the fastpath shares among tenants by class and weight (0 = whatever the port takes)"),
	F("fastpath", "cpus", FT_STR, fp_cpus, 0, 0, "CPUs to pin fastpath threads to, one per core in order, e.g. 2,3 (empty: not pinned)"),
	F("log", "verbose", FT_BOOL, verbose, 0, 1, "verbose logging"),
};

void config_defaults(struct bp_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mtu = 1500;
	snprintf(c->offload, sizeof(c->offload), "auto");
	c->no_huge = false;
	c->mem_mb = 512;
	/* unique per process, so several daemons can share a host */
	snprintf(c->file_prefix, sizeof(c->file_prefix), "fastpathd-%d", (int)getpid());
	snprintf(c->lcores, sizeof(c->lcores), "0");
	snprintf(c->socket_path, sizeof(c->socket_path), "/run/bypass/fastpathd.sock");
	c->socket_mode = 0660;
	c->max_flows = 16384;
	c->max_apps = 1024;
	c->app_max_flows = 1024;
	c->stop_drain_ms = 1000;
	c->max_orphans = 1024;
	c->max_listeners = 1024;
	c->rpc_heap_max_mb = 64;
	c->rpc_message_timeout_ms = 10000;
	c->orphan_timeout_ms = 600000;
	c->rx_buf_size = 256 * 1024;
	c->tx_buf_size = 256 * 1024;
	c->prefault_mb = 256;
	c->queue_entries = 4096;
	c->min_rto_ms = 10;
	c->max_rto_ms = 60000;
	c->syn_retries = 6;
	c->max_retries = 15;
	c->time_wait_ms = 2000;
	c->reasm_timeout_ms = 30000;
	c->init_cwnd_segs = 10;
	c->keepalive_idle_ms = 7200000; /* Linux's defaults: 2 h, 75 s, 9 */
	c->keepalive_intvl_ms = 75000;
	c->keepalive_probes = 9;
	c->challenge_ack_limit = 1000; /* Linux's before 6.0 */
	c->invalid_ratelimit_ms = 500; /* Linux's tcp_invalid_ratelimit */
	c->delayed_ack_us = 500;
	c->max_half_open = 4096;
	c->syncookies = true;
	snprintf(c->cc, sizeof(c->cc), "newreno");
	c->rx_burst = 32;
	c->idle_poll_us = 100;
	c->mbufs = 16383;
	c->fp_cores = 1;
	c->fp_min_cores = 1;
}

static const struct field *field_find(const char *section, const char *key)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(fields[i].section, section) && !strcmp(fields[i].key, key))
			return &fields[i];
	return NULL;
}

static int parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = a.s_addr;
	return 0;
}

/*
 * A number as the docs promise it: decimal, or hexadecimal after 0x.  A
 * leading zero is still decimal (0100 is 100, not octal 64, as
 * strtoull(..., 0) would have it); no sign, blanks or suffix.
 */
static int parse_number(const char *s, unsigned long long *out)
{
	int base = 10;
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		/* strtoull would skip a second 0x */
		if (!isxdigit((unsigned char)*s) || s[1] == 'x' || s[1] == 'X')
			return -1;
	} else if (!isdigit((unsigned char)*s)) {
		return -1;
	}
	errno = 0;
	*out = strtoull(s, &end, base);
	return errno || *end ? -1 : 0;
}

static int field_set(struct bp_config *c, const struct field *f, const char *val,
		     char *err, size_t errlen)
{
	void *dst = (char *)c + f->off;
	char *end;

	switch (f->type) {
	case FT_STR:
		if (strlen(val) >= f->size) {
			snprintf(err, errlen, "[%s] %s: value too long (max %zu characters)",
				 f->section, f->key, f->size - 1);
			return -1;
		}
		strcpy(dst, val);
		return 0;
	case FT_BOOL:
		if (!strcmp(val, "1") || !strcasecmp(val, "true") || !strcasecmp(val, "yes")) {
			*(bool *)dst = true;
		} else if (!strcmp(val, "0") || !strcasecmp(val, "false") || !strcasecmp(val, "no")) {
			*(bool *)dst = false;
		} else {
			snprintf(err, errlen, "[%s] %s: '%s' is not a boolean (use true or false)",
				 f->section, f->key, val);
			return -1;
		}
		return 0;
	case FT_U32:
	case FT_POW2: {
		unsigned long long v;
		if (parse_number(val, &v)) {
			snprintf(err, errlen, "[%s] %s: '%s' is not a number: write it in decimal "
				 "or 0x hexadecimal (%s)", f->section, f->key, val, f->help);
			return -1;
		}
		if (v < f->min || v > f->max) {
			snprintf(err, errlen, "[%s] %s: %llu is out of range %llu..%llu (%s)",
				 f->section, f->key, v, (unsigned long long)f->min,
				 (unsigned long long)f->max, f->help);
			return -1;
		}
		if (f->type == FT_POW2 && (v & (v - 1))) {
			snprintf(err, errlen, "[%s] %s: %llu must be a power of two", f->section,
				 f->key, v);
			return -1;
		}
		if (f->size == sizeof(uint16_t))
			*(uint16_t *)dst = (uint16_t)v;
		else
			*(uint32_t *)dst = (uint32_t)v;
		return 0;
	}
	case FT_MODE: {
		/* permissions are octal, as for chmod: 400, 0400 and 0o400 all
		 * mean r-------- (strtoul base 0 would read 400 as decimal) */
		const char *d = val;
		unsigned long v = 0;
		if (d[0] == '0' && (d[1] == 'o' || d[1] == 'O'))
			d += 2;
		if (!*d || strspn(d, "01234567") != strlen(d) || strlen(d) > 11) {
			snprintf(err, errlen, "[%s] %s: '%s' is not an octal mode (give e.g. 0660; "
				 "digits 0-7 only)", f->section, f->key, val);
			return -1;
		}
		v = strtoul(d, NULL, 8);
		if (v > f->max) {
			snprintf(err, errlen, "[%s] %s: %#lo is out of range 0..0777 (%s)",
				 f->section, f->key, v, f->help);
			return -1;
		}
		*(uint32_t *)dst = (uint32_t)v;
		return 0;
	}
	case FT_IPV4:
		if (parse_ipv4(val, dst)) {
			snprintf(err, errlen, "[%s] %s: '%s' is not an IPv4 address", f->section,
				 f->key, val);
			return -1;
		}
		return 0;
	case FT_CIDR: {
		char buf[64];
		snprintf(buf, sizeof(buf), "%s", val);
		char *slash = strchr(buf, '/');
		long plen;
		/* no default prefix: a guessed /24 would quietly mis-route */
		if (!slash) {
			snprintf(err, errlen, "[%s] %s: '%s' has no prefix length: write "
				 "address/prefix, e.g. 198.18.0.1/24", f->section, f->key, val);
			return -1;
		}
		*slash = 0;
		plen = strtol(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || plen < 1 || plen > 32) {
			snprintf(err, errlen, "[%s] %s: '%s' has a bad prefix length (want 1..32, "
				 "e.g. 198.18.0.1/24)", f->section, f->key, val);
			return -1;
		}
		if (parse_ipv4(buf, &c->ip)) {
			snprintf(err, errlen, "[%s] %s: '%s' is not an IPv4 address (%s)",
				 f->section, f->key, val, f->help);
			return -1;
		}
		c->prefix_len = (uint8_t)plen;
		return 0;
	}
	}
	return -1;
}

int config_set(struct bp_config *c, const char *section, const char *key, const char *val,
	       char *err, size_t errlen)
{
	const struct field *f = field_find(section, key);
	if (!f) {
		snprintf(err, errlen, "[%s] %s: unknown field (see fastpathd --help-config)",
			 section, key);
		return -1;
	}
	return field_set(c, f, val, err, errlen);
}

/* strip leading and trailing blanks in place */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = 0;
	return s;
}

/*
 * One line of an INI file: blank, a comment (';' anywhere, '#' at the
 * start), "[section]" or "key = value" inside a section.
 */
static int config_line(struct bp_config *c, char *line, char *section, size_t seclen,
		       char *err, size_t errlen)
{
	char *semi = strchr(line, ';');
	if (semi)
		*semi = 0;
	char *s = trim(line);
	if (!*s || *s == '#')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (!close || *trim(close + 1)) {
			snprintf(err, errlen, "'%s' is not a section header (write [name])", s);
			return -1;
		}
		*close = 0;
		char *name = trim(s + 1);
		if (!*name || strlen(name) >= seclen) {
			snprintf(err, errlen, "'[%s]' is not a valid section name", name);
			return -1;
		}
		if (config_tenant_section(&c->tenants, name, err, errlen) < 0)
			return -1;
		strcpy(section, name);
		return 0;
	}
	char *eq = strchr(s, '=');
	if (!eq) {
		snprintf(err, errlen, "'%s' is not 'key = value'", s);
		return -1;
	}
	*eq = 0;
	char *key = trim(s), *val = trim(eq + 1);
	if (!section[0]) {
		snprintf(err, errlen, "'%s' is outside any section: put it under its "
			 "[section] header (see fastpathd --help-config)", key);
		return -1;
	}
	int rc = config_tenant_set(&c->tenants, section, key, val, err, errlen);
	if (rc)
		return rc < 0 ? -1 : 0;
	return config_set(c, section, key, val, err, errlen);
}

void config_free(struct bp_config *c)
{
	config_tenants_free(&c->tenants);
}

int config_load_file(struct bp_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot read config file (%s); check the path",
			 path, strerror(errno));
		return -1;
	}
	int rc = config_load_stream(c, f, path, err, errlen);
	fclose(f);
	return rc;
}

int config_load_stream(struct bp_config *c, FILE *f, const char *path, char *err, size_t errlen)
{
	char line[1024], section[64] = "", e2[512];
	unsigned lineno = 0;
	int rc = 0;
	while (!rc && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			if (strlen(line) < sizeof(line) - 1) /* fgets() read on past a NUL */
				snprintf(err, errlen, "%s:%u: a NUL byte: not a text file", path,
					 lineno);
			else
				snprintf(err, errlen, "%s:%u: line longer than %zu characters", path,
					 lineno, sizeof(line) - 2);
			rc = -1;
		} else if (config_line(c, line, section, sizeof(section), e2, sizeof(e2))) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, e2);
			rc = -1;
		}
	}
	if (!rc && ferror(f)) {
		snprintf(err, errlen, "%s: read error (%s)", path, strerror(errno));
		rc = -1;
	}
	return rc;
}

bool config_group_gid(const char *name, uint32_t *gid)
{
	char *end;
	unsigned long v = strtoul(name, &end, 10);
	struct group *gr;

	if (end != name && !*end && v < UINT32_MAX) {
		if (gid)
			*gid = (uint32_t)v;
		return true;
	}
	gr = getgrnam(name);
	if (gr && gid)
		*gid = gr->gr_gid;
	return gr != NULL;
}

/*
 * The checks between fields.  Each error says what to change; the caller
 * (config_validate) puts the config file's path in front of it.
 */
static int config_check(const struct bp_config *c, char *err, size_t errlen)
{
	if (!c->port_dev[0]) {
		snprintf(err, errlen, "[port] device: not set; give --port DEV or set it in the "
			 "config file (e.g. net_af_packet0,iface=eth1 or a PCI address)");
		return -1;
	}
	if (!c->ip) {
		snprintf(err, errlen, "[port] ip: not set; give --ip A.B.C.D/N or set it in the "
			 "config file");
		return -1;
	}
	if (strcmp(c->offload, "auto") && strcmp(c->offload, "checksum") &&
	    strcmp(c->offload, "off")) {
		snprintf(err, errlen, "[port] offload: '%s' is not one of auto, checksum, off",
			 c->offload);
		return -1;
	}
	if (c->app_max_flows > c->max_flows) {
		snprintf(err, errlen, "[apps] max_flows: %u exceeds [daemon] max_flows %u; raise "
			 "[daemon] max_flows or lower [apps] max_flows", c->app_max_flows,
			 c->max_flows);
		return -1;
	}
	if (c->min_rto_ms > c->max_rto_ms) {
		snprintf(err, errlen, "[tcp] min_rto_ms: %u exceeds [tcp] max_rto_ms %u; raise "
			 "max_rto_ms or lower min_rto_ms", c->min_rto_ms, c->max_rto_ms);
		return -1;
	}
	if (c->fp_min_cores > c->fp_cores) {
		snprintf(err, errlen, "[fastpath] min_cores: %u exceeds [fastpath] cores %u; raise "
			 "cores or lower min_cores", c->fp_min_cores, c->fp_cores);
		return -1;
	}
	if (c->fp_cpus[0]) {
		unsigned n = 0;
		for (const char *p = c->fp_cpus; *p;) {
			char *end;
			unsigned long v = strtoul(p, &end, 10);
			if (end == p || v >= 1024 || (*end && *end != ',')) {
				snprintf(err, errlen, "[fastpath] cpus: '%s' is not a list of CPU "
					 "numbers like 2,3", c->fp_cpus);
				return -1;
			}
			n++;
			p = *end ? end + 1 : end;
		}
		if (n < c->fp_cores) {
			snprintf(err, errlen, "[fastpath] cpus: %u CPU(s) listed for %u cores; "
				 "list one CPU per core or lower [fastpath] cores", n, c->fp_cores);
			return -1;
		}
	}
	if (c->socket_group[0] && !config_group_gid(c->socket_group, NULL)) {
		snprintf(err, errlen, "[daemon] socket_group: no group '%s' (give a group name "
			 "that exists or a gid, e.g. bpusers)", c->socket_group);
		return -1;
	}
	if (c->admin_group[0] && !config_group_gid(c->admin_group, NULL)) {
		snprintf(err, errlen, "[daemon] admin_group: no group '%s' (give a group name "
			 "that exists or a gid, e.g. bpadmin)", c->admin_group);
		return -1;
	}
	if (config_tenants_validate(&c->tenants, err, errlen))
		return -1;
	/* [tcp] cc names a slowpath algorithm: sp_config_check() checks it */
	return 0;
}

/* whether "@sec.@key " is in c->cli_fields (set on the command line) */
static bool cli_field(const struct bp_config *c, const char *sec, const char *key)
{
	char name[132];

	snprintf(name, sizeof(name), "%s.%s ", sec, key);
	for (const char *p = c->cli_fields; (p = strstr(p, name)); p++)
		if (p == c->cli_fields || p[-1] == ' ')
			return true;
	return false;
}

/*
 * Of the fields the check's message @msg names ("[sec] key"), how many the
 * command line set (c->cli_fields); *named: how many it names.
 */
static unsigned cli_fields_named(const struct bp_config *c, const char *msg, unsigned *named)
{
	char sec[64], key[64];
	unsigned n = 0;

	*named = 0;
	for (const char *p = msg; (p = strchr(p, '[')); p++) {
		if (sscanf(p, "[%63[^]]] %63[a-z0-9_]", sec, key) != 2)
			continue;
		++*named;
		n += cli_field(c, sec, key);
	}
	return n;
}

void config_name_origin(const struct bp_config *c, const char *msg, char *err, size_t errlen)
{
	unsigned named, cli = cli_fields_named(c, msg, &named);

	if (cli && (cli == named || !c->config_path[0]))
		snprintf(err, errlen, "command line: %s", msg);
	else if (cli)
		snprintf(err, errlen, "%s and the command line: %s", c->config_path, msg);
	else if (c->config_path[0])
		snprintf(err, errlen, "%s: %s", c->config_path, msg);
	else
		snprintf(err, errlen, "%s", msg);
}

int config_validate(const struct bp_config *c, char *err, size_t errlen)
{
	char e2[512];

	if (!config_check(c, e2, sizeof(e2)))
		return 0;
	config_name_origin(c, e2, err, errlen);
	return -1;
}

/* @f's value in @c as the file would spell it; "" if it has no useful default */
static void field_format(const struct bp_config *c, const struct field *f, char *buf, size_t len)
{
	const void *src = (const char *)c + f->off;
	struct in_addr a;

	buf[0] = 0;
	switch (f->type) {
	case FT_STR:
		/* file_prefix's default holds the pid: say how it is made instead */
		if (!strcmp(f->key, "file_prefix"))
			snprintf(buf, len, "fastpathd-PID");
		else
			snprintf(buf, len, "%s", (const char *)src);
		break;
	case FT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)src ? "true" : "false");
		break;
	case FT_U32:
	case FT_POW2:
		snprintf(buf, len, "%u", f->size == sizeof(uint16_t) ? *(const uint16_t *)src :
					 *(const uint32_t *)src);
		break;
	case FT_MODE:
		snprintf(buf, len, "%04o", *(const uint32_t *)src);
		break;
	case FT_IPV4:
	case FT_CIDR:
		a.s_addr = *(const uint32_t *)src;
		if (a.s_addr)
			inet_ntop(AF_INET, &a, buf, len);
		break;
	}
}

/**
 * config_print_fields - list every field for --help-config: "[section]"
 * lines, then "  key  help (default: value)".  deploy/man/gen-conf-man.sh
 * turns this into fastpathd.conf(5), so the table above is the one source
 * of the config reference: keep the format.
 */
void config_print_fields(FILE *out)
{
	struct bp_config d;
	const char *sec = "";
	char def[128];

	config_defaults(&d);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(sec, fields[i].section)) {
			sec = fields[i].section;
			fprintf(out, "[%s]\n", sec);
		}
		field_format(&d, &fields[i], def, sizeof(def));
		fprintf(out, "  %-14s %s%s%s%s\n", fields[i].key, fields[i].help,
			def[0] ? " (default: " : "", def, def[0] ? ")" : "");
	}
	config_free(&d);
	config_tenant_print_fields(out);
}
