#!/usr/bin/env bash
# Bounded waiting (docs/s3.md, "Retries and errors"): a server that accepts
# connections and never answers fails a command within the documented bound
# (3 attempts x HB_S3_FIRST_ANSWER_TIMEOUT, 10 s, plus backoff: about 31 s,
# checked against 40 s); a port where nothing listens fails within seconds.
# The silent server is a Python socket on 127.0.0.1 that accepts and reads,
# and never writes.
# Usage: bash tests/s3_silent_server.sh path/to/hugeblob   (exit 77: skipped)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="${1:-}"
skip() { echo "SKIP: $*"; exit 77; }
command -v python3 >/dev/null || skip "python3 is not installed"
[[ -x "$CLI" ]] || skip "the CLI is not built"

WORK="$(mktemp -d /tmp/hb-s3-silent.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
FAILS=0
pass() { echo "ok: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }

python3 - >"$WORK/silent.out" 2>"$WORK/silent.err" <<'EOF' &
import socket, threading
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print("PORT", srv.getsockname()[1], flush=True)
def hold(conn):
    # Read whatever comes (so the client's sends complete), answer nothing.
    while conn.recv(65536):
        pass
while True:
    c, _ = srv.accept()
    threading.Thread(target=hold, args=(c,), daemon=True).start()
EOF
PIDS+=($!)
for _ in $(seq 1 200); do grep -q '^PORT ' "$WORK/silent.out" 2>/dev/null && break; sleep 0.05; done
SILENT_PORT="$(sed -n 's/^PORT //p' "$WORK/silent.out")"
[[ -n "$SILENT_PORT" ]] || { cat "$WORK/silent.err"; echo "FAIL: silent server did not start"; exit 1; }
# A port nothing listens on: bound by the kernel's choice, then closed.
REFUSED_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

export AWS_ACCESS_KEY_ID=HBTEST AWS_SECRET_ACCESS_KEY=hbtest AWS_REGION=us-east-1
export AWS_SHARED_CREDENTIALS_FILE="$WORK/none" AWS_CONFIG_FILE="$WORK/none" AWS_EC2_METADATA_DISABLED=true
export XDG_CACHE_HOME="$WORK/cache"
echo "hello" >"$WORK/small"

# bounded NAME LIMIT_MS REGEX command...: must fail within LIMIT_MS, stderr matching REGEX.
bounded() {
  local name=$1 limit=$2 re=$3; shift 3
  local t0=$(date +%s%N) err rc
  err=$(timeout 300 "$@" 2>&1 >/dev/null)
  rc=$?
  local ms=$((($(date +%s%N) - t0) / 1000000))
  if [[ $rc -eq 0 ]]; then fail "$name: succeeded against a server that does not answer"; return; fi
  [[ $ms -le $limit ]] && pass "$name: failed after $ms ms (bound $limit ms)" ||
    fail "$name: took $ms ms, more than $limit ms"
  [[ "$err" =~ $re ]] && pass "$name: the error says why" || fail "$name: error was: $err"
}

SILENT="http://127.0.0.1:$SILENT_PORT"
bounded "ls, silent server, defaults" 40000 "has not answered any request" \
  env AWS_ENDPOINT_URL="$SILENT" "$CLI" ls --store "s3://hugeblob-test/silent"
bounded "put, silent server, HB_S3_FIRST_ANSWER_TIMEOUT=2" 10000 "has not answered any request" \
  env AWS_ENDPOINT_URL="$SILENT" HB_S3_FIRST_ANSWER_TIMEOUT=2 \
  "$CLI" put "$WORK/small" --store "s3://hugeblob-test/silent" --name s
bounded "ls, connection refused" 5000 "(onnect|refused).*has not answered any request" \
  env AWS_ENDPOINT_URL="http://127.0.0.1:$REFUSED_PORT" "$CLI" ls --store "s3://hugeblob-test/refused"

if [[ $FAILS -eq 0 ]]; then echo "s3_silent_server.sh: all passed"; else echo "s3_silent_server.sh: $FAILS FAILED"; fi
[[ $FAILS -eq 0 ]]
