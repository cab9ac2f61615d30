// SPDX-License-Identifier: MIT
/*
 * stale.c - what a fastpathd killed with SIGKILL leaves behind: its DPDK
 * runtime directory (<runtime>/dpdk/fastpathd-PID: config, fbarrays,
 * mp_socket) and, with hugepages, its fastpathd-PIDmap_* files.  Each daemon
 * uses its own file prefix, so these are never reused and would pile up.
 * Only entries of daemons whose PID no longer exists are removed; a
 * configured [eal] file_prefix is DPDK's to reuse and is left alone.
 * (The stale control socket is handled where it is bound: a socket nothing
 * answers on is replaced, one a live daemon answers on is refused.)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stale.h"

#define PREFIX "fastpathd-"

/* the PID in "fastpathd-PID[rest]" if that process is gone, else 0 */
static pid_t dead_owner(const char *name, const char *rest)
{
	char *end;
	if (strncmp(name, PREFIX, strlen(PREFIX)))
		return 0;
	long pid = strtol(name + strlen(PREFIX), &end, 10);
	if (end == name + strlen(PREFIX) || pid <= 0 || strcmp(end, rest))
		return 0;
	if (pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
		return 0; /* ours, alive, or not ours to judge (EPERM) */
	return (pid_t)pid;
}

/* remove <base>/<name>/ and the files in it (DPDK puts no subdirectories there) */
static int remove_dir(int basefd, const char *name)
{
	int fd = openat(basefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	return unlinkat(basefd, name, AT_REMOVEDIR);
}

static void clean_runtime(const char *base)
{
	DIR *d = opendir(base);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		pid_t pid = dead_owner(e->d_name, "");
		if (pid && remove_dir(dirfd(d), e->d_name) == 0)
			fprintf(stderr, "fastpathd: removed %s/%s, left by fastpathd %d (no longer "
				"running)\n", base, e->d_name, (int)pid);
	}
	closedir(d);
}

static void clean_hugepages(const char *mnt)
{
	DIR *d = opendir(mnt);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *map = strstr(e->d_name, "map_");
		char head[64];
		if (!map || (size_t)(map - e->d_name) >= sizeof(head))
			continue;
		memcpy(head, e->d_name, (size_t)(map - e->d_name));
		head[map - e->d_name] = 0;
		if (dead_owner(head, ""))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

void fp_clean_stale_runtime(void)
{
	char base[512];
	/* where DPDK 22.11 puts runtime dirs (eal_create_runtime_dir()) */
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (getuid() == 0)
		snprintf(base, sizeof(base), "/var/run/dpdk");
	else
		snprintf(base, sizeof(base), "%s/dpdk", xdg && *xdg ? xdg : "/tmp");
	clean_runtime(base);
	clean_hugepages("/dev/hugepages");
}
