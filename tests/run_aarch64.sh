#!/bin/sh
# `make test-aarch64` (run by .ci/run): the NEON paths (core/mask.*, core/utf8.cpp,
# core/sse_lines.hpp, the short step of core/ws_recv.cpp) on AArch64, and the whole-head pass
# of core/http_head.cpp with its portable classifier (http_head, ws_handshake: a handshake
# allocates only the handle there too). The core and the unit
# tests are cross-built with Debian's g++-aarch64-linux-gnu into BUILD_DIR/aarch64 and run
# under qemu-aarch64 (qemu-user). Only the tests that reach those paths, which compare them
# against byte loops, the scalar paths and the reference: the whole binary takes minutes
# under emulation, which is also why `make test` leaves this out. Usage: run_aarch64.sh BUILD_DIR.
BUILD=${1:-build}
XBUILD=$BUILD/aarch64
SYSROOT=/usr/aarch64-linux-gnu
fail_out() {
  echo "$1"
  echo "0 passed, 1 failed"
  exit 1
}
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || fail_out "aarch64-linux-gnu-g++ missing (g++-aarch64-linux-gnu)"
command -v qemu-aarch64 >/dev/null 2>&1 || fail_out "qemu-aarch64 missing (qemu-user)"

# A make of its own (not the jobserver or the variables of a `make test` around it), without
# sanitizers or debug info (it is only run, never debugged here).
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -j2 CXX=aarch64-linux-gnu-g++ CC=aarch64-linux-gnu-gcc \
  BUILD="$XBUILD" SANITIZE= SANFLAGS= OPT=-O2 CXXFLAGS= CFLAGS= CPPFLAGS= "$XBUILD/tests/unit" ||
  fail_out "cross build failed"

# The NEON paths are compiled in only where config.hpp defines PUSHWIRE_NEON: tests passing
# on the portable paths alone would prove nothing.
echo '#include "config.hpp"' | aarch64-linux-gnu-g++ -std=c++17 -Icore -Icapi/include -I"$XBUILD/include" -dM -E -x c++ - |
  grep -q 'define PUSHWIRE_NEON 1' || fail_out "PUSHWIRE_NEON is not defined for AArch64"

# One shard per core: under emulation these tests take minutes.
QEMU_LD_PREFIX=$SYSROOT exec sh tests/run_shards.sh \
  qemu-aarch64 "$XBUILD/tests/unit" mask_ utf8 sse_ ws_small ws_fragmented ws_next ws_frame http_head ws_handshake
