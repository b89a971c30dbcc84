#!/usr/bin/env bash
# Hostile targets for get (issue 14): a restore replaces only a regular file.
# Device nodes, FIFOs, symlinks (dangling or not) and directories given as
# the target are refused and left as they were; --to-device writes into a
# device or FIFO instead; temporary files of killed gets are removed by the
# next get of the same target; --json never mixes its summary into data on
# standard output; a source that changes while put reads it fails the put.
source "$(dirname "$0")/lib.sh"
unset HUGEBLOB_STORE
S=$WORK/store

head -c $((3 << 20)) /dev/urandom >"$WORK/data"
"$HB" --store "$S" put "$WORK/data" --name f -q || { echo "put failed"; exit 1; }

# A symlink to a file: refused, neither the link nor the file it points to changes.
echo "keep me" >"$WORK/victim"
ln -s "$WORK/victim" "$WORK/link"
expect_error "symlink target refused" "symbolic link" "$HB" --store "$S" get f "$WORK/link" --force
check "symlink still a symlink" test -L "$WORK/link"
check "symlink's file unchanged" grep -qx "keep me" "$WORK/victim"
ln -s "$WORK/nowhere" "$WORK/dangling"
expect_error "dangling symlink refused" "symbolic link" "$HB" --store "$S" get f "$WORK/dangling" --force
check "dangling link still a link, nothing created" test -L "$WORK/dangling" -a ! -e "$WORK/nowhere"

# A directory.
mkdir "$WORK/dir"
expect_error "directory refused" "directory" "$HB" --store "$S" get f "$WORK/dir" --force

# A FIFO: refused without --to-device (and without waiting for a reader).
mkfifo "$WORK/fifo"
expect_error "FIFO refused" "FIFO.*--to-device" timeout 30 "$HB" --store "$S" get f "$WORK/fifo" --force
check "FIFO still a FIFO" test -p "$WORK/fifo"
# With --to-device: written in order, zeros included, to whoever reads it.
cat "$WORK/fifo" >"$WORK/from_fifo" &
reader=$!
check "--to-device writes into a FIFO" timeout 60 "$HB" --store "$S" get f "$WORK/fifo" --to-device
wait "$reader"
check "FIFO reader got the file" cmp -s "$WORK/data" "$WORK/from_fifo"
check "FIFO still a FIFO after --to-device" test -p "$WORK/fifo"
expect_error "--to-device on a regular file refused" "to-device" \
  "$HB" --store "$S" get f "$WORK/victim" --to-device

# Device nodes (root only: mknod).
if [ "$(id -u)" = 0 ] && mknod "$WORK/null" c 1 3 2>/dev/null; then
  expect_error "character device refused" "character device" "$HB" --store "$S" get f "$WORK/null" --force
  check "device node still a device" test -c "$WORK/null"
  check "--to-device writes into a character device" "$HB" --store "$S" get f "$WORK/null" --to-device
  check "device node still a device after --to-device" test -c "$WORK/null"
else
  echo "skip: device nodes need root"
fi

# Temporary files of killed gets: a dead pid's file is removed by the next
# get of that target, a live process's file is kept.
sh -c 'exit 0' &
dead=$!
wait "$dead"
poll_until 5 gone "$dead"
touch "$WORK/.out.hugeblob.$dead.0123456789abcdef.tmp" "$WORK/.out.hugeblob.$$.0123456789abcdef.tmp"
touch "$WORK/.other.hugeblob.$dead.0123456789abcdef.tmp"
check "get to a new target" "$HB" --store "$S" get f "$WORK/out"
check "restored bytes" cmp -s "$WORK/data" "$WORK/out"
check "temp file of a dead get removed" test ! -e "$WORK/.out.hugeblob.$dead.0123456789abcdef.tmp"
check "temp file of a live process kept" test -e "$WORK/.out.hugeblob.$$.0123456789abcdef.tmp"
check "another target's temp file kept" test -e "$WORK/.other.hugeblob.$dead.0123456789abcdef.tmp"
expect_error "existing file needs --force" "already exists" "$HB" --store "$S" get f "$WORK/out"
check "regular file replaced with --force" "$HB" --store "$S" get f "$WORK/out" --force

# A killed get leaves its temp file (pid in the name); the next get cleans it.
# The get reads the store through stallfs (tests/tools/stallfs.c), which
# holds every read of a pack past its first 4 MiB: the get is known to be
# mid-restore, its temporary file made, when it is killed (a 64 MiB get
# takes 0.1 s: racing it with a poll missed it).
"$HB" --store "$S" put - --name big -q < <(head -c $((64 << 20)) /dev/urandom)
STALLFS=$(dirname "$HB")/hb_stallfs
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null && [ -x "$STALLFS" ]; then
  SV=$WORK/storeview
  mkdir -p "$SV"
  STALLFS_FROM=$((4 << 20)) "$STALLFS" "$S" "$SV" packs/ "$WORK/store-gate.log" 2>"$WORK/store-stallfs.err" &
  svpid=$!
  cleanup_hooks+=("mountpoint -q '$SV' && { fusermount3 -u '$SV' 2>/dev/null || { kill -9 $svpid; fusermount3 -uz '$SV'; }; }")
  wait_for "stallfs over the store" 30 mountpoint -q "$SV"
  "$HB" --store "$SV" get big "$WORK/big" --threads 1 2>"$WORK/big.err" &
  getter=$!
  wait_for "the get to block reading a pack" 60 grep -q "^stalled read packs/" "$WORK/store-gate.log"
  check "the get's temporary file is there" compgen -G "$WORK/.big.hugeblob.$getter.*.tmp"
  kill -9 "$getter" 2>/dev/null
  wait "$getter" 2>/dev/null
  fusermount3 -u "$SV"
  check "killed, it left its temporary file" compgen -G "$WORK/.big.hugeblob.$getter.*.tmp"
  check "next get after kill -9" "$HB" --store "$S" get big "$WORK/big" --force
  check "temp file of the killed get removed" bash -c "! compgen -G '$WORK/.big.hugeblob.*.tmp'"
else
  echo "skip: a get held mid-restore needs FUSE and hb_stallfs"
fi

# --- A source that changes while put reads it ----------------------------------
# The file is read through stallfs (tests/tools/stallfs.c), which holds every
# read past 8 MiB until the test has changed the file and creates the gate
# file: put is then known to be mid-file when the change happens. By default
# the put fails (exit 1) and publishes nothing; --allow-changing stores what
# was read, with a warning.
STALLFS=$(dirname "$HB")/hb_stallfs
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null && [ -x "$STALLFS" ]; then
  SRC=$WORK/src
  VIEW=$WORK/view
  mkdir -p "$SRC" "$VIEW"
  STALLFS_FROM=$((8 << 20)) "$STALLFS" "$SRC" "$VIEW" in "$WORK/gate.log" 2>"$WORK/stallfs.err" &
  sfpid=$!
  cleanup_hooks+=("touch '$SRC/.stallfs-go'; mountpoint -q '$VIEW' && { fusermount3 -u '$VIEW' 2>/dev/null || { kill -9 $sfpid; fusermount3 -uz '$VIEW'; }; }")
  wait_for "stallfs" 30 mountpoint -q "$VIEW"
  # changing_put FILE CHANGE [put options...]: starts put, waits for it to
  # block past 8 MiB, runs CHANGE, lets it go on; sets PUT_RC.
  changing_put() {
    local file=$1 change=$2; shift 2
    rm -f "$SRC/.stallfs-go"
    head -c $((16 << 20)) /dev/urandom >"$SRC/$file"
    "$HB" --store "$S" put "$VIEW/$file" --name "$file" "$@" >"$WORK/$file.out" 2>"$WORK/$file.err" &
    local putter=$!
    wait_for "put of $file to read past 8 MiB" 60 grep -q "^stalled read $file " "$WORK/gate.log"
    eval "$change"
    touch "$SRC/.stallfs-go"
    wait "$putter"
    PUT_RC=$?
  }
  changing_put in1 'dd if=/dev/urandom of="$SRC/in1" bs=1M seek=12 count=1 conv=notrunc status=none'
  check "put of a file overwritten mid-read exits 1 ($PUT_RC)" test "$PUT_RC" = 1
  check "it says the file changed" grep -q "changed while it was being read (its modification time changed" "$WORK/in1.err"
  check "nothing published under the name" test ! -e "$S/refs/in1"
  changing_put in2 'truncate -s $((10 << 20)) "$SRC/in2"'
  check "put of a file that shrank mid-read exits 1 ($PUT_RC)" test "$PUT_RC" = 1
  check "it says the size changed and the read was short" \
    grep -q "its size went from 16777216 to 10485760 bytes; 10485760 of its 16777216 bytes were read (it shrank)" "$WORK/in2.err"
  check "nothing published under that name" test ! -e "$S/refs/in2"
  changing_put in3 'dd if=/dev/urandom of="$SRC/in3" bs=1M seek=12 count=1 conv=notrunc status=none' --allow-changing
  check "--allow-changing: put exits 0 ($PUT_RC)" test "$PUT_RC" = 0
  check "--allow-changing: with a warning" grep -q "warning: put in3: .*changed while it was being read.*stored as read" "$WORK/in3.err"
  check "--allow-changing: what was read restores (here: the new bytes)" \
    bash -c "'$HB' --store '$S' get in3 '$WORK/in3.back' && cmp -s '$SRC/in3' '$WORK/in3.back'"
  changing_put in4 ':'
  check "a file left alone through the same gate stores fine ($PUT_RC)" test "$PUT_RC" = 0
  fusermount3 -u "$VIEW"
else
  echo "skip: changing sources need FUSE and hb_stallfs"
fi

# --json get NAME -: the data alone on standard output, the summary on stderr.
"$HB" --store "$S" --json get f - >"$WORK/stdout" 2>"$WORK/stderr"
check "--json get -: stdout is exactly the data" cmp -s "$WORK/data" "$WORK/stdout"
check "--json get -: summary on stderr" grep -q '"name":"f"' "$WORK/stderr"

finish
