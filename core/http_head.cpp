#include "http_head.hpp"

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
};

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
          FieldRec r{tok_start, name_len, value_start, value_end - value_start};
          if (nfields == 0 && fields.reserve_extra(16 * sizeof r)) {
            err = "out of memory";
            code = ERR_NOMEM;
            break;
          }
          if (fields.append(&r, sizeof r)) {
            err = "out of memory";
            code = ERR_NOMEM;
            break;
          }
          ++nfields;
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

bool HttpHead::complete() const { return impl_ && impl_->state == Impl::S_DONE; }
bool HttpHead::started() const { return error_ != 0 || (impl_ && impl_->scanned > 0); }
size_t HttpHead::bytes_scanned() const { return impl_ ? impl_->scanned : 0; }

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
  const char *err = nullptr;
  int code = ERR_BAD_HTTP;
  size_t i = s.scan(data, n, kind_ == Kind::Request, max_headers_, &err, &code);

  if (err) return fail(code, err);
  if (s.state != Impl::S_DONE && n < len) return fail(ERR_HEAD_TOO_LARGE, "head larger than the limit");
  if (s.head.append(data, i)) return fail(ERR_NOMEM, "out of memory");
  *consumed = i;
  return s.state == Impl::S_DONE ? 1 : 0;
}

span HttpHead::method() const {
  if (!complete() || kind_ != Kind::Request) return span{nullptr, 0};
  return impl_->at(0, impl_->method_len);
}

span HttpHead::target() const {
  if (!complete() || kind_ != Kind::Request) return span{nullptr, 0};
  return impl_->at(impl_->target_off, impl_->target_len);
}

int HttpHead::minor_version() const { return complete() ? impl_->minor : 0; }

int HttpHead::status() const { return complete() ? impl_->status : 0; }

span HttpHead::reason_phrase() const {
  if (!complete() || kind_ != Kind::Response) return span{nullptr, 0};
  return impl_->at(impl_->reason_off, impl_->reason_len);
}

size_t HttpHead::field_count() const { return complete() ? impl_->nfields : 0; }

HttpField HttpHead::field(size_t i) const {
  if (i >= field_count()) return HttpField{span{nullptr, 0}, span{nullptr, 0}};
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
  error_ = 0;
  reason_ = "";
  if (impl_) impl_->clear(kind_);
}

void HttpHead::release() {
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
