// Line ends of text/event-stream (WHATWG HTML "Parsing an event stream"): CR LF, LF or a
// lone CR. Shared by the writer (which splits data and comments on them, so every string
// survives a browser's parser) and the parser (which splits the stream on them).
#pragma once

#include "buffer.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
// AVX2, picked at run time, finds line ends 64 bytes at a time (as core/utf8.cpp does for UTF-8).
#if defined(__SSE2__) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PUSHWIRE_SSE_AVX2 1
#endif
#if defined(PUSHWIRE_NEON)
#include <arm_neon.h>
#endif

namespace pushwire {

#if defined(__SSE2__) || defined(PUSHWIRE_NEON)
// Over-reads: a load that runs past the end of a caller's string cannot fault while it stays
// inside the page of the string's last byte (protection is per page, and pages are at least
// 4 KiB), so short strings are loaded whole, without the branches of a byte-exact tail.
// The bytes past the end are never used. ASan would report them, so under ASan the loads
// are made in a function it does not instrument.
#if defined(__SANITIZE_ADDRESS__)
#define PUSHWIRE_OVERREAD inline __attribute__((noinline, no_sanitize_address))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PUSHWIRE_OVERREAD inline __attribute__((noinline, no_sanitize_address))
#endif
#endif
#ifndef PUSHWIRE_OVERREAD
#define PUSHWIRE_OVERREAD PUSHWIRE_INLINE
#endif

// True when k bytes may be read from p, where p[0..n) is readable.
PUSHWIRE_INLINE bool sse_overread_ok(const uint8_t *p, size_t n, size_t k) {
  if (n >= k) return true;
  if (n == 0) return false;
  return (uintptr_t(p + n - 1) >> 12) == (uintptr_t(p + k - 1) >> 12);
}
#endif

#if defined(PUSHWIRE_NEON)
PUSHWIRE_OVERREAD uint8x16_t sse_load16_neon(const uint8_t *p) { return vld1q_u8(p); }

// 0xff in each byte of v that is CR or LF.
PUSHWIRE_INLINE uint8x16_t sse_line_end_lanes(uint8x16_t v) {
  return vorrq_u8(vceqq_u8(v, vdupq_n_u8('\n')), vceqq_u8(v, vdupq_n_u8('\r')));
}

// NEON has no movemask. Narrowing by a 4-bit shift leaves 4 bits per byte: the index of
// the first set lane is the lowest set bit over 4.
PUSHWIRE_INLINE uint64_t sse_nibble_mask(uint8x16_t lanes) {
  return vget_lane_u64(vreinterpret_u64_u8(vshrn_n_u16(vreinterpretq_u16_u8(lanes), 4)), 0);
}

// Bit i set when p[i] is CR or LF, for p[0..64) (which may pass the data's end within its
// page): each lane keeps the bit of its position in 8, then three pairwise adds gather
// the bits of 8 neighbouring bytes into one byte.
PUSHWIRE_INLINE uint64_t sse_line_ends64_neon(const uint8_t *p) {
  const uint8x16_t bit = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
  const uint8x16_t a = vandq_u8(sse_line_end_lanes(sse_load16_neon(p)), bit);
  const uint8x16_t b = vandq_u8(sse_line_end_lanes(sse_load16_neon(p + 16)), bit);
  const uint8x16_t c = vandq_u8(sse_line_end_lanes(sse_load16_neon(p + 32)), bit);
  const uint8x16_t d = vandq_u8(sse_line_end_lanes(sse_load16_neon(p + 48)), bit);
  uint8x16_t s = vpaddq_u8(vpaddq_u8(a, b), vpaddq_u8(c, d));
  s = vpaddq_u8(s, s);
  return vgetq_lane_u64(vreinterpretq_u64_u8(s), 0);
}
#endif

#if defined(__SSE2__)

PUSHWIRE_OVERREAD __m128i sse_load16(const uint8_t *p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
}

// Copies p[0..n) to o, which has room for 64 bytes, and returns o + n; p[0..readable) may
// be read. Up to 64 bytes take four fixed 16-byte moves, so strings of different lengths
// take the same branches (the excess is overwritten by what the caller writes next).
PUSHWIRE_INLINE uint8_t *sse_copy_wide(uint8_t *o, const uint8_t *p, size_t n, size_t readable) {
  if (n <= 64 && sse_overread_ok(p, readable, 64)) {
    for (int i = 0; i < 4; ++i)
      _mm_storeu_si128(reinterpret_cast<__m128i *>(o + 16 * i), sse_load16(p + 16 * i));
  } else {
    copy_bytes(o, p, n);
  }
  return o + n;
}

// Moves p[0..n) down to o < p (the ranges may overlap) and returns o + n; p[0..64) may be
// read. Up to 64 bytes: every load before any store, then stores of 16 bytes at offsets
// min(16k, n - 16), which cover exactly o[0..n), so nothing past o + n is written.
PUSHWIRE_INLINE uint8_t *sse_move_down(uint8_t *o, const uint8_t *p, size_t n) {
  if (n >= 16 && n <= 64) {
    const size_t a1 = n - 16 < 16 ? n - 16 : 16, a2 = n - 16 < 32 ? n - 16 : 32, a3 = n - 16;
    const __m128i v0 = sse_load16(p), v1 = sse_load16(p + a1), v2 = sse_load16(p + a2), v3 = sse_load16(p + a3);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(o), v0);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(o + a1), v1);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(o + a2), v2);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(o + a3), v3);
  } else {
    std::memmove(o, p, n);
  }
  return o + n;
}

// Bit i set when p[i] is CR or LF, for a 16-byte vector.
PUSHWIRE_INLINE unsigned sse_line_end_bits(__m128i v) {
  return unsigned(_mm_movemask_epi8(
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')))));
}

#else
inline uint8_t *sse_move_down(uint8_t *o, const uint8_t *p, size_t n) {
  std::memmove(o, p, n);
  return o + n;
}
#endif

// Index of the first CR or LF in p[0..n), or n. One pass, 16 bytes at a time where SSE2
// exists: memchr for LF alone would rescan a whole buffer per line of a CR-only stream.
inline size_t sse_find_line_end(const uint8_t *p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    unsigned m = sse_line_end_bits(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i)));
    if (m) return i + unsigned(__builtin_ctz(m));
  }
  if (i < n && n >= 16) {
    // The last bytes in one load that overlaps bytes already searched (none of them is a
    // line end, so a match is new).
    size_t j = n - 16;
    unsigned m = sse_line_end_bits(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + j)));
    return m ? j + unsigned(__builtin_ctz(m)) : n;
  }
#elif defined(PUSHWIRE_NEON)
  for (; i + 16 <= n; i += 16) {
    const uint64_t m = sse_nibble_mask(sse_line_end_lanes(vld1q_u8(p + i)));
    if (m) return i + unsigned(__builtin_ctzll(m)) / 4;
  }
  if (i < n && n >= 16) {  // as the SSE2 tail: one overlapping load
    const size_t j = n - 16;
    const uint64_t m = sse_nibble_mask(sse_line_end_lanes(vld1q_u8(p + j)));
    return m ? j + unsigned(__builtin_ctzll(m)) / 4 : n;
  }
#else
  // SWAR: a word holds CR or LF iff it XORed with that byte has a zero byte.
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    uint64_t a = w ^ (ones * '\n'), b = w ^ (ones * '\r');
    if (((a - ones) & ~a & highs) | ((b - ones) & ~b & highs)) break;
  }
#endif
  for (; i < n; ++i)
    if (p[i] == '\n' || p[i] == '\r') break;
  return i;
}

// True when no byte of p[0..n) is below 14 (NUL, CR and LF all are): a word-at-a-time test
// that lets the usual event type or id skip the byte loop below.
inline bool sse_no_low_bytes(const uint8_t *p, size_t n) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t w, below = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::memcpy(&w, p + i, 8);
    below |= (w - ones * 14) & ~w & highs;
  }
  if (i < n && n >= 8) {
    std::memcpy(&w, p + n - 8, 8);
    below |= (w - ones * 14) & ~w & highs;
  } else {
    for (; i < n; ++i) below |= p[i] < 14;
  }
  return below == 0;
}

// Bit i set when p[i] is CR or LF, for p[0..min(n, 64)).
inline uint64_t sse_line_ends64(const uint8_t *p, size_t n) {
  uint64_t m = 0;
#if defined(__SSE2__)
  if (sse_overread_ok(p, n, 64)) {
    for (int i = 0; i < 4; ++i) m |= uint64_t(sse_line_end_bits(sse_load16(p + 16 * i))) << (16 * i);
    return n < 64 ? m & ((uint64_t(1) << n) - 1) : m;
  }
#elif defined(PUSHWIRE_NEON)
  if (sse_overread_ok(p, n, 64)) {
    m = sse_line_ends64_neon(p);
    return n < 64 ? m & ((uint64_t(1) << n) - 1) : m;
  }
#endif
  for (size_t i = 0; i < n && i < 64; ++i) m |= uint64_t(p[i] == '\n' || p[i] == '\r') << i;
  return m;
}

#if defined(PUSHWIRE_SSE_AVX2)
// A load that may pass the data's end within its page (see sse_load16).
__attribute__((target("avx2"))) PUSHWIRE_OVERREAD __m256i sse_load32_avx2(const uint8_t *p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
}

// Bit i set when p[i] is CR or LF, for p[0..64).
__attribute__((target("avx2"))) PUSHWIRE_INLINE uint64_t sse_line_ends64_avx2(const uint8_t *p) {
  const __m256i lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
  const __m256i a = sse_load32_avx2(p), b = sse_load32_avx2(p + 32);
  const uint32_t ma = uint32_t(_mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(a, lf), _mm256_cmpeq_epi8(a, cr))));
  const uint32_t mb = uint32_t(_mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(b, lf), _mm256_cmpeq_epi8(b, cr))));
  return ma | uint64_t(mb) << 32;
}
#endif

// The parser's first stage: the addresses of all line ends in a window of the input, found
// 64 bytes at a time and written out as a list, so that the walk over the lines is one loop
// whose branches follow the kinds of lines (a stream's repeating pattern) rather than where
// 64-byte blocks happen to fall. Each block stores four entries whether or not it has them
// (no branch on the count: the usual event's lines are 5 to 60 bytes long, W9's average
// under 3 line ends a block, and rarely more than four); only a block with more loops for
// the rest.
constexpr size_t kSseIndexWindow = 1024;
constexpr size_t kSseIndexUnconditional = 4;
constexpr size_t kSseIndexRoom = kSseIndexWindow + kSseIndexUnconditional;  // entries an index must hold

// Ends: a policy with `static uint64_t ends64(const uint8_t *p)` (line-end bits of p[0..64)),
// `static size_t count(uint64_t)` (bits set) and `static uint32_t low(uint64_t m)` (index of
// the lowest bit; any value for 0).
template <class Ends>
PUSHWIRE_INLINE size_t sse_index_line_ends(const uint8_t *p, size_t n, const uint8_t **idx) {
  size_t k = 0;
  for (size_t b = 0; b < n; b += 64) {
    uint64_t m = Ends::ends64(p + b);
    if (n - b < 64) m &= (uint64_t(1) << (n - b)) - 1;
    const size_t cnt = Ends::count(m);
    const uint8_t **o = idx + k;
    const uint8_t *const q = p + b;
    for (size_t j = 0; j < kSseIndexUnconditional; ++j) {
      o[j] = q + Ends::low(m);
      m &= m - 1;
    }
    for (size_t j = kSseIndexUnconditional; PUSHWIRE_UNLIKELY(m != 0); ++j) {
      o[j] = q + Ends::low(m);
      m &= m - 1;
    }
    k += cnt;
  }
  return k;
}

struct SseEnds16 {
  static PUSHWIRE_INLINE uint64_t ends64(const uint8_t *p) { return sse_line_ends64(p, 64); }
  static PUSHWIRE_INLINE size_t count(uint64_t m) {
#if defined(PUSHWIRE_NEON)
    return size_t(__builtin_popcountll(m));  // AArch64 counts bits in a vector register (CNT)
#endif
    m -= (m >> 1) & 0x5555555555555555ull;
    m = (m & 0x3333333333333333ull) + ((m >> 2) & 0x3333333333333333ull);
    m = (m + (m >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return size_t((m * 0x0101010101010101ull) >> 56);
  }
  // The top bit keeps ctz defined once m runs out (it changes no index while m has bits).
  static PUSHWIRE_INLINE uint32_t low(uint64_t m) { return uint32_t(__builtin_ctzll(m | uint64_t(1) << 63)); }
};

#if defined(PUSHWIRE_SSE_AVX2)
struct SseEnds32 {
  __attribute__((target("avx2"))) static uint64_t ends64(const uint8_t *p) { return sse_line_ends64_avx2(p); }
  __attribute__((target("popcnt"))) static size_t count(uint64_t m) { return size_t(__builtin_popcountll(m)); }
  __attribute__((target("bmi"))) static uint32_t low(uint64_t m) { return uint32_t(_tzcnt_u64(m)); }
};

__attribute__((target("avx2,bmi,popcnt"), flatten)) inline size_t sse_index_line_ends_avx2(const uint8_t *p, size_t n,
                                                                                           const uint8_t **idx) {
  return sse_index_line_ends<SseEnds32>(p, n, idx);
}

inline bool sse_have_avx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("popcnt");
}
#else
inline bool sse_have_avx2() { return false; }
#endif

// The addresses of the line ends in p[0..n), n <= kSseIndexWindow, into idx (kSseIndexRoom
// entries), lowest first; returns how many. p[0..n rounded up to 64) must be readable.
inline size_t sse_index_lines(const uint8_t *p, size_t n, const uint8_t **idx, bool avx2) {
#if defined(PUSHWIRE_SSE_AVX2)
  if (avx2) return sse_index_line_ends_avx2(p, n, idx);
#else
  (void)avx2;
#endif
  return sse_index_line_ends<SseEnds16>(p, n, idx);
}

// Length of the line end starting at p[0] (which is CR or LF): 2 for CR LF, else 1.
inline size_t sse_line_end_size(const uint8_t *p, size_t n) { return (p[0] == '\r' && n > 1 && p[1] == '\n') ? 2 : 1; }

}  // namespace pushwire
