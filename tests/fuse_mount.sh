#!/usr/bin/env bash
# FUSE end to end: mounts a local store with `hugeblob mount` and runs real
# programs on it: cmp of every file, sqlite3 queries, a multi-threaded Python
# mmap reader, tar, concurrent readers, EROFS on writes, a name put while
# mounted, a file above 4 GiB, a corrupt pack (EIO + log line), the daemon's
# memory, unmount on SIGTERM and fusermount3 -u, and a stale mountpoint.
#
# Needs FUSE: runs as root where /dev/fuse exists (CI). Exits 77 (skipped)
# only when /dev/fuse or fusermount3 is missing, and says so.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

if [ ! -e /dev/fuse ]; then
  echo "SKIP: /dev/fuse is missing: this test needs FUSE (run as root on a machine with /dev/fuse)"
  exit 77
fi
if ! command -v fusermount3 >/dev/null; then
  echo "SKIP: fusermount3 is missing (apt-get install fuse3)"
  exit 77
fi
if ! "$HB" mount --help >/dev/null 2>&1; then
  echo "FAIL: $HB has no 'mount' command" >&2
  exit 1
fi

STORE=$WORK/store
MNT=$WORK/mnt
export HUGEBLOB_STORE=$STORE
mkdir -p "$MNT" "$WORK/in"
MEMCACHE_MB=32

# Every mount this test makes is unmounted and every daemon it starts is
# killed, whatever happens.
PIDS=()
MOUNTS=()
cleanup_hooks+=('for m in "${MOUNTS[@]}"; do mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null; }; done; for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done')

# Deadlines, not delays: each returns as soon as the state is reached.
wait_mounted() {  # wait_mounted DIR: up to 60 s
  poll_until 60 mountpoint -q "$1"
}
unmounted() { ! mountpoint -q "$1" && gone "$2"; }
wait_unmounted() {  # wait_unmounted DIR PID: up to 60 s
  poll_until 60 unmounted "$1" "$2"
}
mount_fg() {  # mount_fg DIR LOG [options...]: sets MPID
  local dir=$1 log=$2; shift 2
  "$HB" mount "$dir" -f -v --memory-cache ${MEMCACHE_MB}M "$@" 2>"$log" &
  MPID=$!
  PIDS+=("$MPID")
  MOUNTS+=("$dir")
  wait_mounted "$dir"
}

# --- inputs -----------------------------------------------------------------
MB=32
[ "$QUICK" = 1 ] && MB=8
head -c $((MB << 20)) /dev/urandom > "$WORK/in/random"
{ tar -cf - /usr/share/doc 2>/dev/null || true; } | head -c $((MB << 20)) > "$WORK/in/mixed"
printf 'hello\n' > "$WORK/in/small"
: > "$WORK/in/empty"
# A tar archive of a directory tree, to list and extract through the mount.
mkdir -p "$WORK/tree/sub"
for i in $(seq 20); do head -c $((i * 10000)) /dev/urandom > "$WORK/tree/sub/f$i"; done
cp -r /usr/share/doc/bash "$WORK/tree/doc" 2>/dev/null || echo text > "$WORK/tree/doc"
tar -C "$WORK" -cf "$WORK/in/archive.tar" tree
# An SQLite database with enough rows to span many chunks.
HAVE_SQLITE=1
if ! command -v sqlite3 >/dev/null; then
  apt-get install -y sqlite3 >/dev/null 2>&1 || true
fi
if command -v sqlite3 >/dev/null; then
  ROWS=200000
  [ "$QUICK" = 1 ] && ROWS=20000
  sqlite3 "$WORK/in/db.sqlite" <<SQL
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v INTEGER, pad BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $ROWS)
INSERT INTO t SELECT x, printf('key%08d', (x * 7919) % $ROWS), (x * 31) % 1000, randomblob(100) FROM c;
CREATE INDEX t_k ON t(k);
SQL
else
  HAVE_SQLITE=0
  fail "sqlite3 is not installed and could not be installed (apt-get install sqlite3)"
fi

for f in random mixed small empty archive.tar db.sqlite; do
  [ -e "$WORK/in/$f" ] || continue
  "$HB" put "$WORK/in/$f" --name "in/$f" -q || fail "put $f"
done
"$HB" put "$WORK/in/random" --name top-level -q

# A file above 4 GiB, mostly holes (which the store does not hold): data
# at 1000 and past 4 GiB. Skipped in the quick (sanitizer) run: putting
# 5 GiB of zeros takes ~20 s.
BIG=0
if [ "$QUICK" != 1 ]; then
  BIG=1
  python3 - "$WORK/in/big" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    f.truncate(5 << 30)
    f.seek(1000); f.write(os.urandom(300000))
    f.seek((4 << 30) + 12345); f.write(os.urandom(3 << 20))
    f.seek((5 << 30) - 7); f.write(b"the end")
PY
  "$HB" put "$WORK/in/big" --name big.img -q || fail "put big.img"
fi

# --- errors before mounting ---------------------------------------------------
expect_error "missing mountpoint" "mountpoint $WORK/nope: No such file" "$HB" mount "$WORK/nope" -f
touch "$WORK/plainfile"
expect_error "mountpoint that is a file" "not a directory" "$HB" mount "$WORK/plainfile"
# Background mode reports the error before detaching (non-zero exit).
expect_error "background mount of a bad mountpoint fails up front" "No such file" "$HB" mount "$WORK/nope"
# What the daemon reads itself may not be under the mountpoint: the mount
# would hide it, and each read would be a request to the daemon itself.
mkdir -p "$WORK/under"
"$HB" --store "$WORK/under/store" init -q
expect_error "a local store inside the mountpoint" "the store .*under/store is inside the mountpoint" \
  "$HB" --store "$WORK/under/store" mount "$WORK/under" -f
expect_error "a disk cache inside the mountpoint (not made yet)" \
  "the disk cache .*under/c/d is inside the mountpoint" "$HB" mount "$WORK/under" -f --cache-dir "$WORK/under/c/d"
check "... and nothing was mounted" bash -c "! mountpoint -q '$WORK/under'"

# --- mount and read ------------------------------------------------------------
LOG=$WORK/mount.log
if ! mount_fg "$MNT" "$LOG"; then
  fail "mount did not come up: $(cat "$LOG")"
  finish
fi
pass "mounted"
# The kernel's read-ahead for the mount is raised (root and a writable
# sysfs only); its device number comes from mountinfo, not from a stat of
# the mountpoint (which the daemon itself would have to answer).
dev=$(awk -v m="$MNT" '$5 == m {d = $3} END {print d}' /proc/self/mountinfo)
if [ "$(id -u)" = 0 ] && [ -n "$dev" ] && [ -w "/sys/class/bdi/$dev/read_ahead_kb" ]; then
  check "kernel read-ahead of the mount raised to 8 MiB" \
    poll_until 30 grep -qx 8192 "/sys/class/bdi/$dev/read_ahead_kb"
fi

check "ls shows the names as files and directories" \
  bash -c "[ -f '$MNT/top-level' ] && [ -d '$MNT/in' ] && [ -f '$MNT/in/random' ]"
check "sizes are exact" \
  bash -c "[ \$(stat -c %s '$MNT/in/random') = \$(stat -c %s '$WORK/in/random') ] && [ \$(stat -c %s '$MNT/in/empty') = 0 ]"
check "files are read-only regular files (0444)" bash -c "[ \$(stat -c %a '$MNT/in/random') = 444 ]"
for f in random mixed small empty archive.tar db.sqlite; do
  [ -e "$WORK/in/$f" ] || continue
  check "cmp $f" cmp "$WORK/in/$f" "$MNT/in/$f"
done
check "cmp top-level" cmp "$WORK/in/random" "$MNT/top-level"

# sqlite3 on the mounted database: the same answers as on the original.
if [ "$HAVE_SQLITE" = 1 ]; then
  Q="SELECT count(*), sum(v) FROM t; SELECT id, k, v FROM t WHERE k BETWEEN 'key00001000' AND 'key00001010' ORDER BY k;
     SELECT v, count(*) FROM t GROUP BY v ORDER BY count(*) DESC, v LIMIT 5; PRAGMA integrity_check;"
  want=$(sqlite3 "$WORK/in/db.sqlite" "$Q")
  got=$(sqlite3 -readonly "$MNT/in/db.sqlite" "$Q" 2>&1)
  check "sqlite3 queries on the mounted database match" test "$want" = "$got"
  got=$(sqlite3 "file:$MNT/in/db.sqlite?immutable=1" "$Q" 2>&1)
  check "sqlite3 immutable URI open matches" test "$want" = "$got"
fi

# mmap from several threads at thousands of random offsets.
check "python mmap: random offsets from 8 threads" python3 - "$WORK/in/random" "$MNT/in/random" "$QUICK" <<'PY'
import mmap, os, random, sys, threading
orig, mounted, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
want = open(orig, "rb").read()
fd = os.open(mounted, os.O_RDONLY)
m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
assert len(m) == len(want)
errors = []
def work(seed):
    r = random.Random(seed)
    for _ in range(500 if quick else 2000):
        off = r.randrange(len(want))
        n = r.choice([1, 7, 4096, 65536])
        if m[off:off + n] != want[off:off + n]:
            errors.append(off)
threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
for t in threads: t.start()
for t in threads: t.join()
m.close(); os.close(fd)
sys.exit(1 if errors else 0)
PY

# tar: list and extract the stored archive, compare with the original tree.
check "tar -tf lists the archive" bash -c "tar -tf '$MNT/in/archive.tar' | grep -q 'tree/sub/f20'"
mkdir -p "$WORK/extract"
check "tar -xf extracts identical files" \
  bash -c "tar -C '$WORK/extract' -xf '$MNT/in/archive.tar' && diff -r '$WORK/tree' '$WORK/extract/tree'"

# Concurrent readers of one file, at different offsets and whole.
conc() {
  local pids=() rc=0
  for i in 0 1 2 3; do cmp "$WORK/in/mixed" "$MNT/in/mixed" & pids+=($!); done
  for i in 0 1 2 3; do
    ( off=$((i * (MB << 18))); cmp <(tail -c +$((off + 1)) "$WORK/in/random") <(tail -c +$((off + 1)) "$MNT/in/random") ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}
check "8 concurrent readers of one file" conc

# Writes: EROFS, whatever the call.
erofs() {  # erofs DESCRIPTION command...: must fail with "Read-only file system"
  local what=$1; shift
  local err
  if err=$("$@" 2>&1); then fail "$what succeeded"; return; fi
  if [[ "$err" == *"Read-only file system"* ]]; then pass "$what: EROFS"; else fail "$what: $err"; fi
}
erofs "create a file" bash -c "echo x > '$MNT/newfile'"
erofs "write an existing file" bash -c "echo x >> '$MNT/in/small'"
erofs "truncate" truncate -s 0 "$MNT/in/small"
erofs "mkdir" mkdir "$MNT/dir"
erofs "rm" rm -f "$MNT/in/small"
erofs "rename" mv "$MNT/in/small" "$MNT/in/small2"
check "open O_RDWR gives errno EROFS" python3 -c "
import errno, os, sys
try:
    os.open('$MNT/in/small', os.O_RDWR)
except OSError as e:
    sys.exit(0 if e.errno == errno.EROFS else 1)
sys.exit(1)"

# A name put while mounted appears within a few seconds.
"$HB" put "$WORK/in/small" --name added/later -q
check "a name put while mounted becomes visible" poll_until 60 test -f "$MNT/added/later"
check "and reads right" cmp "$WORK/in/small" "$MNT/added/later"

# Above 4 GiB: exact size, bytes past 4 GiB, the end, and SEEK_DATA/HOLE.
if [ "$BIG" = 1 ]; then
  check "5 GiB file has its exact size" test "$(stat -c %s "$MNT/big.img")" = $((5 << 30))
  check "bytes past 4 GiB match (pread and mmap)" python3 - "$WORK/in/big" "$MNT/big.img" <<'PY'
import mmap, os, sys
a, b = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
ok = True
for off, n in [(1000, 300000), ((4 << 30) + 12000, 1 << 20), ((4 << 30) + (3 << 20), 100000),
               ((5 << 30) - 100, 100), (3 << 30, 65536)]:
    x, y = os.pread(a, n, off), os.pread(b, n, off)
    if x != y:
        ok = False
        print(f"pread mismatch at {off}+{n}: got {len(y)} bytes", file=sys.stderr)
m = mmap.mmap(b, 0, prot=mmap.PROT_READ)
off = (4 << 30) + 12345
if m[off:off + 4096] != os.pread(a, 4096, off):
    ok = False
    print(f"mmap mismatch at {off}", file=sys.stderr)
d = os.lseek(b, 2 << 30, os.SEEK_DATA)
# Holes are whole zero chunks, so the data found starts at the chunk that
# holds the first byte: within one maximal chunk (1 MiB) before 4 GiB + 12345.
if not ((4 << 30) - (1 << 20) <= d <= (4 << 30) + 12345):
    ok = False
    print(f"SEEK_DATA from 2 GiB gave {d}", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
fi

# A corrupt pack: reads of that file fail with EIO, the log names the pack,
# the daemon keeps serving everything else.
head -c $((2 << 20)) /dev/urandom > "$WORK/in/victim"
before=$(find "$STORE/packs" -type f | sort)
"$HB" put "$WORK/in/victim" --name victim --codec none -q
pack=$(comm -13 <(echo "$before") <(find "$STORE/packs" -type f | sort) | head -1)
if [ -n "$pack" ]; then
  chmod u+w "$pack" 2>/dev/null
  printf 'garbage-garbage-garbage' | dd of="$pack" bs=1 seek=100000 conv=notrunc 2>/dev/null
  wait_for "the mount to show 'victim'" 60 test -f "$MNT/victim"
  err=$(cat "$MNT/victim" 2>&1 >/dev/null)
  check "corrupt pack: read fails with EIO ($err)" bash -c "[[ '$err' == *'Input/output error'* ]]"
  check "corrupt pack: the log line names the pack" grep -q "packs/" "$LOG"
  check "daemon still serves other files" cmp "$WORK/in/small" "$MNT/in/small"
else
  fail "could not find the victim's pack"
fi

# Memory: after reading everything, the daemon's peak RSS stays near its
# cache budget (memory cache + 1 MiB per FUSE thread + fixed overhead).
hwm_kb=$(awk '/VmHWM/ {print $2}' /proc/$MPID/status)
limit_kb=$(((MEMCACHE_MB + 16 + 64) * 1024))
if [ "$QUICK" = 1 ]; then
  # The quick mode is the sanitizer run: ASan's shadow memory and quarantine
  # make RSS meaningless there.
  echo "skip: RSS bound (quick/sanitizer run; peak was ${hwm_kb} KiB)"
else
  check "daemon peak RSS ${hwm_kb} KiB <= ${limit_kb} KiB" test "$hwm_kb" -le "$limit_kb"
fi

# SIGTERM unmounts cleanly and exits 0.
kill -TERM "$MPID"
check "SIGTERM unmounts" wait_unmounted "$MNT" "$MPID"
wait "$MPID"
check "and the daemon exits 0" test $? = 0

# Background (daemon) mode, unmounted with fusermount3 -u.
"$HB" mount "$MNT" --memory-cache ${MEMCACHE_MB}M
check "background mount returns once mounted" mountpoint -q "$MNT"
DPID=$(pgrep -f "^$HB mount $MNT --memory-cache" | head -1)
[ -n "$DPID" ] && PIDS+=("$DPID")
check "background mount reads" cmp "$WORK/in/small" "$MNT/in/small"
fusermount3 -u "$MNT"
check "fusermount3 -u ends the daemon" wait_unmounted "$MNT" "${DPID:-0}"

# A crashed daemon leaves a stale mountpoint: the next mount says so and
# names the command that clears it.
mount_fg "$MNT" "$WORK/crash.log"
kill -9 "$MPID"
wait "$MPID" 2>/dev/null
expect_error "stale mountpoint is reported with the fix" \
  "mountpoint $MNT is stale .* run fusermount3 -u $MNT" "$HB" mount "$MNT" -f
fusermount3 -u "$MNT"
check "fusermount3 -u clears the stale mountpoint" bash -c "! mountpoint -q '$MNT' && ls '$MNT' >/dev/null"

# A store that stops answering: the pack of a file is replaced by a FIFO, so
# the daemon's open() of it blocks forever (as on a hung NFS server). With
# --read-timeout 2s the program's read fails with EIO in about 2 s instead of
# hanging, the log says why, and other reads keep working.
HS=$WORK/hung-store
HM=$WORK/mnt-hung
mkdir -p "$HM"
head -c $((1 << 20)) /dev/urandom > "$WORK/in/hung"
"$HB" --store "$HS" put "$WORK/in/hung" --name hung --codec none -q
hpack_path=$(find "$HS/packs" -type f | head -1)  # the store's only pack
"$HB" --store "$HS" put "$WORK/in/small" --name fine -q
if [ -n "$hpack_path" ]; then
  HUGEBLOB_STORE=$HS mount_fg "$HM" "$WORK/hung.log" --read-timeout 2s --no-disk-cache
  cmp -s "$WORK/in/small" "$HM/fine" || fail "hung store: the healthy file does not read before the hang"
  rm -f "$hpack_path" && mkfifo "$hpack_path"
  t0=$(date +%s.%N)
  err=$(timeout 30 cat "$HM/hung" 2>&1 >/dev/null)
  rc=$?
  took=$(python3 -c "print(round($(date +%s.%N) - $t0, 1))")
  check "hung store: the read fails (rc=$rc, not the 30 s timeout) in ${took}s" \
    bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && python3 -c 'import sys; sys.exit(not $took < 10)'"
  check "hung store: with EIO ($err)" bash -c "[[ '$err' == *'Input/output error'* ]]"
  # The local store now refuses a FIFO at once (never opens it for reading),
  # so the log names the FIFO. A store whose reads really block in the
  # kernel (a dead NFS server), and the mount's --read-timeout against it,
  # are tested in tests/hostile_stall.sh (stallfs).
  check "hung store: the log says why" grep -Eq "has not answered|FIFO" "$WORK/hung.log"
  check "hung store: other files still read" cmp "$WORK/in/small" "$HM/fine"
  # Let the stuck open() return (a writer appears and goes), then unmount.
  timeout 5 bash -c "exec 3>'$hpack_path'; exec 3>&-"
  fusermount3 -u "$HM"
  check "hung store: unmounts cleanly afterwards" wait_unmounted "$HM" "$MPID"
else
  fail "hung store: could not find the pack of 'hung'"
fi

finish
