// The SSE part of the C ABI: argument checks and every documented return code, the
// allocator contract (all memory through it, all of it returned, NOMEM on failure), and
// pushwire_sse_request_check over a parsed request.
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "harness.hpp"
#include "pushwire/pushwire.h"
#include "sse_test_util.hpp"

namespace {

const uint8_t *u8(const char *s) { return reinterpret_cast<const uint8_t *>(s); }

pushwire_sse_fields fields() {
  pushwire_sse_fields f;
  std::memset(&f, 0, sizeof f);
  f.retry_ms = -1;
  return f;
}

}  // namespace

TEST(capi_sse_encode) {
  pushwire_sse_fields f = fields();
  f.event = "tick";
  f.event_len = 4;
  f.data = "a\r\nb";
  f.data_len = 4;
  size_t n = 0;
  CHECK_EQ(pushwire_sse_encode(&f, nullptr, 0, &n), PUSHWIRE_ERR_BUFFER_TOO_SMALL);
  CHECK_EQ(n, 29);
  uint8_t buf[64];
  CHECK_EQ(pushwire_sse_encode(&f, buf, 28, &n), PUSHWIRE_ERR_BUFFER_TOO_SMALL);
  CHECK_EQ(n, 29);
  CHECK_EQ(pushwire_sse_encode(&f, buf, 29, &n), 0);
  CHECK_STR(buf, n, "event: tick\ndata: a\ndata: b\n\n");
  // Argument checks.
  CHECK_EQ(pushwire_sse_encode(nullptr, buf, sizeof buf, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_encode(&f, buf, sizeof buf, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_encode(&f, nullptr, 10, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  f.reserved[1] = 1;
  CHECK_EQ(pushwire_sse_encode(&f, buf, sizeof buf, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  f = fields();
  CHECK_EQ(pushwire_sse_encode(&f, buf, sizeof buf, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);  // no field
  f.data_len = 1;  // NULL data with a length
  CHECK_EQ(pushwire_sse_encode(&f, buf, sizeof buf, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  f = fields();
  f.id = "a\nb";
  f.id_len = 3;
  CHECK_EQ(pushwire_sse_encode(&f, buf, sizeof buf, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  f.id = "a\0b";
  CHECK_EQ(pushwire_sse_encode(&f, buf, sizeof buf, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  f = fields();
  f.event = "a\rb";
  f.event_len = 3;
  CHECK_EQ(pushwire_sse_encode(&f, buf, sizeof buf, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  // Present-but-empty versus absent.
  f = fields();
  f.data = "";
  CHECK_EQ(pushwire_sse_encode(&f, buf, sizeof buf, &n), 0);
  CHECK_STR(buf, n, "data:\n\n");
  f = fields();
  f.retry_ms = 10;
  f.comment = "x";
  f.comment_len = 1;
  CHECK_EQ(pushwire_sse_encode(&f, buf, sizeof buf, &n), 0);
  CHECK_STR(buf, n, ": x\nretry: 10\n\n");
}

// A batch gives the bytes of pushwire_sse_encode per event, whatever the room: every cap
// from 0 to the whole stream stops at the first event that does not fit, with the events
// before it complete; a refused event stops the batch where it is, with its index.
TEST(capi_sse_encode_many) {
  std::vector<std::string> texts;
  for (int i = 0; i < 12; ++i) texts.push_back(std::string(size_t(i * 9), char('a' + i)) + (i % 3 ? "\r\n" : "\n") + "z");
  std::vector<pushwire_sse_fields> ev(texts.size(), fields());
  std::string want;
  std::vector<size_t> ends;
  for (size_t i = 0; i < ev.size(); ++i) {
    ev[i].event = "tick";
    ev[i].event_len = 4;
    ev[i].id = texts[i].c_str() + texts[i].size() - 1;
    ev[i].id_len = 1;
    ev[i].data = texts[i].data();
    ev[i].data_len = texts[i].size();
    if (i == 5) ev[i].retry_ms = 100;
    if (i == 7) ev[i].comment = "c", ev[i].comment_len = 1;
    uint8_t one[512];
    size_t n = 0;
    CHECK_EQ(pushwire_sse_encode(&ev[i], one, sizeof one, &n), 0);
    CHECK(std::string(reinterpret_cast<const char *>(one), n) == sse_test::reference_encode(ev[i]));
    want.append(reinterpret_cast<const char *>(one), n);
    ends.push_back(want.size());
  }
  sse_test::check_every_cap(ev, want, ends, 8, pushwire_sse_encode_many);
  // A refused event: the ones before it are kept, *encoded is its index.
  std::vector<uint8_t> out(4096);
  size_t written = 0, encoded = 0;
  const size_t at = 4;
  for (int why = 0; why < 5; ++why) {
    std::vector<pushwire_sse_fields> bad = ev;
    if (why == 0) bad[at].event = "a\rb", bad[at].event_len = 3;
    if (why == 1) bad[at].id = "1\0", bad[at].id_len = 2;
    if (why == 2) bad[at].reserved[0] = 1;
    if (why == 3) bad[at].data = nullptr;
    if (why == 4) bad[at] = fields();  // no field at all
    CHECK_EQ(pushwire_sse_encode_many(bad.data(), bad.size(), out.data(), out.size(), &written, &encoded),
             PUSHWIRE_ERR_INVALID_ARGUMENT);
    CHECK_EQ(encoded, at);
    CHECK_EQ(written, ends[at - 1]);
    CHECK(std::memcmp(out.data(), want.data(), written) == 0);
  }
  // Argument checks leave *written and *encoded alone.
  written = encoded = 7;
  CHECK_EQ(pushwire_sse_encode_many(ev.data(), ev.size(), out.data(), out.size(), nullptr, &encoded),
           PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_encode_many(ev.data(), ev.size(), out.data(), out.size(), &written, nullptr),
           PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_encode_many(nullptr, 1, out.data(), out.size(), &written, &encoded),
           PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_encode_many(ev.data(), ev.size(), nullptr, 10, &written, &encoded),
           PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(written, 7);
  CHECK_EQ(encoded, 7);
  // Nothing to do is done.
  CHECK_EQ(pushwire_sse_encode_many(nullptr, 0, nullptr, 0, &written, &encoded), 0);
  CHECK_EQ(written, 0);
  CHECK_EQ(encoded, 0);
}

TEST(capi_sse_writer) {
  AllocCounter ac;
  pushwire_sse_writer *w = nullptr;
  pushwire_allocator half = ac.api;
  half.realloc = nullptr;
  CHECK_EQ(pushwire_sse_writer_new(&w, &half), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK(w == nullptr);
  CHECK_EQ(pushwire_sse_writer_new(nullptr, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_writer_new(&w, &ac.api), 0);
  CHECK(w != nullptr);
  CHECK_EQ(pushwire_sse_writer_set_option(w, PUSHWIRE_SSE_WRITER_OPT_MAX_OUTPUT_BUFFER, 0),
           PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_writer_set_option(w, pushwire_sse_writer_option(99), 1), PUSHWIRE_ERR_UNSUPPORTED);
  CHECK_EQ(pushwire_sse_writer_set_option(nullptr, PUSHWIRE_SSE_WRITER_OPT_HEARTBEAT_MS, 1),
           PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_writer_set_option(w, PUSHWIRE_SSE_WRITER_OPT_HEARTBEAT_MS, 15000), 0);
  CHECK_EQ(pushwire_sse_writer_add_header(w, "X-Id", 4, "7", 1), 0);
  CHECK_EQ(pushwire_sse_writer_add_header(w, nullptr, 0, "7", 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_writer_add_header(w, "X-Id", 4, nullptr, 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_writer_add_header(nullptr, "X-Id", 4, "7", 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_writer_response_head(w), 0);
  CHECK_EQ(pushwire_sse_writer_response_head(nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  pushwire_sse_fields f = fields();
  f.data = "hi";
  f.data_len = 2;
  CHECK_EQ(pushwire_sse_writer_event(w, &f), 0);
  CHECK_EQ(pushwire_sse_writer_event(w, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_writer_event(nullptr, &f), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_writer_comment(w, "ping", 4), 0);
  CHECK_EQ(pushwire_sse_writer_comment(w, nullptr, 0), 0);
  CHECK_EQ(pushwire_sse_writer_comment(w, nullptr, 3), PUSHWIRE_ERR_INVALID_ARGUMENT);
  pushwire_span out;
  size_t n = pushwire_sse_writer_peek_output(w, &out);
  const char *want =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
      "X-Accel-Buffering: no\r\nX-Id: 7\r\n\r\ndata: hi\n\n: ping\n:\n";
  CHECK_STR(out.ptr, out.len, want);
  CHECK_EQ(n, out.len);
  CHECK_EQ(pushwire_sse_writer_output_size(w), n);
  CHECK_EQ(pushwire_sse_writer_consume_output(w, n + 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_writer_consume_output(w, n - 3), 0);
  CHECK_EQ(pushwire_sse_writer_peek_output(w, nullptr), 3);
  CHECK_EQ(pushwire_sse_writer_consume_output(w, 3), 0);
  CHECK_EQ(pushwire_sse_writer_peek_output(w, &out), 0);
  CHECK_EQ(pushwire_sse_writer_consume_output(nullptr, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_writer_peek_output(nullptr, &out), 0);
  CHECK_EQ(pushwire_sse_writer_output_size(nullptr), 0);
  uint64_t next = 0;
  CHECK_EQ(pushwire_sse_writer_tick(w, 100, &next), 0);
  CHECK_EQ(next, 15100);
  CHECK_EQ(pushwire_sse_writer_tick(w, 15100, &next), 1);
  CHECK_EQ(pushwire_sse_writer_tick(nullptr, 0, &next), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK(ac.live > 0);
  pushwire_sse_writer_free(w);
  pushwire_sse_writer_free(nullptr);
  CHECK_EQ(ac.live, 0);
}

TEST(capi_sse_parser_arguments) {
  AllocCounter ac;
  pushwire_sse_parser *p = nullptr;
  CHECK_EQ(pushwire_sse_parser_new(nullptr, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  pushwire_allocator half = ac.api;
  half.free = nullptr;
  CHECK_EQ(pushwire_sse_parser_new(&p, &half), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK(p == nullptr);
  CHECK_EQ(pushwire_sse_parser_new(&p, &ac.api), 0);
  CHECK_EQ(pushwire_sse_parser_set_option(p, pushwire_sse_parser_option(0), 1), PUSHWIRE_ERR_UNSUPPORTED);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_EVENT, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_INPUT_BUFFER, 0),
           PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 2),
           PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_set_option(nullptr, PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, 1),
           PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, UINT64_MAX), 0);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 1), 0);
  CHECK_EQ(pushwire_sse_parser_feed(p, nullptr, 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_feed(nullptr, u8("x"), 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_feed(p, nullptr, 0), 0);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, 5), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_sse_parser_feed(p, u8(": c\nid: 5\nevent: e\ndata: d\n\nretry: 9\n"), 38), 0);
  pushwire_sse_event ev;
  CHECK_EQ(pushwire_sse_parser_next_event(p, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_next_event(nullptr, &ev), PUSHWIRE_ERR_INVALID_ARGUMENT);
  std::memset(&ev, 0xAA, sizeof ev);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &ev), 1);
  CHECK_EQ(ev.type, PUSHWIRE_SSE_EV_COMMENT);
  CHECK_STR(ev.data.ptr, ev.data.len, " c");
  CHECK_EQ(ev.event_type.len, 0);
  CHECK_EQ(ev.flags, 0);
  CHECK_EQ(ev.reserved, 0);
  std::memset(&ev, 0xAA, sizeof ev);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &ev), 1);
  CHECK_EQ(ev.type, PUSHWIRE_SSE_EV_EVENT);
  CHECK_STR(ev.event_type.ptr, ev.event_type.len, "e");
  CHECK_STR(ev.data.ptr, ev.data.len, "d");
  CHECK_STR(ev.last_event_id.ptr, ev.last_event_id.len, "5");
  CHECK_EQ(ev.retry_ms, 0);
  CHECK_EQ(ev.flags, 0);
  CHECK_EQ(ev.reserved, 0);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &ev), 1);
  CHECK_EQ(ev.type, PUSHWIRE_SSE_EV_RETRY);
  CHECK_EQ(ev.retry_ms, 9);
  CHECK_EQ(ev.data.len, 0);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &ev), 0);
  pushwire_span id = pushwire_sse_parser_last_event_id(p);
  CHECK_STR(id.ptr, id.len, "5");
  CHECK_EQ(pushwire_sse_parser_last_event_id(nullptr).len, 0);
  CHECK_EQ(pushwire_sse_parser_retry_ms(p, 3000), 9);
  CHECK_EQ(pushwire_sse_parser_retry_ms(nullptr, 3000), 3000);
  size_t n = 0;
  uint8_t buf[8];
  CHECK_EQ(pushwire_sse_parser_reconnect_headers(nullptr, buf, sizeof buf, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_reconnect_headers(p, buf, sizeof buf, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_reconnect_headers(p, nullptr, 8, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_feed_eof(nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_sse_parser_reset(nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK(ac.live > 0);
  pushwire_sse_parser_free(p);
  pushwire_sse_parser_free(nullptr);
  CHECK_EQ(ac.live, 0);
}

// Fail every allocation in turn: each call returns NOMEM or works, nothing crashes or
// leaks, and a parser that reported NOMEM keeps reporting it.
TEST(capi_sse_failing_allocations) {
  const std::string stream = "\xEF\xBB\xBFid: 1\nevent: e\ndata: a\xFF\ndata: b\n\nretry: 5\n: c\nid: 2\ndata: c\n\n";
  for (size_t fail_at = 1; fail_at < 40; ++fail_at) {
    AllocCounter ac;
    ac.fail_at = fail_at;
    pushwire_sse_parser *p = nullptr;
    int rc = pushwire_sse_parser_new(&p, &ac.api);
    if (rc == PUSHWIRE_ERR_NOMEM) {
      CHECK(p == nullptr);
      CHECK_EQ(ac.live, 0);
      continue;
    }
    CHECK_EQ(rc, 0);
    pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 1);
    bool nomem = false;
    for (size_t i = 0; i < stream.size() && !nomem; i += 7) {
      size_t len = stream.size() - i < 7 ? stream.size() - i : 7;
      rc = pushwire_sse_parser_feed(p, u8(stream.data() + i), len);
      if (rc == PUSHWIRE_ERR_NOMEM) nomem = true;
      pushwire_sse_event ev;
      while (!nomem && (rc = pushwire_sse_parser_next_event(p, &ev)) == 1) {
      }
      if (rc == PUSHWIRE_ERR_NOMEM) nomem = true;
      CHECK(rc == 0 || rc == PUSHWIRE_ERR_NOMEM);
    }
    if (nomem) {
      pushwire_sse_event ev;
      CHECK_EQ(pushwire_sse_parser_next_event(p, &ev), PUSHWIRE_ERR_NOMEM);
    }
    pushwire_sse_parser_free(p);
    CHECK_EQ(ac.live, 0);

    AllocCounter aw;
    aw.fail_at = fail_at;
    pushwire_sse_writer *w = nullptr;
    if (pushwire_sse_writer_new(&w, &aw.api) == 0) {
      pushwire_sse_fields f = fields();
      f.data = stream.data();
      f.data_len = stream.size();
      for (int i = 0; i < 20; ++i) {
        size_t before = pushwire_sse_writer_output_size(w);
        rc = pushwire_sse_writer_event(w, &f);
        CHECK(rc == 0 || rc == PUSHWIRE_ERR_NOMEM);
        if (rc) CHECK_EQ(pushwire_sse_writer_output_size(w), before);  // all or nothing
        rc = pushwire_sse_writer_add_header(w, "X-A", 3, "b", 1);
        CHECK(rc == 0 || rc == PUSHWIRE_ERR_NOMEM || rc == PUSHWIRE_ERR_INVALID_STATE);
      }
      pushwire_sse_writer_free(w);
    }
    CHECK_EQ(aw.live, 0);
  }
}

TEST(capi_sse_request_check) {
  pushwire_http_request *req = nullptr;
  CHECK_EQ(pushwire_http_request_new(&req, nullptr), 0);
  pushwire_span id{u8("x"), 1};
  CHECK_EQ(pushwire_sse_request_check(req, &id), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_sse_request_check(nullptr, &id), PUSHWIRE_ERR_INVALID_ARGUMENT);
  const char *head =
      "GET /stream HTTP/1.1\r\nHost: example.com\r\nAccept: text/event-stream\r\n"
      "Cache-Control: no-cache\r\nLast-Event-ID: 1041\r\n\r\n";
  size_t used = 0;
  CHECK_EQ(pushwire_http_request_feed(req, u8(head), strlen(head), &used), 1);
  CHECK_EQ(pushwire_sse_request_check(req, &id), 1);
  CHECK_STR(id.ptr, id.len, "1041");
  CHECK_EQ(pushwire_sse_request_check(req, nullptr), 1);
  CHECK_EQ(pushwire_http_request_reset(req), 0);
  head = "GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html\r\n\r\n";
  CHECK_EQ(pushwire_http_request_feed(req, u8(head), strlen(head), &used), 1);
  CHECK_EQ(pushwire_sse_request_check(req, &id), 0);
  CHECK(id.ptr == nullptr);
  CHECK_EQ(id.len, 0);
  pushwire_http_request_free(req);
}

// A huge event or feed is not kept in memory once it has been handed out.
TEST(capi_sse_parser_gives_back_big_buffers) {
  AllocCounter ac;
  pushwire_sse_parser *p = nullptr;
  CHECK_EQ(pushwire_sse_parser_new(&p, &ac.api), 0);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, 8 << 20), 0);
  CHECK_EQ(pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_EVENT, 8 << 20), 0);
  std::string big = "data: " + std::string(4 << 20, 'x') + "\n\n";
  CHECK_EQ(pushwire_sse_parser_feed(p, u8(big.c_str()), big.size()), 0);
  pushwire_sse_event ev;
  CHECK_EQ(pushwire_sse_parser_next_event(p, &ev), 1);
  CHECK_EQ(ev.data.len, 4 << 20);
  CHECK_EQ(pushwire_sse_parser_next_event(p, &ev), 0);
  CHECK(ac.live < (512 << 10));
  pushwire_sse_parser_free(p);
  CHECK_EQ(ac.live, 0);
}
