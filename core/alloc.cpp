#include "alloc.hpp"

#include <cstdlib>

namespace pushwire {

namespace {
void *libc_malloc(void *, size_t n) { return std::malloc(n ? n : 1); }
void *libc_realloc(void *, void *p, size_t n) { return std::realloc(p, n ? n : 1); }
void libc_free(void *, void *p) { std::free(p); }
}  // namespace

Allocator::Allocator() : a_{nullptr, libc_malloc, libc_realloc, libc_free} {}

bool Allocator::valid(const pushwire_allocator *a) { return !a || (a->malloc && a->realloc && a->free); }

Allocator::Allocator(const pushwire_allocator *a) : Allocator() {
  if (a) a_ = *a;
}

}  // namespace pushwire
