// Reference decoders that tests and fuzz targets compare pushwire against: UTF-8 from the
// RFC 3629 table and the WHATWG "UTF-8 decode", and a text/event-stream interpreter written
// line by line from WHATWG HTML "Interpreting an event stream". Clear rather than fast:
// whole strings in, whole results out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// Length of the well-formed character starting at s[i], or 0 if the bytes at i are not
// a whole valid character. *prefix receives how many bytes at i are a valid prefix of
// some character (the maximal subpart, at least 1 when the lead byte is a valid lead).
inline size_t ref_utf8_char(const uint8_t *s, size_t n, size_t i, size_t *prefix) {
  // Row: lead range, number of bytes, and the allowed range of the second byte.
  struct Row {
    uint8_t lo, hi, len, lo2, hi2;
  };
  static const Row rows[] = {
      {0x00, 0x7f, 1, 0, 0},       {0xc2, 0xdf, 2, 0x80, 0xbf}, {0xe0, 0xe0, 3, 0xa0, 0xbf},
      {0xe1, 0xec, 3, 0x80, 0xbf}, {0xed, 0xed, 3, 0x80, 0x9f}, {0xee, 0xef, 3, 0x80, 0xbf},
      {0xf0, 0xf0, 4, 0x90, 0xbf}, {0xf1, 0xf3, 4, 0x80, 0xbf}, {0xf4, 0xf4, 4, 0x80, 0x8f},
  };
  *prefix = 0;
  for (const Row &r : rows) {
    if (s[i] < r.lo || s[i] > r.hi) continue;
    size_t k = 1;
    for (; k < r.len && i + k < n; ++k) {
      uint8_t lo = k == 1 ? r.lo2 : 0x80, hi = k == 1 ? r.hi2 : 0xbf;
      if (s[i + k] < lo || s[i + k] > hi) break;
    }
    *prefix = k;
    return k == r.len ? k : 0;
  }
  return 0;
}

// The length of the longest prefix of s that can still be continued into valid UTF-8
// (the fail-fast offset when it is < n); *complete: that prefix ends on a boundary.
inline size_t ref_utf8_valid_prefix(const uint8_t *s, size_t n, bool *complete) {
  size_t i = 0;
  while (i < n) {
    size_t prefix;
    size_t len = ref_utf8_char(s, n, i, &prefix);
    if (len) {
      i += len;
      continue;
    }
    *complete = false;
    // An incomplete character is fine only if the data ends inside it.
    return (prefix && i + prefix == n) ? n : i + prefix;
  }
  *complete = true;
  return n;
}

inline bool ref_utf8_valid(const std::string &s) {
  bool complete;
  return ref_utf8_valid_prefix(reinterpret_cast<const uint8_t *>(s.data()), s.size(), &complete) == s.size() &&
         complete;
}

// WHATWG Encoding "UTF-8 decode" without BOM handling: each maximal subpart of an
// ill-formed sequence becomes one U+FFFD. Output is UTF-8.
inline std::string ref_utf8_decode_replacing(const std::string &in) {
  const uint8_t *s = reinterpret_cast<const uint8_t *>(in.data());
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    size_t prefix;
    size_t len = ref_utf8_char(s, in.size(), i, &prefix);
    if (len) {
      out.append(in, i, len);
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      i += prefix ? prefix : 1;
    }
  }
  return out;
}

// A text's lines as an SSE writer must emit them: split on CR LF, LF and CR alike (k line
// breaks give k + 1 lines, so "" is one empty line).
inline std::vector<std::string> ref_split_lines(const std::string &s) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' || s[i] == '\n') {
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      out.emplace_back();
    } else {
      out.back() += s[i];
    }
  }
  return out;
}

// The event-stream reference: the whole stream at once, then end of stream.
struct SseReference {
  struct Item {
    enum Kind { kEvent, kRetry, kComment } kind;
    std::string type, data, id;  // a comment's text is in data
    uint64_t retry;
  };
  std::vector<Item> items;
  std::string last_event_id;      // the "last event ID string", set at each dispatch
  std::string id_buffer;          // the "last event ID buffer", set by id fields
  bool retry_set = false;
  uint64_t retry = 0;
  size_t longest_line = 0;        // decoded bytes of the longest terminated line
  size_t longest_any = 0;         // the same, counting the unterminated tail too

  // `id` is what persists from an earlier connection (pushwire_sse_parser_reset keeps it).
  SseReference(const std::string &stream, bool comments, const std::string &id = std::string(),
               bool had_retry = false, uint64_t prev_retry = 0)
      : last_event_id(id), id_buffer(id), retry_set(had_retry), retry(prev_retry) {
    std::string text = stream.compare(0, 3, "\xef\xbb\xbf") == 0 ? stream.substr(3) : stream;
    text = ref_utf8_decode_replacing(text);
    std::string data, type;
    size_t pos = 0;
    for (;;) {
      size_t eol = text.find_first_of("\r\n", pos);
      size_t end = eol == std::string::npos ? text.size() : eol;
      if (end - pos > longest_any) longest_any = end - pos;
      if (eol == std::string::npos) break;  // an unterminated last line is never processed
      if (end - pos > longest_line) longest_line = end - pos;
      std::string line = text.substr(pos, eol - pos);
      pos = eol + 1;
      if (text[eol] == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
      if (line.empty()) {
        last_event_id = id_buffer;
        if (data.empty()) {
          type.clear();
          continue;
        }
        data.pop_back();  // the LF after the last data line
        items.push_back(Item{Item::kEvent, type.empty() ? "message" : type, data, last_event_id, 0});
        data.clear();
        type.clear();
        continue;
      }
      if (line[0] == ':') {
        if (comments) items.push_back(Item{Item::kComment, "", line.substr(1), "", 0});
        continue;
      }
      size_t colon = line.find(':');
      std::string field = line.substr(0, colon), value;
      if (colon != std::string::npos) {
        value = line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      }
      if (field == "event") {
        type = value;
      } else if (field == "data") {
        data += value;
        data += '\n';
      } else if (field == "id") {
        if (value.find('\0') == std::string::npos) id_buffer = value;
      } else if (field == "retry") {
        // Only ASCII digits; an empty value is ignored, and so is one past 2^64 - 1 (the
        // spec leaves overflow open; pushwire.h documents this choice).
        bool ok = !value.empty();
        unsigned __int128 v = 0;
        for (char c : value) {
          ok = ok && c >= '0' && c <= '9';
          if (ok) v = v * 10 + unsigned(c - '0');
          ok = ok && v <= UINT64_MAX;
        }
        if (ok) {
          retry = uint64_t(v);
          retry_set = true;
          items.push_back(Item{Item::kRetry, "", "", "", retry});
        }
      }
    }
  }
};

