// THE WebSocket connection state machine.
//
// Rule 1: everything that affects the state machine lives here. Every transition of the
//         connection is a row of kTransitions; every "may I do this now?" is a row of
//         kRules. ws_session.cpp only reports what happened (apply) and asks (may).
// Rule 2: this file does not know which role we play. A client and a server run the same
//         tables; they only feed the inputs in a different order.
//
// The model
// ---------
// A connection is two directions, each with its own state (h11 keeps our_state and
// their_state the same way): what we send and what we receive. Each starts in Head (the
// opening handshake's head has not gone / arrived):
//
//   client: SendHead (request queued) ... RecvHead (valid 101)     -> both Open
//   server: RecvHead (valid request)  ... SendHead (101 queued)    -> both Open
//
// so "request sent, awaiting the response" is send=Open, recv=Head, and "request
// received, awaiting accept or reject" is send=Head, recv=Open. Frames are decoded only
// when both heads are done (a first frame that arrives with the request waits for the
// accept). The close handshake then closes each direction on its own: we send close
// (send=Closed) and they send close (recv=Closed), in either order. Keeping the
// directions apart is what makes the failure rules simple: when the receive side fails
// (a protocol violation, lost input, a keepalive timeout), recv=Failing while send stays
// Open: decoding stops at once, but the application, which pulls events in order, has not
// heard of it yet and may still answer the messages that came before the violation. When
// it pulls the event reporting the failure, recv=Failed: from then on the close frame
// announcing the failure can still be sent, but data cannot (ERR_CLOSED). After our
// close is out, data is ERR_CLOSED while received data is still delivered until the
// peer's close arrives.
//
// Handshake failures are their own states: Refused (send: we answered with a 4xx; recv:
// the peer answered without switching protocols) and BadHead (the peer's head was
// invalid, or input ended before it). A server that received an invalid request may still
// send its refusal (Refuse is allowed from recv=BadHead); a client whose response was
// invalid has nothing left to send.
//
// The receive path (ws_session.cpp, ws_recv.cpp)
// ----------------------------------------------
// Performance shapes everything below: small frames must cost a few nanoseconds, large
// ones memory bandwidth, and payload bytes are copied at most once.
//
// * Eager processing. feed() parses frames straight from the caller's bytes as they
//   arrive; nothing is buffered first. Headers cut off at the end of a feed go into a
//   14-byte array; payload bytes are unmasked while copied (mask_copy, one pass) into the
//   arena, where a message is reassembled or, in streaming mode, handed out chunk by
//   chunk. Control payloads (at most 125 bytes) go to a separate small area, so a ping in
//   the middle of a fragmented message never splits the message's bytes.
// * Events as offsets. Each event is a 24-byte record in a queue holding an offset into
//   the arena or the control area (they may grow and move while more input is parsed) or,
//   for feed_mutable and static reasons, a pointer. next_event turns it into spans.
// * Reset on drain. When the queue is empty at the start of a feed or next_event, every
//   span handed out before is dead (those are mutating calls), so the arena and control
//   area start over. Only a message still being received stays, moved to the front when
//   completed payloads precede it: each message moves at most once, so a 16 MiB message
//   fed one byte at a time, or 65536 fragments, stays linear. A message that begins behind
//   completed ones and will straddle the read (its first frame 4 KiB or more) is started
//   at the front of a spare area instead (the two areas trade places), so the common
//   shape, one large message per read, never moves; the move remains for the second
//   such message of one read, and for messages whose first frame is short (judged by that
//   frame alone: a short first fragment of a long message is moved whole at the drain).
// * A hot path. A run of whole one-frame text or binary messages with 7-bit lengths,
//   arriving while nothing is under way, is taken in one loop (recv_small): each payload
//   unmasked in registers, ASCII told from the OR of its bytes before the validator is
//   called, the event records written straight into the queue's room up to its limit.
//   The same loop takes buffered fragmented messages whose frames have 7-bit lengths
//   (W6): payloads appended to the arena, the text validated once at the message's end.
//   Every other frame, and every rule such a frame might break, goes through
//   ws_decode_header and the general code.
// * Bounded queue, held input. At most WS_QUEUE_MAX events wait. Past that, parsing
//   pauses and the rest of the feed is copied to the held-input buffer, and next_event
//   resumes parsing it once the queue has drained. A feed that arrives while events or
//   held bytes are still waiting is held as well, up to MAX_INPUT_BUFFER (else
//   ERR_BUFFER_FULL and nothing is taken), so memory never grows with input the
//   application does not pull. The bytes of one feed that finds the handle drained are
//   always taken (its leftover may exceed the limit once; the caller chose that size).
//   Parsing also pauses before a large message (8 times the rest of the read or more) that
//   begins behind completed ones still waiting, when the arena could hold it alone once
//   drained: so back-to-back large messages never need twice the arena.
// * feed_mutable. When a whole single-frame message or control frame lies in the lent
//   buffer, it is unmasked in place and its event points into the caller's bytes: no
//   copy at all. Fragments and frames cut off at the end take the copying path.
// * Fail fast. A header is judged byte by byte (ws_frame.cpp), limits are checked when
//   a header is complete (before any payload is stored), and text is validated across
//   frames and feeds, so the failure names the first invalid byte. Short text steps are
//   validated as one run a little later (at most 4096 bytes), but always before anything
//   that follows them can be observed: end of message, control frame, failure, end of read.
// * Steady state: no allocation, no copy beyond the one unmasking copy, and no indirect
//   call per frame; the arena, control area and queue keep their capacity between
//   drains (big ones are returned when idle).
#include "ws_state.hpp"

namespace pushwire {

namespace {

constexpr uint8_t bit(WsSide s) { return uint8_t(1u << unsigned(s)); }
constexpr WsSide X = WsSide(0xff);  // impossible

struct Transition {
  bool recv;                   // which direction the input moves
  WsSide next[WS_SIDE_COUNT];  // indexed by that direction's current state
};

// Rows in WsInput order; columns in WsSide order: Head, Open, Closed, Refused, BadHead,
// Failed, Failing.
const Transition kTransitions[WS_INPUT_COUNT] = {
    /* SendHead   */ {false, {WsSide::Open, X, X, X, X, X, X}},
    /* SendRefuse */ {false, {WsSide::Refused, X, X, X, X, X, X}},
    /* SendClose  */ {false, {X, WsSide::Closed, X, X, X, X, X}},
    /* RecvHead   */ {true, {WsSide::Open, X, X, X, X, X, X}},
    /* RecvRefuse */ {true, {WsSide::Refused, X, X, X, X, X, X}},
    /* RecvClose  */ {true, {X, WsSide::Closed, X, X, X, X, X}},
    /* RecvFail   */ {true, {WsSide::BadHead, WsSide::Failing, X, X, X, X, X}},
    /* ReportFail */ {true, {X, X, X, X, X, X, WsSide::Failed}},
};

struct Rule {
  uint8_t send_ok, recv_ok;          // allowed when both directions are in these sets
  uint8_t send_closed, recv_closed;  // otherwise ERR_CLOSED in these, ERR_INVALID_STATE elsewhere
};

constexpr uint8_t kHead = bit(WsSide::Head), kOpen = bit(WsSide::Open), kClosed = bit(WsSide::Closed),
                  kBadHead = bit(WsSide::BadHead), kFailed = bit(WsSide::Failed),
                  kFailing = bit(WsSide::Failing);

// Rows in WsAction order.
const Rule kRules[WS_ACTION_COUNT] = {
    /* Start  */ {kHead, kHead, 0, 0},
    /* Accept */ {kHead, kOpen, 0, 0},
    /* Refuse */ {kHead, uint8_t(kOpen | kBadHead), 0, 0},
    // Data after the peer's close is allowed until we close (RFC 6455 §5.5.1 only forbids
    // it after *our* close); once a receive failure is reported the connection is being
    // failed, but answers to what came before it may still go out until then.
    /* Send   */ {kOpen, uint8_t(kOpen | kClosed | kFailing), kClosed, kFailed},
    /* Close  */ {kOpen, uint8_t(kOpen | kClosed | kFailed | kFailing), kClosed, 0},
    /* Decode */ {uint8_t(kOpen | kClosed), kOpen, 0, 0},
};

}  // namespace

bool WsState::apply(WsInput in) {
  const Transition &t = kTransitions[unsigned(in)];
  WsSide &side = t.recv ? recv_ : send_;
  WsSide next = t.next[unsigned(side)];
  if (next == X) return false;
  side = next;
  return true;
}

int WsState::may(WsAction a) const {
  const Rule &r = kRules[unsigned(a)];
  if ((r.send_ok & bit(send_)) && (r.recv_ok & bit(recv_))) return 0;
  if ((r.send_closed & bit(send_)) || (r.recv_closed & bit(recv_))) return ERR_CLOSED;
  return ERR_INVALID_STATE;
}

pushwire_ws_state WsState::public_state() const {
  if (recv_ == WsSide::BadHead || recv_ == WsSide::Failed) return PUSHWIRE_WS_STATE_FAILED;
  if (send_ == WsSide::Refused || recv_ == WsSide::Refused) return PUSHWIRE_WS_STATE_CLOSED;
  if (send_ == WsSide::Head || recv_ == WsSide::Head) return PUSHWIRE_WS_STATE_HANDSHAKE;
  if (send_ == WsSide::Closed && recv_ == WsSide::Closed) return PUSHWIRE_WS_STATE_CLOSED;
  if (send_ == WsSide::Closed || recv_ == WsSide::Closed) return PUSHWIRE_WS_STATE_CLOSING;
  return PUSHWIRE_WS_STATE_OPEN;
}

}  // namespace pushwire
