// Randomness for handshake keys and client masks: the caller's source, or the OS CSPRNG.
#pragma once

#include "config.hpp"

namespace pushwire {

// Fill buf from the OS CSPRNG (getrandom, arc4random_buf, or /dev/urandom). 0 or ERR_INTERNAL.
int os_random(uint8_t *buf, size_t len);

struct RandomSource {
  pushwire_random_fn fn = nullptr;  // nullptr: os_random
  void *user = nullptr;
  int fill(uint8_t *buf, size_t len) const {
    if (fn) return fn(user, buf, len) == 0 ? 0 : ERR_INTERNAL;
    return os_random(buf, len);
  }
};

}  // namespace pushwire
