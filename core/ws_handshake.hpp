// The RFC 6455 §4 opening handshake: server validation and answers, client request and
// response validation. Pure functions over a parsed HttpHead; the connection state lives
// in ws_state.cpp.
#pragma once

#include "buffer.hpp"
#include "http_head.hpp"

namespace pushwire {

constexpr size_t WS_KEY_SIZE = 24;     // base64 of 16 bytes
constexpr size_t WS_ACCEPT_SIZE = 28;  // base64 of a SHA-1

// base64(SHA-1(key ++ "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
void ws_accept_key(span key, char out[WS_ACCEPT_SIZE]);

// Validate a complete request head as an upgrade (§4.2.1): GET, HTTP/1.1, Host,
// Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version: 13, a key decoding to 16
// bytes, and the Origin against `origins` (empty list: any). Returns 0, or
// ERR_BAD_HANDSHAKE (status 400), ERR_BAD_VERSION (426), ERR_ORIGIN_REJECTED (403) with
// *status and *reason (static text) set.
int ws_check_request(const HttpHead &req, const StringList &origins, bool require_origin, int *status,
                     const char **reason);

// Whether `origin` matches an entry: exact (case-insensitive) or "scheme://\*.domain".
bool ws_origin_allowed(const StringList &origins, span origin);
// Validate an allow-list entry before it is added.
bool ws_origin_pattern_valid(span pattern);

// Offered subprotocols (Sec-WebSocket-Protocol, all fields, in order) and extensions
// (Sec-WebSocket-Extensions: name, raw parameters after the first ';').
bool ws_request_subprotocol(const HttpHead &req, size_t index, span *name);
bool ws_request_extension(const HttpHead &req, size_t index, span *name, span *params);
bool ws_request_offers_subprotocol(const HttpHead &req, span name);
// The first entry of `prefs` that the client offered.
bool ws_choose_subprotocol(const HttpHead &req, const StringList &prefs, span *chosen);

// Validate one extra header and append it as "Name: value\r\n" to `headers`. Names pushwire
// writes itself are refused. 0, ERR_INVALID_ARGUMENT or ERR_NOMEM.
int ws_add_extra_header(Buffer &headers, span name, span value);

// Heads written into `out`; `extra` holds rendered extra header lines. 0 or ERR_NOMEM.
int ws_write_accept(Buffer &out, span key, span subprotocol, span extra);
// A status response with a short text/plain body and Connection: close; 426 adds
// Sec-WebSocket-Version: 13. 0, ERR_INVALID_ARGUMENT (status) or ERR_NOMEM.
int ws_write_reject(Buffer &out, int status, span body, span extra);
int ws_write_client_request(Buffer &out, span host, span target, span key, const StringList &protocols, span extra);

// Validate a complete response head to a request that sent `key` and offered `protocols`
// and no extensions. Returns 0 with *chosen (maybe empty); ERR_HANDSHAKE_REJECTED when the
// status is not 101 (*status set); ERR_BAD_HANDSHAKE for an invalid 101 (wrong accept, missing
// Upgrade/Connection, a subprotocol or extension not offered). *reason: static text.
int ws_check_response(const HttpHead &resp, span key, const StringList &protocols, span *chosen, int *status,
                      const char **reason);

}  // namespace pushwire
