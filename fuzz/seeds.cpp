// Writes seed inputs for every fuzz target: the RFC 6455 §1.3/§5.7 and WHATWG event-stream
// examples, hand-made op sequences for the structured targets, and the input of every
// shared transcript vector (tests/vectors) reshaped to each target's input format.
//   usage: seeds OUT_DIR [VECTORS_DIR]    writes OUT_DIR/<target>/<n>
// `make fuzz-seeds` runs it and files the results into fuzz/corpus/<target>/<sha256>.
#include <dirent.h>
#include <sys/stat.h>

#include <cstring>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "harness.hpp"
#include "http_samples.hpp"
#include "vector_file.hpp"

// vector_file.cpp reports malformed vectors through the test harness; here that is fatal.
void harness::fail(const char *file, int line, const std::string &what) {
  std::fprintf(stderr, "%s:%d: %s\n", file, line, what.c_str());
  std::exit(1);
}

namespace {

std::string g_out;
std::map<std::string, int> g_count;

void emit(const std::string &target, const std::string &bytes) {
  std::string dir = g_out + "/" + target;
  mkdir(dir.c_str(), 0755);
  std::string path = dir + "/" + std::to_string(g_count[target]++);
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
    std::perror(path.c_str());
    std::exit(1);
  }
  std::fclose(f);
}

std::string hex(const char *s) {
  std::string out;
  vectors::parse_data(s, &out);
  return out;
}

// A literal with every byte, NULs included.
template <size_t N>
std::string B(const char (&s)[N]) {
  return std::string(s, N - 1);
}

std::string blob(const std::string &s) { return std::string(1, char(s.size())) + s; }

std::string mask(const std::string &frame_unmasked) {
  // Set the mask bit and mask the payload with the RFC's key 37 fa 21 3d (short frames).
  std::string f = frame_unmasked;
  size_t hdr = (uint8_t(f[1]) & 0x7f) == 126 ? 4 : 2;
  f[1] = char(uint8_t(f[1]) | 0x80);
  const char key[4] = {'\x37', '\xfa', '\x21', '\x3d'};
  std::string out = f.substr(0, hdr) + std::string(key, 4);
  for (size_t i = hdr; i < f.size(); ++i) out += char(f[i] ^ key[(i - hdr) % 4]);
  return out;
}

void rfc_examples() {
  // RFC 6455 §5.7, as a server reads them (masked) and as a client does (unmasked).
  std::vector<std::string> frames = {
      hex("81 05 48 65 6c 6c 6f"),                   // "Hello"
      hex("01 03 48 65 6c") + hex("80 02 6c 6f"),    // "Hel" + "lo"
      hex("89 05 48 65 6c 6c 6f"),                   // ping "Hello"
      hex("8a 05 48 65 6c 6c 6f"),                   // pong "Hello"
      hex("82 7e 01 00") + std::string(256, '\x5a'), // 256 bytes binary
      hex("88 05 03 e8 62 79 65"),                   // close 1000 "bye"
      hex("01 02 ce ba") + hex("89 00") + hex("80 03 e1 bd b9") + hex("88 02 03 e9"),
  };
  std::string all_client, all_server;
  for (const std::string &f : frames) {
    emit("fuzz_ws_client", f);
    all_client += f;
    std::string m;
    // Mask each frame of a concatenation separately.
    for (size_t pos = 0; pos < f.size();) {
      size_t len = uint8_t(f[pos + 1]) & 0x7f, hdr = 2;
      if (len == 126) len = (uint8_t(f[pos + 2]) << 8) | uint8_t(f[pos + 3]), hdr = 4;
      m += mask(f.substr(pos, hdr + len));
      pos += hdr + len;
    }
    emit("fuzz_ws_server", m);
    all_server += m;
  }
  emit("fuzz_ws_client", all_client);
  emit("fuzz_ws_server", all_server);
  emit("fuzz_ws_client", hex("82 7f 00 00 00 00 00 01 00 00") + "truncated");  // 64 KiB header

  emit("fuzz_ws_handshake", B("\x10\xff") + kRfcRequest + mask(frames[0]));
  emit("fuzz_ws_handshake", B("\x12\x07") + kRfcRequest);
  emit("fuzz_ws_handshake", B("\x11\xff") + kRfcResponse + frames[0]);
  emit("fuzz_ws_handshake", B("\x01\x03") + "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
  emit("fuzz_http_request", std::string(1, '\0') + kRfcRequest);
  emit("fuzz_http_request", std::string(1, '\x35') + "POST /x?y=1 HTTP/1.0\r\nA: 1\r\nB:2\r\nC:  three  \r\n\r\nbody");

  // WHATWG HTML, "Server-sent events": the examples of §9.2.
  const std::string streams[] = {
      B("data: YHOO\ndata: +2\ndata: 10\n\n"),
      B(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"),
      B("data\n\ndata\ndata\n\ndata:"),
      B("data:test\n\ndata: test\n\n"),
      B("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"),
      B("\xef\xbb\xbfretry: 5000\r\nid: a\0b\r\ndata: \xe2\x82\r\n\r\n"),
  };
  for (const std::string &st : streams) {
    emit("fuzz_sse_parser", B("\x01\x00") + st);
    emit("fuzz_sse_parser", B("\x21\x03\x00\x02\x06") + st);
  }

  // Emitter items: op byte (fields present), then the fields.
  emit("fuzz_sse_emitter", B("\x0f") + blob("add") + blob("73857293") + blob("1") + blob(" note") +
                               B("\x12") + blob("line1\r\nline2\rline3\n") + B("\x88\x13\x00\x00") +
                               B("\x80") + blob("hello\nworld"));
  emit("fuzz_sse_emitter", B("\x02") + blob("") + B("\x06") + blob(" lead") + blob("") +
                               B("\x01") + blob("bad\ntype") + B("\x04") + blob(B("a\0b")));

  // Round trips: options, chunk size, then ops (bit 7 server; 0 text 1 binary 2 fragment
  // 3 ping 4 pong 5 close 6 deliver).
  std::string ops = B("\x00") + blob("Hello") + B("\x81") + blob("\x01\x02\x03") + "\x06" +
                    B("\x03") + blob("hi") + B("\x02\x00") + blob("Hel") + B("\x83") +
                    blob("") + B("\x02\x02") + blob("lo") + "\x06" + B("\x84") + blob("unasked") +
                    B("\x05\x01\x00") + blob("bye") + "\x06";
  emit("fuzz_ws_roundtrip", B("\x00\x06") + ops);
  emit("fuzz_ws_roundtrip", B("\x03\x00") + ops);
  emit("fuzz_ws_roundtrip", B("\x3c\x10") + ops + B("\x85\x02\x00") + blob("") + "\x06");
  emit("fuzz_ws_roundtrip", B("\x00\x40") + B("\x02\x00") + blob("\xe2\x82") +
                                B("\x02\x02") + blob("\xac") + B("\x00") + blob("\xff") + "\x06");

  // API sequences: handle kind, failing allocation, flags, then ops.
  std::string server_ops = B("\x16") + "\x17\x81" + blob("hi") + "\x0c" + blob("reply") + "\x14\x10" +
                           "\x11\xe8\x03" + blob("bye") + B("\x12\x01\x02\x00") + B("\x13\x05\x00") + "\x0a";
  emit("fuzz_api_sequence", B("\x00\xff\x02") + server_ops);
  emit("fuzz_api_sequence", B("\x00\x05\x02") + server_ops);
  emit("fuzz_api_sequence", B("\x00\x09\x02") + server_ops);
  std::string client_ops = B("\x02") + blob("chat") + "\x04" + blob("") + blob("") + "\x01" + "\x16" +
                           "\x17\x89" + blob("ping") + "\x0d" + blob("bin") + B("\x0e\x00") + blob("frag") + "\x14\x03" +
                           "\x15\x10\x27\x01";
  emit("fuzz_api_sequence", B("\x01\xff\x00") + client_ops);
  emit("fuzz_api_sequence", B("\x01\x03\x01") + client_ops);
  emit("fuzz_api_sequence", B("\x02\xff\x00") + "\x02\x03\x04" + blob("Connection") + blob("upgrade") + "\x01" +
                                "\x06\x05\x01" + blob("GET / HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n") + "\x04" +
                                blob("Accept") + blob("text/event-stream"));
  emit("fuzz_api_sequence", B("\x03\xff\x00") + B("\x00\x02\x0a") + "\x01" + blob("X-A") + blob("b") + "\x02" +
                                "\x03\x03" + blob("e") + blob("d\nd") + "\x04" + blob("c") + "\x05\xff\xff" + B("\x06\x10\x00") +
                                B("\x06\x00\x10") + "\x07\x0f" + blob("e") + blob("d") + blob("i") + blob("c") + "\x40");
  emit("fuzz_api_sequence", B("\x04\xff\x00") + B("\x00\x03\x04") + "\x01" + blob("data: a\n\nid: 7\nretry: 9\n") +
                                "\x03\x03\x02\x03\x04\x20" + "\x05" + "\x01" + blob(": c\n") + "\x06");
  emit("fuzz_api_sequence", B("\x04\x02\x00") + "\x01" + blob("data: a\n\n") + "\x03\x03");

  // UTF-8: pieces count, piece lengths, text.
  emit("fuzz_utf8", B("\x02\x03\x04") + "hello \xe2\x82\xac \xf0\x9f\x98\x80 \xed\xa0\x80");
  emit("fuzz_utf8", B("\x00") + std::string(70, 'a') + "\xf4\x90\x80\x80" + std::string(40, 'b'));
}

bool has_vectors(const std::string &dir) {
  bool any = false;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d)) any = any || std::strstr(e->d_name, ".md") != nullptr;
    closedir(d);
  }
  return any;
}

void from_vectors(const std::string &dir) {
  if (has_vectors(dir + "/ws"))
  for (const vectors::Case &c : vectors::load_dir(dir + "/ws")) {
    std::string in = vectors::data_of(c, "in");
    bool client = c.first("role", "server") == "client";
    bool subprotocols = c.has("subprotocol");
    size_t head_end = in.find("\r\n\r\n");
    bool has_head = in.compare(0, client ? 5 : 4, client ? "HTTP/" : "GET ") == 0;
    std::string frames = has_head ? (head_end == std::string::npos ? std::string() : in.substr(head_end + 4)) : in;
    uint8_t cfg = uint8_t((client ? 1 : 0) | (subprotocols ? 16 : 0) | (c.has("origin") ? 2 : 0));
    if (has_head) {
      emit("fuzz_ws_handshake", std::string(1, char(cfg)) + "\xff" + in);
      if (!client) emit("fuzz_http_request", std::string(1, '\0') + in);
    }
    if (!frames.empty()) emit(client ? "fuzz_ws_client" : "fuzz_ws_server", frames);
  }
  if (has_vectors(dir + "/sse"))
  for (const vectors::Case &c : vectors::load_dir(dir + "/sse")) {
    std::string in = vectors::data_of(c, "in");
    bool comments = false;
    for (const std::string &e : c.values("event")) comments = comments || e.compare(0, 7, "comment") == 0;
    emit("fuzz_sse_parser", std::string(1, comments ? '\x01' : '\0') + '\0' + in);
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: seeds OUT_DIR [VECTORS_DIR]\n");
    return 2;
  }
  g_out = argv[1];
  mkdir(g_out.c_str(), 0755);
  rfc_examples();
  if (argc > 2) from_vectors(argv[2]);
  size_t total = 0;
  for (auto &kv : g_count) total += size_t(kv.second);
  std::printf("%zu seeds for %zu targets\n", total, g_count.size());
  return 0;
}
