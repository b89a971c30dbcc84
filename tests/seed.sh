#!/usr/bin/env bash
# Seeded get: a new version restored next to an old one takes every chunk
# the old one has from it and fetches only the rest; the bytes are the new
# version's exactly. The file being replaced is the first seed by default.
source "$(dirname "$0")/lib.sh"
export HUGEBLOB_STORE=$WORK/store
MB=48
[ "$QUICK" = 1 ] && MB=16
python3 - "$WORK" "$MB" <<'PY'
import random, sys
work, mb = sys.argv[1], int(sys.argv[2])
r = random.Random(5)
v5 = bytearray(r.randbytes(mb << 20))
v6 = bytearray(v5)
# Scattered edits, an insertion and a deletion: most chunks stay the same.
for i in range(8):
    at = r.randrange(len(v6) - 4096)
    v6[at:at + 100] = r.randbytes(100)
v6[5 << 20:5 << 20] = r.randbytes(70000)      # insertion
del v6[20 << 20:(20 << 20) + 30000]             # deletion
open(f"{work}/v5", "wb").write(v5)
open(f"{work}/v6", "wb").write(v6)
PY
"$HB" put "$WORK/v6" --name v6 > /dev/null
stored=$(du -sb "$WORK/store/packs" | cut -f1)

res=$("$HB" --json get v6 "$WORK/out" --seed "$WORK/v5")
check "seeded get restores v6 exactly" cmp "$WORK/out" "$WORK/v6"
seeded=$(json_get seeded_bytes <<< "$res")
fetched=$(json_get fetched_bytes <<< "$res")
check "most bytes came from the seed ($seeded of $((MB << 20)))" test "$seeded" -gt $(((MB << 20) * 8 / 10))
check "only a small part was fetched ($fetched of $stored stored)" test "$fetched" -lt $((stored / 5))

# Without a seed, everything is fetched.
res=$("$HB" --json get v6 "$WORK/full")
check "unseeded get fetches the whole file" test "$(json_get fetched_bytes <<< "$res")" -ge $((stored * 9 / 10))

# The file being replaced is the first seed.
cp "$WORK/v5" "$WORK/target"
res=$("$HB" --json get v6 "$WORK/target" --force)
check "replacing an old copy restores v6" cmp "$WORK/target" "$WORK/v6"
check "and reads the old copy for its chunks" test "$(json_get seeded_bytes <<< "$res")" -gt $(((MB << 20) * 8 / 10))
cp "$WORK/v5" "$WORK/target"
res=$("$HB" --json get v6 "$WORK/target" --force --no-seed)
check "--no-seed fetches everything" test "$(json_get seeded_bytes <<< "$res")" = 0
check "--no-seed restores v6" cmp "$WORK/target" "$WORK/v6"

# A seed cut another way (fixed chunks): still exact, and CDC finds what it shares.
"$HB" put "$WORK/v6" --name v6fixed --chunker fixed --chunk-size 64K > /dev/null
res=$("$HB" --json get v6fixed "$WORK/outf" --seed "$WORK/v5")
check "fixed-chunk file from a seed restores exactly" cmp "$WORK/outf" "$WORK/v6"
check "the unchanged prefix came from the seed" test "$(json_get seeded_bytes <<< "$res")" -gt $((4 << 20))

# A seed that no longer matches what it was scanned as costs a fetch, never
# a wrong byte: a seed that is the wrong file entirely is simply not used,
# and a seed that cannot be found is skipped.
head -c $((MB << 20)) /dev/urandom > "$WORK/junk"
res=$("$HB" --json get v6 "$WORK/out2" --seed "$WORK/junk" --seed "$WORK/missing")
check "a useless seed changes nothing" cmp "$WORK/out2" "$WORK/v6"
check "nothing came from it" test "$(json_get seeded_bytes <<< "$res")" = 0
expect_error "a seed that is a directory is refused" "not a regular file" "$HB" get v6 "$WORK/out3" --seed "$WORK"
finish
