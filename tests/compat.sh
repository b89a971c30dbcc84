#!/usr/bin/env bash
# Chunk hashes and format versions: a store made by the previous release
# (SHA-256 chunk ids, version-1 manifests, tests/data/store-v1) still lists,
# stats, verifies, restores and accepts new puts, which keep its hash and
# deduplicate against its chunks; new stores name chunks by BLAKE3; put
# --sha256 records a whole-file SHA-256 that stat shows and get checks.
source "$(dirname "$0")/lib.sh"
DATA=$(cd "$(dirname "$0")/data" && pwd)

# --- the previous release's store ------------------------------------------
OLD=$WORK/old
cp -r "$DATA/store-v1" "$OLD"
check "old store lists both names" bash -c "'$HB' --store '$OLD' ls | grep -q 'dir/a' && '$HB' --store '$OLD' ls | grep -qw b"
check "old store verifies" "$HB" --store "$OLD" verify
while read -r sum name; do
  out=$WORK/restored.$(echo "$name" | tr / _)
  check "old store restores $name" "$HB" --store "$OLD" get "$name" "$out"
  check "$name matches the original's SHA-256" bash -c "echo '$sum  $out' | sha256sum -c --quiet"
done < "$DATA/store-v1.sha256"
st=$("$HB" --store "$OLD" --json stat dir/a)
check "stat of an old file: sha256 chunk ids" test "$(json_get chunk_hash <<< "$st")" = sha256
check "stat of an old file: its recorded SHA-256" \
  test "$(json_get sha256 <<< "$st")" = "$(grep ' dir/a$' "$DATA/store-v1.sha256" | cut -d' ' -f1)"
check "old cat of a range" bash -c "cmp <('$HB' --store '$OLD' cat dir/a --offset 1000 --length 5000) <(head -c 6000 '$WORK/restored.dir_a' | tail -c 5000)"

# A new put into the old store keeps SHA-256 ids and shares the old chunks.
cp "$WORK/restored.dir_a" "$WORK/a-again"
printf 'appended' >> "$WORK/a-again"
res=$("$HB" --store "$OLD" --json put "$WORK/a-again" --name a2 --chunk-size 16K)
check "new put into the old store uses sha256" test "$(json_get chunk_hash <<< "$res")" = sha256
check "it deduplicates against the old chunks" test "$(json_get shared_bytes <<< "$res")" -gt 500000
check "the old store still verifies" "$HB" --store "$OLD" verify
check "the new file restores" bash -c "'$HB' --store '$OLD' get a2 - | cmp - '$WORK/a-again'"
# Format 2 from its first version object on (the previous release refuses
# the store then, instead of collecting data it cannot see), the rest kept.
check "the old config is raised to format 2" test "$(head -1 "$OLD/config")" = "hugeblob-store 2"
check "the rest of the old config is kept" test "$(tail -n +2 "$OLD/config")" = "$(tail -n +2 "$DATA/store-v1/config")"

# --- a new store -------------------------------------------------------------
NEW=$WORK/new
head -c 3000000 /dev/urandom > "$WORK/rand"
res=$("$HB" --store "$NEW" --json put "$WORK/rand" --name r)
check "a new store names chunks by blake3" test "$(json_get chunk_hash <<< "$res")" = blake3
check "its config says so" grep -qx 'chunk-hash blake3' "$NEW/config"
check "a new store is format 2" test "$(head -1 "$NEW/config")" = "hugeblob-store 2"
check "no SHA-256 unless asked" test "$(json_get sha256 <<< "$res")" = None
# A chunk's id is the BLAKE3 of its bytes: a fixed-size chunk hashed by b3sum
# (an independent implementation) is in the manifest's pack trailer.
if command -v b3sum >/dev/null; then
  "$HB" --store "$NEW" put "$WORK/rand" --name fixed --chunker fixed --chunk-size 1M >/dev/null
  id=$(head -c 1048576 "$WORK/rand" | b3sum --no-names)
  check "b3sum of the first fixed chunk names a stored chunk" python3 -c '
import pathlib, sys
want = bytes.fromhex(sys.argv[2])
sys.exit(0 if any(want in p.read_bytes() for p in pathlib.Path(sys.argv[1]).rglob("*") if p.is_file()) else 1)
' "$NEW/packs" "$id"
fi

# --- put --sha256 --------------------------------------------------------------
res=$("$HB" --store "$NEW" --json put "$WORK/rand" --name withsha --sha256)
want=$(sha256sum "$WORK/rand" | cut -d' ' -f1)
check "put --sha256 reports the file's SHA-256" test "$(json_get sha256 <<< "$res")" = "$want"
check "stat shows it" bash -c "'$HB' --store '$NEW' stat withsha | grep -q 'sha256: *$want'"
check "and the content digest" bash -c "'$HB' --store '$NEW' stat withsha | grep -q 'digest: *[0-9a-f]\{64\} (blake3'"
check "get checks it and restores" bash -c "'$HB' --store '$NEW' get withsha '$WORK/out' && cmp '$WORK/out' '$WORK/rand'"
# A sparse file with --sha256 hashes its holes too (the one place they are read).
truncate -s 20M "$WORK/sparse"; printf 'island' | dd of="$WORK/sparse" bs=1 seek=7000000 conv=notrunc 2>/dev/null
res=$("$HB" --store "$NEW" --json put "$WORK/sparse" --name sparse --sha256)
check "sparse --sha256 matches sha256sum" test "$(json_get sha256 <<< "$res")" = "$(sha256sum "$WORK/sparse" | cut -d' ' -f1)"

# --- mode and mtime are recorded -------------------------------------------
chmod 600 "$WORK/rand"; touch -d '2020-02-02 02:02:02' "$WORK/rand"
"$HB" --store "$NEW" put "$WORK/rand" --name meta >/dev/null
st=$("$HB" --store "$NEW" --json stat meta)
check "stat shows the mode" test "$(json_get mode <<< "$st")" = "$((8#600))"
check "stat shows the mtime" test "$(json_get mtime_ns <<< "$st")" = "$(stat -c %Y "$WORK/rand")000000000"
"$HB" --store "$NEW" get meta "$WORK/meta.out"
check "get restores the mode" test "$(stat -c %a "$WORK/meta.out")" = 600
check "get restores the mtime" test "$(stat -c %Y "$WORK/meta.out")" = "$(stat -c %Y "$WORK/rand")"
"$HB" --store "$NEW" get meta "$WORK/meta.plain" --no-metadata
check "--no-metadata leaves the mtime at now" test "$(stat -c %Y "$WORK/meta.plain")" -gt "$(stat -c %Y "$WORK/rand")"
finish
