// RFC 6455 §5 frames: header decoding (incremental, strict), header writing, close-frame
// payloads, and the per-handle pool of masking keys. No connection state lives here: the
// caller passes the two facts a header is judged by (which side must mask, and whether a
// fragmented message is under way).
#pragma once

#include <cstring>

#include "random.hpp"

namespace pushwire {

enum WsOpcode : uint8_t {
  WS_OP_CONT = 0x0,
  WS_OP_TEXT = 0x1,
  WS_OP_BINARY = 0x2,
  WS_OP_CLOSE = 0x8,
  WS_OP_PING = 0x9,
  WS_OP_PONG = 0xA,
};

constexpr size_t WS_MAX_HEADER = 14;        // 2 + 8 (64-bit length) + 4 (key)
constexpr size_t WS_MAX_CONTROL = 125;      // §5.5
constexpr size_t WS_MAX_CLOSE_REASON = 123;  // 125 minus the 2-byte code

inline bool ws_is_control(uint8_t opcode) { return (opcode & 0x8) != 0; }

// Close codes an endpoint may send or accept (§7.4.1 and the IANA registry): 1000-1003,
// 1007-1014, 3000-4999. 1005, 1006 and 1015 are reserved for reporting and never sent.
bool ws_close_code_valid(unsigned code);

// Why a connection fails: the error code for the API, the close code for the wire, and a
// short static reason (at most WS_MAX_CLOSE_REASON bytes, ASCII).
struct WsViolation {
  int error;
  uint16_t code;
  const char *reason;
};

struct WsFrameRules {
  bool expect_masked;  // server: every frame must be masked; client: none may be
  bool in_message;     // a fragmented data message is under way (CONT expected)
};

struct WsFrameHeader {
  uint64_t len;     // payload length
  uint8_t key[4];   // masking key (when masked)
  uint8_t opcode;
  uint8_t size;     // header bytes, 2..14
  bool fin;
  bool masked;
};

// Decode a header from p[0..n). Returns the header size (> 0) with *h filled, 0 when more
// bytes are needed (and the n bytes seen break no rule), or -1 with *v set at the first
// byte that breaks a rule: RSV bits, reserved opcodes, fragmented or oversized control
// frames, continuation rules, mask bit, 64-bit length MSB, non-minimal lengths. Every
// violation is ERR_PROTOCOL / 1002. Reads at most WS_MAX_HEADER bytes.
int ws_decode_header(const uint8_t *p, size_t n, WsFrameRules rules, WsFrameHeader *h, WsViolation *v);

// ws_decode_header inline for the headers nearly every frame has, so a short frame (W6:
// 64-byte fragments) does not pay for the general decoder's call and checks in byte order:
// all of it present (n >= 8), no RSV bits, the mask bit expected, and a data opcode allowed
// in the message state with a 7-bit or minimal 16-bit length, or a final control frame of
// at most 125 bytes. Anything else, every violation included, goes to ws_decode_header, so
// the results are the same; *h is filled exactly as it would be.
PUSHWIRE_INLINE int ws_decode_header_fast(const uint8_t *p, size_t n, WsFrameRules rules, WsFrameHeader *h,
                                          WsViolation *v) {
  if (PUSHWIRE_LIKELY(n >= 8)) {
    const unsigned b0 = p[0], b1 = p[1];
    const unsigned op = b0 & 0x0f, len7 = b1 & 0x7f;
    const bool masked = (b1 & 0x80) != 0;
    // Bit `op` set for the data opcodes allowed now: CONT inside a message, TEXT and
    // BINARY outside one.
    const unsigned data_ops = rules.in_message ? 1u << WS_OP_CONT : 1u << WS_OP_TEXT | 1u << WS_OP_BINARY;
    const unsigned control_ops = 1u << WS_OP_CLOSE | 1u << WS_OP_PING | 1u << WS_OP_PONG;
    const bool simple = (data_ops >> op) & 1 ? len7 <= 126 : ((control_ops >> op) & 1) && (b0 & 0x80) && len7 <= 125;
    if (PUSHWIRE_LIKELY(simple && (b0 & 0x70) == 0 && masked == rules.expect_masked)) {
      size_t size = 2;
      uint64_t len = len7;
      if (len7 == 126) {
        len = unsigned(p[2]) << 8 | p[3];
        size = 4;
      }
      if (PUSHWIRE_LIKELY(len7 < 126 || len >= 126)) {
        if (masked) {
          std::memcpy(h->key, p + size, 4);
          size += 4;
        }
        h->len = len;
        h->opcode = uint8_t(op);
        h->size = uint8_t(size);
        h->fin = (b0 & 0x80) != 0;
        h->masked = masked;
        return int(size);
      }
    }
  }
  return ws_decode_header(p, n, rules, h, v);
}

// Write a header for a payload of `len` bytes into out; `key` NULL means unmasked.
// Returns the header size (2..14). Lengths use the minimal encoding.
size_t ws_write_header(uint8_t out[WS_MAX_HEADER], uint8_t opcode, bool fin, uint64_t len, const uint8_t *key);

// Header size for a payload of `len` bytes.
inline size_t ws_header_size(uint64_t len, bool masked) {
  return (len < 126 ? 2 : len < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

// Close payload: code (big-endian) then reason; code 0 means an empty payload. The reason
// must already fit (<= WS_MAX_CLOSE_REASON). Returns the payload length.
size_t ws_close_payload(uint8_t out[WS_MAX_CONTROL], uint16_t code, const uint8_t *reason, size_t reason_len);

// Random bytes drawn from the source in blocks, so a client does not make a system call
// per frame. Bytes come out in the order the source produced them (a deterministic
// source gives the same keys with or without the pool).
class WsRandomPool {
 public:
  // Copy the next n bytes into out. 0 or ERR_INTERNAL (the source failed).
  int take(const RandomSource &src, uint8_t *out, size_t n);
  void discard() { pos_ = sizeof bytes_; }  // after the source changes

 private:
  uint8_t bytes_[32];
  uint8_t pos_ = sizeof bytes_;
};

}  // namespace pushwire
