// WebSocket round trip: a client and a server handle complete a real handshake, then a
// fuzzer-chosen sequence of sends from either side travels to the other in fuzzer-chosen
// chunks. Every message must come out exactly as it went in.
//
// Input: byte 0 options (bits 0/1 client/server STREAMING, bits 2/3 client/server
// AUTO_PONG off, bits 4/5 client/server AUTO_CLOSE off), byte 1 the largest chunk - 1,
// then ops. Op byte: bit 7 the sender (0 client, 1 server); bits 0-2: 0 text, 1 binary,
// 2 fragment (a flags byte: bit 0 binary, bit 1 fin), 3 ping, 4 pong, 5 close (2 code
// bytes), 6-7 deliver what is pending both ways. Payloads are blobs (length byte, bytes).
// Oracles (besides ws_harness.hpp's): each send returns what the documentation implies for
// the sender's state; the frames written are exactly the data/ping/close frames asked for,
// in order, and every pong answers an app pong or a received ping; the receiver's events
// are exactly the messages and controls those frames carry (whatever the chunking and
// delivery mode); a received close is echoed with AUTO_CLOSE; both end CLOSED after both
// closes; no leaks.
#include <algorithm>

#include "ws_harness.hpp"

using namespace fuzz;

namespace {

struct Side {
  WsPeer peer;
  FrameScanner scan;
  std::string wire;  // written, not yet delivered
  bool auto_pong = true, auto_close = true;
  bool app_closed = false;  // a pushwire_ws_close call succeeded
  std::string app_close_payload;
  bool frag_open = false;
  bool frag_text = false;
  std::string frag_bytes;  // text fragments so far, for the UTF-8 model
  std::vector<FrameScanner::Frame> app_frames;  // data and ping frames asked for
  std::vector<std::string> app_pongs, pings_in;

  explicit Side(pushwire_ws_role r) : peer(r), scan(r == PUSHWIRE_WS_CLIENT) {}
  bool close_sent() const { return app_closed || scan.closed; }

  void pump() {
    std::string out = peer.take_output(7);
    scan.push(out);
    wire += out;
  }
};

void deliver(Side &from, Side &to, Chunker &chunks) {
  while (!from.wire.empty()) {
    size_t n = chunks.next();
    if (n > from.wire.size()) n = from.wire.size();
    std::vector<uint8_t> piece(from.wire.begin(), from.wire.begin() + long(n));
    from.wire.erase(0, n);
    int rc = to.peer.feed(piece.data(), n);
    FUZZ_CHECK(rc == 0, "feeding valid frames returned %s", pushwire_error_name(rc));
    size_t seen = to.peer.events.size();
    to.peer.drain();
    for (size_t i = seen; i < to.peer.events.size(); ++i)
      if (to.peer.events[i].type == PUSHWIRE_WS_EV_PING) to.pings_in.push_back(to.peer.events[i].data);
    to.pump();
  }
}

// The events a receiver must report for the frames it was given (ws_messages form).
std::vector<std::string> events_for(const std::vector<FrameScanner::Frame> &frames) {
  std::vector<std::string> out;
  std::string msg;
  uint8_t type = 0;
  for (const FrameScanner::Frame &f : frames) {
    if (f.opcode == 8) {
      unsigned code = 1005;
      std::string reason;
      if (f.payload.size() >= 2) code = (uint8_t(f.payload[0]) << 8) | uint8_t(f.payload[1]), reason = f.payload.substr(2);
      out.push_back(WsEvent{PUSHWIRE_WS_EV_CLOSE, 0, code, reason}.describe());
      break;
    }
    if (f.opcode == 9 || f.opcode == 10) {
      out.push_back(WsEvent{f.opcode == 9 ? uint32_t(PUSHWIRE_WS_EV_PING) : uint32_t(PUSHWIRE_WS_EV_PONG), 0, 0, f.payload}.describe());
      continue;
    }
    if (f.opcode != 0) type = f.opcode, msg.clear();
    msg += f.payload;
    if (f.fin) out.push_back(std::string(type == 1 ? "TEXT" : "BINARY") + " " + quote(msg));
  }
  return out;
}

uint16_t pick_code(uint16_t sel) {
  static const uint16_t table[] = {0, 1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999, 1005, 1006, 1015, 999, 5000, 2999, 1004};
  return (sel & 0x8000) ? uint16_t(sel & 0x7fff) : table[sel % 16];
}

void send_op(Side &s, uint8_t kind, Input &in) {
  pushwire_ws *ws = s.peer.ws;
  if (kind <= 1) {  // whole message
    std::string m = in.blob();
    bool text = kind == 0;
    int rc = text ? pushwire_ws_send_text(ws, reinterpret_cast<const uint8_t *>(m.data()), m.size())
                  : pushwire_ws_send_binary(ws, reinterpret_cast<const uint8_t *>(m.data()), m.size());
    check_rc(text ? "ws_send_text" : "ws_send_binary", rc, {CODES_WS_SEND});
    // When several errors apply, any of them will do.
    bool closed = s.close_sent(), busy = s.frag_open, bad = text && !ref_utf8_valid(m);
    FUZZ_CHECK(closed || busy || bad ? (rc == PW(CLOSED) && closed) || (rc == PW(INVALID_STATE) && busy) ||
                                           (rc == PW(INVALID_ARGUMENT) && bad)
                                     : rc == 0,
               "send_%s returned %s (close sent %d, fragmenting %d, bad UTF-8 %d)", text ? "text" : "binary",
               pushwire_error_name(rc), closed, busy, bad);
    if (rc == 0) s.app_frames.push_back({uint8_t(text ? 1 : 2), true, m});
  } else if (kind == 2) {  // fragment
    uint8_t flags = in.u8();
    std::string m = in.blob();
    bool fin = flags & 2, binary = flags & 1;
    int rc = check_rc("ws_send_fragment",
                      pushwire_ws_send_fragment(ws, binary, reinterpret_cast<const uint8_t *>(m.data()), m.size(), fin),
                      {CODES_WS_SEND});
    bool text = s.frag_open ? s.frag_text : !binary;
    std::string so_far = s.frag_open ? s.frag_bytes + m : m;
    bool complete = false;
    bool utf8_ok = !text || (ref_utf8_valid_prefix(reinterpret_cast<const uint8_t *>(so_far.data()), so_far.size(),
                                                   &complete) == so_far.size() &&
                             (complete || !fin));
    bool closed = s.close_sent();
    FUZZ_CHECK(closed || !utf8_ok ? (rc == PW(CLOSED) && closed) || (rc == PW(INVALID_ARGUMENT) && !utf8_ok) : rc == 0,
               "send_fragment returned %s (close sent %d, UTF-8 ok %d)", pushwire_error_name(rc), closed, utf8_ok);
    if (rc == 0) {
      s.app_frames.push_back({uint8_t(s.frag_open ? 0 : binary ? 2 : 1), fin, m});
      s.frag_text = text;
      s.frag_bytes = so_far;
      s.frag_open = !fin;
    }
  } else if (kind <= 4) {  // ping, pong
    std::string m = in.blob();
    bool ping = kind == 3;
    int rc = ping ? pushwire_ws_ping(ws, reinterpret_cast<const uint8_t *>(m.data()), m.size())
                  : pushwire_ws_pong(ws, reinterpret_cast<const uint8_t *>(m.data()), m.size());
    check_rc(ping ? "ws_ping" : "ws_pong", rc, {CODES_WS_SEND});
    bool closed = s.close_sent(), big = m.size() > 125;
    FUZZ_CHECK(closed || big ? (rc == PW(CLOSED) && closed) || (rc == PW(INVALID_ARGUMENT) && big) : rc == 0,
               "%s of %zu bytes (close sent: %d) returned %s", ping ? "ping" : "pong", m.size(), closed,
               pushwire_error_name(rc));
    if (rc == 0) {
      if (ping) s.app_frames.push_back({9, true, m});
      else s.app_pongs.push_back(m);
    }
  } else {  // close
    uint16_t code = pick_code(in.u16());
    std::string reason = in.blob();
    int rc = check_rc("ws_close", pushwire_ws_close(ws, code, reason.data(), reason.size()), {CODES_WS_CLOSE});
    bool bad = (code != 0 && !sendable_close_code(code)) || (code == 0 && !reason.empty()) || reason.size() > 123 ||
               !ref_utf8_valid(reason);
    if (s.close_sent()) {
      // Arguments may be judged before the state, and code 0 with a reason may be refused.
      FUZZ_CHECK(rc == PW(CLOSED) || ((bad || (code == 0 && !reason.empty())) && rc == PW(INVALID_ARGUMENT)),
                 "second close returned %s", pushwire_error_name(rc));
    } else if (bad) {
      FUZZ_CHECK(rc == PW(INVALID_ARGUMENT), "close(%u, %zu-byte reason) returned %s", code, reason.size(),
                 pushwire_error_name(rc));
    } else {
      // Closing in the middle of a fragmented message may be refused.
      FUZZ_CHECK(rc == 0 || (s.frag_open && rc == PW(INVALID_STATE)), "close(%u) returned %s", code,
                 pushwire_error_name(rc));
    }
    if (rc == 0) {
      s.app_closed = true;
      if (code) {
        s.app_close_payload = std::string{char(code >> 8), char(code & 0xff)} + reason;
      }
    }
  }
  s.pump();
}

// The sender wrote exactly what was asked for (and pongs that answer something).
void check_sender(const Side &s) {
  std::vector<FrameScanner::Frame> asked;
  std::vector<std::string> pongs;
  const FrameScanner::Frame *close = nullptr;
  for (const FrameScanner::Frame &f : s.scan.frames) {
    if (f.opcode == 10) pongs.push_back(f.payload);
    else if (f.opcode == 8) close = &f;
    else asked.push_back(f);
  }
  FUZZ_CHECK(asked.size() == s.app_frames.size(), "%zu data/ping frames written, %zu asked for", asked.size(),
             s.app_frames.size());
  for (size_t i = 0; i < asked.size(); ++i)
    FUZZ_CHECK(asked[i].opcode == s.app_frames[i].opcode && asked[i].fin == s.app_frames[i].fin &&
                   asked[i].payload == s.app_frames[i].payload,
               "frame %zu: opcode %u fin %d %s, asked for opcode %u fin %d %s", i, asked[i].opcode, asked[i].fin,
               quote(asked[i].payload).c_str(), s.app_frames[i].opcode, s.app_frames[i].fin,
               quote(s.app_frames[i].payload).c_str());
  if (s.app_closed) FUZZ_CHECK(close && close->payload == s.app_close_payload, "the close frame is not the one asked for");
  std::vector<std::string> allowed;
  if (s.auto_pong) allowed = s.pings_in;
  for (const std::string &p : s.app_pongs) {
    auto it = std::find(pongs.begin(), pongs.end(), p);
    FUZZ_CHECK(it != pongs.end(), "an app pong was not written");
    pongs.erase(it);
  }
  for (const std::string &p : pongs) {
    auto it = std::find(allowed.begin(), allowed.end(), p);
    FUZZ_CHECK(it != allowed.end(), "a pong answering nothing: %s", quote(p).c_str());
    allowed.erase(it);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Input in(data, size);
  uint8_t opts = in.u8();
  Chunker chunks(data, size, size_t(in.u8()) + 1);
  Side client(PUSHWIRE_WS_CLIENT), server(PUSHWIRE_WS_SERVER);
  Side *sides[2] = {&client, &server};
  for (int i = 0; i < 2; ++i) {
    Side &s = *sides[i];
    if (opts & (1 << i)) s.peer.set_option(PUSHWIRE_WS_OPT_STREAMING, 1);
    if (opts & (4 << i)) s.peer.set_option(PUSHWIRE_WS_OPT_AUTO_PONG, 0), s.auto_pong = false;
    if (opts & (16 << i)) s.peer.set_option(PUSHWIRE_WS_OPT_AUTO_CLOSE, 0), s.auto_close = false;
  }
  // The handshake, for real.
  check_rc("ws_client_start", pushwire_ws_client_start(client.peer.ws, kHost, std::strlen(kHost), "/chat", 5), {0});
  std::string request = client.peer.take_output();
  check_rc("ws_send_text", pushwire_ws_send_text(client.peer.ws, reinterpret_cast<const uint8_t *>("x"), 1),
           {PW(INVALID_STATE)});
  server.peer.feed(reinterpret_cast<const uint8_t *>(request.data()), request.size());
  server.peer.drain();
  std::string response = server.peer.take_output();
  client.peer.feed(reinterpret_cast<const uint8_t *>(response.data()), response.size());
  client.peer.drain();
  FUZZ_CHECK(server.peer.events.size() == 1 && server.peer.events[0].type == PUSHWIRE_WS_EV_REQUEST, "no REQUEST");
  FUZZ_CHECK(client.peer.events.size() == 1 && client.peer.events[0].type == PUSHWIRE_WS_EV_ACCEPTED, "no ACCEPTED");
  for (Side *s : sides) {
    s->peer.events.clear();
    FUZZ_CHECK(pushwire_ws_get_state(s->peer.ws) == PUSHWIRE_WS_STATE_OPEN, "not OPEN after the handshake");
  }

  for (int ops = 0; ops < 256 && !in.empty(); ++ops) {
    uint8_t op = in.u8();
    Side &from = *sides[op >> 7];
    uint8_t kind = op & 7;
    if (kind >= 6) {
      deliver(client, server, chunks);
      deliver(server, client, chunks);
    } else {
      send_op(from, kind, in);
    }
  }
  for (int round = 0; round < 4 && (!client.wire.empty() || !server.wire.empty()); ++round) {
    deliver(client, server, chunks);
    deliver(server, client, chunks);
  }
  FUZZ_CHECK(client.wire.empty() && server.wire.empty(), "replies still flowing after 4 rounds");

  for (int i = 0; i < 2; ++i) {
    Side &s = *sides[i], &peer = *sides[1 - i];
    s.scan.finish();
    check_sender(s);
    FUZZ_CHECK(!peer.peer.failed_event && !peer.peer.sticky, "the receiver failed on valid frames");
    check_same(i ? "server to client" : "client to server", events_for(s.scan.frames), ws_messages(peer.peer.events));
    if (peer.peer.closed_event && peer.auto_close)
      FUZZ_CHECK(peer.scan.closed, "a received close was not echoed with AUTO_CLOSE");
  }
  if (client.scan.closed && server.scan.closed)
    for (Side *s : sides)
      FUZZ_CHECK(pushwire_ws_get_state(s->peer.ws) == PUSHWIRE_WS_STATE_CLOSED, "state %d after both closes",
                 int(pushwire_ws_get_state(s->peer.ws)));
  return 0;
}
