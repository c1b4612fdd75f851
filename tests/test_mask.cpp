#include <vector>

#include "harness.hpp"
#include "mask.hpp"

using namespace pushwire;

namespace {

const uint8_t kKey[4] = {0x37, 0xfa, 0x21, 0x3d};

void naive(uint8_t *d, const uint8_t *s, size_t n, const uint8_t key[4], unsigned phase) {
  for (size_t i = 0; i < n; ++i) d[i] = s[i] ^ key[(phase + i) % 4];
}

std::vector<uint8_t> payload(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(i * 31 + 5);
  return v;
}

}  // namespace

TEST(mask_rfc6455_example) {
  // RFC 6455 §5.7: a masked "Hello" with key 37 fa 21 3d.
  uint8_t hello[5] = {'H', 'e', 'l', 'l', 'o'};
  CHECK_EQ(mask_inplace(hello, 5, kKey, 0), 1);
  CHECK_BYTES(hello, 5, harness::from_hex("7f 9f 4d 51 58").data(), 5);
  uint8_t back[5];
  CHECK_EQ(mask_copy(back, hello, 5, kKey, 0), 1);
  CHECK_STR(back, 5, "Hello");
}

TEST(mask_every_length_phase_alignment) {
  const uint8_t key[4] = {0x01, 0x80, 0xfe, 0x5a};
  std::vector<uint8_t> src_store(256), dst_store(256), want(256);
  size_t bad = 0;
  for (size_t len = 0; len <= 70; ++len)
    for (unsigned phase = 0; phase < 4; ++phase)
      for (size_t so = 0; so < 8; ++so)
        for (size_t dof = 0; dof < 8; ++dof) {
          std::vector<uint8_t> p = payload(len);
          uint8_t *src = src_store.data() + so;
          uint8_t *dst = dst_store.data() + dof;
          std::copy(p.begin(), p.end(), src);
          std::fill(dst_store.begin(), dst_store.end(), 0xcc);
          naive(want.data(), p.data(), len, key, phase);
          unsigned next = mask_copy(dst, src, len, key, phase);
          if (next != (phase + len) % 4 || !harness::bytes_equal(dst, len, want.data(), len)) ++bad;
          // Nothing written outside [dst, dst + len).
          for (size_t i = 0; i < dst_store.size(); ++i)
            if ((i < dof || i >= dof + len) && dst_store[i] != 0xcc) ++bad;
          if (dof == 0) {
            unsigned n2 = mask_inplace(src, len, key, phase);
            if (n2 != (phase + len) % 4 || !harness::bytes_equal(src, len, want.data(), len)) ++bad;
          }
        }
  CHECK_EQ(bad, 0);
}

TEST(mask_split_with_phase_continuation) {
  std::vector<uint8_t> p = payload(300);
  std::vector<uint8_t> want(p.size());
  naive(want.data(), p.data(), p.size(), kKey, 0);
  for (size_t k = 0; k <= p.size(); ++k) {
    std::vector<uint8_t> a = p;
    unsigned ph = mask_inplace(a.data(), k, kKey, 0);
    CHECK_EQ(ph, k % 4);
    mask_inplace(a.data() + k, a.size() - k, kKey, ph);
    CHECK_BYTES(a.data(), a.size(), want.data(), want.size());
    std::vector<uint8_t> b(p.size());
    ph = mask_copy(b.data(), p.data(), k, kKey, 0);
    mask_copy(b.data() + k, p.data() + k, p.size() - k, kKey, ph);
    CHECK_BYTES(b.data(), b.size(), want.data(), want.size());
  }
}

TEST(mask_copy_in_place_and_round_trip) {
  for (size_t len : {size_t(0), size_t(3), size_t(17), size_t(64), size_t(1000), size_t(65537)}) {
    std::vector<uint8_t> p = payload(len), a = p, want(len);
    naive(want.data(), p.data(), len, kKey, 2);
    CHECK_EQ(mask_copy(a.data(), a.data(), len, kKey, 2), (2 + len) % 4);
    CHECK_BYTES(a.data(), len, want.data(), len);
    mask_inplace(a.data(), len, kKey, 2);  // masking twice restores the payload
    CHECK_BYTES(a.data(), len, p.data(), len);
  }
}

TEST(mask_long_runs_every_length_phase_alignment) {
  // Past the alignment step and the wide loops (SSE2; AVX2 from 4 KiB where the CPU has
  // it): every length to 600 and around 4096, a sample between, every phase, source and destination at
  // every offset mod 32 (a sample of pairs), copying and in place, against the byte loop;
  // nothing written outside the destination.
  const uint8_t key[4] = {0xa7, 0x13, 0x80, 0x7f};
  std::vector<uint8_t> src_store(4400), dst_store(4400), want(4400);
  size_t bad = 0;
  for (size_t len = 100; len <= 4300; len += len < 600 || (len > 4000 && len < 4200) ? 1 : 61)
    for (unsigned phase = 0; phase < 4; ++phase)
      for (size_t so = 0; so < 32; so += 1 + (len % 3))
        for (size_t dof = (len + phase) % 5; dof < 32; dof += 5) {
          std::vector<uint8_t> p = payload(len);
          uint8_t *src = src_store.data() + so;
          uint8_t *dst = dst_store.data() + dof;
          std::copy(p.begin(), p.end(), src);
          const size_t span = dof + len + 64;  // the destination and what lies just past it
          std::fill(dst_store.begin(), dst_store.begin() + long(span), 0xcc);
          naive(want.data(), p.data(), len, key, phase);
          if (mask_copy(dst, src, len, key, phase) != (phase + len) % 4 ||
              !harness::bytes_equal(dst, len, want.data(), len))
            ++bad;
          for (size_t i = 0; i < span; ++i)
            if ((i < dof || i >= dof + len) && dst_store[i] != 0xcc) ++bad;
          if (mask_inplace(src, len, key, phase) != (phase + len) % 4 || !harness::bytes_equal(src, len, want.data(), len))
            ++bad;
        }
  CHECK_EQ(bad, 0);
}
