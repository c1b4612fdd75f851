// RFC 6455 §5.3 masking: payload[i] ^= key[(phase + i) % 4]. Word-at-a-time (and SIMD
// where available): never a byte loop with % 4 on the hot path.
#pragma once

#include "config.hpp"

namespace pushwire {

// The key as a word in memory order, rotated so that its first byte is key[phase & 3]: a
// 4-, 8-, 16- or 32-byte step starting at that phase XORs with copies of this word.
uint32_t mask_key_word(const uint8_t key[4], unsigned phase);

// XOR data[0..len) in place with the 4-byte key, starting at key position `phase` (0..3).
// Returns the phase after the last byte ((phase + len) % 4), to continue the frame later.
unsigned mask_inplace(uint8_t *data, size_t len, const uint8_t key[4], unsigned phase);

// dst[i] = src[i] ^ key[(phase + i) % 4]: one pass, the copy and the unmask fused.
// dst and src may be equal but must not otherwise overlap. Returns the next phase.
unsigned mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4], unsigned phase);

}  // namespace pushwire
