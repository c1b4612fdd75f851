#!/bin/sh
# `make test-x86-baseline` (run by .ci/run): the SSE2 paths that x86-64 machines without AVX2
# (or BMI) take. Every AVX2 path is chosen at run time (__builtin_cpu_supports), so on an AVX2
# host its SSE2 twin is reached only by the few tests that call it by name; here the same unit
# binary that `make test` built runs under qemu-x86_64 emulating a plain x86-64 CPU (qemu64:
# SSE2/SSE3, no AVX), so the handshake's whole-head pass, the SSE parser's feed-time walk and
# writer, UTF-8 and unmasking go through their SSE2 paths end to end. Only the groups that
# reach those paths: the whole binary takes minutes under emulation. Usage: run_x86_baseline.sh BUILD_DIR.
BUILD=${1:-build}
fail_out() {
  echo "$1"
  echo "0 passed, 1 failed"
  exit 1
}
case $(uname -m) in x86_64) ;; *) fail_out "not an x86-64 host" ;; esac
command -v qemu-x86_64 >/dev/null 2>&1 || fail_out "qemu-x86_64 missing (qemu-user)"
[ -x "$BUILD/tests/unit" ] || fail_out "$BUILD/tests/unit missing (make first)"

# Tests passing while the emulated CPU still offered AVX2 would prove nothing: a probe built
# here must see neither AVX2 nor BMI2 under the same emulation.
probe=$BUILD/tests/cpu_probe
printf '%s\n' 'int main(void) { __builtin_cpu_init();' \
  '  return __builtin_cpu_supports("avx2") || __builtin_cpu_supports("bmi2") || !__builtin_cpu_supports("sse2"); }' |
  ${CC:-cc} -x c -o "$probe" - || fail_out "cpu probe does not build"
qemu-x86_64 -cpu qemu64 "$probe" || fail_out "the emulated CPU offers AVX2 or BMI2, or lacks SSE2"

# utf8 and mask_ do not choose a path by name, so on an AVX2 host their SSE2 loops beyond the
# shortest lengths never ran before this; the SSE tests already hold both widths by name
# (set_feed_avx2, the writer entries), so only their end-to-end comparisons come along.
exec sh tests/run_shards.sh \
  qemu-x86_64 -cpu qemu64 "$BUILD/tests/unit" mask_ utf8 http_head ws_handshake ws_small ws_far ws_text ws_frame ws_mid \
  sse_feed_parsing_matches_lazy sse_writer vs_reference
