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

class HttpHead {
 public:
  enum class Kind : uint8_t { Request, Response };
  HttpHead(const Allocator *alloc, Kind kind);
  ~HttpHead();
  HttpHead(const HttpHead &) = delete;
  HttpHead &operator=(const HttpHead &) = delete;

  void set_limits(size_t max_head, size_t max_headers);
  size_t max_head() const;
  size_t max_headers() const;

  // Returns 1 once the head is complete, 0 when more bytes are needed, or ERR_BAD_HTTP,
  // ERR_HEAD_TOO_LARGE, ERR_NOMEM (sticky). *consumed (never NULL) receives how many bytes
  // of data belong to the head; the rest is what follows it.
  int feed(const uint8_t *data, size_t len, size_t *consumed);
  bool complete() const;
  bool started() const;  // any byte fed since construction/reset
  int error() const;     // 0 or the sticky error
  const char *error_reason() const;  // static text, "" if none

  // Request line (Kind::Request).
  span method() const;
  span target() const;
  int minor_version() const;  // 0 or 1
  // Status line (Kind::Response).
  int status() const;
  span reason_phrase() const;

  size_t field_count() const;
  HttpField field(size_t i) const;
  // index-th field named `name` (case-insensitive).
  bool find(span name, size_t index, span *value) const;
  bool find(const char *name, size_t index, span *value) const;
  // Whether any field named `name` lists `token` in its comma-separated value (case-insensitive).
  bool has_token(span name, span token) const;
  bool has_token(const char *name, const char *token) const;

  void reset();    // parse another head; limits stay
  void release();  // reset() and give the memory back

 private:
  struct Impl;
  Impl *impl_ = nullptr;  // allocated on first feed, so an unused parser costs no memory
  const Allocator *alloc_;
  uint32_t max_head_ = HTTP_DEFAULT_MAX_HEAD;
  uint32_t max_headers_ = HTTP_DEFAULT_MAX_HEADERS;
  Kind kind_;
  int error_ = 0;
  const char *reason_ = "";
  int ensure_impl();
};

// Comma-separated list iteration (RFC 9110 #rule): skips empty elements and OWS.
// Quoted strings are honoured, so a comma inside quotes does not split.
// Returns false when the list is exhausted.
bool next_list_element(span *rest, span *element);

}  // namespace pushwire
