// Line ends of text/event-stream (WHATWG HTML "Parsing an event stream"): CR LF, LF or a
// lone CR. Shared by the writer (which splits data and comments on them, so every string
// survives a browser's parser) and the parser (which splits the stream on them).
#pragma once

#include "config.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pushwire {

// Index of the first CR or LF in p[0..n), or n. One pass, 16 bytes at a time where SSE2
// exists: memchr for LF alone would rescan a whole buffer per line of a CR-only stream.
inline size_t sse_find_line_end(const uint8_t *p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i));
    int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)));
    if (m) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(m)));
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
    if (p[i] == '\n' || p[i] == '\r') return i;
  return n;
}

// Length of the line end starting at p[0] (which is CR or LF): 2 for CR LF, else 1.
inline size_t sse_line_end_size(const uint8_t *p, size_t n) { return (p[0] == '\r' && n > 1 && p[1] == '\n') ? 2 : 1; }

}  // namespace pushwire
