// The WebSocket connection state machine. See the essay at the top of ws_state.cpp.
#pragma once

#include "config.hpp"

namespace pushwire {

// The state of one direction of the connection.
enum class WsSide : uint8_t {
  Head,     // the opening head (request or response) has not yet gone / arrived
  Open,     // the head went / arrived; frames flow once both directions are past Head
  Closed,   // a close frame went / arrived
  Refused,  // send: we refused the request; recv: the peer refused (a valid non-101 answer)
  BadHead,  // recv only: the peer's head was invalid, or input ended before it
  Failed,   // recv only: a violation, lost input or timeout after the handshake, reported
  Failing,  // recv only: the same, found but not yet pulled by the application
};
constexpr int WS_SIDE_COUNT = 7;

// Things that happen. Each moves exactly one direction.
enum class WsInput : uint8_t {
  SendHead,    // our head is queued (client request, server 101)
  SendRefuse,  // our refusal is queued (server 4xx)
  SendClose,   // our close frame is queued
  RecvHead,    // the peer's head arrived and is valid (request, 101)
  RecvRefuse,  // the peer answered without switching protocols
  RecvClose,   // the peer's close frame arrived and is valid
  RecvFail,    // the receive side failed
  ReportFail,  // the application pulled the event that reports the failure
};
constexpr int WS_INPUT_COUNT = 8;

// Things the caller asks to do.
enum class WsAction : uint8_t {
  Start,    // send our head first (client_start); the role check is the caller's
  Accept,   // answer the peer's head with ours
  Refuse,   // answer the peer's head (valid or not) with a refusal
  Send,     // a data frame, ping or pong
  Close,    // a close frame
  Decode,   // decode received frames (both heads done, receive side open)
};
constexpr int WS_ACTION_COUNT = 6;

class WsState {
 public:
  WsSide send() const { return send_; }
  WsSide recv() const { return recv_; }

  // Apply an input. False when the input is impossible in this state (the caller checks
  // with may() first; a false here is a bug, and the state is left unchanged).
  bool apply(WsInput in);
  // 0 if `a` is allowed now, else ERR_CLOSED or ERR_INVALID_STATE.
  int may(WsAction a) const;
  // Both directions have left Head: the handshake's memory can go.
  bool handshake_over() const { return send_ != WsSide::Head && recv_ != WsSide::Head; }
  pushwire_ws_state public_state() const;

 private:
  WsSide send_ = WsSide::Head;
  WsSide recv_ = WsSide::Head;
};

}  // namespace pushwire
