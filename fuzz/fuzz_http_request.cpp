// The HTTP request-head parser on its own (pushwire_http_request_*).
//
// Input: byte 0 picks the limits and the largest chunk (bits 0-1 max head size: default,
// 64, 256, 1024; bits 2-3 max headers: default, 1, 4, 16; bits 4-7 chunk size 1..16),
// the rest is the request, fed whole, in chunks, and byte by byte.
// Oracles: documented codes only; sticky errors with the matching status hint; the same
// outcome, head length and parsed fields whatever the split; complete heads end in an
// empty line and stay within the limits; field names are tokens, values are trimmed and
// free of control bytes; header() and has_token() agree with header_at(); reset() parses
// the same bytes the same way again; no leaks.
#include "fuzz_common.hpp"

using namespace fuzz;

namespace {

bool tchar(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}
bool is_token(const std::string &s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!c || !tchar(c)) return false;
  return true;
}
bool ieq(const std::string &a, const std::string &b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(uint8_t(a[i])) != std::tolower(uint8_t(b[i]))) return false;
  return true;
}

struct Outcome {
  int rc = 0;          // last feed result: 0, 1 or the sticky error
  size_t head_len = 0; // bytes consumed in all
  std::vector<std::string> parsed;
  bool operator==(const Outcome &o) const { return rc == o.rc && head_len == o.head_len && parsed == o.parsed; }
};

// Everything the accessors say about a complete head, checked along the way.
std::vector<std::string> inspect(pushwire_http_request *req, size_t max_headers) {
  std::vector<std::string> out;
  pushwire_span sp;
  check_rc("http_request_method", pushwire_http_request_method(req, &sp), {0});
  std::string method = span_str(sp, "method");
  FUZZ_CHECK(is_token(method), "method %s is not a token", quote(method).c_str());
  check_rc("http_request_target", pushwire_http_request_target(req, &sp), {0});
  std::string target = span_str(sp, "target");
  FUZZ_CHECK(!target.empty(), "empty target");
  for (unsigned char c : target) FUZZ_CHECK(c > 0x20 && c != 0x7f, "target byte %02x", c);
  int minor = check_rc("http_request_minor_version", pushwire_http_request_minor_version(req), {0, 1});
  out.push_back(method + " " + quote(target) + " 1." + std::to_string(minor));
  int count = pushwire_http_request_header_count(req);
  FUZZ_CHECK(count >= 0 && size_t(count) <= max_headers, "header_count %d (limit %zu)", count, max_headers);
  std::vector<std::pair<std::string, std::string>> fields;
  for (size_t i = 0;; ++i) {
    pushwire_span n, v;
    int rc = check_rc("http_request_header_at", pushwire_http_request_header_at(req, i, &n, &v), {0, 1});
    if (!rc) {
      FUZZ_CHECK(i == size_t(count), "header_at ends at %zu, header_count %d", i, count);
      break;
    }
    std::string name = span_str(n, "name"), value = span_str(v, "value");
    FUZZ_CHECK(is_token(name), "field name %s is not a token", quote(name).c_str());
    if (!value.empty()) {
      for (char e : {value.front(), value.back()}) FUZZ_CHECK(e != ' ' && e != '\t', "value not trimmed");
    }
    for (unsigned char c : value) FUZZ_CHECK(c >= 0x20 ? c != 0x7f : c == '\t', "value byte %02x", c);
    out.push_back(quote(name) + ": " + quote(value));
    fields.emplace_back(name, value);
  }
  // header(name, k) is the k-th field of that name; has_token finds each plain element.
  for (size_t i = 0; i < fields.size(); ++i) {
    size_t k = 0;
    for (size_t j = 0; j < i; ++j) k += ieq(fields[j].first, fields[i].first);
    pushwire_span v;
    std::string upper = fields[i].first;
    for (char &c : upper) c = char(std::toupper(uint8_t(c)));
    int rc = check_rc("http_request_header", pushwire_http_request_header(req, upper.data(), upper.size(), k, &v), {1});
    FUZZ_CHECK(rc == 1 && span_str(v, "value") == fields[i].second, "header(%s, %zu) is not field %zu",
               upper.c_str(), k, i);
    const std::string &val = fields[i].second;
    if (val.find('"') != std::string::npos) continue;
    for (size_t at = 0; at <= val.size();) {
      size_t comma = val.find(',', at);
      if (comma == std::string::npos) comma = val.size();
      std::string el = val.substr(at, comma - at);
      while (!el.empty() && (el.front() == ' ' || el.front() == '\t')) el.erase(0, 1);
      while (!el.empty() && (el.back() == ' ' || el.back() == '\t')) el.pop_back();
      if (!el.empty())
        FUZZ_CHECK(check_rc("http_request_has_token",
                            pushwire_http_request_has_token(req, upper.data(), upper.size(), el.data(), el.size()),
                            {0, 1}) == 1,
                   "has_token(%s, %s) is 0", upper.c_str(), quote(el).c_str());
      at = comma + 1;
    }
  }
  pushwire_span v;
  check_rc("http_request_header", pushwire_http_request_header(req, "x", 1, fields.size(), &v), {0});
  return out;
}

Outcome parse(pushwire_http_request *req, const std::string &text, size_t step, size_t max_head,
              size_t max_headers) {
  Outcome o;
  const uint8_t *p = reinterpret_cast<const uint8_t *>(text.data());
  size_t pos = 0;
  for (;;) {
    size_t n = text.size() - pos < step ? text.size() - pos : step;
    size_t consumed = 12345;
    int rc = check_rc("http_request_feed", pushwire_http_request_feed(req, p + pos, n, &consumed), {CODES_HTTP_FEED});
    FUZZ_CHECK(consumed <= n, "consumed %zu of %zu", consumed, n);
    o.rc = rc;
    o.head_len += consumed;
    int hint = pushwire_http_request_status_hint(req);
    int want = rc == PW(BAD_HTTP) ? 400 : rc == PW(HEAD_TOO_LARGE) ? 431 : 0;
    FUZZ_CHECK(hint == want, "status_hint %d after %s", hint, pushwire_error_name(rc));
    if (rc < 0) {
      o.head_len = 0;  // how much of the bad head was taken is not specified
      FUZZ_CHECK(pushwire_http_request_feed(req, p, text.size(), &consumed) == rc && consumed == 0, "error not sticky");
      pushwire_span sp;
      check_rc("http_request_method", pushwire_http_request_method(req, &sp), {PW(INVALID_STATE)});
      return o;
    }
    if (rc == 1) {
      FUZZ_CHECK(pushwire_http_request_feed(req, p, text.size(), &consumed) == 1 && consumed == 0,
                 "feed after completion did not return 1 with nothing consumed");
      FUZZ_CHECK(o.head_len <= max_head, "head of %zu bytes accepted, limit %zu", o.head_len, max_head);
      FUZZ_CHECK(o.head_len >= 4 && text.compare(o.head_len - 4, 4, "\r\n\r\n") == 0, "head does not end in CRLF CRLF");
      o.parsed = inspect(req, max_headers);
      return o;
    }
    FUZZ_CHECK(consumed == n, "incomplete head but only %zu of %zu bytes consumed", consumed, n);
    pushwire_span sp;
    check_rc("http_request_target", pushwire_http_request_target(req, &sp), {PW(INVALID_STATE)});
    check_rc("http_request_header_count", pushwire_http_request_header_count(req), {PW(INVALID_STATE)});
    pos += n;
    if (pos == text.size()) return o;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Input in(data, size);
  uint8_t cfg = in.u8();
  static const size_t heads[] = {16384, 64, 256, 1024}, counts[] = {64, 1, 4, 16};
  size_t max_head = heads[cfg & 3], max_headers = counts[(cfg >> 2) & 3], step = 1 + (cfg >> 4);
  std::string text = in.rest();

  CountingAlloc alloc;
  Outcome first;
  for (size_t s : {text.size() + 1, step, size_t(1)}) {
    pushwire_http_request *req = nullptr;
    check_rc("http_request_new", pushwire_http_request_new(&req, alloc.get()), {0});
    if (cfg & 3) check_rc("http_request_set_option", pushwire_http_request_set_option(req, PUSHWIRE_HTTP_OPT_MAX_HEAD_SIZE, max_head), {0});
    if (cfg & 12) check_rc("http_request_set_option", pushwire_http_request_set_option(req, PUSHWIRE_HTTP_OPT_MAX_HEADERS, max_headers), {0});
    Outcome o = parse(req, text, s, max_head, max_headers);
    if (s == text.size() + 1) {
      first = o;
      check_rc("http_request_set_option", pushwire_http_request_set_option(req, PUSHWIRE_HTTP_OPT_MAX_HEADERS, 3),
               {text.empty() ? 0 : PW(INVALID_STATE)});
      // reset forgets the request and any error; the limits stay.
      check_rc("http_request_reset", pushwire_http_request_reset(req), {0});
      FUZZ_CHECK(pushwire_http_request_status_hint(req) == 0, "status hint survived reset");
      if (text.empty()) check_rc("http_request_set_option", pushwire_http_request_set_option(req, PUSHWIRE_HTTP_OPT_MAX_HEADERS, max_headers), {0});
      FUZZ_CHECK(parse(req, text, s, max_head, max_headers) == o, "a reset parser parsed the same bytes differently");
    } else {
      FUZZ_CHECK(o == first, "split into %zu-byte chunks: rc %d head %zu, whole: rc %d head %zu", s, o.rc, o.head_len,
                 first.rc, first.head_len);
    }
    pushwire_http_request_free(req);
  }
  return 0;
}
