#include "ws_frame.hpp"

#include <cstring>

namespace pushwire {

bool ws_close_code_valid(unsigned code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

int ws_decode_header(const uint8_t *p, size_t n, WsFrameRules rules, WsFrameHeader *h, WsViolation *v) {
  if (n == 0) return 0;
  // Rules are checked in byte order, so a split header fails at the same byte as a whole one.
  const uint8_t b0 = p[0];
  const uint8_t opcode = b0 & 0x0f;
  const bool fin = (b0 & 0x80) != 0;
  const char *why = nullptr;
  if (b0 & 0x70) {
    why = "reserved bits set";
  } else {
    switch (opcode) {
      case WS_OP_CONT:
        if (!rules.in_message) why = "continuation frame without a message";
        break;
      case WS_OP_TEXT:
      case WS_OP_BINARY:
        if (rules.in_message) why = "new message inside a fragmented message";
        break;
      case WS_OP_CLOSE:
      case WS_OP_PING:
      case WS_OP_PONG:
        if (!fin) why = "fragmented control frame";
        break;
      default:
        why = "reserved opcode";
    }
  }
  if (!why && n >= 2) {
    const uint8_t b1 = p[1];
    const bool masked = (b1 & 0x80) != 0;
    const uint8_t len7 = b1 & 0x7f;
    if (masked != rules.expect_masked) {
      why = masked ? "masked frame from server" : "unmasked frame from client";
    } else if (ws_is_control(opcode) && len7 > WS_MAX_CONTROL) {
      why = "control frame too long";
    } else {
      size_t size = 2;
      uint64_t len = len7;
      if (len7 == 126) {
        if (n < 4) return 0;
        len = uint64_t(p[2]) << 8 | p[3];
        if (len < 126) why = "non-minimal length";
        size = 4;
      } else if (len7 == 127) {
        if (n >= 3 && (p[2] & 0x80)) {
          why = "64-bit length with the top bit set";
        } else {
          if (n < 10) return 0;
          len = 0;
          for (int i = 2; i < 10; ++i) len = len << 8 | p[i];
          if (len < 65536) why = "non-minimal length";
          size = 10;
        }
      }
      if (!why) {
        if (masked) size += 4;
        if (n < size) return 0;
        if (masked) std::memcpy(h->key, p + size - 4, 4);
        h->len = len;
        h->opcode = opcode;
        h->size = uint8_t(size);
        h->fin = fin;
        h->masked = masked;
        return int(size);
      }
    }
  }
  if (!why) return 0;
  *v = WsViolation{ERR_PROTOCOL, 1002, why};
  return -1;
}

size_t ws_write_header(uint8_t out[WS_MAX_HEADER], uint8_t opcode, bool fin, uint64_t len, const uint8_t *key) {
  out[0] = uint8_t((fin ? 0x80 : 0) | opcode);
  const uint8_t mask_bit = key ? 0x80 : 0;
  size_t n;
  if (len < 126) {
    out[1] = uint8_t(mask_bit | len);
    n = 2;
  } else if (len < 65536) {
    out[1] = uint8_t(mask_bit | 126);
    out[2] = uint8_t(len >> 8);
    out[3] = uint8_t(len);
    n = 4;
  } else {
    out[1] = uint8_t(mask_bit | 127);
    for (int i = 0; i < 8; ++i) out[2 + i] = uint8_t(len >> (56 - 8 * i));
    n = 10;
  }
  if (key) {
    std::memcpy(out + n, key, 4);
    n += 4;
  }
  return n;
}

size_t ws_close_payload(uint8_t out[WS_MAX_CONTROL], uint16_t code, const uint8_t *reason, size_t reason_len) {
  if (code == 0) return 0;
  out[0] = uint8_t(code >> 8);
  out[1] = uint8_t(code);
  if (reason_len) std::memcpy(out + 2, reason, reason_len);
  return 2 + reason_len;
}

int WsRandomPool::take(const RandomSource &src, uint8_t *out, size_t n) {
  while (n > 0) {
    if (pos_ == sizeof bytes_) {
      if (src.fill(bytes_, sizeof bytes_) != 0) return ERR_INTERNAL;
      pos_ = 0;
    }
    size_t k = sizeof bytes_ - pos_;
    if (k > n) k = n;
    std::memcpy(out, bytes_ + pos_, k);
    pos_ = uint8_t(pos_ + k);
    out += k;
    n -= k;
  }
  return 0;
}

}  // namespace pushwire
