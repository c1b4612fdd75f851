// Shared pieces of pwbench: workload loading, response checks, counting allocator.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "bench.hpp"

namespace bench {

static int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool valid_ws_key(const char *key, size_t n) {
  // 16 bytes encode as 21 full characters, one character carrying 2 bits, then "==".
  if (n != 24 || key[22] != '=' || key[23] != '=') return false;
  for (size_t i = 0; i < 22; i++)
    if (b64_value(key[i]) < 0) return false;
  return (b64_value(key[21]) & 0x0f) == 0;
}

static bool ieq(const char *a, size_t an, const char *b) {
  size_t bn = std::strlen(b);
  if (an != bn) return false;
  for (size_t i = 0; i < an; i++) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool accept_checksum(const uint8_t *resp, size_t n, uint64_t &sum, std::string &why) {
  const char *p = reinterpret_cast<const char *>(resp);
  const char *end = p + n;
  static const char status[] = "HTTP/1.1 101 ";
  if (n < sizeof status - 1 || std::memcmp(p, status, sizeof status - 1) != 0) {
    why = "not a 101 response: " + std::string(p, std::min<size_t>(n, 40));
    return false;
  }
  const char *line = static_cast<const char *>(std::memchr(p, '\n', n));
  const char *accept = nullptr;
  size_t accept_len = 0;
  int accepts = 0;
  bool upgrade = false, connection = false;
  while (line && line + 1 < end) {
    const char *s = line + 1;
    const char *e = static_cast<const char *>(std::memchr(s, '\n', size_t(end - s)));
    if (!e || e == s || e[-1] != '\r') {
      why = "malformed response head";
      return false;
    }
    if (e - 1 == s) break;  // the blank line
    const char *colon = static_cast<const char *>(std::memchr(s, ':', size_t(e - s)));
    if (!colon) {
      why = "malformed header line";
      return false;
    }
    const char *v = colon + 1, *ve = e - 1;
    while (v < ve && (*v == ' ' || *v == '\t')) v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    size_t name_len = size_t(colon - s), vlen = size_t(ve - v);
    if (ieq(s, name_len, "sec-websocket-accept")) {
      accept = v;
      accept_len = vlen;
      accepts++;
    } else if (ieq(s, name_len, "sec-websocket-extensions")) {
      why = "response accepts an extension";
      return false;
    } else if (ieq(s, name_len, "upgrade")) {
      upgrade = ieq(v, vlen, "websocket");
    } else if (ieq(s, name_len, "connection")) {
      connection = ieq(v, vlen, "upgrade");
    }
    line = e;
  }
  if (accepts != 1 || accept_len != 28 || !upgrade || !connection) {
    why = "101 response without Upgrade, Connection or one 28-character Sec-WebSocket-Accept";
    return false;
  }
  for (size_t j = 0; j < 28; j++) sum += (j + 1) * uint64_t(uint8_t(accept[j]));
  return true;
}

// ---- counting allocator ----

namespace {
constexpr size_t kHeader = 16;  // keeps the block 16-byte aligned

void *count_malloc(void *user, size_t size) {
  auto *c = static_cast<CountingAllocator *>(user);
  auto *raw = static_cast<uint8_t *>(std::malloc(size + kHeader));
  if (!raw) return nullptr;
  std::memcpy(raw, &size, sizeof size);
  c->live += size;
  c->allocs++;
  if (c->live > c->peak) c->peak = c->live;
  return raw + kHeader;
}

void count_free(void *user, void *ptr) {
  if (!ptr) return;
  auto *c = static_cast<CountingAllocator *>(user);
  uint8_t *raw = static_cast<uint8_t *>(ptr) - kHeader;
  size_t size;
  std::memcpy(&size, raw, sizeof size);
  c->live -= size;
  c->frees++;
  std::free(raw);
}

void *count_realloc(void *user, void *ptr, size_t size) {
  if (!ptr) return count_malloc(user, size);
  auto *c = static_cast<CountingAllocator *>(user);
  uint8_t *raw = static_cast<uint8_t *>(ptr) - kHeader;
  size_t old;
  std::memcpy(&old, raw, sizeof old);
  auto *grown = static_cast<uint8_t *>(std::realloc(raw, size + kHeader));
  if (!grown) return nullptr;
  std::memcpy(grown, &size, sizeof size);
  c->live = c->live - old + size;
  c->allocs++;
  if (c->live > c->peak) c->peak = c->live;
  return grown + kHeader;
}
}  // namespace

pushwire_allocator CountingAllocator::api() {
  pushwire_allocator a;
  a.user = this;
  a.malloc = count_malloc;
  a.realloc = count_realloc;
  a.free = count_free;
  return a;
}

// ---- workloads ----

std::vector<std::string> all_workload_ids() {
  return {"W1", "W2", "W3", "W3b", "W4", "W5", "W6", "W7", "W8", "W9"};
}

static bool read_prefix(const std::string &path, uint64_t n, std::vector<uint8_t> &out, std::string &why) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    why = "cannot open " + path;
    return false;
  }
  out.resize(n);
  f.read(reinterpret_cast<char *>(out.data()), std::streamsize(n));
  if (uint64_t(f.gcount()) != n) {
    why = path + " is shorter than the manifest says";
    return false;
  }
  return true;
}

bool load_workload(const std::string &dir, const std::string &id, const std::string &subset, Workload &w,
                   std::string &why) {
  std::ifstream m(dir + "/manifest.tsv");
  if (!m) {
    why = "no " + dir + "/manifest.tsv (run tests/bench/prepare.sh)";
    return false;
  }
  std::string line;
  bool found = false;
  while (std::getline(m, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream is(line);
    Workload x;
    if (!(is >> x.id >> x.subset >> x.file >> x.units >> x.wire_bytes >> x.payload_bytes >> x.checksum_bytes >>
          x.checksum_chars >> x.pings >> x.output_bytes)) {
      why = "bad manifest.tsv line: " + line;
      return false;
    }
    if (x.id == id && x.subset == subset) {
      w = std::move(x);
      found = true;
      break;
    }
  }
  if (!found) {
    why = "manifest.tsv has no " + id + " " + subset;
    return false;
  }
  if (!read_prefix(dir + "/" + w.file, w.wire_bytes, w.data, why)) return false;
  if (w.id == "W8" && !read_prefix(dir + "/w9.sse", w.output_bytes, w.expected, why)) return false;
  return true;
}

std::string json_escape(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (uint8_t(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o;
}

}  // namespace bench
