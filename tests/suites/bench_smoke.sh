#!/bin/sh
# The benchmark binary, once, on the `hundredth` subsets (checksums against the manifest,
# W8 output byte for byte), plus its self-test (each runner refuses bad UTF-8 and unmasked
# frames) and the quick scaling report (exactness and leak checks only). Nothing here is
# timed. The workloads are generated once into /tmp/pushwire-bench and reused.
BUILD=${1:-build}
BIN=$BUILD/bench/pwbench
DIR=${PUSHWIRE_BENCH_DIR:-/tmp/pushwire-bench}
pass=0
fail=0
if [ ! -x "$BIN" ]; then
  echo "no $BIN (make $BIN)"
  echo "0 passed, 1 failed"
  exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# The self-test builds its own frames: it runs even where the workloads cannot be made.
"$BIN" --selftest > "$out" 2>&1
grep -v '^ok ' "$out"
pass=$((pass + $(grep -c '^ok ' "$out")))
fail=$((fail + $(grep -c '^FAIL' "$out")))

sh tests/bench/prepare.sh "$DIR"
status=$?
if [ "$status" -eq 2 ]; then
  echo "SKIPPED (hundredth subsets, scaling): the shared workload generator is not beside the repository"
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
fi
if [ "$status" -ne 0 ]; then
  echo "workloads in $DIR do not match WORKLOADS.md"
  echo "$pass passed, $((fail + 1)) failed"
  exit 1
fi

"$BIN" --subset hundredth --min-time 0 --dir "$DIR" > "$out" 2>/dev/null
status=$?
p=$(grep -c '"verified":true' "$out")
f=$(grep -c '"verified":false' "$out")
grep '"verified":false' "$out"
if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "pwbench exited with status $status"; fi
skipped=$(grep '"skipped"' "$out" | sed 's/.*"impl":"\([^"]*\)".*"workload":"\([^"]*\)".*/\1 \2/' | tr '\n' ' ')
[ -n "$skipped" ] && echo "not in this build (skipped): $skipped"
echo "hundredth subsets: $p runs verified, $f failed"
pass=$((pass + p))
fail=$((fail + f))

if "$BIN" --scaling --quick --dir "$DIR" > "$out" 2>&1; then
  pass=$((pass + 1))
  tail -n 1 "$out"
else
  fail=$((fail + 1))
  cat "$out"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
