#!/usr/bin/env bash
# clang-tidy (the checks in .clang-tidy) on the C++ files changed since a
# base commit; any warning fails. CI runs it in its release stage
# (scripts/test.sh), so the checks hold for everything that changes, without
# paying about 4 s of CPU per file for the whole tree on every run.
#
#   scripts/tidy.sh                       # files changed since HB_TIDY_BASE
#   HB_TIDY_BASE=origin/main scripts/tidy.sh   # a branch: what it changes
#   scripts/tidy.sh src/repo/packs.cc     # these files
#   HB_TIDY_BASE=all scripts/tidy.sh      # every file (a few minutes)
#   HB_TIDY_TESTS=1 scripts/tidy.sh       # test sources too (CI leaves them out)
#
# The base, unless HB_TIDY_BASE names one: the commit in .ci/tidy-base, the
# last one CI checked (a session writes the landed HEAD there when it starts;
# docs/ci.md). A clean clone of main has no other base to compare with. If
# that commit is not in the history (a shallow clone), the last commit's
# files. A changed header is checked through one source that includes it. The compile commands come from a configure-only tree
# (build-tidy: no unity sources, nothing compiled).
set -euo pipefail
cd "$(dirname "$0")/.."
TIDY=${CLANG_TIDY:-$(command -v clang-tidy-14 || command -v clang-tidy || true)}
if [ -z "$TIDY" ]; then
  echo "tidy: clang-tidy not found (apt-get install clang-tidy-14)" >&2
  exit 1
fi
BUILD_DIR=${HB_TIDY_BUILD_DIR:-build-tidy}

# The C++ sources of the project (not third party, not generated).
is_ours() { [[ "$1" =~ ^(src|include|python|examples|bench|fuzz|tests)/.*\.(cc|h)$ ]]; }

files=()
if [ $# -gt 0 ]; then
  files=("$@")
else
  base=${HB_TIDY_BASE:-}
  if [ "$base" = all ]; then
    mapfile -t changed < <(git ls-files 'src/*.cc' 'src/*.h' 'include/*.h' 'python/*.cc' 'examples/*.cc')
  else
    if [ -z "$base" ] && [ -f .ci/tidy-base ]; then
      base=$(tr -d '[:space:]' <.ci/tidy-base)
      git merge-base --is-ancestor "$base" HEAD 2>/dev/null || base=""
    fi
    if [ -z "$base" ]; then
      base=$(git rev-parse -q --verify HEAD~1 || git hash-object -t tree /dev/null)
    fi
    echo "tidy: files changed since $(git log -1 --format='%h (%ci)' "$base" 2>/dev/null || echo "$base")" >&2
    mapfile -t changed < <(git diff --name-only --diff-filter=AMR "$base" HEAD --)
  fi
  declare -A seen=()
  for f in "${changed[@]}"; do
    is_ours "$f" || continue
    [ -f "$f" ] || continue
    # The product's code only, unless HB_TIDY_TESTS=1: a test source costs
    # twice the CPU of a product one (gtest), and CI time is the budget.
    if [ "${HB_TIDY_TESTS:-0}" != 1 ] && [[ "$f" == *_test.cc || "$f" == *test_util.h || "$f" == src/testing/* ]]; then
      continue
    fi
    if [[ "$f" == *.h ]]; then
      # A header is checked through one source that includes it: its own
      # .cc when there is one, else the first that includes it directly
      # (clang-tidy reports a header's warnings from any of them).
      if [ -f "${f%.h}.cc" ]; then
        seen[${f%.h}.cc]=1
        continue
      fi
      inc=${f#src/}
      inc=${inc#include/}
      user=$(git grep -l -F "#include \"$inc\"" -- 'src/*.cc' 'python/*.cc' 'examples/*.cc' |
        grep -v -E '_test\.cc$|^src/testing/' | head -1 || true)
      [ -n "$user" ] && seen[$user]=1
    elif [[ "$f" == src/* || "$f" == python/* || "$f" == examples/* ]]; then
      seen[$f]=1
    fi
  done
  files=("${!seen[@]}")
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "tidy: no C++ source changed" >&2
  exit 0
fi

if [ ! -f "$BUILD_DIR/compile_commands.json" ] || [ CMakeLists.txt -nt "$BUILD_DIR/compile_commands.json" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHB_UNITY_BUILD=OFF \
    -DHB_BUILD_TESTS=ON -DHB_BUILD_BENCH=OFF -DHB_SANITIZE= >/dev/null
fi

echo "tidy: ${#files[@]} files, $(nproc) at a time" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Warnings are errors here (.clang-tidy keeps them warnings for editors).
printf '%s\n' "${files[@]}" | sort |
  xargs -P "$(nproc)" -n 1 "$TIDY" -p "$BUILD_DIR" --quiet --warnings-as-errors='*' >"$log" 2>&1 ||
  status=$?
# clang-tidy counts the (suppressed) warnings of system headers on stderr.
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Use -system-headers' "$log" || true
if [ "${status:-0}" != 0 ]; then
  echo "tidy: FAILED: clang-tidy reported the problems above (.clang-tidy lists the checks)" >&2
  exit 1
fi
echo "tidy: ${#files[@]} files clean" >&2
