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

// The reference: the whole stream at once, then end of stream.
struct RefSse {
  std::vector<std::string> events;
  std::string last_event_id;      // the "last event ID string", set at each dispatch
  std::string id_buffer;          // the "last event ID buffer", set by id fields
  bool retry_set = false;
  uint64_t retry = 0;
  size_t longest_line = 0;        // decoded bytes of the longest terminated line
  size_t longest_any = 0;         // the same, counting the unterminated tail too

  // `id` is what persists from an earlier connection (pushwire_sse_parser_reset keeps it).
  RefSse(const std::string &stream, bool comments, const std::string &id = std::string(), bool had_retry = false,
         uint64_t prev_retry = 0)
      : last_event_id(id), id_buffer(id), retry_set(had_retry), retry(prev_retry) {
    std::string text = stream.compare(0, 3, "\xef\xbb\xbf") == 0 ? stream.substr(3) : stream;
    text = ref_utf8_decode_replacing(text);
    std::string data, type;
    size_t pos = 0;
    for (;;) {
      size_t eol = text.find_first_of("\r\n", pos);
      size_t end = eol == std::string::npos ? text.size() : eol;
      if (end - pos > longest_any) longest_any = end - pos;
      if (eol == std::string::npos) break;  // an unterminated last line is never processed
      if (end - pos > longest_line) longest_line = end - pos;
      std::string line = text.substr(pos, eol - pos);
      pos = eol + 1;
      if (text[eol] == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
      if (line.empty()) {
        last_event_id = id_buffer;
        if (data.empty()) {
          type.clear();
          continue;
        }
        data.pop_back();  // the LF after the last data line
        events.push_back(sse_event_line(type.empty() ? "message" : type, data, last_event_id));
        data.clear();
        type.clear();
        continue;
      }
      if (line[0] == ':') {
        if (comments) events.push_back(sse_comment_line(line.substr(1)));
        continue;
      }
      size_t colon = line.find(':');
      std::string field = line.substr(0, colon), value;
      if (colon != std::string::npos) {
        value = line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      }
      if (field == "event") {
        type = value;
      } else if (field == "data") {
        data += value;
        data += '\n';
      } else if (field == "id") {
        if (value.find('\0') == std::string::npos) id_buffer = value;
      } else if (field == "retry") {
        // Only ASCII digits; an empty value is ignored, and so is one past 2^64 - 1 (the
        // spec leaves overflow open; pushwire.h documents this choice).
        bool ok = !value.empty();
        unsigned __int128 v = 0;
        for (char c : value) {
          ok = ok && c >= '0' && c <= '9';
          if (ok) v = v * 10 + unsigned(c - '0');
          ok = ok && v <= UINT64_MAX;
        }
        if (ok) {
          retry = uint64_t(v);
          retry_set = true;
          events.push_back(sse_retry_line(retry));
        }
      }
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
