// C ABI shims for pushwire_sse_*: check arguments, convert, call the core.
#include "capi_internal.hpp"
#include "sse_parser.hpp"
#include "sse_writer.hpp"

using namespace pushwire;

struct pushwire_sse_writer {
  explicit pushwire_sse_writer(const pushwire_allocator *a) : alloc(a), writer(&alloc) {}
  Allocator alloc;  // declared first: `writer` keeps a pointer to it
  SseWriter writer;
};

struct pushwire_sse_parser {
  explicit pushwire_sse_parser(const pushwire_allocator *a) : alloc(a), parser(&alloc) {}
  Allocator alloc;
  SseParser parser;
};

namespace {

// A NULL pointer means "absent" only with length 0.
bool capi_sse_span(const void *p, size_t len, span *out) {
  if (!p && len) return false;
  *out = span{static_cast<const uint8_t *>(p), len};
  return true;
}

// Size values of options are uint64_t; on 32-bit targets anything past SIZE_MAX is "no limit".
size_t capi_sse_size(uint64_t v) { return v > SIZE_MAX ? SIZE_MAX : size_t(v); }

template <class T>
int capi_sse_new(T **out, const pushwire_allocator *alloc) {
  if (!out || !Allocator::valid(alloc)) return ERR_INVALID_ARGUMENT;
  Allocator a(alloc);
  T *h = a.make<T>(alloc);
  if (!h) return ERR_NOMEM;
  *out = h;
  return 0;
}

template <class T>
void capi_sse_free(T *h) {
  if (!h) return;
  Allocator a = h->alloc;  // the handle's own copy goes with it
  a.destroy(h);
}

}  // namespace

extern "C" {

int pushwire_sse_encode(const pushwire_sse_fields *fields, uint8_t *out, size_t cap, size_t *written) noexcept {
  if (!written || (!out && cap) || !fields || !sse_reserved_clear(*fields)) return ERR_INVALID_ARGUMENT;
  return sse_encode_into(sse_fields_from(*fields), out, cap, written);
}

int pushwire_sse_encode_many(const pushwire_sse_fields *events, size_t count, uint8_t *out, size_t cap,
                             size_t *written, size_t *encoded) noexcept {
  if (!written || !encoded || (!out && cap) || (!events && count)) return ERR_INVALID_ARGUMENT;
  return sse_encode_many(events, count, out, cap, written, encoded);
}

int pushwire_sse_writer_new(pushwire_sse_writer **out, const pushwire_allocator *alloc) noexcept {
  return capi_sse_new(out, alloc);
}

void pushwire_sse_writer_free(pushwire_sse_writer *w) noexcept { capi_sse_free(w); }

int pushwire_sse_writer_set_option(pushwire_sse_writer *w, pushwire_sse_writer_option option,
                                   uint64_t value) noexcept {
  if (!w) return ERR_INVALID_ARGUMENT;
  switch (option) {
    case PUSHWIRE_SSE_WRITER_OPT_MAX_OUTPUT_BUFFER:
      if (value == 0) return ERR_INVALID_ARGUMENT;
      w->writer.set_max_output(capi_sse_size(value));
      return 0;
    case PUSHWIRE_SSE_WRITER_OPT_HEARTBEAT_MS:
      w->writer.set_heartbeat_ms(value);
      return 0;
    default:
      return ERR_UNSUPPORTED;
  }
}

int pushwire_sse_writer_add_header(pushwire_sse_writer *w, const char *name, size_t name_len, const char *value,
                                   size_t value_len) noexcept {
  span n, v;
  if (!w || !name || !capi_sse_span(value, value_len, &v) || !capi_sse_span(name, name_len, &n))
    return ERR_INVALID_ARGUMENT;
  return w->writer.add_header(n, v);
}

int pushwire_sse_writer_response_head(pushwire_sse_writer *w) noexcept {
  if (!w) return ERR_INVALID_ARGUMENT;
  return w->writer.response_head();
}

int pushwire_sse_writer_event(pushwire_sse_writer *w, const pushwire_sse_fields *fields) noexcept {
  if (!w || !fields || !sse_reserved_clear(*fields)) return ERR_INVALID_ARGUMENT;
  return w->writer.event(sse_fields_from(*fields));
}

int pushwire_sse_writer_comment(pushwire_sse_writer *w, const char *text, size_t len) noexcept {
  span t;
  if (!w || !capi_sse_span(text, len, &t)) return ERR_INVALID_ARGUMENT;
  return w->writer.comment(t);
}

size_t pushwire_sse_writer_peek_output(pushwire_sse_writer *w, pushwire_span *out) noexcept {
  span s{nullptr, 0};
  if (w) s = w->writer.output();
  if (out) *out = s;
  return s.len;
}

int pushwire_sse_writer_consume_output(pushwire_sse_writer *w, size_t n) noexcept {
  if (!w) return ERR_INVALID_ARGUMENT;
  return w->writer.consume(n);
}

size_t pushwire_sse_writer_output_size(const pushwire_sse_writer *w) noexcept {
  return w ? w->writer.output_size() : 0;
}

int pushwire_sse_writer_tick(pushwire_sse_writer *w, uint64_t now_ms, uint64_t *next_ms) noexcept {
  if (!w) return ERR_INVALID_ARGUMENT;
  return w->writer.tick(now_ms, next_ms);
}

int pushwire_sse_request_check(const pushwire_http_request *req, pushwire_span *last_event_id) noexcept {
  if (!req) return ERR_INVALID_ARGUMENT;
  return sse_check_request(req->head, last_event_id);
}

int pushwire_sse_parser_new(pushwire_sse_parser **out, const pushwire_allocator *alloc) noexcept {
  return capi_sse_new(out, alloc);
}

void pushwire_sse_parser_free(pushwire_sse_parser *p) noexcept { capi_sse_free(p); }

int pushwire_sse_parser_set_option(pushwire_sse_parser *p, pushwire_sse_parser_option option,
                                   uint64_t value) noexcept {
  if (!p) return ERR_INVALID_ARGUMENT;
  SseParser &sp = p->parser;
  bool limit = option == PUSHWIRE_SSE_PARSER_OPT_MAX_LINE || option == PUSHWIRE_SSE_PARSER_OPT_MAX_EVENT ||
               option == PUSHWIRE_SSE_PARSER_OPT_MAX_INPUT_BUFFER;
  if (!limit && option != PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS) return ERR_UNSUPPORTED;
  if (limit ? value == 0 : value > 1) return ERR_INVALID_ARGUMENT;
  if (sp.started()) return ERR_INVALID_STATE;
  switch (option) {
    case PUSHWIRE_SSE_PARSER_OPT_MAX_LINE: sp.set_max_line(capi_sse_size(value)); break;
    case PUSHWIRE_SSE_PARSER_OPT_MAX_EVENT: sp.set_max_event(capi_sse_size(value)); break;
    case PUSHWIRE_SSE_PARSER_OPT_MAX_INPUT_BUFFER: sp.set_max_input(capi_sse_size(value)); break;
    default: sp.set_report_comments(value == 1); break;
  }
  return 0;
}

int pushwire_sse_parser_feed(pushwire_sse_parser *p, const uint8_t *data, size_t len) noexcept {
  if (!p || (!data && len)) return ERR_INVALID_ARGUMENT;
  return p->parser.feed(data, len);
}

int pushwire_sse_parser_feed_eof(pushwire_sse_parser *p) noexcept {
  if (!p) return ERR_INVALID_ARGUMENT;
  p->parser.feed_eof();
  return 0;
}

int pushwire_sse_parser_next_event(pushwire_sse_parser *p, pushwire_sse_event *ev) noexcept {
  if (!p || !ev) return ERR_INVALID_ARGUMENT;
  return p->parser.next(ev);
}

int pushwire_sse_parser_next_events(pushwire_sse_parser *p, pushwire_sse_event *evs, size_t cap,
                                    size_t *n) noexcept {
  if (n) *n = 0;
  if (!p || !evs || !cap || !n) return ERR_INVALID_ARGUMENT;
  return p->parser.next_events(evs, cap, n);
}

pushwire_span pushwire_sse_parser_last_event_id(const pushwire_sse_parser *p) noexcept {
  return p ? p->parser.last_event_id() : span{nullptr, 0};
}

uint64_t pushwire_sse_parser_retry_ms(const pushwire_sse_parser *p, uint64_t default_ms) noexcept {
  return p && p->parser.has_retry() ? p->parser.retry_ms() : default_ms;
}

int pushwire_sse_parser_reconnect_headers(const pushwire_sse_parser *p, uint8_t *out, size_t cap,
                                          size_t *written) noexcept {
  if (!p || !written || (!out && cap)) return ERR_INVALID_ARGUMENT;
  return sse_reconnect_headers(p->parser.last_event_id(), out, cap, written);
}

int pushwire_sse_parser_reset(pushwire_sse_parser *p) noexcept {
  if (!p) return ERR_INVALID_ARGUMENT;
  return p->parser.reset();
}

}  // extern "C"
