#!/usr/bin/env python3
"""Checks every #include "..." under src/ and include/ against the layer graph.

Every header lives under src/ (one include path), so linking layers PRIVATE
cannot stop a file from including a header of a layer it may not use; this
check does, at build time (CMakeLists.txt runs it before compiling anything,
and again whenever a source or header changes). docs/layers.md has the graph.

Usage: check_layers.py GRAPH ROOT [STAMP]
GRAPH is the table CMakeLists.txt writes from its layer definitions:
  layer NAME DEP...        NAME may include its own files and those of DEP...
  tests NAME DEP...        what NAME's tests may include besides (on top of
                           NAME, its DEPs and the test-only layer "testing")
  path PREFIX NAME         files whose path (relative to ROOT) starts with
                           PREFIX belong to NAME; the longest prefix wins
  testonly NAME            NAME is test-only: no product file may include it
Exits 1 naming each offending file, line and include; writes STAMP on success.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def load_graph(path):
    deps, test_deps, prefixes, test_only = {}, {}, [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            kind, rest = words[0], words[1:]
            if kind == "layer" and rest:
                deps[rest[0]] = set(rest[1:])
            elif kind == "tests" and rest:
                test_deps[rest[0]] = set(rest[1:])
            elif kind == "path" and len(rest) == 2:
                prefixes.append((rest[0], rest[1]))
            elif kind == "testonly" and len(rest) == 1:
                test_only.add(rest[0])
            else:
                sys.exit(f"{path}:{n}: cannot parse: {line.rstrip()}")
    prefixes.sort(key=lambda p: len(p[0]), reverse=True)
    for _, layer in prefixes:
        if layer not in deps:
            sys.exit(f"{path}: path maps to unknown layer {layer}")
    return deps, test_deps, prefixes, test_only


def layer_of(rel, prefixes):
    for prefix, layer in prefixes:
        if rel.startswith(prefix):
            return layer
    return None


def is_test_file(rel):
    base = os.path.basename(rel)
    return base.endswith("_test.cc") or base.endswith("test_util.h")


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    deps, test_deps, prefixes, test_only = load_graph(argv[1])
    root = argv[2]
    errors = []
    files = []
    for top in ("src", "include"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in names:
                if name.endswith((".cc", ".h", ".c", ".hpp")):
                    full = os.path.join(dirpath, name)
                    files.append(os.path.relpath(full, root).replace(os.sep, "/"))
    for rel in sorted(files):
        own = layer_of(rel, prefixes)
        if own is None:
            errors.append(f"{rel}: belongs to no layer (add its folder to the layer table in CMakeLists.txt)")
            continue
        test = is_test_file(rel) or own in test_only
        allowed = {own} | deps[own]
        if test:
            allowed |= test_only | test_deps.get(own, set())
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                target = None
                for top in ("src", "include"):
                    if os.path.exists(os.path.join(root, top, inc)):
                        target = f"{top}/{inc}"
                        break
                if target is None:
                    continue  # beside the file, or third party
                to = layer_of(target, prefixes)
                if to is None or to in allowed:
                    continue
                if to in test_only:
                    why = f"{to} is test-only: the product may not include it"
                else:
                    why = (f"layer {own} may not include layer {to} "
                           f"({own} may use: {' '.join(sorted(deps[own])) or 'nothing'})")
                errors.append(f'{rel}:{n}: #include "{inc}": {why}')
    if errors:
        print("layer check failed (docs/layers.md):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    if len(argv) == 4:
        with open(argv[3], "w", encoding="utf-8") as f:
            f.write(f"{len(files)} files checked\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
