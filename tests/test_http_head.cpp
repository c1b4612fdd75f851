#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "harness.hpp"
#include "http_head.hpp"
#include "http_samples.hpp"

using namespace pushwire;

namespace {

int feed_all(HttpHead &h, const std::string &s, size_t *consumed = nullptr) {
  size_t n = 0;
  int rc = h.feed(reinterpret_cast<const uint8_t *>(s.data()), s.size(), &n);
  if (consumed) *consumed = n;
  return rc;
}

std::string str(span s) { return std::string(reinterpret_cast<const char *>(s.ptr), s.len); }

// The fields as "name=value|..." for comparing parses.
std::string dump(const HttpHead &h) {
  std::string out = str(h.method()) + " " + str(h.target()) + " " + std::to_string(h.minor_version());
  for (size_t i = 0; i < h.field_count(); ++i) out += "|" + str(h.field(i).name) + "=" + str(h.field(i).value);
  return out;
}

int parse_request(const std::string &s, const char **reason = nullptr) {
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Request);
  int rc = feed_all(h, s);
  if (reason) *reason = h.error_reason();
  return rc;
}

int parse_response(const std::string &s) {
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Response);
  return feed_all(h, s);
}

std::string request_with_fields(size_t n) {
  std::string s = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i < n; ++i) s += "X-F" + std::to_string(i) + ": v\r\n";
  return s + "\r\n";
}

}  // namespace

TEST(http_head_rfc6455_request) {
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Request);
  CHECK(!h.started());
  size_t consumed = 0;
  CHECK_EQ(feed_all(h, kRfcRequest, &consumed), 1);
  CHECK_EQ(consumed, sizeof kRfcRequest - 1);
  CHECK(h.complete());
  CHECK_STR(h.method().ptr, h.method().len, "GET");
  CHECK_STR(h.target().ptr, h.target().len, "/chat");
  CHECK_EQ(h.minor_version(), 1);
  CHECK_EQ(h.field_count(), 7);
  CHECK_EQ(h.bytes_scanned(), sizeof kRfcRequest - 1);
  HttpField f = h.field(3);
  CHECK_STR(f.name.ptr, f.name.len, "Sec-WebSocket-Key");
  CHECK_STR(f.value.ptr, f.value.len, "dGhlIHNhbXBsZSBub25jZQ==");
  span v;
  CHECK(h.find("sec-websocket-protocol", 0, &v));
  CHECK_STR(v.ptr, v.len, "chat, superchat");
  CHECK(!h.find("sec-websocket-protocol", 1, &v));
  CHECK(h.find("HOST", 0, &v));
  CHECK_STR(v.ptr, v.len, "server.example.com");
  CHECK(h.has_token("connection", "UPGRADE"));
  CHECK(h.has_token("Sec-WebSocket-Protocol", "superchat"));
  CHECK(!h.has_token("Sec-WebSocket-Protocol", "super"));
  CHECK_EQ(h.count("origin"), 1);
  // Views point into the parser's own copy, not into the input.
  const char *in = kRfcRequest;
  CHECK(!(h.target().ptr >= reinterpret_cast<const uint8_t *>(in) &&
          h.target().ptr < reinterpret_cast<const uint8_t *>(in) + sizeof kRfcRequest));
  // After completion, feed consumes nothing and keeps returning 1.
  CHECK_EQ(feed_all(h, "GET", &consumed), 1);
  CHECK_EQ(consumed, 0);
}

TEST(http_head_split_at_every_byte) {
  const std::string req = kRfcRequest;
  const std::string next = "\x81\x85\x37\xfa\x21\x3d";  // a first frame right behind the head
  const std::string all = req + next;
  std::string expected;
  {
    Allocator a;
    HttpHead h(&a, HttpHead::Kind::Request);
    size_t consumed;
    CHECK_EQ(feed_all(h, all, &consumed), 1);
    CHECK_EQ(consumed, req.size());
    expected = dump(h);
  }
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    Allocator a;
    HttpHead h(&a, HttpHead::Kind::Request);
    size_t c1 = 0, c2 = 0;
    int rc1 = feed_all(h, all.substr(0, cut), &c1);
    int rc2 = feed_all(h, all.substr(cut), &c2);
    if (cut < req.size()) {
      CHECK_EQ(rc1, 0);
      CHECK_EQ(c1, cut);
      CHECK_EQ(c2, req.size() - cut);
    } else {
      CHECK_EQ(rc1, 1);
      CHECK_EQ(c1, req.size());
      CHECK_EQ(c2, 0);
    }
    CHECK_EQ(rc2, 1);
    CHECK(dump(h) == expected);
    CHECK_EQ(h.bytes_scanned(), req.size());
  }
  // And one byte at a time.
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Request);
  size_t total = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    size_t c;
    int rc = h.feed(reinterpret_cast<const uint8_t *>(all.data()) + i, 1, &c);
    total += c;
    CHECK_EQ(rc, i + 1 >= req.size() ? 1 : 0);
  }
  CHECK_EQ(total, req.size());
  CHECK(dump(h) == expected);
}

TEST(http_head_linear_byte_by_byte_16k) {
  // A head of exactly the default limit, fed one byte at a time: every byte is examined
  // once, and the copy grows by doubling (a handful of reallocations, not one per byte).
  std::string s = "GET / HTTP/1.1\r\nX-Big: ";
  s += std::string(HTTP_DEFAULT_MAX_HEAD - s.size() - 4, 'a');
  s += "\r\n\r\n";
  CHECK_EQ(s.size(), HTTP_DEFAULT_MAX_HEAD);
  AllocCounter counter;
  Allocator a(&counter.api);
  HttpHead h(&a, HttpHead::Kind::Request);
  for (size_t i = 0; i < s.size(); ++i) {
    size_t c;
    int rc = h.feed(reinterpret_cast<const uint8_t *>(s.data()) + i, 1, &c);
    CHECK_EQ(c, 1);
    CHECK_EQ(rc, i + 1 == s.size() ? 1 : 0);
    CHECK_EQ(h.bytes_scanned(), i + 1);
  }
  CHECK(h.complete());
  CHECK_EQ(h.field(0).value.len, HTTP_DEFAULT_MAX_HEAD - 27);
  CHECK(counter.allocs <= 12);
}

TEST(http_head_size_limit) {
  std::string at = "GET / HTTP/1.1\r\nX: ";
  at += std::string(100 - at.size() - 4, 'b') + "\r\n\r\n";
  CHECK_EQ(at.size(), 100);
  std::string over = "GET / HTTP/1.1\r\nX: " + std::string(100 - 19 - 4 + 1, 'b') + "\r\n\r\n";
  CHECK_EQ(over.size(), 101);
  Allocator a;
  {
    HttpHead h(&a, HttpHead::Kind::Request);
    h.set_limits(100, 64);
    CHECK_EQ(feed_all(h, at + "trailing"), 1);
  }
  {
    HttpHead h(&a, HttpHead::Kind::Request);
    h.set_limits(100, 64);
    size_t c = 99;
    CHECK_EQ(feed_all(h, over, &c), ERR_HEAD_TOO_LARGE);
    CHECK_EQ(c, 0);
    CHECK_EQ(h.status_hint(), 431);
    CHECK_EQ(h.error(), ERR_HEAD_TOO_LARGE);
  }
  {
    // The limit holds across feeds: 100 bytes of an unfinished head are accepted, the
    // 101st byte is not.
    HttpHead h(&a, HttpHead::Kind::Request);
    h.set_limits(100, 64);
    size_t c;
    CHECK_EQ(feed_all(h, over.substr(0, 100), &c), 0);
    CHECK_EQ(c, 100);
    CHECK_EQ(feed_all(h, over.substr(100), &c), ERR_HEAD_TOO_LARGE);
    CHECK_EQ(h.status_hint(), 431);
  }
  {
    // Default limit, one byte over.
    HttpHead h(&a, HttpHead::Kind::Request);
    std::string big = "GET / HTTP/1.1\r\nX: " + std::string(HTTP_DEFAULT_MAX_HEAD - 19 - 3, 'c') + "\r\n\r\n";
    CHECK_EQ(big.size(), HTTP_DEFAULT_MAX_HEAD + 1);
    CHECK_EQ(feed_all(h, big), ERR_HEAD_TOO_LARGE);
  }
}

TEST(http_head_field_count_limit) {
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Request);
  CHECK_EQ(feed_all(h, request_with_fields(HTTP_DEFAULT_MAX_HEADERS)), 1);
  CHECK_EQ(h.field_count(), HTTP_DEFAULT_MAX_HEADERS);
  h.reset();
  CHECK_EQ(feed_all(h, request_with_fields(HTTP_DEFAULT_MAX_HEADERS + 1)), ERR_HEAD_TOO_LARGE);
  CHECK_EQ(h.status_hint(), 431);
  CHECK_STR(h.error_reason(), std::strlen(h.error_reason()), "too many header fields");
  HttpHead small(&a, HttpHead::Kind::Request);
  small.set_limits(HTTP_DEFAULT_MAX_HEAD, 2);
  CHECK_EQ(feed_all(small, request_with_fields(2)), 1);
  small.reset();
  CHECK_EQ(feed_all(small, request_with_fields(3)), ERR_HEAD_TOO_LARGE);
}

TEST(http_head_strict_line_ends) {
  CHECK_EQ(parse_request("GET / HTTP/1.1\nHost: a\r\n\r\n"), ERR_BAD_HTTP);    // bare LF, request line
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\n\r\n"), ERR_BAD_HTTP);    // bare LF, field
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\r\n\n"), ERR_BAD_HTTP);    // bare LF, end
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nHost\n: a\r\n\r\n"), ERR_BAD_HTTP);  // bare LF in a name
  CHECK_EQ(parse_request("GET / HTTP/1.1\rHost: a\r\n\r\n"), ERR_BAD_HTTP);    // bare CR
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\r\n\rx"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("\r\nGET / HTTP/1.1\r\n\r\n"), ERR_BAD_HTTP);        // no leading empty line
  const char *why = nullptr;
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\n\r\n", &why), ERR_BAD_HTTP);
  CHECK_STR(why, std::strlen(why), "bare LF in head");
  CHECK_EQ(parse_request("GET / HTTP/1.1\rX", &why), ERR_BAD_HTTP);
  CHECK_STR(why, std::strlen(why), "bare CR in head");
}

TEST(http_head_strict_fields) {
  const char *why = nullptr;
  // obs-fold, and whitespace before the first field.
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", &why), ERR_BAD_HTTP);
  CHECK_STR(why, std::strlen(why), "obs-fold or whitespace at the start of a field line");
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), ERR_BAD_HTTP);
  // Whitespace before the colon; names must be tokens and non-empty.
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nHost : a\r\n\r\n", &why), ERR_BAD_HTTP);
  CHECK_STR(why, std::strlen(why), "whitespace before colon");
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\n: a\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nHost a\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request(std::string("GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", 27)), ERR_BAD_HTTP);
  // NUL and other control bytes in values; HTAB and obs-text are allowed.
  CHECK_EQ(parse_request(std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26), &why), ERR_BAD_HTTP);
  CHECK_STR(why, std::strlen(why), "NUL in header value");
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nX: a\x1b" "b\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / HTTP/1.1\r\nX: a\x7f" "b\r\n\r\n"), ERR_BAD_HTTP);
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Request);
  CHECK_EQ(feed_all(h, "GET / HTTP/1.1\r\nX: \t a\tb \xc3\xa9 \t\r\nEmpty:\r\nE2:   \r\n\r\n"), 1);
  CHECK_STR(h.field(0).value.ptr, h.field(0).value.len, "a\tb \xc3\xa9");
  CHECK_EQ(h.field(1).value.len, 0);
  CHECK_EQ(h.field(2).value.len, 0);
}

TEST(http_head_strict_request_line) {
  CHECK_EQ(parse_request("GET /x HTTP/1.0\r\n\r\n"), 1);
  CHECK_EQ(parse_request("M-SEARCH * HTTP/1.1\r\n\r\n"), 1);
  CHECK_EQ(parse_request("G(T / HTTP/1.1\r\n\r\n"), ERR_BAD_HTTP);   // method not a token
  CHECK_EQ(parse_request(" / HTTP/1.1\r\n\r\n"), ERR_BAD_HTTP);      // empty method
  CHECK_EQ(parse_request("GET  / HTTP/1.1\r\n\r\n"), ERR_BAD_HTTP);  // empty target
  CHECK_EQ(parse_request("GET /a b HTTP/1.1\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET /a\tb HTTP/1.1\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET /\xc3\xa9 HTTP/1.1\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET /\x7f HTTP/1.1\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / HTTP/2.0\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / HTTP/1.2\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / http/1.1\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / HTTP/1.1 \r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET / HTTP/1.10\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET /\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_request("GET\r\n\r\n"), ERR_BAD_HTTP);
}

TEST(http_head_plain_get_for_routing) {
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Request);
  CHECK_EQ(feed_all(h, "GET /events?x=1 HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n"), 1);
  CHECK_STR(h.target().ptr, h.target().len, "/events?x=1");
  CHECK(!h.has_token("Upgrade", "websocket"));
  CHECK(h.has_token("accept", "text/event-stream"));
  span v;
  CHECK(!h.find("Upgrade", 0, &v));
  CHECK_EQ(h.count("Upgrade"), 0);
}

TEST(http_head_repeated_fields_and_tokens) {
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Request);
  CHECK_EQ(feed_all(h,
                    "GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nX-A: 1\r\nx-a: 2\r\nX-A:3\r\n"
                    "Y: \"a, upgrade\", b\r\n\r\n"),
           1);
  CHECK(h.has_token("Connection", "upgrade"));
  CHECK(h.has_token("Connection", "keep-alive"));
  CHECK(!h.has_token("Connection", "keep"));
  CHECK_EQ(h.count("X-a"), 3);
  span v;
  for (int i = 0; i < 3; ++i) {
    CHECK(h.find("X-A", size_t(i), &v));
    CHECK_EQ(v.len, 1);
    CHECK_EQ(v.ptr[0], '1' + i);
  }
  CHECK(!h.has_token("Y", "upgrade"));  // inside a quoted string
  CHECK(h.has_token("Y", "b"));
}

TEST(http_head_next_list_element) {
  auto all = [](const char *s) {
    std::string out;
    span rest = make_span(s, std::strlen(s)), el;
    while (next_list_element(&rest, &el)) out += "[" + str(el) + "]";
    return out;
  };
  CHECK(all("") == "");
  CHECK(all(" , ,, ") == "");
  CHECK(all("a") == "[a]");
  CHECK(all(" a ,b,\tc\t") == "[a][b][c]");
  CHECK(all("a,,b") == "[a][b]");
  CHECK(all("x; q=\"1,2\", y") == "[x; q=\"1,2\"][y]");
  CHECK(all("\"a\\\",b\", c") == "[\"a\\\",b\"][c]");
  CHECK(all("\"unterminated, x") == "[\"unterminated, x]");
}

TEST(http_head_response) {
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Response);
  size_t c;
  CHECK_EQ(feed_all(h, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00", &c), 1);
  CHECK_EQ(c, 56);
  CHECK_EQ(h.status(), 101);
  CHECK_EQ(h.minor_version(), 1);
  CHECK_STR(h.reason_phrase().ptr, h.reason_phrase().len, "Switching Protocols");
  CHECK_EQ(h.method().len, 0);
  h.reset();
  CHECK_EQ(feed_all(h, "HTTP/1.0 404 \r\n\r\n"), 1);
  CHECK_EQ(h.status(), 404);
  CHECK_EQ(h.reason_phrase().len, 0);
  CHECK_EQ(parse_response("HTTP/1.1 101\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_response("HTTP/1.1 10 OK\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_response("HTTP/1.1 099 OK\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_response("HTTP/1.1 1011 OK\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_response("HTTP/1.1  101 OK\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_response("HTTP/2 101 OK\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_response("HTTP/1.1 200 O\x01K\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_response("HTTP/1.1 200 OK\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_response("GET / HTTP/1.1\r\n\r\n"), ERR_BAD_HTTP);
  CHECK_EQ(parse_response("HTTP/1.1 200 \xe2\x9c\x93\t ok\r\n\r\n"), 1);
}

TEST(http_head_sticky_error_and_reset) {
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Request);
  size_t c = 7;
  CHECK_EQ(feed_all(h, "GET / HTTP/1.1\r\nBad Name: x\r\n", &c), ERR_BAD_HTTP);
  CHECK_EQ(c, 0);
  CHECK_EQ(h.status_hint(), 400);
  CHECK_EQ(feed_all(h, "\r\n", &c), ERR_BAD_HTTP);
  CHECK_EQ(feed_all(h, "", &c), ERR_BAD_HTTP);
  CHECK(!h.complete());
  CHECK_EQ(h.field_count(), 0);
  h.reset();
  CHECK_EQ(h.error(), 0);
  CHECK_EQ(h.status_hint(), 0);
  CHECK(!h.started());
  CHECK_EQ(feed_all(h, kRfcRequest), 1);
  CHECK_EQ(h.field_count(), 7);
}

TEST(http_head_memory_lazy_and_released) {
  AllocCounter counter;
  Allocator a(&counter.api);
  {
    HttpHead h(&a, HttpHead::Kind::Request);
    CHECK_EQ(feed_all(h, ""), 0);
    CHECK_EQ(counter.allocs, 0);  // an unused parser owns nothing
    CHECK_EQ(feed_all(h, kRfcRequest), 1);
    CHECK(counter.live > 0);
    size_t before = counter.allocs;
    h.reset();
    CHECK_EQ(feed_all(h, kRfcRequest), 1);
    CHECK_EQ(counter.allocs, before);  // reset keeps the memory for the next head
    h.release();
    CHECK_EQ(counter.live, 0);
    CHECK(!h.complete());
    CHECK_EQ(feed_all(h, kRfcRequest), 1);
  }
  CHECK_EQ(counter.live, 0);
}

TEST(http_head_out_of_memory) {
  for (size_t n = 1; n <= 4; ++n) {
    AllocCounter counter;
    counter.fail_at = n;
    Allocator a(&counter.api);
    HttpHead h(&a, HttpHead::Kind::Request);
    int rc = feed_all(h, kRfcRequest);
    if (rc == 1) continue;  // this head needs fewer allocations
    CHECK_EQ(rc, ERR_NOMEM);
    CHECK_EQ(h.status_hint(), 500);
    CHECK_EQ(feed_all(h, kRfcRequest), ERR_NOMEM);
    h.release();
    CHECK_EQ(counter.live, 0);
  }
}

TEST(http_head_value_runs_word_boundaries) {
  // Values are scanned eight bytes at a time; check trimming, control bytes and splits
  // at every position of values long enough to span several words.
  auto trim = [](const std::string &v) {
    size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
  };
  const std::string values[] = {
      "abcdefghijklmnopqrstuvwxyz0123456789",
      "  a  b  c  d  e  f  g  h  i  j  k  l           ",
      "\t\tx\ty\tz\t\t",
      "\x80\x81\xfe\xff obs-text \xc3\xa9\xe2\x82\xac      \x7e",
      "a                                 b",
      std::string(23, ' ') + "x" + std::string(17, ' '),
      std::string(40, ' '),
  };
  for (const std::string &v : values) {
    std::string req = "GET / HTTP/1.1\r\nV:" + v + "\r\nW: 1\r\n\r\n";
    for (size_t cut = 0; cut <= req.size(); ++cut) {
      Allocator a;
      HttpHead h(&a, HttpHead::Kind::Request);
      size_t c;
      int rc = feed_all(h, req.substr(0, cut), &c);
      if (cut < req.size()) CHECK_EQ(rc, 0);
      if (rc == 0) CHECK_EQ(feed_all(h, req.substr(cut), &c), 1);
      CHECK(str(h.field(0).value) == trim(v));
      CHECK_STR(h.field(1).value.ptr, h.field(1).value.len, "1");
    }
  }
  // A control byte anywhere in a long value is refused, whatever its place in a word.
  const std::string base(40, 'v');
  for (size_t pos = 0; pos < base.size(); ++pos) {
    for (char bad : {'\0', '\x01', '\x0b', '\x1f', '\x7f', '\n'}) {
      std::string v = base;
      v[pos] = bad;
      CHECK_EQ(parse_request("GET / HTTP/1.1\r\nV: " + v + "\r\n\r\n"), ERR_BAD_HTTP);
    }
    std::string cr = base;
    cr[pos] = '\r';  // a CR inside a value ends the line; the next byte must be LF
    CHECK_EQ(parse_request("GET / HTTP/1.1\r\nV: " + cr + "\r\n\r\n"), ERR_BAD_HTTP);
  }
}

TEST(http_head_token_char_set_exact) {
  const char *tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (int c = 0; c < 256; ++c) {
    bool want = c != 0 && std::strchr(tchar, c) != nullptr;
    if (is_token_char(uint8_t(c)) != want) harness::fail(__FILE__, __LINE__, "tchar " + std::to_string(c));
  }
}

namespace {

// A parse as everything a caller can observe: result, bytes taken, reason, the fields.
std::string observe(const std::string &s, size_t first_piece, size_t max_head, size_t max_headers) {
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Request);
  h.set_limits(max_head, max_headers);
  size_t c1 = 0, c2 = 0;
  int rc = feed_all(h, s.substr(0, first_piece), &c1);
  if (rc == 0) rc = feed_all(h, s.substr(first_piece), &c2);
  std::string out = std::to_string(rc) + " " + h.error_reason();
  if (rc == 1) out += " " + std::to_string(c1 + c2) + " " + dump(h);
  return out;
}

// The whole-head pass alone (borrow_whole_request), observed as observe() does, or "" when
// it leaves the head to the state machine.
std::string observe_borrowed(const std::string &s, size_t max_head, size_t max_headers) {
  Allocator a;
  HttpHead h(&a, HttpHead::Kind::Request);
  h.set_limits(max_head, max_headers);
  std::vector<HttpField> fields(max_headers);
  size_t used = 0;
  if (!h.borrow_whole_request(reinterpret_cast<const uint8_t *>(s.data()), s.size(), fields.data(), fields.size(),
                              &used))
    return "";
  return "1 " + std::string(h.error_reason()) + " " + std::to_string(used) + " " + dump(h);
}

}  // namespace

// One head parsed whole (the whole-head pass) and fed a byte at a time (the state machine):
// the two observations must agree; counts how many were compared and how many accepted.
// A head the whole-head pass refuses goes to the state machine and looks the same, so the
// pass is also called on its own: a head it takes must read the same (so it refuses every
// head the state machine refuses), and `taken` counts them, for each test to check that
// the pass took every head it means it to take.
struct WholeAndSplit {
  size_t compared = 0, accepted = 0, taken = 0;
  // The whole-head result (the same as the split one, or a failure is reported).
  std::string operator()(const std::string &s, size_t max_head = 64 * 1024, size_t max_headers = 64) {
    const std::string whole = observe(s, s.size(), max_head, max_headers);
    const std::string split = observe(s, 1, max_head, max_headers);
    if (whole != split) harness::fail(__FILE__, __LINE__, "whole [" + whole + "] split [" + split + "]");
    const std::string borrowed = observe_borrowed(s, max_head, max_headers);
    if (!borrowed.empty() && borrowed != whole)
      harness::fail(__FILE__, __LINE__, "borrowed [" + borrowed + "] whole [" + whole + "]");
    ++compared;
    accepted += whole[0] == '1';
    taken += !borrowed.empty();
    return whole;
  }
};

// A complete head in the first feed is parsed by the whole-head path; a head whose first
// feed is one byte goes through the state machine. Both must agree on every head, valid
// or not: every byte of a browser-like request replaced by each byte class the grammar
// cares about, and the two limits at and just below what the head needs.
TEST(http_head_whole_path_matches_state_machine) {
  const std::string base =
      "GET /chat?room=7 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
      "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\nX-Empty:\r\nX-Ows: \t a \t b \t \r\n"
      "Cookie: session=0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz; lang=en\r\n\r\n";
  const std::string tail = "\x81\x85";  // the first frame's bytes behind the head
  const uint8_t replacements[] = {0x00, '\t', '\n', '\r', ' ', ':', 0x7f, 0x80, 0xff, '"', 'A', '/', '1', '0'};
  WholeAndSplit both;
  const size_t size = base.size();
  // The unmodified head parses, to exactly these fields (trimmed values, an empty one).
  const std::string parsed = both(base + tail, 64 * 1024, 64);
  const std::string want = "1  " + std::to_string(base.size()) +
                           " GET /chat?room=7 1|Host=server.example.com|Upgrade=websocket|"
                           "Connection=keep-alive, Upgrade|Sec-WebSocket-Key=dGhlIHNhbXBsZSBub25jZQ==|"
                           "Sec-WebSocket-Version=13|Origin=http://example.com|X-Empty=|X-Ows=a \t b|"
                           "Cookie=session=0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz;"
                           " lang=en";
  CHECK(parsed == want);
  both(base + tail, size, 10);      // exactly the head, exactly its 10 fields
  both(base + tail, size - 1, 10);  // one byte short: 431
  both(base + tail, size, 9);       // one field short: 431
  for (size_t pos = 0; pos < size; ++pos) {
    for (uint8_t r : replacements) {
      std::string s = base;
      s[pos] = char(r);
      both(s + tail, 64 * 1024, 64);
    }
    both(base.substr(0, pos) + base.substr(pos + 1) + tail, 64 * 1024, 64);  // a byte missing
  }
  // Heads longer than the whole-head path takes at once (8 KiB: this valid one is the only
  // head here that it leaves to the state machine), and of every length around the 64-byte
  // blocks its vector pass works in.
  const size_t taken = both.taken;
  CHECK(both("GET / HTTP/1.1\r\nCookie: " + std::string(9000, 'c') + "\r\n\r\n", 64 * 1024, 64)[0] == '1');
  CHECK_EQ(both.taken, taken);
  for (size_t pad = 0; pad < 130; ++pad) {
    both("GET / HTTP/1.1\r\nX: " + std::string(pad, 'v') + "\r\n\r\n", 64 * 1024, 64);
    both("GET / HTTP/1.1\r\nX: " + std::string(pad, 'v') + "\r\n\r", 64 * 1024, 64);
    both("GET / HTTP/1.1\r\nX: " + std::string(pad, 'v') + "\r\r\n\r\n", 64 * 1024, 64);
  }
  CHECK(both.compared > 5000);
  CHECK_EQ(both.taken, both.accepted - 1);
}

// The whole-head path ends methods and field names at the first bit of its stop bitmap
// (and then byte by byte past the token characters the bitmap may not cover) and reads
// the request target sixteen bytes at a time; both must agree with the state machine:
// names and targets of every length around 16 and 32 with each byte class the grammar
// (and the stop bitmap: letters of both cases, digits, '-', other token characters)
// tells apart at every position, on lines placed both with bytes behind them and at the
// very end of the input (where there is no room for a whole load).
TEST(http_head_whole_path_name_and_target_runs) {
  const uint8_t classes[] = {'a', 'Z', '0', '9', '-', '_', '~', '^', '!', '`', '@', '[', '{', '/', ':', ' ', '\t',
                             '"', 0x00, 0x7f, 0x80, 0xc0, 0xff, '\r', '\n', ','};
  WholeAndSplit both;
  for (size_t len = 1; len <= 40; ++len) {
    const std::string name(len, 'n');
    for (size_t pos = 0; pos < len; ++pos) {
      for (uint8_t c : classes) {
        std::string n = name;
        n[pos] = char(c);
        // The varying name as the last field (the input ends two bytes after its value)
        // and as the first, with a long field behind it.
        both("GET / HTTP/1.1\r\n" + n + ": v\r\n\r\n");
        both("GET / HTTP/1.1\r\n" + n + ":v\r\nCookie: " + std::string(40, 'c') + "\r\n\r\n");
        std::string t = "/" + std::string(len, 't');
        t[pos + 1] = char(c);
        both("GET " + t + " HTTP/1.1\r\nHost: h\r\n\r\n");
        both("GET " + t + " HTTP/1.1\r\n\r\n");
        std::string m = std::string(len, 'M');
        m[pos] = char(c);
        both(m + " / HTTP/1.1\r\n\r\n");
      }
    }
  }
  CHECK(both.compared > 20000);
  CHECK(both.accepted > 5000);  // the valid ones are compared field by field, not only refused alike
  CHECK_EQ(both.taken, both.accepted);
}

// The whole-head path trims a value's OWS with one compare in the usual case (one SP
// before, none after) and loops otherwise: every mix of up to three SP/HTAB on each side
// of empty, one-byte and spaced values (and a value byte that is obs-text or '='), against
// the state machine and the value trimmed byte by byte here.
TEST(http_head_whole_path_value_ows) {
  const char *ows[] = {"", " ", "\t", "  ", " \t", "\t ", "\t\t", "   ", " \t ", "\t \t"};
  const char *values[] = {"", "v", "=", "\x80", "a b", "a\tb", "a  \t b", "\xff=\x80"};
  WholeAndSplit both;
  for (const char *lead : ows) {
    for (const char *trail : ows) {
      for (const char *value : values) {
        for (const char *name : {"X", "Sec-WebSocket-Key"}) {
          const std::string head = std::string("GET / HTTP/1.1\r\n") + name + ":" + lead + value + trail +
                                   "\r\nHost: h\r\n\r\n";
          const std::string whole = both(head);
          std::string v = std::string(lead) + value + trail;
          while (!v.empty() && (v[0] == ' ' || v[0] == '\t')) v.erase(0, 1);
          while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
          const std::string want = "1  " + std::to_string(head.size()) + " GET / 1|" + name + "=" + v + "|Host=h";
          if (whole != want) harness::fail(__FILE__, __LINE__, "got [" + whole + "] want [" + want + "]");
        }
      }
    }
  }
  CHECK_EQ(both.accepted, 10 * 10 * 8 * 2);  // every one of these heads is valid
  CHECK_EQ(both.taken, both.accepted);
}

// The stop bitmap is built per 64-byte block (from 16- or 32-byte vectors), and a name's
// end is searched from the line's start into the next words: methods and field names
// starting at every offset before, on and past the seams at 64 and 128 bytes, of lengths
// that end before, on and past a seam, with each byte class at the name's first and last
// byte and on each 16-byte seam inside it; the line is the last of the head (the block
// classified from a zero-padded copy) or has a field behind it.
TEST(http_head_whole_path_names_across_block_seams) {
  const uint8_t classes[] = {'a', 'Z', '0', '-', '_', '.', '!', '|', '~', '`', '@', '[', '{', '/', ':', ';', ' ',
                             '\t', '"', 0x00, 0x7f, 0x80, 0xff, '\r', '\n', ','};
  WholeAndSplit both;
  for (size_t start = 16; start <= 150; ++start) {
    for (size_t len : {1, 2, 15, 16, 17, 31, 33, 48, 70}) {
      std::vector<size_t> positions = {0, len - 1};
      for (size_t at = (start / 16 + 1) * 16; at < start + len; at += 16) positions.push_back(at - start);
      for (size_t pos : positions) {
        for (uint8_t c : classes) {
          std::string name(len, 'n');
          name[pos] = char(c);
          // A field name at `start`: the padding field's line is 16 bytes plus its value.
          const std::string pad = start >= 22 ? "X: " + std::string(start - 16 - 5, 'v') + "\r\n" : "";
          if (start >= 22) {
            both("GET / HTTP/1.1\r\n" + pad + name + ": v\r\n\r\n");
            both("GET / HTTP/1.1\r\n" + pad + name + ":v\r\nCookie: c\r\n\r\n");
          }
          // A method running from 0 across the seams, for as long as start says.
          std::string method = std::string(start - 1, 'M') + name;
          both(method + " / HTTP/1.1\r\nHost: h\r\n\r\n");
        }
      }
    }
  }
  CHECK(both.compared > 50000);
  CHECK(both.accepted > 10000);
  CHECK_EQ(both.taken, both.accepted);
}

// The whole-head pass classifies blocks with AVX2 where the CPU has it, so the other tests
// only reach one of the two versions here: both against a byte-by-byte reference, for every
// byte value at every position (over a background of each class) and random blocks. The
// stop bitmap is exact in each version: the bytes that are not token characters (AVX2,
// by nibble lookups), or not letters, digits or '-' (the others).
TEST(http_head_block_classifier_all_versions) {
  auto reference = [](const uint8_t *q, bool tokens) {
    HttpBlock64 r{0, 0, 0, 0};
    for (int i = 0; i < 64; ++i) {
      const uint64_t bit = uint64_t(1) << i;
      const uint8_t c = q[i];
      if (c == '\n') r.lf |= bit;
      if (c == '\r') r.cr |= bit;
      if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) r.bad |= bit;
      const bool name = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      const bool token = name || (c != 0 && std::strchr("!#$%&'*+.^_`|~", c) != nullptr);
      if (!(tokens ? token : name)) r.stop |= bit;
    }
    return r;
  };
  auto same = [](const HttpBlock64 &a, const HttpBlock64 &b) {
    return a.lf == b.lf && a.cr == b.cr && a.bad == b.bad && a.stop == b.stop;
  };
  size_t compared = 0, portable = 0;
  auto check = [&](const uint8_t *q) {
    for (bool avx2 : {false, true}) {
      HttpBlock64 got;
      if (!http_classify64(q, avx2, &got)) continue;  // this CPU or build lacks it
      if (!same(got, reference(q, avx2)))
        harness::fail(__FILE__, __LINE__, std::string(avx2 ? "avx2" : "baseline") + " block differs");
      ++compared;
    }
    HttpBlock64 got;
    http_classify64_portable(q, &got);
    if (!same(got, reference(q, false))) harness::fail(__FILE__, __LINE__, "portable block differs");
    ++portable;
  };
  uint8_t q[64];
  for (uint8_t fill : {uint8_t('a'), uint8_t(0x00), uint8_t(0xff), uint8_t('\r'), uint8_t(0x7f), uint8_t('_'),
                       uint8_t(':')}) {
    for (int pos = 0; pos < 64; ++pos) {
      for (int c = 0; c < 256; ++c) {
        std::memset(q, fill, sizeof q);
        q[pos] = uint8_t(c);
        check(q);
      }
    }
  }
  uint32_t x = 7;
  for (int round = 0; round < 2000; ++round) {
    for (uint8_t &b : q) {
      x = x * 1103515245u + 12345u;
      b = uint8_t(x >> 24);
    }
    check(q);
  }
  CHECK(compared >= 7 * 64 * 256);  // at least the baseline version (SSE2 or portable) everywhere
  CHECK(portable >= 7 * 64 * 256);
}
