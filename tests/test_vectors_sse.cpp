// Replays tests/vectors/sse/*.md through the C ABI: whole, byte by byte, and split in two at
// every position (the driver in vector_file.cpp), as every binding does.
#include "harness.hpp"
#include "sse_test_util.hpp"
#include "vector_file.hpp"

namespace {

vectors::Transcript run_sse_case(const vectors::Case &c, const std::vector<std::string> &chunks) {
  sse_test::Options opts;
  for (const std::string &o : c.values("option")) {
    size_t sp = o.find(' ');
    pushwire_sse_parser_option opt;
    if (sp == std::string::npos || !sse_test::option_by_name(o.substr(0, sp), &opt)) {
      harness::fail(c.file.c_str(), c.lineno, "unknown SSE option: " + o);
      continue;
    }
    opts.add(opt, std::stoull(o.substr(sp + 1)));
  }
  sse_test::Result r = sse_test::run_chunks(chunks, c.has("eof"), opts);
  vectors::Transcript t;
  for (const std::string &e : r.events) t.events.push_back(vectors::canonical_event(e));
  t.error = r.error;
  return t;
}

}  // namespace

TEST(sse_vectors) {
  std::vector<vectors::Case> cases = vectors::load_dir("tests/vectors/sse");
  int failed = 0;
  for (const vectors::Case &c : cases) failed += vectors::replay(c, run_sse_case);
  CHECK(cases.size() >= 20);
  CHECK_EQ(failed, 0);
}
