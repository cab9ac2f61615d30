// SPDX-License-Identifier: MIT
/*
 * shim_exec.c - bypass sockets kept across exec(), as kernel sockets are.
 *
 * A socket fd without FD_CLOEXEC survives exec() (inetd and socat hand a
 * connection to the program they exec; sshd re-execs itself; CGI).  Ours
 * is an eventfd placeholder whose meaning lives in this image's memory, so:
 *
 *  - before exec (execve() and friends below), every bypass fd that is not
 *    close-on-exec is written into BYPASS_SHIM_FDS in the new environment:
 *    "C,fd,key,nonblock" for a connection (its handoff key), "L,fd,ip,port,
 *    backlog" for a listener.  If this image is attached, it tells the
 *    daemon that the process keeps those connections (bp_exec_hold()), so
 *    they are neither closed nor released when its context goes away at
 *    exec (see slowpath/exec_hold.c); if exec fails, it takes that back.
 *    A fork child that never attached holds its connections by pid
 *    already, and exec keeps the pid.
 *  - the next image's constructor (shim_exec_inherit()) reads the variable,
 *    checks that each fd is still an eventfd (the program may have reused
 *    the number), and installs it as an inherited socket: a connection is
 *    adopted on first use, exactly like a fork child's; a listener becomes
 *    a pending listener.  The variable is removed from the environment.
 *  - close-on-exec bypass fds simply end with the old image (its owned
 *    connections close, its holds are dropped).
 *
 * vfork() becomes fork(): a vfork child shares our memory, so it could not
 * set up its own view of the inherited sockets, and the daemon must learn
 * about the child (bp_forked()) like any other.  posix_spawn() creates its
 * child inside libc, out of our reach: its children see bypass fds as
 * eventfds.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "shim.h"

#define EXEC_ENV "BYPASS_SHIM_FDS"
#define EXEC_MAX_KEYS 1024

extern char **environ;

static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_fexecve)(int, char *const[], char *const[]);

static void exec_load(void)
{
	if (real_execve)
		return;
	real_fexecve = dlsym(RTLD_NEXT, "fexecve");
	real_execvpe = dlsym(RTLD_NEXT, "execvpe");
	__atomic_store_n(&real_execve, dlsym(RTLD_NEXT, "execve"), __ATOMIC_RELEASE);
}

/* what one exec keeps: the variable for the next image, the keys held */
struct exec_plan {
	char *var;       /* "BYPASS_SHIM_FDS=..." or NULL if nothing is kept */
	char **envp;     /* the environment to exec with */
	struct bp_ctx *ctx;
	uint64_t *keys;  /* connections we told the daemon about */
	int nkeys;
};

static bool plan_add(char **buf, size_t *len, size_t *cap, const char *entry)
{
	size_t n = strlen(entry);
	if (*len + n + 2 > *cap) {
		size_t ncap = (*cap + n + 2) * 2;
		char *nb = realloc(*buf, ncap);
		if (!nb)
			return false;
		*buf = nb;
		*cap = ncap;
	}
	if ((*buf)[*len - 1] != '=')
		(*buf)[(*len)++] = ';';
	memcpy(*buf + *len, entry, n + 1);
	*len += n;
	return true;
}

static void plan_key(struct exec_plan *p, uint64_t key)
{
	for (int i = 0; i < p->nkeys; i++)
		if (p->keys[i] == key)
			return;
	if (p->nkeys < EXEC_MAX_KEYS)
		p->keys[p->nkeys++] = key;
}

/* describe every bypass fd the next image inherits */
static char *plan_var(struct exec_plan *p)
{
	size_t cap = 256, len = strlen(EXEC_ENV "=");
	char *buf = malloc(cap), entry[96];
	if (!buf)
		return NULL;
	memcpy(buf, EXEC_ENV "=", len + 1);
	for (int fd = 0; fd < SHIM_MAX_FD; fd++) {
		struct shim_sock *s = shim_peek(fd);
		struct shim_bound *b = shim_bound(fd);
		if ((!s && !(b && b->listening)) || (s && s->listen_shut))
			continue; /* (a shut listener stays a dead descriptor) */
		int fl = real.fcntl(fd, F_GETFD);
		if (fl < 0 || (fl & FD_CLOEXEC))
			continue;
		if (!s || s->listener) {
			uint32_t ip = s ? s->ip : b->ip;
			snprintf(entry, sizeof(entry), "L,%d,%" PRIu32 ",%u,%d", fd, ip,
				 s ? s->port : b->port, s ? s->backlog : b->backlog);
		} else {
			uint64_t key = s->key;
			if (s->h >= 0 && (!p->ctx || bp_flow_key(p->ctx, s->h, &key)))
				continue; /* no longer a live connection */
			if (!key)
				continue;
			if (p->ctx)
				plan_key(p, key);
			snprintf(entry, sizeof(entry), "C,%d,%" PRIx64 ",%d", fd, key, s->nonblock);
		}
		if (!plan_add(&buf, &len, &cap, entry)) {
			free(buf);
			return NULL;
		}
	}
	if (buf[len - 1] == '=') {
		free(buf);
		return NULL; /* nothing kept */
	}
	return buf;
}

/* @envp without our variable, plus p->var */
static char **plan_env(struct exec_plan *p, char *const envp[])
{
	size_t n = 0, k = 0, skip = strlen(EXEC_ENV "=");
	while (envp && envp[n])
		n++;
	char **e = malloc((n + 2) * sizeof(*e));
	if (!e)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], EXEC_ENV "=", skip))
			e[k++] = envp[i];
	if (p->var)
		e[k++] = p->var;
	e[k] = NULL;
	return e;
}

/* does this process hold connections it inherited and never used? */
static bool holds_inherited(void)
{
	for (int fd = 0; fd < SHIM_MAX_FD; fd++) {
		struct shim_sock *s = shim_peek(fd);
		if (s && !s->listener && s->h < 0 && s->key)
			return true;
	}
	return false;
}

/* Return: 0, or -1 with errno (out of memory: the exec is not tried) */
static int plan_make(struct exec_plan *p, char *const envp[])
{
	memset(p, 0, sizeof(*p));
	shim_init();
	exec_load();
	p->ctx = shim_ctx_attached();
	/*
	 * A fork child holds its parent's connections (the parent reported
	 * it) until it exits.  The exec drops what the new image does not
	 * inherit, as the kernel drops a socket's copies: attached, the end
	 * of our control connection at the exec says so, and the holds kept
	 * below stay (a child that execs a long-lived program would else
	 * keep every connection of its parent open, with no FIN, until that
	 * program exits).
	 */
	if (!p->ctx && holds_inherited())
		p->ctx = shim_ctx();
	p->keys = calloc(EXEC_MAX_KEYS, sizeof(*p->keys));
	if (!p->keys)
		return -1;
	p->var = plan_var(p);
	p->envp = plan_env(p, envp);
	if (!p->envp) {
		free(p->var);
		free(p->keys);
		errno = ENOMEM;
		return -1;
	}
	for (int i = 0; i < p->nkeys; i++)
		bp_exec_hold(p->ctx, p->keys[i], true);
	return 0;
}

/* the exec failed (we are still here): take the holds back */
static int plan_undo(struct exec_plan *p)
{
	int e = errno;
	for (int i = 0; i < p->nkeys; i++)
		bp_exec_hold(p->ctx, p->keys[i], false);
	free(p->envp);
	free(p->var);
	free(p->keys);
	errno = e;
	return -1;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
	struct exec_plan p;
	if (plan_make(&p, envp))
		return -1;
	real_execve(path, argv, p.envp);
	return plan_undo(&p);
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
	struct exec_plan p;
	if (plan_make(&p, envp))
		return -1;
	real_execvpe(file, argv, p.envp);
	return plan_undo(&p);
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct exec_plan p;
	if (plan_make(&p, envp))
		return -1;
	real_fexecve(fd, argv, p.envp);
	return plan_undo(&p);
}

int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* execl family: the arguments (up to the NULL) into an array, then the v form */
#define COLLECT_ARGS(first, ap, argv)                                           \
	do {                                                                   \
		size_t n_ = 1;                                                 \
		va_list c_;                                                    \
		va_copy(c_, ap);                                               \
		while (va_arg(c_, char *))                                     \
			n_++;                                                  \
		va_end(c_);                                                    \
		argv = alloca((n_ + 1) * sizeof(char *));                      \
		argv[0] = (char *)(first);                                     \
		for (size_t i_ = 1; i_ <= n_; i_++)                            \
			argv[i_] = va_arg(ap, char *);                         \
	} while (0)

int execl(const char *path, const char *arg, ...)
{
	char **argv;
	va_list ap;
	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execve(path, argv, environ);
}

int execlp(const char *file, const char *arg, ...)
{
	char **argv;
	va_list ap;
	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execvpe(file, argv, environ);
}

int execle(const char *path, const char *arg, ...)
{
	char **argv, **envp = NULL;
	va_list ap;
	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	envp = va_arg(ap, char **); /* after the NULL that ends the arguments */
	va_end(ap);
	return execve(path, argv, envp);
}

pid_t vfork(void)
{
	return fork();
}

/* is @fd still the placeholder eventfd an earlier image installed? */
static bool is_placeholder(int fd)
{
	char path[64], target[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = 0;
	return !strcmp(target, "anon_inode:[eventfd]");
}

static void inherit_conn(int fd, uint64_t key, int nonblock)
{
	/* fds that named one socket before the exec share it again */
	for (int other = 0; other < SHIM_MAX_FD && other < fd; other++) {
		struct shim_sock *s = shim_peek(other);
		if (s && !s->listener && s->h < 0 && s->key == key) {
			shim_alias(fd, s);
			return;
		}
	}
	struct shim_sock *s = calloc(1, sizeof(*s));
	if (!s)
		return;
	s->h = -1;
	s->key = key;
	s->nodelay = 1;
	s->nonblock = nonblock != 0;
	shim_alias(fd, s);
}

/**
 * shim_exec_inherit - in a new program image: take over the bypass sockets
 * the previous image kept across exec (BYPASS_SHIM_FDS, see the top).
 */
void shim_exec_inherit(void)
{
	const char *v = getenv(EXEC_ENV);
	if (!v)
		return;
	char *copy = strdup(v);
	unsetenv(EXEC_ENV); /* it describes this image only */
	if (!copy)
		return;
	for (char *save, *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		int fd, a, b;
		uint64_t key;
		uint32_t ip;
		if (sscanf(tok, "C,%d,%" SCNx64 ",%d", &fd, &key, &a) == 3) {
			if (fd >= 0 && fd < SHIM_MAX_FD && key && !shim_peek(fd) && is_placeholder(fd))
				inherit_conn(fd, key, a);
		} else if (sscanf(tok, "L,%d,%" SCNu32 ",%d,%d", &fd, &ip, &a, &b) == 4) {
			struct shim_bound *bd = shim_bound(fd);
			if (bd && !shim_peek(fd) && is_placeholder(fd))
				*bd = (struct shim_bound){ .valid = true, .listening = true,
							   .backlog = b, .ip = ip,
							   .port = (uint16_t)a };
		}
	}
	free(copy);
}

/*
 * fstat() on a bypass fd describes a socket, not the eventfd behind it:
 * programs check what their stdin/stdout are (cat refuses "input file is
 * output file" when both name one non-socket file).
 */
static void fix_stat(int fd, struct stat *st)
{
	struct shim_bound *b = shim_bound(fd);
	if (shim_peek(fd) || (b && b->listening))
		st->st_mode = S_IFSOCK | 0777;
}

int fstat(int fd, struct stat *st)
{
	static int (*real_fstat)(int, struct stat *);
	if (!real_fstat)
		real_fstat = dlsym(RTLD_NEXT, "fstat");
	int r = real_fstat(fd, st);
	if (!r)
		fix_stat(fd, st);
	return r;
}

int fstat64(int fd, struct stat64 *st)
{
	static int (*real_fstat64)(int, struct stat64 *);
	if (!real_fstat64)
		real_fstat64 = dlsym(RTLD_NEXT, "fstat64");
	int r = real_fstat64(fd, st);
	if (!r)
		fix_stat(fd, (struct stat *)st);
	return r;
}

int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	static int (*real_fstatat)(int, const char *, struct stat *, int);
	if (!real_fstatat)
		real_fstatat = dlsym(RTLD_NEXT, "fstatat");
	int r = real_fstatat(dirfd, path, st, flags);
	if (!r && !*path && (flags & AT_EMPTY_PATH))
		fix_stat(dirfd, st);
	return r;
}

int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	static int (*real_fstatat64)(int, const char *, struct stat64 *, int);
	if (!real_fstatat64)
		real_fstatat64 = dlsym(RTLD_NEXT, "fstatat64");
	int r = real_fstatat64(dirfd, path, st, flags);
	if (!r && !*path && (flags & AT_EMPTY_PATH))
		fix_stat(dirfd, (struct stat *)st);
	return r;
}

/* nm -D tells the test suite this build keeps sockets across exec() */
__attribute__((visibility("default"))) const int bypass_shim_exec_support = 1;
