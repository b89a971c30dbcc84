#!/usr/bin/env bash
# End-to-end test of the AWS credential chain (docs/s3.md, "Credentials"):
# every source against a fake server on 127.0.0.1 (tests/fake_aws_server.py:
# STS, IMDSv2 and container endpoints that check what the real ones check and
# issue credentials that expire after a few seconds), with s3rver behind the
# recording proxy (tests/s3_fault_proxy.py --check-token-expiry), which
# refuses any request signed with an expired session token.
#
# For each source: a CLI put and get on s3:// with credentials from that
# source only; the bytes must come back identical, the fake server must have
# issued credentials (and checked the request for them), no request may have
# used an expired token, and botocore must find every request signed with the
# issued secret. Then test_store's long-operation test runs for several
# credential lifetimes and must see the credentials refreshed ahead of expiry.
# Usage: bash tests/s3_credentials.sh path/to/hugeblob   (exit 77: skipped)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="${1:-}"
BUILD="$(cd "$(dirname "${CLI:-$ROOT/build/hugeblob}")" 2>/dev/null && pwd)"
TEST_STORE="$BUILD/test_store"
LIFETIME=3  # seconds each issued credential lives

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

WORK="$(mktemp -d /tmp/hb-s3-cred.XXXXXX)"
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

# Starts a server that prints "PORT n" and waits for that line (a state, not a
# sleep). Not in a $(...) subshell: the PID must reach PIDS in this shell, or
# the cleanup never stops the server.
start_server() {  # start_server NAME command...: sets PORT
  local name=$1; shift
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  for _ in $(seq 1 200); do
    grep -q '^PORT ' "$WORK/$name.out" 2>/dev/null && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  PORT="$(sed -n 's/^PORT //p' "$WORK/$name.out")"
  [[ -n "$PORT" ]] || { cat "$WORK/$name.err" >&2; echo "FAIL: $name did not start"; exit 1; }
}

ENV_LINES="$("$ROOT/scripts/s3rver.sh" start "$WORK/s3rver")" || { echo "FAIL: could not start s3rver"; exit 1; }
eval "$ENV_LINES"
BUCKET="$HB_TEST_S3_BUCKET"
S3RVER_ENDPOINT="$AWS_ENDPOINT_URL"

echo "web-identity-token-$$" >"$WORK/wi-token"
echo "container-token-$$" >"$WORK/container-token"
FAKE_LOG="$WORK/fake.jsonl"
start_server fake "$PY" "$ROOT/tests/fake_aws_server.py" serve --log "$FAKE_LOG" \
  --lifetime "$LIFETIME" --web-identity-token-file "$WORK/wi-token" \
  --source-key SOURCEKEY --source-secret source-secret \
  --container-token "container-token-$$" --issue-secret fake-issued-secret
FAKE_PORT=$PORT
FAKE="http://127.0.0.1:$FAKE_PORT"
WIRE="$WORK/wire.jsonl"
# A small delay per request, so that a put and a get span a credential
# lifetime or two.
start_server proxy "$PY" "$ROOT/tests/s3_fault_proxy.py" --upstream "$S3RVER_ENDPOINT" \
  --record "$WIRE" --check-token-expiry --delay 0.1
PROXY_PORT=$PORT
PROXY="http://127.0.0.1:$PROXY_PORT"
echo "s3rver at $S3RVER_ENDPOINT, proxy at $PROXY, fake AWS endpoints at $FAKE"

# Nothing from the user's environment or ~/.aws: each case adds its source.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE \
  AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ROLE_SESSION_NAME AWS_CONTAINER_CREDENTIALS_FULL_URI \
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_AUTHORIZATION_TOKEN \
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_CREDENTIAL_EXPIRATION
export AWS_SHARED_CREDENTIALS_FILE="$WORK/no-credentials" AWS_CONFIG_FILE="$WORK/no-config"
export AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL="$PROXY" AWS_REGION=us-east-1
export XDG_CACHE_HOME="$WORK/cache"

head -c $((3 * 1024 * 1024 + 77)) /dev/urandom >"$WORK/in.bin"

count_issued() {  # count_issued SERVICE-PREFIX: credentials the fake issued so far
  "$PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    n += e.get("ok") and "token" in e and e["service"].startswith(sys.argv[2])
print(n)' "$FAKE_LOG" "$1" 2>/dev/null || echo 0
}
count_refused() {  # requests the fake refused (a check of the real service failed)
  "$PY" -c '
import json, sys
print(sum(1 for line in open(sys.argv[1]) if not json.loads(line)["ok"]))' "$FAKE_LOG" 2>/dev/null || echo 0
}
count_rejected() {  # requests the proxy refused for an expired token
  grep -c '"rejected": "expired-token"' "$WIRE" 2>/dev/null || true
}

# run_case NAME SERVICE-PREFIX [VAR=value...]: put + get with only that source.
run_case() {
  local name=$1 service=$2; shift 2
  local before_issued before_refused before_rejected
  before_issued=$(count_issued "$service")
  before_refused=$(count_refused)
  before_rejected=$(count_rejected)
  local store="s3://$BUCKET/cred-$name"
  if env "$@" "$CLI" put "$WORK/in.bin" --store "$store" --name f --pack-size 1M >"$WORK/$name.log" 2>&1 &&
     env "$@" "$CLI" get f "$WORK/$name.out.bin" --store "$store" >>"$WORK/$name.log" 2>&1 &&
     cmp -s "$WORK/in.bin" "$WORK/$name.out.bin"; then
    pass "$name: put and get with credentials from the fake $service"
  else
    cat "$WORK/$name.log" >&2; fail "$name: put/get round trip"; return
  fi
  local issued=$(($(count_issued "$service") - before_issued))
  [[ $issued -ge 2 ]] && pass "$name: $issued credentials issued (one per process at least)" ||
    fail "$name: expected the fake $service to issue credentials, it issued $issued"
  [[ $(count_refused) -eq $before_refused ]] && pass "$name: the fake accepted every request" ||
    { fail "$name: the fake refused a request:"; grep '"ok": false' "$FAKE_LOG" >&2; }
  [[ $(count_rejected) -eq $before_rejected ]] && pass "$name: no request used an expired token" ||
    fail "$name: requests used expired tokens"
}

echo "== each source of the chain, alone"
run_case web-identity sts:AssumeRoleWithWebIdentity \
  AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/wi-token" AWS_ROLE_ARN=arn:aws:iam::123456789012:role/hb-web \
  AWS_ROLE_SESSION_NAME=hb-test AWS_ENDPOINT_URL_STS="$FAKE"

cat >"$WORK/config" <<EOT
[profile source]
aws_access_key_id = SOURCEKEY
aws_secret_access_key = source-secret
[profile role]
role_arn = arn:aws:iam::123456789012:role/hb-assumed
source_profile = source
role_session_name = hb-role-test
[profile process]
credential_process = "$PY" "$ROOT/tests/fake_aws_server.py" process --lifetime $LIFETIME --log "$FAKE_LOG"
EOT
run_case assume-role sts:AssumeRole AWS_CONFIG_FILE="$WORK/config" AWS_PROFILE=role \
  AWS_ENDPOINT_URL_STS="$FAKE"
run_case credential-process process AWS_CONFIG_FILE="$WORK/config" AWS_PROFILE=process
run_case container-relative container AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/container/task-creds \
  HB_AWS_CONTAINER_CREDENTIALS_HOST="127.0.0.1:$FAKE_PORT" \
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$WORK/container-token"
run_case container-full container AWS_CONTAINER_CREDENTIALS_FULL_URI="$FAKE/container/full" \
  AWS_CONTAINER_AUTHORIZATION_TOKEN="container-token-$$"
run_case imds imds:creds AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT="$FAKE"

echo "== the fake servers refuse what the real ones refuse"
expect_fail() {  # expect_fail DESCRIPTION REGEX VAR=value...
  local what=$1 re=$2; shift 2
  local err
  if err=$(env "$@" "$CLI" ls --store "s3://$BUCKET/cred-refused" 2>&1); then
    fail "$what: succeeded"
  elif [[ "$err" =~ $re ]]; then
    pass "$what"
  else
    fail "$what: error was: $err"
  fi
}
echo "wrong" >"$WORK/wrong-token"
expect_fail "a wrong web identity token is refused by STS" "InvalidIdentityToken" \
  AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/wrong-token" AWS_ROLE_ARN=arn:aws:iam::123456789012:role/x \
  AWS_ENDPOINT_URL_STS="$FAKE"
expect_fail "a wrong container token is refused" "HTTP 401.*bad authorization token" \
  AWS_CONTAINER_CREDENTIALS_FULL_URI="$FAKE/container/full" AWS_CONTAINER_AUTHORIZATION_TOKEN=nope
sed 's/source-secret/not-the-secret/' "$WORK/config" >"$WORK/config-bad"
expect_fail "AssumeRole signed with the wrong secret is refused" "SignatureDoesNotMatch" \
  AWS_CONFIG_FILE="$WORK/config-bad" AWS_PROFILE=role AWS_ENDPOINT_URL_STS="$FAKE"
expect_fail "plain http to a non-loopback container endpoint is refused" "use https" \
  AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.1/creds"
start=$(date +%s%N)
expect_fail "no IMDS: the chain gives up quickly and says where it looked" "no S3 credentials.*instance metadata" \
  AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:9"
ms=$((($(date +%s%N) - start) / 1000000))
[[ $ms -lt 5000 ]] && pass "no IMDS answered: gave up in $ms ms" || fail "no IMDS: took $ms ms"

echo "== credentials refreshed ahead of expiry during a long operation (test_store)"
if [[ -x "$TEST_STORE" ]]; then
  before_rejected=$(count_rejected)
  if env AWS_CONTAINER_CREDENTIALS_FULL_URI="$FAKE/container/long" \
      AWS_CONTAINER_AUTHORIZATION_TOKEN="container-token-$$" \
      HB_TEST_S3_ENDPOINT="$S3RVER_ENDPOINT" HB_TEST_S3_PROXY_ENDPOINT="$PROXY" \
      HB_TEST_CREDENTIAL_LIFETIME_S="$LIFETIME" \
      "$TEST_STORE" --gtest_filter='S3Credentials.*' --gtest_brief=1 >"$WORK/long.log" 2>&1; then
    pass "$(grep -o '[0-9]* rounds.*' "$WORK/long.log" | head -1)"
  else
    cat "$WORK/long.log" >&2; fail "long operation with refreshing credentials"
  fi
  [[ $(count_rejected) -eq $before_rejected ]] && pass "long operation: no request used an expired token" ||
    fail "long operation: requests used expired tokens"
else
  echo "(test_store not built: long-operation test skipped)"
fi

echo "== botocore: every request was signed with the issued secret"
"$PY" "$ROOT/tests/s3_boto3_check.py" signatures "$WIRE" fake-issued-secret --no-coverage ||
  fail "signatures with the issued secret"
if "$PY" "$ROOT/tests/s3_boto3_check.py" signatures "$WIRE" S3RVER --no-coverage >/dev/null; then
  fail "the signature check accepts another secret"
fi

if [[ $FAILS -eq 0 ]]; then echo "s3_credentials.sh: all passed"; else echo "s3_credentials.sh: $FAILS FAILED"; fi
[[ $FAILS -eq 0 ]]
