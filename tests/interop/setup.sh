#!/bin/sh
# Installs what the interop and browser suites need, once per lock file:
#   setup.sh BUILD_DIR node     npm ci in tests/interop (playwright-core, ws, eventsource-parser)
#   setup.sh BUILD_DIR python   a venv in BUILD_DIR/interop/venv with requirements.txt
# Chromium itself comes from Debian (.ci/install-deps); no browser is ever downloaded.
here=$(cd "$(dirname "$0")" && pwd)
build=$1
case $2 in
  node)
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
      echo "setup: node and npm are needed (.ci/install-deps installs them)"
      exit 1
    fi
    stamp=$here/node_modules/.pushwire-lock
    cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null && exit 0
    # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core downloads nothing anyway; belt and braces.
    (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 300 npm ci --no-audit --no-fund --loglevel=error) || {
      echo "setup: npm ci failed"
      exit 1
    }
    cp "$here/package-lock.json" "$stamp"
    ;;
  python)
    venv=$build/interop/venv
    stamp=$venv/.pushwire-requirements
    cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null && exit 0
    rm -rf "$venv"
    mkdir -p "$build/interop"
    python3 -m venv "$venv" || {
      echo "setup: python3 -m venv failed (Debian: apt-get install python3-venv)"
      exit 1
    }
    timeout 300 "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" || {
      echo "setup: pip install failed"
      exit 1
    }
    cp "$here/requirements.txt" "$stamp"
    ;;
  *)
    echo "usage: setup.sh BUILD_DIR node|python"
    exit 2
    ;;
esac
