// The UTF-8 validator (core/utf8.hpp) against the reference decoder in fuzz_common.hpp:
// whole-buffer validity, incremental validation over fuzzer-chosen pieces (state carried
// across pieces, at_boundary after each), the fail-fast offset, and boundary_prefix; the
// same pieces through the portable path (utf8_feed_scalar) and masked through the fused
// unmask-and-validate pass (utf8_feed_unmask, copying and in place, the key and its phase
// drawn from the input, the phase carried across pieces): same verdicts, offsets, states,
// and every byte unmasked exactly.
//
// Input: byte 0 = number of pieces - 1 (mod 8), then one length byte per piece boundary,
// then the text. The last piece takes whatever is left.
#include "fuzz_common.hpp"
#include "utf8.hpp"

using namespace fuzz;

namespace {

enum Path { FEED, SCALAR, UNMASK_COPY, UNMASK_IN_PLACE };

bool feed_piece(Path path, pushwire::Utf8State &st, const uint8_t *s, size_t start, size_t end, const uint8_t key[4],
                unsigned *phase, size_t *bad) {
  const uint8_t *p = s + start;
  const size_t n = end - start;
  if (path == FEED) return pushwire::utf8_feed(st, p, n, bad);
  if (path == SCALAR) return pushwire::utf8_feed_scalar(st, p, n, bad);
  std::vector<uint8_t> masked(n), out(n, 0);
  for (size_t i = 0; i < n; ++i) masked[i] = uint8_t(p[i] ^ key[(*phase + i) & 3]);
  uint8_t *dst = path == UNMASK_IN_PLACE ? masked.data() : out.data();
  const unsigned before = *phase;
  const bool ok = pushwire::utf8_feed_unmask(st, dst, masked.data(), n, key, phase, bad);
  FUZZ_CHECK(*phase == ((before + n) & 3), "phase %u after %zu bytes from %u", *phase, n, before);
  FUZZ_CHECK(n == 0 || std::memcmp(dst, p, n) == 0, "piece [%zu,%zu) not unmasked exactly (path %d)", start, end,
             int(path));
  return ok;
}

// boundary[i]: s[0..i) ends between characters (for i within the valid prefix).
void check_pieces(Path path, const uint8_t *s, size_t n, const std::vector<size_t> &cuts, size_t ref_prefix,
                  bool ref_complete, const std::vector<bool> &boundary, const uint8_t key[4], unsigned phase) {
  pushwire::Utf8State st;
  size_t start = 0;
  for (size_t k = 0; k <= cuts.size(); ++k) {
    size_t end = k < cuts.size() ? cuts[k] : n;
    size_t bad = SIZE_MAX;
    bool ok = feed_piece(path, st, s, start, end, key, &phase, &bad);
    if (ref_prefix < end) {
      FUZZ_CHECK(!ok, "piece [%zu,%zu) accepted (path %d), but the text fails at %zu", start, end, int(path),
                 ref_prefix);
      FUZZ_CHECK(start + bad == ref_prefix, "fail-fast offset %zu (path %d), reference %zu", start + bad, int(path),
                 ref_prefix);
      // Failed state is sticky.
      uint8_t a = 'a';
      FUZZ_CHECK(!pushwire::utf8_feed(st, &a, 1), "state left failed accepted more input");
      return;
    }
    FUZZ_CHECK(ok, "piece [%zu,%zu) rejected at %zu (path %d), but the text is valid there", start, end, start + bad,
               int(path));
    bool boundary_ref = boundary[end];
    FUZZ_CHECK(st.at_boundary() == boundary_ref, "at_boundary %d after %zu bytes (path %d), reference %d",
               st.at_boundary(), end, int(path), boundary_ref);
    start = end;
  }
  FUZZ_CHECK(st.at_boundary() == ref_complete, "final at_boundary %d (path %d), reference %d", st.at_boundary(),
             int(path), ref_complete);
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
  // The key and its starting phase come from the piece lengths (and the size), so the
  // fuzzer steers them without a change of input layout.
  uint8_t key[4] = {uint8_t(0x80 ^ n), uint8_t(lens.size() * 37), 0x5c, 0xff};
  for (size_t i = 0; i < lens.size(); ++i) key[i & 3] = uint8_t(key[i & 3] ^ lens[i]);
  const unsigned phase = size ? unsigned(data[0] >> 3) & 3 : 0;
  std::vector<size_t> every;
  for (size_t i = 1; i < n; ++i) every.push_back(i);
  for (Path path : {FEED, SCALAR, UNMASK_COPY, UNMASK_IN_PLACE}) {
    check_pieces(path, s, n, {}, prefix, complete, boundary, key, phase);
    check_pieces(path, s, n, cuts, prefix, complete, boundary, key, phase);
    if (path == FEED || n <= 512) check_pieces(path, s, n, every, prefix, complete, boundary, key, phase);
  }

  // boundary_prefix on the valid part: it keeps complete characters only.
  size_t want = prefix;
  while (!boundary[want]) --want;
  size_t got = pushwire::utf8_boundary_prefix(s, prefix);
  FUZZ_CHECK(got == want, "utf8_boundary_prefix(%zu bytes) = %zu, reference %zu", prefix, got, want);
  return 0;
}
