#include <algorithm>
#include <string>
#include <vector>

#include "base64.hpp"
#include "harness.hpp"

using namespace pushwire;

namespace {

std::string enc(const std::string &s) {
  std::string out(base64_encoded_size(s.size()), '?');
  base64_encode(reinterpret_cast<const uint8_t *>(s.data()), s.size(), &out[0]);
  return out;
}

long dec(const std::string &s, std::string *out, size_t cap = 64) {
  std::vector<uint8_t> buf(cap + 1);
  long n = base64_decode(s.data(), s.size(), buf.data(), cap);
  if (n >= 0) out->assign(reinterpret_cast<const char *>(buf.data()), size_t(n));
  return n;
}

}  // namespace

TEST(base64_rfc4648_vectors) {
  const char *pairs[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                            {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                            {"foobar", "Zm9vYmFy"}};
  for (auto &p : pairs) {
    CHECK(enc(p[0]) == p[1]);
    std::string out;
    CHECK_EQ(dec(p[1], &out), std::strlen(p[0]));
    CHECK(out == p[0]);
  }
  CHECK_EQ(base64_encoded_size(0), 0);
  CHECK_EQ(base64_encoded_size(16), 24);
  CHECK_EQ(base64_encoded_size(20), 28);
}

TEST(base64_handshake_key_and_round_trip) {
  std::string out;
  CHECK_EQ(dec("dGhlIHNhbXBsZSBub25jZQ==", &out), 16);
  CHECK(out == "the sample nonce");
  // Every byte value, at every length remainder.
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i);
  for (size_t n = 0; n <= all.size(); ++n) {
    std::string s = all.substr(all.size() - n);
    std::string back;
    CHECK_EQ(dec(enc(s), &back, 256), n);
    CHECK(back == s);
  }
  CHECK(enc("\xfb\xff\xbf") == "+/+/");
}

TEST(base64_rejects_bad_characters) {
  std::string out;
  CHECK_EQ(dec("Zm9v!A==", &out), -1);
  CHECK_EQ(dec("Zm-v", &out), -1);  // URL-safe alphabet
  CHECK_EQ(dec("Zm_v", &out), -1);
  CHECK_EQ(dec(std::string("Zm9\0", 4), &out), -1);
  CHECK_EQ(dec("Zm9\x80", &out), -1);
  CHECK_EQ(dec("Zm9\xff", &out), -1);
}

TEST(base64_rejects_whitespace) {
  std::string out;
  CHECK_EQ(dec("Zm9v\nYmFy", &out), -1);
  CHECK_EQ(dec("Zm9v YmF", &out), -1);
  CHECK_EQ(dec(" Zm9vYmF", &out), -1);
  CHECK_EQ(dec("Zm9vYmF\t", &out), -1);
  CHECK_EQ(dec("Zm9vYg==\r\n", &out), -1);
}

TEST(base64_rejects_bad_padding) {
  std::string out;
  CHECK_EQ(dec("Z===", &out), -1);
  CHECK_EQ(dec("====", &out), -1);
  CHECK_EQ(dec("=Zm9", &out), -1);
  CHECK_EQ(dec("Zm=v", &out), -1);
  CHECK_EQ(dec("Zg=A", &out), -1);
  CHECK_EQ(dec("Zg==Zg==", &out), -1);  // padding before the last quantum
  CHECK_EQ(dec("Zm8=Zm9v", &out), -1);
  CHECK_EQ(dec("Zm9vYg=A", &out), -1);
}

TEST(base64_rejects_nonzero_trailing_bits) {
  std::string out;
  CHECK_EQ(dec("Zh==", &out), -1);  // "f" is Zg==; h sets a bit below the byte
  CHECK_EQ(dec("Zm9=", &out), -1);  // "fo" is Zm8=
  CHECK_EQ(dec("Zm8=", &out), 2);
  CHECK_EQ(dec("dGhlIHNhbXBsZSBub25jZR==", &out), -1);
}

TEST(base64_rejects_wrong_length_and_small_output) {
  std::string out;
  CHECK_EQ(dec("Zm9", &out), -1);
  CHECK_EQ(dec("Zm9vY", &out), -1);
  CHECK_EQ(dec("Zg=", &out), -1);
  CHECK_EQ(dec("Z", &out), -1);
  CHECK_EQ(dec("Zm9vYmFy", &out, 5), -1);
  CHECK_EQ(dec("Zm9vYmFy", &out, 6), 6);
  CHECK_EQ(dec("Zm9vYg==", &out, 3), -1);
  CHECK_EQ(dec("Zm9vYg==", &out, 4), 4);
}

// base64_is_canonical must say exactly what base64_decode's length says: every character
// class (alphabet, '=', URL-safe, other) at every position of inputs of every length to 32,
// for every expected size to 24, and every last character before one or two '='.
// The accept key's encoder against the scalar one: every byte value at every position of
// a digest, and digests of random bytes.
TEST(base64_encode20_matches_scalar) {
  uint8_t in[28] = {0};
  uint32_t x = 7;
  size_t compared = 0;
  auto check = [&] {
    char got[28], want[28];
    base64_encode20(in, got);
    base64_encode_scalar(in, 20, want);
    CHECK_BYTES(got, 28, want, 28);
    ++compared;
  };
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 20; ++i) {
      x = x * 1103515245u + 12345u;
      in[i] = uint8_t(x >> 24);
    }
    check();
  }
  for (int pos = 0; pos < 20; ++pos)
    for (int c = 0; c < 256; ++c) {
      uint8_t keep = in[pos];
      in[pos] = uint8_t(c);
      check();
      in[pos] = keep;
    }
  CHECK_EQ(compared, 200 + 20 * 256);
}

// The key's check (n 16) looks at its 22 characters in two vectors: every byte value at
// every position of a valid key (and before its two '=') against the decode.
TEST(base64_is_canonical_key_every_byte_matches_decode) {
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  size_t valid = 0;
  for (size_t pos = 0; pos < key.size(); ++pos)
    for (int c = 0; c < 256; ++c) {
      std::string s = key;
      s[pos] = char(c);
      uint8_t out[32];
      const bool want = base64_decode(s.data(), s.size(), out, sizeof out) == 16;
      if (base64_is_canonical(reinterpret_cast<const uint8_t *>(s.data()), s.size(), 16) != want)
        harness::fail(__FILE__, __LINE__, "position " + std::to_string(pos) + " byte " + std::to_string(c));
      valid += want;
    }
  CHECK_EQ(valid, 21 * 64 + 4 + 2);  // any of 64 at 21 positions; at the 22nd the 4 with zero low bits; then "=="
}

TEST(base64_is_canonical_matches_decode) {
  const char classes[] = {'A', 'Q', 'g', 'w', 'z', '0', '9', '+', '/', '=', '-', '_', ' ', '\0', '\x80', '\xff'};
  size_t compared = 0, valid = 0;
  auto check = [&](const std::string &s) {
    uint8_t out[64];
    const long got = base64_decode(s.data(), s.size(), out, sizeof out);
    for (size_t n = 0; n <= 24; ++n) {
      const bool want = got == long(n);
      if (base64_is_canonical(reinterpret_cast<const uint8_t *>(s.data()), s.size(), n) != want)
        harness::fail(__FILE__, __LINE__, "input [" + s + "] n " + std::to_string(n));
      ++compared;
      valid += want;
    }
  };
  uint32_t x = 99;
  for (size_t len = 0; len <= 32; ++len) {
    for (int pads = 0; pads <= 2; ++pads) {
      if (size_t(pads) > len) continue;
      std::string base(len, 'A');
      for (char &c : base) {
        x = x * 1103515245u + 12345u;
        c = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[x >> 26];
      }
      for (int p = 0; p < pads; ++p) base[len - 1 - size_t(p)] = '=';
      check(base);
      for (size_t pos = 0; pos < len; ++pos)
        for (char c : classes) {
          std::string s = base;
          s[pos] = c;
          check(s);
        }
      // Every character before the padding, so the trailing-bit rule is met and broken.
      if (len >= size_t(pads) + 1 && pads)
        for (int c = 0; c < 64; ++c) {
          std::string s = base;
          s[len - size_t(pads) - 1] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[c];
          check(s);
        }
    }
  }
  CHECK(compared > 100000);
  CHECK(valid > 500);
}

// base64_encode takes 12 bytes at a time with SSSE3 where it can; it must equal the scalar
// encoder at every length around the 12-byte steps and the 16-byte loads, for every byte
// value at every position and for random inputs.
TEST(base64_encode_vector_matches_scalar) {
  uint32_t x = 5;
  size_t compared = 0;
  auto both = [&](const std::vector<uint8_t> &in) {
    std::string a(base64_encoded_size(in.size()), '?'), b = a;
    base64_encode(in.data(), in.size(), &a[0]);
    base64_encode_scalar(in.data(), in.size(), &b[0]);
    if (a != b) harness::fail(__FILE__, __LINE__, "length " + std::to_string(in.size()) + ": " + a + " vs " + b);
    ++compared;
  };
  for (size_t len = 0; len <= 64; ++len) {
    std::vector<uint8_t> in(len);
    for (int round = 0; round < 50; ++round) {
      for (uint8_t &c : in) {
        x = x * 1103515245u + 12345u;
        c = uint8_t(x >> 24);
      }
      both(in);
    }
    if (len == 20 || len == 16 || len == 28) {
      for (size_t pos = 0; pos < len; ++pos)
        for (int c = 0; c < 256; ++c) {
          std::vector<uint8_t> v(len, 0);
          v[pos] = uint8_t(c);
          both(v);
          std::fill(v.begin(), v.end(), uint8_t(0xff));
          v[pos] = uint8_t(c);
          both(v);
        }
    }
  }
  // Every 6-bit value in every output position of one 12-byte step: the range mapping.
  for (int value = 0; value < 64; ++value)
    for (int slot = 0; slot < 16; ++slot) {
      std::vector<uint8_t> in(16, 0);
      const int bit = slot * 6;  // the value's first bit, from the most significant of byte 0
      for (int k = 0; k < 6; ++k)
        if (value & (32 >> k)) in[size_t((bit + k) / 8)] |= uint8_t(0x80 >> ((bit + k) % 8));
      both(in);
      std::string s(base64_encoded_size(16), '?');
      base64_encode(in.data(), in.size(), &s[0]);
      CHECK_EQ(s[size_t(slot)], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[value]);
    }
  CHECK(compared > 3000);
}
