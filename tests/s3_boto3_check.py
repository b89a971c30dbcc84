#!/usr/bin/env python3
"""Cross-checks of the S3 store against botocore/boto3 (a real client).

  s3_boto3_check.py signatures RECORD.jsonl SECRET
      Every request hugeblob sent (recorded on the wire by s3_fault_proxy.py)
      is signed again by botocore's S3SigV4Auth, from the method, path, query
      and the headers that hugeblob signed, at the same timestamp. The
      canonical request, string to sign and signature must match exactly.
      The query is also given to botocore decoded, so botocore encodes it
      itself; the path must be what botocore's S3 serializer would send; a
      hashed body must hash to its x-amz-content-sha256.

  s3_boto3_check.py readback EXPECTED.json
      boto3 lists (paginated) and downloads every object hugeblob wrote
      (whole and by ranges) and compares sizes and SHA-256 with what the
      writer recorded.

Exits 0 when everything matches, 1 with a report otherwise.
"""
import hashlib
import json
import os
import sys
import urllib.parse

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials


def parse_authorization(value):
    # AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/s3/aws4_request, SignedHeaders=a;b, Signature=hex
    algo, _, rest = value.partition(" ")
    fields = {}
    for part in rest.split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    cred = fields["Credential"].split("/")
    return {"algorithm": algo, "access_key": cred[0], "date": cred[1], "region": cred[2],
            "service": cred[3], "signed_headers": fields["SignedHeaders"].split(";"),
            "signature": fields["Signature"]}


def check_signatures(record_path, secret, coverage=True):
    failures, checked = [], 0
    with open(record_path) as f:
        entries = [json.loads(line) for line in f if line.strip()]
    # Event lines of the proxy (multipart create/complete/abort) are not requests.
    entries = [e for e in entries if "headers" in e]
    for e in entries:
        headers = {k.lower(): v for k, v in e["headers"]}
        auth = headers.get("authorization")
        if not auth:
            continue
        a = parse_authorization(auth)
        what = f'{e["method"]} {e["target"]}'
        if a["algorithm"] != "AWS4-HMAC-SHA256" or a["service"] != "s3":
            failures.append(f"{what}: unexpected algorithm/service {a}")
            continue
        signed = {h: headers[h] for h in a["signed_headers"] if h in headers}
        missing = [h for h in a["signed_headers"] if h not in headers]
        if missing:
            failures.append(f"{what}: signed headers not sent: {missing}")
            continue
        for must in ("host", "x-amz-date", "x-amz-content-sha256"):
            if must not in signed:
                failures.append(f"{what}: {must} is not signed")
        if "range" in headers and "range" not in signed:
            failures.append(f"{what}: range is sent but not signed")
        creds = botocore.credentials.Credentials(a["access_key"], secret, headers.get("x-amz-security-token"))
        signer = botocore.auth.S3SigV4Auth(creds, "s3", a["region"])
        url = "http://" + headers["host"] + e["target"]
        parts = urllib.parse.urlsplit(url)

        def sign(request):
            request.context["timestamp"] = headers["x-amz-date"]
            canonical = signer.canonical_request(request)
            sts = signer.string_to_sign(request, canonical)
            return canonical, sts, signer.signature(sts, request)

        # 1. As sent: botocore takes the query string from the URL.
        req = botocore.awsrequest.AWSRequest(method=e["method"], url=url, headers=signed)
        canonical, sts, sig = sign(req)
        if sig != a["signature"]:
            failures.append(f"{what}: signature differs from botocore's\n  botocore canonical request:\n"
                            + "\n".join("    " + line for line in canonical.split("\n")))
        # 2. Query decoded, so botocore encodes the names and values itself.
        params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if params:
            req2 = botocore.awsrequest.AWSRequest(
                method=e["method"], url=urllib.parse.urlunsplit(parts._replace(query="")),
                headers=signed, params=params)
            if sign(req2)[2] != a["signature"]:
                failures.append(f"{what}: botocore encodes the query {params} differently")
        # 3. The path is what botocore's serializer would put on the wire.
        expected_path = urllib.parse.quote(urllib.parse.unquote(parts.path), safe="/~")
        if parts.path != expected_path:
            failures.append(f"{what}: path encoded as {parts.path}, botocore would send {expected_path}")
        # 4. A signed body hash is the hash of the body that arrived.
        payload = headers["x-amz-content-sha256"]
        if payload != "UNSIGNED-PAYLOAD" and "body_sha256" in e and payload != e["body_sha256"]:
            failures.append(f"{what}: x-amz-content-sha256 {payload} but the body hashes to {e['body_sha256']}")
        checked += 1
    kinds = sorted({(e["method"], "?" in e["target"]) for e in entries})
    print(f"signatures: {checked} requests checked against botocore {botocore.__version__} "
          f"({len(failures)} mismatches); methods/with-query seen: {kinds}")
    for f in failures[:20]:
        print("MISMATCH:", f)
    if checked == 0:
        print("no signed requests recorded")
        return 1
    # The run must have covered the request shapes the issue asks about.
    targets = [(e["method"], e["target"], {k.lower() for k, _ in e["headers"]}) for e in entries]
    wanted = {
        "ranged GET": any(m == "GET" and "range" in h for m, t, h in targets),
        "PUT": any(m == "PUT" and "partNumber" not in t for m, t, h in targets),
        "UploadPart": any(m == "PUT" and "partNumber=" in t for m, t, h in targets),
        "CreateMultipartUpload": any(m == "POST" and "uploads=" in t for m, t, h in targets),
        "CompleteMultipartUpload": any(m == "POST" and "uploadId=" in t for m, t, h in targets),
        "LIST with continuation token": any("continuation-token=" in t for m, t, h in targets),
        "key with odd characters": any("%2B" in t or "%20" in t for m, t, h in targets),
    }
    for name, seen in (wanted.items() if coverage else []):
        if not seen:
            failures.append(f"no {name} request was recorded")
            print("MISSING:", name)
    return 1 if failures else 0


def check_readback(expected_path):
    with open(expected_path) as f:
        exp = json.load(f)
    s3 = boto3.client(
        "s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))
    bucket, prefix = exp["bucket"], exp["prefix"]
    listed = {}
    pages = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/",
                                                            PaginationConfig={"PageSize": 2}):
        pages += 1
        for o in page.get("Contents", []):
            listed[o["Key"][len(prefix) + 1:]] = o["Size"]
    failures = []
    want = {o["key"]: o for o in exp["objects"]}
    if set(listed) != set(want):
        failures.append(f"boto3 lists {sorted(listed)}, hugeblob wrote {sorted(want)}")
    total = 0
    for key, o in want.items():
        full = prefix + "/" + key
        body = s3.get_object(Bucket=bucket, Key=full)["Body"].read()
        total += len(body)
        if len(body) != o["size"] or hashlib.sha256(body).hexdigest() != o["sha256"]:
            failures.append(f"{full}: boto3 read {len(body)} bytes sha256 {hashlib.sha256(body).hexdigest()}, "
                            f"hugeblob wrote {o['size']} bytes sha256 {o['sha256']}")
            continue
        if len(body) > 2:
            first, last = 1, min(len(body) - 1, 1 + len(body) // 2)
            part = s3.get_object(Bucket=bucket, Key=full, Range=f"bytes={first}-{last}")["Body"].read()
            if part != body[first:last + 1]:
                failures.append(f"{full}: ranged read differs")
        head = s3.head_object(Bucket=bucket, Key=full)
        if head["ContentLength"] != o["size"]:
            failures.append(f"{full}: HEAD says {head['ContentLength']} bytes")
    print(f"readback: boto3 {boto3.__version__} read {len(want)} objects ({total} bytes, {pages} list pages) "
          f"written by hugeblob; {len(failures)} differences")
    for f in failures:
        print("DIFF:", f)
    return 1 if failures else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "signatures":
        return check_signatures(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 5 and sys.argv[1] == "signatures" and sys.argv[4] == "--no-coverage":
        # Only the signatures, not the coverage of request shapes (other tests' records).
        return check_signatures(sys.argv[2], sys.argv[3], coverage=False)
    if len(sys.argv) == 3 and sys.argv[1] == "readback":
        return check_readback(sys.argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
