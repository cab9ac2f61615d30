// SPDX-License-Identifier: MIT
/*
 * bp_synflood - a spoofed-SYN flood for the SYN flood test, bounded in
 * count and time.
 *
 *   bp_synflood -i IFACE -m DST_MAC -d DST_IP -p DST_PORT
 *               [-s SRC_NET/LEN] [-r PPS] [-t SECONDS] [-n COUNT]
 *
 * Sends TCP SYNs through an AF_PACKET socket (python is far too slow for
 * 20,000 a second), each from a random source address inside SRC_NET
 * (default 198.19.0.0/16) and a random port, with MSS, window scale and
 * SACK-permitted options like a real client.  Source addresses must lie in
 * 198.18.0.0/15 (RFC 2544 benchmarking space) and so must the target:
 * this tool never floods anything else.  Stops after COUNT frames
 * (default 2,000,000) or SECONDS (default 60), whichever comes first, and
 * prints how many it sent at what rate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define FRAME_LEN (14 + 20 + 32) /* Ethernet, IPv4, TCP with 12 bytes of options */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1; /* finish the batch, then report */
}

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static int in_bench_net(uint32_t a_host)
{
	return (a_host & 0xfffe0000u) == 0xc6120000u; /* 198.18.0.0/15 */
}

static void build(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t saddr,
		  uint32_t daddr, uint16_t sport, uint16_t dport, uint32_t seq)
{
	memset(f, 0, FRAME_LEN);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *tcp = ip + 20;
	ip[0] = 0x45;
	ip[2] = 0;
	ip[3] = 20 + 32;
	ip[4] = (uint8_t)(seq >> 8);
	ip[5] = (uint8_t)seq;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	uint16_t ic = csum_fold(csum_add(0, ip, 20));
	ip[10] = (uint8_t)(ic >> 8);
	ip[11] = (uint8_t)ic;

	tcp[0] = (uint8_t)(sport >> 8);
	tcp[1] = (uint8_t)sport;
	tcp[2] = (uint8_t)(dport >> 8);
	tcp[3] = (uint8_t)dport;
	tcp[4] = (uint8_t)(seq >> 24);
	tcp[5] = (uint8_t)(seq >> 16);
	tcp[6] = (uint8_t)(seq >> 8);
	tcp[7] = (uint8_t)seq;
	tcp[12] = 8 << 4; /* 32-byte header */
	tcp[13] = 0x02;   /* SYN */
	tcp[14] = 0xfa;   /* window 64240 */
	tcp[15] = 0xf0;
	uint8_t opts[12] = { 2, 4, 0x05, 0xb4, /* MSS 1460 */
			     1, 3, 3, 7,       /* NOP, window scale 7 */
			     1, 1, 4, 2 };     /* NOP NOP SACK-permitted */
	memcpy(tcp + 20, opts, sizeof(opts));
	uint32_t sum = csum_add(0, ip + 12, 8);
	sum += 6 + 32;
	uint16_t tc = csum_fold(csum_add(sum, tcp, 32));
	tcp[16] = (uint8_t)(tc >> 8);
	tcp[17] = (uint8_t)tc;
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bp_synflood -i IFACE -m DST_MAC -d DST_IP -p DST_PORT "
		"[-s SRC_NET/LEN] [-r PPS] [-t SECONDS] [-n COUNT]\n"
		"  every address must lie in 198.18.0.0/15\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *ifname = NULL, *src = "198.19.0.0/16";
	uint8_t dmac[6], smac[6] = { 0 };
	int have_mac = 0;
	uint32_t daddr = 0;
	uint16_t dport = 0;
	double rate = 20000, secs = 60;
	uint64_t count = 2000000;
	int opt;
	while ((opt = getopt(argc, argv, "i:m:d:p:s:r:t:n:")) != -1) {
		switch (opt) {
		case 'i': ifname = optarg; break;
		case 'm':
			if (parse_mac(optarg, dmac))
				usage();
			have_mac = 1;
			break;
		case 'd':
			if (inet_pton(AF_INET, optarg, &daddr) != 1)
				usage();
			break;
		case 'p': dport = (uint16_t)atoi(optarg); break;
		case 's': src = optarg; break;
		case 'r': rate = atof(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (!ifname || !have_mac || !daddr || !dport || rate <= 0 || secs <= 0 || secs > 600)
		usage();
	char net[64];
	snprintf(net, sizeof(net), "%s", src);
	char *slash = strchr(net, '/');
	int plen = slash ? atoi(slash + 1) : 32;
	if (slash)
		*slash = 0;
	uint32_t snet;
	if (inet_pton(AF_INET, net, &snet) != 1 || plen < 15 || plen > 32)
		usage();
	uint32_t smask = plen ? ~0u << (32 - plen) : 0;
	uint32_t sbase = ntohl(snet) & smask;
	if (!in_bench_net(sbase) || !in_bench_net(ntohl(daddr))) {
		fprintf(stderr, "bp_synflood: source and target must lie in 198.18.0.0/15; refusing\n");
		return 2;
	}

	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
	if (fd < 0) {
		perror("bp_synflood: socket(AF_PACKET) (needs root)");
		return 1;
	}
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				   .sll_ifindex = (int)if_nametoindex(ifname), .sll_halen = 6 };
	if (!sll.sll_ifindex) {
		fprintf(stderr, "bp_synflood: no interface %s\n", ifname);
		return 1;
	}
	memcpy(sll.sll_addr, dmac, 6);
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifname);
	FILE *mf = fopen(path, "r");
	char macs[32];
	if (mf && fgets(macs, sizeof(macs), mf))
		parse_mac(macs, smac);
	if (mf)
		fclose(mf);
	rng ^= (uint64_t)getpid() << 32 ^ (uint64_t)(now_s() * 1e6);

	static uint8_t frames[BATCH][FRAME_LEN];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ frames[i], FRAME_LEN };
		msgs[i].msg_hdr = (struct msghdr){ .msg_name = &sll, .msg_namelen = sizeof(sll),
						   .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	double t0 = now_s();
	uint64_t sent = 0, errors = 0;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (sent < count && !stop) {
		double t = now_s() - t0;
		if (t >= secs)
			break;
		double due = t * rate;
		if ((double)sent >= due) {
			usleep(200);
			continue;
		}
		int n = BATCH;
		if (count - sent < (uint64_t)n)
			n = (int)(count - sent);
		for (int i = 0; i < n; i++) {
			uint32_t host = sbase | (rnd() & ~smask);
			if ((host & 0xff) == 0 || (host & 0xff) == 0xff)
				host ^= 1; /* neither network nor broadcast address */
			build(frames[i], dmac, smac, htonl(host), daddr,
			      (uint16_t)(1024 + rnd() % 64000), dport, rnd());
		}
		int r = sendmmsg(fd, msgs, (unsigned)n, 0);
		if (r < 0) {
			if (errno != ENOBUFS && errno != EAGAIN) {
				perror("bp_synflood: sendmmsg");
				return 1;
			}
			errors++;
			usleep(100);
			continue;
		}
		sent += (uint64_t)r;
	}
	double el = now_s() - t0;
	fflush(stdout);
	printf("bp_synflood: sent %llu SYNs in %.2f s (%.0f/s), %llu send errors\n",
	       (unsigned long long)sent, el, el > 0 ? sent / el : 0.0, (unsigned long long)errors);
	close(fd);
	return 0;
}
