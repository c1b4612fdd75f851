#include "sse_parser.hpp"

#include "sse_lines.hpp"
#include "utf8.hpp"

namespace pushwire {

namespace {

const uint8_t kSseReplacement[3] = {0xEF, 0xBF, 0xBD};  // U+FFFD
const uint8_t kSseBom[3] = {0xEF, 0xBB, 0xBF};
// Buffers larger than this are given back once idle; smaller ones are kept for reuse, so a
// stream fed in 64 KiB reads never returns to the allocator.
constexpr size_t kSseKeepCapacity = size_t(256) << 10;
// The input buffer always has this many allocated bytes past its end, so the in-place walk
// loads a line's first word, a short id and a data value's 64-byte block without a bounds
// check (and without leaving the allocation).
constexpr size_t kSseSlack = 64;
constexpr size_t kSseQueueCheck = 4096;  // UTF-8 checked this many bytes at a time
constexpr size_t kSseQueueAhead = 8192;  // bytes are prefetched this far ahead of the walk

bool sse_is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Length of the sequence a lead byte announces (1 for ASCII and for bytes that cannot lead).
size_t sse_sequence_length(uint8_t b) {
  if (b >= 0xF0 && b <= 0xF4) return 4;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  return 1;
}

// p[0..bad) is valid UTF-8 from a character boundary and p[bad] is the first byte that no
// valid continuation allows (utf8_feed's fail-fast offset, which is exactly where the WHATWG
// decoder reports its error). Returns where the maximal invalid subpart starts: at the lead
// of the character p[bad] cuts short (the subpart is [start, bad) and p[bad] is read again),
// or at bad itself when p[bad] stands where a character should start (the subpart is p[bad]).
size_t sse_invalid_subpart_start(const uint8_t *p, size_t bad) {
  size_t i = bad;
  while (i > 0 && bad - i < 3 && sse_is_continuation(p[i - 1])) --i;
  if (i == 0) return bad;
  size_t lead = i - 1;
  return lead + sse_sequence_length(p[lead]) > bad ? lead : bad;
}

void sse_clear_event(pushwire_sse_event *ev, uint32_t type) {
  std::memset(ev, 0, sizeof *ev);
  ev->type = type;
}

// An event type or id replaces the last: these are a few bytes each, which copy_bytes moves
// faster than a call into libc, three times an event.
PUSHWIRE_INLINE int sse_assign(Buffer &b, span v) {
  b.clear();
  if (v.len == 0) return 0;
  uint8_t *o = b.extend(v.len);
  if (!o) return ERR_NOMEM;
  copy_bytes(o, v.ptr, v.len);
  return 0;
}

// Appends the value v[0..n), which lies in the input buffer after *end, to the data held in
// that buffer at [*at, *end): the first value stays where it is, later ones move down behind
// it (the walk has parsed everything in between). The LF overwrites the value's own line end
// or bytes of lines already parsed.
PUSHWIRE_INLINE void sse_join_in_place(uint8_t **at, uint8_t **end, uint8_t *v, size_t n) {
  if (!*at) {
    *at = v;
    *end = v + n;
  } else {
    *end = sse_move_down(*end, v, n);
  }
  *(*end)++ = '\n';
}

// Whether an event of `used` bytes may grow by `add` within the limit `max`.
PUSHWIRE_INLINE bool event_fits_in(size_t max, size_t used, size_t add) { return used <= max && add <= max - used; }

bool sse_name_is(span name, const char *lit, size_t n) { return name.len == n && std::memcmp(name.ptr, lit, n) == 0; }

// The first k bytes of s as a little-endian word, to compare a line's first bytes with the
// field spellings servers write in one step rather than a byte at a time.
constexpr uint64_t sse_word(const char *s, size_t k) { return k ? uint64_t(uint8_t(s[0])) | sse_word(s + 1, k - 1) << 8 : 0; }
constexpr uint64_t kSseDataWord = sse_word("data: ", 6), kSseEventWord = sse_word("event: ", 7),
                   kSseIdWord = sse_word("id: ", 4);
constexpr uint64_t sse_low_bytes(size_t k) { return k >= 8 ? ~uint64_t(0) : (uint64_t(1) << (8 * k)) - 1; }

PUSHWIRE_INLINE uint64_t sse_load_le64(const uint8_t *p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap64(w);
#endif
  return w;
}

// The first min(n, 8) bytes of p in the low bytes of a word, the rest zero; p[0..readable)
// may be read, readable >= n.
PUSHWIRE_INLINE uint64_t sse_head_word(const uint8_t *p, size_t n, size_t readable) {
  if (readable >= 8) return n >= 8 ? sse_load_le64(p) : sse_load_le64(p) & sse_low_bytes(n);
  uint64_t w = 0;
  for (size_t i = 0; i < n; ++i) w |= uint64_t(p[i]) << (8 * i);
  return w;
}

// Copies a value of n bytes to o (room for 64 more) and returns its end; p[0..64) may be
// read. A type or id (a few bytes) takes one 16-byte move.
PUSHWIRE_INLINE uint8_t *sse_copy_value(uint8_t *o, const uint8_t *p, size_t n) {
#if defined(__SSE2__)
  if (n <= 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i *>(o), sse_load16(p));
    return o + n;
  }
  return sse_copy_wide(o, p, n, 64);
#else
  copy_bytes(o, p, n);
  return o + n;
#endif
}

// True when the id value p[0..n) holds a NUL (such an id line is ignored); p[0..readable) may
// be read. The usual id (a counter, a few bytes) is one word whose unused bytes are set to
// 0xFF so that only its own bytes can match.
PUSHWIRE_INLINE bool sse_has_nul(const uint8_t *p, size_t n, size_t readable) {
  if (n <= 8 && readable >= 8) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t w = sse_load_le64(p) | ~sse_low_bytes(n);
    return ((w - ones) & ~w & highs) != 0;
  }
  return !sse_no_low_bytes(p, n) && std::memchr(p, 0, n);
}

}  // namespace

SseParser::SseParser(const Allocator *alloc)
    : in_(alloc),
      line_(alloc),
      data_(alloc),
      type_(alloc),
      id_(alloc),
      last_id_(alloc),
      q_recs_(alloc),
      q_store_(alloc),
      tail_(alloc) {}

int SseParser::feed(const uint8_t *data, size_t len) {
  if (error_) return error_;
  if (eof_) return ERR_INVALID_STATE;
  started_ = true;
  // Queued events and the bytes behind them count as unparsed input, as they would unqueued.
  const size_t held = in_.size() + q_bytes_ + tail_.size();
  if (held && (held > max_input_ || len > max_input_ - held)) return ERR_BUFFER_FULL;
  if (len == 0) return 0;
  // in_ may move: what the parser keeps in it goes to its own buffers first (the event
  // handed out last is done with: this is a mutating call).
  if (event_out_) drop_event(false);
  if (settle()) return fail(ERR_NOMEM);
  if (queued()) return append_raw(tail_, data, len) ? fail(ERR_NOMEM) : 0;  // behind the records
  const size_t head = len >= SSE_QUEUE_MIN_FEED && feed_parsing_ ? queue_events(data, len) : len;
  if (head > SIZE_MAX - kSseSlack || (in_.room() < head + kSseSlack && in_.reserve_extra(head + kSseSlack)))
    return fail(ERR_NOMEM);
  append_in(data, head);
  if (head < len && append_raw(tail_, data + head + q_bytes_, len - head - q_bytes_)) return fail(ERR_NOMEM);
  return 0;
}

// Appends fed bytes to b (in_'s successor, tail_) with in_'s slack after them; their UTF-8 is
// checked once they are in in_.
int SseParser::append_raw(Buffer &b, const uint8_t *data, size_t len) {
  if (len > SIZE_MAX - kSseSlack || (b.room() < len + kSseSlack && b.reserve_extra(len + kSseSlack)))
    return ERR_NOMEM;
  std::memcpy(b.extend(len), data, len);
  return 0;
}

namespace {

// The feed-time walk (SseParser::queue_events) over a run of a feed's bytes: what it is
// given and what it leaves. Records are the events as next_events hands them out, so that a
// batch of them is copied out whole; ends[i] is how many bytes of the run record i's event
// ends at.
struct SseQueueRun {
  const uint8_t *run;  // the first byte after the feed's first blank line
  size_t run_len;      // a multiple of 64, with 64 fed bytes after it
  size_t max_line, max_event, max_recs;
  pushwire_sse_event *recs;
  size_t *ends;
  uint8_t *o;  // q_store_: values are copied here (room for the run's bytes and 64 more)
  size_t count = 0;
  size_t plain = SIZE_MAX;  // records from here on depend on nothing before the run
};

// One 64-byte block of the run: bit i of lf set when p[i] is LF; cr nonzero when the block
// holds a CR (a CR ends the run at the line that holds it, so its place is found only then).
struct SseBlock {
  uint64_t lf, cr;
};

// Lanes: `static SseBlock block(const uint8_t *p)`, `static uint8_t *copy(uint8_t *o, const
// uint8_t *p, size_t n)` (p[0..64) readable, o with room for 64; returns o + n).
struct SseQueuePortable {
  static PUSHWIRE_INLINE SseBlock block(const uint8_t *p) {
    const uint64_t m = sse_line_ends64(p, 64);
    uint64_t cr = 0;
    for (uint64_t t = m; t; t &= t - 1)
      if (p[__builtin_ctzll(t)] == '\r') cr |= t & (~t + 1);
    return SseBlock{m & ~cr, cr};
  }
  static PUSHWIRE_INLINE uint8_t *copy(uint8_t *o, const uint8_t *p, size_t n) {
    if (PUSHWIRE_LIKELY(n <= 64))
      std::memcpy(o, p, 64);  // one fixed move, whatever the length
    else
      std::memcpy(o, p, n);
    return o + n;
  }
};

#if defined(__SSE2__)
struct SseQueueSse2 : SseQueuePortable {
  static PUSHWIRE_INLINE SseBlock block(const uint8_t *p) {
    const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    uint64_t l = 0;
    __m128i c = _mm_setzero_si128();
    for (int i = 0; i < 4; ++i) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p + 16 * i));
      l |= uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)))) << (16 * i);
      c = _mm_or_si128(c, _mm_cmpeq_epi8(v, cr));
    }
    return SseBlock{l, uint64_t(unsigned(_mm_movemask_epi8(c)))};
  }
};
#endif

#if defined(PUSHWIRE_SSE_AVX2)
struct SseQueueAvx2 {
  __attribute__((target("avx2"))) static SseBlock block(const uint8_t *p) {
    const __m256i lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p + 32));
    const uint64_t l = uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, lf))) |
                       uint64_t(uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, lf)))) << 32;
    const __m256i c = _mm256_or_si256(_mm256_cmpeq_epi8(a, cr), _mm256_cmpeq_epi8(b, cr));
    return SseBlock{l, uint32_t(_mm256_movemask_epi8(c))};
  }
  __attribute__((target("avx2"))) static uint8_t *copy(uint8_t *o, const uint8_t *p, size_t n) {
    if (PUSHWIRE_LIKELY(n <= 64)) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p + 32));
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(o), a);
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(o + 32), b);
    } else {
      std::memcpy(o, p, n);
    }
    return o + n;
  }
};
#endif

// Where the walk is, between its two loops (see sse_queue_lines).
struct SseQueueAt {
  const uint8_t *blk, *next, *line;  // blk: the block of m's bits; next: the block after it
  const uint8_t *soft, *lim, *checked;
  uint64_t m;
  uint8_t *o, *values;  // the event under way's data starts at values
  span type, id;
  size_t count, peak, plain;
  Utf8State st;
};

// The walk itself: the lines of the run in order, each found as the next LF bit of its 64-byte
// block (no list of line ends first); a block is classified when the walk reaches it. UTF-8
// is checked a few KiB ahead of the lines; a CR or an invalid byte limits the run to the
// lines that end before it (lim); soft is where the next of those checks is due.
// Two loops: before the run's first id line an event's size includes the id buffer from
// before the run, known only when its record is pulled, so the event's largest size without
// it is kept (peak). The first loop (kIdKnown false) runs until the end of the event that
// holds that line, and returns true there; the second takes the rest. False: the run ended.
template <class Lanes, bool kIdKnown>
PUSHWIRE_INLINE bool sse_queue_lines(const SseQueueRun &r, SseQueueAt &at) {
  const uint8_t *const run = r.run;
  const uint8_t *blk = at.blk, *next = at.next, *line = at.line, *soft = at.soft;
  uint64_t m = at.m;
  uint8_t *o = at.o, *values = at.values;
  span type = at.type, id = at.id;
  size_t count = at.count, peak = at.peak;
  bool more = false;
  for (;;) {
    while (m == 0) {
      if (PUSHWIRE_UNLIKELY(next >= soft)) {
        if (next >= at.lim) goto done;
        if (next >= at.checked) {
          const size_t c = size_t(at.lim - next) < kSseQueueCheck ? size_t(at.lim - next) : kSseQueueCheck;
          size_t bad = 0;
          at.checked = next + c;
          // Lines ending before the first invalid byte are valid (a LF that cuts a character
          // short is that byte): the rest is left to the lazy parser.
          if (!utf8_feed(at.st, next, c, &bad)) at.lim = at.checked = next + bad;
        }
        soft = next + (size_t(at.checked - next) & ~size_t(63));
        if (soft == next) {  // a block the limit cuts: its lines that end before the limit
          blk = next;
          next += 64;
          size_t cut = size_t(at.lim - blk);
          const SseBlock b = Lanes::block(blk);
          if (b.cr) {
            const size_t cr = unsigned(__builtin_ctzll(sse_line_ends64(blk, 64) & ~b.lf));
            if (cr < cut) cut = cr;
          }
          m = b.lf & ((uint64_t(1) << cut) - 1);
          at.lim = soft = next;
          continue;
        }
      }
      blk = next;
      next += 64;
      // The bytes come from the caller's memory, likely not in cache: ask for them ahead, a
      // block at a time, so that their loads overlap the walk. (A prefetch past the end of
      // the feed does nothing; the address is formed as an integer.)
      __builtin_prefetch(reinterpret_cast<const void *>(reinterpret_cast<uintptr_t>(blk) + kSseQueueAhead));
      const SseBlock b = Lanes::block(blk);
      m = b.lf;
      if (PUSHWIRE_UNLIKELY(b.cr != 0)) {
        const uint64_t cr = sse_line_ends64(blk, 64) & ~b.lf;
        m &= (cr & (~cr + 1)) - 1;  // the lines before the first CR, and none after
        at.lim = soft = next;
      }
    }
    const uint8_t *const e = blk + __builtin_ctzll(m);
    m &= m - 1;
    const size_t n = size_t(e - line);
    if (PUSHWIRE_UNLIKELY(n > r.max_line)) goto done;
    // The word holds the line's LF when the line is shorter, and no spelling has one; every
    // value has 64 readable bytes after its start (a line ends 64 bytes before the feed's end).
    const uint64_t head = sse_load_le64(line);
    if ((head & sse_low_bytes(6)) == kSseDataWord) {
      o = Lanes::copy(o, line + 6, n - 6);
      *o++ = '\n';
    } else if (n == 0) {
      if (o != values) {
        // The data lines only grew the event: its size at its last line is its largest.
        const size_t d_len = size_t(o - values), size = type.len + d_len + id.len;
        if (size > r.max_event || count == r.max_recs) goto done;
        pushwire_sse_event &ev = r.recs[count];
        ev.type = PUSHWIRE_SSE_EV_EVENT;
        ev.flags = 0;
        ev.event_type = type.len ? type : make_span("message", 7);
        ev.data = span{values, d_len - 1};  // the trailing LF goes
        ev.last_event_id = id;
        if (!kIdKnown && !id.ptr && size > peak) peak = size;
        ev.retry_ms = kIdKnown ? 0 : peak;  // pull_queued clears it
        ev.reserved = 0;
        r.ends[count++] = size_t(e + 1 - run);
      } else if (!kIdKnown && peak) {
        // Nothing fires, but the event type with the id from before the run may pass the
        // limit: no record would carry that check, so the lazy parser makes it.
        goto done;
      }
      type = span{nullptr, 0};
      values = o;
      if (!kIdKnown) {
        peak = 0;
        if (id.ptr) {  // every event from here on is the run's own
          line = e + 1;
          more = true;
          goto done;
        }
      }
    } else if ((head & sse_low_bytes(7)) == kSseEventWord) {
      // After data, the lazy walk may end a batch here: left to it.
      const size_t v = n - 7, size = v + id.len;
      if (o != values || size > r.max_event) goto done;
      if (!kIdKnown && !id.ptr && size > peak) peak = size;
      type = span{o, v};
      o = v <= 16 ? sse_copy_value(o, line + 7, v) : Lanes::copy(o, line + 7, v);
      values = o;
    } else if ((head & sse_low_bytes(4)) == kSseIdWord) {
      const size_t v = n - 4;
      if (o != values || type.len + v > r.max_event || sse_has_nul(line + 4, v, 64)) goto done;
      // The first: this event's record still needs its peak checked when it has one.
      if (!kIdKnown && !id.ptr) at.plain = count + (peak != 0);
      id = span{o, v};  // non-null: q_store_ is allocated
      o = v <= 16 ? sse_copy_value(o, line + 4, v) : Lanes::copy(o, line + 4, v);
      values = o;
    } else {
      goto done;
    }
    line = e + 1;
  }
done:
  at.blk = blk;
  at.next = next;
  at.line = line;
  at.soft = soft;
  at.m = m;
  at.o = o;
  at.values = values;
  at.type = type;
  at.id = id;
  at.count = count;
  at.peak = peak;
  return more;
}

template <class Lanes>
PUSHWIRE_INLINE void sse_queue_walk(SseQueueRun &r) {
  SseQueueAt at;
  at.blk = at.next = at.line = at.soft = at.checked = r.run;
  at.lim = r.run + r.run_len;
  at.m = 0;
  at.o = at.values = r.o;
  at.type = at.id = span{nullptr, 0};
  at.count = at.peak = 0;
  at.plain = SIZE_MAX;
  if (sse_queue_lines<Lanes, false>(r, at)) sse_queue_lines<Lanes, true>(r, at);
  r.count = at.count;
  r.plain = at.plain < at.count ? at.plain : at.count;
  r.o = at.o;
}

#if defined(PUSHWIRE_SSE_AVX2)
__attribute__((target("avx2,bmi"), flatten)) void sse_queue_walk_avx2(SseQueueRun &r) {
  sse_queue_walk<SseQueueAvx2>(r);
}
#endif

__attribute__((flatten)) void sse_queue_walk_default(SseQueueRun &r) {
#if defined(__SSE2__)
  sse_queue_walk<SseQueueSse2>(r);
#else
  sse_queue_walk<SseQueuePortable>(r);
#endif
}

}  // namespace

// Parses, straight from a feed's bytes, the whole events that follow its first blank line
// (the parser's state there is known: no event under way, no line, no character) until a line
// the lazy walk would treat any other way than its own fast loop does: anything but "data: ",
// "event: " and "id: " lines (type and id ahead of the data) and blank lines ending in LF,
// in valid UTF-8 within the line limit and, where the size is known here, the event limit.
// Their values are copied once, into q_store_ (reserved whole first, so records may point
// into it), and each dispatched event becomes a record. Returns how many bytes come before the
// run (they go to in_); q_bytes_ is the run's length (the rest goes to tail_). The queue is
// bounded by the feed: at most one record per SSE_QUEUE_BYTES_PER_RECORD fed bytes, and values
// no longer than the bytes they were copied from.
size_t SseParser::queue_events(const uint8_t *data, size_t len) {
  // The first blank line: two LFs in a row always end an empty line (the first may be a
  // CR LF's, and no BOM or character spans a LF).
  const size_t search = len < SSE_QUEUE_SEARCH ? len : SSE_QUEUE_SEARCH;
  size_t start = 0;
  for (const uint8_t *q = data; (q = static_cast<const uint8_t *>(std::memchr(q, '\n', size_t(data + search - q))));) {
    if (size_t(q - data) + 1 < search && q[1] == '\n') {
      start = size_t(q - data) + 2;
      break;
    }
    if (++q >= data + search) break;
  }
  // Whole 64-byte blocks with 64 fed bytes after them: every load the walk makes (a block, a
  // line's first word, a value's wide copy) stays within the caller's bytes.
  if (start == 0 || len - start < 2 * 64) return len;
  const size_t max_recs = len / SSE_QUEUE_BYTES_PER_RECORD + 1;
  const size_t rec_bytes = max_recs * SSE_QUEUE_BYTES_PER_RECORD;
  q_store_.clear();
  q_recs_.clear();
  if ((q_store_.room() < len + 64 && q_store_.reserve_extra(len + 64)) ||
      (q_recs_.room() < rec_bytes && q_recs_.reserve_extra(rec_bytes)))
    return len;  // parsed lazily instead
  SseQueueRun r;
  r.run = data + start;
  r.run_len = (len - start - 64) & ~size_t(63);
  r.max_line = max_line_;
  r.max_event = max_event_;
  r.max_recs = max_recs;
  r.recs = reinterpret_cast<pushwire_sse_event *>(q_recs_.data());
  r.ends = reinterpret_cast<size_t *>(q_recs_.data() + max_recs * sizeof(pushwire_sse_event));
  r.o = q_store_.data();
#if defined(PUSHWIRE_SSE_AVX2)
  if (feed_avx2_ && sse_have_avx2())
    sse_queue_walk_avx2(r);
  else
#endif
    sse_queue_walk_default(r);
  if (r.count == 0) return len;
  q_store_.extend(size_t(r.o - q_store_.data()));
  q_recs_.extend(rec_bytes);
  q_pos_ = 0;
  q_count_ = r.count;
  q_plain_ = r.plain;
  q_ends_at_ = max_recs * sizeof(pushwire_sse_event);
  q_bytes_ = r.ends[r.count - 1];
  return start;
}

// Hands out queued records into evs[*n..cap), as the lazy walk would have dispatched them:
// the records from q_plain_ on are copied out as they are; those before carry the last event
// ID from before the run, and their event limit is checked where the size depended on it.
// Once the last is out, the bytes behind them become in_, and the batch goes on there as the
// walk would. Returns 1, or an error.
int SseParser::pull_queued(pushwire_sse_event *evs, size_t cap, size_t *n) {
  // Locals: the stores into evs could alias the members.
  const pushwire_sse_event *const recs = reinterpret_cast<const pushwire_sse_event *>(q_recs_.data());
  size_t count = *n, pos = q_pos_;
  const size_t end = q_count_ - pos < cap - count ? q_count_ : pos + (cap - count);
  span last_id = last_event_id(), id_at = id_at_;
  int rc = 1;
  if (pos < q_plain_) {
    const size_t inherited = id_size();
    for (const size_t plain = q_plain_ < end ? q_plain_ : end; pos < plain; ++pos) {
      const pushwire_sse_event &r = recs[pos];
      if (r.retry_ms && !event_fits_in(max_event_, inherited, size_t(r.retry_ms))) {
        rc = ERR_EVENT_TOO_BIG;
        break;
      }
      if (r.last_event_id.ptr) id_at = last_id = r.last_event_id;  // as dispatch() leaves them
      pushwire_sse_event &ev = evs[count++];
      ev = r;
      ev.last_event_id = last_id;
      ev.retry_ms = 0;
    }
  }
  if (rc == 1 && pos < end) {
    std::memcpy(evs + count, recs + pos, (end - pos) * sizeof *evs);
    count += end - pos;
    pos = end;
    id_at = last_id = recs[pos - 1].last_event_id;
  }
  if (id_at.ptr != id_at_.ptr) {
    id_at_ = last_id_at_ = id_at;
    id_.clear();
  }
  if (pos != q_pos_) {
    const size_t *const ends = reinterpret_cast<const size_t *>(q_recs_.data() + q_ends_at_);
    q_bytes_ = ends[q_count_ - 1] - ends[pos - 1];
  }
  q_pos_ = pos;
  *n = count;
  if (rc < 0) {
    fail(rc);
    return count ? 1 : rc;
  }
  if (q_pos_ < q_count_) return 1;
  // in_ is empty here; q_store_ stays (the events and the last event ID point into it).
  q_pos_ = q_count_ = 0;
  in_.swap(tail_);
  valid_ = 0;
  valid_stop_ = false;
  if (count < cap && !in_.empty()) {
    int r = next_in_place(evs, cap, n);
    if (r < 0) {
      fail(r);
      return *n ? 1 : r;
    }
  }
  return 1;
}

// Appends fed bytes to in_, whose room is reserved. While everything before them is checked
// (valid_prefix() reached the end, bar an unfinished character), the UTF-8 check of the new
// bytes runs in the pass that copies them (utf8_feed_unmask with a zero key is a copy that
// validates), so they are read from the caller's memory once and valid_prefix() then finds
// nothing left to do; the outcome is what valid_prefix() would find.
void SseParser::append_in(const uint8_t *data, size_t len) {
  static const uint8_t kNoMask[4] = {0, 0, 0, 0};
  const size_t tail = in_.size() - valid_;  // an unfinished character, if checked so far
  uint8_t *const o = in_.extend(len);
  const uint8_t *const p = in_.data() + valid_;
  Utf8State st;
  // Short feeds are copied alone: for them the separate check costs no more.
  if (len < UTF8_UNMASK_FUSED_MIN || valid_stop_ || tail > 3 || !utf8_feed(st, p, tail)) {
    std::memcpy(o, data, len);
    return;
  }
  unsigned phase = 0;
  size_t bad = 0;
  if (utf8_feed_unmask(st, o, data, len, kNoMask, &phase, &bad)) {
    valid_ += st.at_boundary() ? tail + len : utf8_boundary_prefix(p, tail + len);
  } else {
    valid_ += sse_invalid_subpart_start(p, tail + bad);
    valid_stop_ = true;
  }
}

int SseParser::append_line(const void *p, size_t n) {
  if (n > max_line_ - line_.size()) return ERR_LINE_TOO_LONG;
  return line_.append(p, n) ? ERR_NOMEM : 0;
}

// Completes the character held in pending_ with the first bytes of p, or replaces it with
// U+FFFD when p shows it invalid. *used: bytes of p taken (the byte that showed the error
// is not taken: the decoder reads it again as the start of what follows).
int SseParser::finish_pending(const uint8_t *p, size_t n, size_t *used) {
  size_t need = sse_sequence_length(pending_[0]);
  size_t have = pending_len_;
  size_t take = need - have < n ? need - have : n;
  uint8_t tmp[4];
  std::memcpy(tmp, pending_, have);
  std::memcpy(tmp + have, p, take);
  Utf8State st;
  size_t bad = 0;
  if (utf8_feed(st, tmp, have + take, &bad)) {
    *used = take;
    if (have + take < need) {
      std::memcpy(pending_ + have, p, take);
      pending_len_ = uint8_t(have + take);
      return 0;
    }
    pending_len_ = 0;
    return append_line(tmp, need);
  }
  *used = bad - have;  // pending_ itself was a valid prefix, so bad >= have
  pending_len_ = 0;
  return append_line(kSseReplacement, 3);
}

// Appends the decoded text of p[0..n) (no CR or LF in it) to line_. Valid runs are
// copied whole; only the maximal invalid subparts take the slow step.
int SseParser::decode(const uint8_t *p, size_t n) {
  while (n) {
    if (pending_len_) {
      size_t used = 0;
      int rc = finish_pending(p, n, &used);
      if (rc) return rc;
      p += used;
      n -= used;
      continue;
    }
    Utf8State st;
    size_t bad = 0;
    if (utf8_feed(st, p, n, &bad)) {
      size_t keep = n;
      if (!st.at_boundary()) {  // a character continues in the next feed
        keep = utf8_boundary_prefix(p, n);
        pending_len_ = uint8_t(n - keep);
        std::memcpy(pending_, p + keep, pending_len_);
      }
      return append_line(p, keep);
    }
    size_t start = sse_invalid_subpart_start(p, bad);
    int rc = append_line(p, start);
    if (!rc) rc = append_line(kSseReplacement, 3);
    if (rc) return rc;
    size_t skip = start == bad ? bad + 1 : bad;
    p += skip;
    n -= skip;
  }
  return 0;
}

void SseParser::consume_in(size_t n) {
  in_.consume(n);
  if (n < valid_) {
    valid_ -= n;
  } else {
    if (n > valid_) valid_stop_ = false;  // the invalid subpart went with the line that held it
    valid_ = 0;
  }
}

// How many bytes at the front of in_ are whole valid characters. Each byte is checked once:
// the check resumes where it stopped, and after an invalid subpart waits until that is consumed.
size_t SseParser::valid_prefix() {
  span in = in_.view();
  if (!valid_stop_ && valid_ < in.len) {
    const uint8_t *p = in.ptr + valid_;
    const size_t n = in.len - valid_;
    Utf8State st;
    size_t bad = 0;
    if (utf8_feed(st, p, n, &bad)) {
      valid_ += st.at_boundary() ? n : utf8_boundary_prefix(p, n);
    } else {
      valid_ += sse_invalid_subpart_start(p, bad);
      valid_stop_ = true;
    }
  }
  return valid_;
}

// Copies the values that still lie in in_ (data joined in place, event type, id buffer, last
// event ID string) into their own buffers: in_ is about to change, or the general path is
// about to write those buffers. 0 or ERR_NOMEM.
int SseParser::settle() {
  if (data_at_) {
    // In place only while data_ is empty, so this is the whole data buffer.
    if (data_.append(data_at_, size_t(data_end_ - data_at_))) return ERR_NOMEM;
    data_at_ = data_end_ = nullptr;
  }
  if (type_at_.ptr) {
    if (sse_assign(type_, type_at_)) return ERR_NOMEM;
    type_at_ = span{nullptr, 0};
  }
  if (id_at_.ptr) {
    if (sse_assign(id_, id_at_)) return ERR_NOMEM;
    id_at_ = span{nullptr, 0};
  }
  if (last_id_at_.ptr) {
    if (sse_assign(last_id_, last_id_at_)) return ERR_NOMEM;
    last_id_at_ = span{nullptr, 0};
  }
  return 0;
}

// The event handed out last is done with. A batch keeps the buffers' memory (earlier events
// of the batch may point into it); otherwise one huge event should not pin its memory for
// the life of the connection.
void SseParser::drop_event(bool keep_memory) {
  if (!keep_memory && data_.capacity() > kSseKeepCapacity) data_.release();
  data_.clear();
  type_.clear();
  data_at_ = data_end_ = nullptr;
  type_at_ = span{nullptr, 0};
  event_out_ = false;
}

// The field actions (WHATWG "Process the field"). A value taken where it lies in in_
// (in_place) stays there: data is joined in place, behind the walk, and the event type
// and id are remembered as spans; see settle(). value[0..readable) may be read.
PUSHWIRE_INLINE int SseParser::field_data(span value, size_t readable, bool in_place) {
  // The event so far must stay within max_event_ once this field is applied.
  if (!event_fits_in(max_event_, type_size() + id_size() + data_size(), value.len + 1)) return ERR_EVENT_TOO_BIG;
  if (in_place && data_.empty()) {
    sse_join_in_place(&data_at_, &data_end_, const_cast<uint8_t *>(value.ptr), value.len);  // in_'s own bytes
    return 0;
  }
#if defined(__SSE2__)
  // Room for sse_copy_wide's fixed moves past the value.
  if (data_.room() < value.len + 64 && data_.reserve_extra(value.len + 64)) return ERR_NOMEM;
  uint8_t *o = sse_copy_wide(data_.extend(value.len + 1), value.ptr, value.len, readable);
#else
  (void)readable;
  uint8_t *o = data_.extend(value.len + 1);
  if (!o) return ERR_NOMEM;
  copy_bytes(o, value.ptr, value.len);
  o += value.len;
#endif
  *o = '\n';
  return 0;
}

// The event type and id are kept either where they lie in in_ (in_at) or copied (copy).
PUSHWIRE_INLINE int SseParser::keep_value(span &in_at, Buffer &copy, span value, bool in_place) {
  // In place only ahead of data joined in place, which would overwrite it.
  if (in_place && !data_at_) {
    in_at = value;
    copy.clear();
    return 0;
  }
  in_at = span{nullptr, 0};
  return sse_assign(copy, value);
}

PUSHWIRE_INLINE int SseParser::field_event(span value, bool in_place) {
  if (!event_fits_in(max_event_, id_size() + data_size(), value.len)) return ERR_EVENT_TOO_BIG;
  return keep_value(type_at_, type_, value, in_place);
}

PUSHWIRE_INLINE int SseParser::field_id(span value, size_t readable, bool in_place) {
  if (sse_has_nul(value.ptr, value.len, readable)) return 0;
  if (!event_fits_in(max_event_, type_size() + data_size(), value.len)) return ERR_EVENT_TOO_BIG;
  id_changed_ = true;
  return keep_value(id_at_, id_, value, in_place);
}

// Inlined: it runs once per line, and the in-place walk's loop keeps its state in registers.
// p[0..readable) may be read (readable >= n). kInPlace: the line lies in in_, found by the
// walk, which passes the buffer's slack (at least 64 bytes past the line end are readable);
// pinned: see next_in_place.
template <bool kInPlace>
PUSHWIRE_INLINE int SseParser::process_line(const uint8_t *p, size_t n, size_t readable, pushwire_sse_event *ev,
                                            bool pinned) {
  // The spellings servers write (sse_encode's among them) need no search for the colon: the
  // line's first eight bytes, compared once per spelling (the walk may load them whole).
  const uint64_t head = kInPlace ? sse_load_le64(p) : sse_head_word(p, n, readable);
  span value;
  SseField field;
  if (n >= 6 && (head & sse_low_bytes(6)) == kSseDataWord) {
    return field_data(span{p + 6, n - 6}, readable - 6, kInPlace);
  } else if (n >= 7 && (head & sse_low_bytes(7)) == kSseEventWord) {
    field = kSseEvent;
    value = span{p + 7, n - 7};
  } else if (n >= 4 && (head & sse_low_bytes(4)) == kSseIdWord) {
    field = kSseId;
    value = span{p + 4, n - 4};
  } else {
    if (n == 0) {
      if (pinned && id_changed_ && !id_at_.ptr) return kSseStop;  // would be copied into last_id_
      return dispatch(ev);
    }
    field = classify_line(span{p, n}, &value);
  }
  switch (field) {
    case kSseData:
      return field_data(value, readable - size_t(value.ptr - p), kInPlace);
    case kSseEvent:
      if (pinned && data_at_) return kSseStop;  // would be copied into type_
      return field_event(value, kInPlace);
    case kSseId:
      if (pinned && data_at_) return kSseStop;  // would be copied into id_
      return field_id(value, readable - size_t(value.ptr - p), kInPlace);
    case kSseRetry:
      return field_retry(value, ev);
    case kSseComment:
      if (!report_comments_) return 0;
      sse_clear_event(ev, PUSHWIRE_SSE_EV_COMMENT);
      ev->data = value;
      return 1;
    default:
      return 0;  // any other field is ignored
  }
}

// Any line but the usual spellings and the blank line: a comment (value: the text after
// ':'), or a field found by its colon.
SseParser::SseField SseParser::classify_line(span line, span *value) {
  if (line.ptr[0] == ':') {
    *value = span{line.ptr + 1, line.len - 1};
    return kSseComment;
  }
  // Field names are short: a plain loop finds the colon sooner than a memchr call.
  size_t colon = 1;
  while (colon < line.len && line.ptr[colon] != ':') ++colon;
  span name{line.ptr, colon};
  *value = span{line.ptr + line.len, 0};
  if (colon < line.len) {
    *value = span{line.ptr + colon + 1, line.len - colon - 1};
    if (value->len && value->ptr[0] == ' ') ++value->ptr, --value->len;
  }
  return sse_name_is(name, "data", 4)    ? kSseData
         : sse_name_is(name, "event", 5) ? kSseEvent
         : sse_name_is(name, "id", 2)    ? kSseId
         : sse_name_is(name, "retry", 5) ? kSseRetry
                                         : kSseOther;
}

int SseParser::field_retry(span value, pushwire_sse_event *ev) {
  // Only ASCII digits count; an empty value or one past 2^64-1 is ignored too (as Chromium does).
  if (value.len == 0) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < value.len; ++i) {
    unsigned d = unsigned(value.ptr[i]) - '0';
    if (d > 9 || v > (UINT64_MAX - d) / 10) return 0;
    v = v * 10 + d;
  }
  retry_ms_ = v;
  has_retry_ = true;
  sse_clear_event(ev, PUSHWIRE_SSE_EV_RETRY);
  ev->retry_ms = v;
  return 1;
}

int SseParser::dispatch(pushwire_sse_event *ev) {
  if (id_changed_) {  // step 1: the string takes the buffer's value, even if nothing fires
    if (id_at_.ptr) {
      last_id_at_ = id_at_;
    } else {
      if (sse_assign(last_id_, id_.view())) return ERR_NOMEM;
      last_id_at_ = span{nullptr, 0};
    }
    id_changed_ = false;
  }
  span data = data_at_ ? span{data_at_, size_t(data_end_ - data_at_)} : data_.view();
  span type = type_view();
  if (data.len == 0) {
    type_.clear();
    type_at_ = span{nullptr, 0};
    return 0;
  }
  ev->type = PUSHWIRE_SSE_EV_EVENT;
  ev->flags = 0;
  ev->data = span{data.ptr, data.len - 1};  // the trailing LF goes
  ev->event_type = type.len ? type : make_span("message", 7);
  ev->last_event_id = last_event_id();
  ev->retry_ms = 0;
  ev->reserved = 0;
  event_out_ = true;
  return 1;
}

// The walk's copy of the fields it reads and writes on every line: locals stay in registers,
// where members would be reloaded after every store through the input's bytes (which could
// alias them). load() before the walk and after any call into the general code, store()
// before such a call and when the walk ends.
struct SseParser::Walk {
  uint8_t *data_at, *data_end;
  span type_at;
  span last_id;    // last_event_id()
  size_t id_size;  // id_size()
  // max_event_ less the event's bytes so far (type, id, data), which never pass it: each
  // field's event_fits_in test in one comparison.
  size_t room;
  bool id_changed;
  bool simple;  // data_ and type_ empty: every value of the event lies in in_ (or is empty)
};

// id_at_ and last_id_at_ are written as members: they change once an event at most.
PUSHWIRE_INLINE void SseParser::walk_load(Walk &w) const {
  w.data_at = data_at_;
  w.data_end = data_end_;
  w.type_at = type_at_;
  w.last_id = last_event_id();
  w.id_size = id_size();
  w.id_changed = id_changed_;
  const size_t used = type_size() + w.id_size + data_size();
  w.simple = data_.empty() && type_.empty() && used <= max_event_;
  w.room = w.simple ? max_event_ - used : 0;
}

PUSHWIRE_INLINE void SseParser::walk_store(const Walk &w) {
  data_at_ = w.data_at;
  data_end_ = w.data_end;
  type_at_ = w.type_at;
  id_changed_ = w.id_changed;
}

// Parses whole lines of valid UTF-8 in place into evs[*n..cap): events continue a batch
// while there is room and the last one was no comment (whose text lies where the next data
// may be joined). Two stages per window of the input: the offsets of its line ends
// (sse_index_lines, SIMD), then one loop over them. The lines servers write -- "data: ",
// "event: ", "id: " and the blank line that dispatches -- are taken in that loop while the
// event's values all lie in in_ (Walk::simple); any other line goes through process_line
// with the same outcome. Later events of a batch are pinned: a line that would write a
// buffer an earlier event may point into stops the walk before it (kSseStop). Returns 1
// once it has added events, an error, or 0 at the first line it leaves to the general path
// in next_events(): unfinished, too long, or holding invalid UTF-8 (which that path decodes).
int SseParser::next_in_place(pushwire_sse_event *evs, size_t cap, size_t *n) {
  span in = in_.view();
  uint8_t *const p = in_.data();
  const uint8_t *const end = in.ptr + in.len, *const valid = p + valid_prefix();
  uint8_t *line = p;
  const uint8_t *window = p;  // the next bytes to index
  const size_t max_line = max_line_;
  const bool avx2 = sse_have_avx2();
  const size_t first = *n;
  size_t count = first;
  int r = 0;
  bool cr_last = false;  // the last line taken ended in a CR that ends the input
  Walk w;
  walk_load(w);
  const uint8_t *idx[kSseIndexRoom];
  while (window < valid) {
    // Only line ends before `valid` are indexed: a line that ends later holds invalid UTF-8
    // or is unfinished, and the general path takes it.
    const size_t wlen = size_t(valid - window) < kSseIndexWindow ? size_t(valid - window) : kSseIndexWindow;
    const size_t k = sse_index_lines(window, wlen, idx, avx2);  // reads within in_'s slack
    window += wlen;
    for (size_t i = 0; i < k; ++i) {
      uint8_t *const e = p + (idx[i] - p);  // in_'s own bytes
      if (e < line) continue;  // the LF of a CR LF
      const size_t len = size_t(e - line);
      if (len > max_line) goto leave;
      uint8_t *after = e + 1;
      if (PUSHWIRE_UNLIKELY(*e == '\r')) {  // read now: joining data may overwrite the line end
        if (after == end) {
          cr_last = true;  // a LF first in the next feed still belongs to this line end
        } else if (*after == '\n') {
          ++after;
        }
      }
      // The in_ buffer has kSseSlack bytes past its end: the first word may be loaded whole.
      const uint64_t head = sse_load_le64(line);
      if (len >= 6 && (head & sse_low_bytes(6)) == kSseDataWord) {
        const size_t add = len - 5;  // the value and its LF
        if (PUSHWIRE_LIKELY(w.simple && add <= w.room)) {
          w.room -= add;
          sse_join_in_place(&w.data_at, &w.data_end, line + 6, len - 6);
          line = after;
          continue;
        }
      } else if (len == 0) {
        // dispatch(), for values that lie in in_; a last event ID that would be copied into
        // its buffer goes the general way (where a pinned walk stops).
        if (PUSHWIRE_LIKELY(w.simple && (!w.id_changed || id_at_.ptr))) {
          line = after;
          if (w.id_changed) {
            last_id_at_ = w.last_id = id_at_;
            w.id_changed = false;
          }
          const span type = w.type_at;
          const size_t data_len = size_t(w.data_end - w.data_at);
          w.room += type.len + data_len;
          w.type_at = span{nullptr, 0};
          if (data_len == 0) continue;  // no data: nothing fires
          pushwire_sse_event *const ev = &evs[count++];
          ev->type = PUSHWIRE_SSE_EV_EVENT;
          ev->flags = 0;
          ev->data = span{w.data_at, data_len - 1};  // the trailing LF goes
          ev->event_type = type.len ? type : make_span("message", 7);
          ev->last_event_id = w.last_id;
          ev->retry_ms = 0;
          ev->reserved = 0;
          w.data_at = w.data_end = nullptr;
          if (count == cap) {
            event_out_ = true;  // as dispatch() leaves it
            walk_store(w);
            goto stop;
          }
          continue;
        }
      } else if (len >= 7 && (head & sse_low_bytes(7)) == kSseEventWord) {
        // field_event() ahead of any data (data joined later would overwrite the value).
        const size_t vlen = len - 7, room = w.room + w.type_at.len;
        if (PUSHWIRE_LIKELY(w.simple && !w.data_at && vlen <= room)) {
          w.room = room - vlen;
          w.type_at = span{line + 7, vlen};
          line = after;
          continue;
        }
      } else if (len >= 4 && (head & sse_low_bytes(4)) == kSseIdWord) {
        // field_id() ahead of any data; an id holding NUL is left to it.
        const size_t vlen = len - 4, room = w.room + w.id_size;
        if (PUSHWIRE_LIKELY(w.simple && !w.data_at && vlen <= room &&
                            !sse_has_nul(line + 4, vlen, size_t(end - line) - 4 + kSseSlack))) {
          w.room = room - vlen;
          id_at_ = span{line + 4, vlen};
          w.id_size = vlen;
          w.id_changed = true;
          id_.clear();
          line = after;
          continue;
        }
      }
      walk_store(w);
      r = process_line<true>(line, len, size_t(end - line) + kSseSlack, &evs[count], count > 0);
      if (r == kSseStop) {  // this line is parsed again by the next call
        cr_last = false;
        goto stop;
      }
      line = after;
      if (r) {
        if (r < 0) goto stop;
        ++count;
        if (count == cap || evs[count - 1].type == PUSHWIRE_SSE_EV_COMMENT) goto stop;
        if (event_out_) drop_event(true);
      }
      walk_load(w);
    }
  }
leave:
  walk_store(w);
  after_cr_ = cr_last;
  consume_in(size_t(line - p));
  *n = count;
  return count > first ? 1 : 0;
stop:
  // The bytes stay in place until the next feed: spans into them hold. The members are
  // current (process_line wrote them, or the walk stored them).
  after_cr_ = cr_last;
  consume_in(size_t(line - p));
  *n = count;
  return r < 0 ? r : 1;
}

int SseParser::next(pushwire_sse_event *ev) {
  size_t n = 0;
  return next_events(ev, 1, &n);
}

int SseParser::next_events(pushwire_sse_event *evs, size_t cap, size_t *n) {
  *n = 0;
  if (error_) return error_;
  if (event_out_) drop_event(false);
  if (line_out_) {
    line_.clear();
    line_out_ = false;
  }
  bool in_place_tried = false;  // it stopped at the line in front: the general path takes that one
  for (;;) {
    span in = in_.view();
    if (in.len == 0) {
      if (queued()) return pull_queued(evs, cap, n);
      if (in_.capacity() > kSseKeepCapacity || q_store_.capacity() > kSseKeepCapacity ||
          q_recs_.capacity() > kSseKeepCapacity || tail_.capacity() > kSseKeepCapacity) {  // after one huge feed
        if (settle()) return fail(ERR_NOMEM);
        in_.release();
        q_store_.release();
        q_recs_.release();
        tail_.release();
      }
      return 0;
    }
    if (!bom_checked_) {
      // The BOM may arrive a byte at a time: wait until three bytes tell, or eof.
      size_t k = in.len < 3 ? in.len : 3;
      if (std::memcmp(in.ptr, kSseBom, k) == 0 && k < 3 && !eof_) return 0;
      bom_checked_ = true;
      if (k == 3 && std::memcmp(in.ptr, kSseBom, 3) == 0) consume_in(3);
      continue;
    }
    if (after_cr_) {
      after_cr_ = false;
      if (in.ptr[0] == '\n') {
        consume_in(1);
        continue;
      }
    }
    if (!in_place_tried && line_.empty() && pending_len_ == 0) {
      int r = next_in_place(evs, cap, n);
      if (r < 0) {
        fail(r);
        return *n ? 1 : r;  // sticky: the next call reports it, after these events
      }
      // The walk used up in_: it would go on into the queued events.
      if (r && in_.empty() && queued() && *n < cap && evs[*n - 1].type != PUSHWIRE_SSE_EV_COMMENT)
        return pull_queued(evs, cap, n);
      if (r) return r;
      in_place_tried = true;
      continue;
    }
    in_place_tried = false;
    // What next_in_place leaves here is a line it cannot take where it lies: unfinished,
    // too long, after a partial line, or holding invalid UTF-8. It is decoded into line_.
    size_t e = sse_find_line_end(in.ptr, in.len);
    if (e == in.len) {  // an unfinished line: decode it now, so it is never scanned again
      int rc = decode(in.ptr, e);
      consume_in(e);
      return rc ? fail(rc) : 0;
    }
    int rc = decode(in.ptr, e);
    if (!rc && pending_len_) {  // the line end cut a character short
      pending_len_ = 0;
      rc = append_line(kSseReplacement, 3);
    }
    if (!rc) rc = settle();  // this line's field goes to the buffers
    if (rc) return fail(rc);
    after_cr_ = in.ptr[e] == '\r';
    consume_in(e + 1);
    span text = line_.view();
    int r = process_line<false>(line_.data(), text.len, text.len, evs, false);
    if (r < 0) return fail(r);
    if (r) {
      line_out_ = true;
      *n = 1;
      return r;
    }
    line_.clear();
  }
}

int SseParser::reset() {
  if (settle()) return fail(ERR_NOMEM);  // the id buffer and string may lie in in_
  in_.release();
  line_.release();
  data_.release();
  type_.release();
  q_recs_.release();
  q_store_.release();
  tail_.release();
  q_pos_ = q_count_ = q_bytes_ = 0;
  pending_len_ = 0;
  valid_ = 0;
  valid_stop_ = false;
  error_ = 0;
  bom_checked_ = after_cr_ = eof_ = started_ = false;
  event_out_ = line_out_ = false;
  if (id_changed_) {  // an id from an event the old stream never finished goes with that event
    id_.clear();
    if (id_.append(last_id_.view())) return fail(ERR_NOMEM);
    id_changed_ = false;
  }
  return 0;
}

namespace {
const char kSseReconnectFixed[] = "Accept: text/event-stream\r\nCache-Control: no-cache\r\n";
const char kSseIdName[] = "Last-Event-ID: ";
}  // namespace

int sse_reconnect_headers(span last_event_id, uint8_t *out, size_t cap, size_t *written) {
  size_t n = sizeof kSseReconnectFixed - 1;
  if (last_event_id.len) n += sizeof kSseIdName - 1 + last_event_id.len + 2;
  *written = n;
  if (cap < n) return ERR_BUFFER_TOO_SMALL;
  std::memcpy(out, kSseReconnectFixed, sizeof kSseReconnectFixed - 1);
  if (last_event_id.len) {
    uint8_t *o = out + sizeof kSseReconnectFixed - 1;
    std::memcpy(o, kSseIdName, sizeof kSseIdName - 1);
    o += sizeof kSseIdName - 1;
    std::memcpy(o, last_event_id.ptr, last_event_id.len);
    std::memcpy(o + last_event_id.len, "\r\n", 2);
  }
  return 0;
}

}  // namespace pushwire
