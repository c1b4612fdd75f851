#include "harness.hpp"
#include "vector_file.hpp"

TEST(vector_data_parsing) {
  std::string out;
  CHECK(vectors::parse_data("81 85 37fa", &out));
  CHECK_STR(out.data(), out.size(), "\x81\x85\x37\xfa");
  out.clear();
  CHECK(vectors::parse_data("\"a\\r\\n\\x00\\\"\\\\\"", &out));
  CHECK_EQ(out.size(), 6);
  CHECK_BYTES(out.data(), out.size(), "a\r\n\0\"\\", 6);
  out.clear();
  CHECK(!vectors::parse_data("8", &out));
  CHECK(!vectors::parse_data("\"unterminated", &out));
  CHECK(!vectors::parse_data("zz", &out));
}

TEST(vector_canonical_events) {
  CHECK(vectors::canonical_event("text  \"H\\x65llo\"") == "text \"Hello\"");
  CHECK(vectors::canonical_event("event type=\"message\" data=\"a\\nb\" id=\"\"") ==
        "event type=\"message\" data=\"a\\nb\" id=\"\"");
  CHECK(vectors::escape("\x01\xff\"", 3) == "\"\\x01\\xff\\\"\"");
}
