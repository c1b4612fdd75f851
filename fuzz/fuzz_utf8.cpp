// The UTF-8 validator (core/utf8.hpp) against the reference decoder in fuzz_common.hpp:
// whole-buffer validity, incremental validation over fuzzer-chosen pieces (state carried
// across pieces, at_boundary after each), the fail-fast offset, and boundary_prefix.
//
// Input: byte 0 = number of pieces - 1 (mod 8), then one length byte per piece boundary,
// then the text. The last piece takes whatever is left.
#include "fuzz_common.hpp"
#include "utf8.hpp"

using namespace fuzz;

namespace {

// boundary[i]: s[0..i) ends between characters (for i within the valid prefix).
void check_pieces(const uint8_t *s, size_t n, const std::vector<size_t> &cuts, size_t ref_prefix, bool ref_complete,
                  const std::vector<bool> &boundary) {
  pushwire::Utf8State st;
  size_t start = 0;
  for (size_t k = 0; k <= cuts.size(); ++k) {
    size_t end = k < cuts.size() ? cuts[k] : n;
    size_t bad = SIZE_MAX;
    bool ok = pushwire::utf8_feed(st, s + start, end - start, &bad);
    if (ref_prefix < end) {
      FUZZ_CHECK(!ok, "piece [%zu,%zu) accepted, but the text fails at %zu", start, end, ref_prefix);
      FUZZ_CHECK(start + bad == ref_prefix, "fail-fast offset %zu, reference %zu", start + bad, ref_prefix);
      // Failed state is sticky.
      uint8_t a = 'a';
      FUZZ_CHECK(!pushwire::utf8_feed(st, &a, 1), "state left failed accepted more input");
      return;
    }
    FUZZ_CHECK(ok, "piece [%zu,%zu) rejected at %zu, but the text is valid there", start, end, start + bad);
    bool boundary_ref = boundary[end];
    FUZZ_CHECK(st.at_boundary() == boundary_ref, "at_boundary %d after %zu bytes, reference %d", st.at_boundary(),
               end, boundary_ref);
    start = end;
  }
  FUZZ_CHECK(st.at_boundary() == ref_complete, "final at_boundary %d, reference %d", st.at_boundary(), ref_complete);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Input in(data, size);
  size_t npieces = 1 + in.u8() % 8;
  std::vector<uint8_t> lens;
  for (size_t i = 1; i < npieces; ++i) lens.push_back(in.u8());
  std::string text = in.rest();
  const uint8_t *s = reinterpret_cast<const uint8_t *>(text.data());
  size_t n = text.size();

  bool complete = false;
  size_t prefix = ref_utf8_valid_prefix(s, n, &complete);
  bool valid = prefix == n && complete;
  FUZZ_CHECK(pushwire::utf8_valid(s, n) == valid, "utf8_valid says %d, reference %d", !valid, valid);

  std::vector<size_t> cuts;
  size_t pos = 0;
  for (uint8_t l : lens) {
    pos = pos + l > n ? n : pos + l;
    cuts.push_back(pos);
  }
  std::vector<bool> boundary(n + 1, false);
  for (size_t i = 0, len, sub; i <= prefix; i += len) {
    boundary[i] = true;
    if (i == prefix || !(len = ref_utf8_char(s, prefix, i, &sub))) break;
  }
  check_pieces(s, n, {}, prefix, complete, boundary);
  check_pieces(s, n, cuts, prefix, complete, boundary);
  std::vector<size_t> every;
  for (size_t i = 1; i < n; ++i) every.push_back(i);
  check_pieces(s, n, every, prefix, complete, boundary);

  // boundary_prefix on the valid part: it keeps complete characters only.
  size_t want = prefix;
  while (!boundary[want]) --want;
  size_t got = pushwire::utf8_boundary_prefix(s, prefix);
  FUZZ_CHECK(got == want, "utf8_boundary_prefix(%zu bytes) = %zu, reference %zu", prefix, got, want);
  return 0;
}
