// pushwire runners, through the public C ABI only:
//   pushwire          W1-W6 pushwire_ws_feed (copying) and pushwire_ws_next_events, W7 one
//                     AUTO_ACCEPT server handle per request, W8 one pushwire_sse_encode_many into
//                     the output buffer, W9 pushwire_sse_parser
//   pushwire-inplace  W1-W5, W3b pushwire_ws_feed_mutable on a fresh (untimed) copy of the input,
//                     pushwire_ws_next_events
//   pushwire-each     W1-W6 as pushwire, but pushwire_ws_next_event per event; W8
//                     pushwire_sse_encode per event into the output buffer
//   pushwire-writer   W8 through pushwire_sse_writer (queue, then drain 64 KiB at a time)
#include <cstring>

#include "bench.hpp"

namespace bench {
namespace {

std::string pw_error(const char *what, int rc) {
  return std::string(what) + ": " + pushwire_error_name(rc) + " (" + pushwire_strerror(rc) + ")";
}

// One event into the pass's counts; false (r.error set) on a CLOSE, which none of the
// workloads holds.
inline bool pw_count_event(pushwire_ws *ws, const pushwire_ws_event &ev, PassResult &r) {
  switch (ev.type) {
    case PUSHWIRE_WS_EV_TEXT:
    case PUSHWIRE_WS_EV_BINARY:
      r.checksum += msg_checksum(ev.data.ptr, ev.data.len);
      r.units++;
      break;
    case PUSHWIRE_WS_EV_PING:
      r.pings++;
      break;
    case PUSHWIRE_WS_EV_CLOSE:
      r.error = "CLOSE event, code " + std::to_string(ev.code) + ": " + pushwire_ws_error_reason(ws);
      return false;
    default:
      break;
  }
  return true;
}

// The automatic pongs, counted as if written to the socket.
void pw_drain_output(pushwire_ws *ws, PassResult &r) {
  pushwire_span out;
  size_t n;
  while ((n = pushwire_ws_peek_output(ws, &out)) > 0) {
    r.pong_bytes += n;
    pushwire_ws_consume_output(ws, n);
  }
}

// Events a batch at a time (each handed out with its spans, as next_event would): fewer
// calls across the ABI, the same work per event.
bool pw_drain_ws_batch(pushwire_ws *ws, PassResult &r) {
  pushwire_ws_event evs[64];
  size_t n = 0;
  int rc;
  while ((rc = pushwire_ws_next_events(ws, evs, 64, &n)) == 1) {
    // The messages' sums in locals: stores through r would be reloaded every event.
    uint64_t sum = 0, units = 0;
    for (size_t i = 0; i < n; ++i) {
      const pushwire_ws_event &ev = evs[i];
      if (ev.type == PUSHWIRE_WS_EV_TEXT || ev.type == PUSHWIRE_WS_EV_BINARY) {
        sum += msg_checksum(ev.data.ptr, ev.data.len);
        units++;
      } else if (!pw_count_event(ws, ev, r)) {
        return false;
      }
    }
    r.checksum += sum;
    r.units += units;
  }
  if (rc < 0) {
    r.error = pw_error("pushwire_ws_next_events", rc);
    return false;
  }
  pw_drain_output(ws, r);
  return true;
}

}  // namespace

bool pw_drain_ws(pushwire_ws *ws, PassResult &r) {
  pushwire_ws_event ev;
  int rc;
  while ((rc = pushwire_ws_next_event(ws, &ev)) == 1) {
    if (!pw_count_event(ws, ev, r)) return false;
  }
  if (rc < 0) {
    r.error = pw_error("pushwire_ws_next_event", rc);
    return false;
  }
  pw_drain_output(ws, r);
  return true;
}

// Limits that admit W3b (16 MiB in one frame) with room to spare; the same for every peer.
pushwire_ws *pw_open_ws(const pushwire_allocator *alloc, bool streaming, uint64_t max_fragments, std::string &why) {
  pushwire_ws *ws = nullptr;
  int rc = pushwire_ws_new(&ws, PUSHWIRE_WS_SERVER, alloc);
  if (rc != 0) {
    why = pw_error("pushwire_ws_new", rc);
    return nullptr;
  }
  rc = pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE, 32u << 20);
  if (rc == 0) rc = pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, 32u << 20);
  if (rc == 0 && max_fragments) rc = pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_MAX_FRAGMENTS, max_fragments);
  if (rc == 0 && streaming) rc = pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_STREAMING, 1);
  if (rc == 0) rc = pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1);
  if (rc != 0) {
    why = pw_error("pushwire_ws_set_option", rc);
    pushwire_ws_free(ws);
    return nullptr;
  }
  rc = pushwire_ws_feed(ws, reinterpret_cast<const uint8_t *>(kSampleRequest), sizeof kSampleRequest - 1);
  pushwire_ws_event ev;
  if (rc == 0) rc = pushwire_ws_next_event(ws, &ev);
  if (rc != 1 || ev.type != PUSHWIRE_WS_EV_ACCEPTED) {
    why = rc < 0 ? pw_error("sample handshake", rc) : "sample handshake: no ACCEPTED event";
    pushwire_ws_free(ws);
    return nullptr;
  }
  pushwire_span out;
  size_t n = pushwire_ws_peek_output(ws, &out);
  uint64_t sum = 0;
  if (!accept_checksum(out.ptr, n, sum, why) ||
      std::string(reinterpret_cast<const char *>(out.ptr), n).find(kSampleAccept) == std::string::npos) {
    if (why.empty()) why = "sample handshake: wrong Sec-WebSocket-Accept";
    pushwire_ws_free(ws);
    return nullptr;
  }
  pushwire_ws_consume_output(ws, n);
  return ws;
}

namespace {

// W1-W6: `pushwire` feeds a copy and pulls events in batches, `pushwire-inplace` lends the
// input (feed_mutable) and pulls in batches, `pushwire-each` feeds a copy and pulls one
// event per call.
enum class WsApi { kBatch, kInPlace, kEach };

class PushwireWs : public Runner {
 public:
  explicit PushwireWs(WsApi api) : api_(api) {}
  const char *name() const override {
    return api_ == WsApi::kBatch ? "pushwire" : api_ == WsApi::kInPlace ? "pushwire-inplace" : "pushwire-each";
  }
  bool supports(const Workload &w) const override {
    // In place only matters where payloads are large enough to be copied at all.
    return w.is_ws() && (api_ != WsApi::kInPlace || w.id != "W6");
  }
  void prepare(const Workload &w) override {
    if (api_ == WsApi::kInPlace) copy_.resize(w.data.size());
  }
  void before_pass(const Workload &w) override {
    if (api_ == WsApi::kInPlace) std::memcpy(copy_.data(), w.data.data(), w.data.size());
  }
  void release(const Workload &) override { std::vector<uint8_t>().swap(copy_); }

  void pass(const Workload &w, PassResult &r) override {
    pushwire_ws *ws = pw_open_ws(nullptr, false, 0, r.error);
    if (!ws) return;
    const size_t total = w.data.size();
    for (size_t off = 0; off < total; off += chunk) {
      size_t len = total - off < chunk ? total - off : chunk;
      int rc = feed(ws, off, len, w);
      if (rc == PUSHWIRE_ERR_BUFFER_FULL) {  // cannot happen while we drain after each feed
        if (!drain(ws, r)) break;
        rc = feed(ws, off, len, w);
      }
      if (rc != 0) {
        r.error = pw_error(api_ == WsApi::kInPlace ? "pushwire_ws_feed_mutable" : "pushwire_ws_feed", rc);
        break;
      }
      if (!drain(ws, r)) break;
    }
    pushwire_ws_free(ws);
  }

  std::string extras(const Workload &) const override {
    return std::string(",\"utf8_validated\":true,\"chunk\":65536,\"handshake\":\"rfc6455-sample\",\"api\":\"") +
           (api_ == WsApi::kBatch     ? "pushwire_ws_feed+next_events"
            : api_ == WsApi::kInPlace ? "pushwire_ws_feed_mutable+next_events"
                                      : "pushwire_ws_feed+next_event") +
           "\"";
  }

 private:
  int feed(pushwire_ws *ws, size_t off, size_t len, const Workload &w) {
    if (api_ == WsApi::kInPlace) return pushwire_ws_feed_mutable(ws, copy_.data() + off, len);
    return pushwire_ws_feed(ws, w.data.data() + off, len);
  }
  bool drain(pushwire_ws *ws, PassResult &r) { return api_ == WsApi::kEach ? pw_drain_ws(ws, r) : pw_drain_ws_batch(ws, r); }
  WsApi api_;
  std::vector<uint8_t> copy_;
};

// W7: per request, a fresh server handle with AUTO_ACCEPT; the 101 is copied out the way
// it would be written to the socket, and checked after the timed region.
class PushwireHandshake : public Runner {
 public:
  const char *name() const override { return "pushwire"; }
  bool supports(const Workload &w) const override { return w.id == "W7"; }
  void prepare(const Workload &w) override {
    reqs_.clear();
    const uint8_t *p = w.data.data();
    size_t n = w.data.size(), start = 0;
    for (size_t i = 3; i < n; i++) {
      if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r') {
        reqs_.push_back({start, i + 1 - start});
        start = i + 1;
      }
    }
    arena_.assign(reqs_.size() * 256, 0);
    resp_.assign(reqs_.size(), {0, 0});
  }
  void release(const Workload &) override {
    std::vector<uint8_t>().swap(arena_);
    reqs_.clear();
    resp_.clear();
  }

  void pass(const Workload &w, PassResult &r) override {
    size_t pos = 0;
    for (size_t i = 0; i < reqs_.size(); i++) {
      pushwire_ws *ws = nullptr;
      int rc = pushwire_ws_new(&ws, PUSHWIRE_WS_SERVER, nullptr);
      if (rc != 0) {
        r.error = pw_error("pushwire_ws_new", rc);
        return;
      }
      rc = pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_AUTO_ACCEPT, 1);
      if (rc == 0) rc = pushwire_ws_feed(ws, w.data.data() + reqs_[i].first, reqs_[i].second);
      pushwire_ws_event ev;
      if (rc == 0) rc = pushwire_ws_next_event(ws, &ev);
      if (rc != 1 || ev.type != PUSHWIRE_WS_EV_ACCEPTED) {
        r.error = "request " + std::to_string(i) + ": " +
                  (rc < 0 ? pw_error("handshake", rc) : std::string("no ACCEPTED event"));
        pushwire_ws_free(ws);
        return;
      }
      pushwire_span out;
      size_t n = pushwire_ws_peek_output(ws, &out);
      if (pos + n > arena_.size()) arena_.resize(2 * (pos + n));
      std::memcpy(arena_.data() + pos, out.ptr, n);
      resp_[i] = {pos, n};
      pos += n;
      pushwire_ws_consume_output(ws, n);
      pushwire_ws_free(ws);
      r.units++;
    }
  }

  void after_pass(const Workload &, PassResult &r) override {
    if (!r.error.empty()) return;
    for (size_t i = 0; i < resp_.size(); i++) {
      std::string why;
      if (!accept_checksum(arena_.data() + resp_[i].first, resp_[i].second, r.checksum, why)) {
        r.error = "response " + std::to_string(i) + ": " + why;
        return;
      }
    }
  }
  std::string extras(const Workload &) const override {
    return ",\"api\":\"pushwire_ws_new+AUTO_ACCEPT+feed+next_event+peek_output+free per request\"";
  }

 private:
  std::vector<std::pair<size_t, size_t>> reqs_;
  std::vector<std::pair<size_t, size_t>> resp_;
  std::vector<uint8_t> arena_;
};

// W8 input records (name 0x1F id 0x1F data 0x1E) as encoder fields; parsed untimed.
std::vector<pushwire_sse_fields> parse_w8(const Workload &w) {
  std::vector<pushwire_sse_fields> out;
  out.reserve(w.units);
  const char *p = reinterpret_cast<const char *>(w.data.data());
  const char *end = p + w.data.size();
  while (p < end) {
    const char *a = static_cast<const char *>(std::memchr(p, 0x1f, size_t(end - p)));
    const char *b = a ? static_cast<const char *>(std::memchr(a + 1, 0x1f, size_t(end - a - 1))) : nullptr;
    const char *c = b ? static_cast<const char *>(std::memchr(b + 1, 0x1e, size_t(end - b - 1))) : nullptr;
    if (!c) break;
    pushwire_sse_fields f;
    std::memset(&f, 0, sizeof f);
    f.event = p;
    f.event_len = size_t(a - p);
    f.id = a + 1;
    f.id_len = size_t(b - a - 1);
    f.data = b + 1;
    f.data_len = size_t(c - b - 1);
    f.retry_ms = -1;
    out.push_back(f);
    p = c + 1;
  }
  return out;
}

// W8 three ways: `pushwire` hands all events to one pushwire_sse_encode_many call (what a
// server sending a batch does), `pushwire-each` calls pushwire_sse_encode per event, and
// `pushwire-writer` queues them in a pushwire_sse_writer.
enum class SseEncodeApi { kMany, kEach, kWriter };

class PushwireSseEncode : public Runner {
 public:
  explicit PushwireSseEncode(SseEncodeApi api) : api_(api) {}
  const char *name() const override {
    return api_ == SseEncodeApi::kMany ? "pushwire" : api_ == SseEncodeApi::kEach ? "pushwire-each" : "pushwire-writer";
  }
  bool supports(const Workload &w) const override { return w.id == "W8"; }
  void prepare(const Workload &w) override {
    events_ = parse_w8(w);
    out_.assign(w.output_bytes + 4096, 0);  // pre-touched, like the memcpy reference
  }
  void release(const Workload &) override {
    std::vector<uint8_t>().swap(out_);
    events_.clear();
  }

  void pass(const Workload &, PassResult &r) override {
    pos_ = 0;
    if (api_ == SseEncodeApi::kWriter) {
      pass_writer(r);
      return;
    }
    if (api_ == SseEncodeApi::kMany) {
      size_t encoded = 0;
      int rc = pushwire_sse_encode_many(events_.data(), events_.size(), out_.data(), out_.size(), &pos_, &encoded);
      r.units += encoded;
      if (rc != 0) r.error = pw_error("pushwire_sse_encode_many", rc);
      return;
    }
    for (const pushwire_sse_fields &f : events_) {
      size_t written = 0;
      int rc = pushwire_sse_encode(&f, out_.data() + pos_, out_.size() - pos_, &written);
      if (rc != 0) {
        r.error = pw_error("pushwire_sse_encode", rc);
        return;
      }
      pos_ += written;
      r.units++;
    }
  }

  void after_pass(const Workload &w, PassResult &r) override {
    r.checksum = pos_;
    if (r.error.empty() && (pos_ != w.expected.size() || std::memcmp(out_.data(), w.expected.data(), pos_) != 0))
      r.error = "output differs from w9.sse";
  }
  std::string extras(const Workload &w) const override {
    return ",\"input_bytes\":" + std::to_string(w.wire_bytes) + ",\"api\":\"" +
           (api_ == SseEncodeApi::kMany   ? "pushwire_sse_encode_many of all events into one buffer"
            : api_ == SseEncodeApi::kEach ? "pushwire_sse_encode per event into one buffer"
                                          : "pushwire_sse_writer_event, drained every 64 KiB") +
           "\"";
  }

 private:
  void drain(pushwire_sse_writer *sw, bool keep) {
    pushwire_span out;
    size_t n;
    while ((n = pushwire_sse_writer_peek_output(sw, &out)) > 0) {
      if (keep) {
        std::memcpy(out_.data() + pos_, out.ptr, n);
        pos_ += n;
      }
      pushwire_sse_writer_consume_output(sw, n);
    }
  }
  void pass_writer(PassResult &r) {
    pushwire_sse_writer *sw = nullptr;
    int rc = pushwire_sse_writer_new(&sw, nullptr);
    if (rc != 0) {
      r.error = pw_error("pushwire_sse_writer_new", rc);
      return;
    }
    rc = pushwire_sse_writer_response_head(sw);
    if (rc != 0) r.error = pw_error("pushwire_sse_writer_response_head", rc);
    drain(sw, false);  // the HTTP head is not part of the event stream
    for (size_t i = 0; rc == 0 && i < events_.size(); i++) {
      rc = pushwire_sse_writer_event(sw, &events_[i]);
      if (rc != 0) {
        r.error = pw_error("pushwire_sse_writer_event", rc);
        break;
      }
      r.units++;
      if (pushwire_sse_writer_output_size(sw) >= kChunk) {
        if (pos_ + pushwire_sse_writer_output_size(sw) > out_.size()) {
          r.error = "writer produced more than w9.sse";
          break;
        }
        drain(sw, true);
      }
    }
    if (pos_ + pushwire_sse_writer_output_size(sw) > out_.size())
      r.error = "writer produced more than w9.sse";
    else
      drain(sw, true);
    pushwire_sse_writer_free(sw);
  }

  SseEncodeApi api_;
  std::vector<pushwire_sse_fields> events_;
  std::vector<uint8_t> out_;
  size_t pos_ = 0;
};

class PushwireSseParse : public Runner {
 public:
  const char *name() const override { return "pushwire"; }
  bool supports(const Workload &w) const override { return w.id == "W9"; }

  void pass(const Workload &w, PassResult &r) override {
    pushwire_sse_parser *p = nullptr;
    int rc = pushwire_sse_parser_new(&p, nullptr);
    if (rc != 0) {
      r.error = pw_error("pushwire_sse_parser_new", rc);
      return;
    }
    const size_t total = w.data.size();
    for (size_t off = 0; off < total && r.error.empty(); off += chunk) {
      size_t len = total - off < chunk ? total - off : chunk;
      rc = pushwire_sse_parser_feed(p, w.data.data() + off, len);
      if (rc == PUSHWIRE_ERR_BUFFER_FULL && drain(p, r)) rc = pushwire_sse_parser_feed(p, w.data.data() + off, len);
      if (rc != 0) {
        r.error = pw_error("pushwire_sse_parser_feed", rc);
        break;
      }
      drain(p, r);
    }
    if (r.error.empty() && pushwire_sse_parser_feed_eof(p) == 0) drain(p, r);
    pushwire_sse_parser_free(p);
  }
  std::string extras(const Workload &) const override {
    return ",\"utf8_decoded\":true,\"chunk\":65536,\"api\":\"pushwire_sse_parser_feed+next_events\"";
  }

 private:
  // Events are pulled a batch at a time (each one fully parsed and handed out with its spans,
  // as next_event would): fewer calls across the ABI, the same work per event.
  static bool drain(pushwire_sse_parser *p, PassResult &r) {
    pushwire_sse_event evs[64];
    size_t n = 0;
    int rc;
    while ((rc = pushwire_sse_parser_next_events(p, evs, 64, &n)) == 1) {
      for (size_t i = 0; i < n; ++i) {
        const pushwire_sse_event &ev = evs[i];
        if (ev.type != PUSHWIRE_SSE_EV_EVENT) continue;
        uint64_t c = ev.data.len + ev.event_type.len + ev.last_event_id.len;
        if (ev.data.len) c += ev.data.ptr[0] + 7u * ev.data.ptr[ev.data.len - 1];
        r.checksum += c;
        r.units++;
      }
    }
    if (rc < 0) {
      r.error = pw_error("pushwire_sse_parser_next_events", rc);
      return false;
    }
    return true;
  }
};

}  // namespace

void add_pushwire_runners(std::vector<std::unique_ptr<Runner>> &out) {
  out.emplace_back(new PushwireWs(WsApi::kBatch));
  out.emplace_back(new PushwireHandshake());
  out.emplace_back(new PushwireSseEncode(SseEncodeApi::kMany));
  out.emplace_back(new PushwireSseParse());
  out.emplace_back(new PushwireWs(WsApi::kInPlace));
  out.emplace_back(new PushwireWs(WsApi::kEach));
  out.emplace_back(new PushwireSseEncode(SseEncodeApi::kEach));
  out.emplace_back(new PushwireSseEncode(SseEncodeApi::kWriter));
}

}  // namespace bench
