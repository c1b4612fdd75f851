#!/bin/sh
# Replays every fuzz corpus (fuzz/corpus/NAME/*) through its target's replay binary
# (BUILD/fuzz/NAME, built by `make`). One test per target; a target whose library
# functions have not landed yet is reported as skipped.
BUILD=${1:-build}
pass=0
fail=0
for src in fuzz/fuzz_*.cpp; do
  t=$(basename "$src" .cpp)
  bin="$BUILD/fuzz/$t"
  if [ ! -x "$bin" ]; then
    if [ -f "$bin.missing" ]; then
      echo "skip $t: $(wc -l < "$bin.missing") library functions not landed yet"
      continue
    fi
    echo "FAIL $t: $bin not built"
    fail=$((fail + 1))
    continue
  fi
  if [ ! -d "fuzz/corpus/$t" ]; then
    echo "FAIL $t: no corpus fuzz/corpus/$t"
    fail=$((fail + 1))
    continue
  fi
  if out=$("$bin" "fuzz/corpus/$t" 2>&1); then
    echo "ok $t: $out"
    pass=$((pass + 1))
  else
    echo "$out" | tail -n 30
    echo "FAIL $t"
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
