#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "harness.hpp"
#include "http_samples.hpp"
#include "base64.hpp"
#include "sha1.hpp"
#include "ws_handshake.hpp"

using namespace pushwire;

namespace {

const char kKey[] = "dGhlIHNhbXBsZSBub25jZQ==";
const char kAccept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

span sp(const char *s) { return make_span(s, std::strlen(s)); }
span sp(const std::string &s) { return make_span(s.data(), s.size()); }
std::string str(span s) { return std::string(reinterpret_cast<const char *>(s.ptr), s.len); }
std::string str(const Buffer &b) { return str(b.view()); }

struct Parsed {
  Allocator a;
  HttpHead head;
  explicit Parsed(const std::string &text, HttpHead::Kind kind = HttpHead::Kind::Request) : head(&a, kind) {
    size_t consumed;
    int rc = head.feed(reinterpret_cast<const uint8_t *>(text.data()), text.size(), &consumed);
    CHECK_EQ(rc, 1);
  }
};

struct Lists {
  Allocator a;
  StringList origins{&a};
  StringList protocols{&a};
  Lists &origin(const char *o) {
    CHECK(ws_origin_pattern_valid(sp(o)));
    origins.add(sp(o));
    return *this;
  }
  Lists &protocol(const char *p) {
    protocols.add(sp(p));
    return *this;
  }
};

// A valid upgrade request with `lines` (complete "Name: value\r\n" lines) in place of
// the standard ones named in `drop` (comma-separated, matched case-sensitively).
std::string request(const std::string &lines, const std::string &drop = "", const std::string &start = "GET /chat HTTP/1.1") {
  const char *std_lines[] = {"Host: server.example.com", "Upgrade: websocket", "Connection: Upgrade",
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"};
  std::string out = start + "\r\n";
  for (const char *l : std_lines) {
    std::string name(l, std::strchr(l, ':'));
    if (("," + drop + ",").find("," + name + ",") == std::string::npos) out += std::string(l) + "\r\n";
  }
  return out + lines + "\r\n";
}

struct Check {
  int rc, status;
  std::string reason;
};

// ws_check_request on the head as the state machine copies it and as the server's first
// read borrows it through the whole-head path (the fields read from the array directly):
// both must give the same answer and key (a copy in *key_out: the heads go). Every head
// here is complete and valid, under 8 KiB and 64 fields, so that path must take each.
Check check_request_both(const std::string &text, const StringList &origins, bool require_origin,
                         std::string *key_out = nullptr) {
  Parsed p(text);
  Check c{0, 0, ""};
  const char *reason = "unset";
  span key{nullptr, 0};
  c.rc = ws_check_request(p.head, origins, require_origin, &c.status, &reason, &key);
  c.reason = reason;
  Allocator a;
  HttpHead borrowed(&a, HttpHead::Kind::Request);
  HttpField fields[64];
  size_t used = 0;
  const int taken = borrowed.borrow_whole_request(reinterpret_cast<const uint8_t *>(text.data()), text.size(), fields,
                                                  64, &used);
  if (!taken) {
    harness::fail(__FILE__, __LINE__, "the whole-head path refuses " + text);
  } else {
    CHECK_EQ(used, text.size());
    Check b{0, 0, ""};
    const char *why = "unset";
    span bkey{nullptr, 0};
    b.rc = ws_check_request(borrowed, origins, require_origin, &b.status, &why, &bkey);
    if (b.rc != c.rc || b.status != c.status || std::string(why) != c.reason || str(bkey) != str(key))
      harness::fail(__FILE__, __LINE__, "borrowed head answers " + std::to_string(b.rc) + " " + why + " for " + text);
  }
  if (key_out) *key_out = str(key);
  return c;
}

Check check(const std::string &text, const StringList *origins = nullptr, bool require_origin = false) {
  Allocator a;
  StringList none(&a);
  return check_request_both(text, origins ? *origins : none, require_origin);
}

#define CHECK_REJECT(text, code, st, why)            \
  do {                                               \
    Check c_ = check(text);                          \
    CHECK_EQ(c_.rc, code);                           \
    CHECK_EQ(c_.status, st);                         \
    CHECK_STR(c_.reason.data(), c_.reason.size(), why); \
  } while (0)

Check check_origin(const char *origin_lines, const Lists &l, bool require = false) {
  return check(request(origin_lines), &l.origins, require);
}

Check check_response(const std::string &text, const StringList &offered, std::string *chosen = nullptr) {
  Parsed p(text, HttpHead::Kind::Response);
  Check c{0, 0, ""};
  const char *reason = "unset";
  span ch{nullptr, 1};
  c.rc = ws_check_response(p.head, sp(kKey), offered, &ch, &c.status, &reason);
  c.reason = reason;
  if (chosen) *chosen = str(ch);
  return c;
}

const char kGood101[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

}  // namespace

TEST(ws_handshake_accept_key_known_answers) {
  char out[WS_ACCEPT_SIZE];
  ws_accept_key(sp(kKey), out);
  CHECK_STR(out, WS_ACCEPT_SIZE, kAccept);
  ws_accept_key(sp("PmqLMA8neyQndMnwL4ptCg=="), out);
  CHECK_STR(out, WS_ACCEPT_SIZE, "s9nX9CIyg7mR+ZgzLBvFzYdIL+g=");
}

TEST(ws_handshake_rfc_sample_exact_101) {
  Parsed p(kRfcRequest);
  Lists l;
  l.protocol("chat");
  int status = 0;
  const char *reason = nullptr;
  CHECK_EQ(ws_check_request(p.head, l.origins, false, &status, &reason), 0);
  CHECK_EQ(status, 101);
  CHECK_STR(reason, std::strlen(reason), "");
  span chosen;
  CHECK(ws_choose_subprotocol(p.head, l.protocols, &chosen));
  CHECK_STR(chosen.ptr, chosen.len, "chat");
  span key;
  CHECK(p.head.find("Sec-WebSocket-Key", 0, &key));
  Allocator a;
  Buffer out(&a);
  CHECK_EQ(ws_write_accept(out, key, chosen, span{nullptr, 0}), 0);
  CHECK(str(out) ==
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "Sec-WebSocket-Protocol: chat\r\n"
        "\r\n");
  // Without a subprotocol, with an extra header line.
  out.clear();
  Buffer extra(&a);
  CHECK_EQ(ws_add_extra_header(extra, sp("Set-Cookie"), sp("a=b")), 0);
  CHECK_EQ(ws_write_accept(out, key, span{nullptr, 0}, extra.view()), 0);
  CHECK(str(out) ==
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "Set-Cookie: a=b\r\n"
        "\r\n");
}

TEST(ws_handshake_request_rejections) {
  CHECK_EQ(check(request("")).rc, 0);
  CHECK_REJECT(request("", "", "POST /chat HTTP/1.1"), ERR_BAD_HANDSHAKE, 400, "method is not GET");
  CHECK_REJECT(request("", "", "get /chat HTTP/1.1"), ERR_BAD_HANDSHAKE, 400, "method is not GET");
  CHECK_REJECT(request("", "", "GET /chat HTTP/1.0"), ERR_BAD_HANDSHAKE, 400, "not HTTP/1.1");
  CHECK_REJECT(request("", "Host"), ERR_BAD_HANDSHAKE, 400, "Host field missing");
  CHECK_REJECT(request("Host: other\r\n"), ERR_BAD_HANDSHAKE, 400, "more than one Host field");
  CHECK_REJECT(request("Host:\r\n", "Host"), ERR_BAD_HANDSHAKE, 400, "empty Host field");
  CHECK_REJECT(request("", "Upgrade"), ERR_BAD_HANDSHAKE, 400, "Upgrade does not list websocket");
  CHECK_REJECT(request("Upgrade: h2c\r\n", "Upgrade"), ERR_BAD_HANDSHAKE, 400, "Upgrade does not list websocket");
  CHECK_EQ(check(request("Upgrade: WebSocket\r\n", "Upgrade")).rc, 0);
  CHECK_REJECT(request("", "Connection"), ERR_BAD_HANDSHAKE, 400, "Connection does not list upgrade");
  CHECK_REJECT(request("Connection: keep-alive\r\n", "Connection"), ERR_BAD_HANDSHAKE, 400,
               "Connection does not list upgrade");
  CHECK_REJECT(request("Connection: upgraded\r\n", "Connection"), ERR_BAD_HANDSHAKE, 400,
               "Connection does not list upgrade");
  CHECK_EQ(check(request("Connection: keep-alive, Upgrade\r\n", "Connection")).rc, 0);
  CHECK_EQ(check(request("Connection: keep-alive\r\nConnection: upgrade\r\n", "Connection")).rc, 0);
  CHECK_REJECT(request("", "Sec-WebSocket-Version"), ERR_BAD_VERSION, 426, "Sec-WebSocket-Version is not 13");
  CHECK_REJECT(request("Sec-WebSocket-Version: 8\r\n", "Sec-WebSocket-Version"), ERR_BAD_VERSION, 426,
               "Sec-WebSocket-Version is not 13");
  CHECK_REJECT(request("Sec-WebSocket-Version: 13, 8\r\n", "Sec-WebSocket-Version"), ERR_BAD_VERSION, 426,
               "Sec-WebSocket-Version is not 13");
  CHECK_REJECT(request("Sec-WebSocket-Version: 13\r\n"), ERR_BAD_VERSION, 426, "Sec-WebSocket-Version is not 13");
  CHECK_EQ(check(request("Sec-WebSocket-Version:  13 \r\n", "Sec-WebSocket-Version")).rc, 0);
  CHECK_REJECT(request("", "Sec-WebSocket-Key"), ERR_BAD_HANDSHAKE, 400, "Sec-WebSocket-Key missing");
  CHECK_REJECT(request("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), ERR_BAD_HANDSHAKE, 400,
               "more than one Sec-WebSocket-Key field");
  const char *bad_keys[] = {
      "dGhlIHNhbXBsZSBub25jZQ",      // no padding
      "dGhlIHNhbXBsZSBub25jZQ=",     // short
      "dGhlIHNhbXBsZSBub25jZXg=",    // 17 bytes
      "dGhlIHNhbXBsZSBub25jZXh4",    // 18 bytes
      "dGhlIHNhbXBsZSBub25jZR==",    // non-zero trailing bits
      "dGhlIHNhbXBsZSBub25jZ!==",    // not base64
      "dGhlIHNhbXBsZSBub25jZQ==dGhl",
      "",
  };
  for (const char *k : bad_keys)
    CHECK_REJECT(request(std::string("Sec-WebSocket-Key: ") + k + "\r\n", "Sec-WebSocket-Key"), ERR_BAD_HANDSHAKE,
                 400, "Sec-WebSocket-Key is not base64 of 16 bytes");
  CHECK_REJECT(request("Sec-WebSocket-Protocol: chat, sup er\r\n"), ERR_BAD_HANDSHAKE, 400,
               "malformed Sec-WebSocket-Protocol");
  CHECK_REJECT(request("Sec-WebSocket-Protocol: a;b\r\n"), ERR_BAD_HANDSHAKE, 400, "malformed Sec-WebSocket-Protocol");
  CHECK_REJECT(request("Sec-WebSocket-Extensions: x; =1\r\n"), ERR_BAD_HANDSHAKE, 400,
               "malformed Sec-WebSocket-Extensions");
  CHECK_REJECT(request("Sec-WebSocket-Extensions: x\r\nSec-WebSocket-Extensions: ;y\r\n"), ERR_BAD_HANDSHAKE, 400,
               "malformed Sec-WebSocket-Extensions");
  // First failure in the documented order wins.
  CHECK_REJECT(request("Sec-WebSocket-Version: 8\r\n", "Sec-WebSocket-Version,Sec-WebSocket-Key,Host",
                       "PUT /chat HTTP/1.1"),
               ERR_BAD_HANDSHAKE, 400, "method is not GET");
  CHECK_REJECT(request("Sec-WebSocket-Version: 8\r\n", "Sec-WebSocket-Version,Sec-WebSocket-Key"), ERR_BAD_VERSION,
               426, "Sec-WebSocket-Version is not 13");
  // Not a complete request head.
  Allocator a;
  HttpHead empty(&a, HttpHead::Kind::Request);
  StringList none(&a);
  int status = 7;
  const char *reason = nullptr;
  CHECK_EQ(ws_check_request(empty, none, false, &status, &reason), ERR_INVALID_ARGUMENT);
  CHECK_EQ(status, 0);
}

TEST(ws_handshake_origin_allow_list) {
  Lists l;
  l.origin("https://example.com").origin("https://*.example.org").origin("http://localhost:8080");
  const char *allowed[] = {"https://example.com", "HTTPS://EXAMPLE.COM", "https://a.example.org",
                           "https://a.b.example.org", "https://A-1.Example.ORG", "http://localhost:8080"};
  for (const char *o : allowed) {
    Check c = check_origin((std::string("Origin: ") + o + "\r\n").c_str(), l);
    CHECK_EQ(c.rc, 0);
    CHECK(ws_origin_allowed(l.origins, sp(o)));
  }
  const char *refused[] = {"https://example.org",        "https://evilexample.org",  "http://a.example.org",
                           "https://a.example.org:8443", "https://a.example.org.evil.com",
                           "https://.example.org",       "https://a..example.org",   "https://a_b.example.org",
                           "https://example.com:443",    "https://example.com.",     "http://localhost",
                           "null",                       "https://example.co",       "wss://a.example.org"};
  for (const char *o : refused) {
    Check c = check_origin((std::string("Origin: ") + o + "\r\n").c_str(), l);
    CHECK_EQ(c.rc, ERR_ORIGIN_REJECTED);
    CHECK_EQ(c.status, 403);
    CHECK_STR(c.reason.data(), c.reason.size(), "Origin not allowed");
  }
  // Missing Origin: allowed unless required; two Origins: refused.
  CHECK_EQ(check_origin("", l).rc, 0);
  Check c = check_origin("", l, true);
  CHECK_EQ(c.rc, ERR_ORIGIN_REJECTED);
  CHECK_EQ(c.status, 403);
  CHECK_STR(c.reason.data(), c.reason.size(), "Origin missing");
  c = check_origin("Origin: https://example.com\r\nOrigin: https://example.com\r\n", l);
  CHECK_EQ(c.rc, ERR_ORIGIN_REJECTED);
  CHECK_STR(c.reason.data(), c.reason.size(), "more than one Origin field");
  // An empty list accepts any origin, and none.
  Lists empty;
  CHECK_EQ(check_origin("Origin: https://evil.com\r\n", empty).rc, 0);
  CHECK_EQ(check_origin("", empty, true).rc, 0);
  // Wildcard with a port keeps the port.
  Lists port;
  port.origin("https://*.example.com:8443");
  CHECK(ws_origin_allowed(port.origins, sp("https://a.example.com:8443")));
  CHECK(!ws_origin_allowed(port.origins, sp("https://a.example.com")));
  CHECK(!ws_origin_allowed(port.origins, sp("https://a.example.com:844")));
}

TEST(ws_handshake_origin_pattern_valid) {
  const char *valid[] = {"https://example.com", "https://*.example.com", "http://localhost:8080",
                         "https://[::1]:443",   "http://127.0.0.1",      "https://*.example.com:8443",
                         "chrome-extension://abcdef"};
  for (const char *p : valid) CHECK(ws_origin_pattern_valid(sp(p)));
  const char *invalid[] = {"null",
                           "example.com",
                           "https://",
                           "https://*",
                           "https://*.",
                           "https://example.com/",
                           "https://ex ample.com",
                           "https://a..b",
                           "https://*.[::1]",
                           "https://example.com:",
                           "https://example.com:123456",
                           "https://*example.com",
                           "https://a.*.example.com",
                           "1https://x",
                           "https://user@example.com",
                           "https://[::1",
                           ""};
  for (const char *p : invalid) {
    if (ws_origin_pattern_valid(sp(p))) harness::fail(__FILE__, __LINE__, std::string("accepted: ") + p);
  }
}

TEST(ws_handshake_subprotocols) {
  Parsed p(request("Sec-WebSocket-Protocol: a, b\r\nX: y\r\nsec-websocket-protocol: c,,\r\n"));
  CHECK_EQ(check(request("Sec-WebSocket-Protocol: a, b\r\nX: y\r\nsec-websocket-protocol: c,,\r\n")).rc, 0);
  std::string all;
  span name;
  for (size_t i = 0; ws_request_subprotocol(p.head, i, &name); ++i) all += "[" + str(name) + "]";
  CHECK(all == "[a][b][c]");
  CHECK(ws_request_offers_subprotocol(p.head, sp("c")));
  CHECK(!ws_request_offers_subprotocol(p.head, sp("C")));
  Lists l;
  l.protocol("x").protocol("c").protocol("a");
  span chosen;
  CHECK(ws_choose_subprotocol(p.head, l.protocols, &chosen));
  CHECK_STR(chosen.ptr, chosen.len, "c");
  Lists none;
  none.protocol("A").protocol("z");
  CHECK(!ws_choose_subprotocol(p.head, none.protocols, &chosen));
  Parsed q(request(""));
  CHECK(!ws_request_subprotocol(q.head, 0, &name));
  CHECK(!ws_choose_subprotocol(q.head, l.protocols, &chosen));
}

TEST(ws_handshake_extension_offer) {
  Parsed p(request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, foo\r\n"
                   "Sec-WebSocket-Extensions: bar ;  a=1 ;b=\"q,v\\\"\" ; c\r\n"));
  std::string all;
  span name, params;
  for (size_t i = 0; ws_request_extension(p.head, i, &name, &params); ++i)
    all += "[" + str(name) + "|" + str(params) + "]";
  CHECK(all == "[permessage-deflate|client_max_window_bits][foo|][bar|a=1 ;b=\"q,v\\\"\" ; c]");
  CHECK(!ws_request_extension(p.head, 3, &name, &params));

  const char *valid[] = {"x",
                         "x, y",
                         "x;a",
                         "x ; a = 1",
                         "x; a=\"\"",
                         "x; a=\"1,2;3\"",
                         "x; a=\"\\\"\"",
                         "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
                         "x,",
                         ", x",
                         "x\t;\ta"};
  for (const char *v : valid)
    if (!ws_extension_list_valid(sp(v))) harness::fail(__FILE__, __LINE__, std::string("refused: ") + v);
  const char *invalid[] = {"",           " ",       ",",         "x;",      "x; ",    "x; =1",  "x; a=",
                           "x; a=\"1",   "x; a=\"\\", "x y",       ";x",      "x; a b", "x; a=1 2", "x; a=(1)",
                           "x=1",        "x; a==1", "x; a=\"\x01\"", "x, ;y",  "x;;a"};
  for (const char *v : invalid)
    if (ws_extension_list_valid(sp(v))) harness::fail(__FILE__, __LINE__, std::string("accepted: ") + v);
  // Adversarial shapes stay one pass: long runs that a backtracking tokenizer chokes on.
  std::string evil = "x";
  for (int i = 0; i < 3000; ++i) evil += "; a=\"\\\"";
  CHECK(!ws_extension_list_valid(sp(evil)));
  std::string many = "x";
  for (int i = 0; i < 3000; ++i) many += ";a";
  CHECK(ws_extension_list_valid(sp(many)));
  // The browsers' offers are settled by a compare; behind leading whitespace (allowed, and
  // no longer the exact offer) the state machine decides. Both must agree on the offers,
  // on every one-byte change of them (every byte value at every position) and on every
  // prefix, which all go to the machine alone.
  size_t compared = 0;
  for (const std::string offer : {"permessage-deflate; client_max_window_bits", "permessage-deflate"}) {
    CHECK(ws_extension_list_valid(sp(offer)));
    std::vector<std::string> values{offer};
    for (size_t n = 0; n < offer.size(); ++n) values.push_back(offer.substr(0, n));
    for (size_t pos = 0; pos < offer.size(); ++pos)
      for (int c = 0; c < 256; ++c) {
        std::string v = offer;
        v[pos] = char(c);
        values.push_back(v);
      }
    for (const std::string &v : values) {
      if (ws_extension_list_valid(sp(v)) != ws_extension_list_valid(sp(" " + v)))
        harness::fail(__FILE__, __LINE__, "fast and slow differ on: " + v);
      ++compared;
    }
  }
  CHECK(compared > 15000);
}

TEST(ws_handshake_reject_responses_exact) {
  Allocator a;
  Buffer out(&a);
  Buffer none(&a);
  CHECK_EQ(ws_write_reject(out, 400, sp("bad request\n"), none.view()), 0);
  CHECK(str(out) ==
        "HTTP/1.1 400 Bad Request\r\n"
        "Connection: close\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 12\r\n"
        "\r\n"
        "bad request\n");
  out.clear();
  CHECK_EQ(ws_write_reject(out, 426, sp("upgrade required"), none.view()), 0);
  CHECK(str(out) ==
        "HTTP/1.1 426 Upgrade Required\r\n"
        "Connection: close\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 16\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
        "upgrade required");
  out.clear();
  Buffer extra(&a);
  CHECK_EQ(ws_add_extra_header(extra, sp("Location"), sp("https://example.com/")), 0);
  CHECK_EQ(ws_write_reject(out, 403, span{nullptr, 0}, extra.view()), 0);
  CHECK(str(out) ==
        "HTTP/1.1 403 Forbidden\r\n"
        "Connection: close\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 0\r\n"
        "Location: https://example.com/\r\n"
        "\r\n");
  out.clear();
  CHECK_EQ(ws_write_reject(out, 431, sp("x"), none.view()), 0);
  CHECK(str(out).rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0) == 0);
  out.clear();
  CHECK_EQ(ws_write_reject(out, 599, sp("x"), none.view()), 0);
  CHECK(str(out).rfind("HTTP/1.1 599 \r\nConnection: close\r\n", 0) == 0);
  // Every reject response parses with the strict parser.
  Parsed parsed(str(out), HttpHead::Kind::Response);
  CHECK_EQ(parsed.head.status(), 599);
  out.clear();
  CHECK_EQ(ws_write_reject(out, 200, sp("hello"), none.view()), 0);
  out.clear();
  for (int st : {0, 100, 101, 199, 204, 205, 304, 600, -1})
    CHECK_EQ(ws_write_reject(out, st, sp("x"), none.view()), ERR_INVALID_ARGUMENT);
  CHECK(out.empty());
}

TEST(ws_handshake_client_request_exact) {
  Allocator a;
  Buffer out(&a);
  Buffer extra(&a);
  Lists l;
  l.protocol("chat").protocol("superchat");
  CHECK_EQ(ws_add_extra_header(extra, sp("Origin"), sp("http://example.com")), 0);
  CHECK_EQ(ws_write_client_request(out, sp("server.example.com"), sp("/chat"), sp(kKey), l.protocols, extra.view()), 0);
  const std::string expected =
      "GET /chat HTTP/1.1\r\n"
      "Host: server.example.com\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: chat, superchat\r\n"
      "Origin: http://example.com\r\n"
      "\r\n";
  CHECK(str(out) == expected);
  // What the client writes, the server accepts.
  CHECK_EQ(check(expected).rc, 0);
  out.clear();
  Lists none;
  CHECK_EQ(ws_write_client_request(out, sp("h:8080"), sp("/?a=b"), sp(kKey), none.protocols, span{nullptr, 0}), 0);
  CHECK(str(out) ==
        "GET /?a=b HTTP/1.1\r\nHost: h:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  out.clear();
  CHECK_EQ(ws_write_client_request(out, sp(""), sp("/"), sp(kKey), none.protocols, span{nullptr, 0}), ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_write_client_request(out, sp("a b"), sp("/"), sp(kKey), none.protocols, span{nullptr, 0}),
           ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_write_client_request(out, sp("h"), sp("chat"), sp(kKey), none.protocols, span{nullptr, 0}),
           ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_write_client_request(out, sp("h"), sp("/a b"), sp(kKey), none.protocols, span{nullptr, 0}),
           ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_write_client_request(out, sp("h"), sp("/\r\n"), sp(kKey), none.protocols, span{nullptr, 0}),
           ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_write_client_request(out, sp("h"), sp("/"), sp("short"), none.protocols, span{nullptr, 0}),
           ERR_INVALID_ARGUMENT);
  Lists bad;
  bad.protocol("a b");
  CHECK_EQ(ws_write_client_request(out, sp("h"), sp("/"), sp(kKey), bad.protocols, span{nullptr, 0}),
           ERR_INVALID_ARGUMENT);
  CHECK(out.empty());
}

TEST(ws_handshake_extra_headers) {
  Allocator a;
  Buffer h(&a);
  CHECK_EQ(ws_add_extra_header(h, sp("X-A"), sp("1")), 0);
  CHECK_EQ(ws_add_extra_header(h, sp("X-B"), sp("tab\there")), 0);
  CHECK_EQ(ws_add_extra_header(h, sp("X-Empty"), span{nullptr, 0}), 0);
  CHECK(str(h) == "X-A: 1\r\nX-B: tab\there\r\nX-Empty: \r\n");
  const char *reserved[] = {"Upgrade",           "connection",          "HOST",
                            "Content-Length",    "transfer-encoding",   "Sec-WebSocket-Accept",
                            "sec-websocket-key", "Sec-WebSocket-Foo",   "SEC-WEBSOCKET-PROTOCOL"};
  for (const char *n : reserved) CHECK_EQ(ws_add_extra_header(h, sp(n), sp("v")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_add_extra_header(h, sp("X A"), sp("v")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_add_extra_header(h, sp("X:A"), sp("v")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_add_extra_header(h, sp(""), sp("v")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_add_extra_header(h, sp("X"), sp("a\r\nInjected: 1")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_add_extra_header(h, sp("X"), sp("a\nb")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_add_extra_header(h, sp("X"), sp("a\rb")), ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_add_extra_header(h, sp("X"), make_span("a\0b", 3)), ERR_INVALID_ARGUMENT);
  CHECK_EQ(ws_add_extra_header(h, sp("X"), sp("a\x01")), ERR_INVALID_ARGUMENT);
  CHECK(str(h) == "X-A: 1\r\nX-B: tab\there\r\nX-Empty: \r\n");
  // Out of memory leaves the buffer as it was.
  AllocCounter failing;
  failing.fail_at = 1;
  Allocator fa(&failing.api);
  Buffer f(&fa);
  CHECK_EQ(ws_add_extra_header(f, sp("X"), sp("y")), ERR_NOMEM);
  CHECK(f.empty());
  CHECK_EQ(ws_write_accept(f, sp(kKey), span{nullptr, 0}, span{nullptr, 0}), ERR_NOMEM);
  CHECK(f.empty());
}

TEST(ws_handshake_client_response_validation) {
  Lists offered;
  offered.protocol("chat").protocol("superchat");
  Lists none;
  std::string chosen = "unset";
  Check c = check_response(std::string(kGood101) + "\r\n", offered.protocols, &chosen);
  CHECK_EQ(c.rc, 0);
  CHECK_EQ(c.status, 101);
  CHECK(chosen.empty());
  c = check_response(std::string(kGood101) + "Sec-WebSocket-Protocol: superchat\r\n\r\n", offered.protocols, &chosen);
  CHECK_EQ(c.rc, 0);
  CHECK(chosen == "superchat");
  // Case variants of the tokens are fine; the accept value is exact.
  c = check_response(
      "HTTP/1.1 101 x\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n"
      "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
      none.protocols);
  CHECK_EQ(c.rc, 0);

  struct Case {
    std::string text;
    int rc, status;
    const char *reason;
  } cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", ERR_HANDSHAKE_REJECTED, 200, "the server did not answer 101"},
      {"HTTP/1.1 403 Forbidden\r\n\r\n", ERR_HANDSHAKE_REJECTED, 403, "the server did not answer 101"},
      {"HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
       ERR_BAD_HANDSHAKE, 101, "101 response is not HTTP/1.1"},
      {"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
       ERR_BAD_HANDSHAKE, 101, "Upgrade does not list websocket"},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
       ERR_BAD_HANDSHAKE, 101, "Connection does not list upgrade"},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", ERR_BAD_HANDSHAKE, 101,
       "Sec-WebSocket-Accept missing"},
      {std::string(kGood101) + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", ERR_BAD_HANDSHAKE, 101,
       "more than one Sec-WebSocket-Accept field"},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOO=\r\n\r\n",
       ERR_BAD_HANDSHAKE, 101, "wrong Sec-WebSocket-Accept"},
      {std::string(kGood101) + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", ERR_BAD_HANDSHAKE, 101,
       "the server accepted an extension that was not offered"},
      {std::string(kGood101) + "Sec-WebSocket-Extensions:\r\n\r\n", ERR_BAD_HANDSHAKE, 101,
       "the server accepted an extension that was not offered"},
      {std::string(kGood101) + "Sec-WebSocket-Protocol: other\r\n\r\n", ERR_BAD_HANDSHAKE, 101,
       "the server chose a subprotocol that was not offered"},
      {std::string(kGood101) + "Sec-WebSocket-Protocol: Chat\r\n\r\n", ERR_BAD_HANDSHAKE, 101,
       "the server chose a subprotocol that was not offered"},
      {std::string(kGood101) + "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n", ERR_BAD_HANDSHAKE, 101,
       "Sec-WebSocket-Protocol must hold one subprotocol"},
      {std::string(kGood101) + "Sec-WebSocket-Protocol:\r\n\r\n", ERR_BAD_HANDSHAKE, 101,
       "Sec-WebSocket-Protocol must hold one subprotocol"},
      {std::string(kGood101) + "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
       ERR_BAD_HANDSHAKE, 101, "more than one Sec-WebSocket-Protocol field"},
  };
  for (const Case &k : cases) {
    chosen = "unset";
    c = check_response(k.text, offered.protocols, &chosen);
    CHECK_EQ(c.rc, k.rc);
    CHECK_EQ(c.status, k.status);
    CHECK_STR(c.reason.data(), c.reason.size(), k.reason);
    CHECK(chosen.empty());
  }
  // A subprotocol when none was offered.
  c = check_response(std::string(kGood101) + "Sec-WebSocket-Protocol: chat\r\n\r\n", none.protocols);
  CHECK_EQ(c.rc, ERR_BAD_HANDSHAKE);
  CHECK_STR(c.reason.data(), c.reason.size(), "the server chose a subprotocol that was not offered");
  // Not a complete response head.
  Allocator a;
  HttpHead req(&a, HttpHead::Kind::Request);
  span ch;
  int status = 5;
  const char *reason = nullptr;
  CHECK_EQ(ws_check_response(req, sp(kKey), none.protocols, &ch, &status, &reason), ERR_INVALID_ARGUMENT);
  CHECK_EQ(status, 0);
}

TEST(ws_handshake_w7_request_shape) {
  // WORKLOADS.md W7: requests 0 and 1 of w7.bin, byte for byte (room 1 is the odd shape,
  // Connection: keep-alive, Upgrade). Accept values computed independently (Python hashlib).
  const std::string common_tail =
      "Sec-WebSocket-Version: 13\r\n"
      "Origin: http://example.com\r\n"
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n";
  const std::string cookie0 =
      "session=AxWDWEzEi0_GM-IgEoONPCpoIsMcu08fxz7lIGcp46IwAKuI8ESubqojPkrRPnhc; theme=dark; lang=en-US; "
      "csrftoken=U7CbiFU5ug8Nl8LX5I4Woks9S4pjIPw-is5_9ZS3U2xA981OQMgOlAIjeXvGVqth; _ga=GA1.2.2122998742.1700000000";
  const std::string cookie1 =
      "session=nAMrJsdUNUqzTaZOHycIteklxySmZ-G75UwFTpF5YNCQPYZGxppVgP9zl7rjJZ2v; theme=dark; lang=en-US; "
      "csrftoken=EHeuDa_cCwTEJSkdMiE4COU33I9D9P6nn-Y7sqzYNkSXHNNMr-DXIfV8BAYKnnk1; _ga=GA1.2.0118392407.1700000001";
  CHECK_EQ(cookie0.size(), 205);
  CHECK_EQ(cookie1.size(), 205);
  struct W7 {
    std::string text;
    const char *accept;
  } reqs[] = {
      {"GET /chat?room=0 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: OzMb6xbxFX9yANa+2LRmQA==\r\n" +
           common_tail + "Cookie: " + cookie0 + "\r\n\r\n",
       "QX30xhv2dLLlNtDCbPWF8QiaYtc="},
      {"GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
       "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: RJpR5mIHFO0XThHVUN7WhA==\r\n" +
           common_tail + "Cookie: " + cookie1 + "\r\n\r\n",
       "he2Yzk6lGvaLVALvFJ6lkM8vPCg="},
  };
  CHECK_EQ(reqs[0].text.size(), 565);
  CHECK_EQ(reqs[1].text.size(), 577);
  for (const W7 &w : reqs) {
    Parsed p(w.text);
    CHECK_EQ(p.head.field_count(), 9);
    Lists l;
    l.origin("http://example.com");
    int status = 0;
    const char *reason = nullptr;
    CHECK_EQ(ws_check_request(p.head, l.origins, true, &status, &reason), 0);
    span name, params, key;
    CHECK(ws_request_extension(p.head, 0, &name, &params));
    CHECK_STR(name.ptr, name.len, "permessage-deflate");
    CHECK_STR(params.ptr, params.len, "client_max_window_bits");
    CHECK(p.head.find("sec-websocket-key", 0, &key));
    Allocator a;
    Buffer out(&a);
    CHECK_EQ(ws_write_accept(out, key, span{nullptr, 0}, span{nullptr, 0}), 0);
    CHECK(str(out) == std::string("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                  "Sec-WebSocket-Accept: ") +
                          w.accept + "\r\n\r\n");
    // The offered permessage-deflate is not accepted: no extension line in the answer.
    CHECK(str(out).find("Extensions") == std::string::npos);
  }
}

// The handshake tells its fields apart by length and a folded word compare, and takes the
// Upgrade/Connection value "websocket"/"upgrade" alone without walking the list. Held
// against references built from equals_ci and list_contains_ci: every byte at every
// position of every name and of those two values, in both cases.
TEST(ws_handshake_field_names_match_reference) {
  Allocator a;
  StringList origins(&a);
  CHECK_EQ(origins.add(sp("http://example.com")), 0);
  struct Named {
    const char *name, *value;
  };
  // Each field with a value that makes its presence observable: a required one accepts,
  // the others (malformed, or an Origin the allow-list requires) change the answer.
  const Named fields[] = {{"Host", "server.example.com"},
                          {"Upgrade", "websocket"},
                          {"Connection", "Upgrade"},
                          {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                          {"Sec-WebSocket-Version", "13"},
                          {"Sec-WebSocket-Protocol", "a b"},
                          {"Sec-WebSocket-Extensions", ";"},
                          {"Origin", "http://example.com"}};
  auto run = [&](const std::vector<std::pair<std::string, std::string>> &lines) {
    std::string text = "GET /chat HTTP/1.1\r\n";
    for (auto &l : lines) text += l.first + ": " + l.second + "\r\n";
    text += "\r\n";
    std::string checked_key;
    const Check c = check_request_both(text, origins, true, &checked_key);
    Parsed p(text);
    span key = ws_request_key(p.head);
    // On success the check hands out the key it validated: the one the answer needs.
    if (c.rc == 0) CHECK(checked_key == str(key));
    return std::to_string(c.rc) + " " + std::to_string(c.status) + " " + c.reason + " key=" + str(key);
  };
  std::vector<std::pair<std::string, std::string>> all;
  for (const Named &f : fields) all.push_back({f.name, f.value});
  size_t checked = 0;
  for (size_t k = 0; k < sizeof fields / sizeof fields[0]; ++k) {
    auto base = all;  // only field k malformed, so its absence shows whatever the check order
    if (k != 5) base[5].second = "chat";
    if (k != 6) base[6].second = "x";
    auto without = base;
    without.erase(without.begin() + long(k));
    const std::string present = run(base), absent = run(without);
    CHECK(present != absent);  // the field matters, so a missed match shows
    const std::string name = fields[k].name;
    for (size_t pos = 0; pos < name.size(); ++pos) {
      for (int c = 0x21; c < 0x7f; ++c) {
        std::string n = name;
        n[pos] = char(c);
        if (!is_token(sp(n))) continue;  // the parser refuses it before the handshake looks
        auto lines = base;
        lines[k].first = n;
        const std::string got = run(lines), want = equals_ci(sp(n), sp(name)) ? present : absent;
        if (got != want) harness::fail(__FILE__, __LINE__, "name " + n + ": " + got + " want " + want);
        ++checked;
      }
    }
  }
  // The two list values: the literal alone, changed at every byte (value bytes 0x21-0xFF),
  // and inside lists, quoted, with OWS; accepted exactly when list_contains_ci says so.
  for (int which = 0; which < 2; ++which) {
    const std::string lit = which ? "upgrade" : "websocket";
    const std::string field = which ? "Connection" : "Upgrade";
    std::vector<std::string> values = {lit, "Keep-Alive, " + lit, lit + ", x", " x ,\t" + lit + " ,", "\"" + lit + "\"",
                                       "\"a, " + lit, "a \"" + lit + "\", " + lit, lit + lit, lit.substr(1), "x" + lit,
                                       "," + lit + ",", "x;" + lit};
    for (size_t pos = 0; pos < lit.size(); ++pos) {
      for (int c = 0x21; c < 0x100; ++c) {
        if (c == 0x7f) continue;
        std::string v = lit;
        v[pos] = char(c);
        values.push_back(v);
        values.push_back("close, " + v);
      }
      std::string up = lit;
      up[pos] = char(up[pos] - 32);
      values.push_back(up);
    }
    for (const std::string &v : values) {
      auto lines = all;
      lines.erase(lines.begin() + 5, lines.begin() + 7);  // without the malformed two
      lines[which ? 2 : 1].second = v;
      const bool want = list_contains_ci(sp(v), sp(lit));
      const std::string got = run(lines);
      const bool ok = got.compare(0, 6, "0 101 ") == 0;
      if (ok != want) harness::fail(__FILE__, __LINE__, field + ": " + v + " -> " + got);
      ++checked;
    }
  }
  CHECK(checked > 3000);
}

// The accept key of a 24-byte key is hashed as two prepared blocks; it must equal the
// streamed SHA-1 (any other length still takes that path) for any key bytes.
TEST(ws_handshake_accept_key_matches_streamed_sha1) {
  const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  uint32_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    const size_t len = round < 1900 ? WS_KEY_SIZE : size_t(round % 70);
    std::string key(len, '\0');
    for (char &ch : key) {
      x = x * 1103515245u + 12345u;
      ch = char(x >> 23);
    }
    std::string msg = key + guid;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1(msg.data(), msg.size(), digest);
    char want[WS_ACCEPT_SIZE], got[WS_ACCEPT_SIZE];
    base64_encode(digest, sizeof digest, want);
    ws_accept_key(sp(key), got);
    if (std::memcmp(want, got, WS_ACCEPT_SIZE) != 0) harness::fail(__FILE__, __LINE__, "key " + std::to_string(round));
  }
}

// Upgrade and Connection decide "websocket" / "upgrade" without walking the list when the
// value is the literal alone or ends with it behind a comma. Held against list_contains_ci
// on lists built from elements that are, contain, quote or almost are the literal, joined
// every way, and on every byte at every position of the usual multi-element value.
TEST(ws_handshake_upgrade_and_connection_lists_match_reference) {
  Lists l;
  auto connection_ok = [&](const std::string &field, const std::string &value, const char *token) {
    const std::string text = "GET /chat HTTP/1.1\r\nHost: h\r\n" +
                             std::string(field == "Upgrade" ? "" : "Upgrade: websocket\r\n") +
                             std::string(field == "Connection" ? "" : "Connection: Upgrade\r\n") + field + ": " +
                             value + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    Parsed p(text);
    int status = 0;
    const char *reason = "";
    ws_check_request(p.head, l.origins, false, &status, &reason);
    span v{nullptr, 0};
    CHECK(p.head.find(field.c_str(), 0, &v));
    const bool got = std::string(reason).find(field == "Upgrade" ? "Upgrade does" : "Connection does") == std::string::npos;
    const bool want = list_contains_ci(v, sp(token));
    if (got != want) harness::fail(__FILE__, __LINE__, field + ": [" + value + "]");
  };
  size_t compared = 0;
  for (const char *field : {"Connection", "Upgrade"}) {
    const std::string f = field;
    const std::string lit = f == "Upgrade" ? "websocket" : "upgrade";
    std::string upper = lit;
    for (char &c : upper) c = char(c - 32);
    const std::vector<std::string> elements = {"keep-alive", lit, upper, lit + "x", "x" + lit, "\"" + lit + "\"",
                                               "\"a," + lit + "\"", "\"a", "a\"", ""};
    const std::vector<std::string> seps = {",", ", ", " ,", ",\t", " , "};
    for (const std::string &a : elements) {
      connection_ok(f, a.empty() ? "x" : a, lit.c_str());
      ++compared;
      for (const std::string &s1 : seps)
        for (const std::string &b : elements) {
          connection_ok(f, a + s1 + b, lit.c_str());
          ++compared;
          for (const std::string &s2 : seps)
            for (const std::string &c : elements) {
              connection_ok(f, a + s1 + b + s2 + c, lit.c_str());
              ++compared;
            }
        }
    }
    const std::string usual = "keep-alive, " + upper;
    for (size_t pos = 0; pos < usual.size(); ++pos)
      for (int c = 0x20; c < 0x7f; ++c) {
        std::string v = usual;
        v[pos] = char(c);
        connection_ok(f, v, lit.c_str());
        ++compared;
      }
  }
  CHECK(compared > 50000);
}
