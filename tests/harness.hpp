// A tiny zero-dependency test harness. Tests register themselves (TEST(name) { ... }),
// so adding a test file never means editing a central list that parallel work would
// fight over. Checks record a failure and continue; the runner prints
// "N passed, M failed" last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace harness {

struct TestCase {
  const char *name;
  void (*fn)();
  TestCase *next;
};

int register_test(TestCase *tc);
void fail(const char *file, int line, const std::string &what);

std::string hex(const void *p, size_t n);
// "81 85 37fa" style: hex digits, whitespace ignored.
std::vector<uint8_t> from_hex(const char *s);
std::string quote(const void *p, size_t n);

inline bool bytes_equal(const void *a, size_t an, const void *b, size_t bn) {
  return an == bn && (an == 0 || std::memcmp(a, b, an) == 0);
}

}  // namespace harness

#define TEST(name)                                                                 \
  static void test_##name();                                                       \
  static harness::TestCase test_case_##name{#name, test_##name, nullptr};          \
  static int test_reg_##name = harness::register_test(&test_case_##name);          \
  static void test_##name()

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) harness::fail(__FILE__, __LINE__, "CHECK(" #cond ")");            \
  } while (0)

#define CHECK_EQ(a, b)                                                             \
  do {                                                                             \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);                \
    if (check_a_ != check_b_)                                                      \
      harness::fail(__FILE__, __LINE__,                                            \
                    std::string(#a " == " #b ": ") + std::to_string(check_a_) +    \
                        " != " + std::to_string(check_b_));                        \
  } while (0)

// Compare bytes (ptr, len) with expected (ptr, len); prints both in hex on mismatch.
#define CHECK_BYTES(p, n, ep, en)                                                  \
  do {                                                                             \
    if (!harness::bytes_equal((p), (n), (ep), (en)))                               \
      harness::fail(__FILE__, __LINE__,                                            \
                    std::string("bytes differ:\n  got      ") + harness::hex((p), (n)) + \
                        "\n  expected " + harness::hex((ep), (en)));               \
  } while (0)

#define CHECK_STR(p, n, lit)                                                       \
  do {                                                                             \
    const char *check_lit_ = (lit);                                                \
    if (!harness::bytes_equal((p), (n), check_lit_, std::strlen(check_lit_)))      \
      harness::fail(__FILE__, __LINE__,                                            \
                    std::string("string differs:\n  got      ") + harness::quote((p), (n)) + \
                        "\n  expected " + harness::quote(check_lit_, std::strlen(check_lit_))); \
  } while (0)
