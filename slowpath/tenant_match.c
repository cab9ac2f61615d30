// SPDX-License-Identifier: MIT
/*
 * tenant_match.c - who a control-socket peer is, and so its tenant.
 *
 * SO_PEERCRED gives uid, gid and pid at connect time; the supplementary
 * groups and the cgroup come from /proc/PID, read at accept.  The pid may
 * have exited (and been reused) by then, so the /proc data is used only
 * if that process still has the peer's uid: otherwise the caller is
 * matched by uid and primary gid alone, never by a stranger's groups.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "tenant.h"

/* Uid: and Groups: of /proc/@pid/status; false if unreadable */
static bool read_status(struct sp_ident *id, uint32_t *ruid)
{
	char path[64], line[1024];
	bool have_uid = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)id->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long r, e;

		if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2) {
			*ruid = (uint32_t)e; /* SO_PEERCRED has the effective uid */
			have_uid = true;
		} else if (!strncmp(line, "Groups:", 7)) {
			char *p = line + 7, *end;

			while (id->ngroups < sizeof(id->groups) / sizeof(id->groups[0])) {
				unsigned long g = strtoul(p, &end, 10);
				if (end == p)
					break;
				id->groups[id->ngroups++] = (uint32_t)g;
				p = end;
			}
		}
	}
	fclose(f);
	return have_uid;
}

/* the "0::PATH" line of /proc/@pid/cgroup (cgroup v2) */
static void read_cgroup(struct sp_ident *id)
{
	char path[64], line[BP_TENANT_CGROUP + 8];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)id->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		if (strlen(line + 3) < sizeof(id->cgroup)) /* longer: matches no prefix we hold */
			memcpy(id->cgroup, line + 3, strlen(line + 3) + 1);
		break;
	}
	fclose(f);
}

void sp_ident_read(struct sp_ident *id, uint32_t uid, uint32_t gid, int32_t pid)
{
	uint32_t ruid = UINT32_MAX;

	memset(id, 0, sizeof(*id));
	id->uid = uid;
	id->gid = gid;
	id->pid = pid;
	if (pid <= 0)
		return;
	if (!read_status(id, &ruid) || ruid != uid) {
		id->ngroups = 0; /* gone, or another process by now */
		return;
	}
	read_cgroup(id);
}

int sp_tenant_lookup(struct sp *sp, const struct sp_ident *id)
{
	const struct bp_tenants *ts = &sp->tenant_cfg;
	int i = config_tenant_match(ts, id->uid, id->gid, id->groups, id->ngroups, id->cgroup);

	if (i >= 0) {
		for (uint16_t t = 0; t < DP_MAX_TENANTS; t++)
			if (sp->tenants[t].in_use && !strcmp(sp->tenants[t].cfg.name, ts->t[i].name))
				return t;
	}
	return sp->tenant_refuse_unknown ? -EACCES : sp->tenant_unknown;
}

int sp_tenant_identify(struct sp *sp, const struct sp_ident *id)
{
	int t = sp_tenant_lookup(sp, id);

	if (t < 0)
		sp->tenants[DP_TENANT_DEFAULT].denied[SPT_DENY_ATTACH]++;
	return t;
}
