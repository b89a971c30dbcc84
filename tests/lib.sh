# Shared helpers for the end-to-end test scripts (sourced, not run).
# Usage in a test: source "$(dirname "$0")/lib.sh"; HB is the CLI path ($1).
set -uo pipefail
HB=${1:?usage: $0 path/to/hugeblob}
HB=$(readlink -f "$HB")
QUICK=${HB_QUICK:-0}
WORK=$(mktemp -d /tmp/hb-test.XXXXXX)
export XDG_CACHE_HOME=$WORK/cache
FAILS=0
PASSES=0
cleanup_hooks=()
cleanup() {
  for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

pass() { PASSES=$((PASSES + 1)); echo "ok: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }
check() {  # check "description" command...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# Runs a command that must fail; its stderr must match a regex.
expect_error() {  # expect_error "description" regex command...
  local what=$1 re=$2; shift 2
  local err
  if err=$("$@" 2>&1 >/dev/null); then fail "$what: succeeded but should fail"; return; fi
  if [[ "$err" =~ $re ]]; then pass "$what"; else fail "$what: error was: $err"; fi
}
# Waiting. A test waits for a state (a file appears, a log line, a lock
# object in the store), never for a guessed time: a machine loaded by other
# builds, or a sanitizer build, is many times slower than the one the time
# was guessed on. The deadline only bounds a hang; reaching it is a failure.
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
poll_until() {  # poll_until SECONDS command...: 0 once the command succeeds, 1 at the deadline
  local secs=$1; shift
  local deadline=$(($(now_us) + secs * 1000000))
  while :; do
    "$@" && return 0
    [ "$(now_us)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}
wait_for() {  # wait_for "what" SECONDS command...: poll_until, a FAIL naming what on timeout
  local what=$1 secs=$2; shift 2
  poll_until "$secs" "$@" && return 0
  fail "timed out after ${secs}s waiting for $what"
  return 1
}
gone() { ! kill -0 "$1" 2>/dev/null; }  # gone PID: the process has exited
# lock_held STORE_DIR PID: a local store holds a lock object written by PID.
lock_held() { grep -qsx "pid $2" "$1"/locks/*; }
json_get() {  # json_get KEY < json
  python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
count_objects() {  # count_objects STORE_DIR PREFIX
  if [ -d "$1/$2" ]; then find "$1/$2" -type f | wc -l; else echo 0; fi
}
finish() {
  echo "$PASSES passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
  exit $?
}
