// SPDX-License-Identifier: MIT
/*
 * bp_many - many libbypass contexts at once, for density tests: N apps
 * attached to one fastpathd, each listening on its own port and echoing
 * whatever connects to it.
 *
 *   bp_many -n N -p BASE [-P PROCS] [--uid-base UID --gid GID] [--socket PATH]
 *
 * Context i (0 <= i < N) is its own bp_attach() and listens on port
 * BASE + i.  PROCS processes (default N / 100, at least 1) share the
 * contexts, so no process needs thousands of descriptors; each serves its
 * contexts from one poll() loop over their bp_wait_fd()s.
 *
 * With --uid-base, every context is its own process (PROCS = N) that
 * drops to uid UID + i and gid GID (no supplementary groups, setresuid:
 * the uid needs no passwd entry) before it attaches, so the daemon sees
 * N different peers by SO_PEERCRED: one tenant each, if the config has a
 * [tenant] per uid.  Such a process also tries to listen on the next
 * context's port and fails unless it gets EACCES (the port is that
 * tenant's, not its own).  Prints
 * "listening N" once every context listens, and on SIGTERM/SIGINT the
 * number of connections served, then exits without detaching (the daemon
 * takes the control socket's EOF as the detach).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "bypass/bypass.h"

#define CONNS_PER_CTX 4
#define BUF_SIZE 4096

struct many_conn {
	int h;                  /* -1: unused */
	uint8_t buf[BUF_SIZE];
	size_t off, len;        /* received, not yet echoed */
};

struct many_ctx {
	struct bp_ctx *ctx;
	int listener;
	struct many_conn c[CONNS_PER_CTX];
};

static volatile sig_atomic_t stop;
static unsigned long served;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bp_many -n N -p BASE [-P PROCS] [--uid-base UID --gid GID] [--socket PATH]\n"
		"\n"
		"Attach N libbypass contexts, context i listening on port BASE+i and\n"
		"echoing every connection; PROCS processes share them (default N/100).\n"
		"--uid-base: one process per context, context i as uid UID+i, gid GID.\n"
		"Prints \"listening N\" when all listen, connections served at SIGTERM.\n");
}

/* echo what is there; Return: false once the connection is gone */
static bool serve_conn(struct bp_ctx *ctx, struct many_conn *c)
{
	for (;;) {
		while (c->len) {
			ssize_t n = bp_send(ctx, c->h, c->buf + c->off, c->len);

			if (n == -EAGAIN)
				return true;
			if (n < 0)
				goto gone;
			c->off += (size_t)n;
			c->len -= (size_t)n;
		}
		ssize_t n = bp_recv(ctx, c->h, c->buf, sizeof(c->buf));

		if (n == -EAGAIN)
			return true;
		if (n <= 0) {
			served += n == 0;
			goto gone;
		}
		c->off = 0;
		c->len = (size_t)n;
	}
gone:
	bp_close(ctx, c->h);
	c->h = -1;
	return false;
}

static void serve_ctx(struct many_ctx *m)
{
	bp_wait(m->ctx, 0); /* drain the events and arm the wakeup */
	for (;;) {
		int h = bp_accept(m->ctx, m->listener);
		if (h < 0)
			break;
		int i = 0;

		while (i < CONNS_PER_CTX && m->c[i].h >= 0)
			i++;
		if (i == CONNS_PER_CTX) {
			bp_abort(m->ctx, h);
			continue;
		}
		m->c[i].h = h;
		m->c[i].len = 0;
	}
	for (int i = 0; i < CONNS_PER_CTX; i++)
		if (m->c[i].h >= 0)
			serve_conn(m->ctx, &m->c[i]);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* become uid @uid, gid @gid, no supplementary groups, for good */
static int drop_to(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) {
		fprintf(stderr, "bp_many: becoming uid %u gid %u: %s\n", (unsigned)uid,
			(unsigned)gid, strerror(errno));
		return -1;
	}
	return 0;
}

/* a context of another tenant owns @port: listening on it must be refused */
static int check_foreign_port(struct many_ctx *m, unsigned ctx_no, unsigned port)
{
	int h = bp_listen(m->ctx, 0, (uint16_t)port, 1);

	if (h == -EACCES)
		return 0;
	fprintf(stderr, "bp_many: context %u listening on another tenant's port %u: %s\n",
		ctx_no, port, h >= 0 ? "allowed" : strerror(-h));
	return -1;
}

/*
 * one process: contexts [first, first + n); tells @ready_fd when they
 * listen.  @uid >= 0: drop to @uid/@gid first (one context, its tenant's).
 */
static int run_child(const char *sock, unsigned first, unsigned n, unsigned base,
		     unsigned total, long uid, gid_t gid, int ready_fd)
{
	struct many_ctx *m = calloc(n, sizeof(*m));
	struct pollfd *pfd = calloc(n, sizeof(*pfd));
	char err[512], name[32];

	if (!m || !pfd)
		return 1;
	raise_nofile();
	if (uid >= 0 && drop_to((uid_t)uid, gid))
		return 1;
	for (unsigned i = 0; i < n; i++) {
		struct bp_attach_opts o = { .socket_path = sock, .app_name = name };

		snprintf(name, sizeof(name), "many-%u", first + i);
		m[i].ctx = bp_attach(&o, err, sizeof(err));
		if (!m[i].ctx) {
			fprintf(stderr, "bp_many: context %u: attach: %s\n", first + i, err);
			return 1;
		}
		m[i].listener = bp_listen(m[i].ctx, 0, (uint16_t)(base + first + i), 8);
		if (m[i].listener < 0) {
			fprintf(stderr, "bp_many: context %u: listen on %u: %s\n", first + i,
				base + first + i, strerror(-m[i].listener));
			return 1;
		}
		if (uid >= 0 && total > 1 &&
		    check_foreign_port(&m[i], first + i, base + (first + i + 1) % total))
			return 1;
		for (int k = 0; k < CONNS_PER_CTX; k++)
			m[i].c[k].h = -1;
		pfd[i] = (struct pollfd){ .fd = bp_wait_fd(m[i].ctx), .events = POLLIN };
		bp_wait(m[i].ctx, 0);
	}
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	close(ready_fd);
	/* no timeout (1,000 idle processes must not tick): SIGTERM is blocked
	 * but for the ppoll() itself, so it cannot slip in before it */
	sigset_t none;
	sigemptyset(&none);
	while (!stop) {
		if (ppoll(pfd, n, NULL, &none) < 0 && errno != EINTR)
			break;
		for (unsigned i = 0; i < n; i++)
			if (pfd[i].revents)
				serve_ctx(&m[i]);
	}
	printf("bp_many: contexts %u..%u served %lu connections\n", first, first + n - 1,
	       served);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "uid-base", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned n = 0, base = 0, procs = 0;
	long uid_base = -1;
	gid_t gid = 0;
	const char *sock = NULL;
	int o;

	while ((o = getopt_long(argc, argv, "n:p:P:s:h", opts, NULL)) != -1) {
		switch (o) {
		case 'n': n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': base = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P': procs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': sock = optarg; break;
		case 'u': uid_base = strtol(optarg, NULL, 10); break;
		case 'g': gid = (gid_t)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!n || !base || base + n > 65536 || uid_base == 0 ||
	    (uid_base > 0 && uid_base + n > UINT32_MAX)) {
		usage(stderr);
		return 2;
	}
	if (uid_base > 0)
		procs = n;
	else if (!procs)
		procs = n / 100 ? n / 100 : 1;
	if (procs > n)
		procs = n;

	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	int pipefd[2];
	if (pipe(pipefd))
		return 1;
	pid_t *pids = calloc(procs, sizeof(*pids));
	if (!pids)
		return 1;
	for (unsigned p = 0, first = 0; p < procs; p++) {
		unsigned cnt = n / procs + (p < n % procs);

		pids[p] = fork();
		if (pids[p] < 0) {
			perror("bp_many: fork");
			return 1;
		}
		if (!pids[p]) {
			/* a child takes SIGTERM only inside ppoll() (see run_child) */
			sigprocmask(SIG_BLOCK, &term, NULL);
			close(pipefd[0]);
			int r = run_child(sock, first, cnt, base, n,
					  uid_base > 0 ? uid_base + first : -1, gid, pipefd[1]);

			if (r)
				kill(getppid(), SIGTERM); /* do not wait for us */
			_exit(r);
		}
		first += cnt;
	}
	close(pipefd[1]);
	unsigned ready = 0;
	char c;
	while (ready < procs && !stop) {
		ssize_t r = read(pipefd[0], &c, 1);

		if (r == 1)
			ready++;
		else if (r == 0 || errno != EINTR)
			break;
	}
	int rc = 0;
	if (ready == procs) {
		printf("listening %u\n", n);
		fflush(stdout);
		while (!stop)
			pause();
	} else {
		fprintf(stderr, "bp_many: only %u of %u processes came up\n", ready, procs);
		rc = 1;
	}
	for (unsigned p = 0; p < procs; p++)
		kill(pids[p], SIGTERM);
	for (unsigned p = 0; p < procs; p++) {
		int st;

		if (waitpid(pids[p], &st, 0) == pids[p] && (!WIFEXITED(st) || WEXITSTATUS(st)))
			rc = 1;
	}
	free(pids);
	return rc;
}
