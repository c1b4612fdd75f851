// A client reading arbitrary server bytes after the canned valid 101 response of RFC 6455
// §1.3 (unmasked frames expected). Input: the raw bytes. See frames_target in ws_harness.hpp.
#include "ws_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::frames_target::check(PUSHWIRE_WS_CLIENT, data, size);
  return 0;
}
