#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (what CI runs; docs/ci.md):
#   release  RelWithDebInfo build (-O2 -g1): clang-tidy on the changed files
#            (scripts/tidy.sh), unit tests, CLI round trips, S3 (s3rver),
#            FUSE; the benchmark programs compile (-O0, not run)
#   asan     ASan+UBSan build: unit tests and the end-to-end scripts in quick
#            mode (HB_QUICK=1)
#   tsan     ThreadSanitizer build of the layers with concurrency stress tests
#            (reader and its caches, the put pipeline, queues and pools): the
#            tests labelled "stress" only
#   fuzz     each decoder's fuzzer briefly (FUZZ_SECONDS, default 6)
# HB_STAGES picks stages (default "release asan tsan fuzz"), e.g.
# HB_STAGES=tsan scripts/test.sh; HB_SKIP_ASAN=1, HB_SKIP_TSAN=1 and
# HB_SKIP_FUZZ=1 skip one. Each stage builds in its own directory (build,
# build-asan, build-tsan, build-fuzz), with ccache when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

STAGES=" ${HB_STAGES:-release asan tsan fuzz} "
[ "${HB_SKIP_ASAN:-0}" = 1 ] && STAGES=${STAGES/ asan / }
[ "${HB_SKIP_TSAN:-0}" = 1 ] && STAGES=${STAGES/ tsan / }
[ "${HB_SKIP_FUZZ:-0}" = 1 ] && STAGES=${STAGES/ fuzz / }
want() { [[ "$STAGES" == *" $1 "* ]]; }
# ctest's parallelism. Most of a test run is waiting (servers, timeouts,
# expiring credentials, FUSE round trips), not computing: three tests per
# core keep the cores busy; the end-to-end scripts that compute a lot take two
# slots each (PROCESSORS in CMakeLists.txt).
CTEST_J=${HB_CTEST_J:-$(( $(nproc) * 3 ))}
# Seconds before ctest calls a test hung (HB_TEST_TIMEOUT).
TEST_TIMEOUT=${HB_TEST_TIMEOUT:-600}

log=$(mktemp)
# The times are printed on failure too (a failed stage is often the slow one).
times_printed=0
trap '[ "$times_printed" = 1 ] || print_times; rm -f "$log"' EXIT
# Wall time of each step, printed together at the end.
step_times=()
t_start=$SECONDS
# Times mean little without the load: other jobs on the machine slow every step.
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
t_mark=$SECONDS
# CPU seconds (user + system) of every finished child process so far: unlike
# wall time, hardly changed by other jobs on the machine.
cpu_now() {  # sets CPU_NOW; not $(cpu_now): a subshell has no children yet
  local f
  f=$(mktemp)
  times >"$f"  # the builtin, in this shell: line 2 is the children's
  CPU_NOW=$(awk 'NR == 2 { split($0, t, /[ms ]+/); print int(t[1] * 60 + t[2] + t[3] * 60 + t[4]) }' "$f")
  rm -f "$f"
}
c_mark=0
t_step=""
print_times() {
  echo "== wall time per step" >&2
  cpu_now
  for t in "${step_times[@]}"; do echo "   $t" >&2; done
  if [ -n "$t_step" ]; then  # stopped by a failure in this step
    printf '   %-22s %5d s wall %6d s CPU (failed)\n' "$t_step" $((SECONDS - t_mark)) $((CPU_NOW - c_mark)) >&2
  fi
  printf '   %-22s %5d s wall %6d s CPU\n' total $((SECONDS - t_start)) "$CPU_NOW" >&2
  echo "   load average (1/5/15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"); $(nproc) cores" >&2
}
step() {  # step TITLE: starts timing a step
  echo "== $1" >&2
  t_step=$1
  t_mark=$SECONDS
  cpu_now
  c_mark=$CPU_NOW
}
done_step() {  # done_step NAME: records the step's wall and CPU time under NAME
  t_step=""
  cpu_now
  step_times+=("$(printf '%-22s %5d s wall %6d s CPU' "$1" $((SECONDS - t_mark)) $((CPU_NOW - c_mark)))")
}

step "install-deps"
scripts/install-deps.sh
done_step "install-deps"

if want release; then
  step "build (RelWithDebInfo)"
  BUILD_DIR=build scripts/build.sh -DHB_UNITY_BUILD=ON -DHB_BUILD_TESTS=ON -DHB_BUILD_BENCH=OFF -DHB_BENCH_COMPILE_CHECK=ON -DHB_SANITIZE=
  done_step "release build"
  # clang-tidy on the C++ files the last session changed (scripts/tidy.sh).
  step "clang-tidy (changed files)"
  scripts/tidy.sh
  done_step "clang-tidy"
  step "tests"
  # A test hung past this is a failure, found in minutes rather than half an
  # hour: the longest test takes 80 s here under ASan (sh_versions), and a
  # FUSE self-deadlock once held the ASan stage for the whole 1800 s then.
  ctest --test-dir build --output-on-failure -j"$CTEST_J" --timeout "$TEST_TIMEOUT" | tee -a "$log"
  done_step "release tests"
fi

if want asan; then
  # At -O0: ASan+UBSan compiles in 60% of the CPU time of -O1 (the largest
  # unity source: 34 s vs 55 s), and the tests it runs are in quick mode.
  step "build (ASan+UBSan)"
  BUILD_DIR=build-asan scripts/build.sh -DHB_UNITY_BUILD=ON -DHB_SANITIZE=address -DHB_SANITIZE_OPT=-O0 -DHB_BUILD_TESTS=ON -DHB_BUILD_BENCH=OFF -DHB_BENCH_COMPILE_CHECK=OFF
  done_step "asan build"
  step "tests under ASan+UBSan"
  HB_QUICK=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$CTEST_J" --timeout "$TEST_TIMEOUT" -L "unit|stress|e2e" | tee -a "$log"
  done_step "asan tests"
fi

if want tsan; then
  # Only the test binaries of the layers whose tests race threads on shared
  # state (CMakeLists.txt: HB_TSAN_LAYERS, HB_STRESS_TESTS), not the CLI.
  step "build (ThreadSanitizer)"
  BUILD_DIR=build-tsan BUILD_TARGETS="test_util test_reader test_writer test_ops" scripts/build.sh \
    -DHB_UNITY_BUILD=ON -DHB_SANITIZE=thread -DHB_BUILD_TESTS=ON -DHB_BUILD_BENCH=OFF -DHB_BENCH_COMPILE_CHECK=OFF
  done_step "tsan build"
  step "stress tests under ThreadSanitizer"
  # BLAKE3's C dispatch (third party) detects CPU features lazily into a plain
  # global, g_cpu_features: a benign race, every thread stores the same value.
  # spdlog's registry is a function-local static inside libspdlog.so, which
  # is not instrumented: TSan does not see the guard that orders its
  # construction before the first log call of another thread.
  printf '%s\n' "race:get_cpu_features" "race:spdlog::details::registry" "race:libspdlog.so" \
    > build-tsan/tsan.supp
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/build-tsan/tsan.supp" \
    ctest --test-dir build-tsan --output-on-failure -j2 --timeout "$TEST_TIMEOUT" -L stress | tee -a "$log"
  done_step "tsan tests"
fi

if want fuzz; then
  step "fuzzers"
  # In CI a fixed seed keeps the run repeatable; locally each run explores anew.
  if [ "${CI:-}" = true ]; then export FUZZ_SEED=${FUZZ_SEED:-1}; fi
  FUZZ_SECONDS=${FUZZ_SECONDS:-6} scripts/fuzz.sh
  done_step "fuzz (build + run)"
fi

print_times
times_printed=1
# One closing line for the whole run: the tests of every ctest run above
# (ctest stops the script on a failure, so what is counted passed).
total=$({ grep -Eo 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" || true; } | awk '{s += $NF} END {print s+0}')
echo "all: $total passed, 0 failed"
