// SPDX-License-Identifier: MIT
/*
 * ctl_version.c - the control protocol's version check (proto/README.md).
 *
 * Every message states its sender's version in the envelope; a request
 * from a client that speaks a newer major version than this daemon may
 * mean something this daemon would misread, so it is refused whole with a
 * CtlError that names both versions and says what to do, never guessed
 * at.  A newer minor is served: its new fields are skipped as unknown.
 */
#include <errno.h>
#include <stdio.h>

#include "sp_internal.h"
#include "ctl_sock.h"

static void ctl_error(struct ctl_conn *cc, int32_t status, const char *error,
		      uint32_t major, uint32_t minor)
{
	Bypass__CtlError e = BYPASS__CTL_ERROR__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;

	e.status = status;
	e.error = (char *)error;
	e.has_daemon_major = e.has_daemon_minor = e.has_client_major = e.has_client_minor = 1;
	e.daemon_major = CTL_PROTO_MAJOR;
	e.daemon_minor = CTL_PROTO_MINOR;
	e.client_major = major;
	e.client_minor = minor;
	m.msg_case = BYPASS__CTL_MSG__MSG_CTL_ERROR;
	m.ctl_error = &e;
	sp_ctl_send(cc, &m, NULL, 0);
}

/* absent = 1.0: the protocol before the envelope had a version */
static void client_version(const Bypass__CtlMsg *m, uint32_t *major, uint32_t *minor)
{
	*major = m->has_proto_major ? m->proto_major : 1;
	*minor = m->has_proto_major && m->has_proto_minor ? m->proto_minor : 0;
}

/**
 * sp_ctl_version_ok - may the request @m on @cc be served at all?
 *
 * A client with a newer major protocol version gets a CtlError
 * (-EPROTONOSUPPORT) and @cc closes once it is sent (an app's attach too:
 * it would not understand the reply).
 * Return: true to go on and dispatch @m.
 */
bool sp_ctl_version_ok(struct ctl_conn *cc, const Bypass__CtlMsg *m)
{
	uint32_t major, minor;
	char err[320];

	client_version(m, &major, &minor);
	if (major <= CTL_PROTO_MAJOR)
		return true;
	snprintf(err, sizeof(err),
		 "this client speaks control protocol %u.%u, fastpathd %s speaks %u.%u: "
		 "upgrade fastpathd, or use the bypassctl (libbypass) that came with it",
		 major, minor, BYPASS_VERSION, CTL_PROTO_MAJOR, CTL_PROTO_MINOR);
	ctl_error(cc, -EPROTONOSUPPORT, err, major, minor);
	sp_ctl_close_when_sent(cc);
	return false;
}

/**
 * sp_ctl_unknown - answer a request type this daemon does not know (a
 * newer client's, or garbage), then close @cc.  An attached app's socket
 * is left alone: it tolerates what it cannot use.
 */
void sp_ctl_unknown(struct ctl_conn *cc, const Bypass__CtlMsg *m)
{
	uint32_t major, minor;
	char err[320];

	if (cc->app)
		return;
	client_version(m, &major, &minor);
	snprintf(err, sizeof(err),
		 "fastpathd %s (control protocol %u.%u) does not know this request "
		 "(the client speaks %u.%u): upgrade fastpathd, or use the bypassctl that "
		 "came with it", BYPASS_VERSION, CTL_PROTO_MAJOR, CTL_PROTO_MINOR, major, minor);
	ctl_error(cc, -EOPNOTSUPP, err, major, minor);
	sp_ctl_close_when_sent(cc);
}
