#!/usr/bin/env bash
# File metadata (issue 15): put records mode and mtime, and on request the
# owner (--owner) and extended attributes (--xattrs); get restores them
# (owner and xattrs on request, as far as permitted: a user without
# CAP_CHOWN gets a warning and the bytes); --no-metadata skips all; stat
# and stat --json show them; such manifests are format version 3, the
# others stay version 2; a store of an older release (no such fields)
# still reads. Runs as root (the tests do); the user xattr part is skipped,
# saying so, where the file system has none.
source "$(dirname "$0")/lib.sh"
DATA=$(cd "$(dirname "$0")/data" && pwd)
S=$WORK/s
unset HUGEBLOB_STORE

# xattrs from Python (no attr package needed): set, get, list.
setx() { python3 -c 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]))' "$@"; }
getx() { python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], sys.argv[2]).hex())' "$@"; }
listx() { python3 -c 'import os,sys; print(" ".join(sorted(os.listxattr(sys.argv[1]))))' "$1"; }
# The manifest format version of NAME's newest version (envelope bytes 4-7).
manifest_version() {
  local id
  id=$("$HB" --store "$S" --json stat "$1" | json_get manifest)
  od -An -tu4 -j4 -N4 "$S/manifests/$id" | tr -d ' '
}

head -c 300000 /dev/urandom >"$WORK/f"
chmod 0640 "$WORK/f"
touch -d '2021-03-04 05:06:07.123456789 UTC' "$WORK/f"
chown 1234:5678 "$WORK/f"
XATTRS=1
if ! setx "$WORK/f" user.probe 00 2>/dev/null; then
  XATTRS=0
  echo "SKIP (xattr part): the file system of $WORK does not support user extended attributes"
else
  python3 -c 'import os,sys; os.removexattr(sys.argv[1], "user.probe")' "$WORK/f"
  setx "$WORK/f" user.comment "$(printf 'hello world' | od -An -tx1 | tr -d ' \n')"
  setx "$WORK/f" user.bin 00ff0a80
  setx "$WORK/f" user.empty ""
fi
# Setting xattrs changes only ctime; the mtime stays as touched.
MTIME=$(stat -c %Y "$WORK/f")

# --- default: mode and mtime only ----------------------------------------------
check "put (default)" "$HB" --store "$S" put "$WORK/f" --name plain -q
check "a put without --owner/--xattrs writes a version 2 manifest" test "$(manifest_version plain)" = 2
st=$("$HB" --store "$S" --json stat plain)
check "stat --json: mode 0640" test "$(json_get mode <<<"$st")" = 416
check "stat --json: no owner recorded" test "$(json_get uid <<<"$st")" = None
check "stat --json: no xattrs recorded" test "$(json_get xattrs <<<"$st")" = None
check "get (default)" "$HB" --store "$S" get plain "$WORK/g1" -q
check "get restores mode and mtime" test "$(stat -c '%a %Y' "$WORK/g1")" = "640 $MTIME"
check "get restores mtime to the nanosecond" test "$(stat -c %y "$WORK/g1")" = "$(stat -c %y "$WORK/f")"
check "get (default) leaves the owner to the restoring user" test "$(stat -c %u:%g "$WORK/g1")" = "$(id -u):$(id -g)"
if [ $XATTRS = 1 ]; then
  check "get (default) sets no xattrs" test -z "$(listx "$WORK/g1")"
fi
check "bytes restored" cmp "$WORK/f" "$WORK/g1"

# --- put --owner --xattrs ----------------------------------------------------
check "put --owner --xattrs" "$HB" --store "$S" put "$WORK/f" --name full --owner --xattrs -q
check "it writes a version 3 manifest" test "$(manifest_version full)" = 3
st=$("$HB" --store "$S" --json stat full)
check "stat --json: uid" test "$(json_get uid <<<"$st")" = 1234
check "stat --json: gid" test "$(json_get gid <<<"$st")" = 5678
human=$("$HB" --store "$S" stat full)
check "stat shows the owner" grep -q '^owner: *1234:5678' <<<"$human"
if [ $XATTRS = 1 ]; then
  check "stat --json: xattrs by name, base64 values, sizes" python3 -c '
import base64, json, sys
x = json.loads(sys.argv[1])["xattrs"]
assert [a["name"] for a in x] == ["user.bin", "user.comment", "user.empty"], x
v = {a["name"]: base64.b64decode(a["value_base64"]) for a in x}
assert v == {"user.bin": b"\0\xff\n\x80", "user.comment": b"hello world", "user.empty": b""}, v
assert [a["size"] for a in x] == [4, 11, 0], x' "$st"
  check "stat shows text xattrs as text" grep -q 'user.comment = "hello world"' <<<"$human"
  check "stat shows binary xattrs as base64" grep -q 'user.bin = 4 bytes, base64 AP8KgA==' <<<"$human"
fi

check "get --owner --xattrs" "$HB" --store "$S" get full "$WORK/g2" --owner --xattrs -q
check "owner, mode, mtime restored" test "$(stat -c '%u:%g %a %Y' "$WORK/g2")" = "1234:5678 640 $MTIME"
if [ $XATTRS = 1 ]; then
  check "xattrs restored" test "$(listx "$WORK/g2")" = "user.bin user.comment user.empty"
  check "binary xattr value restored" test "$(getx "$WORK/g2" user.bin)" = 00ff0a80
  check "text xattr value restored" test "$(getx "$WORK/g2" user.comment)" = "$(printf 'hello world' | od -An -tx1 | tr -d ' \n')"
fi
check "bytes restored (--owner --xattrs)" cmp "$WORK/f" "$WORK/g2"
out=$("$HB" --store "$S" --json get full "$WORK/g3" --owner --xattrs)
check "get --json: owner_restored" test "$(json_get owner_restored <<<"$out")" = True
if [ $XATTRS = 1 ]; then
  check "get --json: xattrs_restored" test "$(json_get xattrs_restored <<<"$out")" = 3
fi
check "get --json: no warnings" test "$(json_get metadata_warnings <<<"$out")" = "[]"
if [ $XATTRS = 1 ]; then
  # In place over a file with attributes of its own: the version's are set,
  # a user.* one it lacks is removed, as a fresh restore would leave it.
  "$HB" --store "$S" get full "$WORK/inplace" -q
  setx "$WORK/inplace" user.stale 01
  setx "$WORK/inplace" user.comment 02
  out=$("$HB" --store "$S" --json get full "$WORK/inplace" --in-place --xattrs)
  check "get --in-place --xattrs: the version's attributes, no others" \
    test "$(listx "$WORK/inplace")" = "user.bin user.comment user.empty"
  check "... with the version's values" test "$(getx "$WORK/inplace" user.comment)" = "$(printf 'hello world' | od -An -tx1 | tr -d ' \n')"
  check "get --json: xattrs_removed" test "$(json_get xattrs_removed <<<"$out")" = 1
  check "... bytes unchanged" cmp "$WORK/f" "$WORK/inplace"
fi
check "get without --owner: restoring user's" bash -c "'$HB' --store '$S' get full '$WORK/g4' -q && test \"\$(stat -c %u '$WORK/g4')\" = $(id -u)"
if [ $XATTRS = 1 ]; then
  check "get without --xattrs sets none" test -z "$(listx "$WORK/g4")"
fi
check "--no-metadata: restored file has the umask's mode and a new mtime" bash -c "
  '$HB' --store '$S' get full '$WORK/g5' --no-metadata -q &&
  test \"\$(stat -c %Y '$WORK/g5')\" != $MTIME && test \"\$(stat -c %u '$WORK/g5')\" = $(id -u)"
expect_error "--no-metadata with --owner is a usage error" "cannot be combined with --owner" \
  "$HB" --store "$S" get full "$WORK/g6" --no-metadata --owner
check "... with exit status 2" bash -c "'$HB' --store '$S' get full '$WORK/g6' --no-metadata --xattrs 2>/dev/null; test \$? = 2"
expect_error "put - --owner is a usage error" "standard input" "$HB" --store "$S" put - --name s --owner </dev/null
check "... with exit status 2" bash -c "'$HB' --store '$S' put - --name s --xattrs </dev/null 2>/dev/null; test \$? = 2"
expect_error "get --owner to standard output is a usage error" "not standard output" \
  "$HB" --store "$S" get full - --owner

# --- without privilege: a warning, and the bytes -----------------------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod a+x "$WORK"  # mktemp -d made it 0700
  U=$WORK/user
  mkdir "$U" && chown nobody:nogroup "$U"
  chmod -R a+rX "$S"
  asuser() { setpriv --reuid=nobody --regid=nogroup --clear-groups env XDG_CACHE_HOME="$U/cache" "$@"; }
  err=$(asuser "$HB" --store "$S" get full "$U/g" --owner --xattrs -q 2>&1)
  check "get --owner as a user succeeds (exit 0)" test $? = 0
  check "... warns that the owner needs root" grep -q "owner 1234:5678 not restored: changing the owner needs root" <<<"$err"
  check "... the bytes are restored" cmp "$WORK/f" "$U/g"
  check "... the file is the user's, mode and mtime restored" test "$(stat -c '%U %a %Y' "$U/g")" = "nobody 640 $MTIME"
  if [ $XATTRS = 1 ]; then
    check "... user xattrs restored by the user" test "$(listx "$U/g")" = "user.bin user.comment user.empty"
  fi
  out=$(asuser "$HB" --store "$S" --json get full "$U/g2" --owner 2>/dev/null)
  check "get --json as a user: owner_restored false, a warning" python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["owner_restored"] is False and any("needs root" in w for w in o["metadata_warnings"]), o' "$out"
else
  echo "SKIP (unprivileged part): needs root and setpriv"
fi

# A trusted.* attribute (root only) is recorded and restored by root.
if [ $XATTRS = 1 ] && [ "$(id -u)" = 0 ] && setx "$WORK/f" trusted.hb 7a 2>/dev/null; then
  touch -d "@$MTIME" "$WORK/f"
  check "put --xattrs with a trusted.* attribute (root)" "$HB" --store "$S" put "$WORK/f" --name trusted --xattrs -q
  check "get --xattrs restores it (root)" bash -c "'$HB' --store '$S' get trusted '$WORK/t' --xattrs -q && test \"\$(python3 -c 'import os; print(os.getxattr(\"$WORK/t\", \"trusted.hb\").hex())')\" = 7a"
fi

# --- names put without them, and an older release's store ---------------------
err=$("$HB" --store "$S" get plain "$WORK/g7" --owner --xattrs -q 2>&1)
check "get --owner of a version put without it: exit 0" test $? = 0
check "... says no owner was recorded" grep -q "no owner recorded" <<<"$err"
check "... says no xattrs were recorded" grep -q "no extended attributes recorded" <<<"$err"
OLD=$WORK/old
cp -r "$DATA/store-v1" "$OLD"
st=$("$HB" --store "$OLD" --json stat dir/a)
check "old store: stat has no owner and no xattrs" test "$(json_get uid <<<"$st") $(json_get xattrs <<<"$st")" = "None None"
err=$("$HB" --store "$OLD" get dir/a "$WORK/old-a" --owner --xattrs -q 2>&1)
check "old store: get --owner --xattrs exit 0, with a note" bash -c "test $? = 0 && grep -q 'no owner recorded' <<<'$err'"
check "old store: bytes restored" bash -c "echo \"\$(grep ' dir/a$' '$DATA/store-v1.sha256' | cut -d' ' -f1)  $WORK/old-a\" | sha256sum -c --quiet"
check "old store verifies" "$HB" --store "$OLD" verify -q

# Versions keep their own metadata; copy carries owner and xattrs.
check "copy carries owner and xattrs" bash -c "
  '$HB' copy '$S' '$WORK/dst' full -q &&
  '$HB' --store '$WORK/dst' --json stat full | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"uid\"] == 1234 and d[\"gid\"] == 5678 and d[\"xattrs\"] is not None, d'"
# A file large enough for a segmented manifest (thousands of 256-byte
# chunks) keeps them too: they live in the manifest, not in the segments.
head -c 2000000 /dev/urandom >"$WORK/big"
chown 4321:8765 "$WORK/big"
[ $XATTRS = 1 ] && setx "$WORK/big" user.seg 01
check "put --owner --xattrs of a segmented file" \
  "$HB" --store "$S" put "$WORK/big" --name big --chunk-size 256 --owner --xattrs -q
check "its frame table is in segments" test "$(count_objects "$S" segments)" -gt 0
check "get --owner --xattrs of the segmented file" "$HB" --store "$S" get big "$WORK/big.out" --owner --xattrs -q
check "... owner restored" test "$(stat -c %u:%g "$WORK/big.out")" = 4321:8765
[ $XATTRS = 1 ] && check "... xattr restored" test "$(getx "$WORK/big.out" user.seg)" = 01
check "... bytes restored" cmp "$WORK/big" "$WORK/big.out"
check "verify passes with version 3 manifests" "$HB" --store "$S" verify -q
finish
