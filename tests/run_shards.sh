#!/bin/sh
# run_shards.sh CMD [ARG...]: runs a unit-test binary (tests/harness.cpp) as N shards side by
# side (PUSHWIRE_TEST_SHARD=i/N, passed through qemu-user too), so the slow runs (ASan, qemu)
# use every core; N is PUSHWIRE_TEST_JOBS, by default the number of cores. Prints each shard's
# output, then the one total "P passed, F failed"; a shard that prints no total or exits with
# an error counts as a failure.
n=${PUSHWIRE_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
i=0
pids=
while [ "$i" -lt "$n" ]; do
  PUSHWIRE_TEST_SHARD=$i/$n "$@" >"$dir/$i" 2>&1 &
  pids="$pids $!"
  i=$((i + 1))
done
crashed=0
for pid in $pids; do wait "$pid" || crashed=1; done
total='^[0-9][0-9]* passed, [0-9][0-9]* failed$'
pass=0
fail=0
i=0
while [ "$i" -lt "$n" ]; do
  grep -v "$total" "$dir/$i"
  line=$(grep "$total" "$dir/$i" | tail -n 1)
  if [ -z "$line" ]; then
    echo "shard $i/$n printed no total"
    fail=$((fail + 1))
  else
    pass=$((pass + ${line%% passed*}))
    rest=${line#* passed, }
    fail=$((fail + ${rest%% failed}))
  fi
  i=$((i + 1))
done
if [ "$crashed" -ne 0 ] && [ "$fail" -eq 0 ]; then
  echo "a shard exited with an error"
  fail=1
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
