#!/bin/sh
# Pipes event streams through build/examples/sse_cat at several read sizes and compares the
# exact output (one JSON line per event) and exit status. POSIX sh: bytes are written with
# printf octal escapes.
BUILD=${1:-build}
CAT="$BUILD/examples/sse_cat"
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$CAT" ]; then
  echo "FAIL: $CAT not built"
  echo "0 passed, 1 failed"
  exit 1
fi

# check NAME INPUT EXPECTED [STATUS [ARGS...]]: INPUT and EXPECTED are printf formats.
# Each case runs with the whole input in one read and with reads of 1, 2, 3 and 7 bytes.
check() {
  name=$1
  input=$2
  expected=$3
  want_status=0
  shift 3
  if [ $# -gt 0 ]; then
    want_status=$1
    shift
  fi
  printf "$input" > "$tmp/in"
  printf "$expected" > "$tmp/want"
  for chunk in 65536 1 2 3 7; do
    "$CAT" --chunk "$chunk" "$@" < "$tmp/in" > "$tmp/got" 2> "$tmp/err"
    status=$?
    if [ "$status" -ne "$want_status" ]; then
      fail=$((fail + 1))
      echo "FAIL: $name (chunk $chunk): exit status $status, expected $want_status"
      cat "$tmp/err"
    elif ! cmp -s "$tmp/got" "$tmp/want"; then
      fail=$((fail + 1))
      echo "FAIL: $name (chunk $chunk): output differs"
      echo "--- got"; cat "$tmp/got"; echo "--- expected"; cat "$tmp/want"
    else
      pass=$((pass + 1))
    fi
  done
}

check "plain events" \
  'data: hello\n\nevent: update\nid: 1\ndata: {"seq":1}\ndata: x\n\n' \
  '{"type": "message", "data": "hello", "last_event_id": ""}\n{"type": "update", "data": "{\\"seq\\":1}\\nx", "last_event_id": "1"}\n'

check "line ends and a split CR LF" \
  'data: a\r\ndata: b\rdata: c\n\r\nid: 9\r\r\ndata: d\r\n\r\n' \
  '{"type": "message", "data": "a\\nb\\nc", "last_event_id": ""}\n{"type": "message", "data": "d", "last_event_id": "9"}\n'

check "JSON escaping" \
  'data: q" b\\ t\t c\001 n\000!\n\n' \
  '{"type": "message", "data": "q\\" b\\\\ t\\t c\\u0001 n\\u0000!", "last_event_id": ""}\n'

check "UTF-8 kept, invalid bytes replaced" \
  '\357\273\277data: caf\303\251 \360\237\230\200\ndata: \360\237\230A \355\240\200\n\n' \
  '{"type": "message", "data": "caf\303\251 \360\237\230\200\\n\357\277\275A \357\277\275\357\277\275\357\277\275", "last_event_id": ""}\n'

check "retry, comments skipped, empty id resets" \
  ': hi\nretry: 2500\nid: 5\ndata: a\n\nretry: x\nid\ndata: b\n\n' \
  '{"retry": 2500}\n{"type": "message", "data": "a", "last_event_id": "5"}\n{"type": "message", "data": "b", "last_event_id": ""}\n'

check "comments reported" \
  ': keepalive\ndata: a\n\n' \
  '{"comment": " keepalive"}\n{"type": "message", "data": "a", "last_event_id": ""}\n' 0 --comments

check "unterminated event at end of input is dropped" \
  'data: a\n\ndata: b\n' \
  '{"type": "message", "data": "a", "last_event_id": ""}\n'

check "a line past --max-line fails the stream" \
  'data: ok\n\ndata: 0123456789\n\n' \
  '{"type": "message", "data": "ok", "last_event_id": ""}\n' 1 --max-line 12

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
