#!/usr/bin/env python3
"""A latency-injecting HTTP proxy on loopback in front of s3rver, for tests
and benchmarks.

A nearby S3 region costs tens of milliseconds to first byte on every
request; s3rver on loopback answers in well under one. This proxy waits
--latency milliseconds (a fixed value, or "MIN-MAX" for a uniform random
wait per request) before it forwards each request, then streams the request
body up and the response body down in 1 MiB pieces, so it adds latency, not
a bandwidth limit or memory: a 1 GiB object never sits in the proxy.

It counts requests by method and logs each one as a JSON line to --log:

    {"n": 17, "method": "GET", "path": "/bucket/prefix/packs/..",
     "range": "bytes=0-8388607", "status": 206, "bytes": 8388608,
     "t0": 812.3051, "t1": 812.3712}

(t0: the request arrived, t1: its response was sent, in seconds of the
proxy's monotonic clock, so a benchmark can plot requests in flight over
time),

so a test can assert how many GETs a command made (count the lines written
while it ran), and `--counts FILE` keeps FILE holding the running totals as
one JSON object ({"GET": 12, "PUT": 3, ...}), rewritten after each request.

Unlike tests/s3_fault_proxy.py it injects no faults, records no headers and
hashes no bodies: it must not be what a benchmark measures.

Only for tests: binds 127.0.0.1, the upstream must be on loopback, stops on
SIGTERM. Prints "PORT <n>" on stdout once it listens.
"""
import argparse
import http.client
import http.server
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.parse

PIECE = 1 << 20


class State:
    def __init__(self, upstream, latency, log_path, counts_path):
        self.upstream = upstream
        self.latency = latency  # (min_s, max_s)
        self.lock = threading.Lock()
        self.counts = {}
        self.n = 0
        self.log = open(log_path, "a", buffering=1) if log_path else None
        self.counts_path = counts_path

    def wait(self):
        lo, hi = self.latency
        delay = lo if hi <= lo else random.uniform(lo, hi)
        if delay > 0:
            time.sleep(delay)

    def record(self, method, path, rng, status, nbytes, began):
        ended = time.monotonic()
        with self.lock:
            self.n += 1
            self.counts[method] = self.counts.get(method, 0) + 1
            if self.log:
                self.log.write(json.dumps({"n": self.n, "method": method, "path": path,
                                           "range": rng, "status": status,
                                           "bytes": nbytes, "t0": round(began, 4),
                                           "t1": round(ended, 4)}) + "\n")
            if self.counts_path:
                tmp = self.counts_path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.counts, f)
                os.replace(tmp, self.counts_path)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None
    # TCP_NODELAY, as S3 and every HTTP server built for latency: the status
    # line and headers go out in one write and the body in the next, and
    # with Nagle's algorithm the body then waits for the client's delayed
    # ACK of the headers (40 ms on Linux) on every response, which no real
    # store adds on top of its latency.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet
        pass

    def _handle(self):
        st = self.state
        began = time.monotonic()
        length = int(self.headers.get("Content-Length", "0") or "0")
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "keep-alive")}
        st.wait()
        # A fresh upstream connection per request: s3rver (Node) closes idle
        # keep-alive connections after 5 s, and a request sent on one that is
        # closing would fail in the proxy rather than in the client.
        host, port = st.upstream
        conn = http.client.HTTPConnection(host, port, timeout=600)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            left = length
            while left > 0:
                piece = self.rfile.read(min(left, PIECE))
                if not piece:
                    raise ConnectionError("client ended the body early")
                conn.send(piece)
                left -= len(piece)
            resp = conn.getresponse()
        except (ConnectionError, http.client.HTTPException, OSError):
            conn.close()
            st.record(self.command, self.path, self.headers.get("Range"), 502, 0, began)
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            return
        self.send_response(resp.status, resp.reason)
        announced = resp.getheader("Content-Length")
        data = None
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding"):
                self.send_header(k, v)
        if announced is None and self.command != "HEAD":
            data = resp.read()
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        sent = 0
        try:
            if self.command != "HEAD":
                if data is not None:
                    self.wfile.write(data)
                    sent = len(data)
                else:
                    left = int(announced)
                    while left > 0:
                        piece = resp.read(min(left, PIECE))
                        if not piece:
                            raise ConnectionError("upstream ended early")
                        self.wfile.write(piece)
                        sent += len(piece)
                        left -= len(piece)
            self.wfile.flush()
        except (ConnectionError, http.client.HTTPException, OSError):
            self.close_connection = True
        finally:
            conn.close()
            st.record(self.command, urllib.parse.urlsplit(self.path).path,
                      self.headers.get("Range"), resp.status, sent, began)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def parse_latency(text):
    parts = text.split("-")
    if len(parts) == 1:
        lo = hi = float(parts[0])
    elif len(parts) == 2:
        lo, hi = float(parts[0]), float(parts[1])
    else:
        raise argparse.ArgumentTypeError("--latency MS or MIN-MAX")
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError("--latency MS or MIN-MAX, 0 <= MIN <= MAX")
    return lo / 1000.0, hi / 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of the real server")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=parse_latency, default=(0.03, 0.03),
                    help="milliseconds added before forwarding each request: MS or MIN-MAX (30)")
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--counts", help="keep running totals per method in this JSON file")
    args = ap.parse_args()
    up = urllib.parse.urlsplit(args.upstream)
    if up.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("s3_latency_proxy: upstream must be on loopback")
    Handler.state = State((up.hostname, up.port or 80), args.latency, args.log, args.counts)
    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # clients open many connections at once

    server = Server(("127.0.0.1", args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
