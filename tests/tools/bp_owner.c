// SPDX-License-Identifier: MIT
/*
 * bp_owner - drives the daemon's ownership rules from processes of two
 * uids (tests/integration/test_owner.sh).  Each subcommand prints what it
 * did and exits 0 when the daemon behaved as required, 3 when it refused
 * (for the "try" commands, where the test decides what it wanted), 1 on a
 * failed expectation, 2 on a usage or setup error.
 *
 *   bp_owner listen PORT COUNT SECONDS [GRANT_PATH]
 *       shared listener; accepts up to COUNT connections within SECONDS and
 *       prints "accepted N"; with GRANT_PATH hands its share descriptor to
 *       whoever connects there (SCM_RIGHTS)
 *   bp_owner join PORT SECONDS [GRANT_PATH]
 *       joins PORT's shared listeners, with the descriptor from GRANT_PATH
 *       or a share socket of its own; "join refused: ..." exits 3
 *   bp_owner raw-join PORT
 *       a BP_LISTEN_SHARED through the shared-memory queue (no descriptor)
 *   bp_owner prefork PORT WORKERS COUNT SECONDS
 *       a parent makes the share socket, forks WORKERS that each attach and
 *       join, and accept until they took COUNT in all; prints "listening"
 *       once all listen, then each worker's count
 *   bp_owner adopt-test IP PORT UID GID
 *       owner/holder/key rules for BP_CTRL_ADOPT against an echo peer
 *   bp_owner try-adopt KEY            (hex) exit 0 adopted, 3 refused
 *   bp_owner child-adopt KEY          adopt, echo-check, print the new key,
 *                                     hold until stdin closes
 *   bp_owner forked-test IP PORT N    N flows, FORKED(1) and FORKED(a
 *                                     non-child), for all flows and for
 *                                     one, then exit without closing
 *   bp_owner orphan-test IP PORT N    N flows, a real child holds them,
 *                                     then exit: prints "holder PID"
 *   bp_owner stale-close-test IP PORT SECONDS
 *                                     a child adopts our flow while our
 *                                     close names the old slot; prints
 *                                     "adopter gone", stays SECONDS
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "bypass/bypass.h"
#include "bp_internal.h"

static const char *self_path;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct bp_ctx *attach_or_die(const char *name)
{
	char err[512];
	struct bp_attach_opts o = { .app_name = name };
	struct bp_ctx *c = bp_attach(&o, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "bp_owner: attach: %s\n", err);
		exit(2);
	}
	return c;
}

/* ------------------------------------------------ share descriptor grant */

static int send_fd(int sock, int fd)
{
	char b = 'f';
	struct iovec iov = { &b, 1 };
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int recv_fd_from(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	char b;
	struct iovec iov = { &b, 1 };
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	int fd = -1;
	if (recvmsg(s, &mh, 0) == 1) {
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	}
	close(s);
	return fd;
}

static int grant_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 8)) {
		perror("bp_owner: grant socket");
		exit(2);
	}
	chmod(path, 0777);
	return s;
}

/* accept on listener @l until @count or @secs; serve grants on @gs */
static int accept_loop(struct bp_ctx *c, int l, int count, double secs, int gs, int share)
{
	int n = 0;
	double end = now_s() + secs;
	while (n < count && now_s() < end) {
		int h = bp_accept(c, l);
		if (h >= 0) {
			n++;
			bp_close(c, h);
			continue;
		}
		if (gs >= 0) {
			int g = accept(gs, NULL, NULL);
			if (g >= 0) {
				send_fd(g, share);
				close(g);
			}
		}
		bp_wait(c, 20);
	}
	return n;
}

static int cmd_listen(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	uint16_t port = (uint16_t)atoi(argv[0]);
	int count = atoi(argv[1]);
	double secs = atof(argv[2]);
	struct bp_ctx *c = attach_or_die("owner-listen");
	int share = bp_share_fd(port);
	int l = bp_listen_share(c, 0, port, 128, share);
	if (l < 0) {
		fprintf(stderr, "bp_owner: listen %u: %s\n", port, strerror(-l));
		return 1;
	}
	int gs = argc > 3 ? grant_listen(argv[3]) : -1;
	printf("listening on %u\n", port);
	fflush(stdout);
	int n = accept_loop(c, l, count, secs, gs, share);
	printf("accepted %d\n", n);
	bp_detach(c);
	return 0;
}

static int cmd_join(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	uint16_t port = (uint16_t)atoi(argv[0]);
	double secs = atof(argv[1]);
	int share = -1;
	if (argc > 2 && (share = recv_fd_from(argv[2])) < 0) {
		fprintf(stderr, "bp_owner: no share descriptor from %s\n", argv[2]);
		return 2;
	}
	struct bp_ctx *c = attach_or_die("owner-join");
	int l = bp_listen_share(c, 0, port, 128, share);
	if (l < 0) {
		printf("join refused: %s\n", strerror(-l));
		bp_detach(c);
		return 3;
	}
	printf("joined %u\n", port);
	fflush(stdout);
	printf("accepted %d\n", accept_loop(c, l, 1 << 30, secs, -1, -1));
	bp_detach(c);
	return 0;
}

static int cmd_raw_join(int argc, char **argv)
{
	if (argc < 1)
		return 2;
	struct bp_ctx *c = attach_or_die("owner-raw");
	int l = bpi_listen(c, 0, (uint16_t)atoi(argv[0]), 16, BP_LISTEN_SHARED, -1);
	if (l < 0) {
		printf("join refused: %s\n", strerror(-l));
		bp_detach(c);
		return 3;
	}
	printf("joined through the queue\n");
	bp_detach(c);
	return 0;
}

static int cmd_prefork(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	uint16_t port = (uint16_t)atoi(argv[0]);
	int workers = atoi(argv[1]), count = atoi(argv[2]);
	double secs = atof(argv[3]);
	if (bp_share_fd(port) < 0 || workers < 1 || workers > 16)
		return 2;
	/* how many workers listen, how many connections they took in all */
	int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return 2;
	pid_t pids[16];
	int fds[16];
	for (int i = 0; i < workers; i++) {
		int p[2];
		if (pipe(p))
			return 2;
		pids[i] = fork();
		if (pids[i] == 0) {
			close(p[0]);
			struct bp_ctx *c = attach_or_die("owner-worker");
			int l = bp_listen_share(c, 0, port, 128, -1); /* the inherited share */
			if (l < 0) {
				dprintf(p[1], "worker %d: listen: %s\n", i, strerror(-l));
				_exit(1);
			}
			__atomic_fetch_add(&shared[0], 1, __ATOMIC_SEQ_CST);
			int n = 0;
			double end = now_s() + secs;
			while (__atomic_load_n(&shared[1], __ATOMIC_SEQ_CST) < count && now_s() < end) {
				int h = bp_accept(c, l);
				if (h >= 0) {
					n++;
					__atomic_fetch_add(&shared[1], 1, __ATOMIC_SEQ_CST);
					bp_close(c, h);
				} else {
					bp_wait(c, 20);
				}
			}
			dprintf(p[1], "worker %d accepted %d\n", i, n);
			bp_detach(c);
			_exit(0);
		}
		close(p[1]);
		fds[i] = p[0];
	}
	double end = now_s() + secs;
	while (__atomic_load_n(&shared[0], __ATOMIC_SEQ_CST) < workers && now_s() < end)
		usleep(10000);
	printf("listening on %u: %d workers\n", port, __atomic_load_n(&shared[0], __ATOMIC_SEQ_CST));
	int rc = 0;
	for (int i = 0; i < workers; i++) {
		char buf[256];
		ssize_t n = read(fds[i], buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		fputs(buf, stdout);
		int st;
		waitpid(pids[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			rc = 1;
	}
	return rc;
}

/* ----------------------------------------------------------- adoption */

static int connect_wait(struct bp_ctx *c, const char *ip, uint16_t port)
{
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return -EINVAL;
	int h = bp_connect(c, a.s_addr, port);
	if (h < 0)
		return h;
	double end = now_s() + 10;
	int st;
	while ((st = bp_connect_status(c, h)) == -EINPROGRESS && now_s() < end)
		bp_wait(c, 50);
	return st ? st : h;
}

/* send @msg on @h and expect it echoed back */
static int echo_check(struct bp_ctx *c, int h, const char *msg)
{
	size_t len = strlen(msg), got = 0;
	char buf[256];
	if (bp_send(c, h, msg, len) != (ssize_t)len)
		return -1;
	double end = now_s() + 5;
	while (got < len && now_s() < end) {
		ssize_t n = bp_recv(c, h, buf + got, sizeof(buf) - got);
		if (n > 0)
			got += (size_t)n;
		else if (n == -EAGAIN)
			bp_wait(c, 20);
		else
			return -1;
	}
	return got == len && !memcmp(buf, msg, len) ? 0 : -1;
}

/* run "bp_owner try-adopt KEY", as @uid/@gid if @uid >= 0, in a
 * grandchild (so it is nobody's registered child).  Return: exit code */
static int try_adopt_as(long uid, long gid, uint64_t key)
{
	char k[32], ru[32], rg[32];
	snprintf(k, sizeof(k), "%" PRIx64, key);
	snprintf(ru, sizeof(ru), "--reuid=%ld", uid);
	snprintf(rg, sizeof(rg), "--regid=%ld", gid);
	pid_t p = fork();
	if (p == 0) {
		pid_t q = fork();
		if (q == 0) {
			if (uid >= 0)
				execlp("setpriv", "setpriv", ru, rg, "--clear-groups", self_path,
				       "try-adopt", k, (char *)NULL);
			else
				execl(self_path, self_path, "try-adopt", k, (char *)NULL);
			_exit(2);
		}
		int st;
		waitpid(q, &st, 0);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 2);
	}
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

static int cmd_try_adopt(int argc, char **argv)
{
	if (argc < 1)
		return 2;
	uint64_t key = strtoull(argv[0], NULL, 16);
	struct bp_ctx *c = attach_or_die("owner-try");
	int h = bp_adopt(c, key);
	printf("uid %u pid %d adopt: %s\n", getuid(), getpid(), h >= 0 ? "ADOPTED" : strerror(-h));
	fflush(stdout);
	bp_detach(c);
	return h >= 0 ? 0 : 3;
}

static int cmd_child_adopt(int argc, char **argv)
{
	if (argc < 1)
		return 2;
	uint64_t key = strtoull(argv[0], NULL, 16), k2 = 0;
	struct bp_ctx *c = attach_or_die("owner-child");
	int h = bp_adopt(c, key);
	if (h < 0) {
		printf("child adopt failed: %s\n", strerror(-h));
		return 1;
	}
	if (echo_check(c, h, "child\n")) {
		printf("child: no echo\n");
		return 1;
	}
	bp_flow_key(c, h, &k2);
	printf("%" PRIx64 "\n", k2);
	fflush(stdout);
	char b;
	while (read(0, &b, 1) > 0)
		;
	bp_detach(c);
	return 0;
}

#define EXPECT(cond, ...)                                                 \
	do {                                                              \
		if (cond) {                                               \
			printf("ok: " __VA_ARGS__);                       \
		} else {                                                  \
			printf("FAIL: " __VA_ARGS__);                     \
			fails++;                                          \
		}                                                         \
		printf("\n");                                             \
		fflush(stdout);                                           \
	} while (0)

/*
 * Fork and exec "child-adopt @key", reported as our child: it adopts the
 * flow, prints its new key on *@from_child and holds it until *@to_child
 * closes.  Return: its pid, or -1.
 */
static pid_t spawn_adopter(struct bp_ctx *c, uint64_t key, int *to_child, FILE **from_child)
{
	int in[2], out[2];
	if (pipe(in) || pipe(out))
		return -1;
	char k[32];
	snprintf(k, sizeof(k), "%" PRIx64, key);
	pid_t ch = fork();
	if (ch == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(self_path, self_path, "child-adopt", k, (char *)NULL);
		_exit(2);
	}
	close(in[0]);
	close(out[1]);
	if (ch < 0)
		return -1;
	bp_forked(c, ch);
	*to_child = in[1];
	*from_child = fdopen(out[0], "r");
	return ch;
}

/* the key the adopter printed once it took the flow (0: it did not);
 * @line keeps what it said */
static uint64_t adopter_key(FILE *from_child, char line[64])
{
	if (!from_child || !fgets(line, 64, from_child))
		line[0] = 0;
	return strtoull(line, NULL, 16);
}

static int cmd_adopt_test(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	long uid = atol(argv[2]), gid = atol(argv[3]);
	int fails = 0;
	struct bp_ctx *c = attach_or_die("owner-adopt");
	int h = connect_wait(c, argv[0], (uint16_t)atoi(argv[1]));
	if (h < 0) {
		fprintf(stderr, "bp_owner: connect: %s\n", strerror(-h));
		return 2;
	}
	uint64_t k1 = 0, k2 = 0, k3 = 0;
	bp_flow_key(c, h, &k1);
	EXPECT(echo_check(c, h, "owner\n") == 0, "owner talks on its connection");
	EXPECT(try_adopt_as(uid, gid, k1) == 3, "uid %ld knowing the key cannot adopt", uid);
	EXPECT(try_adopt_as(-1, -1, k1) == 3,
	       "a same-uid process that is no holder (not a reported child) cannot adopt");

	/* a real child adopts it: allowed, and the flow gets a new name */
	int to_child;
	FILE *f;
	pid_t ch = spawn_adopter(c, k1, &to_child, &f);
	if (ch < 0)
		return 2;
	char line[64];
	k2 = adopter_key(f, line);
	EXPECT(k2 != 0, "a reported fork child adopts the connection and it echoes (%s)",
	       k2 ? "ok" : line);
	EXPECT(k2 && k2 != k1, "the key changed at the move");
	EXPECT(bp_adopt(c, k1) < 0, "the previous owner cannot adopt with the stale key");
	EXPECT(try_adopt_as(uid, gid, k2) == 3, "uid %ld knowing the new key cannot adopt", uid);
	int h2 = bp_adopt(c, k2);
	EXPECT(h2 >= 0, "the previous owner (a holder now) takes it back with the new key");
	if (h2 >= 0) {
		EXPECT(echo_check(c, h2, "back\n") == 0, "and talks on it");
		bp_flow_key(c, h2, &k3);
		EXPECT(k3 != k2 && k3 != k1, "renamed again");
	}
	close(to_child); /* the child lets go and exits */
	int st;
	waitpid(ch, &st, 0);
	fclose(f);
	bp_detach(c);
	return fails ? 1 : 0;
}

/* ------------------------------------------------------- forked / orphans */

/* Return: the handle of the last of @n new flows, or -1 */
static int open_flows(struct bp_ctx *c, const char *ip, uint16_t port, int n)
{
	int h = -1;
	for (int i = 0; i < n; i++) {
		h = connect_wait(c, ip, port);
		if (h < 0) {
			fprintf(stderr, "bp_owner: connect %d: %s\n", i, strerror(-h));
			return -1;
		}
	}
	return h;
}

static int cmd_forked_test(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	struct bp_ctx *c = attach_or_die("owner-forked");
	int h = open_flows(c, argv[0], (uint16_t)atoi(argv[1]), atoi(argv[2]));
	uint64_t key = 0;
	if (h < 0 || bp_flow_key(c, h, &key))
		return 2;
	bp_forked(c, 1);         /* init: never exits */
	bp_forked(c, getppid()); /* alive, but our parent, not our child */
	bp_spawned(c, 1, key);   /* the same, for one flow */
	bp_spawned(c, getppid(), key);
	bp_wait(c, 200);         /* let the daemon read them */
	printf("reported pid 1 and %d; exiting without closing in 2 s\n", (int)getppid());
	fflush(stdout);
	sleep(2); /* the test counts the flows on the peer meanwhile */
	_exit(0); /* the daemon sees the socket close */
}

static int cmd_orphan_test(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	struct bp_ctx *c = attach_or_die("owner-orphans");
	if (open_flows(c, argv[0], (uint16_t)atoi(argv[1]), atoi(argv[2])) < 0)
		return 2;
	pid_t ch = fork();
	if (ch == 0) {
		/* holds every flow and never uses one; lets go of the
		 * caller's stdout so $(bp_owner ...) returns */
		int nul = open("/dev/null", O_RDWR);
		bp_forget_after_fork(c); /* as the shim does: the parent's death shows */
		dup2(nul, 1);
		dup2(nul, 2);
		for (int i = 0; i < 600; i++)
			sleep(1);
		_exit(0);
	}
	bp_forked(c, ch);
	bp_wait(c, 200);
	printf("holder %d\n", (int)ch);
	fflush(stdout);
	_exit(0);
}

/*
 * The owner closes its copy just as a child adopts it: libbypass saw no
 * BP_FF_MOVED yet, so the close names the old slot, which the move has
 * left behind.  That close must still let go of the owner's hold (the
 * move made the owner a holder), or the flow outlives the child that
 * took it until orphan_timeout_ms.  The close is pushed raw, as one sent
 * a moment before the move landed.  Prints "adopter gone" once the child
 * has exited, then stays attached for SECONDS while the test watches the
 * peer.
 */
static int cmd_stale_close_test(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	struct bp_ctx *c = attach_or_die("owner-stale-close");
	int h = open_flows(c, argv[0], (uint16_t)atoi(argv[1]), 1);
	uint64_t key = 0;
	if (h < 0 || bp_flow_key(c, h, &key))
		return 2;
	int to_child;
	FILE *f;
	pid_t ch = spawn_adopter(c, key, &to_child, &f);
	if (ch < 0)
		return 2;
	char line[64];
	if (!adopter_key(f, line)) {
		printf("FAIL: the child did not adopt: %s\n", line);
		return 1;
	}
	bpi_lock(c);
	struct bp_ctrl_req req = { .op = BP_CTRL_CLOSE, .slot = (uint32_t)h,
				   .gen = bpi_lookup(c, h)->gen };
	int r = bpi_ctrl_push(c, &req, 1000);
	bpi_unlock(c);
	if (r) {
		printf("FAIL: close not sent: %s\n", strerror(-r));
		return 1;
	}
	bp_wait(c, 200); /* the daemon reads the close before the child goes */
	close(to_child);
	int st;
	waitpid(ch, &st, 0);
	fclose(f);
	printf("adopter gone\n");
	fflush(stdout);
	sleep((unsigned)atoi(argv[2]));
	bp_detach(c);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
		{ "listen", cmd_listen }, { "join", cmd_join }, { "raw-join", cmd_raw_join },
		{ "prefork", cmd_prefork }, { "adopt-test", cmd_adopt_test },
		{ "try-adopt", cmd_try_adopt }, { "child-adopt", cmd_child_adopt },
		{ "forked-test", cmd_forked_test }, { "orphan-test", cmd_orphan_test },
		{ "stale-close-test", cmd_stale_close_test },
	};
	self_path = argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2) {
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			if (!strcmp(argv[1], cmds[i].name)) {
				int rc = cmds[i].fn(argc - 2, argv + 2);
				if (rc == 2)
					fprintf(stderr, "bp_owner %s: bad arguments or setup "
						"(see the comment at the top of bp_owner.c)\n", argv[1]);
				return rc;
			}
		}
	}
	fprintf(stderr, "usage: bp_owner listen|join|raw-join|prefork|adopt-test|try-adopt|"
		"child-adopt|forked-test|orphan-test|stale-close-test ... (see tests/tools/bp_owner.c)\n");
	return 2;
}
