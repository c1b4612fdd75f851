#!/bin/sh
# Runs one interop script after the set-up it needs, bounded in time:
#   run.sh BUILD_DIR node|python SCRIPT SECONDS
# The script prints "N passed, M failed" last; a set-up failure or a timeout counts as a failure.
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd) || exit 1
kind=$2
script=$here/$3
if ! sh "$here/setup.sh" "$build" "$kind"; then
  echo "0 passed, 1 failed"
  exit 1
fi
if [ "$kind" = node ]; then
  timeout -k 5 "$4" node "$script" "$build"
else
  timeout -k 5 "$4" "$build/interop/venv/bin/python" "$script" "$build"
fi
status=$?
if [ $status -eq 124 ] || [ $status -eq 137 ]; then
  echo "$3: timed out after $4 s"
  echo "0 passed, 1 failed"
fi
exit $status
