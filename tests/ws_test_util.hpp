// Helpers for the WebSocket tests: a handle wrapper over the C ABI that drains output and
// events into comparable strings, and deterministic random sources.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"
#include "pushwire/pushwire.h"
#include "vector_file.hpp"

namespace wstest {

// Cycles through `bytes` across calls (a deterministic random source).
struct CyclicRandom {
  std::string bytes;
  size_t pos = 0;
  static int fill(void *user, uint8_t *buf, size_t len) {
    CyclicRandom *r = static_cast<CyclicRandom *>(user);
    for (size_t i = 0; i < len; ++i) {
      buf[i] = uint8_t(r->bytes[r->pos]);
      r->pos = (r->pos + 1) % r->bytes.size();
    }
    return 0;
  }
};

// One event as a transcript line (tests/vectors/README.md): `text "Hello"`,
// `close 1000 "bye"`, `close 1002 failed`, `rejected 400 failed`, `request "/chat"`.
inline std::string describe(const pushwire_ws_event &ev, bool with_reason = false) {
  static const char *const names[] = {"?", "request", "accepted", "rejected", "text", "binary", "ping", "pong", "close"};
  std::string s = ev.type <= 8 ? names[ev.type] : "unknown";
  const bool failed = (ev.flags & PUSHWIRE_WS_EVF_FAILED) != 0;
  if (ev.type == PUSHWIRE_WS_EV_CLOSE || ev.type == PUSHWIRE_WS_EV_REJECTED) s += " " + std::to_string(ev.code);
  if (failed) s += " failed";
  if (!failed || with_reason) s += " " + vectors::escape(ev.data.ptr, ev.data.len);
  return s;
}

struct Conn {
  pushwire_ws *ws = nullptr;
  CyclicRandom rnd;
  int last_error = 0;  // what next_event returned after the last event

  explicit Conn(pushwire_ws_role role, const pushwire_allocator *alloc = nullptr) {
    int rc = pushwire_ws_new(&ws, role, alloc);
    if (rc != 0) harness::fail(__FILE__, __LINE__, "pushwire_ws_new failed");
  }
  ~Conn() { pushwire_ws_free(ws); }
  Conn(const Conn &) = delete;
  Conn &operator=(const Conn &) = delete;

  int opt(pushwire_ws_option o, uint64_t v) { return pushwire_ws_set_option(ws, o, v); }
  void random(const std::string &bytes) {
    rnd.bytes = bytes;
    rnd.pos = 0;
    pushwire_ws_set_random(ws, CyclicRandom::fill, &rnd);
  }
  int feed(const std::string &b) { return pushwire_ws_feed(ws, reinterpret_cast<const uint8_t *>(b.data()), b.size()); }
  int feed(const std::vector<uint8_t> &b) { return pushwire_ws_feed(ws, b.data(), b.size()); }
  // Everything queued for output, consumed.
  std::string out() {
    pushwire_span s;
    size_t n = pushwire_ws_peek_output(ws, &s);
    std::string r(reinterpret_cast<const char *>(s.ptr), n);
    pushwire_ws_consume_output(ws, n);
    return r;
  }
  // Events until next_event returns 0 or an error (kept in last_error).
  std::vector<std::string> events(bool with_reason = false) {
    std::vector<std::string> v;
    pushwire_ws_event ev;
    int rc;
    while ((rc = pushwire_ws_next_event(ws, &ev)) == 1) v.push_back(describe(ev, with_reason));
    last_error = rc;
    return v;
  }
  std::string event_line(bool with_reason = false) {
    std::string s;
    for (const std::string &e : events(with_reason)) s += (s.empty() ? "" : " | ") + e;
    return s;
  }
};

inline std::string bytes(const char *hex) {
  std::vector<uint8_t> v = harness::from_hex(hex);
  return std::string(v.begin(), v.end());
}

// A client-to-server frame masked with `key` (4 bytes).
inline std::string masked_frame(uint8_t b0, const std::string &payload, const char *key = "\x37\xfa\x21\x3d") {
  std::string f(1, char(b0));
  size_t n = payload.size();
  if (n < 126) {
    f += char(0x80 | n);
  } else if (n < 65536) {
    f += char(0x80 | 126);
    f += char(n >> 8);
    f += char(n & 0xff);
  } else {
    f += char(0x80 | 127);
    for (int i = 7; i >= 0; --i) f += char((uint64_t(n) >> (8 * i)) & 0xff);
  }
  f.append(key, 4);
  for (size_t i = 0; i < n; ++i) f += char(payload[i] ^ key[i % 4]);
  return f;
}

// A server-to-client (unmasked) frame.
inline std::string frame(uint8_t b0, const std::string &payload) {
  std::string f(1, char(b0));
  size_t n = payload.size();
  if (n < 126) {
    f += char(n);
  } else if (n < 65536) {
    f += char(126);
    f += char(n >> 8);
    f += char(n & 0xff);
  } else {
    f += char(127);
    for (int i = 7; i >= 0; --i) f += char((uint64_t(n) >> (8 * i)) & 0xff);
  }
  return f + payload;
}

// Bytes from a linear congruential generator: every byte value, no pattern of period 4 or 64.
inline std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    v[i] = uint8_t(seed >> 24);
  }
  return v;
}

}  // namespace wstest
