// The receive path's run of fragmented messages (recv_small: a buffered message's frames with
// 7-bit lengths unmasked into the arena, its text validated once at its end) against the full
// decoder. Fed one byte at a time, no frame is ever whole in the input, so every frame goes
// through the full decoder: that is the reference. Generated streams (fragmented text and
// binary with pings, pongs and whole messages between and inside them, characters cut by
// fragment boundaries, invalid text at every position, protocol errors inside messages, the
// three limits, closes) are fed whole, cut at every point and in place, both roles; the
// events (bytes, flags, codes), the output (automatic pongs and closes) and the state must be
// those of the reference.
#include <string>
#include <vector>

#include "harness.hpp"
#include "ws_test_util.hpp"

using namespace wstest;

namespace {

struct Limits {
  uint64_t max_message = 0, max_frame = 0, max_fragments = 0;
};

struct Run {
  std::vector<int> feeds;  // what each feed returned
  std::string events;
  std::string out;
  int last = 0;  // next_event after the last event
  int state = 0;
};

std::string describe_all(const pushwire_ws_event &ev) {
  return std::to_string(ev.type) + "/" + std::to_string(ev.flags) + "/" + std::to_string(ev.code) + " " +
         vectors::escape(ev.data.ptr, ev.data.len);
}

// Feeds `wire` in the pieces that end at `cuts` (then the rest), pulling every event after
// each piece when `pull` (else only at the end).
Run run(pushwire_ws_role role, const Limits &lim, const std::string &wire, const std::vector<size_t> &cuts,
        bool in_place, bool pull) {
  Conn c(role);
  c.random("\x11\x22\x33\x44\x55");
  CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
  if (lim.max_message) CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE, lim.max_message), 0);
  if (lim.max_frame) CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, lim.max_frame), 0);
  if (lim.max_fragments) CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_MAX_FRAGMENTS, lim.max_fragments), 0);
  Run r;
  std::vector<std::vector<uint8_t>> lent;  // in-place pieces stay alive until the end
  auto drain = [&] {
    pushwire_ws_event ev;
    while ((r.last = pushwire_ws_next_event(c.ws, &ev)) == 1) r.events += describe_all(ev) + "\n";
    r.out += c.out();
  };
  size_t from = 0;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    const size_t to = i < cuts.size() ? cuts[i] : wire.size();
    if (to == from && i < cuts.size()) continue;
    lent.emplace_back(wire.begin() + long(from), wire.begin() + long(to));
    r.feeds.push_back(in_place ? pushwire_ws_feed_mutable(c.ws, lent.back().data(), lent.back().size())
                               : pushwire_ws_feed(c.ws, lent.back().data(), lent.back().size()));
    from = to;
    if (pull) drain();
  }
  drain();
  r.state = pushwire_ws_get_state(c.ws);
  return r;
}

// The reference: one byte per feed, events pulled after each.
Run reference(pushwire_ws_role role, const Limits &lim, const std::string &wire) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
  Run r = run(role, lim, wire, cuts, false, true);
  r.feeds.clear();
  return r;
}

bool same(const Run &a, const Run &b) {
  return a.events == b.events && a.out == b.out && a.last == b.last && a.state == b.state;
}

// Whole, cut at every point (pulled between the pieces or not), in place; each against the
// reference, every feed returning 0 or, once the handle has failed, its sticky error.
void check_stream(const char *name, pushwire_ws_role role, const Limits &lim, const std::string &wire) {
  const Run want = reference(role, lim, wire);
  auto check = [&](const Run &got, const std::string &how) {
    bool ok = same(got, want);
    for (int f : got.feeds) ok = ok && (f == 0 || f == got.last);
    if (!ok)
      harness::fail(__FILE__, __LINE__,
                    std::string(name) + (role == PUSHWIRE_WS_SERVER ? " server" : " client") + " " + how +
                        ":\n  got:\n" + got.events + "  out " + vectors::escape(got.out) + " last " +
                        std::to_string(got.last) + " state " + std::to_string(got.state) + "\n  want:\n" + want.events + "  out " + vectors::escape(want.out) +
                        " last " + std::to_string(want.last) + " state " + std::to_string(want.state));
    return ok;
  };
  for (bool in_place : {false, true})
    if (!check(run(role, lim, wire, {}, in_place, false), in_place ? "whole, in place" : "whole")) return;
  for (size_t cut = 1; cut < wire.size(); ++cut)
    for (int how = 0; how < 3; ++how)
      if (!check(run(role, lim, wire, {cut}, how == 2, how != 1),
                 "cut at " + std::to_string(cut) + (how == 1 ? " pulled at the end" : how == 2 ? " in place" : "")))
        return;
}

// Frames in the role's direction: masked towards a server (a new key per frame).
struct Wire {
  pushwire_ws_role role;
  size_t n = 0;
  std::string s;
  explicit Wire(pushwire_ws_role r) : role(r) {}
  Wire &f(uint8_t b0, const std::string &payload) {
    if (role == PUSHWIRE_WS_CLIENT) {
      s += frame(b0, payload);
    } else {
      std::string k(4, '\0');
      for (size_t j = 0; j < 4; ++j) k[j] = char((n * 71 + j * 43 + 0x29) & 0xff);
      s += masked_frame(b0, payload, k.c_str());
    }
    ++n;
    return *this;
  }
  // A message in fragments of the given sizes (the last takes the rest); `inside` is put
  // after fragment `at` (a control frame, say).
  Wire &msg(uint8_t op, const std::string &payload, const std::vector<size_t> &sizes, const std::string &inside = "",
            size_t at = size_t(-1)) {
    size_t from = 0;
    for (size_t i = 0; i < sizes.size() || from < payload.size(); ++i) {
      const size_t len = i < sizes.size() ? std::min(sizes[i], payload.size() - from) : payload.size() - from;
      const bool last = i + 1 >= sizes.size() && from + len >= payload.size();
      f(uint8_t((last ? 0x80 : 0) | (i == 0 ? op : 0)), payload.substr(from, len));
      from += len;
      if (i == at) s += inside;
      if (last) break;
    }
    return *this;
  }
};

// Text of n bytes: printable ASCII with 2-, 3- and 4-byte characters every few bytes, so that
// fragment boundaries cut them.
std::string text(size_t n, size_t seed) {
  static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "x"};
  std::string s;
  for (size_t k = seed; s.size() < n; ++k) {
    const std::string c = k % 3 == 0 ? std::string(chars[k / 3 % 4]) : std::string(1, char(0x20 + (k * 37) % 95));
    s += s.size() + c.size() <= n ? c : std::string(n - s.size(), 'q');
  }
  return s;
}

std::string bin(size_t n, size_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 131 + seed * 17) & 0xff);
  return s;
}

const pushwire_ws_role kRoles[] = {PUSHWIRE_WS_SERVER, PUSHWIRE_WS_CLIENT};

}  // namespace

TEST(ws_fragment_run_valid_streams) {
  for (pushwire_ws_role role : kRoles) {
    Wire ping(role), pong(role);
    ping.f(0x89, "ping!");
    pong.f(0x8a, "");
    // W6's shape: 4 x 64 bytes with a character across every boundary, a ping inside.
    Wire w6(role);
    for (size_t i = 0; i < 3; ++i) w6.msg(0x01, text(256, i), {64, 64, 64, 64}, i == 1 ? ping.s : "", 1);
    check_stream("W6-like", role, {}, w6.s);
    // Every fragment length around the 16-byte steps, empty ones, binary, whole messages
    // between (short and 16-bit), controls after every fragment.
    Wire mix(role);
    mix.msg(0x01, text(200, 1), {0, 1, 15, 16, 17, 31, 33, 48, 39})
        .f(0x81, "whole")
        .msg(0x02, bin(300, 2), {125, 125, 0, 50}, pong.s, 0)
        .f(0x82, bin(130, 3))
        .msg(0x01, text(90, 4), {3, 4, 5, 6, 7, 8, 9}, ping.s, 3)
        .msg(0x02, "", {0})
        .msg(0x01, "", {0, 0, 0})
        .f(0x81, text(20, 5));
    check_stream("mixed", role, {}, mix.s);
    // Fragments longer than 125 bytes (16-bit lengths: the full decoder) inside a message.
    Wire longer(role);
    longer.msg(0x01, text(700, 6), {100, 126, 125, 300, 10}).msg(0x02, bin(400, 7), {200, 5, 195});
    check_stream("16-bit fragments", role, {}, longer.s);
    // A message past the deferred-text cap (4096 bytes) in 125-byte fragments.
    Wire big(role);
    big.msg(0x01, text(5000, 8), std::vector<size_t>(40, 125), ping.s, 20);
    check_stream("past the text cap", role, {}, big.s);
    // A close after a message, and one inside a message.
    Wire closes(role);
    closes.msg(0x01, text(100, 9), {40, 60});
    Wire cl(role);
    cl.f(0x88, std::string("\x03\xe8", 2) + "bye");
    closes.msg(0x02, bin(100, 10), {30, 30, 40}, cl.s, 1);
    check_stream("closes", role, {}, closes.s);
  }
}

TEST(ws_fragment_run_invalid_text_at_every_position) {
  // A 3-fragment text message with an invalid byte (or a cut-off character at the end) at
  // every position, after a valid message, a ping inside: the failure, its close and what
  // comes before it are the reference's.
  for (pushwire_ws_role role : kRoles) {
    Wire ping(role);
    ping.f(0x89, "p");
    const std::string good = text(150, 11);
    for (size_t pos = 0; pos <= good.size(); ++pos) {
      std::string t = good;
      if (pos < t.size())
        t[pos] = char(pos % 3 == 0 ? 0xff : pos % 3 == 1 ? 0xc0 : 0x80);
      else
        t += "\xe2\x82";  // ends inside a character
      Wire w(role);
      w.msg(0x01, text(70, 12), {30, 40}).msg(0x01, t, {50, 50, 60}, ping.s, 1).f(0x81, "after");
      check_stream("invalid text", role, {}, w.s);
    }
  }
}

TEST(ws_fragment_run_protocol_errors_and_limits) {
  for (pushwire_ws_role role : kRoles) {
    const std::string a = text(60, 13);
    struct Case {
      const char *name;
      Limits lim;
      std::string wire;
    };
    std::vector<Case> cases;
    auto add = [&](const char *name, Limits lim, Wire &w) { cases.push_back({name, lim, w.s}); };
    Wire w1(role);
    w1.f(0x01, a).f(0x81, a);  // a whole message inside a fragmented one
    add("data frame inside a message", {}, w1);
    Wire w2(role);
    w2.f(0x01, a).f(0x10, a);  // RSV1 on a continuation
    add("RSV bit on a continuation", {}, w2);
    Wire w3(role);
    w3.f(0x80, a);  // a continuation with no message
    add("continuation outside a message", {}, w3);
    Wire w4(role);
    w4.f(0x01, a).f(0x00, a).f(0x09, "x");  // a fragmented ping
    add("fragmented control frame", {}, w4);
    Wire w5(role);
    w5.f(0x02, a).f(0x03, a);  // a reserved opcode
    add("reserved opcode inside a message", {}, w5);
    Wire w6(role);
    w6.msg(0x01, text(300, 14), {50, 50, 50, 50, 50, 50}).msg(0x02, bin(80, 15), {40, 40});
    add("max fragments 5", {0, 0, 5}, w6);
    add("max fragments 6", {0, 0, 6}, w6);
    add("max message 299", {299, 0, 0}, w6);
    add("max message 300", {300, 0, 0}, w6);
    add("max frame 49", {0, 49, 0}, w6);
    add("max frame 50", {0, 50, 0}, w6);
    for (const Case &c : cases) check_stream(c.name, role, c.lim, c.wire);
    // The other role's masking inside a message.
    const std::string wrong = role == PUSHWIRE_WS_SERVER ? frame(0x00, a) : masked_frame(0x00, a);
    Wire w7(role);
    w7.f(0x01, a);
    check_stream("wrong mask bit on a continuation", role, {}, w7.s + wrong);
  }
}

TEST(ws_fragment_run_queue_limit) {
  // More messages than the queue holds (4096 records) in one feed: parsing pauses at the
  // same frame as the full decoder's, and the rest is held until the queue drains.
  for (pushwire_ws_role role : kRoles) {
    Wire w(role);
    for (size_t i = 0; i < 4200; ++i) w.msg(uint8_t(i % 2 ? 0x01 : 0x02), text(6, i), {2, 0, 4});
    const Run want = reference(role, {}, w.s);
    for (bool in_place : {false, true}) {
      const Run got = run(role, {}, w.s, {}, in_place, false);
      CHECK(same(got, want));
      CHECK(got.feeds == std::vector<int>{0});
    }
  }
}
