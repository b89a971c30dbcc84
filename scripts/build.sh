#!/usr/bin/env bash
# Configures and builds into build/ (or $BUILD_DIR); the CLI ends up at build/hugeblob.
# Extra arguments go to cmake, e.g. scripts/build.sh -DHB_SANITIZE=address.
#
#   BUILD_TYPE=Debug scripts/build.sh          # default RelWithDebInfo (-O2, line tables: -g1)
#   scripts/build.sh -DHB_DEBUG_INFO=full      # -O2 with full DWARF, for a debugger
#   scripts/build.sh -DHB_BUILD_BENCH=ON       # also the Google Benchmark programs
#   BUILD_TARGETS="test_reader" scripts/build.sh   # only these targets (default: all)
#
# ccache is used when it is installed (HB_CCACHE=0 turns it off).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
launcher=()
if [ "${HB_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths below the source tree hash relative, so that two clones share hits.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "${launcher[@]}" "$@" >/dev/null
targets=()
[ -n "${BUILD_TARGETS:-}" ] && read -r -a targets <<< "$BUILD_TARGETS"
cmake --build "$BUILD_DIR" -j "$(nproc)" ${targets[@]:+--target "${targets[@]}"}
