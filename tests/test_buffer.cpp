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
