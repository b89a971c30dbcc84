#!/usr/bin/env bash
# Server-side encryption options (docs/s3.md, "Server-side encryption"): with
# ?sse=aws:kms&sse-kms-key-id=KEY on the store URL, or HB_S3_SSE=AES256 in the
# environment, every write (PUT, CreateMultipartUpload) carries the
# x-amz-server-side-encryption headers, signed; parts, reads and listings do
# not. Checked on the wire by the recording proxy in front of s3rver (which
# ignores the headers; a real S3 encrypts), then botocore re-signs every
# recorded request. A bad value fails at once with a clear error.
# Usage: bash tests/s3_sse.sh path/to/hugeblob   (exit 77: skipped)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="${1:-}"
skip() { echo "SKIP: $*"; exit 77; }
command -v node >/dev/null || skip "node is not installed"
[[ -x "$ROOT/node_modules/.bin/s3rver" ]] || command -v npm >/dev/null || skip "s3rver is not installed"
command -v curl >/dev/null || skip "curl is not installed"
[[ -x "$CLI" ]] || skip "the CLI is not built"
PY=""
for p in ${HB_TEST_PYTHON:-} /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null && "$p" -c "import boto3, botocore" 2>/dev/null; then PY="$p"; break; fi
done
[[ -n "$PY" ]] || skip "no python3 with boto3 (apt-get install python3-boto3)"

WORK="$(mktemp -d /tmp/hb-s3-sse.XXXXXX)"
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
"$PY" "$ROOT/tests/s3_fault_proxy.py" --upstream "$AWS_ENDPOINT_URL" --record "$WORK/wire.jsonl" \
  >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
PIDS+=($!)
for _ in $(seq 1 200); do grep -q '^PORT ' "$WORK/proxy.out" 2>/dev/null && break; sleep 0.05; done
PROXY_PORT="$(sed -n 's/^PORT //p' "$WORK/proxy.out")"
[[ -n "$PROXY_PORT" ]] || { cat "$WORK/proxy.err"; echo "FAIL: proxy did not start"; exit 1; }
export AWS_ENDPOINT_URL="http://127.0.0.1:$PROXY_PORT"
export AWS_SHARED_CREDENTIALS_FILE="$WORK/none" AWS_CONFIG_FILE="$WORK/none" AWS_EC2_METADATA_DISABLED=true
export XDG_CACHE_HOME="$WORK/cache"
unset HB_S3_SSE HB_S3_SSE_KMS_KEY_ID
# Multipart from 5 MiB on, so CreateMultipartUpload is exercised too.
export HB_S3_MULTIPART_THRESHOLD=5M HB_S3_PART_SIZE=5M
head -c $((12 * 1024 * 1024)) /dev/urandom >"$WORK/in.bin"

# check_wire TAG SSE KEY: every request for store prefix sse-TAG is checked.
check_wire() {
  "$PY" - "$WORK/wire.jsonl" "sse-$1/" "$2" "$3" <<'EOF'
import json, sys
wire, prefix, sse, key = sys.argv[1:5]
writes = other = 0
bad = []
for line in open(wire):
    e = json.loads(line)
    if "headers" not in e or prefix not in e["target"]:
        continue
    h = {k.lower(): v for k, v in e["headers"]}
    signed = h.get("authorization", "").split("SignedHeaders=")[1].split(",")[0].split(";")
    what = f'{e["method"]} {e["target"]}'
    is_write = (e["method"] == "PUT" and "partNumber=" not in e["target"]) or \
               (e["method"] == "POST" and "?" in e["target"] and
                any(q.split("=")[0] == "uploads" for q in e["target"].split("?")[1].split("&")))
    got_sse = h.get("x-amz-server-side-encryption")
    got_key = h.get("x-amz-server-side-encryption-aws-kms-key-id")
    if is_write:
        writes += 1
        if got_sse != sse or got_key != (key or None):
            bad.append(f"{what}: sse={got_sse} key={got_key}")
        for name in ("x-amz-server-side-encryption",) + (("x-amz-server-side-encryption-aws-kms-key-id",) if key else ()):
            if name not in signed:
                bad.append(f"{what}: {name} not signed")
    else:
        other += 1
        if got_sse or got_key:
            bad.append(f"{what}: encryption header on a request that writes no object")
kinds = "CreateMultipartUpload" if any("?uploads" in json.loads(l).get("target", "") and prefix in json.loads(l).get("target", "") for l in open(wire)) else "none"
print(f"{writes} writes with {sse} {key or ''}, {other} other requests, multipart create seen: {kinds}; {len(bad)} problems")
for b in bad[:10]:
    print("  ", b)
sys.exit(1 if bad or writes == 0 or kinds == "none" else 0)
EOF
}

roundtrip() {  # roundtrip TAG STORE-QUERY [VAR=value...]
  local tag=$1 query=$2; shift 2
  local store="s3://$HB_TEST_S3_BUCKET/sse-$tag$query"
  if env "$@" "$CLI" put "$WORK/in.bin" --store "$store" --name f --pack-size 8M --memory 64M >"$WORK/$tag.log" 2>&1 &&
     env "$@" "$CLI" get f "$WORK/$tag.out" --store "$store" >>"$WORK/$tag.log" 2>&1 &&
     cmp -s "$WORK/in.bin" "$WORK/$tag.out"; then
    pass "$tag: put/get round trip"
  else
    cat "$WORK/$tag.log" >&2; fail "$tag: round trip"
  fi
}

roundtrip kms "?sse=aws:kms&sse-kms-key-id=arn:aws:kms:us-east-1:123456789012:key/hb-test"
check_wire kms aws:kms arn:aws:kms:us-east-1:123456789012:key/hb-test &&
  pass "kms: every write carries aws:kms and the key, signed; nothing else does" || fail "kms: headers on the wire"
roundtrip aes "" HB_S3_SSE=AES256
check_wire aes AES256 "" && pass "AES256 from HB_S3_SSE: every write carries it, signed" || fail "aes: headers on the wire"
roundtrip none ""
check_wire none "" "" >/dev/null
"$PY" -c '
import json, sys
n = sum(1 for l in open(sys.argv[1]) if "sse-none/" in l and "x-amz-server-side-encryption" in l.lower())
sys.exit(1 if n else 0)' "$WORK/wire.jsonl" && pass "without the option no encryption header is sent" ||
  fail "encryption headers sent without the option"

err=$("$CLI" ls --store "s3://$HB_TEST_S3_BUCKET/x?sse=kms" 2>&1) &&
  fail "a bad sse value was accepted" ||
  { [[ "$err" =~ "must be AES256, aws:kms or aws:kms:dsse" ]] && pass "a bad sse value is refused clearly" ||
    fail "bad sse value: error was: $err"; }

"$PY" "$ROOT/tests/s3_boto3_check.py" signatures "$WORK/wire.jsonl" S3RVER --no-coverage ||
  fail "botocore signs the requests with encryption headers differently"

if [[ $FAILS -eq 0 ]]; then echo "s3_sse.sh: all passed"; else echo "s3_sse.sh: $FAILS FAILED"; fi
[[ $FAILS -eq 0 ]]
