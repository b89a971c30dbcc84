#!/usr/bin/env bash
# Python bindings against the C++ API on the same stored file, same run,
# alternating rounds, medians (docs/benchmarks.md, "Python bindings"):
#   warm 4 KiB pread   random 4 KiB reads within the first SPAN bytes of the
#                      file, after one pass over them (memory-cache hits): ns
#                      per call, C++ File::pread vs Python File.pread (bytes).
#                      Two spans: 1 MiB (the blocks stay in the CPU's caches:
#                      the cost of the call) and 32 MiB (half the memory cache:
#                      each read also pulls 4 KiB from DRAM)
#   sequential read    the whole file in order into one 1 MiB buffer:
#                      C++ File::pread vs Python File.readinto, each round on
#                      a fresh Store (cold memory cache, warm page cache)
#
#   bench/python_bench.sh [BUILD_DIR]     SIZE=1G ROUNDS=5 N=200000
#
# Needs the release build with the Python module (build/python) and the
# C++ side, api_read (scripts/build.sh -DHB_BENCH_COMPILE_CHECK=ON or
# -DHB_BUILD_BENCH=ON builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(readlink -f "${1:-build}")
SIZE=${SIZE:-1G}
ROUNDS=${ROUNDS:-5}
N=${N:-200000}
SEED=${SEED:-42}
DIR=${BENCH_DIR:-/var/tmp/hugeblob-bench}
PY=/usr/bin/python3
export PYTHONPATH=$BUILD/python
mkdir -p "$DIR"
[ -x "$BUILD/api_read" ] || { echo "no $BUILD/api_read: build with -DHB_BENCH_COMPILE_CHECK=ON" >&2; exit 1; }
cc -O2 -o "$DIR/gendata" bench/gendata.c
if [ ! -s "$DIR/usr.tar" ]; then
  { tar -cf - /usr/lib /usr/share 2>/dev/null || true; } | head -c $((2 << 30)) > "$DIR/usr.tar"
fi
IN=$DIR/in.blend.$SIZE
[ -s "$IN" ] || "$DIR/gendata" blend "$SIZE" "$SEED" "$DIR/usr.tar" > "$IN"
STORE=$DIR/pystore
rm -rf "$STORE"
"$BUILD/hugeblob" -q --store "$STORE" put "$IN" --name big
echo "input: $IN ($(stat -c %s "$IN") bytes, blend), store $STORE; load $(cut -d' ' -f1-3 /proc/loadavg)"

py_warm() {  # py_warm SPAN; prints: ns per File.pread
  $PY - "$STORE" "$N" "$1" <<'PYEOF'
import random, sys, time
import hugeblob
store, n, span = hugeblob.Store(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
f = store.open("big")
for off in range(0, span - 4096 + 1, 4096):
    f.pread(off, 4096)
rnd = random.Random(1)
offs = [rnd.randrange(span - 4096) for _ in range(n)]
def timed(pread):
    t = time.perf_counter_ns()
    for o in offs:
        pread(o, 4096)
    return (time.perf_counter_ns() - t) / n
print(f"{timed(f.pread):.1f}")
PYEOF
}
py_seq() {  # prints: seconds bytes
  $PY - "$STORE" <<'PYEOF'
import sys, time
import hugeblob
f = hugeblob.Store(sys.argv[1]).open("big")
buf = memoryview(bytearray(1 << 20))
t = time.perf_counter()
total = 0
while True:
    n = f.readinto(buf)
    if not n:
        break
    total += n
print(f"{time.perf_counter() - t:.6f} {total}")
PYEOF
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
: > "$DIR/cpp_seq"; : > "$DIR/py_seq"
SPANS="$((1 << 20)) $((32 << 20))"
for span in $SPANS; do : > "$DIR/cpp_warm.$span"; : > "$DIR/py_warm.$span"; done
for r in $(seq "$ROUNDS"); do
  line="round $r:"
  for span in $SPANS; do
    c=$("$BUILD/api_read" "$STORE" big warm4k "$N" "$span")
    p=$(py_warm "$span")
    echo "$c" >> "$DIR/cpp_warm.$span"; echo "$p" >> "$DIR/py_warm.$span"
    line+=$(printf "  4K in %2d MiB: C++ %6.1f ns, Python %6.1f ns;" $((span >> 20)) "$c" "$p")
  done
  read -r cs cb < <("$BUILD/api_read" "$STORE" big seq $((1 << 20)))
  read -r ps pb < <(py_seq)
  [ "$cb" = "$pb" ] || { echo "C++ read $cb bytes, Python $pb" >&2; exit 1; }
  echo "$cs" >> "$DIR/cpp_seq"; echo "$ps" >> "$DIR/py_seq"
  echo "$line$(printf "  seq: C++ %.3f s, Python %.3f s" "$cs" "$ps")"
done
cs=$(median < "$DIR/cpp_seq"); ps=$(median < "$DIR/py_seq")
mib=$(( $(stat -c %s "$IN") >> 20 ))
echo
echo "medians of $ROUNDS rounds                        C++       Python     ratio"
for span in $SPANS; do
  cw=$(median < "$DIR/cpp_warm.$span"); pw=$(median < "$DIR/py_warm.$span")
  awk -v c="$cw" -v p="$pw" -v s=$((span >> 20)) 'BEGIN {printf "warm 4 KiB pread in %2d MiB (ns/call)  %8.1f   %8.1f   %5.2fx\n", s, c, p, p / c}'
done
awk -v c="$cs" -v p="$ps" -v m="$mib" 'BEGIN {printf "sequential read of %d MiB (s)      %8.3f   %8.3f   %5.2fx  (%.0f vs %.0f MiB/s)\n", m, c, p, p / c, m / c, m / p}'
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
