#include "sha1.hpp"

#include <atomic>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace pushwire {
namespace {

PUSHWIRE_INLINE uint32_t sha1_rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

PUSHWIRE_INLINE uint32_t sha1_load_be(const uint8_t *p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

PUSHWIRE_INLINE void sha1_store_be(uint8_t *p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// The message schedule lives in a 16-word ring (FIPS 180-4 §6.1.3 alternative method):
// W[t] for t >= 16 overwrites W[t-16], so the whole block needs 64 bytes of state.
#define PUSHWIRE_SHA1_W(t) \
  (w[(t)&15] = sha1_rol(w[((t) + 13) & 15] ^ w[((t) + 8) & 15] ^ w[((t) + 2) & 15] ^ w[(t)&15], 1))

// One round, with the variable rotation done by renaming (a,b,c,d,e) at each call
// site instead of moving registers.
#define PUSHWIRE_SHA1_ROUND(a, b, c, d, e, f, k, wt) \
  do {                                               \
    e += sha1_rol(a, 5) + (f) + (k) + (wt);          \
    b = sha1_rol(b, 30);                             \
  } while (0)

#define PUSHWIRE_SHA1_F1(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define PUSHWIRE_SHA1_F2(b, c, d) ((b) ^ (c) ^ (d))
#define PUSHWIRE_SHA1_F3(b, c, d) (((b) & (c)) | ((d) & ((b) | (c))))

#define PUSHWIRE_SHA1_R0(a, b, c, d, e, t) \
  PUSHWIRE_SHA1_ROUND(a, b, c, d, e, PUSHWIRE_SHA1_F1(b, c, d), 0x5a827999u, w[t])
#define PUSHWIRE_SHA1_R1(a, b, c, d, e, t) \
  PUSHWIRE_SHA1_ROUND(a, b, c, d, e, PUSHWIRE_SHA1_F1(b, c, d), 0x5a827999u, PUSHWIRE_SHA1_W(t))
#define PUSHWIRE_SHA1_R2(a, b, c, d, e, t) \
  PUSHWIRE_SHA1_ROUND(a, b, c, d, e, PUSHWIRE_SHA1_F2(b, c, d), 0x6ed9eba1u, PUSHWIRE_SHA1_W(t))
#define PUSHWIRE_SHA1_R3(a, b, c, d, e, t) \
  PUSHWIRE_SHA1_ROUND(a, b, c, d, e, PUSHWIRE_SHA1_F3(b, c, d), 0x8f1bbcdcu, PUSHWIRE_SHA1_W(t))
#define PUSHWIRE_SHA1_R4(a, b, c, d, e, t) \
  PUSHWIRE_SHA1_ROUND(a, b, c, d, e, PUSHWIRE_SHA1_F2(b, c, d), 0xca62c1d6u, PUSHWIRE_SHA1_W(t))

// Five rounds starting at t, cycling the register names once.
#define PUSHWIRE_SHA1_5(R, t)    \
  R(a, b, c, d, e, (t));         \
  R(e, a, b, c, d, (t) + 1);     \
  R(d, e, a, b, c, (t) + 2);     \
  R(c, d, e, a, b, (t) + 3);     \
  R(b, c, d, e, a, (t) + 4)

}  // namespace

void sha1_blocks_portable(uint32_t h[5], const uint8_t *p, size_t nblocks) {
  for (; nblocks > 0; --nblocks, p += 64) {
    uint32_t w[16];
    for (int i = 0; i < 16; ++i) w[i] = sha1_load_be(p + 4 * i);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R0, 0);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R0, 5);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R0, 10);
    PUSHWIRE_SHA1_R0(a, b, c, d, e, 15);
    PUSHWIRE_SHA1_R1(e, a, b, c, d, 16);
    PUSHWIRE_SHA1_R1(d, e, a, b, c, 17);
    PUSHWIRE_SHA1_R1(c, d, e, a, b, 18);
    PUSHWIRE_SHA1_R1(b, c, d, e, a, 19);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R2, 20);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R2, 25);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R2, 30);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R2, 35);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R3, 40);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R3, 45);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R3, 50);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R3, 55);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R4, 60);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R4, 65);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R4, 70);
    PUSHWIRE_SHA1_5(PUSHWIRE_SHA1_R4, 75);
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
}

#undef PUSHWIRE_SHA1_5
#undef PUSHWIRE_SHA1_R0
#undef PUSHWIRE_SHA1_R1
#undef PUSHWIRE_SHA1_R2
#undef PUSHWIRE_SHA1_R3
#undef PUSHWIRE_SHA1_R4
#undef PUSHWIRE_SHA1_F1
#undef PUSHWIRE_SHA1_F2
#undef PUSHWIRE_SHA1_F3
#undef PUSHWIRE_SHA1_ROUND
#undef PUSHWIRE_SHA1_W

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

namespace {

// -1 until the first call asks the CPU; then 1 when it has the SHA extensions (and the
// SSSE3/SSE4.1 they are used with), else 0. CPUID is slow, and slower still in a VM.
std::atomic<int> g_sha1_shani{-1};

bool sha1_cpu_has_shani() {
  int have = g_sha1_shani.load(std::memory_order_relaxed);
  if (have < 0) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    bool sse = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1);
    have = sse && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA) ? 1 : 0;
    g_sha1_shani.store(have, std::memory_order_relaxed);
  }
  return have == 1;
}

// Four rounds with the round function and constant of group `g` (0-19): the selector of
// sha1rnds4 must be an immediate.
__attribute__((target("sha,sse4.1"))) PUSHWIRE_INLINE __m128i sha1_rounds4(__m128i abcd, __m128i e, int g) {
  switch (g / 5) {
    case 0: return _mm_sha1rnds4_epu32(abcd, e, 0);
    case 1: return _mm_sha1rnds4_epu32(abcd, e, 1);
    case 2: return _mm_sha1rnds4_epu32(abcd, e, 2);
    default: return _mm_sha1rnds4_epu32(abcd, e, 3);
  }
}

}  // namespace

// The SHA extensions keep A..D in one register (A in the top lane) and E in the top lane
// of another; each group of four rounds takes four schedule words, and the schedule for
// group g + 4 is made from groups g..g + 3 as soon as group g has used its words.
__attribute__((target("sha,sse4.1"))) bool sha1_blocks_shani(uint32_t h[5], const uint8_t *p, size_t nblocks) {
  if (!sha1_cpu_has_shani()) return false;
  const __m128i big_endian = _mm_set_epi64x(0x0001020304050607ll, 0x08090a0b0c0d0e0fll);
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(h)), 0x1b);
  __m128i e = _mm_set_epi32(int(h[4]), 0, 0, 0);
  for (; nblocks > 0; --nblocks, p += 64) {
    const __m128i abcd_in = abcd, e_in = e;
    __m128i w[4];
    for (int i = 0; i < 4; ++i)
      w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + 16 * i)), big_endian);
    __m128i abcd_before = abcd;
    // Unrolled whole, the group number is a constant: the selector resolves and w[] stays
    // in registers.
#pragma GCC unroll 20
    for (int g = 0; g < 20; ++g) {
      const __m128i we = g == 0 ? _mm_add_epi32(e_in, w[0]) : _mm_sha1nexte_epu32(abcd_before, w[g & 3]);
      abcd_before = abcd;
      abcd = sha1_rounds4(abcd, we, g);
      if (g < 16)
        w[g & 3] = _mm_sha1msg2_epu32(
            _mm_xor_si128(_mm_sha1msg1_epu32(w[g & 3], w[(g + 1) & 3]), w[(g + 2) & 3]), w[(g + 3) & 3]);
    }
    e = _mm_sha1nexte_epu32(abcd_before, e_in);
    abcd = _mm_add_epi32(abcd, abcd_in);
  }
  _mm_storeu_si128(reinterpret_cast<__m128i *>(h), _mm_shuffle_epi32(abcd, 0x1b));
  h[4] = uint32_t(_mm_extract_epi32(e, 3));
  return true;
}

#else

bool sha1_blocks_shani(uint32_t *, const uint8_t *, size_t) { return false; }

#endif

void sha1_blocks(uint32_t h[5], const uint8_t *p, size_t nblocks) {
  if (!sha1_blocks_shani(h, p, nblocks)) sha1_blocks_portable(h, p, nblocks);
}

void sha1_init(uint32_t h[5]) {
  h[0] = 0x67452301u;
  h[1] = 0xefcdab89u;
  h[2] = 0x98badcfeu;
  h[3] = 0x10325476u;
  h[4] = 0xc3d2e1f0u;
}

void sha1_digest(const uint32_t h[5], uint8_t out[SHA1_DIGEST_SIZE]) {
  for (int i = 0; i < 5; ++i) sha1_store_be(out + 4 * i, h[i]);
}

Sha1::Sha1() { sha1_init(h_); }

void Sha1::update(const void *data, size_t len) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  total_ += len;
  if (used_ > 0) {
    size_t take = 64 - used_ < len ? 64 - used_ : len;
    std::memcpy(block_ + used_, p, take);
    used_ += take;
    p += take;
    len -= take;
    if (used_ < 64) return;
    sha1_blocks(h_, block_, 1);
    used_ = 0;
  }
  if (len >= 64) {
    sha1_blocks(h_, p, len / 64);
    p += len & ~size_t(63);
    len &= 63;
  }
  if (len > 0) std::memcpy(block_, p, len);
  used_ = len;
}

void Sha1::finish(uint8_t out[SHA1_DIGEST_SIZE]) {
  const uint64_t bits = total_ * 8;
  block_[used_++] = 0x80;
  if (used_ > 56) {
    std::memset(block_ + used_, 0, 64 - used_);
    sha1_blocks(h_, block_, 1);
    used_ = 0;
  }
  std::memset(block_ + used_, 0, 56 - used_);
  for (int i = 0; i < 8; ++i) block_[56 + i] = uint8_t(bits >> (56 - 8 * i));
  sha1_blocks(h_, block_, 1);
  sha1_digest(h_, out);
}

void sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_SIZE]) {
  Sha1 s;
  s.update(data, len);
  s.finish(out);
}

}  // namespace pushwire
