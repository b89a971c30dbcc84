#!/usr/bin/env bash
# put and get side by side with the tools users would otherwise run, on the
# same input, in the same run, alternating, medians of ROUNDS:
#
#   job                  hugeblob                      competitor (alone, as users run it)
#   put --level 1        put IN (empty store)          zstd -1 -T2 -f IN -o OUT
#   put (defaults)       put IN (empty store)          zstd -3 -T2 -f IN -o OUT
#   get                  get NAME OUT (fsync inside)   zstd -d -f IN.zst -o OUT && sync OUT
#   put unchanged        put IN again (same store)     restic backup --force IN (repo has it)
#
# Each row: wall, user and system CPU, minor page faults, peak RSS, and the
# busy ratio (CPU seconds / wall / cores). Then peak RSS of put from a file
# and from standard input at RSS_SIZES (hugeblob alone, defaults).
#
# BREAKDOWN=1: where each hugeblob job's CPU goes (compress, decompress,
# hash, chunk, kernel IO, other), from one extra run of each under `perf
# record`, classified by symbol: bench/out/put_get_cpu.tsv.
# SWEEP="256M 1G 4G": put (defaults) and get against zstd at each size
# (ROUNDS rounds, medians), and the plot bench/out/put_get_sizes.png of
# throughput by size (needs python3-matplotlib).
#
#   bench/put_get.sh [path/to/hugeblob]
#   SIZE=2G DATA=blend ROUNDS=3 RSS_SIZES="1G 4G 16G" bench/put_get.sh
#   BREAKDOWN=1 SWEEP="256M 1G 4G 8G" RSS_SIZES= bench/put_get.sh
#
# DATA: blend (default; 60% a tar of /usr/lib and /usr/share, 20% zeros, 20%
# random, in 64 MiB pieces: bench/gendata.c), random, or mixed. Input is read
# from the page cache (warmed before each command), output goes to the same
# disk ($BENCH_DIR, default /var/tmp/hugeblob-bench). Needs zstd and restic
# (scripts/install-deps.sh --bench).
set -euo pipefail
cd "$(dirname "$0")/.."
HB=$(readlink -f "${1:-build/hugeblob}")
SIZE=${SIZE:-2G}
DATA=${DATA:-blend}
ROUNDS=${ROUNDS:-3}
RSS_SIZES=${RSS_SIZES-"1G 4G"}
SEED=${SEED:-42}
CORES=$(nproc)
DIR=${BENCH_DIR:-/var/tmp/hugeblob-bench}
mkdir -p "$DIR" bench/out
cc -O2 -o "$DIR/gendata" bench/gendata.c
export RESTIC_PASSWORD=bench
OUT=bench/out/put_get.tsv
RAW=bench/out/put_get_raw.tsv

if [ ! -s "$DIR/usr.tar" ]; then
  { tar -cf - /usr/lib /usr/share 2>/dev/null || true; } | head -c $((2 << 30)) > "$DIR/usr.tar"
fi
IN=$DIR/in.$DATA.$SIZE
if [ ! -s "$IN" ]; then
  case $DATA in
    blend | mixed) "$DIR/gendata" "$DATA" "$SIZE" "$SEED" "$DIR/usr.tar" > "$IN" ;;
    random) "$DIR/gendata" random "$SIZE" "$SEED" > "$IN" ;;
  esac
fi
BYTES=$(stat -c %s "$IN")
warm() { cat "$1" > /dev/null; }

# timed JOB TOOL CMD...: runs CMD (stdout discarded), appends a raw row.
timed() {
  local job=$1 tool=$2; shift 2
  sync
  /usr/bin/time -f "%e %U %S %R %M" -o "$DIR/time.txt" "$@" > /dev/null 2> "$DIR/stderr.txt" ||
    { cat "$DIR/stderr.txt" >&2; return 1; }
  read -r wall user sys faults rss < "$DIR/time.txt"
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$job" "$tool" "$wall" "$user" "$sys" "$faults" "$rss" >> "$RAW"
  printf "  %-14s %-22s %6.2f s  user %5.2f  sys %5.2f  faults %7d  rss %4d MiB\n" \
    "$job" "$tool" "$wall" "$user" "$sys" "$faults" $((rss / 1024)) >&2
}

printf "job\ttool\twall\tuser\tsys\tfaults\trss_kb\n" > "$RAW"
echo "== $DATA $SIZE ($BYTES bytes), $ROUNDS rounds, $CORES cores" >&2
for round in $(seq "$ROUNDS"); do
  echo "round $round" >&2
  for level in 1 3; do
    job="put -$level"; [ $level = 3 ] && job="put default"
    lvl=(); [ $level = 1 ] && lvl=(--level 1)
    rm -rf "$DIR/hb"; warm "$IN"
    timed "$job" hugeblob "$HB" --store "$DIR/hb" put "$IN" --name bench "${lvl[@]}"
    rm -f "$DIR/out.zst"; warm "$IN"
    timed "$job" "zstd -$level -T2" zstd -q -$level -T2 -f "$IN" -o "$DIR/out.zst"
  done
  # get: the store and the .zst from the default-level puts above.
  rm -f "$DIR/out"
  timed get hugeblob "$HB" --store "$DIR/hb" get bench "$DIR/out"
  cmp "$IN" "$DIR/out"
  rm -f "$DIR/out"
  timed get "zstd -d && sync" bash -c "zstd -q -d -f '$DIR/out.zst' -o '$DIR/out' && sync '$DIR/out'"
  rm -f "$DIR/out"
  # unchanged: a second put of the same file into a store that holds it.
  warm "$IN"
  timed "put unchanged" hugeblob "$HB" --store "$DIR/hb" put "$IN" --name again
  if command -v restic > /dev/null; then
    if [ ! -d "$DIR/restic" ]; then
      restic -q -r "$DIR/restic" init > /dev/null
      restic -q -r "$DIR/restic" backup "$IN" > /dev/null
    fi
    warm "$IN"
    timed "put unchanged" "restic backup --force" restic -q -r "$DIR/restic" backup --force "$IN"
  fi
done
rm -rf "$DIR/hb" "$DIR/restic" "$DIR/out.zst" "$DIR/out"

# Medians and ratios.
python3 - "$RAW" "$OUT" "$BYTES" "$CORES" <<'PY'
import csv, statistics, sys
raw, out, nbytes, cores = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rows = list(csv.DictReader(open(raw), delimiter="\t"))
med = {}
for job in dict.fromkeys(r["job"] for r in rows):
    for tool in dict.fromkeys(r["tool"] for r in rows if r["job"] == job):
        rs = [r for r in rows if r["job"] == job and r["tool"] == tool]
        m = {k: statistics.median(float(r[k]) for r in rs) for k in ("wall", "user", "sys", "faults", "rss_kb")}
        m["n"] = len(rs)
        med.setdefault(job, {})[tool] = m
gib = nbytes / 2**30
with open(out, "w") as f:
    f.write("job\ttool\twall_s\tMiB_per_s\tuser_s\tsys_s\tbusy\tfaults_per_GiB\trss_MiB\tspeed_vs_competitor\n")
    print(f"\n{'job':<14} {'tool':<22} {'wall':>7} {'MiB/s':>6} {'user':>6} {'sys':>6} {'busy':>5} {'faults/GiB':>10} {'RSS MiB':>7} {'ratio':>6}")
    for job, tools in med.items():
        hb = tools.get("hugeblob")
        for tool, m in tools.items():
            busy = (m["user"] + m["sys"]) / m["wall"] / cores if m["wall"] > 0 else 0
            mbps = nbytes / 2**20 / m["wall"] if m["wall"] > 0 else 0
            ratio = ""
            if tool == "hugeblob":
                others = [o for t, o in tools.items() if t != "hugeblob"]
                if others:
                    ratio = f"{others[0]['wall'] / m['wall']:.2f}x"
            f.write(f"{job}\t{tool}\t{m['wall']:.2f}\t{mbps:.0f}\t{m['user']:.2f}\t{m['sys']:.2f}\t{busy:.2f}\t{m['faults'] / gib:.0f}\t{m['rss_kb'] / 1024:.0f}\t{ratio}\n")
            print(f"{job:<14} {tool:<22} {m['wall']:>6.2f}s {mbps:>6.0f} {m['user']:>6.2f} {m['sys']:>6.2f} {busy:>5.2f} {m['faults'] / gib:>10.0f} {m['rss_kb'] / 1024:>7.0f} {ratio:>6}")
print("\nratio: competitor wall / hugeblob wall (>1: hugeblob faster); busy: CPU s / wall / cores")
PY

# Peak RSS of put at the defaults, from a file and from standard input.
if [ -n "$RSS_SIZES" ]; then
  echo >&2
  printf "size\tfrom\tpeak_rss_MiB\twall_s\n" > bench/out/put_rss.tsv
  for s in $RSS_SIZES; do
    f=$DIR/rss.$s
    "$DIR/gendata" blend "$s" "$SEED" "$DIR/usr.tar" > "$f"
    for from in file stdin; do
      rm -rf "$DIR/hb"
      if [ $from = file ]; then
        /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$HB" --store "$DIR/hb" put "$f" --name r > /dev/null
      else
        /usr/bin/time -f "%e %M" -o "$DIR/time.txt" bash -c "'$HB' --store '$DIR/hb' put - --name r < '$f'" > /dev/null
      fi
      read -r wall rss < "$DIR/time.txt"
      printf "%s\t%s\t%d\t%s\n" "$s" "$from" $((rss / 1024)) "$wall" | tee -a bench/out/put_rss.tsv
    done
    rm -f "$f"
  done
  rm -rf "$DIR/hb"
fi

# --- CPU breakdown -----------------------------------------------------------
if [ "${BREAKDOWN:-0}" = 1 ] && command -v perf > /dev/null; then
  echo >&2
  printf "job\tcompress\tdecompress\thash\tchunk\tkernel_io\tother\tsamples\n" > bench/out/put_get_cpu.tsv
  breakdown() {  # breakdown JOB CMD...: one run under perf, shares by symbol class
    local job=$1; shift
    perf record -q -o "$DIR/perf.data" "$@" > /dev/null 2>&1
    perf report -i "$DIR/perf.data" --no-children --sort dso,sym --stdio 2> /dev/null |
      python3 -c '
import re, sys
job = sys.argv[1]
cls = dict(compress=0.0, decompress=0.0, hash=0.0, chunk=0.0, kernel_io=0.0, other=0.0)
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
    if not m:
        continue
    pct, dso, kind, sym = float(m[1]), m[2], m[3], m[4]
    if "zstd" in dso or "lz4" in dso:
        cls["decompress" if job == "get" else "compress"] += pct
    elif "blake3" in sym or "sha256" in sym.lower() or "libcrypto" in dso:
        cls["hash"] += pct
    elif "NextCut" in sym or "IsAllZero" in sym or "ScanGear" in sym:
        cls["chunk"] += pct
    elif kind == "k":
        cls["kernel_io"] += pct
    else:
        cls["other"] += pct
print(job + "\t" + "\t".join(f"{v:.1f}" for v in cls.values()) + "\t-")
' "$job" | tee -a bench/out/put_get_cpu.tsv
  }
  rm -rf "$DIR/hb"; warm "$IN"
  breakdown "put -1" "$HB" --store "$DIR/hb" put "$IN" --name bench --level 1
  rm -rf "$DIR/hb"; warm "$IN"
  breakdown "put default" "$HB" --store "$DIR/hb" put "$IN" --name bench
  rm -f "$DIR/out"
  breakdown get "$HB" --store "$DIR/hb" get bench "$DIR/out"
  warm "$IN"
  breakdown "put unchanged" "$HB" --store "$DIR/hb" put "$IN" --name again
  rm -rf "$DIR/hb" "$DIR/out" "$DIR/perf.data"
  echo "(percent of each job's CPU samples; kernel_io: every kernel symbol: read, write, page cache, fsync)" >&2
fi

# --- throughput by size ------------------------------------------------------
if [ -n "${SWEEP:-}" ]; then
  echo >&2
  SW=bench/out/put_get_sizes_raw.tsv
  printf "size\tjob\ttool\twall\n" > "$SW"
  for s in $SWEEP; do
    f=$DIR/sweep.$s
    "$DIR/gendata" "$DATA" "$s" "$SEED" "$DIR/usr.tar" > "$f"
    for round in $(seq "$ROUNDS"); do
      rm -rf "$DIR/hb"; warm "$f"; sync
      /usr/bin/time -f "%e" -o "$DIR/time.txt" "$HB" --store "$DIR/hb" put "$f" --name s > /dev/null 2>&1
      printf "%s\tput\thugeblob\t%s\n" "$s" "$(cat "$DIR/time.txt")" >> "$SW"
      rm -f "$DIR/out.zst"; warm "$f"; sync
      /usr/bin/time -f "%e" -o "$DIR/time.txt" zstd -q -3 -T2 -f "$f" -o "$DIR/out.zst"
      printf "%s\tput\tzstd -3 -T2\t%s\n" "$s" "$(cat "$DIR/time.txt")" >> "$SW"
      rm -f "$DIR/out"; sync
      /usr/bin/time -f "%e" -o "$DIR/time.txt" "$HB" --store "$DIR/hb" get s "$DIR/out" > /dev/null 2>&1
      printf "%s\tget\thugeblob\t%s\n" "$s" "$(cat "$DIR/time.txt")" >> "$SW"
      rm -f "$DIR/out"; sync
      /usr/bin/time -f "%e" -o "$DIR/time.txt" bash -c "zstd -q -d -f '$DIR/out.zst' -o '$DIR/out' && sync '$DIR/out'"
      printf "%s\tget\tzstd -d && sync\t%s\n" "$s" "$(cat "$DIR/time.txt")" >> "$SW"
      rm -f "$DIR/out"
    done
    rm -f "$f" "$DIR/out.zst"; rm -rf "$DIR/hb"
  done
  PY=python3
  /usr/bin/python3 -c "import matplotlib" 2> /dev/null && PY=/usr/bin/python3
  $PY - "$SW" bench/out/put_get_sizes.png <<'PY'
import csv, statistics, sys
from collections import defaultdict
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
def nbytes(s):
    return float(s[:-1]) * units[s[-1]] if s[-1] in units else float(s)
walls = defaultdict(list)
for r in rows:
    walls[(r["size"], r["job"], r["tool"])].append(float(r["wall"]))
series = defaultdict(list)
print(f"\n{'size':>6} {'job':<4} {'tool':<18} {'wall':>7} {'MiB/s':>6}")
for (size, job, tool), w in walls.items():
    m = statistics.median(w)
    mibs = nbytes(size) / 2**20 / m
    series[(job, tool)].append((nbytes(size) / 2**30, mibs))
    print(f"{size:>6} {job:<4} {tool:<18} {m:>6.2f}s {mibs:>6.0f}")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(no matplotlib: plot skipped; apt-get install python3-matplotlib)")
    sys.exit(0)
fig, ax = plt.subplots(figsize=(8, 5))
for (job, tool), pts in sorted(series.items()):
    pts.sort()
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
            linestyle="-" if tool == "hugeblob" else "--", label=f"{job}: {tool}")
ax.set_xscale("log", base=2)
ax.set_xlabel("file size (GiB)")
ax.set_ylabel("MiB/s (median)")
ax.set_title("put (defaults) and get by file size, 2 cores")
ax.grid(True, alpha=0.3)
ax.legend()
fig.savefig(sys.argv[2], dpi=100, bbox_inches="tight")
print("plot:", sys.argv[2])
PY
fi
