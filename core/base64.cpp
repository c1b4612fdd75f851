#include "base64.hpp"

namespace pushwire {
namespace {

constexpr char kB64Alphabet[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Reverse alphabet: 0..63 for alphabet characters, 0xff for everything else (including
// '=', whitespace and the URL-safe alphabet, which RFC 6455 keys never use).
struct B64Reverse {
  uint8_t v[256];
};

constexpr B64Reverse b64_make_reverse() {
  B64Reverse r{};
  for (int i = 0; i < 256; ++i) r.v[i] = 0xff;
  for (int i = 0; i < 64; ++i) r.v[static_cast<uint8_t>(kB64Alphabet[i])] = static_cast<uint8_t>(i);
  return r;
}

constexpr B64Reverse kB64Reverse = b64_make_reverse();

}  // namespace

void base64_encode(const uint8_t *in, size_t len, char *out) {
  size_t i = 0;
  for (; i + 3 <= len; i += 3, out += 4) {
    uint32_t v = (uint32_t(in[i]) << 16) | (uint32_t(in[i + 1]) << 8) | in[i + 2];
    out[0] = kB64Alphabet[v >> 18];
    out[1] = kB64Alphabet[(v >> 12) & 63];
    out[2] = kB64Alphabet[(v >> 6) & 63];
    out[3] = kB64Alphabet[v & 63];
  }
  size_t rest = len - i;
  if (rest == 0) return;
  uint32_t v = uint32_t(in[i]) << 16;
  if (rest == 2) v |= uint32_t(in[i + 1]) << 8;
  out[0] = kB64Alphabet[v >> 18];
  out[1] = kB64Alphabet[(v >> 12) & 63];
  out[2] = rest == 2 ? kB64Alphabet[(v >> 6) & 63] : '=';
  out[3] = '=';
}

long base64_decode(const char *in, size_t len, uint8_t *out, size_t out_cap) {
  if (len % 4 != 0) return -1;
  if (len == 0) return 0;
  const uint8_t *s = reinterpret_cast<const uint8_t *>(in);
  // Padding may only occupy the last one or two positions of the last quantum.
  size_t pad = s[len - 1] == '=' ? (s[len - 2] == '=' ? 2 : 1) : 0;
  size_t n = len / 4 * 3 - pad;
  if (n > out_cap) return -1;
  const uint8_t *r = kB64Reverse.v;
  size_t full = pad ? len - 4 : len;
  size_t o = 0;
  for (size_t i = 0; i < full; i += 4) {
    uint32_t a = r[s[i]], b = r[s[i + 1]], c = r[s[i + 2]], d = r[s[i + 3]];
    if ((a | b | c | d) & 0x80) return -1;
    uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = uint8_t(v >> 16);
    out[o++] = uint8_t(v >> 8);
    out[o++] = uint8_t(v);
  }
  if (pad) {
    const uint8_t *q = s + full;
    uint32_t a = r[q[0]], b = r[q[1]];
    uint32_t c = pad == 1 ? r[q[2]] : 0;
    if ((a | b | c) & 0x80) return -1;
    uint32_t v = (a << 18) | (b << 12) | (c << 6);
    // Canonical encodings leave the bits below the last decoded byte zero (RFC 4648 §3.5).
    if (v & (pad == 1 ? 0xffu : 0xffffu)) return -1;
    out[o++] = uint8_t(v >> 16);
    if (pad == 1) out[o++] = uint8_t(v >> 8);
  }
  return static_cast<long>(o);
}

bool base64_is_canonical(const uint8_t *in, size_t len, size_t n) {
  const size_t pad = (3 - n % 3) % 3;
  if (len != base64_encoded_size(n)) return false;
  if (len == 0) return true;
  const uint8_t *r = kB64Reverse.v;
  uint8_t any_bad = 0;
  if (n == 16) {
    // A WebSocket key: 22 characters, a trip count the compiler unrolls.
    for (size_t i = 0; i < 22; ++i) any_bad |= r[in[i]];
  } else {
    for (size_t i = 0; i < len - pad; ++i) any_bad |= r[in[i]];
  }
  if (any_bad & 0x80) return false;
  if (pad && (in[len - 1] != '=' || (pad == 2 && in[len - 2] != '='))) return false;
  // The last character before the padding may not carry bits past the data (RFC 4648 §3.5):
  // its low 2 (one '=') or 4 (two) bits are zero.
  return pad == 0 || (r[in[len - pad - 1]] & (pad == 1 ? 0x3 : 0xf)) == 0;
}

}  // namespace pushwire
