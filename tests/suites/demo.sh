#!/bin/sh
# examples/demo_server as a real server: routing, limits, slow/half-open/misbehaving
# clients, SIGTERM. Usage: demo.sh BUILD_DIR. Ends with "N passed, M failed".
exec sh tests/interop/run.sh "${1:-build}" node demo_http.mjs 120
