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
