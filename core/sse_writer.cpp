#include "sse_writer.hpp"

#include "sse_lines.hpp"
#include "ws_handshake.hpp"

// AVX2, picked at run time, finds the line ends of data (sse_lines.hpp).
#if defined(PUSHWIRE_SSE_AVX2)
#define PUSHWIRE_SSE_WRITER_AVX2 1
#endif

namespace pushwire {

namespace {

bool sse_present(span s) { return s.ptr != nullptr; }

// Calls f(ptr, len) for each line of s, split on CR LF, LF and CR. A string with k line
// breaks has k + 1 lines (the last may be empty), so the split is lossless up to the
// spelling of the breaks.
template <class F>
void sse_for_each_line(span s, F f) {
  const uint8_t *p = s.ptr;
  size_t n = s.len;
  for (;;) {
    size_t e = sse_find_line_end(p, n);
    f(p, e);
    if (e == n) return;
    size_t k = sse_line_end_size(p + e, n - e);
    p += e + k;
    n -= e + k;
  }
}

// Bytes of `name ":" [" " value] LF`.
size_t sse_field_size(size_t name_len, size_t len) { return name_len + 2 + (len ? len + 1 : 0); }

PUSHWIRE_INLINE uint8_t *sse_put(uint8_t *o, const void *p, size_t n) {
  copy_bytes(o, p, n);
  return o + n;
}

PUSHWIRE_INLINE uint8_t *sse_put_field(uint8_t *o, const char *name, size_t name_len, const uint8_t *p, size_t len) {
  o = sse_put(o, name, name_len);
  *o++ = ':';
  if (len) {
    *o++ = ' ';
    o = sse_put(o, p, len);
  }
  *o++ = '\n';
  return o;
}

// The same for every line of s.
size_t sse_lines_size(span s, size_t name_len) {
  size_t total = 0;
  sse_for_each_line(s, [&](const uint8_t *, size_t len) { total += sse_field_size(name_len, len); });
  return total;
}

uint8_t *sse_put_lines(uint8_t *o, const char *name, size_t name_len, span s) {
  sse_for_each_line(s, [&](const uint8_t *p, size_t len) { o = sse_put_field(o, name, name_len, p, len); });
  return o;
}

PUSHWIRE_INLINE size_t sse_decimal_size(uint64_t v) {
  size_t n = 1;
  while (v >= 10) v /= 10, ++n;
  return n;
}

PUSHWIRE_INLINE bool sse_has_message_fields(const SseFields &f) {
  return sse_present(f.event) || sse_present(f.data) || sse_present(f.id) || f.retry >= 0;
}

// A NULL pointer with a length, or no field at all: refused whatever the bytes.
PUSHWIRE_INLINE bool sse_fields_malformed(const SseFields &f) {
  if ((!f.event.ptr && f.event.len) || (!f.data.ptr && f.data.len) || (!f.id.ptr && f.id.len) ||
      (!f.comment.ptr && f.comment.len))
    return true;
  return !sse_has_message_fields(f) && !sse_present(f.comment);
}

uint8_t *sse_put_retry(uint8_t *o, uint64_t v) {
  o = sse_put(o, "retry: ", 7);
  size_t d = sse_decimal_size(v);
  for (size_t i = d; i-- > 0; v /= 10) o[i] = uint8_t('0' + v % 10);
  o += d;
  *o++ = '\n';
  return o;
}

#if defined(__SSE2__)
// Bit i set when byte i of v may not appear in a one-line field: CR, LF, and NUL unless nul_ok.
PUSHWIRE_INLINE unsigned sse_refused_bits(__m128i v, bool nul_ok) {
  unsigned bad = sse_line_end_bits(v);
  if (!nul_ok) bad |= unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())));
  return bad;
}
#endif

// True when s holds no CR or LF (nor NUL, unless nul_ok): event types and ids are one line.
PUSHWIRE_INLINE bool sse_single_line(span s, bool nul_ok) {
#if defined(__SSE2__)
  if (s.len <= 16 && sse_overread_ok(s.ptr, s.len, 16))
    return (sse_refused_bits(sse_load16(s.ptr), nul_ok) & ((1u << s.len) - 1)) == 0;
#endif
  if (sse_no_low_bytes(s.ptr, s.len)) return true;
  for (size_t i = 0; i < s.len; ++i) {
    uint8_t c = s.ptr[i];
    if (c <= '\r' && (c == '\r' || c == '\n' || (c == 0 && !nul_ok))) return false;
  }
  return true;
}

#if defined(__SSE2__)
// The encoder's one-pass path, for output with room past the event (sse_encoded_bound):
// strings are moved in fixed-size pieces whose excess later stores overwrite, so events
// whose lines differ in length still take the same branches.

// An event type or id on the one-pass path. It is checked before anything is stored (a
// refused event writes nothing) and, when short (the usual case), the 16-byte load that
// checked it is the one stored: each byte is read once.
struct SseLineField {
  span v{nullptr, 0};
  __m128i x = _mm_setzero_si128();
  bool short_ = false;

  // False when the field holds a refused byte (see sse_refused_bits).
  PUSHWIRE_INLINE bool load(span s, bool nul_ok) {
    v = s;
    short_ = s.len <= 16 && sse_overread_ok(s.ptr, s.len, 16);
    if (!short_) return sse_single_line(s, nul_ok);
    x = sse_load16(s.ptr);
    return (sse_refused_bits(x, nul_ok) & ((1u << s.len) - 1)) == 0;
  }
  // For a field known to hold 1 to 16 bytes readable as 16 (sse_short16): the refused bytes
  // of it, as bits, so that the checks of event type and id are one branch.
  PUSHWIRE_INLINE unsigned load_short(span s, bool nul_ok) {
    v = s;
    short_ = true;
    x = sse_load16(s.ptr);
    return sse_refused_bits(x, nul_ok) & ((1u << s.len) - 1);
  }
  // `name ": " value LF`, or `name ":" LF` when empty; `head` is name ": " in 8 readable bytes.
  PUSHWIRE_INLINE uint8_t *put(uint8_t *o, const char *head, size_t head_len) const {
    std::memcpy(o, head, 8);
    o += v.len ? head_len : head_len - 1;
    if (short_) {
      _mm_storeu_si128(reinterpret_cast<__m128i *>(o), x);
      o += v.len;
    } else {
      o = sse_copy_wide(o, v.ptr, v.len, v.len);
    }
    *o++ = '\n';
    return o;
  }
};

// Whether s holds 1 to 16 bytes and 16 may be read (an absent field, empty, is not short).
PUSHWIRE_INLINE bool sse_short16(span s) {
  return (s.len - 1 < 16) & ((uintptr_t(s.ptr) + s.len - 1) >> 12 == (uintptr_t(s.ptr) + 15) >> 12);
}

// Whether 64 bytes may be read from anywhere in s[0..n): the page of its last byte goes on
// 63 bytes past it. One test per event then covers every line's wide moves.
PUSHWIRE_INLINE bool sse_tail_readable(const uint8_t *p, size_t n) {
  return n && ((uintptr_t(p) + n - 1) >> 12) == ((uintptr_t(p) + n + 63) >> 12);
}

// The data walk of the one-pass path, for a vector width V: V::scan finds the line ends of a
// 128-byte block, V::put_line moves one line's bytes p[0..n) after the "data: " already
// stored, in whole 64-byte steps when tail_ok (else p[0..readable) may be read), and takes
// back the space when the line is empty (no trailing blank on `data:`). Same bytes as
// sse_put_lines(o, "data", 4, s).
template <class V>
PUSHWIRE_INLINE uint8_t *sse_put_data_lines(uint8_t *o, span s, bool tail_ok) {
  const uint8_t *line = s.ptr, *end = s.ptr + s.len;
  std::memcpy(o, "data: \0", 8);
  o += 6;
  for (const uint8_t *w = s.ptr; w < end; w += 128) {
    for (SseLineEnds128 m = V::scan(w, size_t(end - w)); !m.empty();) {
      const uint8_t *e = w + m.pop();
      if (e < line) continue;  // the LF of a CR LF
      o = V::put_line(o, line, size_t(e - line), size_t(end - line), tail_ok);
      std::memcpy(o, "\ndata: ", 8);
      o += 7;
      line = e + sse_line_end_size(e, size_t(end - e));
    }
  }
  o = V::put_line(o, line, size_t(end - line), size_t(end - line), tail_ok);
  *o++ = '\n';
  return o;
}

struct SseData16 {
  static PUSHWIRE_INLINE SseLineEnds128 scan(const uint8_t *p, size_t n) { return SseLineEnds128::scan(p, n); }
  static PUSHWIRE_INLINE uint8_t *put_line(uint8_t *o, const uint8_t *p, size_t n, size_t readable, bool tail_ok) {
    if (tail_ok) {
      for (size_t i = 0; i < n; i += 64)
        for (int k = 0; k < 4; ++k)
          _mm_storeu_si128(reinterpret_cast<__m128i *>(o + i + 16 * k), sse_load16(p + i + 16 * k));
      o += n;
    } else {
      o = sse_copy_wide(o, p, n, readable);
    }
    return o - (n == 0);
  }
};

#if defined(PUSHWIRE_SSE_WRITER_AVX2)
// The same in 32-byte registers, for data whose tail is readable (sse_tail_readable): the
// page test of each half and line is then known to pass. The members are plain inline (an
// AVX2 function cannot be forced into the template's default-target body); the flattened
// AVX2 entry below is where they are inlined.
struct SseData32 {
  // SseLineEnds128::scan(p, n): reads p[0..64), and p[64..128) only when n > 64, so never
  // more than 63 bytes past the data.
  __attribute__((target("avx2"))) static SseLineEnds128 scan(const uint8_t *p, size_t n) {
    const uint64_t lo = sse_line_ends64_avx2(p), hi = n > 64 ? sse_line_ends64_avx2(p + 64) : 0;
    const uint64_t all = ~uint64_t(0);
    return SseLineEnds128{n >= 64 ? lo : lo & ~(all << n), n >= 128 ? hi : n > 64 ? hi & ~(all << (n - 64)) : 0};
  }
  __attribute__((target("avx2"))) static uint8_t *put_line(uint8_t *o, const uint8_t *p, size_t n, size_t, bool) {
    for (size_t i = 0; i < n; i += 64) {
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(o + i), sse_load32_avx2(p + i));
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(o + i + 32), sse_load32_avx2(p + i + 32));
    }
    return o + n - (n == 0);
  }
};

__attribute__((target("avx2"), flatten)) uint8_t *sse_put_data_avx2(uint8_t *o, span s) {
  return sse_put_data_lines<SseData32>(o, s, true);
}
#endif

// Whether 64 bytes may be read from anywhere in the data is tested once per event; then
// AVX2, where the CPU has it, walks the lines.
PUSHWIRE_INLINE uint8_t *sse_put_data_wide(uint8_t *o, span s) {
  const bool tail_ok = sse_tail_readable(s.ptr, s.len);
#if defined(PUSHWIRE_SSE_WRITER_AVX2)
  if (tail_ok && __builtin_cpu_supports("avx2")) return sse_put_data_avx2(o, s);
#endif
  return sse_put_data_lines<SseData16>(o, s, tail_ok);
}

// The data walk of sse_encode_wide, named by type: a single event asks the CPU for AVX2
// (SseDataAsk); a batch asks once and compiles its whole loop for the answer, so the walk
// is inlined into it with no call and no question per event.
struct SseDataAsk {
  static PUSHWIRE_INLINE uint8_t *put(uint8_t *o, span s) { return sse_put_data_wide(o, s); }
};
struct SseDataSse2 {
  static PUSHWIRE_INLINE uint8_t *put(uint8_t *o, span s) {
    return sse_put_data_lines<SseData16>(o, s, sse_tail_readable(s.ptr, s.len));
  }
};
#if defined(PUSHWIRE_SSE_WRITER_AVX2)
struct SseDataAvx2 {
  __attribute__((target("avx2"))) static uint8_t *put(uint8_t *o, span s) {
    if (sse_tail_readable(s.ptr, s.len)) return sse_put_data_lines<SseData32>(o, s, true);
    return sse_put_data_lines<SseData16>(o, s, false);
  }
};
#endif

// The one-pass encoder: nullptr (nothing stored) when the event type or id is refused.
template <class Data>
PUSHWIRE_INLINE uint8_t *sse_encode_wide(const SseFields &f, uint8_t *o) {
  SseLineField event, id;
  // Both tests, then one branch: `&` rather than `&&`, which would branch on each.
  if (PUSHWIRE_LIKELY(unsigned(sse_short16(f.event)) & unsigned(sse_short16(f.id)))) {
    // The usual event: a short type and id, checked together, stored without a branch.
    if (event.load_short(f.event, true) | id.load_short(f.id, false)) return nullptr;
    if (PUSHWIRE_UNLIKELY(sse_present(f.comment))) o = sse_put_lines(o, "", 0, f.comment);
    o = event.put(o, "event: ", 7);
    o = id.put(o, "id: \0\0\0", 4);
  } else {
    if ((sse_present(f.event) && !event.load(f.event, true)) || (sse_present(f.id) && !id.load(f.id, false)))
      return nullptr;
    if (PUSHWIRE_UNLIKELY(sse_present(f.comment))) o = sse_put_lines(o, "", 0, f.comment);
    if (sse_present(f.event)) o = event.put(o, "event: ", 7);
    if (sse_present(f.id)) o = id.put(o, "id: \0\0\0", 4);
  }
  if (PUSHWIRE_UNLIKELY(f.retry >= 0)) o = sse_put_retry(o, uint64_t(f.retry));
  if (sse_present(f.data)) o = Data::put(o, f.data);
  if (sse_has_message_fields(f)) *o++ = '\n';
  return o;
}
#else
struct SseDataAsk {};
struct SseDataSse2 {};
// Without SSE2 the exact path serves the roomy one too.
template <class Data>
uint8_t *sse_encode_wide(const SseFields &f, uint8_t *o) {
  if (sse_check_fields(f)) return nullptr;
  return o + sse_encode(f, o);
}
#endif

}  // namespace

int sse_check_fields(const SseFields &f) {
  if (sse_fields_malformed(f)) return ERR_INVALID_ARGUMENT;
  // A line break would end the field early and start another line the caller never wrote;
  // a browser ignores an id holding NUL, so refuse it rather than let the client keep an older id.
  if (!sse_single_line(f.event, true) || !sse_single_line(f.id, false)) return ERR_INVALID_ARGUMENT;
  return 0;
}

namespace {

// Every input byte costs at most 7 output bytes (a lone line break in data ends one line
// and starts "data: " for the next); past this bound the sums below could wrap, and no
// real buffer could hold the result anyway.
bool sse_lengths_fit(const SseFields &f) {
  const size_t limit = (SIZE_MAX - 64) / 8;
  return f.event.len <= limit && f.id.len <= limit && f.data.len <= limit && f.comment.len <= limit &&
         f.data.len + f.comment.len <= limit;
}

}  // namespace

size_t sse_encoded_bound(const SseFields &f) {
  // Keeps the sum below from wrapping. One less than a power of two, so one test of all the
  // lengths ORed together tells whether any passes it.
  const size_t limit = SIZE_MAX >> 6;
  if ((f.event.len | f.id.len | f.data.len | f.comment.len) > limit) return SIZE_MAX;
  // A line of k bytes costs name + 3 + k at most, and n bytes hold at most n + 1 lines.
  return 3 * (f.comment.len + 1) + 7 * (f.data.len + 1) + (8 + f.event.len) + (5 + f.id.len) + 27 + 1 + 64;
}

size_t sse_encoded_size(const SseFields &f) {
  if (!sse_lengths_fit(f)) return SIZE_MAX;
  size_t n = 0;
  if (sse_present(f.comment)) n += sse_lines_size(f.comment, 0);
  if (sse_present(f.event)) n += sse_field_size(5, f.event.len);
  if (sse_present(f.id)) n += sse_field_size(2, f.id.len);
  if (f.retry >= 0) n += 8 + sse_decimal_size(uint64_t(f.retry));
  if (sse_present(f.data)) n += sse_lines_size(f.data, 4);
  if (sse_has_message_fields(f)) n += 1;
  return n;
}

size_t sse_encode(const SseFields &f, uint8_t *out, bool roomy) {
  if (roomy) return size_t(sse_encode_wide<SseDataAsk>(f, out) - out);
  uint8_t *o = out;
  if (sse_present(f.comment)) o = sse_put_lines(o, "", 0, f.comment);
  if (sse_present(f.event)) o = sse_put_field(o, "event", 5, f.event.ptr, f.event.len);
  if (sse_present(f.id)) o = sse_put_field(o, "id", 2, f.id.ptr, f.id.len);
  if (f.retry >= 0) o = sse_put_retry(o, uint64_t(f.retry));
  if (sse_present(f.data)) o = sse_put_lines(o, "data", 4, f.data);
  if (sse_has_message_fields(f)) *o++ = '\n';
  return size_t(o - out);
}

namespace {

// The checked, exact-size path for a buffer that may be too small: kept out of line (also
// out of the flattened AVX2 batch), as only the last events of a full buffer take it.
__attribute__((noinline)) int sse_encode_exact_into(const SseFields &f, uint8_t *out, size_t cap, size_t *written) {
  int rc = sse_check_fields(f);
  if (rc) return rc;
  const size_t n = sse_encoded_size(f);
  *written = n;
  if (n > cap) return ERR_BUFFER_TOO_SMALL;
  sse_encode(f, out);
  return 0;
}

}  // namespace

int sse_encode_into(const SseFields &f, uint8_t *out, size_t cap, size_t *written) {
  if (sse_fields_malformed(f)) return ERR_INVALID_ARGUMENT;
  if (sse_encoded_bound(f) <= cap) {  // one pass, checking as it goes; the exact size is needed only for a tight buffer
    uint8_t *end = sse_encode_wide<SseDataAsk>(f, out);
    if (!end) return ERR_INVALID_ARGUMENT;
    *written = size_t(end - out);
    return 0;
  }
  return sse_encode_exact_into(f, out, cap, written);
}

namespace {

// The batch loop for one data walk; the per-event steps of sse_encode_into, inlined.
template <class Data>
PUSHWIRE_INLINE int sse_encode_batch(const pushwire_sse_fields *events, size_t count, uint8_t *out, size_t cap,
                                     size_t *written, size_t *encoded) {
  size_t pos = 0, i = 0;
  int rc = 0;
  for (; i < count; ++i) {
    const pushwire_sse_fields &e = events[i];
    if (!sse_reserved_clear(e)) {
      rc = ERR_INVALID_ARGUMENT;
      break;
    }
    const SseFields f = sse_fields_from(e);
    if (sse_fields_malformed(f)) {
      rc = ERR_INVALID_ARGUMENT;
      break;
    }
    if (sse_encoded_bound(f) <= cap - pos) {
      uint8_t *end = sse_encode_wide<Data>(f, out + pos);
      if (!end) {
        rc = ERR_INVALID_ARGUMENT;
        break;
      }
      pos = size_t(end - out);
    } else {
      size_t n = 0;
      rc = sse_encode_exact_into(f, out + pos, cap - pos, &n);
      if (rc) break;
      pos += n;
    }
  }
  *written = pos;
  *encoded = i;
  return rc;
}

#if defined(PUSHWIRE_SSE_WRITER_AVX2)
__attribute__((target("avx2"), flatten)) int sse_encode_batch_avx2(const pushwire_sse_fields *events, size_t count,
                                                                   uint8_t *out, size_t cap, size_t *written,
                                                                   size_t *encoded) {
  return sse_encode_batch<SseDataAvx2>(events, count, out, cap, written, encoded);
}
#endif

}  // namespace

int sse_encode_many(const pushwire_sse_fields *events, size_t count, uint8_t *out, size_t cap, size_t *written,
                    size_t *encoded, bool avx2_ok) {
#if defined(PUSHWIRE_SSE_WRITER_AVX2)
  if (avx2_ok && __builtin_cpu_supports("avx2")) return sse_encode_batch_avx2(events, count, out, cap, written, encoded);
#else
  (void)avx2_ok;
#endif
  return sse_encode_batch<SseDataSse2>(events, count, out, cap, written, encoded);
}

// ---------------------------------------------------------------------------
// Request

namespace {

// RFC 9110 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")], in thousandths; -1 if malformed.
int sse_parse_qvalue(span s) {
  if (s.len == 0 || s.len > 5 || (s.ptr[0] != '0' && s.ptr[0] != '1')) return -1;
  int q = (s.ptr[0] - '0') * 1000;
  if (s.len == 1) return q;
  if (s.ptr[1] != '.') return -1;
  int scale = 100;
  for (size_t i = 2; i < s.len; ++i, scale /= 10) {
    if (s.ptr[i] < '0' || s.ptr[i] > '9') return -1;
    q += (s.ptr[i] - '0') * scale;
  }
  return q > 1000 ? -1 : q;
}

// How specifically a media range names text/event-stream: 3 exactly, 2 text/*, 1 */*, 0 not at all.
int sse_range_rank(span range) {
  if (equals_ci(range, "text/event-stream")) return 3;
  if (equals_ci(range, "text/*")) return 2;
  if (equals_ci(range, "*/*")) return 1;
  return 0;
}

bool sse_accept_admits(const HttpHead &req) {
  int best_rank = 0, best_q = 0;
  bool any_field = false;
  span value;
  for (size_t i = 0; req.find("Accept", i, &value); ++i) {
    any_field = true;
    span rest = value, element;
    while (next_list_element(&rest, &element)) {
      const uint8_t *semi = static_cast<const uint8_t *>(std::memchr(element.ptr, ';', element.len));
      size_t range_len = semi ? size_t(semi - element.ptr) : element.len;
      int rank = sse_range_rank(trim_ows(span{element.ptr, range_len}));
      if (!rank) continue;
      int q = 1000;
      span params{element.ptr + range_len, element.len - range_len};
      while (params.len) {  // each starts with ';'
        const uint8_t *next = static_cast<const uint8_t *>(std::memchr(params.ptr + 1, ';', params.len - 1));
        size_t len = next ? size_t(next - params.ptr) : params.len;
        span param = trim_ows(span{params.ptr + 1, len - 1});
        if (param.len >= 2 && (param.ptr[0] == 'q' || param.ptr[0] == 'Q') && param.ptr[1] == '=')
          q = sse_parse_qvalue(span{param.ptr + 2, param.len - 2});
        params = span{params.ptr + len, params.len - len};
      }
      if (q < 0) continue;  // a malformed weight: ignore the element, as if not listed
      if (rank > best_rank) {
        best_rank = rank;
        best_q = q;
      } else if (rank == best_rank && q > best_q) {
        best_q = q;
      }
    }
  }
  if (!any_field) return true;
  return best_rank > 0 && best_q > 0;
}

}  // namespace

int sse_check_request(const HttpHead &req, span *last_event_id) {
  if (!req.complete()) return ERR_INVALID_STATE;
  if (last_event_id) {
    span id{nullptr, 0};
    if (!req.find("Last-Event-ID", 0, &id)) id = span{nullptr, 0};
    *last_event_id = id;
  }
  return sse_accept_admits(req) ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Writer

namespace {
const char kSseHead[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-cache\r\n"
    "X-Accel-Buffering: no\r\n";
// The head writes these; Content-Length would cut an endless stream short.
const char *const kSseOwnHeaders[] = {"Content-Type", "Cache-Control", "X-Accel-Buffering", "Content-Length"};
}  // namespace

SseWriter::SseWriter(const Allocator *alloc) : out_(alloc), headers_(alloc) {}

int SseWriter::add_header(span name, span value) {
  if (head_queued_) return ERR_INVALID_STATE;
  for (const char *own : kSseOwnHeaders)
    if (equals_ci(name, own)) return ERR_INVALID_ARGUMENT;
  return ws_add_extra_header(headers_, name, value);
}

int SseWriter::response_head() {
  if (head_queued_ || output_started_) return ERR_INVALID_STATE;
  size_t n = sizeof kSseHead - 1 + headers_.size() + 2;
  if (n > max_output_ || out_.size() > max_output_ - n) return ERR_BUFFER_FULL;
  uint8_t *o = out_.extend(n);
  if (!o) return ERR_NOMEM;
  o = sse_put(o, kSseHead, sizeof kSseHead - 1);
  o = sse_put(o, headers_.data(), headers_.size());
  sse_put(o, "\r\n", 2);
  head_queued_ = output_started_ = active_ = true;
  headers_.release();
  return 0;
}

int SseWriter::event(const SseFields &f) {
  int rc = sse_check_fields(f);
  if (rc) return rc;
  // One pass when the bound fits under the limit; the exact size is needed only near it.
  size_t room = out_.size() > max_output_ ? 0 : max_output_ - out_.size();
  const size_t bound = sse_encoded_bound(f);
  const bool roomy = bound <= room;
  const size_t n = roomy ? bound : sse_encoded_size(f);
  if (n > room) return ERR_BUFFER_FULL;
  uint8_t *o = out_.extend(n);
  if (!o) return ERR_NOMEM;
  out_.shrink_by(n - sse_encode(f, o, roomy));
  output_started_ = active_ = true;
  return 0;
}

int SseWriter::comment(span text) {
  if (!text.ptr && text.len) return ERR_INVALID_ARGUMENT;
  SseFields f;
  f.comment = text.ptr ? text : make_span("", 0);
  return event(f);
}

int SseWriter::consume(size_t n) {
  if (n > out_.size()) return ERR_INVALID_ARGUMENT;
  out_.consume(n);
  return 0;
}

int SseWriter::tick(uint64_t now_ms, uint64_t *next_ms) {
  if (heartbeat_ms_ == 0) {
    if (next_ms) *next_ms = UINT64_MAX;
    return 0;
  }
  if (!clock_started_ || active_ || now_ms < last_activity_ms_) {
    last_activity_ms_ = now_ms;
    clock_started_ = true;
    active_ = false;
  }
  int queued = 0;
  if (now_ms - last_activity_ms_ >= heartbeat_ms_) {
    int rc = comment(make_span("heartbeat", 9));
    if (rc) return rc;
    last_activity_ms_ = now_ms;
    active_ = false;
    queued = 1;
  }
  if (next_ms)
    *next_ms = last_activity_ms_ > UINT64_MAX - heartbeat_ms_ ? UINT64_MAX : last_activity_ms_ + heartbeat_ms_;
  return queued;
}

}  // namespace pushwire
