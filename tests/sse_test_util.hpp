// Runs an event stream through the C ABI's SSE parser and renders what comes out in the
// transcript-vector notation (tests/vectors/README.md), so unit tests, the vector replay and
// the property tests compare the same strings.
#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "pushwire/pushwire.h"
#include "reference.hpp"
#include "vector_file.hpp"

namespace sse_test {

struct Options {
  std::vector<std::pair<pushwire_sse_parser_option, uint64_t>> set;
  size_t batch = 0;  // > 0: pull with next_events, up to this many events per call
  Options &batches(size_t n) {
    batch = n;
    return *this;
  }
  Options &add(pushwire_sse_parser_option o, uint64_t v) {
    set.emplace_back(o, v);
    return *this;
  }
};

// Option names as in vector files: the enum name without its prefix, lower case.
inline bool option_by_name(const std::string &name, pushwire_sse_parser_option *out) {
  static const struct {
    const char *name;
    pushwire_sse_parser_option value;
  } kNames[] = {{"max_line", PUSHWIRE_SSE_PARSER_OPT_MAX_LINE},
                {"max_event", PUSHWIRE_SSE_PARSER_OPT_MAX_EVENT},
                {"report_comments", PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS},
                {"max_input_buffer", PUSHWIRE_SSE_PARSER_OPT_MAX_INPUT_BUFFER}};
  for (const auto &n : kNames)
    if (name == n.name) {
      *out = n.value;
      return true;
    }
  return false;
}

inline std::string str(pushwire_span s) { return s.len ? std::string(reinterpret_cast<const char *>(s.ptr), s.len) : ""; }

// One event in transcript notation: `event type="t" data="d" id="i"`, `retry N`, `comment "c"`.
inline std::string render(const pushwire_sse_event &ev) {
  switch (ev.type) {
    case PUSHWIRE_SSE_EV_EVENT:
      return "event type=" + vectors::escape(str(ev.event_type)) + " data=" + vectors::escape(str(ev.data)) +
             " id=" + vectors::escape(str(ev.last_event_id));
    case PUSHWIRE_SSE_EV_RETRY:
      return "retry " + std::to_string(ev.retry_ms);
    case PUSHWIRE_SSE_EV_COMMENT:
      return "comment " + vectors::escape(str(ev.data));
    default:
      return "unknown " + std::to_string(ev.type);
  }
}

struct Result {
  std::vector<std::string> events;
  std::string error;          // error name after the events, "" if none
  std::string last_event_id;  // the parser's last event ID at the end
  uint64_t retry_ms = 0;      // the parser's retry delay at the end (0: none)
};

// Pulls every event with next_events, rendering a batch only once the call has returned (so
// an event whose text a later one of the same batch overwrote shows); false on an error.
inline bool drain_batches(pushwire_sse_parser *p, size_t cap, Result *r) {
  std::vector<pushwire_sse_event> evs(cap);
  for (;;) {
    size_t n = 12345;
    int rc = pushwire_sse_parser_next_events(p, evs.data(), cap, &n);
    if (rc == 1 && (n == 0 || n > cap)) {
      r->error = "BAD_COUNT";
      return false;
    }
    if (rc != 1 && n != 0) {
      r->error = "COUNT_WITHOUT_EVENTS";
      return false;
    }
    if (rc == 1) {
      for (size_t i = 0; i < n; ++i) r->events.push_back(render(evs[i]));
      continue;
    }
    if (rc < 0) r->error = pushwire_error_name(rc);
    return rc == 0;
  }
}

// Pulls every event; returns false (and records the error) on a negative code.
inline bool drain(pushwire_sse_parser *p, Result *r) {
  pushwire_sse_event ev;
  for (;;) {
    int rc = pushwire_sse_parser_next_event(p, &ev);
    if (rc == 1) {
      r->events.push_back(render(ev));
      continue;
    }
    if (rc < 0) r->error = pushwire_error_name(rc);
    return rc == 0;
  }
}

// Feeds the chunks (pulling events after each), then eof if asked.
inline Result run_chunks(const std::vector<std::string> &chunks, bool eof, const Options &opts = Options()) {
  Result r;
  pushwire_sse_parser *p = nullptr;
  if (pushwire_sse_parser_new(&p, nullptr) != 0) {
    r.error = "NEW_FAILED";
    return r;
  }
  for (const auto &o : opts.set)
    if (pushwire_sse_parser_set_option(p, o.first, o.second) != 0) r.error = "OPTION_FAILED";
  bool ok = r.error.empty();
  for (size_t i = 0; ok && i < chunks.size(); ++i) {
    const std::string &c = chunks[i];
    int rc = pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>(c.data()), c.size());
    if (rc < 0) {
      r.error = pushwire_error_name(rc);
      ok = false;
    } else {
      ok = opts.batch ? drain_batches(p, opts.batch, &r) : drain(p, &r);
    }
  }
  if (ok && eof) {
    pushwire_sse_parser_feed_eof(p);
    if (opts.batch)
      drain_batches(p, opts.batch, &r);
    else
      drain(p, &r);
  }
  r.last_event_id = str(pushwire_sse_parser_last_event_id(p));
  r.retry_ms = pushwire_sse_parser_retry_ms(p, 0);
  pushwire_sse_parser_free(p);
  return r;
}

inline Result run(const std::string &input, bool eof = true, const Options &opts = Options()) {
  return run_chunks(std::vector<std::string>{input}, eof, opts);
}

// `event type="message" data="..." id="..."` for expectations written in C++.
inline std::string ev(const std::string &data, const std::string &id = "", const std::string &type = "message") {
  return "event type=" + vectors::escape(type) + " data=" + vectors::escape(data) + " id=" + vectors::escape(id);
}

}  // namespace sse_test

// ---------------------------------------------------------------------------
// The encoder side: a reference encoder written from the format (sse_writer.hpp), and the
// every-cap walk of a batch call, shared by the core's and the C ABI's tests.

namespace sse_test {

// The bytes pushwire_sse_encode must give for f, or "<refused>" when it must refuse it.
inline std::string reference_encode(const pushwire_sse_fields &f) {
  const char *ptrs[4] = {f.comment, f.event, f.id, f.data};
  const size_t lens[4] = {f.comment_len, f.event_len, f.id_len, f.data_len};
  std::string v[4];
  for (int i = 0; i < 4; ++i) {
    if (!ptrs[i] && lens[i]) return "<refused>";
    if (ptrs[i]) v[i].assign(ptrs[i], lens[i]);
  }
  const bool message = f.event || f.id || f.data || f.retry_ms >= 0;
  if (f.reserved[0] || f.reserved[1] || (!message && !f.comment)) return "<refused>";
  if (v[1].find_first_of("\r\n") != std::string::npos) return "<refused>";
  if (v[2].find_first_of(std::string("\r\n\0", 3)) != std::string::npos) return "<refused>";
  auto field = [](const std::string &name, const std::string &value) {
    return name + (value.empty() ? ":" : ": " + value) + "\n";
  };
  std::string out;
  if (f.comment)
    for (const std::string &l : ref_split_lines(v[0])) out += field("", l);
  if (f.event) out += field("event", v[1]);
  if (f.id) out += field("id", v[2]);
  if (f.retry_ms >= 0) out += "retry: " + std::to_string(f.retry_ms) + "\n";
  if (f.data)
    for (const std::string &l : ref_split_lines(v[3])) out += field("data", l);
  if (message) out += "\n";
  return out;
}

// A batch call many(events, count, out, cap, &written, &encoded) at every cap from 0 to the
// whole stream + extra: it writes the events that fit (want: the stream, ends[i]: the end
// of event i in it), stops with PUSHWIRE_ERR_BUFFER_TOO_SMALL at the first that does not,
// and stores nothing past cap. Stops at the first cap that fails.
template <class Many>
inline void check_every_cap(const std::vector<pushwire_sse_fields> &ev, const std::string &want,
                            const std::vector<size_t> &ends, size_t extra, Many many) {
  for (size_t cap = 0; cap <= want.size() + extra; ++cap) {
    std::vector<uint8_t> out(cap + 1, 0x55);
    size_t written = 99, encoded = 99;
    const int rc = many(ev.data(), ev.size(), cap ? out.data() : nullptr, cap, &written, &encoded);
    size_t fit = 0;
    while (fit < ends.size() && ends[fit] <= cap) ++fit;
    const bool ok = encoded == fit && written == (fit ? ends[fit - 1] : 0) &&
                    rc == (fit == ev.size() ? 0 : PUSHWIRE_ERR_BUFFER_TOO_SMALL) &&
                    (written == 0 || std::memcmp(out.data(), want.data(), written) == 0) && out[cap] == 0x55;
    CHECK(ok);
    if (!ok) {
      harness::fail(__FILE__, __LINE__, "at cap " + std::to_string(cap));
      return;
    }
  }
}

}  // namespace sse_test
