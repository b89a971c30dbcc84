#!/usr/bin/env bash
# The Python bindings (python/): pytest against the module the build made in
# build/python, with Debian's interpreter (which python3-pybind11 and
# python3-pytest are for). Skipped when the build has no bindings.
source "$(dirname "$0")/lib.sh"
BUILD=$(dirname "$HB")
PY=/usr/bin/python3
if [ ! -d "$BUILD/python/hugeblob" ] || ! $PY -c "import pytest" 2>/dev/null; then
  echo "skip: no Python bindings in $BUILD (python3-pybind11, python3-pytest)"
  exit 77
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
if PYTHONPATH="$BUILD/python" $PY -m pytest -q -p no:cacheprovider "$SRC/python/tests" \
    > "$WORK/pytest.log" 2>&1; then
  pass "pytest: $(tail -1 "$WORK/pytest.log")"
else
  cat "$WORK/pytest.log"
  fail "pytest"
fi
finish
