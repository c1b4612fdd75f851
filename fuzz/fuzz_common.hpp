// Shared pieces of the fuzz targets: an input reader that consumes from the front (so
// seeds can be written by hand), the return-code oracle, a counting allocator that can
// fail on demand, and a reference UTF-8 decoder. Every violation ends in abort().
//
// Each target is one translation unit (this header is included once per binary), built
// either with libFuzzer or with driver_main.cpp for corpus replay under g++.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "pushwire/pushwire.h"
#include "reference.hpp"

namespace fuzz {

[[noreturn]] inline void fail(const char *fmt, ...) {
  std::va_list ap;
  va_start(ap, fmt);
  std::fputs("fuzz oracle violated: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::abort();
}

#define FUZZ_CHECK(cond, ...)                                                      \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ::fuzz::fail(__VA_ARGS__);                                                   \
    }                                                                              \
  } while (0)

// The documented return codes of each call (pushwire.h), as lists for check_rc.
#define PW(x) PUSHWIRE_ERR_##x
#define CODES_NEW 0, PW(INVALID_ARGUMENT), PW(NOMEM)
#define CODES_SET_OPTION 0, PW(INVALID_ARGUMENT), PW(UNSUPPORTED), PW(INVALID_STATE)
#define CODES_WS_SET_OPTION CODES_SET_OPTION, CODES_FATAL
#define CODES_HTTP_FEED 0, 1, PW(BAD_HTTP), PW(HEAD_TOO_LARGE), PW(INVALID_ARGUMENT), PW(NOMEM)
#define CODES_WS_CONFIG 0, PW(INVALID_ARGUMENT), PW(INVALID_STATE), PW(NOMEM)
#define CODES_WS_START 0, PW(INVALID_ARGUMENT), PW(INVALID_STATE), PW(INTERNAL), PW(NOMEM)
#define CODES_WS_SEND 0, PW(INVALID_STATE), PW(CLOSED), PW(INVALID_ARGUMENT), PW(BUFFER_FULL), PW(INTERNAL), PW(NOMEM)
#define CODES_WS_CLOSE 0, PW(INVALID_ARGUMENT), PW(INVALID_STATE), PW(CLOSED), PW(BUFFER_FULL), PW(INTERNAL), PW(NOMEM)
#define CODES_WS_FRAME_HEADER 0, PW(INVALID_ARGUMENT), PW(INVALID_STATE), PW(CLOSED), PW(NOMEM), PW(INTERNAL)
// "the fatal error" in pushwire.h: the NOMEM or INTERNAL a handle failed with.
#define CODES_FATAL PW(NOMEM), PW(INTERNAL)
#define CODES_SSE_ENCODE 0, PW(BUFFER_TOO_SMALL), PW(INVALID_ARGUMENT)
#define CODES_SSE_WRITER_EVENT 0, PW(INVALID_ARGUMENT), PW(BUFFER_FULL), PW(NOMEM)
#define CODES_SSE_PARSER_FEED \
  0, PW(BUFFER_FULL), PW(INVALID_ARGUMENT), PW(INVALID_STATE), PW(NOMEM), PW(LINE_TOO_LONG), PW(EVENT_TOO_BIG)

// FUZZ_TRACE=1 in the environment prints every checked call and event (for reproducers).
inline bool tracing() {
  static const bool on = std::getenv("FUZZ_TRACE") != nullptr;
  return on;
}

inline bool documented(int rc) { return rc >= 0 || std::strcmp(pushwire_error_name(rc), "UNKNOWN") != 0; }

// rc must be a documented code and one of `allowed` for this call.
inline int check_rc(const char *call, int rc, std::initializer_list<int> allowed) {
  if (tracing()) std::fprintf(stderr, "  %s -> %d %s\n", call, rc, rc < 0 ? pushwire_error_name(rc) : "");
  if (!documented(rc)) fail("%s returned %d, which is not in PUSHWIRE_ERROR_LIST", call, rc);
  for (int a : allowed)
    if (a == rc) return rc;
  fail("%s returned %d (%s), which its documentation does not list", call, rc, pushwire_error_name(rc));
}

// Reads the fuzz input from the front; past the end every read yields zeros / nothing.
class Input {
 public:
  Input(const uint8_t *p, size_t n) : p_(p), n_(n) {}
  size_t left() const { return n_; }
  bool empty() const { return n_ == 0; }
  uint8_t u8() {
    if (!n_) return 0;
    --n_;
    return *p_++;
  }
  uint16_t u16() { return uint16_t(u8() | (u8() << 8)); }
  uint32_t u32() { return uint32_t(u16()) | (uint32_t(u16()) << 16); }
  uint64_t u64() { return uint64_t(u32()) | (uint64_t(u32()) << 32); }
  bool flag() { return u8() & 1; }
  std::string bytes(size_t n) {
    if (n > n_) n = n_;
    std::string s(reinterpret_cast<const char *>(p_), n);
    p_ += n;
    n_ -= n;
    return s;
  }
  // One length byte, then that many bytes.
  std::string blob() { return bytes(u8()); }
  std::string rest() { return bytes(n_); }

 private:
  const uint8_t *p_;
  size_t n_;
};

// An allocator that counts live blocks and bytes, and can fail the Nth allocation.
// Handles must give back everything they took when freed.
struct CountingAlloc {
  pushwire_allocator iface;
  size_t live_blocks = 0;
  size_t live_bytes = 0;
  size_t peak_bytes = 0;
  size_t calls = 0;
  size_t fail_at = 0;  // 0: never fail; N: the Nth and later allocations fail

  CountingAlloc() { iface = pushwire_allocator{this, &do_malloc, &do_realloc, &do_free}; }
  CountingAlloc(const CountingAlloc &) = delete;
  ~CountingAlloc() { FUZZ_CHECK(live_blocks == 0, "leak: %zu blocks, %zu bytes still allocated", live_blocks, live_bytes); }
  const pushwire_allocator *get() { return &iface; }

 private:
  static constexpr size_t kHdr = 16;  // keeps the caller's block 16-aligned
  bool should_fail() {
    ++calls;
    return fail_at != 0 && calls >= fail_at;
  }
  void *take(void *raw, size_t n) {
    *static_cast<size_t *>(raw) = n;
    ++live_blocks;
    live_bytes += n;
    if (live_bytes > peak_bytes) peak_bytes = live_bytes;
    return static_cast<char *>(raw) + kHdr;
  }
  static size_t size_of(void *p) { return *reinterpret_cast<size_t *>(static_cast<char *>(p) - kHdr); }
  static void *do_malloc(void *user, size_t n) {
    CountingAlloc *a = static_cast<CountingAlloc *>(user);
    if (a->should_fail()) return nullptr;
    void *raw = std::malloc(n + kHdr);
    return raw ? a->take(raw, n) : nullptr;
  }
  static void *do_realloc(void *user, void *p, size_t n) {
    CountingAlloc *a = static_cast<CountingAlloc *>(user);
    if (!p) return do_malloc(user, n);
    if (a->should_fail()) return nullptr;
    size_t old = size_of(p);
    void *raw = std::realloc(static_cast<char *>(p) - kHdr, n + kHdr);
    if (!raw) return nullptr;
    --a->live_blocks;
    a->live_bytes -= old;
    return a->take(raw, n);
  }
  static void do_free(void *user, void *p) {
    if (!p) return;
    CountingAlloc *a = static_cast<CountingAlloc *>(user);
    FUZZ_CHECK(a->live_blocks > 0, "free of a block this allocator does not hold");
    --a->live_blocks;
    a->live_bytes -= size_of(p);
    std::free(static_cast<char *>(p) - kHdr);
  }
};

// A span handed out by pushwire: non-NULL when non-empty, and every byte readable
// (copying it lets ASan/valgrind check that).
// Memory must stay proportionate to the input: a small fixed allowance plus a constant
// factor of what was fed (never, say, a configured maximum reserved up front).
inline void check_memory(const CountingAlloc &a, size_t input_bytes, const char *what) {
  size_t bound = (size_t(256) << 10) + 16 * input_bytes;
  FUZZ_CHECK(a.peak_bytes <= bound, "%s: peak of %zu bytes allocated for %zu input bytes", what, a.peak_bytes,
             input_bytes);
}

inline std::string span_str(const pushwire_span &s, const char *what) {
  FUZZ_CHECK(s.len == 0 || s.ptr != nullptr, "%s: span of %zu bytes with a NULL pointer", what, s.len);
  return s.len ? std::string(reinterpret_cast<const char *>(s.ptr), s.len) : std::string();
}

// The canonical quoted form used in transcripts and failure messages.
inline std::string quote(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

inline void check_same(const char *what, const std::vector<std::string> &a, const std::vector<std::string> &b) {
  if (a == b) return;
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  fail("%s: transcripts differ at event %zu:\n  %s\n  %s", what, i, i < a.size() ? a[i].c_str() : "(end)",
       i < b.size() ? b[i].c_str() : "(end)");
}

// Deterministic chunk sizes derived from the input itself, so targets whose input is
// "arbitrary bytes" still get varied splits: sizes 1..max, mixed with a few large ones.
class Chunker {
 public:
  Chunker(const uint8_t *data, size_t n, size_t max) : max_(max ? max : 1) {
    state_ = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t i = 0; i < n && i < 16; ++i) state_ = state_ * 0x100000001b3ull ^ data[i];
  }
  size_t next() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t r = uint32_t(state_ >> 33);
    return (r & 7) == 0 ? 64 + r % 512 : 1 + r % max_;
  }

 private:
  uint64_t state_;
  size_t max_;
};

}  // namespace fuzz
