// The WebSocket handle through the C ABI: frames, errors with exact close frames, the close
// handshake, streaming, limits, keepalive, backpressure, zero copy, round trips, memory.
#include <algorithm>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "harness.hpp"
#include "ws_session.hpp"
#include "ws_test_util.hpp"

using namespace wstest;

namespace {

const char kKey[] = "\x37\xfa\x21\x3d";

std::string u16(unsigned v) { return std::string(1, char(v >> 8)) + char(v & 0xff); }

// What a server queues when it fails or closes: an unmasked close frame.
std::string server_close(unsigned code, const std::string &reason = "") {
  return frame(0x88, code ? u16(code) + reason : "");
}

// A server handle past the handshake (OPT_HANDSHAKE 0).
struct Server : Conn {
  Server() : Conn(PUSHWIRE_WS_SERVER) { CHECK_EQ(opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0); }
};
struct Client : Conn {
  Client() : Conn(PUSHWIRE_WS_CLIENT) {
    CHECK_EQ(opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
    random(std::string(kKey, 4));
  }
};

// Feeds `in` to a fresh server and checks the failure: one CLOSE event flagged FAILED with
// `code` and `reason`, the sticky `error`, the exact close frame queued.
void expect_server_failure(const std::string &in, unsigned code, int error, const char *reason,
                           const std::vector<std::string> &before = {}) {
  Server s;
  CHECK_EQ(s.feed(in), 0);
  std::vector<std::string> ev = s.events(true);
  std::vector<std::string> want = before;
  want.push_back("close " + std::to_string(code) + " failed " + vectors::escape(std::string(reason)));
  if (ev != want) {
    std::string got;
    for (auto &e : ev) got += "\n      " + e;
    harness::fail(__FILE__, __LINE__, std::string("events for ") + reason + ":" + got);
  }
  CHECK_EQ(s.last_error, error);
  CHECK_EQ(pushwire_ws_next_event(s.ws, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  pushwire_ws_event e;
  CHECK_EQ(pushwire_ws_next_event(s.ws, &e), error);  // sticky
  CHECK_EQ(s.feed(masked_frame(0x81, "x")), error);
  CHECK_EQ(pushwire_ws_close_code_hint(s.ws), int(code));
  CHECK(std::string(pushwire_ws_error_reason(s.ws)) == reason);
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_FAILED);
  std::string out = s.out();
  std::string close = server_close(code, reason);
  CHECK_BYTES(out.data(), out.size(), close.data(), close.size());
  // The receive side failed: data is refused, the close is already out.
  CHECK_EQ(pushwire_ws_send_text(s.ws, reinterpret_cast<const uint8_t *>("x"), 1), PUSHWIRE_ERR_CLOSED);
  CHECK_EQ(pushwire_ws_close(s.ws, 1000, nullptr, 0), PUSHWIRE_ERR_CLOSED);
}

}  // namespace

TEST(ws_session_server_receives_rfc_examples) {
  Server s;
  CHECK_EQ(s.feed(bytes("81 85 37 fa 21 3d 7f 9f 4d 51 58")), 0);
  CHECK(s.events() == std::vector<std::string>{"text \"Hello\""});
  CHECK_EQ(s.last_error, 0);
  CHECK_EQ(s.out().size(), 0);
  // Fragmented "Hello" with a ping between the fragments: the ping comes first, the pong
  // goes out at once, the message is whole.
  CHECK_EQ(s.feed(masked_frame(0x01, "Hel") + masked_frame(0x89, "ping!") + masked_frame(0x80, "lo")), 0);
  CHECK(s.events() == (std::vector<std::string>{"ping \"ping!\"", "text \"Hello\""}));
  std::string pong = s.out();
  CHECK_STR(pong.data(), pong.size(), "\x8a\x05ping!");
  CHECK_EQ(s.feed(masked_frame(0x82, std::string(256, 'b'))), 0);
  CHECK(s.events() == std::vector<std::string>{"binary " + vectors::escape(std::string(256, 'b'))});
  CHECK_EQ(s.feed(masked_frame(0x82, std::string(65536, '\0'))), 0);
  pushwire_ws_event ev;
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
  CHECK_EQ(ev.type, PUSHWIRE_WS_EV_BINARY);
  CHECK_EQ(ev.flags, PUSHWIRE_WS_EVF_FIN | PUSHWIRE_WS_EVF_FIRST);
  CHECK_EQ(ev.data.len, 65536);
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_OPEN);
}

TEST(ws_session_client_receives_rfc_examples) {
  Client c;
  CHECK_EQ(c.feed(bytes("81 05 48 65 6c 6c 6f")), 0);
  CHECK_EQ(c.feed(bytes("01 03 48 65 6c")), 0);
  CHECK_EQ(c.feed(bytes("80 02 6c 6f")), 0);
  CHECK(c.events() == (std::vector<std::string>{"text \"Hello\"", "text \"Hello\""}));
  // An unmasked ping is answered with the RFC's masked pong (key 37 fa 21 3d).
  CHECK_EQ(c.feed(bytes("89 05 48 65 6c 6c 6f")), 0);
  CHECK(c.events() == std::vector<std::string>{"ping \"Hello\""});
  std::string out = c.out();
  std::string want = bytes("8a 85 37 fa 21 3d 7f 9f 4d 51 58");
  CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
  CHECK_EQ(c.feed(bytes("82 7E 01 00") + std::string(256, 'x')), 0);
  CHECK_EQ(c.feed(bytes("82 7F 00 00 00 00 00 01 00 00") + std::string(65536, 'y')), 0);
  std::vector<std::string> ev = c.events();
  CHECK_EQ(ev.size(), 2);
}

TEST(ws_session_header_violations_fail_with_1002) {
  expect_server_failure(masked_frame(0xc1, "x"), 1002, PUSHWIRE_ERR_PROTOCOL, "reserved bits set");
  expect_server_failure(masked_frame(0x83, "x"), 1002, PUSHWIRE_ERR_PROTOCOL, "reserved opcode");
  expect_server_failure(masked_frame(0x8b, "x"), 1002, PUSHWIRE_ERR_PROTOCOL, "reserved opcode");
  expect_server_failure(masked_frame(0x80, "x"), 1002, PUSHWIRE_ERR_PROTOCOL, "continuation frame without a message");
  expect_server_failure(masked_frame(0x01, "a") + masked_frame(0x81, "b"), 1002, PUSHWIRE_ERR_PROTOCOL,
                        "new message inside a fragmented message");
  expect_server_failure(masked_frame(0x09, "x"), 1002, PUSHWIRE_ERR_PROTOCOL, "fragmented control frame");
  expect_server_failure(masked_frame(0x89, std::string(126, 'p')), 1002, PUSHWIRE_ERR_PROTOCOL,
                        "control frame too long");
  expect_server_failure(bytes("81 05 48 65 6c 6c 6f"), 1002, PUSHWIRE_ERR_PROTOCOL, "unmasked frame from client");
  expect_server_failure(bytes("82 fe 00 05 37 fa 21 3d"), 1002, PUSHWIRE_ERR_PROTOCOL, "non-minimal length");
  expect_server_failure(bytes("82 ff 80 00 00 00 00 00 00 00"), 1002, PUSHWIRE_ERR_PROTOCOL,
                        "64-bit length with the top bit set");
  // Messages before the violation are delivered first.
  expect_server_failure(masked_frame(0x81, "ok") + masked_frame(0xf1, "x"), 1002, PUSHWIRE_ERR_PROTOCOL,
                        "reserved bits set", {"text \"ok\""});
}

TEST(ws_session_client_rejects_masked_frames) {
  Client c;
  CHECK_EQ(c.feed(bytes("81 85 37 fa 21 3d 7f 9f 4d 51 58")), 0);
  CHECK(c.events(true) == std::vector<std::string>{"close 1002 failed \"masked frame from server\""});
  CHECK_EQ(c.last_error, PUSHWIRE_ERR_PROTOCOL);
  // The client's close frame is masked with the next key.
  std::string out = c.out();
  std::string want = masked_frame(0x88, u16(1002) + "masked frame from server");
  CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
}

TEST(ws_session_limits) {
  {
    Server s;
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, 10), 0);
    CHECK_EQ(s.feed(masked_frame(0x82, std::string(10, 'a'))), 0);
    CHECK_EQ(s.events().size(), 1);
    // Judged on the header alone: the payload never has to arrive.
    CHECK_EQ(s.feed(bytes("82 8b 00 00 00 00")), 0);
    CHECK(s.events(true) == std::vector<std::string>{"close 1009 failed \"frame too big\""});
    CHECK_EQ(s.last_error, PUSHWIRE_ERR_MESSAGE_TOO_BIG);
    std::string out = s.out(), want = server_close(1009, "frame too big");
    CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
  }
  {
    Server s;
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE, 10), 0);
    CHECK_EQ(s.feed(masked_frame(0x02, std::string(6, 'a')) + masked_frame(0x80, std::string(4, 'b'))), 0);
    CHECK(s.events() == std::vector<std::string>{"binary \"aaaaaabbbb\""});
    CHECK_EQ(s.feed(masked_frame(0x02, std::string(6, 'a')) + masked_frame(0x80, std::string(5, 'b'))), 0);
    CHECK(s.events(true) == std::vector<std::string>{"close 1009 failed \"message too big\""});
    CHECK_EQ(s.last_error, PUSHWIRE_ERR_MESSAGE_TOO_BIG);
    std::string out = s.out(), want = server_close(1009, "message too big");
    CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
  }
  {
    Server s;
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_FRAGMENTS, 3), 0);
    CHECK_EQ(s.feed(masked_frame(0x01, "a") + masked_frame(0x00, "b") + masked_frame(0x80, "c")), 0);
    CHECK(s.events() == std::vector<std::string>{"text \"abc\""});
    CHECK_EQ(s.feed(masked_frame(0x01, "a") + masked_frame(0x00, "b") + masked_frame(0x00, "c") +
                    masked_frame(0x80, "d")),
             0);
    CHECK(s.events(true) == std::vector<std::string>{"close 1008 failed \"too many fragments\""});
    CHECK_EQ(s.last_error, PUSHWIRE_ERR_POLICY);
    std::string out = s.out(), want = server_close(1008, "too many fragments");
    CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
  }
  {
    // Streaming mode has no message limit, only the frame limit.
    Server s;
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE, 4), 0);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_STREAMING, 1), 0);
    CHECK_EQ(s.feed(masked_frame(0x02, "abcd") + masked_frame(0x80, "efgh")), 0);
    std::vector<std::string> ev = s.events();
    CHECK(ev == std::vector<std::string>{"binary \"abcdefgh\""});  // chunks of one feed are joined
    CHECK_EQ(s.last_error, 0);
  }
}

TEST(ws_session_utf8_fail_fast) {
  expect_server_failure(masked_frame(0x81, "a\xff"), 1007, PUSHWIRE_ERR_BAD_UTF8, "invalid UTF-8 in text message");
  // Truncated at the end of the message.
  expect_server_failure(masked_frame(0x81, "a\xe2\x82"), 1007, PUSHWIRE_ERR_BAD_UTF8,
                        "invalid UTF-8 in text message");
  // A character split across fragments is fine; an invalid prefix fails at once.
  {
    Server s;
    CHECK_EQ(s.feed(masked_frame(0x01, "\xe2\x82") + masked_frame(0x80, "\xac")), 0);
    CHECK(s.events() == std::vector<std::string>{"text \"\\xe2\\x82\\xac\""});
  }
  {
    // F4 90 can never be valid: the failure comes with that byte, in the middle of the
    // first fragment, before the rest of the frame (or the message) arrives.
    Server s;
    std::string f = masked_frame(0x01, std::string("ab\xf4\x90") + std::string(100, 'x'));
    CHECK_EQ(s.feed(f.substr(0, 6 + 4)), 0);
    CHECK(s.events(true) == std::vector<std::string>{"close 1007 failed \"invalid UTF-8 in text message\""});
    CHECK_EQ(s.last_error, PUSHWIRE_ERR_BAD_UTF8);
  }
  {
    // Binary data is not validated.
    Server s;
    CHECK_EQ(s.feed(masked_frame(0x82, "\xff\xfe")), 0);
    CHECK_EQ(s.events().size(), 1);
  }
}

TEST(ws_session_close_handshake_server_side) {
  {
    // The client closes: reported, echoed with the same code, both directions closed.
    Server s;
    CHECK_EQ(s.feed(masked_frame(0x88, u16(1000) + "bye")), 0);
    CHECK(s.events() == std::vector<std::string>{"close 1000 \"bye\""});
    CHECK_EQ(s.last_error, 0);
    std::string out = s.out(), want = server_close(1000);
    CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
    CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_CLOSED);
    // Bytes after the close are ignored; sends are refused.
    CHECK_EQ(s.feed(masked_frame(0x81, "late")), 0);
    CHECK(s.events().empty());
    CHECK_EQ(pushwire_ws_send_text(s.ws, reinterpret_cast<const uint8_t *>("x"), 1), PUSHWIRE_ERR_CLOSED);
    CHECK_EQ(pushwire_ws_feed_eof(s.ws), 0);
    CHECK(s.events().empty());
    CHECK_EQ(s.last_error, 0);
  }
  {
    // An empty close is reported as 1005 and answered with an empty close.
    Server s;
    CHECK_EQ(s.feed(masked_frame(0x88, "")), 0);
    CHECK(s.events() == std::vector<std::string>{"close 1005 \"\""});
    std::string out = s.out();
    CHECK_BYTES(out.data(), out.size(), "\x88\x00", 2);
  }
  {
    // We close first: data still arrives until the peer's close; sending is refused.
    Server s;
    CHECK_EQ(pushwire_ws_close(s.ws, 1001, "going", 5), 0);
    std::string out = s.out(), want = server_close(1001, "going");
    CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
    CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_CLOSING);
    CHECK_EQ(pushwire_ws_send_binary(s.ws, nullptr, 0), PUSHWIRE_ERR_CLOSED);
    CHECK_EQ(pushwire_ws_ping(s.ws, nullptr, 0), PUSHWIRE_ERR_CLOSED);
    CHECK_EQ(pushwire_ws_close(s.ws, 1000, nullptr, 0), PUSHWIRE_ERR_CLOSED);
    CHECK_EQ(s.feed(masked_frame(0x81, "still") + masked_frame(0x89, "p") + masked_frame(0x88, u16(1001))), 0);
    CHECK(s.events() == (std::vector<std::string>{"text \"still\"", "ping \"p\"", "close 1001 \"\""}));
    CHECK_EQ(s.out().size(), 0);  // no pong and no second close after ours
    CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_CLOSED);
  }
  {
    // AUTO_CLOSE off: the peer's close is reported, the answer is ours to send; data may
    // still go out before it (only our close ends sending).
    Server s;
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_CLOSE, 0), 0);
    CHECK_EQ(s.feed(masked_frame(0x88, u16(4000) + "app")), 0);
    CHECK(s.events() == std::vector<std::string>{"close 4000 \"app\""});
    CHECK_EQ(s.out().size(), 0);
    CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_CLOSING);
    CHECK_EQ(pushwire_ws_send_text(s.ws, reinterpret_cast<const uint8_t *>("last"), 4), 0);
    CHECK_EQ(pushwire_ws_close(s.ws, 4000, nullptr, 0), 0);
    std::string out = s.out(), want = frame(0x81, "last") + server_close(4000);
    CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
    CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_CLOSED);
  }
}

TEST(ws_session_close_frame_errors) {
  expect_server_failure(masked_frame(0x88, "\x03"), 1002, PUSHWIRE_ERR_PROTOCOL, "close frame with a 1-byte payload");
  const unsigned bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535};
  for (unsigned c : bad)
    expect_server_failure(masked_frame(0x88, u16(c)), 1002, PUSHWIRE_ERR_PROTOCOL, "invalid close code");
  expect_server_failure(masked_frame(0x88, u16(1000) + "\xc0\xaf"), 1007, PUSHWIRE_ERR_BAD_UTF8,
                        "invalid UTF-8 in close reason");
  const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
  for (unsigned c : good) {
    Server s;
    CHECK_EQ(s.feed(masked_frame(0x88, u16(c))), 0);
    CHECK(s.events() == std::vector<std::string>{"close " + std::to_string(c) + " \"\""});
    std::string out = s.out(), want = server_close(c);
    CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
  }
}

TEST(ws_session_eof) {
  {
    Server s;
    CHECK_EQ(s.feed(masked_frame(0x81, "hi") + masked_frame(0x01, "part")), 0);
    CHECK_EQ(pushwire_ws_feed_eof(s.ws), 0);
    CHECK(s.events(true) == (std::vector<std::string>{"text \"hi\"", "close 1006 failed \"connection lost\""}));
    CHECK_EQ(s.last_error, PUSHWIRE_ERR_CONNECTION_LOST);
    CHECK_EQ(s.out().size(), 0);  // 1006 never goes on the wire
    CHECK_EQ(pushwire_ws_close_code_hint(s.ws), 1006);
    CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_FAILED);
    // Closing still works after a receive failure.
    CHECK_EQ(pushwire_ws_close(s.ws, 1001, nullptr, 0), 0);
    std::string out = s.out(), want = server_close(1001);
    CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
  }
  {
    Server s;
    CHECK_EQ(pushwire_ws_feed_eof(s.ws), 0);
    CHECK(s.events() == std::vector<std::string>{"close 1006 failed"});
    CHECK_EQ(s.last_error, PUSHWIRE_ERR_CONNECTION_LOST);
    CHECK_EQ(s.feed("x"), PUSHWIRE_ERR_CONNECTION_LOST);
  }
}

TEST(ws_session_failure_without_auto_close) {
  Server s;
  CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_CLOSE, 0), 0);
  CHECK_EQ(s.feed(masked_frame(0x81, "\xff")), 0);
  CHECK(s.events() == std::vector<std::string>{"close 1007 failed"});
  CHECK_EQ(s.last_error, PUSHWIRE_ERR_BAD_UTF8);
  CHECK_EQ(s.out().size(), 0);
  CHECK_EQ(pushwire_ws_close_code_hint(s.ws), 1007);
  CHECK_EQ(pushwire_ws_send_text(s.ws, reinterpret_cast<const uint8_t *>("x"), 1), PUSHWIRE_ERR_CLOSED);
  CHECK_EQ(pushwire_ws_close(s.ws, 1007, "bad text", 8), 0);
  std::string out = s.out(), want = server_close(1007, "bad text");
  CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_FAILED);
}

TEST(ws_session_auto_pong) {
  {
    Server s;
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_AUTO_PONG, 0), 0);
    CHECK_EQ(s.feed(masked_frame(0x89, "x")), 0);
    CHECK(s.events() == std::vector<std::string>{"ping \"x\""});
    CHECK_EQ(s.out().size(), 0);
    CHECK_EQ(pushwire_ws_pong(s.ws, reinterpret_cast<const uint8_t *>("x"), 1), 0);
    std::string out = s.out();
    CHECK_STR(out.data(), out.size(), "\x8a\x01x");
  }
  {
    // The pong is skipped when the output limit would be passed.
    Server s;
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_OUTPUT_BUFFER, 8), 0);
    CHECK_EQ(s.feed(masked_frame(0x89, "12345") + masked_frame(0x89, "67")), 0);
    CHECK(s.events() == (std::vector<std::string>{"ping \"12345\"", "ping \"67\""}));
    std::string out = s.out();
    CHECK_STR(out.data(), out.size(), "\x8a\x05" "12345");
    // A pong is still reported when it arrives.
    CHECK_EQ(s.feed(masked_frame(0x8a, "pp")), 0);
    CHECK(s.events() == std::vector<std::string>{"pong \"pp\""});
  }
}

TEST(ws_session_streaming_chunks) {
  Server s;
  CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_STREAMING, 1), 0);
  // "a€b" split inside the euro sign, across frames and feeds.
  std::string f1 = masked_frame(0x01, "a\xe2"), f2 = masked_frame(0x00, "\x82\xac"), f3 = masked_frame(0x80, "b");
  CHECK_EQ(s.feed(f1), 0);
  pushwire_ws_event ev;
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
  CHECK_EQ(ev.type, PUSHWIRE_WS_EV_TEXT);
  CHECK_EQ(ev.flags, PUSHWIRE_WS_EVF_FIRST);
  CHECK_STR(ev.data.ptr, ev.data.len, "a");
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 0);
  CHECK_EQ(s.feed(f2.substr(0, 7)), 0);  // header + first continuation byte: still no whole character
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 0);
  CHECK_EQ(s.feed(f2.substr(7)), 0);
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
  CHECK_EQ(ev.flags, 0);
  CHECK_STR(ev.data.ptr, ev.data.len, "\xe2\x82\xac");
  CHECK_EQ(s.feed(f3), 0);
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
  CHECK_EQ(ev.flags, PUSHWIRE_WS_EVF_FIN);
  CHECK_STR(ev.data.ptr, ev.data.len, "b");
  // A one-frame message is one chunk with both flags; an empty final fragment in a later
  // feed gives an empty FIN chunk.
  CHECK_EQ(s.feed(masked_frame(0x82, "xy") + masked_frame(0x02, "z")), 0);
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
  CHECK_EQ(ev.flags, PUSHWIRE_WS_EVF_FIRST | PUSHWIRE_WS_EVF_FIN);
  CHECK_STR(ev.data.ptr, ev.data.len, "xy");
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
  CHECK_EQ(ev.flags, PUSHWIRE_WS_EVF_FIRST);
  CHECK_STR(ev.data.ptr, ev.data.len, "z");
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 0);
  CHECK_EQ(s.feed(masked_frame(0x80, "")), 0);
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
  CHECK_EQ(ev.flags, PUSHWIRE_WS_EVF_FIN);
  CHECK_EQ(ev.data.len, 0);
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 0);
  // A failure hands out the valid characters before the bad byte first.
  CHECK_EQ(s.feed(masked_frame(0x01, "ok\xe2\x82") + masked_frame(0x80, "\xff")), 0);
  CHECK(s.events(true) ==
        (std::vector<std::string>{"text \"ok\"", "close 1007 failed \"invalid UTF-8 in text message\""}));
}

TEST(ws_session_streaming_bounded_memory) {
  // A 64 MiB message in 64 KiB reads: memory stays near one read.
  AllocCounter ac;
  {
    Conn s(PUSHWIRE_WS_SERVER, &ac.api);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_STREAMING, 1), 0);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, uint64_t(1) << 40), 0);
    const uint64_t total = uint64_t(64) << 20;
    std::string hdr = bytes("81 ff 00 00 00 00 04 00 00 00 00 00 00 00");  // 64 MiB, key 0
    CHECK_EQ(s.feed(hdr), 0);
    std::string chunk(65536, 'a');
    uint64_t got = 0;
    size_t peak = 0;
    int fin = 0;
    for (uint64_t sent = 0; sent < total; sent += chunk.size()) {
      CHECK_EQ(s.feed(chunk), 0);
      pushwire_ws_event ev;
      while (pushwire_ws_next_event(s.ws, &ev) == 1) {
        got += ev.data.len;
        fin += (ev.flags & PUSHWIRE_WS_EVF_FIN) != 0;
      }
      if (ac.live > peak) peak = ac.live;
    }
    CHECK_EQ(got, total);
    CHECK_EQ(fin, 1);
    CHECK(peak < 200 * 1024);
  }
  CHECK_EQ(ac.live, 0);
}

// Large messages back to back, fed in 64 KiB reads and drained after each, as a server
// does. Each read ends one message and begins the next: the arena keeps the capacity of
// one message (no release, no growth to twice its size, no second copy) and is handed
// back by an idle tick. Copying and in-place feeds, text and binary, give the same events.
TEST(ws_session_large_messages_back_to_back_memory) {
  const size_t len = size_t(4) << 20;
  std::string a(len, 'a'), b(len, 'b'), c(len, '\xc3');
  for (size_t i = 1; i < len; i += 2) c[i] = '\xa9';  // "é" repeated: multi-byte text
  a[len / 2] = 'X';
  const std::string wire = masked_frame(0x82, a) + masked_frame(0x81, c) + masked_frame(0x82, b) + masked_frame(0x89, "p");
  for (int inplace = 0; inplace < 2; ++inplace) {
    AllocCounter ac;
    {
      Conn s(PUSHWIRE_WS_SERVER, &ac.api);
      CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
      const size_t idle = ac.live;
      std::string copy = wire;
      std::vector<std::string> got;
      size_t peak = 0, allocs_after_first = 0;
      for (size_t at = 0; at < wire.size(); at += 65536) {
        const size_t n = std::min<size_t>(65536, wire.size() - at);
        const int rc = inplace ? pushwire_ws_feed_mutable(s.ws, reinterpret_cast<uint8_t *>(&copy[at]), n)
                               : pushwire_ws_feed(s.ws, reinterpret_cast<const uint8_t *>(wire.data() + at), n);
        CHECK_EQ(rc, 0);
        if (ac.live > peak) peak = ac.live;
        pushwire_ws_event ev;
        while (pushwire_ws_next_event(s.ws, &ev) == 1) {
          got.push_back(std::to_string(ev.type) + ":" + std::to_string(ev.data.len));
          if (ev.type == PUSHWIRE_WS_EV_BINARY || ev.type == PUSHWIRE_WS_EV_TEXT) {
            const std::string &want = got.size() == 1 ? a : got.size() == 2 ? c : b;
            CHECK(std::string(reinterpret_cast<const char *>(ev.data.ptr), ev.data.len) == want);
            if (got.size() == 1) allocs_after_first = ac.allocs;
          }
        }
        s.out();
      }
      const std::string bin = std::to_string(PUSHWIRE_WS_EV_BINARY) + ":4194304";
      CHECK(got == (std::vector<std::string>{bin, std::to_string(PUSHWIRE_WS_EV_TEXT) + ":4194304", bin,
                                             std::to_string(PUSHWIRE_WS_EV_PING) + ":1"}));
      // One message and one held read, not two messages.
      CHECK(peak < len + 4 * 65536);
      // After the first message only the held reads allocate (one per message, at most a few).
      CHECK(ac.allocs - allocs_after_first <= 8);
      CHECK(ac.live > idle + len / 2);  // kept while the connection is busy
      CHECK_EQ(pushwire_ws_tick(s.ws, 0, nullptr), 0);
      CHECK_EQ(pushwire_ws_tick(s.ws, 10, nullptr), 0);  // idle: everything handed back
      CHECK_EQ(ac.live, idle);
    }
    CHECK_EQ(ac.live, 0);
  }
}

// Messages of many sizes (some fragmented, with pings between fragments) fed in reads of
// random sizes, drained after every read or only every few reads, copying and in place:
// whichever area a message is reassembled in (arena, spare, after a wait for the drain),
// every event has the bytes sent, in order. After a warm-up the areas stop allocating.
TEST(ws_session_reassembly_across_reads_and_areas) {
  uint32_t seed = 99;
  auto rnd = [&](uint32_t n) {
    seed = seed * 1664525u + 1013904223u;
    return (seed >> 8) % n;
  };
  std::string wire;
  std::vector<std::string> want;
  const size_t sizes[] = {0, 5, 125, 126, 1000, 4000, 65535, 65536, 70000, 200000};
  for (int m = 0; m < 120; ++m) {
    std::string msg(sizes[rnd(10)], 'a');
    for (char &c : msg) c = char('a' + rnd(26));
    const bool text = rnd(2);
    if (rnd(4) == 0 && msg.size() > 10) {  // three fragments, a ping after the first
      const size_t a = msg.size() / 3, b = 2 * msg.size() / 3;
      wire += masked_frame(text ? 0x01 : 0x02, msg.substr(0, a));
      wire += masked_frame(0x89, "pi");
      want.push_back("ping:pi");
      wire += masked_frame(0x00, msg.substr(a, b - a));
      wire += masked_frame(0x80, msg.substr(b));
    } else {
      wire += masked_frame(text ? 0x81 : 0x82, msg);
    }
    want.push_back((text ? "text:" : "binary:") + msg);
  }
  for (int mode = 0; mode < 4; ++mode) {
    const bool inplace = mode & 1, lazy = mode & 2;
    AllocCounter ac;
    Conn s(PUSHWIRE_WS_SERVER, &ac.api);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_INPUT_BUFFER, 64u << 20), 0);
    std::string copy = wire;
    std::vector<std::string> got;
    size_t allocs_at_half = 0;
    auto drain = [&] {
      pushwire_ws_event ev;
      while (pushwire_ws_next_event(s.ws, &ev) == 1) {
        const std::string data(reinterpret_cast<const char *>(ev.data.ptr), ev.data.len);
        got.push_back((ev.type == PUSHWIRE_WS_EV_TEXT ? "text:" : ev.type == PUSHWIRE_WS_EV_BINARY ? "binary:" : "ping:") +
                      data);
      }
      s.out();
    };
    for (size_t at = 0, reads = 0; at < wire.size(); ++reads) {
      const size_t n = std::min<size_t>(wire.size() - at, 1 + rnd(rnd(4) == 0 ? 300000 : 70000));
      const int rc = inplace ? pushwire_ws_feed_mutable(s.ws, reinterpret_cast<uint8_t *>(&copy[at]), n)
                             : pushwire_ws_feed(s.ws, reinterpret_cast<const uint8_t *>(wire.data() + at), n);
      CHECK_EQ(rc, 0);
      at += n;
      if (!lazy || reads % 3 == 2) drain();
      if (!allocs_at_half && at > wire.size() / 2) allocs_at_half = ac.allocs;
    }
    drain();
    CHECK_EQ(got.size(), want.size());
    CHECK(got == want);
    if (!lazy) CHECK(ac.allocs - allocs_at_half < 40);  // held reads only, not the areas
  }
}

// One 16 MiB message: the arena holds it while its event is out, and an idle tick (or an
// empty pull after the first idle tick) returns the memory.
TEST(ws_session_16mib_message_then_idle_tick_returns_memory) {
  AllocCounter ac;
  Conn s(PUSHWIRE_WS_SERVER, &ac.api);
  CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
  const size_t idle = ac.live;
  const size_t len = size_t(16) << 20;
  const std::string wire = masked_frame(0x82, std::string(len, 'z'));
  for (size_t at = 0; at < wire.size(); at += 65536) CHECK_EQ(s.feed(wire.substr(at, 65536)), 0);
  pushwire_ws_event ev;
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
  CHECK_EQ(ev.data.len, len);
  CHECK(ac.live >= idle + len);
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 0);
  CHECK_EQ(pushwire_ws_tick(s.ws, 0, nullptr), 0);   // input since the last tick: busy
  CHECK(ac.live >= idle + len);
  CHECK_EQ(pushwire_ws_tick(s.ws, 10, nullptr), 0);  // nothing since: idle
  CHECK_EQ(ac.live, idle);
}

namespace {
const uint8_t *u8(const char *s) { return reinterpret_cast<const uint8_t *>(s); }
}  // namespace

TEST(ws_session_sending_frames) {
  Server s;
  CHECK_EQ(pushwire_ws_send_text(s.ws, u8("Hello"), 5), 0);
  CHECK_EQ(pushwire_ws_send_binary(s.ws, nullptr, 0), 0);
  CHECK_EQ(pushwire_ws_ping(s.ws, u8("Hello"), 5), 0);
  CHECK_EQ(pushwire_ws_pong(s.ws, nullptr, 0), 0);
  std::string out = s.out(), want = bytes("81 05 48 65 6c 6c 6f 82 00 89 05 48 65 6c 6c 6f 8a 00");
  CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
  // Bad arguments.
  CHECK_EQ(pushwire_ws_send_text(s.ws, u8("\xff"), 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_send_text(s.ws, nullptr, 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_ping(s.ws, u8(std::string(126, 'x').c_str()), 126), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_close(s.ws, 1005, nullptr, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_close(s.ws, 1006, nullptr, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_close(s.ws, 1015, nullptr, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_close(s.ws, 999, nullptr, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_close(s.ws, 5000, nullptr, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_close(s.ws, 0, "r", 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  std::string r124(124, 'r');
  CHECK_EQ(pushwire_ws_close(s.ws, 1000, r124.data(), 124), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_close(s.ws, 1000, "\xc3", 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(s.out().size(), 0);
  // Without outgoing validation, invalid text goes out as given.
  Server raw;
  CHECK_EQ(raw.opt(PUSHWIRE_WS_OPT_VALIDATE_OUTGOING_UTF8, 0), 0);
  CHECK_EQ(pushwire_ws_send_text(raw.ws, u8("\xff"), 1), 0);
  CHECK_EQ(pushwire_ws_close(raw.ws, 0, nullptr, 0), 0);
  out = raw.out();
  CHECK_BYTES(out.data(), out.size(), "\x81\x01\xff\x88\x00", 5);
  // A 123-byte reason is the most that fits.
  Server big;
  std::string r123(123, 'r');
  CHECK_EQ(pushwire_ws_close(big.ws, 3000, r123.data(), 123), 0);
  out = big.out();
  want = server_close(3000, r123);
  CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
}

TEST(ws_session_client_masks_every_frame_with_a_fresh_key) {
  Client c;
  c.random(bytes("01 02 03 04 05 06 07 08 09 0a 0b 0c"));
  CHECK_EQ(pushwire_ws_send_text(c.ws, u8("Hello"), 5), 0);
  CHECK_EQ(pushwire_ws_send_binary(c.ws, u8("ab"), 2), 0);
  CHECK_EQ(pushwire_ws_close(c.ws, 1000, nullptr, 0), 0);
  std::string out = c.out();
  std::string want = masked_frame(0x81, "Hello", "\x01\x02\x03\x04") + masked_frame(0x82, "ab", "\x05\x06\x07\x08") +
                     masked_frame(0x88, u16(1000), "\x09\x0a\x0b\x0c");
  CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
}

namespace {
int failing_random(void *, uint8_t *, size_t) { return -1; }
}  // namespace

TEST(ws_session_random_failure_is_internal) {
  Client c;
  pushwire_ws_set_random(c.ws, failing_random, nullptr);
  CHECK_EQ(pushwire_ws_send_text(c.ws, u8("x"), 1), PUSHWIRE_ERR_INTERNAL);
  CHECK_EQ(c.out().size(), 0);
  CHECK_EQ(pushwire_ws_send_text(c.ws, u8("x"), 1), PUSHWIRE_ERR_INTERNAL);  // fatal: stays
  pushwire_ws_event ev;
  CHECK_EQ(pushwire_ws_next_event(c.ws, &ev), PUSHWIRE_ERR_INTERNAL);
}

TEST(ws_session_fragmented_send_with_control_frames_between) {
  Server s;
  CHECK_EQ(pushwire_ws_send_fragment(s.ws, false, u8("a\xe2"), 2, false), 0);
  CHECK_EQ(pushwire_ws_send_text(s.ws, u8("x"), 1), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_ping(s.ws, u8("p"), 1), 0);
  // A continuation may not complete the message with half a character.
  CHECK_EQ(pushwire_ws_send_fragment(s.ws, true, u8("\x82"), 1, true), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_send_fragment(s.ws, true, u8("\x82"), 1, false), 0);  // binary ignored: still text
  // The peer's ping gets its pong between our fragments, too.
  CHECK_EQ(s.feed(masked_frame(0x89, "q")), 0);
  CHECK_EQ(pushwire_ws_send_fragment(s.ws, true, u8("\xac"), 1, true), 0);
  CHECK_EQ(pushwire_ws_send_text(s.ws, u8("next"), 4), 0);
  std::string out = s.out();
  std::string want = frame(0x01, "a\xe2") + frame(0x89, "p") + frame(0x00, "\x82") + frame(0x8a, "q") +
                     frame(0x80, "\xac") + frame(0x81, "next");
  CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
  // Binary fragments are not validated.
  CHECK_EQ(pushwire_ws_send_fragment(s.ws, true, u8("\xff"), 1, false), 0);
  CHECK_EQ(pushwire_ws_send_fragment(s.ws, false, u8("\xfe"), 1, true), 0);
  out = s.out();
  want = frame(0x02, "\xff") + frame(0x80, "\xfe");
  CHECK_BYTES(out.data(), out.size(), want.data(), want.size());
}

TEST(ws_session_backpressure_and_partial_consume) {
  Server s;
  CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_OUTPUT_BUFFER, 10), 0);
  CHECK_EQ(pushwire_ws_send_binary(s.ws, u8("123456789"), 9), PUSHWIRE_ERR_BUFFER_FULL);
  CHECK_EQ(pushwire_ws_output_size(s.ws), 0);
  CHECK_EQ(pushwire_ws_send_binary(s.ws, u8("12345678"), 8), 0);
  CHECK_EQ(pushwire_ws_output_size(s.ws), 10);
  CHECK_EQ(pushwire_ws_send_binary(s.ws, nullptr, 0), PUSHWIRE_ERR_BUFFER_FULL);
  pushwire_span sp;
  CHECK_EQ(pushwire_ws_peek_output(s.ws, &sp), 10);
  CHECK_BYTES(sp.ptr, sp.len, "\x82\x08" "12345678", 10);
  CHECK_EQ(pushwire_ws_consume_output(s.ws, 11), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_consume_output(s.ws, 3), 0);
  CHECK_EQ(pushwire_ws_output_size(s.ws), 7);
  CHECK_EQ(pushwire_ws_peek_output(s.ws, &sp), 7);
  CHECK_BYTES(sp.ptr, sp.len, "2345678", 7);
  CHECK_EQ(pushwire_ws_send_binary(s.ws, u8("a"), 1), 0);  // 7 + 3 fits again
  CHECK_EQ(pushwire_ws_output_size(s.ws), 10);
  CHECK_EQ(pushwire_ws_consume_output(s.ws, 10), 0);
  CHECK_EQ(pushwire_ws_peek_output(s.ws, &sp), 0);
  // A failure's close frame goes out even past the limit.
  CHECK_EQ(pushwire_ws_send_binary(s.ws, u8("12345678"), 8), 0);
  CHECK_EQ(s.feed(masked_frame(0x81, "\xff")), 0);
  CHECK_EQ(pushwire_ws_output_size(s.ws), 10);  // the close goes out when its event is pulled
  pushwire_ws_event e;
  CHECK_EQ(pushwire_ws_next_event(s.ws, &e), 1);
  CHECK_EQ(pushwire_ws_output_size(s.ws), 10 + 4 + std::strlen("invalid UTF-8 in text message"));
}

// A message and the close after it arrive in one read: the application can still answer
// the message, and the automatic close follows its answer (Autobahn 7.1.1, 3.2, 5.15).
TEST(ws_session_auto_close_after_earlier_events_are_answered) {
  Server s;
  CHECK_EQ(s.feed(masked_frame(0x81, "Hello") + masked_frame(0x88, std::string("\x03\xe8", 2))), 0);
  CHECK_EQ(pushwire_ws_output_size(s.ws), 0);
  pushwire_ws_event e;
  CHECK_EQ(pushwire_ws_next_event(s.ws, &e), 1);
  CHECK_EQ(e.type, PUSHWIRE_WS_EV_TEXT);
  CHECK_EQ(pushwire_ws_send_text(s.ws, e.data.ptr, e.data.len), 0);
  CHECK_EQ(pushwire_ws_next_event(s.ws, &e), 1);
  CHECK_EQ(e.type, PUSHWIRE_WS_EV_CLOSE);
  CHECK_EQ(e.code, 1000);
  pushwire_span out;
  pushwire_ws_peek_output(s.ws, &out);
  CHECK_BYTES(out.ptr, out.len, "\x81\x05Hello\x88\x02\x03\xe8", 11);
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_CLOSED);

  // The same with a protocol violation after the message: the echo, then close 1002.
  Server t;
  CHECK_EQ(t.feed(masked_frame(0x81, "Hi") + masked_frame(0xc1, "x")), 0);  // RSV1 set
  CHECK_EQ(pushwire_ws_next_event(t.ws, &e), 1);
  CHECK_EQ(pushwire_ws_send_text(t.ws, e.data.ptr, e.data.len), 0);
  CHECK_EQ(pushwire_ws_next_event(t.ws, &e), 1);
  CHECK_EQ(e.code, 1002);
  CHECK(e.flags & PUSHWIRE_WS_EVF_FAILED);
  pushwire_ws_peek_output(t.ws, &out);
  CHECK(out.len > 6);
  CHECK_BYTES(out.ptr, 5, "\x81\x02Hi\x88", 5);

  // A close the application sent itself before pulling makes the automatic one unnecessary.
  Server u;
  CHECK_EQ(u.feed(masked_frame(0x88, std::string("\x03\xe8", 2))), 0);
  CHECK_EQ(pushwire_ws_close(u.ws, 1001, "bye", 3), 0);
  CHECK_EQ(pushwire_ws_next_event(u.ws, &e), 1);
  pushwire_ws_peek_output(u.ws, &out);
  CHECK_BYTES(out.ptr, out.len, "\x88\x05\x03\xe9" "bye", 7);
}

// A failure found but not yet pulled is the only one reported: a keepalive timeout or end
// of input meanwhile adds no second CLOSE event (found by fuzz_api_sequence).
TEST(ws_session_one_failure_report) {
  Server s;
  CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_PING_INTERVAL_MS, 10), 0);
  CHECK_EQ(s.feed(masked_frame(0xc1, "x")), 0);  // RSV1: 1002
  uint64_t next = 0;
  CHECK_EQ(pushwire_ws_tick(s.ws, 0, &next), 0);
  CHECK_EQ(pushwire_ws_tick(s.ws, 10, &next), 0);
  CHECK_EQ(pushwire_ws_tick(s.ws, 20, &next), 0);
  CHECK_EQ(pushwire_ws_feed_eof(s.ws), 0);
  std::vector<std::string> ev = s.events(false);
  CHECK_EQ(ev.size(), 1);
  CHECK(!ev.empty() && ev[0] == "close 1002 failed");
  CHECK_EQ(s.last_error, PUSHWIRE_ERR_PROTOCOL);
}

// End of input freezes the options like a feed does: turning the handshake off afterwards
// would reopen a connection that has already failed (found by fuzz_api_sequence).
TEST(ws_session_options_frozen_by_eof) {
  pushwire_ws *ws = nullptr;
  CHECK_EQ(pushwire_ws_new(&ws, PUSHWIRE_WS_SERVER, nullptr), 0);
  CHECK_EQ(pushwire_ws_feed_eof(ws), 0);
  CHECK_EQ(pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_HANDSHAKE, 0), PUSHWIRE_ERR_INVALID_STATE);
  pushwire_ws_event e;
  CHECK_EQ(pushwire_ws_next_event(ws, &e), 1);
  CHECK_EQ(e.code, 1006);
  CHECK_EQ(pushwire_ws_next_event(ws, &e), PUSHWIRE_ERR_CONNECTION_LOST);
  pushwire_ws_free(ws);
}

// A keepalive ping and a keepalive timeout freeze the options too: a handle opened without a
// handshake and failed by the timeout stayed revivable by HANDSHAKE=0 (found by fuzz_api_sequence).
TEST(ws_session_options_frozen_by_keepalive) {
  for (bool time_out : {false, true}) {
    pushwire_ws *ws = nullptr;
    CHECK_EQ(pushwire_ws_new(&ws, PUSHWIRE_WS_SERVER, nullptr), 0);
    CHECK_EQ(pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
    CHECK_EQ(pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_PING_INTERVAL_MS, 10), 0);
    uint64_t next = 0;
    CHECK_EQ(pushwire_ws_tick(ws, 0, &next), 0);
    CHECK_EQ(pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_PING_INTERVAL_MS, 20), 0);  // nothing decided yet
    CHECK_EQ(pushwire_ws_tick(ws, 20, &next), 0);  // the ping
    CHECK_EQ(pushwire_ws_output_size(ws), 2);
    if (time_out) CHECK_EQ(pushwire_ws_tick(ws, 40, &next), PUSHWIRE_ERR_TIMEOUT);
    CHECK_EQ(pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_HANDSHAKE, 0), PUSHWIRE_ERR_INVALID_STATE);
    pushwire_ws_event e;
    if (time_out) {
      CHECK_EQ(pushwire_ws_next_event(ws, &e), 1);
      CHECK_EQ(e.type, PUSHWIRE_WS_EV_CLOSE);
      CHECK_EQ(e.code, 1006);
      CHECK_EQ(pushwire_ws_get_state(ws), PUSHWIRE_WS_STATE_FAILED);
    } else {
      CHECK_EQ(pushwire_ws_next_event(ws, &e), 0);
      CHECK_EQ(pushwire_ws_get_state(ws), PUSHWIRE_WS_STATE_OPEN);
    }
    pushwire_ws_free(ws);
  }
}

TEST(ws_session_vectored_frame_header) {
  Server s;
  uint8_t h[14];
  size_t n = 0;
  CHECK_EQ(pushwire_ws_frame_header(s.ws, true, 65536, h, &n), 0);
  CHECK_BYTES(h, n, bytes("82 7f 00 00 00 00 00 01 00 00").data(), 10);
  CHECK_EQ(pushwire_ws_frame_header(s.ws, false, 126, h, &n), 0);
  CHECK_BYTES(h, n, "\x81\x7e\x00\x7e", 4);
  CHECK_EQ(pushwire_ws_frame_header(s.ws, false, 5, h, &n), 0);
  CHECK_BYTES(h, n, "\x81\x05", 2);
  CHECK_EQ(pushwire_ws_output_size(s.ws), 0);  // nothing queued
  CHECK_EQ(pushwire_ws_frame_header(s.ws, false, 5, nullptr, &n), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_send_text(s.ws, u8("x"), 1), 0);
  CHECK_EQ(pushwire_ws_frame_header(s.ws, false, 5, h, &n), PUSHWIRE_ERR_INVALID_STATE);  // output pending
  s.out();
  CHECK_EQ(pushwire_ws_send_fragment(s.ws, true, u8("x"), 1, false), 0);
  s.out();
  CHECK_EQ(pushwire_ws_frame_header(s.ws, false, 5, h, &n), PUSHWIRE_ERR_INVALID_STATE);  // fragmented send
  CHECK_EQ(pushwire_ws_send_fragment(s.ws, true, u8("y"), 1, true), 0);
  s.out();
  CHECK_EQ(pushwire_ws_close(s.ws, 1000, nullptr, 0), 0);
  s.out();
  CHECK_EQ(pushwire_ws_frame_header(s.ws, false, 5, h, &n), PUSHWIRE_ERR_CLOSED);
  Client c;
  CHECK_EQ(pushwire_ws_frame_header(c.ws, false, 5, h, &n), PUSHWIRE_ERR_INVALID_STATE);
}

TEST(ws_session_keepalive_tick) {
  Server s;
  CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_PING_INTERVAL_MS, 1000), 0);
  CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_PONG_TIMEOUT_MS, 500), 0);
  uint64_t next = 0;
  CHECK_EQ(pushwire_ws_tick(s.ws, 10000, &next), 0);  // first tick: activity starts now
  CHECK_EQ(next, 11000);
  CHECK_EQ(pushwire_ws_tick(s.ws, 10999, &next), 0);
  CHECK_EQ(next, 11000);
  CHECK_EQ(s.out().size(), 0);
  CHECK_EQ(pushwire_ws_tick(s.ws, 11000, &next), 0);  // idle for the interval: ping
  CHECK_EQ(next, 11500);
  std::string out = s.out();
  CHECK_BYTES(out.data(), out.size(), "\x89\x00", 2);
  CHECK_EQ(s.feed(masked_frame(0x8a, "")), 0);  // the pong (any input counts)
  CHECK_EQ(pushwire_ws_tick(s.ws, 11200, &next), 0);
  CHECK_EQ(next, 12200);
  CHECK(s.events() == std::vector<std::string>{"pong \"\""});
  CHECK_EQ(pushwire_ws_tick(s.ws, 12200, &next), 0);
  CHECK_EQ(next, 12700);
  CHECK_EQ(s.out().size(), 2);
  CHECK_EQ(pushwire_ws_tick(s.ws, 12699, &next), 0);
  CHECK_EQ(next, 12700);
  CHECK_EQ(pushwire_ws_tick(s.ws, 12700, &next), PUSHWIRE_ERR_TIMEOUT);  // nothing came back
  CHECK_EQ(next, UINT64_MAX);
  CHECK(s.events(true) == std::vector<std::string>{"close 1006 failed \"keepalive timeout\""});
  CHECK_EQ(s.last_error, PUSHWIRE_ERR_TIMEOUT);
  CHECK_EQ(s.out().size(), 0);  // 1006 is never sent
  CHECK_EQ(pushwire_ws_close_code_hint(s.ws), 1006);
  CHECK_EQ(pushwire_ws_get_state(s.ws), PUSHWIRE_WS_STATE_FAILED);
  CHECK_EQ(pushwire_ws_tick(s.ws, 20000, &next), 0);
  CHECK_EQ(next, UINT64_MAX);
  // Off by default; the timeout defaults to the interval.
  Server off;
  CHECK_EQ(pushwire_ws_tick(off.ws, 5, &next), 0);
  CHECK_EQ(next, UINT64_MAX);
  Server dflt;
  CHECK_EQ(dflt.opt(PUSHWIRE_WS_OPT_PING_INTERVAL_MS, 100), 0);
  CHECK_EQ(pushwire_ws_tick(dflt.ws, 0, &next), 0);
  CHECK_EQ(pushwire_ws_tick(dflt.ws, 100, &next), 0);
  CHECK_EQ(next, 200);
  CHECK_EQ(pushwire_ws_tick(dflt.ws, 200, nullptr), PUSHWIRE_ERR_TIMEOUT);
}

TEST(ws_session_feed_mutable_is_zero_copy) {
  Server s;
  std::string wire = masked_frame(0x81, "Hello") + masked_frame(0x89, "ping") + masked_frame(0x82, "bin") +
                     masked_frame(0x01, "fr") + masked_frame(0x80, "ag") + masked_frame(0x81, "cut off");
  const size_t cut = wire.size() - 3;
  std::vector<uint8_t> buf(wire.begin(), wire.begin() + cut);
  CHECK_EQ(pushwire_ws_feed_mutable(s.ws, buf.data(), buf.size()), 0);
  const uint8_t *lo = buf.data(), *hi = buf.data() + buf.size();
  auto inside = [&](const pushwire_ws_event &e) { return e.data.ptr >= lo && e.data.ptr + e.data.len <= hi; };
  pushwire_ws_event ev;
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
  CHECK_STR(ev.data.ptr, ev.data.len, "Hello");
  CHECK(inside(ev));
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
  CHECK_EQ(ev.type, PUSHWIRE_WS_EV_PING);
  CHECK_STR(ev.data.ptr, ev.data.len, "ping");
  CHECK(inside(ev));
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
  CHECK_STR(ev.data.ptr, ev.data.len, "bin");
  CHECK(inside(ev));
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);  // reassembled: copied
  CHECK_STR(ev.data.ptr, ev.data.len, "frag");
  CHECK(!inside(ev));
  CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 0);
  // The cut-off frame was copied: the caller may reuse its buffer.
  std::fill(buf.begin(), buf.end(), 0);
  std::vector<uint8_t> rest(wire.begin() + cut, wire.end());
  CHECK_EQ(pushwire_ws_feed_mutable(s.ws, rest.data(), rest.size()), 0);
  CHECK(s.events() == std::vector<std::string>{"text \"cut off\""});
  std::string out = s.out();
  CHECK_STR(out.data(), out.size(), "\x8a\x04ping");
  // Invalid UTF-8 is caught in place too.
  std::string bad = masked_frame(0x81, "\xff");
  std::vector<uint8_t> b2(bad.begin(), bad.end());
  CHECK_EQ(pushwire_ws_feed_mutable(s.ws, b2.data(), b2.size()), 0);
  CHECK(s.events() == std::vector<std::string>{"close 1007 failed"});
}

TEST(ws_session_queue_pauses_and_held_input) {
  // More frames than the queue holds, in one feed: parsing pauses and resumes from
  // next_event; all arrive in order.
  Server s;
  const int n = int(pushwire::WS_QUEUE_MAX) * 2 + 7;
  std::string wire;
  for (int i = 0; i < n; ++i) wire += masked_frame(0x82, std::string(1, char(i & 0xff)));
  CHECK_EQ(s.feed(wire), 0);
  pushwire_ws_event ev;
  int count = 0;
  bool order = true;
  while (pushwire_ws_next_event(s.ws, &ev) == 1) {
    order = order && ev.data.len == 1 && ev.data.ptr[0] == uint8_t(count & 0xff);
    ++count;
  }
  CHECK_EQ(count, n);
  CHECK(order);
  // A feed while events wait is held (bounded by MAX_INPUT_BUFFER), then parsed in order.
  Server h;
  CHECK_EQ(h.opt(PUSHWIRE_WS_OPT_MAX_INPUT_BUFFER, 20), 0);
  CHECK_EQ(h.feed(masked_frame(0x81, "one")), 0);
  CHECK_EQ(h.feed(masked_frame(0x81, "two")), 0);               // 9 bytes held
  CHECK_EQ(h.feed(masked_frame(0x81, "three")), 0);             // 20 held
  CHECK_EQ(h.feed(masked_frame(0x81, "x")), PUSHWIRE_ERR_BUFFER_FULL);  // nothing taken
  CHECK(h.events() == (std::vector<std::string>{"text \"one\"", "text \"two\"", "text \"three\""}));
  CHECK_EQ(h.feed(masked_frame(0x81, "x")), 0);
  CHECK(h.events() == std::vector<std::string>{"text \"x\""});
  // End of input waits behind held input.
  CHECK_EQ(h.feed(masked_frame(0x81, "a")), 0);
  CHECK_EQ(h.feed(masked_frame(0x81, "b")), 0);
  CHECK_EQ(pushwire_ws_feed_eof(h.ws), 0);
  CHECK(h.events() == (std::vector<std::string>{"text \"a\"", "text \"b\"", "close 1006 failed"}));
}

TEST(ws_session_linear_on_pathological_input) {
  {
    // 4 MiB in one frame, fed one byte at a time.
    Server s;
    const size_t len = size_t(4) << 20;
    std::string hdr = bytes("82 ff 00 00 00 00 00 40 00 00 00 00 00 00");
    CHECK_EQ(s.feed(hdr), 0);
    uint8_t zero = 0;
    for (size_t i = 0; i < len; ++i) pushwire_ws_feed(s.ws, &zero, 1);
    pushwire_ws_event ev;
    CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
    CHECK_EQ(ev.data.len, len);
  }
  {
    // 65536 fragments, with a message completed before them in the same arena.
    Server s;
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_FRAGMENTS, 65536), 0);
    std::string wire = masked_frame(0x82, "first");
    wire += masked_frame(0x02, "ab");
    for (int i = 0; i < 65534; ++i) wire += masked_frame(0x00, "ab");
    wire += masked_frame(0x80, "ab");
    for (size_t at = 0; at < wire.size(); at += 1000) {
      CHECK_EQ(s.feed(wire.substr(at, 1000)), 0);
      if (at == 0) CHECK(s.events() == std::vector<std::string>{"binary \"first\""});
    }
    pushwire_ws_event ev;
    CHECK_EQ(pushwire_ws_next_event(s.ws, &ev), 1);
    CHECK_EQ(ev.data.len, 65536 * 2);
    // One more fragment would have been too many.
    Server t;
    CHECK_EQ(t.opt(PUSHWIRE_WS_OPT_MAX_FRAGMENTS, 65536), 0);
    std::string w2 = masked_frame(0x02, "a");
    for (int i = 0; i < 65535; ++i) w2 += masked_frame(0x00, "a");
    w2 += masked_frame(0x80, "a");
    CHECK_EQ(t.feed(w2), 0);
    CHECK(t.events() == std::vector<std::string>{"close 1008 failed"});
  }
}

TEST(ws_session_options) {
  Server s;
  uint64_t v = 0;
  CHECK_EQ(pushwire_ws_get_option(s.ws, PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE, &v), 0);
  CHECK_EQ(v, 16u << 20);
  CHECK_EQ(pushwire_ws_get_option(s.ws, PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, &v), 0);
  CHECK_EQ(v, 16u << 20);
  CHECK_EQ(pushwire_ws_get_option(s.ws, PUSHWIRE_WS_OPT_MAX_FRAGMENTS, &v), 0);
  CHECK_EQ(v, 4096);
  CHECK_EQ(pushwire_ws_get_option(s.ws, PUSHWIRE_WS_OPT_MAX_HEAD_SIZE, &v), 0);
  CHECK_EQ(v, 16384);
  CHECK_EQ(pushwire_ws_get_option(s.ws, PUSHWIRE_WS_OPT_MAX_HEADERS, &v), 0);
  CHECK_EQ(v, 64);
  CHECK_EQ(pushwire_ws_get_option(s.ws, PUSHWIRE_WS_OPT_MAX_INPUT_BUFFER, &v), 0);
  CHECK_EQ(v, 4u << 20);
  CHECK_EQ(pushwire_ws_get_option(s.ws, PUSHWIRE_WS_OPT_MAX_OUTPUT_BUFFER, &v), 0);
  CHECK_EQ(v, 64u << 20);
  const pushwire_ws_option ones[] = {PUSHWIRE_WS_OPT_AUTO_PONG, PUSHWIRE_WS_OPT_AUTO_CLOSE,
                                     PUSHWIRE_WS_OPT_VALIDATE_OUTGOING_UTF8};
  for (auto o : ones) {
    CHECK_EQ(pushwire_ws_get_option(s.ws, o, &v), 0);
    CHECK_EQ(v, 1);
  }
  const pushwire_ws_option zeros[] = {PUSHWIRE_WS_OPT_STREAMING, PUSHWIRE_WS_OPT_PING_INTERVAL_MS,
                                      PUSHWIRE_WS_OPT_PONG_TIMEOUT_MS, PUSHWIRE_WS_OPT_AUTO_ACCEPT,
                                      PUSHWIRE_WS_OPT_REQUIRE_ORIGIN, PUSHWIRE_WS_OPT_HANDSHAKE};
  for (auto o : zeros) {
    CHECK_EQ(pushwire_ws_get_option(s.ws, o, &v), 0);
    CHECK_EQ(v, 0);  // HANDSHAKE was turned off by the fixture
  }
  CHECK_EQ(pushwire_ws_get_option(s.ws, pushwire_ws_option(99), &v), PUSHWIRE_ERR_UNSUPPORTED);
  CHECK_EQ(pushwire_ws_get_option(s.ws, PUSHWIRE_WS_OPT_STREAMING, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_set_option(s.ws, pushwire_ws_option(0), 1), PUSHWIRE_ERR_UNSUPPORTED);
  CHECK_EQ(pushwire_ws_set_option(s.ws, pushwire_ws_option(17), 1), PUSHWIRE_ERR_UNSUPPORTED);
  CHECK_EQ(pushwire_ws_set_option(s.ws, PUSHWIRE_WS_OPT_STREAMING, 2), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_set_option(s.ws, PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_set_option(s.ws, PUSHWIRE_WS_OPT_MAX_FRAGMENTS, uint64_t(1) << 32), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_set_option(nullptr, PUSHWIRE_WS_OPT_STREAMING, 1), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(s.feed(""), 0);  // the first feed freezes the options
  CHECK_EQ(pushwire_ws_set_option(s.ws, PUSHWIRE_WS_OPT_STREAMING, 1), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_get_option(s.ws, PUSHWIRE_WS_OPT_STREAMING, &v), 0);
  CHECK_EQ(v, 0);
}

TEST(ws_session_null_and_bad_arguments) {
  pushwire_ws *ws = nullptr;
  CHECK_EQ(pushwire_ws_new(nullptr, PUSHWIRE_WS_SERVER, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_new(&ws, pushwire_ws_role(7), nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  pushwire_allocator incomplete{nullptr, nullptr, nullptr, nullptr};
  CHECK_EQ(pushwire_ws_new(&ws, PUSHWIRE_WS_SERVER, &incomplete), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK(ws == nullptr);
  pushwire_ws_free(nullptr);
  pushwire_ws_event ev;
  pushwire_span sp;
  uint64_t next = 0;
  CHECK_EQ(pushwire_ws_feed(nullptr, nullptr, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_feed_eof(nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_next_event(nullptr, &ev), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_peek_output(nullptr, &sp), 0);
  CHECK_EQ(pushwire_ws_consume_output(nullptr, 0), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_output_size(nullptr), 0);
  CHECK_EQ(pushwire_ws_tick(nullptr, 0, &next), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_close_code_hint(nullptr), 0);
  CHECK(std::string(pushwire_ws_error_reason(nullptr)).empty());
  CHECK_EQ(pushwire_ws_set_random(nullptr, nullptr, nullptr), PUSHWIRE_ERR_INVALID_ARGUMENT);
  Server s;
  CHECK_EQ(pushwire_ws_feed(s.ws, nullptr, 3), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_feed_mutable(s.ws, nullptr, 3), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK_EQ(pushwire_ws_close(s.ws, 1000, nullptr, 2), PUSHWIRE_ERR_INVALID_ARGUMENT);
  CHECK(std::string(pushwire_ws_error_reason(s.ws)).empty());
  CHECK_EQ(pushwire_ws_close_code_hint(s.ws), 0);
  // Handshake calls on a handle without a handshake.
  CHECK_EQ(pushwire_ws_accept(s.ws, nullptr, 0), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_reject(s.ws, 403, nullptr, 0), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_request_target(s.ws, &sp), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_add_origin(s.ws, "https://a.example", 17), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_add_subprotocol(s.ws, "chat", 4), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_add_header(s.ws, "X-A", 3, "b", 1), PUSHWIRE_ERR_INVALID_STATE);
  CHECK_EQ(pushwire_ws_client_start(s.ws, "h", 1, "/", 1), PUSHWIRE_ERR_INVALID_STATE);
}

namespace {

// A client and a server wired back to back in memory.
struct Pair {
  Conn client{PUSHWIRE_WS_CLIENT};
  Conn server{PUSHWIRE_WS_SERVER};
  std::vector<std::string> at_client, at_server;
  explicit Pair(bool handshake) {
    client.random(bytes("00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff 0f 1e 2d 3c"));
    if (!handshake) {
      CHECK_EQ(client.opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
      CHECK_EQ(server.opt(PUSHWIRE_WS_OPT_HANDSHAKE, 0), 0);
    }
  }
  // Moves bytes both ways until both are quiet; collects the events.
  void pump() {
    for (int round = 0; round < 8; ++round) {
      std::string c2s = client.out(), s2c = server.out();
      if (c2s.empty() && s2c.empty()) break;
      if (!c2s.empty()) CHECK_EQ(server.feed(c2s), 0);
      if (!s2c.empty()) CHECK_EQ(client.feed(s2c), 0);
      for (auto &e : server.events(true)) at_server.push_back(e);
      for (auto &e : client.events(true)) at_client.push_back(e);
    }
  }
};

void round_trip_messages(Pair &p) {
  const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536};
  for (int dir = 0; dir < 2; ++dir) {
    Conn &from = dir ? p.server : p.client;
    std::vector<std::string> &seen = dir ? p.at_client : p.at_server;
    std::vector<std::string> &back = dir ? p.at_server : p.at_client;
    seen.clear();
    back.clear();
    std::vector<std::string> want;
    for (size_t n : sizes) {
      std::string t(n, 'x'), b(n, '\0');
      for (size_t i = 0; i < n; ++i) b[i] = char(i * 7);
      CHECK_EQ(pushwire_ws_send_text(from.ws, u8(t.c_str()), n), 0);
      CHECK_EQ(pushwire_ws_send_binary(from.ws, reinterpret_cast<const uint8_t *>(b.data()), n), 0);
      want.push_back("text " + vectors::escape(t));
      want.push_back("binary " + vectors::escape(b));
    }
    // Fragmented, with pings between the fragments, UTF-8 split across them.
    CHECK_EQ(pushwire_ws_send_fragment(from.ws, false, u8("caf\xc3"), 4, false), 0);
    CHECK_EQ(pushwire_ws_ping(from.ws, u8("p1"), 2), 0);
    CHECK_EQ(pushwire_ws_send_fragment(from.ws, false, u8("\xa9 "), 2, false), 0);
    CHECK_EQ(pushwire_ws_ping(from.ws, nullptr, 0), 0);
    CHECK_EQ(pushwire_ws_send_fragment(from.ws, false, u8("ok"), 2, true), 0);
    CHECK_EQ(pushwire_ws_send_fragment(from.ws, true, u8("\x01"), 1, false), 0);
    CHECK_EQ(pushwire_ws_send_fragment(from.ws, true, nullptr, 0, false), 0);
    CHECK_EQ(pushwire_ws_send_fragment(from.ws, false, u8("\x02"), 1, true), 0);
    want.push_back("ping \"p1\"");
    want.push_back("ping \"\"");
    want.push_back("text \"caf\\xc3\\xa9 ok\"");
    want.push_back("binary \"\\x01\\x02\"");
    p.pump();
    CHECK(seen == want);
    if (seen != want)
      for (size_t i = 0; i < seen.size() && i < want.size(); ++i)
        if (seen[i] != want[i]) harness::fail(__FILE__, __LINE__, seen[i].substr(0, 80) + " vs " + want[i].substr(0, 80));
    // Each ping got its pong back.
    CHECK(back == (std::vector<std::string>{"pong \"p1\"", "pong \"\""}));
    seen.clear();
    back.clear();
  }
}

}  // namespace

TEST(ws_session_round_trip_without_handshake) {
  Pair p(false);
  round_trip_messages(p);
  // Close with code and reason, client first: echoed, both sides closed.
  CHECK_EQ(pushwire_ws_close(p.client.ws, 4001, "done \xe2\x9c\x93", 8), 0);
  p.pump();
  CHECK(p.at_server == std::vector<std::string>{"close 4001 \"done \\xe2\\x9c\\x93\""});
  CHECK(p.at_client == std::vector<std::string>{"close 4001 \"\""});
  CHECK_EQ(pushwire_ws_get_state(p.client.ws), PUSHWIRE_WS_STATE_CLOSED);
  CHECK_EQ(pushwire_ws_get_state(p.server.ws), PUSHWIRE_WS_STATE_CLOSED);
}

TEST(ws_session_round_trip_server_closes_first) {
  Pair p(false);
  CHECK_EQ(pushwire_ws_close(p.server.ws, 1001, "bye", 3), 0);
  p.pump();
  CHECK(p.at_client == std::vector<std::string>{"close 1001 \"bye\""});
  CHECK(p.at_server == std::vector<std::string>{"close 1001 \"\""});
  CHECK_EQ(pushwire_ws_get_state(p.client.ws), PUSHWIRE_WS_STATE_CLOSED);
  CHECK_EQ(pushwire_ws_get_state(p.server.ws), PUSHWIRE_WS_STATE_CLOSED);
}

// The small-message run honours the queue's limit like the full decoder: with more empty
// frames than the queue takes in one read (copying and in place), parsing pauses at
// WS_QUEUE_MAX and the rest is held, so the held input counts against MAX_INPUT_BUFFER.
TEST(ws_session_queue_limit_holds_in_small_frame_runs) {
  const size_t extra = 907, n = pushwire::WS_QUEUE_MAX + extra;
  std::string wire;
  for (size_t i = 0; i < n; ++i) wire += masked_frame(0x82, "");
  const std::string one = masked_frame(0x82, "");
  for (bool in_place : {false, true}) {
    Server s;
    CHECK_EQ(s.opt(PUSHWIRE_WS_OPT_MAX_INPUT_BUFFER, extra * one.size()), 0);
    std::string copy = wire;
    int rc = in_place ? pushwire_ws_feed_mutable(s.ws, reinterpret_cast<uint8_t *>(&copy[0]), copy.size())
                      : s.feed(copy);
    CHECK_EQ(rc, 0);
    // The held rest fills MAX_INPUT_BUFFER exactly: one more frame does not fit.
    CHECK_EQ(s.feed(one), PUSHWIRE_ERR_BUFFER_FULL);
    pushwire_ws_event ev;
    size_t count = 0;
    while (pushwire_ws_next_event(s.ws, &ev) == 1) {
      CHECK_EQ(ev.type, PUSHWIRE_WS_EV_BINARY);
      CHECK_EQ(ev.data.len, 0);
      ++count;
    }
    CHECK_EQ(count, n);
  }
}
