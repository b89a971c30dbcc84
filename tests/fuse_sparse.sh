#!/usr/bin/env bash
# Sparse files through the FUSE mount: SEEK_DATA/SEEK_HOLE on the mount agree
# with the original file (every long hole of the original is a hole on the
# mount, and every hole the mount reports is zeros in the original), the bytes
# are the same, st_blocks counts only the data, and `cp --sparse=always` from
# the mount copies only the data (du). Files: islands at odd offsets with
# holes at both ends, a file that is all hole, a dense file of zeros, and an
# 8 GiB file that is almost all hole (never read whole: compared by its data
# extents). bench/sparse.sh has the 1 TiB case.
#
# Needs FUSE: exits 77 (skipped) when /dev/fuse or fusermount3 is missing, or
# when the work directory does not keep holes; says which.
source "$(dirname "$0")/lib.sh"

if [ ! -e /dev/fuse ]; then
  echo "SKIP: /dev/fuse is missing: this test needs FUSE (run as root on a machine with /dev/fuse)"
  exit 77
fi
if ! command -v fusermount3 > /dev/null; then
  echo "SKIP: fusermount3 is missing (apt-get install fuse3)"
  exit 77
fi
STORE=$WORK/store
MNT=$WORK/mnt
export HUGEBLOB_STORE=$STORE
mkdir -p "$MNT" "$WORK/in"
M=$((1 << 20))

# sp.py: make sparse files, compare SEEK_DATA/SEEK_HOLE maps, compare bytes
# by data extents (outside both files' data extents both are holes: zeros).
cat > "$WORK/sp.py" <<'PY'
import os, random, sys
MiB = 1 << 20

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

def holes(fd, size):
    pos = 0
    for d, h in extents(fd, size):
        if d > pos:
            yield pos, d
        pos = h
    if pos < size:
        yield pos, size

def mk(path, size, *specs):
    """mk PATH SIZE OFFSET:LENGTH:SEED...: a sparse file with random islands."""
    with open(path, "wb") as f:
        f.truncate(int(size))
        for spec in specs:
            off, n, seed = (int(x) for x in spec.split(":"))
            f.seek(off)
            f.write(random.Random(seed).randbytes(n))

def all_zero(fd, a, b):
    pos = a
    while pos < b:
        n = min(8 * MiB, b - pos)
        if os.pread(fd, n, pos).count(0) != n:
            return False
        pos += n
    return True

def agree(orig, mounted):
    """The mount's holes are zeros in the original (reading only the
    original's data inside them), and every hole of 1 MiB or more in the
    original is a hole on the mount (put turns it into a zero run at its
    exact edges)."""
    fo, fm = os.open(orig, os.O_RDONLY), os.open(mounted, os.O_RDONLY)
    size = os.fstat(fo).st_size
    if os.fstat(fm).st_size != size:
        print("sizes differ", file=sys.stderr); return 1
    ext_o = list(extents(fo, size))
    mh = list(holes(fm, size))
    for a, b in mh:
        for d, h in ext_o:
            lo, hi = max(a, d), min(b, h)
            if lo < hi and not all_zero(fo, lo, hi):
                print(f"mount reports a hole at [{a}, {b}) but the original has data at {lo}", file=sys.stderr)
                return 1
    def covered(a, b):
        return any(x <= a and b <= y for x, y in mh)
    for a, b in holes(fo, size):
        if b - a >= MiB and not covered(a, b):
            print(f"hole [{a}, {b}) of the original is not a hole on the mount; mount holes {mh[:8]}", file=sys.stderr)
            return 1
    # lseek's edge cases: SEEK_HOLE at any offset < size gives <= size;
    # SEEK_DATA and SEEK_HOLE at size give ENXIO; SEEK_DATA after the last
    # data gives ENXIO.
    for whence in (os.SEEK_DATA, os.SEEK_HOLE):
        try:
            os.lseek(fm, size, whence)
            print(f"lseek(size, {whence}) did not fail", file=sys.stderr); return 1
        except OSError as e:
            if e.errno != 6:  # ENXIO
                print(f"lseek(size, {whence}): {e}", file=sys.stderr); return 1
    if size and os.lseek(fm, size - 1, os.SEEK_HOLE) not in (size - 1, size):
        print("SEEK_HOLE at size - 1 is neither size - 1 nor size", file=sys.stderr); return 1
    print(f"{len(mh)} holes, {sum(b - a for a, b in mh)} bytes")
    return 0

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
    fa, fb = os.open(a, os.O_RDONLY), os.open(b, os.O_RDONLY)
    sa, sb = os.fstat(fa).st_size, os.fstat(fb).st_size
    if sa != sb:
        print(f"sizes differ: {sa} {sb}", file=sys.stderr); return 1
    ranges = sorted(list(extents(fa, sa)) + list(extents(fb, sb)))
    for d, h in ranges:
        pos = d
        while pos < h:
            n = min(8 * MiB, h - pos)
            if os.pread(fa, n, pos) != os.pread(fb, n, pos):
                print(f"differ in [{pos}, {pos + n})", file=sys.stderr); return 1
            pos += n
    return 0

if __name__ == "__main__":
    sys.exit(globals()[sys.argv[1]](*sys.argv[2:]) or 0)
PY
sp() { python3 "$WORK/sp.py" "$@"; }

# The work file system must keep holes for any of this to show.
sp mk "$WORK/probe" $((8 * M)) $((4 * M)):4096:1
if [ "$(du -k "$WORK/probe" | cut -f1)" -gt 1000 ]; then
  echo "SKIP: $WORK does not keep holes"
  exit 77
fi

G=$((1 << 30))
sp mk "$WORK/in/odd" $((96 * M + 333)) $((5 * M + 17)):$((3 * M + 5)):1 $((40 * M + 4095)):$((2 * M)):2 $((90 * M + 1)):777777:3
sp mk "$WORK/in/hole" $((64 * M))
head -c $((16 * M)) /dev/zero > "$WORK/in/zeros"
# Almost all hole: islands at 0, at an odd offset past 4 GiB, and in the last MiB.
sp mk "$WORK/in/big" $((8 * G)) 0:$((M + 3)):4 $((4 * G + 12345)):$((3 * M)):5 $((8 * G - M + 7)):$((M - 7)):6
for f in odd hole zeros big; do
  check "put $f" "$HB" -q put "$WORK/in/$f" --name "$f"
done
# More frames than a manifest holds inline: its frame table is in segments,
# which the mount loads as it reads (SEEK_DATA over whole-hole segments
# loads none).
sp mk "$WORK/in/seg" $((24 * M)) $((M + 5)):$((3 * M)):7 $((10 * M)):$((2 * M + 1)):8 $((20 * M - 3)):$((2 * M)):9
check "put seg (4 KiB chunks)" "$HB" -q put "$WORK/in/seg" --name seg --chunker fixed --chunk-size 4K
check "seg: its frame table is in segments" test "$(count_objects "$STORE" segments)" -ge 2

PIDS=()
cleanup_hooks+=('mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null; }; for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done')
"$HB" mount "$MNT" -f --cache-dir "$WORK/cache" 2> "$WORK/mount.log" &
MPID=$!
PIDS+=("$MPID")
shows() { [ -e "$MNT/big" ] || gone "$MPID"; }
wait_for "the mount to show its files" 60 shows
if gone "$MPID"; then
  fail "mount: $(tail -3 "$WORK/mount.log")"
  finish
fi

for f in odd hole zeros big seg; do
  check "$f: SEEK_DATA/SEEK_HOLE on the mount agree with the original" sp agree "$WORK/in/$f" "$MNT/$f"
  check "$f: same bytes (data extents of both)" sp cmp "$WORK/in/$f" "$MNT/$f"
done
for f in odd hole zeros seg; do  # small enough to read whole, holes included
  check "$f: cmp of the whole file through the mount" cmp "$WORK/in/$f" "$MNT/$f"
done
check "hole: SEEK_DATA from 0 is ENXIO" python3 -c "
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    os.lseek(fd, 0, os.SEEK_DATA); sys.exit(1)
except OSError as e:
    sys.exit(0 if e.errno == 6 else 1)" "$MNT/hole"

# st_blocks: cp (coreutils 9) and GNU tar --sparse look for holes only in a
# file whose st_blocks * 512 is below its size. It must count the data (the
# stored non-zero chunks), not the size.
for f in odd hole zeros big seg; do
  read -r size blocks < <(stat -c '%s %b' "$MNT/$f")
  data=$(python3 -c "
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY); size = os.fstat(fd).st_size; pos = n = 0
while pos < size:
    try: d = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError: break
    h = os.lseek(fd, d, os.SEEK_HOLE); n += h - d; pos = h
print(n)" "$MNT/$f")
  check "$f: st_blocks counts the data ($((blocks * 512)) bytes for $data of data in $size)" \
    test $((blocks * 512)) -le $(((data + 511) / 512 * 512 + 4096))
done

# cp --sparse=always from the mount copies only the data: it reads no more
# than the data (rchar: a cp that took the file as dense would read every
# hole through FUSE and still make holes of the zeros, so du alone cannot
# tell), and the copy keeps the holes (du). Bounded by a timeout.
for f in odd zeros big seg; do
  rm -f "$WORK/cp.$f"
  if read_bytes=$(timeout 120 python3 "$WORK/sp.py" rchar cp --sparse=always "$MNT/$f" "$WORK/cp.$f"); then
    din=$(du -k "$WORK/in/$f" | cut -f1)
    dout=$(du -k "$WORK/cp.$f" | cut -f1)
    check "$f: cp --sparse=always from the mount reads only the data ($((read_bytes >> 10)) KiB read, $din KiB of data)" \
      test "$read_bytes" -le $(((din + 4096) << 10))
    check "$f: cp --sparse=always from the mount keeps the holes (du $dout KiB, original $din KiB)" \
      test "$dout" -le $((din + 2048))
    check "$f: the copy has the same bytes" sp cmp "$WORK/in/$f" "$WORK/cp.$f"
  else
    fail "$f: cp --sparse=always from the mount failed or took over 120 s (reading the holes?)"
  fi
  rm -f "$WORK/cp.$f"
done

fusermount3 -u "$MNT"
wait_for "the daemon to exit after fusermount3 -u" 60 gone "$MPID"
finish
