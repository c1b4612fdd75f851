// Base64 (RFC 4648 §4, with '=' padding) for handshake keys.
#pragma once

#include "config.hpp"

namespace pushwire {

constexpr size_t base64_encoded_size(size_t n) { return (n + 2) / 3 * 4; }

// Writes base64_encoded_size(len) bytes to out. No terminator.
void base64_encode(const uint8_t *in, size_t len, char *out);
// The same, one 3-byte group at a time everywhere (base64_encode takes 12 bytes at a time
// with SSSE3 where the CPU has it); exposed so tests can hold the two against each other.
void base64_encode_scalar(const uint8_t *in, size_t len, char *out);

// base64_encode of a 20-byte SHA-1 digest (the accept key) in two vector steps where the
// CPU has SSSE3. `in` is the digest followed by 8 zero bytes, which the second step loads.
void base64_encode20(const uint8_t in[28], char out[28]);

// Strict decode: canonical padding, no whitespace, no non-zero trailing bits.
// Returns the decoded length, or -1 if `in` is not canonical base64 or out_cap is too small.
long base64_decode(const char *in, size_t len, uint8_t *out, size_t out_cap);

// Whether base64_decode would decode `in` to exactly `n` bytes (the handshake key's check),
// without decoding: every byte looked up once, no branch per quantum.
bool base64_is_canonical(const uint8_t *in, size_t len, size_t n);

}  // namespace pushwire
