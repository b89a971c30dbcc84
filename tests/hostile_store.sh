#!/usr/bin/env bash
# Hostile stores (issue 14): no command creates a store it only reads, hangs
# on a FIFO planted in a store, follows a symlink out of it, lets one damaged
# ref block the others, prints a name raw, or allocates what a tiny object
# claims; exit codes are 2 for usage, 3 for damage found by verify, 1 else.
source "$(dirname "$0")/lib.sh"
unset HUGEBLOB_STORE
S=$WORK/store
T=60  # bound on any single command: reaching it means a hang

# --- No accidental stores ---------------------------------------------------
NS=$WORK/no/such/store
for cmd in "ls" "stat x" "get x $WORK/x.out" "cat x" "verify" "verify x" "rm x" "gc"; do
  # shellcheck disable=SC2086
  expect_error "$cmd on a missing store" "no store at" timeout $T "$HB" --store "$NS" $cmd
done
timeout $T "$HB" --store "$NS" ls >/dev/null 2>&1
check "read-only commands exit 1 on a missing store" test $? -eq 1
check "no directory was created" test ! -e "$WORK/no"
mkdir "$WORK/empty"
expect_error "ls on an empty directory" "no store at" "$HB" --store "$WORK/empty" ls
check "no config written into it" test ! -e "$WORK/empty/config"
check "init creates a store" "$HB" --store "$WORK/new" init -q
check "init wrote a config" test -f "$WORK/new/config"
expect_error "init of an existing store" "already exists" "$HB" --store "$WORK/new" init
check "ls on the new store" "$HB" --store "$WORK/new" ls

# --- A store with two files ---------------------------------------------------
head -c $((2 << 20)) /dev/urandom >"$WORK/a"
head -c $((1 << 20)) /dev/urandom >"$WORK/b"
"$HB" --store "$S" put "$WORK/a" --name a -q && "$HB" --store "$S" put "$WORK/b" --name b -q ||
  { echo "put failed"; exit 1; }
check "verify of the clean store" "$HB" --store "$S" verify -q

# --- Damaged refs do not block the store -------------------------------------
# A version's ref object (names/NAME/.v/STAMP, docs/format.md), the newest.
ref_of() { find "$S/names/$1/.v" -type f | sort | tail -1; }
# Damaged refs where the previous release kept them (refs/NAME) and where
# versions live.
mkdir -p "$S/refs" "$S/names/broken3/.v"
printf 'garbage\n' >"$S/refs/broken"
printf 'garbage\n' >"$S/names/broken3/.v/1700000000000000000-00000000"
cp "$(ref_of a)" "$S/refs/evil"$'\n'"forged 99 2000-01-01T00:00:00Z  fake"
"$HB" --store "$S" ls >"$WORK/ls.out" 2>"$WORK/ls.err"
check "ls with a broken ref exits 1" test $? -eq 1
check "ls lists the good names" grep -q ' a$' "$WORK/ls.out"
check "ls reports the broken ref" grep -q "broken" "$WORK/ls.err"
check "ls never prints a forged line" bash -c "! grep -q '^forged' '$WORK/ls.out' '$WORK/ls.err'"
check "the odd name is escaped" grep -q 'evil\\nforged' "$WORK/ls.err"
expect_error "gc refuses with a broken ref" "prune-broken" "$HB" --store "$S" gc --grace 0s
"$HB" --store "$S" gc --dry-run --prune-broken >"$WORK/gc.out" 2>&1
check "gc --dry-run --prune-broken lists the broken ref" grep -q "would remove broken ref refs/broken" "$WORK/gc.out"
check "gc --dry-run --prune-broken lists the broken version" grep -q "would remove broken ref names/broken3/.v/" "$WORK/gc.out"
check "rm removes a broken ref" "$HB" --store "$S" rm broken
check "rm removes a broken version" "$HB" --store "$S" rm broken3
check "rm removes a ref whose name the CLI refuses" "$HB" --store "$S" rm "evil"$'\n'"forged 99 2000-01-01T00:00:00Z  fake"
check "ls is clean again" "$HB" --store "$S" ls -q >/dev/null
mkdir -p "$S/refs"
printf 'garbage\n' >"$S/refs/broken2"
check "gc --prune-broken removes it and runs" "$HB" --store "$S" -q gc --prune-broken --grace 0s
check "the broken ref is gone" test ! -e "$S/refs/broken2"
check "the good names still restore" "$HB" --store "$S" get a "$WORK/a.out"
check "a restored" cmp -s "$WORK/a" "$WORK/a.out"

# --- A ref whose size disagrees with its manifest ------------------------------
refb=$(ref_of b)
cp "$refb" "$WORK/ref.b"
sed -i 's/^size .*/size 12345/' "$refb"
expect_error "get: ref size mismatch" "the ref says" "$HB" --store "$S" get b "$WORK/b.out"
expect_error "cat: ref size mismatch" "the ref says" "$HB" --store "$S" cat b
timeout $T "$HB" --store "$S" verify b >/dev/null 2>"$WORK/v.err"
check "verify NAME: ref size mismatch is damage (3)" test $? -eq 3
check "verify names the mismatch" grep -q "the ref says" "$WORK/v.err"
cp "$WORK/ref.b" "$refb"

# --- A tiny unreferenced pack claiming a 4 GiB frame ---------------------------
python3 - "$S" "$WORK/hugepack" <<'PY'
import hashlib, os, struct, sys
store, out = sys.argv[1], sys.argv[2]
frames = b"z" * 10
entry = hashlib.sha256(b"x").digest() + struct.pack("<QIIB", 0, 10, 0xFFFFFFFF, 1)
head = entry + struct.pack("<QII", len(entry) + 32, 1, 0)
trailer = head + hashlib.sha256(head).digest()[:8] + struct.pack("<I", 1) + b"HBPK"
pid = hashlib.sha256(trailer).hexdigest()
os.makedirs(f"{store}/packs/{pid[:2]}", exist_ok=True)
open(f"{store}/packs/{pid[:2]}/{pid}", "wb").write(frames + trailer)
open(out, "w").write(pid)
PY
python3 - "$HB" "$S" >"$WORK/rss" <<'PY'
import resource, subprocess, sys
p = subprocess.run([sys.argv[1], "--store", sys.argv[2], "verify"], capture_output=True, timeout=120)
rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
print(p.returncode, rss_mib, p.stderr.decode(errors="replace").replace("\n", " | "))
PY
read -r code rss rest <"$WORK/rss"
check "verify with a 4 GiB frame claim exits 3 ($code)" test "$code" = 3
check "verify peak RSS within 256 MiB ($rss MiB)" test "$rss" -lt 256
check "verify names the impossible frame" grep -q "larger than a frame can be" "$WORK/rss"
hp=$(cat "$WORK/hugepack")
[ -n "$hp" ] && rm -f "$S/packs/${hp:0:2}/$hp"

# --- A pack replaced by a FIFO: errors, never a hang ---------------------------
pack=$(find "$S/packs" -type f | head -n1)
[ -n "$pack" ] || { fail "no pack in the store"; finish; }
mv "$pack" "$WORK/saved.pack"
mkfifo "$pack"
timeout $T "$HB" --store "$S" verify >/dev/null 2>"$WORK/fifo.err"
code=$?
check "verify with a FIFO pack finishes with 3 ($code)" test "$code" = 3
check "verify says FIFO" grep -q "FIFO" "$WORK/fifo.err"
for name in a b; do
  timeout $T "$HB" --store "$S" cat "$name" >/dev/null 2>&1
  code=$?
  [ "$code" != 124 ] && pass "cat $name with a FIFO pack does not hang" || fail "cat $name hung"
  timeout $T "$HB" --store "$S" get "$name" "$WORK/$name.fifo.out" >/dev/null 2>&1
  code=$?
  [ "$code" != 124 ] && pass "get $name with a FIFO pack does not hang" || fail "get $name hung"
done
rm -f "$pack"
mv "$WORK/saved.pack" "$pack"

# --- Symlinks inside the store are never followed out of it --------------------
mkdir -p "$WORK/outside"
echo "not yours" >"$WORK/outside/victim"
touch -d '2 days ago' "$WORK/outside/put.1.abc.tmp"
for d in refs names; do
  [ -e "$S/$d" ] && mv "$S/$d" "$WORK/$d.saved"
  ln -s "$WORK/outside" "$S/$d"
  expect_error "rm through a symlinked $d/" "symbolic link" "$HB" --store "$S" rm victim
  check "the file outside survives rm ($d/)" test -f "$WORK/outside/victim"
  expect_error "get through a symlinked $d/" "symbolic link" "$HB" --store "$S" get victim "$WORK/v.out"
  rm "$S/$d"
  [ -e "$WORK/$d.saved" ] && mv "$WORK/$d.saved" "$S/$d"
done
rm -rf "$S/tmp"
ln -s "$WORK/outside" "$S/tmp"
"$HB" --store "$S" gc --grace 0s >/dev/null 2>&1
check "gc does not delete temp-shaped files through a symlinked tmp/" test -f "$WORK/outside/put.1.abc.tmp"
rm "$S/tmp"

# --- A mountpoint that is already mounted is refused (no stacked mounts) ------
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null && command -v mountpoint >/dev/null; then
  mkdir -p "$WORK/mnt1"
  "$HB" --store "$S" mount "$WORK/mnt1" -f 2>"$WORK/mount1.log" &
  mpid=$!
  cleanup_hooks+=("fusermount3 -u '$WORK/mnt1' 2>/dev/null; kill $mpid 2>/dev/null")
  if wait_for "the first mount" 60 mountpoint -q "$WORK/mnt1"; then
    expect_error "a second mount on the same mountpoint" "already a mount point" \
      timeout $T "$HB" --store "$S" mount "$WORK/mnt1" -f
    fusermount3 -u "$WORK/mnt1"
    wait_for "the first mount to end" 60 gone "$mpid"
  fi
else
  echo "skip: no FUSE here"
fi

# --- Exit codes, validation, JSON errors --------------------------------------
usage() {  # usage "description" args...: must exit 2
  local what=$1; shift
  "$HB" --store "$S" "$@" >/dev/null 2>&1
  local code=$?
  if [ "$code" = 2 ]; then pass "$what: exit 2"; else fail "$what: exit $code, expected 2"; fi
}
usage "--chunk-size 0" put "$WORK/a" --name x --chunk-size 0
usage "--level -5" put "$WORK/a" --name x --level -5
usage "--memory 1K" put "$WORK/a" --name x --memory 1K
usage "--name ''" put "$WORK/a" --name ''
usage "--threads 256" put "$WORK/a" --name x --threads 256
usage "--repack-threshold nan" gc --repack-threshold nan
usage "mount --refresh -1" mount "$WORK/mnt" --refresh -1
usage "invalid name" get ../x "$WORK/x"
usage "unknown command" lss
expect_error "unknown command suggests" "did you mean 'ls'" "$HB" --store "$S" lss
check "no ref named x was written" test ! -e "$S/refs/x"
"$HB" --store "$S" --json stat nosuch 2>"$WORK/json.err" >/dev/null
check "--json error is a JSON object on stderr" python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["error"]
assert "no file named" in e["message"] and e["code"] == "not found"' "$WORK/json.err"
if [ "$(id -u)" != 0 ]; then
  chmod 000 "$pack"
  "$HB" --store "$S" verify >/dev/null 2>&1
  code=$?
  check "verify: unreadable pack is a failure to check (1), not damage ($code)" test "$code" = 1
  chmod 644 "$pack"
fi

finish
