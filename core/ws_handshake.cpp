#include "ws_handshake.hpp"

#include "base64.hpp"
#include "sha1.hpp"

namespace pushwire {

namespace {

const char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const char kDeflate[] = "permessage-deflate";
const char kDeflateOffer[] = "permessage-deflate; client_max_window_bits";

// A string literal as a span, without strlen.
template <size_t N>
span lit(const char (&s)[N]) {
  return make_span(s, N - 1);
}

// Byte for byte; the literal's length a constant, so the compare is a few word loads.
template <size_t N>
bool is_exactly(span s, const char (&lit)[N]) {
  return s.len == N - 1 && std::memcmp(s.ptr, lit, N - 1) == 0;
}

bool starts_with_ci(span s, const char *prefix) {
  size_t n = std::strlen(prefix);
  return s.len >= n && equals_ci(span{s.ptr, n}, make_span(prefix, n));
}

bool is_alpha(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

// %x21-7E only: what a request target and a Host value may hold here.
bool is_visible(span s) {
  for (size_t i = 0; i < s.len; ++i)
    if (s.ptr[i] <= 0x20 || s.ptr[i] >= 0x7f) return false;
  return true;
}

// One or more dot-separated labels of letters, digits and '-'.
bool is_dns_name(span s) {
  if (s.len == 0) return false;
  bool label_empty = true;
  for (size_t i = 0; i < s.len; ++i) {
    uint8_t c = s.ptr[i];
    if (c == '.') {
      if (label_empty) return false;
      label_empty = true;
    } else if (is_alpha(c) || is_digit(c) || c == '-') {
      label_empty = false;
    } else {
      return false;
    }
  }
  return !label_empty;
}

// Offset just past "://" that ends a valid scheme, or 0.
size_t scheme_end(span s) {
  if (s.len == 0 || !is_alpha(s.ptr[0])) return 0;
  size_t i = 1;
  while (i < s.len && (is_alpha(s.ptr[i]) || is_digit(s.ptr[i]) || s.ptr[i] == '+' || s.ptr[i] == '-' ||
                       s.ptr[i] == '.'))
    ++i;
  if (s.len - i < 3 || std::memcmp(s.ptr + i, "://", 3) != 0) return 0;
  return i + 3;
}

// Appends that cannot fail after one reservation, so `out` is all or nothing.
struct Writer {
  Buffer &out;
  void put(span s) { out.append(s); }
  void put(const char *s) { out.append_str(s); }
  void put_uint(unsigned v) {
    char tmp[20];
    size_t n = 0;
    do tmp[n++] = char('0' + v % 10);
    while ((v /= 10) != 0);
    while (n) out.append(&tmp[--n], 1);
  }
};

size_t uint_digits(size_t v) {
  size_t n = 1;
  while (v >= 10) v /= 10, ++n;
  return n;
}

// The fields named `name`, as one list of elements, in order; one pass over the head.
struct ListWalker {
  const HttpHead &head;
  span name;
  size_t field = 0;
  span rest{nullptr, 0};
  bool next(span *el) {
    for (;;) {
      if (next_list_element(&rest, el)) return true;
      for (;;) {
        if (field == head.field_count()) return false;
        HttpField f = head.field(field++);
        if (equals_ci(f.name, name)) {
          rest = f.value;
          break;
        }
      }
    }
  }
};

// The request fields the handshake looks at, told apart by one switch on the length
// (no two share one) and one compare.
enum class ReqField : uint8_t { Other, Host, Upgrade, Connection, Version, Key, Protocol, Extensions, Origin };

uint64_t load_le64(const uint8_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t load_le32(const uint8_t *p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
// Little-endian words of a literal, built at compile time.
constexpr uint64_t lit_le(const char *s, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(uint8_t(s[at + i])) << (8 * i);
  return v;
}

// Whether `p` (N - 1 bytes) spells the lowercase literal `low` in any case, with at most
// three word loads instead of a byte loop. ORing 0x20 into every byte folds A-Z onto a-z;
// of the other bytes it only moves CR (0x0D) onto '-', and a field name is a token, which
// holds no CR, so for names (and, for literals of letters only, for any bytes) the compare
// is exact.
template <size_t N>
PUSHWIRE_INLINE bool is_lit_ci(const uint8_t *p, const char (&low)[N]) {
  constexpr size_t n = N - 1;
  static_assert(n >= 4 && n <= 24, "one to three words");
  if constexpr (n < 8) {
    constexpr uint32_t kFold = 0x20202020u;
    return (((load_le32(p) | kFold) ^ uint32_t(lit_le(low, 0, 4))) |
            ((load_le32(p + n - 4) | kFold) ^ uint32_t(lit_le(low, n - 4, 4)))) == 0;
  } else {
    constexpr uint64_t kFold = 0x2020202020202020ull;
    uint64_t diff =
        ((load_le64(p) | kFold) ^ lit_le(low, 0, 8)) | ((load_le64(p + n - 8) | kFold) ^ lit_le(low, n - 8, 8));
    if constexpr (n > 16) diff |= (load_le64(p + 8) | kFold) ^ lit_le(low, 8, 8);
    return diff == 0;
  }
}

PUSHWIRE_INLINE ReqField classify_field(span name) {
  const uint8_t *p = name.ptr;
  switch (name.len) {
    case 4: return is_lit_ci(p, "host") ? ReqField::Host : ReqField::Other;
    case 6: return is_lit_ci(p, "origin") ? ReqField::Origin : ReqField::Other;
    case 7: return is_lit_ci(p, "upgrade") ? ReqField::Upgrade : ReqField::Other;
    case 10: return is_lit_ci(p, "connection") ? ReqField::Connection : ReqField::Other;
    case 17: return is_lit_ci(p, "sec-websocket-key") ? ReqField::Key : ReqField::Other;
    case 21: return is_lit_ci(p, "sec-websocket-version") ? ReqField::Version : ReqField::Other;
    case 22: return is_lit_ci(p, "sec-websocket-protocol") ? ReqField::Protocol : ReqField::Other;
    case 24: return is_lit_ci(p, "sec-websocket-extensions") ? ReqField::Extensions : ReqField::Other;
    default: return ReqField::Other;
  }
}

// list_contains_ci for a lowercase literal of letters (exact for any bytes, see is_lit_ci),
// with the usual values decided without walking the list: the literal alone, or last
// behind a comma and OWS ("keep-alive, Upgrade"). With no quote before that comma it
// separates elements, so the last element is the literal.
template <size_t N>
bool list_has_letters_ci(span list, const char (&low)[N]) {
  constexpr size_t n = N - 1;
  if (list.len == n && is_lit_ci(list.ptr, low)) return true;
  if (list.len > n && is_lit_ci(list.ptr + list.len - n, low)) {
    size_t i = list.len - n;
    while (i > 0 && (list.ptr[i - 1] == ' ' || list.ptr[i - 1] == '\t')) --i;
    if (i > 0 && list.ptr[i - 1] == ',' && !std::memchr(list.ptr, '"', i)) return true;
  }
  span el;
  while (next_list_element(&list, &el))
    if (el.len == N - 1 && is_lit_ci(el.ptr, low)) return true;
  return false;
}

}  // namespace

span ws_request_key(const HttpHead &req) {
  for (size_t i = 0, n = req.field_count(); i < n; ++i) {
    HttpField f = req.field(i);
    if (classify_field(f.name) == ReqField::Key) return f.value;
  }
  return span{nullptr, 0};
}

void ws_accept_key(span key, char out[WS_ACCEPT_SIZE]) {
  static_assert(SHA1_DIGEST_SIZE == 20 && WS_ACCEPT_SIZE == 28, "base64_encode20");
  uint8_t digest[SHA1_DIGEST_SIZE + 8] = {0};  // the zeros base64_encode20 loads
  if (key.len == WS_KEY_SIZE) {
    // A valid key and the GUID are 60 bytes, so the message and its padding (0x80, zeros,
    // the length in bits, 480, big endian) are exactly two blocks, laid out here once
    // rather than streamed through Sha1.
    uint8_t m[128] = {0};
    std::memcpy(m, key.ptr, WS_KEY_SIZE);
    std::memcpy(m + WS_KEY_SIZE, kGuid, sizeof kGuid - 1);
    static_assert(WS_KEY_SIZE + sizeof kGuid - 1 == 60, "two blocks");
    m[60] = 0x80;
    m[126] = 480 >> 8;
    m[127] = 480 & 0xff;
    uint32_t h[5];
    sha1_init(h);
    sha1_blocks(h, m, 2);
    sha1_digest(h, digest);
    base64_encode20(digest, out);
    return;
  }
  Sha1 h;
  h.update(key.ptr, key.len);
  h.update(kGuid, sizeof kGuid - 1);
  h.finish(digest);
  base64_encode20(digest, out);
}

int ws_check_request(const HttpHead &req, const StringList &origins, bool require_origin, int *status,
                     const char **reason, span *key_out) {
  if (req.kind() != HttpHead::Kind::Request || !req.complete()) {
    *status = 0;
    *reason = "request head is not complete";
    return ERR_INVALID_ARGUMENT;
  }
  // One pass over the fields gathers everything; the checks below then run in the
  // documented order, so the first failure in that order is the one reported.
  size_t hosts = 0, versions = 0, keys = 0, origin_count = 0;
  span host{nullptr, 0}, version{nullptr, 0}, key{nullptr, 0}, origin{nullptr, 0};
  bool upgrade = false, connection = false, protocols_ok = true, extensions_ok = true;
  const HttpField *const fields = req.borrowed_fields();
  const size_t n = req.field_count();
  for (size_t i = 0; i < n; ++i) {
    const HttpField f = fields ? fields[i] : req.field(i);
    switch (classify_field(f.name)) {
      case ReqField::Host:
        ++hosts;
        host = f.value;
        break;
      case ReqField::Upgrade: upgrade = upgrade || list_has_letters_ci(f.value, "websocket"); break;
      case ReqField::Connection: connection = connection || list_has_letters_ci(f.value, "upgrade"); break;
      case ReqField::Version:
        ++versions;
        version = f.value;
        break;
      case ReqField::Key:
        ++keys;
        key = f.value;
        break;
      case ReqField::Protocol: {
        span rest = f.value, el;
        while (next_list_element(&rest, &el)) protocols_ok = protocols_ok && is_token(el);
        break;
      }
      case ReqField::Extensions: extensions_ok = extensions_ok && ws_extension_list_valid(f.value); break;
      case ReqField::Origin:
        ++origin_count;
        origin = f.value;
        break;
      case ReqField::Other: break;
    }
  }
  span m = req.method();
  const char *why = nullptr;
  int code = ERR_BAD_HANDSHAKE;
  *status = 400;
  if (m.len != 3 || std::memcmp(m.ptr, "GET", 3) != 0) {
    why = "method is not GET";
  } else if (req.minor_version() != 1) {
    why = "not HTTP/1.1";
  } else if (hosts != 1) {
    why = hosts ? "more than one Host field" : "Host field missing";
  } else if (host.len == 0) {
    why = "empty Host field";
  } else if (!upgrade) {
    why = "Upgrade does not list websocket";
  } else if (!connection) {
    why = "Connection does not list upgrade";
  } else if (versions != 1 || version.len != 2 || std::memcmp(version.ptr, "13", 2) != 0) {
    *status = 426;
    code = ERR_BAD_VERSION;
    why = "Sec-WebSocket-Version is not 13";
  } else if (keys != 1) {
    why = keys ? "more than one Sec-WebSocket-Key field" : "Sec-WebSocket-Key missing";
  } else if (key.len != WS_KEY_SIZE || !base64_is_canonical(key.ptr, key.len, 16)) {
    why = "Sec-WebSocket-Key is not base64 of 16 bytes";
  } else if (!protocols_ok) {
    why = "malformed Sec-WebSocket-Protocol";
  } else if (!extensions_ok) {
    why = "malformed Sec-WebSocket-Extensions";
  } else if (origins.count() > 0) {
    if (origin_count > 1) why = "more than one Origin field";
    else if (origin_count == 0 && require_origin) why = "Origin missing";
    else if (origin_count == 1 && !ws_origin_allowed(origins, origin)) why = "Origin not allowed";
    if (why) {
      *status = 403;
      code = ERR_ORIGIN_REJECTED;
    }
  }
  if (why) {
    *reason = why;
    return code;
  }
  *status = 101;
  *reason = "";
  if (key_out) *key_out = key;
  return 0;
}

bool ws_origin_allowed(const StringList &origins, span origin) {
  size_t pos = 0;
  span e;
  while (origins.next(&pos, &e)) {
    size_t se = scheme_end(e);
    bool wildcard = se && e.len > se + 1 && e.ptr[se] == '*' && e.ptr[se + 1] == '.';
    if (!wildcard) {
      if (equals_ci(e, origin)) return true;
      continue;
    }
    // "https://*.example.com:8443": same scheme, then labels, then ".example.com:8443".
    span suffix{e.ptr + se + 1, e.len - se - 1};
    if (origin.len <= se + suffix.len) continue;
    if (!equals_ci(span{origin.ptr, se}, span{e.ptr, se})) continue;
    if (!equals_ci(span{origin.ptr + origin.len - suffix.len, suffix.len}, suffix)) continue;
    if (is_dns_name(span{origin.ptr + se, origin.len - se - suffix.len})) return true;
  }
  return false;
}

bool ws_origin_pattern_valid(span p) {
  size_t se = scheme_end(p);
  if (!se) return false;
  span rest{p.ptr + se, p.len - se};
  bool wildcard = rest.len >= 2 && rest.ptr[0] == '*' && rest.ptr[1] == '.';
  if (wildcard) rest = span{rest.ptr + 2, rest.len - 2};
  size_t host_len = 0;
  if (!wildcard && rest.len && rest.ptr[0] == '[') {
    while (host_len < rest.len && rest.ptr[host_len] != ']') {
      uint8_t c = rest.ptr[host_len];
      if (host_len && !(is_digit(c) || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'f') || c == ':' || c == '.'))
        return false;
      ++host_len;
    }
    if (host_len == rest.len || host_len < 3) return false;
    ++host_len;  // ']'
  } else {
    while (host_len < rest.len && rest.ptr[host_len] != ':') ++host_len;
    if (!is_dns_name(span{rest.ptr, host_len})) return false;
  }
  if (host_len == rest.len) return true;
  if (rest.ptr[host_len] != ':') return false;
  size_t digits = rest.len - host_len - 1;
  if (digits < 1 || digits > 5) return false;
  for (size_t i = host_len + 1; i < rest.len; ++i)
    if (!is_digit(rest.ptr[i])) return false;
  return true;
}

bool ws_request_subprotocol(const HttpHead &req, size_t index, span *name) {
  ListWalker w{req, lit("Sec-WebSocket-Protocol")};
  span el;
  while (w.next(&el))
    if (index-- == 0) {
      *name = el;
      return true;
    }
  return false;
}

bool ws_request_extension(const HttpHead &req, size_t index, span *name, span *params) {
  ListWalker w{req, lit("Sec-WebSocket-Extensions")};
  span el;
  while (w.next(&el)) {
    if (index-- != 0) continue;
    size_t semi = 0;
    while (semi < el.len && el.ptr[semi] != ';') ++semi;
    *name = trim_ows(span{el.ptr, semi});
    *params = semi < el.len ? trim_ows(span{el.ptr + semi + 1, el.len - semi - 1}) : span{el.ptr + el.len, 0};
    return true;
  }
  return false;
}

bool ws_request_offers_subprotocol(const HttpHead &req, span name) {
  ListWalker w{req, lit("Sec-WebSocket-Protocol")};
  span el;
  while (w.next(&el))
    if (el.len == name.len && std::memcmp(el.ptr, name.ptr, name.len) == 0) return true;
  return false;
}

bool ws_choose_subprotocol(const HttpHead &req, const StringList &prefs, span *chosen) {
  size_t pos = 0;
  span p;
  while (prefs.next(&pos, &p))
    if (p.len && ws_request_offers_subprotocol(req, p)) {
      *chosen = p;
      return true;
    }
  return false;
}

bool ws_extension_list_valid(span value) {
  // What browsers offer, each an exact valid value: settled with a few word compares
  // instead of the byte-by-byte machine below.
  if (is_exactly(value, kDeflateOffer) || is_exactly(value, kDeflate)) return true;
  // One state per grammar position; every byte is looked at once, nothing backtracks.
  enum { ELEMENT, NAME, AFTER_NAME, PARAM_START, PARAM, AFTER_PARAM, VALUE_START, TOKEN_VALUE, QUOTED, QUOTED_ESC,
         AFTER_VALUE };
  int st = ELEMENT;
  bool any = false;
  for (size_t i = 0; i < value.len; ++i) {
    uint8_t c = value.ptr[i];
    bool ows = c == ' ' || c == '\t';
    bool tchar = is_token_char(c);
    switch (st) {
      case ELEMENT:
        if (tchar) st = NAME, any = true;
        else if (!ows && c != ',') return false;
        break;
      case NAME:
      case PARAM:
      case TOKEN_VALUE:
        if (tchar) {
          // Tokens are most of a value: take the rest of the run without the switch.
          while (i + 1 < value.len && is_token_char(value.ptr[i + 1])) ++i;
          break;
        }
        if (ows) st = st == NAME ? AFTER_NAME : st == PARAM ? AFTER_PARAM : AFTER_VALUE;
        else if (c == ';') st = PARAM_START;
        else if (c == ',') st = ELEMENT;
        else if (c == '=' && st == PARAM) st = VALUE_START;
        else return false;
        break;
      case AFTER_NAME:
      case AFTER_PARAM:
      case AFTER_VALUE:
        if (ows) break;
        if (c == ';') st = PARAM_START;
        else if (c == ',') st = ELEMENT;
        else if (c == '=' && st == AFTER_PARAM) st = VALUE_START;
        else return false;
        break;
      case PARAM_START:
        if (tchar) st = PARAM;
        else if (!ows) return false;
        break;
      case VALUE_START:
        if (tchar) st = TOKEN_VALUE;
        else if (c == '"') st = QUOTED;
        else if (!ows) return false;
        break;
      case QUOTED:
      case QUOTED_ESC:
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
        if (st == QUOTED_ESC) st = QUOTED;
        else if (c == '\\') st = QUOTED_ESC;
        else if (c == '"') st = AFTER_VALUE;
        break;
    }
  }
  return any && st != PARAM_START && st != VALUE_START && st != QUOTED && st != QUOTED_ESC;
}

int ws_add_extra_header(Buffer &headers, span name, span value) {
  if (!is_token(name) || starts_with_ci(name, "sec-websocket-") || equals_ci(name, "Upgrade") ||
      equals_ci(name, "Connection") || equals_ci(name, "Host") || equals_ci(name, "Content-Length") ||
      equals_ci(name, "Transfer-Encoding"))
    return ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < value.len; ++i)
    if ((value.ptr[i] < 0x20 && value.ptr[i] != '\t') || value.ptr[i] == 0x7f) return ERR_INVALID_ARGUMENT;
  if (headers.reserve_extra(name.len + value.len + 4)) return ERR_NOMEM;
  Writer w{headers};
  w.put(name);
  w.put(": ");
  w.put(value);
  w.put("\r\n");
  return 0;
}

namespace {

// The status line, Upgrade, Connection and the accept line with its CRLF: what every 101
// begins with. Returns the end.
constexpr char kAcceptStart[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
constexpr size_t kAcceptStartLen = sizeof kAcceptStart - 1;
constexpr size_t kAcceptLinesLen = kAcceptStartLen + WS_ACCEPT_SIZE + 2;
static_assert(kAcceptLinesLen + 2 == WS_PLAIN_ACCEPT_SIZE, "the plain 101 is the lines and an empty line");

uint8_t *write_accept_lines(uint8_t *d, span key) {
  std::memcpy(d, kAcceptStart, kAcceptStartLen);
  d += kAcceptStartLen;
  ws_accept_key(key, reinterpret_cast<char *>(d));
  d += WS_ACCEPT_SIZE;
  std::memcpy(d, "\r\n", 2);
  return d + 2;
}

}  // namespace

void ws_write_plain_accept(span key, uint8_t out[WS_PLAIN_ACCEPT_SIZE]) {
  std::memcpy(write_accept_lines(out, key), "\r\n", 2);
}

int ws_write_accept(Buffer &out, span key, span subprotocol, span extra) {
  // The usual answer is a template with the accept key filled in: one reservation and
  // one copy, the key written in place.
  static constexpr char kProto[] = "Sec-WebSocket-Protocol: ";
  size_t total = kAcceptLinesLen + extra.len + 2;
  if (subprotocol.len) total += sizeof kProto - 1 + subprotocol.len + 2;
  uint8_t *d = out.extend(total);
  if (!d) return ERR_NOMEM;
  d = write_accept_lines(d, key);
  auto put = [&d](const void *p, size_t n) {
    if (n) std::memcpy(d, p, n);  // `extra` may be empty with a null pointer
    d += n;
  };
  if (subprotocol.len) {
    put(kProto, sizeof kProto - 1);
    put(subprotocol.ptr, subprotocol.len);
    put("\r\n", 2);
  }
  put(extra.ptr, extra.len);
  put("\r\n", 2);
  return 0;
}

const char *http_reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 511: return "Network Authentication Required";
    default: return "";
  }
}

int ws_write_reject(Buffer &out, int status, span body, span extra) {
  if (status < 200 || status > 599 || status == 204 || status == 205 || status == 304) return ERR_INVALID_ARGUMENT;
  const char *phrase = http_reason_phrase(status);
  static constexpr char kHeaders[] =
      "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  static constexpr char kVersionLine[] = "Sec-WebSocket-Version: 13\r\n";
  size_t total = 13 + std::strlen(phrase) + sizeof kHeaders - 1 + uint_digits(body.len) + 2 + extra.len + 2 + body.len;
  if (status == 426) total += sizeof kVersionLine - 1;
  if (out.reserve_extra(total)) return ERR_NOMEM;
  Writer w{out};
  w.put("HTTP/1.1 ");
  w.put_uint(unsigned(status));
  w.put(" ");
  w.put(phrase);
  w.put(kHeaders);
  w.put_uint(unsigned(body.len));
  w.put("\r\n");
  if (status == 426) w.put(kVersionLine);
  w.put(extra);
  w.put("\r\n");
  w.put(body);
  return 0;
}

int ws_write_client_request(Buffer &out, span host, span target, span key, const StringList &protocols, span extra) {
  if (host.len == 0 || !is_visible(host) || target.len == 0 || target.ptr[0] != '/' || !is_visible(target) ||
      key.len != WS_KEY_SIZE)
    return ERR_INVALID_ARGUMENT;
  size_t total = 4 + target.len + 17 + host.len + 2 +
                 std::strlen("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ") + key.len +
                 std::strlen("\r\nSec-WebSocket-Version: 13\r\n") + extra.len + 2;
  if (protocols.count()) {
    size_t pos = 0;
    span p;
    total += std::strlen("Sec-WebSocket-Protocol: ") + 2;
    while (protocols.next(&pos, &p)) {
      if (!is_token(p)) return ERR_INVALID_ARGUMENT;
      total += p.len + 2;
    }
  }
  if (out.reserve_extra(total)) return ERR_NOMEM;
  Writer w{out};
  w.put("GET ");
  w.put(target);
  w.put(" HTTP/1.1\r\nHost: ");
  w.put(host);
  w.put("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
  w.put(key);
  w.put("\r\nSec-WebSocket-Version: 13\r\n");
  if (protocols.count()) {
    w.put("Sec-WebSocket-Protocol: ");
    size_t pos = 0;
    span p;
    for (bool first = true; protocols.next(&pos, &p); first = false) {
      if (!first) w.put(", ");
      w.put(p);
    }
    w.put("\r\n");
  }
  w.put(extra);
  w.put("\r\n");
  return 0;
}

int ws_check_response(const HttpHead &resp, span key, const StringList &protocols, span *chosen, int *status,
                      const char **reason) {
  *chosen = span{nullptr, 0};
  if (resp.kind() != HttpHead::Kind::Response || !resp.complete()) {
    *status = 0;
    *reason = "response head is not complete";
    return ERR_INVALID_ARGUMENT;
  }
  *status = resp.status();
  const char *why = nullptr;
  span v;
  if (resp.status() != 101) {
    *reason = "the server did not answer 101";
    return ERR_HANDSHAKE_REJECTED;
  }
  char accept[WS_ACCEPT_SIZE];
  ws_accept_key(key, accept);
  if (resp.minor_version() != 1) {
    why = "101 response is not HTTP/1.1";
  } else if (!resp.has_token("Upgrade", "websocket")) {
    why = "Upgrade does not list websocket";
  } else if (!resp.has_token("Connection", "upgrade")) {
    why = "Connection does not list upgrade";
  } else if (resp.count("Sec-WebSocket-Accept") != 1) {
    why = resp.count("Sec-WebSocket-Accept") ? "more than one Sec-WebSocket-Accept field"
                                             : "Sec-WebSocket-Accept missing";
  } else if (!resp.find("Sec-WebSocket-Accept", 0, &v) || v.len != WS_ACCEPT_SIZE ||
             std::memcmp(v.ptr, accept, WS_ACCEPT_SIZE) != 0) {
    why = "wrong Sec-WebSocket-Accept";
  } else if (resp.count("Sec-WebSocket-Extensions")) {
    why = "the server accepted an extension that was not offered";
  } else if (resp.count("Sec-WebSocket-Protocol") > 1) {
    why = "more than one Sec-WebSocket-Protocol field";
  } else if (resp.find("Sec-WebSocket-Protocol", 0, &v)) {
    if (!is_token(v)) why = "Sec-WebSocket-Protocol must hold one subprotocol";
    else if (!protocols.contains(v)) why = "the server chose a subprotocol that was not offered";
    else *chosen = v;
  }
  if (why) {
    *chosen = span{nullptr, 0};
    *reason = why;
    return ERR_BAD_HANDSHAKE;
  }
  *reason = "";
  return 0;
}

}  // namespace pushwire
