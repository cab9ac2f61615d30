/* SPDX-License-Identifier: MIT */
/*
 * shim.h - the LD_PRELOAD socket shim's private state.
 *
 * A socket becomes a bypass socket when it listens on, or connects to, an
 * address the configuration selects; until then it is an ordinary kernel
 * socket.  At conversion the kernel socket is replaced, under the same fd
 * number, by a placeholder eventfd: the number stays reserved and valid for
 * fcntl(), and every call we interpose looks the number up in the fd table.
 * Everything not in the table goes to libc untouched.
 */
#ifndef BYPASS_SHIM_H
#define BYPASS_SHIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/poll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <signal.h>

#include "bypass/bypass.h"

#define SHIM_MAX_FD 65536

/* a bypass socket; several fds may share one after dup() */
struct shim_sock {
	int refs;
	int waiters;           /* threads blocked in shim_wait() on it (table_lock) */
	int calls;             /* data calls in flight on it (shim_hold(), table_lock) */
	bool dead;             /* closed while waited on or in use: the last of those
				* threads closes what is left and frees it */
	int h;                 /* libbypass handle */
	bool listener;
	bool listen_shut;      /* listener: shutdown(SHUT_RD) closed it, as
				* Linux does; accept() says EINVAL (h is -1) */
	bool nonblock;
	bool shut_rd;
	bool shut_wr;          /* shutdown(SHUT_WR) done: POLLOUT from now on
				* (a send says EPIPE), POLLHUP once reading is
				* over too, as on Linux */
	bool connect_pending;  /* a non-blocking connect() said EINPROGRESS and
				* its outcome was not reported yet */
	bool err_told;         /* the connection's error was reported once, as
				* Linux's so_error is: sends now say EPIPE,
				* reads see end of stream (shim_conn_error()) */
	uint32_t ip;           /* listener: bound address (network order) */
	uint16_t port;         /* listener: bound port */
	int backlog;           /* listener: as given to listen() */
	int ksock;             /* listener: the program's kernel socket, kept
				* open to prove to the daemon that a fork
				* relative shares it (-1: none) */
	uint64_t key;          /* connection inherited over fork(), not yet
				* adopted (h < 0): its handoff key, 0 = gone */
	int rcvbuf, sndbuf, nodelay, keepalive, reuseaddr;
	struct { int level, name, val; } other[8]; /* other int options set: no
				* bypass meaning, but getsockopt() echoes them */
	int nother;
	int rcvtimeo_ms, sndtimeo_ms; /* SO_RCVTIMEO/SO_SNDTIMEO, 0 = forever */
	struct linger linger;  /* {1, 0}: the last close() resets (RST) */
	bool linger_daemon;    /* the daemon keeps @linger's {1, 0} with the connection
				* and decides at close (bp_linger_reset()); else
				* (a daemon before it) close() itself aborts */
};

/* address recorded by bind() on a socket that is still a kernel socket */
struct shim_bound {
	bool valid;
	bool listening;        /* listen() called: convert on first accept/poll */
	int backlog;
	uint32_t ip;
	uint16_t port;
	int ksock1;            /* listening: the kernel socket kept after a
				* conversion, + 1 (0: the fd itself is it) */
	char cc[16];           /* TCP_CONGESTION set before connect(), "" = default */
	int reserve_h1;        /* bind(port 0): the daemon's hold on the port it
				* picked (bp_listen_reserve()) in this
				* process, handle + 1; 0 = none */
};

/* the libc functions we wrap */
struct shim_real {
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*close)(int);
	int (*shutdown)(int, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*fcntl)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
		       const sigset_t *);
	int (*epoll_create)(int);
	int (*epoll_create1)(int);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	pid_t (*fork)(void);
	int (*close_range)(unsigned int, unsigned int, int); /* glibc 2.34+, else NULL */
	void (*closefrom)(int);                              /* likewise */
};

extern struct shim_real real;

/* shim_core.c */
void shim_init(void);
struct bp_ctx *shim_ctx(void);
bool shim_listen_selected(uint32_t ip, uint16_t port);
bool shim_connect_selected(uint32_t ip);
struct shim_sock *shim_get(int fd);
struct shim_sock *shim_hold(int fd);
void shim_release(struct shim_sock *s);
int shim_peername(struct shim_sock *s, struct sockaddr *addr, socklen_t *len);
static inline void shim_release_at(struct shim_sock **sp)
{
	if (*sp)
		shim_release(*sp);
}
/* a socket held by shim_hold() until the enclosing block ends */
#define SHIM_HELD __attribute__((cleanup(shim_release_at)))
struct shim_sock *shim_peek(int fd);
struct shim_sock *shim_get_active(int fd);
int shim_install(int fd, struct shim_sock *s, int cloexec);
void shim_put(int fd);
void shim_alias(int newfd, struct shim_sock *s);
struct shim_bound *shim_bound(int fd);
void shim_bound_dup(int oldfd, int newfd);
void shim_bound_drop(int fd);
void shim_bound_unreserve(struct shim_bound *b);
int shim_wait(struct shim_sock *s, int timeout_ms);
int shim_wait_until(struct shim_sock *s, uint64_t deadline_ms);
uint64_t shim_deadline(int timeo_ms);
bool shim_eintr_restarts(uint64_t deadline_ms);
/* shim_ready(): the flow is gone and its error was reported (POLLHUP, no
 * POLLERR); beyond every BP_* readiness bit */
#define SHIM_HUNG_UP 0x80000000u
unsigned shim_ready(struct shim_sock *s);
void shim_listener_shut(struct shim_sock *s);
int shim_listener_reopen(struct shim_sock *s, int backlog);
void shim_kick_waiters(void);
int shim_errno(int neg);
int shim_conn_error(struct shim_sock *s, int neg, bool sending);
int shim_moved(struct shim_sock *s);
bool shim_let_go_inherited(void);

struct bp_ctx *shim_ctx_attached(void);

/* shim_exec.c */
void shim_exec_inherit(void);

/* shim_tcpinfo.c */
int shim_tcp_info(struct shim_sock *s, void *val, socklen_t *len);
int shim_tcp_maxseg(struct shim_sock *s);
int shim_tcp_congestion(struct shim_sock *s, void *val, socklen_t *len);

/* shim_poll.c */
short shim_poll_bits(unsigned r, short events);

/* shim_wake.c */
int shim_thread_efd(void);
void shim_waiter_enter(void);
void shim_waiter_leave(void);
int shim_pump(struct bp_ctx *c);
void shim_fanout(void);
void shim_wait_ended(bool events);
void shim_wake_after_fork(void);

/* shim_epoll.c */
bool shim_is_epoll(int fd);
void shim_epoll_forget(int epfd);
void shim_epoll_fd_closed(int fd);
void shim_epoll_thread_fd_gone(int efd);
void shim_epoll_fork_prepare(void);
void shim_epoll_fork_parent(void);
void shim_epoll_fork_child(void);

#endif
