#!/usr/bin/env bash
# Sparse files: holes are found with SEEK_DATA/SEEK_HOLE and never read,
# data islands chunk the same wherever they sit, and get gives back the same
# bytes with the same holes (du). Small scale for CI; bench/sparse.sh has the
# 20 GiB and 1 TiB cases.
source "$(dirname "$0")/lib.sh"
STORE=$WORK/store
export HUGEBLOB_STORE=$STORE
# mk FILE SIZE [OFFSET:LENGTH:SEED ...]: a sparse file with random islands.
mk() {
  python3 - "$@" <<'PY'
import random, sys
path, size = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    f.truncate(size)
    for spec in sys.argv[3:]:
        off, n, seed = (int(x) for x in spec.split(":"))
        f.seek(off)
        f.write(random.Random(seed).randbytes(n))
PY
}
M=$((1 << 20))
# The file system must report holes for the skip to show; tmpfs and ext4 do.
mk "$WORK/probe" $((8 * M)) $((4 * M)):4096:1
if [ "$(du -k "$WORK/probe" | cut -f1)" -gt 1000 ]; then
  echo "skip: $WORK does not keep holes"; exit 77
fi

roundtrip() {  # roundtrip NAME FILE: put, get, compare bytes and allocation
  local name=$1 file=$2 out=$WORK/out.$1
  local res
  res=$("$HB" --json put "$file" --name "$name") || { fail "$name: put"; return; }
  check "$name: get" "$HB" get "$name" "$out"
  check "$name: same bytes" cmp "$file" "$out"
  check "$name: same size" test "$(stat -c %s "$out")" = "$(stat -c %s "$file")"
  local din dout
  din=$(du -k "$file" | cut -f1); dout=$(du -k "$out" | cut -f1)
  check "$name: holes kept (du $dout KiB for $din KiB of data)" test "$dout" -le $((din + 2048))
  echo "$res"
}

# Islands at odd offsets (not chunk- or block-aligned), holes at both ends.
mk "$WORK/odd" $((96 * M + 333)) $((5 * M + 17)):$((3 * M + 5)):1 $((40 * M + 4095)):$((2 * M)):2 $((90 * M + 1)):777777:3
res=$(roundtrip odd "$WORK/odd" | tail -1)
check "odd: most of the file was never read" test "$(json_get holes_skipped <<< "$res")" -gt $((80 * M))
# All hole.
mk "$WORK/hole" $((64 * M))
res=$(roundtrip hole "$WORK/hole" | tail -1)
check "hole: nothing stored" test "$(json_get new_chunks <<< "$res")" = 0
check "hole: all of it skipped" test "$(json_get holes_skipped <<< "$res")" = $((64 * M))
# Dense zeros (written, not a hole): zero chunks, holes on the way back.
head -c $((16 * M)) /dev/zero > "$WORK/zeros"
res=$(roundtrip zeros "$WORK/zeros" | tail -1)
check "zeros: nothing stored" test "$(json_get new_chunks <<< "$res")" = 0
check "zeros: restored as a hole" test "$(du -k "$WORK/out.zeros" | cut -f1)" -lt 1024
# Data with small holes inside (shorter than the 1 MiB skip): read as data.
mk "$WORK/small" $((8 * M)) 0:$((3 * M)):4 $((3 * M + 65536)):$((2 * M)):5
roundtrip small "$WORK/small" > /dev/null
# A data island chunks the same wherever it sits: the same island at another
# offset of another file shares every chunk (islands start on a file-system
# block, as in a disk image: SEEK_DATA reports whole blocks).
mk "$WORK/i1" $((64 * M)) $((8 * M + 12288)):$((6 * M)):9
mk "$WORK/i2" $((200 * M)) $((150 * M + 4096 * 3)):$((6 * M)):9
"$HB" put "$WORK/i1" --name i1 > /dev/null
res=$("$HB" --json put "$WORK/i2" --name i2)
check "a moved island shares all its chunks" test "$(json_get shared_bytes <<< "$res")" = $((6 * M))
check "i2 restores" bash -c "'$HB' get i2 - | cmp - '$WORK/i2'"
# The fixed chunker cuts at island starts too.
"$HB" put "$WORK/i1" --name f1 --chunker fixed --chunk-size 64K > /dev/null
res=$("$HB" --json put "$WORK/i2" --name f2 --chunker fixed --chunk-size 64K)
check "fixed: a moved island shares all its chunks" test "$(json_get shared_bytes <<< "$res")" = $((6 * M))
# A sparse file through standard input (no SEEK_DATA): same bytes, holes still zero runs.
res=$("$HB" --json put - --name piped < "$WORK/odd")
check "stdin: nothing skipped (a stream cannot seek)" test "$(json_get holes_skipped <<< "$res")" = 0
check "stdin: same digest as the file would have... restores" bash -c "'$HB' get piped - | cmp - '$WORK/odd'"
check "verify" "$HB" verify
finish
