#!/bin/sh
# Runs every test suite of `make test` and ends with the total line "N passed, M failed".
# PUSHWIRE_SUITES="a b" limits the tests/suites/*.sh scripts to those names (CI's extra
# compiler and sanitizer passes skip the browser and interop suites, which test the same
# C code through other peers); unit, capi_c and abi always run.
# Each suite prints its own "N passed, M failed" as its last line; a suite that crashes
# or prints no such line counts as one failure.
BUILD=${BUILD:-build}
total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_suite() {
  name=$1
  shift
  echo "== $name"
  "$@" >"$log" 2>&1
  status=$?
  cat "$log"
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    p=$(echo "$line" | sed 's/ passed.*//')
    f=$(echo "$line" | sed 's/.* passed, \([0-9]*\) failed.*/\1/')
  else
    p=0
    f=0
  fi
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "suite $name exited with status $status"
    f=1
  fi
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
}

run_suite unit sh tests/run_shards.sh "$BUILD/tests/unit"  # one shard per core
run_suite capi_c "$BUILD/tests/capi_c_test"
run_suite abi sh tests/abi_symbols.sh "$BUILD"
for extra in tests/suites/*.sh; do
  [ -f "$extra" ] || continue
  if [ -n "${PUSHWIRE_SUITES:-}" ]; then
    case " $PUSHWIRE_SUITES " in *" $(basename "$extra" .sh) "*) ;; *) continue ;; esac
  fi
  run_suite "$(basename "$extra" .sh)" sh "$extra" "$BUILD"
done

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
