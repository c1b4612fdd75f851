#!/bin/sh
# Makes sure DIR (default /tmp/pushwire-bench, never the repository) holds the W1-W9
# workloads of ../shared/bench/WORKLOADS.md, byte for byte: generates them with the shared
# generator when missing, and checks every file against the SHA-256 table of WORKLOADS.md.
# A stamp (sizes and mtimes of the checked files) skips re-hashing 1.1 GB on later runs.
# Concurrent callers (several engineers' `make test`) serialize on a lock; generation
# goes to a fresh directory that replaces DIR only once it has been verified.
#   prepare.sh [DIR]     exit 0 when DIR is ready, 1 on a mismatch, 2 when no generator
set -eu
out=${1:-/tmp/pushwire-bench}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

# The shared folder sits beside the repository (../shared); from a git worktree, beside
# the main checkout; from a clone of a checkout on this machine (CI clones into /tmp),
# beside that checkout (or its main checkout). PUSHWIRE_SHARED overrides all of them.
# main_checkout DIR: the checkout whose .git DIR shares (DIR itself unless a worktree).
main_checkout() {
  (cd "$1" 2>/dev/null && cd "$(git rev-parse --git-common-dir 2>/dev/null || echo .)/.." 2>/dev/null && pwd)
}
shared=${PUSHWIRE_SHARED:-}
if [ -z "$shared" ]; then
  origin=$(cd "$repo" && git config --get remote.origin.url 2>/dev/null || true)
  case "$origin" in
    /*) ;;
    file:///*) origin=${origin#file://} ;;
    *) origin=/nonexistent ;;  # a URL: nothing beside it on this machine
  esac
  for cand in "$repo" "$(main_checkout "$repo")" "$origin" "$(main_checkout "$origin")"; do
    if [ -n "$cand" ] && [ -f "$cand/../shared/bench/gen_workloads.py" ]; then
      shared=$(cd "$cand/../shared" && pwd)
      break
    fi
  done
fi
if [ -z "$shared" ] || [ ! -f "$shared/bench/gen_workloads.py" ] || [ ! -f "$shared/bench/WORKLOADS.md" ]; then
  echo "prepare: no ../shared/bench/gen_workloads.py beside the repository (set PUSHWIRE_SHARED)" >&2
  exit 2
fi
spec="$shared/bench/WORKLOADS.md"

# "| W1 | w1.bin | ... | `sha` |" rows of the table, as sha256sum -c input.
table=$(sed -n 's/^| *W[0-9]b\{0,1\} *| *\([a-z0-9_]*\.[a-z]*\) *|.*| *`\([0-9a-f]\{64\}\)` *|$/\2  \1/p' "$spec")
if [ "$(echo "$table" | wc -l)" -ne 10 ]; then
  echo "prepare: could not read the 10-row SHA-256 table of $spec" >&2
  exit 1
fi
files=$(echo "$table" | awk '{print $2}')

stamp_of() {
  (cd "$1" && for f in $files manifest.tsv; do stat -c '%n %s %Y' "$f" 2>/dev/null || echo "missing $f"; done
   echo "$table")
}
verify() {
  (cd "$1" && echo "$table" | sha256sum -c --quiet --status -) 2>/dev/null
}

mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9

if [ -f "$out/verified.stamp" ] && [ "$(stamp_of "$out")" = "$(cat "$out/verified.stamp")" ]; then
  exit 0
fi
if [ -f "$out/manifest.tsv" ] && verify "$out"; then
  stamp_of "$out" > "$out/verified.stamp"
  echo "prepare: $out verified against WORKLOADS.md"
  exit 0
fi

echo "prepare: generating the workloads into $out (about 1.1 GB, ~30 s)"
tmp="$out.new.$$"
rm -rf "$tmp"
python3 "$shared/bench/gen_workloads.py" --out "$tmp" >/dev/null
if ! verify "$tmp"; then
  echo "prepare: generated files do not match the SHA-256 table of WORKLOADS.md:" >&2
  (cd "$tmp" && echo "$table" | sha256sum -c - 2>&1 | grep -v ': OK$') >&2 || true
  rm -rf "$tmp"
  exit 1
fi
stamp_of "$tmp" > "$tmp/verified.stamp"
rm -rf "$out"
mv "$tmp" "$out"
echo "prepare: $out generated and verified"
