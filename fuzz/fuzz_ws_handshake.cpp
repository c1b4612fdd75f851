// The opening handshake in both roles: arbitrary request heads to a server, arbitrary
// response heads to a client.
//
// Input: byte 0 configuration (bit 0 client role; bit 1 origin allow-list; bit 2
// REQUIRE_ORIGIN; bit 3 AUTO_ACCEPT; bit 4 subprotocols; bit 5 reject the REQUEST (else
// accept); bit 6 small head limits; bit 7 accept naming the first offered subprotocol),
// byte 1 the largest chunk (1..256), then the head bytes and whatever follows them.
// Oracles (besides ws_harness.hpp's): the server agrees with pushwire_http_request on the
// same bytes (malformed: 400, too large: 431, incomplete: no verdict); a REQUEST only for a
// GET over HTTP/1.1 with Upgrade and Connection tokens; each rejection's status matches its
// sticky error and is what the queued response says; a client's own request parses as a
// valid upgrade and a server accepts it; a client accepts only a 101 carrying the RFC's
// accept value, and a REJECTED code is the status the head gave.
#include "ws_harness.hpp"

using namespace fuzz;

namespace {

struct HttpView {
  int rc = 0;  // 1 complete, 0 incomplete, or the error
  std::string method, target;
  int minor = -1;
  pushwire_http_request *req = nullptr;
  CountingAlloc alloc;

  HttpView(const std::string &bytes, bool small) {
    check_rc("http_request_new", pushwire_http_request_new(&req, alloc.get()), {0});
    if (small) {
      pushwire_http_request_set_option(req, PUSHWIRE_HTTP_OPT_MAX_HEAD_SIZE, 256);
      pushwire_http_request_set_option(req, PUSHWIRE_HTTP_OPT_MAX_HEADERS, 8);
    }
    size_t used;
    rc = pushwire_http_request_feed(req, reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), &used);
    if (rc != 1) return;
    pushwire_span sp;
    pushwire_http_request_method(req, &sp);
    method = span_str(sp, "method");
    pushwire_http_request_target(req, &sp);
    target = span_str(sp, "target");
    minor = pushwire_http_request_minor_version(req);
  }
  ~HttpView() { pushwire_http_request_free(req); }
  bool has_token(const char *name, const char *token) const {
    return pushwire_http_request_has_token(req, name, std::strlen(name), token, std::strlen(token)) == 1;
  }
};

int sticky_for_status(int status) {
  switch (status) {
    case 400: return PW(BAD_HANDSHAKE);
    case 403: return PW(ORIGIN_REJECTED);
    case 426: return PW(BAD_VERSION);
    case 431: return PW(HEAD_TOO_LARGE);
    default: return 0;
  }
}

void feed_all(WsPeer &p, const std::string &bytes, size_t step) {
  for (size_t pos = 0; pos < bytes.size() && p.usable() && !p.sticky;) {
    size_t n = bytes.size() - pos < step ? bytes.size() - pos : step;
    int rc = p.feed(reinterpret_cast<const uint8_t *>(bytes.data()) + pos, n);
    p.drain();
    p.take_output();
    if (rc < 0) break;
    pos += n;
  }
}

void server(uint8_t cfg, size_t step, const std::string &bytes) {
  WsPeer p(PUSHWIRE_WS_SERVER);
  p.auto_accept = false;
  bool small = cfg & 64;
  if (cfg & 2) {
    check_rc("ws_add_origin", pushwire_ws_add_origin(p.ws, "http://example.com", 18), {0});
    check_rc("ws_add_origin", pushwire_ws_add_origin(p.ws, "https://*.example.com", 21), {0});
  }
  if (cfg & 4) p.set_option(PUSHWIRE_WS_OPT_REQUIRE_ORIGIN, 1);
  if (cfg & 8) p.set_option(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1);
  if (cfg & 16) check_rc("ws_add_subprotocol", pushwire_ws_add_subprotocol(p.ws, "chat", 4), {0});
  if (small) {
    p.set_option(PUSHWIRE_WS_OPT_MAX_HEAD_SIZE, 256);
    p.set_option(PUSHWIRE_WS_OPT_MAX_HEADERS, 8);
  }
  pushwire_span sp;
  check_rc("ws_request_target", pushwire_ws_request_target(p.ws, &sp), {PW(INVALID_STATE)});

  // Feed until the verdict, then answer a REQUEST and read the rest as frames.
  size_t answered = 0;
  for (size_t pos = 0; pos < bytes.size() && p.usable() && !p.sticky;) {
    size_t n = bytes.size() - pos < step ? bytes.size() - pos : step;
    int rc = p.feed(reinterpret_cast<const uint8_t *>(bytes.data()) + pos, n);
    p.drain();
    if (!answered && !p.events.empty() && p.events[0].type == PUSHWIRE_WS_EV_REQUEST) {
      answered = 1;
      check_rc("ws_request_target", pushwire_ws_request_target(p.ws, &sp), {1});
      FUZZ_CHECK(span_str(sp, "target") == p.events[0].data, "request_target differs from the REQUEST data");
      std::vector<std::string> offered;
      for (size_t i = 0; i < 64; ++i) {
        if (!check_rc("ws_request_subprotocol", pushwire_ws_request_subprotocol(p.ws, i, &sp), {0, 1})) break;
        offered.push_back(span_str(sp, "subprotocol"));
      }
      for (size_t i = 0; i < 64; ++i) {
        pushwire_span params;
        if (!check_rc("ws_request_extension", pushwire_ws_request_extension(p.ws, i, &sp, &params), {0, 1})) break;
        span_str(sp, "extension"), span_str(params, "extension params");
      }
      check_rc("ws_request_header", pushwire_ws_request_header(p.ws, "Host", 4, 0, &sp), {0, 1});
      if (cfg & 32) {
        unsigned status = (cfg & 128) ? 101 : 404;  // 101 is not a rejection
        int r = check_rc("ws_reject", pushwire_ws_reject(p.ws, status, "no", 2), {CODES_WS_CONFIG});
        FUZZ_CHECK(r == (status == 101 ? PW(INVALID_ARGUMENT) : 0), "ws_reject(%u) returned %d", status, r);
        if (status == 101) check_rc("ws_reject", pushwire_ws_reject(p.ws, 403, nullptr, 0), {0});
      } else if ((cfg & 128) && !offered.empty()) {
        int r = check_rc("ws_accept", pushwire_ws_accept(p.ws, offered[0].data(), offered[0].size()), {CODES_WS_CONFIG});
        // Naming a protocol the client did not offer is refused; an offered one is fine.
        FUZZ_CHECK(r == 0 || r == PW(INVALID_ARGUMENT), "ws_accept(offered) returned %d", r);
        if (r) check_rc("ws_accept", pushwire_ws_accept(p.ws, nullptr, 0), {0});
      } else {
        check_rc("ws_accept", pushwire_ws_accept(p.ws, "not offered!", 12), {PW(INVALID_ARGUMENT)});
        check_rc("ws_accept", pushwire_ws_accept(p.ws, nullptr, 0), {0});
      }
      check_rc("ws_request_target", pushwire_ws_request_target(p.ws, &sp), {PW(INVALID_STATE)});
      p.drain();
    }
    p.take_output();
    if (rc < 0) break;
    pos += n;
  }
  p.take_output();

  HttpView http(bytes, small);
  const WsEvent *verdict = p.events.empty() ? nullptr : &p.events[0];
  if (http.rc == 0) {
    FUZZ_CHECK(!verdict, "a %s event for an incomplete head", ws_type_name(verdict->type));
    return;
  }
  FUZZ_CHECK(verdict, "no verdict on a head the HTTP parser finished with %d", http.rc);
  if (http.rc < 0) {
    int want = http.rc == PW(BAD_HTTP) ? 400 : 431;
    FUZZ_CHECK(verdict->type == PUSHWIRE_WS_EV_REJECTED && int(verdict->code) == want,
               "HTTP parser says %s, handshake says %s %u", pushwire_error_name(http.rc), ws_type_name(verdict->type),
               verdict->code);
  }
  if (verdict->type == PUSHWIRE_WS_EV_REJECTED) {
    int code = int(verdict->code);
    FUZZ_CHECK(code == 400 || code == 403 || code == 426 || code == 431, "server REJECTED with %d", code);
    FUZZ_CHECK(code != 403 || (cfg & 2), "403 without an origin allow-list");
    int want = http.rc < 0 ? http.rc : sticky_for_status(code);
    FUZZ_CHECK(p.sticky == want, "REJECTED %d, sticky %s (want %s)", code, pushwire_error_name(p.sticky),
               pushwire_error_name(want));
    FUZZ_CHECK(pushwire_ws_close_code_hint(p.ws) == code, "hint %d for REJECTED %d", pushwire_ws_close_code_hint(p.ws),
               code);
    std::string status = "HTTP/1.1 " + std::to_string(code) + " ";
    FUZZ_CHECK(p.output.compare(0, status.size(), status) == 0, "REJECTED %d but the response is %s", code,
               quote(p.output.substr(0, 40)).c_str());
    return;
  }
  // Accepted (REQUEST, or ACCEPTED with AUTO_ACCEPT): the head really is an upgrade.
  FUZZ_CHECK(verdict->type == ((cfg & 8) ? PUSHWIRE_WS_EV_ACCEPTED : PUSHWIRE_WS_EV_REQUEST), "first event %s",
             ws_type_name(verdict->type));
  FUZZ_CHECK(http.method == "GET" && http.minor == 1, "accepted %s HTTP/1.%d", http.method.c_str(), http.minor);
  FUZZ_CHECK(http.has_token("Upgrade", "websocket") && http.has_token("Connection", "upgrade"),
             "accepted without Upgrade/Connection tokens");
  if (verdict->type == PUSHWIRE_WS_EV_REQUEST) FUZZ_CHECK(verdict->data == http.target, "REQUEST data is not the target");
  if (answered && (cfg & 32)) {
    FUZZ_CHECK(p.output.compare(0, 13, "HTTP/1.1 404 ") == 0 || p.output.compare(0, 13, "HTTP/1.1 403 ") == 0,
               "reject() wrote %s", quote(p.output.substr(0, 40)).c_str());
  } else {
    FUZZ_CHECK(p.output.compare(0, 13, "HTTP/1.1 101 ") == 0, "accepted, but wrote %s", quote(p.output.substr(0, 40)).c_str());
    pushwire_span key;
    if (pushwire_http_request_header(http.req, "Sec-WebSocket-Key", 17, 0, &key) == 1 &&
        span_str(key, "key") == "dGhlIHNhbXBsZSBub25jZQ==")
      FUZZ_CHECK(head_field(p.output, "Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "wrong accept value");
  }
}

void client(uint8_t cfg, size_t step, const std::string &bytes) {
  WsPeer p(PUSHWIRE_WS_CLIENT);
  if (cfg & 16) {
    check_rc("ws_add_subprotocol", pushwire_ws_add_subprotocol(p.ws, "chat", 4), {0});
    check_rc("ws_add_subprotocol", pushwire_ws_add_subprotocol(p.ws, "superchat", 9), {0});
  }
  check_rc("ws_add_header", pushwire_ws_add_header(p.ws, "Upgrade", 7, "h2c", 3), {PW(INVALID_ARGUMENT)});
  check_rc("ws_add_header", pushwire_ws_add_header(p.ws, "X-Fuzz", 6, "a\r\nb", 4), {PW(INVALID_ARGUMENT)});
  check_rc("ws_add_header", pushwire_ws_add_header(p.ws, "X-Fuzz", 6, "1", 1), {0});
  if (cfg & 2) check_rc("ws_add_header", pushwire_ws_add_header(p.ws, "Origin", 6, "http://example.com", 18), {0});
  if (cfg & 64) {
    p.set_option(PUSHWIRE_WS_OPT_MAX_HEAD_SIZE, 256);
    p.set_option(PUSHWIRE_WS_OPT_MAX_HEADERS, 8);
  }
  check_rc("ws_client_start", pushwire_ws_client_start(p.ws, kHost, std::strlen(kHost), "bad", 3), {PW(INVALID_ARGUMENT)});
  check_rc("ws_client_start", pushwire_ws_client_start(p.ws, kHost, std::strlen(kHost), "/chat", 5), {0});
  check_rc("ws_client_start", pushwire_ws_client_start(p.ws, kHost, std::strlen(kHost), "/chat", 5), {PW(INVALID_STATE)});
  std::string request = p.take_output();

  // The client's own request is a valid upgrade that a server accepts.
  HttpView http(request, false);
  FUZZ_CHECK(http.rc == 1 && http.method == "GET" && http.minor == 1, "client request: %s",
             quote(request).c_str());
  pushwire_span key;
  FUZZ_CHECK(pushwire_http_request_header(http.req, "sec-websocket-key", 17, 0, &key) == 1 &&
                 span_str(key, "key") == "dGhlIHNhbXBsZSBub25jZQ==",
             "the key is not the RFC's");
  {
    WsPeer srv(PUSHWIRE_WS_SERVER);
    srv.feed(reinterpret_cast<const uint8_t *>(request.data()), request.size());
    srv.drain();
    FUZZ_CHECK(!srv.events.empty() && srv.events[0].type == PUSHWIRE_WS_EV_REQUEST, "a server refuses the client's request");
  }

  feed_all(p, bytes, step);
  if (p.usable() && !p.sticky) {
    p.feed_eof();
    p.drain();
  }
  if (p.events.empty()) return;
  const WsEvent &v = p.events[0];
  if (v.type == PUSHWIRE_WS_EV_ACCEPTED) {
    FUZZ_CHECK(bytes.compare(0, 13, "HTTP/1.1 101 ") == 0, "ACCEPTED a response that is not 101");
    FUZZ_CHECK(bytes.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos, "ACCEPTED without the accept value");
    FUZZ_CHECK(v.data.empty() || ((cfg & 16) && (v.data == "chat" || v.data == "superchat")),
               "ACCEPTED subprotocol %s was not offered", quote(v.data).c_str());
    return;
  }
  if (v.type == PUSHWIRE_WS_EV_CLOSE) {  // input ended inside the head
    FUZZ_CHECK(v.code == 1006 && p.sticky == PW(CONNECTION_LOST), "CLOSE %u before a verdict, sticky %s", v.code,
               pushwire_error_name(p.sticky));
    return;
  }
  FUZZ_CHECK(v.type == PUSHWIRE_WS_EV_REJECTED, "first client event %s", ws_type_name(v.type));
  if (v.code) {
    FUZZ_CHECK(v.code >= 100 && v.code <= 999, "REJECTED with status %u", v.code);
    FUZZ_CHECK(bytes.size() >= 12 && bytes.compare(0, 7, "HTTP/1.") == 0 && bytes.substr(9, 3) == std::to_string(v.code),
               "REJECTED %u for %s", v.code, quote(bytes.substr(0, 16)).c_str());
    FUZZ_CHECK(p.sticky == (v.code == 101 ? PW(BAD_HANDSHAKE) : PW(HANDSHAKE_REJECTED)), "REJECTED %u, sticky %s",
               v.code, pushwire_error_name(p.sticky));
  } else {
    FUZZ_CHECK(p.sticky == PW(BAD_HTTP) || p.sticky == PW(HEAD_TOO_LARGE), "REJECTED 0, sticky %s",
               pushwire_error_name(p.sticky));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Input in(data, size);
  uint8_t cfg = in.u8();
  size_t step = size_t(in.u8()) + 1;
  std::string bytes = in.rest();
  if (cfg & 1) client(cfg, step, bytes);
  else server(cfg, step, bytes);
  return 0;
}
