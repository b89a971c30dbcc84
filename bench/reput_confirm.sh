#!/usr/bin/env bash
# The cost of confirming dedup entries (issue 14): an unchanged re-put of a
# file, where every chunk is already stored and put checks each index entry
# it deduplicates against with its pack's trailer (read once per pack).
# Runs two CLIs on the same store, same input, alternating, ROUNDS each, and
# prints wall and CPU per round and the medians side by side.
#
#   bench/reput_confirm.sh BEFORE_CLI AFTER_CLI
#   SIZE=1536M DATA=blend ROUNDS=5 bench/reput_confirm.sh /tmp/hb_before build/hugeblob
#
# Input as bench/put_get.sh makes it (bench/gendata.c), read from the page
# cache. The machine is shared: other builds add noise; read the spread.
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=$(readlink -f "$1")
AFTER=$(readlink -f "$2")
SIZE=${SIZE:-1536M}
DATA=${DATA:-blend}
ROUNDS=${ROUNDS:-5}
SEED=${SEED:-42}
DIR=${BENCH_DIR:-/var/tmp/hugeblob-bench}
mkdir -p "$DIR"
cc -O2 -o "$DIR/gendata" bench/gendata.c
if [ ! -s "$DIR/usr.tar" ]; then
  { tar -cf - /usr/lib /usr/share 2>/dev/null || true; } | head -c $((2 << 30)) >"$DIR/usr.tar"
fi
IN=$DIR/in.$DATA.$SIZE
[ -s "$IN" ] || "$DIR/gendata" "$DATA" "$SIZE" "$SEED" "$DIR/usr.tar" >"$IN"
STORE=$DIR/reput-store
rm -rf "$STORE"
"$AFTER" --store "$STORE" put "$IN" --name f -q
cat "$IN" >/dev/null
RAW=$DIR/reput_confirm.tsv
: >"$RAW"
for round in $(seq "$ROUNDS"); do
  for side in before after; do
    cli=$BEFORE
    [ "$side" = after ] && cli=$AFTER
    /usr/bin/time -f "%e %U %S %M" -o "$DIR/time.txt" "$cli" --store "$STORE" put "$IN" --name f -q
    read -r wall user sys rss <"$DIR/time.txt"
    printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$round" "$side" "$wall" "$user" "$sys" "$rss" >>"$RAW"
    printf "round %d %-6s wall %6.2f s  user %6.2f  sys %5.2f  rss %4d MiB\n" \
      "$round" "$side" "$wall" "$user" "$sys" "$((rss / 1024))"
  done
done
python3 - "$RAW" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
for side in ("before", "after"):
    r = [x for x in rows if x[1] == side]
    med = lambda i: statistics.median(float(x[i]) for x in r)
    print(f"median {side:6s} wall {med(2):6.2f} s  user {med(3):6.2f}  sys {med(4):5.2f}  "
          f"rss {med(5) / 1024:.0f} MiB")
PY
