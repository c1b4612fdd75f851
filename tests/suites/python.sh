#!/bin/sh
# The Python binding's tests (bindings/python/tests, pytest) in a virtual environment under
# BUILD made with the `python3` on PATH: pytest, websockets, build and mypy from PyPI, and
# ./bindings/python installed the way a user does (pip install, not editable). Once per
# change of the sources, the sdist is also built and installed into a fresh venv in a temp
# directory with no checkout beside it. The venv and both installs are cached: they are
# redone only when the binding's or the core's sources change.
# Prints pytest's outcome as "N passed, M failed" (no tests at all counts as a failure).
BUILD=${1:-build}
ROOT=$(pwd)
VENV=$ROOT/$BUILD/python-venv
PY=$VENV/bin/python
fail_out() {
  echo "$1"
  echo "0 passed, 1 failed"
  exit 1
}
command -v python3 >/dev/null 2>&1 || fail_out "python3 is not on PATH"

# What the installed package depends on: the binding and the vendored core.
inputs=$( (find bindings/python -type f \( -path '*/build/*' -o -path '*/vendor/*' -o -path '*/dist/*' \
             -o -name '*.so' -o -path '*__pycache__*' -o -path '*.egg-info*' -o -path '*/tests/*' \) -prune \
             -o -type f -print; find core capi -type f; echo meson.build) | LC_ALL=C sort | xargs cat | sha256sum)
pyver=$(python3 -c 'import sys; print(sys.version)')
stamp=$VENV/.pushwire-stamp
want="$pyver $inputs"

if [ ! -x "$PY" ] || ! "$PY" -c 'import pytest, websockets, build, mypy' >/dev/null 2>&1 ||
   [ "$(head -n 1 "$VENV/.python" 2>/dev/null)" != "$pyver" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" || fail_out "python3 -m venv failed"
  echo "$pyver" > "$VENV/.python"
  "$PY" -m pip install -q pytest websockets build mypy >"$VENV/pip.log" 2>&1 ||
    { cat "$VENV/pip.log"; fail_out "pip install pytest websockets build mypy failed"; }
fi

if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -f "$stamp"
  echo "installing ./bindings/python into $VENV"
  "$PY" -m pip install -q --force-reinstall --no-deps ./bindings/python >"$VENV/pip.log" 2>&1 ||
    { cat "$VENV/pip.log"; fail_out "pip install ./bindings/python failed"; }
  # The sdist must carry vendor/ and install with no checkout beside it.
  tmp=$(mktemp -d)
  if ! "$PY" -m build --sdist --outdir "$tmp/dist" bindings/python >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log"; rm -rf "$tmp"; fail_out "python -m build --sdist failed"
  fi
  sdist=$(ls "$tmp"/dist/pushwire-*.tar.gz)
  mkdir "$tmp/elsewhere" && cp "$sdist" "$tmp/elsewhere/" && cd "$tmp/elsewhere" || fail_out "cannot copy the sdist"
  if ! tar tzf "$sdist" | grep -q '/vendor/core/unity.cpp$' ||
     ! python3 -m venv "$tmp/venv" ||
     ! "$tmp/venv/bin/python" -m pip install -q ./"$(basename "$sdist")" >"$tmp/pip.log" 2>&1 ||
     ! "$tmp/venv/bin/python" -c 'import pushwire, sys; c = pushwire.ServerConnection(handshake=False); c.receive_data(b"\x81\x80\0\0\0\0"); sys.exit(list(c.events()) != [pushwire.TextMessage("")])'; then
    cat "$tmp/pip.log" 2>/dev/null
    cd "$ROOT"; rm -rf "$tmp"
    fail_out "the sdist did not install and work in a fresh venv without a checkout"
  fi
  cd "$ROOT" && rm -rf "$tmp"
  echo "sdist: built, copied away from the checkout, installed into a fresh venv and imported"
  echo "$want" > "$stamp"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Run from the tests directory so `import pushwire` finds the installed package, not src/.
(cd bindings/python/tests && PUSHWIRE_REPO=$ROOT "$PY" -m pytest -q -p no:cacheprovider -o addopts= . ) >"$log" 2>&1
status=$?
tail -n 40 "$log"
summary=$(grep -E '^=*[ ]*[0-9]+ (passed|failed|error)' "$log" | tail -n 1)
count() { echo "$summary" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' | head -n 1; }
passed=$(count passed)
failed=$(count failed)
errors=$(count 'errors?')
passed=${passed:-0}
failed=$(( ${failed:-0} + ${errors:-0} ))
if [ "$status" -eq 5 ] || { [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
  echo "pytest exited with status $status"
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
