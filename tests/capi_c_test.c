/* Compiles pushwire.h as C99 and links the library with the C driver only (no C++
 * runtime), then checks the public layout, the error helpers and the SSE and WebSocket
 * batch calls. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pushwire/pushwire.h"

static int passed, failed;
#define EXPECT(cond)                                                       \
  do {                                                                     \
    if (cond) {                                                            \
      ++passed;                                                            \
    } else {                                                               \
      ++failed;                                                            \
      fprintf(stderr, "%s:%d: EXPECT(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

static void test_layout(void) {
  EXPECT(sizeof(pushwire_span) == 2 * sizeof(void *));
  if (sizeof(void *) == 8) {
    EXPECT(sizeof(pushwire_ws_event) == 48);
    EXPECT(offsetof(pushwire_ws_event, data) == 8);
    EXPECT(offsetof(pushwire_ws_event, code) == 24);
    EXPECT(sizeof(pushwire_sse_event) == 72);
    EXPECT(offsetof(pushwire_sse_event, event_type) == 8);
    EXPECT(offsetof(pushwire_sse_event, retry_ms) == 56);
    EXPECT(sizeof(pushwire_sse_fields) == 88);
  }
}

static void test_errors_and_version(void) {
  EXPECT(pushwire_version_num() == PUSHWIRE_VERSION_NUM);
  EXPECT(strcmp(pushwire_version_string(), PUSHWIRE_VERSION_STRING) == 0);
  EXPECT(strcmp(pushwire_error_name(PUSHWIRE_ERR_PROTOCOL), "PROTOCOL") == 0);
  EXPECT(strcmp(pushwire_error_name(-12345), "UNKNOWN") == 0);
  EXPECT(strcmp(pushwire_strerror(PUSHWIRE_ERR_NOMEM), "out of memory") == 0);
  EXPECT(pushwire_error_is_fatal(PUSHWIRE_ERR_NOMEM));
  EXPECT(!pushwire_error_is_fatal(PUSHWIRE_ERR_PROTOCOL));
  EXPECT(pushwire_error_is_remote(PUSHWIRE_ERR_BAD_UTF8));
  EXPECT(pushwire_error_is_local(PUSHWIRE_ERR_INVALID_STATE));
  EXPECT(!pushwire_error_is_local(PUSHWIRE_ERR_OK));
}

/* The batch encoder from C: two events, then a refused one that stops the batch. */
static void test_sse_encode_many(void) {
  pushwire_sse_fields ev[3];
  uint8_t out[256];
  size_t written = 0, encoded = 0;
  memset(ev, 0, sizeof ev);
  ev[0].data = "a\nb";
  ev[0].data_len = 3;
  ev[0].retry_ms = -1;
  ev[1].event = "tick";
  ev[1].event_len = 4;
  ev[1].id = "2";
  ev[1].id_len = 1;
  ev[1].retry_ms = -1;
  ev[2] = ev[1];
  ev[2].id = "\r";
  EXPECT(pushwire_sse_encode_many(ev, 2, out, sizeof out, &written, &encoded) == 0);
  EXPECT(encoded == 2);
  EXPECT(written == 36 && memcmp(out, "data: a\ndata: b\n\nevent: tick\nid: 2\n\n", 36) == 0);
  EXPECT(pushwire_sse_encode_many(ev, 3, out, sizeof out, &written, &encoded) == PUSHWIRE_ERR_INVALID_ARGUMENT);
  EXPECT(encoded == 2 && written == 36);
  EXPECT(pushwire_sse_encode_many(ev, 2, out, 20, &written, &encoded) == PUSHWIRE_ERR_BUFFER_TOO_SMALL);
  EXPECT(encoded == 1 && written == 17);
}

/* pushwire_sse_parser_next_events from C: several events in one call, all of their spans
 * valid together, 0 when the input is used up, the argument checks. */
static void test_sse_next_events(void) {
  static const char stream[] = "event: a\nid: 1\ndata: x\ndata: y\n\ndata: z\n\n";
  pushwire_sse_parser *p = NULL;
  pushwire_sse_event evs[4];
  size_t n = 99;
  EXPECT(pushwire_sse_parser_new(&p, NULL) == 0);
  EXPECT(pushwire_sse_parser_feed(p, (const uint8_t *)stream, sizeof stream - 1) == 0);
  EXPECT(pushwire_sse_parser_next_events(p, evs, 4, &n) == 1);
  EXPECT(n == 2);
  if (n == 2) {
    EXPECT(evs[0].type == PUSHWIRE_SSE_EV_EVENT && evs[0].data.len == 3 && memcmp(evs[0].data.ptr, "x\ny", 3) == 0);
    EXPECT(evs[0].event_type.len == 1 && evs[0].event_type.ptr[0] == 'a');
    EXPECT(evs[0].last_event_id.len == 1 && evs[0].last_event_id.ptr[0] == '1');
    EXPECT(evs[1].data.len == 1 && evs[1].data.ptr[0] == 'z');
    EXPECT(evs[1].event_type.len == 7 && memcmp(evs[1].event_type.ptr, "message", 7) == 0);
    EXPECT(evs[1].last_event_id.len == 1 && evs[1].last_event_id.ptr[0] == '1');
  }
  EXPECT(pushwire_sse_parser_next_events(p, evs, 4, &n) == 0 && n == 0);
  EXPECT(pushwire_sse_parser_next_events(p, evs, 0, &n) == PUSHWIRE_ERR_INVALID_ARGUMENT);
  EXPECT(pushwire_sse_parser_next_events(p, NULL, 4, &n) == PUSHWIRE_ERR_INVALID_ARGUMENT);
  EXPECT(pushwire_sse_parser_next_events(NULL, evs, 4, &n) == PUSHWIRE_ERR_INVALID_ARGUMENT);
  EXPECT(pushwire_sse_parser_next_events(p, evs, 4, NULL) == PUSHWIRE_ERR_INVALID_ARGUMENT);
  pushwire_sse_parser_free(p);
}

/* pushwire_ws_next_events from C (a server without the handshake, masked frames): the
 * events of a read in one call, all of their spans valid together, a ping answered as it is
 * pulled, a batch cut at cap, the close answered, then 0; the argument checks. */
static void test_ws_next_events(void) {
  /* "hi", ping "p", binary {1,2}, close 1000, each masked with the key 00 00 00 00 */
  static const uint8_t wire[] = {0x81, 0x82, 0, 0, 0, 0, 'h', 'i', 0x89, 0x81, 0, 0, 0, 0, 'p',
                                 0x82, 0x82, 0, 0, 0, 0, 1,   2,   0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
  pushwire_ws *ws = NULL;
  pushwire_ws_event evs[3];
  pushwire_span out;
  size_t n = 99;
  EXPECT(pushwire_ws_new(&ws, PUSHWIRE_WS_SERVER, NULL) == 0);
  EXPECT(pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_HANDSHAKE, 0) == 0);
  EXPECT(pushwire_ws_next_events(ws, evs, 3, &n) == 0 && n == 0);
  EXPECT(pushwire_ws_feed(ws, wire, sizeof wire) == 0);
  EXPECT(pushwire_ws_next_events(ws, evs, 3, &n) == 1);
  EXPECT(n == 3);
  if (n == 3) {
    EXPECT(evs[0].type == PUSHWIRE_WS_EV_TEXT && evs[0].data.len == 2 && memcmp(evs[0].data.ptr, "hi", 2) == 0);
    EXPECT(evs[0].flags == (PUSHWIRE_WS_EVF_FIN | PUSHWIRE_WS_EVF_FIRST));
    EXPECT(evs[1].type == PUSHWIRE_WS_EV_PING && evs[1].data.len == 1 && evs[1].data.ptr[0] == 'p');
    EXPECT(evs[2].type == PUSHWIRE_WS_EV_BINARY && evs[2].data.len == 2 && evs[2].data.ptr[1] == 2);
    EXPECT(evs[2].code == 0 && evs[2].reserved0 == 0 && evs[2].reserved[0] == 0 && evs[2].reserved[1] == 0);
  }
  /* the pong of the ping pulled: 8a 01 'p' */
  EXPECT(pushwire_ws_peek_output(ws, &out) == 3 && memcmp(out.ptr, "\x8a\x01p", 3) == 0);
  EXPECT(pushwire_ws_consume_output(ws, 3) == 0);
  EXPECT(pushwire_ws_next_events(ws, evs, 3, &n) == 1 && n == 1);
  EXPECT(evs[0].type == PUSHWIRE_WS_EV_CLOSE && evs[0].code == 1000 && evs[0].data.len == 0);
  /* the close answered with the same code as it was pulled */
  EXPECT(pushwire_ws_peek_output(ws, &out) == 4 && memcmp(out.ptr, "\x88\x02\x03\xe8", 4) == 0);
  EXPECT(pushwire_ws_next_events(ws, evs, 3, &n) == 0 && n == 0);
  EXPECT(pushwire_ws_get_state(ws) == PUSHWIRE_WS_STATE_CLOSED);
  n = 99;
  EXPECT(pushwire_ws_next_events(ws, evs, 0, &n) == PUSHWIRE_ERR_INVALID_ARGUMENT && n == 0);
  EXPECT(pushwire_ws_next_events(ws, NULL, 3, &n) == PUSHWIRE_ERR_INVALID_ARGUMENT);
  EXPECT(pushwire_ws_next_events(NULL, evs, 3, &n) == PUSHWIRE_ERR_INVALID_ARGUMENT);
  EXPECT(pushwire_ws_next_events(ws, evs, 3, NULL) == PUSHWIRE_ERR_INVALID_ARGUMENT);
  pushwire_ws_free(ws);
}

int main(void) {
  test_layout();
  test_sse_encode_many();
  test_errors_and_version();
  test_sse_next_events();
  test_ws_next_events();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
