#!/usr/bin/env bash
# Updating version 5 to version 6 of bench/versions.sh's image series with
# version 5 as seed: bytes fetched against what version 6 added to the
# store, and time against a full get of version 6; `casync extract --seed`
# on a local casync store of the same series alongside.
#
#   bench/delta_get.sh [path/to/hugeblob]        # default build/hugeblob
#
# The series comes from bench/versions.sh itself (its ext4 image and edit
# generator; only hugeblob-cdc and casync ingest it), kept in
# $HB_BENCH_WORK/series and reused by later runs of the same size.
#
# Cases, each run alone, in an order that rotates from round to round;
# medians over ROUNDS rounds. Every output is compared with v6.img after its
# run (not timed); `sync` runs before each timed step.
#   local store:  hugeblob get --seed v5.img (to a new file), get --in-place
#                 over v5 as `hugeblob get img/v5` wrote it (unchanged since:
#                 hugeblob's record of it says what it holds) and over a
#                 copy of v5.img (cp: every byte is read and checked), both
#                 made before the clock starts, full get, get --seed of v5
#                 behind a 1000-byte
#                 insertion (no chunk at its own offset: the seed is cut),
#                 get --in-place over a copy of that (every chunk moves);
#                 casync extract --seed=v5.img, with the shifted seed, and
#                 casync extract without a seed
#   S3 (s3rver behind tests/s3_latency_proxy.py, LATENCY ms per request;
#   the two versions sent there with `hugeblob copy`): the same three
#                 hugeblob gets and the shifted in-place update; fetched
#                 bytes and requests from the proxy's
#                 log. (casync reads a local store here: it has no S3 store.)
#
# Then (S3 only, needs /dev/fuse) a mount after a restart: `mount` with a
# fresh --cache-dir reads v6 whole through the proxy, is unmounted, and a
# second mount with the same cache directory reads it again;
# the requests each made, by kind, are printed and added to the report.
#
# Environment: HB_BENCH_SIZE (default 4G; e.g. 1G), ROUNDS (3), LATENCY
# (30), HB_BENCH_WORK (default /tmp/hb-bench-delta; kept), HB_BENCH_S3=0
# skips S3, HB_BENCH_CASYNC=0 skips casync (its seeded extract takes
# minutes a round), HB_BENCH_MOUNT=0 skips the mount after a restart. Results: a Markdown table on stdout and in
# bench/out/delta_get-<size>-<time>.md, raw rows in the .tsv beside it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HB=$(readlink -f "${1:-$ROOT/build/hugeblob}")
SIZE=${HB_BENCH_SIZE:-4G}
ROUNDS=${ROUNDS:-3}
LATENCY=${LATENCY:-30}
WORK=${HB_BENCH_WORK:-/tmp/hb-bench-delta}
SERIES=$WORK/series
OUT_DIR=$ROOT/bench/out
STAMP=$(date +%Y%m%d-%H%M%S)
REPORT=$OUT_DIR/delta_get-$SIZE-$STAMP.md
RAW=$OUT_DIR/delta_get-$SIZE-$STAMP.tsv
mkdir -p "$WORK" "$OUT_DIR"
[ -x "$HB" ] || { echo "delta_get.sh: no hugeblob at $HB" >&2; exit 1; }
CASYNC=${HB_BENCH_CASYNC:-1}
[ "$CASYNC" = 0 ] || command -v casync >/dev/null || { echo "delta_get.sh: casync missing (apt-get install casync)" >&2; exit 1; }

# --- the series ------------------------------------------------------------------
# (Reused when it is there at the right size: versions.sh starts by deleting
# its work directory.)
want_bytes=$(python3 -c "
import re
m = re.fullmatch(r'(\d+)([KMGT]?)', '$SIZE'.upper().rstrip('B').rstrip('I'))
print(int(m.group(1)) << {'': 0, 'K': 10, 'M': 20, 'G': 30, 'T': 40}[m.group(2)])")
# casync's store is made only when casync runs (HB_BENCH_CASYNC=0 needs none).
tools="hugeblob-cdc"
[ "$CASYNC" = 0 ] || tools+=" casync"
if [ "$(stat -c %s "$SERIES/v6.img" 2>/dev/null)" != "$want_bytes" ] ||
  { [ "$CASYNC" != 0 ] && [ ! -s "$SERIES/casync-v6.caibx" ]; }; then
  HB_BENCH_SIZE=$SIZE HB_BENCH_KEEP=1 HB_BENCH_WORK=$SERIES HB_BENCH_TOOLS="$tools" \
    bash "$ROOT/bench/versions.sh" "$HB"
fi
LOCAL=$SERIES/hb-cdc
CASTR=$SERIES/casync.castr
V5=$SERIES/v5.img
V6=$SERIES/v6.img
OUT=$WORK/out.img
# v5 behind a 1000-byte insertion at its start: no chunk at its own offset,
# so the seed is cut whole (in parallel segments) to find what it shares.
SHIFTED=$WORK/v5-shifted.img
if [ "$(stat -c %s "$SHIFTED" 2>/dev/null)" != "$(($(stat -c %s "$V5") + 1000))" ]; then
  { python3 -c "print(('inserted ' * 112)[:1000], end='')"; cat "$V5"; } >"$SHIFTED"
fi
export XDG_CACHE_HOME=$WORK/xdg-cache  # the disk cache stays off (get's default); never the user's
added=$("$HB" --json --store "$LOCAL" stat img/v6 | python3 -c 'import json,sys; print(json.load(sys.stdin)["added_bytes"])')
size=$(stat -c %s "$V6")

# --- S3 --------------------------------------------------------------------------
PIDS=()
cleanup() {
  if [ -n "${MNT:-}" ] && mountpoint -q "$MNT" 2>/dev/null; then fusermount3 -u "$MNT" || fusermount3 -uz "$MNT"; fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  "$ROOT/scripts/s3rver.sh" stop "$WORK/s3rver" >/dev/null 2>&1 || true
  rm -f "$OUT"
}
trap cleanup EXIT
S3_ON=${HB_BENCH_S3:-1}
if [ "$S3_ON" = 1 ]; then
  rm -rf "$WORK/s3rver"
  eval "$("$ROOT/scripts/s3rver.sh" start "$WORK/s3rver")"
  [[ "$AWS_ENDPOINT_URL" == http://127.0.0.1:* ]] || { echo "refusing a non-loopback endpoint" >&2; exit 1; }
  export AWS_SHARED_CREDENTIALS_FILE=$WORK/none AWS_CONFIG_FILE=$WORK/none AWS_EC2_METADATA_DISABLED=true
  LOG=$WORK/requests.jsonl
  : >"$LOG"
  python3 "$ROOT/tests/s3_latency_proxy.py" --upstream "$AWS_ENDPOINT_URL" --latency "$LATENCY" \
    --log "$LOG" >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
  PIDS+=($!)
  for _ in $(seq 1 400); do grep -q '^PORT ' "$WORK/proxy.out" 2>/dev/null && break; sleep 0.05; done
  PROXY="http://127.0.0.1:$(sed -n 's/^PORT //p' "$WORK/proxy.out")"
  S3="s3://$HB_TEST_S3_BUCKET/delta"
  # Straight to s3rver (no latency): setting up is not measured.
  "$HB" -q copy "$LOCAL" "$S3" img/v5 img/v6
fi

# --- cases -----------------------------------------------------------------------
# Each prints "seconds fetched_bytes requests" (fetched/requests "-" when
# the tool does not say).
now() { date +%s.%N; }
elapsed() { python3 -c "print(round($2 - $1, 3))"; }
check_out() { cmp -s "$OUT" "$V6" || { echo "delta_get.sh: $1 output differs from v6!" >&2; exit 1; }; }
hb_json() {  # fetched_bytes store_requests held_bytes seeded_bytes
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["fetched_bytes"], d["store_requests"], d["held_bytes"], d["seeded_bytes"])'
}
proxy_count() {  # GET bytes and count on packs logged after line $1
  tail -n +$(($1 + 1)) "$LOG" | grep '"method": "GET"' | grep '/packs/' |
    sed -n 's/.*"bytes": \([0-9]*\).*/\1/p' | awk '{s += $1; n++} END {print s + 0, n + 0}'
}
run_case() {
  local c=$1 t0 t1 res n
  rm -f "$OUT"
  case $c in
    *inplace-shifted) cp "$SHIFTED" "$OUT" ;;
    *inplace-copy) cp --sparse=always "$V5" "$OUT" ;;
    *inplace) "$HB" -q --store "$LOCAL" get img/v5 "$OUT" ;;
  esac
  sync
  local store=$LOCAL env=() lines=0
  if [[ $c == s3-* ]]; then
    store=$S3
    env=(env AWS_ENDPOINT_URL="$PROXY")
    lines=$(wc -l <"$LOG")
  fi
  # Only the tool runs between t0 and t1: its JSON is parsed afterwards
  # (a python3 started alongside took CPU from it).
  local json=""
  t0=$(now)
  case $c in
    *hb-seed) json=$("${env[@]}" "$HB" --json --store "$store" get img/v6 "$OUT" --seed "$V5") ;;
    hb-shifted) json=$("$HB" --json --store "$store" get img/v6 "$OUT" --seed "$SHIFTED") ;;
    *hb-inplace | *hb-inplace-copy | *hb-inplace-shifted) json=$("${env[@]}" "$HB" --json --store "$store" get img/v6 "$OUT" --in-place) ;;
    *hb-full) json=$("${env[@]}" "$HB" --json --store "$store" get img/v6 "$OUT") ;;
    casync-seed) casync extract --store="$CASTR" --seed="$V5" "$SERIES/casync-v6.caibx" "$OUT" ;;
    casync-shifted) casync extract --store="$CASTR" --seed="$SHIFTED" "$SERIES/casync-v6.caibx" "$OUT" ;;
    casync-full) casync extract --store="$CASTR" "$SERIES/casync-v6.caibx" "$OUT" ;;
  esac
  t1=$(now)
  if [ -n "$json" ]; then res=$(hb_json <<<"$json"); else res="- - - -"; fi
  # Over S3, what really went over the wire.
  [[ $c == s3-* ]] && res="$(proxy_count "$lines") $(cut -d' ' -f3- <<<"$res")"
  check_out "$c"
  echo "$(elapsed "$t0" "$t1") $res"
}

cases=(hb-seed hb-inplace hb-inplace-copy hb-full hb-shifted hb-inplace-shifted)
[ "$CASYNC" = 0 ] || cases+=(casync-seed casync-full casync-shifted)
[ "$S3_ON" = 1 ] && cases+=(s3-hb-seed s3-hb-inplace s3-hb-inplace-copy s3-hb-full s3-hb-inplace-shifted)
echo -e "round\tcase\tseconds\tfetched_bytes\trequests\theld_bytes\tseeded_bytes" >"$RAW"
echo "== v5 -> v6 of the $SIZE series ($(nproc) cores, shared and noisy): v6 added $added bytes to the store"
for r in $(seq 1 "$ROUNDS"); do
  k=$(((r - 1) % ${#cases[@]}))
  order=("${cases[@]:$k}" "${cases[@]:0:$k}")
  for c in "${order[@]}"; do
    read -r secs fetched requests held seeded < <(run_case "$c")
    echo -e "$r\t$c\t$secs\t$fetched\t$requests\t$held\t$seeded" >>"$RAW"
    echo "  round $r $c: ${secs}s fetched $fetched in $requests requests (held $held, seeded $seeded)"
  done
done
rm -f "$OUT"

# --- a second mount after a restart (S3) ---------------------------------------------------
MOUNT_NOTE=""
if [ "$S3_ON" = 1 ] && [ "${HB_BENCH_MOUNT:-1}" = 1 ] && [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; then
  MNT=$WORK/mnt
  mkdir -p "$MNT"
  rm -rf "$WORK/mcache"
  requests_since() {  # "GET:packs=12 LIST=2 ..." for the requests logged after line $1
    tail -n +$(($1 + 1)) "$LOG" | python3 -c '
import collections, json, sys
c = collections.Counter()
for line in sys.stdin:
    r = json.loads(line)
    path, _, query = r["path"].partition("?")
    parts = path.split("/")
    c["LIST" if query or len(parts) < 4 else r["method"] + ":" + parts[3]] += 1
print(" ".join(f"{k}={v}" for k, v in sorted(c.items())))'
  }
  # The whole file: a part would leave read-ahead past its end to fetch
  # what the first mount had not finished fetching when it was unmounted.
  mount_read() {  # reads img/v6 whole through a fresh mount
    AWS_ENDPOINT_URL="$PROXY" "$HB" --store "$S3" mount "$MNT" -f --cache-dir "$WORK/mcache" \
      --cache-size 4G 2>"$WORK/mount.log" &
    local mpid=$! t0 t1
    for _ in $(seq 1 600); do mountpoint -q "$MNT" && break; sleep 0.1; done
    t0=$(now)
    cmp -s "$MNT/img/v6" "$V6" || { echo "delta_get.sh: the mount read other bytes than v6!" >&2; exit 1; }
    t1=$(now)
    fusermount3 -u "$MNT"
    wait "$mpid"
    echo "$(elapsed "$t0" "$t1")"
  }
  n=$(wc -l <"$LOG"); s1=$(mount_read); r1=$(requests_since "$n")
  n=$(wc -l <"$LOG"); s2=$(mount_read); r2=$(requests_since "$n")
  echo "  first mount (empty cache): v6 read in ${s1}s; requests: $r1"
  echo "  second mount (after a restart): v6 read in ${s2}s; requests: $r2"
  MOUNT_NOTE="Mount after a restart (S3, $LATENCY ms; v6 read whole with cmp): first mount ${s1} s, requests $r1; second mount, same --cache-dir, ${s2} s, requests $r2."
fi

python3 - "$RAW" "$added" "$size" "$SIZE" "$LATENCY" "$ROUNDS" <<'PY' | tee "$REPORT"
import csv, statistics, sys
raw, added, size, label, latency, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
rows = list(csv.DictReader(open(raw), delimiter="\t"))
by = {}
for r in rows:
    by.setdefault(r["case"], []).append(r)
med = {c: statistics.median(float(r["seconds"]) for r in rs) for c, rs in by.items()}
def fetched(c):
    v = [int(r["fetched_bytes"]) for r in by[c] if r["fetched_bytes"] != "-"]
    return statistics.median(v) if v else None
def col(c, k):
    v = [int(r[k]) for r in by[c] if r[k] != "-"]
    return statistics.median(v) if v else None
reqs = lambda c: col(c, "requests")
names = {"hb-seed": "hugeblob get --seed v5 (local store)",
         "hb-inplace": "hugeblob get --in-place over v5 as a get wrote it (local store)",
         "hb-inplace-copy": "hugeblob get --in-place over a copy of v5 (local store)",
         "s3-hb-inplace-copy": f"hugeblob get --in-place over a copy of v5 (S3, {latency} ms)",
         "hb-full": "hugeblob get, no seed (local store)", "casync-seed": "casync extract --seed=v5 (local casync store)",
         "casync-full": "casync extract, no seed (local casync store)",
         "hb-shifted": "hugeblob get --seed v5 behind a 1000-byte insertion (local store)",
         "hb-inplace-shifted": "hugeblob get --in-place over v5 behind a 1000-byte insertion (local store)",
         "s3-hb-inplace-shifted": f"hugeblob get --in-place over v5 behind a 1000-byte insertion (S3, {latency} ms)",
         "casync-shifted": "casync extract --seed=v5 behind a 1000-byte insertion (local casync store)",
         "s3-hb-seed": f"hugeblob get --seed v5 (S3, {latency} ms)", "s3-hb-inplace": f"hugeblob get --in-place over v5 as a get wrote it (S3, {latency} ms)",
         "s3-hb-full": f"hugeblob get, no seed (S3, {latency} ms)"}
print(f"\nv5 -> v6 of the {label} image series ({size / 2**30:.2f} GiB), medians of {rounds} rounds; "
      f"v6 added {added / 2**20:.1f} MiB to the store\n")
print("| case | seconds (median) | fetched MiB | x added | requests | held MiB | x faster than a full get |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for c in by:
    f, q, h = fetched(c), reqs(c), col(c, "held_bytes")
    full = "s3-hb-full" if c.startswith("s3-") else ("casync-full" if c.startswith("casync") else "hb-full")
    speed = med[full] / med[c] if full in med and med[c] > 0 else None
    print(f"| {names.get(c, c)} | {med[c]:.2f} | {'-' if f is None else f'{f / 2**20:.1f}'} | "
          f"{'-' if f is None else f'{f / added:.2f}'} | {'-' if q is None else int(q)} | "
          f"{'-' if h is None else f'{h / 2**20:.1f}'} | "
          f"{'-' if speed is None else f'{speed:.1f}'} |")
print(f"\nall rounds: {' '.join(sorted(set(r['round'] for r in rows)))}; raw rows: {raw}")
PY
[ -n "$MOUNT_NOTE" ] && echo -e "\n$MOUNT_NOTE" | tee -a "$REPORT"
echo "report: $REPORT"
