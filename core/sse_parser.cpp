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

bool sse_name_is(span name, const char *lit, size_t n) { return name.len == n && std::memcmp(name.ptr, lit, n) == 0; }

}  // namespace

SseParser::SseParser(const Allocator *alloc)
    : in_(alloc), line_(alloc), data_(alloc), type_(alloc), id_(alloc), last_id_(alloc) {}

int SseParser::feed(const uint8_t *data, size_t len) {
  if (error_) return error_;
  if (eof_) return ERR_INVALID_STATE;
  started_ = true;
  ends_block_ = nullptr;
  if (!in_.empty() && (in_.size() > max_input_ || len > max_input_ - in_.size())) return ERR_BUFFER_FULL;
  if (in_.append(data, len)) return fail(ERR_NOMEM);
  return 0;
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

// Parses whole lines of valid UTF-8 in place until one yields a result, with the line ends
// found a block at a time (SseLineEnds128). Returns that
// result, or 0 at the first line it leaves to the general path in next(): unfinished, too
// long, or holding invalid UTF-8 (which that path decodes).
int SseParser::next_in_place(pushwire_sse_event *ev) {
  span in = in_.view();
  const uint8_t *const p = in.ptr, *const end = in.ptr + in.len, *const valid = p + valid_prefix();
  const uint8_t *line = p, *w = p;
  SseLineEnds128 m;
  if (ends_block_ && ends_block_ <= p && p < ends_block_ + 128) {
    w = ends_block_;
    m = ends_;
    m.drop_below(size_t(p - w));
  } else {
    m = SseLineEnds128::scan(p, in.len);
  }
  for (;;) {
    while (!m.empty()) {
      const uint8_t *e = w + m.pop();
      if (e < line) continue;  // the LF of a CR LF
      if (e >= valid || size_t(e - line) > max_line_) {
        consume_in(size_t(line - p));
        return 0;
      }
      const uint8_t *after = e + 1;
      if (*e == '\r') {
        if (after == end)
          after_cr_ = true;  // a LF first in the next feed still belongs to this line end
        else if (*after == '\n')
          ++after;
      }
      int r = process_line(span{line, size_t(e - line)}, ev);
      line = after;
      if (r) {
        ends_block_ = w;
        ends_ = m;
        consume_in(size_t(line - p));  // the bytes stay in place until the next feed: spans into them hold
        return r;
      }
    }
    w += 128;
    if (w >= end) break;
    m = SseLineEnds128::scan(w, size_t(end - w));
  }
  ends_block_ = nullptr;
  consume_in(size_t(line - p));
  return 0;
}

int SseParser::next(pushwire_sse_event *ev) {
  if (error_) return error_;
  if (event_out_) {
    // One huge event should not pin its memory for the life of the connection.
    if (data_.capacity() > kSseKeepCapacity) data_.release();
    data_.clear();
    type_.clear();
    event_out_ = false;
  }
  if (line_out_) {
    line_.clear();
    line_out_ = false;
  }
  bool in_place_tried = false;  // it stopped at the line in front: the general path takes that one
  for (;;) {
    span in = in_.view();
    if (in.len == 0) {
      if (in_.capacity() > kSseKeepCapacity) in_.release();  // after one huge feed
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
      int r = next_in_place(ev);
      if (r) return r < 0 ? fail(r) : r;
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
    if (rc) return fail(rc);
    after_cr_ = in.ptr[e] == '\r';
    consume_in(e + 1);
    int r = process_line(line_.view(), ev);
    if (r < 0) return fail(r);
    if (r) {
      line_out_ = true;
      return r;
    }
    line_.clear();
  }
}

namespace {
enum SseField { kSseData, kSseEvent, kSseId, kSseRetry, kSseOther };
}  // namespace

// Inlined: it runs once per line, and the in-place walk's loop keeps its state in registers.
PUSHWIRE_INLINE int SseParser::process_line(span line, pushwire_sse_event *ev) {
  SseField field;
  span value;
  // The spellings servers write (sse_encode's among them) need no search for the colon.
  if (line.len >= 6 && std::memcmp(line.ptr, "data: ", 6) == 0) {
    field = kSseData;
    value = span{line.ptr + 6, line.len - 6};
  } else if (line.len >= 7 && std::memcmp(line.ptr, "event: ", 7) == 0) {
    field = kSseEvent;
    value = span{line.ptr + 7, line.len - 7};
  } else if (line.len >= 4 && std::memcmp(line.ptr, "id: ", 4) == 0) {
    field = kSseId;
    value = span{line.ptr + 4, line.len - 4};
  } else {
    if (line.len == 0) return dispatch(ev);
    if (line.ptr[0] == ':') {
      if (!report_comments_) return 0;
      sse_clear_event(ev, PUSHWIRE_SSE_EV_COMMENT);
      ev->data = span{line.ptr + 1, line.len - 1};
      return 1;
    }
    // Field names are short: a plain loop finds the colon sooner than a memchr call.
    size_t colon = 1;
    while (colon < line.len && line.ptr[colon] != ':') ++colon;
    span name{line.ptr, colon};
    value = span{line.ptr + line.len, 0};
    if (colon < line.len) {
      value = span{line.ptr + colon + 1, line.len - colon - 1};
      if (value.len && value.ptr[0] == ' ') ++value.ptr, --value.len;
    }
    field = sse_name_is(name, "data", 4)    ? kSseData
            : sse_name_is(name, "event", 5) ? kSseEvent
            : sse_name_is(name, "id", 2)    ? kSseId
            : sse_name_is(name, "retry", 5) ? kSseRetry
                                            : kSseOther;
  }
  // The event so far must stay within max_event_ once this field is applied.
  size_t type_len = type_.size(), id_len = id_.size(), data_len = data_.size();
  switch (field) {
    case kSseData: {
      if (!event_fits(type_len + id_len + data_len, value.len + 1)) return ERR_EVENT_TOO_BIG;
#if defined(__SSE2__)
      // Room for sse_copy_wide's fixed moves past the value.
      if (data_.room() < value.len + 64 && data_.reserve_extra(value.len + 64)) return ERR_NOMEM;
      uint8_t *o = sse_copy_wide(data_.extend(value.len + 1), value.ptr, value.len, value.len);
#else
      uint8_t *o = data_.extend(value.len + 1);
      if (!o) return ERR_NOMEM;
      copy_bytes(o, value.ptr, value.len);
      o += value.len;
#endif
      *o = '\n';
      return 0;
    }
    case kSseEvent:
      if (!event_fits(id_len + data_len, value.len)) return ERR_EVENT_TOO_BIG;
      return sse_assign(type_, value);
    case kSseId:
      if (!sse_no_low_bytes(value.ptr, value.len) && std::memchr(value.ptr, 0, value.len)) return 0;
      if (!event_fits(type_len + data_len, value.len)) return ERR_EVENT_TOO_BIG;
      id_changed_ = true;
      return sse_assign(id_, value);
    case kSseRetry: {
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
    default:
      return 0;  // any other field is ignored
  }
}

int SseParser::dispatch(pushwire_sse_event *ev) {
  if (id_changed_) {  // step 1: the string takes the buffer's value, even if nothing fires
    if (sse_assign(last_id_, id_.view())) return ERR_NOMEM;
    id_changed_ = false;
  }
  if (data_.empty()) {
    type_.clear();
    return 0;
  }
  sse_clear_event(ev, PUSHWIRE_SSE_EV_EVENT);
  ev->data = span{data_.data(), data_.size() - 1};  // the trailing LF goes
  ev->event_type = type_.empty() ? make_span("message", 7) : type_.view();
  ev->last_event_id = last_id_.view();
  event_out_ = true;
  return 1;
}

int SseParser::reset() {
  in_.release();
  line_.release();
  data_.release();
  type_.release();
  pending_len_ = 0;
  valid_ = 0;
  valid_stop_ = false;
  ends_block_ = nullptr;
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
