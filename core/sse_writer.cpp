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

// sse_encoded_bound for lengths that are all at most kSseBoundLimit (the sum cannot wrap
// then). One less than a power of two, so one test of all the lengths ORed together tells
// whether any passes it.
constexpr size_t kSseBoundLimit = SIZE_MAX >> 6;
PUSHWIRE_INLINE size_t sse_bound_of(const SseFields &f) {
  // A line of k bytes costs name + 3 + k at most, and n bytes hold at most n + 1 lines.
  return 3 * (f.comment.len + 1) + 7 * (f.data.len + 1) + (8 + f.event.len) + (5 + f.id.len) + 27 + 1 + 64;
}

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

// Whether 64 bytes may be read from anywhere in s[0..n], its end included: the page of its
// last byte goes on 64 bytes past it. One test per event then covers every line's moves.
PUSHWIRE_INLINE bool sse_tail_readable(const uint8_t *p, size_t n) {
  return n && ((uintptr_t(p) + n - 1) >> 12) == ((uintptr_t(p) + n + 63) >> 12);
}

// The data walk for a vector width V, whose move64(o, p) stores the 64 bytes at p to o and
// returns the bits of their line ends (CR or LF). Each step moves the 64 bytes from the
// line's next byte and takes the first line end among them, so a line of up to 62 bytes is
// one step wherever it lies (no 64-byte block edges to cross, no list of line ends to
// walk), and a longer one a step per 62 bytes; the excess of a move is overwritten by the
// next line's "\ndata: " and bytes. Same bytes as sse_put_lines(o, "data", 4, s); o has
// room for 7 * s.len + 77 bytes. 64 bytes may be read from anywhere in s[0..len] when
// tail_ok, else its last bytes are moved from a zeroed copy.
template <class V>
PUSHWIRE_INLINE uint8_t *sse_put_data(uint8_t *o, span s, bool tail_ok) {
  const uint8_t *p = s.ptr, *end = s.ptr + s.len;
  // Past a line end the walk moves 64 bytes from further in the copy: room for 64 bytes
  // from its last data byte (rem < 64), all of them zero.
  uint8_t tail[128];
  std::memcpy(o, "data: \0", 8);
  o += 6;
  for (;;) {
    const size_t rem = size_t(end - p);
    if (!tail_ok && rem < 64) {  // a move from p could pass the page of the last byte
      std::memset(tail, 0, sizeof tail);
      if (rem) std::memcpy(tail, p, rem);
      p = tail;
      end = tail + rem;
      tail_ok = true;
    }
    const uint64_t ends = V::move64(o, p);
    // Bit 63 stands in for "no line end in the first 63 bytes", so p[e + 1] is among the
    // 64 read when e < 63 (the LF of a CR LF).
    const size_t e = V::first(ends | uint64_t(1) << 63);
    // A line end at p[0], or the data's end there, makes an empty line: "data:" without the
    // space. A long line goes on from its 63rd byte, which is no line end, so p[0] is a line
    // end (or the data's end) only at the start of a line.
    if (e >= rem) {  // the last line: no line end before the data's end
      o += rem;
      o -= rem == 0;
      break;
    }
    o -= e == 0;
    if (PUSHWIRE_UNLIKELY(e == 63)) {  // no line end in p[0..63): the line goes on from p[62]
      o += 62;
      p += 62;
      continue;
    }
    std::memcpy(o + e, "\ndata: ", 8);
    o += e + 7;
    size_t skip = 1;
    if (PUSHWIRE_UNLIKELY(p[e] == '\r') && e + 1 < rem && p[e + 1] == '\n') skip = 2;
    p += e + skip;
  }
  *o++ = '\n';
  return o;
}

// SSE2: four 16-byte moves.
struct SseMove16 {
  static PUSHWIRE_INLINE uint64_t move64(uint8_t *o, const uint8_t *p) {
    uint64_t m = 0;
    for (int i = 0; i < 4; ++i) {
      const __m128i v = sse_load16(p + 16 * i);
      _mm_storeu_si128(reinterpret_cast<__m128i *>(o + 16 * i), v);
      m |= uint64_t(sse_line_end_bits(v)) << (16 * i);
    }
    return m;
  }
  // The index of the lowest bit of m != 0.
  static PUSHWIRE_INLINE size_t first(uint64_t m) { return unsigned(__builtin_ctzll(m)); }
  // Bit i set when byte i of x may not appear in a one-line field (sse_refused_bits).
  static PUSHWIRE_INLINE unsigned refused(__m128i x, bool nul_ok) { return sse_refused_bits(x, nul_ok); }
};

#if defined(PUSHWIRE_SSE_WRITER_AVX2)
// Byte classes by table (pshufb): an entry holds the byte of its low nibble that it finds, a
// byte with bit 7 set finds 0, and 0x80 in an entry matches no byte below 0x80, so a byte
// equals its entry exactly when it is one of the bytes sought.
alignas(16) constexpr uint8_t kSseFindLineEnds[16] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                                      0x80, 0x80, '\n', 0x80, 0x80, '\r', 0x80, 0x80};
alignas(16) constexpr uint8_t kSseFindLineEndsNul[16] = {0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                                         0x80, 0x80, '\n', 0x80, 0x80, '\r', 0x80, 0x80};

// AVX2: two 32-byte moves. Plain inline (an AVX2 function cannot be forced into a
// default-target body); the flattened AVX2 entries below inline it.
struct SseMove32 {
  __attribute__((target("avx2,bmi,bmi2"))) static uint64_t move64(uint8_t *o, const uint8_t *p) {
    const __m256i t = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i *>(kSseFindLineEnds)));
    const __m256i a = sse_load32_avx2(p), b = sse_load32_avx2(p + 32);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(o), a);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(o + 32), b);
    const uint32_t ma = uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(t, a), a)));
    const uint32_t mb = uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(t, b), b)));
    return ma | uint64_t(mb) << 32;
  }
  __attribute__((target("avx2,bmi,bmi2"))) static size_t first(uint64_t m) { return size_t(_tzcnt_u64(m)); }
  __attribute__((target("avx2,bmi,bmi2"))) static unsigned refused(__m128i x, bool nul_ok) {
    const __m128i t = _mm_load_si128(reinterpret_cast<const __m128i *>(nul_ok ? kSseFindLineEnds : kSseFindLineEndsNul));
    return unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_shuffle_epi8(t, x), x)));
  }
};
#endif

// The one-pass encoder: nullptr (nothing stored) when the event type or id is refused.
template <class V>
PUSHWIRE_INLINE uint8_t *sse_encode_wide(const SseFields &f, uint8_t *o) {
  SseLineField event, id;
  if ((sse_present(f.event) && !event.load(f.event, true)) || (sse_present(f.id) && !id.load(f.id, false)))
    return nullptr;
  if (PUSHWIRE_UNLIKELY(sse_present(f.comment))) o = sse_put_lines(o, "", 0, f.comment);
  if (sse_present(f.event)) o = event.put(o, "event: ", 7);
  if (sse_present(f.id)) o = id.put(o, "id: \0\0\0", 4);
  if (PUSHWIRE_UNLIKELY(f.retry >= 0)) o = sse_put_retry(o, uint64_t(f.retry));
  if (sse_present(f.data)) o = sse_put_data<V>(o, f.data, sse_tail_readable(f.data.ptr, f.data.len));
  if (sse_has_message_fields(f)) *o++ = '\n';
  return o;
}

// The usual event, in fewer steps than sse_encode_wide: a type and an id of 1 to 16 bytes
// (each one 16-byte load, checked and stored), data that may be read 64 bytes past its
// end, no comment or retry, and room for sse_encoded_bound(f). nullptr when it is not that
// event or a field is refused (sse_encode_wide then takes it, and refuses it the same way).
template <class V>
PUSHWIRE_INLINE uint8_t *sse_encode_usual(const SseFields &f, uint8_t *o, size_t room) {
  const uintptr_t ev = uintptr_t(f.event.ptr), id = uintptr_t(f.id.ptr), d = uintptr_t(f.data.ptr);
  const size_t el = f.event.len, il = f.id.len, dl = f.data.len;
  if ((uintptr_t(f.comment.ptr) | f.comment.len) != 0 || f.retry >= 0 || !ev || !id || !d) return nullptr;
  // Type and id of 1 to 16 bytes, data of 1 to kSseBoundLimit (dl >> 54 < 16).
  if (((el - 1) | (il - 1) | ((dl - 1) >> 54)) >= 16) return nullptr;
  // The 16 bytes from type and id, and 64 past the data's end, lie in the page of the last byte.
  if ((((ev + el - 1) ^ (ev + 15)) | ((id + il - 1) ^ (id + 15)) | ((d + dl - 1) ^ (d + dl + 63))) >> 12)
    return nullptr;
  if (sse_bound_of(f) > room) return nullptr;
  const __m128i x = sse_load16(f.event.ptr), y = sse_load16(f.id.ptr);
  if ((V::refused(x, true) & ((1u << el) - 1)) | (V::refused(y, false) & ((1u << il) - 1))) return nullptr;
  std::memcpy(o, "event: ", 8);
  _mm_storeu_si128(reinterpret_cast<__m128i *>(o + 7), x);
  o += 7 + el;
  std::memcpy(o, "\nid: \0\0", 8);
  _mm_storeu_si128(reinterpret_cast<__m128i *>(o + 5), y);
  o += 5 + il;
  *o++ = '\n';
  o = sse_put_data<V>(o, f.data, true);
  *o++ = '\n';
  return o;
}
#else
// Without SSE2 the exact path serves the roomy one too.
struct SseMove16 {};
template <class V>
uint8_t *sse_encode_wide(const SseFields &f, uint8_t *o) {
  if (sse_check_fields(f)) return nullptr;
  return o + sse_encode(f, o);
}
template <class V>
uint8_t *sse_encode_usual(const SseFields &, uint8_t *, size_t) {
  return nullptr;
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
  if ((f.event.len | f.id.len | f.data.len | f.comment.len) > kSseBoundLimit) return SIZE_MAX;
  return sse_bound_of(f);
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

namespace {

// The checked, exact-size path for a buffer that may be too small: kept out of line (also
// out of the flattened AVX2 entries), as only the last events of a full buffer take it.
__attribute__((noinline)) int sse_encode_exact_into(const SseFields &f, uint8_t *out, size_t cap, size_t *written) {
  int rc = sse_check_fields(f);
  if (rc) return rc;
  const size_t n = sse_encoded_size(f);
  *written = n;
  if (n > cap) return ERR_BUFFER_TOO_SMALL;
  sse_encode(f, out);
  return 0;
}

// sse_encode_into for any event but the usual one, for a vector width V.
template <class V>
PUSHWIRE_INLINE int sse_encode_other(const SseFields &f, uint8_t *out, size_t cap, size_t *written) {
  if (sse_fields_malformed(f)) return ERR_INVALID_ARGUMENT;
  if (sse_encoded_bound(f) <= cap) {  // one pass, checking as it goes; the exact size is needed only for a tight buffer
    uint8_t *end = sse_encode_wide<V>(f, out);
    if (!end) return ERR_INVALID_ARGUMENT;
    *written = size_t(end - out);
    return 0;
  }
  return sse_encode_exact_into(f, out, cap, written);
}

// A batch's event that is not the usual one.
template <class V>
PUSHWIRE_INLINE int sse_encode_other_event(const pushwire_sse_fields &e, uint8_t *out, size_t cap, size_t *written) {
  if (!sse_reserved_clear(e)) return ERR_INVALID_ARGUMENT;
  return sse_encode_other<V>(sse_fields_from(e), out, cap, written);
}

// sse_encode(f, o, true): the caller has room for the bound, so the usual event takes its
// own path whatever the room is said to be.
template <class V>
PUSHWIRE_INLINE uint8_t *sse_encode_roomy(const SseFields &f, uint8_t *o) {
  uint8_t *end = sse_encode_usual<V>(f, o, SIZE_MAX);
  return end ? end : sse_encode_wide<V>(f, o);
}

// Out of line, so that the loops calling them keep their registers for the usual event.
__attribute__((noinline)) int sse_encode_other_sse2(const SseFields &f, uint8_t *out, size_t cap, size_t *written) {
  return sse_encode_other<SseMove16>(f, out, cap, written);
}
__attribute__((noinline)) int sse_encode_other_event_sse2(const pushwire_sse_fields &e, uint8_t *out, size_t cap,
                                                         size_t *written) {
  return sse_encode_other_event<SseMove16>(e, out, cap, written);
}

// sse_encode_into, for a vector width V whose other() is sse_encode_other for it.
template <class V>
PUSHWIRE_INLINE int sse_encode_one(const SseFields &f, uint8_t *out, size_t cap, size_t *written) {
  uint8_t *end = sse_encode_usual<V>(f, out, cap);
  if (PUSHWIRE_LIKELY(end != nullptr)) {
    *written = size_t(end - out);
    return 0;
  }
  return V::other(f, out, cap, written);
}

// The batch loop: the usual event inline, any other out of line (V::other_event, which
// takes the caller's struct: an SseFields passed by reference would be built in memory for
// every event).
template <class V>
PUSHWIRE_INLINE int sse_encode_batch(const pushwire_sse_fields *events, size_t count, uint8_t *out, size_t cap,
                                     size_t *written, size_t *encoded) {
  uint8_t *o = out, *const limit = out + cap;
  size_t i = 0;
  int rc = 0;
  for (; i < count; ++i) {
    const pushwire_sse_fields &e = events[i];
    if (PUSHWIRE_LIKELY(sse_reserved_clear(e))) {
      uint8_t *end = sse_encode_usual<V>(sse_fields_from(e), o, size_t(limit - o));
      if (PUSHWIRE_LIKELY(end != nullptr)) {
        o = end;
        continue;
      }
    }
    size_t n = 0;
    rc = V::other_event(e, o, size_t(limit - o), &n);
    if (rc) break;
    o += n;
  }
  *written = size_t(o - out);
  *encoded = i;
  return rc;
}

struct SseSse2 : SseMove16 {
  static int other(const SseFields &f, uint8_t *out, size_t cap, size_t *written) {
    return sse_encode_other_sse2(f, out, cap, written);
  }
  static int other_event(const pushwire_sse_fields &e, uint8_t *out, size_t cap, size_t *written) {
    return sse_encode_other_event_sse2(e, out, cap, written);
  }
};

#if defined(PUSHWIRE_SSE_WRITER_AVX2)
__attribute__((target("avx2,bmi,bmi2"), noinline, flatten)) int sse_encode_other_avx2(const SseFields &f, uint8_t *out,
                                                                            size_t cap, size_t *written) {
  return sse_encode_other<SseMove32>(f, out, cap, written);
}

__attribute__((target("avx2,bmi,bmi2"), noinline, flatten)) int sse_encode_other_event_avx2(const pushwire_sse_fields &e,
                                                                                  uint8_t *out, size_t cap,
                                                                                  size_t *written) {
  return sse_encode_other_event<SseMove32>(e, out, cap, written);
}

struct SseAvx2 : SseMove32 {
  __attribute__((target("avx2,bmi,bmi2"))) static int other(const SseFields &f, uint8_t *out, size_t cap, size_t *written) {
    return sse_encode_other_avx2(f, out, cap, written);
  }
  __attribute__((target("avx2,bmi,bmi2"))) static int other_event(const pushwire_sse_fields &e, uint8_t *out, size_t cap,
                                                         size_t *written) {
    return sse_encode_other_event_avx2(e, out, cap, written);
  }
};

__attribute__((target("avx2,bmi,bmi2"), flatten)) int sse_encode_one_avx2(const SseFields &f, uint8_t *out, size_t cap,
                                                                 size_t *written) {
  return sse_encode_one<SseAvx2>(f, out, cap, written);
}

__attribute__((target("avx2,bmi,bmi2"), flatten)) uint8_t *sse_encode_roomy_avx2(const SseFields &f, uint8_t *o) {
  return sse_encode_roomy<SseMove32>(f, o);
}

__attribute__((target("avx2,bmi,bmi2"), flatten)) int sse_encode_batch_avx2(const pushwire_sse_fields *events, size_t count,
                                                                   uint8_t *out, size_t cap, size_t *written,
                                                                   size_t *encoded) {
  return sse_encode_batch<SseAvx2>(events, count, out, cap, written, encoded);
}
#endif

#if defined(PUSHWIRE_SSE_WRITER_AVX2)
// AVX2 where the CPU has it.
bool sse_writer_avx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
}
#endif

}  // namespace

size_t sse_encode(const SseFields &f, uint8_t *out, bool roomy) {
  if (roomy) {
#if defined(PUSHWIRE_SSE_WRITER_AVX2)
    if (sse_writer_avx2()) return size_t(sse_encode_roomy_avx2(f, out) - out);
#endif
    return size_t(sse_encode_roomy<SseMove16>(f, out) - out);
  }
  uint8_t *o = out;
  if (sse_present(f.comment)) o = sse_put_lines(o, "", 0, f.comment);
  if (sse_present(f.event)) o = sse_put_field(o, "event", 5, f.event.ptr, f.event.len);
  if (sse_present(f.id)) o = sse_put_field(o, "id", 2, f.id.ptr, f.id.len);
  if (f.retry >= 0) o = sse_put_retry(o, uint64_t(f.retry));
  if (sse_present(f.data)) o = sse_put_lines(o, "data", 4, f.data);
  if (sse_has_message_fields(f)) *o++ = '\n';
  return size_t(o - out);
}

int sse_encode_into(const SseFields &f, uint8_t *out, size_t cap, size_t *written) {
#if defined(PUSHWIRE_SSE_WRITER_AVX2)
  if (sse_writer_avx2()) return sse_encode_one_avx2(f, out, cap, written);
#endif
  return sse_encode_one<SseSse2>(f, out, cap, written);
}

int sse_encode_many(const pushwire_sse_fields *events, size_t count, uint8_t *out, size_t cap, size_t *written,
                    size_t *encoded, bool avx2_ok) {
#if defined(PUSHWIRE_SSE_WRITER_AVX2)
  if (avx2_ok && sse_writer_avx2()) return sse_encode_batch_avx2(events, count, out, cap, written, encoded);
#else
  (void)avx2_ok;
#endif
  return sse_encode_batch<SseSse2>(events, count, out, cap, written, encoded);
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
