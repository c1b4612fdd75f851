#include "vector_file.hpp"

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "harness.hpp"

namespace vectors {

std::vector<std::string> Case::values(const char *key) const {
  std::vector<std::string> out;
  for (const Line &l : lines)
    if (l.key == key) out.push_back(l.value);
  return out;
}

bool Case::has(const char *key) const {
  for (const Line &l : lines)
    if (l.key == key) return true;
  return false;
}

std::string Case::first(const char *key, const std::string &fallback) const {
  for (const Line &l : lines)
    if (l.key == key) return l.value;
  return fallback;
}

std::string Case::where() const { return file + ":" + std::to_string(lineno) + " (" + name + ")"; }

static const char *const kKeys[] = {"role", "option", "random", "origin", "subprotocol", "start",
                                    "in",   "eof",    "event",  "out",    "error"};

static bool known_key(const std::string &k) {
  for (const char *known : kKeys)
    if (k == known) return true;
  return false;
}

static void load_file(const std::string &path, const std::string &name, std::vector<Case> *cases) {
  std::ifstream f(path);
  std::string text;
  int lineno = 0;
  Case *cur = nullptr;
  while (std::getline(f, text)) {
    ++lineno;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.rfind("## ", 0) == 0) {
      cases->push_back(Case());
      cur = &cases->back();
      cur->file = name;
      cur->name = text.substr(3);
      cur->lineno = lineno;
      continue;
    }
    if (!cur || text.empty() || text[0] == '>' || text[0] == '#' || text.rfind("```", 0) == 0) continue;
    std::string key, value;
    size_t colon = text.find(':');
    if (text == "eof") {
      key = "eof";
    } else if (colon != std::string::npos && colon > 0 && text.find(' ') > colon) {
      key = text.substr(0, colon);
      value = text.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    }
    if (key.empty() || !known_key(key)) {
      // Prose inside a case is allowed only if it cannot be mistaken for a directive.
      if (colon != std::string::npos && colon > 0 && text.find(' ') > colon)
        harness::fail(path.c_str(), lineno, "unknown vector keyword: " + text);
      continue;
    }
    cur->lines.push_back(Line{key, value, lineno});
  }
}

std::vector<Case> load_dir(const std::string &dir) {
  std::vector<std::string> files;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 3 && n.compare(n.size() - 3, 3, ".md") == 0) files.push_back(n);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  std::vector<Case> cases;
  for (const std::string &n : files) load_file(dir + "/" + n, n, &cases);
  if (cases.empty()) harness::fail(__FILE__, __LINE__, "no vector cases in " + dir);
  return cases;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a quoted string starting at s[*pos] == '"'; leaves *pos after the closing quote.
static bool parse_quoted(const std::string &s, size_t *pos, std::string *out) {
  size_t i = *pos + 1;
  while (i < s.size() && s[i] != '"') {
    char c = s[i++];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (i >= s.size()) return false;
    char e = s[i++];
    switch (e) {
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case '0': out->push_back('\0'); break;
      case '\\': out->push_back('\\'); break;
      case '"': out->push_back('"'); break;
      case 'x': {
        if (i + 2 > s.size() || hexval(s[i]) < 0 || hexval(s[i + 1]) < 0) return false;
        out->push_back(char(hexval(s[i]) << 4 | hexval(s[i + 1])));
        i += 2;
        break;
      }
      default: return false;
    }
  }
  if (i >= s.size()) return false;
  *pos = i + 1;
  return true;
}

bool parse_data(const std::string &value, std::string *out) {
  size_t i = 0;
  while (i < value.size() && value[i] == ' ') ++i;
  if (i < value.size() && value[i] == '"') {
    if (!parse_quoted(value, &i, out)) return false;
    while (i < value.size() && value[i] == ' ') ++i;
    return i == value.size();
  }
  int hi = -1;
  for (; i < value.size(); ++i) {
    char c = value[i];
    if (c == ' ' || c == '\t') continue;
    int v = hexval(c);
    if (v < 0) return false;
    if (hi < 0) {
      hi = v;
    } else {
      out->push_back(char(hi << 4 | v));
      hi = -1;
    }
  }
  return hi < 0;
}

std::string data_of(const Case &c, const char *key) {
  std::string all;
  for (const Line &l : c.lines) {
    if (l.key != key) continue;
    if (!parse_data(l.value, &all))
      harness::fail(c.file.c_str(), l.lineno, "bad DATA value: " + l.value);
  }
  return all;
}

std::string escape(const void *p, size_t n) {
  const unsigned char *b = static_cast<const unsigned char *>(p);
  std::string s = "\"";
  char tmp[8];
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = b[i];
    switch (c) {
      case '"': s += "\\\""; break;
      case '\\': s += "\\\\"; break;
      case '\n': s += "\\n"; break;
      case '\r': s += "\\r"; break;
      case '\t': s += "\\t"; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          s += char(c);
        } else {
          std::snprintf(tmp, sizeof tmp, "\\x%02x", c);
          s += tmp;
        }
    }
  }
  return s + "\"";
}

std::string canonical_event(const std::string &line) {
  std::string out;
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    if (!out.empty()) out += ' ';
    // A token may be `name=` followed by a quoted string (SSE's type="message").
    size_t q = line.find('"', i);
    size_t sp = line.find(' ', i);
    if (q != std::string::npos && (sp == std::string::npos || q < sp)) {
      out.append(line, i, q - i);
      std::string bytes;
      size_t pos = q;
      if (!parse_quoted(line, &pos, &bytes)) return "<malformed: " + line + ">";
      out += escape(bytes);
      i = pos;
    } else {
      size_t end = sp == std::string::npos ? line.size() : sp;
      out.append(line, i, end - i);
      i = end;
    }
  }
  return out;
}

static std::string join(const std::vector<std::string> &v) {
  std::string s;
  for (const std::string &e : v) s += "\n      " + e;
  return s;
}

static bool check_one(const Case &c, const Transcript &t, const std::string &how) {
  std::vector<std::string> want;
  for (const std::string &e : c.values("event")) want.push_back(canonical_event(e));
  std::string problem;
  if (t.events != want) problem += "\n    events:" + join(t.events) + "\n    expected:" + join(want);
  if (c.has("out")) {
    std::string out = data_of(c, "out");
    if (t.output != out)
      problem += "\n    output:   " + escape(t.output) + "\n    expected: " + escape(out);
  }
  std::string err = c.first("error");
  if (t.error != err) problem += "\n    error: '" + t.error + "', expected '" + err + "'";
  if (problem.empty()) return true;
  harness::fail(c.file.c_str(), c.lineno, c.name + " [" + how + "]" + problem);
  return false;
}

int replay(const Case &c, const Runner &run) {
  std::string input = data_of(c, "in");
  int failures = 0;
  if (!check_one(c, run(c, {input}), "whole")) return 1;  // one report is enough when all fail
  std::vector<std::string> bytes;
  for (char b : input) bytes.push_back(std::string(1, b));
  if (input.size() > 1 && !check_one(c, run(c, bytes), "byte by byte")) ++failures;
  for (size_t cut = 1; cut < input.size(); ++cut) {
    if (!check_one(c, run(c, {input.substr(0, cut), input.substr(cut)}), "split at " + std::to_string(cut))) {
      ++failures;
      break;  // the first failing split says enough
    }
  }
  return failures;
}

}  // namespace vectors
