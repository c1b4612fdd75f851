// The handle: lifecycle, options, the opening handshake, sending, output and keepalive.
// The receive side is in ws_recv.cpp; every transition is in ws_state.cpp.
#include "ws_session.hpp"

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "base64.hpp"
#include "mask.hpp"
#include "ws_handshake.hpp"

namespace pushwire {

namespace {

// Checked before the key is drawn, so a refused call consumes no randomness (the same
// rule ws_write_client_request applies: visible ASCII, the target starting with '/').
bool ws_visible_ascii(span s) {
  for (size_t i = 0; i < s.len; ++i)
    if (s.ptr[i] <= 0x20 || s.ptr[i] >= 0x7f) return false;
  return s.len > 0;
}

uint64_t ws_sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

WsSession::WsSession(const Allocator &alloc, pushwire_ws_role role)
    : alloc_(alloc),
      out_(&alloc_),
      arena_(&alloc_),
      spare_(&alloc_),
      ctl_(&alloc_),
      queue_(&alloc_),
      held_(&alloc_),
      max_head_(uint32_t(HTTP_DEFAULT_MAX_HEAD)),
      max_headers_(uint32_t(HTTP_DEFAULT_MAX_HEADERS)),
      role_(role),
      flags_(uint16_t(F_AUTO_PONG | F_AUTO_CLOSE | F_HANDSHAKE | F_VALIDATE_UTF8)) {}

WsSession::~WsSession() {
  if (has(F_REPLY_HERE)) revive_areas();  // the members' destructors run next
  alloc_.destroy(hs_);
}

int WsSession::create(WsSession **out, pushwire_ws_role role, const pushwire_allocator *alloc) {
  Allocator a(alloc);
  void *mem = a.alloc(sizeof(WsSession));
  if (!mem) return ERR_NOMEM;
  *out = new (mem) WsSession(a, role);
  return 0;
}

void WsSession::destroy(WsSession *ws) {
  if (!ws) return;
  Allocator a = ws->alloc_;
  ws->~WsSession();
  a.release(ws);
}

// ---------------------------------------------------------------------------------------
// Options

int WsSession::set_option(int option, uint64_t v) {
  if (option < PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE || option > PUSHWIRE_WS_OPT_VALIDATE_OUTGOING_UTF8)
    return ERR_UNSUPPORTED;
  if (fatal_) return fatal_;
  if (has(F_STARTED)) return ERR_INVALID_STATE;
  uint16_t flag = 0;
  switch (option) {
    case PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE:
      if (v == 0) return ERR_INVALID_ARGUMENT;
      max_message_ = v;
      return 0;
    case PUSHWIRE_WS_OPT_MAX_FRAME_SIZE:
      if (v == 0) return ERR_INVALID_ARGUMENT;
      max_frame_ = v;
      return 0;
    case PUSHWIRE_WS_OPT_MAX_FRAGMENTS:
      if (v == 0 || v > UINT32_MAX) return ERR_INVALID_ARGUMENT;
      max_fragments_ = uint32_t(v);
      return 0;
    case PUSHWIRE_WS_OPT_MAX_HEAD_SIZE:
    case PUSHWIRE_WS_OPT_MAX_HEADERS:
      if (v == 0 || v > UINT32_MAX) return ERR_INVALID_ARGUMENT;
      (option == PUSHWIRE_WS_OPT_MAX_HEAD_SIZE ? max_head_ : max_headers_) = uint32_t(v);
      if (hs_) hs_->head.set_limits(max_head_, max_headers_);
      return 0;
    case PUSHWIRE_WS_OPT_MAX_INPUT_BUFFER:
    case PUSHWIRE_WS_OPT_MAX_OUTPUT_BUFFER:
      if (v == 0 || v > SIZE_MAX) return ERR_INVALID_ARGUMENT;
      (option == PUSHWIRE_WS_OPT_MAX_INPUT_BUFFER ? max_input_ : max_output_) = size_t(v);
      return 0;
    case PUSHWIRE_WS_OPT_PING_INTERVAL_MS:
      ping_interval_ = v;
      return 0;
    case PUSHWIRE_WS_OPT_PONG_TIMEOUT_MS:
      pong_timeout_ = v;
      return 0;
    case PUSHWIRE_WS_OPT_HANDSHAKE:
      if (v > 1) return ERR_INVALID_ARGUMENT;
      set(F_HANDSHAKE, v != 0);
      state_ = WsState();
      if (v == 0) {
        state_.apply(WsInput::SendHead);
        state_.apply(WsInput::RecvHead);
        end_handshake_if_over();
      }
      return 0;
    case PUSHWIRE_WS_OPT_AUTO_PONG: flag = F_AUTO_PONG; break;
    case PUSHWIRE_WS_OPT_AUTO_CLOSE: flag = F_AUTO_CLOSE; break;
    case PUSHWIRE_WS_OPT_STREAMING: flag = F_STREAMING; break;
    case PUSHWIRE_WS_OPT_AUTO_ACCEPT: flag = F_AUTO_ACCEPT; break;
    case PUSHWIRE_WS_OPT_REQUIRE_ORIGIN: flag = F_REQUIRE_ORIGIN; break;
    default: flag = F_VALIDATE_UTF8; break;
  }
  if (v > 1) return ERR_INVALID_ARGUMENT;
  set(flag, v != 0);
  return 0;
}

int WsSession::get_option(int option, uint64_t *v) const {
  switch (option) {
    case PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE: *v = max_message_; return 0;
    case PUSHWIRE_WS_OPT_MAX_FRAME_SIZE: *v = max_frame_; return 0;
    case PUSHWIRE_WS_OPT_MAX_FRAGMENTS: *v = max_fragments_; return 0;
    case PUSHWIRE_WS_OPT_MAX_HEAD_SIZE: *v = max_head_; return 0;
    case PUSHWIRE_WS_OPT_MAX_HEADERS: *v = max_headers_; return 0;
    case PUSHWIRE_WS_OPT_MAX_INPUT_BUFFER: *v = max_input_; return 0;
    case PUSHWIRE_WS_OPT_MAX_OUTPUT_BUFFER: *v = max_output_; return 0;
    case PUSHWIRE_WS_OPT_AUTO_PONG: *v = has(F_AUTO_PONG); return 0;
    case PUSHWIRE_WS_OPT_AUTO_CLOSE: *v = has(F_AUTO_CLOSE); return 0;
    case PUSHWIRE_WS_OPT_STREAMING: *v = has(F_STREAMING); return 0;
    case PUSHWIRE_WS_OPT_PING_INTERVAL_MS: *v = ping_interval_; return 0;
    case PUSHWIRE_WS_OPT_PONG_TIMEOUT_MS: *v = pong_timeout_; return 0;
    case PUSHWIRE_WS_OPT_HANDSHAKE: *v = has(F_HANDSHAKE); return 0;
    case PUSHWIRE_WS_OPT_AUTO_ACCEPT: *v = has(F_AUTO_ACCEPT); return 0;
    case PUSHWIRE_WS_OPT_REQUIRE_ORIGIN: *v = has(F_REQUIRE_ORIGIN); return 0;
    case PUSHWIRE_WS_OPT_VALIDATE_OUTGOING_UTF8: *v = has(F_VALIDATE_UTF8); return 0;
    default: return ERR_UNSUPPORTED;
  }
}

int WsSession::set_random(pushwire_random_fn fn, void *user) {
  random_.fn = fn;
  random_.user = fn ? user : nullptr;
  pool_.discard();
  return 0;
}

// ---------------------------------------------------------------------------------------
// Handshake configuration and the server's answer

int WsSession::ensure_handshake() {
  if (hs_) return 0;
  hs_ = alloc_.make<WsHandshake>(&alloc_, is_client() ? HttpHead::Kind::Response : HttpHead::Kind::Request);
  if (!hs_) return nomem();
  hs_->head.set_limits(max_head_, max_headers_);
  return 0;
}

void WsSession::end_handshake_if_over() {
  if (hs_ && state_.handshake_over()) {
    alloc_.destroy(hs_);
    hs_ = nullptr;
    set(F_RELEASE_IN, true);  // the queue and areas only held handshake events
  }
}

int WsSession::add_origin(span origin) {
  if (fatal_) return fatal_;
  if (is_client() || !has(F_HANDSHAKE) || has(F_STARTED)) return ERR_INVALID_STATE;
  if (!ws_origin_pattern_valid(origin)) return ERR_INVALID_ARGUMENT;
  if (ensure_handshake()) return fatal_;
  return hs_->origins.add(origin) ? nomem() : 0;
}

int WsSession::add_subprotocol(span name) {
  if (fatal_) return fatal_;
  if (!has(F_HANDSHAKE) || state_.send() != WsSide::Head) return ERR_INVALID_STATE;
  if (!is_token(name)) return ERR_INVALID_ARGUMENT;
  if (ensure_handshake()) return fatal_;
  return hs_->protocols.add(name) ? nomem() : 0;
}

int WsSession::add_header(span name, span value) {
  if (fatal_) return fatal_;
  if (!has(F_HANDSHAKE) || state_.send() != WsSide::Head) return ERR_INVALID_STATE;
  if (ensure_handshake()) return fatal_;
  int rc = ws_add_extra_header(hs_->extra, name, value);
  return rc == ERR_NOMEM ? nomem() : rc;
}

int WsSession::client_start(span host, span target) {
  if (fatal_) return fatal_;
  if (!is_client() || !has(F_HANDSHAKE)) return ERR_INVALID_STATE;
  if (int rc = state_.may(WsAction::Start)) return rc;
  if (!ws_visible_ascii(host) || !ws_visible_ascii(target) || target.ptr[0] != '/') return ERR_INVALID_ARGUMENT;
  if (ensure_handshake()) return fatal_;
  uint8_t raw[16];
  if (pool_.take(random_, raw, sizeof raw)) return fatal_ = ERR_INTERNAL;
  base64_encode(raw, sizeof raw, hs_->key);
  int rc = ws_write_client_request(out_, host, target, make_span(hs_->key, sizeof hs_->key), hs_->protocols,
                                   hs_->extra.view());
  if (rc) return rc == ERR_NOMEM ? nomem() : rc;
  state_.apply(WsInput::SendHead);
  set(F_STARTED | F_RELEASE_OUT, true);
  return 0;
}

int WsSession::write_accept(const HttpHead &head, span key, span subprotocol, span *chosen) {
  *chosen = span{nullptr, 0};
  if (subprotocol.len) {
    if (!ws_request_offers_subprotocol(head, subprotocol)) return ERR_INVALID_ARGUMENT;
    *chosen = subprotocol;
  } else if (hs_) {
    ws_choose_subprotocol(head, hs_->protocols, chosen);
  }
  const span extra = extra_headers();
  if ((chosen->len || extra.len || !keep_reply(key)) && ws_write_accept(out_, key, *chosen, extra)) return nomem();
  state_.apply(WsInput::SendHead);
  set(F_STARTED | F_RELEASE_OUT, true);
  return 0;
}

int WsSession::accept(span subprotocol) {
  if (fatal_) return fatal_;
  if (is_client()) return ERR_INVALID_STATE;
  if (int rc = state_.may(WsAction::Accept)) return rc;
  span chosen;
  if (int rc = write_accept(hs_->head, ws_request_key(hs_->head), subprotocol, &chosen)) return rc;
  end_handshake_if_over();
  return 0;
}

// The storage of the four buffers from out_ to ctl_ holds the plain 101 while they have no
// memory (a server's usual handshake: nothing was sent or received before it).
bool WsSession::keep_reply(span key) {
  static_assert(std::is_standard_layout<WsSession>::value, "offsetof below");
  static_assert(offsetof(WsSession, arena_) == offsetof(WsSession, out_) + sizeof(Buffer) &&
                    offsetof(WsSession, spare_) == offsetof(WsSession, arena_) + sizeof(Buffer) &&
                    offsetof(WsSession, ctl_) == offsetof(WsSession, spare_) + sizeof(Buffer) &&
                    sizeof(HereReply) <= 4 * sizeof(Buffer) && alignof(HereReply) <= alignof(Buffer),
                "HereReply fits in the storage of out_, arena_, spare_ and ctl_");
  if (out_.capacity() || arena_.capacity() || spare_.capacity() || ctl_.capacity()) return false;
  out_.~Buffer();
  arena_.~Buffer();
  spare_.~Buffer();
  ctl_.~Buffer();
  HereReply *r = new (areas_storage()) HereReply;
  ws_write_plain_accept(key, r->bytes);
  r->sent = 0;
  set(F_REPLY_HERE, true);
  return true;
}

void *WsSession::areas_storage() const {
  return const_cast<unsigned char *>(reinterpret_cast<const unsigned char *>(this)) + offsetof(WsSession, out_);
}

// The four buffers again, empty and without memory.
void WsSession::revive_areas() {
  reply()->~HereReply();
  new (&out_) Buffer(&alloc_);
  new (&arena_) Buffer(&alloc_);
  new (&spare_) Buffer(&alloc_);
  new (&ctl_) Buffer(&alloc_);
  set(F_REPLY_HERE, false);
}

// Before output is added behind the kept 101 or received bytes are stored: the buffers
// back, the unsent rest of the 101 moved to out_. False when out of memory (the handle
// has then failed).
bool WsSession::settle_reply() {
  if (!has(F_REPLY_HERE)) return true;
  const HereReply r = *reply();
  revive_areas();
  if (out_.append(r.bytes + r.sent, r.pending())) {
    nomem();
    return false;
  }
  return true;
}

// The handshake state exists once a head byte arrived or a handshake option was set; a
// refusal can come before either (input ended at once).
span WsSession::extra_headers() const { return hs_ ? hs_->extra.view() : span{nullptr, 0}; }

int WsSession::reject(unsigned status, span body) {
  if (fatal_) return fatal_;
  if (is_client()) return ERR_INVALID_STATE;
  if (int rc = state_.may(WsAction::Refuse)) return rc;
  int rc = ws_write_reject(out_, int(status), body, extra_headers());
  if (rc) return rc == ERR_NOMEM ? nomem() : rc;
  state_.apply(WsInput::SendRefuse);
  set(F_STARTED | F_RELEASE_OUT, true);
  held_.release();
  end_handshake_if_over();
  return 0;
}

void WsSession::fail_handshake(int error, int status, const char *reason) {
  const bool refused = error == ERR_HANDSHAKE_REJECTED;
  state_.apply(refused ? WsInput::RecvRefuse : WsInput::RecvFail);
  err_ = error;
  // A client has nothing to send; the hint names the failure class (1002) or the
  // server's refusal (its status).
  hint_ = uint16_t(is_client() && !refused ? 1002 : status);
  reason_ = reason;
  if (!push(PUSHWIRE_WS_EV_REJECTED, PUSHWIRE_WS_EVF_FAILED, AT_PTR, uintptr_t(reason), std::strlen(reason),
            uint16_t(status)))
    return;
  if (!is_client() && has(F_AUTO_CLOSE) && state_.may(WsAction::Refuse) == 0) {
    if (ws_write_reject(out_, status, make_span(reason, std::strlen(reason)), extra_headers())) {
      nomem();
      return;
    }
    state_.apply(WsInput::SendRefuse);
    set(F_RELEASE_OUT, true);
  }
  end_handshake_if_over();
}

bool WsSession::in_request_window() const {
  return !is_client() && hs_ && state_.send() == WsSide::Head && state_.recv() == WsSide::Open;
}

int WsSession::request_target(span *out) const {
  if (!in_request_window()) return ERR_INVALID_STATE;
  *out = hs_->head.target();
  return 1;
}

int WsSession::request_header(span name, size_t index, span *value) const {
  if (!in_request_window()) return ERR_INVALID_STATE;
  return hs_->head.find(name, index, value) ? 1 : 0;
}

int WsSession::request_subprotocol(size_t index, span *name) const {
  if (!in_request_window()) return ERR_INVALID_STATE;
  return ws_request_subprotocol(hs_->head, index, name) ? 1 : 0;
}

int WsSession::request_extension(size_t index, span *name, span *params) const {
  if (!in_request_window()) return ERR_INVALID_STATE;
  return ws_request_extension(hs_->head, index, name, params) ? 1 : 0;
}

// ---------------------------------------------------------------------------------------
// Sending

int WsSession::write_frame(uint8_t opcode, bool fin, const uint8_t *data, size_t len) {
  uint8_t hdr[WS_MAX_HEADER];
  uint8_t key[4];
  const bool masked = is_client();
  if (PUSHWIRE_UNLIKELY(!settle_reply())) return fatal_;
  if (masked && pool_.take(random_, key, 4)) return fatal_ = ERR_INTERNAL;
  size_t h = ws_write_header(hdr, opcode, fin, len, masked ? key : nullptr);
  if (out_.reserve_extra(h + len)) return nomem();
  out_.append(hdr, h);
  if (len) {
    uint8_t *dst = out_.extend(len);
    if (masked)
      mask_copy(dst, data, len, key, 0);
    else
      std::memcpy(dst, data, len);
  }
  return 0;
}

int WsSession::write_close(uint16_t code, const uint8_t *reason, size_t reason_len) {
  uint8_t payload[WS_MAX_CONTROL];
  size_t n = ws_close_payload(payload, code, reason, reason_len);
  if (int rc = write_frame(WS_OP_CLOSE, true, payload, n)) return rc;
  state_.apply(WsInput::SendClose);
  return 0;
}

int WsSession::check_send(WsAction a) const {
  if (fatal_) return fatal_;
  return state_.may(a);
}

int WsSession::send_message(bool binary, const uint8_t *data, size_t len) {
  if (int rc = check_send(WsAction::Send)) return rc;
  if (has(F_FRAG_OUT)) return ERR_INVALID_STATE;
  if (!binary && has(F_VALIDATE_UTF8) && !utf8_valid(data, len)) return ERR_INVALID_ARGUMENT;
  if (len > SIZE_MAX - WS_MAX_HEADER || !out_fits(ws_header_size(len, is_client()) + len)) return ERR_BUFFER_FULL;
  set(F_STARTED, true);
  return write_frame(binary ? WS_OP_BINARY : WS_OP_TEXT, true, data, len);
}

int WsSession::send_fragment(bool binary, const uint8_t *data, size_t len, bool fin) {
  if (int rc = check_send(WsAction::Send)) return rc;
  const bool cont = has(F_FRAG_OUT);
  const bool text = cont ? has(F_FRAG_TEXT) : !binary;
  Utf8State st = cont ? utf8_out_ : Utf8State();
  if (text && has(F_VALIDATE_UTF8) && (!utf8_feed(st, data, len) || (fin && !st.at_boundary())))
    return ERR_INVALID_ARGUMENT;
  if (len > SIZE_MAX - WS_MAX_HEADER || !out_fits(ws_header_size(len, is_client()) + len)) return ERR_BUFFER_FULL;
  set(F_STARTED, true);
  if (int rc = write_frame(cont ? WS_OP_CONT : text ? WS_OP_TEXT : WS_OP_BINARY, fin, data, len)) return rc;
  utf8_out_ = st;
  set(F_FRAG_OUT, !fin);
  set(F_FRAG_TEXT, text);
  return 0;
}

int WsSession::send_control(uint8_t opcode, const uint8_t *data, size_t len) {
  if (int rc = check_send(WsAction::Send)) return rc;
  if (len > WS_MAX_CONTROL) return ERR_INVALID_ARGUMENT;
  if (!out_fits(ws_header_size(len, is_client()) + len)) return ERR_BUFFER_FULL;
  set(F_STARTED, true);
  return write_frame(opcode, true, data, len);
}

int WsSession::close(uint16_t code, span reason) {
  if (fatal_) return fatal_;
  if ((code == 0 && reason.len) || (code && !ws_close_code_valid(code)) || reason.len > WS_MAX_CLOSE_REASON ||
      (has(F_VALIDATE_UTF8) && !utf8_valid(reason.ptr, reason.len)))
    return ERR_INVALID_ARGUMENT;
  if (int rc = state_.may(WsAction::Close)) return rc;
  if (!out_fits(ws_header_size(WS_MAX_CONTROL, is_client()) + 2 + reason.len)) return ERR_BUFFER_FULL;
  set(F_STARTED, true);
  return write_close(code, reason.ptr, reason.len);
}

int WsSession::frame_header(bool binary, uint64_t len, uint8_t out[WS_MAX_HEADER], size_t *out_len) {
  if (fatal_) return fatal_;
  if (is_client()) return ERR_INVALID_STATE;
  if (int rc = state_.may(WsAction::Send)) return rc;
  if (output_size() || has(F_FRAG_OUT)) return ERR_INVALID_STATE;
  set(F_STARTED, true);
  *out_len = ws_write_header(out, binary ? WS_OP_BINARY : WS_OP_TEXT, true, len, nullptr);
  return 0;
}

// ---------------------------------------------------------------------------------------
// Output

size_t WsSession::peek_output(span *out) const {
  if (has(F_REPLY_HERE)) {
    const HereReply *r = reply();
    *out = span{r->bytes + r->sent, r->pending()};
  } else {
    *out = out_.view();
  }
  return out->len;
}

int WsSession::consume_output(size_t n) {
  if (has(F_REPLY_HERE)) {
    HereReply *r = reply();
    if (n > r->pending()) return ERR_INVALID_ARGUMENT;
    r->sent = uint8_t(r->sent + n);
    if (r->pending() == 0) {
      revive_areas();
      set(F_RELEASE_OUT, false);
    }
    return 0;
  }
  if (n > out_.size()) return ERR_INVALID_ARGUMENT;
  out_.consume(n);
  if (out_.empty() && has(F_RELEASE_OUT)) {
    out_.release();
    set(F_RELEASE_OUT, false);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Keepalive

int WsSession::tick(uint64_t now, uint64_t *next_ms) {
  if (next_ms) *next_ms = UINT64_MAX;
  if (fatal_) return fatal_;
  if (!ka_init_ || has(F_INPUT_SEEN)) {
    ka_init_ = true;
    ka_last_ = now;
    ka_ping_at_ = UINT64_MAX;
    set(F_INPUT_SEEN, false);
  } else {
    release_idle();
  }
  if (ping_interval_ == 0 || state_.public_state() != PUSHWIRE_WS_STATE_OPEN || state_.recv() != WsSide::Open) return 0;
  const uint64_t timeout = pong_timeout_ ? pong_timeout_ : ping_interval_;
  uint64_t next;
  if (ka_ping_at_ != UINT64_MAX) {
    if (now >= ka_ping_at_ && now - ka_ping_at_ >= timeout) {
      fail(ERR_TIMEOUT, 1006, "keepalive timeout");
      return fatal_ ? fatal_ : ERR_TIMEOUT;
    }
    next = ws_sat_add(ka_ping_at_, timeout);
  } else if (now >= ka_last_ && now - ka_last_ >= ping_interval_) {
    // A backed-up output means the peer is not reading; the timeout still runs.
    if (out_fits(ws_header_size(0, is_client()))) {
      if (int rc = write_frame(WS_OP_PING, true, nullptr, 0)) return rc;
    }
    set(F_STARTED, true);
    ka_ping_at_ = now;
    next = ws_sat_add(now, timeout);
  } else {
    next = ws_sat_add(ka_last_, ping_interval_);
  }
  if (next_ms) *next_ms = next;
  return 0;
}

}  // namespace pushwire
