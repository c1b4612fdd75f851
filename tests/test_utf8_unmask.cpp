// The fused unmask-and-validate pass (utf8_feed_unmask) and the vector scan of utf8_feed
// against the separate slow paths: a byte loop for the mask and utf8_feed_scalar (the DFA,
// no vector code) for the verdict, the exact offset of the first bad byte and the state
// carried on. Every byte class at every position of texts spanning several 64-byte blocks,
// every key rotation, source and destination alignments, copying and in place, pieces
// split at every point, lengths 0..300 and around 64 KiB; then whole sessions, where the
// same text arrives in one feed, in place, byte by byte, split at every point, in fragments.
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"
#include "utf8.hpp"
#include "ws_test_util.hpp"

using namespace pushwire;

namespace {

const uint8_t kClasses[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
                            0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff};

// Texts of n bytes: ASCII, 2-, 3-, 4-byte characters, a mix, and runs of ASCII and of
// multi-byte text taking turns across blocks (the vector paths treat an ASCII block apart);
// the multi-byte ones may end inside a character.
std::string context(int kind, size_t n) {
  static const char *const units[] = {"m", "\xd0\x96", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                      "\xe2\x82\xac\xd0\x96q\xf0\x9f\x98\x80\xc3\xa9"};
  std::string s;
  if (kind == 5) {  // blocks: ASCII, ASCII, multi-byte after them, mixed, ...
    std::string multi;
    for (int i = 0; i < 6; ++i) multi += units[4];
    while (s.size() < n) s += std::string(130, 'a') + multi + std::string(40, 'b') + multi;
  } else {
    while (s.size() < n) s += units[kind];
  }
  s.resize(n);
  return s;
}
constexpr int kContexts = 6;

struct Outcome {
  bool ok;
  size_t bad;
  uint32_t state;
  unsigned phase;
  std::vector<uint8_t> out;
};

// The slow path: unmask byte by byte, then the scalar validator.
Outcome reference(const Utf8State &before, const uint8_t *masked, size_t n, const uint8_t key[4], unsigned phase) {
  Outcome r;
  r.out.resize(n);
  for (size_t i = 0; i < n; ++i) r.out[i] = uint8_t(masked[i] ^ key[(phase + i) & 3]);
  Utf8State st = before;
  r.bad = 0;
  r.ok = utf8_feed_scalar(st, r.out.data(), n, &r.bad);
  r.state = st.state;
  r.phase = unsigned((phase + n) & 3);
  return r;
}

// The fast path, copying to a destination `dst_off` bytes into a guarded buffer, or in
// place at `src_off`; the guard bytes around it must be left alone.
Outcome fused(const Utf8State &before, const uint8_t *masked, size_t n, const uint8_t key[4], unsigned phase,
              bool in_place, size_t src_off, size_t dst_off, bool *guards_ok) {
  const size_t guard = 80;
  std::vector<uint8_t> srcbuf(n + src_off + guard, 0xa5), dstbuf(n + dst_off + guard, 0x5a);
  if (n) std::memcpy(srcbuf.data() + src_off, masked, n);
  uint8_t *src = srcbuf.data() + src_off;
  uint8_t *dst = in_place ? src : dstbuf.data() + dst_off;
  Outcome r;
  Utf8State st = before;
  r.bad = 0;
  r.phase = phase;
  r.ok = utf8_feed_unmask(st, dst, src, n, key, &r.phase, &r.bad);
  r.state = st.state;
  r.out.assign(dst, dst + n);
  bool g = true;
  if (in_place) {
    for (size_t i = 0; i < src_off; ++i) g &= srcbuf[i] == 0xa5;
    for (size_t i = src_off + n; i < srcbuf.size(); ++i) g &= srcbuf[i] == 0xa5;
  } else {
    for (size_t i = 0; i < n; ++i) g &= src[i] == masked[i];  // the source is not written
    for (size_t i = 0; i < dst_off; ++i) g &= dstbuf[i] == 0x5a;
    for (size_t i = dst_off + n; i < dstbuf.size(); ++i) g &= dstbuf[i] == 0x5a;
  }
  *guards_ok = g;
  return r;
}

std::string describe(const Outcome &o) {
  return std::string(o.ok ? "ok" : "bad at " + std::to_string(o.bad)) + ", state " + std::to_string(o.state) +
         ", phase " + std::to_string(o.phase);
}

// Counts disagreements; reports the first few with the input.
struct Differ {
  size_t failures = 0;
  bool operator()(const char *what, const Utf8State &before, const std::string &text, const uint8_t key[4],
                  unsigned phase, bool in_place, size_t src_off, size_t dst_off) {
    const uint8_t *t = reinterpret_cast<const uint8_t *>(text.data());
    const size_t n = text.size();
    std::vector<uint8_t> masked(n);
    for (size_t i = 0; i < n; ++i) masked[i] = uint8_t(t[i] ^ key[(phase + i) & 3]);
    const Outcome want = reference(before, masked.data(), n, key, phase);
    bool guards = true;
    const Outcome got = fused(before, masked.data(), n, key, phase, in_place, src_off, dst_off, &guards);
    // The plain vector validator on the unmasked bytes, too.
    Utf8State st = before;
    size_t bad = 0;
    const bool plain_ok = utf8_feed(st, t, n, &bad);
    const bool same = got.ok == want.ok && (want.ok || got.bad == want.bad) && got.state == want.state &&
                      got.phase == want.phase && got.out == want.out && guards && plain_ok == want.ok &&
                      (want.ok || bad == want.bad) && st.state == want.state;
    if (!same && ++failures <= 5)
      harness::fail(__FILE__, __LINE__,
                    std::string(what) + (in_place ? " in place" : " copying") + " phase " + std::to_string(phase) +
                        " offsets " + std::to_string(src_off) + "/" + std::to_string(dst_off) + " state " +
                        std::to_string(before.state) + ": want " + describe(want) + ", fused " + describe(got) +
                        (got.out == want.out ? "" : " (bytes differ)") + (guards ? "" : " (wrote outside)") +
                        ", utf8_feed " + (plain_ok ? "ok" : "bad at " + std::to_string(bad)) + ", state " +
                        std::to_string(st.state) + (n <= 400 ? " on " + harness::hex(t, n) : ""));
    return same;
  }
};

// The last key has no byte above 0x7f: ASCII masked with it is still ASCII, so a vector step
// that left out the XOR would still validate, and only the bytes it stored tell (with the
// others, masked text is invalid and the scan falls back to the exact slow path).
const uint8_t kKeys[][4] = {{0x37, 0xfa, 0x21, 0x3d}, {0x80, 0x00, 0xff, 0x7f}, {0, 0, 0, 0}, {0x15, 0x2a, 0x4c, 0x61}};

}  // namespace

TEST(utf8_unmask_every_byte_class_at_every_position_phase_and_mode) {
  // 260 bytes: four 64-byte blocks and a tail, so every 16/32/64-byte seam of the vector
  // paths (and the first block, which has nothing before it) is crossed by every class.
  Differ differ;
  for (int kind = 0; kind < kContexts; ++kind) {
    const std::string ctx = context(kind, 260);
    for (size_t pos = 0; pos < ctx.size(); ++pos)
      for (uint8_t b : kClasses)
        for (unsigned phase = 0; phase < 4; ++phase) {
          std::string t = ctx;
          t[pos] = char(b);
          const bool in_place = (pos + phase) % 2 == 0;
          differ("class", Utf8State(), t, kKeys[(pos + b) % 4], phase, in_place, (pos + b) % 32, (pos * 7 + b) % 32);
        }
  }
  CHECK_EQ(differ.failures, 0);
}

TEST(utf8_unmask_pairs_at_block_seams) {
  // Two chosen bytes straddling each seam of the blocks (positions 62..65, 126..129, ...)
  // catch a check that loses the byte before a block (the neighbours the vector path
  // reloads or shifts in).
  Differ differ;
  const uint8_t some[] = {0x41, 0x80, 0xa0, 0xbf, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xff};
  for (int kind = 0; kind < kContexts; ++kind) {
    const std::string ctx = context(kind, 200);
    for (size_t seam : {size_t(16), size_t(32), size_t(64), size_t(128), size_t(192)})
      for (size_t pos = seam - 3; pos <= seam; ++pos)
        for (uint8_t x : some)
          for (uint8_t y : some) {
            std::string t = ctx;
            t[pos] = char(x);
            t[pos + 1] = char(y);
            differ("pair", Utf8State(), t, kKeys[0], unsigned(pos & 3), pos % 3 == 0, pos % 5, pos % 7);
          }
  }
  CHECK_EQ(differ.failures, 0);
}

TEST(utf8_unmask_lengths_0_to_300_every_phase_alignment_and_mode) {
  Differ differ;
  for (size_t n = 0; n <= 300; ++n)
    for (int kind = 0; kind < kContexts; ++kind)
      for (unsigned phase = 0; phase < 4; ++phase)
        for (int mode = 0; mode < 4; ++mode) {
          const std::string t = context(kind, n);
          differ("length", Utf8State(), t, kKeys[mode], phase, mode >= 2, (n + mode) % 32, (n * 3 + phase) % 32);
          // After a character left open by an earlier piece (2 of its 3 bytes): the piece
          // must start with the last byte, here a continuation only for some contexts.
          Utf8State open;
          CHECK(utf8_feed(open, reinterpret_cast<const uint8_t *>("\xe2\x82"), 2));
          differ("length after open", open, t, kKeys[1], phase, mode % 2 == 0, mode, phase);
        }
  CHECK_EQ(differ.failures, 0);
}

TEST(utf8_unmask_around_64k) {
  // Lengths around a 64 KiB frame, valid and with an error at the start, at a block seam in
  // the middle, and in the last bytes (the tail after the last whole block).
  Differ differ;
  for (size_t n = 65536 - 70; n <= 65536 + 70; n += 7)
    for (int kind : {1, 4, 5})
      for (unsigned phase = 0; phase < 4; ++phase) {
        const std::string ctx = context(kind, n);
        differ("64k valid", Utf8State(), ctx, kKeys[phase % 2], phase, phase >= 2, phase * 5, phase * 9);
        for (size_t pos : {size_t(0), size_t(2), size_t(32767), size_t(32768), n - 70, n - 4, n - 1}) {
          std::string t = ctx;
          t[pos] = char(pos % 2 ? 0xc0 : 0x80);
          differ("64k error", Utf8State(), t, kKeys[0], phase, (pos + phase) % 2 == 0, pos % 32, phase);
        }
      }
  CHECK_EQ(differ.failures, 0);
}

TEST(utf8_unmask_pieces_split_at_every_point) {
  // A text in two (and three) pieces, the phase and state carried from one to the next as
  // copy_data does: verdict and offset of the failing piece, and the state after each, must
  // be those of the slow path on the same pieces.
  Differ differ;
  const std::string base = context(4, 290);
  std::vector<std::string> texts = {base, context(3, 290), base.substr(0, 287)};
  for (size_t bad : {size_t(1), size_t(64), size_t(130), size_t(200), size_t(288)}) {
    std::string t = base;
    t[bad] = char(0xc1);
    texts.push_back(t);
    t = base;
    t[bad] = 'z';  // cuts a character short, or is fine
    texts.push_back(t);
  }
  for (const std::string &t : texts) {
    const uint8_t *p = reinterpret_cast<const uint8_t *>(t.data());
    for (size_t k = 0; k <= t.size(); ++k) {
      Utf8State st;
      size_t bad = 0;
      if (!utf8_feed_scalar(st, p, k, &bad)) continue;  // fails in the first piece: covered above
      const unsigned phase = unsigned(k * 5) & 3;
      differ("second piece", st, t.substr(k), kKeys[k % 2], phase, k % 3 == 0, k % 32, (k + 1) % 32);
      for (size_t j = k; j <= t.size(); j += 37) {
        Utf8State st2 = st;
        if (!utf8_feed_scalar(st2, p + k, j - k, &bad)) break;
        differ("third piece", st2, t.substr(j), kKeys[2], unsigned(j) & 3, j % 2 == 0, j % 32, k % 32);
      }
    }
  }
  CHECK_EQ(differ.failures, 0);
}

namespace {

using wstest::Conn;

// What the application sees of one text message: the text events' bytes joined (streaming
// hands them out in more events when the input comes in more pieces), the other events,
// the error, and everything the handle queued to send.
struct Seen {
  std::string text, events, out;
  int error = 0;
  bool operator==(const Seen &o) const {
    return text == o.text && events == o.events && out == o.out && error == o.error;
  }
};

enum class Feed { Whole, InPlace, Bytes, Split };

Seen run(const std::string &wire, bool streaming, Feed how, size_t split = 0) {
  Conn c(PUSHWIRE_WS_SERVER);
  CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
  CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_STREAMING, streaming), 0);
  Seen s;
  auto drain = [&] {
    pushwire_ws_event ev;
    int rc;
    while ((rc = pushwire_ws_next_event(c.ws, &ev)) == 1) {
      if (ev.type == PUSHWIRE_WS_EV_TEXT) {
        s.text.append(reinterpret_cast<const char *>(ev.data.ptr), ev.data.len);
        if (ev.flags & PUSHWIRE_WS_EVF_FIN) s.events += "fin ";
      } else {
        s.events += wstest::describe(ev, true) + " ";
      }
    }
    if (rc < 0) s.error = rc;
    s.out += c.out();
  };
  auto feed = [&](const std::string &piece, bool mut) {
    if (mut) {
      std::vector<uint8_t> m(piece.begin(), piece.end());
      pushwire_ws_feed_mutable(c.ws, m.data(), m.size());
      drain();  // the lent bytes are only valid until the events are taken
    } else {
      c.feed(piece);
      drain();
    }
  };
  switch (how) {
    case Feed::Whole: feed(wire, false); break;
    case Feed::InPlace: feed(wire, true); break;
    case Feed::Bytes:
      for (char ch : wire) feed(std::string(1, ch), false);
      break;
    case Feed::Split:
      feed(wire.substr(0, split), split % 2 == 0);
      feed(wire.substr(split), split % 3 == 0);
      break;
  }
  return s;
}

std::string show(const Seen &s) {
  return "text " + harness::hex(reinterpret_cast<const uint8_t *>(s.text.data()), s.text.size()) + " events [" +
         s.events + "] error " + std::to_string(s.error) + " out " +
         harness::hex(reinterpret_cast<const uint8_t *>(s.out.data()), s.out.size());
}

}  // namespace

TEST(ws_text_fused_paths_match_byte_by_byte_feeding) {
  // Byte-by-byte feeding takes the short-step path (validated later, in one run, scalar
  // for short runs) for every byte: it is the reference for the fused pass a whole frame
  // takes, copying and in place, and for a frame cut by a feed at every point or into two
  // fragments at every point. Same text delivered (streaming: up to the bad byte's
  // character), same 1007 close at the same point, same bytes queued.
  size_t failures = 0;
  const std::string base = context(4, 260);
  std::vector<std::string> texts = {base, base.substr(0, 258)};
  for (size_t bad : {size_t(0), size_t(63), size_t(64), size_t(129), size_t(255)}) {
    std::string t = base;
    t[bad] = char(0xff);
    texts.push_back(t);
    t = base;
    t[bad] = char(0xed);  // a surrogate lead where a character starts, else a bad continuation
    texts.push_back(t);
  }
  for (const std::string &t : texts)
    for (bool streaming : {false, true}) {
      const std::string wire = wstest::masked_frame(0x81, t, "\x91\x02\xfe\x4c") + wstest::masked_frame(0x89, "p");
      const Seen want = run(wire, streaming, Feed::Bytes);
      CHECK(utf8_valid(reinterpret_cast<const uint8_t *>(t.data()), t.size())
                ? want.text == t && want.error == 0 && want.events == "fin ping \"p\" "
                : want.error == PUSHWIRE_ERR_BAD_UTF8 && want.text.size() < t.size());
      auto expect = [&](const Seen &got, const std::string &how) {
        if (!(got == want) && ++failures <= 5)
          harness::fail(__FILE__, __LINE__, how + (streaming ? " streaming" : "") + ": " + show(got) + "\n  want " +
                                                show(want));
      };
      expect(run(wire, streaming, Feed::Whole), "whole");
      expect(run(wire, streaming, Feed::InPlace), "in place");
      for (size_t k = 0; k <= wire.size(); ++k)
        expect(run(wire, streaming, Feed::Split, k), "split at " + std::to_string(k));
      for (size_t k = 0; k <= t.size(); k += 3) {
        const std::string frags = wstest::masked_frame(0x01, t.substr(0, k), "\x0d\x80\x33\xf7") +
                                  wstest::masked_frame(0x80, t.substr(k), "\xc3\x19\x00\xaa") +
                                  wstest::masked_frame(0x89, "p");
        const Seen fwant = run(frags, streaming, Feed::Bytes);
        if (!(fwant.text == want.text && fwant.error == want.error && fwant.out == want.out) && ++failures <= 5)
          harness::fail(__FILE__, __LINE__, "fragments at " + std::to_string(k) + ": " + show(fwant));
        const Seen got = run(frags, streaming, Feed::Whole);
        if (!(got == fwant) && ++failures <= 5)
          harness::fail(__FILE__, __LINE__, "fragments at " + std::to_string(k) + " whole: " + show(got));
      }
    }
  CHECK_EQ(failures, 0);
}

TEST(ws_text_fused_paths_match_byte_by_byte_feeding_64k) {
  // A text frame longer than a 64 KiB read, as in W5: cut by the read at every offset near
  // the 64 KiB mark (where the character carried from one read into the next lies), valid
  // and with a bad byte in each read.
  size_t failures = 0;
  const std::string base = context(4, 12 * 5833);  // whole characters, 69996 bytes
  std::vector<std::string> texts = {base};
  for (size_t bad : {size_t(1000), size_t(65530), size_t(69990)}) {
    std::string t = base;
    t[bad] = char(0xc0);
    texts.push_back(t);
  }
  for (const std::string &t : texts)
    for (bool streaming : {false, true}) {
      const std::string wire = wstest::masked_frame(0x81, t, "\x91\x02\xfe\x4c");
      const Seen want = run(wire, streaming, Feed::Bytes);
      CHECK(t == base ? want.text == t && want.error == 0 : want.error == PUSHWIRE_ERR_BAD_UTF8);
      for (size_t k = 65536 - 5; k <= 65536 + 5; ++k) {
        const Seen got = run(wire, streaming, Feed::Split, k);
        if (!(got == want) && ++failures <= 5)
          harness::fail(__FILE__, __LINE__, "split at " + std::to_string(k) + (streaming ? " streaming" : ""));
      }
      const Seen whole = run(wire, streaming, Feed::InPlace);
      if (!(whole == want) && ++failures <= 5) harness::fail(__FILE__, __LINE__, "in place");
    }
  CHECK_EQ(failures, 0);
}
