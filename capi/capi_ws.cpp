// C ABI shims for pushwire_ws_*: check arguments, convert, call WsSession.
#include "pushwire/pushwire.h"
#include "ws_session.hpp"

using pushwire::make_span;
using pushwire::WsSession;

namespace {

WsSession *ws_impl(pushwire_ws *ws) { return reinterpret_cast<WsSession *>(ws); }
const WsSession *ws_impl(const pushwire_ws *ws) { return reinterpret_cast<const WsSession *>(ws); }
// A (pointer, length) pair is valid when the pointer is set or the length is 0.
bool ws_bytes_ok(const void *p, size_t len) { return p || len == 0; }

}  // namespace

extern "C" {

int pushwire_ws_new(pushwire_ws **out, pushwire_ws_role role, const pushwire_allocator *alloc) noexcept {
  if (!out || !pushwire::Allocator::valid(alloc) || (role != PUSHWIRE_WS_SERVER && role != PUSHWIRE_WS_CLIENT))
    return PUSHWIRE_ERR_INVALID_ARGUMENT;
  WsSession *s = nullptr;
  int rc = WsSession::create(&s, role, alloc);
  if (rc == 0) *out = reinterpret_cast<pushwire_ws *>(s);
  return rc;
}

void pushwire_ws_free(pushwire_ws *ws) noexcept { WsSession::destroy(ws_impl(ws)); }

int pushwire_ws_set_option(pushwire_ws *ws, pushwire_ws_option option, uint64_t value) noexcept {
  if (!ws) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->set_option(int(option), value);
}

int pushwire_ws_get_option(const pushwire_ws *ws, pushwire_ws_option option, uint64_t *value) noexcept {
  if (!ws || !value) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->get_option(int(option), value);
}

int pushwire_ws_set_random(pushwire_ws *ws, pushwire_random_fn fn, void *user) noexcept {
  if (!ws) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->set_random(fn, user);
}

int pushwire_ws_add_origin(pushwire_ws *ws, const char *origin, size_t len) noexcept {
  if (!ws || !ws_bytes_ok(origin, len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->add_origin(make_span(origin, len));
}

int pushwire_ws_add_subprotocol(pushwire_ws *ws, const char *name, size_t len) noexcept {
  if (!ws || !ws_bytes_ok(name, len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->add_subprotocol(make_span(name, len));
}

int pushwire_ws_add_header(pushwire_ws *ws, const char *name, size_t name_len, const char *value,
                           size_t value_len) noexcept {
  if (!ws || !ws_bytes_ok(name, name_len) || !ws_bytes_ok(value, value_len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->add_header(make_span(name, name_len), make_span(value, value_len));
}

int pushwire_ws_client_start(pushwire_ws *ws, const char *host, size_t host_len, const char *target,
                             size_t target_len) noexcept {
  if (!ws || !ws_bytes_ok(host, host_len) || !ws_bytes_ok(target, target_len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->client_start(make_span(host, host_len), make_span(target, target_len));
}

int pushwire_ws_accept(pushwire_ws *ws, const char *subprotocol, size_t len) noexcept {
  if (!ws) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->accept(make_span(subprotocol, subprotocol ? len : 0));
}

int pushwire_ws_reject(pushwire_ws *ws, unsigned status, const char *body, size_t body_len) noexcept {
  if (!ws || !ws_bytes_ok(body, body_len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->reject(status, make_span(body, body_len));
}

int pushwire_ws_request_target(const pushwire_ws *ws, pushwire_span *out) noexcept {
  if (!ws || !out) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->request_target(out);
}

int pushwire_ws_request_header(const pushwire_ws *ws, const char *name, size_t name_len, size_t index,
                               pushwire_span *value) noexcept {
  if (!ws || !value || !ws_bytes_ok(name, name_len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->request_header(make_span(name, name_len), index, value);
}

int pushwire_ws_request_subprotocol(const pushwire_ws *ws, size_t index, pushwire_span *name) noexcept {
  if (!ws || !name) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->request_subprotocol(index, name);
}

int pushwire_ws_request_extension(const pushwire_ws *ws, size_t index, pushwire_span *name,
                                  pushwire_span *params) noexcept {
  if (!ws || !name || !params) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->request_extension(index, name, params);
}

int pushwire_ws_feed(pushwire_ws *ws, const uint8_t *data, size_t len) noexcept {
  if (!ws || !ws_bytes_ok(data, len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->feed(data, len, nullptr);
}

int pushwire_ws_feed_mutable(pushwire_ws *ws, uint8_t *data, size_t len) noexcept {
  if (!ws || !ws_bytes_ok(data, len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->feed(data, len, data);
}

int pushwire_ws_feed_eof(pushwire_ws *ws) noexcept {
  if (!ws) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->feed_eof();
}

int pushwire_ws_next_event(pushwire_ws *ws, pushwire_ws_event *ev) noexcept {
  if (!ws || !ev) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->next_event(ev);
}

int pushwire_ws_next_events(pushwire_ws *ws, pushwire_ws_event *evs, size_t cap, size_t *n) noexcept {
  if (n) *n = 0;
  if (!ws || !evs || !cap || !n) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->next_events(evs, cap, n);
}

int pushwire_ws_send_text(pushwire_ws *ws, const uint8_t *data, size_t len) noexcept {
  if (!ws || !ws_bytes_ok(data, len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->send_message(false, data, len);
}

int pushwire_ws_send_binary(pushwire_ws *ws, const uint8_t *data, size_t len) noexcept {
  if (!ws || !ws_bytes_ok(data, len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->send_message(true, data, len);
}

int pushwire_ws_send_fragment(pushwire_ws *ws, bool binary, const uint8_t *data, size_t len, bool fin) noexcept {
  if (!ws || !ws_bytes_ok(data, len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->send_fragment(binary, data, len, fin);
}

int pushwire_ws_ping(pushwire_ws *ws, const uint8_t *data, size_t len) noexcept {
  if (!ws || !ws_bytes_ok(data, len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->send_control(pushwire::WS_OP_PING, data, len);
}

int pushwire_ws_pong(pushwire_ws *ws, const uint8_t *data, size_t len) noexcept {
  if (!ws || !ws_bytes_ok(data, len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->send_control(pushwire::WS_OP_PONG, data, len);
}

int pushwire_ws_close(pushwire_ws *ws, uint16_t code, const char *reason, size_t reason_len) noexcept {
  if (!ws || !ws_bytes_ok(reason, reason_len)) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->close(code, make_span(reason, reason_len));
}

int pushwire_ws_frame_header(pushwire_ws *ws, bool binary, uint64_t payload_len, uint8_t out[14],
                             size_t *out_len) noexcept {
  if (!ws || !out || !out_len) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->frame_header(binary, payload_len, out, out_len);
}

size_t pushwire_ws_peek_output(pushwire_ws *ws, pushwire_span *out) noexcept {
  if (!ws || !out) {
    if (out) *out = pushwire_span{nullptr, 0};
    return 0;
  }
  return ws_impl(ws)->peek_output(out);
}

int pushwire_ws_consume_output(pushwire_ws *ws, size_t n) noexcept {
  if (!ws) return PUSHWIRE_ERR_INVALID_ARGUMENT;
  return ws_impl(ws)->consume_output(n);
}

size_t pushwire_ws_output_size(const pushwire_ws *ws) noexcept { return ws ? ws_impl(ws)->output_size() : 0; }

int pushwire_ws_tick(pushwire_ws *ws, uint64_t now_ms, uint64_t *next_ms) noexcept {
  if (!ws) {
    if (next_ms) *next_ms = UINT64_MAX;
    return PUSHWIRE_ERR_INVALID_ARGUMENT;
  }
  return ws_impl(ws)->tick(now_ms, next_ms);
}

pushwire_ws_state pushwire_ws_get_state(const pushwire_ws *ws) noexcept {
  return ws ? ws_impl(ws)->state() : PUSHWIRE_WS_STATE_FAILED;
}

int pushwire_ws_close_code_hint(const pushwire_ws *ws) noexcept { return ws ? ws_impl(ws)->close_code_hint() : 0; }

const char *pushwire_ws_error_reason(const pushwire_ws *ws) noexcept { return ws ? ws_impl(ws)->error_reason() : ""; }

}  // extern "C"
