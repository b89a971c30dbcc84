#!/usr/bin/env bash
# S3 benchmark with the latency of a real object store: s3rver on loopback
# behind tests/s3_latency_proxy.py, which adds LATENCY ms before each request
# (0 and 30 by default: 30 ms is about what S3 costs to first byte from a
# nearby region) and logs every request, so each row has its request counts.
#
#   bench/s3_bench.sh [path/to/hugeblob]
#   SIZE=1G              input size (gendata blend: 60% a tar of /usr, 20% zeros, 20% random)
#   ROUNDS=3             rounds; each row is the median over them
#   LATENCIES="0 30"     ms added per request
#   TOOLS="hugeblob aws rclone"
#   HB_BENCH_DIR=/tmp/.. where inputs and outputs go (kept if given)
#
# Per latency and round: hugeblob put, get, copy (S3 -> a fresh local
# store) and a cold sequential read through `hugeblob mount` (fresh mount,
# no disk cache; skipped without /dev/fuse); `aws s3 cp` up and down and
# `rclone copy` up and down of the same original file. Every tool runs
# alone; the order of the tools alternates from round to round. Every
# download is compared with the input (a mismatch fails the row); none of
# that is timed. Throughput is of the original file's size, whatever a tool
# moves on the wire. Columns: median wall time, MiB/s, GET and total
# requests (from the proxy's log), peak RSS of the client.
# Results: a Markdown table on stdout and in bench/out/s3_bench-<time>.md,
# raw rows in bench/out/s3_bench-<time>.tsv. With HB_BENCH_DIR kept,
# `bench/s3_timeline.py HB_BENCH_DIR` then says where each command's wall
# time went: requests in flight over time, idle gaps, request sizes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="$(readlink -f "${1:-$ROOT/build/hugeblob}")"
SIZE="${SIZE:-1G}"
ROUNDS="${ROUNDS:-3}"
LATENCIES="${LATENCIES:-0 30}"
TOOLS="${TOOLS:-hugeblob aws rclone}"
WORK="${HB_BENCH_DIR:-$(mktemp -d /tmp/hb-s3-bench.XXXXXX)}"
OUT_DIR="$ROOT/bench/out"
mkdir -p "$WORK" "$OUT_DIR"
STAMP="$(date +%Y%m%d-%H%M%S)"
REPORT="$OUT_DIR/s3_bench-$STAMP.md"
RAW="$OUT_DIR/s3_bench-$STAMP.tsv"
SPANS="$WORK/spans.tsv"
AWS="$(command -v /usr/bin/aws || command -v aws || true)"
[[ -x /usr/bin/time ]] || { echo "needs GNU time (apt-get install time)"; exit 1; }
[[ -x "$CLI" ]] || { echo "no CLI at $CLI"; exit 1; }

PIDS=()
MNT="$WORK/mnt"
cleanup() {
  mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"; }
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  "$ROOT/scripts/s3rver.sh" stop "$WORK/s3rver" >/dev/null 2>&1 || true
  [[ -z "${HB_BENCH_DIR:-}" ]] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT

# --- input -----------------------------------------------------------------------
cc -O2 -o "$WORK/gendata" "$ROOT/bench/gendata.c"
if [[ ! -s "$WORK/usr.tar" ]]; then
  { tar -cf - /usr/lib /usr/share 2>/dev/null || true; } | head -c $((1 << 30)) >"$WORK/usr.tar"
fi
IN="$WORK/in.blend.$SIZE"
[[ -s "$IN" ]] || "$WORK/gendata" blend "$SIZE" 1 "$WORK/usr.tar" >"$IN"
BYTES="$(stat -c %s "$IN")"

# --- servers -----------------------------------------------------------------------
eval "$("$ROOT/scripts/s3rver.sh" start "$WORK/s3rver")"
[[ "$AWS_ENDPOINT_URL" == http://127.0.0.1:* ]] || { echo "refusing a non-loopback endpoint" >&2; exit 1; }
UPSTREAM="$AWS_ENDPOINT_URL"
BUCKET="$HB_TEST_S3_BUCKET"
export AWS_SHARED_CREDENTIALS_FILE="$WORK/none" AWS_CONFIG_FILE="$WORK/none" AWS_EC2_METADATA_DISABLED=true
declare -A PROXY
for lat in $LATENCIES; do
  : >"$WORK/req-$lat.jsonl"
  python3 "$ROOT/tests/s3_latency_proxy.py" --upstream "$UPSTREAM" --latency "$lat" \
    --log "$WORK/req-$lat.jsonl" >"$WORK/proxy-$lat.out" 2>"$WORK/proxy-$lat.err" &
  PIDS+=($!)
  for _ in $(seq 1 200); do grep -q '^PORT ' "$WORK/proxy-$lat.out" 2>/dev/null && break; sleep 0.05; done
  PROXY[$lat]="http://127.0.0.1:$(sed -n 's/^PORT //p' "$WORK/proxy-$lat.out")"
done
FUSE=0
[[ -c /dev/fuse ]] && command -v fusermount3 >/dev/null && FUSE=1

# --- one measured command ------------------------------------------------------------
# measure LAT TOOL JOB ROUND CMD...: one raw row (wall s, rss KiB, GETs, requests).
measure() {
  local lat=$1 tool=$2 job=$3 round=$4; shift 4
  local log="$WORK/req-$lat.jsonl" t="$WORK/time.txt"
  local before after ok=1
  sync
  before=$(wc -l <"$log")
  if ! /usr/bin/time -o "$t" -f "%e %M" "$@" >"$WORK/cmd.log" 2>&1; then
    ok=0
    tail -n 5 "$WORK/cmd.log" >&2
  fi
  after=$(wc -l <"$log")
  read -r wall rss <"$t" || { wall=0; rss=0; }
  local gets reqs
  gets=$(tail -n +$((before + 1)) "$log" | head -n $((after - before)) | grep -c '"method": "GET"' || true)
  reqs=$((after - before))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$lat" "$tool" "$job" "$round" "$wall" "$rss" "$gets" "$reqs" "$ok" >>"$RAW"
  # Which lines of the proxy's log this command made, for bench/s3_timeline.py.
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$lat" "$tool" "$job" "$round" "$before" "$after" >>"$SPANS"
  echo "  $lat ms $tool $job: ${wall}s, $gets GET / $reqs requests, $((rss / 1024)) MiB RSS, load $(cut -d' ' -f1 /proc/loadavg)$([[ $ok = 1 ]] || echo ', FAILED')" >&2
  return 0
}
same() {  # same FILE: marks the last raw row failed if FILE differs from the input
  if ! cmp -s "$IN" "$1"; then
    sed -i '$ s/\t1$/\t0/' "$RAW"
    echo "  DIFFERS: $1" >&2
  fi
  rm -f "$1"
}

hb_mount_read() {  # hb_mount_read STORE NAME: cold sequential read of the whole file
  "$CLI" mount "$MNT" -f --store "$1" --no-disk-cache 2>"$WORK/mount.log" &
  local pid=$!
  for _ in $(seq 1 1200); do mountpoint -q "$MNT" && break; sleep 0.05; done
  cat "$MNT/$2" >"$WORK/out.mount"
  fusermount3 -u "$MNT"
  wait "$pid"
}
export -f hb_mount_read
export CLI MNT WORK

run_tool() {  # run_tool LAT TOOL ROUND
  local lat=$1 tool=$2 r=$3 ep=${PROXY[$1]}
  case $tool in
    hugeblob)
      local s3="s3://$BUCKET/hb-$lat-$r"
      measure "$lat" hugeblob put "$r" env AWS_ENDPOINT_URL="$ep" "$CLI" put "$IN" --store "$s3" --name bench/f
      measure "$lat" hugeblob get "$r" env AWS_ENDPOINT_URL="$ep" "$CLI" get bench/f "$WORK/out.get" --store "$s3"
      same "$WORK/out.get"
      rm -rf "$WORK/local"
      "$CLI" init --store "$WORK/local" >/dev/null
      measure "$lat" hugeblob copy "$r" env AWS_ENDPOINT_URL="$ep" "$CLI" copy "$s3" "$WORK/local" bench/f
      "$CLI" get bench/f "$WORK/out.copy" --store "$WORK/local" >/dev/null 2>&1 || true
      same "$WORK/out.copy"
      rm -rf "$WORK/local"
      if [[ $FUSE = 1 ]]; then
        mkdir -p "$MNT"
        measure "$lat" hugeblob mount-read "$r" env AWS_ENDPOINT_URL="$ep" bash -c 'hb_mount_read "$@"' _ "$s3" bench/f
        same "$WORK/out.mount"
      fi
      PACKS[$lat]=$(AWS_ENDPOINT_URL="$UPSTREAM" "$CLI" --json stat bench/f --store "$s3" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["packs"], d["stored_bytes"])')
      ;;
    aws)
      [[ -n "$AWS" ]] || return 0
      measure "$lat" aws upload "$r" "$AWS" s3 cp --only-show-errors --endpoint-url "$ep" "$IN" "s3://$BUCKET/aws-$lat-$r/in"
      measure "$lat" aws download "$r" "$AWS" s3 cp --only-show-errors --endpoint-url "$ep" "s3://$BUCKET/aws-$lat-$r/in" "$WORK/out.aws"
      same "$WORK/out.aws"
      ;;
    rclone)
      command -v rclone >/dev/null || return 0
      mkdir -p "$WORK/rc-in" "$WORK/rc-out"
      ln -f "$IN" "$WORK/rc-in/in"
      # An S3 remote from environment variables only; rclone honours
      # AWS_CA_BUNDLE even for plain http and fails if it is set.
      local rc=(env -u AWS_CA_BUNDLE RCLONE_CONFIG=/dev/null RCLONE_S3_PROVIDER=Other
        RCLONE_S3_ENDPOINT="$ep" RCLONE_S3_ACCESS_KEY_ID=S3RVER RCLONE_S3_SECRET_ACCESS_KEY=S3RVER
        RCLONE_S3_FORCE_PATH_STYLE=true RCLONE_S3_REGION=us-east-1 rclone)
      measure "$lat" rclone upload "$r" "${rc[@]}" copy "$WORK/rc-in" ":s3:$BUCKET/rclone-$lat-$r"
      measure "$lat" rclone download "$r" "${rc[@]}" copy ":s3:$BUCKET/rclone-$lat-$r" "$WORK/rc-out"
      same "$WORK/rc-out/in"
      ;;
  esac
  # Free s3rver's disk: only the latest round's objects stay.
  rm -rf "$WORK/s3rver/data/$BUCKET"/*-"$lat"-"$((r - 1))" 2>/dev/null || true
}

declare -A PACKS
: >"$RAW"
: >"$SPANS"
read -r -a tools <<<"$TOOLS"
for r in $(seq 1 "$ROUNDS"); do
  # Alternate: forward in odd rounds, reversed in even ones.
  order=("${tools[@]}")
  if ((r % 2 == 0)); then
    order=()
    for ((i = ${#tools[@]} - 1; i >= 0; i--)); do order+=("${tools[$i]}"); done
  fi
  for lat in $LATENCIES; do
    echo "round $r, $lat ms: ${order[*]}" >&2
    for tool in "${order[@]}"; do run_tool "$lat" "$tool" "$r"; done
  done
done

# --- report ---------------------------------------------------------------------------
{
  echo "# S3 benchmark: s3rver behind a latency proxy ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "Input: $SIZE gendata blend (60% a tar of /usr, 20% zeros, 20% random). Medians of $ROUNDS rounds."
  echo "hugeblob: $("$CLI" --version 2>/dev/null | head -n1 || echo "$CLI"); aws: $("$AWS" --version 2>&1 | head -n1);" \
    "rclone: $(rclone version 2>/dev/null | head -n1)."
  for lat in $LATENCIES; do
    [[ -n "${PACKS[$lat]:-}" ]] && echo "At $lat ms the stored file is ${PACKS[$lat]% *} packs, $((${PACKS[$lat]#* } >> 20)) MiB."
  done
  echo
  python3 - "$RAW" "$BYTES" <<'EOF'
import statistics, sys
from collections import defaultdict
raw, size = sys.argv[1], int(sys.argv[2])
rows = defaultdict(list)
order = []
for line in open(raw):
    lat, tool, job, rnd, wall, rss, gets, reqs, ok = line.rstrip("\n").split("\t")
    key = (int(lat), tool, job)
    if key not in rows:
        order.append(key)
    rows[key].append((float(wall), int(rss), int(gets), int(reqs), ok == "1"))
print("| latency | tool | job | wall (median) | MiB/s | GET requests | all requests | peak RSS | ok |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for key in sorted(order, key=lambda k: (k[0], ["hugeblob", "aws", "rclone"].index(k[1]), order.index(k))):
    v = rows[key]
    wall = statistics.median(x[0] for x in v)
    print(f"| {key[0]} ms | {key[1]} | {key[2]} | {wall:.1f} s | {size / 1048576 / wall:.0f} | "
          f"{int(statistics.median(x[2] for x in v))} | {int(statistics.median(x[3] for x in v))} | "
          f"{max(x[1] for x in v) // 1024} MiB | {sum(x[4] for x in v)}/{len(v)} |")
# Speed against `aws s3 cp` of the original file: aws's download time over
# hugeblob's, as the median of the per-round ratios (a round runs both on
# the same machine state) and over the medians.
rounds = defaultdict(dict)
for line in open(raw):
    lat, tool, job, rnd, wall, rss, gets, reqs, ok = line.rstrip("\n").split("\t")
    rounds[(int(lat), tool, job)][int(rnd)] = float(wall)
lines = []
for lat in sorted({k[0] for k in order}):
    aws = rounds.get((lat, "aws", "download"))
    if not aws:
        continue
    for job in ("get", "copy", "mount-read"):
        hb = rounds.get((lat, "hugeblob", job))
        if not hb:
            continue
        per = [aws[r] / hb[r] for r in sorted(hb) if r in aws and hb[r] > 0]
        if not per:
            continue
        mid = statistics.median(aws.values()) / statistics.median(hb.values())
        lines.append(f"| {lat} ms | {job} | {statistics.median(per):.2f}x | {mid:.2f}x | "
                     + " / ".join(f"{x:.2f}" for x in per) + " |")
if lines:
    print()
    print("| latency | hugeblob job | x aws s3 cp (median of rounds) | x aws (of medians) | rounds |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(lines))
EOF
} | tee "$REPORT"
echo
echo "report: $REPORT (raw rows: $RAW)"
