// SPDX-License-Identifier: MIT
/*
 * test_rpc_stream_req_worker_msg.c - every test of
 * test_rpc_stream_req_worker.c again, over the in-memory transport playing
 * a daemon-framed session (FK_MSG: whole messages, each the transport's
 * until msg_done; FK_PROMISE: the shared send area), as fastpathd's RPC
 * sessions hand them over.
 */
#define FK_MSG 1
#define FK_PROMISE 1
#include "test_rpc_stream_req_worker.c"
