#!/usr/bin/env python3
"""Where the wall time of each command in an S3 benchmark went, from the
latency proxy's log (tests/s3_latency_proxy.py logs when each request
arrived and when its response was sent) and the spans bench/s3_bench.sh
records (which log lines each measured command made).

    bench/s3_timeline.py HB_BENCH_DIR [LATENCY [TOOL [JOB]]]

For each command: its requests (GETs, median GET size), the time from the
first request's arrival to the last response (the store's part of the wall
time), requests in flight on average and at most over that time, the time
with none in flight (idle: the client was doing something else: opening,
decoding, writing, planning), and the time with only one in flight.
"""
import json
import statistics
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def profile(reqs):
    reqs = [r for r in reqs if "t0" in r]
    if not reqs:
        return None
    events = sorted([(r["t0"], 1) for r in reqs] + [(r["t1"], -1) for r in reqs])
    start, end = events[0][0], events[-1][0]
    level, last, area, idle, single, peak = 0, start, 0.0, 0.0, 0.0, 0
    for t, d in events:
        dt = t - last
        area += level * dt
        if level == 0:
            idle += dt
        elif level == 1:
            single += dt
        level += d
        peak = max(peak, level)
        last = t
    span = max(end - start, 1e-9)
    gets = [r for r in reqs if r["method"] == "GET"]
    sizes = [r["bytes"] for r in gets]
    return {
        "requests": len(reqs), "gets": len(gets),
        "median_get": statistics.median(sizes) if sizes else 0,
        "span": span, "mean_in_flight": area / span, "peak": peak,
        "idle": idle, "single": single,
        "mib": sum(r["bytes"] for r in reqs) / 2**20,
    }


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    work = sys.argv[1]
    want = sys.argv[2:]
    logs = {}
    print("| ms | tool | job | round | requests | GETs | median GET | MiB | store span s |"
          " mean in flight | peak | idle s | one in flight s |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for line in open(f"{work}/spans.tsv"):
        lat, tool, job, rnd, before, after = line.split()
        key = [lat, tool, job]
        if want and key[:len(want)] != want:
            continue
        if lat not in logs:
            logs[lat] = load(f"{work}/req-{lat}.jsonl")
        p = profile(logs[lat][int(before):int(after)])
        if p is None:
            continue
        print(f"| {lat} | {tool} | {job} | {rnd} | {p['requests']} | {p['gets']} |"
              f" {p['median_get'] / 2**20:.2f} MiB | {p['mib']:.0f} | {p['span']:.2f} |"
              f" {p['mean_in_flight']:.1f} | {p['peak']} | {p['idle']:.2f} | {p['single']:.2f} |")


if __name__ == "__main__":
    main()
