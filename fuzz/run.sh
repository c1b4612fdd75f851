#!/bin/sh
# Runs one libFuzzer target (built by `make fuzz-engines` into build-fuzz), or merges what
# it found into the seed corpus.
#   fuzz/run.sh run NAME SECONDS   fuzz NAME; new inputs go to build-fuzz/corpus/NAME,
#                                  crashes to build-fuzz/artifacts/NAME-*
#   fuzz/run.sh merge NAME         add the inputs of build-fuzz/corpus/NAME that reach new
#                                  coverage to fuzz/corpus/NAME, named by their SHA-256
#   fuzz/run.sh file DIR           copy DIR/NAME/* into fuzz/corpus/NAME/<sha256> (seeds,
#                                  reproducers of fixed bugs)
# Extra libFuzzer flags may be given in FUZZ_FLAGS.
set -eu
cmd=$1
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$cmd" = file ]; then
  added=0
  for d in "$2"/*/; do
    t=$(basename "$d")
    mkdir -p "$top/fuzz/corpus/$t"
    for f in "$d"*; do
      [ -f "$f" ] || continue
      h=$(sha256sum "$f" | cut -c1-64)
      [ -e "$top/fuzz/corpus/$t/$h" ] || { cp "$f" "$top/fuzz/corpus/$t/$h"; added=$((added + 1)); }
    done
  done
  echo "$added new corpus files"
  exit 0
fi
t=$2
out="$top/build-fuzz"
bin="$out/fuzz/$t.fuzzer"
seeds="$top/fuzz/corpus/$t"
work="$out/corpus/$t"
[ -x "$bin" ] || { echo "$bin: not built (make fuzz-engines)"; exit 1; }
mkdir -p "$seeds" "$work" "$out/artifacts"

case $t in
  *sse*) dict=sse ;;
  *) dict=websocket ;;
esac
case $t in
  fuzz_utf8) dictflag= ;;
  *) dictflag="-dict=$top/fuzz/dict/$dict.dict" ;;
esac

# Rename files to the SHA-256 of their content (libFuzzer names them by SHA-1).
name_by_sha256() {
  for f in "$1"/*; do
    [ -f "$f" ] || continue
    h=$(sha256sum "$f" | cut -c1-64)
    [ "$(basename "$f")" = "$h" ] || mv -f "$f" "$1/$h"
  done
}

case $cmd in
  run)
    secs=$3
    log="$out/$t.log"
    status=0
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/$t-" $dictflag ${FUZZ_FLAGS:-} "$work" "$seeds" > "$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    echo "$t: ${execs:-?} executions in ${secs}s, ${cov:-?} coverage points, corpus $(ls "$work" | wc -l) + $(ls "$seeds" | wc -l) seeds"
    if [ "$status" -ne 0 ]; then
      tail -n 60 "$log"
      echo "$t: FAILED (exit $status); reproducer in $out/artifacts/, log $log"
      exit 1
    fi
    ;;
  merge)
    before=$(ls "$seeds" | wc -l)
    "$bin" -merge=1 -max_len=4096 "$seeds" "$work" > "$out/$t.merge.log" 2>&1
    name_by_sha256 "$seeds"
    echo "$t: seeds $before -> $(ls "$seeds" | wc -l)"
    ;;
  *)
    echo "usage: fuzz/run.sh run NAME SECONDS | merge NAME" >&2
    exit 2
    ;;
esac
