// The WebSocket handle behind pushwire_ws: handshake, then frames, under one object.
// Transitions live in ws_state.cpp (with the essay on the receive path); this class
// holds the buffers and options and turns bytes into events and calls into bytes.
// ws_session.cpp: lifecycle, options, handshake, sending, output, keepalive.
// ws_recv.cpp: feed, frame parsing, the event queue, failures.
#pragma once

#include <new>

#include "buffer.hpp"
#include "http_head.hpp"
#include "random.hpp"
#include "utf8.hpp"
#include "ws_frame.hpp"
#include "ws_handshake.hpp"
#include "ws_state.hpp"

namespace pushwire {

constexpr uint64_t WS_DEFAULT_MAX_MESSAGE = uint64_t(16) << 20;
constexpr uint64_t WS_DEFAULT_MAX_FRAME = uint64_t(16) << 20;
constexpr uint32_t WS_DEFAULT_MAX_FRAGMENTS = 4096;
constexpr uint64_t WS_DEFAULT_MAX_INPUT = uint64_t(4) << 20;
constexpr uint64_t WS_DEFAULT_MAX_OUTPUT = uint64_t(64) << 20;
// Events waiting in the queue before parsing pauses (a 64 KiB read of the smallest
// client frames, 6 bytes each, is about 11000 frames; of 16-byte messages about 3000).
constexpr size_t WS_QUEUE_MAX = 4096;
// Fields of a request answered from the caller's bytes (on the stack); a request with
// more takes the copying path.
constexpr size_t WS_BORROWED_FIELDS = 32;

// What only the opening handshake needs; freed as soon as both heads are done, so an
// idle open connection holds nothing but the handle.
struct WsHandshake {
  HttpHead head;        // the request (server) or response (client)
  StringList origins;   // server allow-list
  StringList protocols; // server preference list / client offer
  Buffer extra;         // rendered extra header lines
  char key[24];         // client: the Sec-WebSocket-Key sent
  WsHandshake(const Allocator *a, HttpHead::Kind kind) : head(a, kind), origins(a), protocols(a), extra(a) {}
};

class WsSession {
 public:
  // `alloc` must be valid (Allocator::valid) and `role` one of the two; 0 or ERR_NOMEM.
  static int create(WsSession **out, pushwire_ws_role role, const pushwire_allocator *alloc);
  static void destroy(WsSession *ws);

  int set_option(int option, uint64_t value);
  int get_option(int option, uint64_t *value) const;
  int set_random(pushwire_random_fn fn, void *user);
  int add_origin(span origin);
  int add_subprotocol(span name);
  int add_header(span name, span value);

  int client_start(span host, span target);
  int accept(span subprotocol);
  int reject(unsigned status, span body);
  int request_target(span *out) const;
  int request_header(span name, size_t index, span *value) const;
  int request_subprotocol(size_t index, span *name) const;
  int request_extension(size_t index, span *name, span *params) const;

  int feed(const uint8_t *data, size_t len, uint8_t *mutable_data);
  int feed_eof();
  int next_event(pushwire_ws_event *ev);
  int next_event_slow(pushwire_ws_event *ev);
  int next_events(pushwire_ws_event *evs, size_t cap, size_t *n);

  int send_message(bool binary, const uint8_t *data, size_t len);
  int send_fragment(bool binary, const uint8_t *data, size_t len, bool fin);
  int send_control(uint8_t opcode, const uint8_t *data, size_t len);
  int close(uint16_t code, span reason);
  int frame_header(bool binary, uint64_t len, uint8_t out[WS_MAX_HEADER], size_t *out_len);

  size_t peek_output(span *out) const;
  int consume_output(size_t n);
  size_t output_size() const { return PUSHWIRE_UNLIKELY(has(F_REPLY_HERE)) ? reply()->pending() : out_.size(); }

  int tick(uint64_t now_ms, uint64_t *next_ms);

  pushwire_ws_state state() const { return state_.public_state(); }
  int close_code_hint() const { return hint_; }
  const char *error_reason() const { return reason_; }

 private:
  // One queued event. Data lives in the arena or control area (at an offset: they may
  // grow), in the caller's lent buffer or static text (a pointer). Laid out as the first
  // 32 bytes of pushwire_ws_event (type and flags, data, code) so that handing it out is
  // a few word copies (fill_event).
  enum Where : uint8_t { IN_ARENA, IN_SPARE, IN_CTL, AT_PTR };
  enum Slow : uint8_t { S_FAILED = 1, S_REPLY_CLOSE = 2 };
  struct Queued {
    uint32_t type;
    uint32_t flags;
    uintptr_t at;  // offset (IN_ARENA, IN_SPARE, IN_CTL) or pointer (AT_PTR)
    size_t len;
    uint32_t code;
    uint8_t where;
    // Slow bits, one test for the hand-out loops: S_FAILED (the failure's event: the state
    // moves on when it is pulled) and S_REPLY_CLOSE (CLOSE: queue the automatic close frame
    // when this event is pulled).
    uint8_t slow;
  };
  enum Flag : uint16_t {
    F_AUTO_PONG = 1 << 0,
    F_AUTO_CLOSE = 1 << 1,
    F_STREAMING = 1 << 2,
    F_HANDSHAKE = 1 << 3,
    F_AUTO_ACCEPT = 1 << 4,
    F_REQUIRE_ORIGIN = 1 << 5,
    F_VALIDATE_UTF8 = 1 << 6,
    F_STARTED = 1 << 7,         // options are frozen
    F_EOF = 1 << 8,             // input ended; reported once held input is parsed
    F_RELEASE_OUT = 1 << 9,     // give the output memory back once drained (handshake head)
    F_INPUT_SEEN = 1 << 10,     // input since the last tick
    F_FRAG_OUT = 1 << 11,       // a fragmented message is being sent
    F_FRAG_TEXT = 1 << 12,      // ... and it is text
    F_RELEASE_IN = 1 << 13,     // give the receive areas back once drained (after the handshake)
    F_ACCEPTED_DUE = 1 << 14,   // an ACCEPTED event without data is due, held as this bit (see queue_accepted)
    F_REPLY_HERE = 1 << 15,     // the output is the plain 101, kept in the handle (see HereReply)
  };

  // The plain 101 (no subprotocol, no extra header) is kept in the handle, so that the
  // usual handshake allocates nothing beyond it, and the idle handle stays small: while
  // F_REPLY_HERE is set, out_, arena_, spare_ and ctl_ (contiguous, see keep_reply) hold no
  // memory and are not alive, and this record lives in their storage. Nothing has been
  // received then (no frame state is set), so only code that stores output or received
  // bytes needs those buffers back: it calls settle_reply() first (write_frame, process
  // before frames), and reset_areas, release_idle and next_events leave them alone.
  struct HereReply {
    uint8_t bytes[WS_PLAIN_ACCEPT_SIZE];
    uint8_t sent;  // bytes consumed from the front
    size_t pending() const { return WS_PLAIN_ACCEPT_SIZE - sent; }
  };

  WsSession(const Allocator &alloc, pushwire_ws_role role);
  ~WsSession();

  bool is_client() const { return role_ == PUSHWIRE_WS_CLIENT; }
  // Frames from a client are masked, from a server not (the decoder enforces it), so the
  // role says it: no per-frame copy of the header's bit (which, stored beside the FIN bit,
  // also stalled store forwarding on every frame).
  bool masked_by_peer() const { return !is_client(); }
  bool has(uint16_t f) const { return (flags_ & f) != 0; }
  // A message of `size` bytes is stored with mask_copy_far: a buffered one so large that
  // little of it is still cached when the application reads it. Streamed data is handed
  // out, and read, at once, so it stays on mask_copy. One test for both places that copy
  // a message's data (a whole frame, and data arriving in pieces), so they cannot differ.
  bool stored_far(uint64_t size) const { return size >= MASK_FAR_MIN && !has(F_STREAMING); }
  void set(uint16_t f, bool on) { flags_ = on ? uint16_t(flags_ | f) : uint16_t(flags_ & ~f); }
  int nomem() { return fatal_ = ERR_NOMEM; }

  // ws_session.cpp
  int ensure_handshake();
  void end_handshake_if_over();
  int check_send(WsAction a) const;
  bool out_fits(size_t n) const { return output_size() <= max_output_ && n <= max_output_ - output_size(); }
  bool keep_reply(span key);
  bool settle_reply();
  void revive_areas();
  // The storage of the four buffers, reached from the handle's own bytes (it spans them).
  void *areas_storage() const;
  HereReply *reply() { return std::launder(static_cast<HereReply *>(areas_storage())); }
  const HereReply *reply() const { return std::launder(static_cast<const HereReply *>(areas_storage())); }
  int write_frame(uint8_t opcode, bool fin, const uint8_t *data, size_t len);
  int write_close(uint16_t code, const uint8_t *reason, size_t reason_len);
  int write_accept(const HttpHead &head, span key, span subprotocol, span *chosen);
  void fail_handshake(int error, int status, const char *reason);
  span extra_headers() const;
  bool in_request_window() const;

  // ws_recv.cpp
  size_t process(const uint8_t *p, size_t n, uint8_t *mut);
  size_t recv_head(const uint8_t *p, size_t n);
  void on_request(const HttpHead &head);
  void on_response();
  void report_accepted(span chosen);
  bool queue_accepted();
  size_t recv_frames(const uint8_t *p, size_t n, uint8_t *mut);
  template <bool Masked, bool InPlace>
  const uint8_t *recv_small(const uint8_t *p, const uint8_t *end, uint8_t *mut_p);
  bool wait_for_drain(const WsFrameHeader &h, size_t avail) const;
  void begin_in_spare();
  bool begin_data(const WsFrameHeader &h);
  void whole_message(const uint8_t *p, const WsFrameHeader &h, uint8_t *mut);
  bool copy_data(const uint8_t *p, size_t k);
  void end_message();
  void on_control(uint8_t opcode, Where where, uintptr_t at, const uint8_t *data, size_t len);
  void flush_stream(bool fin);
  bool check_text();
  void fail_text(size_t bad_end);
  void fail(int error, uint16_t code, const char *reason);
  void on_eof();
  void resume();
  void reset_areas();
  uintptr_t area_base(uint8_t where) const;
  static void fill_event(const Queued &q, uintptr_t base, pushwire_ws_event *ev);
  void release_idle();
  bool push(uint8_t type, uint8_t flags, Where where, uintptr_t at, size_t len, uint16_t code = 0);
  Queued *last_queued() { return reinterpret_cast<Queued *>(queue_.data() + queue_.size() - sizeof(Queued)); }
  bool queue_full() const { return queue_.size() >= WS_QUEUE_MAX * sizeof(Queued); }
  // No event waits: no record, and no ACCEPTED held as F_ACCEPTED_DUE (set only while
  // there is no record; it becomes one in push() before anything is queued behind it).
  bool queue_empty() const { return queue_.empty() && !has(F_ACCEPTED_DUE); }
  bool recv_open() const { return state_.recv() == WsSide::Open; }

  Allocator alloc_;
  Buffer out_;      // bytes to write
  Buffer arena_;    // message payloads: completed ones waiting as events, then the one being received
  Buffer spare_;    // the previous arena: free after a drain, or completed payloads (IN_SPARE)
  Buffer ctl_;      // control payloads, close reasons and the chosen subprotocol
  Buffer queue_;    // Queued records
  Buffer held_;     // input waiting for the queue to drain (or for the accept)
  WsHandshake *hs_ = nullptr;  // only during the opening handshake
  RandomSource random_;
  const char *reason_ = "";    // static text of the failure

  uint64_t max_message_ = WS_DEFAULT_MAX_MESSAGE;
  uint64_t max_frame_ = WS_DEFAULT_MAX_FRAME;
  size_t max_input_ = size_t(WS_DEFAULT_MAX_INPUT);
  size_t max_output_ = size_t(WS_DEFAULT_MAX_OUTPUT);
  uint64_t ping_interval_ = 0;
  uint64_t pong_timeout_ = 0;
  uint64_t ka_last_ = 0;              // last activity (tick time), valid once ka_init_
  uint64_t ka_ping_at_ = UINT64_MAX;  // when the outstanding keepalive ping went out
  uint32_t max_fragments_ = WS_DEFAULT_MAX_FRAGMENTS;
  uint32_t max_head_;
  uint32_t max_headers_;
  Utf8State utf8_out_;        // sent fragmented text message (beside the 32-bit fields: no padding)

  // The frame being received.
  uint64_t frame_left_ = 0;   // payload bytes still to come
  size_t msg_start_ = 0;      // arena offset of the message's undelivered bytes
  size_t ctl_start_ = 0;      // ctl_ offset of the control frame being received
  uint64_t msg_size_ = 0;     // bytes of the message so far (buffered mode)
  uint32_t msg_frames_ = 0;
  Utf8State utf8_;            // received text message
  uint8_t hdr_[WS_MAX_HEADER];  // a header cut off at the end of a feed
  uint8_t hdr_have_ = 0;
  uint8_t key_[4] = {0, 0, 0, 0};
  uint8_t phase_ = 0;
  uint8_t frame_op_ = 0;
  uint8_t msg_op_ = 0;        // TEXT or BINARY while a message is being received, else 0
  bool in_frame_ = false;     // header done, payload still to come
  bool frame_fin_ = false;
  bool msg_first_ = false;    // streaming: no chunk of this message handed out yet

  WsState state_;
  pushwire_ws_role role_;
  uint16_t flags_;
  uint16_t hint_ = 0;         // close code or HTTP status after a failure
  int err_ = 0;               // sticky receive error
  int fatal_ = 0;             // ERR_NOMEM once an allocation failed: only free is left
  bool ka_init_ = false;
  WsRandomPool pool_;
  uint16_t utf8_todo_ = 0;    // bytes of text at the end of the arena not yet validated (in the padding)
};

}  // namespace pushwire
