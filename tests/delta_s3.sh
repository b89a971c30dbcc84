#!/usr/bin/env bash
# Fetching only what changed, over S3 with latency (s3rver behind
# tests/s3_latency_proxy.py, which logs every request):
#  1. a seeded get of a version with scattered edits and an insertion
#     fetches only the new chunks (pack bytes in the proxy's log = what
#     `diff` predicts, far below the file) and is byte-identical; the
#     reads start while the seed is still scanned (early_fetched_bytes);
#  2. get --in-place killed with SIGKILL while it writes (waited for: the
#     target stops matching the old version), leaves a mixed file; the same
#     command again finishes it, byte-identical;
#  3. two processes reading the same file at the same time through one
#     shared disk cache fetch each chunk once (pack bytes ~ 1x, not 2x);
#  4. a second mount after a restart (FUSE) reads what the first fetched
#     from the disk cache: no pack, manifest or segment request, only the
#     store's config and the names (listed, and each version object read).
# Usage: bash tests/delta_s3.sh path/to/hugeblob   (exit 77: skipped)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="${1:-}"
skip() { echo "SKIP: $*"; exit 77; }
command -v node >/dev/null || skip "node is not installed"
[[ -x "$ROOT/node_modules/.bin/s3rver" ]] || command -v npm >/dev/null || skip "s3rver is not installed"
[[ -x "$CLI" ]] || skip "the CLI is not built"
source "$ROOT/tests/lib.sh" "$CLI"
CLI=$HB

MNT=""
PIDS=()
stop_all() {
  if [[ -n "$MNT" ]] && mountpoint -q "$MNT" 2>/dev/null; then
    fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  "$ROOT/scripts/s3rver.sh" stop "$WORK/s3rver" >/dev/null 2>&1
}
cleanup_hooks+=(stop_all)

ENV_LINES="$("$ROOT/scripts/s3rver.sh" start "$WORK/s3rver")" || { echo "FAIL: could not start s3rver"; exit 1; }
eval "$ENV_LINES"
UPSTREAM=$AWS_ENDPOINT_URL
LOG="$WORK/requests.jsonl"
: >"$LOG"
# proxy LATENCY_MS NAME: starts a proxy logging to $LOG, sets PORT_<NAME>.
proxy() {
  python3 "$ROOT/tests/s3_latency_proxy.py" --upstream "$UPSTREAM" --latency "$1" --log "$LOG" \
    >"$WORK/proxy-$2.out" 2>"$WORK/proxy-$2.err" &
  PIDS+=($!)
  wait_for "the $2 proxy" 30 grep -q '^PORT ' "$WORK/proxy-$2.out" || exit 1
  printf -v "PORT_$2" '%s' "$(sed -n 's/^PORT //p' "$WORK/proxy-$2.out")"
}
proxy 20 fast
proxy 250 slow
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT_fast"
export AWS_SHARED_CREDENTIALS_FILE="$WORK/none" AWS_CONFIG_FILE="$WORK/none" AWS_EC2_METADATA_DISABLED=true
S3="s3://$HB_TEST_S3_BUCKET/delta"
export HUGEBLOB_STORE=$S3

lines() { wc -l <"$LOG"; }
# pack_bytes_since N: bytes of the pack GETs logged after line N.
pack_bytes_since() {
  tail -n +$(($1 + 1)) "$LOG" | grep '"method": "GET"' | grep '/packs/' |
    sed -n 's/.*"bytes": \([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}'
}
pack_gets_since() { tail -n +$(($1 + 1)) "$LOG" | grep '"method": "GET"' | grep -c '/packs/'; }

# v5: 32 MiB of random bytes; v6: 24 scattered 4 KiB overwrites, 64 KiB
# inserted at 9 MiB and 64 KiB deleted at 20 MiB (same size: the bytes in
# between shift), and 4 MiB of new data at 26 MiB.
python3 - "$WORK" <<'PY'
import random, sys
work = sys.argv[1]
r = random.Random(16)
v5 = bytearray(r.randbytes(32 << 20))
v6 = bytearray(v5)
for _ in range(24):
    at = r.randrange(len(v6) - 4096)
    v6[at:at + 4096] = r.randbytes(4096)
v6[9 << 20:9 << 20] = r.randbytes(64 << 10)
del v6[20 << 20:(20 << 20) + (64 << 10)]
v6[26 << 20:30 << 20] = r.randbytes(4 << 20)
assert len(v6) == len(v5)
open(f"{work}/v5", "wb").write(v5)
open(f"{work}/v6", "wb").write(v6)
PY
"$CLI" -q put "$WORK/v5" --name img/v5 --pack-size 4M || { echo "FAIL: put v5"; exit 1; }
"$CLI" -q put "$WORK/v6" --name img/v6 --pack-size 4M || { echo "FAIL: put v6"; exit 1; }
# 12 MiB in 4 KiB chunks: 3072 frames, a manifest in segments (part 4).
head -c $((12 << 20)) "$WORK/v6" >"$WORK/seg"
"$CLI" -q put "$WORK/seg" --name seg --chunker fixed --chunk-size 4K || { echo "FAIL: put seg"; exit 1; }

# --- 1. seeded get --------------------------------------------------------------------
predicted=$("$CLI" --json diff img/v5 img/v6 | json_get fetch_bytes)
n=$(lines)
res=$("$CLI" --json get img/v6 "$WORK/out" --seed "$WORK/v5") || fail "seeded get failed"
check "seeded get of v6 is byte-identical" cmp -s "$WORK/out" "$WORK/v6"
wire=$(pack_bytes_since "$n")
check "the proxy saw what get says it fetched ($wire)" test "$wire" = "$(json_get fetched_bytes <<<"$res")"
# Only the new chunks: what diff predicts, plus at most 64 KiB of gap per
# run read to save a request.
runs=$(pack_gets_since "$n")
check "only the new chunks were fetched ($wire bytes in $runs GETs, diff predicts $predicted)" \
  test "$wire" -ge "$predicted" -a "$wire" -le $((predicted + runs * (64 << 10)))
check "which is a small part of the file" test "$wire" -lt $(((32 << 20) / 3))
# The reads started while the seed was scanned (the 4 MiB of new data at
# least), and are part of what the proxy counted above.
early=$(json_get early_fetched_bytes <<<"$res")
check "the store's reads overlapped the seed scan ($early of $wire bytes early)" \
  test "$early" -ge $((4 << 20)) -a "$early" -le "$wire"

# --- 2. get --in-place, killed and run again ---------------------------------------------
cp "$WORK/v5" "$WORK/target"
AWS_ENDPOINT_URL="http://127.0.0.1:$PORT_slow" "$CLI" -q get img/v6 "$WORK/target" --in-place --threads 1 \
  2>"$WORK/inplace.err" &
pid=$!
changed() { ! cmp -s "$WORK/target" "$WORK/v5"; }
if wait_for "get --in-place to write into the target" 60 changed; then
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  if cmp -s "$WORK/target" "$WORK/v6"; then
    fail "get --in-place finished before it was killed (nothing interrupted; the test proves nothing)"
  else
    pass "killed mid-update: the target is a mix of v5 and v6"
  fi
  res=$("$CLI" --json get img/v6 "$WORK/target" --in-place 2>"$WORK/inplace2.err") ||
    fail "rerun of get --in-place: $(cat "$WORK/inplace2.err")"
  check "the rerun finishes the update: byte-identical to v6" cmp -s "$WORK/target" "$WORK/v6"
  check "and left most of the file where it was" test "$(json_get in_place_bytes <<<"$res")" -gt $((16 << 20))
  res=$("$CLI" --json get img/v6 "$WORK/target" --in-place)
  check "a third run writes and fetches nothing" \
    test "$(json_get fetched_bytes <<<"$res")" = 0 -a "$(json_get seeded_bytes <<<"$res")" = 0
else
  kill -9 "$pid" 2>/dev/null
  fail "get --in-place: $(cat "$WORK/inplace.err")"
fi

# --- 3. one shared cache, two processes at once -----------------------------------------
stored=$("$CLI" --json stat img/v6 | json_get stored_bytes)
n=$(lines)
AWS_ENDPOINT_URL="http://127.0.0.1:$PORT_slow" "$CLI" cat img/v6 --cache-dir "$WORK/shared" >"$WORK/cat1" &
p1=$!
AWS_ENDPOINT_URL="http://127.0.0.1:$PORT_slow" "$CLI" cat img/v6 --cache-dir "$WORK/shared" >"$WORK/cat2" &
p2=$!
# Each needs several 250 ms round trips before its first chunk: both are
# running now, or the test would not show what it claims to.
overlap=0
kill -0 "$p1" 2>/dev/null && kill -0 "$p2" 2>/dev/null && overlap=1
wait "$p1"; r1=$?
wait "$p2"; r2=$?
check "both readers succeed" test "$r1" = 0 -a "$r2" = 0
check "both read v6 exactly" bash -c "cmp -s '$WORK/cat1' '$WORK/v6' && cmp -s '$WORK/cat2' '$WORK/v6'"
check "the two readers ran at the same time" test "$overlap" = 1
wire=$(pack_bytes_since "$n")
# (A little over 1x: a run may read across a chunk the other process is
# fetching rather than pay for another request.)
check "each chunk was fetched once: $wire pack bytes for $stored stored (not twice that)" \
  test "$wire" -le $((stored * 5 / 4))
n=$(lines)
"$CLI" cat img/v6 --cache-dir "$WORK/shared" >"$WORK/cat3"
check "a third reader reads only the cache" test "$(pack_gets_since "$n")" = 0
check "and the right bytes" cmp -s "$WORK/cat3" "$WORK/v6"

# --- 4. a second mount after a restart -------------------------------------------------
if [[ -c /dev/fuse ]] && command -v fusermount3 >/dev/null; then
  MNT="$WORK/mnt"
  mkdir -p "$MNT"
  mount_read() {  # mounts, reads img/v5 and seg whole, unmounts
    "$CLI" mount "$MNT" -f --cache-dir "$WORK/mcache" 2>"$WORK/mount.log" &
    local mpid=$!
    if ! wait_for "the mount" 60 mountpoint -q "$MNT"; then kill "$mpid"; return 1; fi
    cmp -s "$MNT/img/v5" "$WORK/v5" && cmp -s "$MNT/seg" "$WORK/seg"; local same=$?
    fusermount3 -u "$MNT"
    wait_for "the mount daemon to exit" 60 gone "$mpid"
    return $same
  }
  # requests_since N: "GET:names=3 LIST=2 ..." for the requests after line
  # N (a listing is a GET on the bucket; other requests are named by the
  # first part of their key under the store's prefix).
  requests_since() {
    tail -n +$(($1 + 1)) "$LOG" | python3 -c '
import collections, json, sys
c = collections.Counter()
for line in sys.stdin:
    r = json.loads(line)
    path, _, query = r["path"].partition("?")
    parts = path.split("/")
    if query or len(parts) < 4:  # /bucket?list-type=2&prefix=...
        c["LIST"] += 1
    else:
        c[r["method"] + " " + parts[3]] += 1
print(" ".join(f"{k.replace(chr(32), chr(58))}={v}" for k, v in sorted(c.items())))'
  }
  n=$(lines)
  check "first mount reads v5 and seg exactly" mount_read
  first=$(pack_gets_since "$n")
  check "the first mount fetched them ($first pack GETs)" test "$first" -gt 0
  firsts=$(requests_since "$n")
  echo "  requests of the first mount: $firsts"
  check "and read the manifests and segments" \
    bash -c "grep -q 'GET:manifests=' <<<'$firsts' && grep -q 'GET:segments=' <<<'$firsts'"
  n=$(lines)
  check "second mount reads v5 and seg exactly" mount_read
  check "from the disk cache alone: 0 pack requests (saw $(pack_gets_since "$n"))" \
    test "$(pack_gets_since "$n")" = 0
  # Manifests and segments come from the cache too: what is left is the
  # store's config and the names (a listing and each version object: refs
  # change, so they are always read from the store).
  second=$(requests_since "$n")
  echo "  requests of the second mount: $second"
  check "no manifest or segment request either" \
    bash -c "! grep -qE 'manifests|segments' <<<'$second'"
  check "only the names and the store's config were read" \
    bash -c "! tr ' ' '\n' <<<'$second' | grep -vE '^(LIST|GET:names|GET:config)='"
else
  echo "note: no /dev/fuse or fusermount3: the mount part is skipped"
fi
finish
