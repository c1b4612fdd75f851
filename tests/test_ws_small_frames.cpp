// The receive path's run of whole small messages (7-bit lengths, unmasked and checked
// inline): every length 0..125 at every key position, both roles, copying and in place,
// invalid UTF-8 at every position, and the frames that must leave the run.
#include <algorithm>
#include <string>
#include <vector>

#include "harness.hpp"
#include "mask.hpp"
#include "reference.hpp"
#include "ws_test_util.hpp"

using namespace wstest;

namespace {

// A handle of either role past the handshake.
struct Open : Conn {
  explicit Open(pushwire_ws_role role, bool streaming = false) : Conn(role) {
    CHECK_EQ(opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
    if (streaming) CHECK_EQ(opt(PUSHWIRE_WS_OPT_STREAMING, 1), 0);
  }
};

struct Got {
  unsigned type, flags, code;
  std::string data;
};

// Feeds `wire` once (copying, or in place on a copy) and pulls every event.
std::vector<Got> run(pushwire_ws_role role, const std::string &wire, bool in_place, bool streaming = false,
                     int *last = nullptr) {
  Open c(role, streaming);
  std::vector<uint8_t> buf(wire.begin(), wire.end());
  const int rc = in_place ? pushwire_ws_feed_mutable(c.ws, buf.data(), buf.size()) : c.feed(wire);
  CHECK_EQ(rc, 0);
  std::vector<Got> v;
  pushwire_ws_event ev;
  int r;
  while ((r = pushwire_ws_next_event(c.ws, &ev)) == 1)
    v.push_back(Got{ev.type, ev.flags, ev.code, std::string(reinterpret_cast<const char *>(ev.data.ptr), ev.data.len)});
  if (last) *last = r;
  return v;
}

// A frame with a different key per call, so every frame of a run unmasks differently.
std::string key_for(size_t i) {
  std::string k(4, '\0');
  for (size_t j = 0; j < 4; ++j) k[j] = char((i * 67 + j * 29 + 0x5a) & 0xff);
  return k;
}

std::string data_frame(pushwire_ws_role role, uint8_t b0, const std::string &payload, size_t i) {
  if (role == PUSHWIRE_WS_CLIENT) return frame(b0, payload);
  const std::string k = key_for(i);
  return masked_frame(b0, payload, k.c_str());
}

// Valid text of exactly n bytes with multi-byte characters at shifting positions.
std::string text_of(size_t n, size_t seed) {
  static const char *const chars[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "Z", "~"};
  std::string s;
  size_t k = seed;
  while (s.size() < n) {
    const std::string c = chars[k++ % 6];
    s += s.size() + c.size() <= n ? c : std::string(n - s.size(), 'q');
  }
  return s;
}

const char kBadText[] = "invalid UTF-8 in text message";

}  // namespace

TEST(ws_small_frames_every_length_in_one_run) {
  for (pushwire_ws_role role : {PUSHWIRE_WS_SERVER, PUSHWIRE_WS_CLIENT}) {
    for (bool in_place : {false, true}) {
      std::string wire;
      std::vector<Got> want;
      size_t i = 0;
      for (size_t len = 0; len <= 125; ++len) {
        std::string bin(len, '\0');
        for (size_t j = 0; j < len; ++j) bin[j] = char((j * 131 + len) & 0xff);
        const std::string ascii = std::string(len, char('A' + len % 26));
        const std::string multi = text_of(len, len);
        for (const auto &m : {std::make_pair(uint8_t(0x82), bin), std::make_pair(uint8_t(0x81), ascii),
                              std::make_pair(uint8_t(0x81), multi)}) {
          wire += data_frame(role, m.first, m.second, i++);
          want.push_back(Got{m.first == 0x81 ? unsigned(PUSHWIRE_WS_EV_TEXT) : unsigned(PUSHWIRE_WS_EV_BINARY),
                             PUSHWIRE_WS_EVF_FIRST | PUSHWIRE_WS_EVF_FIN, 0, m.second});
        }
      }
      int last = 1;
      std::vector<Got> got = run(role, wire, in_place, false, &last);
      CHECK_EQ(last, 0);  // all taken, nothing failed
      CHECK_EQ(got.size(), want.size());
      for (size_t k = 0; k < got.size() && k < want.size(); ++k) {
        CHECK_EQ(got[k].type, want[k].type);
        CHECK_EQ(got[k].flags, want[k].flags);
        CHECK_EQ(got[k].code, 0);
        CHECK_BYTES(got[k].data.data(), got[k].data.size(), want[k].data.data(), want[k].data.size());
      }
    }
  }
}

TEST(ws_small_frames_run_is_left_and_resumed) {
  // Frames the run does not take (16-bit length, control, fragment) sit between small
  // messages: all arrive in order, the ping answered.
  const std::string big(126, 'B');
  std::string wire = masked_frame(0x81, "one") + masked_frame(0x82, big) + masked_frame(0x81, "two") +
                     masked_frame(0x89, "p") + masked_frame(0x81, "three") + masked_frame(0x01, "fr") +
                     masked_frame(0x80, "ag") + masked_frame(0x81, "four");
  for (bool in_place : {false, true}) {
    Open s(PUSHWIRE_WS_SERVER);
    std::vector<uint8_t> buf(wire.begin(), wire.end());
    CHECK_EQ(in_place ? pushwire_ws_feed_mutable(s.ws, buf.data(), buf.size()) : s.feed(wire), 0);
    CHECK(s.events() == (std::vector<std::string>{"text \"one\"", "binary " + vectors::escape(big), "text \"two\"",
                                                  "ping \"p\"", "text \"three\"", "text \"frag\"", "text \"four\""}));
    std::string out = s.out();
    CHECK_STR(out.data(), out.size(), "\x8a\x01p");
  }
  // A frame cut by the end of the feed is finished by the next one.
  Open s(PUSHWIRE_WS_SERVER);
  std::string f = masked_frame(0x81, "abc") + masked_frame(0x81, "defgh");
  CHECK_EQ(s.feed(f.substr(0, 12)), 0);
  CHECK_EQ(s.feed(f.substr(12)), 0);
  CHECK(s.events() == (std::vector<std::string>{"text \"abc\"", "text \"defgh\""}));
}

TEST(ws_small_frames_invalid_utf8_at_every_position) {
  // The run hands a message it cannot take to the full decoder, which must report it
  // exactly as if the run did not exist: the messages before it, then 1007; streaming also
  // hands out the valid characters before the bad byte.
  const char *const bad[] = {"\xff", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80"};
  size_t i = 0;
  for (pushwire_ws_role role : {PUSHWIRE_WS_SERVER, PUSHWIRE_WS_CLIENT}) {
    for (size_t len = 1; len <= 125; ++len) {
      for (size_t pos = 0; pos < len; ++pos) {
        const size_t b = (len + pos) % 5;
        const std::string seq = bad[b];
        if (pos + seq.size() > len) continue;
        std::string payload = std::string(pos, 'x') + seq + std::string(len - pos - seq.size(), 'y');
        const std::string wire = data_frame(role, 0x81, "ok", i) + data_frame(role, 0x81, payload, i + 1) +
                                 data_frame(role, 0x81, "after", i + 2);
        ++i;
        for (int mode = 0; mode < 3; ++mode) {
          const bool in_place = mode == 1, streaming = mode == 2;
          int last = 0;
          std::vector<Got> got = run(role, wire, in_place, streaming, &last);
          std::vector<Got> want{{PUSHWIRE_WS_EV_TEXT, PUSHWIRE_WS_EVF_FIRST | PUSHWIRE_WS_EVF_FIN, 0, "ok"}};
          if (streaming && pos > 0)
            want.push_back(Got{PUSHWIRE_WS_EV_TEXT, PUSHWIRE_WS_EVF_FIRST, 0, payload.substr(0, pos)});
          want.push_back(Got{PUSHWIRE_WS_EV_CLOSE, PUSHWIRE_WS_EVF_FAILED, 1007, kBadText});
          bool same = got.size() == want.size();
          for (size_t k = 0; same && k < got.size(); ++k)
            same = got[k].type == want[k].type && got[k].flags == want[k].flags && got[k].code == want[k].code &&
                   got[k].data == want[k].data;
          if (!same)
            harness::fail(__FILE__, __LINE__,
                          "len " + std::to_string(len) + " pos " + std::to_string(pos) + " mode " + std::to_string(mode));
          CHECK_EQ(last, PUSHWIRE_ERR_BAD_UTF8);
        }
      }
    }
  }
  // Truncated at the very end of a short message.
  for (size_t len = 1; len <= 125; ++len) {
    std::string payload = std::string(len - 1, 'x') + "\xe2";
    int last = 0;
    std::vector<Got> got = run(PUSHWIRE_WS_SERVER, masked_frame(0x81, payload), false, false, &last);
    CHECK_EQ(got.size(), 1);
    if (!got.empty()) {
      CHECK_EQ(got[0].type, PUSHWIRE_WS_EV_CLOSE);
      CHECK_EQ(got[0].flags, PUSHWIRE_WS_EVF_FAILED);
      CHECK_EQ(got[0].code, 1007);
      CHECK(got[0].data == kBadText);
    }
    CHECK_EQ(last, PUSHWIRE_ERR_BAD_UTF8);
  }
}

TEST(ws_small_frames_limits_apply_in_the_run) {
  for (int which = 0; which < 2; ++which) {
    Open s(PUSHWIRE_WS_SERVER);
    CHECK_EQ(s.opt(which ? PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE : PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, 10), 0);
    CHECK_EQ(s.feed(masked_frame(0x81, std::string(10, 'a')) + masked_frame(0x82, std::string(11, 'b'))), 0);
    CHECK(s.events(true) == (std::vector<std::string>{"text \"aaaaaaaaaa\"",
                                                      which ? "close 1009 failed \"message too big\""
                                                            : "close 1009 failed \"frame too big\""}));
  }
  // Masking rules hold in the run: an unmasked frame to a server, a masked one to a client.
  Open s(PUSHWIRE_WS_SERVER);
  CHECK_EQ(s.feed(masked_frame(0x81, "a") + frame(0x81, "b")), 0);
  CHECK(s.events(true) == (std::vector<std::string>{"text \"a\"", "close 1002 failed \"unmasked frame from client\""}));
  Open c(PUSHWIRE_WS_CLIENT);
  CHECK_EQ(c.feed(frame(0x82, "a") + masked_frame(0x82, "b")), 0);
  CHECK(c.events(true) == (std::vector<std::string>{"binary \"a\"", "close 1002 failed \"masked frame from server\""}));
}

TEST(ws_small_frames_mask_copy_short_matches_mask_copy) {
  // Every length and key phase, copying and in place, against the general unmasking loop;
  // the portable word path too (where SSE2 exists it only sees lengths under 16 through
  // mask_copy_short, so its loop would never run twice); with bytes below 0x80 as well, so
  // the ASCII answer depends on every word.
  const uint8_t key[4] = {0x9c, 0x01, 0xf3, 0x40};
  for (unsigned phase = 0; phase < 4; ++phase) {
    const uint32_t k32 = pushwire::mask_key_word(key, phase);
    for (int bytes = 0; bytes < 3; ++bytes) {
      for (size_t len = 0; len <= 125; ++len) {
        std::vector<uint8_t> src(len + 16), want(len + 16, 0xee);
        for (size_t j = 0; j < src.size(); ++j) src[j] = uint8_t(j * 37 + len);
        // Unmasked bytes 0x00-0x7f, all of them or all but the one at len / 3 (inside an
        // earlier word than the last one from 24 bytes on).
        if (bytes)
          for (size_t j = 0; j < len; ++j)
            src[j] = uint8_t((src[j] & 0x7f) ^ key[(phase + j) & 3] ^ (bytes == 1 && j == len / 3 ? 0x80 : 0));
        pushwire::mask_copy(want.data(), src.data(), len, key, phase);
        uint64_t ors = 0;
        for (size_t j = 0; j < len; ++j) ors |= want[j];
        for (int path = 0; path < 2; ++path) {
          auto unmask = [&](uint8_t *d, const uint8_t *s) {
            return path ? pushwire::mask_copy_short_words(d, s, len, k32) : pushwire::mask_copy_short(d, s, len, k32);
          };
          std::vector<uint8_t> got(len + 16, 0xee);
          const bool high = unmask(got.data(), src.data());
          CHECK_BYTES(got.data(), got.size(), want.data(), want.size());  // nothing written past len
          CHECK_EQ(high, (ors & 0x80) != 0);
          std::vector<uint8_t> in(src.begin(), src.end());
          CHECK_EQ(unmask(in.data(), in.data()), (ors & 0x80) != 0);
          CHECK_BYTES(in.data(), len, want.data(), len);
        }
      }
    }
  }
}

namespace {

// `payload` as text frames of `size` bytes each (the last one FIN), keys varying, with
// `extra` right after the frame that holds payload[extra_at].
std::string fragments(const std::string &payload, size_t size, const std::string &extra = "", size_t extra_at = 0) {
  std::string wire;
  for (size_t at = 0, i = 0; at < payload.size(); at += size, ++i) {
    const bool last = at + size >= payload.size();
    const std::string k = key_for(i);
    wire += masked_frame(uint8_t((last ? 0x80 : 0) | (at == 0 ? 0x01 : 0x00)), payload.substr(at, size), k.c_str());
    if (extra_at >= at && extra_at < at + size) wire += extra;
  }
  return wire;
}

// The longest prefix of s[0..n) that ends on a character boundary (s valid up to n).
size_t boundary_before(const std::string &s, size_t n) {
  size_t i = 0;
  for (;;) {
    size_t prefix, len = ref_utf8_char(reinterpret_cast<const uint8_t *>(s.data()), s.size(), i, &prefix);
    if (len == 0 || i + len > n) return i;
    i += len;
  }
}

// Drains `s`: the text handed out before the failure must be `want_text` (whole characters
// up to the bad byte when streaming, nothing otherwise) and the only other event the 1007
// close; the output must be exactly `close`. `where` names the case in a failure.
template <class Session>
void check_fails_1007_after(Session &s, const std::string &want_text, const std::string &close,
                            const std::string &where, int line) {
  std::string text;
  std::vector<std::string> rest;
  pushwire_ws_event ev;
  while (pushwire_ws_next_event(s.ws, &ev) == 1) {
    if (ev.type == PUSHWIRE_WS_EV_TEXT && rest.empty())
      text.append(reinterpret_cast<const char *>(ev.data.ptr), ev.data.len);
    else
      rest.push_back(describe(ev));
  }
  if (text != want_text || rest != std::vector<std::string>{"close 1007 failed"})
    harness::fail(__FILE__, line,
                  where + ": " + std::to_string(text.size()) + " bytes, then " +
                      (rest.empty() ? std::string("nothing") : rest[0]));
  std::string out = s.out();
  CHECK_BYTES(out.data(), out.size(), close.data(), close.size());
}

}  // namespace

TEST(ws_fragmented_text_fails_before_what_follows) {
  // Short text fragments are validated a run at a time: a bad byte must still fail the
  // handle before anything behind it is seen (a ping is neither reported nor answered, a
  // later rule break does not replace 1007), at the same offset (streaming hands out
  // exactly the characters before it), however the input is cut.
  const std::string good = text_of(256, 3);
  const std::string close = frame(0x88, std::string("\x03\xef") + kBadText);
  for (size_t pos = 0; pos < good.size(); ++pos) {
    std::string payload = good;
    payload[pos] = char(pos % 3 == 0 ? 0xff : pos % 3 == 1 ? 0x80 : 0xc0);
    bool complete = false;
    const size_t off = ref_utf8_valid_prefix(reinterpret_cast<const uint8_t *>(payload.data()), payload.size(),
                                             &complete);
    if (off == payload.size()) continue;  // still valid (a continuation byte replaced by 0x80)
    const size_t sizes[] = {64, 7, 1, 127};  // fragment sizes, all taken by the deferred path
    const size_t size = sizes[pos % 4];
    // Right behind the bad fragment (inside the message unless it was the last): a ping, or
    // a frame with RSV1 set.
    const std::string after = pos % 2 ? masked_frame(0x89, "p") : masked_frame(0xc0, "x");
    const std::string wire = fragments(payload, size, after, pos);
    for (bool streaming : {false, true}) {
      for (size_t cut : {size_t(0), size_t(1), size_t(13)}) {  // one feed, bytes one by one, 13 at a time
        Open s(PUSHWIRE_WS_SERVER, streaming);
        const size_t step = cut ? cut : wire.size();
        for (size_t at = 0; at < wire.size(); at += step) {
          const int rc = s.feed(wire.substr(at, step));
          CHECK(rc == 0 || rc == PUSHWIRE_ERR_BAD_UTF8);  // sticky once failed
        }
        check_fails_1007_after(s, streaming ? payload.substr(0, boundary_before(payload, off)) : "", close,
                               "pos " + std::to_string(pos) + " streaming " + std::to_string(streaming) +
                                   " cut " + std::to_string(cut),
                               __LINE__);
      }
    }
  }
}

TEST(ws_fragmented_text_across_feeds) {
  // A W6-like message (64-byte fragments, characters straddling each boundary, a ping
  // inside), cut at every position into two feeds: one message, the ping answered.
  std::string payload = text_of(256, 1);
  const std::string wire = fragments(payload, 64, masked_frame(0x89, "00000009"), 64);
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    Open s(PUSHWIRE_WS_SERVER);
    CHECK_EQ(s.feed(wire.substr(0, cut)), 0);
    std::vector<std::string> ev = s.events();
    CHECK_EQ(s.feed(wire.substr(cut)), 0);
    for (const std::string &e : s.events()) ev.push_back(e);
    CHECK(ev == (std::vector<std::string>{"ping \"00000009\"", "text " + vectors::escape(payload)}));
    std::string out = s.out();
    CHECK_STR(out.data(), out.size(), "\x8a\x08" "00000009");
  }
}

TEST(ws_fragmented_text_every_short_step_and_phase) {
  // Text in fragments of every size the deferred path takes (1..127), fed whole and cut
  // so each fragment's payload arrives in pieces starting at every key position (feeds of
  // 1, 3 and 5 bytes): the reassembled message must be exact, binary likewise.
  const std::string payload = text_of(700, 5);
  for (size_t size = 1; size < 128; ++size) {
    const std::string wire = fragments(payload, size);
    std::string bin_wire = wire;
    bin_wire[0] = char(0x02);  // the first fragment's opcode: BINARY
    for (size_t cut : {size_t(0), size_t(1), size_t(3), size_t(5)}) {
      for (const std::string *w : {&wire, static_cast<const std::string *>(&bin_wire)}) {
        Open s(PUSHWIRE_WS_SERVER);
        const size_t step = cut ? cut : w->size();
        for (size_t at = 0; at < w->size(); at += step) CHECK_EQ(s.feed(w->substr(at, step)), 0);
        const std::vector<std::string> ev = s.events();
        const std::string want = (w == &wire ? "text " : "binary ") + vectors::escape(payload);
        if (ev != std::vector<std::string>{want})
          harness::fail(__FILE__, __LINE__,
                        "size " + std::to_string(size) + " cut " + std::to_string(cut) + ": " +
                            (ev.empty() ? std::string("no event") : ev[0].substr(0, 60)));
      }
    }
  }
}

TEST(ws_fragmented_text_past_the_deferred_cap) {
  // Short fragments are validated a run at a time, at most 4096 bytes later; a run longer
  // than that is validated in parts. An invalid byte just before, at and after the cap (and
  // far past it) fails the handle at the same byte as validating each fragment at once
  // would: streaming hands out exactly the characters before it, a ping behind it is not
  // reported, and the close is 1007.
  const std::string good = text_of(9000, 2);
  const std::string close = frame(0x88, std::string("\x03\xef") + kBadText);
  for (size_t pos : {size_t(0), size_t(4000), size_t(4095), size_t(4096), size_t(4097), size_t(4100), size_t(4200),
                     size_t(8191), size_t(8192), size_t(8193), size_t(8999)}) {
    for (size_t size : {size_t(100), size_t(127), size_t(64)}) {
      std::string payload = good;
      payload[pos] = char(0xff);
      const std::string wire = fragments(payload, size, masked_frame(0x89, "p"), pos);
      for (bool streaming : {false, true}) {
        Open s(PUSHWIRE_WS_SERVER, streaming);
        CHECK_EQ(s.feed(wire), 0);
        check_fails_1007_after(s, streaming ? payload.substr(0, boundary_before(payload, pos)) : "", close,
                               "pos " + std::to_string(pos) + " size " + std::to_string(size) + " streaming " +
                                   std::to_string(streaming),
                               __LINE__);
      }
      // And valid: one message of 9000 bytes (the ping, inside it, comes first).
      Open s(PUSHWIRE_WS_SERVER);
      CHECK_EQ(s.feed(fragments(good, size, masked_frame(0x89, "p"), pos % 8000)), 0);
      CHECK(s.events() == (std::vector<std::string>{"ping \"p\"", "text " + vectors::escape(good)}));
    }
  }
}

namespace {

// Binary payloads of lengths around every step of the unmasking loops (16, 64, the AVX2
// threshold) and the 16-bit limit, each followed by a short text frame, so the run takes
// both kinds back to back.
std::string mid_wire(pushwire_ws_role role, const std::vector<size_t> &lens, std::vector<Got> *want) {
  std::string wire;
  size_t i = 0;
  for (size_t len : lens) {
    std::string bin(len, '\0');
    for (size_t j = 0; j < len; ++j) bin[j] = char((j * 151 + len * 7) & 0xff);
    const std::string txt = text_of(len % 40, len);
    wire += data_frame(role, 0x82, bin, i);
    wire += data_frame(role, 0x81, txt, i + 1);
    i += 2;
    want->push_back(Got{PUSHWIRE_WS_EV_BINARY, PUSHWIRE_WS_EVF_FIRST | PUSHWIRE_WS_EVF_FIN, 0, bin});
    want->push_back(Got{PUSHWIRE_WS_EV_TEXT, PUSHWIRE_WS_EVF_FIRST | PUSHWIRE_WS_EVF_FIN, 0, txt});
  }
  return wire;
}

bool same_events(const std::vector<Got> &a, const std::vector<Got> &b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (a[k].type != b[k].type || a[k].flags != b[k].flags || a[k].code != b[k].code || a[k].data != b[k].data)
      return false;
  return true;
}

// Feeds `wire` in pieces (cut points in `cuts`, ascending), copying or in place, pulling
// the events after each feed as an application would.
std::vector<Got> run_cut(pushwire_ws_role role, const std::string &wire, const std::vector<size_t> &cuts, bool in_place,
                         int *last) {
  Open c(role);
  std::vector<uint8_t> buf(wire.begin(), wire.end());
  std::vector<Got> v;
  size_t from = 0;
  *last = 0;
  for (size_t k = 0; k <= cuts.size(); ++k) {
    const size_t to = k < cuts.size() ? cuts[k] : wire.size();
    const int rc = in_place ? pushwire_ws_feed_mutable(c.ws, buf.data() + from, to - from)
                            : pushwire_ws_feed(c.ws, buf.data() + from, to - from);
    if (rc != 0) {
      *last = rc;
      break;
    }
    pushwire_ws_event ev;
    int r;
    while ((r = pushwire_ws_next_event(c.ws, &ev)) == 1)
      v.push_back(Got{ev.type, ev.flags, ev.code, std::string(reinterpret_cast<const char *>(ev.data.ptr), ev.data.len)});
    if (r != 0) {
      *last = r;
      break;
    }
    from = to;
  }
  return v;
}

}  // namespace

TEST(ws_mid_binary_frames_every_length_and_split) {
  // Binary frames with 16-bit lengths are taken by the run too: exact payloads for lengths
  // around each loop step, both roles, copying and in place, fed whole, byte by byte (which
  // keeps every frame out of the run: the general decoder's answer) and cut at every point.
  std::vector<size_t> lens;
  for (size_t len = 126; len <= 300; ++len) lens.push_back(len);
  for (size_t base : {size_t(1024), size_t(4096), size_t(65535 - 2)})
    for (size_t d = 0; d < 5; ++d)
      if (base + d - 2 <= 65535) lens.push_back(base + d - 2);
  for (pushwire_ws_role role : {PUSHWIRE_WS_SERVER, PUSHWIRE_WS_CLIENT}) {
    std::vector<Got> want;
    const std::string wire = mid_wire(role, lens, &want);
    for (bool in_place : {false, true}) {
      int last = 1;
      CHECK(same_events(run_cut(role, wire, {}, in_place, &last), want));
      CHECK_EQ(last, 0);
      for (size_t step : {size_t(4093), size_t(65536)}) {  // reads cutting frames at many offsets
        std::vector<size_t> cuts;
        for (size_t at = step; at < wire.size(); at += step) cuts.push_back(at);
        CHECK(same_events(run_cut(role, wire, cuts, in_place, &last), want));
        CHECK_EQ(last, 0);
      }
    }
    // Every split into two feeds of a shorter run (lengths 126..140 and 1022..1026).
    std::vector<size_t> few;
    for (size_t len = 126; len <= 140; ++len) few.push_back(len);
    for (size_t len = 1022; len <= 1026; ++len) few.push_back(len);
    std::vector<Got> few_want;
    const std::string few_wire = mid_wire(role, few, &few_want);
    for (bool in_place : {false, true}) {
      std::vector<size_t> bytewise;
      for (size_t at = 1; at < few_wire.size(); ++at) bytewise.push_back(at);
      int last = 1;
      CHECK(same_events(run_cut(role, few_wire, bytewise, in_place, &last), few_want));
      CHECK_EQ(last, 0);
      for (size_t cut = 0; cut <= few_wire.size(); ++cut) {
        const bool ok = same_events(run_cut(role, few_wire, {cut}, in_place, &last), few_want) && last == 0;
        if (!ok)
          harness::fail(__FILE__, __LINE__,
                        "role " + std::to_string(role) + " cut " + std::to_string(cut) + " in place " +
                            std::to_string(in_place));
      }
    }
  }
}

TEST(ws_mid_binary_frames_rules_hold_in_the_run) {
  // Everything the general decoder refuses or handles itself leaves the run with the same
  // result: limits just under and over, a non-minimal length, RSV bits, the wrong mask bit,
  // a fragment, and long text (validated elsewhere).
  auto raw = [](uint8_t b0, uint8_t b1, size_t len, const std::string &payload) {
    std::string f{char(b0), char(b1), char(len >> 8), char(len & 0xff)};
    if (b1 & 0x80) f += "\x01\x02\x03\x04";
    return f + payload;
  };
  const std::string ok = masked_frame(0x82, std::string(200, 'o'));
  for (int which = 0; which < 2; ++which) {
    for (size_t limit : {size_t(199), size_t(200), size_t(126), size_t(125)}) {
      Open s(PUSHWIRE_WS_SERVER);
      CHECK_EQ(s.opt(which ? PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE : PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, limit), 0);
      CHECK_EQ(s.feed(masked_frame(0x82, "a") + ok), 0);
      const std::string fail = which ? "close 1009 failed \"message too big\"" : "close 1009 failed \"frame too big\"";
      CHECK(s.events(true) == (limit >= 200 ? std::vector<std::string>{"binary \"a\"", "binary " + vectors::escape(std::string(200, 'o'))}
                                            : std::vector<std::string>{"binary \"a\"", fail}));
    }
  }
  Open a(PUSHWIRE_WS_SERVER);
  CHECK_EQ(a.feed(masked_frame(0x82, "a") + raw(0x82, 0x80 | 126, 125, std::string(125, '\0'))), 0);
  CHECK(a.events(true) == (std::vector<std::string>{"binary \"a\"", "close 1002 failed \"non-minimal length\""}));
  Open b(PUSHWIRE_WS_SERVER);
  CHECK_EQ(b.feed(masked_frame(0x82, "a") + raw(0xc2, 0x80 | 126, 200, std::string(200, '\0'))), 0);
  std::vector<std::string> be = b.events();
  CHECK(be.size() == 2 && be[0] == "binary \"a\"" && be[1] == "close 1002 failed");
  Open c(PUSHWIRE_WS_SERVER);
  CHECK_EQ(c.feed(masked_frame(0x82, "a") + raw(0x82, 126, 200, std::string(200, '\0'))), 0);
  CHECK(c.events(true) == (std::vector<std::string>{"binary \"a\"", "close 1002 failed \"unmasked frame from client\""}));
  Open d(PUSHWIRE_WS_CLIENT);
  CHECK_EQ(d.feed(frame(0x82, "a") + raw(0x82, 0x80 | 126, 200, std::string(200, '\0'))), 0);
  CHECK(d.events(true) == (std::vector<std::string>{"binary \"a\"", "close 1002 failed \"masked frame from server\""}));
  const std::string big(300, 'x');
  Open e(PUSHWIRE_WS_SERVER);
  CHECK_EQ(e.feed(masked_frame(0x02, big) + masked_frame(0x80, "y") + masked_frame(0x81, std::string(130, 'z')) +
                  masked_frame(0x81, std::string(130, 'z') + "\xff")),
           0);
  CHECK(e.events() == (std::vector<std::string>{"binary " + vectors::escape(big + "y"),
                                                "text " + vectors::escape(std::string(130, 'z')), "close 1007 failed"}));
}

namespace {

// Events of `wire` fed in pieces ending at `cuts` (ascending, the last at wire.size()), as
// transcript lines and the final return code.
std::vector<std::string> fed_in_pieces(pushwire_ws_role role, const std::string &wire, uint64_t max_frame,
                                       const std::vector<size_t> &cuts) {
  Open a(role);
  if (max_frame) CHECK_EQ(a.opt(PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, max_frame), 0);
  std::vector<std::string> got;
  size_t from = 0;
  for (size_t cut : cuts) {
    const int rc = a.feed(wire.substr(from, cut - from));
    if (from == 0) CHECK_EQ(rc, 0);  // a failure is reported as an event, then by later calls
    for (const std::string &e : a.events(true)) got.push_back(e);
    from = cut;
  }
  got.push_back("rc " + std::to_string(a.last_error));
  return got;
}

// Events of `wire` fed whole (copying: the run's short step where it applies) and fed a byte
// at a time (the full decoder only: no run ever sees a whole header).
std::vector<std::string> whole_and_bytewise(pushwire_ws_role role, const std::string &wire, uint64_t max_frame,
                                            std::vector<std::string> *bytewise) {
  std::vector<size_t> each_byte(wire.size());
  for (size_t i = 0; i < wire.size(); ++i) each_byte[i] = i + 1;
  *bytewise = fed_in_pieces(role, wire, max_frame, each_byte);
  return fed_in_pieces(role, wire, max_frame, {wire.size()});
}

}  // namespace

// The run's short step (copying, payloads up to 16 bytes, one 16-byte unmask whose high bits
// beyond the payload must not count) against the full decoder: lengths 0..20, every byte
// class at every position, 0..20 bytes after the frame (the step needs 16 readable), limits
// under 16.
TEST(ws_small_frames_short_step_matches_the_full_decoder) {
  const char *const seqs[] = {"\x00", "\x7f", "\x80", "\xbf", "\xc0", "\xc2\xa9", "\xdf\xbf", "\xe2\x82\xac",
                              "\xed\xa0\x80", "\xef\xbf\xbf", "\xf0\x9f\x98\x80", "\xf4\x90\x80\x80", "\xf5", "\xff"};
  size_t i = 0, mismatches = 0;
  for (pushwire_ws_role role : {PUSHWIRE_WS_SERVER, PUSHWIRE_WS_CLIENT}) {
    for (size_t len = 0; len <= 20; ++len) {
      for (size_t pos = 0; pos < (len ? len : 1); ++pos) {
        for (const char *seq_c : seqs) {
          const std::string seq(seq_c, seq_c[0] ? std::strlen(seq_c) : 1);
          if (len && pos + seq.size() > len) continue;
          // Payload bytes past the frame's end are high (0xfe) in the next frame's bytes
          // the step reads: they must not make ASCII text look otherwise.
          const std::string payload = len ? std::string(pos, 'a') + seq + std::string(len - pos - seq.size(), 'z') : "";
          for (uint8_t b0 : {uint8_t(0x81), uint8_t(0x82)}) {
            for (size_t after : {size_t(0), size_t(3), size_t(9), size_t(10), size_t(11), size_t(20)}) {
              const std::string next = data_frame(role, 0x82, std::string(after, '\xfe'), i + 1);
              const std::string wire = data_frame(role, 0x81, "x", i) + data_frame(role, b0, payload, i + 2) +
                                       (after ? next : "");
              ++i;
              for (uint64_t max_frame : {uint64_t(0), uint64_t(len ? len : 1), uint64_t(len > 1 ? len - 1 : 1)}) {
                std::vector<std::string> ref;
                const std::vector<std::string> got = whole_and_bytewise(role, wire, max_frame, &ref);
                if (got != ref && ++mismatches <= 5) {
                  std::string g, r;
                  for (const std::string &e : got) g += "\n    " + e;
                  for (const std::string &e : ref) r += "\n    " + e;
                  harness::fail(__FILE__, __LINE__,
                                "len " + std::to_string(len) + " pos " + std::to_string(pos) + " seq " +
                                    vectors::escape(seq) + " b0 " + std::to_string(b0) + " after " +
                                    std::to_string(after) + " max_frame " + std::to_string(max_frame) +
                                    ": whole" + g + "\n  byte by byte" + r);
                }
              }
            }
          }
        }
      }
    }
  }
  CHECK_EQ(mismatches, 0);
}

// Thousands of short messages of every length to 17 in one read: the step's count of room
// runs out in the arena and the queue at every alignment, the queue's limit (4096) pauses the
// run, and every payload must arrive whole, in order.
TEST(ws_small_frames_short_step_across_room_and_queue_limits) {
  for (pushwire_ws_role role : {PUSHWIRE_WS_SERVER, PUSHWIRE_WS_CLIENT}) {
    for (size_t phase = 0; phase < 18; phase += 5) {
      std::string wire;
      std::vector<std::string> want;
      for (size_t i = 0; i < 5000; ++i) {
        const size_t len = (i * 7 + phase) % 18;
        const bool text = i % 3 != 0;
        const std::string payload = text ? text_of(len, i) : std::string(len, char(0x80 + i % 100));
        wire += data_frame(role, text ? 0x81 : 0x82, payload, i);
        want.push_back((text ? "text " : "binary ") + vectors::escape(payload));
      }
      Open a(role);
      CHECK_EQ(a.feed(wire), 0);
      const std::vector<std::string> got = a.events();
      CHECK_EQ(got.size(), want.size());
      CHECK(got == want);
      CHECK_EQ(a.last_error, 0);
    }
  }
}

namespace {

// A deterministic stream of runs of frames with equal first two bytes (the short step's
// fixed-step loop), each run ended by what may follow one: another length or type, a frame
// the run leaves to the full decoder, a rule broken inside the run, or the end of the input.
struct RunStream {
  std::string wire;
  uint32_t state;
  explicit RunStream(uint32_t seed) : state(seed * 2654435761u + 1) {}
  uint32_t next(uint32_t n) {
    state = state * 1103515245u + 12345u;
    return (state >> 8) % n;
  }
  void build(pushwire_ws_role role) {
    const bool server = role == PUSHWIRE_WS_SERVER;
    size_t key = next(1000);
    const uint32_t runs = 1 + next(6);
    for (uint32_t r = 0; r < runs; ++r) {
      const bool text = next(3) != 0;
      const uint8_t b0 = text ? 0x81 : 0x82;
      const size_t len = next(18);
      const uint32_t count = 1 + next(r == 0 ? 40 : 12);
      const uint32_t bad_at = next(8) == 0 ? next(count) : count;  // invalid text inside the run
      for (uint32_t i = 0; i < count; ++i) {
        std::string payload;
        if (!text) {
          for (size_t j = 0; j < len; ++j) payload += char(next(256));
        } else if (i == bad_at && len) {
          payload = std::string(len, 'v');
          payload[next(uint32_t(len))] = char(0x80 + next(0x80));
        } else {
          payload = next(4) == 0 ? text_of(len, i) : std::string(len, char('a' + next(26)));
        }
        wire += data_frame(role, b0, payload, key++);
      }
      switch (next(9)) {
        case 0: wire += data_frame(role, 0x89, "pi", key++); break;
        case 1: wire += data_frame(role, 0x82, std::string(126 + next(40), 'L'), key++); break;
        case 2:
          wire += data_frame(role, 0x01, "fr", key);
          wire += data_frame(role, 0x80, "ag", key + 1);
          key += 2;
          break;
        case 3: wire += data_frame(role, uint8_t(b0 | 0x40), "rsv", key++); break;  // equal but for RSV1
        case 4: wire += server ? frame(b0, std::string(len, 'u')) : masked_frame(b0, std::string(len, 'm')); break;
        case 5: wire += data_frame(role, 0x80, "cont", key++); break;  // a continuation with nothing to continue
        default: break;  // straight into the next run
      }
    }
    const size_t cut = next(2) ? next(8) : 0;  // sometimes the input ends inside the last frame
    wire.resize(wire.size() - std::min(cut, wire.size()));
  }
};

}  // namespace

// Runs of equal frames, whole and in pieces cut at random points, against the full decoder
// fed a byte at a time.
TEST(ws_small_frames_runs_of_equal_heads_match_the_full_decoder) {
  size_t mismatches = 0;
  for (uint32_t seed = 0; seed < 240; ++seed) {
    const pushwire_ws_role role = seed % 2 ? PUSHWIRE_WS_CLIENT : PUSHWIRE_WS_SERVER;
    RunStream s(seed);
    s.build(role);
    const uint64_t max_frame = seed % 5 == 0 ? 1 + s.next(17) : 0;
    std::vector<std::string> ref;
    const std::vector<std::string> whole = whole_and_bytewise(role, s.wire, max_frame, &ref);
    std::vector<size_t> cuts;
    for (uint32_t k = s.next(3); k > 0; --k) cuts.push_back(s.next(uint32_t(s.wire.size() + 1)));
    std::sort(cuts.begin(), cuts.end());
    cuts.push_back(s.wire.size());
    const std::vector<std::string> pieces = fed_in_pieces(role, s.wire, max_frame, cuts);
    if ((whole != ref || pieces != ref) && ++mismatches <= 3) {
      std::string g, p, r;
      for (const std::string &e : whole) g += "\n    " + e;
      for (const std::string &e : pieces) p += "\n    " + e;
      for (const std::string &e : ref) r += "\n    " + e;
      harness::fail(__FILE__, __LINE__,
                    "seed " + std::to_string(seed) + ": whole" + g + "\n  in pieces" + p + "\n  byte by byte" + r);
    }
  }
  CHECK_EQ(mismatches, 0);
}

// Long runs of one length: the rooms' count (arena growth, queue room) and the queue's limit
// (4096) end runs in their middle, and every payload arrives whole, in order.
TEST(ws_small_frames_long_equal_runs_across_room_and_queue_limits) {
  for (pushwire_ws_role role : {PUSHWIRE_WS_SERVER, PUSHWIRE_WS_CLIENT}) {
    for (size_t len : {size_t(0), size_t(5), size_t(15), size_t(16)}) {
      for (bool in_place : {false, true}) {
        std::string wire;
        std::vector<std::string> want;
        for (size_t i = 0; i < 9000; ++i) {
          const bool text = i < 6000;  // the run changes type once, past the queue's limit
          std::string payload(len, char(text ? 'a' + i % 26 : 0x80 + i % 100));
          wire += data_frame(role, text ? 0x81 : 0x82, payload, i);
          want.push_back((text ? "text " : "binary ") + vectors::escape(payload));
        }
        Open a(role);
        std::vector<uint8_t> buf(wire.begin(), wire.end());
        CHECK_EQ(in_place ? pushwire_ws_feed_mutable(a.ws, buf.data(), buf.size()) : a.feed(wire), 0);
        const std::vector<std::string> got = a.events();
        CHECK_EQ(got.size(), want.size());
        CHECK(got == want);
        CHECK_EQ(a.last_error, 0);
      }
    }
  }
}
