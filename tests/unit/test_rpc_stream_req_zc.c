// SPDX-License-Identifier: MIT
/*
 * test_rpc_stream_req_zc.c - every test of test_rpc_stream_req.c again, over
 * the in-memory transport in zero-copy mode (FK_ZC: small rings that wrap,
 * messages written in place and parsed where they lie), as over bypass.
 */
#define FK_ZC 1
#include "test_rpc_stream_req.c"
