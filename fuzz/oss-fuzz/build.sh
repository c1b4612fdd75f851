#!/bin/bash -eu
# The single OSS-Fuzz entry point (projects/pushwire/build.sh runs this from $SRC/pushwire).
# Uses OSS-Fuzz's $CC $CXX $CFLAGS $CXXFLAGS $LIB_FUZZING_ENGINE and writes to $OUT: one
# binary per fuzz/fuzz_*.cpp, its dictionary and its seed corpus as NAME_seed_corpus.zip.
cd "$(dirname "$0")/../.."
build="${WORK:-/tmp}/pushwire-build"
# The core is built without RTTI, which UBSan's vptr check needs.
flags="$CXXFLAGS -fno-sanitize=vptr"
# The ordinary Makefile builds the library (and version.h) with OSS-Fuzz's flags.
make -j"$(nproc)" BUILD="$build" CXX="$CXX" CC="$CC" OPT= SANFLAGS="$CXXFLAGS" CXXFLAGS=-fno-sanitize=vptr \
  "$build/libpushwire.a"
for src in fuzz/fuzz_*.cpp; do
  name=$(basename "$src" .cpp)
  $CXX $flags -std=c++17 -fno-exceptions -fno-rtti -Icapi/include -I"$build/include" -Icore -Ifuzz -Itests \
    -c "$src" -o "$build/$name.o"
  $CXX $flags -o "$OUT/$name" "$build/$name.o" "$build/libpushwire.a" $LIB_FUZZING_ENGINE
  case $name in
    *sse*) cp fuzz/dict/sse.dict "$OUT/$name.dict" ;;
    fuzz_utf8) ;;
    *) cp fuzz/dict/websocket.dict "$OUT/$name.dict" ;;
  esac
  if [ -d "fuzz/corpus/$name" ]; then
    (cd "fuzz/corpus/$name" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
  fi
done
