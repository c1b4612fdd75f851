"""The shared transcript-vector format (tests/vectors/README.md), reimplemented for Python.

A file holds cases: `## name`, then `key: value` lines (in, out, event, option, ...) and
`eof`. DATA values are hex digits or a quoted string with C escapes. Expected event lines
are compared in a canonical form: tokens separated by one space, quoted strings re-escaped.
"""
import os
import re

KEYS = {"role", "option", "random", "origin", "subprotocol", "start", "in", "eof", "event", "out", "error"}
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("PUSHWIRE_REPO") or os.path.abspath(os.path.join(HERE, "..", "..", ".."))
VECTORS = os.path.join(REPO, "tests", "vectors")


class Case:
    def __init__(self, file, name, lineno):
        self.file, self.name, self.lineno = file, name, lineno
        self.lines = []  # (key, value)

    def values(self, key):
        return [v for k, v in self.lines if k == key]

    def has(self, key):
        return any(k == key for k, _ in self.lines)

    def first(self, key, default=""):
        vals = self.values(key)
        return vals[0] if vals else default

    def data(self, key):
        return b"".join(parse_data(v) for v in self.values(key))

    def __repr__(self):
        return "%s:%d (%s)" % (self.file, self.lineno, self.name)


def load_dir(path):
    cases = []
    for name in sorted(os.listdir(path)):
        if name.endswith(".md"):
            cases.extend(load_file(os.path.join(path, name)))
    return cases


def load_file(path):
    cases, cur = [], None
    with open(path, encoding="utf-8") as f:
        for lineno, text in enumerate(f, 1):
            text = text.rstrip("\n").rstrip("\r")
            if text.startswith("## "):
                cur = Case(os.path.basename(path), text[3:], lineno)
                cases.append(cur)
                continue
            if cur is None or not text or text[0] in ">#" or text.startswith("```"):
                continue
            colon = text.find(":")
            directive = colon > 0 and (" " not in text[:colon])
            if text == "eof":
                cur.lines.append(("eof", ""))
            elif directive and text[:colon] in KEYS:
                value = text[colon + 1:]
                cur.lines.append((text[:colon], value[1:] if value.startswith(" ") else value))
            elif directive:
                raise ValueError("%s:%d: unknown vector keyword: %s" % (path, lineno, text))
    return cases


ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\", '"': b'"'}


def parse_quoted(s, pos):
    """Parses the quoted string at s[pos] == '"'; returns (bytes, position after it)."""
    out = bytearray()
    i = pos + 1
    while i < len(s) and s[i] != '"':
        c = s[i]
        i += 1
        if c != "\\":
            out += c.encode("utf-8")
            continue
        e = s[i]
        i += 1
        if e == "x":
            out.append(int(s[i:i + 2], 16))
            i += 2
        elif e in ESCAPES:
            out += ESCAPES[e]
        else:
            raise ValueError("bad escape \\%s in %r" % (e, s))
    if i >= len(s):
        raise ValueError("unterminated string: %r" % s)
    return bytes(out), i + 1


def parse_data(value):
    v = value.strip(" ")
    if v.startswith('"'):
        data, end = parse_quoted(v, 0)
        if v[end:].strip(" "):
            raise ValueError("junk after string: %r" % value)
        return data
    return bytes.fromhex(re.sub(r"[ \t]", "", v))


def escape(b):
    """The canonical quoted form: printable ASCII as is, \\" \\\\ \\n \\r \\t, else \\xNN."""
    out = ['"']
    for c in b:
        ch = chr(c)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 0x20 <= c < 0x7F:
            out.append(ch)
        else:
            out.append("\\x%02x" % c)
    out.append('"')
    return "".join(out)


def canonical_event(line):
    out, i = [], 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        q, sp = line.find('"', i), line.find(" ", i)
        if q != -1 and (sp == -1 or q < sp):
            data, end = parse_quoted(line, q)
            out.append(line[i:q] + escape(data))
            i = end
        else:
            end = len(line) if sp == -1 else sp
            out.append(line[i:end])
            i = end
    return " ".join(out)


def splits(data):
    """The chunkings a case is replayed with: whole, byte by byte, and cut in two everywhere."""
    yield "whole", [data]
    if len(data) > 1:
        yield "byte by byte", [data[i:i + 1] for i in range(len(data))]
    for cut in range(1, len(data)):
        yield "split at %d" % cut, [data[:cut], data[cut:]]
