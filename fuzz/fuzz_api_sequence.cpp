// C ABI call sequences. The first bytes choose a handle kind, its options and limits,
// which allocation starts failing and whether the random source fails; every later byte
// picks a call and its arguments.
//
// Input: byte 0 handle (mod 5: WebSocket server, client, HTTP request, SSE writer, SSE
// parser); byte 1 the allocation that starts failing (0 or >= 128: none); byte 2 bit 0 a
// failing random source, bit 1 accept a REQUEST at once; then ops (an op byte, then its arguments: blobs are a length byte
// and bytes, integers little-endian).
// Oracles: every call returns one of the codes its documentation lists; a NOMEM or
// INTERNAL handle is only freed; sticky errors and the FAILED state stay; options read back
// as set; consume beyond the queue is refused and changes nothing; frame_header writes a
// correct header; every event passes ws_harness.hpp's checks; nothing leaks.
#include "sse_harness.hpp"
#include "ws_harness.hpp"

using namespace fuzz;

namespace {

uint64_t option_value(Input &in) {
  uint8_t how = in.u8();
  switch (how & 3) {
    case 0: return how >> 2;  // 0..63
    case 1: return in.u16();
    case 2: return in.u64();
    default: return uint64_t(1) << (how >> 2);
  }
}

std::string frame(Input &in, bool masked) {
  uint8_t b0 = in.u8();
  std::string payload = in.blob();
  std::string f(1, char(b0));
  uint8_t m = masked ? 0x80 : 0;
  if (payload.size() < 126) f += char(m | payload.size());
  else f += char(m | 126), f += char(payload.size() >> 8), f += char(payload.size() & 0xff);
  if (masked) f += std::string("\x01\x02\x03\x04", 4);
  for (size_t i = 0; i < payload.size(); ++i) f += masked ? char(payload[i] ^ "\x01\x02\x03\x04"[i % 4]) : payload[i];
  return f;
}

void ws_ops(Input &in, pushwire_ws_role role, size_t fail_at, uint8_t bad_random) {
  CountingAlloc alloc;
  alloc.fail_at = fail_at;
  WsPeer p(role, alloc.get());
  if (!p.ws) return;
  p.rnd.fail = bad_random & 1;
  p.auto_accept = bad_random & 2;
  pushwire_ws *ws = p.ws;
  uint64_t now = 0;
  for (int n = 0; n < 200 && !in.empty() && p.usable(); ++n) {
    uint8_t op = in.u8() % 28;
    if (tracing()) std::fprintf(stderr, "op %u (state %d)\n", op, int(pushwire_ws_get_state(ws)));
    switch (op) {
      case 0: {
        auto o = pushwire_ws_option(in.u8() % 20);
        uint64_t v = option_value(in);
        if (tracing()) std::fprintf(stderr, "  option %d = %llu\n", int(o), (unsigned long long)v);
        int rc = p.set_option(o, v);
        uint64_t got = 0;
        int g = check_rc("ws_get_option", pushwire_ws_get_option(ws, o, &got), {0, PW(UNSUPPORTED)});
        // Switches may read back as 1 for any non-zero value.
        if (rc == 0) FUZZ_CHECK(g == 0 && (got == v || (got == 1 && v != 0)), "option %d set to %llu reads %llu", int(o),
                                (unsigned long long)v, (unsigned long long)got);
        break;
      }
      case 1: {
        std::string s = in.blob();
        p.note(check_rc("ws_add_origin", pushwire_ws_add_origin(ws, s.data(), s.size()), {CODES_WS_CONFIG}));
        break;
      }
      case 2: {
        std::string s = in.blob();
        p.note(check_rc("ws_add_subprotocol", pushwire_ws_add_subprotocol(ws, s.data(), s.size()), {CODES_WS_CONFIG}));
        break;
      }
      case 3: {
        std::string a = in.blob(), b = in.blob();
        p.note(check_rc("ws_add_header", pushwire_ws_add_header(ws, a.data(), a.size(), b.data(), b.size()), {CODES_WS_CONFIG}));
        break;
      }
      case 4: {
        std::string host = in.blob(), target = in.blob();
        if (in.u8() & 1) host = kHost, target = "/chat";
        p.note(check_rc("ws_client_start", pushwire_ws_client_start(ws, host.data(), host.size(), target.data(), target.size()),
                        {CODES_WS_START}));
        break;
      }
      case 5: {
        std::string s = in.blob();
        p.note(check_rc("ws_accept", pushwire_ws_accept(ws, s.empty() ? nullptr : s.data(), s.size()), {CODES_WS_CONFIG}));
        break;
      }
      case 6: {
        unsigned status = in.u16() % 700;
        std::string s = in.blob();
        p.note(check_rc("ws_reject", pushwire_ws_reject(ws, status, s.data(), s.size()), {CODES_WS_CONFIG}));
        break;
      }
      case 7: {
        pushwire_span a, b;
        size_t i = in.u8() % 4;
        check_rc("ws_request_target", pushwire_ws_request_target(ws, &a), {0, 1, PW(INVALID_STATE)});
        check_rc("ws_request_header", pushwire_ws_request_header(ws, "Host", 4, i, &a), {0, 1, PW(INVALID_STATE)});
        check_rc("ws_request_subprotocol", pushwire_ws_request_subprotocol(ws, i, &a), {0, 1, PW(INVALID_STATE)});
        check_rc("ws_request_extension", pushwire_ws_request_extension(ws, i, &a, &b), {0, 1, PW(INVALID_STATE)});
        break;
      }
      case 8: case 9: {
        std::string s = in.blob();
        std::vector<uint8_t> buf(s.begin(), s.end());
        if (p.feed(buf.data(), buf.size(), op == 9) == 0 || op == 9) p.drain();  // lent bytes must be drained
        break;
      }
      case 10: p.feed_eof(); break;
      case 11: p.drain(); break;
      case 12: case 13: {
        std::string s = in.blob();
        const uint8_t *d = reinterpret_cast<const uint8_t *>(s.data());
        p.note(check_rc("ws_send", op == 12 ? pushwire_ws_send_text(ws, d, s.size()) : pushwire_ws_send_binary(ws, d, s.size()),
                        {CODES_WS_SEND}));
        break;
      }
      case 14: {
        uint8_t f = in.u8();
        std::string s = in.blob();
        p.note(check_rc("ws_send_fragment",
                        pushwire_ws_send_fragment(ws, f & 1, reinterpret_cast<const uint8_t *>(s.data()), s.size(), f & 2),
                        {CODES_WS_SEND}));
        break;
      }
      case 15: case 16: {
        std::string s = in.blob();
        const uint8_t *d = reinterpret_cast<const uint8_t *>(s.data());
        p.note(check_rc("ws_ping/pong", op == 15 ? pushwire_ws_ping(ws, d, s.size()) : pushwire_ws_pong(ws, d, s.size()),
                        {CODES_WS_SEND}));
        break;
      }
      case 17: {
        uint16_t code = in.u16();
        std::string s = in.blob();
        p.note(check_rc("ws_close", pushwire_ws_close(ws, code, s.data(), s.size()), {CODES_WS_CLOSE}));
        break;
      }
      case 18: {
        bool binary = in.u8() & 1;
        uint64_t len = option_value(in);
        uint8_t hdr[14];
        size_t hlen = 99;
        int rc = p.note(check_rc("ws_frame_header", pushwire_ws_frame_header(ws, binary, len, hdr, &hlen), {CODES_WS_FRAME_HEADER}));
        if (rc == 0) {
          FUZZ_CHECK(role == PUSHWIRE_WS_SERVER, "frame_header worked for a client");
          FrameScanner scan(false);
          std::string h(reinterpret_cast<char *>(hdr), hlen);
          FUZZ_CHECK(hlen == (len < 126 ? 2u : len < 65536 ? 4u : 10u) && uint8_t(h[0]) == (binary ? 0x82 : 0x81),
                     "frame_header(%llu) wrote %s", (unsigned long long)len, quote(h).c_str());
          if (len < 300) scan.push(h + std::string(size_t(len), binary ? '\xff' : 'a')), scan.finish();
        }
        break;
      }
      case 19: {
        size_t size = pushwire_ws_output_size(ws);
        size_t k = in.u16();
        int rc = check_rc("ws_consume_output", pushwire_ws_consume_output(ws, k), {0, PW(INVALID_ARGUMENT)});
        FUZZ_CHECK((rc == 0) == (k <= size), "consume(%zu) of %zu returned %d", k, size, rc);
        FUZZ_CHECK(pushwire_ws_output_size(ws) == (rc ? size : size - k), "consume changed the queue wrongly");
        break;
      }
      case 20: p.take_output(in.u8() + 1); break;
      case 21: {
        now += in.u16();
        uint64_t next = 0;
        p.note(check_rc("ws_tick", pushwire_ws_tick(ws, now, in.u8() & 1 ? &next : nullptr),
                        {0, PW(TIMEOUT), PW(INVALID_ARGUMENT), CODES_FATAL}));
        p.drain();
        break;
      }
      case 22: {
        const std::string canned = role == PUSHWIRE_WS_SERVER ? kRfcRequest : kRfcResponse;
        if (p.feed(reinterpret_cast<const uint8_t *>(canned.data()), canned.size()) == 0) p.drain();
        break;
      }
      case 23: {
        std::string f = frame(in, role == PUSHWIRE_WS_SERVER);
        if (p.feed(reinterpret_cast<const uint8_t *>(f.data()), f.size()) == 0) p.drain();
        break;
      }
      case 24:
        check_rc("ws_set_random", in.u8() & 1 ? pushwire_ws_set_random(ws, nullptr, nullptr)
                                              : pushwire_ws_set_random(ws, &FixedRandom::fill, &p.rnd),
                 {0});
        break;
      case 25: {
        // Misuse with NULL arguments is refused, never a crash.
        pushwire_ws_event ev;
        check_rc("ws_next_event(NULL)", pushwire_ws_next_event(nullptr, &ev), {PW(INVALID_ARGUMENT)});
        check_rc("ws_next_event(ws, NULL)", pushwire_ws_next_event(ws, nullptr), {PW(INVALID_ARGUMENT)});
        if (!p.sticky) check_rc("ws_feed(NULL data)", pushwire_ws_feed(ws, nullptr, 3), {PW(INVALID_ARGUMENT)});
        check_rc("ws_set_option(NULL)", pushwire_ws_set_option(nullptr, PUSHWIRE_WS_OPT_STREAMING, 1), {PW(INVALID_ARGUMENT)});
        check_rc("ws_feed_eof(NULL)", pushwire_ws_feed_eof(nullptr), {PW(INVALID_ARGUMENT)});
        FUZZ_CHECK(pushwire_ws_get_state(nullptr) == PUSHWIRE_WS_STATE_FAILED, "state of NULL is not FAILED");
        check_rc("ws_get_option(NULL value)", pushwire_ws_get_option(ws, PUSHWIRE_WS_OPT_STREAMING, nullptr), {PW(INVALID_ARGUMENT)});
        check_rc("ws_consume_output(NULL)", pushwire_ws_consume_output(nullptr, 0), {PW(INVALID_ARGUMENT)});
        check_rc("ws_close(NULL reason)", pushwire_ws_close(ws, 1000, nullptr, 5), {PW(INVALID_ARGUMENT), PW(CLOSED), PW(INVALID_STATE)});
        break;
      }
      default: p.check_state(); break;
    }
  }
}

void http_ops(Input &in, size_t fail_at) {
  CountingAlloc alloc;
  alloc.fail_at = fail_at;
  pushwire_http_request *req = nullptr;
  if (check_rc("http_request_new", pushwire_http_request_new(&req, alloc.get()), {CODES_NEW})) return;
  int sticky = 0;
  for (int n = 0; n < 200 && !in.empty(); ++n) {
    uint8_t op = in.u8() % 8;
    pushwire_span a, b;
    switch (op) {
      case 0:
        check_rc("http_request_set_option", pushwire_http_request_set_option(req, pushwire_http_option(in.u8() % 4), option_value(in)),
                 {CODES_SET_OPTION});
        break;
      case 1: case 2: {
        std::string s = op == 1 ? in.blob() : std::string(kRfcRequest);
        size_t used = 0;
        int rc = check_rc("http_request_feed", pushwire_http_request_feed(req, reinterpret_cast<const uint8_t *>(s.data()), s.size(), &used),
                          {CODES_HTTP_FEED});
        if (rc == PW(NOMEM)) goto out;
        if (sticky) FUZZ_CHECK(rc == sticky, "sticky %d became %d", sticky, rc);
        if (rc < 0) sticky = rc;
        break;
      }
      case 3: {
        check_rc("http_request_method", pushwire_http_request_method(req, &a), {0, PW(INVALID_STATE)});
        check_rc("http_request_target", pushwire_http_request_target(req, &a), {0, PW(INVALID_STATE)});
        check_rc("http_request_minor_version", pushwire_http_request_minor_version(req), {0, 1, PW(INVALID_STATE)});
        int c = pushwire_http_request_header_count(req);
        FUZZ_CHECK(c >= 0 || c == PW(INVALID_STATE), "header_count %d", c);
        check_rc("http_request_header_at", pushwire_http_request_header_at(req, in.u8(), &a, &b), {0, 1, PW(INVALID_STATE)});
        break;
      }
      case 4: {
        std::string name = in.blob(), token = in.blob();
        check_rc("http_request_header", pushwire_http_request_header(req, name.data(), name.size(), in.u8() % 3, &a),
                 {0, 1, PW(INVALID_STATE), PW(INVALID_ARGUMENT)});
        check_rc("http_request_has_token",
                 pushwire_http_request_has_token(req, name.data(), name.size(), token.data(), token.size()),
                 {0, 1, PW(INVALID_STATE), PW(INVALID_ARGUMENT)});
        pushwire_span id;
        check_rc("sse_request_check", pushwire_sse_request_check(req, in.u8() & 1 ? &id : nullptr),
                 {0, 1, PW(INVALID_ARGUMENT), PW(INVALID_STATE)});
        break;
      }
      case 5:
        check_rc("http_request_reset", pushwire_http_request_reset(req), {0});
        sticky = 0;
        break;
      case 6: {
        int h = pushwire_http_request_status_hint(req);
        FUZZ_CHECK(h == (sticky == PW(BAD_HTTP) ? 400 : sticky == PW(HEAD_TOO_LARGE) ? 431 : 0), "status hint %d", h);
        break;
      }
      default:
        check_rc("http_request_feed(NULL)", pushwire_http_request_feed(nullptr, nullptr, 0, nullptr), {PW(INVALID_ARGUMENT)});
        check_rc("http_request_method(NULL)", pushwire_http_request_method(req, nullptr), {PW(INVALID_ARGUMENT)});
        break;
    }
  }
out:
  pushwire_http_request_free(req);
}

pushwire_sse_fields sse_fields(Input &in, std::string (&text)[4]) {
  pushwire_sse_fields f;
  std::memset(&f, 0, sizeof f);
  uint8_t which = in.u8();
  const char **ptrs[4] = {&f.event, &f.data, &f.id, &f.comment};
  size_t *lens[4] = {&f.event_len, &f.data_len, &f.id_len, &f.comment_len};
  for (int i = 0; i < 4; ++i)
    if (which & (1 << i)) text[i] = in.blob(), *ptrs[i] = text[i].data(), *lens[i] = text[i].size();
  f.retry_ms = (which & 16) ? int64_t(in.u64()) : -1;
  if (which & 32) f.reserved[0] = 1;
  return f;
}

void sse_writer_ops(Input &in, size_t fail_at) {
  CountingAlloc alloc;
  alloc.fail_at = fail_at;
  pushwire_sse_writer *w = nullptr;
  if (check_rc("sse_writer_new", pushwire_sse_writer_new(&w, alloc.get()), {CODES_NEW})) return;
  uint64_t now = 0;
  for (int n = 0; n < 200 && !in.empty(); ++n) {
    uint8_t op = in.u8() % 8;
    int rc = 0;
    switch (op) {
      case 0:
        rc = check_rc("sse_writer_set_option", pushwire_sse_writer_set_option(w, pushwire_sse_writer_option(in.u8() % 4), option_value(in)),
                      {0, PW(INVALID_ARGUMENT), PW(UNSUPPORTED)});
        break;
      case 1: {
        std::string a = in.blob(), b = in.blob();
        rc = check_rc("sse_writer_add_header", pushwire_sse_writer_add_header(w, a.data(), a.size(), b.data(), b.size()),
                      {CODES_WS_CONFIG});
        break;
      }
      case 2:
        rc = check_rc("sse_writer_response_head", pushwire_sse_writer_response_head(w),
                      {0, PW(INVALID_ARGUMENT), PW(INVALID_STATE), PW(BUFFER_FULL), PW(NOMEM)});
        break;
      case 3: {
        std::string text[4];
        pushwire_sse_fields f = sse_fields(in, text);
        size_t before = pushwire_sse_writer_output_size(w);
        rc = check_rc("sse_writer_event", pushwire_sse_writer_event(w, &f), {CODES_SSE_WRITER_EVENT});
        if (rc) FUZZ_CHECK(pushwire_sse_writer_output_size(w) == before, "a failed event changed the queue");
        break;
      }
      case 4: {
        std::string s = in.blob();
        rc = check_rc("sse_writer_comment", pushwire_sse_writer_comment(w, s.data(), s.size()), {CODES_SSE_WRITER_EVENT});
        break;
      }
      case 5: {
        size_t size = pushwire_sse_writer_output_size(w);
        pushwire_span sp;
        FUZZ_CHECK(pushwire_sse_writer_peek_output(w, &sp) == size && sp.len == size, "peek disagrees with output_size");
        span_str(sp, "writer output");
        size_t k = in.u16();
        int c = check_rc("sse_writer_consume_output", pushwire_sse_writer_consume_output(w, k), {0, PW(INVALID_ARGUMENT)});
        FUZZ_CHECK((c == 0) == (k <= size), "consume(%zu) of %zu returned %d", k, size, c);
        break;
      }
      case 6: {
        now += in.u16();
        uint64_t next;
        rc = check_rc("sse_writer_tick", pushwire_sse_writer_tick(w, now, &next),
                      {0, 1, PW(INVALID_ARGUMENT), PW(BUFFER_FULL), PW(NOMEM)});
        break;
      }
      default: {
        std::string text[4];
        pushwire_sse_fields f = sse_fields(in, text);
        size_t cap = in.u8(), written = 0;
        std::vector<uint8_t> buf(cap + 1);
        check_rc("sse_encode", pushwire_sse_encode(&f, cap ? buf.data() : nullptr, cap, &written), {CODES_SSE_ENCODE});
        check_rc("sse_encode(NULL)", pushwire_sse_encode(nullptr, nullptr, 0, &written), {PW(INVALID_ARGUMENT)});
        break;
      }
    }
    if (rc == PW(NOMEM)) break;
  }
  pushwire_sse_writer_free(w);
}

void sse_parser_ops(Input &in, size_t fail_at) {
  CountingAlloc alloc;
  alloc.fail_at = fail_at;
  pushwire_sse_parser *p = nullptr;
  if (check_rc("sse_parser_new", pushwire_sse_parser_new(&p, alloc.get()), {CODES_NEW})) return;
  int sticky = 0;
  for (int n = 0; n < 200 && !in.empty(); ++n) {
    uint8_t op = in.u8() % 7;
    int rc = 0;
    switch (op) {
      case 0:
        rc = check_rc("sse_parser_set_option", pushwire_sse_parser_set_option(p, pushwire_sse_parser_option(in.u8() % 5), option_value(in)),
                      {CODES_SET_OPTION});
        break;
      case 1: {
        std::string s = in.blob();
        rc = check_rc("sse_parser_feed", pushwire_sse_parser_feed(p, reinterpret_cast<const uint8_t *>(s.data()), s.size()),
                      {CODES_SSE_PARSER_FEED});
        if (sticky) FUZZ_CHECK(rc == sticky, "sticky %d became %d", sticky, rc);
        break;
      }
      case 2: rc = check_rc("sse_parser_feed_eof", pushwire_sse_parser_feed_eof(p), {0}); break;
      case 3: {
        pushwire_sse_event ev;
        rc = check_rc("sse_parser_next_event", pushwire_sse_parser_next_event(p, &ev),
                      {0, 1, PW(LINE_TOO_LONG), PW(EVENT_TOO_BIG), PW(NOMEM)});
        if (sticky) FUZZ_CHECK(rc == sticky, "sticky %d became %d", sticky, rc);
        if (rc < 0 && rc != PW(NOMEM)) sticky = rc;
        if (rc == 1) span_str(ev.data, "data"), span_str(ev.event_type, "type"), span_str(ev.last_event_id, "id");
        break;
      }
      case 4: {
        span_str(pushwire_sse_parser_last_event_id(p), "last_event_id");
        pushwire_sse_parser_retry_ms(p, 3000);
        size_t cap = in.u8(), written = 0;
        std::vector<uint8_t> buf(cap + 1);
        check_rc("sse_parser_reconnect_headers", pushwire_sse_parser_reconnect_headers(p, cap ? buf.data() : nullptr, cap, &written),
                 {0, PW(BUFFER_TOO_SMALL), PW(INVALID_ARGUMENT)});
        break;
      }
      case 5:
        rc = check_rc("sse_parser_reset", pushwire_sse_parser_reset(p), {0, PW(NOMEM)});
        sticky = 0;
        break;
      default:
        check_rc("sse_parser_feed(NULL)", pushwire_sse_parser_feed(nullptr, nullptr, 0), {PW(INVALID_ARGUMENT)});
        check_rc("sse_parser_next_event(NULL)", pushwire_sse_parser_next_event(p, nullptr), {PW(INVALID_ARGUMENT)});
        break;
    }
    if (rc == PW(NOMEM)) break;
  }
  pushwire_sse_parser_free(p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Input in(data, size);
  uint8_t kind = in.u8() % 5;
  uint8_t f = in.u8();
  size_t fail_at = f < 128 ? f : 0;
  uint8_t bad_random = in.u8();
  switch (kind) {
    case 0: ws_ops(in, PUSHWIRE_WS_SERVER, fail_at, bad_random); break;
    case 1: ws_ops(in, PUSHWIRE_WS_CLIENT, fail_at, bad_random); break;
    case 2: http_ops(in, fail_at); break;
    case 3: sse_writer_ops(in, fail_at); break;
    default: sse_parser_ops(in, fail_at); break;
  }
  return 0;
}
