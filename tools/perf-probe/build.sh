#!/bin/sh
# Build tools/perf-probe and tools/malloc-count against a build directory
# (default build-bench/, the release build of bench/run):
#   tools/perf-probe/build.sh [BUILD_DIR]
# Results: BUILD_DIR/perf-probe/{perf-probe,malloc-count.so}. Example:
#   B=build-bench/perf-probe
#   LD_PRELOAD=$B/malloc-count.so $B/perf-probe direct --sim build-bench/tools/lingma-sim/lingma-sim
#   LD_PRELOAD=$B/malloc-count.so $B/perf-probe gateway --sim ... --gateway ...
# (under LD_PRELOAD the gateway and its simulator are counted too; the
# probe reads only the process under test's counter).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-bench}
out="$build/perf-probe"
mkdir -p "$out"
cc=${CC:-cc}
$cc -std=c11 -O2 -Wall -Wextra -fPIC -shared -o "$out/malloc-count.so" \
  "$root/tools/malloc-count/malloc-count.c" -ldl
$cc -std=c11 -O2 -Wall -Wextra -Wno-missing-field-initializers -I"$root/include" -I"$build/include" -o "$out/perf-probe" \
  "$root/tools/perf-probe/perf-probe.c" -L"$build/liblingma" -Wl,-rpath,"$build/liblingma" \
  -llingma -lpthread
echo "$out"
