/*
 * ws_client.c: a line-oriented WebSocket client on the pushwire C ABI and POSIX sockets.
 *
 *   ws_client [--timeout MS] ws://host[:port][/path]
 *
 * Each stdin line (without its line ending) goes out as one text message; each message
 * that arrives is printed on stdout: text as-is plus a newline, binary as
 * "[binary N bytes]". At stdin EOF it sends close 1000 and waits (bounded) for the reply.
 * The close code and reason go to stderr. Exit status: 0 when the close handshake
 * completed with 1000, 1001 or no code; 1 on any failure; 2 on bad usage.
 *
 * Only ws:// is supported: wss:// needs TLS, which this example (C ABI plus POSIX, no
 * other libraries) does not have. Put a TLS-terminating proxy in front instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pushwire/pushwire.h"

#define READ_CHUNK (64u * 1024u)
/* Stop reading stdin while this much output waits for the socket. */
#define OUTPUT_HIGH (1u << 20)
/* Longest stdin line sent; the server's default message limit is 16 MiB. */
#define MAX_LINE (16u << 20)
#define PING_INTERVAL_MS 30000u
/* After the close handshake, how long the server gets to close the TCP connection first. */
#define TCP_CLOSE_WAIT_MS 2000u

typedef struct url {
  char host[256]; /* as given, without brackets */
  char port[8];
  char host_header[280];
  const char *path; /* points into the URL; "/" when absent */
} url;

typedef struct client {
  int fd;
  pushwire_ws *ws;
  bool open;        /* ACCEPTED seen */
  bool stdin_open;  /* still reading stdin */
  bool close_sent;  /* we queued a close (stdin ended) */
  bool close_seen;  /* a CLOSE or REJECTED event arrived */
  bool failed;
  uint32_t close_code;
  uint8_t *line;
  size_t line_len, line_cap;
} client;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ws://host[:port][/path]: hosts may be names, IPv4, or bracketed IPv6 literals. */
static int parse_url(const char *s, url *u) {
  if (strncmp(s, "wss://", 6) == 0) {
    fprintf(stderr, "ws_client: wss:// is not supported (no TLS in this example); use ws:// or a TLS proxy\n");
    return -1;
  }
  if (strncmp(s, "ws://", 5) != 0) {
    fprintf(stderr, "ws_client: the URL must start with ws://\n");
    return -1;
  }
  const char *h = s + 5;
  const char *path = strchr(h, '/');
  const char *q = strchr(h, '?');
  if (q && (!path || q < path)) path = q; /* "ws://host?x" has an empty path */
  const char *end = path ? path : h + strlen(h);
  const char *host_end, *port = NULL;
  if (*h == '[') {
    host_end = memchr(h, ']', (size_t)(end - h));
    if (!host_end) return -1;
    ++h;
    if (host_end + 1 < end) {
      if (host_end[1] != ':') return -1;
      port = host_end + 2;
    }
  } else {
    host_end = memchr(h, ':', (size_t)(end - h));
    if (host_end) {
      port = host_end + 1;
    } else {
      host_end = end;
    }
  }
  size_t hl = (size_t)(host_end - h);
  size_t pl = port ? (size_t)(end - port) : 0;
  if (hl == 0 || hl >= sizeof u->host || (port && (pl == 0 || pl >= sizeof u->port))) return -1;
  memcpy(u->host, h, hl);
  u->host[hl] = '\0';
  if (port) {
    memcpy(u->port, port, pl);
    u->port[pl] = '\0';
    for (size_t i = 0; i < pl; ++i) {
      if (u->port[i] < '0' || u->port[i] > '9') return -1;
    }
  } else {
    strcpy(u->port, "80");
  }
  bool v6 = strchr(u->host, ':') != NULL;
  bool default_port = strcmp(u->port, "80") == 0;
  snprintf(u->host_header, sizeof u->host_header, "%s%s%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "",
           default_port ? "" : ":", default_port ? "" : u->port);
  u->path = path ? path : "/";
  return 0;
}

/* Connect to the first address that answers within timeout_ms. */
static int dial(const url *u, int timeout_ms) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(u->host, u->port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "ws_client: %s: %s\n", u->host, gai_strerror(rc));
    return -1;
  }
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    err = errno;
    if (errno == EINPROGRESS) {
      struct pollfd p = {fd, POLLOUT, 0};
      socklen_t len = sizeof err;
      if (poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) break;
      if (err == 0) err = ETIMEDOUT;
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    fprintf(stderr, "ws_client: cannot connect to %s:%s: %s\n", u->host, u->port, strerror(err));
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void print_message(const pushwire_ws_event *ev) {
  if (ev->type == PUSHWIRE_WS_EV_TEXT) {
    if (ev->data.len) fwrite(ev->data.ptr, 1, ev->data.len, stdout);
    putchar('\n');
  } else {
    printf("[binary %zu bytes]\n", ev->data.len);
  }
  fflush(stdout);
}

/* Pull every event. Returns false when the connection cannot go on (rejected, fatal). */
static bool handle_events(client *c) {
  pushwire_ws_event ev;
  int rc;
  while ((rc = pushwire_ws_next_event(c->ws, &ev)) == 1) {
    switch (ev.type) {
      case PUSHWIRE_WS_EV_ACCEPTED:
        c->open = true;
        break;
      case PUSHWIRE_WS_EV_REJECTED:
        c->close_seen = c->failed = true;
        fprintf(stderr, "ws_client: handshake failed: HTTP %u: %.*s\n", (unsigned)ev.code, (int)ev.data.len,
                (const char *)ev.data.ptr);
        break;
      case PUSHWIRE_WS_EV_TEXT:
      case PUSHWIRE_WS_EV_BINARY:
        print_message(&ev);
        break;
      case PUSHWIRE_WS_EV_CLOSE:
        c->close_seen = true;
        c->close_code = ev.code;
        c->failed = (ev.flags & PUSHWIRE_WS_EVF_FAILED) != 0;
        fprintf(stderr, "close %u%s%.*s%s\n", (unsigned)ev.code, ev.data.len ? " " : "", (int)ev.data.len,
                (const char *)ev.data.ptr, c->failed ? " (failed)" : "");
        c->stdin_open = false; /* nothing more can be sent */
        break;
      default:
        break; /* pings are answered by the handle; pongs need nothing */
    }
  }
  if (rc < 0 && !c->close_seen) {
    fprintf(stderr, "ws_client: %s\n", pushwire_strerror(rc));
    c->failed = true;
  }
  return rc >= 0 || !pushwire_error_is_fatal(rc);
}

/* Send each complete line in the buffer; keep the unfinished tail. */
static void send_lines(client *c, bool at_eof) {
  size_t start = 0;
  for (;;) {
    uint8_t *nl = memchr(c->line + start, '\n', c->line_len - start);
    size_t end = nl ? (size_t)(nl - c->line) : c->line_len;
    if (!nl && !(at_eof && end > start)) break;
    size_t len = end - start;
    if (len && c->line[start + len - 1] == '\r') --len;
    int rc = pushwire_ws_send_text(c->ws, c->line + start, len);
    if (rc == PUSHWIRE_ERR_INVALID_ARGUMENT) {
      fprintf(stderr, "ws_client: skipping a line that is not valid UTF-8\n");
    } else if (rc != 0) {
      fprintf(stderr, "ws_client: send: %s\n", pushwire_strerror(rc));
      break;
    }
    start = nl ? end + 1 : end;
  }
  memmove(c->line, c->line + start, c->line_len - start);
  c->line_len -= start;
}

/* Read what stdin has. Returns false at EOF (or error). */
static bool read_stdin(client *c) {
  if (c->line_cap - c->line_len < READ_CHUNK) {
    size_t cap = c->line_cap ? c->line_cap * 2 : 2 * READ_CHUNK;
    if (cap > MAX_LINE + READ_CHUNK) {
      fprintf(stderr, "ws_client: a stdin line is longer than %u bytes\n", MAX_LINE);
      return false;
    }
    uint8_t *p = realloc(c->line, cap);
    if (!p) return false;
    c->line = p;
    c->line_cap = cap;
  }
  ssize_t n = read(STDIN_FILENO, c->line + c->line_len, c->line_cap - c->line_len);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) {
    send_lines(c, true);
    return false;
  }
  c->line_len += (size_t)n;
  send_lines(c, false);
  return true;
}

static bool flush_output(client *c) {
  pushwire_span out;
  while (pushwire_ws_peek_output(c->ws, &out) > 0) {
    ssize_t n = send(c->fd, out.ptr, out.len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      fprintf(stderr, "ws_client: write: %s\n", strerror(errno));
      return false;
    }
    pushwire_ws_consume_output(c->ws, (size_t)n);
  }
  return true;
}

static void usage(void) {
  fprintf(stderr,
          "usage: ws_client [--timeout MS] ws://host[:port][/path]\n"
          "  sends each stdin line as a text message and prints each message received;\n"
          "  at stdin EOF closes with 1000 and waits up to MS (default 5000) for the reply.\n"
          "  wss:// (TLS) is not supported.\n");
}

int main(int argc, char **argv) {
  const char *target = NULL;
  int timeout_ms = 5000;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
      timeout_ms = atoi(argv[++i]);
    } else if (argv[i][0] == '-' || target) {
      usage();
      return 2;
    } else {
      target = argv[i];
    }
  }
  url u;
  if (!target || timeout_ms <= 0) {
    usage();
    return 2;
  }
  if (parse_url(target, &u) != 0) {
    if (strncmp(target, "wss://", 6) != 0) fprintf(stderr, "ws_client: bad URL '%s'\n", target);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  client c;
  memset(&c, 0, sizeof c);
  c.stdin_open = true;
  c.fd = dial(&u, timeout_ms);
  if (c.fd < 0) return 1;
  int rc = pushwire_ws_new(&c.ws, PUSHWIRE_WS_CLIENT, NULL);
  if (rc == 0) rc = pushwire_ws_set_option(c.ws, PUSHWIRE_WS_OPT_PING_INTERVAL_MS, PING_INTERVAL_MS);
  if (rc == 0) rc = pushwire_ws_client_start(c.ws, u.host_header, strlen(u.host_header), u.path, strlen(u.path));
  if (rc != 0) {
    fprintf(stderr, "ws_client: %s\n", pushwire_strerror(rc));
    pushwire_ws_free(c.ws);
    close(c.fd);
    return 1;
  }

  static uint8_t buf[READ_CHUNK];
  /* One deadline at a time: the handshake, then the close reply, then the server's TCP close. */
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  uint64_t next_tick = 0;
  bool ok = true, eof = false, tcp_wait = false;
  for (;;) {
    if (!flush_output(&c)) {
      ok = false;
      break;
    }
    pushwire_ws_state st = pushwire_ws_get_state(c.ws);
    uint64_t now = now_ms();
    if (st == PUSHWIRE_WS_STATE_CLOSED || st == PUSHWIRE_WS_STATE_FAILED) {
      if (pushwire_ws_output_size(c.ws) == 0 && (eof || c.failed || !c.close_seen)) break;
      if (!tcp_wait) {
        /* Drain our output, then let the server close TCP first (RFC 6455 §7.1.1), briefly. */
        tcp_wait = true;
        deadline = now + TCP_CLOSE_WAIT_MS;
      }
    } else if (c.open && !c.stdin_open && !c.close_sent) {
      rc = pushwire_ws_close(c.ws, 1000, NULL, 0);
      if (rc != 0) fprintf(stderr, "ws_client: close: %s\n", pushwire_strerror(rc));
      c.close_sent = true;
      deadline = now + (uint64_t)timeout_ms;
      continue;
    }
    bool bounded = !c.open || c.close_sent || tcp_wait;
    if (bounded && now >= deadline) {
      if (!c.close_seen) {
        fprintf(stderr, "ws_client: %s within %d ms\n", c.open ? "no close reply" : "no handshake response",
                timeout_ms);
        ok = false;
      }
      break;
    }
    if (c.open && !c.close_sent && !c.close_seen && now >= next_tick) {
      if (pushwire_ws_tick(c.ws, now, &next_tick) != 0 || !handle_events(&c)) {
        fprintf(stderr, "ws_client: keepalive: the server stopped answering\n");
        ok = false;
        break;
      }
      continue;
    }
    uint64_t wake = bounded ? deadline : next_tick;
    int wait = wake == UINT64_MAX ? -1 : wake <= now ? 0 : (int)(wake - now > 60000 ? 60000 : wake - now);
    bool want_stdin = c.open && c.stdin_open && pushwire_ws_output_size(c.ws) < OUTPUT_HIGH;
    struct pollfd p[2] = {{c.fd, 0, 0}, {STDIN_FILENO, POLLIN, 0}};
    if (!eof) p[0].events |= POLLIN;
    if (pushwire_ws_output_size(c.ws) > 0) p[0].events |= POLLOUT;
    if (poll(p, want_stdin ? 2 : 1, wait) < 0) {
      if (errno == EINTR) continue;
      perror("poll");
      ok = false;
      break;
    }
    if (!eof && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n > 0) {
        rc = pushwire_ws_feed(c.ws, buf, (size_t)n);
      } else {
        if (n < 0 && !c.close_seen) fprintf(stderr, "ws_client: read: %s\n", strerror(errno));
        eof = true;
        rc = pushwire_ws_feed_eof(c.ws);
      }
      if (rc != 0 && pushwire_error_is_fatal(rc)) {
        fprintf(stderr, "ws_client: %s\n", pushwire_strerror(rc));
        ok = false;
        break;
      }
      if (!handle_events(&c)) {
        ok = false;
        break;
      }
    }
    if (want_stdin && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (!read_stdin(&c)) c.stdin_open = false;
    }
  }

  bool clean = ok && c.close_seen && !c.failed &&
               (c.close_code == 1000 || c.close_code == 1001 || c.close_code == 1005);
  free(c.line);
  pushwire_ws_free(c.ws);
  close(c.fd);
  return clean ? 0 : 1;
}
