#!/bin/sh
# Node `ws` as client of the demo's /echo and as server for pushwire's C client, and
# `eventsource-parser` reading /events. Usage: interop_node.sh BUILD_DIR.
exec sh tests/interop/run.sh "${1:-build}" node node_interop.mjs 120
