// Boost.Beast (Debian libboost-dev, header-only) on W1-W7, through its public API:
// websocket::stream<MemStream>, where MemStream is a synchronous in-memory stream (Beast's
// SyncReadStream/SyncWriteStream concepts). A read_some() call returns at most the rest
// of the current 64 KiB chunk, the way a socket read returns what one recv() got; writes
// (the 101, pongs) are counted, and for W7 kept to be checked after the timed region.
//   W1-W6: the fixed sample handshake through ws.accept(), then ws.read(flat_buffer) per
//          message (Beast checks masking, reassembles, validates UTF-8 incrementally and
//          answers pings itself; control_callback counts them), buffer consumed after each.
//   W7:    per request, http::request_parser<empty_body>::put() on the request bytes, the
//          two checks Beast's accept does not make (Host present; the key decodes to 16
//          bytes), then websocket::stream::accept(request), which validates the rest and
//          writes the 101 (no permessage-deflate: the option is off by default).
// The io_context is created once (as an application has one); it is never run, since
// only the synchronous operations are used.
#include <cstring>

#include "bench.hpp"

#if __has_include(<boost/beast/websocket.hpp>)
#define PWBENCH_HAVE_BEAST 1
// GCC 12 with the sanitizers reports a false maybe-uninitialized inside Beast's HTTP parser.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/version.hpp>
#endif

namespace bench {

#ifdef PWBENCH_HAVE_BEAST
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

class MemStream {
 public:
  using executor_type = net::io_context::executor_type;
  explicit MemStream(net::io_context &ioc) : ex_(ioc.get_executor()) {}
  executor_type get_executor() noexcept { return ex_; }

  void set_input(const uint8_t *p, size_t n) {
    in_ = p;
    size_ = n;
    pos_ = 0;
    chunk_end_ = 0;
  }
  uint64_t written = 0;
  std::vector<uint8_t> *sink = nullptr;  // W7: where the responses go

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence &b, beast::error_code &ec) {
    if (pos_ == size_) {
      ec = net::error::eof;
      return 0;
    }
    if (pos_ == chunk_end_) chunk_end_ = pos_ + (size_ - pos_ < kChunk ? size_ - pos_ : kChunk);
    size_t n = net::buffer_copy(b, net::const_buffer(in_ + pos_, chunk_end_ - pos_));
    pos_ += n;
    ec = {};
    return n;
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence &b) {
    beast::error_code ec;
    size_t n = read_some(b, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence &b, beast::error_code &ec) {
    size_t n = 0;
    for (auto it = net::buffer_sequence_begin(b); it != net::buffer_sequence_end(b); ++it) {
      net::const_buffer cb(*it);
      if (sink) {
        const uint8_t *p = static_cast<const uint8_t *>(cb.data());
        sink->insert(sink->end(), p, p + cb.size());
      }
      n += cb.size();
    }
    written += n;
    ec = {};
    return n;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence &b) {
    beast::error_code ec;
    return write_some(b, ec);
  }

 private:
  executor_type ex_;
  const uint8_t *in_ = nullptr;
  size_t size_ = 0, pos_ = 0, chunk_end_ = 0;
};

// Found by ADL after a close frame; a memory stream has nothing to shut down.
void teardown(beast::role_type, MemStream &, beast::error_code &ec) { ec = {}; }

class BeastWs : public Runner {
 public:
  const char *name() const override { return "beast"; }
  const char *lang() const override { return "c++"; }
  bool supports(const Workload &w) const override { return w.is_ws(); }

  void pass(const Workload &w, PassResult &r) override {
    websocket::stream<MemStream> ws(ioc_);
    ws.read_message_max(32u << 20);
    ws.control_callback([&r](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::ping) r.pings++;
    });
    beast::error_code ec;
    ws.next_layer().set_input(reinterpret_cast<const uint8_t *>(kSampleRequest), sizeof kSampleRequest - 1);
    ws.accept(ec);
    if (ec) {
      r.error = "accept: " + ec.message();
      return;
    }
    ws.next_layer().written = 0;  // the 101 is not a pong
    ws.next_layer().set_input(w.data.data(), w.data.size());
    beast::flat_buffer buf;
    for (;;) {  // until the input runs out, so nothing after the last message goes unread
      ws.read(buf, ec);
      if (ec == net::error::eof) break;
      if (ec) {
        r.error = "read: " + ec.message();
        break;
      }
      r.checksum += msg_checksum(static_cast<const uint8_t *>(buf.data().data()), buf.size());
      r.units++;
      buf.consume(buf.size());
    }
    r.pong_bytes = ws.next_layer().written;
  }

  std::string extras(const Workload &) const override {
    return ",\"utf8_validated\":true,\"chunk\":65536,\"handshake\":\"rfc6455-sample\",\"api\":\"websocket::stream<"
           "MemStream>::read(flat_buffer)\",\"version\":\"boost " BOOST_LIB_VERSION "\"";
  }

 private:
  net::io_context ioc_;
};

class BeastHandshake : public Runner {
 public:
  const char *name() const override { return "beast"; }
  const char *lang() const override { return "c++"; }
  bool supports(const Workload &w) const override { return w.id == "W7"; }
  void prepare(const Workload &w) override {
    reqs_.clear();
    const uint8_t *p = w.data.data();
    size_t start = 0;
    for (size_t i = 3; i < w.data.size(); i++) {
      if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r') {
        reqs_.push_back({start, i + 1 - start});
        start = i + 1;
      }
    }
    arena_.reserve(reqs_.size() * 256);
  }
  void release(const Workload &) override {
    std::vector<uint8_t>().swap(arena_);
    reqs_.clear();
    resp_.clear();
  }

  void pass(const Workload &w, PassResult &r) override {
    arena_.clear();
    resp_.clear();
    for (size_t i = 0; i < reqs_.size(); i++) {
      beast::error_code ec;
      http::request_parser<http::empty_body> parser;
      parser.put(net::const_buffer(w.data.data() + reqs_[i].first, reqs_[i].second), ec);
      if (ec || !parser.is_done()) {
        r.error = "request " + std::to_string(i) + ": parse: " + (ec ? ec.message() : "incomplete");
        return;
      }
      const auto &req = parser.get();
      auto key = req[http::field::sec_websocket_key];
      if (req.find(http::field::host) == req.end() || !valid_ws_key(key.data(), key.size())) {
        r.error = "request " + std::to_string(i) + ": no Host or bad key";
        return;
      }
      size_t at = arena_.size();
      websocket::stream<MemStream> ws(ioc_);
      ws.next_layer().sink = &arena_;
      ws.accept(parser.release(), ec);
      if (ec) {
        r.error = "request " + std::to_string(i) + ": accept: " + ec.message();
        return;
      }
      resp_.push_back({at, arena_.size() - at});
      r.units++;
    }
  }

  void after_pass(const Workload &, PassResult &r) override {
    if (!r.error.empty()) return;
    for (size_t i = 0; i < resp_.size(); i++) {
      std::string why;
      if (!accept_checksum(arena_.data() + resp_[i].first, resp_[i].second, r.checksum, why)) {
        r.error = "response " + std::to_string(i) + ": " + why;
        return;
      }
    }
  }
  std::string extras(const Workload &) const override {
    return ",\"api\":\"http::request_parser::put + websocket::stream<MemStream>::accept(request) per "
           "request\",\"version\":\"boost " BOOST_LIB_VERSION "\"";
  }

 private:
  net::io_context ioc_;
  std::vector<std::pair<size_t, size_t>> reqs_, resp_;
  std::vector<uint8_t> arena_;
};

}  // namespace

void add_beast_runners(std::vector<std::unique_ptr<Runner>> &out) {
  out.emplace_back(new BeastWs());
  out.emplace_back(new BeastHandshake());
}

#else

namespace {
class BeastMissing : public Runner {
 public:
  const char *name() const override { return "beast"; }
  std::string unavailable() const override { return "built without libboost-dev (apt-get install libboost-dev)"; }
  bool supports(const Workload &w) const override { return w.is_ws() || w.id == "W7"; }
  void pass(const Workload &, PassResult &) override {}
};
}  // namespace

void add_beast_runners(std::vector<std::unique_ptr<Runner>> &out) { out.emplace_back(new BeastMissing()); }

#endif

}  // namespace bench
