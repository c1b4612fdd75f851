// Replays tests/vectors/ws/*.md (format: tests/vectors/README.md) whole, byte by byte and
// split at every position, through the C ABI.
#include <cstdlib>
#include <string>
#include <vector>

#include "harness.hpp"
#include "vector_file.hpp"
#include "ws_test_util.hpp"

namespace {

struct OptionName {
  const char *name;
  pushwire_ws_option option;
};
const OptionName kOptions[] = {
    {"max_message_size", PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE},
    {"max_frame_size", PUSHWIRE_WS_OPT_MAX_FRAME_SIZE},
    {"max_fragments", PUSHWIRE_WS_OPT_MAX_FRAGMENTS},
    {"max_head_size", PUSHWIRE_WS_OPT_MAX_HEAD_SIZE},
    {"max_headers", PUSHWIRE_WS_OPT_MAX_HEADERS},
    {"max_input_buffer", PUSHWIRE_WS_OPT_MAX_INPUT_BUFFER},
    {"max_output_buffer", PUSHWIRE_WS_OPT_MAX_OUTPUT_BUFFER},
    {"auto_pong", PUSHWIRE_WS_OPT_AUTO_PONG},
    {"auto_close", PUSHWIRE_WS_OPT_AUTO_CLOSE},
    {"streaming", PUSHWIRE_WS_OPT_STREAMING},
    {"ping_interval_ms", PUSHWIRE_WS_OPT_PING_INTERVAL_MS},
    {"pong_timeout_ms", PUSHWIRE_WS_OPT_PONG_TIMEOUT_MS},
    {"handshake", PUSHWIRE_WS_OPT_HANDSHAKE},
    {"auto_accept", PUSHWIRE_WS_OPT_AUTO_ACCEPT},
    {"require_origin", PUSHWIRE_WS_OPT_REQUIRE_ORIGIN},
    {"validate_outgoing_utf8", PUSHWIRE_WS_OPT_VALIDATE_OUTGOING_UTF8},
};

void setup_fail(const vectors::Case &c, const std::string &what) {
  harness::fail(c.file.c_str(), c.lineno, c.name + ": " + what);
}

vectors::Transcript run_ws(const vectors::Case &c, const std::vector<std::string> &chunks) {
  vectors::Transcript t;
  const std::string role = c.first("role", "server");
  wstest::Conn conn(role == "client" ? PUSHWIRE_WS_CLIENT : PUSHWIRE_WS_SERVER);
  if (role != "client" && role != "server") setup_fail(c, "bad role " + role);
  for (const std::string &o : c.values("option")) {
    size_t sp = o.find(' ');
    std::string name = o.substr(0, sp);
    uint64_t value = std::strtoull(o.substr(sp + 1).c_str(), nullptr, 10);
    bool found = false;
    for (const OptionName &n : kOptions)
      if (name == n.name) {
        found = true;
        if (conn.opt(n.option, value) != 0) setup_fail(c, "option refused: " + o);
      }
    if (!found) setup_fail(c, "unknown option " + name);
  }
  if (c.has("random")) {
    std::string r;
    if (!vectors::parse_data(c.first("random"), &r) || r.empty()) setup_fail(c, "bad random");
    conn.random(r);
  }
  for (const std::string &o : c.values("origin"))
    if (pushwire_ws_add_origin(conn.ws, o.data(), o.size()) != 0) setup_fail(c, "origin refused: " + o);
  for (const std::string &p : c.values("subprotocol"))
    if (pushwire_ws_add_subprotocol(conn.ws, p.data(), p.size()) != 0) setup_fail(c, "subprotocol refused: " + p);
  if (c.has("start")) {
    std::string s = c.first("start");
    size_t sp = s.find(' ');
    std::string host = s.substr(0, sp), target = s.substr(sp + 1);
    if (pushwire_ws_client_start(conn.ws, host.data(), host.size(), target.data(), target.size()) != 0)
      setup_fail(c, "client_start failed");
  }
  // Streaming chunks of one message are joined; a message cut short by a failure is dropped.
  std::string pending;
  bool in_message = false;
  int rc = 0;
  auto drain = [&]() {
    pushwire_ws_event ev;
    while ((rc = pushwire_ws_next_event(conn.ws, &ev)) == 1) {
      if (ev.type == PUSHWIRE_WS_EV_TEXT || ev.type == PUSHWIRE_WS_EV_BINARY) {
        if (ev.flags & PUSHWIRE_WS_EVF_FIRST) pending.clear();
        pending.append(reinterpret_cast<const char *>(ev.data.ptr), ev.data.len);
        in_message = !(ev.flags & PUSHWIRE_WS_EVF_FIN);
        if (!in_message)
          t.events.push_back(std::string(ev.type == PUSHWIRE_WS_EV_TEXT ? "text " : "binary ") +
                             vectors::escape(pending));
        continue;
      }
      t.events.push_back(wstest::describe(ev));
    }
    t.output += conn.out();
  };
  t.output += conn.out();
  for (const std::string &chunk : chunks) {
    conn.feed(chunk);
    drain();
  }
  if (c.has("eof")) {
    pushwire_ws_feed_eof(conn.ws);
    drain();
  }
  if (rc < 0) t.error = pushwire_error_name(rc);
  return t;
}

}  // namespace

TEST(ws_vectors) {
  std::vector<vectors::Case> cases = vectors::load_dir("tests/vectors/ws");
  int failures = 0;
  for (const vectors::Case &c : cases) failures += vectors::replay(c, run_ws);
  CHECK(cases.size() >= 40);
  CHECK_EQ(failures, 0);
}
