#!/bin/sh
# The conformance battery (tests/tools/conformance.c) against examples/echo_server over
# 127.0.0.1, then end-to-end checks of examples/ws_client and of the server's shutdown.
# Usage: conformance.sh BUILD_DIR. Ends with "N passed, M failed"; non-zero on failure.
BUILD=${1:-build}
server=$BUILD/examples/echo_server
client=$BUILD/examples/ws_client
battery=$BUILD/tests/conformance
tmp=$(mktemp -d)
pid=
passed=0
failed=0

cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  exec 3>&-
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ok() { passed=$((passed + 1)); }
bad() {
  failed=$((failed + 1))
  echo "FAIL $*"
}

# Start the server on a free port; sets pid and port. The port is on its first stdout line.
start_server() {
  : >"$tmp/server.out"
  "$server" --port 0 "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
  pid=$!
  port=
  i=0
  while [ $i -lt 100 ]; do
    line=$(head -n 1 "$tmp/server.out")
    case $line in
      "listening on http://"*)
        port=${line##*:}
        return 0
        ;;
    esac
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
  done
  echo "echo_server did not print its port:"
  cat "$tmp/server.out" "$tmp/server.err"
  return 1
}

# Wait (at most 5 s) until the server log has a line matching $1.
wait_log() {
  i=0
  while [ $i -lt 50 ]; do
    grep -q "$1" "$tmp/server.out" && return 0
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

if ! start_server; then
  echo "0 passed, 1 failed"
  exit 1
fi

# 1. The battery. Its own last line counts its cases.
timeout 120 "$battery" --port "$port" >"$tmp/battery.out" 2>&1
status=$?
grep -v -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/battery.out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/battery.out" | tail -n 1)
if [ -n "$line" ]; then
  passed=$((passed + ${line%% passed*}))
  f=${line#* passed, }
  failed=$((failed + ${f%% failed*}))
fi
if [ -z "$line" ] || { [ "$status" -ne 0 ] && [ "${f%% failed*}" = 0 ]; }; then
  bad "conformance battery exited with status $status"
fi

# 2. ws_client: lines out, the same lines back, then stdin EOF and a clean close. Stdin
# ends only once the echoes are back, as with a person typing.
mkfifo "$tmp/in.fifo"
timeout 20 "$client" "ws://127.0.0.1:$port/chat" <"$tmp/in.fifo" >"$tmp/client.out" 2>"$tmp/client.err" &
cpid=$!
exec 3>"$tmp/in.fifo"
printf 'hello\nw\303\266rld\n\ncarriage return\r\n' >&3
printf 'hello\nw\303\266rld\n\ncarriage return\n' >"$tmp/expect.txt"
i=0
while [ $i -lt 50 ] && ! cmp -s "$tmp/client.out" "$tmp/expect.txt"; do
  sleep 0.1
  i=$((i + 1))
done
exec 3>&- # EOF: close 1000
wait "$cpid"
status=$?
if [ "$status" -eq 0 ] && cmp -s "$tmp/client.out" "$tmp/expect.txt" && grep -q '^close 1000' "$tmp/client.err"; then
  ok
else
  bad "ws_client round trip (status $status):"
  cat "$tmp/client.out" "$tmp/client.err"
fi

# 2b. The same from a pipe: the last line (unterminated) and the close leave together, and
# the server still echoes every message before answering the close.
printf 'one\ntwo\nlast without newline' | timeout 20 "$client" "ws://127.0.0.1:$port/pipe" >"$tmp/pipe.out" 2>"$tmp/pipe.err"
status=$?
printf 'one\ntwo\nlast without newline\n' >"$tmp/pipe.expect"
if [ "$status" -eq 0 ] && cmp -s "$tmp/pipe.out" "$tmp/pipe.expect" && grep -q '^close 1000' "$tmp/pipe.err"; then
  ok
else
  bad "ws_client from a pipe (status $status):"
  cat "$tmp/pipe.out" "$tmp/pipe.err"
fi

# 3. ws_client refuses wss:// (no TLS) and bad URLs with status 2.
timeout 5 "$client" "wss://127.0.0.1:$port/" </dev/null >/dev/null 2>"$tmp/client.err"
status=$?
if [ "$status" -eq 2 ] && grep -q 'wss' "$tmp/client.err"; then ok; else bad "ws_client wss:// (status $status)"; fi
timeout 5 "$client" "http://127.0.0.1:$port/" </dev/null >/dev/null 2>&1
status=$?
if [ "$status" -eq 2 ]; then ok; else bad "ws_client http:// URL (status $status)"; fi

# 4. ws_client against a closed port fails with status 1.
timeout 10 "$client" "ws://127.0.0.1:1/" </dev/null >/dev/null 2>&1
status=$?
if [ "$status" -eq 1 ]; then ok; else bad "ws_client to a closed port (status $status)"; fi

# 5. SIGTERM: a connected client gets close 1001, the server exits 0.
mkfifo "$tmp/fifo"
timeout 20 "$client" "ws://127.0.0.1:$port/held" <"$tmp/fifo" >"$tmp/held.out" 2>"$tmp/held.err" &
cpid=$!
exec 3>"$tmp/fifo" # keeps the client's stdin open
echo "before shutdown" >&3
if wait_log ' open .* /held'; then
  sleep 0.2
  kill -TERM "$pid"
  wait "$pid"
  status=$?
  pid=
  if [ "$status" -eq 0 ] && tail -n 1 "$tmp/server.out" | grep -q '^stopped'; then
    ok
  else
    bad "echo_server after SIGTERM (status $status):"
    tail -n 5 "$tmp/server.out"
    cat "$tmp/server.err"
  fi
  wait "$cpid"
  status=$?
  if [ "$status" -eq 0 ] && grep -q '^close 1001' "$tmp/held.err" && grep -q '^before shutdown$' "$tmp/held.out"; then
    ok
  else
    bad "ws_client during server shutdown (status $status):"
    cat "$tmp/held.out" "$tmp/held.err"
  fi
else
  bad "ws_client did not connect for the shutdown test"
  kill "$cpid" 2>/dev/null
  wait "$cpid" 2>/dev/null
fi
exec 3>&-

if [ "$failed" -ne 0 ] && [ -s "$tmp/server.err" ]; then
  echo "echo_server stderr:"
  tail -n 20 "$tmp/server.err"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
