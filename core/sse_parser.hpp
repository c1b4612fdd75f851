// The client side of Server-Sent Events: a text/event-stream parser that does what a
// browser's EventSource does (WHATWG HTML, "Parsing an event stream" and "Interpreting an
// event stream"), byte for byte, for any chunking of the input.
//
// Decoding is the WHATWG Encoding "UTF-8 decode": one leading BOM is dropped, and every
// maximal invalid subpart becomes one U+FFFD (F0 9F 98 41 gives U+FFFD 'A'; ED A0 80 gives
// three; C0 80 two). Lines end in CR LF, LF or CR, also when the CR and the LF arrive in
// different feeds. A character cut by a line end is invalid there (U+FFFD), exactly as a
// browser sees it, since line ends are split from the decoded text.
//
// Buffers are the spec's: the data buffer, the event type buffer, the last event ID buffer,
// and beside them the last event ID *string* that a blank line copies the buffer into
// (dispatch step 1, even when nothing is dispatched). The string is what events carry and
// what a reconnect sends; an id inside an event cut off by the end of the stream never
// reaches it. Both persist across reset(), as Chromium keeps them across reconnects.
//
// Work is mostly lazy and linear: feed() copies (checking UTF-8 in the same pass); next() parses until one event is
// ready. The exception is the run of whole events a large feed carries after its first blank
// line, as servers write them (see queue_events): those are parsed while the feed's bytes
// are read, into queued records, so that their values are copied once. An
// unfinished line is decoded once into its own buffer, never rescanned; a line that arrives
// whole and valid is parsed in place, and its value stays there: data lines are joined in
// the input buffer itself (each value moved down behind the one before), the event type and
// ids are spans into it, and only when the input buffer is about to change (a feed, a reset)
// or the general path needs them are they copied into their own buffers. So the events of
// one batch (next_events) can all point into the input at once. Memory is bounded by the
// line, event and input limits. Events parsed at feed time are queued only from that feed's
// bytes: at most one record (an event and its end offset: 80 bytes on 64-bit targets, 52 on
// 32-bit ones) per record's size of fed bytes, and their values (no longer than the lines
// they came from), so the queue costs at most about twice the feed; its bytes count as
// unparsed input (MAX_INPUT_BUFFER, BUFFER_FULL) until their events are pulled, exactly as
// they would unparsed.
#pragma once

#include "buffer.hpp"
#include "sse_lines.hpp"

namespace pushwire {

constexpr size_t SSE_DEFAULT_MAX_LINE = size_t(64) << 10;
constexpr size_t SSE_DEFAULT_MAX_EVENT = size_t(1) << 20;
constexpr size_t SSE_DEFAULT_MAX_INPUT = size_t(4) << 20;
// Feed-time parsing (queue_events): feeds shorter than this are only copied; the first blank
// line is looked for this far; and a record is allowed per this many fed bytes (so records
// take no more memory than the feed: W9's events are about 150 bytes). Here, not in the .cpp,
// so that the tests' model of the walk uses the same rules.
constexpr size_t SSE_QUEUE_MIN_FEED = 512;
constexpr size_t SSE_QUEUE_SEARCH = 8192;
constexpr size_t SSE_QUEUE_BYTES_PER_RECORD = sizeof(pushwire_sse_event) + sizeof(size_t);

class SseParser {
 public:
  explicit SseParser(const Allocator *alloc);
  SseParser(const SseParser &) = delete;
  SseParser &operator=(const SseParser &) = delete;

  // Limits (bytes, at least 1) and options; only before the first feed after creation or reset.
  void set_max_line(size_t n) { max_line_ = n; }
  void set_max_event(size_t n) { max_event_ = n; }
  void set_max_input(size_t n) { max_input_ = n; }
  void set_report_comments(bool on) { report_comments_ = on; }
  // Off: every feed is only copied, and parsed lazily (tests compare the two ways).
  void set_feed_parsing(bool on) { feed_parsing_ = on; }
  // Off: feed-time parsing takes its 16-byte (or portable) path even where AVX2 exists (tests
  // hold each path against the lazy parser).
  void set_feed_avx2(bool on) { feed_avx2_ = on; }
  bool started() const { return started_; }
  // Events parsed at feed time (queue_events) and not yet handed out; public for the tests.
  // Right after a feed that found no records queued, what that feed's walk queued (a feed
  // made while records are queued is only held behind them).
  size_t queued_events() const { return q_count_ - q_pos_; }

  // Copy stream bytes. 0, ERR_BUFFER_FULL (unparsed bytes are held and these would pass the
  // input limit; a feed into an empty input buffer is always taken), ERR_INVALID_STATE
  // (after feed_eof), ERR_NOMEM, or the sticky error.
  int feed(const uint8_t *data, size_t len);
  // End of stream: the unfinished line and event are dropped once the input is parsed.
  void feed_eof() { eof_ = true; }
  // The next event: 1 (*ev filled; spans valid until the next non-const call), 0 (needs
  // input), or the sticky error: ERR_LINE_TOO_LONG, ERR_EVENT_TOO_BIG, ERR_NOMEM.
  int next(pushwire_sse_event *ev);
  // Up to cap (>= 1) events into evs, *n of them: 1 (*n >= 1; every span valid until the
  // next non-const call), or what next() returns when it has none. Events after the first
  // are those the in-place walk finds without writing what earlier ones point into; an
  // error after the first is sticky and reported by the next call.
  int next_events(pushwire_sse_event *evs, size_t cap, size_t *n);

  span last_event_id() const { return last_id_at_.ptr ? last_id_at_ : last_id_.view(); }
  bool has_retry() const { return has_retry_; }
  uint64_t retry_ms() const { return retry_ms_; }

  // A new stream (reconnect): drops input, the unfinished line and event, and the sticky
  // error; keeps the options, the last event ID and the retry delay. 0 or ERR_NOMEM.
  int reset();

 private:
  enum SseField { kSseData, kSseEvent, kSseId, kSseRetry, kSseComment, kSseOther };
  static constexpr int kSseStop = 2;  // next_in_place, pinned: stopped before a line

  struct Walk;
  int next_in_place(pushwire_sse_event *evs, size_t cap, size_t *n);
  size_t queue_events(const uint8_t *data, size_t len);
  int pull_queued(pushwire_sse_event *evs, size_t cap, size_t *n);
  bool queued() const { return queued_events() != 0; }
  int append_raw(Buffer &b, const uint8_t *data, size_t len);
  void walk_load(Walk &w) const;
  void walk_store(const Walk &w);
  int settle();
  void drop_event(bool keep_memory);
  span type_view() const { return type_at_.ptr ? type_at_ : type_.view(); }
  span id_view() const { return id_at_.ptr ? id_at_ : id_.view(); }
  // Sizes without a branch: a value held in in_ and its buffer are never both non-empty.
  size_t data_size() const { return size_t(data_end_ - data_at_) + data_.size(); }
  size_t type_size() const { return type_at_.len + type_.size(); }
  size_t id_size() const { return id_at_.len + id_.size(); }
  size_t valid_prefix();
  void append_in(const uint8_t *data, size_t len);
  void consume_in(size_t n);
  int decode(const uint8_t *p, size_t n);
  int finish_pending(const uint8_t *p, size_t n, size_t *used);
  int append_line(const void *p, size_t n);
  template <bool kInPlace>
  int process_line(const uint8_t *p, size_t n, size_t readable, pushwire_sse_event *ev, bool pinned);
  static SseField classify_line(span line, span *value);
  int field_data(span value, size_t readable, bool in_place);
  int field_event(span value, bool in_place);
  int field_id(span value, size_t readable, bool in_place);
  int keep_value(span &in_at, Buffer &copy, span value, bool in_place);
  int field_retry(span value, pushwire_sse_event *ev);
  int dispatch(pushwire_sse_event *ev);
  int fail(int code) { return error_ = code; }

  Buffer in_;       // fed, not yet parsed
  Buffer line_;     // decoded text of the line under way (or of the last line handed out)
  Buffer data_;     // data buffer
  Buffer type_;     // event type buffer
  Buffer id_;       // last event ID buffer
  Buffer last_id_;  // last event ID string
  // Events parsed at feed time (queue_events), delivered once in_ is used up: the records,
  // the values they point into, and the fed bytes behind them (parsed lazily after them).
  // While records are queued the order of the stream is in_, then the records, then tail_.
  Buffer q_recs_;
  Buffer q_store_;
  Buffer tail_;
  // The records are the events to hand out (see pull_queued); behind them in q_recs_, at
  // q_ends_at_, for each the bytes of the run up to its end.
  size_t q_pos_ = 0, q_count_ = 0, q_plain_ = 0;
  size_t q_ends_at_ = 0;
  size_t q_bytes_ = 0;  // fed bytes behind the records not yet pulled (they count as unparsed input)
  // The same values while they still lie in in_ where the walk found them (non-null):
  // data joined in place (data_ is then empty), the event type, the id buffer and string.
  // settle() moves them into the buffers above before in_ changes or the general path
  // writes those buffers.
  uint8_t *data_at_ = nullptr;
  uint8_t *data_end_ = nullptr;
  span type_at_{nullptr, 0};
  span id_at_{nullptr, 0};
  span last_id_at_{nullptr, 0};
  size_t max_line_ = SSE_DEFAULT_MAX_LINE;
  size_t max_event_ = SSE_DEFAULT_MAX_EVENT;
  size_t max_input_ = SSE_DEFAULT_MAX_INPUT;
  uint64_t retry_ms_ = 0;
  size_t valid_ = 0;         // bytes at the front of in_ known to be whole valid UTF-8 characters
  bool valid_stop_ = false;  // in_[valid_] starts an invalid subpart (else: not yet checked)
  int error_ = 0;
  uint8_t pending_[4];       // a character cut off at the end of the input so far
  uint8_t pending_len_ = 0;
  bool bom_checked_ = false;
  bool after_cr_ = false;    // the last line ended in CR: a LF next is part of that line end
  bool eof_ = false;
  bool started_ = false;
  bool report_comments_ = false;
  bool feed_parsing_ = true;
  bool feed_avx2_ = true;
  bool has_retry_ = false;
  bool id_changed_ = false;  // id_ differs from last_id_
  bool event_out_ = false;   // data_ and type_ back the event handed out last
  bool line_out_ = false;    // line_ backs the line handed out last
};

// The reconnect request's extra header lines (see pushwire_sse_parser_reconnect_headers).
// *written receives the size written, or the size needed with ERR_BUFFER_TOO_SMALL.
int sse_reconnect_headers(span last_event_id, uint8_t *out, size_t cap, size_t *written);

}  // namespace pushwire
