#include "harness.hpp"

#include <cstdio>
#include <cstdlib>

namespace harness {

static TestCase *g_head = nullptr;
static int g_failures_in_test = 0;

int register_test(TestCase *tc) {
  tc->next = g_head;
  g_head = tc;
  return 0;
}

void fail(const char *file, int line, const std::string &what) {
  ++g_failures_in_test;
  std::fprintf(stderr, "    %s:%d: %s\n", file, line, what.c_str());
}

std::string hex(const void *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  const uint8_t *b = static_cast<const uint8_t *>(p);
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    if (i == 256) {
      s += "... (" + std::to_string(n) + " bytes)";
      break;
    }
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  return s;
}

std::vector<uint8_t> from_hex(const char *s) {
  std::vector<uint8_t> out;
  int hi = -1;
  for (; *s; ++s) {
    char c = *s;
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;
    if (hi < 0) hi = v;
    else {
      out.push_back(uint8_t(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

std::string quote(const void *p, size_t n) {
  std::string s = "\"";
  const uint8_t *b = static_cast<const uint8_t *>(p);
  char tmp[8];
  for (size_t i = 0; i < n && i < 512; ++i) {
    uint8_t c = b[i];
    if (c == '\\' || c == '"') { s += '\\'; s += char(c); }
    else if (c == '\n') s += "\\n";
    else if (c == '\r') s += "\\r";
    else if (c < 0x20 || c >= 0x7f) { std::snprintf(tmp, sizeof tmp, "\\x%02x", c); s += tmp; }
    else s += char(c);
  }
  if (n > 512) s += "...";
  return s + "\"";
}

}  // namespace harness

int main(int argc, char **argv) {
  // Registration order is reverse file order; run in a stable, readable order.
  std::vector<harness::TestCase *> tests;
  for (harness::TestCase *t = harness::g_head; t; t = t->next) tests.push_back(t);
  // PUSHWIRE_TEST_SHARD=i/n runs every n-th selected test from the i-th (tests/run_shards.sh
  // runs the n shards side by side: the slow builds, ASan and qemu, use every core).
  unsigned shard = 0, shards = 1;
  if (const char *spec = std::getenv("PUSHWIRE_TEST_SHARD")) {
    if (std::sscanf(spec, "%u/%u", &shard, &shards) != 2 || shards == 0 || shard >= shards) {
      std::fprintf(stderr, "PUSHWIRE_TEST_SHARD=%s: expected i/n with i < n\n", spec);
      return 2;
    }
  }
  int passed = 0, failed = 0;
  unsigned selected = 0;
  for (size_t i = tests.size(); i-- > 0;) {
    harness::TestCase *t = tests[i];
    // Arguments select the tests whose names contain any of them.
    bool picked = argc == 1;
    for (int a = 1; a < argc && !picked; ++a) picked = std::strstr(t->name, argv[a]) != nullptr;
    if (!picked || selected++ % shards != shard) continue;
    harness::g_failures_in_test = 0;
    t->fn();
    if (harness::g_failures_in_test) {
      ++failed;
      std::fprintf(stderr, "FAIL %s\n", t->name);
    } else {
      ++passed;
      if (std::getenv("PUSHWIRE_TEST_VERBOSE")) std::printf("ok   %s\n", t->name);
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
