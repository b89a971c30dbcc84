#!/usr/bin/env bash
# Progress of the mount's first-use fetches (issue 15): `mount -f` on a
# terminal draws a line (bytes fetched, rate, requests, in flight) that fits
# 40 and 200 columns and is cleared at unmount, then a summary; off a
# terminal only the summary at unmount (none with -q); --progress json
# gives JSON lines. Every file is read through the mount cold (no disk
# cache), so every chunk is fetched from the store.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
  echo "SKIP: this test needs /dev/fuse and fusermount3"
  exit 77
fi
unset HUGEBLOB_STORE
S=$WORK/s
MNT=$WORK/mnt
mkdir -p "$MNT"
MPID=
cleanup_hooks+=('mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"; }; [ -n "$MPID" ] && kill -9 "$MPID" 2>/dev/null')
head -c 6000000 /dev/urandom >"$WORK/f"
SHA=$(sha256sum "$WORK/f" | cut -d' ' -f1)
"$HB" --store "$S" put "$WORK/f" --name data/file.bin --chunk-size 64K -q
# No disk cache: each mount starts cold.
M=("$HB" --store "$S" mount "$MNT" -f --no-disk-cache)

check "on a terminal at 40 columns: fits, cleared at unmount, summary" \
  python3 "$HERE/mount_progress_pty.py" 40 "fetched" "$MNT" "$MNT/data/file.bin" "$SHA" -- "${M[@]}"
check "on a terminal at 200 columns: bytes fetched, requests, in flight" \
  python3 "$HERE/mount_progress_pty.py" 200 "fetched,requests,in flight" "$MNT" "$MNT/data/file.bin" "$SHA" -- "${M[@]}"

# Off a terminal: no progress lines, the summary at unmount on stderr.
run_off() {  # run_off OUT ERR [global options...]: mount, read the file, unmount
  local out=$1 err=$2
  shift 2
  "$HB" --store "$S" "$@" mount "$MNT" -f --no-disk-cache >"$out" 2>"$err" &
  MPID=$!
  wait_for "the mount" 60 mountpoint -q "$MNT" || return
  check "the file reads whole through the mount" test "$(sha256sum <"$MNT/data/file.bin" | cut -d' ' -f1)" = "$SHA"
  fusermount3 -u "$MNT"
  wait "$MPID"
  check "the mount exits 0 at unmount" test $? = 0
  MPID=
}
run_off "$WORK/off.out" "$WORK/off.err"
check "off a terminal: nothing on stdout" test ! -s "$WORK/off.out"
check "off a terminal: no progress lines" bash -c "! grep -q $'\r' '$WORK/off.err'"
check "off a terminal: the summary at unmount" \
  grep -Eq "^mount $MNT: fetched 5\.7 MiB from the store in [0-9]+ requests? over [0-9.]+s$" "$WORK/off.err"
check "off a terminal: only the summary" test "$(wc -l <"$WORK/off.err")" = 1
run_off "$WORK/q.out" "$WORK/q.err" -q
check "-q: no summary" test ! -s "$WORK/q.err" -a ! -s "$WORK/q.out"
run_off "$WORK/j.out" "$WORK/j.err" --progress json
check "--progress json: JSON lines, the last one finished, the bytes fetched" python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines, "no lines"
assert all(l["progress"] == "mount" and l["name"] == sys.argv[2] for l in lines), lines
assert all({"requests", "in_flight", "done", "rate"} <= set(l) for l in lines[:-1]), lines
last = lines[-1]
assert last.get("finished") is True and last["done"] >= 6000000 and last["requests"] > 0, last
assert last["in_flight"] == 0, last' "$WORK/j.err" "$MNT"
# A detached mount prints nothing, and its daemon counts nothing it shows.
"$HB" --store "$S" mount "$MNT" --no-disk-cache >"$WORK/d.out" 2>"$WORK/d.err"
check "a detached mount: mounted" mountpoint -q "$MNT"
cat "$MNT/data/file.bin" >/dev/null
fusermount3 -u "$MNT"
check "a detached mount prints nothing" test ! -s "$WORK/d.out" -a ! -s "$WORK/d.err"
finish
