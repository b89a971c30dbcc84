#!/usr/bin/env bash
# The installed package, as a program outside this tree sees it: installs
# the build into a temporary prefix, checks that the public headers stand
# alone, compiles the examples (C++ and C) against the installed package
# through pkg-config and through CMake's find_package, runs them on a store
# made by the installed CLI, and installs the Python bindings with pip (no
# package registry: Debian's setuptools and pybind11) into a virtual
# environment and reads through them.
#
#   scripts/install_check.sh build/hugeblob     (ctest -L install runs it)
#
# Reuses the release build: the library is not compiled again. What it
# compiles: two small examples twice, and the Python module once.
source "$(dirname "$0")/../tests/lib.sh"
BUILD=$(dirname "$HB")
SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=$WORK/prefix
CXX=${CXX:-c++}
CC=${CC:-cc}

if ! cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" 2>&1; then
  cat "$WORK/install.log"
  fail "cmake --install"
  finish
fi
pass "cmake --install into a temporary prefix"
LIBDIR=$(dirname "$(find "$PREFIX" -name libhugeblob.a | head -1)")
check "installed: library, CLI, headers, pkg-config file, CMake package" \
  test -f "$LIBDIR/libhugeblob.a" -a -x "$PREFIX/bin/hugeblob" \
  -a -f "$PREFIX/include/hugeblob/hugeblob.h" -a -f "$PREFIX/include/hugeblob/hugeblob_c.h" \
  -a -f "$LIBDIR/pkgconfig/hugeblob.pc" -a -f "$LIBDIR/cmake/hugeblob/hugeblobConfig.cmake"
check "installed: completions (bash, zsh) and man pages" \
  test -f "$PREFIX/share/bash-completion/completions/hugeblob" \
  -a -f "$PREFIX/share/zsh/vendor-completions/_hugeblob" -a -f "$PREFIX/share/man/man1/hugeblob.1"
# BLAKE3 is folded into the one archive.
check "libhugeblob.a holds BLAKE3" bash -c "nm '$LIBDIR/libhugeblob.a' 2>/dev/null | grep -q ' T blake3_hasher_init'"
check "nothing from src/ installed" bash -c "! find '$PREFIX/include' -name '*.h' | xargs grep -lE '#include \"(util|format|reader|ops|store|writer|codec|hash|chunking|fuse|cli|repo|api)/' | grep -q ."

# Every public header compiles alone (no include order, nothing from src/).
for h in "$PREFIX"/include/hugeblob/*.h; do
  name=$(basename "$h")
  if [ "$name" = hugeblob_c.h ]; then
    check "$name alone, as C" bash -c "echo '#include <hugeblob/$name>' | $CC -std=c11 -Wall -Werror -fsyntax-only -I'$PREFIX/include' -x c -"
  fi
  check "$name alone, as C++" bash -c "echo '#include <hugeblob/$name>' | $CXX -std=c++20 -Wall -Werror -fsyntax-only -I'$PREFIX/include' -x c++ -"
done

# A store with one file, made by the installed CLI: in blocks of 4 KiB, so
# that its block table is stored in segments, which readers load as they go
# (and must not log about on standard output, where the examples write data).
head -c 5000000 /dev/urandom >"$WORK/in.bin"
head -c 1000000 /dev/zero >>"$WORK/in.bin"
echo "the end of the file" >>"$WORK/in.bin"
STORE=$WORK/store
check "installed CLI: put" "$PREFIX/bin/hugeblob" -q --store "$STORE" put "$WORK/in.bin" \
  --name some/file --chunker fixed --chunk-size 4K
SIZE=$(stat -c %s "$WORK/in.bin")
OFF=2999000
LEN=100000
dd if="$WORK/in.bin" of="$WORK/want" bs=1 skip=$OFF count=$LEN status=none 2>/dev/null ||
  tail -c +$((OFF + 1)) "$WORK/in.bin" | head -c $LEN >"$WORK/want"
tail -c 30 "$WORK/in.bin" >"$WORK/want_tail"

runs() {  # runs LABEL BINARY: the example reads a range and the end of the file
  local label=$1 bin=$2
  check "$label: a range" bash -c "'$bin' '$STORE' some/file $OFF $LEN | cmp - '$WORK/want'"
  check "$label: the last bytes, cut at the end" bash -c "'$bin' '$STORE' some/file $((SIZE - 30)) 1000 | cmp - '$WORK/want_tail'"
  expect_error "$label: a missing name" "no file named 'nope'" "$bin" "$STORE" nope 0 10
}

# Through pkg-config (static: --static brings what the library links).
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
if $CXX -std=c++20 -O1 "$SRC/examples/read_range.cc" -o "$WORK/rr_pc" \
    $(pkg-config --cflags hugeblob) $(pkg-config --static --libs hugeblob) 2>"$WORK/pc.log"; then
  pass "pkg-config: C++ example compiles and links"
  runs "pkg-config C++" "$WORK/rr_pc"
else
  cat "$WORK/pc.log"
  fail "pkg-config: C++ example compiles and links"
fi
if $CC -std=c11 -O1 "$SRC/examples/read_range.c" -o "$WORK/rr_c_pc" \
    $(pkg-config --cflags hugeblob) $(pkg-config --static --libs hugeblob) 2>"$WORK/pcc.log"; then
  pass "pkg-config: C example compiles (as C) and links"
  runs "pkg-config C" "$WORK/rr_c_pc"
else
  cat "$WORK/pcc.log"
  fail "pkg-config: C example compiles (as C) and links"
fi

# Through find_package(hugeblob), as examples/CMakeLists.txt does alone.
if cmake -S "$SRC/examples" -B "$WORK/ex" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$PREFIX" >"$WORK/ex.log" 2>&1 &&
    cmake --build "$WORK/ex" >>"$WORK/ex.log" 2>&1; then
  pass "find_package: examples configure, compile and link"
  runs "find_package C++" "$WORK/ex/read_range"
  runs "find_package C" "$WORK/ex/read_range_c"
else
  cat "$WORK/ex.log"
  fail "find_package: examples configure, compile and link"
fi

# Python: pip with Debian's setuptools and pybind11, no registry, against
# the installed library (pkg-config above), in a venv that sees Debian's
# packages.
PY=/usr/bin/python3
if ! $PY -c "import pybind11, setuptools, venv, pip" 2>/dev/null; then
  echo "skip python: needs python3-pybind11, python3-setuptools, python3-venv, python3-pip"
else
  # pip builds in place: build from a copy, so the source tree stays clean.
  # At -O1 without debug info (appended to Python's -O3 -g, the last wins):
  # this checks that the package installs and reads, not its speed, and
  # compiles in 10 s of CPU instead of 15.
  cp -r "$SRC/python" "$WORK/python"
  rm -rf "$WORK/python/build" "$WORK/python"/*.egg-info
  if $PY -m venv --system-site-packages "$WORK/venv" >"$WORK/pip.log" 2>&1 &&
      CFLAGS="${CFLAGS:-} -O1 -g0" PIP_NO_INDEX=1 "$WORK/venv/bin/pip" install -q --no-build-isolation "$WORK/python" \
        >>"$WORK/pip.log" 2>&1; then
    pass "pip install --no-build-isolation ./python"
    check "python: reads the installed module, not the build tree's" bash -c \
      "cd '$WORK' && '$WORK/venv/bin/python' -c 'import hugeblob,sys; sys.exit(0 if \"$WORK/venv\" in hugeblob.__file__ else 1)'"
    check "python: a range through the installed bindings" bash -c \
      "cd '$WORK' && '$WORK/venv/bin/python' -c 'import hugeblob,sys; f=hugeblob.Store(sys.argv[1]).open(\"some/file\"); sys.stdout.buffer.write(f.pread($OFF, $LEN))' '$STORE' | cmp - '$WORK/want'"
  else
    cat "$WORK/pip.log"
    fail "pip install --no-build-isolation ./python"
  fi
fi
finish
