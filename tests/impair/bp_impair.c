// SPDX-License-Identifier: MIT
/*
 * bp_impair - a deterministic wire-impairment forwarder for tests.
 *
 * It sits between two interfaces (typically veth ends inside a network
 * namespace of their own) and forwards every frame that arrives on one out
 * of the other, through a per-direction pipeline of impairments (loss,
 * duplication, corruption, reordering, a rate-limited queue with tail drop
 * and ECN marking, delay with jitter): see impair_pipe.c.  It exists
 * because the test machines' kernel has no netem.
 *
 * One thread.  It blocks in ppoll() until a frame arrives or the earliest
 * scheduled release is due, so an idle rig costs no CPU.  Signals are
 * blocked except inside ppoll(), so a SIGUSR1 or SIGTERM is never lost
 * between checking the flags and going to sleep.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bp_impair.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/* frames per recvmmsg()/sendmmsg() */
#define BATCH 32
/* bursts read per socket and wakeup, so release timers are not starved */
#define RX_BURSTS 8
/* socket buffers: a burst at line rate must not overflow before we read */
#define SOCK_BUF (4 << 20)

struct port {
	const char *ifname;
	int ifindex;
	int fd;
	bool tx_blocked;	/* socket full: wait for POLLOUT */
	int tx_errno;		/* last send error reported, so it is said once */
};

static volatile sig_atomic_t got_stop;
static volatile sig_atomic_t got_dump;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_dump = 1;
	else
		got_stop = sig;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * IMP_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void set_buf(int fd, int force_opt, int opt, int size)
{
	/* the FORCE variants pass rmem_max/wmem_max, root only */
	if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

static int port_open(struct port *pt, const char *ifname, const struct imp_opts *o)
{
	struct sockaddr_ll sll = { 0 };
	struct packet_mreq mr = { 0 };
	struct ifreq ifr = { 0 };
	int one = 1;

	pt->ifname = ifname;
	pt->fd = -1;
	if (strlen(ifname) >= IFNAMSIZ) {
		fprintf(stderr, "bp_impair: interface name '%s' is too long\n", ifname);
		return -1;
	}
	pt->ifindex = (int)if_nametoindex(ifname);
	if (!pt->ifindex) {
		fprintf(stderr, "bp_impair: no interface '%s' in this network namespace\n", ifname);
		return -1;
	}
	/*
	 * Protocol 0 until bind(): a packet socket with ETH_P_ALL would
	 * receive every interface's frames in the window before bind().
	 */
	pt->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pt->fd < 0) {
		fprintf(stderr, "bp_impair: AF_PACKET socket: %s (needs CAP_NET_RAW)\n",
			strerror(errno));
		return -1;
	}
	/* our own transmissions must not come back as input */
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) &&
	    o->verbose)
		fprintf(stderr, "bp_impair: %s: no PACKET_IGNORE_OUTGOING (%s), filtering "
				"by packet type instead\n", ifname, strerror(errno));
	set_buf(pt->fd, SO_RCVBUFFORCE, SO_RCVBUF, SOCK_BUF);
	set_buf(pt->fd, SO_SNDBUFFORCE, SO_SNDBUF, SOCK_BUF);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = pt->ifindex;
	if (bind(pt->fd, (struct sockaddr *)&sll, sizeof(sll))) {
		fprintf(stderr, "bp_impair: bind to %s: %s\n", ifname, strerror(errno));
		return -1;
	}
	/* frames for the far side's MAC are not addressed to this interface */
	mr.mr_ifindex = pt->ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr))) {
		fprintf(stderr, "bp_impair: promiscuous mode on %s: %s\n", ifname,
			strerror(errno));
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (!ioctl(pt->fd, SIOCGIFMTU, &ifr) && (uint32_t)ifr.ifr_mtu + 18 > o->frame_size)
		fprintf(stderr, "bp_impair: warning: %s has MTU %d, frames above --frame-size "
				"%u will be dropped\n", ifname, ifr.ifr_mtu, o->frame_size);
	return 0;
}

/* read what @in has for @d, a few bursts at most */
static void rx_port(struct imp_dir *d, const struct port *in, uint8_t *scratch)
{
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll sll[BATCH];
	struct imp_pkt *pk[BATCH];

	for (int burst = 0; burst < RX_BURSTS; burst++) {
		uint64_t now;
		int n, i;

		for (i = 0; i < BATCH; i++) {
			/* an empty pool still reads, into scratch, to count the drop */
			pk[i] = imp_pkt_get(d);
			iov[i].iov_base = pk[i] ? pk[i]->data : scratch;
			iov[i].iov_len = d->frame_size;
			memset(&msg[i], 0, sizeof(msg[i]));
			msg[i].msg_hdr.msg_name = &sll[i];
			msg[i].msg_hdr.msg_namelen = sizeof(sll[i]);
			msg[i].msg_hdr.msg_iov = &iov[i];
			msg[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(in->fd, msg, BATCH, MSG_DONTWAIT, NULL);
		now = now_ns();
		for (i = 0; i < n; i++) {
			if (sll[i].sll_pkttype == PACKET_OUTGOING) {
				if (pk[i])
					imp_pkt_put(d, pk[i]);
				continue;
			}
			if (!pk[i]) {
				d->st.rx++;
				d->st.dropped_nobuf++;
			} else if (msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				d->st.rx++;
				d->st.dropped_trunc++;
				imp_pkt_put(d, pk[i]);
			} else {
				pk[i]->len = msg[i].msg_len;
				imp_arrive(d, pk[i], now);
			}
		}
		for (i = n > 0 ? n : 0; i < BATCH; i++)
			if (pk[i])
				imp_pkt_put(d, pk[i]);
		if (n < BATCH)
			break;
	}
}

/* write @d's out stage to @out until it is empty or the socket is full */
static void tx_port(struct imp_dir *d, struct port *out)
{
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];

	while (d->out.head && !out->tx_blocked) {
		struct imp_pkt *p = d->out.head;
		int n = 0, r;

		for (; p && n < BATCH; p = p->next, n++) {
			iov[n].iov_base = p->data;
			iov[n].iov_len = p->len;
			memset(&msg[n], 0, sizeof(msg[n]));
			msg[n].msg_hdr.msg_iov = &iov[n];
			msg[n].msg_hdr.msg_iovlen = 1;
		}
		/* no address: a bound packet socket sends on its interface */
		r = sendmmsg(out->fd, msg, (unsigned int)n, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				out->tx_blocked = true;
				break;
			}
			/*
			 * The device refused the first frame (ENOBUFS: the veth
			 * peer's backlog is full; ENETDOWN): a lost frame, as on
			 * a wire.  Say so once per kind of error.
			 */
			if (errno != out->tx_errno) {
				out->tx_errno = errno;
				fprintf(stderr, "bp_impair: sending on %s: %s (counted in "
						"dropped_tx from now on)\n", out->ifname,
					strerror(errno));
			}
			d->st.dropped_tx++;
			imp_pkt_put(d, imp_fifo_pop(&d->out));
			continue;
		}
		for (int i = 0; i < r; i++) {
			imp_pkt_put(d, imp_fifo_pop(&d->out));
			d->st.tx++;
		}
	}
}

/* a socket error is pending: clear it, and stop if the interface is gone */
static int port_error(const struct port *pt)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(pt->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if ((int)if_nametoindex(pt->ifname) != pt->ifindex) {
		fprintf(stderr, "bp_impair: interface %s went away\n", pt->ifname);
		return -1;
	}
	if (err)
		fprintf(stderr, "bp_impair: %s: %s\n", pt->ifname, strerror(err));
	return 0;
}

/*
 * Statistics to stdout and --stats-file.  The file is written under a
 * temporary name and renamed, so a reader never sees half of it.
 */
static int dump_stats(const struct imp_dir *dir, const char *file, bool to_stdout)
{
	static uint64_t snap;
	char line[IMP_NDIR][1024], tmp[PATH_MAX + 32];
	int fd;

	for (int d = 0; d < IMP_NDIR; d++)
		imp_stats_line(&dir[d], snap, line[d], sizeof(line[d]));
	snap++;
	if (to_stdout) {
		for (int d = 0; d < IMP_NDIR; d++)
			fputs(line[d], stdout);
		fflush(stdout);
	}
	if (!file)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", file, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "bp_impair: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	for (int d = 0; d < IMP_NDIR; d++) {
		if (write(fd, line[d], strlen(line[d])) != (ssize_t)strlen(line[d])) {
			fprintf(stderr, "bp_impair: writing %s: %s\n", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return -1;
		}
	}
	close(fd);
	if (rename(tmp, file)) {
		fprintf(stderr, "bp_impair: rename to %s: %s\n", file, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void print_cfg(const char *name, const struct imp_cfg *c)
{
	fprintf(stderr, "bp_impair: %s loss=%g dup=%g corrupt=%g/%ubit reorder=%g gap=%u "
			"hold=%lluus delay=%lluus jitter=%lluus rate=%llubit queue=%upkt/%lluB "
			"ecn_mark=",
		name, c->loss, c->dup, c->corrupt, c->corrupt_bits, c->reorder, c->reorder_gap,
		(unsigned long long)c->reorder_hold_ns / 1000,
		(unsigned long long)c->delay_ns / 1000, (unsigned long long)c->jitter_ns / 1000,
		(unsigned long long)c->rate_bps, c->queue_pkts,
		(unsigned long long)c->queue_bytes);
	if (c->ecn_mark_pkts == IMP_ECN_OFF)
		fprintf(stderr, "off\n");
	else
		fprintf(stderr, "%u\n", c->ecn_mark_pkts);
}

static int run(const struct imp_opts *o, struct port *port, struct imp_dir *dir,
	       const sigset_t *waitmask)
{
	uint8_t *scratch = malloc(o->frame_size);

	if (!scratch) {
		fprintf(stderr, "bp_impair: out of memory\n");
		return 1;
	}
	/*
	 * Direction d reads port d and writes port 1 - d: a2b reads A,
	 * b2a reads B.
	 */
	while (!got_stop) {
		struct pollfd pfd[IMP_NDIR];
		struct timespec ts, *tsp = NULL;
		uint64_t now = now_ns(), next = IMP_NEVER;
		int n;

		if (got_dump) {
			got_dump = 0;
			dump_stats(dir, o->stats_file, true);
		}
		for (int d = 0; d < IMP_NDIR; d++) {
			uint64_t t;

			imp_service(&dir[d], now);
			tx_port(&dir[d], &port[1 - d]);
			t = imp_next_event(&dir[d]);
			if (t < next)
				next = t;
		}
		for (int i = 0; i < IMP_NDIR; i++) {
			pfd[i].fd = port[i].fd;
			pfd[i].events = POLLIN | (port[i].tx_blocked ? POLLOUT : 0);
			pfd[i].revents = 0;
		}
		if (next != IMP_NEVER) {
			uint64_t t = now_ns(), wait = next > t ? next - t : 0;

			ts.tv_sec = (time_t)(wait / IMP_NSEC_PER_SEC);
			ts.tv_nsec = (long)(wait % IMP_NSEC_PER_SEC);
			tsp = &ts;
		}
		n = ppoll(pfd, IMP_NDIR, tsp, waitmask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "bp_impair: ppoll: %s\n", strerror(errno));
			free(scratch);
			return 1;
		}
		for (int i = 0; i < IMP_NDIR && n > 0; i++) {
			if (pfd[i].revents & POLLOUT)
				port[i].tx_blocked = false;
			if ((pfd[i].revents & POLLERR) && port_error(&port[i])) {
				free(scratch);
				return 1;
			}
			if (pfd[i].revents & POLLIN)
				rx_port(&dir[i], &port[i], scratch);
		}
	}
	free(scratch);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const dir_name[IMP_NDIR] = { "a2b", "b2a" };
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct port port[IMP_NDIR] = { { .fd = -1 }, { .fd = -1 } };
	struct imp_dir dir[IMP_NDIR] = { 0 };
	struct sigaction sa = { 0 };
	sigset_t block, waitmask;
	struct imp_opts o;
	int rc = 1;

	switch (imp_parse_args(argc, argv, &o)) {
	case 0:
		break;
	case 1:
		return 0;
	case 2:
		return imp_self_test() ? 1 : 0;
	default:
		return 2;
	}
	if (o.stats_file && strlen(o.stats_file) >= PATH_MAX) {
		fprintf(stderr, "bp_impair: --stats-file: path too long\n");
		return 2;
	}
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(&waitmask, sigs[i]);
	/* release times are meant to the microsecond, not the default 50 us */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

	for (int i = 0; i < IMP_NDIR; i++)
		if (port_open(&port[i], o.ifname[i], &o))
			goto out;
	for (int d = 0; d < IMP_NDIR; d++) {
		if (imp_dir_init(&dir[d], dir_name[d], &o.cfg[d], &o, (unsigned int)d)) {
			fprintf(stderr, "bp_impair: out of memory for --pool %u x --frame-size %u\n",
				o.pool, o.frame_size);
			goto out;
		}
	}
	if (o.verbose)
		for (int d = 0; d < IMP_NDIR; d++)
			print_cfg(dir_name[d], &o.cfg[d]);
	/* an unwritable --stats-file shows up now, not at the end of a test */
	if (o.stats_file && dump_stats(dir, o.stats_file, false)) {
		fprintf(stderr, "bp_impair: --stats-file %s cannot be written\n", o.stats_file);
		goto out;
	}
	fprintf(stderr, "bp_impair: ready a=%s b=%s seed=%llu\n", o.ifname[0], o.ifname[1],
		(unsigned long long)o.seed);
	rc = run(&o, port, dir, &waitmask);
	dump_stats(dir, o.stats_file, true);
out:
	for (int i = 0; i < IMP_NDIR; i++) {
		if (port[i].fd >= 0)
			close(port[i].fd);
		imp_dir_fini(&dir[i]);
	}
	return rc;
}
