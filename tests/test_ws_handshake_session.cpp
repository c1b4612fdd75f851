// The opening handshake through the handle, both roles, and memory: the idle figure after
// the handshake, leaks, and a fail-the-Nth-allocation sweep over a whole session.
#include <cstdio>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "harness.hpp"
#include "http_samples.hpp"
#include "ws_session.hpp"
#include "ws_test_util.hpp"

using namespace wstest;

namespace {

const uint8_t *u8(const char *s) { return reinterpret_cast<const uint8_t *>(s); }

std::string with(std::string req, const std::string &from, const std::string &to) {
  size_t at = req.find(from);
  if (at == std::string::npos) harness::fail(__FILE__, __LINE__, "fixture: no " + from);
  else req.replace(at, from.size(), to);
  return req;
}

// The RFC sample request, offering an extension too (never accepted).
std::string request() {
  return with(kRfcRequest, "Sec-WebSocket-Version", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nSec-WebSocket-Version");
}

const char *const kAccept = kRfcResponse;

std::string reject_response(const char *status_line, const std::string &body, const char *extra = "") {
  return std::string("HTTP/1.1 ") + status_line + "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

std::string sp(const pushwire_span &s) { return std::string(reinterpret_cast<const char *>(s.ptr), s.len); }

// Expects a server to refuse `request` with `status`, the error and the exact response.
void expect_refused(const std::string &request, unsigned status, int error, const char *status_line,
                    const char *reason, const char *extra = "", int max_head = 0, int max_headers = 0) {
  Conn s(PUSHWIRE_WS_SERVER);
  CHECK_EQ(pushwire_ws_add_origin(s.ws, "https://example.com", 19), 0);
  if (max_head) CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_HEAD_SIZE, max_head), 0);
  if (max_headers) CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_HEADERS, max_headers), 0);
  CHECK_EQ(s.feed(request), 0);
  std::vector<std::string> ev = s.events(true);
  std::string want = "rejected " + std::to_string(status) + " failed " + vectors::escape(std::string(reason));
  if (ev != std::vector<std::string>{want})
    harness::fail(__FILE__, __LINE__, (ev.empty() ? std::string("no event") : ev[0]) + " != " + want);
  CHECK_EQ(s.last_error, error);
  CHECK_EQ(pushwire_ws_close_code_hint(s.ws), int(status));
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_FAILED);
  std::string out = s.out(), resp = reject_response(status_line, reason, extra);
  CHECK_STR(out.data(), out.size(), resp.c_str());
  CHECK_EQ(s.feed("more"), error);
  CHECK_EQ(pushwire_ws_accept(s.ws, nullptr, 0), PUSHWIRE_ERR_INVALID_STATE);
}


}  // namespace

TEST(ws_handshake_server_rfc_sample) {
  Conn s(PUSHWIRE_WS_SERVER);
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_HANDSHAKE);
  CHECK_EQ(s.feed(request()), 0);
  CHECK(s.events() == std::vector<std::string>{"request \"/chat\""});
  CHECK_EQ(s.last_error, 0);
  CHECK_EQ(s.out().size(), 0);
  pushwire_span v, name, params;
  CHECK_EQ(pushwire_ws_request_target(s.ws, &v), 1);
  CHECK(sp(v) == "/chat");
  CHECK_EQ(pushwire_ws_request_header(s.ws, "origin", 6, 0, &v), 1);
  CHECK(sp(v) == "http://example.com");
  CHECK_EQ(pushwire_ws_request_header(s.ws, "origin", 6, 1, &v), 0);
  CHECK_EQ(pushwire_ws_request_subprotocol(s.ws, 0, &name), 1);
  CHECK(sp(name) == "chat");
  CHECK_EQ(pushwire_ws_request_subprotocol(s.ws, 1, &name), 1);
  CHECK(sp(name) == "superchat");
  CHECK_EQ(pushwire_ws_request_subprotocol(s.ws, 2, &name), 0);
  CHECK_EQ(pushwire_ws_request_extension(s.ws, 0, &name, &params), 1);
  CHECK(sp(name) == "permessage-deflate");
  CHECK(sp(params) == "client_max_window_bits");
  CHECK_EQ(pushwire_ws_request_extension(s.ws, 1, &name, &params), 0);
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_HANDSHAKE);
  CHECK_EQ(pushwire_ws_send_text(s.ws, u8("x"), 1), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_close(s.ws, 1000, nullptr, 0), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_accept(s.ws, "other", 5), PUSHWIRE_ERR_INVALID_ARGUMENT);  // not offered
  CHECK_EQ(pushwire_ws_accept(s.ws, "chat", 4), 0);
  std::string out = s.out();
  CHECK_STR(out.data(), out.size(), kAccept);
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_OPEN);
  CHECK_EQ(pushwire_ws_request_target(s.ws, &v), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_accept(s.ws, nullptr, 0), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_reject(s.ws, 403, nullptr, 0), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(s.feed(bytes("81 85 37 fa 21 3d 7f 9f 4d 51 58")), 0);
  CHECK(s.events() == std::vector<std::string>{"text \"Hello\""});
}

TEST(ws_handshake_server_preferences_and_auto_accept) {
  // AUTO_ACCEPT picks the first preferred protocol the client offered, and a first frame
  // in the same packet as the request is decoded right after the handshake.
  Conn s(PUSHWIRE_WS_SERVER);
  CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
  CHECK_EQ(pushwire_ws_add_subprotocol(s.ws, "superchat", 9), 0);
  CHECK_EQ(pushwire_ws_add_subprotocol(s.ws, "chat", 4), 0);
  CHECK_EQ(pushwire_ws_add_subprotocol(s.ws, "bad token", 9), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_add_header(s.ws, "X-Server", 8, "pushwire", 8), 0);
  CHECK_EQ(pushwire_ws_add_header(s.ws, "Upgrade", 7, "x", 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(s.feed(request() + bytes("81 85 37 fa 21 3d 7f 9f 4d 51 58")), 0);
  CHECK(s.events() == (std::vector<std::string>{"accepted \"superchat\"", "text \"Hello\""}));
  std::string out = s.out();
  std::string want = with(with(kAccept, "chat\r\n", "superchat\r\n"), "\r\n\r\n", "\r\nX-Server: pushwire\r\n\r\n");
  CHECK_STR(out.data(), out.size(), want.c_str());
  CHECK_EQ(pushwire_ws_add_subprotocol(s.ws, "late", 4), PUSHWIRE_ERR_INVALID_STATE);
  // Without a preference list nothing is chosen.
  Conn n(PUSHWIRE_WS_SERVER);
  CHECK_EQ(n.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
  CHECK_EQ(n.feed(request()), 0);
  CHECK(n.events() == std::vector<std::string>{"accepted \"\""});
  out = n.out();
  want = with(kAccept, "Sec-WebSocket-Protocol: chat\r\n", "");
  CHECK_STR(out.data(), out.size(), want.c_str());
}

TEST(ws_handshake_first_frame_waits_for_accept) {
  Conn s(PUSHWIRE_WS_SERVER);
  std::string all = request() + bytes("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  // Split inside the head and inside the frame.
  CHECK_EQ(s.feed(all.substr(0, 40)), 0);
  CHECK(s.events().empty());
  CHECK_EQ(s.feed(all.substr(40, all.size() - 43)), 0);
  CHECK(s.events() == std::vector<std::string>{"request \"/chat\""});
  CHECK_EQ(s.feed(all.substr(all.size() - 3)), 0);
  CHECK(s.events().empty());  // held until the accept
  CHECK_EQ(pushwire_ws_accept(s.ws, nullptr, 0), 0);
  CHECK(s.events() == std::vector<std::string>{"text \"Hello\""});
  std::string out = s.out(), want = with(kAccept, "Sec-WebSocket-Protocol: chat\r\n", "");
  CHECK_STR(out.data(), out.size(), want.c_str());
}

TEST(ws_handshake_answer_before_pulling_the_request_event) {
  // The request is complete once fed; a caller may answer before pulling REQUEST, whose
  // data must stay valid although the head is gone.
  Conn s(PUSHWIRE_WS_SERVER);
  CHECK_EQ(s.feed(request()), 0);
  pushwire_span t;
  CHECK_EQ(pushwire_ws_request_target(s.ws, &t), 1);
  CHECK_EQ(pushwire_ws_accept(s.ws, nullptr, 0), 0);
  CHECK(s.events() == std::vector<std::string>{"request \"/chat\""});
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_OPEN);
}

TEST(ws_handshake_server_reject) {
  Conn s(PUSHWIRE_WS_SERVER);
  CHECK_EQ(s.feed(request() + "junk"), 0);
  CHECK(s.events() == std::vector<std::string>{"request \"/chat\""});
  CHECK_EQ(pushwire_ws_reject(s.ws, 101, nullptr, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_reject(s.ws, 600, nullptr, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_reject(s.ws, 403, "go away", 7), 0);
  std::string out = s.out(), want = reject_response("403 Forbidden", "go away");
  CHECK_STR(out.data(), out.size(), want.c_str());
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_CLOSED);
  CHECK_EQ(s.feed("more"), 0);
  CHECK(s.events().empty());
  CHECK_EQ(s.last_error, 0);
  CHECK_EQ(pushwire_ws_send_text(s.ws, u8("x"), 1), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_reject(s.ws, 403, nullptr, 0), PUSHWIRE_ERR_INVALID_STATE);
}

TEST(ws_handshake_server_refusals) {
  const std::string req = with(request(), "http://example.com", "https://example.com");
  expect_refused(with(req, "Version: 13", "Version: 8"), 426, PUSHWIRE_ERR_BAD_VERSION, "426 Upgrade Required",
                 "Sec-WebSocket-Version is not 13", "Sec-WebSocket-Version: 13\r\n");
  expect_refused(with(req, "https://example.com", "https://evil.example"), 403, PUSHWIRE_ERR_ORIGIN_REJECTED,
                 "403 Forbidden", "Origin not allowed");
  expect_refused(with(req, "GET /chat", "POST /chat"), 400, PUSHWIRE_ERR_BAD_HANDSHAKE, "400 Bad Request",
                 "method is not GET");
  expect_refused(with(req, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), 400, PUSHWIRE_ERR_BAD_HANDSHAKE,
                 "400 Bad Request", "Sec-WebSocket-Key missing");
  expect_refused(with(req, "Upgrade: websocket\r\n", ""), 400, PUSHWIRE_ERR_BAD_HANDSHAKE, "400 Bad Request",
                 "Upgrade does not list websocket");
  expect_refused(with(req, "Host: server", "Host:\tserver\r\n folded"), 400, PUSHWIRE_ERR_BAD_HTTP,
                 "400 Bad Request", "obs-fold or whitespace at the start of a field line");
  expect_refused(req, 431, PUSHWIRE_ERR_HEAD_TOO_LARGE, "431 Request Header Fields Too Large",
                 "head larger than the limit", "", 64);
  expect_refused(req, 431, PUSHWIRE_ERR_HEAD_TOO_LARGE, "431 Request Header Fields Too Large",
                 "too many header fields", "", 0, 3);
}

TEST(ws_handshake_server_refusal_without_auto_close) {
  Conn s(PUSHWIRE_WS_SERVER);
  CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_CLOSE, 0), 0);
  CHECK_EQ(s.feed(with(request(), "Version: 13", "Version: 7")), 0);
  CHECK(s.events() == std::vector<std::string>{"rejected 426 failed"});
  CHECK_EQ(s.last_error, PUSHWIRE_ERR_BAD_VERSION);
  CHECK_EQ(s.out().size(), 0);
  CHECK_EQ(pushwire_ws_close_code_hint(s.ws), 426);
  CHECK_EQ(pushwire_ws_accept(s.ws, nullptr, 0), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_reject(s.ws, 426, "v13 only", 8), 0);
  std::string out = s.out(), want = reject_response("426 Upgrade Required", "v13 only", "Sec-WebSocket-Version: 13\r\n");
  CHECK_STR(out.data(), out.size(), want.c_str());
}

TEST(ws_handshake_server_eof_and_state_checks) {
  Conn s(PUSHWIRE_WS_SERVER);
  CHECK_EQ(pushwire_ws_add_origin(s.ws, "nope", 4), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(s.feed(request().substr(0, 30)), 0);
  CHECK_EQ(pushwire_ws_add_origin(s.ws, "https://example.com", 19), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_feed_eof(s.ws), 0);
  CHECK(s.events() == std::vector<std::string>{"close 1006 failed"});
  CHECK_EQ(s.last_error, PUSHWIRE_ERR_CONNECTION_LOST);
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_FAILED);
  CHECK_EQ(s.out().size(), 0);
  Conn c(PUSHWIRE_WS_CLIENT);
  CHECK_EQ(c.feed("HTTP/1.1"), PUSHWIRE_ERR_INVALID_STATE);  // client_start first
  CHECK_EQ(pushwire_ws_add_origin(c.ws, "https://example.com", 19), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_accept(c.ws, nullptr, 0), PUSHWIRE_ERR_INVALID_STATE);
}

// Input ended before any head byte: the handle never set up its handshake state, and a
// refusal must still work (found by fuzz_api_sequence).
TEST(ws_handshake_server_refusal_after_immediate_eof) {
  Conn s(PUSHWIRE_WS_SERVER);
  CHECK_EQ(pushwire_ws_feed_eof(s.ws), 0);
  CHECK(s.events() == std::vector<std::string>{"close 1006 failed"});
  CHECK_EQ(pushwire_ws_reject(s.ws, 400, "no", 2), 0);
  std::string out = s.out(), want = reject_response("400 Bad Request", "no", "");
  CHECK_STR(out.data(), out.size(), want.c_str());
}

TEST(ws_handshake_client) {
  Conn c(PUSHWIRE_WS_CLIENT);
  c.random("the sample nonce");
  CHECK_EQ(pushwire_ws_add_subprotocol(c.ws, "chat", 4), 0);
  CHECK_EQ(pushwire_ws_add_header(c.ws, "Origin", 6, "http://example.com", 18), 0);
  CHECK_EQ(pushwire_ws_client_start(c.ws, "server.example.com", 18, "chat", 4), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_client_start(c.ws, "", 0, "/chat", 5), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_client_start(c.ws, "server.example.com", 18, "/chat", 5), 0);
  CHECK_EQ(pushwire_ws_client_start(c.ws, "server.example.com", 18, "/chat", 5), PUSHWIRE_ERR_INVALID_STATE);
  std::string out = c.out();
  CHECK_STR(out.data(), out.size(),
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: chat\r\nOrigin: http://example.com\r\n\r\n");
  CHECK_EQ(pushwire_ws_get_state(c.ws), PUSHWIRE_WS_STATE_HANDSHAKE);
  CHECK_EQ(pushwire_ws_send_text(c.ws, u8("x"), 1), PUSHWIRE_ERR_INVALID_STATE);
  // The 101 and a first frame in one packet.
  CHECK_EQ(c.feed(std::string(kAccept) + bytes("81 05 48 65 6c 6c 6f")), 0);
  CHECK(c.events() == (std::vector<std::string>{"accepted \"chat\"", "text \"Hello\""}));
  CHECK_EQ(pushwire_ws_get_state(c.ws), PUSHWIRE_WS_STATE_OPEN);
  // Masks continue the random stream after the 16 key bytes.
  CHECK_EQ(pushwire_ws_send_text(c.ws, u8("Hi"), 2), 0);
  out = c.out();
  std::string want = masked_frame(0x81, "Hi", "the ");
  CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
}

TEST(ws_handshake_client_failures) {
  struct Case {
    std::string response;
    const char *event;
    int error;
    int hint;
    pushwire_ws_state state;
  };
  const std::string forbidden = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
  const Case cases[] = {
      {forbidden, "rejected 403 failed", PUSHWIRE_ERR_HANDSHAKE_REJECTED, 403, PUSHWIRE_WS_STATE_CLOSED},
      {with(kAccept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "s3pPLMBiTxaQ9kYGzzhZRbK+xOA="), "rejected 101 failed",
       PUSHWIRE_ERR_BAD_HANDSHAKE, 1002, PUSHWIRE_WS_STATE_FAILED},
      {with(kAccept, "Protocol: chat", "Protocol: other"), "rejected 101 failed", PUSHWIRE_ERR_BAD_HANDSHAKE, 1002,
       PUSHWIRE_WS_STATE_FAILED},
      {"HTTP/1.1 101 Switching\nProtocols\r\n\r\n", "rejected 0 failed", PUSHWIRE_ERR_BAD_HTTP, 1002,
       PUSHWIRE_WS_STATE_FAILED},
  };
  for (const Case &k : cases) {
    Conn c(PUSHWIRE_WS_CLIENT);
    c.random("the sample nonce");
    CHECK_EQ(pushwire_ws_add_subprotocol(c.ws, "chat", 4), 0);
    CHECK_EQ(pushwire_ws_client_start(c.ws, "server.example.com", 18, "/chat", 5), 0);
    c.out();
    CHECK_EQ(c.feed(k.response), 0);
    std::vector<std::string> ev = c.events();
    if (ev != std::vector<std::string>{k.event})
      harness::fail(__FILE__, __LINE__, (ev.empty() ? std::string("none") : ev[0]) + " != " + k.event);
    CHECK_EQ(c.last_error, k.error);
    CHECK_EQ(pushwire_ws_close_code_hint(c.ws), k.hint);
    CHECK_EQ(pushwire_ws_get_state(c.ws), k.state);
    CHECK_EQ(c.out().size(), 0);  // a client has nothing to answer with
    CHECK_EQ(pushwire_ws_close(c.ws, 1000, nullptr, 0), PUSHWIRE_ERR_INVALID_STATE);
  }
  Conn c(PUSHWIRE_WS_CLIENT);
  CHECK_EQ(pushwire_ws_client_start(c.ws, "h", 1, "/", 1), 0);
  CHECK_EQ(pushwire_ws_feed_eof(c.ws), 0);
  CHECK(c.events() == std::vector<std::string>{"close 1006 failed"});
  CHECK_EQ(c.last_error, PUSHWIRE_ERR_CONNECTION_LOST);
}

namespace {

// A full session between a client and a server handle; returns false as soon as a call
// fails with NOMEM (acceptable from every call when allocations fail).
struct Session {
  pushwire_ws *c = nullptr, *s = nullptr;
  bool nomem = false;
  int step(int rc, int want, int line) {
    if (rc == PUSHWIRE_ERR_NOMEM) nomem = true;
    else if (rc != want) harness::fail(__FILE__, line, "rc " + std::to_string(rc) + " != " + std::to_string(want));
    return rc;
  }
  bool move(pushwire_ws *from, pushwire_ws *to, int line) {
    pushwire_span sp;
    size_t n = pushwire_ws_peek_output(from, &sp);
    std::string b(reinterpret_cast<const char *>(sp.ptr), n);
    pushwire_ws_consume_output(from, n);
    return step(pushwire_ws_feed(to, reinterpret_cast<const uint8_t *>(b.data()), b.size()), 0, line) == 0;
  }
  bool expect(pushwire_ws *ws, int n, int line) {
    pushwire_ws_event ev;
    for (int i = 0; i < n; ++i)
      if (step(pushwire_ws_next_event(ws, &ev), 1, line) != 1) return false;
    return step(pushwire_ws_next_event(ws, &ev), 0, line) == 0;
  }
};

#define STEP(expr, want) \
  if (ss.step((expr), (want), __LINE__) != (want)) return
#define MOVE(a, b) \
  if (!ss.move((a), (b), __LINE__)) return
#define EXPECT(ws, n) \
  if (!ss.expect((ws), (n), __LINE__)) return

int fixed_random(void *, uint8_t *buf, size_t len) {
  for (size_t i = 0; i < len; ++i) buf[i] = uint8_t(i * 13 + 1);
  return 0;
}

void full_session(Session &ss, const pushwire_allocator *ca, const pushwire_allocator *sa) {
  STEP(pushwire_ws_new(&ss.c, PUSHWIRE_WS_CLIENT, ca), 0);
  STEP(pushwire_ws_new(&ss.s, PUSHWIRE_WS_SERVER, sa), 0);
  STEP(pushwire_ws_set_random(ss.c, fixed_random, nullptr), 0);
  STEP(pushwire_ws_add_subprotocol(ss.c, "chat", 4), 0);
  STEP(pushwire_ws_add_header(ss.c, "X-A", 3, "1", 1), 0);
  STEP(pushwire_ws_add_subprotocol(ss.s, "chat", 4), 0);
  STEP(pushwire_ws_add_origin(ss.s, "http://*.example.com", 20), 0);
  STEP(pushwire_ws_add_header(ss.s, "X-B", 3, "2", 1), 0);
  STEP(pushwire_ws_client_start(ss.c, "a.example.com", 13, "/x", 2), 0);
  MOVE(ss.c, ss.s);
  EXPECT(ss.s, 1);
  STEP(pushwire_ws_accept(ss.s, nullptr, 0), 0);
  STEP(pushwire_ws_send_text(ss.s, u8("hello"), 5), 0);
  MOVE(ss.s, ss.c);
  EXPECT(ss.c, 2);
  std::string big(70000, 'b');
  STEP(pushwire_ws_send_binary(ss.c, u8(big.c_str()), big.size()), 0);
  STEP(pushwire_ws_send_fragment(ss.c, false, u8("fr"), 2, false), 0);
  STEP(pushwire_ws_ping(ss.c, u8("p"), 1), 0);
  STEP(pushwire_ws_send_fragment(ss.c, false, u8("ag"), 2, true), 0);
  MOVE(ss.c, ss.s);
  EXPECT(ss.s, 3);
  MOVE(ss.s, ss.c);
  EXPECT(ss.c, 1);
  STEP(pushwire_ws_close(ss.c, 1000, "done", 4), 0);
  MOVE(ss.c, ss.s);
  EXPECT(ss.s, 1);
  MOVE(ss.s, ss.c);
  EXPECT(ss.c, 1);
  STEP(pushwire_ws_tick(ss.s, 1, nullptr), 0);
}

}  // namespace

TEST(ws_memory_idle_after_handshake_and_no_leaks) {
  AllocCounter ac;
  pushwire_ws *s = nullptr;
  CHECK_EQ(pushwire_ws_new(&s, PUSHWIRE_WS_SERVER, &ac.api), 0);
  const std::string req = request();
  CHECK_EQ(pushwire_ws_feed(s, u8(req.c_str()), req.size()), 0);
  pushwire_ws_event ev;
  CHECK_EQ(pushwire_ws_next_event(s, &ev), 1);
  CHECK(ac.live > 1000);  // the request head is held until the answer
  CHECK_EQ(pushwire_ws_accept(s, "chat", 4), 0);
  pushwire_span sp;
  size_t n = pushwire_ws_peek_output(s, &sp);
  CHECK_EQ(pushwire_ws_consume_output(s, n), 0);
  CHECK_EQ(pushwire_ws_next_event(s, &ev), 0);
  const size_t idle = ac.live;
  std::printf("    sizeof(pushwire_ws) = %zu, idle server after the handshake: %zu bytes in %zu block(s)\n",
              sizeof(pushwire::WsSession), idle, ac.sizes.size());
  CHECK_EQ(idle, sizeof(pushwire::WsSession));
  CHECK(idle <= 512);
  // After traffic, an idle tick hands the buffers back.
  std::string f = masked_frame(0x81, std::string(3000, 'x'));
  CHECK_EQ(pushwire_ws_feed(s, u8(f.c_str()), f.size()), 0);
  CHECK_EQ(pushwire_ws_send_text(s, u8("reply"), 5), 0);
  CHECK_EQ(pushwire_ws_next_event(s, &ev), 1);
  CHECK(ac.live > idle + 3000);
  n = pushwire_ws_peek_output(s, &sp);
  CHECK_EQ(pushwire_ws_consume_output(s, n), 0);
  CHECK_EQ(pushwire_ws_tick(s, 0, nullptr), 0);   // input since the last tick: active
  CHECK_EQ(pushwire_ws_tick(s, 10, nullptr), 0);  // nothing since: idle
  CHECK_EQ(ac.live, idle);
  pushwire_ws_free(s);
  CHECK_EQ(ac.live, 0);
  // A whole session leaks nothing either.
  AllocCounter ca, sa;
  Session ss;
  full_session(ss, &ca.api, &sa.api);
  CHECK(!ss.nomem);
  pushwire_ws_free(ss.c);
  pushwire_ws_free(ss.s);
  CHECK_EQ(ca.live, 0);
  CHECK_EQ(sa.live, 0);
}

TEST(ws_memory_fail_every_allocation) {
  // Fail the Nth allocation (and every later one) of one side, for every N, until a whole
  // session needs fewer: each failure is ERR_NOMEM, nothing crashes or leaks.
  for (int side = 0; side < 2; ++side) {
    size_t runs = 0;
    for (size_t n = 1;; ++n) {
      AllocCounter failing, plain;
      failing.fail_at = n;
      Session ss;
      full_session(ss, side ? &plain.api : &failing.api, side ? &failing.api : &plain.api);
      pushwire_ws *victim = side ? ss.s : ss.c;
      if (ss.nomem && victim) {
        pushwire_ws_event ev;
        CHECK_EQ(pushwire_ws_next_event(victim, &ev), PUSHWIRE_ERR_NOMEM);  // fatal: stays
        CHECK_EQ(pushwire_ws_send_text(victim, u8("x"), 1), PUSHWIRE_ERR_NOMEM);
      }
      pushwire_ws_free(ss.c);
      pushwire_ws_free(ss.s);
      CHECK_EQ(failing.live, 0);
      CHECK_EQ(plain.live, 0);
      ++runs;
      if (!ss.nomem) break;
      if (n > 500) {
        harness::fail(__FILE__, __LINE__, "too many allocations in one session");
        break;
      }
    }
    CHECK(runs > 5);
  }
}

namespace {

// Everything a caller sees of a server handshake with AUTO_ACCEPT: events (with reasons),
// the error after them, the bytes to send, the state. `cut` splits the input in two feeds
// (npos: one feed, the path that answers from the caller's bytes).
std::string auto_accept_transcript(const std::string &input, size_t cut, bool configured, int max_head,
                                   int max_headers) {
  Conn s(PUSHWIRE_WS_SERVER);
  CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
  if (max_head) CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_HEAD_SIZE, max_head), 0);
  if (max_headers) CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_HEADERS, max_headers), 0);
  if (configured) {
    CHECK_EQ(pushwire_ws_add_subprotocol(s.ws, "superchat", 9), 0);
    CHECK_EQ(pushwire_ws_add_subprotocol(s.ws, "chat", 4), 0);
    CHECK_EQ(pushwire_ws_add_header(s.ws, "X-Server", 8, "pushwire", 8), 0);
    CHECK_EQ(pushwire_ws_add_origin(s.ws, "http://example.com", 18), 0);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_REQUIRE_ORIGIN, 1), 0);
  }
  // Feeds report a failure from the call after the one that found it (the event comes
  // first), so where the input is cut moves that; the transcript keeps what does not move.
  if (cut == std::string::npos) {
    s.feed(input);
  } else {
    s.feed(input.substr(0, cut));
    s.feed(input.substr(cut));
  }
  std::string t;
  for (const std::string &e : s.events(true)) t += " | " + e;
  t += " | error " + std::to_string(s.last_error) + " state " + std::to_string(pushwire_ws_get_state(s.ws));
  return t + " | " + s.out();
}

}  // namespace

// A request that arrives whole with AUTO_ACCEPT is parsed and answered where it lies;
// split, it goes through the copying parser. Both must give the same transcript for
// accepted and refused requests, with and without configuration, at and past the limits
// and past the fields the borrowed path has room for.
TEST(ws_handshake_auto_accept_from_callers_bytes_matches_copying_path) {
  const std::string frame = bytes("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  const std::string req = request();
  std::string many = req;
  for (int i = 0; i < 40; ++i) many = with(many, "\r\n\r\n", "\r\nX-" + std::to_string(i) + ": v\r\n\r\n");
  struct Case {
    std::string head;
    int max_head, max_headers;
  } cases[] = {
      {req, 0, 0},
      {with(req, "Version: 13", "Version: 8"), 0, 0},
      {with(req, "http://example.com", "https://evil.example"), 0, 0},
      {with(req, "Origin: http://example.com\r\n", ""), 0, 0},
      {with(req, "GET /chat", "POST /chat"), 0, 0},
      {with(req, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), 0, 0},
      {with(req, "Upgrade: websocket\r\n", ""), 0, 0},
      {with(req, "Host: server", "Host:\tserver\r\n folded"), 0, 0},
      {with(req, "Protocol: chat, superchat", "Protocol: chat, super chat"), 0, 0},
      {with(req, "Protocol: chat, superchat", "Protocol: chat"), 0, 0},
      {req, int(req.size()), 0},
      {req, int(req.size()) - 1, 0},
      {req, 0, 9},
      {req, 0, 8},
      {many, 0, 0},
      {many, 0, 45},
  };
  for (const Case &c : cases) {
    for (bool configured : {false, true}) {
      const std::string input = c.head + frame;
      const std::string whole = auto_accept_transcript(input, std::string::npos, configured, c.max_head, c.max_headers);
      for (size_t cut : {size_t(1), c.head.size() / 2, c.head.size() - 1}) {
        const std::string split = auto_accept_transcript(input, cut, configured, c.max_head, c.max_headers);
        if (whole != split) harness::fail(__FILE__, __LINE__, "whole:\n" + whole + "\nsplit:\n" + split);
      }
    }
  }
  // The accepted case really answered: the 101 and the frame behind it.
  const std::string t = auto_accept_transcript(req + frame, std::string::npos, true, 0, 0);
  CHECK(t.find("accepted \"superchat\" | text \"Hello\"") != std::string::npos);
  CHECK(t.find("HTTP/1.1 101 Switching Protocols\r\n") != std::string::npos);
}

// What the handshake allocates when the request arrives whole, in the bench's exact call
// sequence (W7): the handle and nothing else. The 101 is kept in the handle and the
// ACCEPTED event (no subprotocol) is a bit of it; both leave nothing behind once drained.
TEST(ws_handshake_auto_accept_allocates_only_the_handle) {
  AllocCounter ac;
  pushwire_ws *s = nullptr;
  CHECK_EQ(pushwire_ws_new(&s, PUSHWIRE_WS_SERVER, &ac.api), 0);
  CHECK_EQ(pushwire_ws_set_option(s, PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
  const std::string req = request();
  CHECK_EQ(pushwire_ws_feed(s, u8(req.c_str()), req.size()), 0);
  pushwire_ws_event ev;
  CHECK_EQ(pushwire_ws_next_event(s, &ev), 1);
  CHECK_EQ(ev.type, PUSHWIRE_WS_EV_ACCEPTED);
  CHECK_EQ(ev.data.len, 0);
  CHECK(ev.data.ptr == nullptr);
  pushwire_span sp;
  size_t n = pushwire_ws_peek_output(s, &sp);
  const std::string accept = with(kAccept, "Sec-WebSocket-Protocol: chat\r\n", "");
  CHECK_BYTES(sp.ptr, n, accept.data(), accept.size());
  CHECK_EQ(pushwire_ws_output_size(s), accept.size());
  CHECK_EQ(pushwire_ws_consume_output(s, n), 0);
  CHECK_EQ(ac.allocs, 1);
  CHECK_EQ(ac.live, sizeof(pushwire::WsSession));
  // The event loop's last pull: the idle handle is the handle alone.
  CHECK_EQ(pushwire_ws_next_event(s, &ev), 0);
  CHECK_EQ(pushwire_ws_output_size(s), 0);
  CHECK_EQ(ac.allocs, 1);
  CHECK_EQ(ac.live, sizeof(pushwire::WsSession));
  pushwire_ws_free(s);
  CHECK_EQ(ac.live, 0);
}

namespace {

// What may follow the kept 101 once `k` bytes of it were consumed: each step must give
// the output and events a 101 in an output buffer would have given.
enum class After { Rest, Send, Frames, FramesUnpulled, Eof, Ping, Close, NextEvents };

void expect_after_kept_reply(size_t k, After what) {
  const std::string req = request();
  const std::string accept = with(kAccept, "Sec-WebSocket-Protocol: chat\r\n", "");
  AllocCounter ac;
  Conn s(PUSHWIRE_WS_SERVER, &ac.api);
  CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
  if (what == After::Ping) CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_PING_INTERVAL_MS, 10), 0);
  CHECK_EQ(s.feed(req), 0);
  pushwire_span sp;
  CHECK_EQ(pushwire_ws_peek_output(s.ws, &sp), accept.size());
  CHECK_EQ(pushwire_ws_consume_output(s.ws, k), 0);
  // More than is pending is refused, and changes nothing.
  CHECK_EQ(pushwire_ws_consume_output(s.ws, accept.size() - k + 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_output_size(s.ws), accept.size() - k);
  uint8_t hdr[14];
  size_t hlen = 0;
  CHECK_EQ(pushwire_ws_frame_header(s.ws, 1, 3, hdr, &hlen), k < accept.size() ? PUSHWIRE_ERR_INVALID_STATE : 0);
  std::vector<std::string> ev, want{"accepted \"\""};
  std::string want_out = accept.substr(k);
  if (what != After::FramesUnpulled) ev = s.events(true);
  switch (what) {
    case After::Rest: break;
    case After::Send:
      CHECK_EQ(pushwire_ws_send_text(s.ws, u8("hi"), 2), 0);
      want_out += bytes("81 02 68 69");
      break;
    case After::Frames:
    case After::FramesUnpulled:
      CHECK_EQ(s.feed(masked_frame(0x89, "x") + masked_frame(0x81, "Hello")), 0);
      want.push_back("ping \"x\"");
      want.push_back("text \"Hello\"");
      want_out += bytes("8a 01 78");
      break;
    case After::Eof:
      CHECK_EQ(pushwire_ws_feed_eof(s.ws), 0);
      want.push_back("close 1006 failed \"connection lost\"");
      break;
    case After::Ping:
      CHECK_EQ(pushwire_ws_tick(s.ws, 0, nullptr), 0);
      CHECK_EQ(pushwire_ws_tick(s.ws, 10, nullptr), 0);
      want_out += bytes("89 00");
      break;
    case After::Close:
      CHECK_EQ(pushwire_ws_close(s.ws, 1000, "", 0), 0);
      want_out += bytes("88 02 03 e8");
      break;
    case After::NextEvents: {
      // A failure behind the unpulled ACCEPTED, pulled in one batch.
      Conn b(PUSHWIRE_WS_SERVER);
      CHECK_EQ(b.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
      CHECK_EQ(b.feed(req), 0);
      CHECK_EQ(pushwire_ws_consume_output(b.ws, k), 0);
      CHECK_EQ(pushwire_ws_feed_eof(b.ws), 0);
      pushwire_ws_event evs[4];
      size_t n = 0;
      CHECK_EQ(pushwire_ws_next_events(b.ws, evs, 4, &n), 1);
      CHECK_EQ(n, 2);
      CHECK(describe(evs[0]) == "accepted \"\"" && describe(evs[1], true) == "close 1006 failed \"connection lost\"");
      const std::string out = b.out();
      CHECK_BYTES(out.data(), out.size(), accept.data() + k, accept.size() - k);
      break;
    }
  }
  for (const std::string &e : s.events(true)) ev.push_back(e);
  if (ev != want) harness::fail(__FILE__, __LINE__, "after " + std::to_string(k) + " bytes: wrong events");
  const std::string out = s.out();
  if (out != want_out) harness::fail(__FILE__, __LINE__, "after " + std::to_string(k) + " bytes: wrong output");
  // Only what had to go behind the 101 (or be received or queued) took memory.
  if (what == After::Rest) CHECK_EQ(ac.allocs, 1);
  if (what == After::Eof) CHECK_EQ(ac.allocs, 2);  // the failure's queue record
  CHECK_EQ(pushwire_ws_output_size(s.ws), 0);
}

}  // namespace

// The kept 101 consumed in two parts cut at every byte, then each thing that can follow
// it: the rest, a message sent, frames received (the pong goes behind the 101), end of
// input, a keepalive ping, a close, and a batch pull.
TEST(ws_handshake_kept_reply_every_split_and_what_follows) {
  for (size_t k = 0; k <= pushwire::WS_PLAIN_ACCEPT_SIZE; ++k)
    for (After what : {After::Rest, After::Send, After::Frames, After::FramesUnpulled, After::Eof, After::Ping,
                       After::Close, After::NextEvents})
      expect_after_kept_reply(k, what);
}

// Output added behind the kept 101 needs memory: when it fails, the handle fails (sticky)
// and nothing leaks.
TEST(ws_handshake_kept_reply_out_of_memory_behind_it) {
  const std::string req = request();
  for (bool by_frames : {false, true}) {
    AllocCounter ac;
    pushwire_ws *s = nullptr;
    CHECK_EQ(pushwire_ws_new(&s, PUSHWIRE_WS_SERVER, &ac.api), 0);
    CHECK_EQ(pushwire_ws_set_option(s, PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
    CHECK_EQ(pushwire_ws_feed(s, u8(req.c_str()), req.size()), 0);
    pushwire_ws_event ev;
    CHECK_EQ(pushwire_ws_next_event(s, &ev), 1);
    ac.fail_at = ac.allocs + 1;
    if (by_frames) {
      const std::string f = masked_frame(0x81, "Hello");
      CHECK_EQ(pushwire_ws_feed(s, u8(f.c_str()), f.size()), PUSHWIRE_ERR_NOMEM);
    } else {
      CHECK_EQ(pushwire_ws_send_text(s, u8("hi"), 2), PUSHWIRE_ERR_NOMEM);
    }
    CHECK_EQ(pushwire_ws_next_event(s, &ev), PUSHWIRE_ERR_NOMEM);
    CHECK_EQ(pushwire_ws_send_text(s, u8("hi"), 2), PUSHWIRE_ERR_NOMEM);
    pushwire_ws_free(s);
    CHECK_EQ(ac.live, 0);
  }
}

// The 101 kept in the handle is the one ws_write_accept appends, for any key.
TEST(ws_handshake_plain_accept_matches_ws_write_accept) {
  pushwire::Allocator a;
  for (unsigned i = 0; i < 2000; ++i) {
    char key[24];
    for (size_t j = 0; j < 22; ++j) key[j] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i * 7 + j * 13 + (i >> 3) * j) % 64];
    key[22] = key[23] = '=';
    pushwire::Buffer b(&a);
    CHECK_EQ(pushwire::ws_write_accept(b, pushwire::make_span(key, 24), pushwire::span{nullptr, 0},
                                       pushwire::span{nullptr, 0}),
             0);
    uint8_t plain[pushwire::WS_PLAIN_ACCEPT_SIZE];
    pushwire::ws_write_plain_accept(pushwire::make_span(key, 24), plain);
    CHECK_BYTES(plain, sizeof plain, b.data(), b.size());
  }
}

// The usual ACCEPTED (AUTO_ACCEPT, no subprotocol) is a bit of the handle until something
// is queued behind it. Whatever follows it must come out exactly as behind a queued
// record: frames in the same feed or cut anywhere into a second feed (pulled between the
// feeds or not), end of input, a keepalive timeout or an idle tick before the pull.
TEST(ws_handshake_accepted_bit_orders_like_a_queued_event) {
  const std::string req = request();
  const std::string frames = masked_frame(0x81, "Hello") + masked_frame(0x89, "x") + masked_frame(0x88, "\x03\xe8");
  const std::string input = req + frames;
  const std::vector<std::string> want = {"accepted \"\"", "text \"Hello\"", "ping \"x\"", "close 1000 \"\""};
  const std::string accept = with(kAccept, "Sec-WebSocket-Protocol: chat\r\n", "");
  const std::string replies = bytes("8a 01 78 88 02 03 e8");  // the pong, then the close echoed
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    for (bool pull_between : {false, true}) {
      Conn s(PUSHWIRE_WS_SERVER);
      CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
      std::vector<std::string> ev;
      CHECK_EQ(s.feed(input.substr(0, cut)), 0);
      if (pull_between) ev = s.events();
      CHECK_EQ(s.feed(input.substr(cut)), 0);
      for (const std::string &e : s.events()) ev.push_back(e);
      if (ev != want) {
        std::string got;
        for (const std::string &e : ev) got += " | " + e;
        harness::fail(__FILE__, __LINE__, "cut " + std::to_string(cut) + ":" + got);
      }
      const std::string out = s.out(), want_out = accept + replies;
      CHECK_BYTES(out.data(), out.size(), want_out.data(), want_out.size());
    }
  }
  // Each kind of first frame behind the request in the same feed, pulled one by one and in
  // batches of two: the ACCEPTED comes first whichever way the frame's event is queued (the
  // small-frame run writes records itself; the others go through push()).
  {
    const std::string big(300, 'b');
    const struct {
      std::string frames;
      std::vector<std::string> events;
    } firsts[] = {
        {masked_frame(0x81, "Hello"), {"text \"Hello\""}},
        {masked_frame(0x82, big), {"binary \"" + big + "\""}},
        {masked_frame(0x89, "x"), {"ping \"x\""}},
        {masked_frame(0x8a, "y"), {"pong \"y\""}},
        {masked_frame(0x01, "He") + masked_frame(0x80, "llo"), {"text \"Hello\""}},
        {masked_frame(0x81, "\xff"), {"close 1007 failed"}},
        {masked_frame(0x88, "\x03\xe8"), {"close 1000 \"\""}},
    };
    for (const auto &f : firsts) {
      for (size_t cap : {size_t(1), size_t(2)}) {
        Conn s(PUSHWIRE_WS_SERVER);
        CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
        CHECK_EQ(s.feed(req + f.frames), 0);
        std::vector<std::string> got;
        pushwire_ws_event evs[2];
        size_t n = 0;
        while (pushwire_ws_next_events(s.ws, evs, cap, &n) == 1)
          for (size_t i = 0; i < n; ++i) got.push_back(describe(evs[i]));
        std::vector<std::string> w{"accepted \"\""};
        w.insert(w.end(), f.events.begin(), f.events.end());
        if (got != w) {
          std::string g;
          for (const std::string &e : got) g += " | " + e;
          harness::fail(__FILE__, __LINE__, "first frame " + f.events[0] + ":" + g);
        }
      }
    }
  }
  // A client without subprotocols takes the bit too: its 101 and frames behind it, cut
  // anywhere, pulled between the feeds or not.
  const std::string resp = accept + bytes("81 05 48 65 6c 6c 6f 89 01 78");
  for (size_t cut = 0; cut <= resp.size(); ++cut) {
    for (bool pull_between : {false, true}) {
      Conn c(PUSHWIRE_WS_CLIENT);
      c.random("the sample nonce");
      CHECK_EQ(pushwire_ws_client_start(c.ws, "server.example.com", 18, "/chat", 5), 0);
      c.out();
      std::vector<std::string> ev;
      CHECK_EQ(c.feed(resp.substr(0, cut)), 0);
      if (pull_between) ev = c.events();
      CHECK_EQ(c.feed(resp.substr(cut)), 0);
      for (const std::string &e : c.events()) ev.push_back(e);
      if (ev != (std::vector<std::string>{"accepted \"\"", "text \"Hello\"", "ping \"x\""}))
        harness::fail(__FILE__, __LINE__, "client cut " + std::to_string(cut));
    }
  }
  // Pulled in batches, the same events in the same order, at every batch size.
  for (size_t cap = 1; cap <= want.size() + 1; ++cap) {
    Conn s(PUSHWIRE_WS_SERVER);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
    CHECK_EQ(s.feed(input), 0);
    std::vector<std::string> got;
    pushwire_ws_event evs[8];
    size_t n = 0;
    while (pushwire_ws_next_events(s.ws, evs, cap, &n) == 1)
      for (size_t i = 0; i < n; ++i) got.push_back(describe(evs[i]));
    CHECK(got == want);
  }
  // Input behind the unpulled event is held (and bounded) as behind any event.
  {
    Conn s(PUSHWIRE_WS_SERVER);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_INPUT_BUFFER, frames.size() - 1), 0);
    CHECK_EQ(s.feed(req), 0);
    CHECK_EQ(s.feed(frames), PUSHWIRE_ERR_BUFFER_FULL);
    CHECK_EQ(s.feed(masked_frame(0x81, "Hello")), 0);
    CHECK(s.events() == (std::vector<std::string>{"accepted \"\"", "text \"Hello\""}));
  }
  // End of input before the pull: the failure comes after the ACCEPTED.
  {
    Conn s(PUSHWIRE_WS_SERVER);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
    CHECK_EQ(s.feed(req), 0);
    CHECK_EQ(pushwire_ws_feed_eof(s.ws), 0);
    CHECK(s.events(true) == (std::vector<std::string>{"accepted \"\"", "close 1006 failed \"connection lost\""}));
    CHECK_EQ(s.last_error, PUSHWIRE_ERR_CONNECTION_LOST);
  }
  // A keepalive timeout before the pull, likewise.
  {
    Conn s(PUSHWIRE_WS_SERVER);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_PING_INTERVAL_MS, 10), 0);
    CHECK_EQ(s.feed(req), 0);
    CHECK_EQ(pushwire_ws_tick(s.ws, 0, nullptr), 0);
    CHECK_EQ(pushwire_ws_tick(s.ws, 10, nullptr), 0);  // the ping goes out
    CHECK_EQ(pushwire_ws_tick(s.ws, 20, nullptr), PUSHWIRE_ERR_TIMEOUT);
    CHECK(s.events(true) == (std::vector<std::string>{"accepted \"\"", "close 1006 failed \"keepalive timeout\""}));
    const std::string out = s.out(), want_out = accept + bytes("89 00");
    CHECK_BYTES(out.data(), out.size(), want_out.data(), want_out.size());
  }
  // Idle ticks before the pull hand nothing back that the event needs, and the handle
  // allocates nothing but itself.
  {
    AllocCounter ac;
    Conn s(PUSHWIRE_WS_SERVER, &ac.api);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
    CHECK_EQ(s.feed(req), 0);
    CHECK_EQ(pushwire_ws_tick(s.ws, 0, nullptr), 0);
    CHECK_EQ(pushwire_ws_tick(s.ws, 10, nullptr), 0);
    CHECK(s.events() == std::vector<std::string>{"accepted \"\""});
    CHECK_EQ(s.last_error, 0);
    CHECK_EQ(ac.allocs, 1);  // the handle: the 101 is kept in it
    const std::string out = s.out();
    CHECK_STR(out.data(), out.size(), accept.c_str());
    CHECK_EQ(ac.live, sizeof(pushwire::WsSession));
  }
  // With a subprotocol chosen the event carries its name and takes the queue, as before.
  {
    AllocCounter ac;
    Conn s(PUSHWIRE_WS_SERVER, &ac.api);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
    CHECK_EQ(pushwire_ws_add_subprotocol(s.ws, "chat", 4), 0);
    CHECK_EQ(s.feed(req + masked_frame(0x81, "Hello")), 0);
    CHECK(s.events() == (std::vector<std::string>{"accepted \"chat\"", "text \"Hello\""}));
    const std::string out = s.out();
    CHECK_STR(out.data(), out.size(), kAccept);
  }
}
