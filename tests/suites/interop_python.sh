#!/bin/sh
# Python `websockets` as client of the demo's /echo and as server for pushwire's C
# clients (tests/tools/ws_peer, examples/ws_client). Usage: interop_python.sh BUILD_DIR.
exec sh tests/interop/run.sh "${1:-build}" python py_interop.py 120
