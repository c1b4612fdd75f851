#include "buffer.hpp"
#include "harness.hpp"

using namespace pushwire;

TEST(buffer_append_consume_compact) {
  Allocator a;
  Buffer b(&a);
  CHECK(b.empty());
  CHECK_EQ(b.append("hello ", 6), 0);
  CHECK_EQ(b.append("world", 5), 0);
  CHECK_STR(b.data(), b.size(), "hello world");
  b.consume(6);
  CHECK_STR(b.data(), b.size(), "world");
  b.compact();
  CHECK_STR(b.data(), b.size(), "world");
  b.consume(5);
  CHECK(b.empty());
  b.release();
  CHECK_EQ(b.capacity(), 0);
}

TEST(string_list_and_ascii_helpers) {
  Allocator a;
  StringList l(&a);
  CHECK_EQ(l.add(make_span("chat", 4)), 0);
  CHECK_EQ(l.add(make_span("Superchat", 9)), 0);
  CHECK_EQ(l.count(), 2);
  CHECK(l.contains(make_span("chat", 4)));
  CHECK(!l.contains(make_span("superchat", 9)));
  CHECK(l.contains_ci(make_span("superchat", 9)));
  CHECK(is_token(make_span("permessage-deflate", 18)));
  CHECK(!is_token(make_span("a b", 3)));
  CHECK(!is_token(make_span("", 0)));
  span t = trim_ows(make_span(" \tx y\t ", 7));
  CHECK_STR(t.ptr, t.len, "x y");
}

// The word-at-a-time compare against ascii_lower, byte by byte: every pair of bytes, at
// every position of spans shorter than, equal to and longer than a word.
TEST(buffer_equals_ci_every_byte_pair) {
  for (size_t len : {1, 7, 8, 9, 16, 21}) {
    for (size_t pos : {size_t(0), len / 2, len - 1}) {
      for (int x = 0; x < 256; ++x) {
        for (int y = 0; y < 256; ++y) {
          uint8_t a[32], b[32];
          std::memset(a, 'q', len);
          std::memset(b, 'Q', len);
          a[pos] = uint8_t(x);
          b[pos] = uint8_t(y);
          bool want = ascii_lower(uint8_t(x)) == ascii_lower(uint8_t(y));
          if (equals_ci(span{a, len}, span{b, len}) != want)
            harness::fail(__FILE__, __LINE__, "len " + std::to_string(len) + " pos " + std::to_string(pos) +
                                                  " bytes " + std::to_string(x) + "," + std::to_string(y));
        }
      }
    }
  }
  CHECK(!equals_ci(make_span("Host", 4), make_span("Hos", 3)));
}
