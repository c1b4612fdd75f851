// UTF-8 validation (RFC 3629: no surrogates, no overlongs, at most U+10FFFF), either of a
// whole buffer or incrementally, with the state carried across frames and feeds.
// Fail-fast: an invalid prefix is rejected at the first byte that makes every
// continuation impossible (F4 90 fails at 90, ED A0 at A0), not at the end of the sequence.
#pragma once

#include "config.hpp"
#include "mask.hpp"

namespace pushwire {

// Incremental validator state; zero-initialised means "between characters".
struct Utf8State {
  uint32_t state = 0;  // implementation-defined; 0 = at a character boundary
  bool at_boundary() const { return state == 0; }
  void reset() { state = 0; }
};

// Validate the next piece of a stream. Returns true if data is a valid continuation of
// what came before (a character may remain unfinished: check at_boundary() at the end).
// On false, *bad_offset (if non-NULL) receives the index in data of the first byte that
// made the stream invalid, and the state is left failed (it keeps returning false).
bool utf8_feed(Utf8State &st, const uint8_t *data, size_t len, size_t *bad_offset = nullptr);

// utf8_feed without the vector paths picked at run time (same results): for tests that
// must cover the portable code on any machine, and for benchmarks.
bool utf8_feed_scalar(Utf8State &st, const uint8_t *data, size_t len, size_t *bad_offset = nullptr);

// One pass for masked text: dst[i] = src[i] ^ key[(*phase + i) % 4] for all len bytes (as
// mask_copy; dst may equal src, but must not otherwise overlap; *phase is advanced), and
// the unmasked bytes validated as utf8_feed(st, dst, len, bad_offset) would (same result,
// offset and state), while each block is still in registers.
bool utf8_feed_unmask_long(Utf8State &st, uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                           unsigned *phase, size_t *bad_offset);
// Below this, one pass gains nothing: the two calls are made directly (small fragments).
constexpr size_t UTF8_UNMASK_FUSED_MIN = 128;
inline bool utf8_feed_unmask(Utf8State &st, uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                             unsigned *phase, size_t *bad_offset = nullptr) {
  if (len >= UTF8_UNMASK_FUSED_MIN) return utf8_feed_unmask_long(st, dst, src, len, key, phase, bad_offset);
  *phase = mask_copy(dst, src, len, key, *phase);
  return utf8_feed(st, dst, len, bad_offset);
}

// Whole-buffer validation: valid and complete.
bool utf8_valid(const uint8_t *data, size_t len);

// For streaming text delivery: the length of the longest prefix of data (which is a valid
// continuation of `before`) that ends on a character boundary.
size_t utf8_boundary_prefix(const uint8_t *data, size_t len);

}  // namespace pushwire
