// SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept; not for security decisions.
#pragma once

#include "config.hpp"

namespace pushwire {

constexpr size_t SHA1_DIGEST_SIZE = 20;

class Sha1 {
 public:
  Sha1();
  void update(const void *data, size_t len);
  void finish(uint8_t out[SHA1_DIGEST_SIZE]);

 private:
  uint32_t h_[5];
  uint64_t total_ = 0;
  uint8_t block_[64];
  size_t used_ = 0;
};

void sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_SIZE]);

// The block functions behind Sha1, exposed so tests can hold the two against each other:
// the portable one, and the one on the CPU's SHA extensions (false, nothing done, when the
// CPU or the build has none).
// The pieces of Sha1 for a caller that pads its message itself (the accept key, whose
// length is fixed): the initial state, whole 64-byte blocks (SHA-NI when the CPU has it),
// and the state written out as the digest.
void sha1_init(uint32_t h[5]);
void sha1_blocks(uint32_t h[5], const uint8_t *p, size_t nblocks);
void sha1_digest(const uint32_t h[5], uint8_t out[SHA1_DIGEST_SIZE]);

void sha1_blocks_portable(uint32_t h[5], const uint8_t *p, size_t nblocks);
bool sha1_blocks_shani(uint32_t h[5], const uint8_t *p, size_t nblocks);

}  // namespace pushwire
