#!/usr/bin/env bash
# Finding one's way: --version, help [COMMAND], "did you mean" for commands
# and options, examples in --help, the generated bash and zsh completions
# (they load, and bash completes commands, options and names), man pages;
# ls patterns, sorting and sizes; progress in a pseudo-terminal at 40 and
# 200 columns, --progress json, and the one-line summary off a terminal.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(dirname "$HB")
unset HUGEBLOB_STORE
S=$WORK/store

# --- --version, help, suggestions -----------------------------------------------
v=$("$HB" --version)
check "--version exits 0" test $? = 0
check "--version names the release" grep -Eq '^hugeblob [0-9]+\.[0-9]+\.[0-9]+$' <<<"$(head -1 <<<"$v")"
check "--version names the formats" grep -q "manifest 2" <<<"$v"
check "--version names the codecs" grep -Eq "zstd [0-9.]+, lz4 [0-9.]+" <<<"$v"
check "--version names the hashes" grep -q "blake3 .*sha256" <<<"$v"
check "help lists every command" bash -c "'$HB' help | grep -q versions && '$HB' help | grep -q forget"
check "help put shows put's options" bash -c "'$HB' help put | grep -q -- '--chunk-size'"
check "help put shows its usage line" bash -c "'$HB' help put | grep -q 'Usage: hugeblob put'"
for c in put get cat ls stat verify rm init mount gc copy versions forget; do
  check "$c --help has examples" bash -c "'$HB' $c --help | grep -q '^Examples:'"
done
check "get --help states the 16M memory cache get uses" bash -c "'$HB' get --help | grep -q 'Memory cache of decoded chunks (default 16M)'"
expect_error "help of an unknown command suggests" "did you mean 'stat'" "$HB" help stt
expect_error "an unknown command suggests" "did you mean 'ls'" "$HB" lss
expect_error "an unknown option suggests" "unknown option '--forec' for 'get' \(did you mean '--force'\?\)" \
  "$HB" get --forec a b
expect_error "an unknown global option suggests" "did you mean '--store'" "$HB" --stor x ls
"$HB" get --forec a b >/dev/null 2>&1
check "an unknown option is a usage error (2)" test $? = 2

# --- completions and man pages ------------------------------------------------------
GEN=$BIN/generated
if [ ! -f "$GEN/hugeblob.bash" ]; then  # a build without the docs target: generate here
  GEN=$WORK/gen
  mkdir -p "$GEN/man"
  "$HB" __generate bash >"$GEN/hugeblob.bash"
  "$HB" __generate zsh >"$GEN/_hugeblob"
  "$HB" __generate man "$GEN/man"
fi
mkdir -p "$WORK/bin"
ln -s "$HB" "$WORK/bin/hugeblob"
head -c 1000 /dev/urandom >"$WORK/small"
"$HB" --store "$S" put "$WORK/small" --name vm.img -q
"$HB" --store "$S" put "$WORK/small" --name "my file" -q
complete_bash() {  # complete_bash WORD...: what bash offers for the last word
  PATH="$WORK/bin:$PATH" bash -c '
    source /usr/share/bash-completion/bash_completion 2>/dev/null
    source "$1" || exit 1
    shift
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
    _hugeblob
    printf "%s|" "${COMPREPLY[@]}"' _ "$GEN/hugeblob.bash" "$@"
}
check "the bash completion loads without errors" bash -c "source '$GEN/hugeblob.bash' 2>'$WORK/bc.err' && complete -p hugeblob >/dev/null && test ! -s '$WORK/bc.err'"
check "bash completes commands" test "$(complete_bash hugeblob veri)" = "verify|"
check "bash completes options" test "$(complete_bash hugeblob get --fo)" = "--force|"
check "bash completes names from the store" test "$(complete_bash hugeblob --store "$S" get v)" = "vm.img|"
check "bash completes names with spaces" test "$(complete_bash hugeblob --store "$S" get m)" = "my file|"
if command -v zsh >/dev/null; then
  check "the zsh completion parses" zsh -n "$GEN/_hugeblob"
  out=$(zsh -f -c "fpath=('$GEN' \$fpath); autoload -Uz compinit; compinit -u -d '$WORK/zcompdump';
    print -r -- \$_comps[hugeblob]; autoload -Uz +X _hugeblob && whence -w _hugeblob" 2>&1)
  check "zsh registers and loads it without errors ($out)" test "$out" = $'_hugeblob\n_hugeblob: function'
else
  fail "zsh is not installed (scripts/install-deps.sh installs it)"
fi
check "a man page per command" bash -c "for c in put get forget versions; do test -s '$GEN/man/hugeblob-'\$c.1 || exit 1; done; test -s '$GEN/man/hugeblob.1'"
if command -v groff >/dev/null; then
  check "man pages render without warnings" bash -c "groff -man -Tutf8 -ww -z '$GEN/man/hugeblob-forget.1' 2>&1 | grep -q . && exit 1; exit 0"
fi

# --- ls: patterns, sorting, sizes, JSON fields --------------------------------------
head -c 3000 /dev/urandom >"$WORK/b3"
head -c 2000 /dev/urandom >"$WORK/b2"
"$HB" --store "$S" put "$WORK/b3" --name vm/big -q
"$HB" --store "$S" put "$WORK/b2" --name vm/mid -q
"$HB" --store "$S" put "$WORK/b2" --name vm/mid -q
names() { "$HB" --store "$S" --json ls "$@" | python3 -c 'import json,sys; print(",".join(b["name"] for b in json.load(sys.stdin)))'; }
check "ls PREFIX" test "$(names vm/)" = "vm/big,vm/mid"
check "ls GLOB ('*' stops at '/')" test "$(names '*.img')" = "vm.img"
check "ls two patterns" test "$(names 'vm/b*' 'my*')" = "my file,vm/big"
check "ls --sort size (largest first)" test "$(names vm/ --sort size)" = "vm/big,vm/mid"
check "ls --sort size -r" test "$(names vm/ --sort size -r)" = "vm/mid,vm/big"
check "ls --json fields" bash -c "'$HB' --store '$S' --json ls vm/mid | python3 -c '
import json, sys
b = json.load(sys.stdin)[0]
assert set(b) == {\"name\", \"size\", \"created\", \"created_unix\", \"manifest\", \"added_bytes\", \"shared_bytes\", \"versions\"}, b
assert b[\"versions\"] == 2 and b[\"size\"] == 2000'"
check "ls off a terminal prints exact bytes" bash -c "'$HB' --store '$S' ls vm/big | grep -Eq '^ +3000  '"
check "ls -l shows the versions" bash -c "'$HB' --store '$S' ls -l vm/mid | grep -Eq '^ +2 +2000 '"
expect_error "ls --sort bogus" "expected name, time or size" "$HB" --store "$S" ls --sort bogus
expect_error "ls on no store creates none" "no store at" "$HB" --store "$WORK/none/deep" ls
check "and the directory was not made" test ! -e "$WORK/none"

# --- progress ------------------------------------------------------------------------
head -c 3000000 /dev/urandom | base64 -w 0 | head -c 4000000 >"$WORK/p4"
long="models/$(printf 'x%.0s' $(seq 90))/weights.bin"
# zstd -19 on text (base64; random bytes would be stored raw at once): slow
# enough for a few redraws; the checks hold for however many there are.
check "progress at 40 columns fits and is cleared" python3 "$ROOT/tests/progress_pty.py" 40 "put mode,...,%" -- \
  "$HB" --store "$WORK/p40" put "$WORK/p4" --name "$long" --level 19 --threads 1
check "progress at 200 columns shows name, percent, rate and ETA" python3 "$ROOT/tests/progress_pty.py" 200 "$long,%,/s,ETA" -- \
  "$HB" --store "$WORK/p200" put "$WORK/p4" --name "$long" --level 19 --threads 1
check "ls on a terminal shows human sizes" bash -c "python3 -c '
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], \"--store\", sys.argv[2], \"ls\", \"vm/big\"])
out = b\"\"
while True:
    try:
        c = os.read(fd, 4096)
    except OSError:
        break
    if not c:
        break
    out += c
sys.exit(0 if b\"2.9 KiB\" in out else 1)' '$HB' '$S'"
"$HB" --store "$WORK/pj" --progress json put "$WORK/p4" --name pj --level 19 --threads 1 \
  >"$WORK/pj.out" 2>"$WORK/pj.err"
check "--progress json: JSON lines on stderr" python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines and all(l["progress"] == "put" and l["name"] == "pj" for l in lines), lines
assert lines[-1].get("finished") is True and lines[-1]["done"] == 4000000, lines[-1]
assert all(l["total"] == 4000000 for l in lines[:-1])
assert all({"rate", "eta_seconds", "elapsed_seconds", "unit"} <= set(l) for l in lines[:-1])' "$WORK/pj.err"
"$HB" --store "$WORK/off" put "$WORK/small" --name off >"$WORK/off.out" 2>"$WORK/off.err"
check "off a terminal: nothing on stdout" test ! -s "$WORK/off.out"
check "off a terminal: one summary line on stderr" test "$(grep -c '^off: .* chunks' "$WORK/off.err")" = 1 -a "$(wc -l <"$WORK/off.err")" = 1
check "off a terminal: no progress redraws" bash -c "! grep -q $'\r' '$WORK/off.err'"
"$HB" --store "$WORK/off" put "$WORK/small" --name off2 -q >"$WORK/q.out" 2>"$WORK/q.err"
check "-q: no summary" test ! -s "$WORK/q.err" -a ! -s "$WORK/q.out"
"$HB" --store "$WORK/off" verify >"$WORK/v.out" 2>"$WORK/v.err"
check "verify's summary off a terminal" grep -q "^verified .* 0 problems" "$WORK/v.err"

# verify, gc and copy show progress too: on a terminal (fitted, cleared) and
# as JSON lines. The pj store holds the 4 MB put above (several packs).
check "verify's progress at 40 columns fits and is cleared" python3 "$ROOT/tests/progress_pty.py" 40 "verify" -- \
  "$HB" --store "$WORK/pj" verify --threads 1
check "copy's progress at 200 columns shows the name and percent" python3 "$ROOT/tests/progress_pty.py" 200 "copy,%" -- \
  "$HB" copy "$WORK/pj" "$WORK/pj-copy" --threads 1
jsonl() {  # jsonl OP FILE: every line is JSON progress of OP, the last one finished
  python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[2])]
assert lines, "no lines"
assert all(l["progress"] == sys.argv[1] for l in lines), lines
assert lines[-1].get("finished") is True, lines[-1]' "$@"
}
"$HB" --store "$WORK/pj" --progress json verify >/dev/null 2>"$WORK/vj.err"
check "verify --progress json: JSON lines" jsonl verify "$WORK/vj.err"
"$HB" --progress json copy "$WORK/pj" "$WORK/pj-copy2" >/dev/null 2>"$WORK/cj.err"
check "copy --progress json: JSON lines" jsonl copy "$WORK/cj.err"
"$HB" --store "$WORK/pj-copy2" rm pj -q
"$HB" --store "$WORK/pj-copy2" --progress json gc --grace 0s >/dev/null 2>"$WORK/gj.err"
check "gc --progress json: JSON lines" jsonl gc "$WORK/gj.err"

# --- stores are made on purpose ----------------------------------------------------
check "init makes a store" "$HB" --store "$WORK/made" init -q
expect_error "init refuses an existing store" "already exists" "$HB" --store "$WORK/made" init
for c in "get a $WORK/x" "cat a" "stat a" "verify" "rm a" "gc" "versions a" "forget --keep-last 1" "diff a b" "mount $WORK"; do
  "$HB" --store "$WORK/nostore" $c >/dev/null 2>&1
  check "'$c' on no store fails (1) and creates none" test $? = 1 -a ! -e "$WORK/nostore"
done
check "copy from no store creates neither" bash -c "! '$HB' copy '$WORK/nostore' '$WORK/nodst' 2>/dev/null && test ! -e '$WORK/nostore' -a ! -e '$WORK/nodst'"
"$HB" --store "$WORK/made" put "$WORK/small" --name v -q
"$HB" --store "$WORK/made" put "$WORK/p4" --name v -q
"$HB" copy "$WORK/made" "$WORK/made-copy" v@1 -q
check "copy NAME@N makes the destination and copies that one version" \
  test "$("$HB" --store "$WORK/made-copy" --json versions v | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), d[0]["size"])')" = "1 $(stat -c %s "$WORK/small")"

finish
