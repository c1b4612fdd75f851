// The C ABI lands in stages (handshake, frames, SSE writer, SSE parser by different
// people), so pwbench references it weakly: pwbench links (with --whole-archive) against
// whatever libpushwire.a holds, and a runner whose functions are missing reports itself
// unavailable instead of breaking the build. Once every section has landed this changes
// nothing: the symbols are simply present.
#pragma once

#include "pushwire/pushwire.h"

#pragma weak pushwire_ws_new
#pragma weak pushwire_ws_free
#pragma weak pushwire_ws_set_option
#pragma weak pushwire_ws_feed
#pragma weak pushwire_ws_feed_mutable
#pragma weak pushwire_ws_feed_eof
#pragma weak pushwire_ws_next_event
#pragma weak pushwire_ws_peek_output
#pragma weak pushwire_ws_consume_output
#pragma weak pushwire_ws_output_size
#pragma weak pushwire_ws_error_reason
#pragma weak pushwire_sse_encode
#pragma weak pushwire_sse_writer_new
#pragma weak pushwire_sse_writer_free
#pragma weak pushwire_sse_writer_event
#pragma weak pushwire_sse_writer_response_head
#pragma weak pushwire_sse_writer_peek_output
#pragma weak pushwire_sse_writer_consume_output
#pragma weak pushwire_sse_writer_output_size
#pragma weak pushwire_sse_parser_new
#pragma weak pushwire_sse_parser_free
#pragma weak pushwire_sse_parser_set_option
#pragma weak pushwire_sse_parser_feed
#pragma weak pushwire_sse_parser_feed_eof
#pragma weak pushwire_sse_parser_next_event

namespace bench {
// Through a function so the compiler cannot assume a declared function is non-null.
inline bool pw_have(const void *fn) { return fn != nullptr; }
}  // namespace bench

#define PW_HAVE(fn) ::bench::pw_have(reinterpret_cast<const void *>(&fn))
