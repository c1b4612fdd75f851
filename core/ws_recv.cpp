// The receive side of the handle: feed, the handshake head, frames, the event queue and
// failures. The design (eager parsing, one unmasking copy, events as offsets, reset on
// drain, held input) is described at the top of ws_state.cpp.
#include <cstddef>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "mask.hpp"
#include "ws_handshake.hpp"
#include "ws_session.hpp"

namespace pushwire {

namespace {
// Payload is stored in steps of at most this; text that is not masked (a client receiving)
// is validated right after each step is copied, while it is still in cache.
constexpr size_t kCopyBlock = 64 * 1024;

// Text arriving in steps shorter than this is validated in one pass per run of them (see
// check_text), at most this many bytes later (the limit keeps utf8_todo_ in 16 bits and the
// bytes in cache).
constexpr size_t kTextDeferMax = 4096;
static_assert(kTextDeferMax < 65536, "utf8_todo_ is 16 bits");

// A message whose first frame is shorter is cheap to move to the front of the arena at the
// drain: not worth a wait for the drain or the spare area (small fragments stay fast).
constexpr uint64_t kMoveWorthAvoiding = 4096;

#if defined(__SSE2__)
constexpr bool kShortStep = true;
// The bits of the first n of 16 bytes in a movemask: a load, where (1 << n) - 1 took three
// instructions of the short step.
constexpr uint16_t kFirstBits[17] = {0x0,   0x1,   0x3,   0x7,   0xf,   0x1f,   0x3f,   0x7f,  0xff,
                                     0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff, 0x3fff, 0x7fff, 0xffff};
// The short step of the run of small messages: 16 bytes read from src, unmasked and written
// to dst whole (the caller checked that both have them); returns the high bits of the first
// len <= 16 (nonzero: not ASCII).
PUSHWIRE_INLINE unsigned unmask16(uint8_t *dst, const uint8_t *src, size_t len, uint32_t key, bool masked) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src));
  if (masked) v = _mm_xor_si128(v, _mm_set1_epi32(int(key)));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(dst), v);
  return unsigned(_mm_movemask_epi8(v)) & kFirstBits[len];
}
#elif defined(PUSHWIRE_NEON)
constexpr bool kShortStep = true;
constexpr uint8_t kLane16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
// unmask16 in NEON registers; nonzero when one of the first len bytes is not ASCII (NEON
// has no movemask: the bytes past len are cleared, then the largest byte tells).
PUSHWIRE_INLINE unsigned unmask16(uint8_t *dst, const uint8_t *src, size_t len, uint32_t key, bool masked) {
  uint8x16_t v = vld1q_u8(src);
  if (masked) v = veorq_u8(v, vreinterpretq_u8_u32(vdupq_n_u32(key)));
  vst1q_u8(dst, v);
  return vmaxvq_u8(vandq_u8(v, vcltq_u8(vld1q_u8(kLane16), vdupq_n_u8(uint8_t(len))))) >> 7;
}
#else
constexpr bool kShortStep = false;
PUSHWIRE_INLINE unsigned unmask16(uint8_t *, const uint8_t *, size_t, uint32_t, bool) { return 0; }
#endif

}  // namespace

bool WsSession::push(uint8_t type, uint8_t flags, Where where, uintptr_t at, size_t len, uint16_t code) {
  if (PUSHWIRE_UNLIKELY(has(F_ACCEPTED_DUE)) && !queue_accepted()) return false;
  uint8_t *slot = queue_.extend(sizeof(Queued));
  if (PUSHWIRE_UNLIKELY(!slot)) {
    nomem();
    return false;
  }
  Queued *q = new (slot) Queued;
  q->type = type;
  q->flags = flags;
  q->at = at;
  q->len = len;
  q->code = code;
  q->where = where;
  q->slow = (flags & PUSHWIRE_WS_EVF_FAILED) ? S_FAILED : 0;
  return true;
}

// An area's record holds an offset on the area's base (an area without memory has only
// empty events, at offset 0: NULL, as before); AT_PTR's holds the pointer itself (base 0).
PUSHWIRE_INLINE uintptr_t WsSession::area_base(uint8_t where) const {
  return where == IN_ARENA ? uintptr_t(arena_.data())
         : where == IN_CTL ? uintptr_t(ctl_.data())
         : where == IN_SPARE ? uintptr_t(spare_.data())
                             : 0;
}

PUSHWIRE_INLINE void WsSession::fill_event(const Queued &q, uintptr_t base, pushwire_ws_event *ev) {
  static_assert(offsetof(Queued, type) == offsetof(pushwire_ws_event, type) &&
                    offsetof(Queued, flags) == offsetof(pushwire_ws_event, flags) &&
                    offsetof(Queued, at) == offsetof(pushwire_ws_event, data.ptr) &&
                    offsetof(Queued, len) == offsetof(pushwire_ws_event, data.len) &&
                    offsetof(Queued, code) == offsetof(pushwire_ws_event, code) &&
                    offsetof(Queued, where) == offsetof(pushwire_ws_event, reserved0) &&
                    sizeof(Queued) == offsetof(pushwire_ws_event, reserved),
                "a record is the event's first part: copied whole, then the pointer and reserved0 set");
  std::memcpy(ev, &q, sizeof q);
  ev->data.ptr = reinterpret_cast<const uint8_t *>(base + q.at);
  ev->reserved0 = 0;
  ev->reserved[0] = ev->reserved[1] = 0;
}

// Events waiting in the queue are handed out here; the rest (refill from held input, the
// automatic close, failures) in next_event_slow. Kept free of calls,
// this needs no stack frame: for the smallest messages it was a fifth of the receive cost.
int WsSession::next_event(pushwire_ws_event *ev) {
  if (PUSHWIRE_UNLIKELY(fatal_ || queue_.empty())) return next_event_slow(ev);
  const Queued &q = *reinterpret_cast<const Queued *>(queue_.data());
  if (PUSHWIRE_UNLIKELY(q.slow)) return next_event_slow(ev);
  fill_event(q, area_base(q.where), ev);
  queue_.consume(sizeof(Queued));
  return 1;
}

int WsSession::next_event_slow(pushwire_ws_event *ev) {
  if (fatal_) return fatal_;
  if (has(F_ACCEPTED_DUE)) {  // the queue is empty while the bit is set
    set(F_ACCEPTED_DUE, false);
    Queued q{};  // by field: an aggregate list would follow the record's layout silently
    q.type = PUSHWIRE_WS_EV_ACCEPTED;
    q.where = AT_PTR;
    fill_event(q, 0, ev);
    return 1;
  }
  if (queue_.empty()) {
    reset_areas();
    resume();
    if (fatal_) return fatal_;
    if (queue_.empty()) {
      if (has(F_RELEASE_IN)) release_idle();
      return err_;
    }
  }
  const Queued *q = reinterpret_cast<const Queued *>(queue_.data());
  fill_event(*q, area_base(q->where), ev);
  // The automatic close goes out only now, not when the close arrived: the application
  // may still answer the messages queued before it (an echo must not be cut off), and a
  // close it sent meanwhile makes this one unnecessary.
  if ((q->slow & S_FAILED) && state_.recv() == WsSide::Failing) state_.apply(WsInput::ReportFail);
  if ((q->slow & S_REPLY_CLOSE) && has(F_AUTO_CLOSE) && state_.may(WsAction::Close) == 0) {
    if (q->slow & S_FAILED)
      write_close(uint16_t(q->code), ev->data.ptr, ev->data.len);
    else
      write_close(q->code == 1005 ? 0 : uint16_t(q->code), nullptr, 0);  // echo the code (RFC 6455 §5.5.1)
    if (fatal_) return fatal_;
  }
  queue_.consume(sizeof(Queued));
  return 1;
}

// The events next_event would return, in order and with the same effects (the automatic
// close, the failure's report), up to `cap` at once. Only the first may refill the queue
// from held input: that starts the areas over, and the batch's earlier events point into
// them. The areas do not move while events wait, so their bases are read once per batch.
int WsSession::next_events(pushwire_ws_event *evs, size_t cap, size_t *n) {
  *n = 0;
  int rc = next_event(evs);
  if (rc != 1) return rc;
  size_t k = 1;
  uintptr_t bases[4] = {0, 0, 0, 0};  // with the 101 kept, every record is AT_PTR
  static_assert(IN_ARENA == 0 && IN_SPARE == 1 && IN_CTL == 2 && AT_PTR == 3, "bases[] order");
  if (PUSHWIRE_LIKELY(!has(F_REPLY_HERE))) {
    bases[IN_ARENA] = uintptr_t(arena_.data());
    bases[IN_SPARE] = uintptr_t(spare_.data());
    bases[IN_CTL] = uintptr_t(ctl_.data());
  }
  while (k < cap && !queue_.empty()) {
    const Queued *const q = reinterpret_cast<const Queued *>(queue_.data());
    size_t take = queue_.size() / sizeof(Queued);
    if (take > cap - k) take = cap - k;
    const Queued *r = q, *const stop = q + take;
    for (pushwire_ws_event *ev = evs + k; r != stop && PUSHWIRE_LIKELY(!r->slow); ++r, ++ev)
      fill_event(*r, bases[r->where], ev);
    const size_t i = size_t(r - q);
    queue_.consume(i * sizeof(Queued));
    k += i;
    if (i == take) break;
    rc = next_event_slow(evs + k);  // the queue is not empty: no refill
    if (rc != 1) break;             // the fatal error: the next call returns it
    ++k;
  }
  *n = k;
  return 1;
}

// Every span handed out so far is dead (the caller made a mutating call with the queue
// drained): start the areas over, keeping only a message or control frame in progress.
void WsSession::reset_areas() {
  if (has(F_REPLY_HERE)) return;  // nothing received yet
  spare_.clear();
  arena_.consume(msg_op_ ? msg_start_ : arena_.size());
  // Moved now, while it holds only what arrived since the last drain: left behind the
  // completed messages, it would be written past them and moved whole (up to
  // MAX_MESSAGE_SIZE) once the arena filled, and the arena would grow to twice the largest
  // message.
  arena_.compact();
  msg_start_ = 0;
  if (in_frame_ && ws_is_control(frame_op_))
    ctl_.consume(ctl_start_);
  else
    ctl_.clear();
  ctl_start_ = 0;
}

void WsSession::release_idle() {
  if (!queue_empty()) return;
  set(F_RELEASE_IN, false);
  queue_.release();
  if (held_.empty()) held_.release();
  if (has(F_REPLY_HERE)) return;  // the four areas hold no memory
  reset_areas();
  if (arena_.empty()) arena_.release();
  spare_.release();
  if (ctl_.empty()) ctl_.release();
  if (out_.empty()) out_.release();
}

int WsSession::feed(const uint8_t *data, size_t len, uint8_t *mut) {
  if (fatal_) return fatal_;
  if (err_) return err_;
  if (is_client() && state_.send() == WsSide::Head) return ERR_INVALID_STATE;
  set(F_STARTED, true);
  if (len == 0) return 0;
  set(F_INPUT_SEEN, true);
  if (queue_empty()) {
    reset_areas();
    resume();
    if (fatal_) return fatal_;
  }
  // After the peer's close, our refusal, end of input or a failure found just now: ignored.
  const WsSide r = state_.recv();
  if ((r != WsSide::Head && r != WsSide::Open) || state_.send() == WsSide::Refused || has(F_EOF)) return 0;
  if (!queue_empty() || !held_.empty()) {
    if (held_.size() > max_input_ || len > max_input_ - held_.size()) return ERR_BUFFER_FULL;
    return held_.append(data, len) ? nomem() : 0;
  }
  size_t used = process(data, len, mut);
  if (fatal_) return fatal_;
  if (used < len && held_.append(data + used, len - used)) return nomem();
  return 0;
}

int WsSession::feed_eof() {
  if (fatal_) return fatal_;
  if (has(F_EOF)) return 0;
  set(F_EOF, true);
  set(F_STARTED, true);  // options (HANDSHAKE above all) must not change what has been decided
  // Held input is parsed first, unless it is waiting for an accept that can no longer matter.
  if (held_.empty() || state_.may(WsAction::Decode) != 0) {
    held_.release();
    on_eof();
  }
  return 0;
}

void WsSession::on_eof() {
  const WsSide r = state_.recv();
  if ((r == WsSide::Head || r == WsSide::Open) && state_.send() != WsSide::Refused)
    fail(ERR_CONNECTION_LOST, 1006, "connection lost");
}

// Parse held input once the queue has drained (or the accept has gone out).
void WsSession::resume() {
  if (!held_.empty()) {
    size_t used = process(held_.data(), held_.size(), nullptr);
    if (fatal_) return;
    held_.consume(used);
    if (held_.empty()) held_.release();
  }
  if (has(F_EOF) && held_.empty()) on_eof();
}

// Returns how many bytes were taken: all of them, unless parsing paused (queue full) or
// frames must wait for our accept; the rest is then held.
size_t WsSession::process(const uint8_t *p, size_t n, uint8_t *mut) {
  const WsSide r = state_.recv();
  if ((r != WsSide::Head && r != WsSide::Open) || state_.send() == WsSide::Refused) return n;
  size_t done = 0;
  if (r == WsSide::Head) {
    done = recv_head(p, n);
    if (fatal_ || !recv_open()) return n;
  }
  if (state_.may(WsAction::Decode) != 0) return state_.send() == WsSide::Head ? done : n;
  if (done == n) return n;  // nothing behind the head
  if (PUSHWIRE_UNLIKELY(!settle_reply())) return n;
  return done + recv_frames(p + done, n - done, mut ? mut + done : nullptr);
}

// ---------------------------------------------------------------------------------------
// The opening handshake's head

size_t WsSession::recv_head(const uint8_t *p, size_t n) {
  if (!is_client() && has(F_AUTO_ACCEPT) && !(hs_ && hs_->head.started())) {
    // The usual upgrade: the whole request in the first read, answered at once. Parsed
    // and answered where it lies, so the handshake allocates nothing of its own (the
    // answer and the ACCEPTED event go to the output and the queue, as any would).
    HttpField fields[WS_BORROWED_FIELDS];
    HttpHead head(&alloc_, HttpHead::Kind::Request);
    head.set_limits(max_head_, max_headers_);
    size_t used;
    if (head.borrow_whole_request(p, n, fields, WS_BORROWED_FIELDS, &used)) {
      on_request(head);
      // end_handshake_if_over releases the receive areas only when it frees handshake state.
      if (state_.handshake_over()) set(F_RELEASE_IN, true);
      return used;
    }
  }
  if (ensure_handshake()) return n;
  size_t used = n;
  int rc = hs_->head.feed(p, n, &used);
  if (rc == 0) return n;
  if (rc < 0) {
    if (rc == ERR_NOMEM) {
      nomem();
    } else {
      // A server answers a malformed head with 400, an oversized one with 431; a client
      // reports status 0 (not valid HTTP).
      fail_handshake(rc, is_client() ? 0 : rc == ERR_HEAD_TOO_LARGE ? 431 : 400, hs_->head.error_reason());
    }
    return n;
  }
  if (is_client())
    on_response();
  else
    on_request(hs_->head);
  return used;
}

void WsSession::on_request(const HttpHead &head) {
  int status = 400;
  const char *why = "";
  const StringList none(&alloc_);
  span key;
  if (int rc = ws_check_request(head, hs_ ? hs_->origins : none, has(F_REQUIRE_ORIGIN), &status, &why, &key)) {
    fail_handshake(rc, status, why);
    return;
  }
  state_.apply(WsInput::RecvHead);
  if (!has(F_AUTO_ACCEPT)) {
    // Copied: the caller may answer (and so free the head) before pulling this event.
    span t = head.target();
    size_t at = ctl_.size();
    if (ctl_.append(t)) {
      nomem();
      return;
    }
    push(PUSHWIRE_WS_EV_REQUEST, 0, IN_CTL, at, t.len);
    return;
  }
  span chosen;
  if (write_accept(head, key, span{nullptr, 0}, &chosen) == 0) report_accepted(chosen);
}

// The chosen subprotocol lives in the handshake's memory, which goes now: copy it. Without
// one the event needs no memory: it is the F_ACCEPTED_DUE bit while nothing else is queued.
void WsSession::report_accepted(span chosen) {
  if (chosen.len == 0 && queue_.empty()) {
    set(F_ACCEPTED_DUE, true);
  } else {
    size_t at = ctl_.size();
    if (ctl_.append(chosen)) {
      nomem();
      return;
    }
    push(PUSHWIRE_WS_EV_ACCEPTED, 0, IN_CTL, at, chosen.len);
  }
  end_handshake_if_over();
}

// The ACCEPTED bit becomes a queued record when anything is queued behind it: push() and
// the one writer of records that bypasses it (recv_small) call this first; queue_empty()
// counts the bit. False when out of memory.
bool WsSession::queue_accepted() {
  set(F_ACCEPTED_DUE, false);
  return push(PUSHWIRE_WS_EV_ACCEPTED, 0, AT_PTR, 0, 0);
}

void WsSession::on_response() {
  span chosen{nullptr, 0};
  int status = hs_->head.status();
  const char *why = "";
  if (int rc = ws_check_response(hs_->head, make_span(hs_->key, sizeof hs_->key), hs_->protocols, &chosen, &status,
                                 &why)) {
    fail_handshake(rc, status, why);
    return;
  }
  state_.apply(WsInput::RecvHead);
  report_accepted(chosen);
}

// ---------------------------------------------------------------------------------------
// Frames

size_t WsSession::recv_frames(const uint8_t *const start, size_t n, uint8_t *mut) {
  const uint8_t *p = start;
  const uint8_t *const end = start + n;
  while (p < end) {
    // The first byte rules out most frames the run would refuse (a control frame) before
    // its setup is paid for: a data frame starting a message, or a continuation of one
    // (buffered, not streamed: see recv_small).
    if (!in_frame_ && hdr_have_ == 0 &&
        (msg_op_ == 0 ? unsigned(p[0] & 0x7f) - 1u <= 1u : (p[0] & 0x7f) == 0 && !has(F_STREAMING))) {
      if (is_client())
        p = mut ? recv_small<false, true>(p, end, mut + (p - start)) : recv_small<false, false>(p, end, nullptr);
      else
        p = mut ? recv_small<true, true>(p, end, mut + (p - start)) : recv_small<true, false>(p, end, nullptr);
      if (PUSHWIRE_UNLIKELY(fatal_ || !recv_open())) return n;
      if (p == end) break;
    }
    if (!in_frame_) {
      if (PUSHWIRE_UNLIKELY(queue_full())) break;
      const WsFrameRules rules{!is_client(), msg_op_ != 0};
      WsFrameHeader h;
      WsViolation v;
      const uint8_t *const hstart = hdr_have_ == 0 ? p : nullptr;
      if (PUSHWIRE_LIKELY(hdr_have_ == 0)) {
        int r = ws_decode_header_fast(p, size_t(end - p), rules, &h, &v);
        if (PUSHWIRE_UNLIKELY(r <= 0)) {
          if (r < 0) {
            fail(v.error, v.code, v.reason);
            return n;
          }
          hdr_have_ = uint8_t(end - p);  // less than a header: keep it
          std::memcpy(hdr_, p, hdr_have_);
          p = end;
          break;
        }
        p += r;
      } else {
        size_t take = WS_MAX_HEADER - hdr_have_;
        if (take > size_t(end - p)) take = size_t(end - p);
        std::memcpy(hdr_ + hdr_have_, p, take);
        int r = ws_decode_header(hdr_, hdr_have_ + take, rules, &h, &v);
        if (r < 0) {
          fail(v.error, v.code, v.reason);
          return n;
        }
        if (r == 0) {
          hdr_have_ = uint8_t(hdr_have_ + take);
          p = end;
          break;
        }
        p += size_t(r) - hdr_have_;
        hdr_have_ = 0;
      }
      const size_t avail = size_t(end - p);
      uint8_t *const here = mut ? mut + (p - start) : nullptr;
      if (ws_is_control(h.opcode)) {
        if (h.len <= avail) {  // the common case: the whole control frame is here
          const size_t len = size_t(h.len);
          if (here) {
            if (h.masked) mask_inplace(here, len, h.key, 0);
            on_control(h.opcode, AT_PTR, uintptr_t(here), here, len);
          } else {
            const size_t at = ctl_.size();
            uint8_t *dst = len ? ctl_.extend(len) : ctl_.data();
            if (len && !dst) {
              nomem();
              return n;
            }
            if (h.masked)
              mask_copy(dst, p, len, h.key, 0);
            else if (len)
              std::memcpy(dst, p, len);
            on_control(h.opcode, IN_CTL, at, dst, len);
          }
          p += len;
          if (PUSHWIRE_UNLIKELY(fatal_ || !recv_open())) return n;
          continue;
        }
        ctl_start_ = ctl_.size();
      } else {
        const bool whole = h.opcode != WS_OP_CONT && h.fin && h.len <= avail;
        if (!whole && h.opcode != WS_OP_CONT && h.len >= kMoveWorthAvoiding) {
          if (PUSHWIRE_UNLIKELY(hstart && wait_for_drain(h, avail))) {
            p = hstart;
            break;
          }
          begin_in_spare();
        }
        if (PUSHWIRE_UNLIKELY(!begin_data(h))) return n;
        if (whole) {  // a whole one-frame message
          whole_message(p, h, here);
          p += size_t(h.len);
          if (PUSHWIRE_UNLIKELY(fatal_ || !recv_open())) return n;
          continue;
        }
      }
      in_frame_ = true;
      frame_left_ = h.len;
      frame_op_ = h.opcode;
      frame_fin_ = h.fin;
      std::memcpy(key_, h.key, 4);
      phase_ = 0;
    }
    size_t k = size_t(end - p);
    if (frame_left_ < k) k = size_t(frame_left_);
    if (ws_is_control(frame_op_)) {
      uint8_t *dst = ctl_.extend(k);
      if (k && !dst) {
        nomem();
        return n;
      }
      if (masked_by_peer())
        phase_ = uint8_t(mask_copy(dst, p, k, key_, phase_));
      else if (k)
        std::memcpy(dst, p, k);
    } else if (!copy_data(p, k)) {
      return n;
    }
    p += k;
    frame_left_ -= k;
    if (frame_left_ == 0) {
      in_frame_ = false;
      if (ws_is_control(frame_op_))
        on_control(frame_op_, IN_CTL, ctl_start_, ctl_.data() + ctl_start_, ctl_.size() - ctl_start_);
      else if (frame_fin_)
        end_message();
      if (PUSHWIRE_UNLIKELY(fatal_ || !recv_open())) return n;
    }
  }
  flush_stream(false);
  return size_t(p - start);
}

// The hot path: a run of whole one-frame messages with 7-bit lengths (and binary ones with
// 16-bit lengths: W2's 1 KiB frames paid more for the general decoder than for their
// unmasking copy), nothing under way, and of buffered fragmented messages whose frames have
// 7-bit lengths (W6: the full decoder's per-frame state, calls and checks cost three times
// the unmasking copy).
// Each payload is unmasked in registers and its event record written straight into the
// queue's free room; the arena and queue positions stay in locals (a store through a byte
// pointer would otherwise make the compiler reload every member after it) and are
// committed when the run ends. Returns where the run stopped: at anything else (and every
// rule it might break, invalid text included), which the full decoder then handles.
// Masked: a server receiving. InPlace: mut_p is p in the caller's mutable copy.
template <bool Masked, bool InPlace>
const uint8_t *WsSession::recv_small(const uint8_t *p, const uint8_t *const end, uint8_t *const mut_p) {
  constexpr size_t hsize = Masked ? 6 : 2;
  constexpr uint8_t mask_bit = Masked ? 0x80 : 0;
  size_t max_len = 125;
  if (max_frame_ < max_len) max_len = size_t(max_frame_);
  if (max_message_ < max_len) max_len = size_t(max_message_);
  size_t max_len16 = 65535;
  if (max_frame_ < max_len16) max_len16 = size_t(max_frame_);
  if (max_message_ < max_len16) max_len16 = size_t(max_message_);
  if (PUSHWIRE_UNLIKELY(has(F_ACCEPTED_DUE)) && !queue_accepted()) return p;  // records go behind it
  const size_t queued = queue_.size() / sizeof(Queued);
  if (queued >= WS_QUEUE_MAX) return p;
  size_t qleft = WS_QUEUE_MAX - queued;  // records the queue may still take
  const uint8_t *const p0 = p;

  // Free room, filled from qw to qc without extend() and committed by it below (room never
  // moves), up to qlim: records that fit both the buffer's room and the queue's limit.
  Queued *qw, *qc, *qlim;
  auto queue_room = [&] {
    qw = qc = reinterpret_cast<Queued *>(queue_.data() + queue_.size());
    const size_t room = queue_.room() / sizeof(Queued);
    qlim = qw + (room < qleft ? room : qleft);
  };
  queue_room();
  size_t at = arena_.size();
  uint8_t *aw = arena_.data() + at;
  size_t aroom = arena_.room();
  size_t aused = 0;
  auto commit = [&] {
    arena_.extend(aused);
    const size_t nq = size_t(qc - qw);
    queue_.extend(nq * sizeof(Queued));
    at += aused;  // the arena's locals stay valid (the run goes on after a check_text)
    aw += aused;
    aroom -= aused;
    qleft -= nq;
    aused = 0;
    qw = qc;
  };
  // Room for one more record and `len` more bytes of arena; false ends the run (the
  // queue's limit, or no memory: then the handle has failed).
  auto make_room = [&](size_t len) {
    if (PUSHWIRE_LIKELY(qc != qlim && (InPlace || len <= aroom - aused))) return true;
    commit();
    if (qleft == 0) return false;
    // Growth doubles the capacity, as one extend() at a time would.
    if ((queue_.room() < sizeof(Queued) && queue_.reserve_extra(sizeof(Queued))) ||
        (!InPlace && arena_.room() < len && arena_.reserve_extra(len))) {
      nomem();
      return false;
    }
    queue_room();
    aw = arena_.data() + at;
    aroom = arena_.room();
    return true;
  };
  // A whole message's record; b0's low bits are its opcode (TEXT or BINARY). On 64-bit
  // little-endian machines it is written as four 8-byte words (type with flags, at, len, code
  // with where and slow): GCC kept the six fields' stores apart. 32-bit targets (24-byte
  // records) take the field stores.
  auto put_message = [](Queued *q, uint8_t b0, Where where, uintptr_t where_at, size_t len) {
    static_assert(PUSHWIRE_WS_EV_TEXT == 4 && PUSHWIRE_WS_EV_BINARY == 5, "b0 & 3 is 1 or 2");
    const uint32_t type = 3u + (b0 & 3u);
    constexpr uint32_t flags = PUSHWIRE_WS_EVF_FIRST | PUSHWIRE_WS_EVF_FIN;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && __SIZEOF_POINTER__ == 8 && \
    __SIZEOF_SIZE_T__ == 8
    static_assert(offsetof(Queued, flags) == 4 && offsetof(Queued, code) == 24 && offsetof(Queued, where) == 28 &&
                      offsetof(Queued, slow) == 29 && sizeof(Queued) == 32,
                  "the words follow the record's layout");
    const uint64_t type_flags = type | uint64_t(flags) << 32;
    const uint64_t code_where_slow = uint64_t(where) << 32;
    uint8_t *const r = reinterpret_cast<uint8_t *>(q);
    std::memcpy(r, &type_flags, 8);
    q->at = where_at;
    q->len = len;
    std::memcpy(r + 24, &code_where_slow, 8);
#else
    q->type = type;
    q->flags = flags;
    q->at = where_at;
    q->len = len;
    q->code = 0;
    q->where = where;
    q->slow = 0;
#endif
  };
  auto record = [&](uint8_t b0, const uint8_t *dst, size_t len) {
    put_message(qc++, b0, InPlace ? AT_PTR : IN_ARENA, InPlace ? uintptr_t(dst) : at + aused, len);
    if (!InPlace) aused += len;
  };
  const bool buffered = !has(F_STREAMING);

  // Copying, payloads of at most 16 bytes (W1) take the short step: one 16-byte unmask. It
  // writes 16 bytes to the arena's room, so short steps are bounded by the frames both
  // rooms hold for certain (qfast) and by the last header with 16 bytes behind it; any other
  // frame goes below, and the bounds are taken again from the rooms at the next short frame.
  // Frames with the same first two bytes as the one before follow at a fixed step: their
  // positions no longer wait for each length byte to load (that chain of loads, not the
  // instruction count, bounded W1).
  const size_t short_max = max_len < 16 ? max_len : 16;
  const uintptr_t short_last = size_t(end - p) >= hsize + 16 ? uintptr_t(end - (hsize + 16)) : 0;
  while (size_t(end - p) >= hsize) {
    uint8_t b0 = p[0];
    // The mask bit and the length in one test: less the expected mask bit, a frame with
    // the other one has a length of 128 or more, past any max_len.
    size_t len = uint8_t(p[1] - mask_bit);
    if (kShortStep && !InPlace && uint8_t(b0 - 0x81) <= 1 && len <= short_max && uintptr_t(p) <= short_last) {
      const size_t by_arena = (aroom - aused) / 16, by_queue = size_t(qlim - qc);
      Queued *const qfast = qc + (by_arena < by_queue ? by_arena : by_queue);
      if (qc != qfast) {
        for (;;) {  // a run of frames with equal first bytes each time round
          uint16_t head, next;
          std::memcpy(&head, p, 2);
          const size_t step = hsize + len;
          do {
            uint32_t key = 0;
            if (Masked) std::memcpy(&key, p + 2, 4);
            uint8_t *const dst = aw + aused;
            if (PUSHWIRE_UNLIKELY(unmask16(dst, p + hsize, len, key, Masked) && b0 == 0x81 &&
                                  !utf8_valid(dst, len)))
              goto stop;
            put_message(qc++, b0, IN_ARENA, at + aused, len);
            aused += len;
            p += step;
            if (qc == qfast || uintptr_t(p) > short_last) goto short_done;
            std::memcpy(&next, p, 2);
          } while (next == head);
          b0 = p[0];
          len = uint8_t(p[1] - mask_bit);
          if (uint8_t(b0 - 0x81) > 1 || len > short_max) break;
        }
      short_done:
        continue;
      }
    }
    if (PUSHWIRE_UNLIKELY((b0 != 0x81 && b0 != 0x82) || len > max_len)) {
      if ((uint8_t(b0 - 1) <= 1 || msg_op_ != 0) && buffered) {
        // A fragmented message (W6), buffered (streaming hands out pieces at every control
        // frame and read, which the full decoder does), from its first frame (b0 0x01 or
        // 0x02) or from a continuation when it began before the run (the caller checked).
        // Each frame with a 7-bit length is unmasked into the arena (in place too: the
        // message must outlive this read) and its text left to one validation at the
        // message's end, deferred as copy_data defers it (at most kTextDeferMax bytes,
        // then check_text); the record is written at the end. The run stops at any frame
        // the full decoder must take: a control frame, a partial one, a limit, the queue
        // full (the decoder pauses before a frame then; nothing is queued inside the
        // message, so once per message is enough), and on failure.
        if (qleft == size_t(qc - qw)) break;
        const bool first = msg_op_ == 0;
        const uint8_t op = first ? b0 : msg_op_;
        const bool text = op == WS_OP_TEXT;
        // The message's counts in registers, stored to their members as they change (a
        // store through the arena pointer would make the compiler reload the members).
        uint32_t frames = first ? 0 : msg_frames_;
        uint64_t size = first ? 0 : msg_size_;
        uint16_t todo = utf8_todo_;  // 0 at a message's start (end_message checked it)
        const uint32_t max_frames = max_fragments_;
        const uint64_t max_size = max_message_;
        for (bool start = first;; start = false) {
          const uint8_t *const f = p;
          const size_t avail = size_t(end - f);
          if (avail < hsize) goto stop;
          const uint8_t f0 = f[0];
          const size_t flen = uint8_t(f[1] - mask_bit);
          if ((!start && (f0 & 0x7f) != 0) || flen > max_len || flen > avail - hsize) goto stop;
          if (frames >= max_frames || flen > max_size - size) goto stop;
          if (PUSHWIRE_UNLIKELY(flen > aroom - aused)) {
            commit();
            if (arena_.reserve_extra(flen)) {
              nomem();
              goto stop;
            }
            aw = arena_.data() + at;
            aroom = arena_.room();
          }
          if (start) {  // begin_data's start of a message
            msg_op_ = op;
            msg_start_ = at + aused;
            msg_first_ = true;
            utf8_.reset();
          }
          msg_frames_ = ++frames;
          msg_size_ = size += flen;
          if (text && todo + flen > kTextDeferMax) {
            commit();
            if (!check_text()) goto stop;
            todo = 0;
          }
          uint8_t *const dst = aw + aused;
          if (Masked) {
            uint32_t key;
            std::memcpy(&key, f + 2, 4);
            mask_copy_short(dst, f + hsize, flen, key);
          } else if (flen) {
            std::memcpy(dst, f + hsize, flen);
          }
          if (text) utf8_todo_ = todo = uint16_t(todo + flen);
          aused += flen;
          p = f + hsize + flen;
          if (!(f0 & 0x80)) continue;
          if (text) {
            // Checked on a copy of the state: on failure end_message checks again and
            // fails exactly as the full decoder would (offset, close).
            Utf8State st = utf8_;
            if (PUSHWIRE_UNLIKELY(!utf8_feed(st, aw + aused - todo, todo) || !st.at_boundary())) {
              commit();
              end_message();
              goto stop;
            }
            utf8_todo_ = 0;
          }
          if (!make_room(0)) goto stop;
          put_message(qc++, op, IN_ARENA, msg_start_, at + aused - msg_start_);
          msg_op_ = 0;
          msg_start_ = at + aused;
          break;
        }
        continue;
      }
      // Binary with a minimal 16-bit length (text stays with the full decoder, which
      // validates long text while unmasking it). Kept apart so the short frames' offsets
      // stay constants.
      if (b0 != 0x82 || len != 126 || size_t(end - p) < hsize + 2) break;
      const size_t len16 = size_t(p[2]) << 8 | p[3];
      if (len16 < 126 || len16 > max_len16 || len16 > size_t(end - p) - hsize - 2 || !make_room(len16)) break;
      const uint8_t *src = p + hsize + 2;
      uint8_t *dst = InPlace ? mut_p + (src - p0) : aw + aused;
      if (Masked)
        mask_copy(dst, InPlace ? dst : src, len16, src - 4, 0);
      else if (!InPlace)
        std::memcpy(dst, src, len16);
      record(b0, dst, len16);
      p = src + len16;
      continue;
    }
    if (len > size_t(end - p) - hsize || !make_room(len)) break;
    uint32_t key = 0;
    if (Masked) std::memcpy(&key, p + 2, 4);
    const uint8_t *src = p + hsize;
    uint8_t *dst = InPlace ? mut_p + (src - p0) : aw + aused;
    // A client reading in place has nothing to move; it reads text only for the ASCII bits.
    const bool touch = Masked || !InPlace || b0 == 0x81;
    const bool high = touch && mask_copy_short(dst, InPlace ? dst : src, len, key);
    if (PUSHWIRE_UNLIKELY(b0 == 0x81 && high && !utf8_valid(dst, len))) {
      if (Masked && InPlace) mask_copy_short(dst, dst, len, key);  // restored for the full decoder
      break;
    }
    record(b0, dst, len);
    p = src + len;
  }
stop:
  commit();
  return p;
}

// A large message that begins behind completed ones still waiting to be pulled would need
// a second area as large as the arena (the spare, see begin_in_spare) or growth of the
// arena to twice the largest message, kept for the connection's life. When the arena's
// capacity would hold it alone and the spare cannot, the rest of the input is held until
// the queue drains instead; that copy (at most the rest of this read) must be small beside
// the memory it saves, so short messages never wait. A frame over a limit does not wait:
// its failure is reported now, as without the wait.
bool WsSession::wait_for_drain(const WsFrameHeader &h, size_t avail) const {
  return h.len / 8 >= avail && msg_op_ == 0 && !has(F_STREAMING) && !queue_.empty() && !arena_.empty() &&
         h.len > arena_.room() && h.len <= arena_.capacity() && (!spare_.empty() || spare_.capacity() < h.len) &&
         h.len <= max_frame_ && h.len <= max_message_;
}

// A message that will still be in progress when this read ends, begun behind completed
// ones, would have to be moved to the front of the arena after the drain. Begun at the
// start of the spare area instead (the arena's waiting payloads become IN_SPARE), it stays
// where it is: the drain frees the spare, and the two areas trade places for every such
// message (W3, W5: a 64 KiB message per 64 KiB read).
void WsSession::begin_in_spare() {
  if (has(F_STREAMING) || arena_.empty() || !spare_.empty()) return;
  Queued *q = reinterpret_cast<Queued *>(queue_.data());
  for (size_t i = 0, n = queue_.size() / sizeof(Queued); i < n; ++i)
    if (q[i].where == IN_ARENA) q[i].where = IN_SPARE;
  arena_.swap(spare_);
}

// Limits are judged on the header, before any payload is stored. Inlined into its one
// caller: for a small fragment (W6) the call was a fifth of the frame's own cost.
PUSHWIRE_INLINE bool WsSession::begin_data(const WsFrameHeader &h) {
  if (h.len > max_frame_) {
    fail(ERR_MESSAGE_TOO_BIG, 1009, "frame too big");
    return false;
  }
  if (h.opcode != WS_OP_CONT) {
    msg_op_ = h.opcode;
    msg_frames_ = 0;
    msg_size_ = 0;
    msg_start_ = arena_.size();
    msg_first_ = true;
    utf8_.reset();
  }
  if (msg_frames_ >= max_fragments_) {
    fail(ERR_POLICY, 1008, "too many fragments");
    return false;
  }
  ++msg_frames_;
  if (!has(F_STREAMING)) {
    if (h.len > max_message_ - msg_size_) {
      fail(ERR_MESSAGE_TOO_BIG, 1009, "message too big");
      return false;
    }
    msg_size_ += h.len;
  }
  return true;
}

void WsSession::whole_message(const uint8_t *p, const WsFrameHeader &h, uint8_t *here) {
  const size_t len = size_t(h.len);
  const bool text = h.opcode == WS_OP_TEXT;
  uint8_t *data;
  Where where;
  uintptr_t at;
  if (here) {
    data = here;
    where = AT_PTR;
    at = uintptr_t(here);
  } else {
    at = arena_.size();
    data = arena_.extend(len);
    if (PUSHWIRE_UNLIKELY(!data && len)) {
      nomem();
      return;
    }
    where = IN_ARENA;
  }
  // Masked text is unmasked and validated in one pass over the bytes.
  Utf8State st;
  size_t bad = len;
  bool valid = true;
  if (text && h.masked) {
    unsigned ph = 0;
    valid = utf8_feed_unmask(st, data, here ? here : p, len, h.key, &ph, &bad);
  } else {
    if (h.masked && !here && stored_far(len))
      mask_copy_far(data, p, len, h.key, 0);
    else if (h.masked)
      mask_copy(data, here ? here : p, len, h.key, 0);
    else if (!here && len)
      std::memcpy(data, p, len);
    if (text) valid = utf8_feed(st, data, len, &bad);
  }
  const uint8_t type = text ? PUSHWIRE_WS_EV_TEXT : PUSHWIRE_WS_EV_BINARY;
  msg_op_ = 0;
  msg_start_ = arena_.size();
  if (text) {
    if (PUSHWIRE_UNLIKELY(!valid || !st.at_boundary())) {
      // Streaming hands out the valid characters before the bad byte, exactly as it would
      // have had the frame arrived in pieces.
      const size_t keep = utf8_boundary_prefix(data, bad);
      if (has(F_STREAMING) && keep && !push(type, PUSHWIRE_WS_EVF_FIRST, where, at, keep)) return;
      fail(ERR_BAD_UTF8, 1007, "invalid UTF-8 in text message");
      return;
    }
  }
  push(type, PUSHWIRE_WS_EVF_FIRST | PUSHWIRE_WS_EVF_FIN, where, at, len);
}

bool WsSession::copy_data(const uint8_t *p, size_t k) {
  while (k > 0) {
    const size_t step = k < kCopyBlock ? k : kCopyBlock;
    const bool text = msg_op_ == WS_OP_TEXT;
    const bool defer = text && step < UTF8_UNMASK_FUSED_MIN && utf8_todo_ + step <= kTextDeferMax;
    if (!defer && !check_text()) return false;
    uint8_t *dst = arena_.extend(step);
    if (PUSHWIRE_UNLIKELY(!dst)) {
      nomem();
      return false;
    }
    size_t bad = 0;
    bool ok = true;
    if (text && !defer && masked_by_peer()) {
      unsigned ph = phase_;
      ok = utf8_feed_unmask(utf8_, dst, p, step, key_, &ph, &bad);
      phase_ = uint8_t(ph);
    } else {
      if (!masked_by_peer()) {
        std::memcpy(dst, p, step);
      } else if (step < UTF8_UNMASK_FUSED_MIN) {
        // Short steps (small fragments) are unmasked inline: the call and setup of
        // mask_copy cost more than the XOR.
        mask_copy_short(dst, p, step, mask_key_word(key_, phase_));
        phase_ = uint8_t((phase_ + step) & 3);
      } else if (stored_far(msg_size_)) {
        phase_ = uint8_t(mask_copy_far(dst, p, step, key_, phase_));
      } else {
        phase_ = uint8_t(mask_copy(dst, p, step, key_, phase_));
      }
      if (defer)
        utf8_todo_ = uint16_t(utf8_todo_ + step);
      else if (text)
        ok = utf8_feed(utf8_, dst, step, &bad);
    }
    if (PUSHWIRE_UNLIKELY(!ok)) {
      fail_text(arena_.size() - step + bad);
      return false;
    }
    p += step;
    k -= step;
  }
  return true;
}

void WsSession::end_message() {
  if (!check_text()) return;
  if (msg_op_ == WS_OP_TEXT && !utf8_.at_boundary()) {
    fail_text(arena_.size());
    return;
  }
  if (has(F_STREAMING))
    flush_stream(true);
  else
    push(msg_op_ == WS_OP_TEXT ? PUSHWIRE_WS_EV_TEXT : PUSHWIRE_WS_EV_BINARY,
         PUSHWIRE_WS_EVF_FIRST | PUSHWIRE_WS_EVF_FIN, IN_ARENA, msg_start_, arena_.size() - msg_start_);
  msg_op_ = 0;
  msg_start_ = arena_.size();
}

// Streaming: hand out what arrived of the current message (text only up to the last
// complete character; the rest waits for its continuation bytes).
void WsSession::flush_stream(bool fin) {
  if (!check_text() || !has(F_STREAMING) || msg_op_ == 0) return;
  size_t n = arena_.size() - msg_start_;
  if (msg_op_ == WS_OP_TEXT && !fin) n = utf8_boundary_prefix(arena_.data() + msg_start_, n);
  if (n == 0 && !fin) return;
  const uint8_t flags = uint8_t((fin ? PUSHWIRE_WS_EVF_FIN : 0) | (msg_first_ ? PUSHWIRE_WS_EVF_FIRST : 0));
  if (!push(msg_op_ == WS_OP_TEXT ? PUSHWIRE_WS_EV_TEXT : PUSHWIRE_WS_EV_BINARY, flags, IN_ARENA, msg_start_, n))
    return;
  msg_start_ += n;
  msg_first_ = false;
}

// Short steps of text (W6: 64-byte fragments, characters straddling them) cost a call of
// the validator each, on its scalar path. They are stored unvalidated instead, and the run
// of them, contiguous at the end of the arena, is validated in one call before anything
// can observe the message or what follows it: its end, a control frame, a failure, a long
// step, the end of the read. The failure and its offset are those of validating each step
// at once; only the work moves. False when the text was invalid (the handle has failed).
bool WsSession::check_text() {
  if (PUSHWIRE_LIKELY(utf8_todo_ == 0)) return true;
  const size_t from = arena_.size() - utf8_todo_;
  utf8_todo_ = 0;
  size_t bad = 0;
  if (utf8_feed(utf8_, arena_.data() + from, arena_.size() - from, &bad)) return true;
  fail_text(from + bad);
  return false;
}

// Invalid text: drop the bytes from the bad one on, so that streaming hands out only the
// valid characters before it, then fail.
void WsSession::fail_text(size_t bad_end) {
  arena_.shrink_by(arena_.size() - bad_end);
  fail(ERR_BAD_UTF8, 1007, "invalid UTF-8 in text message");
}

void WsSession::on_control(uint8_t opcode, Where where, uintptr_t at, const uint8_t *data, size_t len) {
  if (!check_text()) return;  // text before the control frame fails first
  flush_stream(false);        // message bytes that came before the control frame are reported first
  if (opcode == WS_OP_CLOSE) {
    uint16_t code = 1005;
    if (len == 1) return fail(ERR_PROTOCOL, 1002, "close frame with a 1-byte payload");
    if (len >= 2) {
      code = uint16_t(data[0] << 8 | data[1]);
      if (!ws_close_code_valid(code)) return fail(ERR_PROTOCOL, 1002, "invalid close code");
      if (!utf8_valid(data + 2, len - 2)) return fail(ERR_BAD_UTF8, 1007, "invalid UTF-8 in close reason");
      at += 2;
      len -= 2;
    }
    if (!push(PUSHWIRE_WS_EV_CLOSE, 0, where, at, len, code)) return;
    last_queued()->slow |= S_REPLY_CLOSE;
    state_.apply(WsInput::RecvClose);
    msg_op_ = 0;
    return;
  }
  if (!push(opcode == WS_OP_PING ? PUSHWIRE_WS_EV_PING : PUSHWIRE_WS_EV_PONG, 0, where, at, len)) return;
  // When the output is full the pong is skipped: §5.5.3 allows answering only the latest ping.
  if (opcode == WS_OP_PING && has(F_AUTO_PONG) && state_.may(WsAction::Send) == 0 &&
      out_fits(ws_header_size(len, is_client()) + len))
    write_frame(WS_OP_PONG, true, data, len);
}

void WsSession::fail(int error, uint16_t code, const char *reason) {
  // The first failure (or the peer's close) stands: a keepalive timeout or end of input
  // after a violation that the application has not pulled yet must not report a second one.
  const WsSide r = state_.recv();
  if (r != WsSide::Head && r != WsSide::Open) return;
  if (!check_text()) return;  // invalid text before what failed now was the first failure
  set(F_STARTED, true);  // a failed handle must not be revived by changing its options
  flush_stream(false);
  state_.apply(WsInput::RecvFail);
  err_ = error;
  hint_ = code;
  reason_ = reason;
  const size_t rlen = std::strlen(reason);
  if (!push(PUSHWIRE_WS_EV_CLOSE, PUSHWIRE_WS_EVF_FAILED, AT_PTR, uintptr_t(reason), rlen, code)) return;
  // 1006 means the peer is gone: there is nobody to send a close to.
  if (code != 1006) last_queued()->slow |= S_REPLY_CLOSE;
  msg_op_ = 0;
  end_handshake_if_over();
}

}  // namespace pushwire
