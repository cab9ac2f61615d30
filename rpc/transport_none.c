// SPDX-License-Identifier: MIT
/*
 * transport_none.c - the bypass transport's stand-in in builds without
 * libbypass (the fuzz build): creating a bypass endpoint fails cleanly.
 */
#include <errno.h>
#include <stdio.h>

#include "rpc_internal.h"

static int n_init(void **t, const struct rpc_endpoint_opts *o, char *err, size_t errlen)
{
	if (err)
		snprintf(err, errlen, "built without libbypass");
	return -ENOTSUP;
}

const struct rpc_transport_ops rpc_bypass_ops = {
	.name = "none",
	.init = n_init,
};

const struct rpc_transport_ops rpc_bypass_msg_ops = {
	.name = "none",
	.init = n_init,
};
