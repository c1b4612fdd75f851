/*
 * conformance.c: an RFC 6455 conformance battery for a WebSocket echo server, modelled on
 * the Autobahn|Testsuite sections 1-7 and 10 plus the opening handshake's bad inputs.
 *
 *   conformance --port N [--host 127.0.0.1] [--max-message BYTES] [--max-fragments N]
 *               [--wait MS] [--budget MS] [--only ID-PREFIX] [-v]
 *
 * It is an independent raw-socket client: frames are hand-built bytes and a small frame
 * reader of its own checks what comes back, so nothing of pushwire's frame code is
 * trusted. Every case asserts exact bytes (echoed payloads, close codes, HTTP statuses)
 * with bounded waits; a global time budget ends the run even if the server hangs.
 * Masking keys and payloads come from a fixed-seed PRNG, so runs are reproducible.
 * One line per failed case; the last line is "N passed, M failed".
 *
 * --max-message and --max-fragments must match the server's limits (defaults: the
 * example echo server's 64 MiB and pushwire's 4096).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

/* ---- settings and case bookkeeping ---------------------------------------------------- */

static const char *g_host = "127.0.0.1";
static const char *g_port = NULL;
static uint64_t g_max_message = 64u << 20;
static long g_max_fragments = 4096;
static uint64_t g_wait_ms = 2000;   /* one expectation */
static uint64_t g_budget_ms = 30000; /* the whole run */
static uint64_t g_budget_end;
static bool g_verbose;

static bool g_case_failed;
static char g_reason[700];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  if (g_case_failed) return; /* the first failure explains the case */
  g_case_failed = true;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_reason, sizeof g_reason, fmt, ap);
  va_end(ap);
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A deadline `ms` from now, never past the run's budget. */
static uint64_t deadline_in(uint64_t ms) {
  uint64_t d = now_ms() + ms;
  return d < g_budget_end ? d : g_budget_end;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* splitmix64 with a fixed seed: masking keys and payloads are the same on every run. */
static uint64_t g_rng = 0x5EED0F9A5E5F00D5ull;
static uint64_t rnd(void) {
  uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* ---- growable byte strings ----------------------------------------------------------- */

typedef struct bytes {
  uint8_t *p;
  size_t n, cap;
} bytes;

static void b_reserve(bytes *b, size_t extra) {
  if (b->cap - b->n >= extra) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->n < extra) cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (!p) {
    fprintf(stderr, "conformance: out of memory\n");
    exit(2);
  }
  b->p = p;
  b->cap = cap;
}
static void b_put(bytes *b, const void *d, size_t n) {
  b_reserve(b, n);
  if (n) memcpy(b->p + b->n, d, n);
  b->n += n;
}
static void b_u8(bytes *b, uint8_t v) { b_put(b, &v, 1); }
static void b_str(bytes *b, const char *s) { b_put(b, s, strlen(s)); }
static void b_printf(bytes *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void b_printf(bytes *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  b_reserve(b, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf((char *)b->p + b->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)n;
}
static void b_free(bytes *b) {
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

/* "F4 90 80" -> bytes; the case table writes byte strings in hex. */
static size_t from_hex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  while (*hex && n < cap) {
    while (*hex == ' ') ++hex;
    if (!*hex) break;
    unsigned v;
    if (sscanf(hex, "%2x", &v) != 1) break;
    out[n++] = (uint8_t)v;
    hex += 2;
  }
  return n;
}

/* Text payloads: printable ASCII in a rotating pattern. Binary: PRNG bytes. */
static void fill_payload(bytes *b, int op, size_t len) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_ ";
  b_reserve(b, len);
  for (size_t i = 0; i < len; ++i) {
    b->p[b->n + i] = op == 1 ? (uint8_t)alphabet[(i * 7 + i / 61) % (sizeof alphabet - 1)] : (uint8_t)rnd();
  }
  b->n += len;
}

/* An independent UTF-8 check (RFC 3629): shortest form, no surrogates, at most U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t need;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1, cp = c & 0x1Fu, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2, cp = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3, cp = c & 0x07u, min = 0x10000;
    } else {
      return false;
    }
    if (n - i - 1 < need) return false;
    for (size_t k = 1; k <= need; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += need + 1;
  }
  return true;
}

/* ---- frames on the wire ------------------------------------------------------------- */

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };
enum { FIN = 0x80 };
/* Length encodings: the minimal one, or a forced (possibly non-minimal) 16- or 64-bit form. */
enum { LEN_MIN = 0, LEN_16 = 16, LEN_64 = 64 };

/*
 * A script: frames (and raw bytes) to send, with the frame boundaries kept so they can be
 * sent whole, frame by frame, or octet by octet.
 */
typedef struct wire {
  bytes b;
  size_t ends[8192];
  int nends;
} wire;

static void w_mark(wire *w) {
  if (w->nends < (int)(sizeof w->ends / sizeof w->ends[0])) w->ends[w->nends++] = w->b.n;
}

static void put_header(bytes *b, uint8_t b0, bool masked, uint64_t len, int form, const uint8_t key[4]) {
  b_u8(b, b0);
  uint8_t m = masked ? 0x80 : 0;
  if (form == LEN_64 || (form == LEN_MIN && len > 0xFFFF)) {
    b_u8(b, m | 127);
    for (int i = 7; i >= 0; --i) b_u8(b, (uint8_t)(len >> (8 * i)));
  } else if (form == LEN_16 || (form == LEN_MIN && len > 125)) {
    b_u8(b, m | 126);
    b_u8(b, (uint8_t)(len >> 8));
    b_u8(b, (uint8_t)len);
  } else {
    b_u8(b, m | (uint8_t)len);
  }
  if (masked) b_put(b, key, 4);
}

static void new_key(uint8_t key[4]) {
  uint64_t r = rnd();
  memcpy(key, &r, 4);
}

/* Append one frame: b0 is FIN | RSV bits | opcode. Client frames are masked unless told. */
static void w_frame_ex(wire *w, uint8_t b0, const void *payload, size_t len, int form, bool masked) {
  uint8_t key[4];
  new_key(key);
  put_header(&w->b, b0, masked, len, form, key);
  b_reserve(&w->b, len);
  const uint8_t *p = payload;
  for (size_t i = 0; i < len; ++i) w->b.p[w->b.n + i] = masked ? (uint8_t)(p[i] ^ key[i & 3]) : p[i];
  w->b.n += len;
  w_mark(w);
}
static void w_frame(wire *w, uint8_t b0, const void *payload, size_t len) {
  w_frame_ex(w, b0, payload, len, LEN_MIN, true);
}
static void w_text(wire *w, const char *s) { w_frame(w, FIN | OP_TEXT, s, strlen(s)); }
static void w_close(wire *w, int code, const void *reason, size_t reason_len) {
  uint8_t p[256];
  size_t n = 0;
  if (code >= 0) {
    p[n++] = (uint8_t)(code >> 8);
    p[n++] = (uint8_t)code;
  }
  if (reason_len > sizeof p - n) reason_len = sizeof p - n;
  if (reason_len) memcpy(p + n, reason, reason_len);
  w_frame(w, FIN | OP_CLOSE, p, n + reason_len);
}
static void w_free(wire *w) {
  b_free(&w->b);
  w->nends = 0;
}

/* ---- connections --------------------------------------------------------------------- */

typedef struct conn {
  int fd;
  bytes in;
  size_t pos; /* start of unread input */
  bool eof;
  int err; /* errno of a failed read (e.g. ECONNRESET) */
  bool frag_active;
  int frag_op;
  bytes frag;
} conn;

#define MAX_CONNS 64
static conn g_conns[MAX_CONNS];
static int g_nconns;

static void conns_reset(void) {
  for (int i = 0; i < g_nconns; ++i) {
    if (g_conns[i].fd >= 0) close(g_conns[i].fd);
    b_free(&g_conns[i].in);
    b_free(&g_conns[i].frag);
  }
  g_nconns = 0;
}

static conn *tcp_connect(void) {
  if (g_nconns == MAX_CONNS) {
    fail("too many connections in one case");
    return NULL;
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(g_host, g_port, &hints, &res);
  if (rc != 0) {
    fail("resolve %s: %s", g_host, gai_strerror(rc));
    return NULL;
  }
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    err = errno;
    if (err == EINPROGRESS) {
      struct pollfd p = {fd, POLLOUT, 0};
      socklen_t len = sizeof err;
      uint64_t dl = deadline_in(g_wait_ms), now = now_ms();
      if (poll(&p, 1, dl > now ? (int)(dl - now) : 0) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
          err == 0) {
        break;
      }
      if (err == 0 || err == EINPROGRESS) err = ETIMEDOUT;
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    fail("connect to %s:%s: %s", g_host, g_port, strerror(err));
    return NULL;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  conn *c = &g_conns[g_nconns++];
  memset(c, 0, sizeof *c);
  c->fd = fd;
  return c;
}

/* Read what is available into c->in. 1: data, 0: EOF, -1: timeout, -2: error. */
static int fill(conn *c, uint64_t deadline) {
  if (c->eof) return c->err ? -2 : 0;
  if (c->pos == c->in.n) c->pos = c->in.n = 0;
  for (;;) {
    uint64_t now = now_ms();
    if (now >= deadline) return -1;
    struct pollfd p = {c->fd, POLLIN, 0};
    int r = poll(&p, 1, (int)(deadline - now));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return -1;
    if (r < 0) return -2;
    b_reserve(&c->in, 256 * 1024);
    ssize_t n = recv(c->fd, c->in.p + c->in.n, c->in.cap - c->in.n, 0);
    if (n > 0) {
      c->in.n += (size_t)n;
      return 1;
    }
    if (n == 0) {
      c->eof = true;
      return 0;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    c->eof = true;
    c->err = errno;
    return -2;
  }
}

/*
 * Send all bytes before the deadline. While the socket is full, input is read into c->in
 * so a server that writes while we write cannot deadlock us. Returns false when the
 * server closed the connection or time ran out (the caller's expectations then say what
 * went wrong). With stop_on_input, stop as soon as the server sends anything.
 */
static bool send_all_ex(conn *c, const uint8_t *p, size_t n, uint64_t deadline, bool stop_on_input) {
  while (n > 0) {
    if (stop_on_input && c->in.n > c->pos) return false;
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    uint64_t now = now_ms();
    if (now >= deadline) return false;
    struct pollfd pf = {c->fd, POLLOUT | (c->eof ? 0 : POLLIN), 0};
    if (poll(&pf, 1, (int)(deadline - now)) <= 0) continue;
    if ((pf.revents & POLLIN) && !c->eof) {
      b_reserve(&c->in, 256 * 1024);
      ssize_t r = recv(c->fd, c->in.p + c->in.n, c->in.cap - c->in.n, 0);
      if (r > 0) {
        c->in.n += (size_t)r;
      } else if (r == 0) {
        c->eof = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        c->eof = true;
        c->err = errno;
      }
    }
  }
  return true;
}
static bool send_all(conn *c, const void *p, size_t n) {
  return send_all_ex(c, p, n, deadline_in(g_wait_ms + n / 2000), false);
}

enum chop { WHOLE, FRAMES, OCTETS };

/* Send a script whole, frame by frame (10 ms apart) or octet by octet (1 ms apart when short). */
static void w_send(conn *c, const wire *w, enum chop how) {
  if (how == WHOLE) {
    send_all(c, w->b.p, w->b.n);
  } else if (how == FRAMES) {
    size_t start = 0;
    for (int i = 0; i < w->nends; ++i) {
      if (!send_all(c, w->b.p + start, w->ends[i] - start)) return;
      start = w->ends[i];
      sleep_ms(10);
    }
    if (start < w->b.n) send_all(c, w->b.p + start, w->b.n - start);
  } else {
    unsigned delay = w->b.n <= 400 ? 1 : 0;
    for (size_t i = 0; i < w->b.n; ++i) {
      if (!send_all(c, w->b.p + i, 1)) return;
      if (delay) sleep_ms(delay);
    }
  }
}

/* ---- reading what the server sends ---------------------------------------------------- */

enum { R_MSG = 1, R_EOF = 0, R_TIMEOUT = -1, R_RESET = -2, R_BAD = -3 };

typedef struct msg {
  int op; /* OP_TEXT, OP_BINARY, OP_PING, OP_PONG, OP_CLOSE */
  bytes data;
  int code; /* close: the code, or -1 for a close without payload */
  const uint8_t *reason;
  size_t reason_len;
} msg;

static char g_bad[160]; /* why the last R_BAD */

static bool close_code_valid(unsigned code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/*
 * The next frame from the server, checked against RFC 6455 §5: unmasked, RSV zero, a known
 * opcode, minimal length, control frames short and final. *payload points into c->in
 * until the next read.
 */
static int read_frame(conn *c, uint8_t *b0_out, const uint8_t **payload, size_t *len_out, uint64_t deadline) {
  for (;;) {
    size_t avail = c->in.n - c->pos;
    const uint8_t *p = c->in.p + c->pos;
    if (avail >= 2) {
      uint8_t b0 = p[0], b1 = p[1];
      size_t hl = 2;
      uint64_t len = b1 & 0x7F;
      bool have = true;
      if (len == 126) {
        hl = 4;
        have = avail >= hl;
        if (have) {
          len = (uint64_t)p[2] << 8 | p[3];
          if (len < 126) return snprintf(g_bad, sizeof g_bad, "server used a non-minimal 16-bit length"), R_BAD;
        }
      } else if (len == 127) {
        hl = 10;
        have = avail >= hl;
        if (have) {
          len = 0;
          for (int i = 2; i < 10; ++i) len = len << 8 | p[i];
          if (len >> 63) return snprintf(g_bad, sizeof g_bad, "server set the 64-bit length MSB"), R_BAD;
          if (len <= 0xFFFF) return snprintf(g_bad, sizeof g_bad, "server used a non-minimal 64-bit length"), R_BAD;
        }
      }
      if (b1 & 0x80) return snprintf(g_bad, sizeof g_bad, "server sent a masked frame"), R_BAD;
      if (b0 & 0x70) return snprintf(g_bad, sizeof g_bad, "server set RSV bits (0x%02x)", b0), R_BAD;
      int op = b0 & 0x0F;
      if (!(op <= 2 || (op >= 8 && op <= 10))) {
        return snprintf(g_bad, sizeof g_bad, "server sent reserved opcode %d", op), R_BAD;
      }
      if (have && (op & 8) && (!(b0 & FIN) || len > 125)) {
        return snprintf(g_bad, sizeof g_bad, "server sent a fragmented or long control frame"), R_BAD;
      }
      if (have && len > g_max_message + 4096) {
        return snprintf(g_bad, sizeof g_bad, "server announced a %llu-byte frame", (unsigned long long)len), R_BAD;
      }
      if (have && avail - hl >= len) {
        *b0_out = b0;
        *payload = p + hl;
        *len_out = (size_t)len;
        c->pos += hl + (size_t)len;
        return R_MSG;
      }
    }
    if (c->pos > 0 && c->pos == c->in.n) c->pos = c->in.n = 0;
    if (c->pos > (1u << 20)) { /* keep the buffer from creeping */
      memmove(c->in.p, c->in.p + c->pos, c->in.n - c->pos);
      c->in.n -= c->pos;
      c->pos = 0;
    }
    int r = fill(c, deadline);
    if (r == 0) {
      if (c->in.n > c->pos) return snprintf(g_bad, sizeof g_bad, "EOF inside a frame"), R_BAD;
      return R_EOF;
    }
    if (r == -1) return R_TIMEOUT;
    if (r == -2) return R_RESET;
  }
}

/* The next message or control frame, fragments reassembled and text/close checked. */
static int read_msg(conn *c, msg *m, uint64_t deadline) {
  m->data.n = 0;
  for (;;) {
    uint8_t b0;
    const uint8_t *pl;
    size_t len;
    int r = read_frame(c, &b0, &pl, &len, deadline);
    if (r != R_MSG) return r;
    int op = b0 & 0x0F;
    if (op & 8) {
      m->op = op;
      b_put(&m->data, pl, len);
      if (op == OP_CLOSE) {
        m->code = -1;
        m->reason = NULL;
        m->reason_len = 0;
        if (len == 1) return snprintf(g_bad, sizeof g_bad, "server sent a 1-byte close payload"), R_BAD;
        if (len >= 2) {
          m->code = m->data.p[0] << 8 | m->data.p[1];
          m->reason = m->data.p + 2;
          m->reason_len = len - 2;
          if (!close_code_valid((unsigned)m->code)) {
            return snprintf(g_bad, sizeof g_bad, "server sent close code %d, not valid on the wire", m->code), R_BAD;
          }
          if (!utf8_valid(m->reason, m->reason_len)) {
            return snprintf(g_bad, sizeof g_bad, "server's close reason is not UTF-8"), R_BAD;
          }
        }
      }
      return R_MSG;
    }
    if (op == OP_CONT && !c->frag_active) {
      return snprintf(g_bad, sizeof g_bad, "server sent a continuation frame outside a message"), R_BAD;
    }
    if (op != OP_CONT && c->frag_active) {
      return snprintf(g_bad, sizeof g_bad, "server started a message inside another"), R_BAD;
    }
    if (op != OP_CONT) {
      c->frag_active = true;
      c->frag_op = op;
      c->frag.n = 0;
    }
    b_put(&c->frag, pl, len);
    if (b0 & FIN) {
      c->frag_active = false;
      m->op = c->frag_op;
      b_put(&m->data, c->frag.p, c->frag.n);
      if (m->op == OP_TEXT && !utf8_valid(m->data.p, m->data.n)) {
        return snprintf(g_bad, sizeof g_bad, "server sent a text message that is not UTF-8"), R_BAD;
      }
      return R_MSG;
    }
  }
}

static const char *op_name(int op) {
  switch (op) {
    case OP_TEXT: return "text";
    case OP_BINARY: return "binary";
    case OP_CLOSE: return "close";
    case OP_PING: return "ping";
    case OP_PONG: return "pong";
    default: return "?";
  }
}

/* A short description of what arrived instead of the expectation. */
static const char *describe(int r, const msg *m, char *buf, size_t cap) {
  switch (r) {
    case R_EOF: return "EOF (server closed TCP)";
    case R_TIMEOUT: return "nothing (timeout)";
    case R_RESET: return "a connection reset";
    case R_BAD: snprintf(buf, cap, "a protocol violation: %s", g_bad); return buf;
    default: break;
  }
  if (m->op == OP_CLOSE) {
    if (m->code < 0) return "close without code";
    snprintf(buf, cap, "close %d \"%.*s\"", m->code, (int)(m->reason_len > 60 ? 60 : m->reason_len),
             (const char *)m->reason);
  } else {
    int show = m->op == OP_TEXT || m->op == OP_PING || m->op == OP_PONG ? (int)(m->data.n > 40 ? 40 : m->data.n) : 0;
    snprintf(buf, cap, "%s (%zu bytes)%s%.*s%s", op_name(m->op), m->data.n, show ? " \"" : "", show,
             (const char *)m->data.p, show ? "\"" : "");
  }
  return buf;
}

static uint64_t wait_for(size_t bytes_expected) { return g_wait_ms + bytes_expected / 4000; }

/* The next thing from the server must be this message (data, ping or pong) with these bytes. */
static bool expect_msg(conn *c, int op, const void *data, size_t len) {
  if (g_case_failed) return false;
  msg m = {0};
  char buf[240];
  int r = read_msg(c, &m, deadline_in(wait_for(len)));
  bool ok = false;
  if (r != R_MSG || m.op != op) {
    fail("expected %s (%zu bytes), got %s", op_name(op), len, describe(r, &m, buf, sizeof buf));
  } else if (m.data.n != len) {
    fail("expected %s of %zu bytes, got %zu bytes", op_name(op), len, m.data.n);
  } else if (len && memcmp(m.data.p, data, len) != 0) {
    size_t i = 0;
    while (m.data.p[i] == ((const uint8_t *)data)[i]) ++i;
    fail("%s payload differs at byte %zu", op_name(op), i);
  } else {
    ok = true;
  }
  b_free(&m.data);
  return ok;
}

/* EOF (or a reset) must follow within the wait, with no further frames. */
static bool expect_eof(conn *c) {
  if (g_case_failed) return false;
  msg m = {0};
  char buf[240];
  int r = read_msg(c, &m, deadline_in(g_wait_ms));
  bool ok = r == R_EOF || r == R_RESET;
  if (r == R_TIMEOUT) fail("the server did not close the TCP connection after the close handshake");
  else if (!ok) fail("expected EOF after the close, got %s", describe(r, &m, buf, sizeof buf));
  b_free(&m.data);
  return ok;
}

#define CLOSE_EMPTY (-1)

/*
 * The next frame must be a close with `code` (CLOSE_EMPTY: no payload). When the server
 * started the close, answer it as a client does. Then the server must close TCP.
 */
static bool expect_close_ex(conn *c, int code, bool answer) {
  if (g_case_failed) return false;
  msg m = {0};
  char buf[240];
  int r = read_msg(c, &m, deadline_in(g_wait_ms));
  bool ok = false;
  if (r != R_MSG || m.op != OP_CLOSE) {
    if (code == CLOSE_EMPTY) fail("expected an empty close, got %s", describe(r, &m, buf, sizeof buf));
    else fail("expected close %d, got %s", code, describe(r, &m, buf, sizeof buf));
  } else if (m.code != code) {
    if (code == CLOSE_EMPTY) fail("expected an empty close, got %s", describe(r, &m, buf, sizeof buf));
    else fail("expected close %d, got %s", code, describe(r, &m, buf, sizeof buf));
  } else {
    ok = true;
  }
  if (ok && answer) {
    wire w = {0};
    w_close(&w, code, NULL, 0);
    send_all(c, w.b.p, w.b.n); /* the server may already be gone: that is fine */
    w_free(&w);
  }
  b_free(&m.data);
  return ok && expect_eof(c);
}
/* The server failed the connection (or answered our close): */
static bool expect_fail(conn *c, int code) { return expect_close_ex(c, code, true); }
static bool expect_close_reply(conn *c, int code) { return expect_close_ex(c, code, false); }

/* End a case normally: close 1000, the server echoes it and closes TCP. */
static void finish(conn *c) {
  if (g_case_failed) return;
  wire w = {0};
  w_close(&w, 1000, NULL, 0);
  w_send(c, &w, WHOLE);
  w_free(&w);
  expect_close_reply(c, 1000);
}

/* ---- the opening handshake ------------------------------------------------------------ */

static const char *KEY1 = "dGhlIHNhbXBsZSBub25jZQ==", *ACCEPT1 = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
static const char *KEY2 = "PmqLMA8neyQndMnwL4ptCg==", *ACCEPT2 = "s9nX9CIyg7mR+ZgzLBvFzYdIL+g=";

typedef struct http_resp {
  int status;
  char head[16384];
  size_t head_len;
} http_resp;

/* Read a response head (up to CR LF CR LF); it stays out of c->in. */
static bool read_head(conn *c, http_resp *r) {
  uint64_t dl = deadline_in(g_wait_ms);
  for (;;) {
    size_t avail = c->in.n - c->pos;
    const char *p = (const char *)c->in.p + c->pos;
    for (size_t i = 3; i < avail; ++i) {
      if (p[i - 3] == '\r' && p[i - 2] == '\n' && p[i - 1] == '\r' && p[i] == '\n') {
        if (i + 1 >= sizeof r->head) break;
        memcpy(r->head, p, i + 1);
        r->head[i + 1] = '\0';
        r->head_len = i + 1;
        c->pos += i + 1;
        if (strncmp(r->head, "HTTP/1.1 ", 9) != 0 || sscanf(r->head + 9, "%3d", &r->status) != 1) {
          fail("response does not start with an HTTP/1.1 status line: %.40s", r->head);
          return false;
        }
        return true;
      }
    }
    if (avail >= sizeof r->head) {
      fail("response head over %zu bytes", sizeof r->head);
      return false;
    }
    int rr = fill(c, dl);
    if (rr <= 0) {
      fail("expected an HTTP response, got %s after %zu bytes",
           rr == 0 ? "EOF" : rr == -1 ? "nothing (timeout)" : "a reset",
           avail);
      return false;
    }
  }
}

/* The value of header `name` (first occurrence), or false. */
static bool resp_header(const http_resp *r, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  const char *line = strstr(r->head, "\r\n");
  while (line && line[2] != '\r') {
    line += 2;
    const char *end = strstr(line, "\r\n");
    if (!end) return false;
    if ((size_t)(end - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
      const char *v = line + nl + 1;
      while (*v == ' ' || *v == '\t') ++v;
      size_t vl = (size_t)(end - v);
      while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) --vl;
      if (vl >= cap) vl = cap - 1;
      memcpy(out, v, vl);
      out[vl] = '\0';
      return true;
    }
    line = end;
  }
  return false;
}

static bool has_token(const char *list, const char *token) {
  size_t tl = strlen(token);
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == ',' || *p == '\t') ++p;
    const char *e = p;
    while (*e && *e != ',') ++e;
    size_t l = (size_t)(e - p);
    while (l && (p[l - 1] == ' ' || p[l - 1] == '\t')) --l;
    if (l == tl && strncasecmp(p, token, tl) == 0) return true;
    p = e;
  }
  return false;
}

static void request(bytes *b, const char *path, const char *key, const char *extra) {
  b_printf(b,
           "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
           path, g_host, g_port, key, extra ? extra : "");
}

/* Check a 101 answer to a request that offered nothing the server may accept. */
static bool check_101(const http_resp *r, const char *accept) {
  char v[256];
  if (r->status != 101) return fail("expected 101, got %d", r->status), false;
  if (!resp_header(r, "Upgrade", v, sizeof v) || strcasecmp(v, "websocket") != 0) {
    return fail("101 without Upgrade: websocket"), false;
  }
  if (!resp_header(r, "Connection", v, sizeof v) || !has_token(v, "upgrade")) {
    return fail("101 without Connection: Upgrade"), false;
  }
  if (!resp_header(r, "Sec-WebSocket-Accept", v, sizeof v) || strcmp(v, accept) != 0) {
    return fail("Sec-WebSocket-Accept is \"%s\", expected \"%s\"", v, accept), false;
  }
  if (resp_header(r, "Sec-WebSocket-Extensions", v, sizeof v)) {
    return fail("server accepted an extension: %s", v), false;
  }
  if (resp_header(r, "Sec-WebSocket-Protocol", v, sizeof v)) return fail("server chose a subprotocol: %s", v), false;
  return true;
}

/*
 * Connect and complete the handshake. `extra` adds header lines; `first` (may be NULL)
 * goes out in the same write as the request. NULL on failure (the case has failed).
 */
static conn *ws_connect_ex(const char *extra, const wire *first, enum chop how) {
  conn *c = tcp_connect();
  if (!c) return NULL;
  wire w = {0};
  request(&w.b, "/conformance", KEY1, extra);
  w_mark(&w);
  if (first) b_put(&w.b, first->b.p, first->b.n);
  w_send(c, &w, how);
  w_free(&w);
  http_resp r;
  if (!read_head(c, &r) || !check_101(&r, ACCEPT1)) return NULL;
  return c;
}
static conn *ws_connect(void) { return ws_connect_ex(NULL, NULL, WHOLE); }

/* ---- the cases ------------------------------------------------------------------------- */

typedef struct tcase tcase;
struct tcase {
  const char *id;
  const char *title;
  void (*fn)(const tcase *);
  long a, b, c, d;
  const char *s;
};

/*
 * 1.x, 10.1: one message of b bytes (opcode a), sent in c-byte pieces (0: whole) d ms
 * apart, or in d-byte frames when c < 0.
 */
static void c_echo(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  size_t len = (size_t)t->b;
  if (len > g_max_message) len = (size_t)g_max_message;
  bytes payload = {0};
  fill_payload(&payload, (int)t->a, len);
  wire w = {0};
  if (t->c < 0) {
    size_t frag = (size_t)t->d, off = 0;
    do {
      size_t n = len - off < frag ? len - off : frag;
      w_frame(&w, (uint8_t)((off + n == len ? FIN : 0) | (off == 0 ? t->a : OP_CONT)), payload.p + off, n);
      off += n;
    } while (off < len);
    w_send(c, &w, WHOLE);
  } else {
    w_frame(&w, (uint8_t)(FIN | t->a), payload.p, len);
    if (t->c == 0) {
      w_send(c, &w, WHOLE);
    } else {
      for (size_t off = 0; off < w.b.n; off += (size_t)t->c) {
        size_t n = w.b.n - off < (size_t)t->c ? w.b.n - off : (size_t)t->c;
        if (!send_all(c, w.b.p + off, n)) break;
        if (t->d) sleep_ms((unsigned)t->d);
      }
    }
  }
  w_free(&w);
  expect_msg(c, (int)t->a, payload.p, len);
  b_free(&payload);
  finish(c);
}

/* 1.3.x: several messages in one write come back in order. */
static void c_pipeline(const tcase *t) {
  (void)t;
  conn *c = ws_connect();
  if (!c) return;
  wire w = {0};
  const char *texts[] = {"first", "", "third message"};
  for (int i = 0; i < 3; ++i) w_text(&w, texts[i]);
  w_frame(&w, FIN | OP_BINARY, "\x00\x01\x02", 3);
  w_frame(&w, FIN | OP_BINARY, NULL, 0);
  w_send(c, &w, WHOLE);
  w_free(&w);
  for (int i = 0; i < 3; ++i) expect_msg(c, OP_TEXT, texts[i], strlen(texts[i]));
  expect_msg(c, OP_BINARY, "\x00\x01\x02", 3);
  expect_msg(c, OP_BINARY, NULL, 0);
  finish(c);
}

/* A frame the server must reject: a = first byte, b = payload length, c = length form, d = 1 unmasked. */
static void c_bad_frame(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  bytes payload = {0};
  fill_payload(&payload, OP_TEXT, (size_t)t->b);
  wire w = {0};
  if (t->c == -1) { /* 64-bit length with the most significant bit set */
    uint8_t hdr[14] = {(uint8_t)t->a, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, (uint8_t)t->b, 1, 2, 3, 4};
    b_put(&w.b, hdr, sizeof hdr);
    b_put(&w.b, payload.p, payload.n);
  } else {
    w_frame_ex(&w, (uint8_t)t->a, payload.p, payload.n, (int)t->c, t->d != 1);
  }
  w_text(&w, "not echoed");
  w_send(c, &w, WHOLE);
  w_free(&w);
  b_free(&payload);
  expect_fail(c, 1002);
}

/* 2.x: a ping with payload s (hex) or a bytes of it; b = number of pings; c = chop. */
static void c_ping(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  uint8_t payload[200];
  size_t len = t->s ? from_hex(t->s, payload, sizeof payload) : 0;
  if (!t->s) {
    for (long i = 0; i < t->a; ++i) payload[i] = (uint8_t)(0xFE - i);
    len = (size_t)t->a;
  }
  long count = t->b ? t->b : 1;
  wire w = {0};
  char each[32];
  for (long i = 0; i < count; ++i) {
    if (count > 1) {
      snprintf(each, sizeof each, "payload-%ld", i);
      w_frame(&w, FIN | OP_PING, each, strlen(each));
    } else {
      w_frame(&w, FIN | OP_PING, payload, len);
    }
  }
  w_send(c, &w, (enum chop)t->c);
  w_free(&w);
  if (len > 125) {
    expect_fail(c, 1002);
    return;
  }
  for (long i = 0; i < count; ++i) {
    if (count > 1) {
      snprintf(each, sizeof each, "payload-%ld", i);
      expect_msg(c, OP_PONG, each, strlen(each));
    } else {
      expect_msg(c, OP_PONG, payload, len);
    }
  }
  finish(c);
}

/* 2.x: an unsolicited pong (payload s) is ignored; a = 1 follows it with a ping. */
static void c_unsolicited_pong(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  wire w = {0};
  w_frame(&w, FIN | OP_PONG, t->s, strlen(t->s));
  if (t->a) w_frame(&w, FIN | OP_PING, "ping payload", 12);
  w_text(&w, "after the pong");
  w_send(c, &w, WHOLE);
  w_free(&w);
  if (t->a) expect_msg(c, OP_PONG, "ping payload", 12);
  expect_msg(c, OP_TEXT, "after the pong", 14);
  finish(c);
}

/*
 * 3.x, 4.x: a valid text, then a frame with first byte a (RSV bits or a reserved opcode)
 * and b bytes of payload, then a ping, sent per chop c. The text is echoed; then 1002 and
 * no pong. d = 1: skip the leading text.
 */
static void c_reserved(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  wire w = {0};
  if (!t->d) w_text(&w, "Hello, world!");
  bytes payload = {0};
  fill_payload(&payload, OP_TEXT, (size_t)t->b);
  w_frame(&w, (uint8_t)t->a, payload.p, payload.n);
  w_frame(&w, FIN | OP_PING, "ping", 4);
  w_send(c, &w, (enum chop)t->c);
  w_free(&w);
  b_free(&payload);
  if (!t->d) expect_msg(c, OP_TEXT, "Hello, world!", 13);
  expect_fail(c, 1002);
}

/*
 * 5.x valid fragmentation: fragments of s split on '|'; a = opcode; b = 1: a ping after the
 * first two fragments, 2: a ping after each; c = chop.
 */
static void c_fragments(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  char parts[16][64];
  int n = 0;
  const char *p = t->s;
  for (;;) {
    const char *e = strchr(p, '|');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    memcpy(parts[n], p, l);
    parts[n++][l] = '\0';
    if (!e || n == 16) break;
    p = e + 1;
  }
  bytes whole = {0};
  wire w = {0};
  int pings = 0;
  for (int i = 0; i < n; ++i) {
    b_str(&whole, parts[i]);
    w_frame(&w, (uint8_t)((i == n - 1 ? FIN : 0) | (i == 0 ? t->a : OP_CONT)), parts[i], strlen(parts[i]));
    if ((t->b == 1 && i == 1) || (t->b == 2 && i < n - 1)) {
      char pp[16];
      snprintf(pp, sizeof pp, "ping %d", pings++);
      w_frame(&w, FIN | OP_PING, pp, strlen(pp));
    }
  }
  w_send(c, &w, (enum chop)t->c);
  w_free(&w);
  for (int i = 0; i < pings; ++i) {
    char pp[16];
    snprintf(pp, sizeof pp, "ping %d", i);
    expect_msg(c, OP_PONG, pp, strlen(pp));
  }
  expect_msg(c, (int)t->a, whole.p, whole.n);
  b_free(&whole);
  finish(c);
}

/* 5.x: a fragmented message in a-byte fragments of b bytes total, echoed whole. */
static void c_many_fragments(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  bytes payload = {0};
  fill_payload(&payload, OP_TEXT, (size_t)t->b);
  wire w = {0};
  size_t frag = (size_t)t->a;
  for (size_t off = 0; off < payload.n; off += frag) {
    size_t len = payload.n - off < frag ? payload.n - off : frag;
    w_frame(&w, (uint8_t)((off + len == payload.n ? FIN : 0) | (off == 0 ? OP_TEXT : OP_CONT)), payload.p + off, len);
  }
  w_send(c, &w, WHOLE);
  w_free(&w);
  expect_msg(c, OP_TEXT, payload.p, payload.n);
  b_free(&payload);
  finish(c);
}

/* 5.15-like: two fragments, a ping, a pause, two more, a ping, the last one. */
static void c_fragments_with_pause(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  wire a = {0}, b = {0};
  w_frame(&a, OP_TEXT, "fragment1", 9);
  w_frame(&a, OP_CONT, "fragment2", 9);
  w_frame(&a, FIN | OP_PING, "ping 1", 6);
  w_frame(&b, OP_CONT, "fragment3", 9);
  w_frame(&b, OP_CONT, "fragment4", 9);
  w_frame(&b, FIN | OP_PING, "ping 2", 6);
  w_frame(&b, FIN | OP_CONT, "fragment5", 9);
  w_send(c, &a, (enum chop)t->c);
  expect_msg(c, OP_PONG, "ping 1", 6); /* answered while the message is still open */
  sleep_ms(100);
  w_send(c, &b, (enum chop)t->c);
  w_free(&a);
  w_free(&b);
  expect_msg(c, OP_PONG, "ping 2", 6);
  expect_msg(c, OP_TEXT, "fragment1fragment2fragment3fragment4fragment5", 45);
  finish(c);
}

/*
 * Frames the server must reject with close code a, given as a compact script in s:
 * tokens "T"/"B"/"C"/"P"/"G"/"X" (text, binary, continuation, ping, pong, close) with
 * "+" for FIN, then ":payload". E.g. "T:frag1 C+:frag2". b: index of a message that is
 * echoed first (its payload is expected as text), c: chop.
 */
static void c_script(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  wire w = {0};
  bytes echo = {0}; /* b = 1: the first complete data message is echoed before the failure */
  bool echo_done = false;
  const char *p = t->s;
  while (*p) {
    while (*p == ' ') ++p;
    if (!*p) break;
    uint8_t op = *p == 'T' ? OP_TEXT : *p == 'B' ? OP_BINARY : *p == 'C' ? OP_CONT : *p == 'P' ? OP_PING
                 : *p == 'G' ? OP_PONG : OP_CLOSE;
    ++p;
    uint8_t b0 = op;
    if (*p == '+') {
      b0 |= FIN;
      ++p;
    }
    const char *payload = "";
    size_t len = 0;
    if (*p == ':') {
      payload = ++p;
      while (*p && *p != ' ') ++p;
      len = (size_t)(p - payload);
    }
    w_frame(&w, b0, payload, len);
    if (!echo_done && op < 8) {
      b_put(&echo, payload, len);
      echo_done = (b0 & FIN) != 0;
    }
  }
  w_send(c, &w, (enum chop)t->c);
  w_free(&w);
  if (t->b) expect_msg(c, OP_TEXT, echo.p, echo.n);
  b_free(&echo);
  expect_fail(c, (int)t->a);
}

/* 6.x valid UTF-8: payload s (hex) echoed whole, then again in 1-byte fragments, then split per chop. */
static void c_utf8_valid(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  uint8_t payload[256] = {0};
  size_t len = from_hex(t->s, payload, sizeof payload);
  wire w = {0};
  w_frame(&w, FIN | OP_TEXT, payload, len);
  for (size_t i = 0; i < len; ++i) {
    w_frame(&w, (uint8_t)((i + 1 == len ? FIN : 0) | (i == 0 ? OP_TEXT : OP_CONT)), payload + i, 1);
  }
  /* The same message split into two fragments at every position. */
  for (size_t cut = 1; cut < len; ++cut) {
    w_frame(&w, OP_TEXT, payload, cut);
    w_frame(&w, FIN | OP_CONT, payload + cut, len - cut);
  }
  w_send(c, &w, (enum chop)t->c);
  w_free(&w);
  expect_msg(c, OP_TEXT, payload, len);
  if (len > 0) expect_msg(c, OP_TEXT, payload, len);
  for (size_t cut = 1; cut < len && !g_case_failed; ++cut) expect_msg(c, OP_TEXT, payload, len);
  finish(c);
}

/* 6.x invalid UTF-8: "A" + s (hex) as one text frame (a = 0), or one byte per fragment (a = 1): close 1007. */
static void c_utf8_invalid(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  uint8_t payload[256] = {'A'};
  size_t len = 1 + from_hex(t->s, payload + 1, sizeof payload - 1);
  wire w = {0};
  if (t->a == 0) {
    w_frame(&w, FIN | OP_TEXT, payload, len);
  } else {
    for (size_t i = 0; i < len; ++i) {
      w_frame(&w, (uint8_t)((i + 1 == len ? FIN : 0) | (i == 0 ? OP_TEXT : OP_CONT)), payload + i, 1);
    }
  }
  w_text(&w, "not echoed");
  w_send(c, &w, (enum chop)t->c);
  w_free(&w);
  expect_fail(c, 1007);
}

/*
 * 6.4.x fail-fast: the server must close 1007 as soon as the bytes it has cannot begin
 * valid UTF-8, without waiting for the rest of the message. s lists the fragments sent
 * (hex, '|' between them, all without FIN). a = 1: the bytes are one frame whose header
 * announces b more bytes than are sent, fed octet by octet when c = OCTETS.
 */
static void c_utf8_fail_fast(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  uint8_t parts[4][64];
  size_t lens[4];
  int n = 0;
  const char *p = t->s;
  while (n < 4) {
    const char *e = strchr(p, '|');
    char hex[200];
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l >= sizeof hex) l = sizeof hex - 1;
    memcpy(hex, p, l);
    hex[l] = '\0';
    lens[n] = from_hex(hex, parts[n], sizeof parts[n]);
    ++n;
    if (!e) break;
    p = e + 1;
  }
  if (t->a == 1) {
    bytes all = {0};
    for (int i = 0; i < n; ++i) b_put(&all, parts[i], lens[i]);
    uint8_t key[4];
    new_key(key);
    wire w = {0};
    put_header(&w.b, FIN | OP_TEXT, true, all.n + (size_t)t->b, LEN_MIN, key);
    for (size_t i = 0; i < all.n; ++i) b_u8(&w.b, (uint8_t)(all.p[i] ^ key[i & 3]));
    w_send(c, &w, (enum chop)t->c);
    w_free(&w);
    b_free(&all);
  } else {
    for (int i = 0; i < n; ++i) {
      wire w = {0};
      w_frame(&w, i == 0 ? OP_TEXT : OP_CONT, parts[i], lens[i]);
      w_send(c, &w, WHOLE);
      w_free(&w);
      if (i + 1 < n) sleep_ms(50);
    }
  }
  expect_fail(c, 1007);
}

/* 7.1.x: a script in s (as c_script), then the server's close reply a and EOF; b: a text echoed first. */
static void c_close_script(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  wire w = {0};
  const char *p = t->s;
  while (*p) {
    while (*p == ' ') ++p;
    if (!*p) break;
    char k = *p++;
    if (k == 'X') { /* close 1000 */
      w_close(&w, 1000, NULL, 0);
      continue;
    }
    if (k == 'L') { /* 256 KiB text */
      bytes big = {0};
      fill_payload(&big, OP_TEXT, 256 * 1024);
      w_frame(&w, FIN | OP_TEXT, big.p, big.n);
      b_free(&big);
      continue;
    }
    uint8_t op = k == 'T' ? OP_TEXT : k == 'C' ? OP_CONT : OP_PING;
    uint8_t b0 = op;
    if (*p == '+') {
      b0 |= FIN;
      ++p;
    }
    const char *payload = "";
    size_t len = 0;
    if (*p == ':') {
      payload = ++p;
      while (*p && *p != ' ') ++p;
      len = (size_t)(p - payload);
    }
    w_frame(&w, b0, payload, len);
  }
  w_send(c, &w, WHOLE);
  w_free(&w);
  if (t->b == 1) expect_msg(c, OP_TEXT, "Hello", 5);
  if (t->b == 2) {
    bytes big = {0}; /* text payloads do not use the PRNG: this is the same text */
    fill_payload(&big, OP_TEXT, 256 * 1024);
    expect_msg(c, OP_TEXT, big.p, big.n);
    b_free(&big);
  }
  expect_close_reply(c, (int)t->a);
}

/*
 * 7.x close payloads: code a (-1: no payload, -2: a 1-byte payload), a reason of b bytes
 * (or s as hex when set); the server answers with c (CLOSE_EMPTY for none); d = 1 when
 * the server fails the connection (then we answer its close).
 */
static void c_close(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  uint8_t reason[200];
  size_t rl = 0;
  if (t->s) {
    rl = from_hex(t->s, reason, sizeof reason);
  } else {
    for (long i = 0; i < t->b && i < (long)sizeof reason; ++i) reason[i] = (uint8_t)('a' + i % 26);
    rl = (size_t)t->b;
  }
  wire w = {0};
  if (t->a == -2) {
    w_frame(&w, FIN | OP_CLOSE, "\x03", 1);
  } else {
    w_close(&w, (int)t->a, reason, rl);
  }
  w_text(&w, "after the close");
  w_send(c, &w, WHOLE);
  w_free(&w);
  expect_close_ex(c, (int)t->c, t->d == 1);
}

/*
 * 10.2.x: a message over the server's limit. a = 0: one frame announcing max+1 bytes;
 * 1: 1 KiB, then a fragment announcing max more.
 */
static void c_too_big(const tcase *t) {
  conn *c = ws_connect();
  if (!c) return;
  uint64_t total = g_max_message + 1;
  wire w = {0};
  uint8_t key[4];
  new_key(key);
  if (t->a == 1) {
    bytes first = {0};
    fill_payload(&first, OP_BINARY, 1024);
    w_frame(&w, OP_BINARY, first.p, first.n);
    b_free(&first);
    total = g_max_message;
    put_header(&w.b, FIN | OP_CONT, true, total, LEN_MIN, key);
  } else {
    put_header(&w.b, FIN | OP_BINARY, true, total, LEN_MIN, key);
  }
  send_all(c, w.b.p, w.b.n);
  w_free(&w);
  /* Zeros masked with the key; chunks are a multiple of 4 so the key stays aligned. */
  static uint8_t chunk[256 * 1024];
  for (size_t i = 0; i < sizeof chunk; ++i) chunk[i] = key[i & 3];
  uint64_t dl = deadline_in(g_wait_ms + g_max_message / 20000);
  uint64_t sent = 0;
  while (sent < total && c->in.n == c->pos && !c->eof) {
    size_t n = total - sent < sizeof chunk ? (size_t)(total - sent) : sizeof chunk;
    if (!send_all_ex(c, chunk, n, dl, true)) break;
    sent += n;
    /* Let a server that fails at the header answer before we flood it. */
    if (sent == n) {
      struct pollfd pf = {c->fd, POLLIN, 0};
      if (poll(&pf, 1, 20) == 1) break;
    }
  }
  expect_fail(c, 1009);
}

/* 10.3.1: more fragments than the server allows: close 1008. */
static void c_too_many_fragments(const tcase *t) {
  (void)t;
  conn *c = ws_connect();
  if (!c) return;
  wire w = {0};
  long n = g_max_fragments + 1;
  for (long i = 0; i < n; ++i) w_frame(&w, (uint8_t)((i + 1 == n ? FIN : 0) | (i == 0 ? OP_TEXT : OP_CONT)), "x", 1);
  send_all(c, w.b.p, w.b.n);
  w_free(&w);
  expect_fail(c, 1008);
}

/* Expand a request template: %H host:port, %K a valid key, %P padding header fields (see c_handshake_bad). */
static void expand(bytes *req, const tcase *t) {
  for (const char *p = t->s; *p; ++p) {
    if (p[0] == '%' && p[1] == 'H') {
      b_printf(req, "%s:%s", g_host, g_port);
      ++p;
    } else if (p[0] == '%' && p[1] == 'K') {
      b_str(req, KEY1);
      ++p;
    } else if (p[0] == '%' && p[1] == 'P') {
      if (t->c == 1) { /* one long field of d bytes */
        b_str(req, "X-Pad: ");
        for (long i = 0; i < t->d; ++i) b_u8(req, 'p');
        b_str(req, "\r\n");
      } else { /* d short fields */
        for (long i = 0; i < t->d; ++i) b_printf(req, "X-H%ld: v\r\n", i);
      }
      ++p;
    } else {
      b_u8(req, (uint8_t)*p);
    }
  }
}

/*
 * H.x: a = which key pair; c = chop of the request; b = 1 sends a first frame in the same
 * write; d = 1 then sends an RSV1 frame. s: extra header lines, or a whole request
 * template (starting with "GET").
 */
static void c_handshake_ok(const tcase *t) {
  conn *c = tcp_connect();
  if (!c) return;
  wire w = {0};
  if (t->s && strncmp(t->s, "GET", 3) == 0) {
    expand(&w.b, t);
  } else {
    request(&w.b, "/any/path?x=1", t->a == 2 ? KEY2 : KEY1, t->s);
  }
  w_mark(&w);
  if (t->b) w_text(&w, "first frame, same packet");
  w_send(c, &w, (enum chop)t->c);
  w_free(&w);
  http_resp r;
  if (!read_head(c, &r) || !check_101(&r, t->a == 2 ? ACCEPT2 : ACCEPT1)) return;
  if (t->b) expect_msg(c, OP_TEXT, "first frame, same packet", 24);
  if (t->d) { /* the offered extension was refused, so RSV1 has no meaning: 1002 */
    wire x = {0};
    w_frame(&x, FIN | 0x40 | OP_TEXT, "compressed?", 11);
    w_send(c, &x, WHOLE);
    w_free(&x);
    expect_fail(c, 1002);
    return;
  }
  finish(c);
}

/*
 * H.x: a request the server must refuse with status a (or b when nonzero). s is the
 * request with "%H" for host:port and "%K" for a valid key; c = 1 appends a header block
 * of d bytes before the blank line. The server must then close the connection.
 */
static void c_handshake_bad(const tcase *t) {
  conn *c = tcp_connect();
  if (!c) return;
  bytes req = {0};
  expand(&req, t);
  send_all(c, req.p, req.n);
  b_free(&req);
  http_resp r;
  if (!read_head(c, &r)) return;
  if (r.status != t->a && (t->b == 0 || r.status != t->b)) {
    if (t->b) fail("expected HTTP %ld or %ld, got %d", t->a, t->b, r.status);
    else fail("expected HTTP %ld, got %d", t->a, r.status);
    return;
  }
  char v[64];
  if (r.status == 426 && (!resp_header(&r, "Sec-WebSocket-Version", v, sizeof v) || strcmp(v, "13") != 0)) {
    fail("426 without Sec-WebSocket-Version: 13");
    return;
  }
  /* Skip the body, then the server must close. */
  size_t body = 0;
  if (resp_header(&r, "Content-Length", v, sizeof v)) body = (size_t)strtoul(v, NULL, 10);
  uint64_t dl = deadline_in(g_wait_ms);
  while (c->in.n - c->pos < body && fill(c, dl) > 0) {
  }
  if (c->in.n - c->pos < body) {
    fail("response body shorter than its Content-Length");
    return;
  }
  c->pos += body;
  if (c->in.n > c->pos) {
    fail("%zu unexpected bytes after the response", c->in.n - c->pos);
    return;
  }
  int rr = fill(c, dl);
  if (rr == -1) fail("the server kept the connection open after refusing the handshake");
  else if (rr == 1) fail("unexpected bytes after the response");
}

/* H.20: many connections at once, each echoed independently. */
static void c_many_connections(const tcase *t) {
  conn *cs[MAX_CONNS];
  int n = (int)t->a;
  wire w = {0};
  request(&w.b, "/many", KEY1, NULL);
  for (int i = 0; i < n; ++i) {
    cs[i] = tcp_connect();
    if (!cs[i]) return;
    send_all(cs[i], w.b.p, w.b.n);
  }
  w_free(&w);
  for (int i = 0; i < n; ++i) {
    http_resp r;
    if (!read_head(cs[i], &r) || !check_101(&r, ACCEPT1)) return;
  }
  char text[32];
  for (int i = 0; i < n; ++i) {
    wire m = {0};
    snprintf(text, sizeof text, "connection %d", i);
    w_text(&m, text);
    w_send(cs[i], &m, WHOLE);
    w_free(&m);
  }
  for (int i = n - 1; i >= 0; --i) {
    snprintf(text, sizeof text, "connection %d", i);
    if (!expect_msg(cs[i], OP_TEXT, text, strlen(text))) return;
  }
  for (int i = 0; i < n; ++i) finish(cs[i]);
}

#define KB 1024L
#define T OP_TEXT
#define B OP_BINARY

/* Requests for the handshake cases. */
#define REQ_HEAD "Host: %H\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
#define REQ_OK "GET / HTTP/1.1\r\n" REQ_HEAD "Sec-WebSocket-Key: %K\r\nSec-WebSocket-Version: 13\r\n"

static const tcase g_cases[] = {
    /* 1 Framing: payload length boundaries, echoed exactly. */
    {"1.1.1", "text, 0 bytes", c_echo, T, 0, 0, 0, NULL},
    {"1.1.2", "text, 125 bytes", c_echo, T, 125, 0, 0, NULL},
    {"1.1.3", "text, 126 bytes (16-bit length)", c_echo, T, 126, 0, 0, NULL},
    {"1.1.4", "text, 127 bytes", c_echo, T, 127, 0, 0, NULL},
    {"1.1.5", "text, 128 bytes", c_echo, T, 128, 0, 0, NULL},
    {"1.1.6", "text, 65535 bytes", c_echo, T, 65535, 0, 0, NULL},
    {"1.1.7", "text, 65536 bytes (64-bit length)", c_echo, T, 65536, 0, 0, NULL},
    {"1.1.8", "text, 65536 bytes in 997-byte chops", c_echo, T, 65536, 997, 0, NULL},
    {"1.1.9", "text, 1 MiB", c_echo, T, 1024 * KB, 0, 0, NULL},
    {"1.1.10", "text, 130 bytes in 1-byte chops, 1 ms apart", c_echo, T, 130, 1, 1, NULL},
    {"1.2.1", "binary, 0 bytes", c_echo, B, 0, 0, 0, NULL},
    {"1.2.2", "binary, 125 bytes", c_echo, B, 125, 0, 0, NULL},
    {"1.2.3", "binary, 126 bytes", c_echo, B, 126, 0, 0, NULL},
    {"1.2.4", "binary, 127 bytes", c_echo, B, 127, 0, 0, NULL},
    {"1.2.5", "binary, 128 bytes", c_echo, B, 128, 0, 0, NULL},
    {"1.2.6", "binary, 65535 bytes", c_echo, B, 65535, 0, 0, NULL},
    {"1.2.7", "binary, 65536 bytes", c_echo, B, 65536, 0, 0, NULL},
    {"1.2.8", "binary, 65536 bytes in 997-byte chops", c_echo, B, 65536, 997, 0, NULL},
    {"1.2.9", "binary, 16 MiB + 1 (over pushwire's default limit)", c_echo, B, 16 * 1024 * KB + 1, 0, 0, NULL},
    {"1.2.10", "binary, 300 bytes in 1-byte chops, 1 ms apart", c_echo, B, 300, 1, 1, NULL},
    {"1.3.1", "several messages in one write, echoed in order", c_pipeline, 0, 0, 0, 0, NULL},
    {"1.3.2", "unmasked client frame: 1002", c_bad_frame, FIN | T, 5, LEN_MIN, 1, NULL},
    {"1.3.3", "5-byte payload with a 16-bit length: 1002", c_bad_frame, FIN | T, 5, LEN_16, 0, NULL},
    {"1.3.4", "200-byte payload with a 64-bit length: 1002", c_bad_frame, FIN | T, 200, LEN_64, 0, NULL},
    {"1.3.5", "64-bit length with the top bit set: 1002", c_bad_frame, FIN | B, 0, -1, 0, NULL},

    /* 2 Pings and pongs. */
    {"2.1", "ping without payload", c_ping, 0, 0, WHOLE, 0, ""},
    {"2.2", "ping with text payload", c_ping, 0, 0, WHOLE, 0, "48 65 6c 6c 6f 2c 20 77 6f 72 6c 64 21"},
    {"2.3", "ping with binary payload", c_ping, 0, 0, WHOLE, 0, "00 ff fe fd fc fb 00 ff"},
    {"2.4", "ping with 125-byte payload", c_ping, 125, 0, WHOLE, 0, NULL},
    {"2.5", "ping with 126-byte payload: 1002", c_ping, 126, 0, WHOLE, 0, NULL},
    {"2.6", "ping with 125-byte payload in 1-byte chops", c_ping, 125, 0, OCTETS, 0, NULL},
    {"2.7", "unsolicited empty pong is ignored", c_unsolicited_pong, 0, 0, 0, 0, ""},
    {"2.8", "unsolicited pong with payload is ignored", c_unsolicited_pong, 0, 0, 0, 0, "unsolicited pong payload"},
    {"2.9", "unsolicited pong, then ping: pong echoes the ping", c_unsolicited_pong, 1, 0, 0, 0, "unsolicited"},
    {"2.10", "10 pings in a row: 10 pongs in order", c_ping, 0, 10, WHOLE, 0, ""},
    {"2.11", "10 pings in a row, 1-byte chops", c_ping, 0, 10, OCTETS, 0, ""},

    /* 3 Reserved bits (no extension was negotiated). */
    {"3.1", "text with RSV1: 1002", c_reserved, FIN | 0x40 | T, 5, WHOLE, 1, NULL},
    {"3.2", "text, text with RSV2, ping: echo, then 1002", c_reserved, FIN | 0x20 | T, 5, WHOLE, 0, NULL},
    {"3.3", "as 3.2 with RSV1+2, frame-wise chops", c_reserved, FIN | 0x60 | T, 5, FRAMES, 0, NULL},
    {"3.4", "as 3.2 with RSV3, octet-wise chops", c_reserved, FIN | 0x10 | T, 5, OCTETS, 0, NULL},
    {"3.5", "binary with RSV1+3: 1002", c_reserved, FIN | 0x50 | B, 8, WHOLE, 1, NULL},
    {"3.6", "ping with RSV2+3: 1002", c_reserved, FIN | 0x30 | OP_PING, 4, WHOLE, 1, NULL},
    {"3.7", "close with RSV1+2+3: 1002", c_reserved, FIN | 0x70 | OP_CLOSE, 0, WHOLE, 1, NULL},

    /* 4 Reserved opcodes. */
    {"4.1.1", "opcode 3 without payload: 1002", c_reserved, FIN | 3, 0, WHOLE, 1, NULL},
    {"4.1.2", "opcode 4 with payload: 1002", c_reserved, FIN | 4, 12, WHOLE, 1, NULL},
    {"4.1.3", "text, opcode 5, ping: echo, then 1002", c_reserved, FIN | 5, 0, WHOLE, 0, NULL},
    {"4.1.4", "text, opcode 6 with payload, ping", c_reserved, FIN | 6, 12, WHOLE, 0, NULL},
    {"4.1.5", "text, opcode 7 with payload, ping, octet-wise", c_reserved, FIN | 7, 12, OCTETS, 0, NULL},
    {"4.2.1", "opcode 11 without payload: 1002", c_reserved, FIN | 11, 0, WHOLE, 1, NULL},
    {"4.2.2", "opcode 12 with payload: 1002", c_reserved, FIN | 12, 12, WHOLE, 1, NULL},
    {"4.2.3", "text, opcode 13, ping: echo, then 1002", c_reserved, FIN | 13, 0, WHOLE, 0, NULL},
    {"4.2.4", "text, opcode 14 with payload, ping", c_reserved, FIN | 14, 12, WHOLE, 0, NULL},
    {"4.2.5", "text, opcode 15 with payload, ping, octet-wise", c_reserved, FIN | 15, 12, OCTETS, 0, NULL},

    /* 5 Fragmentation. */
    {"5.1", "ping in 2 fragments: 1002", c_script, 1002, 0, WHOLE, 0, "P:frag1 C+:frag2"},
    {"5.2", "pong in 2 fragments: 1002", c_script, 1002, 0, WHOLE, 0, "G:frag1 C+:frag2"},
    {"5.3", "text in 2 fragments", c_fragments, T, 0, WHOLE, 0, "fragment1|fragment2"},
    {"5.4", "text in 2 fragments, octet-wise", c_fragments, T, 0, OCTETS, 0, "fragment1|fragment2"},
    {"5.5", "text in 2 fragments, frame-wise", c_fragments, T, 0, FRAMES, 0, "fragment1|fragment2"},
    {"5.6", "text in 2 fragments, ping between: pong first", c_fragments, T, 2, WHOLE, 0, "fragment1|fragment2"},
    {"5.7", "as 5.6, octet-wise", c_fragments, T, 2, OCTETS, 0, "fragment1|fragment2"},
    {"5.8", "as 5.6, frame-wise", c_fragments, T, 2, FRAMES, 0, "fragment1|fragment2"},
    {"5.9", "continuation (FIN) without a start: 1002", c_script, 1002, 0, WHOLE, 0, "C+:non-continuation T+:Hello"},
    {"5.10", "as 5.9, octet-wise", c_script, 1002, 0, OCTETS, 0, "C+:non-continuation T+:Hello"},
    {"5.11", "continuation (no FIN) without a start: 1002", c_script, 1002, 0, WHOLE, 0, "C:non-continuation T+:Hello"},
    {"5.12", "message, stray continuation, text: echo, then 1002", c_script, 1002, 1, WHOLE, 0,
     "T:fragment1 C+:fragment2 C:stray T+:Hello"},
    {"5.13", "new text while a text is fragmented: 1002", c_script, 1002, 0, WHOLE, 0, "T:frag1 T+:frag2"},
    {"5.14", "new text while a binary is fragmented: 1002", c_script, 1002, 0, WHOLE, 0, "B:frag1 T:frag2 C+:frag3"},
    {"5.15", "fragments, ping, pause, fragments, ping, end", c_fragments_with_pause, 0, 0, WHOLE, 0, NULL},
    {"5.16", "as 5.15, octet-wise", c_fragments_with_pause, 0, 0, OCTETS, 0, NULL},
    {"5.17", "binary in 3 fragments", c_fragments, B, 0, WHOLE, 0, "\x01\x02|\x03\x04|\x05"},
    {"5.18", "text in 100 fragments of 1 byte", c_many_fragments, 1, 100, 0, 0, NULL},
    {"5.19", "empty fragments around data", c_fragments, T, 0, WHOLE, 0, "||abc|"},
    {"5.20", "close in 2 fragments: 1002", c_script, 1002, 0, WHOLE, 0, "X:\x03\xe8 C+:ok"},
    {"5.21", "text in 3 fragments with pings after each", c_fragments, T, 2, WHOLE, 0, "one|two|three"},

    /* 6 UTF-8. */
    {"6.1.1", "empty text", c_utf8_valid, 0, 0, WHOLE, 0, ""},
    {"6.1.2", "empty text in 3 empty fragments", c_fragments, T, 0, WHOLE, 0, "||"},
    {"6.2.1", "Hello-µ@ßöäüàá-UTF-8!!, whole, per byte, every split", c_utf8_valid, 0, 0, WHOLE, 0,
     "48 65 6c 6c 6f 2d c2 b5 40 c3 9f c3 b6 c3 a4 c3 bc c3 a0 c3 a1 2d 55 54 46 2d 38 21 21"},
    {"6.2.2", "κόσμε, whole, per byte, every split", c_utf8_valid, 0, 0, WHOLE, 0,
     "ce ba e1 bd b9 cf 83 ce bc ce b5"},
    {"6.2.3", "as 6.2.2, octet-wise", c_utf8_valid, 0, 0, OCTETS, 0, "ce ba e1 bd b9 cf 83 ce bc ce b5"},
    {"6.3.1", "invalid UTF-8 (κόσμε with U+D800) in one frame: 1007", c_utf8_invalid, 0, 0, WHOLE, 0,
     "ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64"},
    {"6.3.2", "as 6.3.1 in 1-byte fragments: 1007", c_utf8_invalid, 1, 0, WHOLE, 0,
     "ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64"},
    {"6.4.1", "fail fast: 2nd fragment F4 90 80 80, message not finished: 1007", c_utf8_fail_fast, 0, 0, WHOLE, 0,
     "ce ba e1 bd b9 cf 83 ce bc ce b5|f4 90 80 80"},
    {"6.4.2", "fail fast: 1st fragment ends in F4 90, message not finished: 1007", c_utf8_fail_fast, 0, 0, WHOLE, 0,
     "ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90"},
    {"6.4.3", "fail fast inside a frame: payload cut after F4 90: 1007", c_utf8_fail_fast, 1, 6, WHOLE, 0,
     "ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90"},
    {"6.4.4", "as 6.4.3, octet-wise", c_utf8_fail_fast, 1, 6, OCTETS, 0, "ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90"},
    {"6.4.5", "fail fast: fragment ending in ED A0 (surrogate prefix): 1007", c_utf8_fail_fast, 0, 0, WHOLE, 0,
     "41 ed a0"},
    {"6.4.6", "fail fast: fragment ending in E0 80 (overlong prefix): 1007", c_utf8_fail_fast, 0, 0, WHOLE, 0,
     "41 e0 80"},
    {"6.5.1", "U+0000", c_utf8_valid, 0, 0, WHOLE, 0, "00"},
    {"6.5.2", "U+007F", c_utf8_valid, 0, 0, WHOLE, 0, "7f"},
    {"6.5.3", "U+0080", c_utf8_valid, 0, 0, WHOLE, 0, "c2 80"},
    {"6.5.4", "U+07FF", c_utf8_valid, 0, 0, WHOLE, 0, "df bf"},
    {"6.5.5", "U+0800", c_utf8_valid, 0, 0, WHOLE, 0, "e0 a0 80"},
    {"6.5.6", "U+D7FF", c_utf8_valid, 0, 0, WHOLE, 0, "ed 9f bf"},
    {"6.5.7", "U+E000", c_utf8_valid, 0, 0, WHOLE, 0, "ee 80 80"},
    {"6.5.8", "U+FFFD", c_utf8_valid, 0, 0, WHOLE, 0, "ef bf bd"},
    {"6.5.9", "U+FFFE (noncharacter, still valid)", c_utf8_valid, 0, 0, WHOLE, 0, "ef bf be"},
    {"6.5.10", "U+FFFF", c_utf8_valid, 0, 0, WHOLE, 0, "ef bf bf"},
    {"6.5.11", "U+10000", c_utf8_valid, 0, 0, WHOLE, 0, "f0 90 80 80"},
    {"6.5.12", "U+10FFFF", c_utf8_valid, 0, 0, WHOLE, 0, "f4 8f bf bf"},
    {"6.5.13", "mixed 1- to 4-byte sequences", c_utf8_valid, 0, 0, WHOLE, 0, "24 c2 a2 e2 82 ac f0 90 8d 88 41"},
    {"6.6.1", "lone continuation 80: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "80"},
    {"6.6.2", "lone continuation BF: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "bf"},
    {"6.6.3", "continuations 80 BF 80: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "80 bf 80"},
    {"6.6.4", "overlong C0 80: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "c0 80"},
    {"6.6.5", "overlong C1 BF: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "c1 bf"},
    {"6.6.6", "overlong E0 80 80: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "e0 80 80"},
    {"6.6.7", "overlong E0 9F BF: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "e0 9f bf"},
    {"6.6.8", "overlong F0 80 80 80: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "f0 80 80 80"},
    {"6.6.9", "overlong F0 8F BF BF: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "f0 8f bf bf"},
    {"6.6.10", "surrogate U+D800: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "ed a0 80"},
    {"6.6.11", "surrogate U+DFFF: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "ed bf bf"},
    {"6.6.12", "surrogate pair D800 DC00: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "ed a0 80 ed b0 80"},
    {"6.6.13", "U+110000 (F4 90 80 80): 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "f4 90 80 80"},
    {"6.6.14", "F5 80 80 80: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "f5 80 80 80"},
    {"6.6.15", "5-byte form F8 88 80 80 80: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "f8 88 80 80 80"},
    {"6.6.16", "6-byte form FC 84 80 80 80 80: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "fc 84 80 80 80 80"},
    {"6.6.17", "byte FE: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "fe"},
    {"6.6.18", "byte FF: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "ff"},
    {"6.6.19", "truncated C2 at the end: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "c2"},
    {"6.6.20", "truncated E2 82 at the end: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "e2 82"},
    {"6.6.21", "truncated F0 9F 98 at the end: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "f0 9f 98"},
    {"6.6.22", "lead byte followed by ASCII (C2 41): 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "c2 41"},
    {"6.6.23", "E2 28 A1: 1007", c_utf8_invalid, 0, 0, WHOLE, 0, "e2 28 a1"},
    {"6.7.1", "truncated E2 82 at the end, 1-byte fragments: 1007", c_utf8_invalid, 1, 0, WHOLE, 0, "e2 82"},
    {"6.7.2", "overlong E0 80 80, 1-byte fragments: 1007", c_utf8_invalid, 1, 0, WHOLE, 0, "e0 80 80"},
    {"6.7.3", "surrogate ED A0 80, 1-byte fragments: 1007", c_utf8_invalid, 1, 0, WHOLE, 0, "ed a0 80"},
    {"6.7.4", "U+110000, 1-byte fragments, octet-wise: 1007", c_utf8_invalid, 1, 0, OCTETS, 0, "f4 90 80 80"},
    {"6.7.5", "truncated F0 9F 98 in one fragment, then an empty final one: 1007", c_script, 1007, 0, WHOLE, 0,
     "T:A\xf0\x9f\x98 C+"},

    /* 7 Close handling. */
    {"7.1.1", "text echoed, then close 1000 answered with 1000", c_close_script, 1000, 1, 0, 0, "T+:Hello X"},
    {"7.1.2", "two closes: one answer", c_close_script, 1000, 0, 0, 0, "X X"},
    {"7.1.3", "ping after close: ignored", c_close_script, 1000, 0, 0, 0, "X P+:ping"},
    {"7.1.4", "text after close: ignored", c_close_script, 1000, 0, 0, 0, "X T+:Hello"},
    {"7.1.5", "close inside a fragmented message: no echo", c_close_script, 1000, 0, 0, 0,
     "T:fragment1 X C+:fragment2"},
    {"7.1.6", "256 KiB text, close, ping in one write: echo, close", c_close_script, 1000, 2, 0, 0, "L X P+:ping"},
    {"7.3.1", "empty close answered with an empty close", c_close, -1, 0, CLOSE_EMPTY, 0, NULL},
    {"7.3.2", "1-byte close payload: 1002", c_close, -2, 0, 1002, 1, NULL},
    {"7.3.3", "close 1000 without reason", c_close, 1000, 0, 1000, 0, NULL},
    {"7.3.4", "close 1000 with reason", c_close, 1000, 12, 1000, 0, NULL},
    {"7.3.5", "close 1000 with a 123-byte reason", c_close, 1000, 123, 1000, 0, NULL},
    {"7.3.6", "close 1000 with a 124-byte reason (payload 126): 1002", c_close, 1000, 124, 1002, 1, NULL},
    {"7.5.1", "close reason not UTF-8: 1007", c_close, 1000, 0, 1007, 1,
     "ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65"},
    {"7.7.1", "close 1000 echoed", c_close, 1000, 0, 1000, 0, NULL},
    {"7.7.2", "close 1001 echoed", c_close, 1001, 0, 1001, 0, NULL},
    {"7.7.3", "close 1002 echoed", c_close, 1002, 0, 1002, 0, NULL},
    {"7.7.4", "close 1003 echoed", c_close, 1003, 0, 1003, 0, NULL},
    {"7.7.5", "close 1007 echoed", c_close, 1007, 0, 1007, 0, NULL},
    {"7.7.6", "close 1008 echoed", c_close, 1008, 0, 1008, 0, NULL},
    {"7.7.7", "close 1009 echoed", c_close, 1009, 0, 1009, 0, NULL},
    {"7.7.8", "close 1010 echoed", c_close, 1010, 0, 1010, 0, NULL},
    {"7.7.9", "close 1011 echoed", c_close, 1011, 0, 1011, 0, NULL},
    {"7.7.10", "close 1012 echoed", c_close, 1012, 0, 1012, 0, NULL},
    {"7.7.11", "close 1013 echoed", c_close, 1013, 0, 1013, 0, NULL},
    {"7.7.12", "close 1014 echoed", c_close, 1014, 0, 1014, 0, NULL},
    {"7.7.13", "close 3000 echoed", c_close, 3000, 0, 3000, 0, NULL},
    {"7.7.14", "close 3999 echoed", c_close, 3999, 0, 3999, 0, NULL},
    {"7.7.15", "close 4000 echoed", c_close, 4000, 0, 4000, 0, NULL},
    {"7.7.16", "close 4999 echoed", c_close, 4999, 0, 4999, 0, NULL},
    {"7.9.1", "close code 0: 1002", c_close, 0, 0, 1002, 1, NULL},
    {"7.9.2", "close code 999: 1002", c_close, 999, 0, 1002, 1, NULL},
    {"7.9.3", "close code 1004: 1002", c_close, 1004, 0, 1002, 1, NULL},
    {"7.9.4", "close code 1005: 1002", c_close, 1005, 0, 1002, 1, NULL},
    {"7.9.5", "close code 1006: 1002", c_close, 1006, 0, 1002, 1, NULL},
    {"7.9.6", "close code 1015: 1002", c_close, 1015, 0, 1002, 1, NULL},
    {"7.9.7", "close code 1016: 1002", c_close, 1016, 0, 1002, 1, NULL},
    {"7.9.8", "close code 1100: 1002", c_close, 1100, 0, 1002, 1, NULL},
    {"7.9.9", "close code 2000: 1002", c_close, 2000, 0, 1002, 1, NULL},
    {"7.9.10", "close code 2999: 1002", c_close, 2999, 0, 1002, 1, NULL},
    {"7.9.11", "close code 5000: 1002", c_close, 5000, 0, 1002, 1, NULL},
    {"7.9.12", "close code 65535: 1002", c_close, 65535, 0, 1002, 1, NULL},

    /* 10 Limits. */
    {"10.1.1", "text, 65536 bytes in 1300-byte frames", c_echo, T, 65536, -1, 1300, NULL},
    {"10.1.2", "binary, 1 MiB in 64 KiB frames", c_echo, B, 1024 * KB, -1, 64 * KB, NULL},
    {"10.2.1", "one frame over the max message size: 1009", c_too_big, 0, 0, 0, 0, NULL},
    {"10.2.2", "fragments adding up to over the max message size: 1009", c_too_big, 1, 0, 0, 0, NULL},
    {"10.3.1", "more fragments than allowed: 1008", c_too_many_fragments, 0, 0, 0, 0, NULL},

    /* H Opening handshake. */
    {"H.1", "valid request: 101 with the RFC 6455 accept key", c_handshake_ok, 1, 0, WHOLE, 0, NULL},
    {"H.2", "second known key/accept pair", c_handshake_ok, 2, 0, WHOLE, 0, NULL},
    {"H.3", "request in 1-byte chops", c_handshake_ok, 1, 0, OCTETS, 0, NULL},
    {"H.4", "first frame in the same TCP write as the request", c_handshake_ok, 1, 1, WHOLE, 0, NULL},
    {"H.5", "Connection: keep-alive, Upgrade and Upgrade: WebSocket", c_handshake_ok, 1, 0, WHOLE, 0,
     "GET /chat HTTP/1.1\r\nHost: %H\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
     "Sec-WebSocket-Key: %K\r\nSec-WebSocket-Version: 13\r\n\r\n"},
    {"H.5b", "lower-case header names", c_handshake_ok, 1, 0, WHOLE, 0,
     "GET / HTTP/1.1\r\nhost: %H\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
     "sec-websocket-key: %K\r\nsec-websocket-version: 13\r\n\r\n"},
    {"H.6", "offered extension and subprotocol are not accepted; RSV1 then 1002", c_handshake_ok, 1, 0, WHOLE, 1,
     "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nSec-WebSocket-Protocol: chat\r\n"},
    {"H.7", "missing Sec-WebSocket-Key: 400", c_handshake_bad, 400, 0, 0, 0,
     "GET / HTTP/1.1\r\n" REQ_HEAD "Sec-WebSocket-Version: 13\r\n\r\n"},
    {"H.8", "Sec-WebSocket-Version: 8: 426 with Sec-WebSocket-Version: 13", c_handshake_bad, 426, 0, 0, 0,
     "GET / HTTP/1.1\r\n" REQ_HEAD "Sec-WebSocket-Key: %K\r\nSec-WebSocket-Version: 8\r\n\r\n"},
    {"H.9", "key decoding to 15 bytes: 400", c_handshake_bad, 400, 0, 0, 0,
     "GET / HTTP/1.1\r\n" REQ_HEAD "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\nSec-WebSocket-Version: 13\r\n\r\n"},
    {"H.10", "key that is not base64: 400", c_handshake_bad, 400, 0, 0, 0,
     "GET / HTTP/1.1\r\n" REQ_HEAD "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
    {"H.11", "POST: 400", c_handshake_bad, 400, 0, 0, 0,
     "POST / HTTP/1.1\r\n" REQ_HEAD "Sec-WebSocket-Key: %K\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"},
    {"H.12", "head over 16 KiB: 431", c_handshake_bad, 431, 0, 1, 17 * KB, REQ_OK "%P\r\n"},
    {"H.13", "more than 64 header fields: 431", c_handshake_bad, 431, 0, 0, 70, REQ_OK "%P\r\n"},
    {"H.14", "HTTP/1.0: 400", c_handshake_bad, 400, 0, 0, 0,
     "GET / HTTP/1.0\r\n" REQ_HEAD "Sec-WebSocket-Key: %K\r\nSec-WebSocket-Version: 13\r\n\r\n"},
    {"H.15", "missing Host: 400", c_handshake_bad, 400, 0, 0, 0,
     "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %K\r\n"
     "Sec-WebSocket-Version: 13\r\n\r\n"},
    {"H.16", "plain GET without Upgrade: 400 or 426", c_handshake_bad, 400, 426, 0, 0,
     "GET / HTTP/1.1\r\nHost: %H\r\n\r\n"},
    {"H.17", "Connection without the upgrade token: 400 or 426", c_handshake_bad, 400, 426, 0, 0,
     "GET / HTTP/1.1\r\nHost: %H\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Key: %K\r\n"
     "Sec-WebSocket-Version: 13\r\n\r\n"},
    {"H.18", "bare LF line ends: 400", c_handshake_bad, 400, 0, 0, 0,
     "GET / HTTP/1.1\nHost: %H\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: %K\n"
     "Sec-WebSocket-Version: 13\n\n"},
    {"H.19", "obs-fold continuation line: 400", c_handshake_bad, 400, 0, 0, 0,
     "GET / HTTP/1.1\r\n" REQ_HEAD "X-Folded: a\r\n b\r\nSec-WebSocket-Key: %K\r\nSec-WebSocket-Version: 13\r\n\r\n"},
    {"H.20", "32 connections at once, each echoed", c_many_connections, 32, 0, 0, 0, NULL},
};

static void usage(void) {
  fprintf(stderr,
          "usage: conformance --port N [--host ADDR] [--max-message BYTES] [--max-fragments N]\n"
          "                   [--wait MS] [--budget MS] [--only ID-PREFIX] [-v]\n");
}

int main(int argc, char **argv) {
  const char *only = NULL;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-v") == 0) {
      g_verbose = true;
    } else if (v && strcmp(a, "--port") == 0) {
      g_port = v, ++i;
    } else if (v && strcmp(a, "--host") == 0) {
      g_host = v, ++i;
    } else if (v && strcmp(a, "--max-message") == 0) {
      g_max_message = strtoull(v, NULL, 10), ++i;
    } else if (v && strcmp(a, "--max-fragments") == 0) {
      g_max_fragments = strtol(v, NULL, 10), ++i;
    } else if (v && strcmp(a, "--wait") == 0) {
      g_wait_ms = strtoull(v, NULL, 10), ++i;
    } else if (v && strcmp(a, "--budget") == 0) {
      g_budget_ms = strtoull(v, NULL, 10), ++i;
    } else if (v && strcmp(a, "--only") == 0) {
      only = v, ++i;
    } else {
      usage();
      return 2;
    }
  }
  if (!g_port || g_max_message < 1024 || g_max_fragments < 1 || g_wait_ms == 0) {
    usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  uint64_t start = now_ms();
  g_budget_end = start + g_budget_ms;
  int passed = 0, failed = 0;
  for (size_t i = 0; i < sizeof g_cases / sizeof g_cases[0]; ++i) {
    const tcase *t = &g_cases[i];
    if (only && strncmp(t->id, only, strlen(only)) != 0) continue;
    g_case_failed = false;
    g_reason[0] = '\0';
    uint64_t t0 = now_ms();
    if (t0 >= g_budget_end) {
      fail("not run: the %llu ms budget is used up", (unsigned long long)g_budget_ms);
    } else {
      t->fn(t);
    }
    conns_reset();
    uint64_t ms = now_ms() - t0;
    if (g_case_failed) {
      ++failed;
      printf("FAIL %s %s: %s\n", t->id, t->title, g_reason);
    } else {
      ++passed;
      if (g_verbose) printf("ok   %s %s (%llu ms)\n", t->id, t->title, (unsigned long long)ms);
    }
    fflush(stdout);
  }
  printf("conformance: %d cases against %s:%s in %.1f s\n", passed + failed, g_host, g_port,
         (double)(now_ms() - start) / 1000.0);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
