#!/usr/bin/env bash
# Large manifests in segments: a file of more frames than a manifest holds
# inline (1024) gets its frame table written as segment objects under
# segments/. Everything that reads a manifest must follow them: get, cat at
# the edges between segments, stat, verify (and find a damaged one), copy to
# another store, gc (keeps them while a name uses them, deletes them after).
source "$(dirname "$0")/lib.sh"
S=$WORK/store
K=1024
M=$((1 << 20))
# 20 MiB in 2 KiB-to-16 KiB pieces: random, zero, or a repeat, so the frame
# table mixes data frames, zero runs and duplicates.
python3 - "$WORK/f" <<'PY'
import random, sys
r = random.Random(5)
out, done, prev = open(sys.argv[1], "wb"), 0, b""
while done < 20 << 20:
    n = r.choice((2048, 4096, 16384))
    kind = r.random()
    b = bytes(n) if kind < 0.2 else (prev[:n] if kind < 0.3 and len(prev) >= n else r.randbytes(n))
    out.write(b); done += n; prev = b
PY
res=$("$HB" --store "$S" --json put "$WORK/f" --name f --chunker fixed --chunk-size 8K)
check "put exits 0" test -n "$res"
segs=$(count_objects "$S" segments)
check "the frame table went to segments ($segs of them)" test "$segs" -ge 2
msize=$(stat -c %s "$S/manifests/$(json_get manifest <<< "$res")")
check "the manifest itself is small ($msize bytes)" test "$msize" -lt 4096

check "get" "$HB" --store "$S" get f "$WORK/out"
check "get: same bytes" cmp "$WORK/f" "$WORK/out"
# Around the first segment edges (1024 frames of 8 KiB) and the end.
for off in $((1024 * 8 * K - 1)) $((2048 * 8 * K - 3)) $((20 * M - 5)) 0; do
  "$HB" --store "$S" cat f --offset "$off" --length 10 > "$WORK/cat" 2> "$WORK/cat.err"
  check "cat at $off" cmp "$WORK/cat" <(tail -c +$((off + 1)) "$WORK/f" | head -c 10)
done
st=$("$HB" --store "$S" --json stat f)
check "stat reads the whole frame table" test "$(json_get chunks <<< "$st")" -gt 1024
check "stat counts the segments in the manifest bytes" \
  test "$(json_get manifest_bytes <<< "$st")" -gt $((segs * 10 * K))
check "verify" "$HB" --store "$S" -q verify
check "verify f" "$HB" --store "$S" -q verify f

# Copy: the destination gets its own segments.
check "copy" "$HB" -q copy "$S" "$WORK/store2" f
check "copy: segments in the destination" test "$(count_objects "$WORK/store2" segments)" -ge 2
check "copy: get from the destination" "$HB" --store "$WORK/store2" get f "$WORK/out2"
check "copy: same bytes" cmp "$WORK/f" "$WORK/out2"

# gc keeps what a name uses; after rm it deletes the segments too.
check "gc" "$HB" --store "$S" -q gc --grace 0
check "gc keeps the segments" test "$(count_objects "$S" segments)" = "$segs"
check "get after gc" "$HB" --store "$S" get f "$WORK/out" --force
check "rm" "$HB" --store "$S" rm f
check "gc after rm" "$HB" --store "$S" -q gc --grace 0
check "gc deleted the segments" test "$(count_objects "$S" segments)" = 0
check "gc deleted the manifest" test "$(count_objects "$S" manifests)" = 0

# A damaged segment: get and cat fail naming it, verify reports damage (3).
"$HB" --store "$S" -q put "$WORK/f" --name f --chunker fixed --chunk-size 8K
victim=$(find "$S/segments" -type f | sort | head -1)
chmod u+w "$victim"
python3 - "$victim" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1
open(p, "wb").write(bytes(b))
PY
expect_error "get with a damaged segment" "segments/.*does not match its id" \
  "$HB" --store "$S" get f "$WORK/out3"
check "no partial file left" test ! -e "$WORK/out3"
"$HB" --store "$S" -q verify > /dev/null 2> "$WORK/v.err"
check "verify exits 3 on a damaged segment" test $? = 3
check "verify names the segment" grep -q "segments/" "$WORK/v.err"
rm -f "$victim"
expect_error "get with a missing segment" "segment is missing" \
  "$HB" --store "$S" get f "$WORK/out3"
finish
