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
 * about the child (bp_forked()) like any other.
 *
 * posix_spawn() and posix_spawnp() create the child inside libc, where its
 * file actions may move a socket to another number (dup2 onto stdin) and
 * close-on-exec drops the rest.  So each entry also names the placeholder
 * itself, by the kernel's eventfd id (/proc/PID/fdinfo): the new image
 * finds its sockets by id whatever their numbers, and the parent, once the
 * child runs, looks at the child's descriptors the same way and reports
 * it to the daemon as a holder of exactly the connections it got
 * (bp_spawned()), so a parent closing its copy leaves them open, as
 * the kernel's references do, while a connection the child did not get
 * still ends at the parent's close.  (libc's system() and popen() spawn
 * without going through these symbols: their children see eventfds.)
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <spawn.h>
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
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			const posix_spawnattr_t *, char *const[], char *const[]);
static spawn_fn real_posix_spawn, real_posix_spawnp;

static void exec_load(void)
{
	if (real_execve)
		return;
	real_fexecve = dlsym(RTLD_NEXT, "fexecve");
	real_execvpe = dlsym(RTLD_NEXT, "execvpe");
	real_posix_spawn = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
	real_posix_spawnp = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawnp");
	__atomic_store_n(&real_execve, dlsym(RTLD_NEXT, "execve"), __ATOMIC_RELEASE);
}

/* what one exec keeps: the variable for the next image, the keys held */
struct exec_plan {
	char *var;       /* "BYPASS_SHIM_FDS=..." or NULL if nothing is kept */
	char **envp;     /* the environment to exec with */
	struct bp_ctx *ctx;
	bool spawn;      /* for posix_spawn(): a child, not this process, keeps
			  * them; close-on-exec fds count (dup2 may keep them) */
	uint64_t *keys;  /* connections kept: held across exec, or reported as
			  * the spawned child's (by their placeholder's id) */
	long long *ids;
	int nkeys;
};

/* the start of a /proc file, NUL-terminated, into @buf: false if unreadable */
static bool read_proc(const char *path, char *buf, size_t size)
{
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	ssize_t n = real.read(f, buf, size - 1);
	real.close(f);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/*
 * The kernel's id of the eventfd @fd of process @pid (0: ourselves), or -1
 * if it is no eventfd or the kernel names none (older kernels: then a
 * posix_spawn() child keeps no bypass socket, only exec does), or if
 * @live_only and the descriptor is close-on-exec (see exec_settled()).
 */
static long long eventfd_id(pid_t pid, int fd, bool live_only)
{
	char path[64], buf[512];
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	else
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (!read_proc(path, buf, sizeof(buf)))
		return -1;
	const char *fl = strstr(buf, "flags:");
	if (live_only && (!fl || (strtoul(fl + strlen("flags:"), NULL, 8) & O_CLOEXEC)))
		return -1;
	const char *id = strstr(buf, "\neventfd-id:");
	if (!id)
		return -1;
	id += strlen("\neventfd-id:");
	while (*id == ' ' || *id == '\t')
		id++;
	return isdigit((unsigned char)*id) ? strtoll(id, NULL, 10) : -1;
}

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

static void plan_key(struct exec_plan *p, uint64_t key, long long id)
{
	for (int i = 0; i < p->nkeys; i++)
		if (p->keys[i] == key && p->ids[i] == id)
			return;
	if (p->nkeys < EXEC_MAX_KEYS) {
		p->keys[p->nkeys] = key;
		p->ids[p->nkeys++] = id;
	}
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
		if (fl < 0 || ((fl & FD_CLOEXEC) && !p->spawn))
			continue;
		long long id = eventfd_id(0, fd, false);
		if (p->spawn && id < 0)
			continue; /* no id to find it by in the child: it keeps nothing */
		if (!s || s->listener) {
			uint32_t ip = s ? s->ip : b->ip;
			snprintf(entry, sizeof(entry), "L,%d,%" PRIu32 ",%u,%d,%lld", fd, ip,
				 s ? s->port : b->port, s ? s->backlog : b->backlog, id);
		} else {
			uint64_t key = s->key;
			if (s->h >= 0 && (!p->ctx || bp_flow_key(p->ctx, s->h, &key)))
				continue; /* no longer a live connection */
			if (!key)
				continue;
			if (p->ctx)
				plan_key(p, key, id);
			snprintf(entry, sizeof(entry), "C,%d,%" PRIx64 ",%d,%lld", fd, key,
				 s->nonblock, id);
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

/* does this process hold connections it inherited and never used (or
 * closed without telling the daemon: close_range() in a child before exec)? */
static bool holds_inherited(void)
{
	if (shim_let_go_inherited())
		return true;
	for (int fd = 0; fd < SHIM_MAX_FD; fd++) {
		struct shim_sock *s = shim_peek(fd);
		if (s && !s->listener && s->h < 0 && s->key)
			return true;
	}
	return false;
}

/* Return: 0, or -1 with errno (out of memory: the exec is not tried) */
static int plan_make(struct exec_plan *p, char *const envp[], bool spawn)
{
	memset(p, 0, sizeof(*p));
	p->spawn = spawn;
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
	p->ids = calloc(EXEC_MAX_KEYS, sizeof(*p->ids));
	if (!p->keys || !p->ids) {
		free(p->keys);
		free(p->ids);
		errno = ENOMEM;
		return -1;
	}
	p->var = plan_var(p);
	p->envp = plan_env(p, envp);
	if (!p->envp) {
		free(p->var);
		free(p->keys);
		free(p->ids);
		errno = ENOMEM;
		return -1;
	}
	for (int i = 0; i < p->nkeys && !spawn; i++)
		bp_exec_hold(p->ctx, p->keys[i], true);
	return 0;
}

static void plan_free(struct exec_plan *p)
{
	free(p->envp);
	free(p->var);
	free(p->keys);
	free(p->ids);
}

/* the exec failed (we are still here): take the holds back */
static int plan_undo(struct exec_plan *p)
{
	int e = errno;
	for (int i = 0; i < p->nkeys; i++)
		bp_exec_hold(p->ctx, p->keys[i], false);
	plan_free(p);
	errno = e;
	return -1;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
	struct exec_plan p;
	if (plan_make(&p, envp, false))
		return -1;
	real_execve(path, argv, p.envp);
	return plan_undo(&p);
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
	struct exec_plan p;
	if (plan_make(&p, envp, false))
		return -1;
	real_execvpe(file, argv, p.envp);
	return plan_undo(&p);
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct exec_plan p;
	if (plan_make(&p, envp, false))
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

/*
 * Fields of /proc/@pid/stat that mark which image a process runs:
 * startcode, startstack and arg_start.
 * Return: 1, or 0 if it has exited, -1 if it cannot be read.
 */
static int image_marks(pid_t pid, unsigned long long mark[3])
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!read_proc(path, buf, sizeof(buf)))
		return -1;
	char *t = strrchr(buf, ')'); /* the name before it may hold anything */
	if (!t || t[1] != ' ')
		return -1;
	t += 2; /* field 3, the state */
	if (*t == 'Z' || *t == 'X')
		return 0;
	mark[0] = mark[1] = mark[2] = 0;
	for (int field = 3; t && field <= 48; field++) {
		if (field == 26 || field == 28 || field == 48)
			mark[field == 26 ? 0 : field == 28 ? 1 : 2] = strtoull(t, NULL, 10);
		if ((t = strchr(t, ' ')))
			t++;
	}
	return 1;
}

/*
 * Wait until @child's exec has closed its close-on-exec descriptors, and
 * say whether it is still there to hold any.  posix_spawn() returns once
 * the exec is releasing our memory, but the child switches to its new
 * memory after that, and closes those descriptors after that again: it
 * clears a whole word of close-on-exec flags, then closes them one by
 * one, so a look in between sees a descriptor about to go as open and
 * kept.  The marks tell: our own until the switch, 0 in the new memory
 * until the new image is loaded, which is after the closing.  (A child we
 * may not trace shows 1 and 0s, and no fds at all.)
 */
static bool exec_settled(pid_t child)
{
	unsigned long long mine[3], its[3];
	if (image_marks(getpid(), mine) <= 0)
		return false;
	for (int wait_us = 20, waited = 0;; waited += wait_us) {
		if (image_marks(child, its) <= 0)
			return false; /* gone already */
		bool ours = !memcmp(its, mine, sizeof(mine));
		if (its[0] && !ours)
			return true;
		/* not switched after a second: the same image, or a child
		 * that never runs; its close-on-exec flags are intact, so the
		 * look is safe.  Switched and not loaded is inside the exec,
		 * mid-close maybe: that ends, unless the child is stopped */
		if ((ours && waited > 1000 * 1000) || waited > 10 * 1000 * 1000)
			return ours;
		usleep((useconds_t)wait_us);
		if (wait_us < 5000)
			wait_us *= 2;
	}
}

/*
 * The child of posix_spawn() runs its new image now: report it as a holder
 * of each connection whose placeholder it has, under whatever number.  A
 * descriptor it closed already, or a child gone already, holds nothing.
 */
static void report_spawned(struct exec_plan *p, pid_t child)
{
	char path[64];
	if (!exec_settled(child))
		return;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)child);
	DIR *d = opendir(path);
	if (!d)
		return;
	bool told[EXEC_MAX_KEYS] = { 0 };
	for (struct dirent *e; (e = readdir(d));) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		int fd = atoi(e->d_name);
		long long id = eventfd_id(child, fd, true);
		for (int i = 0; i < p->nkeys; i++) {
			if (told[i] || id < 0 || p->ids[i] != id)
				continue;
			told[i] = true;
			bp_spawned(p->ctx, child, p->keys[i]);
		}
	}
	closedir(d);
}

static int spawn(spawn_fn *real_fn, pid_t *pid, const char *file,
		 const posix_spawn_file_actions_t *actions, const posix_spawnattr_t *attr,
		 char *const argv[], char *const envp[])
{
	struct exec_plan p;
	pid_t child;
	if (plan_make(&p, envp, true))
		return errno;
	int r = (*real_fn)(&child, file, actions, attr, argv, p.envp);
	if (!r) {
		if (p.ctx && p.nkeys)
			report_spawned(&p, child);
		if (pid)
			*pid = child;
	}
	plan_free(&p);
	return r;
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
		const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn(&real_posix_spawn, pid, path, actions, attr, argv, envp);
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
		 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn(&real_posix_spawnp, pid, file, actions, attr, argv, envp);
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
	for (int other = 0; other < SHIM_MAX_FD; other++) {
		if (other == fd)
			continue;
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

/* this image's eventfds and their ids: how many, into @fds/@ids (@max) */
static int scan_eventfds(int *fds, long long *ids, int max)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) && n < max;) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		int fd = atoi(e->d_name);
		long long id = fd == dirfd(d) || fd >= SHIM_MAX_FD ? -1 : eventfd_id(0, fd, false);
		if (id >= 0) {
			fds[n] = fd;
			ids[n++] = id;
		}
	}
	closedir(d);
	return n;
}

/*
 * Install one entry of the variable at @fd, if nothing else took it: a
 * connection ('C': @key, @a nonblock) or a listener ('L': @ip, @a port,
 * @b backlog).
 */
static void inherit_one(int fd, char kind, uint64_t key, uint32_t ip, int a, int b)
{
	if (fd < 0 || fd >= SHIM_MAX_FD || shim_peek(fd))
		return;
	if (kind == 'C') {
		if (key)
			inherit_conn(fd, key, a);
		return;
	}
	struct shim_bound *bd = shim_bound(fd);
	if (bd)
		*bd = (struct shim_bound){ .valid = true, .listening = true, .backlog = b,
					   .ip = ip, .port = (uint16_t)a };
}

/**
 * shim_exec_inherit - in a new program image: take over the bypass sockets
 * the previous image kept across exec or posix_spawn() (BYPASS_SHIM_FDS,
 * see the top): by the placeholder's id wherever it now is, or, from a
 * kernel that names no ids, at the number it had.
 */
void shim_exec_inherit(void)
{
	enum { MAX_EFDS = 4096 };
	const char *v = getenv(EXEC_ENV);
	if (!v)
		return;
	char *copy = strdup(v);
	unsetenv(EXEC_ENV); /* it describes this image only */
	int *fds = calloc(MAX_EFDS, sizeof(*fds));
	long long *ids = calloc(MAX_EFDS, sizeof(*ids));
	int nefd = copy && fds && ids ? scan_eventfds(fds, ids, MAX_EFDS) : 0;
	for (char *save, *tok = copy ? strtok_r(copy, ";", &save) : NULL; tok;
	     tok = strtok_r(NULL, ";", &save)) {
		int fd, a = 0, b = 0, got;
		long long id = -1;
		uint64_t key = 0;
		uint32_t ip = 0;
		char kind = tok[0];
		if (kind == 'C')
			got = sscanf(tok, "C,%d,%" SCNx64 ",%d,%lld", &fd, &key, &a, &id) >= 3;
		else if (kind == 'L')
			got = sscanf(tok, "L,%d,%" SCNu32 ",%d,%d,%lld", &fd, &ip, &a, &b, &id) >= 4;
		else
			got = 0;
		if (!got)
			continue;
		if (id < 0) {
			if (is_placeholder(fd))
				inherit_one(fd, kind, key, ip, a, b);
			continue;
		}
		bool found = false;
		for (int i = 0; i < nefd; i++) {
			if (ids[i] == id) {
				inherit_one(fds[i], kind, key, ip, a, b);
				found = true;
			}
		}
		/* past what the scan holds: where exec left it, if it is there */
		if (!found && nefd == MAX_EFDS && is_placeholder(fd))
			inherit_one(fd, kind, key, ip, a, b);
	}
	free(fds);
	free(ids);
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
