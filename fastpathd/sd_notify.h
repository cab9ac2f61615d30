/* SPDX-License-Identifier: MIT */
/* sd_notify.h - systemd's readiness protocol, for fastpathd.service */
#ifndef BYPASS_SD_NOTIFY_H
#define BYPASS_SD_NOTIFY_H

void fp_sd_notify_init(void);
void fp_sd_notify(const char *state);

#endif
