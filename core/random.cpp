#include "random.hpp"

#include <cerrno>

#if defined(__linux__)
#include <sys/random.h>
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
#include <cstdlib>
#define PUSHWIRE_HAVE_ARC4RANDOM 1
#else
#include <cstdio>
#endif

namespace pushwire {

int os_random(uint8_t *buf, size_t len) {
#if defined(__linux__)
  while (len > 0) {
    ssize_t n = getrandom(buf, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ERR_INTERNAL;
    }
    buf += n;
    len -= static_cast<size_t>(n);
  }
  return 0;
#elif defined(PUSHWIRE_HAVE_ARC4RANDOM)
  arc4random_buf(buf, len);
  return 0;
#else
  std::FILE *f = std::fopen("/dev/urandom", "rb");
  if (!f) return ERR_INTERNAL;
  size_t got = std::fread(buf, 1, len, f);
  std::fclose(f);
  return got == len ? 0 : ERR_INTERNAL;
#endif
}

}  // namespace pushwire
