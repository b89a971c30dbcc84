#!/usr/bin/env bash
# Starts and stops s3rver (npm, pinned in package.json) on 127.0.0.1 for the
# S3 store tests and benchmarks.
#
#   scripts/s3rver.sh start [STATE_DIR]   # prints "export AWS_ENDPOINT_URL=..." lines
#   scripts/s3rver.sh stop  [STATE_DIR]
#
# STATE_DIR (default $HB_S3RVER_STATE or /tmp/hugeblob-s3rver-$UID) receives
# pid, endpoint, env (the export lines), log and the data directory, so
# several servers can run side by side with different state directories.
# The server listens on a port the kernel picks (s3rver -p 0), so there is no
# race for a "free" port. Bucket: $HB_S3RVER_BUCKET or hugeblob-test.
# s3rver accepts only the access key S3RVER (any signature: it checks none).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CMD="${1:-}"
STATE="${2:-${HB_S3RVER_STATE:-/tmp/hugeblob-s3rver-$(id -u)}}"
BUCKET="${HB_S3RVER_BUCKET:-hugeblob-test}"

die() { echo "s3rver.sh: $*" >&2; exit 1; }

ensure_installed() {
  command -v node >/dev/null || die "node is not installed (apt-get install nodejs npm)"
  [[ -x "$ROOT/node_modules/.bin/s3rver" ]] && return 0
  command -v npm >/dev/null || die "npm is not installed (apt-get install npm)"
  # Tests start servers in parallel (ctest -j): one installs, the others wait
  # for it (a lock on package-lock.json), then find s3rver installed.
  (
    flock 9
    if [[ ! -x "$ROOT/node_modules/.bin/s3rver" ]]; then
      echo "s3rver.sh: installing s3rver from package-lock.json (npm ci)" >&2
      cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2
    fi
  ) 9<"$ROOT/package-lock.json" || die "npm ci failed"
}

start() {
  ensure_installed
  mkdir -p "$STATE"
  if [[ -f "$STATE/pid" ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
    cat "$STATE/env"
    return 0
  fi
  rm -rf "$STATE/data"
  mkdir -p "$STATE/data"
  : >"$STATE/log"
  # Paged listings (continuation tokens) use a cipher that Node 17+ hides
  # behind the legacy provider.
  NODE_OPTIONS="--openssl-legacy-provider" setsid "$ROOT/node_modules/.bin/s3rver" \
    -d "$STATE/data" -a 127.0.0.1 -p 0 --configure-bucket "$BUCKET" \
    >"$STATE/log" 2>&1 </dev/null &
  echo $! >"$STATE/pid"
  local port=""
  for _ in $(seq 1 200); do
    port="$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9]\+\).*/\1/p' "$STATE/log" 2>/dev/null | head -n1 || true)"
    [[ -n "$port" ]] && break
    kill -0 "$(cat "$STATE/pid")" 2>/dev/null || { cat "$STATE/log" >&2; die "s3rver exited at start"; }
    sleep 0.05
  done
  [[ -n "$port" ]] || { stop; die "s3rver did not report its port (log: $STATE/log)"; }
  local endpoint="http://127.0.0.1:$port"
  # Wait until the bucket answers a listing.
  local ok=""
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$endpoint/$BUCKET?list-type=2" 2>/dev/null; then ok=1; break; fi
    sleep 0.05
  done
  [[ -n "$ok" ]] || { stop; die "s3rver did not answer on $endpoint"; }
  echo "$endpoint" >"$STATE/endpoint"
  cat >"$STATE/env" <<EOT
export AWS_ENDPOINT_URL=$endpoint
export AWS_ACCESS_KEY_ID=S3RVER
export AWS_SECRET_ACCESS_KEY=S3RVER
export AWS_REGION=us-east-1
export HB_TEST_S3_ENDPOINT=$endpoint
export HB_TEST_S3_BUCKET=$BUCKET
EOT
  cat "$STATE/env"
}

stop() {
  if [[ -f "$STATE/pid" ]]; then
    local pid
    pid="$(cat "$STATE/pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/pid"
  fi
  rm -rf "$STATE/data" "$STATE/endpoint" "$STATE/env"
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop [STATE_DIR]" >&2; exit 2 ;;
esac
