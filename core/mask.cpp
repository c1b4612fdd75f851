#include "mask.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PUSHWIRE_MASK_AVX2 1
#endif

namespace pushwire {

#if defined(__SSE2__) || defined(PUSHWIRE_NEON)
namespace {
// The source is usually a socket read, not in cache, while dst (the session's arena) is
// reused at every drain and stays in L2. Asking for the source this far ahead, also across
// the page boundaries where the hardware prefetcher stops, keeps the loads from waiting on
// L3 or memory; a prefetch never faults, past the end included.
constexpr size_t kMaskPrefetch = 512;
}  // namespace
#endif

#if defined(PUSHWIRE_MASK_AVX2)
namespace {
constexpr size_t kMaskAvx2Min = 4096;
// The 64-byte steps of mask_copy in two 32-byte registers: half the loads and stores of
// the SSE2 loop.
// Returns how many bytes were done (a multiple of 64).
// kStream: streaming stores (dst 32-byte aligned), fenced before returning, for mask_copy_far.
template <bool kStream>
__attribute__((target("avx2"))) inline size_t mask_copy_avx2_steps(uint8_t *dst, const uint8_t *src, size_t len,
                                                                   uint64_t k64) {
  const __m256i k = _mm256_set1_epi64x(static_cast<long long>(k64));
  size_t i = 0;
  for (; len - i >= 64; i += 64) {
    _mm_prefetch(reinterpret_cast<const char *>(src + i + kMaskPrefetch), _MM_HINT_T0);
    const __m256i a = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(src + i)), k);
    const __m256i b = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(src + i + 32)), k);
    if (kStream) {
      _mm256_stream_si256(reinterpret_cast<__m256i *>(dst + i), a);
      _mm256_stream_si256(reinterpret_cast<__m256i *>(dst + i + 32), b);
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst + i), a);
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst + i + 32), b);
    }
  }
  // Streaming stores are weakly ordered: without the fence a later ordinary store (the
  // release of a lock, say) could become visible before the message bytes.
  if (kStream) _mm_sfence();
  return i;
}
__attribute__((target("avx2"))) size_t mask_copy_avx2(uint8_t *dst, const uint8_t *src, size_t len, uint64_t k64) {
  return mask_copy_avx2_steps<false>(dst, src, len, k64);
}
__attribute__((target("avx2"))) size_t mask_copy_avx2_far(uint8_t *dst, const uint8_t *src, size_t len, uint64_t k64) {
  return mask_copy_avx2_steps<true>(dst, src, len, k64);
}
}  // namespace
#endif

unsigned mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4], unsigned phase) {
  phase &= 3;
  size_t i = 0;
#if defined(__SSE2__) || defined(PUSHWIRE_NEON)
  // Long runs: bring dst to 16-byte alignment first, so no store of the wide loops splits
  // a cache line (in place, that makes the loads aligned too).
  if (len >= 128) {
    size_t head = (16 - (reinterpret_cast<uintptr_t>(dst) & 15)) & 15;
    for (; i < head; ++i) dst[i] = src[i] ^ key[(phase + i) & 3];
    phase = (phase + unsigned(head)) & 3;
    dst += head;
    src += head;
    len -= head;
    i = 0;
  }
#endif
  // Rotating the key by the phase once makes every 4-, 8- and 16-byte step start at key
  // position 0, so the wide loops need no per-byte index arithmetic.
  const uint32_t k32 = mask_key_word(key, phase);
  const uint64_t k64 = uint64_t(k32) << 32 | k32;
  uint8_t rk[8];
  std::memcpy(rk, &k64, 8);
#if defined(PUSHWIRE_MASK_AVX2)
  // Only long runs: measured (CPU time beside memcpy, AMD EPYC) 17% faster than the SSE2
  // loop on 64 KiB frames (W3) but 17% slower on 1 KiB ones (W2), so short ones keep it.
  if (len >= kMaskAvx2Min && __builtin_cpu_supports("avx2")) i = mask_copy_avx2(dst, src, len, k64);
#endif
#if defined(__SSE2__)
  const __m128i k128 = _mm_set1_epi64x(static_cast<long long>(k64));
  for (; len - i >= 64; i += 64) {
    _mm_prefetch(reinterpret_cast<const char *>(src + i + kMaskPrefetch), _MM_HINT_T0);
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i + 32));
    __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i + 48));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i), _mm_xor_si128(a, k128));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i + 16), _mm_xor_si128(b, k128));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i + 32), _mm_xor_si128(c, k128));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i + 48), _mm_xor_si128(d, k128));
  }
  for (; len - i >= 16; i += 16) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i), _mm_xor_si128(a, k128));
  }
#elif defined(PUSHWIRE_NEON)
  // The SSE2 loops' steps in NEON registers (always present on AArch64).
  const uint8x16_t k128 = vreinterpretq_u8_u64(vdupq_n_u64(k64));
  for (; len - i >= 64; i += 64) {
    __builtin_prefetch(src + i + kMaskPrefetch);
    const uint8x16_t a = vld1q_u8(src + i), b = vld1q_u8(src + i + 16);
    const uint8x16_t c = vld1q_u8(src + i + 32), d = vld1q_u8(src + i + 48);
    vst1q_u8(dst + i, veorq_u8(a, k128));
    vst1q_u8(dst + i + 16, veorq_u8(b, k128));
    vst1q_u8(dst + i + 32, veorq_u8(c, k128));
    vst1q_u8(dst + i + 48, veorq_u8(d, k128));
  }
  for (; len - i >= 16; i += 16) vst1q_u8(dst + i, veorq_u8(vld1q_u8(src + i), k128));
#endif
  for (; len - i >= 8; i += 8) {
    uint64_t w;
    std::memcpy(&w, src + i, 8);
    w ^= k64;
    std::memcpy(dst + i, &w, 8);
  }
  // i is a multiple of 8 here, so the tail starts at key position 0 of rk.
  for (unsigned j = 0; i < len; ++i, ++j) dst[i] = src[i] ^ rk[j];
  return (phase + static_cast<unsigned>(len & 3)) & 3;
}

unsigned mask_copy_far(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4], unsigned phase) {
#if defined(PUSHWIRE_MASK_AVX2)
  if (len >= kMaskAvx2Min && __builtin_cpu_supports("avx2")) {
    // Up to dst's next 64-byte line with ordinary stores: the streaming loop then writes
    // whole lines only (a partly written line would be sent to memory in pieces).
    const size_t head = (64 - (reinterpret_cast<uintptr_t>(dst) & 63)) & 63;
    phase = mask_copy(dst, src, head, key, phase);
    const uint32_t k32 = mask_key_word(key, phase);
    const size_t done = head + mask_copy_avx2_far(dst + head, src + head, len - head, uint64_t(k32) << 32 | k32);
    // done - head is a multiple of 64, so the phase is unchanged.
    return mask_copy(dst + done, src + done, len - done, key, phase);
  }
#endif
  return mask_copy(dst, src, len, key, phase);
}

unsigned mask_inplace(uint8_t *data, size_t len, const uint8_t key[4], unsigned phase) {
  return mask_copy(data, data, len, key, phase);
}

}  // namespace pushwire
