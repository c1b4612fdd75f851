#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"
#include "mask.hpp"
#include "ws_frame.hpp"

using namespace pushwire;
using harness::from_hex;

namespace {

const WsFrameRules kFromServer{false, false};  // what a client receives
const WsFrameRules kFromClient{true, false};   // what a server receives

// Decodes `bytes` whole and at every prefix; every prefix must ask for more bytes.
WsFrameHeader decode_all(const std::vector<uint8_t> &bytes, WsFrameRules rules, size_t want_size) {
  WsFrameHeader h{};
  WsViolation v{};
  for (size_t n = 0; n < want_size; ++n) CHECK_EQ(ws_decode_header(bytes.data(), n, rules, &h, &v), 0);
  CHECK_EQ(ws_decode_header(bytes.data(), bytes.size(), rules, &h, &v), int(want_size));
  return h;
}

// The header must fail with 1002 exactly when byte `at` (1-based count) arrives.
void expect_violation(const char *hex, WsFrameRules rules, size_t at, const char *reason) {
  std::vector<uint8_t> b = from_hex(hex);
  WsFrameHeader h{};
  WsViolation v{};
  for (size_t n = 0; n < at; ++n) {
    int rc = ws_decode_header(b.data(), n, rules, &h, &v);
    if (rc != 0) harness::fail(__FILE__, __LINE__, std::string(hex) + ": early result at " + std::to_string(n));
  }
  for (size_t n = at; n <= b.size(); ++n) {
    v = WsViolation{};
    CHECK_EQ(ws_decode_header(b.data(), n, rules, &h, &v), -1);
    CHECK_EQ(v.error, ERR_PROTOCOL);
    CHECK_EQ(v.code, 1002);
    CHECK(v.reason && std::string(v.reason) == reason);
  }
}

}  // namespace

TEST(ws_frame_rfc_single_unmasked) {
  auto b = from_hex("81 05 48 65 6c 6c 6f");
  WsFrameHeader h = decode_all(b, kFromServer, 2);
  CHECK_EQ(h.opcode, WS_OP_TEXT);
  CHECK(h.fin);
  CHECK(!h.masked);
  CHECK_EQ(h.len, 5);
  CHECK_STR(b.data() + 2, 5, "Hello");
  uint8_t out[WS_MAX_HEADER];
  size_t n = ws_write_header(out, WS_OP_TEXT, true, 5, nullptr);
  CHECK_BYTES(out, n, b.data(), 2);
}

TEST(ws_frame_rfc_single_masked) {
  auto b = from_hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  WsFrameHeader h = decode_all(b, kFromClient, 6);
  CHECK_EQ(h.opcode, WS_OP_TEXT);
  CHECK(h.fin && h.masked);
  CHECK_EQ(h.len, 5);
  CHECK_BYTES(h.key, 4, from_hex("37 fa 21 3d").data(), 4);
  uint8_t plain[5];
  mask_copy(plain, b.data() + 6, 5, h.key, 0);
  CHECK_STR(plain, 5, "Hello");
  uint8_t out[WS_MAX_HEADER];
  size_t n = ws_write_header(out, WS_OP_TEXT, true, 5, h.key);
  CHECK_BYTES(out, n, b.data(), 6);
}

TEST(ws_frame_rfc_fragmented) {
  auto first = from_hex("01 03 48 65 6c");
  auto last = from_hex("80 02 6c 6f");
  WsFrameHeader h = decode_all(first, kFromServer, 2);
  CHECK_EQ(h.opcode, WS_OP_TEXT);
  CHECK(!h.fin);
  CHECK_EQ(h.len, 3);
  h = decode_all(last, WsFrameRules{false, true}, 2);
  CHECK_EQ(h.opcode, WS_OP_CONT);
  CHECK(h.fin);
  CHECK_EQ(h.len, 2);
  uint8_t out[WS_MAX_HEADER];
  CHECK_BYTES(out, ws_write_header(out, WS_OP_TEXT, false, 3, nullptr), first.data(), 2);
  CHECK_BYTES(out, ws_write_header(out, WS_OP_CONT, true, 2, nullptr), last.data(), 2);
}

TEST(ws_frame_rfc_ping_pong) {
  auto ping = from_hex("89 05 48 65 6c 6c 6f");
  WsFrameHeader h = decode_all(ping, kFromServer, 2);
  CHECK_EQ(h.opcode, WS_OP_PING);
  CHECK_EQ(h.len, 5);
  // A ping may arrive inside a fragmented message.
  h = decode_all(ping, WsFrameRules{false, true}, 2);
  CHECK_EQ(h.opcode, WS_OP_PING);
  auto pong = from_hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58");
  h = decode_all(pong, kFromClient, 6);
  CHECK_EQ(h.opcode, WS_OP_PONG);
  CHECK_EQ(h.len, 5);
  uint8_t out[WS_MAX_HEADER];
  CHECK_BYTES(out, ws_write_header(out, WS_OP_PING, true, 5, nullptr), ping.data(), 2);
  CHECK_BYTES(out, ws_write_header(out, WS_OP_PONG, true, 5, h.key), pong.data(), 6);
}

TEST(ws_frame_rfc_extended_lengths) {
  auto b256 = from_hex("82 7E 01 00");
  WsFrameHeader h = decode_all(b256, kFromServer, 4);
  CHECK_EQ(h.opcode, WS_OP_BINARY);
  CHECK_EQ(h.len, 256);
  auto b64k = from_hex("82 7F 00 00 00 00 00 01 00 00");
  h = decode_all(b64k, kFromServer, 10);
  CHECK_EQ(h.len, 65536);
  uint8_t out[WS_MAX_HEADER];
  CHECK_BYTES(out, ws_write_header(out, WS_OP_BINARY, true, 256, nullptr), b256.data(), 4);
  CHECK_BYTES(out, ws_write_header(out, WS_OP_BINARY, true, 65536, nullptr), b64k.data(), 10);
}

TEST(ws_frame_boundary_lengths_round_trip) {
  const uint8_t key[4] = {1, 2, 3, 4};
  const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 0x7fffffffffffffffull};
  const size_t sizes[] = {2, 2, 2, 4, 4, 4, 10, 10};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; ++i) {
    for (int masked = 0; masked < 2; ++masked) {
      uint8_t out[WS_MAX_HEADER];
      size_t n = ws_write_header(out, WS_OP_BINARY, true, lens[i], masked ? key : nullptr);
      CHECK_EQ(n, sizes[i] + (masked ? 4 : 0));
      CHECK_EQ(ws_header_size(lens[i], masked), n);
      std::vector<uint8_t> b(out, out + n);
      WsFrameHeader h = decode_all(b, WsFrameRules{masked != 0, false}, n);
      CHECK_EQ(h.len, lens[i]);
      CHECK_EQ(h.masked, masked != 0);
    }
  }
  uint8_t out[WS_MAX_HEADER];
  CHECK_BYTES(out, ws_write_header(out, WS_OP_BINARY, true, 125, nullptr), from_hex("82 7d").data(), 2);
  CHECK_BYTES(out, ws_write_header(out, WS_OP_BINARY, true, 126, nullptr), from_hex("82 7e 00 7e").data(), 4);
  CHECK_BYTES(out, ws_write_header(out, WS_OP_BINARY, true, 65535, nullptr), from_hex("82 7e ff ff").data(), 4);
  CHECK_BYTES(out, ws_write_header(out, WS_OP_CLOSE, true, 0, nullptr), from_hex("88 00").data(), 2);
}

TEST(ws_frame_header_violations) {
  expect_violation("c1 05", kFromServer, 1, "reserved bits set");
  expect_violation("a1 05", kFromServer, 1, "reserved bits set");
  expect_violation("91 05", kFromServer, 1, "reserved bits set");
  expect_violation("f1 85", kFromClient, 1, "reserved bits set");
  const char *reserved[] = {"83 00", "84 00", "85 00", "86 00", "87 00", "8b 00", "8c 00", "8d 00", "8e 00", "8f 00"};
  for (const char *r : reserved) expect_violation(r, kFromServer, 1, "reserved opcode");
  expect_violation("80 00", kFromServer, 1, "continuation frame without a message");
  expect_violation("00 00", kFromServer, 1, "continuation frame without a message");
  expect_violation("81 00", WsFrameRules{false, true}, 1, "new message inside a fragmented message");
  expect_violation("02 00", WsFrameRules{false, true}, 1, "new message inside a fragmented message");
  expect_violation("09 00", kFromServer, 1, "fragmented control frame");
  expect_violation("08 00", kFromServer, 1, "fragmented control frame");
  expect_violation("0a 00", WsFrameRules{false, true}, 1, "fragmented control frame");
  expect_violation("81 05", kFromClient, 2, "unmasked frame from client");
  expect_violation("81 85 00 00 00 00", kFromServer, 2, "masked frame from server");
  expect_violation("89 7e 00 7e", kFromServer, 2, "control frame too long");
  expect_violation("88 fe 00 7e", kFromClient, 2, "control frame too long");
  expect_violation("8a 7f 00 00 00 00 00 00 00 7e", kFromServer, 2, "control frame too long");
  expect_violation("82 7e 00 7d", kFromServer, 4, "non-minimal length");
  expect_violation("82 fe 00 00 01 02 03 04", kFromClient, 4, "non-minimal length");
  expect_violation("82 7f 00 00 00 00 00 00 ff ff", kFromServer, 10, "non-minimal length");
  expect_violation("82 7f 80 00 00 00 00 00 00 00", kFromServer, 3, "64-bit length with the top bit set");
  expect_violation("82 ff ff ff ff ff ff ff ff ff 00 00 00 00", kFromClient, 3, "64-bit length with the top bit set");
  // Control frames of exactly 125 bytes are fine.
  auto ok = from_hex("89 7d");
  decode_all(ok, kFromServer, 2);
}

TEST(ws_frame_close_codes) {
  for (unsigned c = 0; c < 70000; ++c) {
    bool want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
    if (ws_close_code_valid(c) != want) harness::fail(__FILE__, __LINE__, "close code " + std::to_string(c));
  }
  CHECK(!ws_close_code_valid(1005));
  CHECK(!ws_close_code_valid(1006));
  CHECK(!ws_close_code_valid(1015));
  uint8_t p[WS_MAX_CONTROL];
  CHECK_EQ(ws_close_payload(p, 0, nullptr, 0), 0);
  size_t n = ws_close_payload(p, 1000, reinterpret_cast<const uint8_t *>("bye"), 3);
  CHECK_BYTES(p, n, from_hex("03 e8 62 79 65").data(), 5);
}

namespace {
struct Counter {
  uint8_t next = 0;
  int calls = 0;
  bool fail = false;
};
int counting_random(void *user, uint8_t *buf, size_t len) {
  Counter *c = static_cast<Counter *>(user);
  ++c->calls;
  if (c->fail) return -1;
  for (size_t i = 0; i < len; ++i) buf[i] = c->next++;
  return 0;
}
}  // namespace

TEST(ws_frame_random_pool_keeps_stream_order) {
  Counter c;
  RandomSource src;
  src.fn = counting_random;
  src.user = &c;
  WsRandomPool pool;
  uint8_t key[16];
  CHECK_EQ(pool.take(src, key, 16), 0);
  for (int i = 0; i < 16; ++i) CHECK_EQ(key[i], i);
  for (int k = 0; k < 10; ++k) {
    CHECK_EQ(pool.take(src, key, 4), 0);
    for (int i = 0; i < 4; ++i) CHECK_EQ(key[i], uint8_t(16 + 4 * k + i));
  }
  CHECK_EQ(c.calls, 2);  // 56 bytes drawn in blocks of 32
  c.fail = true;
  pool.discard();
  CHECK_EQ(pool.take(src, key, 4), ERR_INTERNAL);
}

TEST(ws_frame_fast_decoder_matches_the_general_one) {
  // Every first and second byte, both roles, inside and outside a message, 16-bit lengths
  // below, at and above the minimum, the 64-bit form, and every available length 0..14:
  // the inline decoder must give the same result, header and violation as
  // ws_decode_header (it takes only what that would accept, and hands it the rest).
  const uint8_t ext[][2] = {{0x00, 0x7d}, {0x00, 0x7e}, {0x01, 0x00}, {0xff, 0xff}, {0x80, 0x00}};
  size_t taken = 0, mismatches = 0;
  for (unsigned b0 = 0; b0 < 256; ++b0) {
    for (unsigned b1 = 0; b1 < 256; ++b1) {
      for (const auto &e : ext) {
        const uint8_t bytes[WS_MAX_HEADER] = {uint8_t(b0), uint8_t(b1), e[0], e[1], 0x11, 0x22, 0x33, 0x44,
                                              0x55,        0x66,        0x77, 0x88, 0x99, 0xaa};
        for (int r = 0; r < 4; ++r) {
          const WsFrameRules rules{(r & 1) != 0, (r & 2) != 0};
          for (size_t n = 0; n <= WS_MAX_HEADER; ++n) {
            WsFrameHeader h1, h2;
            std::memset(&h1, 0xa5, sizeof h1);
            std::memset(&h2, 0xa5, sizeof h2);
            WsViolation v1{0, 0, nullptr}, v2{0, 0, nullptr};
            const int r1 = ws_decode_header(bytes, n, rules, &h1, &v1);
            const int r2 = ws_decode_header_fast(bytes, n, rules, &h2, &v2);
            bool same = r1 == r2 && v1.error == v2.error && v1.code == v2.code && v1.reason == v2.reason;
            if (same && r1 > 0) {
              taken++;
              same = h1.len == h2.len && h1.opcode == h2.opcode && h1.size == h2.size && h1.fin == h2.fin &&
                     h1.masked == h2.masked && std::memcmp(h1.key, h2.key, 4) == 0;
            }
            if (!same && ++mismatches <= 10)
              harness::fail(__FILE__, __LINE__,
                            "differs on " + harness::hex(bytes, n) + " rules " + std::to_string(r) + ": " +
                                std::to_string(r1) + " vs " + std::to_string(r2));
          }
        }
      }
    }
  }
  CHECK_EQ(mismatches, 0);
  CHECK(taken > 0);
}
