// Messages at and past MASK_FAR_MIN, stored with streaming stores (mask_copy_far): through
// the C ABI, in every way their bytes can arrive, each delivered message must equal the
// payload unmasked by a plain byte loop.
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"
#include "mask.hpp"
#include "ws_test_util.hpp"

using namespace wstest;
using pushwire::MASK_FAR_MIN;

namespace {

const char kFarKey[] = "\xd3\x5e\x80\x17";

// One frame of payload[from, from + n), masked with kFarKey (client to server) or plain
// (server to client).
void append_frame(std::vector<uint8_t> &w, uint8_t b0, const std::vector<uint8_t> &payload, size_t from, size_t n,
                  bool masked) {
  const std::string part(payload.begin() + long(from), payload.begin() + long(from + n));
  const std::string f = masked ? masked_frame(b0, part, kFarKey) : frame(b0, part);
  w.insert(w.end(), f.begin(), f.end());
}

struct Replay {
  bool client = false, inplace = false, streaming = false;
  size_t first = 0;  // the first read's size; then reads of `rest` bytes
  size_t rest = 65536;
  size_t pings = 0;  // ping frames on the wire: their events are counted, not compared
};

// Feeds `wire` as `r` says, draining after every read: true when the data messages'
// bytes (streamed chunks joined) are `want`, in messages of `sizes` bytes (one message of
// all of it when `sizes` is empty), each in one event unless streamed, and r.pings pings
// came in between.
bool replay(const std::vector<uint8_t> &wire, const Replay &r, const std::vector<uint8_t> &want,
            std::vector<size_t> sizes = {}) {
  if (sizes.empty()) sizes.push_back(want.size());
  Conn c(r.client ? PUSHWIRE_WS_CLIENT : PUSHWIRE_WS_SERVER);
  CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
  CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE, 32u << 20), 0);
  CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, 32u << 20), 0);
  if (r.streaming) CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_STREAMING, 1), 0);
  std::vector<uint8_t> copy;
  if (r.inplace) copy = wire;
  size_t got = 0, pings = 0, message = 0;
  std::vector<size_t> ended;
  bool ok = true;
  for (size_t at = 0; at < wire.size();) {
    size_t n = at == 0 && r.first ? r.first : r.rest;
    if (n > wire.size() - at) n = wire.size() - at;
    const int rc = r.inplace ? pushwire_ws_feed_mutable(c.ws, copy.data() + at, n) : pushwire_ws_feed(c.ws, wire.data() + at, n);
    CHECK_EQ(rc, 0);
    at += n;
    pushwire_ws_event ev;
    while (pushwire_ws_next_event(c.ws, &ev) == 1) {
      if (ev.type == PUSHWIRE_WS_EV_PING) {
        ++pings;
        continue;
      }
      const unsigned whole = PUSHWIRE_WS_EVF_FIRST | PUSHWIRE_WS_EVF_FIN;
      ok = ok && ev.type == PUSHWIRE_WS_EV_BINARY && (r.streaming || (ev.flags & whole) == whole) &&
           ev.data.len <= want.size() - got &&
           (ev.data.len == 0 || std::memcmp(ev.data.ptr, want.data() + got, ev.data.len) == 0);
      got += ev.data.len;
      message += ev.data.len;
      if (ev.flags & PUSHWIRE_WS_EVF_FIN) {
        ended.push_back(message);
        message = 0;
      }
    }
  }
  return ok && got == want.size() && pings == r.pings && ended == sizes;
}

}  // namespace

TEST(ws_far_message_every_arena_alignment) {
  // One binary message just past MASK_FAR_MIN. The first read ends k payload bytes in, for
  // every k in 0..64 (each later step starts at another offset mod 64 in the arena, so the
  // streaming loop's head takes every length), then 64 KiB reads; copying and in place.
  const size_t len = size_t(MASK_FAR_MIN) + 77;
  const std::vector<uint8_t> payload = wstest::random_bytes(len, 1);
  std::vector<uint8_t> wire;
  append_frame(wire, 0x82, payload, 0, len, true);
  size_t bad = 0;
  for (int inplace = 0; inplace < 2; ++inplace)
    for (size_t k = 0; k <= 64; k += inplace ? 5 : 1) {
      Replay r;
      r.inplace = inplace;
      r.first = 14 + k;
      if (!replay(wire, r, payload)) ++bad;
    }
  CHECK_EQ(bad, 0);
}

TEST(ws_far_message_sizes_reads_and_roles) {
  // Below, at and past the threshold; split inside the header, at 64 KiB seams and not;
  // reads of 64 KiB and the whole frame in one read (the whole-message
  // path); server copying and in place, streaming, and a client (unmasked frames).
  size_t bad = 0, runs = 0;
  for (size_t len : {size_t(MASK_FAR_MIN) - 1, size_t(MASK_FAR_MIN), size_t(MASK_FAR_MIN) + 4097}) {
    const std::vector<uint8_t> payload = wstest::random_bytes(len, uint32_t(len));
    std::vector<uint8_t> masked, plain;
    append_frame(masked, 0x82, payload, 0, len, true);
    append_frame(plain, 0x82, payload, 0, len, false);
    for (int mode = 0; mode < 4; ++mode)
      for (size_t first : {size_t(0), size_t(3), size_t(65537)})
        for (size_t rest : {size_t(65536), masked.size()}) {
          Replay r;
          r.inplace = mode == 1;
          r.streaming = mode == 2;
          r.client = mode == 3;
          r.first = first;
          r.rest = rest;
          ++runs;
          if (!replay(r.client ? plain : masked, r, payload)) ++bad;
        }
  }
  CHECK_EQ(runs, 3u * 4 * 3 * 2);
  CHECK_EQ(bad, 0);
}

TEST(ws_far_message_fragments_cross_the_threshold) {
  // Three fragments of a little over MASK_FAR_MIN / 2: the first is stored below the
  // threshold, the second crosses it (the message's declared size passes it with that
  // frame's header), the third is past it; a ping between fragments; then a short message.
  const size_t part = size_t(MASK_FAR_MIN) / 2 + 13, len = 3 * part;
  const std::vector<uint8_t> payload = wstest::random_bytes(len + 100, 5);
  std::vector<uint8_t> wire;
  append_frame(wire, 0x02, payload, 0, part, true);
  const std::string ping = masked_frame(0x89, "hi");
  wire.insert(wire.end(), ping.begin(), ping.end());
  append_frame(wire, 0x00, payload, part, part, true);
  append_frame(wire, 0x80, payload, 2 * part, part, true);
  const std::string tail = masked_frame(0x82, std::string(payload.begin() + long(len), payload.end()));
  wire.insert(wire.end(), tail.begin(), tail.end());
  size_t bad = 0;
  for (int inplace = 0; inplace < 2; ++inplace)
    for (size_t first : {size_t(14), size_t(14 + 63), size_t(65536)}) {
      Replay r;
      r.inplace = inplace;
      r.first = first;
      r.pings = 1;
      if (!replay(wire, r, payload, {len, 100})) ++bad;
    }
  CHECK_EQ(bad, 0);
}
