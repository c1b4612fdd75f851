// The event-stream parser, rule by rule (WHATWG HTML "Parsing an event stream" and
// "Interpreting an event stream"), the spec's own examples, the limits, and a differential
// property test against the reference transcription of the spec (tests/reference.hpp).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "harness.hpp"
#include "reference.hpp"
#include "sse_lines.hpp"
#include "sse_parser.hpp"
#include "sse_test_util.hpp"

using sse_test::ev;
using sse_test::Options;
using sse_test::run;
using sse_test::run_chunks;
using Events = std::vector<std::string>;

namespace {

void expect(const char *file, int line, const sse_test::Result &r, const Events &want, const std::string &error = "") {
  std::string problem;
  if (r.events != want) {
    problem += "\n    events:";
    for (const auto &e : r.events) problem += "\n      " + e;
    problem += "\n    expected:";
    for (const auto &e : want) problem += "\n      " + e;
  }
  if (r.error != error) problem += "\n    error '" + r.error + "', expected '" + error + "'";
  if (!problem.empty()) harness::fail(file, line, problem);
}
#define EXPECT_EVENTS(r, ...) expect(__FILE__, __LINE__, (r), __VA_ARGS__)

// Every way to cut the input in two, and byte by byte, must give the same result, whether
// events are pulled one at a time or in batches (next_events).
void expect_any_split(const char *file, int line, const std::string &in, const Events &want,
                      const Options &options = Options(), const std::string &error = "") {
  for (size_t batch : {size_t(0), size_t(2), size_t(64)}) {
    Options opts = options;
    opts.batch = batch;
    expect(file, line, run(in, true, opts), want, error);
    std::vector<std::string> bytes;
    for (char c : in) bytes.push_back(std::string(1, c));
    expect(file, line, run_chunks(bytes, true, opts), want, error);
    for (size_t cut = 1; cut < in.size(); ++cut)
      expect(file, line, run_chunks({in.substr(0, cut), in.substr(cut)}, true, opts), want, error);
  }
}
#define EXPECT_SPLITS(in, ...) expect_any_split(__FILE__, __LINE__, (in), __VA_ARGS__)

const std::string R = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

// ---------------------------------------------------------------------------
// The examples of the WHATWG section, as the spec describes their outcome.

TEST(sse_spec_example_stock_ticker) {
  EXPECT_SPLITS("data: YHOO\ndata: +2\ndata: 10\n\n", Events{ev("YHOO\n+2\n10")});
}

TEST(sse_spec_example_comment_ids_and_leading_space) {
  std::string in =
      ": test stream\n\n"
      "data: first event\nid: 1\n\n"
      "data:second event\nid\n\n"
      "data:  third event\n\n";
  // The comment block fires nothing; "id" with no colon resets the last event ID; one
  // space after the colon goes, so the third data keeps its second space.
  EXPECT_SPLITS(in, Events{ev("first event", "1"), ev("second event", ""), ev(" third event", "")});
  // Without the final blank line the end of the stream is not enough to fire the last one.
  EXPECT_SPLITS(": test stream\n\ndata: first event\nid: 1\n\ndata:  third event\n",
                Events{ev("first event", "1")});
}

TEST(sse_spec_example_empty_data_lines) {
  // The first block fires data "", the middle one "\n"; the last is not followed by a blank line.
  EXPECT_SPLITS("data\n\ndata\ndata\n\ndata:", Events{ev(""), ev("\n")});
}

TEST(sse_spec_example_space_after_colon_is_optional) {
  EXPECT_SPLITS("data:test\n\ndata: test\n\n", Events{ev("test"), ev("test")});
}

TEST(sse_spec_example_event_types) {
  EXPECT_SPLITS("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
                Events{ev("73857293", "", "add"), ev("2153", "", "remove"), ev("113411", "", "add")});
}

// ---------------------------------------------------------------------------
// Lines

TEST(sse_line_ends_crlf_lf_cr) {
  EXPECT_SPLITS("data: a\r\ndata: b\rdata: c\n\r\n", Events{ev("a\nb\nc")});
  EXPECT_SPLITS("data: a\r\r", Events{ev("a")});
  EXPECT_SPLITS("data: a\n\rdata: b\r\n\r\n", Events{ev("a"), ev("b")});
  // LF CR is two line ends, CR LF one: "a\n\r" dispatched, then nothing pending.
  EXPECT_SPLITS("data: a\r\n\r\ndata: b\r\n", Events{ev("a")});
}

TEST(sse_cr_then_lf_in_the_next_feed_is_one_line_end) {
  // Fed apart, the LF must not become a second (blank) line that would dispatch early.
  sse_test::Result r = run_chunks({"data: a\r", "\ndata: b\r", "\n\r", "\n"}, true);
  EXPECT_EVENTS(r, Events{ev("a\nb")});
  r = run_chunks({"data: a\r", "", "\n", "\r", "", "\n"}, true);
  EXPECT_EVENTS(r, Events{ev("a")});
}

TEST(sse_unterminated_event_or_line_at_eof_is_dropped) {
  EXPECT_SPLITS("data: a\n", Events{});
  EXPECT_SPLITS("data: a\n\ndata: b", Events{ev("a")});
  EXPECT_SPLITS("data: a\n\ndata: b\nid: 7\n", Events{ev("a")});
  // The id of the dropped event never becomes the last event ID.
  sse_test::Result r = run("id: 1\ndata: a\n\nid: 2\ndata: b\n", true);
  CHECK(r.last_event_id == "1");
  // Without eof nothing is lost yet: the rest may still come.
  r = run("data: a\n", false);
  EXPECT_EVENTS(r, Events{});
}

// ---------------------------------------------------------------------------
// Fields

TEST(sse_field_parsing) {
  EXPECT_SPLITS("data:x:y\n\n", Events{ev("x:y")});
  EXPECT_SPLITS("data:\n\n", Events{ev("")});
  EXPECT_SPLITS("data: \n\n", Events{ev("")});
  EXPECT_SPLITS("data:  \n\n", Events{ev(" ")});
  EXPECT_SPLITS("data:\tx\n\n", Events{ev("\tx")});  // only a space is stripped
  EXPECT_SPLITS("data : x\n\n", Events{});            // the name is "data "
  EXPECT_SPLITS("Data: x\n\n", Events{});             // names are case-sensitive
  EXPECT_SPLITS("foo: bar\ndata: x\nbaz\n\n", Events{ev("x")});
  EXPECT_SPLITS(std::string("data: a\0b\n\n", 11), Events{ev(std::string("a\0b", 3))});
}

TEST(sse_event_type) {
  EXPECT_SPLITS("event: add\ndata: 1\n\ndata: 2\n\n", Events{ev("1", "", "add"), ev("2")});
  EXPECT_SPLITS("event:\ndata: 1\n\n", Events{ev("1")});
  EXPECT_SPLITS("event: a\nevent: b\ndata: 1\n\n", Events{ev("1", "", "b")});
  // A blank line with no data resets the type too.
  EXPECT_SPLITS("event: add\n\ndata: 1\n\n", Events{ev("1")});
  EXPECT_SPLITS("event:  sp\ndata: 1\n\n", Events{ev("1", "", " sp")});
}

TEST(sse_last_event_id) {
  // The id persists across events until set again; an empty id resets it.
  EXPECT_SPLITS("id: 1\ndata: a\n\ndata: b\n\nid:\ndata: c\n\nid: 2\n\ndata: d\n\n",
                Events{ev("a", "1"), ev("b", "1"), ev("c", ""), ev("d", "2")});
  // An id with NUL is ignored entirely.
  static const char kNul[] = "id: 1\n\nid: x\0y\ndata: a\n\n";
  EXPECT_SPLITS(std::string(kNul, sizeof kNul - 1), Events{ev("a", "1")});
  // The id applies to the event it is in, wherever in the event it stands.
  EXPECT_SPLITS("data: a\nid: 5\n\n", Events{ev("a", "5")});
  EXPECT_SPLITS("id\ndata: a\n\n", Events{ev("a", "")});
  // An id-only event fires nothing but sets the last event ID at its blank line.
  sse_test::Result r = run("id: 42\n\n", true);
  EXPECT_EVENTS(r, Events{});
  CHECK(r.last_event_id == "42");
  r = run("id: 42\n", true);
  CHECK(r.last_event_id.empty());
}

TEST(sse_retry) {
  EXPECT_SPLITS("retry: 3000\n\n", Events{"retry 3000"});
  EXPECT_SPLITS("retry:0\ndata: a\n\n", Events{"retry 0", ev("a")});
  // Only ASCII digits: anything else, an empty value or an overflow, is ignored.
  EXPECT_SPLITS("retry: 1x\nretry: -1\nretry:  10\nretry:\nretry\nretry: 1.5\nretry: +1\n\n", Events{});
  EXPECT_SPLITS("retry: 18446744073709551616\nretry: 99999999999999999999\n\n", Events{});
  EXPECT_SPLITS("retry: 18446744073709551615\n", Events{"retry 18446744073709551615"});
  EXPECT_SPLITS("retry: 007\n", Events{"retry 7"});
  // The retry is reported as soon as its line ends, even in an event that never fires.
  sse_test::Result r = run("retry: 5\nretry: 6\ndata: x", true);
  EXPECT_EVENTS(r, Events{"retry 5", "retry 6"});
  CHECK_EQ(r.retry_ms, 6);
  r = run("retry: x\n", true);
  CHECK_EQ(r.retry_ms, 0);  // the default passed in
}

TEST(sse_blank_line_dispatch_rules) {
  EXPECT_SPLITS("\n\n\n", Events{});
  EXPECT_SPLITS("data: a\ndata: b\n\n", Events{ev("a\nb")});
  EXPECT_SPLITS("data: a\n\n\n\ndata: b\n\n", Events{ev("a"), ev("b")});
  EXPECT_SPLITS("data:\ndata:\n\n", Events{ev("\n")});
  EXPECT_SPLITS("data: a\ndata:\n\n", Events{ev("a\n")});
}

TEST(sse_comments) {
  EXPECT_SPLITS(": hi\ndata: a\n: there\n\n", Events{ev("a")});
  Options rc;
  rc.add(PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 1);
  EXPECT_SPLITS(": hi\ndata: a\n:\n::x\n\n", Events{"comment \" hi\"", "comment \"\"", "comment \":x\"", ev("a")}, rc);
  // A comment does not end or reset the event.
  EXPECT_SPLITS("event: e\n: keepalive\ndata: a\n\n", Events{"comment \" keepalive\"", ev("a", "", "e")}, rc);
}

// ---------------------------------------------------------------------------
// UTF-8 decoding (WHATWG Encoding, "UTF-8 decode", maximal subparts)

TEST(sse_utf8_replacement_is_maximal_subpart) {
  struct {
    const char *in;
    std::string out;
  } cases[] = {
      {"\xF0\x9F\x98" "A", R + "A"},
      {"\xED\xA0\x80", R + R + R},
      {"\xC0\x80", R + R},
      {"\xE0\x80", R + R},
      {"\xE0\xA0", R},  // cut short by the line end
      {"\xF4\x90\x80\x80", R + R + R + R},
      {"\xF5", R},
      {"\xFF\xFE", R + R},
      {"\x80\xBF", R + R},
      {"\xE2\x28\xA1", R + "(" + R},
      {"\xC3\xA9\xC3", "\xC3\xA9" + R},
      {"a\xF0\x9F\x98\x80z", "a\xF0\x9F\x98\x80z"},
      {"\xF0\x9F\x98\xF0\x9F\x98\x80", R + "\xF0\x9F\x98\x80"},
      {"\xEF\xBF\xBD", R},
  };
  for (const auto &c : cases) {
    std::string in = std::string("data: ") + c.in + "\nid: " + c.in + "\nevent: " + c.in + "\n\n";
    EXPECT_SPLITS(in, Events{ev(c.out, c.out, c.out)});
  }
}

TEST(sse_utf8_character_split_across_feeds) {
  const std::string emoji = "\xF0\x9F\x98\x80";
  sse_test::Result r = run_chunks({"data: \xF0", "\x9F", "\x98", "\x80\n\n"}, true);
  EXPECT_EVENTS(r, Events{ev(emoji)});
  r = run_chunks({"data: \xF0\x9F", "\x98\x80", "\n", "\n"}, true);
  EXPECT_EVENTS(r, Events{ev(emoji)});
  // An invalid continuation arriving in the next feed replaces the held bytes only.
  r = run_chunks({"data: \xF0\x9F", "A\n\n"}, true);
  EXPECT_EVENTS(r, Events{ev(R + "A")});
  r = run_chunks({"data: \xE2", "\x82", "\x28\n\n"}, true);
  EXPECT_EVENTS(r, Events{ev(R + "(")});
}

TEST(sse_bom) {
  const std::string bom = "\xEF\xBB\xBF";
  EXPECT_SPLITS(bom + "data: a\n\n", Events{ev("a")});
  // A second BOM is text: the line's field name becomes "\uFEFFdata", which is ignored.
  EXPECT_SPLITS(bom + bom + "data: a\n\ndata: b\n\n", Events{ev("b")});
  // Only at the very start of the stream.
  EXPECT_SPLITS("\n" + bom + "data: a\n\n", Events{});
  EXPECT_SPLITS("data: " + bom + "a\n\n", Events{ev(bom + "a")});
  // Part of a BOM is an invalid sequence: one U+FFFD, then the rest of the line.
  EXPECT_SPLITS("\xEF\xBB" "data: a\n\ndata: b\n\n", Events{ev("b")});
  EXPECT_SPLITS("\xEF\xBB\n" "data: b\n\n", Events{ev("b")});
  EXPECT_SPLITS(bom + "\n" + "data: b\n\n", Events{ev("b")});
  EXPECT_SPLITS(bom, Events{});
  EXPECT_SPLITS("\xEF", Events{});
}

// ---------------------------------------------------------------------------
// Limits and errors

TEST(sse_line_limit) {
  Options o;
  o.add(PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, 10);
  EXPECT_SPLITS("data: 1234\n\n", Events{ev("1234")}, o);      // 10 bytes: fits
  EXPECT_SPLITS("data: a\n\ndata: 12345\n\n", Events{ev("a")}, o, "LINE_TOO_LONG");
  // Counted after decoding: one invalid byte is three bytes of U+FFFD.
  EXPECT_SPLITS("data: 12\xFF\n\n", Events{}, o, "LINE_TOO_LONG");
  // Detected before the line ends, so an endless line cannot grow memory.
  sse_test::Result r = run(std::string("data: ") + std::string(100, 'x'), false, o);
  EXPECT_EVENTS(r, Events{}, "LINE_TOO_LONG");
}

TEST(sse_errors_are_sticky) {
  pushwire_sse_parser *p = nullptr;
  CHECK_EQ(pushwire_sse_parser_new(&p, nullptr), 0);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, 4), 0);
  const char *in = "data: too long\n\n";
  CHECK_EQ(pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>(in), strlen(in)), 0);
  pushwire_sse_event e;
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), PUSHWIRE_ERR_LINE_TOO_LONG);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), PUSHWIRE_ERR_LINE_TOO_LONG);
  CHECK_EQ(pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>("\n"), 1), PUSHWIRE_ERR_LINE_TOO_LONG);
  // A reset (new connection) clears it.
  CHECK_EQ(pushwire_sse_parser_reset(p), 0);
  CHECK_EQ(pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>("data\n\n"), 6), 0);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), 1);
  pushwire_sse_parser_free(p);
}

TEST(sse_event_limit) {
  Options o;
  o.add(PUSHWIRE_SSE_PARSER_OPT_MAX_EVENT, 10);
  // data "1234\n56789\n" is 11 bytes in the buffer: data, type and id count together.
  EXPECT_SPLITS("data: 1234\ndata: 5678\n\n", Events{ev("1234\n5678")}, o);
  EXPECT_SPLITS("data: 1234\ndata: 56789\n\n", Events{}, o, "EVENT_TOO_BIG");
  EXPECT_SPLITS("event: abcde\ndata: 1234\n\n", Events{ev("1234", "", "abcde")}, o);
  EXPECT_SPLITS("event: abcdef\ndata: 1234\n\n", Events{}, o, "EVENT_TOO_BIG");
  EXPECT_SPLITS("id: 12345\ndata: 1234\n\n", Events{ev("1234", "12345")}, o);
  EXPECT_SPLITS("data: 1234\nid: 123456\n\n", Events{}, o, "EVENT_TOO_BIG");
  // Each event starts from an empty data buffer.
  EXPECT_SPLITS("data: 123456789\n\ndata: 123456789\n\n", Events{ev("123456789"), ev("123456789")}, o);
}

TEST(sse_input_limit_and_feed_rules) {
  pushwire_sse_parser *p = nullptr;
  CHECK_EQ(pushwire_sse_parser_new(&p, nullptr), 0);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_INPUT_BUFFER, 8), 0);
  const uint8_t *in = reinterpret_cast<const uint8_t *>("data: 0123456789\n\n");
  CHECK_EQ(pushwire_sse_parser_feed(p, in, 18), 0);  // an empty input buffer takes any feed
  CHECK_EQ(pushwire_sse_parser_feed(p, in, 1), PUSHWIRE_ERR_BUFFER_FULL);
  pushwire_sse_event e;
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), 1);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), 0);
  CHECK_EQ(pushwire_sse_parser_feed(p, in, 4), 0);
  CHECK_EQ(pushwire_sse_parser_feed(p, in + 4, 4), 0);
  CHECK_EQ(pushwire_sse_parser_feed(p, in + 8, 1), PUSHWIRE_ERR_BUFFER_FULL);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), 0);
  CHECK_EQ(pushwire_sse_parser_feed(p, in + 8, 10), 0);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), 1);
  CHECK_STR(e.data.ptr, e.data.len, "0123456789");
  CHECK_EQ(pushwire_sse_parser_feed_eof(p), 0);
  CHECK_EQ(pushwire_sse_parser_feed(p, in, 1), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), 0);
  pushwire_sse_parser_free(p);
}

TEST(sse_reset_keeps_id_and_retry_drops_the_rest) {
  pushwire_sse_parser *p = nullptr;
  CHECK_EQ(pushwire_sse_parser_new(&p, nullptr), 0);
  auto feed = [&](const std::string &s) {
    return pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>(s.data()), s.size());
  };
  pushwire_sse_event e;
  CHECK_EQ(feed("retry: 1500\nid: 7\ndata: a\n\nid: 8\nevent: x\ndata: partial\ndata: cut"), 0);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), 1);  // retry
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), 1);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), 0);
  CHECK_EQ(pushwire_sse_parser_reset(p), 0);
  CHECK(sse_test::str(pushwire_sse_parser_last_event_id(p)) == "7");
  CHECK_EQ(pushwire_sse_parser_retry_ms(p, 3000), 1500);
  // The new stream starts clean (a BOM is dropped again) and the old id carries on.
  CHECK_EQ(feed("\xEF\xBB\xBF" "data: b\n\n"), 0);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), 1);
  CHECK(sse_test::str(e.data) == "b");
  CHECK(sse_test::str(e.event_type) == "message");
  CHECK(sse_test::str(e.last_event_id) == "7");
  // Options may be set again after a reset, not after a feed.
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, 100), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_sse_parser_reset(p), 0);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, 100), 0);
  pushwire_sse_parser_free(p);
}

TEST(sse_reconnect_headers) {
  pushwire_sse_parser *p = nullptr;
  CHECK_EQ(pushwire_sse_parser_new(&p, nullptr), 0);
  size_t n = 0;
  CHECK_EQ(pushwire_sse_parser_reconnect_headers(p, nullptr, 0, &n), PUSHWIRE_ERR_BUFFER_TOO_SMALL);
  CHECK_EQ(n, 52);
  uint8_t buf[128];
  CHECK_EQ(pushwire_sse_parser_reconnect_headers(p, buf, sizeof buf, &n), 0);
  CHECK_STR(buf, n, "Accept: text/event-stream\r\nCache-Control: no-cache\r\n");
  const char *in = "id: 41 b\xC3\xA9\n\n";
  CHECK_EQ(pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>(in), strlen(in)), 0);
  pushwire_sse_event e;
  CHECK_EQ(pushwire_sse_parser_next_event(p, &e), 0);
  CHECK_EQ(pushwire_sse_parser_reconnect_headers(p, buf, 60, &n), PUSHWIRE_ERR_BUFFER_TOO_SMALL);
  CHECK_EQ(n, 52 + 15 + 6 + 2);
  CHECK_EQ(pushwire_sse_parser_reconnect_headers(p, buf, n, &n), 0);
  CHECK_STR(buf, n, "Accept: text/event-stream\r\nCache-Control: no-cache\r\nLast-Event-ID: 41 b\xC3\xA9\r\n");
  pushwire_sse_parser_free(p);
}

// ---------------------------------------------------------------------------
// Linear time, shown by what the parser keeps rather than by a clock: with an input limit
// of a few bytes every small feed must still be taken, so nothing fed stays unparsed to be
// scanned again, and the buffers grow geometrically (few allocator calls, bytes asked for
// a small multiple of the stream), so nothing is copied over and over.

namespace {
struct LinearRun {
  AllocCounter counter;
  pushwire::Allocator alloc{&counter.api};
  pushwire::SseParser parser{&alloc};
  pushwire_sse_event ev{};
  // Feeds `piece` `times` times, pulling after each feed, and checks every feed is taken
  // without an event coming out.
  void feed_pieces(const char *piece, size_t len, size_t times) {
    for (size_t i = 0; i < times; ++i) {
      if (parser.feed(reinterpret_cast<const uint8_t *>(piece), len) != 0 || parser.next(&ev) != 0) {
        CHECK(false);  // held bytes (BUFFER_FULL) or an early event: say where, once
        std::fprintf(stderr, "  piece %zu of %zu\n", i, times);
        return;
      }
    }
  }
};
}  // namespace

TEST(sse_long_line_in_one_byte_reads_is_parsed_as_it_arrives) {
  LinearRun r;
  r.parser.set_max_line(size_t(8) << 20);
  r.parser.set_max_event(size_t(16) << 20);
  r.parser.set_max_input(1);  // a second byte held unparsed would make a feed BUFFER_FULL
  const size_t n = size_t(2) << 20;
  for (const char *c = "data: "; *c; ++c) r.feed_pieces(c, 1, 1);
  const size_t allocs_before = r.counter.allocs;
  r.feed_pieces("x", 1, n);
  CHECK(r.counter.allocs - allocs_before <= 64);  // 2 MiB one byte at a time: doubling, not per byte
  CHECK(r.counter.requested <= 8 * n);
  r.feed_pieces("\n", 1, 1);
  CHECK_EQ(r.parser.feed(reinterpret_cast<const uint8_t *>("\n"), 1), 0);
  CHECK_EQ(r.parser.next(&r.ev), 1);
  CHECK_EQ(r.ev.data.len, n);
  const std::string xs(n, 'x');
  CHECK_BYTES(r.ev.data.ptr, r.ev.data.len, xs.data(), xs.size());
}

TEST(sse_cr_only_stream_is_parsed_line_by_line) {
  const std::string line = "data: y\r";
  const size_t lines = 200000;
  // In reads of one line each, with room for no more than a line: each is parsed when fed.
  LinearRun r;
  r.parser.set_max_event(size_t(16) << 20);
  r.parser.set_max_input(line.size());
  r.feed_pieces(line.data(), line.size(), lines);
  CHECK(r.counter.allocs <= 64);
  CHECK(r.counter.requested <= 8 * line.size() * lines);
  CHECK_EQ(r.parser.feed(reinterpret_cast<const uint8_t *>("\r"), 1), 0);
  CHECK_EQ(r.parser.next(&r.ev), 1);
  CHECK_EQ(r.ev.data.len, lines * 2 - 1);
  // In one read, through the same path the fast walk leaves CR lines to.
  LinearRun whole;
  whole.parser.set_max_event(size_t(16) << 20);
  std::string stream;
  for (size_t i = 0; i < lines; ++i) stream += line;
  stream += "\r";
  CHECK_EQ(whole.parser.feed(reinterpret_cast<const uint8_t *>(stream.data()), stream.size()), 0);
  CHECK_EQ(whole.parser.next(&whole.ev), 1);
  CHECK_EQ(whole.ev.data.len, lines * 2 - 1);
  std::string joined;
  for (size_t i = 0; i < lines; ++i) joined += i ? "\ny" : "y";
  CHECK_BYTES(whole.ev.data.ptr, whole.ev.data.len, joined.data(), joined.size());
  CHECK(whole.counter.requested <= 8 * stream.size());
}

// ---------------------------------------------------------------------------
// Differential property test: the parser against the reference transcription of the spec
// that the fuzz targets use too (decode the whole stream, split it into lines, interpret
// line by line), on random streams built from the tokens that matter, fed whole and in
// random pieces.

namespace {

// The reference (tests/reference.hpp) in this file's transcript form.
struct RefResult {
  Events events;
  std::string last_id;
};

RefResult ref_interpret(const std::string &stream, bool comments) {
  SseReference ref(stream, comments);
  RefResult r;
  for (const SseReference::Item &i : ref.items) {
    if (i.kind == SseReference::Item::kEvent) r.events.push_back(ev(i.data, i.id, i.type));
    if (i.kind == SseReference::Item::kRetry) r.events.push_back("retry " + std::to_string(i.retry));
    if (i.kind == SseReference::Item::kComment) r.events.push_back("comment " + vectors::escape(i.data));
  }
  r.last_id = ref.last_event_id;
  return r;
}

}  // namespace

TEST(sse_parser_matches_spec_transcription_on_random_streams) {
  static const char *const kTokens[] = {
      "data", "data:", "data: ", "event:", "event: ", "id:", "id: ", "retry:", "retry: ", ":", " ",
      "\r", "\n", "\r\n", "\n\n", "x", "yz", "12", "0", "\0", "\xC3\xA9", "\xF0\x9F\x98\x80", "\xE2\x82\xAC",
      "\xEF\xBB\xBF", "\x80", "\xC3", "\xE2\x82", "\xF0\x9F\x98", "\xED\xA0\x80", "\xC0\x80", "\xFF", "\xF4\x90",
      "message", "id", "retry",
  };
  const size_t kCount = sizeof kTokens / sizeof kTokens[0];
  std::mt19937 rng(20240611);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string in;
    if (rng() % 4 == 0) in = "\xEF\xBB\xBF";
    size_t tokens = rng() % 40;
    for (size_t t = 0; t < tokens; ++t) {
      const char *tok = kTokens[rng() % kCount];
      in += tok[0] ? std::string(tok) : std::string(1, '\0');
    }
    bool comments = rng() % 2;
    RefResult want = ref_interpret(in, comments);
    Options o;
    if (comments) o.add(PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 1);
    std::vector<std::string> chunks;
    for (size_t pos = 0; pos < in.size();) {
      size_t len = 1 + rng() % 7;
      chunks.push_back(in.substr(pos, len));
      pos += len;
    }
    sse_test::Result whole = run(in, true, o), pieces = run_chunks(chunks, true, o);
    if (whole.events != want.events || pieces.events != want.events || whole.last_event_id != want.last_id ||
        pieces.last_event_id != want.last_id || !whole.error.empty() || !pieces.error.empty()) {
      std::string got;
      for (const auto &e : pieces.events) got += "\n      " + e;
      std::string exp;
      for (const auto &e : want.events) exp += "\n      " + e;
      harness::fail(__FILE__, __LINE__,
                    "input " + vectors::escape(in) + "\n    pieces:" + got + "\n    spec:" + exp);
      break;
    }
  }
}

// The shared line-end scanner against a byte loop, at every length and position.
TEST(sse_find_line_end_matches_byte_loop) {
  std::mt19937 rng(99);
  static const uint8_t kBytes[] = {'a', ' ', ':', 0x7F, 0x80, 0xC3, 0xFF, 0x00, '\r', '\n'};
  for (int iter = 0; iter < 20000; ++iter) {
    size_t n = rng() % 70;
    std::vector<uint8_t> buf(n + 1);
    for (size_t i = 0; i < n; ++i) buf[i] = kBytes[rng() % (iter % 3 == 0 ? 10 : 8)];
    size_t want = n;
    for (size_t i = 0; i < n; ++i) {
      if (buf[i] == '\r' || buf[i] == '\n') {
        want = i;
        break;
      }
    }
    size_t got = pushwire::sse_find_line_end(buf.data(), n);
    if (got != want) {
      harness::fail(__FILE__, __LINE__, "scan of " + harness::hex(buf.data(), n) + ": got " + std::to_string(got) +
                                            ", want " + std::to_string(want));
      break;
    }
  }
}

// ---------------------------------------------------------------------------
// The in-place path: line ends found 128 bytes at a time, UTF-8 checked once per byte ahead
// of the lines, data values moved in fixed 16-byte pieces.

// Line ends of each spelling at every offset of both 64-byte halves of a block and past it,
// the stream fed whole, byte by byte and cut in two at every position (a CR last in a feed
// among them).
TEST(sse_in_place_line_ends_at_every_block_offset) {
  const char *spellings[] = {"\n", "\r", "\r\n"};
  for (const char *br : spellings) {
    for (size_t k = 0; k <= 140; ++k) {
      std::string a;
      for (size_t i = 0; i < k; ++i) a += char('a' + i % 26);
      std::string b = std::string(br);
      EXPECT_SPLITS("data: " + a + b + "data:z" + b + b + "event: t" + b + "data" + b + b,
                    {ev(a + "\nz"), ev("", "", "t")});
    }
  }
}

// An invalid or cut-short sequence at every position of a data line: that line is decoded
// (U+FFFD for each maximal invalid subpart), and the lines after it are parsed in place again.
TEST(sse_invalid_utf8_at_every_position_of_a_line) {
  const struct {
    const char *bytes;
    const char *decoded;  // followed by 'x'
  } kBad[] = {{"\xFF", "\xEF\xBF\xBD"},
              {"\xC3", "\xEF\xBF\xBD"},
              {"\xE2\x82", "\xEF\xBF\xBD"},
              {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
              {"\xC3\xA9", "\xC3\xA9"}};  // valid, for contrast
  for (const auto &bad : kBad) {
    for (size_t len = 0; len <= 80; ++len) {
      std::string plain;
      for (size_t i = 0; i < len; ++i) plain += char('a' + i % 26);
      for (size_t at = 0; at <= len; ++at) {
        std::string line = plain.substr(0, at) + bad.bytes + "x" + plain.substr(at);
        std::string want = plain.substr(0, at) + bad.decoded + "x" + plain.substr(at);
        std::string in = "data: " + line + "\ndata: ok\n\ndata: next\n\n";
        EXPECT_EVENTS(run(in), {ev(want + "\nok"), ev("next")});
        EXPECT_EVENTS(run_chunks({in.substr(0, 7 + at), in.substr(7 + at)}, true), {ev(want + "\nok"), ev("next")});
      }
      // Cut short by the line end itself: decoded as when another byte follows.
      std::string in = "data: " + plain + bad.bytes + "\ndata: ok\n\n";
      EXPECT_EVENTS(run(in), {ev(plain + bad.decoded + "\nok")});
    }
  }
}

namespace {

// Every block ends where an unreadable page begins (16-byte aligned, so within 15 bytes of
// it): the parser's wide loads past its own buffers must stop at their page.
struct PageEndAllocator {
  std::map<void *, std::pair<void *, size_t>> blocks;  // pointer -> (mapping, user size)
  size_t page = size_t(sysconf(_SC_PAGESIZE));

  static void *do_malloc(void *user, size_t size) {
    PageEndAllocator *a = static_cast<PageEndAllocator *>(user);
    size_t span = (size + a->page - 1) / a->page * a->page + a->page;
    void *m = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    uint8_t *guard = static_cast<uint8_t *>(m) + span - a->page;
    mprotect(guard, a->page, PROT_NONE);
    void *p = reinterpret_cast<void *>(uintptr_t(guard - size) & ~uintptr_t(15));
    a->blocks[p] = {m, size};
    return p;
  }
  static void do_free(void *user, void *p) {
    PageEndAllocator *a = static_cast<PageEndAllocator *>(user);
    if (!p) return;
    auto it = a->blocks.find(p);
    void *m = it->second.first;
    size_t span = static_cast<uint8_t *>(p) + it->second.second - static_cast<uint8_t *>(m);
    munmap(m, (span + a->page - 1) / a->page * a->page + a->page);
    a->blocks.erase(it);
  }
  static void *do_realloc(void *user, void *p, size_t size) {
    PageEndAllocator *a = static_cast<PageEndAllocator *>(user);
    void *q = do_malloc(user, size);
    if (q && p) {
      size_t old = a->blocks[p].second;
      std::memcpy(q, p, old < size ? old : size);
      do_free(user, p);
    }
    return q;
  }
  pushwire_allocator table() { return pushwire_allocator{this, do_malloc, do_realloc, do_free}; }
};

}  // namespace

// Streams of 64, 128 and 256 bytes fill the input buffer to its end (it grows in powers of
// two), so the last lines and data values sit right before the unreadable page.
TEST(sse_in_place_lines_at_the_end_of_an_allocation) {
  PageEndAllocator alloc;
  pushwire_allocator table = alloc.table();
  for (size_t total : {size_t(64), size_t(128), size_t(256)}) {
    for (size_t tail = 1; tail <= 40; ++tail) {
      // "data: " + filler + "\n\n", then a last event "data: " + tail bytes + "\n\n".
      std::string last(tail, 'q');
      std::string end = "data: " + last + "\n\n";
      std::string filler(total - end.size() - 8, 'f');
      std::string in = "data: " + filler + "\n\n" + end;
      CHECK_EQ(in.size(), total);
      pushwire_sse_parser *p = nullptr;
      CHECK_EQ(pushwire_sse_parser_new(&p, &table), 0);
      CHECK_EQ(pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>(in.data()), in.size()), 0);
      sse_test::Result r;
      CHECK(sse_test::drain(p, &r));
      pushwire_sse_parser_free(p);
      EXPECT_EVENTS(r, {ev(filler), ev(last)});
    }
  }
  CHECK(alloc.blocks.empty());
}

// ---------------------------------------------------------------------------
// Data joined in place and events handed out in batches (next_events): the usual spellings
// are taken where they lie (data lines moved down behind the first, the event type and id
// kept as spans into the input), so these compare that path with the reference on streams
// built like W9 (event, id, data lines, blank line) and varied around it.

namespace {

// Differs from the reference on any chunking or batching: whole, byte by byte, cut in two
// at every position (when `every_cut`), and in 7-byte pieces, each pulled one event at a
// time and in batches of 1, 2, 3 and 64.
void expect_reference(const char *file, int line, const std::string &in, bool comments, bool every_cut) {
  const RefResult want = ref_interpret(in, comments);
  std::vector<std::vector<std::string>> splits{{in}};
  std::vector<std::string> bytes, sevens;
  for (char c : in) bytes.push_back(std::string(1, c));
  for (size_t i = 0; i < in.size(); i += 7) sevens.push_back(in.substr(i, 7));
  splits.push_back(bytes);
  splits.push_back(sevens);
  if (every_cut)
    for (size_t cut = 1; cut < in.size(); ++cut) splits.push_back({in.substr(0, cut), in.substr(cut)});
  for (size_t batch : {size_t(0), size_t(1), size_t(2), size_t(3), size_t(64)}) {
    Options o;
    o.batch = batch;
    if (comments) o.add(PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 1);
    for (const auto &chunks : splits) {
      sse_test::Result got = run_chunks(chunks, true, o);
      if (got.events == want.events && got.error.empty() && got.last_event_id == want.last_id) continue;
      std::string msg = "input " + vectors::escape(in) + " in " + std::to_string(chunks.size()) + " pieces (first " +
                        std::to_string(chunks[0].size()) + " bytes), batch " + std::to_string(batch) + ", error '" +
                        got.error + "', last id " + vectors::escape(got.last_event_id) + "\n    got:";
      for (const auto &e : got.events) msg += "\n      " + e;
      msg += "\n    spec (last id " + vectors::escape(want.last_id) + "):";
      for (const auto &e : want.events) msg += "\n      " + e;
      harness::fail(file, line, msg);
      return;
    }
  }
}
#define EXPECT_REFERENCE(in, comments, every_cut) expect_reference(__FILE__, __LINE__, (in), (comments), (every_cut))

// A W9-like event with the given pieces; `br` is the line end.
std::string w9_event(const std::string &type, const std::string &id, const std::vector<std::string> &data,
                     const std::string &br = "\n") {
  std::string s;
  if (!type.empty()) s += "event: " + type + br;
  if (!id.empty()) s += "id: " + id + br;
  for (const auto &d : data) s += "data: " + d + br;
  return s + br;
}

}  // namespace

// Streams of W9's shape and of every variation the walk treats differently: each line end,
// other spellings ("data:x", "data", comments, retry, unknown fields), an id or type after
// the data (which the walk cannot keep in place: the data is joined over it), empty values,
// multi-byte and invalid UTF-8, NUL in an id, a BOM.
TEST(sse_in_place_join_matches_reference_on_generated_streams) {
  static const char *const kValues[] = {"", "x", "{\"seq\":1,\"sym\":\"AAPL\",\"px\":12.34}", "prix: 12,5 \xE2\x82\xAC ok",
                                        "\xF0\x9F\x9A\x80 \xCE\xB1", ("a\xFF" "b"), "\xC3", " lead", "tab\there",
                                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefXY"};
  static const char *const kOddLines[] = {"data:nospace", "data", "data:", ": comment", ":", "retry: 250", "retry: x",
                                          ("id: 1\0" "2"), "id", "event", "event:", "foo: bar", "data:  two spaces",
                                          "id: late", "event: late"};
  static const size_t kOddLens[] = {12, 4, 5, 9, 1, 10, 8, 6, 2, 5, 6, 8, 17, 8, 11};
  static const char *const kBreaks[] = {"\n", "\r\n", "\r"};
  const size_t nv = sizeof kValues / sizeof kValues[0], no = sizeof kOddLines / sizeof kOddLines[0];
  std::mt19937 rng(909);
  for (int iter = 0; iter < 400; ++iter) {
    std::string in = rng() % 8 == 0 ? "\xEF\xBB\xBF" : "";
    const std::string br = kBreaks[rng() % 3];
    size_t events = 1 + rng() % 5;
    for (size_t k = 0; k < events; ++k) {
      std::vector<std::string> data;
      for (size_t d = rng() % 4; d > 0; --d) data.push_back(kValues[rng() % nv]);
      std::string e = w9_event(rng() % 3 ? "t" + std::to_string(rng() % 3) : "", rng() % 4 ? std::to_string(iter * 10 + k) : "",
                               data, rng() % 5 ? br : std::string(kBreaks[rng() % 3]));
      // An odd line at a random line boundary of the event.
      if (rng() % 2) {
        size_t o = rng() % no;
        std::vector<size_t> starts{0};
        for (size_t i = 0; i + 1 < e.size(); ++i)
          if (e[i] == '\n' || (e[i] == '\r' && e[i + 1] != '\n')) starts.push_back(i + 1);
        size_t at = starts[rng() % starts.size()];
        e.insert(at, std::string(kOddLines[o], kOddLens[o]) + br);
      }
      in += e;
    }
    EXPECT_REFERENCE(in, rng() % 2, iter < 60);
  }
}

// Every position of `base` from `from` on, replaced in turn by each byte of `classes` (a string
// literal, NULs included), against the reference; comments alternate with the position.
template <size_t N>
void expect_each_class_from(int line, const std::string &base, size_t from, const char (&classes)[N]) {
  for (size_t at = from; at < base.size(); ++at)
    for (size_t k = 0; k + 1 < N; ++k) {
      std::string in = base;
      in[at] = classes[k];
      expect_reference(__FILE__, line, in, at % 2 == 0, false);
    }
}

// Each byte of a W9 event replaced by each byte that means something to the parser.
TEST(sse_in_place_join_byte_classes_at_every_position) {
  const std::string base = "event: up\nid: 42\ndata: abcdefgh\ndata: ijk\ndata: l\n\ndata: next\n\n";
  expect_each_class_from(__LINE__, base, 0, "\0\r\n: xdei\x80\xC3\xFF\xEF");
}

// Values of every length around the 16-byte moves and the 64- and 128-byte line-end blocks,
// with the event starting at offsets that move its lines across block boundaries.
TEST(sse_in_place_join_lengths_around_blocks) {
  static const size_t kLens[] = {0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 66, 100, 127, 128, 129};
  for (size_t lead : {size_t(0), size_t(1), size_t(50), size_t(57), size_t(63), size_t(64), size_t(120), size_t(127)}) {
    std::string pad = lead ? ":" + std::string(lead - 1, 'p') + "\n" : "";
    for (size_t a : kLens)
      for (size_t b : kLens) {
        std::string va, vb;
        for (size_t i = 0; i < a; ++i) va += char('a' + i % 26);
        for (size_t i = 0; i < b; ++i) vb += char('A' + i % 26);
        std::string in = pad + "event: t\nid: 9\ndata: " + va + "\ndata: " + vb + "\ndata: z\n\ndata: " + vb + "\n\n";
        Events want{ev(va + "\n" + vb + "\nz", "9", "t"), ev(vb, "9")};
        for (size_t batch : {size_t(0), size_t(64)}) {
          Options o;
          o.batch = batch;
          EXPECT_EVENTS(run(in, true, o), want);
          // Cut inside the second data line and inside the last event.
          size_t cut = pad.size() + 23 + a + b / 2;
          EXPECT_EVENTS(run_chunks({in.substr(0, cut), in.substr(cut)}, true, o), want);
        }
      }
  }
}

// The event limit counts data joined in place like data in the buffer: an event of exactly
// the limit passes, one byte more is EVENT_TOO_BIG at the line that passes it, after the
// events before it (which a batch hands out first, the error following on the next call).
TEST(sse_in_place_join_event_limit_and_errors) {
  // "t" + "7" + "abcd\nefgh\n" = 12 bytes (each data line counts with its LF as it is added).
  const std::string ok = "event: t\nid: 7\ndata: abcd\ndata: efgh\n\n";
  const std::string over = "event: t\nid: 7\ndata: abcd\ndata: efghi\n\n";
  for (size_t batch : {size_t(0), size_t(1), size_t(64)}) {
    Options o;
    o.batch = batch;
    o.add(PUSHWIRE_SSE_PARSER_OPT_MAX_EVENT, 12);
    EXPECT_EVENTS(run(ok + ok, true, o), {ev("abcd\nefgh", "7", "t"), ev("abcd\nefgh", "7", "t")});
    EXPECT_EVENTS(run(ok + over + ok, true, o), {ev("abcd\nefgh", "7", "t")}, "EVENT_TOO_BIG");
    EXPECT_EVENTS(run_chunks({ok + "event: t\nid: 7\ndata: ab", "cd\ndata: efghi\n\n" + ok}, true, o),
                  {ev("abcd\nefgh", "7", "t")}, "EVENT_TOO_BIG");
    // An id or type after the data is copied, and counts the same.
    EXPECT_EVENTS(run("data: abcd\ndata: efgh\nevent: t\nid: 7\n\n" + ok, true, o),
                  {ev("abcd\nefgh", "7", "t"), ev("abcd\nefgh", "7", "t")});
    EXPECT_EVENTS(run("data: abcd\ndata: efgh\nevent: t\nid: 78\n\n" + ok, true, o), {}, "EVENT_TOO_BIG");
    Options l;
    l.batch = batch;
    l.add(PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, 10);
    EXPECT_EVENTS(run("data: abcd\n\ndata: 12345\n\n", true, l), {ev("abcd")}, "LINE_TOO_LONG");
  }
}

// Several events of one batch stay intact together, whatever lies where: spans into the
// input, into the buffers (an event finished by the general path), a comment (which ends a
// batch, since later data may be joined over its text), and the last event ID kept in the
// input across feeds and resets.
TEST(sse_next_events_spans_and_state) {
  pushwire_sse_parser *p = nullptr;
  CHECK_EQ(pushwire_sse_parser_new(&p, nullptr), 0);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 1), 0);
  const std::string a = "data: bro", b = "ken\xFF\ndata: two\n\nevent: e\nid: 5\ndata: x\ndata: y\n\n: c\ndata: z\nid: 6\n\n";
  pushwire_sse_event evs[8];
  size_t n = 99;
  CHECK_EQ(pushwire_sse_parser_next_events(p, evs, 8, &n), 0);
  CHECK_EQ(n, 0u);
  CHECK_EQ(pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>(a.data()), a.size()), 0);
  CHECK_EQ(pushwire_sse_parser_next_events(p, evs, 8, &n), 0);
  CHECK_EQ(pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>(b.data()), b.size()), 0);
  CHECK_EQ(pushwire_sse_parser_next_events(p, evs, 8, &n), 1);
  CHECK_EQ(n, 3u);  // the comment ends the batch
  CHECK(sse_test::render(evs[0]) == ev("broken" + R + "\ntwo"));
  CHECK(sse_test::render(evs[1]) == ev("x\ny", "5", "e"));
  CHECK(sse_test::render(evs[2]) == "comment \" c\"");
  CHECK_EQ(pushwire_sse_parser_next_events(p, evs, 8, &n), 1);
  CHECK_EQ(n, 1u);
  CHECK(sse_test::render(evs[0]) == ev("z", "6"));
  pushwire_span id = pushwire_sse_parser_last_event_id(p);
  CHECK_STR(id.ptr, id.len, "6");
  // The id lies in the input until a feed or reset moves it to its own buffer.
  const std::string c = "data: q\n";
  CHECK_EQ(pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>(c.data()), c.size()), 0);
  id = pushwire_sse_parser_last_event_id(p);
  CHECK_STR(id.ptr, id.len, "6");
  CHECK_EQ(pushwire_sse_parser_next_events(p, evs, 8, &n), 0);
  CHECK_EQ(pushwire_sse_parser_reset(p), 0);
  id = pushwire_sse_parser_last_event_id(p);
  CHECK_STR(id.ptr, id.len, "6");
  const std::string d = "id: 7\ndata: r\n\nid: 8\n";
  CHECK_EQ(pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>(d.data()), d.size()), 0);
  CHECK_EQ(pushwire_sse_parser_next_events(p, evs, 1, &n), 1);
  CHECK(sse_test::render(evs[0]) == ev("r", "7"));
  CHECK_EQ(pushwire_sse_parser_reset(p), 0);  // "id: 8" belonged to an unfinished event
  id = pushwire_sse_parser_last_event_id(p);
  CHECK_STR(id.ptr, id.len, "7");
  CHECK_EQ(pushwire_sse_parser_next_events(nullptr, evs, 1, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_next_events(p, nullptr, 1, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_next_events(p, evs, 0, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_next_events(p, evs, 1, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  pushwire_sse_parser_free(p);
}

// ---------------------------------------------------------------------------
// The two stages of the in-place walk: the index of line ends (kSseIndexWindow bytes at a
// time, 64-byte blocks, kSseIndexUnconditional entries stored per block unconditionally), then one loop over
// it that takes "data: ", "event: ", "id: " and blank lines itself.

// The index against a byte loop, for the portable (SSE2) and the AVX2 stage, at every length
// up to a window, with line ends sparse, dense (more than four in a block) and everywhere.
TEST(sse_index_lines_matches_byte_loop) {
  std::mt19937 rng(7);
  static const uint8_t kBytes[] = {'a', ' ', ':', 0x00, 0x80, 0xC3, 0xFF, 0x0B, 0x0C, 0x0E, '\r', '\n'};
  std::vector<bool> paths{false};
  if (pushwire::sse_have_avx2()) paths.push_back(true);
  std::vector<uint8_t> buf(pushwire::kSseIndexWindow + 64);
  std::vector<const uint8_t *> idx(pushwire::kSseIndexRoom);
  for (int iter = 0; iter < 3000; ++iter) {
    const size_t n = iter < 1100 ? size_t(iter) % (pushwire::kSseIndexWindow + 1) : rng() % (pushwire::kSseIndexWindow + 1);
    const unsigned ends_in = 1 + iter % 4;  // 1 in 12 .. 4 in 12 bytes a line end candidate
    for (auto &b : buf) b = kBytes[rng() % (10 + ends_in > 12 ? 12 : 10 + ends_in)];
    if (iter % 7 == 0)
      for (auto &b : buf) b = rng() % 2 ? '\n' : '\r';
    std::vector<uint32_t> want;
    for (size_t i = 0; i < n; ++i)
      if (buf[i] == '\r' || buf[i] == '\n') want.push_back(uint32_t(i));
    for (bool avx2 : paths) {
      size_t k = pushwire::sse_index_lines(buf.data(), n, idx.data(), avx2);
      std::vector<uint32_t> got;
      for (size_t i = 0; i < k; ++i) got.push_back(uint32_t(idx[i] - buf.data()));
      if (got != want) {
        harness::fail(__FILE__, __LINE__, "index of " + std::to_string(n) + " bytes (avx2 " + std::to_string(avx2) +
                                              "): " + std::to_string(k) + " ends, want " + std::to_string(want.size()));
        return;
      }
    }
  }
}

// W9-shaped events shifted across the window and block boundaries (a comment of every length
// in front), with each line-end spelling and an odd line (which the walk hands to the general
// parser mid-window) among them, against the reference, pulled one by one and in batches.
TEST(sse_walk_lines_across_window_boundaries) {
  const char *breaks[] = {"\n", "\r\n", "\r"};
  const std::string win = std::to_string(pushwire::kSseIndexWindow);
  for (size_t lead = pushwire::kSseIndexWindow - 200; lead <= pushwire::kSseIndexWindow + 8; ++lead) {
    const std::string br = breaks[lead % 3];
    std::string in = ":" + std::string(lead, 'p') + br;
    for (int k = 0; k < 3; ++k) {
      in += w9_event(k == 1 ? "" : "tick", std::to_string(lead * 10 + k),
                     {"{\"seq\":" + std::to_string(k) + "}", std::string(lead % 70, 'x'), "caf\xC3\xA9 \xF0\x9F\x98\x80"}, br);
      if (k == 0 && lead % 5 == 0) in += "retry: 7" + br;
    }
    EXPECT_REFERENCE(in, lead % 2 == 1, false);
  }
}

// Dense lines: blocks with more than four line ends (blank lines, "data:" and "id: N" lines
// of a few bytes), which the index stores past its unconditional four.
TEST(sse_walk_dense_short_lines) {
  std::mt19937 rng(4242);
  static const char *const kShort[] = {"", "data:", "data: a", "id: 1", "id:", "event: e", "data", ":", "id: \0"};
  static const size_t kLens[] = {0, 5, 7, 5, 3, 8, 4, 1, 5};
  for (int iter = 0; iter < 300; ++iter) {
    std::string in;
    const std::string br = iter % 4 == 0 ? "\r\n" : iter % 4 == 1 ? "\r" : "\n";
    size_t lines = 20 + rng() % 200;
    for (size_t i = 0; i < lines; ++i) {
      size_t t = rng() % 9;
      in += std::string(kShort[t], kLens[t]) + br;
    }
    EXPECT_REFERENCE(in, iter % 2 == 0, iter < 20);
  }
}

// Every byte class at every position of two W9 events placed so that their lines straddle a
// 64-byte block: the walk's fast lines and the general path must agree with the reference.
TEST(sse_walk_byte_classes_across_a_block) {
  const std::string base = ":" + std::string(40, 'p') + "\nevent: up\nid: 42\ndata: abcdefghijklmnop\ndata: q\n\n" +
                           "id: 43\ndata: r\n\n";
  expect_each_class_from(__LINE__, base, 40, "\0\r\n: di\x80\xC3\xFF");
}

// The UTF-8 check made while a feed is copied (from where the check of earlier feeds
// stopped, an unfinished character included): each byte class at every position of a
// stream of about 300 bytes, cut into two feeds of at least 128 bytes (the one-pass copy and
// check) at every position near it, and into three feeds pulled only after the last one
// (the check then waits for valid_prefix()), against the reference.
TEST(sse_feed_checks_utf8_while_copying) {
  std::string base;
  for (int k = 0; k < 3; ++k)
    base += w9_event("price", std::to_string(k), {"{\"sym\":\"caf\xC3\xA9\",\"px\":1}", "prix: 12,5 \xE2\x82\xAC ok",
                                                  "\xF0\x9F\x98\x80 \xCE\xB1\xCE\xB2 " + std::string(20, 'z')});
  CHECK(base.size() > 300);
  static const char kClasses[] = {'\xFF', '\x80', '\xC3', '\xE2', '\xF0', '\xED', '\0', '\r', '\n', 'a'};
  for (size_t at = 120; at < 200; ++at)
    for (char c : kClasses) {
      std::string in = base;
      in[at] = c;
      const RefResult want = ref_interpret(in, false);
      for (size_t cut = at - 4; cut <= at + 4; ++cut) {
        for (size_t batch : {size_t(0), size_t(64)}) {
          Options o;
          o.batch = batch;
          sse_test::Result got = run_chunks({in.substr(0, cut), in.substr(cut)}, true, o);
          if (got.events != want.events || !got.error.empty() || got.last_event_id != want.last_id) {
            harness::fail(__FILE__, __LINE__, "input " + vectors::escape(in) + " cut at " + std::to_string(cut));
            return;
          }
        }
      }
      // Three feeds, no pull in between.
      pushwire_sse_parser *p = nullptr;
      CHECK_EQ(pushwire_sse_parser_new(&p, nullptr), 0);
      const size_t cuts[] = {0, at - 1, at + 2, in.size()};
      for (int i = 0; i < 3; ++i)
        CHECK_EQ(pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>(in.data()) + cuts[i], cuts[i + 1] - cuts[i]),
                 0);
      pushwire_sse_parser_feed_eof(p);
      sse_test::Result got;
      CHECK(sse_test::drain_batches(p, 64, &got));
      pushwire_sse_parser_free(p);
      CHECK(got.events == want.events);
    }
}

// ---------------------------------------------------------------------------
// Events parsed at feed time (queue_events): against the same parser with that switched off
// (every feed only copied, parsed lazily), call for call, and against the reference.

namespace {

// A W9-style stream (WORKLOADS.md, W8/W9): per event "event: NAME", "id: N" and three data
// lines (a JSON-like line, a line of 20-40 letters, and every fourth event a line with 2-, 3-
// and 4-byte characters), drawn from `seed`, until at least `bytes` bytes.
std::string w9_style_stream(size_t bytes, uint32_t seed, size_t first_id = 1) {
  static const char *const kNames[] = {"update", "price", "tick", "message", "order.filled", "heartbeat"};
  static const char *const kSyms[] = {"AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA", "META", "NFLX"};
  static const char *const kMb[] = {"prix: 12,5 \xE2\x82\xAC \xE2\x80\x94 ok \xE2\x9C\x93 caf\xC3\xA9 \xF0\x9F\x98\x80 ",
                                    "\xE6\x9D\xB1\xE4\xBA\xAC \xE2\x86\x92 \xD0\x96\xD1\x83\xD0\xBA \xC3\xBC\xC3\xB1 ",
                                    "\xF0\x9F\x9A\x80 \xCE\xB1\xCE\xB2\xCE\xB3 \xE2\x89\xA4 \xE2\x88\x9E \xC2\xA7 "};
  static const char kAlpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,";
  std::mt19937 rng(seed);
  auto letters = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += kAlpha[rng() % 64];
    return s;
  };
  std::string out;
  for (size_t i = 0; out.size() < bytes; ++i) {
    char l1[96];
    std::snprintf(l1, sizeof l1, "{\"seq\":%zu,\"sym\":\"%s\",\"px\":%u.%02u}", i, kSyms[rng() % 8], 10 + unsigned(rng() % 990),
                  unsigned(rng() % 100));
    const std::string l2 = "x" + letters(19 + rng() % 21);
    const std::string l3 = i % 4 == 3 ? kMb[i % 3] + letters(10) : "y" + letters(18 + rng() % 21);
    out += std::string("event: ") + kNames[rng() % 6] + "\nid: " + std::to_string(first_id + i) + "\ndata: " + l1 +
           "\ndata: " + l2 + "\ndata: " + l3 + "\n\n";
  }
  return out;
}

// The feed-time walk's run in a feed f, [*start, *end), worked out from the feed alone as
// queue_events documents it (false: the feed has none): only in feeds of SSE_QUEUE_MIN_FEED
// bytes or more, after the first blank line (two LFs in a row) in the first SSE_QUEUE_SEARCH
// bytes, when that is at least 128
// bytes before the feed's end; whole 64-byte blocks with 64 fed bytes after them.
bool walk_run(const std::string &f, size_t *start, size_t *end) {
  const size_t first =
      f.size() < pushwire::SSE_QUEUE_MIN_FEED ? std::string::npos : f.substr(0, pushwire::SSE_QUEUE_SEARCH).find("\n\n");
  if (first == std::string::npos || f.size() - (first + 2) < 128) return false;
  *start = first + 2;
  *end = *start + ((f.size() - *start - 64) & ~size_t(63));
  return true;
}

// How many events the walk queues from the feed f: those its run's lines dispatch, in order,
// up to the first line it leaves to the lazy parser: one longer than the line limit, holding
// a CR or invalid UTF-8, other than "data: ", "event: ", "id: " (no NUL) or blank, a type or
// id after data, one that takes its event over the event limit (the id counted once the run
// has one), a blank line without data in an event that set a type before the run's first id,
// or the blank line of a record past the bound (one per SSE_QUEUE_BYTES_PER_RECORD fed bytes,
// and one).
size_t walk_queues(const std::string &f, size_t max_line = pushwire::SSE_DEFAULT_MAX_LINE,
                   size_t max_event = pushwire::SSE_DEFAULT_MAX_EVENT) {
  size_t start, end;
  if (!walk_run(f, &start, &end)) return 0;
  const size_t max_recs = f.size() / pushwire::SSE_QUEUE_BYTES_PER_RECORD + 1;
  size_t count = 0, type = 0, data = 0, id = 0;
  bool has_data = false, has_id = false, id_known = false, early_type = false;
  for (size_t line = start, e; (e = f.find('\n', line)) < end; line = e + 1) {
    const std::string l = f.substr(line, e - line);
    if (l.size() > max_line || l.find('\r') != std::string::npos || !ref_utf8_valid(l)) break;
    if (l.compare(0, 6, "data: ") == 0) {
      data += l.size() - 6 + 1;
      has_data = true;
    } else if (l.empty()) {
      if (has_data) {
        if (type + data + id > max_event || count == max_recs) break;
        ++count;
      } else if (early_type && !id_known) {
        break;
      }
      type = data = 0;
      has_data = early_type = false;
      id_known = has_id;
    } else if (l.compare(0, 7, "event: ") == 0) {
      type = l.size() - 7;
      if (has_data || type + id > max_event) break;
      early_type |= !has_id && type > 0;
    } else if (l.compare(0, 4, "id: ") == 0) {
      id = l.size() - 4;
      if (has_data || type + id > max_event || l.find('\0') != std::string::npos) break;
      has_id = true;
    } else {
      break;
    }
  }
  return count;
}

// The events of a feed that end (their blank line's LF) inside its walk's run and before
// `before`: what the walk queues from a feed of W9-style events whose first line it leaves to
// the lazy parser starts at `before`.
size_t run_events_before(const std::string &f, size_t before) {
  size_t start, end, n = 0;
  if (!walk_run(f, &start, &end)) return 0;
  for (size_t i = f.find("\n\n", start - 1); i != std::string::npos && i + 1 < end && i + 1 < before;
       i = f.find("\n\n", i + 2))
    ++n;
  return n;
}

// Where the line that holds f[i] starts.
size_t line_start(const std::string &f, size_t i) {
  const size_t lf = i == 0 ? std::string::npos : f.rfind('\n', i - 1);
  return lf == std::string::npos ? 0 : lf + 1;
}

struct FeedScript {
  std::vector<size_t> pieces;  // feed sizes, in order (the last one runs to the end)
  size_t cap = 64;             // next_events' cap
  size_t pulls = SIZE_MAX;     // next_events calls after each feed (stopping at 0 or an error)
  size_t max_line = 0, max_event = 0, max_input = 0;  // 0: default
  bool comments = false;
  bool narrow = false;  // the feed-time walk's 16-byte path even where AVX2 exists
};

// Runs `in` through a parser that parses at feed time and one that does not, making the same
// calls on both: the feeds of `s` (on BUFFER_FULL one pull, then the feed again), each
// followed by up to s.pulls calls of next_events, then feed_eof and a drain. Every return
// value, count, event, last_event_id() and retry delay must be the same after every call, and
// (without limits) the events those of the reference; and every feed made while no events
// were queued must have queued what walk_queues says (their sum goes to *queued). Returns ""
// or what differed.
std::string diff_feed_parsing(const std::string &in, const FeedScript &s, size_t *queued) {
  pushwire::Allocator alloc;
  pushwire::SseParser fast(&alloc), lazy(&alloc);
  lazy.set_feed_parsing(false);
  fast.set_feed_avx2(!s.narrow);
  for (pushwire::SseParser *p : {&fast, &lazy}) {
    if (s.max_line) p->set_max_line(s.max_line);
    if (s.max_event) p->set_max_event(s.max_event);
    if (s.max_input) p->set_max_input(s.max_input);
    p->set_report_comments(s.comments);
  }
  std::vector<pushwire_sse_event> ea(s.cap), eb(s.cap);
  std::vector<std::string> got;
  std::string where;
  auto state = [](pushwire::SseParser &p) {
    pushwire::span id = p.last_event_id();
    return "id " + vectors::escape(std::string(reinterpret_cast<const char *>(id.ptr), id.len)) + " retry " +
           (p.has_retry() ? std::to_string(p.retry_ms()) : "-");
  };
  // One next_events call on both; false when the stream has nothing more (0 or an error).
  auto pull = [&](bool *more) -> std::string {
    size_t na = 0, nb = 0;
    const int ra = fast.next_events(ea.data(), s.cap, &na), rb = lazy.next_events(eb.data(), s.cap, &nb);
    if (ra != rb || na != nb) return "next_events " + std::to_string(ra) + "/" + std::to_string(na) + " vs " + std::to_string(rb) + "/" + std::to_string(nb);
    for (size_t i = 0; i < na; ++i) {
      const std::string a = sse_test::render(ea[i]), b = sse_test::render(eb[i]);
      if (a != b) return "event " + a + " vs " + b;
      got.push_back(a);
    }
    if (state(fast) != state(lazy)) return "after next_events: " + state(fast) + " vs " + state(lazy);
    *more = ra == 1;
    return "";
  };
  size_t off = 0;
  *queued = 0;
  for (size_t k = 0; off < in.size(); ++k) {
    const size_t len = k < s.pieces.size() && s.pieces[k] < in.size() - off ? s.pieces[k] : in.size() - off;
    const uint8_t *p = reinterpret_cast<const uint8_t *>(in.data()) + off;
    for (bool pulled_all = false;;) {
      const size_t held = fast.queued_events();
      const int ra = fast.feed(p, len), rb = lazy.feed(p, len);
      where = " (feed " + std::to_string(k) + " at " + std::to_string(off) + ")";
      if (ra != rb) return "feed " + std::to_string(ra) + " vs " + std::to_string(rb) + where;
      if (state(fast) != state(lazy)) return "after feed: " + state(fast) + " vs " + state(lazy) + where;
      if (ra == 0 && held == 0) {  // else only held behind the records, or not taken
        const size_t want = walk_queues(in.substr(off, len), s.max_line ? s.max_line : pushwire::SSE_DEFAULT_MAX_LINE,
                                        s.max_event ? s.max_event : pushwire::SSE_DEFAULT_MAX_EVENT);
        if (fast.queued_events() != want)
          return "queued " + std::to_string(fast.queued_events()) + " events, walk_queues " + std::to_string(want) + where;
        *queued += want;
      }
      if (ra != pushwire::ERR_BUFFER_FULL) break;
      bool more = false;
      std::string d = pull(&more);
      if (!d.empty()) return d + where;
      if (!more && pulled_all) return "BUFFER_FULL with nothing to pull" + where;
      pulled_all = !more;  // then the input is empty, and the next feed is taken
    }
    off += len;
    bool more = true;
    for (size_t i = 0; more && i < s.pulls; ++i) {
      std::string d = pull(&more);
      if (!d.empty()) return d + where;
    }
  }
  fast.feed_eof();
  lazy.feed_eof();
  for (bool more = true; more;) {
    std::string d = pull(&more);
    if (!d.empty()) return d + " (after eof)";
  }
  if (!s.max_line && !s.max_event && !s.max_input) {
    const RefResult want = ref_interpret(in, s.comments);
    if (got != want.events) return "events differ from the reference";
  }
  return "";
}

// Returns how many events the feed-time walk queued.
size_t expect_same(const char *file, int line, const std::string &in, const FeedScript &s) {
  size_t queued = 0;
  const std::string d = diff_feed_parsing(in, s, &queued);
  if (!d.empty())
    harness::fail(file, line, d + " on " + std::to_string(in.size()) + " bytes, cap " + std::to_string(s.cap) +
                                  ", pulls " + std::to_string(s.pulls) + ", first piece " +
                                  std::to_string(s.pieces.empty() ? in.size() : s.pieces[0]) + ": " +
                                  vectors::escape(in.substr(0, 300)));
  return queued;
}
#define EXPECT_SAME_AS_LAZY(in, s) expect_same(__FILE__, __LINE__, (in), (s))

// A W9-style feed, fed whole, with the byte at i (in its walk's run) changed to c: the walk
// queued every event that ends before the line of that byte, and when c is a CR or invalid
// UTF-8 (which stop the walk at that line) none after it.
void expect_queued_before(const char *file, int line, const std::string &in, size_t i, char c, size_t queued) {
  const size_t before = run_events_before(in, line_start(in, i));
  if (c == '\r' || c == '\xFF' ? queued != before : queued < before)
    harness::fail(file, line, "queued " + std::to_string(queued) + " events, " + std::to_string(before) +
                                  " end before byte " + std::to_string(i) + " (" + vectors::escape(std::string(1, c)) + ")");
}
#define EXPECT_QUEUED_BEFORE(in, i, c, queued) expect_queued_before(__FILE__, __LINE__, (in), (i), (c), (queued))

// The pull patterns: every event at once after each feed, one at a time, a few, none until the end.
const size_t kCaps[] = {1, 3, 64};
const size_t kPulls[] = {SIZE_MAX, 1, 0};

}  // namespace

// W9-style streams fed whole, in 64 KiB-like pieces scaled down, in random pieces, and cut in
// two at every position, pulled every way.
TEST(sse_feed_parsing_matches_lazy_on_w9_streams) {
  const std::string big = w9_style_stream(40000, 9);
  // Fed whole, every event but the first (before the run) and those ending in the last 128
  // bytes (at most the last two: each is longer than 64) is queued.
  const size_t events = ref_interpret(big, false).events.size();
  // In 4 KiB feeds: every feed walked when its events are all pulled before the next, else at
  // least the first.
  size_t each = 0;
  for (size_t off = 0; off < big.size(); off += 4096) each += walk_queues(big.substr(off, 4096));
  const size_t first = walk_queues(big.substr(0, 4096));
  CHECK(first > 0);
  std::mt19937 rng(99);
  for (size_t cap : kCaps)
    for (size_t pulls : kPulls) {
      FeedScript s;
      s.cap = cap;
      s.pulls = pulls;
      CHECK(EXPECT_SAME_AS_LAZY(big, s) + 3 >= events);
      s.narrow = true;
      CHECK(EXPECT_SAME_AS_LAZY(big, s) + 3 >= events);
      s.narrow = false;
      s.pieces.assign(40, 4096);
      const size_t q = EXPECT_SAME_AS_LAZY(big, s);
      CHECK(pulls == SIZE_MAX ? q == each : q >= first);
      s.pieces.clear();
      for (int i = 0; i < 60; ++i) s.pieces.push_back(1 + rng() % 3000);
      CHECK(EXPECT_SAME_AS_LAZY(big, s) > 0);
    }
  const std::string small = w9_style_stream(1500, 10);
  size_t queued = 0;
  for (size_t cut = 1; cut < small.size(); ++cut)
    for (size_t cap : {size_t(1), size_t(64)})
      for (size_t pulls : {SIZE_MAX, size_t(0)}) {
        FeedScript s;
        s.cap = cap;
        s.pulls = pulls;
        s.pieces = std::vector<size_t>{cut};
        queued += EXPECT_SAME_AS_LAZY(small, s);
      }
  CHECK(queued > small.size());
}

// Each byte that means something to the parser at every position near the seams of the
// feed-time walk (its start after the first blank line, the 64-byte blocks, the 1 KiB index
// windows, the 4 KiB UTF-8 checks, the 64 bytes kept back at the end of a feed).
TEST(sse_feed_parsing_byte_classes_near_seams) {
  const std::string base = w9_style_stream(5000, 11);
  const size_t start = base.find("\n\n") + 2;
  std::vector<size_t> at;
  for (size_t seam : {start, start + 64, start + 1024, start + 4096, base.size() - 64 - (base.size() - start - 64) % 64})
    for (size_t i = seam - 6; i < seam + 6 && i < base.size(); ++i) at.push_back(i);
  for (size_t i = base.size() - 140; i < base.size(); i += 3) at.push_back(i);
  static const char kClasses[] = {'\0', '\r', '\n', ':', ' ', 'd', 'i', 'e', '\x80', '\xC3', '\xFF', '\xF0'};
  for (size_t i : at)
    for (char c : kClasses) {
      std::string in = base;
      in[i] = c;
      for (size_t cap : {size_t(1), size_t(64)}) {
        FeedScript s;
        s.cap = cap;
        s.comments = i % 2;
        const size_t queued = EXPECT_SAME_AS_LAZY(in, s);
        if (i >= start) EXPECT_QUEUED_BEFORE(in, i, c, queued);
        s.pieces = std::vector<size_t>{i - 100, 2000};
        EXPECT_SAME_AS_LAZY(in, s);
      }
    }
}

// Lines the feed-time walk leaves to the lazy parser, spliced into a W9 stream at random line
// boundaries: the run of queued events ends before their event, and the rest follows lazily.
TEST(sse_feed_parsing_odd_lines) {
  static const char *const kOdd[] = {"data:nospace", "data", ": comment", "retry: 250", "id: late", "event: late",
                                     "foo: bar", "data: a\rdata: b", "id: 1\r\n", ("\xEF\xBB\xBF" "data: bom"), "id",
                                     "data: caf\xC3", "event: \xFF"};
  const std::string base = w9_style_stream(3000, 12);
  std::vector<size_t> starts;
  for (size_t i = 0; i + 1 < base.size(); ++i)
    if (base[i] == '\n') starts.push_back(i + 1);
  const size_t start = base.find("\n\n") + 2;
  size_t whole = 0;  // events queued from the streams fed whole
  std::mt19937 rng(1212);
  for (int iter = 0; iter < 300; ++iter) {
    std::string in = base;
    for (int k = 1 + rng() % 3; k > 0; --k) {
      const size_t pos = starts[rng() % starts.size()];
      in.insert(pos < in.size() ? pos : in.size(), std::string(kOdd[rng() % (sizeof kOdd / sizeof kOdd[0])]) + "\n");
    }
    FeedScript s;
    s.cap = kCaps[iter % 3];
    s.pulls = kPulls[(iter / 3) % 3];
    s.comments = iter % 2;
    if (iter % 4 == 1) s.pieces = std::vector<size_t>{size_t(700 + rng() % 1500), size_t(600 + rng() % 1500)};
    const size_t queued = EXPECT_SAME_AS_LAZY(in, s);
    // Fed whole: at least the events before the first odd line (where in first differs).
    const size_t changed = size_t(std::mismatch(base.begin(), base.end(), in.begin()).first - base.begin());
    if (s.pieces.empty() && changed >= start) {
      CHECK(queued >= run_events_before(in, line_start(in, changed)));
      whole += queued;
    }
  }
  CHECK(whole > 0);
}

// The limits at every value around where they bite: the event limit with an id the lazy
// parser set before the queued run (the records' sizes are checked against it when pulled),
// the line limit, and the input limit (queued events count as unparsed input until pulled).
TEST(sse_feed_parsing_limits_at_every_value) {
  size_t queued = 0;  // from the id's own feed on
  for (size_t id_len : {size_t(0), size_t(1), size_t(9), size_t(40)}) {
    // The first event sets the id; the next ones inherit it until one sets its own.
    std::string in = "id: " + std::string(id_len, '7') + "\ndata: head\n\n";
    for (int k = 0; k < 8; ++k)
      in += (k % 3 == 0 ? "event: tt\n" : "") + std::string("data: ") + std::string(20 + 5 * k, 'a' + k) +
            "\ndata: z\n" + (k == 5 ? "id: 5\n" : "") + "\n";
    in += w9_style_stream(1200, 13);
    // Fed whole, the run starts at event 0 and ends at event 5 at the latest (its id follows
    // its data): the events before the first the limit stops, each counted as its type, its
    // data lines with their LFs, and no id (the run has none yet).
    for (size_t max_event = 10; max_event < 110; ++max_event)
      for (size_t cap : {size_t(1), size_t(64)}) {
        FeedScript s;
        s.cap = cap;
        s.max_event = max_event;
        size_t want = 0;
        for (int k = 0; k < 5 && (k % 3 == 0 ? 2 : 0) + size_t(20 + 5 * k + 1) + 2 <= max_event; ++k) ++want;
        CHECK_EQ(EXPECT_SAME_AS_LAZY(in, s), want);
        s.pieces = std::vector<size_t>{30, 4000};  // the id in a feed of its own, parsed lazily
        s.pulls = 0;
        queued += EXPECT_SAME_AS_LAZY(in, s);
      }
    for (size_t max_line = 4; max_line < 80; ++max_line) {
      FeedScript s;
      s.max_line = max_line;
      s.cap = max_line % 2 ? 1 : 64;
      // The same events, now up to the first with a data line over the line limit.
      size_t want = 0;
      for (int k = 0; k < 5 && size_t(6 + 20 + 5 * k) <= max_line; ++k) ++want;
      CHECK_EQ(EXPECT_SAME_AS_LAZY(in, s), want);
    }
  }
  CHECK(queued > 0);
  const std::string w9 = w9_style_stream(6000, 14);
  queued = 0;
  for (size_t max_input = 600; max_input < 7000; max_input += 37)
    for (size_t cap : kCaps)
      for (size_t pulls : {size_t(0), size_t(1)}) {
        FeedScript s;
        s.cap = cap;
        s.pulls = pulls;
        s.max_input = max_input;
        s.pieces = std::vector<size_t>{1000, 800, 1500, 513, 2000};
        queued += EXPECT_SAME_AS_LAZY(w9, s);
      }
  CHECK(queued > 0);
}

// What last_event_id() and the input accounting show between a feed and the pulls: the id
// before the feed until events are pulled, then each pulled event's; and the queued bytes
// held until their event is pulled (exactly: a feed of the room left is taken, one more byte
// is BUFFER_FULL).
TEST(sse_feed_parsing_state_between_feed_and_pull) {
  const std::string in = "id: first\ndata: a\n\n" + w9_style_stream(3000, 15, 100);
  std::vector<size_t> ends;  // where each event's blank line ends
  for (size_t i = in.find("\n\n"); i != std::string::npos; i = in.find("\n\n", i + 2)) ends.push_back(i + 2);
  const size_t whole = ends.back();
  for (size_t k = 0; k + 1 < ends.size(); ++k) {
    pushwire::Allocator alloc;
    pushwire::SseParser p(&alloc);
    p.set_max_input(whole + 10);
    CHECK_EQ(p.feed(reinterpret_cast<const uint8_t *>(in.data()), whole), 0);
    CHECK(p.last_event_id().len == 0);
    // Queued: every event after the first whose end is at least 64 bytes before the feed's,
    // in the run's whole blocks; the first is parsed lazily, then each next() takes a record.
    size_t queued = 0;
    for (size_t j = 1; j < ends.size(); ++j) queued += ends[j] <= ends[0] + ((whole - ends[0] - 64) & ~size_t(63));
    CHECK(queued > 0);
    CHECK_EQ(p.queued_events(), queued);
    pushwire_sse_event ev;
    for (size_t i = 0; i <= k; ++i) CHECK_EQ(p.next(&ev), 1);
    CHECK_EQ(p.queued_events(), k < queued ? queued - k : 0);
    const std::string id = sse_test::str(ev.last_event_id);
    CHECK(id == (k == 0 ? std::string("first") : std::to_string(100 + k - 1)));
    CHECK(sse_test::str(p.last_event_id()) == id);
    const size_t room = whole + 10 - (whole - ends[k]);
    std::string more = w9_style_stream(room + 1, 16);
    CHECK_EQ(p.feed(reinterpret_cast<const uint8_t *>(more.data()), room + 1), pushwire::ERR_BUFFER_FULL);
    CHECK_EQ(p.feed(reinterpret_cast<const uint8_t *>(more.data()), room), 0);
    CHECK(sse_test::str(p.last_event_id()) == id);
  }
}

// A W9 prefix (256 KiB of W9-style events, generated here, so this always checks something;
// and the real w9.sse as well when tests/bench/prepare.sh has made it) in 64 KiB feeds, as the
// benchmark feeds it, and in 1000-byte feeds, pulled in batches of 64 and one by one, against
// the reference, and call for call against the lazy parser.
TEST(sse_walk_matches_reference_on_w9_prefix) {
  std::vector<std::string> inputs{w9_style_stream(size_t(256) << 10, 2026)};
  if (FILE *f = std::fopen("/tmp/pushwire-bench/w9.sse", "rb")) {
    std::string real(size_t(256) << 10, '\0');
    real.resize(std::fread(&real[0], 1, real.size(), f));
    std::fclose(f);
    real.resize(real.rfind("\n\n") + 2);  // whole events
    inputs.push_back(real);
  }
  for (const std::string &in : inputs) {
    const RefResult want = ref_interpret(in, false);
    CHECK(want.events.size() > 1500);
    for (size_t piece : {size_t(65536), size_t(1000)}) {
      std::vector<std::string> chunks;
      for (size_t i = 0; i < in.size(); i += piece) chunks.push_back(in.substr(i, piece));
      for (size_t batch : {size_t(0), size_t(64)}) {
        Options o;
        o.batch = batch;
        sse_test::Result got = run_chunks(chunks, true, o);
        CHECK(got.error.empty());
        CHECK(got.events == want.events);
        CHECK(got.last_event_id == want.last_id);
      }
      FeedScript s;
      s.pieces.assign(in.size() / piece + 1, piece);
      CHECK(EXPECT_SAME_AS_LAZY(in, s) > 0);
    }
  }
}

// The feed-time walk's own seams (it finds each line as the next LF bit of its 64-byte block
// and classifies a block only for CR once): each byte class at every position of the run's
// first blocks and around its 4 KiB UTF-8 check (a CR, an invalid byte or a NUL cuts the
// run inside a block; the block the check cuts is taken up to the cut).
TEST(sse_feed_parsing_walk_every_position_of_its_blocks) {
  const std::string base = w9_style_stream(6000, 21);
  const size_t start = base.find("\n\n") + 2;
  std::vector<size_t> at;
  for (size_t i = start - 3; i < start + 200; ++i) at.push_back(i);
  for (size_t i = start + 4096 - 70; i < start + 4096 + 70; ++i) at.push_back(i);
  static const char kClasses[] = {'\r', '\0', '\n', '\x80', '\xC3', '\xFF', 'd', ':'};
  for (size_t i : at)
    for (char c : kClasses) {
      std::string in = base;
      in[i] = c;
      FeedScript s;
      s.cap = i % 3 ? 64 : 1;
      const size_t queued = EXPECT_SAME_AS_LAZY(in, s);
      if (i >= start) EXPECT_QUEUED_BEFORE(in, i, c, queued);
      s.narrow = true;
      CHECK_EQ(EXPECT_SAME_AS_LAZY(in, s), queued);
    }
}

// Values of every length around the walk's fixed moves (a type or id up to 16 bytes in one
// 16-byte move, a data value up to 64 in one 64-byte move, longer ones copied exactly), one
// after the other in the same store, each event checked against the lazy parser.
TEST(sse_feed_parsing_value_lengths_around_the_fixed_moves) {
  std::string in = "data: head\n\n";
  for (size_t n = 0; n < 140; ++n)
    in += "event: " + std::string(n % 41, char('A' + n % 26)) + "\nid: " + std::string(n % 37, char('0' + n % 10)) +
          "\ndata: " + std::string(n, char('a' + n % 26)) + "\ndata: " + std::string(139 - n, 'z') + "\ndata: " +
          std::string(n % 67, char('k' + n % 9)) + "\n\n";
  for (size_t cap : kCaps)
    for (bool narrow : {false, true}) {
      FeedScript s;
      s.cap = cap;
      s.narrow = narrow;
      // Fed whole: all 140 but the last (the run ends 64 to 127 bytes before the feed, and
      // every event is longer than 128 bytes).
      CHECK_EQ(EXPECT_SAME_AS_LAZY(in, s), size_t(140 - 1));
      s.pieces = std::vector<size_t>{5000, 7000};
      CHECK(EXPECT_SAME_AS_LAZY(in, s) > 0);
    }
}

// The run's first id line at every place in an event: the records before it carry the last
// event ID from before the run and have their size checked against it when pulled; from the
// event that holds that line on they are handed out as they are. Types and ids of every
// length against every event limit, with an id set before the run, pulled in batches that
// cross that point. An event without data that sets a type there is checked too (it fires
// nothing, but the lazy parser fails on it when the type and the old id pass the limit).
TEST(sse_feed_parsing_first_id_of_the_run) {
  static const char *const kFirst[] = {
      "event: tname\nid: 42\ndata: yy\n\n", "id: 42\nevent: tname\ndata: yy\n\n", "id: 42\ndata: yy\n\n",
      "event: tname\nid: 42\n\n",           "event: tname\n\n",                   "id: 42\n\n",
      "event: a\nevent: tname\nid: 4\ndata: y\n\n", "event: tname\nevent: a\ndata: y\n\n"};
  for (size_t id_len : {size_t(0), size_t(3), size_t(30)})
    for (const char *first : kFirst)
      for (size_t before : {size_t(0), size_t(1), size_t(4)}) {
        // A type before the run's first id in an event without data stops the walk there
        // (after the events before it); else it goes on until the queue's bound (a record per
        // 80 fed bytes) stops it among the 30 short events.
        const bool stops = std::string(first).find("data") == std::string::npos && first[0] == 'e';
        std::string in = "id: " + std::string(id_len, 'q') + "\ndata: h\n\n";
        for (size_t k = 0; k < before; ++k)
          in += (k % 2 ? "event: tt\n" : "") + std::string("data: ") + std::string(10 + k, 'x') + "\n\n";
        in += first;
        for (size_t k = 0; k < 30; ++k)  // short enough for every limit tried
          in += (k % 3 ? "" : "event: ab\n") + std::string(k % 4 ? "" : "id: 7\n") + "data: z\n\n";
        in += w9_style_stream(700, 22);
        for (size_t max_event = 8; max_event < 60; ++max_event)
          for (size_t cap : kCaps) {
            FeedScript s;
            s.cap = cap;
            s.max_event = max_event;
            s.pulls = cap == 3 ? 1 : SIZE_MAX;
            s.narrow = max_event % 2;
            EXPECT_SAME_AS_LAZY(in, s);
          }
        FeedScript s;
        const size_t queued = EXPECT_SAME_AS_LAZY(in, s);
        CHECK_EQ(queued, stops ? before : in.size() / pushwire::SSE_QUEUE_BYTES_PER_RECORD + 1);
      }
}
