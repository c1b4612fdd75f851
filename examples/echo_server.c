/*
 * echo_server.c: a WebSocket echo server built on the pushwire C ABI and POSIX sockets
 * (epoll on Linux, poll elsewhere or with -DECHO_USE_POLL). No other dependencies.
 *
 *   echo_server [--host 127.0.0.1] [--port 8080] [--max-message BYTES]
 *               [--ping-interval MS] [--quiet]
 *
 * Every text and binary message that arrives on any path is sent back unchanged. The
 * first line on stdout is "listening on http://HOST:PORT" (with --port 0 the kernel picks
 * the port and this line names it); then one line per connection opening and closing.
 * SIGINT/SIGTERM close every client with 1001, drain briefly and exit 0.
 *
 * pushwire does the protocol: the handshake, pongs, the close echo, keepalive timing and
 * the failure close codes. This file only moves bytes, applies backpressure and decides
 * when a socket is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pushwire/pushwire.h"

#if defined(__linux__) && !defined(ECHO_USE_POLL)
#include <sys/epoll.h>
#define ECHO_EPOLL 1
#else
#include <poll.h>
#define ECHO_EPOLL 0
#endif

/* Reads go through one shared buffer: pushwire_ws_feed copies, so it is free again at once. */
#define READ_CHUNK (64u * 1024u)
/* Reads per wakeup and connection, so one busy client cannot starve the others. */
#define READS_PER_WAKEUP 16
/*
 * Backpressure: once this much output waits for a slow reader, stop pulling events (each
 * echo adds output) and stop reading its socket; resume below half of it.
 */
#define OUTPUT_HIGH (1u << 20)
#define OUTPUT_LOW (OUTPUT_HIGH / 2)
/* A client has this long to complete its request head. */
#define HANDSHAKE_TIMEOUT_MS 10000u
/* After our side is done: how long to read and discard until the peer closes too. */
#define LINGER_MS 2000u
/* SIGINT/SIGTERM: how long clients get to answer the 1001 close. */
#define SHUTDOWN_DRAIN_MS 2000u
/* Timer scans at least this often (keepalive, handshake and linger deadlines). */
#define SCAN_INTERVAL_MS 1000u

typedef struct options {
  const char *host;
  const char *port;
  uint64_t max_message;
  uint64_t ping_interval_ms;
  bool quiet;
} options;

typedef struct conn {
  int fd;
  unsigned long id;
  pushwire_ws *ws;
  char peer[96]; /* "[v6 address]:port" */
  uint64_t created_ms;
  uint64_t linger_until_ms; /* nonzero: write side shut down, discarding input until EOF */
  bool opened;              /* the upgrade was accepted */
  bool events_held;         /* events left unpulled because output is over OUTPUT_HIGH */
  bool input_done;          /* EOF fed, or the receive side ended: nothing more to feed */
  bool eof;                 /* the peer closed its side of the TCP connection */
  bool close_seen;          /* a CLOSE or REJECTED event was reported */
  bool close_failed;
  uint32_t close_code;
  char close_reason[128];
  int path_len;
  char path[96];
  unsigned interest; /* WANT_READ | WANT_WRITE as registered with the poller; 0: not registered */
} conn;

enum { WANT_READ = 1u, WANT_WRITE = 2u };

typedef struct server {
  options opt;
  int listen_fd;
  int sig_pipe[2];
  int poll_fd; /* epoll instance; -1 with poll */
  conn **by_fd;
  size_t by_fd_cap;
  size_t nconns;
  unsigned long next_id;
  uint64_t next_scan_ms;
  bool stopping;
  uint64_t stop_deadline_ms;
} server;

static uint8_t read_buf[READ_CHUNK];
static volatile sig_atomic_t sig_write_fd = -1;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_signal(int sig) {
  (void)sig;
  int saved = errno;
  if (sig_write_fd >= 0) {
    char b = 1;
    /* A full pipe already holds a wakeup: dropping this byte loses nothing. */
    ssize_t r = write((int)sig_write_fd, &b, 1);
    (void)r;
  }
  errno = saved;
}

static int set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -1;
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* ---- poller: epoll or poll behind three calls ---------------------------------------- */

static int poller_init(server *s) {
#if ECHO_EPOLL
  s->poll_fd = epoll_create1(EPOLL_CLOEXEC);
  return s->poll_fd < 0 ? -1 : 0;
#else
  s->poll_fd = -1;
  return 0;
#endif
}

/* Register, change (interest != 0) or remove (interest == 0) fd. */
static int poller_set(server *s, int fd, unsigned old_interest, unsigned interest) {
#if ECHO_EPOLL
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = ((interest & WANT_READ) ? EPOLLIN : 0u) | ((interest & WANT_WRITE) ? EPOLLOUT : 0u);
  ev.data.fd = fd;
  int op = old_interest == 0 && interest != 0 ? EPOLL_CTL_ADD : interest == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (old_interest == 0 && interest == 0) return 0;
  return epoll_ctl(s->poll_fd, op, fd, &ev);
#else
  (void)s;
  (void)fd;
  (void)old_interest;
  (void)interest;
  return 0; /* poll rebuilds its set from the connection table on every wait */
#endif
}

/* ---- logging --------------------------------------------------------------------------- */

static void log_line(const server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_line(const server *s, const char *fmt, ...) {
  if (s->opt.quiet) return;
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
}

/* Copy a span for printing: control bytes become '?', at most cap-1 bytes. */
static void printable(char *dst, size_t cap, pushwire_span sp) {
  size_t n = sp.len < cap - 1 ? sp.len : cap - 1;
  for (size_t i = 0; i < n; ++i) dst[i] = (sp.ptr[i] < 0x20 || sp.ptr[i] == 0x7f) ? '?' : (char)sp.ptr[i];
  dst[n] = '\0';
}

/* ---- connections ----------------------------------------------------------------------- */

static void conn_drop(server *s, conn *c, const char *why) {
  if (!c->opened && c->close_seen) {
    log_line(s, "#%lu rejected %s: HTTP %" PRIu32 " %s", c->id, c->peer, c->close_code, c->close_reason);
  } else if (!c->opened) {
    log_line(s, "#%lu close %s before the handshake: %s", c->id, c->peer, why);
  } else if (c->close_seen) {
    log_line(s, "#%lu close %s %.*s: %" PRIu32 "%s%s%s%s", c->id, c->peer, c->path_len, c->path, c->close_code,
             c->close_reason[0] ? " \"" : "", c->close_reason, c->close_reason[0] ? "\"" : "",
             c->close_failed ? " (failed)" : "");
  } else {
    log_line(s, "#%lu close %s %.*s: %s", c->id, c->peer, c->path_len, c->path, why);
  }
  poller_set(s, c->fd, c->interest, 0);
  close(c->fd);
  s->by_fd[c->fd] = NULL;
  s->nconns--;
  pushwire_ws_free(c->ws);
  free(c);
}

static int ws_configure(pushwire_ws *ws, const options *o) {
  int rc = 0;
  /* Frames may be as large as whole messages, so an unfragmented maximum echoes too. */
  if (!rc) rc = pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE, o->max_message);
  if (!rc) rc = pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_MAX_FRAME_SIZE, o->max_message);
  /*
   * Output holds at most one echoed message on top of OUTPUT_HIGH (events are not pulled
   * beyond it) plus small echoes from one read: room for that, so a send never fails.
   */
  if (!rc) rc = pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_MAX_OUTPUT_BUFFER, o->max_message + 4u * OUTPUT_HIGH);
  /* Incoming text was validated on arrival; checking the echo again would only cost time. */
  if (!rc) rc = pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_VALIDATE_OUTGOING_UTF8, 0);
  if (!rc && o->ping_interval_ms) {
    rc = pushwire_ws_set_option(ws, PUSHWIRE_WS_OPT_PING_INTERVAL_MS, o->ping_interval_ms);
  }
  return rc;
}

static bool table_reserve(server *s, int fd) {
  if ((size_t)fd < s->by_fd_cap) return true;
  size_t cap = s->by_fd_cap ? s->by_fd_cap : 64;
  while (cap <= (size_t)fd) cap *= 2;
  conn **t = realloc(s->by_fd, cap * sizeof *t);
  if (!t) return false;
  memset(t + s->by_fd_cap, 0, (cap - s->by_fd_cap) * sizeof *t);
  s->by_fd = t;
  s->by_fd_cap = cap;
  return true;
}

static void conn_update(server *s, conn *c);

static void format_peer(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t cap) {
  char host[64], port[8];
  if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf(out, cap, "?");
  } else if (ss->ss_family == AF_INET6) {
    snprintf(out, cap, "[%s]:%s", host, port);
  } else {
    snprintf(out, cap, "%s:%s", host, port);
  }
}

static void accept_all(server *s) {
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept(s->listen_fd, (struct sockaddr *)&ss, &len);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) fprintf(stderr, "accept: %s\n", strerror(errno));
      return; /* EMFILE and friends: try again on the next wakeup */
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn *c = calloc(1, sizeof *c);
    pushwire_ws *ws = NULL;
    if (set_nonblocking(fd) < 0 || !c || !table_reserve(s, fd) || pushwire_ws_new(&ws, PUSHWIRE_WS_SERVER, NULL) != 0 ||
        ws_configure(ws, &s->opt) != 0) {
      fprintf(stderr, "cannot set up a connection\n");
      pushwire_ws_free(ws);
      free(c);
      close(fd);
      continue;
    }
    c->fd = fd;
    c->ws = ws;
    c->id = ++s->next_id;
    c->created_ms = now_ms();
    format_peer(&ss, len, c->peer, sizeof c->peer);
    s->by_fd[fd] = c;
    s->nconns++;
    conn_update(s, c);
  }
}

static void record_close(conn *c, const pushwire_ws_event *ev) {
  c->close_seen = true;
  c->close_code = ev->code;
  c->close_failed = (ev->flags & PUSHWIRE_WS_EVF_FAILED) != 0;
  printable(c->close_reason, sizeof c->close_reason, ev->data);
}

/* The connection cannot go on: close 1011 if the handle still allows it. */
static void fail_internal(conn *c, const char *what, int rc) {
  fprintf(stderr, "#%lu %s: %s\n", c->id, what, pushwire_strerror(rc));
  if (pushwire_ws_close(c->ws, 1011, "internal error", 14) != 0) c->input_done = true;
}

/*
 * Pull events while output stays under OUTPUT_HIGH: echoes, accepts, and the close
 * bookkeeping. Returns false when the handle is unusable (fatal error).
 */
static bool conn_events(server *s, conn *c) {
  pushwire_ws_event ev;
  while (pushwire_ws_output_size(c->ws) < OUTPUT_HIGH) {
    int rc = pushwire_ws_next_event(c->ws, &ev);
    if (rc == 0) {
      c->events_held = false;
      return true;
    }
    if (rc < 0) {
      c->events_held = false;
      if (pushwire_error_is_fatal(rc)) {
        fprintf(stderr, "#%lu %s\n", c->id, pushwire_strerror(rc));
        return false;
      }
      c->input_done = true; /* the receive side failed: its close (or 4xx) is queued */
      return true;
    }
    switch (ev.type) {
      case PUSHWIRE_WS_EV_REQUEST: {
        size_t n = ev.data.len < sizeof c->path ? ev.data.len : sizeof c->path - 1;
        printable(c->path, n + 1, ev.data);
        c->path_len = (int)n;
        if (s->stopping) {
          rc = pushwire_ws_reject(c->ws, 503, "shutting down", 13);
        } else {
          rc = pushwire_ws_accept(c->ws, NULL, 0);
          if (rc == 0) {
            c->opened = true;
            log_line(s, "#%lu open %s %.*s", c->id, c->peer, c->path_len, c->path);
            pushwire_ws_tick(c->ws, now_ms(), NULL); /* start the keepalive clock */
          }
        }
        if (rc != 0) {
          fprintf(stderr, "#%lu answering the upgrade: %s\n", c->id, pushwire_strerror(rc));
          return false;
        }
        break;
      }
      case PUSHWIRE_WS_EV_TEXT:
      case PUSHWIRE_WS_EV_BINARY:
        /* Buffered mode: one event is one whole message. The payload is copied into the output. */
        rc = ev.type == PUSHWIRE_WS_EV_TEXT ? pushwire_ws_send_text(c->ws, ev.data.ptr, ev.data.len)
                                            : pushwire_ws_send_binary(c->ws, ev.data.ptr, ev.data.len);
        /* CLOSED: we already sent our close (shutdown); the peer's late message is dropped. */
        if (rc != 0 && rc != PUSHWIRE_ERR_CLOSED) {
          if (pushwire_error_is_fatal(rc)) return false;
          fail_internal(c, "echo", rc);
        }
        break;
      case PUSHWIRE_WS_EV_CLOSE:
      case PUSHWIRE_WS_EV_REJECTED:
        record_close(c, &ev);
        break;
      default:
        break; /* pings are answered by the handle (AUTO_PONG); pongs need nothing */
    }
  }
  c->events_held = true;
  return true;
}

/* Write queued output until the socket would block. Returns false on a write error. */
static bool conn_flush(conn *c) {
  pushwire_span out;
  while (pushwire_ws_peek_output(c->ws, &out) > 0) {
    ssize_t n = send(c->fd, out.ptr, out.len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    pushwire_ws_consume_output(c->ws, (size_t)n);
  }
  return true;
}

/* Both directions are finished as far as the protocol goes: only output is left to drain. */
static bool receive_done(const conn *c) {
  pushwire_ws_state st = pushwire_ws_get_state(c->ws);
  return st == PUSHWIRE_WS_STATE_CLOSED || st == PUSHWIRE_WS_STATE_FAILED;
}

/*
 * Bring a connection up to date after anything happened to it: resume held events,
 * write, finish it when the protocol is done, and register the interest that follows.
 */
static void conn_update(server *s, conn *c) {
  if (c->linger_until_ms) return; /* already finishing; only input to discard */
  if (c->events_held && pushwire_ws_output_size(c->ws) < OUTPUT_LOW && !conn_events(s, c)) {
    conn_drop(s, c, "fatal error");
    return;
  }
  if (!conn_flush(c)) {
    conn_drop(s, c, "write error");
    return;
  }
  size_t pending = pushwire_ws_output_size(c->ws);
  if (receive_done(c) && pending == 0 && !c->events_held) {
    if (c->eof) {
      conn_drop(s, c, "peer closed");
      return;
    }
    /*
     * Close our side first (RFC 6455 §7.1.1: the server closes the TCP connection) but
     * keep reading until the peer closes too: closing with unread input would send a
     * reset that can destroy the close frame before the peer reads it.
     */
    shutdown(c->fd, SHUT_WR);
    c->linger_until_ms = now_ms() + LINGER_MS;
    if (poller_set(s, c->fd, c->interest, WANT_READ) != 0) {
      conn_drop(s, c, "poller error");
      return;
    }
    c->interest = WANT_READ;
    return;
  }
  /* Level-triggered: never ask for input we would not read, or the wait would spin. */
  unsigned want = 0;
  if (!receive_done(c) && !c->input_done && !c->events_held && pending < OUTPUT_HIGH) want |= WANT_READ;
  if (pending > 0) want |= WANT_WRITE;
  if (want != c->interest) {
    if (poller_set(s, c->fd, c->interest, want) != 0) {
      conn_drop(s, c, "poller error");
      return;
    }
    c->interest = want;
  }
}

/* Readable: feed what arrives to the handle, or discard it while lingering. */
static void conn_read(server *s, conn *c) {
  for (int i = 0; i < READS_PER_WAKEUP; ++i) {
    if (!c->linger_until_ms && (c->input_done || c->events_held || receive_done(c) ||
                                pushwire_ws_output_size(c->ws) >= OUTPUT_HIGH)) {
      break;
    }
    ssize_t n = recv(c->fd, read_buf, sizeof read_buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      conn_drop(s, c, "read error");
      return;
    }
    if (c->linger_until_ms) {
      if (n == 0) {
        conn_drop(s, c, "done");
        return;
      }
      continue;
    }
    int rc = n == 0 ? pushwire_ws_feed_eof(c->ws) : pushwire_ws_feed(c->ws, read_buf, (size_t)n);
    if (n == 0) c->input_done = c->eof = true;
    /*
     * Every feed follows a complete pull, so the handle holds no unpulled input and
     * BUFFER_FULL cannot happen; other errors are the sticky receive failure, reported
     * through the events pulled next.
     */
    if (rc != 0 && (rc == PUSHWIRE_ERR_BUFFER_FULL || pushwire_error_is_fatal(rc))) {
      fprintf(stderr, "#%lu feed: %s\n", c->id, pushwire_strerror(rc));
      conn_drop(s, c, "feed error");
      return;
    }
    if (!conn_events(s, c)) {
      conn_drop(s, c, "fatal error");
      return;
    }
    if (n == 0) break;
  }
  conn_update(s, c);
}

/* Keepalive, handshake timeout and linger deadlines. Returns when to scan next. */
static void scan_timers(server *s, uint64_t now) {
  uint64_t next = now + SCAN_INTERVAL_MS;
  for (size_t fd = 0; fd < s->by_fd_cap; ++fd) {
    conn *c = s->by_fd[fd];
    if (!c) continue;
    if (c->linger_until_ms) {
      if (now >= c->linger_until_ms) conn_drop(s, c, "linger timeout");
      continue;
    }
    if (!c->opened && !c->close_seen) {
      if (now - c->created_ms >= HANDSHAKE_TIMEOUT_MS) conn_drop(s, c, "handshake timeout");
      continue;
    }
    if (!c->opened || c->input_done) continue;
    uint64_t due = UINT64_MAX;
    int rc = pushwire_ws_tick(c->ws, now, &due);
    if (rc != 0 && rc != PUSHWIRE_ERR_TIMEOUT) {
      fprintf(stderr, "#%lu tick: %s\n", c->id, pushwire_strerror(rc));
      conn_drop(s, c, "tick error");
      continue;
    }
    if (due < next) next = due > now ? due : now + 1;
    if (!conn_events(s, c)) {
      conn_drop(s, c, "fatal error");
      continue;
    }
    conn_update(s, c); /* a ping may be queued, or the keepalive expired */
  }
  s->next_scan_ms = next;
}

static void begin_shutdown(server *s, uint64_t now) {
  s->stopping = true;
  s->stop_deadline_ms = now + SHUTDOWN_DRAIN_MS;
  poller_set(s, s->listen_fd, WANT_READ, 0);
  close(s->listen_fd);
  s->listen_fd = -1;
  for (size_t fd = 0; fd < s->by_fd_cap; ++fd) {
    conn *c = s->by_fd[fd];
    if (!c) continue;
    if (!c->opened && !c->close_seen) {
      conn_drop(s, c, "server shutting down");
      continue;
    }
    if (pushwire_ws_get_state(c->ws) == PUSHWIRE_WS_STATE_OPEN) {
      pushwire_ws_close(c->ws, 1001, "server shutting down", 20);
    }
    conn_update(s, c);
  }
}

static void on_ready(server *s, int fd, bool readable, bool writable) {
  if (fd == s->listen_fd) {
    accept_all(s);
    return;
  }
  if (fd == s->sig_pipe[0]) {
    char b[64];
    while (read(fd, b, sizeof b) > 0) {
    }
    if (!s->stopping) begin_shutdown(s, now_ms());
    return;
  }
  if (fd < 0 || (size_t)fd >= s->by_fd_cap || !s->by_fd[fd]) return; /* stale: dropped earlier in this batch */
  conn *c = s->by_fd[fd];
  if (writable && !c->linger_until_ms) {
    conn_update(s, c);
    if (!s->by_fd[fd]) return; /* dropped */
  }
  if (readable) conn_read(s, c);
}

static int wait_and_dispatch(server *s, int timeout_ms) {
#if ECHO_EPOLL
  struct epoll_event evs[128];
  int n = epoll_wait(s->poll_fd, evs, 128, timeout_ms);
  if (n < 0) return errno == EINTR ? 0 : -1;
  for (int i = 0; i < n; ++i) {
    bool err = (evs[i].events & (EPOLLERR | EPOLLHUP)) != 0;
    on_ready(s, evs[i].data.fd, (evs[i].events & EPOLLIN) || err, (evs[i].events & EPOLLOUT) || err);
  }
  return 0;
#else
  size_t cap = 2 + s->nconns;
  struct pollfd *pfds = calloc(cap, sizeof *pfds);
  if (!pfds) return -1;
  size_t n = 0;
  pfds[n].fd = s->sig_pipe[0];
  pfds[n++].events = POLLIN;
  if (s->listen_fd >= 0) {
    pfds[n].fd = s->listen_fd;
    pfds[n++].events = POLLIN;
  }
  for (size_t fd = 0; fd < s->by_fd_cap && n < cap; ++fd) {
    conn *c = s->by_fd[fd];
    if (!c || !c->interest) continue;
    pfds[n].fd = c->fd;
    pfds[n++].events = (short)(((c->interest & WANT_READ) ? POLLIN : 0) | ((c->interest & WANT_WRITE) ? POLLOUT : 0));
  }
  int r = poll(pfds, (nfds_t)n, timeout_ms);
  if (r < 0) {
    free(pfds);
    return errno == EINTR ? 0 : -1;
  }
  for (size_t i = 0; i < n && r > 0; ++i) {
    short re = pfds[i].revents;
    if (!re) continue;
    bool err = (re & (POLLERR | POLLHUP | POLLNVAL)) != 0;
    on_ready(s, pfds[i].fd, (re & POLLIN) || err, (re & POLLOUT) || err);
  }
  free(pfds);
  return 0;
#endif
}

static int open_listener(server *s) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  int rc = getaddrinfo(s->opt.host, s->opt.port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "%s:%s: %s\n", s->opt.host, s->opt.port, gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0 && set_nonblocking(fd) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    fprintf(stderr, "cannot listen on %s:%s: %s\n", s->opt.host, s->opt.port, strerror(errno));
    return -1;
  }
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char host[64], port[16];
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
      getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    fprintf(stderr, "getsockname failed\n");
    close(fd);
    return -1;
  }
  /* Tests read the port from this line: it is always the first line on stdout. */
  printf(ss.ss_family == AF_INET6 ? "listening on http://[%s]:%s\n" : "listening on http://%s:%s\n", host, port);
  fflush(stdout);
  s->listen_fd = fd;
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: echo_server [--host ADDR] [--port N] [--max-message BYTES] [--ping-interval MS] [--quiet]\n"
          "  --host           address to listen on (default 127.0.0.1)\n"
          "  --port           TCP port (default 8080; 0 picks a free port, printed on the first line)\n"
          "  --max-message    largest message echoed, in bytes (default 67108864); larger ones close with 1009\n"
          "  --ping-interval  keepalive ping after this many ms without input (default 30000; 0: off)\n"
          "  --quiet          no per-connection log lines\n");
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
  if (!s || !*s || *s == '-') return false;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v > max) return false;
  *out = v;
  return true;
}

static int parse_args(int argc, char **argv, options *o) {
  o->host = "127.0.0.1";
  o->port = "8080";
  o->max_message = 64u << 20;
  o->ping_interval_ms = 30000;
  o->quiet = false;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (strcmp(a, "--quiet") == 0) {
      o->quiet = true;
    } else if (strcmp(a, "--host") == 0 && v) {
      o->host = v;
      ++i;
    } else if (strcmp(a, "--port") == 0 && v && parse_u64(v, 65535, &n)) {
      o->port = v;
      ++i;
    } else if (strcmp(a, "--max-message") == 0 && v && parse_u64(v, UINT64_MAX / 2, &n) && n > 0) {
      o->max_message = n;
      ++i;
    } else if (strcmp(a, "--ping-interval") == 0 && v && parse_u64(v, UINT32_MAX, &n)) {
      o->ping_interval_ms = n;
      ++i;
    } else {
      fprintf(stderr, "echo_server: bad argument '%s'\n", a);
      usage(stderr);
      return -1;
    }
  }
  /* Try the settings on a handle now, so a bad value fails at startup, not per client. */
  pushwire_ws *probe = NULL;
  int rc = pushwire_ws_new(&probe, PUSHWIRE_WS_SERVER, NULL);
  if (rc == 0) rc = ws_configure(probe, o);
  pushwire_ws_free(probe);
  if (rc != 0) {
    fprintf(stderr, "echo_server: settings refused: %s\n", pushwire_strerror(rc));
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  server s;
  memset(&s, 0, sizeof s);
  s.listen_fd = -1;
  s.sig_pipe[0] = s.sig_pipe[1] = -1;
  if (parse_args(argc, argv, &s.opt) != 0) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);

  if (pipe(s.sig_pipe) != 0 || set_nonblocking(s.sig_pipe[0]) != 0 || set_nonblocking(s.sig_pipe[1]) != 0) {
    perror("pipe");
    return 1;
  }
  sig_write_fd = s.sig_pipe[1];
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);

  if (poller_init(&s) != 0 || open_listener(&s) != 0) return 1;
  if (poller_set(&s, s.listen_fd, 0, WANT_READ) != 0 || poller_set(&s, s.sig_pipe[0], 0, WANT_READ) != 0) {
    perror("poller");
    return 1;
  }

  int status = 0;
  s.next_scan_ms = now_ms() + SCAN_INTERVAL_MS;
  for (;;) {
    uint64_t now = now_ms();
    if (s.stopping && (s.nconns == 0 || now >= s.stop_deadline_ms)) break;
    uint64_t wake = s.next_scan_ms;
    if (s.stopping && s.stop_deadline_ms < wake) wake = s.stop_deadline_ms;
    int timeout = wake <= now ? 0 : (int)(wake - now);
    if (wait_and_dispatch(&s, timeout) != 0) {
      perror("wait");
      status = 1;
      break;
    }
    now = now_ms();
    if (now >= s.next_scan_ms) scan_timers(&s, now);
  }

  for (size_t fd = 0; fd < s.by_fd_cap; ++fd) {
    if (s.by_fd[fd]) conn_drop(&s, s.by_fd[fd], "server stopped");
  }
  free(s.by_fd);
  if (s.listen_fd >= 0) close(s.listen_fd);
  if (s.poll_fd >= 0) close(s.poll_fd);
  sig_write_fd = -1;
  close(s.sig_pipe[0]);
  close(s.sig_pipe[1]);
  if (status == 0) printf("stopped\n");
  return status;
}
