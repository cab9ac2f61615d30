// SPDX-License-Identifier: MIT
/*
 * cmd_capture.c - bypassctl capture: pcapng of bypass traffic, as tcpdump
 * would see it on the port.
 *
 *   bypassctl capture [-w FILE|-] [-c COUNT] [-s SNAPLEN] [--tenant NAME] [FILTER...]
 *
 * The filter is compiled here, with libpcap, for Ethernet: host and port
 * names resolve in this process, never in the daemon, which only
 * validates and runs the program.  The daemon writes the pcapng stream
 * into a pipe whose write end goes with the request; this process copies
 * it to FILE or stdout.  SIGINT asks the daemon to stop and write what it
 * holds; the counts then go to stderr, as tcpdump's do.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <pcap/pcap.h>

#include "bypass/bypass.h"
#include "ctl_wire.h"
#include "bypassctl.h"

#define CAP_FIRST_REPLY_S 5

/* -w FILE: a regular file of ours, mode 0600, empty; -1 with why printed */
static int open_output(const char *path)
{
	const char *why = NULL;
	struct stat st;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);

	if (fd < 0)
		why = errno == ELOOP ? "it is a symbolic link (give the file itself)" : strerror(errno);
	else if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_uid != geteuid() || st.st_nlink != 1)
		why = "another user's file, or one with other names (hard links), which "
		      "may be read elsewhere: give a new file";
	else if (fchmod(fd, 0600))
		why = "cannot make it mode 0600";
	else if (ftruncate(fd, 0) || fcntl(fd, F_SETFL, 0))
		why = strerror(errno);
	if (!why)
		return fd;
	fprintf(stderr, "bypassctl: capture: cannot write %s: %s\n", path, why);
	if (fd >= 0)
		close(fd);
	return -1;
}

static volatile sig_atomic_t stop_asked;

static void on_signal(int sig)
{
	(void)sig;
	stop_asked = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bypassctl capture [-w FILE|-] [-c COUNT] [-s SNAPLEN] [--tenant NAME]\n"
		"                         [-j|--json] [FILTER...]\n"
		"\n"
		"Write pcapng of the traffic fastpathd sends and receives (both directions,\n"
		"as on the wire) until interrupted (Ctrl-C) or COUNT packets.  FILTER is a\n"
		"tcpdump expression (pcap-filter(7)), e.g. 'tcp port 80 and greater 100'.\n"
		"\n"
		"  -w FILE        write to FILE (made mode 0600 once fastpathd accepts; not\n"
		"                 through a symlink); '-' (the default when stdout is not a\n"
		"                 terminal) writes to stdout: bypassctl capture -w - | tcpdump -r -\n"
		"  -c COUNT       stop after COUNT packets\n"
		"  -s SNAPLEN     keep at most SNAPLEN bytes of each frame (default 262144)\n"
		"  --tenant NAME  only the flows of tenant NAME; without it root,\n"
		"                 fastpathd's user and admin_group capture everything,\n"
		"                 anyone else their own tenant (another tenant is refused)\n"
		"  -j, --json     print the final counts as one JSON object on stderr\n"
		"                 (bypassctl -j capture ... works too)\n"
		"  -S, --socket PATH  fastpathd control socket\n"
		"\n"
		"Packets the daemon could not keep up with, or that a slow reader left no\n"
		"room for, are dropped from the capture, never from the traffic, and counted.\n"
		"Exit: 0 ok, 1 failed or refused, 2 usage, 3 fastpathd not reachable.\n");
}

/* the classic BPF program, 8 bytes per instruction, little-endian */
static int compile(const char *expr, uint32_t snaplen, uint8_t **out, size_t *len)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, (int)snaplen);
	struct bpf_program prog;
	if (!p) {
		fprintf(stderr, "bypassctl: capture: libpcap failed\n");
		return 1;
	}
	if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN)) {
		fprintf(stderr, "bypassctl: capture: bad filter '%s': %s (see pcap-filter(7))\n",
			expr, pcap_geterr(p));
		pcap_close(p);
		return 2;
	}
	*len = (size_t)prog.bf_len * 8;
	*out = malloc(*len ? *len : 1);
	for (u_int i = 0; *out && i < prog.bf_len; i++) {
		const struct bpf_insn *s = &prog.bf_insns[i];
		uint8_t *d = *out + 8 * i;
		d[0] = s->code & 0xff;
		d[1] = s->code >> 8;
		d[2] = s->jt;
		d[3] = s->jf;
		for (int b = 0; b < 4; b++)
			d[4 + b] = (uint8_t)(s->k >> (8 * b));
	}
	pcap_freecode(&prog);
	pcap_close(p);
	return *out ? 0 : 1;
}

static char *join(int argc, char **argv)
{
	size_t n = 1;
	for (int i = 0; i < argc; i++)
		n += strlen(argv[i]) + 1;
	char *s = calloc(1, n);
	for (int i = 0; s && i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static void print_counts(const Bypass__CaptureReply *r, bool json)
{
	uint64_t dropped = r->ring_drops + r->reader_drops;
	if (json) {
		fprintf(stderr, "{\"packets\": %" PRIu64 ", \"matched\": %" PRIu64 ", \"dropped\": %"
			PRIu64 ", \"ring_drops\": %" PRIu64 ", \"reader_drops\": %" PRIu64
			", \"tenant\": \"%s\"}\n", r->packets, r->matched, dropped, r->ring_drops,
			r->reader_drops, r->tenant ? r->tenant : "");
		return;
	}
	fprintf(stderr, "%" PRIu64 " packets captured\n%" PRIu64 " packets received by filter\n"
		"%" PRIu64 " packets dropped (%" PRIu64 " capture rings full, %" PRIu64
		" reader too slow)\n", r->packets, r->matched, dropped, r->ring_drops,
		r->reader_drops);
}

struct cap_opts {
	const char *file, *tenant, *socket;
	uint64_t count;
	uint32_t snaplen;
	bool json;
};

static int parse(int argc, char **argv, struct cap_opts *o)
{
	static const struct option lopts[] = {
		{ "tenant", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "w:c:s:S:jh", lopts, NULL)) != -1) {
		switch (c) {
		case 'w': o->file = optarg; break;
		case 'T': o->tenant = optarg; break;
		case 'S': o->socket = optarg; break;
		case 'j': o->json = true; break;
		case 'h': usage(stdout); return 0;
		case 'c':
			o->count = strtoull(optarg, &end, 10);
			if (*end || !o->count || *optarg == '-') {
				fprintf(stderr, "bypassctl: capture: -c '%s' is not a packet count\n",
					optarg);
				return 2;
			}
			break;
		case 's': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v > 262144 || *optarg == '-') {
				fprintf(stderr, "bypassctl: capture: -s '%s': give 0..262144 bytes "
					"(0: whole frames)\n", optarg);
				return 2;
			}
			o->snaplen = v ? (uint32_t)v : 262144;
			break;
		}
		default: usage(stderr); return 2;
		}
	}
	return -1;
}

/* copy the pipe to @out until EOF; ask the daemon to stop on a signal */
static int pump(int ctl, int rd, int out, bool json)
{
	Bypass__CtlMsg stop_m = BYPASS__CTL_MSG__INIT;
	Bypass__CaptureStop stop = BYPASS__CAPTURE_STOP__INIT;
	Bypass__CaptureReply *done = NULL;
	Bypass__CtlMsg *msg = NULL;
	static uint8_t buf[1 << 16];
	bool stop_sent = false, out_ok = true, ctl_open = true;
	stop_m.msg_case = BYPASS__CTL_MSG__MSG_CAPTURE_STOP;
	stop_m.capture_stop = &stop;

	while (rd >= 0 || (ctl_open && !done)) {
		if ((stop_asked || !out_ok) && !stop_sent && ctl_open) {
			stop_sent = true;
			ctl_send(ctl, &stop_m, NULL, 0);
		}
		struct pollfd p[2] = { { .fd = rd, .events = POLLIN },
				       { .fd = ctl_open && !done ? ctl : -1, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (rd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t r = read(rd, buf, sizeof(buf));
			if (r > 0 && out_ok)
				out_ok = write_all(out, buf, (size_t)r);
			else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
				close(rd);
				rd = -1;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (ctl_recv(ctl, &msg, NULL, NULL, 0)) {
				ctl_open = false;
			} else if (msg->msg_case == BYPASS__CTL_MSG__MSG_CAPTURE_REPLY &&
				   msg->capture_reply->done) {
				done = msg->capture_reply;
				continue; /* msg kept: done points into it */
			} else {
				bypass__ctl_msg__free_unpacked(msg, NULL);
			}
			msg = NULL;
		}
	}
	if (!done) {
		fprintf(stderr, "bypassctl: capture: fastpathd ended the capture without its "
			"counts (did it stop? see its log)\n");
		return 1;
	}
	print_counts(done, json);
	/* the daemon ended it for a reason of its own (tenant removed...) */
	int rc = done->status || done->error ? 1 : 0;
	if (rc)
		fprintf(stderr, "bypassctl: capture ended by fastpathd: %s\n",
			done->error ? done->error : strerror(-done->status));
	bypass__ctl_msg__free_unpacked(msg, NULL);
	if (!out_ok && !stop_asked)
		fprintf(stderr, "bypassctl: capture: the output went away; stopped\n");
	return rc;
}

/**
 * cmd_capture - bypassctl capture [options] [FILTER...] (see usage()).
 * Return: the exit code.
 */
int cmd_capture(int argc, char **argv)
{
	/* bypassctl -j capture ...: the global option counts as this one's -j */
	struct cap_opts o = { .snaplen = 262144, .json = cli_json };
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (!o.file && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "bypassctl: capture writes pcapng: give -w FILE, or pipe it: "
			"bypassctl capture -w - ... | tcpdump -r -\n");
		return 2;
	}
	char *expr = join(argc - optind, argv + optind);
	uint8_t *prog = NULL;
	size_t plen = 0;
	if (!expr || (rc = compile(expr, o.snaplen, &prog, &plen))) {
		free(expr);
		return rc ? rc : 1;
	}
	int out = STDOUT_FILENO;
	char err[512];
	const char *path = ctl_socket_path(o.socket);
	int ctl = ctl_client_connect(path, err, sizeof(err)), pfd[2] = { -1, -1 };
	if (ctl < 0) {
		fprintf(stderr, "bypassctl: %s\n", err);
		rc = 3;
		goto out;
	}
	if (pipe2(pfd, O_CLOEXEC)) {
		fprintf(stderr, "bypassctl: capture: pipe: %s\n", strerror(errno));
		rc = 1;
		goto out;
	}
	Bypass__CaptureRequest req = BYPASS__CAPTURE_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply = NULL;
	req.program.data = prog;
	req.program.len = plen;
	req.has_program = 1;
	req.has_snaplen = req.has_count = 1;
	req.snaplen = o.snaplen;
	req.count = o.count;
	req.tenant = (char *)o.tenant;
	req.filter = expr;
	m.msg_case = BYPASS__CTL_MSG__MSG_CAPTURE_REQ;
	m.capture_req = &req;

	struct timeval tv = { .tv_sec = CAP_FIRST_REPLY_S };
	setsockopt(ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	rc = ctl_send(ctl, &m, &pfd[1], 1);
	close(pfd[1]); /* the daemon holds the only write end: EOF when it is done */
	if (!rc)
		rc = ctl_recv(ctl, &reply, NULL, NULL, 0);
	if (rc) {
		fprintf(stderr, "bypassctl: capture: fastpathd at %s did not answer: %s\n", path,
			rc == -EAGAIN ? "timed out" : strerror(-rc));
		rc = 1;
		goto out;
	}
	if (reply->msg_case != BYPASS__CTL_MSG__MSG_CAPTURE_REPLY || reply->capture_reply->status) {
		const Bypass__CaptureReply *r = reply->capture_reply;
		fprintf(stderr, "bypassctl: capture refused: %s\n",
			reply->msg_case != BYPASS__CTL_MSG__MSG_CAPTURE_REPLY ?
			"unexpected reply (is fastpathd older than bypassctl?)" :
			r->error ? r->error : strerror(-r->status));
		bypass__ctl_msg__free_unpacked(reply, NULL);
		rc = 1;
		goto out;
	}
	bypass__ctl_msg__free_unpacked(reply, NULL);
	/*
	 * FILE only now: a refused capture must not truncate it.  0600: it
	 * holds traffic this user was allowed to see, maybe other tenants'
	 * (umask may narrow it further), also when the file was there
	 * before.  No symlink as the last component: root capturing into a
	 * shared directory must not write where a planted link points; and
	 * a regular file only (a planted FIFO would block the open).  A
	 * failure here closes the connection, which ends the capture.
	 */
	if (o.file && strcmp(o.file, "-") && (out = open_output(o.file)) < 0) {
		out = STDOUT_FILENO;
		rc = 1;
		goto out;
	}
	tv.tv_sec = 0;
	setsockopt(ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!o.json && o.file && strcmp(o.file, "-"))
		fprintf(stderr, "bypassctl: capturing to %s (Ctrl-C stops)\n", o.file);
	rc = pump(ctl, pfd[0], out, o.json);
	pfd[0] = -1;
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (ctl >= 0)
		close(ctl);
	if (out != STDOUT_FILENO && close(out) && !rc) {
		fprintf(stderr, "bypassctl: capture: writing %s failed: %s\n", o.file,
			strerror(errno));
		rc = 1;
	}
	free(expr);
	free(prog);
	return rc;
}
