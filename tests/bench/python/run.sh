#!/bin/sh
# The Python benchmark report (not a test): makes build/python-bench-venv with the current
# PyPI releases of wsproto, websockets (with its C speedups) and sseclient-py, installs
# ./bindings/python, generates the workloads (tests/bench/prepare.sh) and runs bench.py.
#   sh tests/bench/python/run.sh [bench.py options, e.g. --subset tenth --rounds 5]
set -e
VENV=$(pwd)/build/python-bench-venv
DIR=${BENCH_DIR:-/tmp/pushwire-bench}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade wsproto websockets sseclient-py
"$VENV/bin/python" -m pip install -q --force-reinstall --no-deps ./bindings/python
sh tests/bench/prepare.sh "$DIR"
mkdir -p build/bench
OUT=$(pwd)/build/bench/python.jsonl
cd tests/bench/python  # import the installed pushwire, not bindings/python/src
exec "$VENV/bin/python" bench.py --dir "$DIR" --out "$OUT" "$@"
