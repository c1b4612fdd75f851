// Event-stream pieces shared by the SSE targets: a reference parser written straight from
// WHATWG HTML "Interpreting an event stream", and a wrapper that reads a pushwire parser
// into the same transcript form with every return code and event checked.
#pragma once

#include "fuzz_common.hpp"

namespace fuzz {

inline std::string sse_event_line(const std::string &type, const std::string &data, const std::string &id) {
  return "EVENT type=" + quote(type) + " data=" + quote(data) + " id=" + quote(id);
}
inline std::string sse_retry_line(uint64_t ms) { return "RETRY " + std::to_string(ms); }
inline std::string sse_comment_line(const std::string &text) { return "COMMENT " + quote(text); }

// The reference's items in transcript form.
struct RefSse : SseReference {
  std::vector<std::string> events;
  RefSse(const std::string &stream, bool comments, const std::string &id = std::string(), bool had_retry = false,
         uint64_t prev_retry = 0)
      : SseReference(stream, comments, id, had_retry, prev_retry) {
    for (const Item &i : items) {
      if (i.kind == Item::kEvent) events.push_back(sse_event_line(i.type, i.data, i.id));
      if (i.kind == Item::kRetry) events.push_back(sse_retry_line(i.retry));
      if (i.kind == Item::kComment) events.push_back(sse_comment_line(i.data));
    }
  }
};

// A pushwire parser read into transcript lines; every call and event is checked.
class SseReader {
 public:
  CountingAlloc alloc;
  pushwire_sse_parser *p = nullptr;
  std::vector<std::string> events;
  int sticky = 0;
  size_t max_event = 1 << 20;
  size_t batch = 0;  // > 0: events are pulled with next_events, up to this many per call

  SseReader() { check_rc("sse_parser_new", pushwire_sse_parser_new(&p, alloc.get()), {0}); }
  ~SseReader() { pushwire_sse_parser_free(p); }
  SseReader(const SseReader &) = delete;

  // Feeds one chunk, pulling events as often as the parser asks; returns the feed result.
  int feed(const uint8_t *data, size_t len) {
    int prev = sticky;
    for (int attempt = 0;; ++attempt) {
      int rc = check_rc("sse_parser_feed", pushwire_sse_parser_feed(p, data, len), {CODES_SSE_PARSER_FEED});
      FUZZ_CHECK(rc != PW(NOMEM), "NOMEM without an allocation failure");
      if (prev) FUZZ_CHECK(rc == prev, "feed after the sticky %s returned %d", pushwire_error_name(prev), rc);
      if (rc == PW(BUFFER_FULL)) {
        FUZZ_CHECK(attempt == 0 && drain() > 0, "BUFFER_FULL with no event left to pull");
        continue;
      }
      // Events completed before the error may still come first.
      drain();
      if (rc < 0) FUZZ_CHECK(sticky == rc, "feed returned %s, next_event %s", pushwire_error_name(rc),
                             pushwire_error_name(sticky));
      return rc;
    }
  }

  void feed_eof() {
    check_rc("sse_parser_feed_eof", pushwire_sse_parser_feed_eof(p), {0});
    drain();
  }

  size_t drain() {
    if (batch) return drain_batches();
    size_t n = 0;
    for (;;) {
      pushwire_sse_event ev;
      std::memset(&ev, 0xa5, sizeof ev);
      int rc = pushwire_sse_parser_next_event(p, &ev);
      if (rc == 0) return n;
      if (rc < 0) {
        check_rc("sse_parser_next_event", rc, {PW(LINE_TOO_LONG), PW(EVENT_TOO_BIG)});
        stick(rc);
        return n;
      }
      FUZZ_CHECK(rc == 1, "sse_parser_next_event returned %d", rc);
      FUZZ_CHECK(!sticky, "an event after the sticky error");
      on_event(ev);
      ++n;
    }
  }

 private:
  // Every event of a batch is read only after the call: one whose spans a later event of the
  // same batch overwrote differs from the reference.
  size_t drain_batches() {
    size_t n = 0;
    for (;;) {
      pushwire_sse_event evs[64];
      std::memset(evs, 0xa5, sizeof evs);
      size_t cap = batch < 64 ? batch : 64, got = 12345;
      int rc = pushwire_sse_parser_next_events(p, evs, cap, &got);
      if (rc <= 0) FUZZ_CHECK(got == 0, "next_events returned %d with %zu events", rc, got);
      if (rc == 0) return n;
      if (rc < 0) {
        check_rc("sse_parser_next_events", rc, {PW(LINE_TOO_LONG), PW(EVENT_TOO_BIG)});
        stick(rc);
        return n;
      }
      FUZZ_CHECK(rc == 1 && got >= 1 && got <= cap, "next_events returned %d with %zu events", rc, got);
      FUZZ_CHECK(!sticky, "an event after the sticky error");
      for (size_t i = 0; i < got; ++i) on_event(evs[i]);
      n += got;
    }
  }

  void stick(int rc) {
    check_rc("sse sticky error", rc, {PW(LINE_TOO_LONG), PW(EVENT_TOO_BIG)});
    FUZZ_CHECK(!sticky || sticky == rc, "sticky error changed");
    sticky = rc;
    pushwire_sse_event ev;
    FUZZ_CHECK(pushwire_sse_parser_next_event(p, &ev) == rc, "next_event does not repeat the sticky error");
  }

  void on_event(const pushwire_sse_event &ev) {
    FUZZ_CHECK(ev.flags == 0 && ev.reserved == 0, "flags/reserved not zero");
    std::string type = span_str(ev.event_type, "event_type"), data = span_str(ev.data, "data"),
                id = span_str(ev.last_event_id, "last_event_id");
    switch (ev.type) {
      case PUSHWIRE_SSE_EV_EVENT:
        FUZZ_CHECK(ref_utf8_valid(type) && ref_utf8_valid(data) && ref_utf8_valid(id), "event text is not UTF-8");
        FUZZ_CHECK(id.find('\0') == std::string::npos, "last_event_id holds NUL");
        FUZZ_CHECK(data.size() + type.size() + id.size() <= max_event + 7, "event of %zu bytes, limit %zu",
                   data.size() + type.size() + id.size(), max_event);
        events.push_back(sse_event_line(type, data, id));
        break;
      case PUSHWIRE_SSE_EV_RETRY:
        events.push_back(sse_retry_line(ev.retry_ms));
        break;
      case PUSHWIRE_SSE_EV_COMMENT:
        FUZZ_CHECK(ref_utf8_valid(data), "comment is not UTF-8");
        events.push_back(sse_comment_line(data));
        break;
      default:
        fail("unknown SSE event type %u", ev.type);
    }
  }
};

}  // namespace fuzz
