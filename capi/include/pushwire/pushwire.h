/*
 * pushwire.h: the stable C ABI of pushwire, a sans-IO WebSocket (RFC 6455) and
 * Server-Sent Events core.
 *
 * Sans-IO: pushwire never opens, reads, writes, sleeps or reads a clock. The caller
 * hands in the bytes it read (feed), pulls events (next_event), and drains the bytes
 * to write (peek_output / consume_output). Time, where needed, is passed in (tick).
 *
 * Threading: a handle is single-threaded. Calls on one handle must not overlap;
 * different handles are independent. There is no global state.
 *
 * Spans: every pushwire_span handed out by a handle points into memory owned by that
 * handle (or into a buffer the caller lent it, see pushwire_ws_feed_mutable) and is
 * valid until the next mutating call on this handle. Mutating calls are all calls
 * taking a non-const handle pointer except the getters documented as not mutating.
 *
 * Ownership phrases used below: "copied" (the handle keeps its own copy, the caller
 * may reuse its memory at once); "does not take ownership"; "left untouched on failure".
 */
#ifndef PUSHWIRE_H
#define PUSHWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pushwire/errors.h"
#include "pushwire/version.h"

#if defined(PUSHWIRE_STATIC) || defined(PUSHWIRE_HIDE_SYMBOLS)
#define PUSHWIRE_API
#elif defined(_WIN32)
#if defined(PUSHWIRE_BUILDING)
#define PUSHWIRE_API __declspec(dllexport)
#else
#define PUSHWIRE_API __declspec(dllimport)
#endif
#elif defined(PUSHWIRE_BUILDING) && (defined(__GNUC__) || defined(__clang__))
#define PUSHWIRE_API __attribute__((visibility("default")))
#else
#define PUSHWIRE_API
#endif

/* C++ callers see the functions as noexcept: they never throw (the library is built
 * without exceptions), and the definitions carry the same specification. */
#ifdef __cplusplus
#define PUSHWIRE_NOEXCEPT noexcept
#else
#define PUSHWIRE_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* Section - Versioning                                                     */
/* ======================================================================== */

/** The library's version as 0xMMmmpp (compare with PUSHWIRE_VERSION_NUM). Never fails. */
PUSHWIRE_API uint32_t pushwire_version_num(void) PUSHWIRE_NOEXCEPT;

/** The library's version as "M.m.p", a static string. Never fails. */
PUSHWIRE_API const char *pushwire_version_string(void) PUSHWIRE_NOEXCEPT;

/* ======================================================================== */
/* Section - Types                                                          */
/* ======================================================================== */

/** A read-only view of bytes. ptr may be NULL when len is 0. */
typedef struct pushwire_span {
  const uint8_t *ptr;
  size_t len;
} pushwire_span;

/**
 * Memory functions for one handle. The struct is copied at creation; `user` is passed
 * back unchanged and the handle does not take ownership of it. malloc/realloc return
 * NULL on failure, which pushwire reports as PUSHWIRE_ERR_NOMEM (it never aborts).
 * A NULL allocator pointer at creation means the C library's malloc/realloc/free.
 */
typedef struct pushwire_allocator {
  void *user;
  void *(*malloc)(void *user, size_t size);
  void *(*realloc)(void *user, void *ptr, size_t size);
  void (*free)(void *user, void *ptr);
} pushwire_allocator;

/**
 * A source of unpredictable bytes: fill buf[0..len) and return 0, or return nonzero
 * on failure (reported as PUSHWIRE_ERR_INTERNAL). Used for Sec-WebSocket-Key and
 * client masking keys. The default is the OS CSPRNG (getrandom / arc4random).
 */
typedef int (*pushwire_random_fn)(void *user, uint8_t *buf, size_t len);

/* ======================================================================== */
/* Section - Errors                                                         */
/* ======================================================================== */

/** A short English description of `code`; "unknown error" for codes not in the list. Static, never NULL. */
PUSHWIRE_API const char *pushwire_strerror(int code) PUSHWIRE_NOEXCEPT;

/** The code's name without prefix ("PROTOCOL"); "UNKNOWN" for codes not in the list. Static, never NULL. */
PUSHWIRE_API const char *pushwire_error_name(int code) PUSHWIRE_NOEXCEPT;

/** true for -900..-999: the handle that returned it may only be freed. */
PUSHWIRE_API bool pushwire_error_is_fatal(int code) PUSHWIRE_NOEXCEPT;

/** true for -200..-299: the peer broke the protocol. */
PUSHWIRE_API bool pushwire_error_is_remote(int code) PUSHWIRE_NOEXCEPT;

/** true for -100..-199: the caller misused the API. */
PUSHWIRE_API bool pushwire_error_is_local(int code) PUSHWIRE_NOEXCEPT;

/* ======================================================================== */
/* Section - HTTP request head                                              */
/* ======================================================================== */

/**
 * An incremental HTTP/1.1 request-head parser, for routing a request to WebSocket,
 * SSE or plain HTTP. It is strict: CR LF line ends only, no obs-fold, no NUL or
 * control bytes, token header names, bounded head size and header count. The request
 * line must be `METHOD SP target SP HTTP/1.0|1` (method a token, target printable
 * ASCII without spaces). Input may be split at any byte; each byte is examined once.
 * A parser that was never fed holds no memory.
 */
typedef struct pushwire_http_request pushwire_http_request;

typedef enum pushwire_http_option {
  /** Largest accepted head in bytes, request line and final CR LF included. Default 16384. */
  PUSHWIRE_HTTP_OPT_MAX_HEAD_SIZE = 1,
  /** Most header fields accepted. Default 64. */
  PUSHWIRE_HTTP_OPT_MAX_HEADERS = 2
} pushwire_http_option;

/**
 * Create a request parser. `alloc` is copied (NULL: libc).
 * Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT (out is NULL or the allocator is incomplete)
 * or PUSHWIRE_ERR_NOMEM. *out is left untouched on failure.
 */
PUSHWIRE_API int pushwire_http_request_new(pushwire_http_request **out, const pushwire_allocator *alloc)
    PUSHWIRE_NOEXCEPT;

/** Free the parser. NULL does nothing. */
PUSHWIRE_API void pushwire_http_request_free(pushwire_http_request *req) PUSHWIRE_NOEXCEPT;

/**
 * Set an option; allowed only before the first feed. Returns 0,
 * PUSHWIRE_ERR_INVALID_ARGUMENT (NULL handle, or value 0), PUSHWIRE_ERR_UNSUPPORTED
 * (unknown option) or PUSHWIRE_ERR_INVALID_STATE (after the first feed; allowed again
 * after pushwire_http_request_reset).
 */
PUSHWIRE_API int pushwire_http_request_set_option(pushwire_http_request *req, pushwire_http_option option,
                                                  uint64_t value) PUSHWIRE_NOEXCEPT;

/**
 * Feed bytes of the request. The bytes that belong to the head are copied.
 * *consumed (may be NULL) is set to the number of bytes of `data` that belong to the
 * head; bytes after them belong to whatever follows the head and are not consumed.
 * Returns 1 once the head is complete, 0 when more bytes are needed, or
 * PUSHWIRE_ERR_BAD_HTTP (400), PUSHWIRE_ERR_HEAD_TOO_LARGE (431: more than MAX_HEAD_SIZE
 * bytes or MAX_HEADERS fields), PUSHWIRE_ERR_NOMEM, or PUSHWIRE_ERR_INVALID_ARGUMENT
 * (NULL handle, or NULL data with len > 0; not sticky). The other errors are sticky:
 * every later feed returns the same code (until reset) and *consumed is 0 on any error.
 * After completion, feed returns 1 and consumes nothing.
 */
PUSHWIRE_API int pushwire_http_request_feed(pushwire_http_request *req, const uint8_t *data, size_t len,
                                            size_t *consumed) PUSHWIRE_NOEXCEPT;

/**
 * The HTTP status to answer a failed request with: 400 (BAD_HTTP), 431 (HEAD_TOO_LARGE),
 * 500 (NOMEM), or 0 if it has not failed (also for a NULL handle). Not mutating.
 */
PUSHWIRE_API int pushwire_http_request_status_hint(const pushwire_http_request *req) PUSHWIRE_NOEXCEPT;

/**
 * The request line parts. Return 0, PUSHWIRE_ERR_INVALID_STATE before the head is
 * complete, or PUSHWIRE_ERR_INVALID_ARGUMENT (NULL pointer). Spans point into the
 * parser's copy of the head and are valid until the next mutating call (feed, reset,
 * free). Not mutating.
 */
PUSHWIRE_API int pushwire_http_request_method(const pushwire_http_request *req, pushwire_span *out) PUSHWIRE_NOEXCEPT;
PUSHWIRE_API int pushwire_http_request_target(const pushwire_http_request *req, pushwire_span *out) PUSHWIRE_NOEXCEPT;
/**
 * The minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. Returns PUSHWIRE_ERR_INVALID_STATE
 * before completion or PUSHWIRE_ERR_INVALID_ARGUMENT (NULL handle). Not mutating.
 */
PUSHWIRE_API int pushwire_http_request_minor_version(const pushwire_http_request *req) PUSHWIRE_NOEXCEPT;

/**
 * Number of header fields, PUSHWIRE_ERR_INVALID_STATE before completion, or
 * PUSHWIRE_ERR_INVALID_ARGUMENT (NULL handle). Not mutating.
 */
PUSHWIRE_API int pushwire_http_request_header_count(const pushwire_http_request *req) PUSHWIRE_NOEXCEPT;

/**
 * The index-th header field, in arrival order (repeated fields stay separate). Returns 1,
 * 0 when index is past the last, PUSHWIRE_ERR_INVALID_STATE before completion, or
 * PUSHWIRE_ERR_INVALID_ARGUMENT (NULL pointer). Values have surrounding whitespace
 * removed. Spans are valid as for pushwire_http_request_method. Not mutating.
 */
PUSHWIRE_API int pushwire_http_request_header_at(const pushwire_http_request *req, size_t index,
                                                 pushwire_span *name, pushwire_span *value) PUSHWIRE_NOEXCEPT;

/**
 * The index-th field named `name` (ASCII case-insensitive). Returns 1 when found, 0
 * when not, PUSHWIRE_ERR_INVALID_STATE before completion, or PUSHWIRE_ERR_INVALID_ARGUMENT
 * (NULL handle or value, or NULL name with name_len > 0). Not mutating.
 */
PUSHWIRE_API int pushwire_http_request_header(const pushwire_http_request *req, const char *name, size_t name_len,
                                              size_t index, pushwire_span *value) PUSHWIRE_NOEXCEPT;

/**
 * Whether any field named `name` holds `token` as an element of its comma-separated
 * list (ASCII case-insensitive, e.g. "Connection: keep-alive, Upgrade" holds "upgrade";
 * commas inside quoted strings do not split). Returns 1, 0, PUSHWIRE_ERR_INVALID_STATE
 * before completion, or PUSHWIRE_ERR_INVALID_ARGUMENT (NULL handle, or a NULL string with
 * a length > 0). Not mutating.
 */
PUSHWIRE_API int pushwire_http_request_has_token(const pushwire_http_request *req, const char *name, size_t name_len,
                                                 const char *token, size_t token_len) PUSHWIRE_NOEXCEPT;

/**
 * Forget the current request (and any sticky error) to parse the next one; options stay
 * and memory is kept for reuse (pushwire_http_request_free gives it back). Returns 0 or
 * PUSHWIRE_ERR_INVALID_ARGUMENT (NULL handle).
 */
PUSHWIRE_API int pushwire_http_request_reset(pushwire_http_request *req) PUSHWIRE_NOEXCEPT;

/* ======================================================================== */
/* Section - WebSocket                                                      */
/* ======================================================================== */

/**
 * A WebSocket connection: the opening handshake, then frames, under one handle.
 *
 * Failures of the peer (a protocol violation, end of input, a keepalive timeout) fail the
 * receive side: a CLOSE (or REJECTED) event flagged PUSHWIRE_WS_EVF_FAILED comes after the
 * events before it, then next_event and feed return the sticky error; sending a close still
 * works. PUSHWIRE_ERR_NOMEM and PUSHWIRE_ERR_INTERNAL (the random source failed) are fatal:
 * every later call that returns a code returns that one; only pushwire_ws_free is useful.
 * An open connection with nothing in flight holds no memory beyond the handle itself.
 */
typedef struct pushwire_ws pushwire_ws;

typedef enum pushwire_ws_role { PUSHWIRE_WS_SERVER = 0, PUSHWIRE_WS_CLIENT = 1 } pushwire_ws_role;

/**
 * Options. Values are pinned; set them before the first feed, client_start or send. Sizes
 * and counts must be at least 1; on/off options take 0 or 1.
 */
typedef enum pushwire_ws_option {
  /** Largest message in bytes, all fragments together (buffered mode only). Default 16 MiB. Over it: close 1009. */
  PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE = 1,
  /** Largest single frame payload in bytes, judged on the header. Default 16 MiB. Over it: close 1009. */
  PUSHWIRE_WS_OPT_MAX_FRAME_SIZE = 2,
  /** Most frames in one message. Default 4096. Over it: close 1008. */
  PUSHWIRE_WS_OPT_MAX_FRAGMENTS = 3,
  /** Largest handshake head in bytes. Default 16384. Over it: 431 (server) / failure (client). */
  PUSHWIRE_WS_OPT_MAX_HEAD_SIZE = 4,
  /** Most header fields in the handshake head. Default 64. Over it: 431. */
  PUSHWIRE_WS_OPT_MAX_HEADERS = 5,
  /**
   * Most received bytes held unparsed while events wait to be pulled (or, on a server, while
   * frames that came with the request wait for the accept). Default 4 MiB. See pushwire_ws_feed.
   */
  PUSHWIRE_WS_OPT_MAX_INPUT_BUFFER = 6,
  /** Most bytes queued for output. Default 64 MiB. A send that would pass it returns PUSHWIRE_ERR_BUFFER_FULL. */
  PUSHWIRE_WS_OPT_MAX_OUTPUT_BUFFER = 7,
  /**
   * 1: answer each ping with a pong automatically (still reported as an event). A pong that
   * would pass MAX_OUTPUT_BUFFER is skipped (RFC 6455 §5.5.3 lets the latest ping be the one
   * answered). No pong goes out after our close. Default 1.
   */
  PUSHWIRE_WS_OPT_AUTO_PONG = 8,
  /**
   * 1: answer a close with a close (same code, no reason), and on a protocol violation queue
   * the close frame (code and reason) or, during a server handshake, the 4xx response
   * automatically. Default 1. These go out even past MAX_OUTPUT_BUFFER (small, and once).
   * A close frame is queued when its CLOSE event is pulled, not when it arrives: answers to
   * the messages pulled before it go out first, and a close the application sent in the
   * meantime replaces it. Likewise a violation only stops sending (PUSHWIRE_ERR_CLOSED)
   * once its CLOSE event has been pulled.
   */
  PUSHWIRE_WS_OPT_AUTO_CLOSE = 9,
  /**
   * 1: hand out message data as it arrives (TEXT/BINARY events without the FIN flag until the
   * last; the data of one feed is one chunk), so a message of any size needs memory for one
   * feed only; MAX_MESSAGE_SIZE does not apply. Default 0.
   */
  PUSHWIRE_WS_OPT_STREAMING = 10,
  /** Keepalive: send a ping after this many ms without input. 0 (default): off. See pushwire_ws_tick. */
  PUSHWIRE_WS_OPT_PING_INTERVAL_MS = 11,
  /** Keepalive: the peer is dead when nothing arrives this many ms after a keepalive ping. 0 (default): equal to the interval. */
  PUSHWIRE_WS_OPT_PONG_TIMEOUT_MS = 12,
  /** 1 (default): perform the opening handshake. 0: start OPEN, for callers whose HTTP server did the upgrade. */
  PUSHWIRE_WS_OPT_HANDSHAKE = 13,
  /** Server: 1 accepts a valid request at once (first preferred subprotocol the client offered). Default 0. */
  PUSHWIRE_WS_OPT_AUTO_ACCEPT = 14,
  /** Server: 1 rejects a request without Origin (403) when an allow-list is set. Default 0 (non-browser clients send none). */
  PUSHWIRE_WS_OPT_REQUIRE_ORIGIN = 15,
  /** 1 (default): refuse to send a text message or close reason that is not valid UTF-8 (PUSHWIRE_ERR_INVALID_ARGUMENT). */
  PUSHWIRE_WS_OPT_VALIDATE_OUTGOING_UTF8 = 16
} pushwire_ws_option;

typedef enum pushwire_ws_event_type {
  /** Server: a valid upgrade request arrived; call pushwire_ws_accept or pushwire_ws_reject. data: the request target. */
  PUSHWIRE_WS_EV_REQUEST = 1,
  /** The handshake completed (client: a valid 101 arrived; server: with AUTO_ACCEPT). data: the chosen subprotocol, maybe empty. */
  PUSHWIRE_WS_EV_ACCEPTED = 2,
  /**
   * The handshake failed. Client: the server answered with `code` (the HTTP status: 101 for
   * an invalid 101, another status for a refusal; 0 if the response was not valid HTTP).
   * Server: the request was invalid; `code` is the status of the response (queued with
   * AUTO_CLOSE). data: a reason. Always flagged PUSHWIRE_WS_EVF_FAILED; the sticky error
   * follows (HANDSHAKE_REJECTED, BAD_HANDSHAKE, BAD_VERSION, ORIGIN_REJECTED, BAD_HTTP or
   * HEAD_TOO_LARGE).
   */
  PUSHWIRE_WS_EV_REJECTED = 3,
  /** Text message data, valid UTF-8 (in streaming mode, a chunk never ends inside a character). */
  PUSHWIRE_WS_EV_TEXT = 4,
  /** Binary message data. */
  PUSHWIRE_WS_EV_BINARY = 5,
  /** A ping arrived; data: its payload. */
  PUSHWIRE_WS_EV_PING = 6,
  /** A pong arrived; data: its payload. */
  PUSHWIRE_WS_EV_PONG = 7,
  /**
   * The receive side closed. `code`: the peer's close code (1005 when its close frame had
   * none; data: its reason), or, flagged PUSHWIRE_WS_EVF_FAILED, 1006 when input ended or
   * the keepalive timed out, or the code pushwire failed the connection with (1002, 1007,
   * 1008, 1009; data: a static reason, also sent in the close frame with AUTO_CLOSE).
   */
  PUSHWIRE_WS_EV_CLOSE = 8
} pushwire_ws_event_type;

/** TEXT/BINARY: this chunk ends the message (always set in buffered mode). */
#define PUSHWIRE_WS_EVF_FIN 0x1u
/** CLOSE/REJECTED: the connection failed; the next next_event returns the sticky error. */
#define PUSHWIRE_WS_EVF_FAILED 0x2u
/** TEXT/BINARY: this chunk starts a message (streaming mode; always set in buffered mode). */
#define PUSHWIRE_WS_EVF_FIRST 0x4u

/**
 * One event. The layout is pinned (48 bytes on LP64); new event types
 * and flags may be added, and bindings skip types they do not know.
 */
typedef struct pushwire_ws_event {
  uint32_t type;      /**< pushwire_ws_event_type */
  uint32_t flags;     /**< PUSHWIRE_WS_EVF_* */
  pushwire_span data; /**< valid until the next mutating call on the handle */
  uint32_t code;      /**< close code (CLOSE) or HTTP status (REJECTED); 0 otherwise */
  uint32_t reserved0;
  uint64_t reserved[2];
} pushwire_ws_event;

/**
 * Create a connection for `role`. `alloc` is copied (NULL: libc).
 * Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT or PUSHWIRE_ERR_NOMEM; *out is left untouched on failure.
 */
PUSHWIRE_API int pushwire_ws_new(pushwire_ws **out, pushwire_ws_role role, const pushwire_allocator *alloc)
    PUSHWIRE_NOEXCEPT;

/** Free the connection and everything it holds. NULL does nothing. */
PUSHWIRE_API void pushwire_ws_free(pushwire_ws *ws) PUSHWIRE_NOEXCEPT;

/**
 * Set an option (before the first feed, client_start, or send). Returns 0,
 * PUSHWIRE_ERR_INVALID_ARGUMENT (NULL handle, value out of range), PUSHWIRE_ERR_UNSUPPORTED
 * (unknown option), PUSHWIRE_ERR_INVALID_STATE (too late) or the fatal error.
 */
PUSHWIRE_API int pushwire_ws_set_option(pushwire_ws *ws, pushwire_ws_option option, uint64_t value) PUSHWIRE_NOEXCEPT;

/** Read an option's current value into *value. Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT (NULL pointer) or PUSHWIRE_ERR_UNSUPPORTED. Not mutating. */
PUSHWIRE_API int pushwire_ws_get_option(const pushwire_ws *ws, pushwire_ws_option option, uint64_t *value)
    PUSHWIRE_NOEXCEPT;

/**
 * Replace the random source (NULL fn: back to the OS CSPRNG). The handle does not take
 * ownership of `user`. A client draws bytes in blocks of 32 (the 16-byte key first, then
 * 4 per frame), in the order the source returns them; replacing the source drops the rest
 * of a block. Returns 0 or PUSHWIRE_ERR_INVALID_ARGUMENT.
 */
PUSHWIRE_API int pushwire_ws_set_random(pushwire_ws *ws, pushwire_random_fn fn, void *user) PUSHWIRE_NOEXCEPT;

/**
 * Server: allow an Origin. Either an exact origin ("https://example.com", compared
 * ASCII case-insensitively, default ports written or not as the browser sends them) or a
 * wildcard-subdomain form ("https://\*.example.com", matching any subdomain at any depth
 * but not the bare domain). With no origin added, every origin is accepted. Copied.
 * Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT (malformed), PUSHWIRE_ERR_INVALID_STATE (a
 * client, no handshake, or after the first feed), PUSHWIRE_ERR_NOMEM.
 */
PUSHWIRE_API int pushwire_ws_add_origin(pushwire_ws *ws, const char *origin, size_t len) PUSHWIRE_NOEXCEPT;

/**
 * Add a subprotocol: for a server, the next entry of its preference list; for a client,
 * the next protocol it offers. Must be an HTTP token. Copied. Returns 0,
 * PUSHWIRE_ERR_INVALID_ARGUMENT, PUSHWIRE_ERR_INVALID_STATE (no handshake, or our head is
 * already out) or PUSHWIRE_ERR_NOMEM.
 */
PUSHWIRE_API int pushwire_ws_add_subprotocol(pushwire_ws *ws, const char *name, size_t len) PUSHWIRE_NOEXCEPT;

/**
 * Add a header field to the next head this handle writes (client request, server 101 or
 * rejection). The name must be a token; the value must not hold CR, LF or NUL; names that
 * pushwire writes itself (Upgrade, Connection, Sec-WebSocket-*, Host, Content-Length) are
 * refused. Copied. Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT, PUSHWIRE_ERR_INVALID_STATE or PUSHWIRE_ERR_NOMEM.
 */
PUSHWIRE_API int pushwire_ws_add_header(pushwire_ws *ws, const char *name, size_t name_len, const char *value,
                                        size_t value_len) PUSHWIRE_NOEXCEPT;

/**
 * Client: queue the opening request for `host` (the Host header value, with port if not
 * default) and `target` (path and query, starting with '/'). Origin, subprotocols and extra
 * headers come from add_header / add_subprotocol. The key is 16 bytes from the random
 * source (drawn only once the arguments are known to be valid). Returns 0,
 * PUSHWIRE_ERR_INVALID_ARGUMENT (empty host or bytes outside %x21-7E, target not starting
 * with '/'), PUSHWIRE_ERR_INVALID_STATE (not a client, no handshake, or already started),
 * PUSHWIRE_ERR_INTERNAL (random source failed) or PUSHWIRE_ERR_NOMEM.
 */
PUSHWIRE_API int pushwire_ws_client_start(pushwire_ws *ws, const char *host, size_t host_len, const char *target,
                                          size_t target_len) PUSHWIRE_NOEXCEPT;

/**
 * Server, after a REQUEST event: queue the 101 response. `subprotocol` (NULL or len 0:
 * the first entry of the preference list that the client offered, or none) must be one the
 * client offered. Extensions are never accepted. No ACCEPTED event follows (the caller
 * knows); frames that arrived with the request are parsed from the next feed or next_event.
 * Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT (not offered), PUSHWIRE_ERR_INVALID_STATE (a
 * client, or not between REQUEST and an answer) or PUSHWIRE_ERR_NOMEM. Invalidates the
 * request accessors.
 */
PUSHWIRE_API int pushwire_ws_accept(pushwire_ws *ws, const char *subprotocol, size_t len) PUSHWIRE_NOEXCEPT;

/**
 * Server, after a REQUEST event, or after a REJECTED event when AUTO_CLOSE is off: queue a
 * `status` response (200..599 except 204, 205 and 304, which carry no body; 426 adds
 * Sec-WebSocket-Version: 13) with a text/plain `body` (copied) and Connection: close. The
 * handle is then finished: input is ignored, the state is CLOSED (FAILED after an invalid
 * request). Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT, PUSHWIRE_ERR_INVALID_STATE or
 * PUSHWIRE_ERR_NOMEM.
 */
PUSHWIRE_API int pushwire_ws_reject(pushwire_ws *ws, unsigned status, const char *body, size_t body_len)
    PUSHWIRE_NOEXCEPT;

/**
 * Server, between the REQUEST event and accept/reject: the request target (method is
 * always GET), a header (index-th field of that name, case-insensitive), the offered
 * subprotocols and extensions (name, and the raw parameters after the first ';').
 * Return 1 (found), 0 (no such item) or PUSHWIRE_ERR_INVALID_STATE (outside that window).
 * Spans are valid until accept, reject or free. Not mutating.
 */
PUSHWIRE_API int pushwire_ws_request_target(const pushwire_ws *ws, pushwire_span *out) PUSHWIRE_NOEXCEPT;
PUSHWIRE_API int pushwire_ws_request_header(const pushwire_ws *ws, const char *name, size_t name_len, size_t index,
                                            pushwire_span *value) PUSHWIRE_NOEXCEPT;
PUSHWIRE_API int pushwire_ws_request_subprotocol(const pushwire_ws *ws, size_t index, pushwire_span *name)
    PUSHWIRE_NOEXCEPT;
PUSHWIRE_API int pushwire_ws_request_extension(const pushwire_ws *ws, size_t index, pushwire_span *name,
                                               pushwire_span *params) PUSHWIRE_NOEXCEPT;

/**
 * Feed received bytes; they are copied (payload bytes are copied exactly once, unmasked on
 * the way). They are parsed at once and events become available through next_event. When
 * events are still waiting (or, on a server, frames wait for the accept), the bytes are held
 * instead, up to MAX_INPUT_BUFFER, and parsed once the queue drains; a feed that finds
 * nothing waiting is always taken whole (parsing pauses after 4096 queued events and holds
 * the rest of it). A failure found during this call is reported through events and this
 * call returns 0. Returns 0, PUSHWIRE_ERR_BUFFER_FULL (pull events first; nothing was
 * taken), PUSHWIRE_ERR_INVALID_ARGUMENT, PUSHWIRE_ERR_INVALID_STATE (a client before
 * client_start), the fatal error, or the sticky receive error once the connection has
 * failed. Bytes fed after the peer's close frame, our refusal or feed_eof are ignored.
 */
PUSHWIRE_API int pushwire_ws_feed(pushwire_ws *ws, const uint8_t *data, size_t len) PUSHWIRE_NOEXCEPT;

/**
 * Like pushwire_ws_feed, but `data` is lent to the handle: a one-frame message or control
 * frame that lies whole in `data` is unmasked in place and its event points into `data`
 * (no copy at all). Fragments of longer messages are reassembled by copying, and bytes of a
 * frame cut off at the end (or held, see pushwire_ws_feed) are copied, so `data` may be
 * reused once next_event (or next_events) has returned 0 or an error; until then the
 * caller keeps it alive and unchanged. Returns as pushwire_ws_feed.
 */
PUSHWIRE_API int pushwire_ws_feed_mutable(pushwire_ws *ws, uint8_t *data, size_t len) PUSHWIRE_NOEXCEPT;

/**
 * Signal the end of input (the peer closed its side of the transport). If the peer's close
 * had not arrived (during the handshake too), a CLOSE event with code 1006 flagged
 * PUSHWIRE_WS_EVF_FAILED follows the events of the input before it, and the receive side
 * fails with PUSHWIRE_ERR_CONNECTION_LOST; nothing is sent. Returns 0,
 * PUSHWIRE_ERR_INVALID_ARGUMENT or the fatal error.
 */
PUSHWIRE_API int pushwire_ws_feed_eof(pushwire_ws *ws) PUSHWIRE_NOEXCEPT;

/**
 * Pull the next event into *ev. Returns 1 (an event), 0 (no event until more input), or a
 * negative code: the sticky receive error once the connection failed (after the CLOSE or
 * REJECTED event flagged PUSHWIRE_WS_EVF_FAILED), PUSHWIRE_ERR_INVALID_ARGUMENT, or the fatal
 * error (PUSHWIRE_ERR_NOMEM, PUSHWIRE_ERR_INTERNAL). After a normal close it returns 0.
 * Spans in *ev are valid until the next mutating call on this handle.
 */
PUSHWIRE_API int pushwire_ws_next_event(pushwire_ws *ws, pushwire_ws_event *ev) PUSHWIRE_NOEXCEPT;

/**
 * Pull up to `cap` events at once into evs[0..cap): the events next_event would return, in
 * the same order and with the same effects (the automatic close goes out as that event is
 * pulled), with *n set to how many were written. Returns 1 (*n >= 1), or what next_event
 * returns when it has no event (0, the sticky receive error after the CLOSE or REJECTED
 * event flagged PUSHWIRE_WS_EVF_FAILED, or the fatal error PUSHWIRE_ERR_NOMEM or
 * PUSHWIRE_ERR_INTERNAL; *n = 0).
 * Every span of all *n events is valid until the next mutating call on this handle. Fewer
 * than `cap` events may be returned while more are ready (input held while events waited
 * is parsed only by the next call): call again until it returns 0.
 * An error found after the first event is returned by the next call (sticky).
 * PUSHWIRE_ERR_INVALID_ARGUMENT: ws, evs or n NULL, or cap 0.
 */
PUSHWIRE_API int pushwire_ws_next_events(pushwire_ws *ws, pushwire_ws_event *evs, size_t cap, size_t *n)
    PUSHWIRE_NOEXCEPT;

/**
 * Queue a whole text (UTF-8) or binary message as one frame. Client frames are masked with a
 * fresh key. Data may still be sent after the peer's close until ours. Returns 0,
 * PUSHWIRE_ERR_INVALID_STATE (handshake not done or refused, or a fragmented send is under
 * way), PUSHWIRE_ERR_CLOSED (close already sent, or the receive side failed),
 * PUSHWIRE_ERR_INVALID_ARGUMENT (NULL data with len > 0, bad UTF-8), PUSHWIRE_ERR_BUFFER_FULL,
 * PUSHWIRE_ERR_INTERNAL (random source) or PUSHWIRE_ERR_NOMEM.
 */
PUSHWIRE_API int pushwire_ws_send_text(pushwire_ws *ws, const uint8_t *data, size_t len) PUSHWIRE_NOEXCEPT;
PUSHWIRE_API int pushwire_ws_send_binary(pushwire_ws *ws, const uint8_t *data, size_t len) PUSHWIRE_NOEXCEPT;

/**
 * Queue one fragment of a message. The first call (binary: false for text, true for binary)
 * starts a message; later calls continue it (binary is then ignored); fin ends it. Control
 * frames queued meanwhile go out between fragments. Text fragments may split a UTF-8
 * character; the whole message must be valid (a fragment that breaks it, or a final one
 * that leaves a character unfinished, is refused with PUSHWIRE_ERR_INVALID_ARGUMENT and the
 * message stays open). Returns as pushwire_ws_send_text, but INVALID_STATE never means a
 * fragmented send is under way.
 */
PUSHWIRE_API int pushwire_ws_send_fragment(pushwire_ws *ws, bool binary, const uint8_t *data, size_t len, bool fin)
    PUSHWIRE_NOEXCEPT;

/**
 * Queue a ping / an unsolicited pong with at most 125 bytes of payload (more:
 * PUSHWIRE_ERR_INVALID_ARGUMENT), also while a fragmented send is under way. Returns as
 * pushwire_ws_send_text.
 */
PUSHWIRE_API int pushwire_ws_ping(pushwire_ws *ws, const uint8_t *data, size_t len) PUSHWIRE_NOEXCEPT;
PUSHWIRE_API int pushwire_ws_pong(pushwire_ws *ws, const uint8_t *data, size_t len) PUSHWIRE_NOEXCEPT;

/**
 * Queue a close frame. `code` 0 sends no code (and then no reason); otherwise it must be
 * 1000-1003, 1007-1014 or 3000-4999. The reason is at most 123 bytes of UTF-8 (checked
 * when VALIDATE_OUTGOING_UTF8 is on). Allowed after the peer's close and after a receive
 * failure (to send the close that pushwire_ws_close_code_hint suggests). Afterwards
 * sending data returns PUSHWIRE_ERR_CLOSED. Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT,
 * PUSHWIRE_ERR_INVALID_STATE (handshake not done), PUSHWIRE_ERR_CLOSED (close already sent),
 * PUSHWIRE_ERR_BUFFER_FULL, PUSHWIRE_ERR_INTERNAL (random source) or PUSHWIRE_ERR_NOMEM.
 */
PUSHWIRE_API int pushwire_ws_close(pushwire_ws *ws, uint16_t code, const char *reason, size_t reason_len)
    PUSHWIRE_NOEXCEPT;

/**
 * Server only: write into out[0..14) the header of an unfragmented message of
 * `payload_len` bytes, for a vectored write of header and payload with no copy.
 * The output queue must be empty (drain it first) so bytes stay in order.
 * *out_len receives the header length (2, 4 or 10). The payload is the caller's: a text
 * payload is not validated here. Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT,
 * PUSHWIRE_ERR_INVALID_STATE (client role, handshake not done, output pending, fragmented
 * send under way), PUSHWIRE_ERR_CLOSED (close sent or receive side failed) or the fatal error.
 */
PUSHWIRE_API int pushwire_ws_frame_header(pushwire_ws *ws, bool binary, uint64_t payload_len, uint8_t out[14],
                                          size_t *out_len) PUSHWIRE_NOEXCEPT;

/**
 * The queued output: *out points at the first unsent bytes. Returns the number of bytes
 * in *out (0: nothing to send, also for NULL arguments). The span is valid until the next
 * mutating call.
 */
PUSHWIRE_API size_t pushwire_ws_peek_output(pushwire_ws *ws, pushwire_span *out) PUSHWIRE_NOEXCEPT;

/**
 * Drop the first n bytes of the output (they were written); a partial write consumes part.
 * Once the opening head has been drained, its memory is returned. Returns 0 or
 * PUSHWIRE_ERR_INVALID_ARGUMENT (n too large).
 */
PUSHWIRE_API int pushwire_ws_consume_output(pushwire_ws *ws, size_t n) PUSHWIRE_NOEXCEPT;

/** Bytes queued for output (backpressure; 0 for NULL). Not mutating. */
PUSHWIRE_API size_t pushwire_ws_output_size(const pushwire_ws *ws) PUSHWIRE_NOEXCEPT;

/**
 * Keepalive without a clock of its own: pass the current monotonic time in ms. Input fed
 * since the previous tick counts as activity at `now_ms`. Queues a ping when the interval
 * has passed without input; fails the receive side (CLOSE 1006 event, then
 * PUSHWIRE_ERR_TIMEOUT) when nothing arrived within the timeout after it. Pings are sent
 * only while the state is OPEN (skipped, the timeout still running, when the output is
 * full). A tick that finds no input since the previous one also returns the receive
 * buffers of an idle connection to the allocator. *next_ms (may be NULL) receives when to
 * tick next (UINT64_MAX: never). Returns 0, PUSHWIRE_ERR_TIMEOUT (once, from the tick that
 * detects it), PUSHWIRE_ERR_INVALID_ARGUMENT or the fatal error.
 */
PUSHWIRE_API int pushwire_ws_tick(pushwire_ws *ws, uint64_t now_ms, uint64_t *next_ms) PUSHWIRE_NOEXCEPT;

typedef enum pushwire_ws_state {
  PUSHWIRE_WS_STATE_HANDSHAKE = 0, /**< opening handshake under way */
  PUSHWIRE_WS_STATE_OPEN = 1,      /**< messages flow both ways */
  PUSHWIRE_WS_STATE_CLOSING = 2,   /**< one side has closed */
  PUSHWIRE_WS_STATE_CLOSED = 3,    /**< both sides closed, or the handshake was rejected: drop the transport after draining output */
  PUSHWIRE_WS_STATE_FAILED = 4     /**< the receive side failed; drain output (the close) and drop the transport */
} pushwire_ws_state;

/** The connection state (FAILED for NULL). Not mutating. */
PUSHWIRE_API pushwire_ws_state pushwire_ws_get_state(const pushwire_ws *ws) PUSHWIRE_NOEXCEPT;

/**
 * After a failure: the close code to send (1002, 1006, 1007, 1008, 1009; 1006 means send
 * nothing) or the HTTP status to answer (400, 403, 426, 431); 0 if the connection has not
 * failed (or for NULL). A client whose handshake failed has nothing to send: 1002 for an
 * invalid response, the server's status for a refusal. Not mutating.
 */
PUSHWIRE_API int pushwire_ws_close_code_hint(const pushwire_ws *ws) PUSHWIRE_NOEXCEPT;

/** A static, human-readable reason for the current failure, or "" if none (or for NULL). Not mutating. */
PUSHWIRE_API const char *pushwire_ws_error_reason(const pushwire_ws *ws) PUSHWIRE_NOEXCEPT;

/* ======================================================================== */
/* Section - SSE writer                                                     */
/* ======================================================================== */

/**
 * One event to encode. A field with a NULL pointer is absent; a non-NULL pointer with
 * length 0 is present and empty (data "" is an empty `data:` line: a browser dispatches
 * it as an event with empty data). retry_ms < 0 means no retry field.
 *
 * The bytes written, with LF line ends and in this order:
 *   ":" [" " line] LF          per line of `comment`
 *   "event:" [" " event] LF
 *   "id:" [" " id] LF          (an empty id makes the browser forget its last event ID)
 *   "retry: " decimal LF
 *   "data:" [" " line] LF      per line of `data`
 *   LF                         ends the event, when any field but `comment` is present
 * The space after the colon is written exactly when the value is non-empty, so a value
 * that starts with a space keeps it (a browser strips one). `data` and `comment` are split
 * on CR LF, LF and CR: a browser receives the data with every line break turned into LF
 * and nothing else changed. A browser dispatches an event iff `data` is present.
 * Reading: short strings and lines are loaded in whole 16- and 64-byte blocks, which may
 * reach up to 63 bytes past a string's end but never past the 4 KiB page of its last
 * byte. Such a load cannot fault and the bytes past the end are never used, but memory
 * checkers report it (the source tree's fuzz/valgrind.supp suppresses it for valgrind).
 */
typedef struct pushwire_sse_fields {
  const char *event;
  size_t event_len;
  const char *data;
  size_t data_len;
  const char *id;
  size_t id_len;
  const char *comment;
  size_t comment_len;
  int64_t retry_ms;
  uint64_t reserved[2]; /**< must be zero */
} pushwire_sse_fields;

/**
 * Encode one event into out[0..cap). Data and comments are split on CR, LF and CRLF into
 * one line each; the event ends with a blank line (unless only a comment was given).
 * *written receives the bytes written, or on PUSHWIRE_ERR_BUFFER_TOO_SMALL the bytes
 * needed (out may then be NULL with cap 0, as a size query; SIZE_MAX when the event could
 * never be encoded). Bytes of out past *written may be overwritten: with room to spare the
 * event is encoded in one pass using wide stores. Returns 0, PUSHWIRE_ERR_BUFFER_TOO_SMALL, or
 * PUSHWIRE_ERR_INVALID_ARGUMENT (event/id with CR or LF, id with NUL, non-zero reserved,
 * no field at all, a NULL pointer with a non-zero length, fields or written NULL, out NULL
 * with cap > 0).
 */
PUSHWIRE_API int pushwire_sse_encode(const pushwire_sse_fields *fields, uint8_t *out, size_t cap, size_t *written)
    PUSHWIRE_NOEXCEPT;

/**
 * Encode events[0..count) one after another into out[0..cap), each as pushwire_sse_encode
 * would, in one call (for a server that sends a batch; the per-call checks are paid once).
 * Stops at the first event that is refused or does not fit; the events before it are
 * complete in out[0..*written) and *encoded receives how many they are (count when all
 * were). Each event is all or nothing: bytes of out past *written may be overwritten.
 * Returns 0 (all encoded), PUSHWIRE_ERR_BUFFER_TOO_SMALL (event *encoded does not fit in
 * the rest of out; pushwire_sse_encode with cap 0 tells its size), or
 * PUSHWIRE_ERR_INVALID_ARGUMENT (event *encoded is refused as by pushwire_sse_encode; or
 * written or encoded NULL, events NULL with count > 0, out NULL with cap > 0: then
 * nothing is written and *written / *encoded are untouched).
 */
PUSHWIRE_API int pushwire_sse_encode_many(const pushwire_sse_fields *events, size_t count, uint8_t *out, size_t cap,
                                          size_t *written, size_t *encoded) PUSHWIRE_NOEXCEPT;

/** An event-stream writer with an output queue, so many events go out in one write. */
typedef struct pushwire_sse_writer pushwire_sse_writer;

typedef enum pushwire_sse_writer_option {
  /** Most bytes queued for output. Default 64 MiB. */
  PUSHWIRE_SSE_WRITER_OPT_MAX_OUTPUT_BUFFER = 1,
  /** Heartbeat comment after this many ms without output. 0 (default): off. See pushwire_sse_writer_tick. */
  PUSHWIRE_SSE_WRITER_OPT_HEARTBEAT_MS = 2
} pushwire_sse_writer_option;

/** Create a writer. `alloc` is copied (NULL: libc). Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT or PUSHWIRE_ERR_NOMEM; *out left untouched on failure. */
PUSHWIRE_API int pushwire_sse_writer_new(pushwire_sse_writer **out, const pushwire_allocator *alloc) PUSHWIRE_NOEXCEPT;
/** Free the writer. NULL does nothing. */
PUSHWIRE_API void pushwire_sse_writer_free(pushwire_sse_writer *w) PUSHWIRE_NOEXCEPT;
/**
 * Set an option, at any time. Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT (NULL handle,
 * MAX_OUTPUT_BUFFER 0) or PUSHWIRE_ERR_UNSUPPORTED (unknown option).
 */
PUSHWIRE_API int pushwire_sse_writer_set_option(pushwire_sse_writer *w, pushwire_sse_writer_option option,
                                                uint64_t value) PUSHWIRE_NOEXCEPT;

/**
 * Add a header to the response head (same rules as pushwire_ws_add_header; the names the
 * head writes itself, Content-Type, Cache-Control and X-Accel-Buffering, are refused too).
 * Copied. Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT, PUSHWIRE_ERR_INVALID_STATE (the head is
 * already queued) or PUSHWIRE_ERR_NOMEM.
 */
PUSHWIRE_API int pushwire_sse_writer_add_header(pushwire_sse_writer *w, const char *name, size_t name_len,
                                                const char *value, size_t value_len) PUSHWIRE_NOEXCEPT;

/**
 * Queue the response head, exactly "HTTP/1.1 200 OK\r\n"
 * "Content-Type: text/event-stream; charset=utf-8\r\n" "Cache-Control: no-cache\r\n"
 * "X-Accel-Buffering: no\r\n", the added headers, then "\r\n". It has no Content-Length:
 * the stream ends when the connection closes. Once only, and before any other output.
 * Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT, PUSHWIRE_ERR_INVALID_STATE (called again, or
 * after an event, comment or heartbeat was queued), PUSHWIRE_ERR_BUFFER_FULL or PUSHWIRE_ERR_NOMEM.
 */
PUSHWIRE_API int pushwire_sse_writer_response_head(pushwire_sse_writer *w) PUSHWIRE_NOEXCEPT;

/**
 * Queue one event (see pushwire_sse_encode for the bytes). All or nothing: on failure
 * nothing is queued. Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT (as for pushwire_sse_encode,
 * or a NULL handle), PUSHWIRE_ERR_BUFFER_FULL (the queue would pass MAX_OUTPUT_BUFFER) or
 * PUSHWIRE_ERR_NOMEM.
 */
PUSHWIRE_API int pushwire_sse_writer_event(pushwire_sse_writer *w, const pushwire_sse_fields *fields) PUSHWIRE_NOEXCEPT;

/**
 * Queue a comment (e.g. a heartbeat), split into lines like data: text "ping" is
 * ": ping\n", an empty text (or NULL with len 0) is ":\n". Returns as pushwire_sse_writer_event.
 */
PUSHWIRE_API int pushwire_sse_writer_comment(pushwire_sse_writer *w, const char *text, size_t len) PUSHWIRE_NOEXCEPT;

/**
 * The queued output: *out (may be NULL) points at the first unsent bytes. Returns the
 * number of bytes in *out (0: nothing to send, or a NULL handle). The span is valid until
 * the next mutating call.
 */
PUSHWIRE_API size_t pushwire_sse_writer_peek_output(pushwire_sse_writer *w, pushwire_span *out) PUSHWIRE_NOEXCEPT;
/** Drop the first n bytes of the output (they were written). Returns 0 or PUSHWIRE_ERR_INVALID_ARGUMENT (n too large, NULL handle). */
PUSHWIRE_API int pushwire_sse_writer_consume_output(pushwire_sse_writer *w, size_t n) PUSHWIRE_NOEXCEPT;
/** Bytes queued for output (backpressure); 0 for a NULL handle. Not mutating. */
PUSHWIRE_API size_t pushwire_sse_writer_output_size(const pushwire_sse_writer *w) PUSHWIRE_NOEXCEPT;

/**
 * Heartbeats without a clock of its own: pass the monotonic time in ms. Output queued since
 * the previous tick counts as activity at now_ms; the first tick starts the clock. Queues
 * ": heartbeat\n" when HEARTBEAT_MS passed without output. *next_ms (may be NULL) receives
 * when to tick next (UINT64_MAX: never, heartbeats are off). Returns 1 if a heartbeat was
 * queued, 0 if not, or PUSHWIRE_ERR_INVALID_ARGUMENT / PUSHWIRE_ERR_BUFFER_FULL /
 * PUSHWIRE_ERR_NOMEM (nothing queued; the next tick tries again).
 */
PUSHWIRE_API int pushwire_sse_writer_tick(pushwire_sse_writer *w, uint64_t now_ms, uint64_t *next_ms) PUSHWIRE_NOEXCEPT;

/**
 * Read an event-stream request: whether its Accept admits text/event-stream (1) or not
 * (0), and its Last-Event-ID into *last_event_id (the first such field, surrounding
 * whitespace removed; {NULL, 0} when absent; may be NULL; valid as the request's spans).
 * Accept follows RFC 9110: of the media ranges `text/event-stream`, `text/ *` and `* / *`
 * (written spaced only inside this comment; matched case-insensitively, across every
 * Accept field), the most specific one listed decides, and admits
 * when its q is above 0 (q=0 refuses; parameters other than q are ignored; an element with
 * a malformed q is ignored). A request with no Accept field admits every type (Go's client
 * sends none); an Accept that lists none of the three ranges does not (a browser's
 * EventSource sends "Accept: text/event-stream"). Not mutating.
 * Returns 1, 0, PUSHWIRE_ERR_INVALID_ARGUMENT (req NULL) or PUSHWIRE_ERR_INVALID_STATE (head not complete).
 */
PUSHWIRE_API int pushwire_sse_request_check(const pushwire_http_request *req, pushwire_span *last_event_id)
    PUSHWIRE_NOEXCEPT;

/* ======================================================================== */
/* Section - SSE parser                                                     */
/* ======================================================================== */

/**
 * A browser-exact text/event-stream parser (WHATWG HTML, "Parsing an event stream" and
 * "Interpreting an event stream"), for any chunking of the input:
 * - bytes are decoded as UTF-8 the way a browser does (WHATWG Encoding "UTF-8 decode"):
 *   one leading BOM is dropped (a second is data), and every maximal invalid subpart
 *   becomes one U+FFFD (F0 9F 98 then 'A' gives U+FFFD 'A'; ED A0 80 gives three);
 * - lines end in CR LF, LF or CR (a CR and the LF after it are one line end even when
 *   fed apart); a line starting with ':' is a comment; a line without ':' is a field name
 *   with an empty value; one space after the colon is removed;
 * - `data` appends its value and LF to the data buffer; `event` sets the type; `id` sets
 *   the last event ID unless the value holds NUL (an empty id clears it); `retry` counts
 *   only when all ASCII digits (and below 2^64); other fields are ignored;
 * - a blank line makes the pending id the last event ID, then dispatches when the data
 *   buffer is not empty: data without its final LF, type "message" unless set, the last
 *   event ID (which persists across events); an unterminated event at the end is dropped.
 */
typedef struct pushwire_sse_parser pushwire_sse_parser;

typedef enum pushwire_sse_parser_option {
  /** Longest line in bytes (after UTF-8 decoding, line end excluded). Default 64 KiB. Over it: PUSHWIRE_ERR_LINE_TOO_LONG. */
  PUSHWIRE_SSE_PARSER_OPT_MAX_LINE = 1,
  /** Largest event (data plus type plus id) in bytes. Default 1 MiB. Over it: PUSHWIRE_ERR_EVENT_TOO_BIG. */
  PUSHWIRE_SSE_PARSER_OPT_MAX_EVENT = 2,
  /** 1: report comment lines as COMMENT events. Default 0. */
  PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS = 3,
  /**
   * Most fed bytes held unparsed while events wait to be pulled. Default 4 MiB. A feed
   * that would pass it while unparsed bytes are held returns PUSHWIRE_ERR_BUFFER_FULL; a
   * feed into an empty input buffer is always taken, whatever its size.
   */
  PUSHWIRE_SSE_PARSER_OPT_MAX_INPUT_BUFFER = 4
} pushwire_sse_parser_option;

typedef enum pushwire_sse_event_type {
  /** A dispatched event: event_type, data, last_event_id. */
  PUSHWIRE_SSE_EV_EVENT = 1,
  /** An accepted retry field: retry_ms (reported when its line is parsed, before the event it is in). */
  PUSHWIRE_SSE_EV_RETRY = 2,
  /** A comment line (only with REPORT_COMMENTS): data is the text after ':', a leading space included. */
  PUSHWIRE_SSE_EV_COMMENT = 3
} pushwire_sse_event_type;

/** One parser event; the layout is pinned. Spans are valid until the next mutating call; unused fields are zero. */
typedef struct pushwire_sse_event {
  uint32_t type; /**< pushwire_sse_event_type */
  uint32_t flags;
  pushwire_span event_type;    /**< "message" when the stream set none */
  pushwire_span data;          /**< UTF-8, lines joined with LF */
  pushwire_span last_event_id; /**< UTF-8 */
  uint64_t retry_ms;
  uint64_t reserved;
} pushwire_sse_event;

/** Create a parser. `alloc` is copied (NULL: libc). Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT or PUSHWIRE_ERR_NOMEM; *out left untouched on failure. */
PUSHWIRE_API int pushwire_sse_parser_new(pushwire_sse_parser **out, const pushwire_allocator *alloc) PUSHWIRE_NOEXCEPT;
/** Free the parser. NULL does nothing. */
PUSHWIRE_API void pushwire_sse_parser_free(pushwire_sse_parser *p) PUSHWIRE_NOEXCEPT;
/**
 * Set an option, before the first feed (after creation or reset). Returns 0,
 * PUSHWIRE_ERR_INVALID_ARGUMENT (NULL handle, a limit of 0, REPORT_COMMENTS not 0 or 1),
 * PUSHWIRE_ERR_UNSUPPORTED (unknown option) or PUSHWIRE_ERR_INVALID_STATE (after a feed).
 */
PUSHWIRE_API int pushwire_sse_parser_set_option(pushwire_sse_parser *p, pushwire_sse_parser_option option,
                                                uint64_t value) PUSHWIRE_NOEXCEPT;

/**
 * Feed stream bytes (any chunking; copied; parsed by next_event). Returns 0,
 * PUSHWIRE_ERR_BUFFER_FULL (pull events first, see MAX_INPUT_BUFFER; nothing taken),
 * PUSHWIRE_ERR_INVALID_ARGUMENT, PUSHWIRE_ERR_INVALID_STATE (after feed_eof),
 * PUSHWIRE_ERR_NOMEM, or the sticky error (PUSHWIRE_ERR_LINE_TOO_LONG,
 * PUSHWIRE_ERR_EVENT_TOO_BIG) once the parser has failed.
 */
PUSHWIRE_API int pushwire_sse_parser_feed(pushwire_sse_parser *p, const uint8_t *data, size_t len) PUSHWIRE_NOEXCEPT;

/** End of stream: an unterminated event (and line) is discarded. Returns 0 or PUSHWIRE_ERR_INVALID_ARGUMENT. */
PUSHWIRE_API int pushwire_sse_parser_feed_eof(pushwire_sse_parser *p) PUSHWIRE_NOEXCEPT;

/**
 * Pull the next event. Returns 1, 0 (need more input; every fed byte has been parsed), or
 * the sticky error (PUSHWIRE_ERR_LINE_TOO_LONG, PUSHWIRE_ERR_EVENT_TOO_BIG, after the events
 * that came before the offending line), PUSHWIRE_ERR_INVALID_ARGUMENT or PUSHWIRE_ERR_NOMEM.
 * Spans in *ev are valid until the next mutating call on this handle.
 */
PUSHWIRE_API int pushwire_sse_parser_next_event(pushwire_sse_parser *p, pushwire_sse_event *ev) PUSHWIRE_NOEXCEPT;

/**
 * Pull up to `cap` events at once into evs[0..cap): the events next_event would return, in
 * the same order, with *n set to how many were written. Returns 1 (*n >= 1), or what
 * next_event returns when it has no event (0, or the sticky error PUSHWIRE_ERR_LINE_TOO_LONG,
 * PUSHWIRE_ERR_EVENT_TOO_BIG or PUSHWIRE_ERR_NOMEM; *n = 0).
 * Every span of all *n events is valid until the next mutating call on this handle. Fewer
 * than `cap` events may be returned while more are ready (after a comment, or where a later
 * event would need a buffer an earlier one points into): call again until it returns 0.
 * An error found after the first event is returned by the next call (sticky).
 * PUSHWIRE_ERR_INVALID_ARGUMENT: p, evs or n NULL, or cap 0.
 */
PUSHWIRE_API int pushwire_sse_parser_next_events(pushwire_sse_parser *p, pushwire_sse_event *evs, size_t cap,
                                                 size_t *n) PUSHWIRE_NOEXCEPT;

/**
 * The current last event ID (persisting across events and reset; what a reconnect sends).
 * Empty ({NULL, 0} or len 0) when none, or for a NULL handle. Valid until the next mutating call. Not mutating.
 */
PUSHWIRE_API pushwire_span pushwire_sse_parser_last_event_id(const pushwire_sse_parser *p) PUSHWIRE_NOEXCEPT;

/** The reconnection delay in ms: the last accepted retry, or `default_ms` if none (or a NULL handle). Not mutating. */
PUSHWIRE_API uint64_t pushwire_sse_parser_retry_ms(const pushwire_sse_parser *p, uint64_t default_ms) PUSHWIRE_NOEXCEPT;

/**
 * Write the reconnect request's extra header lines into out[0..cap): exactly
 * "Accept: text/event-stream\r\nCache-Control: no-cache\r\n", then, when the last event ID is
 * not empty, "Last-Event-ID: " + the ID verbatim + "\r\n". *written as for
 * pushwire_sse_encode. Returns 0, PUSHWIRE_ERR_BUFFER_TOO_SMALL or
 * PUSHWIRE_ERR_INVALID_ARGUMENT (NULL handle or written, out NULL with cap > 0). Not mutating.
 */
PUSHWIRE_API int pushwire_sse_parser_reconnect_headers(const pushwire_sse_parser *p, uint8_t *out, size_t cap,
                                                       size_t *written) PUSHWIRE_NOEXCEPT;

/**
 * Forget the stream position for a new connection: unparsed input, the unfinished line
 * and event (an id inside it included), end of stream and the sticky error. The options,
 * the last event ID and the retry delay persist. Returns 0, PUSHWIRE_ERR_INVALID_ARGUMENT
 * or PUSHWIRE_ERR_NOMEM.
 */
PUSHWIRE_API int pushwire_sse_parser_reset(pushwire_sse_parser *p) PUSHWIRE_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* PUSHWIRE_H */
