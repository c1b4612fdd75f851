// pwbench --selftest: the claims the JSON lines make about each WebSocket runner
// ("utf8_validated": true, masking checked, fragments reassembled, pongs produced) are
// checked here on tiny inputs, so a peer driven in a way that skips work would show up.
#include <cstring>

#include "bench.hpp"

namespace bench {
namespace {

void frame(std::vector<uint8_t> &out, bool fin, int opcode, const std::string &payload, bool masked = true) {
  const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  out.push_back(uint8_t((fin ? 0x80 : 0) | opcode));
  out.push_back(uint8_t((masked ? 0x80 : 0) | payload.size()));  // < 126 here
  if (masked) out.insert(out.end(), key, key + 4);
  for (size_t i = 0; i < payload.size(); i++) out.push_back(uint8_t(payload[i]) ^ (masked ? key[i & 3] : 0));
}

struct Case {
  const char *name;
  std::vector<uint8_t> wire;
  bool valid;
  std::string message;  // the valid case's one message
};

std::vector<Case> cases() {
  std::vector<Case> v;
  Case good{"valid: fragmented text around a ping", {}, true, "caf\xc3\xa9 \xe2\x82\xac 12345 \xf0\x9f\x98\x80!"};
  frame(good.wire, false, 1, good.message.substr(0, 4));  // cuts the 2-byte character
  frame(good.wire, true, 9, "ping1234");
  frame(good.wire, false, 0, good.message.substr(4, 5));  // cuts the 3-byte character
  frame(good.wire, true, 0, good.message.substr(9));
  v.push_back(good);

  Case bad_utf8{"invalid UTF-8 in one text frame", {}, false, ""};
  frame(bad_utf8.wire, true, 1, "ab\xc3\x28" "cd");
  v.push_back(bad_utf8);

  Case bad_split{"invalid UTF-8 across a fragment boundary", {}, false, ""};
  frame(bad_split.wire, false, 1, "abc\xe2\x82");
  frame(bad_split.wire, true, 0, "\x28xyz");
  v.push_back(bad_split);

  Case truncated{"text message ending inside a character", {}, false, ""};
  frame(truncated.wire, false, 1, "abc");
  frame(truncated.wire, true, 0, "d\xf0\x9f\x98");
  v.push_back(truncated);

  Case surrogate{"UTF-8 encoded surrogate", {}, false, ""};
  frame(surrogate.wire, true, 1, "a\xed\xa0\x80z");
  v.push_back(surrogate);

  Case unmasked{"unmasked client frame", {}, false, ""};
  frame(unmasked.wire, true, 1, "hello", false);
  v.push_back(unmasked);
  return v;
}

}  // namespace

int run_selftest() {
  auto runners = make_runners();
  int passed = 0, failed = 0;
  for (const Case &c : cases()) {
    Workload w;
    w.id = "W6";
    w.subset = "selftest";
    w.data = c.wire;
    w.wire_bytes = c.wire.size();
    w.units = c.valid ? 1 : 0;
    w.payload_bytes = c.message.size();
    w.checksum_bytes = msg_checksum(reinterpret_cast<const uint8_t *>(c.message.data()), c.message.size());
    w.pings = c.valid ? 1 : 0;
    for (auto &run : runners) {
      if (!run->supports(w) || !run->unavailable().empty()) continue;
      run->prepare(w);
      run->before_pass(w);
      PassResult r;
      run->pass(w, r);
      run->after_pass(w, r);
      run->release(w);
      std::string bad;
      if (c.valid) bad = check_pass(w, r, false);
      else if (r.error.empty() || r.units != 0) bad = "accepted (" + std::to_string(r.units) + " messages delivered)";
      if (!bad.empty()) std::printf("FAIL %s: %s: %s\n", run->name(), c.name, bad.c_str());
      else std::printf("ok   %s: %s%s%s\n", run->name(), c.name, c.valid ? "" : ", refused: ", r.error.c_str());
      (bad.empty() ? passed : failed)++;
    }
  }
  std::printf("selftest: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

}  // namespace bench
