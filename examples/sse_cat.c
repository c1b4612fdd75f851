/*
 * sse_cat: read a text/event-stream from standard input and print each dispatched event as
 * one JSON line, the way a browser's EventSource would see it:
 *
 *   {"type": "message", "data": "a\nb", "last_event_id": "42"}
 *   {"retry": 3000}                      (for each accepted retry field)
 *   {"comment": " keepalive"}            (with --comments)
 *
 *   curl -sN https://example.com/stream | sse_cat
 *
 * Options: --comments, --chunk N (feed at most N bytes at a time, to try any chunking),
 * --max-line N, --max-event N. Exit status: 0 at end of input, 1 when the stream broke a
 * limit (the error goes to standard error), 2 on bad usage or I/O errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pushwire/pushwire.h"

/* A JSON string: quotes, backslash and control characters escaped; the text is UTF-8 already. */
static void put_json_string(pushwire_span s, FILE *out) {
  putc('"', out);
  for (size_t i = 0; i < s.len; ++i) {
    uint8_t c = s.ptr[i];
    switch (c) {
      case '"': fputs("\\\"", out); break;
      case '\\': fputs("\\\\", out); break;
      case '\n': fputs("\\n", out); break;
      case '\r': fputs("\\r", out); break;
      case '\t': fputs("\\t", out); break;
      case '\b': fputs("\\b", out); break;
      case '\f': fputs("\\f", out); break;
      default:
        if (c < 0x20) {
          fprintf(out, "\\u%04x", c);
        } else {
          putc(c, out);
        }
    }
  }
  putc('"', out);
}

static void print_event(const pushwire_sse_event *ev, FILE *out) {
  switch (ev->type) {
    case PUSHWIRE_SSE_EV_EVENT:
      fputs("{\"type\": ", out);
      put_json_string(ev->event_type, out);
      fputs(", \"data\": ", out);
      put_json_string(ev->data, out);
      fputs(", \"last_event_id\": ", out);
      put_json_string(ev->last_event_id, out);
      fputs("}\n", out);
      break;
    case PUSHWIRE_SSE_EV_RETRY:
      fprintf(out, "{\"retry\": %llu}\n", (unsigned long long)ev->retry_ms);
      break;
    case PUSHWIRE_SSE_EV_COMMENT:
      fputs("{\"comment\": ", out);
      put_json_string(ev->data, out);
      fputs("}\n", out);
      break;
    default:
      break; /* event types added later are skipped */
  }
}

/* Pulls every ready event. Returns 0, or the parser's error. */
static int drain(pushwire_sse_parser *p, FILE *out) {
  pushwire_sse_event ev;
  int rc;
  while ((rc = pushwire_sse_parser_next_event(p, &ev)) == 1) print_event(&ev, out);
  return rc;
}

static int parse_count(const char *arg, unsigned long long *out) {
  char *end = NULL;
  if (!arg || !*arg || *arg == '-') return -1;
  *out = strtoull(arg, &end, 10);
  return (*end || *out == 0) ? -1 : 0;
}

static int usage(void) {
  fputs("usage: sse_cat [--comments] [--chunk N] [--max-line N] [--max-event N] < stream\n", stderr);
  return 2;
}

int main(int argc, char **argv) {
  unsigned long long chunk = 65536, max_line = 0, max_event = 0;
  int comments = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (strcmp(a, "--comments") == 0) {
      comments = 1;
    } else if (strcmp(a, "--chunk") == 0) {
      if (i + 1 >= argc || parse_count(argv[++i], &chunk) || chunk > (1u << 24)) return usage();
    } else if (strcmp(a, "--max-line") == 0) {
      if (i + 1 >= argc || parse_count(argv[++i], &max_line)) return usage();
    } else if (strcmp(a, "--max-event") == 0) {
      if (i + 1 >= argc || parse_count(argv[++i], &max_event)) return usage();
    } else {
      return usage();
    }
  }

  pushwire_sse_parser *p = NULL;
  if (pushwire_sse_parser_new(&p, NULL) != 0) {
    fputs("sse_cat: out of memory\n", stderr);
    return 2;
  }
  if (comments) pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 1);
  if (max_line) pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_LINE, max_line);
  if (max_event) pushwire_sse_parser_set_option(p, PUSHWIRE_SSE_PARSER_OPT_MAX_EVENT, max_event);

  uint8_t *buf = malloc((size_t)chunk);
  if (!buf) {
    pushwire_sse_parser_free(p);
    fputs("sse_cat: out of memory\n", stderr);
    return 2;
  }
  int rc = 0;
  for (;;) {
    size_t n = fread(buf, 1, (size_t)chunk, stdin);
    if (n == 0) break;
    rc = pushwire_sse_parser_feed(p, buf, n);
    if (rc == 0) rc = drain(p, stdout);
    fflush(stdout); /* a live stream (curl -N) shows each event as it comes */
    if (rc < 0) break;
  }
  int status = 0;
  if (rc >= 0 && ferror(stdin)) {
    perror("sse_cat: read");
    status = 2;
  } else if (rc >= 0) {
    pushwire_sse_parser_feed_eof(p);
    rc = drain(p, stdout);
  }
  if (rc < 0) {
    fprintf(stderr, "sse_cat: %s (%s)\n", pushwire_strerror(rc), pushwire_error_name(rc));
    status = 1;
  }
  if (fflush(stdout) != 0 && status == 0) status = 2;
  free(buf);
  pushwire_sse_parser_free(p);
  return status;
}
