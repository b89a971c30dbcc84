#!/usr/bin/env bash
# Sparse files, side by side: a 20 GiB image holding 256 MiB of data, and a
# 1 TiB file holding 2 GiB (docs/sparse.md has the numbers and what they mean).
#
#   bench/sparse.sh [path/to/hugeblob]           # default build/hugeblob
#   ROUNDS=1 SPARSE_SIZE=2G SPARSE_DATA=64M HUGE_SIZE=64G HUGE_DATA=256M HUGE_ISLANDS=16 bench/sparse.sh
#   CASES=20g TOOLS="hugeblob zstd" bench/sparse.sh
#
# Case "20g": SPARSE_SIZE (20G) with SPARSE_DATA (256M) of data in four
# islands (some at odd offsets), the data being the first bytes of a tar of
# /usr/lib (so it compresses like real data); `du` is SPARSE_DATA. The same
# data as a plain file is the "dense" input. Put side: hugeblob put of the
# sparse file, hugeblob put of the dense file (target: sparse <= 1.2x
# dense), `zstd -1 -T2 -f SPARSE -o OUT`, `restic backup SPARSE` (a fresh
# repository per round), `borg create REPO::a SPARSE`, `cp --sparse=always`.
# Get side: hugeblob get of each, `zstd -d -f OUT -o RESTORED` (zstd writes
# holes by default when the output is a file: --sparse is on), `borg extract
# --sparse` (the flag that leaves holes, as hugeblob get does). restic 0.14
# has no sparse restore (it would write every zero), so its restore is not run.
# Every competitor runs alone, at its defaults, the way its users run it.
#
# Case "1t": HUGE_SIZE (1T) with HUGE_DATA (2G) in HUGE_ISLANDS (64) islands
# at HUGE_SIZE/HUGE_ISLANDS (16 GiB) spacing, some at odd offsets: hugeblob
# put (peak RSS target <= 64 MiB), get to a file (du must be ~HUGE_DATA),
# `cat --offset 900G --length 4K` (in a hole) and a 4 KiB cat inside an
# island, both compared with the original; the put and get of the same data
# as a dense file for reference; manifest bytes and manifest bytes per TiB
# (`stat --json`). Then, when /dev/fuse works, a mount: 1,000 random 4 KiB
# preads over the whole file and 1,000 inside the islands, each compared with
# the original, the daemon's peak RSS (VmHWM), and `cp --sparse=always` from
# the mount (du of the copy must be ~HUGE_DATA). No step of this case may read
# the holes: a step that would (a plain cmp reads 2 TiB of zeros) is
# skipped and said so; the copies are compared with a cmp that reads only the
# data extents of both files (everything else is a hole in both, so zero).
# Skipped with a message when the file system lacks space (3x HUGE_DATA +
# 1 GiB: input, store, one restored copy) or cannot hold the file.
#
# Measured state: warm page cache, like the other benches. Before each timed
# step the script runs `sync` (so earlier writeback does not land in this
# step's time), drops the input's cached pages (POSIX_FADV_DONTNEED: a tool
# that read the holes leaves zero-filled pages behind, gigabytes of them, and
# the next tool would pay for their reclaim) and reads the input's data
# extents back (SEEK_DATA), so every data byte is in the page cache and no
# hole is. Outputs go to the same disk for every tool. hugeblob get fsyncs
# before its rename; the others do not sync. Rounds alternate (every tool once
# per round, the order rotated each round and reversed every other round, so
# no tool always follows the same one); the table quotes medians of ROUNDS
# (default 3) for time and the largest peak RSS (/usr/bin/time %M, max over
# rounds).
#
# Environment: BENCH_DIR (default /var/tmp/hugeblob-bench; the tar of /usr/lib
# is cached there, the rest in $BENCH_DIR/sparse, removed at the end unless
# KEEP=1), ROUNDS, CASES ("20g 1t"), TOOLS ("hugeblob zstd restic borg cp"),
# SPARSE_SIZE, SPARSE_DATA, HUGE_SIZE, HUGE_DATA, HUGE_ISLANDS, READS (1000),
# STEP_TIMEOUT (seconds a hugeblob step of the 1t case may take, default 900;
# hitting it means the step read holes), CMP_HUGE=1 (run a plain cmp of the
# 1t input and its restored copy anyway). Results: bench/out/sparse.tsv (one
# row per run) and bench/out/sparse.txt (the printed report).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HB_SRC=$(readlink -f "${1:-$ROOT/build/hugeblob}")
DIR=${BENCH_DIR:-/var/tmp/hugeblob-bench}
W=$DIR/sparse
ROUNDS=${ROUNDS:-3}
CASES=${CASES:-"20g 1t"}
TOOLS=${TOOLS:-"hugeblob zstd restic borg cp"}
SPARSE_SIZE=${SPARSE_SIZE:-20G}
SPARSE_DATA=${SPARSE_DATA:-256M}
HUGE_SIZE=${HUGE_SIZE:-1T}
HUGE_DATA=${HUGE_DATA:-2G}
HUGE_ISLANDS=${HUGE_ISLANDS:-64}
READS=${READS:-1000}
STEP_TIMEOUT=${STEP_TIMEOUT:-900}
CMP_HUGE=${CMP_HUGE:-0}
want() { [[ " $TOOLS " == *" $1 "* ]]; }
case_on() { [[ " $CASES " == *" $1 "* ]]; }
bytes_of() { numfmt --from=iec "${1%B}"; }
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

[ -x "$HB_SRC" ] || { echo "sparse.sh: no hugeblob at $HB_SRC (build it first)" >&2; exit 1; }
mkdir -p "$DIR" "$ROOT/bench/out"
rm -rf "$W"
mkdir -p "$W"
# Our own copy of the binary: the build directory may be rebuilt during the run.
cp "$HB_SRC" "$W/hugeblob"
HB=$W/hugeblob
export XDG_CACHE_HOME=$W/cache
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$W/restic-cache
export BORG_PASSPHRASE="" BORG_BASE_DIR=$W/borg-home BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
RESULTS=$ROOT/bench/out/sparse.tsv
REPORT=$ROOT/bench/out/sparse.txt
: > "$REPORT"
say() { echo "$*" | tee -a "$REPORT"; }
printf "case\ttool\top\tround\tseconds\trss_mb\tstored_mb\tout_du_mb\n" > "$RESULTS"

MNT_PID=
cleanup() {
  if [ -n "$MNT_PID" ]; then
    mountpoint -q "$W/mnt" 2>/dev/null && { fusermount3 -u "$W/mnt" 2>/dev/null || fusermount3 -uz "$W/mnt"; }
    kill "$MNT_PID" 2>/dev/null || true
    wait "$MNT_PID" 2>/dev/null || true
  fi
  [ "${KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

# --- helpers ---------------------------------------------------------------
# sp.py: make sparse inputs, warm data extents, compare files by their data
# extents only, random reads through the mount, a SEEK_DATA copy.
cat > "$W/sp.py" <<'PY'
import json, os, random, sys, time
MiB = 1 << 20

def islands(size, data, n):
    """Island i: data//n bytes at i*(size//n) + 1 MiB + a shift: none for
    i % 4 == 0 or 2, three 4 KiB blocks for i % 4 == 1 (not chunk-aligned), an
    odd number of bytes for i % 4 == 3 (not block-aligned either)."""
    length, spacing = data // n, size // n
    out = []
    for i in range(n):
        shift = {0: 0, 1: 3 * 4096, 2: 0, 3: 12345 + 2 * i}[i % 4]
        off = i * spacing + MiB + shift
        assert off + length <= size, "islands do not fit: make the file larger or the data smaller"
        out.append((off, length))
    return out

def extents(fd, size):
    pos = 0
    while pos < size:
        try:
            d = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:
            return
        if d >= size:
            return
        h = min(os.lseek(fd, d, os.SEEK_HOLE), size)
        yield d, h
        pos = h

def mk(src, out, size, data, n):
    size, data, n = int(size), int(data), int(n)
    isl = islands(size, data, n)
    with open(src, "rb") as s, open(out, "wb") as f:
        f.truncate(size)
        for k, (off, length) in enumerate(isl):
            s.seek(k * length)
            done = 0
            while done < length:
                b = s.read(min(8 * MiB, length - done))
                assert b, "source too short"
                os.pwrite(f.fileno(), b, off + done)
                done += len(b)
    json.dump(isl, open(out + ".islands", "w"))

def warm(path):
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    buf = bytearray(8 * MiB)
    for d, h in extents(fd, size):
        pos = d
        while pos < h:
            n = os.preadv(fd, [memoryview(buf)[: min(len(buf), h - pos)]], pos)
            if n <= 0:
                break
            pos += n
    os.close(fd)

def evict(path):
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)

def rchar(*cmd):
    """Runs cmd; prints the bytes it read (read()/pread() calls: /proc/PID/io
    rchar, taken before the exited process is reaped); its exit status."""
    import subprocess
    p = subprocess.Popen(cmd)
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    io = dict(l.split(": ") for l in open(f"/proc/{p.pid}/io").read().splitlines())
    print(int(io["rchar"]))
    return p.wait()

def cmp(a, b):
    """Byte-equal, reading only the union of both files' data extents:
    outside it both files are holes, which read as zeros."""
    fa, fb = os.open(a, os.O_RDONLY), os.open(b, os.O_RDONLY)
    sa, sb = os.fstat(fa).st_size, os.fstat(fb).st_size
    if sa != sb:
        print(f"cmp: sizes differ: {a} {sa}, {b} {sb}", file=sys.stderr)
        return 1
    ranges = sorted(list(extents(fa, sa)) + list(extents(fb, sb)))
    merged = []
    for d, h in ranges:
        if merged and d <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], h)
        else:
            merged.append([d, h])
    read = 0
    for d, h in merged:
        pos = d
        while pos < h:
            n = min(8 * MiB, h - pos)
            x, y = os.pread(fa, n, pos), os.pread(fb, n, pos)
            if x != y:
                i = next(i for i in range(len(x)) if x[i] != y[i])
                print(f"cmp: {a} {b} differ at byte {pos + i}", file=sys.stderr)
                return 1
            pos += n
            read += n
    print(read)
    return 0

def pread4k(path, off, out):
    fd = os.open(path, os.O_RDONLY)
    open(out, "wb").write(os.pread(fd, 4096, int(off)))

def randread(mfile, orig, isl_path, n, seed):
    """n random 4 KiB preads over the whole file, then n inside the islands,
    each compared with the original; per-read latency."""
    isl = json.load(open(isl_path))
    fm, fo = os.open(mfile, os.O_RDONLY), os.open(orig, os.O_RDONLY)
    size = os.fstat(fo).st_size
    r = random.Random(int(seed))
    res = {}
    for kind in ("uniform", "islands"):
        offs = []
        for _ in range(int(n)):
            if kind == "uniform":
                offs.append(r.randrange(size // 4096) * 4096)
            else:
                off, length = r.choice(isl)
                offs.append(off + r.randrange(length - 4096))
        lat, bad, in_data = [], 0, 0
        t0 = time.perf_counter()
        for off in offs:
            t = time.perf_counter()
            got = os.pread(fm, 4096, off)
            lat.append(time.perf_counter() - t)
            want = os.pread(fo, 4096, off)
            bad += got != want
            in_data += any(o <= off < o + l for o, l in isl)
        total = time.perf_counter() - t0
        lat.sort()
        res[kind] = dict(reads=len(offs), in_data=in_data, wrong=bad, seconds=round(total, 3),
                         p50_us=round(lat[len(lat) // 2] * 1e6), p99_us=round(lat[len(lat) * 99 // 100] * 1e6))
    print(json.dumps(res))
    return 1 if any(v["wrong"] for v in res.values()) else 0

def holerate(path, off, length):
    """MB/s of plain read() over a hole (what cmp of the file would do)."""
    fd = os.open(path, os.O_RDONLY)
    buf = bytearray(MiB)
    t = time.perf_counter()
    pos, end = int(off), int(off) + int(length)
    while pos < end:
        pos += os.preadv(fd, [buf], pos)
    print(round(int(length) / MiB / (time.perf_counter() - t)))

if __name__ == "__main__":
    sys.exit(globals()[sys.argv[1]](*sys.argv[2:]) or 0)
PY
sp() { "$PY" "$W/sp.py" "$@"; }
jget() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }

# timed CMD... -> T (wall seconds), RSS (MiB, peak); stdout kept in $W/stdout.txt
timed() {
  /usr/bin/time -f "%e %M" -o "$W/time.txt" "$@" > "$W/stdout.txt" 2> "$W/stderr.txt" ||
    { echo "failed: $*" >&2; tail -5 "$W/stderr.txt" >&2; return 1; }
  read -r T RSS_KB < <(tail -1 "$W/time.txt")
  RSS=$((RSS_KB / 1024))
}
since() { awk -v a="$EPOCHREALTIME" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
du_mb() { du -scm "$@" 2>/dev/null | tail -1 | cut -f1; }
record() {  # record CASE TOOL OP ROUND SECONDS RSS STORED_MB OUT_DU_MB
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$@" >> "$RESULTS"
  printf "  %-4s %-22s %-8s round %s: %6s s  %4s MiB RSS  stored %s MiB  out du %s MiB\n" "$@" | tee -a "$REPORT"
}
# Before a timed step: no pending writeback (sync), and the same page cache
# state of the input for every tool: its cached pages dropped (a tool that
# read the holes before left gigabytes of zero pages; the next tool would pay
# for their reclaim), then its data extents read back in.
settle() { sync; sp evict "$1"; sp warm "$1"; }
order() {  # order ROUND words...: rotated by ROUND, reversed on even rounds,
  # so that no tool always follows the same one
  local n=$1; shift
  local a=("$@") i k=${#a[@]}
  for ((i = 0; i < k; i++)); do
    if ((n % 2)); then echo "${a[$(((i + n) % k))]}"; else echo "${a[$(((k - 1 - i + n) % k))]}"; fi
  done
}

say "== bench/sparse.sh $(date -u +%Y-%m-%dT%H:%M:%SZ): $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB," \
  "load average at start $(cut -d' ' -f1-3 /proc/loadavg) (other builds may be running: see the end)"
say "   hugeblob: $HB_SRC ($(stat -c %y "$HB_SRC" | cut -d. -f1)); work dir $W on $(findmnt -no FSTYPE -T "$DIR")"
say "   warm page cache (before each step: sync, the input's pages dropped, its data extents read back); medians of $ROUNDS rounds"

# Probe: the work file system must keep holes and answer SEEK_DATA.
truncate -s 64M "$W/probe"
printf x | dd of="$W/probe" bs=1 seek=$((32 << 20)) conv=notrunc status=none
if [ "$(du -k "$W/probe" | cut -f1)" -gt 1024 ]; then
  say "skip: $W does not keep holes (du of a 64 MiB file with one byte: $(du -k "$W/probe" | cut -f1) KiB)"
  exit 0
fi
rm -f "$W/probe"

# The data: the first bytes of a tar of /usr/lib (cached in $DIR; made once).
NEED=$(bytes_of "$SPARSE_DATA")
case_on 1t && [ "$(bytes_of "$HUGE_DATA")" -gt "$NEED" ] && NEED=$(bytes_of "$HUGE_DATA")
LIBTAR=$DIR/lib.tar
if [ ! -f "$LIBTAR" ] || [ "$(stat -c %s "$LIBTAR")" -lt "$NEED" ]; then
  say "   making $LIBTAR ($((NEED >> 20)) MiB of a tar of /usr/lib) ..."
  tar -cf - /usr/lib 2>/dev/null | head -c "$NEED" > "$LIBTAR" || true
  [ "$(stat -c %s "$LIBTAR")" -ge "$NEED" ] || { say "/usr/lib holds less than $NEED bytes"; exit 1; }
fi

# ==========================================================================
# Case 1: SPARSE_SIZE with SPARSE_DATA in four islands.
if case_on 20g; then
  S=$W/sparse.img
  D=$W/dense.img
  sbytes=$(bytes_of "$SPARSE_SIZE")
  dbytes=$(bytes_of "$SPARSE_DATA")
  sp mk "$LIBTAR" "$S" "$sbytes" "$dbytes" 4
  head -c "$dbytes" "$LIBTAR" > "$D"
  say ""
  say "== case 20g: $SPARSE_SIZE file, $SPARSE_DATA of /usr/lib tar data in 4 islands (du $(du_mb "$S") MiB);" \
    "dense: the same $SPARSE_DATA as a plain file"

  put_tools=()
  want hugeblob && put_tools+=(hb-sparse hb-dense)
  want zstd && put_tools+=(zstd)
  if want restic; then
    if command -v restic > /dev/null; then put_tools+=(restic)
    else say "   skip restic: not installed (apt-get install restic)"; fi
  fi
  if want borg; then
    if command -v borg > /dev/null; then put_tools+=(borg)
    else say "   skip borg: not installed (apt-get install borgbackup)"; fi
  fi
  want cp && put_tools+=(cp)
  get_tools=()
  for t in "${put_tools[@]}"; do
    case $t in hb-sparse | hb-dense | zstd | borg) get_tools+=("$t") ;; esac
  done

  put_one() {  # put_one TOOL ROUND
    local t=$1 r=$2 in=$S
    [ "$t" = hb-dense ] && in=$D
    case $t in
      hb-sparse | hb-dense) rm -rf "$W/$t.store" ;;
      zstd) rm -f "$W/zstd.zst" ;;
      restic) rm -rf "$W/restic" "$RESTIC_CACHE_DIR"; restic -q -r "$W/restic" init > /dev/null ;;
      borg) rm -rf "$W/borg" "$BORG_BASE_DIR"; borg init -e none "$W/borg" ;;
      cp) rm -f "$W/cp.out" ;;
    esac
    settle "$in"
    case $t in
      hb-sparse) timed "$HB" --json --store "$W/$t.store" put "$S" --name img ;;
      hb-dense) timed "$HB" --json --store "$W/$t.store" put "$D" --name img ;;
      zstd) timed zstd -1 -T2 -f "$S" -o "$W/zstd.zst" ;;
      restic) timed restic -q -r "$W/restic" backup "$S" ;;
      borg) timed borg create "$W/borg::a" "$S" ;;
      cp) timed cp --sparse=always "$S" "$W/cp.out" ;;
    esac
    [ "$t" = hb-sparse ] && HOLES_SKIPPED=$(jget "$W/stdout.txt" holes_skipped)
    local stored
    case $t in
      hb-sparse | hb-dense) stored=$(du_mb "$W/$t.store") ;;
      zstd) stored=$(du_mb "$W/zstd.zst") ;;
      restic) stored=$(du_mb "$W/restic") ;;
      borg) stored=$(du_mb "$W/borg") ;;
      cp) stored=$(du_mb "$W/cp.out") ;;
    esac
    record 20g "$t" put "$r" "$T" "$RSS" "$stored" -
    if [ "$t" = cp ]; then sp cmp "$S" "$W/cp.out" > /dev/null || { say "cp --sparse=always: copy differs"; exit 1; }; fi
  }
  get_one() {  # get_one TOOL ROUND
    local t=$1 r=$2 out=$W/get.$1 orig=$S
    [ "$t" = hb-dense ] && orig=$D
    rm -rf "$out"
    sync
    case $t in
      hb-sparse | hb-dense) timed "$HB" --json --store "$W/$t.store" get img "$out" ;;
      zstd) timed zstd -d -f "$W/zstd.zst" -o "$out" ;;
      borg) mkdir -p "$out"; timed bash -c "cd '$out' && exec borg extract --sparse '$W/borg::a'" ;;
    esac
    local file=$out
    [ "$t" = borg ] && file=$out/${S#/}
    record 20g "$t" get "$r" "$T" "$RSS" - "$(du_mb "$file")"
    sp cmp "$orig" "$file" > /dev/null || { say "$t get: restored file differs from the original"; exit 1; }
    # A plain cmp too, once (it reads the holes of both files; not timed).
    if [ "$t" = hb-sparse ] && [ "$r" = 1 ]; then
      local t0=$EPOCHREALTIME
      cmp "$S" "$file" || { say "hugeblob get: cmp differs"; exit 1; }
      say "   check: cmp of the $SPARSE_SIZE original and hugeblob's restored copy: same bytes" \
        "($(since "$t0") s, not timed); du $(du_mb "$S") MiB -> $(du_mb "$file") MiB"
    fi
    rm -rf "$out"
  }
  for r in $(seq 1 "$ROUNDS"); do
    for t in $(order "$r" "${put_tools[@]}"); do put_one "$t" "$r"; done
    for t in $(order "$r" "${get_tools[@]}"); do get_one "$t" "$r"; done
  done
  [ -n "${HOLES_SKIPPED:-}" ] && say "   hugeblob put --json: holes_skipped $HOLES_SKIPPED bytes ($((HOLES_SKIPPED >> 20)) MiB never read)"
  rm -rf "$W"/hb-*.store "$W/zstd.zst" "$W/restic" "$W/borg" "$W/cp.out" "$S" "$S.islands" "$D"
fi

# ==========================================================================
# Case 2: HUGE_SIZE with HUGE_DATA in HUGE_ISLANDS islands.
huge_case() {
  local H=$W/huge.img HD=$W/huge-dense.img
  local hbytes dbytes spacing free need
  hbytes=$(bytes_of "$HUGE_SIZE")
  dbytes=$(bytes_of "$HUGE_DATA")
  spacing=$((hbytes / HUGE_ISLANDS))
  say ""
  say "== case 1t: $HUGE_SIZE file, $HUGE_DATA of /usr/lib tar data in $HUGE_ISLANDS islands at $((spacing >> 30)) GiB spacing"
  free=$(df -B1 --output=avail "$W" | tail -1)
  need=$((3 * dbytes + (1 << 30)))
  if [ "$free" -lt "$need" ]; then
    say "   SKIP case 1t: $((free >> 20)) MiB free on $W, it needs $((need >> 20)) MiB (3x the data + 1 GiB:" \
      "the input, the store and one restored copy)"
    return 0
  fi
  if ! truncate -s "$hbytes" "$H" 2> /dev/null; then
    say "   SKIP case 1t: the file system of $W cannot hold a $HUGE_SIZE file"
    return 0
  fi
  sp mk "$LIBTAR" "$H" "$hbytes" "$dbytes" "$HUGE_ISLANDS"
  head -c "$dbytes" "$LIBTAR" > "$HD"
  say "   input du $(du_mb "$H") MiB; dense reference: the same $HUGE_DATA as a plain file"
  local S2=$W/huge.store
  # 4 KiB reads: the brief's offset 900/1024 of the file (a hole at 1 TiB),
  # and one inside the island nearest to it.
  local cat_hole cat_data
  cat_hole=$((hbytes / 1024 * 900 / 4096 * 4096))
  cat_data=$("$PY" -c "
import json,sys; isl=json.load(open(sys.argv[1])); o,l=min(isl,key=lambda x:abs(x[0]-$cat_hole)); print(o+l//2+777)" "$H.islands")
  sp pread4k "$H" "$cat_hole" "$W/cat.want.hole"
  sp pread4k "$H" "$cat_data" "$W/cat.want.data"
  local r t
  declare -A CAT_MANIFEST_BYTES=() CAT_MANIFEST_READS=()
  for r in $(seq 1 "$ROUNDS"); do
    for t in $(order "$r" sparse dense); do
      local in=$H store=$S2 out=$W/huge.out
      [ "$t" = dense ] && { in=$HD; store=$W/huge-dense.store; out=$W/huge-dense.out; }
      rm -rf "$store" "$out"
      settle "$in"
      timed timeout "$STEP_TIMEOUT" "$HB" --json --store "$store" put "$in" --name huge ||
        { say "   hugeblob put of $in failed or took over $STEP_TIMEOUT s (does it read holes?)"; exit 1; }
      [ "$t" = sparse ] && HUGE_HOLES=$(jget "$W/stdout.txt" holes_skipped)
      record 1t "hb-$t" put "$r" "$T" "$RSS" "$(du_mb "$store")" -
      sync
      timed timeout "$STEP_TIMEOUT" "$HB" --json --store "$store" get huge "$out" ||
        { say "   hugeblob get failed or took over $STEP_TIMEOUT s (does it read or write holes?)"; exit 1; }
      record 1t "hb-$t" get "$r" "$T" "$RSS" - "$(du_mb "$out")"
      sp cmp "$in" "$out" > /dev/null || { say "hugeblob get: restored $t file differs"; exit 1; }
      rm -f "$out"
    done
    for t in hole data; do
      local off=$cat_hole
      [ "$t" = data ] && off=$cat_data
      # -v logs every manifest object and segment it reads, with its size.
      timed timeout "$STEP_TIMEOUT" "$HB" -v --store "$S2" cat huge --offset "$off" --length 4K
      cmp -s "$W/stdout.txt" "$W/cat.want.$t" || { say "cat at $off: differs from the original"; exit 1; }
      record 1t "hb-cat-4K-$t" cat "$r" "$T" "$RSS" - -
      CAT_MANIFEST_BYTES[$t]=$(grep -oE '\(([0-9]+) bytes\)$' "$W/stderr.txt" | tr -dc '0-9\n' | awk '{ s += $1 } END { print s + 0 }')
      CAT_MANIFEST_READS[$t]=$(grep -cE '\([0-9]+ bytes\)$' "$W/stderr.txt")
    done
  done
  say "   a 4 KiB cat read ${CAT_MANIFEST_BYTES[hole]} bytes of manifest in ${CAT_MANIFEST_READS[hole]} objects at the hole," \
    "${CAT_MANIFEST_BYTES[data]} bytes in ${CAT_MANIFEST_READS[data]} objects in an island (target <= 65536)"
  say "   cat offsets: $cat_hole (= $((cat_hole >> 30)) GiB, a hole) and $cat_data (inside an island); both equal the original"
  say "   restored copies compared by their data extents (sp.py cmp: the union of both files' SEEK_DATA extents;" \
    "everything else is a hole in both)"
  "$HB" --json --store "$S2" stat huge > "$W/stat.json"
  local mb chunks zeros
  mb=$(jget "$W/stat.json" manifest_bytes)
  chunks=$(jget "$W/stat.json" chunks)
  zeros=$(jget "$W/stat.json" zero_chunks)
  say "   holes_skipped $HUGE_HOLES bytes; frames $chunks ($zeros zero runs); manifest $mb bytes" \
    "= $(( mb * (1 << 40) / hbytes )) bytes per TiB of file, $(( mb * (1 << 30) / dbytes )) bytes per GiB of data" \
    "(manifest and segments, all of which get loads; a reader loads one path of segments)"

  # What a plain cmp of the two files would cost: read() of holes.
  local rate
  rate=$(sp holerate "$H" $((spacing / 2)) $(( (spacing / 4) < (2 << 30) ? spacing / 4 : 2 << 30 )))
  say "   plain read() of holes here: $rate MiB/s, so cmp of the original and its copy (2 x $HUGE_SIZE of zeros)" \
    "would take about $(( 2 * (hbytes >> 20) / (rate > 0 ? rate : 1) )) s"
  if [ "$CMP_HUGE" = 1 ]; then
    "$HB" --store "$S2" get huge "$W/huge.out"
    local t0=$EPOCHREALTIME
    cmp "$H" "$W/huge.out" && say "   CMP_HUGE: cmp says same bytes ($(since "$t0") s)"
    rm -f "$W/huge.out"
  else
    say "   plain cmp skipped (it reads every hole; CMP_HUGE=1 runs it)"
  fi

  # The mount.
  if [ ! -e /dev/fuse ] || ! command -v fusermount3 > /dev/null; then
    say "   SKIP mount: /dev/fuse or fusermount3 missing (apt-get install fuse3)"
    return 0
  fi
  mkdir -p "$W/mnt"
  "$HB" --store "$S2" mount "$W/mnt" -f --cache-dir "$W/mnt-cache" 2> "$W/mount.log" &
  MNT_PID=$!
  local i
  for ((i = 0; i < 600; i++)); do  # wait for the file to show (bounded: 60 s means the mount failed)
    [ -e "$W/mnt/huge" ] && break
    kill -0 "$MNT_PID" 2> /dev/null || break
    sleep 0.1
  done
  if [ ! -e "$W/mnt/huge" ]; then
    say "   SKIP mount: the file did not show in the mount: $(tail -3 "$W/mount.log")"
    return 0
  fi
  hwm() { awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$MNT_PID/status"; }
  say "   mount up, daemon peak RSS $(hwm) MiB"
  sp randread "$W/mnt/huge" "$H" "$H.islands" "$READS" 7 > "$W/rand.json" ||
    { say "   random reads through the mount returned wrong bytes: $(cat "$W/rand.json")"; exit 1; }
  local rss_reads
  rss_reads=$(hwm)
  "$PY" - "$W/rand.json" "$rss_reads" <<'PY' | tee -a "$REPORT"
import json, sys
r = json.load(open(sys.argv[1]))
for k, v in r.items():
    print(f"   mount, {v['reads']} random 4 KiB preads ({k}: {v['in_data']} in data): {v['seconds']} s, "
          f"p50 {v['p50_us']} us, p99 {v['p99_us']} us, all equal to the original; daemon peak RSS {sys.argv[2]} MiB")
PY
  printf "1t\tmount-rand4k\tread\t1\t%s\t%s\t-\t-\n" \
    "$("$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); print(round(sum(v['seconds'] for v in r.values()), 3))" "$W/rand.json")" \
    "$rss_reads" >> "$RESULTS"
  # cp --sparse=always from the mount. cp (coreutils 9) only looks for holes
  # (SEEK_DATA) in a file whose st_blocks is below its size; otherwise it
  # reads every byte, here all of the holes through FUSE.
  local blocks size
  read -r size blocks < <(stat -c '%s %b' "$W/mnt/huge")
  if [ $((blocks * 512)) -lt "$size" ]; then
    sync
    timed timeout "$STEP_TIMEOUT" "$PY" "$W/sp.py" rchar cp --sparse=always "$W/mnt/huge" "$W/cp.out" ||
      { say "   cp --sparse=always from the mount failed or took over $STEP_TIMEOUT s"; exit 1; }
    record 1t cp-from-mount copy 1 "$T" "$RSS" - "$(du_mb "$W/cp.out")"
    sp cmp "$H" "$W/cp.out" > /dev/null || { say "   cp from the mount: copy differs"; exit 1; }
    say "   cp --sparse=always from the mount: $T s, read $(($(cat "$W/stdout.txt") >> 20)) MiB, du of the copy" \
      "$(du_mb "$W/cp.out") MiB, same bytes; daemon peak RSS $(hwm) MiB"
  else
    say "   SKIP cp --sparse=always from the mount: the mount reports st_blocks $blocks (= size/512), so cp takes the" \
      "file as dense and would read all $HUGE_SIZE of holes through FUSE (it does not call SEEK_DATA); the mount's" \
      "SEEK_DATA itself, used the way cp would with st_blocks right:"
    timed "$PY" -c "
import os, sys
src, dst = sys.argv[1], sys.argv[2]
fi = os.open(src, os.O_RDONLY); fo = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
size = os.fstat(fi).st_size; pos = 0
while pos < size:
    try: d = os.lseek(fi, pos, os.SEEK_DATA)
    except OSError: break
    h = os.lseek(fi, d, os.SEEK_HOLE)
    while d < h:
        b = os.pread(fi, min(1 << 20, h - d), d); os.pwrite(fo, b, d); d += len(b)
    pos = h
os.ftruncate(fo, size)" "$W/mnt/huge" "$W/cp.out"
    record 1t seekdata-copy-from-mount copy 1 "$T" "$RSS" - "$(du_mb "$W/cp.out")"
    sp cmp "$H" "$W/cp.out" > /dev/null || { say "   SEEK_DATA copy from the mount: copy differs"; exit 1; }
    say "   SEEK_DATA copy from the mount: $T s, du of the copy $(du_mb "$W/cp.out") MiB, same bytes; daemon peak RSS $(hwm) MiB"
  fi
  rm -f "$W/cp.out"
  fusermount3 -u "$W/mnt"
  wait "$MNT_PID" || true
  MNT_PID=
}
if case_on 1t; then huge_case; fi

# ==========================================================================
say ""
say "load average at the end $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
"$PY" - "$RESULTS" <<'PY' | tee -a "$REPORT"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
groups = {}
for r in rows:
    groups.setdefault((r["case"], r["tool"], r["op"]), []).append(r)
def med(k, f):
    return statistics.median(float(r[f]) for r in groups[k])
print()
print(f"{'case':5} {'tool':26} {'op':5} {'runs':>4} {'median s':>9} {'peak RSS MiB':>13} {'stored MiB':>11} {'out du MiB':>11}")
for k, rs in groups.items():
    last = rs[-1]
    print(f"{k[0]:5} {k[1]:26} {k[2]:5} {len(rs):>4} {med(k, 'seconds'):>9.2f} "
          f"{max(int(r['rss_mb']) for r in rs):>13} {last['stored_mb']:>11} {last['out_du_mb']:>11}")
print()
def ratio(a, b, what, target=None, lower=True):
    if a in groups and b in groups:
        x, y = med(a, "seconds"), med(b, "seconds")
        s = f"{what}: {x:.2f} s / {y:.2f} s = {x / max(y, 1e-9):.2f}x"
        if target is not None:
            s += f" (target <= {target}x: {'met' if x <= target * y else 'MISSED'})"
        print(s)
ratio(("20g", "hb-sparse", "put"), ("20g", "hb-dense", "put"), "20g put, sparse / dense", 1.2)
ratio(("20g", "hb-sparse", "get"), ("20g", "hb-dense", "get"), "20g get, sparse / dense", 1.2)
for c in ("zstd", "restic", "borg", "cp"):
    ratio(("20g", "hb-sparse", "put"), ("20g", c, "put"), f"20g put, hugeblob / {c}", 1.0 if c in ("zstd", "restic") else None)
for c in ("zstd", "borg"):
    ratio(("20g", "hb-sparse", "get"), ("20g", c, "get"), f"20g get, hugeblob / {c}")
ratio(("1t", "hb-sparse", "put"), ("1t", "hb-dense", "put"), "1t put, sparse / dense (same data)")
ratio(("1t", "hb-sparse", "get"), ("1t", "hb-dense", "get"), "1t get, sparse / dense (same data)")
k = ("1t", "hb-sparse", "put")
if k in groups:
    m = max(int(r["rss_mb"]) for r in groups[k])
    print(f"1t put peak RSS {m} MiB (target <= 64 MiB: {'met' if m <= 64 else 'MISSED'})")
PY
say "rows: $RESULTS; this report: $REPORT"
