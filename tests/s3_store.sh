#!/usr/bin/env bash
# End-to-end test of the S3 store against a real S3 server (s3rver):
#   1. starts s3rver (scripts/s3rver.sh) and a fault-injecting, recording
#      proxy (tests/s3_fault_proxy.py) in front of it, both on 127.0.0.1;
#   2. runs test_store's S3 tests (conformance suite, round trips, faults);
#   3. checks with boto3 that objects hugeblob wrote read back byte for byte,
#      and with botocore that every request recorded on the wire is signed
#      exactly as botocore signs it;
#   4. round-trips a file through the CLI on --store s3://, when it is built;
#   5. stops everything.
# Usage: bash tests/s3_store.sh path/to/hugeblob   (exit 77: skipped)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="${1:-}"
BUILD="$(cd "$(dirname "${CLI:-$ROOT/build/hugeblob}")" 2>/dev/null && pwd)"
TEST_STORE="$BUILD/test_store"

skip() { echo "SKIP: $*"; exit 77; }
command -v node >/dev/null || skip "node is not installed (apt-get install nodejs npm)"
[[ -x "$ROOT/node_modules/.bin/s3rver" ]] || command -v npm >/dev/null ||
  skip "s3rver is not installed and npm is missing (run npm ci in $ROOT)"
command -v curl >/dev/null || skip "curl is not installed"
[[ -x "$TEST_STORE" ]] || skip "$TEST_STORE is not built (ninja test_store)"
# A python with boto3: $HB_TEST_PYTHON, Debian's python3-boto3, or whatever
# python3 on PATH has it.
PY=""
for p in ${HB_TEST_PYTHON:-} /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null && "$p" -c "import boto3, botocore" 2>/dev/null; then PY="$p"; break; fi
done
[[ -n "$PY" ]] || skip "no python3 with boto3 (apt-get install python3-boto3)"

WORK="$(mktemp -d /tmp/hb-s3-test.XXXXXX)"
PROXY_PID=""
cleanup() {
  [[ -n "$PROXY_PID" ]] && kill "$PROXY_PID" 2>/dev/null
  "$ROOT/scripts/s3rver.sh" stop "$WORK/s3rver" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

ENV_LINES="$("$ROOT/scripts/s3rver.sh" start "$WORK/s3rver")" || { echo "FAIL: could not start s3rver"; exit 1; }
eval "$ENV_LINES"
echo "s3rver at $AWS_ENDPOINT_URL, bucket $HB_TEST_S3_BUCKET"

"$PY" "$ROOT/tests/s3_fault_proxy.py" --upstream "$AWS_ENDPOINT_URL" --record "$WORK/wire.jsonl" \
  --stall 8 >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
PROXY_PID=$!
# Wait for the state (the proxy printed its port), with a deadline that only
# bounds a hang: a loaded machine may take seconds to start python.
deadline=$((SECONDS + 60))
until grep -q '^PORT ' "$WORK/proxy.out" 2>/dev/null; do
  kill -0 "$PROXY_PID" 2>/dev/null || break
  ((SECONDS < deadline)) || break
  sleep 0.05
done
PROXY_PORT="$(sed -n 's/^PORT //p' "$WORK/proxy.out")"
[[ -n "$PROXY_PORT" ]] || { cat "$WORK/proxy.err"; echo "FAIL: proxy did not print its port within 60 s (or exited)"; exit 1; }
export HB_TEST_S3_PROXY_ENDPOINT="http://127.0.0.1:$PROXY_PORT"
export HB_TEST_S3_INTEROP_DIR="$WORK"
# Credentials and config from the test, never from the user's ~/.aws.
export AWS_SHARED_CREDENTIALS_FILE="$WORK/no-credentials" AWS_CONFIG_FILE="$WORK/no-config"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE

# Conformance tests s3rver cannot pass, each for a limitation of s3rver
# (docs/s3.md lists them), not of the store:
#  - AbortMultipartUpload answers 405:        ListShowsNoTemporaryFiles, MultipartAbort
#  - ListMultipartUploads answers 501:        MultipartConcurrentOutOfOrder, ListMultipartFiltersByPrefix
#  - parts below 5 MiB are accepted:          MultipartShortNonLastPartRejected
#  - an overwrite is not atomic (torn reads): ConcurrentPutsAndGets
S3RVER_CANNOT="S3/StoreConformanceTest.ListShowsNoTemporaryFiles/*:S3/StoreConformanceTest.MultipartAbort/*"
S3RVER_CANNOT+=":S3/StoreConformanceTest.MultipartConcurrentOutOfOrder/*:S3/StoreConformanceTest.ListMultipartFiltersByPrefix/*"
S3RVER_CANNOT+=":S3/StoreConformanceTest.MultipartShortNonLastPartRejected/*:S3/StoreConformanceTest.ConcurrentPutsAndGets/*"

status=0
echo "== test_store: S3 tests against s3rver (direct and through the fault proxy)"
"$TEST_STORE" --gtest_filter="S3*:SigV4*:S3/*:-$S3RVER_CANNOT" --gtest_brief=1 || status=1

# Requests that went straight to s3rver were not recorded; send the shapes the
# signature check needs through the proxy too (ranged GET, multipart, paged
# LIST with continuation tokens, odd keys).
echo "== signed requests through the recording proxy"
HB_TEST_S3_ENDPOINT="$HB_TEST_S3_PROXY_ENDPOINT" "$TEST_STORE" --gtest_brief=1 \
  --gtest_filter='S3Store.OddKeysAndPaginatedListing:S3Store.MultipartPutFromCallerSlicesRoundTrips:S3Store.OneByteAndEmptyRanges:S3/StoreConformanceTest.RangedReads/*' ||
  status=1

echo "== botocore signs every recorded request the same way"
"$PY" "$ROOT/tests/s3_boto3_check.py" signatures "$WORK/wire.jsonl" S3RVER || status=1
# The check has teeth: with another secret every signature must differ.
if "$PY" "$ROOT/tests/s3_boto3_check.py" signatures "$WORK/wire.jsonl" NOT-THE-SECRET >/dev/null; then
  echo "FAIL: the signature check accepts signatures made with another secret"; status=1
fi

echo "== boto3 reads back what hugeblob wrote"
if [[ -f "$WORK/expected.json" ]]; then
  "$PY" "$ROOT/tests/s3_boto3_check.py" readback "$WORK/expected.json" || status=1
else
  echo "FAIL: the interop writer left no expected.json"; status=1
fi

if [[ -x "$CLI" ]] && "$CLI" --help 2>&1 | grep -q put; then
  echo "== CLI round trip on --store s3://"
  head -c $((9 * 1024 * 1024 + 123)) /dev/urandom >"$WORK/in.bin"
  head -c $((3 * 1024 * 1024)) /dev/zero >>"$WORK/in.bin"
  STORE="s3://$HB_TEST_S3_BUCKET/cli-$$"
  if "$CLI" put "$WORK/in.bin" --store "$STORE" --name t/in >"$WORK/cli.log" 2>&1 &&
     "$CLI" get t/in "$WORK/out.bin" --store "$STORE" >>"$WORK/cli.log" 2>&1 &&
     cmp "$WORK/in.bin" "$WORK/out.bin"; then
    echo "CLI put/get through s3:// gives identical bytes"
  else
    cat "$WORK/cli.log"; echo "FAIL: CLI round trip on $STORE"; status=1
  fi
else
  echo "(CLI not built or without put: CLI round trip skipped)"
fi

if [[ $status -eq 0 ]]; then echo "s3_store.sh: all passed"; else echo "s3_store.sh: FAILED"; fi
exit $status
