#!/usr/bin/env bash
# ctest layer_check: scripts/check_layers.py passes the real tree and fails,
# naming the file and the include, on a copy with planted violations.
# Usage: check_layers_test.sh PYTHON3 BUILD/layers.txt
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=$1 GRAPH=$2
WORK=$(mktemp -d /tmp/hb-layers.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$PY" "$ROOT/scripts/check_layers.py" "$GRAPH" "$ROOT" || fail "the real tree does not pass"

cp -r "$ROOT/src" "$ROOT/include" "$WORK/"
"$PY" "$ROOT/scripts/check_layers.py" "$GRAPH" "$WORK" || fail "an unchanged copy does not pass"
# util (the bottom layer) reaching up into ops; the reader (product) using a
# test double; a new folder nobody placed in the graph.
echo '#include "ops/load.h"' >>"$WORK/src/util/fs.cc"
echo '#include "testing/wrapper_store.h"' >>"$WORK/src/reader/fetcher.cc"
# ops decoding a pack trailer itself instead of through the repository layer.
echo '#include "format/pack_codec.h"' >>"$WORK/src/ops/admin.cc"
mkdir "$WORK/src/newlayer" && echo '#include "util/fs.h"' >"$WORK/src/newlayer/x.cc"
out=$("$PY" "$ROOT/scripts/check_layers.py" "$GRAPH" "$WORK" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 1 ] || fail "exit status $rc on planted violations, expected 1"
grep -q 'src/util/fs.cc:[0-9]*: #include "ops/load.h": layer util may not include layer ops' <<<"$out" ||
  fail "the upward include is not named"
grep -q 'src/reader/fetcher.cc:[0-9]*: #include "testing/wrapper_store.h": testing is test-only' <<<"$out" ||
  fail "the product including a test double is not named"
grep -q 'src/ops/admin.cc:[0-9]*: #include "format/pack_codec.h": layer ops may not include layer format_codec' <<<"$out" ||
  fail "ops including the format's codec is not named"
grep -q 'src/newlayer/x.cc: belongs to no layer' <<<"$out" || fail "a file outside every layer is not named"
[ $fails -eq 0 ] && echo "layer_check: all passed"
[ $fails -eq 0 ]
