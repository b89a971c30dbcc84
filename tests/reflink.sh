#!/usr/bin/env bash
# Reflinks from seeds: on a file system that shares extents (XFS with
# reflink=1, on a loop device), a seeded get clones the seed's chunks into
# the output (FICLONERANGE) instead of writing them, for fixed-size and
# content-defined chunks alike (runs of adjacent chunks, their block-aligned
# middle), and the output is still byte-identical and checked. Needs root,
# a loop device and mkfs.xfs (xfsprogs); skipped otherwise (exit 77).
source "$(dirname "$0")/lib.sh"
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (mounts a loop device)"
command -v mkfs.xfs >/dev/null || skip "mkfs.xfs missing (apt-get install xfsprogs)"
grep -qw xfs /proc/filesystems || skip "the kernel has no XFS"
[ -e /dev/loop-control ] || skip "no loop devices"
MNT=$WORK/xfs
mkdir -p "$MNT"
truncate -s 400M "$WORK/xfs.img"
mkfs.xfs -q -m reflink=1 "$WORK/xfs.img" || skip "mkfs.xfs failed"
mount -o loop "$WORK/xfs.img" "$MNT" 2>"$WORK/mount.err" || skip "cannot mount a loop device: $(cat "$WORK/mount.err")"
cleanup_hooks+=("umount '$MNT'")
export HUGEBLOB_STORE=$WORK/store

head -c $((48 << 20)) /dev/urandom >"$MNT/v5"
cp "$MNT/v5" "$WORK/v6"
for at in 1000000 9000000 30000000; do printf 'edited' | dd of="$WORK/v6" bs=1 seek=$at conv=notrunc status=none; done
"$HB" -q put "$WORK/v6" --name fixed --chunker fixed --chunk-size 64K
"$HB" -q put "$WORK/v6" --name cdc
used() { df -B1 --output=used "$MNT" | tail -1; }
for name in fixed cdc; do
  before=$(used)
  res=$("$HB" --json get "$name" "$MNT/out-$name" --seed "$MNT/v5")
  check "$name: the cloned output is byte-identical" cmp "$MNT/out-$name" "$WORK/v6"
  cloned=$(json_get cloned_bytes <<<"$res")
  check "$name: most of it was cloned ($cloned bytes)" test "$cloned" -gt $((40 << 20))
  grew=$(($(used) - before))
  check "$name: and took little new space ($grew bytes for 48 MiB)" test "$grew" -lt $((12 << 20))
done
finish
