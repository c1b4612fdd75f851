// pushwire_ws_next_events against pushwire_ws_next_event: two handles get the same input in
// the same pieces; after every feed one pulls a batch, the other as many single events, and
// the events (bytes, flags, codes), return codes, output (automatic pongs and closes) and
// states must agree step by step. The batch's spans are read only once the call has
// returned, so every one of them must still be valid then. Streams: every frame kind the
// workloads hold (small and 16-bit text and binary, 64-bit lengths, fragments with pings
// inside, empty messages), closes, protocol errors, limits, streaming, the handshake and end
// of input; fed whole, at every split point, byte by byte; every cap from 1 up.
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "harness.hpp"
#include "ws_test_util.hpp"

using namespace wstest;

namespace {

struct Setup {
  pushwire_ws_role role = PUSHWIRE_WS_SERVER;
  bool handshake = false;  // the stream starts with the RFC 6455 sample request (AUTO_ACCEPT)
  bool streaming = false;
  bool eof = false;        // feed_eof after the last piece
  uint64_t max_message = 0, max_frame = 0, max_fragments = 0;
};

std::string describe_full(const pushwire_ws_event &ev) {
  std::string s = std::to_string(ev.type) + "/" + std::to_string(ev.flags) + "/" + std::to_string(ev.code) + " ";
  if (ev.data.len <= 256) {
    s += vectors::escape(ev.data.ptr, ev.data.len);
  } else {  // long payloads by length and FNV-1a hash
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < ev.data.len; ++i) h = (h ^ ev.data.ptr[i]) * 1099511628211ull;
    s += std::to_string(ev.data.len) + " bytes, hash " + std::to_string(h);
  }
  if (ev.reserved0 || ev.reserved[0] || ev.reserved[1]) s += " reserved!";
  return s;
}

struct Side : Conn {
  std::vector<std::vector<uint8_t>> lent;  // in-place pieces, alive until the end
  explicit Side(const Setup &su) : Conn(su.role) {
    random("\x11\x22\x33\x44\x55");  // the same masks on both sides' output
    if (!su.handshake) CHECK_EQ(opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
    if (su.handshake) CHECK_EQ(opt(PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1), 0);
    if (su.streaming) CHECK_EQ(opt(PUSHWIRE_WS_OPT_STREAMING, 1), 0);
    if (su.max_message) CHECK_EQ(opt(PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE, su.max_message), 0);
    if (su.max_frame) CHECK_EQ(opt(PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, su.max_frame), 0);
    if (su.max_fragments) CHECK_EQ(opt(PUSHWIRE_WS_OPT_MAX_FRAGMENTS, su.max_fragments), 0);
  }
  int put(const std::string &piece, bool in_place) {
    if (!in_place) return feed(piece);
    lent.emplace_back(piece.begin(), piece.end());
    return pushwire_ws_feed_mutable(ws, lent.back().data(), lent.back().size());
  }
};

// One batch call on `b` against single calls on `a`: 1 (more may come), 0 (both reported
// no event) or -1 with `why` (they disagree).
int step(Side &a, Side &b, size_t cap, std::string &why) {
  std::vector<pushwire_ws_event> evs(cap + 1);
  evs[cap].type = 0xabcd;  // past the cap: must stay untouched
  size_t n = 12345;
  const int rb = pushwire_ws_next_events(b.ws, evs.data(), cap, &n);
  std::vector<std::string> got, want;
  if (evs[cap].type != 0xabcd) got.push_back("wrote past the cap");
  if (rb == 1 && (n < 1 || n > cap)) got.push_back("n out of range: " + std::to_string(n));
  if (rb != 1 && n != 0) got.push_back("n not 0 with rc " + std::to_string(rb));
  for (size_t i = 0; rb == 1 && i < n && i < cap; ++i) got.push_back(describe_full(evs[i]));
  got.push_back("rc " + std::to_string(rb));
  pushwire_ws_event ev;
  int ra = 1;
  for (size_t i = 0; i < (rb == 1 ? n : 1) && ra == 1; ++i) {
    ra = pushwire_ws_next_event(a.ws, &ev);
    if (ra == 1) want.push_back(describe_full(ev));
  }
  // Single calls that ended early, or a batch that stopped before single calls would.
  want.push_back("rc " + std::to_string(ra));
  got.push_back("out " + b.out());
  want.push_back("out " + a.out());
  got.push_back("state " + std::to_string(pushwire_ws_get_state(b.ws)) + " " +
                std::to_string(pushwire_ws_close_code_hint(b.ws)));
  want.push_back("state " + std::to_string(pushwire_ws_get_state(a.ws)) + " " +
                 std::to_string(pushwire_ws_close_code_hint(a.ws)));
  if (got != want) {
    why = "batch:";
    for (const std::string &g : got) why += "\n    " + g;
    why += "\n  single calls:";
    for (const std::string &w : want) why += "\n    " + w;
    return -1;
  }
  return rb == 1 ? 1 : 0;
}

// Feeds the pieces of `wire` cut at `cuts` to both; after each piece one batch (partial) or
// batches until none is left, then (after feed_eof if asked) batches until none is left.
// False, with a failure naming the case, at the first disagreement.
bool compare(const char *name, const Setup &su, const std::string &wire, const std::vector<size_t> &cuts,
             size_t cap, bool in_place, bool partial) {
  Side a(su), b(su);
  std::string why;
  size_t from = 0;
  int r = 1;
  for (size_t i = 0; i <= cuts.size() && r >= 0; ++i) {
    const size_t to = i < cuts.size() ? cuts[i] : wire.size();
    const std::string piece = wire.substr(from, to - from);
    from = to;
    const int fa = a.put(piece, in_place), fb = b.put(piece, in_place);
    if (fa != fb) {
      why = "feed returned " + std::to_string(fb) + ", not " + std::to_string(fa);
      r = -1;
      break;
    }
    do r = step(a, b, cap, why);
    while (!partial && r == 1);
  }
  if (r >= 0 && su.eof && pushwire_ws_feed_eof(a.ws) != pushwire_ws_feed_eof(b.ws)) {
    why = "feed_eof differs";
    r = -1;
  }
  while (r == 1) r = step(a, b, cap, why);
  if (r < 0) {
    std::string at = cuts.size() == 1 ? " cut at " + std::to_string(cuts[0]) : cuts.empty() ? " whole" : " byte by byte";
    harness::fail(__FILE__, __LINE__,
                  std::string(name) + at + ", cap " + std::to_string(cap) + (in_place ? ", in place" : "") +
                      (partial ? ", one batch per feed" : "") + ": " + why);
    return false;
  }
  return true;
}

std::string key_of(size_t i) {
  std::string k(4, '\0');
  for (size_t j = 0; j < 4; ++j) k[j] = char((i * 89 + j * 53 + 0x3c) & 0xff);
  return k;
}

// Frames in the setup's direction (masked towards a server), a new key each.
struct Wire {
  pushwire_ws_role role;
  std::string s;
  size_t n = 0;
  Wire &f(uint8_t b0, const std::string &payload) {
    if (role == PUSHWIRE_WS_CLIENT) {
      s += frame(b0, payload);
    } else {
      const std::string k = key_of(n++);
      s += masked_frame(b0, payload, k.c_str());
    }
    return *this;
  }
  Wire &raw(const std::string &b) {
    s += b;
    return *this;
  }
};

std::string text16(size_t i) {
  std::string t = "message #" + std::to_string(i) + "-------";
  return t.substr(0, 16);
}

struct Stream {
  const char *name;
  Setup su;
  std::string wire;
  bool long_one;  // too long for every split point: strided splits
};

std::vector<Stream> streams() {
  std::vector<Stream> v;
  for (pushwire_ws_role role : {PUSHWIRE_WS_SERVER, PUSHWIRE_WS_CLIENT}) {
    const bool server = role == PUSHWIRE_WS_SERVER;
    Setup su;
    su.role = role;
    {  // W1: small text; W2/W3-ish: binary; empty ones; multi-byte text
      Wire w{role, ""};
      for (size_t i = 0; i < 12; ++i) w.f(0x81, text16(i));
      w.f(0x81, "").f(0x82, "").f(0x82, std::string("\x00\xff\x80", 3)).f(0x81, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac");
      w.f(0x82, std::string(300, '\x9c')).f(0x81, std::string(126, 'a')).f(0x81, "\xf0\x9f\x98\x80");
      v.push_back({"small and 16-bit frames", su, w.s, false});
    }
    {  // W6: fragments with pings inside, pongs, a control frame between fragments
      Wire w{role, ""};
      w.f(0x01, "frag").f(0x89, "ping1").f(0x00, "ment\xc3").f(0x8a, "pong").f(0x80, "\xa9!");
      w.f(0x02, "ab").f(0x00, "").f(0x89, "").f(0x80, "cd").f(0x81, "after");
      v.push_back({"fragments with pings", su, w.s, false});
      Setup st = su;
      st.streaming = true;
      v.push_back({"fragments streaming", st, w.s, false});
    }
    {  // a close, then frames that are ignored
      Wire w{role, ""};
      w.f(0x81, "one").f(0x89, "p").f(0x88, std::string("\x03\xe8" "bye", 5)).f(0x81, "ignored");
      v.push_back({"close 1000", su, w.s, false});
      Wire e{role, ""};
      e.f(0x82, "x").f(0x88, "");
      v.push_back({"close without code", su, e.s, false});
    }
    {  // protocol errors after valid frames
      const std::vector<std::pair<const char *, std::string>> bad = {
          {"rsv bit", Wire{role, ""}.f(0xc1, "x").s},
          {"reserved opcode", Wire{role, ""}.f(0x83, "x").s},
          {"invalid utf-8", Wire{role, ""}.f(0x81, "ab\xc3(cd").s},
          {"invalid utf-8 across fragments", Wire{role, ""}.f(0x01, "ab\xe2\x82").f(0x80, "(").s},
          {"truncated utf-8 at fin", Wire{role, ""}.f(0x01, "ab").f(0x80, "\xe2\x82").s},
          {"bad close code", Wire{role, ""}.f(0x88, std::string("\x03\xed", 2)).s},
          {"close of one byte", Wire{role, ""}.f(0x88, "\x03").s},
          {"fragmented ping", Wire{role, ""}.f(0x09, "x").s},
          {"continuation first", Wire{role, ""}.f(0x80, "x").s},
          {"new message inside one", Wire{role, ""}.f(0x01, "x").f(0x81, "y").s},
          {"wrong masking", server ? frame(0x81, "unmasked") : masked_frame(0x81, "masked")},
      };
      for (const auto &b : bad) {
        Wire w{role, ""};
        w.f(0x81, text16(1)).f(0x89, "pi").f(0x82, "bin").raw(b.second).f(0x81, "never");
        v.push_back({b.first, su, w.s, false});
      }
    }
    {  // limits
      Wire w{role, ""};
      w.f(0x81, text16(2)).f(0x82, std::string(40, 'b')).f(0x82, std::string(41, 'c')).f(0x81, "x");
      Setup lm = su;
      lm.max_message = 40;
      v.push_back({"max message", lm, w.s, false});
      Setup lf = su;
      lf.max_frame = 40;
      v.push_back({"max frame", lf, w.s, false});
      Wire g{role, ""};
      g.f(0x81, "ok").f(0x01, "a").f(0x00, "b").f(0x80, "c").f(0x81, "x");
      Setup lg = su;
      lg.max_fragments = 2;
      v.push_back({"max fragments", lg, g.s, false});
    }
    {  // end of input in the middle of a frame
      Wire w{role, ""};
      w.f(0x81, "first").f(0x89, "p");
      std::string cut = Wire{role, ""}.f(0x81, "second, cut").s;
      w.raw(cut.substr(0, cut.size() - 3));
      Setup e = su;
      e.eof = true;
      v.push_back({"eof", e, w.s, false});
    }
    {  // large messages: 64-bit lengths, the arena and spare areas
      Wire w{role, ""};
      w.f(0x81, text16(3)).f(0x82, std::string(70000, '\x5a')).f(0x81, std::string(5000, 'T'));
      w.f(0x89, "mid").f(0x82, std::string(66000, '\x01')).f(0x81, text16(4));
      v.push_back({"large", su, w.s, true});
    }
  }
  {  // the handshake, then frames in the same read
    Setup hs;
    hs.handshake = true;
    Wire w{PUSHWIRE_WS_SERVER, ""};
    w.f(0x81, text16(5)).f(0x89, "p").f(0x82, "b");
    std::string req =
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    v.push_back({"handshake", hs, req + w.s, false});
    Setup bad = hs;
    v.push_back({"rejected handshake", bad, "GET /chat HTTP/1.1\r\nHost: x\r\n\r\n" + w.s, false});
  }
  return v;
}

// Events of a whole-read drain, to choose the caps (every one up to all of them).
size_t event_count(const Setup &su, const std::string &wire) {
  Side a(su);
  a.feed(wire);
  if (su.eof) pushwire_ws_feed_eof(a.ws);
  return a.events().size();
}

}  // namespace

TEST(ws_next_events_every_cap_whole_and_byte_by_byte) {
  for (const Stream &st : streams()) {
    const size_t total = event_count(st.su, st.wire);
    std::vector<size_t> bytes;
    if (!st.long_one)
      for (size_t i = 1; i < st.wire.size(); ++i) bytes.push_back(i);
    bool ok = true;
    for (size_t cap = 1; ok && cap <= total + 1; ++cap)
      for (bool in_place : {false, true})
        for (bool partial : {false, true}) {
          ok = ok && compare(st.name, st.su, st.wire, {}, cap, in_place, partial);
          if (!st.long_one) ok = ok && compare(st.name, st.su, st.wire, bytes, cap, in_place, partial);
        }
  }
}

TEST(ws_next_events_every_split_point) {
  for (const Stream &st : streams()) {
    const size_t stride = st.long_one ? 1999 : 1;
    bool ok = true;
    for (size_t cut = 0; ok && cut <= st.wire.size(); cut += stride)
      for (size_t cap : {size_t(1), size_t(2), size_t(3), size_t(64)})
        for (bool partial : {false, true}) ok = ok && compare(st.name, st.su, st.wire, {cut}, cap, cap == 2, partial);
  }
}

// Many small messages: a batch ends at the cap, at the end of the queue, and where parsing
// paused (4096 queued events) with the rest of the read held; the held rest is parsed by the
// next call, never inside a batch that already handed out events.
TEST(ws_next_events_past_the_queue_limit) {
  Setup su;
  Wire w{PUSHWIRE_WS_SERVER, ""};
  for (size_t i = 0; i < 5000; ++i) w.f(i % 7 == 3 ? 0x82 : 0x81, text16(i));
  for (size_t cap : {size_t(1), size_t(64), size_t(4095), size_t(4096), size_t(5000)})
    for (bool partial : {false, true}) compare("5000 messages", su, w.s, {}, cap, false, partial);
  // The first batch stops at the queue limit: the rest was held.
  Side b(su);
  CHECK_EQ(b.feed(w.s), 0);
  std::vector<pushwire_ws_event> evs(6000);
  size_t n = 0;
  CHECK_EQ(pushwire_ws_next_events(b.ws, evs.data(), evs.size(), &n), 1);
  CHECK_EQ(n, size_t(4096));
  const std::string last = text16(4095), first = text16(0), next = text16(4096);
  CHECK_STR(evs[4095].data.ptr, evs[4095].data.len, last.c_str());
  CHECK_STR(evs[0].data.ptr, evs[0].data.len, first.c_str());  // still valid
  CHECK_EQ(pushwire_ws_next_events(b.ws, evs.data(), evs.size(), &n), 1);
  CHECK_EQ(n, size_t(5000 - 4096));
  CHECK_STR(evs[0].data.ptr, evs[0].data.len, next.c_str());
  CHECK_EQ(pushwire_ws_next_events(b.ws, evs.data(), evs.size(), &n), 0);
}

// The failure: its CLOSE event ends a batch only by being last; the sticky error comes with
// the next call, and stays.
TEST(ws_next_events_failure_and_sticky_error) {
  Setup su;
  Wire w{PUSHWIRE_WS_SERVER, ""};
  w.f(0x81, "a").f(0x81, "b\xff").f(0x81, "c");
  Side b(su);
  CHECK_EQ(b.feed(w.s), 0);
  pushwire_ws_event evs[8];
  size_t n = 0;
  CHECK_EQ(pushwire_ws_next_events(b.ws, evs, 8, &n), 1);
  CHECK_EQ(n, size_t(2));
  CHECK_EQ(evs[1].type, unsigned(PUSHWIRE_WS_EV_CLOSE));
  CHECK_EQ(evs[1].flags, unsigned(PUSHWIRE_WS_EVF_FAILED));
  CHECK_EQ(evs[1].code, 1007u);
  CHECK_STR(evs[1].data.ptr, evs[1].data.len, "invalid UTF-8 in text message");
  CHECK(b.out() == bytes("88 1f 03 ef") + "invalid UTF-8 in text message");
  CHECK_EQ(pushwire_ws_next_events(b.ws, evs, 8, &n), PUSHWIRE_ERR_BAD_UTF8);
  CHECK_EQ(n, size_t(0));
  CHECK_EQ(pushwire_ws_next_events(b.ws, evs, 8, &n), PUSHWIRE_ERR_BAD_UTF8);
  CHECK_EQ(pushwire_ws_feed(b.ws, reinterpret_cast<const uint8_t *>("x"), 1), PUSHWIRE_ERR_BAD_UTF8);
}

// Out of memory while the automatic close is written, inside a batch: the events before it
// are returned, the fatal error by the next call (and every later one), as with single calls.
TEST(ws_next_events_fatal_error_inside_a_batch) {
  for (bool batch : {false, true}) {
    AllocCounter ac;
    pushwire_ws *ws = nullptr;
    CHECK_EQ(pushwire_ws_new(&ws, PUSHWIRE_WS_SERVER, &ac.api), 0);
    CHECK_EQ(pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
    Wire w{PUSHWIRE_WS_SERVER, ""};
    w.f(0x81, "a").f(0x82, "b").f(0x88, std::string("\x03\xe8", 2));
    CHECK_EQ(pushwire_ws_feed(ws, reinterpret_cast<const uint8_t *>(w.s.data()), w.s.size()), 0);
    ac.fail_at = ac.allocs + 1;  // the output buffer for the close
    pushwire_ws_event evs[8];
    size_t n = 0;
    if (batch) {
      CHECK_EQ(pushwire_ws_next_events(ws, evs, 8, &n), 1);
      CHECK_EQ(n, size_t(2));
      CHECK_STR(evs[1].data.ptr, evs[1].data.len, "b");
      CHECK_EQ(pushwire_ws_next_events(ws, evs, 8, &n), PUSHWIRE_ERR_NOMEM);
      CHECK_EQ(n, size_t(0));
      CHECK_EQ(pushwire_ws_next_events(ws, evs, 8, &n), PUSHWIRE_ERR_NOMEM);
    } else {
      CHECK_EQ(pushwire_ws_next_event(ws, evs), 1);
      CHECK_EQ(pushwire_ws_next_event(ws, evs), 1);
      CHECK_STR(evs[0].data.ptr, evs[0].data.len, "b");
      CHECK_EQ(pushwire_ws_next_event(ws, evs), PUSHWIRE_ERR_NOMEM);
      CHECK_EQ(pushwire_ws_next_event(ws, evs), PUSHWIRE_ERR_NOMEM);
    }
    pushwire_ws_free(ws);
    CHECK_EQ(ac.live, size_t(0));
  }
}
