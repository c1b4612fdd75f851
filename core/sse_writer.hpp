// The server side of Server-Sent Events: event serialization, the response head, reading
// the request (Accept, Last-Event-ID), and a writer with an output queue and heartbeats.
//
// Encoding (exact bytes, LF line ends), in this order:
//   comment lines   ":" [" " line] LF        one per line of the comment
//   event           "event:" [" " value] LF
//   id              "id:" [" " value] LF
//   retry           "retry: " decimal LF
//   data lines      "data:" [" " line] LF    one per line of the data
//   blank line      LF                       when any field but the comment was given
// The space after the colon is written exactly when the value is non-empty: a parser
// strips one space, so a value that itself starts with a space survives, and an empty
// value leaves no trailing blank. Data and comments are split on CR LF, LF and CR, so
// data reaches a browser as the same string with every line break turned into LF; empty
// data is one `data:` line, which a browser still dispatches (with data "").
#pragma once

#include "buffer.hpp"
#include "http_head.hpp"

namespace pushwire {

// One event. A span with a NULL ptr is absent; a non-NULL ptr with len 0 is present and
// empty. retry < 0: no retry field.
struct SseFields {
  span event{nullptr, 0};
  span data{nullptr, 0};
  span id{nullptr, 0};
  span comment{nullptr, 0};
  int64_t retry = -1;
};

// 0, or ERR_INVALID_ARGUMENT: event or id holding CR or LF, id holding NUL, a NULL ptr
// with a non-zero len, or no field at all.
int sse_check_fields(const SseFields &f);
// The exact encoded size of checked fields; SIZE_MAX when it would not fit in a size_t.
size_t sse_encoded_size(const SseFields &f);
// More than sse_encoded_size(f), from the lengths alone (no scan for line breaks), with
// room for the wide stores of the one-pass encoder; SIZE_MAX when it would not fit.
size_t sse_encoded_bound(const SseFields &f);
// Writes the sse_encoded_size(f) bytes of checked fields to out and returns that count.
// out holds sse_encoded_size(f) bytes, or sse_encoded_bound(f) when `roomy`: the encoder
// may then store past the bytes it returns (which is what makes one pass fast).
size_t sse_encode(const SseFields &f, uint8_t *out, bool roomy = false);
// Checks and encodes f into out[0..cap) as pushwire_sse_encode does: 0 (*written: the bytes
// written), ERR_BUFFER_TOO_SMALL (*written: the bytes needed) or ERR_INVALID_ARGUMENT.
int sse_encode_into(const SseFields &f, uint8_t *out, size_t cap, size_t *written);

// The fields of a C caller's event, and whether its reserved words are zero.
inline SseFields sse_fields_from(const pushwire_sse_fields &in) {
  return SseFields{span{reinterpret_cast<const uint8_t *>(in.event), in.event_len},
                   span{reinterpret_cast<const uint8_t *>(in.data), in.data_len},
                   span{reinterpret_cast<const uint8_t *>(in.id), in.id_len},
                   span{reinterpret_cast<const uint8_t *>(in.comment), in.comment_len}, in.retry_ms};
}
inline bool sse_reserved_clear(const pushwire_sse_fields &in) { return (in.reserved[0] | in.reserved[1]) == 0; }
// pushwire_sse_encode_many: sse_encode_into per event, in order, stopping at the first that
// fails (*encoded: its index; *written: the bytes of the events before it). avx2_ok false
// keeps to SSE2 (for tests of that path on an AVX2 machine).
int sse_encode_many(const pushwire_sse_fields *events, size_t count, uint8_t *out, size_t cap, size_t *written,
                    size_t *encoded, bool avx2_ok = true);

// Reads a complete request head: returns 1 when its Accept admits text/event-stream, 0
// when not, ERR_INVALID_STATE when the head is not complete. *last_event_id (may be NULL)
// receives the first Last-Event-ID value ({NULL, 0} when absent), a view into `req`.
// Accept rules (RFC 9110 §12.5.1): the most specific of the ranges text/event-stream,
// text/* and */* that the fields list decides, and admits when its q is above 0; media
// parameters other than q are ignored. No Accept field at all admits any type (Go's
// client sends none); an Accept listing none of the three does not.
int sse_check_request(const HttpHead &req, span *last_event_id);

constexpr size_t SSE_DEFAULT_MAX_OUTPUT = size_t(64) << 20;

class SseWriter {
 public:
  explicit SseWriter(const Allocator *alloc);
  SseWriter(const SseWriter &) = delete;
  SseWriter &operator=(const SseWriter &) = delete;

  void set_max_output(size_t n) { max_output_ = n; }
  void set_heartbeat_ms(uint64_t ms) { heartbeat_ms_ = ms; }

  // A caller header for the response head (validated by ws_add_extra_header; the names the
  // head writes itself and Content-Length are refused). 0, ERR_INVALID_ARGUMENT,
  // ERR_INVALID_STATE (the head is already queued), ERR_NOMEM.
  int add_header(span name, span value);
  // Queue the response head; only as the first output. 0, ERR_INVALID_STATE, ERR_BUFFER_FULL, ERR_NOMEM.
  int response_head();
  // Queue one event / a comment. 0, ERR_INVALID_ARGUMENT, ERR_BUFFER_FULL, ERR_NOMEM.
  int event(const SseFields &f);
  int comment(span text);

  span output() const { return out_.view(); }
  size_t output_size() const { return out_.size(); }
  // 0, or ERR_INVALID_ARGUMENT when n is more than is queued.
  int consume(size_t n);

  // Heartbeat clock: see pushwire_sse_writer_tick. 1 (queued), 0, or an error of comment().
  int tick(uint64_t now_ms, uint64_t *next_ms);

 private:
  Buffer out_;
  Buffer headers_;  // rendered "Name: value\r\n" lines
  size_t max_output_ = SSE_DEFAULT_MAX_OUTPUT;
  uint64_t heartbeat_ms_ = 0;
  uint64_t last_activity_ms_ = 0;
  bool clock_started_ = false;  // a tick has set last_activity_ms_
  bool active_ = false;         // output queued since the last tick
  bool head_queued_ = false;
  bool output_started_ = false;
};

}  // namespace pushwire
