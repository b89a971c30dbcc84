#!/usr/bin/env bash
# S3 reads when every request costs ~20 ms (docs/s3.md, "Read planning"):
# s3rver behind tests/s3_latency_proxy.py, which waits 20 ms before each
# request and logs every one. A mixed file (text, zeros, random) goes in,
# then comes back through get, copy (S3 -> local store), a cold sequential
# `cat` and, when /dev/fuse works, a cold sequential read through `mount`.
# Checked: the bytes are identical, and request counts from the proxy's log
# (never times): a whole-file get makes at most 2 GETs per pack of the file
# (`stat --json`: packs) in all, metadata included, and one ranged GET per
# pack (the planner reads whole packs when the memory budget holds them);
# copy at most 3 pack GETs per pack; verify reads every pack's frames in runs
# and finds nothing wrong; the sequential reads make at most one GET per 3
# stored frames, and a cold random 4 KiB read fetches one chunk with one GET;
# a segmented copy of the file reads back whole through the mount, across
# its leaf edges, in at most one GET per 20 frames.
# Usage: bash tests/s3_latency.sh path/to/hugeblob   (exit 77: skipped)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="${1:-}"
skip() { echo "SKIP: $*"; exit 77; }
command -v node >/dev/null || skip "node is not installed"
[[ -x "$ROOT/node_modules/.bin/s3rver" ]] || command -v npm >/dev/null || skip "s3rver is not installed"
command -v curl >/dev/null || skip "curl is not installed"
[[ -x "$CLI" ]] || skip "the CLI is not built"
CLI="$(readlink -f "$CLI")"

WORK="$(mktemp -d /tmp/hb-s3-latency.XXXXXX)"
PIDS=()
MNT=""
cleanup() {
  if [[ -n "$MNT" ]] && mountpoint -q "$MNT" 2>/dev/null; then
    fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  "$ROOT/scripts/s3rver.sh" stop "$WORK/s3rver" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
FAILS=0
pass() { echo "ok: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
poll_until() {  # poll_until SECONDS command...
  local deadline=$(($(now_us) + $1 * 1000000)); shift
  while :; do
    "$@" && return 0
    [ "$(now_us)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

ENV_LINES="$("$ROOT/scripts/s3rver.sh" start "$WORK/s3rver")" || { echo "FAIL: could not start s3rver"; exit 1; }
eval "$ENV_LINES"
LOG="$WORK/requests.jsonl"
: >"$LOG"
python3 "$ROOT/tests/s3_latency_proxy.py" --upstream "$AWS_ENDPOINT_URL" --latency 20 --log "$LOG" \
  >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
PIDS+=($!)
poll_until 30 grep -q '^PORT ' "$WORK/proxy.out"
PROXY_PORT="$(sed -n 's/^PORT //p' "$WORK/proxy.out")"
[[ -n "$PROXY_PORT" ]] || { cat "$WORK/proxy.err"; echo "FAIL: proxy did not start"; exit 1; }
export AWS_ENDPOINT_URL="http://127.0.0.1:$PROXY_PORT"
export AWS_SHARED_CREDENTIALS_FILE="$WORK/none" AWS_CONFIG_FILE="$WORK/none" AWS_EC2_METADATA_DISABLED=true
export XDG_CACHE_HOME="$WORK/cache"
S3="s3://$HB_TEST_S3_BUCKET/latency"

# Input: 24 MiB of a tar of /usr/share/doc (compresses), 8 MiB of zeros,
# 8 MiB random, in 8 MiB pieces; packs of 4 MiB so the file has several.
IN="$WORK/in.bin"
{ tar -cf - /usr/share/doc /usr/share/common-licenses 2>/dev/null || true; } | head -c $((24 << 20)) >"$WORK/text"
head -c $((8 << 20)) /dev/urandom >"$WORK/random"
{
  head -c $((8 << 20)) "$WORK/text"; head -c $((8 << 20)) /dev/zero
  tail -c +$(((8 << 20) + 1)) "$WORK/text" | head -c $((8 << 20)); cat "$WORK/random"
  tail -c +$(((16 << 20) + 1)) "$WORK/text"
} >"$IN"

lines() { wc -l <"$LOG"; }
# gets_since N: GET requests logged after line N, and only those on packs.
gets_since() { tail -n +$(($1 + 1)) "$LOG" | grep -c '"method": "GET"'; }
pack_gets_since() { tail -n +$(($1 + 1)) "$LOG" | grep '"method": "GET"' | grep -c '/packs/'; }
# sizes_since N: the byte counts of the pack GETs after line N (for a failure message).
sizes_since() { tail -n +$(($1 + 1)) "$LOG" | grep '/packs/' | sed -n 's/.*"bytes": \([0-9]*\).*/\1/p' | tr '\n' ' '; }

if ! "$CLI" put "$IN" --store "$S3" --name lat/f --pack-size 4M >"$WORK/put.log" 2>&1; then
  cat "$WORK/put.log"; echo "FAIL: put through the latency proxy"; exit 1
fi
read -r PACKS FRAMES < <("$CLI" --json stat lat/f --store "$S3" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["packs"], d["chunks"] - d["zero_chunks"])')
[[ "$PACKS" =~ ^[0-9]+$ && "$PACKS" -ge 3 ]] || { echo "FAIL: stat says packs=$PACKS"; exit 1; }
echo "file: $(stat -c %s "$IN") bytes in $PACKS packs, $FRAMES stored frames"
# The same bytes with a segmented frame table (more than 1024 frames):
# 16 KiB chunks, so leaves of 16 MiB.
if ! "$CLI" put "$IN" --store "$S3" --name lat/seg --pack-size 4M --chunker fixed --chunk-size 16K \
  >"$WORK/put-seg.log" 2>&1; then
  cat "$WORK/put-seg.log"; echo "FAIL: put of the segmented file"; exit 1
fi
read -r SEG_FRAMES SEG_LEAVES < <("$CLI" --json stat lat/seg --store "$S3" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["chunks"] - d["zero_chunks"], (d["chunks"] + 1023) // 1024)')
# Sequential reads through the reader start with single chunks (before the
# read-ahead streak) and are planned in read-ahead batches (half a window),
# and their run size follows the measured cost of a request (on a loaded
# machine the proxy's bandwidth is low, and runs stay near 1-2 MiB), so they
# cannot promise a count per pack; they must coalesce: at most one GET per 3
# stored frames (one per frame was the failure this guards; seen: 1 per
# 4-6 frames).
SEQ_MAX=$((FRAMES / 3))

# --- get -----------------------------------------------------------------------
n=$(lines)
if "$CLI" get lat/f "$WORK/got" --store "$S3" 2>"$WORK/get.err" && cmp -s "$IN" "$WORK/got"; then
  pass "get through 20 ms per request is byte-identical"
else
  fail "get: $(cat "$WORK/get.err")"
fi
g=$(gets_since "$n")
if [[ "$g" -le $((2 * PACKS)) ]]; then pass "get: $g GETs for $PACKS packs (<= 2 per pack)"
else fail "get: $g GETs for $PACKS packs (more than 2 per pack)"; fi
p=$(pack_gets_since "$n")
if [[ "$p" -le "$PACKS" ]]; then pass "get: $p pack GETs for $PACKS packs (whole packs)"
else fail "get: $p pack GETs for $PACKS packs (more than one per pack): $(sizes_since "$n")"; fi

# --- copy to a local store -------------------------------------------------------
"$CLI" init --store "$WORK/local" >/dev/null
n=$(lines)
if "$CLI" copy "$S3" "$WORK/local" lat/f 2>"$WORK/copy.err" &&
  "$CLI" get lat/f "$WORK/copied" --store "$WORK/local" 2>>"$WORK/copy.err" &&
  cmp -s "$IN" "$WORK/copied"; then
  pass "copy S3 -> local store is byte-identical"
else
  fail "copy: $(cat "$WORK/copy.err")"
fi
# From a remote source copy reads thirds of packs (more requests in flight
# for the same memory): at most 3 GETs per pack.
p=$(pack_gets_since "$n")
if [[ "$p" -le $((3 * PACKS)) ]]; then pass "copy: $p pack GETs for $PACKS packs (<= 3 per pack)"
else fail "copy: $p pack GETs for $PACKS packs (more than 3 per pack): $(sizes_since "$n")"; fi

# --- verify reads every frame through the same planner ---------------------------
n=$(lines)
if "$CLI" verify --store "$S3" >"$WORK/verify.out" 2>&1; then
  pass "verify through 20 ms per request finds the store sound"
else
  fail "verify: $(tail -n 5 "$WORK/verify.out")"
fi
fetched=$(tail -n +$((n + 1)) "$LOG" | grep '"method": "GET"' | grep '/packs/' |
  python3 -c 'import json, sys; print(sum(json.loads(l)["bytes"] for l in sys.stdin))')
stored=$("$CLI" --json stat lat/f --store "$S3" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stored_bytes"])')
if [[ "$fetched" -ge "$stored" ]]; then pass "verify: read $fetched bytes of packs holding $stored bytes of frames"
else fail "verify: read only $fetched bytes of packs holding $stored bytes of frames"; fi

# --- cold sequential read through the reader (cat) ----------------------------------
n=$(lines)
if "$CLI" cat lat/f --store "$S3" --no-disk-cache >"$WORK/cat.out" 2>"$WORK/cat.err" &&
  cmp -s "$IN" "$WORK/cat.out"; then
  pass "cold sequential cat is byte-identical"
else
  fail "cat: $(cat "$WORK/cat.err")"
fi
p=$(pack_gets_since "$n")
if [[ "$p" -le "$SEQ_MAX" ]]; then pass "cat: $p pack GETs for $FRAMES frames in $PACKS packs (<= 1 per 3 frames)"
else fail "cat: $p pack GETs for $FRAMES frames (more than 1 per 3 frames): $(sizes_since "$n")"; fi

# --- a cold random 4 KiB read fetches its own chunk only ---------------------------
n=$(lines)
if "$CLI" cat lat/f --store "$S3" --no-disk-cache --offset $((21 << 20)) --length 4K >"$WORK/one" 2>"$WORK/one.err" &&
  cmp -s "$WORK/one" <(tail -c +$(((21 << 20) + 1)) "$IN" | head -c 4096); then
  pass "cold 4 KiB read is byte-identical"
else
  fail "cold 4 KiB read: $(cat "$WORK/one.err")"
fi
p=$(pack_gets_since "$n")
big=$(tail -n +$((n + 1)) "$LOG" | grep '/packs/' | python3 -c '
import json, sys
print(max([json.loads(l)["bytes"] for l in sys.stdin] or [0]))')
if [[ "$p" -eq 1 && "$big" -le $((1 << 20)) ]]; then pass "cold 4 KiB read: one pack GET of $big bytes (one chunk)"
else fail "cold 4 KiB read: $p pack GETs, largest $big bytes (want 1 GET of one chunk)"; fi

# --- mount: cold sequential read -------------------------------------------------------
if [[ -c /dev/fuse ]] && command -v fusermount3 >/dev/null && "$CLI" mount --help >/dev/null 2>&1; then
  MNT="$WORK/mnt"
  mkdir -p "$MNT"
  "$CLI" mount "$MNT" -f --store "$S3" --no-disk-cache 2>"$WORK/mount.log" &
  MPID=$!
  PIDS+=("$MPID")
  if poll_until 60 mountpoint -q "$MNT"; then
    n=$(lines)
    if cmp -s "$IN" "$MNT/lat/f"; then pass "mount: cold sequential read is byte-identical"
    else fail "mount: cmp differs"; fi
    p=$(pack_gets_since "$n")
    if [[ "$p" -le "$SEQ_MAX" ]]; then pass "mount: $p pack GETs for $FRAMES frames in $PACKS packs (<= 1 per 3 frames)"
    else fail "mount: $p pack GETs for $FRAMES frames (more than 1 per 3 frames): $(sizes_since "$n")"; fi
    # A file whose frame table is in segments (16 KiB chunks: 1024 frames,
    # 16 MiB, a leaf): the stream's read-ahead goes on across the leaf
    # edges (src/reader/segmented_reader_test.cc checks the request count
    # against the same file inline); here: byte-identical, and coalesced.
    n=$(lines)
    if cmp -s "$IN" "$MNT/lat/seg"; then pass "mount: cold sequential read across segment leaves is byte-identical"
    else fail "mount: cmp of the segmented file differs"; fi
    p=$(pack_gets_since "$n")
    if [[ "$p" -le $((SEG_FRAMES / 20)) ]]; then pass "mount: $p pack GETs for $SEG_FRAMES frames in $SEG_LEAVES leaves (<= 1 per 20 frames)"
    else fail "mount: $p pack GETs for $SEG_FRAMES frames in $SEG_LEAVES leaves (more than 1 per 20 frames): $(sizes_since "$n")"; fi
    fusermount3 -u "$MNT" 2>/dev/null
    poll_until 60 bash -c "! kill -0 $MPID 2>/dev/null" || fail "mount daemon did not exit"
  else
    echo "note: mount did not come up ($(head -c 300 "$WORK/mount.log")); skipping the mount part"
  fi
else
  echo "note: no /dev/fuse or fusermount3: mount part skipped"
fi

echo "requests by method: $(python3 -c '
import json, sys, collections
print(dict(collections.Counter(json.loads(l)["method"] for l in open(sys.argv[1]))))' "$LOG")"
[[ $FAILS -eq 0 ]] && echo "all passed" || echo "$FAILS failed"
exit $((FAILS > 0))
