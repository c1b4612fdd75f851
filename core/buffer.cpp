#include "buffer.hpp"

namespace pushwire {

int Buffer::reserve_extra(size_t extra) {
  if (head_ > 0 && head_ >= cap_ / 2) compact();
  if (cap_ - len_ >= extra) return 0;
  if (extra > SIZE_MAX / 2 - len_) return ERR_NOMEM;
  size_t want = len_ + extra;
  size_t cap = cap_ ? cap_ : 64;
  while (cap < want) cap *= 2;
  void *p = alloc_->resize(ptr_, cap);
  if (!p) return ERR_NOMEM;
  ptr_ = static_cast<uint8_t *>(p);
  cap_ = cap;
  return 0;
}

void Buffer::compact() {
  if (head_ == 0) return;
  size_t n = len_ - head_;
  if (n) std::memmove(ptr_, ptr_ + head_, n);
  head_ = 0;
  len_ = n;
}

void Buffer::release() {
  alloc_->release(ptr_);
  ptr_ = nullptr;
  len_ = cap_ = head_ = 0;
}

int StringList::add(span s) {
  if (s.len > UINT32_MAX) return ERR_INVALID_ARGUMENT;
  uint32_t n = static_cast<uint32_t>(s.len);
  int rc = buf_.reserve_extra(sizeof n + s.len);
  if (rc) return rc;
  buf_.append(&n, sizeof n);
  buf_.append(s);
  ++count_;
  return 0;
}

bool StringList::next(size_t *pos, span *out) const {
  span all = buf_.view();
  if (*pos >= all.len) return false;
  uint32_t n;
  std::memcpy(&n, all.ptr + *pos, sizeof n);
  *out = span{all.ptr + *pos + sizeof n, n};
  *pos += sizeof n + n;
  return true;
}

bool StringList::contains(span s) const {
  size_t pos = 0;
  span e;
  while (next(&pos, &e))
    if (e.len == s.len && (s.len == 0 || std::memcmp(e.ptr, s.ptr, s.len) == 0)) return true;
  return false;
}

bool StringList::contains_ci(span s) const {
  size_t pos = 0;
  span e;
  while (next(&pos, &e))
    if (equals_ci(e, s)) return true;
  return false;
}

namespace {

// ascii_lower on eight bytes at once. Each byte's sums stay below 0x100 (its low seven
// bits plus at most 0x3f), so no carry crosses into the next byte.
inline uint64_t ascii_lower8(uint64_t x) {
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7full, kHigh = 0x8080808080808080ull;
  const uint64_t h = x & kLow7;
  const uint64_t at_least_a = h + 0x3f3f3f3f3f3f3f3full;  // high bit: h >= 'A'
  const uint64_t past_z = h + 0x2525252525252525ull;      // high bit: h > 'Z'
  const uint64_t upper = at_least_a & ~past_z & ~x & kHigh;
  return x | (upper >> 2);
}

inline uint64_t load8(const uint8_t *p) {
  uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}

}  // namespace

bool equals_ci_bytes(const uint8_t *a, const uint8_t *b, size_t n) {
  if (n >= 8) {
    // Whole words, then the last eight bytes (overlapping what was compared already).
    for (size_t i = 0; i + 8 <= n; i += 8)
      if (ascii_lower8(load8(a + i)) != ascii_lower8(load8(b + i))) return false;
    return ascii_lower8(load8(a + n - 8)) == ascii_lower8(load8(b + n - 8));
  }
  for (size_t i = 0; i < n; ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

bool equals_ci(span a, const char *lit) { return equals_ci(a, make_span(lit, std::strlen(lit))); }

bool is_token(span s) {
  if (s.len == 0) return false;
  for (size_t i = 0; i < s.len; ++i)
    if (!is_token_char(s.ptr[i])) return false;
  return true;
}

span trim_ows(span s) {
  while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) ++s.ptr, --s.len;
  while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t')) --s.len;
  return s;
}

}  // namespace pushwire
