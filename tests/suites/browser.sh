#!/bin/sh
# The demo page in headless Chromium (Debian's /usr/bin/chromium via playwright-core):
# two tabs, chat, SSE feed, server restart with Last-Event-ID resume, /echo from the
# browser's WebSocket; screenshot in BUILD_DIR/interop/demo.png. Usage: browser.sh BUILD_DIR.
exec sh tests/interop/run.sh "${1:-build}" node browser.mjs 150
