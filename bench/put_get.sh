#!/usr/bin/env bash
# Put/get throughput and peak RSS of hugeblob, side by side with the tools users
# would otherwise pick, on the same seeded input in the same run:
#   zstd -1 -T2 (+ sha256sum), restic backup/restore, borg create/extract.
#
#   bench/put_get.sh                       # sizes 1G 4G 16G, data random and mixed
#   SIZES="1G" DATA="mixed" bench/put_get.sh
#   SIZES=16G TOOLS=hugeblob bench/put_get.sh   # only some tools
#
# Needs: scripts/install-deps.sh --bench (restic, borgbackup), a build at build/.
# Inputs are read from the page cache (warmed before each tool) so the numbers
# compare CPU efficiency; outputs go to the same disk for every tool. Work
# files live in $BENCH_DIR (default /var/tmp/hugeblob-bench; needs ~3.5x the
# largest size free).
set -euo pipefail
cd "$(dirname "$0")/.."
HB=$(readlink -f build/hugeblob)
SIZES=${SIZES:-"1G 4G 16G"}
DATA=${DATA:-"random mixed"}
SEED=${SEED:-42}
TOOLS=${TOOLS:-"hugeblob zstd restic borg"}
want() { [[ " $TOOLS " == *" $1 "* ]]; }
DIR=${BENCH_DIR:-/var/tmp/hugeblob-bench}
mkdir -p "$DIR" bench/out
cc -O2 -o "$DIR/gendata" bench/gendata.c
export RESTIC_PASSWORD=bench BORG_PASSPHRASE="" BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
RESULTS=bench/out/put_get.tsv
printf "data\tsize\ttool\tput_s\tput_MBps\tput_rss_MB\tstored_MB\tget_s\tget_MBps\tget_rss_MB\n" > "$RESULTS"

# Real mixed data: the first 2 GiB of a tar of /usr (binaries, libraries, text,
# already-compressed files); gendata repeats it, perturbed, for larger sizes.
if [ ! -f "$DIR/usr.tar" ]; then tar -cf - /usr 2>/dev/null | head -c $((2 << 30)) > "$DIR/usr.tar" || true; fi

# timed CMD... -> sets T (wall seconds) and RSS (MB)
timed() {
  /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" > /dev/null 2> "$DIR/stderr.txt" ||
    { cat "$DIR/stderr.txt" >&2; return 1; }
  read -r T RSS_KB < "$DIR/time.txt"
  RSS=$((RSS_KB / 1024))
}
mbps() { python3 -c "print(f'{$1 / 1048576 / max($2, 1e-9):.0f}')"; }
du_mb() { du -sm "$1" | cut -f1; }
warm() { cat "$1" > /dev/null; }

row() {  # row data size tool put_s put_rss stored_MB get_s get_rss bytes
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$1" "$2" "$3" "$4" "$(mbps "$9" "$4")" "$5" "$6" \
    "$7" "$(mbps "$9" "$7")" "$8" | tee -a "$RESULTS"
}

for data in $DATA; do
  for size in $SIZES; do
    in=$DIR/in.$data.$size
    if [ "$data" = random ]; then "$DIR/gendata" random "$size" "$SEED" > "$in"
    else "$DIR/gendata" mixed "$size" "$SEED" "$DIR/usr.tar" > "$in"; fi
    bytes=$(stat -c %s "$in")
    echo "== $data $size" >&2

    if want hugeblob; then
    rm -rf "$DIR/hb" "$DIR/out"; warm "$in"
    timed "$HB" --store "$DIR/hb" put "$in" --name bench; pt=$T; pr=$RSS
    st=$(du_mb "$DIR/hb")
    timed "$HB" --store "$DIR/hb" get bench "$DIR/out"; gt=$T; gr=$RSS
    cmp "$in" "$DIR/out"
    row "$data" "$size" hugeblob "$pt" "$pr" "$st" "$gt" "$gr" "$bytes"
    rm -rf "$DIR/hb" "$DIR/out"
    fi

    # zstd -1 -T2, then sha256sum of the same bytes (what a careful user would script)
    if want zstd; then
    warm "$in"
    timed bash -c "zstd -q -1 -T2 -c '$in' > '$DIR/in.zst' && sha256sum '$in'"; pt=$T; pr=$RSS
    st=$(du_mb "$DIR/in.zst")
    timed zstd -q -d -f "$DIR/in.zst" -o "$DIR/out"; gt=$T; gr=$RSS
    row "$data" "$size" "zstd-1-T2+sha256" "$pt" "$pr" "$st" "$gt" "$gr" "$bytes"
    rm -f "$DIR/in.zst" "$DIR/out"
    fi

    if ! want restic; then :
    elif command -v restic > /dev/null; then
      rm -rf "$DIR/restic" "$DIR/rout"; restic -q -r "$DIR/restic" init > /dev/null; warm "$in"
      timed restic -q -r "$DIR/restic" backup "$in"; pt=$T; pr=$RSS
      st=$(du_mb "$DIR/restic")
      timed restic -q -r "$DIR/restic" restore latest --target "$DIR/rout"; gt=$T; gr=$RSS
      row "$data" "$size" restic "$pt" "$pr" "$st" "$gt" "$gr" "$bytes"
      rm -rf "$DIR/restic" "$DIR/rout"
    else echo "skip: restic not installed (scripts/install-deps.sh --bench)" >&2; fi

    if ! want borg; then :
    elif command -v borg > /dev/null; then
      rm -rf "$DIR/borg" "$DIR/bout"; borg init -e none "$DIR/borg"; warm "$in"
      timed borg create "$DIR/borg::v1" "$in"; pt=$T; pr=$RSS
      st=$(du_mb "$DIR/borg")
      mkdir -p "$DIR/bout"
      timed bash -c "cd '$DIR/bout' && borg extract '$DIR/borg::v1'"; gt=$T; gr=$RSS
      row "$data" "$size" "borg(lz4)" "$pt" "$pr" "$st" "$gt" "$gr" "$bytes"
      rm -rf "$DIR/borg" "$DIR/bout"
    else echo "skip: borg not installed (scripts/install-deps.sh --bench)" >&2; fi
    rm -f "$in"
  done
done
echo >&2
column -t -s $'\t' "$RESULTS"
