// pwbench: the benchmark runners of ../shared/bench/WORKLOADS.md ("runner contract").
// Bench code is test code: the standard library is fine here, and it is built with
// exceptions (Boost needs them); none of it is part of the library.
#pragma once

#include <chrono>
#include <ctime>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "pushwire/pushwire.h"

namespace bench {

constexpr size_t kChunk = 65536;  // the contract's socket read size

// One row of manifest.tsv plus the bytes of that subset (a prefix of the file).
struct Workload {
  std::string id;      // W1 .. W9, W3b
  std::string subset;  // full, tenth, hundredth
  std::string file;
  uint64_t units = 0;
  uint64_t wire_bytes = 0;  // bytes of the input prefix
  uint64_t payload_bytes = 0;
  uint64_t checksum_bytes = 0;
  uint64_t checksum_chars = 0;
  uint64_t pings = 0;
  uint64_t output_bytes = 0;  // W8: expected output
  std::vector<uint8_t> data;      // the input prefix
  std::vector<uint8_t> expected;  // W8: the prefix of w9.sse it must produce

  bool is_ws() const { return id[1] >= '1' && id[1] <= '6'; }
  // Bytes a memcpy reference moves: what the runner consumes (W8: produces).
  uint64_t stream_bytes() const { return id == "W8" ? output_bytes : wire_bytes; }
};

// What one pass delivered; compared with the manifest after every pass.
struct PassResult {
  uint64_t units = 0;
  uint64_t checksum = 0;
  uint64_t pings = 0;
  uint64_t pong_bytes = 0;
  std::string error;  // non-empty: the pass failed
};

class Runner {
 public:
  virtual ~Runner() = default;
  virtual const char *name() const = 0;
  virtual const char *lang() const { return "c"; }
  // Empty when the runner can run; otherwise why not (peer library not installed).
  virtual std::string unavailable() const { return ""; }
  virtual bool supports(const Workload &w) const = 0;
  // Untimed, once per workload: split W7 into requests, parse W8 records.
  virtual void prepare(const Workload &) {}
  // Untimed, before each pass: fresh copies of input a runner mutates.
  virtual void before_pass(const Workload &) {}
  // The timed region: one pass over the workload.
  virtual void pass(const Workload &w, PassResult &r) = 0;
  // Untimed, after each pass: checksums from stored output, output verification.
  virtual void after_pass(const Workload &, PassResult &) {}
  // Extra JSON members (",\"key\":value..."), describing how this runner works.
  virtual std::string extras(const Workload &) const { return ""; }
  virtual void release(const Workload &) {}

  // Socket read size; the contract's 64 KiB except in the scaling report.
  size_t chunk = kChunk;
};

// ---- helpers shared by the runners ----

// n + u[0] + 3*u[n/2] + 7*u[n-1] over bytes (WORKLOADS.md, "Checksums").
inline uint64_t msg_checksum(const uint8_t *p, size_t n) {
  if (n == 0) return 0;
  return n + p[0] + 3u * p[n / 2] + 7u * p[n - 1];
}

// Sum over j of (j+1)*accept[j] for the 28 characters of Sec-WebSocket-Accept in a 101
// response; false when the response is not a 101 with exactly one such field, or when
// it accepts an extension (the contract forbids permessage-deflate here).
bool accept_checksum(const uint8_t *resp, size_t n, uint64_t &sum, std::string &why);

// The fixed opening handshake every WebSocket runner performs first (RFC 6455 1.3).
inline constexpr char kSampleRequest[] =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";
inline constexpr char kSampleAccept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";  // its Sec-WebSocket-Accept

// True when `key` is 24 base64 characters that decode to exactly 16 bytes.
bool valid_ws_key(const char *key, size_t n);

inline double now_s() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// CPU time of this thread: beside wall time it shows how much a pass was preempted.
inline double cpu_now_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Counting allocator for the memory figures: live bytes, high-water mark, calls. Sizes
// are the requested ones (a header before each block remembers them).
struct CountingAllocator {
  uint64_t live = 0;
  uint64_t peak = 0;
  uint64_t allocs = 0;
  uint64_t frees = 0;
  pushwire_allocator api();
  void reset_peak() { peak = live; }
};

// Why a pass does not match the manifest, or "" (a reference runner has no checksum).
std::string check_pass(const Workload &w, const PassResult &r, bool reference);

// pushwire helpers shared with the scaling report.
// A server handle (allocator may be NULL) after the fixed sample handshake, output drained.
pushwire_ws *pw_open_ws(const pushwire_allocator *alloc, bool streaming, uint64_t max_fragments, std::string &why);
// Pulls every pending event (buffered mode), adds messages to the checksum, counts pings
// and drains the output (the pongs) as written.
bool pw_drain_ws(pushwire_ws *ws, PassResult &r);

// Registry of every runner compiled into this binary.
std::vector<std::unique_ptr<Runner>> make_runners();
void add_pushwire_runners(std::vector<std::unique_ptr<Runner>> &out);
void add_wslay_runners(std::vector<std::unique_ptr<Runner>> &out);
void add_beast_runners(std::vector<std::unique_ptr<Runner>> &out);

// Scaling and memory report (pwbench --scaling); JSON lines go to json_path if given.
int run_scaling(const std::string &dir, bool quick, const std::string &json_path);

// Negative and positive checks of every WebSocket runner on tiny inputs (pwbench --selftest).
int run_selftest();

// Loads one workload subset from DIR (manifest.tsv plus the file prefix).
bool load_workload(const std::string &dir, const std::string &id, const std::string &subset, Workload &w,
                   std::string &why);
std::vector<std::string> all_workload_ids();

std::string json_escape(const std::string &s);

}  // namespace bench
