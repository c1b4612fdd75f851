// Review of session 13's fast paths (session 14): tests for what a second reading found.
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "harness.hpp"
#include "sse_test_util.hpp"
#include "sse_writer.hpp"
#include "ws_test_util.hpp"

using namespace pushwire;

// Data that ends at the last byte of a readable page (an unreadable one follows), with
// several line ends among its last 64 bytes: the writer's data walk moves those bytes from
// a zeroed stack copy, and after each line end it moves the next 64 bytes from the copy
// again, from further in. The copy must hold 64 bytes past its last data byte: with a
// 64-byte copy, a walk after a line end read up to 63 bytes of the stack past it. Those bytes
// never changed the output and the over-reading loads (core/sse_lines.hpp) are not
// instrumented by ASan, so no build saw it; with them instrumented for an experiment, ASan
// reported stack-buffer-overflow on the copy in sse_put_data for "a\nb" here. Data-only
// events, so that the walk's loads are the only ones past a string (and the mmap'd page
// is not tracked by ASan), as in that experiment.
// Every length 1..80, every position of each line end spelling, and texts made only of line
// ends; one event at a time (sse_encode_into with the bound's room) and in batches (AVX2 and
// SSE2), against the reference encoder.
TEST(sse_encode_review_data_at_page_end_line_ends_in_the_copied_tail) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  void *m = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED);
  if (m == MAP_FAILED) return;
  uint8_t *const base = static_cast<uint8_t *>(m);
  CHECK_EQ(mprotect(base + page, page, PROT_NONE), 0);
  size_t checked = 0, failures = 0;
  for (size_t len = 1; len <= 80; ++len) {
    std::string letters;
    for (size_t i = 0; i < len; ++i) letters += char('a' + i % 26);
    std::vector<std::string> texts = {std::string(len, '\n'), std::string(len, '\r')};
    std::string crlf;
    while (crlf.size() < len) crlf += "\r\n";
    crlf.resize(len);
    texts.push_back(crlf);
    for (size_t at = 0; at < len; ++at)
      for (const char *end : {"\n", "\r", "\r\n"}) {
        std::string t = letters;
        for (size_t k = 0; end[k] && at + k < len; ++k) t[at + k] = end[k];
        texts.push_back(t);
        // a second line end 5 bytes on: the walk restarts inside the copy twice
        if (at + 5 < len) {
          t[at + 5] = '\n';
          texts.push_back(t);
        }
      }
    for (const std::string &t : texts) {
      uint8_t *at = base + page - t.size();
      std::memcpy(at, t.data(), t.size());
      pushwire_sse_fields f{};
      f.retry_ms = -1;
      f.data = reinterpret_cast<const char *>(at);
      f.data_len = t.size();
      const std::string want = sse_test::reference_encode(f);
      const SseFields core = sse_fields_from(f);
      const size_t bound = sse_encoded_bound(core);
      std::string out(bound + 1, '\x55');
      size_t written = 0;
      const int rc = sse_encode_into(core, reinterpret_cast<uint8_t *>(&out[0]), bound, &written);
      bool ok = rc == 0 && out.substr(0, written) == want && out[bound] == '\x55';
      for (bool avx2_ok : {true, false}) {
        std::string many(bound + 1, '\x55');
        size_t mw = 0, encoded = 0;
        const int mrc = sse_encode_many(&f, 1, reinterpret_cast<uint8_t *>(&many[0]), bound, &mw, &encoded, avx2_ok);
        ok = ok && mrc == 0 && encoded == 1 && many.substr(0, mw) == want && many[bound] == '\x55';
      }
      if (!ok) {
        harness::fail(__FILE__, __LINE__,
                      "data " + vectors::escape(t) + ": got " + vectors::escape(out.substr(0, written)));
        if (++failures > 5) break;
      }
      ++checked;
    }
  }
  CHECK(checked > 10000);
  munmap(base, 2 * page);
}

namespace {

// A text message of 40 fragments of 125 bytes (5000 bytes), a ping after fragment 35, then
// a whole text message "ok": in the direction of `role` (masked towards a server).
std::string review_long_text(pushwire_ws_role role, const std::string &payload) {
  std::string wire;
  const char *key = "\x5a\x0f\xc3\x81";
  auto put = [&](uint8_t b0, const std::string &p) {
    wire += role == PUSHWIRE_WS_SERVER ? wstest::masked_frame(b0, p, key) : wstest::frame(b0, p);
  };
  for (size_t i = 0; i < 40; ++i) {
    put(uint8_t((i == 39 ? 0x80 : 0) | (i == 0 ? 0x01 : 0x00)), payload.substr(i * 125, 125));
    if (i == 35) put(0x89, "p");
  }
  put(0x81, "ok");
  return wire;
}

}  // namespace

TEST(ws_fragmented_review_text_past_the_deferral_cap) {
  // The run of fragmented messages validates text it has deferred for 4096 bytes in the
  // middle of a message (check_text, before the 33rd fragment: 4000 bytes) and the rest at
  // the end. A euro sign cut by that point must pass; an invalid byte before, at and after
  // it must fail the handle with 1007, before the ping inside the message is reported when
  // it came before the ping, as the full decoder (one byte per feed) does; exact events and
  // output (the server's close), both roles.
  for (pushwire_ws_role role : {PUSHWIRE_WS_SERVER, PUSHWIRE_WS_CLIENT}) {
    std::string good(5000, 'a');
    for (size_t i = 0; i < good.size(); ++i) good[i] = char('a' + i % 26);
    good.replace(3999, 3, "\xe2\x82\xac");  // across the 4000-byte check
    good.replace(4095, 2, "\xc3\xa9");      // and one across byte 4096
    const std::string close_payload = wstest::bytes("03 ef") + "invalid UTF-8 in text message";
    for (long bad : {-1L, 0L, 1L, 3998L, 3999L, 4000L, 4001L, 4002L, 4095L, 4096L, 4097L, 4999L}) {
      std::string t = good;
      if (bad >= 0) t[size_t(bad)] = char(0xff);
      const std::string wire = review_long_text(role, t);
      const std::string want = bad < 0               ? "ping \"p\" | text " + vectors::escape(t) + " | text \"ok\""
                               : bad < 36 * 125 ? "close 1007 failed"
                                                : "ping \"p\" | close 1007 failed";
      for (bool bytewise : {false, true}) {
        wstest::Conn c(role);
        CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
        CHECK_EQ(c.opt(PUSHWIRE_WS_OPT_AUTO_PONG, 0), 0);
        int rc = 0;
        std::string events;
        if (bytewise) {
          for (size_t i = 0; i < wire.size() && rc == 0; ++i) rc = c.feed(wire.substr(i, 1));
        } else {
          rc = c.feed(wire);
        }
        events = c.event_line();
        std::string out = c.out();
        if (role == PUSHWIRE_WS_CLIENT && out.size() == 6 + close_payload.size() && out[1] == char(0x9f)) {
          // the client's close is masked with a key of its own: compare it unmasked
          const std::string key = out.substr(2, 4);
          for (size_t i = 6; i < out.size(); ++i) out[i - 4] = char(out[i] ^ key[(i - 6) % 4]);
          out[1] = 0x1f;
          out.resize(out.size() - 4);
        }
        const bool ok = events == want && (rc == 0 || (bad >= 0 && rc == PUSHWIRE_ERR_BAD_UTF8)) &&
                        c.last_error == (bad < 0 ? 0 : PUSHWIRE_ERR_BAD_UTF8) &&
                        out == (bad < 0 ? "" : wstest::bytes("88 1f") + close_payload);
        CHECK(ok);
        if (!ok) {
          harness::fail(__FILE__, __LINE__,
                        std::string(role == PUSHWIRE_WS_SERVER ? "server" : "client") +
                            (bytewise ? " bytewise" : " whole") + " bad " + std::to_string(bad) + " rc " +
                            std::to_string(rc) + ": " + events.substr(0, 60) + " ... " +
                            events.substr(events.size() > 60 ? events.size() - 60 : 0) + " (want ... " +
                            want.substr(want.size() > 60 ? want.size() - 60 : 0) + ") last " +
                            std::to_string(c.last_error) + " out " + vectors::escape(out));
          return;
        }
      }
    }
  }
}
