#!/bin/sh
# ABI checks on the built shared library: the exported symbols are exactly
# capi/pushwire.sym, every function the header declares is in that list, the soname is
# libpushwire.so.0, and no C++ runtime is needed.
BUILD=${1:-build}
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
lib=$(ls "$BUILD"/libpushwire.so.*.*.* 2>/dev/null | head -n 1)
if [ -z "$lib" ]; then
  echo "no shared library in $BUILD"
  echo "0 passed, 1 failed"
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort > "$tmp/exported"
sort capi/pushwire.sym > "$tmp/listed"
if diff -u "$tmp/listed" "$tmp/exported" > "$tmp/diff"; then ok; else bad "exported symbols differ from capi/pushwire.sym"; cat "$tmp/diff"; fi

# Every function declared with PUSHWIRE_API in the header must be listed.
sed -n 's/^PUSHWIRE_API[^(]*[ *]\(pushwire_[a-z0-9_]*\)(.*/\1/p' capi/include/pushwire/pushwire.h | sort > "$tmp/declared"
if diff -u "$tmp/listed" "$tmp/declared" > "$tmp/diff2"; then ok; else bad "header declarations differ from capi/pushwire.sym"; cat "$tmp/diff2"; fi

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = "libpushwire.so.0" ]; then ok; else bad "soname is '$soname'"; fi

if readelf -d "$lib" | grep NEEDED | grep -q 'libstdc++'; then bad "libpushwire needs libstdc++"; else ok; fi

# Nothing but pushwire_ names may leak, even weak C++ template instances.
if nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^pushwire_' | grep -q .; then
  bad "non-pushwire symbols exported"; nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^pushwire_' | head
else ok; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
