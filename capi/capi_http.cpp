// C ABI shims for pushwire_http_request_*: check arguments, convert, call HttpHead.
#include <climits>

#include "capi_internal.hpp"  // struct pushwire_http_request, shared with capi_sse.cpp
#include "pushwire/pushwire.h"

using pushwire::Allocator;
using pushwire::HttpHead;

extern "C" {

int pushwire_http_request_new(pushwire_http_request **out, const pushwire_allocator *alloc) noexcept {
  if (!out || !Allocator::valid(alloc)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  Allocator a(alloc);
  pushwire_http_request *req = a.make<pushwire_http_request>(alloc);
  if (!req) return PUSHWIRE_ERR_NOMEM;
  *out = req;
  return 0;
}

void pushwire_http_request_free(pushwire_http_request *req) noexcept {
  if (!req) return;
  Allocator a = req->alloc;
  a.destroy(req);
}

int pushwire_http_request_set_option(pushwire_http_request *req, pushwire_http_option option,
                                     uint64_t value) noexcept {
  if (!req || value == 0) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  if (option != PUSHWIRE_HTTP_OPT_MAX_HEAD_SIZE && option != PUSHWIRE_HTTP_OPT_MAX_HEADERS)
    return PUSHWIRE_ERR_UNSUPPORTED;
  if (req->head.started()) return PUSHWIRE_ERR_INVALID_STATE;
  // Limits beyond the address space cannot be reached anyway.
  size_t v = value > SIZE_MAX ? SIZE_MAX : size_t(value);
  if (option == PUSHWIRE_HTTP_OPT_MAX_HEAD_SIZE) req->head.set_limits(v, req->head.max_headers());
  else req->head.set_limits(req->head.max_head(), v);
  return 0;
}

int pushwire_http_request_feed(pushwire_http_request *req, const uint8_t *data, size_t len,
                               size_t *consumed) noexcept {
  size_t n = 0;
  if (consumed) *consumed = 0;
  if (!req || (!data && len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  int rc = req->head.feed(data, len, &n);
  if (consumed) *consumed = n;
  return rc;
}

int pushwire_http_request_status_hint(const pushwire_http_request *req) noexcept {
  return req ? req->head.status_hint() : 0;
}

int pushwire_http_request_method(const pushwire_http_request *req, pushwire_span *out) noexcept {
  if (!req || !out) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  if (!req->head.complete()) return PUSHWIRE_ERR_INVALID_STATE;
  *out = req->head.method();
  return 0;
}

int pushwire_http_request_target(const pushwire_http_request *req, pushwire_span *out) noexcept {
  if (!req || !out) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  if (!req->head.complete()) return PUSHWIRE_ERR_INVALID_STATE;
  *out = req->head.target();
  return 0;
}

int pushwire_http_request_minor_version(const pushwire_http_request *req) noexcept {
  if (!req) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  if (!req->head.complete()) return PUSHWIRE_ERR_INVALID_STATE;
  return req->head.minor_version();
}

int pushwire_http_request_header_count(const pushwire_http_request *req) noexcept {
  if (!req) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  if (!req->head.complete()) return PUSHWIRE_ERR_INVALID_STATE;
  size_t n = req->head.field_count();
  return n > INT_MAX ? INT_MAX : int(n);
}

int pushwire_http_request_header_at(const pushwire_http_request *req, size_t index, pushwire_span *name,
                                    pushwire_span *value) noexcept {
  if (!req || !name || !value) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  if (!req->head.complete()) return PUSHWIRE_ERR_INVALID_STATE;
  if (index >= req->head.field_count()) return 0;
  pushwire::HttpField f = req->head.field(index);
  *name = f.name;
  *value = f.value;
  return 1;
}

int pushwire_http_request_header(const pushwire_http_request *req, const char *name, size_t name_len, size_t index,
                                 pushwire_span *value) noexcept {
  if (!req || (!name && name_len) || !value) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  if (!req->head.complete()) return PUSHWIRE_ERR_INVALID_STATE;
  return req->head.find(pushwire::make_span(name, name_len), index, value) ? 1 : 0;
}

int pushwire_http_request_has_token(const pushwire_http_request *req, const char *name, size_t name_len,
                                    const char *token, size_t token_len) noexcept {
  if (!req || (!name && name_len) || (!token && token_len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  if (!req->head.complete()) return PUSHWIRE_ERR_INVALID_STATE;
  return req->head.has_token(pushwire::make_span(name, name_len), pushwire::make_span(token, token_len)) ? 1 : 0;
}

int pushwire_http_request_reset(pushwire_http_request *req) noexcept {
  if (!req) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  req->head.reset();
  return 0;
}

}  // extern "C"
