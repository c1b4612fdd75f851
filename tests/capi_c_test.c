/* Compiles pushwire.h as C99 and links the library with the C driver only (no C++
 * runtime), then checks the public layout and the error helpers. */
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

int main(void) {
  test_layout();
  test_errors_and_version();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
