#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "harness.hpp"
#include "mask.hpp"
#include "ws_test_util.hpp"

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

TEST(mask_copy_far_every_length_phase_alignment) {
  // Lengths around the 16/32/64-byte steps, the 4 KiB start of the streaming path and its
  // 64-byte lines; the destination at every offset mod 64 (the head before the first whole
  // line is 0..63 bytes), three source offsets, every phase: the byte loop's bytes and
  // phase, and nothing written outside the destination. mask_copy gives the same bytes.
  const uint8_t key[4] = {0x9c, 0x01, 0xff, 0x42};
  const size_t lens[] = {0,    1,    15,   16,   17,   31,   32,   33,   63,    64,    65,    127,   128,  129,
                         4031, 4095, 4096, 4097, 4159, 4160, 4161, 8191, 8192,  8193,  12305, 65535, 65536, 65537};
  std::vector<uint8_t> src_store(65537 + 64), dst_store(65537 + 3 * 64), want(65537), near(65537 + 64);
  size_t bad = 0, cases = 0;
  for (size_t len : lens) {
    const std::vector<uint8_t> p = wstest::random_bytes(len, uint32_t(len));
    for (unsigned phase = 0; phase < 4; ++phase) {
      naive(want.data(), p.data(), len, key, phase);
      for (size_t so : {size_t(0), size_t(1), size_t(31)}) {
        uint8_t *src = src_store.data() + so;
        if (len) std::memcpy(src, p.data(), len);
        for (size_t dof = 64; dof < 128; dof += len > 60000 ? 7 : 1) {
          uint8_t *dst = dst_store.data() + dof;
          std::memset(dst_store.data(), 0xcc, dof + len + 64);
          ++cases;
          if (mask_copy_far(dst, src, len, key, phase) != (phase + len) % 4 || !harness::bytes_equal(dst, len, want.data(), len))
            ++bad;
          for (size_t i = 0; i < dof + len + 64; ++i)
            if ((i < dof || i >= dof + len) && dst_store[i] != 0xcc) ++bad;
        }
        if (mask_copy(near.data(), src, len, key, phase) != (phase + len) % 4 ||
            !harness::bytes_equal(near.data(), len, want.data(), len))
          ++bad;
      }
    }
  }
  CHECK(cases > 5000);
  CHECK_EQ(bad, 0);
}

TEST(mask_copy_far_every_split_point) {
  // A payload unmasked in two calls split at every point, the second continuing at the
  // first's phase (as copy_data does across reads): the bytes of one byte loop.
  const uint8_t key[4] = {0x80, 0x7f, 0x00, 0xe1};
  const size_t len = 9000;
  const std::vector<uint8_t> p = wstest::random_bytes(len, 7);
  std::vector<uint8_t> want(len), dst_store(len + 5);
  naive(want.data(), p.data(), len, key, 0);
  uint8_t *dst = dst_store.data() + 5;  // the arena's positions are not aligned
  size_t bad = 0;
  for (size_t k = 0; k <= len; ++k) {
    std::memset(dst, 0, len);
    const unsigned ph = mask_copy_far(dst, p.data(), k, key, 0);
    if (ph != k % 4) ++bad;
    if (mask_copy_far(dst + k, p.data() + k, len - k, key, ph) != len % 4) ++bad;
    if (!harness::bytes_equal(dst, len, want.data(), len)) ++bad;
  }
  CHECK_EQ(bad, 0);
}

TEST(mask_copy_far_at_page_ends) {
  // Source and destination each end at the last byte of a readable page, followed by an
  // unreadable one: no load or store past either end (a fault otherwise).
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  const size_t span = 4 * page;  // 3 usable pages, then the guard
  void *ms = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void *md = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(ms != MAP_FAILED && md != MAP_FAILED);
  uint8_t *const sb = static_cast<uint8_t *>(ms), *const db = static_cast<uint8_t *>(md);
  CHECK_EQ(mprotect(sb + 3 * page, page, PROT_NONE), 0);
  CHECK_EQ(mprotect(db + 3 * page, page, PROT_NONE), 0);
  const uint8_t key[4] = {0x12, 0xa4, 0x5b, 0xf0};
  const std::vector<uint8_t> p = wstest::random_bytes(3 * page, 3);
  std::vector<uint8_t> want(3 * page);
  size_t bad = 0;
  for (size_t len = 4090; len <= 3 * page; len += len < 4300 ? 1 : 257)
    for (unsigned phase = 0; phase < 4; phase += 3) {
      uint8_t *src = sb + 3 * page - len, *dst = db + 3 * page - len;
      std::memcpy(src, p.data(), len);
      naive(want.data(), p.data(), len, key, phase);
      if (mask_copy_far(dst, src, len, key, phase) != (phase + len) % 4 || !harness::bytes_equal(dst, len, want.data(), len))
        ++bad;
    }
  CHECK_EQ(bad, 0);
  munmap(ms, span);
  munmap(md, span);
}
