#include "utf8.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pushwire {
namespace {

// A shift-based DFA: each state is a bit offset (a multiple of 6), and the table row of
// a byte packs the next state for every current state into one uint64_t, so a step is
// `row[byte] >> state` (one load independent of the state, one shift on the critical
// path). The automaton is RFC 3629's grammar made fail-fast: each state knows exactly
// which range the next byte must fall in (E0 needs A0-BF, ED 80-9F, F0 90-BF,
// F4 80-8F), so the first impossible byte moves to REJECT, which never leaves.
enum : uint32_t {
  U8_ACCEPT = 0,
  U8_REJECT = 6,
  U8_NEED1 = 12,  // one more 80-BF
  U8_NEED2 = 18,  // two more 80-BF
  U8_NEED3 = 24,  // three more 80-BF
  U8_AFTER_E0 = 30,
  U8_AFTER_ED = 36,
  U8_AFTER_F0 = 42,
  U8_AFTER_F4 = 48,
};

constexpr uint32_t utf8_next_state(uint32_t s, unsigned b) {
  const bool cont = b >= 0x80 && b <= 0xbf;
  switch (s) {
    case U8_ACCEPT:
      if (b < 0x80) return U8_ACCEPT;
      if (b >= 0xc2 && b <= 0xdf) return U8_NEED1;
      if (b == 0xe0) return U8_AFTER_E0;
      if (b == 0xed) return U8_AFTER_ED;
      if (b >= 0xe1 && b <= 0xef) return U8_NEED2;
      if (b == 0xf0) return U8_AFTER_F0;
      if (b >= 0xf1 && b <= 0xf3) return U8_NEED3;
      if (b == 0xf4) return U8_AFTER_F4;
      return U8_REJECT;  // stray continuation, C0, C1, F5-FF
    case U8_NEED1: return cont ? U8_ACCEPT : U8_REJECT;
    case U8_NEED2: return cont ? U8_NEED1 : U8_REJECT;
    case U8_NEED3: return cont ? U8_NEED2 : U8_REJECT;
    case U8_AFTER_E0: return b >= 0xa0 && b <= 0xbf ? U8_NEED1 : U8_REJECT;  // no overlongs
    case U8_AFTER_ED: return b >= 0x80 && b <= 0x9f ? U8_NEED1 : U8_REJECT;  // no surrogates
    case U8_AFTER_F0: return b >= 0x90 && b <= 0xbf ? U8_NEED2 : U8_REJECT;  // no overlongs
    case U8_AFTER_F4: return b >= 0x80 && b <= 0x8f ? U8_NEED2 : U8_REJECT;  // <= U+10FFFF
    default: return U8_REJECT;
  }
}

struct Utf8Table {
  uint64_t row[256];
};

constexpr Utf8Table utf8_make_table() {
  Utf8Table t{};
  for (unsigned b = 0; b < 256; ++b) {
    uint64_t row = 0;
    for (uint32_t s = 0; s <= U8_AFTER_F4; s += 6) row |= uint64_t(utf8_next_state(s, b)) << s;
    t.row[b] = row;
  }
  return t;
}

constexpr Utf8Table kUtf8Dfa = utf8_make_table();

PUSHWIRE_INLINE uint64_t utf8_step(uint64_t s, uint8_t b) { return kUtf8Dfa.row[b] >> (s & 63); }

// Index of the first non-ASCII byte at or after i, or a position within 16 bytes of the
// end from which the caller continues byte by byte.
PUSHWIRE_INLINE size_t utf8_skip_ascii(const uint8_t *p, size_t i, size_t len) {
#if defined(__SSE2__)
  while (len - i >= 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i + 32));
    __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i + 48));
    if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))) != 0) break;
    i += 64;
  }
  while (len - i >= 16) {
    unsigned m = unsigned(_mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i))));
    if (m != 0) return i + unsigned(__builtin_ctz(m));
    i += 16;
  }
#else
  while (len - i >= 16) {
    uint64_t a, b;
    std::memcpy(&a, p + i, 8);
    std::memcpy(&b, p + i + 8, 8);
    if ((a | b) & 0x8080808080808080ull) break;
    i += 16;
  }
#endif
  return i;
}

}  // namespace

bool utf8_feed(Utf8State &st, const uint8_t *data, size_t len, size_t *bad_offset) {
  uint64_t s = st.state;
  if (PUSHWIRE_UNLIKELY(s == U8_REJECT)) {
    if (bad_offset) *bad_offset = 0;
    return false;
  }
  size_t i = 0;
  while (i < len) {
    if ((s & 63) == U8_ACCEPT) {
      i = utf8_skip_ascii(data, i, len);
      if (i == len) break;
    }
    // Run the DFA over a chunk and test for REJECT once per chunk; REJECT is absorbing,
    // so on failure the chunk is replayed byte by byte to find the exact offset.
    const size_t start = i;
    const uint64_t s0 = s;
    const size_t end = len - i > 16 ? i + 16 : len;
    for (; i < end; ++i) s = utf8_step(s, data[i]);
    if (PUSHWIRE_UNLIKELY((s & 63) == U8_REJECT)) {
      s = s0;
      for (i = start;; ++i) {
        s = utf8_step(s, data[i]);
        if ((s & 63) == U8_REJECT) break;
      }
      st.state = U8_REJECT;
      if (bad_offset) *bad_offset = i;
      return false;
    }
  }
  st.state = uint32_t(s & 63);
  return true;
}

bool utf8_valid(const uint8_t *data, size_t len) {
  Utf8State st;
  return utf8_feed(st, data, len) && st.at_boundary();
}

size_t utf8_boundary_prefix(const uint8_t *data, size_t len) {
  // Find the start of the last character (at most 3 bytes back: a lead byte is followed by
  // at most 3 continuations) and keep it only if it is complete. Continuation bytes with
  // no lead in data are taken as completing a character begun earlier, which is exact
  // when the caller re-feeds held-back bytes so that data starts on a boundary.
  size_t back = len < 4 ? len : 4;
  for (size_t k = 1; k <= back; ++k) {
    uint8_t b = data[len - k];
    if ((b & 0xc0) == 0x80) continue;
    size_t need = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    return need > k ? len - k : len;
  }
  return len;
}

}  // namespace pushwire
