#!/usr/bin/env bash
# CLI round trips on the local store: every codec and chunker, files of edge
# sizes, 64 MiB random / real / sparse data, from a file and from stdin; dedup;
# corruption; full disk; bad input; Ctrl-C and resume.
source "$(dirname "$0")/lib.sh"
STORE=$WORK/store
export HUGEBLOB_STORE=$STORE
CHUNK=262144  # the default CDC average and the fixed size used below

# --- inputs -----------------------------------------------------------------
mkdir -p "$WORK/in"
: > "$WORK/in/empty"
printf 'x' > "$WORK/in/one"
for d in -1 0 1; do head -c $((CHUNK + d)) /dev/urandom > "$WORK/in/chunk$d"; done
MB=64
[ "$QUICK" = 1 ] && MB=16
head -c $((MB << 20)) /dev/urandom > "$WORK/in/random"
# Real mixed data: text, binaries, compressed files.
{ tar -cf - /usr/share /usr/lib 2>/dev/null || true; } | head -c $((MB << 20)) > "$WORK/in/mixed"
# Mostly zeros: 1 MiB of data every 16 MiB.
python3 - "$WORK/in/sparse" "$MB" <<'PY'
import os, sys
path, mb = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    f.truncate(mb << 20)
    for off in range(0, mb << 20, 16 << 20):
        f.seek(off); f.write(os.urandom(1 << 20))
PY

roundtrip() {  # roundtrip FILE CODEC CHUNKER VIA(file|stdin)
  local f=$1 codec=$2 chunker=$3 via=$4
  local name="rt/$(basename "$f")-$codec-$chunker-$via" out="$WORK/out"
  rm -f "$out"
  if [ "$via" = stdin ]; then
    "$HB" put - --name "$name" --codec "$codec" --chunker "$chunker" --chunk-size $CHUNK < "$f" || return 1
  else
    "$HB" put "$f" --name "$name" --codec "$codec" --chunker "$chunker" --chunk-size $CHUNK || return 1
  fi
  "$HB" get "$name" "$out" || return 1
  cmp -s "$f" "$out" || return 1
  # get to stdout gives the same bytes
  "$HB" get "$name" - | cmp -s "$f" - || return 1
}

files=(empty one chunk-1 chunk0 chunk1 random mixed sparse)
for codec in zstd lz4 none; do
  for chunker in cdc fixed; do
    for f in "${files[@]}"; do
      check "round trip $f $codec $chunker file" roundtrip "$WORK/in/$f" $codec $chunker file
    done
    for f in one chunk0 mixed; do
      check "round trip $f $codec $chunker stdin" roundtrip "$WORK/in/$f" $codec $chunker stdin
    done
    [ "$QUICK" = 1 ] && break
  done
done

# put's memory is bounded whatever the size, also from a pipe (no size known,
# no holes to skip): 1 GiB of mixed data (the 64 MiB random file repeated
# with zeros between) from standard input at the defaults (48M budget) peaks
# under 64 MiB. Skipped in quick mode (the sanitizers' memory is not put's).
if [ "$QUICK" != 1 ]; then
  for i in $(seq 12); do cat "$WORK/in/mixed" "$WORK/in/random"; head -c $((MB << 19)) /dev/zero; done |
    head -c $((1 << 30)) > "$WORK/pipe1g"
  /usr/bin/time -f "%M" -o "$WORK/rss" "$HB" put - --name pipe1g < "$WORK/pipe1g" > /dev/null
  rss=$(($(tail -1 "$WORK/rss") / 1024))
  check "put of 1 GiB from stdin peaks at $rss MiB, under 64 MiB" test "$rss" -lt 64
  check "the 1 GiB round trip is exact" bash -c "'$HB' get pipe1g - | cmp -s - '$WORK/pipe1g'"
  rm -f "$WORK/pipe1g"
fi

# Sparse restore: the zero chunks stay holes.
"$HB" put "$WORK/in/sparse" --name sparse >/dev/null
"$HB" get sparse "$WORK/sparse.out"
alloc_kb=$(du -k "$WORK/sparse.out" | cut -f1)
check "sparse file restored with holes (${alloc_kb} KiB allocated of $((MB * 1024)))" \
  test "$alloc_kb" -lt $((MB * 1024 / 4))
stat_json=$("$HB" stat sparse --json)
zero=$(echo "$stat_json" | json_get zero_chunks)
check "stat counts zero chunks ($zero)" test "$zero" -gt 0

# --- dedup --------------------------------------------------------------------
packs_before=$(count_objects "$STORE" packs)
"$HB" put "$WORK/in/mixed" --name dedup/a >/dev/null
packs_mid=$(count_objects "$STORE" packs)
res=$("$HB" put "$WORK/in/mixed" --name dedup/b --json)
packs_after=$(count_objects "$STORE" packs)
check "same file twice adds no packs ($packs_mid -> $packs_after)" test "$packs_mid" -eq "$packs_after"
check "second put writes no new chunks" test "$(echo "$res" | json_get new_chunks)" -eq 0
# A copy with 8 changed 4 KiB blocks adds about 8 chunks (at most 2 each with CDC).
cp "$WORK/in/mixed" "$WORK/changed"
python3 - "$WORK/changed" <<'PY'
import os, sys, random
random.seed(7)
size = os.path.getsize(sys.argv[1])
with open(sys.argv[1], "r+b") as f:
    for _ in range(8):
        f.seek(random.randrange(0, size - 4096) & ~4095); f.write(os.urandom(4096))
PY
res=$("$HB" put "$WORK/changed" --name dedup/c --json)
new=$(echo "$res" | json_get new_chunks)
total=$(echo "$res" | json_get chunks)
check "8 changed blocks add $new new chunks of $total (<= 16)" test "$new" -le 16
shared=$(echo "$res" | json_get shared_bytes)
check "stat reports shared bytes ($shared)" test "$shared" -gt $(((MB << 20) * 8 / 10))
"$HB" get dedup/c "$WORK/changed.out" && check "changed copy restores" cmp -s "$WORK/changed" "$WORK/changed.out"

# --- ls / stat / rm -----------------------------------------------------------
check "ls lists dedup/a" bash -c "'$HB' ls | grep -q ' dedup/a\$'"
check "ls --json is valid JSON" bash -c "'$HB' ls --json | python3 -c 'import json,sys; assert len(json.load(sys.stdin)) > 3'"
"$HB" rm dedup/b
check "rm removes the name" bash -c "! '$HB' ls | grep -q ' dedup/b\$'"
expect_error "rm of an unknown name" "no file named 'nope'" "$HB" rm nope

# --- bad input ----------------------------------------------------------------
expect_error "missing source" "open $WORK/missing: No such file" "$HB" put "$WORK/missing"
expect_error "unknown name" "no file named 'missing/name'" "$HB" get missing/name "$WORK/x"
touch "$WORK/exists"
expect_error "existing output" "already exists \\(use --force" "$HB" get dedup/a "$WORK/exists"
check "--force replaces it" "$HB" get dedup/a "$WORK/exists" --force
expect_error "bad size" "invalid size '12Q'" "$HB" put "$WORK/in/one" --chunk-size 12Q
expect_error "bad codec" "unknown codec 'gzip'" "$HB" put "$WORK/in/one" --codec gzip
expect_error "bad name" "name" "$HB" put "$WORK/in/one" --name ../escape
expect_error "stdin needs a name" "needs --name" "$HB" put -
expect_error "too little memory" "memory budget" "$HB" put "$WORK/in/one" --memory 1M
expect_error "cat past the end" "past the end" "$HB" cat dedup/a --offset 1G

# --- corruption ---------------------------------------------------------------
CSTORE=$WORK/cstore
"$HB" --store "$CSTORE" put "$WORK/in/random" --name victim --codec none >/dev/null
pack=$(find "$CSTORE/packs" -type f | head -1)
python3 - "$pack" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1000); b = f.read(1); f.seek(1000); f.write(bytes([b[0] ^ 0x40]))
PY
out=$("$HB" --store "$CSTORE" verify 2>&1); rc=$?
check "verify exits 3 on a corrupt pack (rc=$rc)" test "$rc" -eq 3
check "verify names the pack" grep -q "$(basename "$pack")" <<< "$out"
expect_error "get of a corrupt file fails" "do(es)? not match" \
  "$HB" --store "$CSTORE" get victim "$WORK/victim.out"
check "nothing written under the target" test ! -e "$WORK/victim.out"
check "no temporary file left" bash -c "! ls -a '$WORK' | grep -q 'victim.out.hugeblob'"

# --- full disk ----------------------------------------------------------------
mkdir -p "$WORK/small"
if mount -t tmpfs -o size=16m tmpfs "$WORK/small" 2>/dev/null; then
  cleanup_hooks+=("umount '$WORK/small'")
  expect_error "full disk refused up front" "not enough free space in $WORK/small: need" \
    "$HB" get dedup/a "$WORK/small/out"
  check "nothing left on the small disk" test -z "$(ls -A "$WORK/small")"
else
  echo "skip: full-disk test needs root to mount a tmpfs"
fi

# --- Ctrl-C and resume --------------------------------------------------------
BIG=$WORK/big
# Text (base64 of random bytes): compressible, so zstd -19 works on every
# chunk (random bytes would be stored raw at once), and new to the store.
head -c $((48 << 20)) /dev/urandom | base64 -w 0 | head -c $((64 << 20)) > "$BIG"
# Slow on purpose (zstd -19, one thread) with small packs; the signal comes
# once two packs of it are stored (a state, not a moment), so that the rerun
# has something to resume from.
packs_before=$(count_objects "$STORE" packs)
"$HB" put "$BIG" --name big --threads 1 --codec zstd --level 19 --pack-size 1M &
pid=$!
put_going() { gone "$pid" || [ "$(count_objects "$STORE" packs)" -ge $((packs_before + 2)) ]; }
wait_for "the put to store two packs" 600 put_going
kill -INT $pid
wait $pid; rc=$?
check "interrupted put exits 130 (rc=$rc)" test "$rc" -eq 130
check "interrupted put wrote no ref" bash -c "! '$HB' ls | grep -q ' big\$'"
check "no temporary files left in the store" test -z "$(find "$STORE/tmp" -type f 2>/dev/null)"
res=$("$HB" put "$BIG" --name big --json)
new=$(echo "$res" | json_get new_chunks)
total=$(echo "$res" | json_get chunks)
check "rerun resumes: $new of $total chunks written again" test "$new" -lt "$total"
"$HB" get big "$WORK/big.out" && check "resumed file restores" cmp -s "$BIG" "$WORK/big.out"
check "verify of the whole store passes" "$HB" verify

finish
