// One translation unit holding the whole core and C ABI, so a binding's build compiles
// a single file (tree-sitter's lib.c does the same). Paths are relative to this file.
#include "alloc.cpp"
#include "base64.cpp"
#include "buffer.cpp"
#include "http_head.cpp"
#include "mask.cpp"
#include "random.cpp"
#include "sha1.cpp"
#include "sse_parser.cpp"
#include "sse_writer.cpp"
#include "utf8.cpp"
#include "ws_frame.cpp"
#include "ws_handshake.cpp"
#include "../capi/capi_common.cpp"
#include "../capi/capi_http.cpp"
#include "../capi/capi_sse.cpp"
// Later modules (frames, state machine, SSE, C ABI shims) are appended as they land.
