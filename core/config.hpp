// Compiler and feature macros shared by every core file.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pushwire/pushwire.h"

#if defined(__GNUC__) || defined(__clang__)
#define PUSHWIRE_LIKELY(x) __builtin_expect(!!(x), 1)
#define PUSHWIRE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PUSHWIRE_INLINE inline __attribute__((always_inline))
#else
#define PUSHWIRE_LIKELY(x) (x)
#define PUSHWIRE_UNLIKELY(x) (x)
#define PUSHWIRE_INLINE inline
#endif

// AArch64 always has Advanced SIMD (NEON), so its vector paths need no run-time check.
// Little-endian only: the paths read vector lanes as bytes in memory order.
#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PUSHWIRE_NEON 1
#endif

// Internal invariants only; never used to reject input (bad input gets an error code).
#ifdef PUSHWIRE_DEBUG
#include <cstdio>
#include <cstdlib>
#define PUSHWIRE_ASSERT(cond)                                                                      \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);           \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)
#else
#define PUSHWIRE_ASSERT(cond) ((void)0)
#endif

namespace pushwire {

// Status codes are the C ABI's (pushwire/errors.h): one list, no mirror enum to drift.
enum : int {
#define PUSHWIRE__CORE_ERR(name, value, message) ERR_##name = (value),
  PUSHWIRE_ERROR_LIST(PUSHWIRE__CORE_ERR)
#undef PUSHWIRE__CORE_ERR
};

using span = pushwire_span;

inline span make_span(const void *p, size_t n) { return span{static_cast<const uint8_t *>(p), n}; }

}  // namespace pushwire
