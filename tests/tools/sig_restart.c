// SPDX-License-Identifier: MIT
/*
 * sig_restart - what a blocking recv() says when a signal handler runs
 * during it.  Plain sockets only: run it on Linux and under the shim, the
 * two lines must match (test_shim_python.sh).
 *
 *   sig_restart IP PORT MODE
 *   MODE: restart   SIGALRM's handler has SA_RESTART: Linux restarts recv()
 *         plain     no SA_RESTART: recv() fails with EINTR
 *         timeo     SA_RESTART, but SO_RCVTIMEO is set: never restarted
 *         oneshot   no SA_RESTART, SA_RESETHAND: EINTR, though by then the
 *                   handler is gone
 * The peer must send its first bytes about a second after the connect;
 * SIGALRM comes 300 ms after it.  Prints "recv=BYTES" or "recv=ERRNO" and
 * how many times the handler ran.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: sig_restart IP PORT restart|plain|timeo|oneshot\n");
		return 2;
	}
	const char *mode = argv[3];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "sig_restart: bad address '%s'\n", argv[1]);
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_alarm };
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = !strcmp(mode, "plain") ? 0 : !strcmp(mode, "oneshot") ? SA_RESETHAND
										: SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);

	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "sig_restart: connect: %s\n", strerror(errno));
		return 1;
	}
	if (!strcmp(mode, "timeo")) {
		struct timeval tv = { .tv_sec = 5 };
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	struct itimerval it = { .it_value = { .tv_usec = 300000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	char buf[64];
	ssize_t n = recv(s, buf, sizeof(buf) - 1, 0);
	if (n >= 0) {
		buf[n] = 0;
		printf("recv=%s alarms=%d\n", buf, (int)alarms);
	} else {
		printf("recv=%s alarms=%d\n", errno == EINTR ? "EINTR" : strerror(errno),
		       (int)alarms);
	}
	close(s);
	return 0;
}
