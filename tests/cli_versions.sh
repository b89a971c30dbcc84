#!/usr/bin/env bash
# Versions of a name: put x3, list, get each by number and by manifest id,
# rm one; forget's rules on a synthetic timeline (times injected with
# HB_TEST_CREATED_UNIX, a test-only hook) and gc reclaiming exactly the
# data of the forgotten versions; two concurrent puts to one name both kept;
# a store of the previous release (refs/NAME) read as the oldest version;
# the name-vs-folder rule, checked before anything is uploaded, on a local
# store and on S3 when scripts/s3rver.sh can start one; copy of versions.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$ROOT/tests/data
unset HUGEBLOB_STORE

S=$WORK/store
rnd() { head -c "$2" /dev/urandom >"$1"; }
packs() { find "$1/packs" -type f -printf '%f\n' 2>/dev/null | sort; }
pyjson() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# --- put x3, list, get by number and by id, rm one ---------------------------
for i in 1 2 3; do
  rnd "$WORK/f$i" $((200000 + i * 1000))
  HB_TEST_CREATED_UNIX=$((1700000000 + i * 3600)) "$HB" --store "$S" put "$WORK/f$i" --name vm -q ||
    fail "put $i"
done
vj=$("$HB" --store "$S" --json versions vm)
check "versions lists 3" test "$(pyjson 'len(d)' <<<"$vj")" = 3
check "numbered 1..3, oldest first" test "$(pyjson '",".join(str(v["version"])+":"+str(v["created_unix"]) for v in d)' <<<"$vj")" = \
  "1:1700003600,2:1700007200,3:1700010800"
for i in 1 2 3; do
  "$HB" --store "$S" get "vm@$i" "$WORK/o$i" -q
  check "get vm@$i restores version $i" cmp -s "$WORK/f$i" "$WORK/o$i"
  id=$(pyjson "d[$((i - 1))]['manifest'][:10]" <<<"$vj")
  "$HB" --store "$S" get "vm@$id" "$WORK/i$i" -q
  check "get vm@<manifest prefix> restores version $i" cmp -s "$WORK/f$i" "$WORK/i$i"
done
"$HB" --store "$S" get vm "$WORK/newest" -q
check "the name alone is the newest" cmp -s "$WORK/f3" "$WORK/newest"
check "cat vm@1 is version 1" bash -c "'$HB' --store '$S' cat vm@1 | cmp -s - '$WORK/f1'"
check "stat vm@2 says version 2 of 3" bash -c "'$HB' --store '$S' --json stat vm@2 | grep -q '\"version\":2,\"versions\":3'"
check "verify vm@1" "$HB" --store "$S" verify vm@1 -q
expect_error "vm@4 does not exist" "has 3 versions" "$HB" --store "$S" get vm@4 "$WORK/x"
expect_error "vm@0 is no version" "has 3 versions" "$HB" --store "$S" cat vm@0
expect_error "a short id prefix is refused" "at least 4 hex digits" "$HB" --store "$S" cat vm@ab
expect_error "an unknown id" "no version of 'vm' has a manifest id starting with" "$HB" --store "$S" cat vm@ffffffffff
"$HB" --store "$S" rm vm@2 -q
vj=$("$HB" --store "$S" --json versions vm)
check "rm vm@2 leaves 2 versions" test "$(pyjson 'len(d)' <<<"$vj")" = 2
"$HB" --store "$S" get vm@2 "$WORK/after" -q
check "the old version 3 is now vm@2" cmp -s "$WORK/f3" "$WORK/after"
check "ls -l shows 2 versions" bash -c "'$HB' --store '$S' ls -l | grep -Eq '^ +2 .* vm$'"
"$HB" --store "$S" rm vm -q
expect_error "rm vm removes every version" "no file named 'vm'" "$HB" --store "$S" versions vm
check "no version object left" test -z "$(find "$S" -path '*/names/*' -type f)"

# --- two concurrent puts to one name keep both ---------------------------------
C=$WORK/concurrent
"$HB" --store "$C" init -q
rnd "$WORK/c1" 3000000
rnd "$WORK/c2" 3000000
"$HB" --store "$C" put "$WORK/c1" --name same -q &
p1=$!
"$HB" --store "$C" put "$WORK/c2" --name same -q &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "both concurrent puts succeed ($r1, $r2)" test "$r1" = 0 -a "$r2" = 0
check "the name has 2 versions" test "$("$HB" --store "$C" --json versions same | pyjson 'len(d)')" = 2
"$HB" --store "$C" get same@1 "$WORK/s1" -q
"$HB" --store "$C" get same@2 "$WORK/s2" -q
check "the two versions are the two files" bash -c "
  { cmp -s '$WORK/s1' '$WORK/c1' && cmp -s '$WORK/s2' '$WORK/c2'; } ||
  { cmp -s '$WORK/s1' '$WORK/c2' && cmp -s '$WORK/s2' '$WORK/c1'; }"

# --- forget on a synthetic timeline, then gc -------------------------------------
# 12 versions of t, each with its own data, at these times (UTC):
#  1 2023-01-10 12:00   5 2023-03-20 09:00   9  2023-04-02 18:00
#  2 2023-02-01 08:00   6 2023-03-27 09:00   10 2023-04-03 09:00
#  3 2023-02-20 08:00   7 2023-04-01 09:00   11 2023-04-03 12:00
#  4 2023-03-01 10:00   8 2023-04-02 09:00   12 2023-04-03 20:00
F=$WORK/forget
times=(1673352000 1675238400 1676880000 1677664800 1679302800 1679907600
  1680339600 1680426000 1680458400 1680512400 1680523200 1680552000)
declare -A packs_of
for i in "${!times[@]}"; do
  n=$((i + 1))
  rnd "$WORK/t$n" 150000
  before=$(packs "$F")
  HB_TEST_CREATED_UNIX=${times[$i]} "$HB" --store "$F" put "$WORK/t$n" --name t -q
  packs_of[$n]=$(comm -13 <(echo "$before") <(packs "$F") | tr '\n' ' ')
done
plan() {  # plan OPTIONS...: "kept numbers|removed numbers" of a dry run
  "$HB" --store "$F" --json forget t --dry-run "$@" | python3 -c '
import json, sys
d = json.load(sys.stdin)
k = [str(v["version"]) for v in d["versions"] if v["action"] == "keep"]
r = [str(v["version"]) for v in d["versions"] if v["action"] == "remove"]
print(",".join(k) + "|" + ",".join(r))'
}
# keep-last 3: the 3 newest.
check "--keep-last 3" test "$(plan --keep-last 3)" = "10,11,12|1,2,3,4,5,6,7,8,9"
# keep-daily 3: newest of 04-03 (12), 04-02 (9), 04-01 (7).
check "--keep-daily 3" test "$(plan --keep-daily 3)" = "7,9,12|1,2,3,4,5,6,8,10,11"
# keep-weekly 2 (ISO weeks): week of 04-03 (Mon) -> 12; week 03-27..04-02 -> 9.
check "--keep-weekly 2" test "$(plan --keep-weekly 2)" = "9,12|1,2,3,4,5,6,7,8,10,11"
# keep-monthly 3: April (12), March (6), February (3).
check "--keep-monthly 3" test "$(plan --keep-monthly 3)" = "3,6,12|1,2,4,5,7,8,9,10,11"
# keep-monthly 6: only 4 months have versions: the oldest is kept too.
check "--keep-monthly 6 keeps the oldest too" test "$(plan --keep-monthly 6)" = "1,3,6,12|2,4,5,7,8,9,10,11"
# keep-within 1d of the newest (04-03 20:00): after 04-02 20:00.
check "--keep-within 1d (of the newest, not of now)" test "$(plan --keep-within 1d)" = "10,11,12|1,2,3,4,5,6,7,8,9"
check "--keep-within 1m" test "$(plan --keep-within 1m)" = "5,6,7,8,9,10,11,12|1,2,3,4"
# Rules combine: kept by any.
check "--keep-last 1 --keep-monthly 2" test "$(plan --keep-last 1 --keep-monthly 2)" = "6,12|1,2,3,4,5,7,8,9,10,11"
reasons=$("$HB" --store "$F" --json forget t --dry-run --keep-last 1 --keep-daily 2 |
  pyjson '[v["reasons"] for v in d["versions"] if v["version"] == 12][0]')
check "--json says why a version is kept ($reasons)" test "$reasons" = "['last', 'daily']"
check "a dry run removes nothing" test "$("$HB" --store "$F" --json versions t | pyjson 'len(d)')" = 12
expect_error "forget without a policy is refused" "needs a policy" "$HB" --store "$F" forget t
expect_error "a bad duration is refused" "unknown unit" "$HB" --store "$F" forget t --keep-within 3w

"$HB" --store "$F" forget t --keep-daily 3 --keep-monthly 3 -q
kept_plan="3,6,7,9,12"
check "forget kept 5 versions" test "$("$HB" --store "$F" --json versions t | pyjson 'len(d)')" = 5
gcj=$("$HB" --store "$F" --json gc --grace 0s)
want=$(for n in ${kept_plan//,/ }; do echo ${packs_of[$n]}; done | tr ' ' '\n' | grep . | sort)
check "gc left exactly the packs of the kept versions" test "$(packs "$F")" = "$want"
check "gc deleted the 7 forgotten versions' packs" test "$(json_get packs_deleted <<<"$gcj")" -ge 7
k=1
for n in ${kept_plan//,/ }; do
  "$HB" --store "$F" get "t@$k" "$WORK/kept" -q --force
  check "kept version t@$k is the original $n" cmp -s "$WORK/t$n" "$WORK/kept"
  k=$((k + 1))
done
check "verify after forget and gc" "$HB" --store "$F" verify -q

# --- the mount shows older versions under NAME@versions/ ------------------------
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null && command -v mountpoint >/dev/null; then
  M=$WORK/mnt
  mkdir -p "$M"
  "$HB" --store "$F" mount "$M" -f 2>"$WORK/mount.log" &
  mpid=$!
  cleanup_hooks+=("fusermount3 -u '$M' 2>/dev/null; kill $mpid 2>/dev/null")
  if wait_for "the mount" 60 mountpoint -q "$M"; then
    check "the mount shows t as the newest version" cmp -s "$M/t" "$WORK/t12"
    check "and every version under t@versions/" test "$(ls "$M/t@versions" | sort -n | tr '\n' ' ')" = "1 2 3 4 5 "
    check "t@versions/1 is the oldest kept (the original 3)" cmp -s "$M/t@versions/1" "$WORK/t3"
    check "t@versions/4 is the original 9" cmp -s "$M/t@versions/4" "$WORK/t9"
    fusermount3 -u "$M"
    wait_for "the mount to end" 60 gone "$mpid"
  fi
else
  echo "skip: no FUSE here"
fi

# --- a store of the previous release --------------------------------------------
OLD=$WORK/old
cp -r "$DATA/store-v1" "$OLD"
old_b=$(grep ' b$' "$DATA/store-v1.sha256" | cut -d' ' -f1)
rnd "$WORK/newb" 100000
"$HB" --store "$OLD" put "$WORK/newb" --name b -q
check "the old ref is version 1 of 2" test "$("$HB" --store "$OLD" --json versions b | pyjson 'len(d)')" = 2
check "b@1 is the old file" bash -c "'$HB' --store '$OLD' get b@1 - | sha256sum | grep -q '^$old_b '"
check "b is the new one" bash -c "'$HB' --store '$OLD' get b - | cmp -s - '$WORK/newb'"
"$HB" --store "$OLD" gc --grace 0s -q
check "gc kept the old ref's data" bash -c "'$HB' --store '$OLD' get b@1 - | sha256sum | grep -q '^$old_b '"
OC=$WORK/oldcopy
"$HB" copy "$OLD" "$OC" -q
check "copy carries both versions" test "$("$HB" --store "$OC" --json versions b | pyjson 'len(d)')" = 2
check "copied b@1 is the old file" bash -c "'$HB' --store '$OC' get b@1 - | sha256sum | grep -q '^$old_b '"
cj=$("$HB" --json copy "$OLD" "$OC")
check "copying again skips every version" test "$(json_get versions_present <<<"$cj")" = 3 -a "$(json_get bytes_read <<<"$cj")" = 0
"$HB" --store "$OLD" rm b@1 -q
check "rm b@1 removes the old ref" test ! -e "$OLD/refs/b"
check "b keeps its new version" bash -c "'$HB' --store '$OLD' get b - | cmp -s - '$WORK/newb'"

# --- a name cannot be a file and a folder --------------------------------------
placement_rule() {  # placement_rule STORE_URL COUNT_PACKS_CMD...
  local st=$1
  shift
  rnd "$WORK/p" 500000
  "$HB" --store "$st" put "$WORK/p" --name a -q
  "$HB" --store "$st" put "$WORK/p" --name x/y -q
  local before after
  before=$("$@")
  expect_error "put a/b when a is a file ($st)" "'a' is a file" "$HB" --store "$st" put "$WORK/p" --name a/b/c
  expect_error "put x when x/ is a folder ($st)" "it is a folder .*'x/y'" "$HB" --store "$st" put "$WORK/p" --name x
  rnd "$WORK/p2" 500000
  expect_error "refused before uploading new data ($st)" "'a' is a file" "$HB" --store "$st" put "$WORK/p2" --name a/new
  after=$("$@")
  check "nothing was uploaded ($before -> $after objects) ($st)" test "$before" = "$after"
  expect_error "a name with '@' is refused ($st)" "not allowed in a name" "$HB" --store "$st" put "$WORK/p" --name a@b
  check "ls shows only a and x/y ($st)" test "$("$HB" --store "$st" --json ls | pyjson '",".join(b["name"] for b in d)')" = "a,x/y"
}
P=$WORK/placement
placement_rule "$P" bash -c "find '$P' -type f | wc -l"
# The rule is the same on S3 (it holds no directories to stop a put there).
S3STATE=$WORK/s3rver
if ENV_LINES=$("$ROOT/scripts/s3rver.sh" start "$S3STATE" 2>"$WORK/s3rver.err"); then
  eval "$ENV_LINES"
  cleanup_hooks+=("'$ROOT/scripts/s3rver.sh' stop '$S3STATE' >/dev/null 2>&1")
  S3="s3://$HB_TEST_S3_BUCKET/placement-$$"
  s3_count() {
    curl -fsS "$AWS_ENDPOINT_URL/$HB_TEST_S3_BUCKET?list-type=2&prefix=placement-$$/" |
      grep -o '<Key>' | wc -l
  }
  placement_rule "$S3" s3_count
  "$HB" copy "$S3" "$WORK/froms3" -q
  check "copy S3 -> local keeps the names" test "$("$HB" --store "$WORK/froms3" --json ls | pyjson '",".join(b["name"] for b in d)')" = "a,x/y"
else
  echo "skip: S3 part (scripts/s3rver.sh start failed: $(tail -1 "$WORK/s3rver.err"))"
fi

finish
