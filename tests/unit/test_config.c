// SPDX-License-Identifier: MIT
/*
 * test_config.c - fastpathd configuration: defaults, INI files, command-line
 * overrides and cross-field validation.
 *
 * An operator only ever sees the error string, so every failure case checks
 * that the message names the section and field (and the file, if any).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "slowpath.h"

static char err[512];

#define assert_err_names(...) do {                                          \
	const char *want_[] = { __VA_ARGS__ };                               \
	for (size_t i_ = 0; i_ < sizeof(want_) / sizeof(want_[0]); i_++)     \
		cr_assert_not_null(strstr(err, want_[i_]),                   \
				   "error '%s' does not mention '%s'", err, want_[i_]); \
} while (0)

static void set_ok(struct bp_config *c, const char *sec, const char *key, const char *val)
{
	err[0] = 0;
	cr_assert_eq(config_set(c, sec, key, val, err, sizeof(err)), 0,
		     "[%s] %s = %s rejected: %s", sec, key, val, err);
}

static void set_bad(struct bp_config *c, const char *sec, const char *key, const char *val)
{
	char field[96];

	err[0] = 0;
	cr_assert_eq(config_set(c, sec, key, val, err, sizeof(err)), -1,
		     "[%s] %s = '%s' accepted", sec, key, val);
	snprintf(field, sizeof(field), "[%s] %s", sec, key);
	assert_err_names(field);
}

/* a usable config: defaults plus the two fields that have none */
static void minimal(struct bp_config *c)
{
	config_defaults(c);
	set_ok(c, "port", "device", "net_tap0");
	set_ok(c, "port", "ip", "198.18.0.1/24");
}

/* Write @text to a fresh temp file; the caller unlinks @path. */
static void write_tmp(char *path, size_t len, const char *text)
{
	FILE *f;
	int fd;

	snprintf(path, len, "/tmp/bypass_cfg_XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* ------------------------------------------------------------- defaults */

Test(config, defaults_sane)
{
	struct bp_config c;

	memset(&c, 0x5a, sizeof(c));
	config_defaults(&c);
	cr_assert_eq(c.port_dev[0], 0);
	cr_assert_eq(c.ip, 0);
	cr_assert_eq(c.mtu, 1500);
	cr_assert_eq(c.rx_buf_size & (c.rx_buf_size - 1), 0);
	cr_assert_eq(c.tx_buf_size & (c.tx_buf_size - 1), 0);
	cr_assert_eq(c.queue_entries & (c.queue_entries - 1), 0);
	cr_assert_leq(c.min_rto_ms, c.max_rto_ms);
	cr_assert_leq(c.app_max_flows, c.max_flows);
	cr_assert_str_eq(c.cc, "newreno");
	cr_assert_neq(c.socket_path[0], 0);
}

Test(config, defaults_need_device_and_ip)
{
	struct bp_config c;

	config_defaults(&c);
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	assert_err_names("[port] device");
	set_ok(&c, "port", "device", "net_tap0");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	assert_err_names("[port] ip");
	set_ok(&c, "port", "ip", "10.1.2.3/16");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);
}

/* ------------------------------------------------------------ config_set */

Test(config, set_integers_and_bounds)
{
	struct bp_config c;

	minimal(&c);
	set_ok(&c, "port", "mtu", "2000");
	cr_assert_eq(c.mtu, 2000);
	set_ok(&c, "port", "mtu", "576");
	cr_assert_eq(c.mtu, 576);
	set_bad(&c, "port", "mtu", "575");
	assert_err_names("575", "576..9000");
	set_bad(&c, "port", "mtu", "9001");
	set_bad(&c, "port", "mtu", "70000"); /* would truncate into a uint16 */
	cr_assert_eq(c.mtu, 576, "rejected values must not be stored");
	set_bad(&c, "port", "mtu", "15OO");
	assert_err_names("not a number");
	set_bad(&c, "port", "mtu", "");
	set_bad(&c, "tcp", "syn_retries", "-1");
	set_bad(&c, "tcp", "syn_retries", "99999999999999999999999");
	set_ok(&c, "tcp", "time_wait_ms", "0");
	cr_assert_eq(c.time_wait_ms, 0);
	set_ok(&c, "fastpath", "rx_burst", "64");
	cr_assert_eq(c.rx_burst, 64);
	set_ok(&c, "fastpath", "rx_burst", "256");
	set_bad(&c, "fastpath", "rx_burst", "257"); /* the fastpath's burst array holds 256 */
	assert_err_names("rx_burst", "1..256");
	cr_assert_eq(c.rx_desc, 0, "receive descriptors default to auto");
	set_ok(&c, "port", "rx_desc", "2048");
	cr_assert_eq(c.rx_desc, 2048);
	set_bad(&c, "port", "rx_desc", "3000");
	assert_err_names("rx_desc", "power of two");
	set_bad(&c, "port", "rx_desc", "65536");
}

/*
 * Numbers are decimal or 0x hexadecimal, as fastpathd.conf(5) says: a
 * leading zero must not make one octal (strtoull base 0 read 0100 as 64).
 */
Test(config, numbers_decimal_or_hex_never_octal)
{
	struct bp_config c;

	minimal(&c);
	set_ok(&c, "eal", "mem_mb", "0100");
	cr_assert_eq(c.mem_mb, 100, "mem_mb = 0100 read as %u", c.mem_mb);
	set_ok(&c, "eal", "mem_mb", "0x100");
	cr_assert_eq(c.mem_mb, 256);
	set_ok(&c, "eal", "mem_mb", "0X4a");
	cr_assert_eq(c.mem_mb, 74);
	set_ok(&c, "tcp", "time_wait_ms", "00");
	cr_assert_eq(c.time_wait_ms, 0);
	set_ok(&c, "tcp", "syn_retries", "08"); /* not even octal: was refused */
	cr_assert_eq(c.syn_retries, 8);
	set_ok(&c, "apps", "rx_buf", "0x10000");
	cr_assert_eq(c.rx_buf_size, 65536);
	set_ok(&c, "apps", "tx_buf", "065536");
	cr_assert_eq(c.tx_buf_size, 65536);
	set_bad(&c, "eal", "mem_mb", "0x");
	assert_err_names("not a number", "decimal", "0x hexadecimal");
	set_bad(&c, "eal", "mem_mb", "0x1g");
	set_bad(&c, "eal", "mem_mb", "0x0x10"); /* strtoull skips a second 0x */
	set_bad(&c, "eal", "mem_mb", "0x-40");
	set_bad(&c, "eal", "mem_mb", "+100");
	set_bad(&c, "eal", "mem_mb", " 100");
	set_bad(&c, "eal", "mem_mb", "1e3");
	set_bad(&c, "eal", "mem_mb", "0o100");
	set_bad(&c, "eal", "mem_mb", "0x10000000000000000");
	cr_assert_eq(c.mem_mb, 74, "rejected values must not be stored");
}

Test(config, file_leading_zero_is_decimal)
{
	struct bp_config c;
	char path[64];

	write_tmp(path, sizeof(path), "[eal]\nmem_mb = 0100\n[tcp]\nmax_rto_ms = 0x2710\n");
	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	cr_assert_eq(c.mem_mb, 100, "mem_mb = 0100 read as %u", c.mem_mb);
	cr_assert_eq(c.max_rto_ms, 10000);
}

Test(config, set_u16_does_not_clobber_neighbours)
{
	struct bp_config c;
	uint32_t gw, mem;

	minimal(&c);
	set_ok(&c, "port", "gateway", "198.18.0.254");
	gw = c.gateway;
	mem = c.mem_mb;
	set_ok(&c, "port", "mtu", "1999");
	cr_assert_eq(c.mtu, 1999);
	cr_assert_eq(c.gateway, gw);
	cr_assert_eq(c.mem_mb, mem);
}

/*
 * A frame is one packet buffer (never chained): the pool's data room grows
 * with the MTU, up to jumbo frames; larger MTUs are refused.
 */
Test(config, mtu_fits_a_packet_buffer)
{
	struct bp_config c;

	minimal(&c);
	set_ok(&c, "port", "mtu", "2034");
	cr_assert_eq(bp_mbuf_data_room(c.mtu), BP_MBUF_DATA_ROOM);
	cr_assert_eq(bp_mbuf_data_room(1500), BP_MBUF_DATA_ROOM);
	set_ok(&c, "port", "mtu", "9000");
	cr_assert_eq(c.mtu, 9000);
	cr_assert_geq(bp_mbuf_data_room(c.mtu), 9000 + 14);
	cr_assert_eq(bp_mbuf_data_room(c.mtu) % 64, 0);
	cr_assert_geq(bp_mbuf_data_room(2035), 2035 + 14);
	set_bad(&c, "port", "mtu", "9001");
	assert_err_names("9001");
	cr_assert_eq(c.mtu, 9000);
}

/* permissions are octal like chmod's, whatever prefix the operator uses */
Test(config, socket_mode_is_octal)
{
	struct bp_config c;

	minimal(&c);
	set_ok(&c, "daemon", "socket_mode", "400");
	cr_assert_eq(c.socket_mode, 0400, "400 read as %#o", c.socket_mode);
	set_ok(&c, "daemon", "socket_mode", "0660");
	cr_assert_eq(c.socket_mode, 0660);
	set_ok(&c, "daemon", "socket_mode", "0o640");
	cr_assert_eq(c.socket_mode, 0640);
	set_ok(&c, "daemon", "socket_mode", "0O600");
	cr_assert_eq(c.socket_mode, 0600);
	set_ok(&c, "daemon", "socket_mode", "666");
	cr_assert_eq(c.socket_mode, 0666);
	set_ok(&c, "daemon", "socket_mode", "0");
	cr_assert_eq(c.socket_mode, 0);
	set_ok(&c, "daemon", "socket_mode", "0777");
	cr_assert_eq(c.socket_mode, 0777);
	set_bad(&c, "daemon", "socket_mode", "0680");
	assert_err_names("0680", "octal");
	set_bad(&c, "daemon", "socket_mode", "9");
	set_bad(&c, "daemon", "socket_mode", "0x1ff");
	set_bad(&c, "daemon", "socket_mode", "0o");
	set_bad(&c, "daemon", "socket_mode", "");
	set_bad(&c, "daemon", "socket_mode", "-1");
	set_bad(&c, "daemon", "socket_mode", "rw-rw----");
	set_bad(&c, "daemon", "socket_mode", "1777"); /* no sticky/setuid bits */
	set_bad(&c, "daemon", "socket_mode", "0777777777777");
	cr_assert_eq(c.socket_mode, 0777, "rejected values must not be stored");
}

Test(config, set_power_of_two)
{
	struct bp_config c;

	minimal(&c);
	set_ok(&c, "apps", "rx_buf", "65536");
	cr_assert_eq(c.rx_buf_size, 65536);
	set_bad(&c, "apps", "rx_buf", "65537");
	assert_err_names("power of two");
	set_bad(&c, "apps", "tx_buf", "12288");
	set_bad(&c, "apps", "queue_entries", "100");
	set_bad(&c, "apps", "queue_entries", "0");
	set_bad(&c, "apps", "rx_buf", "2048"); /* a power of two, but too small */
	cr_assert_eq(c.rx_buf_size, 65536);
}

Test(config, set_bool)
{
	struct bp_config c;

	minimal(&c);
	set_ok(&c, "eal", "no_huge", "true");
	cr_assert(c.no_huge);
	set_ok(&c, "eal", "no_huge", "0");
	cr_assert_not(c.no_huge);
	set_ok(&c, "log", "verbose", "YES");
	cr_assert(c.verbose);
	set_bad(&c, "log", "verbose", "maybe");
	assert_err_names("maybe");
	cr_assert(c.verbose);
	cr_assert_not(c.app_hugepages, "app regions are on 4 KiB pages unless asked");
	set_ok(&c, "apps", "hugepages", "true");
	cr_assert(c.app_hugepages);
	set_bad(&c, "apps", "hugepages", "2M");
	assert_err_names("hugepages");
	cr_assert(c.app_hugepages);
}

Test(config, set_addresses)
{
	struct bp_config c;

	minimal(&c);
	set_ok(&c, "port", "ip", "192.0.2.7/28");
	cr_assert_eq(c.ip, htonl(0xc0000207));
	cr_assert_eq(c.prefix_len, 28);
	set_ok(&c, "port", "ip", "192.0.2.8/32");
	cr_assert_eq(c.prefix_len, 32);
	set_bad(&c, "port", "ip", "192.0.2.7/33");
	set_bad(&c, "port", "ip", "192.0.2.7/0");
	set_bad(&c, "port", "ip", "192.0.2.7/");
	set_bad(&c, "port", "ip", "192.0.2.7/2x");
	set_bad(&c, "port", "ip", "192.0.2/24");
	set_bad(&c, "port", "ip", "host.example/24");
	set_bad(&c, "port", "ip", "192.0.2.7/+24");
	set_bad(&c, "port", "ip", "192.0.2.7/ 24");
	cr_assert_eq(c.ip, htonl(0xc0000208), "a rejected address must not stick");
	cr_assert_eq(c.prefix_len, 32);
	set_ok(&c, "port", "gateway", "192.0.2.1");
	cr_assert_eq(c.gateway, htonl(0xc0000201));
	set_bad(&c, "port", "gateway", "192.0.2.256");
	set_bad(&c, "port", "gateway", "192.0.2.1/24");
}

/* no silent /24: an address without its prefix length is refused */
Test(config, ip_needs_prefix_length)
{
	struct bp_config c;
	char path[64];

	minimal(&c);
	set_bad(&c, "port", "ip", "10.0.0.1");
	assert_err_names("10.0.0.1", "prefix", "198.18.0.1/24");
	cr_assert_eq(c.ip, htonl(0xc6120001), "a rejected address must not stick");
	cr_assert_eq(c.prefix_len, 24);

	write_tmp(path, sizeof(path), "[port]\nip = 10.0.0.1\n");
	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), -1);
	unlink(path);
	assert_err_names(path, "[port] ip", "198.18.0.1/24");
}

Test(config, set_strings)
{
	struct bp_config c;
	char longv[CFG_STR + 10];

	minimal(&c);
	set_ok(&c, "daemon", "socket", "/tmp/x.sock");
	cr_assert_str_eq(c.socket_path, "/tmp/x.sock");
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = 0;
	set_bad(&c, "daemon", "socket", longv);
	assert_err_names("too long");
	cr_assert_str_eq(c.socket_path, "/tmp/x.sock");
	/* exactly the buffer size minus the NUL still fits */
	longv[sizeof(c.file_prefix) - 1] = 0;
	set_ok(&c, "eal", "file_prefix", longv);
	longv[sizeof(c.file_prefix) - 1] = 'a';
	longv[sizeof(c.file_prefix)] = 0;
	set_bad(&c, "eal", "file_prefix", longv);
}

Test(config, unknown_field_named)
{
	struct bp_config c;

	minimal(&c);
	set_bad(&c, "tcp", "rto_min", "5");
	set_bad(&c, "nosuch", "mtu", "1500");
	/* a key that exists, but in another section */
	set_bad(&c, "tcp", "mtu", "1500");
}

/* --------------------------------------------------------- validation */

Test(config, validate_cross_field)
{
	struct bp_config c;

	minimal(&c);
	set_ok(&c, "daemon", "max_flows", "1000");
	set_ok(&c, "apps", "max_flows", "1001");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	assert_err_names("[apps] max_flows", "[daemon] max_flows",
			 "raise [daemon] max_flows or lower [apps] max_flows");
	set_ok(&c, "apps", "max_flows", "1000");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);

	set_ok(&c, "tcp", "min_rto_ms", "500");
	set_ok(&c, "tcp", "max_rto_ms", "499");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	assert_err_names("[tcp] min_rto_ms", "max_rto_ms", "raise", "lower");
	set_ok(&c, "tcp", "max_rto_ms", "500");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);

	/* every registered algorithm passes; a bad name's error lists them.
	 * The slowpath owns the algorithms, so it checks the name (before
	 * anything starts, right after config_validate()) */
	const char *algs[] = { "newreno", "cubic", "dctcp", "timely" };
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		set_ok(&c, "tcp", "cc", algs[i]);
		cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s: %s", algs[i], err);
		cr_assert_eq(sp_config_check(&c, err, sizeof(err)), 0, "%s: %s", algs[i], err);
	}
	set_ok(&c, "tcp", "cc", "vegas");
	cr_assert_eq(sp_config_check(&c, err, sizeof(err)), -1);
	assert_err_names("[tcp] cc", "vegas", "newreno", "cubic", "dctcp", "timely");
}

Test(config, validate_cores_says_what_to_change)
{
	struct bp_config c;

	minimal(&c);
	set_ok(&c, "fastpath", "cores", "2");
	set_ok(&c, "fastpath", "min_cores", "3");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	assert_err_names("[fastpath] min_cores", "[fastpath] cores", "raise", "lower");
	set_ok(&c, "fastpath", "min_cores", "1");
	set_ok(&c, "fastpath", "cpus", "4");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	assert_err_names("[fastpath] cpus", "one CPU per core", "lower [fastpath] cores");
}

/* a cross-field error in a file's config starts with the file, as a bad line's does */
Test(config, validate_names_the_file)
{
	struct bp_config c;
	char path[64];

	write_tmp(path, sizeof(path), "[port]\ndevice = net_tap0\nip = 198.18.0.1/24\n"
		  "[daemon]\nmax_flows = 16384\n[apps]\nmax_flows = 99999\n");
	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	snprintf(c.config_path, sizeof(c.config_path), "%s", path); /* as main.c does */
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	cr_assert_eq(strncmp(err, path, strlen(path)), 0, "error '%s' does not start with %s",
		     err, path);
	assert_err_names("[apps] max_flows: 99999 exceeds [daemon] max_flows 16384",
			 "raise [daemon] max_flows or lower [apps] max_flows");
	set_ok(&c, "apps", "max_flows", "16384");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);
}

/* --------------------------------------------------------------- files */

Test(config, load_file)
{
	struct bp_config c;
	char path[64];

	write_tmp(path, sizeof(path),
		  "; fastpathd test config\n"
		  "[port]\n"
		  "device = net_af_packet0,iface=eth1\n"
		  "ip = 10.9.8.7/20\n"
		  "mtu = 2000\n"
		  "[apps]\n"
		  "rx_buf = 1048576\n"
		  "[tcp]\n"
		  "min_rto_ms = 20\n"
		  "[log]\n"
		  "verbose = true\n");
	config_defaults(&c);
	err[0] = 0;
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	cr_assert_str_eq(c.port_dev, "net_af_packet0,iface=eth1");
	cr_assert_eq(c.ip, htonl(0x0a090807));
	cr_assert_eq(c.prefix_len, 20);
	cr_assert_eq(c.mtu, 2000);
	cr_assert_eq(c.rx_buf_size, 1048576);
	cr_assert_eq(c.min_rto_ms, 20);
	cr_assert(c.verbose);
	/* untouched fields keep their defaults */
	cr_assert_eq(c.tx_buf_size, 256 * 1024);
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);
}

Test(config, file_then_override)
{
	struct bp_config c;
	char path[64];

	write_tmp(path, sizeof(path), "[port]\nmtu = 2000\n");
	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	set_ok(&c, "port", "mtu", "1400"); /* command line wins: applied last */
	cr_assert_eq(c.mtu, 1400);
}

Test(config, file_bad_value_names_file_and_field)
{
	struct bp_config c;
	char path[64];

	write_tmp(path, sizeof(path), "[port]\nmtu = 1500\n[apps]\ntx_buf = 5000\n");
	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), -1);
	unlink(path);
	assert_err_names(path, "[apps] tx_buf", "power of two");
}

Test(config, file_unknown_key_names_file_and_field)
{
	struct bp_config c;
	char path[64];

	write_tmp(path, sizeof(path), "[tcp]\nmin_rto_ms = 5\nfrobnicate = 1\n");
	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), -1);
	unlink(path);
	assert_err_names(path, "[tcp] frobnicate", "unknown");
}

Test(config, file_socket_mode_octal)
{
	struct bp_config c;
	char path[64];

	write_tmp(path, sizeof(path), "[daemon]\nsocket_mode = 400\n");
	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	cr_assert_eq(c.socket_mode, 0400, "socket_mode = 400 became %#o", c.socket_mode);
}

/* a key above the first header belongs to no section: name its line */
Test(config, file_line_outside_section_names_line)
{
	struct bp_config c;
	char path[64], want[80];

	write_tmp(path, sizeof(path), "; comment\n\nmtu = 1500\n[port]\nmtu = 1400\n");
	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), -1);
	unlink(path);
	snprintf(want, sizeof(want), "%s:3:", path);
	assert_err_names(want, "mtu", "outside any section");
	cr_assert_eq(c.mtu, 1500, "nothing after the bad line may be applied");
}

Test(config, file_syntax_errors_name_line)
{
	struct bp_config c;
	char path[64], want[80];

	write_tmp(path, sizeof(path), "[port]\nmtu = 1400\n[tcp\n");
	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), -1);
	unlink(path);
	snprintf(want, sizeof(want), "%s:3:", path);
	assert_err_names(want, "section");

	write_tmp(path, sizeof(path), "[port]\n  # note\nmtu 1400\n");
	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), -1);
	unlink(path);
	snprintf(want, sizeof(want), "%s:3:", path);
	assert_err_names(want, "key = value");

	/* a bad value names the line as well as the field */
	write_tmp(path, sizeof(path), "[port]\n\n[apps]\ntx_buf = 5000 ; comment\n");
	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), -1);
	unlink(path);
	snprintf(want, sizeof(want), "%s:4:", path);
	assert_err_names(want, "[apps] tx_buf", "5000");
}

Test(config, missing_file_named)
{
	struct bp_config c;

	config_defaults(&c);
	cr_assert_eq(config_load_file(&c, "/nonexistent/bypass.ini", err, sizeof(err)), -1);
	assert_err_names("/nonexistent/bypass.ini");
}

Test(config, empty_file_is_fine)
{
	struct bp_config c, d;
	char path[64];

	write_tmp(path, sizeof(path), "");
	config_defaults(&c);
	config_defaults(&d);
	cr_assert_eq(config_load_file(&c, path, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	cr_assert(memcmp(&c, &d, sizeof(c)) == 0, "an empty file changed the config");
}

/* a check's error names where the value came from: the command line for a
 * field it set, else the file */
Test(config, an_error_names_the_command_line_for_its_overrides)
{
	struct bp_config c;

	minimal(&c);
	set_ok(&c, "tcp", "max_rto_ms", "400");
	set_ok(&c, "tcp", "min_rto_ms", "500");
	snprintf(c.config_path, sizeof(c.config_path), "/etc/fastpathd.ini");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	cr_assert(!strncmp(err, "/etc/fastpathd.ini: [tcp] min_rto_ms:", 37), "%s", err);
	snprintf(c.cli_fields, sizeof(c.cli_fields), "xtcp.min_rto_ms tcp.min_rto_msx ");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	cr_assert(!strncmp(err, "/etc/fastpathd.ini: ", 20), "%s", err);
	snprintf(c.cli_fields, sizeof(c.cli_fields), "port.ip tcp.min_rto_ms tcp.max_rto_ms ");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	cr_assert(!strncmp(err, "command line: [tcp] min_rto_ms:", 31), "%s", err);
	snprintf(c.cli_fields, sizeof(c.cli_fields), "tcp.max_rto_ms ");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	cr_assert(!strncmp(err, "/etc/fastpathd.ini and the command line: [tcp] min_rto_ms:", 58),
		  "%s", err);
	c.config_path[0] = 0;
	c.cli_fields[0] = 0;
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -1);
	cr_assert(!strncmp(err, "[tcp] min_rto_ms:", 17), "%s", err);
}

/* a NUL byte is named as such, not as an overlong line */
Test(config, a_nul_byte_is_named)
{
	static const char text[] = "[eal]\nmem_mb = 1\0 00\n";
	struct bp_config c;
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");

	cr_assert_not_null(f);
	config_defaults(&c);
	cr_assert_eq(config_load_stream(&c, f, "t.ini", err, sizeof(err)), -1);
	fclose(f);
	cr_assert_str_eq(err, "t.ini:2: a NUL byte: not a text file");
}
