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

# --seed-dir: the old version somewhere below a directory, among others.
mkdir -p "$WORK/seeds/a/b"
cp "$WORK/v5" "$WORK/seeds/a/b/old.img"
head -c 1000 /dev/urandom >"$WORK/seeds/small"
ln -s "$WORK/junk" "$WORK/seeds/link"
res=$("$HB" --json get v6 "$WORK/outd" --seed-dir "$WORK/seeds")
check "a get seeded from a directory restores v6 exactly" cmp "$WORK/outd" "$WORK/v6"
check "and found the old version in it" test "$(json_get seeded_bytes <<< "$res")" -gt $(((MB << 20) * 8 / 10))
check "without scanning the symlink or the small file" test "$(json_get seed_files <<< "$res")" = 1
expect_error "--seed-dir must be a directory" "not a directory" "$HB" get v6 "$WORK/outd2" --seed-dir "$WORK/v5"

# diff: ranges by content, and the fetch a seeded get would make.
"$HB" put "$WORK/v5" --name v5 > /dev/null
d=$("$HB" --json diff v5 v6)
res=$("$HB" --json get v6 "$WORK/outp" --seed "$WORK/v5")
pred=$(json_get fetch_bytes <<< "$d")
got=$(json_get fetched_bytes <<< "$res")
check "diff predicts what a seeded get fetches ($pred vs $got)" \
  test "$got" -ge "$pred" -a "$got" -le $((pred + $(json_get store_requests <<< "$res") * (64 << 10)))
check "diff of a file with itself finds nothing" \
  test "$("$HB" --json diff v6 v6 | json_get differing_bytes)" = 0
# Every byte that differs before the insertion (same offsets in both) lies
# in a range diff reports, and there the ranges are a small part.
check "diff's ranges cover every changed byte and little else" python3 - "$WORK" "$d" <<'PY'
import json, sys
work, d = sys.argv[1], json.loads(sys.argv[2])
v5 = open(f"{work}/v5", "rb").read()
v6 = open(f"{work}/v6", "rb").read()
ranges = [(r["offset"], r["offset"] + r["length"]) for r in d["ranges"]]
covered = lambda i: any(a <= i < b for a, b in ranges)
changed = [i for i in range(5 << 20) if v5[i] != v6[i]]
assert changed, "the edits changed nothing?"
missing = [i for i in changed if not covered(i)]
assert not missing, f"{len(missing)} changed bytes outside every range, first at {missing[0]}"
# Ranges are by offset: after the insertion everything has moved, but
# before it only the chunks holding an edit differ.
early = sum(min(b, 5 << 20) - a for a, b in ranges if a < 5 << 20)
assert early < 3 << 20, f"{early} bytes differ before the insertion"
PY
"$HB" diff v5 v6 > "$WORK/diff.txt"
check "diff prints ranges and the fetch estimate" grep -q "fetched" "$WORK/diff.txt"
expect_error "diff of a missing name" "no file named" "$HB" diff v5 nope

# --in-place: the old copy updated where it stands.
cp "$WORK/v5" "$WORK/inplace"
ino=$(stat -c %i "$WORK/inplace")
res=$("$HB" --json get v6 "$WORK/inplace" --in-place)
check "get --in-place turns v5 into v6" cmp "$WORK/inplace" "$WORK/v6"
check "in the same file (same inode)" test "$(stat -c %i "$WORK/inplace")" = "$ino"
check "writing only what differs" test "$(json_get in_place_bytes <<< "$res")" -gt $((1 << 20))
expect_error "--in-place is for a file" "regular file" "$HB" get v6 - --in-place

# A file get wrote is known by its record (docs/delta.md): in place, what is
# already right stays unread. A write, even with the modification time put
# back, moves the change time: the file is read again. So does --verify-target.
"$HB" -q get v5 "$WORK/known"
res=$("$HB" --json get v6 "$WORK/known" --in-place)
check "get --in-place over a file get wrote turns it into v6" cmp "$WORK/known" "$WORK/v6"
check "leaving what was right unread ($(json_get recorded_bytes <<<"$res") bytes)" \
  test "$(json_get recorded_bytes <<<"$res")" = "$(json_get in_place_bytes <<<"$res")" \
  -a "$(json_get recorded_bytes <<<"$res")" -gt $((1 << 20))
check "and reading at most a sample of it ($(json_get seed_scanned_bytes <<<"$res") bytes)" \
  test "$(json_get seed_scanned_bytes <<<"$res")" -lt $(($(stat -c %s "$WORK/v6") / 8))
mtime=$(stat -c %y "$WORK/known")
printf 'X' | dd of="$WORK/known" bs=1 seek=12345 conv=notrunc status=none
touch -d "$mtime" "$WORK/known"
check "(the modification time is back)" test "$(stat -c %y "$WORK/known")" = "$mtime"
res=$("$HB" --json get v6 "$WORK/known" --in-place)
check "a file written since is read again" \
  test "$(json_get recorded_bytes <<<"$res")" = 0 -a "$(json_get seed_scanned_bytes <<<"$res")" -gt 0
check "and its changed byte restored" cmp "$WORK/known" "$WORK/v6"
res=$("$HB" --json get v6 "$WORK/known" --in-place --verify-target)
check "--verify-target reads a recorded file all the same" \
  test "$(json_get recorded_bytes <<<"$res")" = 0 -a "$(json_get seed_scanned_bytes <<<"$res")" -gt 0

# --cache: a get fills the shared cache, and the next one reads it.
res=$("$HB" --json get v6 "$WORK/c1" --cache --no-seed)
res=$("$HB" --json get v6 "$WORK/c2" --cache --no-seed)
check "a get with --cache takes chunks from the cache" test "$(json_get fetched_bytes <<< "$res")" = 0
check "and restores exactly" cmp "$WORK/c2" "$WORK/v6"
finish
