#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/*_fuzz.cc, clang, ASan+UBSan) into
# build-fuzz, seeds a corpus with valid objects written by the fuzzers
# themselves (HB_FUZZ_WRITE_SEEDS), and runs each fuzzer for FUZZ_SECONDS
# (default 15). Exits non-zero if any fuzzer finds a crash, sanitizer error,
# timeout or out-of-memory; the reproducer is left in build-fuzz/artifacts/.
#
#   scripts/fuzz.sh                   # all fuzzers, 15 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh manifest_fuzz
#
# The corpus in build-fuzz/corpus/<fuzzer> is kept between runs, so coverage
# accumulates.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-15}
jobs=${FUZZ_BUILD_JOBS:-$(nproc)}

if [[ $# -gt 0 ]]; then
  fuzzers=("$@")
else
  fuzzers=()
  for f in "$root"/fuzz/*_fuzz.cc; do fuzzers+=("$(basename "$f" .cc)"); done
fi

# Only the decoders are instrumented (CMakeLists.txt, HB_FUZZ): this builds
# them, what they call, and the fuzz targets; not the rest of the library.
launcher=()
if [ "${HB_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DHB_FUZZ=ON "${launcher[@]}" \
  -DHB_BUILD_TESTS=OFF -DHB_BUILD_BENCH=OFF -DHB_BENCH_COMPILE_CHECK=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" -j"$jobs" "${fuzzers[@]}"

# Abort on the first sanitizer report so libFuzzer saves the input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Each fuzzer is one process on one core: FUZZ_JOBS (default: the cores)
# run at once, each for FUZZ_SECONDS; their reports print in order.
run_one() {  # run_one FUZZER: runs it, writes its report to $build/FUZZER.report
  local t=$1
  local corpus=$build/corpus/$t seeds=$build/seeds/$t artifacts=$build/artifacts/$t
  local log=$build/$t.log report=$build/$t.report
  rm -rf "$seeds"
  mkdir -p "$corpus" "$seeds" "$artifacts"
  HB_FUZZ_WRITE_SEEDS=$seeds "$build/$t"
  echo "== $t: $(ls "$seeds" | wc -l) seeds, $(ls "$corpus" | wc -l) corpus inputs, ${seconds}s" >"$report"
  # -timeout: a decoder that takes a second on a small input is a bug (a
  # loop that does not terminate or an allocation proportional to a claim).
  # FUZZ_SEED makes a run repeatable (CI sets it); unset, every run explores anew.
  local seed_arg=()
  [ -n "${FUZZ_SEED:-}" ] && seed_arg=(-seed="$FUZZ_SEED")
  if "$build/$t" "${seed_arg[@]}" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds" >"$log" 2>&1; then
    local execs cov
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    echo "   ok: ${execs:-?} runs, ${cov:-cov: ?}" >>"$report"
  else
    { echo "   FAILED (log: $log, reproducer in $artifacts/):"
      grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 || tail -30 "$log"
    } >>"$report"
    return 1
  fi
}

fuzz_jobs=${FUZZ_JOBS:-$(nproc)}
failed=()
for t in "${fuzzers[@]}"; do
  rm -f "$build/$t.report"
  while [ "$(jobs -rp | wc -l)" -ge "$fuzz_jobs" ]; do wait -n || true; done
  run_one "$t" &
done
wait || true
for t in "${fuzzers[@]}"; do
  # A fuzzer that failed, or died before it wrote its report, failed.
  if [ ! -s "$build/$t.report" ] || ! grep -q '^   ok: ' "$build/$t.report"; then failed+=("$t"); fi
  cat "$build/$t.report" 2>/dev/null || echo "== $t: no report (the run did not finish)"
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: ${#failed[@]} fuzzer(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#fuzzers[@]} fuzzers passed"
