// Loader and replay driver for the shared transcript vectors (tests/vectors/README.md).
// The bindings reimplement this small format; keep it trivially parseable.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace vectors {

struct Line {
  std::string key;    // "in", "event", "option", ... ("eof" has an empty value)
  std::string value;  // text after "key: "
  int lineno;
};

struct Case {
  std::string file;
  std::string name;
  int lineno = 0;
  std::vector<Line> lines;

  std::vector<std::string> values(const char *key) const;
  bool has(const char *key) const;
  std::string first(const char *key, const std::string &fallback = "") const;
  std::string where() const;  // "file:line (name)"
};

// Every case of every *.md file in dir, files in name order. An unreadable or empty
// directory, or a malformed line, is reported as a test failure.
std::vector<Case> load_dir(const std::string &dir);

// DATA: hex digits (whitespace ignored) or a quoted string with C escapes.
bool parse_data(const std::string &value, std::string *out);
// All values of `key` (in/out) parsed and concatenated; a bad value fails the test.
std::string data_of(const Case &c, const char *key);

// The canonical quoted form of bytes: printable ASCII as is, \" \\ \n \r \t, else \xNN.
std::string escape(const void *p, size_t n);
inline std::string escape(const std::string &s) { return escape(s.data(), s.size()); }
// Canonical form of an expected event line: quoted strings re-escaped, single spaces.
std::string canonical_event(const std::string &line);

struct Transcript {
  std::vector<std::string> events;  // canonical event lines
  std::string output;               // every byte queued for output
  std::string error;                // "" or the error name after the events ("PROTOCOL")
};

// Runs one case with the input cut into `chunks` (and eof when the case says so).
using Runner = std::function<Transcript(const Case &, const std::vector<std::string> &chunks)>;

// Replays the case whole, byte by byte, and split in two at every position, comparing
// each transcript with the case's expectations (events, `out` if given, `error`).
// Returns the number of failing replays (each also reported via the harness).
int replay(const Case &c, const Runner &run);

}  // namespace vectors
