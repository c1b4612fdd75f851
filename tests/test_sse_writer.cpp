// The event-stream writer: exact bytes of every field, refusals, the output queue, the
// response head, heartbeats, and a round-trip property test through the parser.
#include <sys/mman.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "harness.hpp"
#include "sse_test_util.hpp"
#include "sse_writer.hpp"

using namespace pushwire;

namespace {

span s(const char *lit) { return make_span(lit, std::strlen(lit)); }
span s(const std::string &str) { return make_span(str.data(), str.size()); }

// Encodes into a buffer of the exact size and, as the one-pass path does, into one of the
// bound's size (ASan sees a store past it); both must give the same bytes.
std::string encode(const SseFields &f) {
  if (sse_check_fields(f) != 0) return "<refused>";
  const size_t exact = sse_encoded_size(f), bound = sse_encoded_bound(f);
  CHECK(bound >= exact);
  std::string out(exact, '\0');
  CHECK_EQ(sse_encode(f, reinterpret_cast<uint8_t *>(&out[0])), exact);
  std::string roomy(bound, '\x55');
  CHECK_EQ(sse_encode(f, reinterpret_cast<uint8_t *>(&roomy[0]), true), exact);
  CHECK(roomy.compare(0, exact, out) == 0);
  return out;
}

SseFields data(const char *d) {
  SseFields f;
  f.data = s(d);
  return f;
}

std::string drain(SseWriter &w) {
  span o = w.output();
  std::string out(reinterpret_cast<const char *>(o.ptr), o.len);
  w.consume(o.len);
  return out;
}

}  // namespace

TEST(sse_encode_data_lines) {
  CHECK(encode(data("hello")) == "data: hello\n\n");
  CHECK(encode(data("")) == "data:\n\n");
  CHECK(encode(data("a\nb")) == "data: a\ndata: b\n\n");
  CHECK(encode(data("a\r\nb\rc\nd")) == "data: a\ndata: b\ndata: c\ndata: d\n\n");
  CHECK(encode(data("a\n")) == "data: a\ndata:\n\n");
  CHECK(encode(data("\n")) == "data:\ndata:\n\n");
  CHECK(encode(data("\r\n\r\n")) == "data:\ndata:\ndata:\n\n");
  CHECK(encode(data("\n\r")) == "data:\ndata:\ndata:\n\n");  // LF then CR: two breaks
  CHECK(encode(data(" x")) == "data:  x\n\n");               // the leading space survives the strip
  CHECK(encode(data("a:b")) == "data: a:b\n\n");
  CHECK(encode(data(": not a comment")) == "data: : not a comment\n\n");
  std::string nul("a\0b", 3);
  SseFields f;
  f.data = s(nul);
  CHECK(encode(f) == std::string("data: a\0b\n\n", 11));
}

TEST(sse_encode_fields_and_order) {
  SseFields f;
  f.event = s("update");
  f.id = s("1");
  f.data = s("{\"a\":1}\nx");
  CHECK(encode(f) == "event: update\nid: 1\ndata: {\"a\":1}\ndata: x\n\n");  // W8's layout
  f.retry = 2500;
  f.comment = s("c1\r\nc2");
  CHECK(encode(f) == ": c1\n: c2\nevent: update\nid: 1\nretry: 2500\ndata: {\"a\":1}\ndata: x\n\n");
  SseFields g;
  g.event = s("");
  CHECK(encode(g) == "event:\n\n");
  g = SseFields();
  g.id = s("");
  CHECK(encode(g) == "id:\n\n");
  g.id = s(" sp");
  CHECK(encode(g) == "id:  sp\n\n");
  g = SseFields();
  g.retry = 0;
  CHECK(encode(g) == "retry: 0\n\n");
  g.retry = INT64_MAX;
  CHECK(encode(g) == "retry: 9223372036854775807\n\n");
  g.retry = 1234567890;
  g.data = s("");
  CHECK(encode(g) == "retry: 1234567890\ndata:\n\n");
}

TEST(sse_encode_comments) {
  SseFields f;
  f.comment = s("ping");
  CHECK(encode(f) == ": ping\n");  // comment only: no blank line, nothing dispatched
  f.comment = s("");
  CHECK(encode(f) == ":\n");
  f.comment = s("a\nb\r\rc");
  CHECK(encode(f) == ": a\n: b\n:\n: c\n");
  f.comment = s(" lead");
  CHECK(encode(f) == ":  lead\n");
}

TEST(sse_encode_refusals) {
  SseFields f;
  CHECK_EQ(sse_check_fields(f), ERR_INVALID_ARGUMENT);  // nothing to write
  const char *bad_event[] = {"a\rb", "a\nb", "\r", "x\r\n"};
  for (const char *e : bad_event) {
    f = SseFields();
    f.event = s(e);
    CHECK_EQ(sse_check_fields(f), ERR_INVALID_ARGUMENT);
    f.event = span{nullptr, 0};
    f.id = s(e);
    CHECK_EQ(sse_check_fields(f), ERR_INVALID_ARGUMENT);
  }
  f = SseFields();
  f.id = make_span("1\0", 2);
  CHECK_EQ(sse_check_fields(f), ERR_INVALID_ARGUMENT);
  f = SseFields();
  f.event = make_span("a\0", 2);  // a NUL in the type is harmless: the browser keeps it
  CHECK_EQ(sse_check_fields(f), 0);
  f = SseFields();
  f.data = span{nullptr, 3};
  CHECK_EQ(sse_check_fields(f), ERR_INVALID_ARGUMENT);
  f = SseFields();
  f.comment = span{nullptr, 1};
  CHECK_EQ(sse_check_fields(f), ERR_INVALID_ARGUMENT);
  f = SseFields();
  f.retry = -5;  // negative: no retry field, so nothing at all
  CHECK_EQ(sse_check_fields(f), ERR_INVALID_ARGUMENT);
  // A size that could not exist is reported as SIZE_MAX, never wrapped.
  f = SseFields();
  f.data = span{reinterpret_cast<const uint8_t *>("x"), SIZE_MAX / 4};
  CHECK(sse_encoded_size(f) == SIZE_MAX);
  CHECK(sse_encoded_bound(f) == SIZE_MAX);
}

// The one-pass path finds line ends 128 bytes at a time and moves lines of up to 64 bytes
// in four 16-byte pieces: every length up to 140 (both halves of a block and past it, lines
// on both sides of 64)
// with a line break (each spelling) at every position gives the bytes of the line-by-line
// path (encode() compares them).
TEST(sse_encode_wide_data_every_break_position) {
  const char *spellings[] = {"\n", "\r", "\r\n"};
  for (size_t len = 0; len <= 140; ++len) {
    std::string plain;
    for (size_t i = 0; i < len; ++i) plain += char('a' + i % 26);
    CHECK(encode(data(plain.c_str())) == (len ? "data: " + plain : std::string("data:")) + "\n\n");
    for (size_t at = 0; at <= len; ++at) {
      for (const char *br : spellings) {
        std::string d = plain.substr(0, at) + br + plain.substr(at);
        SseFields f;
        f.data = s(d);
        std::string want = "data:" + std::string(at ? " " : "") + plain.substr(0, at) + "\ndata:" +
                           std::string(at < len ? " " : "") + plain.substr(at) + "\n\n";
        CHECK(encode(f) == want);
      }
    }
  }
}

namespace {

// Strings that end at the last byte of a readable page, followed by an unreadable one: the
// one-pass path's wide loads past a string's end must stop at its page (a fault otherwise).
struct PageEnd {
  PageEnd() {
    page = size_t(sysconf(_SC_PAGESIZE));
    void *m = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    base = static_cast<uint8_t *>(m);
    CHECK_EQ(mprotect(base + page, page, PROT_NONE), 0);
  }
  ~PageEnd() { munmap(base, 2 * page); }
  span place(const std::string &str) {
    uint8_t *at = base + page - str.size();
    std::memcpy(at, str.data(), str.size());
    return span{at, str.size()};
  }
  uint8_t *base;
  size_t page;
};

}  // namespace

TEST(sse_encode_strings_at_a_page_end) {
  PageEnd guard;
  for (size_t len = 0; len <= 80; ++len) {
    std::string plain;
    for (size_t i = 0; i < len; ++i) plain += char('a' + i % 26);
    const std::string field_want = len ? ": " + plain + "\n" : ":\n";
    SseFields f;
    f.event = guard.place(plain);
    CHECK(encode(f) == "event" + field_want + "\n");
    f = SseFields();
    f.id = guard.place(plain);
    CHECK(encode(f) == "id" + field_want + "\n");
    f = SseFields();
    f.data = guard.place(plain);
    CHECK(encode(f) == "data" + field_want + "\n");
    for (size_t at = 0; at <= len; ++at) {
      std::string d = plain.substr(0, at) + "\n" + plain.substr(at);
      f.data = guard.place(d);
      CHECK(encode(f) == "data" + std::string(at ? ": " : ":") + plain.substr(0, at) + "\ndata" +
                             std::string(at < len ? ": " : ":") + plain.substr(at) + "\n\n");
    }
    if (len == 0) continue;
    // The checks of event and id read the same way; a refused byte as the last one counts.
    for (char bad : {'\r', '\n', '\0'}) {
      std::string str = plain;
      str[len - 1] = bad;
      f = SseFields();
      f.id = guard.place(str);
      CHECK_EQ(sse_check_fields(f), ERR_INVALID_ARGUMENT);
      f = SseFields();
      f.event = guard.place(str);
      CHECK_EQ(sse_check_fields(f), bad == '\0' ? 0 : ERR_INVALID_ARGUMENT);
    }
  }
}

// The bound is reached by its worst cases: every data byte a lone line break (each one
// starts another "data:" line), comments likewise, and the longest retry.
TEST(sse_encoded_bound_worst_cases) {
  const char *breaks[] = {"", "\n", "\r", "\r\n", "\n\n\n\n", "\r\r\r", "a\nb\rc\r\nd", "\n\r"};
  for (const char *d : breaks) {
    for (const char *c : breaks) {
      SseFields f;
      f.data = s(d);
      f.comment = s(c);
      f.event = s("update");
      f.id = s("12345");
      f.retry = INT64_MAX;
      std::string out = encode(f);
      CHECK(sse_encoded_bound(f) >= out.size());
      CHECK(sse_encoded_bound(f) - out.size() <= 8 * (std::strlen(d) + std::strlen(c)) + 112);
    }
  }
  SseFields f;
  f.data = s("\n\n\n\n");
  f.comment = s("\r\r");
  f.event = s("e");
  f.id = s("i");
  f.retry = INT64_MAX;
  CHECK_EQ(encode(f).size(), 3 * 2 + 8 + 1 + 5 + 1 + 27 + 5 * 6 + 1);
}

TEST(sse_writer_queue_and_limits) {
  Allocator a;
  SseWriter w(&a);
  CHECK_EQ(w.event(data("one")), 0);
  CHECK_EQ(w.comment(s("hb")), 0);
  CHECK_EQ(w.output_size(), 16);
  span o = w.output();
  CHECK_STR(o.ptr, o.len, "data: one\n\n: hb\n");
  CHECK_EQ(w.consume(4), 0);
  o = w.output();
  CHECK_STR(o.ptr, o.len, ": one\n\n: hb\n");
  CHECK_EQ(w.consume(100), ERR_INVALID_ARGUMENT);
  CHECK_EQ(w.consume(12), 0);
  CHECK_EQ(w.output_size(), 0);
  // The bound is on queued bytes; an event that would pass it is refused whole.
  w.set_max_output(20);
  CHECK_EQ(w.event(data("0123456789")), 0);  // 18 bytes
  CHECK_EQ(w.event(data("")), ERR_BUFFER_FULL);
  CHECK_EQ(w.output_size(), 18);
  CHECK_EQ(w.comment(s("")), 0);  // ":\n" fits exactly
  CHECK_EQ(w.output_size(), 20);
  CHECK_EQ(w.comment(s("")), ERR_BUFFER_FULL);
  CHECK_EQ(w.event(SseFields()), ERR_INVALID_ARGUMENT);
  CHECK(drain(w) == "data: 0123456789\n\n:\n");
  CHECK_EQ(w.comment(span{nullptr, 2}), ERR_INVALID_ARGUMENT);
  CHECK_EQ(w.comment(span{nullptr, 0}), 0);
  CHECK(drain(w) == ":\n");
}

TEST(sse_writer_response_head) {
  Allocator a;
  SseWriter w(&a);
  CHECK_EQ(w.add_header(s("Access-Control-Allow-Origin"), s("*")), 0);
  CHECK_EQ(w.add_header(s("content-type"), s("text/plain")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(w.add_header(s("Cache-Control"), s("no-store")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(w.add_header(s("X-ACCEL-BUFFERING"), s("yes")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(w.add_header(s("Content-Length"), s("0")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(w.add_header(s("Bad Name"), s("x")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(w.add_header(s("X-Ok"), s("a\r\nInjected: 1")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(w.response_head(), 0);
  CHECK(drain(w) ==
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-cache\r\n"
        "X-Accel-Buffering: no\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        "\r\n");
  CHECK_EQ(w.response_head(), ERR_INVALID_STATE);
  CHECK_EQ(w.add_header(s("X-Late"), s("1")), ERR_INVALID_STATE);

  SseWriter w2(&a);
  CHECK_EQ(w2.response_head(), 0);
  CHECK(drain(w2) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
        "X-Accel-Buffering: no\r\n\r\n");
  // The head must come first.
  SseWriter w3(&a);
  CHECK_EQ(w3.event(data("x")), 0);
  CHECK_EQ(w3.response_head(), ERR_INVALID_STATE);
  SseWriter w4(&a);
  w4.set_max_output(10);
  CHECK_EQ(w4.response_head(), ERR_BUFFER_FULL);
  CHECK_EQ(w4.output_size(), 0);
}

TEST(sse_writer_heartbeat_tick) {
  Allocator a;
  SseWriter w(&a);
  uint64_t next = 0;
  CHECK_EQ(w.tick(5, &next), 0);  // off by default
  CHECK(next == UINT64_MAX);
  w.set_heartbeat_ms(1000);
  CHECK_EQ(w.tick(10000, &next), 0);  // the first tick starts the clock
  CHECK_EQ(next, 11000);
  CHECK_EQ(w.tick(10999, &next), 0);
  CHECK_EQ(next, 11000);
  CHECK_EQ(w.tick(11000, &next), 1);
  CHECK(drain(w) == ": heartbeat\n");
  CHECK_EQ(next, 12000);
  // Output counts as activity at the next tick.
  CHECK_EQ(w.event(data("x")), 0);
  CHECK_EQ(w.tick(11500, &next), 0);
  CHECK_EQ(next, 12500);
  CHECK_EQ(w.tick(12499, nullptr), 0);
  CHECK_EQ(w.tick(13000, &next), 1);
  CHECK_EQ(next, 14000);
  // A late tick sends one heartbeat, not one per missed interval.
  CHECK_EQ(w.tick(20000, &next), 1);
  CHECK_EQ(next, 21000);
  // A clock that goes back restarts the interval rather than firing.
  CHECK_EQ(w.tick(500, &next), 0);
  CHECK_EQ(next, 1500);
  // A full queue: the heartbeat is refused and tried again on the next tick.
  drain(w);
  w.set_max_output(20);
  CHECK_EQ(w.event(data("0123456789")), 0);
  CHECK_EQ(w.tick(900, nullptr), 0);  // activity
  CHECK_EQ(w.tick(1900, &next), ERR_BUFFER_FULL);
  drain(w);
  CHECK_EQ(w.tick(1901, &next), 1);
  w.set_heartbeat_ms(UINT64_MAX);
  CHECK_EQ(w.tick(2000, &next), 0);
  CHECK(next == UINT64_MAX);
}

// ---------------------------------------------------------------------------
// Round trip: whatever is encoded, the parser (and so a browser) gives back exactly:
//   data   -> the same string with CR LF and lone CR turned into LF; dispatched iff present
//   event  -> the type, "message" when absent or empty
//   id     -> the last event ID from this event on (an empty id clears it)
//   retry  -> a RETRY event before the event
//   comment-> with REPORT_COMMENTS, one COMMENT per line: " " + line, or "" for an empty line
// NUL, non-ASCII text, leading spaces, colons and a U+FEFF at the start all survive.

namespace {

std::string random_text(std::mt19937 &rng, bool breaks, bool nul) {
  static const char *const kPieces[] = {"a", "Z", " ", "  ", ":", ": ", "data: x", "id", "\xC3\xA9",
                                        "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xEF\xBB\xBF", "\t", "0"};
  static const char *const kBreaks[] = {"\r", "\n", "\r\n", "\n\r", "\r\r"};
  std::string out;
  size_t n = rng() % 8;
  for (size_t i = 0; i < n; ++i) {
    unsigned pick = rng() % 20;
    if (breaks && pick < 4) {
      out += kBreaks[rng() % 5];
    } else if (nul && pick == 4) {
      out += '\0';
    } else {
      out += kPieces[rng() % (sizeof kPieces / sizeof kPieces[0])];
    }
  }
  return out;
}

std::string to_lf(const std::string &in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out += '\n';
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      out += in[i];
    }
  }
  return out;
}

}  // namespace

TEST(sse_roundtrip_property) {
  std::mt19937 rng(6455);
  for (int iter = 0; iter < 300; ++iter) {
    std::string stream;
    std::vector<std::string> want;
    std::string last_id;
    uint64_t last_retry = 0;
    size_t events = 1 + rng() % 12;
    std::vector<std::string> keep;  // backing store for the spans of this stream
    keep.reserve(events * 4);
    for (size_t i = 0; i < events; ++i) {
      SseFields f;
      bool has_data = rng() % 4 != 0, has_event = rng() % 2, has_id = rng() % 3 == 0;
      bool has_retry = rng() % 5 == 0, has_comment = rng() % 4 == 0;
      if (!(has_data || has_event || has_id || has_retry || has_comment)) has_data = true;
      std::string d = random_text(rng, true, true), e = random_text(rng, false, true),
                  id = random_text(rng, false, false), c = random_text(rng, true, true);
      keep.push_back(d), keep.push_back(e), keep.push_back(id), keep.push_back(c);
      if (has_data) f.data = make_span(keep[keep.size() - 4].data(), d.size());
      if (has_event) f.event = make_span(keep[keep.size() - 3].data(), e.size());
      if (has_id) f.id = make_span(keep[keep.size() - 2].data(), id.size());
      if (has_comment) f.comment = make_span(keep[keep.size() - 1].data(), c.size());
      if (has_retry) f.retry = int64_t(rng() % 100000);
      std::string bytes = encode(f);
      CHECK(bytes != "<refused>");
      stream += bytes;
      if (has_comment) {
        std::string lf = to_lf(c) + "\n";
        for (size_t pos = 0, nl; (nl = lf.find('\n', pos)) != std::string::npos; pos = nl + 1) {
          std::string line = lf.substr(pos, nl - pos);
          want.push_back("comment " + vectors::escape(line.empty() ? "" : " " + line));
        }
      }
      if (has_retry) {
        last_retry = uint64_t(f.retry);
        want.push_back("retry " + std::to_string(last_retry));
      }
      if (has_id) last_id = id;
      if (has_data) want.push_back(sse_test::ev(to_lf(d), last_id, has_event && !e.empty() ? e : "message"));
    }
    sse_test::Options o;
    o.add(PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 1);
    std::vector<std::string> chunks;
    for (size_t pos = 0; pos < stream.size();) {
      size_t len = 1 + rng() % 9;
      chunks.push_back(stream.substr(pos, len));
      pos += len;
    }
    sse_test::Result got = sse_test::run_chunks(chunks, true, o);
    if (got.events != want || got.last_event_id != last_id || got.retry_ms != last_retry || !got.error.empty()) {
      std::string g, x;
      for (const auto &ev : got.events) g += "\n      " + ev;
      for (const auto &ev : want) x += "\n      " + ev;
      harness::fail(__FILE__, __LINE__, "stream " + vectors::escape(stream) + "\n    got:" + g + "\n    want:" + x);
      break;
    }
  }
}

// ---------------------------------------------------------------------------
// Reading the request: Accept (RFC 9110 §12.5.1) and Last-Event-ID.

namespace {

// Parses "GET / HTTP/1.1\r\nHost: h\r\n" + headers + "\r\n" and runs sse_check_request.
int check_request(const std::string &headers, std::string *last_id = nullptr, bool *had_id = nullptr) {
  Allocator a;
  HttpHead head(&a, HttpHead::Kind::Request);
  std::string req = "GET /events HTTP/1.1\r\nHost: h\r\n" + headers + "\r\n";
  size_t used = 0;
  if (head.feed(reinterpret_cast<const uint8_t *>(req.data()), req.size(), &used) != 1) return -999;
  span id{reinterpret_cast<const uint8_t *>("junk"), 4};
  int rc = sse_check_request(head, &id);
  if (last_id) *last_id = id.len ? std::string(reinterpret_cast<const char *>(id.ptr), id.len) : "";
  if (had_id) *had_id = id.ptr != nullptr;
  return rc;
}

}  // namespace

TEST(sse_request_accept) {
  CHECK_EQ(check_request("Accept: text/event-stream\r\n"), 1);  // what EventSource sends
  CHECK_EQ(check_request("Accept: TEXT/Event-Stream\r\n"), 1);
  CHECK_EQ(check_request("Accept: */*\r\n"), 1);  // curl's default
  CHECK_EQ(check_request("Accept: text/*\r\n"), 1);
  CHECK_EQ(check_request(""), 1);  // no Accept: any type (RFC 9110)
  CHECK_EQ(check_request("Accept: application/json\r\n"), 0);
  CHECK_EQ(check_request("Accept: text/html\r\n"), 0);
  CHECK_EQ(check_request("Accept:\r\n"), 0);  // an empty list admits nothing
  CHECK_EQ(check_request("Accept: text/html, application/xhtml+xml;q=0.9, */*;q=0.8\r\n"), 1);
  CHECK_EQ(check_request("Accept: text/event-stream;q=0\r\n"), 0);
  CHECK_EQ(check_request("Accept: text/event-stream; q=0.000\r\n"), 0);
  CHECK_EQ(check_request("Accept: text/event-stream;Q=0.001\r\n"), 1);
  CHECK_EQ(check_request("Accept: text/event-stream ; charset=utf-8 ; q=0.5\r\n"), 1);
  // The most specific range decides, wherever it stands and in any field.
  CHECK_EQ(check_request("Accept: */*, text/event-stream;q=0\r\n"), 0);
  CHECK_EQ(check_request("Accept: text/*;q=0, */*\r\n"), 0);
  CHECK_EQ(check_request("Accept: */*;q=0, text/event-stream\r\n"), 1);
  CHECK_EQ(check_request("Accept: text/html\r\nAccept: text/event-stream\r\n"), 1);
  CHECK_EQ(check_request("Accept: */*\r\nAccept: text/event-stream;q=0\r\n"), 0);
  // A malformed weight drops its element.
  CHECK_EQ(check_request("Accept: text/event-stream;q=2\r\n"), 0);
  CHECK_EQ(check_request("Accept: text/event-stream;q=abc, */*;q=0.1\r\n"), 1);
  CHECK_EQ(check_request("Accept: text/event-streamx, text/event\r\n"), 0);
}

TEST(sse_request_last_event_id) {
  std::string id;
  bool had = true;
  CHECK_EQ(check_request("Accept: text/event-stream\r\nLast-Event-ID:  42 \r\n", &id, &had), 1);
  CHECK(id == "42");
  CHECK(had);
  CHECK_EQ(check_request("last-event-id: a\r\nLast-Event-ID: b\r\n", &id, &had), 1);
  CHECK(id == "a");
  CHECK_EQ(check_request("Accept: text/event-stream\r\n", &id, &had), 1);
  CHECK(id.empty());
  CHECK(!had);  // absent: {NULL, 0}
  CHECK_EQ(check_request("Last-Event-ID: caf\xC3\xA9\r\n", &id, &had), 1);
  CHECK(id == "caf\xC3\xA9");
  // An incomplete head is refused.
  Allocator a;
  HttpHead head(&a, HttpHead::Kind::Request);
  size_t used = 0;
  head.feed(reinterpret_cast<const uint8_t *>("GET / HTTP/1.1\r\n"), 16, &used);
  CHECK_EQ(sse_check_request(head, nullptr), ERR_INVALID_STATE);
}

namespace {

// The byte classes the one-pass path tells apart: plain, the two line ends, NUL (refused in
// an id only), the space and colon of the syntax, and bytes at and above 0x80.
const char kByteClasses[] = {'a', '\n', '\r', '\0', ' ', ':', '\x80', '\xff'};

// The reference: the line-by-line path into a buffer of the exact size, or "<refused>".
std::string encode_exact(const SseFields &f) {
  if (sse_check_fields(f) != 0) return "<refused>";
  std::string out(sse_encoded_size(f), '\0');
  CHECK_EQ(sse_encode(f, reinterpret_cast<uint8_t *>(&out[0])), out.size());
  return out;
}

// sse_encode_into with room to spare (the one pass, its check fused into the moves), which
// must give the reference's bytes, or refuse what it refuses and store nothing then.
std::string encode_into_roomy(const SseFields &f) {
  const size_t bound = sse_encoded_bound(f);
  std::string out(bound + 16, '\x55');
  size_t written = 12345;
  const int rc = sse_encode_into(f, reinterpret_cast<uint8_t *>(&out[0]), bound, &written);
  pushwire_sse_fields c{};
  c.event = reinterpret_cast<const char *>(f.event.ptr), c.event_len = f.event.len;
  c.data = reinterpret_cast<const char *>(f.data.ptr), c.data_len = f.data.len;
  c.id = reinterpret_cast<const char *>(f.id.ptr), c.id_len = f.id.len;
  c.comment = reinterpret_cast<const char *>(f.comment.ptr), c.comment_len = f.comment.len;
  c.retry_ms = f.retry;
  if (rc != 0) {
    CHECK_EQ(rc, ERR_INVALID_ARGUMENT);
    CHECK_EQ(written, 12345);
    CHECK(out == std::string(bound + 16, '\x55'));
    for (bool avx2_ok : {true, false}) {
      size_t many_written = 9, encoded = 9;
      CHECK_EQ(sse_encode_many(&c, 1, reinterpret_cast<uint8_t *>(&out[0]), bound, &many_written, &encoded, avx2_ok),
               ERR_INVALID_ARGUMENT);
      CHECK(many_written == 0 && encoded == 0);
      CHECK(out == std::string(bound + 16, '\x55'));
    }
    return "<refused>";
  }
  CHECK(written <= bound);
  // The batch loop (AVX2 where the CPU has it, and SSE2) as a batch of one: the same bytes.
  for (bool avx2_ok : {true, false}) {
    std::string many(bound + 16, '\x55');
    size_t many_written = 0, encoded = 0;
    CHECK_EQ(sse_encode_many(&c, 1, reinterpret_cast<uint8_t *>(&many[0]), bound, &many_written, &encoded, avx2_ok), 0);
    CHECK_EQ(encoded, 1);
    CHECK(many.substr(0, many_written) == out.substr(0, written));
  }
  return out.substr(0, written);
}

// sse_encode_many with the AVX2 loop allowed or not, in the shape of pushwire_sse_encode_many.
auto many_with(bool avx2_ok) {
  return [avx2_ok](const pushwire_sse_fields *ev, size_t count, uint8_t *out, size_t cap, size_t *written,
                   size_t *encoded) { return sse_encode_many(ev, count, out, cap, written, encoded, avx2_ok); };
}

std::string letters(size_t n, size_t from = 0) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += char('a' + (from + i) % 26);
  return s;
}

}  // namespace

// Every byte class at every position of every text field, lengths around the 16-byte
// move of event and id, the 64-byte line moves and the 128-byte line-end blocks: the
// one-pass path (through sse_encode_into, which checks as it moves) against the
// line-by-line one, refusals included.
TEST(sse_encode_into_every_byte_class_at_every_position) {
  const size_t lens[] = {0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 150, 191, 192, 193, 200};
  size_t compared = 0, refused = 0;
  for (int field = 0; field < 4; ++field) {
    for (size_t len : lens) {
      for (size_t at = 0; at < len; ++at) {
        for (char c : kByteClasses) {
          std::string v = letters(len);
          v[at] = c;
          SseFields f;
          f.event = s("update");
          f.id = s("42");
          f.data = s("x\ny");
          span *which[] = {&f.event, &f.id, &f.data, &f.comment};
          *which[field] = s(v);
          const std::string want = encode_exact(f);
          CHECK(encode_into_roomy(f) == want);
          ++compared;
          refused += want == "<refused>";
        }
      }
    }
  }
  CHECK(compared > 10000);
  CHECK(refused > 0);
}

// Data of every length up to 200 with two line ends (every spelling, including a CR LF
// split across the 128-byte block edge) at every pair of positions a few apart, and runs
// of line ends: the one-pass path against the line-by-line one.
TEST(sse_encode_into_data_line_ends_every_position) {
  const char *spellings[] = {"\n", "\r", "\r\n", "\n\r", "\r\r", "\n\n"};
  for (size_t len = 0; len <= 200; ++len) {
    const std::string plain = letters(len);
    for (size_t at = 0; at <= len; ++at) {
      for (const char *br : spellings) {
        for (size_t gap : {size_t(0), size_t(1), size_t(17), size_t(64)}) {
          std::string d = plain.substr(0, at) + br + plain.substr(at);
          const size_t second = at + std::strlen(br) + gap;
          if (second <= d.size()) d.insert(second, "\r\n");
          SseFields f;
          f.event = s("e");
          f.data = s(d);
          CHECK(encode_into_roomy(f) == encode_exact(f));
        }
      }
    }
  }
  for (size_t n = 0; n <= 140; ++n) {
    for (const char *br : spellings) {
      std::string d;
      for (size_t i = 0; i < n; ++i) d += br;
      SseFields f;
      f.data = s(d);
      CHECK(encode_into_roomy(f) == encode_exact(f));
    }
  }
}

// Fields that end at a page end, through sse_encode_into: the fused check reads event and
// id where they lie (a refused last byte is seen, nothing is stored), and data of every
// length up to 200 with a line end anywhere takes the block scan without a fault.
TEST(sse_encode_into_fields_at_a_page_end) {
  PageEnd guard;
  for (size_t len = 0; len <= 200; ++len) {
    const std::string plain = letters(len);
    SseFields f;
    f.event = guard.place(plain);
    CHECK(encode_into_roomy(f) == "event" + std::string(len ? ": " : ":") + plain + "\n\n");
    f = SseFields();
    f.id = guard.place(plain);
    CHECK(encode_into_roomy(f) == "id" + std::string(len ? ": " : ":") + plain + "\n\n");
    for (size_t at = 0; at <= len; at += (len > 80 ? 7 : 1)) {
      for (const char *br : {"\n", "\r", "\r\n"}) {
        f = SseFields();
        f.event = s("update");
        f.data = guard.place(plain.substr(0, at) + br + plain.substr(at));
        CHECK(encode_into_roomy(f) == encode_exact(f));
      }
    }
    if (len == 0 || len > 40) continue;
    for (char bad : kByteClasses) {
      std::string str = plain;
      str[len - 1] = bad;
      f = SseFields();
      f.data = s("d");
      f.id = guard.place(str);
      CHECK(encode_into_roomy(f) == encode_exact(f));
      f = SseFields();
      f.data = s("d");
      f.event = guard.place(str);
      CHECK(encode_into_roomy(f) == encode_exact(f));
    }
  }
}

// Every refusal of sse_encode_into, on the one-pass path (room to spare) and the exact one
// (a tight buffer): INVALID_ARGUMENT wins over BUFFER_TOO_SMALL, nothing is stored and
// *written is left alone; a buffer one byte short gives BUFFER_TOO_SMALL and the size.
TEST(sse_encode_into_refusals_and_sizes) {
  std::vector<SseFields> bad(6);
  bad[1].event = s("a\nb");
  bad[2].id = make_span("1\0", 2);
  bad[3].data = span{nullptr, 2};
  bad[4].comment = span{nullptr, 1};
  bad[5].retry = -7;
  bad[1].data = bad[2].data = s("d");
  for (const SseFields &f : bad) {
    for (size_t cap : {size_t(0), size_t(3), size_t(4096)}) {
      std::string out(4096, '\x55');
      size_t written = 777;
      CHECK_EQ(sse_encode_into(f, cap ? reinterpret_cast<uint8_t *>(&out[0]) : nullptr, cap, &written),
               ERR_INVALID_ARGUMENT);
      CHECK_EQ(written, 777);
      CHECK(out == std::string(4096, '\x55'));
    }
  }
  SseFields f;
  f.event = s("update");
  f.id = s("7");
  f.data = s("a\r\nb\rc");
  const std::string want = encode_exact(f);
  for (size_t cap = 0; cap <= sse_encoded_bound(f) + 1; ++cap) {
    std::string out(cap + 1, '\x55');
    size_t written = 0;
    const int rc = sse_encode_into(f, reinterpret_cast<uint8_t *>(&out[0]), cap, &written);
    CHECK_EQ(written, want.size());
    if (cap < want.size()) {
      CHECK_EQ(rc, ERR_BUFFER_TOO_SMALL);
    } else {
      CHECK_EQ(rc, 0);
      CHECK(out.compare(0, written, want) == 0);
      CHECK_EQ(out[cap], '\x55');  // never past cap
    }
  }
}

// A batch through both of its loops (AVX2 where the CPU has it, and SSE2): the bytes of the
// events one by one, and at every cap the events that fit, then ERR_BUFFER_TOO_SMALL.
TEST(sse_encode_many_both_loops) {
  std::vector<std::string> texts, ids;
  for (size_t i = 0; i < 10; ++i) {
    texts.push_back(letters(i * 13) + (i % 2 ? "\r\n" : "\n") + letters(i * 7, 3));
    ids.push_back(letters(i * 3 + 1));  // short and long ids: both ways through the type and id checks
  }
  std::vector<pushwire_sse_fields> ev(texts.size());
  std::string want;
  std::vector<size_t> ends;
  for (size_t i = 0; i < ev.size(); ++i) {
    ev[i] = pushwire_sse_fields{};
    ev[i].retry_ms = i == 4 ? 250 : -1;
    ev[i].event = "price", ev[i].event_len = i == 6 ? 0 : 5;
    ev[i].id = ids[i].data(), ev[i].id_len = ids[i].size();
    ev[i].data = texts[i].data(), ev[i].data_len = texts[i].size();
    want += encode_exact(sse_fields_from(ev[i]));
    ends.push_back(want.size());
  }
  for (bool avx2_ok : {true, false}) sse_test::check_every_cap(ev, want, ends, 70, many_with(avx2_ok));
}

// ---------------------------------------------------------------------------
// The encoder against the reference encoder (sse_test::reference_encode): the single call
// (the usual event's path and the general one) and the batch loops (AVX2 and SSE2).

namespace {

pushwire_sse_fields c_fields(const std::string *event, const std::string *id, const std::string *data) {
  pushwire_sse_fields f{};
  f.retry_ms = -1;
  if (event) f.event = event->data(), f.event_len = event->size();
  if (id) f.id = id->data(), f.id_len = id->size();
  if (data) f.data = data->data(), f.data_len = data->size();
  return f;
}

// Encodes each event alone (sse_encode_into, room to spare) and all of them as one batch
// (both loops), and compares each with the reference; false (and a report) on the first
// difference.
bool matches_reference(const std::vector<pushwire_sse_fields> &ev) {
  std::string want;
  size_t bound = 0;
  std::vector<pushwire_sse_fields> ok;  // the events the reference does not refuse
  for (const pushwire_sse_fields &f : ev) {
    const std::string one = sse_test::reference_encode(f);
    const SseFields core = sse_fields_from(f);
    const size_t b = sse_encoded_bound(core);
    std::string out(b + 1, '\x55');
    size_t written = 0;
    const int rc = sse_encode_into(core, reinterpret_cast<uint8_t *>(&out[0]), b, &written);
    const std::string got = rc == 0 ? out.substr(0, written) : rc == ERR_INVALID_ARGUMENT ? "<refused>" : "<error>";
    if (got != one || out[b] != '\x55') {
      harness::fail(__FILE__, __LINE__,
                    "event: got " + vectors::escape(got) + "\n    want " + vectors::escape(one) + "\n    data " +
                        vectors::escape(f.data ? std::string(f.data, f.data_len) : "<absent>"));
      return false;
    }
    if (one == "<refused>") continue;
    want += one;
    bound += b;
    ok.push_back(f);
  }
  for (bool avx2_ok : {true, false}) {
    std::string out(bound + 1, '\x55');
    size_t written = 0, encoded = 0;
    const int rc = sse_encode_many(ok.data(), ok.size(), reinterpret_cast<uint8_t *>(&out[0]), bound, &written,
                                   &encoded, avx2_ok);
    if (rc != 0 || encoded != ok.size() || out.substr(0, written) != want || out[bound] != '\x55') {
      harness::fail(__FILE__, __LINE__, std::string("batch differs, avx2_ok ") + (avx2_ok ? "1" : "0"));
      return false;
    }
  }
  return true;
}

// Positions around the seams of the moves: the 16-byte loads of type and id, the 32- and
// 64-byte moves of data, and the 62-byte steps of a long line; and the first and last bytes.
bool near_seam(size_t at, size_t len) {
  const size_t m16 = at % 16, m62 = at % 62;
  return at < 3 || at + 3 >= len || m16 <= 1 || m16 >= 14 || m62 <= 1 || m62 == 61;
}

// Byte classes for data: each line end spelling, NUL, the syntax's colon and space, bytes at
// and above 0x80, and a plain letter.
const std::string kDataClasses[] = {"\n", "\r", "\r\n", std::string(1, '\0'), ":", " ", "\x80", "\xff", "q"};

std::string with_class_at(const std::string &plain, size_t at, int cls) {
  std::string v = plain;
  v.replace(at, 1, kDataClasses[cls]);
  return v;
}

}  // namespace

// Data of every length 0..300 with each byte class at every position near a seam, as usual events (short type and id) and as events the general path
// takes (a comment, a retry, a 17-byte id, no type): one event at a time and in batches.
TEST(sse_encode_data_every_class_near_every_seam_vs_reference) {
  const std::string type = "update", id = "12345", long_id = letters(17, 5);
  size_t compared = 0;
  for (size_t len = 0; len <= 300; ++len) {
    const std::string plain = letters(len);
    std::vector<std::string> texts;
    texts.reserve(1 + len * 9);
    texts.push_back(plain);
    for (size_t at = 0; at < len; ++at)
      if (near_seam(at, len))
        for (int cls = 0; cls < 9; ++cls) texts.push_back(with_class_at(plain, at, cls));
    std::vector<pushwire_sse_fields> usual, other;
    for (size_t i = 0; i < texts.size(); ++i) {
      usual.push_back(c_fields(&type, &id, &texts[i]));
      pushwire_sse_fields g = c_fields(i % 3 == 2 ? nullptr : &type, i % 3 == 1 ? &long_id : &id, &texts[i]);
      if (i % 3 == 0) g.retry_ms = int64_t(i);
      if (i % 5 == 0) g.comment = "c", g.comment_len = 1;
      other.push_back(g);
    }
    if (!matches_reference(usual) || !matches_reference(other)) return;
    compared += 2 * texts.size();
  }
  CHECK(compared > 50000);
}

// Event types and ids of 1..20 bytes with each byte class at every position (a refused byte
// among the 16 loaded but past the field's end must not count), from usual events.
TEST(sse_encode_type_and_id_every_class_at_every_position_vs_reference) {
  const std::string data = "one\ntwo";
  for (size_t len = 1; len <= 20; ++len) {
    const std::string plain = letters(len, 3);
    std::vector<std::string> texts;
    for (size_t at = 0; at < len; ++at)
      for (int cls = 0; cls < 9; ++cls) texts.push_back(with_class_at(plain, at, cls));
    const std::string fixed = "7";
    for (const std::string &t : texts) {
      if (!matches_reference({c_fields(&t, &fixed, &data)})) return;
      if (!matches_reference({c_fields(&fixed, &t, &data)})) return;
    }
    // A refused byte just past the end of the field is not part of it.
    for (char bad : {'\r', '\n', '\0'}) {
      std::string backing = plain + bad;
      pushwire_sse_fields f = c_fields(&fixed, &fixed, &data);
      f.id = backing.data(), f.id_len = len;
      CHECK(matches_reference({f}));
      f = c_fields(&fixed, &fixed, &data);
      f.event = backing.data(), f.event_len = len;
      CHECK(matches_reference({f}));
    }
  }
}

// Data ending at a page end (the walk moves its last bytes from a copy), every length 0..200
// with a line end of each spelling near a seam, and each class as the last byte.
TEST(sse_encode_data_at_a_page_end_vs_reference) {
  PageEnd guard;
  const std::string type = "tick", id = "9";
  for (size_t len = 0; len <= 200; ++len) {
    const std::string plain = letters(len);
    std::vector<std::string> texts = {plain};
    for (size_t at = 0; at < len; ++at)
      if (near_seam(at, len) || at % 7 == 0)
        for (int cls : {0, 1, 2}) texts.push_back(with_class_at(plain, at, cls));
    if (len)
      for (int cls = 0; cls < 9; ++cls) texts.push_back(with_class_at(plain, len - 1, cls));
    for (const std::string &t : texts) {
      const span placed = guard.place(t);
      pushwire_sse_fields f = c_fields(&type, &id, nullptr);
      f.data = reinterpret_cast<const char *>(placed.ptr), f.data_len = placed.len;
      if (!matches_reference({f})) return;
    }
  }
}

namespace {

// Events shaped like W8's (WORKLOADS.md): a name, a decimal id, three data lines of 20 to 60
// bytes, one in four with multi-byte UTF-8; and, every seventh, an odd one (a comment, a
// retry, CR LF or CR line ends, a long line, empty lines, an empty or absent field).
struct W8Like {
  std::vector<std::string> names, ids, datas;
  std::vector<pushwire_sse_fields> ev;
  explicit W8Like(size_t n, uint32_t seed) {
    static const char *const kNames[] = {"update", "price", "tick", "message", "order.filled", "heartbeat"};
    static const char *const kMb[] = {"prix: 12,5 \xE2\x82\xAC \xE2\x80\x94 ok caf\xC3\xA9 \xF0\x9F\x98\x80 ",
                                      "\xE6\x9D\xB1\xE4\xBA\xAC \xE2\x86\x92 \xD0\x96\xD1\x83\xD0\xBA "};
    std::mt19937 rng(seed);
    names.reserve(n), ids.reserve(n), datas.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      names.push_back(kNames[rng() % 6]);
      ids.push_back(std::to_string(i + 1 + rng() % 3 * 1000000));
      const std::string l1 = "{\"seq\":" + std::to_string(i) + ",\"px\":" + std::to_string(rng() % 100000) + "}";
      const std::string l2 = "x" + letters(19 + rng() % 21, rng() % 26);
      const std::string l3 = i % 4 == 3 ? kMb[i % 2] + letters(10) : "y" + letters(19 + rng() % 21, rng() % 26);
      std::string d = l1 + "\n" + l2 + "\n" + l3;
      if (i % 7 == 6) {
        switch (rng() % 6) {
          case 0: d = l1 + "\r\n" + l2 + "\r" + l3; break;
          case 1: d = letters(70 + rng() % 200) + "\n\n" + l2; break;
          case 2: d = "\n" + l1 + "\r\n\r\n"; break;
          case 3: d.clear(); break;
          default: break;
        }
      }
      datas.push_back(d);
    }
    for (size_t i = 0; i < n; ++i) {
      pushwire_sse_fields f = c_fields(&names[i], &ids[i], &datas[i]);
      if (i % 7 == 6) {
        switch (i / 7 % 5) {
          case 0: f.comment = "note\nmore", f.comment_len = 9; break;
          case 1: f.retry_ms = int64_t(i); break;
          case 2: f.event = nullptr, f.event_len = 0; break;
          case 3: f.id = "", f.id_len = 0; break;
          default: break;
        }
      }
      ev.push_back(f);
    }
  }
};

}  // namespace

// Many W8-like events in one batch, and a batch of them at every cap (both loops and the
// C ABI), against the reference.
TEST(sse_encode_many_w8_like_every_cap_vs_reference) {
  W8Like big(5000, 88);
  CHECK(matches_reference(big.ev));
  W8Like small(40, 8);
  std::string want;
  std::vector<size_t> ends;
  for (const pushwire_sse_fields &f : small.ev) {
    want += sse_test::reference_encode(f);
    ends.push_back(want.size());
  }
  for (bool avx2_ok : {true, false}) sse_test::check_every_cap(small.ev, want, ends, 80, many_with(avx2_ok));
  sse_test::check_every_cap(small.ev, want, ends, 80, pushwire_sse_encode_many);
}

// Huge data: a mebibyte of lines of 0 to 5000 bytes with every line end spelling, and a
// string of line ends only (the bound's worst case), against the reference.
TEST(sse_encode_huge_data_vs_reference) {
  std::mt19937 rng(1 << 20);
  std::string big;
  const char *const breaks[] = {"\n", "\r", "\r\n"};
  while (big.size() < (size_t(1) << 20)) {
    const size_t n = rng() % 8 == 0 ? rng() % 5000 : rng() % 100;
    big += letters(n, rng() % 26);
    big += breaks[rng() % 3];
  }
  std::string ends_only;
  for (size_t i = 0; i < 100000; ++i) ends_only += breaks[rng() % 3];
  const std::string type = "bulk", id = "1";
  CHECK(matches_reference({c_fields(&type, &id, &big), c_fields(&type, &id, &ends_only), c_fields(nullptr, nullptr, &big)}));
}
