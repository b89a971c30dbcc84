#!/usr/bin/env bash
# Ctrl-C or SIGTERM during a multipart upload leaves no upload behind
# (docs/s3.md, "Uploads"). s3rver can neither abort nor list multipart
# uploads, so the recording proxy (tests/s3_fault_proxy.py) answers
# AbortMultipartUpload itself, as S3 does, and logs every upload's create,
# complete and abort; after the signal every created upload must have been
# completed or aborted. The signal is sent once the proxy has seen a part
# upload (a state, not a guessed time); the proxy delays each request so the
# upload is still running then.
# A second run without the proxy's abort (s3rver answers 405) checks that the
# warning then blames the server's refusal, and only then.
# Usage: bash tests/s3_interrupt.sh path/to/hugeblob   (exit 77: skipped)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="${1:-}"
skip() { echo "SKIP: $*"; exit 77; }
command -v node >/dev/null || skip "node is not installed"
[[ -x "$ROOT/node_modules/.bin/s3rver" ]] || command -v npm >/dev/null || skip "s3rver is not installed"
command -v curl >/dev/null || skip "curl is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
[[ -x "$CLI" ]] || skip "the CLI is not built"

WORK="$(mktemp -d /tmp/hb-s3-int.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  "$ROOT/scripts/s3rver.sh" stop "$WORK/s3rver" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
FAILS=0
pass() { echo "ok: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }

ENV_LINES="$("$ROOT/scripts/s3rver.sh" start "$WORK/s3rver")" || { echo "FAIL: could not start s3rver"; exit 1; }
eval "$ENV_LINES"
S3RVER_ENDPOINT="$AWS_ENDPOINT_URL"

# Not in a $(...) subshell: the PID must reach PIDS in this shell, or the
# cleanup never stops the proxy (each run used to leave three behind).
start_proxy() {  # start_proxy NAME extra-args...: sets PROXY_PORTS[NAME]
  local name=$1; shift
  python3 "$ROOT/tests/s3_fault_proxy.py" --upstream "$S3RVER_ENDPOINT" --record "$WORK/$name.jsonl" \
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  for _ in $(seq 1 200); do grep -q '^PORT ' "$WORK/$name.out" 2>/dev/null && break; sleep 0.05; done
  PROXY_PORTS[$name]=$(sed -n 's/^PORT //p' "$WORK/$name.out")
}

export AWS_SHARED_CREDENTIALS_FILE="$WORK/none" AWS_CONFIG_FILE="$WORK/none" AWS_EC2_METADATA_DISABLED=true
export XDG_CACHE_HOME="$WORK/cache"
# Multipart from 5 MiB on, 5 MiB parts; a 24 MiB pack is then 5 parts.
export HB_S3_MULTIPART_THRESHOLD=5M HB_S3_PART_SIZE=5M HB_S3_PARTS_IN_FLIGHT=2
head -c $((40 * 1024 * 1024)) /dev/urandom >"$WORK/in.bin"

# interrupt NAME SIGNAL EXPECTED_EXIT PROXY_NAME
interrupt() {
  local name=$1 sig=$2 want=$3 proxy=$4
  local port=${PROXY_PORTS[$proxy]}
  local wire="$WORK/$proxy.jsonl"
  : >"$wire"
  AWS_ENDPOINT_URL="http://127.0.0.1:$port" "$CLI" put "$WORK/in.bin" --store "s3://$HB_TEST_S3_BUCKET/int-$name" \
    --name f --pack-size 24M --memory 96M >"$WORK/$name.log" 2>&1 &
  local pid=$!
  # Wait for the state: a part of a multipart upload has reached the proxy.
  local seen=""
  for _ in $(seq 1 600); do
    if grep -q '"method": "PUT", "target": "[^"]*partNumber=' "$wire" 2>/dev/null; then seen=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if [[ -z "$seen" ]]; then
    kill "$pid" 2>/dev/null; wait "$pid"; cat "$WORK/$name.log" >&2
    fail "$name: no part upload was seen before the put ended"; return
  fi
  local t0=$(date +%s%N)
  kill "-$sig" "$pid"
  wait "$pid"
  local rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
  echo "$ms" >"$WORK/$name.ms"
  [[ $rc -eq $want ]] && pass "$name: put exits $rc after SIG$sig (in $ms ms)" ||
    { cat "$WORK/$name.log" >&2; fail "$name: exit status $rc, expected $want"; }
  # Every upload created was completed or aborted (the proxy's events).
  python3 - "$wire" <<'EOF'
import json, sys
created, done = set(), {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "create" and e.get("upload_id"):
        created.add(e["upload_id"])
    elif e.get("event") in ("complete", "abort"):
        done.setdefault(e["upload_id"], []).append((e["event"], e["status"]))
left = [u for u in created if not any(s in (200, 204) for _, s in done.get(u, []))]
print(f"uploads created {len(created)}, outcomes {done}")
sys.exit(0 if created and not left else 1)
EOF
  local ok=$?
  echo "$ok" >"$WORK/$name.verdict"
}

declare -A PROXY_PORTS
start_proxy abort --emulate-abort --delay 0.3
start_proxy noabort --delay 0.3

for sig in INT TERM; do
  want=$([[ $sig == INT ]] && echo 130 || echo 143)
  interrupt "sig$sig" "$sig" "$want" abort
  if [[ "$(cat "$WORK/sig$sig.verdict" 2>/dev/null)" == 0 ]]; then
    pass "SIG$sig: every multipart upload started was aborted or completed"
  else
    fail "SIG$sig: a multipart upload was left behind"
  fi
  if grep -qi "refused\|could not abort" "$WORK/sig$sig.log"; then
    cat "$WORK/sig$sig.log" >&2; fail "SIG$sig: a warning about the abort, yet it succeeded"
  else
    pass "SIG$sig: no abort warning"
  fi
done

# s3rver refuses to abort (405): the abort was sent, and the warning says the
# server refused it (not that the request failed).
interrupt "refused" INT 130 noabort
if grep -q '"method": "DELETE", "target": "[^"]*uploadId=' "$WORK/noabort.jsonl" &&
   grep -q "server refused to abort.*405" "$WORK/refused.log"; then
  pass "s3rver's 405: the abort was sent and the warning names the refusal"
else
  cat "$WORK/refused.log" >&2; fail "s3rver's 405: abort not sent or the warning is wrong"
fi

# A server that goes silent when the abort is sent: the exit is bounded by
# the cleanup deadline (HB_S3_CLEANUP_TIMEOUT=3 here), and the warning says
# the abort could not be delivered, naming the upload.
start_proxy silent --silent-abort --delay 0.3
HB_S3_CLEANUP_TIMEOUT=3 interrupt "silent-abort" INT 130 silent
ms=$(cat "$WORK/silent-abort.ms" 2>/dev/null || echo 999999)
# Each upload in flight is aborted within 3 s; two may be in flight, one
# after the other in the worst case.
[[ $ms -le 9000 ]] && pass "silent server at abort: exit after $ms ms (bound 2 x 3 s + slack)" ||
  fail "silent server at abort: exit took $ms ms"
if grep -q '"event": "abort-unanswered"' "$WORK/silent.jsonl" &&
   grep -q "could not abort multipart upload .* left for .hugeblob gc." "$WORK/silent-abort.log"; then
  pass "silent server at abort: the exit waited for the cleanup deadline only, and the warning says so"
else
  cat "$WORK/silent-abort.log" >&2; fail "silent server at abort: wrong warning or no abort sent"
fi

if [[ $FAILS -eq 0 ]]; then echo "s3_interrupt.sh: all passed"; else echo "s3_interrupt.sh: $FAILS FAILED"; fi
[[ $FAILS -eq 0 ]]
