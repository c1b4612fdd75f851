/*
 * pushwire/errors.h: the one list of pushwire status codes.
 *
 * Ranges are pinned and values never change meaning:
 *   0            success, and "no event yet" where a call says so
 *   -100..-199   local misuse: the caller broke the API contract (LocalProtocolError in bindings)
 *   -200..-299   remote violation: the peer broke the protocol (RemoteProtocolError in bindings)
 *   -900..-999   fatal: the handle is unusable; only its _free function may be called
 *
 * Bindings may regenerate their tables from PUSHWIRE_ERROR_LIST(X); each entry is
 * X(NAME, value, "message").
 */
#ifndef PUSHWIRE_ERRORS_H
#define PUSHWIRE_ERRORS_H

#define PUSHWIRE_ERROR_LIST(X)                                                                          \
  X(OK, 0, "success")                                                                                   \
  X(INVALID_ARGUMENT, -101, "invalid argument")                                                         \
  X(INVALID_STATE, -102, "call not allowed in the current state of the handle")                         \
  X(BUFFER_TOO_SMALL, -103, "output buffer too small")                                                  \
  X(BUFFER_FULL, -104, "buffered bytes would exceed the configured limit")                              \
  X(CLOSED, -105, "this direction of the connection is already closed")                                 \
  X(UNSUPPORTED, -106, "unsupported option or value")                                                   \
  X(PROTOCOL, -201, "the peer violated the WebSocket framing rules")                                    \
  X(BAD_UTF8, -202, "invalid UTF-8 in a text message or close reason")                                  \
  X(MESSAGE_TOO_BIG, -203, "a frame or message exceeds the configured size limit")                      \
  X(POLICY, -204, "the peer violated a configured policy (too many fragments)")                         \
  X(BAD_HTTP, -205, "malformed HTTP head")                                                              \
  X(HEAD_TOO_LARGE, -206, "HTTP head exceeds the configured size or header count limit")                \
  X(BAD_HANDSHAKE, -207, "the opening handshake is invalid")                                            \
  X(BAD_VERSION, -208, "unsupported Sec-WebSocket-Version")                                             \
  X(ORIGIN_REJECTED, -209, "the request Origin is not allowed")                                         \
  X(HANDSHAKE_REJECTED, -210, "the server did not switch protocols")                                    \
  X(CONNECTION_LOST, -211, "input ended before the close handshake completed")                          \
  X(TIMEOUT, -212, "the peer sent nothing within the keepalive timeout")                                \
  X(LINE_TOO_LONG, -213, "an event-stream line exceeds the configured limit")                           \
  X(EVENT_TOO_BIG, -214, "an event-stream event exceeds the configured limit")                          \
  X(NOMEM, -901, "out of memory")                                                                       \
  X(INTERNAL, -902, "internal error")

typedef enum pushwire_error {
#define PUSHWIRE__ERROR_ENUM(name, value, message) PUSHWIRE_ERR_##name = (value),
  PUSHWIRE_ERROR_LIST(PUSHWIRE__ERROR_ENUM)
#undef PUSHWIRE__ERROR_ENUM
} pushwire_error;

#endif /* PUSHWIRE_ERRORS_H */
