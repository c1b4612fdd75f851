// wslay (Debian libwslay-dev) on W1-W6, through its event API, as a non-blocking server
// would drive it: each 64 KiB chunk is "the socket's readable bytes"; wslay_event_recv()
// pulls them through recv_callback (EWOULDBLOCK once the chunk is used up), reassembles and
// validates (masking, UTF-8 of text, incrementally across fragments) and hands each whole
// message to on_msg_recv_callback; it queues a pong per ping, which wslay_event_send()
// writes through send_callback (bytes counted, discarded). wslay has no HTTP handshake:
// the context starts open ("handshake": "none").
#include <cstring>

#include "bench.hpp"

#if __has_include(<wslay/wslay.h>)
#include <wslay/wslay.h>
#define PWBENCH_HAVE_WSLAY 1
#endif

namespace bench {

#ifdef PWBENCH_HAVE_WSLAY
namespace {

struct Conn {
  const uint8_t *in = nullptr;
  size_t in_len = 0;
  PassResult *r = nullptr;
  bool closed = false;
};

ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int, void *user) {
  auto *c = static_cast<Conn *>(user);
  if (c->in_len == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = len < c->in_len ? len : c->in_len;
  std::memcpy(buf, c->in, n);
  c->in += n;
  c->in_len -= n;
  return ssize_t(n);
}

// Only pongs are written on a connection that does not fail (a failing one ends the pass).
ssize_t send_cb(wslay_event_context_ptr, const uint8_t *, size_t len, int, void *user) {
  static_cast<Conn *>(user)->r->pong_bytes += len;
  return ssize_t(len);
}

void on_msg(wslay_event_context_ptr, const wslay_event_on_msg_recv_arg *arg, void *user) {
  auto *c = static_cast<Conn *>(user);
  switch (arg->opcode) {
    case WSLAY_TEXT_FRAME:
    case WSLAY_BINARY_FRAME:
      c->r->checksum += msg_checksum(arg->msg, arg->msg_length);
      c->r->units++;
      break;
    case WSLAY_PING:
      c->r->pings++;
      break;
    case WSLAY_CONNECTION_CLOSE:
      c->closed = true;
      break;
    default:
      break;
  }
}

class WslayRunner : public Runner {
 public:
  const char *name() const override { return "wslay"; }
  bool supports(const Workload &w) const override { return w.is_ws(); }

  void pass(const Workload &w, PassResult &r) override {
    Conn c;
    c.r = &r;
    wslay_event_callbacks cbs;
    std::memset(&cbs, 0, sizeof cbs);
    cbs.recv_callback = recv_cb;
    cbs.send_callback = send_cb;
    cbs.on_msg_recv_callback = on_msg;
    wslay_event_context_ptr ctx = nullptr;
    if (wslay_event_context_server_init(&ctx, &cbs, &c) != 0) {
      r.error = "wslay_event_context_server_init failed";
      return;
    }
    wslay_event_config_set_max_recv_msg_length(ctx, 32u << 20);
    const size_t total = w.data.size();
    for (size_t off = 0; off < total; off += kChunk) {
      c.in = w.data.data() + off;
      c.in_len = total - off < kChunk ? total - off : kChunk;
      int rc = wslay_event_recv(ctx);
      if (rc != 0) {
        r.error = "wslay_event_recv: " + std::to_string(rc);
        break;
      }
      if (wslay_event_want_write(ctx) && (rc = wslay_event_send(ctx)) != 0) {
        r.error = "wslay_event_send: " + std::to_string(rc);
        break;
      }
      // A protocol violation (bad mask, bad UTF-8, ...) queues a close and stops reading.
      if (!wslay_event_get_read_enabled(ctx) || c.closed) {
        r.error = "wslay failed the connection, close code " + std::to_string(wslay_event_get_status_code_sent(ctx));
        break;
      }
    }
    wslay_event_context_free(ctx);
  }

  std::string extras(const Workload &) const override {
    return ",\"utf8_validated\":true,\"chunk\":65536,\"handshake\":\"none\",\"api\":\"wslay event API, "
           "recv_callback over the chunk\",\"version\":\"" WSLAY_VERSION "\"";
  }
};

}  // namespace

void add_wslay_runners(std::vector<std::unique_ptr<Runner>> &out) { out.emplace_back(new WslayRunner()); }

#else

namespace {
class WslayMissing : public Runner {
 public:
  const char *name() const override { return "wslay"; }
  std::string unavailable() const override { return "built without libwslay-dev (apt-get install libwslay-dev)"; }
  bool supports(const Workload &w) const override { return w.is_ws(); }
  void pass(const Workload &, PassResult &) override {}
};
}  // namespace

void add_wslay_runners(std::vector<std::unique_ptr<Runner>> &out) { out.emplace_back(new WslayMissing()); }

#endif

}  // namespace bench
