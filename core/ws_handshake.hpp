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

// Validate a complete request head as an upgrade (§4.2.1). Checked in this order, the
// first failure wins:
//   method GET (case-sensitive)                                  400 ERR_BAD_HANDSHAKE
//     (a non-GET request to a WebSocket endpoint is a bad upgrade request, not 405:
//      routing other methods elsewhere is the application's job)
//   HTTP/1.1                                                     400
//   exactly one non-empty Host                                   400
//   Upgrade lists "websocket" (case-insensitive)                 400
//   Connection lists "upgrade" (case-insensitive)                400
//   exactly one Sec-WebSocket-Version, exactly "13"              426 ERR_BAD_VERSION
//   exactly one Sec-WebSocket-Key, canonical base64 of 16 bytes  400
//   Sec-WebSocket-Protocol elements are tokens                   400
//   Sec-WebSocket-Extensions offer is well-formed                400
//   with a non-empty `origins`: at most one Origin, allowed by   403 ERR_ORIGIN_REJECTED
//     ws_origin_allowed; none at all only when !require_origin
// Returns 0 (*status 101, *reason "", and *key, when not NULL, the validated key: what
// ws_request_key would find, without a second pass over the fields), one of the codes
// above with *status and *reason (static text) set, or ERR_INVALID_ARGUMENT (*status 0)
// when `req` is not a complete request.
int ws_check_request(const HttpHead &req, const StringList &origins, bool require_origin, int *status,
                     const char **reason, span *key = nullptr);

// The value of the first Sec-WebSocket-Key field (empty when there is none): what
// ws_check_request validated, for the answer.
span ws_request_key(const HttpHead &req);

// Whether `origin` matches an entry: exact (ASCII case-insensitive), or "scheme://\*.domain[:port]",
// which matches any subdomain of `domain` at any depth with the same scheme and port, but not
// `domain` itself.
bool ws_origin_allowed(const StringList &origins, span origin);
// Validate an allow-list entry before it is added: scheme "://" host [":" port], no path;
// host a DNS name, an IP literal in brackets (exact form only), or "*." followed by a DNS name.
// "null" is refused: opaque origins cannot be told apart.
bool ws_origin_pattern_valid(span pattern);

// Offered subprotocols (Sec-WebSocket-Protocol, all fields, in order) and extensions
// (Sec-WebSocket-Extensions, all fields: name, raw parameters after the first ';' with
// surrounding whitespace removed). Each call is one linear pass over the fields.
bool ws_request_subprotocol(const HttpHead &req, size_t index, span *name);
bool ws_request_extension(const HttpHead &req, size_t index, span *name, span *params);
// Exact (case-sensitive) match, as subprotocol names are compared byte for byte.
bool ws_request_offers_subprotocol(const HttpHead &req, span name);
// The first entry of `prefs` that the client offered; *chosen points into `prefs`.
bool ws_choose_subprotocol(const HttpHead &req, const StringList &prefs, span *chosen);
// Whether one Sec-WebSocket-Extensions value is well-formed (RFC 6455 §9.1):
// 1#( token *( OWS ";" OWS token [ OWS "=" OWS ( token / quoted-string ) ] ) ). One pass.
bool ws_extension_list_valid(span value);

// Validate one extra header and append it as "Name: value\r\n" to `headers`. The name must
// be a token and not one pushwire writes itself (Upgrade, Connection, Host, Content-Length,
// Transfer-Encoding, Sec-WebSocket-*); the value must not hold control bytes other than
// HTAB (so no CR, LF or NUL: a strict peer rejects the others too). 0, ERR_INVALID_ARGUMENT
// or ERR_NOMEM (`headers` then unchanged).
int ws_add_extra_header(Buffer &headers, span name, span value);

// The 101 without a subprotocol or extra header (the usual answer): exactly this many bytes,
// written to `out` for `key` (24 bytes, as validated by ws_check_request). The same bytes
// ws_write_accept appends for an empty subprotocol and extra.
constexpr size_t WS_PLAIN_ACCEPT_SIZE = 129;
void ws_write_plain_accept(span key, uint8_t out[WS_PLAIN_ACCEPT_SIZE]);

// Heads appended to `out`; `extra` holds rendered extra header lines. On error `out` is
// unchanged.
// 101 with the accept key for `key` (24 bytes, as validated by ws_check_request) and
// Sec-WebSocket-Protocol when `subprotocol` is not empty. 0 or ERR_NOMEM.
int ws_write_accept(Buffer &out, span key, span subprotocol, span extra);
// A status response with the standard reason phrase (empty for unregistered codes), a
// text/plain body and Connection: close; 426 adds Sec-WebSocket-Version: 13. `status`
// must be 200..599 except 204, 205 and 304 (those cannot carry a body).
// 0, ERR_INVALID_ARGUMENT (status) or ERR_NOMEM.
int ws_write_reject(Buffer &out, int status, span body, span extra);
// The standard reason phrase of `status` (RFC 9110), "" when it has none. Static.
const char *http_reason_phrase(int status);
// GET request with `host` (non-empty, %x21-7E), `target` ('/' then %x21-7E), `key` (24
// bytes) and the offered `protocols` (tokens) on one Sec-WebSocket-Protocol line.
// 0, ERR_INVALID_ARGUMENT or ERR_NOMEM.
int ws_write_client_request(Buffer &out, span host, span target, span key, const StringList &protocols, span extra);

// Validate a complete response head to a request that sent `key` and offered `protocols`
// and no extensions. Checked in this order: status 101 (else ERR_HANDSHAKE_REJECTED),
// HTTP/1.1, Upgrade lists websocket, Connection lists upgrade, exactly one
// Sec-WebSocket-Accept equal to ws_accept_key(key), no Sec-WebSocket-Extensions field,
// at most one Sec-WebSocket-Protocol holding a single offered name (each
// ERR_BAD_HANDSHAKE). Returns 0 with *chosen (empty when none; points into `resp`).
// *status receives the response status (0 and ERR_INVALID_ARGUMENT when `resp` is not a
// complete response); *reason: static text, "" on success.
int ws_check_response(const HttpHead &resp, span key, const StringList &protocols, span *chosen, int *status,
                      const char **reason);

}  // namespace pushwire
