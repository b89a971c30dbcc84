#!/usr/bin/env bash
# The main job, end to end on the default local store: install, build, store a
# file, list it, show its stats, get it back (verified), compare, verify the
# store. With an argument, that file is stored instead of a generated sample.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_TARGETS=hugeblob_cli scripts/build.sh -DHB_BUILD_TESTS=OFF -DHB_BUILD_BENCH=OFF -DHB_SANITIZE=
HB=build/hugeblob

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $# -ge 1 ]; then
  src=$1
else
  # A VM-image-like sample: 192 MiB of real files (a tar of /usr/share),
  # 32 MiB of zeros (a hole), and the first 32 MiB again (duplicate chunks).
  src=$work/sample.img
  echo "making a 256 MiB sample file..." >&2
  # (tar is cut off by head: its SIGPIPE is expected, hence the || true.)
  { (tar -cf - /usr/share 2>/dev/null || true) | head -c $((192 << 20))
    head -c $((32 << 20)) /dev/zero
    (tar -cf - /usr/share 2>/dev/null || true) | head -c $((32 << 20)); } > "$src"
fi
name=demo/$(basename "$src")

set -x
$HB put "$src" --name "$name" --verbose
$HB ls
$HB stat "$name"
$HB get "$name" "$work/restored" --force --verbose
cmp "$src" "$work/restored"
$HB cat "$name" --offset 1M --length 64 | xxd
$HB verify "$name" --verbose
