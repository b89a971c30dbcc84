#!/usr/bin/env bash
# Upload and download benchmark against s3rver on loopback: hugeblob side by
# side with the AWS CLI (`aws s3 cp`) and rclone (`rclone copy`), on the same
# random input in the same run. Per tool and direction: wall time, client
# CPU seconds (user + system) per GiB, and peak RSS of the client.
#
#   bench/s3_bench.sh [path/to/hugeblob]
#   HB_BENCH_SIZES="1G 4G" (default)   sizes to run, suffix K/M/G
#   HB_BENCH_TOOLS="hugeblob aws rclone" (default)
#   HB_BENCH_DIR=/tmp/...              where inputs and outputs go
#
# Random input: nothing compresses or dedups, so every tool moves every byte
# and the numbers compare the transfer paths. s3rver (single-threaded node,
# writing to local disk) is the bottleneck for everyone; the client CPU and
# RSS columns are the ones that say something about the clients.
# Results: a Markdown table on stdout and in bench/out/s3_bench-<time>.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="${1:-$ROOT/build/hugeblob}"
SIZES="${HB_BENCH_SIZES:-1G 4G}"
TOOLS="${HB_BENCH_TOOLS:-hugeblob aws rclone}"
WORK="${HB_BENCH_DIR:-$(mktemp -d /tmp/hb-s3-bench.XXXXXX)}"
OUT_DIR="$ROOT/bench/out"
mkdir -p "$WORK" "$OUT_DIR"
REPORT="$OUT_DIR/s3_bench-$(date +%Y%m%d-%H%M%S).md"
AWS="$(command -v /usr/bin/aws || command -v aws || true)"

case "${AWS_ENDPOINT_URL:-}" in http://127.0.0.1:*|"") ;; *) unset AWS_ENDPOINT_URL;; esac
[[ -x /usr/bin/time ]] || { echo "needs GNU time (apt-get install time)"; exit 1; }
cleanup() { "$ROOT/scripts/s3rver.sh" stop "$WORK/s3rver" >/dev/null 2>&1 || true; [[ -z "${HB_BENCH_DIR:-}" ]] && rm -rf "$WORK"; }
trap cleanup EXIT

eval "$("$ROOT/scripts/s3rver.sh" start "$WORK/s3rver")"
[[ "$AWS_ENDPOINT_URL" == http://127.0.0.1:* ]] || { echo "refusing a non-loopback endpoint" >&2; exit 1; }
BUCKET="$HB_TEST_S3_BUCKET"
export AWS_SHARED_CREDENTIALS_FILE="$WORK/none" AWS_CONFIG_FILE="$WORK/none"

bytes_of() {
  local n="${1%[KMGkmg]}" u="${1: -1}"
  case "$u" in K|k) echo $((n << 10));; M|m) echo $((n << 20));; G|g) echo $((n << 30));; *) echo "$1";; esac
}

# run LABEL SIZE_BYTES CMD...: appends "| label | wall | cpu/GiB | rss |" to the table.
run() {
  local label="$1" bytes="$2"; shift 2
  local t="$WORK/time.txt"
  if ! /usr/bin/time -o "$t" -f "%e %U %S %M" "$@" >"$WORK/cmd.log" 2>&1; then
    echo "| $label | failed | | | |" | tee -a "$REPORT"
    tail -n 5 "$WORK/cmd.log" >&2
    return 1
  fi
  read -r wall user sys rss_kb <"$t"
  awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss_kb" -v b="$bytes" 'BEGIN {
    gib = b / 1073741824; printf "| %s | %.1f s | %.0f MiB/s | %.2f s | %.0f MiB |\n", l, w, b / 1048576 / w, (u + s) / gib, r / 1024 }' |
    tee -a "$REPORT"
}

hb_put() { "$CLI" put "$1" --store "s3://$BUCKET/hb-$2" --name "bench/$2"; }
hb_get() { "$CLI" get "bench/$2" "$1" --store "s3://$BUCKET/hb-$2"; }
# The endpoint is passed explicitly to every tool (older AWS CLIs ignore
# AWS_ENDPOINT_URL), so nothing ever leaves loopback.
aws_put() { "$AWS" s3 cp --only-show-errors --endpoint-url "$AWS_ENDPOINT_URL" "$1" "s3://$BUCKET/aws/$2"; }
aws_get() { "$AWS" s3 cp --only-show-errors --endpoint-url "$AWS_ENDPOINT_URL" "s3://$BUCKET/aws/$2" "$1"; }
export RCLONE_S3_PROVIDER=Other RCLONE_S3_ENDPOINT="$AWS_ENDPOINT_URL" RCLONE_S3_ACCESS_KEY_ID=S3RVER \
  RCLONE_S3_SECRET_ACCESS_KEY=S3RVER RCLONE_S3_FORCE_PATH_STYLE=true RCLONE_S3_REGION=us-east-1 RCLONE_CONFIG=/dev/null
# rclone honours AWS_CA_BUNDLE even for plain http and fails if it is set.
rc_put() { mkdir -p "$WORK/rc-in-$2"; ln -f "$1" "$WORK/rc-in-$2/file"; env -u AWS_CA_BUNDLE rclone copy "$WORK/rc-in-$2" ":s3:$BUCKET/rclone/$2"; }
rc_get() { mkdir -p "$WORK/rc-out-$2"; env -u AWS_CA_BUNDLE rclone copy ":s3:$BUCKET/rclone/$2" "$WORK/rc-out-$2" && mv "$WORK/rc-out-$2/file" "$1"; }

export CLI BUCKET AWS WORK
export -f hb_put hb_get aws_put aws_get rc_put rc_get

{
  echo "# S3 benchmark against s3rver ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
  echo
  echo "Input: random bytes. hugeblob: $("$CLI" --version 2>/dev/null | head -n1 || echo "$CLI");" \
       "aws: $("$AWS" --version 2>&1 | head -n1); rclone: $(rclone version 2>/dev/null | head -n1)."
  echo
  echo "| run | wall | throughput | client CPU per GiB | peak RSS |"
  echo "| --- | --- | --- | --- | --- |"
} | tee "$REPORT"

for size in $SIZES; do
  bytes="$(bytes_of "$size")"
  in="$WORK/in-$size.bin"
  # Random but cheap to make: AES-CTR keystream.
  # (openssl dies of SIGPIPE when head has enough; that is expected.)
  { openssl enc -aes-128-ctr -nosalt -pass pass:hugeblob-bench -in /dev/zero 2>/dev/null || true; } |
    head -c "$bytes" >"$in"
  [[ "$(stat -c %s "$in")" == "$bytes" ]] || { echo "could not make $size of input" >&2; exit 1; }
  for tool in $TOOLS; do
    case "$tool" in
      hugeblob) [[ -x "$CLI" ]] || { echo "| hugeblob | CLI not built | | | |" | tee -a "$REPORT"; continue; }; put=hb_put; get=hb_get ;;
      aws) [[ -n "$AWS" ]] || { echo "| aws | not installed | | | |" | tee -a "$REPORT"; continue; }; put=aws_put; get=aws_get ;;
      rclone) command -v rclone >/dev/null || { echo "| rclone | not installed | | | |" | tee -a "$REPORT"; continue; }; put=rc_put; get=rc_get ;;
      *) echo "unknown tool $tool" >&2; exit 2 ;;
    esac
    out="$WORK/out-$tool-$size.bin"
    sync
    run "$tool put $size" "$bytes" bash -c "$put \"\$@\"" _ "$in" "$size" || continue
    run "$tool get $size" "$bytes" bash -c "$get \"\$@\"" _ "$out" "$size" || continue
    cmp -s "$in" "$out" || echo "| $tool $size | DOWNLOAD DIFFERS | | | |" | tee -a "$REPORT"
    rm -f "$out"
    # Free s3rver's disk before the next tool.
    rm -rf "$WORK/s3rver/data/$BUCKET"/* 2>/dev/null || true
  done
  rm -f "$in"
done
echo
echo "report: $REPORT"
