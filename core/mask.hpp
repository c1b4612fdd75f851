// RFC 6455 §5.3 masking: payload[i] ^= key[(phase + i) % 4]. Word-at-a-time (and SIMD
// where available): never a byte loop with % 4 on the hot path.
#pragma once

#include <cstring>

#include "config.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(PUSHWIRE_NEON)
#include <arm_neon.h>
#endif

namespace pushwire {

// A key word (the 4 key bytes loaded in memory order) rotated so that its first byte in
// memory is key[phase & 3]. Done in a register: building the key byte by byte on the
// stack and reloading it as a word stalls store forwarding, which cost more than the XOR
// itself for small frames.
PUSHWIRE_INLINE uint32_t mask_rotate(uint32_t k32, unsigned phase) {
  const unsigned r = 8 * (phase & 3);
  if (r == 0) return k32;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return (k32 << r) | (k32 >> (32 - r));
#else
  return (k32 >> r) | (k32 << (32 - r));
#endif
}

// The key as a word in memory order, rotated so that its first byte is key[phase & 3]: a
// 4-, 8-, 16- or 32-byte step starting at that phase XORs with copies of this word.
PUSHWIRE_INLINE uint32_t mask_key_word(const uint8_t key[4], unsigned phase) {
  uint32_t k32;
  std::memcpy(&k32, key, 4);
  return mask_rotate(k32, phase);
}

// mask_copy_short's portable path (same contract): 8-byte words, then 4 or single bytes.
// Apart so that tests reach its multi-word loop where SSE2 takes every length from 16 on.
PUSHWIRE_INLINE bool mask_copy_short_words(uint8_t *dst, const uint8_t *src, size_t len, uint32_t k32) {
  uint64_t acc = 0;
  if (len >= 8) {
    // The last word, at offset len - 8, overlaps the one before unless len is a multiple
    // of 8; it starts at key position (len - 8) % 4 == len % 4.
    const uint32_t t32 = mask_rotate(k32, unsigned(len));
    uint64_t last;
    std::memcpy(&last, src + len - 8, 8);
    last ^= uint64_t(t32) << 32 | t32;
    const uint64_t k64 = uint64_t(k32) << 32 | k32;
    for (size_t i = 0; i + 8 < len; i += 8) {
      uint64_t w;
      std::memcpy(&w, src + i, 8);
      w ^= k64;
      std::memcpy(dst + i, &w, 8);
      acc |= w;
    }
    std::memcpy(dst + len - 8, &last, 8);
    acc |= last;
  } else if (len >= 4) {
    uint32_t a, b;
    std::memcpy(&a, src, 4);
    std::memcpy(&b, src + len - 4, 4);
    a ^= k32;
    b ^= mask_rotate(k32, unsigned(len));
    std::memcpy(dst, &a, 4);
    std::memcpy(dst + len - 4, &b, 4);
    acc = a | b;
  } else {
    uint8_t kb[4];
    std::memcpy(kb, &k32, 4);
    for (size_t i = 0; i < len; ++i) {
      dst[i] = uint8_t(src[i] ^ kb[i]);
      acc |= dst[i];
    }
  }
  return (acc & 0x8080808080808080ull) != 0;
}

// A short payload (a frame with a 7-bit length, a small fragment: up to about 128 bytes;
// longer ones work but loop in 16-byte steps) unmasked inline with the key word `k32`
// (0 copies unmasked bytes; mask_key_word(key, phase) starts at any phase): for these,
// the call into mask_copy and its loop setup cost more than the XOR. Every load comes before the
// overlapping last store, so dst may equal src. Returns whether an unmasked byte has its
// top bit set, from which the caller tells ASCII without reading dst again.
PUSHWIRE_INLINE bool mask_copy_short(uint8_t *dst, const uint8_t *src, size_t len, uint32_t k32) {
#if defined(__SSE2__)
  if (len >= 16) {  // the same scheme in 16-byte steps
    const __m128i last = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src + len - 16)),
                                       _mm_set1_epi32(int(mask_rotate(k32, unsigned(len)))));
    const __m128i k = _mm_set1_epi32(int(k32));
    __m128i bits = last;
    for (size_t i = 0; i + 16 < len; i += 16) {
      const __m128i w = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i)), k);
      _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i), w);
      bits = _mm_or_si128(bits, w);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + len - 16), last);
    return _mm_movemask_epi8(bits) != 0;
  }
#elif defined(PUSHWIRE_NEON)
  if (len >= 16) {  // as the SSE2 steps above
    const uint8x16_t last =
        veorq_u8(vld1q_u8(src + len - 16), vreinterpretq_u8_u32(vdupq_n_u32(mask_rotate(k32, unsigned(len)))));
    const uint8x16_t k = vreinterpretq_u8_u32(vdupq_n_u32(k32));
    uint8x16_t bits = last;
    for (size_t i = 0; i + 16 < len; i += 16) {
      const uint8x16_t w = veorq_u8(vld1q_u8(src + i), k);
      vst1q_u8(dst + i, w);
      bits = vorrq_u8(bits, w);
    }
    vst1q_u8(dst + len - 16, last);
    return vmaxvq_u8(bits) >= 0x80;
  }
#endif
  return mask_copy_short_words(dst, src, len, k32);
}

// XOR data[0..len) in place with the 4-byte key, starting at key position `phase` (0..3).
// Returns the phase after the last byte ((phase + len) % 4), to continue the frame later.
unsigned mask_inplace(uint8_t *data, size_t len, const uint8_t key[4], unsigned phase);

// dst[i] = src[i] ^ key[(phase + i) % 4]: one pass, the copy and the unmask fused.
// dst and src may be equal but must not otherwise overlap. Returns the next phase.
unsigned mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4], unsigned phase);

// mask_copy for a message too large to stay in cache until it is read (MASK_FAR_MIN and
// up): where the CPU has AVX2, dst's whole 64-byte lines are written with streaming stores,
// which skip reading each line in before overwriting it and leave the caches to the
// connection's other data. Same contract and result as mask_copy, except that dst and src
// must not overlap at all; complete (fenced) when it returns.
unsigned mask_copy_far(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4], unsigned phase);

// Messages from this size are stored with mask_copy_far. Far above any core's private L2
// and half or more of a shared L3: by the time the application reads such a message,
// little of it would still be cached anyway. (W3b, 16 MiB on AMD EPYC: CPU time 0.84 ->
// 1.28 x memcpy copying; W3's 64 KiB messages stay below, in an arena reused in L2.)
constexpr uint64_t MASK_FAR_MIN = 8u << 20;

}  // namespace pushwire
