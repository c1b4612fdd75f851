// A server reading arbitrary client bytes after the canned valid handshake of RFC 6455
// §1.3 (masked frames expected). Input: the raw bytes. See frames_target in ws_harness.hpp.
#include "ws_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::frames_target::check(PUSHWIRE_WS_SERVER, data, size);
  return 0;
}
