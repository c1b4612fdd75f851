// pwbench: runs the W1-W9 workloads of ../shared/bench/WORKLOADS.md through each
// implementation compiled in, following its runner contract, and prints one JSON object
// per line (stdout). Progress and failures go to stderr. See tests/bench/README.md.
//
//   pwbench [--dir DIR] [--subset full|tenth|hundredth] [--workloads W1,W7,..]
//           [--impl pushwire,wslay,..|all] [--min-time SECONDS] [--round N]
//   pwbench --list
//   pwbench --selftest
//   pwbench --scaling [--quick] [--dir DIR] [--json FILE]
//
// Exit status: 0 when every pass of every runner matched the manifest, 1 otherwise.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>

#include "bench.hpp"

namespace bench {
namespace {

// The reference of the contract: copy the bytes the runner consumes (W8: produces) into
// a pre-touched buffer of the same size, one memcpy per pass.
class MemcpyRunner : public Runner {
 public:
  const char *name() const override { return "memcpy"; }
  bool supports(const Workload &) const override { return true; }
  void prepare(const Workload &w) override {
    dst_.assign(w.stream_bytes(), 1);  // assign writes every byte: the pages are touched
  }
  void release(const Workload &) override { std::vector<uint8_t>().swap(dst_); }
  void pass(const Workload &w, PassResult &r) override {
    const uint8_t *src = w.id == "W8" ? w.expected.data() : w.data.data();
    std::memcpy(dst_.data(), src, dst_.size());
    r.units = w.units;
    r.checksum = dst_.empty() ? 0 : dst_[dst_.size() / 2];  // keeps the copy observable
  }
  std::string extras(const Workload &) const override { return ",\"reference\":true"; }

 private:
  std::vector<uint8_t> dst_;
};

struct Options {
  std::string dir = "/tmp/pushwire-bench";
  std::string subset = "full";
  std::vector<std::string> workloads;
  std::vector<std::string> impls;  // empty: all
  double min_time = 1.0;
  int round = 0;
};

std::vector<std::string> split(const std::string &s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

std::string check_pass(const Workload &w, const PassResult &r, bool reference) {
  if (!r.error.empty()) return r.error;
  if (r.units != w.units)
    return "delivered " + std::to_string(r.units) + " units, manifest says " + std::to_string(w.units);
  if (reference) return "";
  if (r.checksum != w.checksum_bytes)
    return "checksum " + std::to_string(r.checksum) + ", manifest says " + std::to_string(w.checksum_bytes);
  if (w.is_ws()) {
    if (r.pings != w.pings) return "pings " + std::to_string(r.pings) + ", manifest says " + std::to_string(w.pings);
    // Each pong echoes the 8-byte ping payload in an unmasked frame: 2 + 8 bytes.
    if (r.pong_bytes != w.pings * 10) return "pong bytes " + std::to_string(r.pong_bytes);
  }
  return "";
}

namespace {

// Runs passes until their timed regions add up to min_time (one pass when 0, without
// the warm-up), checking every pass against the manifest. Prints the JSON line.
bool measure(Runner &run, Workload &w, const Options &o) {
  bool reference = std::strcmp(run.name(), "memcpy") == 0;
  run.prepare(w);
  double total = 0, cpu_total = 0;
  uint64_t passes = 0;
  PassResult last;
  std::string failure;
  bool warm = o.min_time > 0;
  for (;;) {
    run.before_pass(w);
    PassResult r;
    double c0 = cpu_now_s();
    double t0 = now_s();
    run.pass(w, r);
    double t1 = now_s();
    double c1 = cpu_now_s();
    run.after_pass(w, r);
    failure = check_pass(w, r, reference);
    if (!failure.empty()) break;
    if (warm) {  // the first pass faults pages in and grows buffers: not timed
      warm = false;
      continue;
    }
    total += t1 - t0;
    cpu_total += c1 - c0;
    passes++;
    last = r;
    if (total >= o.min_time) break;
  }
  std::string extras = run.extras(w);
  run.release(w);

  const uint64_t stream = w.stream_bytes();
  std::printf("{\"impl\":\"%s\",\"lang\":\"%s\",\"workload\":\"%s\",\"subset\":\"%s\",\"units\":%llu", run.name(),
              run.lang(), w.id.c_str(), w.subset.c_str(), (unsigned long long)w.units);
  if (!failure.empty()) {
    std::printf(",\"verified\":false,\"error\":\"%s\",\"round\":%d}\n", json_escape(failure).c_str(), o.round);
    std::fflush(stdout);
    std::fprintf(stderr, "FAIL %s %s %s: %s\n", run.name(), w.id.c_str(), w.subset.c_str(), failure.c_str());
    return false;
  }
  double sec = total / double(passes);
  // A pass shorter than the clock's resolution (only in --min-time 0 smoke runs) still
  // gets a finite rate.
  double div = sec > 0 ? sec : 1e-9;
  std::printf(",\"seconds\":%.9f,\"units_per_s\":%.1f,\"mb_per_s\":%.3f,\"wire_mb_per_s\":%.3f,\"checksum\":%llu,"
              "\"checksum_mode\":\"%s\",\"passes\":%llu,\"payload_bytes\":%llu,\"wire_bytes\":%llu,"
              "\"verified\":true,\"pings\":%llu,\"pong_bytes\":%llu,\"cpu_seconds\":%.9f,\"round\":%d%s}\n",
              sec, double(w.units) / div, double(w.payload_bytes) / div / 1e6, double(stream) / div / 1e6,
              (unsigned long long)last.checksum, reference ? "none" : "bytes", (unsigned long long)passes,
              (unsigned long long)w.payload_bytes, (unsigned long long)stream, (unsigned long long)last.pings,
              (unsigned long long)last.pong_bytes, cpu_total / double(passes), o.round, extras.c_str());
  std::fflush(stdout);
  return true;
}

int usage() {
  std::fprintf(stderr,
               "usage: pwbench [--dir DIR] [--subset full|tenth|hundredth] [--workloads W1,..] [--impl a,b|all]\n"
               "               [--min-time SECONDS] [--round N]\n"
               "       pwbench --list\n"
               "       pwbench --selftest\n"
               "       pwbench --scaling [--quick] [--dir DIR] [--json FILE]\n");
  return 2;
}

}  // namespace

std::vector<std::unique_ptr<Runner>> make_runners() {
  std::vector<std::unique_ptr<Runner>> v;
  add_pushwire_runners(v);
  add_wslay_runners(v);
  add_beast_runners(v);
  return v;
}

}  // namespace bench

int main(int argc, char **argv) {
  using namespace bench;
  Options o;
  bool list = false, scaling = false, quick = false;
  std::string json_path;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(usage());
      }
      return argv[++i];
    };
    if (a == "--dir") o.dir = value();
    else if (a == "--subset") o.subset = value();
    else if (a == "--workloads") o.workloads = split(value());
    else if (a == "--impl") o.impls = split(value());
    else if (a == "--min-time") o.min_time = std::atof(value().c_str());
    else if (a == "--round") o.round = std::atoi(value().c_str());
    else if (a == "--list") list = true;
    else if (a == "--scaling") scaling = true;
    else if (a == "--quick") quick = true;
    else if (a == "--selftest") return run_selftest();
    else if (a == "--json") json_path = value();
    else return usage();
  }
  if (scaling) return run_scaling(o.dir, quick, json_path);

  auto runners = make_runners();
  if (list) {
    // One line per implementation name: "name<TAB>ok" or "name<TAB>reason".
    std::set<std::string> seen;
    for (auto &r : runners) {
      if (!seen.insert(r->name()).second) continue;
      std::string why;
      bool any = false;
      for (auto &s : runners)
        if (std::strcmp(s->name(), r->name()) == 0) {
          if (s->unavailable().empty()) any = true;
          else if (why.empty()) why = s->unavailable();
        }
      std::printf("%s\t%s\n", r->name(), any ? (why.empty() ? "ok" : ("partial: " + why).c_str()) : why.c_str());
    }
    return 0;
  }
  if (o.workloads.empty()) o.workloads = all_workload_ids();
  if (o.impls.size() == 1 && o.impls[0] == "all") o.impls.clear();
  if (o.impls.empty()) {
    std::set<std::string> seen;
    for (auto &r : runners)
      if (seen.insert(r->name()).second) o.impls.push_back(r->name());
  }

  MemcpyRunner ref;
  bool ok = true;
  for (const std::string &id : o.workloads) {
    Workload w;
    std::string why;
    if (!load_workload(o.dir, id, o.subset, w, why)) {
      std::fprintf(stderr, "%s\n", why.c_str());
      std::printf("{\"impl\":\"pwbench\",\"workload\":\"%s\",\"subset\":\"%s\",\"verified\":false,\"error\":\"%s\"}\n",
                  id.c_str(), o.subset.c_str(), json_escape(why).c_str());
      ok = false;
      continue;
    }
    for (const std::string &impl : o.impls) {
      Runner *run = nullptr;
      std::string missing;
      for (auto &r : runners) {
        if (impl != r->name() || !r->supports(w)) continue;
        if (r->unavailable().empty()) {
          run = r.get();
          break;
        }
        missing = r->unavailable();
      }
      if (!run) {
        if (!missing.empty()) {
          std::printf("{\"impl\":\"%s\",\"workload\":\"%s\",\"subset\":\"%s\",\"skipped\":\"%s\",\"round\":%d}\n",
                      impl.c_str(), id.c_str(), o.subset.c_str(), json_escape(missing).c_str(), o.round);
          std::fflush(stdout);
        }
        continue;
      }
      ok = measure(ref, w, o) && ok;
      ok = measure(*run, w, o) && ok;
    }
  }
  return ok ? 0 : 1;
}
