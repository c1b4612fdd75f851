#include "base64.hpp"

#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

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

#if defined(__SSE2__)
// Whether the 16 bytes at p are all alphabet characters. Each range test is the unsigned
// "x - lo <= span" as min(x - lo, span) == x - lo; OR 0x20 folds exactly A-Z onto a-z
// (no other byte lands there), so one test takes both cases.
inline bool b64_alphabet16(const uint8_t *p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
  const __m128i l = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
  const __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
  const __m128i ok = _mm_or_si128(
      _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(25)), l),
                   _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d)),
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')), _mm_cmpeq_epi8(v, _mm_set1_epi8('/'))));
  return _mm_movemask_epi8(ok) == 0xffff;
}
#endif

}  // namespace

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
namespace {

// 12 bytes (of the 16 loaded at `in`) to 16 characters, for the accept key's 20-byte
// digest mostly. Each 32-bit lane gets one 3-byte group, arranged so that two multiplies
// move its four 6-bit values into the lane's four bytes; one shuffle of a 16-entry table
// then maps each value to its character by adding the offset of its range.
__attribute__((target("ssse3"))) void base64_encode12_ssse3(const uint8_t *in, char *out) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(in));
  // Lane k: bytes 3k+1, 3k, 3k+2, 3k+1 (b1 b0 b2 b1), so the values sit at bits
  // 10-15 (b0 >> 2), 4-9, 22-27 and 16-21 of the lane.
  v = _mm_shuffle_epi8(v, _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10));
  // The first and second values shifted down to bytes 0 and 1 (high halves of 16-bit
  // products), the third and fourth up to bytes 2 and 3 (low halves).
  const __m128i hi = _mm_mulhi_epu16(_mm_and_si128(v, _mm_set1_epi32(0x0fc0fc00)), _mm_set1_epi32(0x04000040));
  const __m128i lo = _mm_mullo_epi16(_mm_and_si128(v, _mm_set1_epi32(0x003f03f0)), _mm_set1_epi32(0x01000010));
  const __m128i idx = _mm_or_si128(hi, lo);
  // Range number: 0 for 26-51, 1-10 for 52-61, 11 for 62, 12 for 63, 13 for 0-25.
  __m128i range = _mm_subs_epu8(idx, _mm_set1_epi8(51));
  range = _mm_or_si128(range, _mm_and_si128(_mm_cmpgt_epi8(_mm_set1_epi8(26), idx), _mm_set1_epi8(13)));
  const __m128i offset = _mm_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                       '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
  _mm_storeu_si128(reinterpret_cast<__m128i *>(out), _mm_add_epi8(idx, _mm_shuffle_epi8(offset, range)));
}

}  // namespace
#endif

void base64_encode(const uint8_t *in, size_t len, char *out) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // Twelve bytes at a time while sixteen can be loaded; the scalar loop takes the rest.
  if (len >= 16 && __builtin_cpu_supports("ssse3")) {
    size_t i = 0;
    for (; len - i >= 16; i += 12, out += 16) base64_encode12_ssse3(in + i, out);
    base64_encode_scalar(in + i, len - i, out);
    return;
  }
#endif
  base64_encode_scalar(in, len, out);
}

void base64_encode20(const uint8_t in[28], char out[28]) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (__builtin_cpu_supports("ssse3")) {
    // Bytes 12-19 and a zero byte encode as the last 11 characters (the zero only fills
    // the low bits of the 11th, as padding would); the 12th is the '='.
    char last[16];
    base64_encode12_ssse3(in, out);
    base64_encode12_ssse3(in + 12, last);
    std::memcpy(out + 16, last, 11);
    out[27] = '=';
    return;
  }
#endif
  base64_encode_scalar(in, 20, out);
}

void base64_encode_scalar(const uint8_t *in, size_t len, char *out) {
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
  const uint8_t *r = kB64Reverse.v;
  if (n == 16) {
    // A WebSocket key, every handshake: 22 characters, two overlapping vectors where there
    // are vectors (22 table loads otherwise, a trip count the compiler unrolls), "==", and
    // the 22nd character's low four bits zero (A, Q, g, w), all with constants.
    if (len != 24 || in[22] != '=' || in[23] != '=') return false;
#if defined(__SSE2__)
    if (!b64_alphabet16(in) || !b64_alphabet16(in + 6)) return false;
#else
    uint8_t bad = 0;
    for (size_t i = 0; i < 22; ++i) bad |= r[in[i]];
    if (bad & 0x80) return false;
#endif
    return (r[in[21]] & 0xf) == 0;
  }
  const size_t pad = (3 - n % 3) % 3;
  if (len != base64_encoded_size(n)) return false;
  if (len == 0) return true;
  uint8_t any_bad = 0;
  for (size_t i = 0; i < len - pad; ++i) any_bad |= r[in[i]];
  if (any_bad & 0x80) return false;
  if (pad && (in[len - 1] != '=' || (pad == 2 && in[len - 2] != '='))) return false;
  // The last character before the padding may not carry bits past the data (RFC 4648 §3.5):
  // its low 2 (one '=') or 4 (two) bits are zero.
  return pad == 0 || (r[in[len - pad - 1]] & (pad == 1 ? 0x3 : 0xf)) == 0;
}

}  // namespace pushwire
