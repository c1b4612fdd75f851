// The per-handle allocator. Every core allocation goes through one of these, so a
// binding can route memory to its runtime (PyMem_Raw*, ruby_xmalloc) and tests can fail
// the Nth allocation. There is no global operator new in the core.
#pragma once

#include <new>
#include <utility>

#include "config.hpp"

namespace pushwire {

class Allocator {
 public:
  Allocator();  // libc
  // False when `a` is incomplete (a NULL function pointer).
  static bool valid(const pushwire_allocator *a);
  explicit Allocator(const pushwire_allocator *a);  // NULL: libc

  void *alloc(size_t n) const { return a_.malloc(a_.user, n); }
  void *resize(void *p, size_t n) const { return a_.realloc(a_.user, p, n); }
  void release(void *p) const {
    if (p) a_.free(a_.user, p);
  }

  // Construct a T in memory from this allocator; nullptr when out of memory.
  template <class T, class... Args>
  T *make(Args &&...args) const {
    void *mem = alloc(sizeof(T));
    return mem ? new (mem) T(std::forward<Args>(args)...) : nullptr;
  }
  template <class T>
  void destroy(T *p) const {
    if (!p) return;
    p->~T();
    release(p);
  }

 private:
  pushwire_allocator a_;
};

}  // namespace pushwire
