// WebSocket pieces shared by the fuzz targets: canned RFC 6455 handshakes, a deterministic
// random source, a handle wrapper that checks every return code and event, and an
// independent frame scanner for the bytes a handle writes.
#pragma once

#include <strings.h>

#include <algorithm>

#include "fuzz_common.hpp"
#include "http_samples.hpp"  // kRfcRequest, kRfcResponse

namespace fuzz {

// RFC 6455 §1.3: the sample nonce (its key is the one in kRfcRequest).
constexpr char kNonce[] = "the sample nonce";
constexpr char kHost[] = "server.example.com";
// The RFC's nonce first (so the client's key is the RFC's), then a fixed byte stream.
struct FixedRandom {
  uint64_t pos = 0;
  uint64_t state = 0x243f6a8885a308d3ull;
  bool fail = false;
  static int fill(void *user, uint8_t *buf, size_t len) {
    FixedRandom *r = static_cast<FixedRandom *>(user);
    if (r->fail) return 1;
    for (size_t i = 0; i < len; ++i, ++r->pos) {
      if (r->pos < 16) {
        buf[i] = uint8_t(kNonce[r->pos]);
      } else {
        r->state = r->state * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = uint8_t(r->state >> 56);
      }
    }
    return 0;
  }
};

// Codes an endpoint may send in a close frame (RFC 6455 §7.4).
inline bool sendable_close_code(unsigned c) {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

inline bool is_hint(int h) {
  switch (h) {
    case 1002: case 1006: case 1007: case 1008: case 1009:
    case 400: case 403: case 426: case 431:
      return true;
    default:
      return false;
  }
}

inline const char *ws_type_name(uint32_t t) {
  static const char *const names[] = {"?",    "REQUEST", "ACCEPTED", "REJECTED", "TEXT",
                                      "BINARY", "PING",  "PONG",     "CLOSE"};
  return t < 9 ? names[t] : "?";
}

struct WsEvent {
  uint32_t type, flags, code;
  std::string data;
  std::string describe() const {
    char head[64];
    std::snprintf(head, sizeof head, "%s flags=%u code=%u ", ws_type_name(type), flags, code);
    return head + quote(data);
  }
};

// Checks the frames one endpoint writes: well-formed, masked exactly when a client sends,
// minimal length encodings, control frame rules, fragmentation order, valid text, and
// nothing after a close frame. Frames are recorded unmasked for exact comparisons.
class FrameScanner {
 public:
  struct Frame {
    uint8_t opcode;
    bool fin;
    std::string payload;
  };
  explicit FrameScanner(bool client) : client_(client) {}
  bool check_text = true;  // false when the sender may send invalid UTF-8 (option off)
  std::vector<Frame> frames;
  bool closed = false;

  void push(const std::string &bytes) {
    buf_ += bytes;
    while (parse_one()) {
    }
  }
  // Every byte was part of a complete frame.
  void finish() const { FUZZ_CHECK(buf_.empty(), "output ends inside a frame (%zu bytes left)", buf_.size()); }

 private:
  bool parse_one() {
    const uint8_t *p = reinterpret_cast<const uint8_t *>(buf_.data());
    size_t n = buf_.size();
    if (n < 2) return false;
    FUZZ_CHECK(!closed, "a frame written after the close frame");
    bool fin = p[0] & 0x80;
    uint8_t op = p[0] & 0x0f;
    FUZZ_CHECK((p[0] & 0x70) == 0, "RSV bits set in an output frame: %02x", p[0]);
    FUZZ_CHECK(op <= 2 || (op >= 8 && op <= 10), "reserved opcode %u written", op);
    bool masked = p[1] & 0x80;
    FUZZ_CHECK(masked == client_, "output frame masked=%d from a %s", masked, client_ ? "client" : "server");
    uint64_t len = p[1] & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
      if (n < 4) return false;
      len = (uint64_t(p[2]) << 8) | p[3];
      FUZZ_CHECK(len >= 126, "non-minimal 16-bit length %llu", (unsigned long long)len);
      hdr = 4;
    } else if (len == 127) {
      if (n < 10) return false;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      FUZZ_CHECK(len > 0xffff && !(len >> 63), "non-minimal or oversized 64-bit length %llu", (unsigned long long)len);
      hdr = 10;
    }
    size_t key_at = hdr;
    if (masked) hdr += 4;
    if (n < hdr || n - hdr < len) return false;
    Frame f{op, fin, buf_.substr(hdr, size_t(len))};
    if (masked)
      for (size_t i = 0; i < f.payload.size(); ++i) f.payload[i] = char(f.payload[i] ^ p[key_at + i % 4]);
    buf_.erase(0, hdr + size_t(len));
    if (op >= 8) {
      FUZZ_CHECK(fin && f.payload.size() <= 125, "control frame fin=%d len=%zu", fin, f.payload.size());
      if (op == 8) {
        FUZZ_CHECK(f.payload.size() != 1, "close frame with a 1-byte payload");
        if (f.payload.size() >= 2) {
          unsigned code = (uint8_t(f.payload[0]) << 8) | uint8_t(f.payload[1]);
          FUZZ_CHECK(sendable_close_code(code), "close frame with code %u", code);
          FUZZ_CHECK(!check_text || ref_utf8_valid(f.payload.substr(2)), "close reason is not UTF-8");
        }
        closed = true;
      }
    } else {
      FUZZ_CHECK((op == 0) == in_message_, "opcode %u while a message is %s", op, in_message_ ? "open" : "not open");
      if (op != 0) text_ = op == 1, message_.clear();
      if (text_) message_ += f.payload;
      in_message_ = !fin;
      if (fin && text_) FUZZ_CHECK(!check_text || ref_utf8_valid(message_), "text message is not UTF-8");
    }
    frames.push_back(std::move(f));
    return true;
  }

  bool client_;
  std::string buf_;
  bool in_message_ = false;
  bool text_ = false;
  std::string message_;
};

// A handle with the oracles attached. Declared members outlive the handle (freed first).
class WsPeer {
 public:
  CountingAlloc alloc;
  FixedRandom rnd;
  pushwire_ws *ws = nullptr;
  pushwire_ws_role role;
  bool streaming = false;
  std::vector<WsEvent> events;
  int sticky = 0;           // the receive error next_event returned, once it has
  bool failed_event = false;
  bool closed_event = false;
  bool fatal = false;       // NOMEM or INTERNAL came back: only free is allowed now
  bool was_failed_state = false;
  uint64_t fed = 0;         // bytes given to feed
  uint64_t handed = 0;      // peer-supplied bytes handed out in events
  bool auto_accept = true;  // answer a REQUEST with pushwire_ws_accept(NULL)
  std::string output;       // every byte taken from the output queue
  size_t batch = 0;         // > 0: events are pulled with next_events, up to this many per call

  explicit WsPeer(pushwire_ws_role r, const pushwire_allocator *a = nullptr) : role(r) {
    int rc = check_rc("ws_new", pushwire_ws_new(&ws, r, a ? a : alloc.get()), {CODES_NEW});
    if (rc) {
      ws = nullptr;
      fatal = true;
      return;
    }
    check_rc("ws_set_random", pushwire_ws_set_random(ws, &FixedRandom::fill, &rnd), {0});
  }
  ~WsPeer() { pushwire_ws_free(ws); }
  WsPeer(const WsPeer &) = delete;

  bool usable() const { return ws && !fatal; }

  int set_option(pushwire_ws_option o, uint64_t v) {
    int rc = note(check_rc("ws_set_option", pushwire_ws_set_option(ws, o, v), {CODES_WS_SET_OPTION}));
    if (rc == 0 && o == PUSHWIRE_WS_OPT_STREAMING) streaming = v != 0;
    return rc;
  }

  // A call that may return NOMEM/INTERNAL: remember that the handle is now only freeable.
  int note(int rc) {
    if (pushwire_error_is_fatal(rc)) fatal = true;
    return rc;
  }

  int feed(const uint8_t *data, size_t len, bool lend = false) {
    int prev_sticky = sticky;
    int rc = lend ? pushwire_ws_feed_mutable(ws, const_cast<uint8_t *>(data), len) : pushwire_ws_feed(ws, data, len);
    if (tracing()) std::fprintf(stderr, "  feed%s(%zu bytes) -> %d\n", lend ? "_mutable" : "", len, rc);
    if (!documented(rc)) fail("ws_feed returned %d", rc);
    if (rc == 0) fed += len;
    if (prev_sticky) FUZZ_CHECK(rc == prev_sticky, "feed after the sticky error %s returned %s",
                                pushwire_error_name(prev_sticky), pushwire_error_name(rc));
    if (rc < 0 && !pushwire_error_is_remote(rc))
      check_rc("ws_feed", rc, {PW(BUFFER_FULL), PW(INVALID_ARGUMENT), PW(INVALID_STATE), CODES_FATAL});
    note(rc);
    check_state();
    return rc;
  }

  int feed_eof() {
    int rc = note(check_rc("ws_feed_eof", pushwire_ws_feed_eof(ws), {0, PW(INVALID_ARGUMENT), CODES_FATAL}));
    check_state();
    return rc;
  }

  // Pull events until none is left; returns the number pulled.
  size_t drain() {
    if (batch) return drain_batches();
    size_t pulled = 0;
    while (usable()) {
      pushwire_ws_event ev;
      std::memset(&ev, 0xa5, sizeof ev);
      int rc = pushwire_ws_next_event(ws, &ev);
      if (rc == 0) break;
      if (rc < 0) {
        on_error(rc);
        break;
      }
      FUZZ_CHECK(rc == 1, "ws_next_event returned %d", rc);
      FUZZ_CHECK(!sticky, "an event after the sticky error %s", pushwire_error_name(sticky));
      on_event(ev);
      ++pulled;
    }
    check_state();
    return pulled;
  }

  // The same with next_events; a batch's events are looked at only once the call has
  // returned, so all of their spans must still be valid then.
  size_t drain_batches() {
    size_t pulled = 0;
    std::vector<pushwire_ws_event> evs(batch);
    while (usable()) {
      std::memset(evs.data(), 0xa5, evs.size() * sizeof evs[0]);
      size_t n = 0;
      int rc = pushwire_ws_next_events(ws, evs.data(), batch, &n);
      if (rc <= 0) FUZZ_CHECK(n == 0, "ws_next_events returned %d with %zu events", rc, n);
      if (rc == 0) break;
      if (rc < 0) {
        on_error(rc);
        break;
      }
      FUZZ_CHECK(rc == 1 && n >= 1 && n <= batch, "ws_next_events returned %d with %zu events", rc, n);
      for (size_t i = 0; i < n; ++i) {
        FUZZ_CHECK(!sticky, "an event after the sticky error %s", pushwire_error_name(sticky));
        on_event(evs[i]);
      }
      pulled += n;
    }
    check_state();
    return pulled;
  }

  // Move everything queued for output into `output` (and return it), consuming it in
  // pieces of `step` bytes to exercise partial writes.
  std::string take_output(size_t step = SIZE_MAX) {
    std::string got;
    while (ws) {
      pushwire_span sp;
      size_t n = pushwire_ws_peek_output(ws, &sp);
      FUZZ_CHECK(n == sp.len, "peek_output returned %zu for a span of %zu", n, sp.len);
      FUZZ_CHECK(n == pushwire_ws_output_size(ws), "output_size %zu != peek %zu", pushwire_ws_output_size(ws), n);
      if (!n) break;
      size_t take = n < step ? n : step;
      got += span_str(sp, "output").substr(0, take);
      check_rc("ws_consume_output", pushwire_ws_consume_output(ws, take), {0});
    }
    output += got;
    return got;
  }

  void check_state() {
    if (!ws) return;
    pushwire_ws_state st = pushwire_ws_get_state(ws);
    FUZZ_CHECK(st <= PUSHWIRE_WS_STATE_FAILED, "unknown state %d", int(st));
    if (was_failed_state) FUZZ_CHECK(st == PUSHWIRE_WS_STATE_FAILED, "left the FAILED state for %d", int(st));
    if (st == PUSHWIRE_WS_STATE_FAILED) was_failed_state = true;
    int hint = pushwire_ws_close_code_hint(ws);
    // A client refused by the server is hinted the server's status.
    bool refusal = role == PUSHWIRE_WS_CLIENT && hint >= 100 && hint <= 999;
    FUZZ_CHECK(hint == 0 || is_hint(hint) || refusal, "close_code_hint %d is not documented", hint);
    if (st == PUSHWIRE_WS_STATE_FAILED) FUZZ_CHECK(hint != 0, "FAILED state without a close code hint");
    FUZZ_CHECK(pushwire_ws_error_reason(ws) != nullptr, "error_reason returned NULL");
    FUZZ_CHECK(handed <= fed, "handed out %llu peer bytes, fed only %llu", (unsigned long long)handed,
               (unsigned long long)fed);
  }

 private:
  void on_error(int rc) {
    if (tracing()) std::fprintf(stderr, "  next_event -> %s\n", pushwire_error_name(rc));
    if (pushwire_error_is_fatal(rc)) {
      check_rc("ws_next_event", rc, {CODES_FATAL});
      fatal = true;
      return;
    }
    if (rc == PW(INVALID_ARGUMENT)) fail("ws_next_event: INVALID_ARGUMENT for a valid handle and event");
    FUZZ_CHECK(pushwire_error_is_remote(rc), "ws_next_event returned %d (%s)", rc, pushwire_error_name(rc));
    FUZZ_CHECK(failed_event, "sticky error %s without a preceding FAILED event", pushwire_error_name(rc));
    FUZZ_CHECK(!sticky || sticky == rc, "sticky error changed from %s to %s", pushwire_error_name(sticky),
               pushwire_error_name(rc));
    sticky = rc;
    pushwire_ws_event ev;
    FUZZ_CHECK(pushwire_ws_next_event(ws, &ev) == rc, "sticky error not repeated");
  }

  void on_event(const pushwire_ws_event &ev) {
    WsEvent e{ev.type, ev.flags, ev.code, span_str(ev.data, "event data")};
    if (tracing()) std::fprintf(stderr, "  event %s\n", e.describe().c_str());
    FUZZ_CHECK(ev.type >= PUSHWIRE_WS_EV_REQUEST && ev.type <= PUSHWIRE_WS_EV_CLOSE, "unknown event type %u", ev.type);
    FUZZ_CHECK((ev.flags & ~7u) == 0, "unknown event flags %x", ev.flags);
    FUZZ_CHECK(ev.reserved0 == 0 && ev.reserved[0] == 0 && ev.reserved[1] == 0, "reserved event fields not zero");
    FUZZ_CHECK(!failed_event, "%s event after the FAILED event", ws_type_name(ev.type));
    bool data_event = ev.type >= PUSHWIRE_WS_EV_TEXT && ev.type <= PUSHWIRE_WS_EV_BINARY;
    bool failed = ev.flags & PUSHWIRE_WS_EVF_FAILED;
    if (!data_event)
      FUZZ_CHECK(!(ev.flags & (PUSHWIRE_WS_EVF_FIN | PUSHWIRE_WS_EVF_FIRST)), "FIN/FIRST on %s", ws_type_name(ev.type));
    else if (!streaming)
      FUZZ_CHECK((ev.flags & 5u) == 5u, "buffered message without FIN|FIRST (flags %x)", ev.flags);
    if (failed) FUZZ_CHECK(ev.type == PUSHWIRE_WS_EV_CLOSE || ev.type == PUSHWIRE_WS_EV_REJECTED, "FAILED on %s",
                           ws_type_name(ev.type));
    if (ev.type == PUSHWIRE_WS_EV_REJECTED) FUZZ_CHECK(failed, "REJECTED without FAILED");
    if (ev.type == PUSHWIRE_WS_EV_REQUEST) FUZZ_CHECK(role == PUSHWIRE_WS_SERVER, "REQUEST event on a client");
    if (ev.type != PUSHWIRE_WS_EV_CLOSE && ev.type != PUSHWIRE_WS_EV_REJECTED)
      FUZZ_CHECK(ev.code == 0, "%s with code %u", ws_type_name(ev.type), ev.code);
    if (data_event || ev.type == PUSHWIRE_WS_EV_PING || ev.type == PUSHWIRE_WS_EV_PONG) {
      FUZZ_CHECK(!closed_event, "%s after the CLOSE event", ws_type_name(ev.type));
      handed += e.data.size();
    }
    if (ev.type == PUSHWIRE_WS_EV_PING || ev.type == PUSHWIRE_WS_EV_PONG)
      FUZZ_CHECK(e.data.size() <= 125, "control payload of %zu bytes", e.data.size());
    // In streaming mode chunks never end inside a character, so each is valid on its own.
    if (ev.type == PUSHWIRE_WS_EV_TEXT) FUZZ_CHECK(ref_utf8_valid(e.data), "TEXT data is not UTF-8: %s", quote(e.data).c_str());
    if (ev.type == PUSHWIRE_WS_EV_CLOSE) {
      FUZZ_CHECK(!closed_event, "a second CLOSE event");
      closed_event = true;
      if (failed) {
        FUZZ_CHECK(ev.code == 1002 || ev.code == 1006 || ev.code == 1007 || ev.code == 1008 || ev.code == 1009,
                   "failed CLOSE with code %u", ev.code);
        FUZZ_CHECK(int(ev.code) == pushwire_ws_close_code_hint(ws), "failed CLOSE code %u, hint %d", ev.code,
                   pushwire_ws_close_code_hint(ws));
      } else {
        FUZZ_CHECK(sendable_close_code(ev.code) || ev.code == 1005, "CLOSE with code %u", ev.code);
        FUZZ_CHECK(ref_utf8_valid(e.data), "close reason is not UTF-8");
        handed += e.data.size() + (ev.code == 1005 ? 0 : 2);
        if (ev.code == 1005) FUZZ_CHECK(e.data.empty(), "reason without a close code");
      }
    }
    if (failed) failed_event = true;
    events.push_back(e);
    if (ev.type == PUSHWIRE_WS_EV_REQUEST && auto_accept) {
      pushwire_span sp;
      FUZZ_CHECK(check_rc("ws_request_target", pushwire_ws_request_target(ws, &sp), {1}) == 1, "no target");
      FUZZ_CHECK(span_str(sp, "target") == e.data, "request_target differs from the REQUEST data");
      note(check_rc("ws_accept", pushwire_ws_accept(ws, nullptr, 0), {0, PW(NOMEM)}));
    }
  }
};

// Events with streamed message chunks joined into whole messages, and a message still
// open at the end dropped: what every delivery mode must agree on.
inline std::vector<std::string> ws_messages(const std::vector<WsEvent> &events) {
  std::vector<std::string> out;
  std::string msg;
  bool open = false;
  for (const WsEvent &e : events) {
    if (e.type == PUSHWIRE_WS_EV_TEXT || e.type == PUSHWIRE_WS_EV_BINARY) {
      if (e.flags & PUSHWIRE_WS_EVF_FIRST) {
        FUZZ_CHECK(!open, "FIRST chunk while a message is open");
        msg.clear();
        open = true;
      }
      FUZZ_CHECK(open, "a message chunk without FIRST");
      msg += e.data;
      if (e.flags & PUSHWIRE_WS_EVF_FIN) {
        out.push_back(std::string(ws_type_name(e.type)) + " " + quote(msg));
        open = false;
      }
      continue;
    }
    out.push_back(e.describe());
  }
  return out;
}

inline std::vector<std::string> ws_describe(const std::vector<WsEvent> &events) {
  std::vector<std::string> out;
  for (const WsEvent &e : events) out.push_back(e.describe());
  return out;
}

// The value of header field `name` (ASCII case-insensitive) in a head, or "\x01" if absent.
inline std::string head_field(const std::string &head, const char *name) {
  size_t nlen = std::strlen(name);
  for (size_t pos = head.find("\r\n"); pos != std::string::npos && pos + 2 < head.size();) {
    size_t end = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, end == std::string::npos ? std::string::npos : end - pos - 2);
    if (line.size() > nlen && line[nlen] == ':' && strncasecmp(line.c_str(), name, nlen) == 0) {
      size_t v = nlen + 1;
      while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) ++v;
      return line.substr(v);
    }
    pos = end;
  }
  return "\x01";
}

// The frame targets: `data` arrives after a canned valid handshake, read four ways (whole,
// in chunks, streaming, lent through feed_mutable). Every way must pass the per-call and
// per-event oracles, write a valid head and well-formed frames, and agree with the others
// on the events and on every byte written.
namespace frames_target {

enum Mode { kWhole, kChunked, kStreaming, kLent, kBatched };

struct Run {
  std::vector<WsEvent> events;
  std::string output;
};

inline Run run(pushwire_ws_role role, const uint8_t *data, size_t size, Mode mode) {
  WsPeer p(role);
  if (!p.usable()) fail("ws_new failed without an allocation failure");
  if (mode == kStreaming) check_rc("ws_set_option", p.set_option(PUSHWIRE_WS_OPT_STREAMING, 1), {0});
  if (mode == kBatched) p.batch = size % 7 == 0 ? 64 : size % 7;  // chunked input, 1-6 or 64 per call
  bool server = role == PUSHWIRE_WS_SERVER;
  std::string stream;
  if (server) {
    check_rc("ws_add_subprotocol", pushwire_ws_add_subprotocol(p.ws, "chat", 4), {0});
    stream = kRfcRequest;
  } else {
    check_rc("ws_add_subprotocol", pushwire_ws_add_subprotocol(p.ws, "chat", 4), {0});
    check_rc("ws_add_subprotocol", pushwire_ws_add_subprotocol(p.ws, "superchat", 9), {0});
    check_rc("ws_client_start", pushwire_ws_client_start(p.ws, kHost, std::strlen(kHost), "/chat", 5), {0});
    stream = kRfcResponse;
  }
  stream.append(reinterpret_cast<const char *>(data), size);
  Chunker chunks(data, size, 24);
  size_t pos = 0;
  while (pos < stream.size() && p.usable()) {
    size_t n = stream.size() - pos;
    size_t c = chunks.next();
    if (mode != kWhole && c < n) n = c;
    std::vector<uint8_t> chunk(stream.begin() + long(pos), stream.begin() + long(pos + n));
    int rc = p.feed(chunk.data(), n, mode == kLent);
    FUZZ_CHECK(rc != PUSHWIRE_ERR_BUFFER_FULL, "BUFFER_FULL although every event was pulled");
    p.drain();
    p.take_output(mode == kWhole ? SIZE_MAX : chunks.next());
    if (rc < 0) {
      if (p.usable()) p.feed(chunk.data(), n);  // the sticky error again
      break;
    }
    pos += n;
  }
  if (p.usable()) {
    p.feed_eof();
    p.drain();
    p.take_output();
  }
  FUZZ_CHECK(!p.fatal, "NOMEM/INTERNAL without an allocation failure");

  // The head first, then frames.
  size_t head_end = p.output.find("\r\n\r\n");
  FUZZ_CHECK(head_end != std::string::npos, "no complete head in the output");
  std::string head = p.output.substr(0, head_end + 2);
  if (server) {
    FUZZ_CHECK(head.compare(0, 13, "HTTP/1.1 101 ") == 0, "the server did not answer 101: %s", quote(head).c_str());
    FUZZ_CHECK(head_field(head, "Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "wrong accept value");
    FUZZ_CHECK(head_field(head, "Sec-WebSocket-Protocol") == "chat", "wrong subprotocol");
    FUZZ_CHECK(!p.events.empty() && p.events[0].type == PUSHWIRE_WS_EV_REQUEST && p.events[0].data == "/chat",
               "the first event is not REQUEST /chat");
  } else {
    FUZZ_CHECK(head.compare(0, 20, "GET /chat HTTP/1.1\r\n") == 0, "bad request line: %s", quote(head).c_str());
    FUZZ_CHECK(head_field(head, "Sec-WebSocket-Key") == "dGhlIHNhbXBsZSBub25jZQ==", "the key is not the RFC's");
    FUZZ_CHECK(!p.events.empty() && p.events[0].type == PUSHWIRE_WS_EV_ACCEPTED && p.events[0].data == "chat",
               "the first event is not ACCEPTED chat");
  }
  FrameScanner scan(!server);
  scan.push(p.output.substr(head_end + 4));
  scan.finish();
  check_memory(p.alloc, stream.size(), "WebSocket handle");
  // Only automatic frames go out here: pongs echo pings received, and the close echoes
  // the peer's code or carries the code the connection failed with.
  std::vector<std::string> pings;
  const WsEvent *close = nullptr;
  for (const WsEvent &e : p.events) {
    if (e.type == PUSHWIRE_WS_EV_PING) pings.push_back(e.data);
    if (e.type == PUSHWIRE_WS_EV_CLOSE) close = &e;
  }
  for (const FrameScanner::Frame &f : scan.frames) {
    if (f.opcode == 10) {
      auto it = std::find(pings.begin(), pings.end(), f.payload);
      FUZZ_CHECK(it != pings.end(), "a pong answering no ping: %s", quote(f.payload).c_str());
      pings.erase(it);
    } else if (f.opcode == 8) {
      FUZZ_CHECK(close && close->code != 1006, "a close frame without a received close or failure");
      unsigned code = f.payload.size() >= 2 ? (uint8_t(f.payload[0]) << 8) | uint8_t(f.payload[1]) : 1005;
      FUZZ_CHECK(code == close->code, "close frame with code %u after a CLOSE event with %u", code, close->code);
    } else {
      fail("frame with opcode %u written without a send", f.opcode);
    }
  }
  return Run{p.events, p.output};
}

inline void check(pushwire_ws_role role, const uint8_t *data, size_t size) {
  Run whole = run(role, data, size, kWhole);
  Run chunked = run(role, data, size, kChunked);
  Run lent = run(role, data, size, kLent);
  Run streaming = run(role, data, size, kStreaming);
  Run batched = run(role, data, size, kBatched);
  check_same("whole vs chunked events", ws_describe(whole.events), ws_describe(chunked.events));
  check_same("whole vs lent events", ws_describe(whole.events), ws_describe(lent.events));
  FUZZ_CHECK(whole.output == chunked.output, "output differs between whole and chunked input");
  FUZZ_CHECK(whole.output == lent.output, "output differs between feed and feed_mutable");
  check_same("whole vs batched events", ws_describe(whole.events), ws_describe(batched.events));
  FUZZ_CHECK(whole.output == batched.output, "output differs between next_event and next_events");
  std::vector<std::string> buffered = ws_messages(whole.events), streamed = ws_messages(streaming.events);
  // MAX_MESSAGE_SIZE does not apply in streaming mode: where the buffered run failed with
  // 1009 for the message size, the streaming run goes on, and only what came before the
  // oversized message must agree.
  const WsEvent *last = whole.events.empty() ? nullptr : &whole.events.back();
  if (last && last->type == PUSHWIRE_WS_EV_CLOSE && last->code == 1009 && last->data == "message too big") {
    buffered.pop_back();
    FUZZ_CHECK(streamed.size() >= buffered.size(), "streaming mode gave fewer events before an oversized message");
    streamed.resize(buffered.size());
    check_same("buffered vs streaming messages before an oversized message", buffered, streamed);
    return;
  }
  check_same("buffered vs streaming messages", buffered, streamed);
  FUZZ_CHECK(whole.output == streaming.output, "output differs between buffered and streaming mode");
}

}  // namespace frames_target

}  // namespace fuzz
