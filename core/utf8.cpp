#include "utf8.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PUSHWIRE_UTF8_AVX2 1
#endif
#if defined(PUSHWIRE_NEON)
#include <arm_neon.h>
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
#elif defined(PUSHWIRE_NEON)
  while (len - i >= 64) {
    const uint8x16_t v = vorrq_u8(vorrq_u8(vld1q_u8(p + i), vld1q_u8(p + i + 16)),
                                  vorrq_u8(vld1q_u8(p + i + 32), vld1q_u8(p + i + 48)));
    if (vmaxvq_u8(v) >= 0x80) break;
    i += 64;
  }
  while (len - i >= 16) {
    // No movemask: narrowing the top-bit lanes by a 4-bit shift leaves a nibble per byte.
    const uint8x16_t high = vreinterpretq_u8_s8(vshrq_n_s8(vreinterpretq_s8_u8(vld1q_u8(p + i)), 7));
    const uint64_t m = vget_lane_u64(vreinterpret_u64_u8(vshrn_n_u16(vreinterpretq_u16_u8(high), 4)), 0);
    if (m != 0) return i + unsigned(__builtin_ctzll(m)) / 4;
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

#if defined(PUSHWIRE_UTF8_AVX2) || defined(PUSHWIRE_NEON)
// Vectorised validation after Keiser and Lemire, "Validating UTF-8 in less than one
// instruction per byte" (2021): every byte is classified together with the byte before it
// through three 16-entry nibble tables whose AND is non-zero only for an invalid pair, and
// the positions that must hold the 3rd or 4th byte of a character are derived from the
// bytes 2 and 3 back. Each bit names one error kind:
enum : uint8_t {
  KL_TOO_SHORT = 1 << 0,   // lead then no continuation
  KL_TOO_LONG = 1 << 1,    // ASCII then continuation
  KL_OVERLONG_3 = 1 << 2,  // E0 80..9F
  KL_TOO_LARGE = 1 << 3,   // F4 90..BF, F5..FF then continuation
  KL_SURROGATE = 1 << 4,   // ED A0..BF
  KL_OVERLONG_2 = 1 << 5,  // C0..C1 then continuation
  KL_OVERLONG_4 = 1 << 6,  // F0 80..8F (shares its bit with F5..FF 80..8F)
  KL_TWO_CONTS = 1 << 7,   // continuation then continuation: must be a 3rd or 4th byte
  KL_CARRY = KL_TOO_SHORT | KL_TOO_LONG | KL_TWO_CONTS,
};
#endif

#if defined(PUSHWIRE_UTF8_AVX2)

#define PUSHWIRE_KL_TABLE(...) _mm256_setr_epi8(__VA_ARGS__, __VA_ARGS__)

// The tables and masks of the check, set up once per scan and passed to every block: built
// inside the per-block code, GCC rebuilt one of them (3 instructions) at every block.
struct Utf8Kl {
  __m256i first_high, first_low, second_high, lo4, third, fourth, top;
};

__attribute__((target("avx2"))) PUSHWIRE_INLINE Utf8Kl utf8_kl_setup() {
  Utf8Kl t;
  t.first_high = PUSHWIRE_KL_TABLE(
      KL_TOO_LONG, KL_TOO_LONG, KL_TOO_LONG, KL_TOO_LONG, KL_TOO_LONG, KL_TOO_LONG, KL_TOO_LONG, KL_TOO_LONG,
      char(KL_TWO_CONTS), char(KL_TWO_CONTS), char(KL_TWO_CONTS), char(KL_TWO_CONTS), KL_TOO_SHORT | KL_OVERLONG_2,
      KL_TOO_SHORT, KL_TOO_SHORT | KL_OVERLONG_3 | KL_SURROGATE, KL_TOO_SHORT | KL_TOO_LARGE | KL_OVERLONG_4);
  const char c = char(KL_CARRY);
  const char big = char(KL_CARRY | KL_TOO_LARGE | KL_OVERLONG_4);
  t.first_low = PUSHWIRE_KL_TABLE(
      char(KL_CARRY | KL_OVERLONG_3 | KL_OVERLONG_2 | KL_OVERLONG_4), char(KL_CARRY | KL_OVERLONG_2), c, c,
      char(KL_CARRY | KL_TOO_LARGE), big, big, big, big, big, big, big, big,
      char(KL_CARRY | KL_TOO_LARGE | KL_OVERLONG_4 | KL_SURROGATE), big, big);
  const char s = KL_TOO_SHORT;
  t.second_high = PUSHWIRE_KL_TABLE(
      s, s, s, s, s, s, s, s,
      char(KL_TOO_LONG | KL_OVERLONG_2 | KL_TWO_CONTS | KL_OVERLONG_3 | KL_OVERLONG_4),
      char(KL_TOO_LONG | KL_OVERLONG_2 | KL_TWO_CONTS | KL_OVERLONG_3 | KL_TOO_LARGE),
      char(KL_TOO_LONG | KL_OVERLONG_2 | KL_TWO_CONTS | KL_SURROGATE | KL_TOO_LARGE),
      char(KL_TOO_LONG | KL_OVERLONG_2 | KL_TWO_CONTS | KL_SURROGATE | KL_TOO_LARGE), s, s, s, s);
  t.lo4 = _mm256_set1_epi8(0x0f);
  t.third = _mm256_set1_epi8(char(0xe0 - 0x80));
  t.fourth = _mm256_set1_epi8(char(0xf0 - 0x80));
  t.top = _mm256_set1_epi8(char(0x80));
  // Opaque to the optimiser: otherwise GCC rebuilds a splat from a general register at every
  // block (2-3 instructions) rather than keep it in one.
  __asm__("" : "+x"(t.lo4), "+x"(t.third), "+x"(t.fourth), "+x"(t.top));
  return t;
}

#undef PUSHWIRE_KL_TABLE

// The errors of the 32 bytes `in`, given the bytes one, two and three before each of them
// (prev1..prev3): non-zero where invalid. The loops take prev1..prev3 as loads at those
// offsets (utf8_load, utf8_unmask_load) rather than shifting them in from the vector before
// (utf8_kl_errors: a lane-crossing permute and three byte shifts per 32 bytes, all on the
// two shuffle pipes, which the table lookups need too): loads and XORs go to other ports.
// Measured 10% less time per multi-byte block, in cache. Only the first block, which has
// nothing before it that may be read, and a block after an ASCII run in place shift them in.
__attribute__((target("avx2"))) PUSHWIRE_INLINE __m256i utf8_kl_check(const Utf8Kl &t, __m256i in, __m256i prev1,
                                                                       __m256i prev2, __m256i prev3) {
  // Bytes 2 back >= E0 or 3 back >= F0 make this a 3rd/4th byte: exactly then may a
  // continuation follow a continuation (the TWO_CONTS bit), so XOR flags both mismatches.
  const __m256i must23 =
      _mm256_and_si256(_mm256_or_si256(_mm256_subs_epu8(prev2, t.third), _mm256_subs_epu8(prev3, t.fourth)), t.top);
  const __m256i prev1_high = _mm256_and_si256(_mm256_srli_epi16(prev1, 4), t.lo4);
  __m256i special = _mm256_and_si256(_mm256_shuffle_epi8(t.first_high, prev1_high),
                                     _mm256_shuffle_epi8(t.first_low, _mm256_and_si256(prev1, t.lo4)));
  const __m256i in_high = _mm256_and_si256(_mm256_srli_epi16(in, 4), t.lo4);
  special = _mm256_and_si256(special, _mm256_shuffle_epi8(t.second_high, in_high));
  return _mm256_xor_si256(must23, special);
}

// utf8_kl_check of `in` after the 32 bytes `prev`, the shifted vectors taken from the pair.
__attribute__((target("avx2"))) PUSHWIRE_INLINE __m256i utf8_kl_errors(const Utf8Kl &t, __m256i in, __m256i prev) {
  // The 32 bytes before each byte of `in`, shifted across the 128-bit lane boundary.
  const __m256i carry = _mm256_permute2x128_si256(prev, in, 0x21);
  return utf8_kl_check(t, in, _mm256_alignr_epi8(in, carry, 15), _mm256_alignr_epi8(in, carry, 14),
                       _mm256_alignr_epi8(in, carry, 13));
}

// Whether an all-ASCII block may follow the 32 bytes `prev`: an ASCII block holds no error
// of its own, it can only cut short a character begun in the last 3 bytes before it.
// Subtracting these leaves a non-zero byte exactly there.
__attribute__((target("avx2"))) PUSHWIRE_INLINE bool utf8_ascii_may_follow(__m256i prev) {
  const __m256i open_max = _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, char(0xf0 - 1),
                                            char(0xe0 - 1), char(0xc0 - 1));
  const __m256i open = _mm256_subs_epu8(prev, open_max);
  return _mm256_testz_si256(open, open);
}

__attribute__((target("avx2"))) PUSHWIRE_INLINE __m256i utf8_load(const uint8_t *p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
}

// The 32 bytes at p unmasked with kk, the key word for the byte at p repeated.
__attribute__((target("avx2"))) PUSHWIRE_INLINE __m256i utf8_unmask_load(const uint8_t *p, __m256i kk) {
  return _mm256_xor_si256(utf8_load(p), kk);
}

// Whether the 64 bytes (a, b) hold no byte with its top bit set.
__attribute__((target("avx2"))) PUSHWIRE_INLINE bool utf8_ascii(const Utf8Kl &t, __m256i a, __m256i b) {
  return _mm256_testz_si256(_mm256_or_si256(a, b), t.top);
}

// One 64-byte block (a, b) holding a non-ASCII byte, after the block ending in `prev`:
// true when it holds no error. A character cut by the block's end is left to the next
// block (or the caller). The ASCII test comes first in the loops (once per 64 bytes), and
// what the block leaves open is only looked at when an ASCII block follows, so a run of
// multi-byte text pays for nothing but the table lookups. One test for both halves.
__attribute__((target("avx2"))) PUSHWIRE_INLINE bool utf8_block_ok(const Utf8Kl &t, __m256i a, __m256i b,
                                                                    __m256i prev) {
  const __m256i ea = utf8_kl_errors(t, a, prev);
  const __m256i eb = utf8_kl_errors(t, b, a);
  const __m256i e = _mm256_or_si256(ea, eb);
  return _mm256_testz_si256(e, e);
}

// GCC (12) keeps the scans' constants and a block in the 16 vector registers only when it
// schedules before register allocation, minding register pressure, within each basic block
// (not hoisting a block's checks above its ASCII test): without this the unmasking scan
// spilled and measured 15% slower. Clang needs no help (and has no such attribute).
#if defined(__GNUC__) && !defined(__clang__)
#define PUSHWIRE_UTF8_SCHED \
  __attribute__((optimize("schedule-insns", "sched-pressure", "no-sched-interblock", "no-sched-spec")))
#else
#define PUSHWIRE_UTF8_SCHED
#endif

// Validates 64-byte blocks from p, which must start on a character boundary. Returns the
// offset of the first block holding an error, or the end of the last whole block. A
// character cut by the end is only partly checked: the caller re-validates from its lead.
__attribute__((target("avx2"))) PUSHWIRE_UTF8_SCHED size_t utf8_scan_avx2(const uint8_t *p, size_t n) {
  const Utf8Kl t = utf8_kl_setup();
  const uint8_t *q = p;
  const uint8_t *const last = p + (n & ~size_t(63));  // end of the last whole block
  if (q == last) return 0;
  {  // nothing before the first block counts, and nothing before p may be read
    const __m256i a = utf8_load(q);
    const __m256i b = utf8_load(q + 32);
    if (!utf8_ascii(t, a, b) && !utf8_block_ok(t, a, b, _mm256_setzero_si256())) return 0;
    q += 64;
  }
  while (q != last) {
    const __m256i a = utf8_load(q);
    const __m256i b = utf8_load(q + 32);
    if (utf8_ascii(t, a, b)) {
      if (!utf8_ascii_may_follow(utf8_load(q - 32))) break;
      // All ASCII: skip ahead while the following blocks are ASCII too.
      q += 64;
      while (last - q >= 128) {
        const __m256i *v = reinterpret_cast<const __m256i *>(q);
        __m256i x = _mm256_or_si256(_mm256_or_si256(_mm256_loadu_si256(v), _mm256_loadu_si256(v + 1)),
                                    _mm256_or_si256(_mm256_loadu_si256(v + 2), _mm256_loadu_si256(v + 3)));
        if (!_mm256_testz_si256(x, t.top)) break;
        q += 128;
      }
      continue;
    }
    const __m256i ea = utf8_kl_check(t, a, utf8_load(q - 1), utf8_load(q - 2), utf8_load(q - 3));
    const __m256i eb = utf8_kl_check(t, b, utf8_load(q + 31), utf8_load(q + 30), utf8_load(q + 29));
    const __m256i e = _mm256_or_si256(ea, eb);
    if (!_mm256_testz_si256(e, e)) break;
    q += 64;
  }
  return size_t(q - p);
}

// The input usually comes from memory, not cache (a socket read): asking for it this far
// ahead, across page boundaries where the hardware prefetcher stops, measured about 10%
// faster on 64 KiB reads of W5. A prefetch never faults, past the end included.
// A multi-byte block takes several times as long as an ASCII one, so the same distance in
// time is more bytes: measured (W5 beside W4, CPU time, alternated) 10% faster with 2 KiB,
// while W4 slowed by about 20% at that distance.
constexpr size_t kUnmaskPrefetch = 512;
constexpr size_t kUnmaskPrefetchSlow = 2048;

// In place: the 64 bytes before s, still masked in src, unmasked into dst (d - 64).
__attribute__((target("avx2"))) PUSHWIRE_INLINE void utf8_unmask_store_before(uint8_t *d, const uint8_t *s,
                                                                               __m256i k) {
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(d - 64), utf8_unmask_load(s - 64, k));
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(d - 32), utf8_unmask_load(s - 32, k));
}

// utf8_scan_avx2 on the unmasked bytes of src, stored to dst up to the returned offset
// (not the block that stops the scan: in place, the caller unmasks it again). `key` is the
// mask word for src[0] (mask_key_word). The bytes before each byte are loaded again from
// src and unmasked with the key rotated to match (see utf8_kl_check); in place, that needs
// them still masked there, so each block is stored one step late.
template <bool InPlace>
__attribute__((target("avx2"))) PUSHWIRE_INLINE size_t utf8_unmask_scan_avx2_t(uint8_t *dst, const uint8_t *src,
                                                                                size_t n, uint32_t key) {
  const Utf8Kl t = utf8_kl_setup();
  const __m256i k = _mm256_set1_epi32(int(key));
  const uint8_t *s = src;
  const uint8_t *const last = src + (n & ~size_t(63));
  uint8_t *d = dst;
  if (s == last) return 0;
  // The first block: nothing before it counts (the scan starts on a character boundary),
  // and nothing before src may be read.
  _mm_prefetch(reinterpret_cast<const char *>(s + kUnmaskPrefetch), _MM_HINT_T0);
  {
    const __m256i a = utf8_unmask_load(s, k);
    const __m256i b = utf8_unmask_load(s + 32, k);
    if (!utf8_ascii(t, a, b) && !utf8_block_ok(t, a, b, _mm256_setzero_si256())) return 0;
    if (!InPlace) {
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(d), a);
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(d + 32), b);
    }
  }
  s += 64;
  d += 64;
  // The key for the bytes 1, 2 and 3 before a multiple of 4 from src.
  const __m256i k1 = _mm256_set1_epi32(int(mask_rotate(key, 3)));
  const __m256i k2 = _mm256_set1_epi32(int(mask_rotate(key, 2)));
  const __m256i k3 = _mm256_set1_epi32(int(mask_rotate(key, 1)));
  for (; s != last; s += 64, d += 64) {
    const __m256i a = utf8_unmask_load(s, k);
    const __m256i b = utf8_unmask_load(s + 32, k);
    if (utf8_ascii(t, a, b)) {
      _mm_prefetch(reinterpret_cast<const char *>(s + kUnmaskPrefetch), _MM_HINT_T0);
      // The 32 bytes before: in place still masked in src; copying, as just stored to dst.
      const __m256i before = InPlace ? utf8_unmask_load(s - 32, k) : utf8_load(d - 32);
      if (!utf8_ascii_may_follow(before)) break;
      if (InPlace) {
        // In place, a run of ASCII blocks is stored as it goes (nothing reads it masked
        // again: the one-step lag would cost two loads per block), and the block after it
        // checked against the last of them shifted in, as the first block was.
        utf8_unmask_store_before(d, s, k);
        __m256i x = a, y = b, ascii_y;
        do {
          _mm256_storeu_si256(reinterpret_cast<__m256i *>(d), x);
          _mm256_storeu_si256(reinterpret_cast<__m256i *>(d + 32), y);
          ascii_y = y;
          s += 64;
          d += 64;
          if (s == last) return size_t(s - src);
          _mm_prefetch(reinterpret_cast<const char *>(s + kUnmaskPrefetch), _MM_HINT_T0);
          x = utf8_unmask_load(s, k);
          y = utf8_unmask_load(s + 32, k);
        } while (utf8_ascii(t, x, y));
        if (!utf8_block_ok(t, x, y, ascii_y)) return size_t(s - src);  // nothing left unstored
        continue;  // this block is stored one step late, as any other
      }
    } else {
      _mm_prefetch(reinterpret_cast<const char *>(s + kUnmaskPrefetchSlow), _MM_HINT_T0);
      const __m256i ea = utf8_kl_check(t, a, utf8_unmask_load(s - 1, k1), utf8_unmask_load(s - 2, k2),
                                       utf8_unmask_load(s - 3, k3));
      const __m256i eb = utf8_kl_check(t, b, utf8_unmask_load(s + 31, k1), utf8_unmask_load(s + 30, k2),
                                       utf8_unmask_load(s + 29, k3));
      const __m256i e = _mm256_or_si256(ea, eb);
      if (!_mm256_testz_si256(e, e)) break;
    }
    if (InPlace) {
      utf8_unmask_store_before(d, s, k);  // nothing reads it masked any more
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(d), a);
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(d + 32), b);
    }
  }
  if (InPlace) utf8_unmask_store_before(d, s, k);  // the last valid block
  return size_t(s - src);
}

__attribute__((target("avx2"))) PUSHWIRE_UTF8_SCHED size_t utf8_unmask_scan_avx2(uint8_t *dst, const uint8_t *src,
                                                                                size_t n, uint32_t key) {
  return dst == src ? utf8_unmask_scan_avx2_t<true>(dst, src, n, key)
                    : utf8_unmask_scan_avx2_t<false>(dst, src, n, key);
}
#endif

#if defined(PUSHWIRE_NEON)
// The same check as utf8_kl_check (the same tables and error bits) in 16-byte NEON
// registers. NEON's byte extract (EXT) is cheap, so the bytes 1-3 before each byte are
// shifted in from the vector before rather than loaded again, which also lets the in-place
// scan store each block as soon as it is checked.
struct Utf8KlNeon {
  uint8x16_t first_high, first_low, second_high;
};

constexpr uint8_t kKlFirstHigh[16] = {
    KL_TOO_LONG,  KL_TOO_LONG, KL_TOO_LONG, KL_TOO_LONG, KL_TOO_LONG, KL_TOO_LONG, KL_TOO_LONG, KL_TOO_LONG,
    KL_TWO_CONTS, KL_TWO_CONTS, KL_TWO_CONTS, KL_TWO_CONTS, KL_TOO_SHORT | KL_OVERLONG_2, KL_TOO_SHORT,
    KL_TOO_SHORT | KL_OVERLONG_3 | KL_SURROGATE, KL_TOO_SHORT | KL_TOO_LARGE | KL_OVERLONG_4};
constexpr uint8_t kKlBig = KL_CARRY | KL_TOO_LARGE | KL_OVERLONG_4;
constexpr uint8_t kKlFirstLow[16] = {
    KL_CARRY | KL_OVERLONG_3 | KL_OVERLONG_2 | KL_OVERLONG_4, KL_CARRY | KL_OVERLONG_2, KL_CARRY, KL_CARRY,
    KL_CARRY | KL_TOO_LARGE, kKlBig, kKlBig, kKlBig, kKlBig, kKlBig, kKlBig, kKlBig, kKlBig,
    KL_CARRY | KL_TOO_LARGE | KL_OVERLONG_4 | KL_SURROGATE, kKlBig, kKlBig};
constexpr uint8_t kKlCont = KL_TOO_LONG | KL_OVERLONG_2 | KL_TWO_CONTS;
constexpr uint8_t kKlSecondHigh[16] = {
    KL_TOO_SHORT, KL_TOO_SHORT, KL_TOO_SHORT, KL_TOO_SHORT, KL_TOO_SHORT, KL_TOO_SHORT, KL_TOO_SHORT, KL_TOO_SHORT,
    kKlCont | KL_OVERLONG_3 | KL_OVERLONG_4, kKlCont | KL_OVERLONG_3 | KL_TOO_LARGE,
    kKlCont | KL_SURROGATE | KL_TOO_LARGE, kKlCont | KL_SURROGATE | KL_TOO_LARGE,
    KL_TOO_SHORT, KL_TOO_SHORT, KL_TOO_SHORT, KL_TOO_SHORT};
// The largest byte each of the last 16 bytes may hold for an ASCII block to follow: the
// last three must not begin a character that needs more bytes than are left after them.
constexpr uint8_t kKlOpenMax[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xf0 - 1, 0xe0 - 1, 0xc0 - 1};

PUSHWIRE_INLINE Utf8KlNeon utf8_kl_setup_neon() {
  return Utf8KlNeon{vld1q_u8(kKlFirstHigh), vld1q_u8(kKlFirstLow), vld1q_u8(kKlSecondHigh)};
}

// The errors of the 16 bytes `in` after the 16 bytes `prev`: non-zero where invalid.
PUSHWIRE_INLINE uint8x16_t utf8_kl_errors_neon(const Utf8KlNeon &t, uint8x16_t in, uint8x16_t prev) {
  const uint8x16_t prev1 = vextq_u8(prev, in, 15), prev2 = vextq_u8(prev, in, 14), prev3 = vextq_u8(prev, in, 13);
  const uint8x16_t must23 = vandq_u8(vorrq_u8(vqsubq_u8(prev2, vdupq_n_u8(0xe0 - 0x80)),
                                              vqsubq_u8(prev3, vdupq_n_u8(0xf0 - 0x80))),
                                     vdupq_n_u8(0x80));
  uint8x16_t special = vandq_u8(vqtbl1q_u8(t.first_high, vshrq_n_u8(prev1, 4)),
                                vqtbl1q_u8(t.first_low, vandq_u8(prev1, vdupq_n_u8(0x0f))));
  special = vandq_u8(special, vqtbl1q_u8(t.second_high, vshrq_n_u8(in, 4)));
  return veorq_u8(must23, special);
}

PUSHWIRE_INLINE bool utf8_any_neon(uint8x16_t v) { return vmaxvq_u32(vreinterpretq_u32_u8(v)) != 0; }

// A 64-byte block (a, b, c, d) after the 16 bytes `prev`, as utf8_block_ok: true when
// valid so far (a character cut by the block's end is left to what follows). An ASCII
// block only checks that `prev` leaves no character open.
PUSHWIRE_INLINE bool utf8_block_ok_neon(const Utf8KlNeon &t, uint8x16_t a, uint8x16_t b, uint8x16_t c,
                                        uint8x16_t d, uint8x16_t prev) {
  if (vmaxvq_u8(vorrq_u8(vorrq_u8(a, b), vorrq_u8(c, d))) < 0x80)
    return !utf8_any_neon(vqsubq_u8(prev, vld1q_u8(kKlOpenMax)));
  const uint8x16_t e = vorrq_u8(vorrq_u8(utf8_kl_errors_neon(t, a, prev), utf8_kl_errors_neon(t, b, a)),
                                vorrq_u8(utf8_kl_errors_neon(t, c, b), utf8_kl_errors_neon(t, d, c)));
  return !utf8_any_neon(e);
}

// utf8_scan_avx2 in NEON registers (same contract): the offset of the first 64-byte block
// of p holding an error, or the end of the last whole block; p starts on a boundary.
size_t utf8_scan_neon(const uint8_t *p, size_t n) {
  const Utf8KlNeon t = utf8_kl_setup_neon();
  uint8x16_t prev = vdupq_n_u8(0);  // nothing before p counts
  size_t i = 0;
  for (; n - i >= 64; i += 64) {
    const uint8x16_t a = vld1q_u8(p + i), b = vld1q_u8(p + i + 16), c = vld1q_u8(p + i + 32),
                     d = vld1q_u8(p + i + 48);
    if (!utf8_block_ok_neon(t, a, b, c, d, prev)) break;
    prev = d;
  }
  return i;
}

// utf8_unmask_scan_avx2 in NEON registers (same contract): the unmasked bytes stored to dst
// up to the returned offset (not the block that stops the scan, which in place stays
// masked for the caller). `key` is the mask word for src[0].
size_t utf8_unmask_scan_neon(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
  const Utf8KlNeon t = utf8_kl_setup_neon();
  const uint8x16_t k = vreinterpretq_u8_u32(vdupq_n_u32(key));
  uint8x16_t prev = vdupq_n_u8(0);
  size_t i = 0;
  for (; n - i >= 64; i += 64) {
    __builtin_prefetch(src + i + 512);  // the AVX2 scan's distance for ASCII (kUnmaskPrefetch)
    const uint8x16_t a = veorq_u8(vld1q_u8(src + i), k), b = veorq_u8(vld1q_u8(src + i + 16), k);
    const uint8x16_t c = veorq_u8(vld1q_u8(src + i + 32), k), d = veorq_u8(vld1q_u8(src + i + 48), k);
    if (!utf8_block_ok_neon(t, a, b, c, d, prev)) break;
    vst1q_u8(dst + i, a);
    vst1q_u8(dst + i + 16, b);
    vst1q_u8(dst + i + 32, c);
    vst1q_u8(dst + i + 48, d);
    prev = d;
  }
  return i;
}
#endif

// The vector scans this build has: AVX2 where the CPU has it, NEON always on AArch64.
#if defined(PUSHWIRE_UTF8_AVX2)
#define PUSHWIRE_UTF8_SIMD 1
PUSHWIRE_INLINE bool utf8_simd_ok() { return __builtin_cpu_supports("avx2"); }
PUSHWIRE_INLINE size_t utf8_scan_simd(const uint8_t *p, size_t n) { return utf8_scan_avx2(p, n); }
PUSHWIRE_INLINE size_t utf8_unmask_scan_simd(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
  return utf8_unmask_scan_avx2(dst, src, n, key);
}
#elif defined(PUSHWIRE_NEON)
#define PUSHWIRE_UTF8_SIMD 1
PUSHWIRE_INLINE bool utf8_simd_ok() { return true; }
PUSHWIRE_INLINE size_t utf8_scan_simd(const uint8_t *p, size_t n) { return utf8_scan_neon(p, n); }
PUSHWIRE_INLINE size_t utf8_unmask_scan_simd(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
  return utf8_unmask_scan_neon(dst, src, n, key);
}
#endif

#if defined(PUSHWIRE_UTF8_SIMD)
// Scanning 64-byte blocks only pays off past some length; below it the scalar loop wins.
constexpr size_t kUtf8SimdMin = 64;
#endif

// Where a vector scan that stopped at q (everything before it valid, the character around
// q only partly checked) resumes byte by byte: the lead of the character around q.
PUSHWIRE_INLINE size_t utf8_resume_at(const uint8_t *data, size_t from, size_t q) {
  size_t j = q;
  while (j > from && q - j < 3 && (data[j - 1] & 0xc0) == 0x80) --j;
  if (j > from && data[j - 1] >= 0xc0) --j;
  return j;
}

}  // namespace

namespace {

PUSHWIRE_INLINE bool utf8_feed_impl(Utf8State &st, const uint8_t *data, size_t len, size_t *bad_offset,
                                    bool allow_simd) {
  uint64_t s = st.state;
  if (PUSHWIRE_UNLIKELY(s == U8_REJECT)) {
    if (bad_offset) *bad_offset = 0;
    return false;
  }
  size_t i = 0;
#if defined(PUSHWIRE_UTF8_SIMD)
  size_t simd_from = 0;  // after a vector stop, the scalar loop covers the next block
  const bool simd = allow_simd && len >= kUtf8SimdMin && utf8_simd_ok();
#else
  (void)allow_simd;
#endif
  while (i < len) {
    if ((s & 63) == U8_ACCEPT) {
#if defined(PUSHWIRE_UTF8_SIMD)
      if (simd && i >= simd_from && len - i >= kUtf8SimdMin) {
        size_t q = i + utf8_scan_simd(data + i, len - i);
        // Everything before the resume point is valid and complete, and the scalar DFA
        // pins down the exact offset of any error.
        i = utf8_resume_at(data, i, q);
        simd_from = q + 64;
      }
#endif
      i = utf8_skip_ascii(data, i, len);
      if (i == len) break;
    }
    // Run the DFA over a chunk and test for REJECT once per chunk; REJECT is absorbing,
    // so on failure the chunk is replayed byte by byte to find the exact offset.
    const size_t start = i;
    const uint64_t s0 = s;
    if (len - i >= 16) {
#if defined(__clang__)
#pragma clang loop unroll(full)
#elif defined(__GNUC__)
#pragma GCC unroll 16
#endif
      for (size_t k = 0; k < 16; ++k) s = utf8_step(s, data[i + k]);
      i += 16;
    } else {
      for (; i < len; ++i) s = utf8_step(s, data[i]);
    }
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

}  // namespace

bool utf8_feed(Utf8State &st, const uint8_t *data, size_t len, size_t *bad_offset) {
  return utf8_feed_impl(st, data, len, bad_offset, true);
}

bool utf8_feed_scalar(Utf8State &st, const uint8_t *data, size_t len, size_t *bad_offset) {
  return utf8_feed_impl(st, data, len, bad_offset, false);
}

bool utf8_feed_unmask_long(Utf8State &st, uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                           unsigned *phase, size_t *bad_offset) {
  size_t done = 0;
#if defined(PUSHWIRE_UTF8_SIMD)
  static_assert(UTF8_UNMASK_FUSED_MIN >= 3 + kUtf8SimdMin, "room for a carried character and one block");
  if (st.state != U8_REJECT && utf8_simd_ok()) {
    // Finish a character begun in an earlier piece (at most 3 bytes), so the scan starts
    // on a boundary.
    while (!st.at_boundary() && done < 3) {
      *phase = mask_copy(dst + done, src + done, 1, key, *phase);
      if (!utf8_feed(st, dst + done, 1)) {
        *phase = mask_copy(dst + done + 1, src + done + 1, len - done - 1, key, *phase);
        if (bad_offset) *bad_offset = done;
        return false;
      }
      ++done;
    }
    if (st.at_boundary()) {
      const size_t q = done + utf8_unmask_scan_simd(dst + done, src + done, len - done, mask_key_word(key, *phase));
      *phase = (*phase + unsigned(q - done)) & 3;
      // The rest is unmasked as usual; validation resumes at the lead around q.
      *phase = mask_copy(dst + q, src + q, len - q, key, *phase);
      const size_t j = utf8_resume_at(dst, done, q);
      size_t bad = 0;
      if (utf8_feed(st, dst + j, len - j, &bad)) return true;
      if (bad_offset) *bad_offset = j + bad;
      return false;
    }
  }
#endif
  *phase = mask_copy(dst + done, src + done, len - done, key, *phase);
  size_t bad = 0;
  if (utf8_feed(st, dst + done, len - done, &bad)) return true;
  if (bad_offset) *bad_offset = done + bad;
  return false;
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
