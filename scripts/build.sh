#!/usr/bin/env bash
# Configures and builds into build/ (or $BUILD_DIR); the CLI ends up at build/hugeblob.
# Extra arguments go to cmake, e.g. scripts/build.sh -DHB_SANITIZE=address.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
