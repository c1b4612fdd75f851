// The SSE writer: arbitrary event fields either get the documented error, or bytes that
// both the pushwire parser and the WHATWG reference decode back to the same event.
//
// Input: up to 8 items, each an op byte then its fields. Op bits 0-4: event, data, id,
// comment, retry present; bits 6-7: 0-1 an event (encode and writer_event), 2 a
// writer_comment of one blob, 3 an event with a non-zero reserved word when bit 5 is set.
// Each present text field is a blob (length byte, bytes); retry is 4 bytes.
// Oracles: INVALID_ARGUMENT exactly when the documented conditions hold; the size query,
// an exact buffer and a one-byte-short buffer agree; the writer queues exactly the
// encode() bytes, and one pushwire_sse_encode_many of all the events writes them too (up to
// the first refused one); every event decodes back (type, data with CR/CRLF as LF, id, retry,
// comment lines) and nothing else; a comment alone dispatches nothing; no leaks.
#include <algorithm>

#include "sse_harness.hpp"

using namespace fuzz;

namespace {

struct Fields {
  bool has[4] = {false, false, false, false};  // event, data, id, comment
  std::string text[4];
  int64_t retry = -1;
  bool reserved = false;

  pushwire_sse_fields c() const {
    pushwire_sse_fields f;
    std::memset(&f, 0, sizeof f);
    const char **ptrs[4] = {&f.event, &f.data, &f.id, &f.comment};
    size_t *lens[4] = {&f.event_len, &f.data_len, &f.id_len, &f.comment_len};
    for (int i = 0; i < 4; ++i) {
      *ptrs[i] = has[i] ? text[i].data() : nullptr;
      *lens[i] = has[i] ? text[i].size() : 0;
    }
    f.retry_ms = retry;
    f.reserved[1] = reserved ? 1 : 0;
    return f;
  }
  bool invalid() const {
    bool any = retry >= 0 || has[0] || has[1] || has[2] || has[3];
    return reserved || !any || (has[0] && text[0].find_first_of("\r\n") != std::string::npos) ||
           (has[2] && text[2].find_first_of(std::string("\r\n\0", 3)) != std::string::npos);
  }
};

struct Emitter {
  SseReader parser;  // pushwire's parser, fed event by event
  std::string stream; // everything written, for the reference at the end
  std::vector<std::string> expected;
  std::string id;     // the last event id the stream has set
  std::string comment_prefix;  // what the parser reports before a non-empty comment line

  // The transcript lines one encoded item must produce, EVENT last.
  std::vector<std::string> expect(const Fields &f) {
    std::vector<std::string> out;
    if (f.has[3])
      for (const std::string &l : ref_split_lines(f.text[3]))
        out.push_back(sse_comment_line((l.empty() ? "" : comment_prefix) + ref_utf8_decode_replacing(l)));
    if (f.retry >= 0) out.push_back(sse_retry_line(uint64_t(f.retry)));
    std::sort(out.begin(), out.end());
    bool only_comment = !f.has[0] && !f.has[1] && !f.has[2] && f.retry < 0;
    if (only_comment) return out;
    if (f.has[2]) id = ref_utf8_decode_replacing(f.text[2]);
    if (f.has[1]) {
      std::string data;
      for (const std::string &l : ref_split_lines(f.text[1])) data += l + "\n";
      data.pop_back();
      std::string type = f.has[0] && !f.text[0].empty() ? ref_utf8_decode_replacing(f.text[0]) : "message";
      out.push_back(sse_event_line(type, ref_utf8_decode_replacing(data), id));
    }
    return out;
  }

  // Parse one item's bytes and compare with what its fields promise.
  void check(const std::string &bytes, const Fields &f) {
    std::vector<std::string> want = expect(f);
    size_t before = parser.events.size();
    parser.feed(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
    std::vector<std::string> got(parser.events.begin() + long(before), parser.events.end());
    if (!got.empty() && got.back().compare(0, 5, "EVENT") == 0) std::sort(got.begin(), got.end() - 1);
    else std::sort(got.begin(), got.end());
    if (got != want) {
      std::fprintf(stderr, "encoded: %s\n", quote(bytes).c_str());
      check_same("decoded vs fields", want, got);
    }
    stream += bytes;
    expected.insert(expected.end(), want.begin(), want.end());
  }
};

std::string encode(const Fields &f) {
  pushwire_sse_fields c = f.c();
  size_t need = 0;
  int rc = check_rc("sse_encode", pushwire_sse_encode(&c, nullptr, 0, &need), {PW(BUFFER_TOO_SMALL), PW(INVALID_ARGUMENT)});
  FUZZ_CHECK((rc == PW(INVALID_ARGUMENT)) == f.invalid(), "sse_encode returned %s for fields that are %s",
             pushwire_error_name(rc), f.invalid() ? "invalid" : "valid");
  if (rc == PW(INVALID_ARGUMENT)) return std::string();
  FUZZ_CHECK(need > 0, "size query needs 0 bytes");
  std::vector<uint8_t> buf(need + 1, 0xee);
  size_t written = 0;
  check_rc("sse_encode", pushwire_sse_encode(&c, buf.data(), need - 1, &written), {PW(BUFFER_TOO_SMALL)});
  FUZZ_CHECK(written == need, "short buffer: written %zu, size query %zu", written, need);
  check_rc("sse_encode", pushwire_sse_encode(&c, buf.data(), need, &written), {0});
  FUZZ_CHECK(written == need && buf[need] == 0xee, "wrote %zu bytes, size query %zu", written, need);
  // A buffer with room for the worst case takes the one-pass path (which may store past the
  // event, inside the buffer): the same bytes.
  std::vector<uint8_t> roomy(8 * need + 128, 0xee);
  check_rc("sse_encode", pushwire_sse_encode(&c, roomy.data(), roomy.size(), &written), {0});
  FUZZ_CHECK(written == need && std::equal(buf.begin(), buf.begin() + long(need), roomy.begin()),
             "one-pass encode differs from the exact-size encode");
  return std::string(reinterpret_cast<char *>(buf.data()), written);
}

std::string take(pushwire_sse_writer *w) {
  std::string out;
  for (;;) {
    pushwire_span sp;
    size_t n = pushwire_sse_writer_peek_output(w, &sp);
    FUZZ_CHECK(n == sp.len && n == pushwire_sse_writer_output_size(w), "peek/output_size disagree");
    if (!n) return out;
    size_t k = n > 7 ? n / 2 : n;
    out += span_str(sp, "writer output").substr(0, k);
    check_rc("sse_writer_consume_output", pushwire_sse_writer_consume_output(w, k), {0});
  }
}

// The same events in one pushwire_sse_encode_many: it stops at the first refused one, with
// the bytes of encode() for those before it, with room to spare and with exactly enough.
void check_batch(const std::vector<Fields> &batch, const std::vector<std::string> &bytes) {
  std::vector<pushwire_sse_fields> c;
  size_t valid = 0, total = 0;
  for (const Fields &f : batch) c.push_back(f.c());
  while (valid < batch.size() && !batch[valid].invalid()) total += bytes[valid++].size();
  const int want_rc = valid == batch.size() ? 0 : PW(INVALID_ARGUMENT);
  for (size_t cap : {8 * total + 1024, total}) {
    std::vector<uint8_t> out(cap + 1, 0xee);
    size_t written = 0, encoded = 0;
    int rc = check_rc("sse_encode_many",
                      pushwire_sse_encode_many(c.data(), c.size(), out.data(), cap, &written, &encoded),
                      {0, PW(INVALID_ARGUMENT)});
    FUZZ_CHECK(rc == want_rc && encoded == valid && written == total,
               "encode_many: %s, %zu events, %zu bytes; want %zu events, %zu bytes", pushwire_error_name(rc),
               encoded, written, valid, total);
    std::string want;
    for (size_t i = 0; i < valid; ++i) want += bytes[i];
    FUZZ_CHECK(std::memcmp(out.data(), want.data(), total) == 0 && (cap > total || out[cap] == 0xee),
               "encode_many bytes differ from encode");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Input in(data, size);
  Emitter em;
  check_rc("sse_parser_set_option",
           pushwire_sse_parser_set_option(em.parser.p, PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 1), {0});
  {
    // The writer's comment convention (": x" or ":x") decides what the parser reports.
    Fields probe;
    probe.has[3] = true;
    probe.text[3] = "x";
    std::string bytes = encode(probe);
    FUZZ_CHECK(bytes == ":x\n" || bytes == ": x\n" || bytes == ":x\r\n" || bytes == ": x\r\n", "comment encoded as %s",
               quote(bytes).c_str());
    em.comment_prefix = bytes[1] == ' ' ? " " : "";
  }
  CountingAlloc walloc;
  pushwire_sse_writer *w = nullptr;
  check_rc("sse_writer_new", pushwire_sse_writer_new(&w, walloc.get()), {0});
  std::vector<Fields> batch;  // the events, for pushwire_sse_encode_many below
  std::vector<std::string> batch_bytes;
  for (int item = 0; item < 8 && !in.empty(); ++item) {
    uint8_t op = in.u8();
    Fields f;
    if (op >> 6 == 2) {
      f.has[3] = true;
      f.text[3] = in.blob();
      std::string want = encode(f);
      check_rc("sse_writer_comment", pushwire_sse_writer_comment(w, f.text[3].data(), f.text[3].size()), {0});
      std::string got = take(w);
      FUZZ_CHECK(got == want, "writer_comment wrote %s, encode %s", quote(got).c_str(), quote(want).c_str());
      em.check(got, f);
      continue;
    }
    for (int i = 0; i < 4; ++i)
      if (op & (1 << i)) f.has[i] = true, f.text[i] = in.blob();
    if (op & 16) f.retry = int64_t(in.u32());
    f.reserved = (op >> 6) == 3 && (op & 32);
    std::string bytes = encode(f);
    batch.push_back(f);
    batch_bytes.push_back(bytes);
    pushwire_sse_fields c = f.c();
    int rc = check_rc("sse_writer_event", pushwire_sse_writer_event(w, &c), {CODES_SSE_WRITER_EVENT});
    FUZZ_CHECK(rc == (f.invalid() ? PW(INVALID_ARGUMENT) : 0), "writer_event returned %s", pushwire_error_name(rc));
    std::string got = take(w);
    FUZZ_CHECK(got == bytes, "writer_event queued %s, encode wrote %s", quote(got).c_str(), quote(bytes).c_str());
    if (rc == 0) em.check(bytes, f);
  }
  pushwire_sse_writer_free(w);
  check_batch(batch, batch_bytes);
  // The whole stream read at once agrees too, and so does the reference.
  em.parser.feed_eof();
  SseReader again;
  check_rc("sse_parser_set_option", pushwire_sse_parser_set_option(again.p, PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS, 1), {0});
  again.feed(reinterpret_cast<const uint8_t *>(em.stream.data()), em.stream.size());
  again.feed_eof();
  check_same("item by item vs whole stream", em.parser.events, again.events);
  RefSse ref(em.stream, true);
  check_same("pushwire parser vs reference", ref.events, again.events);
  return 0;
}
