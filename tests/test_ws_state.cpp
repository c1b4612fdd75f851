// The state machine's tables: every input in every state, every permission.
#include "harness.hpp"
#include "ws_state.hpp"

using namespace pushwire;

namespace {

WsState at(WsSide send, WsSide recv) {
  // Drive a fresh machine to (send, recv) through legal inputs only.
  WsState s;
  switch (send) {
    case WsSide::Head: break;
    case WsSide::Open: s.apply(WsInput::SendHead); break;
    case WsSide::Closed: s.apply(WsInput::SendHead); s.apply(WsInput::SendClose); break;
    case WsSide::Refused: s.apply(WsInput::SendRefuse); break;
    default: break;
  }
  switch (recv) {
    case WsSide::Head: break;
    case WsSide::Open: s.apply(WsInput::RecvHead); break;
    case WsSide::Closed: s.apply(WsInput::RecvHead); s.apply(WsInput::RecvClose); break;
    case WsSide::Refused: s.apply(WsInput::RecvRefuse); break;
    case WsSide::BadHead: s.apply(WsInput::RecvFail); break;
    case WsSide::Failing: s.apply(WsInput::RecvHead); s.apply(WsInput::RecvFail); break;
    case WsSide::Failed:
      s.apply(WsInput::RecvHead);
      s.apply(WsInput::RecvFail);
      s.apply(WsInput::ReportFail);
      break;
  }
  return s;
}

}  // namespace

TEST(ws_state_transitions) {
  // Client: request out, then the 101; server: request in, then the 101 out.
  WsState c;
  CHECK_EQ(c.public_state(), PUSHWIRE_WS_STATE_HANDSHAKE);
  CHECK(c.apply(WsInput::SendHead));
  CHECK(!c.handshake_over());
  CHECK(c.apply(WsInput::RecvHead));
  CHECK(c.handshake_over());
  CHECK_EQ(c.public_state(), PUSHWIRE_WS_STATE_OPEN);
  CHECK(c.apply(WsInput::SendClose));
  CHECK_EQ(c.public_state(), PUSHWIRE_WS_STATE_CLOSING);
  CHECK(!c.apply(WsInput::SendClose));  // once
  CHECK(c.apply(WsInput::RecvClose));
  CHECK_EQ(c.public_state(), PUSHWIRE_WS_STATE_CLOSED);
  CHECK(!c.apply(WsInput::RecvFail));  // nothing fails after the peer's close
  CHECK(!c.apply(WsInput::RecvHead));

  // Every input from every state: exactly the documented transitions exist.
  const WsSide sides[] = {WsSide::Head,    WsSide::Open,   WsSide::Closed, WsSide::Refused,
                          WsSide::BadHead, WsSide::Failed, WsSide::Failing};
  int legal = 0;
  for (WsSide snd : {WsSide::Head, WsSide::Open, WsSide::Closed, WsSide::Refused})
    for (WsSide rcv : sides)
      for (int in = 0; in < WS_INPUT_COUNT; ++in) {
        WsState s = at(snd, rcv);
        WsState before = s;
        bool ok = s.apply(WsInput(in));
        if (ok) ++legal;
        else CHECK(s.send() == before.send() && s.recv() == before.recv());
      }
  // Per send state: SendHead, SendRefuse from Head; SendClose from Open (7 recv states each).
  // Per recv state: RecvHead, RecvRefuse, RecvFail from Head; RecvClose, RecvFail from Open;
  // ReportFail from Failing (4 send states each).
  CHECK_EQ(legal, 3 * 7 + 6 * 4);
}

TEST(ws_state_permissions) {
  // Server awaiting its answer.
  WsState s = at(WsSide::Head, WsSide::Open);
  CHECK_EQ(s.may(WsAction::Accept), 0);
  CHECK_EQ(s.may(WsAction::Refuse), 0);
  CHECK_EQ(s.may(WsAction::Start), ERR_INVALID_STATE);
  CHECK_EQ(s.may(WsAction::Send), ERR_INVALID_STATE);
  CHECK_EQ(s.may(WsAction::Close), ERR_INVALID_STATE);
  CHECK_EQ(s.may(WsAction::Decode), ERR_INVALID_STATE);  // a first frame waits for the accept
  // Client awaiting the 101.
  s = at(WsSide::Open, WsSide::Head);
  CHECK_EQ(s.may(WsAction::Send), ERR_INVALID_STATE);
  CHECK_EQ(s.may(WsAction::Close), ERR_INVALID_STATE);
  CHECK_EQ(s.may(WsAction::Accept), ERR_INVALID_STATE);
  CHECK_EQ(s.may(WsAction::Start), ERR_INVALID_STATE);
  CHECK_EQ(at(WsSide::Head, WsSide::Head).may(WsAction::Start), 0);
  // Open.
  s = at(WsSide::Open, WsSide::Open);
  CHECK_EQ(s.may(WsAction::Send), 0);
  CHECK_EQ(s.may(WsAction::Close), 0);
  CHECK_EQ(s.may(WsAction::Decode), 0);
  // Peer closed first: we may still send data, then close.
  s = at(WsSide::Open, WsSide::Closed);
  CHECK_EQ(s.may(WsAction::Send), 0);
  CHECK_EQ(s.may(WsAction::Close), 0);
  CHECK_EQ(s.may(WsAction::Decode), ERR_INVALID_STATE);
  // We closed first: data is a local error, receiving goes on.
  s = at(WsSide::Closed, WsSide::Open);
  CHECK_EQ(s.may(WsAction::Send), ERR_CLOSED);
  CHECK_EQ(s.may(WsAction::Close), ERR_CLOSED);
  CHECK_EQ(s.may(WsAction::Decode), 0);
  // Receive side failed but not yet reported: answers to earlier events may still go.
  s = at(WsSide::Open, WsSide::Failing);
  CHECK_EQ(s.may(WsAction::Send), 0);
  CHECK_EQ(s.may(WsAction::Close), 0);
  CHECK_EQ(s.may(WsAction::Decode), ERR_INVALID_STATE);
  CHECK_EQ(s.public_state(), PUSHWIRE_WS_STATE_OPEN);
  // Receive side failed and reported: only the close may go.
  s = at(WsSide::Open, WsSide::Failed);
  CHECK_EQ(s.may(WsAction::Send), ERR_CLOSED);
  CHECK_EQ(s.may(WsAction::Close), 0);
  CHECK_EQ(s.public_state(), PUSHWIRE_WS_STATE_FAILED);
  // A bad request can still be refused, never accepted; a bad response leaves nothing to send.
  s = at(WsSide::Head, WsSide::BadHead);
  CHECK_EQ(s.may(WsAction::Refuse), 0);
  CHECK_EQ(s.may(WsAction::Accept), ERR_INVALID_STATE);
  CHECK_EQ(s.public_state(), PUSHWIRE_WS_STATE_FAILED);
  s = at(WsSide::Open, WsSide::BadHead);
  CHECK_EQ(s.may(WsAction::Close), ERR_INVALID_STATE);
  CHECK_EQ(s.may(WsAction::Send), ERR_INVALID_STATE);
  // Refusals end the connection (CLOSED), a refused server answer too.
  CHECK_EQ(at(WsSide::Refused, WsSide::Open).public_state(), PUSHWIRE_WS_STATE_CLOSED);
  CHECK_EQ(at(WsSide::Open, WsSide::Refused).public_state(), PUSHWIRE_WS_STATE_CLOSED);
  CHECK_EQ(at(WsSide::Refused, WsSide::BadHead).public_state(), PUSHWIRE_WS_STATE_FAILED);
  CHECK_EQ(at(WsSide::Refused, WsSide::Open).may(WsAction::Decode), ERR_INVALID_STATE);
}
