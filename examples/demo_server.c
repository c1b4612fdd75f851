/*
 * demo_server.c: the pushwire demo. One C11 program on the C ABI and POSIX sockets
 * (epoll on Linux, poll elsewhere), no other dependencies.
 *
 *   demo_server [--host ADDR] [--port N] [--page FILE] [--tick-ms N] [--ping-ms N]
 *               [--heartbeat-ms N] [--head-timeout-ms N] [--max-queue BYTES]
 *
 *   /         the page (examples/demo/index.html): chat over WebSocket, live feed over SSE
 *   /ws       chat WebSocket: JSON text messages, nicknames, who is online
 *   /echo     echo WebSocket (messages up to 16 MiB). Query options for tests:
 *             ?ping=P sends a ping with payload P once open; ?close=CODE&reason=R[&after=N]
 *             makes the server close with CODE/R after echoing N messages (default 0)
 *   /events   SSE: joins, leaves, a clock tick, boot and shutdown, with a replay buffer
 *             for Last-Event-ID (header, or ?last-event-id= for a page that had to
 *             recreate its EventSource)
 *   anything else: 404 (405 for a wrong method), plain text, Connection: close
 *
 * The first stdout line is "pushwire demo: http://HOST:PORT/" (--port 0 picks a free
 * port). Then one line per connection when it ends. SIGINT/SIGTERM: close 1001 to every
 * WebSocket, a final `shutdown` event to every SSE stream, then exit 0.
 *
 * Every request starts as bytes buffered under a head deadline and fed to a
 * pushwire_http_request parser; the finished head picks the route. A WebSocket route gets
 * a pushwire_ws server handle fed the very same buffered bytes (head plus anything the
 * client sent after it), so the handshake is validated by the core, not here.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && !defined(DEMO_USE_POLL)
#define USE_EPOLL 1
#include <sys/epoll.h>
#else
#define USE_EPOLL 0
#include <poll.h>
#endif

#include "pushwire/pushwire.h"

#define MAX_CONNS 512
#define READ_CHUNK (64u * 1024u)
#define READS_PER_WAKEUP 8
#define HEAD_LIMIT 16384u
/* After our last byte, how long a closing peer gets to send its EOF. */
#define LINGER_MS 1000u
/* After we sent a close frame, how long the peer gets to answer it. */
#define CLOSE_WAIT_MS 5000u
#define SHUTDOWN_GRACE_MS 3000u
#define REPLAY_CAP 256u
/* A page that connects without Last-Event-ID first sees this many recent events. */
#define INITIAL_REPLAY 16u
#define CHAT_HISTORY 20u
#define NICK_MAX 24u
#define CHAT_TEXT_MAX 2000u
#define CHAT_MESSAGE_MAX (64u * 1024u)
#define ECHO_MESSAGE_MAX (16u << 20)
#define ECHO_OUTPUT_MAX (64u << 20)
/* Echo stops reading while this much echoed data waits for a slow reader. */
#define ECHO_PAUSE_OUTPUT (1u << 20)
#define SSE_RETRY_MS 1000

enum { WANT_IN = 1, WANT_OUT = 2 };
enum kind { K_HEAD, K_HTTP, K_WS, K_SSE };
enum route { R_NONE, R_PAGE, R_CHAT, R_ECHO, R_EVENTS };

typedef struct config {
  const char *host;
  const char *port;
  const char *page_path;
  uint64_t tick_ms, ping_ms, heartbeat_ms, head_timeout_ms;
  uint64_t max_queue;
} config;

typedef struct conn {
  struct conn *next, *prev;
  int fd;
  unsigned interest; /* WANT_* registered with the poller */
  enum kind kind;
  enum route route;
  bool dead, close_after_flush, lingering;
  char peer[64];
  char req[112]; /* "METHOD target", for the log */
  uint64_t t_start, deadline; /* deadline: head, linger or close wait (0: none) */
  uint64_t next_tick;         /* keepalive / heartbeat (UINT64_MAX: none) */
  uint64_t bytes_in, bytes_out;
  const char *note; /* why it ended, for the log */
  int status;       /* HTTP status answered, 101 for WebSocket, 200 for SSE */
  /* head */
  pushwire_http_request *http;
  uint8_t *raw;
  size_t raw_len, raw_cap;
  /* plain response */
  uint8_t *out;
  size_t out_len, out_off;
  /* WebSocket */
  pushwire_ws *ws;
  bool we_closed;  /* we queued a close frame */
  bool close_seen; /* a CLOSE event arrived */
  uint32_t close_code;
  char close_reason[124];
  size_t close_reason_len;
  const char *closed_by;
  uint64_t msgs_in, msgs_out;
  bool got_pong;
  char pong[126];
  size_t pong_len;
  bool joined;
  char nick[NICK_MAX * 4 + 16]; /* NICK_MAX characters of UTF-8, and a "-N" suffix */
  uint16_t echo_close_code;
  char echo_close_reason[124];
  size_t echo_close_reason_len;
  uint64_t echo_close_after;
  bool echo_ping;
  char echo_ping_data[126];
  size_t echo_ping_len;
  /* SSE */
  pushwire_sse_writer *sse;
  uint64_t sse_events, sse_replayed;
  char last_event_id[24];
} conn;

typedef struct sse_item {
  uint64_t id;
  char type[12];
  char *data;
  size_t data_len;
} sse_item;

typedef struct chat_item {
  char *json;
  size_t len;
} chat_item;

/* A growable string; `oom` makes every later append a no-op so callers check once. */
typedef struct sb {
  char *p;
  size_t len, cap;
  bool oom;
} sb;

static struct server {
  config cfg;
  int lfd;
#if USE_EPOLL
  int epfd;
#endif
  conn *conns;
  size_t nconns;
  char *page;
  size_t page_len;
  /*
   * SSE event ids: base + seq, with base = the wall-clock start time in ms times 1000.
   * Within one run ids grow by one per event. A restarted server starts above every id
   * the previous run could have used (unless that run sent more than 1000 events per ms
   * of its life, or the wall clock went back between runs), so a page resuming with an
   * id from an earlier run is recognised (id <= base) and gets everything this run has
   * sent so far, starting with its `boot` event: nothing is lost, and because ids never
   * repeat across runs nothing is shown twice. Nothing is persisted; if the replay buffer
   * has already dropped events the page was owed, it gets a `gap` event saying so.
   */
  uint64_t boot_ms, id_base, seq;
  sse_item ring[REPLAY_CAP];
  size_t ring_start, ring_len;
  chat_item history[CHAT_HISTORY];
  size_t hist_start, hist_len;
  uint64_t chat_id;
  unsigned guests;
  uint64_t next_clock;
  bool stopping;
  uint64_t stop_deadline;
  uint8_t rbuf[READ_CHUNK];
} S;

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) {
  (void)sig;
  got_signal = 1;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------------------ */
/* Strings and JSON                                                          */
/* ------------------------------------------------------------------------ */

static void sb_put(sb *b, const void *p, size_t n) {
  if (b->oom || n == 0) return; /* n == 0: p may be NULL (an empty span) */
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
      b->oom = true;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void sb_puts(sb *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sb *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof tmp) {
    b->oom = true;
    return;
  }
  sb_put(b, tmp, (size_t)n);
}

/* A JSON string literal of UTF-8 text (already validated by the core). */
static void sb_json_str(sb *b, const char *s, size_t n) {
  sb_put(b, "\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    sb_put(b, s + run, i - run);
    run = i + 1;
    if (ch == '"' || ch == '\\') {
      char e[2] = {'\\', (char)ch};
      sb_put(b, e, 2);
    } else {
      sb_printf(b, "\\u%04x", ch);
    }
  }
  sb_put(b, s + run, n - run);
  sb_put(b, "\"", 1);
}

static void sb_free(sb *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

static void put_utf8(sb *b, uint32_t cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xC0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xE0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  sb_put(b, u, n);
}

/*
 * Just enough JSON for the chat: one object whose string members we look up. Other
 * values are checked and skipped (nesting bounded). Strings are decoded to UTF-8;
 * unpaired surrogate escapes become U+FFFD.
 */
typedef struct jp {
  const char *p;
  size_t n, i;
  int depth;
} jp;

static void jp_ws(jp *j) {
  while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\n' || j->p[j->i] == '\r')) j->i++;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int jp_hex4(jp *j, uint32_t *out) {
  if (j->n - j->i < 4) return -1;
  uint32_t v = 0;
  for (int k = 0; k < 4; k++) {
    int h = hexval((unsigned char)j->p[j->i + (size_t)k]);
    if (h < 0) return -1;
    v = v * 16 + (uint32_t)h;
  }
  j->i += 4;
  *out = v;
  return 0;
}

/* Parse a string at j->i (which is '"'); decode into *out when out is non-NULL. */
static int jp_string(jp *j, sb *out) {
  if (j->i >= j->n || j->p[j->i] != '"') return -1;
  j->i++;
  while (j->i < j->n) {
    unsigned char ch = (unsigned char)j->p[j->i++];
    if (ch == '"') return 0;
    if (ch < 0x20) return -1;
    if (ch != '\\') {
      if (out) sb_put(out, &ch, 1);
      continue;
    }
    if (j->i >= j->n) return -1;
    char e = j->p[j->i++];
    static const char esc[] = "\"\\/bfnrt", repl[] = "\"\\/\b\f\n\r\t";
    const char *hit = e ? strchr(esc, e) : NULL;
    if (hit) {
      if (out) sb_put(out, &repl[hit - esc], 1);
      continue;
    }
    if (e != 'u') return -1;
    uint32_t cp;
    if (jp_hex4(j, &cp)) return -1;
    if (cp >= 0xD800 && cp <= 0xDBFF && j->n - j->i >= 6 && j->p[j->i] == '\\' && j->p[j->i + 1] == 'u') {
      size_t save = j->i;
      uint32_t lo;
      j->i += 2;
      if (jp_hex4(j, &lo)) return -1;
      if (lo >= 0xDC00 && lo <= 0xDFFF)
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      else
        j->i = save;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    if (out) put_utf8(out, cp);
  }
  return -1;
}

static int jp_value(jp *j);

static int jp_container(jp *j, char open, char close) {
  if (++j->depth > 16) return -1;
  j->i++; /* the opening bracket */
  jp_ws(j);
  if (j->i < j->n && j->p[j->i] == close) {
    j->i++;
    j->depth--;
    return 0;
  }
  for (;;) {
    jp_ws(j);
    if (open == '{') {
      if (jp_string(j, NULL)) return -1;
      jp_ws(j);
      if (j->i >= j->n || j->p[j->i] != ':') return -1;
      j->i++;
      jp_ws(j);
    }
    if (jp_value(j)) return -1;
    jp_ws(j);
    if (j->i >= j->n) return -1;
    char c = j->p[j->i++];
    if (c == close) break;
    if (c != ',') return -1;
  }
  j->depth--;
  return 0;
}

static int jp_value(jp *j) {
  if (j->i >= j->n) return -1;
  char c = j->p[j->i];
  if (c == '"') return jp_string(j, NULL);
  if (c == '{') return jp_container(j, '{', '}');
  if (c == '[') return jp_container(j, '[', ']');
  static const char *const lits[] = {"true", "false", "null"};
  for (size_t k = 0; k < 3; k++) {
    size_t len = strlen(lits[k]);
    if (j->n - j->i >= len && memcmp(j->p + j->i, lits[k], len) == 0) {
      j->i += len;
      return 0;
    }
  }
  size_t start = j->i;
  if (j->p[j->i] == '-') j->i++;
  while (j->i < j->n && j->p[j->i] && strchr("0123456789.eE+-", j->p[j->i])) j->i++;
  return j->i > start ? 0 : -1;
}

/*
 * Look up string members of a JSON object. keys[k] gets its decoded value in vals[k]
 * (found[k] set). Returns 0, or -1 when the text is not one JSON object.
 */
static int json_fields(const char *p, size_t n, const char *const *keys, sb *vals, bool *found, size_t nkeys) {
  jp j = {p, n, 0, 0};
  jp_ws(&j);
  if (j.i >= n || p[j.i] != '{') return -1;
  j.i++;
  jp_ws(&j);
  if (j.i < n && p[j.i] == '}') {
    j.i++;
  } else {
    for (;;) {
      jp_ws(&j);
      sb key = {0};
      if (jp_string(&j, &key)) {
        sb_free(&key);
        return -1;
      }
      jp_ws(&j);
      if (j.i >= n || p[j.i] != ':') {
        sb_free(&key);
        return -1;
      }
      j.i++;
      jp_ws(&j);
      size_t hit = nkeys;
      for (size_t k = 0; k < nkeys && key.p; k++)
        if (strcmp(key.p, keys[k]) == 0 && key.len == strlen(keys[k])) hit = k;
      sb_free(&key);
      int rc;
      if (hit < nkeys && j.i < n && p[j.i] == '"') {
        vals[hit].len = 0;
        rc = jp_string(&j, &vals[hit]);
        found[hit] = true;
        if (vals[hit].oom) return -1;
      } else {
        rc = jp_value(&j);
      }
      if (rc) return -1;
      jp_ws(&j);
      if (j.i >= n) return -1;
      char c = p[j.i++];
      if (c == '}') break;
      if (c != ',') return -1;
    }
  }
  jp_ws(&j);
  return j.i == n ? 0 : -1;
}

/* The value of `key` in a URL query, percent-decoded ('+' is a space). */
static bool query_get(const char *q, size_t qlen, const char *key, char *out, size_t cap, size_t *out_len) {
  size_t klen = strlen(key), i = 0;
  while (i < qlen) {
    size_t end = i;
    while (end < qlen && q[end] != '&') end++;
    if (end - i > klen && memcmp(q + i, key, klen) == 0 && q[i + klen] == '=') {
      size_t o = 0;
      for (size_t k = i + klen + 1; k < end; k++) {
        int c = (unsigned char)q[k];
        if (c == '+') c = ' ';
        if (c == '%' && k + 2 < end && hexval((unsigned char)q[k + 1]) >= 0 && hexval((unsigned char)q[k + 2]) >= 0) {
          c = hexval((unsigned char)q[k + 1]) * 16 + hexval((unsigned char)q[k + 2]);
          k += 2;
        }
        if (o + 1 >= cap) return false;
        out[o++] = (char)c;
      }
      out[o] = 0;
      *out_len = o;
      return true;
    }
    i = end + 1;
  }
  return false;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out) {
  if (n == 0 || n > 19) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return true;
}

/* Copy at most cap - 1 bytes of a span and terminate; an empty span may have a NULL ptr. */
static size_t copy_span(char *dst, size_t cap, pushwire_span s) {
  size_t n = s.len < cap ? s.len : cap - 1;
  if (n) memcpy(dst, s.ptr, n);
  dst[n] = 0;
  return n;
}

static bool span_eq(pushwire_span s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* Bytes for the log: printable ASCII kept, the rest as \xNN, quotes escaped, cut at `max`. */
static void log_str(sb *b, const char *s, size_t n, size_t max) {
  sb_put(b, "\"", 1);
  for (size_t i = 0; i < n && i < max; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      sb_printf(b, "\\%c", c);
    else if (c >= 0x20 && c < 0x7F)
      sb_put(b, &c, 1);
    else
      sb_printf(b, "\\x%02x", c);
  }
  if (n > max) sb_puts(b, "...");
  sb_put(b, "\"", 1);
}

/* ------------------------------------------------------------------------ */
/* Poller                                                                    */
/* ------------------------------------------------------------------------ */

static void set_interest(conn *c, unsigned want) {
  if (c->dead || want == c->interest) return;
#if USE_EPOLL
  struct epoll_event ev = {0};
  ev.events = (want & WANT_IN ? EPOLLIN : 0u) | (want & WANT_OUT ? EPOLLOUT : 0u);
  ev.data.ptr = c;
  epoll_ctl(S.epfd, EPOLL_CTL_MOD, c->fd, &ev);
#endif
  c->interest = want;
}

/* ------------------------------------------------------------------------ */
/* Connections: output, closing                                              */
/* ------------------------------------------------------------------------ */

static size_t out_peek(conn *c, pushwire_span *s) {
  switch (c->kind) {
    case K_WS: return pushwire_ws_peek_output(c->ws, s);
    case K_SSE: return pushwire_sse_writer_peek_output(c->sse, s);
    default:
      s->ptr = c->out ? c->out + c->out_off : NULL;
      s->len = c->out_len - c->out_off;
      return s->len;
  }
}

static void out_consume(conn *c, size_t n) {
  switch (c->kind) {
    case K_WS: pushwire_ws_consume_output(c->ws, n); break;
    case K_SSE: pushwire_sse_writer_consume_output(c->sse, n); break;
    default: c->out_off += n; break;
  }
}

static size_t out_size(conn *c) {
  pushwire_span s;
  return out_peek(c, &s);
}

static void kill_conn(conn *c, const char *note) {
  if (c->dead) return;
  if (note && !c->note) c->note = note;
  c->dead = true;
  close(c->fd);
}

static void update_interest(conn *c) {
  if (c->dead) return;
  unsigned want = WANT_IN;
  size_t pending = out_size(c);
  if (pending) want |= WANT_OUT;
  /* Echo flow control: read no more while the peer is not reading what we echo. */
  if (c->kind == K_WS && c->route == R_ECHO && pending > ECHO_PAUSE_OUTPUT && !c->lingering) want &= ~(unsigned)WANT_IN;
  set_interest(c, want);
}

/* Our side is done: stop writing and wait (bounded) for the peer's EOF, so unread input
 * it sent does not turn our close into a reset that could destroy the bytes we sent. */
static void start_linger(conn *c, uint64_t now) {
  if (c->lingering) return;
  c->lingering = true;
  shutdown(c->fd, SHUT_WR);
  c->deadline = now + LINGER_MS;
}

static void flush(conn *c) {
  while (!c->dead) {
    pushwire_span s;
    size_t n = out_peek(c, &s);
    if (n == 0) break;
    ssize_t w = send(c->fd, s.ptr, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      kill_conn(c, "write-error");
      return;
    }
    out_consume(c, (size_t)w);
    c->bytes_out += (uint64_t)w;
  }
  if (c->dead) return;
  if (c->close_after_flush && out_size(c) == 0) start_linger(c, now_ms());
  update_interest(c);
}

static void finish_after_flush(conn *c) {
  c->close_after_flush = true;
  flush(c);
}

/* A plain HTTP response, then close. */
static void respond(conn *c, int status, const char *content_type, const char *extra_headers, const void *body,
                    size_t body_len, bool head_only) {
  const char *text = "Error";
  switch (status) {
    case 200: text = "OK"; break;
    case 400: text = "Bad Request"; break;
    case 403: text = "Forbidden"; break;
    case 404: text = "Not Found"; break;
    case 405: text = "Method Not Allowed"; break;
    case 406: text = "Not Acceptable"; break;
    case 408: text = "Request Timeout"; break;
    case 426: text = "Upgrade Required"; break;
    case 431: text = "Request Header Fields Too Large"; break;
    case 500: text = "Internal Server Error"; break;
    case 503: text = "Service Unavailable"; break;
    default: break;
  }
  sb b = {0};
  sb_printf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n", status, text, content_type, body_len);
  sb_puts(&b, "Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
  if (extra_headers) sb_puts(&b, extra_headers);
  sb_puts(&b, "\r\n");
  if (!head_only) sb_put(&b, body, body_len);
  c->kind = K_HTTP;
  c->status = status;
  if (b.oom) {
    sb_free(&b);
    kill_conn(c, "out-of-memory");
    return;
  }
  free(c->out);
  c->out = (uint8_t *)b.p;
  c->out_len = b.len;
  c->out_off = 0;
  finish_after_flush(c);
}

static void respond_text(conn *c, int status, const char *extra_headers, const char *body) {
  respond(c, status, "text/plain; charset=utf-8", extra_headers, body, strlen(body), false);
}

/* ------------------------------------------------------------------------ */
/* SSE: the event log and its subscribers                                    */
/* ------------------------------------------------------------------------ */

static void drop_slow(conn *c) {
  c->closed_by = "server";
  kill_conn(c, "slow-consumer");
}

static int sse_send_item(conn *c, const sse_item *it) {
  char id[24];
  int idn = snprintf(id, sizeof id, "%llu", (unsigned long long)it->id);
  pushwire_sse_fields f;
  memset(&f, 0, sizeof f);
  f.event = it->type;
  f.event_len = strlen(it->type);
  f.data = it->data;
  f.data_len = it->data_len;
  f.id = id;
  f.id_len = (size_t)idn;
  f.retry_ms = -1;
  int rc = pushwire_sse_writer_event(c->sse, &f);
  if (rc == 0) c->sse_events++;
  return rc;
}

/* Record an event (the data is JSON of `fields` plus seq, boot and ms) and send it to every stream. */
static void publish(const char *type, const char *fields) {
  S.seq++;
  sb d = {0};
  sb_printf(&d, "{\"seq\":%llu,\"boot\":%llu,\"ms\":%llu", (unsigned long long)S.seq, (unsigned long long)S.boot_ms,
            (unsigned long long)wall_ms());
  if (fields && *fields) {
    sb_puts(&d, ",");
    sb_puts(&d, fields);
  }
  sb_puts(&d, "}");
  if (d.oom) {
    sb_free(&d);
    return;
  }
  if (S.ring_len == REPLAY_CAP) {
    free(S.ring[S.ring_start].data);
    S.ring_start = (S.ring_start + 1) % REPLAY_CAP;
    S.ring_len--;
  }
  sse_item *it = &S.ring[(S.ring_start + S.ring_len) % REPLAY_CAP];
  S.ring_len++;
  it->id = S.id_base + S.seq;
  snprintf(it->type, sizeof it->type, "%s", type);
  it->data = d.p;
  it->data_len = d.len;
  for (conn *c = S.conns; c; c = c->next) {
    if (c->dead || c->kind != K_SSE || c->close_after_flush) continue;
    int rc = sse_send_item(c, it);
    if (rc == PUSHWIRE_ERR_BUFFER_FULL)
      drop_slow(c);
    else if (rc < 0)
      kill_conn(c, "sse-error");
    else
      flush(c);
  }
}

/*
 * What a (re)connecting stream is owed. Without Last-Event-ID: the latest few events, for
 * context. With an id from this run: every later event. With any other number (an earlier
 * run, see S.id_base): everything this run has sent. A `gap` event, which has no id and so
 * does not move the browser's last event ID, says when the buffer no longer holds it all.
 */
static int sse_replay(conn *c, const char *lei, size_t lei_len) {
  size_t from;
  uint64_t want_first = 0; /* first id the client is owed; 0: no promise */
  uint64_t last = S.id_base + S.seq, l;
  if (lei_len == 0 || !parse_u64(lei, lei_len, &l)) {
    from = S.ring_len > INITIAL_REPLAY ? S.ring_len - INITIAL_REPLAY : 0;
  } else {
    want_first = (l > S.id_base && l <= last) ? l + 1 : S.id_base + 1;
    from = 0;
    while (from < S.ring_len && S.ring[(S.ring_start + from) % REPLAY_CAP].id < want_first) from++;
  }
  uint64_t oldest = S.ring_len ? S.ring[S.ring_start].id : last + 1;
  if (want_first && want_first < oldest && want_first <= last) {
    sb d = {0};
    sb_printf(&d, "{\"from\":%llu,\"to\":%llu,\"boot\":%llu}", (unsigned long long)want_first,
              (unsigned long long)(oldest - 1), (unsigned long long)S.boot_ms);
    pushwire_sse_fields f;
    memset(&f, 0, sizeof f);
    f.event = "gap";
    f.event_len = 3;
    f.data = d.p;
    f.data_len = d.len;
    f.retry_ms = -1;
    int rc = d.oom ? PUSHWIRE_ERR_NOMEM : pushwire_sse_writer_event(c->sse, &f);
    sb_free(&d);
    if (rc < 0) return rc;
  }
  for (size_t k = from; k < S.ring_len; k++) {
    int rc = sse_send_item(c, &S.ring[(S.ring_start + k) % REPLAY_CAP]);
    if (rc < 0) return rc;
    c->sse_replayed++;
  }
  return 0;
}

static void start_sse(conn *c, const char *query, size_t qlen) {
  pushwire_span lei = {NULL, 0};
  int rc = pushwire_sse_request_check(c->http, &lei);
  if (rc < 0) {
    respond_text(c, 400, NULL, "bad request\n");
    return;
  }
  if (rc == 0) {
    respond_text(c, 406, NULL, "this is an event stream: send Accept: text/event-stream\n");
    return;
  }
  size_t n = 0;
  if (lei.len && lei.len < sizeof c->last_event_id) {
    n = copy_span(c->last_event_id, sizeof c->last_event_id, lei);
  } else if (!lei.len && query_get(query, qlen, "last-event-id", c->last_event_id, sizeof c->last_event_id, &n)) {
    /* a page that recreated its EventSource passes the id it had */
  } else {
    n = 0;
  }
  c->last_event_id[n] = 0;
  if (pushwire_sse_writer_new(&c->sse, NULL) != 0) {
    respond_text(c, 500, NULL, "out of memory\n");
    return;
  }
  pushwire_sse_writer_set_option(c->sse, PUSHWIRE_SSE_WRITER_OPT_MAX_OUTPUT_BUFFER, S.cfg.max_queue);
  pushwire_sse_writer_set_option(c->sse, PUSHWIRE_SSE_WRITER_OPT_HEARTBEAT_MS, S.cfg.heartbeat_ms);
  c->kind = K_SSE;
  c->status = 200;
  pushwire_sse_fields f;
  memset(&f, 0, sizeof f);
  f.comment = "pushwire demo event stream";
  f.comment_len = strlen(f.comment);
  f.retry_ms = SSE_RETRY_MS;
  rc = pushwire_sse_writer_response_head(c->sse);
  if (rc == 0) rc = pushwire_sse_writer_event(c->sse, &f);
  if (rc == 0) rc = sse_replay(c, c->last_event_id, n);
  if (rc < 0) {
    kill_conn(c, rc == PUSHWIRE_ERR_BUFFER_FULL ? "slow-consumer" : "sse-error");
    return;
  }
  uint64_t next = UINT64_MAX;
  pushwire_sse_writer_tick(c->sse, now_ms(), &next);
  c->next_tick = next;
  flush(c);
}

/* ------------------------------------------------------------------------ */
/* Chat                                                                      */
/* ------------------------------------------------------------------------ */

static void online_json(sb *b) {
  sb_puts(b, "[");
  bool first = true;
  for (conn *c = S.conns; c; c = c->next) {
    if (c->dead || c->route != R_CHAT || !c->joined) continue;
    if (!first) sb_puts(b, ",");
    first = false;
    sb_json_str(b, c->nick, strlen(c->nick));
  }
  sb_puts(b, "]");
}

static size_t online_count(void) {
  size_t n = 0;
  for (conn *c = S.conns; c; c = c->next)
    if (!c->dead && c->route == R_CHAT && c->joined) n++;
  return n;
}

static void ws_send_json(conn *c, const char *json, size_t len) {
  if (c->dead || c->kind != K_WS || c->we_closed) return;
  int rc = pushwire_ws_send_text(c->ws, (const uint8_t *)json, len);
  if (rc == PUSHWIRE_ERR_BUFFER_FULL) {
    drop_slow(c);
    return;
  }
  if (rc == 0) {
    c->msgs_out++;
    flush(c);
  }
}

static void chat_broadcast(const sb *b) {
  if (b->oom) return;
  for (conn *c = S.conns; c; c = c->next)
    if (c->route == R_CHAT && c->joined) ws_send_json(c, b->p, b->len);
}

static void chat_error(conn *c, const char *text) {
  sb b = {0};
  sb_puts(&b, "{\"type\":\"error\",\"text\":");
  sb_json_str(&b, text, strlen(text));
  sb_puts(&b, "}");
  if (!b.oom) ws_send_json(c, b.p, b.len);
  sb_free(&b);
}

static bool nick_taken(const char *nick) {
  for (conn *c = S.conns; c; c = c->next)
    if (!c->dead && c->route == R_CHAT && c->joined && strcmp(c->nick, nick) == 0) return true;
  return false;
}

/* Trim, drop control characters, cut at NICK_MAX characters, make unique. */
static void chat_set_nick(conn *c, const char *want, size_t len) {
  char buf[NICK_MAX * 4 + 1];
  size_t o = 0, chars = 0;
  for (size_t i = 0; i < len && o + 4 < sizeof buf; i++) {
    unsigned char ch = (unsigned char)want[i];
    if (ch < 0x20 || ch == 0x7F) continue;
    if ((ch & 0xC0) != 0x80) {
      if (chars == NICK_MAX) break;
      chars++;
    }
    buf[o++] = (char)ch;
  }
  /* a cut inside a character drops that character */
  while (o > 0 && ((unsigned char)buf[o - 1] & 0x80)) {
    size_t start = o - 1;
    while (start > 0 && ((unsigned char)buf[start] & 0xC0) == 0x80) start--;
    unsigned char lead = (unsigned char)buf[start];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (o - start == need) break;
    o = start;
  }
  while (o > 0 && buf[o - 1] == ' ') o--;
  size_t lead = 0;
  while (lead < o && buf[lead] == ' ') lead++;
  buf[o] = 0;
  if (lead == o) {
    snprintf(buf, sizeof buf, "guest-%u", ++S.guests);
    lead = 0;
  }
  snprintf(c->nick, sizeof c->nick, "%.*s", (int)(NICK_MAX * 4), buf + lead);
  for (unsigned k = 2; nick_taken(c->nick); k++)
    snprintf(c->nick, sizeof c->nick, "%.*s-%u", (int)(NICK_MAX * 4), buf + lead, k);
}

static void chat_presence(const char *type, conn *who) {
  sb b = {0};
  sb_printf(&b, "{\"type\":\"%s\",\"nick\":", type);
  sb_json_str(&b, who->nick, strlen(who->nick));
  sb_puts(&b, ",\"online\":");
  online_json(&b);
  sb_puts(&b, "}");
  chat_broadcast(&b);
  sb_free(&b);
  sb f = {0};
  sb_puts(&f, "\"nick\":");
  sb_json_str(&f, who->nick, strlen(who->nick));
  sb_printf(&f, ",\"online\":%zu", online_count());
  if (!f.oom) publish(type, f.p);
  sb_free(&f);
}

static void chat_hello(conn *c, const sb *nick) {
  if (c->joined) {
    chat_error(c, "already joined");
    return;
  }
  chat_set_nick(c, nick->p ? nick->p : "", nick->len);
  c->joined = true;
  sb b = {0};
  sb_puts(&b, "{\"type\":\"welcome\",\"nick\":");
  sb_json_str(&b, c->nick, strlen(c->nick));
  sb_printf(&b, ",\"boot\":%llu,\"history\":[", (unsigned long long)S.boot_ms);
  for (size_t k = 0; k < S.hist_len; k++) {
    if (k) sb_puts(&b, ",");
    const chat_item *h = &S.history[(S.hist_start + k) % CHAT_HISTORY];
    sb_put(&b, h->json, h->len);
  }
  sb_puts(&b, "]}");
  if (!b.oom) ws_send_json(c, b.p, b.len);
  sb_free(&b);
  chat_presence("join", c);
}

static void chat_say(conn *c, const sb *text) {
  if (!c->joined) {
    chat_error(c, "say hello first");
    return;
  }
  size_t n = text->len;
  const char *t = text->p ? text->p : "";
  while (n && (t[0] == ' ' || t[0] == '\n')) t++, n--;
  while (n && (t[n - 1] == ' ' || t[n - 1] == '\n')) n--;
  if (n == 0) return;
  if (n > CHAT_TEXT_MAX) {
    chat_error(c, "message too long");
    return;
  }
  sb m = {0};
  sb_printf(&m, "{\"type\":\"msg\",\"id\":%llu,\"from\":", (unsigned long long)++S.chat_id);
  sb_json_str(&m, c->nick, strlen(c->nick));
  sb_puts(&m, ",\"text\":");
  sb_json_str(&m, t, n);
  sb_printf(&m, ",\"ms\":%llu}", (unsigned long long)wall_ms());
  if (m.oom) {
    sb_free(&m);
    return;
  }
  if (S.hist_len == CHAT_HISTORY) {
    free(S.history[S.hist_start].json);
    S.hist_start = (S.hist_start + 1) % CHAT_HISTORY;
    S.hist_len--;
  }
  chat_item *h = &S.history[(S.hist_start + S.hist_len++) % CHAT_HISTORY];
  h->json = malloc(m.len);
  if (h->json) memcpy(h->json, m.p, m.len);
  h->len = h->json ? m.len : 0;
  chat_broadcast(&m);
  sb_free(&m);
}

static void chat_message(conn *c, const uint8_t *data, size_t len) {
  static const char *const keys[] = {"type", "nick", "text"};
  sb vals[3] = {{0}, {0}, {0}};
  bool found[3] = {false, false, false};
  if (json_fields((const char *)data, len, keys, vals, found, 3) != 0 || !found[0]) {
    chat_error(c, "expected a JSON object with a \"type\"");
  } else if (strcmp(vals[0].p ? vals[0].p : "", "hello") == 0) {
    chat_hello(c, &vals[1]);
  } else if (strcmp(vals[0].p ? vals[0].p : "", "say") == 0) {
    chat_say(c, &vals[2]);
  } else {
    chat_error(c, "unknown message type");
  }
  for (size_t k = 0; k < 3; k++) sb_free(&vals[k]);
}

/* ------------------------------------------------------------------------ */
/* WebSocket connections                                                      */
/* ------------------------------------------------------------------------ */

static void ws_close(conn *c, uint16_t code, const char *reason, size_t len) {
  if (c->we_closed) return;
  int rc = pushwire_ws_close(c->ws, code, reason, len);
  if (rc == 0 || rc == PUSHWIRE_ERR_CLOSED) {
    c->we_closed = true;
    if (!c->close_seen && !c->deadline) c->deadline = now_ms() + CLOSE_WAIT_MS;
  } else if (rc == PUSHWIRE_ERR_BUFFER_FULL) {
    drop_slow(c);
  }
}

/* A browser page may only use our sockets from our own page (cross-site WebSocket hijacking). */
static bool origin_ok(conn *c) {
  pushwire_span origin, host;
  if (pushwire_ws_request_header(c->ws, "Origin", 6, 0, &origin) != 1) return true; /* not a browser */
  if (pushwire_ws_request_header(c->ws, "Host", 4, 0, &host) != 1) return false;
  return origin.len == 7 + host.len && strncasecmp((const char *)origin.ptr, "http://", 7) == 0 &&
         strncasecmp((const char *)origin.ptr + 7, (const char *)host.ptr, host.len) == 0;
}

static void ws_opened(conn *c) {
  c->status = 101;
  uint64_t next = UINT64_MAX;
  pushwire_ws_tick(c->ws, now_ms(), &next);
  c->next_tick = next;
  if (c->route != R_ECHO) return;
  if (c->echo_ping && pushwire_ws_ping(c->ws, (const uint8_t *)c->echo_ping_data, c->echo_ping_len) != 0)
    ws_close(c, 1011, "ping refused", 12);
  if (c->echo_close_code && c->echo_close_after == 0)
    ws_close(c, c->echo_close_code, c->echo_close_reason, c->echo_close_reason_len);
}

static void ws_message(conn *c, const pushwire_ws_event *ev) {
  c->msgs_in++;
  if (c->route == R_CHAT) {
    if (ev->type == PUSHWIRE_WS_EV_BINARY)
      ws_close(c, 1003, "the chat takes JSON text messages", 33);
    else
      chat_message(c, ev->data.ptr, ev->data.len);
    return;
  }
  if (c->we_closed) return; /* the client's data crossed our close */
  int rc = ev->type == PUSHWIRE_WS_EV_TEXT ? pushwire_ws_send_text(c->ws, ev->data.ptr, ev->data.len)
                                           : pushwire_ws_send_binary(c->ws, ev->data.ptr, ev->data.len);
  if (rc == PUSHWIRE_ERR_BUFFER_FULL) {
    drop_slow(c);
    return;
  }
  if (rc == 0) c->msgs_out++;
  if (c->echo_close_code && c->msgs_in == c->echo_close_after)
    ws_close(c, c->echo_close_code, c->echo_close_reason, c->echo_close_reason_len);
}

static void ws_closed(conn *c, const pushwire_ws_event *ev) {
  c->close_seen = true;
  c->close_code = ev->code;
  c->close_reason_len = copy_span(c->close_reason, sizeof c->close_reason, ev->data);
  if (ev->flags & PUSHWIRE_WS_EVF_FAILED) {
    int hint = pushwire_ws_close_code_hint(c->ws);
    if (!c->closed_by) c->closed_by = ev->code == 1006 ? "lost" : "protocol-error";
    if (!c->note && ev->code != 1006) c->note = pushwire_ws_error_reason(c->ws);
    if (hint >= 1000 && hint != 1006 && hint < 5000) {
      const char *r = pushwire_ws_error_reason(c->ws);
      size_t rl = strlen(r);
      ws_close(c, (uint16_t)hint, r, rl > 123 ? 123 : rl);
    }
    return;
  }
  if (!c->closed_by) c->closed_by = c->we_closed ? "server" : "client";
  /* Echo the peer's code and reason (no code: an empty close). */
  ws_close(c, ev->code == 1005 ? 0 : (uint16_t)ev->code, ev->code == 1005 ? NULL : c->close_reason,
           ev->code == 1005 ? 0 : c->close_reason_len);
}

static void ws_rejected(conn *c, const pushwire_ws_event *ev) {
  /* AUTO_CLOSE is off, so the core queued nothing: answer like every other plain response. */
  char body[160];
  size_t n = copy_span(body, sizeof body - 1, ev->data);
  body[n] = '\n';
  body[n + 1] = 0;
  int status = ev->code >= 400 && ev->code < 600 ? (int)ev->code : 400;
  c->note = "handshake-rejected";
  pushwire_ws_free(c->ws);
  c->ws = NULL;
  respond_text(c, status, status == 426 ? "Sec-WebSocket-Version: 13\r\n" : NULL, body);
}

static void ws_events(conn *c) {
  while (!c->dead && c->kind == K_WS) {
    pushwire_ws_event ev;
    int rc = pushwire_ws_next_event(c->ws, &ev);
    if (rc == 0) break;
    if (rc < 0) {
      if (!c->note && !c->close_seen) c->note = pushwire_error_name(rc);
      break;
    }
    switch (ev.type) {
      case PUSHWIRE_WS_EV_REQUEST:
        if (!origin_ok(c)) {
          c->note = "origin-rejected";
          pushwire_ws_reject(c->ws, 403, "origin not allowed\n", 19);
          c->status = 403;
        } else if (pushwire_ws_accept(c->ws, NULL, 0) == 0) {
          ws_opened(c);
        } else {
          kill_conn(c, "accept-failed");
        }
        break;
      case PUSHWIRE_WS_EV_ACCEPTED: ws_opened(c); break;
      case PUSHWIRE_WS_EV_REJECTED: ws_rejected(c, &ev); return;
      case PUSHWIRE_WS_EV_TEXT:
      case PUSHWIRE_WS_EV_BINARY: ws_message(c, &ev); break;
      case PUSHWIRE_WS_EV_PONG:
        if (!c->got_pong) {
          c->got_pong = true;
          c->pong_len = copy_span(c->pong, sizeof c->pong, ev.data);
        }
        break;
      case PUSHWIRE_WS_EV_CLOSE: ws_closed(c, &ev); break;
      default: break; /* PING: answered by the core */
    }
  }
  if (c->dead || c->kind != K_WS) return;
  pushwire_ws_state st = pushwire_ws_get_state(c->ws);
  if (st == PUSHWIRE_WS_STATE_CLOSED || st == PUSHWIRE_WS_STATE_FAILED) c->close_after_flush = true;
  flush(c);
}

static void start_ws(conn *c, enum route route, const char *query, size_t qlen) {
  c->route = route;
  if (pushwire_ws_new(&c->ws, PUSHWIRE_WS_SERVER, NULL) != 0) {
    respond_text(c, 500, NULL, "out of memory\n");
    return;
  }
  uint64_t max_msg = route == R_ECHO ? ECHO_MESSAGE_MAX : CHAT_MESSAGE_MAX;
  pushwire_ws_set_option(c->ws, PUSHWIRE_WS_OPT_MAX_HEAD_SIZE, HEAD_LIMIT);
  pushwire_ws_set_option(c->ws, PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE, max_msg);
  pushwire_ws_set_option(c->ws, PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, max_msg);
  pushwire_ws_set_option(c->ws, PUSHWIRE_WS_OPT_MAX_OUTPUT_BUFFER, route == R_ECHO ? ECHO_OUTPUT_MAX : S.cfg.max_queue);
  pushwire_ws_set_option(c->ws, PUSHWIRE_WS_OPT_AUTO_CLOSE, 0);
  pushwire_ws_set_option(c->ws, PUSHWIRE_WS_OPT_PING_INTERVAL_MS, S.cfg.ping_ms);
  pushwire_ws_set_option(c->ws, PUSHWIRE_WS_OPT_PONG_TIMEOUT_MS, S.cfg.ping_ms);
  if (route == R_ECHO) {
    char v[128];
    size_t n;
    uint64_t u;
    if (query_get(query, qlen, "ping", c->echo_ping_data, sizeof c->echo_ping_data, &c->echo_ping_len))
      c->echo_ping = true;
    if (query_get(query, qlen, "close", v, sizeof v, &n) && parse_u64(v, n, &u) && u < 5000) c->echo_close_code = (uint16_t)u;
    query_get(query, qlen, "reason", c->echo_close_reason, sizeof c->echo_close_reason, &c->echo_close_reason_len);
    if (query_get(query, qlen, "after", v, sizeof v, &n) && parse_u64(v, n, &u)) c->echo_close_after = u;
  }
  c->kind = K_WS;
  int rc = pushwire_ws_feed(c->ws, c->raw, c->raw_len);
  free(c->raw);
  c->raw = NULL;
  c->raw_len = c->raw_cap = 0;
  /* A remote error shows up as a REJECTED or CLOSE event; anything else ends here. */
  if (rc < 0 && !pushwire_error_is_remote(rc)) {
    kill_conn(c, pushwire_error_name(rc));
    return;
  }
  ws_events(c);
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                   */
/* ------------------------------------------------------------------------ */

static void route_request(conn *c) {
  pushwire_span method, target;
  pushwire_http_request_method(c->http, &method);
  pushwire_http_request_target(c->http, &target);
  snprintf(c->req, sizeof c->req, "%.*s %.*s", (int)(method.len > 16 ? 16 : method.len), (const char *)method.ptr,
           (int)(target.len > 90 ? 90 : target.len), (const char *)target.ptr);
  const char *t = (const char *)target.ptr;
  size_t plen = 0;
  while (plen < target.len && t[plen] != '?') plen++;
  const char *query = plen < target.len ? t + plen + 1 : "";
  size_t qlen = plen < target.len ? target.len - plen - 1 : 0;
  pushwire_span path = {target.ptr, plen};
  bool get = span_eq(method, "GET"), head = span_eq(method, "HEAD");

  if (span_eq(path, "/ws") || span_eq(path, "/echo")) {
    start_ws(c, span_eq(path, "/ws") ? R_CHAT : R_ECHO, query, qlen);
  } else if (span_eq(path, "/events")) {
    c->route = R_EVENTS;
    if (get)
      start_sse(c, query, qlen);
    else
      respond_text(c, 405, "Allow: GET\r\n", "method not allowed\n");
  } else if (span_eq(path, "/") || span_eq(path, "/index.html")) {
    c->route = R_PAGE;
    if (get || head)
      respond(c, 200, "text/html; charset=utf-8",
              "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
              "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'\r\n",
              S.page, S.page_len, head);
    else
      respond_text(c, 405, "Allow: GET, HEAD\r\n", "method not allowed\n");
  } else {
    respond_text(c, 404, NULL, "not found\n");
  }
  pushwire_http_request_free(c->http);
  c->http = NULL;
  free(c->raw);
  c->raw = NULL;
}

static void head_bytes(conn *c, const uint8_t *data, size_t len) {
  /* Keep the raw bytes (head and whatever follows) for a WebSocket handle. */
  if (c->raw_len + len > c->raw_cap) {
    size_t cap = c->raw_cap ? c->raw_cap : 4096;
    while (cap < c->raw_len + len) cap *= 2;
    uint8_t *p = realloc(c->raw, cap);
    if (!p) {
      kill_conn(c, "out-of-memory");
      return;
    }
    c->raw = p;
    c->raw_cap = cap;
  }
  memcpy(c->raw + c->raw_len, data, len);
  c->raw_len += len;
  int rc = pushwire_http_request_feed(c->http, data, len, NULL);
  if (rc == 0) return;
  if (rc == 1) {
    c->deadline = 0;
    route_request(c);
    return;
  }
  int status = pushwire_http_request_status_hint(c->http);
  c->note = pushwire_error_name(rc);
  snprintf(c->req, sizeof c->req, "-");
  respond_text(c, status ? status : 400, NULL, status == 431 ? "request head too large\n" : "bad request\n");
}

/* ------------------------------------------------------------------------ */
/* Connection lifecycle                                                        */
/* ------------------------------------------------------------------------ */

static void on_readable(conn *c) {
  for (int round = 0; round < READS_PER_WAKEUP && !c->dead; round++) {
    ssize_t r = recv(c->fd, S.rbuf, sizeof S.rbuf, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (c->kind == K_WS && !c->closed_by) c->closed_by = "lost";
      kill_conn(c, "read-error");
      return;
    }
    if (r == 0) {
      if (c->lingering) {
        kill_conn(c, NULL);
      } else if (c->kind == K_WS) {
        pushwire_ws_feed_eof(c->ws);
        ws_events(c);
        if (!c->dead) kill_conn(c, NULL);
      } else {
        if (c->kind == K_HEAD) c->note = c->raw_len ? "eof-in-head" : "eof";
        if (c->kind == K_SSE) c->note = "client-left";
        kill_conn(c, NULL);
      }
      return;
    }
    c->bytes_in += (uint64_t)r;
    if (c->lingering || c->close_after_flush) continue; /* nothing more is wanted from this peer */
    switch (c->kind) {
      case K_HEAD: head_bytes(c, S.rbuf, (size_t)r); break;
      case K_WS: {
        int rc = pushwire_ws_feed(c->ws, S.rbuf, (size_t)r);
        if (rc == PUSHWIRE_ERR_NOMEM || rc == PUSHWIRE_ERR_BUFFER_FULL) {
          kill_conn(c, pushwire_error_name(rc));
          return;
        }
        ws_events(c);
        if (!c->dead && !(c->interest & WANT_IN)) return; /* paused by flow control */
        break;
      }
      default: break; /* SSE and plain responses: the client has nothing more to say */
    }
  }
}

static void run_timers(conn *c, uint64_t now) {
  if (c->dead) return;
  if (c->deadline && now >= c->deadline) {
    c->deadline = 0;
    if (c->lingering) {
      kill_conn(c, NULL);
      return;
    }
    if (c->kind == K_HEAD) {
      c->note = "head-timeout";
      snprintf(c->req, sizeof c->req, "-");
      respond_text(c, 408, NULL, "request head not received in time\n");
      return;
    }
    if (c->kind == K_WS) { /* the peer never answered our close */
      c->closed_by = c->closed_by ? c->closed_by : "server";
      kill_conn(c, "close-timeout");
      return;
    }
  }
  if (c->next_tick != UINT64_MAX && now >= c->next_tick && !c->lingering) {
    uint64_t next = UINT64_MAX;
    if (c->kind == K_WS) {
      int rc = pushwire_ws_tick(c->ws, now, &next);
      c->next_tick = next;
      if (rc == PUSHWIRE_ERR_TIMEOUT) c->closed_by = "timeout";
      ws_events(c);
      if (!c->dead && rc == PUSHWIRE_ERR_TIMEOUT) kill_conn(c, "keepalive-timeout");
    } else if (c->kind == K_SSE) {
      int rc = pushwire_sse_writer_tick(c->sse, now, &next);
      c->next_tick = next;
      if (rc == PUSHWIRE_ERR_BUFFER_FULL)
        drop_slow(c);
      else
        flush(c);
    } else {
      c->next_tick = UINT64_MAX;
    }
  }
}

static uint64_t conn_wake(const conn *c) {
  uint64_t t = c->next_tick;
  if (c->lingering) t = UINT64_MAX;
  if (c->deadline && c->deadline < t) t = c->deadline;
  return t;
}

static void log_conn(conn *c, uint64_t now) {
  static const char *const kinds[] = {"head", "http", "ws", "sse"};
  static const char *const routes[] = {"-", "page", "chat", "echo", "events"};
  sb b = {0};
  sb_printf(&b, "conn peer=%s req=", c->peer);
  log_str(&b, c->req, strlen(c->req), 120);
  sb_printf(&b, " kind=%s route=%s status=%d", kinds[c->kind], routes[c->route], c->status);
  if (c->route == R_CHAT || c->route == R_ECHO) {
    if (c->close_seen) {
      sb_printf(&b, " close=%u reason=", c->close_code);
      log_str(&b, c->close_reason, c->close_reason_len, 123);
    }
    if (c->closed_by) sb_printf(&b, " closed_by=%s", c->closed_by);
    if (c->status == 101) sb_printf(&b, " msgs_in=%llu msgs_out=%llu", (unsigned long long)c->msgs_in, (unsigned long long)c->msgs_out);
    if (c->got_pong) {
      sb_puts(&b, " pong=");
      log_str(&b, c->pong, c->pong_len, 125);
    }
    if (c->nick[0]) {
      sb_puts(&b, " nick=");
      log_str(&b, c->nick, strlen(c->nick), 100);
    }
  }
  if (c->kind == K_SSE) {
    sb_puts(&b, " last_event_id=");
    log_str(&b, c->last_event_id, strlen(c->last_event_id), 24);
    sb_printf(&b, " replayed=%llu events=%llu", (unsigned long long)c->sse_replayed, (unsigned long long)c->sse_events);
  }
  sb_printf(&b, " in=%llu out=%llu ms=%llu", (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
            (unsigned long long)(now - c->t_start));
  if (c->note) sb_printf(&b, " note=%s", c->note);
  if (!b.oom) printf("%s\n", b.p);
  sb_free(&b);
}

/* Free dead connections; a chat member's leave is announced here, where it cannot recurse. */
static void reap(void) {
  bool again = true;
  while (again) {
    again = false;
    for (conn *c = S.conns, *next; c; c = next) {
      next = c->next;
      if (!c->dead) continue;
      log_conn(c, now_ms());
      bool was_member = c->route == R_CHAT && c->joined;
      c->joined = false;
      if (was_member && !S.stopping) {
        chat_presence("leave", c);
        again = true; /* the broadcast may have dropped members already passed */
      }
      if (c->prev)
        c->prev->next = c->next;
      else
        S.conns = c->next;
      if (c->next) c->next->prev = c->prev;
      next = c->next;
      S.nconns--;
      pushwire_http_request_free(c->http);
      pushwire_ws_free(c->ws);
      pushwire_sse_writer_free(c->sse);
      free(c->raw);
      free(c->out);
      free(c);
    }
  }
}

static void accept_clients(uint64_t now) {
  for (int k = 0; k < 64; k++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
#if defined(__linux__)
    int fd = accept4(S.lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(S.lfd, (struct sockaddr *)&ss, &sl);
    if (fd >= 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
#endif
    if (fd < 0) return; /* EAGAIN, or out of descriptors: try again on the next wakeup */
    if (S.nconns >= MAX_CONNS) {
      static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy\n";
      ssize_t ignored = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
      (void)ignored;
      close(fd);
      continue;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c || pushwire_http_request_new(&c->http, NULL) != 0) {
      free(c);
      close(fd);
      continue;
    }
    pushwire_http_request_set_option(c->http, PUSHWIRE_HTTP_OPT_MAX_HEAD_SIZE, HEAD_LIMIT);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->kind = K_HEAD;
    c->t_start = now;
    c->deadline = now + S.cfg.head_timeout_ms;
    c->next_tick = UINT64_MAX;
    snprintf(c->req, sizeof c->req, "-");
    char host[48], port[8];
    if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
      snprintf(c->peer, sizeof c->peer, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
    else
      snprintf(c->peer, sizeof c->peer, "?");
#if USE_EPOLL
    struct epoll_event ev = {0};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(S.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      pushwire_http_request_free(c->http);
      free(c);
      close(fd);
      continue;
    }
#endif
    c->interest = WANT_IN;
    c->next = S.conns;
    if (S.conns) S.conns->prev = c;
    S.conns = c;
    S.nconns++;
  }
}

static void begin_shutdown(uint64_t now) {
  S.stopping = true;
  S.stop_deadline = now + SHUTDOWN_GRACE_MS;
#if USE_EPOLL
  epoll_ctl(S.epfd, EPOLL_CTL_DEL, S.lfd, NULL);
#endif
  close(S.lfd);
  S.lfd = -1;
  publish("shutdown", "\"text\":\"server shutting down\"");
  for (conn *c = S.conns; c; c = c->next) {
    if (c->dead) continue;
    switch (c->kind) {
      case K_HEAD: kill_conn(c, "shutdown"); break;
      case K_WS:
        if (pushwire_ws_get_state(c->ws) == PUSHWIRE_WS_STATE_HANDSHAKE) {
          kill_conn(c, "shutdown");
        } else {
          if (!c->we_closed && !c->close_seen) c->closed_by = "server";
          ws_close(c, 1001, "server shutting down", 20);
          flush(c);
        }
        break;
      case K_SSE:
        c->note = "server-shutdown";
        finish_after_flush(c);
        break;
      default: break;
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Start-up                                                                   */
/* ------------------------------------------------------------------------ */

static int load_page(const char *argv0) {
  char exe[4096], cand[3][4200];
  size_t nc = 0;
  if (S.cfg.page_path) {
    snprintf(cand[nc++], sizeof cand[0], "%s", S.cfg.page_path);
  } else {
    /* build/examples/demo_server -> examples/demo/index.html, wherever it is run from */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0)
      exe[n] = 0;
    else
      snprintf(exe, sizeof exe, "%s", argv0);
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = 0;
      snprintf(cand[nc++], sizeof cand[0], "%s/../../examples/demo/index.html", exe);
    }
    snprintf(cand[nc++], sizeof cand[0], "examples/demo/index.html");
  }
  for (size_t k = 0; k < nc; k++) {
    FILE *f = fopen(cand[k], "rb");
    if (!f) continue;
    char *buf = malloc(1u << 20);
    size_t n = buf ? fread(buf, 1, 1u << 20, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n == 1u << 20) {
      free(buf);
      continue;
    }
    S.page = buf;
    S.page_len = n;
    return 0;
  }
  fprintf(stderr, "demo_server: cannot read the page (%s); pass --page examples/demo/index.html\n", cand[0]);
  return -1;
}

static int listen_on(void) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = getaddrinfo(S.cfg.host, S.cfg.port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "demo_server: %s:%s: %s\n", S.cfg.host, S.cfg.port, gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    fprintf(stderr, "demo_server: cannot listen on %s:%s: %s\n", S.cfg.host, S.cfg.port, strerror(errno));
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char host[64], port[8];
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
  printf(ss.ss_family == AF_INET6 ? "pushwire demo: http://[%s]:%s/\n" : "pushwire demo: http://%s:%s/\n", host, port);
  fflush(stdout);
  S.lfd = fd;
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: demo_server [--host ADDR] [--port N] [--page FILE] [--tick-ms N] [--ping-ms N]\n"
          "                   [--heartbeat-ms N] [--head-timeout-ms N] [--max-queue BYTES]\n");
}

static int parse_args(int argc, char **argv) {
  S.cfg.host = "127.0.0.1";
  S.cfg.port = "8080";
  S.cfg.tick_ms = 1000;
  S.cfg.ping_ms = 20000;
  S.cfg.heartbeat_ms = 15000;
  S.cfg.head_timeout_ms = 10000;
  S.cfg.max_queue = 1u << 20;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage();
      exit(0);
    }
    if (i + 1 >= argc) {
      usage();
      return -1;
    }
    const char *v = argv[++i];
    uint64_t n = 0;
    bool num = parse_u64(v, strlen(v), &n);
    if (strcmp(a, "--host") == 0) {
      S.cfg.host = v;
    } else if (strcmp(a, "--port") == 0 && num && n < 65536) {
      S.cfg.port = v;
    } else if (strcmp(a, "--page") == 0) {
      S.cfg.page_path = v;
    } else if (strcmp(a, "--tick-ms") == 0 && num && n >= 10) {
      S.cfg.tick_ms = n;
    } else if (strcmp(a, "--ping-ms") == 0 && num) {
      S.cfg.ping_ms = n;
    } else if (strcmp(a, "--heartbeat-ms") == 0 && num) {
      S.cfg.heartbeat_ms = n;
    } else if (strcmp(a, "--head-timeout-ms") == 0 && num && n > 0) {
      S.cfg.head_timeout_ms = n;
    } else if (strcmp(a, "--max-queue") == 0 && num && n >= 4096) {
      S.cfg.max_queue = n;
    } else {
      usage();
      return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (parse_args(argc, argv) != 0) return 2;
  if (load_page(argv[0]) != 0) return 1;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: the wait returns EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
#if USE_EPOLL
  /* Signals stay blocked except inside epoll_pwait, so none slips in before a long wait. */
  sigset_t block, waitmask;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, &waitmask);
  sigdelset(&waitmask, SIGINT);
  sigdelset(&waitmask, SIGTERM);
#endif

  if (listen_on() != 0) return 1;
  S.boot_ms = wall_ms();
  S.id_base = S.boot_ms * 1000u;
#if USE_EPOLL
  S.epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {0};
  lev.events = EPOLLIN;
  lev.data.ptr = NULL;
  if (S.epfd < 0 || epoll_ctl(S.epfd, EPOLL_CTL_ADD, S.lfd, &lev) != 0) {
    perror("demo_server: epoll");
    return 1;
  }
#else
  struct pollfd *pfds = calloc(MAX_CONNS + 1, sizeof *pfds);
  conn **pconn = calloc(MAX_CONNS + 1, sizeof *pconn);
  if (!pfds || !pconn) return 1;
#endif
  publish("boot", "\"text\":\"server started\"");
  S.next_clock = now_ms() + S.cfg.tick_ms;

  for (;;) {
    uint64_t now = now_ms();
    if (got_signal && !S.stopping) begin_shutdown(now);
    if (!S.stopping && now >= S.next_clock) {
      publish("tick", NULL);
      S.next_clock += S.cfg.tick_ms;
      if (S.next_clock <= now) S.next_clock = now + S.cfg.tick_ms; /* after a stall, no burst */
    }
    for (conn *c = S.conns; c; c = c->next) run_timers(c, now);
    reap();
    if (S.stopping && (S.nconns == 0 || now >= S.stop_deadline)) break;

    uint64_t wake = S.stopping ? S.stop_deadline : S.next_clock;
    for (conn *c = S.conns; c; c = c->next) {
      uint64_t t = conn_wake(c);
      if (t < wake) wake = t;
    }
    int timeout = wake <= now ? 0 : (wake - now > 60000 ? 60000 : (int)(wake - now));
#if USE_EPOLL
    struct epoll_event evs[64];
    int n = epoll_pwait(S.epfd, evs, 64, timeout, &waitmask);
    for (int k = 0; k < n; k++) {
      conn *c = evs[k].data.ptr;
      if (!c) {
        if (S.lfd >= 0) accept_clients(now_ms());
        continue;
      }
      if (c->dead) continue;
      if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
      if (!c->dead && (evs[k].events & EPOLLOUT)) flush(c); /* also re-arms reading paused by echo flow control */
    }
#else
    if (timeout > 250) timeout = 250; /* a signal landing just before poll waits at most this long */
    nfds_t np = 0;
    if (S.lfd >= 0) {
      pfds[np].fd = S.lfd;
      pfds[np].events = POLLIN;
      pconn[np++] = NULL;
    }
    for (conn *c = S.conns; c; c = c->next) {
      if (c->dead) continue;
      pfds[np].fd = c->fd;
      pfds[np].events = (short)((c->interest & WANT_IN ? POLLIN : 0) | (c->interest & WANT_OUT ? POLLOUT : 0));
      pconn[np++] = c;
    }
    int n = poll(pfds, np, timeout);
    for (nfds_t k = 0; n > 0 && k < np; k++) {
      if (!pfds[k].revents) continue;
      conn *c = pconn[k];
      if (!c) {
        if (S.lfd >= 0) accept_clients(now_ms());
        continue;
      }
      if (c->dead) continue;
      if (pfds[k].revents & (POLLIN | POLLHUP | POLLERR)) on_readable(c);
      if (!c->dead && (pfds[k].revents & POLLOUT)) flush(c);
    }
#endif
    reap();
  }

  for (conn *c = S.conns; c; c = c->next) kill_conn(c, "shutdown");
  reap();
  for (size_t k = 0; k < S.ring_len; k++) free(S.ring[(S.ring_start + k) % REPLAY_CAP].data);
  for (size_t k = 0; k < S.hist_len; k++) free(S.history[(S.hist_start + k) % CHAT_HISTORY].json);
  free(S.page);
#if USE_EPOLL
  close(S.epfd);
#else
  free(pfds);
  free(pconn);
#endif
  printf("pushwire demo: stopped\n");
  return 0;
}
