#include <cstdio>
#include <string>
#include <vector>

#include "base64.hpp"
#include "harness.hpp"
#include "sha1.hpp"

using namespace pushwire;

namespace {

std::string sha1_hex(const void *p, size_t n) {
  uint8_t d[SHA1_DIGEST_SIZE];
  sha1(p, n, d);
  std::string h = harness::hex(d, sizeof d);
  std::string out;
  for (char c : h)
    if (c != ' ') out += c;
  return out;
}

std::string sha1_hex(const std::string &s) { return sha1_hex(s.data(), s.size()); }

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> m(n);
  for (size_t i = 0; i < n; ++i) m[i] = uint8_t(i * 7 + 3);
  return m;
}

std::string accept_for(const char *key) {
  std::string s = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  uint8_t d[SHA1_DIGEST_SIZE];
  sha1(s.data(), s.size(), d);
  char out[base64_encoded_size(SHA1_DIGEST_SIZE)];
  base64_encode(d, sizeof d, out);
  return std::string(out, sizeof out);
}

}  // namespace

TEST(sha1_fips180_known_answers) {
  CHECK(sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(sha1_hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(sha1_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
                 "klmnopqrlmnopqrsmnopqrstnopqrstu") == "a49b2446a02c645bf419f995b67091253a04a259");
}

TEST(sha1_one_million_a) {
  std::string m(1000000, 'a');
  CHECK(sha1_hex(m) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  // The same through many odd-sized updates.
  Sha1 s;
  for (size_t i = 0; i < m.size();) {
    size_t n = std::min<size_t>(997, m.size() - i);
    s.update(m.data() + i, n);
    i += n;
  }
  uint8_t d[SHA1_DIGEST_SIZE];
  s.finish(d);
  CHECK_BYTES(d, sizeof d, harness::from_hex("34aa973cd4c4daa4f61eeb2bdbad27316534016f").data(), 20);
}

TEST(sha1_padding_boundaries) {
  // Lengths around the 56-byte point where the length field spills into a second block.
  struct {
    size_t n;
    const char *hex;
  } cases[] = {
      {55, "ddf57317ef34bfee3b6df83d359098930eb278bc"}, {56, "a0d492bb0fc889d0eca3bc137066ab6f4f74f369"},
      {57, "11a02dcf95859677a62e75024067c22b165d890f"}, {63, "c55856749bef509bdfe6bfebfc7bf4e793e82132"},
      {64, "bede92be29c3874e1b54ddc77988d606fc857a8e"}, {65, "b05a80522b053d6dc7e0a517d0e70212c7dad11f"},
      {119, "504e27376a6e0f0dba8295b85cb25dc4dfa17d23"}, {120, "82134b02fb3f702491be9bed581eeab59334acb2"},
      {128, "a09133e6730ffe899efb70204cb5646cd5dc24ee"},
  };
  for (auto &c : cases) {
    std::vector<uint8_t> m = pattern(c.n);
    CHECK(sha1_hex(m.data(), m.size()) == c.hex);
  }
}

TEST(sha1_incremental_every_split) {
  std::vector<uint8_t> m = pattern(150);
  uint8_t whole[SHA1_DIGEST_SIZE];
  sha1(m.data(), m.size(), whole);
  for (size_t k = 0; k <= m.size(); ++k) {
    Sha1 s;
    s.update(m.data(), k);
    s.update(m.data() + k, m.size() - k);
    uint8_t d[SHA1_DIGEST_SIZE];
    s.finish(d);
    CHECK_BYTES(d, sizeof d, whole, sizeof whole);
  }
  // Three pieces, and byte at a time.
  for (size_t a = 0; a <= 70; a += 7) {
    for (size_t b = a; b <= m.size(); b += 5) {
      Sha1 s;
      s.update(m.data(), a);
      s.update(m.data() + a, b - a);
      s.update(m.data() + b, m.size() - b);
      uint8_t d[SHA1_DIGEST_SIZE];
      s.finish(d);
      CHECK_BYTES(d, sizeof d, whole, sizeof whole);
    }
  }
  Sha1 s;
  for (uint8_t byte : m) s.update(&byte, 1);
  uint8_t d[SHA1_DIGEST_SIZE];
  s.finish(d);
  CHECK_BYTES(d, sizeof d, whole, sizeof whole);
}

TEST(sha1_rfc6455_accept_examples) {
  CHECK(accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(accept_for("PmqLMA8neyQndMnwL4ptCg==") == "s9nX9CIyg7mR+ZgzLBvFzYdIL+g=");
}

// The SHA-extension blocks against the portable ones, on random states and 1-9 blocks
// (where the CPU has no SHA extensions, only the refusal is checked).
TEST(sha1_blocks_shani_matches_portable) {
  uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1103515245u + 12345u; };
  std::vector<uint8_t> data(64 * 9);
  for (int iter = 0; iter < 200; ++iter) {
    for (uint8_t &b : data) b = uint8_t(next() >> 24);
    uint32_t a[5], b[5];
    for (int i = 0; i < 5; ++i) a[i] = b[i] = next();
    const size_t blocks = 1 + iter % 9;
    sha1_blocks_portable(a, data.data(), blocks);
    if (!sha1_blocks_shani(b, data.data(), blocks)) {
      std::printf("    (no SHA extensions on this CPU: the portable blocks serve sha1())\n");
      return;
    }
    for (int i = 0; i < 5; ++i) CHECK_EQ(a[i], b[i]);
  }
}
