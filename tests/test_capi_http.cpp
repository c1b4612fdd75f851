// pushwire_http_request_* through the C ABI only.
#include <cstring>
#include <string>

#include "alloc_counter.hpp"
#include "harness.hpp"
#include "pushwire/pushwire.h"

// C++ callers may rely on the C ABI never throwing (std::vector<pushwire_ws *> cleanup,
// move constructors of wrappers): the header says so.
static_assert(noexcept(pushwire_http_request_new(nullptr, nullptr)), "pushwire functions are noexcept in C++");
static_assert(noexcept(pushwire_ws_free(nullptr)), "pushwire functions are noexcept in C++");

namespace {

const char kUpgrade[] =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "X-Dup: one\r\n"
    "x-dup: two\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

int feed(pushwire_http_request *r, const std::string &s, size_t *consumed) {
  return pushwire_http_request_feed(r, reinterpret_cast<const uint8_t *>(s.data()), s.size(), consumed);
}

}  // namespace

TEST(capi_http_new_free_arguments) {
  CHECK_EQ(pushwire_http_request_new(nullptr, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  pushwire_http_request *r = reinterpret_cast<pushwire_http_request *>(0x1);
  pushwire_allocator incomplete{nullptr, nullptr, nullptr, nullptr};
  CHECK_EQ(pushwire_http_request_new(&r, &incomplete), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK(r == reinterpret_cast<pushwire_http_request *>(0x1));
  AllocCounter failing;
  failing.fail_at = 1;
  CHECK_EQ(pushwire_http_request_new(&r, &failing.api), PUSHWIRE_ERR_NOMEM);
  CHECK(r == reinterpret_cast<pushwire_http_request *>(0x1));
  pushwire_http_request_free(nullptr);

  CHECK_EQ(pushwire_http_request_feed(nullptr, nullptr, 0, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_http_request_status_hint(nullptr), 0);
  CHECK_EQ(pushwire_http_request_reset(nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_http_request_minor_version(nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_http_request_header_count(nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_http_request_set_option(nullptr, PUSHWIRE_HTTP_OPT_MAX_HEADERS, 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
}

TEST(capi_http_parse_with_trailing_bytes) {
  AllocCounter counter;
  pushwire_http_request *r = nullptr;
  CHECK_EQ(pushwire_http_request_new(&r, &counter.api), 0);
  pushwire_span s;
  // Before completion every accessor says INVALID_STATE.
  CHECK_EQ(pushwire_http_request_method(r, &s), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_http_request_target(r, &s), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_http_request_minor_version(r), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_http_request_header_count(r), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_http_request_header_at(r, 0, &s, &s), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_http_request_header(r, "Host", 4, 0, &s), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_http_request_has_token(r, "Upgrade", 7, "websocket", 9), PUSHWIRE_ERR_INVALID_STATE);

  const std::string head = kUpgrade;
  const std::string trailing = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
  size_t consumed = 99;
  CHECK_EQ(feed(r, head.substr(0, 10), &consumed), 0);
  CHECK_EQ(consumed, 10);
  CHECK_EQ(pushwire_http_request_method(r, &s), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(feed(r, head.substr(10) + trailing, &consumed), 1);
  CHECK_EQ(consumed, head.size() - 10);
  CHECK_EQ(feed(r, trailing, &consumed), 1);
  CHECK_EQ(consumed, 0);
  CHECK_EQ(feed(r, trailing, nullptr), 1);
  CHECK_EQ(pushwire_http_request_feed(r, nullptr, 0, &consumed), 1);

  CHECK_EQ(pushwire_http_request_method(r, &s), 0);
  CHECK_STR(s.ptr, s.len, "GET");
  CHECK_EQ(pushwire_http_request_target(r, &s), 0);
  CHECK_STR(s.ptr, s.len, "/chat?room=1");
  CHECK_EQ(pushwire_http_request_minor_version(r), 1);
  CHECK_EQ(pushwire_http_request_header_count(r), 7);
  pushwire_span name, value;
  CHECK_EQ(pushwire_http_request_header_at(r, 3, &name, &value), 1);
  CHECK_STR(name.ptr, name.len, "X-Dup");
  CHECK_STR(value.ptr, value.len, "one");
  CHECK_EQ(pushwire_http_request_header_at(r, 7, &name, &value), 0);
  CHECK_EQ(pushwire_http_request_header_at(r, 0, nullptr, &value), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_http_request_header(r, "x-DUP", 5, 1, &value), 1);
  CHECK_STR(value.ptr, value.len, "two");
  CHECK_EQ(pushwire_http_request_header(r, "x-DUP", 5, 2, &value), 0);
  CHECK_EQ(pushwire_http_request_header(r, "Origin", 6, 0, &value), 0);
  CHECK_EQ(pushwire_http_request_header(r, nullptr, 3, 0, &value), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_http_request_header(r, "Host", 4, 0, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_http_request_has_token(r, "connection", 10, "UPGRADE", 7), 1);
  CHECK_EQ(pushwire_http_request_has_token(r, "Connection", 10, "close", 5), 0);
  CHECK_EQ(pushwire_http_request_has_token(r, "Upgrade", 7, nullptr, 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_http_request_method(r, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_http_request_status_hint(r), 0);
  CHECK_EQ(pushwire_http_request_feed(r, nullptr, 3, &consumed), PUSHWIRE_ERR_INVALID_ARGUMENT);
  pushwire_http_request_free(r);
  CHECK_EQ(counter.live, 0);
}

TEST(capi_http_sticky_errors_and_reset) {
  pushwire_http_request *r = nullptr;
  CHECK_EQ(pushwire_http_request_new(&r, nullptr), 0);
  size_t consumed = 5;
  CHECK_EQ(feed(r, "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", &consumed), PUSHWIRE_ERR_BAD_HTTP);
  CHECK_EQ(consumed, 0);
  CHECK_EQ(pushwire_http_request_status_hint(r), 400);
  CHECK_EQ(feed(r, "\r\n", &consumed), PUSHWIRE_ERR_BAD_HTTP);
  CHECK_EQ(feed(r, kUpgrade, &consumed), PUSHWIRE_ERR_BAD_HTTP);
  CHECK_EQ(consumed, 0);
  pushwire_span s;
  CHECK_EQ(pushwire_http_request_method(r, &s), PUSHWIRE_ERR_INVALID_STATE);
  // A misuse error is not recorded: the sticky code stays.
  CHECK_EQ(pushwire_http_request_feed(r, nullptr, 1, &consumed), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(feed(r, "", &consumed), PUSHWIRE_ERR_BAD_HTTP);

  CHECK_EQ(pushwire_http_request_reset(r), 0);
  CHECK_EQ(pushwire_http_request_status_hint(r), 0);
  CHECK_EQ(pushwire_http_request_set_option(r, PUSHWIRE_HTTP_OPT_MAX_HEADERS, 2), 0);
  CHECK_EQ(feed(r, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &consumed), PUSHWIRE_ERR_HEAD_TOO_LARGE);
  CHECK_EQ(pushwire_http_request_status_hint(r), 431);
  CHECK_EQ(feed(r, "", &consumed), PUSHWIRE_ERR_HEAD_TOO_LARGE);

  // Options stay across reset.
  CHECK_EQ(pushwire_http_request_reset(r), 0);
  CHECK_EQ(feed(r, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", &consumed), 1);
  CHECK_EQ(pushwire_http_request_header_count(r), 2);
  CHECK_EQ(pushwire_http_request_reset(r), 0);
  CHECK_EQ(pushwire_http_request_header_count(r), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(feed(r, "GET /two HTTP/1.0\r\n\r\n", &consumed), 1);
  CHECK_EQ(pushwire_http_request_minor_version(r), 0);
  CHECK_EQ(pushwire_http_request_target(r, &s), 0);
  CHECK_STR(s.ptr, s.len, "/two");
  pushwire_http_request_free(r);
}

TEST(capi_http_options) {
  pushwire_http_request *r = nullptr;
  CHECK_EQ(pushwire_http_request_new(&r, nullptr), 0);
  CHECK_EQ(pushwire_http_request_set_option(r, PUSHWIRE_HTTP_OPT_MAX_HEAD_SIZE, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_http_request_set_option(r, static_cast<pushwire_http_option>(99), 1), PUSHWIRE_ERR_UNSUPPORTED);
  CHECK_EQ(pushwire_http_request_set_option(r, PUSHWIRE_HTTP_OPT_MAX_HEAD_SIZE, 20), 0);
  size_t consumed;
  CHECK_EQ(feed(r, "GET /abc HTTP/1.1\r\n\r\n", &consumed), PUSHWIRE_ERR_HEAD_TOO_LARGE);  // 21 bytes
  CHECK_EQ(pushwire_http_request_status_hint(r), 431);
  CHECK_EQ(pushwire_http_request_set_option(r, PUSHWIRE_HTTP_OPT_MAX_HEAD_SIZE, 30), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_http_request_reset(r), 0);
  CHECK_EQ(feed(r, "GET /ab HTTP/1.1\r\n\r\n", &consumed), 1);  // exactly 20 bytes
  CHECK_EQ(consumed, 20);
  CHECK_EQ(pushwire_http_request_set_option(r, PUSHWIRE_HTTP_OPT_MAX_HEADERS, 3), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_http_request_reset(r), 0);
  CHECK_EQ(pushwire_http_request_set_option(r, PUSHWIRE_HTTP_OPT_MAX_HEAD_SIZE, UINT64_MAX), 0);
  CHECK_EQ(feed(r, kUpgrade, &consumed), 1);
  pushwire_http_request_free(r);
}
