#!/usr/bin/env bash
# docs/cli.md stays in sync with the program: its reference section is what
# `hugeblob __generate markdown` prints from the definitions --help uses, and
# every field the JSON of ls, versions, stat, forget, put, rm, verify and gc
# prints is documented in its table.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DOC=$ROOT/docs/cli.md
unset HUGEBLOB_STORE

sed -n '/^<!-- BEGIN GENERATED REFERENCE/,/^<!-- END GENERATED REFERENCE -->/p' "$DOC" >"$WORK/doc.md"
"$HB" __generate markdown >"$WORK/gen.md"
if diff -u "$WORK/doc.md" "$WORK/gen.md" >"$WORK/diff"; then
  pass "docs/cli.md's reference matches --help"
else
  cat "$WORK/diff" >&2
  fail "docs/cli.md's reference differs from --help (regenerate: hugeblob __generate markdown)"
fi
for c in $("$HB" help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF {print $1}'); do
  check "docs/cli.md documents '$c'" grep -q "^### $c\$" "$DOC"
done

# Every JSON field a command prints is in its row of the JSON table.
S=$WORK/s
head -c 5000 /dev/urandom >"$WORK/f"
"$HB" --store "$S" put "$WORK/f" --name a -q
fields() {  # fields JSON: the keys of the first object found, recursively
  python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
keys = set()
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            keys.add(k)
            walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
walk(d)
print(" ".join(sorted(keys)))'
}
documented() {  # documented COMMAND KEY...
  local cmd=$1 row k missing=""
  shift
  row=$(grep "^| \`$cmd\` |" "$DOC")
  for k in "$@"; do grep -q "\`$k\`" <<<"$row" || missing+=" $k"; done
  if [ -z "$missing" ]; then pass "JSON of $cmd documented"; else fail "JSON of $cmd: undocumented fields:$missing"; fi
}
documented put $("$HB" --store "$S" --json put "$WORK/f" --name a | fields)
documented ls $("$HB" --store "$S" --json ls | fields)
documented versions $("$HB" --store "$S" --json versions a | fields)
documented stat $("$HB" --store "$S" --json stat a | fields)
# With owner and an extended attribute (where the file system has them): the
# fields inside stat's xattrs array are documented too.
python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.doc", b"x")' "$WORK/f" 2>/dev/null || true
"$HB" --store "$S" put "$WORK/f" --name meta --owner --xattrs -q
documented stat $("$HB" --store "$S" --json stat meta | fields)
documented forget $("$HB" --store "$S" --json forget a --keep-last 1 --dry-run | fields)
documented verify $("$HB" --store "$S" --json verify | fields)
documented gc $("$HB" --store "$S" --json gc --dry-run | fields)
"$HB" --store "$S" put "$WORK/f" --name b -q
documented diff $("$HB" --store "$S" --json diff a b | fields)
documented get $("$HB" --store "$S" --json get a "$WORK/got" | fields)
documented rm $("$HB" --store "$S" --json rm a@1 | fields)
finish
