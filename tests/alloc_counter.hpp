// A pushwire_allocator over malloc that counts calls and live bytes, and can be told to
// fail from the Nth allocation on, for tests that assert memory behaviour.
#pragma once

#include <cstdlib>
#include <map>

#include "pushwire/pushwire.h"

struct AllocCounter {
  size_t allocs = 0;    // malloc + realloc calls
  size_t live = 0;      // bytes currently held
  size_t requested = 0; // bytes asked for, summed over every call (copying grows it too)
  size_t fail_at = 0;   // 0: never; n: the nth call and later fail
  std::map<void *, size_t> sizes;
  pushwire_allocator api{this, do_malloc, do_realloc, do_free};

  static void *do_malloc(void *u, size_t n) { return do_realloc(u, nullptr, n); }
  static void *do_realloc(void *u, void *p, size_t n) {
    AllocCounter *c = static_cast<AllocCounter *>(u);
    if (++c->allocs >= c->fail_at && c->fail_at) return nullptr;
    c->requested += n;
    size_t old = p ? c->sizes[p] : 0;
    void *q = std::realloc(p, n ? n : 1);
    if (!q) return nullptr;
    if (p) c->sizes.erase(p);
    c->sizes[q] = n;
    c->live = c->live - old + n;
    return q;
  }
  static void do_free(void *u, void *p) {
    if (!p) return;
    AllocCounter *c = static_cast<AllocCounter *>(u);
    c->live -= c->sizes[p];
    c->sizes.erase(p);
    std::free(p);
  }
};
