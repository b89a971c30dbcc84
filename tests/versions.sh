#!/usr/bin/env bash
# Versions over time: kill -9 at random points of a put, then rerun (identical
# result, no chunk stored twice); Ctrl-C of copy; two concurrent puts; gc
# after rm (reclaims unique bytes, keeps shared ones); gc concurrent with a
# put (loses nothing); copy both ways local <-> local, and local <-> S3 when
# scripts/s3rver.sh can start a server. HB_QUICK=1 keeps it short.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
unset HUGEBLOB_STORE

if ! "$HB" gc --help >/dev/null 2>&1 || ! "$HB" copy --help >/dev/null 2>&1; then
  echo "skip: this hugeblob has no gc/copy commands (AddMaintenanceCommands not registered)"
  exit 77
fi

MB=64
KILLS=8
[ "$QUICK" = 1 ] && MB=24 && KILLS=3

# A disk-image-like input: real files (compressible), random blocks, zeros.
mkdir -p "$WORK/in"
gen_input() {  # gen_input PATH MB SEED
  python3 - "$1" "$2" "$3" <<'PY'
import os, random, sys
path, mb, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
corpus = b""
for d in ("/usr/share/doc", "/usr/lib/python3"):
    for dp, _, fs in os.walk(d):
        for f in fs:
            try:
                corpus += open(os.path.join(dp, f), "rb").read(65536)
            except OSError:
                pass
            if len(corpus) > (8 << 20):
                break
        if len(corpus) > (8 << 20):
            break
corpus = corpus or os.urandom(8 << 20)
with open(path, "wb") as out:
    left = mb << 20
    while left > 0:
        kind = rnd.random()
        n = min(left, rnd.choice([4096, 65536, 1 << 20]))
        if kind < 0.5:
            start = rnd.randrange(0, max(1, len(corpus) - n))
            block = corpus[start:start + n].ljust(n, b"\0")
        elif kind < 0.8:
            block = rnd.randbytes(n)
        else:
            block = bytes(n)
        out.write(block)
        left -= n
PY
}
# Rewrites ~1% of the 4 KiB blocks in place, in runs of 1 to 64 blocks (the
# way files change on a disk image), and inserts a few short runs.
mutate() {  # mutate SRC DST SEED
  python3 - "$1" "$2" "$3" <<'PY'
import random, sys
src, dst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rnd = random.Random(seed)
data = bytearray(open(src, "rb").read())
blocks = len(data) // 4096
todo = max(1, blocks // 100)
while todo > 0:
    run = min(todo, rnd.randint(1, 64))
    b = rnd.randrange(0, blocks - run)
    data[b * 4096:(b + run) * 4096] = rnd.randbytes(run * 4096)
    todo -= run
for _ in range(3):
    at = rnd.randrange(len(data))
    data[at:at] = rnd.randbytes(rnd.randrange(100, 5000))
open(dst, "wb").write(data)
PY
}
# Frames in all packs of a local store, distinct chunk ids among them, and
# the sum of their stored lengths: "frames == distinct" means no chunk was
# stored twice.
census() {  # census STORE_DIR -> "frames distinct stored_bytes"
  python3 - "$1" <<'PY'
import os, struct, sys
frames = 0; ids = set(); stored = 0
root = os.path.join(sys.argv[1], "packs")
for dp, _, fs in os.walk(root):
    for f in fs:
        p = os.path.join(dp, f)
        size = os.path.getsize(p)
        with open(p, "rb") as fh:
            fh.seek(size - 32)
            trailer_len, count = struct.unpack("<QI", fh.read(12))
            fh.seek(size - trailer_len)
            t = fh.read(trailer_len - 32)
        for i in range(count):
            e = t[i * 49:(i + 1) * 49]
            ids.add(e[:32]); frames += 1
            stored += struct.unpack("<I", e[40:44])[0]
print(frames, len(ids), stored)
PY
}

gen_input "$WORK/in/v1" "$MB" 1
mutate "$WORK/in/v1" "$WORK/in/v2" 2
mutate "$WORK/in/v2" "$WORK/in/v3" 3
# Slow on purpose (zstd -19, one thread, small packs): a kill lands mid-put.
PUTOPTS=(--pack-size 1M --threads 1 --codec zstd --level 19)

# --- kill -9 at random points, then rerun --------------------------------------
REF=$WORK/ref
"$HB" --store "$REF" put "$WORK/in/v1" --name v1 "${PUTOPTS[@]}" >/dev/null
REF_PACKS=$(count_objects "$REF" packs)
read -r ref_frames ref_distinct ref_stored <<< "$(census "$REF")"
# The kill points are states of the put, not moments: it holds its lock
# (index load) and the store has WANT packs; or it has exited already.
put_reached() {  # put_reached STORE PID WANT
  gone "$2" || { lock_held "$1" "$2" && [ "$(count_objects "$1" packs)" -ge "$3" ]; }
}
KS=$WORK/killed
killed_some=0
for i in $(seq 1 "$((KILLS + 1))"); do
  # A put that got to the end before its kill leaves nothing to resume:
  # start again from an empty store, so that each kill lands mid-put.
  if "$HB" --store "$KS" ls 2>/dev/null | grep -q ' v1$'; then rm -rf "$KS"; fi
  have=$(count_objects "$KS" packs)
  # Anywhere from the index load to the last packs; the last round makes
  # sure of one kill, early in a put (as soon as it holds its lock).
  want=$((have + RANDOM % (REF_PACKS > have ? REF_PACKS - have : 1)))
  if [ "$i" -gt "$KILLS" ]; then
    [ "$killed_some" -gt 0 ] && break
    rm -rf "$KS"
    want=0
  fi
  "$HB" --store "$KS" put "$WORK/in/v1" --name v1 "${PUTOPTS[@]}" >/dev/null 2>&1 &
  pid=$!
  wait_for "put $i to hold its lock with $want packs stored" 600 put_reached "$KS" "$pid" "$want"
  if kill -9 "$pid" 2>/dev/null; then killed_some=$((killed_some + 1)); fi
  wait "$pid" 2>/dev/null
done
check "put was killed mid-way $killed_some times" test "$killed_some" -gt 0
check "no ref after the kills (or a complete one)" bash -c \
  "! '$HB' --store '$KS' ls | grep -q ' v1\$' || '$HB' --store '$KS' verify v1"
res=$("$HB" --store "$KS" put "$WORK/in/v1" --name v1 "${PUTOPTS[@]}" --json)
check "rerun after kill -9 completes" test -n "$res"
new=$(echo "$res" | json_get new_chunks)
total=$(echo "$res" | json_get chunks)
echo "  rerun wrote $new of $total chunks"
"$HB" --store "$KS" get v1 "$WORK/v1.out" --force
check "byte-identical get after kill -9 and rerun" cmp -s "$WORK/in/v1" "$WORK/v1.out"
read -r k_frames k_distinct k_stored <<< "$(census "$KS")"
check "no chunk stored twice ($k_frames frames, $k_distinct distinct)" test "$k_frames" -eq "$k_distinct"
check "same frames as an uninterrupted run ($k_stored vs $ref_stored bytes)" \
  test "$k_distinct" -eq "$ref_distinct" -a "$k_stored" -eq "$ref_stored"
check "verify passes" "$HB" --store "$KS" verify
# The killed puts left their lock objects behind; gc sees their processes
# are gone and removes them. A kill during a pack write also leaves its temp
# file in tmp/ (plant one, an hour old, so there surely is one): gc deletes it.
mkdir -p "$KS/tmp"
head -c 100000 /dev/urandom > "$KS/tmp/put.99999.killed.tmp"
touch -d '1 hour ago' "$KS/tmp/put.99999.killed.tmp"
gcj=$("$HB" --store "$KS" gc --grace 0 --json)
check "gc runs despite locks of killed puts" test -n "$gcj"
stale=$(echo "$gcj" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["stale_locks"]))')
echo "  gc removed $stale stale locks, $(echo "$gcj" | json_get packs_deleted) packs"
check "no lock left" test -z "$(ls "$KS/locks" 2>/dev/null)"
check "gc deleted the killed puts' temp files ($(echo "$gcj" | json_get temp_files_deleted))" \
  test "$(echo "$gcj" | json_get temp_files_deleted)" -ge 1
check "no put temp file left in tmp/" test -z "$(find "$KS/tmp" -name 'put.*.tmp' -mmin +0.02 2>/dev/null)"
"$HB" --store "$KS" get v1 "$WORK/v1.out" --force
check "v1 still restores after gc" cmp -s "$WORK/in/v1" "$WORK/v1.out"

# --- versions, stat and ls -------------------------------------------------------
VS=$WORK/versions
for v in v1 v2 v3; do "$HB" --store "$VS" put "$WORK/in/$v" --name "img/$v" >/dev/null; done
shared=$("$HB" --store "$VS" stat img/v2 --json | json_get shared_bytes)
check "stat shows what v2 shares with v1 ($shared bytes)" test "$shared" -gt $(((MB << 20) * 8 / 10))
check "ls --json lists the versions with sizes" bash -c "'$HB' --store '$VS' ls --json | python3 -c '
import json, sys
l = json.load(sys.stdin)
assert [b[\"name\"] for b in l] == [\"img/v1\", \"img/v2\", \"img/v3\"], l
assert all(b[\"size\"] > 0 and \"added_bytes\" in b for b in l)'"

# --- gc after rm: unique bytes go, shared ones stay ------------------------------
added_v3=$("$HB" --store "$VS" stat img/v3 --json | json_get added_bytes)
"$HB" --store "$VS" rm img/v3
dry=$("$HB" --store "$VS" gc --grace 0 --dry-run --json)
pack_bytes() { find "$1/packs" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
before=$(pack_bytes "$VS")
gcj=$("$HB" --store "$VS" gc --grace 0 --json)
after=$(pack_bytes "$VS")
deleted=$(echo "$gcj" | json_get pack_bytes_deleted)
check "dry run predicted what gc deleted" test "$(echo "$dry" | json_get pack_bytes_deleted)" -eq "$deleted"
check "gc after rm reclaims v3's unique bytes ($deleted of $added_v3 added)" \
  test "$deleted" -gt 0 -a "$deleted" -le "$added_v3" -a "$((before - after))" -eq "$deleted"
for v in v1 v2; do
  "$HB" --store "$VS" get "img/$v" "$WORK/$v.out" --force
  check "img/$v intact after gc" cmp -s "$WORK/in/$v" "$WORK/$v.out"
done
check "verify after gc" "$HB" --store "$VS" verify
young=$("$HB" --store "$VS" put "$WORK/in/v3" --name img/v3 --json >/dev/null && "$HB" --store "$VS" rm img/v3 &&
  "$HB" --store "$VS" gc --json | json_get young_kept)
check "default grace keeps just-written garbage ($young objects)" test "$young" -gt 0

# --- two concurrent puts ----------------------------------------------------------
CS=$WORK/concurrent
"$HB" --store "$CS" put "$WORK/in/v1" --name a >/dev/null 2>"$WORK/a.err" &
pa=$!
"$HB" --store "$CS" put "$WORK/in/v2" --name b >/dev/null 2>"$WORK/b.err" &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
check "two concurrent puts succeed ($ra, $rb)" test "$ra" -eq 0 -a "$rb" -eq 0
"$HB" --store "$CS" get a "$WORK/a.out" && check "first restores" cmp -s "$WORK/in/v1" "$WORK/a.out"
"$HB" --store "$CS" get b "$WORK/b.out" && check "second restores" cmp -s "$WORK/in/v2" "$WORK/b.out"
check "verify after concurrent puts" "$HB" --store "$CS" verify

# --- gc concurrent with put ---------------------------------------------------------
GS=$WORK/gcput
"$HB" --store "$GS" put "$WORK/in/v1" --name base >/dev/null
"$HB" --store "$GS" put "$WORK/in/v2" --name doomed >/dev/null
"$HB" --store "$GS" rm doomed
(
  for attempt in $(seq 1 100); do
    if "$HB" --store "$GS" put "$WORK/in/v3" --name new "${PUTOPTS[@]}" >/dev/null 2>"$WORK/gcput.err"; then exit 0; fi
    grep -q "a gc is running" "$WORK/gcput.err" || { cat "$WORK/gcput.err" >&2; exit 1; }
    sleep 0.1
  done
  exit 1
) &
pp=$!
runs=0 refusals=0 other=0
while kill -0 $pp 2>/dev/null; do
  if out=$("$HB" --store "$GS" gc --grace 0 2>&1); then
    runs=$((runs + 1))
  elif grep -q "gc refused" <<< "$out"; then
    refusals=$((refusals + 1))
  else
    other=$((other + 1)); echo "$out" >&2
  fi
  sleep 0.05
done
wait $pp; rp=$?
echo "  gc ran $runs times and refused $refusals times during the put"
check "put completes while gc runs (rc=$rp)" test "$rp" -eq 0
check "gc only ever refused cleanly" test "$other" -eq 0
check "gc refused while the put held its lock" test "$refusals" -gt 0
"$HB" --store "$GS" gc --grace 0 >/dev/null
for n in base:v1 new:v3; do
  "$HB" --store "$GS" get "${n%%:*}" "$WORK/gp.out" --force
  check "${n%%:*} intact after concurrent gc" cmp -s "$WORK/in/${n##*:}" "$WORK/gp.out"
done
check "verify after gc concurrent with put" "$HB" --store "$GS" verify

# --- copy local <-> local ---------------------------------------------------------
L2=$WORK/copy2
L3=$WORK/copy3
cj=$("$HB" --json copy "$VS" "$L2")
check "copy local -> local" test -n "$cj"
check "verify of the copy" "$HB" --store "$L2" verify
for v in v1 v2; do
  "$HB" --store "$L2" get "img/$v" "$WORK/c.out" --force
  check "copied img/$v restores" cmp -s "$WORK/in/$v" "$WORK/c.out"
done
cj=$("$HB" --json copy "$VS" "$L2")
check "copy again sends nothing" test "$(echo "$cj" | json_get bytes_read)" -eq 0
"$HB" copy "$L2" "$L3" img/v1 >/dev/null
"$HB" copy "$L2" "$L3" img/v2 >/dev/null
"$HB" --store "$L3" get img/v2 "$WORK/c.out" --force
check "copy back by name, version by version" cmp -s "$WORK/in/v2" "$WORK/c.out"
check "verify of the copy back" "$HB" --store "$L3" verify
shared=$("$HB" --store "$L3" stat img/v2 --json | json_get shared_bytes)
check "the second version copied only what the destination lacked ($shared shared)" \
  test "$shared" -gt $(((MB << 20) * 8 / 10))

# Ctrl-C during a copy: stops, says what was kept, no temporary files, no lock.
L4=$WORK/copy4
"$HB" copy "$VS" "$L4" --threads 1 --pack-size 1M 2>"$WORK/copy.err" >/dev/null &
pc=$!
# Ctrl-C once the copy is under way (its first pack is stored: it holds its
# lock and copies names), or once it has exited.
copy_going() { gone "$pc" || [ "$(count_objects "$L4" packs)" -ge 1 ]; }
wait_for "the copy to store its first pack" 600 copy_going
kill -INT $pc 2>/dev/null
wait $pc; rc=$?
if [ "$rc" -eq 0 ]; then
  echo "skip: copy finished before Ctrl-C arrived"
else
  check "interrupted copy exits 130 (rc=$rc)" test "$rc" -eq 130
  check "interrupted copy says what was kept" grep -q "copy interrupted: .* versions copied.*kept" "$WORK/copy.err"
  check "no temporary files after Ctrl-C" test -z "$(find "$L4/tmp" -type f 2>/dev/null)"
  check "no lock after Ctrl-C" test -z "$(ls "$L4/locks" 2>/dev/null)"
fi
"$HB" copy "$VS" "$L4" >/dev/null
check "copy after Ctrl-C completes and verifies" "$HB" --store "$L4" verify

# --- S3 -----------------------------------------------------------------------------
S3STATE=$WORK/s3rver
if s3env=$(bash "$ROOT/scripts/s3rver.sh" start "$S3STATE" 2>"$WORK/s3rver.err"); then
  cleanup_hooks+=("bash '$ROOT/scripts/s3rver.sh' stop '$S3STATE' >/dev/null 2>&1")
  eval "$s3env"
  S3="s3://$HB_TEST_S3_BUCKET/versions-$$"
  cj=$("$HB" --json copy "$VS" "$S3")
  check "copy local -> S3" test -n "$cj"
  check "verify on S3" "$HB" --store "$S3" verify
  "$HB" --store "$S3" get img/v2 "$WORK/s3.out" --force
  check "img/v2 restores from S3" cmp -s "$WORK/in/v2" "$WORK/s3.out"
  L5=$WORK/froms3
  "$HB" copy "$S3" "$L5" >/dev/null
  check "copy S3 -> local verifies" "$HB" --store "$L5" verify
  "$HB" --store "$L5" get img/v1 "$WORK/s3.out" --force
  check "img/v1 restores after S3 -> local" cmp -s "$WORK/in/v1" "$WORK/s3.out"
  # kill -9 of a put to S3, then rerun.
  S3K="s3://$HB_TEST_S3_BUCKET/killed-$$"
  # The same kill points as on the local store, seen through S3 listings
  # (s3rver checks no signatures, so plain curl lists and reads).
  s3_keys() {  # s3_keys PREFIX: keys under killed-$$/PREFIX
    curl -fsS "$AWS_ENDPOINT_URL/$HB_TEST_S3_BUCKET?list-type=2&prefix=killed-$$/$1" 2>/dev/null |
      grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'
  }
  s3_put_reached() {  # s3_put_reached PID WANT
    gone "$1" && return 0
    local k held=0
    for k in $(s3_keys locks/put-); do
      curl -fsS "$AWS_ENDPOINT_URL/$HB_TEST_S3_BUCKET/$k" 2>/dev/null | grep -qx "pid $1" && held=1
    done
    [ "$held" = 1 ] && [ "$(s3_keys packs/ | wc -l)" -ge "$2" ]
  }
  s3_killed=0
  for i in $(seq 1 "$KILLS"); do
    have=$(s3_keys packs/ | wc -l)
    want=$((have + RANDOM % (REF_PACKS > have ? REF_PACKS - have : 1)))
    "$HB" --store "$S3K" put "$WORK/in/v1" --name v1 "${PUTOPTS[@]}" >/dev/null 2>&1 &
    pid=$!
    wait_for "S3 put $i to hold its lock with $want packs stored" 600 s3_put_reached "$pid" "$want"
    if kill -9 "$pid" 2>/dev/null; then s3_killed=$((s3_killed + 1)); fi
    wait "$pid" 2>/dev/null
  done
  check "S3: put was killed mid-way $s3_killed times" test "$s3_killed" -gt 0
  "$HB" --store "$S3K" put "$WORK/in/v1" --name v1 "${PUTOPTS[@]}" >/dev/null
  "$HB" --store "$S3K" get v1 "$WORK/s3.out" --force
  check "S3: byte-identical get after kill -9 and rerun" cmp -s "$WORK/in/v1" "$WORK/s3.out"
  check "S3: verify after kill -9 and rerun" "$HB" --store "$S3K" verify
  gcj=$("$HB" --store "$S3K" gc --grace 0 --json)
  check "S3: gc after kill -9 runs" test $? -eq 0 -a -n "$gcj"
  echo "  S3 gc: $(echo "$gcj" | json_get packs_deleted) packs, $(echo "$gcj" | json_get uploads_aborted) uploads aborted"
  "$HB" --store "$S3K" get v1 "$WORK/s3.out" --force
  check "S3: v1 intact after gc" cmp -s "$WORK/in/v1" "$WORK/s3.out"
else
  echo "skip: S3 parts (scripts/s3rver.sh start failed: $(tail -1 "$WORK/s3rver.err"))"
fi

finish
