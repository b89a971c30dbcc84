#!/usr/bin/env bash
# A version series, side by side: bytes stored after each version and ingest
# time for hugeblob (CDC and fixed chunkers), restic backup, borg create and
# casync make, on the same inputs in the same run.
#
#   bench/versions.sh [path/to/hugeblob]        # default build/hugeblob
#
# Input: an ext4 image of HB_BENCH_SIZE (default 4G) made with mkfs.ext4 -d
# from files of /usr (about 60% full, the rest free space), then five later
# versions, each made from the one before by rewriting about 1% of the
# image's 4 KiB blocks in place (in runs of 1-64 blocks inside used areas,
# as files are rewritten) and inserting a few short runs of bytes in the
# middle of used regions (the rest of the region shifts, as a file's content
# does after an insertion).
#
# Tools missing from PATH are skipped with a message (Debian packages:
# restic borgbackup casync e2fsprogs python3-matplotlib). Settings: each tool
# with its defaults, except borg with --compression zstd,3 (its default is
# lz4) so that every tool compresses with zstd at about level 3. Every input
# is in the page cache when the tools read it (they read the same file one
# after another), so times are CPU-bound ingest.
#
# Output: the table on stdout, and bench/out/versions-<size>.{csv,png}.
# hugeblob runs three ways: CDC and fixed chunkers at their defaults (256 KiB),
# CDC at casync's 64 KiB average ("hugeblob-cdc64"), and CDC at 32 KiB
# ("hugeblob-cdc32", the setting for long version series: see docs/chunking.md).
#
# Environment: HB_BENCH_SIZE (e.g. 1G), HB_BENCH_PUT_OPTS (extra options for
# every hugeblob put, e.g. "--memory 128M"), HB_BENCH_WORK (scratch directory,
# default /tmp/hb-bench-versions; needs about 4x the size free), HB_BENCH_KEEP=1
# keeps it, HB_BENCH_TOOLS="hugeblob-cdc restic ..." runs only those tools.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HB=$(readlink -f "${1:-$ROOT/build/hugeblob}")
SIZE=${HB_BENCH_SIZE:-4G}
WORK=${HB_BENCH_WORK:-/tmp/hb-bench-versions}
OUT=$ROOT/bench/out
VERSIONS=6
mkdir -p "$OUT"
[ -x "$HB" ] || { echo "versions.sh: no hugeblob at $HB (build it first)" >&2; exit 1; }
command -v mkfs.ext4 >/dev/null || { echo "versions.sh: mkfs.ext4 missing (apt-get install e2fsprogs)" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"
[ "${HB_BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
bytes=$(python3 -c "
import re,sys
m=re.fullmatch(r'(\d+)([KMGT]?)', '$SIZE'.upper().rstrip('B').rstrip('I'))
print(int(m.group(1)) << {'':0,'K':10,'M':20,'G':30,'T':40}[m.group(2)])")

echo "== input: $SIZE ext4 image from /usr and $((VERSIONS - 1)) later versions (machine: $(nproc) cores, shared and noisy)"
# Files of /usr, in a fixed order, until 60% of the image: hard links into a
# staging directory when /usr is on the same file system, copies otherwise.
python3 - "$WORK/stage" "$bytes" <<'PY'
import os, shutil, sys
stage, size = sys.argv[1], int(sys.argv[2])
budget = int(size * 0.6)
os.makedirs(stage)
used = 0
for top in ("/usr/share", "/usr/lib", "/usr/bin", "/usr/include", "/usr/local", "/usr/sbin"):
    for dp, dns, fs in os.walk(top):
        dns.sort(); fs.sort()
        for f in fs:
            src = os.path.join(dp, f)
            if os.path.islink(src) or not os.path.isfile(src):
                continue
            n = os.path.getsize(src)
            if n == 0 or used + n + 4096 > budget:
                continue
            dst = os.path.join(stage, os.path.relpath(src, "/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                try:
                    shutil.copyfile(src, dst)
                except OSError:
                    continue
            used += (n + 4095) // 4096 * 4096
        if used > budget * 0.99:
            break
print(f"staged {used >> 20} MiB of /usr", file=sys.stderr)
PY
truncate -s "$bytes" "$WORK/v1.img"
mkfs.ext4 -q -F -b 4096 -d "$WORK/stage" "$WORK/v1.img"
rm -rf "$WORK/stage"

# make_version V: v$V.img from v$((V-1)).img (about 1% of blocks rewritten,
# a few insertions).
make_version() {
  local v=$1
  cp --reflink=auto "$WORK/v$((v - 1)).img" "$WORK/v$v.img"
  python3 - "$WORK/v$v.img" "$v" <<'PY'
import mmap, os, random, sys
path, seed = sys.argv[1], int(sys.argv[2])
rnd = random.Random(seed)
with open(path, "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    blocks = len(m) // 4096
    zero = bytes(4096)
    def used_block():
        for _ in range(1000):
            b = rnd.randrange(blocks - 64)
            if m[b * 4096:(b + 1) * 4096] != zero:
                return b
        return rnd.randrange(blocks - 64)
    todo = blocks // 100
    while todo > 0:
        run = min(todo, rnd.randint(1, 64))
        b = used_block()
        m[b * 4096:(b + run) * 4096] = rnd.randbytes(run * 4096)
        todo -= run
    for _ in range(4):
        start = used_block() * 4096
        length = min(rnd.randint(256 << 10, 4 << 20), len(m) - start)
        at = start + rnd.randrange(length // 2)
        k = rnd.randint(100, 5000)
        tail = m[at:start + length - k]
        m[at:at + k] = rnd.randbytes(k)
        m[at + k:start + length] = tail
    m.flush()
PY
}

# --- tools ---------------------------------------------------------------------
tree_bytes() {  # apparent size of every file under the paths, then the disk space they take
  # (du: whole blocks, directories included)
  local apparent disk
  apparent=$(find "$@" -type f -printf '%s\n' 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}')
  disk=$(du -scB1 "$@" 2>/dev/null | tail -1 | cut -f1)
  echo "$apparent,$disk"
}
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$WORK/restic-cache
export BORG_PASSPHRASE="" BORG_BASE_DIR=$WORK/borg-home BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

tools=()
tool_ok() { command -v "$1" >/dev/null || { echo "  skip $2: $1 not installed (apt-get install $3)"; return 1; }; }
tools+=("hugeblob-cdc" "hugeblob-fixed" "hugeblob-cdc64" "hugeblob-cdc32")
read -r -a PUT_OPTS <<< "${HB_BENCH_PUT_OPTS:-}"
[ ${#PUT_OPTS[@]} -gt 0 ] && echo "  hugeblob put options: ${PUT_OPTS[*]}"
tool_ok restic restic restic && tools+=(restic)
tool_ok borg borg borgbackup && tools+=(borg)
tool_ok casync casync casync && tools+=(casync)
if [ -n "${HB_BENCH_TOOLS:-}" ]; then  # e.g. HB_BENCH_TOOLS="hugeblob-cdc restic"
  keep=()
  for t in "${tools[@]}"; do [[ " $HB_BENCH_TOOLS " == *" $t "* ]] && keep+=("$t"); done
  tools=("${keep[@]}")
fi

init_tool() {
  case $1 in
    restic) restic -q -r "$WORK/restic" init >/dev/null ;;
    borg) borg init -e none "$WORK/borg" ;;
    *) : ;;
  esac
}
ingest() {  # ingest TOOL VERSION
  local f="$WORK/v$2.img"
  case $1 in
    hugeblob-cdc) "$HB" -q --store "$WORK/hb-cdc" put "$f" --name "img/v$2" ${PUT_OPTS[@]+"${PUT_OPTS[@]}"} ;;
    hugeblob-fixed) "$HB" -q --store "$WORK/hb-fixed" put "$f" --name "img/v$2" --chunker fixed ${PUT_OPTS[@]+"${PUT_OPTS[@]}"} ;;
    hugeblob-cdc64) "$HB" -q --store "$WORK/hb-cdc64" put "$f" --name "img/v$2" --chunk-size 64K ${PUT_OPTS[@]+"${PUT_OPTS[@]}"} ;;
    hugeblob-cdc32) "$HB" -q --store "$WORK/hb-cdc32" put "$f" --name "img/v$2" --chunk-size 32K ${PUT_OPTS[@]+"${PUT_OPTS[@]}"} ;;
    restic) restic -q -r "$WORK/restic" backup "$f" >/dev/null ;;
    borg) borg create --compression zstd,3 "$WORK/borg::v$2" "$f" ;;
    casync) casync make --store="$WORK/casync.castr" "$WORK/casync-v$2.caibx" "$f" >/dev/null ;;
  esac
}
stored() {
  case $1 in
    hugeblob-cdc) tree_bytes "$WORK/hb-cdc" ;;
    hugeblob-fixed) tree_bytes "$WORK/hb-fixed" ;;
    hugeblob-cdc64) tree_bytes "$WORK/hb-cdc64" ;;
    hugeblob-cdc32) tree_bytes "$WORK/hb-cdc32" ;;
    restic) tree_bytes "$WORK/restic" ;;
    borg) tree_bytes "$WORK/borg" ;;
    casync) tree_bytes "$WORK/casync.castr" "$WORK"/casync-v*.caibx ;;
  esac
}

CSV=$OUT/versions-$SIZE.csv
echo "tool,version,input_bytes,stored_bytes,disk_bytes,seconds" > "$CSV"
for t in "${tools[@]}"; do init_tool "$t"; done
for v in $(seq 1 "$VERSIONS"); do
  # Only two images on disk at a time (4 GiB images x 6 would need 24 GiB).
  if [ "$v" -gt 1 ]; then
    make_version "$v"
    [ "$v" -gt 2 ] && rm -f "$WORK/v$((v - 2)).img"
  fi
  for t in "${tools[@]}"; do
    sync  # the previous step's writeback does not land in this tool's time
    t0=$(date +%s.%N)
    ingest "$t" "$v"
    t1=$(date +%s.%N)
    echo "$t,$v,$bytes,$(stored "$t"),$(python3 -c "print(round($t1 - $t0, 3))")" >> "$CSV"
  done
  echo "  version $v done"
done
# Each hugeblob version restores exactly (spot check of the last one).
"$HB" -q --store "$WORK/hb-cdc" get "img/v$VERSIONS" "$WORK/check.img"
cmp -s "$WORK/v$VERSIONS.img" "$WORK/check.img" || { echo "versions.sh: hugeblob restore differs!" >&2; exit 1; }
rm -f "$WORK/check.img"

# --- table and plot ------------------------------------------------------------
PY=python3
/usr/bin/python3 -c "import matplotlib" 2>/dev/null && PY=/usr/bin/python3
$PY - "$CSV" "$OUT/versions-$SIZE.png" "$SIZE" <<'PY'
import csv, sys
from collections import defaultdict
rows = list(csv.DictReader(open(sys.argv[1])))
by = defaultdict(list)
for r in rows:
    by[r["tool"]].append(r)
tools = list(by)
nv = max(int(r["version"]) for r in rows)
mib = lambda b: int(b) / 2**20
print()
print(f"bytes stored after each version (MiB) and ingest time, {sys.argv[3]} image x {nv} versions")
head = f"{'tool':16}" + "".join(f"{'v' + str(i):>9}" for i in range(1, nv + 1)) + f"{'total s':>9}{'MiB/s':>8}"
print(head)
speed = {}
for t in tools:
    secs = sum(float(r["seconds"]) for r in by[t])
    inp = sum(int(r["input_bytes"]) for r in by[t])
    speed[t] = mib(inp) / secs if secs else 0
    print(f"{t:16}" + "".join(f"{mib(r['stored_bytes']):9.1f}" for r in by[t]) + f"{secs:9.1f}{speed[t]:8.1f}")
others = [t for t in tools if not t.startswith("hugeblob")]
if others:
    final = {t: int(by[t][-1]["stored_bytes"]) for t in tools}
    best = min(others, key=lambda t: final[t])
    print()
    for h in [t for t in tools if t.startswith("hugeblob")]:
        line = f"{h}: total {mib(final[h]):.1f} MiB vs smallest other ({best}) {mib(final[best]):.1f} MiB " \
               f"({'<=' if final[h] <= final[best] else '>'}, {final[h] / final[best]:.3f}x)"
        for o in ("restic", "borg"):
            if o in speed and speed[o] > 0:
                line += f"; ingest {speed[h] / speed[o]:.1f}x {o}"
        print(line)
    # Apparent bytes are what an object store bills; on a local file system
    # every file also rounds up to whole blocks, which matters for stores of
    # many small files (casync keeps one file per chunk).
    if all(r.get("disk_bytes") for r in rows):
        print()
        print("space taken on the local file system after the last version (du, MiB): " +
              ", ".join(f"{t} {mib(by[t][-1]['disk_bytes']):.1f}" for t in tools))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(no matplotlib: plot skipped; apt-get install python3-matplotlib)")
    sys.exit(0)
fig, ax = plt.subplots(figsize=(8, 5))
for t in tools:
    ax.plot([int(r["version"]) for r in by[t]], [mib(r["stored_bytes"]) for r in by[t]], marker="o", label=t)
ax.set_xlabel("version")
ax.set_ylabel("bytes stored (MiB)")
ax.set_title(f"Stored bytes after each version ({sys.argv[3]} ext4 image, ~1% blocks changed per version)")
ax.grid(True, alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
print(f"plot: {sys.argv[2]}")
PY
echo "csv: $CSV"
