/*
 * ws_peer.c: a scriptable WebSocket client on the pushwire C ABI, for interop tests
 * against other servers (Python websockets, Node ws).
 *
 *   ws_peer [--timeout MS] ws://HOST:PORT/PATH
 *
 * Commands on stdin, one per line (HEX: payload bytes in hex, may be empty):
 *   text HEX | binary HEX          one whole message
 *   frag text|binary HEX 0|1       one fragment (the type counts on the first; 1 = fin)
 *   ping HEX | pong HEX
 *   close CODE HEX                 CODE 0: a close frame without code (HEX must be empty)
 * Output on stdout, one line per event, flushed at once:
 *   OPEN | REJECTED STATUS | TEXT HEX | BINARY HEX | PING HEX | PONG HEX
 *   CLOSE CODE HEX [FAILED] | ERR COMMAND NAME (a refused command) | EOF (the server
 *   closed TCP) | TIMEOUT
 * Exit: 0 after EOF, 1 on errors, 2 on bad usage, 3 on timeout (default 20 s overall).
 * Messages are buffered whole (pushwire's default 16 MiB limit applies).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pushwire/pushwire.h"

#define MAX_LINE (40u << 20)

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void put_hex(const char *tag, const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  fputs(tag, stdout);
  fputc(' ', stdout);
  for (size_t i = 0; i < n; i++) {
    fputc(digits[p[i] >> 4], stdout);
    fputc(digits[p[i] & 15], stdout);
  }
}

static int unhex(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decode hex in place; returns the byte count or -1. */
static long decode_hex(char *s) {
  size_t n = strlen(s);
  if (n % 2) return -1;
  uint8_t *o = (uint8_t *)s;
  for (size_t i = 0; i < n; i += 2) {
    int hi = unhex((unsigned char)s[i]), lo = unhex((unsigned char)s[i + 1]);
    if (hi < 0 || lo < 0) return -1;
    o[i / 2] = (uint8_t)(hi * 16 + lo);
  }
  return (long)(n / 2);
}

static int run_command(pushwire_ws *ws, char *line) {
  char *args[4] = {NULL, NULL, NULL, NULL};
  int na = 0;
  for (char *tok = strtok(line, " "); tok && na < 4; tok = strtok(NULL, " ")) args[na++] = tok;
  if (na == 0) return 0;
  char empty[1] = "";
  const char *cmd = args[0];
  int rc;
  if ((strcmp(cmd, "text") == 0 || strcmp(cmd, "binary") == 0 || strcmp(cmd, "ping") == 0 || strcmp(cmd, "pong") == 0)) {
    char *hex = na > 1 ? args[1] : empty;
    long n = decode_hex(hex);
    if (n < 0) return -1;
    const uint8_t *p = (const uint8_t *)hex;
    if (cmd[0] == 't')
      rc = pushwire_ws_send_text(ws, p, (size_t)n);
    else if (cmd[0] == 'b')
      rc = pushwire_ws_send_binary(ws, p, (size_t)n);
    else if (cmd[1] == 'i')
      rc = pushwire_ws_ping(ws, p, (size_t)n);
    else
      rc = pushwire_ws_pong(ws, p, (size_t)n);
  } else if (strcmp(cmd, "frag") == 0 && na >= 3) {
    char *hex = na > 3 ? args[2] : empty;
    const char *fin = na > 3 ? args[3] : args[2];
    long n = decode_hex(hex);
    if (n < 0) return -1;
    rc = pushwire_ws_send_fragment(ws, strcmp(args[1], "binary") == 0, (const uint8_t *)hex, (size_t)n, fin[0] == '1');
  } else if (strcmp(cmd, "close") == 0 && na >= 2) {
    char *hex = na > 2 ? args[2] : empty;
    long n = decode_hex(hex);
    if (n < 0) return -1;
    rc = pushwire_ws_close(ws, (uint16_t)atoi(args[1]), hex, (size_t)n);
  } else {
    return -1;
  }
  if (rc != 0) printf("ERR %s %s\n", cmd, pushwire_error_name(rc));
  return 0;
}

/* Commands wait for the handshake: sending before it is an error by design. */
static bool opened;

static int print_events(pushwire_ws *ws) {
  for (;;) {
    pushwire_ws_event ev;
    int rc = pushwire_ws_next_event(ws, &ev);
    if (rc <= 0) return rc;
    switch (ev.type) {
      case PUSHWIRE_WS_EV_ACCEPTED:
        opened = true;
        printf("OPEN");
        break;
      case PUSHWIRE_WS_EV_REJECTED: printf("REJECTED %u", ev.code); break;
      case PUSHWIRE_WS_EV_TEXT: put_hex("TEXT", ev.data.ptr, ev.data.len); break;
      case PUSHWIRE_WS_EV_BINARY: put_hex("BINARY", ev.data.ptr, ev.data.len); break;
      case PUSHWIRE_WS_EV_PING: put_hex("PING", ev.data.ptr, ev.data.len); break;
      case PUSHWIRE_WS_EV_PONG: put_hex("PONG", ev.data.ptr, ev.data.len); break;
      case PUSHWIRE_WS_EV_CLOSE: {
        char tag[16];
        snprintf(tag, sizeof tag, "CLOSE %u", ev.code);
        put_hex(tag, ev.data.ptr, ev.data.len);
        if (ev.flags & PUSHWIRE_WS_EVF_FAILED) printf(" FAILED");
        break;
      }
      default: printf("EVENT %u", ev.type); break;
    }
    printf("\n");
    fflush(stdout);
  }
}

static int flush_output(int fd, pushwire_ws *ws) {
  for (;;) {
    pushwire_span s;
    size_t n = pushwire_ws_peek_output(ws, &s);
    if (n == 0) return 0;
    ssize_t w = send(fd, s.ptr, n, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    pushwire_ws_consume_output(ws, (size_t)w);
  }
}

int main(int argc, char **argv) {
  uint64_t timeout = 20000;
  const char *url = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
      timeout = strtoull(argv[++i], NULL, 10);
    else
      url = argv[i];
  }
  char host[256], port[8] = "80";
  const char *path = "/";
  if (!url || strncmp(url, "ws://", 5) != 0) {
    fprintf(stderr, "usage: ws_peer [--timeout MS] ws://HOST:PORT/PATH\n");
    return 2;
  }
  const char *h = url + 5, *slash = strchr(h, '/'), *end = slash ? slash : h + strlen(h);
  if (slash) path = slash;
  const char *colon = memchr(h, ':', (size_t)(end - h));
  size_t hl = (size_t)((colon ? colon : end) - h);
  if (hl == 0 || hl >= sizeof host) return 2;
  memcpy(host, h, hl);
  host[hl] = 0;
  if (colon) snprintf(port, sizeof port, "%.*s", (int)(end - colon - 1), colon + 1);

  struct addrinfo hints, *res;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &res) != 0) return 1;
  int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    perror("ws_peer: connect");
    return 1;
  }
  freeaddrinfo(res);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

  pushwire_ws *ws;
  if (pushwire_ws_new(&ws, PUSHWIRE_WS_CLIENT, NULL) != 0) return 1;
  char host_header[300];
  snprintf(host_header, sizeof host_header, "%s:%s", host, port);
  if (pushwire_ws_client_start(ws, host_header, strlen(host_header), path, strlen(path)) != 0) return 1;

  char *line = malloc(MAX_LINE + 1);
  uint8_t *buf = malloc(1u << 16);
  if (!line || !buf) return 1;
  size_t line_len = 0;
  bool stdin_open = true;
  uint64_t deadline = now_ms() + timeout;
  int status = 1;
  for (;;) {
    if (flush_output(fd, ws) != 0) break;
    uint64_t now = now_ms();
    if (now >= deadline) {
      printf("TIMEOUT\n");
      status = 3;
      break;
    }
    pushwire_span pending;
    struct pollfd pfd[2] = {{fd, (short)(POLLIN | (pushwire_ws_peek_output(ws, &pending) ? POLLOUT : 0)), 0},
                            {0, POLLIN, 0}};
    int n = poll(pfd, stdin_open && opened ? 2 : 1, (int)(deadline - now));
    if (n < 0 && errno != EINTR) break;
    if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = recv(fd, buf, 1u << 16, 0);
      if (r > 0) {
        pushwire_ws_feed(ws, buf, (size_t)r);
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        pushwire_ws_feed_eof(ws);
        print_events(ws);
        printf("EOF\n");
        status = 0;
        break;
      }
    }
    if (stdin_open && opened && (pfd[1].revents & (POLLIN | POLLHUP))) {
      ssize_t r = read(0, line + line_len, MAX_LINE - line_len);
      if (r <= 0) {
        stdin_open = false;
      } else {
        line_len += (size_t)r;
        char *start = line, *nl;
        while ((nl = memchr(start, '\n', line_len - (size_t)(start - line))) != NULL) {
          *nl = 0;
          if (run_command(ws, start) != 0) {
            fprintf(stderr, "ws_peer: bad command\n");
            return 2;
          }
          start = nl + 1;
        }
        line_len -= (size_t)(start - line);
        memmove(line, start, line_len);
        if (line_len == MAX_LINE) return 2;
      }
    }
    print_events(ws);
    fflush(stdout);
  }
  fflush(stdout);
  pushwire_ws_free(ws);
  close(fd);
  free(line);
  free(buf);
  return status;
}
