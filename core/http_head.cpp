#include "http_head.hpp"

#include <cstddef>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__SSE2__) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PUSHWIRE_HTTP_AVX2 1
#endif

namespace pushwire {

namespace {

const char kVersion[] = "HTTP/1.";
constexpr size_t kVersionLen = sizeof kVersion - 1;
constexpr size_t kNone = SIZE_MAX;

struct FieldRec {
  size_t name_off, name_len, value_off, value_len;
};

// Field-value and reason-phrase bytes besides OWS: VCHAR and obs-text.
inline bool is_value_char(uint8_t c) { return c > 0x20 && c != 0x7f; }

// Values are the bulk of a head. Skips the run of value bytes and OWS starting at i and
// returns where it ends (the first other byte, or n); *last receives one past the last
// non-OWS byte of the run (unchanged if there is none). Each byte is examined once:
// eight at a time while a word holds no control byte, one at a time around those.
size_t value_run(const uint8_t *p, size_t i, size_t n, size_t *last) {
  for (;;) {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    constexpr uint64_t kHigh = 0x8080808080808080ull, kLow7 = 0x7f7f7f7f7f7f7f7full;
    // Per byte, exact (no carry crosses a byte): the high bit is set where the byte is
    // below 0x20, equal to 0x7f, equal to 0x20.
    while (n - i >= 8) {
      uint64_t x;
      std::memcpy(&x, p + i, 8);
      uint64_t below = ~(((x & kLow7) + 0x6060606060606060ull) | x) & kHigh;
      uint64_t d = x ^ kLow7;
      uint64_t del = ~(((d & kLow7) + kLow7) | d) & kHigh;
      if (below | del) break;  // a control byte (HTAB, CR, ...) is in this word
      uint64_t sp = x ^ 0x2020202020202020ull;
      uint64_t visible = (((sp & kLow7) + kLow7) | sp) & kHigh;
      if (visible) *last = i + size_t(63 - __builtin_clzll(visible)) / 8 + 1;
      i += 8;
    }
#endif
    if (i == n) return i;
    uint8_t c = p[i];
    if (is_value_char(c)) *last = i + 1;
    else if (c != ' ' && c != '\t') return i;
    ++i;
  }
}

}  // namespace

// Positions are offsets into `head` (the copy), which may move while it grows.
struct HttpHead::Impl {
  // Declared here, not in the anonymous namespace: Impl has external linkage, and in the
  // unity build a member of an internal type would make g++ warn (subobject-linkage).
  enum State : uint8_t {
    S_METHOD,
    S_TARGET,
    S_VERSION,  // "HTTP/1." of either start line, matched through `lit`
    S_MINOR,
    S_RL_END,   // request line: CR after the minor version
    S_SP_STATUS,
    S_STATUS,
    S_SP_REASON,
    S_REASON,
    S_LINE_LF,  // LF of a start or field line
    S_FIELD_START,
    S_NAME,
    S_VALUE,
    S_END_LF,   // LF of the empty line that ends the head
    S_DONE,
  };

  explicit Impl(const Allocator *a) : head(a), fields(a) {}
  Buffer head;
  Buffer fields;  // FieldRec records, back to back
  size_t nfields = 0;
  size_t scanned = 0;
  State state = S_METHOD;
  uint8_t lit = 0;  // bytes of kVersion (or status digits) matched so far
  int minor = 0;
  int status = 0;
  size_t tok_start = 0;  // method / target / name / reason start
  size_t method_len = 0, target_off = 0, target_len = 0, reason_off = 0, reason_len = 0;
  size_t name_len = 0;
  size_t value_start = kNone, value_end = 0;

  void clear(Kind kind) {
    head.clear();
    fields.clear();
    nfields = scanned = 0;
    state = kind == Kind::Request ? S_METHOD : S_VERSION;
    lit = 0;
    minor = status = 0;
    tok_start = method_len = target_off = target_len = reason_off = reason_len = name_len = 0;
    value_start = kNone;
    value_end = 0;
  }
  FieldRec rec(size_t i) const {
    FieldRec r;
    std::memcpy(&r, fields.data() + i * sizeof r, sizeof r);
    return r;
  }
  span at(size_t off, size_t len) const { return span{head.data() + off, len}; }
  size_t scan(const uint8_t *data, size_t n, bool request, size_t max_fields, const char **err, int *code);
  bool add_field(size_t name_off, size_t name_len, size_t value_off, size_t value_len);
};

bool HttpHead::Impl::add_field(size_t name_off, size_t name_len, size_t value_off, size_t value_len) {
  if (nfields == 0 && fields.reserve_extra(16 * sizeof(FieldRec))) return false;
  uint8_t *d = fields.extend(sizeof(FieldRec));
  if (!d) return false;
  // Member by member: a record built on the stack and copied whole is read back with
  // wider loads than it was written with, which stalls store forwarding.
  std::memcpy(d + offsetof(FieldRec, name_off), &name_off, sizeof name_off);
  std::memcpy(d + offsetof(FieldRec, name_len), &name_len, sizeof name_len);
  std::memcpy(d + offsetof(FieldRec, value_off), &value_off, sizeof value_off);
  std::memcpy(d + offsetof(FieldRec, value_len), &value_len, sizeof value_len);
  ++nfields;
  return true;
}

namespace {
// The request line as the whole-head pass finds it (offsets into the head).
struct RequestLine {
  size_t method_len, target_off, target_len;
  int minor;
  size_t fields;  // how many the whole-head pass handed to add_field
};
}  // namespace

namespace {

// Heads up to this size (all that browsers send, with room for large cookies) can take
// the whole-head path; its LF bitmap lives on the stack.
constexpr size_t kWholeHeadMax = 8192;

using Block64 = HttpBlock64;

// classify64 for targets without SSE2, eight bytes per word. Each test is exact per byte
// (no carry crosses a byte) and leaves its answer in the byte's high bit; the multiply
// gathers the eight high bits into one byte (every partial product lands on its own bit).
inline Block64 classify64_portable(const uint8_t *q) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull, kLow7 = 0x7f7f7f7f7f7f7f7full;
  auto eq = [](uint64_t x, uint8_t c) {
    const uint64_t d = x ^ (kOnes * c);
    return ~(((d & kLow7) + kLow7) | d) & kHigh;
  };
  auto gather = [](uint64_t m) { return ((m >> 7) * 0x0102040810204080ull) >> 56; };
  Block64 b{0, 0, 0, 0};
  for (int k = 0; k < 8; ++k) {
    uint64_t x;
    std::memcpy(&x, q + 8 * k, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);  // byte i of the block in bits 8i..8i+7, as on little-endian
#endif
    const uint64_t lf = eq(x, '\n'), cr = eq(x, '\r');
    const uint64_t ctl = ~(((x & kLow7) + 0x6060606060606060ull) | x) & kHigh;  // below 0x20
    const uint64_t bad = (ctl & ~(lf | cr | eq(x, '\t'))) | eq(x, 0x7f);
    // Ranges on the low seven bits: adding 0x80 - lo sets the high bit where a byte is at
    // least lo (no byte carries into the next); bytes from 0x80 up are none of these.
    const uint64_t l = (x | 0x2020202020202020ull) & kLow7, y = x & kLow7;  // letters folded to a-z
    const uint64_t letter = (l + 0x1f1f1f1f1f1f1f1full) & ~(l + 0x0505050505050505ull);      // 'a'..'z'
    const uint64_t digit = (y + 0x5050505050505050ull) & ~(y + 0x4646464646464646ull);      // '0'..'9'
    const uint64_t name = (((letter | digit) & ~x) | eq(x, '-')) & kHigh;
    b.lf |= gather(lf) << (8 * k);
    b.cr |= gather(cr) << (8 * k);
    b.bad |= gather(bad) << (8 * k);
    b.stop |= (gather(name) ^ 0xff) << (8 * k);
  }
  return b;
}

}  // namespace

void http_classify64_portable(const uint8_t *q, HttpBlock64 *out) { *out = classify64_portable(q); }

#if defined(__SSE2__)
namespace {

inline Block64 classify64(const uint8_t *q) {
  const __m128i kLf = _mm_set1_epi8('\n'), kCr = _mm_set1_epi8('\r'), kTab = _mm_set1_epi8('\t');
  const __m128i kDel = _mm_set1_epi8(0x7f), kCtlMax = _mm_set1_epi8(0x1f);
  // Letters and digits by signed compares: adding 0x80 - lo moves a range lo..hi to the
  // bottom of the signed bytes, where one compare takes it (OR 0x20 folds exactly A-Z
  // onto a-z).
  const __m128i kCase = _mm_set1_epi8(0x20), kToLetters = _mm_set1_epi8(char(0x80 - 'a'));
  const __m128i kLettersEnd = _mm_set1_epi8(char(0x80 + 26)), kToDigits = _mm_set1_epi8(char(0x80 - '0'));
  const __m128i kDigitsEnd = _mm_set1_epi8(char(0x80 + 10)), kDash = _mm_set1_epi8('-');
  Block64 b{0, 0, 0, 0};
  for (int k = 0; k < 4; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(q + 16 * k));
    __m128i lf = _mm_cmpeq_epi8(v, kLf), cr = _mm_cmpeq_epi8(v, kCr);
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, kCtlMax), v);
    __m128i ok_ctl = _mm_or_si128(_mm_or_si128(lf, cr), _mm_cmpeq_epi8(v, kTab));
    __m128i bad = _mm_or_si128(_mm_andnot_si128(ok_ctl, ctl), _mm_cmpeq_epi8(v, kDel));
    __m128i letter = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(v, kCase), kToLetters), kLettersEnd);
    __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, kToDigits), kDigitsEnd);
    __m128i name = _mm_or_si128(_mm_or_si128(letter, digit), _mm_cmpeq_epi8(v, kDash));
    b.lf |= uint64_t(uint32_t(_mm_movemask_epi8(lf))) << (16 * k);
    b.cr |= uint64_t(uint32_t(_mm_movemask_epi8(cr))) << (16 * k);
    b.bad |= uint64_t(uint32_t(_mm_movemask_epi8(bad))) << (16 * k);
    b.stop |= uint64_t(uint32_t(_mm_movemask_epi8(name)) ^ 0xffffu) << (16 * k);
  }
  return b;
}

#if defined(PUSHWIRE_HTTP_AVX2)
// classify64 on 32-byte vectors: half the work per block, where the CPU has AVX2 (asked
// once per head). Out of line, as the target attribute keeps it from being inlined.
__attribute__((target("avx2"))) Block64 classify64_avx2(const uint8_t *q) {
  // One byte lookup by nibbles, r = kLow[low] & kHigh[high], gives the three classes but
  // LF and CR: bit 7 for the bad bytes 0x10-0x1F, bit 6 for the bad ones below 0x10
  // (all but HTAB, LF, CR), bit h - 2 for the token characters h * 16 + l (h = 2..7); 0
  // for the rest (HTAB, LF, CR, other bytes 0x20-0x7F, 0x80-0xFF). Then r + 0x40 has its
  // high bit set exactly for the bad bytes and, as a signed byte, passes 0x40 exactly for
  // the token characters. DEL is neither token nor found there: it is compared for.
  const __m256i kLf = _mm256_set1_epi8('\n'), kCr = _mm256_set1_epi8('\r'), kDel = _mm256_set1_epi8(0x7f);
  const __m256i kNibble = _mm256_set1_epi8(0x0f), k40 = _mm256_set1_epi8(0x40);
  const __m256i kLow = _mm256_setr_epi8(
      char(0xfa), char(0xff), char(0xfe), char(0xff), char(0xff), char(0xff), char(0xff), char(0xff), char(0xfe),
      char(0xbe), char(0xbd), char(0xd5), char(0xf4), char(0x95), char(0xfd), char(0xdc), char(0xfa), char(0xff),
      char(0xfe), char(0xff), char(0xff), char(0xff), char(0xff), char(0xff), char(0xfe), char(0xbe), char(0xbd),
      char(0xd5), char(0xf4), char(0x95), char(0xfd), char(0xdc));
  const __m256i kHigh = _mm256_setr_epi8(0x40, char(0x80), 1, 2, 4, 8, 16, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, char(0x80),
                                         1, 2, 4, 8, 16, 32, 0, 0, 0, 0, 0, 0, 0, 0);
  Block64 b{0, 0, 0, 0};
  for (int k = 0; k < 2; ++k) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(q + 32 * k));
    __m256i lf = _mm256_cmpeq_epi8(v, kLf), cr = _mm256_cmpeq_epi8(v, kCr);
    __m256i r = _mm256_and_si256(_mm256_shuffle_epi8(kLow, _mm256_and_si256(v, kNibble)),
                                 _mm256_shuffle_epi8(kHigh, _mm256_and_si256(_mm256_srli_epi16(v, 4), kNibble)));
    __m256i t = _mm256_add_epi8(r, k40);
    __m256i bad = _mm256_or_si256(t, _mm256_cmpeq_epi8(v, kDel));
    __m256i token = _mm256_cmpgt_epi8(t, k40);
    b.lf |= uint64_t(uint32_t(_mm256_movemask_epi8(lf))) << (32 * k);
    b.cr |= uint64_t(uint32_t(_mm256_movemask_epi8(cr))) << (32 * k);
    b.bad |= uint64_t(uint32_t(_mm256_movemask_epi8(bad))) << (32 * k);
    b.stop |= uint64_t(~uint32_t(_mm256_movemask_epi8(token))) << (32 * k);
  }
  return b;
}
inline bool http_have_avx2() { return __builtin_cpu_supports("avx2"); }
#else
inline Block64 classify64_avx2(const uint8_t *q) { return classify64(q); }
inline bool http_have_avx2() { return false; }
#endif

}  // namespace

bool http_classify64(const uint8_t *q, bool avx2, HttpBlock64 *out) {
  if (avx2 && !http_have_avx2()) return false;
  *out = avx2 ? classify64_avx2(q) : classify64(q);
  return true;
}

namespace {

// The request target's scan looks at sixteen bytes at once while it can (`avail`, the
// bytes readable from p, allows a whole load) and finishes byte by byte, with the same
// test as the state machine, from the first byte the vector test does not settle. It
// returns the length of the run at p, at most `max`.

// %x21-7E (a request target): the vector test flags the rest, signed "< 0x21" catching
// SP, controls and 0x80-0xFF at once.
inline size_t visible_run(const uint8_t *p, size_t max, size_t avail) {
  const __m128i k21 = _mm_set1_epi8(0x21), kDel = _mm_set1_epi8(0x7f);
  size_t i = 0;
  while (i < max && avail - i >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i));
    const unsigned other =
        unsigned(_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, k21), _mm_cmpeq_epi8(v, kDel))));
    if (other) {
      i += unsigned(__builtin_ctz(other));
      break;
    }
    i += 16;
  }
  if (i > max) i = max;
  while (i < max && p[i] > 0x20 && p[i] < 0x7f) ++i;
  return i;
}

#else
namespace {
inline Block64 classify64(const uint8_t *q) { return classify64_portable(q); }
inline bool http_have_avx2() { return false; }
}  // namespace

bool http_classify64(const uint8_t *q, bool avx2, HttpBlock64 *out) {
  if (avx2) return false;
  *out = classify64(q);
  return true;
}

namespace {

// The request target's scan, byte by byte (see the SSE2 version above).
inline size_t visible_run(const uint8_t *p, size_t max, size_t) {
  size_t i = 0;
  while (i < max && p[i] > 0x20 && p[i] < 0x7f) ++i;
  return i;
}
#endif

// The vector pass of scan_whole_request over p[0..limit): the LF and stop bitmaps of the
// head in lf_bits and stop_bits (a word for each 64 bytes up to the head's end), and the
// head's size; 0 when no empty line ends it there, or when a bad byte or
// a CR or LF outside CR LF comes before. Written once, compiled twice below so that each
// copy has its block classifier inlined (no call and no returned struct per block).
template <Block64 (*Classify)(const uint8_t *)>
PUSHWIRE_INLINE size_t find_head_end(const uint8_t *p, size_t limit, uint64_t *lf_bits, uint64_t *stop_bits) {
  uint64_t cr_carry = 0, lf_carry = 0;  // bit 63 (and 62) of the previous word, shifted in
  for (size_t w = 0; w * 64 < limit; ++w) {
    const size_t base = w * 64, have = limit - base;
    uint64_t valid = ~uint64_t(0);
    uint8_t tail[64];
    const uint8_t *q = p + base;
    if (have < 64) {
      std::memset(tail, 0, sizeof tail);
      std::memcpy(tail, q, have);
      q = tail;
      valid = (uint64_t(1) << have) - 1;
    }
    const Block64 b = Classify(q);
    // The empty line's LF is the first LF with another LF two bytes before it (the CR
    // pairing checked next makes that "\r\n\r\n").
    const uint64_t ends = b.lf & ((b.lf << 2) | lf_carry) & valid;
    size_t end = 0;
    if (ends) {
      unsigned k = unsigned(__builtin_ctzll(ends));
      end = base + k + 1;
      valid = k == 63 ? ~uint64_t(0) : (uint64_t(2) << k) - 1;
    }
    if ((b.bad & valid) || ((b.lf ^ ((b.cr << 1) | cr_carry)) & valid)) return 0;
    lf_bits[w] = b.lf & valid;
    stop_bits[w] = b.stop;  // a name ends at its line's CR at the latest: no mask needed
    if (end) return end;
    cr_carry = b.cr >> 63;
    lf_carry = b.lf >> 62;
  }
  return 0;
}

// With the build's baseline classifier: SSE2 on x86-64, classify64_portable elsewhere.
size_t find_head_end_base(const uint8_t *p, size_t limit, uint64_t *lf_bits, uint64_t *stop_bits) {
  return find_head_end<classify64>(p, limit, lf_bits, stop_bits);
}
#if defined(PUSHWIRE_HTTP_AVX2)
// flatten: the AVX2 classifier can only be inlined into a function compiled for AVX2.
__attribute__((target("avx2"), flatten)) size_t find_head_end_avx2(const uint8_t *p, size_t limit,
                                                                   uint64_t *lf_bits, uint64_t *stop_bits) {
  return find_head_end<classify64_avx2>(p, limit, lf_bits, stop_bits);
}
#else
size_t find_head_end_avx2(const uint8_t *p, size_t limit, uint64_t *lf_bits, uint64_t *stop_bits) {
  return find_head_end_base(p, limit, lf_bits, stop_bits);
}
#endif

// The common case, a complete request head in the first feed, parsed where it lies in
// one vector pass plus one pass per line, instead of byte by byte through the state
// machine. The vector pass finds the empty line and proves for the whole head at once
// what the state machine checks per byte: CR and LF come only as CR LF, and no control
// byte other than HTAB (nor DEL) appears. The lines are then split on the LF bitmap and
// each is checked with the same grammar. It accepts exactly the heads the state
// machine accepts and records the same fields; on anything else it returns 0 and the
// state machine parses from the first byte, so errors and their reasons have one source.
// Returns the head's size, or 0. `add_field(index, name_off, name_len, value_off,
// value_len)` receives each field, and may refuse it (returns false) to give up; the
// index (0, 1, ...) spares it a count of its own in memory, which every store of a field
// would make the compiler reload.
template <class AddField>
size_t scan_whole_request(const uint8_t *p, size_t n, size_t max_fields, RequestLine *rl, AddField &&add_field) {
  uint64_t lf_bits[kWholeHeadMax / 64], stop_bits[kWholeHeadMax / 64];
  const size_t limit = n < kWholeHeadMax ? n : kWholeHeadMax;
  const size_t end = http_have_avx2() ? find_head_end_avx2(p, limit, lf_bits, stop_bits)
                                      : find_head_end_base(p, limit, lf_bits, stop_bits);
  if (!end) return 0;

  // The end of the token at `at`: the first stop bit from there (the line's CR has one,
  // so this stays on the line), then byte by byte past the token characters the bitmap
  // does not cover ('!', '_', '.', ...), usually none.
  auto token_end = [p, &stop_bits](size_t at) {
    size_t w = at / 64;
    uint64_t m = stop_bits[w] & (~uint64_t(0) << (at % 64));
    while (!m) m = stop_bits[++w];
    size_t i = w * 64 + size_t(__builtin_ctzll(m));
    while (is_token_char(p[i])) ++i;
    return i;
  };
  // Lines: each ends at a set bit of lf_bits, its CR one byte before; the last is the
  // empty line, so this never runs past the head.
  size_t w = 0;
  uint64_t bits = lf_bits[0];
  auto next_lf = [&w, &bits, &lf_bits]() {
    while (!bits) bits = lf_bits[++w];
    const size_t at = w * 64 + size_t(__builtin_ctzll(bits));
    bits &= bits - 1;
    return at;
  };

  size_t lf_at = next_lf(), eol = lf_at - 1;
  size_t i = token_end(0);
  if (i == 0 || p[i] != ' ') return 0;
  rl->method_len = i;
  const size_t t = ++i;
  i += visible_run(p + t, eol - t, n - t);
  if (i == t || p[i] != ' ') return 0;
  rl->target_off = t;
  rl->target_len = i - t;
  ++i;
  if (eol - i != kVersionLen + 1 || std::memcmp(p + i, kVersion, kVersionLen) != 0) return 0;
  const uint8_t m = p[i + kVersionLen];
  if (m != '0' && m != '1') return 0;
  rl->minor = m - '0';

  size_t fields = 0;
  for (size_t line = lf_at + 1;; line = lf_at + 1) {
    lf_at = next_lf();
    eol = lf_at - 1;
    if (eol == line) break;  // the empty line
    if (fields == max_fields) return 0;
    const size_t colon = token_end(line);
    if (colon == line || p[colon] != ':') return 0;
    // The value without its OWS, with no bounds checks: the CR at eol stops the first
    // loop, and the value byte at vs (not OWS) the second. An empty value sits at the
    // line's CR, where the state machine puts it too. The usual value has one SP before
    // it and none after: on the line (no control bytes but HTAB there), one compare with
    // SP then tells a value byte from OWS or the CR.
    size_t vs = colon + 1 + (p[colon + 1] == ' '), ve = eol;
    if (PUSHWIRE_UNLIKELY(p[vs] <= ' '))
      while (p[vs] == ' ' || p[vs] == '\t') ++vs;
    if (vs < eol && PUSHWIRE_UNLIKELY(p[ve - 1] <= ' '))
      while (p[ve - 1] == ' ' || p[ve - 1] == '\t') --ve;
    if (!add_field(fields, line, colon - line, vs < ve ? vs : eol, ve - vs)) return 0;
    ++fields;
  }
  rl->fields = fields;
  return end;
}

}  // namespace

// The parser proper: examines data[0..n) once, from where the previous call stopped.
// Returns how many bytes it examined; sets *err (and *code) on a violation.
size_t HttpHead::Impl::scan(const uint8_t *data, size_t n, bool request, size_t max_fields, const char **err_out,
                            int *code_out) {
  const size_t base = scanned;
  const char *err = nullptr;
  int code = ERR_BAD_HTTP;
  size_t i = 0;
  State st = state;

  while (i < n && st != S_DONE && !err) {
    uint8_t c = data[i];
    switch (st) {
      case S_METHOD:
        if (is_token_char(c)) {
          ++i;
          continue;
        }
        if (c == ' ' && base + i > 0) {
          method_len = base + i;
          target_off = base + i + 1;
          st = S_TARGET;
        } else {
          err = "invalid request method";
        }
        break;
      case S_TARGET:
        if (c > 0x20 && c < 0x7f) {
          do ++i;
          while (i < n && data[i] > 0x20 && data[i] < 0x7f);
          continue;
        }
        if (c == ' ' && base + i > target_off) {
          target_len = base + i - target_off;
          st = S_VERSION;
        } else {
          err = "invalid request target";
        }
        break;
      case S_VERSION:
        if (c != uint8_t(kVersion[lit])) {
          err = "unsupported HTTP version";
        } else if (++lit == kVersionLen) {
          st = S_MINOR;
        }
        break;
      case S_MINOR:
        if (c != '0' && c != '1') {
          err = "unsupported HTTP version";
        } else {
          minor = c - '0';
          st = request ? S_RL_END : S_SP_STATUS;
        }
        break;
      case S_RL_END:
        if (c == '\r') st = S_LINE_LF;
        else err = c == '\n' ? "bare LF in head" : "invalid HTTP version";
        break;
      case S_SP_STATUS:
        if (c == ' ') {
          lit = 0;
          st = S_STATUS;
        } else {
          err = "invalid status line";
        }
        break;
      case S_STATUS:
        if (c < '0' || c > '9') {
          err = "invalid status code";
        } else {
          status = status * 10 + (c - '0');
          if (++lit == 3) {
            if (status < 100) err = "invalid status code";
            st = S_SP_REASON;
          }
        }
        break;
      case S_SP_REASON:
        if (c == ' ') {
          reason_off = base + i + 1;
          st = S_REASON;
        } else {
          err = "invalid status line";
        }
        break;
      case S_REASON:
        if (is_value_char(c) || c == ' ' || c == '\t') {
          ++i;
          continue;
        }
        if (c == '\r') {
          reason_len = base + i - reason_off;
          st = S_LINE_LF;
        } else {
          err = c == '\n' ? "bare LF in head" : "control byte in reason phrase";
        }
        break;
      case S_LINE_LF:
        if (c == '\n') st = S_FIELD_START;
        else err = "bare CR in head";
        break;
      case S_FIELD_START:
        if (c == '\r') {
          st = S_END_LF;
        } else if (is_token_char(c)) {
          if (nfields == max_fields) {
            err = "too many header fields";
            code = ERR_HEAD_TOO_LARGE;
          } else {
            tok_start = base + i;
            st = S_NAME;
          }
        } else if (c == ' ' || c == '\t') {
          err = "obs-fold or whitespace at the start of a field line";
        } else if (c == '\n') {
          err = "bare LF in head";
        } else {
          err = "invalid header name";
        }
        break;
      case S_NAME:
        if (is_token_char(c)) {
          do ++i;
          while (i < n && is_token_char(data[i]));
          continue;
        }
        if (c == ':') {
          name_len = base + i - tok_start;
          value_start = kNone;
          st = S_VALUE;
        } else if (c == ' ' || c == '\t') {
          err = "whitespace before colon";
        } else if (c == '\n') {
          err = "bare LF in head";
        } else {
          err = "invalid header name";
        }
        break;
      case S_VALUE:
        if (value_start == kNone) {  // leading OWS
          if (c == ' ' || c == '\t') {
            ++i;
            continue;
          }
          if (is_value_char(c)) value_start = base + i;
        }
        if (value_start != kNone && (is_value_char(c) || c == ' ' || c == '\t')) {
          size_t last = kNone;
          i = value_run(data, i, n, &last);
          if (last != kNone) value_end = base + last;
          continue;
        }
        if (c == '\r') {
          if (value_start == kNone) value_start = value_end = base + i;
          if (!add_field(tok_start, name_len, value_start, value_end - value_start)) {
            err = "out of memory";
            code = ERR_NOMEM;
            break;
          }
          st = S_LINE_LF;
        } else if (c == '\n') {
          err = "bare LF in head";
        } else {
          err = c == 0 ? "NUL in header value" : "control byte in header value";
        }
        break;
      case S_END_LF:
        if (c == '\n') st = S_DONE;
        else err = "bare CR in head";
        break;
      case S_DONE:
        break;
    }
    ++i;
  }
  state = st;
  scanned += i;
  *err_out = err;
  *code_out = code;
  return i;
}

HttpHead::HttpHead(const Allocator *alloc, Kind kind) : alloc_(alloc), kind_(kind) {}

HttpHead::~HttpHead() { alloc_->destroy(impl_); }

void HttpHead::set_limits(size_t max_head, size_t max_headers) {
  max_head_ = max_head ? max_head : 1;
  max_headers_ = max_headers ? max_headers : 1;
}

int HttpHead::ensure_impl() {
  if (impl_) return 0;
  impl_ = alloc_->make<Impl>(alloc_);
  if (!impl_) return ERR_NOMEM;
  impl_->clear(kind_);
  return 0;
}

int HttpHead::fail(int code, const char *reason) {
  error_ = code;
  reason_ = reason;
  return code;
}

bool HttpHead::complete() const { return borrowing() || (impl_ && impl_->state == Impl::S_DONE); }
bool HttpHead::started() const { return borrowing() || error_ != 0 || (impl_ && impl_->scanned > 0); }
size_t HttpHead::bytes_scanned() const { return borrowing() ? borrowed_.size : impl_ ? impl_->scanned : 0; }

int HttpHead::status_hint() const {
  switch (error_) {
    case 0: return 0;
    case ERR_HEAD_TOO_LARGE: return 431;
    case ERR_NOMEM: return 500;
    default: return 400;
  }
}

int HttpHead::feed(const uint8_t *data, size_t len, size_t *consumed) {
  *consumed = 0;
  if (error_) return error_;
  if (complete()) return 1;
  if (len == 0) return 0;
  if (ensure_impl()) return fail(ERR_NOMEM, "out of memory");
  Impl &s = *impl_;

  // One forward pass over bytes never seen before, capped so the head cannot pass
  // max_head: when the cap cuts the input short of the end of the head, it is too large.
  const size_t base = s.scanned;
  const size_t room = base < max_head_ ? max_head_ - base : 0;
  const size_t n = len < room ? len : room;
  if (base == 0 && kind_ == Kind::Request) {
    RequestLine rl;
    size_t whole = scan_whole_request(data, n, max_headers_, &rl, [&s](size_t, size_t no, size_t nl, size_t vo, size_t vl) {
      return s.add_field(no, nl, vo, vl);
    });
    if (whole) {
      if (s.head.append(data, whole)) return fail(ERR_NOMEM, "out of memory");
      s.method_len = rl.method_len;
      s.target_off = rl.target_off;
      s.target_len = rl.target_len;
      s.minor = rl.minor;
      s.scanned = whole;
      s.state = Impl::S_DONE;
      *consumed = whole;
      return 1;
    }
    s.clear(kind_);  // fields it recorded before giving up
  }
  const char *err = nullptr;
  int code = ERR_BAD_HTTP;
  size_t i = s.scan(data, n, kind_ == Kind::Request, max_headers_, &err, &code);

  if (err) return fail(code, err);
  if (s.state != Impl::S_DONE && n < len) return fail(ERR_HEAD_TOO_LARGE, "head larger than the limit");
  if (s.head.append(data, i)) return fail(ERR_NOMEM, "out of memory");
  *consumed = i;
  return s.state == Impl::S_DONE ? 1 : 0;
}

int HttpHead::borrow_whole_request(const uint8_t *data, size_t len, HttpField *fields, size_t cap,
                                   size_t *consumed) {
  *consumed = 0;
  if (kind_ != Kind::Request || started()) return 0;
  const size_t n = len < max_head_ ? len : max_head_;
  const size_t max_fields = cap < max_headers_ ? cap : max_headers_;
  RequestLine rl;
  size_t whole =
      scan_whole_request(data, n, max_fields, &rl, [fields, data](size_t k, size_t no, size_t nl, size_t vo, size_t vl) {
        fields[k] = HttpField{span{data + no, nl}, span{data + vo, vl}};
        return true;
      });
  if (!whole) return 0;
  borrowed_ = Borrowed{span{data, rl.method_len}, span{data + rl.target_off, rl.target_len}, rl.minor, fields,
                       rl.fields, whole};
  *consumed = whole;
  return 1;
}

span HttpHead::method() const {
  if (borrowing()) return borrowed_.method;
  if (!complete() || kind_ != Kind::Request) return span{nullptr, 0};
  return impl_->at(0, impl_->method_len);
}

span HttpHead::target() const {
  if (borrowing()) return borrowed_.target;
  if (!complete() || kind_ != Kind::Request) return span{nullptr, 0};
  return impl_->at(impl_->target_off, impl_->target_len);
}

int HttpHead::minor_version() const { return borrowing() ? borrowed_.minor : complete() ? impl_->minor : 0; }

int HttpHead::status() const { return !borrowing() && complete() ? impl_->status : 0; }

span HttpHead::reason_phrase() const {
  if (borrowing() || !complete() || kind_ != Kind::Response) return span{nullptr, 0};
  return impl_->at(impl_->reason_off, impl_->reason_len);
}

size_t HttpHead::copied_field_count() const { return complete() ? impl_->nfields : 0; }

HttpField HttpHead::copied_field(size_t i) const {
  if (i >= copied_field_count()) return HttpField{span{nullptr, 0}, span{nullptr, 0}};
  FieldRec r = impl_->rec(i);
  return HttpField{impl_->at(r.name_off, r.name_len), impl_->at(r.value_off, r.value_len)};
}

bool HttpHead::find(span name, size_t index, span *value) const {
  size_t n = field_count();
  for (size_t i = 0; i < n; ++i) {
    HttpField f = field(i);
    if (!equals_ci(f.name, name)) continue;
    if (index-- == 0) {
      *value = f.value;
      return true;
    }
  }
  return false;
}

bool HttpHead::find(const char *name, size_t index, span *value) const {
  return find(make_span(name, std::strlen(name)), index, value);
}

size_t HttpHead::count(const char *name) const {
  span key = make_span(name, std::strlen(name));
  size_t n = field_count(), found = 0;
  for (size_t i = 0; i < n; ++i)
    if (equals_ci(field(i).name, key)) ++found;
  return found;
}

bool HttpHead::has_token(span name, span token) const {
  size_t n = field_count();
  for (size_t i = 0; i < n; ++i) {
    HttpField f = field(i);
    if (!equals_ci(f.name, name)) continue;
    if (list_contains_ci(f.value, token)) return true;
  }
  return false;
}

bool HttpHead::has_token(const char *name, const char *token) const {
  return has_token(make_span(name, std::strlen(name)), make_span(token, std::strlen(token)));
}

void HttpHead::reset() {
  borrowed_ = Borrowed{};
  error_ = 0;
  reason_ = "";
  if (impl_) impl_->clear(kind_);
}

void HttpHead::release() {
  borrowed_ = Borrowed{};
  error_ = 0;
  reason_ = "";
  alloc_->destroy(impl_);
  impl_ = nullptr;
}

bool list_contains_ci(span list, span token) {
  span el;
  while (next_list_element(&list, &el))
    if (equals_ci(el, token)) return true;
  return false;
}

bool next_list_element(span *rest, span *element) {
  const uint8_t *p = rest->ptr, *end = rest->ptr + rest->len;
  for (;;) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) ++p;
    if (p == end) {
      *rest = span{end, 0};
      return false;
    }
    const uint8_t *start = p;
    bool quoted = false;
    for (; p < end; ++p) {
      if (quoted) {
        if (*p == '\\' && p + 1 < end) ++p;
        else if (*p == '"') quoted = false;
      } else if (*p == '"') {
        quoted = true;
      } else if (*p == ',') {
        break;
      }
    }
    span el = trim_ows(span{start, size_t(p - start)});
    *rest = span{p, size_t(end - p)};
    if (el.len) {
      *element = el;
      return true;
    }
  }
}

}  // namespace pushwire
