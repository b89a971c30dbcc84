#!/usr/bin/env bash
# Python bindings against the C++ API on the same stored file, same run,
# alternating rounds, medians (docs/benchmarks.md, "Python bindings"):
#   warm 4 KiB pread   random 4 KiB reads within the first 32 MiB of the file,
#                      after one pass over them (memory-cache hits): ns per
#                      call, C++ File::pread vs Python File.pread (bytes), and
#                      the binding alone (Reader.pread, no io wrapper)
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
SPAN=$((32 << 20))
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

py_warm() {  # prints: ns per File.pread, ns per Reader.pread
  $PY - "$STORE" "$N" "$SPAN" <<'PYEOF'
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
print(f"{timed(f.pread):.1f} {timed(f._r.pread):.1f}")
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
: > "$DIR/cpp_warm"; : > "$DIR/py_warm"; : > "$DIR/py_raw"; : > "$DIR/cpp_seq"; : > "$DIR/py_seq"
for r in $(seq "$ROUNDS"); do
  c=$("$BUILD/api_read" "$STORE" big warm4k "$N" "$SPAN")
  read -r p raw < <(py_warm)
  read -r cs cb < <("$BUILD/api_read" "$STORE" big seq $((1 << 20)))
  read -r ps pb < <(py_seq)
  [ "$cb" = "$pb" ] || { echo "C++ read $cb bytes, Python $pb" >&2; exit 1; }
  echo "$c" >> "$DIR/cpp_warm"; echo "$p" >> "$DIR/py_warm"; echo "$raw" >> "$DIR/py_raw"
  echo "$cs" >> "$DIR/cpp_seq"; echo "$ps" >> "$DIR/py_seq"
  printf "round %d: warm 4K pread C++ %7.1f ns  Python %7.1f ns (binding %7.1f)   seq C++ %6.3f s  Python %6.3f s\n" \
    "$r" "$c" "$p" "$raw" "$cs" "$ps"
done
cw=$(median < "$DIR/cpp_warm"); pw=$(median < "$DIR/py_warm"); pr=$(median < "$DIR/py_raw")
cs=$(median < "$DIR/cpp_seq"); ps=$(median < "$DIR/py_seq")
mib=$(( $(stat -c %s "$IN") >> 20 ))
echo
echo "medians of $ROUNDS rounds                      C++        Python     ratio"
awk -v c="$cw" -v p="$pw" 'BEGIN {printf "warm 4 KiB pread (ns/call)          %8.1f   %8.1f   %5.2fx\n", c, p, p / c}'
awk -v c="$cw" -v p="$pr" 'BEGIN {printf "  binding alone (Reader.pread)      %8.1f   %8.1f   %5.2fx\n", c, p, p / c}'
awk -v c="$cs" -v p="$ps" -v m="$mib" 'BEGIN {printf "sequential read of %d MiB (s)     %8.3f   %8.3f   %5.2fx  (%.0f vs %.0f MiB/s)\n", m, c, p, p / c, m / c, m / p}'
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
