#!/usr/bin/env python3
"""An HTTP proxy on loopback between the S3 store and s3rver, for tests.

It forwards every request unchanged, records it (method, target, headers) as
one JSON line when --record is given, and injects faults chosen by the
object key, so a test picks a fault by naming its key:

    .../__fault_<kind>_<n>/...    the first <n> matching requests get <kind>
                                  (<n> = "inf": every one)

Requests are matched per (method, path, partNumber, list prefix), so each
part of a multipart upload gets its own <n> faults. Kinds:

    http500      500 InternalError, request not forwarded
    slowdown     503 SlowDown
    throttle429  429 TooManyRequests
    reqtimeout   400 RequestTimeout
    denied       403 AccessDenied
    cut          GET: forward, send the headers and half the body, then close
    cutreq       PUT: read half of the request body, then close, no answer
    stall        GET: forward, send the headers and half the body, then go
                 silent for --stall seconds and close
    expire       requests signed with session token "old-token" get 400
                 ExpiredToken once <n> of them have passed

Options that make it stand in for what s3rver lacks:

    --check-token-expiry  a session token "hbtok-<expiry ms>-..." (issued by
                          tests/fake_aws_server.py) used after its expiry gets
                          400 ExpiredToken, and the record says so
                          ("rejected": "expired-token")
    --emulate-abort       AbortMultipartUpload (DELETE ?uploadId=) is answered
                          204 by the proxy, as S3 does (s3rver answers 405)
    --silent-abort        AbortMultipartUpload is read and never answered (a
                          server gone silent during cleanup)
    --delay S             waits S seconds before forwarding each request, so a
                          command lasts long enough to be interrupted or to
                          outlive its credentials

With --record, multipart uploads are also logged as events:
{"event": "create"|"complete"|"abort", "upload_id": ..., "status": ...}.

Only for tests: binds 127.0.0.1, keeps bodies in memory, stops on SIGTERM.
Prints "PORT <n>" on stdout once it listens.
"""
import argparse
import hashlib
import http.client
import http.server
import json
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse

FAULT_RE = re.compile(r"__fault_([a-z0-9]+)_(inf|\d+)")
TOKEN_RE = re.compile(r"^hbtok-(\d+)-")
UPLOAD_ID_RE = re.compile(rb"<UploadId>([^<]+)</UploadId>")

ERRORS = {
    "http500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "throttle429": (429, "TooManyRequests", "Too many requests."),
    "reqtimeout": (400, "RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period."),
    "denied": (403, "AccessDenied", "Access Denied"),
    "expire": (400, "ExpiredToken", "The provided token has expired."),
}


class State:
    def __init__(self, upstream, record, stall, check_token_expiry=False, emulate_abort=False,
                 delay=0.0, silent_abort=False):
        self.silent_abort = silent_abort
        self.check_token_expiry = check_token_expiry
        self.emulate_abort = emulate_abort
        self.delay = delay
        self.upstream = upstream
        self.record = open(record, "a", buffering=1) if record else None
        self.stall = stall
        self.lock = threading.Lock()
        self.counts = {}
        self.local = threading.local()

    def count(self, key):
        with self.lock:
            n = self.counts.get(key, 0) + 1
            self.counts[key] = n
            return n

    def log(self, entry):
        if self.record:
            with self.lock:
                self.record.write(json.dumps(entry) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):  # quiet
        pass

    def _upstream(self, fresh=False):
        conn = getattr(self.state.local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            host, port = self.state.upstream
            conn = http.client.HTTPConnection(host, port, timeout=600)
            self.state.local.conn = conn
        return conn

    def _error(self, status, code, message, body_read=True):
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message><RequestId>proxy</RequestId></Error>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        if not body_read:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _abort_connection(self):
        # An RST rather than a FIN: what a dropped connection looks like.
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def _handle(self):
        target = self.path
        parsed = urllib.parse.urlsplit(target)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        raw_target = urllib.parse.unquote(target)
        length = int(self.headers.get("Content-Length", "0") or "0")
        entry = {"method": self.command, "target": target,
                 "headers": [[k, v] for k, v in self.headers.items()]}

        fault, limit = None, 0
        m = FAULT_RE.search(raw_target)
        if m:
            fault = m.group(1)
            limit = float("inf") if m.group(2) == "inf" else int(m.group(2))
            key = (self.command, parsed.path, tuple(query.get("partNumber", [])), tuple(query.get("prefix", [])))
            if fault == "expire":
                if self.headers.get("x-amz-security-token") == "old-token":
                    if self.state.count(key) > limit:
                        self.rfile.read(length)
                        self.state.log(entry)
                        return self._error(*ERRORS["expire"])
                fault = None
            elif fault in ("cut", "stall") and self.command != "GET":
                fault = None
            elif fault == "cutreq" and self.command != "PUT":
                fault = None
            elif fault == "reqtimeout" and self.command not in ("PUT", "POST"):
                fault = None  # S3 says RequestTimeout when a body is slow to come
            elif self.state.count(key) > limit:
                fault = None

        if fault == "cutreq":
            self.rfile.read(length // 2)
            self.state.log(entry)
            return self._abort_connection()
        body = self.rfile.read(length) if length else b""
        # What the body hashed to on arrival, to check x-amz-content-sha256.
        entry["body_sha256"] = hashlib.sha256(body).hexdigest()
        entry["body_length"] = len(body)
        token = TOKEN_RE.match(self.headers.get("x-amz-security-token", ""))
        if self.state.check_token_expiry and token and int(token.group(1)) < time.time() * 1000:
            entry["rejected"] = "expired-token"
            self.state.log(entry)
            return self._error(*ERRORS["expire"])
        self.state.log(entry)
        if fault in ERRORS:
            return self._error(*ERRORS[fault])
        if self.state.delay > 0:
            time.sleep(self.state.delay)
        upload_id = query.get("uploadId", [None])[0]
        if self.state.silent_abort and self.command == "DELETE" and upload_id:
            self.state.log({"event": "abort-unanswered", "upload_id": upload_id})
            time.sleep(3600)  # the client's deadline must end this, not us
            return self._abort_connection()
        if self.state.emulate_abort and self.command == "DELETE" and upload_id:
            self.state.log({"event": "abort", "upload_id": upload_id, "status": 204})
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return

        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        for attempt in range(2):
            # A fresh upstream connection per request: reusing one that
            # s3rver (Node, 5 s keep-alive) is closing can leave a half-received
            # PUT that s3rver still writes, empty, after the retried one.
            conn = self._upstream(fresh=True)
            try:
                conn.request(self.command, target, body=body if body else None, headers=headers)
                resp = conn.getresponse()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                if attempt == 1:
                    return self._error(502, "BadGateway", "upstream unreachable")

        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding"):
                self.send_header(k, v)
        announced = resp.getheader("Content-Length")
        data = None
        if announced is None and self.command != "HEAD":
            data = resp.read()
            self.send_header("Content-Length", str(len(data)))
        elif self.command == "POST" and ("uploads" in query or upload_id):
            data = resp.read()  # small XML: read whole to log the upload's fate
        if self.command == "POST" and "uploads" in query:
            m = UPLOAD_ID_RE.search(data or b"")
            self.state.log({"event": "create", "upload_id": m.group(1).decode() if m else None,
                            "status": resp.status})
        elif self.command == "POST" and upload_id:
            ok = resp.status == 200 and b"<Error>" not in (data or b"")
            self.state.log({"event": "complete", "upload_id": upload_id,
                            "status": resp.status if ok else -resp.status})
        elif self.command == "DELETE" and upload_id:
            self.state.log({"event": "abort", "upload_id": upload_id, "status": resp.status})
        self.end_headers()
        self.wfile.flush()
        if self.command == "HEAD":
            return
        # Stream the body as it comes, so the client sees headers as soon as
        # the server sends them (and a server that never sends the body it
        # announced looks the same through the proxy as without it).
        remaining = len(data) if data is not None else int(announced)
        if fault in ("cut", "stall") and remaining > 1:
            remaining //= 2
            cut_after = True
        else:
            cut_after = False
        try:
            if data is not None:
                self.wfile.write(data[:remaining])
            else:
                while remaining > 0:
                    chunk = resp.read(min(remaining, 1 << 20))
                    if not chunk:
                        raise ConnectionError("upstream ended early")
                    self.wfile.write(chunk)
                    remaining -= len(chunk)
            self.wfile.flush()
        except (ConnectionError, http.client.HTTPException, OSError):
            self._drop_upstream()
            return self._abort_connection()
        if cut_after:
            self._drop_upstream()  # the rest of the body is still in flight
            if fault == "stall":
                time.sleep(self.state.stall)
            return self._abort_connection()

    def _drop_upstream(self):
        conn = getattr(self.state.local, "conn", None)
        if conn is not None:
            conn.close()
        self.state.local.conn = None

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of the real server")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--record", help="append one JSON line per request to this file")
    ap.add_argument("--stall", type=float, default=8.0, help="seconds a 'stall' fault stays silent")
    ap.add_argument("--check-token-expiry", action="store_true")
    ap.add_argument("--emulate-abort", action="store_true")
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--silent-abort", action="store_true")
    args = ap.parse_args()
    up = urllib.parse.urlsplit(args.upstream)
    if up.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("s3_fault_proxy: upstream must be on loopback")
    Handler.state = State((up.hostname, up.port or 80), args.record, args.stall,
                          args.check_token_expiry, args.emulate_abort, args.delay,
                          args.silent_abort)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
