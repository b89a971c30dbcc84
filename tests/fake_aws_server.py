#!/usr/bin/env python3
"""Fake AWS credential endpoints on loopback, for tests/s3_credentials.sh.

One HTTP server plays three services, checking what the real ones check:

  STS (POST /, form body)
    AssumeRoleWithWebIdentity: Version 2011-06-15, RoleArn, RoleSessionName
      and WebIdentityToken equal to the contents of --web-identity-token-file
      (re-read per request); the request must NOT be signed.
    AssumeRole: Version, RoleArn, RoleSessionName; the request must be SigV4
      signed (service sts) by --source-key/--source-secret; the signature is
      recomputed here, independently of hugeblob's code.
  IMDSv2
    PUT  /latest/api/token  needs X-aws-ec2-metadata-token-ttl-seconds (1-21600)
    GET  /latest/meta-data/iam/security-credentials/[ROLE]  needs a token it issued
  Container credentials
    GET  /container/...  needs Authorization equal to --container-token

Issued credentials: access key --issue-key, secret --issue-secret, session
token "hbtok-<expiry in ms since the epoch>-<n>" (so a proxy can tell when a
token is used after it expired), expiring --lifetime seconds after issue.

  fake_aws_server.py serve --log LOG [options]   prints "PORT <n>" once listening
  fake_aws_server.py process --lifetime S [--log LOG]
      prints a credential_process document (for the profile test)

LOG gets one JSON line per request: {"service", "ok", "why", ...}.
"""
import argparse
import datetime
import hashlib
import hmac
import http.server
import json
import secrets
import sys
import threading
import time
import urllib.parse


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Issuer:
    def __init__(self, key, secret, lifetime):
        self.key, self.secret, self.lifetime = key, secret, lifetime
        self.lock = threading.Lock()
        self.n = 0

    def issue(self):
        with self.lock:
            self.n += 1
            n = self.n
        exp = time.time() + self.lifetime
        return {"key": self.key, "secret": self.secret,
                "token": f"hbtok-{int(exp * 1000)}-{n}", "expiration": iso(exp)}


def sigv4_check(method, path, query, headers, body, key, secret):
    """Recomputes an AWS4-HMAC-SHA256 signature; returns None or what is wrong."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "not SigV4 signed"
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    cred = fields["Credential"].split("/")
    if cred[0] != key:
        return f"signed with access key {cred[0]}, expected {key}"
    date, region, service = cred[1], cred[2], cred[3]
    if service != "sts":
        return f"signed for service {service}"
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(date):
        return "x-amz-date does not match the credential scope"
    signed = fields["SignedHeaders"].split(";")
    for required in ("host", "x-amz-date"):
        if required not in signed:
            return f"{required} is not signed"
    if "x-amz-security-token" in headers and "x-amz-security-token" not in signed:
        return "x-amz-security-token is not signed"
    canon_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    q = sorted((urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
               for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True))
    canon_query = "&".join(f"{k}={v}" for k, v in q)
    creq = "\n".join([method, path or "/", canon_query, canon_headers, ";".join(signed),
                      hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, fields["Signature"]):
        return "signature mismatch"
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cfg = None
    issuer = None
    imds_tokens = {}
    log_lock = threading.Lock()

    def log_message(self, fmt, *args):
        pass

    def _log(self, service, ok, why="", **extra):
        entry = {"service": service, "ok": ok, "why": why, "method": self.command,
                 "path": self.path, "time": time.time(), **extra}
        with self.log_lock, open(self.cfg.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def _send(self, status, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _sts_error(self, status, code, message):
        self._send(status, f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                           f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}"
                           f"</Message></Error><RequestId>fake</RequestId></ErrorResponse>",
                   "text/xml")

    def _headers(self):
        return {k.lower(): v for k, v in self.headers.items()}

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0") or "0")
        body = self.rfile.read(length)
        h = self._headers()
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        action = form.get("Action", "")
        service = "sts:" + action

        def bad(why, code="InvalidParameterValue", status=400):
            self._log(service, False, why)
            self._sts_error(status, code, why)

        if self.path != "/":
            return bad("STS is served at /")
        if not h.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return bad("content-type is not a form")
        if form.get("Version") != "2011-06-15":
            return bad("Version must be 2011-06-15")
        if not form.get("RoleArn", "").startswith("arn:aws:iam::"):
            return bad("RoleArn missing or malformed")
        if not form.get("RoleSessionName"):
            return bad("RoleSessionName missing")
        if action == "AssumeRoleWithWebIdentity":
            if "authorization" in h:
                return bad("AssumeRoleWithWebIdentity must not be signed")
            with open(self.cfg.web_identity_token_file) as f:
                want = f.read().strip()
            if form.get("WebIdentityToken") != want:
                return bad("wrong web identity token", "InvalidIdentityToken")
        elif action == "AssumeRole":
            why = sigv4_check("POST", "/", "", h, body, self.cfg.source_key, self.cfg.source_secret)
            if why:
                return bad(why, "SignatureDoesNotMatch", 403)
        else:
            return bad(f"unknown action {action}", "InvalidAction")
        c = self.issuer.issue()
        self._log(service, True, token=c["token"], role=form["RoleArn"],
                  session=form["RoleSessionName"])
        self._send(200, f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                        f"<{action}Result><Credentials><AccessKeyId>{c['key']}</AccessKeyId>"
                        f"<SecretAccessKey>{c['secret']}</SecretAccessKey>"
                        f"<SessionToken>{c['token']}</SessionToken>"
                        f"<Expiration>{c['expiration']}</Expiration></Credentials>"
                        f"</{action}Result><ResponseMetadata><RequestId>fake</RequestId>"
                        f"</ResponseMetadata></{action}Response>", "text/xml")

    def do_PUT(self):
        length = int(self.headers.get("Content-Length", "0") or "0")
        self.rfile.read(length)
        if self.path != "/latest/api/token":
            self._log("imds", False, "PUT to " + self.path)
            return self._send(404, "not found")
        ttl = self._headers().get("x-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            self._log("imds:token", False, "missing or bad TTL header")
            return self._send(400, "bad ttl")
        token = secrets.token_hex(16)
        self.imds_tokens[token] = time.time() + int(ttl)
        self._log("imds:token", True)
        self._send(200, token)

    def do_GET(self):
        h = self._headers()
        if self.path.startswith("/latest/meta-data/iam/security-credentials/"):
            tok = h.get("x-aws-ec2-metadata-token", "")
            if self.imds_tokens.get(tok, 0) < time.time():
                self._log("imds", False, "no valid IMDSv2 token")
                return self._send(401, "unauthorized")
            role = self.path[len("/latest/meta-data/iam/security-credentials/"):]
            if role == "":
                self._log("imds:role", True)
                return self._send(200, "hb-test-role")
            if role != "hb-test-role":
                self._log("imds:creds", False, "unknown role " + role)
                return self._send(404, "not found")
            c = self.issuer.issue()
            self._log("imds:creds", True, token=c["token"])
            return self._send(200, json.dumps({
                "Code": "Success", "LastUpdated": iso(time.time()), "Type": "AWS-HMAC",
                "AccessKeyId": c["key"], "SecretAccessKey": c["secret"], "Token": c["token"],
                "Expiration": c["expiration"]}), "application/json")
        if self.path.startswith("/container/"):
            if h.get("authorization") != self.cfg.container_token:
                self._log("container", False, "wrong or missing Authorization")
                return self._send(401, json.dumps({"code": "AccessDenied",
                                                   "message": "bad authorization token"}),
                                  "application/json")
            c = self.issuer.issue()
            self._log("container", True, token=c["token"])
            return self._send(200, json.dumps({
                "AccessKeyId": c["key"], "SecretAccessKey": c["secret"], "Token": c["token"],
                "Expiration": c["expiration"], "RoleArn": "arn:aws:iam::123456789012:role/hb"}),
                "application/json")
        self._log("unknown", False, "GET " + self.path)
        self._send(404, "not found")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["serve", "process"])
    ap.add_argument("--log", default="/dev/null")
    ap.add_argument("--lifetime", type=float, default=6.0)
    ap.add_argument("--issue-key", default="S3RVER")
    ap.add_argument("--issue-secret", default="fake-issued-secret")
    ap.add_argument("--source-key", default="SOURCEKEY")
    ap.add_argument("--source-secret", default="source-secret")
    ap.add_argument("--web-identity-token-file", default="/dev/null")
    ap.add_argument("--container-token", default="container-auth-token")
    args = ap.parse_args()
    issuer = Issuer(args.issue_key, args.issue_secret, args.lifetime)
    if args.mode == "process":
        c = issuer.issue()
        c["token"] = f"hbtok-{int((time.time() + args.lifetime) * 1000)}-p{time.time_ns()}"
        with open(args.log, "a") as f:
            f.write(json.dumps({"service": "process", "ok": True, "token": c["token"],
                                "time": time.time()}) + "\n")
        print(json.dumps({"Version": 1, "AccessKeyId": c["key"], "SecretAccessKey": c["secret"],
                          "SessionToken": c["token"], "Expiration": c["expiration"]}))
        return
    Handler.cfg = args
    Handler.issuer = issuer
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
