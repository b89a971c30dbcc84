#!/usr/bin/env bash
# Installs, builds and runs the whole test suite:
#   1. release build: unit tests, CLI round trips, S3 (s3rver), FUSE, benchmarks compile
#   2. ASan+UBSan build: unit tests and the end-to-end scripts in quick mode (HB_QUICK=1)
#   3. fuzzers: each decoder briefly (FUZZ_SECONDS, default 10)
# Set HB_SKIP_ASAN=1 or HB_SKIP_FUZZ=1 to skip a stage locally.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

echo "== build (RelWithDebInfo)" >&2
BUILD_DIR=build scripts/build.sh -DHB_BUILD_TESTS=ON -DHB_BUILD_BENCH=ON -DHB_SANITIZE=
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== tests" >&2
ctest --test-dir build --output-on-failure -j2 --timeout 1200 | tee -a "$log"

if [ "${HB_SKIP_ASAN:-0}" != 1 ]; then
  echo "== build (ASan+UBSan)" >&2
  BUILD_DIR=build-asan scripts/build.sh -DHB_SANITIZE=address -DHB_BUILD_TESTS=ON -DHB_BUILD_BENCH=OFF
  echo "== tests under ASan+UBSan" >&2
  HB_QUICK=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j2 --timeout 1800 -L "unit|e2e" | tee -a "$log"
fi

if [ "${HB_SKIP_FUZZ:-0}" != 1 ] && [ -x scripts/fuzz.sh ]; then
  echo "== fuzzers" >&2
  # In CI a fixed seed keeps the run repeatable; locally each run explores anew.
  if [ "${CI:-}" = true ]; then export FUZZ_SEED=${FUZZ_SEED:-1}; fi
  FUZZ_SECONDS=${FUZZ_SECONDS:-10} scripts/fuzz.sh
fi
# One closing line for the whole run (ctest stops the script above on failure).
total=$(grep -Eo 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | awk '{s += $NF} END {print s+0}')
echo "all: $total passed, 0 failed"
