// An incremental, strict HTTP/1.1 head parser (request or status line, then fields),
// for WebSocket upgrades, event-stream requests and plain requests alike.
//
// Incremental: input may be split at any byte and is never rescanned (linear time).
// Strict: lines end in CR LF only; obs-fold, NUL and other control bytes are errors;
// field names are tokens. Bounded: head size and field count have limits.
// Views: every span returned points into the parser's own copy of the head, valid
// until reset(), release() or destruction.
#pragma once

#include "buffer.hpp"

namespace pushwire {

constexpr size_t HTTP_DEFAULT_MAX_HEAD = 16384;
constexpr size_t HTTP_DEFAULT_MAX_HEADERS = 64;

struct HttpField {
  span name;
  span value;  // surrounding whitespace removed
};

// What the parser accepts (RFC 9112 grammar, with no leniency):
//   request-line = method SP request-target SP "HTTP/1." ("0" / "1") CRLF
//                  method: a token; target: one or more of %x21-7E
//   status-line  = "HTTP/1." ("0" / "1") SP 3DIGIT SP reason CRLF
//                  status 100..999; reason: HTAB / SP / VCHAR / obs-text, may be empty
//   field-line   = token ":" OWS value OWS CRLF
//                  value bytes: HTAB, SP, %x21-7E, %x80-FF (DEL and other controls are errors)
// then an empty line. No empty lines before the start line, no obs-fold, no whitespace
// before the colon or before the first field. Failures are ERR_BAD_HTTP (status 400);
// passing max_head bytes or max_headers fields is ERR_HEAD_TOO_LARGE (status 431).
class HttpHead {
 public:
  enum class Kind : uint8_t { Request, Response };
  HttpHead(const Allocator *alloc, Kind kind);
  ~HttpHead();
  HttpHead(const HttpHead &) = delete;
  HttpHead &operator=(const HttpHead &) = delete;

  // Both at least 1 (0 is taken as 1). A head of exactly max_head bytes is accepted.
  void set_limits(size_t max_head, size_t max_headers);
  size_t max_head() const { return max_head_; }
  size_t max_headers() const { return max_headers_; }
  Kind kind() const { return kind_; }

  // Returns 1 once the head is complete, 0 when more bytes are needed, or ERR_BAD_HTTP,
  // ERR_HEAD_TOO_LARGE, ERR_NOMEM (sticky). *consumed (never NULL) receives how many bytes
  // of data belong to the head; the rest is what follows it. After completion or an
  // error, feed consumes nothing.
  int feed(const uint8_t *data, size_t len, size_t *consumed);
  // Parses a complete request head at the start of `data` where it lies, copying and
  // allocating nothing: `fields` (room for `cap`) receives the fields, and every span the
  // parser hands out points into `data`, so the parser must not outlive those bytes.
  // Returns 1 with *consumed set to the head's size, or 0 with nothing taken when the head
  // needs feed() instead: incomplete, past a limit or `cap`, or anything the whole-head
  // pass leaves to the state machine, which reports every error. Only on a fresh parser.
  int borrow_whole_request(const uint8_t *data, size_t len, HttpField *fields, size_t cap, size_t *consumed);
  bool complete() const;
  bool started() const;  // any byte fed since construction/reset
  int error() const { return error_; }  // 0 or the sticky error
  const char *error_reason() const { return reason_; }  // static text, "" if none
  // The status to answer a failed request with: 400, 431, 500 (out of memory), or 0.
  int status_hint() const;
  // Bytes examined since construction/reset. Every byte is looked at once, so after a
  // complete head this equals its size however the input was split.
  size_t bytes_scanned() const;

  // The accessors below return empty spans / zero until complete().
  // Request line (Kind::Request).
  span method() const;
  span target() const;
  int minor_version() const;  // 0 or 1
  // Status line (Kind::Response).
  int status() const;
  span reason_phrase() const;

  // Inline for a borrowed head, which the handshake walks field by field.
  size_t field_count() const { return borrowing() ? borrowed_.count : copied_field_count(); }
  HttpField field(size_t i) const {
    if (!borrowing()) return copied_field(i);
    return i < borrowed_.count ? borrowed_.fields[i] : HttpField{span{nullptr, 0}, span{nullptr, 0}};
  }
  // The fields as one array (field_count() of them) for a borrowed head, or NULL: a caller
  // that walks them all then reads them without a check per field.
  const HttpField *borrowed_fields() const { return borrowing() ? borrowed_.fields : nullptr; }
  // index-th field named `name` (case-insensitive).
  bool find(span name, size_t index, span *value) const;
  bool find(const char *name, size_t index, span *value) const;
  // Number of fields named `name` (case-insensitive).
  size_t count(const char *name) const;
  // Whether any field named `name` lists `token` in its comma-separated value (case-insensitive).
  bool has_token(span name, span token) const;
  bool has_token(const char *name, const char *token) const;

  void reset();    // parse another head; limits stay, memory is kept for reuse
  void release();  // reset() and give the memory back

 private:
  struct Impl;
  Impl *impl_ = nullptr;  // allocated on first feed, so an unused parser costs no memory
  // A head taken by borrow_whole_request (then impl_ stays unused); size 0 when none,
  // as a complete head has at least the four bytes of its end.
  struct Borrowed {
    span method, target;
    int minor;
    const HttpField *fields;
    size_t count, size;
  };
  Borrowed borrowed_{};
  bool borrowing() const { return borrowed_.size != 0; }
  const Allocator *alloc_;
  size_t max_head_ = HTTP_DEFAULT_MAX_HEAD;
  size_t max_headers_ = HTTP_DEFAULT_MAX_HEADERS;
  Kind kind_;
  int error_ = 0;
  const char *reason_ = "";
  size_t copied_field_count() const;
  HttpField copied_field(size_t i) const;
  int ensure_impl();
  int fail(int code, const char *reason);
};

// The whole-head path's first pass over 64 bytes at q: bit i set where q[i] is LF, CR,
// (bad) a control byte other than HTAB, CR and LF, or DEL, and (stop) not a token
// character, where a method or field name ends; the versions without AVX2 also stop at
// the token characters other than letters, digits and '-' (names past those are taken
// byte by byte). Exposed so tests can hold the AVX2 version (avx2 true) and the baseline one (SSE2, or
// the portable one without SSE2) against a byte loop; false, nothing done, when the CPU
// or the build lacks the one asked for.
struct HttpBlock64 {
  uint64_t lf, cr, bad, stop;
};
bool http_classify64(const uint8_t *q, bool avx2, HttpBlock64 *out);
// The classifier of builds without SSE2 (which http_classify64 with avx2 false uses
// there), compiled everywhere so that x86-64 runs test it too.
void http_classify64_portable(const uint8_t *q, HttpBlock64 *out);

// Comma-separated list iteration (RFC 9110 #rule): skips empty elements and OWS.
// Quoted strings are honoured (with backslash escapes), so a comma inside quotes does
// not split. Returns false when the list is exhausted. One pass: each call advances
// *rest past what it examined.
bool next_list_element(span *rest, span *element);
// Whether the list holds `token` as an element (ASCII case-insensitive).
bool list_contains_ci(span list, span token);

}  // namespace pushwire
