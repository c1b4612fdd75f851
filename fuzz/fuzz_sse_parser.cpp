// The event-stream parser against the WHATWG reference in sse_harness.hpp, over
// fuzzer-chosen chunk sizes.
//
// Input: byte 0 options (bit 0 report comments; bits 1-2 max line: default, 16, 64, 256;
// bits 3-4 max event: default, 16, 64, 512; bit 5 reset and read the stream again; bits
// 6-7 how the chunked read pulls events: next_event, or next_events 1, 2 or 64 at a time);
// byte 1: number of chunk-size bytes that follow (mod 8); the chunk sizes (cycled, each
// byte + 1); then the stream.
// Oracles: documented codes, sticky errors; whole, chunked, byte-by-byte and whole read in
// batches of 64 events give the same transcript; with the default limits it is exactly the reference's; with small
// limits it is a prefix of it, errors only when a line or event really is too long, and
// none when no terminated line is (an unterminated last line is dropped at the end, so
// whether it was too long does not matter); retry and last-event-id getters agree; no leaks.
#include "sse_harness.hpp"

using namespace fuzz;

namespace {

struct Result {
  std::vector<std::string> events;
  int sticky = 0;
  std::string last_id;
  uint64_t retry = 0;
};

Result read(const std::string &stream, uint8_t opts, const std::vector<size_t> &sizes, SseReader *r,
            bool configure = true) {
  if (configure) {
    static const uint64_t lines[] = {0, 16, 64, 256}, evs[] = {0, 16, 64, 512};
    if (opts & 1) check_rc("sse_parser_set_option", pushwire_sse_parser_set_option(r->p, PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 1), {0});
    if (uint64_t v = lines[(opts >> 1) & 3]) check_rc("sse_parser_set_option", pushwire_sse_parser_set_option(r->p, PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, v), {0});
    if (uint64_t v = evs[(opts >> 3) & 3]) {
      check_rc("sse_parser_set_option", pushwire_sse_parser_set_option(r->p, PUSHWIRE_SSE_PARSER_OPT_MAX_EVENT, v), {0});
      r->max_event = v;
    }
  }
  const uint8_t *p = reinterpret_cast<const uint8_t *>(stream.data());
  size_t pos = 0;
  for (size_t k = 0; pos < stream.size(); ++k) {
    size_t n = sizes.empty() ? stream.size() : sizes[k % sizes.size()];
    if (n > stream.size() - pos) n = stream.size() - pos;
    r->feed(p + pos, n);
    pos += n;
    if (k == 0 && configure)
      check_rc("sse_parser_set_option", pushwire_sse_parser_set_option(r->p, PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, 99),
               {PW(INVALID_STATE)});
  }
  r->feed_eof();
  r->feed_eof();  // a second end changes nothing
  Result res{r->events, r->sticky, span_str(pushwire_sse_parser_last_event_id(r->p), "last_event_id"),
             pushwire_sse_parser_retry_ms(r->p, 12345)};
  return res;
}

// A transcript without an error must be the reference's; one ending in a limit error must
// be a prefix of it, and the error justified. Returns whether there was no error.
bool against_reference(const Result &r, const RefSse &ref, size_t max_line) {
  if (!r.sticky) {
    check_same("parser vs reference", ref.events, r.events);
    FUZZ_CHECK(ref.longest_line <= max_line, "a %zu-byte line passed the %zu-byte limit", ref.longest_line, max_line);
    return true;
  }
  FUZZ_CHECK(r.events.size() <= ref.events.size(), "more events than the reference before an error");
  std::vector<std::string> prefix(ref.events.begin(), ref.events.begin() + long(r.events.size()));
  check_same("events before the error vs reference", prefix, r.events);
  if (r.sticky == PW(LINE_TOO_LONG))
    FUZZ_CHECK(ref.longest_any > max_line, "LINE_TOO_LONG, but the longest line has %zu bytes (limit %zu)",
               ref.longest_any, max_line);
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Input in(data, size);
  uint8_t opts = in.u8();
  std::vector<size_t> sizes;
  for (size_t k = in.u8() % 8; k > 0; --k) sizes.push_back(size_t(in.u8()) + 1);
  std::string stream = in.rest();
  bool comments = opts & 1;
  bool limited = (opts & 0x1e) != 0;
  static const size_t lines[] = {SIZE_MAX, 16, 64, 256};
  size_t max_line = lines[(opts >> 1) & 3];

  static const size_t batches[] = {0, 1, 2, 64};
  SseReader whole_r, chunked_r, bytes_r, batched_r;
  chunked_r.batch = batches[opts >> 6];
  batched_r.batch = 64;
  Result whole = read(stream, opts, {}, &whole_r);
  Result chunked = read(stream, opts, sizes, &chunked_r);
  Result bytes = read(stream, opts, {1}, &bytes_r);
  Result batched = read(stream, opts, {}, &batched_r);
  check_same("whole vs chunked", whole.events, chunked.events);
  check_same("whole vs byte by byte", whole.events, bytes.events);
  check_same("whole vs whole in batches", whole.events, batched.events);
  FUZZ_CHECK(whole.sticky == chunked.sticky && whole.sticky == bytes.sticky && whole.sticky == batched.sticky,
             "errors differ with chunking: %d %d %d %d", whole.sticky, chunked.sticky, bytes.sticky, batched.sticky);
  FUZZ_CHECK(batched.last_id == whole.last_id, "last_event_id differs when read in batches");

  for (const SseReader *r : {&whole_r, &chunked_r, &bytes_r, &batched_r})
    check_memory(r->alloc, stream.size(), "SSE parser");
  RefSse ref(stream, comments);
  if (!limited) FUZZ_CHECK(whole.sticky == 0, "%s with the default limits", pushwire_error_name(whole.sticky));
  if (!against_reference(whole, ref, max_line)) return 0;
  FUZZ_CHECK(whole.retry == (ref.retry_set ? ref.retry : 12345), "retry_ms %llu", (unsigned long long)whole.retry);
  FUZZ_CHECK(whole.last_id == ref.last_event_id, "last_event_id %s, reference %s", quote(whole.last_id).c_str(),
             quote(ref.last_event_id).c_str());

  if (opts & 0x20) {
    // A new connection: the position is forgotten, the last event id and retry persist.
    check_rc("sse_parser_reset", pushwire_sse_parser_reset(whole_r.p), {0});
    whole_r.events.clear();
    Result again = read(stream, opts, sizes, &whole_r, false);
    against_reference(again, RefSse(stream, comments, ref.last_event_id, ref.retry_set, ref.retry), max_line);
  }
  return 0;
}
