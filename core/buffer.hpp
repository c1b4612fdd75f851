// Growable byte storage from the handle allocator. Doubles as an output queue: bytes
// are appended at the end and consumed from the front (peek/consume), so a partial
// write only advances the read position.
#pragma once

#include <cstring>

#include "alloc.hpp"

namespace pushwire {

// memcpy for the short strings of SSE fields, header values and control frames: below 64
// bytes a call into libc costs more than the copy itself, which this does with a few
// overlapping fixed-size moves. Longer copies go to memcpy.
PUSHWIRE_INLINE void copy_bytes(uint8_t *dst, const void *from, size_t n) {
  const uint8_t *src = static_cast<const uint8_t *>(from);
  if (n > 64) {
    std::memcpy(dst, src, n);
  } else if (n >= 16) {
    uint64_t a, b;
    for (size_t i = 0; i + 16 <= n; i += 16) {
      std::memcpy(&a, src + i, 8);
      std::memcpy(&b, src + i + 8, 8);
      std::memcpy(dst + i, &a, 8);
      std::memcpy(dst + i + 8, &b, 8);
    }
    std::memcpy(&a, src + n - 16, 8);
    std::memcpy(&b, src + n - 8, 8);
    std::memcpy(dst + n - 16, &a, 8);
    std::memcpy(dst + n - 8, &b, 8);
  } else if (n >= 8) {
    uint64_t a, b;
    std::memcpy(&a, src, 8);
    std::memcpy(&b, src + n - 8, 8);
    std::memcpy(dst, &a, 8);
    std::memcpy(dst + n - 8, &b, 8);
  } else if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, src, 4);
    std::memcpy(&b, src + n - 4, 4);
    std::memcpy(dst, &a, 4);
    std::memcpy(dst + n - 4, &b, 4);
  } else if (n) {
    const uint8_t first = src[0], middle = src[n / 2], last = src[n - 1];
    dst[0] = first;
    dst[n / 2] = middle;
    dst[n - 1] = last;
  }
}

class Buffer {
 public:
  explicit Buffer(const Allocator *alloc) : alloc_(alloc) {}
  ~Buffer() { alloc_->release(ptr_); }
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;

  uint8_t *data() { return ptr_ + head_; }
  const uint8_t *data() const { return ptr_ + head_; }
  size_t size() const { return len_ - head_; }
  bool empty() const { return len_ == head_; }
  size_t capacity() const { return cap_; }
  // Bytes that can be added at the end without growing.
  size_t room() const { return cap_ - len_; }
  span view() const { return span{ptr_ + head_, len_ - head_}; }

  // Make room for `extra` more bytes after the end. 0 or ERR_NOMEM.
  int reserve_extra(size_t extra);
  // Append n bytes. 0 or ERR_NOMEM (the buffer is then unchanged).
  int append(const void *p, size_t n) {
    if (PUSHWIRE_UNLIKELY(cap_ - len_ < n)) {
      int rc = reserve_extra(n);
      if (rc) return rc;
    }
    if (n) std::memcpy(ptr_ + len_, p, n);
    len_ += n;
    return 0;
  }
  int append(span s) { return append(s.ptr, s.len); }
  int append_str(const char *s) { return append(s, std::strlen(s)); }
  // n writable bytes at the end, already counted in size(); nullptr on ERR_NOMEM.
  uint8_t *extend(size_t n) {
    if (PUSHWIRE_UNLIKELY(cap_ - len_ < n) && reserve_extra(n)) return nullptr;
    uint8_t *p = ptr_ + len_;
    len_ += n;
    return p;
  }
  // Drop the last n bytes (undo of extend).
  void shrink_by(size_t n) { len_ -= n; }

  // Drop n bytes from the front; n <= size().
  void consume(size_t n) {
    head_ += n;
    if (head_ == len_) head_ = len_ = 0;
  }
  // Move unread bytes to the front so the space before them can be reused.
  void compact();
  void clear() { head_ = len_ = 0; }
  // Return the memory to the allocator (an idle connection should hold none).
  void release();
  // Exchange contents and memory with another buffer of the same allocator.
  void swap(Buffer &o) {
    Buffer t(alloc_);
    t.take(*this);
    take(o);
    o.take(t);
  }

 private:
  void take(Buffer &o) {
    ptr_ = o.ptr_;
    len_ = o.len_;
    cap_ = o.cap_;
    head_ = o.head_;
    o.ptr_ = nullptr;
    o.len_ = o.cap_ = o.head_ = 0;
  }

  const Allocator *alloc_;
  uint8_t *ptr_ = nullptr;
  size_t len_ = 0;
  size_t cap_ = 0;
  size_t head_ = 0;
};

// A small list of byte strings (origins, subprotocols), stored back to back as
// [uint32 length][bytes] in one Buffer.
class StringList {
 public:
  explicit StringList(const Allocator *alloc) : buf_(alloc) {}
  int add(span s);
  size_t count() const { return count_; }
  // Iteration: `pos` starts at 0; returns false at the end.
  bool next(size_t *pos, span *out) const;
  bool contains(span s) const;             // exact match
  bool contains_ci(span s) const;          // ASCII case-insensitive match
  void release() { buf_.release(); count_ = 0; }

 private:
  Buffer buf_;
  size_t count_ = 0;
};

// ASCII helpers for HTTP, shared by the head parser, the handshake and SSE.
inline uint8_t ascii_lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? uint8_t(c + 32) : c; }
bool equals_ci_bytes(const uint8_t *a, const uint8_t *b, size_t n);
// Inline so that the common mismatch, a different length, costs no call.
inline bool equals_ci(span a, span b) { return a.len == b.len && equals_ci_bytes(a.ptr, b.ptr, a.len); }
bool equals_ci(span a, const char *lit);
// RFC 9110 tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
// "`" / "|" / "~" / DIGIT / ALPHA. Written as a 256-bit set, looked up as a byte table:
// the head parser asks once per byte of every field name, and one load beats the
// shift-and-mask of the set.
inline constexpr uint64_t kTokenCharSet[4] = {0x03ff6cfa00000000ull, 0x57ffffffc7fffffeull, 0, 0};
struct TokenTable {
  uint8_t is_token[256];
  constexpr TokenTable() : is_token() {
    for (int c = 0; c < 256; ++c) is_token[c] = uint8_t((kTokenCharSet[c >> 6] >> (c & 63)) & 1);
  }
};
inline constexpr TokenTable kTokenTable{};
inline bool is_token_char(uint8_t c) { return kTokenTable.is_token[c] != 0; }
bool is_token(span s);
// Strip SP and HTAB from both ends.
span trim_ows(span s);

}  // namespace pushwire
